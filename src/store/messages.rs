//! Incoming messages: raw bytes by SHA-256, and where each was seen.

use super::column::text_enum;
use super::{Store, Tx, now, ts};
use anyhow::Context;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::Row;

text_enum! {
    /// How far a stored message got (`messages.state`).
    pub enum MessageState {
        /// Stored, not processed yet (or to be retried).
        Received = "received",
        /// Handled: classified and acted on.
        Processed = "processed",
        /// A repeated Message-ID: recorded, not acted on again.
        Duplicate = "duplicate",
        /// Processing failed `MAX_ATTEMPTS` times: left for staff.
        Failed = "failed",
    }
}

/// Where a message sits: (source, folder, UIDVALIDITY, UID). For Maildir the
/// validity is 0 and the UID is the file's unique name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub source: &'static str,
    pub folder: String,
    pub validity: i64,
    pub uid: String,
}

/// Binds a location's four parts, in the order `source, folder, validity,
/// uid` that every query on a location uses.
macro_rules! bind_location {
    ($query:expr, $loc:expr) => {
        $query
            .bind($loc.source)
            .bind(&$loc.folder)
            .bind($loc.validity)
            .bind(&$loc.uid)
    };
}
pub(crate) use bind_location;

/// What we already know about a location.
#[derive(Debug, Clone)]
pub struct Known {
    pub message_row: i64,
    pub state: MessageState,
    pub disposition: Option<String>,
    pub moved: bool,
}

/// Header facts read before storing, all from untrusted input.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub message_id: Option<String>,
    pub from_address: Option<String>,
    pub subject: Option<String>,
    /// The mail carried the right command secret, checked before the secret
    /// was masked in the stored bytes ([`crate::intake::mask`]).
    pub secret_verified: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    /// A message we had never seen.
    New(i64),
    /// The same bytes were stored before (for example after a UIDVALIDITY change).
    SameContent(i64),
}

impl StoreOutcome {
    pub fn row(self) -> i64 {
        match self {
            StoreOutcome::New(r) | StoreOutcome::SameContent(r) => r,
        }
    }
}

pub fn sha256_hex(raw: &[u8]) -> String {
    hex::encode(Sha256::digest(raw))
}

/// Looks a location up.
pub async fn known(store: &Store, loc: &Location) -> anyhow::Result<Option<Known>> {
    let row = bind_location!(
        sqlx::query(
            "SELECT l.message_row, l.moved_at, m.state, m.disposition FROM mailbox_locations l \
         JOIN messages m ON m.id = l.message_row \
         WHERE l.source = ? AND l.folder = ? AND l.validity = ? AND l.uid = ?",
        ),
        loc
    )
    .fetch_optional(store.pool())
    .await
    .context("cannot look up mailbox location")?;
    row.map(|r| -> anyhow::Result<Known> {
        Ok(Known {
            message_row: r.try_get(0)?,
            moved: r.try_get::<Option<String>, _>(1)?.is_some(),
            state: r.try_get(2)?,
            disposition: r.try_get(3)?,
        })
    })
    .transpose()
    .context("cannot read mailbox location")
}

/// [`known`] for every location ever recorded in one folder (one query per
/// sweep, not one per message), by UID.
pub async fn known_in_folder(
    store: &Store,
    source: &str,
    folder: &str,
    validity: i64,
) -> anyhow::Result<std::collections::HashMap<String, Known>> {
    let rows = sqlx::query(
        "SELECT l.uid, l.message_row, l.moved_at, m.state, m.disposition FROM mailbox_locations l \
         JOIN messages m ON m.id = l.message_row \
         WHERE l.source = ? AND l.folder = ? AND l.validity = ?",
    )
    .bind(source)
    .bind(folder)
    .bind(validity)
    .fetch_all(store.pool())
    .await
    .context("cannot look up mailbox locations")?;
    rows.into_iter()
        .map(|r| -> anyhow::Result<(String, Known)> {
            Ok((
                r.try_get(0)?,
                Known {
                    message_row: r.try_get(1)?,
                    moved: r.try_get::<Option<String>, _>(2)?.is_some(),
                    state: r.try_get(3)?,
                    disposition: r.try_get(4)?,
                },
            ))
        })
        .collect::<anyhow::Result<_>>()
        .context("cannot read mailbox locations")
}

