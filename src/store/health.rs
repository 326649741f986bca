//! Health facts: the last successful mailbox check, the last mailbox error.

use super::{Store, now};
use anyhow::Context;
use sqlx::Row;

pub const MAILBOX_OK: &str = "mailbox.last_ok";
pub const MAILBOX_ERROR: &str = "mailbox.last_error";
/// When the mailbox began failing (cleared by the next good check).
pub const MAILBOX_FAILING_SINCE: &str = "mailbox.failing_since";
/// The failure needs a human: a folder that cannot be created or opened.
pub const MAILBOX_SETUP_ERROR: &str = "mailbox.setup_error";
/// The scheduler clock of the last finished scheduler pass.
pub const SCHEDULER_TICK: &str = "scheduler.last_tick";
/// When (wall clock) the scheduler planned its next pass, written with
/// [`SCHEDULER_TICK`]: `status` reports a scheduler that let it pass by more
/// than `health.scheduler_late_after_secs` (stuck, or not running).
pub const SCHEDULER_NEXT: &str = "scheduler.next_pass";
/// The error of the last failed scheduler pass.
pub const SCHEDULER_ERROR: &str = "scheduler.last_error";
/// Sending is paused: the SMTP server refused postbote itself
/// (authentication, relay, TLS). The value is the server's answer.
pub const OUTBOX_PAUSED: &str = "outbox.paused";
/// When sending was paused (cleared with [`OUTBOX_PAUSED`]).
pub const OUTBOX_PAUSED_SINCE: &str = "outbox.paused_since";
/// The outcome of a send could not be recorded: sending stopped until the
/// store works again. The value is the store's first error of the streak,
/// its time when it began.
pub const OUTBOX_STORE_ERROR: &str = "outbox.store_error";
/// Since when scheduler passes have had failing steps (cleared by a pass
/// where every step succeeded): the incident of the scheduler alarm.
pub const SCHEDULER_FAILING_SINCE: &str = "scheduler.failing_since";

pub async fn set(store: &Store, key: &str, value: &str) -> anyhow::Result<()> {
    let mut conn = store
        .pool()
        .acquire()
        .await
        .context("cannot record health")?;
    put(&mut conn, key, value, &now()).await
}

/// Writes `key` = `value` (updated `now`) on `conn`, a connection or a
/// transaction.
async fn put(
    conn: &mut sqlx::SqliteConnection,
    key: &str,
    value: &str,
    now: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO health (key, value, updated_at) VALUES (?, ?, ?) \
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(key)
    .bind(value)
    .bind(now)
    .execute(conn)
    .await
    .context("cannot record health")?;
    Ok(())
}

/// The value and when it was written.
pub async fn get(store: &Store, key: &str) -> anyhow::Result<Option<(String, String)>> {
    let row = sqlx::query("SELECT value, updated_at FROM health WHERE key = ?")
        .bind(key)
        .fetch_optional(store.pool())
        .await
        .context("cannot read health")?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// Records `key` as now unless it is set already; returns its value (the
/// time it was first set).
pub async fn mark_since(store: &Store, key: &str) -> anyhow::Result<String> {
    let now = now();
    sqlx::query(
        "INSERT INTO health (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO NOTHING",
    )
    .bind(key)
    .bind(&now)
    .bind(&now)
    .execute(store.pool())
    .await
    .context("cannot record health")?;
    Ok(get(store, key).await?.map_or(now, |(v, _)| v))
}

pub async fn clear(store: &Store, key: &str) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM health WHERE key = ?")
        .bind(key)
        .execute(store.pool())
        .await
        .context("cannot clear health")?;
    Ok(())
}

/// Records a finished scheduler pass at `tick` (the scheduler's clock) and
/// the wall-clock time of the next one it planned: one transaction, one
/// fsync per pass.
pub async fn scheduler_pass(store: &Store, tick: &str, next: &str) -> anyhow::Result<()> {
    let now = now();
    let mut tx = store.begin().await?;
    for (key, value) in [(SCHEDULER_TICK, tick), (SCHEDULER_NEXT, next)] {
        put(&mut tx, key, value, &now).await?;
    }
    tx.commit().await.context("cannot commit health")?;
    Ok(())
}

/// Records a successful mailbox check: the failure streak, if any, is over.
/// One transaction: it runs after every sweep.
pub async fn mailbox_ok(store: &Store) -> anyhow::Result<()> {
    let now = now();
    let mut tx = store.begin().await?;
    put(&mut tx, MAILBOX_OK, &now, &now).await?;
    sqlx::query("DELETE FROM health WHERE key IN (?, ?)")
        .bind(MAILBOX_FAILING_SINCE)
        .bind(MAILBOX_SETUP_ERROR)
        .execute(&mut *tx)
        .await
        .context("cannot clear health")?;
    tx.commit().await.context("cannot commit health")?;
    Ok(())
}

/// Records a failed connection or sweep; `setup` when a human must act.
pub async fn mailbox_failed(store: &Store, error: &str, setup: bool) -> anyhow::Result<()> {
    set(store, MAILBOX_ERROR, error).await?;
    sqlx::query("INSERT OR IGNORE INTO health (key, value, updated_at) VALUES (?, ?, ?)")
        .bind(MAILBOX_FAILING_SINCE)
        .bind(now())
        .bind(now())
        .execute(store.pool())
        .await
        .context("cannot record health")?;
    if setup {
        set(store, MAILBOX_SETUP_ERROR, error).await
    } else {
        clear(store, MAILBOX_SETUP_ERROR).await
    }
}

/// Records that sending is paused because of `error`; the first pause of a
/// streak keeps its time in [`OUTBOX_PAUSED_SINCE`].
pub async fn outbox_paused(store: &Store, error: &str) -> anyhow::Result<()> {
    let now = now();
    let mut tx = store.begin().await?;
    put(&mut tx, OUTBOX_PAUSED, error, &now).await?;
    sqlx::query(
        "INSERT INTO health (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO NOTHING",
    )
    .bind(OUTBOX_PAUSED_SINCE)
    .bind(&now)
    .bind(&now)
    .execute(&mut *tx)
    .await
    .context("cannot record health")?;
    tx.commit().await.context("cannot commit health")?;
    Ok(())
}

/// Sending works again: the pause, if any, is over.
pub async fn outbox_resumed(store: &Store) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM health WHERE key IN (?, ?)")
        .bind(OUTBOX_PAUSED)
        .bind(OUTBOX_PAUSED_SINCE)
        .execute(store.pool())
        .await
        .context("cannot clear health")?;
    Ok(())
}

/// Records that the store refused the outcome of a send; the first failure
/// of a streak is kept (one incident, one alarm).
pub async fn outbox_store_failed(store: &Store, error: &str) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO health (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO NOTHING",
    )
    .bind(OUTBOX_STORE_ERROR)
    .bind(error)
    .bind(now())
    .execute(store.pool())
    .await
    .context("cannot record health")?;
    Ok(())
}
