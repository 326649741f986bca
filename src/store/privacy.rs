//! `privacy_requests`: the staff commands LÖSCHEN and AUSKUNFT, recorded in
//! the command's transaction and performed by the scheduler
//! ([`crate::retention::requests`]).

use super::column::text_enum;
use super::{Store, Tx, now};
use anyhow::Context;

text_enum! {
    /// What a request asks for (`privacy_requests.kind`).
    pub enum Kind {
        /// `LÖSCHEN REF`: tell staff what an erasure would remove.
        Preview = "preview",
        /// `LÖSCHEN REF BESTÄTIGT`: erase the application.
        Erase = "erase",
        /// `AUSKUNFT REF`: mail the Art. 15 export to staff.
        Export = "export",
    }
}

text_enum! {
    /// Where a request stands (`privacy_requests.state`).
    pub enum State {
        Pending = "pending",
        Done = "done",
        Failed = "failed",
    }
}

/// One request.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Request {
    pub id: i64,
    pub kind: Kind,
    pub reference: String,
    pub requested_by: String,
    pub message_row: i64,
    pub requested_at: String,
    pub state: State,
    pub attempts: i64,
    pub note: Option<String>,
}

const COLUMNS: &str =
    "id, kind, reference, requested_by, message_row, requested_at, state, attempts, note";

/// Records a request inside the command's transaction and returns its id;
/// the same (message, kind, reference) again returns the first one's id.
pub async fn request(
    tx: &mut Tx<'_>,
    kind: Kind,
    reference: &str,
    requested_by: &str,
    message_row: i64,
) -> anyhow::Result<i64> {
    sqlx::query(
        "INSERT INTO privacy_requests (kind, reference, requested_by, message_row, requested_at) \
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (message_row, kind, reference) DO NOTHING",
    )
    .bind(kind)
    .bind(reference)
    .bind(requested_by)
    .bind(message_row)
    .bind(now())
    .execute(&mut **tx)
    .await
    .context("cannot record the privacy request")?;
    sqlx::query_scalar(
        "SELECT id FROM privacy_requests WHERE message_row = ? AND kind = ? AND reference = ?",
    )
    .bind(message_row)
    .bind(kind)
    .bind(reference)
    .fetch_one(&mut **tx)
    .await
    .context("cannot read the privacy request")
}

/// The pending requests, oldest first.
pub async fn pending(store: &Store) -> anyhow::Result<Vec<Request>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM privacy_requests WHERE state = 'pending' ORDER BY id"
    ))
    .fetch_all(store.pool())
    .await
    .context("cannot list the pending privacy requests")
}

/// Marks a request done, inside the transaction that queued its result mail.
pub async fn done(tx: &mut Tx<'_>, id: i64) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE privacy_requests SET state = 'done', done_at = ?, note = NULL \
         WHERE id = ? AND state = 'pending'",
    )
    .bind(now())
    .bind(id)
    .execute(&mut **tx)
    .await
    .context("cannot mark the privacy request done")?;
    Ok(())
}

/// Records a failed attempt; `last` marks the request failed for good.
/// Returns the number of attempts so far.
pub async fn attempt_failed(
    tx: &mut Tx<'_>,
    id: i64,
    note: &str,
    last: bool,
) -> anyhow::Result<i64> {
    let state = if last { State::Failed } else { State::Pending };
    sqlx::query_scalar(
        "UPDATE privacy_requests SET attempts = attempts + 1, note = ?, state = ?, \
         done_at = CASE WHEN ? = 'failed' THEN ? ELSE done_at END \
         WHERE id = ? RETURNING attempts",
    )
    .bind(note)
    .bind(state)
    .bind(state)
    .bind(now())
    .bind(id)
    .fetch_one(&mut **tx)
    .await
    .context("cannot record the failed privacy request")
}

/// Pending requests made before `before` (stuck: `status` reports them).
pub async fn pending_before(store: &Store, before: &str) -> anyhow::Result<Vec<Request>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM privacy_requests WHERE state = 'pending' AND requested_at < ? \
         ORDER BY id"
    ))
    .bind(before)
    .fetch_all(store.pool())
    .await
    .context("cannot list the stuck privacy requests")
}

/// Requests that failed for good since `since`.
pub async fn failed_since(store: &Store, since: &str) -> anyhow::Result<Vec<Request>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM privacy_requests WHERE state = 'failed' AND done_at >= ? \
         ORDER BY id"
    ))
    .bind(since)
    .fetch_all(store.pool())
    .await
    .context("cannot list the failed privacy requests")
}

/// The outbox rows of the reply to command mail `message_row` (keyed
/// `staff-command:<row>` by the executor).
pub async fn command_reply(store: &Store, message_row: i64) -> anyhow::Result<Vec<i64>> {
    sqlx::query_scalar("SELECT id FROM outbox WHERE idempotency_key = ?")
        .bind(format!("staff-command:{message_row}"))
        .fetch_all(store.pool())
        .await
        .context("cannot find the command's reply")
}
