//! Which interview day a checkbox means, and which ticked boxes mean none.
//!
//! A questionnaire made in an office suite names its boxes `termin_3`,
//! `Kontrollkästchen3` or `Check Box 2` and prints the date beside the box.
//! Each box is read by the first of these rules that names exactly one
//! interview day:
//!
//! 1. **Its label**: the field's tooltip or name (PDF), the text after or
//!    before it (DOCX, ODT, text), or an ODF control's own label, read by
//!    [`dates::day_in_label`].
//! 2. **Its paragraph or table row** (DOCX, ODT, text): `Mo., 29.06.2026 ☐ ja
//!    ☐ nein`. A box labelled "nein" (or "nicht möglich") that is ticked says
//!    the day does not suit; several boxes of one row are read together.
//!    A label that says something else ("vormittags") gives at most Medium.
//! 3. **Its position on the page** (PDF): the widget's `/Rect` against the
//!    dates printed on its page ([`super::pdf_layout`]). On the box's own line
//!    the date to its right wins, then the one to its left; all boxes of a
//!    line must read the same way (every box has its own date on that side,
//!    no two share one, no other box stands between a box and its date), else
//!    each takes its nearest date that no nearer box took, with Medium
//!    confidence. A box with no date on its line and no other text right
//!    beside it takes the nearest date above it (a column header) or below
//!    it, in its column, with Medium confidence.
//! 4. **Page order**: only when nothing in the document could be mapped by the
//!    rules above and no date could be placed on the pages with boxes (text as
//!    outlines or an unreadable font, boxes without `/Rect`), and the boxes of
//!    the date section (boxes named like `termin…`/`datum…`, else boxes with
//!    meaningless names) are exactly as many as the interview days: the n-th
//!    box on the pages (top to bottom, left to right) is the n-th day, with
//!    Medium confidence.
//!
//! A ticked box that none of the rules maps, and that is not evidently about
//! something else (its label or the text beside it says something that is not
//! a date, such as "Ich bin einverstanden"), is reported as [`Unmapped`], and
//! so is a ticked box whose label is a date that is not an interview day, or
//! several days ("Mo., 06.07.2025, 9–13 Uhr", "29.06. oder 30.06."; not a
//! sentence that mentions a date, "Angaben geprüft, Stand 15.06.2026").

use super::dates::{self, Confidence, DateChoice, LabelDay};
use super::{Checkbox, Extracted, Place, TextRun};
use chrono::{Datelike, NaiveDate};
use std::collections::HashMap;

/// Boxes read per document; a document with more is read up to here.
pub const MAX_BOXES: usize = 2_000;

/// Boxes with a place per document above which positions are not compared
/// (no questionnaire has that many; it bounds the work on hostile files).
pub const MAX_PLACED_BOXES: usize = 300;

/// Dates placed on the pages that are compared with the boxes.
pub const MAX_LABELS: usize = 1_000;

/// Characters of a label, row or segment of page text that are read.
const MAX_TEXT_CHARS: usize = 500;

/// At most `MAX_TEXT_CHARS` characters of `s`.
fn head(s: &str) -> &str {
    match s.char_indices().nth(MAX_TEXT_CHARS) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

/// What the checkboxes of one document say about the interview days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoxReading {
    /// One choice per mapped box (several boxes of one row give one).
    pub choices: Vec<DateChoice>,
    /// Ticked boxes that map to no interview day.
    pub unmapped: Vec<Unmapped>,
}

/// A ticked box that maps to no interview day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmapped {
    /// The box's label or field name, e.g. `termin_3`.
    pub label: String,
    /// Text printed beside it, where known.
    pub beside: Option<String>,
    /// The page it is on (PDF).
    pub page: Option<u32>,
    pub why: Why,
}

/// Why a ticked box maps to no day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Neither its label nor anything beside it names an interview day.
    NoDate,
    /// It names a date that is not an interview day.
    OtherDate(NaiveDate),
    /// It names more than one interview day.
    SeveralDays,
}

