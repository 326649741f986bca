//! The programme file: deadline, interview days, modules and learning groups.
//!
//! The file is TOML edited by staff (see `config/ews7.toml`). Every dated
//! entry carries the weekday as written in the call for applications next to
//! its ISO date, so a transcription slip (a wrong day or year) is refused at
//! start-up instead of being mailed to applicants.
//!
//! Shape (every table refuses unknown keys):
//!
//! ```toml
//! name = "…"
//! short_name = "EWS 7"
//! interview_minutes = 20
//! deadline = { weekday = "Fr.", date = "2026-06-19" }
//!
//! [[interview_days]]
//! weekday = "Mo"
//! date = "2026-06-29"
//! start = "09:00"
//! end = "13:00"
//! place = "Digital, via Zoom"
//!
//! [[modules]]
//! title = "1. Präsenzmodul"
//! status = "confirmed"            # or "tentative"
//! place = "…"
//! address = "…"
//! agenda = "…"
//! days = [
//!   { weekday = "Do", date = "2026-08-27", start = "10:00", end = "16:00" },
//! ]
//!
//! [[learning_groups]]
//! title = "1. Treffen digitale Lerngruppe"
//! status = "confirmed"
//! weekday = "Mi"
//! date = "2026-10-07"
//! start = "09:00"
//! end = "10:30"
//! zoom_link = "https://…"
//! agenda = "…"                    # optional
//! ```
//!
//! Dates may also be written as bare TOML dates (`date = 2026-06-19`) and
//! times as bare TOML times (`start = 09:00:00`).

use std::fmt::Write as _;
use std::ops::RangeInclusive;
use std::path::Path;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use super::error::{ConfigError, parse_toml};
use crate::calendar::german;

/// An instant in Europe/Berlin.
pub type Berlin = DateTime<Tz>;

/// Allowed length of one interview, in minutes.
const INTERVIEW_MINUTES: RangeInclusive<u32> = 5..=120;

/// Whether an event is fixed or still subject to approval (e.g. the budget).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    /// The event takes place as announced.
    Confirmed,
    /// The event is planned but not yet approved.
    Tentative,
    /// The event was called off: everyone told gets a cancellation (.ics).
    Cancelled,
}

/// A time span on one day, in Europe/Berlin; `end` is after `start`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Slot {
    /// When the slot begins.
    pub start: Berlin,
    /// When the slot ends.
    pub end: Berlin,
}

/// A day offered for the digital interviews.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InterviewDay {
    /// 1-based position in the file.
    pub number: u32,
    /// The hours in which interviews can be scheduled.
    pub slot: Slot,
    /// Where the interviews take place, e.g. "Digital, via Zoom".
    pub place: String,
}

/// An in-person module of one or more days.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Module {
    /// 1-based position in the file.
    pub number: u32,
    /// Title as shown to participants, e.g. "1. Präsenzmodul".
    pub title: String,
    /// The days, in order.
    pub days: Vec<Slot>,
    /// The venue's name.
    pub place: String,
    /// The venue's postal address.
    pub address: String,
    /// What the module covers (German).
    pub agenda: String,
    /// Whether the module is confirmed.
    pub status: EventStatus,
}

/// A digital learning-group meeting.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LearningGroup {
    /// 1-based position in the file.
    pub number: u32,
    /// Title as shown to participants, e.g. "1. Treffen digitale Lerngruppe".
    pub title: String,
    /// When the meeting takes place.
    pub slot: Slot,
    /// The Zoom link participants use.
    pub zoom_link: String,
    /// What the meeting covers (German, may be empty).
    pub agenda: String,
    /// Whether the meeting is confirmed.
    pub status: EventStatus,
}

/// The validated programme: all dates exist, match their weekdays and are in order.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Programme {
    /// Full name of the programme.
    pub name: String,
    /// Short name used in subjects, e.g. "EWS 7".
    pub short_name: String,
    /// The programme's code and reference prefix, e.g. `EWS7` (`EWS7-0003`):
    /// upper-case letters and digits. Defaults to the letters and digits of
    /// `short_name`.
    pub code: String,
    /// The day the call for applications opens (from 00:00 Berlin time), if
    /// the file names one; without it the call is open from the start.
    pub call_opens: Option<NaiveDate>,
    /// The start of [`Programme::call_opens`].
    pub call_opens_at: Option<Berlin>,
    /// A retired programme sends nothing any more (no reminders, no
    /// invitations); its data stays until its retention ends.
    pub retired: bool,
    /// A folder of templates that override the shared ones for this
    /// programme (anchored to the programme file's folder).
    pub templates: Option<std::path::PathBuf>,
    /// The prefix of this programme's scheduled-mail and calendar keys:
    /// empty for the programme that owns the data from before part 9, `CODE:`
    /// for the others. Not in the file: set from the store at start-up
    /// (`store::programmes::key_scope`).
    pub key_scope: String,
    /// Last day to apply.
    pub deadline: NaiveDate,
    /// End of the deadline day, 23:59:59 Europe/Berlin.
    pub deadline_end: Berlin,
    /// Length of one interview in minutes.
    pub interview_minutes: u32,
    /// The interview days, in order.
    pub interview_days: Vec<InterviewDay>,
    /// The in-person modules, in order.
    pub modules: Vec<Module>,
    /// The learning-group meetings, in order.
    pub learning_groups: Vec<LearningGroup>,
    /// How interview slots are cut and where the talks take place.
    pub interviews: InterviewRules,
    /// The selection's capacity rules.
    pub selection: SelectionRules,
}

/// `[interviews]`: slots of `interview_minutes`, a buffer between them, a cap per day.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InterviewRules {
    /// Minutes between one talk's end and the next one's start.
    pub buffer_minutes: u32,
    /// At most this many talks per interview day.
    pub max_per_day: u32,
    /// The Zoom link of the talks (https://…).
    pub zoom_link: String,
}

/// Whether `code` (upper or lower case) is a programme code: 2 to 16 ASCII
/// letters and digits, starting with a letter (`EWS7`). The one rule for the
/// programme file and for staff commands that name a programme.
pub fn is_code(code: &str) -> bool {
    (2..=16).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_alphabetic())
        && code.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Whether a meeting link is missing or still the shipped placeholder
/// ("…ZOOM-LINK-EINTRAGEN"): invitations must not go out with it.
pub fn is_placeholder_link(link: &str) -> bool {
    let l = link.trim().to_ascii_uppercase();
    l.is_empty() || l.contains("EINTRAGEN") || l.contains("PLACEHOLDER")
}

