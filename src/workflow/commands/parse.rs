//! Reads staff commands from the text of a mail: one command per line, German
//! words in any case, umlauts also as ae/oe/ue, applications named by their
//! reference (`EWS7-0003`).
//!
//! The rules are strict so that the outcome is predictable:
//! - lines are trimmed; empty lines are skipped;
//! - reading stops at the first quoted line (`>`), signature delimiter (`-- `),
//!   reply header ("Am … schrieb …", "On … wrote"), "-----Original" /
//!   "-----Ursprüngliche Nachricht" or a line of underscores (Outlook);
//! - a line `Kennwort: …` (or `Geheimwort: …`) carries the secret;
//! - every other line must be a command, otherwise it is a [`LineError`];
//! - at most [`MAX_COMMANDS`] commands and [`MAX_ERRORS`] errors are collected.
//!
//! Nothing here panics, whatever the input.

use crate::calendar::german::format_date;
use crate::config::programme::is_code;
use crate::domain::HeaderText;
use chrono::{NaiveDate, NaiveTime};
use std::fmt;

/// The most commands one mail may carry; further lines are not executed.
pub const MAX_COMMANDS: usize = 50;
/// The most line errors reported for one mail.
pub const MAX_ERRORS: usize = 20;
/// How much of a line a [`LineError`] repeats.
const MAX_LINE_SHOWN: usize = 200;
/// The longest reference prefix accepted (`EWS7` has four).
const MAX_PREFIX: usize = 16;
/// The longest reference number accepted, in digits.
const MAX_NUMBER_DIGITS: usize = 6;
/// How a line carrying the secret is shown in errors: never the secret itself.
const SECRET_LINE_SHOWN: &str = "Kennwort: ***";

/// One staff command.
///
/// `programme` is the code of the programme the command is meant for
/// (`FREIGEBEN EWS7 BESCHEIDE`), upper case; `None` when the mail names
/// none (there is one programme, or the command means the first one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// "FREIGEBEN [CODE] EINLADUNGEN": release the interview invitations.
    ReleaseInvitations { programme: Option<String> },
    /// "FREIGEBEN [CODE] BESCHEIDE" or "… ENTSCHEIDUNGEN": release the held
    /// outcome notices.
    ReleaseNotices { programme: Option<String> },
    /// "PLAN [CODE] [GESPRÄCHE]": reply with the interview plan.
    ShowPlan { programme: Option<String> },
    /// "VORSCHAU [CODE] [BESCHEIDE]": preview of the held notices.
    Preview { programme: Option<String> },
    /// "ZUSAGE EWS7-0003 [2 PERSONEN]": accept, for 1 or 2 persons (default 1).
    Accept { reference: String, persons: u8 },
    /// "ABSAGE EWS7-0003".
    Reject { reference: String },
    /// "WARTELISTE EWS7-0003".
    Waitlist { reference: String },
    /// "VERSCHIEBEN EWS7-0003 30.06.2026 10:00": move the interview (or pin
    /// it, before the invitations are released).
    Move {
        reference: String,
        date: NaiveDate,
        time: NaiveTime,
    },
    /// "STORNIEREN EWS7-0003": cancel the interview.
    CancelInterview { reference: String },
    /// "KORREKTUR ZUSAGE|ABSAGE|WARTELISTE EWS7-0003 [2 PERSONEN]": change a
    /// decision whose notice was already released (sends a correction).
    /// `persons` is 1 unless the outcome is [`Outcome::Accept`].
    Correct {
        outcome: Outcome,
        reference: String,
        persons: u8,
    },
    /// "BESTÄTIGEN [CODE] MODUL 3" or "… LERNGRUPPE 4": a tentative event
    /// takes place (participants get an announcement, then reminders).
    ConfirmEvent {
        programme: Option<String>,
        event: String,
    },
    /// "ABSAGEN [CODE] MODUL 3": the event is called off (everyone told gets
    /// a cancellation).
    CancelEvent {
        programme: Option<String>,
        event: String,
    },
    /// "ÜBERSICHT [CODE]": a summary and the spreadsheet of all applications
    /// (of one programme, or of all).
    Overview { programme: Option<String> },
    /// "HILFE": every command with its syntax and an example.
    Help,
    /// Who may change an application (see [`Ownership`]).
    Ownership(Ownership),
    /// Erasure and access (see [`Privacy`]).
    Privacy(Privacy),
    /// "TERMINÜBERSICHT SENDEN [EWS7]": every imported participant gets one
    /// mail with the remaining events (once per person).
    Welcome { programme: Option<String> },
    /// "TEILNEHMER IMPORT [EWS7]": import the roster CSV attached to the mail.
    ImportRoster { programme: Option<String> },
    /// "ZUORDNEN 42 EWS8": application mail 42 (a stored message, held
    /// because several calls were open) is for programme EWS8.
    Route { message: i64, programme: String },
}

/// TERMINÜBERSICHT SENDEN and TEILNEHMER IMPORT (a cohort taken over
/// mid-year), by their first word (normalised), if it is one of them.
/// `TERMINÜBERSICHT SENDEN [CODE]`.
fn welcome_command(rest: &[&str]) -> Result<Command, String> {
    let programme = takeover_code(
        rest,
        "senden",
        "Bitte „TERMINÜBERSICHT SENDEN“ (oder „TERMINÜBERSICHT SENDEN EWS7“) schreiben.",
    )?;
    Ok(Command::Welcome { programme })
}

/// `TEILNEHMER IMPORT [CODE]`, with the roster attached as CSV.
fn import_roster_command(rest: &[&str]) -> Result<Command, String> {
    let programme = takeover_code(
        rest,
        "import",
        "Bitte „TEILNEHMER IMPORT“ (oder „TEILNEHMER IMPORT EWS7“) schreiben und die Liste als CSV anhängen.",
    )?;
    Ok(Command::ImportRoster { programme })
}

/// The second word `second`, then an optional programme code.
fn takeover_code(rest: &[&str], second: &str, hint: &str) -> Result<Option<String>, String> {
    match rest {
        [w] if norm(w) == second => Ok(None),
        [w, code] if norm(w) == second => required_code(code).map(Some),
        _ => Err(hint.to_string()),
    }
}

/// A programme code ([`is_code`]) where one must stand: a digit is not
/// needed, nothing else could stand there.
fn required_code(word: &str) -> Result<String, String> {
    is_code(word)
        .then(|| word.to_ascii_uppercase())
        .ok_or_else(|| format!("„{}“ ist kein Programmkürzel (z. B. EWS7).", shown(word)))
}

/// Staff commands on an applicant's rights (DSGVO Art. 15, 17). Each only
/// records a request; the scheduler performs it right after the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Privacy {
    /// "LÖSCHEN EWS7-0003" (also LOESCHEN): tell staff what an erasure
    /// would remove; erases nothing.
    ErasePreview { reference: String },
    /// "LÖSCHEN EWS7-0003 BESTÄTIGT": erase the application everywhere.
    Erase { reference: String },
    /// "AUSKUNFT EWS7-0003": mail the Art. 15 export (a ZIP) to staff.
    Export { reference: String },
}

impl Privacy {
    fn describe(&self) -> String {
        match self {
            Privacy::ErasePreview { reference } => {
                format!("Vorschau der Löschung von {reference}")
            }
            // NOTE: no reference: the reply is queued before the erasure
            // and survives it, so it must not name the application.
            Privacy::Erase { .. } => "Löschung einer Bewerbung".into(),
            Privacy::Export { reference } => format!("Auskunft zu {reference}"),
        }
    }

    pub fn reference(&self) -> &str {
        match self {
            Privacy::ErasePreview { reference }
            | Privacy::Erase { reference }
            | Privacy::Export { reference } => reference,
        }
    }
}

/// "LÖSCHEN EWS7-0003 [BESTÄTIGT]".
fn erase_command(rest: &[&str]) -> Result<Command, String> {
    reference(rest)
        .and_then(|(reference, rest)| match norm_all(rest).as_slice() {
            [] => Ok(Privacy::ErasePreview { reference }),
            [w] if w == "bestaetigt" => Ok(Privacy::Erase { reference }),
            _ => Err(format!(
                "Bitte „LÖSCHEN {reference}“ (zeigt, was gelöscht würde) oder \
                 „LÖSCHEN {reference} BESTÄTIGT“ (löscht) schreiben."
            )),
        })
        .map(Command::Privacy)
}

/// "AUSKUNFT EWS7-0003".
fn export_command(rest: &[&str]) -> Result<Command, String> {
    let (reference, rest) = reference(rest)?;
    nothing_more(rest)?;
    Ok(Command::Privacy(Privacy::Export { reference }))
}

/// Staff commands on who may change an application (part 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// "VERKNÜPFEN EWS7-0003 name@kommune.de": mail from the address may
    /// change the application.
    Link { reference: String, address: String },
    /// "ZUSAMMENFÜHREN EWS7-0007 IN EWS7-0003" (also "MIT"): merge the first
    /// into the second.
    Merge { from: String, into: String },
    /// "BEHALTEN EWS7-0007": keep a possible duplicate as its own application.
    Keep { reference: String },
    /// "ADRESSE BESTÄTIGEN EWS7-0003" / "ADRESSE ABLEHNEN EWS7-0003": decide on
    /// the held address changes.
    Address { reference: String, confirm: bool },
}

