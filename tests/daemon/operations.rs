//! Operations (part 7): one daemon per database, only `run` and `migrate`
//! change the schema, CLI calls while the daemon starts, the shipped systemd
//! unit, private database files and `postbote backup`.

use crate::binary::{Daemon, maildir_config, postbote, wait_healthy};
use crate::helpers::{application, spawn_app, wait_inbox_empty};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

const STOP: Duration = Duration::from_secs(25);

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_the_same_database_refuses_to_start_and_names_the_lock_and_its_holder() {
    // Arrange: one daemon running.
    let dir = tempfile::tempdir().unwrap();
    let config = maildir_config(dir.path());
    let mut first = Daemon::start(&config, &[], &dir.path().join("first.log"));
    wait_healthy(&config, &mut first, Duration::from_secs(30)).await;
    // Act: a second daemon, and a migration, on the same database.
    let second = postbote(&config, &[], &["run"]);
    let migrate = postbote(&config, &[], &["migrate"]);
    // Assert: both refused at once, naming the lock file and the holder.
    let lock = dir.path().join("postbote.sqlite.lock");
    let holder = format!("pid {}, `postbote run`", first.pid());
    for (what, out) in [("run", &second), ("migrate", &migrate)] {
        let t = text(out);
        assert_eq!(out.status.code(), Some(2), "{what}: {t}");
        assert!(t.contains(&lock.display().to_string()), "{what}: {t}");
        assert!(t.contains(&holder), "{what}: {t}");
    }
    assert!(text(&migrate).contains("stop the daemon first"));
    assert!(first.exited().is_none(), "the first daemon must go on");
    assert_eq!(mode(&lock), 0o600);
    let (status, _) = first.stop_within(STOP).await;
    assert!(status.success(), "{status}: {}", first.log());
    // After the daemon: migrate takes the lock, and there is nothing to do.
    let migrate = postbote(&config, &[], &["migrate"]);
    assert!(migrate.status.success(), "{}", text(&migrate));
    assert!(text(&migrate).contains("up to date"), "{}", text(&migrate));
}

#[test]
fn migrate_creates_the_schema_and_other_commands_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let config = maildir_config(dir.path());
    let db = dir.path().join("postbote.sqlite");
    // No database: commands that read or change data refuse and create nothing.
    for args in [
        &["applications", "--json"][..],
        &["participants", "list"][..],
        &["decisions", "release", "--yes"][..],
    ] {
        let out = postbote(&config, &[], args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("no database at"), "{}", text(&out));
    }
    assert!(
        !db.exists(),
        "a command other than run/migrate created the database"
    );
    // An empty file (a daemon that has just created it): not migrated by a command.
    std::fs::write(&db, b"").unwrap();
    let csv = dir.path().join("roster.csv");
    std::fs::write(
        &csv,
        "kommune,name,email\nStadt A,Erika Muster,erika@a.test\n",
    )
    .unwrap();
    let import = postbote(
        &config,
        &[],
        &["participants", "import", csv.to_str().unwrap()],
    );
    assert_eq!(import.status.code(), Some(2), "{}", text(&import));
    assert!(
        text(&import).contains("run `postbote migrate`"),
        "{}",
        text(&import)
    );
    std::fs::remove_file(&db).unwrap();
    // Act
    let migrate = postbote(&config, &[], &["migrate"]);
    // Assert: migrated, private, and now the commands work.
    assert!(migrate.status.success(), "{}", text(&migrate));
    assert!(text(&migrate).contains("applied"), "{}", text(&migrate));
    assert_eq!(mode(&db), 0o600);
    let import = postbote(
        &config,
        &[],
        &["participants", "import", csv.to_str().unwrap()],
    );
    assert!(import.status.success(), "{}", text(&import));
    let again = postbote(&config, &[], &["migrate"]);
    assert!(text(&again).contains("up to date"), "{}", text(&again));
}

