//! Part 9: taking over a running cohort. The shipped EWS 7 calendar on
//! 2026-12-01 (modules 1 and 2 and learning groups 1 and 2 are over,
//! learning group 3 is on 13.01.2027, the 2027 Aufbau events are tentative):
//! a 15-municipality roster imported by staff mail (`TEILNEHMER IMPORT`, the
//! CSV attached; a broken one first, which imports nothing), then the
//! welcome (`TERMINÜBERSICHT SENDEN`): one mail per participant with the
//! remaining events and the .ics of learning group 3, read by the calendar
//! engines; again, by mail and CLI, sends nothing. Then the reminders for
//! 13.01.2027 follow, one per person and offset, without a second calendar
//! entry and without an announcement.

use crate::calendar_mail::{berlin_utc, calendar_of};
use crate::engines::{self, Itip};
use crate::fixtures::mail;
use crate::helpers::{
    Deadline, PROJECT, STAFF, TestApp, spawn_app_with_clock, subject, text, wait_subjects,
};
use chrono::{DateTime, NaiveDate, Utc};
use mail_parser::{MessageParser, MimeHeaders};

/// At least 20 characters (part 8 refuses shorter secrets).
const SECRET: &str = "geheim-4711-lang-genug-fuer-teil-9";
const MUNICIPALITIES: usize = 15;
const RESULT: &str = "Ergebnis Ihres Befehls";

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn participant(i: usize) -> String {
    format!("tn{i:02}@kommune-{i:02}.test")
}

fn supervisor(i: usize) -> String {
    format!("leitung{i:02}@kommune-{i:02}.test")
}

/// The roster as German Excel writes it: one participant per municipality,
/// and two supervisors (who are on the roster but get no reminders).
fn roster() -> String {
    let mut csv = String::from("Kommune;Name;E-Mail;Rolle\r\n");
    for i in 1..=MUNICIPALITIES {
        csv.push_str(&format!(
            "Gemeinde Nr. {i:02};Person Müller {i:02};{};Teilnehmende\r\n",
            participant(i)
        ));
    }
    for i in 1..=2 {
        csv.push_str(&format!(
            "Gemeinde Nr. {i:02};Chefin {i:02};{};Vorgesetzte\r\n",
            supervisor(i)
        ));
    }
    csv
}

/// A fresh, secret-authenticated command mail from staff with attachments.
async fn command(app: &TestApp, id: &str, body: &str, files: &[(&str, &str, Vec<u8>)]) {
    let raw = mail(
        STAFF,
        &format!("{id}@leitung.example"),
        "Befehl",
        &format!("{body}\r\nKennwort: {SECRET}"),
        files,
    );
    let date = format!("\r\nDate: {}\r\nTo: ", Utc::now().to_rfc2822());
    app.deliver(STAFF, &raw.replacen("\r\nTo: ", &date, 1))
        .await;
}

/// The `n`th command reply to staff (1-based), as text: the INBOX is in
/// arrival order.
async fn reply(app: &TestApp, n: usize) -> String {
    let replies = wait_subjects(app, STAFF, RESULT, n).await;
    assert_eq!(replies.len(), n, "more command replies than commands");
    text(&replies[n - 1])
}

