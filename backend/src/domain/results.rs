//! Results by division, rolled up by code prefix from the per-village
//! counters, with participation, quorum, consensus and the communities whose
//! majority dissents ("the greatest common divisor of what people want").
//!
//! Privacy: for anyone who is not an organiser or supervisor of the scope, a
//! division with fewer than k responses is folded into its parent, so one
//! dissenter in a small village cannot be singled out.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::authz::{Action, Actor};
use super::divisions::{self, Level};
pub use super::tally_cache::Freshness;
use super::tally_cache::VillageTally;
use super::themes::{self, Theme};
use super::topics::{self, Choice, Kind, Topic};
use super::Services;
use crate::entities::opinions;
use crate::error::{Error, Result};

/// Counts for one division (or a folded group of small divisions).
#[derive(Debug, Clone, PartialEq)]
pub struct DivisionResult {
    /// The division's code; for a folded row, the parent the small
    /// divisions were folded into.
    pub code: String,
    /// Responses per choice, in the topic's choice order (zeros included).
    pub counts: Vec<(Choice, i64)>,
    pub total: i64,
    pub eligible: i64,
    /// True when this row stands for divisions too small to show alone.
    pub folded: bool,
    /// How many divisions this row contains (1 unless folded).
    pub divisions: usize,
}

impl DivisionResult {
    fn new(code: String, choices: &[Choice]) -> Self {
        Self {
            code,
            counts: choices.iter().map(|c| (c.clone(), 0)).collect(),
            total: 0,
            eligible: 0,
            folded: false,
            divisions: 1,
        }
    }

    fn add(&mut self, other: &DivisionResult) {
        for ((_, n), (_, m)) in self.counts.iter_mut().zip(&other.counts) {
            *n += m;
        }
        self.total += other.total;
        self.eligible += other.eligible;
    }

    /// Overwrites this row with one village's counters; `slots` says where
    /// each of the row's choices sits in the village's counts.
    fn fill(&mut self, code: &str, tally: &VillageTally, slots: &[Option<usize>]) {
        self.code.clear();
        self.code.push_str(code);
        self.total = 0;
        for ((_, n), slot) in self.counts.iter_mut().zip(slots) {
            *n = slot.map_or(0, |i| tally.count(i));
            self.total += *n;
        }
        self.eligible = tally.eligible;
    }

    pub fn count_of(&self, choice: &Choice) -> i64 {
        self.counts
            .iter()
            .find(|(c, _)| c == choice)
            .map_or(0, |(_, n)| *n)
    }

    /// Respondents over eligible residents, when anyone is eligible.
    pub fn participation(&self) -> Option<f64> {
        (self.eligible > 0).then(|| self.total as f64 / self.eligible as f64)
    }

    pub fn share(&self, choice: &Choice) -> Option<f64> {
        (self.total > 0).then(|| self.count_of(choice) as f64 / self.total as f64)
    }
}

#[derive(Debug, Clone)]
pub struct TopicResults {
    pub topic: Topic,
    pub level: Level,
    pub choices: Vec<Choice>,
    /// The topic's options (empty unless it is a `CHOICE` topic).
    pub options: Vec<topics::TopicOption>,
    /// The whole scope.
    pub overall: DivisionResult,
    pub rows: Arc<Vec<DivisionResult>>,
    /// Minimum participation (percent) the topic asks for, if any.
    pub quorum_percent: Option<i32>,
    /// Share agreeing in the least-agreeing village with at least k responses.
    pub consensus: Option<f64>,
    /// Villages (with at least k responses) whose majority dissents.
    pub dissenting: Arc<Vec<String>>,
    /// k: the smallest cell shown on its own to the public.
    pub min_cell: u32,
    /// Whether small cells are shown as they are (organisers, supervisors).
    pub full_detail: bool,
    /// The version of the counters these results were rolled up from.
    pub counters_version: u64,
}

impl TopicResults {
    /// How a choice is shown: the option's label, or the stance's key.
    #[must_use]
    pub fn label(&self, choice: &Choice) -> String {
        match choice {
            Choice::Option(id) => self
                .options
                .iter()
                .find(|o| o.id == *id)
                .map_or_else(String::new, |o| o.label.clone()),
            other => other.key(),
        }
    }
}

/// One roll-up of a topic's counters: what every request asking the same
/// question of the same counters shares.
#[derive(Debug)]
struct RolledUp {
    overall: DivisionResult,
    rows: Arc<Vec<DivisionResult>>,
    consensus: Option<f64>,
    dissenting: Arc<Vec<String>>,
}

/// The question a roll-up answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Question {
    topic_id: i64,
    level: Level,
    within: String,
    full_detail: bool,
}

