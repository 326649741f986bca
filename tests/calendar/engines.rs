//! Test helper shared by the unit tests (`src/calendar/ics.rs`) and the daemon
//! tests (`tests/daemon`), included in both with `#[path]`: reads an iCalendar
//! object with three independent engines through `tests/calendar/check_ics.py`
//! (libical with `restriction_check`, Python icalendar, ical.js), fails when
//! any engine reports an error or when they disagree on anything (METHOD,
//! UIDs, SEQUENCE, STATUS, ORGANIZER, ATTENDEEs, every occurrence's start and
//! end in UTC), and checks the iTIP rules postbote promises.
//!
//! With `POSTBOTE_REQUIRE_ICALENDAR` set (scripts/test.sh sets it, so CI
//! does) every engine is required and a missing one fails the test; without
//! it a missing engine is skipped with a loud message on stderr.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

/// The engines check_ics.py runs, by the names it reports them under.
pub const ENGINES: [&str; 3] = ["libical", "icalendar", "icaljs"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendee {
    pub address: String,
    pub rsvp: Option<String>,
    pub partstat: Option<String>,
}

/// One VEVENT as every engine read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub uid: String,
    /// The RECURRENCE-ID as a UTC instant (`2038-03-29T08:00:00Z`).
    pub recurrence_id: Option<String>,
    pub sequence: Option<i64>,
    pub status: Option<String>,
    pub organizer: Option<String>,
    pub attendees: Vec<Attendee>,
}

/// One occurrence, start and end as UTC instants (`2037-10-07T07:00:00Z`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Occurrence {
    pub start: String,
    pub end: String,
}

/// What all engines agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// The engines that read it, e.g. `["icalendar", "icaljs", "libical"]`.
    pub engines: Vec<String>,
    pub method: Option<String>,
    pub uids: Vec<String>,
    pub components: Vec<Component>,
    /// Every occurrence of every series, by start.
    pub occurrences: Vec<Occurrence>,
}

impl Read {
    /// The start instants only.
    pub fn starts(&self) -> Vec<&str> {
        self.occurrences.iter().map(|o| o.start.as_str()).collect()
    }

    /// The one SEQUENCE of the object (every component carries the same).
    pub fn sequence(&self) -> i64 {
        let seqs: Vec<Option<i64>> = self.components.iter().map(|c| c.sequence).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] == w[1]),
            "components differ in SEQUENCE: {seqs:?}"
        );
        seqs.first().copied().flatten().expect("a SEQUENCE")
    }
}

fn required() -> bool {
    std::env::var_os("POSTBOTE_REQUIRE_ICALENDAR").is_some()
}

