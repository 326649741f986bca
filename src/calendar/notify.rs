//! Mails about a programme event to one participant: announcement (a
//! tentative event confirmed) and update (SEQUENCE raised) with a REQUEST,
//! cancellation with a CANCEL, reminder with a REQUEST only when the
//! participant does not have the current entry yet (see
//! `reminders::send_due`); otherwise a reminder carries no calendar part, so
//! no client shows it as a new invitation or adds a second entry.

use super::events::{Event, Kind};
use super::{german, ics};
use crate::domain::EmailAddress;
use crate::outbox::compose::Calendar;
use crate::outbox::{Cap, Letter};
use crate::store::Tx;
use crate::store::outbox;
use crate::store::programme::{self, MailKind};
use crate::workflow::desk::Desk;
use crate::workflow::mails;
use anyhow::Context;
use chrono::Utc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    Reminder,
    Announcement,
    Update,
    Cancel,
}

impl What {
    pub fn template(self) -> &'static str {
        match self {
            What::Reminder => "event_reminder",
            What::Announcement => "event_announcement",
            What::Update => "event_update",
            What::Cancel => "event_cancel",
        }
    }
    /// The kind of its row in `programme_mails`.
    pub fn kind(self) -> MailKind {
        match self {
            What::Reminder => MailKind::Reminder,
            What::Announcement => MailKind::Announcement,
            What::Update => MailKind::Update,
            What::Cancel => MailKind::Cancel,
        }
    }
}

/// One participant.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub email: EmailAddress,
    pub name: Option<String>,
}

/// The ORGANIZER of every .ics: the From address of the mail that carries
/// it (`mail.from_address`, a real mailbox that reads replies), named
/// `mail.organizer_name` or else `mail.from_name`.
///
/// NOTE: Outlook shows an invitation whose ORGANIZER differs from the sender
/// as sent "on behalf of" someone else and Gmail warns about it; meeting
/// responses go to the ORGANIZER, so it must be the mailbox postbote reads.
/// Settings validation refuses a `mail.organizer_address` that differs.
pub fn organizer(desk: &Desk<'_>) -> ics::Person {
    let mail = &desk.settings.mail;
    ics::Person {
        name: Some(
            mail.organizer_name
                .clone()
                .unwrap_or_else(|| mail.from_name.clone()),
        ),
        email: mail.organizer().to_string(),
    }
}

/// The UID of an event's series as minted on first use:
/// `module-3.<instance>@<domain>`, one for all days of a module.
pub fn new_uid(desk: &Desk<'_>, event: &Event) -> String {
    format!(
        "{}{}.{}@{}",
        desk.programme
            .key_scope
            .to_ascii_lowercase()
            .replace(':', "."),
        event.key,
        desk.settings.instance.name,
        desk.settings.instance.domain
    )
}

/// The UID of an event's series: the one stored in `programme_events`
/// (fixed when postbote first acted on the event), else [`new_uid`].
pub async fn uid(desk: &Desk<'_>, tx: &mut Tx<'_>, event: &Event) -> anyhow::Result<String> {
    let stored = programme::event(tx, &desk.programme.code, &event.key).await?;
    Ok(stored
        .and_then(|e| e.uid)
        .unwrap_or_else(|| new_uid(desk, event)))
}

