//! Where outgoing mail goes: SMTP or .eml files.
//!
//! SMTP runs its own transaction on lettre's connection (pooled, TLS, AUTH),
//! so that every step's answer decides what happens to the mail: the
//! recipient's refusal fails that mail, a refusal of postbote itself (AUTH,
//! the sender address, relaying, TLS) pauses all sending, and a connection
//! lost after the message was handed over leaves its fate open. One extra
//! envelope recipient, the copy address, gets the same message in the same
//! transaction.
//!
//! Connections are kept: up to `smtp.pool_max` of them, one per mail being
//! sent at the same moment, and the next mail on a kept connection starts
//! with its MAIL FROM (no new TCP, TLS, EHLO or AUTH). Where the server
//! offers PIPELINING (RFC 2920), MAIL FROM, the RCPT TOs and DATA go out in
//! one write and their answers are read in order: two round trips a mail
//! (the commands, the message) instead of five.

use crate::config::Security;
use crate::config::settings::{SmtpSettings, TransportKind};
use crate::domain::EmailAddress;
use anyhow::Context;
use lettre::Address;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Severity;
use secrecy::ExposeSecret;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The decision about a mail travels with the error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying later: connection refused, timeouts, 4xx replies.
    /// Counted as an attempt of this mail.
    #[error("transient delivery failure: {0}")]
    Transient(String),
    /// This mail will never go out as it is: its recipient refused (5xx),
    /// an unusable address, content the server will not take.
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
    /// The server refuses postbote itself, not this mail: authentication
    /// (530, 534, 535, 538), the sender address, relaying, TLS. All sending
    /// pauses; the mail stays queued and no attempt is counted.
    #[error("sending paused: {0}")]
    Paused(String),
    /// The connection broke, or the answer did not come, after the message
    /// was handed over: the server may have accepted it.
    #[error("outcome unknown: {0}")]
    Uncertain(String),
}

/// A mail the server accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// The copy recipient was accepted too.
    pub copied: bool,
}

/// Two implementations, so an enum: SMTP for real, files for the demo and dry runs.
#[derive(Clone)]
pub enum Transport {
    Smtp(Arc<SmtpClient>),
    File(PathBuf),
}

impl Transport {
    /// `copy_to`: the extra envelope recipient of every mail (the project
    /// mailbox), if any.
    pub fn from_settings(
        s: &SmtpSettings,
        copy_to: Option<&EmailAddress>,
    ) -> anyhow::Result<Transport> {
        match s.transport {
            TransportKind::File => {
                let dir = s.file_dir.clone().context("smtp.file_dir is not set")?;
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                Ok(Transport::File(dir))
            }
            TransportKind::Smtp => Ok(Transport::Smtp(Arc::new(SmtpClient::new(s, copy_to)?))),
        }
    }

    /// Whether mails get a copy recipient.
    pub fn copies(&self) -> bool {
        matches!(self, Transport::Smtp(c) if c.copy_to.is_some())
    }

    /// Delivers one rendered message to its envelope (and the copy address).
    pub async fn send(
        &self,
        message_id: &str,
        from: &str,
        to: &str,
        raw: &[u8],
    ) -> Result<Delivered, DeliveryError> {
        match self {
            Transport::Smtp(client) => client.send(from, to, raw).await,
            Transport::File(dir) => write_file(dir, message_id, raw)
                .await
                .map(|()| Delivered { copied: false })
                .map_err(|e| DeliveryError::Transient(format!("{e:#}"))),
        }
    }

    /// For the file transport: whether the file of `message_id` was written
    /// (the send went through). None for SMTP.
    pub fn file_written(&self, message_id: &str) -> Option<bool> {
        match self {
            Transport::File(dir) => {
                Some(safe_file_name(message_id) && dir.join(format!("{message_id}.eml")).exists())
            }
            Transport::Smtp(_) => None,
        }
    }
}

/// A pooled connection is reused only this soon after its last mail.
const POOL_IDLE_MAX: Duration = Duration::from_secs(60);

