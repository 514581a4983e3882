//! A proxy opinion is refused once its meeting has as many opinions recorded
//! at it as it had attendees, counted inside the writer's transaction. This
//! index serves that count. Partial: only proxy opinions name a meeting, so
//! the hot path of online submissions does not maintain it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The same statement on SQLite and PostgreSQL (sea-query has no
        // partial indexes).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX ix_opinions_meeting ON opinions (meeting_id) \
                 WHERE meeting_id IS NOT NULL",
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX ix_opinions_meeting")
            .await
            .map(|_| ())
    }
}
