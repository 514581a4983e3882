//! `ix_opinions_topic_village` (topic, village) ties in cost with the unique
//! (topic, resident) index for a lookup of one resident's opinion. PostgreSQL
//! then picks it whenever its statistics predate a topic (a topic opened
//! after the last ANALYZE, or one with under 10 % of a large table's rows,
//! which autovacuum never re-analyses for) and scans every opinion of the
//! topic per lookup. The unique index serves every query that index did.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "ix_opinions_topic_village";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(NAME).table(Opinions::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(Opinions::Table)
                    .col(Opinions::TopicId)
                    .col(Opinions::VillageCode)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Opinions {
    Table,
    TopicId,
    VillageCode,
}
