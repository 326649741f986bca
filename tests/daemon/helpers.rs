//! `spawn_app()`: private Dovecot + Postfix, a config in a temp dir, and the
//! daemon running in-process against them. Typed helpers for the tests.

use crate::mail_servers::{Layout, MailServers};
use chrono::{DateTime, Utc};
use clap::Parser;
use postbote::calendar::clock::Clock;
use postbote::config::{Config, Programmes, Settings};
use postbote::context::App;
use postbote::startup;
use postbote::store::Store;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The project mailbox the daemon watches.
pub const PROJECT: &str = "projekt@ews.test";
/// A staff member who gets notices.
pub const STAFF: &str = "leitung@ews.test";
/// Where the daemon files the copies of the mail it sent.
pub const SENT_FOLDER: &str = "Postbote/Gesendet";
/// How long a test waits for the daemon to get something done.
pub const WAIT: Duration = Duration::from_secs(30);

/// Calls `probe` every `every` until it returns `Ok`, and returns that value; `Err` means
/// "not yet" and carries what the probe saw instead. Fails the test once `timeout` has
/// passed, naming `what` was awaited and the last observation.
pub async fn poll_until<T, O: Display>(
    what: &str,
    timeout: Duration,
    every: Duration,
    probe: impl AsyncFnMut() -> Result<T, O>,
) -> T {
    crate::mail_servers::poll(what, timeout, every, probe)
        .await
        .unwrap_or_else(|err| panic!("{err:#}"))
}

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var("TEST_LOG").is_ok() {
        postbote::telemetry::init(Default::default(), "postbote=debug,info");
    }
});

/// Which programme the daemon runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// The shipped EWS 7 dates moved eleven years ahead (same weekdays): every
    /// application sent now is on time.
    Future,
    /// The shipped EWS 7 dates as they are: every application sent now is late.
    Past,
}

pub struct TestApp {
    pub servers: MailServers,
    pub dir: TempDir,
    pub config_path: PathBuf,
    /// `POSTBOTE_*` overrides applied on top of the config file.
    pub env: Vec<(String, String)>,
    daemon: Option<(JoinHandle<()>, CancellationToken)>,
    /// The scheduler clock under test control, if any.
    pub clock: Option<Clock>,
    /// The running daemon's App (for waking its scheduler).
    running: Option<Arc<App>>,
}

/// Like [`spawn_app_with_env`], with the scheduler on a hand-set clock
/// standing at `start`: tests move it with [`TestApp::tick_at`]. Returns once
/// the start-up pass at `start` is done, so that no test races it (it would
/// otherwise catch up a digest of its own with whatever mail came first).
pub async fn spawn_app_with_clock(
    deadline: Deadline,
    env: &[(&str, &str)],
    start: DateTime<Utc>,
) -> TestApp {
    LazyLock::force(&TRACING);
    let servers = tokio::task::spawn_blocking(MailServers::start)
        .await
        .expect("join")
        .expect("mail servers start");
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = write_config(dir.path(), &servers, deadline, "");
    let mut app = TestApp {
        servers,
        dir,
        config_path,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        daemon: None,
        clock: Some(Clock::manual(start)),
        running: None,
    };
    app.start_daemon().await;
    app.tick_at(start).await;
    app
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Deadline::Future, "").await
}

/// Starts servers and daemon. `extra` is appended to the settings TOML.
pub async fn spawn_app_with(deadline: Deadline, extra: &str) -> TestApp {
    spawn_app_with_env(deadline, extra, &[]).await
}

/// Like [`spawn_app_with`], with `POSTBOTE_<SECTION>__<KEY>` overrides, e.g.
/// `("POSTBOTE_IMAP__USE_IDLE", "false")`.
pub async fn spawn_app_with_env(deadline: Deadline, extra: &str, env: &[(&str, &str)]) -> TestApp {
    spawn_app_on(Layout::Default, deadline, extra, env).await
}

/// Like [`spawn_app_with_env`], on a Dovecot with the given folder layout.
pub async fn spawn_app_on(
    layout: Layout,
    deadline: Deadline,
    extra: &str,
    env: &[(&str, &str)],
) -> TestApp {
    let servers = start_servers(layout).await;
    spawn_app_on_servers(servers, deadline, extra, env).await
}

