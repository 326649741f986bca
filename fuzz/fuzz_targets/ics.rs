//! `calendar::ics::calendar` with arbitrary text in every field a programme
//! file or a questionnaire can fill: the output must stay well-formed (CRLF
//! lines of at most 75 octets, no property created by the input).
#![no_main]

use chrono::{Duration, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use postbote::calendar::ics::{self, Event, Method, Person, Status};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(5, '\u{1}');
    let mut next = || parts.next().unwrap_or("").to_string();
    let (summary, description, location, name, minutes) = (next(), next(), next(), next(), next());
    let offset = i64::from(minutes.bytes().fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b))) % 600_000);
    let Some(start) = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single() else {
        return;
    };
    let start = (start + Duration::minutes(offset)).with_timezone(&chrono_tz::Europe::Berlin);
    let event = Event {
        uid: "fuzz@ews.test".into(),
        sequence: 1,
        start,
        end: start + Duration::minutes(90),
        summary,
        description,
        location: Some(location),
        url: None,
        organizer: Person { name: Some(name.clone()), email: "projekt@ews.test".into() },
        attendees: vec![Person { name: Some(name), email: "a@stadt.test".into() }],
        status: Status::Confirmed,
        more: vec![],
        rsvp: true,
    };
    let Ok(out) = ics::calendar(Method::Request, &event, Utc::now()) else {
        return;
    };
    assert!(out.ends_with("\r\n"));
    let mut properties = 0;
    for line in out.split("\r\n").filter(|l| !l.is_empty()) {
        assert!(line.len() <= 75, "line over 75 octets: {line:?}");
        assert!(!line.contains(['\r', '\n']));
        if !line.starts_with(' ') && line.starts_with("DTSTART") {
            properties += 1;
        }
    }
    // One DTSTART per VEVENT and one per VTIMEZONE rule (STANDARD, DAYLIGHT).
    assert_eq!(properties, 3, "{out}");
    postbote_fuzz::show(|| out.clone());
});
