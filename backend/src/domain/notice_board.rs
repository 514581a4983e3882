//! The public notice board (公开栏) of a division: what is announced and
//! open with its dates, the outcomes being implemented with their deadlines,
//! everything overdue (decisions, implementations, explanations) and the
//! on-time rate, with a row per division directly below for a township,
//! county or anything larger. Anyone may read it, without an account.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::divisions::{self, Division, Level};
use super::topics::{self, State, Topic};
use super::{entrusted, explanations, outcomes, suggestions, Services};
use crate::entities::{outcomes as outcomes_table, topics as topics_table};
use crate::error::Result;

/// At most this many topics are read for one board: a county's few years of
/// topics; beyond it the board says it shows the newest.
pub const MAX_TOPICS: u64 = 5_000;

/// A division's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub announced: u64,
    pub open: u64,
    pub implementing: u64,
    pub decisions_overdue: u64,
    pub implementations_overdue: u64,
    pub explanations_overdue: u64,
    /// Residents' suggestions past their answer's due time.
    pub suggestions_overdue: u64,
    /// Entrusted matters not reported to government in time.
    pub reports_overdue: u64,
    pub completed: u64,
    pub completed_on_time: u64,
}

impl Tally {
    /// Completed by the original deadline over all completed.
    pub fn on_time_rate(&self) -> Option<f64> {
        (self.completed > 0).then(|| self.completed_on_time as f64 / self.completed as f64)
    }

    pub fn overdue(&self) -> u64 {
        self.decisions_overdue
            + self.implementations_overdue
            + self.explanations_overdue
            + self.suggestions_overdue
            + self.reports_overdue
    }
}

/// Why a topic is on the board's overdue list (in the board's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Overdue {
    /// Closed, and its outcome is past due.
    Decision,
    /// Decided or implementing past its deadline.
    Implementation,
    /// Dissenters still unanswered past the explanation's due time.
    Explanation,
    /// An entrusted matter not reported to government in time.
    Report,
}

#[derive(Debug, Clone)]
pub struct Board {
    pub division: Division,
    pub tally: Tally,
    /// Announced, opening soonest first.
    pub announced: Vec<Topic>,
    /// Open, closing soonest first.
    pub open: Vec<Topic>,
    /// Decided or implementing, deadline soonest first.
    pub implementing: Vec<Topic>,
    pub overdue: Vec<(Overdue, Topic)>,
    /// Suggestions past their answer's due time (the newest, all counted).
    pub overdue_suggestions: Vec<super::suggestions::Suggestion>,
    /// One row per division directly below (none for a village).
    pub rows: Vec<(Division, Tally)>,
    /// Whether more topics exist than [`MAX_TOPICS`] (the figures cover the
    /// newest).
    pub truncated: bool,
}

/// When the explanations to a topic's dissenters are due: the same time
/// after the outcome as the outcome after closing (`YISHI_DECISION_DUE_DAYS`).
pub fn explanations_due_at(outcome_published: DateTime<Utc>, due_after: Duration) -> DateTime<Utc> {
    outcome_published + due_after
}