/// Starts a private Dovecot (in `layout`) and Postfix.
pub async fn start_servers(layout: Layout) -> MailServers {
    LazyLock::force(&TRACING);
    tokio::task::spawn_blocking(move || MailServers::start_with_layout(layout))
        .await
        .expect("join")
        .expect("mail servers start")
}

/// Writes the config for `servers` and starts the daemon on them.
pub async fn spawn_app_on_servers(
    servers: MailServers,
    deadline: Deadline,
    extra: &str,
    env: &[(&str, &str)],
) -> TestApp {
    let mut app = app_on_servers(servers, deadline, extra, env);
    app.start_daemon().await;
    app
}

/// Writes the config for `servers`; the daemon is not started (tests that
/// run the real binary start it themselves).
pub fn app_on_servers(
    servers: MailServers,
    deadline: Deadline,
    extra: &str,
    env: &[(&str, &str)],
) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = write_config(dir.path(), &servers, deadline, extra);
    let env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    TestApp {
        servers,
        dir,
        config_path,
        env,
        daemon: None,
        clock: None,
        running: None,
    }
}

/// The shipped EWS 7 programme file with the dates of `deadline`.
pub fn programme_text(deadline: Deadline) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let programme = std::fs::read_to_string(root.join("config/ews7.toml")).expect("ews7.toml");
    let programme = match deadline {
        Deadline::Future => programme
            .replace("2026-", "2037-")
            .replace("2027-", "2038-"),
        Deadline::Past => programme,
    };
    // The shipped Zoom links are placeholders, which release refuses.
    programme.replace(
        "https://zoom.us/j/ZOOM-LINK-EINTRAGEN",
        "https://zoom.us/j/1234567890",
    )
}

/// Writes a second programme file `file_name` beside the config written by
/// [`write_config`] and lists it after the first (part 9: several
/// programmes, `[programme] files = […]`).
pub fn add_programme(config_path: &Path, file_name: &str, text: &str) {
    let dir = config_path.parent().expect("config dir");
    std::fs::write(dir.join(file_name), text).expect("write programme");
    let config = std::fs::read_to_string(config_path).expect("config");
    let config = config.replace(
        "file = \"programme.toml\"",
        &format!("files = [\"programme.toml\", \"{file_name}\"]"),
    );
    std::fs::write(config_path, config).expect("write config");
}

pub fn write_config(dir: &Path, servers: &MailServers, deadline: Deadline, extra: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let programme = programme_text(deadline);
    std::fs::write(dir.join("programme.toml"), programme).expect("write programme");
    std::fs::write(dir.join("imap.password"), "secret\n").expect("write password");
    let (imap_host, imap_port) = servers.imap_addr();
    let (smtp_host, smtp_port) = servers.smtp_addr();
    let templates = root.join("templates");
    let toml = format!(
        r#"
[instance]
name = "postbote-test"
domain = "ews.test"

[mailbox]
source = "imap"
processed_folder = "Postbote/Verarbeitet"

[imap]
host = "{imap_host}"
port = {imap_port}
security = "plain"
username = "{PROJECT}"
password_file = "imap.password"
backoff_initial_ms = 100
backoff_max_secs = 1
# Every mail's copy (the extra envelope recipient) is filed here.
sent_folder = "{SENT_FOLDER}"

[smtp]
transport = "smtp"
host = "{smtp_host}"
port = {smtp_port}
security = "plain"
timeout_secs = 5
retry_initial_secs = 1
retry_max_secs = 2

[storage]
database = "postbote.sqlite"

[mail]
from_address = "{PROJECT}"
from_name = "Projektteam EWS 7"

[staff]
addresses = ["{STAFF}"]
notify = ["{STAFF}"]
trusted_authserv_ids = ["mx.ews.test"]

[digest]
# Off unless a test turns it on: a 07:30 digest must not land in other tests.
enabled = false

[programme]
file = "programme.toml"

[templates]
dir = "{templates}"
{extra}
"#,
        templates = templates.display()
    );
    let path = dir.join("postbote.toml");
    std::fs::write(&path, toml).expect("write config");
    path
}

