//! `postbote plan [--json] [--all] [--programme CODE]`: the timeline of
//! every automated mail still to come, from the same functions the
//! scheduler uses; one section per programme.

use crate::calendar::cron::CronSchedule;
use crate::calendar::{events, german, reminders, timeline};
use crate::config::programme::EventStatus;
use crate::config::settings::Settings;
use crate::config::{Config, Programme};
use crate::store::{Store, applications, programme};
use chrono::{Duration, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::process::ExitCode;

#[derive(Debug, Serialize)]
struct Entry {
    /// The programme's code; None for what belongs to none (the digest).
    programme: Option<String>,
    when: chrono::DateTime<Utc>,
    when_local: String,
    what: String,
    to: Vec<String>,
    /// upcoming | sent | skipped
    state: String,
}

pub async fn run(
    config: Config,
    json: bool,
    all: bool,
    only: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let Config {
        settings,
        programmes,
        ..
    } = config;
    let chosen: Vec<&Programme> = match only {
        Some(code) => vec![programmes.pick(Some(code))?],
        None => programmes.iter().collect(),
    };
    let store = Store::open_existing(&settings.storage.database).await?;
    let legacy = crate::store::programmes::legacy(&store).await?;
    let now = Utc::now();
    let mut entries = Vec::new();
    let mut on_roster = 0;
    for file in chosen {
        let scope = crate::store::programmes::key_scope(&file.code, legacy.as_deref());
        let (mut mine, n) = programme_entries(&store, &settings, file, &scope, now, all).await?;
        on_roster += n;
        entries.append(&mut mine);
    }
    if settings.digest.enabled {
        let schedule = CronSchedule::parse(&settings.digest.cron)?;
        for t in schedule.between(now, now + Duration::days(7), 10) {
            entries.push(Entry {
                programme: None,
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
    entries.sort_by(|a, b| a.when.cmp(&b.when).then_with(|| a.what.cmp(&b.what)));
    let seen: HashSet<&str> = entries
        .iter()
        .flat_map(|e| e.to.iter().map(String::as_str))
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(ExitCode::SUCCESS);
    }
    // One section per programme, then what belongs to none (the digest).
    let mut sections: Vec<Option<&str>> = programmes
        .iter()
        .map(|p| Some(p.code.as_str()))
        .filter(|c| entries.iter().any(|e| e.programme.as_deref() == *c))
        .collect();
    sections.push(None);
    for section in sections {
        let mine: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.programme.as_deref() == section)
            .collect();
        if mine.is_empty() {
            continue;
        }
        match section.and_then(|c| programmes.get(c)) {
            Some(p) => println!(
                "== {} ({}){} ==",
                p.short_name,
                p.code,
                if p.retired { ", retired" } else { "" }
            ),
            None => println!("== all programmes =="),
        }
        for e in mine {
            let to = match e.to.len() {
                0 => String::new(),
                1 => format!(" → {}", e.to[0]),
                n => format!(" → {n} recipients"),
            };
            println!("{:<32} [{:<8}] {}{to}", e.when_local, e.state, e.what);
        }
    }
    println!(
        "{} scheduled mail(s) to {} address(es); {on_roster} participant(s) on the roster",
        entries.len(),
        seen.len(),
    );
    Ok(ExitCode::SUCCESS)
}

/// The entries of one programme (none for a retired one: it sends nothing
/// more), and how many participants its roster has.
async fn programme_entries(
    store: &Store,
    settings: &Settings,
    file: &Programme,
    scope: &str,
    now: chrono::DateTime<Utc>,
    all: bool,
) -> anyhow::Result<(Vec<Entry>, usize)> {
    let roster = reminders::roster(store, &file.code).await?;
    if file.retired {
        return Ok((Vec::new(), roster.len()));
    }
    let emails: Vec<String> = roster.iter().map(|r| r.email.key()).collect();
    let decided = programme::mail_states(store, &file.code).await?;
    let evs = events::effective(store, file).await?;
    let code = Some(file.code.clone());
    // One line per event and offset, with its recipients.
    let mut grouped: BTreeMap<(chrono::DateTime<Utc>, String), Entry> = BTreeMap::new();
    // With no participants yet, still show when each reminder would go out.
    let placeholder = vec!["(alle Teilnehmenden)".to_string()];
    let people = if emails.is_empty() {
        &placeholder
    } else {
        &emails
    };
    for d in timeline::scoped_reminders(scope, &evs, &settings.reminders, people) {
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
                programme: code.clone(),
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
                programme: code.clone(),
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
    let days = settings.workflow.incomplete_reminder_days;
    let due = file.deadline_end.with_timezone(&Utc) - Duration::days(i64::from(days));
    if days > 0 && (all || due > now) {
        let open: Vec<String> = applications::incomplete_on_time_in(store, &file.code)
            .await?
            .into_iter()
            .map(|a| a.applicant)
            .collect();
        entries.push(Entry {
            programme: code.clone(),
            when: due,
            when_local: german::format_datetime(&due),
            what: "Erinnerung an unvollständige Bewerbungen".into(),
            to: open,
            state: if due > now { "upcoming" } else { "due" }.into(),
        });
    }
    Ok((entries, roster.len()))
}
