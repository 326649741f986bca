//! Applications: the first mail of a new application creates it and queues a
//! confirmation saying what arrived and what is missing (a late one gets its
//! own template and a notice to staff). A later mail from the same sender, or
//! naming the same municipality in its questionnaire, merges into it and gets
//! an updated confirmation when it brings documents.

use super::review::{self, Review};
use super::{mails, notices};
use crate::calendar::german;
use crate::documents::analyse::{Analysis, Role};
use crate::intake::Incoming;
use crate::outbox::{Answering, Cap, Letter};
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
    let existing = match applications::find_by_applicant(tx, &from.key()).await? {
        Some(a) => Some(a),
        None => match &municipality {
            Some(m) => applications::find_by_municipality(tx, m).await?,
            None => None,
        },
    };
    if let Some(existing) = existing {
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
    let late = !desk.programme.is_on_time(received);
    let prefix: String = desk
        .programme
        .short_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let new = NewApplication {
        prefix: &prefix,
        applicant: &from.key(),
        applicant_name: mail.from_name.as_deref(),
        subject: Some(&mail.subject),
        first_message: message_row,
        received_at: received,
        late,
    };
    let application = applications::create(tx, &new).await?;
    let review = record_mail(desk, tx, &application, message_row, analysis, &municipality).await?;
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
    queue_confirmation(desk, tx, mail, received, &review, confirmation).await?;
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
    let review = record_mail(desk, tx, &existing, message_row, analysis, &municipality).await?;
    if !analysis.documents.is_empty() && !existing.late {
        let key = format!("update:{}:{message_row}", existing.id);
        let c = Confirm {
            reference: &existing.reference,
            application_id: existing.id,
            key,
            template: "confirmation_update",
        };
        queue_confirmation(desk, tx, mail, received, &review, c).await?;
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

async fn queue_confirmation(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    mail: &Incoming,
    received: DateTime<Utc>,
    review: &Review,
    c: Confirm<'_>,
) -> anyhow::Result<()> {
    let from = mail
        .from
        .as_ref()
        .context("application without a sender address")?;
    let context = confirmation_context(desk, c.reference, mail, received, review);
    let to = mail.reply_to.as_ref().unwrap_or(from);
    let letter = Letter {
        to_name: mail.from_name.as_deref(),
        answering: Some(Answering {
            message_id: mail.message_id.as_deref(),
            references: &mail.references,
        }),
        ..Letter::new(c.template, c.key, Some(c.application_id), to)
    };
    let queued = desk
        .mailer
        .queue(tx, letter, &context, Cap::Applicant)
        .await?;
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