/// Stores the raw message and its location in one durable transaction. Nothing
/// acts on a message before this has committed.
pub async fn store_incoming(
    store: &Store,
    loc: &Location,
    raw: &[u8],
    internal_date: DateTime<Utc>,
    summary: &Summary,
) -> anyhow::Result<StoreOutcome> {
    let one = NewMessage {
        loc,
        raw,
        internal_date,
        summary,
    };
    let mut rows = store_incoming_batch(store, std::slice::from_ref(&one)).await?;
    rows.pop().context("no row stored")
}

/// One fetched message on its way into the store.
pub struct NewMessage<'a> {
    pub loc: &'a Location,
    pub raw: &'a [u8],
    pub internal_date: DateTime<Utc>,
    pub summary: &'a Summary,
}

/// Stores a batch of raw messages and their locations in one durable
/// transaction (one fsync for the batch); the outcomes in the batch's order.
/// Nothing acts on a message before this has committed.
pub async fn store_incoming_batch(
    store: &Store,
    batch: &[NewMessage<'_>],
) -> anyhow::Result<Vec<StoreOutcome>> {
    let now = now();
    let mut out = Vec::with_capacity(batch.len());
    let mut tx = store.begin().await?;
    for m in batch {
        out.push(insert_incoming(&mut tx, m, &now).await?);
    }
    tx.commit()
        .await
        .context("cannot commit incoming messages")?;
    Ok(out)
}

async fn insert_incoming(
    tx: &mut Tx<'_>,
    m: &NewMessage<'_>,
    now: &str,
) -> anyhow::Result<StoreOutcome> {
    let sha = sha256_hex(m.raw);
    sqlx::query(
        "INSERT OR IGNORE INTO raw_messages (sha256, size, bytes, stored_at) VALUES (?, ?, ?, ?)",
    )
    .bind(&sha)
    .bind(m.raw.len() as i64)
    .bind(m.raw)
    .bind(now)
    .execute(&mut **tx)
    .await
    .context("cannot store raw message")?;
    let inserted = sqlx::query(
        "INSERT OR IGNORE INTO messages (sha256, message_id, from_address, subject, internal_date, received_at, secret_verified) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&sha)
    .bind(&m.summary.message_id)
    .bind(&m.summary.from_address)
    .bind(&m.summary.subject)
    .bind(ts(m.internal_date))
    .bind(now)
    .bind(m.summary.secret_verified)
    .execute(&mut **tx)
    .await
    .context("cannot store message row")?
    .rows_affected();
    let row: i64 = sqlx::query_scalar("SELECT id FROM messages WHERE sha256 = ?")
        .bind(&sha)
        .fetch_one(&mut **tx)
        .await?;
    bind_location!(sqlx::query(
        "INSERT OR IGNORE INTO mailbox_locations (source, folder, validity, uid, message_row, seen_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    ), m.loc)
    .bind(row)
    .bind(now)
    .execute(&mut **tx)
    .await
    .context("cannot record mailbox location")?;
    Ok(if inserted == 1 {
        StoreOutcome::New(row)
    } else {
        StoreOutcome::SameContent(row)
    })
}

/// Records, in the caller's transaction, that `loc` left the watched folder.
pub async fn mark_moved_in(tx: &mut Tx<'_>, loc: &Location) -> anyhow::Result<()> {
    bind_location!(
        sqlx::query(
            "UPDATE mailbox_locations SET moved_at = ? \
         WHERE source = ? AND folder = ? AND validity = ? AND uid = ?",
        )
        .bind(now()),
        loc
    )
    .execute(&mut **tx)
    .await
    .context("cannot mark message as moved")?;
    Ok(())
}

/// Messages stored but not yet processed (after a crash, or a failed attempt).
pub async fn unprocessed(store: &Store) -> anyhow::Result<Vec<i64>> {
    sqlx::query_scalar("SELECT id FROM messages WHERE state = ? ORDER BY id")
        .bind(MessageState::Received)
        .fetch_all(store.pool())
        .await
        .context("cannot list unprocessed messages")
}

/// A stored message as processing reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Loaded {
    pub raw: Vec<u8>,
    /// INTERNALDATE, as stored ([`super::parse_ts`]).
    pub internal_date: String,
    pub state: MessageState,
    /// What to do with it in the mailbox (`move` | `keep`), once handled.
    pub disposition: Option<String>,
    /// How often `postbote messages retry` put it back after it failed.
    pub retries: i64,
    /// See [`Summary::secret_verified`].
    pub secret_verified: bool,
    /// The programme staff routed it to (`ZUORDNEN`), if they did.
    pub programme: Option<String>,
    /// The header facts stored with it ([`Summary`]).
    pub message_id: Option<String>,
    pub from_address: Option<String>,
}

/// The stored message: raw bytes, INTERNALDATE, state and disposition.
pub async fn load(store: &Store, row: i64) -> anyhow::Result<Loaded> {
    sqlx::query_as(
        "SELECT r.bytes AS raw, m.internal_date, m.state, m.disposition, m.retries, m.secret_verified, \
         m.programme, m.message_id, m.from_address FROM messages m \
         JOIN raw_messages r ON r.sha256 = m.sha256 WHERE m.id = ?",
    )
    .bind(row)
    .fetch_one(store.pool())
    .await
    .with_context(|| format!("cannot load message {row}"))
}

/// The sender as duplicate detection compares it: the From address in
/// lower case (the text as stored when it is not a valid address); None
/// when the mail named no sender.
pub fn sender_key(from_address: Option<&str>) -> Option<String> {
    let text = from_address?.trim();
    if text.is_empty() {
        return None;
    }
    Some(
        crate::domain::EmailAddress::parse(text)
            .map(|a| a.key())
            .unwrap_or_else(|_| text.to_lowercase()),
    )
}

/// An earlier, different message with the same Message-ID from the same
/// sender ([`sender_key`] of `from_address`): its row and disposition. A
/// Message-ID alone proves nothing: another municipality's mail may carry
/// the same one (a broken mail program, a copied template), and that mail
/// is its own.
pub async fn earlier_with_message_id(
    tx: &mut Tx<'_>,
    row: i64,
    message_id: &str,
    from_address: Option<&str>,
) -> anyhow::Result<Option<(i64, Option<String>)>> {
    let candidates: Vec<(i64, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT id, disposition, from_address FROM messages WHERE message_id = ? AND id < ? \
         AND state IN (?, ?) ORDER BY id",
    )
    .bind(message_id)
    .bind(row)
    .bind(MessageState::Processed)
    .bind(MessageState::Duplicate)
    .fetch_all(&mut **tx)
    .await
    .context("cannot look up an earlier message with the same Message-ID")?;
    let sender = sender_key(from_address);
    Ok(candidates
        .into_iter()
        .find(|(_, _, from)| sender_key(from.as_deref()) == sender)
        .map(|(id, disposition, _)| (id, disposition)))
}

/// [`earlier_with_message_id`] outside a transaction: asked before a
/// mail's documents are read, so that a copy is never analysed. The answer
/// is a hint; the transaction that acts on the mail asks again.
pub async fn seen_before(
    store: &Store,
    row: i64,
    message_id: &str,
    from_address: Option<&str>,
) -> anyhow::Result<bool> {
    let mut conn = store
        .pool()
        .acquire()
        .await
        .context("cannot look up an earlier message with the same Message-ID")?;
    let candidates: Vec<(Option<String>,)> = sqlx::query_as(
        "SELECT from_address FROM messages WHERE message_id = ? AND id < ? AND state IN (?, ?)",
    )
    .bind(message_id)
    .bind(row)
    .bind(MessageState::Processed)
    .bind(MessageState::Duplicate)
    .fetch_all(&mut *conn)
    .await
    .context("cannot look up an earlier message with the same Message-ID")?;
    let sender = sender_key(from_address);
    Ok(candidates
        .iter()
        .any(|(from,)| sender_key(from.as_deref()) == sender))
}

/// Records how a message was handled, inside the transaction that acted on it.
pub struct Handled<'a> {
    pub state: MessageState,
    pub class: &'a str,
    pub reason: &'a str,
    pub disposition: &'a str,
    pub application_id: Option<i64>,
    pub duplicate_of: Option<i64>,
}

pub async fn set_handled(tx: &mut Tx<'_>, row: i64, h: &Handled<'_>) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE messages SET state = ?, class = ?, class_reason = ?, disposition = ?, \
         application_id = ?, duplicate_of = ?, processed_at = ?, error = NULL WHERE id = ?",
    )
    .bind(h.state)
    .bind(h.class)
    .bind(h.reason)
    .bind(h.disposition)
    .bind(h.application_id)
    .bind(h.duplicate_of)
    .bind(now())
    .bind(row)
    .execute(&mut **tx)
    .await
    .context("cannot record message handling")?;
    Ok(())
}

