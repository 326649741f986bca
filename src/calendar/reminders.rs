//! Programme reminders: config changes become announcements, updates and
//! cancellations; due reminders go out once per event, offset and
//! participant; after downtime the still-useful ones are caught up and the
//! rest are reported to staff.

use super::events::Event;
use super::notify::{self, Recipient, What};
use super::{ics, timeline};
use crate::context::App;
use crate::domain::EmailAddress;
use crate::store::{Tx, now as now_text, ts};
use crate::workflow::notices;
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, HashSet};

/// What one pass did.
#[derive(Debug, Clone, Default)]
pub struct Pass {
    pub queued: usize,
    pub skipped: Vec<String>,
}

/// The active participants (not supervisors), by address.
pub async fn recipients(app: &App) -> anyhow::Result<Vec<Recipient>> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT email, name FROM participants WHERE active = 1 AND role = 'participant' ORDER BY email",
    )
    .fetch_all(app.store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(e, name)| {
            EmailAddress::parse(&e)
                .ok()
                .map(|email| Recipient { email, name })
        })
        .collect())
}

/// A scheduled mail decided on: sent or skipped, at the scheduler's clock.
struct Decided<'a> {
    key: &'a str,
    event_key: &'a str,
    kind: &'a str,
    recipient: &'a str,
    due: DateTime<Utc>,
    clock: DateTime<Utc>,
    state: &'a str,
    note: Option<&'a str>,
    /// The calendar part the mail carried and its SEQUENCE.
    calendar: Option<(ics::Method, i64)>,
}

/// The decision on one reminder of the timeline.
fn reminder<'a>(
    d: &'a timeline::Due,
    clock: DateTime<Utc>,
    state: &'a str,
    note: Option<&'a str>,
) -> Decided<'a> {
    Decided {
        key: &d.key,
        event_key: &d.event_key,
        kind: "reminder",
        recipient: &d.recipient,
        due: d.due,
        clock,
        state,
        note,
        calendar: None,
    }
}

async fn record(tx: &mut Tx<'_>, d: Decided<'_>) -> anyhow::Result<()> {
    let Decided {
        key,
        event_key,
        kind,
        recipient,
        due,
        clock,
        state,
        note,
        calendar,
    } = d;
    sqlx::query(
        "INSERT OR IGNORE INTO programme_mails (key, event_key, kind, recipient, due_at, decided_at, state, note, calendar, sequence) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(key)
    .bind(event_key)
    .bind(kind)
    .bind(recipient)
    .bind(ts(due))
    .bind(ts(clock))
    .bind(state)
    .bind(note)
    .bind(calendar.map(|(m, _)| m.as_str()))
    .bind(calendar.map(|(_, seq)| seq))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Everyone who has the event in their calendar: sent a mail with its
/// REQUEST (announcement, update, or the first reminder).
async fn told(tx: &mut Tx<'_>, event_key: &str) -> anyhow::Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT recipient FROM programme_mails WHERE event_key = ? AND state = 'sent' \
         AND calendar = 'REQUEST' ORDER BY recipient",
    )
    .bind(event_key)
    .fetch_all(&mut **tx)
    .await?)
}

/// Sends `what` about `event` to each address, with its calendar part:
/// CANCEL for a cancellation, else REQUEST.
async fn tell(
    app: &App,
    tx: &mut Tx<'_>,
    event: &Event,
    what: What,
    sequence: i64,
    to: &[Recipient],
    clock: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let mut n = 0;
    for r in to {
        let key = format!(
            "event-{}:{}:{sequence}:{}",
            what.kind(),
            event.key,
            r.email.key()
        );
        let method = if what == What::Cancel {
            ics::Method::Cancel
        } else {
            ics::Method::Request
        };
        let mail = notify::Mail {
            event,
            what,
            sequence,
            to: r,
            key: &key,
            offset_text: None,
            calendar: Some(method),
        };
        notify::queue(app, tx, mail).await?;
        let decided = Decided {
            key: &key,
            event_key: &event.key,
            kind: what.kind(),
            recipient: &r.email.key(),
            due: clock,
            clock,
            state: "sent",
            note: None,
            calendar: Some((method, sequence)),
        };
        record(tx, decided).await?;
        n += 1;
    }
    Ok(n)
}

