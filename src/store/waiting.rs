//! What waits in the watched folder, and the failures of single messages
//! (table `mailbox_waiting`, see its migration).

use super::messages::{Location, bind_location};
use super::{Store, Tx, now, parse_ts, ts};
use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashSet;

crate::store::column::text_enum! {
    /// The step of a message that failed (`mailbox_waiting.stage`).
    pub enum Stage {
        Fetch = "fetch",
        Move = "move",
        /// Over `mailbox.max_message_bytes` by its RFC822.SIZE: not fetched,
        /// left in the folder for staff (permanent, with `size`).
        TooLarge = "too_large",
    }
}

/// How a recorded failure was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub attempts: i64,
    /// Left for a human from now on.
    pub permanent: bool,
}

/// Retry policy of single-message failures.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub initial: Duration,
    pub max: Duration,
    pub max_attempts: i64,
}

impl RetryPolicy {
    /// The delay after `attempts` failures: initial, doubled each time, capped.
    pub fn delay(&self, attempts: i64) -> Duration {
        let shift = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        let secs = self.initial.num_seconds().saturating_mul(1i64 << shift);
        Duration::seconds(secs.min(self.max.num_seconds()))
    }
}

/// After a scan of the watched folder: `pending` are its messages that are
/// not done. New ones are recorded as first seen now; rows of this source
/// for messages that are done or gone (or of a folder no longer watched)
/// are removed.
pub async fn record_scan(store: &Store, source: &str, pending: &[Location]) -> anyhow::Result<()> {
    let now = now();
    let mut tx = store.begin().await?;
    let keep: HashSet<(&str, i64, &str)> = pending
        .iter()
        .map(|l| (l.folder.as_str(), l.validity, l.uid.as_str()))
        .collect();
    let rows: Vec<(String, i64, String)> =
        sqlx::query_as("SELECT folder, validity, uid FROM mailbox_waiting WHERE source = ?")
            .bind(source)
            .fetch_all(&mut *tx)
            .await
            .context("cannot read waiting messages")?;
    for (folder, validity, uid) in rows {
        if !keep.contains(&(folder.as_str(), validity, uid.as_str())) {
            sqlx::query(
                "DELETE FROM mailbox_waiting WHERE source = ? AND folder = ? AND validity = ? AND uid = ?",
            )
            .bind(source)
            .bind(folder)
            .bind(validity)
            .bind(&uid)
            .execute(&mut *tx)
            .await?;
        }
    }
    for l in pending {
        bind_location!(
            sqlx::query(
                "INSERT INTO mailbox_waiting (source, folder, validity, uid, first_seen_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, folder, validity, uid) DO NOTHING",
            ),
            l
        )
        .bind(&now)
        .execute(&mut *tx)
        .await
        .context("cannot record waiting message")?;
    }
    tx.commit()
        .await
        .context("cannot commit waiting messages")?;
    Ok(())
}

/// The message is done (moved, or processed and kept for staff), in the
/// caller's transaction (the sweep's one for a page's moves).
pub async fn done_in(tx: &mut Tx<'_>, loc: &Location) -> anyhow::Result<()> {
    bind_location!(sqlx::query(
        "DELETE FROM mailbox_waiting WHERE source = ? AND folder = ? AND validity = ? AND uid = ?",
    ), loc)
    .execute(&mut **tx)
    .await
    .context("cannot clear waiting message")?;
    Ok(())
}

/// Whether the sweep must leave `loc` alone now: left for a human, or its
/// next attempt is not due yet. A message left alone for its size is tried
/// again once `max_bytes` (the limit now configured) lets it through.
pub async fn blocked(
    store: &Store,
    loc: &Location,
    at: DateTime<Utc>,
    max_bytes: u64,
) -> anyhow::Result<bool> {
    /// permanent, next_attempt_at, stage, size
    type Row = (bool, Option<String>, Option<Stage>, Option<i64>);
    let row: Option<Row> = bind_location!(
        sqlx::query_as(
            "SELECT permanent, next_attempt_at, stage, size FROM mailbox_waiting \
         WHERE source = ? AND folder = ? AND validity = ? AND uid = ?",
        ),
        loc
    )
    .fetch_optional(store.pool())
    .await
    .context("cannot read waiting message")?;
    Ok(row.is_some_and(|(permanent, next, stage, size)| {
        leave_alone(permanent, next.as_deref(), stage, size, at, max_bytes)
    }))
}

/// The rule of [`blocked`] and [`blocked_all`] for one waiting row.
fn leave_alone(
    permanent: bool,
    next_attempt_at: Option<&str>,
    stage: Option<Stage>,
    size: Option<i64>,
    at: DateTime<Utc>,
    max_bytes: u64,
) -> bool {
    match stage {
        Some(Stage::TooLarge) => size.is_none_or(|s| u64::try_from(s).is_ok_and(|s| s > max_bytes)),
        _ if permanent => true,
        _ => next_attempt_at.and_then(parse_ts).is_some_and(|n| n > at),
    }
}

