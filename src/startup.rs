//! Boot order and supervision: check the mailbox folders, start the intake,
//! the sender and the scheduler on the [`App`] context, restart a task that
//! ends or panics, wait for SIGTERM/SIGINT, then shut down within
//! [`SHUTDOWN_BUDGET`]:
//!
//! 1. every task stops taking new work (no new fetch, no new SMTP
//!    transaction, no new scheduler pass);
//! 2. the intake and the scheduler get [`WORK_GRACE`] to finish the message
//!    or pass in hand, then they are stopped where they are. A document
//!    analysis still running (it may take [`crate::intake::process::ANALYSIS_BUDGET`])
//!    is abandoned: nothing was committed for its message, which stays
//!    `received` and is processed again after the restart;
//! 3. the sender gets [`SEND_GRACE`] to finish the SMTP transactions in
//!    flight and record them; only a transaction still running after that is
//!    cut;
//! 4. only then is the database pool closed ([`CLOSE_GRACE`]).

use crate::config::settings::SourceKind;
use crate::context::App;
use crate::intake::worker::{self, Backoff};
use crate::mailbox::imap::ImapSource;
use crate::mailbox::maildir::MaildirSource;
use crate::mailbox::{MailSource, SetupError};
use crate::outbox::sender::{Policy, Recovery, SentCopy};
use crate::outbox::{Sender, Transport};
use crate::store::health;
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The longest the scheduler sleeps between passes. It sleeps until the
/// next thing it knows to be due (a reminder, the digest, the next day's
/// retention run, an alarm threshold: [`crate::calendar::scheduler::Plan`])
/// or until another task or process wakes it (`App::scheduler_signal`,
/// SIGUSR1); this bound covers what it cannot foresee (the outbox alarms,
/// counted in hours, and a wall clock that jumps).
pub const SCHEDULER_MAX_SLEEP: Duration = Duration::from_secs(15 * 60);

/// From the shutdown signal to the end of the process, at most. The unit's
/// `TimeoutStopSec=` (deploy/postbote.service) leaves room above it.
pub const SHUTDOWN_BUDGET: Duration = Duration::from_secs(25);

/// How long the intake and the scheduler may finish what they hold.
pub const WORK_GRACE: Duration = Duration::from_secs(10);

/// How long mail in flight may take to finish its SMTP transaction.
pub const SEND_GRACE: Duration = Duration::from_secs(18);

/// How long a task that was stopped may take to unwind.
pub const ABORT_GRACE: Duration = Duration::from_secs(1);

