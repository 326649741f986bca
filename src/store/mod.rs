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
pub mod backup;
pub mod bounces;
pub mod column;
pub mod commands;
pub mod decisions;
pub mod digest;
pub mod documents;
pub mod health;
pub mod instance_key;
pub mod interviews;
pub mod lock;
pub mod messages;
pub mod outbox;
pub mod overview;
pub mod ownership;
pub mod participants;
pub mod privacy;
pub mod programme;
pub mod programmes;
pub mod retention;
pub mod transient;
pub mod waiting;
pub mod welcome;

#[cfg(test)]
pub(crate) mod testing;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A write transaction (`BEGIN IMMEDIATE`) that holds the store's write
/// gate until it ends. Derefs to the connection like `sqlx::Transaction`,
/// so queries take `&mut *tx` (or `&mut **tx` through a `&mut Tx`).
pub struct Tx<'a> {
    inner: sqlx::Transaction<'a, sqlx::Sqlite>,
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Tx<'_> {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.inner.rollback().await
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl std::ops::DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

/// How long a writer waits for the write gate before it goes on without
/// it (and SQLite's busy timeout decides): as long as that timeout, so a
/// transaction that is never given back costs what it did without a gate.
const GATE_WAIT: Duration = Duration::from_secs(10);

/// The schema, from `migrations/`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The database handle, cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    /// Writers of this process queue here, in order, instead of meeting
    /// at SQLite's lock.
    ///
    /// NOTE: SQLite's busy handler polls the lock with sleeps of up to
    /// 100 ms. Under a backlog the intake's commits, the sender's claims
    /// and its outcome records met there all the time: the sender slept
    /// for most of the backlog. Other processes (the CLI) still meet the
    /// daemon at SQLite's lock, with the busy timeout.
    gate: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// Why a command refuses to work on a database: its schema is not the one
/// this binary knows.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "no database at {0}: postbote has not run with this config yet (start the daemon, or run \
         `postbote migrate`)"
    )]
    Missing(PathBuf),
    #[error(
        "the database {0} has no postbote schema yet: run `postbote migrate` (the daemon also \
         migrates at its start; if it is starting now, try again in a moment)"
    )]
    Uninitialised(PathBuf),
    #[error(
        "the database {path} was migrated by a newer postbote: migration(s) {} unknown to this \
         binary (postbote {}); use that newer postbote, or restore a backup made before the \
         upgrade", list(.unknown), env!("CARGO_PKG_VERSION")
    )]
    Newer { path: PathBuf, unknown: Vec<i64> },
    #[error(
        "the database {path} lacks {pending} migration(s) of this postbote: run `postbote \
         migrate` (the daemon also migrates at its start; if it is starting now, try again in a \
         moment)"
    )]
    Older { path: PathBuf, pending: usize },
    #[error(
        "migration {version} of the database {path} failed half-way: restore a backup (see \
         `postbote backup`)"
    )]
    Dirty { path: PathBuf, version: i64 },
}

