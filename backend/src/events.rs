//! Live events for GraphQL subscriptions ("the results of topic 42 changed").
//!
//! Yishi instances are stateless: behind a load balancer, the instance that
//! records an opinion is rarely the one holding the WebSocket of a resident
//! watching the results. A channel inside one process therefore cannot be
//! the whole story. On SQLite there is only ever one instance, so a
//! [`tokio::sync::broadcast`] channel is enough; on PostgreSQL every instance
//! publishes through `pg_notify` and LISTENs on the same channel, re-broadcasting
//! what it hears to its local subscribers. The database is already shared by
//! all instances, so this needs no extra message broker to deploy or monitor.
//!
//! Events are hints, not data: they carry just enough to say *what* changed,
//! and a subscriber re-reads the current state from the database. That is what
//! makes best-effort delivery acceptable. A receiver that falls more than
//! [`CAPACITY`] events behind skips the ones it missed
//! ([`broadcast::error::RecvError::Lagged`]) and notifications sent while an
//! instance is reconnecting to PostgreSQL are lost; either way the next
//! re-read catches up.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// The PostgreSQL NOTIFY channel shared by every instance.
const CHANNEL: &str = "yishi_events";
/// How many events a slow subscriber may fall behind before it skips some.
pub const CAPACITY: usize = 1024;
/// Shown in `pg_stat_activity`, so operators can tell these connections apart.
const APPLICATION_NAME: &str = "yishi-events";
/// A live update must not hold up the response to a write that already
/// committed, even when PostgreSQL is slow or gone.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);
/// Bounds each reconnection attempt, so an outage shows up in the logs as
/// repeated warnings rather than as one silent, endless wait.
const LISTENER_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Results changes are sent to other instances at most this often per topic:
/// a NOTIFY per opinion would serialise commits on PostgreSQL's notification
/// queue, and live results are pushed at most every 500 ms anyway.
const RESULTS_FLUSH_INTERVAL: Duration = Duration::from_millis(50);

/// Something subscribers may want to react to. The serialised form crosses
/// instances, which may briefly run different versions during a rolling
/// deploy: add variants and fields, but do not rename or remove them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Opinions changed the tallies of a topic, or approvals its eligible
    /// base.
    TopicResultsChanged { topic_id: i64 },
    /// A topic moved to another state.
    TopicStateChanged { topic_id: i64, state: String },
    /// Sessions were signed out: their access tokens must be refused at
    /// once on every instance (see `auth::revocation`).
    SessionsRevoked { sessions: Vec<String> },
}

/// An event as it crosses instances: who sent it, so an instance can tell
/// its own events from the others'.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    /// Absent in events of versions that did not send it: treated as remote.
    #[serde(default)]
    origin: Option<String>,
    #[serde(flatten)]
    event: Event,
}

/// Publishes events and hands out subscriptions; cheap to clone, and all
/// clones share one channel.
#[derive(Clone, Debug)]
pub struct EventBus {
    sender: broadcast::Sender<Event>,
    /// Only the events other instances published.
    remote: broadcast::Sender<Event>,
    postgres: Option<Arc<PostgresLink>>,
}

/// What the bus needs to cross instances. Shared by all clones of a bus, so
/// that the listener stops once the last clone is gone.
#[derive(Debug)]
struct PostgresLink {
    pool: PgPool,
    origin: String,
    /// Topics whose results changed since the last flush.
    results_changed: Arc<Mutex<BTreeSet<i64>>>,
    listener: JoinHandle<()>,
    flusher: JoinHandle<()>,
}

impl Drop for PostgresLink {
    fn drop(&mut self) {
        // The task holds a sender: left running, it would keep every
        // subscription open and a PostgreSQL connection busy forever.
        self.listener.abort();
        self.flusher.abort();
    }
}

impl EventBus {
    /// A bus that stays inside this process: for SQLite, which has a single
    /// instance, and for tests.
    #[must_use]
    pub fn in_process() -> Self {
        let (sender, _) = broadcast::channel(CAPACITY);
        let (remote, _) = broadcast::channel(1);
        Self {
            sender,
            remote,
            postgres: None,
        }
    }