impl Programme {
    /// Warnings for `check-config`: placeholder links that would reach people.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if is_placeholder_link(&self.interviews.zoom_link) {
            out.push(
                "interviews.zoom_link is missing or a placeholder: invitations cannot be released"
                    .to_string(),
            );
        }
        for g in &self.learning_groups {
            if is_placeholder_link(&g.zoom_link) {
                out.push(format!(
                    "learning group {} ({}): zoom_link is a placeholder; reminders would carry it",
                    g.number, g.title
                ));
            }
        }
        out
    }
}

/// `[selection]`: at most `max_municipalities`, of which at most
/// `max_two_person` send two persons.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SelectionRules {
    pub max_municipalities: u32,
    pub max_two_person: u32,
}

impl Programme {
    /// Reads and validates the programme file at `path`.
    pub fn load(path: &Path) -> Result<Programme, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, e))?;
        let mut programme = Self::parse(&text, path)?;
        if let Some(dir) = programme.templates.as_mut()
            && dir.is_relative()
            && let Some(base) = path.parent()
        {
            *dir = base.join(&*dir);
        }
        Ok(programme)
    }

    /// Whether the call for applications is open at `at`: from
    /// [`Programme::call_opens_at`] (or always, without it) to the end of
    /// the deadline day. A retired programme's call is never open.
    pub fn is_call_open(&self, at: DateTime<Utc>) -> bool {
        !self.retired && self.is_on_time(at) && self.call_opens_at.is_none_or(|opens| at >= opens)
    }

    /// Parses and validates programme TOML; `file` is only used in messages.
    pub fn parse(text: &str, file: &Path) -> Result<Programme, ConfigError> {
        let raw: raw::File = parse_toml(text, file)?;
        Validator { file }.programme(raw)
    }

    /// Whether an application received at `received` (e.g. its IMAP
    /// INTERNALDATE) is on time, i.e. no later than [`Programme::deadline_end`].
    ///
    /// Fractions of a second are ignored, so 23:59:59.9 still counts.
    pub fn is_on_time(&self, received: DateTime<Utc>) -> bool {
        received < self.deadline_end + chrono::Duration::seconds(1)
    }

    /// A human-readable listing of every event, for `postbote check-config`.
    pub fn render_summary(&self) -> String {
        let mut out = format!(
            "Programme: {}\nShort name: {}\nCode: {} (references {}-0001, …){}\n",
            self.name,
            self.short_name,
            self.code,
            self.code,
            if self.retired {
                "\nRetired: sends nothing more"
            } else {
                ""
            }
        );
        if let Some(opens) = self.call_opens {
            let _ = writeln!(out, "Call opens: {}", german::format_date(opens));
        }
        let _ = writeln!(
            out,
            "Application deadline: {} (on time if received by {})",
            german::format_date(self.deadline),
            german::format_datetime(&self.deadline_end)
        );
        let _ = writeln!(
            out,
            "\nInterview days ({} minutes per interview):",
            self.interview_minutes
        );
        for day in &self.interview_days {
            let _ = writeln!(
                out,
                "  {}. {}, {}",
                day.number,
                day.slot.render(),
                day.place
            );
        }
        out.push_str("\nModules and learning groups, in chronological order:\n");
        for (_, block) in self.event_blocks() {
            out.push_str(&block);
        }
        out
    }

    /// The rendered modules and learning groups, sorted by start.
    fn event_blocks(&self) -> Vec<(Berlin, String)> {
        let modules = self.modules.iter().filter_map(|m| {
            let first = m.days.first()?;
            Some((first.start, m.render()))
        });
        let groups = self
            .learning_groups
            .iter()
            .map(|g| (g.slot.start, g.render()));
        let mut blocks: Vec<_> = modules.chain(groups).collect();
        blocks.sort_by_key(|(start, _)| *start);
        blocks
    }
}

impl Slot {
    /// German rendering, e.g. `Do., 27.08.2026, 10:00–16:00 Uhr`.
    fn render(&self) -> String {
        german::format_slot(&self.start, &self.end)
    }
}

impl EventStatus {
    /// The marker shown in summaries: `[confirmed]` or `[tentative]`.
    fn marker(self) -> &'static str {
        match self {
            EventStatus::Confirmed => "[confirmed]",
            EventStatus::Tentative => "[tentative]",
            EventStatus::Cancelled => "[cancelled]",
        }
    }
}

impl Module {
    /// Summary block: title line, one line per day, place, address, agenda.
    fn render(&self) -> String {
        let mut out = format!(
            "  Module {}: {} {}\n",
            self.number,
            self.title,
            self.status.marker()
        );
        for day in &self.days {
            let _ = writeln!(out, "      {}", day.render());
        }
        let _ = writeln!(out, "      Place: {}", self.place);
        let _ = writeln!(out, "      Address: {}", self.address);
        let _ = writeln!(out, "      Agenda: {}", one_line(&self.agenda));
        out
    }
}

impl LearningGroup {
    /// Summary block: title line, date and hours, Zoom link, agenda if any.
    fn render(&self) -> String {
        let mut out = format!(
            "  Learning group {}: {} {}\n",
            self.number,
            self.title,
            self.status.marker()
        );
        let _ = writeln!(out, "      {}", self.slot.render());
        let _ = writeln!(out, "      Zoom: {}", self.zoom_link);
        if !self.agenda.is_empty() {
            let _ = writeln!(out, "      Agenda: {}", one_line(&self.agenda));
        }
        out
    }
}

/// Collapses all whitespace (including line breaks) to single spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The raw TOML shape, deserialized before validation.
mod raw {
    use chrono::{NaiveDate, NaiveTime};
    use serde::Deserialize;

    use super::EventStatus;

