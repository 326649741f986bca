//! Interview dates in what applicants send back.
//!
//! Applicants tick which of the interview days suit them. The answer arrives
//! as checkboxes of our form (the label contains the date), as somebody
//! else's form or a typed list ("29.06.2026 | X"), or as free text in the
//! mail body ("Wir können am 29.06. und am 1.7. vormittags", "Montag,
//! 29. Juni passt leider nicht, Dienstag geht").
//!
//! Everything here is a pure function over text. Nothing is decided for
//! certain: every [`DateChoice`] carries a [`Confidence`] and the text it came
//! from, so that a human can check what was read.
//!
//! Dates are found by [`dates_in_text`]: `29.06.`, `29.6.2026`, `29.06.26`,
//! `29.06` (two-digit month only), `29. Juni 2026`, `2026-06-29`, optionally
//! with a weekday before them (`Mo., 29.06.`, `Montag, den 29. Juni`) or after
//! them in brackets (`29.06. (Mo)`), and day pairs such as `29./30.06.`.
//! Impossible dates (31.06.) and dates that are part of a longer number
//! sequence (`29.06.2026.1`, `0211/29.06.26`) or a time (`11.05 Uhr`) are not
//! dates.

use std::collections::BTreeMap;
use std::ops::Range;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Serialize;

use super::Checkbox;

/// How sure a reading is. Ordered: `Low < Medium < High`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// A human must look (conflicting or unclear).
    Low,
    /// Read from free text.
    Medium,
    /// Read from a form control whose label names the date.
    High,
}

/// Whether an applicant can come on an interview day, and where that was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DateChoice {
    /// The interview day.
    pub day: NaiveDate,
    /// Whether the applicant said the day suits them.
    pub available: bool,
    /// What the choice was read from, e.g. `checkbox: ☒ Mo., 29.06.2026, 9–13 Uhr`
    /// or `mail text: „am 29.06. und am 1.7.“`.
    pub source: String,
    /// How sure the reading is.
    pub confidence: Confidence,
}

/// Finds German dates in free text: "29.06.", "29.6.2026", "29.06.26",
/// "1.7.", "Montag, 29. Juni", "29. Juni 2026", "am Mo., 29.06."; `year`
/// fills in missing years.
///
/// Each date comes with the byte range it occupies in `text` (including a
/// weekday written with it). Dates are returned in text order.
pub fn dates_in_text(text: &str, year: i32) -> Vec<(NaiveDate, Range<usize>)> {
    let toks = tokenize(text);
    find_mentions(&toks, year)
        .into_iter()
        .filter_map(|m| m.date(year).map(|d| (d, m.start..m.end)))
        .collect()
}

/// Interview-date choices from checkboxes: a checkbox whose label contains
/// exactly one of `days` (by date, or by a weekday name alone when
/// unambiguous among `days`) gives a choice with available = checked,
/// confidence High (Medium when matched by weekday only).
///
/// A date written with a weekday that does not match it still counts, with
/// Low confidence. A label that names a date which is not one of `days` gives
/// nothing (the weekday beside it belongs to that date).
///
/// This reads labels only; [`super::boxes::read`] also maps boxes whose
/// label names no date (by the text beside them, their position on the page,
/// or their order).
pub fn choices_from_checkboxes(boxes: &[Checkbox], days: &[NaiveDate]) -> Vec<DateChoice> {
    let mut out = Vec::new();
    for b in boxes {
        if let LabelDay::Day(day, confidence) = day_in_label(&b.label, days) {
            out.push(DateChoice {
                day,
                available: b.checked,
                source: checkbox_source(b.checked, &b.label),
                confidence,
            });
        }
    }
    out
}

/// `checkbox: ☒ label` (or ☐), the source of a choice read from a box.
pub(crate) fn checkbox_source(checked: bool, label: &str) -> String {
    format!(
        "checkbox: {} {}",
        if checked { '\u{2612}' } else { '\u{2610}' },
        excerpt(label)
    )
}

/// What a label (or any short text) says about the interview days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelDay {
    /// Exactly one of the days: by date (High; Low when the weekday written
    /// with it does not match), or by a weekday alone that names one of the
    /// days (Medium).
    Day(NaiveDate, Confidence),
    /// A date, but none of the days (e.g. last year's form).
    Other(NaiveDate),
    /// Two or more of the days ("29.06. oder 30.06.", "Montag" when the
    /// programme has two Mondays).
    Several,
    /// No date and no weekday.
    Nothing,
}

/// Reads a label as [`choices_from_checkboxes`] does.
pub fn day_in_label(label: &str, days: &[NaiveDate]) -> LabelDay {
    let Some(year) = days.iter().map(|d| d.year()).min() else {
        return LabelDay::Nothing;
    };
    let toks = tokenize(label);
    let mentions = find_mentions(&toks, year);
    if mentions.is_empty() {
        let weekdays = weekday_mentions(&toks, &mentions);
        let mut distinct: Vec<Weekday> = weekdays.iter().map(|w| w.weekday).collect();
        distinct.sort_by_key(|w| w.num_days_from_monday());
        distinct.dedup();
        return match distinct.as_slice() {
            [] => LabelDay::Nothing,
            [w] => match resolve_weekday(*w, days) {
                Some(d) => LabelDay::Day(d, Confidence::Medium),
                None if days.iter().any(|d| d.weekday() == *w) => LabelDay::Several,
                None => LabelDay::Nothing,
            },
            more => {
                if more.iter().any(|w| days.iter().any(|d| d.weekday() == *w)) {
                    LabelDay::Several
                } else {
                    LabelDay::Nothing
                }
            }
        };
    }
    let mut hits: Vec<(NaiveDate, Confidence)> = Vec::new();
    for m in &mentions {
        if let Some(d) = resolve(m, days) {
            let c = if m.weekday_mismatch(d) {
                Confidence::Low
            } else {
                Confidence::High
            };
            match hits.iter_mut().find(|(h, _)| *h == d) {
                Some(hit) => hit.1 = hit.1.min(c),
                None => hits.push((d, c)),
            }
        }
    }
    match hits.as_slice() {
        [(d, c)] => LabelDay::Day(*d, *c),
        [] => match mentions.iter().find_map(|m| m.date(year)) {
            Some(d) => LabelDay::Other(d),
            None => LabelDay::Nothing,
        },
        _ => LabelDay::Several,
    }
}

/// One of the interview days named in a text, where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayMention {
    pub day: NaiveDate,
    /// Byte range in the text (with a weekday written with the date).
    pub range: Range<usize>,
    /// High for a date, Low for a date with the wrong weekday, Medium for a
    /// weekday alone.
    pub confidence: Confidence,
}

/// Every mention of one of `days` in `text`, in text order: dates (resolved
/// as in [`day_in_label`]) and weekdays standing alone that name exactly one
/// of the days. Dates that are not interview days are left out.
pub fn day_mentions(text: &str, days: &[NaiveDate]) -> Vec<DayMention> {
    let Some(year) = days.iter().map(|d| d.year()).min() else {
        return Vec::new();
    };
    let toks = tokenize(text);
    let mentions = find_mentions(&toks, year);
    let mut out: Vec<DayMention> = mentions
        .iter()
        .filter_map(|m| {
            let d = resolve(m, days)?;
            let confidence = if m.weekday_mismatch(d) {
                Confidence::Low
            } else {
                Confidence::High
            };
            Some(DayMention {
                day: d,
                range: m.start..m.end,
                confidence,
            })
        })
        .collect();
    for w in weekday_mentions(&toks, &mentions) {
        if let (Some(day), Some(t)) = (resolve_weekday(w.weekday, days), toks.get(w.tok))
            && !out.iter().any(|o| o.range.start == t.start)
        {
            out.push(DayMention {
                day,
                range: t.start..t.end,
                confidence: Confidence::Medium,
            });
        }
    }
    out.sort_by_key(|m| m.range.start);
    out
}

/// Choices from free text (mail body or a typed list): each sentence/line
/// mentioning one or more of `days` gives available = true unless a negation
/// ("nicht", "kein", "leider nicht", "passt nicht", "geht nicht",
/// "verhindert", "ausgeschlossen") applies to it in the same clause;
/// confidence Medium (Low when the clause is long/ambiguous, e.g. both a
/// positive and a negative cue).
///
/// Details:
/// * Quoted lines (`> …`) are skipped, and reading stops at a reply header
///   ("-----Ursprüngliche Nachricht-----", "Am … schrieb …", "Von: …" followed
///   by "Gesendet:"/"An:"/"Betreff:"), so the quoted invitation, which lists
///   every day, is not read as an answer.
/// * A line continues the previous one only when the previous line is long
///   (hard-wrapped, 50 characters or more) and the line starts in lower case.
/// * Clauses end at `,` `;` `!` `?`, at a sentence-ending `.`, and before
///   "aber", "sondern", "jedoch", "allerdings", "dafür" (unless they follow a
///   negation: "nicht jedoch am 30.06."). A clause that is only an enumeration
///   of dates ("Am 29.06., 30.06. und 01.07. kann ich nicht") joins the next.
/// * A weekday alone ("Dienstag geht", "Mo–Mi") counts when it names exactly
///   one of `days`; Medium when the text also names one of `days` by date,
///   Low otherwise.
/// * In a typed table where some date rows are marked ("X", "✓", "ja") and
///   others are bare, the bare rows give available = false.
/// * "nicht nur" and "kein Problem" are not negations.
pub fn choices_from_text(text: &str, days: &[NaiveDate]) -> Vec<DateChoice> {
    let Some(year) = days.iter().map(|d| d.year()).min() else {
        return Vec::new();
    };
    let mut read: Vec<ClauseChoice> = Vec::new();
    for block in blocks(text) {
        let Some(block_text) = text.get(block) else {
            continue;
        };
        read_block(block_text, year, days, &mut read);
    }
    let any_explicit = read.iter().any(|c| !c.weekday_only);
    let any_marked = read.iter().any(|c| c.row == Row::Marked);
    let any_bare = read.iter().any(|c| c.row == Row::Bare);
    read.into_iter()
        .map(|c| {
            let mut choice = c.choice;
            if c.weekday_only && !any_explicit {
                choice.confidence = Confidence::Low;
            }
            if c.row == Row::Bare && any_marked && any_bare {
                choice.available = false;
            }
            choice
        })
        .collect()
}

