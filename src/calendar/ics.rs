//! iCalendar files (RFC 5545) for invitations sent by mail (iMIP, RFC 6047).
//!
//! One calendar object is one appointment with one UID (RFC 5546 3.2.2:
//! every component of a REQUEST or CANCEL shares the UID; Outlook and Gmail
//! act on the first component only). An appointment on several days, a
//! two-day module, is one series under that UID:
//!
//! - the first day is the master VEVENT, the other days come from
//!   `RRULE:FREQ=DAILY;COUNT=n` (consecutive days), `…;INTERVAL=k;COUNT=n`
//!   (days evenly apart) or `…;COUNT=span` with an EXDATE for each day in
//!   between that is not part of it;
//! - a day whose hours differ from the first day's is an override: a VEVENT
//!   with the same UID and SEQUENCE and `RECURRENCE-ID` = that day at the
//!   first day's start time, carrying the day's real DTSTART/DTEND.
//!
//! RDATE is never used: Outlook ignores it. RRULE, EXDATE and RECURRENCE-ID
//! overrides are what Outlook, Gmail, Thunderbird and Apple Calendar all
//! write themselves, so all four show every day.
//!
//! The UID stays the same for the life of an appointment and the SEQUENCE
//! is raised every time it changes (any day's date or hours, the place), so
//! the attendee's calendar updates the entry instead of adding a second one;
//! a changed day is sent as the whole series again, its override included.
//! A cancelled appointment is `METHOD:CANCEL` with the same UID and only the
//! master VEVENT (STATUS:CANCELLED), which cancels the whole series.
//!
//! All times are written as local wall times in Europe/Berlin with a
//! `TZID` reference and one embedded `VTIMEZONE`, e.g.
//! `DTSTART;TZID=Europe/Berlin:20260827T100000`; a series keeps its wall
//! time on both sides of a DST change.
//!
//! The output must import into Outlook and Thunderbird, which is why the
//! writer is conservative: CRLF everywhere, lines folded at 75 octets, no
//! optional properties either client is known to trip over.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::german::{TZ, to_berlin};
use crate::domain::EmailAddress;

/// The PRODID of every calendar we write.
pub const PRODID: &str = "-//postbote//EWS//DE";

/// The TZID used for every DTSTART/DTEND; must match [`super::german::TZ`].
const TZID: &str = "Europe/Berlin";

/// Longest physical line in octets, excluding the CRLF (RFC 5545 3.1).
const MAX_LINE_OCTETS: usize = 75;

/// More days than any programme event has; a longer series is refused.
const MAX_OCCURRENCES: usize = 31;

/// Uneven days are a daily rule with EXDATEs over this many days at most.
const MAX_SPAN_DAYS: i64 = 62;

// NOTE: Outlook (and older Exchange) does not resolve IANA zone names on its
// own; without a VTIMEZONE it either rejects the TZID or treats the times as
// floating/UTC. RFC 5545 3.6.5 also requires a VTIMEZONE for every TZID used.
// The rules below are the EU rules in force since 1996 (last Sunday of March
// 02:00 CET -> CEST, last Sunday of October 03:00 CEST -> CET); DTSTART in
// 1970 is the customary anchor (Thunderbird and Outlook write the same). Dates
// before 1996 are not correct under these rules, which does not matter here.
const VTIMEZONE_BERLIN: &[&str] = &[
    "BEGIN:VTIMEZONE",
    "TZID:Europe/Berlin",
    "BEGIN:DAYLIGHT",
    "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0200",
    "TZNAME:CEST",
    "DTSTART:19700329T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    "END:DAYLIGHT",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0100",
    "TZNAME:CET",
    "DTSTART:19701025T030000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "END:STANDARD",
    "END:VTIMEZONE",
];

/// The iTIP method (RFC 5546) of a calendar.
///
/// NOTE: there is deliberately no PUBLISH: Outlook imports a PUBLISH as a
/// plain appointment of its own, next to the meeting of the same UID, so a
/// reminder that repeated the calendar data as PUBLISH would leave a second
/// entry. Reminders carry no calendar part at all (see `calendar::notify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// An invitation or an update of one (a higher SEQUENCE).
    Request,
    /// The appointment no longer takes place; written as CANCELLED.
    Cancel,
}

impl Method {
    /// The value of the METHOD property and of the MIME `method` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
        }
    }
}

/// The STATUS of a VEVENT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Confirmed,
    Tentative,
    Cancelled,
}

impl Status {
    /// The value of the STATUS property.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Confirmed => "CONFIRMED",
            Status::Tentative => "TENTATIVE",
            Status::Cancelled => "CANCELLED",
        }
    }
}

/// An organizer or attendee: an optional display name and a mail address.
#[derive(Debug, Clone)]
pub struct Person {
    pub name: Option<String>,
    pub email: String,
}

/// One more occurrence of an appointment (day 2 of a module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub start: DateTime<Tz>,
    pub end: DateTime<Tz>,
}

/// One appointment: one UID, one or more days.
#[derive(Debug, Clone)]
pub struct Event {
    /// Stable for the life of the appointment, e.g. `interview-12@ews.example`.
    pub uid: String,
    /// Raised whenever the time or place changes.
    pub sequence: u32,
    /// Any zone; written as Europe/Berlin wall time. The first day.
    pub start: DateTime<Tz>,
    /// Any zone; written as Europe/Berlin wall time. Must not be before `start`.
    pub end: DateTime<Tz>,
    /// The further days of the same appointment, in order, each on a later
    /// Berlin date than the one before; empty for a single appointment.
    pub more: Vec<Span>,
    pub summary: String,
    /// Plain text, may contain newlines.
    pub description: String,
    pub location: Option<String>,
    /// An absolute URI (e.g. the video call); written as is, not escaped.
    pub url: Option<String>,
    pub organizer: Person,
    pub attendees: Vec<Person>,
    pub status: Status,
    /// Whether the organizer expects an answer: `RSVP=TRUE` on every
    /// attendee of a REQUEST (a CANCEL never asks for one).
    pub rsvp: bool,
}

