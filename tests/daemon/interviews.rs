//! Part 3 end to end: applications → plan → release → invitations with an
//! .ics that Python's icalendar reads back; a move (SEQUENCE raised), a
//! cancellation, a reply brought to staff.

use crate::fixtures::{filled_pdf_fields, mail, pdf_letter};
use crate::helpers::{STAFF, TestApp, header, spawn_app, subject, text, wait_subject};
use chrono::NaiveDate;
use std::io::Write;

/// The interview days of the running programme.
pub fn days(app: &TestApp) -> Vec<NaiveDate> {
    app.config()
        .programme
        .interview_days
        .iter()
        .map(|d| d.slot.start.date_naive())
        .collect()
}

/// A complete application whose questionnaire ticks `ticked` and names people.
pub async fn apply(
    app: &TestApp,
    from: &str,
    kommune: &str,
    ticked: &[NaiveDate],
    people: &[(&str, &str)],
) {
    let mut fields = vec![("kommune_name", kommune)];
    fields.extend_from_slice(people);
    let form = filled_pdf_fields(&app.config().programme, ticked, &fields, "Ja");
    let letter = pdf_letter(&format!("Motivationsschreiben {kommune}"), 1);
    let raw = mail(
        from,
        &format!("apply-{from}"),
        "Bewerbung EWS 7",
        "Anbei unsere Unterlagen.",
        &[
            ("Fragebogen.pdf", "application/pdf", form),
            ("Motivationsschreiben.pdf", "application/pdf", letter),
        ],
    );
    app.deliver(from, &raw).await;
    app.wait_for_mail(from, 1).await;
}

/// What Python's icalendar reads from the calendar part of a mail.
pub fn read_ics(raw: &str) -> serde_json::Value {
    let msg = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .expect("mail parses");
    let ics = msg
        .parts
        .iter()
        .find(|p| {
            use mail_parser::MimeHeaders;
            p.content_type()
                .is_some_and(|c| c.subtype() == Some("calendar"))
        })
        .and_then(|p| p.text_contents())
        .expect("a text/calendar part")
        .to_string();
    let script = r#"
import sys, json, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.read())
ev = [c for c in cal.walk() if c.name == "VEVENT"][0]
att = ev.get("attendee")
att = att if isinstance(att, list) else [att]
print(json.dumps({
  "method": str(cal.get("method")),
  "uid": str(ev.get("uid")),
  "sequence": int(ev.get("sequence")),
  "start": ev.decoded("dtstart").isoformat(),
  "end": ev.decoded("dtend").isoformat(),
  "status": str(ev.get("status")),
  "organizer": str(ev.get("organizer")),
  "attendees": [str(a) for a in att if a is not None],
  "timezones": [str(c.get("tzid")) for c in cal.walk() if c.name == "VTIMEZONE"],
}))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/install-test-deps.sh installs it with icalendar)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(ics.as_bytes())
        .expect("write ics");
    let out = child.wait_with_output().expect("python3 finishes");
    assert!(
        out.status.success(),
        "icalendar could not read the .ics: {}\n{ics}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json from python")
}

