//! Applications: the first mail of a new application creates it and queues a
//! confirmation (a late one gets its own template and a notice to staff).

use super::{mails, notices};
use crate::calendar::german;
use crate::intake::Incoming;
use crate::outbox::compose::{Automatic, Draft};
use crate::startup::App;
use crate::store::Tx;
use crate::store::applications::{self, NewApplication};
use crate::store::outbox::{self, Enqueued};
use anyhow::Context;
use chrono::{DateTime, Utc};

/// Records an application mail; returns the application id.
pub async fn receive(
    app: &App,
    tx: &mut Tx<'_>,
    message_row: i64,
    mail: &Incoming,
    received: DateTime<Utc>,
) -> anyhow::Result<i64> {
    let from = mail
        .from
        .as_ref()
        .context("application without a sender address")?;
    if let Some(existing) = applications::find_by_applicant(tx, &from.key()).await? {
        applications::add_message(tx, existing.id).await?;
        tracing::info!(application = %existing.reference, "follow-up mail attached to application");
        return Ok(existing.id);
    }
    let late = !app.programme.is_on_time(received);
    let prefix: String = app
        .programme
        .short_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let application = applications::create(
        tx,
        &NewApplication {
            prefix: &prefix,
            applicant: &from.key(),
            applicant_name: mail.from_name.as_deref(),
            subject: Some(&mail.subject),
            first_message: message_row,
            received_at: received,
            late,
        },
    )
    .await?;
    tracing::Span::current().record("application", application.reference.as_str());
    let context = confirmation_context(app, &application.reference, mail, received);
    let template = if late {
        "confirmation_late"
    } else {
        "confirmation"
    };
    let rendered = app.templates.render(template, &context)?;
    let to = mail.reply_to.as_ref().unwrap_or(from);
    let draft = Draft {
        idempotency_key: format!("confirmation:{}", application.id),
        purpose: template,
        application_id: Some(application.id),
        to,
        to_name: mail.from_name.as_deref(),
        rendered,
        automatic: Automatic::Replied,
        in_reply_to: mail.message_id.as_deref(),
        references: &mail.references,
    };
    let queued = outbox::enqueue(
        tx,
        &app.composer.compose(draft)?,
        app.settings.mail.daily_cap_per_recipient,
    )
    .await?;
    if let Enqueued::Suppressed(_) = queued {
        tracing::warn!(to = %to, "confirmation suppressed: daily cap reached");
    }
    applications::set_state(tx, application.id, "confirmed").await?;
    if late {
        notices::late_application(app, tx, &application, mail, received).await?;
    }
    tracing::info!(application = %application.reference, late, "new application recorded, confirmation queued");
    Ok(application.id)
}

fn confirmation_context(
    app: &App,
    reference: &str,
    mail: &Incoming,
    received: DateTime<Utc>,
) -> mails::Confirmation {
    let p = &app.programme;
    mails::Confirmation {
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
        contact_name: app.settings.mail.from_name.clone(),
        contact_address: app
            .settings
            .mail
            .reply_to
            .as_ref()
            .unwrap_or(&app.settings.mail.from_address)
            .to_string(),
    }
}
