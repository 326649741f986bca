//! Part 7, intake: poison mail and transient failures told apart, a failed
//! message put back by the CLI, mail over the size limit left for staff,
//! new mail announced during a FETCH, Message-IDs that collide between
//! senders, and a quiet mailbox that reads healthy. On real Dovecot and
//! Postfix, mail-server behaviour on two layouts.

use crate::helpers::{
    Deadline, PROJECT, STAFF, TestApp, WAIT, application, poll_until, spawn_app_on, subject, text,
    wait_inbox_count, wait_inbox_empty, wait_subject, with_subject,
};
use crate::mail_servers::Layout;
use postbote::intake::process::{DEBUG_PANIC_HEADER, MAX_ATTEMPTS};
use postbote::mailbox::imap::ImapSource;
use postbote::mailbox::{Fetch, MailSource, Wake};
use sqlx::Connection;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const PROCESSED: &str = "Postbote/Verarbeitet";

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until the daemon completed a mailbox sweep after `since`.
async fn wait_for_sweep_after(app: &TestApp, since: &str) {
    let sql =
        format!("SELECT COUNT(*) FROM health WHERE key = 'mailbox.last_ok' AND value > '{since}'");
    app.wait_for_count(&sql, 1).await;
}

/// An application with an attachment of `kib` KiB of base64 filler.
fn big_application(from: &str, name: &str, message_id: &str, kib: usize) -> String {
    let line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    let filler = line.repeat(kib * 1024 / line.len() + 1);
    format!(
        "From: {name} <{from}>\r\nTo: {PROJECT}\r\nSubject: Bewerbung EWS 7 - {name} (Scan)\r\n\
         Message-ID: <{message_id}>\r\nDate: Mon, 15 Jun 2026 09:00:00 +0200\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnbei unsere Bewerbung als Scan.\r\n\
         --b1\r\nContent-Type: application/octet-stream; name=\"scan.bin\"\r\n\
         Content-Disposition: attachment; filename=\"scan.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         {filler}--b1--\r\n"
    )
}

