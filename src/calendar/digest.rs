//! The staff digest, on a cron schedule in Europe/Berlin (default weekdays
//! 07:30): what came in, what needs a human, what comes next. Keyed by its
//! scheduled time, so a restart never sends one twice; a run missed during
//! downtime is caught up within 12 hours. Nothing to report, no mail (unless
//! `digest.send_empty`).

use super::cron::CronSchedule;
use super::events;
use super::german;
use crate::config::programme::EventStatus;
use crate::context::App;
use crate::outbox::{Cap, Letter};
use crate::store::{health, parse_ts, ts};
use crate::workflow::mails;
use chrono::{DateTime, Duration, Utc};

/// How late a missed digest is still sent.
pub const CATCH_UP: i64 = 12;

fn day(t: &str) -> String {
    parse_ts(t).map_or_else(|| t.to_string(), |t| german::format_datetime(&t))
}

/// Builds the digest for the period (since, until], titled with the date of `at`.
pub async fn build(
    app: &App,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    at: DateTime<Utc>,
) -> anyhow::Result<mails::Digest> {
    let pool = app.store.pool();
    let (s, u) = (ts(since), ts(until));
    let new_applications = sqlx::query_as::<_, (String, Option<String>, String, bool, bool)>(
        "SELECT reference, municipality, applicant, complete, late FROM applications \
         WHERE created_at > ? AND created_at <= ? ORDER BY id",
    )
    .bind(&s)
    .bind(&u)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(r, m, a, complete, late)| {
        format!(
            "{r} {}: {}{}",
            m.unwrap_or(a),
            if complete {
                "vollständig"
            } else {
                "unvollständig"
            },
            if late { ", nach der Frist" } else { "" }
        )
    })
    .collect();
    let needs_human = sqlx::query_as::<_, (Option<String>, Option<String>, Option<String>, String)>(
        "SELECT from_address, subject, class, state FROM messages WHERE received_at > ? AND received_at <= ? \
         AND (class IN ('reply', 'other') OR state = 'failed') ORDER BY id",
    )
    .bind(&s)
    .bind(&u)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(from, subject, class, state)| {
        let what = match (class.as_deref(), state.as_str()) {
            (_, "failed") => "konnte nicht verarbeitet werden",
            (Some("reply"), _) => "Antwort",
            _ => "Frage oder sonstige Nachricht",
        };
        format!(
            "{}: \"{}\" ({what}, liegt im Posteingang)",
            from.unwrap_or_else(|| "(unbekannt)".into()),
            subject.unwrap_or_default()
        )
    })
    .collect();
    let interviews = sqlx::query_as::<_, (String, String)>(
        "SELECT i.start_at, a.reference FROM interviews i JOIN applications a ON a.id = i.application_id \
         WHERE i.state = 'released' AND i.start_at >= ? AND i.start_at < ? ORDER BY i.start_at",
    )
    .bind(&u)
    .bind(ts(until + Duration::days(3)))
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(start, reference)| format!("{}: {reference}", day(&start)))
    .collect();
    let mut pending_decisions = Vec::new();
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'held'")
        .fetch_one(pool)
        .await?;
    if held > 0 {
        pending_decisions.push(format!(
            "{held} Bescheid(e) warten auf Freigabe (VORSCHAU, dann FREIGEBEN BESCHEIDE)"
        ));
    }
    let undecided: Vec<(String, String)> = sqlx::query_as(
        "SELECT a.reference, i.end_at FROM interviews i JOIN applications a ON a.id = i.application_id \
         WHERE i.state = 'released' AND i.end_at <= ? \
         AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.application_id = a.id) ORDER BY i.start_at",
    )
    .bind(&u)
    .fetch_all(pool)
    .await?;
    for (reference, end) in undecided {
        pending_decisions.push(format!(
            "{reference}: Gespräch am {}, noch keine Entscheidung",
            day(&end)
        ));
    }
    let sent: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE state = 'sent' AND sent_at > ? AND sent_at <= ? \
         AND purpose != 'staff_digest'",
    )
    .bind(&s)
    .bind(&u)
    .fetch_one(pool)
    .await?;
    let failed = sqlx::query_as::<_, (String, String, Option<String>)>(
        "SELECT env_to, subject, last_error FROM outbox WHERE state = 'failed' \
         AND created_at > ? AND created_at <= ? ORDER BY id",
    )
    .bind(ts(since - Duration::days(7)))
    .bind(&u)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(to, subject, e)| format!("an {to}: \"{subject}\" – {}", e.unwrap_or_default()))
    .collect();
    let bounces = sqlx::query_as::<_, (String, Option<String>, Option<String>, Option<String>)>(
        "SELECT b.address, b.status, b.diagnostic, o.subject FROM bounces b LEFT JOIN outbox o ON o.id = b.outbox_id \
         WHERE b.created_at > ? AND b.created_at <= ? ORDER BY b.id",
    )
    .bind(&s)
    .bind(&u)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(address, status, diagnostic, subject)| {
        format!(
            "{address} ist nicht erreichbar{}{}{}",
            status.map(|s| format!(" ({s})")).unwrap_or_default(),
            subject.map(|s| format!(", E-Mail \"{s}\"")).unwrap_or_default(),
            diagnostic.map(|d| format!(": {d}")).unwrap_or_default()
        )
    })
    .collect();
    let participants: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM participants WHERE active = 1 AND role = 'participant'",
    )
    .fetch_one(pool)
    .await?;
    let upcoming = events::load(app)
        .await?
        .into_iter()
        .filter(|e| e.status != EventStatus::Cancelled)
        .filter(|e| e.start() > until && e.start() <= until + Duration::days(30))
        .map(|e| {
            format!(
                "{}: {}, {participants} Teilnehmende{}",
                e.title,
                e.day_lines().join(" / "),
                if e.status == EventStatus::Tentative {
                    " (unter Vorbehalt)"
                } else {
                    ""
                }
            )
        })
        .collect();
    let last_mailbox_check = health::get(&app.store, health::MAILBOX_OK)
        .await?
        .map_or_else(|| "noch keiner".to_string(), |(v, _)| day(&v));
    Ok(mails::Digest {
        short_name: app.programme.short_name.clone(),
        date: german::format_date(german::to_berlin(&at).date_naive()),
        since: german::format_datetime(&since),
        new_applications,
        needs_human,
        interviews,
        pending_decisions,
        sent,
        failed,
        bounces,
        upcoming,
        last_mailbox_check,
    })
}

