//! The raw baseline: a minimal axum handler that takes the same request as
//! `submitOpinion` (same URL, bearer token and JSON body), checks the token
//! with the server's key, and writes the opinion row with one plain SQL
//! statement. `group` mode batches concurrent requests into one transaction
//! (each answered after its commit; on PostgreSQL the batch is one
//! multi-row statement); `per-request` gives each its own.
//!
//! It writes the opinion row only (no revision, no counters, no eligibility
//! or topic checks): the ceiling the real server is compared with.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use tokio::sync::{mpsc, oneshot, Mutex};
use yishi::auth::jwt::JwtKeys;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Concurrent requests share one transaction.
    Group,
    /// One transaction per request.
    PerRequest,
}

#[derive(Debug, clap::Args)]
pub struct BaselineArgs {
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    #[arg(long, env = "YISHI_JWT_SECRET")]
    jwt_secret: String,
    #[arg(long, default_value = "127.0.0.1:8090")]
    bind: SocketAddr,
    #[arg(long, value_enum, default_value_t = Mode::Group)]
    mode: Mode,
    /// Writer tasks in group mode (SQLite always uses one).
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// Most requests committed together.
    #[arg(long, default_value_t = 1024)]
    max_batch: usize,
}

const SQLITE_INSERT: &str =
    "INSERT INTO opinions (topic_id, user_id, village_code, choice, reason, proxy, \
     revision, created_at, updated_at) VALUES (?1, ?2, (SELECT division_code FROM residencies \
     WHERE user_id = ?2 AND status = 'approved'), ?3, NULL, 0, 1, ?4, ?4) \
     ON CONFLICT (topic_id, user_id) DO UPDATE SET choice = excluded.choice, \
     revision = opinions.revision + 1, updated_at = excluded.updated_at RETURNING id";
const PG_INSERT: &str =
    "INSERT INTO opinions (topic_id, user_id, village_code, choice, reason, proxy, \
     revision, created_at, updated_at) VALUES ($1, $2, (SELECT division_code FROM residencies \
     WHERE user_id = $2 AND status = 'approved'), $3, NULL, false, 1, $4, $4) \
     ON CONFLICT (topic_id, user_id) DO UPDATE SET choice = excluded.choice, \
     revision = opinions.revision + 1, updated_at = excluded.updated_at RETURNING id";

/// Group mode on PostgreSQL: the batch in one statement. A user twice in
/// one batch would make ON CONFLICT fail the batch (the load never does it).
const PG_INSERT_BATCH: &str = "INSERT INTO opinions (topic_id, user_id, village_code, choice, reason, \
     proxy, revision, created_at, updated_at) SELECT b.topic_id, b.user_id, r.division_code, b.choice, \
     NULL, false, 1, $4, $4 FROM UNNEST($1::BIGINT[], $2::INT[], $3::TEXT[]) AS b(topic_id, user_id, choice) \
     JOIN residencies r ON r.user_id = b.user_id AND r.status = 'approved' \
     ON CONFLICT (topic_id, user_id) DO UPDATE SET choice = excluded.choice, \
     revision = opinions.revision + 1, updated_at = excluded.updated_at RETURNING id, user_id";

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

struct Job {
    topic_id: i64,
    user_id: i32,
    choice: &'static str,
    reply: oneshot::Sender<Result<i64, String>>,
}

struct App {
    keys: JwtKeys,
    pool: Pool,
    queue: Option<mpsc::Sender<Job>>,
}

pub async fn run(args: BaselineArgs) -> anyhow::Result<()> {
    let pool = if args.database_url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(&args.database_url)?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // As in Yishi: a batch's RETURNING rows come back without the
            // connection thread blocking on sqlx's 50-row channel.
            .row_buffer_size(1024);
        Pool::Sqlite(
            SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(options)
                .await
                .context("cannot open SQLite")?,
        )
    } else {
        let writers = u32::try_from(args.writers.max(1))?;
        let max = if args.mode == Mode::Group {
            writers
        } else {
            32
        };
        Pool::Pg(
            PgPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(PgConnectOptions::from_str(&args.database_url)?)
                .await
                .context("cannot connect to PostgreSQL")?,
        )
    };
    let queue = if args.mode == Mode::Group {
        let (tx, rx) = mpsc::channel::<Job>(65_536);
        let rx = Arc::new(Mutex::new(rx));
        let writers = match pool {
            Pool::Sqlite(_) => 1,
            Pool::Pg(_) => args.writers.max(1),
        };
        for _ in 0..writers {
            tokio::spawn(writer(pool.clone(), rx.clone(), args.max_batch.max(1)));
        }
        Some(tx)
    } else {
        None
    };
    let app = Arc::new(App {
        keys: JwtKeys::new(args.jwt_secret.as_bytes(), Duration::from_secs(900)),
        pool,
        queue,
    });
    let router = Router::new()
        .route("/graphql", post(submit))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    eprintln!("baseline ({:?}) on {}", args.mode, args.bind);
    axum::serve(listener, router).await?;
    Ok(())
}

