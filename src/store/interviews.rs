//! Interviews that staff pinned or released. The plan for everyone else is
//! computed on demand (`workflow::interviews::plan`).

use super::{Tx, now, parse_ts, ts};
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Interview {
    pub id: i64,
    pub application_id: i64,
    pub uid: String,
    pub start_at: String,
    pub end_at: String,
    /// pinned | released | cancelled
    pub state: String,
    pub sequence: i64,
    /// Whether an invitation was ever queued (a CANCEL then has someone to tell).
    pub sent: bool,
}

impl Interview {
    pub fn start(&self) -> Option<DateTime<Utc>> {
        parse_ts(&self.start_at)
    }
    pub fn end(&self) -> Option<DateTime<Utc>> {
        parse_ts(&self.end_at)
    }
}

const COLUMNS: &str = "id, application_id, uid, start_at, end_at, state, sequence, sent";

pub async fn all_tx(tx: &mut Tx<'_>) -> anyhow::Result<Vec<Interview>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM interviews ORDER BY start_at, id"
    ))
    .fetch_all(&mut **tx)
    .await
    .context("cannot list interviews")
}

pub async fn for_application(
    tx: &mut Tx<'_>,
    application_id: i64,
) -> anyhow::Result<Option<Interview>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM interviews WHERE application_id = ?"
    ))
    .bind(application_id)
    .fetch_optional(&mut **tx)
    .await
    .context("cannot read interview")
}

pub struct NewInterview<'a> {
    pub application_id: i64,
    pub uid: &'a str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub state: &'a str,
    pub sequence: i64,
    pub sent: bool,
}

/// Creates or updates the interview of an application and returns it.
pub async fn upsert(tx: &mut Tx<'_>, n: &NewInterview<'_>) -> anyhow::Result<Interview> {
    let now = now();
    sqlx::query(
        "INSERT INTO interviews (application_id, uid, start_at, end_at, state, sequence, sent, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (application_id) DO UPDATE SET start_at = excluded.start_at, end_at = excluded.end_at, \
         state = excluded.state, sequence = excluded.sequence, sent = excluded.sent, updated_at = excluded.updated_at",
    )
    .bind(n.application_id)
    .bind(n.uid)
    .bind(ts(n.start))
    .bind(ts(n.end))
    .bind(n.state)
    .bind(n.sequence)
    .bind(n.sent)
    .bind(&now)
    .bind(&now)
    .execute(&mut **tx)
    .await
    .context("cannot store interview")?;
    for_application(tx, n.application_id)
        .await?
        .context("interview vanished after writing it")
}