/// A `Date:` header line (with CRLF) for now: command mails must be recent.
pub fn date_now() -> String {
    format!("Date: {}\r\n", Utc::now().to_rfc2822())
}

impl TestApp {
    /// The test app's `POSTBOTE_*` overrides plus `extra`, for a binary
    /// started by the test itself.
    pub fn env_with<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(extra.iter().copied())
            .collect()
    }

    pub fn config(&self) -> Config {
        let settings =
            Settings::load(&self.config_path, self.env.clone().into_iter()).expect("settings");
        let programmes =
            Programmes::load(&settings.programme, &self.config_path).expect("programme");
        Config {
            settings,
            programmes,
            path: self.config_path.clone(),
        }
    }

    /// The first programme of the test's settings.
    pub fn programme(&self) -> postbote::config::Programme {
        self.config().programmes.first().clone()
    }

    /// Starts the daemon in-process (a fresh App, as after a restart).
    pub async fn start_daemon(&mut self) {
        assert!(self.daemon.is_none(), "daemon already running");
        let clock = self.clock.clone().unwrap_or_else(Clock::system);
        let app: Arc<App> = App::build_with_clock(self.config(), clock)
            .await
            .expect("app builds");
        self.running = Some(app.clone());
        let token = CancellationToken::new();
        let t = token.clone();
        let handle = tokio::spawn(async move {
            startup::run(app, t).await.expect("daemon run");
        });
        self.daemon = Some((handle, token));
    }

    /// Moves the scheduler clock to `t`, wakes the daemon's scheduler and
    /// waits until it finished a pass at that time.
    pub async fn tick_at(&self, t: DateTime<Utc>) {
        let clock = self.clock.as_ref().expect("spawn_app_with_clock");
        clock.set(t);
        let app = self.running.as_ref().expect("daemon running");
        let want = postbote::store::ts(t);
        let what = format!("a scheduler pass at {want}");
        poll_until(&what, WAIT, Duration::from_millis(5), async || {
            app.scheduler_signal.notify_one();
            let tick = postbote::store::health::SCHEDULER_TICK;
            match postbote::store::health::get(&app.store, tick)
                .await
                .expect("health")
            {
                Some((at, _)) if at == want => Ok(()),
                Some((at, _)) => Err(format!("the last pass at {at}")),
                None => Err("no pass yet".to_string()),
            }
        })
        .await;
    }

    /// Wakes the running daemon's scheduler for a pass now (alarms, notices).
    pub fn wake_scheduler(&self) {
        if let Some(app) = &self.running {
            app.scheduler_signal.notify_one();
        }
    }

    /// Stops the daemon the way SIGTERM does, and waits for it.
    pub async fn stop_daemon(&mut self) {
        self.running = None;
        if let Some((handle, token)) = self.daemon.take() {
            token.cancel();
            tokio::time::timeout(Duration::from_secs(40), handle)
                .await
                .expect("daemon stops within the grace period")
                .expect("daemon task");
        }
    }

    /// A store handle on the daemon's database, for assertions.
    pub async fn store(&self) -> Store {
        Store::open(&self.dir.path().join("postbote.sqlite"))
            .await
            .expect("store")
    }

    /// Sends a raw mail through Postfix to the project mailbox.
    pub async fn deliver(&self, from: &str, raw: &str) {
        self.servers
            .send(from, &[PROJECT], raw.as_bytes())
            .await
            .expect("postfix accepts the mail");
    }

    /// Waits until `user` has at least `count` mails in INBOX.
    pub async fn wait_for_mail(&self, user: &str, count: usize) -> Vec<String> {
        self.servers
            .wait_for_mail(user, "INBOX", count, WAIT)
            .await
            .expect("mail arrives")
            .into_iter()
            .map(|m| String::from_utf8_lossy(&m).into_owned())
            .collect()
    }

    /// The mails in `user`'s `folder`, named `/`-separated as in the config
    /// and translated to this server's layout.
    pub async fn mails_in(&self, user: &str, folder: &str) -> Vec<String> {
        self.servers
            .fetch_all(user, &self.servers.layout.folder(folder))
            .await
            .expect("fetch")
            .into_iter()
            .map(|m| String::from_utf8_lossy(&m).into_owned())
            .collect()
    }

    /// Polls an SQL count until it is at least `want` and returns it; fails the test with
    /// the last count if that takes longer than [`WAIT`].
    pub async fn wait_for_count(&self, sql: &str, want: i64) -> i64 {
        self.wait_for_count_within(sql, want, WAIT).await
    }

    /// [`TestApp::wait_for_count`] with its own deadline, for work that is
    /// known to take long (a flood of hundreds of mails).
    pub async fn wait_for_count_within(&self, sql: &str, want: i64, deadline: Duration) -> i64 {
        let store = self.store().await;
        let what = format!("at least {want} from `{sql}`");
        let n = poll_until(&what, deadline, Duration::from_millis(50), async || {
            let n: i64 = sqlx::query_scalar(sql)
                .fetch_one(store.pool())
                .await
                .expect(sql);
            if n >= want { Ok(n) } else { Err(n) }
        })
        .await;
        store.close().await;
        n
    }

    /// Polls `postbote status` until its exit code is `want` and returns its stdout; fails
    /// the test with the last output after [`WAIT`].
    pub async fn wait_status(&self, want: i32) -> String {
        let what = format!("`postbote status` to exit {want}");
        poll_until(&what, WAIT, Duration::from_millis(300), async || {
            let out = self.cli(&["status"]);
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            if out.status.code() == Some(want) {
                Ok(stdout)
            } else {
                let stderr = String::from_utf8_lossy(&out.stderr);
                Err(format!("{}:\n{stdout}{stderr}", out.status))
            }
        })
        .await
    }

    /// Runs the postbote binary with this app's config (and its overrides).
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_postbote"))
            .arg("--config")
            .arg(&self.config_path)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("run postbote");
        // The sender no longer polls the queue: mail the CLI queued wakes a
        // running daemon (SIGUSR1). The daemon of these tests runs in this
        // process, so it is woken here the same way, after the commands that
        // wake it and only then.
        if let Some(app) = &self.running {
            let wakes = postbote::cli::Cli::try_parse_from(
                ["postbote", "--config", "postbote.toml"].iter().chain(args),
            )
            .is_ok_and(|cli| cli.command.wakes_daemon());
            if wakes && out.status.success() {
                app.wake();
            }
        }
        out
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let store = self.store().await;
        let n = sqlx::query_scalar(sql)
            .fetch_one(store.pool())
            .await
            .expect(sql);
        store.close().await;
        n
    }
}

