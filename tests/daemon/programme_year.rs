//! Part 4: a whole programme year in fast-forward on a hand-set scheduler
//! clock, against the real servers: every reminder arrives once, in time, in
//! the participant's mailbox, with the right local times on both sides of the
//! October DST change; a restart mid-year (confirming a tentative module,
//! cancelling a learning group, moving another); downtime and catch-up.
//!
//! Every calendar part that arrives is read by libical, Python icalendar and
//! ical.js (`calendar_mail`): one UID per object, a two-day module one
//! series, on the October change (module 2, 24/25.10.2037) and the March
//! change (module 4, 27/28.03.2038: announced, one day's hours changed, then
//! cancelled); only the first mail about an event carries the entry.

use crate::calendar_mail::{CalendarMail, calendar, calendar_of};
use crate::helpers::{
    Deadline, STAFF, TestApp, spawn_app_with_clock, subject, text, wait_subject, wait_subjects,
};
use chrono::{DateTime, Duration, Utc};
use postbote::calendar::{events, timeline};
use std::collections::{BTreeMap, BTreeSet};

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
    let mut evs = events::all(config.programmes.first());
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

/// Moves module 2 onto the weekend of the October change (Sat 24 and Sun 25
/// October 2037, 10:00–16:00 both days), listed before learning group 2
/// (the file is in date order; modules and groups are numbered apart).
fn module_2_on_the_october_change(t: String) -> String {
    let lg2 = "[[learning_groups]]\ntitle = \"2. Treffen digitale Lerngruppe\"";
    let m2 = "[[modules]]\ntitle = \"2. Präsenzmodul\"";
    let after_m2 = "# The 3rd learning group";
    let (a, b) = (t.find(lg2).expect("lg2"), t.find(m2).expect("m2"));
    let block = t[a..b].to_string();
    let t = format!("{}{}", &t[..a], &t[b..]);
    let c = t.find(after_m2).expect("the comment after module 2");
    let t = format!("{}{block}{}", &t[..c], &t[c..]);
    let t = in_block(
        &t,
        "2. Präsenzmodul",
        "{ weekday = \"Do\", date = \"2037-11-26\"",
        "{ weekday = \"Sa\", date = \"2037-10-24\"",
    );
    in_block(
        &t,
        "2. Präsenzmodul",
        "{ weekday = \"Fr\", date = \"2037-11-27\"",
        "{ weekday = \"So\", date = \"2037-10-25\"",
    )
}

/// The event title in a programme mail's subject ("Erinnerung: 3. Präsenzmodul der EWS 7 am …").
fn title_of(subject: &str) -> String {
    let after = subject.split_once(": ").map_or(subject, |(_, t)| t);
    after.split(" der EWS 7").next().unwrap_or(after).to_owned()
}

/// The first mail whose subject contains `needle` and that carries a calendar part.
async fn with_calendar(app: &TestApp, user: &str, needle: &str) -> (String, CalendarMail) {
    app.mails_in(user, "INBOX")
        .await
        .into_iter()
        .filter(|m| subject(m).contains(needle))
        .find_map(|m| calendar_of(&m, false).map(|c| (m, c)))
        .unwrap_or_else(|| panic!("no mail '{needle}' with a calendar part for {user}"))
}

