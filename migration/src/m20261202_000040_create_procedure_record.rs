//! The procedure made explicit (issue 15): the public, hash-chained record
//! of every move on a topic; deadline extensions that keep the original
//! deadline; early closes that wait for a supervisor's countersignature;
//! supervision flags on the procedure as well as the outcome, resolved only
//! by a supervisor; explanations given face to face; the justification of an
//! outcome published without quorum.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProcedureRecord::Table)
                    .col(
                        big_integer(ProcedureRecord::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(big_integer(ProcedureRecord::TopicId))
                    .col(integer(ProcedureRecord::Seq))
                    .col(string_len(ProcedureRecord::Action, 32))
                    .col(string_len(ProcedureRecord::ActorRole, 16))
                    .col(string_len_null(ProcedureRecord::ActorDivision, 12))
                    .col(text_null(ProcedureRecord::Reason))
                    // The exact JSON text that was hashed (TEXT, not JSON:
                    // PostgreSQL's jsonb would reorder it).
                    .col(text(ProcedureRecord::Detail))
                    .col(timestamp_with_time_zone(ProcedureRecord::RecordedAt))
                    .col(string_len(ProcedureRecord::PrevHash, 64))
                    .col(string_len(ProcedureRecord::Hash, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_procedure_record_topic_seq")
                    .table(ProcedureRecord::Table)
                    .col(ProcedureRecord::TopicId)
                    .col(ProcedureRecord::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;

        for column in [
            timestamp_with_time_zone_null(Topics::OriginalDeadline),
            text_null(Topics::EarlyCloseReason),
            integer_null(Topics::EarlyCloseRequestedBy),
            timestamp_with_time_zone_null(Topics::EarlyCloseRequestedAt),
            text_null(Topics::QuorumJustification),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Topics::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        // Topics decided before this migration: their deadline is the original.
        manager
            .get_connection()
            .execute_unprepared("UPDATE topics SET original_deadline = deadline")
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DeadlineExtensions::Table)
                    .col(
                        big_integer(DeadlineExtensions::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(big_integer(DeadlineExtensions::TopicId))
                    .col(timestamp_with_time_zone(
                        DeadlineExtensions::PreviousDeadline,
                    ))
                    .col(timestamp_with_time_zone(DeadlineExtensions::NewDeadline))
                    .col(text(DeadlineExtensions::Reason))
                    .col(integer(DeadlineExtensions::ExtendedBy))
                    .col(timestamp_with_time_zone(DeadlineExtensions::ExtendedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_deadline_extensions_topic")
                    .table(DeadlineExtensions::Table)
                    .col(DeadlineExtensions::TopicId)
                    .to_owned(),
            )
            .await?;

        for column in [
            string_len(SupervisionFlags::Subject, 16)
                .default("outcome")
                .to_owned(),
            text_null(SupervisionFlags::Resolution),
            integer_null(SupervisionFlags::ResolvedBy),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(SupervisionFlags::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(InPersonExplanations::Table)
                    .col(
                        big_integer(InPersonExplanations::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(big_integer(InPersonExplanations::TopicId))
                    .col(big_integer(InPersonExplanations::OpinionId))
                    .col(string_len(InPersonExplanations::ExplainedByName, 100))
                    .col(timestamp_with_time_zone(InPersonExplanations::ExplainedAt))
                    .col(string_len(InPersonExplanations::Place, 200))
                    .col(string_len(InPersonExplanations::Response, 16))
                    .col(text_null(InPersonExplanations::Note))
                    .col(integer(InPersonExplanations::RecordedBy))
                    .col(timestamp_with_time_zone(InPersonExplanations::RecordedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_in_person_explanations_topic")
                    .table(InPersonExplanations::Table)
                    .col(InPersonExplanations::TopicId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            InPersonExplanations::Table.into_iden(),
            DeadlineExtensions::Table.into_iden(),
            ProcedureRecord::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for column in [
            SupervisionFlags::Subject,
            SupervisionFlags::Resolution,
            SupervisionFlags::ResolvedBy,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(SupervisionFlags::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            Topics::OriginalDeadline,
            Topics::EarlyCloseReason,
            Topics::EarlyCloseRequestedBy,
            Topics::EarlyCloseRequestedAt,
            Topics::QuorumJustification,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Topics::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ProcedureRecord {
    Table,
    Id,
    TopicId,
    Seq,
    Action,
    ActorRole,
    ActorDivision,
    Reason,
    Detail,
    RecordedAt,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum Topics {
    Table,
    OriginalDeadline,
    EarlyCloseReason,
    EarlyCloseRequestedBy,
    EarlyCloseRequestedAt,
    QuorumJustification,
}

#[derive(DeriveIden)]
enum DeadlineExtensions {
    Table,
    Id,
    TopicId,
    PreviousDeadline,
    NewDeadline,
    Reason,
    ExtendedBy,
    ExtendedAt,
}

#[derive(DeriveIden)]
enum SupervisionFlags {
    Table,
    Subject,
    Resolution,
    ResolvedBy,
}

#[derive(DeriveIden)]
enum InPersonExplanations {
    Table,
    Id,
    TopicId,
    OpinionId,
    ExplainedByName,
    ExplainedAt,
    Place,
    Response,
    Note,
    RecordedBy,
    RecordedAt,
}
