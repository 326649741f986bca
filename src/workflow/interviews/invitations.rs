//! Invitation mails with an iCalendar object: REQUEST for a new or moved talk
//! (same UID, SEQUENCE raised), CANCEL when it is called off. One mail per
//! invited person, keyed by interview, version and recipient.

use crate::calendar::{german, ics};
use crate::outbox::compose::Calendar;
use crate::outbox::{Cap, Letter};
use crate::store::Tx;
use crate::store::applications::Application;
use crate::store::interviews::Interview;
use crate::store::outbox;
use crate::workflow::desk::Desk;
use crate::workflow::mails;
use crate::workflow::people;
use anyhow::Context;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Invite,
    Update,
    Cancel,
}

impl Kind {
    fn template(self) -> &'static str {
        match self {
            Kind::Invite => "interview_invitation",
            Kind::Update => "interview_update",
            Kind::Cancel => "interview_cancel",
        }
    }
}

/// "Mo., 29.06.2026, 09:00–09:20 Uhr"
pub fn when(start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let (s, e) = (german::to_berlin(&start), german::to_berlin(&end));
    format!(
        "{}, {}–{} Uhr",
        german::format_date(s.date_naive()),
        s.format("%H:%M"),
        e.format("%H:%M")
    )
}

/// Queues the mails for `interview` in its current version; returns how many.
pub async fn queue(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    application: &Application,
    interview: &Interview,
    kind: Kind,
    previous: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> anyhow::Result<usize> {
    let (start, end) = interview
        .start()
        .zip(interview.end())
        .context("interview has unreadable times")?;
    let people = people::of(tx, application).await?;
    let zoom = desk.programme.interviews.zoom_link.clone();
    let organizer = crate::calendar::notify::organizer(desk);
    let attendees: Vec<ics::Person> = people
        .invitees()
        .iter()
        .map(|p| ics::Person {
            name: p.name.clone(),
            email: p.email.to_string(),
        })
        .collect();
    let short = &desk.programme.short_name;
    let event = ics::Event {
        uid: interview.uid.clone(),
        sequence: u32::try_from(interview.sequence).unwrap_or(0),
        start: german::to_berlin(&start),
        end: german::to_berlin(&end),
        summary: format!("Kennenlerngespräch {short} – {}", people.municipality),
        description: format!(
            "Digitales Informations- und Kennenlerngespräch zur Bewerbung {} ({}) für die {short}.\nZoom: {zoom}",
            application.reference, people.municipality
        ),
        location: (!zoom.is_empty()).then(|| format!("Zoom: {zoom}")),
        url: (!zoom.is_empty()).then(|| zoom.clone()),
        more: Vec::new(),
        organizer,
        attendees,
        // Staff need to know whether the talk suits: Outlook sends a meeting
        // response only when RSVP=TRUE (postbote brings it to staff).
        rsvp: true,
        status: if kind == Kind::Cancel {
            ics::Status::Cancelled
        } else {
            ics::Status::Confirmed
        },
    };
    let method = if kind == Kind::Cancel {
        ics::Method::Cancel
    } else {
        ics::Method::Request
    };
    let text = ics::calendar(method, &event, Utc::now()).context("cannot write the .ics")?;
    let invited: Vec<String> = people.invitees().iter().map(|p| p.display()).collect();
    let mut queued = 0;
    for person in people.invitees() {
        let context = mails::InterviewMail {
            short_name: short.clone(),
            programme: desk.programme.name.clone(),
            reference: application.reference.clone(),
            municipality: people.municipality.clone(),
            recipient_name: person.name.clone(),
            when: when(start, end),
            previous_when: previous.map(|(s, e)| when(s, e)),
            zoom_link: zoom.clone(),
            minutes: desk.programme.interview_minutes,
            invited: invited.clone(),
            contact_name: desk.settings.mail.from_name.clone(),
            contact_address: desk.settings.mail.from_address.to_string(),
        };
        let key = format!(
            "interview:{}:{}:{}:{}",
            interview.id,
            kind.template(),
            interview.sequence,
            person.email.key()
        );
        let letter = Letter {
            to_name: person.name.as_deref(),
            calendar: Some(Calendar {
                content_type: ics::content_type(method),
                ics: text.clone(),
                file_name: if kind == Kind::Cancel {
                    "absage.ics".into()
                } else {
                    "einladung.ics".into()
                },
            }),
            // An invitation, move or cancellation after the talk began is no use.
            expires_at: Some(start),
            ..Letter::new(kind.template(), key, Some(application.id), &person.email)
        };
        if matches!(
            desk.mailer
                .queue(tx, letter, &context, Cap::StaffCaused)
                .await?,
            outbox::Enqueued::Queued(_)
        ) {
            queued += 1;
        }
    }
    Ok(queued)
}