/// A pooled connection idle longer than this is tested (NOOP) before it is
/// reused; one idle for less carries the next mail at once. Should the
/// server have closed it meanwhile, the first answer says so before the
/// message went out, and the mail goes over a new connection instead.
const POOL_TRUSTED: Duration = Duration::from_secs(10);

/// A connection and what its server offers beyond lettre's `ServerInfo`.
struct Conn {
    smtp: AsyncSmtpConnection,
    /// The server offers PIPELINING.
    pipelining: bool,
}

/// Why a transaction did not go through.
enum Failure {
    /// What becomes of the mail.
    Mail(DeliveryError),
    /// A kept connection turned out closed at the first answer, before
    /// the message went out: worth one try on a new connection.
    Stale(DeliveryError),
}

impl From<DeliveryError> for Failure {
    fn from(e: DeliveryError) -> Failure {
        Failure::Mail(e)
    }
}

/// SMTP with postbote's own transaction; see the module documentation.
pub struct SmtpClient {
    host: String,
    port: u16,
    security: Security,
    tls: Option<TlsParameters>,
    credentials: Option<(String, Credentials)>,
    timeout: Duration,
    hello: ClientId,
    copy_to: Option<Address>,
    pool_max: usize,
    idle: Mutex<Vec<(Conn, Instant)>>,
}

/// Where the transaction stood when something went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Connect,
    StartTls,
    Auth,
    MailFrom,
    Rcpt,
    Data,
    Message,
}

impl SmtpClient {
    fn new(s: &SmtpSettings, copy_to: Option<&EmailAddress>) -> anyhow::Result<SmtpClient> {
        let tls = if s.security == Security::Plain {
            None
        } else {
            let mut params = TlsParameters::builder(s.host.clone());
            if let Some(ca) = &s.ca_file {
                crate::mailbox::tls::ca_certificates(ca)?;
                let pem =
                    std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?;
                params = params.add_root_certificate(
                    Certificate::from_pem(&pem)
                        .with_context(|| format!("bad CA file {}", ca.display()))?,
                );
            }
            Some(params.build_rustls().context("cannot set up SMTP TLS")?)
        };
        let credentials = match (&s.username, &s.password) {
            (Some(user), Some(pw)) => Some((
                user.clone(),
                Credentials::new(user.clone(), pw.expose_secret().to_string()),
            )),
            _ => None,
        };
        let copy_to = copy_to
            .map(|a| {
                a.as_str()
                    .parse::<Address>()
                    .with_context(|| format!("bad copy address {a}"))
            })
            .transpose()?;
        Ok(SmtpClient {
            host: s.host.clone(),
            port: s.port,
            security: s.security,
            tls,
            credentials,
            timeout: Duration::from_secs(s.timeout_secs.max(1)),
            hello: ClientId::default(),
            copy_to,
            pool_max: s.pool_max.max(1) as usize,
            idle: Mutex::new(Vec::new()),
        })
    }

    async fn send(&self, from: &str, to: &str, raw: &[u8]) -> Result<Delivered, DeliveryError> {
        let sender: Address = from
            .parse()
            .map_err(|e| DeliveryError::Paused(format!("bad sender address {from:?}: {e}")))?;
        let recipient: Address = to
            .parse()
            .map_err(|e| DeliveryError::Permanent(format!("bad recipient {to:?}: {e}")))?;
        let (mut conn, mut kept) = self.checkout().await?;
        loop {
            match self
                .transact(&mut conn, sender.clone(), recipient.clone(), raw)
                .await
            {
                Ok(done) => {
                    self.checkin(conn);
                    return Ok(done);
                }
                Err(Failure::Stale(e)) if kept => {
                    tracing::debug!(error = %e, "kept SMTP connection was closed; sending over a new one");
                    let _ = tokio::time::timeout(self.timeout, conn.smtp.abort()).await;
                    conn = self.connect().await?;
                    kept = false;
                }
                Err(Failure::Mail(e) | Failure::Stale(e)) => {
                    let _ = tokio::time::timeout(self.timeout, conn.smtp.abort()).await;
                    return Err(e);
                }
            }
        }
    }

