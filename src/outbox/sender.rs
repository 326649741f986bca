//! The sender actor: sends due outbox rows, each at most once.
//!
//! - A row is claimed (`sending`, this run's owner id) before its SMTP
//!   transaction, and its outcome recorded after it. Due rows are claimed a
//!   batch at a time in one transaction ([`outbox::claim_due`]), sent over
//!   up to `concurrency` SMTP connections at once, and their outcomes
//!   recorded in groups, one transaction each ([`outbox::record_many`]): a
//!   backlog costs a few commits per batch, not two per mail. A row claimed
//!   with its batch but not sent (sending halted or stopped first) goes back
//!   to the queue unchanged. A row left `sending` by
//!   another run (a crash, SIGKILL, an answer that never came) may have been
//!   accepted: it is sent again only when its copy (the extra envelope
//!   recipient, see `transport`) is neither stored nor in the project
//!   mailbox `recovery_wait` after the claim. So a crash, or a kill, before
//!   an outcome's group is committed leaves that row an orphan like any
//!   interrupted send: settled by its copy, never sent twice, never lost;
//!   the batches only make the rows so left more (at most a claimed batch
//!   or two, and [`UNRECORDED_MAX`] outcomes not yet recorded). Without a
//!   copy recipient (`smtp.copy_sent = false`) such a row is sent again.
//! - An outcome that cannot be recorded (disk full, read-only database)
//!   leaves the row `sending`, never due again; the sender sends nothing
//!   more, with backoff, until the store takes the outcome.
//! - A refusal of postbote itself (authentication, relaying, TLS) pauses all
//!   sending and keeps the mail queued; one mail probes again with backoff.
//! - Transient failures are retried with capped backoff; permanent ones are
//!   recorded; mail whose time has come (`expires_at`) is marked `expired`.
//!
//! Woken only by `outbox_signal` (the intake, the scheduler, a SIGUSR1 from
//! the CLI), the time the next mail falls due, the end of a pause or of the
//! store's backoff, the next look for an interrupted send's copy, and
//! [`MAX_IDLE`]: an idle daemon does not poll the queue.

use super::transport::{DeliveryError, Transport};
use crate::calendar::clock::Clock;
use crate::config::settings::ImapSettings;
use crate::mailbox::imap::SentAppender;
use crate::store::outbox::{self, Due, Orphan, Outcome};
use crate::store::{Store, health, messages, parse_ts};
use chrono::Utc;
use futures::StreamExt;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Where a copy of each sent mail is appended over IMAP, if anywhere: only
/// when mail carries no copy recipient (`smtp.copy_sent = false`).
#[derive(Clone)]
pub struct SentCopy {
    pub imap: ImapSettings,
    pub folder: String,
}

/// How an interrupted send is checked before it is sent again.
#[derive(Clone, Default)]
pub struct Recovery {
    /// The IMAP login and the logical folders a copy may be in (the watched
    /// folder, INBOX, the sent folder): searched by Message-ID.
    pub imap: Option<(ImapSettings, Vec<String>)>,
    /// How long after the claim a copy may take to arrive.
    pub wait: Duration,
}

/// How the sender works, from the settings.
#[derive(Clone, Default)]
pub struct Policy {
    /// Transient failures: first and longest delay.
    pub retry: (Duration, Duration),
    /// Mails sent at once.
    pub concurrency: usize,
    pub sent_copy: Option<SentCopy>,
    pub recovery: Recovery,
}

#[derive(Clone)]
pub struct Sender {
    store: Store,
    transport: Transport,
    signal: Arc<Notify>,
    retry_initial: Duration,
    retry_max: Duration,
    concurrency: usize,
    /// One IMAP session for the copies of a run's mail ([`Sender::run_once`]).
    sent_copy: Option<Arc<SentAppender>>,
    recovery: Recovery,
    /// With the wall clock, judges `expires_at` ([`Sender::expiry_clock`]).
    clock: Clock,
    /// This run's id on the rows it claims.
    owner: String,
    /// Once cancelled, no new mail is claimed (the ones in flight finish).
    shutdown: CancellationToken,
    state: Arc<Mutex<State>>,
}

