//! The health alarm: staff get a mail when no mailbox check has succeeded
//! for `health.alarm_mailbox_after_secs`, for every open mailbox problem of
//! `intake::health` (the mailbox cannot be opened, mail waits unprocessed,
//! moves or fetches keep failing), or when an outgoing mail has been failing
//! for `health.alarm_outbox_failing_hours`. One alarm per incident.
//!
//! NOTE: health facts are written on the wall clock, so the alarm compares
//! with the wall clock, not the scheduler's (test-controlled) clock.

use crate::context::App;
use crate::store::{health, outbox, parse_ts};
use crate::workflow::notices;
use chrono::Utc;

/// Queues the alarms that apply now; returns how many incidents are open.
pub async fn check(app: &App) -> anyhow::Result<usize> {
    let h = &app.settings.health;
    let now = Utc::now();
    let mut open = 0;
    let last_ok = health::get(&app.store, health::MAILBOX_OK).await?;
    if let Some((value, _)) = &last_ok
        && let Some(t) = parse_ts(value)
        && (now - t).num_seconds() > i64::try_from(h.alarm_mailbox_after_secs).unwrap_or(i64::MAX)
    {
        open += 1;
        let error = health::get(&app.store, health::MAILBOX_ERROR)
            .await?
            .map(|(e, at)| format!("Letzter Fehler ({at}): {e}"))
            .unwrap_or_else(|| "Kein Fehler aufgezeichnet.".into());
        let mut tx = app.store.begin().await?;
        notices::staff(
            &app.desk(),
            &mut tx,
            &format!("alarm-mailbox:{value}"),
            "ALARM: Postfach wird nicht mehr abgerufen",
            &format!(
                "postbote konnte das Postfach seit {} Minuten nicht abrufen. Neue Bewerbungen und Antworten bleiben liegen, bis das behoben ist.",
                (now - t).num_minutes()
            ),
            &[
                format!("Letzter erfolgreicher Abruf: {value}"),
                error,
                "Prüfen: postbote status".into(),
            ],
            "",
        )
        .await?;
        tx.commit().await?;
    }
    for p in
        crate::intake::health::problems(&app.store, h, &app.settings.mailbox.processed_folder, now)
            .await?
    {
        open += 1;
        let mut tx = app.store.begin().await?;
        notices::staff(
            &app.desk(),
            &mut tx,
            &format!("alarm-{}", p.incident),
            &format!("ALARM: {}", p.title),
            &p.intro,
            &p.lines,
            "",
        )
        .await?;
        tx.commit().await?;
    }
    if let Some(outbox::Failing {
        id,
        env_to: to,
        created_at: since,
        last_error: error,
    }) = outbox::failing(&app.store, h.alarm_outbox_failing_hours).await?
    {
        open += 1;
        let mut tx = app.store.begin().await?;
        notices::staff(
            &app.desk(),
            &mut tx,
            &format!("alarm-outbox:{id}"),
            "ALARM: E-Mails werden nicht zugestellt",
            &format!(
                "Eine E-Mail wartet seit mehr als {} Stunden auf den Versand; postbote versucht es weiter.",
                h.alarm_outbox_failing_hours
            ),
            &[
                format!("An: {to}, in der Warteschlange seit {since}"),
                format!("Fehler: {}", error.unwrap_or_default()),
                "Prüfen: postbote outbox".into(),
            ],
            "",
        )
        .await?;
        tx.commit().await?;
    }
    Ok(open)
}