/// Every programme mail of `user`, its calendar part checked by three
/// engines: announcements and updates REQUEST, cancellations CANCEL; per
/// event exactly one mail brings the entry (its announcement, else the first
/// reminder), no other reminder carries a calendar part; one UID per event,
/// and the SEQUENCE rises with every update and the cancellation.
async fn check_every_calendar_mail(app: &TestApp, user: &str) -> usize {
    let mut per_event: BTreeMap<String, Vec<(String, Option<CalendarMail>)>> = BTreeMap::new();
    for m in app.mails_in(user, "INBOX").await {
        let s = subject(&m);
        per_event
            .entry(title_of(&s))
            .or_default()
            .push((s, calendar_of(&m, false)));
    }
    let mut uids = BTreeSet::new();
    let mut checked = 0;
    for (title, mails) in &per_event {
        let mut event_uids = BTreeSet::new();
        let mut new_entries = Vec::new();
        let (mut updates, mut cancels) = (Vec::new(), Vec::new());
        for (s, cal) in mails {
            if let Some(c) = cal {
                checked += 1;
                event_uids.insert(c.uid().to_owned());
            }
            match (s.split(':').next().unwrap_or_default(), cal) {
                ("Termin bestätigt" | "Erinnerung", Some(c)) => {
                    assert_eq!(c.method(), "REQUEST", "{s}");
                    new_entries.push(c.sequence());
                }
                ("Erinnerung", None) => {}
                ("Geänderter Termin", Some(c)) => {
                    assert_eq!(c.method(), "REQUEST", "{s}");
                    updates.push(c.sequence());
                }
                ("Abgesagt", Some(c)) => {
                    assert_eq!(c.method(), "CANCEL", "{s}");
                    assert_eq!(c.status(), Some("CANCELLED"), "{s}");
                    cancels.push(c.sequence());
                }
                _ => panic!("{user}: unexpected mail or missing calendar part: {s}"),
            }
        }
        assert_eq!(
            new_entries.len(),
            1,
            "{user}, {title}: one mail brings the entry, reminders after it none: {:?}",
            mails
                .iter()
                .map(|(s, c)| (s, c.is_some()))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            event_uids.len(),
            1,
            "{user}, {title}: one UID: {event_uids:?}"
        );
        assert!(uids.insert(event_uids.into_iter().next().unwrap_or_default()));
        let first = new_entries[0];
        assert!(
            updates.iter().all(|u| *u > first),
            "{title}: {updates:?} after {first}"
        );
        for c in &cancels {
            assert!(
                *c > first && updates.iter().all(|u| c > u),
                "{title}: cancel {c}"
            );
        }
    }
    checked
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
            ("POSTBOTE_STAFF__COMMAND_SECRET", "jahr-2038-lang-genug"),
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
    app.stop_daemon().await;
    edit_programme(&app, module_2_on_the_october_change);
    app.start_daemon().await;

    // Act 1: June to December 2037 (modules 1 and 2, learning groups 1 and 2).
    play(&app, "2037-06-20T00:00:00Z", "2037-12-31T00:00:00Z").await;
    // Assert 1: eight reminders each, the DST change respected.
    app.wait_for_mail(P1, 8).await;
    app.wait_for_mail(P2, 8).await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM outbox WHERE purpose = 'event_reminder' \
             AND (expires_at IS NULL OR state <> 'sent')"
        )
        .await,
        0,
        "reminders expire when their event begins, and none expired in time"
    );
    let lg1 = reminder_mail(&app, P1, "1. Treffen digitale Lerngruppe").await;
    assert!(
        text(&lg1).contains("Mi., 07.10.2037, 09:00–10:30 Uhr"),
        "{}",
        text(&lg1)
    );
    let (_, lg1_ics) = with_calendar(&app, P1, "1. Treffen digitale Lerngruppe").await;
    assert_eq!(lg1_ics.starts(), ["2037-10-07T07:00:00Z"]);
    let lg2 = reminder_mail(&app, P1, "2. Treffen digitale Lerngruppe").await;
    assert!(
        text(&lg2).contains("Mi., 11.11.2037, 09:00–10:30 Uhr"),
        "{}",
        text(&lg2)
    );
    let (_, lg2_ics) = with_calendar(&app, P1, "2. Treffen digitale Lerngruppe").await;
    assert_eq!(lg2_ics.starts(), ["2037-11-11T08:00:00Z"]);
    // Module 2 is one series of two days, 10:00 local on both sides of the
    // October change; its first reminder brings it, the second repeats nothing.
    let (_, m2) = with_calendar(&app, P1, "2. Präsenzmodul").await;
    assert_eq!(
        m2.starts(),
        ["2037-10-24T08:00:00Z", "2037-10-25T09:00:00Z"]
    );
    assert_eq!(m2.overrides(), 0);
    assert!(m2.ics.contains("RRULE:FREQ=DAILY;COUNT=2"), "{}", m2.ics);
    let m2_mails: Vec<String> = app
        .mails_in(P1, "INBOX")
        .await
        .into_iter()
        .filter(|m| subject(m).contains("2. Präsenzmodul"))
        .collect();
    assert_eq!(m2_mails.len(), 2);
    assert_eq!(
        m2_mails
            .iter()
            .filter(|m| calendar_of(m, false).is_some())
            .count(),
        1,
        "only the first reminder of module 2 carries the entry"
    );
    let plain = m2_mails
        .iter()
        .find(|m| calendar_of(m, false).is_none())
        .expect("the second reminder of module 2");
    assert!(
        text(plain)
            .contains("Den Kalendereintrag haben Sie bereits mit einer früheren E-Mail erhalten"),
        "{}",
        text(plain)
    );
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
    // to tell), module 4 confirmed and moved onto the weekend of the March
    // change (Sat 27 and Sun 28 March 2038).
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
            "4. Präsenzmodul",
            "status = \"tentative\"",
            "status = \"confirmed\"",
        );
        let t = in_block(
            &t,
            "4. Präsenzmodul",
            "{ weekday = \"Do\", date = \"2038-04-22\"",
            "{ weekday = \"Sa\", date = \"2038-03-27\"",
        );
        let t = in_block(
            &t,
            "4. Präsenzmodul",
            "{ weekday = \"Fr\", date = \"2038-04-23\"",
            "{ weekday = \"So\", date = \"2038-03-28\"",
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
    // Assert 2: the announcements of modules 3 and 4 and group 5, and the
    // 2-day reminder of group 3.
    app.wait_for_mail(P1, 12).await;
    let announcement = reminder_mail(&app, P2, "Termin bestätigt: 3. Präsenzmodul").await;
    let m3 = calendar(&announcement, false);
    assert_eq!(m3.method(), "REQUEST");
    assert_eq!(
        m3.starts(),
        ["2038-01-28T09:00:00Z", "2038-01-29T09:00:00Z"]
    );
    let m4 = calendar(
        &reminder_mail(&app, P1, "Termin bestätigt: 4. Präsenzmodul").await,
        false,
    );
    assert_eq!(m4.method(), "REQUEST");
    assert_eq!(
        m4.starts(),
        ["2038-03-27T09:00:00Z", "2038-03-28T08:00:00Z"]
    );
    assert_eq!(m4.overrides(), 0);
    let m4_uid = m4.uid().to_owned();
    assert_ne!(m4_uid, m3.uid());
    let (_, lg3) = with_calendar(&app, P1, "3. Treffen digitale Lerngruppe").await;
    let lg3_uid = lg3.uid().to_owned();

    // Act 3: learning group 3 moves to 10:00, group 5 is cancelled and the
    // second day of module 4 is shortened to 09:00–13:00 (restart), then
    // postbote is down
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
        let t = in_block(
            &t,
            "4. Präsenzmodul",
            "date = \"2038-03-28\", start = \"10:00\", end = \"16:00\"",
            "date = \"2038-03-28\", start = \"09:00\", end = \"13:00\"",
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
    let mails = app.wait_for_mail(P1, 15).await;
    let update = mails
        .iter()
        .find(|m| subject(m).starts_with("Geänderter Termin: 3. Treffen"))
        .expect("an update")
        .clone();
    let cancel = mails
        .iter()
        .find(|m| subject(m).starts_with("Abgesagt: 5. Treffen"))
        .expect("a cancellation of group 5");
    let ics = calendar(cancel, false);
    assert_eq!(ics.method(), "CANCEL");
    assert_eq!(ics.status(), Some("CANCELLED"));
    assert_eq!(ics.sequence(), 1);
    let ics = calendar(&update, false);
    assert_eq!(ics.uid(), lg3_uid);
    assert_eq!(ics.sequence(), 1);
    assert_eq!(ics.starts(), ["2038-01-13T09:00:00Z"]);
    // The changed day reaches the series: same UID, SEQUENCE + 1, the second
    // day an override (RECURRENCE-ID) with its new hours, after the change.
    let m4_update = calendar(
        mails
            .iter()
            .find(|m| subject(m).starts_with("Geänderter Termin: 4. Präsenzmodul"))
            .expect("an update of module 4"),
        false,
    );
    assert_eq!(m4_update.uid(), m4_uid);
    assert_eq!(m4_update.sequence(), m4.sequence() + 1);
    assert_eq!(m4_update.overrides(), 1);
    assert_eq!(
        m4_update.starts(),
        ["2038-03-27T09:00:00Z", "2038-03-28T07:00:00Z"]
    );
    assert_eq!(m4_update.read.occurrences[1].end, "2038-03-28T11:00:00Z");
    app.stop_daemon().await;
    app.clock.as_ref().unwrap().set(utc("2038-01-20T00:00:00Z"));
    app.start_daemon().await;
    app.tick_at(utc("2038-01-20T00:00:00Z")).await;
    // Assert 3: the 14-day reminder of module 3 is caught up (still useful);
    // the 1-hour reminder of group 3 is skipped and reported to staff.
    app.wait_for_mail(P1, 16).await;
    // The report is sent beside the reminder: wait for it too.
    let report = wait_subject(&app, STAFF, "nicht rechtzeitig").await;
    assert!(
        text(&report).contains("3. Treffen digitale Lerngruppe (1 Stunde vorher)"),
        "{}",
        text(&report)
    );

    // Act 4: staff confirm learning group 6 and call off module 4 by mail,
    // then the rest of the year.
    let date = crate::helpers::date_now();
    let command = format!(
        "From: Leitung <{STAFF}>\r\nTo: projekt@ews.test\r\nSubject: Befehl\r\n\
         Message-ID: <confirm-lg6@leitung.example>\r\n{date}\r\nBESTÄTIGEN LERNGRUPPE 6\r\nABSAGEN MODUL 4\r\n\
         Kennwort: jahr-2038-lang-genug\r\n"
    );
    app.deliver(STAFF, &command).await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM event_overrides WHERE key = 'learning-group-6'",
        1,
    )
    .await;
    let mails = app.wait_for_mail(P1, 18).await;
    let reply = text(&wait_subject(&app, STAFF, "Ergebnis Ihres Befehls").await);
    assert!(
        reply.contains("6. Treffen digitale Lerngruppe") && reply.contains("bestätigt"),
        "{reply}"
    );
    assert!(
        reply.contains("4. Präsenzmodul") && reply.contains("abgesagt"),
        "{reply}"
    );
    // The whole series is cancelled: its UID, a higher SEQUENCE, the master alone.
    let m4_cancel = calendar(
        mails
            .iter()
            .find(|m| subject(m).starts_with("Abgesagt: 4. Präsenzmodul"))
            .expect("a cancellation of module 4"),
        false,
    );
    assert_eq!(m4_cancel.uid(), m4_uid);
    assert_eq!(m4_cancel.method(), "CANCEL");
    assert_eq!(m4_cancel.sequence(), m4_update.sequence() + 1);
    assert_eq!(m4_cancel.overrides(), 0);
    assert_eq!(m4_cancel.read.components.len(), 1);
    play(&app, "2038-01-20T00:00:00Z", "2038-08-31T00:00:00Z").await;
    assert!(
        app.mails_in(P2, "INBOX")
            .await
            .iter()
            .any(|m| subject(m).starts_with("Termin bestätigt: 6. Treffen")),
        "the announcement of group 6"
    );
    app.wait_for_mail(P1, 21).await;
    app.wait_for_mail(P2, 21).await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM outbox WHERE state = 'sent' AND purpose LIKE 'event%'",
        42,
    )
    .await;

    // Assert 4: once each, nothing for the supervisor, nothing for tentative
    // or cancelled events, every reminder decided after its due time and
    // before its event; every calendar part read alike by three engines.
    for p in [P1, P2] {
        let inbox = app.mails_in(p, "INBOX").await;
        assert_eq!(
            inbox.len(),
            21,
            "{p}: {:?}",
            inbox.iter().map(|m| subject(m)).collect::<Vec<_>>()
        );
        let m4: Vec<String> = inbox
            .iter()
            .map(|m| subject(m))
            .filter(|s| s.contains("4. Präsenzmodul"))
            .collect();
        assert_eq!(m4.len(), 3, "announcement, update, cancellation: {m4:?}");
        assert!(!m4.iter().any(|s| s.starts_with("Erinnerung")));
        let checked = check_every_calendar_mail(&app, p).await;
        assert_eq!(checked, 13, "{p}: calendar parts");
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
        42,
        "nothing queued twice"
    );
    // The store: one UID per event, every calendar part recorded with its SEQUENCE.
    assert_eq!(
        app.count("SELECT COUNT(DISTINCT uid) FROM programme_events WHERE uid IS NOT NULL")
            .await,
        app.count("SELECT COUNT(*) FROM programme_events").await
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM programme_mails WHERE state = 'sent' AND calendar IS NOT NULL AND sequence IS NOT NULL"
        )
        .await,
        2 * 13
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
    let notices = wait_subjects(&app, STAFF, "Abmeldung", 2).await;
    assert_eq!(notices.len(), 2, "one absence notice each");
    assert_eq!(app.mails_in(P1, "INBOX").await.len(), 21);
    assert_eq!(app.mails_in(P2, "INBOX").await.len(), 21);
}

