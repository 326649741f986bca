//! The programme calendar's tables (see their migrations):
//! `programme_events`, the last version of each module and learning group
//! that postbote acted on (fingerprint, status, iCalendar UID and SEQUENCE);
//! `programme_mails`, every scheduled mail decided on (sent or skipped, keyed
//! so that none is decided twice); `event_overrides`, the events staff
//! confirmed or cancelled by mail.
//!
//! Kinds and states are enums here and the same lowercase strings in the
//! database; the calendar part is stored as its iTIP method (`REQUEST`,
//! `CANCEL`).

use super::column::text_enum;
use super::{Store, Tx, now, parse_ts, ts};
use crate::calendar::ics::Method;
use crate::config::programme::EventStatus;
use anyhow::Context;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashSet};

text_enum! {
    /// What a programme mail is (`programme_mails.kind`).
    pub enum MailKind {
        Reminder = "reminder",
        Announcement = "announcement",
        Update = "update",
        Cancel = "cancel",
        Digest = "digest",
    }
}

text_enum! {
    /// What was decided about a programme mail (`programme_mails.state`).
    pub enum MailState {
        /// Queued in the outbox.
        Sent = "sent",
        /// Not sent, for the reason in the row's note (superseded by a later
        /// reminder, the event had begun, nothing to report, …).
        Skipped = "skipped",
    }
}

/// `programme_events.status` and `event_overrides.status`.
fn status_str(status: EventStatus) -> &'static str {
    match status {
        EventStatus::Confirmed => "confirmed",
        EventStatus::Tentative => "tentative",
        EventStatus::Cancelled => "cancelled",
    }
}

fn parse_status(s: &str) -> Option<EventStatus> {
    [
        EventStatus::Confirmed,
        EventStatus::Tentative,
        EventStatus::Cancelled,
    ]
    .into_iter()
    .find(|st| status_str(*st) == s)
}

/// The last version of an event that postbote acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub key: String,
    pub fingerprint: String,
    /// None for a status this build does not know: it differs from every
    /// current one, so the next pass rewrites it.
    pub status: Option<EventStatus>,
    /// The iCalendar SEQUENCE last sent.
    pub sequence: i64,
    /// The series' UID; None in rows written before it was stored.
    pub uid: Option<String>,
}

type EventRow = (String, String, String, i64, Option<String>);

fn stored_event((key, fingerprint, status, sequence, uid): EventRow) -> StoredEvent {
    StoredEvent {
        status: parse_status(&status),
        key,
        fingerprint,
        sequence,
        uid,
    }
}

/// Every event postbote acted on, of programme `programme` (its code).
pub async fn events(store: &Store, programme: &str) -> anyhow::Result<Vec<StoredEvent>> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT key, fingerprint, status, sequence, uid FROM programme_events WHERE programme = ?",
    )
    .bind(programme)
    .fetch_all(store.pool())
    .await
    .context("cannot read programme events")?;
    Ok(rows.into_iter().map(stored_event).collect())
}

/// One event postbote acted on, if it did.
pub async fn event(
    tx: &mut Tx<'_>,
    programme: &str,
    key: &str,
) -> anyhow::Result<Option<StoredEvent>> {
    let row: Option<EventRow> = sqlx::query_as(
        "SELECT key, fingerprint, status, sequence, uid FROM programme_events \
         WHERE programme = ? AND key = ?",
    )
    .bind(programme)
    .bind(key)
    .fetch_optional(&mut **tx)
    .await
    .with_context(|| format!("cannot read programme event {key}"))?;
    Ok(row.map(stored_event))
}

/// The version of an event that postbote acts on now.
#[derive(Debug, Clone)]
pub struct EventVersion<'a> {
    /// The programme's code.
    pub programme: &'a str,
    pub key: &'a str,
    pub fingerprint: &'a str,
    pub status: EventStatus,
    pub sequence: i64,
    pub start: DateTime<Utc>,
    /// The UID to store if the row has none yet.
    pub uid: &'a str,
}

