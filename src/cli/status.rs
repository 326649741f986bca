//! `postbote status`: mailbox health, counts by state, the outbox queue;
//! the application, interview, decision and roster counts per programme
//! (health and stuck states are global).
//! Exits 1 when unhealthy, so a monitoring system can watch it.

use crate::config::Config;
use crate::store::interviews::InterviewState;
use crate::store::messages::MessageState;
use crate::store::outbox::OutboxState;
use crate::store::{
    Store, applications, decisions, health, interviews, messages, outbox, parse_ts, participants,
};
use chrono::Utc;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Debug, Serialize)]
struct Status {
    healthy: bool,
    problems: Vec<String>,
    warnings: Vec<String>,
    last_mailbox_check: Option<String>,
    last_mailbox_error: Option<(String, String)>,
    /// Messages in the watched folder not done yet.
    waiting_in_folder: usize,
    messages: Vec<(String, i64)>,
    outbox: Vec<(OutboxState, i64)>,
    applications: i64,
    late_applications: i64,
    interviews: Vec<(InterviewState, i64)>,
    decisions: Vec<(String, i64)>,
    participants: i64,
    last_scheduler_pass: Option<String>,
    /// When the scheduler planned its next pass (wall clock).
    next_scheduler_pass: Option<String>,
    /// The counts of each programme (the totals above are over all).
    programmes: Vec<ProgrammeCounts>,
}

#[derive(Debug, Serialize)]
struct ProgrammeCounts {
    code: String,
    short_name: String,
    retired: bool,
    applications: i64,
    late_applications: i64,
    interviews: Vec<(InterviewState, i64)>,
    decisions: Vec<(String, i64)>,
    participants: i64,
}

