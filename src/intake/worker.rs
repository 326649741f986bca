//! The intake worker: connect, sweep the folder, wait (IDLE or poll), repeat;
//! reconnect with capped exponential backoff, forever, until shutdown.

use super::Incoming;
use super::process::{Disposition, process};
use crate::context::App;
use crate::mailbox::{MailSource, SetupError, SourceError, Wake};
use crate::store::messages::{Location, MessageState};
use crate::store::waiting::{self, RetryPolicy, Stage};
use crate::store::{health, messages};
use crate::workflow::notices;
use anyhow::Context;
use chrono::Utc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Capped exponential backoff.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            current: initial,
        }
    }
    /// The next delay; doubles up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.current;
        self.current = (self.current * 2).min(self.max);
        d
    }
    pub fn reset(&mut self) {
        self.current = self.initial;
    }
    /// The cap.
    pub fn max(&self) -> Duration {
        self.max
    }
}

/// How soon a sweep runs again when a message failed processing.
pub const RETRY_PROCESSING: Duration = Duration::from_secs(5);

/// After a sweep that stored or moved mail, the next look comes this soon.
pub const SETTLE_RESCAN: Duration = Duration::from_secs(2);

/// The longest time between two looks at the folder, IDLE or not.
///
/// NOTE: IDLE is a hint, not a promise: a server that never sends the
/// notification (a missed watch, a proxy that drops it) must not leave mail
/// waiting for the next renewal. Well inside `health.unprocessed_after_secs`.
pub const SAFETY_RESCAN: Duration = Duration::from_secs(300);

/// Counts from one sweep.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sweep {
    pub seen: usize,
    pub stored: usize,
    pub moved: usize,
    /// Fetches and moves the server refused (recorded on the message).
    pub failed: usize,
}

/// Runs until `shutdown`; never returns an error, only logs and retries.
/// A [`SetupError`] (a folder that cannot be created or opened) is retried
/// at the longest backoff: it needs a human, and `status` says so at once.
pub async fn run<S: MailSource>(
    app: &App,
    mut source: S,
    mut backoff: Backoff,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        let mut delay = None;
        match connect_and_watch(app, &mut source, &mut backoff, &shutdown).await {
            Ok(()) => return,
            Err(e) => {
                let error = format!("{e:#}");
                let setup = e.downcast_ref::<SetupError>().is_some();
                if setup {
                    tracing::error!(source = source.kind(), %error, "mailbox cannot work as configured; retrying");
                    delay = Some(backoff.max());
                } else {
                    tracing::warn!(source = source.kind(), %error, "mailbox connection lost; reconnecting");
                }
                if let Err(e) = health::mailbox_failed(&app.store, &error, setup).await {
                    tracing::error!(error = %e, "cannot record mailbox error");
                }
            }
        }
        let delay = delay.unwrap_or_else(|| backoff.next_delay());
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

async fn connect_and_watch<S: MailSource>(
    app: &App,
    source: &mut S,
    backoff: &mut Backoff,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    source.connect().await?;
    loop {
        let sweep = sweep(app, source, shutdown).await?;
        backoff.reset();
        health::mailbox_ok(&app.store).await?;
        if sweep.stored > 0 || sweep.failed > 0 {
            tracing::info!(
                seen = sweep.seen,
                stored = sweep.stored,
                moved = sweep.moved,
                failed = sweep.failed,
                "mailbox swept"
            );
        }
        if shutdown.is_cancelled() {
            return Ok(());
        }
        // A message whose processing failed (and will be retried) must not
        // wait for the next mail: sweep again soon.
        if !messages::unprocessed(&app.store).await?.is_empty() {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(RETRY_PROCESSING) => continue,
            }
        }
        // A refused fetch or move is due again: wake for it, or for new mail.
        let mut at_most = match waiting::next_retry(&app.store).await? {
            Some(t) => (t - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .max(Duration::from_secs(1)),
            None => SAFETY_RESCAN,
        };
        // NOTE: Dovecot can miss telling an IDLE client about mail delivered
        // while the client's last command ran (seen with Maildir++ and two
        // deliveries within a second). Mail comes in bursts: after a sweep
        // that did something, look once more soon instead of trusting IDLE.
        if sweep.stored > 0 || sweep.moved > 0 {
            at_most = at_most.min(SETTLE_RESCAN);
        }
        let wake = source.wait(shutdown, at_most).await?;
        if wake == Wake::Shutdown {
            return Ok(());
        }
    }
}

/// The retry policy of single-message failures, from the settings.
pub fn retry_policy(app: &App) -> RetryPolicy {
    let m = &app.settings.mailbox;
    let secs = |s: u64| chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 2_000));
    RetryPolicy {
        initial: secs(m.retry_initial_secs),
        max: secs(m.retry_max_secs),
        max_attempts: i64::from(m.max_attempts),
    }
}

