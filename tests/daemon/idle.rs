//! Issue 14, point 4: an idle daemon wakes only for work. The scheduler
//! sleeps until its next planned pass and the sender until mail is due, so
//! a CLI command (another process) wakes the daemon with SIGUSR1; and a
//! scheduler that lets its planned pass go by makes `status` exit 1.

use crate::binary::{Daemon, postbote};
use crate::helpers::{TestApp, poll_until, spawn_app};
use std::time::Duration;

/// How long queued mail may take to reach the recipient's mailbox once a
/// CLI command queued it (the daemon is woken at once; the rest is SMTP and
/// Dovecot's delivery).
const PROMPTLY: Duration = Duration::from_secs(20);

/// The real binary on the test's servers (it takes the database lock and
/// writes its pid there, which the CLI reads).
async fn start_binary(app: &mut TestApp, extra: &[(&str, &str)]) -> Daemon {
    app.stop_daemon().await;
    let env = app.env_with(extra);
    let daemon = Daemon::start(&app.config_path, &env, &app.dir.path().join("run.log"));
    // Idle: a mailbox check done, the scheduler's first pass recorded.
    app.wait_for_count(
        "SELECT COUNT(*) FROM health WHERE key IN ('mailbox.last_ok', 'scheduler.next_pass')",
        2,
    )
    .await;
    daemon
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_queued_by_a_cli_command_while_the_daemon_idles_leaves_promptly() {
    // Arrange: the daemon idle, a participant on the roster.
    let mut app = spawn_app().await;
    let mut daemon = start_binary(&mut app, &[("RUST_LOG", "info,postbote::startup=debug")]).await;
    let participant = "teilnehmerin@stadt.test";
    let csv = app.dir.path().join("roster.csv");
    std::fs::write(
        &csv,
        format!("kommune,name,email\nStadt A,Erika Muster,{participant}\n"),
    )
    .unwrap();
    let import = app.cli(&["participants", "import", csv.to_str().unwrap()]);
    assert!(import.status.success(), "{import:?}");

    // Act: the welcome (one mail per participant) queued by the CLI.
    let welcome = app.cli(&["participants", "welcome"]);

    // Assert: the CLI woke the daemon, and the mail arrives within seconds.
    assert!(welcome.status.success(), "{welcome:?}");
    let log = daemon.log();
    poll_until(
        "the daemon woken by SIGUSR1",
        PROMPTLY,
        Duration::from_millis(50),
        async || {
            let log = daemon.log();
            if log.contains("SIGUSR1 received") {
                Ok(())
            } else {
                Err(log)
            }
        },
    )
    .await;
    poll_until(
        "the welcome in the participant's mailbox",
        PROMPTLY,
        Duration::from_millis(100),
        async || match app.mails_in(participant, "INBOX").await.len() {
            0 => Err("no mail yet".to_string()),
            _ => Ok(()),
        },
    )
    .await;
    let (status, _) = daemon.stop_within(Duration::from_secs(40)).await;
    assert!(status.success(), "{status}\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_exits_1_when_the_scheduler_lets_its_planned_pass_go_by() {
    // Arrange: a digest every 5 s, so the next pass is planned within
    // seconds; a debug-build hook makes the second pass never end, as a pass
    // stuck in a step would; a pass 1 s overdue counts.
    let mut app = spawn_app().await;
    let late = ("POSTBOTE_HEALTH__SCHEDULER_LATE_AFTER_SECS", "1");
    let mut daemon = start_binary(
        &mut app,
        &[
            ("POSTBOTE_DIGEST__ENABLED", "true"),
            ("POSTBOTE_DIGEST__CRON", "*/5 * * * * *"),
            ("POSTBOTE_TEST_SCHEDULER_STALL_AFTER", "1"),
            late,
        ],
    )
    .await;
    // `status` judges by its own settings: the same limit.
    let env = app.env_with(&[late]);
    let status = || postbote(&app.config_path, &env, &["status", "--json"]);
    let first = status();
    assert!(first.status.success(), "{first:?}\n{}", daemon.log());

    // Act: wait for the planned pass to go by.
    let json = poll_until(
        "`postbote status` to exit 1",
        Duration::from_secs(30),
        Duration::from_millis(300),
        async || {
            let out = status();
            match out.status.code() {
                Some(1) => Ok(out),
                _ => Err(format!("{out:?}")),
            }
        },
    )
    .await;

    // Assert: the scheduler is named as the problem, and only it: the
    // mailbox is checked and nothing else is wrong.
    let out = String::from_utf8_lossy(&json.stdout).into_owned();
    let status: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let problems: Vec<&str> = status["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert_eq!(problems.len(), 1, "{problems:?}\n{out}");
    assert!(problems[0].contains("scheduler"), "{problems:?}");
    assert!(problems[0].contains("overdue"), "{problems:?}");
    assert!(daemon.log().contains("the scheduler pass stalls"));
    let (exit, _) = daemon.stop_within(Duration::from_secs(40)).await;
    assert!(exit.success(), "{exit}\n{}", daemon.log());
}
