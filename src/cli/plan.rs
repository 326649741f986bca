//! `postbote plan [--json] [--all]`: the timeline of every automated mail
//! still to come, from the same functions the scheduler uses.

use crate::calendar::cron::CronSchedule;
use crate::calendar::{events, german, reminders, timeline};
use crate::config::Config;
use crate::config::programme::EventStatus;
use crate::store::{Store, applications, programme};
use chrono::{Duration, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::process::ExitCode;

#[derive(Debug, Serialize)]
struct Entry {
    when: chrono::DateTime<Utc>,
    when_local: String,
    what: String,
    to: Vec<String>,
    /// upcoming | sent | skipped
    state: String,
}

pub async fn run(config: Config, json: bool, all: bool) -> anyhow::Result<ExitCode> {
    let Config {
        settings,
        programmes,
        ..
    } = config;
    // TODO(part 9): one section per programme.
    let file = programmes.first().clone();
    let store = Store::open_existing(&settings.storage.database).await?;
    let now = Utc::now();
    let roster = reminders::roster(&store).await?;
    let emails: Vec<String> = roster.iter().map(|r| r.email.key()).collect();
    let decided = programme::mail_states(&store).await?;
    let evs = events::effective(&store, &file).await?;
    // One line per event and offset, with its recipients.
    let mut grouped: BTreeMap<(chrono::DateTime<Utc>, String), Entry> = BTreeMap::new();
    // With no participants yet, still show when each reminder would go out.
    let placeholder = vec!["(alle Teilnehmenden)".to_string()];
    let people = if emails.is_empty() {
        &placeholder
    } else {
        &emails
    };
    for d in timeline::reminders(&evs, &settings.reminders, people) {
        let state = match decided.get(&d.key) {
            Some(s) => s.as_str().to_string(),
            None if d.due > now => "upcoming".into(),
            None => "due".into(),
        };
        if !all && state != "upcoming" && state != "due" {
            continue;
        }
        if !all && d.event_start <= now {
            continue;
        }
        let what = format!("Erinnerung {} vorher: {}", d.offset_text, d.title);
        let entry = grouped
            .entry((d.due, format!("{what}|{state}")))
            .or_insert_with(|| Entry {
                when: d.due,
                when_local: german::format_datetime(&d.due),
                what,
                to: Vec::new(),
                state: state.clone(),
            });
        entry.to.push(d.recipient.clone());
    }
    let mut entries: Vec<Entry> = grouped.into_values().collect();
    for e in evs.iter().filter(|e| e.status == EventStatus::Tentative) {
        if all || e.start() > now {
            entries.push(Entry {
                when: e.start(),
                when_local: german::format_datetime(&e.start()),
                what: format!(
                    "{}: unter Vorbehalt – keine Erinnerungen, bis status = \"confirmed\" (dann Ankündigung mit .ics)",
                    e.title
                ),
                to: Vec::new(),
                state: "waiting".into(),
            });
        }
    }
    if settings.digest.enabled {
        let schedule = CronSchedule::parse(&settings.digest.cron)?;
        for t in schedule.between(now, now + Duration::days(7), 10) {
            entries.push(Entry {
                when: t,
                when_local: german::format_datetime(&t),
                what: format!("Übersicht für das Team ({})", schedule.expression()),
                to: settings
                    .staff
                    .notify
                    .iter()
                    .map(|a| a.to_string())
                    .collect(),
                state: "upcoming".into(),
            });
        }
    }
    let days = settings.workflow.incomplete_reminder_days;
    let due = file.deadline_end.with_timezone(&Utc) - Duration::days(i64::from(days));
    if days > 0 && (all || due > now) {
        let open: Vec<String> = applications::incomplete_on_time(&store)
            .await?
            .into_iter()
            .map(|a| a.applicant)
            .collect();
        entries.push(Entry {
            when: due,
            when_local: german::format_datetime(&due),
            what: "Erinnerung an unvollständige Bewerbungen".into(),
            to: open,
            state: if due > now { "upcoming" } else { "due" }.into(),
        });
    }
    entries.sort_by(|a, b| a.when.cmp(&b.when).then_with(|| a.what.cmp(&b.what)));
    let seen: HashSet<&str> = entries
        .iter()
        .flat_map(|e| e.to.iter().map(String::as_str))
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(ExitCode::SUCCESS);
    }
    for e in &entries {
        let to = match e.to.len() {
            0 => String::new(),
            1 => format!(" → {}", e.to[0]),
            n => format!(" → {n} recipients"),
        };
        println!("{:<32} [{:<8}] {}{to}", e.when_local, e.state, e.what);
    }
    println!(
        "{} scheduled mail(s) to {} address(es); {} participant(s) on the roster",
        entries.len(),
        seen.len(),
        roster.len()
    );
    Ok(ExitCode::SUCCESS)
}