    /// A live pooled connection (true), or a new one.
    async fn checkout(&self) -> Result<(Conn, bool), DeliveryError> {
        loop {
            let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let Some((mut conn, since)) = pooled else {
                return Ok((self.connect().await?, false));
            };
            let idle = since.elapsed();
            if idle < POOL_IDLE_MAX
                && !conn.smtp.has_broken()
                && (idle < POOL_TRUSTED
                    || tokio::time::timeout(self.timeout, conn.smtp.test_connected())
                        .await
                        .unwrap_or(false))
            {
                return Ok((conn, true));
            }
            let _ = tokio::time::timeout(self.timeout, conn.smtp.abort()).await;
        }
    }

    fn checkin(&self, conn: Conn) {
        if conn.smtp.has_broken() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.pool_max {
            idle.push((conn, Instant::now()));
        }
    }

    /// Connects, upgrades (STARTTLS), learns whether the server pipelines,
    /// and logs in.
    async fn connect(&self) -> Result<Conn, DeliveryError> {
        let wrapper = match self.security {
            Security::Tls => self.tls.clone(),
            _ => None,
        };
        let mut conn = self
            .step(
                Step::Connect,
                AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    Some(self.timeout),
                    &self.hello,
                    wrapper,
                    None,
                ),
            )
            .await?;
        if self.security == Security::Starttls {
            let Some(params) = self.tls.clone() else {
                return Err(DeliveryError::Paused(
                    "no TLS parameters for STARTTLS".into(),
                ));
            };
            if !conn.can_starttls() {
                let _ = tokio::time::timeout(self.timeout, conn.abort()).await;
                return Err(DeliveryError::Paused(format!(
                    "{}:{} offers no STARTTLS, but smtp.security is \"starttls\"",
                    self.host, self.port
                )));
            }
            // NOTE: a failed upgrade leaves lettre's connection without a
            // stream: it is dropped, never written to (no QUIT).
            self.step(Step::StartTls, conn.starttls(params, &self.hello))
                .await?;
        }
        // NOTE: lettre's `ServerInfo` keeps only 8BITMIME, SMTPUTF8, STARTTLS
        // and AUTH of the EHLO answer, so PIPELINING is read from a second
        // EHLO (one round trip per connection, before AUTH, which a later
        // EHLO could reset). Its failure only means no pipelining.
        let pipelining =
            match tokio::time::timeout(self.timeout, conn.command(Ehlo::new(self.hello.clone())))
                .await
            {
                Ok(Ok(answer)) => offers_pipelining(answer.message()),
                Ok(Err(e)) if !conn.has_broken() && e.status().is_some() => false,
                Ok(Err(e)) => return Err(self.decide(Step::Connect, &e)),
                Err(_) => {
                    return Err(DeliveryError::Transient(format!(
                        "no answer to EHLO within {} s",
                        self.timeout.as_secs()
                    )));
                }
            };
        if let Some((_, credentials)) = &self.credentials
            && let Err(e) = self
                .step(
                    Step::Auth,
                    conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials),
                )
                .await
        {
            let _ = tokio::time::timeout(self.timeout, conn.abort()).await;
            return Err(e);
        }
        Ok(Conn {
            smtp: conn,
            pipelining,
        })
    }

    /// MAIL FROM, RCPT TO (recipient, then copy), DATA, the message; the
    /// first four in one write where the server pipelines.
    async fn transact(
        &self,
        conn: &mut Conn,
        sender: Address,
        recipient: Address,
        raw: &[u8],
    ) -> Result<Delivered, Failure> {
        let pipelining = conn.pipelining;
        let conn = &mut conn.smtp;
        let mut options = Vec::new();
        let non_ascii = [&sender, &recipient]
            .iter()
            .any(|a| !<Address as AsRef<str>>::as_ref(a).is_ascii());
        if non_ascii {
            if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                return Err(DeliveryError::Permanent(
                    "non-ASCII address, and the server offers no SMTPUTF8".into(),
                )
                .into());
            }
            options.push(MailParameter::SmtpUtfEight);
        }
        if !raw.is_ascii() {
            if !conn.server_info().supports_feature(Extension::EightBitMime) {
                return Err(DeliveryError::Permanent(
                    "8-bit message, and the server offers no 8BITMIME".into(),
                )
                .into());
            }
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let mail = Mail::new(Some(sender.clone()), options);
        let copy = self.copy_to.as_ref().filter(|c| **c != recipient);
        // The first answer tells whether a kept connection still stands.
        let first = if pipelining {
            // NOTE: lettre has no pipelined send; `command` writes whatever
            // it is given in one write and reads one answer, and the other
            // answers are read with `read_response`, in order (RFC 2920:
            // DATA ends the group, the message waits for its 354).
            let mut group = format!("{mail}{}", Rcpt::new(recipient.clone(), vec![]));
            if let Some(copy) = copy {
                group.push_str(&Rcpt::new(copy.clone(), vec![]).to_string());
            }
            group.push_str(&Data.to_string());
            tokio::time::timeout(self.timeout, conn.command(group)).await
        } else {
            tokio::time::timeout(self.timeout, conn.command(mail)).await
        };
        match first {
            Ok(Ok(_)) => {}
            // Closed (no answer, or 421 "closing"): nothing went out yet.
            Ok(Err(e)) if e.status().is_none_or(|c| u16::from(c) == 421) => {
                return Err(Failure::Stale(self.decide(Step::MailFrom, &e)));
            }
            Ok(Err(e)) => return Err(self.decide(Step::MailFrom, &e).into()),
            Err(_) => {
                return Err(DeliveryError::Transient(format!(
                    "no answer within {} s ({:?})",
                    self.timeout.as_secs(),
                    Step::MailFrom
                ))
                .into());
            }
        }
        let answer = if pipelining {
            self.step(Step::Rcpt, conn.read_response()).await
        } else {
            self.step(
                Step::Rcpt,
                conn.command(Rcpt::new(recipient.clone(), vec![])),
            )
            .await
        };
        if let Err(e) = answer {
            // A refused recipient, with DATA in the same group: should the
            // server have answered it 354 (for the copy), the connection is
            // dropped without the final dot, and nothing is delivered.
            return Err(self
                .recipient_refused(conn, e, &recipient, pipelining)
                .await
                .into());
        }
        let mut copied = false;
        if let Some(copy) = copy {
            let answer = if pipelining {
                self.step(Step::Rcpt, conn.read_response()).await
            } else {
                self.step(Step::Rcpt, conn.command(Rcpt::new(copy.clone(), vec![])))
                    .await
            };
            match answer {
                Ok(_) => copied = true,
                // The mail still goes to its recipient, without a copy (so
                // no crash check for it either).
                Err(DeliveryError::Permanent(e) | DeliveryError::Paused(e)) => {
                    tracing::warn!(copy = %copy, error = %e, "the server refused the copy recipient; sending without a copy");
                }
                Err(e) => return Err(e.into()),
            }
        }
        if pipelining {
            self.step(Step::Data, conn.read_response()).await?;
        } else {
            self.step(Step::Data, conn.command(Data)).await?;
        }
        self.step(Step::Message, send_message(conn, raw)).await?;
        Ok(Delivered { copied })
    }

    /// The recipient was refused with `e`: a refusal of this mail, unless it
    /// says that postbote may not send at all (relaying denied, no AUTH), or
    /// the server refuses the project mailbox in the same way (`pipelined`:
    /// its RCPT went out already, its answer is the next).
    async fn recipient_refused(
        &self,
        conn: &mut AsyncSmtpConnection,
        e: DeliveryError,
        recipient: &Address,
        pipelined: bool,
    ) -> DeliveryError {
        let DeliveryError::Permanent(text) = &e else {
            return e;
        };
        if refuses_sender(text) {
            return DeliveryError::Paused(format!(
                "the server does not let postbote send to <{recipient}>: {text}"
            ));
        }
        let copy = self.copy_to.as_ref().filter(|c| *c != recipient);
        if text.contains("5.7.1")
            && let Some(copy) = copy
            && let Err(DeliveryError::Permanent(own) | DeliveryError::Paused(own)) = if pipelined {
                self.step(Step::Rcpt, conn.read_response()).await
            } else {
                self.step(Step::Rcpt, conn.command(Rcpt::new(copy.clone(), vec![])))
                    .await
            }
        {
            return DeliveryError::Paused(format!(
                "the server refuses even the project mailbox <{copy}> ({own}); for <{recipient}>: {text}"
            ));
        }
        DeliveryError::Permanent(format!("recipient <{recipient}> refused: {text}"))
    }

    /// Runs one step under the timeout and decides what its failure means.
    async fn step<T>(
        &self,
        step: Step,
        fut: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
    ) -> Result<T, DeliveryError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.decide(step, &e)),
            Err(_) => {
                let what = format!("no answer within {} s ({step:?})", self.timeout.as_secs());
                Err(if step == Step::Message {
                    DeliveryError::Uncertain(what)
                } else {
                    DeliveryError::Transient(what)
                })
            }
        }
    }

    fn decide(&self, step: Step, e: &lettre::transport::smtp::Error) -> DeliveryError {
        let text = format!("{e}");
        let code = e.status().map(u16::from);
        let permanent = e
            .status()
            .is_some_and(|c| c.severity == Severity::PermanentNegativeCompletion);
        let user = self
            .credentials
            .as_ref()
            .map(|(u, _)| u.as_str())
            .unwrap_or("-");
        match step {
            Step::Connect | Step::StartTls
                if is_tls(e) || (step == Step::StartTls && !e.is_response()) =>
            {
                DeliveryError::Paused(format!(
                    "TLS with {}:{} failed: {text}",
                    self.host, self.port
                ))
            }
            // A greeting or EHLO with 5xx: this server will not talk to us.
            Step::Connect | Step::StartTls if permanent => DeliveryError::Paused(format!(
                "{}:{} refuses the connection: {text}",
                self.host, self.port
            )),
            Step::Auth if permanent || e.is_client() => {
                DeliveryError::Paused(format!("SMTP authentication as {user} refused: {text}"))
            }
            Step::MailFrom if permanent => {
                DeliveryError::Paused(format!("the server refuses the sender address: {text}"))
            }
            Step::Message if !e.is_response() || code.is_none() => DeliveryError::Uncertain(text),
            _ if matches!(code, Some(530 | 534 | 535 | 538)) => DeliveryError::Paused(format!(
                "the server requires authentication ({user}): {text}"
            )),
            _ if permanent => DeliveryError::Permanent(text),
            _ => DeliveryError::Transient(text),
        }
    }
}