/// Part 9: a second programme (EWS 8) is added to a running EWS 7 instance,
/// a third (EWS 9) is configured retired. Each active programme reminds its
/// own roster; the legacy programme's keys stay unprefixed, EWS 8's start
/// with its code; the retired one sends nothing. The CLI refuses a roster
/// import without `--programme` and lists the codes; `plan` and `status`
/// show each programme.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_programme_added_mid_year_reminds_its_own_roster_and_a_retired_one_stays_silent() {
    const P8: &str = "kai@dorf-c.test";
    const P9: &str = "lea@dorf-d.test";
    let mut app = spawn_app_with_clock(Deadline::Future, &[], utc("2037-08-01T06:00:00Z")).await;
    // The daemon ran with EWS 7 alone (the legacy programme); now two more.
    app.stop_daemon().await;
    let dir = app.dir.path().to_path_buf();
    let ews7 = std::fs::read_to_string(dir.join("programme.toml")).unwrap();
    for (code, extra) in [("EWS8", ""), ("EWS9", "\nretired = true")] {
        let number = &code[3..];
        let text = ews7.replacen(
            "short_name = \"EWS 7\"",
            &format!("short_name = \"EWS {number}\"\ncode = \"{code}\"{extra}"),
            1,
        );
        std::fs::write(dir.join(format!("{}.toml", code.to_lowercase())), text).unwrap();
    }
    let settings = std::fs::read_to_string(&app.config_path).unwrap();
    let settings = settings.replacen(
        "file = \"programme.toml\"",
        "files = [\"programme.toml\", \"ews8.toml\", \"ews9.toml\"]",
        1,
    );
    std::fs::write(&app.config_path, settings).unwrap();
    app.start_daemon().await;

    let roster = |name: &str, who: &str| {
        let csv = dir.join(format!("{name}.csv"));
        std::fs::write(
            &csv,
            format!("Kommune;Name;E-Mail;Rolle\nStadt A;Person;{who};Teilnehmende\n"),
        )
        .unwrap();
        csv.to_str().unwrap().to_string()
    };
    let csv7 = roster("roster7", P1);
    // Two programmes are active: without a code the import is refused.
    let out = app.cli(&["participants", "import", &csv7]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("EWS7, EWS8, EWS9"), "{err}");
    for (csv, code) in [
        (csv7.clone(), "EWS7"),
        (roster("roster8", P8), "EWS8"),
        (roster("roster9", P9), "EWS9"),
    ] {
        let out = app.cli(&["participants", "import", &csv, "--programme", code]);
        assert!(
            out.status.success(),
            "{code}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Module 1 on 27.08.2037, 10:00: the 14-day reminders are due.
    app.tick_at(utc("2037-08-13T08:07:00Z")).await;
    let seven = app.wait_for_mail(P1, 1).await;
    let eight = app.wait_for_mail(P8, 1).await;
    assert!(
        subject(&seven[0]).contains("der EWS 7"),
        "{}",
        subject(&seven[0])
    );
    assert!(
        subject(&eight[0]).contains("der EWS 8"),
        "{}",
        subject(&eight[0])
    );
    let keys = |who: &str| {
        format!(
            "SELECT COUNT(*) FROM outbox WHERE idempotency_key = 'reminder:module-1:20160m:{who}'"
        )
    };
    assert_eq!(app.count(&keys(P1)).await, 1, "the legacy key, unchanged");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM outbox WHERE idempotency_key = 'EWS8:reminder:module-1:20160m:{P8}'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM outbox WHERE env_to = '{P9}'"
        ))
        .await,
        0,
        "the retired programme sends nothing"
    );

    let out = app.cli(&["plan", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: BTreeSet<String> = plan
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["programme"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        codes,
        BTreeSet::from(["EWS7".to_string(), "EWS8".to_string()])
    );
    let text = String::from_utf8_lossy(&app.cli(&["plan"]).stdout).into_owned();
    assert!(
        text.contains("== EWS 7 (EWS7) ==") && text.contains("== EWS 8 (EWS8) =="),
        "{text}"
    );
    let status: serde_json::Value =
        serde_json::from_slice(&app.cli(&["status", "--json"]).stdout).unwrap();
    let per: Vec<(String, i64)> = status["programmes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["code"].as_str().unwrap().to_string(),
                p["participants"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        per,
        [
            ("EWS7".to_string(), 1),
            ("EWS8".to_string(), 1),
            ("EWS9".to_string(), 1)
        ]
    );
}
