use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // `code` keeps the significant digits of the national code (2, 4, 6, 9
        // or 12 of them by level), so a subtree is a prefix match and a roll-up
        // is a `substr` of the village code.
        manager
            .create_table(
                Table::create()
                    .table(Divisions::Table)
                    .col(string_len(Divisions::Code, 12).primary_key())
                    .col(string_len(Divisions::Name, 100))
                    .col(string_len(Divisions::Level, 16))
                    .col(string_len_null(Divisions::ParentCode, 12))
                    .col(timestamp_with_time_zone(Divisions::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Divisions::Table, Divisions::ParentCode)
                            .to(Divisions::Table, Divisions::Code)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_divisions_parent_code")
                    .table(Divisions::Table)
                    .col(Divisions::ParentCode)
                    .col(Divisions::Code)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Divisions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Divisions {
    Table,
    Code,
    Name,
    Level,
    ParentCode,
    UpdatedAt,
}