impl Ownership {
    fn describe(&self) -> String {
        match self {
            Ownership::Link { reference, address } => {
                format!("{address} mit {reference} verknüpfen")
            }
            Ownership::Merge { from, into } => format!("{from} in {into} zusammenführen"),
            Ownership::Keep { reference } => format!("{reference} als eigene Bewerbung behalten"),
            Ownership::Address {
                reference,
                confirm: true,
            } => format!("Adressänderung für {reference} bestätigen"),
            Ownership::Address { reference, .. } => {
                format!("Adressänderung für {reference} ablehnen")
            }
        }
    }

    fn reference(&self) -> &str {
        match self {
            Ownership::Link { reference, .. }
            | Ownership::Keep { reference }
            | Ownership::Address { reference, .. } => reference,
            Ownership::Merge { from, .. } => from,
        }
    }
}

/// "BEHALTEN EWS7-0007".
fn keep_command(rest: &[&str]) -> Result<Command, String> {
    let (reference, rest) = reference(rest)?;
    nothing_more(rest)?;
    Ok(Command::Ownership(Ownership::Keep { reference }))
}

fn link_command(rest: &[&str]) -> Result<Command, String> {
    let (reference, rest) = reference(rest)?;
    let [address] = rest else {
        return Err(
            "Bitte „VERKNÜPFEN EWS7-0003 name@kommune.de“ schreiben (eine Adresse).".into(),
        );
    };
    let address = address.trim_matches(['<', '>']);
    if !address.contains('@') {
        return Err(format!("„{}“ ist keine E-Mail-Adresse.", shown(address)));
    }
    Ok(Command::Ownership(Ownership::Link {
        reference,
        address: address.to_string(),
    }))
}

fn merge_command(rest: &[&str]) -> Result<Command, String> {
    let (from, rest) = reference(rest)?;
    let hint = "Bitte „ZUSAMMENFÜHREN EWS7-0007 IN EWS7-0003“ schreiben.";
    let Some((word, rest)) = rest.split_first() else {
        return Err(hint.into());
    };
    if !matches!(norm(word).as_str(), "in" | "mit") {
        return Err(hint.into());
    }
    let (into, rest) = reference(rest)?;
    nothing_more(rest)?;
    Ok(Command::Ownership(Ownership::Merge { from, into }))
}

fn address_command(rest: &[&str]) -> Result<Command, String> {
    let hint = "Bitte „ADRESSE BESTÄTIGEN EWS7-0003“ oder „ADRESSE ABLEHNEN EWS7-0003“ schreiben.";
    let Some((word, rest)) = rest.split_first() else {
        return Err(hint.into());
    };
    let confirm = match norm(word).as_str() {
        "bestaetigen" => true,
        "ablehnen" => false,
        _ => return Err(hint.into()),
    };
    let (reference, rest) = reference(rest)?;
    nothing_more(rest)?;
    Ok(Command::Ownership(Ownership::Address {
        reference,
        confirm,
    }))
}

/// A decision on an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accept,
    Reject,
    Waitlist,
}

/// What [`parse`] found in a body.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    pub commands: Vec<Command>,
    pub errors: Vec<LineError>,
    /// The text after `Kennwort:` (the first such line), trimmed. Never
    /// shown by `Debug`.
    pub secret: Option<String>,
}

/// A line that is not a valid command, with the reason for the reply mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The line, sanitised (no control characters), at most 200 characters.
    pub line: String,
    /// Why it was not understood, in German.
    pub reason: String,
}

impl fmt::Debug for Parsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parsed")
            .field("commands", &self.commands)
            .field("errors", &self.errors)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Outcome {
    /// The German word, as in the command: "Zusage", "Absage", "Warteliste".
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Accept => "Zusage",
            Outcome::Reject => "Absage",
            Outcome::Waitlist => "Warteliste",
        }
    }
}

impl Command {
    /// The command in German for the reply, e.g. `Zusage für EWS7-0003 (2 Personen)`.
    pub fn describe(&self) -> String {
        match self {
            Command::ReleaseInvitations { programme } => {
                format!("Einladungen zu den Gesprächen freigeben{}", of(programme))
            }
            Command::ReleaseNotices { programme } => {
                format!("Zurückgehaltene Bescheide freigeben{}", of(programme))
            }
            Command::ShowPlan { programme } => format!("Gesprächsplan senden{}", of(programme)),
            Command::Preview { programme } => format!(
                "Vorschau der zurückgehaltenen Bescheide senden{}",
                of(programme)
            ),
            Command::Accept { reference, persons } => {
                format!("Zusage für {reference} ({})", persons_text(*persons))
            }
            Command::Reject { reference } => format!("Absage für {reference}"),
            Command::Waitlist { reference } => format!("Warteliste für {reference}"),
            Command::Move {
                reference,
                date,
                time,
            } => format!(
                "Gesprächstermin für {reference} auf {}, {} Uhr legen",
                format_date(*date),
                time.format("%H:%M")
            ),
            Command::CancelInterview { reference } => {
                format!("Gesprächstermin für {reference} stornieren")
            }
            Command::Correct {
                outcome: Outcome::Accept,
                reference,
                persons,
            } => format!(
                "Korrektur: Zusage für {reference} ({})",
                persons_text(*persons)
            ),
            Command::Correct {
                outcome, reference, ..
            } => format!("Korrektur: {} für {reference}", outcome.label()),
            Command::ConfirmEvent { programme, event } => {
                format!("Termin {}{} bestätigen", event_label(event), of(programme))
            }
            Command::CancelEvent { programme, event } => {
                format!("Termin {}{} absagen", event_label(event), of(programme))
            }
            Command::Overview { programme } => {
                format!("Übersicht der Bewerbungen senden{}", of(programme))
            }
            Command::Help => "Liste der Befehle senden".into(),
            Command::Ownership(o) => o.describe(),
            Command::Privacy(p) => p.describe(),
            Command::Welcome { .. } => "Terminübersicht an die Teilnehmenden senden".into(),
            Command::ImportRoster { .. } => "Teilnehmendenliste importieren".into(),
            Command::Route { message, programme } => {
                format!("Nachricht {message} dem Programm {programme} zuordnen")
            }
        }
    }

    /// The application reference the command names, if any (upper case).
    pub fn reference(&self) -> Option<&str> {
        match self {
            Command::ReleaseInvitations { .. }
            | Command::ReleaseNotices { .. }
            | Command::ShowPlan { .. }
            | Command::Preview { .. }
            | Command::ConfirmEvent { .. }
            | Command::CancelEvent { .. }
            | Command::Overview { .. }
            | Command::Help
            | Command::Welcome { .. }
            | Command::ImportRoster { .. }
            | Command::Route { .. } => None,
            Command::Accept { reference, .. }
            | Command::Reject { reference }
            | Command::Waitlist { reference }
            | Command::Move { reference, .. }
            | Command::CancelInterview { reference }
            | Command::Correct { reference, .. } => Some(reference),
            Command::Ownership(o) => Some(o.reference()),
            Command::Privacy(p) => Some(p.reference()),
        }
    }

    /// The programme code the command names, if any (upper case).
    pub fn programme(&self) -> Option<&str> {
        self.scope().flatten()
    }

    /// The one programme the command acts on: `Some(Some(code))` when it
    /// names it, `Some(None)` when the code was left out and the only active
    /// programme is meant; `None` for a command on no programme or (the
    /// overview without a code) on all of them.
    pub fn scope(&self) -> Option<Option<&str>> {
        match self {
            Command::ReleaseInvitations { programme }
            | Command::ReleaseNotices { programme }
            | Command::ShowPlan { programme }
            | Command::Preview { programme }
            | Command::ConfirmEvent { programme, .. }
            | Command::CancelEvent { programme, .. }
            | Command::Welcome { programme }
            | Command::ImportRoster { programme } => Some(programme.as_deref()),
            Command::Overview { programme } => programme.as_deref().map(Some),
            Command::Route { programme, .. } => Some(Some(programme)),
            _ => None,
        }
    }
}

/// " (EWS7)" for a named programme, "" otherwise.
fn of(programme: &Option<String>) -> String {
    programme
        .as_ref()
        .map(|code| format!(" ({code})"))
        .unwrap_or_default()
}

/// "module-3" → "Modul 3", "learning-group-4" → "Lerngruppe 4".
fn event_label(key: &str) -> String {
    if let Some(n) = key.strip_prefix("module-") {
        format!("Modul {n}")
    } else if let Some(n) = key.strip_prefix("learning-group-") {
        format!("Lerngruppe {n}")
    } else {
        key.to_string()
    }
}

/// "MODUL 3" / "PRÄSENZMODUL 3" / "LERNGRUPPE 4" as an event key.
fn event_key(rest: &[&str]) -> Result<String, String> {
    let hint = "Bitte z. B. „MODUL 3“ oder „LERNGRUPPE 4“ schreiben.";
    let [kind, number] = rest else {
        return Err(hint.into());
    };
    let number: u32 = number
        .trim_end_matches('.')
        .parse()
        .ok()
        .filter(|n| (1..=99).contains(n))
        .ok_or_else(|| hint.to_string())?;
    match norm(kind).as_str() {
        "modul" | "praesenzmodul" => Ok(format!("module-{number}")),
        "lerngruppe" | "treffen" => Ok(format!("learning-group-{number}")),
        _ => Err(hint.into()),
    }
}

fn persons_text(persons: u8) -> String {
    if persons == 1 {
        "1 Person".into()
    } else {
        format!("{persons} Personen")
    }
}