/// Roll-ups kept with the counter version they were computed from, so a
/// dashboard polled by many organisers, or a public results page, is
/// rolled up once per change of the counters rather than once per request.
#[derive(Clone, Debug, Default)]
pub struct ResultsMemo {
    entries: Arc<Mutex<HashMap<Question, Memoised>>>,
}

/// A roll-up and the counter version it was computed from.
type Memoised = (u64, Arc<RolledUp>);

/// Roll-ups kept at most; beyond it the memo starts over.
const MEMO_CAPACITY: usize = 512;

impl ResultsMemo {
    fn get(&self, question: &Question, version: u64) -> Option<Arc<RolledUp>> {
        let entries = self.entries.lock().expect("results memo poisoned");
        entries
            .get(question)
            .filter(|(at, _)| *at == version)
            .map(|(_, rolled)| rolled.clone())
    }

    fn put(&self, question: Question, version: u64, rolled: Arc<RolledUp>) {
        let mut entries = self.entries.lock().expect("results memo poisoned");
        if entries.len() >= MEMO_CAPACITY && !entries.contains_key(&question) {
            entries.clear();
        }
        entries.insert(question, (version, rolled));
    }
}

/// Results of a topic at `level`, optionally only within `within`.
///
/// # Errors
/// `NOT_FOUND` for an unknown or invisible topic; `BAD_USER_INPUT` when the
/// level is above the topic's scope or `within` lies outside it.
pub async fn results(
    svc: &Services,
    viewer: Option<&Actor>,
    topic_id: i64,
    level: Level,
    within: Option<&str>,
    freshness: Freshness,
) -> Result<TopicResults> {
    let db = svc.db.reader();
    let topic = topics::get_visible(svc, viewer, topic_id).await?;
    let scope_level = divisions::level_of(&topic.scope_code).unwrap_or(Level::Village);
    let level = level.max(scope_level);
    let within = match within {
        Some(code) => {
            let code = divisions::normalize_code(code, "within")?;
            if !divisions::contains(&topic.scope_code, &code) {
                return Err(Error::bad_input(
                    "within",
                    "a division inside the topic's scope",
                ));
            }
            code
        }
        None => topic.scope_code.clone(),
    };
    let full_detail = viewer.is_some_and(|a| {
        a.may(Action::ManageTopics, &topic.scope_code)
            || a.may(Action::ReadOpinions, &topic.scope_code)
    });
    let kind = Kind::parse(&topic.kind).unwrap_or(Kind::Decision);
    let options = if kind == Kind::Choice {
        topics::options(db, topic.id).await?
    } else {
        Vec::new()
    };
    let choices = kind.choices(&options);

    let k = i64::from(svc.settings.privacy_min_cell);
    let question = Question {
        topic_id: topic.id,
        level,
        within: within.clone(),
        full_detail,
    };
    // Straight from the counters held in memory (`tally_cache`): the
    // villages inside `within` are one range of the code-ordered table, so
    // each roll-up row gathers consecutive villages and nothing is sorted.
    let (version, rolled) = svc
        .tallies
        .with_villages(db, topic.id, freshness, |table| {
            if let Some(rolled) = svc.results_memo.get(&question, table.version) {
                return (table.version, rolled);
            }
            // Where each of the topic's choices sits in the table's keys.
            let slots: Vec<Option<usize>> = choices
                .iter()
                .map(|c| {
                    let key = c.key();
                    table.keys.iter().position(|k| *k == key)
                })
                .collect();
            let in_scope = || {
                table
                    .villages
                    .range::<str, _>((
                        std::ops::Bound::Included(within.as_str()),
                        std::ops::Bound::Unbounded,
                    ))
                    .take_while(|(code, _)| code.starts_with(within.as_str()))
            };
            let mut village = DivisionResult::new(String::new(), &choices);
            let mut overall = DivisionResult::new(within.clone(), &choices);
            for (code, tally) in in_scope() {
                village.fill(code, tally, &slots);
                overall.add(&village);
            }
            let mut rollup = RollUp::new(level, &choices);
            let mut agreement = Agreement::new(kind, &choices, &overall, k);
            for (code, tally) in in_scope() {
                village.fill(code, tally, &slots);
                rollup.add(&village);
                if let Some(a) = agreement.as_mut() {
                    a.add(&village);
                }
            }
            let (consensus, dissenting) = agreement.map_or((None, Vec::new()), Agreement::finish);
            let rows = if full_detail {
                rollup.rows
            } else {
                fold_small(
                    rollup.rows,
                    level,
                    divisions::level_of(&within).unwrap_or(scope_level),
                    k,
                    &choices,
                )
            };
            let rolled = Arc::new(RolledUp {
                overall,
                rows: Arc::new(rows),
                consensus,
                dissenting: Arc::new(dissenting),
            });
            svc.results_memo
                .put(question, table.version, rolled.clone());
            (table.version, rolled)
        })
        .await?;
    Ok(TopicResults {
        quorum_percent: topic.quorum_percent,
        topic,
        level,
        choices,
        options,
        overall: rolled.overall.clone(),
        rows: rolled.rows.clone(),
        consensus: rolled.consensus,
        dissenting: rolled.dissenting.clone(),
        min_cell: svc.settings.privacy_min_cell,
        full_detail,
        counters_version: version,
    })
}

