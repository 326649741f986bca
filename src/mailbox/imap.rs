//! IMAP source: TLS (implicit or STARTTLS; plaintext only to loopback), IDLE
//! renewed before 29 minutes, polling where IDLE is missing, MOVE with a
//! COPY + \Deleted + UID EXPUNGE fallback. Never reads or sets \Seen.

use super::{Fetched, MailSource, Wake, tls};
use crate::config::Security;
use crate::config::settings::{ImapSettings, is_loopback};
use crate::store::messages::Location;
use anyhow::{Context, anyhow, bail};
use async_imap::Session;
use chrono::Utc;
use futures::TryStreamExt;
use secrecy::ExposeSecret;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Plain TCP (loopback only) or TLS, behind one type so STARTTLS can upgrade.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stream::Plain(_) => "Stream::Plain",
            Stream::Tls(_) => "Stream::Tls",
        })
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Every single IMAP command must answer within this time.
const OP_TIMEOUT: Duration = Duration::from_secs(60);

async fn op<T, E>(what: &str, fut: impl Future<Output = Result<T, E>>) -> anyhow::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(OP_TIMEOUT, fut).await {
        Ok(r) => r.with_context(|| format!("IMAP {what} failed")),
        Err(_) => Err(anyhow!(
            "IMAP {what} timed out after {}s",
            OP_TIMEOUT.as_secs()
        )),
    }
}

/// Opens an authenticated session.
pub async fn login(s: &ImapSettings) -> anyhow::Result<Session<Stream>> {
    if s.security == Security::Plain && !is_loopback(&s.host) {
        bail!(
            "plaintext IMAP to {} refused: only loopback may go unencrypted",
            s.host
        );
    }
    let tcp = op("connect", TcpStream::connect((s.host.as_str(), s.port))).await?;
    tcp.set_nodelay(true).ok();
    let stream = match s.security {
        Security::Tls => Stream::Tls(Box::new(handshake(s, tcp).await?)),
        _ => Stream::Plain(tcp),
    };
    let mut client = async_imap::Client::new(stream);
    // NOTE: read the greeting before the first command (async-imap does not).
    op("greeting", client.read_response())
        .await?
        .context("IMAP server closed before its greeting")?;
    if s.security == Security::Starttls {
        op(
            "STARTTLS",
            client.run_command_and_check_ok("STARTTLS", None),
        )
        .await?;
        let Stream::Plain(tcp) = client.into_inner() else {
            bail!("STARTTLS on a stream that is already encrypted");
        };
        client = async_imap::Client::new(Stream::Tls(Box::new(handshake(s, tcp).await?)));
    }
    let password = s.password.as_ref().context("no IMAP password configured")?;
    match tokio::time::timeout(
        OP_TIMEOUT,
        client.login(&s.username, password.expose_secret()),
    )
    .await
    {
        Ok(Ok(session)) => Ok(session),
        Ok(Err((e, _))) => Err(anyhow!("IMAP login as {} failed: {e}", s.username)),
        Err(_) => Err(anyhow!("IMAP login timed out")),
    }
}

async fn handshake(
    s: &ImapSettings,
    tcp: TcpStream,
) -> anyhow::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let connector = tls::connector(s.ca_file.as_deref())?;
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(s.host.clone())
        .with_context(|| format!("bad TLS server name {}", s.host))?;
    op("TLS handshake", connector.connect(name, tcp)).await
}

/// The watched folder on an IMAP server.
pub struct ImapSource {
    settings: ImapSettings,
    folder: String,
    processed: String,
    session: Option<Session<Stream>>,
    validity: i64,
    has_move: bool,
    has_uidplus: bool,
    has_idle: bool,
}

impl ImapSource {
    pub fn new(settings: ImapSettings, folder: &str, processed: &str) -> ImapSource {
        ImapSource {
            settings,
            folder: folder.to_string(),
            processed: processed.to_string(),
            session: None,
            validity: 0,
            has_move: false,
            has_uidplus: false,
            has_idle: false,
        }
    }

    fn session(&mut self) -> anyhow::Result<&mut Session<Stream>> {
        self.session
            .as_mut()
            .context("not connected to the IMAP server")
    }

    fn drain_unsolicited(&mut self) {
        if let Some(s) = self.session.as_mut() {
            while s.unsolicited_responses.try_recv().is_ok() {}
        }
    }

    fn uid_of(loc: &Location) -> anyhow::Result<u32> {
        loc.uid
            .parse()
            .with_context(|| format!("bad IMAP UID {:?}", loc.uid))
    }
}

