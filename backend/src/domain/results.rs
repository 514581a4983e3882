//! Results by division, rolled up by code prefix from the per-village
//! counters, with participation, quorum, consensus and the communities whose
//! majority dissents ("the greatest common divisor of what people want").
//!
//! Privacy: for anyone who may not read the topic's opinions, every answer
//! is a projection of the topic's one disclosure pattern
//! ([`super::disclosure`]), so one dissenter in a small village cannot be
//! singled out by any level, `within`, or difference of answers.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::authz::{Action, Actor};
use super::disclosure::{self, Pattern};
use super::divisions::{self, Level};
pub use super::tally_cache::Freshness;
use super::tally_cache::{TopicTally, VillageTally};
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
    /// True when the row's responses may not be shown at all (a scope, or a
    /// `within`, with fewer than k responses, or hidden to keep another cell
    /// from being derived); its counts are then zeros and mean nothing.
    pub withheld: bool,
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
            withheld: false,
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

    /// See [`participation`].
    pub fn participation(&self) -> Option<f64> {
        participation(self.total, self.eligible)
    }

    /// Whether participation reached `quorum_percent` (none without a
    /// quorum, or when the row is withheld).
    pub fn quorum_met(&self, quorum_percent: Option<i32>) -> Option<bool> {
        quorum_percent.filter(|_| !self.withheld).map(|q| {
            self.participation()
                .is_some_and(|p| p * 100.0 >= f64::from(q))
        })
    }

    pub fn share(&self, choice: &Choice) -> Option<f64> {
        (self.total > 0).then(|| self.count_of(choice) as f64 / self.total as f64)
    }
}

/// The share of a division's eligible residents who took part, when anyone
/// is eligible: `responses / eligible`, at most 1. The one rule for every
/// participation Yishi shows (results, quorum, reports, dashboards).
///
/// Both figures are shown as they are, and responses can honestly exceed
/// the base: an opinion stays counted in the village where it was given
/// when its author moves away (the base follows residencies while a topic
/// is open, see `topics::eligible`), and opinions recorded at offline
/// meetings for residents without an account are in no base. Such a
/// division took part in full, never more than fully. Clamping here rather
/// than in the counts keeps both figures true to what happened.
#[must_use]
pub fn participation(responses: i64, eligible: i64) -> Option<f64> {
    (eligible > 0).then(|| responses.clamp(0, eligible) as f64 / eligible as f64)
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
    /// Each topic's disclosure pattern, with the counter version it holds for.
    patterns: Arc<Mutex<HashMap<i64, MemoisedPattern>>>,
}

/// A roll-up and the counter version it was computed from.
type Memoised = (u64, Arc<RolledUp>);
/// A disclosure pattern and the counter version it holds for.
type MemoisedPattern = (u64, Arc<Pattern>);

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

    /// The topic's disclosure pattern at `version`, computed by `compute`
    /// only when the counters moved since it was last asked for.
    fn pattern(
        &self,
        topic_id: i64,
        version: u64,
        compute: impl FnOnce() -> Pattern,
    ) -> Arc<Pattern> {
        if let Some(pattern) = self
            .patterns
            .lock()
            .expect("results memo poisoned")
            .get(&topic_id)
            .filter(|(at, _)| *at == version)
            .map(|(_, p)| p.clone())
        {
            return pattern;
        }
        let pattern = Arc::new(compute());
        let mut patterns = self.patterns.lock().expect("results memo poisoned");
        if patterns.len() >= MEMO_CAPACITY && !patterns.contains_key(&topic_id) {
            patterns.clear();
        }
        patterns.insert(topic_id, (version, pattern.clone()));
        pattern
    }
}

/// A topic's kind, its options (a `CHOICE` topic's; none for the others) and
/// the choices a response may take, in the order rows list them.
async fn choices_of(
    db: &sea_orm::DatabaseConnection,
    topic: &Topic,
) -> Result<(Kind, Vec<topics::TopicOption>, Vec<Choice>)> {
    let kind = Kind::parse(&topic.kind).unwrap_or(Kind::Decision);
    let options = if kind == Kind::Choice {
        topics::options(db, topic.id).await?
    } else {
        Vec::new()
    };
    let choices = kind.choices(&options);
    Ok((kind, options, choices))
}

/// Where each of `choices` sits in the table's keys.
fn slots_of(table: &TopicTally, choices: &[Choice]) -> Vec<Option<usize>> {
    choices
        .iter()
        .map(|c| {
            let key = c.key();
            table.keys.iter().position(|k| *k == key)
        })
        .collect()
}

