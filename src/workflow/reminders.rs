//! A reminder to applicants whose application is incomplete, a configurable
//! number of days before the programme's deadline, for that programme's
//! applications. Keyed per application: sent once.

use super::mails;
use super::notices;
use crate::calendar::german;
use crate::domain::EmailAddress;
use crate::outbox::Letter;
use crate::store::{Store, applications, outbox};
use crate::workflow::desk::Desk;
use chrono::{DateTime, Duration, Utc};

/// When the reminder window of the programme opens, if that is after
/// `now` (the scheduler plans a pass for it). Inside the window a new
/// incomplete application is reminded at the next pass.
pub fn window_opens_after(desk: &Desk<'_>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let days = desk.settings.workflow.incomplete_reminder_days;
    if desk.programme.retired || days == 0 {
        return None;
    }
    let opens = desk.programme.deadline_end.with_timezone(&Utc) - Duration::days(i64::from(days));
    (opens > now).then_some(opens)
}

/// Queues the reminders that are due at `now`, one transaction per
/// application; returns how many were queued (the caller wakes the sender).
pub async fn queue_due(
    store: &Store,
    desk: &Desk<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    if desk.programme.retired {
        return Ok(0);
    }
    let days = desk.settings.workflow.incomplete_reminder_days;
    let end = desk.programme.deadline_end.with_timezone(&Utc);
    if days == 0 || now > end || now < end - Duration::days(i64::from(days)) {
        return Ok(0);
    }
    let open = applications::incomplete_on_time_in(store, &desk.programme.code).await?;
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
        let mut tx = store.begin().await?;
        let current = crate::store::documents::current(&mut tx, id).await?;
        let missing = super::review::missing(&current, true);
        let context = mails::Reminder {
            short_name: desk.programme.short_name.clone(),
            reference: reference.clone(),
            deadline: german::format_date(desk.programme.deadline),
            missing,
            contact_name: desk.settings.mail.from_name.clone(),
            contact_address: desk.settings.mail.from_address.to_string(),
        };
        let letter = Letter::new(
            "reminder_incomplete",
            format!("reminder-incomplete:{id}"),
            Some(id),
            &to,
        );
        let result = notices::to_applicant(desk, &mut tx, letter, &context).await?;
        tx.commit().await?;
        if matches!(result, outbox::Enqueued::Queued(_)) {
            queued += 1;
            tracing::info!(application = %reference, "reminder for incomplete application queued");
        }
    }
    Ok(queued)
}
