use crate::helpers::{PROJECT, application, spawn_app};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_smtp_down_mail_is_queued_then_delivered_once_smtp_is_back() {
    // Arrange: Postfix is down; the application reaches the mailbox by IMAP APPEND.
    let app = spawn_app().await;
    app.servers.stop_postfix().unwrap();
    let applicant = "kaemmerei@stadt.test";
    let raw = application(applicant, "Stadt Musterhausen", "bw-3@stadt.test");
    app.servers
        .append(PROJECT, "INBOX", raw.as_bytes())
        .await
        .unwrap();
    // Act: the daemon queues the confirmation and fails to send it at least once.
    let failed = app
        .wait_for_count(
            "SELECT COUNT(*) FROM outbox WHERE state = 'queued' AND attempts >= 1",
            1,
        )
        .await;
    assert_eq!(failed, 1, "the send attempt should fail while SMTP is down");
    app.servers.start_postfix().unwrap();
    // Assert: delivered exactly once.
    let mails = app.wait_for_mail(applicant, 1).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(
        app.wait_for_count("SELECT COUNT(*) FROM outbox WHERE state = 'sent'", 1)
            .await,
        1
    );
    let last_error = app
        .count("SELECT COUNT(*) FROM outbox WHERE last_error IS NULL")
        .await;
    assert_eq!(last_error, 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.mails_in(applicant, "INBOX").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_imap_server_restart_the_daemon_reconnects_and_carries_on() {
    // Arrange
    let app = spawn_app().await;
    let first = "a@stadt.test";
    app.deliver(first, &application(first, "Stadt A", "bw-4@stadt.test"))
        .await;
    app.wait_for_mail(first, 1).await;
    // Act: Dovecot goes away; the daemon notices and records the error.
    app.servers.stop_dovecot().unwrap();
    let errors = app
        .wait_for_count(
            "SELECT COUNT(*) FROM health WHERE key = 'mailbox.last_error'",
            1,
        )
        .await;
    assert_eq!(errors, 1, "the lost connection should be recorded");
    app.servers.start_dovecot().unwrap();
    let second = "b@stadt.test";
    app.deliver(second, &application(second, "Stadt B", "bw-5@stadt.test"))
        .await;
    // Assert
    app.wait_for_mail(second, 1).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_idle_the_daemon_polls_and_copies_sent_mail_to_the_sent_folder() {
    // Arrange: IDLE off (as on a server without it), a Sent folder configured;
    // both through POSTBOTE_* environment overrides.
    let app = crate::helpers::spawn_app_with_env(
        crate::helpers::Deadline::Future,
        "",
        &[
            ("POSTBOTE_IMAP__USE_IDLE", "false"),
            ("POSTBOTE_IMAP__POLL_INTERVAL_SECS", "1"),
            ("POSTBOTE_IMAP__SENT_FOLDER", "Sent"),
        ],
    )
    .await;
    let applicant = "kaemmerei@stadt.test";
    // Act
    app.deliver(
        applicant,
        &application(applicant, "Stadt", "poll-1@stadt.test"),
    )
    .await;
    // Assert
    let confirmation = app.wait_for_mail(applicant, 1).await.remove(0);
    let copies = app
        .servers
        .wait_for_mail(PROJECT, "Sent", 1, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(copies.len(), 1);
    let id = crate::helpers::header(&confirmation, "Message-ID").unwrap();
    assert!(String::from_utf8_lossy(&copies[0]).contains(&id));
    assert_eq!(
        app.wait_for_count("SELECT COUNT(*) FROM outbox WHERE copied_to_sent = 1", 1)
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_delivery_failure_is_recorded_not_retried_and_shown_by_status() {
    // Arrange: an application whose sender's mailbox does not exist (550 5.1.1).
    let app = spawn_app().await;
    let applicant = crate::mail_servers::UNKNOWN_RECIPIENT;
    app.servers
        .append(
            PROJECT,
            "INBOX",
            application(applicant, "Stadt", "perm-1@stadt.test").as_bytes(),
        )
        .await
        .unwrap();
    // Act
    let failed = app
        .wait_for_count("SELECT COUNT(*) FROM outbox WHERE state = 'failed'", 1)
        .await;
    // Assert
    assert_eq!(failed, 1);
    let store = app.store().await;
    let (attempts, error): (i64, String) =
        sqlx::query_as("SELECT attempts, last_error FROM outbox WHERE state = 'failed'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(attempts, 1, "a permanent failure is not retried");
    assert!(error.contains("550"), "{error}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_postbote"))
        .args(["--config", app.config_path.to_str().unwrap(), "status"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("failed permanently"), "{text}");
}