/// The .ics attachments of a mail: (file name, content type, text).
fn ics_files(raw: &str) -> Vec<(String, String, String)> {
    let msg = MessageParser::default().parse(raw.as_bytes()).unwrap();
    msg.attachments()
        .filter(|p| {
            p.attachment_name()
                .is_some_and(|n| n.to_ascii_lowercase().ends_with(".ics"))
        })
        .map(|p| {
            let ct = p.content_type().unwrap();
            let ctype = format!(
                "{}/{}; method={}",
                ct.ctype(),
                ct.subtype().unwrap_or_default(),
                ct.attribute("method").unwrap_or_default()
            );
            (
                p.attachment_name().unwrap().to_owned(),
                ctype.to_ascii_lowercase(),
                String::from_utf8(p.contents().to_vec()).unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cohort_taken_over_in_december_gets_one_welcome_then_the_usual_reminders() {
    let app = spawn_app_with_clock(
        Deadline::Past,
        &[("POSTBOTE_STAFF__COMMAND_SECRET", SECRET)],
        utc("2026-12-01T08:00:00Z"),
    )
    .await;
    // The shipped file as this test expects it.
    let evs = postbote::calendar::events::all(&app.programme());
    let lg3 = evs.iter().find(|e| e.key == "learning-group-3").unwrap();
    assert_eq!(lg3.start(), utc("2027-01-13T08:00:00Z"));
    assert_eq!(
        lg3.status,
        postbote::config::programme::EventStatus::Confirmed
    );
    let tentative: Vec<&str> = evs
        .iter()
        .filter(|e| e.status == postbote::config::programme::EventStatus::Tentative)
        .map(|e| e.title.as_str())
        .collect();
    assert_eq!(tentative.len(), 5, "{tentative:?}");
    assert!(
        evs.iter()
            .filter(|e| e.start() >= utc("2027-01-14T00:00:00Z"))
            .all(|e| e.status == postbote::config::programme::EventStatus::Tentative)
    );

    // A broken roster: every bad line is named, nothing is imported.
    let bad = "Kommune;Name;E-Mail\r\nStadt A;Anna;anna@stadt-a.test\r\nStadt B;Bert;kein-at\r\n\
               Stadt C;;c@stadt-c.test\r\n";
    command(
        &app,
        "import-bad",
        "TEILNEHMER IMPORT",
        &[("liste.csv", "text/csv", bad.as_bytes().to_vec())],
    )
    .await;
    let answer = reply(&app, 1).await;
    assert!(answer.contains("nicht importiert"), "{answer}");
    assert!(
        answer.contains("Zeile 3") && answer.contains("Zeile 4"),
        "{answer}"
    );
    assert!(!answer.contains("Zeile 2"), "{answer}");
    // The reasons in German, as staff read them.
    assert!(
        answer.contains("Keine gültige E-Mail-Adresse: „kein-at“")
            && answer.contains("Name fehlt."),
        "{answer}"
    );
    assert!(!answer.contains("not a valid"), "{answer}");
    assert_eq!(app.count("SELECT COUNT(*) FROM participants").await, 0);

    // The roster, as Excel exports it (Windows-1252 would do as well).
    command(
        &app,
        "import-good",
        "TEILNEHMER IMPORT EWS7",
        &[(
            "Teilnehmende EWS7.csv",
            "application/vnd.ms-excel",
            roster().into_bytes(),
        )],
    )
    .await;
    let answer = reply(&app, 2).await;
    assert!(
        answer.contains("importiert: 17 Person(en)"),
        "the import reply: {answer}"
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM participants WHERE programme = 'EWS7' AND source = 'import'"
        )
        .await,
        17
    );

    // The welcome.
    command(&app, "welcome-1", "TERMINÜBERSICHT SENDEN", &[]).await;
    let answer = reply(&app, 3).await;
    assert!(
        answer.contains(&format!("an {MUNICIPALITIES} Person(en) gesendet")),
        "{answer}"
    );
    let lg3_start = berlin_utc(NaiveDate::from_ymd_opt(2027, 1, 13).unwrap(), 9, 0);
    let mut uids = Vec::new();
    for i in 1..=MUNICIPALITIES {
        let to = participant(i);
        let mails = app.wait_for_mail(&to, 1).await;
        let welcome = &mails[0];
        assert_eq!(subject(welcome), "Ihre Termine der EWS 7 im Überblick");
        let body = text(welcome);
        assert!(
            body.contains(&format!("Guten Tag Person Müller {i:02},")),
            "{body}"
        );
        // Past events are not in it.
        for past in [
            "1. Präsenzmodul",
            "2. Präsenzmodul",
            "1. Treffen digitale Lerngruppe",
            "2. Treffen digitale Lerngruppe",
        ] {
            assert!(!body.contains(past), "{past} is over:\n{body}");
        }
        assert!(body.contains("3. Treffen digitale Lerngruppe"), "{body}");
        assert!(
            !body.contains("3. Treffen digitale Lerngruppe – unter Vorbehalt"),
            "{body}"
        );
        assert!(body.contains("Mi., 13.01.2027, 09:00–10:30 Uhr"), "{body}");
        assert!(body.contains("Kalendereintrag: lerngruppe-3.ics"), "{body}");
        for t in &tentative {
            assert!(
                body.contains(&format!("{t} – unter Vorbehalt")),
                "{t} is tentative:\n{body}"
            );
        }
        assert!(body.contains("Do., 28.01.2027, 10:00–16:00 Uhr"), "{body}");
        assert!(body.contains("Sie"), "{body}");
        // One .ics, learning group 3 only: tentative events get none.
        let files = ics_files(welcome);
        assert_eq!(files.len(), 1, "{files:?}");
        let (name, ctype, ics) = &files[0];
        assert_eq!(name, "lerngruppe-3.ics");
        assert_eq!(ctype, "text/calendar; method=request");
        let read = engines::read(ics).expect("no calendar engine could read the .ics");
        assert!(
            read.engines.len() >= 2,
            "read by {:?} only: run scripts/install-test-deps.sh",
            read.engines
        );
        engines::assert_itip(
            &read,
            &Itip {
                mime_method: "REQUEST",
                from: PROJECT,
                recipient: &to,
                rsvp: false,
            },
        );
        assert_eq!(read.starts(), vec![lg3_start.as_str()]);
        assert_eq!(read.sequence(), 0);
        uids.push(read.uids[0].clone());
    }
    // The same UID for everyone: the one the scheduler stored for the event.
    let stored: String = {
        let store = app.store().await;
        let uid = sqlx::query_scalar(
            "SELECT uid FROM programme_events WHERE programme = 'EWS7' AND key = 'learning-group-3'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        store.close().await;
        uid
    };
    assert!(uids.iter().all(|u| *u == stored), "{uids:?} vs {stored}");
    // Supervisors get no welcome; nobody gets a reminder of a past event,
    // and staff hear nothing of reminders "missed" before the takeover.
    for i in 1..=2 {
        assert!(app.mails_in(&supervisor(i), "INBOX").await.is_empty());
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE purpose = 'event_reminder'")
            .await,
        0
    );
    let staff = app.mails_in(STAFF, "INBOX").await;
    assert!(
        staff
            .iter()
            .all(|m| !subject(m).contains("nicht rechtzeitig")),
        "{:?}",
        staff.iter().map(|m| subject(m)).collect::<Vec<_>>()
    );

    // Again, by mail and by CLI: nothing new.
    command(&app, "welcome-2", "TERMINÜBERSICHT SENDEN EWS7", &[]).await;
    let answer = reply(&app, 4).await;
    assert!(
        answer.contains(&format!(
            "nichts Neues gesendet ({MUNICIPALITIES} Person(en) hatten sie schon)"
        )),
        "{answer}"
    );
    let out = app.cli(&["participants", "welcome", "--programme", "EWS7"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = app.cli(&["participants", "welcome", "--programme", "EWS9"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE purpose = 'participant_welcome'")
            .await,
        MUNICIPALITIES as i64
    );

    // Two days before learning group 3 (09:00 Berlin = 08:00 UTC): one
    // reminder each, without a second calendar entry, and no announcement.
    app.tick_at(utc("2027-01-11T08:05:00Z")).await;
    for i in 1..=MUNICIPALITIES {
        let mails = app.wait_for_mail(&participant(i), 2).await;
        assert_eq!(mails.len(), 2);
        let reminder = &mails[1];
        assert!(
            subject(reminder).contains("3. Treffen digitale Lerngruppe"),
            "{}",
            subject(reminder)
        );
        assert!(
            calendar_of(reminder, false).is_none(),
            "the welcome brought the entry already"
        );
    }
    // One hour before: the second reminder.
    app.tick_at(utc("2027-01-13T07:05:00Z")).await;
    for i in 1..=MUNICIPALITIES {
        let mails = app.wait_for_mail(&participant(i), 3).await;
        assert_eq!(mails.len(), 3);
        assert!(subject(&mails[2]).contains("3. Treffen digitale Lerngruppe"));
    }
    for (purpose, want) in [
        ("event_reminder", 2 * MUNICIPALITIES as i64),
        ("event_announcement", 0),
        ("event_update", 0),
        ("participant_welcome", MUNICIPALITIES as i64),
    ] {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM outbox WHERE purpose = '{purpose}'"
            ))
            .await,
            want,
            "{purpose}"
        );
    }
    for i in 1..=2 {
        assert!(app.mails_in(&supervisor(i), "INBOX").await.is_empty());
    }
}