/// [`blocked`] for every waiting message of `source` at once (one query
/// per sweep, not one per message): the (folder, validity, uid) to leave alone.
pub async fn blocked_all(
    store: &Store,
    source: &str,
    at: DateTime<Utc>,
    max_bytes: u64,
) -> anyhow::Result<HashSet<(String, i64, String)>> {
    /// folder, validity, uid, permanent, next_attempt_at, stage, size
    type Row = (
        String,
        i64,
        String,
        bool,
        Option<String>,
        Option<Stage>,
        Option<i64>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT folder, validity, uid, permanent, next_attempt_at, stage, size FROM mailbox_waiting \
         WHERE source = ? AND (permanent = 1 OR next_attempt_at IS NOT NULL OR stage IS NOT NULL)",
    )
    .bind(source)
    .fetch_all(store.pool())
    .await
    .context("cannot read waiting messages")?;
    Ok(rows
        .into_iter()
        .filter(|(_, _, _, permanent, next, stage, size)| {
            leave_alone(*permanent, next.as_deref(), *stage, *size, at, max_bytes)
        })
        .map(|(folder, validity, uid, ..)| (folder, validity, uid))
        .collect())
}

/// Records, in the caller's transaction (which also queues the staff
/// notice), that `loc` is over the size limit (`size` bytes by RFC822.SIZE)
/// and is left in the folder for staff. True when this is news (staff are
/// to be told); false when it was recorded so before.
pub async fn too_large(tx: &mut Tx<'_>, loc: &Location, size: u64) -> anyhow::Result<bool> {
    let now = now();
    let size = i64::try_from(size).unwrap_or(i64::MAX);
    let before: Option<Option<Stage>> = bind_location!(
        sqlx::query_scalar(
            "SELECT stage FROM mailbox_waiting \
             WHERE source = ? AND folder = ? AND validity = ? AND uid = ?",
        ),
        loc
    )
    .fetch_optional(&mut **tx)
    .await
    .context("cannot read waiting message")?;
    bind_location!(
        sqlx::query(
            "INSERT INTO mailbox_waiting (source, folder, validity, uid, first_seen_at, stage, \
             attempts, last_error, failing_since, permanent, size) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, 1, ?) \
             ON CONFLICT (source, folder, validity, uid) DO UPDATE SET stage = excluded.stage, \
             attempts = 1, last_error = excluded.last_error, \
             failing_since = COALESCE(mailbox_waiting.failing_since, excluded.failing_since), \
             next_attempt_at = NULL, permanent = 1, size = excluded.size",
        ),
        loc
    )
    .bind(&now)
    .bind(Stage::TooLarge)
    .bind(format!("{size} bytes, over mailbox.max_message_bytes"))
    .bind(&now)
    .bind(size)
    .execute(&mut **tx)
    .await
    .context("cannot record an oversized message")?;
    Ok(before != Some(Some(Stage::TooLarge)))
}

/// Records a refused fetch or move of `loc` and decides: retry later, or
/// (after `policy.max_attempts`) leave it for a human.
pub async fn failed(
    store: &Store,
    loc: &Location,
    stage: Stage,
    error: &str,
    policy: RetryPolicy,
) -> anyhow::Result<Failure> {
    let now = Utc::now();
    let mut tx = store.begin().await?;
    let attempts: i64 = bind_location!(sqlx::query_scalar(
        "INSERT INTO mailbox_waiting (source, folder, validity, uid, first_seen_at, stage, attempts, \
         last_error, failing_since) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?) \
         ON CONFLICT (source, folder, validity, uid) DO UPDATE SET \
         attempts = CASE WHEN stage IS excluded.stage THEN attempts + 1 ELSE 1 END, \
         failing_since = CASE WHEN stage IS excluded.stage THEN COALESCE(failing_since, excluded.failing_since) \
         ELSE excluded.failing_since END, \
         stage = excluded.stage, last_error = excluded.last_error \
         RETURNING attempts",
    ), loc)
    .bind(ts(now))
    .bind(stage)
    .bind(error)
    .bind(ts(now))
    .fetch_one(&mut *tx)
    .await
    .context("cannot record mailbox failure")?;
    let permanent = attempts >= policy.max_attempts;
    bind_location!(
        sqlx::query(
            "UPDATE mailbox_waiting SET permanent = ?, next_attempt_at = ? \
         WHERE source = ? AND folder = ? AND validity = ? AND uid = ?",
        )
        .bind(permanent)
        .bind(ts(now + policy.delay(attempts))),
        loc
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await.context("cannot commit mailbox failure")?;
    Ok(Failure {
        attempts,
        permanent,
    })
}

/// When the next retry of a failed message is due.
pub async fn next_retry(store: &Store) -> anyhow::Result<Option<DateTime<Utc>>> {
    let next: Option<String> = sqlx::query_scalar(
        "SELECT MIN(next_attempt_at) FROM mailbox_waiting WHERE permanent = 0 AND stage IS NOT NULL",
    )
    .fetch_one(store.pool())
    .await
    .context("cannot read the next mailbox retry")?;
    Ok(next.as_deref().and_then(parse_ts))
}

/// One waiting message, for `status` and the alarm.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Waiting {
    pub folder: String,
    pub uid: String,
    pub first_seen_at: String,
    pub stage: Option<Stage>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub failing_since: Option<String>,
    pub permanent: bool,
    /// RFC822.SIZE, for a message over the size limit.
    pub size: Option<i64>,
}