fn string(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

fn component(v: &Value) -> Component {
    Component {
        uid: string(&v["uid"]).unwrap_or_default(),
        recurrence_id: string(&v["recurrence_id"]),
        sequence: v["sequence"].as_i64(),
        status: string(&v["status"]),
        organizer: string(&v["organizer"]),
        attendees: v["attendees"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|a| Attendee {
                        address: string(&a["address"]).unwrap_or_default(),
                        rsvp: string(&a["rsvp"]),
                        partstat: string(&a["partstat"]),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn read_one(name: &str, v: &Value) -> Read {
    let mut components: Vec<Component> = v["components"]
        .as_array()
        .map(|c| c.iter().map(component).collect())
        .unwrap_or_default();
    components.sort_by(|a, b| a.recurrence_id.cmp(&b.recurrence_id));
    let mut occurrences: Vec<Occurrence> = v["occurrences"]
        .as_array()
        .map(|o| {
            o.iter()
                .map(|o| Occurrence {
                    start: string(&o["start"]).unwrap_or_default(),
                    end: string(&o["end"]).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    occurrences.sort();
    Read {
        engines: vec![name.to_owned()],
        method: string(&v["method"]),
        uids: v["uids"]
            .as_array()
            .map(|u| u.iter().filter_map(string).collect())
            .unwrap_or_default(),
        components,
        occurrences,
    }
}

/// Reads `ics` with every engine and returns what they all agree on.
///
/// Panics when an engine reports an error (a parse error, an X-LIC-ERROR
/// after libical's `restriction_check`), when the engines disagree, or when
/// an engine is missing and `POSTBOTE_REQUIRE_ICALENDAR` is set. Returns
/// None (after saying so on stderr) only when no engine could run and none
/// is required.
pub fn read(ics: &str) -> Option<Read> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("check.ics");
    std::fs::write(&path, ics).expect("write .ics");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/calendar/check_ics.py");
    let out = match Command::new("python3").arg(script).arg(&path).output() {
        Ok(out) => out,
        Err(e) => {
            assert!(
                !required(),
                "python3 cannot run ({e}); POSTBOTE_REQUIRE_ICALENDAR is set, run scripts/install-test-deps.sh"
            );
            eprintln!("!!! SKIPPING the calendar engine check: python3 cannot run: {e}");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "check_ics.py failed: {}\n{ics}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON from check_ics.py");
    let missing: BTreeMap<String, String> = json["missing"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    if !missing.is_empty() {
        assert!(
            !required(),
            "calendar engines missing while POSTBOTE_REQUIRE_ICALENDAR is set \
             (run scripts/install-test-deps.sh): {missing:?}"
        );
        eprintln!(
            "!!! SKIPPING calendar engines {:?} (set POSTBOTE_REQUIRE_ICALENDAR=1 to fail instead): {missing:?}",
            missing.keys().collect::<Vec<_>>()
        );
    }
    let mut agreed: Option<(String, Read)> = None;
    for name in ENGINES {
        let Some(result) = json["engines"].get(name) else {
            continue;
        };
        let errors = result["errors"].as_array().cloned().unwrap_or_default();
        assert!(
            errors.is_empty(),
            "{} reports errors: {errors:#?}\n{ics}",
            result["engine"]
        );
        let this = read_one(name, result);
        assert!(
            !this.occurrences.is_empty(),
            "{name} found no occurrence\n{ics}"
        );
        match &mut agreed {
            None => agreed = Some((name.to_owned(), this)),
            Some((first, read)) => {
                let theirs = Read {
                    engines: read.engines.clone(),
                    ..this
                };
                assert_eq!(
                    *read, theirs,
                    "{first} (left) and {name} (right) read the .ics differently\n{ics}"
                );
                read.engines.push(name.to_owned());
            }
        }
    }
    match agreed {
        Some((_, read)) => Some(read),
        None => {
            eprintln!("!!! SKIPPING the calendar engine check: no engine could run");
            None
        }
    }
}

/// What a calendar mail promises its recipient.
#[derive(Debug, Clone)]
pub struct Itip<'a> {
    /// The `method` parameter of the MIME `text/calendar` part.
    pub mime_method: &'a str,
    /// The From address of the mail.
    pub from: &'a str,
    /// The address the mail was sent to.
    pub recipient: &'a str,
    /// Whether a reply is expected (RSVP=TRUE) or not (RSVP absent or FALSE).
    pub rsvp: bool,
}

fn mailto(address: &str) -> String {
    format!("mailto:{}", address.to_ascii_lowercase())
}

/// The iTIP rules (RFC 5546, RFC 6047) every calendar mail of postbote keeps:
/// exactly one UID; METHOD equal to the MIME `method`; STATUS:CANCELLED in
/// every component of a CANCEL; the recipient an ATTENDEE of every component
/// with RSVP as promised; ORGANIZER equal to the From address; one SEQUENCE.
pub fn assert_itip(read: &Read, expect: &Itip<'_>) {
    assert_eq!(read.uids.len(), 1, "not exactly one UID: {:?}", read.uids);
    assert_eq!(
        read.method.as_deref().map(str::to_ascii_uppercase),
        Some(expect.mime_method.to_ascii_uppercase()),
        "METHOD differs from the MIME method parameter"
    );
    let _ = read.sequence();
    for c in &read.components {
        if expect.mime_method.eq_ignore_ascii_case("CANCEL") {
            assert_eq!(c.status.as_deref(), Some("CANCELLED"), "{c:?}");
        }
        assert_eq!(
            c.organizer.as_deref().map(str::to_ascii_lowercase),
            Some(mailto(expect.from)),
            "ORGANIZER is not the From address: {c:?}"
        );
        let me: Vec<&Attendee> = c
            .attendees
            .iter()
            .filter(|a| a.address.to_ascii_lowercase() == mailto(expect.recipient))
            .collect();
        assert_eq!(
            me.len(),
            1,
            "{} is not one ATTENDEE: {c:?}",
            expect.recipient
        );
        let rsvp = me[0].rsvp.as_deref().map(str::to_ascii_uppercase);
        if expect.rsvp {
            assert_eq!(rsvp.as_deref(), Some("TRUE"), "RSVP=TRUE expected: {c:?}");
        } else {
            assert!(
                rsvp.is_none() || rsvp.as_deref() == Some("FALSE"),
                "no reply expected, but RSVP is {rsvp:?}: {c:?}"
            );
        }
    }
}
