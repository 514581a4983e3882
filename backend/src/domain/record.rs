//! The public record of a topic's procedure (程序记录): every move the
//! policy names (announce, open, close, early close, outcome, extension,
//! flag, correction, explanation, completion, withdrawal, referral, report)
//! appended, in order, in the same transaction as the move itself, with who
//! made it (a role and a division, never a resident's name) and why.
//!
//! Tamper-evident: each entry carries the SHA-256 of its own content and of
//! the previous entry's hash, so editing, inserting or deleting a row after
//! the fact breaks the chain that [`verify`] (and `yishi verify-record`)
//! recomputes. The head hash is public, so a copy taken earlier (a printed
//! notice, a screenshot) also shows a truncated chain.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait,
    QueryFilter, QueryOrder, Statement,
};
use sha2::{Digest, Sha256};

use super::authz::{Action, Actor, Role};
use crate::entities::procedure_record;
use crate::error::{Error, Result};

pub use procedure_record::Model as RecordEntry;

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

macro_rules! moves {
    ($($variant:ident => $text:literal),+ $(,)?) => {
        /// A move on the record.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Move { $($variant),+ }

        impl Move {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|m| m.as_str() == s)
            }
        }
    };
}

moves! {
    Announced => "announced",
    Opened => "opened",
    Closed => "closed",
    EarlyCloseRequested => "early_close_requested",
    EarlyCloseCountersigned => "early_close_countersigned",
    EarlyCloseDeclined => "early_close_declined",
    OutcomePublished => "outcome_published",
    ImplementationStarted => "implementation_started",
    DeadlineExtended => "deadline_extended",
    Flagged => "flagged",
    OutcomeCorrected => "outcome_corrected",
    FlagAccepted => "flag_accepted",
    FlagDismissed => "flag_dismissed",
    Explained => "explained",
    ExplainedInPerson => "explained_in_person",
    Completed => "completed",
    Withdrawn => "withdrawn",
    Referred => "referred",
    ReportSubmitted => "report_submitted",
    Revealed => "revealed",
    ReferralAccepted => "referral_accepted",
    ReferralDeclined => "referral_declined",
    ReferralLinked => "referral_linked",
    ReportAcknowledged => "report_acknowledged",
}

/// Who made a move, as the public sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// A member of staff acting in a role over a division.
    Staff { role: Role, division: String },
    /// The scheduler, because a time set in advance was reached.
    Schedule,
}

impl Who {
    /// The role and division in which `actor` may do `action` on a topic of
    /// `scope` (the closest such division when several grant it).
    pub fn acting(actor: &Actor, action: Action, scope: &str) -> Self {
        let assignment = actor
            .assignments
            .iter()
            .filter(|a| {
                a.role.allows(action) && super::divisions::contains(&a.division_code, scope)
            })
            .max_by_key(|a| a.division_code.len());
        match assignment {
            Some(a) => Who::Staff {
                role: a.role,
                division: a.division_code.clone(),
            },
            // Callers authorise before recording; a record without a role
            // still says staff made the move.
            None => Who::Staff {
                role: Role::Organiser,
                division: scope.to_owned(),
            },
        }
    }

    fn role(&self) -> &'static str {
        match self {
            Who::Staff { role, .. } => role.as_str(),
            Who::Schedule => "schedule",
        }
    }

    fn division(&self) -> Option<&str> {
        match self {
            Who::Staff { division, .. } => Some(division),
            Who::Schedule => None,
        }
    }
}

/// One move to append.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub moved: Move,
    pub who: Who,
    /// The public reason, where the move needs one.
    pub reason: Option<&'a str>,
    /// What else the public should see (dates, versions, counts).
    pub detail: serde_json::Value,
}