    /// The whole programme file.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct File {
        pub name: String,
        pub short_name: String,
        #[serde(default)]
        pub code: Option<String>,
        #[serde(default)]
        pub call_opens: Option<Deadline>,
        #[serde(default)]
        pub retired: bool,
        #[serde(default)]
        pub templates: Option<std::path::PathBuf>,
        pub interview_minutes: u32,
        pub deadline: Deadline,
        pub interview_days: Vec<InterviewDay>,
        #[serde(default)]
        pub modules: Vec<Module>,
        #[serde(default)]
        pub learning_groups: Vec<LearningGroup>,
        #[serde(default)]
        pub interviews: Interviews,
        #[serde(default)]
        pub selection: Selection,
    }

    /// `[interviews]`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Interviews {
        #[serde(default = "default_buffer")]
        pub buffer_minutes: u32,
        #[serde(default = "default_per_day")]
        pub max_per_day: u32,
        #[serde(default)]
        pub zoom_link: String,
    }

    impl Default for Interviews {
        fn default() -> Self {
            Interviews {
                buffer_minutes: default_buffer(),
                max_per_day: default_per_day(),
                zoom_link: String::new(),
            }
        }
    }

    fn default_buffer() -> u32 {
        10
    }
    fn default_per_day() -> u32 {
        12
    }

    /// `[selection]`: the seed's rules are the defaults.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Selection {
        #[serde(default = "default_max")]
        pub max_municipalities: u32,
        #[serde(default = "default_two")]
        pub max_two_person: u32,
    }

    impl Default for Selection {
        fn default() -> Self {
            Selection {
                max_municipalities: default_max(),
                max_two_person: default_two(),
            }
        }
    }

    fn default_max() -> u32 {
        15
    }
    fn default_two() -> u32 {
        5
    }

    /// The last day to apply.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Deadline {
        pub weekday: String,
        pub date: IsoDate,
    }

    /// One interview day.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct InterviewDay {
        pub weekday: String,
        pub date: IsoDate,
        pub start: HhMm,
        pub end: HhMm,
        pub place: String,
    }

    /// One in-person module.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Module {
        pub title: String,
        pub status: EventStatus,
        pub place: String,
        pub address: String,
        pub agenda: String,
        pub days: Vec<Day>,
    }

    /// One day of a module.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Day {
        pub weekday: String,
        pub date: IsoDate,
        pub start: HhMm,
        pub end: HhMm,
    }

    /// One learning-group meeting.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct LearningGroup {
        pub title: String,
        pub status: EventStatus,
        pub weekday: String,
        pub date: IsoDate,
        pub start: HhMm,
        pub end: HhMm,
        pub zoom_link: String,
        #[serde(default)]
        pub agenda: String,
    }

    /// The written weekday, date and hours of one entry, for validation.
    pub struct When<'a> {
        pub weekday: &'a str,
        pub date: NaiveDate,
        pub start: NaiveTime,
        pub end: NaiveTime,
    }

    impl InterviewDay {
        /// The dated part of this entry.
        pub fn when(&self) -> When<'_> {
            When {
                weekday: &self.weekday,
                date: self.date.0,
                start: self.start.0,
                end: self.end.0,
            }
        }
    }

    impl Day {
        /// The dated part of this entry.
        pub fn when(&self) -> When<'_> {
            When {
                weekday: &self.weekday,
                date: self.date.0,
                start: self.start.0,
                end: self.end.0,
            }
        }
    }

    impl LearningGroup {
        /// The dated part of this entry.
        pub fn when(&self) -> When<'_> {
            When {
                weekday: &self.weekday,
                date: self.date.0,
                start: self.start.0,
                end: self.end.0,
            }
        }
    }

    /// A date written as `"2026-06-19"` or as a bare TOML date.
    #[derive(Debug)]
    pub struct IsoDate(pub NaiveDate);

    /// A time of day written as `"09:00"` or as a bare TOML time.
    #[derive(Debug)]
    pub struct HhMm(pub NaiveTime);

    impl<'de> Deserialize<'de> for IsoDate {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(visitors::DateVisitor).map(IsoDate)
        }
    }

    impl<'de> Deserialize<'de> for HhMm {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(visitors::TimeVisitor).map(HhMm)
        }
    }

    /// Serde visitors for [`IsoDate`] and [`HhMm`].
    mod visitors {
        use std::fmt;

        use chrono::{NaiveDate, NaiveTime};
        use serde::de::{self, MapAccess, Visitor, value::MapAccessDeserializer};
        use toml::value::Datetime;

        /// Accepts `"YYYY-MM-DD"` or a bare TOML local date.
        pub struct DateVisitor;

        /// Accepts `"HH:MM"` or a bare TOML local time.
        pub struct TimeVisitor;

        impl<'de> Visitor<'de> for DateVisitor {
            type Value = NaiveDate;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an ISO date such as \"2026-06-19\"")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<NaiveDate, E> {
                NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
                    E::custom(format!(
                        "\"{s}\" is not a valid ISO date; write e.g. \"2026-06-19\""
                    ))
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<NaiveDate, A::Error> {
                let dt = toml_datetime(map)?;
                match (dt.date, dt.time, dt.offset) {
                    (Some(d), None, None) => {
                        NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into())
                            .ok_or_else(|| de::Error::custom(format!("{dt} is not a valid date")))
                    }
                    _ => Err(de::Error::custom(format!(
                        "{dt} is not a plain date; write e.g. \"2026-06-19\""
                    ))),
                }
            }
        }

        impl<'de> Visitor<'de> for TimeVisitor {
            type Value = NaiveTime;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a time of day \"HH:MM\" such as \"09:00\"")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<NaiveTime, E> {
                NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| {
                    E::custom(format!(
                        "\"{s}\" is not a valid time of day; write \"HH:MM\", e.g. \"09:00\""
                    ))
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<NaiveTime, A::Error> {
                let dt = toml_datetime(map)?;
                let plain = match (dt.date, dt.time, dt.offset) {
                    (None, Some(t), None) if t.nanosecond == 0 => {
                        NaiveTime::from_hms_opt(t.hour.into(), t.minute.into(), t.second.into())
                    }
                    _ => None,
                };
                plain.ok_or_else(|| {
                    de::Error::custom(format!(
                        "{dt} is not a plain time of day; write \"HH:MM\", e.g. \"09:00\""
                    ))
                })
            }
        }

        /// Reads a bare TOML date/time, which the toml crate presents as a map.
        fn toml_datetime<'de, A: MapAccess<'de>>(map: A) -> Result<Datetime, A::Error> {
            de::Deserialize::deserialize(MapAccessDeserializer::new(map))
        }
    }
}

/// Turns the raw file into a [`Programme`], refusing anything doubtful.
struct Validator<'a> {
    /// The file name used in messages.
    file: &'a Path,
}

/// A dated item for the order checks: its key path and its time span.
struct Span {
    key: String,
    start: Berlin,
    end: Berlin,
}

