//! The intake worker: connect, sweep the folder, wait (IDLE or poll), repeat;
//! reconnect with capped exponential backoff, forever, until shutdown.

use super::Incoming;
use super::process::{Disposition, process};
use crate::mailbox::{MailSource, Wake};
use crate::startup::App;
use crate::store::{health, messages};
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
}

/// How soon a sweep runs again when a message failed processing.
pub const RETRY_PROCESSING: Duration = Duration::from_secs(5);

/// Counts from one sweep.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sweep {
    pub seen: usize,
    pub stored: usize,
    pub moved: usize,
}

/// Runs until `shutdown`; never returns an error, only logs and retries.
pub async fn run<S: MailSource>(
    app: &App,
    mut source: S,
    mut backoff: Backoff,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        match connect_and_watch(app, &mut source, &mut backoff, &shutdown).await {
            Ok(()) => return,
            Err(e) => {
                let error = format!("{e:#}");
                tracing::warn!(source = source.kind(), %error, "mailbox connection lost; reconnecting");
                if let Err(e) = health::set(&app.store, health::MAILBOX_ERROR, &error).await {
                    tracing::error!(error = %e, "cannot record mailbox error");
                }
            }
        }
        let delay = backoff.next_delay();
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
        if sweep.stored > 0 {
            tracing::info!(
                seen = sweep.seen,
                stored = sweep.stored,
                moved = sweep.moved,
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
        if source.wait(shutdown).await? == Wake::Shutdown {
            return Ok(());
        }
    }
}

/// One pass: finish messages stored earlier but not processed (after a crash),
/// then every message in the folder that is not known yet, then pending moves.
/// Stops between messages when shutdown is requested.
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
    for loc in locations {
        if shutdown.is_cancelled() {
            break;
        }
        let disposition = match messages::known(&app.store, &loc).await? {
            Some(k) if k.moved => continue,
            Some(k) if k.state == "received" => process(app, k.message_row).await?,
            // Known and handled: no need to load the raw message again.
            Some(k) => Disposition::from_db(k.disposition.as_deref()),
            None => {
                let Some(fetched) = source.fetch(&loc).await? else {
                    continue;
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
        if disposition == Disposition::Move {
            source.move_processed(&loc).await?;
            messages::mark_moved(&app.store, &loc).await?;
            stats.moved += 1;
        }
    }
    Ok(stats)
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