/// The class and reason a mail is stored with when it could be an
/// application for more than one programme (two calls open, none named):
/// not recorded as an application, put to staff, who route it with
/// `ZUORDNEN <id> CODE` ([`route_to`]).
pub const UNROUTED_CLASS: &str = "application";
pub const UNROUTED_REASON: &str = "two calls open and none named: put to staff (ZUORDNEN)";

/// What [`route_to`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// Routed: put back to `received`, processed again (for that programme)
    /// by the next sweep.
    Requeued,
    NoSuchMessage,
    /// No programme with this code is registered (configured).
    UnknownProgramme,
    /// The message is not an application mail waiting for staff to route
    /// it: its state and class.
    NotWaiting(MessageState, Option<String>),
}

/// Staff route message `row` to programme `code` (`ZUORDNEN`): it must be a
/// mail held as [`UNROUTED_REASON`] (an application mail without an
/// application). Its programme is set and it is put back to `received`,
/// so that the intake processes it again, the normal way, for `code`.
pub async fn route_to(tx: &mut Tx<'_>, row: i64, code: &str) -> anyhow::Result<Routing> {
    let known: Option<String> =
        sqlx::query_scalar("SELECT code FROM programmes WHERE code = ? COLLATE NOCASE")
            .bind(code)
            .fetch_optional(&mut **tx)
            .await
            .context("cannot read the programmes")?;
    let Some(code) = known else {
        return Ok(Routing::UnknownProgramme);
    };
    /// State, class, application and reason of the message.
    type Row = (MessageState, Option<String>, Option<i64>, Option<String>);
    let found: Option<Row> = sqlx::query_as(
        "SELECT state, class, application_id, class_reason FROM messages WHERE id = ?",
    )
    .bind(row)
    .fetch_optional(&mut **tx)
    .await
    .context("cannot read the message")?;
    let Some((state, class, application_id, reason)) = found else {
        return Ok(Routing::NoSuchMessage);
    };
    let waiting = state == MessageState::Processed
        && class.as_deref() == Some(UNROUTED_CLASS)
        && application_id.is_none()
        && reason.as_deref() == Some(UNROUTED_REASON);
    if !waiting {
        return Ok(Routing::NotWaiting(state, class));
    }
    sqlx::query(
        "UPDATE messages SET programme = ?, state = ?, attempts = 0, error = NULL WHERE id = ?",
    )
    .bind(&code)
    .bind(MessageState::Received)
    .bind(row)
    .execute(&mut **tx)
    .await
    .context("cannot route the message")?;
    Ok(Routing::Requeued)
}

