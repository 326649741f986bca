//! Programme reminders: config changes become announcements, updates and
//! cancellations; due reminders go out once per event, offset and
//! participant; after downtime the still-useful ones are caught up and the
//! rest are reported to staff.

use super::events::Event;
use super::notify::{self, Recipient, What};
use super::{ics, timeline};
use crate::config::programme::EventStatus;
use crate::context::App;
use crate::domain::EmailAddress;
use crate::store::programme::{self, Decision, EventVersion, MailKind, MailState};
use crate::store::{Store, Tx, participants, ts};
use crate::workflow::desk::Desk;
use crate::workflow::notices;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// What one pass did.
#[derive(Debug, Clone, Default)]
pub struct Pass {
    pub queued: usize,
    pub skipped: Vec<String>,
}

/// The active participants (not supervisors) of programme `code`, by
/// address; an address that does not parse is left out.
pub async fn roster(store: &Store, code: &str) -> anyhow::Result<Vec<Recipient>> {
    Ok(participants::active_participants(store, code)
        .await?
        .into_iter()
        .filter_map(|(e, name)| {
            EmailAddress::parse(&e)
                .ok()
                .map(|email| Recipient { email, name })
        })
        .collect())
}

/// The decision on one reminder of the timeline, at the scheduler's clock.
fn reminder<'a>(
    programme: &'a str,
    d: &'a timeline::Due,
    clock: DateTime<Utc>,
    state: MailState,
    note: Option<&'a str>,
) -> Decision<'a> {
    Decision {
        programme,
        key: &d.key,
        event_key: Some(&d.event_key),
        kind: MailKind::Reminder,
        recipient: Some(&d.recipient),
        due: d.due,
        decided_at: clock,
        state,
        note,
        calendar: None,
    }
}

/// Sends `what` about `event` to each address, with its calendar part:
/// CANCEL for a cancellation, else REQUEST.
async fn tell(
    desk: &Desk<'_>,
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
            "{}event-{}:{}:{sequence}:{}",
            desk.programme.key_scope,
            what.kind().as_str(),
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
        notify::queue(desk, tx, mail).await?;
        let recipient = r.email.key();
        let decided = Decision {
            programme: &desk.programme.code,
            key: &key,
            event_key: Some(&event.key),
            kind: what.kind(),
            recipient: Some(&recipient),
            due: clock,
            decided_at: clock,
            state: MailState::Sent,
            note: None,
            calendar: Some((method, sequence)),
        };
        programme::record_mail(tx, &decided).await?;
        n += 1;
    }
    Ok(n)
}