/// The hash of an entry: SHA-256 over an unambiguous JSON array of its
/// fields and the previous hash.
#[allow(clippy::too_many_arguments)]
fn digest(
    topic_id: i64,
    seq: i32,
    action: &str,
    actor_role: &str,
    actor_division: Option<&str>,
    reason: Option<&str>,
    detail: &str,
    recorded_at: DateTime<Utc>,
    prev_hash: &str,
) -> String {
    let canonical = serde_json::json!([
        topic_id,
        seq,
        action,
        actor_role,
        actor_division,
        reason,
        detail,
        recorded_at.timestamp_micros(),
        prev_hash,
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

fn hash_of(row: &RecordEntry) -> String {
    digest(
        row.topic_id,
        row.seq,
        &row.action,
        &row.actor_role,
        row.actor_division.as_deref(),
        row.reason.as_deref(),
        &row.detail,
        row.recorded_at,
        &row.prev_hash,
    )
}

/// Both databases keep microseconds; the hash must see what is stored.
fn to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// Appends `entry` to topic `topic_id`'s record inside the caller's
/// transaction, so the move and its record commit together.
///
/// # Errors
/// Database errors; `CONFLICT` when another move on the topic committed its
/// entry first (the caller's whole move is then rolled back).
pub async fn append(
    txn: &impl ConnectionTrait,
    topic_id: i64,
    entry: Entry<'_>,
    now: DateTime<Utc>,
) -> Result<RecordEntry> {
    let backend = txn.get_database_backend();
    if backend == DatabaseBackend::Postgres {
        // Serialises appends per topic (SQLite has one writer already).
        txn.execute(Statement::from_sql_and_values(
            backend,
            "SELECT id FROM topics WHERE id = $1 FOR UPDATE",
            [topic_id.into()],
        ))
        .await?;
    }
    let last = procedure_record::Entity::find()
        .filter(procedure_record::Column::TopicId.eq(topic_id))
        .order_by_desc(procedure_record::Column::Seq)
        .one(txn)
        .await?;
    let (seq, prev_hash) = match last {
        Some(last) => (last.seq + 1, last.hash),
        None => (1, GENESIS.to_owned()),
    };
    let recorded_at = to_micros(now);
    let detail = entry.detail.to_string();
    let reason = entry.reason.map(str::trim).filter(|r| !r.is_empty());
    let hash = digest(
        topic_id,
        seq,
        entry.moved.as_str(),
        entry.who.role(),
        entry.who.division(),
        reason,
        &detail,
        recorded_at,
        &prev_hash,
    );
    procedure_record::ActiveModel {
        topic_id: Set(topic_id),
        seq: Set(seq),
        action: Set(entry.moved.as_str().to_owned()),
        actor_role: Set(entry.who.role().to_owned()),
        actor_division: Set(entry.who.division().map(str::to_owned)),
        reason: Set(reason.map(str::to_owned)),
        detail: Set(detail),
        recorded_at: Set(recorded_at),
        prev_hash: Set(prev_hash),
        hash: Set(hash),
        ..Default::default()
    }
    .insert(txn)
    .await
    .map_err(|e| {
        crate::error::conflict_on_unique(e, || {
            format!("topic {topic_id} moved meanwhile; reload it")
        })
    })
}

/// The record of a topic, oldest first. Public: callers check only that the
/// topic itself is public.
///
/// # Errors
/// Database errors.
pub async fn of_topic(db: &impl ConnectionTrait, topic_id: i64) -> Result<Vec<RecordEntry>> {
    Ok(procedure_record::Entity::find()
        .filter(procedure_record::Column::TopicId.eq(topic_id))
        .order_by_asc(procedure_record::Column::Seq)
        .all(db)
        .await?)
}

/// The topics that have a record, in id order (for `verify-record --all`).
///
/// # Errors
/// Database errors.
pub async fn topics_with_record(db: &impl ConnectionTrait) -> Result<Vec<i64>> {
    use sea_orm::QuerySelect;
    Ok(procedure_record::Entity::find()
        .select_only()
        .column(procedure_record::Column::TopicId)
        .distinct()
        .order_by_asc(procedure_record::Column::TopicId)
        .into_tuple()
        .all(db)
        .await?)
}

/// What checking a record's chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub entries: usize,
    /// The hash of the last entry (what a copy taken earlier compares to).
    pub head: String,
    /// The first entry whose content, hash or link does not hold, and why.
    pub broken: Option<(i32, String)>,
}

impl Verification {
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// Checks `entries` (oldest first): numbered 1, 2, 3… without gaps, each
/// linked to the previous hash, each hash matching its content.
pub fn check(entries: &[RecordEntry]) -> Verification {
    let mut prev = GENESIS.to_owned();
    let mut broken = None;
    for (i, row) in entries.iter().enumerate() {
        let expected_seq = i32::try_from(i + 1).unwrap_or(i32::MAX);
        let problem = if row.seq != expected_seq {
            Some(format!("entry {expected_seq} is missing"))
        } else if row.prev_hash != prev {
            Some("does not link to the entry before it".to_owned())
        } else if hash_of(row) != row.hash {
            Some("its content does not match its hash".to_owned())
        } else {
            None
        };
        if let Some(problem) = problem {
            broken = Some((expected_seq, problem));
            break;
        }
        prev = row.hash.clone();
    }
    Verification {
        entries: entries.len(),
        head: entries
            .last()
            .map_or_else(|| GENESIS.to_owned(), |r| r.hash.clone()),
        broken,
    }
}

/// Reads and checks the record of topic `topic_id`.
///
/// # Errors
/// Database errors; `NOT_FOUND` for a topic without a record.
pub async fn verify(db: &impl ConnectionTrait, topic_id: i64) -> Result<Verification> {
    let entries = of_topic(db, topic_id).await?;
    if entries.is_empty() {
        return Err(Error::not_found(format!("the record of topic {topic_id}")));
    }
    Ok(check(&entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i32) -> Vec<RecordEntry> {
        let mut prev = GENESIS.to_owned();
        let at = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        (1..=n)
            .map(|seq| {
                let mut row = RecordEntry {
                    id: i64::from(seq),
                    topic_id: 7,
                    seq,
                    action: Move::Announced.as_str().into(),
                    actor_role: "organiser".into(),
                    actor_division: Some("620102001001".into()),
                    reason: (seq == 2).then(|| "因汛期提前结束".to_owned()),
                    detail: format!("{{\"n\":{seq}}}"),
                    recorded_at: at,
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                row.hash = hash_of(&row);
                prev = row.hash.clone();
                row
            })
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let rows = chain(4);
        let v = check(&rows);
        assert!(v.is_intact(), "{v:?}");
        assert_eq!(v.entries, 4);
        assert_eq!(v.head, rows[3].hash);
    }

    #[test]
    fn an_edited_reason_breaks_the_chain_at_that_entry() {
        let mut rows = chain(4);
        rows[1].reason = Some("另一个理由".into());
        assert_eq!(check(&rows).broken.map(|b| b.0), Some(2));
    }

    #[test]
    fn a_rehashed_edit_breaks_the_next_link() {
        let mut rows = chain(4);
        rows[1].detail = "{\"n\":99}".into();
        rows[1].hash = hash_of(&rows[1]);
        assert_eq!(check(&rows).broken.map(|b| b.0), Some(3));
    }

    #[test]
    fn a_deleted_entry_is_a_gap() {
        let mut rows = chain(4);
        rows.remove(2);
        let broken = check(&rows).broken.expect("broken");
        assert_eq!(broken.0, 3);
        assert!(broken.1.contains("missing"));
    }

    #[test]
    fn every_move_has_a_distinct_name() {
        for m in Move::ALL {
            assert_eq!(Move::parse(m.as_str()), Some(*m));
        }
    }
}
