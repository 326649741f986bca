//! Carries out an authenticated staff command mail in the transaction of the
//! message, and answers it: what was done, or why not. A mail that fails
//! authentication changes nothing and is reported to staff.

use super::parse::{Ownership, Privacy};
use super::{Command, Outcome, Parsed, Policy, Verdict, Via, authenticate, parse};
use crate::calendar::events;
use crate::calendar::german;
use crate::config::programme::EventStatus;
use crate::domain::EmailAddress;
use crate::intake::Incoming;
use crate::outbox::compose::FileAttachment;
use crate::outbox::{Answering, Cap, Letter};
use crate::store::Tx;
use crate::store::applications;
use crate::store::commands::{self, NewCommand};
use crate::store::privacy::{self as requests, Kind};
use crate::store::welcome as welcome_store;
use crate::workflow::actions::{ActionError, ActionResult};
use crate::workflow::desk::Desk;
use crate::workflow::interviews::schedule;
use crate::workflow::participants::{roster, welcome};
use crate::workflow::selection::{self, preview};
use crate::workflow::{mails, notices, overview, ownership};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

/// The commands of a staff mail, if it is meant as a command mail at all: it
/// names a command, carries the secret, or says so in the subject. Other
/// staff mail (a forwarded application, a question) stays for humans.
pub fn command_mail(mail: &Incoming) -> Option<Parsed> {
    let parsed = parse(&mail.body_start);
    let subject = mail.subject.to_lowercase();
    let meant = !parsed.commands.is_empty()
        || parsed.secret.is_some()
        || subject.contains("befehl")
        || subject.starts_with("postbote");
    meant.then_some(parsed)
}

fn via_text(via: Via) -> &'static str {
    match via {
        Via::Dkim => "DKIM",
        Via::Spf => "SPF",
        Via::Secret => "Kennwort",
    }
}

/// How far in the future a command mail's Date may lie (clocks drift).
const MAX_FUTURE_MINUTES: i64 = 10;

/// What intake knows about a command mail beyond its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// When the mailbox received it (IMAP INTERNALDATE): a replayed mail
    /// arrives anew, its Date stays old.
    pub received: DateTime<Utc>,
    /// It carried the right secret, checked before the stored bytes were
    /// masked ([`crate::intake::mask`]).
    pub secret_verified: bool,
    /// The scheduler's clock when the mail is handled (the wall clock, or a
    /// test's hand-set one): which events are still to come.
    pub now: DateTime<Utc>,
}

/// Whether the mail's Date is within `staff.command_max_age_hours` before
/// its arrival and not more than [`MAX_FUTURE_MINUTES`] after; the German
/// reason when not.
pub fn fresh(mail: &Incoming, received: DateTime<Utc>, max_age_hours: u64) -> Result<(), String> {
    let Some(date) = mail
        .header("date")
        .and_then(|d| mail_parser::DateTime::parse_rfc822(d.trim()))
        .and_then(|d| DateTime::<Utc>::from_timestamp(d.to_timestamp(), 0))
    else {
        return Err(
            "Die Mail hat kein lesbares Datum (Date); Befehle werden nur aus aktuellen Mails \
             ausgeführt."
                .into(),
        );
    };
    let max_age = chrono::Duration::hours(i64::try_from(max_age_hours).unwrap_or(i64::MAX / 4));
    if date < received - max_age {
        return Err(format!(
            "Die Mail ist vom {}, älter als {max_age_hours} Stunden; alte oder erneut \
             zugestellte Befehle werden nicht ausgeführt. Bitte senden Sie eine neue Mail.",
            date.format("%d.%m.%Y %H:%M UTC")
        ));
    }
    if date > received + chrono::Duration::minutes(MAX_FUTURE_MINUTES) {
        return Err(format!(
            "Das Datum der Mail ({}) liegt in der Zukunft; die Befehle wurden nicht ausgeführt.",
            date.format("%d.%m.%Y %H:%M UTC")
        ));
    }
    Ok(())
}

