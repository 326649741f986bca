//! The transactional outbox. A row is written in the transaction of the state
//! change that causes it; its idempotency key makes a second write a no-op.

use super::{Store, Tx, now, parse_ts, ts};
use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// A fully rendered mail, ready to queue.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub idempotency_key: String,
    pub message_id: String,
    pub purpose: String,
    pub application_id: Option<i64>,
    pub env_from: String,
    pub env_to: String,
    pub subject: String,
    pub raw: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    Queued(i64),
    /// The idempotency key was used before: nothing new was queued.
    AlreadyQueued,
    /// Recorded but not to be sent (the recipient's daily cap was reached).
    Suppressed(i64),
}

/// Queues `mail` inside `tx`. Past `daily_cap` mails to one recipient within
/// 24 hours, the row is stored as `suppressed`: a backstop against loops.
pub async fn enqueue(tx: &mut Tx<'_>, mail: &NewMail, daily_cap: u32) -> anyhow::Result<Enqueued> {
    if key_used(tx, &mail.idempotency_key).await? {
        return Ok(Enqueued::AlreadyQueued);
    }
    let now = Utc::now();
    let recent: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE env_to = ? AND created_at > ? \
         AND state NOT IN ('suppressed', 'held', 'withdrawn')",
    )
    .bind(&mail.env_to)
    .bind(ts(now - Duration::hours(24)))
    .fetch_one(&mut **tx)
    .await?;
    if recent >= i64::from(daily_cap) {
        let note = format!("daily cap of {daily_cap} mails to this recipient reached");
        let id = insert(tx, mail, "suppressed", Some(&note), None).await?;
        return Ok(Enqueued::Suppressed(id));
    }
    Ok(Enqueued::Queued(
        insert(tx, mail, "queued", None, None).await?,
    ))
}

/// Stores `mail` as `held`: it waits for staff to release `batch` (after a
/// preview). The daily cap does not apply to mail a human releases.
pub async fn enqueue_held(
    tx: &mut Tx<'_>,
    mail: &NewMail,
    batch: &str,
) -> anyhow::Result<Enqueued> {
    if key_used(tx, &mail.idempotency_key).await? {
        return Ok(Enqueued::AlreadyQueued);
    }
    Ok(Enqueued::Queued(
        insert(tx, mail, "held", None, Some(batch)).await?,
    ))
}

async fn key_used(tx: &mut Tx<'_>, key: &str) -> anyhow::Result<bool> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM outbox WHERE idempotency_key = ?")
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(exists.is_some())
}

async fn insert(
    tx: &mut Tx<'_>,
    mail: &NewMail,
    state: &str,
    note: Option<&str>,
    batch: Option<&str>,
) -> anyhow::Result<i64> {
    let now = now();
    sqlx::query_scalar(
        "INSERT INTO outbox (idempotency_key, message_id, purpose, application_id, env_from, env_to, \
         subject, raw, state, next_attempt_at, last_error, created_at, batch) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&mail.idempotency_key)
    .bind(&mail.message_id)
    .bind(&mail.purpose)
    .bind(mail.application_id)
    .bind(&mail.env_from)
    .bind(&mail.env_to)
    .bind(&mail.subject)
    .bind(&mail.raw)
    .bind(state)
    .bind(&now)
    .bind(note)
    .bind(&now)
    .bind(batch)
    .fetch_one(&mut **tx)
    .await
    .context("cannot queue outgoing mail")
}

/// Withdraws the held mail of `batch` for one application (a decision changed
/// before release); returns how many rows.
pub async fn withdraw_held(
    tx: &mut Tx<'_>,
    batch: &str,
    application_id: i64,
) -> anyhow::Result<u64> {
    let r = sqlx::query(
        "UPDATE outbox SET state = 'withdrawn' WHERE state = 'held' AND batch = ? AND application_id = ?",
    )
    .bind(batch)
    .bind(application_id)
    .execute(&mut **tx)
    .await
    .context("cannot withdraw held mail")?;
    Ok(r.rows_affected())
}

/// Releases every held mail of `batch` for sending now; returns how many.
pub async fn release_held(tx: &mut Tx<'_>, batch: &str) -> anyhow::Result<u64> {
    let r = sqlx::query(
        "UPDATE outbox SET state = 'queued', next_attempt_at = ? WHERE state = 'held' AND batch = ?",
    )
    .bind(now())
    .bind(batch)
    .execute(&mut **tx)
    .await
    .context("cannot release held mail")?;
    Ok(r.rows_affected())
}

/// A mail waiting for release, for the preview.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Held {
    pub id: i64,
    pub purpose: String,
    pub application_id: Option<i64>,
    pub env_to: String,
    pub subject: String,
    pub raw: Vec<u8>,
}

pub async fn held(tx: &mut Tx<'_>, batch: &str) -> anyhow::Result<Vec<Held>> {
    sqlx::query_as(
        "SELECT id, purpose, application_id, env_to, subject, raw FROM outbox \
         WHERE state = 'held' AND batch = ? ORDER BY application_id, id",
    )
    .bind(batch)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read held mail")
}

