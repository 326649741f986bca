//! Where incoming mail is read: an IMAP folder (IDLE, polling fallback) or a
//! Maildir. Both implement [`MailSource`]; the intake worker drives either.

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

/// Why a wait for new mail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The server reported a change (or the poll interval passed).
    Changed,
    /// Shutdown was requested.
    Shutdown,
}

/// The operations intake needs from a mailbox.
#[allow(async_fn_in_trait)]
pub trait MailSource {
    /// A short name for logs ("imap", "maildir").
    fn kind(&self) -> &'static str;
    /// (Re)connects; a no-op where there is nothing to connect.
    async fn connect(&mut self) -> anyhow::Result<()>;
    /// Every message now in the watched folder.
    async fn scan(&mut self) -> anyhow::Result<Vec<Location>>;
    /// One message, or None when it vanished meanwhile.
    async fn fetch(&mut self, loc: &Location) -> anyhow::Result<Option<Fetched>>;
    /// Moves a handled message to the processed folder.
    async fn move_processed(&mut self, loc: &Location) -> anyhow::Result<()>;
    /// Waits until the folder may have changed, or shutdown.
    async fn wait(&mut self, shutdown: &CancellationToken) -> anyhow::Result<Wake>;
}