/// Reads the commands, the line errors and the secret from a mail body.
pub fn parse(body: &str) -> Parsed {
    let mut out = Parsed::default();
    // Once a cap is reached, later lines are only searched for the secret.
    let mut capped = false;
    for raw in body.lines() {
        let line = raw.trim();
        if ends_commands(line) {
            break;
        }
        if line.is_empty() {
            continue;
        }
        if let Some(secret) = secret_line(line) {
            match secret {
                Some(s) => {
                    if out.secret.is_none() {
                        out.secret = Some(s);
                    }
                }
                None => push_error(
                    &mut out,
                    SECRET_LINE_SHOWN,
                    "Nach „Kennwort:“ fehlt das Kennwort.".into(),
                ),
            }
            continue;
        }
        if capped {
            continue;
        }
        if out.commands.len() >= MAX_COMMANDS {
            push_error(
                &mut out,
                line,
                format!(
                    "Mehr als {MAX_COMMANDS} Befehle in einer Mail; diese und alle \
                     folgenden Zeilen wurden nicht ausgeführt."
                ),
            );
            capped = true;
            continue;
        }
        if out.errors.len() >= MAX_ERRORS {
            push_error(
                &mut out,
                line,
                format!(
                    "Mehr als {MAX_ERRORS} fehlerhafte Zeilen; diese und alle folgenden \
                     Zeilen wurden nicht geprüft."
                ),
            );
            capped = true;
            continue;
        }
        match parse_line(line) {
            Ok(command) => out.commands.push(command),
            Err(reason) => push_error(&mut out, line, reason),
        }
    }
    out
}

fn push_error(out: &mut Parsed, line: &str, reason: String) {
    out.errors.push(LineError {
        line: HeaderText::sanitize(line, MAX_LINE_SHOWN).to_string(),
        reason,
    });
}

/// Whether a (trimmed) line starts quoted text or a signature: nothing after
/// it is read.
fn ends_commands(line: &str) -> bool {
    if line.starts_with('>') || line == "--" {
        return true;
    }
    if line.starts_with("-----Original") || line.starts_with("-----Ursprüngliche Nachricht") {
        return true;
    }
    if line.len() >= 10 && line.bytes().all(|b| b == b'_') {
        return true;
    }
    let starts = |prefix: &str| {
        line.get(..prefix.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
    };
    (starts("Am ") && line.contains("schrieb")) || (starts("On ") && line.contains(" wrote"))
}

/// `Some(Some(secret))` for a `Kennwort: …` line, `Some(None)` when the
/// secret is missing, `None` for any other line. Accepts `:`, `=` or a space
/// after the word, so that a mistyped secret line is never echoed back.
fn secret_line(line: &str) -> Option<Option<String>> {
    for key in ["kennwort", "geheimwort"] {
        let Some(head) = line.get(..key.len()) else {
            continue;
        };
        if !head.eq_ignore_ascii_case(key) {
            continue;
        }
        let rest = &line[key.len()..];
        if !(rest.is_empty()
            || rest.starts_with([':', '='])
            || rest.starts_with(char::is_whitespace))
        {
            continue;
        }
        let rest = rest.trim_start();
        let value = rest.strip_prefix([':', '=']).unwrap_or(rest).trim();
        return Some((!value.is_empty()).then(|| value.to_string()));
    }
    None
}

/// One command the parser knows: its German syntax, a one-line German
/// description and one example for `HILFE`, and how the words after the
/// first are read. [`COMMANDS`] is the only list of commands: the parser
/// dispatches on it and `HILFE` is generated from it.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The first word, normalised ([`norm`]: lower case, umlauts written
    /// out). Rows may share a first word (`FREIGEBEN …`); they then share
    /// `parse` too, since the first matching row reads the line.
    verb: &'static str,
    /// E.g. `ZUSAGE AKTENZEICHEN [2 PERSONEN]`.
    pub syntax: &'static str,
    /// One line of German.
    pub description: &'static str,
    /// A line that parses to this command.
    pub example: &'static str,
    /// Reads the words after the first one.
    parse: fn(&[&str]) -> Result<Command, String>,
}

/// Every staff command, in the order `HILFE` lists them. Adding a command:
/// one variant of [`Command`] and one row here.
pub const COMMANDS: &[Spec] = &[
    Spec {
        verb: "plan",
        syntax: "PLAN [CODE] [GESPRÄCHE]",
        description: "Schickt den aktuellen Gesprächsplan.",
        example: "PLAN",
        parse: plan_command,
    },
    Spec {
        verb: "freigeben",
        syntax: "FREIGEBEN [CODE] EINLADUNGEN",
        description: "Gibt die Einladungen zu den Gesprächen frei (sie werden versandt).",
        example: "FREIGEBEN EINLADUNGEN",
        parse: release_command,
    },
    Spec {
        verb: "verschieben",
        syntax: "VERSCHIEBEN AKTENZEICHEN TT.MM.JJJJ HH:MM",
        description: "Legt das Gespräch einer Bewerbung auf einen anderen Termin.",
        example: "VERSCHIEBEN EWS7-0003 30.06.2026 10:00",
        parse: move_command,
    },
    Spec {
        verb: "stornieren",
        syntax: "STORNIEREN AKTENZEICHEN",
        description: "Sagt das Gespräch einer Bewerbung ab.",
        example: "STORNIEREN EWS7-0003",
        parse: cancel_interview_command,
    },
    Spec {
        verb: "zusage",
        syntax: "ZUSAGE AKTENZEICHEN [2 PERSONEN]",
        description: "Entscheidet: Zusage für 1 (Standard) oder 2 Personen.",
        example: "ZUSAGE EWS7-0003 2 PERSONEN",
        parse: accept_command,
    },
    Spec {
        verb: "absage",
        syntax: "ABSAGE AKTENZEICHEN",
        description: "Entscheidet: Absage.",
        example: "ABSAGE EWS7-0004",
        parse: reject_command,
    },
    Spec {
        verb: "warteliste",
        syntax: "WARTELISTE AKTENZEICHEN",
        description: "Entscheidet: Warteliste.",
        example: "WARTELISTE EWS7-0005",
        parse: waitlist_command,
    },
    Spec {
        verb: "vorschau",
        syntax: "VORSCHAU [CODE] [BESCHEIDE]",
        description: "Schickt eine Vorschau der zurückgehaltenen Bescheide.",
        example: "VORSCHAU EWS7",
        parse: preview_command,
    },
    Spec {
        verb: "freigeben",
        syntax: "FREIGEBEN [CODE] BESCHEIDE",
        description: "Gibt die zurückgehaltenen Bescheide frei (auch: ENTSCHEIDUNGEN).",
        example: "FREIGEBEN EWS7 BESCHEIDE",
        parse: release_command,
    },
    Spec {
        verb: "korrektur",
        syntax: "KORREKTUR ZUSAGE|ABSAGE|WARTELISTE AKTENZEICHEN [2 PERSONEN]",
        description: "Ändert eine schon mitgeteilte Entscheidung (mit Korrekturbescheid).",
        example: "KORREKTUR ABSAGE EWS7-0003",
        parse: correct_command,
    },
    Spec {
        verb: "bestaetigen",
        syntax: "BESTÄTIGEN [CODE] MODUL|LERNGRUPPE n",
        description: "Bestätigt einen vorläufigen Termin (Ankündigung, dann Erinnerungen).",
        example: "BESTÄTIGEN EWS7 MODUL 3",
        parse: confirm_event_command,
    },
    Spec {
        verb: "absagen",
        syntax: "ABSAGEN [CODE] MODUL|LERNGRUPPE n",
        description: "Sagt einen Termin ab (alle Informierten erhalten eine Absage).",
        example: "ABSAGEN LERNGRUPPE 5",
        parse: cancel_event_command,
    },
    Spec {
        verb: "verknuepfen",
        syntax: "VERKNÜPFEN AKTENZEICHEN ADRESSE",
        description: "Erlaubt Mails von der Adresse, die Bewerbung zu ändern.",
        example: "VERKNÜPFEN EWS7-0003 name@kommune.de",
        parse: link_command,
    },
    Spec {
        verb: "zusammenfuehren",
        syntax: "ZUSAMMENFÜHREN AKTENZEICHEN IN AKTENZEICHEN",
        description: "Führt die erste Bewerbung in die zweite zusammen (auch: MIT).",
        example: "ZUSAMMENFÜHREN EWS7-0007 IN EWS7-0003",
        parse: merge_command,
    },
    Spec {
        verb: "behalten",
        syntax: "BEHALTEN AKTENZEICHEN",
        description: "Behält ein mögliches Duplikat als eigene Bewerbung.",
        example: "BEHALTEN EWS7-0007",
        parse: keep_command,
    },
    Spec {
        verb: "adresse",
        syntax: "ADRESSE BESTÄTIGEN AKTENZEICHEN",
        description: "Übernimmt die zurückgehaltenen Adressänderungen.",
        example: "ADRESSE BESTÄTIGEN EWS7-0003",
        parse: address_command,
    },
    Spec {
        verb: "adresse",
        syntax: "ADRESSE ABLEHNEN AKTENZEICHEN",
        description: "Verwirft die zurückgehaltenen Adressänderungen.",
        example: "ADRESSE ABLEHNEN EWS7-0003",
        parse: address_command,
    },
    Spec {
        verb: "loeschen",
        syntax: "LÖSCHEN AKTENZEICHEN",
        description: "Zeigt, was eine Löschung entfernen würde; löscht nichts.",
        example: "LÖSCHEN EWS7-0003",
        parse: erase_command,
    },
    Spec {
        verb: "loeschen",
        syntax: "LÖSCHEN AKTENZEICHEN BESTÄTIGT",
        description: "Löscht die Bewerbung überall (DSGVO Art. 17).",
        example: "LÖSCHEN EWS7-0003 BESTÄTIGT",
        parse: erase_command,
    },
    Spec {
        verb: "auskunft",
        syntax: "AUSKUNFT AKTENZEICHEN",
        description: "Schickt die Auskunft (DSGVO Art. 15) als ZIP an Sie.",
        example: "AUSKUNFT EWS7-0003",
        parse: export_command,
    },
    Spec {
        verb: "terminuebersicht",
        syntax: "TERMINÜBERSICHT SENDEN [CODE]",
        description: "Schickt allen importierten Teilnehmenden einmal alle kommenden Termine mit Kalendereinträgen.",
        example: "TERMINÜBERSICHT SENDEN",
        parse: welcome_command,
    },
    Spec {
        verb: "teilnehmer",
        syntax: "TEILNEHMER IMPORT [CODE]",
        description: "Liest die angehängte Teilnehmendenliste (CSV) ein und meldet das Ergebnis.",
        example: "TEILNEHMER IMPORT EWS7",
        parse: import_roster_command,
    },
    Spec {
        verb: "zuordnen",
        syntax: "ZUORDNEN NUMMER CODE",
        description: "Ordnet eine zurückgehaltene Bewerbungsmail (Nummer aus dem Hinweis) einem Programm zu.",
        example: "ZUORDNEN 42 EWS8",
        parse: route_command,
    },
    Spec {
        verb: "uebersicht",
        syntax: "ÜBERSICHT [CODE]",
        description: "Schickt eine Zusammenfassung und die Tabelle aller Bewerbungen (XLSX).",
        example: "ÜBERSICHT EWS7",
        parse: overview_command,
    },
    Spec {
        verb: "hilfe",
        syntax: "HILFE",
        description: "Schickt diese Liste aller Befehle mit Beispielen.",
        example: "HILFE",
        parse: help_command,
    },
];

