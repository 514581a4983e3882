//! The Yishi schema, versioned. The same migrations serve SQLite and PostgreSQL:
//! tables are declared through sea-query so each backend gets its own types.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_divisions;
mod m20261125_000002_create_accounts;
mod m20261125_000003_create_roles_and_residencies;
mod m20261125_000004_create_outbox_and_audit_log;
mod m20261125_000005_create_topics;
mod m20261125_000006_create_outcomes;
mod m20261125_000007_create_email_preferences;
mod m20261125_000008_add_topic_reminded_at;
mod m20261125_000009_create_bulk_emails;
mod m20261126_000010_drop_opinions_topic_village_index;
mod m20261126_000011_create_opinions_village_topic_index;
mod m20261202_000020_create_refresh_tokens_revoked_index;
mod m20261202_000030_create_opinions_meeting_index;
mod m20261202_000040_create_procedure_record;
mod m20261202_000050_create_referrals_and_entrusted_reports;
mod m20261202_000070_create_secret_topics;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_divisions::Migration),
            Box::new(m20261125_000002_create_accounts::Migration),
            Box::new(m20261125_000003_create_roles_and_residencies::Migration),
            Box::new(m20261125_000004_create_outbox_and_audit_log::Migration),
            Box::new(m20261125_000005_create_topics::Migration),
            Box::new(m20261125_000006_create_outcomes::Migration),
            Box::new(m20261125_000007_create_email_preferences::Migration),
            Box::new(m20261125_000008_add_topic_reminded_at::Migration),
            Box::new(m20261125_000009_create_bulk_emails::Migration),
            Box::new(m20261126_000010_drop_opinions_topic_village_index::Migration),
            Box::new(m20261126_000011_create_opinions_village_topic_index::Migration),
            Box::new(m20261202_000020_create_refresh_tokens_revoked_index::Migration),
            Box::new(m20261202_000030_create_opinions_meeting_index::Migration),
            Box::new(m20261202_000040_create_procedure_record::Migration),
            Box::new(m20261202_000050_create_referrals_and_entrusted_reports::Migration),
            Box::new(m20261202_000070_create_secret_topics::Migration),
        ]
    }
}
