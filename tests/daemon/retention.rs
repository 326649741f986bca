//! Part 8, retention and erasure on the real pipeline: `postbote forget`
//! leaves no byte of the application in the SQLite files or in any folder
//! of the project mailbox; the daily retention run deletes exactly what the
//! policy says, with the scheduler clock under test control; `export`.

use crate::fixtures::{filled_docx, mail, pdf_letter};
use crate::helpers::{
    Deadline, PROJECT, STAFF, TestApp, spawn_app, spawn_app_with_clock, spawn_app_with_env, text,
    wait_inbox_count, wait_inbox_empty, wait_subject, wait_subjects,
};
use chrono::{Duration, NaiveDate, Utc};

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const SECRET_TEXT: &str = "Zauberwortquux";

fn days(app: &TestApp) -> Vec<NaiveDate> {
    app.programme()
        .interview_days
        .iter()
        .map(|d| d.slot.start.date_naive())
        .collect()
}

fn application_of(app: &TestApp, from: &str, kommune: &str, id: &str, letter: &str) -> String {
    let d = days(app);
    let form = filled_docx(&app.programme(), &[d[0], d[2]], kommune);
    mail(
        from,
        id,
        "Bewerbung EWS 7",
        &format!("Anbei unsere Unterlagen, {kommune}."),
        &[
            ("Fragebogen_EWS7.docx", DOCX, form),
            (
                "Motivationsschreiben.pdf",
                "application/pdf",
                pdf_letter(letter, 1),
            ),
        ],
    )
}

async fn reference_of(app: &TestApp, applicant: &str) -> String {
    let store = app.store().await;
    let r: String = sqlx::query_scalar("SELECT reference FROM applications WHERE applicant = ?")
        .bind(applicant)
        .fetch_one(store.pool())
        .await
        .expect("reference");
    store.close().await;
    r
}

/// Whether any of the SQLite files holds `needle` (ASCII, case-insensitive).
fn database_holds(app: &TestApp, needle: &str) -> Vec<String> {
    let needle = needle.to_ascii_lowercase();
    let mut found = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let path = app.dir.path().join(format!("postbote.sqlite{suffix}"));
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let lower = bytes.to_ascii_lowercase();
        if lower.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            found.push(format!("postbote.sqlite{suffix}"));
        }
    }
    found
}

/// The folders of the project mailbox and how many of their mails hold `needle`.
/// Fails unless no byte of `needle` is left in the database files or in
/// any folder of the project mailbox.
async fn assert_gone(app: &TestApp, needle: &str) {
    assert_eq!(
        database_holds(app, needle),
        Vec::<String>::new(),
        "{needle} in the database"
    );
    assert_eq!(
        mailbox_holds(app, needle).await,
        Vec::new(),
        "{needle} in the mailbox"
    );
}