    /// A bus whose events reach the subscribers of every instance connected
    /// to the same PostgreSQL database (`url` is a `postgres://` URL).
    ///
    /// Returns once this instance is LISTENing, so an event published by any
    /// instance after that reaches this instance's subscribers.
    ///
    /// # Errors
    /// When `url` is not a PostgreSQL URL or the database cannot be reached.
    pub async fn postgres(url: &str) -> anyhow::Result<Self> {
        Self::connect(url, APPLICATION_NAME).await
    }

    async fn connect(url: &str, application_name: &str) -> anyhow::Result<Self> {
        // Not `{url}` in the message: it may hold a password.
        let options = url
            .parse::<PgConnectOptions>()
            .context("the event bus URL is not a PostgreSQL URL")?
            .application_name(application_name);
        let listener = listen(&options)
            .await
            .context("cannot LISTEN for live events on PostgreSQL")?;
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(PUBLISH_TIMEOUT)
            .connect_with(options.clone())
            .await
            .context("cannot connect to PostgreSQL to publish live events")?;
        let (sender, _) = broadcast::channel(CAPACITY);
        let (remote, _) = broadcast::channel(CAPACITY);
        let origin = uuid::Uuid::new_v4().simple().to_string();
        let listener = tokio::spawn(relay(
            listener,
            options,
            origin.clone(),
            sender.clone(),
            remote.clone(),
        ));
        let results_changed = Arc::new(Mutex::new(BTreeSet::new()));
        let flusher = tokio::spawn(flush_results(
            pool.clone(),
            origin.clone(),
            results_changed.clone(),
        ));
        Ok(Self {
            sender,
            remote,
            postgres: Some(Arc::new(PostgresLink {
                pool,
                origin,
                results_changed,
                listener,
                flusher,
            })),
        })
    }

    /// Tells the subscribers of every instance about `event`. Call it after
    /// the transaction that caused the event committed, so that subscribers
    /// re-reading the state see the change.
    ///
    /// Best effort: a failure is logged, not returned, because a missed live
    /// update must not turn an acknowledged write into an error.
    pub async fn publish(&self, event: Event) {
        let Some(link) = &self.postgres else {
            // An error only means nobody is subscribed right now.
            let _ = self.sender.send(event);
            return;
        };
        // No local send here: this instance's own listener delivers the
        // notification like everyone else's, so each subscriber sees it once.
        if let Event::TopicResultsChanged { topic_id } = event {
            link.results_changed
                .lock()
                .expect("results set poisoned")
                .insert(topic_id);
            return;
        }
        notify(&link.pool, &link.origin, event).await;
    }

    /// A receiver of the events other instances publish from now on (none
    /// on SQLite, which runs one instance).
    #[must_use]
    pub fn subscribe_remote(&self) -> broadcast::Receiver<Event> {
        self.remote.subscribe()
    }

