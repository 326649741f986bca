//! Mails about a programme event to one participant, each with an .ics:
//! reminder, announcement (a tentative event confirmed), update (SEQUENCE
//! raised) and cancellation (METHOD:CANCEL).

use super::events::{Event, Kind};
use super::{german, ics};
use crate::domain::EmailAddress;
use crate::outbox::compose::{Calendar, Draft};
use crate::startup::App;
use crate::store::Tx;
use crate::store::outbox;
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
    pub fn kind(self) -> &'static str {
        match self {
            What::Reminder => "reminder",
            What::Announcement => "announcement",
            What::Update => "update",
            What::Cancel => "cancel",
        }
    }
}

/// One participant.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub email: EmailAddress,
    pub name: Option<String>,
}

/// The ORGANIZER of every .ics: a real mailbox that reads replies.
pub fn organizer(app: &App) -> ics::Person {
    let mail = &app.settings.mail;
    ics::Person {
        name: Some(
            mail.organizer_name
                .clone()
                .unwrap_or_else(|| mail.from_name.clone()),
        ),
        email: mail.organizer().to_string(),
    }
}

/// The .ics of an event: one VEVENT per day, UIDs stable per event and day.
pub fn calendar(
    app: &App,
    event: &Event,
    sequence: i64,
    method: ics::Method,
    to: &Recipient,
) -> anyhow::Result<String> {
    let organizer = organizer(app);
    let attendee = ics::Person {
        name: to.name.clone(),
        email: to.email.to_string(),
    };
    let (location, url) = match (event.venue(), &event.zoom_link) {
        (Some(venue), _) => (Some(venue), None),
        (None, Some(link)) => (Some(format!("Zoom: {link}")), Some(link.clone())),
        _ => (None, None),
    };
    let many = event.days.len() > 1;
    let events: Vec<ics::Event> = event
        .days
        .iter()
        .enumerate()
        .map(|(i, d)| ics::Event {
            uid: format!(
                "{}-day{}.{}@{}",
                event.key,
                i + 1,
                app.settings.instance.name,
                app.settings.instance.domain
            ),
            sequence: u32::try_from(sequence).unwrap_or(0),
            start: d.start,
            end: d.end,
            summary: if many {
                format!(
                    "{} {} (Tag {})",
                    app.programme.short_name,
                    event.title,
                    i + 1
                )
            } else {
                format!("{} {}", app.programme.short_name, event.title)
            },
            description: event.agenda.clone(),
            location: location.clone(),
            url: url.clone(),
            organizer: organizer.clone(),
            attendees: vec![attendee.clone()],
            status: if method == ics::Method::Cancel {
                ics::Status::Cancelled
            } else {
                ics::Status::Confirmed
            },
        })
        .collect();
    ics::calendar(method, &events, Utc::now()).context("cannot write the event .ics")
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
}

/// Queues one event mail; true if it was queued now.
pub async fn queue(app: &App, tx: &mut Tx<'_>, mail: Mail<'_>) -> anyhow::Result<bool> {
    let Mail {
        event,
        what,
        sequence,
        to,
        key,
        offset_text,
    } = mail;
    let method = if what == What::Cancel {
        ics::Method::Cancel
    } else {
        ics::Method::Request
    };
    let text = calendar(app, event, sequence, method, to)?;
    let context = mails::EventMail {
        short_name: app.programme.short_name.clone(),
        programme: app.programme.name.clone(),
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
        recipient_name: to.name.clone(),
        contact_name: app.settings.mail.from_name.clone(),
        contact_address: app.settings.mail.from_address.to_string(),
    };
    let rendered = app.templates.render(what.template(), &context)?;
    let draft = Draft {
        to_name: to.name.as_deref(),
        calendar: Some(Calendar {
            content_type: ics::content_type(method),
            ics: text,
            file_name: if what == What::Cancel {
                "absage.ics".into()
            } else {
                "termin.ics".into()
            },
        }),
        ..Draft::generated(key.to_string(), what.template(), None, &to.email, rendered)
    };
    let cap = crate::workflow::notices::staff_caused_cap(app);
    Ok(matches!(
        outbox::enqueue(tx, &app.composer.compose(draft)?, cap).await?,
        outbox::Enqueued::Queued(_)
    ))
}
