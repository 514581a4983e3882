//! The village counters of recently viewed topics, held in memory so that
//! results are rolled up without reading every counter row on each request.
//!
//! A province topic has one counter per village and choice (about 53,000
//! rows in Gansu); reading them for every results request costs far more
//! than rolling them up. Here each topic's counters are read once and then
//! kept current by the opinions this instance writes, which hand their
//! counter moves over after committing.
//!
//! Exactness comes from the `gate`: a writer holds it shared from before its
//! transaction begins until its moves are applied, and a load holds it
//! exclusively while it reads. A load therefore sees every commit whose
//! moves it will not receive, and none whose moves it will.
//!
//! Several instances on PostgreSQL: another instance's opinions arrive only
//! as live events. They mark the topic's counters stale; a stale table is
//! still served until it is [`REMOTE_LAG`] old and then read again, so
//! results lag other instances' opinions by at most that long.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use tokio::sync::{OwnedRwLockReadGuard, RwLock as AsyncRwLock};

use crate::entities::{tallies, topic_eligible};
use crate::error::Result;
use crate::events::{Event, EventBus};

/// How long counters marked stale by another instance are still served.
pub const REMOTE_LAG: Duration = Duration::from_secs(1);
/// Topics whose counters are kept; the least recently used go first.
const CAPACITY: usize = 256;

/// How current a reader needs the counters to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Counters another instance changed may lag by up to [`REMOTE_LAG`]:
    /// queries, which may come many times a second.
    WithinLag,
    /// Every change any instance has announced: live pushes, which are
    /// caused by such an announcement and must show it.
    Latest,
}

/// One counter move of a committed opinion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TallyMove {
    pub topic_id: i64,
    pub village: String,
    pub choice: String,
    pub delta: i64,
}

/// Counters and eligible residents of one village.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VillageTally {
    /// Responses per choice, indexed like [`TopicTally::keys`].
    pub counts: Vec<i64>,
    pub eligible: i64,
}

impl VillageTally {
    /// Responses for the choice at `index` of [`TopicTally::keys`].
    #[must_use]
    pub fn count(&self, index: usize) -> i64 {
        self.counts.get(index).copied().unwrap_or(0)
    }
}

/// A topic's counters: every village that has counters or eligible
/// residents, in code order, so a division's villages are one range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicTally {
    /// Changes with every move and every load, never repeating within the
    /// process: what was computed from a table at one version still holds
    /// while the version is the same.
    pub version: u64,
    /// The choice keys (as stored in `tallies.choice`) counted so far;
    /// villages count by index into this list, so rolling up compares no
    /// strings.
    pub keys: Vec<String>,
    pub villages: BTreeMap<String, VillageTally>,
}

