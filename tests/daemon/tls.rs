//! The daemon's TLS paths against the real servers: Dovecot and Postfix started with
//! [`MailServers::start_with_tls`] (a throwaway CA, a certificate for `localhost` and
//! `127.0.0.1`), the daemon trusting that CA through `imap.ca_file` / `smtp.ca_file`.

use crate::helpers::{Deadline, PROJECT, application, header, subject, write_config};
use crate::mail_servers::{self, MailServers, PASSWORD};
use postbote::config::{Config, Programmes, Settings};
use postbote::context::App;
use postbote::startup;
use postbote::store::{Store, health};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

/// TLS-enabled servers and the daemon running in-process against them.
struct TlsApp {
    servers: MailServers,
    dir: TempDir,
    daemon: Option<(JoinHandle<anyhow::Result<()>>, CancellationToken)>,
}

async fn start_tls_servers() -> MailServers {
    tokio::task::spawn_blocking(MailServers::start_with_tls)
        .await
        .expect("join")
        .expect("mail servers with TLS start")
}

/// Writes the usual test config (plain IMAP/SMTP to the servers) and starts the daemon with
/// `env` as `POSTBOTE_*` overrides on top.
async fn spawn_daemon(servers: MailServers, env: Vec<(&str, String)>) -> TlsApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(dir.path(), &servers, Deadline::Future, "");
    let env = env.into_iter().map(|(k, v)| (k.to_string(), v));
    let settings = Settings::load(&path, env).expect("settings");
    let programmes = Programmes::load(&settings.programme, &path).expect("programme");
    let app = App::build(Config {
        settings,
        programmes,
        path,
    })
    .await
    .expect("app builds");
    let token = CancellationToken::new();
    let handle = tokio::spawn(startup::run(app, token.clone()));
    TlsApp {
        servers,
        dir,
        daemon: Some((handle, token)),
    }
}

impl TlsApp {
    async fn store(&self) -> Store {
        Store::open(&self.dir.path().join("postbote.sqlite"))
            .await
            .expect("store")
    }

    /// Sends an application through Postfix (plain SMTP, no AUTH) to the project mailbox.
    async fn deliver_application(&self, applicant: &str, message_id: &str) {
        let raw = application(applicant, "Stadt Musterhausen", message_id);
        self.servers
            .send(applicant, &[PROJECT], raw.as_bytes())
            .await
            .expect("postfix accepts the mail");
    }

    /// Polls `get` until it yields a value; panics with `what` and the server logs after
    /// [`WAIT`].
    async fn wait_for<T>(&self, what: &str, mut get: impl AsyncFnMut() -> Option<T>) -> T {
        mail_servers::poll(what, WAIT, POLL, async || get().await.ok_or("nothing yet"))
            .await
            .unwrap_or_else(|err| {
                panic!(
                    "{err:#}\n--- postfix log ---\n{}\n--- dovecot log ---\n{}",
                    self.servers.postfix_log(),
                    self.servers.dovecot_log()
                )
            })
    }

    /// Waits until a line of the Postfix log contains every one of `parts`; returns it.
    async fn wait_for_postfix_line(&self, parts: &[&str]) -> String {
        self.wait_for(&format!("a Postfix log line with {parts:?}"), || async {
            line_with(&self.servers.postfix_log(), parts)
        })
        .await
    }

    /// Waits until a line of the Dovecot log contains every one of `parts`; returns it.
    async fn wait_for_dovecot_line(&self, parts: &[&str]) -> String {
        self.wait_for(&format!("a Dovecot log line with {parts:?}"), || async {
            line_with(&self.servers.dovecot_log(), parts)
        })
        .await
    }

    /// Waits until Dovecot logs an IMAP login of `user` over TLS (implicit or STARTTLS; plain
    /// logins over loopback are marked "secured" instead).
    async fn wait_for_tls_login(&self, user: &str) -> String {
        let user = format!("user=<{user}>");
        self.wait_for_dovecot_line(&["imap-login: Info: Login:", &user, ", TLS,"])
            .await
    }

    /// Stops the daemon the way SIGTERM does; it must end without an error.
    async fn stop(mut self) {
        if let Some((handle, token)) = self.daemon.take() {
            token.cancel();
            tokio::time::timeout(Duration::from_secs(40), handle)
                .await
                .expect("daemon stops within the grace period")
                .expect("daemon task")
                .expect("daemon run");
        }
    }
}

impl Drop for TlsApp {
    fn drop(&mut self) {
        // A failed test: do not leave the daemon running against stopped servers.
        if let Some((_, token)) = &self.daemon {
            token.cancel();
        }
    }
}

