//! The scheduler: one step function, `tick(app, clock)`, which the daemon
//! calls with the wall clock whenever something falls due (the pass says
//! when: [`Tick::plan`]) or another task wakes it, and tests call with any
//! clock (a whole programme year in fast-forward). Everything it queues is
//! keyed, so any number of ticks and restarts sends nothing twice.
//!
//! Every step runs on its own: a step that fails is logged and collected,
//! and the steps after it run all the same. The alarm check runs last and
//! always; when a step failed, staff get one ALARM naming the failed steps
//! per incident (from the first pass with a failed step to the next pass
//! where every step succeeds), and the pass returns [`TickError`].

use super::{alarm, digest, events, reminders};
use crate::config::Programme;
use crate::context::App;
use crate::store::health;
use crate::workflow::notices;
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
    /// Rows erased by the retention run (0 when it ran earlier that day).
    pub erased: u64,
    /// LÖSCHEN and AUSKUNFT requests performed (or failed) in this pass.
    pub privacy: crate::retention::requests::Performed,
    /// The steps that failed in this pass, in order.
    pub failed: Vec<StepFailure>,
    /// When the next pass has something to do, as far as this pass knows.
    pub plan: Plan,
}

/// When the next pass is due: the earliest time at which something this
/// pass saw falls due. Work that arrives in between (a command mail, a CLI
/// command, mail queued by the intake) wakes the scheduler itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Plan {
    /// On the scheduler's clock: the next reminder of any programme, the
    /// start of an incomplete-application reminder window, the next digest,
    /// the next day's retention run, or a retry of a failed request.
    pub due: Option<DateTime<Utc>>,
    /// On the wall clock (health facts are written on it): when an alarm
    /// threshold is crossed if nothing changes before (the mailbox not
    /// checked or failing to open for too long, mail waiting unprocessed).
    pub alarm: Option<DateTime<Utc>>,
}

/// How soon a pass is tried again after a step failed (the staff alarm says
/// "every minute"), and after a privacy request failed.
pub const RETRY: chrono::Duration = chrono::Duration::seconds(60);

impl Plan {
    /// Makes `at` (on the scheduler's clock) due, if it is earlier.
    pub fn due_at(&mut self, at: Option<DateTime<Utc>>) {
        self.due = earliest(self.due, at);
    }

    /// Makes `at` (on the wall clock) an alarm time, if it is earlier.
    pub fn alarm_at(&mut self, at: Option<DateTime<Utc>>) {
        self.alarm = earliest(self.alarm, at);
    }

    /// How long to sleep from `clock` (the scheduler's) and `wall` until the
    /// next planned pass, at most `max`; at least a second, so that a due
    /// time just reached is not missed by a clock a little behind.
    pub fn sleep(
        &self,
        clock: DateTime<Utc>,
        wall: DateTime<Utc>,
        max: std::time::Duration,
    ) -> std::time::Duration {
        let until = |at: Option<DateTime<Utc>>, from: DateTime<Utc>| {
            at.map(|t| (t - from).to_std().unwrap_or(std::time::Duration::ZERO))
        };
        let margin = std::time::Duration::from_secs(1);
        [until(self.due, clock), until(self.alarm, wall)]
            .into_iter()
            .flatten()
            .map(|d| d + margin)
            .fold(max, std::cmp::Ord::min)
            .max(margin)
    }
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// One step of a pass that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailure {
    /// The step, in English (logs, `status`).
    pub step: &'static str,
    /// The programme's code, for a programme-level step when there are
    /// several programmes.
    pub programme: Option<String>,
    pub error: String,
}

/// A pass in which at least one step failed; every other step ran, the
/// alarm check included. Carries what the pass did.
#[derive(Debug, Clone, thiserror::Error)]
#[error("scheduler step(s) failed: {}", describe(&self.tick.failed))]
pub struct TickError {
    pub tick: Tick,
}