/// Merges choices for the same day: the highest confidence wins; on equal
/// confidence with conflicting `available`, keep available = false with Low
/// confidence (a human must look). The result is ordered by day.
pub fn merge(choices: Vec<DateChoice>) -> Vec<DateChoice> {
    let mut by_day: BTreeMap<NaiveDate, Vec<DateChoice>> = BTreeMap::new();
    for c in choices {
        by_day.entry(c.day).or_default().push(c);
    }
    let mut out = Vec::new();
    for (day, group) in by_day {
        let Some(best) = group.iter().map(|c| c.confidence).max() else {
            continue;
        };
        let top: Vec<&DateChoice> = group.iter().filter(|c| c.confidence == best).collect();
        let Some(first) = top.first() else {
            continue;
        };
        if top.iter().all(|c| c.available == first.available) {
            out.push((*first).clone());
        } else {
            let mut sources: Vec<&str> = Vec::new();
            for c in &top {
                if !sources.contains(&c.source.as_str()) {
                    sources.push(&c.source);
                }
            }
            out.push(DateChoice {
                day,
                available: false,
                source: format!("conflict: {}", sources.join(" | ")),
                confidence: Confidence::Low,
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Num,
    Word,
    Space,
    Punct(char),
}

#[derive(Debug, Clone, Copy)]
struct Tok<'a> {
    kind: Kind,
    text: &'a str,
    start: usize,
    end: usize,
}

impl Tok<'_> {
    fn is_punct(&self, c: char) -> bool {
        self.kind == Kind::Punct(c)
    }

    fn is_num(&self) -> bool {
        self.kind == Kind::Num
    }

    fn is_word(&self) -> bool {
        self.kind == Kind::Word
    }

    fn lower(&self) -> String {
        self.text.to_lowercase()
    }

    fn starts_upper(&self) -> bool {
        self.text.chars().next().is_some_and(char::is_uppercase)
    }
}

fn class_of(c: char) -> Kind {
    if c.is_ascii_digit() {
        Kind::Num
    } else if c.is_alphabetic() {
        Kind::Word
    } else if c.is_whitespace() {
        Kind::Space
    } else {
        Kind::Punct(c)
    }
}

/// Splits text into runs of ASCII digits, letters, whitespace, and single
/// other characters, with byte offsets.
fn tokenize(text: &str) -> Vec<Tok<'_>> {
    let mut toks = Vec::new();
    let mut iter = text.char_indices().peekable();
    while let Some((start, c)) = iter.next() {
        let kind = class_of(c);
        let mut end = start + c.len_utf8();
        if !matches!(kind, Kind::Punct(_)) {
            while let Some(&(i, n)) = iter.peek() {
                if class_of(n) != kind {
                    break;
                }
                end = i + n.len_utf8();
                iter.next();
            }
        }
        toks.push(Tok {
            kind,
            text: text.get(start..end).unwrap_or(""),
            start,
            end,
        });
    }
    toks
}

// ---------------------------------------------------------------------------
// Words
// ---------------------------------------------------------------------------

/// A weekday written as a whole word: full name or two-letter abbreviation.
fn weekday_word(lower: &str) -> Option<(Weekday, bool)> {
    let w = match lower {
        "montag" => (Weekday::Mon, false),
        "dienstag" => (Weekday::Tue, false),
        "mittwoch" => (Weekday::Wed, false),
        "donnerstag" => (Weekday::Thu, false),
        "freitag" => (Weekday::Fri, false),
        "samstag" | "sonnabend" => (Weekday::Sat, false),
        "sonntag" => (Weekday::Sun, false),
        "mo" => (Weekday::Mon, true),
        "di" => (Weekday::Tue, true),
        "mi" => (Weekday::Wed, true),
        "do" => (Weekday::Thu, true),
        "fr" => (Weekday::Fri, true),
        "sa" => (Weekday::Sat, true),
        "so" => (Weekday::Sun, true),
        _ => return None,
    };
    Some(w)
}

const FULL_WEEKDAYS: [(&str, Weekday); 8] = [
    ("montag", Weekday::Mon),
    ("dienstag", Weekday::Tue),
    ("mittwoch", Weekday::Wed),
    ("donnerstag", Weekday::Thu),
    ("freitag", Weekday::Fri),
    ("samstag", Weekday::Sat),
    ("sonnabend", Weekday::Sat),
    ("sonntag", Weekday::Sun),
];

/// What may follow a weekday name in one word: "montags", "Dienstagvormittag".
const WEEKDAY_SUFFIXES: [&str; 14] = [
    "",
    "s",
    "vormittag",
    "vormittags",
    "nachmittag",
    "nachmittags",
    "mittag",
    "mittags",
    "morgen",
    "morgens",
    "abend",
    "abends",
    "früh",
    "frueh",
];

/// A weekday standing alone in text (not written with a date).
fn weekday_alone(lower: &str) -> Option<(Weekday, bool)> {
    for (name, w) in FULL_WEEKDAYS {
        if let Some(rest) = lower.strip_prefix(name)
            && WEEKDAY_SUFFIXES.contains(&rest)
        {
            return Some((w, false));
        }
    }
    match lower {
        // "sa" and "so" are too common as other words ("so geht das").
        "mo" | "di" | "mi" | "do" | "fr" => weekday_word(lower),
        _ => None,
    }
}

/// A month name or abbreviation; the flag says whether it is an abbreviation
/// (whose following "." belongs to it).
fn month_word(lower: &str) -> Option<(u32, bool)> {
    let m = match lower {
        "januar" | "jänner" | "jaenner" => (1, false),
        "jan" | "jän" => (1, true),
        "februar" => (2, false),
        "feb" | "febr" => (2, true),
        "märz" | "maerz" => (3, false),
        "mär" | "mrz" => (3, true),
        "april" => (4, false),
        "apr" => (4, true),
        "mai" => (5, false),
        "juni" => (6, false),
        "jun" => (6, true),
        "juli" => (7, false),
        "jul" => (7, true),
        "august" => (8, false),
        "aug" => (8, true),
        "september" => (9, false),
        "sep" | "sept" => (9, true),
        "oktober" => (10, false),
        "okt" => (10, true),
        "november" => (11, false),
        "nov" => (11, true),
        "dezember" => (12, false),
        "dez" => (12, true),
        _ => return None,
    };
    Some(m)
}

/// Words that negate availability in their clause.
fn is_negator(lower: &str) -> bool {
    matches!(
        lower,
        "nicht"
            | "nein"
            | "nie"
            | "niemals"
            | "niemand"
            | "weder"
            | "verhindert"
            | "ausgeschlossen"
            | "unmöglich"
            | "verplant"
            | "belegt"
            | "ausgebucht"
            | "abwesend"
            | "urlaub"
            | "außer"
            | "ausser"
            | "ausgenommen"
            | "schlecht"
            | "ungünstig"
            | "absagen"
            | "anderweitig"
            | "verreist"
            | "dienstreise"
            | "kollidiert"
    ) || lower.starts_with("kein")
}

/// "nicht nur", "kein Problem", "keine Einschränkungen": negations that say yes.
fn is_positive_negation(lower: &str, next: &str) -> bool {
    (lower == "nicht" && next == "nur")
        || (lower.starts_with("kein")
            && (next.starts_with("problem")
                || next == "thema"
                || next.starts_with("einschränkung")))
}

/// Standalone affirmations (verbs such as "geht" or "passt" are neutral:
/// they take the polarity of a negation beside them).
fn is_affirmation(lower: &str) -> bool {
    matches!(
        lower,
        "ja" | "gerne"
            | "gern"
            | "gut"
            | "prima"
            | "super"
            | "ideal"
            | "optimal"
            | "bevorzugt"
            | "bevorzuge"
            | "bevorzugen"
            | "liebsten"
            | "schon"
            | "problemlos"
            | "jederzeit"
            | "x"
    )
}

/// Connectives and date nouns that may stand between the dates of an
/// enumeration ("am 29. und 30.06.", "Termin 1 oder 2") without saying
/// anything about availability.
fn is_connective(lower: &str) -> bool {
    matches!(
        lower,
        "am" | "an"
            | "den"
            | "der"
            | "dem"
            | "die"
            | "und"
            | "oder"
            | "sowie"
            | "bzw"
            | "u"
            | "auch"
            | "ebenso"
            | "sowohl"
            | "als"
            | "vom"
            | "termin"
            | "termine"
            | "tag"
            | "datum"
    )
}

/// Words that may stand in a date enumeration or a table row without saying
/// anything about availability: the connectives, and words of time and place.
fn is_filler(lower: &str) -> bool {
    is_connective(lower)
        || matches!(
            lower,
            "von"
                | "ab"
                | "bis"
                | "um"
                | "uhr"
                | "h"
                | "tage"
                | "zoom"
                | "digital"
                | "via"
                | "vormittag"
                | "vormittags"
                | "nachmittag"
                | "nachmittags"
        )
}

/// Capitalised words that start a new sentence after a date ending in ".":
/// "am 29.06. Am 30.06. leider nicht".
fn is_sentence_starter(lower: &str) -> bool {
    matches!(
        lower,
        "am" | "an"
            | "da"
            | "dann"
            | "der"
            | "die"
            | "das"
            | "den"
            | "ich"
            | "wir"
            | "es"
            | "er"
            | "sie"
            | "leider"
            | "aber"
            | "auch"
            | "nur"
            | "bitte"
            | "ansonsten"
            | "sonst"
            | "zudem"
            | "außerdem"
            | "ausserdem"
            | "gerne"
            | "gern"
            | "ja"
            | "nein"
            | "vielen"
            | "danke"
            | "beste"
            | "viele"
            | "freundliche"
            | "herzliche"
            | "liebe"
            | "hallo"
            | "mit"
            | "alle"
            | "hier"
            | "heute"
            | "und"
            | "oder"
            | "dort"
            | "wäre"
            | "würde"
    )
}

/// Abbreviations whose "." does not end a sentence.
fn is_abbreviation(lower: &str) -> bool {
    matches!(
        lower,
        "bzw"
            | "ca"
            | "evtl"
            | "ggf"
            | "usw"
            | "vgl"
            | "etc"
            | "nr"
            | "tel"
            | "str"
            | "fr"
            | "hr"
            | "dr"
            | "prof"
            | "mo"
            | "di"
            | "mi"
            | "do"
            | "sa"
            | "so"
            | "inkl"
            | "zzgl"
            | "bspw"
            | "max"
            | "min"
            | "std"
            | "vorm"
            | "nachm"
            | "allg"
            | "abs"
            | "gem"
            | "jan"
            | "feb"
            | "jun"
            | "jul"
            | "aug"
            | "sep"
            | "sept"
            | "okt"
            | "nov"
            | "dez"
    )
}

/// Conjunctions that start a new clause: "geht nicht aber am 30.06. gerne".
fn is_clause_conjunction(lower: &str) -> bool {
    matches!(
        lower,
        "aber" | "sondern" | "jedoch" | "allerdings" | "dafür" | "wohingegen" | "während"
    )
}

// ---------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------

/// A date found in text; `start..end` are byte offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mention {
    day: u32,
    month: u32,
    year: Option<i32>,
    weekday: Option<Weekday>,
    start: usize,
    end: usize,
}