/// How long closing the database pool may take.
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What the process may take after [`run`] returned (`main`: the runtime's
/// shutdown, which does not wait for an abandoned analysis thread).
pub const EXIT_GRACE: Duration = Duration::from_secs(1);

const _: () = assert!(
    SEND_GRACE.as_secs() + ABORT_GRACE.as_secs() + CLOSE_GRACE.as_secs() + EXIT_GRACE.as_secs()
        < SHUTDOWN_BUDGET.as_secs()
        && WORK_GRACE.as_secs() <= SEND_GRACE.as_secs()
);

/// The outbox sender for the app's settings.
///
/// With a copy recipient (the default), every mail reaches the project
/// mailbox in its own SMTP transaction, the intake files it into the sent
/// folder, and the copy is what the crash check looks for. Only without one
/// (`smtp.copy_sent = false`) is a copy appended over IMAP after the send.
pub fn sender(app: &App) -> anyhow::Result<Sender> {
    let s = &app.settings;
    let copy_to = s.copy_address();
    let transport = Transport::from_settings(&s.smtp, copy_to)?;
    let imap = s
        .imap
        .as_ref()
        .filter(|i| i.password.is_some() && s.mailbox.source == SourceKind::Imap);
    let sent_copy = imap
        .filter(|i| !i.sent_folder.is_empty() && !transport.copies())
        .map(|i| SentCopy {
            imap: i.clone(),
            folder: i.sent_folder.clone(),
        });
    let recovery = Recovery {
        imap: imap.filter(|_| transport.copies()).map(|i| {
            let mut folders = vec![s.mailbox.folder.clone()];
            for f in ["INBOX", i.sent_folder.as_str()] {
                if !f.is_empty() && !folders.iter().any(|x| x.eq_ignore_ascii_case(f)) {
                    folders.push(f.to_string());
                }
            }
            (i.clone(), folders)
        }),
        wait: Duration::from_secs(s.smtp.recovery_wait_secs),
    };
    let policy = Policy {
        retry: (
            Duration::from_secs(s.smtp.retry_initial_secs),
            Duration::from_secs(s.smtp.retry_max_secs),
        ),
        concurrency: s.smtp.pool_max as usize,
        sent_copy,
        recovery,
    };
    Ok(Sender::new(
        app.store.clone(),
        transport,
        app.outbox_signal.clone(),
        policy,
        app.clock.clone(),
    ))
}

/// Runs the intake, the sender and the scheduler until `shutdown`, then stops
/// them within [`SHUTDOWN_BUDGET`] (see the module docs). A folder that
/// cannot be created or opened ([`SetupError`]) stops the start; a server
/// that cannot be reached now does not (intake retries).
pub async fn run(app: Arc<App>, shutdown: CancellationToken) -> anyhow::Result<()> {
    preflight(&app).await?;
    let sender = sender(&app)?;
    let sd = shutdown.clone();
    let sender_task = supervise("sender", shutdown.clone(), move || {
        sender.clone().run(sd.clone())
    });
    let (a, sd) = (app.clone(), shutdown.clone());
    let intake_task = supervise("intake", shutdown.clone(), move || {
        run_intake(a.clone(), sd.clone())
    });
    let (a, sd) = (app.clone(), shutdown.clone());
    let reminder_task = supervise("scheduler", shutdown.clone(), move || {
        run_scheduler(a.clone(), sd.clone())
    });
    tracing::info!("postbote running");
    crate::systemd::notify("READY=1\nSTATUS=running");
    let watchdog = crate::systemd::watchdog_interval().map(|every| {
        tokio::spawn(async move {
            loop {
                crate::systemd::notify("WATCHDOG=1");
                tokio::time::sleep(every).await;
            }
        })
    });
    shutdown.cancelled().await;
    crate::systemd::notify("STOPPING=1\nSTATUS=shutting down");
    tracing::info!(
        budget_s = SHUTDOWN_BUDGET.as_secs(),
        "shutting down: no new work; finishing the message in hand and the mail in flight"
    );
    tokio::join!(
        finish("intake", intake_task, WORK_GRACE),
        finish("scheduler", reminder_task, WORK_GRACE),
        finish("sender", sender_task, SEND_GRACE),
    );
    if let Some(w) = watchdog {
        w.abort();
    }
    // NOTE: only now: the sender records what it sent through the pool.
    if tokio::time::timeout(CLOSE_GRACE, app.store.close())
        .await
        .is_err()
    {
        tracing::warn!("the database pool did not close in time; stopping anyway");
    }
    tracing::info!("postbote stopped");
    Ok(())
}

/// Waits up to `grace` for a task to end after the shutdown signal; then
/// stops it where it is.
async fn finish(name: &'static str, mut task: JoinHandle<()>, grace: Duration) {
    if tokio::time::timeout(grace, &mut task).await.is_ok() {
        return;
    }
    tracing::warn!(
        task = name,
        grace_s = grace.as_secs(),
        "still busy after its grace period: stopped where it is (retried after the restart)"
    );
    task.abort();
    let _ = tokio::time::timeout(ABORT_GRACE, task).await;
}

/// Aborts a task when dropped: a supervisor that is stopped stops its child.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs a long-lived task and restarts it if it ends or panics before
/// shutdown: the daemon never goes on half-dead. Aborting the returned
/// handle aborts the running task too.
fn supervise<F, Fut>(name: &'static str, shutdown: CancellationToken, make: F) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let child = tokio::spawn(make());
            let _stop_with_me = AbortOnDrop(child.abort_handle());
            let result = child.await;
            if shutdown.is_cancelled() {
                return;
            }
            match result {
                Ok(()) => tracing::error!(task = name, "task ended unexpectedly; restarting it"),
                Err(e) => tracing::error!(task = name, error = %e, "task panicked; restarting it"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    })
}

/// Connects to the IMAP mailbox once before the start: learns the server's
/// folder layout, creates and subscribes the processed (and sent) folder, opens
/// the watched one.
async fn preflight(app: &App) -> anyhow::Result<()> {
    let s = &app.settings;
    let (SourceKind::Imap, Some(imap)) = (s.mailbox.source, s.imap.clone()) else {
        return Ok(());
    };
    let sent = imap.sent_folder.clone();
    let mut source = ImapSource::new(imap.clone(), &s.mailbox.folder, &s.mailbox.processed_folder);
    let mut result = source.connect().await;
    if result.is_ok() && !sent.is_empty() && imap.password.is_some() {
        result = crate::mailbox::imap::prepare_folder(&imap, &sent, "imap.sent_folder").await;
    }
    match result {
        Ok(()) => {
            let (watched, processed) = source.server_folders();
            tracing::info!(%watched, %processed, "mailbox folders ready");
            Ok(())
        }
        Err(e) if e.downcast_ref::<SetupError>().is_some() => {
            let error = format!("{e:#}");
            let _ = health::mailbox_failed(&app.store, &error, true).await;
            Err(e.context("the mailbox cannot work as configured"))
        }
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "mailbox not reachable at start; intake keeps trying");
            Ok(())
        }
    }
}

