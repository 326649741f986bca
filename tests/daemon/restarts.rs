use crate::helpers::{PROJECT, TestApp, WAIT, application, poll_until, spawn_app};
use postbote::config::Config;
use postbote::context::App;
use postbote::intake::worker::sweep;
use postbote::mailbox::imap::ImapSource;
use postbote::mailbox::{Fetch, MailSource, SourceError, Wake};
use postbote::store::messages::Location;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Waits until the daemon completed a mailbox sweep after `since`.
async fn wait_for_sweep_after(app: &TestApp, since: &str) {
    let sql =
        format!("SELECT COUNT(*) FROM health WHERE key = 'mailbox.last_ok' AND value > '{since}'");
    app.wait_for_count(&sql, 1).await;
}

fn who(i: usize) -> String {
    format!("amt{i}@stadt.test")
}

async fn deliver_applications(app: &TestApp, range: std::ops::Range<usize>) {
    for i in range {
        let raw = application(
            &who(i),
            &format!("Stadt {i}"),
            &format!("mid-{i}@stadt.test"),
        );
        app.deliver(&who(i), &raw).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_restarted_mid_stream_processes_nothing_twice() {
    // Arrange: six applications arrive; the daemon is stopped after the first confirmation.
    let mut app = spawn_app().await;
    deliver_applications(&app, 0..6).await;
    app.wait_for_count("SELECT COUNT(*) FROM outbox WHERE state = 'sent'", 1)
        .await;
    app.stop_daemon().await;
    // Act: more mail while it is down, then two restarts.
    deliver_applications(&app, 6..10).await;
    app.start_daemon().await;
    assert_eq!(
        app.wait_for_count("SELECT COUNT(*) FROM outbox WHERE state = 'sent'", 10)
            .await,
        10
    );
    app.stop_daemon().await;
    let since = postbote::store::now();
    app.start_daemon().await;
    wait_for_sweep_after(&app, &since).await;
    // Assert: one confirmation per applicant, no more.
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 10);
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 10);
    for i in 0..10 {
        assert_eq!(
            app.wait_for_mail(&who(i), 1).await.len(),
            1,
            "{} got a second mail",
            who(i)
        );
    }
    crate::helpers::wait_inbox_empty(&app).await;
}

/// The real IMAP source, except that it "crashes" when asked to move a mail:
/// the state of a daemon killed between the commit and the MOVE.
struct CrashBeforeMove(ImapSource);

impl MailSource for CrashBeforeMove {
    fn kind(&self) -> &'static str {
        self.0.kind()
    }
    async fn connect(&mut self) -> anyhow::Result<()> {
        self.0.connect().await
    }
    async fn scan(&mut self) -> anyhow::Result<Vec<Location>> {
        self.0.scan().await
    }
    async fn fetch(&mut self, loc: &Location, max_bytes: u64) -> Result<Fetch, SourceError> {
        self.0.fetch(loc, max_bytes).await
    }
    async fn delete(&mut self, loc: &Location) -> Result<(), SourceError> {
        self.0.delete(loc).await
    }
    async fn move_processed(&mut self, _loc: &Location) -> Result<(), SourceError> {
        // A dying process looks like a lost connection: the sweep ends.
        Err(SourceError::Connection(anyhow::anyhow!(
            "simulated crash before MOVE"
        )))
    }
    async fn wait(
        &mut self,
        shutdown: &CancellationToken,
        at_most: Duration,
    ) -> anyhow::Result<Wake> {
        self.0.wait(shutdown, at_most).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_commit_and_move_and_a_new_uid_for_the_same_mail_repeat_nothing() {
    // Arrange: the daemon is down while an application arrives.
    let mut app = spawn_app().await;
    app.stop_daemon().await;
    let applicant = "kaemmerei@stadt.test";
    let raw = application(applicant, "Stadt Musterhausen", "crash-1@stadt.test");
    app.deliver(applicant, &raw).await;
    app.servers
        .wait_for_mail(PROJECT, "INBOX", 1, Duration::from_secs(20))
        .await
        .unwrap();
    // Act 1: a run that commits, then dies before the MOVE.
    let config: Config = app.config();
    let imap = config.settings.imap.clone().unwrap();
    let one_shot = App::build(config).await.unwrap();
    let mut source = CrashBeforeMove(ImapSource::new(imap, "INBOX", "Postbote/Verarbeitet"));
    source.connect().await.unwrap();
    assert!(
        sweep(&one_shot, &mut source, &CancellationToken::new())
            .await
            .is_err()
    );
    one_shot.store.close().await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox").await,
        1,
        "the confirmation is queued with the commit"
    );
    assert_eq!(
        app.mails_in(PROJECT, "INBOX").await.len(),
        1,
        "not moved yet"
    );
    // Act 2: the daemon starts again.
    app.start_daemon().await;
    app.wait_for_mail(applicant, 1).await;
    let moved = app
        .servers
        .wait_for_mail(PROJECT, "Postbote/Verarbeitet", 1, Duration::from_secs(20))
        .await
        .unwrap();
    // Act 3: the same bytes reappear under a new UID (as after a UIDVALIDITY
    // change), and the municipality's server delivers the same mail again.
    app.servers
        .append(PROJECT, "INBOX", &moved[0])
        .await
        .unwrap();
    app.deliver(applicant, &raw).await;
    assert_eq!(
        app.wait_for_count("SELECT COUNT(*) FROM messages WHERE state = 'duplicate'", 1)
            .await,
        1
    );
    // Three locations of the application (the copy of the confirmation is
    // postbote's own, filed into the sent folder).
    let locations = "SELECT COUNT(*) FROM mailbox_locations l JOIN messages m ON m.id = l.message_row \
                     WHERE m.message_id NOT LIKE '%.postbote@ews.test'";
    assert_eq!(app.wait_for_count(locations, 3).await, 3);
    // Assert: one confirmation, one application, nothing left in the inbox.
    let what = "the handled copies to be moved out of the inbox";
    poll_until(what, WAIT, Duration::from_millis(50), async || {
        match app.mails_in(PROJECT, "INBOX").await.len() {
            0 => Ok(()),
            n => Err(format!("{n} mail(s) in the inbox")),
        }
    })
    .await;
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 1);
    assert_eq!(app.mails_in(applicant, "INBOX").await.len(), 1);
}