impl Mention {
    fn date(&self, fallback_year: i32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year.unwrap_or(fallback_year), self.month, self.day)
    }

    fn weekday_mismatch(&self, date: NaiveDate) -> bool {
        self.weekday.is_some_and(|w| w != date.weekday())
    }

    fn contains(&self, pos: usize) -> bool {
        (self.start..self.end).contains(&pos)
    }
}

/// A date match before weekday handling: token span `first..next`.
struct Raw {
    day: u32,
    month: u32,
    year: Option<i32>,
    first: usize,
    next: usize,
}

fn num_of(t: Option<&Tok>, lens: Range<usize>) -> Option<u32> {
    let t = t?;
    if t.is_num() && lens.contains(&t.text.len()) {
        t.text.parse().ok()
    } else {
        None
    }
}

fn punct_at(toks: &[Tok], i: usize, c: char) -> bool {
    toks.get(i).is_some_and(|t| t.is_punct(c))
}

/// The token before `i` does not continue a number sequence into the date.
fn clean_before(toks: &[Tok], i: usize) -> bool {
    let Some(p) = i.checked_sub(1).and_then(|j| toks.get(j)) else {
        return true;
    };
    if p.is_num() {
        return false;
    }
    let joins = matches!(p.kind, Kind::Punct('.' | ',' | '/' | '-' | '+' | ':'));
    let before_num = i
        .checked_sub(2)
        .and_then(|j| toks.get(j))
        .is_some_and(Tok::is_num);
    !(joins && before_num)
}

/// The tokens from `j` on do not continue a number sequence out of the date
/// (`ends_with_num`: the date's last token is a number).
fn clean_after(toks: &[Tok], j: usize, ends_with_num: bool) -> bool {
    let Some(n) = toks.get(j) else {
        return true;
    };
    if n.is_num() {
        return false;
    }
    let num_next = toks.get(j + 1).is_some_and(Tok::is_num);
    if ends_with_num && (n.is_punct('.') || n.is_punct(',')) && num_next {
        return false;
    }
    if !ends_with_num && n.is_punct('.') && num_next {
        return false;
    }
    true
}

fn year_of(t: &Tok) -> Option<i32> {
    let v: i32 = t.text.parse().ok()?;
    match t.text.len() {
        2 => Some(2000 + v),
        4 if (1900..=2100).contains(&v) => Some(v),
        _ => None,
    }
}

/// Followed by "Uhr" or "h": a time such as "11.05 Uhr", not a date.
fn followed_by_time_word(toks: &[Tok], j: usize) -> bool {
    let mut k = j;
    if toks.get(k).is_some_and(|t| t.kind == Kind::Space) {
        k += 1;
    }
    toks.get(k)
        .is_some_and(|t| t.is_word() && matches!(t.lower().as_str(), "uhr" | "h"))
}

/// `29.06.`, `29.6.2026`, `29.06.26`, `29.06. 2026`, `29.06`.
fn parse_numeric(toks: &[Tok], i: usize) -> Option<Raw> {
    let day = num_of(toks.get(i), 1..3)?;
    if !punct_at(toks, i + 1, '.') {
        return None;
    }
    let month_tok = toks.get(i + 2)?;
    let month = num_of(Some(month_tok), 1..3)?;
    let mut j = i + 3;
    let mut year = None;
    let mut ends_with_num = true;
    if punct_at(toks, j, '.') {
        j += 1;
        ends_with_num = false;
        match toks.get(j) {
            Some(t) if t.is_num() => {
                year = Some(year_of(t)?);
                j += 1;
                ends_with_num = true;
            }
            Some(t) if t.kind == Kind::Space => {
                if let Some(y) = toks.get(j + 1).filter(|t| t.is_num() && t.text.len() == 4)
                    && let Some(v) = year_of(y)
                    && clean_after(toks, j + 2, true)
                {
                    year = Some(v);
                    j += 2;
                    ends_with_num = true;
                }
            }
            _ => {}
        }
    } else if month_tok.text.len() != 2 || followed_by_time_word(toks, j) {
        return None;
    }
    if !clean_after(toks, j, ends_with_num) {
        return None;
    }
    Some(Raw {
        day,
        month,
        year,
        first: i,
        next: j,
    })
}

/// `29. Juni`, `29. Juni 2026`, `1 Jul. 2026`, `29.Juni`.
fn parse_textual(toks: &[Tok], i: usize) -> Option<Raw> {
    let day = num_of(toks.get(i), 1..3)?;
    let mut j = i + 1;
    if punct_at(toks, j, '.') {
        j += 1;
    }
    if toks.get(j).is_some_and(|t| t.kind == Kind::Space) {
        j += 1;
    }
    let word = toks.get(j).filter(|t| t.is_word())?;
    let (month, abbreviated) = month_word(&word.lower())?;
    j += 1;
    if abbreviated && punct_at(toks, j, '.') {
        j += 1;
    }
    let mut year = None;
    if toks.get(j).is_some_and(|t| t.kind == Kind::Space)
        && let Some(y) = toks.get(j + 1).filter(|t| t.is_num() && t.text.len() == 4)
        && let Some(v) = year_of(y)
    {
        if !clean_after(toks, j + 2, true) {
            return None;
        }
        year = Some(v);
        j += 2;
    }
    Some(Raw {
        day,
        month,
        year,
        first: i,
        next: j,
    })
}

/// `2026-06-29`.
fn parse_iso(toks: &[Tok], i: usize) -> Option<Raw> {
    let y = toks.get(i).filter(|t| t.is_num() && t.text.len() == 4)?;
    let year = year_of(y)?;
    if !punct_at(toks, i + 1, '-') || !punct_at(toks, i + 3, '-') {
        return None;
    }
    let month = num_of(toks.get(i + 2), 1..3)?;
    let day = num_of(toks.get(i + 4), 1..3)?;
    let next = i + 5;
    if toks.get(next).is_some_and(Tok::is_num)
        || (punct_at(toks, next, '-') && toks.get(next + 1).is_some_and(Tok::is_num))
    {
        return None;
    }
    Some(Raw {
        day,
        month,
        year: Some(year),
        first: i,
        next,
    })
}