/// What the concurrent sends of one run share.
#[derive(Default)]
struct State {
    paused: Option<Pause>,
    /// Outcomes the store refused, to be recorded before anything else.
    unrecorded: Vec<(i64, Outcome)>,
    /// Interrupted sends looked for once already.
    looked: HashSet<i64>,
    /// The health facts of an earlier pause or store failure were cleared.
    clean: bool,
    /// When an interrupted send must be looked at again (its copy may
    /// still arrive, or the mailbox could not be searched).
    look_at: Option<chrono::DateTime<Utc>>,
}

struct Pause {
    until: Instant,
    delay: Duration,
}

/// The longest the actor sleeps without looking at the queue: a safety net
/// only, as every reason to look wakes it by itself. It wakes for
/// `outbox_signal` (mail queued by the intake or the scheduler, and by the
/// CLI in another process, which sends the daemon SIGUSR1), the time the
/// next mail falls due, the end of a pause, the next look for an
/// interrupted send's copy, or the store's backoff. Each look costs SQLite
/// queries, so an idle daemon must not poll.
const MAX_IDLE: Duration = Duration::from_secs(600);

/// Due rows claimed in one transaction, per mail sent at once; the batch
/// is at most [`CLAIM_MAX`]. The next batch is claimed while the last mails
/// of the one before are still being sent.
const CLAIM_PER_SEND: usize = 4;

/// The most rows claimed in one transaction: also the most a crash leaves
/// claimed but never sent (orphans the next run checks for their copies).
const CLAIM_MAX: usize = 64;

/// The most outcomes recorded in one transaction.
const RECORD_GROUP: usize = 32;

/// The most mails of a pass sent but not yet recorded: a send waits for
/// the recorder beyond this. It bounds what a crash (or a store that stops
/// taking outcomes) leaves as orphans to settle by their copies.
const UNRECORDED_MAX: usize = 2 * RECORD_GROUP;

/// An outcome on its way to the recorder, with the send's place among
/// [`UNRECORDED_MAX`], freed once the outcome is committed.
type Handed = (i64, Outcome, Option<OwnedSemaphorePermit>);

/// How long the first outcome of a group waits for others to join it
/// before the group is committed (the end of the sending commits at once).
const RECORD_LINGER: Duration = Duration::from_millis(5);

/// An interrupted send whose copy could not be looked for is looked for
/// again this much later.
const LOOK_AGAIN: Duration = Duration::from_secs(30);

/// Sending paused for configuration is probed again at most this far apart.
const MAX_PROBE: Duration = Duration::from_secs(300);

/// After the store refused an outcome: first and longest wait before trying again.
const STORE_BACKOFF: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(60));

/// A fresh run id: the process and a random part.
fn new_owner() -> String {
    format!("{}-{:016x}", std::process::id(), rand::random::<u64>())
}

/// Whether a paused sender may send, and how much.
enum Gate {
    Open,
    /// One mail, to see whether the server takes postbote again.
    Probe,
    Closed,
}

