//! IMAP source: TLS (implicit or STARTTLS; plaintext only to loopback), IDLE
//! renewed before 29 minutes, polling where IDLE is missing, MOVE with a
//! COPY + \Deleted + UID EXPUNGE fallback. Never reads or sets \Seen.
//! Folder names follow the server's namespace and separator (`folders`).

use super::folders::{self, Namespace};
use super::{Fetch, Fetched, HeaderSummary, MailSource, SetupError, SourceError, Wake, tls};
use crate::config::Security;
use crate::config::settings::{ImapSettings, is_loopback};
use crate::store::messages::Location;
use anyhow::{Context, anyhow, bail};
use async_imap::Session;
use chrono::Utc;
use futures::TryStreamExt;
use secrecy::ExposeSecret;
use std::collections::HashMap;
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

/// Like [`op`], for an operation on one message: a refusal by the server
/// (`NO`, `BAD`, a name it will not take) is the message's failure; anything
/// else (I/O, a closed connection, a timeout) is the connection's.
async fn op_msg<T>(
    what: &str,
    fut: impl Future<Output = Result<T, async_imap::error::Error>>,
) -> Result<T, SourceError> {
    use async_imap::error::Error;
    match tokio::time::timeout(OP_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e @ (Error::No(_) | Error::Bad(_) | Error::Validate(_) | Error::Append))) => Err(
            SourceError::Message(anyhow!(e).context(format!("IMAP {what} refused by the server"))),
        ),
        Ok(Err(e)) => Err(SourceError::Connection(
            anyhow!(e).context(format!("IMAP {what} failed")),
        )),
        Err(_) => Err(SourceError::Connection(anyhow!(
            "IMAP {what} timed out after {}s",
            OP_TIMEOUT.as_secs()
        ))),
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
    /// The folders as configured, `/`-separated.
    folder_logical: String,
    processed_logical: String,
    /// `imap.sent_folder` (empty: none), where own copies of sent mail go.
    sent_logical: String,
    /// The same on this server, once connected.
    folder: String,
    processed: String,
    sent: Option<String>,
    session: Option<Session<Stream>>,
    validity: i64,
    has_move: bool,
    has_uidplus: bool,
    has_idle: bool,
    /// New mail was announced (EXISTS/RECENT) since the last scan.
    changed: bool,
}

impl ImapSource {
    pub fn new(settings: ImapSettings, folder: &str, processed: &str) -> ImapSource {
        ImapSource {
            sent_logical: settings.sent_folder.clone(),
            settings,
            folder_logical: folder.to_string(),
            processed_logical: processed.to_string(),
            folder: folder.to_string(),
            processed: processed.to_string(),
            sent: None,
            session: None,
            validity: 0,
            has_move: false,
            has_uidplus: false,
            has_idle: false,
            changed: false,
        }
    }

    /// The server's names of the watched and the processed folder (after `connect`).
    pub fn server_folders(&self) -> (&str, &str) {
        (&self.folder, &self.processed)
    }

    fn session(&mut self) -> Result<&mut Session<Stream>, SourceError> {
        self.session
            .as_mut()
            .ok_or_else(|| SourceError::Connection(anyhow!("not connected to the IMAP server")))
    }

