//! Part 9: several programmes in one mailbox. EWS 7 (the shipped file) and
//! an EWS 8 written here (`code = "EWS8"`, its call open since two days,
//! later dates, a template folder of its own): mail is routed to the right
//! programme; with both calls open and nothing named, staff route it with
//! `ZUORDNEN`. Also: a database from before part 9 keeps its references,
//! keys and pending mail when a second programme is added.

use crate::helpers::{
    Deadline, STAFF, TestApp, WAIT, add_programme, app_on_servers, application, header, poll_until,
    programme_text, start_servers, subject, text, wait_subject,
};
use chrono::{Datelike, Utc};
use postbote::config::Config;
use postbote::context::App;
use std::path::Path;
use std::time::Duration;

/// At least 20 characters (part 8 refuses shorter secrets).
const SECRET: &str = "geheim-4711-lang-genug-fuer-teil-9";

/// The subject EWS 8's own `confirmation.subject.hbs` gives.
const EWS8_SUBJECT: &str = "EWS 8: Ihre Bewerbung ist eingegangen";

/// The EWS 8 programme file: the shipped EWS 7 eleven years later, its own
/// code and name, its call open since two days ago, a template folder.
fn ews8() -> String {
    let opens = Utc::now().date_naive() - chrono::Duration::days(2);
    let weekday =
        ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"][opens.weekday().num_days_from_monday() as usize];
    programme_text(Deadline::Future)
        .replace("(EWS 7)\"", "(EWS 8)\"")
        .replace(
            "short_name = \"EWS 7\"",
            &format!(
                "short_name = \"EWS 8\"\ncode = \"EWS8\"\n\
                 call_opens = {{ weekday = \"{weekday}\", date = \"{opens}\" }}\n\
                 templates = \"ews8-templates\""
            ),
        )
}

/// Servers, EWS 7 with `ews7` dates and EWS 8, the daemon running.
async fn two_programmes(ews7: Deadline) -> TestApp {
    let servers = start_servers(crate::mail_servers::Layout::Default).await;
    let mut app = app_on_servers(
        servers,
        ews7,
        "",
        &[("POSTBOTE_STAFF__COMMAND_SECRET", SECRET)],
    );
    let own = app.dir.path().join("ews8-templates");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::write(
        own.join("confirmation.subject.hbs"),
        format!("{EWS8_SUBJECT} ({{{{reference}}}})"),
    )
    .unwrap();
    add_programme(&app.config_path, "ews8.toml", &ews8());
    app.start_daemon().await;
    app
}

/// An application mail from `from` with `subject` (two readable PDFs).
fn applying(from: &str, name: &str, id: &str, subject: &str) -> String {
    application(from, name, id).replacen(
        &format!("Subject: Bewerbung EWS 7 - {name}"),
        &format!("Subject: {subject}"),
        1,
    )
}

/// A fresh, secret-authenticated command mail from staff.
async fn command(app: &TestApp, id: &str, body: &str) {
    let date = Utc::now().to_rfc2822();
    let raw = format!(
        "From: Leitung <{STAFF}>\r\nTo: projekt@ews.test\r\nSubject: Befehl\r\nDate: {date}\r\n\
         Message-ID: <{id}@leitung.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         {body}\r\nKennwort: {SECRET}\r\n"
    );
    app.deliver(STAFF, &raw).await;
}