/// A municipality's application: a text part and two attachments.
pub fn application(from: &str, name: &str, message_id: &str) -> String {
    // A real one-page PDF with text, so that both documents are readable.
    let pdf = "JVBERi0xLjQKMSAwIG9iago8PCAvVHlwZSAvQ2F0YWxvZyAvUGFnZXMgMiAwIFIgPj4KZW5kb2Jq\r\nCjIgMCBvYmoKPDwgL1R5cGUgL1BhZ2VzIC9LaWRzIFszIDAgUl0gL0NvdW50IDEgPj4KZW5kb2Jq\r\nCjMgMCBvYmoKPDwgL1R5cGUgL1BhZ2UgL1BhcmVudCAyIDAgUiAvTWVkaWFCb3ggWzAgMCA1OTUg\r\nODQyXSAvQ29udGVudHMgNCAwIFIgL1Jlc291cmNlcyA8PCAvRm9udCA8PCAvRjEgNSAwIFIgPj4g\r\nPj4gPj4KZW5kb2JqCjQgMCBvYmoKPDwgL0xlbmd0aCA1MiA+PgpzdHJlYW0KQlQgL0YxIDEyIFRm\r\nIDcyIDcyMCBUZCAoQmV3ZXJidW5nIGRlciBLb21tdW5lKSBUaiBFVAplbmRzdHJlYW0KZW5kb2Jq\r\nCjUgMCBvYmoKPDwgL1R5cGUgL0ZvbnQgL1N1YnR5cGUgL1R5cGUxIC9CYXNlRm9udCAvSGVsdmV0\r\naWNhID4+CmVuZG9iagp4cmVmCjAgNgowMDAwMDAwMDAwIDY1NTM1IGYgCjAwMDAwMDAwMDkgMDAw\r\nMDAgbiAKMDAwMDAwMDA1OCAwMDAwMCBuIAowMDAwMDAwMTE1IDAwMDAwIG4gCjAwMDAwMDAyNDEg\r\nMDAwMDAgbiAKMDAwMDAwMDM0MyAwMDAwMCBuIAp0cmFpbGVyCjw8IC9TaXplIDYgL1Jvb3QgMSAw\r\nIFIgPj4Kc3RhcnR4cmVmCjQxMwolJUVPRgo=";
    format!(
        "From: {name} <{from}>\r\nTo: {PROJECT}\r\nSubject: Bewerbung EWS 7 - {name}\r\n\
         Message-ID: <{message_id}>\r\nDate: Mon, 15 Jun 2026 09:00:00 +0200\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnbei unsere Bewerbung.\r\n\
         --b1\r\nContent-Type: application/pdf; name=\"Fragebogen.pdf\"\r\nContent-Disposition: attachment; filename=\"Fragebogen.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n\
         --b1\r\nContent-Type: application/pdf; name=\"Motivationsschreiben.pdf\"\r\nContent-Disposition: attachment; filename=\"Motivationsschreiben.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n\
         --b1--\r\n"
    )
}