/// Handles one command mail from a staff address (see [`command_mail`]).
/// Returns whether the mail is to be deleted from the mailbox: it was
/// authenticated (executed, or refused as stale) or carries a secret line.
pub async fn handle(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    row: i64,
    mail: &Incoming,
    parsed: &Parsed,
    arrival: Arrival,
) -> anyhow::Result<bool> {
    let Some(sender) = mail.from.clone() else {
        return Ok(false);
    };
    let staff = &desk.settings.staff;
    // NOTE: the stored bytes show `Kennwort: ********`; the check of the
    // real secret was made before masking.
    let body_secret = if arrival.secret_verified {
        staff.command_secret.as_ref().map(|s| s.expose_secret())
    } else {
        parsed.secret.as_deref()
    };
    let verdict = authenticate(
        mail,
        &Policy::of(staff),
        staff.command_secret.as_ref(),
        body_secret,
    );
    let delete = parsed.secret.is_some() || matches!(verdict, Verdict::Authenticated(_));
    let verdict = match verdict {
        Verdict::Authenticated(via) => {
            match fresh(mail, arrival.received, staff.command_max_age_hours) {
                Ok(()) => Verdict::Authenticated(via),
                Err(reason) => Verdict::Rejected(reason),
            }
        }
        rejected => rejected,
    };
    let via = match verdict {
        Verdict::Rejected(reason) => {
            tracing::warn!(sender = %sender, %reason, "staff command rejected: not authenticated");
            record(tx, row, &sender, None, &format!("rejected: {reason}")).await?;
            let lines = vec![
                format!("Absender: {sender}"),
                format!("Betreff: {}", mail.subject),
                format!("Grund: {reason}"),
            ];
            let intro = "postbote hat eine Nachricht mit Befehlen abgelehnt und nichts verändert. \
                         War sie von Ihnen, senden Sie sie bitte mit der Zeile \"Kennwort: …\" erneut.";
            notices::staff(
                desk,
                tx,
                &format!("staff-command-rejected:{row}"),
                "Befehl abgelehnt",
                intro,
                &lines,
                "",
            )
            .await?;
            if !staff.notify.iter().any(|n| n.key() == sender.key()) {
                notices::staff_to(
                    desk,
                    tx,
                    &sender,
                    &format!("staff-command-rejected:{row}:sender"),
                    "Befehl abgelehnt",
                    intro,
                    &lines,
                )
                .await?;
            }
            return Ok(delete);
        }
        Verdict::Authenticated(via) => via,
    };
    let reply = reply_desk(desk, tx, &parsed.commands).await?;
    let mut result = mails::CommandResult {
        short_name: reply.staff_label(),
        authenticated_via: via_text(via).into(),
        done: Vec::new(),
        refused: parsed
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.line, e.reason))
            .collect(),
        details: Vec::new(),
    };
    if parsed.commands.is_empty() && result.refused.is_empty() {
        result
            .refused
            .push("Kein Befehl gefunden (eine Zeile je Befehl, am Anfang der Nachricht).".into());
    }
    let by = format!("mail:{sender}");
    for command in &parsed.commands {
        let outcome = match command {
            Command::Privacy(p) => run_privacy(tx, p, row, &sender, &mut result.details).await,
            Command::Overview { programme } => {
                let asked = Asked {
                    row,
                    sender: &sender,
                    mail,
                    at: arrival.received,
                };
                run_overview(desk, tx, programme.as_deref(), &asked, &mut result.details).await
            }
            Command::Welcome { programme } | Command::ImportRoster { programme } => {
                run_takeover(desk, tx, command, programme.as_deref(), row, arrival.now)
                    .await
                    .map(|(done, details)| {
                        result.details.extend(details);
                        done
                    })
            }
            _ => run(desk, tx, command, &by, &mut result.details).await,
        };
        match outcome {
            Ok(done) => result.done.push(done),
            Err(ActionError::Refused(why)) => result
                .refused
                .push(format!("{}: {why}", command.describe())),
            Err(ActionError::Storage(e)) => return Err(e),
        }
    }
    let summary = format!(
        "via {}: done [{}]; refused [{}]",
        via_text(via),
        result.done.join("; "),
        result.refused.join("; ")
    );
    tracing::info!(sender = %sender, %summary, "staff command handled");
    record(tx, row, &sender, Some(via), &summary).await?;
    let letter = Letter {
        answering: Some(Answering {
            message_id: mail.message_id.as_deref(),
            references: &mail.references,
        }),
        ..Letter::new(
            "staff_command_result",
            format!("staff-command:{row}"),
            None,
            &sender,
        )
    };
    reply
        .mailer
        .queue(tx, letter, &result, Cap::ToStaff)
        .await?;
    Ok(delete)
}

