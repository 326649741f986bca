//! Reviews an application's documents: what arrived, what is missing, what a
//! human must look at, and which interview dates suit the applicant.

use crate::calendar::german;
use crate::config::Programme;
use crate::documents::analyse::{Analysis, Role};
use crate::documents::boxes::{self, Unmapped, Why};
use crate::documents::dates::{self, Confidence, DateChoice};
use crate::store::documents::{self, NewFact};
use crate::store::{Tx, applications};

/// The state of an application after a mail, for the confirmation.
#[derive(Debug, Clone, Default)]
pub struct Review {
    pub complete: bool,
    /// German names of the missing documents.
    pub missing: Vec<String>,
    /// Names of files that could not be read.
    pub unreadable: Vec<String>,
    /// "Fragebogen: name.pdf" lines for the current documents.
    pub documents: Vec<String>,
    /// "Mo., 29.06.2026: möglich" lines.
    pub interview_choices: Vec<String>,
    /// Ticked boxes in this mail's questionnaire that map to no interview
    /// day: the confirmation asks the applicant to confirm the dates.
    pub unmapped_boxes: usize,
    /// Things staff should look at (German).
    pub flags: Vec<String>,
}

fn confidence(c: Confidence) -> &'static str {
    match c {
        Confidence::High => "high",
        Confidence::Medium => "medium",
        Confidence::Low => "low",
    }
}

fn role_de(role: &str) -> &'static str {
    match role {
        "questionnaire" => "Fragebogen",
        "motivation" => "Motivationsschreiben",
        _ => "Weitere Unterlage",
    }
}

/// German names of the required documents not among `current`; with
/// `readable_only`, a document that could not be read counts as missing.
pub fn missing(current: &[documents::Current], readable_only: bool) -> Vec<String> {
    let has = |role: &str| {
        current
            .iter()
            .any(|d| d.role == role && (!readable_only || d.problem.is_none()))
    };
    let mut out = Vec::new();
    if !has("questionnaire") {
        out.push("Fragebogen".to_string());
    }
    if !has("motivation") {
        out.push("einseitiges Motivationsschreiben".to_string());
    }
    out
}

/// What one mail says about the interview days.
#[derive(Debug, Clone, Default)]
pub struct DateReading {
    /// One choice per day, merged.
    pub choices: Vec<DateChoice>,
    /// Ticked questionnaire boxes that map to no day, with the document name.
    pub unmapped: Vec<(String, Unmapped)>,
}

/// Interview-date choices found in this mail (questionnaire checkboxes, then
/// the questionnaire's text and the mail body), and the ticked boxes that map
/// to no day (see [`boxes::read`]).
pub fn choices(analysis: &Analysis, programme: &Programme) -> DateReading {
    let days: Vec<_> = programme
        .interview_days
        .iter()
        .map(|d| d.slot.start.date_naive())
        .collect();
    let mut all = Vec::new();
    let mut unmapped = Vec::new();
    for doc in analysis
        .documents
        .iter()
        .filter(|d| d.role == Role::Questionnaire)
    {
        if let Some(ex) = &doc.extracted {
            let read = boxes::read(ex, &days);
            unmapped.extend(read.unmapped.into_iter().map(|u| (doc.name.clone(), u)));
            // NOTE: a form with not a single date ticked was not filled in
            // there; it says nothing, rather than "no date suits us".
            if ex.checkboxes.is_empty() {
                all.extend(dates::choices_from_text(&ex.text, &days));
            } else if read.choices.iter().any(|c| c.available) {
                all.extend(read.choices);
            }
        }
    }
    all.extend(dates::choices_from_text(&analysis.body, &days));
    DateReading {
        choices: dates::merge(all),
        unmapped,
    }
}

/// "Fragebogen.pdf, Seite 1: Kästchen „termin_3“ (daneben: „…“)".
fn unmapped_box(document: &str, u: &Unmapped) -> String {
    let page = u.page.map(|p| format!(", Seite {p}")).unwrap_or_default();
    let beside = u
        .beside
        .as_ref()
        .filter(|b| **b != u.label)
        .map(|b| format!(" (daneben: \u{201e}{b}\u{201c})"))
        .unwrap_or_default();
    let label = if u.label.trim().is_empty() {
        "ohne Beschriftung"
    } else {
        u.label.as_str()
    };
    format!("{document}{page}: Kästchen \u{201e}{label}\u{201c}{beside}")
}

/// Why a ticked box maps to no day, in German.
fn why_de(why: Why) -> String {
    match why {
        Why::NoDate => "weder das Kästchen noch der Text daneben nennt ein Datum".to_string(),
        Why::OtherDate(d) => format!(
            "es nennt den {}, der kein Gesprächstermin ist",
            german::format_date(d)
        ),
        Why::SeveralDays => "es nennt mehr als einen Gesprächstermin".to_string(),
    }
}