/// A weekday written before the date at token `i` ("Mo., 29.06.", "Montag,
/// den 29. Juni", "Mittwoch (1.7.)"): the weekday and its first token.
fn weekday_before(toks: &[Tok], i: usize) -> Option<(Weekday, usize)> {
    let mut k = i.checked_sub(1)?;
    let back = |k: usize| k.checked_sub(1);
    if toks.get(k)?.kind == Kind::Space {
        k = back(k)?;
    }
    if toks.get(k)?.is_word() && matches!(toks.get(k)?.lower().as_str(), "den" | "der") {
        k = back(k)?;
        if toks.get(k)?.kind == Kind::Space {
            k = back(k)?;
        }
    }
    if toks.get(k)?.is_punct(',') || toks.get(k)?.is_punct('(') {
        k = back(k)?;
        if toks.get(k)?.kind == Kind::Space {
            k = back(k)?;
        }
    }
    if toks.get(k)?.is_punct('.') {
        k = back(k)?;
    }
    let t = toks.get(k).filter(|t| t.is_word())?;
    weekday_word(&t.lower()).map(|(w, _)| (w, k))
}

/// A weekday in brackets after the date ending before token `j`:
/// "29.06. (Mo)": the weekday and the token after the ")".
fn weekday_after(toks: &[Tok], j: usize) -> Option<(Weekday, usize)> {
    let mut k = j;
    if toks.get(k)?.kind == Kind::Space {
        k += 1;
    }
    if !toks.get(k)?.is_punct('(') {
        return None;
    }
    k += 1;
    let t = toks.get(k).filter(|t| t.is_word())?;
    let (w, _) = weekday_word(&t.lower())?;
    k += 1;
    if punct_at(toks, k, '.') {
        k += 1;
    }
    if !punct_at(toks, k, ')') {
        return None;
    }
    Some((w, k + 1))
}

/// "29./30.06.": the first day of a pair written before the date at `i`.
fn paired_day(toks: &[Tok], i: usize, not_before: usize) -> Option<(u32, usize, usize)> {
    let mut k = i.checked_sub(1)?;
    if toks.get(k)?.kind == Kind::Space {
        k = k.checked_sub(1)?;
    }
    let sep = toks.get(k)?;
    let is_sep = matches!(sep.kind, Kind::Punct('/' | '&' | '+'))
        || (sep.is_word() && matches!(sep.lower().as_str(), "und" | "u" | "oder"));
    if !is_sep {
        return None;
    }
    k = k.checked_sub(1)?;
    if toks.get(k)?.kind == Kind::Space {
        k = k.checked_sub(1)?;
    }
    if !toks.get(k)?.is_punct('.') {
        return None;
    }
    let d = k.checked_sub(1)?;
    let tok = toks.get(d)?;
    let day = num_of(Some(tok), 1..3)?;
    if tok.start < not_before || !clean_before(toks, d) {
        return None;
    }
    Some((day, tok.start, toks.get(k)?.end))
}

/// All dates in the tokens, in text order. Yearless dates are checked with
/// `year` (so 29.02. is a date only in a leap year).
fn find_mentions(toks: &[Tok], year: i32) -> Vec<Mention> {
    let mut out: Vec<Mention> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let raw = if clean_before(toks, i) {
            parse_numeric(toks, i)
                .or_else(|| parse_textual(toks, i))
                .or_else(|| parse_iso(toks, i))
        } else {
            None
        };
        let Some(raw) = raw else {
            i += 1;
            continue;
        };
        let (Some(first), Some(last)) = (toks.get(raw.first), raw.next.checked_sub(1)) else {
            i += 1;
            continue;
        };
        let Some(last) = toks.get(last) else {
            i += 1;
            continue;
        };
        let mut m = Mention {
            day: raw.day,
            month: raw.month,
            year: raw.year,
            weekday: None,
            start: first.start,
            end: last.end,
        };
        if m.date(year).is_none() {
            i = raw.next;
            continue;
        }
        let not_before = out.last().map_or(0, |p| p.end);
        let mut next = raw.next;
        if let Some((w, k)) = weekday_before(toks, raw.first)
            && toks.get(k).is_some_and(|t| t.start >= not_before)
        {
            m.weekday = Some(w);
            m.start = toks.get(k).map_or(m.start, |t| t.start);
        } else if let Some((w, after)) = weekday_after(toks, raw.next) {
            m.weekday = Some(w);
            m.end = after
                .checked_sub(1)
                .and_then(|k| toks.get(k))
                .map_or(m.end, |t| t.end);
            next = after;
        }
        if m.weekday.is_none()
            && let Some((day, start, end)) = paired_day(toks, raw.first, not_before)
        {
            let pair = Mention {
                day,
                start,
                end,
                weekday: None,
                ..m
            };
            if pair.date(year).is_some() {
                out.push(pair);
            }
        }
        out.push(m);
        i = next.max(i + 1);
    }
    out
}

/// The one day among `days` a date names (by month and day when it has no year).
fn resolve(m: &Mention, days: &[NaiveDate]) -> Option<NaiveDate> {
    match m.year {
        Some(y) => NaiveDate::from_ymd_opt(y, m.month, m.day).filter(|d| days.contains(d)),
        None => unique(
            days.iter()
                .filter(|d| d.month() == m.month && d.day() == m.day),
        ),
    }
}

/// The one day among `days` that falls on `w`.
fn resolve_weekday(w: Weekday, days: &[NaiveDate]) -> Option<NaiveDate> {
    unique(days.iter().filter(|d| d.weekday() == w))
}

fn unique<'a>(mut it: impl Iterator<Item = &'a NaiveDate>) -> Option<NaiveDate> {
    let first = *it.next()?;
    if it.any(|d| *d != first) {
        None
    } else {
        Some(first)
    }
}

/// A weekday named without a date, at token `tok`.
#[derive(Debug, Clone, Copy)]
struct WeekdayMention {
    weekday: Weekday,
    tok: usize,
}

/// Weekdays standing alone (outside dates), with ranges such as "Mo–Mi" or
/// "Montag bis Mittwoch" expanded.
fn weekday_mentions(toks: &[Tok], mentions: &[Mention]) -> Vec<WeekdayMention> {
    let mut found: Vec<WeekdayMention> = Vec::new();
    for (k, t) in toks.iter().enumerate() {
        if !t.is_word() || mentions.iter().any(|m| m.contains(t.start)) {
            continue;
        }
        let Some((weekday, abbreviated)) = weekday_alone(&t.lower()) else {
            continue;
        };
        if abbreviated && !abbreviation_is_weekday(toks, k) {
            continue;
        }
        found.push(WeekdayMention { weekday, tok: k });
    }
    let mut out: Vec<WeekdayMention> = Vec::new();
    for (n, w) in found.iter().enumerate() {
        out.push(*w);
        let Some(next) = found.get(n + 1) else {
            continue;
        };
        if is_range_between(toks, w.tok, next.tok) {
            let mut d = w.weekday.succ();
            let mut guard = 0;
            while d != next.weekday && guard < 6 {
                out.push(WeekdayMention {
                    weekday: d,
                    tok: w.tok,
                });
                d = d.succ();
                guard += 1;
            }
        }
    }
    out
}

/// "Fr. Hirsch" is a person, "Fr. vormittags" a day: an abbreviation followed
/// by a capitalised word only counts when that word is a weekday, a month or
/// a part of the day.
fn abbreviation_is_weekday(toks: &[Tok], k: usize) -> bool {
    let mut j = k + 1;
    if punct_at(toks, j, '.') {
        j += 1;
    }
    if toks.get(j).is_some_and(|t| t.kind == Kind::Space) {
        j += 1;
    }
    let Some(next) = toks.get(j).filter(|t| t.is_word()) else {
        return true;
    };
    if !next.starts_upper() {
        return true;
    }
    let lower = next.lower();
    weekday_word(&lower).is_some()
        || month_word(&lower).is_some()
        || [
            "vorm", "nachm", "mittag", "ganz", "morgen", "abend", "früh", "uhr",
        ]
        .iter()
        .any(|p| lower.starts_with(p))
}

/// Only a dash or "bis" (with spaces and dots) between tokens `a` and `b`.
fn is_range_between(toks: &[Tok], a: usize, b: usize) -> bool {
    let mut seps = 0;
    for t in toks.iter().take(b).skip(a + 1) {
        match t.kind {
            Kind::Space | Kind::Punct('.') => {}
            Kind::Punct('-' | '\u{2013}' | '\u{2014}') => seps += 1,
            Kind::Word if t.lower() == "bis" => seps += 1,
            _ => return false,
        }
    }
    seps == 1
}

// ---------------------------------------------------------------------------
// Free text
// ---------------------------------------------------------------------------

/// How a clause looks as a row of a typed table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    /// Not a table row.
    No,
    /// Only a date (and filler such as "9–13 Uhr").
    Bare,
    /// A date with a mark ("X", "✓", "ja").
    Marked,
}