/// Sums villages, given in code order, into the rows of one level: the
/// villages of a division are consecutive, so each row is built once.
struct RollUp {
    len: usize,
    choices: Vec<Choice>,
    rows: Vec<DivisionResult>,
}

impl RollUp {
    fn new(level: Level, choices: &[Choice]) -> Self {
        Self {
            len: level.code_len(),
            choices: choices.to_vec(),
            rows: Vec::new(),
        }
    }

    fn add(&mut self, village: &DivisionResult) {
        let key = &village.code[..self.len.min(village.code.len())];
        match self.rows.last_mut() {
            Some(row) if row.code == key => row.add(village),
            _ => {
                let mut row = DivisionResult::new(key.to_owned(), &self.choices);
                row.add(village);
                self.rows.push(row);
            }
        }
    }
}

#[cfg(test)]
fn roll_up(
    villages: &BTreeMap<String, DivisionResult>,
    level: Level,
    choices: &[Choice],
) -> Vec<DivisionResult> {
    let mut rollup = RollUp::new(level, choices);
    for village in villages.values() {
        rollup.add(village);
    }
    rollup.rows
}

/// Folds rows with fewer than `k` responses into their parent, level by
/// level, never above `top`.
fn fold_small(
    rows: Vec<DivisionResult>,
    level: Level,
    top: Level,
    k: i64,
    choices: &[Choice],
) -> Vec<DivisionResult> {
    let mut shown = Vec::new();
    let mut pending: Vec<DivisionResult> = Vec::new();
    for row in rows {
        if row.total >= k || level <= top {
            shown.push(row);
        } else {
            pending.push(row);
        }
    }
    let mut current = level;
    while !pending.is_empty() {
        let Some(parent_level) = Level::ALL.iter().rev().copied().find(|l| *l < current) else {
            break;
        };
        let len = parent_level.code_len();
        let mut groups: BTreeMap<String, DivisionResult> = BTreeMap::new();
        for row in pending.drain(..) {
            let key = row.code[..len].to_owned();
            let group = groups.entry(key.clone()).or_insert_with(|| {
                let mut g = DivisionResult::new(key, choices);
                g.folded = true;
                g.divisions = 0;
                g
            });
            group.add(&row);
            group.divisions += row.divisions;
        }
        for (_, group) in groups {
            if group.total >= k || parent_level <= top {
                shown.push(group);
            } else {
                pending.push(group);
            }
        }
        current = parent_level;
    }
    shown.sort_by(|a, b| (a.code.as_str(), a.folded).cmp(&(b.code.as_str(), b.folded)));
    shown
}

/// The consensus figure and the villages whose majority dissents, counting
/// only villages with at least `k` responses, gathered village by village.
struct Agreement {
    kind: Kind,
    /// Indexes (in the rows' choice order) of the choices that agree.
    agreeing: Vec<usize>,
    k: i64,
    consensus: Option<f64>,
    dissenting: Vec<String>,
}

impl Agreement {
    /// `None` when the topic has nothing to agree on (open topics, or a
    /// choice topic nobody answered yet).
    fn new(kind: Kind, choices: &[Choice], overall: &DivisionResult, k: i64) -> Option<Self> {
        let agreeing: Vec<usize> = match kind {
            Kind::Open => return None,
            Kind::Choice => {
                // Agreement on a choice is agreement with the overall favourite.
                let leader = (0..choices.len())
                    .max_by_key(|i| overall.counts[*i].1)
                    .filter(|_| overall.total > 0)?;
                vec![leader]
            }
            _ => (0..choices.len())
                .filter(|i| kind.agreeing(&choices[*i]))
                .collect(),
        };
        Some(Self {
            kind,
            agreeing,
            k,
            consensus: None,
            dissenting: Vec::new(),
        })
    }

