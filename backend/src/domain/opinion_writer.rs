//! Group commit for opinions, on SQLite and PostgreSQL alike.
//!
//! Each commit waits for the disk. When a topic opens and thousands of
//! residents answer at once, one transaction per opinion makes the disk (and,
//! on PostgreSQL, the round trips of a transaction's statements) the
//! bottleneck. Here a writer task takes every submission waiting
//! at that moment, writes them together in one transaction, commits once, and
//! only then answers each request: an acknowledged opinion is on disk, and the
//! disk sees one commit per batch. When the batch cannot be written together,
//! each submission is written on its own (see [`one_by_one`]), so a failing
//! one does not affect its neighbours.
//!
//! On PostgreSQL several batches may be in flight at once (several instances
//! on one database, or `YISHI_OPINION_WRITERS` above one); they lock opinion
//! rows in (topic, resident) order and counter rows in key order, so they
//! wait for each other rather than deadlock.

use std::collections::BTreeSet;

use sea_orm::TransactionTrait;
use tokio::sync::{mpsc, oneshot};

use super::opinions::{write_batch, write_pending, Opinion, Pending};
use super::tally_cache::TallyMove;
use super::Services;
use crate::error::{is_deadlock_or_serialization_failure, is_unique_violation, Error, Result};
use crate::events::Event;

/// Submissions that may share one transaction.
const MAX_BATCH: usize = 512;
/// Submissions that may wait for the writer before callers are told to
/// retry.
const QUEUE: usize = 16_384;

type Job = (Pending, oneshot::Sender<Result<Opinion>>);

#[derive(Clone, Debug)]
pub struct OpinionWriter {
    jobs: mpsc::Sender<Job>,
}

impl OpinionWriter {
    /// Starts the writer task; it ends when the last handle is dropped.
    /// `svc` must not itself hold a writer (its opinions are written here).
    pub fn spawn(svc: Services) -> Self {
        debug_assert!(svc.opinion_writer.is_none());
        let (jobs, rx) = mpsc::channel(QUEUE);
        // On PostgreSQL, while one batch waits for its commit the next can
        // be written; SQLite has one writing connection.
        let writers = match svc.db.backend() {
            sea_orm::DatabaseBackend::Postgres => svc.settings.opinion_writers,
            _ => 1,
        };
        let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..writers {
            tokio::spawn(run(svc.clone(), rx.clone()));
        }
        Self { jobs }
    }

    /// Queues `pending` and waits until the batch holding it has committed.
    ///
    /// # Errors
    /// The opinion's own error, the batch's commit error, or
    /// `RATE_LIMITED` when the queue is full.
    pub(crate) async fn write(&self, pending: Pending) -> Result<Opinion> {
        let (reply, answer) = oneshot::channel();
        self.jobs.try_send((pending, reply)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Error::RateLimited {
                retry_after_secs: 1,
            },
            mpsc::error::TrySendError::Closed(_) => {
                Error::internal(anyhow::anyhow!("opinion writer stopped"))
            }
        })?;
        answer
            .await
            .map_err(|_| Error::internal(anyhow::anyhow!("opinion writer dropped a submission")))?
    }
}

/// One writer: takes what is waiting (holding the queue only while taking
/// it), writes it, and goes back for more.
async fn run(svc: Services, rx: std::sync::Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    loop {
        let taken = rx.lock().await.recv_many(&mut batch, MAX_BATCH).await;
        if taken == 0 {
            break;
        }
        commit_batch(&svc, &mut batch).await;
        batch.clear();
    }
}

async fn commit_batch(svc: &Services, batch: &mut Vec<Job>) {
    metrics::histogram!("opinion_batch_size").record(batch.len() as f64);
    let guard = svc.tallies.write_guard().await;
    let written = match together(svc, batch).await {
        Some(Ok(written)) => Ok(written),
        Some(Err(err)) => {
            // Most likely one submission the one-by-one path fails alone.
            tracing::debug!(error = ?err, size = batch.len(), "batch write failed; writing one by one");
            one_by_one(svc, batch).await
        }
        None => one_by_one(svc, batch).await,
    };
    match written {
        Ok((results, moves)) => {
            svc.tallies.apply(&guard, &moves);
            drop(guard);
            let topics: BTreeSet<i64> = batch
                .iter()
                .zip(&results)
                .filter(|(_, r)| r.is_ok())
                .map(|((p, _), _)| p.topic_id())
                .collect();
            for ((_, reply), result) in batch.drain(..).zip(results) {
                let _ = reply.send(result);
            }
            for topic_id in topics {
                svc.events
                    .publish(Event::TopicResultsChanged { topic_id })
                    .await;
            }
        }
        Err(err) => {
            tracing::error!(error = ?err, size = batch.len(), "opinion batch failed; nothing in it was saved");
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(Err(Error::internal(anyhow::anyhow!(
                    "the batch holding this opinion failed"
                ))));
            }
        }
    }
}

