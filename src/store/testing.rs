//! Helpers for the store's unit tests: a temporary store and rows to hang
//! other rows on.

use super::Store;
use super::applications::{self, Application, NewApplication};
use super::messages::{self, Location, Summary};
use chrono::Utc;

/// A new store in a temporary folder (kept while the `TempDir` lives).
pub async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db.sqlite")).await.unwrap();
    super::programmes::adopt(&store, &["EWS7".to_string()], Utc::now())
        .await
        .unwrap();
    (dir, store)
}

/// The database at `path` (migrated already) on a pool that waits at most
/// `busy` for a lock.
pub async fn open_with_busy_timeout(path: &std::path::Path, busy: std::time::Duration) -> Store {
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };
    let options = SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(busy)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .unwrap();
    Store::from_pool(pool)
}

/// Stores a distinct incoming message `n`; returns its row.
pub async fn message(store: &Store, n: u32) -> i64 {
    let loc = Location {
        source: "maildir",
        folder: "INBOX".into(),
        validity: 0,
        uid: format!("m{n}"),
    };
    let raw = format!("Message-ID: <m{n}@x.test>\r\nSubject: {n}\r\n\r\nbody {n}\r\n");
    let summary = Summary {
        message_id: Some(format!("m{n}@x.test")),
        from_address: Some(format!("a{n}@x.test")),
        subject: Some(n.to_string()),
        secret_verified: false,
    };
    messages::store_incoming(store, &loc, raw.as_bytes(), Utc::now(), &summary)
        .await
        .unwrap()
        .row()
}

/// An application from `applicant` (with its first message).
pub async fn application(store: &Store, n: u32, late: bool) -> Application {
    let first = message(store, n).await;
    let applicant = format!("a{n}@x.test");
    let mut tx = store.begin().await.unwrap();
    let a = applications::create(
        &mut tx,
        &NewApplication {
            programme: "EWS7",
            applicant: &applicant,
            applicant_name: None,
            subject: None,
            first_message: first,
            received_at: Utc::now(),
            late,
            duplicate_of: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    a
}

/// SQLite's plan for `sql` (its `?` left unbound), one line per step.
pub async fn query_plan(store: &Store, sql: &str) -> String {
    let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
        .fetch_all(store.pool())
        .await
        .unwrap();
    rows.into_iter()
        .map(|(_, _, _, detail)| detail)
        .collect::<Vec<_>>()
        .join("\n")
}
