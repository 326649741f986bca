//! Where incoming mail is read: an IMAP folder (IDLE, polling fallback) or a
//! Maildir. Both implement [`MailSource`]; the intake worker drives either.

pub mod folders;
pub mod imap;
pub mod maildir;
pub mod tls;

use crate::store::messages::Location;
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

/// A message read from the source. `internal_date` is the server's arrival
/// time (IMAP INTERNALDATE, Maildir file time), never the sender's Date header.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub raw: Vec<u8>,
    pub internal_date: DateTime<Utc>,
}

/// What a fetch found.
#[derive(Debug, Clone)]
pub enum Fetch {
    /// The whole message.
    Mail(Fetched),
    /// Not fetched: its size (RFC822.SIZE, asked first) is over the limit.
    /// `summary` is what its header says (from the IMAP ENVELOPE), for staff.
    TooLarge { size: u64, summary: HeaderSummary },
    /// The message vanished meanwhile.
    Gone,
}

/// Sender, subject and date of a message that was not fetched, decoded and
/// sanitised for a staff notice; each may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderSummary {
    pub from: Option<String>,
    pub subject: Option<String>,
    pub date: Option<String>,
}

impl HeaderSummary {
    /// Reads a header block (`From:`, `Subject:`, `Date:` lines; RFC 2047
    /// encoded words are decoded). Anything after the first empty line is
    /// ignored.
    pub fn from_header_block(head: &[u8]) -> HeaderSummary {
        use crate::domain::HeaderText;
        let end = head
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 4)
            .or_else(|| head.windows(2).position(|w| w == b"\n\n").map(|p| p + 2))
            .unwrap_or(head.len());
        let mut block = head[..end].to_vec();
        block.extend_from_slice(b"\r\n\r\n");
        // NOTE: mail-parser has debug assertions that odd input can reach.
        let parsed = std::panic::catch_unwind(|| {
            let msg = mail_parser::MessageParser::default().parse_headers(&block)?;
            let from = msg
                .from()
                .and_then(|a| a.first())
                .map(|a| match (a.name(), a.address()) {
                    (Some(n), Some(addr)) => format!("{n} <{addr}>"),
                    (None, Some(addr)) => addr.to_string(),
                    (Some(n), None) => n.to_string(),
                    (None, None) => String::new(),
                });
            Some((
                from,
                msg.subject().map(str::to_string),
                msg.date().map(|d| d.to_rfc822()),
            ))
        })
        .ok()
        .flatten();
        let clean = |s: Option<String>| {
            s.map(|s| HeaderText::sanitize(&s, 200).to_string())
                .filter(|s| !s.is_empty())
        };
        match parsed {
            Some((from, subject, date)) => HeaderSummary {
                from: clean(from),
                subject: clean(subject),
                date: clean(date),
            },
            None => HeaderSummary::default(),
        }
    }
}

/// Why a wait for new mail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The server reported a change (or the poll interval passed).
    Changed,
    /// Shutdown was requested.
    Shutdown,
}

/// A failure of one operation on one message, with the retry decision.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The connection is unusable (I/O, timeout, closed): reconnect and sweep
    /// again; nothing is recorded against the message.
    #[error("{0:#}")]
    Connection(anyhow::Error),
    /// The server refused this operation on this message (`NO`/`BAD`): the
    /// failure is recorded on the message, retried later, and after a few
    /// attempts left for a human. The sweep goes on with the next message.
    #[error("{0:#}")]
    Message(anyhow::Error),
}

/// The source cannot work as configured (a folder that cannot be created or
/// opened): a human must change the server or the config. Stops the start;
/// at a reconnect it is recorded and retried at the longest backoff.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(pub String);

/// The operations intake needs from a mailbox.
#[allow(async_fn_in_trait)]
pub trait MailSource {
    /// A short name for logs ("imap", "maildir").
    fn kind(&self) -> &'static str;
    /// (Re)connects; a no-op where there is nothing to connect.
    async fn connect(&mut self) -> anyhow::Result<()>;
    /// Every message now in the watched folder.
    async fn scan(&mut self) -> anyhow::Result<Vec<Location>>;
    /// One message, unless it is larger than `max_bytes` (its size is asked
    /// before its bytes are read) or vanished meanwhile.
    async fn fetch(&mut self, loc: &Location, max_bytes: u64) -> Result<Fetch, SourceError>;
    /// Moves a handled message to the processed folder.
    async fn move_processed(&mut self, loc: &Location) -> Result<(), SourceError>;
    /// Deletes a handled message from the mailbox (a command mail that
    /// carried the secret): IMAP `\Deleted` + `UID EXPUNGE`.
    async fn delete(&mut self, loc: &Location) -> Result<(), SourceError>;
    /// Files postbote's own copy of a sent mail into the sent folder
    /// (`imap.sent_folder`); false when there is none and the copy stays.
    async fn move_sent(&mut self, loc: &Location) -> Result<bool, SourceError> {
        let _ = loc;
        Ok(false)
    }
    /// Whether [`MailSource::fetch_page`] and the `move_*_many` methods do
    /// many messages in one command. Sources that go one by one anyway keep
    /// the default, and the intake uses their single-message operations.
    fn batches(&self) -> bool {
        false
    }
    /// RFC822.SIZE of every message of `locs` still there, asked in few
    /// commands, so that the intake can cut its fetches into pages of
    /// bounded bytes. None: the source does not know sizes up front (the
    /// intake pages by count, and [`MailSource::fetch`] checks each size).
    async fn sizes(
        &mut self,
        locs: &[Location],
    ) -> Result<Option<std::collections::HashMap<String, u64>>, SourceError> {
        let _ = locs;
        Ok(None)
    }
    /// A page of messages, each under `max_bytes` by [`MailSource::sizes`],
    /// fetched in one go where the source can (one `UID FETCH` of a UID
    /// set); one result per location, in order. `Fetch::Gone` for one that
    /// vanished. A refusal of the whole page is returned as
    /// `SourceError::Message` (the caller then goes one by one), a broken
    /// connection as `SourceError::Connection`.
    async fn fetch_page(
        &mut self,
        locs: &[Location],
        max_bytes: u64,
    ) -> Result<Vec<Result<Fetch, SourceError>>, SourceError> {
        let mut out = Vec::with_capacity(locs.len());
        for loc in locs {
            match self.fetch(loc, max_bytes).await {
                Err(SourceError::Connection(e)) => return Err(SourceError::Connection(e)),
                other => out.push(other),
            }
        }
        Ok(out)
    }
    /// Moves many handled messages to the processed folder, in one command
    /// where the source can (`UID MOVE` of a UID set). On a refusal the
    /// caller goes one by one with [`MailSource::move_processed`].
    async fn move_processed_many(&mut self, locs: &[Location]) -> Result<(), SourceError> {
        for loc in locs {
            self.move_processed(loc).await?;
        }
        Ok(())
    }
    /// [`MailSource::move_sent`] for many; false when there is no sent folder.
    async fn move_sent_many(&mut self, locs: &[Location]) -> Result<bool, SourceError> {
        let mut moved = false;
        for loc in locs {
            moved = self.move_sent(loc).await?;
        }
        Ok(moved)
    }
    /// Waits until the folder may have changed, `at_most` passed, or shutdown.
    async fn wait(
        &mut self,
        shutdown: &CancellationToken,
        at_most: std::time::Duration,
    ) -> anyhow::Result<Wake>;
}
