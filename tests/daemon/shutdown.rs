//! Shutdown within its budget (part 7), on the real binary and real servers:
//! SIGTERM during a long document analysis, SIGTERM while a mail is in its
//! SMTP transaction, and the systemd notifications around both.

use crate::binary::{Daemon, maildir_config, wait_healthy};
use crate::helpers::{PROJECT, application, spawn_app};
use postbote::startup::SHUTDOWN_BUDGET;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// Longer than the test waits for SIGTERM to work: a hang shows as a failure.
const KILL_AFTER: Duration = Duration::from_secs(40);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_long_document_analysis_ends_in_time_and_the_mail_is_handled_after_the_restart()
 {
    // Arrange: the real binary, whose document analysis takes two minutes
    // (a debug-build hook standing in for a slow parser; the limit is 60 s).
    let mut app = spawn_app().await;
    app.stop_daemon().await;
    let env = app.env_with(&[("POSTBOTE_TEST_ANALYSIS_DELAY_SECS", "120")]);
    let mut daemon = Daemon::start(&app.config_path, &env, &app.dir.path().join("run.log"));
    let applicant = "kaemmerei@stadt.test";
    let raw = application(applicant, "Stadt Langsam", "slow-1@stadt.test");
    app.deliver(applicant, &raw).await;
    // Stored (committed), and now in its analysis.
    app.wait_for_count("SELECT COUNT(*) FROM messages WHERE state = 'received'", 1)
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Act
    let (status, took) = daemon.stop_within(KILL_AFTER).await;
    // Assert: a clean exit within the budget; the analysis was abandoned,
    // nothing was recorded for the message but its raw bytes.
    let log = daemon.log();
    eprintln!("SIGTERM during an analysis: exit after {took:?}");
    assert!(status.success(), "{status}\n{log}");
    assert!(took < SHUTDOWN_BUDGET, "took {took:?}\n{log}");
    assert!(log.contains("stopped where it is"), "{log}");
    let (state, attempts, error): (String, i64, Option<String>) = {
        let store = app.store().await;
        let row = sqlx::query_as("SELECT state, attempts, error FROM messages")
            .fetch_one(store.pool())
            .await
            .unwrap();
        store.close().await;
        row
    };
    assert_eq!(
        (state.as_str(), attempts, error),
        ("received", 0, None),
        "an abandoned analysis is no attempt"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 0);
    assert_eq!(app.mails_in(PROJECT, "INBOX").await.len(), 1);
    // Act 2: the restart (analysis at normal speed) handles it, once.
    app.start_daemon().await;
    app.wait_for_mail(applicant, 1).await;
    app.wait_for_count("SELECT COUNT(*) FROM messages WHERE state = 'processed'", 1)
        .await;
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.mails_in(applicant, "INBOX").await.len(), 1);
}

/// A TCP relay in front of Postfix that holds back the server's answer to
/// the end of the mail data (the lone `.`) for `hold`: every SMTP
/// transaction stays in flight that long. `data_ended` is notified when a
/// client has sent its data.
struct SlowRelay {
    port: u16,
    data_ended: Arc<Notify>,
}

impl SlowRelay {
    async fn start(upstream: (String, u16), hold: Duration) -> SlowRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let data_ended = Arc::new(Notify::new());
        let ended = data_ended.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect((upstream.0.as_str(), upstream.1))
                    .await
                    .expect("connect to Postfix");
                tokio::spawn(relay(client, server, hold, ended.clone()));
            }
        });
        SlowRelay { port, data_ended }
    }
}

