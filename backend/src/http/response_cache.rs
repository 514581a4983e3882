//! Whole answers to results queries, kept while the counters they were
//! rolled up from are unchanged.
//!
//! When a county topic is open, organisers' dashboards and residents'
//! results pages ask the same `topicResults` question many times a second.
//! Rolling up is memoised in the domain, but turning a table of thousands of
//! divisions into GraphQL values and JSON costs milliseconds of the one core
//! that also takes the opinions. Here the serialised answer is kept, keyed
//! by the exact request body and the caller's credentials, and served again
//! while every topic it read still has counters at the same version (an
//! opinion, a lifecycle move or another instance's change gives a new one)
//! and it is younger than [`MAX_AGE`], which bounds what else could change
//! it (a role revoked, a division renamed).
//!
//! Only documents whose root fields are all `topicResults` are kept, and only
//! answers without errors. The budget counts everything an entry holds (key,
//! answer, counters, the map's own share), so [`MAX_BYTES`] bounds the
//! cache's memory whatever clients send.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_graphql::parser::types::Selection;
use axum::body::Bytes;
use sha2::{Digest as _, Sha256};

use crate::domain::results::Freshness;
use crate::domain::tally_cache::TallyCache;

/// How long an answer is kept even when its counters do not change.
const MAX_AGE: Duration = Duration::from_secs(2);
/// Bytes kept at most (entries whole, see [`Entry::cost`]); beyond it,
/// expired ones go, then all.
const MAX_BYTES: usize = 32 * 1024 * 1024;
/// What a map slot costs beside the entry itself: hashbrown's control byte
/// and spare capacity (the table is at most 7/8 full, and doubles).
const SLOT_OVERHEAD: usize = 2 * (std::mem::size_of::<Key>() + std::mem::size_of::<Entry>()) + 8;
/// The root field whose answers are kept.
const CACHEABLE_FIELD: &str = "topicResults";

/// A digest of the request body and the credentials it came with: a fixed
/// 32 bytes however large the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key([u8; 32]);

impl Key {
    /// The key of a POST body, when its document asks only for results.
    pub fn for_request(
        body: &[u8],
        request: &mut async_graphql::Request,
        authorization: Option<&str>,
    ) -> Option<Self> {
        only_results(request).then(|| Self::digest(body, authorization))
    }

    fn digest(body: &[u8], authorization: Option<&str>) -> Self {
        let mut hasher = Sha256::new();
        // Length-prefixed, so no body and credentials pair can collide with
        // another by moving bytes from one to the other.
        hasher.update((body.len() as u64).to_le_bytes());
        hasher.update(body);
        match authorization {
            Some(value) => {
                hasher.update([1]);
                hasher.update(value.as_bytes());
            }
            None => hasher.update([0]),
        }
        Self(hasher.finalize().into())
    }
}

#[derive(Debug)]
struct Entry {
    body: Bytes,
    counters: Vec<(i64, u64)>,
    stored_at: Instant,
}

impl Entry {
    fn is_fresh(&self) -> bool {
        self.stored_at.elapsed() < MAX_AGE
    }

    /// Bytes this entry holds in the cache: its answer, its counters, and
    /// its slot in the map (key and entry, with the table's spare room).
    fn cost(&self) -> usize {
        self.body.len()
            + self.counters.capacity() * std::mem::size_of::<(i64, u64)>()
            + SLOT_OVERHEAD
    }
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<Key, Entry>,
    bytes: usize,
}

#[derive(Clone, Debug, Default)]
pub struct ResponseCache {
    entries: Arc<Mutex<Entries>>,
    /// One lock per key being computed, so that when an answer expires the
    /// requests waiting for it compute it once, not once each.
    turns: Arc<Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>>,
}

/// Locks kept at most before the idle ones are dropped.
const TURNS_KEPT: usize = 1024;

impl ResponseCache {
    /// Waits until no other request is computing the answer for `key`; hold
    /// the guard while computing it.
    pub async fn turn(&self, key: &Key) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut turns = self.turns.lock().expect("response cache poisoned");
            if turns.len() >= TURNS_KEPT {
                turns.retain(|_, lock| Arc::strong_count(lock) > 1);
            }
            turns.entry(*key).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// The kept answer, when its counters are all still current.
    pub fn get(&self, key: &Key, tallies: &TallyCache) -> Option<Bytes> {
        let (body, counters) = {
            let entries = self.entries.lock().expect("response cache poisoned");
            let entry = entries.map.get(key).filter(|e| e.is_fresh())?;
            (entry.body.clone(), entry.counters.clone())
        };
        counters
            .iter()
            .all(|&(topic_id, version)| {
                tallies.version(topic_id, Freshness::WithinLag) == Some(version)
            })
            .then_some(body)
    }