impl MailSource for ImapSource {
    fn kind(&self) -> &'static str {
        "imap"
    }

    async fn connect(&mut self) -> anyhow::Result<()> {
        self.session = None;
        let mut session = login(&self.settings).await?;
        let caps = op("CAPABILITY", session.capabilities()).await?;
        self.has_move = caps.has_str("MOVE");
        self.has_uidplus = caps.has_str("UIDPLUS");
        self.has_idle = caps.has_str("IDLE");
        // NOTE: CREATE fails when the folder exists; that is fine.
        let _ = op("CREATE", session.create(&self.processed)).await;
        let mailbox = op("SELECT", session.select(&self.folder)).await?;
        self.validity = i64::from(mailbox.uid_validity.context("server sent no UIDVALIDITY")?);
        tracing::info!(
            folder = %self.folder, uidvalidity = self.validity, idle = self.has_idle,
            r#move = self.has_move, "IMAP connected"
        );
        self.session = Some(session);
        Ok(())
    }

    async fn scan(&mut self) -> anyhow::Result<Vec<Location>> {
        let (folder, validity) = (self.folder.clone(), self.validity);
        let uids = op("UID SEARCH", self.session()?.uid_search("ALL")).await?;
        self.drain_unsolicited();
        let mut uids: Vec<u32> = uids.into_iter().collect();
        uids.sort_unstable();
        Ok(uids
            .into_iter()
            .map(|uid| Location {
                source: "imap",
                folder: folder.clone(),
                validity,
                uid: uid.to_string(),
            })
            .collect())
    }

    async fn fetch(&mut self, loc: &Location) -> anyhow::Result<Option<Fetched>> {
        let uid = Self::uid_of(loc)?;
        let session = self.session()?;
        // NOTE: BODY.PEEK leaves \Seen alone: staff read the same mailbox.
        let fetches: Vec<_> = op("UID FETCH", async {
            session
                .uid_fetch(uid.to_string(), "(UID INTERNALDATE BODY.PEEK[])")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?;
        self.drain_unsolicited();
        let Some(f) = fetches.iter().find(|f| f.uid == Some(uid)) else {
            return Ok(None);
        };
        let raw = f.body().context("FETCH returned no body")?.to_vec();
        let internal_date = f
            .internal_date()
            .map(|d| d.with_timezone(&Utc))
            .context("FETCH returned no INTERNALDATE")?;
        Ok(Some(Fetched { raw, internal_date }))
    }

    async fn move_processed(&mut self, loc: &Location) -> anyhow::Result<()> {
        let uid = Self::uid_of(loc)?.to_string();
        let (has_move, has_uidplus, target) =
            (self.has_move, self.has_uidplus, self.processed.clone());
        let session = self.session()?;
        if has_move {
            op("UID MOVE", session.uid_mv(&uid, &target)).await?;
        } else {
            op("UID COPY", session.uid_copy(&uid, &target)).await?;
            op("UID STORE", async {
                session
                    .uid_store(&uid, "+FLAGS.SILENT (\\Deleted)")
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await?;
            if has_uidplus {
                op("UID EXPUNGE", async {
                    session
                        .uid_expunge(&uid)
                        .await?
                        .try_collect::<Vec<_>>()
                        .await
                })
                .await?;
            }
            // NOTE: without UIDPLUS we leave the \Deleted message for the next EXPUNGE by a
            // client: a plain EXPUNGE could remove messages staff flagged themselves.
        }
        self.drain_unsolicited();
        Ok(())
    }

    async fn wait(&mut self, shutdown: &CancellationToken) -> anyhow::Result<Wake> {
        if !(self.has_idle && self.settings.use_idle) {
            let poll = Duration::from_secs(self.settings.poll_interval_secs);
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(Wake::Shutdown),
                _ = tokio::time::sleep(poll) => {}
            }
            op("NOOP", self.session()?.noop()).await?;
            return Ok(Wake::Changed);
        }
        let renew = Duration::from_secs(self.settings.idle_renew_secs);
        let session = self
            .session
            .take()
            .context("not connected to the IMAP server")?;
        let mut idle = session.idle();
        op("IDLE", idle.init()).await?;
        let (outcome, wake) = {
            let (fut, _stop) = idle.wait_with_timeout(renew + Duration::from_secs(60));
            tokio::select! {
                _ = shutdown.cancelled() => (None, Wake::Shutdown),
                r = tokio::time::timeout(renew, fut) => (Some(r), Wake::Changed),
            }
        };
        match outcome {
            // NOTE: async-imap reports a closed connection as ManualInterrupt.
            Some(Ok(Ok(async_imap::extensions::idle::IdleResponse::ManualInterrupt))) => {
                bail!("IMAP connection closed during IDLE")
            }
            Some(Ok(Err(e))) => return Err(e).context("IMAP IDLE failed"),
            _ => {}
        }
        let session = op("DONE", idle.done()).await?;
        self.session = Some(session);
        self.drain_unsolicited();
        Ok(wake)
    }
}

/// Appends a copy of a sent mail to `folder` (created if missing), marked \Seen.
pub async fn append_copy(s: &ImapSettings, folder: &str, raw: &[u8]) -> anyhow::Result<()> {
    let mut session = login(s).await?;
    let _ = op("CREATE", session.create(folder)).await;
    op(
        "APPEND",
        session.append(folder, Some("(\\Seen)"), None, raw),
    )
    .await?;
    let _ = op("LOGOUT", session.logout()).await;
    Ok(())
}
