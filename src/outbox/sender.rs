//! The sender actor: sends due outbox rows, retries transient failures with
//! capped backoff, records permanent ones, never drops a mail. Woken by the
//! intake (a Notify) or by the time the next retry falls due.

use super::transport::{DeliveryError, Transport};
use crate::config::settings::ImapSettings;
use crate::store::Store;
use crate::store::outbox::{self, Due};
use chrono::Utc;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Where a copy of each sent mail goes, if anywhere.
#[derive(Clone)]
pub struct SentCopy {
    pub imap: ImapSettings,
    pub folder: String,
}

#[derive(Clone)]
pub struct Sender {
    store: Store,
    transport: Transport,
    signal: Arc<Notify>,
    retry_initial: Duration,
    retry_max: Duration,
    concurrency: usize,
    sent_copy: Option<SentCopy>,
}

/// The longest the actor sleeps without looking at the queue.
/// Short, so mail queued by the CLI (another process) leaves within seconds.
const MAX_IDLE: Duration = Duration::from_secs(5);

impl Sender {
    pub fn new(
        store: Store,
        transport: Transport,
        signal: Arc<Notify>,
        retry: (Duration, Duration),
        concurrency: usize,
        sent_copy: Option<SentCopy>,
    ) -> Sender {
        Sender {
            store,
            transport,
            signal,
            retry_initial: retry.0,
            retry_max: retry.1,
            concurrency: concurrency.max(1),
            sent_copy,
        }
    }

    /// Sends everything due now; returns how many mails were attempted.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        self.send_due(&CancellationToken::new()).await
    }

    /// Sends what is due until nothing is or `stop` is cancelled. After
    /// `stop` no new SMTP transaction starts; those in flight finish and are
    /// recorded.
    async fn send_due(&self, stop: &CancellationToken) -> anyhow::Result<usize> {
        let mut attempted = 0;
        while !stop.is_cancelled() {
            let batch = outbox::due(&self.store, 100).await?;
            if batch.is_empty() {
                break;
            }
            let results: Vec<anyhow::Result<()>> = futures::stream::iter(batch)
                .take_while(|_| std::future::ready(!stop.is_cancelled()))
                .map(|mail| self.deliver(mail))
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
            attempted += results.len();
            for r in results {
                r?;
            }
        }
        Ok(attempted)
    }

    /// Loops until `shutdown`, sending what falls due; at shutdown it starts
    /// nothing new and returns once the mail in flight is recorded.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.send_due(&shutdown).await {
                tracing::error!(error = %format!("{e:#}"), "outbox pass failed");
            }
            if shutdown.is_cancelled() {
                return;
            }
            let wait = match outbox::next_due_at(&self.store).await {
                Ok(Some(t)) => (t - Utc::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(MAX_IDLE),
                _ => MAX_IDLE,
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.signal.notified() => {}
                _ = tokio::time::sleep(wait.max(Duration::from_millis(50))) => {}
            }
        }
    }

    async fn deliver(&self, mail: Due) -> anyhow::Result<()> {
        let span = tracing::info_span!("send", id = mail.id, message_id = %mail.message_id, purpose = %mail.purpose);
        async {
            match self.transport.send(&mail.message_id, &mail.env_from, &mail.env_to, &mail.raw).await {
                Ok(()) => {
                    outbox::mark_sent(&self.store, mail.id).await?;
                    tracing::info!(to = %mail.env_to, "mail sent");
                    self.copy_to_sent(&mail).await;
                }
                Err(DeliveryError::Permanent(e)) => {
                    outbox::mark_failed(&self.store, mail.id, &e).await?;
                    tracing::error!(to = %mail.env_to, error = %e, "permanent delivery failure recorded");
                }
                Err(DeliveryError::Transient(e)) => {
                    let delay = self.retry_delay(mail.attempts);
                    let next = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
                    outbox::mark_retry(&self.store, mail.id, &e, next).await?;
                    tracing::warn!(to = %mail.env_to, error = %e, retry_in_s = delay.as_secs(), "transient delivery failure; will retry");
                }
            }
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// initial × 2^attempts, capped.
    pub fn retry_delay(&self, attempts: i64) -> Duration {
        let factor = 2u32.saturating_pow(attempts.clamp(0, 20) as u32);
        self.retry_initial
            .saturating_mul(factor)
            .min(self.retry_max)
    }

    async fn copy_to_sent(&self, mail: &Due) {
        let Some(copy) = &self.sent_copy else {
            return;
        };
        match crate::mailbox::imap::append_copy(&copy.imap, &copy.folder, &mail.raw).await {
            Ok(()) => {
                if let Err(e) = outbox::mark_copied(&self.store, mail.id).await {
                    tracing::warn!(error = %e, "cannot record sent copy");
                }
            }
            // NOTE: a failed copy must never cause a second send.
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot append copy to the sent folder")
            }
        }
    }
}
