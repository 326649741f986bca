//! The scheduler: one step function, `tick(app, clock)`, which the daemon
//! calls every minute with the wall clock and tests call with any clock
//! (a whole programme year in fast-forward). Everything it queues is keyed,
//! so any number of ticks and restarts sends nothing twice.

use super::{alarm, digest, events, reminders};
use crate::context::App;
use chrono::{DateTime, Utc};

/// What one tick did.
#[derive(Debug, Clone, Default)]
pub struct Tick {
    pub incomplete_reminders: usize,
    pub event_mails: usize,
    pub reminders: usize,
    pub skipped: usize,
    pub digest: bool,
    pub alarms: usize,
}

/// Runs every scheduled duty due at `clock`.
pub async fn tick(app: &App, clock: DateTime<Utc>) -> anyhow::Result<Tick> {
    // Read once: the config changes only at a restart, the roster and staff
    // overrides only between passes.
    let events = events::effective(&app.store, &app.programme).await?;
    let roster = reminders::roster(&app.store).await?;
    let mut t = Tick {
        incomplete_reminders: crate::workflow::reminders::queue_due(&app.store, &app.desk(), clock)
            .await?,
        event_mails: reminders::sync(app, &events, &roster, clock).await?,
        ..Tick::default()
    };
    let pass = reminders::send_due(app, &events, &roster, clock).await?;
    t.reminders = pass.queued;
    t.skipped = pass.skipped.len();
    t.digest = digest::run(app, clock).await?;
    t.alarms = alarm::check(app).await?;
    if t.event_mails + t.reminders + t.incomplete_reminders > 0 || t.digest || t.alarms > 0 {
        app.outbox_signal.notify_one();
    }
    Ok(t)
}