async fn relay(client: TcpStream, server: TcpStream, hold: Duration, ended: Arc<Notify>) {
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let after_data = Arc::new(AtomicBool::new(false));
    let flag = after_data.clone();
    let upstream = async move {
        let (mut buf, mut tail) = ([0u8; 8192], Vec::new());
        while let Ok(n) = from_client.read(&mut buf).await {
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&buf[..n]);
            if tail.windows(5).any(|w| w == b"\r\n.\r\n") {
                flag.store(true, Ordering::SeqCst);
                ended.notify_one();
                tail.clear();
            } else {
                let keep = tail.len().saturating_sub(4);
                tail.drain(..keep);
            }
            if to_server.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let downstream = async move {
        let mut buf = [0u8; 8192];
        while let Ok(n) = from_server.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if after_data.swap(false, Ordering::SeqCst) {
                tokio::time::sleep(hold).await;
            }
            if to_client.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(upstream, downstream);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_a_mail_is_in_its_smtp_transaction_lets_it_finish_records_it_and_starts_no_other()
 {
    // Arrange: the real binary sends one mail at a time through a relay that
    // keeps each SMTP transaction open for 4 s after the data; three
    // applications are waiting for their confirmation.
    let mut app = spawn_app().await;
    app.stop_daemon().await;
    let relay = SlowRelay::start(app.servers.smtp_addr(), Duration::from_secs(4)).await;
    let port = relay.port.to_string();
    let extra = [
        ("POSTBOTE_SMTP__PORT", port.as_str()),
        ("POSTBOTE_SMTP__POOL_MAX", "1"),
    ];
    let env = app.env_with(&extra);
    let applicants: Vec<String> = (0..3).map(|i| format!("amt{i}@stadt.test")).collect();
    for (i, a) in applicants.iter().enumerate() {
        let raw = application(
            a,
            &format!("Stadt {i}"),
            &format!("inflight-{i}@stadt.test"),
        );
        app.servers
            .append(PROJECT, "INBOX", raw.as_bytes())
            .await
            .unwrap();
    }
    let mut daemon = Daemon::start(&app.config_path, &env, &app.dir.path().join("run.log"));
    tokio::time::timeout(Duration::from_secs(30), relay.data_ended.notified())
        .await
        .unwrap_or_else(|_| panic!("no confirmation reached the relay:\n{}", daemon.log()));
    // Act: SIGTERM while the server has not answered yet.
    let (status, took) = daemon.stop_within(KILL_AFTER).await;
    // Assert: it waited for the answer, recorded that mail as sent, started
    // no other, and ended in time.
    let log = daemon.log();
    eprintln!("SIGTERM during an SMTP transaction: exit after {took:?}");
    assert!(status.success(), "{status}\n{log}");
    assert!(took < SHUTDOWN_BUDGET, "took {took:?}\n{log}");
    assert!(
        took >= Duration::from_secs(2),
        "did not wait for the server: {took:?}"
    );
    assert!(log.contains("mail sent"), "{log}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE state = 'sent'")
            .await,
        1,
        "exactly the mail in flight is sent and recorded"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE state != 'sent' AND attempts > 0")
            .await,
        0,
        "no other send was started after SIGTERM"
    );
    // Act 2: the restart sends the rest; nothing goes out twice.
    app.start_daemon().await;
    for a in &applicants {
        app.wait_for_mail(a, 1).await;
    }
    app.wait_for_count("SELECT COUNT(*) FROM outbox WHERE state = 'sent'", 3)
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    for a in &applicants {
        assert_eq!(app.mails_in(a, "INBOX").await.len(), 1, "{a}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_systemd_it_notifies_ready_watchdog_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    // Arrange: a notify socket as systemd would pass it, with a watchdog.
    let dir = tempfile::tempdir().unwrap();
    let config = maildir_config(dir.path());
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let env = [
        ("NOTIFY_SOCKET", path.to_str().unwrap()),
        ("WATCHDOG_USEC", "400000"),
    ];
    // Act
    let mut daemon = Daemon::start(&config, &env, &dir.path().join("run.log"));
    wait_healthy(&config, &mut daemon, Duration::from_secs(30)).await;
    let next = || {
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).expect("a notification within 30 s");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let mut seen: Vec<String> = Vec::new();
    while !seen.iter().any(|s| s.starts_with("READY=1")) {
        seen.push(next());
    }
    // The watchdog is pinged every 0.2 s.
    while seen.iter().filter(|s| *s == "WATCHDOG=1").count() < 2 {
        seen.push(next());
    }
    daemon.terminate();
    while !seen.iter().any(|s| s.starts_with("STOPPING=1")) {
        seen.push(next());
    }
    let status = daemon.wait_exit(KILL_AFTER).await;
    // Assert
    assert!(status.success(), "{status}\n{}", daemon.log());
    let ready = seen.iter().position(|s| s.starts_with("READY=1")).unwrap();
    let stopping = seen
        .iter()
        .position(|s| s.starts_with("STOPPING=1"))
        .unwrap();
    assert!(ready < stopping, "{seen:?}");
}
