//! Open topics as submissions need them, held briefly in memory so that a
//! storm of opinions does not read the same topic row thousands of times a
//! second.
//!
//! Only for the submission path, where it is safe: the group-commit writer
//! checks in its transaction that each topic is still open before writing
//! (see `opinions::write_online_batch`), and the fields read from here besides
//! the state (kind, scope, eligibility, options, reason rule) no longer change
//! once a topic is announced. A move of this instance forgets the topic at
//! once; a copy that refuses an opinion is read again before the refusal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;

use super::model::{self, Topic, TopicOption};
use crate::error::Result;

/// How long a topic is served from memory before it is read again.
const TTL: Duration = Duration::from_secs(2);
/// Topics held at most; beyond it the cache starts over.
const CAPACITY: usize = 1024;

/// A topic with what a submission needs of it.
#[derive(Debug, Clone)]
pub struct CachedTopic {
    pub topic: Topic,
    /// Empty unless the topic is a `CHOICE` topic.
    pub options: Vec<TopicOption>,
}

impl CachedTopic {
    /// Reads the topic, and its options when it has any.
    ///
    /// # Errors
    /// `NOT_FOUND` for an unknown topic, or a database error.
    pub async fn read(db: &impl ConnectionTrait, id: i64) -> Result<Self> {
        let topic = model::get(db, id).await?;
        let options = if model::Kind::parse(&topic.kind) == Some(model::Kind::Choice) {
            model::options(db, id).await?
        } else {
            Vec::new()
        };
        Ok(Self { topic, options })
    }
}

/// Each topic with the moment it was read.
type Entries = HashMap<i64, (Arc<CachedTopic>, Instant)>;

#[derive(Clone, Debug, Default)]
pub struct TopicCache {
    entries: Arc<Mutex<Entries>>,
}

impl TopicCache {
    /// The topic and its options, from memory when read less than [`TTL`] ago.
    ///
    /// # Errors
    /// `NOT_FOUND` for an unknown topic, or a database error.
    pub async fn get(&self, db: &impl ConnectionTrait, id: i64) -> Result<Arc<CachedTopic>> {
        if let Some((cached, at)) = self.entries.lock().expect("topic cache poisoned").get(&id) {
            if at.elapsed() < TTL {
                return Ok(cached.clone());
            }
        }
        let cached = Arc::new(CachedTopic::read(db, id).await?);
        let mut entries = self.entries.lock().expect("topic cache poisoned");
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(id, (cached.clone(), Instant::now()));
        Ok(cached)
    }

    /// Drops a topic after it changed.
    pub fn forget(&self, id: i64) {
        self.entries
            .lock()
            .expect("topic cache poisoned")
            .remove(&id);
    }
}
