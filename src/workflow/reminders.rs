//! A reminder to applicants whose application is incomplete, a configurable
//! number of days before the deadline. Keyed per application: sent once.

use super::mails;
use crate::calendar::german;
use crate::context::App;
use crate::domain::EmailAddress;
use crate::outbox::{Cap, Letter};
use crate::store::{applications, outbox};
use chrono::{DateTime, Duration, Utc};

/// Queues the reminders that are due at `now`; returns how many were queued.
pub async fn queue_due(app: &App, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let days = app.settings.workflow.incomplete_reminder_days;
    let end = app.programme.deadline_end.with_timezone(&Utc);
    if days == 0 || now > end || now < end - Duration::days(i64::from(days)) {
        return Ok(0);
    }
    let open = applications::incomplete_on_time(&app.store).await?;
    let mut queued = 0;
    for applications::Incomplete {
        id,
        reference,
        applicant,
    } in open
    {
        let Ok(to) = EmailAddress::parse(&applicant) else {
            continue;
        };
        let mut tx = app.store.begin().await?;
        let current = crate::store::documents::current(&mut tx, id).await?;
        let missing = super::review::missing(&current, true);
        let context = mails::Reminder {
            short_name: app.programme.short_name.clone(),
            reference: reference.clone(),
            deadline: german::format_date(app.programme.deadline),
            missing,
            contact_name: app.settings.mail.from_name.clone(),
            contact_address: app.settings.mail.from_address.to_string(),
        };
        let letter = Letter::new(
            "reminder_incomplete",
            format!("reminder-incomplete:{id}"),
            Some(id),
            &to,
        );
        let result = app
            .mailer
            .queue(&mut tx, letter, &context, Cap::Applicant)
            .await?;
        tx.commit().await?;
        if matches!(result, outbox::Enqueued::Queued(_)) {
            queued += 1;
            tracing::info!(application = %reference, "reminder for incomplete application queued");
        }
    }
    if queued > 0 {
        app.outbox_signal.notify_one();
    }
    Ok(queued)
}
