//! The organiser's dashboard: for a division and each of its child
//! divisions, topics by state, participation, outcomes on time or overdue,
//! and explanation coverage and satisfaction — rolled up by code prefix from
//! counters, never by scanning opinions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::authz::{Action, Actor};
use super::divisions::{self, Level};
use super::explanations::dissenting_choices;
use super::outcomes;
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
}

impl Kpis {
    fn new(code: &str) -> Self {
        Self {
            division_code: code.to_owned(),
            ..Self::default()
        }
    }

    pub fn participation(&self) -> Option<f64> {
        (self.eligible > 0).then(|| self.responses as f64 / self.eligible as f64)
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
    let topic_ids: Vec<i64> = {
        let mut ids: Vec<i64> = counters.iter().map(|c| c.0).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let dissent = dissent_sets(db, &topic_ids).await?;
    for (topic_id, village, choice, count) in &counters {
        let is_dissent = dissent
            .get(topic_id)
            .is_some_and(|set| set.contains(choice));
        for kpi in
            std::iter::once(&mut total).chain(child_of(village).and_then(|c| rows.get_mut(&c)))
        {
            kpi.responses += count;
            if is_dissent {
                kpi.dissenters += count;
            }
        }
    }
    let eligible: Vec<(String, i64)> = topic_eligible::Entity::find()
        .select_only()
        .columns([
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
    for (village, count) in &eligible {
        for kpi in
            std::iter::once(&mut total).chain(child_of(village).and_then(|c| rows.get_mut(&c)))
        {
            kpi.eligible += count;
        }
    }

    // Explanations: each (topic, person) counted once, by their latest reply.
    let receipts = explanation_recipients::Entity::find()
        .filter(divisions::within(
            explanation_recipients::Column::VillageCode,
            &code,
        ))
        .all(db)
        .await?;
    let people = super::explanations::per_person(receipts);
    for person in people.values() {
        let child = child_of(&person.village_code);
        for kpi in std::iter::once(&mut total).chain(child.and_then(|c| rows.get_mut(&c))) {
            kpi.explained += 1;
            match person.satisfied() {
                Some(true) => kpi.satisfied += 1,
                Some(false) => kpi.unsatisfied += 1,
                None => {}
            }
        }
    }
    Ok((total, rows.into_values().collect()))
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

/// The dissenting choices of each decided topic among `ids`.
async fn dissent_sets(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<BTreeMap<i64, Vec<String>>> {
    let mut sets = BTreeMap::new();
    for &id in ids {
        let Some(outcome) = outcomes::current(db, id).await? else {
            continue;
        };
        let topic = topics::get(db, id).await?;
        let kind = Kind::parse(&topic.kind).unwrap_or(Kind::Decision);
        let options = topics::options(db, id).await?;
        sets.insert(id, dissenting_choices(kind, &options, &outcome));
    }
    Ok(sets)
}