/// Records a processing failure. After `max_attempts` the message is `failed`
/// (kept in the mailbox, shown by `status`); before that it is retried.
/// Returns the message's new state.
pub async fn set_error(
    store: &Store,
    row: i64,
    error: &str,
    max_attempts: i64,
) -> anyhow::Result<MessageState> {
    sqlx::query_scalar(
        "UPDATE messages SET attempts = attempts + 1, error = ?, \
         state = CASE WHEN attempts + 1 >= ? THEN ? ELSE state END WHERE id = ? RETURNING state",
    )
    .bind(error)
    .bind(max_attempts)
    .bind(MessageState::Failed)
    .bind(row)
    .fetch_one(store.pool())
    .await
    .context("cannot record processing error")
}

/// What `postbote messages retry` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    /// The failed message is `received` again with no attempts: the
    /// daemon's next sweep processes it. `moves_cleared` refused moves of
    /// its mail that had been left for staff are to be tried again.
    Requeued {
        moves_cleared: u64,
    },
    /// Only its mail's move had been left for staff; it is tried again.
    MoveRequeued {
        moves_cleared: u64,
    },
    /// Nothing to put back: the message is in this state and its mail
    /// waits for nothing.
    NotFailed(MessageState),
    NoSuchMessage,
}

/// Puts a failed message back: state `received`, attempts 0, the error
/// cleared, `retries` + 1, in one transaction. A move of its mail that the
/// server refused until it was left for staff (`mailbox_waiting`,
/// permanent) is cleared too, so the next sweep moves it.
pub async fn retry(store: &Store, row: i64) -> anyhow::Result<Retry> {
    let mut tx = store.begin().await?;
    let state: Option<MessageState> = sqlx::query_scalar("SELECT state FROM messages WHERE id = ?")
        .bind(row)
        .fetch_optional(&mut *tx)
        .await
        .context("cannot read the message")?;
    let Some(state) = state else {
        return Ok(Retry::NoSuchMessage);
    };
    let moves_cleared = sqlx::query(
        "DELETE FROM mailbox_waiting WHERE permanent = 1 AND stage = ? AND EXISTS (\
         SELECT 1 FROM mailbox_locations l WHERE l.message_row = ? AND l.source = mailbox_waiting.source \
         AND l.folder = mailbox_waiting.folder AND l.validity = mailbox_waiting.validity \
         AND l.uid = mailbox_waiting.uid)",
    )
    .bind(super::waiting::Stage::Move)
    .bind(row)
    .execute(&mut *tx)
    .await
    .context("cannot clear the refused move")?
    .rows_affected();
    let outcome = if state == MessageState::Failed {
        sqlx::query(
            "UPDATE messages SET state = ?, attempts = 0, error = NULL, retries = retries + 1 \
             WHERE id = ?",
        )
        .bind(MessageState::Received)
        .bind(row)
        .execute(&mut *tx)
        .await
        .context("cannot put the message back")?;
        Retry::Requeued { moves_cleared }
    } else if moves_cleared > 0 {
        Retry::MoveRequeued { moves_cleared }
    } else {
        Retry::NotFailed(state)
    };
    tx.commit().await.context("cannot commit the retry")?;
    Ok(outcome)
}