/// The reference of the application message `message_id` was recorded for.
async fn reference_of(app: &TestApp, message_id: &str) -> String {
    let store = app.store().await;
    let sql = "SELECT a.reference FROM messages m JOIN applications a ON a.id = m.application_id \
               WHERE m.message_id = ?";
    let found = poll_until(
        &format!("an application for {message_id}"),
        WAIT,
        Duration::from_millis(100),
        async || {
            sqlx::query_scalar::<_, String>(sql)
                .bind(message_id)
                .fetch_optional(store.pool())
                .await
                .expect(sql)
                .ok_or("none yet")
        },
    )
    .await;
    store.close().await;
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_goes_to_the_open_call_the_named_programme_or_the_thread_it_answers() {
    // Arrange: EWS 7 as shipped (its call closed), EWS 8 open now.
    let app = two_programmes(Deadline::Past).await;

    // Act 1: a new application naming no programme.
    let a = "rathaus@stadt-a.test";
    app.deliver(
        a,
        &applying(a, "Stadt A", "p9-a1@stadt-a.test", "Unsere Bewerbung"),
    )
    .await;

    // Assert 1: EWS 8's first reference, with EWS 8's own confirmation.
    let confirmation = wait_subject(&app, a, "EWS8-0001").await;
    assert_eq!(
        subject(&confirmation),
        format!("{EWS8_SUBJECT} (EWS8-0001)")
    );
    let body = text(&confirmation);
    assert!(
        body.contains("(EWS 8)") && body.contains("EWS8-0001"),
        "{body}"
    );

    // Act 2: a mail naming "EWS 7" in its subject.
    let b = "amt@gemeinde-b.test";
    app.deliver(
        b,
        &applying(
            b,
            "Gemeinde B",
            "p9-b1@gemeinde-b.test",
            "Bewerbung für die EWS 7",
        ),
    )
    .await;

    // Assert 2: EWS 7, late (its deadline passed), the shared late template.
    let late = wait_subject(&app, b, "EWS7-0001").await;
    assert!(
        subject(&late).contains("nach Fristende"),
        "{}",
        subject(&late)
    );
    wait_subject(&app, STAFF, "EWS7-0001").await;

    // Act 3: Gemeinde B answers the EWS 7 confirmation with more documents;
    // its subject names nothing, and only EWS 8's call is open.
    let parent = header(&late, "Message-ID").expect("Message-ID");
    let reply = applying(b, "Gemeinde B", "p9-b2@gemeinde-b.test", "AW: Unterlagen").replacen(
        "\r\nMIME-Version",
        &format!("\r\nIn-Reply-To: {parent}\r\nReferences: {parent}\r\nMIME-Version"),
        1,
    );
    app.deliver(b, &reply).await;

    // Assert 3: it joins EWS7-0001; no new application.
    assert_eq!(
        reference_of(&app, "p9-b2@gemeinde-b.test").await,
        "EWS7-0001"
    );
    assert_eq!(reference_of(&app, "p9-a1@stadt-a.test").await, "EWS8-0001");
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 2);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM applications WHERE programme = 'EWS7' AND late = 1 \
             AND message_count = 2"
        )
        .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_calls_open_an_unnamed_application_waits_for_staff_to_route_it() {
    // Arrange: both calls open (EWS 7 until its deadline, EWS 8 since two days).
    let app = two_programmes(Deadline::Future).await;

    // Act: an application that names neither.
    let c = "buergermeister@dorf-c.test";
    app.deliver(c, &applying(c, "Dorf C", "p9-c1@dorf-c.test", "Bewerbung"))
        .await;

    // Assert: staff are asked, with the exact command; nothing is recorded
    // or confirmed.
    let notice = wait_subject(&app, STAFF, "Bewerbung ohne Programm").await;
    let body = text(&notice);
    let line = body
        .lines()
        .find(|l| l.contains("ZUORDNEN") && l.contains("EWS8"))
        .unwrap_or_else(|| panic!("no ZUORDNEN line: {body}"));
    let n: i64 = line
        .split_whitespace()
        .skip_while(|w| *w != "ZUORDNEN")
        .nth(1)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no message number: {line}"));
    assert!(body.contains(&format!("ZUORDNEN {n} EWS7")), "{body}");
    // About no programme yet: labelled with both.
    assert!(
        subject(&notice).starts_with("[EWS 7 / EWS 8] "),
        "{}",
        subject(&notice)
    );
    assert!(body.contains("EWS 7") && body.contains("EWS 8"), "{body}");
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE purpose LIKE 'confirmation%'")
            .await,
        0
    );
    let stored = app
        .count(&format!(
            "SELECT COUNT(*) FROM messages WHERE id = {n} AND message_id = 'p9-c1@dorf-c.test'"
        ))
        .await;
    assert_eq!(stored, 1, "the notice names the stored message");

    // Act: staff route it to EWS 8.
    command(&app, "p9-route-1", &format!("ZUORDNEN {n} EWS8")).await;

    // Assert: recorded and confirmed as EWS 8's first application.
    let confirmation = wait_subject(&app, c, "EWS8-0001").await;
    assert_eq!(
        subject(&confirmation),
        format!("{EWS8_SUBJECT} (EWS8-0001)")
    );
    let result = wait_subject(&app, STAFF, "Befehl").await;
    // The reply is about EWS 8 and says so.
    assert_eq!(subject(&result), "[EWS 8] Ergebnis Ihres Befehls");
    assert!(
        text(&result).contains(&format!("Nachricht {n}")),
        "{}",
        text(&result)
    );
    assert_eq!(reference_of(&app, "p9-c1@dorf-c.test").await, "EWS8-0001");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE purpose LIKE 'confirmation%'")
            .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM messages WHERE id = {n} AND programme = 'EWS8'"
        ))
        .await,
        1
    );
}

