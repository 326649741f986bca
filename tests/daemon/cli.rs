use crate::helpers::{application, poll_until, spawn_app};
use std::process::Command;

fn postbote(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_postbote"))
        .args(args)
        .output()
        .expect("run postbote")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_healthy_after_a_mailbox_check_and_lists_work() {
    let app = spawn_app().await;
    let applicant = "kaemmerei@stadt.test";
    app.deliver(
        applicant,
        &application(applicant, "Stadt", "cli-1@stadt.test"),
    )
    .await;
    app.wait_for_mail(applicant, 1).await;
    let config = app.config_path.to_str().unwrap();
    let status = postbote(&["--config", config, "status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "status: {text}");
    assert!(text.contains("health:       OK"), "{text}");
    assert!(text.contains("sent=1"), "{text}");
    let apps = postbote(&["--config", config, "applications", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&apps.stdout).unwrap();
    assert_eq!(json[0]["applicant"], applicant);
    let outbox = postbote(&["--config", config, "outbox", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&outbox.stdout).unwrap();
    assert_eq!(json[0]["state"], "sent");
}

#[test]
fn status_is_unhealthy_without_any_mailbox_check() {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let config = dir.path().join("p.toml");
    std::fs::write(
        &config,
        format!(
            "[instance]\nname = \"t\"\ndomain = \"ews.test\"\n[mailbox]\nsource = \"maildir\"\nprocessed_folder = \"Done\"\n\
             [maildir]\npath = \"md\"\n[smtp]\ntransport = \"file\"\nfile_dir = \"out\"\n[storage]\ndatabase = \"db.sqlite\"\n\
             [mail]\nfrom_address = \"projekt@ews.test\"\nfrom_name = \"P\"\n[programme]\nfile = \"{root}/config/ews7.toml\"\n\
             [templates]\ndir = \"{root}/templates\"\n"
        ),
    )
    .unwrap();
    let out = postbote(&["--config", config.to_str().unwrap(), "status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no successful mailbox check yet"));
    let check = postbote(&["--config", config.to_str().unwrap(), "check-config"]);
    assert!(check.status.success());
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(text.contains("Do., 27.08.2026"), "{text}");
    // The faithful transcription of the seed (with its weekday slip) is refused.
    let faithful = std::fs::read_to_string(&config).unwrap().replace(
        "config/ews7.toml",
        "tests/fixtures/config/ews7-faithful.toml",
    );
    std::fs::write(&config, faithful).unwrap();
    let refused = postbote(&["--config", config.to_str().unwrap(), "check-config"]);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("ews7-faithful.toml") && err.contains("modules[2].days[0].weekday"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postbote_run_confirms_mail_and_stops_cleanly_on_sigterm() {
    // Arrange: servers and config, but the daemon as its own process this time.
    let mut app = spawn_app().await;
    app.stop_daemon().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_postbote"))
        .args([
            "--config",
            app.config_path.to_str().unwrap(),
            "--log-json",
            "run",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let applicant = "kaemmerei@stadt.test";
    app.deliver(
        applicant,
        &application(applicant, "Stadt", "sig-1@stadt.test"),
    )
    .await;
    app.wait_for_mail(applicant, 1).await;
    // Act
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let what = "postbote to stop after SIGTERM";
    let every = std::time::Duration::from_millis(20);
    let exit = poll_until(
        what,
        std::time::Duration::from_secs(40),
        every,
        async || child.try_wait().unwrap().ok_or("still running"),
    )
    .await;
    // Assert: a clean exit, JSON log lines carrying the Message-ID, no password.
    assert!(exit.success(), "exit status {exit:?}");
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
    assert!(logs.contains("SIGTERM received"), "{logs}");
    assert!(
        logs.lines().all(|l| l.trim_start().starts_with('{')),
        "not JSON: {logs}"
    );
    assert!(
        logs.contains("sig-1@stadt.test"),
        "Message-ID missing from the logs"
    );
    assert!(!logs.contains("secret"), "a password leaked into the logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_lists_every_reminder_of_the_seed_calendar() {
    use crate::helpers::{Deadline, spawn_app_with};
    // The shipped EWS 7 programme as it is (2026/2027), one participant.
    let app = spawn_app_with(Deadline::Past, "").await;
    let csv = app.dir.path().join("roster.csv");
    std::fs::write(
        &csv,
        "kommune,name,email\nStadt A,Erika Muster,erika@stadt-a.test\n",
    )
    .unwrap();
    assert!(
        app.cli(&["participants", "import", csv.to_str().unwrap()])
            .status
            .success()
    );
    // Act
    let out = app.cli(&["plan", "--all", "--json"]);
    // Assert: each confirmed event with each default offset, each tentative
    // one waiting for confirmation.
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let lines: Vec<String> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["when_local"].as_str().unwrap(),
                e["what"].as_str().unwrap()
            )
        })
        .collect();
    let programme = app.programme();
    for m in &programme.modules {
        let confirmed = m.status == postbote::config::programme::EventStatus::Confirmed;
        for offset in ["14 Tage", "2 Tage"] {
            let found = lines
                .iter()
                .any(|l| l.contains(&format!("Erinnerung {offset} vorher: {}", m.title)));
            assert_eq!(found, confirmed, "{} {offset}: {lines:#?}", m.title);
        }
        if !confirmed {
            assert!(
                lines
                    .iter()
                    .any(|l| l.contains(&format!("{}: unter Vorbehalt", m.title)))
            );
        }
    }
    for g in &programme.learning_groups {
        let confirmed = g.status == postbote::config::programme::EventStatus::Confirmed;
        for offset in ["2 Tage", "1 Stunde"] {
            let found = lines
                .iter()
                .any(|l| l.contains(&format!("Erinnerung {offset} vorher: {}", g.title)));
            assert_eq!(found, confirmed, "{} {offset}", g.title);
        }
    }
    // The 1-hour reminder of the learning group after the October change.
    assert!(
        lines.contains(&"Mi., 11.11.2026, 08:00 Uhr Erinnerung 1 Stunde vorher: 2. Treffen digitale Lerngruppe".to_string()),
        "{lines:#?}"
    );
    let text = String::from_utf8_lossy(&app.cli(&["plan", "--all"]).stdout).into_owned();
    assert!(text.contains("participant(s) on the roster"), "{text}");
}

/// The demo plays two programmes (part 9): EWS 7 taken over mid-year (roster
/// by mail, welcome, module 3 confirmed, reminders), the EWS 8 call (the
/// sample mails routed to EWS 8, interviews, selection), the overview.
#[test]
fn the_demo_plays_ews7_mid_year_the_ews8_call_and_the_overview() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("demo-run");
    let out = Command::new(env!("CARGO_BIN_EXE_postbote"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["demo", "--dir", run.to_str().unwrap()])
        .output()
        .expect("run the demo");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        // EWS 7 mid-year: the roster (Windows-1252 CSV) and the welcome.
        "Teilnehmendenliste ews7-teilnehmende.csv importiert: 6 Person(en) für EWS 7",
        "EWS7  Gemeinde Hürtgenwald",
        "participant_welcome",
        "Staff mail \"BESTÄTIGEN EWS7 MODUL 3\"",
        "event_announcement",
        "event_reminder",
        "staff_digest",
        // The EWS 8 call: routed by arrival time and subject.
        "EWS8-0001  engagement@musterhausen.example",
        "(LATE: flagged for staff)",
        "interview_invitation",
        "decision_accept",
        "reply \"[EWS 8] Ergebnis Ihres Befehls\"",
        // The overview.
        "reply \"[EWS 8] Übersicht der Bewerbungen EWS8\"",
        "attached: Uebersicht-EWS8-",
        "EWS8  Stadt Musterhausen",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    assert!(
        !text.contains("EWS7-0001"),
        "the sample mails went to EWS 7:\n{text}"
    );
    let sheet = std::fs::read(run.join("uebersicht-ews8.xlsx")).expect("the exported overview");
    assert!(sheet.starts_with(b"PK"), "not an XLSX (zip)");
    let written = std::fs::read_dir(run.join("sent")).unwrap().count();
    assert!(written >= 40, "{written} mails written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_are_not_released_with_a_placeholder_zoom_link() {
    use crate::helpers::spawn_app;
    let app = spawn_app().await;
    let applicant = "kaemmerei@stadt.test";
    app.deliver(
        applicant,
        &application(applicant, "Stadt", "zoom-1@stadt.test"),
    )
    .await;
    app.wait_for_mail(applicant, 1).await;
    let programme = app.dir.path().join("programme.toml");
    let text = std::fs::read_to_string(&programme).unwrap();
    std::fs::write(
        &programme,
        text.replace(
            "https://zoom.us/j/1234567890",
            "https://zoom.us/j/ZOOM-LINK-EINTRAGEN",
        ),
    )
    .unwrap();
    // Act
    let check = app.cli(&["check-config"]);
    let release = app.cli(&["interviews", "release"]);
    // Assert
    assert!(String::from_utf8_lossy(&check.stdout).contains("warning: EWS7: interviews.zoom_link"));
    assert_eq!(release.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&release.stderr).contains("Platzhalter"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE purpose LIKE 'interview%'")
            .await,
        0
    );
}

/// The CLI forms of the ownership commands (part 8): `applications show`
/// lists the duplicate mark, the linked addresses and held address changes;
/// `merge`, `confirm-address` and `keep` act as the mail commands do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_merge_and_confirm_an_address_change_on_the_command_line() {
    use crate::helpers::{STAFF, spawn_app_with_env, wait_subject};
    use crate::interviews::{apply, days};
    use crate::ownership::{latest_fact, questionnaire_mail};
    let app = spawn_app_with_env(
        crate::helpers::Deadline::Future,
        "",
        &[(
            "POSTBOTE_STAFF__COMMAND_SECRET",
            "geheim-4711-lang-genug-fuer-teil-8",
        )],
    )
    .await;
    let run = |args: &[&str]| {
        let out = app.cli(args);
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let d = days(&app);
    let owner = "amt@stadt-c.test";
    apply(
        &app,
        owner,
        "Stadt C",
        &[d[0]],
        &[("person_email", "erika@stadt-c.test")],
    )
    .await;
    let colleague = "kollegin@stadt-c.test";
    let raw = questionnaire_mail(
        &app,
        colleague,
        "cli-colleague-1@stadt-c.test",
        "",
        "Fragebogen-Kollegin.pdf",
        &[("kommune_name", "Stadt C")],
        false,
    );
    app.deliver(colleague, &raw).await;
    app.wait_for_mail(colleague, 1).await;
    wait_subject(&app, STAFF, "Bitte prüfen: Bewerbung EWS7-0002").await;

    // show: the mark, with the commands that resolve it.
    let (code, shown) = run(&["applications", "show", "EWS7-0002"]);
    assert_eq!(code, Some(0), "{shown}");
    assert!(
        shown.contains("POSSIBLE DUPLICATE of EWS7-0001")
            && shown.contains("postbote applications merge EWS7-0002 --into EWS7-0001"),
        "{shown}"
    );

    // merge on the command line, as ZUSAMMENFÜHREN by mail.
    let (code, out) = run(&["applications", "merge", "EWS7-0002", "--into", "EWS7-0001"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("EWS7-0002 in EWS7-0001 zusammengef"), "{out}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications WHERE id = 2 AND state = 'merged' AND merged_into = 1")
            .await,
        1
    );
    let (_, shown) = run(&["applications", "show", "EWS7-0001"]);
    assert!(
        shown.contains("linked addresses:\n  kollegin@stadt-c.test"),
        "{shown}"
    );
    // A second merge and keeping a merged or unmarked one are refused (exit 1).
    let (code, out) = run(&["applications", "merge", "EWS7-0002", "--into", "EWS7-0001"]);
    assert_eq!(code, Some(1), "{out}");
    let (code, out) = run(&["applications", "keep", "EWS7-0001"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("nicht als mögliches Duplikat"), "{out}");

    // The owner names another person: held, shown, confirmed on the command line.
    let raw = questionnaire_mail(
        &app,
        owner,
        "cli-change-1@stadt-c.test",
        "",
        "Fragebogen-neu.pdf",
        &[
            ("kommune_name", "Stadt C"),
            ("person_email", "max@stadt-c.test"),
        ],
        false,
    );
    app.deliver(owner, &raw).await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM held_address_changes WHERE state = 'held'",
        1,
    )
    .await;
    let (_, shown) = run(&["applications", "show", "EWS7-0001"]);
    assert!(
        shown.contains("held address changes")
            && shown.contains("max@stadt-c.test (was: erika@stadt-c.test)"),
        "{shown}"
    );
    assert_eq!(
        latest_fact(&app, "field:person_email").await,
        "erika@stadt-c.test"
    );
    let (code, out) = run(&["applications", "confirm-address", "EWS7-0001"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Adressänderung übernommen"), "{out}");
    assert_eq!(
        latest_fact(&app, "field:person_email").await,
        "max@stadt-c.test"
    );
    let (_, shown) = run(&["applications", "show", "EWS7-0001"]);
    assert!(!shown.contains("held address changes"), "{shown}");
    let (code, out) = run(&["applications", "reject-address", "EWS7-0001"]);
    assert_eq!(code, Some(1), "nothing held any more: {out}");

    // Forgetting the application takes the duplicate merged into it along.
    let (code, out) = run(&["forget", "EWS7-0001", "--yes"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE env_to = 'kollegin@stadt-c.test'")
            .await,
        0
    );
}