/// The desk a command reply is written with: that of the one programme its
/// commands act on (named by code or by an application's reference, or the
/// only active one where the code may be left out), else `desk` (neutral
/// with several programmes: HILFE, commands for two programmes, a code
/// that names none).
async fn reply_desk<'a>(
    desk: &Desk<'a>,
    tx: &mut Tx<'_>,
    commands: &[Command],
) -> anyhow::Result<Desk<'a>> {
    let mut meant = std::collections::BTreeSet::new();
    for command in commands {
        let programme = match (command.scope(), command.reference()) {
            (Some(Some(code)), _) => desk.programmes.get(code),
            (Some(None), _) => desk.resolve_programme(None).ok(),
            (None, Some(reference)) => applications::find(tx, reference)
                .await?
                .and_then(|a| desk.programmes.get(&a.programme)),
            (None, None) => None,
        };
        match programme {
            Some(p) => {
                meant.insert(p.code.as_str());
            }
            None => return Ok(*desk),
        }
    }
    let mut meant = meant.into_iter();
    Ok(match (meant.next(), meant.next()) {
        (Some(code), None) => desk
            .programmes
            .get(code)
            .map_or(*desk, |p| desk.for_programme(p)),
        _ => *desk,
    })
}

/// The desk of the programme a command names, or of the only active one;
/// refused (with the codes) when the code is unknown or several are active.
fn programme_desk<'a>(desk: &Desk<'a>, code: &Option<String>) -> ActionResult<Desk<'a>> {
    desk.resolve_programme(code.as_deref())
        .map(|p| desk.for_programme(p))
        .map_err(ActionError::Refused)
}

/// The desk of the programme application `reference` belongs to (the
/// given desk when there is no such application: the workflow refuses it).
async fn application_desk<'a>(
    desk: &Desk<'a>,
    tx: &mut Tx<'_>,
    reference: &str,
) -> ActionResult<Desk<'a>> {
    let programme = applications::find(tx, reference)
        .await?
        .and_then(|a| desk.programmes.get(&a.programme));
    Ok(programme.map_or(*desk, |p| desk.for_programme(p)))
}