struct ClauseChoice {
    choice: DateChoice,
    weekday_only: bool,
    row: Row,
}

/// The byte ranges of the text to read, one per paragraph-like block: quoted
/// lines are skipped, hard-wrapped lines joined, and reading stops at a reply
/// header.
fn blocks(text: &str) -> Vec<Range<usize>> {
    let mut lines: Vec<(usize, &str)> = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        lines.push((offset, line));
        offset += line.len();
    }
    let mut out: Vec<Range<usize>> = Vec::new();
    let mut current: Option<Range<usize>> = None;
    let mut prev_len = 0usize;
    for (n, (start, line)) in lines.iter().enumerate() {
        let content = line.trim_end_matches(['\n', '\r']);
        let trimmed = content.trim();
        if is_reply_header(&lines, n) {
            break;
        }
        let end = start + content.len();
        if trimmed.is_empty() || trimmed.starts_with('>') {
            out.extend(current.take());
            prev_len = 0;
            continue;
        }
        let continues = prev_len >= 50 && trimmed.chars().next().is_some_and(char::is_lowercase);
        match current.as_mut() {
            Some(r) if continues => r.end = end,
            _ => {
                out.extend(current.take());
                current = Some(*start..end);
            }
        }
        prev_len = trimmed.chars().count();
    }
    out.extend(current);
    out
}

fn is_reply_header(lines: &[(usize, &str)], n: usize) -> bool {
    let Some((_, line)) = lines.get(n) else {
        return false;
    };
    let t = line.trim();
    let lower = t.to_lowercase();
    if lower.starts_with("-----ursprüngliche nachricht")
        || lower.starts_with("----- ursprüngliche nachricht")
        || lower.starts_with("-----original message")
        || lower.starts_with("----- original message")
        || (t.starts_with("Am ") && lower.contains("schrieb"))
        || (t.starts_with("On ") && lower.contains("wrote"))
    {
        return true;
    }
    if lower.starts_with("von:") || lower.starts_with("from:") {
        return lines.iter().skip(n + 1).take(4).any(|(_, l)| {
            let l = l.trim().to_lowercase();
            [
                "gesendet:",
                "sent:",
                "datum:",
                "date:",
                "an:",
                "to:",
                "betreff:",
                "subject:",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        });
    }
    false
}

/// A clause: tokens `a..b`; `soft` when it ended at a comma or conjunction
/// (so an enumeration fragment may join the next clause).
#[derive(Debug, Clone, Copy)]
struct Clause {
    a: usize,
    b: usize,
    soft: bool,
}

fn split_clauses(toks: &[Tok], mentions: &[Mention]) -> Vec<Clause> {
    let mut out = Vec::new();
    let mut cur = 0;
    for (k, t) in toks.iter().enumerate() {
        if let Some(m) = mentions.iter().find(|m| m.contains(t.start)) {
            // "am 29.06. Am 30.06. nicht": a date's final "." ends a sentence
            // when a sentence starter follows.
            if t.end == m.end && t.is_punct('.') && starter_follows(toks, k + 1) {
                out.push(Clause {
                    a: cur,
                    b: k + 1,
                    soft: false,
                });
                cur = k + 1;
            }
            continue;
        }
        match t.kind {
            Kind::Punct('!' | '?' | ';') => {
                out.push(Clause {
                    a: cur,
                    b: k,
                    soft: false,
                });
                cur = k + 1;
            }
            Kind::Punct('.') if sentence_ends_at(toks, k) => {
                out.push(Clause {
                    a: cur,
                    b: k,
                    soft: false,
                });
                cur = k + 1;
            }
            Kind::Punct(',') => {
                out.push(Clause {
                    a: cur,
                    b: k,
                    soft: true,
                });
                cur = k + 1;
            }
            Kind::Word
                if is_clause_conjunction(&t.lower()) && !after_leading_negator(toks, cur, k) =>
            {
                out.push(Clause {
                    a: cur,
                    b: k,
                    soft: true,
                });
                cur = k;
            }
            _ => {}
        }
    }
    out.push(Clause {
        a: cur,
        b: toks.len(),
        soft: false,
    });
    out
}

fn starter_follows(toks: &[Tok], j: usize) -> bool {
    if !toks.get(j).is_some_and(|t| t.kind == Kind::Space) {
        return false;
    }
    toks.get(j + 1)
        .is_some_and(|t| t.is_word() && t.starts_upper() && is_sentence_starter(&t.lower()))
}

fn sentence_ends_at(toks: &[Tok], k: usize) -> bool {
    let next_ok = toks.get(k + 1).is_none_or(|t| t.kind == Kind::Space);
    let prev_ok = k.checked_sub(1).and_then(|p| toks.get(p)).is_some_and(|p| {
        p.is_word() && p.text.chars().count() >= 2 && !is_abbreviation(&p.lower())
            || p.is_punct(')')
    });
    next_ok && prev_ok
}

/// "nicht jedoch am 30.06.": a conjunction right after a negation that opens
/// its clause does not start a new clause (but "geht nicht aber am 30.06."
/// does).
fn after_leading_negator(toks: &[Tok], cur: usize, k: usize) -> bool {
    let mut words = toks
        .iter()
        .take(k)
        .skip(cur)
        .filter(|t| t.is_word() || t.is_num());
    match (words.next(), words.next()) {
        (Some(t), None) => is_negator(&t.lower()),
        _ => false,
    }
}

/// Words of a clause outside dates and standalone weekdays.
fn clause_words<'a>(
    toks: &'a [Tok<'a>],
    c: Clause,
    mentions: &[Mention],
    weekdays: &[WeekdayMention],
) -> Vec<(usize, &'a Tok<'a>)> {
    toks.iter()
        .enumerate()
        .take(c.b)
        .skip(c.a)
        .filter(|(k, t)| {
            (t.is_word() || is_mark(t))
                && !mentions.iter().any(|m| m.contains(t.start))
                && !weekdays.iter().any(|w| w.tok == *k)
        })
        .collect()
}

fn is_mark(t: &Tok) -> bool {
    matches!(
        t.kind,
        Kind::Punct('\u{2612}' | '\u{2611}' | '\u{2713}' | '\u{2714}' | '\u{2610}')
    )
}

/// A clause that only enumerates dates ("Am 29.06.", "30.06. und"): no
/// numbers besides the dates (such as "ab 10 Uhr") and only linking words.
fn is_fragment(words: &[(usize, &Tok)], has_dates: bool, has_numbers: bool) -> bool {
    has_dates && !has_numbers && words.iter().all(|(_, t)| is_connective(&t.lower()))
}

