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
                    .table(RoleAssignments::Table)
                    .col(pk_auto(RoleAssignments::Id))
                    .col(integer(RoleAssignments::UserId))
                    .col(string_len(RoleAssignments::Role, 16))
                    .col(string_len(RoleAssignments::DivisionCode, 12))
                    .col(timestamp_with_time_zone(RoleAssignments::CreatedAt))
                    .col(integer_null(RoleAssignments::CreatedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RoleAssignments::Table, RoleAssignments::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(RoleAssignments::Table, RoleAssignments::DivisionCode)
                            .to(Divisions::Table, Divisions::Code),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_role_assignments_user_role_division")
                    .table(RoleAssignments::Table)
                    .col(RoleAssignments::UserId)
                    .col(RoleAssignments::Role)
                    .col(RoleAssignments::DivisionCode)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_role_assignments_division")
                    .table(RoleAssignments::Table)
                    .col(RoleAssignments::DivisionCode)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Residencies::Table)
                    .col(pk_auto(Residencies::Id))
                    .col(integer(Residencies::UserId))
                    .col(string_len(Residencies::DivisionCode, 12))
                    .col(string_len(Residencies::Status, 16))
                    .col(text_null(Residencies::Note))
                    .col(text_null(Residencies::DecisionReason))
                    .col(timestamp_with_time_zone(Residencies::RequestedAt))
                    .col(timestamp_with_time_zone_null(Residencies::DecidedAt))
                    .col(integer_null(Residencies::DecidedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Residencies::Table, Residencies::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Residencies::Table, Residencies::DivisionCode)
                            .to(Divisions::Table, Divisions::Code),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_residencies_division_status")
                    .table(Residencies::Table)
                    .col(Residencies::DivisionCode)
                    .col(Residencies::Status)
                    .to_owned(),
            )
            .await?;
        // At most one pending request and one approved residency per user; the
        // database enforces it so two racing approvals cannot both land.
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_residencies_pending ON residencies (user_id) WHERE status = 'pending'",
        )
        .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_residencies_approved ON residencies (user_id) WHERE status = 'approved'",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Residencies::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RoleAssignments::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RoleAssignments {
    Table,
    Id,
    UserId,
    Role,
    DivisionCode,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum Residencies {
    Table,
    Id,
    UserId,
    DivisionCode,
    Status,
    Note,
    DecisionReason,
    RequestedAt,
    DecidedAt,
    DecidedBy,
}