/// One pass: finish messages stored earlier but not processed (after a crash),
/// then every message in the folder that is not done yet: fetch and store the
/// new ones, process what is unprocessed, move what is handled.
///
/// A refusal by the server for one message (fetch or move) is recorded on
/// that message with its retry decision, and the sweep goes on with the
/// next. Only a broken connection or a storage error ends the sweep. Stops
/// between messages when shutdown is requested.
pub async fn sweep<S: MailSource>(
    app: &App,
    source: &mut S,
    shutdown: &CancellationToken,
) -> anyhow::Result<Sweep> {
    let mut stats = Sweep::default();
    for row in messages::unprocessed(&app.store).await? {
        process(app, row).await?;
    }
    let locations = source.scan().await?;
    stats.seen = locations.len();
    let mut todo = Vec::new();
    for loc in locations {
        match messages::known(&app.store, &loc).await? {
            Some(k) if k.moved => {}
            Some(k)
                if k.state != MessageState::Received
                    && Disposition::from_db(k.disposition.as_deref()) == Disposition::Keep => {}
            known => todo.push((loc, known)),
        }
    }
    let pending: Vec<_> = todo.iter().map(|(l, _)| l.clone()).collect();
    waiting::record_scan(&app.store, source.kind(), &pending).await?;
    let policy = retry_policy(app);
    for (loc, known) in todo {
        if shutdown.is_cancelled() {
            break;
        }
        if waiting::blocked(&app.store, &loc, Utc::now()).await? {
            continue;
        }
        let disposition = match known {
            Some(k) if k.state == MessageState::Received => process(app, k.message_row).await?,
            // Handled before: no need to load the raw message again.
            Some(k) => Disposition::from_db(k.disposition.as_deref()),
            None => {
                let fetched = match source.fetch(&loc).await {
                    Ok(Some(f)) => f,
                    Ok(None) => continue,
                    Err(SourceError::Message(e)) => {
                        stats.failed += 1;
                        message_failed(app, &loc, Stage::Fetch, &e, policy).await?;
                        continue;
                    }
                    Err(SourceError::Connection(e)) => return Err(e),
                };
                let summary = summary_of(&fetched.raw);
                let outcome = messages::store_incoming(
                    &app.store,
                    &loc,
                    &fetched.raw,
                    fetched.internal_date,
                    &summary,
                )
                .await?;
                stats.stored += 1;
                process(app, outcome.row()).await?
            }
        };
        match disposition {
            Disposition::Pending => {}
            Disposition::Keep => waiting::done(&app.store, &loc).await?,
            Disposition::Sent => match source.move_sent(&loc).await {
                Ok(moved) => {
                    if moved {
                        messages::mark_moved(&app.store, &loc).await?;
                        stats.moved += 1;
                    }
                    waiting::done(&app.store, &loc).await?;
                }
                Err(SourceError::Message(e)) => {
                    stats.failed += 1;
                    message_failed(app, &loc, Stage::Move, &e, policy).await?;
                }
                Err(SourceError::Connection(e)) => return Err(e),
            },
            Disposition::Move => match source.move_processed(&loc).await {
                Ok(()) => {
                    messages::mark_moved(&app.store, &loc).await?;
                    waiting::done(&app.store, &loc).await?;
                    stats.moved += 1;
                }
                Err(SourceError::Message(e)) => {
                    stats.failed += 1;
                    message_failed(app, &loc, Stage::Move, &e, policy).await?;
                }
                Err(SourceError::Connection(e)) => return Err(e),
            },
        }
    }
    Ok(stats)
}

/// Records a refused fetch or move; when it is left for a human from now on,
/// staff get one notice.
async fn message_failed(
    app: &App,
    loc: &Location,
    stage: Stage,
    error: &anyhow::Error,
    policy: RetryPolicy,
) -> anyhow::Result<()> {
    let error = format!("{error:#}");
    let f = waiting::failed(&app.store, loc, stage, &error, policy).await?;
    tracing::warn!(
        folder = %loc.folder, uid = %loc.uid, stage = stage.as_str(), attempts = f.attempts,
        permanent = f.permanent, %error, "mailbox refused an operation on one message"
    );
    if f.permanent && f.attempts == policy.max_attempts {
        let mut tx = app.store.begin().await?;
        notices::mailbox_message_left(&app.desk(), &mut tx, loc, stage, &error, f.attempts).await?;
        tx.commit()
            .await
            .context("cannot queue the mailbox failure notice")?;
        app.outbox_signal.notify_one();
    }
    Ok(())
}

fn summary_of(raw: &[u8]) -> messages::Summary {
    match Incoming::parse(raw) {
        Some(m) => messages::Summary {
            message_id: m.message_id,
            from_address: m.from_raw,
            subject: Some(m.subject),
        },
        None => messages::Summary::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::Backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(3));
        let got: Vec<_> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(got, vec![500, 1000, 2000, 3000, 3000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(500));
    }
}