type BatchOutcome = (Vec<Result<Opinion>>, Vec<TallyMove>);

/// The whole batch in a few statements; `None` when it cannot go that way.
async fn together(svc: &Services, batch: &[Job]) -> Option<Result<BatchOutcome>> {
    let pendings: Vec<&Pending> = batch.iter().map(|(p, _)| p).collect();
    let txn = match svc.db.begin().await {
        Ok(txn) => txn,
        Err(err) => return Some(Err(err.into())),
    };
    let written = match write_batch(svc, &txn, &pendings).await? {
        Ok(written) => written,
        Err(err) => {
            let _ = txn.rollback().await;
            return Some(Err(err));
        }
    };
    if let Err(err) = txn.commit().await {
        return Some(Err(err.into()));
    }
    let mut moves = Vec::with_capacity(written.len());
    let results = written
        .into_iter()
        .map(|result| {
            result.map(|(opinion, opinion_moves)| {
                moves.extend(opinion_moves);
                opinion
            })
        })
        .collect();
    Some(Ok((results, moves)))
}

/// Each submission on its own, so a failing one does not affect its
/// neighbours: in a savepoint of one shared transaction on SQLite (one
/// writer, one commit for the batch), in a transaction of its own on
/// PostgreSQL, where holding one opinion's counter locks while writing the
/// next could meet another instance's batch holding them the other way
/// round.
async fn one_by_one(svc: &Services, batch: &[Job]) -> Result<BatchOutcome> {
    let mut results: Vec<Result<Opinion>> = Vec::with_capacity(batch.len());
    let mut moves = Vec::with_capacity(batch.len());
    let shared = match svc.db.backend() {
        sea_orm::DatabaseBackend::Postgres => None,
        _ => Some(svc.db.begin().await?),
    };
    for (pending, _) in batch {
        let mut attempts = 0;
        let result = loop {
            attempts += 1;
            let txn = match &shared {
                Some(shared) => shared.begin().await?,
                None => svc.db.begin().await?,
            };
            let written = match write_pending(svc, &txn, pending).await {
                Ok(written) => txn.commit().await.map(|()| written).map_err(Error::from),
                Err(err) => {
                    txn.rollback().await?;
                    Err(err)
                }
            };
            match written {
                Ok((opinion, opinion_moves)) => {
                    moves.extend(opinion_moves);
                    break Ok(opinion);
                }
                Err(err) if worth_retrying(&err) && attempts < 3 => continue,
                Err(err) if worth_retrying(&err) => {
                    break Err(Error::conflict(
                        "your opinion changed at the same time elsewhere; try again",
                    ))
                }
                Err(err) => break Err(err),
            }
        };
        results.push(result);
    }
    if let Some(shared) = shared {
        shared.commit().await?;
    }
    Ok((results, moves))
}

