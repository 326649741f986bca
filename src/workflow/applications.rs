//! Applications: the first mail of a new application creates it and queues a
//! confirmation saying what arrived and what is missing (a late one gets its
//! own template and a notice to staff). A later mail from the application's
//! owner (the sender of its first mail) or from an address staff linked to it
//! merges into it and gets an updated confirmation, sent to the owner, when it
//! brings documents. A mail from any other address naming the same
//! municipality becomes its own application, marked as a possible duplicate
//! (see [`super::ownership`]).
//!
//! Everything here is within the programme of the desk (part 9): which
//! programme a mail is for was decided before (`intake::route`); a follow-up
//! joins the owner's application of that programme only.

use super::review::{self, Review};
use super::{mails, notices, ownership};
use crate::calendar::german;
use crate::documents::analyse::{Analysis, Role};
use crate::domain::EmailAddress;
use crate::intake::Incoming;
use crate::outbox::{Answering, Letter};
use crate::store::Tx;
use crate::store::applications::{self, Application, NewApplication};
use crate::store::outbox::Enqueued;
use crate::workflow::desk::Desk;
use anyhow::Context;
use chrono::{DateTime, Utc};

/// Records an application mail with its documents; returns the application id.
pub async fn receive(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    message_row: i64,
    mail: &Incoming,
    received: DateTime<Utc>,
    analysis: &Analysis,
) -> anyhow::Result<i64> {
    let from = mail
        .from
        .as_ref()
        .context("application without a sender address")?;
    let municipality = municipality_of(analysis);
    let programme = &desk.programme.code;
    if let Some(existing) = applications::find_for_sender(tx, programme, &from.key()).await? {
        return follow_up(
            desk,
            tx,
            message_row,
            mail,
            received,
            analysis,
            existing,
            municipality,
        )
        .await;
    }
    // Another address naming a municipality that already applied: its own
    // application, marked for staff; the other one is not touched.
    let original = match &municipality {
        Some(m) => applications::find_by_municipality(tx, programme, m).await?,
        None => None,
    };
    let late = !desk.programme.is_on_time(received);
    let new = NewApplication {
        programme: &desk.programme.code,
        applicant: &from.key(),
        applicant_name: mail.from_name.as_deref(),
        subject: Some(&mail.subject),
        first_message: message_row,
        received_at: received,
        late,
        duplicate_of: original.as_ref().map(|o| o.id),
    };
    let application = applications::create(tx, &new).await?;
    let mut review =
        record_mail(desk, tx, &application, message_row, analysis, &municipality).await?;
    if let Some(original) = &original {
        review
            .flags
            .insert(0, ownership::duplicate_note(&application, original));
        tracing::warn!(application = %application.reference, original = %original.reference, "possible duplicate: same municipality from another address");
    }
    let template = if late {
        "confirmation_late"
    } else {
        "confirmation"
    };
    let key = format!("confirmation:{}", application.id);
    let confirmation = Confirm {
        reference: &application.reference,
        application_id: application.id,
        key,
        template,
    };
    queue_confirmation(
        desk,
        tx,
        &application,
        mail,
        received,
        &review,
        confirmation,
    )
    .await?;
    notices::needs_review(desk, tx, &application, message_row, &review.flags).await?;
    applications::set_state(tx, application.id, "confirmed").await?;
    if late {
        notices::late_application(desk, tx, &application, mail, received).await?;
    }
    tracing::info!(application = %application.reference, late, complete = review.complete, "new application recorded, confirmation queued");
    Ok(application.id)
}