/// Reads one block of free text and appends its choices.
fn read_block(text: &str, year: i32, days: &[NaiveDate], out: &mut Vec<ClauseChoice>) {
    let toks = tokenize(text);
    let mentions = find_mentions(&toks, year);
    let weekdays = weekday_mentions(&toks, &mentions);
    let mut clauses = split_clauses(&toks, &mentions);

    // Join enumeration fragments ("Am 29.06., 30.06. und 01.07. kann ich
    // nicht") with the clause after them.
    for n in 0..clauses.len() {
        let (Some(c), Some(next)) = (clauses.get(n).copied(), clauses.get(n + 1).copied()) else {
            continue;
        };
        if !c.soft {
            continue;
        }
        let start = toks.get(c.a).map_or(0, |t| t.start);
        let end =
            c.b.checked_sub(1)
                .and_then(|k| toks.get(k))
                .map_or(0, |t| t.end);
        let has_dates = mentions.iter().any(|m| m.start >= start && m.start < end)
            || weekdays.iter().any(|w| w.tok >= c.a && w.tok < c.b);
        let words = clause_words(&toks, c, &mentions, &weekdays);
        let has_numbers = toks
            .iter()
            .take(c.b)
            .skip(c.a)
            .any(|t| t.is_num() && !mentions.iter().any(|m| m.contains(t.start)));
        if is_fragment(&words, has_dates, has_numbers)
            && let Some(slot) = clauses.get_mut(n + 1)
        {
            *slot = Clause {
                a: c.a,
                b: next.b,
                soft: next.soft,
            };
            if let Some(slot) = clauses.get_mut(n) {
                slot.b = slot.a;
            }
        }
    }
    let whole_block = clauses.iter().filter(|c| c.b > c.a).count() == 1;

    for c in clauses.iter().copied().filter(|c| c.b > c.a) {
        let (Some(first), Some(last)) =
            (toks.get(c.a), c.b.checked_sub(1).and_then(|k| toks.get(k)))
        else {
            continue;
        };
        let span = first.start..last.end;
        let words = clause_words(&toks, c, &mentions, &weekdays);

        // Cues.
        let mut negators: Vec<usize> = Vec::new();
        let mut affirmations = 0usize;
        let mut marks = 0usize;
        let mut non_filler = 0usize;
        let mut regret = false;
        let mut only = false;
        let mut excepting = false;
        for (n, (k, t)) in words.iter().enumerate() {
            let lower = t.lower();
            let next = words.get(n + 1).map(|(_, t)| t.lower()).unwrap_or_default();
            regret |= lower == "leider";
            only |= lower == "nur";
            if t.is_punct('\u{2610}') {
                negators.push(*k);
            } else if lower == "bis" && next == "auf" {
                negators.push(*k);
                excepting = true;
            } else if is_mark(t) || lower == "x" {
                marks += 1;
            } else if is_positive_negation(&lower, &next) {
                affirmations += 1;
            } else if is_negator(&lower) {
                negators.push(*k);
                excepting |= matches!(lower.as_str(), "außer" | "ausser" | "ausgenommen");
            } else if is_affirmation(&lower) {
                affirmations += 1;
                if lower == "ja" {
                    marks += 1;
                }
            }
            if !is_filler(&lower) && !is_mark(t) && lower != "x" && lower != "ja" {
                non_filler += 1;
            }
        }
        // "Am 29.06. habe ich leider schon einen Termin": "leider" without a
        // negation (and without "nur") is read as no, with Low confidence.
        let regret_only = negators.is_empty() && regret && !only;
        let negative = !negators.is_empty() || regret_only;
        let all_days = names_all_days(&words);

        // Days named in the clause, in order, each once.
        let mut named: Vec<(NaiveDate, bool, bool, usize)> = Vec::new(); // day, mismatch, weekday only, token
        for m in mentions.iter().filter(|m| span.contains(&m.start)) {
            if let Some(d) = resolve(m, days) {
                let tok = toks.iter().position(|t| t.start >= m.start).unwrap_or(c.a);
                named.push((d, m.weekday_mismatch(d), false, tok));
            }
        }
        for w in weekdays.iter().filter(|w| w.tok >= c.a && w.tok < c.b) {
            if let Some(d) = resolve_weekday(w.weekday, days)
                && !named.iter().any(|n| n.0 == d)
            {
                named.push((d, false, true, w.tok));
            }
        }
        if named.is_empty() && !all_days {
            continue;
        }
        let mut seen: Vec<NaiveDate> = Vec::new();
        named.retain(|n| {
            if seen.contains(&n.0) {
                false
            } else {
                seen.push(n.0);
                true
            }
        });

        let first_tok = named.iter().map(|n| n.3).min().unwrap_or(c.a);
        let last_tok = named.iter().map(|n| n.3).max().unwrap_or(c.a);
        let scope_unclear =
            named.len() > 1 && negators.iter().any(|&k| k > first_tok && k < last_tok);
        let word_count = toks
            .iter()
            .take(c.b)
            .skip(c.a)
            .filter(|t| t.is_word())
            .count();
        let ambiguous =
            (negative && affirmations > 0) || scope_unclear || regret_only || word_count > 30;

        let dated = named.iter().filter(|n| !n.2).count();
        let row = if !whole_block || dated != 1 || named.len() != 1 || non_filler > 0 || negative {
            Row::No
        } else if marks > 0 {
            Row::Marked
        } else if affirmations == 0 {
            Row::Bare
        } else {
            Row::No
        };

        let source = format!(
            "mail text: \u{201e}{}\u{201c}",
            excerpt(text.get(span.clone()).unwrap_or(""))
        );
        // "Alle Termine passen", "keiner der Termine", "alle außer dem 29.06.".
        let mut rest: Vec<(NaiveDate, bool)> = Vec::new();
        if all_days && (named.is_empty() || excepting) {
            let available = excepting || !negative;
            for d in days {
                if !named.iter().any(|n| n.0 == *d) && !rest.iter().any(|r| r.0 == *d) {
                    rest.push((*d, available));
                }
            }
        }
        for (day, available) in rest {
            let confidence = if ambiguous || word_count > 12 {
                Confidence::Low
            } else {
                Confidence::Medium
            };
            out.push(ClauseChoice {
                choice: DateChoice {
                    day,
                    available,
                    source: source.clone(),
                    confidence,
                },
                weekday_only: false,
                row: Row::No,
            });
        }
        for (day, mismatch, weekday_only, _) in named {
            let confidence = if ambiguous || mismatch {
                Confidence::Low
            } else {
                Confidence::Medium
            };
            out.push(ClauseChoice {
                choice: DateChoice {
                    day,
                    available: !negative,
                    source: source.clone(),
                    confidence,
                },
                weekday_only,
                row,
            });
        }
    }
}

/// Whether the words speak of all dates: "alle (fünf) Termine", "jeder
/// Termin", "keiner der Termine", "die Terminvorschläge passen alle".
fn names_all_days(words: &[(usize, &Tok)]) -> bool {
    const QUANTIFIERS: [&str; 11] = [
        "alle",
        "allen",
        "sämtliche",
        "jeder",
        "jeden",
        "jedem",
        "kein",
        "keiner",
        "keinen",
        "keinem",
        "keine",
    ];
    const MODIFIERS: [&str; 13] = [
        "der",
        "die",
        "den",
        "fünf",
        "genannten",
        "vorgeschlagenen",
        "angebotenen",
        "ihre",
        "ihrer",
        "diese",
        "dieser",
        "möglichen",
        "aufgeführten",
    ];
    let lower: Vec<String> = words.iter().map(|(_, t)| t.lower()).collect();
    let is_dates_noun = |w: &str| {
        ["termin", "option"].iter().any(|p| w.starts_with(p))
            || matches!(w, "tage" | "tagen" | "daten")
    };
    for (n, w) in lower.iter().enumerate() {
        if !QUANTIFIERS.contains(&w.as_str()) {
            continue;
        }
        // Forward: "alle (genannten) Termine".
        let forward = lower
            .iter()
            .skip(n + 1)
            .find(|w| !MODIFIERS.contains(&w.as_str()))
            .is_some_and(|w| is_dates_noun(w));
        // Backward: "Ihre Terminvorschläge passen alle" (not "… alle Unterlagen").
        let ends_here = words.get(n + 1).is_none_or(|(_, t)| !t.starts_upper());
        let backward = ends_here && lower.iter().take(n).rev().take(3).any(|w| is_dates_noun(w));
        if forward || backward {
            return true;
        }
    }
    false
}

