//! An organiser's opinion list filtered by a township or county scanned every
//! opinion of the topic: about 340 ms on PostgreSQL for a topic of 1,000,000.
//! This index serves the division filter as a range on the village code, and
//! holds the id so the matching opinions are found from the index alone.
//!
//! The village code leads on purpose. An index leading with the topic ties in
//! cost with the unique (topic, resident) index for a lookup of one
//! resident's opinion whenever PostgreSQL's statistics predate the topic (see
//! m20261126_000010); with the topic second it can serve no such lookup.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "ix_opinions_village_topic";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(Opinions::Table)
                    .col(Opinions::VillageCode)
                    .col(Opinions::TopicId)
                    .col(Opinions::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(NAME).table(Opinions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Opinions {
    Table,
    Id,
    TopicId,
    VillageCode,
}