async fn oversized_on(layout: Layout) {
    // Arrange: a 100 kB limit; mail waiting longer than 1 s counts as stuck.
    let env = [
        ("POSTBOTE_MAILBOX__MAX_MESSAGE_BYTES", "100000"),
        ("POSTBOTE_HEALTH__UNPROCESSED_AFTER_SECS", "1"),
    ];
    let mut app = spawn_app_on(layout, Deadline::Future, "", &env).await;
    let (big, small) = ("scanner@stadt.test", "rathaus@gemeinde.test");

    // Act: a 300 KiB application, then an ordinary one.
    app.deliver(
        big,
        &big_application(
            big,
            "Stadt Groß",
            &format!("big-{layout:?}@stadt.test"),
            300,
        ),
    )
    .await;
    app.deliver(
        small,
        &application(
            small,
            "Gemeinde B",
            &format!("small-{layout:?}@gemeinde.test"),
        ),
    )
    .await;

    // Assert: the other mail goes its way; staff are told once, in German,
    // with sender, subject and size; the big one stays in the INBOX,
    // unfetched, recorded with its size.
    assert_eq!(app.wait_for_mail(small, 1).await.len(), 1);
    let notice = wait_subject(&app, STAFF, "E-Mail zu groß").await;
    let body = text(&notice);
    assert!(
        body.contains("Absender: Stadt Groß <scanner@stadt.test>"),
        "{body}"
    );
    assert!(
        body.contains("Betreff: Bewerbung EWS 7 - Stadt Groß (Scan)"),
        "{body}"
    );
    assert!(body.contains("Grenze: 100,0 kB"), "{body}");
    assert!(body.contains("bleibt für Sie im Posteingang"), "{body}");
    let inbox = wait_inbox_count(&app, 1).await;
    assert!(subject(&inbox[0]).contains("Stadt Groß"));
    // The application; the copies of what was sent are postbote's own.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM messages WHERE class IS NOT 'own'")
            .await,
        1
    );
    let size = app
        .count("SELECT size FROM mailbox_waiting WHERE stage = 'too_large' AND permanent = 1")
        .await;
    assert!(size > 300 * 1024, "{size}");
    // status stays healthy (staff were told) and lists it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let out = app.wait_status(0).await;
    assert!(out.contains("over mailbox.max_message_bytes"), "{out}");

    // Act 2: a restart; nothing new is said.
    app.stop_daemon().await;
    let since = postbote::store::now();
    app.start_daemon().await;
    wait_for_sweep_after(&app, &since).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        with_subject(&app, STAFF, "E-Mail zu groß").await.len(),
        1,
        "told once"
    );
    // The application; the copies of what was sent are postbote's own.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM messages WHERE class IS NOT 'own'")
            .await,
        1
    );

    // Act 3: the limit is raised; the mail is read at the next start.
    app.stop_daemon().await;
    app.env[0].1 = "10000000".into();
    app.start_daemon().await;

    // Assert 3: confirmed, moved, nothing waits.
    assert_eq!(app.wait_for_mail(big, 1).await.len(), 1);
    app.servers
        .wait_for_mail(PROJECT, &layout.folder(PROCESSED), 2, WAIT)
        .await
        .expect("both moved");
    wait_inbox_empty(&app).await;
    app.wait_for_count(
        "SELECT COUNT(*) = 0 FROM mailbox_waiting WHERE stage = 'too_large'",
        1,
    )
    .await;
    assert_eq!(app.wait_for_mail(small, 1).await.len(), 1, "once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_over_the_size_limit_is_left_for_staff_and_blocks_nothing_on_the_default_layout() {
    oversized_on(Layout::Default).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_over_the_size_limit_is_left_for_staff_and_blocks_nothing_below_an_inbox_prefix() {
    oversized_on(Layout::InboxPrefix).await;
}

async fn colliding_message_ids_on(layout: Layout) {
    // Arrange: two municipalities whose mail programs made the same Message-ID.
    let app = spawn_app_on(layout, Deadline::Future, "", &[]).await;
    let (a, b) = ("kaemmerei@stadt.test", "rathaus@gemeinde.test");
    let id = format!("0000000001.outlook-{layout:?}@localhost");

    // Act
    app.deliver(a, &application(a, "Stadt A", &id)).await;
    app.deliver(b, &application(b, "Gemeinde B", &id)).await;

    // Assert: two applications, each confirmed once.
    assert_eq!(app.wait_for_mail(a, 1).await.len(), 1);
    assert_eq!(app.wait_for_mail(b, 1).await.len(), 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 2);

    // Act 2: A's mail is delivered again (the same sender, the same ID).
    app.deliver(a, &application(a, "Stadt A", &id)).await;

    // Assert 2: recorded as a duplicate, not confirmed again.
    app.wait_for_count("SELECT COUNT(*) FROM messages WHERE state = 'duplicate'", 1)
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.mails_in(a, "INBOX").await.len(), 1);
    assert_eq!(app.mails_in(b, "INBOX").await.len(), 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 2);
    app.servers
        .wait_for_mail(PROJECT, &layout.folder(PROCESSED), 3, WAIT)
        .await
        .expect("all three moved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_id_from_two_senders_is_two_applications_on_the_default_layout() {
    colliding_message_ids_on(Layout::Default).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_id_from_two_senders_is_two_applications_on_a_dot_separated_server() {
    colliding_message_ids_on(Layout::MaildirDot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_mail_fails_after_its_attempts_blocks_nothing_and_is_retried_by_the_cli() {
    // Arrange: the default rescan (300 s), longer than any wait below: the
    // retry must wake the daemon (SIGUSR1), not wait for the next look.
    let app = spawn_app_on(Layout::Default, Deadline::Future, "", &[]).await;
    // The debug hook (see `intake::process::DEBUG_PANIC_HEADER`): this mail
    // panics mid-processing while the file exists.
    let cause = app.dir.path().join("postbote-debug-panic-cli");
    std::fs::write(&cause, "").unwrap();
    let (a, b) = ("kaemmerei@stadt.test", "rathaus@gemeinde.test");
    let poison = format!(
        "{DEBUG_PANIC_HEADER}: {}\r\n{}",
        cause.display(),
        application(a, "Stadt A", "panic-1@stadt.test")
    );

    // Act: the poison mail, then an ordinary one.
    app.deliver(a, &poison).await;
    app.deliver(b, &application(b, "Gemeinde B", "ok-1@gemeinde.test"))
        .await;

    // Assert: the other mail is confirmed meanwhile; after its attempts the
    // poison mail is failed, staff get a notice naming the retry command,
    // it stays in the INBOX and status is unhealthy.
    assert_eq!(app.wait_for_mail(b, 1).await.len(), 1);
    let failed = "SELECT COUNT(*) FROM messages WHERE state = 'failed'";
    let store = app.store().await;
    poll_until(
        "the poison mail marked failed",
        Duration::from_secs(60),
        Duration::from_millis(200),
        async || {
            let (n, attempts): (i64, i64) = sqlx::query_as(
                "SELECT COUNT(*), COALESCE(MAX(attempts), 0) FROM messages WHERE state = 'failed'",
            )
            .fetch_one(store.pool())
            .await
            .unwrap();
            if n == 1 {
                Ok(attempts)
            } else {
                Err(format!("not yet ({attempts} attempts)"))
            }
        },
    )
    .await;
    store.close().await;
    assert_eq!(
        app.count("SELECT attempts FROM messages WHERE state = 'failed'")
            .await,
        MAX_ATTEMPTS
    );
    let notice = wait_subject(&app, STAFF, "konnte nicht verarbeitet werden").await;
    let id = app
        .count("SELECT id FROM messages WHERE state = 'failed'")
        .await;
    assert!(
        text(&notice).contains(&format!("postbote messages retry {id}")),
        "{notice}"
    );
    assert!(text(&notice).contains("panic while processing"), "{notice}");
    wait_inbox_count(&app, 1).await;
    let out = app.wait_status(1).await;
    assert!(out.contains("could not be processed"), "{out}");
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 1);
    assert!(app.mails_in(a, "INBOX").await.is_empty(), "not confirmed");

    // Act 2: the cause is gone; the administrator finds the ID and retries.
    std::fs::remove_file(&cause).unwrap();
    let list = app.cli(&["messages", "list", "--failed", "--json"]);
    assert_eq!(list.status.code(), Some(0), "{list:?}");
    let rows: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(rows[0]["id"], id);
    assert_eq!(rows[0]["state"], "failed");
    let human = stdout(&app.cli(&["messages", "list"]));
    assert!(human.contains("panic while processing"), "{human}");
    let retry = app.cli(&["messages", "retry", &id.to_string()]);
    assert_eq!(retry.status.code(), Some(0), "{retry:?}");
    assert!(
        stdout(&retry).contains("pending again"),
        "{}",
        stdout(&retry)
    );

    // Assert 2: processed once, confirmed once, moved; healthy again; a
    // second retry finds nothing to do.
    assert_eq!(app.wait_for_mail(a, 1).await.len(), 1);
    app.servers
        .wait_for_mail(PROJECT, PROCESSED, 2, WAIT)
        .await
        .expect("both moved");
    wait_inbox_empty(&app).await;
    assert_eq!(app.count(failed).await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 2);
    app.wait_status(0).await;
    let again = app.cli(&["messages", "retry", &id.to_string()]);
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    let missing = app.cli(&["messages", "retry", "99999"]);
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.mails_in(a, "INBOX").await.len(), 1);
    assert_eq!(
        with_subject(&app, STAFF, "konnte nicht verarbeitet werden")
            .await
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_locked_past_its_busy_timeout_counts_nothing_and_the_mail_goes_through() {
    // Arrange: the daemon is idle; someone holds the database's write lock
    // for longer than the daemon's busy timeout (10 s).
    let app = spawn_app_on(Layout::Default, Deadline::Future, "", &[]).await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM health WHERE key = 'mailbox.last_ok'",
        1,
    )
    .await;
    let db = app.dir.path().join("postbote.sqlite");
    let mut holder = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    let a = "kaemmerei@stadt.test";

    // Act: an application arrives while the lock is held; then it is released.
    app.deliver(a, &application(a, "Stadt A", "busy-1@stadt.test"))
        .await;
    tokio::time::sleep(Duration::from_secs(13)).await;
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    holder.close().await.unwrap();

    // Assert: processed with no attempt counted, confirmed once, moved.
    assert_eq!(app.wait_for_mail(a, 1).await.len(), 1);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM messages WHERE state = 'processed' AND attempts = 0 \
             AND error IS NULL AND class IS NOT 'own'"
        )
        .await,
        1,
        "the application (the copy of its confirmation is postbote's own)"
    );
    app.servers
        .wait_for_mail(PROJECT, PROCESSED, 1, WAIT)
        .await
        .expect("moved");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.mails_in(a, "INBOX").await.len(), 1);
}

