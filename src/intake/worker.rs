//! The intake worker: connect, sweep the folder, wait (IDLE or poll), repeat;
//! reconnect with capped exponential backoff, forever, until shutdown.

use super::Incoming;
use super::process::{Disposition, ProcessError, guarded, process};
use crate::context::App;
use crate::mailbox::{Fetch, MailSource, SetupError, SourceError, Wake};
use crate::store::messages::{Location, MessageState};
use crate::store::waiting::{self, RetryPolicy, Stage};
use crate::store::{health, messages, transient};
use crate::workflow::notices;
use anyhow::{Context, anyhow};
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

/// After a transient storage error (busy, locked, I/O) the sweep is tried
/// again after this long, doubling up to [`STORAGE_RETRY_MAX`]; nothing is
/// counted against a message.
pub const STORAGE_RETRY_INITIAL: Duration = Duration::from_secs(1);
pub const STORAGE_RETRY_MAX: Duration = Duration::from_secs(60);

/// Counts from one sweep.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sweep {
    pub seen: usize,
    pub stored: usize,
    pub moved: usize,
    /// Fetches and moves the server refused (recorded on the message).
    pub failed: usize,
    /// Messages over `mailbox.max_message_bytes` found in this sweep (not fetched).
    pub too_large: usize,
}