async fn run(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    command: &Command,
    by: &str,
    details: &mut Vec<String>,
) -> ActionResult<String> {
    let outcome = |o: Outcome| match o {
        Outcome::Accept => selection::Outcome::Accept,
        Outcome::Reject => selection::Outcome::Reject,
        Outcome::Waitlist => selection::Outcome::Waitlist,
    };
    // A command on one application acts with the desk of its programme.
    let by_reference;
    let desk = match command.reference() {
        Some(reference) => {
            by_reference = application_desk(desk, tx, reference).await?;
            &by_reference
        }
        None => desk,
    };
    match command {
        Command::ShowPlan { programme } => {
            let desk = &programme_desk(desk, programme)?;
            let s = schedule::current(desk, tx).await?;
            details.push("Gesprächsplan:".into());
            details.extend(s.lines());
            Ok(format!(
                "Plan: {} Gespräche, {} ohne Termin",
                s.plan.assigned.len(),
                s.plan.unplaced.len()
            ))
        }
        Command::ReleaseInvitations { programme } => {
            let desk = &programme_desk(desk, programme)?;
            let r = schedule::release(desk, tx).await?;
            details.extend(r.without_slot.iter().map(|w| format!("Ohne Termin: {w}")));
            Ok(format!(
                "Einladungen freigegeben: {} Gespräch(e), {} E-Mail(s)",
                r.invited.len(),
                r.mails
            ))
        }
        Command::Preview { programme } => {
            let desk = &programme_desk(desk, programme)?;
            let held = preview::held(desk, tx).await?;
            details.push(preview::render(&held));
            Ok(format!("Vorschau: {} Bescheid(e) warten", held.len()))
        }
        Command::ReleaseNotices { programme } => {
            let desk = &programme_desk(desk, programme)?;
            let r = selection::release(desk, tx).await?;
            details.extend(r.to_complete.iter().cloned());
            Ok(format!(
                "Bescheide freigegeben: {}; {} Person(en) in der Teilnehmendenliste",
                r.notices, r.participants
            ))
        }
        Command::Accept { reference, persons } => {
            selection::decide(
                desk,
                tx,
                reference,
                selection::Outcome::Accept,
                *persons,
                by,
            )
            .await
        }
        Command::Reject { reference } => {
            selection::decide(desk, tx, reference, selection::Outcome::Reject, 1, by).await
        }
        Command::Waitlist { reference } => {
            selection::decide(desk, tx, reference, selection::Outcome::Waitlist, 1, by).await
        }
        Command::Correct {
            outcome: o,
            reference,
            persons,
        } => selection::correct(desk, tx, reference, outcome(*o), *persons, by).await,
        Command::Move {
            reference,
            date,
            time,
        } => schedule::move_to(desk, tx, reference, date.and_time(*time)).await,
        Command::CancelInterview { reference } => schedule::cancel(desk, tx, reference).await,
        Command::ConfirmEvent { event, programme } => {
            let p = programme_desk(desk, programme)?.programme;
            events::set_status(p, tx, event, EventStatus::Confirmed, by).await
        }
        Command::CancelEvent { event, programme } => {
            let p = programme_desk(desk, programme)?.programme;
            events::set_status(p, tx, event, EventStatus::Cancelled, by).await
        }
        Command::Help => {
            details.extend(super::parse::help_lines());
            Ok(format!(
                "Liste der Befehle gesendet ({} Befehle)",
                super::parse::COMMANDS.len()
            ))
        }
        // NOTE: `handle` runs it through `run_overview`; never reached.
        Command::Overview { .. } => Err(ActionError::Refused("Nicht ausgeführt.".into())),
        Command::Ownership(o) => run_ownership(tx, o, by, details).await,
        Command::Route { message, programme } => {
            crate::workflow::applications::route(tx, *message, programme).await
        }
        // NOTE: `handle` runs these through `run_privacy`, which needs the
        // mail's row and sender; never reached.
        Command::Privacy(_) | Command::Welcome { .. } | Command::ImportRoster { .. } => {
            Err(ActionError::Refused("Nicht ausgeführt.".into()))
        }
    }
}

/// TERMINÜBERSICHT SENDEN and TEILNEHMER IMPORT: the done line and the
/// details for the reply. The import reads the CSV attached to the mail
/// (stored message `row`).
async fn run_takeover(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    command: &Command,
    code: Option<&str>,
    row: i64,
    now: DateTime<Utc>,
) -> ActionResult<(String, Vec<String>)> {
    let desk = &programme_desk(desk, &code.map(str::to_string))?;
    match command {
        Command::Welcome { .. } => {
            let report = welcome::send(desk, tx, now).await?;
            Ok((report.summary(), report.details()))
        }
        _ => import_roster(desk, tx, row, now).await,
    }
}