/// The reply to `HILFE`: every row of [`COMMANDS`] with its syntax,
/// description and example.
pub fn help_lines() -> Vec<String> {
    let mut lines = vec![
        "Alle Befehle (eine Zeile je Befehl, am Anfang der Nachricht; Groß- und \
         Kleinschreibung egal, Umlaute auch als ae/oe/ue). AKTENZEICHEN wie EWS7-0003; \
         CODE ist das Kürzel des Programms (z. B. EWS7) und nur nötig, wenn mehrere \
         Programme laufen."
            .to_string(),
        String::new(),
    ];
    for spec in COMMANDS {
        lines.push(spec.syntax.to_string());
        lines.push(format!("  {}", spec.description));
        lines.push(format!("  Beispiel: {}", spec.example));
    }
    lines
}

/// The first words of all commands, for the "unknown command" reason:
/// "PLAN, FREIGEBEN, …".
fn known() -> String {
    let mut verbs: Vec<&str> = Vec::new();
    for spec in COMMANDS {
        let first = spec.syntax.split(' ').next().unwrap_or(spec.syntax);
        if !verbs.contains(&first) {
            verbs.push(first);
        }
    }
    verbs.join(", ")
}

/// A programme code ([`is_code`]) that also contains a digit (`EWS7`,
/// `EWS8`), so that where a code is optional it is never taken for a word
/// such as EINLADUNGEN or MODUL. Upper case.
fn programme_code(word: &str) -> Option<String> {
    let with_digit = word.bytes().any(|b| b.is_ascii_digit());
    (with_digit && is_code(word)).then(|| word.to_ascii_uppercase())
}

/// An optional programme code as the first word, and the words after it.
fn programme<'a, 'b>(words: &'a [&'b str]) -> (Option<String>, &'a [&'b str]) {
    match words.split_first() {
        Some((first, rest)) => match programme_code(first) {
            Some(code) => (Some(code), rest),
            None => (None, words),
        },
        None => (None, words),
    }
}

/// At most this many words are looked at; longer lines are errors anyway.
const MAX_WORDS: usize = 8;

fn parse_line(line: &str) -> Result<Command, String> {
    let line = line.trim_end_matches(['.', ',', ';', '!']);
    let words: Vec<&str> = line.split_whitespace().take(MAX_WORDS + 1).collect();
    let Some((first, rest)) = words.split_first() else {
        return Err("Leere Zeile.".into());
    };
    if rest.len() >= MAX_WORDS {
        return Err("Zu viele Wörter für einen Befehl.".into());
    }
    let verb = norm(first);
    match COMMANDS.iter().find(|spec| spec.verb == verb) {
        Some(spec) => (spec.parse)(rest),
        None => Err(format!(
            "Unbekannter Befehl „{}“. Bekannt sind: {}; „HILFE“ schickt alle Befehle mit Beispiel.",
            shown(first),
            known()
        )),
    }
}

fn release_command(rest: &[&str]) -> Result<Command, String> {
    let (programme, rest) = programme(rest);
    match norm_all(rest).as_slice() {
        [w] if w == "einladungen" => Ok(Command::ReleaseInvitations { programme }),
        [w] if w == "bescheide" || w == "entscheidungen" => {
            Ok(Command::ReleaseNotices { programme })
        }
        _ => Err("Bitte „FREIGEBEN EINLADUNGEN“ oder „FREIGEBEN BESCHEIDE“ schreiben.".into()),
    }
}

fn plan_command(rest: &[&str]) -> Result<Command, String> {
    let (programme, rest) = programme(rest);
    match norm_all(rest).as_slice() {
        [] => Ok(Command::ShowPlan { programme }),
        [w] if w == "gespraeche" => Ok(Command::ShowPlan { programme }),
        _ => Err("Bitte nur „PLAN“ oder „PLAN GESPRÄCHE“ schreiben.".into()),
    }
}

fn preview_command(rest: &[&str]) -> Result<Command, String> {
    let (programme, rest) = programme(rest);
    match norm_all(rest).as_slice() {
        [] => Ok(Command::Preview { programme }),
        [w] if w == "bescheide" => Ok(Command::Preview { programme }),
        _ => Err("Bitte nur „VORSCHAU“ oder „VORSCHAU BESCHEIDE“ schreiben.".into()),
    }
}

fn overview_command(rest: &[&str]) -> Result<Command, String> {
    let (programme, rest) = programme(rest);
    nothing_more(rest)?;
    Ok(Command::Overview { programme })
}

fn help_command(rest: &[&str]) -> Result<Command, String> {
    nothing_more(rest)?;
    Ok(Command::Help)
}

fn accept_command(rest: &[&str]) -> Result<Command, String> {
    let (reference, rest) = reference(rest)?;
    Ok(Command::Accept {
        reference,
        persons: persons(rest)?,
    })
}

fn reject_command(rest: &[&str]) -> Result<Command, String> {
    let (reference, rest) = reference(rest)?;
    nothing_more(rest)?;
    Ok(Command::Reject { reference })
}

fn waitlist_command(rest: &[&str]) -> Result<Command, String> {
    let (reference, rest) = reference(rest)?;
    nothing_more(rest)?;
    Ok(Command::Waitlist { reference })
}

fn cancel_interview_command(rest: &[&str]) -> Result<Command, String> {
    let (reference, rest) = reference(rest)?;
    nothing_more(rest)?;
    Ok(Command::CancelInterview { reference })
}

fn move_command(rest: &[&str]) -> Result<Command, String> {
    let (reference, rest) = reference(rest)?;
    let Some((day, rest)) = rest.split_first() else {
        return Err("Datum und Uhrzeit fehlen (z. B. 30.06.2026 10:00).".into());
    };
    Ok(Command::Move {
        reference,
        date: date(day)?,
        time: time(rest)?,
    })
}

fn correct_command(rest: &[&str]) -> Result<Command, String> {
    let Some((word, rest)) = rest.split_first() else {
        return Err(
            "Nach KORREKTUR fehlt ZUSAGE, ABSAGE oder WARTELISTE und das Aktenzeichen.".into(),
        );
    };
    let outcome = match norm(word).as_str() {
        "zusage" => Outcome::Accept,
        "absage" => Outcome::Reject,
        "warteliste" => Outcome::Waitlist,
        _ => {
            return Err(format!(
                "Nach KORREKTUR muss ZUSAGE, ABSAGE oder WARTELISTE stehen, nicht „{}“.",
                shown(word)
            ));
        }
    };
    let (reference, rest) = reference(rest)?;
    let persons = if outcome == Outcome::Accept {
        persons(rest)?
    } else {
        nothing_more(rest)?;
        1
    };
    Ok(Command::Correct {
        outcome,
        reference,
        persons,
    })
}

fn confirm_event_command(rest: &[&str]) -> Result<Command, String> {
    let (programme, rest) = programme(rest);
    Ok(Command::ConfirmEvent {
        programme,
        event: event_key(rest)?,
    })
}

fn cancel_event_command(rest: &[&str]) -> Result<Command, String> {
    let (programme, rest) = programme(rest);
    Ok(Command::CancelEvent {
        programme,
        event: event_key(rest)?,
    })
}

