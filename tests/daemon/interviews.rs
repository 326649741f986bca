//! Part 3 end to end: applications → plan → release → invitations with an
//! .ics that libical, Python icalendar and ical.js read alike; a move
//! (SEQUENCE raised), a cancellation, a reply brought to staff.

use crate::calendar_mail::{berlin_utc, calendar, calendar_of};
use crate::fixtures::{filled_pdf_fields, mail, pdf_letter};
use crate::helpers::{STAFF, TestApp, header, spawn_app, subject, text, wait_subject};
use chrono::NaiveDate;

/// The interview days of the running programme.
pub fn days(app: &TestApp) -> Vec<NaiveDate> {
    app.programme()
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
    let form = filled_pdf_fields(&app.programme(), ticked, &fields, "Ja");
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
    // Three engines agree; one UID, METHOD = MIME method, ORGANIZER = From,
    // each recipient an ATTENDEE with RSVP=TRUE (calendar_mail checks that).
    let ics = calendar(&invitation, true);
    assert_eq!(ics.method(), "REQUEST");
    assert_eq!(ics.mime_method, "REQUEST");
    assert_eq!(ics.sequence(), 0);
    assert_eq!(ics.starts(), [berlin_utc(d[0], 9, 0)]);
    assert_eq!(ics.read.occurrences[0].end, berlin_utc(d[0], 9, 20));
    assert_eq!(
        ics.master().organizer.as_deref(),
        Some("mailto:projekt@ews.test")
    );
    let attendees: Vec<&str> = ics
        .master()
        .attendees
        .iter()
        .map(|a| a.address.as_str())
        .collect();
    assert!(attendees.contains(&format!("mailto:{person}").as_str()));
    assert!(attendees.contains(&format!("mailto:{chefin}").as_str()));
    let uid = ics.uid().to_owned();
    // The supervisor's copy is the same object, RSVP=TRUE for her too.
    assert_eq!(calendar(&chefin_mail, true).uid(), uid);
    // B (no people named) is invited at its own address; C is asked for times.
    let b_mails = app.wait_for_mail(b, 2).await;
    let b_invitation = b_mails
        .iter()
        .find(|m| subject(m).starts_with("Einladung"))
        .expect("B's invitation");
    assert_ne!(
        calendar(b_invitation, true).uid(),
        uid,
        "one UID per interview"
    );
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
    let date = crate::helpers::date_now();
    let command = format!(
        "Authentication-Results: mx.ews.test; dkim=pass header.d=ews.test\r\n\
         From: Leitung <{STAFF}>\r\nTo: projekt@ews.test\r\nSubject: Befehl\r\n\
         Message-ID: <storno-1@leitung.example>\r\n{date}\r\n\
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
    let ics = calendar(update, true);
    assert_eq!(ics.method(), "REQUEST");
    assert_eq!(ics.uid(), uid);
    assert_eq!(ics.sequence(), 1);
    assert_eq!(ics.starts(), [berlin_utc(d[0], 10, 0)]);
    let b_mails = app.wait_for_mail(b, 3).await;
    let cancel = b_mails
        .iter()
        .find(|m| subject(m).starts_with("Abgesagt"))
        .expect("a cancellation");
    let ics = calendar(cancel, false);
    assert_eq!(ics.method(), "CANCEL");
    assert_eq!(ics.status(), Some("CANCELLED"));
    assert_eq!(ics.sequence(), 1);
    assert_eq!(ics.starts(), [berlin_utc(d[1], 9, 0)]);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE purpose = 'interview_invitation'")
            .await,
        3,
        "a second release sends nothing twice"
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM outbox WHERE purpose LIKE 'interview_%' \
             AND purpose <> 'interview_no_slot' AND expires_at IS NULL"
        )
        .await,
        0,
        "interview mails expire when their interview begins"
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

    // Every calendar part any invitee received, read by three engines: the
    // invitations and moves ask for an answer (RSVP=TRUE), cancellations not.
    let mut checked = 0;
    for who in [person, chefin, b, c] {
        for m in app.mails_in(who, "INBOX").await {
            let rsvp = !subject(&m).starts_with("Abgesagt");
            if calendar_of(&m, rsvp).is_some() {
                checked += 1;
            }
        }
    }
    assert_eq!(
        checked, 6,
        "invitation and move to two, invitation and cancellation to B"
    );
}