/// Whether a recipient's refusal (lettre's text of the answer) says that
/// postbote may not send at all: relaying denied, authentication required.
fn refuses_sender(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.contains("(530)")
        || lower.contains("relay")
        || lower.contains("authentication required")
        || lower.contains(" 5.7.0 ")
        || lower.contains(": 5.7.0")
}

/// Whether an EHLO answer's lines (after the greeting line) name PIPELINING.
fn offers_pipelining<'a>(mut lines: impl Iterator<Item = &'a str>) -> bool {
    lines.any(|l| {
        l.split_whitespace()
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("PIPELINING"))
    })
}

/// Whether `e` came from the TLS layer (a certificate, the handshake).
fn is_tls(e: &lettre::transport::smtp::Error) -> bool {
    if e.is_tls() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<tokio_rustls::rustls::Error>() {
            return true;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.is::<tokio_rustls::rustls::Error>())
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// Sends the message after the server's 354 and reads its answer.
///
/// NOTE: lettre's `message` writes the message, then the final
/// `CRLF.CRLF` in a second write. With Nagle's algorithm the small second
/// write waits for the ACK of the first, and the server delays that ACK
/// (40 ms on Linux): every mail took 45 ms on loopback whatever the
/// server did. A text message goes out dot-stuffed, with its end, in one
/// write; only a message that is not UTF-8 takes lettre's way.
async fn send_message(
    conn: &mut AsyncSmtpConnection,
    raw: &[u8],
) -> Result<lettre::transport::smtp::response::Response, lettre::transport::smtp::Error> {
    match std::str::from_utf8(raw) {
        Ok(text) => conn.command(DotStuffed(text)).await,
        Err(_) => conn.message(raw).await,
    }
}

/// A message as it goes after DATA (RFC 5321 4.5.2), as lettre encodes it:
/// a line that starts with `.` gets a second one, and `CRLF.CRLF` ends it.
struct DotStuffed<'a>(&'a str);