/// "ZUORDNEN 42 EWS8": a message number and a programme code.
fn route_command(rest: &[&str]) -> Result<Command, String> {
    let hint = "Bitte „ZUORDNEN 42 EWS8“ schreiben (Nummer der Nachricht, Programmkürzel).";
    let [message, programme] = rest else {
        return Err(hint.into());
    };
    let message: i64 = message
        .trim_start_matches(['#', '('])
        .trim_end_matches(')')
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| hint.to_string())?;
    let programme = programme.to_ascii_uppercase();
    if !is_code(&programme) {
        return Err(format!(
            "„{}“ ist kein Programmkürzel. {hint}",
            shown(&programme)
        ));
    }
    Ok(Command::Route { message, programme })
}

/// A word in lower case with umlauts and ß written out (ä → ae, ß → ss).
fn norm(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars().flat_map(char::to_lowercase) {
        match c {
            'ä' => out.push_str("ae"),
            'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            c => out.push(c),
        }
    }
    out
}

fn norm_all(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| norm(w)).collect()
}

/// A word as repeated in an error reason: sanitised and short.
fn shown(word: &str) -> String {
    HeaderText::sanitize(word, 40).to_string()
}

fn nothing_more(rest: &[&str]) -> Result<(), String> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "Unerwartet nach dem Befehl: „{}“.",
            shown(&rest.join(" "))
        ))
    }
}

/// The reference as the first word: `[A-Za-z0-9]+-\d{1,6}`, returned in
/// upper case, with the words after it.
fn reference<'a, 'b>(words: &'a [&'b str]) -> Result<(String, &'a [&'b str]), String> {
    let Some((word, rest)) = words.split_first() else {
        return Err("Das Aktenzeichen fehlt (z. B. EWS7-0003).".into());
    };
    let valid = word.split_once('-').is_some_and(|(prefix, number)| {
        (1..=MAX_PREFIX).contains(&prefix.len())
            && prefix.bytes().all(|b| b.is_ascii_alphanumeric())
            && (1..=MAX_NUMBER_DIGITS).contains(&number.len())
            && number.bytes().all(|b| b.is_ascii_digit())
    });
    if valid {
        Ok((word.to_ascii_uppercase(), rest))
    } else {
        Err(format!(
            "„{}“ ist kein Aktenzeichen (Form: EWS7-0003).",
            shown(word)
        ))
    }
}

/// "", "2 PERSONEN", "ZWEI PERSONEN", "1 PERSON", "für 2 Personen".
fn persons(rest: &[&str]) -> Result<u8, String> {
    let words = norm_all(rest);
    let words = match words.split_first() {
        Some((first, tail)) if first == "fuer" => tail,
        _ => words.as_slice(),
    };
    let bad = || {
        Err(format!(
            "Personenzahl nicht verstanden: „{}“ (erlaubt: 1 PERSON oder 2 PERSONEN).",
            shown(&rest.join(" "))
        ))
    };
    match words {
        [] => Ok(1),
        [count, unit] if unit == "person" || unit == "personen" => match count.as_str() {
            "1" | "ein" | "eine" | "einer" => Ok(1),
            "2" | "zwei" => Ok(2),
            _ => bad(),
        },
        _ => bad(),
    }
}