fn list(versions: &[i64]) -> String {
    versions
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The permissions of the database and its `-wal`/`-shm` files.
pub const FILE_MODE: u32 = 0o600;

impl Store {
    /// Opens (creating if needed) the database and applies the migrations.
    /// Only the daemon (`postbote run`) and `postbote migrate` do this, under
    /// the database lock ([`lock::DatabaseLock`]); every other command uses
    /// [`Store::open_existing`]. Refuses a database migrated by a newer
    /// postbote.
    pub async fn open(path: &Path) -> anyhow::Result<Store> {
        Ok(Self::open_and_migrate(path).await?.0)
    }

    /// Like [`Store::open`]; also returns the versions of the migrations it
    /// applied now.
    pub async fn open_and_migrate(path: &Path) -> anyhow::Result<(Store, Vec<i64>)> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create database folder {}", dir.display()))?;
        }
        create_private(path)?;
        restrict_files(path);
        let store = Self::connect(path, true, 4).await?;
        let schema = store.schema().await?;
        if let Some(version) = schema.dirty {
            let path = path.to_path_buf();
            return Err(SchemaError::Dirty { path, version }.into());
        }
        if !schema.unknown.is_empty() {
            let path = path.to_path_buf();
            let unknown = schema.unknown;
            return Err(SchemaError::Newer { path, unknown }.into());
        }
        if !schema.pending.is_empty() {
            migrate(path).await?;
        }
        // The -wal and -shm files SQLite made take the database's mode.
        restrict_files(path);
        Ok((store, schema.pending))
    }

    /// Opens an existing database for every command but `run` and
    /// `migrate`: it is neither created nor migrated. Refuses ([`SchemaError`])
    /// a database that is missing, not migrated yet, older than this binary
    /// (run `postbote migrate`) or newer (migrations this binary does not
    /// know).
    ///
    /// NOTE: not SQLITE_OPEN_READONLY: a WAL database whose -shm file is gone
    /// (the daemon stopped and checkpointed) cannot be opened read-only; and
    /// some of these commands change data.
    pub async fn open_existing(path: &Path) -> anyhow::Result<Store> {
        if !path.exists() {
            return Err(SchemaError::Missing(path.to_path_buf()).into());
        }
        restrict_files(path);
        let store = Self::connect(path, false, 2).await?;
        let schema = store.schema().await?;
        let path = path.to_path_buf();
        let refused = if !schema.initialised {
            Some(SchemaError::Uninitialised(path))
        } else if let Some(version) = schema.dirty {
            Some(SchemaError::Dirty { path, version })
        } else if !schema.unknown.is_empty() {
            let unknown = schema.unknown;
            Some(SchemaError::Newer { path, unknown })
        } else if !schema.pending.is_empty() {
            let pending = schema.pending.len();
            Some(SchemaError::Older { path, pending })
        } else {
            None
        };
        if let Some(e) = refused {
            store.close().await;
            return Err(e.into());
        }
        Ok(store)
    }

    /// Opens an existing database whatever its schema, for `postbote backup`.
    pub async fn open_any(path: &Path) -> anyhow::Result<Store> {
        if !path.exists() {
            return Err(SchemaError::Missing(path.to_path_buf()).into());
        }
        restrict_files(path);
        Self::connect(path, false, 1).await
    }

    async fn connect(path: &Path, create: bool, connections: u32) -> anyhow::Result<Store> {
        let pool = open_retrying(|| {
            SqlitePoolOptions::new()
                .max_connections(connections)
                .connect_with(options(path, create))
        })
        .await
        .with_context(|| format!("cannot open database {}", path.display()))?;
        Ok(Store::from_pool(pool))
    }

    pub(crate) fn from_pool(pool: SqlitePool) -> Store {
        Store {
            pool,
            gate: Default::default(),
        }
    }

    /// The applied migrations compared with the ones this binary knows.
    async fn schema(&self) -> anyhow::Result<Schema> {
        let table: Option<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_optional(&self.pool)
        .await
        .context("cannot read the database schema")?;
        let applied: Vec<(i64, bool)> = if table.is_some() {
            sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&self.pool)
                .await
                .context("cannot read the applied migrations")?
        } else {
            Vec::new()
        };
        let known = |v: i64| MIGRATOR.iter().any(|m| m.version == v);
        Ok(Schema {
            initialised: table.is_some(),
            dirty: applied.iter().find(|(_, ok)| !ok).map(|(v, _)| *v),
            unknown: applied
                .iter()
                .map(|(v, _)| *v)
                .filter(|v| !known(*v))
                .collect(),
            pending: MIGRATOR
                .iter()
                .map(|m| m.version)
                .filter(|v| !applied.iter().any(|(a, _)| a == v))
                .collect(),
        })
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
        let gate = match tokio::time::timeout(GATE_WAIT, self.gate.clone().lock_owned()).await {
            Ok(guard) => Some(guard),
            Err(_) => {
                tracing::warn!(
                    waited_s = GATE_WAIT.as_secs(),
                    "a write transaction holds the store's gate too long; going on without it"
                );
                None
            }
        };
        let inner = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .context("cannot begin transaction")?;
        Ok(Tx { inner, _gate: gate })
    }

    /// Copies the WAL into the database and truncates it to zero bytes, so
    /// that erased pages live on in neither file. Readers of other
    /// connections (the daemon) can hold it up: tried for up to 10 s; false
    /// when the WAL could not be emptied in that time.
    pub async fn checkpoint(&self) -> anyhow::Result<bool> {
        for _ in 0..100 {
            let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&self.pool)
                .await
                .context("cannot checkpoint the database")?;
            if busy == 0 {
                return Ok(true);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(false)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// What [`Store::schema`] found.
struct Schema {
    /// The migrations table exists.
    initialised: bool,
    /// A migration recorded as failed.
    dirty: Option<i64>,
    /// Applied, but unknown to this binary.
    unknown: Vec<i64>,
    /// Known to this binary, not applied.
    pending: Vec<i64>,
}

/// Creates the database file empty with mode [`FILE_MODE`] (an empty file
/// is an empty SQLite database), so that it never exists with wider
/// permissions; SQLite gives its -wal and -shm files the same mode.
fn create_private(path: &Path) -> anyhow::Result<()> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create database {}", path.display())),
    }
}