/// Why a calendar could not be written. Nothing is written in part.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IcsError {
    /// The UID is empty or contains control characters.
    #[error("event has an unusable UID: {0:?}")]
    BadUid(String),
    /// An organizer or attendee address is not a plain `local@domain`.
    #[error("event {uid:?}: not a usable e-mail address: {address:?}")]
    BadAddress { uid: String, address: String },
    /// The URL is not an absolute URI of printable ASCII.
    #[error("event {uid:?}: not a usable URL: {url:?}")]
    BadUrl { uid: String, url: String },
    /// DTEND lies before DTSTART.
    #[error("event {uid:?} ends before it starts")]
    EndBeforeStart { uid: String },
    /// The days cannot be one daily series (out of order, two on one date,
    /// too many, or a start time that does not exist on a later day).
    #[error("event {uid:?}: the days are not one series: {why}")]
    BadSeries { uid: String, why: &'static str },
}

/// The MIME content type for the `text/calendar` part, e.g.
/// `text/calendar; charset=UTF-8; method=REQUEST`.
///
/// NOTE: RFC 6047 2.4 requires the `method` parameter, and it must equal the
/// METHOD property in the body. Outlook decides from the MIME parameter
/// whether the mail is a meeting request (with Accept/Decline buttons) or a
/// plain attachment, and Thunderbird/Lightning reads METHOD from the body; so
/// both are always written, from the same [`Method`].
pub fn content_type(method: Method) -> String {
    format!("text/calendar; charset=UTF-8; method={}", method.as_str())
}

/// The whole VCALENDAR text with CRLF line ends; `stamp` is DTSTAMP (UTC).
///
/// The event is validated first (UID, addresses, URL, end not before start,
/// the days one series); on the first problem an [`IcsError`] is returned
/// and nothing is written. With [`Method::Cancel`] the master VEVENT alone
/// is written, as `STATUS:CANCELLED` whatever `status` says, with its UID,
/// SEQUENCE and recurrence rule: that cancels every day.
pub fn calendar(method: Method, event: &Event, stamp: DateTime<Utc>) -> Result<String, IcsError> {
    let uid = event.uid.trim();
    if uid.is_empty() || uid.chars().any(char::is_control) {
        return Err(IcsError::BadUid(event.uid.chars().take(80).collect()));
    }
    let series = Series::of(uid, event)?;
    let mut lines: Vec<String> = vec![
        "BEGIN:VCALENDAR".to_owned(),
        format!("PRODID:{PRODID}"),
        "VERSION:2.0".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        format!("METHOD:{}", method.as_str()),
    ];
    lines.extend(VTIMEZONE_BERLIN.iter().map(|l| (*l).to_owned()));
    let master = Span {
        start: event.start,
        end: event.end,
    };
    let vevent = Vevent {
        method,
        uid,
        event,
        stamp,
    };
    vevent.write(&mut lines, &master, Part::Master(&series))?;
    if method == Method::Request {
        for (recurrence_id, day) in &series.overrides {
            vevent.write(&mut lines, day, Part::Override(recurrence_id))?;
        }
    }
    lines.push("END:VCALENDAR".to_owned());

    let mut out = String::new();
    for line in &lines {
        fold_into(&mut out, line);
    }
    Ok(out)
}

/// How the days of an event are written: the rule lines of the master and
/// the overrides (RECURRENCE-ID wall time, the day's real span).
#[derive(Debug, Default)]
struct Series {
    rule: Vec<String>,
    overrides: Vec<(String, Span)>,
}

impl Series {
    fn of(uid: &str, event: &Event) -> Result<Series, IcsError> {
        let bad = |why| IcsError::BadSeries {
            uid: uid.to_owned(),
            why,
        };
        let first = Span {
            start: event.start,
            end: event.end,
        };
        let days: Vec<&Span> = std::iter::once(&first).chain(&event.more).collect();
        if days.iter().any(|d| d.end < d.start) {
            return Err(IcsError::EndBeforeStart {
                uid: uid.to_owned(),
            });
        }
        if days.len() == 1 {
            return Ok(Series::default());
        }
        if days.len() > MAX_OCCURRENCES {
            return Err(bad("more days than a series may have"));
        }
        let local = |t: &DateTime<Tz>| to_berlin(t).naive_local();
        let base = local(&first.start);
        let length = first.end - first.start;
        let date0 = base.date();
        let offsets: Vec<i64> = days
            .iter()
            .map(|d| (local(&d.start).date() - date0).num_days())
            .collect();
        if offsets.windows(2).any(|w| w[1] <= w[0]) {
            return Err(bad("the days are not on ascending dates"));
        }
        // The rule's instance on a date: the first day's wall time there.
        let instance = |date: NaiveDate| -> Result<NaiveDateTime, IcsError> {
            let at = date.and_time(base.time());
            TZ.from_local_datetime(&at)
                .single()
                .map(|_| at)
                .ok_or_else(|| bad("the first day's start time does not exist on a later day"))
        };
        let step = offsets[1];
        let even = offsets.windows(2).all(|w| w[1] - w[0] == step);
        let mut series = Series::default();
        let count = if even {
            days.len() as i64
        } else {
            offsets[offsets.len() - 1] + 1
        };
        if !even && count > MAX_SPAN_DAYS {
            return Err(bad("uneven days spread over more than two months"));
        }
        let interval = if even && step > 1 {
            format!(";INTERVAL={step}")
        } else {
            String::new()
        };
        series
            .rule
            .push(format!("RRULE:FREQ=DAILY{interval};COUNT={count}"));
        if !even {
            for offset in 1..count {
                if !offsets.contains(&offset) {
                    let date = date0 + Duration::days(offset);
                    series.rule.push(format!(
                        "EXDATE;TZID={TZID}:{}",
                        instance(date)?.format("%Y%m%dT%H%M%S")
                    ));
                }
            }
        }
        for day in days.iter().skip(1) {
            let at = instance(local(&day.start).date())?;
            if local(&day.start) != at || day.end - day.start != length {
                series
                    .overrides
                    .push((at.format("%Y%m%dT%H%M%S").to_string(), (*day).clone()));
            }
        }
        Ok(series)
    }
}