/// A participant imported into EWS 8 (no application) reports an absence
/// outside any thread: staff hear of it under EWS 8, not the first programme.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absence_from_a_participant_without_application_reaches_staff_under_their_programme() {
    // Arrange: an EWS 8 roster of one, imported on the command line.
    let app = two_programmes(Deadline::Future).await;
    let roster = app.dir.path().join("ews8-roster.csv");
    std::fs::write(
        &roster,
        "Kommune;Name;E-Mail\r\nStadt Achtdorf;Ada Acht;ada@achtdorf.test\r\n",
    )
    .unwrap();
    let out = app.cli(&[
        "participants",
        "import",
        roster.to_str().unwrap(),
        "--programme",
        "EWS8",
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Act: she writes that she is ill, in a new mail.
    let raw = format!(
        "From: Ada Acht <ada@achtdorf.test>\r\nTo: projekt@ews.test\r\nSubject: Modul\r\n\
         Date: {}\r\nMessage-ID: <p9-absence@achtdorf.test>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         Ich bin krank und muss leider absagen.\r\n",
        Utc::now().to_rfc2822()
    );
    app.deliver("ada@achtdorf.test", &raw).await;
    // Assert: one notice, labelled EWS 8; she gets no answer.
    let notice = wait_subject(&app, STAFF, "Abmeldung").await;
    assert!(
        subject(&notice).starts_with("[EWS 8] Abmeldung"),
        "{}",
        subject(&notice)
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE env_to = 'ada@achtdorf.test'")
            .await,
        0
    );
}

/// Builds a database with the migrations from before part 9 (20261201000100)
/// and rows as postbote stored them then.
async fn pre_part_9_database(path: &Path) {
    use sqlx::Connection;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut migrator = sqlx::migrate::Migrator::new(dir).await.expect("migrations");
    migrator.migrations = migrator
        .migrations
        .iter()
        .filter(|m| m.version < 20261201000100)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("connect");
    migrator.run(&mut conn).await.expect("old migrations");
    let at = "2026-06-10T08:00:00.000000Z";
    for sql in [
        format!(
            "INSERT INTO raw_messages (sha256, size, bytes, stored_at) VALUES ('aa', 1, x'41', '{at}')"
        ),
        format!(
            "INSERT INTO messages (id, sha256, message_id, internal_date, state, class, received_at) \
             VALUES (1, 'aa', 'old-1@stadt.test', '{at}', 'processed', 'application', '{at}')"
        ),
        format!(
            "INSERT INTO applications (id, reference, applicant, first_message, received_at, state, \
             created_at, updated_at, owner) VALUES (3, 'EWS7-0003', 'amt@stadt.test', 1, '{at}', \
             'confirmed', '{at}', '{at}', 'amt@stadt.test')"
        ),
        "UPDATE messages SET application_id = 3 WHERE id = 1".to_string(),
        format!(
            "INSERT INTO outbox (idempotency_key, message_id, purpose, application_id, env_from, \
             env_to, subject, raw, state, next_attempt_at, created_at, cap) VALUES \
             ('confirmation:3', '0123abcd.postbote@ews.test', 'confirmation', 3, 'projekt@ews.test', \
             'amt@stadt.test', 'Eingang', x'41', 'queued', '{at}', '{at}', 'applicant')"
        ),
        format!(
            "INSERT INTO programme_mails (key, event_key, kind, recipient, due_at, decided_at, state) \
             VALUES ('reminder:module-1:7d:amt@stadt.test', 'module-1', 'reminder', 'amt@stadt.test', \
             '{at}', '{at}', 'sent')"
        ),
    ] {
        sqlx::query(&sql).execute(&mut conn).await.expect(&sql);
    }
    conn.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_programme_database_keeps_its_references_keys_and_pending_mail() {
    // Arrange: a database from before part 9, settings with two programmes.
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    pre_part_9_database(&dir.path().join("db.sqlite")).await;
    std::fs::write(
        dir.path().join("ews7.toml"),
        programme_text(Deadline::Future),
    )
    .unwrap();
    std::fs::write(dir.path().join("ews8.toml"), ews8()).unwrap();
    std::fs::create_dir_all(dir.path().join("ews8-templates")).unwrap();
    let config = dir.path().join("postbote.toml");
    std::fs::write(
        &config,
        format!(
            "[instance]\nname = \"t\"\ndomain = \"ews.test\"\n[mailbox]\nsource = \"maildir\"\n\
             processed_folder = \"Done\"\n[maildir]\npath = \"md\"\n[smtp]\ntransport = \"file\"\n\
             file_dir = \"out\"\n[storage]\ndatabase = \"db.sqlite\"\n[mail]\n\
             from_address = \"projekt@ews.test\"\nfrom_name = \"P\"\n[programme]\n\
             files = [\"ews7.toml\", \"ews8.toml\"]\n[templates]\ndir = \"{root}/templates\"\n"
        ),
    )
    .unwrap();

    // Act: the current binary opens (migrates) it and starts.
    let app = App::build(Config::load(&config).unwrap()).await.unwrap();

    // Assert: the rows belong to the first programme, unchanged.
    let pool = app.store.pool();
    let one =
        async |sql: &str| -> String { sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql) };
    assert_eq!(
        one("SELECT programme || ' ' || reference FROM applications").await,
        "EWS7 EWS7-0003"
    );
    assert_eq!(
        one("SELECT state || ' ' || idempotency_key || ' ' || message_id FROM outbox").await,
        "queued confirmation:3 0123abcd.postbote@ews.test"
    );
    assert_eq!(
        one("SELECT programme || ' ' || key FROM programme_mails").await,
        "EWS7 reminder:module-1:7d:amt@stadt.test"
    );
    let scope = |code: &str| app.programmes.get(code).unwrap().key_scope.clone();
    assert_eq!(scope("EWS7"), "", "the legacy programme keeps its keys");
    assert_eq!(scope("EWS8"), "EWS8:");

    // New applications: EWS 8 starts at 1, EWS 7 continues after the highest id.
    let mut tx = app.store.begin().await.unwrap();
    let new = |programme, applicant| postbote::store::applications::NewApplication {
        programme,
        applicant,
        applicant_name: None,
        subject: None,
        first_message: 1,
        received_at: Utc::now(),
        late: false,
        duplicate_of: None,
    };
    let create = postbote::store::applications::create;
    let eight = create(&mut tx, &new("EWS8", "amt@stadt.test"))
        .await
        .unwrap();
    let seven = create(&mut tx, &new("EWS7", "rat@dorf.test"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(eight.reference, "EWS8-0001");
    assert_eq!(seven.reference, "EWS7-0004");
    app.store.close().await;
}

#[test]
fn check_config_refuses_two_programmes_with_one_code() {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let text = programme_text(Deadline::Future);
    std::fs::write(dir.path().join("a.toml"), &text).unwrap();
    std::fs::write(dir.path().join("b.toml"), &text).unwrap();
    let config = dir.path().join("postbote.toml");
    let write = |files: &str| {
        std::fs::write(
            &config,
            format!(
                "[instance]\nname = \"t\"\ndomain = \"ews.test\"\n[mailbox]\nsource = \"maildir\"\n\
                 processed_folder = \"Done\"\n[maildir]\npath = \"md\"\n[smtp]\ntransport = \"file\"\n\
                 file_dir = \"out\"\n[storage]\ndatabase = \"db.sqlite\"\n[mail]\n\
                 from_address = \"projekt@ews.test\"\nfrom_name = \"P\"\n[programme]\n\
                 files = {files}\n[templates]\ndir = \"{root}/templates\"\n"
            ),
        )
        .unwrap()
    };
    let check = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_postbote"))
            .args(["--config", config.to_str().unwrap(), "check-config"])
            .output()
            .expect("run postbote")
    };
    write("[\"a.toml\", \"b.toml\"]");
    let refused = check();
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("a.toml") && err.contains("b.toml") && err.contains("both have the code EWS7"),
        "{err}"
    );
    std::fs::write(dir.path().join("b.toml"), ews8()).unwrap();
    std::fs::create_dir_all(dir.path().join("ews8-templates")).unwrap();
    let ok = check();
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        out.contains("Code: EWS7") && out.contains("Code: EWS8"),
        "{out}"
    );
    assert!(out.contains("Templates: checked"), "{out}");
}