/// The source of [`TopicTally::version`].
static VERSIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_version() -> u64 {
    VERSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl TopicTally {
    fn bump(&mut self, village: &str, choice: &str, delta: i64) {
        self.version = next_version();
        let index = match self.keys.iter().position(|k| k == choice) {
            Some(index) => index,
            None => {
                self.keys.push(choice.to_owned());
                self.keys.len() - 1
            }
        };
        let tally = match self.villages.get_mut(village) {
            Some(tally) => tally,
            None => self.villages.entry(village.to_owned()).or_default(),
        };
        if tally.counts.len() <= index {
            tally.counts.resize(index + 1, 0);
        }
        tally.counts[index] += delta;
    }
}

#[derive(Debug)]
struct Entry {
    table: Arc<RwLock<TopicTally>>,
    loaded_at: Instant,
    /// Set when another instance changed the counters after the load.
    stale: bool,
    last_used: Instant,
}

#[derive(Debug, Default)]
struct Topics {
    entries: HashMap<i64, Entry>,
    /// Bumped by [`TallyCache::forget`], so a load that raced it is not kept.
    generation: HashMap<i64, u64>,
}

/// Cheap to clone; clones share the counters.
#[derive(Clone, Debug)]
pub struct TallyCache {
    gate: Arc<AsyncRwLock<()>>,
    topics: Arc<Mutex<Topics>>,
}

/// Held by a writer from before its transaction until its moves are applied.
pub struct WriteGuard(#[allow(dead_code)] OwnedRwLockReadGuard<()>);

impl Default for TallyCache {
    fn default() -> Self {
        Self::new()
    }
}

impl TallyCache {
    #[must_use]
    pub fn new() -> Self {
        Self {
            gate: Arc::new(AsyncRwLock::new(())),
            topics: Arc::new(Mutex::new(Topics::default())),
        }
    }

    /// Marks topics stale when another instance reports new opinions and
    /// forgets them when their state or their eligible counts change (the
    /// counts are taken again at announcing, opening and closing, and move
    /// with residencies in between), for as long as the bus lives.
    pub fn follow(&self, events: &EventBus) {
        let mut remote = events.subscribe_remote();
        let cache = self.clone();
        tokio::spawn(async move {
            loop {
                match remote.recv().await {
                    Ok(Event::TopicResultsChanged { topic_id }) => cache.mark_stale(topic_id),
                    Ok(Event::TopicStateChanged { topic_id, .. }) => cache.forget(topic_id),
                    Ok(Event::SessionsRevoked { .. }) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        cache.mark_all_stale()
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
    }

    /// Taken before a transaction that moves counters begins (never while
    /// holding a database connection, or a load could wait on it forever).
    pub async fn write_guard(&self) -> WriteGuard {
        WriteGuard(self.gate.clone().read_owned().await)
    }

    /// Applies the moves of a committed transaction; call it while still
    /// holding the [`WriteGuard`] taken before that transaction began.
    pub fn apply(&self, _guard: &WriteGuard, moves: &[TallyMove]) {
        if moves.is_empty() {
            return;
        }
        let topics = self.topics.lock().expect("tally cache poisoned");
        for m in moves {
            if let Some(entry) = topics.entries.get(&m.topic_id) {
                let mut table = entry.table.write().expect("tally table poisoned");
                table.bump(&m.village, &m.choice, m.delta);
            }
        }
    }

    /// Drops a topic's counters: its eligible counts changed, or it is done.
    pub fn forget(&self, topic_id: i64) {
        let mut topics = self.topics.lock().expect("tally cache poisoned");
        topics.entries.remove(&topic_id);
        *topics.generation.entry(topic_id).or_default() += 1;
    }

    fn mark_stale(&self, topic_id: i64) {
        let mut topics = self.topics.lock().expect("tally cache poisoned");
        if let Some(entry) = topics.entries.get_mut(&topic_id) {
            entry.stale = true;
        }
    }

    fn mark_all_stale(&self) {
        let mut topics = self.topics.lock().expect("tally cache poisoned");
        for entry in topics.entries.values_mut() {
            entry.stale = true;
        }
    }

    /// Runs `read` over the topic's village table, loading it first when it
    /// is not held or is stale past [`REMOTE_LAG`].
    ///
    /// # Errors
    /// When the counters cannot be read.
    pub async fn with_villages<R>(
        &self,
        db: &impl ConnectionTrait,
        topic_id: i64,
        freshness: Freshness,
        read: impl FnOnce(&TopicTally) -> R,
    ) -> Result<R> {
        let table = match self.cached(topic_id, freshness) {
            Some(table) => table,
            None => self.load(db, topic_id).await?,
        };
        let table = table.read().expect("tally table poisoned");
        Ok(read(&table))
    }

    /// The version of the topic's counters as they would be served now;
    /// `None` when they are not held or would be read again.
    pub fn version(&self, topic_id: i64, freshness: Freshness) -> Option<u64> {
        let table = self.cached(topic_id, freshness)?;
        let version = table.read().expect("tally table poisoned").version;
        Some(version)
    }

    fn cached(&self, topic_id: i64, freshness: Freshness) -> Option<Arc<RwLock<TopicTally>>> {
        let mut topics = self.topics.lock().expect("tally cache poisoned");
        let entry = topics.entries.get_mut(&topic_id)?;
        let lagging = match freshness {
            Freshness::WithinLag => entry.loaded_at.elapsed() >= REMOTE_LAG,
            Freshness::Latest => true,
        };
        if entry.stale && lagging {
            return None;
        }
        entry.last_used = Instant::now();
        Some(entry.table.clone())
    }

    async fn load(
        &self,
        db: &impl ConnectionTrait,
        topic_id: i64,
    ) -> Result<Arc<RwLock<TopicTally>>> {
        // Exclusive: no counter-moving transaction is between its begin and
        // the application of its moves while the counters are read.
        let _exclusive = self.gate.write().await;
        // Someone else may have loaded it while this waited.
        if let Some(table) = self.cached(topic_id, Freshness::Latest) {
            return Ok(table);
        }
        let generation = self.generation(topic_id);
        let loaded_at = Instant::now();
        let table = Arc::new(RwLock::new(read_table(db, topic_id).await?));
        let mut topics = self.topics.lock().expect("tally cache poisoned");
        if topics.generation.get(&topic_id).copied().unwrap_or(0) == generation {
            if topics.entries.len() >= CAPACITY {
                evict_least_recently_used(&mut topics.entries);
            }
            topics.entries.insert(
                topic_id,
                Entry {
                    table: table.clone(),
                    loaded_at,
                    stale: false,
                    last_used: loaded_at,
                },
            );
        }
        Ok(table)
    }

    fn generation(&self, topic_id: i64) -> u64 {
        let topics = self.topics.lock().expect("tally cache poisoned");
        topics.generation.get(&topic_id).copied().unwrap_or(0)
    }
}

fn evict_least_recently_used(entries: &mut HashMap<i64, Entry>) {
    if let Some(oldest) = entries
        .iter()
        .min_by_key(|(_, e)| e.last_used)
        .map(|(id, _)| *id)
    {
        entries.remove(&oldest);
    }
}

async fn read_table(db: &impl ConnectionTrait, topic_id: i64) -> Result<TopicTally> {
    let counters: Vec<(String, String, i64)> = tallies::Entity::find()
        .select_only()
        .columns([
            tallies::Column::VillageCode,
            tallies::Column::Choice,
            tallies::Column::Count,
        ])
        .filter(tallies::Column::TopicId.eq(topic_id))
        .into_tuple()
        .all(db)
        .await?;
    let eligible: Vec<(String, i64)> = topic_eligible::Entity::find()
        .select_only()
        .columns([
            topic_eligible::Column::VillageCode,
            topic_eligible::Column::Count,
        ])
        .filter(topic_eligible::Column::TopicId.eq(topic_id))
        .into_tuple()
        .all(db)
        .await?;
    let mut table = TopicTally::default();
    for (village, choice, count) in counters {
        table.bump(&village, &choice, count);
    }
    for (village, count) in eligible {
        table.villages.entry(village).or_default().eligible += count;
    }
    table.version = next_version();
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mv(topic_id: i64, village: &str, choice: &str, delta: i64) -> TallyMove {
        TallyMove {
            topic_id,
            village: village.into(),
            choice: choice.into(),
            delta,
        }
    }

    fn seed(cache: &TallyCache, topic_id: i64, table: TopicTally) {
        let now = Instant::now();
        cache.topics.lock().unwrap().entries.insert(
            topic_id,
            Entry {
                table: Arc::new(RwLock::new(table)),
                loaded_at: now,
                stale: false,
                last_used: now,
            },
        );
    }

    #[tokio::test]
    async fn moves_reach_held_topics_only() {
        let cache = TallyCache::new();
        seed(&cache, 1, TopicTally::default());
        let guard = cache.write_guard().await;
        cache.apply(
            &guard,
            &[
                mv(1, "620123101201", "support", 1),
                mv(1, "620123101201", "support", 1),
                mv(1, "620123101201", "support", -1),
                mv(1, "620123101201", "oppose", 1),
                mv(2, "620123101201", "oppose", 1),
            ],
        );
        drop(guard);
        let table = cache.cached(1, Freshness::Latest).unwrap();
        let table = table.read().unwrap();
        assert_eq!(table.keys, ["support", "oppose"]);
        assert_eq!(table.villages["620123101201"].counts, [1, 1]);
        assert!(
            cache.cached(2, Freshness::WithinLag).is_none(),
            "topic 2 was never loaded"
        );
    }

    #[tokio::test]
    async fn a_stale_table_is_served_to_queries_until_the_lag_has_passed() {
        let cache = TallyCache::new();
        seed(&cache, 1, TopicTally::default());
        cache.mark_stale(1);
        assert!(
            cache.cached(1, Freshness::WithinLag).is_some(),
            "just loaded: still served to queries"
        );
        assert!(
            cache.cached(1, Freshness::Latest).is_none(),
            "but not to a live push, which must show the change"
        );
        cache
            .topics
            .lock()
            .unwrap()
            .entries
            .get_mut(&1)
            .unwrap()
            .loaded_at = Instant::now() - REMOTE_LAG;
        assert!(
            cache.cached(1, Freshness::WithinLag).is_none(),
            "stale and old: read again"
        );
    }

    #[tokio::test]
    async fn a_load_waits_for_writers_between_begin_and_apply() {
        let cache = TallyCache::new();
        let guard = cache.write_guard().await;
        let gate = cache.gate.clone();
        let waiting = tokio::spawn(async move {
            let _exclusive = gate.write().await;
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "a load must wait for the writer");
        drop(guard);
        waiting.await.unwrap();
    }

    #[test]
    fn forgetting_bumps_the_generation_so_a_racing_load_is_not_kept() {
        let cache = TallyCache::new();
        let before = cache.generation(7);
        cache.forget(7);
        assert_eq!(cache.generation(7), before + 1);
    }
}