fn line_with(log: &str, parts: &[&str]) -> Option<String> {
    log.lines()
        .find(|line| parts.iter().all(|part| line.contains(part)))
        .map(str::to_string)
}

fn ca_file(servers: &MailServers) -> String {
    path_string(servers.ca_file().expect("TLS servers have a CA file"))
}

fn path_string(path: &Path) -> String {
    path.to_str().expect("UTF-8 path").to_string()
}

/// Checks the confirmation of the application `message_id` (the first in this programme).
fn assert_is_confirmation(mail: &[u8], message_id: &str) {
    let mail = String::from_utf8_lossy(mail);
    assert!(subject(&mail).contains("EWS7-0001"), "{mail}");
    assert_eq!(
        header(&mail, "In-Reply-To").as_deref(),
        Some(format!("<{message_id}>").as_str())
    );
}

/// Overrides for (host, port, security) of IMAP and SMTP, with the test CA and AUTH.
fn tls_env(
    servers: &MailServers,
    imap: (&str, u16, &str),
    smtp: (&str, u16, &str),
) -> Vec<(&'static str, String)> {
    vec![
        ("POSTBOTE_IMAP__HOST", imap.0.to_string()),
        ("POSTBOTE_IMAP__PORT", imap.1.to_string()),
        ("POSTBOTE_IMAP__SECURITY", imap.2.to_string()),
        ("POSTBOTE_IMAP__CA_FILE", ca_file(servers)),
        ("POSTBOTE_SMTP__HOST", smtp.0.to_string()),
        ("POSTBOTE_SMTP__PORT", smtp.1.to_string()),
        ("POSTBOTE_SMTP__SECURITY", smtp.2.to_string()),
        ("POSTBOTE_SMTP__CA_FILE", ca_file(servers)),
        ("POSTBOTE_SMTP__USERNAME", PROJECT.to_string()),
        ("POSTBOTE_SMTP__PASSWORD", PASSWORD.to_string()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_is_confirmed_over_implicit_tls_imap_and_starttls_smtp_with_auth() {
    // Arrange: IMAP on the IMAPS port, SMTP with STARTTLS and AUTH on the SMTP port, both
    // verified against the throwaway CA as "localhost".
    let servers = start_tls_servers().await;
    let imap = ("localhost", servers.imaps_port.expect("imaps port"), "tls");
    let smtp = ("localhost", servers.smtp_port, "starttls");
    let env = tls_env(&servers, imap, smtp);
    let app = spawn_daemon(servers, env).await;
    let applicant = "kaemmerei@stadt.test";
    // Act
    app.deliver_application(applicant, "tls-1@stadt.test").await;
    // Assert: the confirmation arrives in the applicant's mailbox.
    let mails = app
        .servers
        .wait_for_mail(applicant, "INBOX", 1, WAIT)
        .await
        .expect("the confirmation arrives");
    assert_is_confirmation(&mails[0], "tls-1@stadt.test");
    // The daemon's IMAP login was encrypted (Dovecot marks TLS logins with "TLS")...
    app.wait_for_tls_login(PROJECT).await;
    // ...and so was its SMTP session, upgraded with STARTTLS on the plain SMTP port
    // (`postfix/smtpd`; the implicit-TLS listener logs as `postfix/smtps/smtpd`), in which
    // it authenticated. The test's own submissions are plain, so this line is the daemon's.
    app.wait_for_postfix_line(&[" postfix/smtpd[", "TLS connection established from"])
        .await;
    app.wait_for_postfix_line(&[
        " postfix/smtpd[",
        "sasl_method=",
        &format!("sasl_username={PROJECT}"),
    ])
    .await;
    assert!(
        line_with(&app.servers.postfix_log(), &["postfix/smtps/"]).is_none(),
        "nothing should have used the implicit-TLS SMTP port"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_is_confirmed_over_starttls_imap_and_implicit_tls_smtp() {
    // Arrange: IMAP upgraded with STARTTLS on the plain IMAP port, SMTP on the implicit-TLS
    // port with AUTH; addressed as 127.0.0.1 (the certificate's IP subjectAltName).
    let servers = start_tls_servers().await;
    let imap = ("127.0.0.1", servers.imap_port, "starttls");
    let smtp = ("127.0.0.1", servers.smtps_port.expect("smtps port"), "tls");
    let env = tls_env(&servers, imap, smtp);
    let app = spawn_daemon(servers, env).await;
    let applicant = "buergermeister@dorf.test";
    // Act
    app.deliver_application(applicant, "tls-2@dorf.test").await;
    // Assert
    let mails = app
        .servers
        .wait_for_mail(applicant, "INBOX", 1, WAIT)
        .await
        .expect("the confirmation arrives");
    assert_is_confirmation(&mails[0], "tls-2@dorf.test");
    app.wait_for_tls_login(PROJECT).await;
    app.wait_for_postfix_line(&[" postfix/smtps/smtpd[", "TLS connection established from"])
        .await;
    app.wait_for_postfix_line(&[
        " postfix/smtps/smtpd[",
        "sasl_method=",
        &format!("sasl_username={PROJECT}"),
    ])
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imap_server_whose_certificate_is_not_trusted_is_refused_and_the_error_recorded() {
    // Arrange: the daemon trusts a different throwaway CA than the one that issued the
    // servers' certificate.
    let servers = start_tls_servers().await;
    let other_ca_dir = tempfile::tempdir().expect("tempdir");
    let other_ca: PathBuf = tokio::task::spawn_blocking({
        let dir = other_ca_dir.path().to_path_buf();
        move || mail_servers::create_untrusted_ca(&dir)
    })
    .await
    .expect("join")
    .expect("second CA");
    let env = vec![
        ("POSTBOTE_IMAP__HOST", "localhost".to_string()),
        (
            "POSTBOTE_IMAP__PORT",
            servers.imaps_port.expect("imaps port").to_string(),
        ),
        ("POSTBOTE_IMAP__SECURITY", "tls".to_string()),
        ("POSTBOTE_IMAP__CA_FILE", path_string(&other_ca)),
    ];
    // Act
    let app = spawn_daemon(servers, env).await;
    // Assert: the connection error is recorded for `postbote status`, naming the certificate.
    let store = app.store().await;
    let (error, _at) = app
        .wait_for("mailbox.last_error in the health table", || async {
            health::get(&store, health::MAILBOX_ERROR)
                .await
                .expect("read health")
        })
        .await;
    assert!(
        error.contains("TLS handshake") && error.to_lowercase().contains("certificate"),
        "{error}"
    );
    // The mailbox was never checked successfully and nobody logged in.
    assert!(
        health::get(&store, health::MAILBOX_OK)
            .await
            .expect("read health")
            .is_none()
    );
    store.close().await;
    assert!(
        line_with(&app.servers.dovecot_log(), &["imap-login: Info: Login:"]).is_none(),
        "{}",
        app.servers.dovecot_log()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_server_whose_certificate_is_not_trusted_gets_no_mail() {
    // Arrange: plain IMAP (loopback) for the intake; SMTP with STARTTLS, trusting only
    // a different throwaway CA.
    let servers = start_tls_servers().await;
    let other_ca_dir = tempfile::tempdir().expect("tempdir");
    let other_ca: PathBuf = tokio::task::spawn_blocking({
        let dir = other_ca_dir.path().to_path_buf();
        move || mail_servers::create_untrusted_ca(&dir)
    })
    .await
    .expect("join")
    .expect("second CA");
    let env = vec![
        ("POSTBOTE_SMTP__HOST", "localhost".to_string()),
        ("POSTBOTE_SMTP__PORT", servers.smtp_port.to_string()),
        ("POSTBOTE_SMTP__SECURITY", "starttls".to_string()),
        ("POSTBOTE_SMTP__CA_FILE", path_string(&other_ca)),
        ("POSTBOTE_SMTP__USERNAME", PROJECT.to_string()),
        ("POSTBOTE_SMTP__PASSWORD", PASSWORD.to_string()),
    ];
    let app = spawn_daemon(servers, env).await;
    let applicant = "kaemmerei@stadt.test";
    // Act
    app.deliver_application(applicant, "tls-4@stadt.test").await;
    // Assert: the confirmation stays queued with the certificate error, not
    // counted as an attempt (a TLS failure pauses all sending), and is not sent.
    let store = app.store().await;
    let error: String = app
        .wait_for("a paused send in the outbox", || async {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT last_error FROM outbox WHERE state = 'queued' AND attempts = 0 \
                 AND last_error IS NOT NULL",
            )
            .fetch_optional(store.pool())
            .await
            .expect("read outbox")
            .flatten()
        })
        .await;
    assert!(error.to_lowercase().contains("certificate"), "{error}");
    assert!(error.starts_with("sending paused: TLS"), "{error}");
    let paused: Option<String> =
        sqlx::query_scalar("SELECT value FROM health WHERE key = 'outbox.paused'")
            .fetch_optional(store.pool())
            .await
            .expect("read health");
    assert!(paused.is_some_and(|e| e.contains("certificate")));
    store.close().await;
    assert!(
        line_with(&app.servers.postfix_log(), &["sasl_username="]).is_none(),
        "the daemon must not authenticate to an untrusted server"
    );
    assert!(
        app.servers
            .fetch_all(applicant, "INBOX")
            .await
            .expect("fetch")
            .is_empty()
    );
    app.stop().await;
}
