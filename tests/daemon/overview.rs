//! Part 9, the overview: `ÜBERSICHT` by mail answers with the summary and the
//! spreadsheet attached, `postbote applications --export` writes the same
//! spreadsheet; both are opened with Python's openpyxl (an independent
//! reader) and must have typed cells, German headers, a frozen header row and
//! filters. `HILFE` answers with every command of the parser's table.

use crate::fixtures::{filled_pdf_fields, mail, pdf_letter};
use crate::helpers::Deadline;
use crate::helpers::{
    PROJECT, STAFF, TestApp, spawn_app_with_env, text, wait_inbox_empty, wait_subject,
};
use chrono::{NaiveDate, Utc};
use std::os::unix::fs::PermissionsExt;

/// At least 20 characters (part 8 refuses shorter secrets).
const COMMAND_SECRET: &str = "geheim-4711-lang-genug-fuer-uebersicht";

async fn app_with_secret() -> TestApp {
    spawn_app_with_env(
        Deadline::Future,
        "",
        &[("POSTBOTE_STAFF__COMMAND_SECRET", COMMAND_SECRET)],
    )
    .await
}

/// A fresh command mail from staff with the secret.
async fn command(app: &TestApp, id: &str, body: &str) {
    let date = Utc::now().to_rfc2822();
    let raw = format!(
        "From: Leitung <{STAFF}>\r\nTo: {PROJECT}\r\nSubject: Befehl\r\nDate: {date}\r\n\
         Message-ID: <{id}@leitung.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         {body}\r\nKennwort: {COMMAND_SECRET}\r\n"
    );
    app.deliver(STAFF, &raw).await;
}

fn days(app: &TestApp) -> Vec<NaiveDate> {
    app.programme()
        .interview_days
        .iter()
        .map(|d| d.slot.start.date_naive())
        .collect()
}

/// One application with a PDF questionnaire (municipality, contact person,
/// hours per week), confirmed and filed; its reference.
async fn applied(app: &TestApp, applicant: &str, kommune: &str, hours: &str, id: &str) -> String {
    let d = days(app);
    let form = filled_pdf_fields(
        &app.programme(),
        &[d[0], d[2]],
        &[
            ("kommune_name", kommune),
            ("person_name", "Erika Muster"),
            ("person_email", applicant),
            ("vorgesetzte_name", "Dr. Chef"),
            ("vorgesetzte_email", "chef@kommune.test"),
            ("wochenstunden", hours),
        ],
        "Ja",
    );
    let raw = mail(
        applicant,
        id,
        "Bewerbung EWS 7",
        &format!("Anbei unsere Unterlagen, {kommune}."),
        &[
            ("Fragebogen_EWS7.pdf", "application/pdf", form),
            (
                "Motivationsschreiben.pdf",
                "application/pdf",
                pdf_letter("Motivation", 1),
            ),
        ],
    );
    app.deliver(applicant, &raw).await;
    app.wait_for_mail(applicant, 1).await;
    wait_inbox_empty(app).await;
    let store = app.store().await;
    let r: String = sqlx::query_scalar("SELECT reference FROM applications WHERE applicant = ?")
        .bind(applicant)
        .fetch_one(store.pool())
        .await
        .expect("reference");
    store.close().await;
    r
}

/// What `tests/overview/check_xlsx.py` (openpyxl) reads from the file.
fn open_with_openpyxl(path: &std::path::Path) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/overview/check_xlsx.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(path)
        .output()
        .expect("python3 runs (scripts/install-test-deps.sh installs openpyxl)");
    assert!(
        out.status.success(),
        "openpyxl could not open the spreadsheet: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from check_xlsx.py")
}