/// Whether a sweep's error is the store's passing trouble (busy, locked,
/// I/O): retry with backoff, count nothing, keep the connection.
pub fn is_storage_trouble(e: &anyhow::Error) -> bool {
    match e.downcast_ref::<ProcessError>() {
        Some(p) => p.is_transient(),
        None => transient::is_transient(e),
    }
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
            // The store's passing trouble outside a sweep: not the mailbox's.
            Err(e) if is_storage_trouble(&e) => {
                let error = format!("{e:#}");
                tracing::warn!(%error, "storage unavailable; retrying");
            }
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
    let mut storage = Backoff::new(STORAGE_RETRY_INITIAL, STORAGE_RETRY_MAX);
    loop {
        let sweep = match sweep(app, source, shutdown).await {
            Ok(s) => s,
            // NOTE: a busy or failing store is not the mailbox's fault and
            // not the message's: keep the connection, count nothing, and
            // sweep again after a while.
            Err(e) if is_storage_trouble(&e) => {
                let delay = storage.next_delay();
                tracing::warn!(
                    error = %format!("{e:#}"), retry_in_ms = delay.as_millis() as u64,
                    "storage unavailable; the sweep is retried, nothing is counted against a message"
                );
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(delay) => continue,
                }
            }
            Err(e) => return Err(e),
        };
        storage.reset();
        backoff.reset();
        health::mailbox_ok(&app.store).await?;
        if sweep.stored > 0 || sweep.failed > 0 || sweep.too_large > 0 {
            tracing::info!(
                seen = sweep.seen,
                stored = sweep.stored,
                moved = sweep.moved,
                failed = sweep.failed,
                too_large = sweep.too_large,
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
        // NOTE: IDLE is a hint, not a promise: a server that never sends the
        // notification (a missed watch, a proxy that drops it) must not leave
        // mail waiting for the next renewal. Every look is a mailbox check,
        // so `mailbox.rescan_secs` also bounds how old the last check gets on
        // a quiet mailbox (check-config keeps the health limits above it).
        let rescan = Duration::from_secs(app.settings.mailbox.rescan_secs);
        let mut at_most = match waiting::next_retry(&app.store).await? {
            Some(t) => (t - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .max(Duration::from_secs(1))
                .min(rescan),
            None => rescan,
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
/// next; so does a message over `mailbox.max_message_bytes`, which is not
/// fetched but recorded and reported to staff once. A panic while fetching
/// or moving one message is recorded on it like a refusal, and the sweep
/// ends (the connection may be in any state). Only a broken connection or a
/// storage error ends the sweep otherwise. Stops between messages when
/// shutdown is requested.
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
    let max_bytes = app.settings.mailbox.max_message_bytes;
    for (loc, known) in todo {
        if shutdown.is_cancelled() {
            break;
        }
        if waiting::blocked(&app.store, &loc, Utc::now(), max_bytes).await? {
            continue;
        }
        let disposition = match known {
            Some(k) if k.state == MessageState::Received => process(app, k.message_row).await?,
            // Handled before: no need to load the raw message again.
            Some(k) => Disposition::from_db(k.disposition.as_deref()),
            None => {
                let fetched = match guarded(source.fetch(&loc, max_bytes)).await {
                    Ok(Ok(Fetch::Mail(f))) => f,
                    Ok(Ok(Fetch::Gone)) => continue,
                    Ok(Ok(Fetch::TooLarge { size, summary })) => {
                        stats.too_large += 1;
                        too_large(app, &loc, size, &summary).await?;
                        continue;
                    }
                    Ok(Err(SourceError::Message(e))) => {
                        stats.failed += 1;
                        message_failed(app, &loc, Stage::Fetch, &e, policy).await?;
                        continue;
                    }
                    Ok(Err(SourceError::Connection(e))) => return Err(e),
                    Err(panic) => {
                        let e = anyhow!("panic while fetching: {panic}");
                        message_failed(app, &loc, Stage::Fetch, &e, policy).await?;
                        return Err(e.context("the mailbox connection is reset"));
                    }
                };
                let (raw, secret_verified) = masked_for_storage(app, fetched.raw);
                let summary = messages::Summary {
                    secret_verified,
                    ..summary_of(&raw)
                };
                let outcome = messages::store_incoming(
                    &app.store,
                    &loc,
                    &raw,
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
            Disposition::Sent | Disposition::Delete | Disposition::Move => {
                // Moved (or deleted) where it belongs; a sent copy already in
                // the sent folder is not moved again (`false`).
                let (step, result) = match disposition {
                    Disposition::Sent => ("moving", guarded(source.move_sent(&loc)).await),
                    Disposition::Delete => (
                        "deleting",
                        guarded(async { source.delete(&loc).await.map(|()| true) }).await,
                    ),
                    _ => (
                        "moving",
                        guarded(async { source.move_processed(&loc).await.map(|()| true) }).await,
                    ),
                };
                match result {
                    Ok(Ok(moved)) => {
                        if moved {
                            messages::mark_moved(&app.store, &loc).await?;
                            stats.moved += 1;
                        }
                        waiting::done(&app.store, &loc).await?;
                    }
                    Ok(Err(SourceError::Message(e))) => {
                        stats.failed += 1;
                        message_failed(app, &loc, Stage::Move, &e, policy).await?;
                    }
                    Ok(Err(SourceError::Connection(e))) => return Err(e),
                    Err(panic) => {
                        let e = anyhow!("panic while {step}: {panic}");
                        message_failed(app, &loc, Stage::Move, &e, policy).await?;
                        return Err(e.context("the mailbox connection is reset"));
                    }
                }
            }
        }
    }
    Ok(stats)
}

/// Records a message over the size limit; staff get one notice the first
/// time it is seen.
async fn too_large(
    app: &App,
    loc: &Location,
    size: u64,
    summary: &crate::mailbox::HeaderSummary,
) -> anyhow::Result<()> {
    let max = app.settings.mailbox.max_message_bytes;
    // One transaction: recorded and told, or neither.
    let mut tx = app.store.begin().await?;
    if !waiting::too_large(&mut tx, loc, size).await? {
        return Ok(());
    }
    tracing::warn!(
        folder = %loc.folder, uid = %loc.uid, size, max,
        "message over mailbox.max_message_bytes: not fetched, left in the folder for staff"
    );
    notices::mailbox_message_too_large(&app.desk(), &mut tx, loc, size, max, summary).await?;
    tx.commit()
        .await
        .context("cannot queue the oversized-message notice")?;
    app.outbox_signal.notify_one();
    Ok(())
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

/// A staff mail with its command secret masked ([`super::mask`]): the
/// secret is never stored. Whether the mail carried the right secret is
/// decided first and returned (then stored beside the masked bytes). Other
/// mail is stored as it came.
fn masked_for_storage(app: &App, raw: Vec<u8>) -> (Vec<u8>, bool) {
    let staff = &app.settings.staff;
    let Some(mail) = Incoming::parse(&raw) else {
        return (raw, false);
    };
    let from_staff = mail
        .from
        .as_ref()
        .is_some_and(|from| staff.addresses.iter().any(|s| s.key() == from.key()));
    if !from_staff {
        return (raw, false);
    }
    let verified = crate::workflow::commands::secret_matches(
        staff.command_secret.as_ref(),
        crate::workflow::commands::parse(&mail.body_start)
            .secret
            .as_deref(),
    );
    match super::mask::mask_secret(&raw, staff.command_secret.as_ref()) {
        Some(masked) => {
            tracing::info!("staff mail: command secret masked before it is stored");
            (masked, verified)
        }
        None => (raw, verified),
    }
}

fn summary_of(raw: &[u8]) -> messages::Summary {
    match Incoming::parse(raw) {
        Some(m) => messages::Summary {
            message_id: m.message_id,
            from_address: m.from_raw,
            subject: Some(m.subject),
            secret_verified: false,
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