    /// Empties the unsolicited responses, remembering whether new mail was
    /// announced. Called after every command (SEARCH, FETCH, MOVE, NOOP,
    /// IDLE): whatever the command, an EXISTS in its answer is kept in
    /// `changed`, and [`MailSource::wait`] returns at once while it is set.
    ///
    /// NOTE: the server announces mail that arrives mid-sweep with the answer
    /// to whatever command comes next (a FETCH, a MOVE), not at the next IDLE;
    /// dropping that EXISTS would leave the mail unseen until the one after.
    /// async-imap queues these in a channel of 100 and drops what does not
    /// fit (a MOVE of many messages, a mass flag change by a mail client):
    /// a full channel may have lost an EXISTS, so it counts as one.
    fn drain_unsolicited(&mut self) {
        use async_imap::types::UnsolicitedResponse;
        if let Some(s) = self.session.as_mut() {
            if s.unsolicited_responses.is_full() {
                self.changed = true;
            }
            while let Ok(r) = s.unsolicited_responses.try_recv() {
                if matches!(
                    r,
                    UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)
                ) {
                    self.changed = true;
                }
            }
        }
    }

    fn uid_of(loc: &Location) -> Result<u32, SourceError> {
        loc.uid
            .parse()
            .map_err(|_| SourceError::Message(anyhow!("bad IMAP UID {:?}", loc.uid)))
    }

    async fn move_once(&mut self, uid: &str, target: &str) -> Result<(), SourceError> {
        let (has_move, has_uidplus) = (self.has_move, self.has_uidplus);
        let session = self.session()?;
        if has_move {
            op_msg("UID MOVE", session.uid_mv(uid, target)).await?;
        } else {
            op_msg("UID COPY", session.uid_copy(uid, target)).await?;
            op_msg("UID STORE", async {
                session
                    .uid_store(uid, "+FLAGS.SILENT (\\Deleted)")
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await?;
            if has_uidplus {
                op_msg("UID EXPUNGE", async {
                    session
                        .uid_expunge(uid)
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
}

impl ImapSource {
    /// Moves `loc` to the server folder `target` (`logical` as configured
    /// under `setting`).
    async fn move_to(
        &mut self,
        loc: &Location,
        target: &str,
        logical: &str,
        setting: &str,
    ) -> Result<(), SourceError> {
        let uid = Self::uid_of(loc)?.to_string();
        self.move_set(&uid, target, logical, setting).await
    }

    /// Moves the messages of UID set `uids` ("3:7,9") to `target`.
    async fn move_set(
        &mut self,
        uids: &str,
        target: &str,
        logical: &str,
        setting: &str,
    ) -> Result<(), SourceError> {
        let uid = uids;
        match self.move_once(uid, target).await {
            // NOTE: RFC 3501 §6.4.7: [TRYCREATE] means the target folder is gone (someone
            // deleted it): create it again and retry once.
            Err(SourceError::Message(e))
                if format!("{e:#}").to_lowercase().contains("trycreate") =>
            {
                tracing::warn!(folder = %target, "target folder is missing; creating it again");
                let session = self.session()?;
                ensure_folder(session, target, logical, setting)
                    .await
                    .map_err(|e| {
                        if e.is::<SetupError>() {
                            SourceError::Message(e)
                        } else {
                            SourceError::Connection(e)
                        }
                    })?;
                self.move_once(uid, target).await
            }
            other => other,
        }
    }
}

/// UIDs in one command at most: keeps command lines short (RFC 7162 §4
/// asks clients to stay under 8,192 octets).
const UIDS_PER_COMMAND: usize = 500;

/// The UIDs of `locs` as compact UID sets ("3:7,9,12:15"), at most
/// [`UIDS_PER_COMMAND`] UIDs each.
fn uid_sets(locs: &[Location]) -> Result<Vec<String>, SourceError> {
    let mut uids = locs
        .iter()
        .map(ImapSource::uid_of)
        .collect::<Result<Vec<_>, _>>()?;
    uids.sort_unstable();
    uids.dedup();
    Ok(uids.chunks(UIDS_PER_COMMAND).map(compact).collect())
}

/// Sorted, distinct UIDs as an IMAP sequence set.
fn compact(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// Sender, subject and date from a FETCH ENVELOPE, decoded like a header.
fn envelope_summary(f: &async_imap::types::Fetch) -> HeaderSummary {
    let Some(env) = f.envelope() else {
        return HeaderSummary::default();
    };
    let text = |b: &Option<std::borrow::Cow<'_, [u8]>>| {
        b.as_deref()
            .map(|b| String::from_utf8_lossy(b).replace(['\r', '\n'], " "))
    };
    let mut head = String::new();
    if let Some(a) = env.from.as_ref().and_then(|v| v.first()) {
        let addr = match (text(&a.mailbox), text(&a.host)) {
            (Some(m), Some(h)) => format!("<{m}@{h}>"),
            _ => String::new(),
        };
        // NOTE: encoded words are decoded only outside quotes.
        let name = text(&a.name)
            .map(|n| {
                if n.contains("=?") {
                    format!("{n} ")
                } else {
                    format!("\"{}\" ", n.replace(['"', '\\'], ""))
                }
            })
            .unwrap_or_default();
        head.push_str(&format!("From: {name}{addr}\r\n"));
    }
    if let Some(subject) = text(&env.subject) {
        head.push_str(&format!("Subject: {subject}\r\n"));
    }
    if let Some(date) = text(&env.date) {
        head.push_str(&format!("Date: {date}\r\n"));
    }
    HeaderSummary::from_header_block(head.as_bytes())
}

/// The server's personal namespace: NAMESPACE (RFC 2342) where offered,
/// else the delimiter from `LIST "" ""`.
pub async fn discover(
    session: &mut Session<Stream>,
    has_namespace: bool,
) -> anyhow::Result<Namespace> {
    if has_namespace && let Some(ns) = op("NAMESPACE", namespace_raw(session.as_mut())).await? {
        return Ok(ns);
    }
    let names = op("LIST", async {
        session
            .list(Some(""), Some("\"\""))
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?;
    let Some(name) = names.first() else {
        return Ok(Namespace::plain());
    };
    Ok(Namespace {
        prefix: String::new(),
        delimiter: name.delimiter().and_then(|d| d.chars().next()),
    })
}

/// NOTE: async-imap 0.12 cannot parse a NAMESPACE response (imap-proto has no
/// rule for it and would drop the connection), so the command goes out on
/// the raw stream between two commands, and its lines are read here.
async fn namespace_raw(stream: &mut Stream) -> std::io::Result<Option<Namespace>> {
    use tokio::io::AsyncWriteExt;
    const TAG: &str = "PBNS1";
    stream
        .write_all(format!("{TAG} NAMESPACE\r\n").as_bytes())
        .await?;
    stream.flush().await?;
    let mut found = None;
    for _ in 0..64 {
        let line = read_line(stream).await?;
        if let Some(status) = line.strip_prefix(&format!("{TAG} ")) {
            let ok = status
                .get(..2)
                .is_some_and(|s| s.eq_ignore_ascii_case("OK"));
            return Ok(found.filter(|_| ok));
        }
        if found.is_none() {
            found = folders::parse_namespace_line(&line);
        }
        // A literal `{n}` at the end of a line: skip its bytes, read on.
        if let Some(n) = line
            .trim_end()
            .strip_suffix('}')
            .and_then(|l| l.rsplit_once('{'))
            .and_then(|(_, n)| n.parse::<u64>().ok())
        {
            skip(stream, n.min(1 << 20)).await?;
        }
    }
    Err(std::io::Error::other("NAMESPACE: no tagged answer"))
}

/// One line (up to CRLF) read byte by byte, so nothing after it is consumed.
async fn read_line(stream: &mut Stream) -> std::io::Result<String> {
    use tokio::io::AsyncReadExt;
    let mut line = Vec::new();
    loop {
        let b = stream.read_u8().await?;
        line.push(b);
        if b == b'\n' {
            return Ok(String::from_utf8_lossy(&line).into_owned());
        }
        if line.len() > 64 * 1024 {
            return Err(std::io::Error::other("IMAP line longer than 64 KiB"));
        }
    }
}

async fn skip(stream: &mut Stream, n: u64) -> std::io::Result<()> {
    use tokio::io::AsyncReadExt;
    let mut sink = tokio::io::sink();
    let copied = tokio::io::copy(&mut stream.take(n), &mut sink).await?;
    if copied < n {
        return Err(std::io::Error::other("IMAP literal cut short"));
    }
    Ok(())
}

/// A folder name as an IMAP quoted string (the name is validated already).
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Whether `name` exists as a selectable folder.
async fn exists(session: &mut Session<Stream>, name: &str) -> anyhow::Result<bool> {
    use async_imap::types::NameAttribute;
    let pattern = quoted(name);
    let names = op("LIST", async {
        session
            .list(Some(""), Some(&pattern))
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?;
    Ok(names
        .iter()
        .any(|n| n.name() == name && !n.attributes().contains(&NameAttribute::NoSelect)))
}

/// Makes sure `name` exists: CREATE it when missing, check the server's
/// answer, and SUBSCRIBE so that staff mail clients show it. A folder that
/// cannot be created is a [`SetupError`] naming the folder, the server's
/// answer and the setting to change.
pub async fn ensure_folder(
    session: &mut Session<Stream>,
    name: &str,
    logical: &str,
    setting: &str,
) -> anyhow::Result<()> {
    if !exists(session, name).await? {
        match op_msg("CREATE", session.create(name)).await {
            Ok(()) => tracing::info!(folder = %name, "created folder"),
            Err(SourceError::Message(e)) => {
                // Another client may have created it meanwhile.
                if !exists(session, name).await? {
                    return Err(SetupError(format!(
                        "cannot create the folder {logical:?} (on this server: {name:?}): {e:#}. \
                         Create it on the server by hand, or set {setting} to a folder that exists \
                         or can be created"
                    ))
                    .into());
                }
            }
            Err(SourceError::Connection(e)) => return Err(e),
        }
        if !exists(session, name).await? {
            return Err(SetupError(format!(
                "the server accepted CREATE {name:?} for {logical:?} but does not list the folder; \
                 create it by hand or set {setting}"
            ))
            .into());
        }
    }
    match op_msg("SUBSCRIBE", session.subscribe(name)).await {
        Ok(()) => {}
        Err(SourceError::Message(e)) => {
            tracing::warn!(folder = %name, error = %format!("{e:#}"), "cannot subscribe to folder")
        }
        Err(SourceError::Connection(e)) => return Err(e),
    }
    Ok(())
}

/// The server's name for a configured folder, or a [`SetupError`] saying which setting to change.
fn resolve(logical: &str, ns: &Namespace, setting: &str) -> anyhow::Result<String> {
    folders::server_name(logical, ns)
        .map_err(|e| SetupError(format!("{e}; change {setting}")).into())
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
        let ns = discover(&mut session, caps.has_str("NAMESPACE")).await?;
        self.folder = resolve(&self.folder_logical, &ns, "mailbox.folder")?;
        self.processed = resolve(&self.processed_logical, &ns, "mailbox.processed_folder")?;
        self.sent = if self.sent_logical.is_empty() {
            None
        } else {
            Some(resolve(&self.sent_logical, &ns, "imap.sent_folder")?)
        };
        ensure_folder(
            &mut session,
            &self.processed,
            &self.processed_logical,
            "mailbox.processed_folder",
        )
        .await?;
        let mailbox = match op_msg("SELECT", session.select(&self.folder)).await {
            Ok(m) => m,
            Err(SourceError::Message(e)) => {
                return Err(SetupError(format!(
                    "cannot open the watched folder {:?} (on this server: {:?}): {e:#}; change mailbox.folder",
                    self.folder_logical, self.folder
                ))
                .into());
            }
            Err(SourceError::Connection(e)) => return Err(e),
        };
        self.validity = i64::from(mailbox.uid_validity.context("server sent no UIDVALIDITY")?);
        tracing::info!(
            folder = %self.folder, processed = %self.processed, namespace = %ns.describe(),
            uidvalidity = self.validity, idle = self.has_idle, r#move = self.has_move,
            "IMAP connected"
        );
        self.session = Some(session);
        Ok(())
    }

    async fn scan(&mut self) -> anyhow::Result<Vec<Location>> {
        let (folder, validity) = (self.folder.clone(), self.validity);
        self.drain_unsolicited();
        self.changed = false;
        let session = self.session().map_err(anyhow::Error::from)?;
        let uids = op("UID SEARCH", session.uid_search("ALL")).await?;
        // NOTE: an EXISTS that came with the SEARCH answer may or may not be in
        // it; `changed` stays set and costs at most one more (cheap) sweep.
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

    async fn fetch(&mut self, loc: &Location, max_bytes: u64) -> Result<Fetch, SourceError> {
        let uid = Self::uid_of(loc)?;
        // The size first: a message over the limit is never read into memory.
        let session = self.session()?;
        let sizes = op_msg("UID FETCH RFC822.SIZE", async {
            session
                .uid_fetch(uid.to_string(), "(UID RFC822.SIZE ENVELOPE)")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await;
        self.drain_unsolicited();
        let Some(f) = sizes?.into_iter().find(|f| f.uid == Some(uid)) else {
            return Ok(Fetch::Gone);
        };
        match f.size.map(u64::from) {
            Some(size) if size > max_bytes => {
                return Ok(Fetch::TooLarge {
                    size,
                    summary: envelope_summary(&f),
                });
            }
            Some(_) => {}
            // NOTE: every IMAP4rev1 server answers RFC822.SIZE; one that does
            // not must not hold up every mail, so it is read as before.
            None => tracing::warn!(uid, "the server sent no RFC822.SIZE; fetching anyway"),
        }
        let session = self.session()?;
        // NOTE: BODY.PEEK leaves \Seen alone: staff read the same mailbox.
        let fetches = op_msg("UID FETCH", async {
            session
                .uid_fetch(uid.to_string(), "(UID INTERNALDATE BODY.PEEK[])")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await;
        self.drain_unsolicited();
        let fetches = fetches?;
        let Some(f) = fetches.iter().find(|f| f.uid == Some(uid)) else {
            return Ok(Fetch::Gone);
        };
        let Some(raw) = f.body() else {
            return Err(SourceError::Message(anyhow!("FETCH returned no body")));
        };
        let Some(internal_date) = f.internal_date() else {
            return Err(SourceError::Message(anyhow!(
                "FETCH returned no INTERNALDATE"
            )));
        };
        Ok(Fetch::Mail(Fetched {
            raw: raw.to_vec(),
            internal_date: internal_date.with_timezone(&Utc),
        }))
    }

    async fn move_processed(&mut self, loc: &Location) -> Result<(), SourceError> {
        let (target, logical) = (self.processed.clone(), self.processed_logical.clone());
        self.move_to(loc, &target, &logical, "mailbox.processed_folder")
            .await
    }

    async fn delete(&mut self, loc: &Location) -> Result<(), SourceError> {
        let uid = Self::uid_of(loc)?.to_string();
        let has_uidplus = self.has_uidplus;
        let session = self.session()?;
        op_msg("UID STORE", async {
            session
                .uid_store(&uid, "+FLAGS.SILENT (\\Deleted)")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?;
        if has_uidplus {
            op_msg("UID EXPUNGE", async {
                session
                    .uid_expunge(&uid)
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await?;
        } else {
            // NOTE: without UIDPLUS the message stays flagged \Deleted until a
            // client expunges: a plain EXPUNGE could remove messages staff
            // flagged themselves.
            tracing::warn!(uid = %uid, "server lacks UIDPLUS: command mail flagged \\Deleted, not expunged");
        }
        self.drain_unsolicited();
        Ok(())
    }

    async fn move_sent(&mut self, loc: &Location) -> Result<bool, SourceError> {
        let Some(target) = self.sent.clone() else {
            return Ok(false);
        };
        let logical = self.sent_logical.clone();
        self.move_to(loc, &target, &logical, "imap.sent_folder")
            .await
            .map(|()| true)
    }

    fn batches(&self) -> bool {
        true
    }

    async fn sizes(
        &mut self,
        locs: &[Location],
    ) -> Result<Option<HashMap<String, u64>>, SourceError> {
        let mut sizes = HashMap::with_capacity(locs.len());
        for set in uid_sets(locs)? {
            let session = self.session()?;
            let fetched = op_msg("UID FETCH RFC822.SIZE", async {
                session
                    .uid_fetch(&set, "(UID RFC822.SIZE)")
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await;
            self.drain_unsolicited();
            for f in fetched? {
                // NOTE: a server that sends no RFC822.SIZE (every IMAP4rev1
                // server does) gets its messages fetched one by one, where
                // `fetch` reads them anyway.
                if let (Some(uid), Some(size)) = (f.uid, f.size) {
                    sizes.insert(uid.to_string(), u64::from(size));
                }
            }
        }
        Ok(Some(sizes))
    }

    async fn fetch_page(
        &mut self,
        locs: &[Location],
        max_bytes: u64,
    ) -> Result<Vec<Result<Fetch, SourceError>>, SourceError> {
        let _ = max_bytes;
        let mut by_uid: HashMap<u32, Result<Fetch, SourceError>> = HashMap::new();
        for set in uid_sets(locs)? {
            let session = self.session()?;
            // NOTE: BODY.PEEK leaves \Seen alone: staff read the same mailbox.
            let fetches = op_msg("UID FETCH", async {
                session
                    .uid_fetch(&set, "(UID INTERNALDATE BODY.PEEK[])")
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await;
            self.drain_unsolicited();
            for f in fetches? {
                let Some(uid) = f.uid else { continue };
                let one = match (f.body(), f.internal_date()) {
                    (Some(raw), Some(date)) => Ok(Fetch::Mail(Fetched {
                        raw: raw.to_vec(),
                        internal_date: date.with_timezone(&Utc),
                    })),
                    (None, _) => Err(SourceError::Message(anyhow!("FETCH returned no body"))),
                    (_, None) => Err(SourceError::Message(anyhow!(
                        "FETCH returned no INTERNALDATE"
                    ))),
                };
                by_uid.insert(uid, one);
            }
        }
        Ok(locs
            .iter()
            .map(|l| {
                l.uid
                    .parse::<u32>()
                    .ok()
                    .and_then(|u| by_uid.remove(&u))
                    .unwrap_or(Ok(Fetch::Gone))
            })
            .collect())
    }

    async fn move_processed_many(&mut self, locs: &[Location]) -> Result<(), SourceError> {
        let (target, logical) = (self.processed.clone(), self.processed_logical.clone());
        for set in uid_sets(locs)? {
            self.move_set(&set, &target, &logical, "mailbox.processed_folder")
                .await?;
        }
        Ok(())
    }

    async fn move_sent_many(&mut self, locs: &[Location]) -> Result<bool, SourceError> {
        let Some(target) = self.sent.clone() else {
            return Ok(false);
        };
        let logical = self.sent_logical.clone();
        for set in uid_sets(locs)? {
            self.move_set(&set, &target, &logical, "imap.sent_folder")
                .await?;
        }
        Ok(true)
    }

    async fn wait(
        &mut self,
        shutdown: &CancellationToken,
        at_most: Duration,
    ) -> anyhow::Result<Wake> {
        // New mail was announced in the answer to an earlier command (a
        // FETCH, a MOVE, the SEARCH): the server will not announce it again,
        // so look now instead of waiting for the next change.
        self.drain_unsolicited();
        if self.changed {
            return Ok(Wake::Changed);
        }
        if !(self.has_idle && self.settings.use_idle) {
            let poll = Duration::from_secs(self.settings.poll_interval_secs).min(at_most);
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(Wake::Shutdown),
                _ = tokio::time::sleep(poll) => {}
            }
            let session = self.session().map_err(anyhow::Error::from)?;
            op("NOOP", session.noop()).await?;
            self.drain_unsolicited();
            return Ok(Wake::Changed);
        }
        let renew = Duration::from_secs(self.settings.idle_renew_secs).min(at_most);
        let session = self
            .session
            .take()
            .context("not connected to the IMAP server")?;
        let announced = session.unsolicited_responses.clone();
        let mut idle = session.idle();
        op("IDLE", idle.init()).await?;
        // NOTE: Dovecot syncs when IDLE starts and may announce new mail before
        // its "+ idling"; async-imap queues that EXISTS as unsolicited, and
        // waiting for the next change would miss it.
        let mut already = announced.is_full();
        while let Ok(r) = announced.try_recv() {
            already |= matches!(
                r,
                async_imap::types::UnsolicitedResponse::Exists(_)
                    | async_imap::types::UnsolicitedResponse::Recent(_)
            );
        }
        if already {
            let session = op("DONE", idle.done()).await?;
            self.session = Some(session);
            self.drain_unsolicited();
            return Ok(Wake::Changed);
        }
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

/// A session with the logical `folder` resolved to this server's name.
async fn session_for(
    s: &ImapSettings,
    folder: &str,
    setting: &str,
) -> anyhow::Result<(Session<Stream>, String)> {
    let mut session = login(s).await?;
    let caps = op("CAPABILITY", session.capabilities()).await?;
    let ns = discover(&mut session, caps.has_str("NAMESPACE")).await?;
    let name = resolve(folder, &ns, setting)?;
    Ok((session, name))
}

/// Makes sure the logical `folder` exists on the server (created and
/// subscribed if missing); `setting` names the config key for errors.
pub async fn prepare_folder(s: &ImapSettings, folder: &str, setting: &str) -> anyhow::Result<()> {
    let (mut session, name) = session_for(s, folder, setting).await?;
    ensure_folder(&mut session, &name, folder, setting).await?;
    let _ = op("LOGOUT", session.logout()).await;
    Ok(())
}

/// Appends copies of sent mail, marked \Seen, to one logical folder
/// (translated to the server's namespace) over one IMAP session, kept from
/// the first copy until [`SentAppender::close`]: a backlog of replies logs
/// in once, not once per mail. The start prepared the folder; only when the
/// server refuses an APPEND is the folder made again (it may have been
/// deleted), and the APPEND tried once more.
pub struct SentAppender {
    settings: ImapSettings,
    folder: String,
    /// The kept session and the folder's name on the server.
    session: tokio::sync::Mutex<Option<(Session<Stream>, String)>>,
}

impl SentAppender {
    const SETTING: &str = "imap.sent_folder";

    pub fn new(settings: ImapSettings, folder: String) -> SentAppender {
        SentAppender {
            settings,
            folder,
            session: tokio::sync::Mutex::new(None),
        }
    }

    /// Appends `raw`; the copies of mail sent at once wait for each other.
    pub async fn append(&self, raw: &[u8]) -> anyhow::Result<()> {
        let mut held = self.session.lock().await;
        let (session, reused) = match held.take() {
            Some(kept) => (kept, true),
            None => (self.login().await?, false),
        };
        let kept = match self.append_over(session, raw).await {
            Ok(kept) => kept,
            // NOTE: a kept session may have been closed by the server while
            // the sender waited (autologout, a restart): one fresh login.
            Err(e) if reused => {
                tracing::debug!(error = %format!("{e:#}"), "the kept IMAP session failed; logging in again");
                self.append_over(self.login().await?, raw).await?
            }
            Err(e) => return Err(e),
        };
        *held = Some(kept);
        Ok(())
    }

    async fn login(&self) -> anyhow::Result<(Session<Stream>, String)> {
        session_for(&self.settings, &self.folder, Self::SETTING).await
    }

    /// One APPEND over `kept`; the session back when it can go on.
    async fn append_over(
        &self,
        (mut session, name): (Session<Stream>, String),
        raw: &[u8],
    ) -> anyhow::Result<(Session<Stream>, String)> {
        let append = async |session: &mut Session<Stream>| {
            op_msg("APPEND", session.append(&name, Some("(\\Seen)"), None, raw)).await
        };
        match append(&mut session).await {
            Ok(()) => {}
            // NOTE: async-imap reports a refused APPEND (e.g. [TRYCREATE]) without its code.
            Err(SourceError::Message(_)) => {
                ensure_folder(&mut session, &name, &self.folder, Self::SETTING).await?;
                append(&mut session).await?;
            }
            Err(SourceError::Connection(e)) => return Err(e),
        }
        Ok((session, name))
    }

    /// Logs the kept session out, if there is one: when the queue is empty,
    /// so that an idle daemon holds no second connection.
    pub async fn close(&self) {
        if let Some((mut session, _)) = self.session.lock().await.take() {
            let _ = op("LOGOUT", session.logout()).await;
        }
    }
}

/// The first of the logical `folders` that holds a message with Message-ID
/// `message_id` (without angle brackets), by `UID SEARCH HEADER Message-ID`.
/// A folder the server will not open holds nothing.
pub async fn find_message_id(
    s: &ImapSettings,
    folders: &[&str],
    message_id: &str,
) -> anyhow::Result<Option<String>> {
    let mut session = login(s).await?;
    let caps = op("CAPABILITY", session.capabilities()).await?;
    let ns = discover(&mut session, caps.has_str("NAMESPACE")).await?;
    let query = format!("HEADER Message-ID {}", quoted(message_id));
    let mut found = None;
    for logical in folders {
        let Ok(name) = folders::server_name(logical, &ns) else {
            continue;
        };
        match op_msg("EXAMINE", session.examine(&name)).await {
            Ok(_) => {}
            Err(SourceError::Message(e)) => {
                tracing::debug!(folder = %name, error = %format!("{e:#}"), "cannot open folder to search");
                continue;
            }
            Err(SourceError::Connection(e)) => return Err(e),
        }
        let uids = op("UID SEARCH", session.uid_search(&query)).await?;
        if !uids.is_empty() {
            found = Some(logical.to_string());
            break;
        }
    }
    let _ = op("LOGOUT", session.logout()).await;
    Ok(found)
}

/// Deletes every message whose Message-ID (without angle brackets) is one
/// of `message_ids` from each of the logical `folders`: `UID SEARCH HEADER
/// Message-ID`, `UID STORE +FLAGS.SILENT (\Deleted)`, `UID EXPUNGE` of
/// exactly those UIDs (UIDPLUS). A folder the server will not open holds
/// nothing. Returns how many messages were expunged.
pub async fn delete_message_ids(
    s: &ImapSettings,
    folders: &[&str],
    message_ids: &[String],
) -> anyhow::Result<usize> {
    if message_ids.is_empty() {
        return Ok(0);
    }
    let mut session = login(s).await?;
    let caps = op("CAPABILITY", session.capabilities()).await?;
    let ns = discover(&mut session, caps.has_str("NAMESPACE")).await?;
    let mut deleted = 0;
    let mut seen = std::collections::HashSet::new();
    for logical in folders {
        let Ok(name) = folders::server_name(logical, &ns) else {
            continue;
        };
        if logical.is_empty() || !seen.insert(name.clone()) {
            continue;
        }
        match op_msg("SELECT", session.select(&name)).await {
            Ok(_) => {}
            Err(SourceError::Message(e)) => {
                tracing::debug!(folder = %name, error = %format!("{e:#}"), "cannot open folder to erase from");
                continue;
            }
            Err(SourceError::Connection(e)) => return Err(e),
        }
        let mut uids = std::collections::BTreeSet::new();
        for id in message_ids {
            let query = format!("HEADER Message-ID {}", quoted(&format!("<{id}>")));
            uids.extend(op("UID SEARCH", session.uid_search(&query)).await?);
        }
        if uids.is_empty() {
            continue;
        }
        let set = uids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        op("UID STORE", async {
            session
                .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?;
        let gone = op("UID EXPUNGE", async {
            session
                .uid_expunge(&set)
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?;
        tracing::info!(folder = %name, expunged = gone.len().max(uids.len()), "erased mail from the mailbox");
        deleted += uids.len();
    }
    let _ = op("LOGOUT", session.logout()).await;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    //! The handling of server responses, against a scripted IMAP server on
    //! loopback (the daemon tests run the real Dovecot).

    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    const BODY: &str = "Subject: a\r\n\r\nhello\r\n";

    /// Answers each tagged command with `answer(command)` (`{tag}` replaced
    /// by the command's tag; IDLE is answered with `+ idling`, its DONE with
    /// the IDLE's tag). Returns the port and the commands received.
    async fn scripted(answer: fn(&str) -> String) -> (u16, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            let (r, mut w) = sock.into_split();
            let mut r = BufReader::new(r);
            w.write_all(b"* OK [CAPABILITY IMAP4rev1 IDLE MOVE] scripted\r\n")
                .await
                .unwrap();
            let mut idle_tag = String::new();
            let mut line = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line == "DONE" {
                    let _ = w
                        .write_all(format!("{idle_tag} OK done\r\n").as_bytes())
                        .await;
                    continue;
                }
                let (tag, command) = line.split_once(' ').unwrap_or((line, ""));
                log.lock().unwrap().push(command.to_string());
                let reply = if command == "IDLE" {
                    idle_tag = tag.to_string();
                    "+ idling\r\n".to_string()
                } else if command.starts_with("LOGIN") {
                    "{tag} OK logged in\r\n".to_string()
                } else {
                    answer(command)
                };
                let _ = w.write_all(reply.replace("{tag}", tag).as_bytes()).await;
            }
        });
        (port, seen)
    }

    async fn source(port: u16) -> ImapSource {
        let settings = ImapSettings {
            host: "127.0.0.1".into(),
            port,
            security: Security::Plain,
            username: "projekt@ews.test".into(),
            password_file: None,
            password: Some(secrecy::SecretString::from("pw")),
            ca_file: None,
            use_idle: true,
            idle_renew_secs: 60,
            poll_interval_secs: 60,
            backoff_initial_ms: 100,
            backoff_max_secs: 1,
            sent_folder: String::new(),
        };
        let mut s = ImapSource::new(settings.clone(), "INBOX", "Done");
        s.session = Some(login(&settings).await.unwrap());
        (s.has_idle, s.has_move, s.validity) = (true, true, 1);
        s
    }

    fn loc() -> Location {
        Location {
            source: "imap",
            folder: "INBOX".into(),
            validity: 1,
            uid: "7".into(),
        }
    }

    /// A mailbox with message UID 7; mail arrives during the body FETCH:
    /// the EXISTS comes between two FETCH responses of the stream.
    fn fetch_with_news(command: &str) -> String {
        if command.starts_with("UID SEARCH") {
            "* SEARCH 7\r\n{tag} OK\r\n".into()
        } else if command.contains("RFC822.SIZE") {
            "* 1 FETCH (UID 7 RFC822.SIZE 21 ENVELOPE (\"Mon, 15 Jun 2026 09:00:00 +0200\" \
             \"=?utf-8?q?Bewerbung_M=C3=BCnster?=\" ((\"Stadt A\" NIL \"amt\" \"stadt.test\")) \
             NIL NIL NIL NIL NIL NIL NIL))\r\n{tag} OK\r\n"
                .into()
        } else if command.contains("BODY.PEEK[]") {
            format!(
                "* 1 FETCH (UID 7 INTERNALDATE \"15-Jun-2026 09:00:00 +0200\" BODY[] {{{}}}\r\n{BODY})\r\n\
                 * 2 EXISTS\r\n* 1 RECENT\r\n* 2 FETCH (UID 9 FLAGS (\\Seen))\r\n{{tag}} OK\r\n",
                BODY.len()
            )
        } else {
            "{tag} OK\r\n".into()
        }
    }

    #[test]
    fn uids_become_compact_sets_of_bounded_length() {
        assert_eq!(compact(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(compact(&[9]), "9");
        assert_eq!(compact(&[]), "");
        assert_eq!(
            compact(&[u32::MAX - 1, u32::MAX]),
            format!("{}:{}", u32::MAX - 1, u32::MAX)
        );
        let locs: Vec<Location> = (1..=1200u32)
            .rev()
            .filter(|u| u % 100 != 0)
            .map(|u| Location {
                uid: u.to_string(),
                ..loc()
            })
            .collect();
        let sets = uid_sets(&locs).unwrap();
        assert_eq!(sets.len(), 3, "{sets:?}");
        assert!(sets[0].starts_with("1:99,101:199,"), "{}", sets[0]);
        let mut bad = loc();
        bad.uid = "x".into();
        assert!(matches!(uid_sets(&[bad]), Err(SourceError::Message(_))));
    }

    async fn timed_wait(s: &mut ImapSource, at_most: Duration) -> (Wake, Duration) {
        let start = std::time::Instant::now();
        let wake = s.wait(&CancellationToken::new(), at_most).await.unwrap();
        (wake, start.elapsed())
    }

    #[tokio::test]
    async fn new_mail_announced_during_a_fetch_stream_wakes_the_next_sweep_at_once() {
        let (port, seen) = scripted(fetch_with_news).await;
        let mut s = source(port).await;
        assert_eq!(s.scan().await.unwrap(), vec![loc()]);
        let Fetch::Mail(f) = s.fetch(&loc(), 1000).await.unwrap() else {
            panic!("fetched");
        };
        assert_eq!(f.raw, BODY.as_bytes());
        let (wake, took) = timed_wait(&mut s, Duration::from_secs(30)).await;
        assert_eq!(wake, Wake::Changed);
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert!(
            !seen.lock().unwrap().iter().any(|c| c == "IDLE"),
            "no IDLE: the server told us already"
        );
        // The next scan takes the news in; then the wait is IDLE again.
        s.scan().await.unwrap();
        let (_, took) = timed_wait(&mut s, Duration::from_millis(300)).await;
        assert!(took >= Duration::from_millis(250), "{took:?}");
        assert!(seen.lock().unwrap().iter().any(|c| c == "IDLE"));
    }

    #[tokio::test]
    async fn a_message_over_the_limit_is_not_fetched_and_its_envelope_is_read() {
        let (port, seen) = scripted(fetch_with_news).await;
        let mut s = source(port).await;
        let Fetch::TooLarge { size, summary } = s.fetch(&loc(), 20).await.unwrap() else {
            panic!("too large");
        };
        assert_eq!(size, 21);
        assert_eq!(summary.from.as_deref(), Some("Stadt A <amt@stadt.test>"));
        assert_eq!(summary.subject.as_deref(), Some("Bewerbung Münster"));
        assert!(summary.date.is_some());
        let commands = seen.lock().unwrap().clone();
        assert!(
            !commands.iter().any(|c| c.contains("BODY")),
            "no body asked for: {commands:?}"
        );
    }

    #[tokio::test]
    async fn new_mail_announced_with_a_move_or_the_search_wakes_the_next_sweep_at_once() {
        fn answer(command: &str) -> String {
            if command.starts_with("UID SEARCH") {
                // The EXISTS may or may not be in this answer: look again.
                "* SEARCH 7\r\n* 2 EXISTS\r\n{tag} OK\r\n".into()
            } else if command.starts_with("UID MOVE") {
                "* OK [COPYUID 1 7 1] moved\r\n* 1 EXPUNGE\r\n* 1 EXISTS\r\n{tag} OK\r\n".into()
            } else {
                "{tag} OK\r\n".into()
            }
        }
        let (port, seen) = scripted(answer).await;
        let mut s = source(port).await;
        s.scan().await.unwrap();
        let (wake, took) = timed_wait(&mut s, Duration::from_secs(30)).await;
        assert_eq!((wake, took < Duration::from_secs(2)), (Wake::Changed, true));
        s.scan().await.unwrap();
        s.move_processed(&loc()).await.unwrap();
        let (wake, took) = timed_wait(&mut s, Duration::from_secs(30)).await;
        assert_eq!((wake, took < Duration::from_secs(2)), (Wake::Changed, true));
        assert!(!seen.lock().unwrap().iter().any(|c| c == "IDLE"));
    }

    #[tokio::test]
    async fn an_exists_lost_to_a_full_response_queue_still_wakes_the_next_sweep() {
        fn answer(command: &str) -> String {
            if command.starts_with("UID SEARCH") {
                "* SEARCH 7\r\n{tag} OK\r\n".into()
            } else if command.starts_with("UID MOVE") {
                // 150 unsolicited answers: async-imap keeps 100 and drops
                // the rest, the EXISTS among them.
                let mut r = "* 1 EXPUNGE\r\n".repeat(150);
                r.push_str("* 9 EXISTS\r\n{tag} OK\r\n");
                r
            } else {
                "{tag} OK\r\n".into()
            }
        }
        let (port, seen) = scripted(answer).await;
        let mut s = source(port).await;
        s.scan().await.unwrap();
        s.move_processed(&loc()).await.unwrap();
        let (wake, took) = timed_wait(&mut s, Duration::from_secs(30)).await;
        assert_eq!((wake, took < Duration::from_secs(2)), (Wake::Changed, true));
        assert!(!seen.lock().unwrap().iter().any(|c| c == "IDLE"));
    }
}
