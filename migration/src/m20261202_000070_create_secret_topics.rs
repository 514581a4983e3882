//! Secret topics (民主评议 without fear): a flag on the topic (appraisals are
//! secret whatever it says) and the break-glass reveals, each with the
//! supervisor who asked and the legal reason.

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
                    .add_column(boolean(Topics::Secret).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SecretReveals::Table)
                    .col(
                        big_integer(SecretReveals::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(big_integer(SecretReveals::TopicId))
                    .col(integer(SecretReveals::SupervisorId))
                    .col(text(SecretReveals::LegalReason))
                    .col(timestamp_with_time_zone(SecretReveals::RevealedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_secret_reveals_topic_supervisor")
                    .table(SecretReveals::Table)
                    .col(SecretReveals::TopicId)
                    .col(SecretReveals::SupervisorId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SecretReveals::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Topics::Table)
                    .drop_column(Topics::Secret)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Topics {
    Table,
    Secret,
}

#[derive(DeriveIden)]
enum SecretReveals {
    Table,
    Id,
    TopicId,
    SupervisorId,
    LegalReason,
    RevealedAt,
}