/// TEILNEHMER IMPORT: exactly one CSV attached; all rows or none.
async fn import_roster(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    row: i64,
    now: DateTime<Utc>,
) -> ActionResult<(String, Vec<String>)> {
    let raw = welcome_store::message_bytes(tx, row)
        .await?
        .unwrap_or_default();
    let files = roster::csv_attachments(&raw);
    let file = match files.as_slice() {
        [file] => file,
        [] => {
            return Err(ActionError::Refused(
                "Keine CSV-Datei angehängt (Spalten Kommune, Name, E-Mail, optional Rolle).".into(),
            ));
        }
        more => {
            return Err(ActionError::Refused(format!(
                "{} CSV-Dateien angehängt; bitte genau eine senden.",
                more.len()
            )));
        }
    };
    match roster::import_in(desk, tx, now, &file.bytes).await? {
        Ok(n) => Ok((
            format!(
                "Teilnehmendenliste {} importiert: {n} Person(en) für {}",
                file.name, desk.programme.short_name
            ),
            Vec::new(),
        )),
        Err(errors) => {
            let lines: Vec<String> = errors.iter().map(|e| e.german()).collect();
            Err(ActionError::Refused(format!(
                "Teilnehmendenliste {} nicht importiert, nichts gespeichert. Fehler: {}",
                file.name,
                lines.join("; ")
            )))
        }
    }
}

/// The command mail a reply of its own belongs to.
struct Asked<'a> {
    row: i64,
    sender: &'a EmailAddress,
    mail: &'a Incoming,
    at: DateTime<Utc>,
}

/// ÜBERSICHT [CODE]: a mail of its own to the sender with the summary and
/// the spreadsheet attached, queued in the command's transaction and keyed
/// by the command mail (so it goes once).
async fn run_overview(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    programme: Option<&str>,
    asked: &Asked<'_>,
    details: &mut Vec<String>,
) -> ActionResult<String> {
    if let Some(code) = programme
        && !overview::codes(tx).await?.iter().any(|c| c == code)
    {
        return Err(ActionError::Refused(format!(
            "Kein Programm mit dem Kürzel {code}."
        )));
    }
    let named = programme.and_then(|code| desk.programmes.get(code));
    let desk = &named.map_or(*desk, |p| desk.for_programme(p));
    let o = overview::collect(tx, programme, asked.at).await?;
    let bytes = overview::sheet::xlsx(&o)?;
    let summary = o.summary();
    let mut lines = summary.clone();
    // NOTE: the references in the text make an erasure of any of these
    // applications find this mail (and its sent copy) and erase it whole:
    // it does not look inside the compressed spreadsheet.
    if !o.rows.is_empty() {
        let references: Vec<&str> = o.rows.iter().map(|r| r.reference.as_str()).collect();
        lines.push(format!(
            "Aktenzeichen in der Tabelle: {}",
            references.join(", ")
        ));
    }
    let scope = programme.map(|c| format!(" {c}")).unwrap_or_default();
    let context = mails::StaffNotice {
        short_name: desk.staff_label(),
        title: format!("Übersicht der Bewerbungen{scope}"),
        intro: format!(
            "Anbei die Übersicht aller Bewerbungen{scope} als Tabelle (XLSX), wie auf Ihren \
             Befehl „ÜBERSICHT{scope}“ erstellt: eine Zeile je Bewerbung. Die Tabelle enthält \
             personenbezogene Daten; bitte nur dienstlich verwenden und nicht weiterleiten."
        ),
        lines,
        excerpt: String::new(),
    };
    let stamp = german::to_berlin(&asked.at).format("%Y-%m-%d");
    let name = match programme {
        Some(code) => format!("Uebersicht-{code}-{stamp}.xlsx"),
        None => format!("Uebersicht-{stamp}.xlsx"),
    };
    let letter = Letter {
        answering: Some(Answering {
            message_id: asked.mail.message_id.as_deref(),
            references: &asked.mail.references,
        }),
        attachments: vec![FileAttachment {
            file_name: name.clone(),
            content_type: XLSX_CONTENT_TYPE.into(),
            bytes,
        }],
        ..Letter::new(
            "staff_notice",
            format!("staff-overview:{}", asked.row),
            None,
            asked.sender,
        )
    };
    desk.mailer
        .queue(tx, letter, &context, Cap::ToStaff)
        .await?;
    details.extend(summary);
    Ok(format!(
        "Übersicht{scope} gesendet: {} Bewerbung(en), Tabelle {name} in einer eigenen Mail an {}",
        o.rows.len(),
        asked.sender
    ))
}