/// One stored message, for `postbote messages list`.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Listed {
    pub id: i64,
    pub state: MessageState,
    pub class: Option<String>,
    pub from_address: Option<String>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    pub internal_date: String,
    pub attempts: i64,
    pub retries: i64,
    pub error: Option<String>,
    /// Where the mail was last seen (`folder UID n`), if known.
    pub location: Option<String>,
    /// Moved to the processed folder.
    pub moved: bool,
}

/// The stored messages, newest first; with `failed_only` just the failed ones.
pub async fn list(store: &Store, failed_only: bool, limit: i64) -> anyhow::Result<Vec<Listed>> {
    sqlx::query_as(
        "SELECT m.id, m.state, m.class, m.from_address, m.subject, m.message_id, m.internal_date, \
         m.attempts, m.retries, m.error, \
         (SELECT l.folder || ' UID ' || l.uid FROM mailbox_locations l WHERE l.message_row = m.id \
          ORDER BY l.seen_at DESC LIMIT 1) AS location, \
         EXISTS (SELECT 1 FROM mailbox_locations l WHERE l.message_row = m.id \
          AND l.moved_at IS NOT NULL) AS moved \
         FROM messages m WHERE (? = 0 OR m.state = ?) ORDER BY m.id DESC LIMIT ?",
    )
    .bind(failed_only)
    .bind(MessageState::Failed)
    .bind(limit)
    .fetch_all(store.pool())
    .await
    .context("cannot list messages")
}

