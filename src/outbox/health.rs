//! Is mail going out? The conditions that make `postbote status` exit 1
//! and raise the alarm mail, decided in one place: sending paused because
//! the SMTP server refuses postbote (authentication, relaying, TLS), an
//! outcome the store would not record, a send stuck half-way; and, for
//! `status` only, mail that failed recently and nobody acknowledged.

use crate::config::settings::Settings;
use crate::intake::health::Problem;
use crate::store::{Store, health, outbox};
use chrono::{DateTime, Utc};

/// How long a row may stay `sending` before it counts as stuck: the wait
/// for an interrupted send's copy, two SMTP timeouts and a minute.
pub fn stuck_after(s: &Settings) -> chrono::Duration {
    let secs = s
        .smtp
        .recovery_wait_secs
        .saturating_add(s.smtp.timeout_secs.saturating_mul(2))
        .saturating_add(60);
    chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 2_000))
}

/// The open sending problems at `now` (each raises one alarm per incident).
pub async fn problems(
    store: &Store,
    s: &Settings,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Problem>> {
    let mut out = Vec::new();
    if let Some((error, _)) = health::get(store, health::OUTBOX_PAUSED).await? {
        let since = health::get(store, health::OUTBOX_PAUSED_SINCE)
            .await?
            .map(|(v, _)| v)
            .unwrap_or_default();
        out.push(Problem {
            incident: format!("outbox-paused:{since}"),
            summary: format!(
                "sending paused since {since}: the SMTP server refuses postbote ({error}); \
                 mail stays queued; fix the [smtp] settings or the server and restart"
            ),
            title: "E-Mail-Versand angehalten".into(),
            intro: "Der Mailserver nimmt keine E-Mails von postbote an (Anmeldung, Weiterleitung \
                    oder Verschlüsselung). postbote hat den Versand angehalten; keine E-Mail geht \
                    verloren, alle warten in der Warteschlange. Diese Nachricht geht erst hinaus, \
                    wenn der Versand wieder funktioniert."
                .into(),
            lines: vec![
                format!("Seit: {since}"),
                format!("Antwort des Servers: {error}"),
                "Das braucht eine Änderung der Einstellungen [smtp] oder am Mailserver.".into(),
                "Prüfen: postbote status".into(),
            ],
        });
    }
    if let Some((error, at)) = health::get(store, health::OUTBOX_STORE_ERROR).await? {
        out.push(Problem {
            incident: format!("outbox-store:{at}"),
            summary: format!(
                "the outcome of a send could not be recorded (at {at}: {error}); \
                 sending stopped until the database takes writes again"
            ),
            title: "Versand kann nicht aufgezeichnet werden".into(),
            intro: "postbote konnte nach dem Versand einer E-Mail nicht speichern, dass sie \
                    versandt wurde (Datenbank voll, schreibgeschützt oder gesperrt). Damit nichts \
                    doppelt hinausgeht, sendet postbote nichts mehr, bis die Datenbank wieder \
                    schreibt."
                .into(),
            lines: vec![
                format!("Zuletzt: {at}"),
                format!("Fehler: {error}"),
                "Prüfen: Speicherplatz und Rechte der Datenbank, postbote status".into(),
            ],
        });
    }
    let (stuck, oldest) = outbox::stuck_sending(store, now - stuck_after(s)).await?;
    if stuck > 0 {
        let oldest = oldest.unwrap_or_default();
        out.push(Problem {
            incident: format!("outbox-stuck:{oldest}"),
            summary: format!(
                "{stuck} mail(s) stuck in state sending since {oldest} (an outcome not recorded, \
                 or an interrupted send not settled; see postbote outbox)"
            ),
            title: "E-Mails hängen im Versand".into(),
            intro: format!(
                "{stuck} E-Mail(s) stehen seit {oldest} auf „wird gesendet“: Entweder konnte \
                 postbote das Ergebnis nicht speichern, oder ein unterbrochener Versand ist noch \
                 nicht geklärt."
            ),
            lines: vec!["Prüfen: postbote status, postbote outbox".into()],
        });
    }
    Ok(out)
}

/// Mail that failed permanently within `health.failed_mail_window_hours`
/// and nobody acknowledged: (how many, the oldest's line for `status`).
pub async fn unacknowledged(
    store: &Store,
    s: &Settings,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<String>> {
    let hours = s
        .health
        .failed_mail_window_hours
        .min(outbox::MAX_FAILING_HOURS);
    let since = now - chrono::Duration::hours(i64::try_from(hours).unwrap_or(8760));
    let failed = outbox::unacknowledged_failures(store, since).await?;
    let Some(first) = failed.first() else {
        return Ok(None);
    };
    Ok(Some(format!(
        "{} mail(s) failed permanently in the last {hours} h and nobody acknowledged them \
         (first: #{} to {} at {}: {}); see postbote outbox, then \
         postbote outbox retry ID|--failed or postbote outbox ack ID|--all",
        failed.len(),
        first.id,
        first.env_to,
        first.failed_at,
        first.last_error.as_deref().unwrap_or("")
    )))
}