/// Stores the version postbote acted on. The UID is fixed at the first
/// insert (or the first one after rows without it) and kept ever after.
pub async fn save_event(tx: &mut Tx<'_>, v: &EventVersion<'_>) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO programme_events (programme, key, fingerprint, status, sequence, start_at, updated_at, uid) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (programme, key) DO UPDATE SET fingerprint = excluded.fingerprint, \
         status = excluded.status, sequence = excluded.sequence, start_at = excluded.start_at, \
         updated_at = excluded.updated_at, uid = COALESCE(programme_events.uid, excluded.uid)",
    )
    .bind(v.programme)
    .bind(v.key)
    .bind(v.fingerprint)
    .bind(status_str(v.status))
    .bind(v.sequence)
    .bind(ts(v.start))
    .bind(now())
    .bind(v.uid)
    .execute(&mut **tx)
    .await
    .with_context(|| format!("cannot store programme event {}", v.key))?;
    Ok(())
}

/// A scheduled mail decided on, at the scheduler's clock.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    /// The programme's code (the digest: the first programme's).
    pub programme: &'a str,
    pub key: &'a str,
    /// None for a digest.
    pub event_key: Option<&'a str>,
    pub kind: MailKind,
    /// None for a digest (it goes to every staff address).
    pub recipient: Option<&'a str>,
    pub due: DateTime<Utc>,
    pub decided_at: DateTime<Utc>,
    pub state: MailState,
    pub note: Option<&'a str>,
    /// The calendar part the mail carried and its SEQUENCE.
    pub calendar: Option<(Method, i64)>,
}

/// Records a decision; a key decided before keeps its first decision.
/// Returns whether this one was recorded.
pub async fn record_mail(tx: &mut Tx<'_>, d: &Decision<'_>) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO programme_mails (programme, key, event_key, kind, recipient, due_at, decided_at, state, note, calendar, sequence) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
    )
    .bind(d.programme)
    .bind(d.key)
    .bind(d.event_key)
    .bind(d.kind)
    .bind(d.recipient)
    .bind(ts(d.due))
    .bind(ts(d.decided_at))
    .bind(d.state)
    .bind(d.note)
    .bind(d.calendar.map(|(m, _)| m.as_str()))
    .bind(d.calendar.map(|(_, seq)| seq))
    .execute(&mut **tx)
    .await
    .with_context(|| format!("cannot record programme mail {}", d.key))?;
    Ok(done.rows_affected() > 0)
}

/// Whether the mail keyed `key` was decided on.
pub async fn is_decided(store: &Store, key: &str) -> anyhow::Result<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM programme_mails WHERE key = ?")
        .bind(key)
        .fetch_optional(store.pool())
        .await
        .with_context(|| format!("cannot read programme mail {key}"))?;
    Ok(found.is_some())
}

/// The keys of every decided mail of one kind, of programme `programme`.
pub async fn decided_keys(
    store: &Store,
    programme: &str,
    kind: MailKind,
) -> anyhow::Result<HashSet<String>> {
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT key FROM programme_mails WHERE programme = ? AND kind = ?")
            .bind(programme)
            .bind(kind)
            .fetch_all(store.pool())
            .await
            .context("cannot read programme mails")?;
    Ok(keys.into_iter().collect())
}

/// Every decided mail's state of programme `programme`, by key.
pub async fn mail_states(
    store: &Store,
    programme: &str,
) -> anyhow::Result<BTreeMap<String, MailState>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT key, state FROM programme_mails WHERE programme = ?")
            .bind(programme)
            .fetch_all(store.pool())
            .await
            .context("cannot read programme mails")?;
    rows.into_iter()
        .map(|(key, state)| {
            MailState::parse(&state)
                .map(|s| (key.clone(), s))
                .with_context(|| format!("programme mail {key}"))
        })
        .collect()
}