    /// A receiver of the events published from now on, on any instance.
    ///
    /// When it lags more than [`CAPACITY`] events behind, `recv` reports
    /// [`broadcast::error::RecvError::Lagged`] and skips ahead: re-read the
    /// state and keep receiving.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}

async fn notify(pool: &PgPool, origin: &str, event: Event) {
    let envelope = Envelope {
        origin: Some(origin.to_owned()),
        event,
    };
    let payload = match serde_json::to_string(&envelope) {
        Ok(payload) => payload,
        Err(err) => {
            tracing::error!(error = %err, ?envelope, "cannot serialise a live event");
            return;
        }
    };
    let notify = sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(&payload)
        .execute(pool);
    match tokio::time::timeout(PUBLISH_TIMEOUT, notify).await {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => {
            tracing::warn!(error = %err, event = ?envelope.event, "cannot publish a live event");
        }
        Err(_) => tracing::warn!(event = ?envelope.event, "publishing a live event timed out"),
    }
}

/// Sends one notification per topic whose results changed since the last
/// round, every [`RESULTS_FLUSH_INTERVAL`].
async fn flush_results(pool: PgPool, origin: String, changed: Arc<Mutex<BTreeSet<i64>>>) {
    let mut tick = tokio::time::interval(RESULTS_FLUSH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let topics = std::mem::take(&mut *changed.lock().expect("results set poisoned"));
        for topic_id in topics {
            notify(&pool, &origin, Event::TopicResultsChanged { topic_id }).await;
        }
    }
}

/// A listener of its own (one connection, never recycled: LISTEN belongs to
/// a session) that is LISTENing on [`CHANNEL`].
async fn listen(options: &PgConnectOptions) -> Result<PgListener, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(LISTENER_CONNECT_TIMEOUT)
        .connect_with(options.clone())
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Forwards every notification to the local subscribers, for as long as the
/// bus lives.
async fn relay(
    mut listener: PgListener,
    options: PgConnectOptions,
    origin: String,
    sender: broadcast::Sender<Event>,
    remote: broadcast::Sender<Event>,
) {
    loop {
        match listener.recv().await {
            Ok(notification) => match serde_json::from_str::<Envelope>(notification.payload()) {
                // An error only means nobody is subscribed right now.
                Ok(envelope) => {
                    if envelope.origin.as_deref() != Some(origin.as_str()) {
                        drop(remote.send(envelope.event.clone()));
                    }
                    drop(sender.send(envelope.event));
                }
                // Likely an instance running a newer version: skip the event
                // rather than stop hearing the ones we understand.
                Err(err) => tracing::warn!(
                    error = %err,
                    payload = notification.payload(),
                    "ignoring a live event this version cannot read"
                ),
            },
            Err(err) => {
                // `recv` already reconnects after a dropped connection; an
                // error means it could not. Start over with a fresh listener
                // rather than trust a connection in an unknown state.
                tracing::warn!(error = %err, "lost the PostgreSQL live-event listener");
                drop(listener);
                listener = reconnect(&options).await;
            }
        }
    }
}

/// Retries [`listen`] until PostgreSQL is back, waiting a little longer after
/// each failure so an outage is not met with a storm of connections.
async fn reconnect(options: &PgConnectOptions) -> PgListener {
    let mut backoff = FIRST_BACKOFF;
    loop {
        tokio::time::sleep(backoff).await;
        match listen(options).await {
            Ok(listener) => {
                tracing::info!(
                    "live-event listener reconnected; events sent meanwhile were missed"
                );
                return listener;
            }
            Err(err) => {
                tracing::warn!(error = %err, retry_in = ?backoff, "cannot reconnect the live-event listener");
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::broadcast::{error::RecvError, Receiver};

    use super::{Event, EventBus};

    fn pg_url() -> String {
        std::env::var("YISHI_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
    }

    async fn pg_bus(application_name: &str) -> EventBus {
        let url = pg_url();
        // No skipping: a missing PostgreSQL must fail the test, not hide it.
        match EventBus::connect(&url, application_name).await {
            Ok(bus) => bus,
            Err(err) => panic!("PostgreSQL must be reachable at {url}: {err:#}"),
        }
    }

    /// Other tests share the PostgreSQL channel: a random topic keeps their
    /// events out of this test's way.
    fn random_topic() -> i64 {
        i64::from(rand::random::<u32>())
    }

    fn topic_of(event: &Event) -> i64 {
        match event {
            Event::TopicResultsChanged { topic_id } | Event::TopicStateChanged { topic_id, .. } => {
                *topic_id
            }
            Event::SessionsRevoked { .. } => -1,
        }
    }

    /// The next event about `topic_id`, or `None` if none arrives `within`.
    async fn next_about(
        rx: &mut Receiver<Event>,
        topic_id: i64,
        within: Duration,
    ) -> Option<Event> {
        let wait = async {
            loop {
                match rx.recv().await {
                    Ok(event) if topic_of(&event) == topic_id => return Some(event),
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return None,
                }
            }
        };
        tokio::time::timeout(within, wait).await.ok().flatten()
    }

    #[test]
    fn an_event_travels_as_json_tagged_with_its_type() {
        let event = Event::TopicStateChanged {
            topic_id: 7,
            state: "closed".to_owned(),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "topic_state_changed", "topic_id": 7, "state": "closed"})
        );
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
    }

    #[tokio::test]
    async fn an_in_process_event_reaches_every_subscriber() {
        let bus = EventBus::in_process();
        let mut first = bus.subscribe();
        let mut second = bus.clone().subscribe();
        let event = Event::TopicResultsChanged { topic_id: 42 };

        bus.publish(event.clone()).await;

        assert_eq!(first.try_recv().unwrap(), event);
        assert_eq!(second.try_recv().unwrap(), event);
        assert!(first.try_recv().is_err(), "delivered twice");
    }

    #[tokio::test]
    async fn publishing_with_no_subscriber_is_harmless() {
        EventBus::in_process()
            .publish(Event::TopicResultsChanged { topic_id: 1 })
            .await;
    }

    #[tokio::test]
    async fn an_event_published_on_one_instance_reaches_a_subscriber_on_another() {
        let a = pg_bus("yishi-events-test-a").await;
        let b = pg_bus("yishi-events-test-b").await;
        let mut on_a = a.subscribe();
        let mut on_b = b.subscribe();
        let topic_id = random_topic();
        let event = Event::TopicStateChanged {
            topic_id,
            state: "open".to_owned(),
        };

        a.publish(event.clone()).await;

        let within = Duration::from_secs(5);
        assert_eq!(
            next_about(&mut on_b, topic_id, within).await,
            Some(event.clone())
        );
        assert_eq!(next_about(&mut on_a, topic_id, within).await, Some(event));
        let again = Duration::from_millis(300);
        assert_eq!(
            next_about(&mut on_a, topic_id, again).await,
            None,
            "A got it twice"
        );
        assert_eq!(
            next_about(&mut on_b, topic_id, again).await,
            None,
            "B got it twice"
        );
    }

    #[tokio::test]
    async fn only_other_instances_events_reach_the_remote_subscription() {
        let a = pg_bus("yishi-events-test-ra").await;
        let b = pg_bus("yishi-events-test-rb").await;
        let mut a_remote = a.subscribe_remote();
        let mut b_remote = b.subscribe_remote();
        let topic_id = random_topic();
        let event = Event::TopicResultsChanged { topic_id };

        a.publish(event.clone()).await;

        assert_eq!(
            next_about(&mut b_remote, topic_id, Duration::from_secs(5)).await,
            Some(event)
        );
        assert_eq!(
            next_about(&mut a_remote, topic_id, Duration::from_millis(300)).await,
            None,
            "A's own event is not remote to A"
        );
    }

    #[tokio::test]
    async fn results_changes_of_one_topic_are_coalesced_into_few_notifications() {
        let a = pg_bus("yishi-events-test-ca").await;
        let b = pg_bus("yishi-events-test-cb").await;
        let mut on_b = b.subscribe();
        let topic_id = random_topic();
        for _ in 0..200 {
            a.publish(Event::TopicResultsChanged { topic_id }).await;
        }
        let mut heard = 0;
        while next_about(&mut on_b, topic_id, Duration::from_millis(500))
            .await
            .is_some()
        {
            heard += 1;
        }
        assert!(
            (1..=3).contains(&heard),
            "200 changes in a burst should arrive as 1-3 notifications, got {heard}"
        );
    }

    #[test]
    fn an_event_without_an_origin_from_an_older_instance_still_reads() {
        let envelope: super::Envelope =
            serde_json::from_str(r#"{"type":"topic_results_changed","topic_id":3}"#).unwrap();
        assert_eq!(envelope.origin, None);
        assert_eq!(envelope.event, Event::TopicResultsChanged { topic_id: 3 });
    }

    #[tokio::test]
    async fn the_listener_comes_back_after_its_connection_is_killed() {
        // A name of its own, so that only this bus's listener is killed.
        let name = format!("yishi-events-test-{}", uuid::Uuid::new_v4().simple());
        let bus = pg_bus(&name).await;
        let mut rx = bus.subscribe();
        let admin = sqlx::PgPool::connect(&pg_url()).await.unwrap();
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1 AND query ILIKE 'LISTEN%'",
        )
        .bind(&name)
        .fetch_all(&admin)
        .await
        .unwrap();
        assert_eq!(killed, [true], "expected exactly one listener connection");

        // Events sent before the listener is back are lost by design, so keep
        // publishing until one gets through.
        let topic_id = random_topic();
        let event = Event::TopicResultsChanged { topic_id };
        let heard = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                bus.publish(event.clone()).await;
                if let Some(heard) = next_about(&mut rx, topic_id, Duration::from_millis(200)).await
                {
                    return heard;
                }
            }
        })
        .await
        .expect("the listener did not come back within 10 s");
        assert_eq!(heard, event);
    }
}