/// What the look for an interrupted send's copy found.
enum Look {
    Found(String),
    NotYet,
    /// Nothing can show that it went out (no copies, or the file transport
    /// did not write it).
    NoCopy(&'static str),
}

impl Sender {
    /// `clock` judges `expires_at` (the scheduler's clock).
    pub fn new(
        store: Store,
        transport: Transport,
        signal: Arc<Notify>,
        policy: Policy,
        clock: Clock,
    ) -> Sender {
        Sender {
            store,
            transport,
            signal,
            retry_initial: policy.retry.0,
            retry_max: policy.retry.1,
            concurrency: policy.concurrency.max(1),
            sent_copy: policy
                .sent_copy
                .map(|c| Arc::new(SentAppender::new(c.imap, c.folder))),
            recovery: policy.recovery,
            clock,
            owner: new_owner(),
            shutdown: CancellationToken::new(),
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    /// This run's owner id.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether sending has stopped: paused, or outcomes wait to be recorded.
    fn halted(&self) -> bool {
        let s = self.state();
        !s.unrecorded.is_empty() || s.paused.as_ref().is_some_and(|p| p.until > Instant::now())
    }

    /// The time `expires_at` is judged by.
    ///
    /// NOTE: the earlier of the scheduler's clock and the wall clock. They
    /// are the same in production; a test or the demo that plays a year in
    /// fast-forward moves the scheduler's clock ahead of the sender, or
    /// stands in a past year, and a reminder queued in time must not expire.
    fn expiry_clock(&self) -> chrono::DateTime<Utc> {
        self.clock.now().min(Utc::now())
    }

    fn gate(&self) -> Gate {
        match &self.state().paused {
            None => Gate::Open,
            Some(p) if p.until <= Instant::now() => Gate::Probe,
            Some(_) => Gate::Closed,
        }
    }

    /// Settles interrupted sends, expires mail whose time has come, and sends
    /// everything due now; returns how many mails were attempted. Every
    /// outcome is recorded (or kept as unrecorded) when it returns.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let result = self.send_due().await;
        // The copies' IMAP session lasts one run: the queue is empty (or
        // sending halted) when it returns.
        if let Some(copy) = &self.sent_copy {
            copy.close().await;
        }
        result
    }

    async fn send_due(&self) -> anyhow::Result<usize> {
        if !self.flush_unrecorded().await {
            return Ok(0);
        }
        self.recover().await?;
        let mut attempted = 0;
        loop {
            let expired = outbox::expire_due(&self.store, self.expiry_clock()).await?;
            if expired > 0 {
                tracing::warn!(
                    expired,
                    "mail whose time had come was not sent (marked expired; staff are told)"
                );
            }
            let (sent, more) = match self.gate() {
                Gate::Open => {
                    let batch = (self.concurrency * CLAIM_PER_SEND).clamp(1, CLAIM_MAX);
                    self.pass(batch, self.concurrency, false).await?
                }
                Gate::Probe => self.pass(1, 1, true).await?,
                Gate::Closed => return Ok(attempted),
            };
            attempted += sent;
            if !more || self.halted() || self.shutdown.is_cancelled() {
                return Ok(attempted);
            }
        }
    }

    /// Claims due mail `batch` rows at a time and sends it, `concurrency`
    /// mails at once, while their outcomes are recorded in groups. Stops
    /// when nothing is due (more: false), after one batch if `once`, or when
    /// sending halts or the gate closes (more: true: the caller looks again).
    /// Returns how many mails were attempted, once every outcome is recorded.
    ///
    /// NOTE: its streams own a clone of the sender (which shares its state):
    /// closures that borrow `self` make rustc find the task's future not
    /// `Send` ("not general enough").
    async fn pass(
        &self,
        batch: usize,
        concurrency: usize,
        once: bool,
    ) -> anyhow::Result<(usize, bool)> {
        let emptied = Arc::new(AtomicBool::new(false));
        let me = Arc::new(self.clone());
        let (flag, claimer) = (emptied.clone(), me.clone());
        let claims = futures::stream::unfold(false, move |done| {
            claimer.clone().claim_next(done, batch, once, flag.clone())
        })
        .flat_map(futures::stream::iter);
        let (outcomes, recorded) = unbounded_channel();
        let places = Arc::new(Semaphore::new(UNRECORDED_MAX));
        let sending = claims
            .map(move |claimed| {
                me.clone()
                    .deliver_claimed(claimed, outcomes.clone(), places.clone())
            })
            .buffer_unordered(concurrency)
            .collect::<Vec<anyhow::Result<bool>>>();
        let (results, ()) = tokio::join!(sending, self.recorder(recorded));
        let mut attempted = 0;
        for r in results {
            attempted += usize::from(r?);
        }
        Ok((attempted, !emptied.load(Ordering::Relaxed)))
    }

    /// The next batch of a pass: claimed rows (or the claim's error), and
    /// whether the pass ends after it; None when it ends now (`done`,
    /// halted, the gate closed, or nothing due: then `emptied` is set).
    async fn claim_next(
        self: Arc<Self>,
        done: bool,
        batch: usize,
        once: bool,
        emptied: Arc<AtomicBool>,
    ) -> Option<(Vec<anyhow::Result<Due>>, bool)> {
        if done
            || self.halted()
            || self.shutdown.is_cancelled()
            || (!once && !matches!(self.gate(), Gate::Open))
        {
            return None;
        }
        let limit = i64::try_from(batch).unwrap_or(1);
        match outbox::claim_due(&self.store, &self.owner, self.expiry_clock(), limit).await {
            Ok(rows) if rows.is_empty() => {
                emptied.store(true, Ordering::Relaxed);
                None
            }
            Ok(rows) => Some((rows.into_iter().map(Ok).collect(), once)),
            Err(e) => Some((vec![Err(e)], true)),
        }
    }

    async fn deliver_claimed(
        self: Arc<Self>,
        claimed: anyhow::Result<Due>,
        outcomes: UnboundedSender<Handed>,
        places: Arc<Semaphore>,
    ) -> anyhow::Result<bool> {
        self.deliver(claimed?, outcomes, places).await
    }

    /// Loops until `shutdown`, sending what falls due. Each run claims under
    /// a fresh owner id, so a restarted task checks what the last one left.
    pub async fn run(mut self, shutdown: CancellationToken) {
        self.owner = new_owner();
        self.state = Arc::new(Mutex::new(State::default()));
        self.shutdown = shutdown.clone();
        let mut backoff = STORE_BACKOFF.0;
        loop {
            let ok = match self.run_once().await {
                Ok(sent) => {
                    if sent > 0 {
                        // A burst is over: its buffers go back to the system.
                        crate::memory::release();
                    }
                    self.state().unrecorded.is_empty()
                }
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "outbox pass failed");
                    false
                }
            };
            let wait = if ok {
                backoff = STORE_BACKOFF.0;
                self.idle_wait().await
            } else {
                let wait = backoff;
                backoff = (backoff * 2).min(STORE_BACKOFF.1);
                tracing::warn!(
                    retry_in_s = wait.as_secs(),
                    "sending stopped until the store works again"
                );
                wait
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.signal.notified(), if ok => {}
                _ = tokio::time::sleep(wait.max(Duration::from_millis(50))) => {}
            }
        }
    }