impl Validator<'_> {
    /// A refusal at `key`.
    fn invalid(&self, key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::invalid(self.file, key, reason)
    }

    /// Validates every entry, then the order of all events.
    fn programme(&self, raw: raw::File) -> Result<Programme, ConfigError> {
        let name = self.text("name", &raw.name)?;
        let short_name = self.text("short_name", &raw.short_name)?;
        let code = self.code(raw.code.as_deref(), &short_name)?;
        let (call_opens, call_opens_at) = match &raw.call_opens {
            None => (None, None),
            Some(d) => {
                self.weekday("call_opens.weekday", &d.weekday, d.date.0)?;
                let at = self.local("call_opens.date", d.date.0, NaiveTime::MIN)?;
                (Some(d.date.0), Some(at))
            }
        };
        let interview_minutes = self.interview_minutes(raw.interview_minutes)?;
        self.weekday(
            "deadline.weekday",
            &raw.deadline.weekday,
            raw.deadline.date.0,
        )?;
        let deadline = raw.deadline.date.0;
        let deadline_end = self.local("deadline.date", deadline, end_of_day())?;
        let interview_days = self.interview_days(&raw.interview_days, interview_minutes)?;
        let modules = self.modules(&raw.modules)?;
        let learning_groups = self.learning_groups(&raw.learning_groups)?;
        let interviews = self.interview_rules(raw.interviews)?;
        let selection = self.selection(raw.selection)?;
        if let Some(opens) = call_opens
            && opens > deadline
        {
            return Err(self.invalid("call_opens", "must not be after the deadline"));
        }
        let programme = Programme {
            name,
            short_name,
            code,
            call_opens,
            call_opens_at,
            retired: raw.retired,
            templates: raw.templates,
            key_scope: String::new(),
            deadline,
            deadline_end,
            interview_minutes,
            interview_days,
            modules,
            learning_groups,
            interviews,
            selection,
        };
        self.check_order(&programme)?;
        Ok(programme)
    }

    /// Refuses a per-day cap of 0, an hour-long buffer and a non-https link.
    fn interview_rules(&self, raw: raw::Interviews) -> Result<InterviewRules, ConfigError> {
        if raw.max_per_day == 0 || raw.max_per_day > 100 {
            return Err(self.invalid("interviews.max_per_day", "must be between 1 and 100"));
        }
        if raw.buffer_minutes > 120 {
            return Err(self.invalid("interviews.buffer_minutes", "must be at most 120"));
        }
        let zoom_link = raw.zoom_link.trim().to_string();
        if !zoom_link.is_empty() && !zoom_link.starts_with("https://")
            || zoom_link
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(self.invalid(
                "interviews.zoom_link",
                "must be an https:// link without spaces",
            ));
        }
        Ok(InterviewRules {
            buffer_minutes: raw.buffer_minutes,
            max_per_day: raw.max_per_day,
            zoom_link,
        })
    }

    /// Refuses a two-person cap above the municipality cap.
    fn selection(&self, raw: raw::Selection) -> Result<SelectionRules, ConfigError> {
        if raw.max_municipalities == 0 {
            return Err(self.invalid("selection.max_municipalities", "must be at least 1"));
        }
        if raw.max_two_person > raw.max_municipalities {
            return Err(self.invalid(
                "selection.max_two_person",
                "must not exceed selection.max_municipalities",
            ));
        }
        Ok(SelectionRules {
            max_municipalities: raw.max_municipalities,
            max_two_person: raw.max_two_person,
        })
    }

    /// Refuses an empty (or blank) text value; returns it trimmed.
    /// The code as written (upper-cased), or the letters and digits of the
    /// short name; 2 to 16 ASCII letters and digits, starting with a letter.
    fn code(&self, written: Option<&str>, short_name: &str) -> Result<String, ConfigError> {
        let code: String = match written {
            Some(c) => c.trim().to_ascii_uppercase(),
            None => short_name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_uppercase(),
        };
        let key = if written.is_some() {
            "code"
        } else {
            "short_name"
        };
        if !is_code(&code) {
            return Err(self.invalid(
                key,
                "the programme code (reference prefix) must be 2 to 16 letters and digits, starting with a letter",
            ));
        }
        Ok(code)
    }

    fn text(&self, key: &str, value: &str) -> Result<String, ConfigError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(self.invalid(key, "must not be empty"));
        }
        Ok(value.to_owned())
    }

    /// Refuses an interview length outside [`INTERVIEW_MINUTES`].
    fn interview_minutes(&self, minutes: u32) -> Result<u32, ConfigError> {
        if !INTERVIEW_MINUTES.contains(&minutes) {
            return Err(self.invalid(
                "interview_minutes",
                format!(
                    "{minutes} is out of range; an interview lasts {} to {} minutes",
                    INTERVIEW_MINUTES.start(),
                    INTERVIEW_MINUTES.end()
                ),
            ));
        }
        Ok(minutes)
    }

    /// Refuses a written weekday that is unknown or does not match `date`.
    fn weekday(&self, key: &str, written: &str, date: NaiveDate) -> Result<(), ConfigError> {
        let actual = date.weekday();
        let really = format!(
            "{date} is a {} (\"{}\")",
            date.format("%A"),
            german::weekday_abbrev(actual)
        );
        match parse_weekday(written) {
            Some(w) if w == actual => Ok(()),
            Some(_) => Err(self.invalid(
                key,
                format!("\"{written}\" does not match the date: {really}"),
            )),
            None => Err(self.invalid(
                key,
                format!(
                    "\"{written}\" is not a German weekday; write Mo, Di, Mi, Do, Fr, Sa or So ({really})"
                ),
            )),
        }
    }

    /// The Berlin instant of `date` at `time`, refusing times that do not
    /// exist (spring forward) or exist twice (fall back).
    fn local(&self, key: &str, date: NaiveDate, time: NaiveTime) -> Result<Berlin, ConfigError> {
        let naive = date.and_time(time);
        let shown = naive.format("%Y-%m-%d %H:%M");
        match german::TZ.from_local_datetime(&naive) {
            chrono::LocalResult::Single(dt) => Ok(dt),
            chrono::LocalResult::None => Err(self.invalid(
                key,
                format!(
                    "{shown} does not exist in Europe/Berlin (the clocks jump forward that night); choose another time"
                ),
            )),
            chrono::LocalResult::Ambiguous(..) => Err(self.invalid(
                key,
                format!(
                    "{shown} is ambiguous in Europe/Berlin (the clocks go back that night, so it occurs twice); choose another time"
                ),
            )),
        }
    }

    /// Checks the weekday and hours of the entry at `path` and builds its slot.
    fn slot(&self, path: &str, when: raw::When<'_>) -> Result<Slot, ConfigError> {
        self.weekday(&format!("{path}.weekday"), when.weekday, when.date)?;
        let start = self.local(&format!("{path}.start"), when.date, when.start)?;
        let end = self.local(&format!("{path}.end"), when.date, when.end)?;
        if end <= start {
            return Err(self.invalid(
                format!("{path}.end"),
                format!(
                    "the end {} is not after the start {}",
                    when.end.format("%H:%M"),
                    when.start.format("%H:%M")
                ),
            ));
        }
        Ok(Slot { start, end })
    }

    /// Validates the interview days; each must hold at least one interview.
    fn interview_days(
        &self,
        raw: &[raw::InterviewDay],
        minutes: u32,
    ) -> Result<Vec<InterviewDay>, ConfigError> {
        if raw.is_empty() {
            return Err(self.invalid("interview_days", "at least one interview day is needed"));
        }
        let mut days = Vec::with_capacity(raw.len());
        for (i, day) in raw.iter().enumerate() {
            let path = format!("interview_days[{i}]");
            let slot = self.slot(&path, day.when())?;
            if (slot.end - slot.start).num_minutes() < i64::from(minutes) {
                return Err(self.invalid(
                    format!("{path}.end"),
                    format!("the day is shorter than one interview ({minutes} minutes)"),
                ));
            }
            let place = self.text(&format!("{path}.place"), &day.place)?;
            days.push(InterviewDay {
                number: number(i),
                slot,
                place,
            });
        }
        Ok(days)
    }

    /// Validates the in-person modules.
    fn modules(&self, raw: &[raw::Module]) -> Result<Vec<Module>, ConfigError> {
        raw.iter()
            .enumerate()
            .map(|(i, module)| self.module(i, module))
            .collect()
    }

    /// Validates module number `i + 1` (key path `modules[i]`).
    fn module(&self, i: usize, raw: &raw::Module) -> Result<Module, ConfigError> {
        let path = format!("modules[{i}]");
        let title = self.text(&format!("{path}.title"), &raw.title)?;
        if raw.days.is_empty() {
            return Err(self.invalid(format!("{path}.days"), "a module needs at least one day"));
        }
        let days = raw
            .days
            .iter()
            .enumerate()
            .map(|(j, day)| self.slot(&format!("{path}.days[{j}]"), day.when()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Module {
            number: number(i),
            title,
            days,
            place: self.text(&format!("{path}.place"), &raw.place)?,
            address: self.text(&format!("{path}.address"), &raw.address)?,
            agenda: self.text(&format!("{path}.agenda"), &raw.agenda)?,
            status: raw.status,
        })
    }

    /// Validates the learning-group meetings.
    fn learning_groups(
        &self,
        raw: &[raw::LearningGroup],
    ) -> Result<Vec<LearningGroup>, ConfigError> {
        raw.iter()
            .enumerate()
            .map(|(i, group)| self.learning_group(i, group))
            .collect()
    }

    /// Validates learning group number `i + 1` (key path `learning_groups[i]`).
    fn learning_group(
        &self,
        i: usize,
        raw: &raw::LearningGroup,
    ) -> Result<LearningGroup, ConfigError> {
        let path = format!("learning_groups[{i}]");
        Ok(LearningGroup {
            number: number(i),
            title: self.text(&format!("{path}.title"), &raw.title)?,
            slot: self.slot(&path, raw.when())?,
            zoom_link: self.zoom_link(&format!("{path}.zoom_link"), &raw.zoom_link)?,
            agenda: raw.agenda.trim().to_owned(),
            status: raw.status,
        })
    }

    /// Refuses an empty Zoom link or one that is not an https:// address.
    fn zoom_link(&self, key: &str, link: &str) -> Result<String, ConfigError> {
        let link = self.text(key, link)?;
        if !link.starts_with("https://") || link.contains(char::is_whitespace) {
            return Err(self.invalid(
                key,
                format!("\"{link}\" is not a web address starting with https://"),
            ));
        }
        Ok(link)
    }

    /// Checks deadline < interview days < modules and learning groups, each in order.
    fn check_order(&self, p: &Programme) -> Result<(), ConfigError> {
        let interviews = interview_spans(p);
        self.check_deadline(p)?;
        self.check_sequence(&interviews)?;
        for (i, module) in p.modules.iter().enumerate() {
            self.check_sequence(&day_spans(i, module))?;
        }
        let modules = module_spans(p);
        let groups = group_spans(p);
        self.check_sequence(&modules)?;
        self.check_sequence(&groups)?;
        let mut events: Vec<Span> = modules.into_iter().chain(groups).collect();
        events.sort_by_key(|span| span.start);
        if let (Some(last), Some(first)) = (interviews.last(), events.first()) {
            self.check_pair(last, first)?;
        }
        self.check_sequence(&events)
    }

    /// Refuses a deadline that is not before the first interview day.
    fn check_deadline(&self, p: &Programme) -> Result<(), ConfigError> {
        let Some(first) = p.interview_days.first() else {
            return Ok(());
        };
        let first_day = first.slot.start.date_naive();
        if p.deadline >= first_day {
            return Err(self.invalid(
                "deadline.date",
                format!(
                    "the deadline {} must be before the first interview day ({first_day})",
                    p.deadline
                ),
            ));
        }
        Ok(())
    }

    /// Refuses any span that starts before the previous one has ended.
    fn check_sequence(&self, spans: &[Span]) -> Result<(), ConfigError> {
        spans
            .windows(2)
            .try_for_each(|pair| self.check_pair(&pair[0], &pair[1]))
    }

    /// Refuses `next` if it starts before `previous` ends.
    fn check_pair(&self, previous: &Span, next: &Span) -> Result<(), ConfigError> {
        if next.start >= previous.end {
            return Ok(());
        }
        Err(self.invalid(
            next.key.as_str(),
            format!(
                "starts {} but {} only ends {}; events must be in chronological order and must not overlap",
                next.start.format("%Y-%m-%d %H:%M"),
                previous.key,
                previous.end.format("%Y-%m-%d %H:%M")
            ),
        ))
    }
}

