//! Part 3 selection: decisions held until a previewed release, exactly one
//! notice per municipality, capacity rules, staff commands by mail (spoofed,
//! DKIM-authenticated, secret-authenticated), corrections, the roster.

use crate::helpers::{
    Deadline, STAFF, TestApp, spawn_app_with_env, text, wait_subject, wait_subjects, with_subject,
};
use crate::interviews::{apply, days};

const SECRET: &str = "geheim-4711-lang-genug";

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A command mail from the staff address; `auth` is an extra header line.
async fn command(app: &TestApp, id: &str, auth: &str, body: &str) {
    // The trusted MTA's Authentication-Results stand on top of the header
    // block (Postfix and Dovecot LMTP add their Received above).
    let date = crate::helpers::date_now();
    let raw = format!(
        "{auth}From: Leitung <{STAFF}>\r\nTo: projekt@ews.test\r\nSubject: Befehl\r\n\
         Message-ID: <{id}@leitung.example>\r\n{date}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    );
    app.deliver(STAFF, &raw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_round_sends_one_notice_per_municipality_after_preview_and_release() {
    // Arrange: at most 2 municipalities, at most 1 with two persons.
    let mut app = spawn_app_with_env(
        Deadline::Future,
        "",
        &[("POSTBOTE_STAFF__COMMAND_SECRET", SECRET)],
    )
    .await;
    let programme = app.dir.path().join("programme.toml");
    let source = std::fs::read_to_string(&programme).unwrap();
    std::fs::write(
        &programme,
        source
            .replace("max_municipalities = 15", "max_municipalities = 2")
            .replace("max_two_person = 5", "max_two_person = 1"),
    )
    .unwrap();
    app.stop_daemon().await;
    app.start_daemon().await;
    let d = days(&app);
    let (a, b, c) = ("rathaus@a.test", "info@b.test", "post@c.test");
    apply(&app, a, "Stadt A", &[d[0]], &[("person_email", "p@a.test")]).await;
    apply(&app, b, "Gemeinde B", &[d[1]], &[]).await;
    apply(&app, c, "Kreis C", &[d[2]], &[]).await;

    // Act 1: decisions by CLI, within and beyond the capacity rules.
    let set = |r: &str, o: &str, p: &str| app.cli(&["decisions", "set", r, o, "--persons", p]);
    assert_eq!(code(&set("EWS7-0001", "accept", "2")), 0);
    let refused = set("EWS7-0002", "accept", "2");
    assert_eq!(
        code(&refused),
        1,
        "a second two-person municipality is refused"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("zwei Personen"));
    assert_eq!(code(&set("EWS7-0002", "accept", "1")), 0);
    let refused = set("EWS7-0003", "accept", "1");
    assert_eq!(code(&refused), 1, "a third municipality is refused");
    assert_eq!(code(&set("EWS7-0003", "reject", "1")), 0);
    assert_eq!(
        code(&set("EWS7-0003", "waitlist", "1")),
        0,
        "changed before release"
    );

    // Assert 1: nothing sent; the changed decision replaced its held notice.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE state = 'held'")
            .await,
        3
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE state = 'withdrawn'")
            .await,
        1
    );
    let preview: serde_json::Value =
        serde_json::from_str(&stdout(&app.cli(&["decisions", "preview", "--json"]))).unwrap();
    let preview = preview.as_array().unwrap();
    assert_eq!(preview.len(), 3);
    let to_c = preview
        .iter()
        .find(|p| p["to"] == c)
        .expect("a notice to C");
    assert!(
        to_c["text"].as_str().unwrap().contains("Warteliste"),
        "{to_c}"
    );
    let dry = app.cli(&["decisions", "release"]);
    assert_eq!(code(&dry), 1, "release without --yes only previews");
    assert!(stdout(&dry).contains("3 notice(s) held"));

    // Act 2: a spoofed command (staff From, no authentication).
    command(&app, "spoof-1", "", "ZUSAGE EWS7-0003").await;
    // Assert 2: rejected, reported to staff, nothing changed.
    let report = text(&wait_subject(&app, STAFF, "Befehl abgelehnt").await);
    assert!(report.contains("nichts ver"), "{report}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM decisions WHERE outcome = 'waitlist'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE state = 'held'")
            .await,
        3
    );

    // Act 3: release by a DKIM-authenticated mail command.
    command(
        &app,
        "release-1",
        "Authentication-Results: mx.ews.test; dkim=pass header.d=ews.test; spf=none\r\n",
        "FREIGEBEN BESCHEIDE\r\n\r\nViele Grüße",
    )
    .await;
    // Assert 3: the reply says what was done; each municipality gets one notice.
    let reply = text(&wait_subject(&app, STAFF, "Ergebnis Ihres Befehls").await);
    assert!(reply.contains("Bescheide freigegeben: 3"), "{reply}");
    assert!(text(&wait_subject(&app, a, "Zusage").await).contains("zwei Personen"));
    wait_subject(&app, b, "Zusage").await;
    wait_subject(&app, c, "Warteliste").await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM outbox WHERE purpose LIKE 'decision%' AND state = 'sent'",
        3,
    )
    .await;

    // Act 4: after release the CLI refuses a plain change; a correction by
    // a secret-authenticated mail is checked against capacity, then sent.
    assert_eq!(code(&set("EWS7-0003", "accept", "1")), 1);
    command(
        &app,
        "correct-1",
        "",
        &format!("KORREKTUR ZUSAGE EWS7-0003\r\nKORREKTUR ABSAGE EWS7-0003\r\nKennwort: {SECRET}"),
    )
    .await;
    let replies = wait_subjects(&app, STAFF, "Ergebnis Ihres Befehls", 2).await;
    let second = replies
        .iter()
        .map(|r| text(r))
        .find(|r| r.contains("Kennwort"))
        .expect("second reply");
    assert!(second.contains("höchstens 2"), "{second}");
    assert!(second.contains("korrigiert auf Absage"), "{second}");
    let correction = text(&wait_subject(&app, c, "Korrektur").await);
    assert!(correction.contains("nicht ber"), "{correction}");

    // Assert 4: exactly one outcome notice per municipality, plus one correction.
    for (who, n) in [(a, 1), (b, 1), (c, 1)] {
        let notices = app
            .count(&format!(
                "SELECT COUNT(*) FROM outbox WHERE env_to = '{who}' AND purpose IN \
             ('decision_accept', 'decision_reject', 'decision_waitlist') AND state = 'sent'"
            ))
            .await;
        assert_eq!(notices, n, "{who}");
    }
    assert_eq!(
        with_subject(&app, c, "Warteliste").await.len()
            + with_subject(&app, c, "Korrektur").await.len(),
        2
    );

    // Assert 5: the roster holds the accepted municipalities' people.
    let roster: serde_json::Value =
        serde_json::from_str(&stdout(&app.cli(&["participants", "list", "--json"]))).unwrap();
    let emails: Vec<&str> = roster
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["active"] == true)
        .map(|p| p["email"].as_str().unwrap())
        .collect();
    assert!(
        emails.contains(&"p@a.test") && emails.contains(&a) && emails.contains(&b),
        "{emails:?}"
    );
    assert!(!emails.contains(&c));

    // Act 6: a roster CSV from Excel (semicolons, Windows-1252), then a broken one.
    let csv = app.dir.path().join("roster.csv");
    let mut bytes = b"Kommune;Name;E-Mail;Rolle\r\n".to_vec();
    bytes.extend(b"Stadt D\xfcren;J\xfcrgen M\xfcller;jm@dueren.test;Teilnehmende\r\n");
    std::fs::write(&csv, &bytes).unwrap();
    assert_eq!(
        code(&app.cli(&["participants", "import", csv.to_str().unwrap()])),
        0
    );
    std::fs::write(&csv, "Kommune;Name;E-Mail\r\nX;Y;kein-mail\r\n").unwrap();
    let bad = app.cli(&["participants", "import", csv.to_str().unwrap()]);
    assert_eq!(code(&bad), 1);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("line 2"));
    let roster = stdout(&app.cli(&["participants", "list"]));
    assert!(
        roster.contains("Stadt Düren") && roster.contains("Jürgen Müller"),
        "{roster}"
    );
}