fn is_empty(d: &mails::Digest) -> bool {
    d.new_applications.is_empty()
        && d.needs_human.is_empty()
        && d.interviews.is_empty()
        && d.pending_decisions.is_empty()
        && d.failed.is_empty()
        && d.bounces.is_empty()
        && d.sent == 0
}

/// Sends the digest whose scheduled time is the latest at or before `clock`
/// (within [`CATCH_UP`] hours), unless it was decided on before. Returns
/// whether a digest was queued.
pub async fn run(app: &App, clock: DateTime<Utc>) -> anyhow::Result<bool> {
    let settings = &app.settings.digest;
    if !settings.enabled {
        return Ok(false);
    }
    let schedule = CronSchedule::parse(&settings.cron)?;
    let Some(due) = schedule.latest_at_or_before(clock, Duration::hours(CATCH_UP)) else {
        return Ok(false);
    };
    let key = format!("digest:{}", ts(due));
    let done: Option<String> =
        sqlx::query_scalar("SELECT state FROM programme_mails WHERE key = ?")
            .bind(&key)
            .fetch_optional(app.store.pool())
            .await?;
    if done.is_some() {
        return Ok(false);
    }
    let previous: Option<String> =
        sqlx::query_scalar("SELECT MAX(due_at) FROM programme_mails WHERE kind = 'digest'")
            .fetch_one(app.store.pool())
            .await?;
    let since = previous
        .as_deref()
        .and_then(parse_ts)
        .unwrap_or(due - Duration::days(1));
    send(app, due, since, clock).await
}

/// Builds and queues the digest scheduled at `due` for the period since
/// `since`, keyed by `due`; records it as sent or (empty) skipped.
pub async fn send(
    app: &App,
    due: DateTime<Utc>,
    since: DateTime<Utc>,
    clock: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let key = format!("digest:{}", ts(due));
    // NOTE: the period is measured on the wall clock of the rows (when mail
    // came in or went out), the schedule on the scheduler's clock.
    let digest = build(app, since, Utc::now().max(due), due).await?;
    let empty = is_empty(&digest) && !app.settings.digest.send_empty;
    let mut tx = app.store.begin().await?;
    if !empty {
        for staff in &app.settings.staff.notify {
            let letter = Letter::new(
                "staff_digest",
                format!("{key}:{}", staff.key()),
                None,
                staff,
            );
            app.mailer
                .queue(&mut tx, letter, &digest, Cap::ToStaff)
                .await?;
        }
    }
    sqlx::query(
        "INSERT OR IGNORE INTO programme_mails (key, kind, due_at, decided_at, state, note) \
         VALUES (?, 'digest', ?, ?, ?, ?)",
    )
    .bind(&key)
    .bind(ts(due))
    .bind(ts(clock))
    .bind(if empty { "skipped" } else { "sent" })
    .bind(empty.then_some("nothing to report"))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(!empty)
}
