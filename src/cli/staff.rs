//! `postbote interviews`, `postbote decisions` and `postbote participants`:
//! the administrator's side of what staff also do by mail.

use crate::config::{Config, Programme};
use crate::context::App;
use crate::store::{decisions, participants};
use crate::workflow::actions::{ActionError, ActionResult};
use crate::workflow::desk::Desk;
use crate::workflow::interviews::schedule;
use crate::workflow::participants::roster;
use crate::workflow::selection::{self, Outcome, preview};
use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;

/// Who acted, for the decision record.
fn by() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "admin".into())
    )
}

/// The programme a command acts on: `--programme CODE`, or without it the
/// only active one. Err: the refusal (unknown code, or several active).
fn chosen<'a>(app: &'a App, code: Option<&str>) -> Result<&'a Programme, String> {
    app.programmes.pick(code).map_err(|e| e.to_string())
}

/// The desk of the programme the application `reference` belongs to (the
/// first programme's when there is no such application: the workflow then
/// refuses it by name).
async fn desk_of<'a>(
    app: &'a App,
    tx: &mut crate::store::Tx<'_>,
    reference: &str,
) -> anyhow::Result<Desk<'a>> {
    let programme = crate::store::applications::find(tx, reference)
        .await?
        .and_then(|a| app.programmes.get(&a.programme));
    Ok(programme.map_or_else(|| app.desk(), |p| app.desk_for(p)))
}

/// Prints a refusal and exits 1.
fn refused(why: &str) -> anyhow::Result<ExitCode> {
    eprintln!("refused: {why}");
    Ok(ExitCode::from(1))
}

/// Prints a refusal and exits 1; storage errors propagate (exit 2).
fn report(result: ActionResult<String>) -> anyhow::Result<ExitCode> {
    match result {
        Ok(done) => {
            println!("{done}");
            Ok(ExitCode::SUCCESS)
        }
        Err(ActionError::Refused(why)) => {
            eprintln!("refused: {why}");
            Ok(ExitCode::from(1))
        }
        Err(ActionError::Storage(e)) => Err(e),
    }
}

pub async fn plan(config: Config, json: bool, code: Option<String>) -> anyhow::Result<ExitCode> {
    let app = App::read_only(config).await?;
    let programme = match chosen(&app, code.as_deref()) {
        Ok(p) => p,
        Err(why) => return refused(&why),
    };
    let mut tx = app.store.begin().await?;
    let schedule = schedule::current(&app.desk_for(programme), &mut tx).await?;
    tx.rollback().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&schedule)?);
    } else {
        for line in schedule.lines() {
            println!("{line}");
        }
        println!(
            "{} planned, {} without slot, {} not planned",
            schedule.plan.assigned.len(),
            schedule.plan.unplaced.len(),
            schedule.skipped.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn release_invitations(config: Config, code: Option<String>) -> anyhow::Result<ExitCode> {
    let app = App::for_command(config).await?;
    let programme = match chosen(&app, code.as_deref()) {
        Ok(p) => p,
        Err(why) => return refused(&why),
    };
    let mut tx = app.store.begin().await?;
    let desk = app.desk_for(programme);
    let result = schedule::release(&desk, &mut tx).await.map(|r| {
        let mut text = format!(
            "invited: {} ({} mails queued)",
            r.invited.join(", "),
            r.mails
        );
        for w in &r.without_slot {
            text.push_str(&format!("\nwithout slot: {w}"));
        }
        text
    });
    finish(tx, result).await
}

pub async fn move_interview(
    config: Config,
    reference: &str,
    date: &str,
    time: &str,
) -> anyhow::Result<ExitCode> {
    let Some(local) = schedule::parse_local(date, time) else {
        eprintln!("refused: write the date as 2026-06-30 or 30.06.2026 and the time as 10:00");
        return Ok(ExitCode::from(1));
    };
    let app = App::for_command(config).await?;
    let mut tx = app.store.begin().await?;
    let desk = desk_of(&app, &mut tx, reference).await?;
    let result = schedule::move_to(&desk, &mut tx, reference, local).await;
    finish(tx, result).await
}

/// `postbote applications link REF ADDRESS`: mail from the address may change
/// the application (as the mail command VERKNÜPFEN).
pub async fn link_address(
    config: Config,
    reference: &str,
    address: &str,
) -> anyhow::Result<ExitCode> {
    let app = App::for_command(config).await?;
    let mut tx = app.store.begin().await?;
    let result = crate::workflow::ownership::link(&mut tx, reference, address, &by()).await;
    finish(tx, result).await
}

/// `postbote applications merge DUP --into REF` (as ZUSAMMENFÜHREN DUP IN
/// REF): prints what was done and the notes staff would get in the reply.
pub async fn merge(config: Config, dup: &str, into: &str) -> anyhow::Result<ExitCode> {
    let app = App::for_command(config).await?;
    let mut tx = app.store.begin().await?;
    let result = crate::workflow::ownership::merge(&mut tx, dup, into, &by())
        .await
        .map(|(done, notes)| {
            let mut lines = vec![done];
            lines.extend(notes);
            lines.join("\n")
        });
    finish(tx, result).await
}

/// `postbote applications keep DUP` (as BEHALTEN DUP).
pub async fn keep(config: Config, dup: &str) -> anyhow::Result<ExitCode> {
    let app = App::for_command(config).await?;
    let mut tx = app.store.begin().await?;
    let result = crate::workflow::ownership::keep(&mut tx, dup).await;
    finish(tx, result).await
}

/// `postbote applications confirm-address|reject-address REF` (as ADRESSE
/// BESTÄTIGEN|ABLEHNEN REF).
pub async fn decide_address(
    config: Config,
    reference: &str,
    confirm: bool,
) -> anyhow::Result<ExitCode> {
    let app = App::for_command(config).await?;
    let mut tx = app.store.begin().await?;
    let result = crate::workflow::ownership::decide_held(&mut tx, reference, confirm, &by()).await;
    finish(tx, result).await
}

pub async fn cancel_interview(config: Config, reference: &str) -> anyhow::Result<ExitCode> {
    let app = App::for_command(config).await?;
    let mut tx = app.store.begin().await?;
    let desk = desk_of(&app, &mut tx, reference).await?;
    let result = schedule::cancel(&desk, &mut tx, reference).await;
    finish(tx, result).await
}

/// Commits on success, rolls back on refusal.
async fn finish(
    tx: crate::store::Tx<'static>,
    result: ActionResult<String>,
) -> anyhow::Result<ExitCode> {
    if result.is_ok() {
        tx.commit().await.context("cannot commit")?;
    } else {
        tx.rollback().await?;
    }
    report(result)
}

pub async fn decide(
    config: Config,
    reference: &str,
    outcome: &str,
    persons: u8,
    correction: bool,
) -> anyhow::Result<ExitCode> {
    let Some(outcome) = Outcome::from_words(outcome) else {
        eprintln!("refused: the outcome is accept, reject or waitlist");
        return Ok(ExitCode::from(1));
    };
    let app = App::for_command(config).await?;
    let mut tx = app.store.begin().await?;
    let desk = desk_of(&app, &mut tx, reference).await?;
    let result = if correction {
        selection::correct(&desk, &mut tx, reference, outcome, persons, &by()).await
    } else {
        selection::decide(&desk, &mut tx, reference, outcome, persons, &by()).await
    };
    finish(tx, result).await
}

pub async fn list_decisions(config: Config, json: bool) -> anyhow::Result<ExitCode> {
    let app = App::read_only(config).await?;
    let rows = decisions::all(&app.store).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for d in &rows {
            println!(
                "application {:<5} {:<9} persons {} revision {} notice {:<8} by {}",
                d.application_id, d.outcome, d.persons, d.revision, d.notice, d.decided_by
            );
        }
        println!("{} decision(s)", rows.len());
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn preview_notices(
    config: Config,
    json: bool,
    code: Option<String>,
) -> anyhow::Result<ExitCode> {
    let app = App::read_only(config).await?;
    let programme = match chosen(&app, code.as_deref()) {
        Ok(p) => p,
        Err(why) => return refused(&why),
    };
    let mut tx = app.store.begin().await?;
    let held = preview::held(&app.desk_for(programme), &mut tx).await?;
    tx.rollback().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&held)?);
    } else {
        print!("{}", preview::render(&held));
    }
    Ok(ExitCode::SUCCESS)
}

