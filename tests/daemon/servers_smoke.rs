//! Smoke test of the mail server harness itself: real Postfix → LMTP → Dovecot → IMAP,
//! plus stopping and restarting each server. Prints timings (run with `--nocapture`).

use std::time::{Duration, Instant};

use crate::helpers::poll_until;
use crate::mail_servers::MailServers;

const FROM: &str = "kaemmerei@stadt.test";
const TO: &str = "projekt@ews.test";
const WAIT: Duration = Duration::from_secs(30);

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: Kämmerei <{FROM}>\r\n\
         To: Projekt <{TO}>\r\n\
         Subject: {subject}\r\n\
         Message-ID: <{subject}@stadt.test>\r\n\
         Date: Mon, 03 Mar 2025 10:00:00 +0100\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         Grüße aus der Kämmerei.\r\n\
         .Eine Zeile mit Punkt am Anfang.\r\n"
    )
    .into_bytes()
}

fn subject_of(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let headers = text.split("\r\n\r\n").next()?;
    headers
        .lines()
        .find_map(|line| line.strip_prefix("Subject: "))
        .map(|s| s.trim().to_string())
}

fn subjects(messages: &[Vec<u8>]) -> Vec<String> {
    messages
        .iter()
        .map(|m| subject_of(m).unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn mail_servers_deliver_and_restart() {
    // Start both servers.
    let started = Instant::now();
    let servers = MailServers::start().expect("start mail servers");
    let start_time = started.elapsed();
    eprintln!(
        "timing: MailServers::start() took {start_time:?} (imap {}, smtp {}, lmtp {})",
        servers.imap_port, servers.smtp_port, servers.lmtp_port
    );

    // A missing folder and an empty INBOX read as empty.
    assert!(
        servers
            .fetch_all(TO, "INBOX")
            .await
            .expect("fetch")
            .is_empty()
    );
    assert!(
        servers
            .fetch_all(TO, "Gibt/Es/Nicht")
            .await
            .expect("fetch missing folder")
            .is_empty()
    );

    // SMTP → Postfix → LMTP → Dovecot → IMAP.
    servers
        .send(FROM, &[TO], &message("smoke-1"))
        .await
        .expect("send first mail");
    let accepted = Instant::now();
    let inbox = servers
        .wait_for_mail(TO, "INBOX", 1, WAIT)
        .await
        .expect("first mail in INBOX");
    eprintln!(
        "timing: SMTP accepted -> visible over IMAP: {:?}",
        accepted.elapsed()
    );
    assert_eq!(inbox.len(), 1);
    assert_eq!(subject_of(&inbox[0]).as_deref(), Some("smoke-1"));
    let text = String::from_utf8_lossy(&inbox[0]);
    assert!(text.contains("Grüße aus der Kämmerei."), "{text}");
    assert!(
        text.contains("\r\n.Eine Zeile mit Punkt am Anfang.\r\n"),
        "dot-stuffing must be transparent: {text}"
    );
    assert!(text.contains("Delivered-To: projekt@ews.test"), "{text}");

    // Multiple recipients in other domains, and mail of another user stays separate.
    servers
        .send(
            FROM,
            &["a@gemeinde.test", "b@kreis.test"],
            &message("multi"),
        )
        .await
        .expect("send to two recipients");
    for user in ["a@gemeinde.test", "b@kreis.test"] {
        let got = servers
            .wait_for_mail(user, "INBOX", 1, WAIT)
            .await
            .expect("multi-recipient mail");
        assert_eq!(subjects(&got), ["multi"]);
    }
    assert_eq!(
        servers.fetch_all(TO, "INBOX").await.expect("fetch").len(),
        1
    );

    // APPEND bypasses SMTP and creates the folder.
    servers
        .append(TO, "Archiv/2025", &message("appended"))
        .await
        .expect("append");
    servers
        .append(TO, "Archiv/2025", &message("appended-2"))
        .await
        .expect("append to existing folder");
    let archived = servers.fetch_all(TO, "Archiv/2025").await.expect("fetch");
    assert_eq!(subjects(&archived), ["appended", "appended-2"]);

    // Dovecot restart: IMAP goes away and comes back with the mail still there.
    let t = Instant::now();
    servers.stop_dovecot().expect("stop dovecot");
    eprintln!("timing: stop_dovecot() took {:?}", t.elapsed());
    assert!(
        std::net::TcpStream::connect(servers.imap_addr()).is_err(),
        "IMAP port must refuse while Dovecot is stopped"
    );
    assert!(servers.fetch_all(TO, "INBOX").await.is_err());
    servers.stop_dovecot().expect("stopping twice is a no-op");

    // Mail accepted while Dovecot is down is queued and delivered after the restart.
    servers
        .send(FROM, &[TO], &message("while-dovecot-down"))
        .await
        .expect("send while dovecot is down");
    let what = "Postfix to defer the mail";
    poll_until(what, WAIT, Duration::from_millis(20), async || {
        let log = servers.postfix_log();
        if log.contains("status=deferred") {
            Ok(())
        } else {
            Err(log)
        }
    })
    .await;
    let t = Instant::now();
    servers.start_dovecot().expect("start dovecot");
    eprintln!("timing: start_dovecot() took {:?}", t.elapsed());
    servers.start_dovecot().expect("starting twice is a no-op");
    let inbox = servers
        .wait_for_mail(TO, "INBOX", 2, WAIT)
        .await
        .expect("deferred mail after dovecot restart");
    eprintln!(
        "timing: Dovecot restarted -> deferred mail visible: {:?}",
        t.elapsed()
    );
    assert_eq!(subjects(&inbox), ["smoke-1", "while-dovecot-down"]);

    // Postfix restart: SMTP refuses while stopped and works again afterwards.
    let t = Instant::now();
    servers.stop_postfix().expect("stop postfix");
    eprintln!("timing: stop_postfix() took {:?}", t.elapsed());
    let refused = std::net::TcpStream::connect(servers.smtp_addr());
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused),
        "SMTP port must refuse while Postfix is stopped: {refused:?}"
    );
    assert!(
        servers
            .send(FROM, &[TO], &message("refused"))
            .await
            .is_err()
    );
    servers.stop_postfix().expect("stopping twice is a no-op");
    let t = Instant::now();
    servers.start_postfix().expect("start postfix");
    eprintln!("timing: start_postfix() took {:?}", t.elapsed());
    servers
        .send(FROM, &[TO], &message("smoke-2"))
        .await
        .expect("send after postfix restart");
    let inbox = servers
        .wait_for_mail(TO, "INBOX", 3, WAIT)
        .await
        .expect("mail after postfix restart");
    assert_eq!(
        subjects(&inbox),
        ["smoke-1", "while-dovecot-down", "smoke-2"]
    );

    assert!(servers.postfix_log().contains("status=sent"));
    assert!(servers.dovecot_log().contains("saved mail to INBOX"));

    let dir = servers.dir().to_path_buf();
    let t = Instant::now();
    drop(servers);
    eprintln!("timing: drop took {:?}", t.elapsed());
    assert!(!dir.exists() || std::env::var_os("POSTBOTE_KEEP_MAIL_SERVERS").is_some());
}

