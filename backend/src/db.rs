//! Database connections: one writer and a pool of readers on SQLite, one pool
//! on PostgreSQL.
//!
//! SQLite allows one writer at a time. Rather than let a pool of connections
//! fight over the lock (and hand users `database is locked`), every write in
//! this process goes through a pool of exactly one connection: writers queue
//! in the pool, not in SQLite. Readers use their own read-only pool and, thanks
//! to WAL, never wait for the writer.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use migration::MigratorTrait;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction,
    SqlxPostgresConnector, SqlxSqliteConnector, TransactionTrait,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// How long a connection request may wait (the writer queue under a burst).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long SQLite waits on a lock held by another process (e.g. the CLI).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Rows a SQLite connection thread may hand over before the reader takes
/// them: more than a batch of opinions returns.
const ROW_BUFFER: usize = 1024;
/// Connections to PostgreSQL per instance.
const PG_POOL_SIZE: u32 = 16;
/// Prepared statements kept per PostgreSQL connection.
const PG_STATEMENT_CACHE: usize = 24;
/// The PostgreSQL advisory lock held while migrating (`yishi_mg` in ASCII).
const MIGRATION_LOCK: i64 = 0x7969_7368_695f_6d67;

#[derive(Clone, Debug)]
pub struct Db {
    writer: DatabaseConnection,
    reader: DatabaseConnection,
}

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`).
    ///
    /// # Errors
    /// When the URL is malformed or the database cannot be opened.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Self::connect_sqlite(url).await
        } else {
            Self::connect_postgres(url).await
        }
    }

    async fn connect_sqlite(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("DATABASE_URL {url:?} is not a SQLite URL"))?
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before the request is answered.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("temp_store", "memory")
            // The writer's page cache (KiB): the index pages a batch of
            // opinions touches stay in it.
            .pragma("cache_size", "-16000")
            // A batch reads back hundreds of rows; with sqlx's default of 50
            // the connection thread blocks, and is woken again, for every
            // row past the 50th.
            .row_buffer_size(ROW_BUFFER);
        if let Some(dir) = options.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .with_context(|| format!("cannot open SQLite database {url}"))?;
        let readers = std::thread::available_parallelism().map_or(4, |n| n.get() * 2);
        let reader = SqlitePoolOptions::new()
            .max_connections(readers as u32)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(
                options
                    .read_only(true)
                    .create_if_missing(false)
                    // Readers serve lists and lookups (results come from
                    // counters in memory); each keeps a smaller cache.
                    .pragma("cache_size", "-8000"),
            )
            .await
            .with_context(|| format!("cannot open SQLite database {url} for reading"))?;
        Ok(Self {
            writer: SqlxSqliteConnector::from_sqlx_sqlite_pool(writer),
            reader: SqlxSqliteConnector::from_sqlx_sqlite_pool(reader),
        })
    }

    async fn connect_postgres(url: &str) -> anyhow::Result<Self> {
        // Batches of opinions are written with multi-row statements whose
        // text (and cached metadata, thousands of parameters each) differs
        // with the batch size; a short per-connection cache keeps that
        // memory small, and the hot single-row statements stay in it.
        let options = PgConnectOptions::from_str(url)
            .with_context(|| format!("DATABASE_URL {url:?} is not a PostgreSQL URL"))?
            .statement_cache_capacity(PG_STATEMENT_CACHE);
        let pool = PgPoolOptions::new()
            .max_connections(PG_POOL_SIZE)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .with_context(|| format!("cannot connect to PostgreSQL at {}", redact(url)))?;
        let conn = SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
        Ok(Self {
            writer: conn.clone(),
            reader: conn,
        })
    }

    /// Brings the schema up to date.
    ///
    /// # Errors
    /// When a migration fails.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        if self.backend() != DatabaseBackend::Postgres {
            return migration::Migrator::up(&self.writer, None)
                .await
                .context("migration failed");
        }
        // Instances starting together would apply the same migrations side
        // by side, and all but one fail. The migrations run in one
        // transaction on PostgreSQL; an advisory lock taken in it first makes
        // the others wait, then find nothing left to do.
        let txn = self.writer.begin().await.context("migration failed")?;
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
            .await
            .context("cannot take the migration lock")?;
        migration::Migrator::up(&txn, None)
            .await
            .context("migration failed")?;
        txn.commit().await.context("migration failed")
    }

    /// For reads that need not see the very latest write.
    pub fn reader(&self) -> &DatabaseConnection {
        &self.reader
    }

    /// The single writer (SQLite) or the pool (PostgreSQL).
    pub fn writer(&self) -> &DatabaseConnection {
        &self.writer
    }

    /// Begins a write transaction; on SQLite it waits its turn for the writer.
    ///
    /// # Errors
    /// When no connection can be had.
    pub async fn begin(&self) -> Result<DatabaseTransaction, sea_orm::DbErr> {
        self.writer.begin().await
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.writer.get_database_backend()
    }

    /// A cheap round trip on both pools, for `/readyz`.
    ///
    /// # Errors
    /// When either pool cannot run a query.
    pub async fn ping(&self) -> Result<(), sea_orm::DbErr> {
        self.reader.execute_unprepared("SELECT 1").await?;
        self.writer.ping().await
    }

    /// Writes a consistent copy of a SQLite database to `path` while the
    /// server keeps taking writes (`VACUUM INTO` reads one snapshot).
    ///
    /// # Errors
    /// On PostgreSQL (use `pg_dump`), when `path` exists, or on I/O errors.
    pub async fn backup(&self, path: &std::path::Path) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.backend() == DatabaseBackend::Sqlite,
            "yishi backup copies SQLite databases; for PostgreSQL use pg_dump"
        );
        anyhow::ensure!(
            !path.exists(),
            "{} exists already; choose a new file",
            path.display()
        );
        let target = path.to_str().context("the backup path is not UTF-8")?;
        self.reader
            .execute(sea_orm::Statement::from_sql_and_values(
                DatabaseBackend::Sqlite,
                "VACUUM INTO ?",
                [target.into()],
            ))
            .await
            .with_context(|| format!("cannot write the backup to {}", path.display()))?;
        Ok(())
    }

    pub async fn close(self) {
        let _ = self.reader.close().await;
        let _ = self.writer.close().await;
    }
}

/// The `n`th bind parameter in raw SQL for `backend` (`$1` or `?1`).
pub fn param(backend: DatabaseBackend, n: usize) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    }
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{user}@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_hides_the_password() {
        assert_eq!(
            super::redact("postgres://yishi:s3cret@db:5432/yishi"),
            "postgres://yishi@db:5432/yishi"
        );
        assert_eq!(
            super::redact("sqlite://data/yishi.db"),
            "sqlite://data/yishi.db"
        );
    }
}
