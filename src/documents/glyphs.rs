//! Checkboxes written as characters in plain text: ☒ ☑ ✓ ✔ (checked),
//! ☐ (unchecked), `[x]` / `(x)` / `[ ]` / `( )`, and a lone "x" at the start
//! or end of a line next to its label.
//!
//! A box's label is the text after it up to the next box on the same line, or,
//! when the boxes of a line come after their labels ("Ja ☒  Nein ☐"), the text
//! before it. Plain "x" is read conservatively: only as a token of its own at
//! the start or end of a line with a label beside it, or in brackets.

use super::{Checkbox, CheckboxKind};

/// Boxes on one line above which no box gets the line as its context.
const MAX_CONTEXT_BOXES: usize = 12;
/// Bytes of a line above which it is no box's context.
const MAX_CONTEXT_BYTES: usize = 1_000;

/// Glyphs that mean "checked".
const CHECKED: [char; 4] = ['\u{2612}', '\u{2611}', '\u{2713}', '\u{2714}'];
/// Glyphs that mean "unchecked".
const UNCHECKED: [char; 1] = ['\u{2610}'];

/// Is this one of the box glyphs (checked or not)?
pub(crate) fn is_box_glyph(c: char) -> bool {
    CHECKED.contains(&c) || UNCHECKED.contains(&c)
}

/// Stands for a form control (content control, legacy field, ODF control) at
/// its place in the text, so that it gets a label by the same rules as a
/// glyph. Extractors remove this character from document text before use.
pub(crate) const FIELD_MARK: char = '\u{E000}';

/// A form control found by an extractor, placed in the text with [`FIELD_MARK`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldBox {
    pub checked: bool,
    pub kind: CheckboxKind,
    /// A label the format gives the control itself (used instead of the text).
    pub label: Option<String>,
    /// Used when the text around the control gives no label (e.g. its name).
    pub fallback_label: Option<String>,
}

/// Checkbox glyphs in plain text, one per glyph, labelled by their line.
pub fn checkboxes_in_text(text: &str) -> Vec<Checkbox> {
    let clean: String = text.chars().filter(|&c| c != FIELD_MARK).collect();
    checkboxes_with_fields(&clean, &[])
}

/// Like [`checkboxes_in_text`], but every [`FIELD_MARK`] in `text` stands for
/// the next entry of `fields` (in order). Marks beyond `fields` are ignored.
pub(crate) fn checkboxes_with_fields(text: &str, fields: &[FieldBox]) -> Vec<Checkbox> {
    let mut out = Vec::new();
    let mut next_field = 0usize;
    for line in text.lines() {
        let marks = marks_in_line(line, fields, &mut next_field);
        out.extend(label_marks(line, &marks));
    }
    out
}

#[derive(Debug, Clone)]
struct Mark {
    start: usize,
    end: usize,
    checked: bool,
    kind: CheckboxKind,
    label: Option<String>,
    fallback_label: Option<String>,
}

fn marks_in_line(line: &str, fields: &[FieldBox], next_field: &mut usize) -> Vec<Mark> {
    let mut marks = Vec::new();
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        let end_of = |j: usize| chars.get(j).map_or(line.len(), |&(p, _)| p);
        if c == FIELD_MARK {
            if let Some(f) = fields.get(*next_field) {
                marks.push(Mark {
                    start: pos,
                    end: end_of(i + 1),
                    checked: f.checked,
                    kind: f.kind,
                    label: f.label.clone(),
                    fallback_label: f.fallback_label.clone(),
                });
            }
            *next_field += 1;
            i += 1;
            continue;
        }
        let glyph = if CHECKED.contains(&c) {
            Some(true)
        } else if UNCHECKED.contains(&c) {
            Some(false)
        } else {
            None
        };
        if let Some(checked) = glyph {
            // Take brackets around the glyph with it: "[☒]".
            let bracketed = i > 0
                && matches!(
                    (chars[i - 1].1, chars.get(i + 1).map(|c| c.1)),
                    ('[', Some(']')) | ('(', Some(')'))
                );
            let (start, end, next) = if bracketed {
                (chars[i - 1].0, end_of(i + 2), i + 2)
            } else {
                (pos, end_of(i + 1), i + 1)
            };
            marks.push(Mark {
                start,
                end,
                checked,
                kind: CheckboxKind::Glyph,
                label: None,
                fallback_label: None,
            });
            i = next;
            continue;
        }
        if (c == '[' || c == '(') && i + 2 < chars.len() {
            let close = if c == '[' { ']' } else { ')' };
            let inner = chars[i + 1].1;
            let boundary_before = i == 0 || !chars[i - 1].1.is_alphanumeric();
            let boundary_after = chars.get(i + 3).is_none_or(|&(_, n)| !n.is_alphanumeric());
            if chars[i + 2].1 == close
                && matches!(inner, 'x' | 'X' | ' ')
                && boundary_before
                && boundary_after
            {
                marks.push(Mark {
                    start: pos,
                    end: end_of(i + 3),
                    checked: inner != ' ',
                    kind: CheckboxKind::Glyph,
                    label: None,
                    fallback_label: None,
                });
                i += 3;
                continue;
            }
        }
        i += 1;
    }
    if marks.is_empty()
        && let Some(m) = lone_x(line)
    {
        marks.push(m);
    }
    marks
}

