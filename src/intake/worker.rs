//! The intake worker: connect, sweep the folder, wait (IDLE or poll), repeat;
//! reconnect with capped exponential backoff, forever, until shutdown.

use super::Incoming;
use super::process::{Disposition, ProcessError, guarded, process_many};
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
    let mut paging = Paging::default();
    while !shutdown.is_cancelled() {
        let mut delay = None;
        match connect_and_watch(app, &mut source, &mut backoff, &shutdown, &mut paging).await {
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
    paging: &mut Paging,
) -> anyhow::Result<()> {
    source.connect().await?;
    let mut storage = Backoff::new(STORAGE_RETRY_INITIAL, STORAGE_RETRY_MAX);
    loop {
        let sweep = match sweep_paged(app, source, shutdown, paging).await {
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
        if sweep.stored > 0 {
            // A burst is over: its buffers go back to the system.
            crate::memory::release();
        }
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
        let wake = wait_or_nudge(source, shutdown, at_most, &app.intake_signal).await?;
        if wake == Wake::Shutdown {
            return Ok(());
        }
    }
}

/// [`MailSource::wait`], ended early by `nudge` (SIGUSR1 after `postbote
/// messages retry`: the message is pending again and must not wait for new
/// mail or the next rescan). The source's stop token is a child of
/// `shutdown`, cancelled on a nudge, so an IMAP source ends its IDLE with
/// DONE either way and keeps its session. A nudge that arrives during a
/// sweep is kept by `Notify` and ends the next wait at once.
async fn wait_or_nudge<S: MailSource>(
    source: &mut S,
    shutdown: &CancellationToken,
    at_most: Duration,
    nudge: &tokio::sync::Notify,
) -> anyhow::Result<Wake> {
    let stop = shutdown.child_token();
    let wait = source.wait(&stop, at_most);
    tokio::pin!(wait);
    let wake = tokio::select! {
        wake = &mut wait => return wake,
        () = nudge.notified() => {
            tracing::debug!("intake woken: sweeping now");
            stop.cancel();
            wait.await?
        }
    };
    Ok(if shutdown.is_cancelled() {
        wake
    } else {
        Wake::Changed
    })
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

/// How the sweep fetches and files: in pages (the default), or one message
/// at a time after a page made a parser or the connection panic, until a
/// sweep succeeds. Kept across sweeps and reconnects by [`run`].
#[derive(Debug, Default, Clone, Copy)]
pub struct Paging {
    pub one_by_one: bool,
}

/// The most messages in one page, whatever their size.
pub const PAGE_MAILS: usize = 200;

/// How many mails are read (parsed, classified, documents analysed) at once:
/// one per core.
fn parallel_reads() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// [`sweep_paged`] in pages, as a fresh worker starts.
pub async fn sweep<S: MailSource>(
    app: &App,
    source: &mut S,
    shutdown: &CancellationToken,
) -> anyhow::Result<Sweep> {
    sweep_paged(app, source, shutdown, &mut Paging::default()).await
}

/// One pass: finish messages stored earlier but not processed (after a crash),
/// then every message in the folder that is not done yet: fetch and store the
/// new ones, process what is unprocessed, move what is handled.
///
/// New mail goes in pages of at most `mailbox.fetch_page_bytes` (by
/// RFC822.SIZE, asked first for all of them) and [`PAGE_MAILS`] mails:
///
/// 1. one `UID FETCH` of the page's UID set;
/// 2. the page's raw mails committed in one transaction: nothing is acted on
///    before its bytes are durable;
/// 3. the page processed, [`parallel_reads`] mails read at once, each
///    committed in its own transaction in UID order, while the next page is
///    fetched and stored;
/// 4. the page's handled mails moved with one `UID MOVE` per target folder,
///    and the moves recorded in one transaction.
///
/// A kill at any point repeats nothing: a stored mail is processed once
/// (its state is in its transaction), a processed one is only filed again.
///
/// A refusal by the server for one message (fetch or move) is recorded on
/// that message with its retry decision, and the sweep goes on with the
/// next; a page the server refuses as a whole is done one by one, so the
/// refusal lands on the message it concerns. So does a message over
/// `mailbox.max_message_bytes`, which is not fetched but recorded and
/// reported to staff once. A panic while fetching or moving one message is
/// recorded on it like a refusal, and the sweep ends (the connection may be
/// in any state); a panic with a page ends the sweep and the next ones go
/// one by one ([`Paging`]) until one succeeds. Only a broken connection or
/// a storage error ends the sweep otherwise. Stops between pages when
/// shutdown is requested.
pub async fn sweep_paged<S: MailSource>(
    app: &App,
    source: &mut S,
    shutdown: &CancellationToken,
    paging: &mut Paging,
) -> anyhow::Result<Sweep> {
    let mut stats = Sweep::default();
    let parallel = parallel_reads();
    let rows = messages::unprocessed(&app.store).await?;
    process_many(app, &rows, parallel).await?;
    let locations = source.scan().await?;
    stats.seen = locations.len();
    let mut todo = Vec::new();
    // One query for the folder's known locations, not one per message.
    let (mut known_here, folder) = match locations.first() {
        Some(f) => (
            messages::known_in_folder(&app.store, f.source, &f.folder, f.validity).await?,
            Some((f.folder.clone(), f.validity)),
        ),
        None => (std::collections::HashMap::new(), None),
    };
    for loc in locations {
        let same_folder = folder
            .as_ref()
            .is_some_and(|(f, v)| *f == loc.folder && *v == loc.validity);
        let known = if same_folder {
            known_here.remove(&loc.uid)
        } else {
            messages::known(&app.store, &loc).await?
        };
        match known {
            Some(k) if k.moved => {}
            Some(k)
                if k.state != MessageState::Received
                    && Disposition::from_db(k.disposition.as_deref()) == Disposition::Keep => {}
            known => todo.push((loc, known)),
        }
    }
    let pending: Vec<_> = todo.iter().map(|(l, _)| l.clone()).collect();
    waiting::record_scan(&app.store, source.kind(), &pending).await?;
    let max_bytes = app.settings.mailbox.max_message_bytes;
    let blocked = waiting::blocked_all(&app.store, source.kind(), Utc::now(), max_bytes).await?;
    let (mut handled, mut stored, mut new) = (Vec::new(), Vec::new(), Vec::new());
    for (loc, known) in todo {
        if blocked.contains(&(loc.folder.clone(), loc.validity, loc.uid.clone())) {
            continue;
        }
        match known {
            Some(k) if k.state == MessageState::Received => stored.push((loc, k.message_row)),
            // Handled before: no need to load the raw message again.
            Some(k) => handled.push((loc, Disposition::from_db(k.disposition.as_deref()))),
            None => new.push(loc),
        }
    }
    // What the store holds already: processed (if need be) and filed.
    let rows: Vec<i64> = stored.iter().map(|(_, r)| *r).collect();
    let dispositions = process_many(app, &rows, parallel).await?;
    handled.extend(stored.into_iter().map(|(l, _)| l).zip(dispositions));
    file(app, source, handled, &mut stats, paging).await?;
    if new.is_empty() || shutdown.is_cancelled() {
        return Ok(stats);
    }
    let mut pages = plan_pages(app, source, new, paging).await?.into_iter();
    let mut in_hand = first_stored(app, source, &mut pages, &mut stats, paging, shutdown).await?;
    while !in_hand.is_empty() {
        let next = if shutdown.is_cancelled() {
            None
        } else {
            pages.next()
        };
        let rows: Vec<i64> = in_hand.iter().map(|(_, r)| *r).collect();
        // The page in hand is processed while the next one is fetched and stored.
        let (processed, fetched) = tokio::join!(process_many(app, &rows, parallel), async {
            match &next {
                Some(page) => fetch_and_store(app, source, page, &mut stats, paging)
                    .await
                    .map(Some),
                None => Ok(None),
            }
        });
        let dispositions = processed?;
        let fetched = fetched?;
        let done = in_hand.into_iter().map(|(l, _)| l).zip(dispositions);
        file(app, source, done.collect(), &mut stats, paging).await?;
        in_hand = match fetched {
            Some(rows) if rows.is_empty() => {
                first_stored(app, source, &mut pages, &mut stats, paging, shutdown).await?
            }
            rows => rows.unwrap_or_default(),
        };
    }
    paging.one_by_one = false;
    Ok(stats)
}

/// Fetches and stores pages until one stored something: a page may store
/// nothing (refused, gone, too large). Empty when the pages ran out or
/// shutdown was asked.
async fn first_stored<S: MailSource>(
    app: &App,
    source: &mut S,
    pages: &mut impl Iterator<Item = Vec<Location>>,
    stats: &mut Sweep,
    paging: &mut Paging,
    shutdown: &CancellationToken,
) -> anyhow::Result<Vec<(Location, i64)>> {
    while !shutdown.is_cancelled() {
        let Some(page) = pages.next() else { break };
        let stored = fetch_and_store(app, source, &page, stats, paging).await?;
        if !stored.is_empty() {
            return Ok(stored);
        }
    }
    Ok(Vec::new())
}

/// Cuts the new messages into pages of bounded bytes, by their sizes asked
/// first. A message over `mailbox.max_message_bytes`, or one whose size the
/// server did not tell, is a page of its own: [`MailSource::fetch`] asks
/// again and reads the envelope only. One larger than a page but within the
/// limit is a page of its own too.
async fn plan_pages<S: MailSource>(
    app: &App,
    source: &mut S,
    new: Vec<Location>,
    paging: &mut Paging,
) -> anyhow::Result<Vec<Vec<Location>>> {
    if paging.one_by_one || !source.batches() {
        return Ok(new.into_iter().map(|l| vec![l]).collect());
    }
    let sizes = match guarded(source.sizes(&new)).await {
        Ok(Ok(sizes)) => sizes,
        // A refusal: one by one, where each message's own refusal is recorded.
        Ok(Err(SourceError::Message(e))) => {
            tracing::warn!(error = %format!("{e:#}"), "the server refused the sizes of a page; fetching one by one");
            return Ok(new.into_iter().map(|l| vec![l]).collect());
        }
        Ok(Err(SourceError::Connection(e))) => return Err(e),
        Err(panic) => {
            paging.one_by_one = true;
            return Err(anyhow!("panic while asking message sizes: {panic}")
                .context("the mailbox connection is reset; the next sweep goes one by one"));
        }
    };
    let max_bytes = app.settings.mailbox.max_message_bytes;
    let page_bytes = app.settings.mailbox.fetch_page_bytes;
    let mut pages: Vec<Vec<Location>> = Vec::new();
    let mut page = Vec::new();
    let mut bytes = 0u64;
    for loc in new {
        let size = match &sizes {
            Some(sizes) => sizes.get(&loc.uid).copied(),
            None => Some(0),
        };
        match size {
            Some(size) if size <= max_bytes => {
                if !page.is_empty() && (bytes + size > page_bytes || page.len() >= PAGE_MAILS) {
                    pages.push(std::mem::take(&mut page));
                    bytes = 0;
                }
                bytes += size;
                page.push(loc);
            }
            _ => pages.push(vec![loc]),
        }
    }
    if !page.is_empty() {
        pages.push(page);
    }
    Ok(pages)
}

/// Fetches one page (one command, or one by one) and stores its mails in one
/// transaction; the stored ones with their rows, in the page's order.
async fn fetch_and_store<S: MailSource>(
    app: &App,
    source: &mut S,
    page: &[Location],
    stats: &mut Sweep,
    paging: &mut Paging,
) -> anyhow::Result<Vec<(Location, i64)>> {
    let max_bytes = app.settings.mailbox.max_message_bytes;
    let together = page.len() > 1 && !paging.one_by_one && source.batches();
    let fetched = if together {
        match guarded(source.fetch_page(page, max_bytes)).await {
            Ok(Ok(fetched)) => Some(fetched),
            Ok(Err(SourceError::Message(e))) => {
                tracing::warn!(
                    mails = page.len(), error = %format!("{e:#}"),
                    "the server refused a page; fetching its mails one by one"
                );
                None
            }
            Ok(Err(SourceError::Connection(e))) => return Err(e),
            Err(panic) => {
                paging.one_by_one = true;
                return Err(anyhow!("panic while fetching a page: {panic}")
                    .context("the mailbox connection is reset; the next sweep goes one by one"));
            }
        }
    } else {
        None
    };
    let mut mails = Vec::with_capacity(page.len());
    match fetched {
        Some(fetched) => {
            for (loc, result) in page.iter().zip(fetched) {
                if let Some(f) = settle_fetch(app, loc, result, stats).await? {
                    mails.push((loc.clone(), f));
                }
            }
        }
        None => {
            for loc in page {
                let result = match guarded(source.fetch(loc, max_bytes)).await {
                    Ok(r) => r,
                    Err(panic) => {
                        let e = anyhow!("panic while fetching: {panic}");
                        message_failed(app, loc, Stage::Fetch, &e, retry_policy(app)).await?;
                        return Err(e.context("the mailbox connection is reset"));
                    }
                };
                if let Some(f) = settle_fetch(app, loc, result, stats).await? {
                    mails.push((loc.clone(), f));
                }
            }
        }
    }
    if mails.is_empty() {
        return Ok(Vec::new());
    }
    let prepared: Vec<(Vec<u8>, messages::Summary)> = mails
        .iter_mut()
        .map(|(_, f)| {
            let (raw, secret_verified) = masked_for_storage(app, std::mem::take(&mut f.raw));
            let summary = messages::Summary {
                secret_verified,
                ..summary_of(&raw)
            };
            (raw, summary)
        })
        .collect();
    let batch: Vec<messages::NewMessage<'_>> = mails
        .iter()
        .zip(&prepared)
        .map(|((loc, f), (raw, summary))| messages::NewMessage {
            loc,
            raw,
            internal_date: f.internal_date,
            summary,
        })
        .collect();
    let outcomes = messages::store_incoming_batch(&app.store, &batch).await?;
    drop(batch);
    stats.stored += outcomes.len();
    if together {
        tracing::info!(mails = outcomes.len(), "page fetched and stored");
    }
    Ok(mails
        .into_iter()
        .map(|(l, _)| l)
        .zip(outcomes.into_iter().map(|o| o.row()))
        .collect())
}

/// What became of one fetch: the mail, or nothing (gone, too large, refused
/// and recorded). A broken connection ends the sweep.
async fn settle_fetch(
    app: &App,
    loc: &Location,
    result: Result<Fetch, SourceError>,
    stats: &mut Sweep,
) -> anyhow::Result<Option<crate::mailbox::Fetched>> {
    match result {
        Ok(Fetch::Mail(f)) => Ok(Some(f)),
        Ok(Fetch::Gone) => Ok(None),
        Ok(Fetch::TooLarge { size, summary }) => {
            stats.too_large += 1;
            too_large(app, loc, size, &summary).await?;
            Ok(None)
        }
        Err(SourceError::Message(e)) => {
            stats.failed += 1;
            message_failed(app, loc, Stage::Fetch, &e, retry_policy(app)).await?;
            Ok(None)
        }
        Err(SourceError::Connection(e)) => Err(e),
    }
}

/// Files handled mails where they belong: one `UID MOVE` per target folder
/// for the lot (one by one when the server refuses the lot, or after a
/// panic), deletions one by one; then the moves and what is done recorded
/// in one transaction. What was filed before a broken connection is
/// recorded too.
async fn file<S: MailSource>(
    app: &App,
    source: &mut S,
    items: Vec<(Location, Disposition)>,
    stats: &mut Sweep,
    paging: &mut Paging,
) -> anyhow::Result<()> {
    let mut done: Vec<(Location, bool)> = Vec::new();
    let result = file_into(app, source, items, stats, paging, &mut done).await;
    if !done.is_empty() {
        let mut tx = app.store.begin().await?;
        for (loc, moved) in &done {
            if *moved {
                messages::mark_moved_in(&mut tx, loc).await?;
            }
            waiting::done_in(&mut tx, loc).await?;
        }
        tx.commit().await.context("cannot record the moves")?;
        stats.moved += done.iter().filter(|(_, moved)| *moved).count();
    }
    result
}

async fn file_into<S: MailSource>(
    app: &App,
    source: &mut S,
    items: Vec<(Location, Disposition)>,
    stats: &mut Sweep,
    paging: &mut Paging,
    done: &mut Vec<(Location, bool)>,
) -> anyhow::Result<()> {
    let (mut to_processed, mut to_sent, mut to_delete) = (Vec::new(), Vec::new(), Vec::new());
    for (loc, d) in items {
        match d {
            Disposition::Pending => {}
            Disposition::Keep => done.push((loc, false)),
            Disposition::Move => to_processed.push(loc),
            Disposition::Sent => to_sent.push(loc),
            Disposition::Delete => to_delete.push(loc),
        }
    }
    for (group, disposition) in [
        (to_processed, Disposition::Move),
        (to_sent, Disposition::Sent),
    ] {
        if group.is_empty() {
            continue;
        }
        if group.len() > 1 && !paging.one_by_one && source.batches() {
            let result = match disposition {
                Disposition::Sent => guarded(source.move_sent_many(&group)).await,
                _ => {
                    guarded(async { source.move_processed_many(&group).await.map(|()| true) }).await
                }
            };
            match result {
                Ok(Ok(moved)) => {
                    done.extend(group.into_iter().map(|l| (l, moved)));
                    continue;
                }
                Ok(Err(SourceError::Message(e))) => tracing::warn!(
                    mails = group.len(), error = %format!("{e:#}"),
                    "the server refused to move a page; moving its mails one by one"
                ),
                Ok(Err(SourceError::Connection(e))) => return Err(e),
                Err(panic) => {
                    paging.one_by_one = true;
                    return Err(anyhow!("panic while moving a page: {panic}").context(
                        "the mailbox connection is reset; the next sweep goes one by one",
                    ));
                }
            }
        }
        for loc in group {
            if let Some(moved) = file_one(app, source, &loc, disposition, stats).await? {
                done.push((loc, moved));
            }
        }
    }
    for loc in to_delete {
        if let Some(moved) = file_one(app, source, &loc, Disposition::Delete, stats).await? {
            done.push((loc, moved));
        }
    }
    Ok(())
}

/// Files one mail: Some(moved) when done (a sent copy with no sent folder
/// stays: false), None when the server refused (recorded on the message).
async fn file_one<S: MailSource>(
    app: &App,
    source: &mut S,
    loc: &Location,
    disposition: Disposition,
    stats: &mut Sweep,
) -> anyhow::Result<Option<bool>> {
    let (step, result) = match disposition {
        Disposition::Sent => ("moving", guarded(source.move_sent(loc)).await),
        Disposition::Delete => (
            "deleting",
            guarded(async { source.delete(loc).await.map(|()| true) }).await,
        ),
        _ => (
            "moving",
            guarded(async { source.move_processed(loc).await.map(|()| true) }).await,
        ),
    };
    match result {
        Ok(Ok(moved)) => Ok(Some(moved)),
        Ok(Err(SourceError::Message(e))) => {
            stats.failed += 1;
            message_failed(app, loc, Stage::Move, &e, retry_policy(app)).await?;
            Ok(None)
        }
        Ok(Err(SourceError::Connection(e))) => Err(e),
        Err(panic) => {
            let e = anyhow!("panic while {step}: {panic}");
            message_failed(app, loc, Stage::Move, &e, retry_policy(app)).await?;
            Err(e.context("the mailbox connection is reset"))
        }
    }
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
    // The header block tells who wrote; only a staff mail is parsed whole here.
    let from_staff = Incoming::parse_headers(&raw)
        .and_then(|m| m.from)
        .is_some_and(|from| staff.addresses.iter().any(|s| s.key() == from.key()));
    if !from_staff {
        return (raw, false);
    }
    let Some(mail) = Incoming::parse(&raw) else {
        return (raw, false);
    };
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

/// The header facts stored beside the raw bytes, from the header block only.
fn summary_of(raw: &[u8]) -> messages::Summary {
    match Incoming::parse_headers(raw) {
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
    use super::{Backoff, wait_or_nudge};
    use crate::mailbox::Wake;
    use crate::mailbox::maildir::MaildirSource;
    use std::time::Duration;
    use tokio::sync::Notify;
    use tokio_util::sync::CancellationToken;

    const LONG: Duration = Duration::from_secs(3600);

    /// A maildir source that would wait an hour for mail, and its folder.
    fn idle_source() -> (tempfile::TempDir, MaildirSource) {
        let dir = tempfile::tempdir().unwrap();
        let source = MaildirSource::new(dir.path(), "Verarbeitet", LONG);
        (dir, source)
    }

    /// [`wait_or_nudge`] for at most 10 s; fails the test if that passes.
    async fn waited(
        source: &mut MaildirSource,
        shutdown: &CancellationToken,
        nudge: &Notify,
        what: &str,
    ) -> Wake {
        tokio::time::timeout(
            Duration::from_secs(10),
            wait_or_nudge(source, shutdown, LONG, nudge),
        )
        .await
        .unwrap_or_else(|_| panic!("{what} did not end the wait"))
        .unwrap()
    }

    #[tokio::test]
    async fn a_nudge_ends_the_wait_for_mail_as_a_change() {
        let (_dir, mut source) = idle_source();
        let (shutdown, nudge) = (CancellationToken::new(), Notify::new());
        // Sent during the sweep before the wait: kept, and ends it at once.
        nudge.notify_one();
        let wake = waited(&mut source, &shutdown, &nudge, "an earlier nudge").await;
        assert_eq!(wake, Wake::Changed);
        assert!(!shutdown.is_cancelled(), "a nudge is not a shutdown");
        // Sent while waiting.
        let nudged = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            nudge.notify_one();
        };
        let (wake, ()) = tokio::join!(
            waited(&mut source, &shutdown, &nudge, "a nudge while waiting"),
            nudged
        );
        assert_eq!(wake, Wake::Changed);
    }

    #[tokio::test]
    async fn shutdown_still_ends_the_wait_as_shutdown() {
        let (_dir, mut source) = idle_source();
        let (shutdown, nudge) = (CancellationToken::new(), Notify::new());
        shutdown.cancel();
        let wake = waited(&mut source, &shutdown, &nudge, "shutdown").await;
        assert_eq!(wake, Wake::Shutdown);
    }

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(3));
        let got: Vec<_> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(got, vec![500, 1000, 2000, 3000, 3000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(500));
    }
}
