//! Notices to staff: a late application, a mail postbote could not process.

use super::mails;
use crate::calendar::german;
use crate::intake::Incoming;
use crate::outbox::compose::{Automatic, Draft};
use crate::startup::App;
use crate::store::Tx;
use crate::store::applications::Application;
use crate::store::outbox;
use chrono::{DateTime, Utc};
use serde::Serialize;

async fn to_staff<C: Serialize>(
    app: &App,
    tx: &mut Tx<'_>,
    template: &str,
    key: &str,
    application_id: Option<i64>,
    context: &C,
) -> anyhow::Result<()> {
    for staff in &app.settings.staff.notify {
        let rendered = app.templates.render(template, context)?;
        let draft = Draft {
            idempotency_key: format!("{key}:{}", staff.key()),
            purpose: template,
            application_id,
            to: staff,
            to_name: None,
            rendered,
            automatic: Automatic::Generated,
            in_reply_to: None,
            references: &[],
        };
        outbox::enqueue(
            tx,
            &app.composer.compose(draft)?,
            app.settings.mail.daily_cap_per_recipient.max(50),
        )
        .await?;
    }
    Ok(())
}

pub async fn late_application(
    app: &App,
    tx: &mut Tx<'_>,
    application: &Application,
    mail: &Incoming,
    received: DateTime<Utc>,
) -> anyhow::Result<()> {
    let context = mails::StaffLate {
        short_name: app.programme.short_name.clone(),
        reference: application.reference.clone(),
        applicant: application.applicant.clone(),
        received: german::format_datetime(&received),
        deadline: german::format_date(app.programme.deadline),
        subject: mail.subject.clone(),
    };
    let key = format!("staff-late:{}", application.id);
    to_staff(
        app,
        tx,
        "staff_late_application",
        &key,
        Some(application.id),
        &context,
    )
    .await
}

/// Tells staff that a stored message could not be processed and stays in the mailbox.
pub async fn processing_failed(
    app: &App,
    tx: &mut Tx<'_>,
    message_row: i64,
    mail: Option<&Incoming>,
    received: DateTime<Utc>,
    error: &str,
) -> anyhow::Result<()> {
    let context = mails::StaffFailure {
        short_name: app.programme.short_name.clone(),
        message_id: mail
            .and_then(|m| m.message_id.clone())
            .unwrap_or_else(|| "(keine)".into()),
        from: mail
            .and_then(|m| m.from_raw.clone())
            .unwrap_or_else(|| "(unbekannt)".into()),
        subject: mail.map(|m| m.subject.clone()).unwrap_or_default(),
        received: german::format_datetime(&received),
        error: error.chars().take(500).collect(),
    };
    to_staff(
        app,
        tx,
        "staff_processing_failed",
        &format!("failed:{message_row}"),
        None,
        &context,
    )
    .await
}

/// Tells staff what in an application needs a human: unreadable files,
/// uncertain dates, an over-long letter. Once per mail.
pub async fn needs_review(
    app: &App,
    tx: &mut Tx<'_>,
    application: &Application,
    message_row: i64,
    flags: &[String],
) -> anyhow::Result<()> {
    if flags.is_empty() {
        return Ok(());
    }
    let context = mails::StaffReview {
        short_name: app.programme.short_name.clone(),
        reference: application.reference.clone(),
        applicant: application.applicant.clone(),
        flags: flags.to_vec(),
    };
    let key = format!("staff-review:{}:{message_row}", application.id);
    to_staff(
        app,
        tx,
        "staff_needs_review",
        &key,
        Some(application.id),
        &context,
    )
    .await
}