/// Without `--yes` only the preview is printed: release is a deliberate act.
pub async fn release_notices(
    config: Config,
    yes: bool,
    code: Option<String>,
) -> anyhow::Result<ExitCode> {
    let app = App::for_command(config).await?;
    let programme = match chosen(&app, code.as_deref()) {
        Ok(p) => p,
        Err(why) => return refused(&why),
    };
    let desk = app.desk_for(programme);
    let mut tx = app.store.begin().await?;
    let held = preview::held(&desk, &mut tx).await?;
    print!("{}", preview::render(&held));
    if !yes {
        tx.rollback().await?;
        println!("\nNothing sent. Re-run with --yes to release these notices.");
        return Ok(ExitCode::from(1));
    }
    let result = selection::release(&desk, &mut tx).await.map(|r| {
        let mut text = format!(
            "released {} notice(s); {} participant(s) on the roster",
            r.notices, r.participants
        );
        for line in &r.to_complete {
            text.push_str(&format!("\nto complete: {line}"));
        }
        text
    });
    finish(tx, result).await
}

pub async fn list_participants(config: Config, json: bool) -> anyhow::Result<ExitCode> {
    let app = App::read_only(config).await?;
    let rows = participants::list(&app.store).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for p in &rows {
            println!(
                "{:<8} {:<30} {:<28} {:<36} {:<11} {:<9} {}",
                p.programme,
                p.municipality,
                p.name.as_deref().unwrap_or(""),
                p.email,
                p.role,
                p.source,
                if p.active { "" } else { "inactive" }
            );
        }
        println!("{} person(s)", rows.iter().filter(|p| p.active).count());
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn import_participants(
    config: Config,
    file: &Path,
    code: Option<String>,
) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let app = App::for_command(config).await?;
    let programme = match chosen(&app, code.as_deref()) {
        Ok(p) => p,
        Err(why) => return refused(&why),
    };
    match roster::import(
        &app.desk_for(programme),
        &app.store,
        app.clock.now(),
        &bytes,
    )
    .await
    {
        Ok(n) => {
            println!("imported {n} person(s)");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e:#}");
            Ok(ExitCode::from(1))
        }
    }
}