impl std::fmt::Display for DotStuffed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, line) in self.0.split("\r\n").enumerate() {
            if i > 0 {
                f.write_str("\r\n")?;
            }
            if line.starts_with('.') {
                f.write_str(".")?;
            }
            f.write_str(line)?;
        }
        f.write_str("\r\n.\r\n")
    }
}

/// Our own Message-IDs are hex@domain; anything else is refused as a name.
fn safe_file_name(message_id: &str) -> bool {
    !message_id.starts_with('.')
        && message_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@.-_".contains(&b))
}

/// Writes `<message-id>.eml` atomically (temp file, fsync, rename).
async fn write_file(dir: &std::path::Path, message_id: &str, raw: &[u8]) -> anyhow::Result<()> {
    if !safe_file_name(message_id) {
        anyhow::bail!("unsafe message id for a file name: {message_id:?}");
    }
    let final_path = dir.join(format!("{message_id}.eml"));
    let tmp = dir.join(format!(".{message_id}.tmp"));
    let raw = raw.to_vec();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(&raw)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &final_path)?;
        Ok(())
    })
    .await
    .context("file transport task failed")?
}

#[cfg(test)]
mod tests {
    use super::{DotStuffed, offers_pipelining, refuses_sender};

    #[test]
    fn a_message_is_dot_stuffed_and_ended_as_lettre_does() {
        let text = ".first\r\nmiddle\r\n.\r\n..two\r\nbare\n.dot\rx.\r\nlast";
        assert_eq!(
            DotStuffed(text).to_string(),
            "..first\r\nmiddle\r\n..\r\n...two\r\nbare\n.dot\rx.\r\nlast\r\n.\r\n"
        );
        assert_eq!(DotStuffed("a\r\n").to_string(), "a\r\n\r\n.\r\n");
    }

