//! The sender actor: sends due outbox rows, each at most once.
//!
//! - A row is claimed (`sending`, this run's owner id) before its SMTP
//!   transaction, and its outcome recorded after it. A row left `sending` by
//!   another run (a crash, SIGKILL, an answer that never came) may have been
//!   accepted: it is sent again only when its copy (the extra envelope
//!   recipient, see `transport`) is neither stored nor in the project
//!   mailbox `recovery_wait` after the claim.
//! - An outcome that cannot be recorded (disk full, read-only database)
//!   leaves the row `sending`, never due again; the sender sends nothing
//!   more, with backoff, until the store takes the outcome.
//! - A refusal of postbote itself (authentication, relaying, TLS) pauses all
//!   sending and keeps the mail queued; one mail probes again with backoff.
//! - Transient failures are retried with capped backoff; permanent ones are
//!   recorded; mail whose time has come (`expires_at`) is marked `expired`.
//!
//! Woken by the intake (a Notify) or by the time the next retry falls due.

use super::transport::{DeliveryError, Transport};
use crate::calendar::clock::Clock;
use crate::config::settings::ImapSettings;
use crate::store::outbox::{self, Due, Orphan, Outcome};
use crate::store::{Store, health, messages, parse_ts};
use chrono::Utc;
use futures::StreamExt;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
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
    sent_copy: Option<SentCopy>,
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
}

struct Pause {
    until: Instant,
    delay: Duration,
}

/// The longest the actor sleeps without looking at the queue.
/// Short, so mail queued by the CLI (another process) leaves within seconds.
const MAX_IDLE: Duration = Duration::from_secs(5);

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
            sent_copy: policy.sent_copy,
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
    /// everything due now; returns how many mails were attempted.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
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
            let (limit, concurrency) = match self.gate() {
                Gate::Open => (100, self.concurrency),
                Gate::Probe => (1, 1),
                Gate::Closed => return Ok(attempted),
            };
            let batch = outbox::due(&self.store, limit).await?;
            if batch.is_empty() {
                return Ok(attempted);
            }
            let results: Vec<anyhow::Result<bool>> = futures::stream::iter(batch)
                .map(|mail| self.deliver(mail))
                .buffer_unordered(concurrency)
                .collect()
                .await;
            for r in results {
                attempted += usize::from(r?);
            }
            if self.halted() || self.shutdown.is_cancelled() {
                return Ok(attempted);
            }
        }
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
                Ok(_) => self.state().unrecorded.is_empty(),
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "outbox pass failed");
                    false
                }
            };
            let wait = if ok {
                backoff = STORE_BACKOFF.0;
                match outbox::next_due_at(&self.store).await {
                    Ok(Some(t)) => (t - Utc::now())
                        .to_std()
                        .unwrap_or(Duration::ZERO)
                        .min(MAX_IDLE),
                    _ => MAX_IDLE,
                }
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

    /// Claims, sends and records one mail; true if it was attempted.
    async fn deliver(&self, mail: Due) -> anyhow::Result<bool> {
        if self.halted() || self.shutdown.is_cancelled() {
            return Ok(false);
        }
        if !outbox::claim(&self.store, mail.id, &self.owner, self.expiry_clock()).await? {
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
                    Outcome::Sent { copied: d.copied }
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
                    Outcome::Uncertain {
                        error: format!("outcome unknown: {e}"),
                    }
                }
            };
            let sent = matches!(outcome, Outcome::Sent { .. });
            self.record(mail.id, outcome).await;
            if sent {
                self.copy_to_sent(&mail).await;
            }
        }
        .instrument(span)
        .await;
        Ok(true)
    }

    /// Records `outcome`; when the store refuses, keeps it to record later
    /// and stops sending (the row stays `sending`, never due).
    async fn record(&self, id: i64, outcome: Outcome) {
        match outbox::record(&self.store, id, &outcome).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    id,
                    ?outcome,
                    "the row was no longer being sent; outcome not recorded"
                )
            }
            Err(e) => {
                let error = format!("{e:#}");
                tracing::error!(id, %error, ?outcome, "cannot record the outcome of a send; sending stops until the store works again");
                self.state().unrecorded.push((id, outcome));
                if let Err(e) = health::outbox_store_failed(&self.store, &error).await {
                    tracing::error!(error = %format!("{e:#}"), "cannot record the store failure either");
                }
            }
        }
    }

    /// Records the outcomes the store refused before; true when none is left.
    async fn flush_unrecorded(&self) -> bool {
        let pending = std::mem::take(&mut self.state().unrecorded);
        if pending.is_empty() {
            return true;
        }
        let mut left = Vec::new();
        for (id, outcome) in pending {
            match outbox::record(&self.store, id, &outcome).await {
                Ok(_) => tracing::info!(id, ?outcome, "outcome recorded after the store failure"),
                Err(e) => {
                    tracing::warn!(id, error = %format!("{e:#}"), "the store still refuses the outcome of a send");
                    left.push((id, outcome));
                }
            }
        }
        let clear = left.is_empty();
        self.state().unrecorded.extend(left);
        if clear {
            tracing::info!("the store works again; sending resumes");
            if let Err(e) = health::clear(&self.store, health::OUTBOX_STORE_ERROR).await {
                tracing::warn!(error = %format!("{e:#}"), "cannot clear the store failure");
            }
        }
        clear
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
    async fn recover(&self) -> anyhow::Result<()> {
        for o in outbox::orphans(&self.store, &self.owner).await? {
            let claimed = o.claimed_at.as_deref().and_then(parse_ts);
            let waited = claimed.is_none_or(|t| {
                (Utc::now() - t).to_std().unwrap_or(Duration::ZERO) >= self.recovery.wait
            });
            let first = self.state().looked.insert(o.id);
            if !first && !waited {
                continue;
            }
            let (found, note) = match self.look_for_copy(&o).await {
                Ok(Look::Found(place)) => (
                    true,
                    format!("sent before an interrupted run: its copy is in {place}"),
                ),
                Ok(Look::NotYet) if !waited => continue,
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
