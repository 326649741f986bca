//! `postbote applications` and `postbote outbox`.

use crate::config::Config;
use crate::store::{Store, applications, documents, outbox, ownership};
use std::process::ExitCode;

/// `postbote applications [--programme CODE]`: every application, or one
/// programme's.
pub async fn applications(config: &Config, json: bool, only: Option<&str>) -> anyhow::Result<()> {
    let only = match only {
        Some(code) => Some(config.programmes.pick(Some(code))?.code.clone()),
        None => None,
    };
    let store = Store::open_existing(&config.settings.storage.database).await?;
    let rows: Vec<applications::Application> = applications::list(&store)
        .await?
        .into_iter()
        .filter(|a| only.as_ref().is_none_or(|c| *c == a.programme))
        .collect();
    let links = ownership::all_links(&store).await?;
    let held: std::collections::HashMap<i64, i64> =
        ownership::held_counts(&store).await?.into_iter().collect();
    if json {
        #[derive(serde::Serialize)]
        struct Row<'a> {
            #[serde(flatten)]
            application: &'a applications::Application,
            linked: Vec<&'a str>,
            held_address_changes: i64,
        }
        let out: Vec<Row> = rows
            .iter()
            .map(|a| Row {
                application: a,
                linked: links
                    .iter()
                    .filter(|l| l.application_id == a.id)
                    .map(|l| l.address.as_str())
                    .collect(),
                held_address_changes: held.get(&a.id).copied().unwrap_or(0),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{:<10} {:<36} {:<10} {:<5} {:>5}  {:<20} notes",
        "reference", "applicant", "documents", "late", "mails", "received (UTC)"
    );
    let reference_of = |id: i64| {
        rows.iter()
            .find(|r| r.id == id)
            .map(|r| r.reference.clone())
            .unwrap_or_else(|| id.to_string())
    };
    for a in &rows {
        let mut notes = Vec::new();
        if let Some(d) = &a.duplicate_of_reference {
            notes.push(format!("possible duplicate of {d}"));
        }
        if let Some(m) = a.merged_into {
            notes.push(format!("merged into {}", reference_of(m)));
        }
        for l in links.iter().filter(|l| l.application_id == a.id) {
            notes.push(format!("linked {}", l.address));
        }
        if let Some(n) = held.get(&a.id) {
            notes.push(format!("{n} address change(s) held"));
        }
        println!(
            "{:<10} {:<36} {:<10} {:<5} {:>5}  {:<20} {}",
            a.reference,
            a.owner,
            if a.complete { "complete" } else { "incomplete" },
            if a.late { "LATE" } else { "" },
            a.message_count,
            &a.received_at[..a.received_at.len().min(19)],
            notes.join("; ")
        );
    }
    println!("{} application(s)", rows.len());
    Ok(())
}

pub async fn outbox(config: &Config, json: bool) -> anyhow::Result<()> {
    let store = Store::open_existing(&config.settings.storage.database).await?;
    let rows = outbox::list(&store).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    print_outbox(&rows);
    Ok(())
}

/// `postbote outbox retry ID|--failed`.
pub async fn outbox_retry(config: &Config, pick: outbox::Pick) -> anyhow::Result<ExitCode> {
    let store = Store::open_existing(&config.settings.storage.database).await?;
    let n = outbox::requeue(&store, pick).await?;
    if n == 0
        && let outbox::Pick::One(id) = pick
    {
        return refuse(&store, id, "only failed or expired mail can be retried").await;
    }
    println!("{n} mail(s) queued again; the daemon sends them within seconds");
    Ok(ExitCode::SUCCESS)
}

/// `postbote outbox ack ID|--all`.
pub async fn outbox_ack(config: &Config, pick: outbox::Pick) -> anyhow::Result<ExitCode> {
    let store = Store::open_existing(&config.settings.storage.database).await?;
    let n = outbox::acknowledge(&store, pick).await?;
    if n == 0
        && let outbox::Pick::One(id) = pick
    {
        return refuse(
            &store,
            id,
            "only failed mail not acknowledged yet can be acknowledged",
        )
        .await;
    }
    println!("{n} failed mail(s) acknowledged");
    Ok(ExitCode::SUCCESS)
}

/// Says why mail `id` was not touched; exit 1.
async fn refuse(store: &Store, id: i64, rule: &str) -> anyhow::Result<ExitCode> {
    match outbox::state_of(store, id).await? {
        Some(state) => eprintln!("refused: mail {id} is {state}: {rule}"),
        None => eprintln!("refused: there is no mail {id}"),
    }
    Ok(ExitCode::from(1))
}

pub fn print_outbox(rows: &[outbox::OutboxEntry]) {
    println!(
        "{:>4} {:<11} {:<24} {:<34} {:>3}  subject",
        "id", "state", "purpose", "to", "try"
    );
    for r in rows {
        println!(
            "{:>4} {:<11} {:<24} {:<34} {:>3}  {}",
            r.id, r.state, r.purpose, r.env_to, r.attempts, r.subject
        );
        if let Some(e) = &r.last_error {
            println!("     last error: {e}");
        }
    }
    println!("{} mail(s)", rows.len());
}

/// `postbote applications show ID`.
pub async fn show_application(config: &Config, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let store = Store::open_existing(&config.settings.storage.database).await?;
    let Some(app) = applications::list(&store)
        .await?
        .into_iter()
        .find(|a| a.reference.eq_ignore_ascii_case(id) || a.id.to_string() == id)
    else {
        eprintln!("no application {id}");
        return Ok(ExitCode::from(2));
    };
    let (docs, facts) = documents::list(&store, app.id).await?;
    let links = crate::store::ownership::links_of(&store, app.id).await?;
    let held = crate::store::ownership::held_of(&store, app.id).await?;
    let merged_into = match app.merged_into {
        Some(id) => applications::list(&store)
            .await?
            .into_iter()
            .find(|a| a.id == id)
            .map(|a| a.reference),
        None => None,
    };
    if json {
        let v = serde_json::json!({
            "application": app,
            "documents": docs,
            "facts": facts,
            "linked_addresses": links,
            "held_address_changes": held,
            "merged_into_reference": merged_into,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}  {}", app.reference, app.applicant);
    println!(
        "  municipality: {}",
        app.municipality.as_deref().unwrap_or("(not read)")
    );
    println!(
        "  received:     {} (UTC){}",
        app.received_at,
        if app.late { "  LATE" } else { "" }
    );
    println!(
        "  complete:     {}",
        if app.complete { "yes" } else { "no" }
    );
    println!("  mails:        {}", app.message_count);
    println!("  owner:        {}", app.owner);
    if let Some(into) = &merged_into {
        println!("  MERGED into {into}");
    }
    if let Some(original) = &app.duplicate_of_reference {
        println!(
            "  POSSIBLE DUPLICATE of {original}: resolve with `postbote applications merge {r} --into {original}` \
             or `postbote applications keep {r}` (by mail: ZUSAMMENFÜHREN {r} IN {original} / BEHALTEN {r})",
            r = app.reference
        );
    }
    println!("linked addresses:");
    if links.is_empty() {
        println!("  (none)");
    }
    for l in &links {
        println!(
            "  {}  (linked by {} at {})",
            l.address, l.linked_by, l.created_at
        );
    }
    if !held.is_empty() {
        println!(
            "held address changes (in use only once confirmed: `postbote applications confirm-address {r}` \
             or `reject-address {r}`; by mail ADRESSE BESTÄTIGEN/ABLEHNEN {r}):",
            r = app.reference
        );
        for h in &held {
            println!(
                "  {:<18} {} (was: {})",
                h.field,
                h.new_value,
                h.old_value.as_deref().unwrap_or("none")
            );
        }
    }
    println!("documents:");
    for d in &docs {
        let state = match (&d.problem, d.superseded_by) {
            (_, Some(by)) => format!("superseded by #{by}"),
            (Some(p), None) => format!("NEEDS A HUMAN: {p}"),
            (None, None) => "read".to_string(),
        };
        let pages = d
            .pages
            .map(|p| format!(", {p} page(s)"))
            .unwrap_or_default();
        println!(
            "  #{:<4} {:<13} {:<5} {}{pages}  [{state}]",
            d.id, d.role, d.format, d.name
        );
        if let Some(json) = &d.extracted
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(json)
        {
            for f in v["fields"].as_array().into_iter().flatten() {
                println!(
                    "         field {} = {}",
                    f["name"].as_str().unwrap_or(""),
                    f["value"].as_str().unwrap_or("")
                );
            }
            for c in v["checkboxes"].as_array().into_iter().flatten() {
                let mark = if c["checked"].as_bool().unwrap_or(false) {
                    "[x]"
                } else {
                    "[ ]"
                };
                let page = c["place"]["page"]
                    .as_u64()
                    .map(|p| format!(", page {p}"))
                    .unwrap_or_default();
                println!(
                    "         {mark} {} ({}{page})",
                    c["label"].as_str().unwrap_or(""),
                    c["kind"].as_str().unwrap_or("")
                );
            }
        }
    }
    println!("facts (value, confidence, source):");
    for f in &facts {
        println!(
            "  {:<22} {:<14} {:<6} {}",
            f.name, f.value, f.confidence, f.source
        );
    }
    Ok(ExitCode::SUCCESS)
}