    /// Keeps an answer computed from `counters` (nothing read: not kept).
    pub fn put(&self, key: Key, body: Bytes, counters: Vec<(i64, u64)>) {
        if counters.is_empty() || body.len() > MAX_BYTES / 8 {
            return;
        }
        let entry = Entry {
            body,
            counters,
            stored_at: Instant::now(),
        };
        let cost = entry.cost();
        let mut entries = self.entries.lock().expect("response cache poisoned");
        if entries.bytes + cost > MAX_BYTES {
            entries.map.retain(|_, e| e.is_fresh());
            if entries.bytes + cost > MAX_BYTES {
                // Still full of fresh answers: start again rather than keep
                // more than the budget.
                entries.map = HashMap::new();
            }
            entries.bytes = entries.map.values().map(Entry::cost).sum();
        }
        entries.bytes += cost;
        if let Some(old) = entries.map.insert(key, entry) {
            entries.bytes -= old.cost();
        }
    }

    /// Bytes the kept answers hold, as counted against [`MAX_BYTES`].
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.entries.lock().expect("response cache poisoned").bytes
    }
}

/// Whether the operation the request runs is a query whose root
/// selections are all plain `topicResults` fields. The document read is the
/// one kept in the request, which execution then uses too.
fn only_results(request: &mut async_graphql::Request) -> bool {
    // Most requests (every opinion) are told apart without parsing.
    if !request.query.contains(CACHEABLE_FIELD) {
        return false;
    }
    let name = request.operation_name.clone();
    let Ok(doc) = request.parsed_query() else {
        return false;
    };
    let Some(operation) = super::graphql::selected_operation(doc, name.as_deref()) else {
        return false;
    };
    operation.node.ty == async_graphql::parser::types::OperationType::Query
        && !operation.node.selection_set.node.items.is_empty()
        && operation.node.selection_set.node.items.iter().all(|s| {
            matches!(&s.node, Selection::Field(f)
                if f.node.name.node == CACHEABLE_FIELD && f.node.directives.is_empty())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str) -> async_graphql::Request {
        async_graphql::Request::new(query)
    }

    #[test]
    fn only_documents_asking_for_results_alone_are_kept() {
        assert!(only_results(&mut request(
            "query($t: ID!) { topicResults(topicId: $t) { overall { total } } }"
        )));
        assert!(only_results(&mut request(
            "{ a: topicResults(topicId: 1) { level } b: topicResults(topicId: 2) { level } }"
        )));
        for other in [
            "{ topicResults(topicId: 1) { level } me { id } }",
            "{ ...F } fragment F on Query { topicResults(topicId: 1) { level } }",
            "{ topicResults(topicId: 1) @include(if: true) { level } }",
            "mutation { topicResults }",
            "not graphql",
        ] {
            assert!(!only_results(&mut request(other)), "{other}");
        }
    }

    #[test]
    fn an_answer_without_counters_is_not_kept() {
        let cache = ResponseCache::default();
        let key = Key::digest(b"{}", None);
        cache.put(key, Bytes::from_static(b"x"), Vec::new());
        assert!(cache.get(&key, &TallyCache::new()).is_none());
    }

    #[test]
    fn keys_are_digests_of_body_and_credentials() {
        let body = " ".repeat(200_000);
        assert_eq!(std::mem::size_of::<Key>(), 32);
        assert_eq!(
            Key::digest(body.as_bytes(), None),
            Key::digest(body.as_bytes(), None)
        );
        assert_ne!(Key::digest(b"{}", None), Key::digest(b"{} ", None));
        assert_ne!(Key::digest(b"{}", None), Key::digest(b"{}", Some("")));
        assert_ne!(
            Key::digest(b"{}", Some("Bearer a")),
            Key::digest(b"{}", Some("Bearer b"))
        );
    }

    #[test]
    fn the_budget_counts_every_entry_and_is_never_exceeded() {
        let cache = ResponseCache::default();
        let answer = Bytes::from(vec![b'x'; 100]);
        let per_entry = Entry {
            body: answer.clone(),
            counters: vec![(1, 1)],
            stored_at: Instant::now(),
        }
        .cost();
        assert!(
            per_entry > 100 + 32,
            "key and slot are counted: {per_entry}"
        );
        // Far more entries than fit: fresh ones all, so the cache restarts.
        for i in 0..(MAX_BYTES / per_entry) * 3 {
            let key = Key::digest(&i.to_le_bytes(), None);
            cache.put(key, answer.clone(), vec![(1, 1)]);
            assert!(cache.bytes() <= MAX_BYTES);
        }
        assert!(cache.bytes() > 0);
    }
}