#[allow(clippy::too_many_arguments)]
async fn follow_up(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    message_row: i64,
    mail: &Incoming,
    received: DateTime<Utc>,
    analysis: &Analysis,
    existing: Application,
    municipality: Option<String>,
) -> anyhow::Result<i64> {
    applications::add_message(tx, existing.id).await?;
    let before = ownership::before(tx, existing.id).await?;
    let mut review = record_mail(desk, tx, &existing, message_row, analysis, &municipality).await?;
    let held = ownership::hold_changes(tx, &existing, &before, &[message_row]).await?;
    review.flags.extend(held);
    if !analysis.documents.is_empty() && !existing.late {
        let key = format!("update:{}:{message_row}", existing.id);
        let c = Confirm {
            reference: &existing.reference,
            application_id: existing.id,
            key,
            template: "confirmation_update",
        };
        queue_confirmation(desk, tx, &existing, mail, received, &review, c).await?;
    }
    notices::needs_review(desk, tx, &existing, message_row, &review.flags).await?;
    tracing::info!(application = %existing.reference, complete = review.complete, "follow-up mail merged into application");
    Ok(existing.id)
}

/// What every application mail records: the span's reference, the
/// municipality named, and the review of its documents.
async fn record_mail(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    application: &Application,
    message_row: i64,
    analysis: &Analysis,
    municipality: &Option<String>,
) -> anyhow::Result<Review> {
    tracing::Span::current().record("application", application.reference.as_str());
    if let Some(m) = municipality {
        applications::set_municipality(tx, application.id, m).await?;
    }
    let confirms = !application.late;
    review::record(
        tx,
        application.id,
        message_row,
        analysis,
        desk.programme,
        confirms,
    )
    .await
}

/// Which confirmation to queue, under which idempotency key.
struct Confirm<'a> {
    reference: &'a str,
    application_id: i64,
    key: String,
    template: &'a str,
}

/// Queues a confirmation to the application's owner: never to a Reply-To,
/// never to another sender (an update from a linked address too goes to the
/// owner).
#[allow(clippy::too_many_arguments)]
async fn queue_confirmation(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    application: &Application,
    mail: &Incoming,
    received: DateTime<Utc>,
    review: &Review,
    c: Confirm<'_>,
) -> anyhow::Result<()> {
    let context = confirmation_context(desk, c.reference, mail, received, review);
    let owner = EmailAddress::parse(&application.owner)
        .context("the application's owner is not an address")?;
    let to = &owner;
    let from_owner = mail.from.as_ref().is_some_and(|f| f.key() == owner.key());
    let letter = Letter {
        to_name: if from_owner {
            mail.from_name.as_deref()
        } else {
            application.applicant_name.as_deref()
        },
        answering: from_owner.then_some(Answering {
            message_id: mail.message_id.as_deref(),
            references: &mail.references,
        }),
        ..Letter::new(c.template, c.key, Some(c.application_id), to)
    };
    let queued = notices::to_applicant(desk, tx, letter, &context).await?;
    if let Enqueued::Suppressed(_) = queued {
        tracing::warn!(to = %to, "confirmation suppressed: daily cap reached");
    }
    Ok(())
}

/// The municipality named in a questionnaire: its `kommune_name` form field,
/// or a line "Name der Kommune: …" in its text.
pub fn municipality_of(analysis: &Analysis) -> Option<String> {
    for doc in analysis
        .documents
        .iter()
        .filter(|d| d.role == Role::Questionnaire)
    {
        let Some(ex) = &doc.extracted else { continue };
        if let Some(f) = ex
            .fields
            .iter()
            .find(|f| f.name.ends_with("kommune_name") && !f.value.trim().is_empty())
        {
            return Some(normalise(&f.value));
        }
        for line in ex.text.lines() {
            for label in ["Name der Kommune:", "Kommune:"] {
                if let Some(rest) = line.trim().strip_prefix(label)
                    && !rest.trim().is_empty()
                {
                    return Some(normalise(rest));
                }
            }
        }
    }
    None
}

fn normalise(name: &str) -> String {
    crate::domain::HeaderText::sanitize(name.trim(), 120)
        .as_str()
        .to_string()
}