/// 23:59:59, the last second of a day.
fn end_of_day() -> NaiveTime {
    NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN)
}

/// The 1-based number of the entry at 0-based index `i`.
fn number(i: usize) -> u32 {
    u32::try_from(i + 1).unwrap_or(u32::MAX)
}

/// Parses a German weekday abbreviation: Mo … So, optional '.', any case.
fn parse_weekday(written: &str) -> Option<Weekday> {
    let word = written.trim();
    let word = word.strip_suffix('.').unwrap_or(word).to_lowercase();
    let weekday = match word.as_str() {
        "mo" => Weekday::Mon,
        "di" => Weekday::Tue,
        "mi" => Weekday::Wed,
        "do" => Weekday::Thu,
        "fr" => Weekday::Fri,
        "sa" => Weekday::Sat,
        "so" => Weekday::Sun,
        _ => return None,
    };
    Some(weekday)
}

/// A span for the order checks.
fn span(key: String, slot: &Slot) -> Span {
    Span {
        key,
        start: slot.start,
        end: slot.end,
    }
}

/// The interview days as spans (`interview_days[i]`).
fn interview_spans(p: &Programme) -> Vec<Span> {
    p.interview_days
        .iter()
        .enumerate()
        .map(|(i, d)| span(format!("interview_days[{i}]"), &d.slot))
        .collect()
}

/// The days of module `i` as spans (`modules[i].days[j]`).
fn day_spans(i: usize, module: &Module) -> Vec<Span> {
    module
        .days
        .iter()
        .enumerate()
        .map(|(j, d)| span(format!("modules[{i}].days[{j}]"), d))
        .collect()
}

