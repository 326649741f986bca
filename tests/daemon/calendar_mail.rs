//! The calendar part of a received mail: the `text/calendar` part (with its
//! MIME `method`) and the `.ics` attachment, which must be the same object,
//! read by libical, Python icalendar and ical.js (`tests/calendar/engines.rs`)
//! and checked against the iTIP rules for the mail's From and To.

use crate::engines::{self, Itip, Read};
use chrono::{NaiveDate, TimeZone, Utc};
use mail_parser::{MessageParser, MimeHeaders};

/// A checked calendar part.
#[derive(Debug, Clone)]
pub struct CalendarMail {
    /// The `method` parameter of the text/calendar part, e.g. `REQUEST`.
    pub mime_method: String,
    pub ics: String,
    /// What all engines agreed on.
    pub read: Read,
}

impl CalendarMail {
    pub fn method(&self) -> &str {
        self.read.method.as_deref().unwrap_or_default()
    }

    /// The one UID.
    pub fn uid(&self) -> &str {
        &self.read.uids[0]
    }

    pub fn sequence(&self) -> i64 {
        self.read.sequence()
    }

    /// The STATUS of the master VEVENT.
    pub fn status(&self) -> Option<&str> {
        self.master().status.as_deref()
    }

    /// The master VEVENT (no RECURRENCE-ID).
    pub fn master(&self) -> &engines::Component {
        self.read
            .components
            .iter()
            .find(|c| c.recurrence_id.is_none())
            .expect("a master VEVENT")
    }

    /// Every occurrence's start in UTC.
    pub fn starts(&self) -> Vec<&str> {
        self.read.starts()
    }

    /// How many VEVENTs carry a RECURRENCE-ID.
    pub fn overrides(&self) -> usize {
        self.read
            .components
            .iter()
            .filter(|c| c.recurrence_id.is_some())
            .count()
    }
}

/// `date` at `hh:mm` Berlin time as the UTC instant the engines print.
pub fn berlin_utc(date: NaiveDate, hour: u32, minute: u32) -> String {
    let local = date.and_hms_opt(hour, minute, 0).expect("valid time");
    chrono_tz::Europe::Berlin
        .from_local_datetime(&local)
        .single()
        .expect("unambiguous Berlin time")
        .with_timezone(&Utc)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The calendar part of `raw`, checked, or None when the mail carries none
/// (neither a text/calendar part nor an .ics attachment).
///
/// Panics when only one of the two is there or they differ, when an engine
/// fails or they disagree, or when an iTIP rule is broken: one UID, METHOD
/// equal to the MIME `method`, STATUS:CANCELLED on a CANCEL, ORGANIZER the
/// From address, the To address an ATTENDEE with RSVP=TRUE exactly when
/// `rsvp` (a reply is expected).
pub fn calendar_of(raw: &str, rsvp: bool) -> Option<CalendarMail> {
    let msg = MessageParser::default()
        .parse(raw.as_bytes())
        .expect("the mail parses");
    let mut inline: Vec<(String, String)> = Vec::new();
    let mut files: Vec<String> = Vec::new();
    for part in &msg.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let subtype = ct.subtype().unwrap_or_default().to_ascii_lowercase();
        let ctype = ct.ctype().to_ascii_lowercase();
        let named_ics = part
            .attachment_name()
            .is_some_and(|n| n.to_ascii_lowercase().ends_with(".ics"));
        if ctype == "text" && subtype == "calendar" && !named_ics {
            let method = ct
                .attribute("method")
                .expect("a text/calendar part has a method parameter (RFC 6047 2.4)")
                .to_owned();
            let text = part.text_contents().expect("calendar text").to_owned();
            inline.push((method, text));
        } else if named_ics || (ctype == "application" && subtype == "ics") {
            files.push(String::from_utf8(part.contents().to_vec()).expect("UTF-8 .ics"));
        }
    }
    if inline.is_empty() && files.is_empty() {
        return None;
    }
    assert_eq!(inline.len(), 1, "one text/calendar part expected");
    assert_eq!(files.len(), 1, "one .ics attachment expected");
    let (mime_method, ics) = inline.remove(0);
    assert_eq!(
        ics.replace("\r\n", "\n"),
        files[0].replace("\r\n", "\n"),
        "the .ics attachment differs from the text/calendar part"
    );
    assert!(
        ics.contains("BEGIN:VTIMEZONE") && ics.contains("TZID:Europe/Berlin"),
        "no Europe/Berlin VTIMEZONE:\n{ics}"
    );
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .expect("a From address")
        .to_owned();
    let to = msg
        .to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .expect("a To address")
        .to_owned();
    let read = engines::read(&ics)
        .expect("no calendar engine could read the .ics: run scripts/install-test-deps.sh");
    engines::assert_itip(
        &read,
        &Itip {
            mime_method: &mime_method,
            from: &from,
            recipient: &to,
            rsvp,
        },
    );
    Some(CalendarMail {
        mime_method,
        ics,
        read,
    })
}

/// [`calendar_of`] for a mail that must carry a calendar part.
pub fn calendar(raw: &str, rsvp: bool) -> CalendarMail {
    calendar_of(raw, rsvp).unwrap_or_else(|| {
        panic!(
            "no calendar part in the mail '{}'",
            crate::helpers::subject(raw)
        )
    })
}
