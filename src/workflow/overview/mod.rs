//! The overview staff work from: every application with what was read from
//! it, as a summary (for the `ÜBERSICHT` mail) and a spreadsheet
//! ([`sheet::xlsx`]), for one programme or for all.

pub mod sheet;

use crate::calendar::german;
use crate::store::Tx;
use crate::store::applications;
use crate::store::decisions::{NoticeState, Outcome};
use crate::store::interviews::InterviewState;
use crate::store::overview as stored;
use crate::store::parse_ts;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeMap;

/// One application, as a row of the spreadsheet.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub programme: String,
    pub reference: String,
    pub municipality: Option<String>,
    /// Stadt, Gemeinde, Kreis: the box ticked in the questionnaire.
    pub kind: Option<String>,
    pub applicant_name: Option<String>,
    pub applicant: String,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub second_person: Option<String>,
    pub supervisor_name: Option<String>,
    pub supervisor_email: Option<String>,
    pub hours: Option<Hours>,
    pub received: Option<DateTime<Utc>>,
    pub complete: bool,
    pub late: bool,
    /// The interview days ticked as possible, with the confidence of the
    /// reading in German ("sicher", "wahrscheinlich", "unsicher").
    pub interview_days: Vec<(NaiveDate, &'static str)>,
    /// The pinned, released or cancelled interview.
    pub interview: Option<(DateTime<Utc>, InterviewState)>,
    pub decision: Option<(Outcome, i64, NoticeState)>,
    /// "Fragebogen: fragebogen.pdf", the current documents.
    pub documents: Vec<String>,
    pub duplicate_of: Option<String>,
}

/// Hours per week as read: a number where the form says one.
#[derive(Debug, Clone, PartialEq)]
pub enum Hours {
    Number(f64),
    Text(String),
}

/// Everything the overview shows.
#[derive(Debug, Clone)]
pub struct Overview {
    /// The programme code asked for; `None`: all programmes.
    pub programme: Option<String>,
    pub rows: Vec<Row>,
    /// Active participants by programme code.
    pub participants: Vec<(String, i64)>,
    /// When it was made (for "held" interviews).
    pub at: DateTime<Utc>,
}

/// Reads the overview of `programme` (a code; `None`: all), merged
/// applications left out.
pub async fn collect(
    tx: &mut Tx<'_>,
    programme: Option<&str>,
    at: DateTime<Utc>,
) -> anyhow::Result<Overview> {
    let apps: Vec<applications::Application> = applications::list_tx(tx)
        .await?
        .into_iter()
        .filter(|a| a.merged_into.is_none())
        .filter(|a| programme.is_none_or(|p| a.programme == p))
        .collect();
    let mut facts: BTreeMap<i64, BTreeMap<String, (String, String)>> = BTreeMap::new();
    for f in stored::facts(tx, programme).await? {
        facts
            .entry(f.application_id)
            .or_default()
            .insert(f.name, (f.value, f.confidence));
    }
    let mut documents: BTreeMap<i64, Vec<stored::Document>> = BTreeMap::new();
    for d in stored::documents(tx, programme).await? {
        documents.entry(d.application_id).or_default().push(d);
    }
    let interviews: BTreeMap<i64, _> = stored::interviews(tx, programme)
        .await?
        .into_iter()
        .map(|i| (i.application_id, i))
        .collect();
    let decisions: BTreeMap<i64, _> = stored::decisions(tx, programme)
        .await?
        .into_iter()
        .map(|d| (d.application_id, d))
        .collect();
    let empty = BTreeMap::new();
    let rows = apps
        .into_iter()
        .map(|a| {
            let facts = facts.get(&a.id).unwrap_or(&empty);
            let field = |name: &str| {
                facts
                    .get(&format!("field:{name}"))
                    .map(|(v, _)| v.trim().to_string())
                    .filter(|v| !v.is_empty())
            };
            let docs = documents.get(&a.id).map(Vec::as_slice).unwrap_or_default();
            Row {
                municipality: a.municipality.clone().or_else(|| field("kommune_name")),
                kind: kind(docs),
                contact_name: field("person_name"),
                contact_email: field("person_email"),
                second_person: field("zweite_person_name"),
                supervisor_name: field("vorgesetzte_name"),
                supervisor_email: field("vorgesetzte_email"),
                hours: field("wochenstunden").map(|v| match hours(&v) {
                    Some(h) => Hours::Number(h),
                    None => Hours::Text(v),
                }),
                received: parse_ts(&a.received_at),
                complete: a.complete,
                late: a.late,
                interview_days: interview_days(facts),
                interview: interviews
                    .get(&a.id)
                    .and_then(|i| Some((i.start()?, i.state))),
                decision: decisions
                    .get(&a.id)
                    .map(|d| (d.outcome, d.persons, d.notice)),
                documents: docs
                    .iter()
                    .map(|d| format!("{}: {}", role_de(&d.role), d.name))
                    .collect(),
                duplicate_of: a.duplicate_of_reference.clone(),
                programme: a.programme,
                reference: a.reference,
                applicant_name: a.applicant_name,
                applicant: a.applicant,
            }
        })
        .collect();
    Ok(Overview {
        programme: programme.map(str::to_string),
        rows,
        participants: stored::participants(tx, programme).await?,
        at,
    })
}