fn ok(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}: {text}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_release_move_cancel_and_a_reply_reach_the_right_people() {
    // Arrange: three complete applications; A ticks day 1 and names a person
    // and a supervisor, B ticks days 1 and 2, C ticks nothing.
    let app = spawn_app().await;
    let d = days(&app);
    let (a, b, c) = (
        "rathaus@stadt-a.test",
        "info@gemeinde-b.test",
        "post@kreis-c.test",
    );
    let (person, chefin) = ("erika@stadt-a.test", "chefin@stadt-a.test");
    apply(
        &app,
        a,
        "Stadt A",
        &[d[0]],
        &[
            ("person_name", "Erika Muster"),
            ("person_email", person),
            ("vorgesetzte_name", "Dr. Chefin"),
            ("vorgesetzte_email", chefin),
        ],
    )
    .await;
    apply(&app, b, "Gemeinde B", &[d[0], d[1]], &[]).await;
    apply(&app, c, "Kreis C", &[], &[]).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications WHERE complete = 1")
            .await,
        3
    );

    // Act 1: the plan shows slots and sends nothing.
    let plan: serde_json::Value =
        serde_json::from_str(&ok(&app.cli(&["interviews", "plan", "--json"]))).unwrap();
    // Assert 1
    let assigned = plan["plan"]["assigned"].as_array().unwrap();
    assert_eq!(assigned.len(), 2, "{plan:#}");
    assert_eq!(assigned[0]["reference"], "EWS7-0001");
    assert_eq!(
        assigned[0]["slot"]["start"],
        format!("{}T09:00:00+02:00", d[0]),
        "the most constrained applicant gets the first slot of its only day"
    );
    assert_eq!(
        assigned[1]["slot"]["start"],
        format!("{}T09:00:00+02:00", d[1]),
        "B goes to the emptier of its two days"
    );
    assert_eq!(plan["plan"]["unplaced"][0]["reference"], "EWS7-0003");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE purpose LIKE 'interview%'")
            .await,
        0
    );

    // Act 2: release.
    ok(&app.cli(&["interviews", "release"]));
    // Assert 2: the person and the supervisor each get an invitation with an .ics.
    let invitation = app.wait_for_mail(person, 1).await.remove(0);
    let chefin_mail = app.wait_for_mail(chefin, 1).await.remove(0);
    assert!(subject(&invitation).starts_with("Einladung zum Kennenlerngespräch"));
    assert!(invitation.contains("Auto-Submitted: auto-generated"));
    assert!(text(&chefin_mail).contains("Dr. Chefin"));
    let ics = read_ics(&invitation);
    assert_eq!(ics["method"], "REQUEST");
    assert_eq!(ics["sequence"], 0);
    assert_eq!(ics["start"], format!("{}T09:00:00+02:00", d[0]));
    assert_eq!(ics["end"], format!("{}T09:20:00+02:00", d[0]));
    assert_eq!(ics["organizer"], "mailto:projekt@ews.test");
    assert_eq!(ics["timezones"][0], "Europe/Berlin");
    let attendees = ics["attendees"].as_array().unwrap();
    assert!(attendees.contains(&serde_json::json!(format!("mailto:{person}"))));
    assert!(attendees.contains(&serde_json::json!(format!("mailto:{chefin}"))));
    let uid = ics["uid"].clone();
    // B (no people named) is invited at its own address; C is asked for times.
    let b_mails = app.wait_for_mail(b, 2).await;
    assert!(b_mails.iter().any(|m| subject(m).starts_with("Einladung")));
    let c_mails = app.wait_for_mail(c, 2).await;
    assert!(
        c_mails
            .iter()
            .any(|m| subject(m).contains("mögliche Termine"))
    );
    wait_subject(&app, STAFF, "ohne Gesprächstermin").await;

    // Act 3: move A to 10:00, cancel B, release again.
    ok(&app.cli(&[
        "interviews",
        "move",
        "EWS7-0001",
        &d[0].format("%d.%m.%Y").to_string(),
        "10:00",
    ]));
    // The cancellation comes from staff by mail (DKIM pass reported by the
    // trusted receiving server).
    let command = format!(
        "From: Leitung <{STAFF}>\r\nTo: projekt@ews.test\r\nSubject: Befehl\r\n\
         Message-ID: <storno-1@leitung.example>\r\n\
         Authentication-Results: mx.ews.test; dkim=pass header.d=ews.test\r\n\r\n\
         STORNIEREN EWS7-0002\r\n"
    );
    app.deliver(STAFF, &command).await;
    let reply = text(&wait_subject(&app, STAFF, "Ergebnis Ihres Befehls").await);
    assert!(reply.contains("EWS7-0002: Gespräch abgesagt"), "{reply}");
    ok(&app.cli(&["interviews", "release"]));
    // Assert 3: same UID, SEQUENCE 1, new time; B gets a CANCEL.
    let moved = app.wait_for_mail(person, 2).await;
    let update = moved
        .iter()
        .find(|m| subject(m).starts_with("Neuer Termin"))
        .expect("an update");
    let ics = read_ics(update);
    assert_eq!(ics["uid"], uid);
    assert_eq!(ics["sequence"], 1);
    assert_eq!(ics["start"], format!("{}T10:00:00+02:00", d[0]));
    let b_mails = app.wait_for_mail(b, 3).await;
    let cancel = b_mails
        .iter()
        .find(|m| subject(m).starts_with("Abgesagt"))
        .expect("a cancellation");
    let ics = read_ics(cancel);
    assert_eq!(ics["method"], "CANCEL");
    assert_eq!(ics["status"], "CANCELLED");
    assert_eq!(ics["sequence"], 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE purpose = 'interview_invitation'")
            .await,
        3,
        "a second release sends nothing twice"
    );

    // Act 4: the person replies "passt leider nicht" in the thread.
    let parent = header(update, "Message-ID").expect("message id");
    let reply = format!(
        "From: Erika Muster <{person}>\r\nTo: projekt@ews.test\r\nSubject: AW: {}\r\n\
         Message-ID: <reply-1@stadt-a.test>\r\nIn-Reply-To: {parent}\r\nReferences: {parent}\r\n\r\n\
         Der Termin passt leider nicht, geht auch der Nachmittag?\r\n",
        subject(update)
    );
    app.deliver(person, &reply).await;
    // Assert 4: staff get it at once; the person gets no automatic answer.
    let notice = wait_subject(&app, STAFF, "Antwort auf eine Einladung").await;
    assert!(text(&notice).contains("passt leider nicht"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM messages WHERE class = 'reply'")
            .await,
        1
    );
    assert_eq!(app.mails_in(person, "INBOX").await.len(), 2);
}
