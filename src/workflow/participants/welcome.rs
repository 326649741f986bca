//! The welcome of a cohort taken over mid-year (`postbote participants
//! welcome`, the staff mail `TERMINÜBERSICHT SENDEN`): each imported
//! participant of the programme gets ONE mail with every remaining event
//! (start after `now`) and, for each confirmed one, its calendar entry.
//!
//! The calendar entries follow the single-UID rules of part 5: the event's
//! UID and its current SEQUENCE, as announcements, updates and reminders use
//! them, so a later update or cancellation replaces the entry. Tentative
//! events are listed "unter Vorbehalt" without a calendar entry, as part 5
//! does (the announcement brings it once staff confirm them).
//!
//! The welcome records what it sent as the scheduler does
//! (`programme_mails`: an announcement with its REQUEST and SEQUENCE per
//! event and person), so that:
//! - updates and cancellations reach the welcomed ([`programme::requested`]);
//! - reminders carry no second copy of the entry
//!   ([`programme::requested_sequence`]);
//! - reminders already due are covered by the welcome (recorded as skipped,
//!   as after an announcement).
//!
//! An event confirmed by staff whose announcement the scheduler has not sent
//! yet (stored as tentative) is listed without a calendar entry: the
//! announcement brings it, to everyone on the roster.
//!
//! Keyed `{scope}welcome:{participant_id}`: once per person and programme.

use crate::calendar::events::{self, Event, Kind};
use crate::calendar::notify::{self, Recipient};
use crate::calendar::{ics, timeline};
use crate::config::programme::EventStatus;
use crate::domain::EmailAddress;
use crate::outbox::compose::FileAttachment;
use crate::outbox::{Cap, Letter};
use crate::store::programme::{self, Decision, MailKind, MailState};
use crate::store::{Tx, outbox, welcome};
use crate::workflow::actions::{ActionError, ActionResult};
use crate::workflow::desk::Desk;
use crate::workflow::mails;
use chrono::{DateTime, Utc};

/// What one welcome run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Mails queued now.
    pub sent: usize,
    /// People who had theirs from an earlier run.
    pub already: usize,
    /// Recorded but held back by a mail cap (addresses).
    pub held: Vec<String>,
    /// Roster addresses that do not parse.
    pub invalid: Vec<String>,
    /// The remaining events, one German line each.
    pub events: Vec<String>,
}

impl Report {
    /// The result in German, for the staff reply and the CLI.
    pub fn summary(&self) -> String {
        if self.events.is_empty() {
            return "Terminübersicht: keine anstehenden Termine, nichts gesendet".into();
        }
        if self.sent == 0 && self.held.is_empty() {
            return format!(
                "Terminübersicht: nichts Neues gesendet ({} Person(en) hatten sie schon)",
                self.already
            );
        }
        format!(
            "Terminübersicht an {} Person(en) gesendet; {} hatten sie schon; {} Termin(e)",
            self.sent,
            self.already,
            self.events.len()
        )
    }

    /// Details: the events listed, and who did not get the mail.
    pub fn details(&self) -> Vec<String> {
        let mut out: Vec<String> = self.events.iter().map(|e| format!("Termin: {e}")).collect();
        out.extend(
            self.held
                .iter()
                .map(|a| format!("Zurückgehalten (Versandgrenze erreicht): {a}")),
        );
        out.extend(
            self.invalid
                .iter()
                .map(|a| format!("Ungültige Adresse, nicht gesendet: {a}")),
        );
        out
    }
}

/// One remaining event and its calendar entry, if it gets one.
struct Listed<'a> {
    event: &'a Event,
    /// The UID and SEQUENCE of its REQUEST.
    entry: Option<(String, i64)>,
}

/// The name of an event's .ics file: `modul-3.ics`, `lerngruppe-3.ics`.
fn file_name(event: &Event) -> String {
    let key = event
        .key
        .replace("learning-group-", "lerngruppe-")
        .replace("module-", "modul-");
    format!("{key}.ics")
}

