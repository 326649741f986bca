//! The health alarm: staff get a mail when no mailbox check has succeeded
//! for `health.alarm_mailbox_after_secs`, for every open mailbox problem of
//! `intake::health` (the mailbox cannot be opened, mail waits unprocessed,
//! moves or fetches keep failing), or when an outgoing mail has been failing
//! for `health.alarm_outbox_failing_hours`, and for every open sending
//! problem of `outbox::health` (sending paused because the SMTP server
//! refuses postbote, an outcome the store would not record, a stuck send).
//! One alarm per incident. Mail that expired unsent is reported to staff
//! once, in one notice listing it.
//!
//! NOTE: an alarm about sending is queued like any mail: while the SMTP
//! server refuses postbote it cannot go out (it goes when sending works
//! again); `postbote status` is the immediate signal.
//!
//! NOTE: health facts are written on the wall clock, so the alarm compares
//! with the wall clock, not the scheduler's (test-controlled) clock.

use crate::calendar::german;
use crate::context::App;
use crate::store::waiting::{self, Stage};
use crate::store::{health, outbox, parse_ts};
use crate::workflow::notices;
use chrono::{DateTime, Utc};

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
        notices::alarm(
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
        )
        .await?;
        tx.commit().await?;
    }
    let sending = crate::outbox::health::problems(&app.store, &app.settings, now).await?;
    for p in
        crate::intake::health::problems(&app.store, h, &app.settings.mailbox.processed_folder, now)
            .await?
            .into_iter()
            .chain(sending)
    {
        open += 1;
        let mut tx = app.store.begin().await?;
        notices::alarm(
            &app.desk(),
            &mut tx,
            &format!("alarm-{}", p.incident),
            &format!("ALARM: {}", p.title),
            &p.intro,
            &p.lines,
        )
        .await?;
        tx.commit().await?;
    }
    expired(app).await?;
    if let Some(outbox::Failing {
        id,
        env_to: to,
        created_at: since,
        last_error: error,
    }) = outbox::failing(&app.store, h.alarm_outbox_failing_hours).await?
    {
        open += 1;
        let mut tx = app.store.begin().await?;
        notices::alarm(
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
        )
        .await?;
        tx.commit().await?;
    }
    Ok(open)
}

/// When, on the wall clock, the next alarm threshold is crossed if nothing
/// changes before: no successful mailbox check for
/// `health.alarm_mailbox_after_secs`, the mailbox failing to open for
/// `health.mailbox_error_after_secs`, a message waiting unprocessed for
/// `health.unprocessed_after_secs`. None when none is ahead. The thresholds
/// about the outbox (hours) are left to the scheduler's longest sleep.
pub async fn next_due(app: &App) -> anyhow::Result<Option<DateTime<Utc>>> {
    let h = &app.settings.health;
    let now = Utc::now();
    let after = |at: &str, secs: u64| {
        let secs = chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 2_000));
        parse_ts(at).and_then(|t| t.checked_add_signed(secs))
    };
    let mut due = Vec::new();
    if let Some((last_ok, _)) = health::get(&app.store, health::MAILBOX_OK).await? {
        due.push(after(&last_ok, h.alarm_mailbox_after_secs));
    }
    if let Some((since, _)) = health::get(&app.store, health::MAILBOX_FAILING_SINCE).await? {
        due.push(after(&since, h.mailbox_error_after_secs));
    }
    for w in waiting::all(&app.store).await? {
        if w.stage != Some(Stage::TooLarge) {
            due.push(after(&w.first_seen_at, h.unprocessed_after_secs));
        }
    }
    Ok(due.into_iter().flatten().filter(|t| *t > now).min())
}

/// Tells staff once, in one notice, about mail marked `expired` (its event
/// or interview had begun before it could go out); returns how many mails.
pub async fn expired(app: &App) -> anyhow::Result<usize> {
    let mut tx = app.store.begin().await?;
    let rows = outbox::expired_unnoticed(&mut tx).await?;
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        tx.rollback().await?;
        return Ok(0);
    };
    let key = format!("outbox-expired:{}-{}", first.id, last.id);
    let mut lines: Vec<String> = rows
        .iter()
        .take(30)
        .map(|r| {
            let due = r
                .expires_at
                .as_deref()
                .and_then(parse_ts)
                .map(|t| german::format_datetime(&t))
                .unwrap_or_default();
            format!("An {}: „{}“ (Termin: {due})", r.env_to, r.subject)
        })
        .collect();
    if rows.len() > 30 {
        lines.push(format!("… und {} weitere", rows.len() - 30));
    }
    lines.push("Prüfen: postbote outbox".into());
    notices::alarm(
        &app.desk(),
        &mut tx,
        &key,
        "E-Mails nicht versandt: Der Termin hatte schon begonnen",
        &format!(
            "{} E-Mail(s) konnte(n) nicht vor ihrem Termin versandt werden. postbote hat sie nicht \
             mehr verschickt, damit keine Erinnerung oder Einladung nach Beginn eintrifft. Bitte \
             informieren Sie die Empfänger bei Bedarf persönlich.",
            rows.len()
        ),
        &lines,
    )
    .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    outbox::mark_expiry_noticed(&mut tx, &ids).await?;
    tx.commit().await?;
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use crate::context::testing;
    use crate::store::outbox::{self, OutboxState};
    use crate::store::{health, ts};
    use crate::workflow::notices;
    use chrono::{Duration, Utc};

    #[tokio::test]
    async fn an_alarm_goes_out_after_sixty_staff_notices() {
        let dir = tempfile::tempdir().unwrap();
        let app = testing::app(dir.path()).await;
        for i in 0..60 {
            let mut tx = app.store.begin().await.unwrap();
            notices::staff(
                &app.desk(),
                &mut tx,
                &format!("flood:{i}"),
                "Bitte prüfen",
                "Eine Nachricht",
                &[],
                "",
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
        let rows = outbox::list(&app.store).await.unwrap();
        let suppressed = rows
            .iter()
            .filter(|r| r.state == OutboxState::Suppressed)
            .count();
        assert_eq!(suppressed, 10, "the notices' own cap of 50 applies");
        let long_ago = ts(Utc::now() - Duration::hours(2));
        health::set(&app.store, health::MAILBOX_OK, &long_ago)
            .await
            .unwrap();
        assert!(super::check(&app).await.unwrap() >= 1);
        let rows = outbox::list(&app.store).await.unwrap();
        let alarm = rows
            .iter()
            .find(|r| r.subject.contains("ALARM"))
            .expect("an alarm row");
        assert_eq!(alarm.env_to, testing::STAFF);
        assert_eq!(alarm.state, OutboxState::Queued, "{alarm:?}");
    }
}