/// Which VEVENT of a series is written.
enum Part<'a> {
    /// The first day, with the series' rule lines.
    Master(&'a Series),
    /// Another day, with its RECURRENCE-ID (a Berlin wall time).
    Override(&'a str),
}

/// What every VEVENT of one calendar shares.
struct Vevent<'a> {
    method: Method,
    uid: &'a str,
    event: &'a Event,
    stamp: DateTime<Utc>,
}

impl Vevent<'_> {
    /// Appends the content lines (unfolded) of one VEVENT with the times of `day`.
    fn write(&self, lines: &mut Vec<String>, day: &Span, part: Part<'_>) -> Result<(), IcsError> {
        let Vevent {
            method,
            uid,
            event,
            stamp,
        } = *self;
        let status = match method {
            Method::Cancel => Status::Cancelled,
            Method::Request => event.status,
        };
        let rsvp = if method == Method::Request && event.rsvp {
            "TRUE"
        } else {
            "FALSE"
        };

        lines.push("BEGIN:VEVENT".to_owned());
        lines.push(format!("UID:{}", escape_text(uid)));
        if let Part::Override(id) = part {
            lines.push(format!("RECURRENCE-ID;TZID={TZID}:{id}"));
        }
        lines.push(format!("DTSTAMP:{}", stamp.format("%Y%m%dT%H%M%SZ")));
        lines.push(format!("DTSTART;TZID={TZID}:{}", local_time(&day.start)));
        lines.push(format!("DTEND;TZID={TZID}:{}", local_time(&day.end)));
        if let Part::Master(series) = part {
            lines.extend(series.rule.iter().cloned());
        }
        lines.push(format!("SEQUENCE:{}", event.sequence));
        lines.push(format!("SUMMARY:{}", escape_text(&event.summary)));
        lines.push(format!("DESCRIPTION:{}", escape_text(&event.description)));
        if let Some(location) = &event.location {
            lines.push(format!("LOCATION:{}", escape_text(location)));
        }
        if let Some(url) = &event.url {
            lines.push(format!("URL:{}", check_url(uid, url)?));
        }
        lines.push(format!(
            "ORGANIZER{}:mailto:{}",
            cn_param(&event.organizer),
            mail_address(uid, &event.organizer)?
        ));
        for attendee in &event.attendees {
            lines.push(format!(
                "ATTENDEE{};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP={rsvp}:mailto:{}",
                cn_param(attendee),
                mail_address(uid, attendee)?
            ));
        }
        lines.push(format!("STATUS:{}", status.as_str()));
        lines.push("TRANSP:OPAQUE".to_owned());
        lines.push("END:VEVENT".to_owned());
        Ok(())
    }
}

/// The Berlin wall time of an instant as `YYYYMMDDTHHMMSS` (no zone suffix).
///
/// NOTE: in the hour that occurs twice on the last Sunday of October
/// (02:00–02:59), the wall time is ambiguous and readers take the first
/// (CEST) occurrence; nothing is planned in that hour.
fn local_time<T: TimeZone>(dt: &DateTime<T>) -> String {
    to_berlin(dt).format("%Y%m%dT%H%M%S").to_string()
}

/// A TEXT value escaped per RFC 5545 3.3.11.
///
/// Backslash, semicolon and comma are escaped; CRLF, CR and LF become `\n`;
/// a tab becomes a space; every other control character is dropped. The
/// result therefore never contains a line break, so no input can start a
/// property line of its own.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `;CN=…` for a person with a usable name, else the empty string.
///
/// DQUOTE and control characters cannot appear in a parameter value at all
/// (RFC 5545 3.1) and are removed; a value with `:`, `;` or `,` is quoted.
fn cn_param(person: &Person) -> String {
    let Some(name) = &person.name else {
        return String::new();
    };
    let clean: String = name
        .chars()
        .filter(|c| *c != '"' && !c.is_control())
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        String::new()
    } else if clean.contains([':', ';', ',']) {
        format!(";CN=\"{clean}\"")
    } else {
        format!(";CN={clean}")
    }
}

/// The checked address for a `mailto:` URI.
///
/// NOTE: the address is the identity the clients match replies and updates
/// against, so it is rejected, not silently altered, when it is not a plain
/// `local@domain` (whitespace, control characters, `:`, `;`, … ).
fn mail_address(uid: &str, person: &Person) -> Result<String, IcsError> {
    EmailAddress::parse(&person.email)
        .map(String::from)
        .map_err(|_| IcsError::BadAddress {
            uid: uid.to_owned(),
            address: person.email.chars().take(80).collect(),
        })
}

/// The URL unchanged if it is an absolute URI of printable ASCII.
///
/// URL has the value type URI (RFC 5545 3.8.4.6), so it is not TEXT-escaped;
/// anything that could break the line or needs escaping is rejected instead.
fn check_url<'a>(uid: &str, url: &'a str) -> Result<&'a str, IcsError> {
    let bad = || IcsError::BadUrl {
        uid: uid.to_owned(),
        url: url.chars().take(80).collect(),
    };
    let printable = url
        .chars()
        .all(|c| c.is_ascii_graphic() && !"\"<>\\^`{|}".contains(c));
    let (scheme, rest) = url.split_once(':').ok_or_else(bad)?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if printable && scheme_ok && !rest.is_empty() {
        Ok(url)
    } else {
        Err(bad())
    }
}