/// Sends the welcome of `desk.programme` to every imported participant not
/// welcomed yet, in `tx`; events are those starting after `now`.
pub async fn send(desk: &Desk<'_>, tx: &mut Tx<'_>, now: DateTime<Utc>) -> ActionResult<Report> {
    let programme = desk.programme;
    if programme.retired {
        return Err(ActionError::Refused(format!(
            "{} ist beendet (retired): es wird nichts mehr gesendet.",
            programme.short_name
        )));
    }
    let all = events::effective_in(tx, programme).await?;
    let mut listed = Vec::new();
    for event in all
        .iter()
        .filter(|e| e.start() > now && e.status != EventStatus::Cancelled)
    {
        let entry = if event.status == EventStatus::Confirmed {
            let stored = programme::event(tx, &programme.code, &event.key).await?;
            let announcement_pending = stored
                .as_ref()
                .is_some_and(|s| s.status == Some(EventStatus::Tentative));
            if announcement_pending {
                None
            } else {
                let uid = notify::uid(desk, tx, event).await?;
                Some((uid, stored.map_or(0, |s| s.sequence)))
            }
        } else {
            None
        };
        listed.push(Listed { event, entry });
    }
    let mut report = Report {
        events: listed
            .iter()
            .map(|l| {
                format!(
                    "{} ({}){}",
                    l.event.title,
                    l.event.day_lines().join(" / "),
                    match (&l.entry, l.event.status) {
                        (Some(_), _) => " mit Kalendereintrag",
                        (None, EventStatus::Tentative) => " unter Vorbehalt",
                        (None, _) => " (Kalendereintrag mit der Ankündigung)",
                    }
                )
            })
            .collect(),
        ..Report::default()
    };
    if listed.is_empty() {
        return Ok(report);
    }
    for person in welcome::imported_participants(tx, &programme.code).await? {
        let Ok(email) = EmailAddress::parse(&person.email) else {
            report.invalid.push(person.email.clone());
            continue;
        };
        let to = Recipient {
            email,
            name: person.name.clone(),
        };
        let key = format!("{}welcome:{}", programme.key_scope, person.id);
        let queued = welcome_one(desk, tx, &listed, &to, &key).await?;
        match queued {
            outbox::Enqueued::Queued(_) => {
                record(desk, tx, &listed, &to, &key, now).await?;
                report.sent += 1;
            }
            outbox::Enqueued::AlreadyQueued => report.already += 1,
            outbox::Enqueued::Suppressed(_) | outbox::Enqueued::OverHourlyCap(_) => {
                report.held.push(to.email.to_string());
            }
        }
    }
    if report.sent > 0 {
        tracing::info!(programme = %programme.code, sent = report.sent, already = report.already, "welcome queued");
    }
    Ok(report)
}