/// The latest due time of a decided mail of one kind (None if there is
/// none, or it is not a timestamp).
pub async fn last_due(store: &Store, kind: MailKind) -> anyhow::Result<Option<DateTime<Utc>>> {
    let last: Option<String> =
        sqlx::query_scalar("SELECT MAX(due_at) FROM programme_mails WHERE kind = ?")
            .bind(kind)
            .fetch_one(store.pool())
            .await
            .context("cannot read programme mails")?;
    Ok(last.as_deref().and_then(parse_ts))
}

/// Everyone who has the event in their calendar: sent a mail with its
/// REQUEST (an announcement, an update, or a reminder that carried it). By
/// address.
pub async fn requested(
    tx: &mut Tx<'_>,
    programme: &str,
    event_key: &str,
) -> anyhow::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT DISTINCT recipient FROM programme_mails WHERE programme = ? AND event_key = ? \
         AND state = ? AND calendar = ? ORDER BY recipient",
    )
    .bind(programme)
    .bind(event_key)
    .bind(MailState::Sent)
    .bind(Method::Request.as_str())
    .fetch_all(&mut **tx)
    .await
    .with_context(|| format!("cannot read who has {event_key}"))
}

/// The highest SEQUENCE of the event's REQUEST sent to `recipient`: None if
/// none was, -1 if only at an unknown SEQUENCE (rows from before it was
/// stored).
pub async fn requested_sequence(
    tx: &mut Tx<'_>,
    programme: &str,
    event_key: &str,
    recipient: &str,
) -> anyhow::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT MAX(COALESCE(sequence, -1)) FROM programme_mails WHERE programme = ? \
         AND event_key = ? AND recipient = ? AND state = ? AND calendar = ?",
    )
    .bind(programme)
    .bind(event_key)
    .bind(recipient)
    .bind(MailState::Sent)
    .bind(Method::Request.as_str())
    .fetch_one(&mut **tx)
    .await
    .with_context(|| format!("cannot read what {recipient} has of {event_key}"))
}

/// The statuses staff set by mail, by event key. A row with a status this
/// build does not know is left out.
pub async fn overrides(
    store: &Store,
    programme: &str,
) -> anyhow::Result<Vec<(String, EventStatus)>> {
    let mut conn = store
        .pool()
        .acquire()
        .await
        .context("no database connection")?;
    overrides_on(&mut conn, programme).await
}

/// [`overrides`] as the caller's transaction sees them (including a status
/// set earlier in the same command mail).
pub async fn overrides_in(
    tx: &mut Tx<'_>,
    programme: &str,
) -> anyhow::Result<Vec<(String, EventStatus)>> {
    overrides_on(tx, programme).await
}

async fn overrides_on(
    conn: &mut sqlx::SqliteConnection,
    programme: &str,
) -> anyhow::Result<Vec<(String, EventStatus)>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT key, status FROM event_overrides WHERE programme = ?")
            .bind(programme)
            .fetch_all(conn)
            .await
            .context("cannot read event overrides")?;
    Ok(rows
        .into_iter()
        .filter_map(|(key, status)| parse_status(&status).map(|s| (key, s)))
        .collect())
}