/// Compares the events (config and staff overrides, [`events::load`]) with
/// what postbote last acted on and tells `everyone` on the roster about
/// confirmations, changes and cancellations.
pub async fn sync(
    app: &App,
    events: &[Event],
    everyone: &[Recipient],
    clock: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let mut queued = 0;
    let known: Vec<(String, String, String)> =
        sqlx::query_as("SELECT key, fingerprint, status FROM programme_events")
            .fetch_all(app.store.pool())
            .await?;
    for event in events {
        let fingerprint = event.fingerprint();
        let status = event.status_str();
        // Most passes change nothing: read without taking the write lock.
        if known
            .iter()
            .any(|(k, f, st)| *k == event.key && *f == fingerprint && st == status)
        {
            continue;
        }
        let mut tx = app.store.begin().await?;
        let stored: Option<(String, String, i64)> = sqlx::query_as(
            "SELECT fingerprint, status, sequence FROM programme_events WHERE key = ?",
        )
        .bind(&event.key)
        .fetch_optional(&mut *tx)
        .await?;
        let upcoming = event.start() > clock;
        let sequence = match &stored {
            None => 0,
            Some((old_fp, old_status, seq)) => {
                let changed = *old_fp != fingerprint;
                let seq = seq
                    + i64::from(changed || (status == "cancelled" && old_status != "cancelled"));
                if status == "cancelled" && old_status != "cancelled" {
                    let to = addresses(&told(&mut tx, &event.key).await?, everyone);
                    if upcoming {
                        queued += tell(app, &mut tx, event, What::Cancel, seq, &to, clock).await?;
                    }
                } else if status == "confirmed" && old_status == "tentative" && upcoming {
                    queued += tell(
                        app,
                        &mut tx,
                        event,
                        What::Announcement,
                        seq,
                        everyone,
                        clock,
                    )
                    .await?;
                    // Reminders already due are covered by the announcement.
                    let emails: Vec<String> = everyone.iter().map(|r| r.email.key()).collect();
                    let single = std::slice::from_ref(event);
                    for d in timeline::reminders(single, &app.settings.reminders, &emails) {
                        if d.due <= clock {
                            let note = Some("covered by the announcement");
                            record(&mut tx, reminder(&d, clock, "skipped", note)).await?;
                        }
                    }
                } else if changed && status != "cancelled" && upcoming {
                    let to = addresses(&told(&mut tx, &event.key).await?, everyone);
                    queued += tell(app, &mut tx, event, What::Update, seq, &to, clock).await?;
                }
                seq
            }
        };
        // The UID is fixed at the first insert and kept ever after.
        sqlx::query(
            "INSERT INTO programme_events (key, fingerprint, status, sequence, start_at, updated_at, uid) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, \
             status = excluded.status, sequence = excluded.sequence, start_at = excluded.start_at, \
             updated_at = excluded.updated_at, uid = COALESCE(programme_events.uid, excluded.uid)",
        )
        .bind(&event.key)
        .bind(&fingerprint)
        .bind(status)
        .bind(sequence)
        .bind(ts(event.start()))
        .bind(now_text())
        .bind(notify::new_uid(app, event))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(queued)
}

/// The told addresses as recipients, with names where the roster has them.
fn addresses(told: &[String], roster: &[Recipient]) -> Vec<Recipient> {
    told.iter()
        .filter_map(|t| {
            roster
                .iter()
                .find(|r| r.email.key() == *t)
                .cloned()
                .or_else(|| {
                    EmailAddress::parse(t)
                        .ok()
                        .map(|email| Recipient { email, name: None })
                })
        })
        .collect()
}

/// Sends the reminders due at `clock`. Per event and participant only the
/// latest due one goes out (after downtime the earlier ones are superseded);
/// reminders whose event has begun are skipped and reported to staff.
pub async fn send_due(
    app: &App,
    events: &[Event],
    roster: &[Recipient],
    clock: DateTime<Utc>,
) -> anyhow::Result<Pass> {
    let emails: Vec<String> = roster.iter().map(|r| r.email.key()).collect();
    let decided: HashSet<String> =
        sqlx::query_scalar("SELECT key FROM programme_mails WHERE kind = 'reminder'")
            .fetch_all(app.store.pool())
            .await?
            .into_iter()
            .collect();
    let mut groups: BTreeMap<(String, String), Vec<timeline::Due>> = BTreeMap::new();
    for d in timeline::reminders(events, &app.settings.reminders, &emails) {
        if d.due <= clock && !decided.contains(&d.key) {
            groups
                .entry((d.event_key.clone(), d.recipient.clone()))
                .or_default()
                .push(d);
        }
    }
    let mut pass = Pass::default();
    let days = i64::from(app.settings.reminders.report_skipped_days.min(3660));
    let report_after = clock - Duration::days(days);
    for ((event_key, recipient), mut due) in groups {
        let Some(event) = events.iter().find(|e| e.key == event_key) else {
            continue;
        };
        let Some(to) = roster.iter().find(|r| r.email.key() == recipient) else {
            continue;
        };
        due.sort_by_key(|d| d.due);
        let mut tx = app.store.begin().await?;
        let sequence: i64 =
            sqlx::query_scalar("SELECT sequence FROM programme_events WHERE key = ?")
                .bind(&event_key)
                .fetch_optional(&mut *tx)
                .await?
                .unwrap_or(0);
        let latest = if event.start() > clock {
            due.pop()
        } else {
            None
        };
        for d in &due {
            let why = if latest.is_some() {
                "superseded by a later reminder"
            } else {
                "the event had begun"
            };
            record(&mut tx, reminder(d, clock, "skipped", Some(why))).await?;
            if d.event_start > report_after {
                pass.skipped.push(format!(
                    "{} ({} vorher) an {recipient}: {}",
                    d.title,
                    d.offset_text,
                    if latest.is_some() {
                        "durch eine spätere Erinnerung ersetzt"
                    } else {
                        "Termin hatte schon begonnen"
                    }
                ));
            }
        }
        if let Some(d) = latest {
            // NOTE: a reminder repeats the calendar data only for someone
            // who does not have the current version yet (new on the roster,
            // or the event confirmed without an announcement to them): a
            // second REQUEST of the same SEQUENCE shows in Outlook as a new
            // invitation to answer again.
            let has: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(COALESCE(sequence, -1)) FROM programme_mails WHERE event_key = ? \
                 AND recipient = ? AND state = 'sent' AND calendar = 'REQUEST'",
            )
            .bind(&event_key)
            .bind(&recipient)
            .fetch_one(&mut *tx)
            .await?;
            let calendar = has
                .is_none_or(|seq| seq < sequence)
                .then_some(ics::Method::Request);
            let mail = notify::Mail {
                event,
                what: What::Reminder,
                sequence,
                to,
                key: &d.key,
                offset_text: Some(d.offset.german_dative()),
                calendar,
            };
            notify::queue(app, &mut tx, mail).await?;
            let decided = Decided {
                calendar: calendar.map(|m| (m, sequence)),
                ..reminder(&d, clock, "sent", None)
            };
            record(&mut tx, decided).await?;
            pass.queued += 1;
            tracing::info!(event = %event_key, %recipient, due = %d.due, with_calendar = calendar.is_some(), "reminder queued");
        }
        tx.commit().await?;
    }
    if !pass.skipped.is_empty() {
        let mut tx = app.store.begin().await?;
        notices::staff(
            app,
            &mut tx,
            &format!("reminders-skipped:{}", ts(clock)),
            "Erinnerungen nicht rechtzeitig versandt",
            "postbote war nicht erreichbar, als diese Erinnerungen fällig waren. Sie wurden nicht mehr versandt; bitte prüfen Sie, ob die Teilnehmenden Bescheid wissen.",
            &pass.skipped,
            "",
        )
        .await?;
        tx.commit().await?;
    }
    Ok(pass)
}
