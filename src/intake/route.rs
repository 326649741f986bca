//! Which programme an incoming mail is for (part 9: several programmes in
//! one mailbox).
//!
//! - A mail staff routed (`ZUORDNEN <n> CODE`, `messages.programme`) goes
//!   there, whatever else it says.
//! - Replies and commands follow what they name: the thread (In-Reply-To /
//!   References → a mail of ours → its application), or an application's
//!   reference (`EWS8-0001`); the application's programme it is.
//! - A new application goes to the one programme (not retired) its subject
//!   or questionnaire names (its code or short name, any case, with or without
//!   the space: "EWS 8", "ews8", "EWS-8"; never "EWS 80"). The questionnaire
//!   names its programme in its title, "Fragebogen zur Bewerbung – EWS 8"
//!   (`documents::forms`), which the document analysis reads as text; the
//!   generated file name (`Fragebogen-EWS-8.pdf`) counts too.
//! - Else to the programme whose call is open at the mail's INTERNALDATE;
//!   with none open, to the programme (not retired) whose deadline passed
//!   last: a late application, as with one programme.
//! - Two calls open and nothing names one: [`Route::Ambiguous`]; the mail is
//!   put to staff.
//!
//! With one programme configured every mail is for it.

use crate::config::{Programme, Programmes};
use crate::documents::analyse::{Analysis, Role};
use crate::intake::Incoming;
use crate::store::Tx;
use crate::store::{applications, outbox};
use chrono::{DateTime, Utc};

/// Where a new application mail goes.
#[derive(Debug)]
pub enum Route<'a> {
    To(&'a Programme),
    /// Several calls are open and the mail names none of them.
    Ambiguous(Vec<&'a Programme>),
}

/// The programme of an application mail (see the module).
pub async fn application<'a>(
    programmes: &'a Programmes,
    tx: &mut Tx<'_>,
    mail: &Incoming,
    analysis: &Analysis,
    received: DateTime<Utc>,
    routed: Option<&str>,
) -> anyhow::Result<Route<'a>> {
    if programmes.len() == 1 {
        return Ok(Route::To(programmes.first()));
    }
    if let Some(p) = routed.and_then(|code| programmes.get(code)) {
        return Ok(Route::To(p));
    }
    if let Some(p) = thread(programmes, tx, mail).await? {
        return Ok(Route::To(p));
    }
    if let Some(p) = referenced(programmes, tx, &mail.subject).await? {
        return Ok(Route::To(p));
    }
    // NOTE: a retired programme takes no new applications: naming it
    // counts for nothing (its thread and references still lead to it).
    let active = |found: Vec<&'a Programme>| -> Vec<&'a Programme> {
        found.into_iter().filter(|p| !p.retired).collect()
    };
    if let Some(p) = one(active(named(programmes, &mail.subject))) {
        return Ok(Route::To(p));
    }
    if let Some(p) = one(active(named_by_questionnaire(programmes, analysis))) {
        return Ok(Route::To(p));
    }
    Ok(by_calls(programmes, received))
}

/// The programme of a reply or a staff command: the application it names
/// (`application_id`, found from the thread by the caller), else the thread,
/// else the first reference in `text` of a stored application; None when
/// nothing names one.
pub async fn named_application<'a>(
    programmes: &'a Programmes,
    tx: &mut Tx<'_>,
    mail: &Incoming,
    application_id: Option<i64>,
    references: &[&str],
) -> anyhow::Result<Option<&'a Programme>> {
    if let Some(id) = application_id
        && let Some(a) = applications::get(tx, id).await?
        && let Some(p) = programmes.get(&a.programme)
    {
        return Ok(Some(p));
    }
    for r in references {
        if let Some(a) = applications::find(tx, r).await?
            && let Some(p) = programmes.get(&a.programme)
        {
            return Ok(Some(p));
        }
    }
    thread(programmes, tx, mail).await
}

/// The programme whose roster the sender of `mail` is on, when it is exactly
/// one: a participant imported without an application answering a reminder
/// or reporting an absence.
pub async fn roster_of_sender<'a>(
    programmes: &'a Programmes,
    tx: &mut Tx<'_>,
    mail: &Incoming,
) -> anyhow::Result<Option<&'a Programme>> {
    let Some(from) = &mail.from else {
        return Ok(None);
    };
    let codes = crate::store::participants::active_programmes_by_email(tx, &from.key()).await?;
    Ok(match codes.as_slice() {
        [code] => programmes.get(code),
        _ => None,
    })
}