async fn run_intake(app: Arc<App>, shutdown: CancellationToken) {
    let app = &*app;
    let s = &app.settings;
    match s.mailbox.source {
        SourceKind::Imap => {
            let Some(imap) = s.imap.clone() else {
                tracing::error!("mailbox.source is imap but [imap] is missing");
                return shutdown.cancelled().await;
            };
            let backoff = Backoff::new(
                Duration::from_millis(imap.backoff_initial_ms),
                Duration::from_secs(imap.backoff_max_secs),
            );
            let source = ImapSource::new(imap, &s.mailbox.folder, &s.mailbox.processed_folder);
            worker::run(app, source, backoff, shutdown).await;
        }
        SourceKind::Maildir => {
            let Some(md) = s.maildir.clone() else {
                tracing::error!("mailbox.source is maildir but [maildir] is missing");
                return shutdown.cancelled().await;
            };
            let poll = Duration::from_secs(md.poll_interval_secs);
            let source = MaildirSource::new(&md.path, &s.mailbox.processed_folder, poll);
            let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
            worker::run(app, source, backoff, shutdown).await;
        }
    }
}

async fn run_scheduler(app: Arc<App>, shutdown: CancellationToken) {
    let mut passes = 0u64;
    loop {
        stall_for_tests(passes, &shutdown).await;
        if shutdown.is_cancelled() {
            return;
        }
        passes += 1;
        let clock = app.clock.now();
        let plan = match crate::calendar::scheduler::tick(&app, clock).await {
            Ok(t) => {
                if t.reminders + t.event_mails + t.skipped > 0 || t.digest {
                    tracing::info!(?t, "scheduler queued mail");
                }
                t.plan
            }
            Err(e) => {
                let error = format!("{e:#}");
                tracing::error!(error = %error, "scheduler pass failed");
                let _ =
                    crate::store::health::set(&app.store, health::SCHEDULER_ERROR, &error).await;
                e.tick.plan
            }
        };
        let sleep = plan.sleep(app.clock.now(), chrono::Utc::now(), SCHEDULER_MAX_SLEEP);
        let next = chrono::Utc::now()
            + chrono::Duration::from_std(sleep).unwrap_or(chrono::Duration::zero());
        // NOTE: written after failed passes too: `status` judges the planned
        // pass, and reports the failure itself from `SCHEDULER_ERROR`.
        let recorded = crate::store::health::scheduler_pass(
            &app.store,
            &crate::store::ts(clock),
            &crate::store::ts(next),
        )
        .await;
        if let Err(e) = recorded {
            tracing::error!(error = %format!("{e:#}"), "cannot record the scheduler pass");
        }
        tracing::debug!(
            sleep_s = sleep.as_secs(),
            "scheduler sleeps until its next pass"
        );
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = app.scheduler_signal.notified() => {}
            _ = tokio::time::sleep(sleep) => {}
        }
    }
}

/// Debug builds only: with `POSTBOTE_TEST_SCHEDULER_STALL_AFTER=N` the
/// scheduler's pass N+1 never ends, as a pass stuck in a step would, so that
/// the daemon tests can show that `status` reports it. Release builds have
/// no such hook.
#[cfg(debug_assertions)]
async fn stall_for_tests(passes: u64, shutdown: &CancellationToken) {
    let after = std::env::var("POSTBOTE_TEST_SCHEDULER_STALL_AFTER")
        .ok()
        .and_then(|n| n.parse::<u64>().ok());
    if after.is_some_and(|n| passes >= n) {
        tracing::warn!("test hook: the scheduler pass stalls");
        shutdown.cancelled().await;
    }
}

#[cfg(not(debug_assertions))]
async fn stall_for_tests(_: u64, _: &CancellationToken) {}

/// Resolves on SIGTERM or SIGINT.
pub async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    Ok(())
}

/// Listens for SIGUSR1, the wake-up that CLI commands send the daemon after
/// they queued mail or changed what the scheduler plans
/// (`cli::wake`). Call it before the database lock is taken: from
/// then on the lock file names this process, and SIGUSR1's default action
/// would end it.
pub fn listen_for_wakeups() -> anyhow::Result<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::user_defined1()).context("cannot listen for SIGUSR1")
}

/// On each SIGUSR1: wakes the sender, the scheduler and the intake, which
/// look at the queue, the plan and the pending messages at once. Runs until
/// the process ends.
pub async fn forward_wakeups(mut usr1: tokio::signal::unix::Signal, app: Arc<App>) {
    while usr1.recv().await.is_some() {
        tracing::debug!("SIGUSR1 received: waking the sender, the scheduler and the intake");
        app.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Set when dropped: the task holding it was stopped.
    struct Dropped(Arc<AtomicBool>);

    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn a_task_past_its_grace_is_stopped_with_the_supervised_child() {
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = dropped.clone();
        let shutdown = CancellationToken::new();
        let task = supervise("stuck", shutdown.clone(), move || {
            let guard = Dropped(flag.clone());
            async move {
                let _guard = guard;
                // Ignores shutdown, like work stuck in an analysis.
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        shutdown.cancel();
        let started = std::time::Instant::now();
        finish("stuck", task, Duration::from_millis(100)).await;
        assert!(started.elapsed() < Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(dropped.load(Ordering::SeqCst), "the child task still runs");
    }
}