/// Every programme code the database knows (to check a code staff named).
pub async fn codes(tx: &mut Tx<'_>) -> anyhow::Result<Vec<String>> {
    stored::codes(tx).await
}

fn role_de(role: &str) -> &'static str {
    match role {
        "questionnaire" => "Fragebogen",
        "motivation" => "Motivationsschreiben",
        _ => "Weitere Unterlage",
    }
}

/// The kinds of municipality whose box may be ticked in the questionnaire.
const KINDS: &[&str] = &["Stadt", "Gemeinde", "Kreis", "Landkreis"];

/// The kind ticked in the questionnaire ("Stadt"), several joined by ", ".
fn kind(docs: &[stored::Document]) -> Option<String> {
    let mut found: Vec<&'static str> = Vec::new();
    for d in docs.iter().filter(|d| d.role == "questionnaire") {
        let Some(json) = &d.extracted else { continue };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
            continue;
        };
        for c in v["checkboxes"].as_array().into_iter().flatten() {
            if !c["checked"].as_bool().unwrap_or(false) {
                continue;
            }
            let label = c["label"].as_str().unwrap_or("").trim();
            if let Some(k) = KINDS.iter().find(|k| k.eq_ignore_ascii_case(label))
                && !found.contains(k)
            {
                found.push(k);
            }
        }
    }
    (!found.is_empty()).then(|| found.join(", "))
}

/// "20", "19,5", "ca. 20 Std.", "20 Stunden" as a number of hours (0 to
/// 168); anything else is not a number.
pub fn hours(value: &str) -> Option<f64> {
    let v = value.trim().to_lowercase();
    let v = v
        .strip_prefix("ca.")
        .or(v.strip_prefix("ca "))
        .unwrap_or(&v);
    let v = v.trim();
    let v = ["stunden", "std.", "std", "h"]
        .iter()
        .find_map(|s| v.strip_suffix(s))
        .unwrap_or(v)
        .trim();
    if v.is_empty()
        || !v
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b',' || b == b'.')
    {
        return None;
    }
    let n: f64 = v.replace(',', ".").parse().ok()?;
    (n.is_finite() && (0.0..=168.0).contains(&n)).then_some(n)
}

/// The interview days ticked as possible (facts `interview:YYYY-MM-DD`).
fn interview_days(facts: &BTreeMap<String, (String, String)>) -> Vec<(NaiveDate, &'static str)> {
    facts
        .iter()
        .filter_map(|(name, (value, confidence))| {
            let day =
                NaiveDate::parse_from_str(name.strip_prefix("interview:")?, "%Y-%m-%d").ok()?;
            (value == "möglich").then(|| (day, confidence_de(confidence)))
        })
        .collect()
}

fn confidence_de(c: &str) -> &'static str {
    match c {
        "high" => "sicher",
        "medium" => "wahrscheinlich",
        _ => "unsicher",
    }
}

pub fn outcome_de(o: Outcome) -> &'static str {
    match o {
        Outcome::Accept => "Zusage",
        Outcome::Reject => "Absage",
        Outcome::Waitlist => "Warteliste",
    }
}

