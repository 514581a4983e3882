use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_create_divisions::Divisions;
use crate::m20261125_000002_create_accounts::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Topics::Table)
                    .col(big_integer(Topics::Id).auto_increment().primary_key())
                    .col(string_len(Topics::Title, 200))
                    .col(text(Topics::Body))
                    .col(string_len(Topics::Category, 32))
                    .col(string_len(Topics::Kind, 16))
                    .col(string_len(Topics::ScopeCode, 12))
                    .col(boolean(Topics::Technical))
                    .col(boolean(Topics::ReasonRequiredForDissent))
                    .col(integer_null(Topics::QuorumPercent))
                    .col(string_len(Topics::Eligibility, 16))
                    .col(string_len(Topics::State, 16))
                    .col(timestamp_with_time_zone_null(Topics::NoticeAt))
                    .col(timestamp_with_time_zone_null(Topics::OpensAt))
                    .col(timestamp_with_time_zone_null(Topics::ClosesAt))
                    .col(timestamp_with_time_zone_null(Topics::AnnouncedAt))
                    .col(timestamp_with_time_zone_null(Topics::OpenedAt))
                    .col(timestamp_with_time_zone_null(Topics::ClosedAt))
                    .col(timestamp_with_time_zone_null(Topics::WithdrawnAt))
                    .col(text_null(Topics::WithdrawReason))
                    .col(integer(Topics::CreatedBy))
                    .col(timestamp_with_time_zone(Topics::CreatedAt))
                    .col(timestamp_with_time_zone(Topics::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Topics::Table, Topics::ScopeCode)
                            .to(Divisions::Table, Divisions::Code),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Topics::Table, Topics::CreatedBy)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("ix_topics_scope", vec![Topics::ScopeCode, Topics::State]),
            (
                "ix_topics_state_opens",
                vec![Topics::State, Topics::OpensAt],
            ),
            (
                "ix_topics_state_closes",
                vec![Topics::State, Topics::ClosesAt],
            ),
            (
                "ix_topics_state_notice",
                vec![Topics::State, Topics::NoticeAt],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Topics::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(TopicOptions::Table)
                    .col(big_integer(TopicOptions::Id).auto_increment().primary_key())
                    .col(big_integer(TopicOptions::TopicId))
                    .col(integer(TopicOptions::Position))
                    .col(string_len(TopicOptions::Label, 200))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TopicOptions::Table, TopicOptions::TopicId)
                            .to(Topics::Table, Topics::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_topic_options_position")
                    .table(TopicOptions::Table)
                    .col(TopicOptions::TopicId)
                    .col(TopicOptions::Position)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TopicStakeholders::Table)
                    .col(big_integer(TopicStakeholders::TopicId))
                    .col(integer(TopicStakeholders::UserId))
                    .primary_key(
                        Index::create()
                            .col(TopicStakeholders::TopicId)
                            .col(TopicStakeholders::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TopicStakeholders::Table, TopicStakeholders::TopicId)
                            .to(Topics::Table, Topics::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TopicStakeholders::Table, TopicStakeholders::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Assessments::Table)
                    .col(big_integer(Assessments::Id).auto_increment().primary_key())
                    .col(big_integer(Assessments::TopicId))
                    .col(integer(Assessments::AuthorUserId))
                    .col(string_len_null(Assessments::BodyName, 200))
                    .col(string_len(Assessments::Title, 200))
                    .col(text(Assessments::Body))
                    .col(timestamp_with_time_zone(Assessments::PublishedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Assessments::Table, Assessments::TopicId)
                            .to(Topics::Table, Topics::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_assessments_topic")
                    .table(Assessments::Table)
                    .col(Assessments::TopicId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Meetings::Table)
                    .col(big_integer(Meetings::Id).auto_increment().primary_key())
                    .col(big_integer(Meetings::TopicId))
                    .col(timestamp_with_time_zone(Meetings::HeldAt))
                    .col(string_len(Meetings::Place, 200))
                    .col(integer(Meetings::Attendees))
                    .col(text(Meetings::Minutes))
                    .col(integer(Meetings::RecordedBy))
                    .col(timestamp_with_time_zone(Meetings::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Meetings::Table, Meetings::TopicId)
                            .to(Topics::Table, Topics::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_meetings_topic")
                    .table(Meetings::Table)
                    .col(Meetings::TopicId)
                    .to_owned(),
            )
            .await?;

        // Opinions: one current row per (topic, resident); `revision` counts
        // changes, each kept in opinion_revisions. Every hot table leads with
        // topic_id so it can be distributed by topic later.
        manager
            .create_table(
                Table::create()
                    .table(Opinions::Table)
                    .col(big_integer(Opinions::Id).auto_increment().primary_key())
                    .col(big_integer(Opinions::TopicId))
                    .col(integer_null(Opinions::UserId))
                    .col(string_len(Opinions::VillageCode, 12))
                    .col(string_len(Opinions::Choice, 24))
                    .col(text_null(Opinions::Reason))
                    .col(boolean(Opinions::Proxy))
                    .col(string_len_null(Opinions::ProxyName, 64))
                    .col(big_integer_null(Opinions::MeetingId))
                    .col(integer_null(Opinions::RecordedBy))
                    .col(timestamp_with_time_zone_null(Opinions::ConfirmedAt))
                    .col(integer(Opinions::Revision))
                    .col(timestamp_with_time_zone(Opinions::CreatedAt))
                    .col(timestamp_with_time_zone(Opinions::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Opinions::Table, Opinions::TopicId)
                            .to(Topics::Table, Topics::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_opinions_topic_user")
                    .table(Opinions::Table)
                    .col(Opinions::TopicId)
                    .col(Opinions::UserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_opinions_topic_village")
                    .table(Opinions::Table)
                    .col(Opinions::TopicId)
                    .col(Opinions::VillageCode)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_opinions_user")
                    .table(Opinions::Table)
                    .col(Opinions::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OpinionRevisions::Table)
                    .col(
                        big_integer(OpinionRevisions::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(big_integer(OpinionRevisions::TopicId))
                    .col(big_integer(OpinionRevisions::OpinionId))
                    .col(integer(OpinionRevisions::Revision))
                    .col(string_len(OpinionRevisions::VillageCode, 12))
                    .col(string_len(OpinionRevisions::Choice, 24))
                    .col(text_null(OpinionRevisions::Reason))
                    .col(boolean(OpinionRevisions::Proxy))
                    .col(integer_null(OpinionRevisions::RecordedBy))
                    .col(timestamp_with_time_zone(OpinionRevisions::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_opinion_revisions_opinion")
                    .table(OpinionRevisions::Table)
                    .col(OpinionRevisions::TopicId)
                    .col(OpinionRevisions::OpinionId)
                    .to_owned(),
            )
            .await?;

        // Counters per (topic, village, choice), changed in the opinion's own
        // transaction: results read these, never the opinions.
        manager
            .create_table(
                Table::create()
                    .table(Tallies::Table)
                    .col(big_integer(Tallies::TopicId))
                    .col(string_len(Tallies::VillageCode, 12))
                    .col(string_len(Tallies::Choice, 24))
                    .col(big_integer(Tallies::Count))
                    .primary_key(
                        Index::create()
                            .col(Tallies::TopicId)
                            .col(Tallies::VillageCode)
                            .col(Tallies::Choice),
                    )
                    .to_owned(),
            )
            .await?;

        // Eligible residents per village, counted when the topic opens (and
        // again when it closes), for participation rates without a scan.
        manager
            .create_table(
                Table::create()
                    .table(TopicEligible::Table)
                    .col(big_integer(TopicEligible::TopicId))
                    .col(string_len(TopicEligible::VillageCode, 12))
                    .col(big_integer(TopicEligible::Count))
                    .primary_key(
                        Index::create()
                            .col(TopicEligible::TopicId)
                            .col(TopicEligible::VillageCode),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Suggestions::Table)
                    .col(big_integer(Suggestions::Id).auto_increment().primary_key())
                    .col(string_len(Suggestions::DivisionCode, 12))
                    .col(integer(Suggestions::AuthorUserId))
                    .col(string_len(Suggestions::Title, 200))
                    .col(text(Suggestions::Body))
                    .col(string_len(Suggestions::Category, 32))
                    .col(string_len(Suggestions::Status, 16))
                    .col(text_null(Suggestions::DeclineReason))
                    .col(big_integer_null(Suggestions::TopicId))
                    .col(integer(Suggestions::Supporters))
                    .col(timestamp_with_time_zone(Suggestions::CreatedAt))
                    .col(timestamp_with_time_zone_null(Suggestions::DecidedAt))
                    .col(integer_null(Suggestions::DecidedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Suggestions::Table, Suggestions::DivisionCode)
                            .to(Divisions::Table, Divisions::Code),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_suggestions_division_status")
                    .table(Suggestions::Table)
                    .col(Suggestions::DivisionCode)
                    .col(Suggestions::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SuggestionSupports::Table)
                    .col(big_integer(SuggestionSupports::SuggestionId))
                    .col(integer(SuggestionSupports::UserId))
                    .col(timestamp_with_time_zone(SuggestionSupports::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(SuggestionSupports::SuggestionId)
                            .col(SuggestionSupports::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SuggestionSupports::Table, SuggestionSupports::SuggestionId)
                            .to(Suggestions::Table, Suggestions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SuggestionSupports::Table.into_iden(),
            Suggestions::Table.into_iden(),
            TopicEligible::Table.into_iden(),
            Tallies::Table.into_iden(),
            OpinionRevisions::Table.into_iden(),
            Opinions::Table.into_iden(),
            Meetings::Table.into_iden(),
            Assessments::Table.into_iden(),
            TopicStakeholders::Table.into_iden(),
            TopicOptions::Table.into_iden(),
            Topics::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Topics {
    Table,
    Id,
    Title,
    Body,
    Category,
    Kind,
    ScopeCode,
    Technical,
    ReasonRequiredForDissent,
    QuorumPercent,
    Eligibility,
    State,
    NoticeAt,
    OpensAt,
    ClosesAt,
    AnnouncedAt,
    OpenedAt,
    ClosedAt,
    WithdrawnAt,
    WithdrawReason,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TopicOptions {
    Table,
    Id,
    TopicId,
    Position,
    Label,
}

#[derive(DeriveIden)]
enum TopicStakeholders {
    Table,
    TopicId,
    UserId,
}

#[derive(DeriveIden)]
enum Assessments {
    Table,
    Id,
    TopicId,
    AuthorUserId,
    BodyName,
    Title,
    Body,
    PublishedAt,
}

#[derive(DeriveIden)]
enum Meetings {
    Table,
    Id,
    TopicId,
    HeldAt,
    Place,
    Attendees,
    Minutes,
    RecordedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Opinions {
    Table,
    Id,
    TopicId,
    UserId,
    VillageCode,
    Choice,
    Reason,
    Proxy,
    ProxyName,
    MeetingId,
    RecordedBy,
    ConfirmedAt,
    Revision,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OpinionRevisions {
    Table,
    Id,
    TopicId,
    OpinionId,
    Revision,
    VillageCode,
    Choice,
    Reason,
    Proxy,
    RecordedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Tallies {
    Table,
    TopicId,
    VillageCode,
    Choice,
    Count,
}

#[derive(DeriveIden)]
enum TopicEligible {
    Table,
    TopicId,
    VillageCode,
    Count,
}

#[derive(DeriveIden)]
enum Suggestions {
    Table,
    Id,
    DivisionCode,
    AuthorUserId,
    Title,
    Body,
    Category,
    Status,
    DeclineReason,
    TopicId,
    Supporters,
    CreatedAt,
    DecidedAt,
    DecidedBy,
}

#[derive(DeriveIden)]
enum SuggestionSupports {
    Table,
    SuggestionId,
    UserId,
    CreatedAt,
}
