//! When the "closing in 24 hours" reminder of a topic was queued, so the
//! scheduler queues it once and then stops looking at the topic.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Topics::Table)
                    .add_column(timestamp_with_time_zone_null(Topics::RemindedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Topics::Table)
                    .drop_column(Topics::RemindedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Topics {
    Table,
    RemindedAt,
}