    /// How long the actor may sleep, unless signalled: until the next mail
    /// falls due (not before a pause ends), the next look for an interrupted
    /// send's copy, at most [`MAX_IDLE`].
    async fn idle_wait(&self) -> Duration {
        let until = |t: chrono::DateTime<Utc>| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        let mut due = match outbox::next_due_at(&self.store).await {
            Ok(Some(t)) => until(t),
            Ok(None) => MAX_IDLE,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot read when the next mail falls due");
                STORE_BACKOFF.1
            }
        };
        let (paused, look) = {
            let s = self.state();
            let now = Instant::now();
            (
                s.paused
                    .as_ref()
                    .map(|p| p.until.saturating_duration_since(now)),
                s.look_at.map(until),
            )
        };
        if let Some(left) = paused {
            // Due mail waits for the probe.
            due = due.max(left);
        }
        due.min(look.unwrap_or(MAX_IDLE)).min(MAX_IDLE)
    }

    /// Sends one claimed mail and hands its outcome to `outcomes` (the
    /// recorder of its pass); true if it was attempted. A mail whose turn
    /// comes after sending halted or stopped goes back to the queue.
    async fn deliver(
        &self,
        mail: Due,
        outcomes: UnboundedSender<Handed>,
        places: Arc<Semaphore>,
    ) -> anyhow::Result<bool> {
        // Waits while UNRECORDED_MAX outcomes wait for the recorder.
        let place = places.acquire_owned().await.ok();
        if self.halted() || self.shutdown.is_cancelled() {
            self.hand_over(&outcomes, (mail.id, Outcome::Unclaimed, place))
                .await;
            return Ok(false);
        }
        let span = tracing::info_span!("send", id = mail.id, message_id = %mail.message_id, purpose = %mail.purpose);
        async {
            let result = self
                .transport
                .send(&mail.message_id, &mail.env_from, &mail.env_to, &mail.raw)
                .await;
            let outcome = match result {
                Ok(d) => {
                    tracing::info!(to = %mail.env_to, copied = d.copied, "mail sent");
                    self.working().await;
                    // Appended before the outcome is recorded, so that the
                    // record says whether the copy is there.
                    let appended = self.copy_to_sent(&mail).await;
                    Outcome::Sent {
                        copied: d.copied || appended,
                    }
                }
                Err(DeliveryError::Permanent(e)) => {
                    tracing::error!(to = %mail.env_to, error = %e, "permanent delivery failure recorded");
                    self.working().await;
                    Outcome::Failed { error: e }
                }
                Err(DeliveryError::Transient(e)) => {
                    let delay = self.retry_delay(mail.attempts);
                    tracing::warn!(to = %mail.env_to, error = %e, retry_in_s = delay.as_secs(), "transient delivery failure; will retry");
                    let next = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
                    Outcome::Retry { error: e, next }
                }
                Err(DeliveryError::Paused(e)) => {
                    self.pause(&e).await;
                    Outcome::Released {
                        error: format!("sending paused: {e}"),
                    }
                }
                Err(DeliveryError::Uncertain(e)) => {
                    tracing::warn!(to = %mail.env_to, error = %e, "the server's answer did not come; checking for the copy before sending again");
                    // The next pass looks for its copy.
                    self.look_at(Utc::now());
                    Outcome::Uncertain {
                        error: format!("outcome unknown: {e}"),
                    }
                }
            };
            self.hand_over(&outcomes, (mail.id, outcome, place)).await;
        }
        .instrument(span)
        .await;
        Ok(true)
    }

    /// Gives an outcome to the recorder; records it at once should the
    /// recorder be gone.
    async fn hand_over(&self, to: &UnboundedSender<Handed>, handed: Handed) {
        if let Err(back) = to.send(handed) {
            let (id, outcome, _place) = back.0;
            self.record(vec![(id, outcome)]).await;
        }
    }

    /// Records the outcomes of a pass as they come, in groups: one
    /// transaction for all that arrived within [`RECORD_LINGER`] of the
    /// first (at most [`RECORD_GROUP`]). Returns when the pass's sends are
    /// done and every outcome is recorded or kept as unrecorded.
    async fn recorder(&self, mut outcomes: UnboundedReceiver<Handed>) {
        while let Some(first) = outcomes.recv().await {
            let mut group = vec![first];
            let until = tokio::time::Instant::now() + RECORD_LINGER;
            while group.len() < RECORD_GROUP {
                match tokio::time::timeout_at(until, outcomes.recv()).await {
                    Ok(Some(o)) => group.push(o),
                    Ok(None) | Err(_) => break,
                }
            }
            let (group, places): (Vec<_>, Vec<_>) =
                group.into_iter().map(|(id, o, p)| ((id, o), p)).unzip();
            self.record(group).await;
            drop(places);
        }
    }

    /// Records `group` in one transaction; when the store refuses it, one
    /// outcome at a time, so that only the outcomes the store refuses are
    /// kept to record later, and sending stops (their rows stay `sending`,
    /// never due).
    async fn record(&self, group: Vec<(i64, Outcome)>) {
        let refused = self.record_group(group).await;
        let Some((_, _, error)) = refused.last() else {
            return;
        };
        let error = error.clone();
        for (id, outcome, error) in &refused {
            tracing::error!(id, %error, ?outcome, "cannot record the outcome of a send; sending stops until the store works again");
        }
        self.state()
            .unrecorded
            .extend(refused.into_iter().map(|(id, o, _)| (id, o)));
        if let Err(e) = health::outbox_store_failed(&self.store, &error).await {
            tracing::error!(error = %format!("{e:#}"), "cannot record the store failure either");
        }
    }

    /// Records `group` (in one transaction, else one by one); returns the
    /// outcomes the store refused, with its error.
    async fn record_group(&self, group: Vec<(i64, Outcome)>) -> Vec<(i64, Outcome, String)> {
        let results = match outbox::record_many(&self.store, &group).await {
            Ok(changed) => changed.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(e) if group.len() == 1 => vec![Err(e)],
            Err(_) => {
                let mut one_by_one = Vec::with_capacity(group.len());
                for (id, outcome) in &group {
                    one_by_one.push(outbox::record(&self.store, *id, outcome).await);
                }
                one_by_one
            }
        };
        let mut refused = Vec::new();
        for ((id, outcome), result) in group.into_iter().zip(results) {
            match result {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    id,
                    ?outcome,
                    "the row was no longer being sent; outcome not recorded"
                ),
                Err(e) => refused.push((id, outcome, format!("{e:#}"))),
            }
        }
        refused
    }

    /// Records the outcomes the store refused before; true when none is left.
    async fn flush_unrecorded(&self) -> bool {
        let pending = std::mem::take(&mut self.state().unrecorded);
        if pending.is_empty() {
            return true;
        }
        let ids: Vec<i64> = pending.iter().map(|(id, _)| *id).collect();
        let left = self.record_group(pending).await;
        for id in ids
            .iter()
            .filter(|id| !left.iter().any(|(l, _, _)| l == *id))
        {
            tracing::info!(id, "outcome recorded after the store failure");
        }
        for (id, _, error) in &left {
            tracing::warn!(id, %error, "the store still refuses the outcome of a send");
        }
        let clear = left.is_empty();
        self.state()
            .unrecorded
            .extend(left.into_iter().map(|(id, o, _)| (id, o)));
        if clear {
            tracing::info!("the store works again; sending resumes");
            if let Err(e) = health::clear(&self.store, health::OUTBOX_STORE_ERROR).await {
                tracing::warn!(error = %format!("{e:#}"), "cannot clear the store failure");
            }
        }
        clear
    }

    /// Asks for a look at the interrupted sends by `t` at the latest.
    fn look_at(&self, t: chrono::DateTime<Utc>) {
        let mut s = self.state();
        s.look_at = Some(s.look_at.map_or(t, |l| l.min(t)));
    }

    /// The server refuses postbote itself: no mail goes out until a probe
    /// after the (doubling) delay gets through.
    async fn pause(&self, error: &str) {
        let delay = {
            let mut s = self.state();
            let now = Instant::now();
            let delay = match &s.paused {
                // Another mail of the same batch: the pause stands as it is.
                Some(p) if p.until > now => p.delay,
                // A probe failed: wait longer.
                Some(p) => (p.delay * 2).min(self.retry_max.min(MAX_PROBE)),
                None => self.retry_initial.min(MAX_PROBE),
            };
            if s.paused.as_ref().is_none_or(|p| p.until <= now) {
                s.paused = Some(Pause {
                    until: now + delay,
                    delay,
                });
            }
            s.clean = false;
            delay
        };
        tracing::error!(%error, probe_in_s = delay.as_secs(), "the SMTP server refuses postbote: all sending paused, mail stays queued");
        if let Err(e) = health::outbox_paused(&self.store, error).await {
            tracing::error!(error = %format!("{e:#}"), "cannot record the paused sending");
        }
    }

    /// The server took a mail (or refused only its recipient): sending is
    /// not paused; clears the health facts of an earlier pause.
    async fn working(&self) {
        let was = {
            let mut s = self.state();
            let was = s.paused.take().is_some() || !s.clean;
            s.clean = true;
            was
        };
        if was {
            if let Err(e) = health::outbox_resumed(&self.store).await {
                tracing::warn!(error = %format!("{e:#}"), "cannot clear the paused sending");
                self.state().clean = false;
            } else {
                tracing::info!("the SMTP server takes mail again");
            }
        }
    }

    /// initial × 2^attempts, capped.
    pub fn retry_delay(&self, attempts: i64) -> Duration {
        let factor = 2u32.saturating_pow(attempts.clamp(0, 20) as u32);
        self.retry_initial
            .saturating_mul(factor)
            .min(self.retry_max)
    }

    /// Settles the rows other runs left `sending`: a copy found means the
    /// mail went out; none `recovery.wait` after the claim puts it back in
    /// the queue.
    ///
    /// Notes when the rows not settled now must be looked at again (the
    /// end of their wait, or [`LOOK_AGAIN`]), so that the actor wakes then.
    async fn recover(&self) -> anyhow::Result<()> {
        let orphans = outbox::orphans(&self.store, &self.owner).await?;
        let mut next: Option<chrono::DateTime<Utc>> = None;
        let mut again = |t: chrono::DateTime<Utc>| next = Some(next.map_or(t, |n| n.min(t)));
        let wait = chrono::Duration::from_std(self.recovery.wait).unwrap_or(chrono::Duration::MAX);
        for o in orphans {
            let claimed = o.claimed_at.as_deref().and_then(parse_ts);
            let waited = claimed.is_none_or(|t| {
                (Utc::now() - t).to_std().unwrap_or(Duration::ZERO) >= self.recovery.wait
            });
            let wait_ends = claimed.map(|t| t.checked_add_signed(wait).unwrap_or(t));
            let first = self.state().looked.insert(o.id);
            if !first && !waited {
                wait_ends.map(&mut again);
                continue;
            }
            let (found, note) = match self.look_for_copy(&o).await {
                Ok(Look::Found(place)) => (
                    true,
                    format!("sent before an interrupted run: its copy is in {place}"),
                ),
                Ok(Look::NotYet) if !waited => {
                    wait_ends.map(&mut again);
                    continue;
                }
                Ok(Look::NotYet) => (
                    false,
                    format!(
                        "sent again after an interrupted send: no copy within {} s",
                        self.recovery.wait.as_secs()
                    ),
                ),
                Ok(Look::NoCopy(why)) => (
                    false,
                    format!("sent again after an interrupted send: {why}"),
                ),
                Err(e) => {
                    tracing::warn!(id = o.id, error = %format!("{e:#}"), "cannot look for the copy of an interrupted send; looking again later");
                    again(Utc::now() + chrono::Duration::from_std(LOOK_AGAIN).unwrap_or_default());
                    continue;
                }
            };
            if outbox::settle_orphan(&self.store, o.id, &self.owner, found, &note).await? {
                self.state().looked.remove(&o.id);
                if found {
                    tracing::info!(id = o.id, message_id = %o.message_id, %note, "interrupted send had gone out: marked sent");
                } else {
                    tracing::warn!(id = o.id, message_id = %o.message_id, to = %o.env_to, %note, "interrupted send requeued");
                }
            }
        }
        self.state().look_at = next;
        Ok(())
    }

    async fn look_for_copy(&self, o: &Orphan) -> anyhow::Result<Look> {
        if let Some(written) = self.transport.file_written(&o.message_id) {
            return Ok(if written {
                Look::Found("the file transport's folder".into())
            } else {
                Look::NoCopy("the file transport had not written it")
            });
        }
        if !self.transport.copies() {
            return Ok(Look::NoCopy(
                "mail carries no copy (smtp.copy_sent = false), so nothing shows whether it went out; it may arrive twice",
            ));
        }
        if messages::stored_with_message_id(&self.store, &o.message_id).await? {
            return Ok(Look::Found("the stored mail".into()));
        }
        if let Some((imap, folders)) = &self.recovery.imap {
            let folders: Vec<&str> = folders.iter().map(String::as_str).collect();
            if let Some(folder) =
                crate::mailbox::imap::find_message_id(imap, &folders, &o.message_id).await?
            {
                return Ok(Look::Found(format!("the mailbox folder {folder}")));
            }
        } else {
            tracing::warn!(
                id = o.id,
                "no IMAP mailbox to search for the copy of an interrupted send; only stored mail is checked"
            );
        }
        Ok(Look::NotYet)
    }

    /// Appends a copy of a sent mail to the sent folder, if so configured;
    /// true when it is there (recorded with the mail's outcome).
    async fn copy_to_sent(&self, mail: &Due) -> bool {
        let Some(copy) = &self.sent_copy else {
            return false;
        };
        match copy.append(&mail.raw).await {
            Ok(()) => true,
            // NOTE: a failed copy must never cause a second send.
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot append copy to the sent folder");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::outbox::{Enqueued, NewMail, Purpose, enqueue};
    use crate::store::testing;

    async fn queue(store: &Store, n: usize) -> Vec<i64> {
        let mut tx = store.begin().await.unwrap();
        let mut ids = Vec::new();
        for i in 0..n {
            let mail = NewMail {
                idempotency_key: format!("k{i}"),
                message_id: format!("m{i}.postbote@ews.test"),
                purpose: Purpose::StaffNotice,
                application_id: None,
                env_from: "projekt@ews.test".into(),
                env_to: format!("r{i}@x.test"),
                subject: "s".into(),
                raw: format!("Subject: {i}\r\n\r\nx\r\n").into_bytes(),
                expires_at: None,
            };
            let Enqueued::Queued(id) = enqueue(&mut tx, &mail, 100).await.unwrap() else {
                panic!("not queued");
            };
            ids.push(id);
        }
        tx.commit().await.unwrap();
        ids
    }

    fn sender(store: &Store, dir: &std::path::Path, concurrency: usize) -> Sender {
        let policy = Policy {
            retry: (Duration::from_secs(60), Duration::from_secs(600)),
            concurrency,
            ..Policy::default()
        };
        Sender::new(
            store.clone(),
            Transport::File(dir.to_path_buf()),
            Arc::new(Notify::new()),
            policy,
            Clock::system(),
        )
    }

    async fn states(store: &Store) -> Vec<(String, i64, Option<String>)> {
        sqlx::query_as("SELECT state, attempts, owner FROM outbox ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap()
    }

    fn written(dir: &std::path::Path, i: usize) -> bool {
        dir.join(format!("m{i}.postbote@ews.test.eml")).exists()
    }

    #[tokio::test]
    async fn a_backlog_goes_out_in_batches_and_every_outcome_is_recorded_when_the_pass_returns() {
        let (_db, store) = testing::store().await;
        let out = tempfile::tempdir().unwrap();
        queue(&store, 150).await;
        let s = sender(&store, out.path(), 4);
        assert_eq!(s.run_once().await.unwrap(), 150);
        let rows = states(&store).await;
        assert!(
            rows.iter().all(|(state, attempts, owner)| state == "sent"
                && *attempts == 1
                && owner.as_deref() == Some(s.owner())),
            "{rows:?}"
        );
        assert!((0..150).all(|i| written(out.path(), i)));
        assert_eq!(s.run_once().await.unwrap(), 0, "nothing is due any more");
        assert_eq!(outbox::next_due_at(&store).await.unwrap(), None);
    }

    #[tokio::test]
    async fn outcomes_the_store_refuses_halt_sending_and_the_batch_not_reached_goes_back_to_the_queue()
     {
        let (_db, store) = testing::store().await;
        let out = tempfile::tempdir().unwrap();
        queue(&store, 40).await;
        sqlx::query(
            "CREATE TRIGGER refuse_sent BEFORE UPDATE OF state ON outbox \
             WHEN NEW.state = 'sent' BEGIN SELECT RAISE(ABORT, 'disk I/O error (test)'); END",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let s = sender(&store, out.path(), 2);
        let attempted = s.run_once().await.unwrap();
        // The mails sent before the refusal came back (as few as one, as
        // many as all on a loaded machine) wait as unrecorded.
        assert!(attempted >= 1, "{attempted}");
        let unrecorded = s.state().unrecorded.len();
        assert_eq!(unrecorded, attempted, "every send's outcome waits");
        let rows = states(&store).await;
        for (i, (state, attempts, _)) in rows.iter().enumerate() {
            match state.as_str() {
                // Sent, not recorded: never due again.
                "sending" => assert!(written(out.path(), i), "{i}"),
                // Claimed with its batch but not reached, or never claimed.
                "queued" => assert!(!written(out.path(), i) && *attempts == 0, "{i}"),
                other => panic!("{i}: {other}"),
            }
        }
        assert_eq!(rows.iter().filter(|r| r.0 == "sending").count(), attempted);
        assert!(s.halted());
        assert_eq!(
            s.run_once().await.unwrap(),
            0,
            "still refused: nothing sent"
        );
        assert_eq!(s.state().unrecorded.len(), unrecorded);

        sqlx::query("DROP TRIGGER refuse_sent")
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(s.run_once().await.unwrap(), 40 - attempted);
        let rows = states(&store).await;
        assert!(
            rows.iter()
                .all(|(state, attempts, _)| state == "sent" && *attempts == 1),
            "{rows:?}"
        );
        assert!(!s.halted());
    }

    #[tokio::test]
    async fn an_idle_sender_sleeps_until_the_next_due_mail_or_the_safety_cap() {
        let (_db, store) = testing::store().await;
        let out = tempfile::tempdir().unwrap();
        let s = sender(&store, out.path(), 4);
        assert_eq!(s.idle_wait().await, MAX_IDLE);
        queue(&store, 1).await;
        sqlx::query("UPDATE outbox SET next_attempt_at = ?")
            .bind(crate::store::ts(Utc::now() + chrono::Duration::seconds(90)))
            .execute(store.pool())
            .await
            .unwrap();
        let wait = s.idle_wait().await;
        assert!(
            wait > Duration::from_secs(80) && wait <= Duration::from_secs(90),
            "{wait:?}"
        );
        // A pause holds due mail back until its probe.
        s.state().paused = Some(Pause {
            until: Instant::now() + Duration::from_secs(200),
            delay: Duration::from_secs(200),
        });
        let wait = s.idle_wait().await;
        assert!(wait > Duration::from_secs(190), "{wait:?}");
        // An interrupted send to look at again comes first.
        s.look_at(Utc::now() + chrono::Duration::seconds(5));
        assert!(s.idle_wait().await <= Duration::from_secs(5));
    }
}
