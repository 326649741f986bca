//! Part 7, sending: each mail once across crashes, no flood while the store
//! refuses writes, no silent stop on a wrong SMTP password, mail whose time
//! has come expires, failed mail is retried or acknowledged. Real Dovecot and
//! Postfix; deliveries counted in Postfix's log.

use crate::helpers::{
    Deadline, PROJECT, SENT_FOLDER, STAFF, TestApp, WAIT, application, header, poll_until,
    spawn_app, spawn_app_on, spawn_app_on_servers, spawn_app_with_env, wait_subject,
};
use crate::mail_servers::{Layout, MailServers, PASSWORD, UNKNOWN_RECIPIENT};
use chrono::{DateTime, Utc};
use postbote::context::App;
use postbote::domain::EmailAddress;
use postbote::outbox::{Cap, Letter};
use postbote::store::outbox::Enqueued;
use postbote::workflow::mails::StaffNotice;
use std::time::{Duration, Instant};

/// Postfix's deliveries to `to` (its `status=sent` lines).
fn deliveries(app: &TestApp, to: &str) -> usize {
    let needle = format!("to=<{to}>");
    app.servers
        .postfix_log()
        .lines()
        .filter(|l| l.contains(&needle) && l.contains("status=sent"))
        .count()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One queued mail: its row, Message-ID and bytes.
struct Queued {
    id: i64,
    message_id: String,
    raw: Vec<u8>,
}

/// Queues staff notices `(key, recipient, expires_at)` with the daemon's own
/// Mailer while the daemon is stopped.
async fn queue(app: &TestApp, mails: &[(&str, &str, Option<DateTime<Utc>>)]) -> Vec<Queued> {
    let built = App::build(app.config()).await.expect("app");
    let mut tx = built.store.begin().await.expect("begin");
    let mut ids = Vec::new();
    for (key, to, expires_at) in mails {
        let to = EmailAddress::parse(to).expect("address");
        let letter = Letter {
            expires_at: *expires_at,
            ..Letter::new("staff_notice", key.to_string(), None, &to)
        };
        let context = StaffNotice {
            short_name: "EWS 7".into(),
            title: format!("Testnachricht {key}"),
            intro: "Ein Test.".into(),
            lines: vec![],
            excerpt: String::new(),
        };
        let Enqueued::Queued(id) = built
            .mailer
            .queue(&mut tx, letter, &context, Cap::ToStaff)
            .await
            .expect("queue")
        else {
            panic!("not queued: {key}");
        };
        ids.push(id);
    }
    tx.commit().await.expect("commit");
    let mut out = Vec::new();
    for id in ids {
        let (message_id, raw): (String, Vec<u8>) =
            sqlx::query_as("SELECT message_id, raw FROM outbox WHERE id = ?")
                .bind(id)
                .fetch_one(built.store.pool())
                .await
                .expect("read row");
        out.push(Queued {
            id,
            message_id,
            raw,
        });
    }
    built.store.close().await;
    out
}

/// Queues `n` staff notices without expiry, keys `{key}:{i}`, to
/// `{local}{i}@stadt.test`; their recipients and their row ids, joined for
/// an SQL `IN (...)`.
async fn queue_backlog(app: &TestApp, local: &str, key: &str, n: usize) -> (Vec<String>, String) {
    let to: Vec<String> = (0..n).map(|i| format!("{local}{i}@stadt.test")).collect();
    let keys: Vec<String> = (0..n).map(|i| format!("{key}:{i}")).collect();
    let mails: Vec<(&str, &str, Option<DateTime<Utc>>)> = keys
        .iter()
        .zip(&to)
        .map(|(k, t)| (k.as_str(), t.as_str(), None))
        .collect();
    let rows = queue(app, &mails).await;
    let ids = rows
        .iter()
        .map(|r| r.id.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    (to, ids)
}

async fn row(app: &TestApp, id: i64) -> (String, Option<String>, Option<String>, Option<String>) {
    let store = app.store().await;
    let r =
        sqlx::query_as("SELECT state, last_error, claimed_at, sent_at FROM outbox WHERE id = ?")
            .bind(id)
            .fetch_one(store.pool())
            .await
            .expect("row");
    store.close().await;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_send_is_marked_sent_when_its_copy_is_there_and_sent_again_only_after_the_wait()
 {
    // Arrange: a run claimed three mails and was killed. For two of them the
    // server had answered 250 (their copies reached the project mailbox: one
    // already filed into the sent folder, one still in the INBOX); the third
    // never got out.
    const WAIT_SECS: i64 = 4;
    let mut app = spawn_app_with_env(
        Deadline::Future,
        "",
        &[("POSTBOTE_SMTP__RECOVERY_WAIT_SECS", "4")],
    )
    .await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM health WHERE key = 'mailbox.last_ok'",
        1,
    )
    .await;
    app.stop_daemon().await;
    let (filed, arriving, lost) = ("a@stadt-a.test", "b@stadt-b.test", "c@stadt-c.test");
    let rows = queue(
        &app,
        &[
            ("crash:filed", filed, None),
            ("crash:arriving", arriving, None),
            ("crash:lost", lost, None),
        ],
    )
    .await;
    let store = app.store().await;
    let claimed = Utc::now();
    sqlx::query(
        "UPDATE outbox SET state = 'sending', owner = '4242-deadbeefdeadbeef', claimed_at = ?",
    )
    .bind(postbote::store::ts(claimed))
    .execute(store.pool())
    .await
    .unwrap();
    store.close().await;
    app.servers
        .append(PROJECT, SENT_FOLDER, &rows[0].raw)
        .await
        .unwrap();
    app.servers
        .send(PROJECT, &[PROJECT], &rows[1].raw)
        .await
        .unwrap();
    app.servers
        .wait_for_mail(PROJECT, "INBOX", 1, Duration::from_secs(20))
        .await
        .unwrap();

    // Act: the daemon starts again.
    app.start_daemon().await;

    // Assert: the two with a copy are marked sent and never sent again; the
    // third goes out once, after the wait.
    let ids = format!("{}, {}", rows[0].id, rows[1].id);
    app.wait_for_count(
        &format!("SELECT COUNT(*) FROM outbox WHERE state = 'sent' AND id IN ({ids})"),
        2,
    )
    .await;
    let resent = app.wait_for_mail(lost, 1).await;
    assert_eq!(
        header(&resent[0], "Message-ID"),
        Some(format!("<{}>", rows[2].message_id))
    );
    app.wait_for_count(
        &format!(
            "SELECT COUNT(*) FROM outbox WHERE state = 'sent' AND id = {}",
            rows[2].id
        ),
        1,
    )
    .await;
    let (_, note, _, sent) = row(&app, rows[2].id).await;
    let waited = postbote::store::parse_ts(&sent.unwrap()).unwrap() - claimed;
    assert!(
        waited.num_seconds() >= WAIT_SECS,
        "sent again {waited} after the claim"
    );
    assert_eq!(note, None, "sent: no error left");
    let (_, note_filed, _, _) = row(&app, rows[0].id).await;
    assert!(
        note_filed
            .as_deref()
            .is_some_and(|n| n.contains(SENT_FOLDER)),
        "{note_filed:?}"
    );
    let (_, note_arriving, _, _) = row(&app, rows[1].id).await;
    assert!(
        note_arriving
            .as_deref()
            .is_some_and(|n| n.contains("its copy is in")),
        "{note_arriving:?}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(app.mails_in(filed, "INBOX").await.is_empty());
    assert!(app.mails_in(arriving, "INBOX").await.is_empty());
    let figures = [
        deliveries(&app, filed),
        deliveries(&app, arriving),
        deliveries(&app, lost),
    ];
    assert_eq!(figures, [0, 0, 1]);
    // The copies (two from before, one of the resent mail) are all filed.
    app.servers
        .wait_for_mail(PROJECT, SENT_FOLDER, 3, Duration::from_secs(20))
        .await
        .unwrap();
    crate::helpers::wait_inbox_empty(&app).await;
    println!(
        "FIGURE interrupted sends: 2 with a copy marked sent, 0 resent; 1 without a copy resent once, {} s after its claim (wait {WAIT_SECS} s)",
        waited.num_seconds()
    );
}

const REFUSE_SENT: &str = "CREATE TRIGGER refuse_sent BEFORE UPDATE OF state ON outbox \
     WHEN NEW.state = 'sent' BEGIN SELECT RAISE(ABORT, 'disk I/O error (simulated by the test)'); END";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_refuses_to_record_a_send_nothing_goes_out_again_and_sending_resumes() {
    // Arrange: the database refuses every update of a mail to 'sent'.
    let app = spawn_app().await;
    let store = app.store().await;
    sqlx::query(REFUSE_SENT)
        .execute(store.pool())
        .await
        .unwrap();
    let applicants = [
        "erste@stadt-a.test",
        "zweite@stadt-b.test",
        "dritte@stadt-c.test",
    ];

    // Act 1: an application; its confirmation goes out, but cannot be recorded.
    app.deliver(
        applicants[0],
        &application(applicants[0], "Stadt A", "fault-1@stadt-a.test"),
    )
    .await;
    app.wait_for_mail(applicants[0], 1).await;
    let refused = Instant::now();
    let status = app.wait_status(1).await;
    assert!(status.contains("could not be recorded"), "{status}");
    // Two more applications while the store still refuses.
    for (i, a) in applicants.iter().enumerate().skip(1) {
        app.deliver(a, &application(a, "Gemeinde", &format!("fault-{i}@x.test")))
            .await;
    }
    app.wait_for_count(
        "SELECT COUNT(*) FROM outbox WHERE purpose = 'confirmation'",
        3,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(refused.elapsed())).await;
    let during: Vec<usize> = applicants.iter().map(|a| deliveries(&app, a)).collect();
    let state: String = sqlx::query_scalar(
        "SELECT o.state FROM outbox o WHERE o.env_to = 'erste@stadt-a.test' AND purpose = 'confirmation'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(
        state, "sending",
        "the unrecorded mail stays claimed, never due"
    );

    // Act 2: the store takes writes again.
    sqlx::query("DROP TRIGGER refuse_sent")
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;

    // Assert: nothing went out twice, nothing more while the store refused;
    // then everything was sent and recorded.
    assert_eq!(during, [1, 0, 0], "deliveries while the store refused");
    for a in &applicants[1..] {
        app.wait_for_mail(a, 1).await;
    }
    app.wait_for_count(
        "SELECT COUNT(*) FROM outbox WHERE purpose = 'confirmation' AND state = 'sent'",
        3,
    )
    .await;
    app.wait_status(0).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after: Vec<usize> = applicants.iter().map(|a| deliveries(&app, a)).collect();
    assert_eq!(after, [1, 1, 1]);
    for a in &applicants {
        assert_eq!(app.mails_in(a, "INBOX").await.len(), 1, "{a}");
    }
    println!(
        "FIGURE database refusing mark_sent for {} s: {} SMTP deliveries for 1 mail sent ({} extra), 2 mails held back; after it recovered: {} deliveries for 3 mails ({} extra)",
        refused.elapsed().as_secs().min(10),
        during.iter().sum::<usize>(),
        during.iter().sum::<usize>() - 1,
        after.iter().sum::<usize>(),
        after.iter().sum::<usize>() - 3,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_smtp_password_pauses_sending_keeps_the_mail_and_status_says_so_at_once() {
    // Arrange: Postfix with STARTTLS and SMTP AUTH; the daemon has the wrong
    // password. The probe comes only after 30 s, so one attempt is all there is.
    let servers = tokio::task::spawn_blocking(MailServers::start_with_tls)
        .await
        .expect("join")
        .expect("mail servers with TLS start");
    let ca = servers.ca_file().expect("CA").display().to_string();
    let port = servers.smtp_port.to_string();
    let env = [
        ("POSTBOTE_SMTP__HOST", "localhost"),
        ("POSTBOTE_SMTP__PORT", port.as_str()),
        ("POSTBOTE_SMTP__SECURITY", "starttls"),
        ("POSTBOTE_SMTP__CA_FILE", ca.as_str()),
        ("POSTBOTE_SMTP__USERNAME", PROJECT),
        ("POSTBOTE_SMTP__PASSWORD", "falsch"),
        ("POSTBOTE_SMTP__RETRY_INITIAL_SECS", "30"),
        ("POSTBOTE_SMTP__RETRY_MAX_SECS", "60"),
    ];
    let mut app = spawn_app_on_servers(servers, Deadline::Future, "", &env).await;
    let applicant = "kaemmerei@stadt.test";

    // Act: an application arrives; its confirmation cannot be sent.
    app.deliver(
        applicant,
        &application(applicant, "Stadt Musterhausen", "pw-1@stadt.test"),
    )
    .await;

    // Assert: status exits 1 within the one attempt; nothing failed.
    let status = poll_until(
        "`postbote status` to show the paused sending",
        WAIT,
        Duration::from_millis(200),
        async || {
            let out = app.cli(&["status"]);
            let text = stdout(&out);
            if out.status.code() == Some(1) && text.contains("sending paused") {
                Ok(text)
            } else {
                Err(format!("{}: {text}", out.status))
            }
        },
    )
    .await;
    let auth_failures = app
        .servers
        .postfix_log()
        .matches("authentication failed")
        .count();
    assert!(status.contains("sending paused"), "{status}");
    assert!(status.contains("authentication"), "{status}");
    assert_eq!(auth_failures, 1, "{}", app.servers.postfix_log());
    let store = app.store().await;
    let (state, attempts, error): (String, i64, Option<String>) = sqlx::query_as(
        "SELECT state, attempts, last_error FROM outbox WHERE purpose = 'confirmation'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!((state.as_str(), attempts), ("queued", 0), "{error:?}");
    assert!(
        error.as_deref().is_some_and(|e| e.contains("535")),
        "{error:?}"
    );
    store.close().await;
    // The alarm is queued; it goes out once sending works again.
    app.wake_scheduler();
    app.wait_for_count(
        "SELECT COUNT(*) FROM outbox WHERE idempotency_key LIKE 'alarm-outbox-paused:%'",
        1,
    )
    .await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE state = 'failed'")
            .await,
        0
    );
    assert!(app.mails_in(applicant, "INBOX").await.is_empty());

    // Act 2: the administrator fixes the password and restarts.
    app.stop_daemon().await;
    for (k, v) in &mut app.env {
        if k == "POSTBOTE_SMTP__PASSWORD" {
            *v = PASSWORD.to_string();
        }
    }
    app.start_daemon().await;

    // Assert 2: the confirmation and the alarm go out; nothing failed.
    app.wait_for_mail(applicant, 1).await;
    let alarm = wait_subject(&app, STAFF, "E-Mail-Versand angehalten").await;
    assert!(alarm.contains("535") || crate::helpers::text(&alarm).contains("535"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE state = 'failed'")
            .await,
        0
    );
    app.wait_status(0).await;
    println!(
        "FIGURE wrong SMTP password: status exited 1 after {auth_failures} send attempt(s); 0 mails marked failed; sent after the fix"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_whose_time_has_come_expires_and_failed_mail_is_retried_or_acknowledged() {
    // Arrange: three mails: one whose event has begun, one still in time, one
    // to a mailbox that does not exist.
    let mut app = spawn_app().await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM health WHERE key = 'mailbox.last_ok'",
        1,
    )
    .await;
    app.stop_daemon().await;
    let now = Utc::now();
    let (late, soon) = ("spaet@stadt.test", "bald@stadt.test");
    let rows = queue(
        &app,
        &[
            (
                "expiry:late",
                late,
                Some(now - chrono::Duration::minutes(1)),
            ),
            ("expiry:soon", soon, Some(now + chrono::Duration::hours(1))),
            ("expiry:none", UNKNOWN_RECIPIENT, None),
        ],
    )
    .await;

    // Act
    app.start_daemon().await;

    // Assert: the late one expired, staff are told once; the other is sent.
    app.wait_for_mail(soon, 1).await;
    app.wait_for_count("SELECT COUNT(*) FROM outbox WHERE state = 'expired'", 1)
        .await;
    app.wait_for_count("SELECT COUNT(*) FROM outbox WHERE state = 'failed'", 1)
        .await;
    app.wake_scheduler();
    let notice = wait_subject(&app, STAFF, "nicht versandt").await;
    assert!(crate::helpers::text(&notice).contains(late), "{notice}");
    assert!(app.mails_in(late, "INBOX").await.is_empty());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE expiry_noticed = 1")
            .await,
        1
    );

    // The failed mail keeps status at 1 until someone acknowledges it.
    let status = app.wait_status(1).await;
    assert!(status.contains("nobody acknowledged"), "{status}");
    let out = app.cli(&["outbox", "ack", "--all"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("1 failed mail(s) acknowledged"));
    let status = app.wait_status(0).await;
    assert!(status.contains("expired"), "{status}");
    // Retried, it fails again (and counts again).
    let out = app.cli(&["outbox", "retry", "--failed"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("1 mail(s) queued again"));
    app.wait_for_count(
        "SELECT COUNT(*) FROM outbox WHERE state = 'failed' AND acked_at IS NULL AND attempts = 1",
        1,
    )
    .await;
    app.wait_status(1).await;
    // An expired mail goes out when an administrator retries it by id; a sent one is refused.
    let out = app.cli(&["outbox", "retry", &rows[0].id.to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    app.wait_for_mail(late, 1).await;
    let out = app.cli(&["outbox", "retry", &rows[1].id.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is sent"), "{}", stderr(&out));
    let out = app.cli(&["outbox", "ack", &rows[2].id.to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    app.wait_status(0).await;
}

/// The smtpd sessions in Postfix's log: (connections, `mail=` commands over
/// the sessions that ended), from the log's line `from` on.
fn smtpd_sessions(app: &TestApp, from: usize) -> (usize, usize, Vec<String>) {
    let log = app.servers.postfix_log();
    let lines: Vec<&str> = log
        .lines()
        .skip(from)
        .filter(|l| l.contains("smtpd"))
        .collect();
    let connects = lines
        .iter()
        .filter(|l| l.contains(": connect from"))
        .count();
    let ends: Vec<String> = lines
        .iter()
        .filter(|l| l.contains(": disconnect from"))
        .map(|l| l.to_string())
        .collect();
    let mails = ends
        .iter()
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("mail="))
                .and_then(|n| n.split('/').next_back())
                .and_then(|n| n.parse::<usize>().ok())
        })
        .sum();
    (connects, mails, ends)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_goes_out_once_each_over_several_kept_connections() {
    // Arrange: 50 mails wait in the queue while the daemon is stopped.
    const N: usize = 50;
    const POOL: usize = 4;
    let pool = POOL.to_string();
    let mut app = spawn_app_with_env(
        Deadline::Future,
        "",
        &[("POSTBOTE_SMTP__POOL_MAX", pool.as_str())],
    )
    .await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM health WHERE key = 'mailbox.last_ok'",
        1,
    )
    .await;
    app.stop_daemon().await;
    let (to, ids) = queue_backlog(&app, "rueckstau", "backlog", N).await;
    let log_from = app.servers.postfix_log().lines().count();

    // Act: the daemon starts.
    app.start_daemon().await;

    // Assert: every mail is recorded sent, after one attempt, and reaches
    // its recipient exactly once.
    app.wait_for_count(
        &format!(
            "SELECT COUNT(*) FROM outbox WHERE state = 'sent' AND attempts = 1 AND id IN ({ids})"
        ),
        N as i64,
    )
    .await;
    for t in &to {
        app.wait_for_mail(t, 1).await;
    }
    poll_until(
        "Postfix's deliveries of the backlog",
        WAIT,
        Duration::from_millis(200),
        async || {
            let n: usize = to.iter().map(|t| deliveries(&app, t)).sum();
            if n >= N {
                Ok(())
            } else {
                Err(format!("{n} of {N}"))
            }
        },
    )
    .await;
    // The sessions end when the daemon stops (its kept connections close).
    app.stop_daemon().await;
    let deadline = Instant::now() + WAIT;
    let (connects, mails, ends) = loop {
        let (c, m, e) = smtpd_sessions(&app, log_from);
        if e.len() >= c || Instant::now() > deadline {
            break (c, m, e);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let each: Vec<usize> = to.iter().map(|t| deliveries(&app, t)).collect();
    assert!(
        each.iter().all(|n| *n == 1),
        "deliveries per recipient: {each:?}"
    );
    for t in &to {
        assert_eq!(app.mails_in(t, "INBOX").await.len(), 1, "{t}");
    }
    assert!(
        (2..=2 * POOL).contains(&connects),
        "{connects} SMTP connections for {N} mails with pool_max = {POOL}: {ends:#?}"
    );
    assert_eq!(mails, N, "MAIL FROMs over the sessions: {ends:#?}");
    let log = app.servers.postfix_log();
    assert!(
        !log.contains("improper command pipelining"),
        "pipelined only where offered, DATA last: {log}"
    );
    println!(
        "FIGURE backlog of {N} mails: delivered once each over {connects} SMTP connections (pool_max = {POOL}), {mails} MAIL FROMs, no NOOP: {:?}",
        ends.iter()
            .filter_map(|l| l.split_once(" ehlo=").map(|(_, c)| format!("ehlo={c}")))
            .collect::<Vec<_>>()
    );
}

/// IMAP logins of `user` in Dovecot's log.
fn imap_logins(app: &TestApp, user: &str) -> usize {
    let needle = format!("Login: user=<{user}>");
    app.servers
        .dovecot_log()
        .lines()
        .filter(|l| l.contains("imap-login") && l.contains(&needle))
        .count()
}

/// Without a copy recipient (`smtp.copy_sent = false`) each sent mail's copy
/// is appended to the sent folder over IMAP: a backlog over one session, not
/// one login per mail (before, 20 mails took 20 logins more).
async fn appended_copies_share_one_session_on(layout: Layout) {
    // Arrange: 20 mails wait in the queue while the daemon is stopped.
    const N: usize = 20;
    let mut app = spawn_app_on(
        layout,
        Deadline::Future,
        "",
        &[("POSTBOTE_SMTP__COPY_SENT", "false")],
    )
    .await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM health WHERE key = 'mailbox.last_ok'",
        1,
    )
    .await;
    app.stop_daemon().await;
    let (to, ids) = queue_backlog(&app, "kopie", "copies", N).await;
    let logins_before = imap_logins(&app, PROJECT);

    // Act: the daemon starts and sends the backlog.
    app.start_daemon().await;

    // Assert: every mail is sent once, each copy is in the sent folder,
    // recorded with its mail, and the copies took a login or two, not 20.
    app.wait_for_count(
        &format!("SELECT COUNT(*) FROM outbox WHERE state = 'sent' AND copied_to_sent = 1 AND id IN ({ids})"),
        N as i64,
    )
    .await;
    app.stop_daemon().await;
    // Counted before the checks below, which log in themselves. The start's
    // own logins: the folders prepared (one), the intake (one).
    let logins = imap_logins(&app, PROJECT) - logins_before;
    assert!(
        logins <= 2 + 3,
        "{layout:?}: {logins} IMAP logins for a start and {N} appended copies"
    );
    assert_eq!(
        app.mails_in(PROJECT, SENT_FOLDER).await.len(),
        N,
        "{layout:?}: one copy per mail in the sent folder"
    );
    for t in &to {
        app.wait_for_mail(t, 1).await;
        assert_eq!(deliveries(&app, t), 1, "{layout:?}: {t}");
    }
    println!("FIGURE {layout:?}: {N} copies appended over IMAP with {logins} logins in all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appended_copies_share_one_session_on_the_default_layout() {
    appended_copies_share_one_session_on(Layout::Default).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appended_copies_share_one_session_below_inbox() {
    appended_copies_share_one_session_on(Layout::InboxPrefix).await;
}