pub fn interview_state_de(s: InterviewState) -> &'static str {
    match s {
        InterviewState::Pinned => "festgelegt",
        InterviewState::Released => "eingeladen",
        InterviewState::Cancelled => "storniert",
    }
}

/// "29.06.2026 (sicher); 01.07.2026 (unsicher)".
pub fn days_text(days: &[(NaiveDate, &str)]) -> String {
    days.iter()
        .map(|(d, c)| format!("{} ({c})", d.format("%d.%m.%Y")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The counts the summary reports, for one programme or all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub applications: usize,
    pub complete: usize,
    pub late: usize,
    /// Pinned or released, still ahead.
    pub interviews_planned: usize,
    /// Released and begun.
    pub interviews_held: usize,
    pub interviews_cancelled: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub waitlisted: usize,
    pub notices_held: usize,
    pub participants: i64,
}

impl Overview {
    /// The programme codes shown, in order of first appearance.
    pub fn codes(&self) -> Vec<String> {
        let mut codes: Vec<String> = Vec::new();
        let all = self
            .rows
            .iter()
            .map(|r| &r.programme)
            .chain(self.participants.iter().map(|(c, _)| c));
        for c in all {
            if !codes.contains(c) {
                codes.push(c.clone());
            }
        }
        codes
    }

    /// The counts of one programme (`Some(code)`) or of all rows.
    pub fn counts(&self, code: Option<&str>) -> Counts {
        let mut c = Counts::default();
        for r in self
            .rows
            .iter()
            .filter(|r| code.is_none_or(|p| r.programme == p))
        {
            c.applications += 1;
            c.complete += usize::from(r.complete);
            c.late += usize::from(r.late);
            match r.interview {
                Some((_, InterviewState::Cancelled)) => c.interviews_cancelled += 1,
                Some((start, InterviewState::Released)) if start <= self.at => {
                    c.interviews_held += 1
                }
                Some((start, _)) if start > self.at => c.interviews_planned += 1,
                _ => {}
            }
            if let Some((outcome, _, notice)) = r.decision {
                match outcome {
                    Outcome::Accept => c.accepted += 1,
                    Outcome::Reject => c.rejected += 1,
                    Outcome::Waitlist => c.waitlisted += 1,
                }
                c.notices_held += usize::from(notice == NoticeState::Held);
            }
        }
        c.participants = self
            .participants
            .iter()
            .filter(|(p, _)| code.is_none_or(|code| p == code))
            .map(|(_, n)| n)
            .sum();
        c
    }

    /// The summary in German, one section per programme (and a total when
    /// there are several).
    pub fn summary(&self) -> Vec<String> {
        let codes = self.codes();
        let mut lines = Vec::new();
        if codes.is_empty() {
            lines.push("Noch keine Bewerbungen.".to_string());
            return lines;
        }
        for code in &codes {
            lines.push(format!("{code}:"));
            lines.extend(counts_lines(&self.counts(Some(code))));
        }
        if codes.len() > 1 {
            lines.push("Alle Programme:".into());
            lines.extend(counts_lines(&self.counts(None)));
        }
        lines.push(format!(
            "Stand: {}",
            german::format_datetime(&german::to_berlin(&self.at))
        ));
        lines
    }
}

fn counts_lines(c: &Counts) -> Vec<String> {
    vec![
        format!(
            "  Bewerbungen: {}, davon vollständig {}, verspätet {}",
            c.applications, c.complete, c.late
        ),
        format!(
            "  Gespräche: {} geplant, {} stattgefunden, {} storniert",
            c.interviews_planned, c.interviews_held, c.interviews_cancelled
        ),
        format!(
            "  Entscheidungen: {} Zusage, {} Absage, {} Warteliste ({} Bescheid(e) zurückgehalten)",
            c.accepted, c.rejected, c.waitlisted, c.notices_held
        ),
        format!("  Teilnehmende: {}", c.participants),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_are_numbers_where_the_form_says_one() {
        assert_eq!(hours("20"), Some(20.0));
        assert_eq!(hours("19,5"), Some(19.5));
        assert_eq!(hours(" ca. 20 Std. "), Some(20.0));
        assert_eq!(hours("20 Stunden"), Some(20.0));
        assert_eq!(hours("8h"), Some(8.0));
        assert_eq!(hours("10-15"), None);
        assert_eq!(hours("zwanzig"), None);
        assert_eq!(hours("1000"), None);
        assert_eq!(hours(""), None);
        assert_eq!(hours(","), None);
    }

    pub(super) fn row(reference: &str, programme: &str) -> Row {
        Row {
            programme: programme.into(),
            reference: reference.into(),
            municipality: Some("Musterstadt".into()),
            kind: Some("Stadt".into()),
            applicant_name: None,
            applicant: "rathaus@muster.test".into(),
            contact_name: Some("Erika Muster".into()),
            contact_email: None,
            second_person: None,
            supervisor_name: None,
            supervisor_email: None,
            hours: Some(Hours::Number(19.5)),
            received: Some(Utc::now()),
            complete: true,
            late: false,
            interview_days: vec![(NaiveDate::from_ymd_opt(2026, 6, 29).unwrap(), "sicher")],
            interview: None,
            decision: None,
            documents: vec!["Fragebogen: f.pdf".into()],
            duplicate_of: None,
        }
    }

    #[test]
    fn counts_and_summary_per_programme() {
        let at = Utc::now();
        let hour = chrono::Duration::hours(1);
        let mut a = row("EWS7-0001", "EWS7");
        a.interview = Some((at + hour, InterviewState::Released));
        a.decision = Some((Outcome::Accept, 2, NoticeState::Held));
        let mut b = row("EWS7-0002", "EWS7");
        b.interview = Some((at - hour, InterviewState::Released));
        b.late = true;
        b.complete = false;
        b.decision = Some((Outcome::Reject, 1, NoticeState::Released));
        let mut c = row("EWS8-0001", "EWS8");
        c.interview = Some((at + hour, InterviewState::Cancelled));
        let o = Overview {
            programme: None,
            rows: vec![a, b, c],
            participants: vec![("EWS7".into(), 3)],
            at,
        };
        assert_eq!(o.codes(), vec!["EWS7".to_string(), "EWS8".to_string()]);
        let ews7 = o.counts(Some("EWS7"));
        assert_eq!(
            ews7,
            Counts {
                applications: 2,
                complete: 1,
                late: 1,
                interviews_planned: 1,
                interviews_held: 1,
                interviews_cancelled: 0,
                accepted: 1,
                rejected: 1,
                waitlisted: 0,
                notices_held: 1,
                participants: 3,
            }
        );
        assert_eq!(o.counts(None).applications, 3);
        assert_eq!(o.counts(None).interviews_cancelled, 1);
        let text = o.summary().join("\n");
        assert!(
            text.contains("EWS7:\n  Bewerbungen: 2, davon vollständig 1, verspätet 1"),
            "{text}"
        );
        assert!(text.contains("EWS8:"), "{text}");
        assert!(text.contains("Alle Programme:\n  Bewerbungen: 3"), "{text}");
        assert!(
            text.contains("1 Zusage, 1 Absage, 0 Warteliste (1 Bescheid(e) zurückgehalten)"),
            "{text}"
        );
        let empty = Overview {
            programme: Some("EWS9".into()),
            rows: vec![],
            participants: vec![],
            at,
        };
        assert_eq!(empty.summary(), vec!["Noch keine Bewerbungen.".to_string()]);
    }

    #[test]
    fn kind_from_the_ticked_box() {
        let doc = |json: &str| stored::Document {
            application_id: 1,
            role: "questionnaire".into(),
            name: "f.pdf".into(),
            extracted: Some(json.into()),
        };
        let json = r#"{"checkboxes":[{"label":"Stadt","checked":false},{"label":" Gemeinde ","checked":true},{"label":"Kreis","checked":false}]}"#;
        assert_eq!(kind(&[doc(json)]).as_deref(), Some("Gemeinde"));
        assert_eq!(kind(&[doc("{}")]), None);
        assert_eq!(kind(&[doc("kaputt")]), None);
    }
}