/// The notice board of division `code`: topics scoped to it, inside it, or
/// above it (those its residents take part in).
///
/// # Errors
/// `BAD_USER_INPUT` for a malformed code; `NOT_FOUND` for an unknown one.
pub async fn board(svc: &Services, code: &str) -> Result<Board> {
    let db = svc.db.reader();
    let code = divisions::normalize_code(code, "divisionCode")?;
    let division = divisions::get(db, &code).await?;
    let now = svc.now();
    let due_after = svc.settings.decision_due;

    let mut scopes = divisions::ancestor_codes(&code);
    scopes.push(code.clone());
    let mut found: Vec<Topic> = topics_table::Entity::find()
        .filter(
            Condition::any()
                .add(topics_table::Column::ScopeCode.is_in(scopes))
                .add(divisions::within(topics_table::Column::ScopeCode, &code)),
        )
        .filter(topics_table::Column::State.ne(State::Draft.as_str()))
        .order_by_desc(topics_table::Column::Id)
        .limit(MAX_TOPICS + 1)
        .all(db)
        .await?;
    let truncated = found.len() as u64 > MAX_TOPICS;
    found.truncate(usize::try_from(MAX_TOPICS).unwrap_or(usize::MAX));
    found.retain(topics::is_public);

    let published = first_publication(db, &found).await?;
    let mut overdue = Vec::new();
    for topic in &found {
        if outcomes::is_decision_overdue(topic, due_after, now) {
            overdue.push((Overdue::Decision, topic.clone()));
        } else if outcomes::is_overdue(topic, now) {
            overdue.push((Overdue::Implementation, topic.clone()));
        }
        let explanation_late = published
            .get(&topic.id)
            .is_some_and(|at| explanations_due_at(*at, due_after) < now)
            && matches!(
                State::parse(&topic.state),
                Some(State::Decided | State::Implementing)
            );
        if explanation_late && explanations::unexplained_dissenters(db, topic).await? > 0 {
            overdue.push((Overdue::Explanation, topic.clone()));
        }
    }

    for late in entrusted::overdue_in(db, &code, svc.settings.report_due, now).await? {
        overdue.push((Overdue::Report, late.topic));
    }
    let suggestions_overdue = suggestions::overdue_in(db, &code, now).await?;

    let tally_of = |inside: &dyn Fn(&Topic) -> bool| {
        let mut t = Tally::default();
        for topic in found.iter().filter(|t| inside(t)) {
            match State::parse(&topic.state) {
                Some(State::Announced) => t.announced += 1,
                Some(State::Open) => t.open += 1,
                Some(State::Decided | State::Implementing) => t.implementing += 1,
                Some(State::Completed) => {
                    t.completed += 1;
                    if outcomes::completed_on_time(topic) == Some(true) {
                        t.completed_on_time += 1;
                    }
                }
                _ => {}
            }
        }
        for (kind, _) in overdue.iter().filter(|(_, t)| inside(t)) {
            match kind {
                Overdue::Decision => t.decisions_overdue += 1,
                Overdue::Implementation => t.implementations_overdue += 1,
                Overdue::Explanation => t.explanations_overdue += 1,
                Overdue::Report => t.reports_overdue += 1,
            }
        }
        t
    };
    let mut tally = tally_of(&|_| true);
    tally.suggestions_overdue = suggestions_overdue.count;

    let mut rows = Vec::new();
    if divisions::level_of(&code) != Some(Level::Village) {
        let children = divisions::list(
            db,
            &divisions::DivisionFilter {
                parent_code: Some(code.clone()),
                ..Default::default()
            },
            divisions::MAX_PAGE,
            None,
        )
        .await?;
        for child in children {
            let child_tally =
                tally_of(&|t: &Topic| divisions::contains(&child.code, &t.scope_code));
            rows.push((child, child_tally));
        }
    }

    let pick = |state: State| -> Vec<Topic> {
        found
            .iter()
            .filter(|t| t.state == state.as_str())
            .cloned()
            .collect()
    };
    let mut announced = pick(State::Announced);
    announced.sort_by_key(|t| t.opens_at);
    let mut open = pick(State::Open);
    open.sort_by_key(|t| t.closes_at);
    let mut implementing: Vec<Topic> = found
        .iter()
        .filter(|t| {
            matches!(
                State::parse(&t.state),
                Some(State::Decided | State::Implementing)
            )
        })
        .cloned()
        .collect();
    implementing.sort_by_key(|t| t.deadline);
    overdue.sort_by_key(|(kind, t)| (*kind, t.id));
    Ok(Board {
        division,
        tally,
        announced,
        open,
        implementing,
        overdue,
        overdue_suggestions: suggestions_overdue.items,
        rows,
        truncated,
    })
}

/// When each topic's first outcome was published.
async fn first_publication(
    db: &impl ConnectionTrait,
    found: &[Topic],
) -> Result<BTreeMap<i64, DateTime<Utc>>> {
    let ids: Vec<i64> = found
        .iter()
        .filter(|t| {
            matches!(
                State::parse(&t.state),
                Some(State::Decided | State::Implementing)
            )
        })
        .map(|t| t.id)
        .collect();
    let mut at = BTreeMap::new();
    for chunk in ids.chunks(1_000) {
        let rows: Vec<(i64, DateTime<Utc>)> = outcomes_table::Entity::find()
            .select_only()
            .column(outcomes_table::Column::TopicId)
            .column(outcomes_table::Column::PublishedAt)
            .filter(outcomes_table::Column::TopicId.is_in(chunk.iter().copied()))
            .filter(outcomes_table::Column::Version.eq(1))
            .into_tuple()
            .all(db)
            .await?;
        at.extend(rows);
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_on_time_rate_counts_completed_topics_only() {
        let t = Tally {
            completed: 4,
            completed_on_time: 3,
            open: 7,
            ..Tally::default()
        };
        assert_eq!(t.on_time_rate(), Some(0.75));
        assert_eq!(Tally::default().on_time_rate(), None);
    }
}
