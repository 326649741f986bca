//! Which storage errors are the store's passing trouble and which are not.
//!
//! A *transient* error says nothing about the data being written: SQLite was
//! busy or locked past the busy timeout, the disk could not be read or
//! written, the file could not be opened, the pool had no connection for us.
//! The same write is expected to succeed later, so callers retry it with
//! backoff and count nothing against the message or mail in hand.
//! Everything else (a constraint, a value the schema refuses, a row that is
//! not there, SQL the database does not understand) is decided by the data
//! and would fail again the same way.

/// SQLite primary result codes (the low byte of an extended code) that are transient.
/// <https://www.sqlite.org/rescode.html>
const TRANSIENT_CODES: &[i64] = &[
    5,  // SQLITE_BUSY (also BUSY_SNAPSHOT 517, BUSY_TIMEOUT 773)
    6,  // SQLITE_LOCKED
    7,  // SQLITE_NOMEM
    8,  // SQLITE_READONLY (a file made read-only, a read-only mount)
    10, // SQLITE_IOERR and its extended codes
    13, // SQLITE_FULL (disk full)
    14, // SQLITE_CANTOPEN
    15, // SQLITE_PROTOCOL
];

/// The SQLite primary result code of a database error (the low byte of its
/// extended code).
fn primary_code(e: &sqlx::Error) -> Option<i64> {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i64>().ok())
            .map(|code| code & 0xff),
        _ => None,
    }
}

/// SQLITE_BUSY or SQLITE_LOCKED, with any extended code: another
/// connection holds a lock.
pub fn is_busy(e: &sqlx::Error) -> bool {
    primary_code(e).is_some_and(|code| matches!(code, 5 | 6))
}

/// Whether one sqlx error is transient (see the module docs).
pub fn is_transient_sqlx(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(_) => {
            primary_code(e).is_some_and(|code| TRANSIENT_CODES.contains(&code))
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}

/// Whether an error chain holds a transient storage error: a
/// [`sqlx::Error`] for which [`is_transient_sqlx`] holds, however much
/// context was added around it.
pub fn is_transient(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<sqlx::Error>()
            .is_some_and(is_transient_sqlx)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;
    use sqlx::Connection;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
    use std::time::Duration;

    #[tokio::test]
    async fn a_busy_database_is_transient_and_a_constraint_is_not() {
        let (dir, store) = crate::store::testing::store().await;
        // Another writer holds the lock (BEGIN IMMEDIATE); we do not wait for it.
        let holder = store.begin().await.unwrap();
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("db.sqlite"))
            .busy_timeout(Duration::ZERO);
        let mut other = SqliteConnection::connect_with(&options).await.unwrap();
        let busy = sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .unwrap_err();
        assert!(is_transient_sqlx(&busy), "{busy}");
        let wrapped = Err::<(), _>(busy)
            .context("cannot begin transaction")
            .context("cannot store the message")
            .unwrap_err();
        assert!(is_transient(&wrapped), "{wrapped:#}");
        holder.rollback().await.unwrap();

        // A unique constraint is decided by the data.
        sqlx::query("INSERT INTO health (key, value, updated_at) VALUES ('k', 'v', 'now')")
            .execute(store.pool())
            .await
            .unwrap();
        let unique =
            sqlx::query("INSERT INTO health (key, value, updated_at) VALUES ('k', 'v', 'now')")
                .execute(store.pool())
                .await
                .unwrap_err();
        assert!(!is_transient_sqlx(&unique), "{unique}");
        assert!(!is_transient(&anyhow::Error::from(unique)));
        assert!(!is_transient_sqlx(&sqlx::Error::RowNotFound));
        assert!(is_transient_sqlx(&sqlx::Error::PoolTimedOut));
        assert!(!is_transient(&anyhow::anyhow!("a template is missing")));
    }
}