    #[test]
    fn pipelining_is_read_from_the_ehlo_answer() {
        let postfix = [
            "mail.ews.test",
            "PIPELINING",
            "SIZE 10240000",
            "8BITMIME",
            "SMTPUTF8",
        ];
        assert!(offers_pipelining(postfix.into_iter()));
        assert!(offers_pipelining(["x", "pipelining"].into_iter()));
        assert!(!offers_pipelining(
            ["mail.ews.test", "SIZE 1", "X-PIPELINING-NOT"].into_iter()
        ));
        assert!(!offers_pipelining(std::iter::empty()));
    }

    #[test]
    fn a_relay_denial_or_missing_auth_refuses_the_sender_a_mailbox_refusal_does_not() {
        for ours in [
            "permanent error (554): 5.7.1 <a@stadt.test>: Relay access denied",
            "permanent error (550): 5.7.1 Unable to relay for a@stadt.test",
            "permanent error (530): 5.7.0 Authentication required",
            "permanent error (550): 5.7.0 Authentication Required",
        ] {
            assert!(refuses_sender(ours), "{ours}");
        }
        for theirs in [
            "permanent error (550): 5.1.1 <a@stadt.test>: Recipient address rejected: User unknown",
            "permanent error (552): 5.2.2 Mailbox full",
            "permanent error (550): 5.7.1 <a@stadt.test>: Recipient address rejected: Access denied",
        ] {
            assert!(!refuses_sender(theirs), "{theirs}");
        }
    }
}
