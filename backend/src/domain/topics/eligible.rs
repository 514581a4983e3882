//! The eligible base of a topic: how many residents may take part, per
//! village (`topic_eligible`), so results show participation without
//! scanning residents.
//!
//! The base is live while residents can still be told of the topic and take
//! part in it (announced or open): it is counted from the residencies when
//! the topic is announced, and every residency that starts or ends inside
//! the scope moves it in the same transaction, as an opinion moves its
//! counters. Opening and closing count it again from the residencies (the
//! same figure, unless something bypassed this module). After closing it is
//! frozen: the count taken at the close is the record of who could have
//! taken part.
//!
//! A topic's stakeholder list cannot change once it is announced (only
//! drafts are edited), so on a stakeholder topic only the listed residents'
//! moves count.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, Statement, Value};

use super::model::{Eligibility, State, Topic};
use crate::db::param;
use crate::domain::{divisions, Services};
use crate::error::Result;
use crate::events::Event;

/// Counts eligible residents per village into `topic_eligible` afresh.
/// Returns the total.
///
/// # Errors
/// Database errors only.
pub(crate) async fn count_afresh(txn: &DatabaseTransaction, topic: &Topic) -> Result<i64> {
    let backend = txn.get_database_backend();
    let p = |n| param(backend, n);
    txn.execute(Statement::from_sql_and_values(
        backend,
        format!("DELETE FROM topic_eligible WHERE topic_id = {}", p(1)),
        [topic.id.into()],
    ))
    .await?;
    let sql = match Eligibility::parse(&topic.eligibility) {
        Some(Eligibility::Stakeholders) => format!(
            "INSERT INTO topic_eligible (topic_id, village_code, count) \
             SELECT {0}, r.division_code, COUNT(*) FROM topic_stakeholders s \
             JOIN residencies r ON r.user_id = s.user_id AND r.status = 'approved' \
             WHERE s.topic_id = {0} AND r.division_code LIKE {1} GROUP BY r.division_code",
            p(1),
            p(2)
        ),
        _ => format!(
            "INSERT INTO topic_eligible (topic_id, village_code, count) \
             SELECT {}, division_code, COUNT(*) FROM residencies \
             WHERE status = 'approved' AND division_code LIKE {} GROUP BY division_code",
            p(1),
            p(2)
        ),
    };
    txn.execute(Statement::from_sql_and_values(
        backend,
        sql,
        [topic.id.into(), format!("{}%", topic.scope_code).into()],
    ))
    .await?;
    // CAST: PostgreSQL sums BIGINT into NUMERIC.
    let total = txn
        .query_one(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM topic_eligible WHERE topic_id = {}",
                p(1)
            ),
            [topic.id.into()],
        ))
        .await?
        .map(|row| row.try_get_by_index::<i64>(0))
        .transpose()?;
    Ok(total.unwrap_or(0))
}

/// One resident's move, as residency sees it: the village they were an
/// approved resident of before, and the one after (`None`: none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentMoved<'a> {
    pub user_id: i32,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
}

/// The topics whose base a committed residency change moved: tell
/// [`announce_moved`] after the commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use = "the tally caches must hear of the moved bases after the commit"]
pub struct MovedBases(Vec<i64>);

