//! Part 4: a whole programme year in fast-forward on a hand-set scheduler
//! clock, against the real servers: every reminder arrives once, in time, in
//! the participant's mailbox, with the right local times on both sides of the
//! October DST change; a restart mid-year (confirming a tentative module,
//! cancelling a learning group, moving another); downtime and catch-up.

use crate::helpers::{Deadline, STAFF, TestApp, spawn_app_with_clock, subject, text, wait_subject};
use crate::interviews::read_ics;
use chrono::{DateTime, Duration, Utc};
use postbote::calendar::{events, timeline};
use std::collections::BTreeSet;

const P1: &str = "erika@stadt-a.test";
const P2: &str = "jonas@gemeinde-b.test";
const BOSS: &str = "chefin@stadt-a.test";

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Every reminder due time (+7 minutes, as a once-a-minute daemon would be
/// a little late) and one tick a day, within (from, until].
fn ticks(app: &TestApp, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let config = app.config();
    // Tentative events too: staff may confirm one by mail (extra ticks are
    // harmless, the scheduler decides what is due).
    let mut evs = events::all(&config.programme);
    for e in &mut evs {
        e.status = postbote::config::programme::EventStatus::Confirmed;
    }
    let people = vec![P1.to_string()];
    let mut set: BTreeSet<DateTime<Utc>> =
        timeline::reminders(&evs, &config.settings.reminders, &people)
            .into_iter()
            .map(|d| d.due + Duration::minutes(7))
            .collect();
    let mut t = from;
    while t < until {
        t += Duration::days(1);
        set.insert(t);
    }
    set.into_iter()
        .filter(|t| *t > from && *t <= until)
        .collect()
}

async fn play(app: &TestApp, from: &str, until: &str) {
    for t in ticks(app, utc(from), utc(until)) {
        app.tick_at(t).await;
    }
}

/// Rewrites the programme file (the daemon reads it at start).
fn edit_programme(app: &TestApp, edit: impl Fn(String) -> String) {
    let path = app.dir.path().join("programme.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let changed = edit(text.clone());
    assert_ne!(changed, text, "the edit changed nothing");
    std::fs::write(&path, changed).unwrap();
}

/// Replaces `from` with `to` in the block that starts at `title`.
fn in_block(text: &str, title: &str, from: &str, to: &str) -> String {
    let at = text.find(title).expect("event title");
    let end = text[at..].find("\n[[").map_or(text.len(), |e| at + e);
    format!(
        "{}{}{}",
        &text[..at],
        text[at..end].replacen(from, to, 1),
        &text[end..]
    )
}

async fn reminder_mail(app: &TestApp, user: &str, needle: &str) -> String {
    app.mails_in(user, "INBOX")
        .await
        .into_iter()
        .find(|m| subject(m).contains(needle))
        .unwrap_or_else(|| panic!("no mail '{needle}' for {user}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_programme_year_in_fast_forward_sends_every_reminder_once_and_in_time() {
    // Arrange: the EWS 7 calendar eleven years ahead (same weekdays), two
    // participants and a supervisor on the roster, the clock after the deadline.
    let mut app = spawn_app_with_clock(
        Deadline::Future,
        &[
            ("POSTBOTE_MAIL__DAILY_CAP_PER_RECIPIENT", "100"),
            ("POSTBOTE_STAFF__COMMAND_SECRET", "jahr-2038"),
        ],
        utc("2037-06-20T00:00:00Z"),
    )
    .await;
    let csv = app.dir.path().join("roster.csv");
    std::fs::write(
        &csv,
        format!(
            "Kommune;Name;E-Mail;Rolle\nStadt A;Erika Muster;{P1};Teilnehmende\n\
             Gemeinde B;Jonas Beispiel;{P2};Teilnehmende\nStadt A;Dr. Chefin;{BOSS};Vorgesetzte\n"
        ),
    )
    .unwrap();
    let out = app.cli(&["participants", "import", csv.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Act 1: June to December 2037 (modules 1 and 2, learning groups 1 and 2).
    play(&app, "2037-06-20T00:00:00Z", "2037-12-31T00:00:00Z").await;
    // Assert 1: eight reminders each, the DST change respected.
    app.wait_for_mail(P1, 8).await;
    app.wait_for_mail(P2, 8).await;
    let lg1 = reminder_mail(&app, P1, "1. Treffen digitale Lerngruppe").await;
    assert!(
        text(&lg1).contains("Mi., 07.10.2037, 09:00–10:30 Uhr"),
        "{}",
        text(&lg1)
    );
    assert_eq!(read_ics(&lg1)["start"], "2037-10-07T09:00:00+02:00");
    let lg2 = reminder_mail(&app, P1, "2. Treffen digitale Lerngruppe").await;
    assert!(
        text(&lg2).contains("Mi., 11.11.2037, 09:00–10:30 Uhr"),
        "{}",
        text(&lg2)
    );
    assert_eq!(read_ics(&lg2)["start"], "2037-11-11T09:00:00+01:00");
    for (key, due) in [
        ("learning-group-1", "2037-10-07T06:00:00.000000Z"),
        ("learning-group-2", "2037-11-11T07:00:00.000000Z"),
    ] {
        let n = app
            .count(&format!(
                "SELECT COUNT(*) FROM programme_mails WHERE event_key = '{key}' AND due_at = '{due}' AND state = 'sent'"
            ))
            .await;
        assert_eq!(
            n, 2,
            "the 1-hour reminder of {key} is due at 08:00 local time"
        );
    }

    // Act 2: restart mid-year with a changed config: module 3 and learning
    // group 5 confirmed, learning group 4 cancelled (never announced: nobody
    // to tell).
    app.stop_daemon().await;
    edit_programme(&app, |t| {
        let t = in_block(
            &t,
            "3. Präsenzmodul",
            "status = \"tentative\"",
            "status = \"confirmed\"",
        );
        let t = in_block(
            &t,
            "5. Treffen digitale Lerngruppe",
            "status = \"tentative\"",
            "status = \"confirmed\"",
        );
        in_block(
            &t,
            "4. Treffen digitale Lerngruppe",
            "status = \"tentative\"",
            "status = \"cancelled\"",
        )
    });
    app.start_daemon().await;
    play(&app, "2037-12-31T00:00:00Z", "2038-01-12T00:00:00Z").await;
    // Assert 2: the announcements of module 3 and group 5, and the 2-day
    // reminder of group 3.
    app.wait_for_mail(P1, 11).await;
    let announcement = reminder_mail(&app, P2, "Termin bestätigt: 3. Präsenzmodul").await;
    assert_eq!(read_ics(&announcement)["method"], "REQUEST");
    let lg3 = reminder_mail(&app, P1, "3. Treffen digitale Lerngruppe").await;
    let lg3_uid = read_ics(&lg3)["uid"].clone();

    // Act 3: learning group 3 moves to 10:00 and group 5 is cancelled
    // (restart), then postbote is down
    // from 12 to 20 January: the 1-hour reminder and module 3's 14-day one
    // fall into the downtime.
    app.stop_daemon().await;
    edit_programme(&app, |t| {
        let t = in_block(
            &t,
            "3. Treffen digitale Lerngruppe",
            "start = \"09:00\"",
            "start = \"10:00\"",
        );
        let t = in_block(
            &t,
            "5. Treffen digitale Lerngruppe",
            "status = \"confirmed\"",
            "status = \"cancelled\"",
        );
        in_block(
            &t,
            "3. Treffen digitale Lerngruppe",
            "end = \"10:30\"",
            "end = \"11:30\"",
        )
    });
    app.clock.as_ref().unwrap().set(utc("2038-01-12T11:00:00Z"));
    app.start_daemon().await;
    app.tick_at(utc("2038-01-12T11:00:00Z")).await;
    let mails = app.wait_for_mail(P1, 13).await;
    let update = mails
        .iter()
        .find(|m| subject(m).starts_with("Geänderter Termin"))
        .expect("an update")
        .clone();
    let cancel = mails
        .iter()
        .find(|m| subject(m).starts_with("Abgesagt: 5. Treffen"))
        .expect("a cancellation of group 5");
    let ics = read_ics(cancel);
    assert_eq!(ics["method"], "CANCEL");
    assert_eq!(ics["status"], "CANCELLED");
    assert_eq!(ics["sequence"], 1);
    let ics = read_ics(&update);
    assert_eq!(ics["uid"], lg3_uid);
    assert_eq!(ics["sequence"], 1);
    assert_eq!(ics["start"], "2038-01-13T10:00:00+01:00");
    app.stop_daemon().await;
    app.clock.as_ref().unwrap().set(utc("2038-01-20T00:00:00Z"));
    app.start_daemon().await;
    app.tick_at(utc("2038-01-20T00:00:00Z")).await;
    // Assert 3: the 14-day reminder of module 3 is caught up (still useful);
    // the 1-hour reminder of group 3 is skipped and reported to staff.
    app.wait_for_mail(P1, 14).await;
    let report = app
        .mails_in(STAFF, "INBOX")
        .await
        .into_iter()
        .find(|m| subject(m).contains("nicht rechtzeitig"))
        .expect("a report of the skipped reminders");
    assert!(
        text(&report).contains("3. Treffen digitale Lerngruppe (1 Stunde vorher)"),
        "{}",
        text(&report)
    );

    // Act 4: staff confirm learning group 6 by mail, then the rest of the year.
    let command = format!(
        "From: Leitung <{STAFF}>\r\nTo: projekt@ews.test\r\nSubject: Befehl\r\n\
         Message-ID: <confirm-lg6@leitung.example>\r\n\r\nBESTÄTIGEN LERNGRUPPE 6\r\nKennwort: jahr-2038\r\n"
    );
    app.deliver(STAFF, &command).await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM event_overrides WHERE key = 'learning-group-6'",
        1,
    )
    .await;
    app.wait_for_mail(P1, 15).await;
    let reply = text(&wait_subject(&app, STAFF, "Ergebnis Ihres Befehls").await);
    assert!(
        reply.contains("6. Treffen digitale Lerngruppe") && reply.contains("bestätigt"),
        "{reply}"
    );
    play(&app, "2038-01-20T00:00:00Z", "2038-08-31T00:00:00Z").await;
    assert!(
        app.mails_in(P2, "INBOX")
            .await
            .iter()
            .any(|m| subject(m).starts_with("Termin bestätigt: 6. Treffen")),
        "the announcement of group 6"
    );
    app.wait_for_mail(P1, 18).await;
    app.wait_for_mail(P2, 18).await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM outbox WHERE state = 'sent' AND purpose LIKE 'event%'",
        36,
    )
    .await;

    // Assert 4: once each, nothing for the supervisor, nothing for tentative
    // or cancelled events, every reminder decided after its due time and
    // before its event.
    for p in [P1, P2] {
        let inbox = app.mails_in(p, "INBOX").await;
        assert_eq!(
            inbox.len(),
            18,
            "{p}: {:?}",
            inbox.iter().map(|m| subject(m)).collect::<Vec<_>>()
        );
        assert!(!inbox.iter().any(|m| subject(m).contains("4. Präsenzmodul")));
        assert!(!inbox.iter().any(|m| subject(m).contains("4. Treffen")));
        assert_eq!(
            inbox
                .iter()
                .filter(|m| subject(m).contains("6. Treffen"))
                .count(),
            3,
            "announcement and two reminders of group 6"
        );
    }
    assert!(app.mails_in(BOSS, "INBOX").await.is_empty());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE purpose LIKE 'event%'")
            .await,
        36,
        "nothing queued twice"
    );
    let late = app
        .count(
            "SELECT COUNT(*) FROM programme_mails m JOIN programme_events e ON e.key = m.event_key \
             WHERE m.kind = 'reminder' AND m.state = 'sent' AND (m.decided_at < m.due_at OR m.decided_at >= e.start_at)",
        )
        .await;
    assert_eq!(late, 0, "a reminder went out early or after its event");
    let skipped = app
        .count(
            "SELECT COUNT(*) FROM programme_mails WHERE state = 'skipped' AND event_key = 'learning-group-3' \
             AND note = 'the event had begun'",
        )
        .await;
    assert_eq!(skipped, 2);
    // 8 in 2037, group 3's 2-day one, module 3's 14-day (caught up) and
    // 2-day one, group 6's two.
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM programme_mails WHERE kind = 'reminder' AND state = 'sent'"
        )
        .await,
        2 * 13
    );

    // Act 5: a participant answers a reminder ("kann leider nicht"); another
    // writes outside any thread that she has to withdraw.
    let reminder = reminder_mail(&app, P1, "3. Präsenzmodul").await;
    let parent = crate::helpers::header(&reminder, "Message-ID").unwrap();
    let reply = format!(
        "From: Erika Muster <{P1}>\r\nTo: projekt@ews.test\r\nSubject: AW: {}\r\n\
         Message-ID: <absent-1@stadt-a.test>\r\nIn-Reply-To: {parent}\r\n\r\n\
         Ich kann leider nicht teilnehmen, ich bin krank.\r\n",
        subject(&reminder)
    );
    app.deliver(P1, &reply).await;
    let note = format!(
        "From: Jonas Beispiel <{P2}>\r\nTo: projekt@ews.test\r\nSubject: Modul 3\r\n\
         Message-ID: <absent-2@gemeinde-b.test>\r\n\r\nIch muss mich leider abmelden.\r\n"
    );
    app.deliver(P2, &note).await;
    // Assert 5: staff hear of both at once; nobody gets an automatic answer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let n = app
            .mails_in(STAFF, "INBOX")
            .await
            .iter()
            .filter(|m| subject(m).contains("Abmeldung"))
            .count();
        if n == 2 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{n} absence notices");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(app.mails_in(P1, "INBOX").await.len(), 18);
    assert_eq!(app.mails_in(P2, "INBOX").await.len(), 18);
}
