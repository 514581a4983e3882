//! Issue 15, continued: answering suggestions in time, referring a matter
//! to the level above (乡镇与村协商联动), and reporting entrusted matters to
//! the government body that entrusted them (受委托事项).
//!
//! - `suggestions.threshold_reached_at` / `answer_due_at`: the moment a
//!   suggestion's support reached the threshold and the answer due then
//!   (fixed at that moment: a later configuration change does not move a
//!   deadline already announced).
//! - `referrals`: a topic or suggestion of a village referred to its
//!   township (or a township's to its county), with its public reason and
//!   the upper level's answer. At most one referral of a source is pending
//!   or accepted at a time (a partial unique index, on both backends).
//! - `entrusted_reports`: one per topic, the report's submission and the
//!   body's acknowledgement.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            timestamp_with_time_zone_null(Suggestions::ThresholdReachedAt),
            timestamp_with_time_zone_null(Suggestions::AnswerDueAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Suggestions::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_suggestions_answer_due")
                    .table(Suggestions::Table)
                    .col(Suggestions::AnswerDueAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Referrals::Table)
                    .col(big_integer(Referrals::Id).auto_increment().primary_key())
                    // topic | suggestion
                    .col(string_len(Referrals::FromKind, 16))
                    .col(big_integer(Referrals::FromId))
                    .col(string_len(Referrals::FromDivision, 12))
                    .col(string_len(Referrals::ToDivision, 12))
                    .col(text(Referrals::Reason))
                    .col(integer(Referrals::ReferredBy))
                    .col(timestamp_with_time_zone(Referrals::ReferredAt))
                    // pending | accepted | declined
                    .col(string_len(Referrals::Status, 16))
                    .col(text_null(Referrals::Answer))
                    .col(integer_null(Referrals::AnsweredBy))
                    .col(timestamp_with_time_zone_null(Referrals::AnsweredAt))
                    .col(big_integer_null(Referrals::TopicId))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "ix_referrals_source",
                vec![Referrals::FromKind, Referrals::FromId],
            ),
            (
                "ix_referrals_to_status",
                vec![Referrals::ToDivision, Referrals::Status],
            ),
            ("ix_referrals_topic", vec![Referrals::TopicId]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Referrals::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        // Partial unique indexes read the same on SQLite and PostgreSQL.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_referrals_active_source ON referrals (from_kind, from_id) \
                 WHERE status IN ('pending', 'accepted')",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EntrustedReports::Table)
                    .col(
                        big_integer(EntrustedReports::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(big_integer(EntrustedReports::TopicId).unique_key())
                    .col(string_len(EntrustedReports::SubmittedTo, 200))
                    .col(timestamp_with_time_zone(EntrustedReports::SubmittedAt))
                    .col(text(EntrustedReports::Summary))
                    .col(integer(EntrustedReports::SubmittedBy))
                    .col(timestamp_with_time_zone(EntrustedReports::RecordedAt))
                    .col(timestamp_with_time_zone_null(
                        EntrustedReports::AcknowledgedAt,
                    ))
                    .col(text_null(EntrustedReports::AckReference))
                    .col(integer_null(EntrustedReports::AcknowledgedBy))
                    .col(timestamp_with_time_zone_null(
                        EntrustedReports::AckRecordedAt,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            EntrustedReports::Table.into_iden(),
            Referrals::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("ix_suggestions_answer_due")
                    .table(Suggestions::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Suggestions::ThresholdReachedAt, Suggestions::AnswerDueAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Suggestions::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Suggestions {
    Table,
    ThresholdReachedAt,
    AnswerDueAt,
}

#[derive(DeriveIden)]
enum Referrals {
    Table,
    Id,
    FromKind,
    FromId,
    FromDivision,
    ToDivision,
    Reason,
    ReferredBy,
    ReferredAt,
    Status,
    Answer,
    AnsweredBy,
    AnsweredAt,
    TopicId,
}

#[derive(DeriveIden)]
enum EntrustedReports {
    Table,
    Id,
    TopicId,
    SubmittedTo,
    SubmittedAt,
    Summary,
    SubmittedBy,
    RecordedAt,
    AcknowledgedAt,
    AckReference,
    AcknowledgedBy,
    AckRecordedAt,
}