/// Each module as one span from its first start to its last end (`modules[i]`).
fn module_spans(p: &Programme) -> Vec<Span> {
    p.modules
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            Some(Span {
                key: format!("modules[{i}]"),
                start: m.days.first()?.start,
                end: m.days.last()?.end,
            })
        })
        .collect()
}

/// The learning groups as spans (`learning_groups[i]`).
fn group_spans(p: &Programme) -> Vec<Span> {
    p.learning_groups
        .iter()
        .enumerate()
        .map(|(i, g)| span(format!("learning_groups[{i}]"), &g.slot))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A small valid programme; tests break it with `str::replace`.
    const MINI: &str = r#"
name = "Testprogramm"
short_name = "TP"
interview_minutes = 20
deadline = { weekday = "Fr.", date = "2026-06-19" }

[[interview_days]]
weekday = "Mo"
date = "2026-06-29"
start = "09:00"
end = "13:00"
place = "Digital, via Zoom"

[[interview_days]]
weekday = "Di"
date = "2026-06-30"
start = "09:00"
end = "13:00"
place = "Digital, via Zoom"

[[modules]]
title = "1. Präsenzmodul"
status = "confirmed"
place = "Tagungshaus"
address = "Hauptstraße 1, 12345 Ort"
agenda = "Kennenlernen"
days = [
  { weekday = "Do", date = "2026-08-27", start = "10:00", end = "16:00" },
  { weekday = "Fr", date = "2026-08-28", start = "10:00", end = "16:00" },
]

[[learning_groups]]
title = "1. Treffen digitale Lerngruppe"
status = "confirmed"
weekday = "Mi"
date = "2026-10-07"
start = "09:00"
end = "10:30"
zoom_link = "https://zoom.us/j/1"

[[modules]]
title = "2. Präsenzmodul"
status = "tentative"
place = "Tagungshaus"
address = "Hauptstraße 1, 12345 Ort"
agenda = "Analyse"
days = [
  { weekday = "Do", date = "2026-11-26", start = "10:00", end = "16:00" },
  { weekday = "Fr", date = "2026-11-27", start = "10:00", end = "16:00" },
]
"#;

    fn manifest_file(relative: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
    }

    fn parse(text: &str) -> Result<Programme, ConfigError> {
        Programme::parse(text, Path::new("programme.toml"))
    }

    /// `MINI` with `from` replaced by `to` (which must occur).
    fn mini_with(from: &str, to: &str) -> String {
        assert!(MINI.contains(from), "test setup: {from:?} not in MINI");
        MINI.replacen(from, to, 1)
    }

    /// The key and reason of a refusal, with the full message checked for the file name.
    fn refusal(result: Result<Programme, ConfigError>) -> (String, String) {
        let err = match result {
            Ok(_) => panic!("expected a refusal, but the programme was accepted"),
            Err(err) => err,
        };
        let shown = err.to_string();
        match err {
            ConfigError::Invalid { key, reason, file } => {
                assert!(shown.starts_with(&format!("{}: {key}: ", file.display())));
                (key, reason)
            }
            ConfigError::Io { .. } => panic!("expected Invalid, got {shown}"),
        }
    }

    fn berlin(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        german::TZ
            .with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("unambiguous test time")
            .with_timezone(&Utc)
    }

    #[test]
    fn shipped_programme_loads() {
        let p = Programme::load(&manifest_file("config/ews7.toml")).expect("config/ews7.toml");
        assert_eq!(p.short_name, "EWS 7");
        assert_eq!(
            p.deadline,
            NaiveDate::from_ymd_opt(2026, 6, 19).expect("date")
        );
        assert_eq!(p.deadline_end.to_rfc3339(), "2026-06-19T23:59:59+02:00");
        assert_eq!(p.interview_minutes, 20);
        assert_eq!(p.interview_days.len(), 5);
        assert_eq!(p.modules.len(), 4);
        assert_eq!(p.learning_groups.len(), 6);
        let statuses: Vec<_> = p.modules.iter().map(|m| m.status).collect();
        use EventStatus::{Confirmed, Tentative};
        assert_eq!(statuses, [Confirmed, Confirmed, Tentative, Tentative]);
        let groups: Vec<_> = p.learning_groups.iter().map(|g| g.status).collect();
        assert_eq!(
            groups,
            [
                Confirmed, Confirmed, Confirmed, Tentative, Tentative, Tentative
            ]
        );
    }

    #[test]
    fn shipped_programme_has_the_seed_hours() {
        let p = Programme::load(&manifest_file("config/ews7.toml")).expect("config/ews7.toml");
        let wednesday = &p.interview_days[2].slot;
        assert_eq!(wednesday.start.to_rfc3339(), "2026-07-01T09:00:00+02:00");
        assert_eq!(wednesday.end.to_rfc3339(), "2026-07-01T16:00:00+02:00");
        assert_eq!(
            p.interview_days[0].slot.end.to_rfc3339(),
            "2026-06-29T13:00:00+02:00"
        );
        let third = &p.modules[2];
        assert_eq!(third.days.len(), 2);
        assert_eq!(
            third.days[0].start.to_rfc3339(),
            "2027-01-28T10:00:00+01:00"
        );
        assert_eq!(third.days[1].end.to_rfc3339(), "2027-01-29T16:00:00+01:00");
        let numbers: Vec<_> = p.learning_groups.iter().map(|g| g.number).collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5, 6]);
        assert_eq!(
            p.learning_groups[5].slot.start.to_rfc3339(),
            "2027-07-07T09:00:00+02:00"
        );
    }

    #[test]
    fn faithful_transcription_of_the_seed_is_refused() {
        let path = manifest_file("tests/fixtures/config/ews7-faithful.toml");
        let (key, reason) = refusal(Programme::load(&path));
        assert_eq!(key, "modules[2].days[0].weekday");
        assert!(reason.contains("2026-01-28 is a Wednesday"), "{reason}");
    }

    #[test]
    fn mini_programme_loads_with_numbers_and_order() {
        let p = parse(MINI).expect("MINI is valid");
        assert_eq!(p.modules.len(), 2);
        assert_eq!(p.modules[1].number, 2);
        assert_eq!(p.modules[1].status, EventStatus::Tentative);
        assert_eq!(p.learning_groups[0].agenda, "");
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let err = Programme::load(Path::new("/nonexistent/ews.toml")).expect_err("no file");
        assert!(matches!(err, ConfigError::Io { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("/nonexistent/ews.toml: cannot read: ")
        );
    }

    #[test]
    fn unknown_key_is_refused_with_its_path() {
        let text = mini_with(
            r#"{ weekday = "Fr", date = "2026-11-27", start = "10:00", end = "16:00" }"#,
            r#"{ weekday = "Fr", date = "2026-11-27", start = "10:00", end = "16:00", colour = "red" }"#,
        );
        let (key, reason) = refusal(parse(&text));
        assert_eq!(key, "modules[1].days[1].colour");
        assert!(reason.contains("unknown field `colour`"), "{reason}");
    }

    #[test]
    fn unknown_top_level_key_is_refused() {
        let (key, reason) = refusal(parse(&format!("colour = 1\n{MINI}")));
        assert_eq!(key, "colour");
        assert!(reason.contains("unknown field"), "{reason}");
    }

    #[test]
    fn wrong_type_is_refused_with_its_path() {
        let text = mini_with("interview_minutes = 20", "interview_minutes = \"20\"");
        let (key, _) = refusal(parse(&text));
        assert_eq!(key, "interview_minutes");
    }

    #[test]
    fn bad_date_and_time_strings_are_refused() {
        let (key, reason) = refusal(parse(&mini_with("2026-06-29", "2026-06-31")));
        assert_eq!(key, "interview_days[0].date");
        assert!(reason.contains("not a valid ISO date"), "{reason}");
        let (key, reason) = refusal(parse(&mini_with("\"13:00\"", "\"13 Uhr\"")));
        assert_eq!(key, "interview_days[0].end");
        assert!(reason.contains("HH:MM"), "{reason}");
    }

    #[test]
    fn bare_toml_dates_and_times_are_accepted() {
        let text = mini_with("date = \"2026-06-29\"", "date = 2026-06-29").replacen(
            "start = \"09:00\"",
            "start = 09:00:00",
            1,
        );
        let p = parse(&text).expect("bare TOML date and time");
        assert_eq!(
            p.interview_days[0].slot.start.to_rfc3339(),
            "2026-06-29T09:00:00+02:00"
        );
    }

    #[test]
    fn bad_status_is_refused() {
        let (key, reason) = refusal(parse(&mini_with("\"tentative\"", "\"maybe\"")));
        assert_eq!(key, "modules[1].status");
        assert!(reason.contains("unknown variant"), "{reason}");
    }

    #[test]
    fn syntax_error_is_refused() {
        let (key, _) = refusal(parse(&mini_with("[[modules]]", "[[modules]")));
        assert_eq!(key, "(syntax)");
    }

    #[test]
    fn weekday_variants_are_accepted() {
        for written in ["Mo", "Mo.", "mo", "MO.", " Mo "] {
            let text = mini_with("weekday = \"Mo\"", &format!("weekday = \"{written}\""));
            assert!(parse(&text).is_ok(), "{written:?} should be accepted");
        }
    }

    #[test]
    fn wrong_weekday_is_refused_naming_the_real_one() {
        let (key, reason) = refusal(parse(&mini_with("weekday = \"Mi\"", "weekday = \"Do\"")));
        assert_eq!(key, "learning_groups[0].weekday");
        assert!(
            reason.contains("2026-10-07 is a Wednesday (\"Mi\")"),
            "{reason}"
        );
    }

    #[test]
    fn unknown_weekday_is_refused() {
        let (key, reason) = refusal(parse(&mini_with("\"Fr.\"", "\"Freitag\"")));
        assert_eq!(key, "deadline.weekday");
        assert!(reason.contains("not a German weekday"), "{reason}");
        assert!(reason.contains("2026-06-19 is a Friday"), "{reason}");
    }

    #[test]
    fn end_before_start_is_refused() {
        let text = mini_with("end = \"10:30\"", "end = \"08:30\"");
        let (key, reason) = refusal(parse(&text));
        assert_eq!(key, "learning_groups[0].end");
        assert!(reason.contains("not after the start"), "{reason}");
    }

    #[test]
    fn end_equal_to_start_is_refused() {
        let text = mini_with("end = \"10:30\"", "end = \"09:00\"");
        let (key, _) = refusal(parse(&text));
        assert_eq!(key, "learning_groups[0].end");
    }

    #[test]
    fn deadline_after_first_interview_is_refused() {
        let text = mini_with(
            r#"deadline = { weekday = "Fr.", date = "2026-06-19" }"#,
            r#"deadline = { weekday = "Mo", date = "2026-06-29" }"#,
        );
        let (key, reason) = refusal(parse(&text));
        assert_eq!(key, "deadline.date");
        assert!(
            reason.contains("before the first interview day"),
            "{reason}"
        );
    }

    #[test]
    fn interview_days_out_of_order_are_refused() {
        let text = mini_with(
            "weekday = \"Di\"\ndate = \"2026-06-30\"",
            "weekday = \"So\"\ndate = \"2026-06-28\"",
        );
        let (key, reason) = refusal(parse(&text));
        assert_eq!(key, "interview_days[1]");
        assert!(reason.contains("chronological order"), "{reason}");
    }

    #[test]
    fn module_days_out_of_order_are_refused() {
        let text = mini_with(
            r#"{ weekday = "Fr", date = "2026-08-28""#,
            r#"{ weekday = "Mi", date = "2026-08-26""#,
        );
        let (key, _) = refusal(parse(&text));
        assert_eq!(key, "modules[0].days[1]");
    }

    #[test]
    fn learning_group_overlapping_a_module_is_refused() {
        // Moves the learning group into the middle of module 2.
        let text = mini_with(
            "weekday = \"Mi\"\ndate = \"2026-10-07\"",
            "weekday = \"Do\"\ndate = \"2026-11-26\"",
        )
        .replacen(
            "start = \"09:00\"\nend = \"10:30\"",
            "start = \"11:00\"\nend = \"12:30\"",
            1,
        );
        assert!(text.contains("start = \"11:00\""), "test setup");
        let (key, reason) = refusal(parse(&text));
        assert!(key == "learning_groups[0]" || key == "modules[1]", "{key}");
        assert!(reason.contains("must not overlap"), "{reason}");
    }

    #[test]
    fn modules_out_of_order_are_refused() {
        let text = mini_with(
            r#"{ weekday = "Do", date = "2026-11-26", start = "10:00", end = "16:00" },
  { weekday = "Fr", date = "2026-11-27", start = "10:00", end = "16:00" },"#,
            r#"{ weekday = "Do", date = "2026-07-23", start = "10:00", end = "16:00" },"#,
        );
        let (key, _) = refusal(parse(&text));
        assert_eq!(key, "modules[1]");
    }

    #[test]
    fn event_before_the_interviews_end_is_refused() {
        let text = mini_with(
            "weekday = \"Mi\"\ndate = \"2026-10-07\"",
            "weekday = \"Di\"\ndate = \"2026-06-30\"",
        );
        let (key, reason) = refusal(parse(&text));
        assert_eq!(key, "learning_groups[0]");
        assert!(reason.contains("interview_days[1]"), "{reason}");
    }

    #[test]
    fn time_in_the_spring_gap_is_refused() {
        // 2026-03-29: Berlin jumps from 02:00 to 03:00.
        let text = mini_with(
            r#""Fr.", date = "2026-06-19""#,
            r#""Fr.", date = "2026-03-27""#,
        )
        .replacen(
            "weekday = \"Mo\"\ndate = \"2026-06-29\"\nstart = \"09:00\"",
            "weekday = \"So\"\ndate = \"2026-03-29\"\nstart = \"02:30\"",
            1,
        );
        let (key, reason) = refusal(parse(&text));
        assert_eq!(key, "interview_days[0].start");
        assert!(
            reason.contains("2026-03-29 02:30 does not exist"),
            "{reason}"
        );
    }

    #[test]
    fn time_in_the_autumn_fold_is_refused() {
        // 2026-10-25: Berlin shows 02:00–03:00 twice.
        let text = mini_with(
            "weekday = \"Mi\"\ndate = \"2026-10-07\"\nstart = \"09:00\"",
            "weekday = \"So\"\ndate = \"2026-10-25\"\nstart = \"02:30\"",
        );
        let (key, reason) = refusal(parse(&text));
        assert_eq!(key, "learning_groups[0].start");
        assert!(reason.contains("2026-10-25 02:30 is ambiguous"), "{reason}");
    }

    #[test]
    fn times_next_to_the_dst_changes_are_accepted() {
        let text = mini_with(
            "weekday = \"Mi\"\ndate = \"2026-10-07\"\nstart = \"09:00\"",
            "weekday = \"So\"\ndate = \"2026-10-25\"\nstart = \"03:00\"",
        );
        let p = parse(&text).expect("03:00 after the fold exists once");
        assert_eq!(
            p.learning_groups[0].slot.start.to_rfc3339(),
            "2026-10-25T03:00:00+01:00"
        );
    }

    #[test]
    fn empty_place_and_zoom_link_are_refused() {
        let (key, _) = refusal(parse(&mini_with(
            "place = \"Digital, via Zoom\"",
            "place = \"  \"",
        )));
        assert_eq!(key, "interview_days[0].place");
        let (key, _) = refusal(parse(&mini_with("\"https://zoom.us/j/1\"", "\"\"")));
        assert_eq!(key, "learning_groups[0].zoom_link");
        let (key, _) = refusal(parse(&mini_with("place = \"Tagungshaus\"", "place = \"\"")));
        assert_eq!(key, "modules[0].place");
    }

    #[test]
    fn zoom_link_must_be_https() {
        let (key, reason) = refusal(parse(&mini_with(
            "\"https://zoom.us/j/1\"",
            "\"zoom.us/j/1\"",
        )));
        assert_eq!(key, "learning_groups[0].zoom_link");
        assert!(reason.contains("https://"), "{reason}");
    }

    #[test]
    fn interview_minutes_must_be_in_range() {
        for bad in ["4", "121", "0"] {
            let text = mini_with(
                "interview_minutes = 20",
                &format!("interview_minutes = {bad}"),
            );
            let (key, _) = refusal(parse(&text));
            assert_eq!(key, "interview_minutes");
        }
        for good in ["5", "120"] {
            let text = mini_with(
                "interview_minutes = 20",
                &format!("interview_minutes = {good}"),
            );
            assert!(parse(&text).is_ok(), "{good}");
        }
    }

    #[test]
    fn module_without_days_is_refused() {
        let text = mini_with(
            r#"{ weekday = "Do", date = "2026-11-26", start = "10:00", end = "16:00" },
  { weekday = "Fr", date = "2026-11-27", start = "10:00", end = "16:00" },"#,
            "",
        );
        let (key, _) = refusal(parse(&text));
        assert_eq!(key, "modules[1].days");
    }

    #[test]
    fn deadline_is_end_of_day_in_berlin() {
        let p = parse(MINI).expect("MINI is valid");
        assert!(p.is_on_time(berlin(2026, 6, 1, 8, 0, 0)));
        assert!(p.is_on_time(berlin(2026, 6, 19, 23, 59, 0)));
        assert!(p.is_on_time(berlin(2026, 6, 19, 23, 59, 59)));
        assert!(!p.is_on_time(berlin(2026, 6, 20, 0, 0, 0)));
        assert!(!p.is_on_time(berlin(2026, 6, 20, 0, 0, 30)));
        // 22:30 UTC is already the next day in Berlin (CEST).
        let utc = Utc
            .with_ymd_and_hms(2026, 6, 19, 22, 30, 0)
            .single()
            .expect("utc");
        assert!(!p.is_on_time(utc));
    }

    #[test]
    fn summary_lists_every_event_in_german() {
        let p = Programme::load(&manifest_file("config/ews7.toml")).expect("config/ews7.toml");
        let summary = p.render_summary();
        for expected in [
            "Fr., 19.06.2026",
            "Fr., 19.06.2026, 23:59 Uhr",
            "1. Mo., 29.06.2026, 09:00–13:00 Uhr, Digital, via Zoom",
            "3. Mi., 01.07.2026, 09:00–16:00 Uhr, Digital, via Zoom",
            "Module 1: 1. Präsenzmodul [confirmed]",
            "Do., 27.08.2026, 10:00–16:00 Uhr",
            "Module 3: 3. Präsenzmodul [tentative]",
            "Do., 28.01.2027, 10:00–16:00 Uhr",
            "Learning group 3: 3. Treffen digitale Lerngruppe [confirmed]",
            "Learning group 6: 6. Treffen digitale Lerngruppe [tentative]",
            "Mi., 07.07.2027, 09:00–10:30 Uhr",
            "Zoom: https://",
            "Place: DJH Jugendherberge Düsseldorf",
        ] {
            assert!(
                summary.contains(expected),
                "missing {expected:?} in\n{summary}"
            );
        }
        let first_group = summary.find("Learning group 1:").expect("group 1");
        let second_module = summary.find("Module 2:").expect("module 2");
        let third_group = summary.find("Learning group 3:").expect("group 3");
        let third_module = summary.find("Module 3:").expect("module 3");
        assert!(first_group < second_module && third_group < third_module);
    }

    #[test]
    fn programme_serializes_with_iso_offsets() {
        let p = parse(MINI).expect("MINI is valid");
        let json = serde_json::to_value(&p.modules[0]).expect("serializable");
        assert_eq!(json["days"][0]["start"], "2026-08-27T10:00:00+02:00");
        assert_eq!(json["status"], "confirmed");
    }
}

#[cfg(test)]
mod link_tests {
    use super::is_placeholder_link;

    #[test]
    fn placeholder_links_are_recognised() {
        assert!(is_placeholder_link(""));
        assert!(is_placeholder_link("https://zoom.us/j/ZOOM-LINK-EINTRAGEN"));
        assert!(!is_placeholder_link("https://zoom.us/j/1234567890"));
    }
}