    fn add(&mut self, row: &DivisionResult) {
        if row.total < self.k || row.total == 0 {
            return;
        }
        let agree: i64 = self.agreeing.iter().map(|i| row.counts[*i].1).sum();
        let dissent = match self.kind {
            Kind::Decision => row.count_of(&Choice::Oppose),
            Kind::Appraisal => row.count_of(&Choice::Unsatisfied),
            _ => row.total - agree,
        };
        let share = agree as f64 / row.total as f64;
        self.consensus = Some(self.consensus.map_or(share, |c| c.min(share)));
        if dissent * 2 > row.total {
            self.dissenting.push(row.code.clone());
        }
    }

    fn finish(self) -> (Option<f64>, Vec<String>) {
        (self.consensus, self.dissenting)
    }
}

#[cfg(test)]
fn agreement<'a>(
    kind: Kind,
    choices: &[Choice],
    overall: &DivisionResult,
    villages: impl Iterator<Item = &'a DivisionResult>,
    k: i64,
) -> (Option<f64>, Vec<String>) {
    let Some(mut agreement) = Agreement::new(kind, choices, overall, k) else {
        return (None, Vec::new());
    };
    for village in villages {
        agreement.add(village);
    }
    agreement.finish()
}

/// The choices that count as dissent on `topic` before an outcome exists.
fn dissent_keys(kind: Kind, results: Option<&TopicResults>) -> Vec<String> {
    match kind {
        Kind::Decision => vec![Choice::Oppose.key()],
        Kind::Appraisal => vec![Choice::Unsatisfied.key()],
        Kind::Open => vec![Choice::Suggestion.key()],
        Kind::Choice => results
            .and_then(|r| {
                let leader = r.choices.iter().max_by_key(|c| r.overall.count_of(c))?;
                Some(
                    r.choices
                        .iter()
                        .filter(|c| *c != leader)
                        .map(Choice::key)
                        .collect(),
                )
            })
            .unwrap_or_default(),
    }
}