/// The value of a header in a raw mail (first occurrence, unfolded).
pub fn header(raw: &str, name: &str) -> Option<String> {
    let mut lines = raw.split("\r\n").peekable();
    let prefix = format!("{}:", name.to_ascii_lowercase());
    while let Some(line) = lines.next() {
        if line.is_empty() {
            return None;
        }
        if line.to_ascii_lowercase().starts_with(&prefix) {
            let mut value = line[prefix.len()..].trim().to_string();
            while let Some(next) = lines.peek() {
                if next.starts_with(' ') || next.starts_with('\t') {
                    value.push(' ');
                    value.push_str(next.trim());
                    lines.next();
                } else {
                    break;
                }
            }
            return Some(value);
        }
    }
    None
}

/// The decoded Subject of a raw mail.
pub fn subject(raw: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_default()
}

/// The decoded plain-text body of a raw mail.
pub fn text(raw: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .unwrap_or_default()
}

/// Waits until the project INBOX is empty: handled mail moved, the copies of
/// sent mail filed into the sent folder.
pub async fn wait_inbox_empty(app: &TestApp) {
    wait_inbox_count(app, 0).await;
}

/// Waits until the project INBOX holds exactly `n` mails (the copies of sent
/// mail filed away) and returns them.
pub async fn wait_inbox_count(app: &TestApp, n: usize) -> Vec<String> {
    let what = format!("the project INBOX to hold {n} mails");
    poll_until(&what, WAIT, Duration::from_millis(100), async || {
        let inbox = app.mails_in(PROJECT, "INBOX").await;
        if inbox.len() == n {
            Ok(inbox)
        } else {
            Err(format!(
                "{:?}",
                inbox.iter().map(|m| subject(m)).collect::<Vec<_>>()
            ))
        }
    })
    .await
}

/// Mails in `user`'s INBOX whose subject contains `needle`.
pub async fn with_subject(app: &TestApp, user: &str, needle: &str) -> Vec<String> {
    app.mails_in(user, "INBOX")
        .await
        .into_iter()
        .filter(|m| subject(m).contains(needle))
        .collect()
}

/// Waits until `user` has a mail whose subject contains `needle`.
pub async fn wait_subject(app: &TestApp, user: &str, needle: &str) -> String {
    wait_subjects(app, user, needle, 1).await.remove(0)
}

/// Waits until `user` has at least `n` mails whose subject contains `needle`; returns them.
pub async fn wait_subjects(app: &TestApp, user: &str, needle: &str, n: usize) -> Vec<String> {
    let what = format!("{n} mail(s) with '{needle}' for {user}");
    poll_until(&what, WAIT, Duration::from_millis(200), async || {
        let inbox = app.mails_in(user, "INBOX").await;
        let subjects: Vec<String> = inbox.iter().map(|m| subject(m)).collect();
        let found: Vec<String> = inbox
            .into_iter()
            .filter(|m| subject(m).contains(needle))
            .collect();
        if found.len() >= n {
            Ok(found)
        } else {
            Err(format!("{} in INBOX {subjects:?}", found.len()))
        }
    })
    .await
}