/// Reads the checkboxes of one document (see the module docs).
pub fn read(ex: &Extracted, days: &[NaiveDate]) -> BoxReading {
    let boxes = &ex.checkboxes[..ex.checkboxes.len().min(MAX_BOXES)];
    if boxes.len() < ex.checkboxes.len() {
        tracing::warn!(
            boxes = ex.checkboxes.len(),
            "document has more checkboxes than are read"
        );
    }
    let mut out = BoxReading::default();
    if days.is_empty() || boxes.is_empty() {
        return out;
    }
    let mut state = vec![State::Open; boxes.len()];

    // 1. The label.
    for (i, b) in boxes.iter().enumerate() {
        state[i] = match dates::day_in_label(head(&b.label), days) {
            LabelDay::Day(day, confidence) => {
                out.choices.push(DateChoice {
                    day,
                    available: b.checked,
                    source: dates::checkbox_source(b.checked, &b.label),
                    confidence,
                });
                State::Mapped
            }
            LabelDay::Other(_) | LabelDay::Several if !mostly_dates(&b.label, days) => {
                // "Ich bestätige die Angaben (Stand 15.06.2026)".
                State::Ignored
            }
            LabelDay::Other(d) => State::Unclear(Why::OtherDate(d)),
            LabelDay::Several => State::Unclear(Why::SeveralDays),
            LabelDay::Nothing => State::Open,
        };
    }

    // 2. The paragraph or table row.
    let mut rows: Vec<RowEntry> = Vec::new();
    for (i, b) in boxes.iter().enumerate() {
        let (State::Open, Some(context)) = (state[i], &b.context) else {
            continue;
        };
        let own = class(&b.label);
        let context = head(context);
        state[i] = match dates::day_in_label(context, days) {
            LabelDay::Day(day, confidence) => {
                rows.push(RowEntry {
                    context,
                    day,
                    confidence,
                    own,
                    checked: b.checked,
                    label: &b.label,
                });
                State::Mapped
            }
            _ if own == Own::Descriptive => State::Ignored,
            LabelDay::Other(_) | LabelDay::Several if !mostly_dates(context, days) => {
                State::Ignored
            }
            LabelDay::Other(d) => State::Unclear(Why::OtherDate(d)),
            LabelDay::Several => State::Unclear(Why::SeveralDays),
            LabelDay::Nothing if class(context) == Own::Descriptive => State::Ignored,
            LabelDay::Nothing => State::Open,
        };
    }
    out.choices.extend(row_choices(&rows));

    // 3. The position on the page.
    let mut places: Vec<Option<Rect>> = boxes.iter().map(|b| b.place.and_then(Rect::of)).collect();
    if places.iter().flatten().count() > MAX_PLACED_BOXES {
        tracing::warn!("too many placed checkboxes to compare with the page text");
        places.iter_mut().for_each(|p| *p = None);
    }
    let open: Vec<usize> = (0..boxes.len())
        .filter(|&i| state[i] == State::Open && places[i].is_some())
        .collect();
    let layout = Layout::new(&ex.text_runs, &places, days);
    let placed = layout.assign(&open, &places);
    for a in &placed.assigned {
        let (Some(b), Some(label)) = (boxes.get(a.index), layout.labels.get(a.label)) else {
            continue;
        };
        let mut confidence = label.confidence.min(a.confidence);
        if class(&b.label) == Own::Descriptive {
            confidence = confidence.min(Confidence::Medium);
        }
        out.choices.push(DateChoice {
            day: label.day,
            available: b.checked,
            source: format!(
                "{} \u{2192} \u{201e}{}\u{201c} ({} the box on page {})",
                dates::checkbox_source(b.checked, &b.label),
                label.piece.text,
                a.side.words(),
                label.piece.page
            ),
            confidence,
        });
        state[a.index] = State::Mapped;
    }
    for (&i, text) in &placed.beside {
        if state[i] == State::Open && class(text) == Own::Descriptive {
            state[i] = State::Ignored;
        }
    }

    // 4. Page order.
    let nothing_read = out.choices.is_empty() && !layout.has_labels_on(&places);
    if nothing_read {
        let section = date_section(boxes, &state);
        if section.len() == days.len() {
            let mut sorted_days = days.to_vec();
            sorted_days.sort();
            let ordered = page_order(&section, &places);
            let total = ordered.len();
            for (n, (&i, day)) in ordered.iter().zip(sorted_days).enumerate() {
                let Some(b) = boxes.get(i) else { continue };
                out.choices.push(DateChoice {
                    day,
                    available: b.checked,
                    source: format!(
                        "{} (box {} of {total} in page order)",
                        dates::checkbox_source(b.checked, &b.label),
                        n + 1
                    ),
                    confidence: Confidence::Medium,
                });
                state[i] = State::Mapped;
            }
        }
    }

    // What is left: ticked boxes that map to no day.
    for (i, b) in boxes.iter().enumerate() {
        let why = match state[i] {
            State::Unclear(why) => why,
            State::Open if matches!(class(&b.label), Own::Generic | Own::DateIsh) => Why::NoDate,
            _ => continue,
        };
        if !b.checked {
            continue;
        }
        out.unmapped.push(Unmapped {
            label: b.label.clone(),
            beside: placed.beside.get(&i).cloned().or_else(|| b.context.clone()),
            page: b.place.map(|p| p.page),
            why,
        });
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not read yet.
    Open,
    Mapped,
    /// About something else than a date.
    Ignored,
    /// Names a foreign date or several days.
    Unclear(Why),
}

// ---------------------------------------------------------------------------
// What a box's own label says

/// What a box's own label (or the text beside it) says, when it names no day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Own {
    /// Nothing: "Kontrollkästchen3", "Check Box 2", "", "CB_7".
    Generic,
    /// That it is about a date, not which: "termin_3", "Wunschtermin 2".
    DateIsh,
    /// Yes: "ja", "möglich", "passt".
    Yes,
    /// No: "nein", "nicht möglich", "passt nicht".
    No,
    /// Something else: "Ich bin einverstanden", "vormittags".
    Descriptive,
}

const GENERIC_WORDS: [&str; 36] = [
    "kontrollkästchen",
    "kontrollkaestchen",
    "kontrollfeld",
    "markierfeld",
    "kästchen",
    "kaestchen",
    "ankreuzfeld",
    "checkbox",
    "check",
    "box",
    "chk",
    "cb",
    "kb",
    "kk",
    "feld",
    "field",
    "btn",
    "button",
    "auswahl",
    "auswahlfeld",
    "option",
    "optionsfeld",
    "choice",
    "formular",
    "form",
    "seite",
    "page",
    "teil",
    "abschnitt",
    "section",
    "subform",
    "topmostsubform",
    "untitled",
    "unbenannt",
    "gruppe",
    "group",
];

const YES_WORDS: [&str; 11] = [
    "ja",
    "yes",
    "möglich",
    "moeglich",
    "passt",
    "geht",
    "gut",
    "verfügbar",
    "verfuegbar",
    "ok",
    "x",
];

const NO_WORDS: [&str; 9] = [
    "nein",
    "nicht",
    "no",
    "not",
    "kein",
    "keine",
    "unmöglich",
    "verhindert",
    "absage",
];

fn is_dateish(w: &str) -> bool {
    w.contains("termin")
        || w.contains("gespräch")
        || w.contains("gespraech")
        || w.starts_with("datum")
        || w.starts_with("kennenlern")
        || matches!(w, "date" | "dates" | "day" | "tag" | "interview" | "slot")
}

/// Runs of letters (lower case), digits apart: "Kontrollkästchen3" →
/// ["kontrollkästchen"].
fn letter_words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Words that may stand beside a date in a date label: "Mo., 06.07.2025,
/// 9–13 Uhr", "29.06. oder 30.06.", "Ersatztermin: 10.07.2026".
const DATE_WORDS: [&str; 24] = [
    "montag",
    "dienstag",
    "mittwoch",
    "donnerstag",
    "freitag",
    "samstag",
    "sonntag",
    "uhr",
    "von",
    "bis",
    "den",
    "der",
    "und",
    "oder",
    "vormittag",
    "vormittags",
    "nachmittag",
    "nachmittags",
    "ganztags",
    "ganztägig",
    "online",
    "digital",
    "zoom",
    "per",
];

/// Whether a text that names dates is only a date label: besides the dates
/// it has no words but weekdays, times and words like "Termin" (not "Ich
/// bestätige die Angaben (Stand 15.06.2026)").
fn mostly_dates(text: &str, days: &[NaiveDate]) -> bool {
    let year = days.iter().map(Datelike::year).min().unwrap_or(2026);
    let mut rest = String::new();
    let mut from = 0;
    for (_, r) in dates::dates_in_text(text, year) {
        rest.push_str(text.get(from..r.start).unwrap_or(""));
        rest.push(' ');
        from = r.end;
    }
    rest.push_str(text.get(from..).unwrap_or(""));
    letter_words(&rest).iter().all(|w| {
        w.chars().count() <= 2
            || DATE_WORDS.contains(&w.as_str())
            || GENERIC_WORDS.contains(&w.as_str())
            || YES_WORDS.contains(&w.as_str())
            || is_dateish(w)
    })
}