/// The programme of the application a mail of ours was about, which `mail`
/// answers (In-Reply-To first, then References from the newest).
async fn thread<'a>(
    programmes: &'a Programmes,
    tx: &mut Tx<'_>,
    mail: &Incoming,
) -> anyhow::Result<Option<&'a Programme>> {
    let ids = mail.in_reply_to.iter().chain(mail.references.iter().rev());
    for id in ids {
        if let Some(ours) = outbox::by_message_id(tx, id).await?
            && let Some(app_id) = ours.application_id
            && let Some(a) = applications::get(tx, app_id).await?
            && let Some(p) = programmes.get(&a.programme)
        {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// The programme of the first stored application whose reference `text`
/// names (`EWS7-0003`).
async fn referenced<'a>(
    programmes: &'a Programmes,
    tx: &mut Tx<'_>,
    text: &str,
) -> anyhow::Result<Option<&'a Programme>> {
    for r in references_in(text) {
        if let Some(a) = applications::find(tx, &r).await?
            && let Some(p) = programmes.get(&a.programme)
        {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// Words shaped like a reference: letters and digits starting with a
/// letter, a hyphen, 1 to 6 digits (`EWS7-0003`).
pub fn references_in(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter_map(|w| {
            let w = w.trim_matches('-');
            let (prefix, number) = w.rsplit_once('-')?;
            let ok = (2..=16).contains(&prefix.len())
                && prefix.starts_with(|c: char| c.is_ascii_alphabetic())
                && prefix.chars().all(|c| c.is_ascii_alphanumeric())
                && (1..=6).contains(&number.len())
                && number.chars().all(|c| c.is_ascii_digit());
            ok.then(|| w.to_ascii_uppercase())
        })
        .collect()
}

/// The only element, if there is exactly one.
fn one<T>(mut items: Vec<T>) -> Option<T> {
    (items.len() == 1).then(|| items.remove(0))
}

/// The programmes `text` names by code or short name.
pub fn named<'a>(programmes: &'a Programmes, text: &str) -> Vec<&'a Programme> {
    let hay: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    programmes
        .iter()
        .filter(|p| {
            [p.code.as_str(), p.short_name.as_str()]
                .iter()
                .any(|name| names(&hay, &atoms(name)))
        })
        .collect()
}

/// The programmes the questionnaires of a mail name: in their title line
/// ("Fragebogen zur Bewerbung – EWS 8") or their file name.
fn named_by_questionnaire<'a>(
    programmes: &'a Programmes,
    analysis: &Analysis,
) -> Vec<&'a Programme> {
    let mut found: Vec<&Programme> = Vec::new();
    for doc in analysis
        .documents
        .iter()
        .filter(|d| d.role == Role::Questionnaire)
    {
        let mut texts = vec![doc.name.clone()];
        if let Some(ex) = &doc.extracted {
            texts.extend(
                ex.text
                    .lines()
                    .filter(|l| l.to_lowercase().contains("fragebogen"))
                    .take(3)
                    .map(str::to_string),
            );
        }
        for t in texts {
            for p in named(programmes, &t) {
                if !found.iter().any(|f| f.code == p.code) {
                    found.push(p);
                }
            }
        }
    }
    found
}

/// A name split into runs of letters and runs of digits, lower case:
/// "EWS 8" and "EWS8" both give ["ews", "8"].
fn atoms(name: &str) -> Vec<Vec<char>> {
    let mut out: Vec<Vec<char>> = Vec::new();
    let mut last: Option<bool> = None;
    for c in name.chars().flat_map(char::to_lowercase) {
        if !c.is_alphanumeric() {
            last = None;
            continue;
        }
        let digit = c.is_numeric();
        match out.last_mut() {
            Some(atom) if last == Some(digit) => atom.push(c),
            _ => out.push(vec![c]),
        }
        last = Some(digit);
    }
    out
}

/// Characters that may stand between the parts of a name ("EWS 8", "EWS-8").
fn separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '_' | '.' | '\u{2013}')
}

/// Whether `hay` contains the name made of `atoms` as a word of its own: not
/// inside a longer word or number ("EWS 80" does not name "EWS 8").
fn names(hay: &[char], atoms: &[Vec<char>]) -> bool {
    if atoms.is_empty() {
        return false;
    }
    (0..hay.len()).any(|start| {
        if start > 0 && hay[start - 1].is_alphanumeric() {
            return false;
        }
        let mut i = start;
        for (n, atom) in atoms.iter().enumerate() {
            if n > 0 {
                let mut skipped = 0;
                while i < hay.len() && separator(hay[i]) && skipped < 2 {
                    i += 1;
                    skipped += 1;
                }
            }
            if hay.len() < i + atom.len() || hay[i..i + atom.len()] != atom[..] {
                return false;
            }
            i += atom.len();
        }
        hay.get(i).is_none_or(|c| !c.is_alphanumeric())
    })
}