/// Stores the status staff set for an event, replacing an earlier one.
pub async fn set_override(
    tx: &mut Tx<'_>,
    programme: &str,
    key: &str,
    status: EventStatus,
    by: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO event_overrides (programme, key, status, decided_by, decided_at) \
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (programme, key) DO UPDATE SET status = excluded.status, decided_by = excluded.decided_by, \
         decided_at = excluded.decided_at",
    )
    .bind(programme)
    .bind(key)
    .bind(status_str(status))
    .bind(by)
    .bind(now())
    .execute(&mut **tx)
    .await
    .with_context(|| format!("cannot store the status of {key}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).await.unwrap();
        (dir, store)
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 8, 1, 6, 0, 0).unwrap()
    }

    fn mail<'a>(key: &'a str, recipient: &'a str, state: MailState) -> Decision<'a> {
        Decision {
            programme: "EWS7",
            key,
            event_key: Some("module-1"),
            kind: MailKind::Reminder,
            recipient: Some(recipient),
            due: t0(),
            decided_at: t0(),
            state,
            note: None,
            calendar: None,
        }
    }

    #[test]
    fn kinds_and_states_round_trip_as_the_stored_strings() {
        for &k in MailKind::ALL {
            assert_eq!(MailKind::parse(k.as_str()), Ok(k));
        }
        for &s in MailState::ALL {
            assert_eq!(MailState::parse(s.as_str()), Ok(s));
        }
        for s in [
            EventStatus::Confirmed,
            EventStatus::Tentative,
            EventStatus::Cancelled,
        ] {
            assert_eq!(parse_status(status_str(s)), Some(s));
        }
        assert!(MailKind::parse("alarm").is_err());
        assert!(MailState::parse("superseded").is_err());
        assert_eq!(parse_status("Confirmed"), None);
    }

    #[tokio::test]
    async fn a_mail_is_decided_once_and_found_by_kind() {
        let (_dir, store) = store().await;
        let mut tx = store.begin().await.unwrap();
        let first = Decision {
            note: Some("the event had begun"),
            ..mail("r1", "a@example.org", MailState::Skipped)
        };
        assert!(record_mail(&mut tx, &first).await.unwrap());
        // The same key again, decided differently: the first decision stays.
        let again = mail("r1", "a@example.org", MailState::Sent);
        assert!(!record_mail(&mut tx, &again).await.unwrap());
        let digest = Decision {
            programme: "EWS7",
            key: "digest:x",
            event_key: None,
            kind: MailKind::Digest,
            recipient: None,
            due: t0() + Duration::days(1),
            decided_at: t0(),
            state: MailState::Sent,
            note: None,
            calendar: None,
        };
        assert!(record_mail(&mut tx, &digest).await.unwrap());
        tx.commit().await.unwrap();

        let states = mail_states(&store, "EWS7").await.unwrap();
        assert_eq!(states.get("r1"), Some(&MailState::Skipped));
        assert_eq!(states.get("digest:x"), Some(&MailState::Sent));
        assert!(is_decided(&store, "r1").await.unwrap());
        assert!(!is_decided(&store, "r2").await.unwrap());
        let reminders = decided_keys(&store, "EWS7", MailKind::Reminder)
            .await
            .unwrap();
        assert_eq!(reminders, HashSet::from(["r1".to_string()]));
        assert_eq!(
            last_due(&store, MailKind::Digest).await.unwrap(),
            Some(t0() + Duration::days(1))
        );
        assert_eq!(last_due(&store, MailKind::Update).await.unwrap(), None);

        sqlx::query("UPDATE programme_mails SET state = 'bogus' WHERE key = 'r1'")
            .execute(store.pool())
            .await
            .unwrap();
        assert!(mail_states(&store, "EWS7").await.is_err());
    }

    #[tokio::test]
    async fn only_a_sent_request_puts_the_event_in_a_calendar() {
        let (_dir, store) = store().await;
        let mut tx = store.begin().await.unwrap();
        let rows = [
            Decision {
                calendar: Some((Method::Request, 2)),
                ..mail("a2", "a@example.org", MailState::Sent)
            },
            Decision {
                calendar: Some((Method::Request, 0)),
                ..mail("a0", "a@example.org", MailState::Sent)
            },
            Decision {
                calendar: Some((Method::Request, 5)),
                ..mail("b-skipped", "b@example.org", MailState::Skipped)
            },
            Decision {
                calendar: Some((Method::Cancel, 3)),
                ..mail("c-cancel", "c@example.org", MailState::Sent)
            },
            mail("d-plain", "d@example.org", MailState::Sent),
            Decision {
                calendar: Some((Method::Request, 1)),
                ..mail("e1", "e@example.org", MailState::Sent)
            },
        ];
        for d in &rows {
            assert!(record_mail(&mut tx, d).await.unwrap());
        }
        // A REQUEST from before SEQUENCE was stored.
        sqlx::query("UPDATE programme_mails SET sequence = NULL WHERE key = 'e1'")
            .execute(&mut *tx)
            .await
            .unwrap();
        assert_eq!(
            requested(&mut tx, "EWS7", "module-1").await.unwrap(),
            vec!["a@example.org".to_string(), "e@example.org".to_string()]
        );
        assert!(
            requested(&mut tx, "EWS7", "module-2")
                .await
                .unwrap()
                .is_empty()
        );
        for (recipient, want) in [
            ("a@example.org", Some(2)),
            ("b@example.org", None),
            ("c@example.org", None),
            ("d@example.org", None),
            ("e@example.org", Some(-1)),
        ] {
            assert_eq!(
                requested_sequence(&mut tx, "EWS7", "module-1", recipient)
                    .await
                    .unwrap(),
                want,
                "{recipient}"
            );
        }
        tx.commit().await.unwrap();
    }

    #[tokio::test]
    async fn an_event_keeps_its_first_uid_and_takes_the_rest() {
        let (_dir, store) = store().await;
        let mut tx = store.begin().await.unwrap();
        assert_eq!(event(&mut tx, "EWS7", "module-1").await.unwrap(), None);
        let first = EventVersion {
            programme: "EWS7",
            key: "module-1",
            fingerprint: "f1",
            status: EventStatus::Tentative,
            sequence: 0,
            start: t0(),
            uid: "module-1.a@example.org",
        };
        save_event(&mut tx, &first).await.unwrap();
        let second = EventVersion {
            fingerprint: "f2",
            status: EventStatus::Cancelled,
            sequence: 1,
            uid: "module-1.b@example.org",
            ..first.clone()
        };
        save_event(&mut tx, &second).await.unwrap();
        let got = event(&mut tx, "EWS7", "module-1").await.unwrap();
        let want = StoredEvent {
            key: "module-1".into(),
            fingerprint: "f2".into(),
            status: Some(EventStatus::Cancelled),
            sequence: 1,
            uid: Some("module-1.a@example.org".into()),
        };
        assert_eq!(got.as_ref(), Some(&want));
        // Rows from before the UID was stored get one on their next save.
        sqlx::query("UPDATE programme_events SET uid = NULL, status = 'postponed'")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let all = events(&store, "EWS7").await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].status, None);
        assert_eq!(all[0].uid, None);
        let mut tx = store.begin().await.unwrap();
        save_event(&mut tx, &second).await.unwrap();
        let got = event(&mut tx, "EWS7", "module-1").await.unwrap().unwrap();
        assert_eq!(got.uid.as_deref(), Some("module-1.b@example.org"));
        assert_eq!(got.status, Some(EventStatus::Cancelled));
        tx.commit().await.unwrap();
    }

    #[tokio::test]
    async fn an_override_replaces_the_earlier_one() {
        let (_dir, store) = store().await;
        let mut tx = store.begin().await.unwrap();
        set_override(
            &mut tx,
            "EWS7",
            "module-3",
            EventStatus::Confirmed,
            "staff@example.org",
        )
        .await
        .unwrap();
        set_override(
            &mut tx,
            "EWS7",
            "module-3",
            EventStatus::Cancelled,
            "boss@example.org",
        )
        .await
        .unwrap();
        set_override(
            &mut tx,
            "EWS7",
            "learning-group-1",
            EventStatus::Confirmed,
            "x",
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let mut got = overrides(&store, "EWS7").await.unwrap();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            got,
            vec![
                ("learning-group-1".to_string(), EventStatus::Confirmed),
                ("module-3".to_string(), EventStatus::Cancelled),
            ]
        );
        sqlx::query("UPDATE event_overrides SET status = 'postponed' WHERE key = 'module-3'")
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(overrides(&store, "EWS7").await.unwrap().len(), 1);
        // Another programme's module 3 is another event.
        assert!(overrides(&store, "EWS8").await.unwrap().is_empty());
    }
}
