//! The blank questionnaire ("Fragebogen") applicants fill in, written as a
//! DOCX with content controls and as a fillable PDF (AcroForm).
//!
//! Both files are rendered from one [`Form`] built from the programme file,
//! so the interview dates offered always match `config/*.toml`. Every field
//! has a stable machine name: the DOCX content-control tag (`w:tag`) and the
//! PDF field name (`/T`) are the same, e.g. `kommune_name` or
//! `termin_2026_06_29`. Checkbox labels are identical in both formats, so
//! [`crate::documents::docx::extract`] and [`crate::documents::pdf::extract`]
//! report the same labels for a filled form.

mod docx;
mod pdf;

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::calendar::german;
use crate::config::Programme;

/// The machine names of the text fields, in form order.
pub const FIELD_NAMES: &[&str] = &[
    "kommune_name",
    "einwohnerzahl",
    "person_name",
    "person_funktion",
    "person_email",
    "person_telefon",
    "zweite_person_name",
    "zweite_person_begruendung",
    "vorgesetzte_name",
    "vorgesetzte_email",
    "wochenstunden",
    "vorerfahrung",
];

/// The machine names of the checkboxes for the kind of municipality.
pub const KOMMUNE_ART_NAMES: &[&str] = &["art_stadt", "art_gemeinde", "art_kreis"];

/// The text an empty DOCX text field shows (Word's own German placeholder).
/// The DOCX extractor reads it as text, so it means "not filled in".
pub const PLACEHOLDER: &str = "Klicken oder tippen Sie hier, um Text einzugeben.";

/// The questionnaire in both formats.
#[derive(Debug, Clone)]
pub struct FormFiles {
    /// WordprocessingML document with content controls.
    pub docx: Vec<u8>,
    /// PDF with an AcroForm.
    pub pdf: Vec<u8>,
}

/// Builds the blank questionnaire for `programme` as DOCX and PDF.
pub fn questionnaire(programme: &Programme) -> anyhow::Result<FormFiles> {
    let form = Form::from_programme(programme);
    Ok(FormFiles {
        docx: docx::render(&form).context("writing the DOCX questionnaire")?,
        pdf: pdf::render(&form).context("writing the PDF questionnaire")?,
    })
}

/// Writes `Fragebogen-<short name>.docx` and `.pdf` into `dir` (created if
/// missing) and returns their paths (DOCX first).
pub fn write_questionnaire(programme: &Programme, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let files = questionnaire(programme)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let stem = format!("Fragebogen-{}", sanitize_file_stem(&programme.short_name));
    let mut paths = Vec::new();
    for (ext, bytes) in [("docx", &files.docx), ("pdf", &files.pdf)] {
        let path = dir.join(format!("{stem}.{ext}"));
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        paths.push(path);
    }
    Ok(paths)
}

/// `"EWS 7"` → `"EWS-7"`: ASCII letters, digits, `-` and `_` only (umlauts
/// transliterated), never empty.
fn sanitize_file_stem(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let piece = match c {
            'ä' => "ae",
            'ö' => "oe",
            'ü' => "ue",
            'Ä' => "Ae",
            'Ö' => "Oe",
            'Ü' => "Ue",
            'ß' => "ss",
            c if c.is_ascii_alphanumeric() || c == '_' => {
                out.push(c);
                continue;
            }
            _ => "-",
        };
        if piece == "-" && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push_str(piece);
    }
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() {
        "Programm".to_string()
    } else {
        trimmed.to_string()
    }
}

/// The questionnaire's content, independent of the file format.
#[derive(Debug, Clone)]
pub(crate) struct Form {
    /// "Fragebogen zur Bewerbung – EWS 7".
    pub title: String,
    /// The programme's full name.
    pub subtitle: String,
    /// Introductory paragraphs.
    pub intro: Vec<String>,
    /// "Bitte bis Fr., 19.06.2026 per E-Mail zurücksenden."
    pub deadline_line: String,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone)]
pub(crate) struct Section {
    pub heading: String,
    /// Explanation shown under the heading.
    pub note: Option<String>,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// A labelled text field.
    Text(TextField),
    /// Checkboxes on one line after a label ("Art der Kommune: ☐ Stadt …").
    Choices { label: String, boxes: Vec<Choice> },
    /// A checkbox on a line of its own, followed by its label.
    Checkbox(Choice),
}

#[derive(Debug, Clone)]
pub(crate) struct TextField {
    pub name: &'static str,
    /// Shown next to the field.
    pub label: String,
    /// Self-contained description (PDF tooltip `/TU`, DOCX alias).
    pub tooltip: String,
    /// Visible lines; more than one makes a multi-line field.
    pub lines: u8,
}