/// Takes what is queued (up to `max_batch`), writes it in one transaction,
/// then answers each request.
async fn writer(pool: Pool, rx: Arc<Mutex<mpsc::Receiver<Job>>>, max_batch: usize) {
    loop {
        let mut jobs = Vec::with_capacity(max_batch);
        {
            let mut rx = rx.lock().await;
            if rx.recv_many(&mut jobs, max_batch).await == 0 {
                return;
            }
        }
        let result = write_batch(&pool, &jobs).await;
        match result {
            Ok(ids) => {
                for (job, id) in jobs.into_iter().zip(ids) {
                    let _ = job.reply.send(id);
                }
            }
            Err(e) => {
                let message = e.to_string();
                for job in jobs {
                    let _ = job.reply.send(Err(message.clone()));
                }
            }
        }
    }
}

async fn write_batch(pool: &Pool, jobs: &[Job]) -> anyhow::Result<Vec<Result<i64, String>>> {
    let now = Utc::now();
    let mut ids = Vec::with_capacity(jobs.len());
    match pool {
        Pool::Sqlite(pool) => {
            let mut txn = pool.begin().await?;
            for job in jobs {
                // SQLite rolls back the failing statement only.
                ids.push(
                    sqlx::query_scalar::<_, i64>(SQLITE_INSERT)
                        .bind(job.topic_id)
                        .bind(job.user_id)
                        .bind(job.choice)
                        .bind(now)
                        .fetch_one(&mut *txn)
                        .await
                        .map_err(|e| e.to_string()),
                );
            }
            txn.commit().await?;
        }
        Pool::Pg(pool) => {
            // One statement for the whole batch (one round trip): the rows
            // come back with their user, in no particular order.
            let topics: Vec<i64> = jobs.iter().map(|j| j.topic_id).collect();
            let users: Vec<i32> = jobs.iter().map(|j| j.user_id).collect();
            let choices: Vec<&str> = jobs.iter().map(|j| j.choice).collect();
            let mut txn = pool.begin().await?;
            let rows: Vec<(i64, i32)> = sqlx::query_as(PG_INSERT_BATCH)
                .bind(&topics)
                .bind(&users)
                .bind(&choices)
                .bind(now)
                .fetch_all(&mut *txn)
                .await?;
            txn.commit().await?;
            let by_user: std::collections::HashMap<i32, i64> =
                rows.into_iter().map(|(id, user)| (user, id)).collect();
            ids.extend(jobs.iter().map(|j| {
                by_user
                    .get(&j.user_id)
                    .copied()
                    .ok_or_else(|| "no row written".to_owned())
            }));
        }
    }
    Ok(ids)
}

async fn write_one(pool: &Pool, topic_id: i64, user_id: i32, choice: &str) -> anyhow::Result<i64> {
    let now = Utc::now();
    Ok(match pool {
        Pool::Sqlite(pool) => {
            let mut txn = pool.begin().await?;
            let id = sqlx::query_scalar::<_, i64>(SQLITE_INSERT)
                .bind(topic_id)
                .bind(user_id)
                .bind(choice)
                .bind(now)
                .fetch_one(&mut *txn)
                .await?;
            txn.commit().await?;
            id
        }
        Pool::Pg(pool) => {
            let mut txn = pool.begin().await?;
            let id = sqlx::query_scalar::<_, i64>(PG_INSERT)
                .bind(topic_id)
                .bind(user_id)
                .bind(choice)
                .bind(now)
                .fetch_one(&mut *txn)
                .await?;
            txn.commit().await?;
            id
        }
    })
}

fn gql_error(message: &str) -> Response {
    let body = serde_json::json!({ "errors": [{ "message": message }] });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn submit(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(user_id) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| app.keys.verify(t).ok())
        .and_then(|c| c.user_id())
    else {
        return gql_error("UNAUTHENTICATED");
    };
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return gql_error("malformed JSON");
    };
    let vars = &request["variables"];
    let topic_id = vars["t"]
        .as_str()
        .and_then(|t| t.parse::<i64>().ok())
        .or_else(|| vars["t"].as_i64());
    let choice = match vars["s"].as_str() {
        Some("SUPPORT") => "support",
        Some("OPPOSE") => "oppose",
        Some("ABSTAIN") => "abstain",
        _ => return gql_error("stance: choose SUPPORT, OPPOSE or ABSTAIN"),
    };
    let Some(topic_id) = topic_id else {
        return gql_error("topicId missing");
    };
    let result = match &app.queue {
        Some(queue) => {
            let (reply, answer) = oneshot::channel();
            let job = Job {
                topic_id,
                user_id,
                choice,
                reply,
            };
            if queue.send(job).await.is_err() {
                return gql_error("writer stopped");
            }
            answer
                .await
                .unwrap_or_else(|_| Err("writer dropped the request".into()))
        }
        None => write_one(&app.pool, topic_id, user_id, choice)
            .await
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(id) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            format!(r#"{{"data":{{"submitOpinion":{{"id":"{id}"}}}}}}"#),
        )
            .into_response(),
        Err(e) => gql_error(&e),
    }
}