/// Takes group and other permissions away from the database and its -wal and
/// -shm files (made by an older postbote, or copied in). A file that cannot
/// be changed (another owner) is logged, not fatal.
fn restrict_files(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_os_string();
        name.push(suffix);
        let file = PathBuf::from(name);
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        if meta.permissions().mode() & 0o077 == 0 {
            continue;
        }
        if let Err(e) = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(FILE_MODE))
        {
            tracing::warn!(file = %file.display(), error = %e, "cannot make the database file private (mode 0600)");
        }
    }
}

/// Timestamps are stored as fixed-width UTC text, so they sort as text.
/// The connection options of every store connection.
fn options(path: &Path, create: bool) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(create)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        // NOTE: deleted content is overwritten with zeros (retention,
        // `forget`): no erased byte stays readable in the file.
        .pragma("secure_delete", "ON")
}

/// How long opening a database waits for another connection's lock.
const OPEN_BUSY_LIMIT: Duration = Duration::from_secs(10);

/// Opens a connection (or pool), trying again for [`OPEN_BUSY_LIMIT`] while
/// SQLite answers "database is locked".
///
/// NOTE: the busy timeout does not cover opening: `PRAGMA journal_mode=WAL`
/// on a database that another process has open right then (the daemon
/// creating its file while `postbote status` polls it) fails at once with
/// SQLITE_BUSY instead of waiting.
async fn open_retrying<T, F, Fut>(open: F) -> Result<T, sqlx::Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let deadline = std::time::Instant::now() + OPEN_BUSY_LIMIT;
    loop {
        match open().await {
            Err(e) if transient::is_busy(&e) && std::time::Instant::now() < deadline => {
                tracing::debug!(error = %e, "database busy while opening; trying again");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

/// Applies the pending migrations on a connection of its own, with foreign
/// keys off, then checks every foreign key.
///
/// NOTE: SQLite cannot change a table's constraints in place: a migration
/// rebuilds the table, and a table that others reference can only be
/// dropped and renamed with foreign keys off (with them deferred, the
/// implicit DELETE of the DROP counts as violations that the rename does not
/// undo). `PRAGMA foreign_keys` is a no-op inside a transaction, and sqlx
/// runs every SQLite migration in one, so the connection is opened with
/// them off. `foreign_key_check` afterwards refuses a migration that broke
/// a reference (its changes are committed then, and the start fails).
async fn migrate(path: &Path) -> anyhow::Result<()> {
    use sqlx::Connection;
    let no_keys = options(path, false).foreign_keys(false);
    let mut conn = open_retrying(|| sqlx::SqliteConnection::connect_with(&no_keys))
        .await
        .with_context(|| format!("cannot open database {}", path.display()))?;
    MIGRATOR
        .run(&mut conn)
        .await
        .context("cannot apply database migrations")?;
    let broken: Vec<(String, Option<i64>, String, i64)> =
        sqlx::query_as("PRAGMA foreign_key_check")
            .fetch_all(&mut conn)
            .await
            .context("cannot check the foreign keys")?;
    conn.close()
        .await
        .context("cannot close the migration connection")?;
    if let Some((table, row, parent, _)) = broken.first() {
        anyhow::bail!(
            "the migrated database breaks {} foreign key(s), e.g. {table} row {} -> {parent}",
            broken.len(),
            row.map_or("?".to_string(), |r| r.to_string())
        );
    }
    Ok(())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn sibling(path: &Path, suffix: &str) -> PathBuf {
        let mut name = path.as_os_str().to_os_string();
        name.push(suffix);
        PathBuf::from(name)
    }

    #[tokio::test]
    async fn the_database_and_its_wal_and_shm_are_private_and_made_so_again_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.sqlite");
        let store = Store::open(&db).await.unwrap();
        health::set(&store, "k", "v").await.unwrap();
        let files = [db.clone(), sibling(&db, "-wal"), sibling(&db, "-shm")];
        for f in &files {
            assert_eq!(mode(f), 0o600, "{}", f.display());
        }
        // Made world-readable (as by an older postbote or a copy): fixed at open.
        for f in &files {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let other = Store::open_existing(&db).await.unwrap();
        for f in &files {
            assert_eq!(mode(f), 0o600, "{}", f.display());
        }
        other.close().await;
        store.close().await;
    }

    /// The daemon creating its database while commands poll it (as
    /// `postbote status` does from a service manager or a test): SQLite
    /// answered "database is locked" to about 2 starts in 100 before
    /// [`open_retrying`]. A race, so it runs many rounds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_daemon_creating_its_database_while_commands_poll_it_does_not_fail() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let mut failures = Vec::new();
        for _ in 0..60 {
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join("db.sqlite");
            let stop = Arc::new(AtomicBool::new(false));
            let pollers: Vec<_> = (0..3)
                .map(|_| {
                    let (db, stop) = (db.clone(), stop.clone());
                    tokio::spawn(async move {
                        while !stop.load(Ordering::Relaxed) {
                            if let Ok(store) = Store::open_existing(&db).await {
                                store.close().await;
                            }
                        }
                    })
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(5)).await;
            match Store::open(&db).await {
                Ok(store) => store.close().await,
                Err(e) => failures.push(format!("{e:#}")),
            }
            stop.store(true, Ordering::Relaxed);
            for poller in pollers {
                poller.await.unwrap();
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[tokio::test]
    async fn commands_refuse_a_database_not_migrated_older_or_newer_than_the_binary() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.sqlite");
        let refusal = async |db: &Path| {
            let e = Store::open_existing(db).await.unwrap_err();
            let text = format!("{e:#}");
            (e.downcast::<SchemaError>().expect("a SchemaError"), text)
        };
        let (e, text) = refusal(&db).await;
        assert!(matches!(e, SchemaError::Missing(_)), "{text}");
        // A file the daemon created a moment ago, not migrated yet.
        create_private(&db).unwrap();
        let (e, text) = refusal(&db).await;
        assert!(matches!(e, SchemaError::Uninitialised(_)), "{text}");
        assert!(text.contains("run `postbote migrate`"), "{text}");
        let store = Store::open(&db).await.unwrap();
        // Older: the last migration not applied.
        let last = MIGRATOR.iter().map(|m| m.version).max().unwrap();
        let (row_version, checksum): (i64, Vec<u8>) =
            sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE version = ?")
                .bind(last)
                .fetch_one(store.pool())
                .await
                .unwrap();
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = ?")
            .bind(row_version)
            .execute(store.pool())
            .await
            .unwrap();
        let (e, text) = refusal(&db).await;
        assert!(matches!(e, SchemaError::Older { pending: 1, .. }), "{text}");
        assert!(text.contains("run `postbote migrate`"), "{text}");
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (?, 'again', 1, ?, 0)",
        )
        .bind(row_version)
        .bind(&checksum)
        .execute(store.pool())
        .await
        .unwrap();
        Store::open_existing(&db).await.unwrap().close().await;
        // Newer: a migration this binary does not know; refused by the daemon too.
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (29991231000000, 'from the future', 1, x'00', 0)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let (e, text) = refusal(&db).await;
        assert!(matches!(e, SchemaError::Newer { .. }), "{text}");
        assert!(
            text.contains("newer postbote") && text.contains("29991231000000"),
            "{text}"
        );
        let e = Store::open(&db).await.unwrap_err();
        assert!(e.downcast_ref::<SchemaError>().is_some(), "{e:#}");
        store.close().await;
    }
}
