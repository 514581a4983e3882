//! The organiser's dashboard: for a division and each of its child
//! divisions, topics by state, participation, outcomes on time or overdue,
//! and explanation coverage and satisfaction — rolled up by code prefix from
//! counters, never by scanning opinions.
//!
//! Privacy: a topic scoped above the division (a township topic on a
//! village organiser's dashboard) counts in full only for those who may read
//! its opinions; for anyone else it counts as the public sees it
//! ([`super::disclosure`]): a row where the topic's cell is suppressed
//! leaves the topic out and says so (`withheld`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::authz::{Action, Actor};
use super::disclosure;
use super::divisions::{self, Level};
use super::explanations::dissenting_choices;
use super::outcomes;
use super::results::{self, PublishedCell};
use super::topics::{self, Kind, State};
use super::Services;
use crate::entities::{
    divisions as divisions_table, explanation_recipients, tallies, topic_eligible,
    topics as topics_table,
};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Kpis {
    pub division_code: String,
    pub topics_by_state: BTreeMap<&'static str, i64>,
    pub responses: i64,
    pub eligible: i64,
    pub completed_on_time: i64,
    pub completed_late: i64,
    pub overdue: i64,
    pub dissenters: i64,
    pub explained: i64,
    pub satisfied: i64,
    pub unsatisfied: i64,
    /// Some topic's figures are left out of this row: its cell here is too
    /// small to show to this viewer.
    pub withheld: bool,
}

impl Kpis {
    fn new(code: &str) -> Self {
        Self {
            division_code: code.to_owned(),
            ..Self::default()
        }
    }

    /// See [`results::participation`].
    pub fn participation(&self) -> Option<f64> {
        results::participation(self.responses, self.eligible)
    }

    /// Completed on time over all completed.
    pub fn on_time_rate(&self) -> Option<f64> {
        let done = self.completed_on_time + self.completed_late;
        (done > 0).then(|| self.completed_on_time as f64 / done as f64)
    }

    pub fn explanation_coverage(&self) -> Option<f64> {
        (self.dissenters > 0).then(|| (self.explained as f64 / self.dissenters as f64).min(1.0))
    }

    pub fn satisfaction(&self) -> Option<f64> {
        let replies = self.satisfied + self.unsatisfied;
        (replies > 0).then(|| self.satisfied as f64 / replies as f64)
    }
}