/// The text with whitespace collapsed, cut to 120 characters.
pub(crate) fn excerpt(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let trimmed = collapsed.trim_matches(|c: char| c == ',' || c == ';');
    if trimmed.chars().count() > 120 {
        let mut s: String = trimmed.chars().take(119).collect();
        s.push('\u{2026}');
        s
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::documents::CheckboxKind;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).unwrap()
    }

    /// The five interview days of `config/ews7.toml`.
    fn days() -> Vec<NaiveDate> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/ews7.toml");
        let programme = crate::config::Programme::load(&path).unwrap();
        programme
            .interview_days
            .iter()
            .map(|day| day.slot.start.date_naive())
            .collect()
    }

    fn found(text: &str) -> Vec<NaiveDate> {
        dates_in_text(text, 2026)
            .into_iter()
            .map(|(d, _)| d)
            .collect()
    }

    fn cb(label: &str, checked: bool) -> Checkbox {
        Checkbox::new(label, checked, CheckboxKind::Glyph)
    }

    /// (day, available, confidence) of each choice.
    fn short(choices: &[DateChoice]) -> Vec<(NaiveDate, bool, Confidence)> {
        choices
            .iter()
            .map(|c| (c.day, c.available, c.confidence))
            .collect()
    }

    fn text_choices(text: &str) -> Vec<(NaiveDate, bool, Confidence)> {
        short(&choices_from_text(text, &days()))
    }

    fn merged_text(text: &str) -> Vec<(NaiveDate, bool, Confidence)> {
        short(&merge(choices_from_text(text, &days())))
    }

    use Confidence::{High, Low, Medium};

    #[test]
    fn configured_days_are_the_five_interview_days() {
        assert_eq!(days(), vec![d(6, 29), d(6, 30), d(7, 1), d(7, 2), d(7, 3)]);
    }

    #[test]
    fn numeric_forms() {
        assert_eq!(found("am 29.06. bitte"), vec![d(6, 29)]);
        assert_eq!(found("am 29.6.2026"), vec![d(6, 29)]);
        assert_eq!(found("am 29.06.26"), vec![d(6, 29)]);
        assert_eq!(found("am 1.7."), vec![d(7, 1)]);
        assert_eq!(found("am 01.07.2026!"), vec![d(7, 1)]);
        assert_eq!(found("am 29.06 geht"), vec![d(6, 29)]);
        assert_eq!(found("29.06. 2026"), vec![d(6, 29)]);
        assert_eq!(found("2026-06-30"), vec![d(6, 30)]);
        assert_eq!(
            found("29.06.2025"),
            vec![NaiveDate::from_ymd_opt(2025, 6, 29).unwrap()]
        );
    }

    #[test]
    fn textual_forms() {
        assert_eq!(found("Montag, 29. Juni"), vec![d(6, 29)]);
        assert_eq!(found("29. Juni 2026"), vec![d(6, 29)]);
        assert_eq!(found("am 2. Juli"), vec![d(7, 2)]);
        assert_eq!(found("am 3. Jul. 2026"), vec![d(7, 3)]);
        assert_eq!(found("am 30. Jun."), vec![d(6, 30)]);
        assert_eq!(found("am 5. Jan."), vec![d(1, 5)]);
        assert_eq!(found("am 24. Dezember"), vec![d(12, 24)]);
        assert_eq!(found("am 29.Juni"), vec![d(6, 29)]);
    }

    #[test]
    fn ranges_include_the_weekday() {
        let text = "Wir können am Mo., 29.06. und Mittwoch, den 1. Juli.";
        let got = dates_in_text(text, 2026);
        let spans: Vec<&str> = got.iter().map(|(_, r)| &text[r.clone()]).collect();
        assert_eq!(spans, vec!["Mo., 29.06.", "Mittwoch, den 1. Juli"]);
        assert_eq!(got[0].0, d(6, 29));
        assert_eq!(got[1].0, d(7, 1));
        let text = "29.06. (Mo) passt";
        let got = dates_in_text(text, 2026);
        assert_eq!(&text[got[0].1.clone()], "29.06. (Mo)");
    }

    #[test]
    fn year_fills_in_missing_years() {
        assert_eq!(found("am 1.7."), vec![d(7, 1)]);
        assert_eq!(
            dates_in_text("am 1.7.", 2027)[0].0,
            NaiveDate::from_ymd_opt(2027, 7, 1).unwrap()
        );
        // 29.02. exists only in leap years.
        assert!(dates_in_text("am 29.02.", 2026).is_empty());
        assert_eq!(dates_in_text("am 29.02.", 2028).len(), 1);
    }

    #[test]
    fn impossible_dates_are_ignored() {
        assert!(found("am 31.06.").is_empty());
        assert!(found("am 31. Juni").is_empty());
        assert!(found("am 30.13.2026").is_empty());
        assert!(found("am 0.7.").is_empty());
    }

    #[test]
    fn number_sequences_are_not_dates() {
        assert!(found("Tel. 0176 1230 7836").is_empty());
        assert!(found("Mobil: 0176 29 06 2026").is_empty());
        assert!(found("Az. 29.06.2026.1").is_empty());
        assert!(found("Vorgang 1.29.06.2026").is_empty());
        assert!(found("Tel. 0211/29.06.26").is_empty());
        assert!(found("29.06.20261").is_empty());
        assert!(found("IBAN DE12 3004 0029 0630 1234 56").is_empty());
        // Times and decimals.
        assert!(found("um 11.05 Uhr").is_empty());
        assert!(found("um 9.30").is_empty());
        assert!(found("1.7 Mio. Euro").is_empty());
        // A phone number beside a real date does not hide it.
        assert_eq!(found("29.06. (Tel. 0176 1230 7836)"), vec![d(6, 29)]);
    }

    #[test]
    fn pairs_and_lists_of_dates() {
        assert_eq!(found("29./30.06."), vec![d(6, 29), d(6, 30)]);
        assert_eq!(found("29.06.,30.06."), vec![d(6, 29), d(6, 30)]);
        assert_eq!(found("29.06.–03.07.2026"), vec![d(6, 29), d(7, 3)]);
    }

    #[test]
    fn checkboxes_by_date() {
        let boxes = [
            cb("Mo., 29.06.2026, 9–13 Uhr", true),
            cb("Di., 30.06.2026, 9–13 Uhr", false),
            cb("1. Juli", true),
            cb("Ich bin einverstanden", true),
        ];
        let got = choices_from_checkboxes(&boxes, &days());
        assert_eq!(
            short(&got),
            vec![
                (d(6, 29), true, High),
                (d(6, 30), false, High),
                (d(7, 1), true, High)
            ]
        );
        assert_eq!(
            got[0].source,
            "checkbox: \u{2612} Mo., 29.06.2026, 9–13 Uhr"
        );
        assert_eq!(
            got[1].source,
            "checkbox: \u{2610} Di., 30.06.2026, 9–13 Uhr"
        );
    }

    #[test]
    fn checkboxes_by_weekday_only() {
        let boxes = [
            cb("Montag", true),
            cb("Mi vormittags", false),
            cb("Samstag", true),
            cb("Montag oder Dienstag", true),
            cb("Fr. Hirsch informieren", true),
        ];
        assert_eq!(
            short(&choices_from_checkboxes(&boxes, &days())),
            vec![(d(6, 29), true, Medium), (d(7, 1), false, Medium)]
        );
        // A weekday that names two of the days is ambiguous.
        let two_mondays = [d(6, 29), d(7, 6)];
        assert!(choices_from_checkboxes(&[cb("Montag", true)], &two_mondays).is_empty());
    }

    #[test]
    fn checkboxes_that_are_ambiguous_or_foreign() {
        let boxes = [
            cb("29.06. oder 30.06.", true),
            cb("Mo., 06.07.2026", true),
            cb("29.06.2025", true),
        ];
        assert!(choices_from_checkboxes(&boxes, &days()).is_empty());
        assert!(choices_from_checkboxes(&[cb("29.06.", true)], &[]).is_empty());
    }

    #[test]
    fn checkbox_with_wrong_weekday_is_low() {
        let got = choices_from_checkboxes(&[cb("Di., 29.06.2026", true)], &days());
        assert_eq!(short(&got), vec![(d(6, 29), true, Low)]);
        let got = choices_from_text("Am Freitag, 1.7. geht es.", &days());
        assert_eq!(short(&got), vec![(d(7, 1), true, Low)]);
    }

    #[test]
    fn free_text_positive() {
        let got = choices_from_text("Wir können am 29.06. und am 1.7. vormittags", &days());
        assert_eq!(
            short(&got),
            vec![(d(6, 29), true, Medium), (d(7, 1), true, Medium)]
        );
        assert_eq!(
            got[0].source,
            "mail text: \u{201e}Wir können am 29.06. und am 1.7. vormittags\u{201c}"
        );
    }

    #[test]
    fn free_text_negation_and_weekday_alone() {
        assert_eq!(
            text_choices("Montag, 29. Juni passt leider nicht, Dienstag geht"),
            vec![(d(6, 29), false, Medium), (d(6, 30), true, Medium)]
        );
        assert_eq!(
            text_choices("Am 29.06. geht es nicht, am 30.06. schon."),
            vec![(d(6, 29), false, Medium), (d(6, 30), true, Medium)]
        );
        assert_eq!(
            text_choices("Am 29.06. geht nicht aber am 30.06. gerne"),
            vec![(d(6, 29), false, Medium), (d(6, 30), true, Medium)]
        );
        assert_eq!(
            text_choices("Nicht am 29.06., sondern am 30.06."),
            vec![(d(6, 29), false, Medium), (d(6, 30), true, Medium)]
        );
        assert_eq!(
            text_choices("Am 29.06. passt es gut, nicht jedoch am 30.06."),
            vec![(d(6, 29), true, Medium), (d(6, 30), false, Medium)]
        );
    }

    #[test]
    fn every_negation_cue() {
        for text in [
            "Am 29.06. kann ich nicht.",
            "Am 29.06. habe ich keine Zeit.",
            "Der 29.06. passt leider nicht.",
            "29.06. passt nicht",
            "29.06. geht nicht",
            "Am 29.06. bin ich verhindert.",
            "Der 29.06. ist ausgeschlossen.",
            "29.06.: nein",
            "Weder am 29.06. noch am 30.06.",
            "Alle Termine außer dem 29.06.",
        ] {
            let got = text_choices(text);
            let first = got.iter().find(|c| c.0 == d(6, 29));
            assert_eq!(first, Some(&(d(6, 29), false, Medium)), "{text}");
        }
    }

    #[test]
    fn negation_applies_to_an_enumeration() {
        assert_eq!(
            text_choices("Am 29.06., 30.06. und 01.07. kann ich leider nicht."),
            vec![
                (d(6, 29), false, Medium),
                (d(6, 30), false, Medium),
                (d(7, 1), false, Medium)
            ]
        );
        assert_eq!(
            text_choices("Am 29.06. und am 30.06. kann ich nicht"),
            vec![(d(6, 29), false, Medium), (d(6, 30), false, Medium)]
        );
    }

    #[test]
    fn not_negations() {
        assert_eq!(
            text_choices("Der 29.06. ist kein Problem."),
            vec![(d(6, 29), true, Medium)]
        );
        assert_eq!(
            text_choices("Nicht nur am 29.06. sondern auch am 30.06."),
            vec![(d(6, 29), true, Medium), (d(6, 30), true, Medium)]
        );
    }

    #[test]
    fn a_date_with_a_time_is_a_clause_of_its_own() {
        assert_eq!(
            text_choices("Am 29.06. ab 10 Uhr, am 30.06. gar nicht."),
            vec![(d(6, 29), true, Medium), (d(6, 30), false, Medium)]
        );
        assert_eq!(
            text_choices("Grundsätzlich ginge Mittwoch, der 1. Juli, nachmittags aber nicht."),
            vec![(d(7, 1), true, Medium)]
        );
    }

    #[test]
    fn a_whole_mail() {
        let text = "Sehr geehrte Frau Hirsch,\n\nanbei unsere Bewerbung. Für das Gespräch \
                    passt uns der 30.06. oder der 02.07., am Montag sind wir leider \
                    verhindert.\n\nMit freundlichen Grüßen\nMax Muster\nTel. 0211 899 29 06";
        assert_eq!(
            text_choices(text),
            vec![
                (d(6, 30), true, Medium),
                (d(7, 2), true, Medium),
                (d(6, 29), false, Medium)
            ]
        );
    }

    #[test]
    fn typed_answers_per_line() {
        assert_eq!(
            text_choices("Mo, 29.06.: ja\nDi, 30.06.: nein\nMi, 01.07.: ja"),
            vec![
                (d(6, 29), true, Medium),
                (d(6, 30), false, Medium),
                (d(7, 1), true, Medium)
            ]
        );
        assert_eq!(
            text_choices("[x] Mo., 29.06.2026\n[ ] Di., 30.06.2026\n\u{2610} Do., 02.07.2026"),
            vec![
                (d(6, 29), true, Medium),
                (d(6, 30), false, Medium),
                (d(7, 2), false, Medium)
            ]
        );
    }

    #[test]
    fn sentences_split_after_a_date() {
        assert_eq!(
            text_choices("Wir können am 29.06. Am 30.06. leider nicht."),
            vec![(d(6, 29), true, Medium), (d(6, 30), false, Medium)]
        );
        assert_eq!(
            text_choices("Der 29.06. passt. Der 30.06. passt nicht!"),
            vec![(d(6, 29), true, Medium), (d(6, 30), false, Medium)]
        );
    }

    #[test]
    fn ambiguous_clauses_are_low() {
        // Positive and negative cue in one clause.
        assert_eq!(
            text_choices("Der 29.06. ginge gerne, eher nicht gut"),
            vec![(d(6, 29), true, Medium)]
        );
        assert_eq!(
            text_choices("Am 29.06. gerne, wenn es nicht anders geht"),
            vec![(d(6, 29), true, Medium)]
        );
        assert_eq!(
            text_choices("Am 29.06. leider nicht so gut"),
            vec![(d(6, 29), false, Low)]
        );
        // Negation between two dates: its scope is unclear.
        assert_eq!(
            text_choices("Am 29.06. und nicht am 30.06."),
            vec![(d(6, 29), false, Low), (d(6, 30), false, Low)]
        );
        // A very long clause.
        let long = format!("Am 29.06. {}", "sehr lange Rede und ".repeat(10));
        assert_eq!(text_choices(&long), vec![(d(6, 29), true, Low)]);
    }

    #[test]
    fn regret_without_negation() {
        assert_eq!(
            text_choices("Am 29.06. habe ich leider schon einen Termin."),
            vec![(d(6, 29), false, Low)]
        );
        assert_eq!(
            text_choices("Leider kann ich nur am 30.06."),
            vec![(d(6, 30), true, Medium)]
        );
    }

    #[test]
    fn all_dates_at_once() {
        let all = |available| {
            days()
                .into_iter()
                .map(|d| (d, available, Medium))
                .collect::<Vec<_>>()
        };
        assert_eq!(text_choices("Mir passen alle Termine."), all(true));
        assert_eq!(
            text_choices("Ihre Terminvorschläge passen alle."),
            all(true)
        );
        assert_eq!(text_choices("Leider passt keiner der Termine."), all(false));
        let mut except = all(true);
        except[0].1 = false;
        assert_eq!(merged_text("Alle Termine außer dem 29.06. passen."), except);
        assert!(text_choices("Zum Termin bringe ich alle Unterlagen mit.").is_empty());
        assert!(text_choices("Danke für alle Informationen.").is_empty());
    }

    #[test]
    fn weekday_alone_without_any_date_is_low() {
        assert_eq!(
            text_choices("Dienstag geht, Mittwoch nicht."),
            vec![(d(6, 30), true, Low), (d(7, 1), false, Low)]
        );
        assert_eq!(
            text_choices("Mo–Mi geht, am 03.07. nicht."),
            vec![
                (d(6, 29), true, Medium),
                (d(6, 30), true, Medium),
                (d(7, 1), true, Medium),
                (d(7, 3), false, Medium)
            ]
        );
        // "Fr." before a name is "Frau".
        assert!(text_choices("Sehr geehrte Fr. Hirsch, danke.").is_empty());
    }

    #[test]
    fn typed_list_and_table() {
        let text = "Termine:\n29.06.2026 | X\n30.06.2026 |\n01.07.2026 | X\n02.07.2026\n03.07.2026 | nein\n";
        assert_eq!(
            merged_text(text),
            vec![
                (d(6, 29), true, Medium),
                (d(6, 30), false, Medium),
                (d(7, 1), true, Medium),
                (d(7, 2), false, Medium),
                (d(7, 3), false, Medium)
            ]
        );
        // Without any mark, a list of dates means all of them.
        let text = "Folgende Termine passen:\n- 29.06.\n- 1.7.\n";
        assert_eq!(
            text_choices(text),
            vec![(d(6, 29), true, Medium), (d(7, 1), true, Medium)]
        );
    }

    #[test]
    fn quoted_invitation_is_not_read() {
        let text = "Hallo Frau Hirsch,\n\nwir können am 30.06.\n\n\
                    Am 20.06.2026 um 10:00 schrieb A. Hirsch:\n\
                    > Mo., 29.06.2026, 9–13 Uhr\n> Di., 30.06.2026\n";
        assert_eq!(text_choices(text), vec![(d(6, 30), true, Medium)]);
        let text = "Der 2.7. passt.\n\n-----Ursprüngliche Nachricht-----\nVon: A. Hirsch\n\
                    Gesendet: Montag\nTermine: 29.06., 30.06.\n";
        assert_eq!(text_choices(text), vec![(d(7, 2), true, Medium)]);
        let text = "Der 2.7. passt.\nVon: A. Hirsch <a@example.org>\nAn: uns\n29.06. oder 30.06.\n";
        assert_eq!(text_choices(text), vec![(d(7, 2), true, Medium)]);
    }

    #[test]
    fn hard_wrapped_lines_are_one_sentence() {
        let text = "Vielen Dank für die Einladung, wir haben im Team besprochen, dass\n\
                    am 29.06. und am 30.06. leider niemand kann.";
        assert_eq!(
            text_choices(text),
            vec![(d(6, 29), false, Medium), (d(6, 30), false, Medium)]
        );
    }

    #[test]
    fn days_outside_the_programme_give_nothing() {
        assert!(text_choices("Am 15.07. geht es, am 31.06. auch.").is_empty());
        assert!(choices_from_text("Am 29.06. geht es", &[]).is_empty());
    }

    #[test]
    fn no_panics_on_odd_input() {
        for text in [
            "",
            ".",
            "29.",
            "29.06",
            "Mo.,",
            "\u{2610}",
            "29./",
            "ä.ö.ü 31.",
            "1.1.1.1.1",
            "-2026-06-29-",
        ] {
            let _ = dates_in_text(text, 2026);
            let _ = choices_from_text(text, &days());
            let _ = choices_from_checkboxes(&[cb(text, true)], &days());
        }
    }

    fn choice(day: NaiveDate, available: bool, confidence: Confidence, source: &str) -> DateChoice {
        DateChoice {
            day,
            available,
            source: source.to_string(),
            confidence,
        }
    }

    #[test]
    fn merge_highest_confidence_wins() {
        let merged = merge(vec![
            choice(d(6, 30), true, Medium, "text"),
            choice(d(6, 29), false, Medium, "text"),
            choice(d(6, 29), true, High, "checkbox"),
            choice(d(6, 30), true, Low, "other"),
        ]);
        assert_eq!(
            merged,
            vec![
                choice(d(6, 29), true, High, "checkbox"),
                choice(d(6, 30), true, Medium, "text")
            ]
        );
    }

    #[test]
    fn merge_conflict_at_equal_confidence_is_low_and_unavailable() {
        let merged = merge(vec![
            choice(d(6, 29), true, Medium, "a"),
            choice(d(6, 29), false, Medium, "b"),
            choice(d(6, 29), true, Low, "c"),
        ]);
        assert_eq!(
            merged,
            vec![choice(d(6, 29), false, Low, "conflict: a | b")]
        );
        // Agreeing choices keep their confidence.
        let merged = merge(vec![
            choice(d(7, 1), true, Medium, "a"),
            choice(d(7, 1), true, Medium, "b"),
        ]);
        assert_eq!(merged, vec![choice(d(7, 1), true, Medium, "a")]);
        assert!(merge(Vec::new()).is_empty());
    }

    #[test]
    fn end_to_end_checkboxes_and_text() {
        let mut all = choices_from_checkboxes(
            &[cb("Mo., 29.06.2026", false), cb("Di., 30.06.2026", true)],
            &days(),
        );
        all.extend(choices_from_text(
            "Am 29.06. ginge es doch, der 2.7. nicht.",
            &days(),
        ));
        assert_eq!(
            short(&merge(all)),
            vec![
                (d(6, 29), false, High),
                (d(6, 30), true, High),
                (d(7, 2), false, Medium)
            ]
        );
    }

    #[test]
    fn confidence_orders_and_serialises() {
        assert!(Low < Medium && Medium < High);
        let json = serde_json::to_string(&choice(d(6, 29), true, High, "x")).unwrap();
        assert_eq!(
            json,
            r#"{"day":"2026-06-29","available":true,"source":"x","confidence":"high"}"#
        );
    }
}