/// `30.06.2026` or `30.6.2026`; the date must exist.
fn date(word: &str) -> Result<NaiveDate, String> {
    let bad = || {
        format!(
            "Ungültiges Datum „{}“ (Form: TT.MM.JJJJ, z. B. 30.06.2026).",
            shown(word)
        )
    };
    let mut parts = word.split('.');
    let (Some(d), Some(m), Some(y), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let d = digits(d, 1, 2).ok_or_else(bad)?;
    let m = digits(m, 1, 2).ok_or_else(bad)?;
    let y = digits(y, 4, 4).ok_or_else(bad)?;
    let y = i32::try_from(y).map_err(|_| bad())?;
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(bad)
}

/// `10:00`, `10.00`, `9:30`, optionally followed by `Uhr`; or `10 Uhr`.
fn time(rest: &[&str]) -> Result<NaiveTime, String> {
    let (word, with_uhr) = match rest {
        [] => return Err("Die Uhrzeit fehlt (z. B. 10:00).".into()),
        [t] => (*t, false),
        [t, uhr] if norm(uhr) == "uhr" => (*t, true),
        _ => {
            return Err(format!(
                "Unerwartet nach der Uhrzeit: „{}“.",
                shown(&rest.get(1..).unwrap_or_default().join(" "))
            ));
        }
    };
    let bad = || {
        format!(
            "Ungültige Uhrzeit „{}“ (Form: HH:MM, z. B. 10:00).",
            shown(word)
        )
    };
    let (h, m) = match word.split_once([':', '.']) {
        Some((h, m)) => (h, digits(m, 2, 2).ok_or_else(bad)?),
        None if with_uhr => (word, 0),
        None => return Err(bad()),
    };
    let h = digits(h, 1, 2).ok_or_else(bad)?;
    NaiveTime::from_hms_opt(h, m, 0).ok_or_else(bad)
}

/// An ASCII number of `min..=max` digits.
fn digits(s: &str, min: usize, max: usize) -> Option<u32> {
    if (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn takeover_commands_with_and_without_programme() {
        let one = |text: &str| parse(text).commands;
        assert_eq!(
            one("TERMINÜBERSICHT SENDEN"),
            vec![Command::Welcome { programme: None }]
        );
        assert_eq!(
            one("terminuebersicht senden ews7"),
            vec![Command::Welcome {
                programme: Some("EWS7".into())
            }]
        );
        assert_eq!(
            one("Teilnehmer Import EWS8."),
            vec![Command::ImportRoster {
                programme: Some("EWS8".into())
            }]
        );
        assert_eq!(
            one("TEILNEHMER IMPORT"),
            vec![Command::ImportRoster { programme: None }]
        );
        for bad in [
            "TERMINÜBERSICHT",
            "TEILNEHMER EXPORT",
            "TEILNEHMER IMPORT EWS-7",
            "TERMINÜBERSICHT SENDEN EWS7 X",
        ] {
            let parsed = parse(bad);
            assert!(parsed.commands.is_empty(), "{bad}");
            assert_eq!(parsed.errors.len(), 1, "{bad}");
        }
    }

    use super::*;

    fn one(line: &str) -> Command {
        let p = parse(line);
        assert!(p.errors.is_empty(), "{line:?}: {:?}", p.errors);
        assert_eq!(p.commands.len(), 1, "{line:?}");
        p.commands[0].clone()
    }

    fn error(line: &str) -> String {
        let p = parse(line);
        assert!(p.commands.is_empty(), "{line:?}: {:?}", p.commands);
        assert_eq!(p.errors.len(), 1, "{line:?}");
        p.errors[0].reason.clone()
    }

    fn r(s: &str) -> String {
        s.to_string()
    }

    /// One command of every variant. The match below has no wildcard: a new
    /// variant does not compile until it is added here, and then the test
    /// below demands a row in [`COMMANDS`] for it.
    fn one_of_each() -> Vec<Command> {
        use super::{Ownership, Privacy};
        let reference = || r("EWS7-0003");
        let all = vec![
            Command::ReleaseInvitations { programme: None },
            Command::ReleaseNotices { programme: None },
            Command::ShowPlan { programme: None },
            Command::Preview { programme: None },
            Command::Accept {
                reference: reference(),
                persons: 1,
            },
            Command::Reject {
                reference: reference(),
            },
            Command::Waitlist {
                reference: reference(),
            },
            Command::Move {
                reference: reference(),
                date: NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
                time: NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
            },
            Command::CancelInterview {
                reference: reference(),
            },
            Command::Correct {
                outcome: Outcome::Reject,
                reference: reference(),
                persons: 1,
            },
            Command::ConfirmEvent {
                programme: None,
                event: r("module-3"),
            },
            Command::CancelEvent {
                programme: None,
                event: r("module-3"),
            },
            Command::Overview { programme: None },
            Command::Help,
            Command::Ownership(Ownership::Link {
                reference: reference(),
                address: r("a@b.de"),
            }),
            Command::Ownership(Ownership::Merge {
                from: reference(),
                into: reference(),
            }),
            Command::Ownership(Ownership::Keep {
                reference: reference(),
            }),
            Command::Ownership(Ownership::Address {
                reference: reference(),
                confirm: true,
            }),
            Command::Ownership(Ownership::Address {
                reference: reference(),
                confirm: false,
            }),
            Command::Privacy(Privacy::ErasePreview {
                reference: reference(),
            }),
            Command::Privacy(Privacy::Erase {
                reference: reference(),
            }),
            Command::Privacy(Privacy::Export {
                reference: reference(),
            }),
            Command::Welcome { programme: None },
            Command::ImportRoster { programme: None },
            Command::Route {
                message: 42,
                programme: "EWS8".into(),
            },
        ];
        for c in &all {
            let _ = kind(c);
        }
        all
    }

    /// The variant of a command, as a name; no wildcard (see [`one_of_each`]).
    fn kind(c: &Command) -> String {
        use super::{Ownership as O, Privacy as P};
        match c {
            Command::ReleaseInvitations { .. } => "ReleaseInvitations".into(),
            Command::ReleaseNotices { .. } => "ReleaseNotices".into(),
            Command::ShowPlan { .. } => "ShowPlan".into(),
            Command::Preview { .. } => "Preview".into(),
            Command::Accept { .. } => "Accept".into(),
            Command::Reject { .. } => "Reject".into(),
            Command::Waitlist { .. } => "Waitlist".into(),
            Command::Move { .. } => "Move".into(),
            Command::CancelInterview { .. } => "CancelInterview".into(),
            Command::Correct { .. } => "Correct".into(),
            Command::ConfirmEvent { .. } => "ConfirmEvent".into(),
            Command::CancelEvent { .. } => "CancelEvent".into(),
            Command::Overview { .. } => "Overview".into(),
            Command::Help => "Help".into(),
            Command::Ownership(O::Link { .. }) => "Link".into(),
            Command::Ownership(O::Merge { .. }) => "Merge".into(),
            Command::Ownership(O::Keep { .. }) => "Keep".into(),
            Command::Ownership(O::Address { confirm, .. }) => format!("Address({confirm})"),
            Command::Privacy(P::ErasePreview { .. }) => "ErasePreview".into(),
            Command::Privacy(P::Erase { .. }) => "Erase".into(),
            Command::Privacy(P::Export { .. }) => "Export".into(),
            Command::Welcome { .. } => "Welcome".into(),
            Command::ImportRoster { .. } => "ImportRoster".into(),
            Command::Route { .. } => "Route".into(),
        }
    }

    #[test]
    fn every_example_in_the_table_parses_to_its_command() {
        for spec in COMMANDS {
            let parsed = one(spec.example);
            // the row's own reader agrees with the dispatch
            let words: Vec<&str> = spec.example.split_whitespace().collect();
            assert_eq!(norm(words[0]), spec.verb, "{}", spec.syntax);
            assert_eq!(
                (spec.parse)(&words[1..]),
                Ok(parsed.clone()),
                "{}",
                spec.syntax
            );
            // the syntax starts with the same word as the example
            let syntax_first = spec.syntax.split(' ').next().unwrap();
            assert_eq!(norm(syntax_first), spec.verb, "{}", spec.syntax);
            assert!(!spec.description.is_empty());
            assert!(!parsed.describe().is_empty());
        }
        // rows sharing a first word share the reader
        for a in COMMANDS {
            for b in COMMANDS.iter().filter(|b| b.verb == a.verb) {
                assert_eq!(a.parse as usize, b.parse as usize, "{}", a.syntax);
            }
        }
    }

    #[test]
    fn hilfe_lists_every_row_and_every_variant() {
        assert_eq!(one("HILFE"), Command::Help);
        assert_eq!(one("hilfe."), Command::Help);
        assert!(error("HILFE BITTE").contains("Unerwartet"));
        let help = help_lines().join("\n");
        for spec in COMMANDS {
            assert!(help.contains(spec.syntax), "{}", spec.syntax);
            assert!(help.contains(spec.description), "{}", spec.syntax);
            assert!(
                help.contains(&format!("Beispiel: {}", spec.example)),
                "{}",
                spec.syntax
            );
        }
        let listed: Vec<String> = COMMANDS.iter().map(|s| kind(&one(s.example))).collect();
        for command in one_of_each() {
            assert!(
                listed.contains(&kind(&command)),
                "{command:?} has no row in COMMANDS (and so is missing from HILFE)"
            );
        }
        // and the unknown-command reason names every first word
        let reason = error("QUATSCH");
        for spec in COMMANDS {
            assert!(
                reason.contains(spec.syntax.split(' ').next().unwrap()),
                "{reason}"
            );
        }
        assert!(reason.contains("HILFE"));
    }

    #[test]
    fn programme_codes_after_the_verb() {
        let code = |c: &str| Some(r(c));
        assert_eq!(
            one("FREIGEBEN EWS7 EINLADUNGEN"),
            Command::ReleaseInvitations {
                programme: code("EWS7")
            }
        );
        assert_eq!(
            one("freigeben ews8 bescheide"),
            Command::ReleaseNotices {
                programme: code("EWS8")
            }
        );
        assert_eq!(
            one("PLAN EWS7"),
            Command::ShowPlan {
                programme: code("EWS7")
            }
        );
        assert_eq!(
            one("PLAN EWS7 GESPRÄCHE"),
            Command::ShowPlan {
                programme: code("EWS7")
            }
        );
        assert_eq!(
            one("VORSCHAU EWS8 BESCHEIDE"),
            Command::Preview {
                programme: code("EWS8")
            }
        );
        assert_eq!(
            one("BESTÄTIGEN EWS7 MODUL 3"),
            Command::ConfirmEvent {
                programme: code("EWS7"),
                event: r("module-3")
            }
        );
        assert_eq!(
            one("ABSAGEN EWS7 LERNGRUPPE 4"),
            Command::CancelEvent {
                programme: code("EWS7"),
                event: r("learning-group-4")
            }
        );
        assert_eq!(one("ÜBERSICHT"), Command::Overview { programme: None });
        assert_eq!(one("Uebersicht"), Command::Overview { programme: None });
        assert_eq!(
            one("übersicht ews7"),
            Command::Overview {
                programme: code("EWS7")
            }
        );
        assert_eq!(one("ÜBERSICHT EWS7").programme(), Some("EWS7"));
        assert_eq!(one("PLAN").programme(), None);
        assert_eq!(
            one("BESTÄTIGEN EWS7 MODUL 3").describe(),
            "Termin Modul 3 (EWS7) bestätigen"
        );
        // the rule: 2..=16 ASCII letters/digits, a letter first, a digit in it
        for good in ["EWS7", "ews8", "E7", "A1B2", "KOMM2027", "X234567890123456"] {
            assert!(programme_code(good).is_some(), "{good}");
        }
        for bad in [
            "EINLADUNGEN",
            "BESCHEIDE",
            "MODUL",
            "GESPRÄCHE",
            "7EWS",
            "7",
            "E",
            "EWS-7",
            "EWS7-0003",
            "ÄWS7",
            "X2345678901234567",
            "",
        ] {
            assert!(programme_code(bad).is_none(), "{bad}");
        }
        // not a code, not a known word: the usual hints
        assert!(error("FREIGEBEN EWS EINLADUNGEN").contains("FREIGEBEN EINLADUNGEN"));
        assert!(error("PLAN EWS7 MORGEN").contains("PLAN"));
        assert!(error("BESTÄTIGEN EWS7").contains("MODUL 3"));
        assert!(error("ÜBERSICHT EWS7 EWS8").contains("Unerwartet"));
        assert!(error("ÜBERSICHT ALLES").contains("Unerwartet"));
        // commands naming a reference take no code
        assert!(error("ZUSAGE EWS7 EWS7-0003").contains("kein Aktenzeichen"));
    }

    #[test]
    fn route_a_message_to_a_programme() {
        let route = |message, programme: &str| Command::Route {
            message,
            programme: programme.into(),
        };
        assert_eq!(one("ZUORDNEN 42 EWS8"), route(42, "EWS8"));
        assert_eq!(one("zuordnen #7 ews8"), route(7, "EWS8"));
        assert!(error("ZUORDNEN EWS8").contains("ZUORDNEN 42 EWS8"));
        assert!(error("ZUORDNEN 0 EWS8").contains("ZUORDNEN 42 EWS8"));
        assert!(error("ZUORDNEN 4 EWS-8").contains("kein Programmkürzel"));
        assert!(error("ZUORDNEN 4 EWS8 EWS7").contains("ZUORDNEN 42 EWS8"));
    }

    #[test]
    fn release_plan_and_preview() {
        assert_eq!(
            one("FREIGEBEN EINLADUNGEN"),
            Command::ReleaseInvitations { programme: None }
        );
        assert_eq!(
            one("freigeben einladungen"),
            Command::ReleaseInvitations { programme: None }
        );
        assert_eq!(
            one("Freigeben Bescheide"),
            Command::ReleaseNotices { programme: None }
        );
        assert_eq!(
            one("FREIGEBEN ENTSCHEIDUNGEN"),
            Command::ReleaseNotices { programme: None }
        );
        assert_eq!(one("PLAN"), Command::ShowPlan { programme: None });
        assert_eq!(one("Plan Gespräche"), Command::ShowPlan { programme: None });
        assert_eq!(
            one("PLAN GESPRAECHE"),
            Command::ShowPlan { programme: None }
        );
        assert_eq!(one("PLAN GESPRÄCHE"), Command::ShowPlan { programme: None });
        assert_eq!(one("VORSCHAU"), Command::Preview { programme: None });
        assert_eq!(
            one("Vorschau Bescheide"),
            Command::Preview { programme: None }
        );
        assert!(error("FREIGEBEN").contains("FREIGEBEN EINLADUNGEN"));
        assert!(error("FREIGEBEN ALLES").contains("FREIGEBEN BESCHEIDE"));
        assert!(error("PLAN MORGEN").contains("PLAN"));
    }

    #[test]
    fn decisions_with_persons() {
        assert_eq!(
            one("ZUSAGE EWS7-0003"),
            Command::Accept {
                reference: r("EWS7-0003"),
                persons: 1
            }
        );
        assert_eq!(
            one("zusage ews7-0003 2 Personen"),
            Command::Accept {
                reference: r("EWS7-0003"),
                persons: 2
            }
        );
        assert_eq!(
            one("Zusage EWS7-0003 zwei Personen."),
            Command::Accept {
                reference: r("EWS7-0003"),
                persons: 2
            }
        );
        assert_eq!(
            one("ZUSAGE EWS7-12 für 1 Person"),
            Command::Accept {
                reference: r("EWS7-12"),
                persons: 1
            }
        );
        assert_eq!(
            one("ABSAGE EWS7-0004"),
            Command::Reject {
                reference: r("EWS7-0004")
            }
        );
        assert_eq!(
            one("Warteliste EWS7-0005"),
            Command::Waitlist {
                reference: r("EWS7-0005")
            }
        );
        assert_eq!(
            one("STORNIEREN EWS7-0006"),
            Command::CancelInterview {
                reference: r("EWS7-0006")
            }
        );
        assert!(error("ZUSAGE EWS7-0003 3 PERSONEN").contains("Personenzahl"));
        assert!(error("ZUSAGE EWS7-0003 2").contains("Personenzahl"));
        assert!(error("ABSAGE EWS7-0003 bitte").contains("Unerwartet"));
    }

    #[test]
    fn reference_missing_or_malformed_is_an_error() {
        assert!(error("ZUSAGE").contains("Aktenzeichen fehlt"));
        assert!(error("ABSAGE").contains("Aktenzeichen fehlt"));
        assert!(error("ZUSAGE 3").contains("kein Aktenzeichen"));
        assert!(error("ZUSAGE EWS 7-0003").contains("kein Aktenzeichen"));
        assert!(error("ZUSAGE EWS7-").contains("kein Aktenzeichen"));
        assert!(error("ZUSAGE -0003").contains("kein Aktenzeichen"));
        assert!(error("ZUSAGE EWS7-0003-1").contains("kein Aktenzeichen"));
        assert!(error("ZUSAGE EWS7-1234567").contains("kein Aktenzeichen"));
        assert!(error("ZUSAGE EWS7–0003").contains("kein Aktenzeichen"));
        assert!(error("ZUSAGE ÄWS7-0003").contains("kein Aktenzeichen"));
    }

    #[test]
    fn move_with_date_and_time_variants() {
        let expected = Command::Move {
            reference: r("EWS7-0003"),
            date: NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
            time: NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
        };
        for line in [
            "VERSCHIEBEN EWS7-0003 30.06.2026 10:00",
            "Verschieben ews7-0003 30.6.2026 10.00",
            "verschieben EWS7-0003 30.06.2026 10:00 Uhr",
            "VERSCHIEBEN EWS7-0003 30.06.2026 10 Uhr",
            "  VERSCHIEBEN   EWS7-0003\t30.06.2026 10:00 Uhr.  ",
        ] {
            assert_eq!(one(line), expected, "{line}");
        }
        assert_eq!(
            one("VERSCHIEBEN EWS7-0003 1.7.2026 9:30"),
            Command::Move {
                reference: r("EWS7-0003"),
                date: NaiveDate::from_ymd_opt(2026, 7, 1).unwrap(),
                time: NaiveTime::from_hms_opt(9, 30, 0).unwrap(),
            }
        );
    }

    #[test]
    fn impossible_dates_and_times_are_errors() {
        assert!(error("VERSCHIEBEN EWS7-0003 31.02.2026 10:00").contains("Ungültiges Datum"));
        assert!(error("VERSCHIEBEN EWS7-0003 30.06.26 10:00").contains("Ungültiges Datum"));
        assert!(error("VERSCHIEBEN EWS7-0003 2026-06-30 10:00").contains("Ungültiges Datum"));
        assert!(error("VERSCHIEBEN EWS7-0003 30.06.2026 25:00").contains("Ungültige Uhrzeit"));
        assert!(error("VERSCHIEBEN EWS7-0003 30.06.2026 10:7").contains("Ungültige Uhrzeit"));
        assert!(error("VERSCHIEBEN EWS7-0003 30.06.2026 10").contains("Ungültige Uhrzeit"));
        assert!(error("VERSCHIEBEN EWS7-0003 30.06.2026").contains("Uhrzeit fehlt"));
        assert!(error("VERSCHIEBEN EWS7-0003").contains("Datum und Uhrzeit fehlen"));
        assert!(error("VERSCHIEBEN EWS7-0003 30.06.2026 10:00 Uhr morgens").contains("Unerwartet"));
    }

    #[test]
    fn corrections() {
        assert_eq!(
            one("KORREKTUR ZUSAGE EWS7-0003 2 PERSONEN"),
            Command::Correct {
                outcome: Outcome::Accept,
                reference: r("EWS7-0003"),
                persons: 2
            }
        );
        assert_eq!(
            one("Korrektur Absage EWS7-0003"),
            Command::Correct {
                outcome: Outcome::Reject,
                reference: r("EWS7-0003"),
                persons: 1
            }
        );
        assert_eq!(
            one("korrektur warteliste ews7-0003"),
            Command::Correct {
                outcome: Outcome::Waitlist,
                reference: r("EWS7-0003"),
                persons: 1
            }
        );
        assert!(error("KORREKTUR ABSAGE EWS7-0003 2 PERSONEN").contains("Unerwartet"));
        assert!(error("KORREKTUR").contains("fehlt"));
        assert!(error("KORREKTUR VIELLEICHT EWS7-0003").contains("VIELLEICHT"));
        assert!(error("KORREKTUR ZUSAGE").contains("Aktenzeichen fehlt"));
    }

    #[test]
    fn unknown_words_are_errors_and_good_lines_still_count() {
        let p = parse("Hallo,\n\nZUSAGE EWS7-0003\nABSAGE EWS7-0004\n");
        assert_eq!(p.commands.len(), 2);
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].line, "Hallo,");
        assert!(p.errors[0].reason.starts_with("Unbekannter Befehl „Hallo“"));
    }

    #[test]
    fn quoted_reply_and_signature_end_the_commands() {
        let body = "ZUSAGE EWS7-0003\r\n\
                    \r\n\
                    Am 12.06.2026 um 10:00 schrieb postbote <ews@example.de>:\r\n\
                    > ABSAGE EWS7-0004\r\n\
                    > FREIGEBEN BESCHEIDE\r\n";
        let p = parse(body);
        assert_eq!(p.commands.len(), 1);
        assert!(p.errors.is_empty());

        let p = parse("PLAN\n> FREIGEBEN BESCHEIDE\nABSAGE EWS7-0004\n");
        assert_eq!(p.commands, vec![Command::ShowPlan { programme: None }]);

        let p = parse("VORSCHAU\n-- \nMax Mustermann\nABSAGE EWS7-0004\n");
        assert_eq!(p.commands, vec![Command::Preview { programme: None }]);
        assert!(p.errors.is_empty());

        let p = parse("VORSCHAU\n--\nMax Mustermann\n");
        assert_eq!(p.commands, vec![Command::Preview { programme: None }]);

        for marker in [
            "-----Original Message-----",
            "-----Ursprüngliche Nachricht-----",
            "________________________________",
            "On Fri, Jun 12, 2026 at 10:00 AM postbote <ews@example.de> wrote:",
        ] {
            let p = parse(&format!("PLAN\n{marker}\nFREIGEBEN BESCHEIDE\n"));
            assert_eq!(
                p.commands,
                vec![Command::ShowPlan { programme: None }],
                "{marker}"
            );
            assert!(p.errors.is_empty(), "{marker}");
        }
    }

    #[test]
    fn secret_line_is_captured_and_never_echoed() {
        let p = parse("Kennwort: Sonnen Blume 42\nZUSAGE EWS7-0003\n");
        assert_eq!(p.secret.as_deref(), Some("Sonnen Blume 42"));
        assert_eq!(p.commands.len(), 1);
        assert!(p.errors.is_empty());
        assert!(!format!("{p:?}").contains("Sonnen"));

        assert_eq!(parse("GEHEIMWORT:abc").secret.as_deref(), Some("abc"));
        assert_eq!(parse("kennwort = abc").secret.as_deref(), Some("abc"));
        assert_eq!(parse("Kennwort abc").secret.as_deref(), Some("abc"));
        // the first one counts
        assert_eq!(
            parse("Kennwort: eins\nKennwort: zwei").secret.as_deref(),
            Some("eins")
        );
        // after the quote marker, nothing counts
        assert_eq!(parse("PLAN\n> Kennwort: alt").secret, None);

        let p = parse("Kennwort:");
        assert_eq!(p.secret, None);
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].line, SECRET_LINE_SHOWN);

        // "Kennwortänderung" is a word of its own, not a secret line
        let p = parse("Kennwortänderung");
        assert_eq!(p.secret, None);
        assert_eq!(p.errors.len(), 1);
    }

    #[test]
    fn caps_commands_and_errors_but_still_finds_the_secret() {
        let mut body = String::new();
        for i in 0..60 {
            body.push_str(&format!("ABSAGE EWS7-{i:04}\n"));
        }
        body.push_str("Kennwort: s3cret\n");
        let p = parse(&body);
        assert_eq!(p.commands.len(), MAX_COMMANDS);
        assert_eq!(p.errors.len(), 1);
        assert!(p.errors[0].reason.contains("Mehr als 50 Befehle"));
        assert_eq!(p.secret.as_deref(), Some("s3cret"));

        let p = parse(&"Quatsch\n".repeat(100));
        assert_eq!(p.errors.len(), MAX_ERRORS + 1);
    }

    #[test]
    fn error_lines_are_sanitised_and_short() {
        let long = format!("Unsinn\u{7}{}", "ü".repeat(1000));
        let p = parse(&long);
        assert_eq!(p.errors.len(), 1);
        assert!(p.errors[0].line.chars().count() <= MAX_LINE_SHOWN);
        assert!(!p.errors[0].line.contains('\u{7}'));
        assert!(p.errors[0].reason.chars().count() < 400);
    }

    #[test]
    fn describes_in_german() {
        assert_eq!(
            one("ZUSAGE EWS7-0003 2 PERSONEN").describe(),
            "Zusage für EWS7-0003 (2 Personen)"
        );
        assert_eq!(
            one("ZUSAGE EWS7-0003").describe(),
            "Zusage für EWS7-0003 (1 Person)"
        );
        assert_eq!(
            one("VERSCHIEBEN EWS7-0003 30.06.2026 10:00").describe(),
            "Gesprächstermin für EWS7-0003 auf Di., 30.06.2026, 10:00 Uhr legen"
        );
        assert_eq!(
            one("KORREKTUR ABSAGE EWS7-0003").describe(),
            "Korrektur: Absage für EWS7-0003"
        );
        assert_eq!(
            one("KORREKTUR ZUSAGE EWS7-0003").describe(),
            "Korrektur: Zusage für EWS7-0003 (1 Person)"
        );
        assert_eq!(one("PLAN").reference(), None);
        assert_eq!(one("ABSAGE ews7-0003").reference(), Some("EWS7-0003"));
    }

    #[test]
    fn never_panics_on_garbage() {
        let pieces = [
            "ZUSAGE",
            "VERSCHIEBEN",
            "KORREKTUR",
            "Kennwort",
            ":",
            "EWS7-",
            "0003",
            "31.02.",
            "2026",
            "10:",
            "Uhr",
            " ",
            "\n",
            "\r\n",
            ">",
            "-- ",
            "ä",
            "ß",
            "€",
            "𝄞",
            "\u{0}",
            "\u{202e}",
            "(",
            ")",
            "\"",
            "\\",
            ";",
            "=",
            ".",
            "-",
            "Am ",
            "schrieb",
            "\t",
            "PERSONEN",
            "zwei",
            "é",
            "ǅ",
            "İ",
        ];
        let seed = 0x2545_f491_4f6c_dd1d;
        let (mut next, mut last) = (crate::test_noise::xorshift(seed), seed);
        for _ in 0..3000 {
            let mut text = String::new();
            let n = (last % 40) as usize;
            for _ in 0..n {
                last = next();
                text.push_str(pieces[(last % pieces.len() as u64) as usize]);
            }
            let p = parse(&text);
            assert!(p.commands.len() <= MAX_COMMANDS);
            for e in &p.errors {
                assert!(e.line.chars().count() <= MAX_LINE_SHOWN);
            }
            for c in &p.commands {
                let _ = c.describe();
            }
        }
        let long = format!("ZUSAGE {}-1 {}", "A".repeat(200_000), "ä".repeat(200_000));
        assert_eq!(parse(&long).errors.len(), 1);
        let many_words = "x ".repeat(100_000);
        assert_eq!(parse(&many_words).errors.len(), 1);
        let _ = parse(&"\n".repeat(100_000));
        let _ = parse(&"Kennwort".repeat(10_000));
    }

    #[test]
    fn events_are_confirmed_and_cancelled_by_kind_and_number() {
        let p = parse(
            "Bestätigen Modul 3\nBESTAETIGEN LERNGRUPPE 4\nabsagen Präsenzmodul 2\nBESTÄTIGEN MODUL\n",
        );
        assert_eq!(
            p.commands,
            vec![
                Command::ConfirmEvent {
                    programme: None,
                    event: "module-3".into()
                },
                Command::ConfirmEvent {
                    programme: None,
                    event: "learning-group-4".into()
                },
                Command::CancelEvent {
                    programme: None,
                    event: "module-2".into()
                },
            ]
        );
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.commands[0].describe(), "Termin Modul 3 bestätigen");
    }

    #[test]
    fn a_programme_code_may_follow_the_verb() {
        let some = |c: &str| Some(c.to_string());
        assert_eq!(
            one("BESTÄTIGEN EWS7 MODUL 3"),
            Command::ConfirmEvent {
                event: "module-3".into(),
                programme: some("EWS7")
            }
        );
        assert_eq!(
            one("absagen ews8 Lerngruppe 2"),
            Command::CancelEvent {
                event: "learning-group-2".into(),
                programme: some("EWS8")
            }
        );
        assert_eq!(
            one("FREIGEBEN EWS8 EINLADUNGEN"),
            Command::ReleaseInvitations {
                programme: some("EWS8")
            }
        );
        assert_eq!(
            one("Freigeben EWS7 Bescheide"),
            Command::ReleaseNotices {
                programme: some("EWS7")
            }
        );
        assert_eq!(
            one("PLAN EWS8"),
            Command::ShowPlan {
                programme: some("EWS8")
            }
        );
        assert_eq!(
            one("PLAN EWS8 GESPRÄCHE"),
            Command::ShowPlan {
                programme: some("EWS8")
            }
        );
        assert_eq!(
            one("VORSCHAU EWS7"),
            Command::Preview {
                programme: some("EWS7")
            }
        );
        assert_eq!(
            one("VORSCHAU BESCHEIDE"),
            Command::Preview { programme: None }
        );
        assert_eq!(
            one("BESTÄTIGEN EWS7 MODUL 3").describe(),
            "Termin Modul 3 (EWS7) bestätigen"
        );
        assert_eq!(parse("FREIGEBEN EWS8 GESPRÄCHE").errors.len(), 1);
        assert_eq!(parse("BESTÄTIGEN EWS7 MODUL").errors.len(), 1);
    }

    #[test]
    fn ownership_commands() {
        use super::Ownership;
        assert_eq!(
            one("VERKNÜPFEN ews7-0003 <Name@Kommune.de>"),
            Command::Ownership(Ownership::Link {
                reference: r("EWS7-0003"),
                address: r("Name@Kommune.de")
            })
        );
        assert_eq!(
            one("Zusammenführen EWS7-0007 in EWS7-0003"),
            Command::Ownership(Ownership::Merge {
                from: r("EWS7-0007"),
                into: r("EWS7-0003")
            })
        );
        assert_eq!(
            one("ZUSAMMENFUEHREN EWS7-0007 MIT EWS7-0003."),
            Command::Ownership(Ownership::Merge {
                from: r("EWS7-0007"),
                into: r("EWS7-0003")
            })
        );
        assert_eq!(
            one("BEHALTEN EWS7-0007"),
            Command::Ownership(Ownership::Keep {
                reference: r("EWS7-0007")
            })
        );
        assert_eq!(
            one("Adresse bestätigen EWS7-0003"),
            Command::Ownership(Ownership::Address {
                reference: r("EWS7-0003"),
                confirm: true
            })
        );
        assert_eq!(
            one("ADRESSE ABLEHNEN EWS7-0003"),
            Command::Ownership(Ownership::Address {
                reference: r("EWS7-0003"),
                confirm: false
            })
        );
        assert!(error("VERKNÜPFEN EWS7-0003").contains("name@kommune.de"));
        assert!(error("VERKNÜPFEN EWS7-0003 kein-mail").contains("keine E-Mail-Adresse"));
        assert!(error("ZUSAMMENFÜHREN EWS7-0007 EWS7-0003").contains("IN EWS7-0003"));
        assert!(error("ADRESSE EWS7-0003").contains("ADRESSE BESTÄTIGEN"));
        assert!(error("BEHALTEN EWS7-0007 bitte").contains("Unerwartet"));
        assert_eq!(
            one("ZUSAMMENFÜHREN EWS7-0007 IN EWS7-0003").describe(),
            "EWS7-0007 in EWS7-0003 zusammenführen"
        );
    }

    #[test]
    fn privacy_commands() {
        use super::Privacy;
        for line in [
            "LÖSCHEN EWS7-0003",
            "loeschen ews7-0003",
            "Löschen EWS7-0003.",
        ] {
            assert_eq!(
                one(line),
                Command::Privacy(Privacy::ErasePreview {
                    reference: r("EWS7-0003")
                }),
                "{line}"
            );
        }
        for line in [
            "LÖSCHEN EWS7-0003 BESTÄTIGT",
            "LOESCHEN EWS7-0003 BESTAETIGT",
            "löschen ews7-0003 bestätigt.",
        ] {
            assert_eq!(
                one(line),
                Command::Privacy(Privacy::Erase {
                    reference: r("EWS7-0003")
                }),
                "{line}"
            );
        }
        assert_eq!(
            one("AUSKUNFT EWS7-0003"),
            Command::Privacy(Privacy::Export {
                reference: r("EWS7-0003")
            })
        );
        assert!(error("LÖSCHEN").contains("Aktenzeichen fehlt"));
        assert!(error("LÖSCHEN EWS7-0003 JA").contains("BESTÄTIGT"));
        assert!(error("LÖSCHEN EWS7-0003 BESTÄTIGT SOFORT").contains("BESTÄTIGT"));
        assert!(error("AUSKUNFT").contains("Aktenzeichen fehlt"));
        assert!(error("AUSKUNFT EWS7-0003 bitte").contains("Unerwartet"));
        assert_eq!(one("AUSKUNFT ews7-0003").reference(), Some("EWS7-0003"));
        assert_eq!(
            one("AUSKUNFT EWS7-0003").describe(),
            "Auskunft zu EWS7-0003"
        );
        // The confirmed erasure's reply must not name the application.
        assert!(
            !one("LÖSCHEN EWS7-0003 BESTÄTIGT")
                .describe()
                .contains("EWS7")
        );
    }
}