/// Keywords in the reasons of dissenting opinions, for the organisers and
/// supervisors of the topic, optionally within one division.
///
/// # Errors
/// `FORBIDDEN` for anyone else.
pub async fn dissent_themes(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    within: Option<&str>,
    top: usize,
) -> Result<Vec<Theme>> {
    let db = svc.db.reader();
    let topic = topics::get(db, topic_id).await?;
    actor.require(Action::ReadOpinions, &topic.scope_code)?;
    let kind = Kind::parse(&topic.kind).unwrap_or(Kind::Decision);
    let results = if kind == Kind::Choice {
        Some(
            results(
                svc,
                Some(actor),
                topic_id,
                Level::Village,
                None,
                Freshness::WithinLag,
            )
            .await?,
        )
    } else {
        None
    };
    let within = within
        .map(|code| divisions::normalize_code(code, "divisionCode"))
        .transpose()?;
    let top = top.clamp(1, themes::MEMO_TOP);
    // Read before the reasons: a write in between leaves the themes kept
    // under the older version, to be computed again.
    let version = match &results {
        Some(r) => r.counters_version,
        None => {
            svc.tallies
                .with_villages(db, topic_id, Freshness::WithinLag, |t| t.version)
                .await?
        }
    };
    if let Some(kept) = svc.themes_memo.get(topic_id, within.as_deref(), version) {
        return Ok(kept.iter().take(top).cloned().collect());
    }
    let keys = dissent_keys(kind, results.as_ref());
    let mut query = opinions::Entity::find()
        .select_only()
        .columns([opinions::Column::Id, opinions::Column::Reason])
        .filter(opinions::Column::TopicId.eq(topic_id))
        .filter(opinions::Column::Choice.is_in(keys))
        .filter(opinions::Column::Reason.is_not_null());
    if let Some(code) = &within {
        query = query.filter(opinions::Column::VillageCode.starts_with(code));
    }
    let reasons: Vec<(i64, Option<String>)> = query.into_tuple().all(db).await?;
    let found = Arc::new(themes::dissent_themes(
        reasons
            .iter()
            .filter_map(|(id, r)| r.as_deref().map(|r| (*id, r))),
        themes::MEMO_TOP,
    ));
    svc.themes_memo
        .put(topic_id, within.as_deref(), version, found.clone());
    Ok(found.iter().take(top).cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(code: &str, support: i64, oppose: i64) -> DivisionResult {
        let choices = [Choice::Support, Choice::Oppose, Choice::Abstain];
        let mut r = DivisionResult::new(code.into(), &choices);
        r.counts[0].1 = support;
        r.counts[1].1 = oppose;
        r.total = support + oppose;
        r
    }

    fn choices() -> Vec<Choice> {
        vec![Choice::Support, Choice::Oppose, Choice::Abstain]
    }

    #[test]
    fn a_roll_up_is_shared_only_while_the_counters_are_unchanged() {
        let memo = ResultsMemo::default();
        let question = Question {
            topic_id: 1,
            level: Level::Township,
            within: "62".into(),
            full_detail: true,
        };
        let rolled = Arc::new(RolledUp {
            overall: row("62", 3, 1),
            rows: Arc::new(vec![row("620123101", 3, 1)]),
            consensus: None,
            dissenting: Arc::new(Vec::new()),
        });
        memo.put(question.clone(), 7, rolled.clone());
        assert!(memo
            .get(&question, 7)
            .is_some_and(|hit| Arc::ptr_eq(&hit, &rolled)));
        assert!(memo.get(&question, 8).is_none(), "the counters moved");
        let public = Question {
            full_detail: false,
            ..question.clone()
        };
        assert!(
            memo.get(&public, 7).is_none(),
            "the public view is folded: another question"
        );
    }

    #[test]
    fn small_villages_fold_into_their_township() {
        let rows = vec![
            row("620123101201", 10, 2),
            row("620123101202", 1, 1),
            row("620123101203", 2, 1),
        ];
        let shown = fold_small(rows, Level::Village, Level::Township, 5, &choices());
        assert_eq!(shown.len(), 2);
        assert_eq!(shown[0].code, "620123101");
        assert!(shown[0].folded);
        assert_eq!((shown[0].total, shown[0].divisions), (5, 2));
        assert_eq!(shown[1].code, "620123101201");
    }

    #[test]
    fn a_folded_group_still_too_small_folds_further_up_but_not_past_the_scope() {
        let rows = vec![row("620123101201", 1, 0), row("620123100001", 1, 1)];
        let shown = fold_small(rows, Level::Village, Level::County, 5, &choices());
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].code, "620123");
        assert_eq!(shown[0].total, 3, "shown at the scope even when small");
    }

    #[test]
    fn consensus_is_the_least_agreeing_village_with_enough_responses() {
        let overall = row("620123", 22, 8);
        let villages = [
            row("620123101201", 9, 1),
            row("620123101202", 2, 6),
            row("620123101203", 1, 1),
        ];
        let (consensus, dissenting) =
            agreement(Kind::Decision, &choices(), &overall, villages.iter(), 5);
        assert_eq!(consensus, Some(0.25));
        assert_eq!(dissenting, ["620123101202"]);
    }

    #[test]
    fn roll_up_sums_villages_by_prefix() {
        let mut villages = BTreeMap::new();
        for r in [
            row("620123101201", 3, 1),
            row("620123101202", 2, 2),
            row("620123100001", 1, 0),
        ] {
            villages.insert(r.code.clone(), r);
        }
        let towns = roll_up(&villages, Level::Township, &choices());
        assert_eq!(towns.len(), 2);
        assert_eq!(
            (
                towns[1].code.as_str(),
                towns[1].count_of(&Choice::Support),
                towns[1].total
            ),
            ("620123101", 5, 8)
        );
    }

    proptest::proptest! {
        /// Rolling village counters up to any level gives what a recount of
        /// the individual opinions by prefix gives, and folding for privacy
        /// never loses or invents a response.
        #[test]
        fn roll_up_and_folding_equal_a_recount(
            opinions in proptest::collection::vec((0usize..6, 0usize..3), 0..300),
            k in 1i64..8,
        ) {
            let villages = ["620123101201", "620123101202", "620123100001", "620123100002", "620102001001", "620102001002"];
            let choices = choices();
            let mut counters: BTreeMap<String, DivisionResult> = BTreeMap::new();
            for (v, c) in &opinions {
                let row = counters.entry(villages[*v].to_owned()).or_insert_with(|| DivisionResult::new(villages[*v].to_owned(), &choices));
                row.counts[*c].1 += 1;
                row.total += 1;
            }
            for level in [Level::Village, Level::Township, Level::County, Level::City] {
                let rows = roll_up(&counters, level, &choices);
                for row in &rows {
                    for (i, choice) in choices.iter().enumerate() {
                        let recount = opinions.iter().filter(|(v, c)| villages[*v].starts_with(&row.code) && *c == i).count() as i64;
                        proptest::prop_assert_eq!(row.count_of(choice), recount);
                    }
                }
                let folded = fold_small(rows, level, Level::City, k, &choices);
                let total: i64 = folded.iter().map(|r| r.total).sum();
                proptest::prop_assert_eq!(total, opinions.len() as i64);
                proptest::prop_assert!(folded.iter().all(|r| r.total >= k || r.code.len() <= Level::City.code_len()));
            }
        }
    }
}
