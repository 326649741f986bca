//! Part 5: folders on any IMAP server, and one message never blocks the
//! others. The pipeline (confirm, move, restart) runs on three Dovecot
//! layouts: `/` (LAYOUT=fs), Maildir++ with `.`, and everything below `INBOX.`.

use crate::helpers::{
    Deadline, PROJECT, STAFF, TestApp, application, spawn_app_on, start_servers, subject,
    wait_subject, write_config,
};
use crate::mail_servers::Layout;
use postbote::config::Config;
use postbote::context::App;
use postbote::intake::worker::sweep;
use postbote::mailbox::imap::ImapSource;
use postbote::mailbox::{Fetch, MailSource, SourceError, Wake};
use postbote::store::messages::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const PROCESSED: &str = "Postbote/Verarbeitet";
const SENT: &str = "Postbote/Gesendet";

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn pipeline_on(layout: Layout) {
    // Arrange: the daemon on this layout, with a sent folder too.
    let mut app = spawn_app_on(
        layout,
        Deadline::Future,
        "",
        &[("POSTBOTE_IMAP__SENT_FOLDER", SENT)],
    )
    .await;
    let processed = layout.folder(PROCESSED);
    let a = "kaemmerei@stadt.test";

    // Act 1: an application and a question.
    app.deliver(
        a,
        &application(a, "Stadt A", &format!("l1-{layout:?}@stadt.test")),
    )
    .await;
    let question = "From: Frau Fragend <frage@dorf.test>\r\nTo: projekt@ews.test\r\n\
                    Subject: Frage zur Fortbildung\r\nMessage-ID: <q-l@dorf.test>\r\n\r\nWann beginnt das?\r\n";
    app.deliver("frage@dorf.test", question).await;

    // Assert 1: confirmed, moved to the server's form of the folder, which is
    // subscribed; the question stays; the sent copy is filed.
    assert_eq!(app.wait_for_mail(a, 1).await.len(), 1);
    app.servers
        .wait_for_mail(PROJECT, &processed, 1, Duration::from_secs(30))
        .await
        .expect("moved to the processed folder");
    app.servers
        .wait_for_mail(PROJECT, &layout.folder(SENT), 1, Duration::from_secs(30))
        .await
        .expect("a copy in the sent folder");
    let subscribed = app.servers.subscribed(PROJECT).await.unwrap();
    assert!(
        subscribed.contains(&processed) && subscribed.contains(&layout.folder(SENT)),
        "{layout:?}: subscribed {subscribed:?}"
    );
    app.wait_for_count("SELECT COUNT(*) FROM messages WHERE state = 'processed'", 2)
        .await;
    let inbox = app.mails_in(PROJECT, "INBOX").await;
    assert_eq!(inbox.len(), 1, "{layout:?}: only the question stays");
    assert_eq!(subject(&inbox[0]), "Frage zur Fortbildung");
    assert!(app.wait_status(0).await.contains("health:       OK"));

    // Act 2: a restart, then a second application.
    app.stop_daemon().await;
    app.start_daemon().await;
    let b = "rathaus@gemeinde.test";
    app.deliver(
        b,
        &application(b, "Gemeinde B", &format!("l2-{layout:?}@gemeinde.test")),
    )
    .await;

    // Assert 2: the second is confirmed and moved; nothing is repeated.
    assert_eq!(app.wait_for_mail(b, 1).await.len(), 1);
    app.servers
        .wait_for_mail(PROJECT, &processed, 2, Duration::from_secs(30))
        .await
        .expect("second moved");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        app.mails_in(a, "INBOX").await.len(),
        1,
        "{layout:?}: A once"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE purpose LIKE 'confirmation%'")
            .await,
        2
    );
    assert_eq!(app.mails_in(PROJECT, "INBOX").await.len(), 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM mailbox_waiting").await, 0);
    assert!(app.wait_status(0).await.contains("health:       OK"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_runs_on_a_slash_separated_server() {
    pipeline_on(Layout::Fs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_runs_on_a_dot_separated_maildir_server() {
    pipeline_on(Layout::MaildirDot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_runs_on_a_server_with_an_inbox_prefix() {
    pipeline_on(Layout::InboxPrefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_the_server_refuses_stops_the_start_naming_folder_answer_and_setting() {
    for layout in Layout::FIELD {
        // Arrange: a folder name no Maildir can hold (a level longer than a file name).
        let servers = start_servers(layout).await;
        let dir = tempfile::tempdir().unwrap();
        let long = "x".repeat(300);
        let extra = "";
        let path = write_config(dir.path(), &servers, Deadline::Future, extra);
        let toml = std::fs::read_to_string(&path)
            .unwrap()
            .replace(PROCESSED, &format!("Postbote/{long}"));
        std::fs::write(&path, toml).unwrap();
        let config = Config::load(&path).expect("config");

        // Act: start the daemon.
        let app = App::build(config).await.unwrap();
        let result = tokio::time::timeout(
            Duration::from_secs(30),
            postbote::startup::run(app.clone(), CancellationToken::new()),
        )
        .await
        .expect("start ends");

        // Assert: the start fails and says which folder, what the server said,
        // and what to configure; status is unhealthy.
        let error = format!("{:#}", result.expect_err("the start must fail"));
        assert!(error.contains(&long), "{layout:?}: {error}");
        assert!(
            error.contains("refused by the server"),
            "{layout:?}: {error}"
        );
        assert!(
            error.contains("mailbox.processed_folder"),
            "{layout:?}: {error}"
        );
        app.store.close().await;
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_postbote"))
            .arg("--config")
            .arg(&path)
            .arg("status")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
        assert!(
            stdout(&out).contains("cannot be opened"),
            "{}",
            stdout(&out)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_processed_and_sent_folders_are_created_again() {
    // Arrange: the daemon has created its folders; then someone deletes them.
    let app = spawn_app_on(
        Layout::MaildirDot,
        Deadline::Future,
        "",
        &[("POSTBOTE_IMAP__SENT_FOLDER", SENT)],
    )
    .await;
    let (processed, sent) = (
        Layout::MaildirDot.folder(PROCESSED),
        Layout::MaildirDot.folder(SENT),
    );
    app.wait_for_count(
        "SELECT COUNT(*) FROM health WHERE key = 'mailbox.last_ok'",
        1,
    )
    .await;
    for folder in [&processed, &sent] {
        app.servers.delete_folder(PROJECT, folder).await.unwrap();
    }

    // Act: an application arrives.
    let a = "kaemmerei@stadt.test";
    app.deliver(a, &application(a, "Stadt A", "del-1@stadt.test"))
        .await;

    // Assert: confirmed once and moved into the re-created folder.
    assert_eq!(app.wait_for_mail(a, 1).await.len(), 1);
    app.servers
        .wait_for_mail(PROJECT, &processed, 1, Duration::from_secs(30))
        .await
        .expect("moved after re-creating the folder");
    app.servers
        .wait_for_mail(PROJECT, &sent, 1, Duration::from_secs(30))
        .await
        .expect("the sent copy after re-creating its folder");
    crate::helpers::wait_inbox_empty(&app).await;
}

/// The real IMAP source, except that the server "refuses" to move (or with
/// `fetch`, to hand over) the message with UID `uid` while `refuse` is set:
/// alone (counted in `refusals`), and as a server does, in any command for
/// a UID set that holds it (counted in `page_refusals`).
struct RefuseMove {
    inner: ImapSource,
    refuse: Arc<AtomicBool>,
    uid: String,
    refusals: Arc<AtomicUsize>,
    page_refusals: Arc<AtomicUsize>,
    fetch: bool,
}

impl RefuseMove {
    fn refuses_page(&self, locs: &[Location], fetch: bool) -> bool {
        let refused = self.fetch == fetch
            && self.refuse.load(Ordering::SeqCst)
            && locs.iter().any(|l| l.uid == self.uid);
        if refused {
            self.page_refusals.fetch_add(1, Ordering::SeqCst);
        }
        refused
    }
}

impl MailSource for RefuseMove {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn batches(&self) -> bool {
        self.inner.batches()
    }
    async fn sizes(
        &mut self,
        locs: &[Location],
    ) -> Result<Option<std::collections::HashMap<String, u64>>, SourceError> {
        self.inner.sizes(locs).await
    }
    async fn fetch_page(
        &mut self,
        locs: &[Location],
        max_bytes: u64,
    ) -> Result<Vec<Result<Fetch, SourceError>>, SourceError> {
        if self.refuses_page(locs, true) {
            return Err(SourceError::Message(anyhow::anyhow!(
                "NO [SERVERBUG] Internal error occurred (simulated, page)"
            )));
        }
        self.inner.fetch_page(locs, max_bytes).await
    }
    async fn move_processed_many(&mut self, locs: &[Location]) -> Result<(), SourceError> {
        if self.refuses_page(locs, false) {
            return Err(SourceError::Message(anyhow::anyhow!(
                "NO [CANNOT] Quota exceeded (simulated, page)"
            )));
        }
        self.inner.move_processed_many(locs).await
    }
    async fn move_sent_many(&mut self, locs: &[Location]) -> Result<bool, SourceError> {
        self.inner.move_sent_many(locs).await
    }
    async fn connect(&mut self) -> anyhow::Result<()> {
        self.inner.connect().await
    }
    async fn scan(&mut self) -> anyhow::Result<Vec<Location>> {
        self.inner.scan().await
    }
    async fn fetch(&mut self, loc: &Location, max_bytes: u64) -> Result<Fetch, SourceError> {
        if self.fetch && loc.uid == self.uid && self.refuse.load(Ordering::SeqCst) {
            self.refusals.fetch_add(1, Ordering::SeqCst);
            return Err(SourceError::Message(anyhow::anyhow!(
                "NO [SERVERBUG] Internal error occurred (simulated)"
            )));
        }
        self.inner.fetch(loc, max_bytes).await
    }
    async fn delete(&mut self, loc: &Location) -> Result<(), SourceError> {
        self.inner.delete(loc).await
    }
    async fn move_processed(&mut self, loc: &Location) -> Result<(), SourceError> {
        if !self.fetch && loc.uid == self.uid && self.refuse.load(Ordering::SeqCst) {
            self.refusals.fetch_add(1, Ordering::SeqCst);
            return Err(SourceError::Message(anyhow::anyhow!(
                "NO [CANNOT] Quota exceeded (simulated)"
            )));
        }
        self.inner.move_processed(loc).await
    }
    async fn wait(
        &mut self,
        shutdown: &CancellationToken,
        at_most: Duration,
    ) -> anyhow::Result<Wake> {
        self.inner.wait(shutdown, at_most).await
    }
}

/// The daemon on `layout`, stopped after its first mailbox check, with one
/// application per `(sender, municipality, Message-ID)` waiting in the inbox.
async fn waiting_applications(
    layout: Layout,
    env: &[(&str, &str)],
    mails: &[(&str, &str, &str)],
) -> TestApp {
    let mut app = spawn_app_on(layout, Deadline::Future, "", env).await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM health WHERE key = 'mailbox.last_ok'",
        1,
    )
    .await;
    app.stop_daemon().await;
    for (n, (from, name, id)) in mails.iter().enumerate() {
        app.deliver(from, &application(from, name, id)).await;
        app.servers
            .wait_for_mail(PROJECT, "INBOX", n + 1, Duration::from_secs(20))
            .await
            .unwrap();
    }
    app
}

/// A one-shot App on the test's config, and the real IMAP source wrapped so
/// that the server refuses (to move, or with `fetch` to hand over) the first
/// message in the inbox.
async fn refusing_first(app: &TestApp, fetch: bool) -> (Arc<App>, RefuseMove) {
    let config: Config = app.config();
    let imap = config.settings.imap.clone().unwrap();
    let one = App::build(config).await.unwrap();
    let mut inner = ImapSource::new(imap, "INBOX", PROCESSED);
    inner.connect().await.unwrap();
    let uid = inner.scan().await.unwrap()[0].uid.clone();
    let source = RefuseMove {
        inner,
        refuse: Arc::new(AtomicBool::new(true)),
        uid,
        refusals: Arc::new(AtomicUsize::new(0)),
        page_refusals: Arc::new(AtomicUsize::new(0)),
        fetch,
    };
    (one, source)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_cannot_be_moved_never_blocks_the_others_and_is_retried_once_fixed() {
    // Arrange: two applications wait while the daemon is down; the server
    // will refuse to move the first.
    let env = [
        ("POSTBOTE_MAILBOX__RETRY_INITIAL_SECS", "1"),
        ("POSTBOTE_MAILBOX__RETRY_MAX_SECS", "1"),
        ("POSTBOTE_MAILBOX__MAX_ATTEMPTS", "4"),
        ("POSTBOTE_HEALTH__UNPROCESSED_AFTER_SECS", "2"),
    ];
    let (a, b) = ("kaemmerei@stadt.test", "rathaus@gemeinde.test");
    let mut app = waiting_applications(
        Layout::InboxPrefix,
        &env,
        &[
            (a, "Stadt A", "mv-1@stadt.test"),
            (b, "Gemeinde B", "mv-2@gemeinde.test"),
        ],
    )
    .await;
    let (one, mut source) = refusing_first(&app, false).await;
    let (refuse, refusals) = (source.refuse.clone(), source.refusals.clone());
    let stop = CancellationToken::new();

    // Act 1: one sweep.
    let s = sweep(&one, &mut source, &stop)
        .await
        .expect("the sweep goes on");

    // Assert 1: both confirmed, the second moved, the first recorded. The
    // two were moved as one UID set first; the server's refusal of the set
    // sent the sweep one by one, and only the refused one counts.
    assert_eq!((s.stored, s.moved, s.failed), (2, 1, 1));
    assert_eq!(source.page_refusals.load(Ordering::SeqCst), 1);
    assert_eq!(refusals.load(Ordering::SeqCst), 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox").await,
        2,
        "both confirmed"
    );
    let processed = Layout::InboxPrefix.folder(PROCESSED);
    assert_eq!(
        app.servers
            .fetch_all(PROJECT, &processed)
            .await
            .unwrap()
            .len(),
        1
    );

    // Act 2: an immediate sweep (not due yet), then one after the delay.
    let s = sweep(&one, &mut source, &stop).await.unwrap();
    assert_eq!((s.moved, s.failed), (0, 0), "not retried before it is due");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    sweep(&one, &mut source, &stop).await.unwrap();
    assert_eq!(refusals.load(Ordering::SeqCst), 2);

    // Assert 2: status is unhealthy and says why.
    let out = app.wait_status(1).await;
    assert!(out.contains("keeps failing"), "{out}");
    assert!(out.contains("waited unprocessed"), "{out}");
    assert!(out.contains("Quota exceeded"), "{out}");
    // The alarm covers the same conditions, once per incident.
    assert_eq!(postbote::calendar::alarm::check(&one).await.unwrap(), 2);
    assert_eq!(postbote::calendar::alarm::check(&one).await.unwrap(), 2);
    let alarms = "SELECT COUNT(*) FROM outbox WHERE subject LIKE '%ALARM%'";
    assert_eq!(app.count(alarms).await, 2, "one alarm per incident");

    // Act 3: the server takes it again.
    refuse.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let s = sweep(&one, &mut source, &stop).await.unwrap();

    // Assert 3: moved, nothing sent or stored twice, healthy again.
    assert_eq!((s.stored, s.moved, s.failed), (0, 1, 0));
    assert_eq!(
        app.servers
            .fetch_all(PROJECT, &processed)
            .await
            .unwrap()
            .len(),
        2
    );
    crate::helpers::wait_inbox_empty(&app).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM messages").await, 2);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE purpose LIKE 'confirmation%'")
            .await,
        2
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM mailbox_waiting").await, 0);
    postbote::store::health::mailbox_ok(&one.store)
        .await
        .unwrap();
    app.wait_status(0).await;
    one.store.close().await;
    app.start_daemon().await;
    assert_eq!(app.wait_for_mail(a, 1).await.len(), 1);
    assert_eq!(app.wait_for_mail(b, 1).await.len(), 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.mails_in(a, "INBOX").await.len(), 1, "confirmed once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_refused_again_and_again_is_left_for_staff_with_one_notice() {
    // Arrange: two attempts, then the message is left for a human.
    let env = [
        ("POSTBOTE_MAILBOX__RETRY_INITIAL_SECS", "1"),
        ("POSTBOTE_MAILBOX__RETRY_MAX_SECS", "1"),
        ("POSTBOTE_MAILBOX__MAX_ATTEMPTS", "2"),
    ];
    let a = "kaemmerei@stadt.test";
    let mut app = waiting_applications(
        Layout::MaildirDot,
        &env,
        &[(a, "Stadt A", "left-1@stadt.test")],
    )
    .await;
    let (one, mut source) = refusing_first(&app, false).await;
    let refusals = source.refusals.clone();
    let stop = CancellationToken::new();

    // Act: sweeps over several retry delays.
    for _ in 0..4 {
        sweep(&one, &mut source, &stop).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    one.store.close().await;

    // Assert: two attempts, then left alone; one notice; status unhealthy.
    assert_eq!(refusals.load(Ordering::SeqCst), 2);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM mailbox_waiting WHERE permanent = 1 AND stage = 'move'")
            .await,
        1
    );
    app.start_daemon().await;
    let notice = wait_subject(&app, STAFF, "kann nicht nach").await;
    assert!(notice.contains("Postbote/Verarbeitet"), "{notice}");
    let out = app.wait_status(1).await;
    assert!(out.contains("left for staff"), "{out}");
    assert_eq!(app.wait_for_mail(a, 1).await.len(), 1, "confirmed once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_that_cannot_be_opened_makes_status_unhealthy_until_it_is_back() {
    let app = spawn_app_on(
        Layout::Fs,
        Deadline::Future,
        "",
        &[("POSTBOTE_HEALTH__MAILBOX_ERROR_AFTER_SECS", "1")],
    )
    .await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM health WHERE key = 'mailbox.last_ok'",
        1,
    )
    .await;
    assert!(app.wait_status(0).await.contains("OK"));
    app.servers.stop_dovecot().expect("stop dovecot");
    let out = app.wait_status(1).await;
    assert!(out.contains("cannot be opened"), "{out}");
    app.servers.start_dovecot().expect("start dovecot");
    app.wait_status(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_server_will_not_hand_over_is_left_for_staff_and_the_next_goes_on() {
    // Arrange: two applications; the server refuses to fetch the first.
    let env = [
        ("POSTBOTE_MAILBOX__RETRY_INITIAL_SECS", "1"),
        ("POSTBOTE_MAILBOX__RETRY_MAX_SECS", "1"),
        ("POSTBOTE_MAILBOX__MAX_ATTEMPTS", "2"),
    ];
    let (a, b) = ("kaemmerei@stadt.test", "rathaus@gemeinde.test");
    let mut app = waiting_applications(
        Layout::Fs,
        &env,
        &[
            (a, "Stadt A", "f-1@stadt.test"),
            (b, "Gemeinde B", "f-2@gemeinde.test"),
        ],
    )
    .await;
    let (one, mut source) = refusing_first(&app, true).await;
    let refusals = source.refusals.clone();
    let stop = CancellationToken::new();

    // Act: sweeps over the retry delays.
    let s = sweep(&one, &mut source, &stop)
        .await
        .expect("the sweep goes on");
    assert_eq!((s.stored, s.moved, s.failed), (1, 1, 1));
    // The page of two was refused as a whole, then fetched one by one.
    assert_eq!(source.page_refusals.load(Ordering::SeqCst), 1);
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        sweep(&one, &mut source, &stop).await.unwrap();
    }
    one.store.close().await;

    // Assert: tried twice, then left in the inbox for staff with one notice;
    // the second application went its way; status says why it is unhealthy.
    assert_eq!(refusals.load(Ordering::SeqCst), 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM messages").await, 1);
    assert_eq!(app.mails_in(PROJECT, "INBOX").await.len(), 1);
    app.start_daemon().await;
    assert_eq!(app.wait_for_mail(b, 1).await.len(), 1);
    let notice = wait_subject(&app, STAFF, "kann nicht abgerufen werden").await;
    assert!(notice.contains("SERVERBUG"), "{notice}");
    let out = app.wait_status(1).await;
    assert!(out.contains("fetching keeps failing"), "{out}");
    assert!(out.contains("1 left for staff"), "{out}");
}