/// The topic's disclosure pattern for the counters of `table`, from the
/// memo when they have not moved.
fn pattern_of(
    svc: &Services,
    topic: &Topic,
    table: &TopicTally,
    slots: &[Option<usize>],
) -> Arc<Pattern> {
    svc.results_memo.pattern(topic.id, table.version, || {
        Pattern::compute(
            &topic.scope_code,
            table.villages.iter().map(|(code, tally)| {
                let responses: i64 = slots.iter().flatten().map(|&i| tally.count(i)).sum();
                (code.as_str(), responses)
            }),
            i64::from(svc.settings.privacy_min_cell),
        )
    })
}

/// The villages of `table` inside division `within`, in code order.
fn villages_within<'t>(
    table: &'t TopicTally,
    within: &'t str,
) -> impl Iterator<Item = (&'t String, &'t VillageTally)> + 't {
    table
        .villages
        .range::<str, _>((
            std::ops::Bound::Included(within),
            std::ops::Bound::Unbounded,
        ))
        .take_while(move |(code, _)| code.starts_with(within))
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
    topics::secrecy::require_unsealed(&topic)?;
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
    // Full detail for exactly those who may read the topic's opinions.
    let full_detail = viewer.is_some_and(|a| disclosure::reads_opinions(a, &topic));
    // Rows never stand above `within`: a coarser row would be `within`'s
    // own total under another name.
    let level = level.max(divisions::level_of(&within).unwrap_or(level));
    let (kind, options, choices) = choices_of(db, &topic).await?;

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
            let slots = slots_of(table, &choices);
            let pattern = (!full_detail).then(|| pattern_of(svc, &topic, table, &slots));
            let rolled = Arc::new(roll_up_table(
                table,
                &slots,
                &within,
                level,
                (kind, &choices),
                k,
                pattern.as_deref(),
            ));
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

/// The rows, overall and agreement of `within` at `level` (at or below
/// `within`'s own level, as `results` clamps it): exact when `pattern` is
/// `None` (full detail), else the projection of the pattern.
fn roll_up_table(
    table: &TopicTally,
    slots: &[Option<usize>],
    within: &str,
    level: Level,
    (kind, choices): (Kind, &[Choice]),
    k: i64,
    pattern: Option<&Pattern>,
) -> RolledUp {
    let mut overall = DivisionResult::new(within.to_owned(), choices);
    if pattern.is_some_and(|p| !p.is_shown(within)) {
        overall.withheld = true;
        return RolledUp {
            overall,
            rows: Arc::new(Vec::new()),
            consensus: None,
            dissenting: Arc::new(Vec::new()),
        };
    }
    let mut village = DivisionResult::new(String::new(), choices);
    for (code, tally) in villages_within(table, within) {
        village.fill(code, tally, slots);
        overall.add(&village);
    }
    let mut rollup = RollUp::new(level, choices);
    let mut agreement = Agreement::new(kind, choices, &overall, k);
    // Folded rows by their code, with the last member added to each.
    let mut groups: BTreeMap<String, (DivisionResult, String)> = BTreeMap::new();
    let mut cursor = pattern.map(|p| p.cursor(within));
    for (code, tally) in villages_within(table, within) {
        village.fill(code, tally, slots);
        let hidden = cursor.as_mut().and_then(|c| c.hidden_top(code));
        if hidden.is_none() {
            if let Some(a) = agreement.as_mut() {
                a.add(&village);
            }
        }
        // Hidden below `level`: the row at `level` holding it is shown.
        match hidden.filter(|h| h.code.len() <= level.code_len()) {
            None => rollup.add(&village),
            Some(h) => {
                // A withheld subtree holds `within`, answered above.
                let Some(group) = h.group_code() else {
                    continue;
                };
                if !groups.contains_key(group) {
                    let mut row = DivisionResult::new(group.to_owned(), choices);
                    row.folded = true;
                    row.divisions = 0;
                    groups.insert(group.to_owned(), (row, String::new()));
                }
                let (row, last) = groups.get_mut(group).expect("inserted above");
                row.add(&village);
                if *last != h.code {
                    row.divisions += 1;
                    last.clone_from(&h.code);
                }
            }
        }
    }
    let mut rows = rollup.rows;
    if !groups.is_empty() {
        rows.extend(groups.into_values().map(|(row, _)| row));
        rows.sort_by(|a, b| (a.code.as_str(), a.folded).cmp(&(b.code.as_str(), b.folded)));
    }
    let (consensus, dissenting) = agreement.map_or((None, Vec::new()), Agreement::finish);
    RolledUp {
        overall,
        rows: Arc::new(rows),
        consensus,
        dissenting: Arc::new(dissenting),
    }
}