async fn news_during_fetch_on(layout: Layout) {
    // Arrange: the daemon is stopped; a 4 MiB application waits; an IMAP
    // source of our own has scanned the folder.
    let mut app = spawn_app_on(layout, Deadline::Future, "", &[]).await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM health WHERE key = 'mailbox.last_ok'",
        1,
    )
    .await;
    app.stop_daemon().await;
    let a = "scanner@stadt.test";
    app.deliver(
        a,
        &big_application(a, "Stadt A", "large-1@stadt.test", 4096),
    )
    .await;
    app.servers
        .wait_for_mail(PROJECT, "INBOX", 1, WAIT)
        .await
        .unwrap();
    let imap = app.config().settings.imap.unwrap();
    let mut source = ImapSource::new(imap, "INBOX", PROCESSED);
    source.connect().await.unwrap();
    let first = source.scan().await.unwrap().remove(0);
    let stop = CancellationToken::new();
    let limit = 50 * 1024 * 1024;

    // Act 1: new mail arrives before the large FETCH answers; the server
    // announces it (EXISTS) with the FETCH's answer.
    app.deliver(
        "b@gemeinde.test",
        &application("b@gemeinde.test", "Gemeinde B", "news-1@gemeinde.test"),
    )
    .await;
    app.servers
        .wait_for_mail(PROJECT, "INBOX", 2, WAIT)
        .await
        .unwrap();
    // NOTE: a staff mail client has the INBOX open: the new mail's \Recent
    // goes to it, so Dovecot's EXISTS in our FETCH answer is the only news
    // our session gets (Exchange and Gmail send no RECENT at all).
    let imap = app.config().settings.imap.unwrap();
    let mut staff_client = postbote::mailbox::imap::login(&imap).await.unwrap();
    staff_client.select("INBOX").await.unwrap();
    let Fetch::Mail(f) = source.fetch(&first, limit).await.unwrap() else {
        panic!("{layout:?}: fetched");
    };
    assert!(f.raw.len() > 4_000_000);

    // Assert 1: the wait after the sweep returns at once (not at the next
    // change, which may never come), and the next scan sees the new mail.
    let start = Instant::now();
    let wake = source.wait(&stop, Duration::from_secs(20)).await.unwrap();
    assert_eq!(wake, Wake::Changed);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{layout:?}: {:?}",
        start.elapsed()
    );
    assert_eq!(source.scan().await.unwrap().len(), 2);

    // Act 2: mail delivered while a large FETCH is in progress.
    let deliver = async {
        app.deliver(
            "c@dorf.test",
            &application("c@dorf.test", "Dorf C", "news-2@dorf.test"),
        )
        .await;
    };
    let (fetched, ()) = tokio::join!(source.fetch(&first, limit), deliver);
    assert!(matches!(fetched, Ok(Fetch::Mail(_))));

    // Assert 2: announced during the FETCH or at the IDLE after it, the
    // wait ends promptly and the scan holds all three.
    let start = Instant::now();
    let what = format!("{layout:?}: the third mail seen");
    poll_until(&what, WAIT, Duration::ZERO, async || {
        source.wait(&stop, Duration::from_secs(20)).await.unwrap();
        let n = source.scan().await.unwrap().len();
        if n == 3 { Ok(()) } else { Err(n) }
    })
    .await;
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{layout:?}: {:?}",
        start.elapsed()
    );
    let _ = staff_client.logout().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_announced_during_a_large_fetch_is_swept_at_once_on_the_default_layout() {
    news_during_fetch_on(Layout::Default).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_announced_during_a_large_fetch_is_swept_at_once_below_an_inbox_prefix() {
    news_during_fetch_on(Layout::InboxPrefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_mailbox_reads_healthy_and_contradictory_health_limits_are_refused() {
    // Arrange: IDLE renewed only every 25 minutes (the default), the
    // mailbox stale after 3 s, a look at the folder every second.
    let app = spawn_app_on(
        Layout::Default,
        Deadline::Future,
        "",
        &[
            ("POSTBOTE_HEALTH__MAILBOX_STALE_AFTER_SECS", "3"),
            ("POSTBOTE_MAILBOX__RESCAN_SECS", "1"),
        ],
    )
    .await;
    app.wait_status(0).await;

    // Act + Assert: nothing arrives for 8 s; status stays healthy throughout.
    let until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < until {
        let out = app.cli(&["status"]);
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
        tokio::time::sleep(Duration::from_millis(700)).await;
    }

    // A staleness limit the checks cannot keep is refused by check-config.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_postbote"))
        .arg("--config")
        .arg(&app.config_path)
        .arg("check-config")
        .env("POSTBOTE_HEALTH__MAILBOX_STALE_AFTER_SECS", "120")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("health.mailbox_stale_after_secs")
            && stderr.contains("mailbox.rescan_secs"),
        "{stderr}"
    );
}