/// Queues the welcome of one person.
async fn welcome_one(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    listed: &[Listed<'_>],
    to: &Recipient,
    key: &str,
) -> anyhow::Result<outbox::Enqueued> {
    let mut attachments = Vec::new();
    let mut shown = Vec::new();
    for l in listed {
        let calendar_file = match &l.entry {
            Some((uid, sequence)) => {
                let ics =
                    notify::calendar(desk, l.event, uid, *sequence, ics::Method::Request, to)?;
                let name = file_name(l.event);
                attachments.push(FileAttachment {
                    file_name: name.clone(),
                    content_type: ics::content_type(ics::Method::Request),
                    bytes: ics.into_bytes(),
                });
                Some(name)
            }
            None => None,
        };
        shown.push(mails::WelcomeEvent {
            title: l.event.title.clone(),
            is_module: l.event.kind == Kind::Module,
            days: l.event.day_lines(),
            venue: l.event.venue(),
            zoom_link: l.event.zoom_link.clone(),
            agenda: l.event.agenda.clone(),
            tentative: l.event.status == EventStatus::Tentative,
            calendar_file,
        });
    }
    let context = mails::Welcome {
        short_name: desk.programme.short_name.clone(),
        programme: desk.programme.name.clone(),
        recipient_name: to.name.clone(),
        has_tentative: shown.iter().any(|e| e.tentative),
        has_calendar: !attachments.is_empty(),
        events: shown,
        contact_name: desk.settings.mail.from_name.clone(),
        contact_address: desk.settings.mail.from_address.to_string(),
    };
    let letter = Letter {
        to_name: to.name.as_deref(),
        attachments,
        ..Letter::new("participant_welcome", key.to_string(), None, &to.email)
    };
    desk.mailer
        .queue(tx, letter, &context, Cap::StaffCaused)
        .await
}

/// Records what the welcome told `to`, as the scheduler records an
/// announcement: per event with an entry, its REQUEST at its SEQUENCE; the
/// reminders already due count as covered.
async fn record(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    listed: &[Listed<'_>],
    to: &Recipient,
    key: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let recipient = to.email.key();
    for l in listed {
        let Some((_, sequence)) = &l.entry else {
            continue;
        };
        let row_key = format!("{key}:{}", l.event.key);
        let told = Decision {
            programme: &desk.programme.code,
            key: &row_key,
            event_key: Some(&l.event.key),
            kind: MailKind::Announcement,
            recipient: Some(&recipient),
            due: now,
            decided_at: now,
            state: MailState::Sent,
            note: Some("welcome"),
            calendar: Some((ics::Method::Request, *sequence)),
        };
        programme::record_mail(tx, &told).await?;
        let single = std::slice::from_ref(l.event);
        skip_due_reminders(desk, tx, single, &recipient, now, "covered by the welcome").await?;
    }
    Ok(())
}

/// Records the reminders of `events` to `recipient` that are due by `now`
/// as skipped (with `note`), so the scheduler does not send them late: the
/// welcome covers them, or the person joined after the event began.
pub(super) async fn skip_due_reminders(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    events: &[Event],
    recipient: &str,
    now: DateTime<Utc>,
    note: &str,
) -> anyhow::Result<()> {
    let me = [recipient.to_string()];
    let due = timeline::scoped_reminders(
        &desk.programme.key_scope,
        events,
        &desk.settings.reminders,
        &me,
    );
    for d in due.iter().filter(|d| d.due <= now) {
        let skipped = Decision {
            programme: &desk.programme.code,
            key: &d.key,
            event_key: Some(&d.event_key),
            kind: MailKind::Reminder,
            recipient: Some(&d.recipient),
            due: d.due,
            decided_at: now,
            state: MailState::Skipped,
            note: Some(note),
            calendar: None,
        };
        programme::record_mail(tx, &skipped).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_german() {
        let event = |key: &str| Event {
            key: key.into(),
            kind: Kind::Module,
            title: "t".into(),
            days: Vec::new(),
            place: None,
            zoom_link: None,
            agenda: String::new(),
            status: EventStatus::Confirmed,
        };
        assert_eq!(file_name(&event("module-3")), "modul-3.ics");
        assert_eq!(file_name(&event("learning-group-3")), "lerngruppe-3.ics");
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    async fn count(store: &crate::store::Store, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn welcome_goes_once_records_the_entry_and_leaves_pending_announcements_alone() {
        let dir = tempfile::tempdir().unwrap();
        let app = crate::context::testing::app(dir.path()).await;
        let desk = app.desk();
        let now = utc("2026-12-01T08:00:00Z");
        let csv = "Kommune;Name;E-Mail;Rolle\nA;Anna;anna@a.test;\nB;Bert;bert@b.test;\n\
                   A;Chefin;chefin@a.test;Vorgesetzte\n";
        let n = super::super::roster::import(&desk, &app.store, now, csv.as_bytes())
            .await
            .unwrap();
        assert_eq!(n, 3);
        // Reminders of events that began before they joined: decided, silently.
        assert!(
            count(
                &app.store,
                "SELECT COUNT(*) FROM programme_mails WHERE kind = 'reminder' AND state = 'skipped' \
                 AND recipient = 'anna@a.test' AND event_key = 'module-2'"
            )
            .await
                > 0
        );
        assert_eq!(
            count(
                &app.store,
                "SELECT COUNT(*) FROM programme_mails WHERE recipient = 'chefin@a.test'"
            )
            .await,
            0
        );

        let mut tx = app.store.begin().await.unwrap();
        let report = send(&desk, &mut tx, now).await.unwrap();
        assert_eq!((report.sent, report.already), (2, 0), "{report:?}");
        // learning group 3 and five tentative events; nothing that is over.
        assert_eq!(report.events.len(), 6, "{:?}", report.events);
        assert!(report.events[0].starts_with("3. Treffen digitale Lerngruppe"));
        assert!(report.events[0].ends_with("mit Kalendereintrag"));
        assert!(
            report.events[1..]
                .iter()
                .all(|e| e.ends_with("unter Vorbehalt"))
        );
        assert_eq!(
            programme::requested(&mut tx, "EWS7", "learning-group-3")
                .await
                .unwrap(),
            vec!["anna@a.test".to_string(), "bert@b.test".to_string()]
        );
        assert_eq!(
            programme::requested_sequence(&mut tx, "EWS7", "learning-group-3", "anna@a.test")
                .await
                .unwrap(),
            Some(0)
        );
        assert!(
            programme::requested(&mut tx, "EWS7", "module-3")
                .await
                .unwrap()
                .is_empty()
        );
        let again = send(&desk, &mut tx, now).await.unwrap();
        assert_eq!((again.sent, again.already), (0, 2));
        assert!(again.summary().contains("nichts Neues"));
        tx.commit().await.unwrap();
        assert_eq!(
            count(
                &app.store,
                "SELECT COUNT(*) FROM outbox WHERE purpose = 'participant_welcome'"
            )
            .await,
            2
        );

        // Staff confirmed module 3; the scheduler has not announced it yet.
        let mut tx = app.store.begin().await.unwrap();
        programme::save_event(
            &mut tx,
            &programme::EventVersion {
                programme: &desk.programme.code,
                key: "module-3",
                fingerprint: "f",
                status: EventStatus::Tentative,
                sequence: 0,
                start: utc("2027-01-28T09:00:00Z"),
                uid: "u",
            },
        )
        .await
        .unwrap();
        programme::set_override(
            &mut tx,
            &desk.programme.code,
            "module-3",
            EventStatus::Confirmed,
            "test",
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let csv = "Kommune;Name;E-Mail\nC;Cora;cora@c.test\n";
        super::super::roster::import(&desk, &app.store, now, csv.as_bytes())
            .await
            .unwrap();
        let mut tx = app.store.begin().await.unwrap();
        let report = send(&desk, &mut tx, now).await.unwrap();
        assert_eq!((report.sent, report.already), (1, 2));
        assert!(
            report.events[1].starts_with("3. Präsenzmodul")
                && report.events[1].ends_with("(Kalendereintrag mit der Ankündigung)"),
            "{:?}",
            report.events
        );
        // The announcement will bring it to everyone, cora too.
        assert!(
            programme::requested(&mut tx, "EWS7", "module-3")
                .await
                .unwrap()
                .is_empty()
        );

        // After the last event: nothing to send.
        let late = send(&desk, &mut tx, utc("2027-08-01T00:00:00Z"))
            .await
            .unwrap();
        assert!(late.events.is_empty() && late.sent == 0);
        tx.rollback().await.unwrap();
    }

    #[test]
    fn summary_says_when_nothing_new_was_sent() {
        let mut r = Report {
            events: vec!["3. Treffen".into()],
            already: 15,
            ..Report::default()
        };
        assert!(r.summary().contains("nichts Neues"));
        r.sent = 2;
        assert!(r.summary().contains("an 2 Person(en) gesendet"));
        r.events.clear();
        assert!(r.summary().contains("keine anstehenden Termine"));
    }
}