pub async fn run(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let s = &config.settings;
    if !s.storage.database.exists() {
        // Nothing has run yet: as stuck as it gets, and said plainly.
        let problem = format!(
            "no successful mailbox check yet: no database at {} (the daemon has not run with this config)",
            s.storage.database.display()
        );
        if json {
            println!(
                "{}",
                serde_json::json!({ "healthy": false, "problems": [problem] })
            );
        } else {
            println!("health:       UNHEALTHY\n  problem:    {problem}");
        }
        return Ok(ExitCode::from(1));
    }
    let store = Store::open_existing(&s.storage.database).await?;
    let now = Utc::now();
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let last_ok = health::get(&store, health::MAILBOX_OK)
        .await?
        .map(|(v, _)| v);
    match last_ok.as_deref().and_then(parse_ts) {
        None => problems.push("no successful mailbox check yet".to_string()),
        Some(t) if (now - t).num_seconds() > s.health.mailbox_stale_after_secs as i64 => problems
            .push(format!(
                "last successful mailbox check {} minutes ago (limit {})",
                (now - t).num_minutes(),
                s.health.mailbox_stale_after_secs / 60
            )),
        Some(_) => {}
    }
    let last_error = health::get(&store, health::MAILBOX_ERROR).await?;
    for p in
        crate::intake::health::problems(&store, &s.health, &s.mailbox.processed_folder, now).await?
    {
        problems.push(p.summary);
    }
    for p in crate::outbox::health::problems(&store, s, now).await? {
        problems.push(p.summary);
    }
    if let Some(p) = crate::outbox::health::unacknowledged(&store, s, now).await? {
        problems.push(p);
    }
    let waiting = crate::store::waiting::all(&store).await?.len();
    for line in crate::intake::health::oversized(&store).await? {
        warnings.push(format!("left for staff: {line}"));
    }
    // A scheduler pass that failed after the last good one: reminders and
    // digests may be stuck.
    let tick = health::get(&store, health::SCHEDULER_TICK).await?;
    if let Some((error, at)) = health::get(&store, health::SCHEDULER_ERROR).await?
        && tick.as_ref().is_none_or(|(_, ok_at)| *ok_at < at)
    {
        problems.push(format!("the scheduler failed at {at}: {error}"));
    }
    // A planned pass long overdue: the scheduler is stuck in a pass, or the
    // daemon does not run (it sleeps until its next pass and records when
    // that is, `health::SCHEDULER_NEXT`).
    let next_pass = health::get(&store, health::SCHEDULER_NEXT).await?;
    if let Some(p) = scheduler_late(next_pass.as_ref(), tick.as_ref(), &s.health, now) {
        problems.push(p);
    }
    // LÖSCHEN and AUSKUNFT by mail are performed within seconds; one still
    // pending after an hour is stuck (the mailbox unreachable, or the
    // scheduler not running).
    let (stuck, failed) = crate::retention::requests::health(&store, now).await?;
    problems.extend(stuck);
    warnings.extend(failed);
    let message_counts = messages::counts(&store).await?;
    for (state, n) in &message_counts {
        if state.starts_with(MessageState::Failed.as_str()) {
            problems.push(format!(
                "{n} message(s) could not be processed (see the mailbox and the staff notice; \
                 `postbote messages list --failed`, then `postbote messages retry ID`)"
            ));
        }
    }
    let (outbox_counts, oldest_queued) = outbox::summary(&store).await?;
    if let Some(t) = oldest_queued
        && (now - t).num_seconds() > s.health.outbox_stuck_after_secs as i64
    {
        problems.push(format!(
            "outgoing mail waiting for {} minutes",
            (now - t).num_minutes()
        ));
    }
    let failing_hours = s
        .health
        .alarm_outbox_failing_hours
        .min(outbox::MAX_FAILING_HOURS);
    if let Some(f) = outbox::failing(&store, failing_hours).await? {
        problems.push(format!(
            "outgoing mail to {} failing since {} (over {failing_hours} h; staff were alarmed)",
            f.env_to, f.created_at
        ));
    }
    for (state, n) in &outbox_counts {
        match state {
            OutboxState::Failed => {
                warnings.push(format!("{n} mail(s) failed permanently (postbote outbox)"));
            }
            OutboxState::Suppressed => {
                warnings.push(format!("{n} mail(s) suppressed by the daily cap"));
            }
            OutboxState::Expired => {
                warnings.push(format!(
                    "{n} mail(s) expired: their event or interview had begun (staff were told)"
                ));
            }
            _ => {}
        }
    }
    let (applications, late) = applications::counts(&store).await?;
    let interviews = interviews::counts(&store).await?;
    let decisions = decisions::counts(&store).await?;
    let mut per_programme = Vec::new();
    let mut participants = 0;
    for p in config.programmes.iter() {
        let (applications, late_applications) = applications::counts_in(&store, &p.code).await?;
        let active = participants::count_active_participants(&store, &p.code).await?;
        participants += active;
        per_programme.push(ProgrammeCounts {
            code: p.code.clone(),
            short_name: p.short_name.clone(),
            retired: p.retired,
            applications,
            late_applications,
            interviews: interviews::counts_in(&store, &p.code).await?,
            decisions: decisions::counts_in(&store, &p.code).await?,
            participants: active,
        });
    }
    let status = Status {
        healthy: problems.is_empty(),
        problems,
        warnings,
        last_mailbox_check: last_ok,
        last_mailbox_error: last_error,
        waiting_in_folder: waiting,
        messages: message_counts,
        outbox: outbox_counts,
        applications,
        late_applications: late,
        interviews,
        decisions,
        participants,
        last_scheduler_pass: tick.map(|(_, at)| at),
        next_scheduler_pass: next_pass.map(|(at, _)| at),
        programmes: per_programme,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print(&status);
    }
    Ok(if status.healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print(s: &Status) {
    println!(
        "health:       {}",
        if s.healthy { "OK" } else { "UNHEALTHY" }
    );
    for p in &s.problems {
        println!("  problem:    {p}");
    }
    for w in &s.warnings {
        println!("  warning:    {w}");
    }
    println!(
        "mailbox:      last successful check {}",
        s.last_mailbox_check.as_deref().unwrap_or("never")
    );
    if let Some((e, at)) = &s.last_mailbox_error {
        println!("              last error at {at}: {e}");
    }
    println!(
        "              {} message(s) in the watched folder not done yet",
        s.waiting_in_folder
    );
    println!("messages:     {}", join(&s.messages));
    println!("outbox:       {}", join(&s.outbox));
    println!(
        "scheduler:    last pass {}, next planned {}",
        s.last_scheduler_pass.as_deref().unwrap_or("never"),
        s.next_scheduler_pass.as_deref().unwrap_or("-")
    );
    for p in &s.programmes {
        println!(
            "== {} ({}){} ==",
            p.short_name,
            p.code,
            if p.retired { ", retired" } else { "" }
        );
        println!(
            "applications: {} ({} late)",
            p.applications, p.late_applications
        );
        println!("interviews:   {}", join(&p.interviews));
        println!("decisions:    {}", join(&p.decisions));
        println!("participants: {}", p.participants);
    }
}

/// The problem when the planned pass `next` (value, written at) is overdue
/// by more than `health.scheduler_late_after_secs` at `now`; `tick` is the
/// last finished pass (its clock's value, written at).
fn scheduler_late(
    next: Option<&(String, String)>,
    tick: Option<&(String, String)>,
    h: &crate::config::settings::HealthSettings,
    now: chrono::DateTime<Utc>,
) -> Option<String> {
    let planned = parse_ts(&next?.0)?;
    let late = (now - planned).num_seconds();
    if late <= i64::try_from(h.scheduler_late_after_secs).unwrap_or(i64::MAX) {
        return None;
    }
    Some(format!(
        "the scheduler's pass planned for {} is {} minutes overdue (last pass finished at {}): it \
         is stuck or not running; see the daemon's log",
        next?.0,
        late / 60,
        tick.map_or("never", |(_, at)| at.as_str())
    ))
}

/// `key=count, …`
fn join<K: std::fmt::Display>(v: &[(K, i64)]) -> String {
    v.iter()
        .map(|(k, n)| format!("{k}={n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings::HealthSettings;
    use crate::store::ts;

    #[test]
    fn a_planned_pass_long_overdue_is_a_problem_and_one_in_time_is_not() {
        let h = HealthSettings {
            scheduler_late_after_secs: 600,
            ..HealthSettings::default()
        };
        let now = Utc::now();
        let at = |minutes: i64| (ts(now + chrono::Duration::minutes(minutes)), ts(now));
        let tick = (ts(now), ts(now - chrono::Duration::minutes(30)));
        assert_eq!(scheduler_late(None, Some(&tick), &h, now), None);
        assert_eq!(scheduler_late(Some(&at(5)), Some(&tick), &h, now), None);
        assert_eq!(scheduler_late(Some(&at(-9)), Some(&tick), &h, now), None);
        let late = scheduler_late(Some(&at(-11)), Some(&tick), &h, now).unwrap();
        assert!(late.contains("11 minutes overdue"), "{late}");
        assert!(late.contains(&tick.1), "{late}");
    }
}