#[derive(Debug, Clone)]
pub(crate) struct Choice {
    pub name: String,
    /// Shown next to the box and used as the PDF tooltip.
    pub label: String,
}

impl Form {
    pub(crate) fn from_programme(p: &Programme) -> Form {
        let text = |name: &'static str, prefix: Option<&str>, label: &str, lines: u8| {
            debug_assert!(FIELD_NAMES.contains(&name));
            Item::Text(TextField {
                name,
                label: label.to_string(),
                tooltip: match prefix {
                    Some(p) => format!("{p}: {label}"),
                    None => label.to_string(),
                },
                lines,
            })
        };
        let art = Item::Choices {
            label: "Art der Kommune".into(),
            boxes: KOMMUNE_ART_NAMES
                .iter()
                .zip(["Stadt", "Gemeinde", "Kreis"])
                .map(|(name, label)| Choice {
                    name: (*name).to_string(),
                    label: label.to_string(),
                })
                .collect(),
        };
        let person = Some("Teilnehmende Person");
        let second = Some("Zweite Person");
        let boss = Some("Vorgesetzte/r");

        let places: Vec<&str> = p.interview_days.iter().map(|d| d.place.as_str()).collect();
        let same_place = places.windows(2).all(|w| w[0] == w[1]);
        let mut used = Vec::new();
        let termine: Vec<Item> = p
            .interview_days
            .iter()
            .map(|day| {
                let date = german::to_berlin(&day.slot.start).date_naive();
                let mut name = format!("termin_{}", date.format("%Y_%m_%d"));
                let mut n = 1;
                while used.contains(&name) {
                    n += 1;
                    name = format!("termin_{}_{n}", date.format("%Y_%m_%d"));
                }
                used.push(name.clone());
                let mut label = german::format_slot(&day.slot.start, &day.slot.end);
                if !same_place {
                    label = format!("{label} ({})", day.place);
                }
                Item::Checkbox(Choice { name, label })
            })
            .collect();
        let where_ = match places.first() {
            Some(place) if same_place => format!(" ({place})"),
            _ => String::new(),
        };

