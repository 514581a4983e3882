//! Closing the loop: outcomes (every version kept), progress, explanations
//! to dissenters with receipts, in-app notifications, supervision flags.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The current outcome's deadline and completion, kept on the topic so
        // lists can filter overdue topics without a join over versions.
        manager
            .alter_table(
                Table::alter()
                    .table(Topics::Table)
                    .add_column(timestamp_with_time_zone_null(Topics::Deadline))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Topics::Table)
                    .add_column(timestamp_with_time_zone_null(Topics::CompletedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Outcomes::Table)
                    .col(big_integer(Outcomes::Id).auto_increment().primary_key())
                    .col(big_integer(Outcomes::TopicId))
                    .col(integer(Outcomes::Version))
                    .col(text(Outcomes::Decision))
                    .col(string_len_null(Outcomes::AdoptedChoice, 24))
                    .col(string_len(Outcomes::ResponsibleBody, 200))
                    .col(timestamp_with_time_zone(Outcomes::Deadline))
                    .col(string_len_null(Outcomes::EntrustedBy, 200))
                    .col(text_null(Outcomes::ChangeReason))
                    .col(big_integer_null(Outcomes::FlagId))
                    .col(integer(Outcomes::PublishedBy))
                    .col(timestamp_with_time_zone(Outcomes::PublishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_outcomes_topic_version")
                    .table(Outcomes::Table)
                    .col(Outcomes::TopicId)
                    .col(Outcomes::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProgressUpdates::Table)
                    .col(
                        big_integer(ProgressUpdates::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(big_integer(ProgressUpdates::TopicId))
                    .col(text(ProgressUpdates::Body))
                    .col(integer(ProgressUpdates::Percent))
                    .col(integer(ProgressUpdates::PublishedBy))
                    .col(timestamp_with_time_zone(ProgressUpdates::PublishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_progress_updates_topic")
                    .table(ProgressUpdates::Table)
                    .col(ProgressUpdates::TopicId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Explanations::Table)
                    .col(big_integer(Explanations::Id).auto_increment().primary_key())
                    .col(big_integer(Explanations::TopicId))
                    .col(string_len(Explanations::Audience, 16))
                    .col(string_len_null(Explanations::DivisionCode, 12))
                    .col(text(Explanations::Body))
                    .col(integer(Explanations::Recipients))
                    .col(integer(Explanations::PublishedBy))
                    .col(timestamp_with_time_zone(Explanations::PublishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_explanations_topic")
                    .table(Explanations::Table)
                    .col(Explanations::TopicId)
                    .to_owned(),
            )
            .await?;

        // One row per recipient, fixed when the explanation is published.
        manager
            .create_table(
                Table::create()
                    .table(ExplanationRecipients::Table)
                    .col(big_integer(ExplanationRecipients::ExplanationId))
                    .col(integer(ExplanationRecipients::UserId))
                    .col(big_integer(ExplanationRecipients::TopicId))
                    .col(big_integer(ExplanationRecipients::OpinionId))
                    .col(string_len(ExplanationRecipients::VillageCode, 12))
                    .col(timestamp_with_time_zone(ExplanationRecipients::DeliveredAt))
                    .col(timestamp_with_time_zone_null(ExplanationRecipients::ReadAt))
                    .col(string_len_null(ExplanationRecipients::Reply, 16))
                    .col(text_null(ExplanationRecipients::ReplyComment))
                    .col(timestamp_with_time_zone_null(
                        ExplanationRecipients::RepliedAt,
                    ))
                    .primary_key(
                        Index::create()
                            .col(ExplanationRecipients::ExplanationId)
                            .col(ExplanationRecipients::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                ExplanationRecipients::Table,
                                ExplanationRecipients::ExplanationId,
                            )
                            .to(Explanations::Table, Explanations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_explanation_recipients_topic_user")
                    .table(ExplanationRecipients::Table)
                    .col(ExplanationRecipients::TopicId)
                    .col(ExplanationRecipients::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .col(
                        big_integer(Notifications::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(integer(Notifications::UserId))
                    .col(string_len(Notifications::Kind, 48))
                    .col(big_integer_null(Notifications::TopicId))
                    .col(string_len(Notifications::EventKey, 120))
                    .col(text(Notifications::Payload))
                    .col(timestamp_with_time_zone(Notifications::CreatedAt))
                    .col(timestamp_with_time_zone_null(Notifications::ReadAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_notifications_user_event")
                    .table(Notifications::Table)
                    .col(Notifications::UserId)
                    .col(Notifications::EventKey)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SupervisionFlags::Table)
                    .col(
                        big_integer(SupervisionFlags::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(big_integer(SupervisionFlags::TopicId))
                    .col(integer(SupervisionFlags::OutcomeVersion))
                    .col(integer(SupervisionFlags::SupervisorId))
                    .col(text(SupervisionFlags::Reason))
                    .col(text(SupervisionFlags::LegalBasis))
                    .col(string_len(SupervisionFlags::Status, 16))
                    .col(timestamp_with_time_zone(SupervisionFlags::CreatedAt))
                    .col(timestamp_with_time_zone_null(SupervisionFlags::ResolvedAt))
                    .col(integer_null(SupervisionFlags::ResolvedByVersion))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_supervision_flags_topic")
                    .table(SupervisionFlags::Table)
                    .col(SupervisionFlags::TopicId)
                    .col(SupervisionFlags::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SupervisionFlags::Table.into_iden(),
            Notifications::Table.into_iden(),
            ExplanationRecipients::Table.into_iden(),
            Explanations::Table.into_iden(),
            ProgressUpdates::Table.into_iden(),
            Outcomes::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for col in [Topics::Deadline, Topics::CompletedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Topics::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Topics {
    Table,
    Deadline,
    CompletedAt,
}

#[derive(DeriveIden)]
enum Outcomes {
    Table,
    Id,
    TopicId,
    Version,
    Decision,
    AdoptedChoice,
    ResponsibleBody,
    Deadline,
    EntrustedBy,
    ChangeReason,
    FlagId,
    PublishedBy,
    PublishedAt,
}

#[derive(DeriveIden)]
enum ProgressUpdates {
    Table,
    Id,
    TopicId,
    Body,
    Percent,
    PublishedBy,
    PublishedAt,
}

#[derive(DeriveIden)]
enum Explanations {
    Table,
    Id,
    TopicId,
    Audience,
    DivisionCode,
    Body,
    Recipients,
    PublishedBy,
    PublishedAt,
}

#[derive(DeriveIden)]
enum ExplanationRecipients {
    Table,
    ExplanationId,
    UserId,
    TopicId,
    OpinionId,
    VillageCode,
    DeliveredAt,
    ReadAt,
    Reply,
    ReplyComment,
    RepliedAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    UserId,
    Kind,
    TopicId,
    EventKey,
    Payload,
    CreatedAt,
    ReadAt,
}

#[derive(DeriveIden)]
enum SupervisionFlags {
    Table,
    Id,
    TopicId,
    OutcomeVersion,
    SupervisorId,
    Reason,
    LegalBasis,
    Status,
    CreatedAt,
    ResolvedAt,
    ResolvedByVersion,
}