/// Several instances side by side (tests run in parallel threads).
#[tokio::test]
async fn mail_servers_are_independent() {
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(MailServers::start);
        let b = scope.spawn(MailServers::start);
        (
            a.join().expect("thread a").expect("start a"),
            b.join().expect("thread b").expect("start b"),
        )
    });
    let mut ports = vec![
        a.imap_port,
        a.smtp_port,
        a.lmtp_port,
        b.imap_port,
        b.smtp_port,
        b.lmtp_port,
    ];
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 6, "instances must not share ports");

    a.send(FROM, &[TO], &message("only-a"))
        .await
        .expect("send a");
    b.send(FROM, &[TO], &message("only-b"))
        .await
        .expect("send b");
    let got_a = a.wait_for_mail(TO, "INBOX", 1, WAIT).await.expect("a");
    let got_b = b.wait_for_mail(TO, "INBOX", 1, WAIT).await.expect("b");
    assert_eq!(subjects(&got_a), ["only-a"]);
    assert_eq!(subjects(&got_b), ["only-b"]);

    // Stopping one instance leaves the other alone.
    a.stop_dovecot().expect("stop a's dovecot");
    assert_eq!(b.fetch_all(TO, "INBOX").await.expect("b still up").len(), 1);
}

// The one poll loop of the tests: it returns what it waited for, or fails saying so.
#[tokio::test]
async fn a_wait_returns_the_value_once_the_probe_has_it() {
    let mut n = 0;
    let got = poll_until("n to reach 3", WAIT, Duration::ZERO, async || {
        n += 1;
        if n >= 3 { Ok(n) } else { Err(n) }
    })
    .await;
    assert_eq!(got, 3);
}

#[tokio::test]
#[should_panic(expected = "waiting for n to reach 3; last seen: 2")]
async fn a_wait_past_its_deadline_fails_naming_what_it_awaited_and_saw() {
    let timeout = Duration::from_millis(50);
    poll_until(
        "n to reach 3",
        timeout,
        Duration::from_millis(5),
        async || Err::<(), _>(2),
    )
    .await;
}