/// What a CLI call may answer while the daemon creates and migrates the
/// database: success, "unhealthy", or one of these refusals.
const REFUSALS_DURING_START: [&str; 3] = [
    "no database at",
    "has no postbote schema yet",
    "migration(s) of this postbote",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_calls_in_the_second_the_daemon_starts_never_break_its_migration() {
    // Issue 11: an `applications --json` call in the second the daemon started
    // made the daemon's own migration fail ("table raw_messages already
    // exists"), and it exited. Fresh databases, CLI calls fired while the
    // daemon creates and migrates them, readers and writers alike.
    const ROUNDS: usize = 8;
    let calls: [&[&str]; 5] = [
        &["applications", "--json"],
        &["status"],
        &["outbox", "--json"],
        &["participants", "list"],
        &["participants", "import", "ROSTER"],
    ];
    let mut answered = 0;
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        let config = maildir_config(dir.path());
        let csv = dir.path().join("roster.csv");
        std::fs::write(
            &csv,
            "kommune,name,email\nStadt A,Erika Muster,erika@a.test\n",
        )
        .unwrap();
        let csv = csv.to_str().unwrap().to_string();
        // Act: the CLI callers are already running when the daemon starts.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let callers: Vec<_> = calls
            .iter()
            .map(|args| {
                let args: Vec<String> = args
                    .iter()
                    .map(|a| {
                        if *a == "ROSTER" {
                            csv.clone()
                        } else {
                            a.to_string()
                        }
                    })
                    .collect();
                let (config, stop) = (config.clone(), stop.clone());
                std::thread::spawn(move || {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let mut outcomes = Vec::new();
                    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                        let out = postbote(&config, &[], &args);
                        outcomes.push((args.join(" "), out.status.code(), text(&out)));
                    }
                    outcomes
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(30 * round as u64));
        let mut daemon = Daemon::start(&config, &[], &dir.path().join("run.log"));
        wait_healthy(&config, &mut daemon, Duration::from_secs(30)).await;
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let outcomes: Vec<_> = callers
            .into_iter()
            .flat_map(|c| c.join().expect("caller thread"))
            .collect();
        // Assert: the daemon started and stops cleanly; every call either
        // worked or refused with a message saying why.
        let (status, _) = daemon.stop_within(STOP).await;
        let log = daemon.log();
        assert!(status.success(), "round {round}: {status}\n{log}");
        assert!(
            !log.contains("cannot apply database migrations"),
            "round {round}: {log}"
        );
        for (args, code, out) in &outcomes {
            let fine = matches!(code, Some(0) | Some(1))
                || (*code == Some(2) && REFUSALS_DURING_START.iter().any(|r| out.contains(r)));
            assert!(
                fine,
                "round {round}: `postbote {args}` exited {code:?}: {out}"
            );
        }
        answered += outcomes.len();
    }
    eprintln!("{answered} CLI calls during {ROUNDS} daemon starts; every start succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_the_daemon_runs_is_a_consistent_private_copy() {
    // Arrange: the daemon has handled three applications and keeps running.
    let app = spawn_app().await;
    for i in 0..3 {
        let from = format!("amt{i}@stadt.test");
        let raw = application(&from, &format!("Stadt {i}"), &format!("bk-{i}@stadt.test"));
        app.deliver(&from, &raw).await;
    }
    app.wait_for_count("SELECT COUNT(*) FROM outbox WHERE state = 'sent'", 3)
        .await;
    // The copies of the confirmations filed too: nothing changes any more.
    wait_inbox_empty(&app).await;
    let db = app.dir.path().join("postbote.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    let target = app.dir.path().join("backup").join("copy.sqlite");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    // Act
    let out = app.cli(&["backup", target.to_str().unwrap()]);
    // Assert: written, private, intact, the same rows as the live database.
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(mode(&target), 0o600);
    let copy = sqlx::sqlite::SqlitePoolOptions::new()
        .connect_with(
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&target)
                .read_only(true),
        )
        .await
        .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&copy)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&copy)
    .await
    .unwrap();
    assert!(tables.len() > 10, "{tables:?}");
    for table in &tables {
        // NOTE: health rows change with every sweep; they are counted, not compared.
        let sql = format!("SELECT COUNT(*) FROM \"{table}\"");
        let copied: i64 = sqlx::query_scalar(&sql).fetch_one(&copy).await.unwrap();
        if table == "health" {
            continue;
        }
        assert_eq!(copied, app.count(&sql).await, "rows of {table}");
    }
    let raw: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM raw_messages")
        .fetch_one(&copy)
        .await
        .unwrap();
    assert_eq!(
        raw, 6,
        "three applications and the copies of their confirmations"
    );
    copy.close().await;
    // The copy is a postbote database of this version.
    let store = postbote::store::Store::open_existing(&target)
        .await
        .unwrap();
    store.close().await;
    // Never over an existing file.
    let before = std::fs::read(&target).unwrap();
    let again = app.cli(&["backup", target.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(
        text(&again).contains("never overwrites"),
        "{}",
        text(&again)
    );
    assert_eq!(std::fs::read(&target).unwrap(), before);
}

/// Where `systemd-analyze` is missing: skipped on a developer's machine,
/// a failure under CI=true (scripts/install-test-deps.sh installs it).
fn systemd_analyze() -> Option<&'static str> {
    let found = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("systemd-analyze");
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "systemd-analyze is missing (package systemd); scripts/install-test-deps.sh installs it"
    );
    eprintln!("skipped: systemd-analyze not installed");
    None
}

#[test]
fn the_shipped_unit_passes_systemd_analyze_verify_and_is_hardened() {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/postbote.service"),
    )
    .unwrap();
    // What the unit promises, directive by directive.
    for line in [
        "User=postbote",
        "UMask=0077",
        "StateDirectory=postbote",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "Restart=on-failure",
        "StartLimitIntervalSec=600",
        "StartLimitBurst=5",
        "Type=notify",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} missing");
    }
    let stop: u64 = unit
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .and_then(|v| v.parse().ok())
        .expect("TimeoutStopSec in seconds");
    let budget = postbote::startup::SHUTDOWN_BUDGET.as_secs();
    assert!(
        stop >= budget + 10,
        "TimeoutStopSec={stop} leaves no room over {budget} s"
    );
    let Some(analyze) = systemd_analyze() else {
        return;
    };
    // verify wants the ExecStart binary to exist: the one under test.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("postbote.service");
    let exec = format!("ExecStart={} ", env!("CARGO_BIN_EXE_postbote"));
    std::fs::write(
        &path,
        unit.replace("ExecStart=/usr/local/bin/postbote ", &exec),
    )
    .unwrap();
    let out = std::process::Command::new(analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // Unknown or misspelt directives are only warnings: none allowed.
    assert!(
        out.stderr.is_empty() && out.stdout.is_empty(),
        "{}",
        text(&out)
    );
    // And the sandbox is tight by systemd's own measure.
    let out = std::process::Command::new(analyze)
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&path)
        .output()
        .unwrap();
    let report = text(&out);
    let exposure: f64 = report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for postbote.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"));
    eprintln!("systemd-analyze security: exposure {exposure}");
    assert!(exposure <= 2.5, "exposure {exposure}:\n{report}");
}