/// KPIs of `code` and of each child division.
///
/// # Errors
/// `FORBIDDEN` for anyone who neither manages nor supervises the division.
pub async fn dashboard(svc: &Services, actor: &Actor, code: &str) -> Result<(Kpis, Vec<Kpis>)> {
    let code = divisions::normalize_code(code, "divisionCode")?;
    if !actor.may(Action::ManageTopics, &code) && !actor.may(Action::ReadOpinions, &code) {
        return Err(Error::forbidden(format!(
            "you may not read the dashboard of division {code}"
        )));
    }
    let db = svc.db.reader();
    divisions::get(db, &code).await?;
    let child_len = match divisions::level_of(&code) {
        Some(Level::Village) | None => None,
        Some(level) => Level::ALL
            .iter()
            .find(|l| **l > level)
            .map(|l| l.code_len()),
    };
    let children: Vec<String> = divisions_table::Entity::find()
        .select_only()
        .column(divisions_table::Column::Code)
        .filter(divisions_table::Column::ParentCode.eq(&code))
        .into_tuple()
        .all(db)
        .await?;
    let mut total = Kpis::new(&code);
    let mut rows: BTreeMap<String, Kpis> =
        children.iter().map(|c| (c.clone(), Kpis::new(c))).collect();
    // The row of the child a code falls in, if it falls below the division.
    let child_of = |c: &str| {
        child_len
            .filter(|&n| c.len() >= n)
            .map(|n| c[..n].to_owned())
    };

    let topic_rows = topics_table::Entity::find()
        .filter(divisions::within(topics_table::Column::ScopeCode, &code))
        .all(db)
        .await?;
    let now = svc.now();
    for topic in &topic_rows {
        let child = child_of(&topic.scope_code);
        add_topic(&mut total, topic, now);
        if let Some(row) = child.and_then(|c| rows.get_mut(&c)) {
            add_topic(row, topic, now);
        }
    }

    // Participation and dissent from the counters, by village prefix; topics
    // scoped above the division count for the part of them inside it.
    let counters: Vec<(i64, String, String, i64)> = tallies::Entity::find()
        .select_only()
        .columns([
            tallies::Column::TopicId,
            tallies::Column::VillageCode,
            tallies::Column::Choice,
            tallies::Column::Count,
        ])
        .filter(divisions::within(tallies::Column::VillageCode, &code))
        .into_tuple()
        .all(db)
        .await?;
    let eligible: Vec<(i64, String, i64)> = topic_eligible::Entity::find()
        .select_only()
        .columns([
            topic_eligible::Column::TopicId,
            topic_eligible::Column::VillageCode,
            topic_eligible::Column::Count,
        ])
        .filter(divisions::within(
            topic_eligible::Column::VillageCode,
            &code,
        ))
        .into_tuple()
        .all(db)
        .await?;
    let receipts = explanation_recipients::Entity::find()
        .filter(divisions::within(
            explanation_recipients::Column::VillageCode,
            &code,
        ))
        .all(db)
        .await?;
    let people = super::explanations::per_person(receipts);

    let topic_ids: BTreeSet<i64> = counters
        .iter()
        .map(|c| c.0)
        .chain(eligible.iter().map(|e| e.0))
        .chain(people.keys().map(|(topic, _)| *topic))
        .collect();
    let touching: BTreeMap<i64, topics::Topic> = topics_table::Entity::find()
        .filter(topics_table::Column::Id.is_in(topic_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let dissent = dissent_sets(db, &touching).await?;
    // The rows in order: the division, then its children.
    let row_codes: Vec<String> = std::iter::once(code.clone())
        .chain(rows.keys().cloned())
        .collect();
    // For each topic whose opinions the actor may not read, what the public
    // may read of each row.
    let mut published: HashMap<i64, Vec<Option<PublishedCell>>> = HashMap::new();
    for topic in touching.values() {
        if !disclosure::reads_opinions(actor, topic) {
            published.insert(
                topic.id,
                results::published_cells(svc, topic, &row_codes).await?,
            );
        }
    }
    // The row index (into `row_codes`) of a village's child row, if any.
    let index: HashMap<&str, usize> = row_codes
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let child_index =
        |village: &str| child_of(village).and_then(|c| index.get(c.as_str()).copied());
    let mut kpis: Vec<Kpis> = std::iter::once(total).chain(rows.into_values()).collect();
    // Rows (division, child) where a topic has counters.
    let mut present: BTreeSet<(i64, usize)> = BTreeSet::new();
    for (topic_id, village, choice, count) in &counters {
        let at = std::iter::once(0).chain(child_index(village));
        if published.contains_key(topic_id) {
            present.extend(at.map(|r| (*topic_id, r)));
            continue;
        }
        let is_dissent = dissent
            .get(topic_id)
            .is_some_and(|set| set.contains(choice));
        for r in at {
            kpis[r].responses += count;
            if is_dissent {
                kpis[r].dissenters += count;
            }
        }
    }
    for (topic_id, village, count) in &eligible {
        if !published.contains_key(topic_id) {
            for r in std::iter::once(0).chain(child_index(village)) {
                kpis[r].eligible += count;
            }
        }
    }
    for (topic_id, cells) in &published {
        let dissent_keys = dissent.get(topic_id);
        for (r, cell) in cells.iter().enumerate() {
            match cell {
                Some(cell) => {
                    kpis[r].responses += cell.total;
                    kpis[r].eligible += cell.eligible;
                    kpis[r].dissenters += cell
                        .counts
                        .iter()
                        .filter(|(key, _)| dissent_keys.is_some_and(|set| set.contains(key)))
                        .map(|(_, n)| n)
                        .sum::<i64>();
                }
                None if present.contains(&(*topic_id, r)) => kpis[r].withheld = true,
                None => {}
            }
        }
    }

    // Explanations: each (topic, person) counted once, by their latest reply;
    // for a topic the actor may not read, only in rows it may see.
    for ((topic_id, _), person) in &people {
        let cells = published.get(topic_id);
        let visible = |r: usize| cells.is_none_or(|cells| cells[r].is_some());
        for r in std::iter::once(0).chain(child_index(&person.village_code)) {
            if !visible(r) {
                kpis[r].withheld = true;
                continue;
            }
            kpis[r].explained += 1;
            match person.satisfied() {
                Some(true) => kpis[r].satisfied += 1,
                Some(false) => kpis[r].unsatisfied += 1,
                None => {}
            }
        }
    }
    let mut kpis = kpis.into_iter();
    let total = kpis.next().expect("the division's own row");
    Ok((total, kpis.collect()))
}

fn add_topic(kpi: &mut Kpis, topic: &topics::Topic, now: DateTime<Utc>) {
    let state = State::parse(&topic.state).unwrap_or(State::Draft);
    *kpi.topics_by_state.entry(state.as_str()).or_default() += 1;
    match outcomes::completed_on_time(topic) {
        Some(true) => kpi.completed_on_time += 1,
        Some(false) => kpi.completed_late += 1,
        None => {}
    }
    if outcomes::is_overdue(topic, now) {
        kpi.overdue += 1;
    }
}

/// The dissenting choices of each decided topic among `topics`.
async fn dissent_sets(
    db: &impl ConnectionTrait,
    topics: &BTreeMap<i64, topics::Topic>,
) -> Result<BTreeMap<i64, Vec<String>>> {
    let mut sets = BTreeMap::new();
    for (&id, topic) in topics {
        let Some(outcome) = outcomes::current(db, id).await? else {
            continue;
        };
        let kind = Kind::parse(&topic.kind).unwrap_or(Kind::Decision);
        let options = topics::options(db, id).await?;
        sets.insert(id, dissenting_choices(kind, &options, &outcome));
    }
    Ok(sets)
}