/// By the calls for applications at `received` (see the module).
fn by_calls(programmes: &Programmes, received: DateTime<Utc>) -> Route<'_> {
    let open = programmes.open_calls(received);
    match open.len() {
        1 => return Route::To(open[0]),
        0 => {}
        _ => return Route::Ambiguous(open),
    }
    let passed = programmes
        .active()
        .filter(|p| !p.is_on_time(received))
        .max_by_key(|p| p.deadline_end);
    // NOTE: no call open and no deadline passed (every call opens later):
    // the first programme that is not retired, as an early application.
    let p = passed
        .or_else(|| programmes.active().next())
        .unwrap_or(programmes.first());
    Route::To(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_found_with_or_without_its_space_and_never_inside_a_longer_one() {
        let hay = |t: &str| t.chars().flat_map(char::to_lowercase).collect::<Vec<_>>();
        let ews8 = atoms("EWS 8");
        assert_eq!(atoms("EWS8"), ews8);
        for yes in [
            "Bewerbung EWS 8",
            "Bewerbung EWS8",
            "bewerbung ews8!",
            "Fragebogen-EWS-8.pdf",
            "Fragebogen zur Bewerbung – EWS 8",
            "EWS8-0001",
            "(EWS  8)",
        ] {
            assert!(names(&hay(yes), &ews8), "{yes}");
        }
        for no in ["EWS 80", "EWS 7", "NEWS 8", "EWS 8a", "EWS", "EWS 18"] {
            assert!(!names(&hay(no), &ews8), "{no}");
        }
    }

    /// EWS 7 as shipped (deadline 19.06.2026) and an EWS 8 whose call opens
    /// on Mo., 01.03.2027 (deadline eleven years on).
    fn two() -> Programmes {
        let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/ews7.toml"));
        let shipped = std::fs::read_to_string(path).unwrap();
        let seven = Programme::parse(&shipped, path).unwrap();
        let eight = shipped
            .replace("2026-", "2037-")
            .replace("2027-", "2038-")
            .replace(
                "short_name = \"EWS 7\"",
                "short_name = \"EWS 8\"\ncall_opens = { weekday = \"Mo\", date = \"2027-03-01\" }",
            );
        let eight = Programme::parse(&eight, path).unwrap();
        Programmes::new(vec![seven, eight], path).unwrap()
    }

    fn code(route: Route<'_>) -> String {
        match route {
            Route::To(p) => p.code.clone(),
            Route::Ambiguous(open) => {
                let codes: Vec<&str> = open.iter().map(|p| p.code.as_str()).collect();
                format!("ambiguous {}", codes.join(" "))
            }
        }
    }

    #[test]
    fn the_open_call_decides_else_the_deadline_passed_last() {
        let mut ps = two();
        let at = |d: &str| {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .unwrap()
                .and_hms_opt(10, 0, 0)
                .unwrap()
                .and_utc()
        };
        assert_eq!(code(by_calls(&ps, at("2026-06-01"))), "EWS7");
        // Between the calls: EWS 7 late.
        assert_eq!(code(by_calls(&ps, at("2026-12-01"))), "EWS7");
        assert_eq!(code(by_calls(&ps, at("2027-03-01"))), "EWS8");
        assert_eq!(
            named(&ps, "Bewerbung EWS 8 / EWS8")
                .iter()
                .map(|p| p.code.as_str())
                .collect::<Vec<_>>(),
            ["EWS8"]
        );
        // Both open: EWS 8's call from 01.03.2027, an EWS 7 without one.
        for p in ps.iter_mut() {
            if p.code == "EWS7" {
                *p = Programme::parse(
                    &std::fs::read_to_string(concat!(
                        env!("CARGO_MANIFEST_DIR"),
                        "/config/ews7.toml"
                    ))
                    .unwrap()
                    .replace("2026-", "2037-")
                    .replace("2027-", "2038-"),
                    std::path::Path::new("ews7.toml"),
                )
                .unwrap();
            }
        }
        assert_eq!(code(by_calls(&ps, at("2027-03-02"))), "ambiguous EWS7 EWS8");
        // A retired programme's call is never open.
        ps.iter_mut().find(|p| p.code == "EWS7").unwrap().retired = true;
        assert_eq!(code(by_calls(&ps, at("2027-03-02"))), "EWS8");
    }

    #[test]
    fn references_are_read_from_a_subject() {
        assert_eq!(
            references_in("Re: Ihre Bewerbung (EWS7-0003), ews8-12 und X-1"),
            ["EWS7-0003", "EWS8-12"]
        );
    }
}