/// The .ics of an event: one VEVENT series under one UID, every day of a
/// module an occurrence of it ([`ics::calendar`]).
///
/// NOTE: RSVP=FALSE. Programme events are part of the course, not a
/// question: with RSVP=TRUE every Outlook participant would send an
/// acceptance for every module and learning group (hundreds of meeting
/// responses a year, each brought to staff). A participant who cannot come
/// answers the mail, as the text asks; a decline sent anyway still reaches
/// staff as a meeting response.
pub fn calendar(
    desk: &Desk<'_>,
    event: &Event,
    uid: &str,
    sequence: i64,
    method: ics::Method,
    to: &Recipient,
) -> anyhow::Result<String> {
    let attendee = ics::Person {
        name: to.name.clone(),
        email: to.email.to_string(),
    };
    let (location, url) = match (event.venue(), &event.zoom_link) {
        (Some(venue), _) => (Some(venue), None),
        (None, Some(link)) => (Some(format!("Zoom: {link}")), Some(link.clone())),
        _ => (None, None),
    };
    let Some((first, more)) = event.days.split_first() else {
        anyhow::bail!("event {} has no days", event.key);
    };
    let summary = if more.is_empty() {
        format!("{} {}", desk.programme.short_name, event.title)
    } else {
        format!(
            "{} {} ({} Tage)",
            desk.programme.short_name,
            event.title,
            event.days.len()
        )
    };
    let ev = ics::Event {
        uid: uid.to_owned(),
        sequence: u32::try_from(sequence).unwrap_or(0),
        start: first.start,
        end: first.end,
        more: more
            .iter()
            .map(|d| ics::Span {
                start: d.start,
                end: d.end,
            })
            .collect(),
        summary,
        description: event.agenda.clone(),
        location,
        url,
        organizer: organizer(desk),
        attendees: vec![attendee],
        status: ics::Status::Confirmed,
        rsvp: false,
    };
    ics::calendar(method, &ev, Utc::now())
        .with_context(|| format!("cannot write the .ics of {}", event.key))
}

/// One event mail to send.
pub struct Mail<'a> {
    pub event: &'a Event,
    pub what: What,
    pub sequence: i64,
    pub to: &'a Recipient,
    /// The idempotency key.
    pub key: &'a str,
    /// For reminders: "14 Tage".
    pub offset_text: Option<String>,
    /// The calendar part: REQUEST (the entry, new or changed), CANCEL, or
    /// None for a reminder to someone who already has the current entry.
    pub calendar: Option<ics::Method>,
}

/// Queues one event mail; true if it was queued now.
pub async fn queue(desk: &Desk<'_>, tx: &mut Tx<'_>, mail: Mail<'_>) -> anyhow::Result<bool> {
    let Mail {
        event,
        what,
        sequence,
        to,
        key,
        offset_text,
        calendar: method,
    } = mail;
    let attachment = match method {
        Some(method) => {
            let uid = uid(desk, tx, event).await?;
            Some(Calendar {
                content_type: ics::content_type(method),
                ics: calendar(desk, event, &uid, sequence, method, to)?,
                file_name: match method {
                    ics::Method::Cancel => "absage.ics".into(),
                    ics::Method::Request => "termin.ics".into(),
                },
            })
        }
        None => None,
    };
    let context = mails::EventMail {
        short_name: desk.programme.short_name.clone(),
        programme: desk.programme.name.clone(),
        title: event.title.clone(),
        is_module: event.kind == Kind::Module,
        days: event.day_lines(),
        first_day: event
            .days
            .first()
            .map(|d| german::format_date(german::to_berlin(&d.start).date_naive()))
            .unwrap_or_default(),
        venue: event.venue(),
        zoom_link: event.zoom_link.clone(),
        agenda: event.agenda.clone(),
        offset_text,
        has_calendar: attachment.is_some(),
        recipient_name: to.name.clone(),
        contact_name: desk.settings.mail.from_name.clone(),
        contact_address: desk.settings.mail.from_address.to_string(),
    };
    let letter = Letter {
        to_name: to.name.as_deref(),
        calendar: attachment,
        // A reminder after its event began is worse than none.
        expires_at: matches!(what, What::Reminder).then(|| event.start()),
        ..Letter::new(what.template(), key.to_string(), None, &to.email)
    };
    Ok(matches!(
        desk.mailer
            .queue(tx, letter, &context, Cap::StaffCaused)
            .await?,
        outbox::Enqueued::Queued(_)
    ))
}