/// The media type of an XLSX file.
pub const XLSX_CONTENT_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// LÖSCHEN and AUSKUNFT: records the request in the command's transaction;
/// the scheduler, woken after the commit, performs it and mails the result
/// to `sender` (an erasure's result to staff as well).
async fn run_privacy(
    tx: &mut Tx<'_>,
    command: &Privacy,
    row: i64,
    sender: &EmailAddress,
    details: &mut Vec<String>,
) -> ActionResult<String> {
    let reference = command.reference();
    if applications::find(tx, reference).await?.is_none() {
        return Err(ActionError::Refused(format!(
            "Keine Bewerbung mit dem Aktenzeichen {reference}."
        )));
    }
    let kind = match command {
        Privacy::ErasePreview { .. } => Kind::Preview,
        Privacy::Erase { .. } => Kind::Erase,
        Privacy::Export { .. } => Kind::Export,
    };
    let id = requests::request(tx, kind, reference, sender.as_str(), row).await?;
    Ok(match command {
        Privacy::ErasePreview { .. } => {
            details.push(format!(
                "Zum Löschen senden Sie bitte: LÖSCHEN {reference} BESTÄTIGT"
            ));
            format!(
                "Löschung von {reference} geprüft (Auftrag Nr. {id}): Was gelöscht würde, \
                 schickt postbote gleich in einer eigenen Mail. Gelöscht wurde nichts."
            )
        }
        // NOTE: the reply is queued before the erasure and kept by it
        // (`retention::requests`): it must not name the application.
        Privacy::Erase { .. } => format!(
            "Löschung beantragt (Auftrag Nr. {id}): postbote löscht die Bewerbung jetzt und \
             meldet das Ergebnis in einer eigenen Mail."
        ),
        Privacy::Export { .. } => format!(
            "Auskunft zu {reference} beantragt (Auftrag Nr. {id}): Die Auskunft (ZIP) kommt \
             gleich in einer eigenen Mail an {sender}, nicht an die Bewerber."
        ),
    })
}

/// The commands on who may change an application (part 8).
async fn run_ownership(
    tx: &mut Tx<'_>,
    command: &Ownership,
    by: &str,
    details: &mut Vec<String>,
) -> ActionResult<String> {
    match command {
        Ownership::Link { reference, address } => ownership::link(tx, reference, address, by).await,
        Ownership::Merge { from, into } => {
            let (done, notes) = ownership::merge(tx, from, into, by).await?;
            details.extend(notes);
            Ok(done)
        }
        Ownership::Keep { reference } => ownership::keep(tx, reference).await,
        Ownership::Address { reference, confirm } => {
            ownership::decide_held(tx, reference, *confirm, by).await
        }
    }
}

async fn record(
    tx: &mut Tx<'_>,
    row: i64,
    sender: &EmailAddress,
    via: Option<Via>,
    summary: &str,
) -> anyhow::Result<()> {
    let command = NewCommand {
        message_row: row,
        sender: sender.as_str(),
        via: via.map(via_text),
        summary,
    };
    commands::record(tx, &command).await?;
    Ok(())
}