/// Everything waiting, oldest first.
pub async fn all(store: &Store) -> anyhow::Result<Vec<Waiting>> {
    sqlx::query_as(
        "SELECT folder, uid, first_seen_at, stage, attempts, last_error, failing_since, permanent, size \
         FROM mailbox_waiting ORDER BY first_seen_at, uid",
    )
    .fetch_all(store.pool())
    .await
    .context("cannot list waiting messages")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_up_to_its_cap() {
        let p = RetryPolicy {
            initial: Duration::seconds(30),
            max: Duration::seconds(900),
            max_attempts: 5,
        };
        let got: Vec<i64> = (1..=7).map(|a| p.delay(a).num_seconds()).collect();
        assert_eq!(got, vec![30, 60, 120, 240, 480, 900, 900]);
        assert_eq!(p.delay(10_000).num_seconds(), 900);
    }

    const LIMIT: u64 = 1000;

    /// [`blocked`], checked against [`blocked_all`]: the sweep uses the latter.
    async fn is_blocked(store: &Store, l: &Location, at: DateTime<Utc>, limit: u64) -> bool {
        let one = blocked(store, l, at, limit).await.unwrap();
        let all = blocked_all(store, l.source, at, limit).await.unwrap();
        let key = (l.folder.clone(), l.validity, l.uid.clone());
        assert_eq!(one, all.contains(&key), "blocked and blocked_all disagree");
        one
    }

    fn loc(uid: &str) -> Location {
        Location {
            source: "imap",
            folder: "INBOX".into(),
            validity: 7,
            uid: uid.into(),
        }
    }

    #[tokio::test]
    async fn a_failure_is_retried_then_left_for_a_human_and_cleared_when_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).await.unwrap();
        let policy = RetryPolicy {
            initial: Duration::seconds(60),
            max: Duration::seconds(60),
            max_attempts: 2,
        };
        record_scan(&store, "imap", &[loc("1"), loc("2")])
            .await
            .unwrap();
        assert_eq!(all(&store).await.unwrap().len(), 2);
        let now = Utc::now();
        assert!(!is_blocked(&store, &loc("1"), now, LIMIT).await);
        let f = failed(&store, &loc("1"), Stage::Move, "NO nope", policy)
            .await
            .unwrap();
        assert_eq!(
            f,
            Failure {
                attempts: 1,
                permanent: false
            }
        );
        assert!(is_blocked(&store, &loc("1"), now, LIMIT).await);
        assert!(!is_blocked(&store, &loc("1"), now + Duration::seconds(120), LIMIT).await);
        assert!(next_retry(&store).await.unwrap().is_some());
        let f = failed(&store, &loc("1"), Stage::Move, "NO nope", policy)
            .await
            .unwrap();
        assert!(f.permanent);
        assert!(is_blocked(&store, &loc("1"), now + Duration::days(9), LIMIT).await);
        assert_eq!(next_retry(&store).await.unwrap(), None);
        // Message 2 is done; message 1 was moved away by a human.
        let mut tx = store.begin().await.unwrap();
        done_in(&mut tx, &loc("2")).await.unwrap();
        tx.commit().await.unwrap();
        record_scan(&store, "imap", &[]).await.unwrap();
        assert!(all(&store).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_oversized_message_is_recorded_once_and_let_through_by_a_higher_limit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).await.unwrap();
        record_scan(&store, "imap", &[loc("1")]).await.unwrap();
        let record = async |size: u64| {
            let mut tx = store.begin().await.unwrap();
            let news = too_large(&mut tx, &loc("1"), size).await.unwrap();
            tx.commit().await.unwrap();
            news
        };
        assert!(record(5000).await, "news");
        assert!(!record(5000).await, "told once");
        let now = Utc::now();
        assert!(is_blocked(&store, &loc("1"), now, LIMIT).await);
        assert!(!is_blocked(&store, &loc("1"), now, 5000).await);
        let w = all(&store).await.unwrap();
        assert_eq!(
            (w[0].stage, w[0].size, w[0].permanent),
            (Some(Stage::TooLarge), Some(5000), true)
        );
        assert_eq!(
            next_retry(&store).await.unwrap(),
            None,
            "no retry to wait for"
        );
        // Still in the folder after a restart: still known, no second notice.
        record_scan(&store, "imap", &[loc("1")]).await.unwrap();
        assert!(!record(5000).await);
        // Gone from the folder: gone here.
        record_scan(&store, "imap", &[]).await.unwrap();
        assert!(all(&store).await.unwrap().is_empty());
    }
}