/// Counts by state, then by class, for `status`.
pub async fn counts(store: &Store) -> anyhow::Result<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT state || COALESCE('/' || class, ''), COUNT(*) FROM messages GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Whether a message with `message_id` (without brackets) was stored: the
/// sender's crash check finds its own copies of sent mail here.
pub async fn stored_with_message_id(store: &Store, message_id: &str) -> anyhow::Result<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT id FROM messages WHERE message_id = ? LIMIT 1")
            .bind(message_id)
            .fetch_optional(store.pool())
            .await
            .context("cannot look up a stored message by Message-ID")?;
    Ok(found.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::column::assert_round_trip;
    use crate::store::testing;

    #[test]
    fn message_states_round_trip() {
        assert_round_trip!(MessageState, "", "Received", "new", "processed ");
    }

    #[tokio::test]
    async fn load_tells_state_and_disposition_and_errors_end_in_failed() {
        let (_dir, store) = testing::store().await;
        let row = testing::message(&store, 1).await;
        let loaded = load(&store, row).await.unwrap();
        assert_eq!(loaded.state, MessageState::Received);
        assert_eq!(loaded.disposition, None);
        assert!(loaded.raw.starts_with(b"Message-ID: <m1@x.test>"));
        assert_eq!(unprocessed(&store).await.unwrap(), vec![row]);

        assert_eq!(
            set_error(&store, row, "boom", 2).await.unwrap(),
            MessageState::Received
        );
        assert_eq!(
            set_error(&store, row, "boom", 2).await.unwrap(),
            MessageState::Failed
        );
        assert!(unprocessed(&store).await.unwrap().is_empty());

        let other = testing::message(&store, 2).await;
        let mut tx = store.begin().await.unwrap();
        let h = Handled {
            state: MessageState::Processed,
            class: "other",
            reason: "test",
            disposition: "move",
            application_id: None,
            duplicate_of: None,
        };
        set_handled(&mut tx, other, &h).await.unwrap();
        assert_eq!(
            earlier_with_message_id(&mut tx, other + 1, "m2@x.test", Some("A2@X.test"))
                .await
                .unwrap(),
            Some((other, Some("move".to_string())))
        );
        // The same Message-ID from someone else is another message.
        assert_eq!(
            earlier_with_message_id(&mut tx, other + 1, "m2@x.test", Some("a3@x.test"))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            earlier_with_message_id(&mut tx, other + 1, "m2@x.test", None)
                .await
                .unwrap(),
            None
        );
        // A failed message is no original to compare with.
        assert_eq!(
            earlier_with_message_id(&mut tx, other + 1, "m1@x.test", Some("a1@x.test"))
                .await
                .unwrap(),
            None
        );
        tx.commit().await.unwrap();
        let loaded = load(&store, other).await.unwrap();
        assert_eq!(loaded.state, MessageState::Processed);
        assert_eq!(loaded.disposition.as_deref(), Some("move"));
        let state: String = sqlx::query_scalar("SELECT state FROM messages WHERE id = ?")
            .bind(other)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(state, "processed");
    }

    #[tokio::test]
    async fn a_location_knows_its_message_state_and_an_unknown_state_is_refused() {
        let (_dir, store) = testing::store().await;
        let row = testing::message(&store, 1).await;
        let loc = Location {
            source: "maildir",
            folder: "INBOX".into(),
            validity: 0,
            uid: "m1".into(),
        };
        let k = known(&store, &loc).await.unwrap().unwrap();
        assert_eq!(
            (k.message_row, k.state, k.moved),
            (row, MessageState::Received, false)
        );
        sqlx::query("UPDATE messages SET state = 'archived' WHERE id = ?")
            .bind(row)
            .execute(store.pool())
            .await
            .unwrap();
        let e = known(&store, &loc).await.unwrap_err();
        assert!(
            format!("{e:#}").contains("unknown MessageState \"archived\""),
            "{e:#}"
        );
        assert!(load(&store, row).await.is_err());
    }

    #[tokio::test]
    async fn only_an_application_mail_held_for_staff_is_routed_and_only_to_a_known_programme() {
        let (_dir, store) = testing::store().await;
        let held = testing::message(&store, 1).await;
        let other = testing::message(&store, 2).await;
        let mut tx = store.begin().await.unwrap();
        for (row, reason) in [(held, UNROUTED_REASON), (other, "mail from an applicant")] {
            let h = Handled {
                state: MessageState::Processed,
                class: UNROUTED_CLASS,
                reason,
                disposition: "keep",
                application_id: None,
                duplicate_of: None,
            };
            set_handled(&mut tx, row, &h).await.unwrap();
        }
        assert_eq!(
            route_to(&mut tx, held, "EWS9").await.unwrap(),
            Routing::UnknownProgramme
        );
        assert_eq!(
            route_to(&mut tx, held + 100, "EWS7").await.unwrap(),
            Routing::NoSuchMessage
        );
        assert!(matches!(
            route_to(&mut tx, other, "EWS7").await.unwrap(),
            Routing::NotWaiting(MessageState::Processed, _)
        ));
        assert_eq!(
            route_to(&mut tx, held, "ews7").await.unwrap(),
            Routing::Requeued
        );
        tx.commit().await.unwrap();
        assert_eq!(unprocessed(&store).await.unwrap(), vec![held]);
        let loaded = load(&store, held).await.unwrap();
        assert_eq!(loaded.programme.as_deref(), Some("EWS7"));
        assert_eq!(loaded.state, MessageState::Received);
        // Routed once: it waits no more.
        let mut tx = store.begin().await.unwrap();
        assert!(matches!(
            route_to(&mut tx, held, "EWS7").await.unwrap(),
            Routing::NotWaiting(MessageState::Received, _)
        ));
    }

    #[tokio::test]
    async fn retry_puts_a_failed_message_back_and_a_move_left_for_staff_is_tried_again() {
        use crate::store::waiting::{self, RetryPolicy, Stage};
        let (_dir, store) = testing::store().await;
        let row = testing::message(&store, 1).await;
        assert_eq!(
            retry(&store, row).await.unwrap(),
            Retry::NotFailed(MessageState::Received)
        );
        set_error(&store, row, "boom", 1).await.unwrap();
        let failed = list(&store, true, 10).await.unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(
            (failed[0].id, failed[0].attempts, failed[0].error.as_deref()),
            (row, 1, Some("boom"))
        );
        assert_eq!(failed[0].location.as_deref(), Some("INBOX UID m1"));
        assert_eq!(
            retry(&store, row).await.unwrap(),
            Retry::Requeued { moves_cleared: 0 }
        );
        assert!(list(&store, true, 10).await.unwrap().is_empty());
        assert_eq!(unprocessed(&store).await.unwrap(), vec![row]);

        // Processed, but the server refused its move until it was left for staff.
        let mut tx = store.begin().await.unwrap();
        let h = Handled {
            state: MessageState::Processed,
            class: "application",
            reason: "test",
            disposition: "move",
            application_id: None,
            duplicate_of: None,
        };
        set_handled(&mut tx, row, &h).await.unwrap();
        tx.commit().await.unwrap();
        let loc = Location {
            source: "maildir",
            folder: "INBOX".into(),
            validity: 0,
            uid: "m1".into(),
        };
        let policy = RetryPolicy {
            initial: chrono::Duration::seconds(1),
            max: chrono::Duration::seconds(1),
            max_attempts: 1,
        };
        let f = waiting::failed(&store, &loc, Stage::Move, "NO quota", policy)
            .await
            .unwrap();
        assert!(f.permanent);
        assert_eq!(
            retry(&store, row).await.unwrap(),
            Retry::MoveRequeued { moves_cleared: 1 }
        );
        assert!(
            !waiting::blocked(&store, &loc, chrono::Utc::now(), 1 << 20)
                .await
                .unwrap()
        );
        assert_eq!(list(&store, false, 10).await.unwrap().len(), 1);
    }
}