/// Whether writing an opinion again may succeed: the same resident's first
/// opinion was committed meanwhile by another instance (written again, it
/// becomes a change of that one), or PostgreSQL broke a deadlock or a
/// serialization conflict by failing this statement.
fn worth_retrying(err: &Error) -> bool {
    let Error::Internal(e) = err else {
        return false;
    };
    let Some(db) = e.downcast_ref::<sea_orm::DbErr>() else {
        return false;
    };
    is_unique_violation(db) || is_deadlock_or_serialization_failure(db)
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait};

    use super::*;
    use crate::domain::topics::Choice;
    use crate::entities::{topics, users};

    async fn sqlite_services(dir: &std::path::Path) -> Services {
        let url = format!("sqlite://{}/yishi.db?mode=rwc", dir.display());
        let settings = crate::config::Settings::from_lookup(|name| match name {
            "DATABASE_URL" => Some(url.clone()),
            "YISHI_JWT_SECRET" => Some("writer-test-secret-writer-test-secret".into()),
            "YISHI_DATA_DIR" => Some(dir.display().to_string()),
            "YISHI_ARGON2_MEMORY_KIB" => Some("64".into()),
            _ => None,
        })
        .unwrap();
        let svc = crate::init_services(settings).await.unwrap();
        svc.db.migrate().await.unwrap();
        svc
    }

    /// A user and an open province topic, written straight to the database.
    async fn user_and_topic(svc: &Services) -> (users::Model, topics::Model) {
        let now = svc.now();
        let user = users::ActiveModel {
            email: Set("w@example.cn".into()),
            password_hash: Set("x".into()),
            display_name: Set("w".into()),
            locale: Set("zh-CN".into()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(svc.db.writer())
        .await
        .unwrap();
        svc.db
            .writer()
            .execute_unprepared("INSERT INTO divisions (code, name, level, parent_code, updated_at) VALUES ('62', '甘肃省', 'province', NULL, '2026-01-01T00:00:00Z')")
            .await
            .unwrap();
        let topic = topics::ActiveModel {
            title: Set("t".into()),
            body: Set("b".into()),
            category: Set("other".into()),
            kind: Set("decision".into()),
            scope_code: Set("62".into()),
            technical: Set(false),
            reason_required_for_dissent: Set(false),
            eligibility: Set("residents".into()),
            state: Set("open".into()),
            created_by: Set(user.id),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(svc.db.writer())
        .await
        .unwrap();
        (user, topic)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_opinion_does_not_sink_the_batch_it_shares() {
        let dir = tempfile::tempdir().unwrap();
        let svc = sqlite_services(dir.path()).await;
        let writer = svc
            .opinion_writer
            .clone()
            .expect("SQLite gets a group-commit writer");
        let (user, topic) = user_and_topic(&svc).await;
        // A topic that does not exist: the foreign key refuses this one.
        let ghost = topics::Model {
            id: 999_999,
            ..topic.clone()
        };
        let good = writer.write(Pending::online(
            topic.clone(),
            user.id,
            "620123101201",
            Choice::Support,
        ));
        let bad = writer.write(Pending::online(
            ghost,
            user.id,
            "620123101201",
            Choice::Support,
        ));
        let (good, bad) = tokio::join!(good, bad);
        assert!(good.is_ok(), "{good:?}");
        assert!(bad.is_err());
        let n = svc
            .db
            .reader()
            .query_one(sea_orm::Statement::from_string(
                svc.db.backend(),
                "SELECT COUNT(*) FROM opinions",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        assert_eq!(n, 1);
        let tally = svc
            .db
            .reader()
            .query_one(sea_orm::Statement::from_string(
                svc.db.backend(),
                "SELECT CAST(SUM(count) AS BIGINT) FROM tallies",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        assert_eq!(
            tally, 1,
            "the failed opinion's counter change was rolled back with it"
        );
    }

    async fn count(svc: &Services, sql: &str) -> i64 {
        svc.db
            .reader()
            .query_one(sea_orm::Statement::from_string(svc.db.backend(), sql))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_resident_changing_their_mind_within_one_batch_is_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        let svc = sqlite_services(dir.path()).await;
        let writer = svc.opinion_writer.clone().unwrap();
        let (user, topic) = user_and_topic(&svc).await;
        let write = |choice| {
            writer.write(Pending::online(
                topic.clone(),
                user.id,
                "620123101201",
                choice,
            ))
        };
        let (a, b, c) = tokio::join!(
            write(Choice::Support),
            write(Choice::Oppose),
            write(Choice::Support)
        );
        let mut revisions: Vec<i32> = [a, b, c].into_iter().map(|r| r.unwrap().revision).collect();
        revisions.sort_unstable();
        assert_eq!(revisions, [1, 2, 3]);
        assert_eq!(count(&svc, "SELECT COUNT(*) FROM opinions").await, 1);
        assert_eq!(
            count(&svc, "SELECT COUNT(*) FROM opinion_revisions").await,
            3
        );
        let current = count(
            &svc,
            "SELECT CASE choice WHEN 'support' THEN 1 ELSE 0 END FROM opinions",
        )
        .await;
        assert_eq!(
            count(&svc, "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM tallies WHERE choice = 'support'").await,
            current
        );
        assert_eq!(
            count(
                &svc,
                "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM tallies"
            )
            .await,
            1,
            "one resident, one response"
        );
    }
}
