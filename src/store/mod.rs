//! SQLite storage: raw messages, applications, the outbox, health facts and
//! the programme calendar; one module per table group.
//!
//! WAL with `synchronous=FULL`: a committed transaction survives a power cut, which
//! is what "accepted" means before we touch the mail on the server.
//!
//! Message, outbox, interview and notice states and mail purposes are enums
//! at this edge (`column::text_enum!`); the strings in the database are
//! the ones written before they were.

pub mod applications;
pub mod bounces;
pub mod column;
pub mod commands;
pub mod decisions;
pub mod digest;
pub mod documents;
pub mod health;
pub mod interviews;
pub mod messages;
pub mod outbox;
pub mod participants;
pub mod programme;
pub mod transient;
pub mod waiting;

#[cfg(test)]
pub(crate) mod testing;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::time::Duration;

pub type Tx<'a> = sqlx::Transaction<'a, sqlx::Sqlite>;

/// The schema, from `migrations/`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The database handle, cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the database and applies the migrations.
    pub async fn open(path: &Path) -> anyhow::Result<Store> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create database folder {}", dir.display()))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open database {}", path.display()))?;
        MIGRATOR
            .run(&pool)
            .await
            .context("cannot apply database migrations")?;
        Ok(Store { pool })
    }

    /// Opens an existing database for commands that only read: it is not
    /// created and not migrated. Refuses a database that is missing or older
    /// than this build (run the daemon, or a command that changes something,
    /// once to migrate it).
    ///
    /// NOTE: not SQLITE_OPEN_READONLY: a WAL database whose -shm file is gone
    /// (the daemon stopped and checkpointed) cannot be opened read-only.
    pub async fn open_existing(path: &Path) -> anyhow::Result<Store> {
        if !path.exists() {
            anyhow::bail!(
                "no database at {}: postbote has not run with this config yet",
                path.display()
            );
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open database {}", path.display()))?;
        let applied: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success = 1 ORDER BY version",
        )
        .fetch_all(&pool)
        .await
        .with_context(|| format!("{} is not a postbote database", path.display()))?;
        let missing = MIGRATOR
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .count();
        if missing > 0 {
            anyhow::bail!(
                "the database {} lacks {missing} migration(s) of this postbote: run a command \
                 that changes something (or the daemon) once to migrate it",
                path.display()
            );
        }
        Ok(Store { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Begins a write transaction.
    ///
    /// NOTE: `BEGIN IMMEDIATE` takes the write lock up front. A deferred
    /// transaction that reads first and writes later fails with
    /// SQLITE_BUSY_SNAPSHOT ("database is locked", code 517) when another
    /// connection wrote in between, and the busy timeout cannot help.
    pub async fn begin(&self) -> anyhow::Result<Tx<'static>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .context("cannot begin transaction")
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Timestamps are stored as fixed-width UTC text, so they sort as text.
pub fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Parses a stored timestamp.
pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub fn now() -> String {
    ts(Utc::now())
}