fn class(label: &str) -> Own {
    let words = letter_words(label);
    if words.iter().any(|w| NO_WORDS.contains(&w.as_str())) {
        return Own::No;
    }
    if !words.is_empty() && words.iter().all(|w| YES_WORDS.contains(&w.as_str())) {
        return Own::Yes;
    }
    if words.iter().any(|w| is_dateish(w)) {
        return Own::DateIsh;
    }
    if words
        .iter()
        .all(|w| GENERIC_WORDS.contains(&w.as_str()) || w.chars().count() == 1)
    {
        return Own::Generic;
    }
    Own::Descriptive
}

// ---------------------------------------------------------------------------
// Rows (rule 2)

struct RowEntry<'a> {
    context: &'a str,
    day: NaiveDate,
    confidence: Confidence,
    own: Own,
    checked: bool,
    label: &'a str,
}

/// One choice per row and day: available when a box that is not a "no" is
/// ticked and no "no" box is; a row where both are ticked is Low.
fn row_choices(rows: &[RowEntry<'_>]) -> Vec<DateChoice> {
    let mut groups: Vec<(&str, NaiveDate, Vec<&RowEntry<'_>>)> = Vec::new();
    let mut index: HashMap<(&str, NaiveDate), usize> = HashMap::new();
    for r in rows {
        match index
            .get(&(r.context, r.day))
            .and_then(|&g| groups.get_mut(g))
        {
            Some(g) => g.2.push(r),
            None => {
                index.insert((r.context, r.day), groups.len());
                groups.push((r.context, r.day, vec![r]));
            }
        }
    }
    let mut out = Vec::new();
    for (context, day, entries) in groups {
        let yes_checked = entries.iter().any(|e| e.own != Own::No && e.checked);
        let no_checked = entries.iter().any(|e| e.own == Own::No && e.checked);
        let has_yes = entries.iter().any(|e| e.own != Own::No);
        if !has_yes && !no_checked {
            // Only unticked "nein" boxes: they say nothing.
            continue;
        }
        let mut confidence = entries
            .iter()
            .map(|e| match e.own {
                Own::Descriptive => e.confidence.min(Confidence::Medium),
                _ => e.confidence,
            })
            .min()
            .unwrap_or(Confidence::Low);
        if yes_checked && no_checked {
            confidence = Confidence::Low;
        }
        let ticked: Vec<&str> = entries
            .iter()
            .filter(|e| e.checked)
            .map(|e| e.label)
            .collect();
        let shown = if ticked.is_empty() {
            entries
                .iter()
                .map(|e| e.label)
                .collect::<Vec<_>>()
                .join(" / ")
        } else {
            ticked.join(" / ")
        };
        out.push(DateChoice {
            day,
            available: yes_checked && !no_checked,
            source: format!(
                "{} (in \u{201e}{}\u{201c})",
                dates::checkbox_source(!ticked.is_empty(), &shown),
                dates::excerpt(context)
            ),
            confidence,
        });
    }
    out
}

// ---------------------------------------------------------------------------
// Page order (rule 4)

/// The open boxes of the date section: those named like a date field, else
/// those with meaningless names.
fn date_section(boxes: &[Checkbox], state: &[State]) -> Vec<usize> {
    let open: Vec<(usize, Own)> = boxes
        .iter()
        .enumerate()
        .filter(|(i, _)| state.get(*i) == Some(&State::Open))
        .map(|(i, b)| (i, class(&b.label)))
        .collect();
    let dateish: Vec<usize> = open
        .iter()
        .filter(|(_, o)| *o == Own::DateIsh)
        .map(|(i, _)| *i)
        .collect();
    if !dateish.is_empty() {
        return dateish;
    }
    open.iter()
        .filter(|(_, o)| *o == Own::Generic)
        .map(|(i, _)| *i)
        .collect()
}

/// The boxes top to bottom, left to right, page by page, when every one of
/// them has a place; else in the order the document lists them.
fn page_order(section: &[usize], places: &[Option<Rect>]) -> Vec<usize> {
    let rects: Option<Vec<(usize, Rect)>> = section
        .iter()
        .map(|&i| places.get(i).copied().flatten().map(|r| (i, r)))
        .collect();
    let Some(mut rects) = rects else {
        return section.to_vec();
    };
    rects.sort_by(|a, b| a.1.page.cmp(&b.1.page).then(b.1.cy().total_cmp(&a.1.cy())));
    let mut out: Vec<usize> = Vec::new();
    let mut row: Vec<(usize, Rect)> = Vec::new();
    let flush = |row: &mut Vec<(usize, Rect)>, out: &mut Vec<usize>| {
        row.sort_by(|a, b| a.1.cx().total_cmp(&b.1.cx()));
        out.extend(row.drain(..).map(|(i, _)| i));
    };
    for (i, r) in rects {
        let same_row = row.first().is_some_and(|(_, f)| {
            f.page == r.page && (f.cy() - r.cy()).abs() <= 0.5 * f.h().max(r.h())
        });
        if !same_row {
            flush(&mut row, &mut out);
        }
        row.push((i, r));
    }
    flush(&mut row, &mut out);
    out
}

// ---------------------------------------------------------------------------
// Positions (rule 3)

/// A box's rectangle.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rect {
    page: u32,
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
}

impl Rect {
    /// Only plausible checkbox sizes: a huge or empty widget is no box to
    /// measure from.
    fn of(p: Place) -> Option<Rect> {
        let [x0, y0, x1, y1] = p.rect;
        let r = Rect {
            page: p.page,
            x0,
            y0,
            x1,
            y1,
        };
        (r.w() > 0.5 && r.h() > 0.5 && r.w() < 200.0 && r.h() < 200.0).then_some(r)
    }
    fn w(&self) -> f32 {
        self.x1 - self.x0
    }
    fn h(&self) -> f32 {
        self.y1 - self.y0
    }
    fn cx(&self) -> f32 {
        (self.x0 + self.x1) / 2.0
    }
    fn cy(&self) -> f32 {
        (self.y0 + self.y1) / 2.0
    }
}

/// A piece of placed text: a date label or other words.
#[derive(Debug, Clone)]
struct Piece {
    page: u32,
    x0: f32,
    x1: f32,
    y0: f32,
    y1: f32,
    /// The segment the piece is in, cut to 120 characters.
    text: String,
}

impl Piece {
    fn cx(&self) -> f32 {
        (self.x0 + self.x1) / 2.0
    }
    fn cy(&self) -> f32 {
        (self.y0 + self.y1) / 2.0
    }
    fn h(&self) -> f32 {
        self.y1 - self.y0
    }
    /// On the same line as the box.
    fn beside(&self, b: &Rect) -> bool {
        self.page == b.page && (self.cy() - b.cy()).abs() <= 0.75 * self.h().max(b.h())
    }
}

/// A date printed on a page.
#[derive(Debug, Clone)]
struct Label {
    piece: Piece,
    day: NaiveDate,
    confidence: Confidence,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Right,
    Left,
    Above,
    Below,
}

impl Side {
    fn words(self) -> &'static str {
        match self {
            Side::Right => "right of",
            Side::Left => "left of",
            Side::Above => "above",
            Side::Below => "below",
        }
    }
}