/// Compares the events (config and staff overrides, [`events::effective`])
/// with what postbote last acted on and tells `everyone` on the roster about
/// confirmations, changes and cancellations.
///
/// [`events::effective`]: super::events::effective
pub async fn sync(
    app: &App,
    desk: &Desk<'_>,
    events: &[Event],
    everyone: &[Recipient],
    clock: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let mut queued = 0;
    let code = &desk.programme.code;
    let known = programme::events(&app.store, code).await?;
    for event in events {
        let fingerprint = event.fingerprint();
        let status = event.status;
        // Most passes change nothing: read without taking the write lock.
        if known
            .iter()
            .any(|k| k.key == event.key && k.fingerprint == fingerprint && k.status == Some(status))
        {
            continue;
        }
        let mut tx = app.store.begin().await?;
        let stored = programme::event(&mut tx, code, &event.key).await?;
        let upcoming = event.start() > clock;
        let cancelled = status == EventStatus::Cancelled;
        let sequence = match &stored {
            None => 0,
            Some(old) => {
                let changed = old.fingerprint != fingerprint;
                let newly_cancelled = cancelled && old.status != Some(EventStatus::Cancelled);
                let seq = old.sequence + i64::from(changed || newly_cancelled);
                if newly_cancelled {
                    let to = addresses(
                        &programme::requested(&mut tx, code, &event.key).await?,
                        everyone,
                    );
                    if upcoming {
                        queued += tell(desk, &mut tx, event, What::Cancel, seq, &to, clock).await?;
                    }
                } else if status == EventStatus::Confirmed
                    && old.status == Some(EventStatus::Tentative)
                    && upcoming
                {
                    queued += tell(
                        desk,
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
                    let scope = &desk.programme.key_scope;
                    let due =
                        timeline::scoped_reminders(scope, single, &app.settings.reminders, &emails);
                    for d in due {
                        if d.due <= clock {
                            let note = Some("covered by the announcement");
                            let skipped = reminder(code, &d, clock, MailState::Skipped, note);
                            programme::record_mail(&mut tx, &skipped).await?;
                        }
                    }
                } else if changed && !cancelled && upcoming {
                    let to = addresses(
                        &programme::requested(&mut tx, code, &event.key).await?,
                        everyone,
                    );
                    queued += tell(desk, &mut tx, event, What::Update, seq, &to, clock).await?;
                }
                seq
            }
        };
        let version = EventVersion {
            programme: code,
            key: &event.key,
            fingerprint: &fingerprint,
            status,
            sequence,
            start: event.start(),
            uid: &notify::new_uid(desk, event),
        };
        programme::save_event(&mut tx, &version).await?;
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

/// The first reminder of the timeline due after `clock` (the scheduler's
/// next pass for this programme's reminders); None when none is left.
pub fn next_due(
    app: &App,
    desk: &Desk<'_>,
    events: &[Event],
    roster: &[Recipient],
    clock: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let emails: Vec<String> = roster.iter().map(|r| r.email.key()).collect();
    let scope = &desk.programme.key_scope;
    // Sorted by due time.
    timeline::scoped_reminders(scope, events, &app.settings.reminders, &emails)
        .into_iter()
        .map(|d| d.due)
        .find(|due| *due > clock)
}

/// Sends the reminders due at `clock`. Per event and participant only the
/// latest due one goes out (after downtime the earlier ones are superseded);
/// reminders whose event has begun are skipped and reported to staff.
pub async fn send_due(
    app: &App,
    desk: &Desk<'_>,
    events: &[Event],
    roster: &[Recipient],
    clock: DateTime<Utc>,
) -> anyhow::Result<Pass> {
    let emails: Vec<String> = roster.iter().map(|r| r.email.key()).collect();
    let code = &desk.programme.code;
    let decided = programme::decided_keys(&app.store, code, MailKind::Reminder).await?;
    let mut groups: BTreeMap<(String, String), Vec<timeline::Due>> = BTreeMap::new();
    let scope = &desk.programme.key_scope;
    for d in timeline::scoped_reminders(scope, events, &app.settings.reminders, &emails) {
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
        let sequence = programme::event(&mut tx, code, &event_key)
            .await?
            .map_or(0, |e| e.sequence);
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
            let skipped = reminder(code, d, clock, MailState::Skipped, Some(why));
            programme::record_mail(&mut tx, &skipped).await?;
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
            let has = programme::requested_sequence(&mut tx, code, &event_key, &recipient).await?;
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
            notify::queue(desk, &mut tx, mail).await?;
            let sent = Decision {
                calendar: calendar.map(|m| (m, sequence)),
                ..reminder(code, &d, clock, MailState::Sent, None)
            };
            programme::record_mail(&mut tx, &sent).await?;
            pass.queued += 1;
            tracing::info!(event = %event_key, %recipient, due = %d.due, with_calendar = calendar.is_some(), "reminder queued");
        }
        tx.commit().await?;
    }
    if !pass.skipped.is_empty() {
        let mut tx = app.store.begin().await?;
        notices::staff(
            desk,
            &mut tx,
            &format!("{}reminders-skipped:{}", desk.programme.key_scope, ts(clock)),
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