/// Stores this mail's documents and facts, then reviews the whole application.
/// `confirms` says whether the applicant gets a confirmation that asks about
/// dates (not for a late application), for the staff's notes.
pub async fn record(
    tx: &mut Tx<'_>,
    application_id: i64,
    message_row: i64,
    analysis: &Analysis,
    programme: &Programme,
    confirms: bool,
) -> anyhow::Result<Review> {
    documents::insert(tx, application_id, message_row, &analysis.documents).await?;
    for doc in analysis
        .documents
        .iter()
        .filter(|d| d.role == Role::Questionnaire)
    {
        let Some(ex) = &doc.extracted else { continue };
        for f in ex.fields.iter().filter(|f| !f.value.trim().is_empty()) {
            let name = format!("field:{}", f.name);
            let source = format!("{}: Formularfeld {}", doc.name, f.name);
            let fact = NewFact {
                name: &name,
                value: &f.value,
                source: &source,
                confidence: "high",
            };
            documents::add_fact(tx, application_id, message_row, &fact).await?;
        }
    }
    let mut unsure = Vec::new();
    let reading = choices(analysis, programme);
    for (n, (document, u)) in reading.unmapped.iter().enumerate() {
        let what = unmapped_box(document, u);
        let why = why_de(u.why);
        let asked = if confirms {
            " Die Eingangsbestätigung bittet die Kommune, ihre Termine zu bestätigen."
        } else {
            ""
        };
        unsure.push(format!(
            "{what} ist angekreuzt, ließ sich aber keinem Gesprächstermin zuordnen ({why}). \
             Bitte im Fragebogen nachsehen.{asked}"
        ));
        let name = format!("checkbox_unmapped:{}", n + 1);
        let source = format!("{what}: {why}");
        let fact = NewFact {
            name: &name,
            value: "angekreuzt, kein Termin zugeordnet",
            source: &source,
            confidence: "low",
        };
        documents::add_fact(tx, application_id, message_row, &fact).await?;
    }
    for c in reading.choices {
        if c.confidence == Confidence::Low {
            unsure.push(format!(
                "Termin {} unsicher gelesen: {}",
                german::format_date(c.day),
                c.source
            ));
        }
        let name = format!("interview:{}", c.day);
        let value = if c.available {
            "möglich"
        } else {
            "nicht möglich"
        };
        let fact = NewFact {
            name: &name,
            value,
            source: &c.source,
            confidence: confidence(c.confidence),
        };
        documents::add_fact(tx, application_id, message_row, &fact).await?;
    }
    let current = documents::current(tx, application_id).await?;
    let mut review = Review {
        flags: unsure,
        unmapped_boxes: reading.unmapped.len(),
        ..Review::default()
    };
    for d in &current {
        let (role, name) = (d.role.as_str(), &d.name);
        review.documents.push(format!("{}: {name}", role_de(role)));
        if let Some(p) = &d.problem {
            // Files of unknown type that are not application documents are only
            // shown to staff; anything else we ask the applicant to send again.
            if role != "other" || d.format != "unknown" {
                review.unreadable.push(name.clone());
            }
            review.flags.push(format!("{name}: {p}"));
        }
        if role == "motivation" && d.pages.is_some_and(|p| p > 1) {
            let pages = d.pages.unwrap_or_default();
            review.flags.push(format!(
                "Motivationsschreiben hat {pages} Seiten (erbeten: eine Seite)"
            ));
            let fact = NewFact {
                name: "flag:letter_pages",
                value: &pages.to_string(),
                source: name,
                confidence: "high",
            };
            documents::add_fact(tx, application_id, message_row, &fact).await?;
        }
    }
    review.missing = missing(&current, false);
    review.complete = missing(&current, true).is_empty();
    review.interview_choices = current_choices(tx, application_id).await?;
    applications::set_complete(tx, application_id, review.complete).await?;
    Ok(review)
}

/// The latest value of each interview-date fact, formatted in German.
async fn current_choices(tx: &mut Tx<'_>, application_id: i64) -> anyhow::Result<Vec<String>> {
    // The latest value of every fact, by name: the interview days among them.
    Ok(documents::latest_facts(tx, application_id)
        .await?
        .into_iter()
        .filter_map(|(name, (value, conf))| {
            let day =
                chrono::NaiveDate::parse_from_str(name.strip_prefix("interview:")?, "%Y-%m-%d")
                    .ok()?;
            let unsure = if conf == "low" {
                " (bitte bestätigen)"
            } else {
                ""
            };
            Some(format!("{}: {value}{unsure}", german::format_date(day)))
        })
        .collect())
}