struct Assignment {
    index: usize,
    label: usize,
    side: Side,
    confidence: Confidence,
}

#[derive(Default)]
struct Placed {
    assigned: Vec<Assignment>,
    /// Non-date text right beside an open box.
    beside: HashMap<usize, String>,
}

struct Layout {
    labels: Vec<Label>,
    /// Placed text that names no day.
    others: Vec<Piece>,
}

/// A run of text in a segment: its byte range in the segment's text and where it is.
struct Span {
    start: usize,
    end: usize,
    x0: f32,
    x1: f32,
}

impl Layout {
    /// Lines from the runs (same page, same baseline), cut into segments at
    /// wide gaps and at boxes, and the interview days named in each.
    fn new(runs: &[TextRun], places: &[Option<Rect>], days: &[NaiveDate]) -> Layout {
        let mut layout = Layout {
            labels: Vec::new(),
            others: Vec::new(),
        };
        let mut sorted: Vec<&TextRun> = runs.iter().filter(|r| r.size > 0.0).collect();
        sorted.sort_by(|a, b| a.page.cmp(&b.page).then(b.y.total_cmp(&a.y)));
        let mut line: Vec<&TextRun> = Vec::new();
        for r in sorted {
            let same = line
                .first()
                .is_some_and(|f| f.page == r.page && (f.y - r.y).abs() <= 0.3 * f.size.min(r.size));
            if !same {
                layout.add_line(&mut line, places, days);
            }
            line.push(r);
        }
        layout.add_line(&mut line, places, days);
        layout
    }

    fn add_line(&mut self, line: &mut Vec<&TextRun>, places: &[Option<Rect>], days: &[NaiveDate]) {
        line.sort_by(|a, b| a.x0.total_cmp(&b.x0));
        let mut segment: Vec<&TextRun> = Vec::new();
        let mut chars = 0usize;
        for r in line.drain(..) {
            if let Some(last) = segment.last() {
                let end = segment.iter().map(|s| s.x1).fold(last.x1, f32::max);
                let size = last.size.max(r.size);
                let gap = r.x0 - end;
                let y = last.y;
                let box_between = places.iter().flatten().any(|b| {
                    b.page == r.page
                        && b.y1 >= y - 0.25 * size
                        && b.y0 <= y + 0.75 * size
                        && b.cx() > end - 1.0
                        && b.cx() < r.x0 + 1.0
                });
                if gap > 1.5 * size || gap < -2.0 * size || box_between || chars > MAX_TEXT_CHARS {
                    self.add_segment(&segment, days);
                    segment.clear();
                    chars = 0;
                }
            }
            chars += r.text.chars().count();
            segment.push(r);
        }
        self.add_segment(&segment, days);
    }

    fn add_segment(&mut self, segment: &[&TextRun], days: &[NaiveDate]) {
        let Some(first) = segment.first() else {
            return;
        };
        if self.labels.len() >= MAX_LABELS {
            return;
        }
        let mut text = String::new();
        let mut spans: Vec<Span> = Vec::new();
        let mut end = first.x0;
        let mut size = 0.0f32;
        for r in segment {
            let gap = r.x0 - end;
            if !text.is_empty() && gap > 0.15 * r.size && !text.ends_with(' ') {
                text.push(' ');
            }
            let start = text.len();
            text.push_str(&r.text);
            spans.push(Span {
                start,
                end: text.len(),
                x0: r.x0,
                x1: r.x1,
            });
            end = end.max(r.x1);
            size = size.max(r.size);
        }
        // Where a byte of the text is: proportionally within its run.
        let x_at = |byte: usize| -> f32 {
            let Some(s) = spans.iter().find(|s| byte < s.end).or(spans.last()) else {
                return first.x0;
            };
            let part = text.get(s.start..byte.clamp(s.start, s.end)).unwrap_or("");
            let all = text.get(s.start..s.end).unwrap_or("");
            let n = all.chars().count().max(1) as f32;
            let k = part.chars().count() as f32;
            s.x0 + (s.x1 - s.x0) * (k / n)
        };
        let y = first.y;
        let shown = dates::excerpt(&text);
        let piece = |x0: f32, x1: f32| Piece {
            page: first.page,
            x0,
            x1: x1.max(x0),
            y0: y - 0.25 * size,
            y1: y + 0.75 * size,
            text: shown.clone(),
        };
        let mentions = dates::day_mentions(&text, days);
        if mentions.is_empty() {
            if text.chars().any(char::is_alphabetic) {
                self.others.push(piece(first.x0, end));
            }
            return;
        }
        for m in mentions.into_iter().take(MAX_LABELS - self.labels.len()) {
            self.labels.push(Label {
                piece: piece(x_at(m.range.start), x_at(m.range.end)),
                day: m.day,
                confidence: m.confidence,
            });
        }
    }

    /// Whether any date was placed on a page that has a box.
    fn has_labels_on(&self, places: &[Option<Rect>]) -> bool {
        self.labels
            .iter()
            .any(|l| places.iter().flatten().any(|b| b.page == l.piece.page))
    }

    /// Another box between box `b` and the x position `x` on its line.
    fn box_between(b: &Rect, x: f32, places: &[Option<Rect>]) -> bool {
        let (lo, hi) = if x > b.cx() { (b.cx(), x) } else { (x, b.cx()) };
        places.iter().flatten().any(|o| {
            o != b
                && o.page == b.page
                && (o.cy() - b.cy()).abs() <= 0.5 * o.h().max(b.h())
                && o.cx() > lo
                && o.cx() < hi
        })
    }

