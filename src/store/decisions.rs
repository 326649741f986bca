//! Selection decisions, one per application, with the state of its notice.

use super::{Store, Tx, now};
use anyhow::Context;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Decision {
    pub application_id: i64,
    /// accept | reject | waitlist
    pub outcome: String,
    pub persons: i64,
    pub revision: i64,
    /// held | released
    pub notice: String,
    pub decided_by: String,
    pub decided_at: String,
    pub released_at: Option<String>,
}

const COLUMNS: &str =
    "application_id, outcome, persons, revision, notice, decided_by, decided_at, released_at";

pub async fn get(tx: &mut Tx<'_>, application_id: i64) -> anyhow::Result<Option<Decision>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM decisions WHERE application_id = ?"
    ))
    .bind(application_id)
    .fetch_optional(&mut **tx)
    .await
    .context("cannot read decision")
}

pub async fn all(store: &Store) -> anyhow::Result<Vec<Decision>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM decisions ORDER BY application_id"
    ))
    .fetch_all(store.pool())
    .await
    .context("cannot list decisions")
}

pub async fn all_tx(tx: &mut Tx<'_>) -> anyhow::Result<Vec<Decision>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM decisions ORDER BY application_id"
    ))
    .fetch_all(&mut **tx)
    .await
    .context("cannot list decisions")
}

/// Writes a decision (a new revision when one exists); returns the revision.
pub async fn set(
    tx: &mut Tx<'_>,
    application_id: i64,
    outcome: &str,
    persons: i64,
    notice: &str,
    by: &str,
) -> anyhow::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO decisions (application_id, outcome, persons, revision, notice, decided_by, decided_at) \
         VALUES (?, ?, ?, 1, ?, ?, ?) \
         ON CONFLICT (application_id) DO UPDATE SET outcome = excluded.outcome, persons = excluded.persons, \
         revision = decisions.revision + 1, notice = excluded.notice, decided_by = excluded.decided_by, \
         decided_at = excluded.decided_at RETURNING revision",
    )
    .bind(application_id)
    .bind(outcome)
    .bind(persons)
    .bind(notice)
    .bind(by)
    .bind(now())
    .fetch_one(&mut **tx)
    .await
    .context("cannot store decision")
}

/// Marks every held notice released; returns the applications concerned.
pub async fn release_all(tx: &mut Tx<'_>) -> anyhow::Result<Vec<i64>> {
    sqlx::query_scalar(
        "UPDATE decisions SET notice = 'released', released_at = ? WHERE notice = 'held' RETURNING application_id",
    )
    .bind(now())
    .fetch_all(&mut **tx)
    .await
    .context("cannot release decisions")
}