        Form {
            title: format!("Fragebogen zur Bewerbung – {}", p.short_name),
            subtitle: p.name.clone(),
            intro: vec![
                "Bitte füllen Sie diesen Fragebogen aus und senden Sie ihn mit Ihrer \
                 Bewerbung zurück. Sie können die Felder direkt im Dokument ausfüllen."
                    .into(),
            ],
            deadline_line: format!(
                "Bitte bis {} per E-Mail zurücksenden.",
                german::format_date(p.deadline)
            ),
            sections: vec![
                Section {
                    heading: "Kommune".into(),
                    note: None,
                    items: vec![
                        text("kommune_name", None, "Name der Kommune", 1),
                        art,
                        text("einwohnerzahl", None, "Einwohnerzahl", 1),
                    ],
                },
                Section {
                    heading: "Teilnehmende Person".into(),
                    note: None,
                    items: vec![
                        text("person_name", person, "Name, Vorname", 1),
                        text("person_funktion", person, "Funktion", 1),
                        text("person_email", person, "E-Mail-Adresse", 1),
                        text("person_telefon", person, "Telefonnummer", 1),
                    ],
                },
                Section {
                    heading: "Zweite Person (optional)".into(),
                    note: Some(
                        "Falls eine zweite Person aus Ihrer Kommune teilnehmen soll, nennen \
                         Sie bitte ihren Namen und begründen Sie dies kurz."
                            .into(),
                    ),
                    items: vec![
                        text("zweite_person_name", second, "Name, Vorname", 1),
                        text("zweite_person_begruendung", second, "Begründung", 3),
                    ],
                },
                Section {
                    heading: "Vorgesetzte/r".into(),
                    note: None,
                    items: vec![
                        text("vorgesetzte_name", boss, "Name, Vorname", 1),
                        text("vorgesetzte_email", boss, "E-Mail-Adresse", 1),
                    ],
                },
                Section {
                    heading: "Zeitlicher Rahmen".into(),
                    note: None,
                    items: vec![text(
                        "wochenstunden",
                        None,
                        "Wochenstunden für Engagementförderung (idealerweise mindestens 5)",
                        1,
                    )],
                },
                Section {
                    heading: "Bisherige Erfahrungen".into(),
                    note: None,
                    items: vec![text(
                        "vorerfahrung",
                        None,
                        "Welche Erfahrungen in der Engagementförderung bringen Sie mit?",
                        6,
                    )],
                },
                Section {
                    heading: "Termin für das Kennenlerngespräch".into(),
                    note: Some(format!(
                        "Bitte kreuzen Sie alle Termine an, die Ihnen möglich sind. Das \
                         digitale Informations- und Kennenlerngespräch dauert ca. {} \
                         Minuten{where_}.",
                        p.interview_minutes
                    )),
                    items: termine,
                },
            ],
        }
    }

    /// The text fields, in order.
    #[cfg(test)]
    pub(crate) fn text_fields(&self) -> Vec<&TextField> {
        self.sections
            .iter()
            .flat_map(|s| &s.items)
            .filter_map(|i| match i {
                Item::Text(t) => Some(t),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The programme from `config/ews7.toml`.
    pub(crate) fn ews7() -> Programme {
        Programme::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/ews7.toml"))
            .expect("config/ews7.toml loads")
    }

    /// EWS 7 with other interview days (and another place on the last one).
    pub(crate) fn other_dates() -> Programme {
        let text =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/ews7.toml"))
                .expect("config/ews7.toml");
        let text = text
            .replacen(
                "weekday = \"Mo\"\ndate = \"2026-06-29\"",
                "weekday = \"Mi\"\ndate = \"2026-06-24\"",
                1,
            )
            .replacen(
                "weekday = \"Fr\"\ndate = \"2026-07-03\"\nstart = \"09:00\"\nend = \"13:00\"\nplace = \"Digital, via Zoom\"",
                "weekday = \"Fr\"\ndate = \"2026-07-10\"\nstart = \"10:00\"\nend = \"12:00\"\nplace = \"Rathaus Köln\"",
                1,
            );
        assert!(text.contains("2026-06-24") && text.contains("Rathaus Köln"));
        Programme::parse(&text, Path::new("other.toml")).expect("modified programme is valid")
    }

    #[test]
    fn text_fields_are_exactly_field_names() {
        let form = Form::from_programme(&ews7());
        let names: Vec<&str> = form.text_fields().iter().map(|t| t.name).collect();
        assert_eq!(names, FIELD_NAMES);
    }

    #[test]
    fn title_deadline_and_interview_days_come_from_the_programme() {
        let form = Form::from_programme(&ews7());
        assert_eq!(form.title, "Fragebogen zur Bewerbung – EWS 7");
        assert_eq!(
            form.deadline_line,
            "Bitte bis Fr., 19.06.2026 per E-Mail zurücksenden."
        );
        let termine: Vec<(String, String)> = form
            .sections
            .iter()
            .flat_map(|s| &s.items)
            .filter_map(|i| match i {
                Item::Checkbox(c) => Some((c.name.clone(), c.label.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            termine,
            [
                ("termin_2026_06_29", "Mo., 29.06.2026, 09:00–13:00 Uhr"),
                ("termin_2026_06_30", "Di., 30.06.2026, 09:00–13:00 Uhr"),
                ("termin_2026_07_01", "Mi., 01.07.2026, 09:00–16:00 Uhr"),
                ("termin_2026_07_02", "Do., 02.07.2026, 09:00–13:00 Uhr"),
                ("termin_2026_07_03", "Fr., 03.07.2026, 09:00–13:00 Uhr"),
            ]
            .map(|(n, l)| (n.to_string(), l.to_string()))
        );
        let other = Form::from_programme(&other_dates());
        let labels: Vec<String> = other
            .sections
            .iter()
            .flat_map(|s| &s.items)
            .filter_map(|i| match i {
                Item::Checkbox(c) => Some(format!("{} {}", c.name, c.label)),
                _ => None,
            })
            .collect();
        assert_eq!(
            labels.first().map(String::as_str),
            Some("termin_2026_06_24 Mi., 24.06.2026, 09:00–13:00 Uhr (Digital, via Zoom)")
        );
        assert_eq!(
            labels.last().map(String::as_str),
            Some("termin_2026_07_10 Fr., 10.07.2026, 10:00–12:00 Uhr (Rathaus Köln)")
        );
    }

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(sanitize_file_stem("EWS 7"), "EWS-7");
        assert_eq!(sanitize_file_stem("Köln / Bonn 2026"), "Koeln-Bonn-2026");
        assert_eq!(sanitize_file_stem("../.."), "Programm");
        assert_eq!(sanitize_file_stem(""), "Programm");
    }

    #[test]
    fn write_questionnaire_writes_both_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = write_questionnaire(&ews7(), dir.path()).expect("written");
        let names: Vec<String> = paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["Fragebogen-EWS-7.docx", "Fragebogen-EWS-7.pdf"]);
        assert!(std::fs::read(&paths[0]).unwrap().starts_with(b"PK"));
        assert!(std::fs::read(&paths[1]).unwrap().starts_with(b"%PDF-"));
    }
}