/// "x Ja" or "Teilnahme bestätigt   X": a lone x at the start or end.
fn lone_x(line: &str) -> Option<Mark> {
    let trimmed_start = line.trim_start();
    let lead = line.len() - trimmed_start.len();
    let mut it = trimmed_start.char_indices();
    if let Some((_, c)) = it.next()
        && matches!(c, 'x' | 'X')
    {
        let rest = &trimmed_start[1..];
        if rest.starts_with(char::is_whitespace)
            && rest.trim_start().starts_with(char::is_alphabetic)
        {
            return Some(Mark {
                start: lead,
                end: lead + 1,
                checked: true,
                kind: CheckboxKind::Glyph,
                label: None,
                fallback_label: None,
            });
        }
    }
    let trimmed = line.trim_end();
    if let Some(before) = trimmed.strip_suffix(['x', 'X'])
        && before.ends_with(char::is_whitespace)
    {
        let label = before.trim_end();
        let last = label.chars().last();
        if label.chars().any(char::is_alphabetic)
            && last.is_some_and(|c| !c.is_ascii_digit() && !"+-*/=×".contains(c))
        {
            return Some(Mark {
                start: trimmed.len() - 1,
                end: trimmed.len(),
                checked: true,
                kind: CheckboxKind::Glyph,
                label: None,
                fallback_label: None,
            });
        }
    }
    None
}

fn label_marks(line: &str, marks: &[Mark]) -> Vec<Checkbox> {
    if marks.is_empty() {
        return Vec::new();
    }
    let before = |i: usize| {
        let from = if i == 0 { 0 } else { marks[i - 1].end };
        clean_label(line.get(from..marks[i].start).unwrap_or(""))
    };
    let after = |i: usize| {
        let to = marks.get(i + 1).map_or(line.len(), |m| m.start);
        clean_label(line.get(marks[i].end..to).unwrap_or(""))
    };
    let last = marks.len() - 1;
    let labels_before = after(last).is_empty() && !before(0).is_empty();
    // The whole line without the boxes: the context of every box on it.
    let mut rest = String::new();
    let mut from = 0;
    for m in marks {
        rest.push_str(line.get(from..m.start).unwrap_or(""));
        rest.push(' ');
        from = m.end;
    }
    rest.push_str(line.get(from..).unwrap_or(""));
    // A line of many boxes or a long paragraph is no row of one date.
    let whole_line = if marks.len() <= MAX_CONTEXT_BOXES && rest.len() <= MAX_CONTEXT_BYTES {
        clean_label(&rest)
    } else {
        String::new()
    };
    marks
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let label = match &m.label {
                Some(l) if !l.trim().is_empty() => clean_label(l),
                _ if labels_before => before(i),
                _ => after(i),
            };
            let label = match &m.fallback_label {
                Some(f) if label.is_empty() => clean_label(f),
                _ => label,
            };
            let context =
                (!whole_line.is_empty() && whole_line != label).then(|| whole_line.clone());
            Checkbox {
                context,
                ..Checkbox::new(label, m.checked, m.kind)
            }
        })
        .collect()
}

