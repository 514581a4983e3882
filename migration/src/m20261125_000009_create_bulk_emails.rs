//! Notices to a whole audience (every eligible resident of a county topic can
//! be 100,000 people) are queued by a background job, not by the request
//! that announced or opened the topic. The job row is written in that
//! request's transaction, so nothing acknowledged is lost; `after_user_id`
//! records how far the job has come, so a restart resumes it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BulkEmails::Table)
                    .col(big_integer(BulkEmails::Id).auto_increment().primary_key())
                    .col(big_integer(BulkEmails::TopicId))
                    .col(string_len(BulkEmails::Kind, 64))
                    .col(string_len(BulkEmails::Recipients, 32))
                    .col(text(BulkEmails::Payload))
                    .col(integer(BulkEmails::AfterUserId).default(0))
                    .col(big_integer(BulkEmails::Queued).default(0))
                    .col(timestamp_with_time_zone_null(BulkEmails::LeasedUntil))
                    .col(timestamp_with_time_zone(BulkEmails::CreatedAt))
                    .col(timestamp_with_time_zone_null(BulkEmails::DoneAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(BulkEmails::Table, BulkEmails::TopicId)
                            .to(Topics::Table, Topics::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("bulk_emails_pending")
                    .table(BulkEmails::Table)
                    .col(BulkEmails::DoneAt)
                    .col(BulkEmails::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(BulkEmails::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum BulkEmails {
    Table,
    Id,
    TopicId,
    Kind,
    Recipients,
    Payload,
    AfterUserId,
    Queued,
    LeasedUntil,
    CreatedAt,
    DoneAt,
}

#[derive(DeriveIden)]
enum Topics {
    Table,
    Id,
}