/// Appends one content line to `out`, folded at 75 octets with CRLF.
///
/// Continuation lines start with a single space (which counts towards the
/// 75 octets). A fold never splits a UTF-8 sequence, so every physical line
/// is valid UTF-8 on its own — Outlook garbles umlauts otherwise.
fn fold_into(out: &mut String, line: &str) {
    let mut room = MAX_LINE_OCTETS;
    let mut used = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if used + len > room {
            out.push_str("\r\n ");
            room = MAX_LINE_OCTETS - 1;
            used = 0;
        }
        out.push(c);
        used += len;
    }
    out.push_str("\r\n");
}

/// The three-engine reader shared with the daemon tests.
#[cfg(test)]
#[path = "../../tests/calendar/engines.rs"]
mod engines;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::german::TZ;

    fn berlin(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Tz> {
        TZ.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("unambiguous Berlin time in test")
    }

    fn stamp() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 8, 1, 12, 0, 0)
            .single()
            .expect("valid stamp in test")
    }

    fn person(name: &str, email: &str) -> Person {
        Person {
            name: Some(name.to_owned()),
            email: email.to_owned(),
        }
    }

    fn interview() -> Event {
        Event {
            uid: "interview-12@ews.example".to_owned(),
            sequence: 0,
            start: berlin(2026, 8, 27, 10, 0),
            end: berlin(2026, 8, 27, 10, 45),
            summary: "Vorstellungsgespräch EWS 7".to_owned(),
            description: "Bitte bringen Sie Ihren Ausweis mit.".to_owned(),
            location: Some("Raum 2.14, Rathaus".to_owned()),
            url: None,
            organizer: person("EWS Geschäftsstelle", "ews@stadt.example"),
            attendees: vec![person("Erika Mustermann", "erika@example.org")],
            status: Status::Confirmed,
            more: vec![],
            rsvp: true,
        }
    }

    fn write(method: Method, event: &Event) -> String {
        calendar(method, event, stamp()).expect("calendar in test")
    }

    /// The logical content lines (RFC 5545 3.1 unfolding).
    fn unfold(ics: &str) -> Vec<String> {
        ics.replace("\r\n ", "")
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn property<'a>(lines: &'a [String], name: &str) -> Vec<&'a str> {
        lines
            .iter()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with([':', ';']))
            })
            .map(String::as_str)
            .collect()
    }

    /// DTSTART/DTEND lines with a TZID parameter (those of the VEVENTs).
    fn event_times<'a>(lines: &'a [String], name: &str) -> Vec<&'a str> {
        let prefix = format!("{name};TZID=");
        lines
            .iter()
            .filter(|l| l.starts_with(&prefix))
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn writes_header_timezone_and_event() {
        let ics = write(Method::Request, &interview());
        let lines = unfold(&ics);
        assert_eq!(lines.first().map(String::as_str), Some("BEGIN:VCALENDAR"));
        assert_eq!(lines.last().map(String::as_str), Some("END:VCALENDAR"));
        for expected in [
            "PRODID:-//postbote//EWS//DE",
            "VERSION:2.0",
            "CALSCALE:GREGORIAN",
            "METHOD:REQUEST",
            "TZID:Europe/Berlin",
            "DTSTART:19700329T020000",
            "DTSTART:19701025T030000",
            "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
            "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
            "UID:interview-12@ews.example",
            "SEQUENCE:0",
            "DTSTAMP:20260801T120000Z",
            "DTSTART;TZID=Europe/Berlin:20260827T100000",
            "DTEND;TZID=Europe/Berlin:20260827T104500",
            "SUMMARY:Vorstellungsgespräch EWS 7",
            "LOCATION:Raum 2.14\\, Rathaus",
            "ORGANIZER;CN=EWS Geschäftsstelle:mailto:ews@stadt.example",
            "ATTENDEE;CN=Erika Mustermann;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:erika@example.org",
            "STATUS:CONFIRMED",
            "TRANSP:OPAQUE",
        ] {
            assert!(lines.iter().any(|l| l == expected), "missing {expected}");
        }
        assert!(property(&lines, "URL").is_empty());
        // CRLF everywhere: no bare LF or CR.
        assert_eq!(ics.matches('\n').count(), ics.matches("\r\n").count());
        assert_eq!(ics.matches('\r').count(), ics.matches("\r\n").count());
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
    }

    #[test]
    fn tzid_matches_the_programme_zone() {
        assert_eq!(TZ.name(), TZID);
    }

    #[test]
    fn content_type_carries_the_method() {
        assert_eq!(
            content_type(Method::Request),
            "text/calendar; charset=UTF-8; method=REQUEST"
        );
        assert_eq!(
            content_type(Method::Cancel),
            "text/calendar; charset=UTF-8; method=CANCEL"
        );
    }

    #[test]
    fn dst_change_days_keep_local_wall_times() {
        let mut spring = interview();
        spring.uid = "spring@ews.example".to_owned();
        spring.start = berlin(2026, 3, 29, 1, 30); // CET, before the switch
        spring.end = berlin(2026, 3, 29, 3, 30); // CEST, after it
        let mut autumn = interview();
        autumn.uid = "autumn@ews.example".to_owned();
        autumn.start = berlin(2026, 10, 25, 10, 0);
        autumn.end = berlin(2026, 10, 25, 16, 0);
        let mut lines = unfold(&write(Method::Request, &spring));
        lines.extend(unfold(&write(Method::Request, &autumn)));
        let starts = property(&lines, "DTSTART");
        assert!(starts.contains(&"DTSTART;TZID=Europe/Berlin:20260329T013000"));
        assert!(starts.contains(&"DTSTART;TZID=Europe/Berlin:20261025T100000"));
        let ends = property(&lines, "DTEND");
        assert!(ends.contains(&"DTEND;TZID=Europe/Berlin:20260329T033000"));
        assert!(ends.contains(&"DTEND;TZID=Europe/Berlin:20261025T160000"));
    }

    #[test]
    fn times_in_other_zones_are_written_in_berlin_time() {
        let mut ev = interview();
        // 08:00 UTC is 10:00 CEST in August, 09:00 UTC is 10:00 CET in November.
        ev.start = chrono_tz::UTC
            .with_ymd_and_hms(2026, 8, 27, 8, 0, 0)
            .single()
            .expect("valid UTC time in test");
        ev.end = chrono_tz::UTC
            .with_ymd_and_hms(2026, 11, 26, 9, 0, 0)
            .single()
            .expect("valid UTC time in test");
        let lines = unfold(&write(Method::Request, &ev));
        assert_eq!(
            event_times(&lines, "DTSTART"),
            ["DTSTART;TZID=Europe/Berlin:20260827T100000"]
        );
        assert_eq!(
            event_times(&lines, "DTEND"),
            ["DTEND;TZID=Europe/Berlin:20261126T100000"]
        );
        assert!(!lines.iter().any(|l| l.contains("TZID=UTC")));
    }

    #[test]
    fn folds_long_german_text_without_splitting_characters() {
        let mut ev = interview();
        ev.description = "Sehr geehrte Frau Müller,\n\nwir freuen uns, Sie zum \
            Vorstellungsgespräch für die Weiterbildung „Ökologische Stadtentwicklung“ \
            einzuladen. Bitte bringen Sie Ihre Zeugnisse, Ihren Personalausweis und \
            ggf. Nachweise über Förderungen mit. Über eine kurze Rückmeldung würden \
            wir uns freuen; Änderungswünsche äußern Sie bitte bis Dienstag.\n\n\
            Mit freundlichen Grüßen\r\nIhre EWS-Geschäftsstelle — ÄÖÜäöüß€"
            .to_owned();
        let ics = write(Method::Request, &ev);
        let mut folded = 0;
        for physical in ics.split("\r\n") {
            assert!(
                physical.len() <= 75,
                "{} octets: {physical:?}",
                physical.len()
            );
            if physical.starts_with(' ') {
                folded += 1;
            }
        }
        assert!(folded >= 5, "description was not folded");
        // `ics` is a String, so every fold kept UTF-8 intact; unfolding
        // gives back exactly the escaped original.
        let lines = unfold(&ics);
        assert_eq!(
            property(&lines, "DESCRIPTION"),
            [format!("DESCRIPTION:{}", escape_text(&ev.description)).as_str()]
        );
    }

    #[test]
    fn folding_respects_multibyte_characters_at_the_boundary() {
        for prefix in 0..4 {
            let line = format!("{}{}", "x".repeat(70 + prefix), "€".repeat(40));
            let mut out = String::new();
            fold_into(&mut out, &line);
            for physical in out.split("\r\n") {
                assert!(physical.len() <= 75);
            }
            assert_eq!(out.replace("\r\n ", ""), format!("{line}\r\n"));
        }
        let mut short = String::new();
        fold_into(&mut short, &"a".repeat(75));
        assert_eq!(short, format!("{}\r\n", "a".repeat(75)));
    }

    #[test]
    fn escapes_text_values() {
        assert_eq!(escape_text(r"a\b;c,d"), r"a\\b\;c\,d");
        assert_eq!(escape_text("1\r\n2\r3\n4"), r"1\n2\n3\n4");
        assert_eq!(escape_text("a\tb\u{0}c\u{7f}d\u{85}e"), "a bcde");
        assert_eq!(escape_text("Größe: 5"), "Größe: 5");
        let mut ev = interview();
        ev.summary = "Gespräch; Teil 1, Raum \\A".to_owned();
        let lines = unfold(&write(Method::Request, &ev));
        assert_eq!(
            property(&lines, "SUMMARY"),
            [r"SUMMARY:Gespräch\; Teil 1\, Raum \\A"]
        );
    }

    #[test]
    fn url_is_written_as_uri_and_checked() {
        let mut ev = interview();
        ev.url = Some("https://meet.example/r/ews-12?pwd=a,b;c".to_owned());
        let lines = unfold(&write(Method::Request, &ev));
        assert_eq!(
            property(&lines, "URL"),
            ["URL:https://meet.example/r/ews-12?pwd=a,b;c"]
        );
        for bad in [
            "https://x.example/\r\nATTENDEE:mailto:evil@x.example",
            "https://x.example/a b",
            "no-scheme",
            "://x",
            "https://x.example/\"",
        ] {
            ev.url = Some(bad.to_owned());
            assert!(
                matches!(
                    calendar(Method::Request, &ev, stamp()),
                    Err(IcsError::BadUrl { .. })
                ),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn common_names_are_quoted_and_cleaned() {
        let mut ev = interview();
        ev.organizer = person("Müller, Anna", "anna@stadt.example");
        ev.attendees = vec![
            person("Dr. \"Bob\" Kim\r\nX: y", "bob@example.org"),
            Person {
                name: None,
                email: "nn@example.org".to_owned(),
            },
            person(" \"\" ", "empty@example.org"),
        ];
        let lines = unfold(&write(Method::Request, &ev));
        assert_eq!(
            property(&lines, "ORGANIZER"),
            ["ORGANIZER;CN=\"Müller, Anna\":mailto:anna@stadt.example"]
        );
        assert_eq!(
            property(&lines, "ATTENDEE"),
            [
                "ATTENDEE;CN=\"Dr. Bob KimX: y\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.org",
                "ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:nn@example.org",
                "ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:empty@example.org",
            ]
        );
    }

    #[test]
    fn bad_addresses_are_rejected() {
        for bad in [
            "a b@example.org",
            "a@example.org\r\nATTENDEE:mailto:x@y.example",
            "a@example.org;RSVP=TRUE",
            "mailto:a@example.org",
            "",
        ] {
            let mut ev = interview();
            ev.attendees.push(person("X", bad));
            assert!(
                matches!(
                    calendar(Method::Request, &ev, stamp()),
                    Err(IcsError::BadAddress { .. })
                ),
                "attendee {bad:?} accepted"
            );
            let mut ev = interview();
            ev.organizer.email = bad.to_owned();
            assert!(
                matches!(
                    calendar(Method::Request, &ev, stamp()),
                    Err(IcsError::BadAddress { .. })
                ),
                "organizer {bad:?} accepted"
            );
        }
    }

    #[test]
    fn other_invalid_input_is_rejected() {
        let mut ev = interview();
        ev.uid = " ".to_owned();
        assert!(matches!(
            calendar(Method::Request, &ev, stamp()),
            Err(IcsError::BadUid(_))
        ));
        let mut ev = interview();
        ev.uid = "a\r\nb".to_owned();
        assert!(matches!(
            calendar(Method::Request, &ev, stamp()),
            Err(IcsError::BadUid(_))
        ));
        let mut ev = interview();
        std::mem::swap(&mut ev.start, &mut ev.end);
        assert!(matches!(
            calendar(Method::Request, &ev, stamp()),
            Err(IcsError::EndBeforeStart { .. })
        ));
    }

    #[test]
    fn cancel_forces_cancelled_and_keeps_uid_and_sequence() {
        let mut ev = interview();
        ev.sequence = 3;
        ev.status = Status::Confirmed;
        let ics = write(Method::Cancel, &ev);
        let lines = unfold(&ics);
        assert_eq!(property(&lines, "METHOD"), ["METHOD:CANCEL"]);
        assert_eq!(property(&lines, "STATUS"), ["STATUS:CANCELLED"]);
        assert_eq!(property(&lines, "UID"), ["UID:interview-12@ews.example"]);
        assert_eq!(property(&lines, "SEQUENCE"), ["SEQUENCE:3"]);
        assert_eq!(property(&lines, "ATTENDEE").len(), 1);
    }

    #[test]
    fn moved_interview_keeps_uid_and_raises_sequence() {
        let first = interview();
        let mut moved = first.clone();
        moved.sequence = first.sequence + 1;
        moved.start = berlin(2026, 8, 28, 14, 0);
        moved.end = berlin(2026, 8, 28, 14, 45);
        moved.status = Status::Tentative;
        let a = unfold(&write(Method::Request, &first));
        let b = unfold(&write(Method::Request, &moved));
        assert_eq!(property(&a, "UID"), property(&b, "UID"));
        assert_eq!(property(&a, "SEQUENCE"), ["SEQUENCE:0"]);
        assert_eq!(property(&b, "SEQUENCE"), ["SEQUENCE:1"]);
        assert_eq!(property(&b, "STATUS"), ["STATUS:TENTATIVE"]);
    }

    #[test]
    fn line_breaks_in_input_cannot_create_properties() {
        let mut ev = interview();
        ev.summary = "Gespräch\r\nATTENDEE:mailto:evil@x.example\nMETHOD:PUBLISH\rX".to_owned();
        ev.description = "\r\nBEGIN:VEVENT\r\n".to_owned();
        ev.location = Some("Raum\nSTATUS:CANCELLED".to_owned());
        ev.organizer.name = Some("Chef\r\nATTENDEE:mailto:evil@x.example".to_owned());
        let ics = write(Method::Request, &ev);
        let lines = unfold(&ics);
        assert_eq!(property(&lines, "ATTENDEE").len(), 1);
        assert_eq!(property(&lines, "METHOD"), ["METHOD:REQUEST"]);
        assert_eq!(property(&lines, "STATUS"), ["STATUS:CONFIRMED"]);
        assert_eq!(property(&lines, "BEGIN").len(), 5); // VCALENDAR, VTIMEZONE, 2 rules, VEVENT
        assert_eq!(
            property(&lines, "SUMMARY"),
            [r"SUMMARY:Gespräch\nATTENDEE:mailto:evil@x.example\nMETHOD:PUBLISH\nX"]
        );
        // Every physical line is either a property or a continuation.
        for physical in ics.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(!physical.contains(['\r', '\n']));
        }
    }

    /// Module 3 as the programme has it: Thu and Fri, 10:00–16:00.
    fn module() -> Event {
        let mut ev = interview();
        ev.uid = "module-3.ews7@ews.example".to_owned();
        ev.summary = "EWS 7 3. Präsenzmodul".to_owned();
        ev.start = berlin(2026, 8, 27, 10, 0);
        ev.end = berlin(2026, 8, 27, 16, 0);
        ev.more = vec![Span {
            start: berlin(2026, 8, 28, 10, 0),
            end: berlin(2026, 8, 28, 16, 0),
        }];
        ev.rsvp = false;
        ev
    }

    fn day(y: i32, mo: u32, d: u32, from: (u32, u32), to: (u32, u32)) -> Span {
        Span {
            start: berlin(y, mo, d, from.0, from.1),
            end: berlin(y, mo, d, to.0, to.1),
        }
    }

    #[test]
    fn a_two_day_module_is_one_series_with_one_uid() {
        let lines = unfold(&write(Method::Request, &module()));
        assert_eq!(lines.iter().filter(|l| *l == "BEGIN:VTIMEZONE").count(), 1);
        assert_eq!(lines.iter().filter(|l| *l == "BEGIN:VEVENT").count(), 1);
        assert_eq!(property(&lines, "UID"), ["UID:module-3.ews7@ews.example"]);
        assert_eq!(
            event_times(&lines, "DTSTART"),
            ["DTSTART;TZID=Europe/Berlin:20260827T100000"]
        );
        assert!(lines.iter().any(|l| l == "RRULE:FREQ=DAILY;COUNT=2"));
        assert!(property(&lines, "RECURRENCE-ID").is_empty());
        assert!(property(&lines, "EXDATE").is_empty());
        assert!(property(&lines, "RDATE").is_empty());
    }

    #[test]
    fn a_day_with_other_hours_is_an_override_of_the_series() {
        let mut ev = module();
        ev.sequence = 4;
        ev.more = vec![day(2026, 8, 28, (9, 0), (13, 0))];
        let lines = unfold(&write(Method::Request, &ev));
        assert_eq!(lines.iter().filter(|l| *l == "BEGIN:VEVENT").count(), 2);
        assert_eq!(
            property(&lines, "UID"),
            [
                "UID:module-3.ews7@ews.example",
                "UID:module-3.ews7@ews.example"
            ]
        );
        assert_eq!(property(&lines, "SEQUENCE"), ["SEQUENCE:4", "SEQUENCE:4"]);
        assert_eq!(
            property(&lines, "RECURRENCE-ID"),
            ["RECURRENCE-ID;TZID=Europe/Berlin:20260828T100000"]
        );
        assert_eq!(
            event_times(&lines, "DTSTART"),
            [
                "DTSTART;TZID=Europe/Berlin:20260827T100000",
                "DTSTART;TZID=Europe/Berlin:20260828T090000"
            ]
        );
        assert_eq!(
            property(&lines, "RRULE").len(),
            3,
            "2 in the VTIMEZONE, 1 in the master"
        );
        // A change of the length alone is an override too.
        ev.more = vec![day(2026, 8, 28, (10, 0), (15, 0))];
        let lines = unfold(&write(Method::Request, &ev));
        assert_eq!(property(&lines, "RECURRENCE-ID").len(), 1);
    }

    #[test]
    fn days_apart_are_an_interval_or_exdates() {
        let mut ev = module();
        ev.more = vec![day(2026, 9, 1, (10, 0), (16, 0))]; // Thu, then Tue
        let lines = unfold(&write(Method::Request, &ev));
        assert!(
            lines
                .iter()
                .any(|l| l == "RRULE:FREQ=DAILY;INTERVAL=5;COUNT=2")
        );
        assert!(property(&lines, "EXDATE").is_empty());
        ev.more = vec![
            day(2026, 8, 28, (10, 0), (16, 0)),
            day(2026, 8, 31, (10, 0), (16, 0)),
        ]; // Thu, Fri, Mon
        let lines = unfold(&write(Method::Request, &ev));
        assert!(lines.iter().any(|l| l == "RRULE:FREQ=DAILY;COUNT=5"));
        assert_eq!(
            property(&lines, "EXDATE"),
            [
                "EXDATE;TZID=Europe/Berlin:20260829T100000",
                "EXDATE;TZID=Europe/Berlin:20260830T100000"
            ]
        );
        assert!(property(&lines, "RECURRENCE-ID").is_empty());
    }

    #[test]
    fn cancel_of_a_series_is_its_master_alone() {
        let mut ev = module();
        ev.sequence = 2;
        ev.more = vec![day(2026, 8, 28, (9, 0), (13, 0))];
        let lines = unfold(&write(Method::Cancel, &ev));
        assert_eq!(lines.iter().filter(|l| *l == "BEGIN:VEVENT").count(), 1);
        assert_eq!(property(&lines, "UID"), ["UID:module-3.ews7@ews.example"]);
        assert!(lines.iter().any(|l| l == "RRULE:FREQ=DAILY;COUNT=2"));
        assert!(property(&lines, "RECURRENCE-ID").is_empty());
        assert_eq!(property(&lines, "STATUS"), ["STATUS:CANCELLED"]);
        assert_eq!(property(&lines, "SEQUENCE"), ["SEQUENCE:2"]);
    }

    #[test]
    fn days_that_are_not_one_series_are_refused() {
        let bad = |more: Vec<Span>| {
            let mut ev = module();
            ev.more = more;
            calendar(Method::Request, &ev, stamp())
        };
        for more in [
            vec![day(2026, 8, 26, (10, 0), (16, 0))],
            vec![day(2026, 8, 27, (17, 0), (18, 0))],
            vec![
                day(2026, 8, 29, (10, 0), (16, 0)),
                day(2026, 8, 28, (10, 0), (16, 0)),
            ],
        ] {
            assert!(
                matches!(bad(more.clone()), Err(IcsError::BadSeries { .. })),
                "{more:?} accepted"
            );
        }
        let mut ev = module();
        ev.more = vec![Span {
            start: berlin(2026, 8, 28, 16, 0),
            end: berlin(2026, 8, 28, 10, 0),
        }];
        assert!(matches!(
            calendar(Method::Request, &ev, stamp()),
            Err(IcsError::EndBeforeStart { .. })
        ));
        let mut ev = module();
        ev.more = vec![
            day(2026, 8, 28, (10, 0), (16, 0)),
            day(2026, 12, 1, (10, 0), (16, 0)),
        ];
        assert!(matches!(
            calendar(Method::Request, &ev, stamp()),
            Err(IcsError::BadSeries { .. })
        ));
        // 02:30 on Sat 27.03.2027 exists, on Sun 28.03.2027 it does not.
        let mut ev = module();
        ev.start = berlin(2027, 3, 27, 2, 30);
        ev.end = berlin(2027, 3, 27, 4, 0);
        ev.more = vec![Span {
            start: berlin(2027, 3, 28, 4, 0),
            end: berlin(2027, 3, 28, 5, 0),
        }];
        assert!(matches!(
            calendar(Method::Request, &ev, stamp()),
            Err(IcsError::BadSeries { .. })
        ));
    }

    #[test]
    fn rsvp_follows_the_event_and_a_cancel_asks_for_none() {
        let attendee = |method, rsvp| {
            let mut ev = interview();
            ev.rsvp = rsvp;
            let lines = unfold(&write(method, &ev));
            property(&lines, "ATTENDEE")[0].to_owned()
        };
        assert!(attendee(Method::Request, true).contains(";RSVP=TRUE:"));
        assert!(attendee(Method::Request, false).contains(";RSVP=FALSE:"));
        assert!(attendee(Method::Cancel, true).contains(";RSVP=FALSE:"));
    }

    /// UTC instants of the days as the engines print them.
    fn utc_starts(ev: &Event) -> Vec<String> {
        std::iter::once(ev.start)
            .chain(ev.more.iter().map(|d| d.start))
            .map(|t| {
                t.with_timezone(&Utc)
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string()
            })
            .collect()
    }

    /// Every kind of calendar postbote writes, read by libical, Python
    /// icalendar and ical.js (tests/calendar/check_ics.py): no errors, the
    /// iTIP rules kept, and every occurrence's start and end in UTC the same
    /// in all three and equal to the days written, on both sides of both DST
    /// changes.
    #[test]
    fn three_engines_read_every_kind_of_calendar_alike() {
        let mut cases: Vec<(&str, Method, Event)> = Vec::new();
        let mut winter = interview();
        winter.sequence = 7;
        winter.start = chrono_tz::UTC
            .with_ymd_and_hms(2026, 11, 26, 9, 0, 0)
            .single()
            .expect("valid UTC time in test");
        winter.end = berlin(2026, 11, 26, 11, 0);
        cases.push(("interview", Method::Request, interview()));
        cases.push(("interview in winter", Method::Request, winter.clone()));
        cases.push(("interview cancel", Method::Cancel, winter));
        cases.push(("module", Method::Request, module()));
        // Sat/Sun of the March change (28.03.2027) and the October one (31.10.2027).
        let mut march = module();
        march.start = berlin(2027, 3, 27, 10, 0);
        march.end = berlin(2027, 3, 27, 16, 0);
        march.more = vec![day(2027, 3, 28, (10, 0), (16, 0))];
        cases.push((
            "module over the March change",
            Method::Request,
            march.clone(),
        ));
        let mut october = module();
        october.start = berlin(2027, 10, 30, 10, 0);
        october.end = berlin(2027, 10, 30, 16, 0);
        october.more = vec![day(2027, 10, 31, (10, 0), (16, 0))];
        cases.push((
            "module over the October change",
            Method::Request,
            october.clone(),
        ));
        let mut changed = october.clone();
        changed.sequence = 1;
        changed.more = vec![day(2027, 10, 31, (9, 0), (12, 30))];
        cases.push((
            "a changed day after the October change",
            Method::Request,
            changed,
        ));
        let mut apart = march.clone();
        apart.more = vec![
            day(2027, 3, 29, (10, 0), (16, 0)),
            day(2027, 4, 1, (8, 30), (16, 0)),
        ];
        cases.push(("days apart over the March change", Method::Request, apart));
        let mut cancelled = october;
        cancelled.sequence = 2;
        cases.push(("module cancel", Method::Cancel, cancelled));

        let mut checked = 0;
        for (what, method, ev) in cases {
            let ics = write(method, &ev);
            let Some(read) = super::engines::read(&ics) else {
                continue;
            };
            super::engines::assert_itip(
                &read,
                &super::engines::Itip {
                    mime_method: method.as_str(),
                    from: &ev.organizer.email,
                    recipient: &ev.attendees[0].email,
                    rsvp: ev.rsvp && method == Method::Request,
                },
            );
            assert_eq!(read.uids, std::slice::from_ref(&ev.uid), "{what}");
            assert_eq!(read.sequence(), i64::from(ev.sequence), "{what}");
            assert_eq!(read.starts(), utc_starts(&ev), "{what}");
            if method == Method::Request {
                let ends: Vec<String> = std::iter::once(ev.end)
                    .chain(ev.more.iter().map(|d| d.end))
                    .map(|t| {
                        t.with_timezone(&Utc)
                            .format("%Y-%m-%dT%H:%M:%SZ")
                            .to_string()
                    })
                    .collect();
                let got: Vec<&str> = read.occurrences.iter().map(|o| o.end.as_str()).collect();
                assert_eq!(got, ends, "{what}");
            }
            checked += 1;
        }
        if checked > 0 {
            eprintln!("calendar engines agreed on {checked} calendars");
        }
    }

    #[test]
    fn the_dst_series_starts_at_the_same_wall_time_in_utc() {
        // Independent of any engine: what the three must print.
        let mut march = module();
        march.start = berlin(2027, 3, 27, 10, 0);
        march.end = berlin(2027, 3, 27, 16, 0);
        march.more = vec![day(2027, 3, 28, (10, 0), (16, 0))];
        assert_eq!(
            utc_starts(&march),
            ["2027-03-27T09:00:00Z", "2027-03-28T08:00:00Z"]
        );
    }

    /// Parses the output with Python's `icalendar`: text values round-trip.
    ///
    /// Skipped (with a note on stderr) when python3 or icalendar is missing,
    /// unless `POSTBOTE_REQUIRE_ICALENDAR` is set; then it fails.
    #[test]
    fn python_icalendar_reads_the_text_back() {
        use std::process::Command;

        let available = Command::new("python3")
            .args(["-c", "import icalendar"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !available {
            assert!(
                std::env::var_os("POSTBOTE_REQUIRE_ICALENDAR").is_none(),
                "python3 with icalendar is required (POSTBOTE_REQUIRE_ICALENDAR is set)"
            );
            eprintln!("!!! SKIPPING: python3 -c 'import icalendar' failed");
            return;
        }

        let mut summer = interview();
        summer.sequence = 2;
        summer.description = "Zeile 1; mit Komma, Backslash \\\nZeile 2 äöü".to_owned();
        let ics = write(Method::Request, &summer);

        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("invite.ics");
        std::fs::write(&path, &ics).expect("write ics");
        let script = r#"
import sys, icalendar
cal = icalendar.Calendar.from_ical(open(sys.argv[1], "rb").read())
print(cal["METHOD"])
for ev in cal.walk("VEVENT"):
    start = ev["DTSTART"].dt
    assert start.tzinfo is not None, "DTSTART is naive"
    print(ev["UID"], start.isoformat(), int(ev["SEQUENCE"]), ev["STATUS"])
    print(repr(str(ev["DESCRIPTION"])))
"#;
        let out = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&path)
            .output()
            .expect("run python3");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "icalendar failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Vec<&str> = stdout.lines().collect();
        assert_eq!(
            got,
            [
                "REQUEST",
                "interview-12@ews.example 2026-08-27T10:00:00+02:00 2 CONFIRMED",
                "'Zeile 1; mit Komma, Backslash \\\\\\nZeile 2 äöü'",
            ]
        );
    }
}