fn describe(failed: &[StepFailure]) -> String {
    failed
        .iter()
        .map(|f| match &f.programme {
            Some(code) => format!("{} ({code}): {}", f.step, f.error),
            None => format!("{}: {}", f.step, f.error),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The steps of a pass, named as logs and the alarm name them.
pub const STEP_READ_EVENTS: &str = "read the programme events";
pub const STEP_READ_ROSTER: &str = "read the roster";
pub const STEP_INCOMPLETE: &str = "incomplete-application reminders";
pub const STEP_SYNC: &str = "programme changes (announcements, updates, cancellations)";
pub const STEP_REMINDERS: &str = "due reminders";
pub const STEP_DIGEST: &str = "staff digest";
pub const STEP_RETENTION: &str = "retention run";
pub const STEP_PRIVACY: &str = "erasure and access requests";
pub const STEP_ALARM: &str = "health alarm";
pub const STEP_REPORT: &str = "alarm about failed steps";

/// Keeps `r`'s value, or records its error under `step` and logs it.
fn keep<T>(failed: &mut Vec<StepFailure>, step: &'static str, r: anyhow::Result<T>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            let error = format!("{e:#}");
            tracing::error!(step, error = %error, "scheduler step failed; the others run on");
            failed.push(StepFailure {
                step,
                programme: None,
                error,
            });
            None
        }
    }
}

/// Runs every scheduled duty due at `clock`; each step on its own, the
/// alarm check last and always. `Err` when any step failed (after all ran).
///
/// The programme-level steps (incomplete-application reminders, programme
/// changes, due reminders) run for every programme in turn, each with its
/// own events, roster and key scope; a retired programme sends nothing. A
/// step failing for one programme is recorded under its code and the other
/// programmes run on.
pub async fn tick(app: &App, clock: DateTime<Utc>) -> Result<Tick, TickError> {
    let mut t = Tick::default();
    let mut failed = Vec::new();
    for programme in app.programmes.iter() {
        programme_steps(app, programme, clock, &mut t, &mut failed).await;
    }
    let desk = app.desk();
    if let Some(sent) = keep(&mut failed, STEP_DIGEST, digest::run(app, clock).await) {
        t.digest = sent;
    }
    // Once a day by the clock: erase what `[retention]` says is due.
    if let Some(Some(c)) = keep(
        &mut failed,
        STEP_RETENTION,
        crate::retention::run_daily(&app.store, &app.settings, &app.programmes, clock).await,
    ) {
        t.erased = c.total();
    }
    // LÖSCHEN and AUSKUNFT by mail: the intake wakes the scheduler after a
    // command mail's commit, so a request is performed within seconds.
    if let Some(p) = keep(
        &mut failed,
        STEP_PRIVACY,
        crate::retention::requests::perform_pending(&app.store, &desk).await,
    ) {
        t.privacy = p;
        if p.failed > 0 {
            // NOTE: a request that failed is tried again at the next pass
            // (up to `MAX_ATTEMPTS`); its retry is planned like a failed step.
            t.plan.due_at(Some(clock + RETRY));
        }
    }
    plan_daily(app, clock, &mut t.plan);
    // NOTE: last and unconditional: a failing step before it must not
    // silence the alarm about everything else.
    if let Some(n) = keep(&mut failed, STEP_ALARM, alarm::check(app).await) {
        t.alarms = n;
    }
    if let Some(at) = keep(&mut failed, STEP_ALARM, alarm::next_due(app).await) {
        t.plan.alarm_at(at);
    }
    let report = report_failed_steps(app, &failed).await;
    if let Some(true) = keep(&mut failed, STEP_REPORT, report) {
        t.alarms += 1;
    }
    let privacy = t.privacy.done + t.privacy.failed;
    if t.event_mails + t.reminders + t.incomplete_reminders + privacy > 0
        || t.digest
        || t.alarms > 0
    {
        app.outbox_signal.notify_one();
    }
    if !failed.is_empty() {
        t.plan.due_at(Some(clock + RETRY));
    }
    t.failed = failed;
    if t.failed.is_empty() {
        Ok(t)
    } else {
        Err(TickError { tick: t })
    }
}

/// The programme-level steps of one pass for `programme`; failures go to
/// `failed`, named with the programme's code when there are several.
async fn programme_steps(
    app: &App,
    programme: &Programme,
    clock: DateTime<Utc>,
    t: &mut Tick,
    failed: &mut Vec<StepFailure>,
) {
    if programme.retired {
        // NOTE: a retired programme sends nothing more; its data stays
        // until retention erases it.
        return;
    }
    let code = (app.programmes.len() > 1).then(|| programme.code.clone());
    let mut mine = Vec::new();
    // Read once: the config changes only at a restart, the roster and staff
    // overrides only between passes.
    let events = keep(
        &mut mine,
        STEP_READ_EVENTS,
        events::effective(&app.store, programme).await,
    );
    let roster = keep(
        &mut mine,
        STEP_READ_ROSTER,
        reminders::roster(&app.store, &programme.code).await,
    );
    let desk = app.desk_for(programme);
    if let Some(n) = keep(
        &mut mine,
        STEP_INCOMPLETE,
        crate::workflow::reminders::queue_due(&app.store, &desk, clock).await,
    ) {
        t.incomplete_reminders += n;
    }
    t.plan
        .due_at(crate::workflow::reminders::window_opens_after(&desk, clock));
    if events.is_none() || roster.is_none() {
        for step in [STEP_SYNC, STEP_REMINDERS] {
            mine.push(StepFailure {
                step,
                programme: None,
                error: "not run: the programme events or the roster could not be read".into(),
            });
        }
    }
    if let (Some(events), Some(roster)) = (&events, &roster) {
        if let Some(n) = keep(
            &mut mine,
            STEP_SYNC,
            reminders::sync(app, &desk, events, roster, clock).await,
        ) {
            t.event_mails += n;
        }
        if let Some(pass) = keep(
            &mut mine,
            STEP_REMINDERS,
            reminders::send_due(app, &desk, events, roster, clock).await,
        ) {
            t.reminders += pass.queued;
            t.skipped += pass.skipped.len();
        }
        t.plan
            .due_at(reminders::next_due(app, &desk, events, roster, clock));
    }
    for mut f in mine {
        f.programme.clone_from(&code);
        failed.push(f);
    }
}

/// The digest's next scheduled time and the next day's retention run.
fn plan_daily(app: &App, clock: DateTime<Utc>, plan: &mut Plan) {
    if app.settings.digest.enabled {
        // NOTE: a cron expression that does not parse fails the digest step
        // itself, which plans a retry.
        if let Ok(schedule) = super::cron::CronSchedule::parse(&app.settings.digest.cron) {
            plan.due_at(schedule.next_after(clock));
        }
    }
    plan.due_at(crate::retention::next_run(clock));
}

/// When steps failed: one ALARM to staff per incident, naming them; when
/// none did, the incident is over. True when an incident is open.
async fn report_failed_steps(app: &App, failed: &[StepFailure]) -> anyhow::Result<bool> {
    if failed.is_empty() {
        health::clear(&app.store, health::SCHEDULER_FAILING_SINCE).await?;
        return Ok(false);
    }
    let since = health::mark_since(&app.store, health::SCHEDULER_FAILING_SINCE).await?;
    let lines: Vec<String> = failed
        .iter()
        .map(|f| {
            format!(
                "{}{}: {}",
                step_german(f.step),
                f.programme
                    .as_ref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default(),
                f.error.chars().take(300).collect::<String>()
            )
        })
        .chain([
            format!("Erster fehlgeschlagener Lauf: {since}"),
            "postbote versucht es jede Minute erneut.".to_string(),
            "Prüfen: postbote status".to_string(),
        ])
        .collect();
    let mut tx = app.store.begin().await?;
    notices::alarm(
        &app.desk(),
        &mut tx,
        &format!("alarm-scheduler:{since}"),
        "ALARM: Geplante Aufgaben schlagen fehl",
        "Beim regelmäßigen Lauf von postbote sind Schritte fehlgeschlagen. Erinnerungen, \
         Ankündigungen oder Übersichten können ausbleiben, bis das behoben ist; die übrigen \
         Schritte laufen weiter.",
        &lines,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

fn step_german(step: &str) -> &'static str {
    match step {
        STEP_READ_EVENTS => "Termine des Programms lesen",
        STEP_READ_ROSTER => "Teilnehmendenliste lesen",
        STEP_INCOMPLETE => "Erinnerungen an unvollständige Bewerbungen",
        STEP_SYNC => "Änderungen im Programm (Ankündigungen, Änderungen, Absagen)",
        STEP_REMINDERS => "fällige Erinnerungen",
        STEP_DIGEST => "Übersicht für das Projektteam",
        STEP_ALARM => "Alarmprüfung",
        STEP_RETENTION => "Löschfristen anwenden",
        STEP_PRIVACY => "Löschungen und Auskünfte auf Befehl",
        _ => "Schritt",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::testing;
    use crate::store::{outbox, ts};

    async fn alarms(app: &App) -> Vec<String> {
        outbox::list(&app.store)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.subject)
            .filter(|s| s.contains("ALARM"))
            .collect()
    }

    #[tokio::test]
    async fn a_failing_step_neither_stops_the_others_nor_silences_the_alarm() {
        let dir = tempfile::tempdir().unwrap();
        let app = testing::app(dir.path()).await;
        // NOTE: a fixed time: with the real one the digest (weekdays from
        // 07:30) was due during office hours and failed too, on the roster.
        // Sunday, 11:00 in Berlin: no digest due.
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        // The mailbox has not been checked for two hours: an alarm is due
        // (the alarm check reads the system clock).
        health::set(
            &app.store,
            health::MAILBOX_OK,
            &ts(Utc::now() - chrono::Duration::hours(2)),
        )
        .await
        .unwrap();
        // And the roster cannot be read.
        let break_roster = "ALTER TABLE participants RENAME TO participants_gone";
        sqlx::query(break_roster)
            .execute(app.store.pool())
            .await
            .unwrap();

        let e = tick(&app, now).await.unwrap_err();
        let steps: Vec<_> = e.tick.failed.iter().map(|f| f.step).collect();
        assert_eq!(steps, [STEP_READ_ROSTER, STEP_SYNC, STEP_REMINDERS], "{e}");
        assert!(e.to_string().contains("participants"), "{e}");
        assert_eq!(e.tick.alarms, 2, "the mailbox alarm and the failed steps");
        let subjects = alarms(&app).await;
        assert_eq!(subjects.len(), 2, "{subjects:?}");
        assert!(
            subjects.iter().any(|s| s.contains("Postfach")),
            "{subjects:?}"
        );
        assert!(
            subjects.iter().any(|s| s.contains("Geplante Aufgaben")),
            "{subjects:?}"
        );
        let raw = outbox::raw(
            &app.store,
            outbox::list(&app.store)
                .await
                .unwrap()
                .iter()
                .find(|r| r.subject.contains("Geplante Aufgaben"))
                .unwrap()
                .id,
        )
        .await
        .unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("Teilnehmendenliste lesen"), "{text}");

        // The next failing pass is the same incident: no second alarm.
        tick(&app, now).await.unwrap_err();
        assert_eq!(alarms(&app).await.len(), 2);

        // Fixed: the pass succeeds and the incident is over; a new failure
        // is a new incident.
        sqlx::query("ALTER TABLE participants_gone RENAME TO participants")
            .execute(app.store.pool())
            .await
            .unwrap();
        let t = tick(&app, now).await.unwrap();
        assert!(t.failed.is_empty());
        assert!(
            health::get(&app.store, health::SCHEDULER_FAILING_SINCE)
                .await
                .unwrap()
                .is_none()
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        sqlx::query(break_roster)
            .execute(app.store.pool())
            .await
            .unwrap();
        tick(&app, now).await.unwrap_err();
        assert_eq!(alarms(&app).await.len(), 3);
    }

    async fn enrol(app: &App, programme: &str, email: &str) {
        let mut tx = app.store.begin().await.unwrap();
        crate::store::participants::upsert(
            &mut tx,
            &crate::store::participants::NewParticipant {
                programme,
                application_id: None,
                municipality: "Stadt Ahausen",
                name: None,
                email,
                role: "participant",
                source: "import",
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }

    /// (key, recipient) of every queued reminder, by key.
    async fn reminder_mails(app: &App) -> Vec<(String, String)> {
        sqlx::query_as(
            "SELECT idempotency_key, env_to FROM outbox WHERE idempotency_key LIKE '%reminder:%' \
             ORDER BY idempotency_key",
        )
        .fetch_all(app.store.pool())
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn each_programme_reminds_its_own_roster_under_its_own_keys_and_a_retired_one_is_silent()
    {
        let dir = tempfile::tempdir().unwrap();
        let root = env!("CARGO_MANIFEST_DIR");
        let files = [
            std::path::PathBuf::from(format!("{root}/config/ews7.toml")),
            testing::programme_file(dir.path(), "EWS8", false),
            testing::programme_file(dir.path(), "EWS9", true),
        ];
        let app = testing::app_with_programmes(dir.path(), &files).await;
        let scopes: Vec<&str> = app
            .programmes
            .iter()
            .map(|p| p.key_scope.as_str())
            .collect();
        assert_eq!(scopes, ["", "EWS8:", "EWS9:"]);
        enrol(&app, "EWS7", "sieben@ahausen.test").await;
        enrol(&app, "EWS8", "acht@ahausen.test").await;
        // On two rosters: reminded by each programme, under two keys.
        enrol(&app, "EWS7", "beide@ahausen.test").await;
        enrol(&app, "EWS8", "beide@ahausen.test").await;
        enrol(&app, "EWS9", "neun@ahausen.test").await;
        // Module 1 on 27.08.2026: its 14-day reminder is due.
        let clock = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 8, 14, 12, 0, 0).unwrap();
        let t = tick(&app, clock).await.unwrap();
        assert_eq!(t.reminders, 4, "{t:?}");
        let mails = reminder_mails(&app).await;
        let expected = [
            (
                "EWS8:reminder:module-1:20160m:acht@ahausen.test",
                "acht@ahausen.test",
            ),
            (
                "EWS8:reminder:module-1:20160m:beide@ahausen.test",
                "beide@ahausen.test",
            ),
            (
                "reminder:module-1:20160m:beide@ahausen.test",
                "beide@ahausen.test",
            ),
            (
                "reminder:module-1:20160m:sieben@ahausen.test",
                "sieben@ahausen.test",
            ),
        ];
        let got: Vec<(&str, &str)> = mails
            .iter()
            .map(|(k, to)| (k.as_str(), to.as_str()))
            .collect();
        assert_eq!(got, expected);
        // Each programme's decisions are its own rows.
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT programme, key FROM programme_mails WHERE kind = 'reminder' ORDER BY key",
        )
        .fetch_all(app.store.pool())
        .await
        .unwrap();
        assert!(
            rows.iter()
                .all(|(p, k)| (p == "EWS8") == k.starts_with("EWS8:")),
            "{rows:?}"
        );
        assert!(!rows.iter().any(|(p, _)| p == "EWS9"), "{rows:?}");
        // The retired programme's events were not even recorded.
        assert!(
            crate::store::programme::events(&app.store, "EWS9")
                .await
                .unwrap()
                .is_empty()
        );
        // The EWS 8 reminder names its programme.
        let subject: String = sqlx::query_scalar(
            "SELECT subject FROM outbox WHERE idempotency_key LIKE 'EWS8:reminder:%' LIMIT 1",
        )
        .fetch_one(app.store.pool())
        .await
        .unwrap();
        assert!(subject.contains("EWS 8"), "{subject}");

        // Again: nothing twice.
        let again = tick(&app, clock + chrono::Duration::minutes(1))
            .await
            .unwrap();
        assert_eq!(again.reminders, 0);
        assert_eq!(reminder_mails(&app).await.len(), 4);

        // The digest: one section per programme that is not retired.
        let now = Utc::now();
        let d = digest::build(&app, now - chrono::Duration::days(1), now, now)
            .await
            .unwrap();
        let names: Vec<&str> = d.sections.iter().map(|s| s.short_name.as_str()).collect();
        assert_eq!(names, ["EWS 7", "EWS 8"]);
        assert_eq!(d.short_name, "EWS 7 / EWS 8");
        let text = app
            .mailer
            .templates()
            .render("staff_digest", &d)
            .unwrap()
            .text;
        assert!(
            text.contains("=== EWS 7 (EWS7) ===") && text.contains("=== EWS 8 (EWS8) ==="),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_step_failing_for_one_programme_does_not_stop_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let app = testing::two_programmes(dir.path()).await;
        enrol(&app, "EWS7", "sieben@ahausen.test").await;
        enrol(&app, "EWS8", "acht@ahausen.test").await;
        // Every reminder decision of the first programme fails.
        sqlx::query(
            "CREATE TRIGGER fail_ews7 BEFORE INSERT ON programme_mails \
             WHEN NEW.programme = 'EWS7' AND NEW.kind = 'reminder' BEGIN SELECT RAISE(ABORT, 'EWS7 broken'); END",
        )
        .execute(app.store.pool())
        .await
        .unwrap();
        let clock = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 8, 14, 12, 0, 0).unwrap();
        let e = tick(&app, clock).await.unwrap_err();
        let failed: Vec<(&str, Option<&str>)> = e
            .tick
            .failed
            .iter()
            .map(|f| (f.step, f.programme.as_deref()))
            .collect();
        assert_eq!(failed, [(STEP_REMINDERS, Some("EWS7"))], "{e}");
        assert!(e.to_string().contains("due reminders (EWS7)"), "{e}");
        assert_eq!(e.tick.reminders, 1);
        let mails = reminder_mails(&app).await;
        assert_eq!(
            mails,
            [(
                "EWS8:reminder:module-1:20160m:acht@ahausen.test".to_string(),
                "acht@ahausen.test".to_string()
            )]
        );
        let alarm = alarms(&app).await;
        assert_eq!(alarm.len(), 1, "{alarm:?}");
    }

    #[tokio::test]
    async fn a_pass_plans_the_next_one_for_the_next_reminder_and_the_alarm_threshold() {
        let dir = tempfile::tempdir().unwrap();
        let app = testing::app(dir.path()).await;
        enrol(&app, "EWS7", "sieben@ahausen.test").await;
        let last_ok = Utc::now();
        health::set(&app.store, health::MAILBOX_OK, &ts(last_ok))
            .await
            .unwrap();
        // Learning group 2 begins on Wed 11.11.2026 at 09:00 CET; its
        // 1-hour reminder is due at 07:00 UTC. The digest (07:30 Berlin)
        // went at 06:30 UTC, the next one is a day later, and so is the
        // next retention run.
        let clock = chrono::DateTime::parse_from_rfc3339("2026-11-11T06:40:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let t = tick(&app, clock).await.unwrap();
        let reminder = chrono::DateTime::parse_from_rfc3339("2026-11-11T07:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(t.plan.due, Some(reminder), "{t:?}");
        let threshold =
            chrono::Duration::seconds(app.settings.health.alarm_mailbox_after_secs as i64);
        let alarm = t.plan.alarm.unwrap();
        assert!(
            (alarm - (last_ok + threshold)).num_seconds().abs() <= 1,
            "{alarm} vs {last_ok}"
        );
        // Past the timeline's last reminder the plan still holds the next
        // day's retention run.
        let late = chrono::DateTime::parse_from_rfc3339("2040-01-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let t = tick(&app, late).await.unwrap();
        let midnight = chrono::DateTime::parse_from_rfc3339("2040-01-02T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(
            t.plan.due.is_some_and(|d| d > late && d <= midnight),
            "{t:?}"
        );
    }

    #[test]
    fn the_sleep_lasts_until_the_earliest_planned_time_within_its_bounds() {
        use std::time::Duration;
        let clock = chrono::DateTime::parse_from_rfc3339("2030-01-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        // The wall clock stands elsewhere (a test clock).
        let wall = clock + chrono::Duration::days(100);
        let max = Duration::from_secs(900);
        let min = chrono::Duration::minutes;
        assert_eq!(Plan::default().sleep(clock, wall, max), max);
        let due = Plan {
            due: Some(clock + min(5)),
            alarm: Some(wall + min(10)),
        };
        assert_eq!(due.sleep(clock, wall, max), Duration::from_secs(301));
        let alarm = Plan {
            due: Some(clock + min(5)),
            alarm: Some(wall + min(2)),
        };
        assert_eq!(alarm.sleep(clock, wall, max), Duration::from_secs(121));
        let far = Plan {
            due: Some(clock + min(600)),
            alarm: None,
        };
        assert_eq!(far.sleep(clock, wall, max), max);
        let past = Plan {
            due: Some(clock - min(1)),
            alarm: None,
        };
        assert_eq!(past.sleep(clock, wall, max), Duration::from_secs(1));
    }
}