async fn mailbox_holds(app: &TestApp, needle: &str) -> Vec<(String, usize)> {
    let needle = needle.to_ascii_lowercase();
    let mut found = Vec::new();
    for folder in app.servers.list_folders(PROJECT).await.expect("LIST") {
        let mails = app
            .servers
            .fetch_all(PROJECT, &folder)
            .await
            .expect("fetch");
        let n = mails
            .iter()
            .filter(|m| String::from_utf8_lossy(m).to_lowercase().contains(&needle))
            .count();
        if n > 0 {
            found.push((folder, n));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_leaves_no_byte_of_the_application_in_the_database_or_the_mailbox() {
    // Arrange: two applications, confirmed, every copy filed.
    let app = spawn_app().await;
    let victim = "engagement@vergessenhausen.test";
    let other = "kaemmerei@bleibdorf.test";
    let letter = format!("Motivationsschreiben {SECRET_TEXT} der Stadt Vergessenhausen");
    let raw = application_of(
        &app,
        victim,
        "Stadt Vergessenhausen",
        "f-1@vergessenhausen.test",
        &letter,
    );
    app.deliver(victim, &raw).await;
    let raw = application_of(
        &app,
        other,
        "Gemeinde Bleibdorf",
        "f-2@bleibdorf.test",
        "Motivation Bleibdorf",
    );
    app.deliver(other, &raw).await;
    app.wait_for_mail(victim, 1).await;
    app.wait_for_mail(other, 1).await;
    wait_inbox_empty(&app).await;
    let reference = reference_of(&app, victim).await;
    assert!(
        !database_holds(&app, "vergessenhausen").is_empty(),
        "the data is there before"
    );
    assert!(!mailbox_holds(&app, "vergessenhausen").await.is_empty());

    // Act 1: without --yes, only what would go.
    let out = app.cli(&["forget", &reference]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("would erase") && text.contains("applications: 1"),
        "{text}"
    );
    assert!(text.contains("documents: 2"), "{text}");
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 2);
    assert!(!mailbox_holds(&app, "vergessenhausen").await.is_empty());

    // Act 2: for real, while the daemon runs.
    let out = app.cli(&["forget", &reference, "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("erased"), "{text}");

    // Assert: the other application is untouched…
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 1);
    assert!(!mailbox_holds(&app, "bleibdorf").await.is_empty());
    // …the erasure is logged as counts and the reference only…
    let store = app.store().await;
    let (reason, logged, counts): (String, String, String) =
        sqlx::query_as("SELECT reason, reference, counts FROM erasures")
            .fetch_one(store.pool())
            .await
            .expect("erasure row");
    store.close().await;
    assert_eq!(
        (reason.as_str(), logged.as_str()),
        ("forget", reference.as_str())
    );
    assert!(!counts.contains('@'), "{counts}");
    // …and no byte of it is left: database files, every mailbox folder.
    for needle in ["vergessenhausen", victim, SECRET_TEXT, "f-1@"] {
        assert_gone(&app, needle).await;
    }
    assert!(!database_holds(&app, "bleibdorf").is_empty());
    // A second run finds nothing.
    let out = app.cli(&["forget", &reference]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing stored"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_by_address_erases_the_person_everywhere() {
    let app = spawn_app().await;
    let person = "person@vergessendorf.test";
    let raw = application_of(
        &app,
        person,
        "Vergessendorf",
        "p-1@vergessendorf.test",
        "Motivation",
    );
    app.deliver(person, &raw).await;
    app.wait_for_mail(person, 1).await;
    // And a plain question from the same address, left in the INBOX for staff.
    let question = format!(
        "From: {person}\r\nTo: {PROJECT}\r\nSubject: Frage\r\nMessage-ID: <p-2@vergessendorf.test>\r\n\r\nWann geht es los?\r\n"
    );
    app.deliver(person, &question).await;
    app.wait_for_count("SELECT COUNT(*) FROM messages WHERE class = 'other'", 1)
        .await;
    let out = app.cli(&["forget", person, "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM messages WHERE lower(from_address) LIKE '%vergessendorf%'")
            .await,
        0
    );
    for needle in ["vergessendorf", person] {
        assert_gone(&app, needle).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_retention_run_deletes_other_mail_after_30_days_and_nothing_else() {
    let start = Utc::now();
    let app = spawn_app_with_clock(Deadline::Future, &[], start).await;
    let applicant = "kaemmerei@bleibstadt.test";
    let raw = application_of(
        &app,
        applicant,
        "Bleibstadt",
        "r-1@bleibstadt.test",
        "Motivation",
    );
    app.deliver(applicant, &raw).await;
    app.wait_for_mail(applicant, 1).await;
    let stranger = "jemand@irgendwo.test";
    let question = format!(
        "From: {stranger}\r\nTo: {PROJECT}\r\nSubject: Parkplatz\r\nMessage-ID: <r-2@irgendwo.test>\r\n\r\nGibt es Parkplaetze?\r\n"
    );
    app.deliver(stranger, &question).await;
    app.wait_for_count("SELECT COUNT(*) FROM messages WHERE class = 'other'", 1)
        .await;
    // The question stays in the INBOX for staff; everything else is filed.
    wait_inbox_count(&app, 1).await;
    let before = app.count("SELECT COUNT(*) FROM messages").await;

    // 29 days on: nothing is due.
    app.tick_at(start + Duration::days(29)).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM messages WHERE class = 'other'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM erasures WHERE counts LIKE '%\"messages\":1%'")
            .await,
        0
    );
    wait_inbox_count(&app, 1).await;

    // 31 days on: the "other" mail goes, from the database and the INBOX; the
    // application and the copies of sent mail (90 days) stay.
    app.tick_at(start + Duration::days(31)).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM messages WHERE class = 'other'")
            .await,
        0
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM messages").await, before - 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE length(raw) = 0")
            .await,
        0
    );
    wait_inbox_count(&app, 0).await;
    assert_eq!(mailbox_holds(&app, "Parkplaetze").await, Vec::new());
    assert_eq!(database_holds(&app, "Parkplaetze"), Vec::<String>::new());
    assert!(!mailbox_holds(&app, "bleibstadt").await.is_empty());
    // Once a day: a second pass the same day erases nothing more.
    app.tick_at(start + Duration::days(31) + Duration::minutes(1))
        .await;
    let runs = app
        .count("SELECT COUNT(*) FROM erasures WHERE reason = 'retention'")
        .await;
    assert_eq!(runs, 1);

    // 91 days on: the raw copies of sent mail go (rows kept, raw blanked),
    // with their copies in the sent folder; the application stays.
    app.tick_at(start + Duration::days(91)).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE length(raw) > 0 AND state = 'sent'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM messages WHERE class = 'own'")
            .await,
        0
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 1);
    let sent = app.mails_in(PROJECT, crate::helpers::SENT_FOLDER).await;
    assert!(
        sent.is_empty(),
        "{} copies left in the sent folder",
        sent.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_a_zip_with_mails_documents_facts_and_a_cover_note() {
    let app = spawn_app().await;
    let applicant = "kaemmerei@auskunftstadt.test";
    let raw = application_of(
        &app,
        applicant,
        "Auskunftstadt",
        "e-1@auskunftstadt.test",
        "Motivation",
    );
    app.deliver(applicant, &raw).await;
    app.wait_for_mail(applicant, 1).await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM outbox WHERE state = 'sent' AND application_id IS NOT NULL",
        1,
    )
    .await;
    let reference = reference_of(&app, applicant).await;
    let out = app.dir.path().join("auskunft.zip");
    let run = app.cli(&["export", &reference, "--out", out.to_str().unwrap()]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let names: Vec<String> = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().unwrap().to_string())
        .collect();
    assert!(names.contains(&"Auskunft.txt".to_string()), "{names:?}");
    assert!(names.contains(&"daten.json".to_string()), "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("eingang/") && n.ends_with(".eml")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("gesendet/") && n.ends_with(".eml")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n == "dokumente/01-fragebogen_ews7.docx"),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n == "dokumente/02-motivationsschreiben.pdf"),
        "{names:?}"
    );
    let read = |zip: &mut zip::ZipArchive<std::fs::File>, name: &str| {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut s).unwrap();
        s
    };
    let note = read(&mut zip, "Auskunft.txt");
    assert!(
        note.contains("Auskunft nach Art. 15 DSGVO") && note.contains(&reference),
        "{note}"
    );
    assert!(note.contains("Ihre"), "{note}");
    let data: serde_json::Value = serde_json::from_str(&read(&mut zip, "daten.json")).unwrap();
    assert_eq!(data["bewerbung"]["applicant"], applicant);
    assert!(data["dokumente"].as_array().unwrap().len() == 2, "{data}");
    let eml = read(
        &mut zip,
        names.iter().find(|n| n.starts_with("eingang/")).unwrap(),
    );
    assert!(eml.contains("e-1@auskunftstadt.test"), "{eml}");
    // Never overwritten.
    let again = app.cli(&["export", &reference, "--out", out.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
}

/// At least 20 characters (part 8 refuses shorter secrets).
const COMMAND_SECRET: &str = "geheim-4711-lang-genug-fuer-loeschen";

async fn app_with_secret() -> TestApp {
    spawn_app_with_env(
        Deadline::Future,
        "",
        &[("POSTBOTE_STAFF__COMMAND_SECRET", COMMAND_SECRET)],
    )
    .await
}

/// A fresh command mail from staff with `secret`.
async fn command(app: &TestApp, id: &str, body: &str, secret: &str) {
    let date = Utc::now().to_rfc2822();
    let raw = format!(
        "From: Leitung <{STAFF}>\r\nTo: {PROJECT}\r\nSubject: Befehl\r\nDate: {date}\r\n\
         Message-ID: <{id}@leitung.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         {body}\r\nKennwort: {secret}\r\n"
    );
    app.deliver(STAFF, &raw).await;
}

/// One application from `applicant`, confirmed and filed; its reference.
async fn applied(app: &TestApp, applicant: &str, kommune: &str, id: &str) -> String {
    let raw = application_of(app, applicant, kommune, id, "Motivation");
    app.deliver(applicant, &raw).await;
    app.wait_for_mail(applicant, 1).await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM outbox WHERE state = 'sent' AND application_id IS NOT NULL",
        1,
    )
    .await;
    wait_inbox_empty(app).await;
    reference_of(app, applicant).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auskunft_by_mail_sends_the_zip_to_staff_and_nothing_to_the_applicant() {
    let app = app_with_secret().await;
    let applicant = "kaemmerei@mailauskunft.test";
    let reference = applied(
        &app,
        applicant,
        "Mailauskunftstadt",
        "ma-1@mailauskunft.test",
    )
    .await;

    command(
        &app,
        "ma-cmd-1",
        &format!("AUSKUNFT {reference}"),
        COMMAND_SECRET,
    )
    .await;

    let title = format!("Auskunft nach Art. 15 DSGVO: {reference}");
    let mail = wait_subject(&app, STAFF, &title).await;
    let parsed = mail_parser::MessageParser::default()
        .parse(mail.as_bytes())
        .expect("parseable");
    let zip_part = parsed
        .attachments()
        .find(|a| {
            use mail_parser::MimeHeaders;
            a.attachment_name().is_some_and(|n| n.ends_with(".zip"))
        })
        .expect("a ZIP attachment");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip_part.contents().to_vec()))
        .expect("a valid ZIP");
    let names: Vec<String> = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().unwrap().to_string())
        .collect();
    assert!(names.contains(&"daten.json".to_string()), "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("eingang/") && n.ends_with(".eml")),
        "{names:?}"
    );
    let mut data = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("daten.json").unwrap(), &mut data).unwrap();
    assert!(data.contains(&reference), "{data}");
    // The command's reply says where the export goes.
    let reply = wait_subject(&app, STAFF, "Ergebnis Ihres Befehls").await;
    assert!(text(&reply).contains("Auskunft zu"), "{}", text(&reply));
    // Exactly one export mail, tied to the application; the request is done.
    app.wait_for_count(
        "SELECT COUNT(*) FROM privacy_requests WHERE kind = 'export' AND state = 'done'",
        1,
    )
    .await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM outbox WHERE idempotency_key LIKE 'privacy-export:%' \
             AND application_id IS NOT NULL"
        )
        .await,
        1
    );
    // The applicant got their confirmation and nothing else.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(app.mails_in(applicant, "INBOX").await.len(), 1);
    let status = app.cli(&["status"]);
    let out = String::from_utf8_lossy(&status.stdout);
    assert!(!out.contains("export request"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loeschen_by_mail_previews_first_erases_only_when_confirmed_and_never_without_the_secret() {
    let app = app_with_secret().await;
    let applicant = "engagement@loeschhausen.test";
    let other = "rathaus@bleibstadt.test";
    let reference = applied(
        &app,
        applicant,
        "Stadt Loeschhausen",
        "lo-1@loeschhausen.test",
    )
    .await;
    let raw = application_of(
        &app,
        other,
        "Bleibstadt",
        "lo-2@bleibstadt.test",
        "Motivation",
    );
    app.deliver(other, &raw).await;
    app.wait_for_mail(other, 1).await;
    wait_inbox_empty(&app).await;
    assert!(!mailbox_holds(&app, "loeschhausen").await.is_empty());

    // (3) A wrong secret: refused, nothing erased, nothing requested.
    command(
        &app,
        "lo-cmd-0",
        &format!("LÖSCHEN {reference} BESTÄTIGT"),
        "falsches-kennwort-lang-genug-1234",
    )
    .await;
    wait_subject(&app, STAFF, "Befehl abgelehnt").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM privacy_requests").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 2);

    // (2a) LÖSCHEN alone: a preview with counts, nothing erased.
    command(
        &app,
        "lo-cmd-1",
        &format!("LÖSCHEN {reference}"),
        COMMAND_SECRET,
    )
    .await;
    let preview = wait_subject(&app, STAFF, "Vorschau der Löschung").await;
    let body = text(&preview);
    assert!(body.contains("Bewerbungen: 1"), "{body}");
    assert!(
        body.contains(&format!("LÖSCHEN {reference} BESTÄTIGT")),
        "{body}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 2);
    assert!(!mailbox_holds(&app, "loeschhausen").await.is_empty());

    // (2b) Confirmed: the application goes, in the database and the mailbox.
    command(
        &app,
        "lo-cmd-2",
        &format!("LÖSCHEN {reference} BESTÄTIGT"),
        COMMAND_SECRET,
    )
    .await;
    let result = wait_subject(&app, STAFF, &format!("Bewerbung {reference} gelöscht")).await;
    let body = text(&result);
    assert!(body.contains("Bewerbungen: 1"), "{body}");
    assert!(!body.to_lowercase().contains("loeschhausen"), "{body}");
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 1);
    let out = app.cli(&["applications"]);
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(!list.contains(&reference), "{list}");
    assert!(list.to_lowercase().contains("bleibstadt"), "{list}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM erasures WHERE reason = 'command'")
            .await,
        1
    );
    wait_subjects(&app, STAFF, "Ergebnis Ihres Befehls", 2).await;
    let holds = mailbox_holds(&app, "loeschhausen").await;
    assert!(holds.is_empty(), "{holds:?}");
    assert!(database_holds(&app, "loeschhausen").is_empty());
}

/// Runs the CLI and asserts it succeeded; returns stdout.
fn cli_ok(app: &TestApp, args: &[&str]) -> String {
    let out = app.cli(args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The references of the stored applications, sorted.
async fn references(app: &TestApp) -> Vec<String> {
    let store = app.store().await;
    let r: Vec<String> =
        sqlx::query_scalar("SELECT reference FROM applications ORDER BY reference")
            .fetch_all(store.pool())
            .await
            .expect("references");
    store.close().await;
    r
}

/// Counts rows of `table` tied to the application `reference`.
async fn tied(app: &TestApp, table: &str, reference: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM {table} WHERE application_id IN \
         (SELECT id FROM applications WHERE reference = '{reference}')"
    ))
    .await
}

/// Waits until every sent mail's copy is filed (stored as `own` and out of the INBOX).
async fn wait_copies_filed(app: &TestApp) {
    app.wait_for_count(
        "SELECT COUNT(*) FROM outbox o WHERE o.state = 'sent' AND NOT EXISTS \
         (SELECT 1 FROM messages m WHERE m.message_id = o.message_id AND m.state != 'received')",
        0,
    )
    .await;
    wait_inbox_empty(app).await;
}

/// One application per municipality, from `from`, confirmed; its reference.
async fn apply_as(app: &TestApp, from: &str, kommune: &str) -> String {
    let id = format!(
        "{}@{}",
        kommune.to_lowercase(),
        from.split('@').nth(1).unwrap_or("x")
    );
    let raw = application_of(app, from, kommune, &id, &format!("Motivation {kommune}"));
    app.deliver(from, &raw).await;
    app.wait_for_mail(from, 1).await;
    reference_of(app, from).await
}

fn months(t: chrono::DateTime<Utc>, n: u32) -> chrono::DateTime<Utc> {
    t.checked_add_months(chrono::Months::new(n))
        .expect("months")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_and_waitlisted_applications_go_six_months_after_the_notices_and_nothing_else() {
    // Sent copies kept forever here, so that the sent folder shows what the
    // not-selected rule itself removes.
    let start = Utc::now();
    let app = spawn_app_with_clock(
        Deadline::Future,
        &[("POSTBOTE_RETENTION__SENT_DAYS", "0")],
        start,
    )
    .await;
    let towns = [
        ("rathaus@absagehausen.test", "Absagehausen"),
        ("info@wartebergen.test", "Wartebergen"),
        ("post@zusagefeld.test", "Zusagefeld"),
        ("amt@offenstadt.test", "Offenstadt"),
    ];
    let mut refs = Vec::new();
    for (from, kommune) in towns {
        refs.push(apply_as(&app, from, kommune).await);
    }
    let (rejected, waitlisted, accepted, undecided) = (&refs[0], &refs[1], &refs[2], &refs[3]);
    for (r, outcome) in [
        (rejected, "reject"),
        (waitlisted, "waitlist"),
        (accepted, "accept"),
    ] {
        cli_ok(&app, &["decisions", "set", r, outcome, "--persons", "1"]);
    }
    cli_ok(&app, &["decisions", "release", "--yes"]);
    app.wait_for_count(
        "SELECT COUNT(*) FROM outbox WHERE purpose LIKE 'decision%' AND state = 'sent'",
        3,
    )
    .await;
    wait_copies_filed(&app).await;
    let docs_before: Vec<i64> = {
        let mut v = Vec::new();
        for r in &refs {
            v.push(tied(&app, "documents", r).await);
        }
        v
    };
    assert!(docs_before.iter().all(|n| *n == 2), "{docs_before:?}");
    for (_, kommune) in towns {
        assert!(!database_holds(&app, kommune).is_empty(), "{kommune}");
        let folders = mailbox_holds(&app, kommune).await;
        assert!(
            folders.iter().any(|(f, _)| f.contains("Verarbeitet"))
                && folders
                    .iter()
                    .any(|(f, _)| f == crate::helpers::SENT_FOLDER),
            "{kommune}: {folders:?}"
        );
    }
    let participants = app.count("SELECT COUNT(*) FROM participants").await;
    assert!(participants > 0);

    // Six months minus a day after the release: everything stays.
    app.tick_at(months(start, 6) - Duration::days(1)).await;
    assert_eq!(references(&app).await, refs);
    for (_, kommune) in towns {
        assert!(!mailbox_holds(&app, kommune).await.is_empty(), "{kommune}");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM erasures WHERE reference IS NOT NULL")
            .await,
        0
    );

    // Six months plus a day: the rejected and the waitlisted application go
    // (rows, documents, raw mails, the copies in every folder); the accepted
    // and the undecided one stay, whole.
    app.tick_at(months(start, 6) + Duration::days(1)).await;
    assert_eq!(
        references(&app).await,
        vec![accepted.clone(), undecided.clone()]
    );
    for (i, r) in refs.iter().enumerate().skip(2) {
        assert_eq!(tied(&app, "documents", r).await, docs_before[i], "{r}");
        assert!(tied(&app, "messages", r).await > 0, "{r}");
        assert!(tied(&app, "outbox", r).await > 0, "{r}");
    }
    assert_eq!(tied(&app, "decisions", accepted).await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM decisions").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM participants").await,
        participants
    );
    for (from, kommune) in &towns[..2] {
        for needle in [*kommune, *from] {
            assert_gone(&app, needle).await;
        }
    }
    for (_, kommune) in &towns[2..] {
        assert!(!database_holds(&app, kommune).is_empty(), "{kommune}");
        let folders = mailbox_holds(&app, kommune).await;
        assert!(
            folders.iter().any(|(f, _)| f.contains("Verarbeitet"))
                && folders
                    .iter()
                    .any(|(f, _)| f == crate::helpers::SENT_FOLDER),
            "{kommune}: {folders:?}"
        );
    }
    let store = app.store().await;
    let logged: Vec<String> = sqlx::query_scalar(
        "SELECT reference FROM erasures WHERE reason = 'retention' AND reference IS NOT NULL",
    )
    .fetch_all(store.pool())
    .await
    .expect("erasures");
    store.close().await;
    assert_eq!(logged, vec![format!("{rejected},{waitlisted}")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecided_go_a_year_after_the_first_mail_and_participants_a_year_after_the_last_event() {
    let start = Utc::now();
    let app = spawn_app_with_clock(Deadline::Future, &[], start).await;
    let towns = [
        ("post@teilnahmefeld.test", "Teilnahmefeld"),
        ("amt@unentschiedenau.test", "Unentschiedenau"),
    ];
    let accepted = apply_as(&app, towns[0].0, towns[0].1).await;
    let undecided = apply_as(&app, towns[1].0, towns[1].1).await;
    cli_ok(
        &app,
        &["decisions", "set", &accepted, "accept", "--persons", "1"],
    );
    cli_ok(&app, &["decisions", "release", "--yes"]);
    app.wait_for_count(
        "SELECT COUNT(*) FROM outbox WHERE purpose LIKE 'decision%' AND state = 'sent'",
        1,
    )
    .await;
    wait_copies_filed(&app).await;
    // A rejection recorded after the release and never released: the
    // applicant was never told, so it counts as undecided (not kept forever).
    cli_ok(
        &app,
        &["decisions", "set", &undecided, "reject", "--persons", "1"],
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM decisions WHERE notice = 'held'")
            .await,
        1
    );
    let participants = app.count("SELECT COUNT(*) FROM participants").await;
    assert!(participants > 0);
    let docs = tied(&app, "documents", &accepted).await;
    assert_eq!(docs, 2);

    // A year minus a day after the first mail: both stay.
    app.tick_at(months(start, 12) - Duration::days(1)).await;
    assert_eq!(
        references(&app).await,
        vec![accepted.clone(), undecided.clone()]
    );

    // A year plus a day: the undecided one goes, from the database and the
    // processed folder; the participant stays, whole.
    app.tick_at(months(start, 12) + Duration::days(1)).await;
    assert_eq!(references(&app).await, vec![accepted.clone()]);
    for needle in [towns[1].0, towns[1].1] {
        assert_gone(&app, needle).await;
    }
    assert_eq!(tied(&app, "documents", &accepted).await, docs);
    assert_eq!(tied(&app, "decisions", &accepted).await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM decisions").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM participants").await,
        participants
    );
    assert!(!mailbox_holds(&app, towns[0].1).await.is_empty());

    // The programme's last event, plus a year minus a day: still there.
    let end = postbote::retention::programme_end(&app.programme()).expect("an end");
    app.tick_at(months(end, 12) - Duration::days(1)).await;
    assert_eq!(references(&app).await, vec![accepted.clone()]);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM participants").await,
        participants
    );

    // Plus a day: the participant goes, with the roster.
    app.tick_at(months(end, 12) + Duration::days(1)).await;
    assert_eq!(references(&app).await, Vec::<String>::new());
    assert_eq!(app.count("SELECT COUNT(*) FROM participants").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM decisions").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM documents").await, 0);
    for needle in [towns[0].0, towns[0].1] {
        assert_gone(&app, needle).await;
    }
}
