//! Which optional emails each user does not want. A missing row means the
//! default (wanted), so the bulk `INSERT … SELECT` that queues an
//! announcement needs no row per user.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EmailPreferences::Table)
                    .col(integer(EmailPreferences::UserId))
                    .col(string_len(EmailPreferences::Kind, 40))
                    .col(boolean(EmailPreferences::Enabled))
                    .col(timestamp_with_time_zone(EmailPreferences::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(EmailPreferences::UserId)
                            .col(EmailPreferences::Kind),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(EmailPreferences::Table, EmailPreferences::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EmailPreferences::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum EmailPreferences {
    Table,
    UserId,
    Kind,
    Enabled,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