    /// The nearest unclaimed date on the box's line on `side`, and the gap.
    fn on_line(
        &self,
        b: &Rect,
        side: Side,
        claimed: &[bool],
        places: &[Option<Rect>],
    ) -> Option<(usize, f32)> {
        self.labels
            .iter()
            .enumerate()
            .filter(|(k, l)| !claimed.get(*k).copied().unwrap_or(true) && l.piece.beside(b))
            .filter_map(|(k, l)| {
                let p = &l.piece;
                let (gap, near) = match side {
                    Side::Right if p.x0 >= b.x1 - 0.5 * b.w() => ((p.x0 - b.x1).max(0.0), p.x0),
                    Side::Left if p.x1 <= b.x0 + 0.5 * b.w() => ((b.x0 - p.x1).max(0.0), p.x1),
                    _ => return None,
                };
                (!Self::box_between(b, near, places)).then_some((k, gap))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// Words (not a date) right beside the box on its line.
    fn words_beside(&self, b: &Rect, places: &[Option<Rect>]) -> Option<String> {
        self.others
            .iter()
            .filter(|p| p.beside(b) && p.x0 >= b.x1 - 0.5 * b.w())
            .map(|p| (p, p.x0 - b.x1))
            .filter(|(p, gap)| {
                *gap <= (3.0 * b.w()).max(30.0) && !Self::box_between(b, p.x0, places)
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(p, _)| p.text.clone())
    }

    /// Maps the `open` boxes to the dates printed beside them.
    fn assign(&self, open: &[usize], places: &[Option<Rect>]) -> Placed {
        let mut placed = Placed::default();
        let mut claimed = vec![false; self.labels.len()];
        let rect = |i: usize| places.get(i).copied().flatten();

        // Boxes on one line, left to right.
        let mut by_line: Vec<(usize, Rect)> = open
            .iter()
            .filter_map(|&i| rect(i).map(|r| (i, r)))
            .collect();
        by_line.sort_by(|a, b| a.1.page.cmp(&b.1.page).then(b.1.cy().total_cmp(&a.1.cy())));
        let mut groups: Vec<Vec<(usize, Rect)>> = Vec::new();
        for item in by_line {
            match groups.last_mut() {
                Some(g)
                    if g.first().is_some_and(|(_, f)| {
                        f.page == item.1.page
                            && (f.cy() - item.1.cy()).abs() <= 0.5 * f.h().max(item.1.h())
                    }) =>
                {
                    g.push(item)
                }
                _ => groups.push(vec![item]),
            }
        }
        let mut no_line_date: Vec<(usize, Rect)> = Vec::new();
        for mut group in groups {
            group.sort_by(|a, b| a.1.cx().total_cmp(&b.1.cx()));
            let right: Vec<_> = group
                .iter()
                .map(|(_, r)| self.on_line(r, Side::Right, &claimed, places))
                .collect();
            let left: Vec<_> = group
                .iter()
                .map(|(_, r)| self.on_line(r, Side::Left, &claimed, places))
                .collect();
            let consistent = |c: &[Option<(usize, f32)>]| -> Option<f32> {
                let labels: Vec<usize> =
                    c.iter().map(|x| x.map(|(k, _)| k)).collect::<Option<_>>()?;
                let mut distinct = labels.clone();
                distinct.sort_unstable();
                distinct.dedup();
                (distinct.len() == labels.len()).then(|| c.iter().flatten().map(|(_, g)| *g).sum())
            };
            let side = match (consistent(&right), consistent(&left)) {
                (Some(_), None) => Some((Side::Right, Confidence::High)),
                (None, Some(_)) => Some((Side::Left, Confidence::High)),
                (Some(r), Some(l)) if r <= l => Some((Side::Right, Confidence::Medium)),
                (Some(_), Some(_)) => Some((Side::Left, Confidence::Medium)),
                (None, None) => None,
            };
            if let Some((side, confidence)) = side {
                let chosen = if side == Side::Right { &right } else { &left };
                for ((i, _), c) in group.iter().zip(chosen) {
                    if let Some((k, _)) = c
                        && let Some(slot) = claimed.get_mut(*k)
                    {
                        *slot = true;
                        placed.assigned.push(Assignment {
                            index: *i,
                            label: *k,
                            side,
                            confidence,
                        });
                    }
                }
                continue;
            }
            // Not one reading for the whole line: nearest first, each date once.
            let mut pairs: Vec<(usize, Rect, usize, f32, Side)> = Vec::new();
            for (n, (i, r)) in group.iter().enumerate() {
                for (c, side) in [(right.get(n), Side::Right), (left.get(n), Side::Left)] {
                    if let Some(Some((k, gap))) = c {
                        pairs.push((*i, *r, *k, *gap, side));
                    }
                }
            }
            pairs.sort_by(|a, b| a.3.total_cmp(&b.3));
            let mut done: Vec<usize> = Vec::new();
            for (i, _, k, _, side) in &pairs {
                if done.contains(i) || claimed.get(*k).copied().unwrap_or(true) {
                    continue;
                }
                if let Some(slot) = claimed.get_mut(*k) {
                    *slot = true;
                }
                done.push(*i);
                placed.assigned.push(Assignment {
                    index: *i,
                    label: *k,
                    side: *side,
                    confidence: Confidence::Medium,
                });
            }
            for (n, (i, r)) in group.iter().enumerate() {
                let had_line_date =
                    matches!(right.get(n), Some(Some(_))) || matches!(left.get(n), Some(Some(_)));
                if !done.contains(i) && !had_line_date {
                    no_line_date.push((*i, *r));
                }
            }
        }

        // Boxes with no date on their line: the date above or below, in
        // their column, unless words beside them are their label.
        let mut vertical: Vec<(usize, usize, f32, Side)> = Vec::new();
        for (i, b) in &no_line_date {
            if let Some(words) = self.words_beside(b, places) {
                placed.beside.insert(*i, words);
                continue;
            }
            let reach = 2.5 * b.h().max(12.0);
            for (k, l) in self.labels.iter().enumerate() {
                let p = &l.piece;
                if claimed.get(k).copied().unwrap_or(true)
                    || p.page != b.page
                    || b.cx() < p.x0 - b.w()
                    || b.cx() > p.x1 + b.w()
                {
                    continue;
                }
                let (gap, side) = if p.cy() > b.cy() {
                    (p.y0 - b.y1, Side::Above)
                } else {
                    (b.y0 - p.y1, Side::Below)
                };
                if gap < -0.25 * b.h() || gap > reach {
                    continue;
                }
                let mut score = gap.max(0.0) + 0.1 * (b.cx() - p.cx()).abs();
                if side == Side::Below {
                    score += 0.01;
                }
                vertical.push((*i, k, score, side));
            }
        }
        vertical.sort_by(|a, b| a.2.total_cmp(&b.2));
        let mut done: Vec<usize> = Vec::new();
        for (i, k, _, side) in vertical {
            if done.contains(&i) || claimed.get(k).copied().unwrap_or(true) {
                continue;
            }
            if let Some(slot) = claimed.get_mut(k) {
                *slot = true;
            }
            done.push(i);
            placed.assigned.push(Assignment {
                index: i,
                label: k,
                side,
                confidence: Confidence::Medium,
            });
        }
        // Words beside the boxes still open, to name them to staff.
        for &i in open {
            if placed.assigned.iter().any(|a| a.index == i) || placed.beside.contains_key(&i) {
                continue;
            }
            if let Some(b) = rect(i)
                && let Some(words) = self.words_beside(&b, places)
            {
                placed.beside.insert(i, words);
            }
        }
        placed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::archive::tests::build_zip;
    use crate::documents::{CheckboxKind, Limits, docx, odt};
    use Confidence::{High, Low, Medium};

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap()
    }

    fn days() -> Vec<NaiveDate> {
        vec![day(6, 29), day(6, 30), day(7, 1), day(7, 2), day(7, 3)]
    }

    fn short(r: &BoxReading) -> Vec<(NaiveDate, bool, Confidence)> {
        let mut v: Vec<_> = r
            .choices
            .iter()
            .map(|c| (c.day, c.available, c.confidence))
            .collect();
        v.sort();
        v
    }

    fn placed(label: &str, checked: bool, rect: [f32; 4]) -> Checkbox {
        Checkbox {
            place: Some(Place { page: 1, rect }),
            ..Checkbox::new(label, checked, CheckboxKind::AcroForm)
        }
    }

    fn run(text: &str, x0: f32, y: f32) -> TextRun {
        TextRun {
            page: 1,
            x0,
            x1: x0 + 5.0 * text.chars().count() as f32,
            y,
            size: 10.0,
            text: text.into(),
        }
    }

    const SHORT: [&str; 5] = [
        "Mo 29.06.",
        "Di 30.06.",
        "Mi 01.07.",
        "Do 02.07.",
        "Fr 03.07.",
    ];

    #[test]
    fn a_header_row_of_dates_labels_the_boxes_below_it() {
        // Mo 29.06.  Di 30.06.  Mi 01.07.  Do 02.07.  Fr 03.07.
        //    ☐          ☒          ☐          ☐          ☒
        let runs: Vec<TextRun> = SHORT
            .iter()
            .enumerate()
            .map(|(n, t)| run(t, 72.0 + 90.0 * n as f32, 600.0))
            .collect();
        let boxes: Vec<Checkbox> = (0..5)
            .map(|n| {
                let x = 90.0 + 90.0 * n as f32;
                placed(
                    &format!("Check Box {}", n + 1),
                    n == 1 || n == 4,
                    [x, 575.0, x + 10.0, 585.0],
                )
            })
            .collect();
        let ex = Extracted {
            checkboxes: boxes,
            text_runs: runs.clone(),
            ..Extracted::default()
        };
        let r = read(&ex, &days());
        let want: Vec<_> = days()
            .into_iter()
            .enumerate()
            .map(|(n, d)| (d, n == 1 || n == 4, Medium))
            .collect();
        assert_eq!(short(&r), want);
        assert!(
            r.choices[1].source.ends_with("(above the box on page 1)"),
            "{:?}",
            r.choices[1]
        );
        // Dates printed under the boxes instead.
        let under: Vec<TextRun> = runs
            .into_iter()
            .map(|r| TextRun { y: 560.0, ..r })
            .collect();
        let ex = Extracted {
            text_runs: under,
            ..ex
        };
        let r = read(&ex, &days());
        assert_eq!(short(&r), want);
        assert!(r.choices[0].source.ends_with("(below the box on page 1)"));
    }

    #[test]
    fn one_date_beside_two_boxes_goes_to_the_nearer_and_the_other_is_reported() {
        // "☐ Mo 29.06. ☒": both boxes could read the date; neither side fits
        // the whole line.
        let ex = Extracted {
            checkboxes: vec![
                placed("Check Box 1", false, [72.0, 599.0, 82.0, 609.0]),
                placed("Check Box 2", true, [160.0, 599.0, 170.0, 609.0]),
            ],
            text_runs: vec![run("Mo 29.06.", 86.0, 600.0)],
            ..Extracted::default()
        };
        let r = read(&ex, &days());
        assert_eq!(short(&r), vec![(day(6, 29), false, Medium)]);
        assert_eq!(r.unmapped.len(), 1);
        assert_eq!(r.unmapped[0].label, "Check Box 2");
    }

    /// A Word document body in a package.
    fn docx_of(body: &str) -> Vec<u8> {
        let xml = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml"><w:body>{body}</w:body></w:document>"#
        );
        build_zip(&[("word/document.xml", xml.as_bytes())])
    }

    /// A content-control checkbox as Word 2016 writes it (tag "termin").
    fn sdt(checked: bool) -> String {
        let (v, glyph) = if checked { ("1", "☒") } else { ("0", "☐") };
        format!(
            r#"<w:sdt><w:sdtPr><w:tag w:val="termin"/><w:id w:val="-1"/><w14:checkbox><w14:checked w14:val="{v}"/><w14:checkedState w14:val="2612" w14:font="MS Gothic"/><w14:uncheckedState w14:val="2610" w14:font="MS Gothic"/></w14:checkbox></w:sdtPr><w:sdtContent><w:r><w:rPr><w:rFonts w:ascii="MS Gothic" w:hAnsi="MS Gothic"/></w:rPr><w:t>{glyph}</w:t></w:r></w:sdtContent></w:sdt>"#
        )
    }

    /// A legacy form-field checkbox named Kontrollkästchen{n}.
    fn legacy(n: usize, checked: bool) -> String {
        let v = if checked { "1" } else { "0" };
        format!(
            r#"<w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:name w:val="Kontrollkästchen{n}"/><w:enabled/><w:calcOnExit w:val="0"/><w:checkBox><w:sizeAuto/><w:default w:val="0"/><w:checked w:val="{v}"/></w:checkBox></w:ffData></w:fldChar></w:r><w:r><w:instrText xml:space="preserve"> FORMCHECKBOX </w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>"#
        )
    }

    fn cell(inner: &str) -> String {
        format!(
            r#"<w:tc><w:tcPr><w:tcW w:w="3000" w:type="dxa"/></w:tcPr><w:p>{inner}</w:p></w:tc>"#
        )
    }

    fn text(t: &str) -> String {
        format!(r#"<w:r><w:t xml:space="preserve">{t}</w:t></w:r>"#)
    }

    const LONG: [&str; 5] = [
        "Mo., 29.06.2026",
        "Di., 30.06.2026",
        "Mi., 01.07.2026",
        "Do., 02.07.2026",
        "Fr., 03.07.2026",
    ];

    #[test]
    fn a_word_table_with_ja_and_nein_boxes_reads_each_row() {
        // | Mo., 29.06.2026 | ☒ ja | ☐ nein |   (content control, legacy field)
        let ticks = [
            (true, false),
            (false, true),
            (false, false),
            (true, true),
            (true, false),
        ];
        let mut rows = String::new();
        for (n, (ja, nein)) in ticks.iter().enumerate() {
            rows.push_str(&format!(
                "<w:tr>{}{}{}</w:tr>",
                cell(&text(LONG[n])),
                cell(&(sdt(*ja) + &text(" ja"))),
                cell(&(legacy(n + 1, *nein) + &text(" nein"))),
            ));
        }
        let body = format!(
            "<w:p>{}</w:p><w:tbl>{rows}</w:tbl>",
            text("Kennenlerngespräch")
        );
        let ex = docx::extract(&docx_of(&body), &Limits::default()).unwrap();
        let r = read(&ex, &days());
        assert_eq!(
            short(&r),
            vec![
                (day(6, 29), true, High),
                (day(6, 30), false, High),
                (day(7, 1), false, High),
                (day(7, 2), false, Low),
                (day(7, 3), true, High),
            ]
        );
        assert!(r.unmapped.is_empty());
        assert!(
            r.choices[0].source
                == "checkbox: \u{2612} ja (in \u{201e}Mo., 29.06.2026 ja nein\u{201c})",
            "{}",
            r.choices[0].source
        );
    }

    #[test]
    fn boxes_beside_a_date_that_say_something_else_are_medium() {
        let body = format!(
            "<w:p>{}</w:p><w:p>{}</w:p>",
            text("Mo., 29.06.2026: ☒ vormittags ☐ nachmittags"),
            text("Di., 30.06.2026: ☐ vormittags ☐ nachmittags"),
        );
        let ex = docx::extract(&docx_of(&body), &Limits::default()).unwrap();
        let r = read(&ex, &days());
        assert_eq!(
            short(&r),
            vec![(day(6, 29), true, Medium), (day(6, 30), false, Medium)]
        );
    }

    #[test]
    fn libreoffice_controls_labelled_markierfeld_take_the_date_of_their_paragraph_or_row() {
        // LibreOffice gives each control a label of its own ("Markierfeld 1")
        // and anchors it in the paragraph (or table cell) with the date.
        let mut forms = String::new();
        let mut body = String::from("<table:table table:name=\"Termine\">");
        for (n, date) in LONG.iter().enumerate() {
            let state = if n == 0 || n == 3 {
                "checked"
            } else {
                "unchecked"
            };
            forms.push_str(&format!(
                r#"<form:checkbox form:name="Markierfeld {m}" form:control-implementation="ooo:com.sun.star.form.component.CheckBox" xml:id="control{n}" form:id="control{n}" form:label="Markierfeld {m}" form:current-state="{state}" form:image-position="center"><form:properties><form:property form:property-name="DefaultControl" office:value-type="string" office:string-value="com.sun.star.form.control.CheckBox"/></form:properties></form:checkbox>"#,
                m = n + 1
            ));
            let control = format!(
                r#"<draw:control text:anchor-type="as-char" svg:width="0.4cm" svg:height="0.4cm" draw:control="control{n}"/>"#
            );
            if n < 3 {
                body.push_str(&format!(
                    "<table:table-row><table:table-cell><text:p>{date}</text:p></table:table-cell><table:table-cell><text:p>{control}</text:p></table:table-cell></table:table-row>"
                ));
            } else {
                if n == 3 {
                    body.push_str("</table:table>");
                }
                body.push_str(&format!("<text:p>{control} Termin am {date}</text:p>"));
            }
        }
        let content = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:form="urn:oasis:names:tc:opendocument:xmlns:form:1.0" xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" xmlns:xml="http://www.w3.org/XML/1998/namespace" office:version="1.3"><office:body><office:text><office:forms form:automatic-focus="false" form:apply-design-mode="false"><form:form form:name="Standard" form:apply-filter="true" form:command-type="table" form:control-implementation="ooo:com.sun.star.form.component.Form">{forms}</form:form></office:forms><text:p>Fragebogen</text:p>{body}</office:text></office:body></office:document-content>"#
        );
        let odt_bytes = build_zip(&[
            ("mimetype", b"application/vnd.oasis.opendocument.text"),
            ("content.xml", content.as_bytes()),
        ]);
        let ex = odt::extract(&odt_bytes, &Limits::default()).unwrap();
        assert_eq!(ex.checkboxes[0].label, "Markierfeld 1");
        let r = read(&ex, &days());
        let want: Vec<_> = days()
            .into_iter()
            .enumerate()
            .map(|(n, d)| (d, n == 0 || n == 3, High))
            .collect();
        assert_eq!(short(&r), want);
    }

    #[test]
    fn libreoffice_controls_anchored_to_the_page_map_in_page_order() {
        // Five "Markierfeld" controls placed on the page beside a table of
        // dates they are not anchored in; the form lists them in another order.
        let mut forms = String::new();
        let mut anchors = String::new();
        for n in [3, 0, 4, 1, 2] {
            let state = if n == 1 { "checked" } else { "unchecked" };
            forms.push_str(&format!(
                r#"<form:checkbox form:name="Markierfeld {m}" form:control-implementation="ooo:com.sun.star.form.component.CheckBox" xml:id="c{n}" form:id="c{n}" form:label="Markierfeld {m}" form:current-state="{state}"/>"#,
                m = n + 1
            ));
            anchors.push_str(&format!(
                r#"<draw:control text:anchor-type="page" text:anchor-page-number="1" svg:width="0.4cm" svg:height="0.4cm" svg:x="14cm" svg:y="{}cm" draw:control="c{n}"/>"#,
                8 + n
            ));
        }
        let content = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:form="urn:oasis:names:tc:opendocument:xmlns:form:1.0" xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" xmlns:xml="http://www.w3.org/XML/1998/namespace" office:version="1.3"><office:body><office:text><office:forms><form:form form:name="Standard">{forms}</form:form></office:forms>{anchors}<text:p>Fragebogen</text:p></office:text></office:body></office:document-content>"#
        );
        let odt_bytes = build_zip(&[
            ("mimetype", b"application/vnd.oasis.opendocument.text"),
            ("content.xml", content.as_bytes()),
        ]);
        let ex = odt::extract(&odt_bytes, &Limits::default()).unwrap();
        let r = read(&ex, &days());
        let want: Vec<_> = days()
            .into_iter()
            .enumerate()
            .map(|(n, d)| (d, n == 1, Medium))
            .collect();
        assert_eq!(short(&r), want);
    }

    fn glyph(label: &str, checked: bool, context: Option<&str>) -> Checkbox {
        Checkbox {
            context: context.map(String::from),
            ..Checkbox::new(label, checked, CheckboxKind::Glyph)
        }
    }

    #[test]
    fn ticked_boxes_for_other_dates_or_several_days_are_reported() {
        let boxes = [
            glyph("Mo., 06.07.2025", true, None),
            glyph("29.06. oder 30.06.", true, None),
            glyph("", true, Some("Ersatztermin: 10.07.2026")),
            glyph("Ich bin einverstanden", true, None),
            glyph("Ich bestätige die Angaben (Stand: 15.06.2026)", true, None),
            glyph("ja", true, Some("Teilnahme am Workshop ja nein")),
            glyph(
                "ja",
                true,
                Some("Teilnahme am Workshop am 10.07.2026 ja nein"),
            ),
            glyph("Mi., 01.07.2026", true, None),
            glyph("Montag", false, None),
        ];
        let ex = Extracted {
            checkboxes: boxes.to_vec(),
            ..Extracted::default()
        };
        let r = read(&ex, &days());
        assert_eq!(
            short(&r),
            vec![(day(6, 29), false, Medium), (day(7, 1), true, High)]
        );
        let why: Vec<Why> = r.unmapped.iter().map(|u| u.why).collect();
        assert_eq!(
            why,
            vec![
                Why::OtherDate(NaiveDate::from_ymd_opt(2025, 7, 6).unwrap()),
                Why::SeveralDays,
                Why::OtherDate(day(7, 10)),
            ]
        );
        assert_eq!(
            r.unmapped[2].beside.as_deref(),
            Some("Ersatztermin: 10.07.2026")
        );
    }

    #[test]
    fn boxes_named_termin_1_to_5_without_dates_map_in_document_order() {
        // Word: "Termin 1 ☐ … Termin 5 ☐", the dates only in the letter text.
        let boxes: Vec<Checkbox> = (1..=5)
            .map(|n| glyph(&format!("Termin {n}"), n == 2, None))
            .collect();
        let ex = Extracted {
            checkboxes: boxes.clone(),
            ..Extracted::default()
        };
        let r = read(&ex, &days());
        assert_eq!(
            short(&r),
            days()
                .into_iter()
                .enumerate()
                .map(|(n, d)| (d, n == 1, Medium))
                .collect::<Vec<_>>()
        );
        assert!(r.unmapped.is_empty());
        // Six for five days: nothing is guessed, the ticked one is reported.
        let mut six = boxes;
        six.push(glyph("Termin 6", false, None));
        let r = read(
            &Extracted {
                checkboxes: six,
                ..Extracted::default()
            },
            &days(),
        );
        assert!(r.choices.is_empty());
        assert_eq!(r.unmapped.len(), 1);
        assert_eq!(
            (r.unmapped[0].label.as_str(), r.unmapped[0].why),
            ("Termin 2", Why::NoDate)
        );
        // Other boxes beside date boxes (a consent) are not in the date
        // section; a date read from a label means no guessing by order.
        let mut mixed: Vec<Checkbox> = (1..=5)
            .map(|n| glyph(&format!("Kontrollkästchen{n}"), n == 1, None))
            .collect();
        mixed.push(glyph("Ich bin einverstanden", true, None));
        let r = read(
            &Extracted {
                checkboxes: mixed.clone(),
                ..Extracted::default()
            },
            &days(),
        );
        assert_eq!(short(&r).iter().filter(|c| c.1).count(), 1);
        mixed.push(glyph("Fr., 03.07.2026", true, None));
        let r = read(
            &Extracted {
                checkboxes: mixed,
                ..Extracted::default()
            },
            &days(),
        );
        assert_eq!(short(&r), vec![(day(7, 3), true, High)]);
        assert_eq!(r.unmapped.len(), 1, "{:?}", r.unmapped);
    }

    #[test]
    fn a_hostile_number_of_boxes_and_dates_is_read_quickly() {
        use std::time::{Duration, Instant};
        // Everything on one line: every box beside every date.
        let boxes: Vec<Checkbox> = (0..MAX_PLACED_BOXES)
            .map(|n| {
                placed(
                    "Check Box",
                    true,
                    [n as f32 * 3.0, 0.0, n as f32 * 3.0 + 2.0, 10.0],
                )
            })
            .collect();
        let runs: Vec<TextRun> = (0..20_000)
            .map(|n| run("29.06. 30.06. 01.07. 02.07. 03.07.", n as f32 * 0.01, 1.0))
            .collect();
        let start = Instant::now();
        let _ = read(
            &Extracted {
                checkboxes: boxes,
                text_runs: runs,
                ..Extracted::default()
            },
            &days(),
        );
        // Many glyph boxes with long lines (DOCX).
        let line = format!("{} 29.06.", "x ".repeat(5_000));
        let boxes: Vec<Checkbox> = (0..MAX_BOXES + 10)
            .map(|_| glyph("", true, Some(&line)))
            .collect();
        let r = read(
            &Extracted {
                checkboxes: boxes,
                ..Extracted::default()
            },
            &days(),
        );
        assert!(r.unmapped.len() <= MAX_BOXES);
        let took = start.elapsed();
        assert!(took < Duration::from_secs(20), "{took:?}");
        eprintln!("hostile boxes and dates read in {took:?}");
    }

    #[test]
    fn what_a_box_name_says() {
        for (label, want) in [
            ("Kontrollkästchen3", Own::Generic),
            ("Check Box 2", Own::Generic),
            ("CheckBox12", Own::Generic),
            ("Formular1.Seite1.Kontrollkästchen3", Own::Generic),
            ("", Own::Generic),
            ("termin_1", Own::DateIsh),
            ("Wunschtermin 2", Own::DateIsh),
            ("chkTermin3", Own::DateIsh),
            ("Datum3", Own::DateIsh),
            ("ja", Own::Yes),
            ("möglich", Own::Yes),
            ("nein", Own::No),
            ("nicht möglich", Own::No),
            ("vormittags", Own::Descriptive),
            ("Ich bin einverstanden", Own::Descriptive),
        ] {
            assert_eq!(class(label), want, "{label}");
        }
    }

    #[test]
    fn nothing_to_read_gives_nothing() {
        assert_eq!(read(&Extracted::default(), &days()), BoxReading::default());
        let ex = Extracted {
            checkboxes: vec![glyph("Kontrollkästchen1", true, None)],
            ..Extracted::default()
        };
        assert_eq!(read(&ex, &[]), BoxReading::default());
        // Absurd geometry is no crash.
        let ex = Extracted {
            checkboxes: vec![
                placed("a", true, [f32::MAX, f32::MIN, f32::NAN, 1.0]),
                placed("b", true, [0.0, 0.0, 0.0, 0.0]),
            ],
            text_runs: vec![TextRun {
                x0: f32::NAN,
                size: f32::INFINITY,
                ..run("29.06.", 0.0, 0.0)
            }],
            ..Extracted::default()
        };
        let _ = read(&ex, &days());
    }
}