/// What anyone may read of one division of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedCell {
    /// Responses per choice key (as stored in the counters).
    pub counts: Vec<(String, i64)>,
    pub total: i64,
    pub eligible: i64,
}

/// What someone who may not read `topic`'s opinions may learn of each of
/// `codes` (a division holding the whole scope stands for the scope; one
/// outside it holds nothing of the topic): `None` where the division is
/// suppressed. The same pattern as [`results`], so no combination of the
/// two tells more than either.
///
/// # Errors
/// Database errors when the counters are loaded.
pub async fn published_cells(
    svc: &Services,
    topic: &Topic,
    codes: &[String],
) -> Result<Vec<Option<PublishedCell>>> {
    let db = svc.db.reader();
    let (_, _, choices) = choices_of(db, topic).await?;
    svc.tallies
        .with_villages(db, topic.id, Freshness::WithinLag, |table| {
            let slots = slots_of(table, &choices);
            let pattern = pattern_of(svc, topic, table, &slots);
            codes
                .iter()
                .map(|code| {
                    let code = if divisions::contains(code, &topic.scope_code) {
                        topic.scope_code.as_str()
                    } else {
                        code.as_str()
                    };
                    if !pattern.is_shown(code) {
                        return None;
                    }
                    let mut cell = PublishedCell {
                        counts: choices.iter().map(|c| (c.key(), 0)).collect(),
                        total: 0,
                        eligible: 0,
                    };
                    for (_, tally) in villages_within(table, code) {
                        for ((_, n), slot) in cell.counts.iter_mut().zip(&slots) {
                            let m = slot.map_or(0, |i| tally.count(i));
                            *n += m;
                            cell.total += m;
                        }
                        cell.eligible += tally.eligible;
                    }
                    Some(cell)
                })
                .collect()
        })
        .await
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
    topics::secrecy::require_unsealed(&topic)?;
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
    fn participation_is_a_share_of_the_base_and_never_above_one() {
        assert_eq!(participation(0, 0), None, "nobody eligible: no share");
        assert_eq!(participation(3, 0), None);
        assert_eq!(participation(0, 4), Some(0.0));
        assert_eq!(participation(1, 4), Some(0.25));
        assert_eq!(participation(4, 4), Some(1.0));
        // Issue 15: 13 responses in a village of 3 eligible.
        assert_eq!(participation(13, 3), Some(1.0));
        let mut r = row("620123101201", 10, 3);
        r.eligible = 3;
        assert_eq!(r.total, 13, "the responses stay as they are");
        assert_eq!(r.participation(), Some(1.0));
        assert_eq!(r.quorum_met(Some(100)), Some(true));
    }

    proptest::proptest! {
        #[test]
        fn participation_stays_within_zero_and_one(responses in 0i64..1_000_000, eligible in 0i64..1_000_000) {
            match participation(responses, eligible) {
                None => proptest::prop_assert_eq!(eligible, 0),
                Some(p) => {
                    proptest::prop_assert!((0.0..=1.0).contains(&p), "{p}");
                    if responses <= eligible {
                        proptest::prop_assert_eq!(p, responses as f64 / eligible as f64);
                    }
                }
            }
        }
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

    /// A table of villages with (support, oppose) counts.
    fn table(villages: &[(&str, i64, i64)]) -> TopicTally {
        TopicTally {
            version: 1,
            keys: vec!["support".into(), "oppose".into()],
            villages: villages
                .iter()
                .map(|(code, s, o)| {
                    (
                        (*code).to_owned(),
                        VillageTally {
                            counts: vec![*s, *o],
                            eligible: 0,
                        },
                    )
                })
                .collect(),
        }
    }

    /// The public answer for `within` at `level`, k = 5.
    fn public(table: &TopicTally, scope: &str, within: &str, level: Level) -> RolledUp {
        let choices = choices();
        let slots = slots_of(table, &choices);
        let pattern = Pattern::compute(
            scope,
            table
                .villages
                .iter()
                .map(|(c, t)| (c.as_str(), t.counts.iter().sum())),
            5,
        );
        // As `results` asks it: rows never above `within`.
        let level = level.max(divisions::level_of(within).unwrap_or(level));
        roll_up_table(
            table,
            &slots,
            within,
            level,
            (Kind::Decision, &choices),
            5,
            Some(&pattern),
        )
    }

    #[test]
    fn a_small_village_folds_with_a_complement_and_never_alone() {
        let t = table(&[
            ("620123101201", 10, 2),
            ("620123101202", 0, 1),
            ("620123101203", 4, 4),
        ]);
        let shown = public(&t, "620123101", "620123101", Level::Village);
        let rows: Vec<(&str, bool, i64, usize)> = shown
            .rows
            .iter()
            .map(|r| (r.code.as_str(), r.folded, r.total, r.divisions))
            .collect();
        assert_eq!(
            rows,
            [("620123101", true, 9, 2), ("620123101201", false, 12, 1)],
            "the lone dissenter is folded with the smallest shown sibling"
        );
        assert_eq!(shown.dissenting.as_slice(), [] as [String; 0]);
        assert_eq!(shown.consensus, Some(10.0 / 12.0), "shown villages only");
    }

    #[test]
    fn asking_within_a_small_village_withholds_it() {
        let t = table(&[
            ("620123101201", 10, 2),
            ("620123101202", 0, 1),
            ("620123101203", 4, 4),
        ]);
        for within in ["620123101202", "620123101203"] {
            let shown = public(&t, "620123101", within, Level::Village);
            assert!(shown.overall.withheld, "{within}");
            assert!(shown.rows.is_empty());
        }
        let shown = public(&t, "620123101", "620123101201", Level::Township);
        assert_eq!(shown.rows.len(), 1);
        assert_eq!(
            (shown.rows[0].code.as_str(), shown.rows[0].total),
            ("620123101201", 12),
            "rows never stand above `within`"
        );
    }

    #[test]
    fn a_small_scope_withholds_the_overall() {
        let t = table(&[("620123101201", 1, 2)]);
        let shown = public(&t, "620123101", "620123101", Level::Township);
        assert!(shown.overall.withheld);
        assert!(shown.rows.is_empty());
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

    /// The sets of villages whose sums one answer publishes, derived from
    /// the answer and the division tree alone (what anyone knows): a shown
    /// row is its division; a folded row is what is left of its division
    /// once the answer's other rows inside it are taken away. Checks that
    /// each published total is the sum over its set.
    fn published_sets(
        answer: &RolledUp,
        within: &str,
        villages: &[(String, i64)],
    ) -> Vec<Vec<bool>> {
        let under = |code: &str| -> Vec<bool> {
            villages.iter().map(|(v, _)| v.starts_with(code)).collect()
        };
        let mut sets = Vec::new();
        let mut check = |set: Vec<bool>, total: i64| {
            let sum: i64 = villages
                .iter()
                .zip(&set)
                .filter(|(_, s)| **s)
                .map(|((_, n), _)| n)
                .sum();
            assert_eq!(sum, total, "a published total is its set's sum");
            sets.push(set);
        };
        if !answer.overall.withheld {
            check(under(within), answer.overall.total);
        }
        for row in answer.rows.iter() {
            let mut set = under(&row.code);
            if row.folded {
                for other in answer.rows.iter() {
                    let inside = other.code.starts_with(&row.code)
                        && (other.code.len() > row.code.len() || !other.folded);
                    if inside {
                        for (s, o) in set.iter_mut().zip(under(&other.code)) {
                            *s &= !o;
                        }
                    }
                }
            }
            check(set, row.total);
        }
        sets
    }

    /// Rank of a 0/1 matrix over the rationals, by fraction-free
    /// elimination (rows kept small by their gcd).
    fn rank(rows: &[Vec<bool>]) -> usize {
        fn gcd(a: i128, b: i128) -> i128 {
            if b == 0 {
                a.abs()
            } else {
                gcd(b, a % b)
            }
        }
        let mut m: Vec<Vec<i128>> = rows
            .iter()
            .map(|r| r.iter().map(|&b| i128::from(b)).collect())
            .collect();
        let cols = m.first().map_or(0, Vec::len);
        let mut rank = 0;
        for col in 0..cols {
            let Some(pivot) = (rank..m.len()).find(|&r| m[r][col] != 0) else {
                continue;
            };
            m.swap(rank, pivot);
            for r in 0..m.len() {
                if r != rank && m[r][col] != 0 {
                    let (p, q) = (m[rank][col], m[r][col]);
                    let pivot_row = m[rank].clone();
                    for (x, y) in m[r].iter_mut().zip(&pivot_row) {
                        *x = *x * p - y * q;
                    }
                    let g = m[r].iter().fold(0, |g, &x| gcd(g, x));
                    if g > 1 {
                        m[r].iter_mut().for_each(|x| *x /= g);
                    }
                }
            }
            rank += 1;
        }
        rank
    }

    #[test]
    fn rank_sees_a_village_derived_by_difference() {
        // Township {a, b} and village {a} published: b = township − a.
        let rows = vec![vec![true, true], vec![true, false]];
        assert_eq!(rank(&rows), 2);
        let mut with_b = rows.clone();
        with_b.push(vec![false, true]);
        assert_eq!(rank(&with_b), 2, "b is derived");
        assert_eq!(rank(&[vec![true, true], vec![true, true]]), 1);
    }

    /// A random small tree under 兰州市: counties, townships, villages,
    /// each village with (support, oppose) responses.
    fn tree() -> impl proptest::strategy::Strategy<Value = Vec<(String, i64, i64)>> {
        use proptest::prelude::*;
        proptest::collection::vec(
            proptest::collection::vec(proptest::collection::vec((0i64..7, 0i64..7), 1..4), 1..4),
            1..3,
        )
        .prop_map(|counties| {
            let mut villages = Vec::new();
            for (c, townships) in counties.iter().enumerate() {
                for (t, vs) in townships.iter().enumerate() {
                    for (v, (s, o)) in vs.iter().enumerate() {
                        // Some villages have far fewer responses.
                        let (s, o) = if v % 2 == 1 { (s / 3, o / 4) } else { (*s, *o) };
                        villages.push((format!("62010{c}{:03}{:03}", 100 + t, 200 + v), s, o));
                    }
                }
            }
            villages
        })
    }

    proptest::proptest! {
        /// Rolling village counters up to any level gives what a recount of
        /// the individual opinions by prefix gives.
        #[test]
        fn roll_up_equals_a_recount(
            opinions in proptest::collection::vec((0usize..6, 0usize..3), 0..300),
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
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// For random tallies over a random division tree, and every
        /// (level, within) someone who may not read opinions may ask, no
        /// village with 1..k−1 responses can be derived from all the
        /// answers together (its unit vector is not in the row space of
        /// the published sums, even if every empty village is known), and
        /// no published sum is under k unless it is zero.
        #[test]
        fn no_small_village_can_be_derived_from_every_public_answer(
            villages in tree(),
            scope_len in proptest::sample::select(vec![4usize, 6, 9]),
        ) {
            let scope = villages[0].0[..scope_len].to_owned();
            let villages: Vec<(String, i64, i64)> =
                villages.into_iter().filter(|(v, _, _)| v.starts_with(&scope)).collect();
            let t = table(
                &villages
                    .iter()
                    .map(|(v, s, o)| (v.as_str(), *s, *o))
                    .collect::<Vec<_>>(),
            );
            let totals: Vec<(String, i64)> =
                villages.iter().map(|(v, s, o)| (v.clone(), s + o)).collect();
            let mut divisions: Vec<String> = Vec::new();
            for (v, _) in &totals {
                for level in Level::ALL {
                    let len = level.code_len();
                    if len >= scope.len() && !divisions.iter().any(|d| d == &v[..len]) {
                        divisions.push(v[..len].to_owned());
                    }
                }
            }
            let mut published: Vec<Vec<bool>> = Vec::new();
            for within in &divisions {
                for level in Level::ALL {
                    let answer = public(&t, &scope, within, level);
                    if !answer.overall.withheld {
                        let t = answer.overall.total;
                        proptest::prop_assert!(t == 0 || t >= 5, "overall {t} of {within}");
                    }
                    for row in answer.rows.iter() {
                        proptest::prop_assert!(row.total == 0 || row.total >= 5, "row {row:?}");
                    }
                    for code in answer.dissenting.iter() {
                        let total = totals.iter().find(|(v, _)| v == code).map_or(0, |(_, n)| *n);
                        proptest::prop_assert!(total >= 5);
                    }
                    published.extend(published_sets(&answer, within, &totals));
                }
            }
            let unit = |i: usize| -> Vec<bool> { (0..totals.len()).map(|j| j == i).collect() };
            for (i, (_, n)) in totals.iter().enumerate() {
                if *n == 0 {
                    published.push(unit(i));
                }
            }
            let base = rank(&published);
            for (i, (code, n)) in totals.iter().enumerate() {
                if *n > 0 && *n < 5 {
                    let mut with = published.clone();
                    with.push(unit(i));
                    proptest::prop_assert_eq!(rank(&with), base + 1, "{} ({} responses) is derivable", code, n);
                }
            }
        }
    }
}