fn confirmation_context(
    desk: &Desk<'_>,
    reference: &str,
    mail: &Incoming,
    received: DateTime<Utc>,
    review: &Review,
) -> mails::Confirmation {
    let p = desk.programme;
    mails::Confirmation {
        complete: review.complete,
        missing: review.missing.clone(),
        unreadable: review.unreadable.clone(),
        documents: review.documents.clone(),
        interview_choices: review.interview_choices.clone(),
        unmapped_boxes: review.unmapped_boxes,
        programme: p.name.clone(),
        short_name: p.short_name.clone(),
        reference: reference.to_string(),
        applicant_name: mail.from_name.clone(),
        subject: mail.subject.clone(),
        received: german::format_datetime(&received),
        deadline: german::format_date(p.deadline),
        attachments: mail.attachments.clone(),
        interview_days: p
            .interview_days
            .iter()
            .map(|d| {
                format!(
                    "{}, {}",
                    german::format_date(d.slot.start.date_naive()),
                    german::format_time_range(&d.slot.start, &d.slot.end)
                )
            })
            .collect(),
        contact_name: desk.settings.mail.from_name.clone(),
        contact_address: desk
            .settings
            .mail
            .reply_to
            .as_ref()
            .unwrap_or(&desk.settings.mail.from_address)
            .to_string(),
    }
}

/// Tells staff that application mail `message_row` came while several calls
/// were open (`open`) and names none of them: it is stored, neither recorded
/// nor confirmed, and waits for `ZUORDNEN <message_row> CODE`. Once per
/// message.
pub async fn unrouted(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    message_row: i64,
    mail: &Incoming,
    received: DateTime<Utc>,
    open: &[&crate::config::Programme],
) -> anyhow::Result<()> {
    let mut lines = vec![
        format!("Nachricht Nr. {message_row}"),
        format!(
            "Absender: {}",
            mail.from_raw.as_deref().unwrap_or("(unbekannt)")
        ),
        format!("Betreff: {}", mail.subject),
        format!("Eingegangen: {}", german::format_datetime(&received)),
        format!(
            "Offene Bewerbungsfristen: {}",
            open.iter()
                .map(|p| format!(
                    "{} ({}, bis {})",
                    p.short_name,
                    p.code,
                    german::format_date(p.deadline)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ];
    lines.extend(open.iter().map(|p| {
        format!(
            "Für {} senden Sie den Befehl: ZUORDNEN {message_row} {}",
            p.short_name, p.code
        )
    }));
    let excerpt: String = mail.body_start.chars().take(1000).collect();
    notices::staff(
        desk,
        tx,
        &format!("unrouted:{message_row}"),
        "Bewerbung ohne Programm: bitte zuordnen",
        "Eine E-Mail, die wie eine Bewerbung aussieht, ist eingegangen, während die \
         Bewerbungsfristen mehrerer Programme laufen, und sie nennt keines davon. postbote hat \
         sie weder als Bewerbung erfasst noch bestätigt; sie bleibt im Posteingang. Bitte ordnen \
         Sie sie mit einem der Befehle unten zu (per Mail, mit Ihrem Kennwort): postbote erfasst \
         und bestätigt sie dann für dieses Programm.",
        &lines,
        excerpt.trim(),
    )
    .await
}

/// `ZUORDNEN <message_row> CODE`: the held application mail is for
/// programme `code`; the intake processes it again for that programme
/// (recorded and confirmed then, as any application of it).
pub async fn route(
    tx: &mut Tx<'_>,
    message_row: i64,
    code: &str,
) -> crate::workflow::actions::ActionResult<String> {
    use crate::store::messages::{self, Routing};
    use crate::workflow::actions::refuse;
    match messages::route_to(tx, message_row, code).await? {
        Routing::Requeued => {
            tracing::info!(message_row, programme = code, "message routed by staff");
            Ok(format!(
                "Nachricht {message_row} ist dem Programm {code} zugeordnet; postbote erfasst \
                 und bestätigt sie jetzt als Bewerbung für {code}"
            ))
        }
        Routing::NoSuchMessage => refuse(format!("keine Nachricht Nr. {message_row}")),
        Routing::UnknownProgramme => refuse(format!("kein Programm mit dem Kürzel {code}")),
        Routing::NotWaiting(..) => refuse(format!(
            "Nachricht {message_row} wartet nicht auf eine Zuordnung (nur Bewerbungen, die \
             postbote keinem Programm zuordnen konnte)"
        )),
    }
}
