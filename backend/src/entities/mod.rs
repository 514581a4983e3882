//! sea-orm entities, one per table, in the shape `sea-orm-cli generate entity`
//! produces. Only table mappings live here; rules live in `domain`.

pub mod assessments;
pub mod audit_log;
pub mod deadline_extensions;
pub mod divisions;
pub mod email_preferences;
pub mod email_tokens;
pub mod entrusted_reports;
pub mod explanation_recipients;
pub mod explanations;
pub mod in_person_explanations;
pub mod meetings;
pub mod notifications;
pub mod opinion_revisions;
pub mod opinions;
pub mod outbox;
pub mod outcomes;
pub mod procedure_record;
pub mod progress_updates;
pub mod referrals;
pub mod refresh_tokens;
pub mod residencies;
pub mod role_assignments;
pub mod secret_reveals;
pub mod suggestion_supports;
pub mod suggestions;
pub mod supervision_flags;
pub mod tallies;
pub mod topic_eligible;
pub mod topic_options;
pub mod topic_stakeholders;
pub mod topics;
pub mod users;