/// Whitespace collapsed and trimmed.
fn clean_label(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxes(text: &str) -> Vec<(String, bool)> {
        checkboxes_in_text(text)
            .into_iter()
            .map(|c| {
                assert_eq!(c.kind, CheckboxKind::Glyph);
                (c.label, c.checked)
            })
            .collect()
    }

    fn b(label: &str, checked: bool) -> (String, bool) {
        (label.to_string(), checked)
    }

    #[test]
    fn checked_glyphs_give_checked_boxes_labelled_by_the_rest_of_the_line() {
        assert_eq!(
            boxes(
                "☒ Ich nehme an der Schulung teil\n☑ Führerschein Klasse B\n✓ Datenschutz gelesen\n✔  Übernachtung nötig  "
            ),
            vec![
                b("Ich nehme an der Schulung teil", true),
                b("Führerschein Klasse B", true),
                b("Datenschutz gelesen", true),
                b("Übernachtung nötig", true),
            ]
        );
    }

    #[test]
    fn empty_ballot_box_gives_an_unchecked_box() {
        assert_eq!(
            boxes("☐ Vegetarisches Essen"),
            vec![b("Vegetarisches Essen", false)]
        );
    }

    #[test]
    fn several_boxes_on_one_line_each_take_the_text_up_to_the_next() {
        assert_eq!(
            boxes("Teilnahme: ☒ Ja ☐ Nein"),
            vec![b("Ja", true), b("Nein", false)]
        );
    }

    #[test]
    fn boxes_after_their_labels_take_the_text_before() {
        assert_eq!(boxes("Ja ☐\tNein ☒"), vec![b("Ja", false), b("Nein", true)]);
        assert_eq!(boxes("Einverstanden\t☒"), vec![b("Einverstanden", true)]);
    }

    #[test]
    fn every_box_knows_its_whole_line_when_its_label_is_only_part_of_it() {
        let got = checkboxes_in_text("Mo., 29.06.2026\t☐ ja\t☒ nein\n☒ Di., 30.06.2026");
        let contexts: Vec<Option<&str>> = got.iter().map(|c| c.context.as_deref()).collect();
        assert_eq!(
            contexts,
            vec![
                Some("Mo., 29.06.2026 ja nein"),
                Some("Mo., 29.06.2026 ja nein"),
                None
            ]
        );
        assert_eq!(got[1].label, "nein");
    }

    #[test]
    fn bracketed_x_and_empty_brackets_are_boxes() {
        assert_eq!(
            boxes("[x] Vollzeit\n[ ] Teilzeit\n(X) Präsenz\n( ) Online\n[☒] Bahn"),
            vec![
                b("Vollzeit", true),
                b("Teilzeit", false),
                b("Präsenz", true),
                b("Online", false),
                b("Bahn", true),
            ]
        );
    }

    #[test]
    fn lone_x_at_the_start_or_end_of_a_line_is_a_checked_box() {
        assert_eq!(
            boxes("x Ich bin einverstanden\nAnreise mit dem Auto   X"),
            vec![
                b("Ich bin einverstanden", true),
                b("Anreise mit dem Auto", true)
            ]
        );
    }

    #[test]
    fn x_inside_words_formulas_and_sizes_is_not_a_box() {
        assert!(boxes("Xaver Müller\nf(x) = 2x\nRaum 3 x 4 m\nGröße 3 x\nx 2 = 4\nexakt x-beliebig\nMax Mustermann\n[x]y").is_empty());
        assert!(boxes("Die Box x ist leer").is_empty());
    }

    #[test]
    fn text_without_boxes_gives_none() {
        assert!(boxes("").is_empty());
        assert!(boxes("Sehr geehrte Damen und Herren,\nanbei die Unterlagen.").is_empty());
    }

    #[test]
    fn field_marks_take_labels_and_states_from_the_fields() {
        let fields = [
            FieldBox {
                checked: true,
                kind: CheckboxKind::ContentControl,
                label: None,
                fallback_label: None,
            },
            FieldBox {
                checked: false,
                kind: CheckboxKind::LegacyFormField,
                label: Some("Eigene Beschriftung".into()),
                fallback_label: None,
            },
        ];
        let text = format!("{FIELD_MARK} Ja\n{FIELD_MARK} Nein ☐ Vielleicht");
        let got = checkboxes_with_fields(&text, &fields);
        let line2 = Some("Nein Vielleicht".to_string());
        assert_eq!(
            got,
            vec![
                Checkbox::new("Ja", true, CheckboxKind::ContentControl),
                Checkbox {
                    context: line2.clone(),
                    ..Checkbox::new("Eigene Beschriftung", false, CheckboxKind::LegacyFormField)
                },
                Checkbox {
                    context: line2,
                    ..Checkbox::new("Vielleicht", false, CheckboxKind::Glyph)
                },
            ]
        );
        // Stray marks in plain text are ignored.
        assert!(checkboxes_in_text(&format!("{FIELD_MARK} Ja")).is_empty());
    }
}