/// A queued mail whose time has come.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Due {
    pub id: i64,
    pub message_id: String,
    pub purpose: String,
    pub env_from: String,
    pub env_to: String,
    pub raw: Vec<u8>,
    pub attempts: i64,
}

pub async fn due(store: &Store, limit: i64) -> anyhow::Result<Vec<Due>> {
    sqlx::query_as(
        "SELECT id, message_id, purpose, env_from, env_to, raw, attempts FROM outbox \
         WHERE state = 'queued' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
    )
    .bind(now())
    .bind(limit)
    .fetch_all(store.pool())
    .await
    .context("cannot read due outbox rows")
}

/// When the next queued mail falls due.
pub async fn next_due_at(store: &Store) -> anyhow::Result<Option<DateTime<Utc>>> {
    let t: Option<String> =
        sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'queued'")
            .fetch_one(store.pool())
            .await?;
    Ok(t.as_deref().and_then(parse_ts))
}

pub async fn mark_sent(store: &Store, id: i64) -> anyhow::Result<()> {
    sqlx::query("UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?")
        .bind(now())
        .bind(id)
        .execute(store.pool())
        .await
        .context("cannot mark mail as sent")?;
    Ok(())
}

pub async fn mark_retry(
    store: &Store,
    id: i64,
    error: &str,
    next: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?")
        .bind(error)
        .bind(ts(next))
        .bind(id)
        .execute(store.pool())
        .await
        .context("cannot reschedule mail")?;
    Ok(())
}

pub async fn mark_failed(store: &Store, id: i64, error: &str) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?",
    )
    .bind(error)
    .bind(id)
    .execute(store.pool())
    .await
    .context("cannot mark mail as failed")?;
    Ok(())
}

pub async fn mark_copied(store: &Store, id: i64) -> anyhow::Result<()> {
    sqlx::query("UPDATE outbox SET copied_to_sent = 1 WHERE id = ?")
        .bind(id)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// One row as `postbote outbox` shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OutboxEntry {
    pub id: i64,
    pub purpose: String,
    pub env_to: String,
    pub subject: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub message_id: String,
}

pub async fn list(store: &Store) -> anyhow::Result<Vec<OutboxEntry>> {
    sqlx::query_as(
        "SELECT id, purpose, env_to, subject, state, attempts, next_attempt_at, last_error, \
         created_at, sent_at, message_id FROM outbox ORDER BY id",
    )
    .fetch_all(store.pool())
    .await
    .context("cannot list outbox")
}

/// The raw bytes of one queued or sent mail.
pub async fn raw(store: &Store, id: i64) -> anyhow::Result<Vec<u8>> {
    sqlx::query_scalar("SELECT raw FROM outbox WHERE id = ?")
        .bind(id)
        .fetch_one(store.pool())
        .await
        .context("cannot read outbox mail")
}

/// (state, count), and the creation time of the oldest queued mail.
pub async fn summary(store: &Store) -> anyhow::Result<(Vec<(String, i64)>, Option<DateTime<Utc>>)> {
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM outbox GROUP BY state ORDER BY state")
            .fetch_all(store.pool())
            .await?;
    let oldest: Option<String> =
        sqlx::query_scalar("SELECT MIN(created_at) FROM outbox WHERE state = 'queued'")
            .fetch_one(store.pool())
            .await?;
    Ok((counts, oldest.as_deref().and_then(parse_ts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(key: &str, to: &str) -> NewMail {
        NewMail {
            idempotency_key: key.into(),
            message_id: format!("{key}@ews.test"),
            purpose: "test".into(),
            application_id: None,
            env_from: "projekt@ews.test".into(),
            env_to: to.into(),
            subject: "s".into(),
            raw: b"raw".to_vec(),
        }
    }

    #[tokio::test]
    async fn an_idempotency_key_queues_once_and_the_daily_cap_suppresses_loops() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite")).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(matches!(
            enqueue(&mut tx, &mail("k1", "a@x.test"), 2).await.unwrap(),
            Enqueued::Queued(_)
        ));
        assert_eq!(
            enqueue(&mut tx, &mail("k1", "a@x.test"), 2).await.unwrap(),
            Enqueued::AlreadyQueued
        );
        assert!(matches!(
            enqueue(&mut tx, &mail("k2", "a@x.test"), 2).await.unwrap(),
            Enqueued::Queued(_)
        ));
        assert!(matches!(
            enqueue(&mut tx, &mail("k3", "a@x.test"), 2).await.unwrap(),
            Enqueued::Suppressed(_)
        ));
        assert!(matches!(
            enqueue(&mut tx, &mail("k4", "b@x.test"), 2).await.unwrap(),
            Enqueued::Queued(_)
        ));
        tx.commit().await.unwrap();
        assert_eq!(due(&store, 10).await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_rolled_back_transaction_queues_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite")).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        enqueue(&mut tx, &mail("k1", "a@x.test"), 5).await.unwrap();
        tx.rollback().await.unwrap();
        assert!(due(&store, 10).await.unwrap().is_empty());
    }
}