/// The checks both ways of getting the spreadsheet share; the rows by reference.
fn check_sheet(
    sheet: &serde_json::Value,
    references: &[&str],
) -> std::collections::HashMap<String, Vec<serde_json::Value>> {
    assert_eq!(
        sheet["sheets"],
        serde_json::json!(["Bewerbungen"]),
        "{sheet}"
    );
    assert_eq!(sheet["freeze"], "A2", "the header row is frozen: {sheet}");
    let filter = sheet["filter"].as_str().expect("an autofilter");
    assert!(filter.starts_with("A1:"), "{filter}");
    let headers: Vec<&str> = sheet["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    for h in [
        "Aktenzeichen",
        "Kommune",
        "Art",
        "Ansprechperson",
        "Vorgesetzte Person",
        "Wochenstunden",
        "Eingang",
        "Vollständig",
        "Verspätet",
        "Gesprächstermine angekreuzt",
        "Gespräch",
        "Entscheidung",
        "Unterlagen",
    ] {
        assert!(headers.contains(&h), "{h} missing in {headers:?}");
    }
    let col = |name: &str| headers.iter().position(|h| *h == name).unwrap();
    let mut by_reference = std::collections::HashMap::new();
    for row in sheet["rows"].as_array().unwrap() {
        let cells = row.as_array().unwrap().clone();
        let reference = cells[col("Aktenzeichen")]["value"]
            .as_str()
            .unwrap()
            .to_string();
        // Typed cells: a date-time with a German format, a number, booleans.
        let received = &cells[col("Eingang")];
        assert_eq!(received["type"], "datetime", "{received}");
        assert!(
            received["format"]
                .as_str()
                .unwrap()
                .starts_with("dd.mm.yyyy"),
            "{received}"
        );
        let hours = &cells[col("Wochenstunden")];
        assert!(
            hours["type"] == "float" || hours["type"] == "int",
            "hours is a number: {hours}"
        );
        assert_eq!(cells[col("Vollständig")]["type"], "bool");
        assert_eq!(cells[col("Verspätet")]["type"], "bool");
        assert_eq!(cells[col("Verspätet")]["value"], false);
        assert_eq!(cells[col("Ansprechperson")]["value"], "Erika Muster");
        assert_eq!(cells[col("Vorgesetzte Person")]["value"], "Dr. Chef");
        let ticked = cells[col("Gesprächstermine angekreuzt")]["value"]
            .as_str()
            .unwrap_or("");
        assert_eq!(ticked.matches(';').count(), 1, "two days ticked: {ticked}");
        let docs = cells[col("Unterlagen")]["value"].as_str().unwrap();
        assert!(
            docs.contains("Fragebogen: Fragebogen_EWS7.pdf")
                && docs.contains("Motivationsschreiben: Motivationsschreiben.pdf"),
            "{docs}"
        );
        by_reference.insert(reference, cells);
    }
    let mut got: Vec<&str> = by_reference.keys().map(String::as_str).collect();
    got.sort();
    let mut want = references.to_vec();
    want.sort();
    assert_eq!(got, want, "one row per application");
    let _ = col("Kommune");
    by_reference
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uebersicht_by_mail_attaches_the_spreadsheet_and_the_cli_exports_it() {
    let app = app_with_secret().await;
    let a = applied(
        &app,
        "rathaus@tabellenstadt.test",
        "Tabellenstadt",
        "19,5",
        "ov-1@tabellenstadt.test",
    )
    .await;
    let b = applied(
        &app,
        "amt@zeilendorf.test",
        "Zeilendorf",
        "20",
        "ov-2@zeilendorf.test",
    )
    .await;

    command(&app, "ov-cmd-1", "ÜBERSICHT").await;
    let mail = wait_subject(&app, STAFF, "Übersicht der Bewerbungen").await;
    let body = text(&mail);
    assert!(
        body.contains("Bewerbungen: 2, davon vollständig 2, verspätet 0"),
        "{body}"
    );
    assert!(
        body.contains("Gespräche: 0 geplant, 0 stattgefunden"),
        "{body}"
    );
    assert!(body.contains("Entscheidungen: 0 Zusage"), "{body}");
    assert!(body.contains("Teilnehmende: 0"), "{body}");
    assert!(body.contains(&a) && body.contains(&b), "{body}");
    let parsed = mail_parser::MessageParser::default()
        .parse(mail.as_bytes())
        .expect("parseable");
    let xlsx = parsed
        .attachments()
        .find(|a| {
            use mail_parser::MimeHeaders;
            a.attachment_name().is_some_and(|n| n.ends_with(".xlsx"))
        })
        .expect("an XLSX attachment");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mail.xlsx");
    std::fs::write(&path, xlsx.contents()).unwrap();
    let rows = check_sheet(&open_with_openpyxl(&path), &[&a, &b]);
    let headers_hours = |r: &str| {
        let sheet = open_with_openpyxl(&path);
        let headers = sheet["headers"].as_array().unwrap().clone();
        let i = headers.iter().position(|h| h == "Wochenstunden").unwrap();
        rows[r][i]["value"].as_f64().unwrap()
    };
    assert_eq!(headers_hours(&a), 19.5);
    assert_eq!(headers_hours(&b), 20.0);
    // The command's reply says where the spreadsheet went.
    let reply = wait_subject(&app, STAFF, "Ergebnis Ihres Befehls").await;
    assert!(
        text(&reply).contains("Übersicht gesendet"),
        "{}",
        text(&reply)
    );
    // Exactly one overview mail for the command, to staff, tied to no application.
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM outbox WHERE idempotency_key LIKE 'staff-overview:%' \
             AND application_id IS NULL"
        )
        .await,
        1
    );
    // An unknown code is refused and sends nothing.
    command(&app, "ov-cmd-2", "ÜBERSICHT EWS99").await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM outbox WHERE idempotency_key LIKE 'staff-command:%'",
        2,
    )
    .await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE idempotency_key LIKE 'staff-overview:%'")
            .await,
        1
    );

    // The CLI: a new file, mode 0600, never overwritten.
    let out_path = dir.path().join("export.xlsx");
    let out = app.cli(&["applications", "--export", out_path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = std::fs::metadata(&out_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    check_sheet(&open_with_openpyxl(&out_path), &[&a, &b]);
    let code = app.programme().code.clone();
    let again = app.cli(&[
        "applications",
        "--export",
        out_path.to_str().unwrap(),
        "--programme",
        &code,
    ]);
    assert!(
        !again.status.success(),
        "an existing file is never overwritten"
    );
    let other = dir.path().join("one.xlsx");
    let out = app.cli(&[
        "applications",
        "--export",
        other.to_str().unwrap(),
        "--programme",
        &code,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_sheet(&open_with_openpyxl(&other), &[&a, &b]);
    let out = app.cli(&[
        "applications",
        "--export",
        dir.path().join("none.xlsx").to_str().unwrap(),
        "--programme",
        "EWS99",
    ]);
    assert_eq!(out.status.code(), Some(2));

    // Erasing one application erases the overview mail that names it.
    let out = app.cli(&["forget", &a, "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE idempotency_key LIKE 'staff-overview:%'")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hilfe_answers_with_every_command_of_the_table() {
    let app = app_with_secret().await;
    command(&app, "hilfe-1", "HILFE").await;
    let reply = wait_subject(&app, STAFF, "Ergebnis Ihres Befehls").await;
    let body = text(&reply);
    for spec in postbote::workflow::commands::parse::COMMANDS {
        assert!(
            body.contains(spec.syntax),
            "{} missing:\n{body}",
            spec.syntax
        );
        assert!(
            body.contains(&format!("Beispiel: {}", spec.example)),
            "{} missing:\n{body}",
            spec.example
        );
    }
}