/// Moves the base of every announced or open topic whose scope holds the
/// village the resident leaves or the one they join, inside the residency's
/// transaction `txn`.
///
/// On PostgreSQL the candidate topics are locked `FOR SHARE` before their
/// state is read, so a topic being announced, opened or closed meanwhile
/// either waits for this transaction (and then counts its residency) or is
/// waited for (and then is moved here in its new state): the base never
/// misses a resident nor counts one twice. SQLite has one writer already.
///
/// # Errors
/// Database errors only.
pub async fn move_resident(
    txn: &DatabaseTransaction,
    moved: &ResidentMoved<'_>,
) -> Result<MovedBases> {
    if moved.from == moved.to {
        return Ok(MovedBases::default());
    }
    let villages: Vec<&str> = moved.from.iter().chain(moved.to.iter()).copied().collect();
    let mut scopes: Vec<String> = villages
        .iter()
        .flat_map(|v| {
            divisions::ancestor_codes(v)
                .into_iter()
                .chain([(*v).to_owned()])
        })
        .collect();
    scopes.sort_unstable();
    scopes.dedup();
    let backend = txn.get_database_backend();
    let p = |n| param(backend, n);
    let placeholders: Vec<String> = (0..scopes.len()).map(|i| p(i + 3)).collect();
    let lock = if backend == DatabaseBackend::Postgres {
        " ORDER BY t.id FOR SHARE OF t"
    } else {
        " ORDER BY t.id"
    };
    // Every live state is read under the lock, drafts included: a draft
    // announced meanwhile must be seen as announced once it commits.
    let sql = format!(
        "SELECT t.id, t.state, t.scope_code, t.eligibility, \
         EXISTS (SELECT 1 FROM topic_stakeholders s WHERE s.topic_id = t.id AND s.user_id = {user}) \
         FROM topics t WHERE t.state IN ({draft}, {live}, {open}) AND t.scope_code IN ({scopes}){lock}",
        user = p(1),
        draft = p(2),
        live = p(scopes.len() + 3),
        open = p(scopes.len() + 4),
        scopes = placeholders.join(", "),
    );
    let mut values: Vec<Value> = vec![moved.user_id.into(), State::Draft.as_str().into()];
    values.extend(scopes.iter().map(|s| Value::from(s.clone())));
    values.push(State::Announced.as_str().into());
    values.push(State::Open.as_str().into());
    let rows = txn
        .query_all(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    // Net change per (topic, village), in key order: two residency changes
    // on PostgreSQL then lock the base rows in the same order.
    let mut deltas: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for row in rows {
        let id: i64 = row.try_get_by_index(0)?;
        let state: String = row.try_get_by_index(1)?;
        let scope: String = row.try_get_by_index(2)?;
        let eligibility: String = row.try_get_by_index(3)?;
        let listed: bool = row.try_get_by_index(4)?;
        if !takes_live_base(&state) {
            continue;
        }
        if Eligibility::parse(&eligibility) == Some(Eligibility::Stakeholders) && !listed {
            continue;
        }
        for (village, delta) in [(moved.from, -1), (moved.to, 1)] {
            if let Some(village) = village.filter(|v| divisions::contains(&scope, v)) {
                *deltas.entry((id, village.to_owned())).or_default() += delta;
            }
        }
    }
    deltas.retain(|_, delta| *delta != 0);
    if deltas.is_empty() {
        return Ok(MovedBases::default());
    }
    let mut values: Vec<Value> = Vec::with_capacity(deltas.len() * 3);
    let rows: Vec<String> = deltas
        .iter()
        .enumerate()
        .map(|(i, ((topic_id, village), delta))| {
            values.extend([(*topic_id).into(), village.clone().into(), (*delta).into()]);
            format!("({}, {}, {})", p(3 * i + 1), p(3 * i + 2), p(3 * i + 3))
        })
        .collect();
    txn.execute(Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO topic_eligible (topic_id, village_code, count) VALUES {} \
             ON CONFLICT (topic_id, village_code) DO UPDATE SET count = topic_eligible.count + excluded.count",
            rows.join(", ")
        ),
        values,
    ))
    .await?;
    let mut topics: Vec<i64> = deltas.keys().map(|(topic_id, _)| *topic_id).collect();
    topics.dedup();
    // A village nobody is eligible in any more leaves the base, as it would
    // if the base were counted afresh.
    let placeholders: Vec<String> = (0..topics.len()).map(|i| p(i + 1)).collect();
    txn.execute(Statement::from_sql_and_values(
        backend,
        format!(
            "DELETE FROM topic_eligible WHERE count = 0 AND topic_id IN ({})",
            placeholders.join(", ")
        ),
        topics.iter().map(|&id| Value::from(id)),
    ))
    .await?;
    Ok(MovedBases(topics))
}

/// Whether a topic in `state` keeps a live base.
fn takes_live_base(state: &str) -> bool {
    State::parse(state).is_some_and(|s| matches!(s, State::Announced | State::Open))
}

/// After the commit: every instance reads the moved bases again (the tally
/// caches hold `eligible` per village), and live results are pushed — the
/// same announcement a moved counter makes, batched the same way.
pub async fn announce_moved(svc: &Services, moved: MovedBases) {
    for topic_id in moved.0 {
        svc.tallies.forget(topic_id);
        svc.events
            .publish(Event::TopicResultsChanged { topic_id })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_announced_and_open_topics_keep_a_live_base() {
        let live: Vec<&str> = [
            State::Draft,
            State::Announced,
            State::Open,
            State::Closed,
            State::Decided,
            State::Implementing,
            State::Completed,
            State::Withdrawn,
        ]
        .into_iter()
        .map(State::as_str)
        .filter(|s| takes_live_base(s))
        .collect();
        assert_eq!(live, ["announced", "open"]);
    }
}
