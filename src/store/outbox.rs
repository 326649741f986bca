//! The transactional outbox. A row is written in the transaction of the state
//! change that causes it; its idempotency key makes a second write a no-op.

use super::column::text_enum;
use super::{Store, Tx, now, parse_ts, ts};
use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

text_enum! {
    /// Where an outgoing mail stands (`outbox.state`).
    pub enum OutboxState {
        /// Waiting to be sent (at `next_attempt_at`).
        Queued = "queued",
        /// Claimed by a sender (`owner`, `claimed_at`) for its SMTP
        /// transaction, or sent but not yet recorded. Never picked as due; a
        /// row left here by another run is checked before it is sent again.
        Sending = "sending",
        Sent = "sent",
        /// Refused permanently by the server, or out of attempts.
        Failed = "failed",
        /// Recorded but not sent: the recipient's daily cap was reached.
        Suppressed = "suppressed",
        /// Waits for staff to release its batch.
        Held = "held",
        /// Replaced before its release (a changed decision).
        Withdrawn = "withdrawn",
        /// Not sent: its time (`expires_at`, an event's or interview's start)
        /// had come. Staff get one notice.
        Expired = "expired",
    }
}

text_enum! {
    /// Which budget a mail counts against (`outbox.cap`).
    pub enum CapClass {
        /// Mail an applicant's own mail or the calendar causes; also counted
        /// against the global hourly cap.
        Applicant = "applicant",
        StaffCaused = "staff_caused",
        /// Notices and command replies to staff.
        ToStaff = "to_staff",
        /// ALARM mails and the digest: counted apart from every other kind,
        /// so that a flood of notices cannot suppress them.
        Alarm = "alarm",
    }
}

/// The caps a mail is queued under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub class: CapClass,
    /// At most this many mails to one recipient within 24 hours, counting
    /// alarms apart from all other mail.
    pub daily: u32,
    /// At most this many mails of `class` to anyone within the last hour.
    pub hourly_total: Option<u32>,
}

text_enum! {
    /// Why a mail was written (`outbox.purpose`): the name of its template
    /// in `templates/` (`<purpose>.subject.hbs` and so on).
    pub enum Purpose {
        Confirmation = "confirmation",
        ConfirmationLate = "confirmation_late",
        ConfirmationUpdate = "confirmation_update",
        DecisionAccept = "decision_accept",
        DecisionCorrection = "decision_correction",
        DecisionReject = "decision_reject",
        DecisionWaitlist = "decision_waitlist",
        EventAnnouncement = "event_announcement",
        EventCancel = "event_cancel",
        EventReminder = "event_reminder",
        EventUpdate = "event_update",
        InterviewCancel = "interview_cancel",
        InterviewInvitation = "interview_invitation",
        InterviewNoSlot = "interview_no_slot",
        InterviewUpdate = "interview_update",
        ParticipantWelcome = "participant_welcome",
        ReminderIncomplete = "reminder_incomplete",
        StaffCommandResult = "staff_command_result",
        StaffDigest = "staff_digest",
        StaffLateApplication = "staff_late_application",
        StaffNeedsReview = "staff_needs_review",
        StaffNotice = "staff_notice",
        StaffProcessingFailed = "staff_processing_failed",
    }
}

/// A fully rendered mail, ready to queue.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub idempotency_key: String,
    pub message_id: String,
    pub purpose: Purpose,
    pub application_id: Option<i64>,
    pub env_from: String,
    pub env_to: String,
    pub subject: String,
    pub raw: Vec<u8>,
    /// Not to be sent after this (the event or interview it announces began).
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    Queued(i64),
    /// The idempotency key was used before: nothing new was queued.
    AlreadyQueued,
    /// Recorded but not to be sent (the recipient's daily cap was reached).
    Suppressed(i64),
    /// Recorded but not to be sent: the global hourly cap of its class was
    /// reached.
    OverHourlyCap(i64),
}

/// Queues `mail` inside `tx`. Past `daily_cap` mails to one recipient within
/// 24 hours, the row is stored as `suppressed`: a backstop against loops.
pub async fn enqueue(tx: &mut Tx<'_>, mail: &NewMail, daily_cap: u32) -> anyhow::Result<Enqueued> {
    let budget = Budget {
        class: CapClass::ToStaff,
        daily: daily_cap,
        hourly_total: None,
    };
    enqueue_within(tx, mail, budget).await
}

/// Mail to one recipient since a time, by whether it is an alarm. Read from
/// the `outbox_recipient` index alone: `state` and `cap` sit after `raw` in
/// the row, and a test on them there reads the raw bytes.
const RECENT_TO_RECIPIENT: &str = "SELECT COUNT(*) FROM outbox WHERE env_to = ? AND created_at > ? \
     AND state NOT IN (?, ?, ?) AND (COALESCE(cap, '') = ?) = ?";

/// Mail of one cap class since a time; from the `outbox_cap_created` index
/// alone (see [`RECENT_TO_RECIPIENT`]): it counts every mail of the hour.
const RECENT_OF_CAP: &str =
    "SELECT COUNT(*) FROM outbox WHERE cap = ? AND created_at > ? AND state NOT IN (?, ?, ?)";

/// Queues `mail` inside `tx` under `budget`: past its daily cap to one
/// recipient (alarms counted apart from all other mail) or the hourly cap
/// of its class, the row is stored as `suppressed`.
pub async fn enqueue_within(
    tx: &mut Tx<'_>,
    mail: &NewMail,
    budget: Budget,
) -> anyhow::Result<Enqueued> {
    if key_used(tx, &mail.idempotency_key).await? {
        return Ok(Enqueued::AlreadyQueued);
    }
    let now = Utc::now();
    let alarm = budget.class == CapClass::Alarm;
    let recent: i64 = sqlx::query_scalar(RECENT_TO_RECIPIENT)
        .bind(&mail.env_to)
        .bind(ts(now - Duration::hours(24)))
        .bind(OutboxState::Suppressed)
        .bind(OutboxState::Held)
        .bind(OutboxState::Withdrawn)
        .bind(CapClass::Alarm)
        .bind(alarm)
        .fetch_one(&mut **tx)
        .await?;
    if recent >= i64::from(budget.daily) {
        let note = format!(
            "daily cap of {} mails to this recipient reached",
            budget.daily
        );
        let id = insert(
            tx,
            mail,
            OutboxState::Suppressed,
            Some(&note),
            None,
            Some(budget.class),
        )
        .await?;
        return Ok(Enqueued::Suppressed(id));
    }
    if let Some(hourly) = budget.hourly_total {
        let last_hour: i64 = sqlx::query_scalar(RECENT_OF_CAP)
            .bind(budget.class)
            .bind(ts(now - Duration::hours(1)))
            .bind(OutboxState::Suppressed)
            .bind(OutboxState::Held)
            .bind(OutboxState::Withdrawn)
            .fetch_one(&mut **tx)
            .await?;
        if last_hour >= i64::from(hourly) {
            let note = format!("hourly cap of {hourly} automatic mails reached");
            let id = insert(
                tx,
                mail,
                OutboxState::Suppressed,
                Some(&note),
                None,
                Some(budget.class),
            )
            .await?;
            return Ok(Enqueued::OverHourlyCap(id));
        }
    }
    Ok(Enqueued::Queued(
        insert(
            tx,
            mail,
            OutboxState::Queued,
            None,
            None,
            Some(budget.class),
        )
        .await?,
    ))
}

/// Stores `mail` as `held`: it waits for staff to release `batch` (after a
/// preview). The daily cap does not apply to mail a human releases.
pub async fn enqueue_held(
    tx: &mut Tx<'_>,
    mail: &NewMail,
    batch: &str,
) -> anyhow::Result<Enqueued> {
    if key_used(tx, &mail.idempotency_key).await? {
        return Ok(Enqueued::AlreadyQueued);
    }
    Ok(Enqueued::Queued(
        insert(tx, mail, OutboxState::Held, None, Some(batch), None).await?,
    ))
}

async fn key_used(tx: &mut Tx<'_>, key: &str) -> anyhow::Result<bool> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM outbox WHERE idempotency_key = ?")
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(exists.is_some())
}

async fn insert(
    tx: &mut Tx<'_>,
    mail: &NewMail,
    state: OutboxState,
    note: Option<&str>,
    batch: Option<&str>,
    cap: Option<CapClass>,
) -> anyhow::Result<i64> {
    let now = now();
    sqlx::query_scalar(
        "INSERT INTO outbox (idempotency_key, message_id, purpose, application_id, env_from, env_to, \
         subject, raw, state, next_attempt_at, last_error, created_at, batch, expires_at, cap) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&mail.idempotency_key)
    .bind(&mail.message_id)
    .bind(mail.purpose)
    .bind(mail.application_id)
    .bind(&mail.env_from)
    .bind(&mail.env_to)
    .bind(&mail.subject)
    .bind(&mail.raw)
    .bind(state)
    .bind(&now)
    .bind(note)
    .bind(&now)
    .bind(batch)
    .bind(mail.expires_at.map(ts))
    .bind(cap)
    .fetch_one(&mut **tx)
    .await
    .context("cannot queue outgoing mail")
}

/// Withdraws the held mail of `batch` for one application (a decision changed
/// before release); returns how many rows.
pub async fn withdraw_held(
    tx: &mut Tx<'_>,
    batch: &str,
    application_id: i64,
) -> anyhow::Result<u64> {
    let r = sqlx::query(
        "UPDATE outbox SET state = ? WHERE state = ? AND batch = ? AND application_id = ?",
    )
    .bind(OutboxState::Withdrawn)
    .bind(OutboxState::Held)
    .bind(batch)
    .bind(application_id)
    .execute(&mut **tx)
    .await
    .context("cannot withdraw held mail")?;
    Ok(r.rows_affected())
}

/// Releases every held mail of `batch` for sending now; returns how many.
pub async fn release_held(tx: &mut Tx<'_>, batch: &str) -> anyhow::Result<u64> {
    let r = sqlx::query(
        "UPDATE outbox SET state = ?, next_attempt_at = ? WHERE state = ? AND batch = ?",
    )
    .bind(OutboxState::Queued)
    .bind(now())
    .bind(OutboxState::Held)
    .bind(batch)
    .execute(&mut **tx)
    .await
    .context("cannot release held mail")?;
    Ok(r.rows_affected())
}

/// A mail waiting for release, for the preview.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Held {
    pub id: i64,
    pub purpose: Purpose,
    pub application_id: Option<i64>,
    pub env_to: String,
    pub subject: String,
    pub raw: Vec<u8>,
}

pub async fn held(tx: &mut Tx<'_>, batch: &str) -> anyhow::Result<Vec<Held>> {
    sqlx::query_as(
        "SELECT id, purpose, application_id, env_to, subject, raw FROM outbox \
         WHERE state = ? AND batch = ? ORDER BY application_id, id",
    )
    .bind(OutboxState::Held)
    .bind(batch)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read held mail")
}

/// A queued mail whose time has come.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Due {
    pub id: i64,
    pub message_id: String,
    pub purpose: Purpose,
    pub env_from: String,
    pub env_to: String,
    pub raw: Vec<u8>,
    pub attempts: i64,
}

pub async fn due(store: &Store, limit: i64) -> anyhow::Result<Vec<Due>> {
    sqlx::query_as(
        "SELECT id, message_id, purpose, env_from, env_to, raw, attempts FROM outbox \
         WHERE state = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
    )
    .bind(OutboxState::Queued)
    .bind(now())
    .bind(limit)
    .fetch_all(store.pool())
    .await
    .context("cannot read due outbox rows")
}

/// When the next queued mail falls due.
pub async fn next_due_at(store: &Store) -> anyhow::Result<Option<DateTime<Utc>>> {
    let t: Option<String> =
        sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM outbox WHERE state = ?")
            .bind(OutboxState::Queued)
            .fetch_one(store.pool())
            .await?;
    Ok(t.as_deref().and_then(parse_ts))
}

/// Marks every queued mail whose `expires_at` is not after `at` as
/// `expired`; returns how many.
pub async fn expire_due(store: &Store, at: DateTime<Utc>) -> anyhow::Result<u64> {
    let r = sqlx::query(
        "UPDATE outbox SET state = ?, last_error = ? \
         WHERE state = ? AND expires_at IS NOT NULL AND expires_at <= ?",
    )
    .bind(OutboxState::Expired)
    .bind("expired: its time had come before it could be sent")
    .bind(OutboxState::Queued)
    .bind(ts(at))
    .execute(store.pool())
    .await
    .context("cannot expire outgoing mail")?;
    Ok(r.rows_affected())
}

/// Claims queued mail `id` for `owner` before its SMTP transaction (state
/// `sending`, durable before anything goes out). False when the row is no
/// longer queued, or its time (`expires_at`) has come by `at`.
pub async fn claim(store: &Store, id: i64, owner: &str, at: DateTime<Utc>) -> anyhow::Result<bool> {
    let r = sqlx::query(
        "UPDATE outbox SET state = ?, owner = ?, claimed_at = ? \
         WHERE id = ? AND state = ? AND (expires_at IS NULL OR expires_at > ?)",
    )
    .bind(OutboxState::Sending)
    .bind(owner)
    .bind(now())
    .bind(id)
    .bind(OutboxState::Queued)
    .bind(ts(at))
    .execute(store.pool())
    .await
    .context("cannot claim mail for sending")?;
    Ok(r.rows_affected() == 1)
}

/// Claims, in one transaction (one commit), up to `limit` queued mails that
/// are due now and whose time (`expires_at`) has not come by `at`, for
/// `owner` (state `sending`, durable before anything goes out); returns the
/// rows actually claimed, in id order. A row another sender claimed
/// meanwhile is not among them.
///
/// NOTE: every row returned is claimed before any of them goes out. If the
/// process dies before a row's outcome is recorded, that row is an orphan
/// for the next run ([`orphans`]), checked for its copy like any
/// interrupted send: the price of one commit for a whole batch is that a
/// crash leaves up to `limit` orphans, none sent twice, none lost.
pub async fn claim_due(
    store: &Store,
    owner: &str,
    at: DateTime<Utc>,
    limit: i64,
) -> anyhow::Result<Vec<Due>> {
    // A transaction of its own, only to queue at the store's write gate.
    let mut tx = store.begin().await?;
    let mut rows: Vec<Due> = sqlx::query_as(
        "UPDATE outbox SET state = ?, owner = ?, claimed_at = ? \
         WHERE state = ? AND id IN (SELECT id FROM outbox WHERE state = ? AND next_attempt_at <= ? \
         AND (expires_at IS NULL OR expires_at > ?) ORDER BY next_attempt_at, id LIMIT ?) \
         RETURNING id, message_id, purpose, env_from, env_to, raw, attempts",
    )
    .bind(OutboxState::Sending)
    .bind(owner)
    .bind(now())
    .bind(OutboxState::Queued)
    .bind(OutboxState::Queued)
    .bind(now())
    .bind(ts(at))
    .bind(limit)
    .fetch_all(&mut *tx)
    .await
    .context("cannot claim mail for sending")?;
    tx.commit().await.context("cannot commit the claim")?;
    rows.sort_by_key(|d| d.id);
    Ok(rows)
}

/// What became of a claimed mail, to be recorded on its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server accepted it (`copied`: with the copy to the project mailbox).
    Sent { copied: bool },
    /// A transient failure: counted, tried again at `next`.
    Retry { error: String, next: DateTime<Utc> },
    /// A permanent failure of this mail.
    Failed { error: String },
    /// Sending is paused (authentication, configuration): back to the queue,
    /// not counted as an attempt.
    Released { error: String },
    /// The connection broke after the message was handed over: it may have
    /// been accepted. The row stays `sending` without an owner and is
    /// checked like a crashed send.
    Uncertain { error: String },
    /// Claimed with its batch but never handed to the server (sending
    /// halted or stopped before its turn): back to the queue as it was, not
    /// counted as an attempt.
    Unclaimed,
}

/// Records `outcome` on claimed mail `id`. Only a row still `sending`
/// changes; returns whether one did.
pub async fn record(store: &Store, id: i64, outcome: &Outcome) -> anyhow::Result<bool> {
    let mut conn = store
        .pool()
        .acquire()
        .await
        .context("cannot record the outcome of a send")?;
    record_on(&mut conn, id, outcome).await
}

/// Records the outcomes of several claimed mails in one transaction (one
/// commit): all or none. Returns, in the order given, whether each row was
/// still `sending` and changed.
///
/// NOTE: an outcome is durable only once this commits; a mail sent whose
/// outcome waits for its group when the process dies stays `sending`, an
/// orphan that the next run settles by its copy ([`orphans`]).
pub async fn record_many(store: &Store, outcomes: &[(i64, Outcome)]) -> anyhow::Result<Vec<bool>> {
    let mut tx = store.begin().await?;
    let mut changed = Vec::with_capacity(outcomes.len());
    for (id, outcome) in outcomes {
        changed.push(record_on(&mut tx, *id, outcome).await?);
    }
    tx.commit()
        .await
        .context("cannot record the outcomes of sends")?;
    Ok(changed)
}

async fn record_on(
    conn: &mut sqlx::SqliteConnection,
    id: i64,
    outcome: &Outcome,
) -> anyhow::Result<bool> {
    let sending = OutboxState::Sending;
    let q = match outcome {
        Outcome::Sent { copied } => sqlx::query(
            "UPDATE outbox SET state = ?, sent_at = ?, attempts = attempts + 1, last_error = NULL, \
             copied_to_sent = ? WHERE id = ? AND state = ?",
        )
        .bind(OutboxState::Sent)
        .bind(now())
        .bind(*copied),
        Outcome::Retry { error, next } => sqlx::query(
            "UPDATE outbox SET state = ?, owner = NULL, attempts = attempts + 1, last_error = ?, \
             next_attempt_at = ? WHERE id = ? AND state = ?",
        )
        .bind(OutboxState::Queued)
        .bind(error)
        .bind(ts(*next)),
        Outcome::Failed { error } => sqlx::query(
            "UPDATE outbox SET state = ?, attempts = attempts + 1, last_error = ?, failed_at = ? \
             WHERE id = ? AND state = ?",
        )
        .bind(OutboxState::Failed)
        .bind(error)
        .bind(now()),
        Outcome::Released { error } => sqlx::query(
            "UPDATE outbox SET state = ?, owner = NULL, last_error = ? WHERE id = ? AND state = ?",
        )
        .bind(OutboxState::Queued)
        .bind(error),
        Outcome::Uncertain { error } => {
            sqlx::query("UPDATE outbox SET owner = NULL, last_error = ? WHERE id = ? AND state = ?")
                .bind(error)
        }
        Outcome::Unclaimed => {
            sqlx::query("UPDATE outbox SET state = ?, owner = NULL WHERE id = ? AND state = ?")
                .bind(OutboxState::Queued)
        }
    };
    let r = q
        .bind(id)
        .bind(sending)
        .execute(&mut *conn)
        .await
        .context("cannot record the outcome of a send")?;
    Ok(r.rows_affected() == 1)
}

/// A mail left `sending` by another run (a crash, a killed process) or by
/// an uncertain outcome: it may have been accepted.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Orphan {
    pub id: i64,
    pub message_id: String,
    pub env_to: String,
    pub owner: Option<String>,
    /// When it was claimed (stored text).
    pub claimed_at: Option<String>,
}

/// Rows in `sending` that `owner` did not claim.
pub async fn orphans(store: &Store, owner: &str) -> anyhow::Result<Vec<Orphan>> {
    sqlx::query_as(
        "SELECT id, message_id, env_to, owner, claimed_at FROM outbox \
         WHERE state = ? AND (owner IS NULL OR owner <> ?) ORDER BY id",
    )
    .bind(OutboxState::Sending)
    .bind(owner)
    .fetch_all(store.pool())
    .await
    .context("cannot read interrupted sends")
}

/// Settles orphan `id` (not claimed by `owner`): `found` (its copy is in the
/// project mailbox) marks it sent; otherwise it goes back to the queue, due
/// now, with `note`. Returns whether the row changed.
pub async fn settle_orphan(
    store: &Store,
    id: i64,
    owner: &str,
    found: bool,
    note: &str,
) -> anyhow::Result<bool> {
    let q = if found {
        sqlx::query(
            "UPDATE outbox SET state = ?, sent_at = ?, attempts = attempts + 1, last_error = ?, \
             copied_to_sent = 1 WHERE id = ? AND state = ? AND (owner IS NULL OR owner <> ?)",
        )
        .bind(OutboxState::Sent)
        .bind(now())
        .bind(note)
    } else {
        sqlx::query(
            "UPDATE outbox SET state = ?, owner = NULL, next_attempt_at = ?, last_error = ? \
             WHERE id = ? AND state = ? AND (owner IS NULL OR owner <> ?)",
        )
        .bind(OutboxState::Queued)
        .bind(now())
        .bind(note)
    };
    let r = q
        .bind(id)
        .bind(OutboxState::Sending)
        .bind(owner)
        .execute(store.pool())
        .await
        .context("cannot settle an interrupted send")?;
    Ok(r.rows_affected() == 1)
}

/// Mail `sending` since before `before`: a send that could not be
/// recorded, or an interrupted one not settled yet. (count, oldest claim).
pub async fn stuck_sending(
    store: &Store,
    before: DateTime<Utc>,
) -> anyhow::Result<(i64, Option<String>)> {
    sqlx::query_as(
        "SELECT COUNT(*), MIN(claimed_at) FROM outbox WHERE state = ? \
         AND (claimed_at IS NULL OR claimed_at < ?)",
    )
    .bind(OutboxState::Sending)
    .bind(ts(before))
    .fetch_one(store.pool())
    .await
    .context("cannot look for stuck sends")
}

/// Which rows `postbote outbox retry|ack` touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    One(i64),
    /// Every failed mail (`retry --failed`, `ack --all`).
    AllFailed,
}

/// Puts failed (or, by id, expired) mail back in the queue, due now, with
/// its attempts counted from zero; returns how many rows.
pub async fn requeue(store: &Store, pick: Pick) -> anyhow::Result<u64> {
    let base = "UPDATE outbox SET state = ?, owner = NULL, attempts = 0, next_attempt_at = ?, \
                failed_at = NULL, acked_at = NULL, expires_at = NULL";
    let r = match pick {
        Pick::One(id) => {
            sqlx::query(&format!("{base} WHERE id = ? AND state IN (?, ?)"))
                .bind(OutboxState::Queued)
                .bind(now())
                .bind(id)
                .bind(OutboxState::Failed)
                .bind(OutboxState::Expired)
                .execute(store.pool())
                .await
        }
        Pick::AllFailed => {
            sqlx::query(&format!("{base} WHERE state = ?"))
                .bind(OutboxState::Queued)
                .bind(now())
                .bind(OutboxState::Failed)
                .execute(store.pool())
                .await
        }
    }
    .context("cannot requeue outgoing mail")?;
    Ok(r.rows_affected())
}

/// Acknowledges failed mail: it no longer makes `status` exit 1. Returns
/// how many rows.
pub async fn acknowledge(store: &Store, pick: Pick) -> anyhow::Result<u64> {
    let base = "UPDATE outbox SET acked_at = ? WHERE state = ? AND acked_at IS NULL";
    let r = match pick {
        Pick::One(id) => {
            sqlx::query(&format!("{base} AND id = ?"))
                .bind(now())
                .bind(OutboxState::Failed)
                .bind(id)
                .execute(store.pool())
                .await
        }
        Pick::AllFailed => {
            sqlx::query(base)
                .bind(now())
                .bind(OutboxState::Failed)
                .execute(store.pool())
                .await
        }
    }
    .context("cannot acknowledge failed mail")?;
    Ok(r.rows_affected())
}

/// The state of mail `id`, if there is one.
pub async fn state_of(store: &Store, id: i64) -> anyhow::Result<Option<OutboxState>> {
    sqlx::query_scalar("SELECT state FROM outbox WHERE id = ?")
        .bind(id)
        .fetch_optional(store.pool())
        .await
        .context("cannot read outgoing mail")
}

/// A mail that failed and nobody acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Unacknowledged {
    pub id: i64,
    pub env_to: String,
    /// When it failed (stored text; its creation for rows failed before part 7).
    pub failed_at: String,
    pub last_error: Option<String>,
}

/// Failed mail not acknowledged that failed after `since`, oldest first.
pub async fn unacknowledged_failures(
    store: &Store,
    since: DateTime<Utc>,
) -> anyhow::Result<Vec<Unacknowledged>> {
    sqlx::query_as(
        "SELECT id, env_to, COALESCE(failed_at, created_at) AS failed_at, last_error FROM outbox \
         WHERE state = ? AND acked_at IS NULL AND COALESCE(failed_at, created_at) > ? \
         ORDER BY COALESCE(failed_at, created_at), id",
    )
    .bind(OutboxState::Failed)
    .bind(ts(since))
    .fetch_all(store.pool())
    .await
    .context("cannot read failed outgoing mail")
}

/// An expired mail staff have not been told about.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ExpiredMail {
    pub id: i64,
    pub purpose: Purpose,
    pub env_to: String,
    pub subject: String,
    pub expires_at: Option<String>,
}

/// Expired mail not yet in a notice to staff.
pub async fn expired_unnoticed(tx: &mut Tx<'_>) -> anyhow::Result<Vec<ExpiredMail>> {
    sqlx::query_as(
        "SELECT id, purpose, env_to, subject, expires_at FROM outbox \
         WHERE state = ? AND expiry_noticed = 0 ORDER BY id",
    )
    .bind(OutboxState::Expired)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read expired mail")
}

/// Notes that staff were told about expired mail `ids`.
pub async fn mark_expiry_noticed(tx: &mut Tx<'_>, ids: &[i64]) -> anyhow::Result<()> {
    for id in ids {
        sqlx::query("UPDATE outbox SET expiry_noticed = 1 WHERE id = ?")
            .bind(id)
            .execute(&mut **tx)
            .await
            .context("cannot mark expired mail as noticed")?;
    }
    Ok(())
}

/// One row as `postbote outbox` shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OutboxEntry {
    pub id: i64,
    pub purpose: Purpose,
    pub env_to: String,
    pub subject: String,
    pub state: OutboxState,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub message_id: String,
    /// Not sent after this (a reminder's event, an invitation's interview).
    pub expires_at: Option<String>,
    /// A failed mail someone acknowledged (`postbote outbox ack`).
    pub acked_at: Option<String>,
}

pub async fn list(store: &Store) -> anyhow::Result<Vec<OutboxEntry>> {
    sqlx::query_as(
        "SELECT id, purpose, env_to, subject, state, attempts, next_attempt_at, last_error, \
         created_at, sent_at, message_id, expires_at, acked_at FROM outbox ORDER BY id",
    )
    .fetch_all(store.pool())
    .await
    .context("cannot list outbox")
}

/// The raw bytes of every mail not sent yet (any state but `sent`) that
/// contain `needle`, with their Message-IDs: for [`replace_unsent_raw`].
/// SQLite looks for the bytes, so a start reads only the rows concerned.
pub async fn unsent_raws(
    store: &Store,
    needle: &[u8],
) -> anyhow::Result<Vec<(i64, String, Vec<u8>)>> {
    sqlx::query_as(
        "SELECT id, message_id, raw FROM outbox WHERE state <> ? AND instr(raw, ?) > 0 \
         ORDER BY id",
    )
    .bind(OutboxState::Sent)
    .bind(needle)
    .fetch_all(store.pool())
    .await
    .context("cannot read unsent mail")
}

/// Replaces the raw bytes of a mail not sent yet; false if it was sent meanwhile.
pub async fn replace_unsent_raw(store: &Store, id: i64, raw: &[u8]) -> anyhow::Result<bool> {
    let done = sqlx::query("UPDATE outbox SET raw = ? WHERE id = ? AND state <> ?")
        .bind(raw)
        .bind(id)
        .bind(OutboxState::Sent)
        .execute(store.pool())
        .await
        .context("cannot replace unsent mail")?;
    Ok(done.rows_affected() == 1)
}

/// The raw bytes of one queued or sent mail.
pub async fn raw(store: &Store, id: i64) -> anyhow::Result<Vec<u8>> {
    sqlx::query_scalar("SELECT raw FROM outbox WHERE id = ?")
        .bind(id)
        .fetch_one(store.pool())
        .await
        .context("cannot read outbox mail")
}

/// (state, count), and the creation time of the oldest queued mail.
pub async fn summary(
    store: &Store,
) -> anyhow::Result<(Vec<(OutboxState, i64)>, Option<DateTime<Utc>>)> {
    let counts: Vec<(OutboxState, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM outbox GROUP BY state ORDER BY state")
            .fetch_all(store.pool())
            .await
            .context("cannot count outbox rows")?;
    let oldest: Option<String> =
        sqlx::query_scalar("SELECT MIN(created_at) FROM outbox WHERE state = ?")
            .bind(OutboxState::Queued)
            .fetch_one(store.pool())
            .await?;
    Ok((counts, oldest.as_deref().and_then(parse_ts)))
}

/// The most hours [`failing`] looks back; `health.alarm_outbox_failing_hours`
/// is refused above this.
pub const MAX_FAILING_HOURS: u64 = 8760;

/// A queued mail that keeps failing.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Failing {
    pub id: i64,
    pub env_to: String,
    /// When it was queued (stored text).
    pub created_at: String,
    pub last_error: Option<String>,
}

/// The queued mail failing longest among those queued more than `hours`
/// (at most [`MAX_FAILING_HOURS`]) ago and not sent since.
pub async fn failing(store: &Store, hours: u64) -> anyhow::Result<Option<Failing>> {
    let hours = i64::try_from(hours.min(MAX_FAILING_HOURS)).unwrap_or(8760);
    let limit = Utc::now() - Duration::hours(hours);
    sqlx::query_as(
        "SELECT id, env_to, created_at, last_error FROM outbox WHERE state = ? \
         AND last_error IS NOT NULL AND created_at < ? ORDER BY created_at LIMIT 1",
    )
    .bind(OutboxState::Queued)
    .bind(ts(limit))
    .fetch_optional(store.pool())
    .await
    .context("cannot look for failing outgoing mail")
}

/// A mail of ours, found by its Message-ID (replies and bounces name it).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Ours {
    pub id: i64,
    pub purpose: Purpose,
    pub application_id: Option<i64>,
    /// Its recipient: a copy of mail to someone else is filed as sent.
    pub env_to: String,
}

/// The outbox row whose Message-ID (without angle brackets) is `message_id`.
pub async fn by_message_id(tx: &mut Tx<'_>, message_id: &str) -> anyhow::Result<Option<Ours>> {
    sqlx::query_as("SELECT id, purpose, application_id, env_to FROM outbox WHERE message_id = ?")
        .bind(message_id)
        .fetch_optional(&mut **tx)
        .await
        .context("cannot look up outgoing mail by Message-ID")
}

/// Notes that a bounce came back for mail `id`.
pub async fn mark_bounced(tx: &mut Tx<'_>, id: i64) -> anyhow::Result<()> {
    sqlx::query("UPDATE outbox SET bounced = 1 WHERE id = ?")
        .bind(id)
        .execute(&mut **tx)
        .await
        .context("cannot mark mail as bounced")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::column::assert_round_trip;
    use crate::store::testing;
    use std::collections::BTreeSet;

    #[tokio::test]
    async fn the_cap_counts_read_their_indexes_alone() {
        let (_dir, store) = testing::store().await;
        // NOTE: a test on a column the index lacks reads each counted row,
        // raw bytes and all: the hourly count would read every mail of the hour.
        let plan = testing::query_plan(&store, RECENT_TO_RECIPIENT).await;
        assert!(plan.contains("COVERING INDEX outbox_recipient"), "{plan}");
        let plan = testing::query_plan(&store, RECENT_OF_CAP).await;
        assert!(plan.contains("COVERING INDEX outbox_cap_created"), "{plan}");
    }

    fn mail(key: &str, to: &str) -> NewMail {
        NewMail {
            idempotency_key: key.into(),
            message_id: format!("{key}@ews.test"),
            purpose: Purpose::StaffNotice,
            application_id: None,
            env_from: "projekt@ews.test".into(),
            env_to: to.into(),
            subject: "s".into(),
            raw: b"raw".to_vec(),
            expires_at: None,
        }
    }

    #[tokio::test]
    async fn an_idempotency_key_queues_once_and_the_daily_cap_suppresses_loops() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite")).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(matches!(
            enqueue(&mut tx, &mail("k1", "a@x.test"), 2).await.unwrap(),
            Enqueued::Queued(_)
        ));
        assert_eq!(
            enqueue(&mut tx, &mail("k1", "a@x.test"), 2).await.unwrap(),
            Enqueued::AlreadyQueued
        );
        assert!(matches!(
            enqueue(&mut tx, &mail("k2", "a@x.test"), 2).await.unwrap(),
            Enqueued::Queued(_)
        ));
        assert!(matches!(
            enqueue(&mut tx, &mail("k3", "a@x.test"), 2).await.unwrap(),
            Enqueued::Suppressed(_)
        ));
        assert!(matches!(
            enqueue(&mut tx, &mail("k4", "b@x.test"), 2).await.unwrap(),
            Enqueued::Queued(_)
        ));
        tx.commit().await.unwrap();
        assert_eq!(due(&store, 10).await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_rolled_back_transaction_queues_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite")).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        enqueue(&mut tx, &mail("k1", "a@x.test"), 5).await.unwrap();
        tx.rollback().await.unwrap();
        assert!(due(&store, 10).await.unwrap().is_empty());
    }

    #[test]
    fn outbox_states_and_purposes_round_trip() {
        assert_round_trip!(OutboxState, "", "Queued", "Sending", "queued\n");
        assert_round_trip!(Purpose, "", "test", "Confirmation", "staff-notice");
    }

    #[test]
    fn the_purposes_are_exactly_the_templates() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let templates: BTreeSet<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|n| n.split_once('.').map(|(stem, _)| stem.to_string()))
            .collect();
        let purposes: BTreeSet<String> = Purpose::ALL
            .iter()
            .map(|p| p.as_str().to_string())
            .collect();
        assert_eq!(purposes, templates);
    }

    /// Queues `mail` and sets its row's `created_at` and `last_error`.
    async fn queued_at(store: &Store, m: &NewMail, created: DateTime<Utc>, error: Option<&str>) {
        let mut tx = store.begin().await.unwrap();
        let Enqueued::Queued(id) = enqueue(&mut tx, m, 100).await.unwrap() else {
            panic!("not queued");
        };
        sqlx::query("UPDATE outbox SET created_at = ?, last_error = ? WHERE id = ?")
            .bind(ts(created))
            .bind(error)
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    #[tokio::test]
    async fn the_mail_failing_longest_is_found_within_the_clamp() {
        let (_dir, store) = testing::store().await;
        let now = Utc::now();
        assert_eq!(failing(&store, 24).await.unwrap(), None);
        queued_at(
            &store,
            &mail("k1", "a@x.test"),
            now - Duration::hours(30),
            Some("421 busy"),
        )
        .await;
        queued_at(
            &store,
            &mail("k2", "b@x.test"),
            now - Duration::hours(50),
            Some("421 later"),
        )
        .await;
        queued_at(
            &store,
            &mail("k3", "c@x.test"),
            now - Duration::hours(90),
            None,
        )
        .await;
        queued_at(
            &store,
            &mail("k4", "d@x.test"),
            now - Duration::hours(2),
            Some("421 new"),
        )
        .await;
        let f = failing(&store, 24).await.unwrap().unwrap();
        assert_eq!(f.env_to, "b@x.test");
        assert_eq!(f.last_error.as_deref(), Some("421 later"));
        assert_eq!(
            failing(&store, 40)
                .await
                .unwrap()
                .map(|f| f.env_to)
                .as_deref(),
            Some("b@x.test")
        );
        assert_eq!(failing(&store, 60).await.unwrap(), None);
        // Sent mail is not failing.
        assert!(claim(&store, f.id, "run-1", now).await.unwrap());
        let sent = Outcome::Sent { copied: true };
        assert!(record(&store, f.id, &sent).await.unwrap());
        assert_eq!(failing(&store, 40).await.unwrap(), None);
        assert_eq!(
            failing(&store, 24)
                .await
                .unwrap()
                .map(|f| f.env_to)
                .as_deref(),
            Some("a@x.test")
        );
        // Past the clamp the search looks back MAX_FAILING_HOURS, and does not overflow.
        queued_at(
            &store,
            &mail("k5", "e@x.test"),
            now - Duration::hours(8000),
            Some("x"),
        )
        .await;
        assert_eq!(failing(&store, u64::MAX).await.unwrap(), None);
        assert_eq!(
            failing(&store, 7000)
                .await
                .unwrap()
                .map(|f| f.env_to)
                .as_deref(),
            Some("e@x.test")
        );
        let (counts, oldest) = summary(&store).await.unwrap();
        assert_eq!(
            counts,
            vec![(OutboxState::Queued, 4), (OutboxState::Sent, 1)]
        );
        assert!(oldest.is_some());
    }

    #[tokio::test]
    async fn a_mail_is_found_by_its_message_id_and_marked_bounced() {
        let (_dir, store) = testing::store().await;
        let mut tx = store.begin().await.unwrap();
        let m = NewMail {
            purpose: Purpose::InterviewInvitation,
            ..mail("k1", "a@x.test")
        };
        let Enqueued::Queued(id) = enqueue(&mut tx, &m, 5).await.unwrap() else {
            panic!("not queued");
        };
        assert_eq!(by_message_id(&mut tx, "nope@ews.test").await.unwrap(), None);
        let ours = by_message_id(&mut tx, "k1@ews.test")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            ours,
            Ours {
                id,
                purpose: Purpose::InterviewInvitation,
                application_id: None,
                env_to: "a@x.test".into(),
            }
        );
        mark_bounced(&mut tx, id).await.unwrap();
        let (purpose, bounced): (String, bool) =
            sqlx::query_as("SELECT purpose, bounced FROM outbox WHERE id = ?")
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        assert_eq!((purpose.as_str(), bounced), ("interview_invitation", true));
        tx.commit().await.unwrap();
    }

    #[tokio::test]
    async fn held_mail_is_withdrawn_or_released_under_the_same_state_names() {
        let (_dir, store) = testing::store().await;
        let a = testing::application(&store, 1, false).await;
        let mut tx = store.begin().await.unwrap();
        let with_app = |key: &str| NewMail {
            application_id: Some(a.id),
            ..mail(key, "a@x.test")
        };
        enqueue_held(&mut tx, &with_app("h1"), "notices")
            .await
            .unwrap();
        assert_eq!(withdraw_held(&mut tx, "notices", a.id).await.unwrap(), 1);
        enqueue_held(&mut tx, &with_app("h2"), "notices")
            .await
            .unwrap();
        assert_eq!(held(&mut tx, "notices").await.unwrap().len(), 1);
        assert_eq!(release_held(&mut tx, "notices").await.unwrap(), 1);
        tx.commit().await.unwrap();
        let states: Vec<String> = sqlx::query_scalar("SELECT state FROM outbox ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(states, ["withdrawn", "queued"]);
        let rows = list(&store).await.unwrap();
        assert_eq!(rows[0].state, OutboxState::Withdrawn);
        assert_eq!(rows[1].purpose, Purpose::StaffNotice);
        assert_eq!(due(&store, 10).await.unwrap().len(), 1);
    }

    async fn queued(store: &Store, key: &str, expires_at: Option<DateTime<Utc>>) -> i64 {
        let mut tx = store.begin().await.unwrap();
        let m = NewMail {
            expires_at,
            ..mail(key, &format!("{key}@x.test"))
        };
        let Enqueued::Queued(id) = enqueue(&mut tx, &m, 100).await.unwrap() else {
            panic!("not queued");
        };
        tx.commit().await.unwrap();
        id
    }

    #[tokio::test]
    async fn a_claimed_mail_is_never_due_and_only_its_outcome_moves_it_on() {
        let (_dir, store) = testing::store().await;
        let now = Utc::now();
        let id = queued(&store, "c1", None).await;
        assert!(claim(&store, id, "run-a", now).await.unwrap());
        assert!(
            !claim(&store, id, "run-b", now).await.unwrap(),
            "claimed once"
        );
        assert!(due(&store, 10).await.unwrap().is_empty());
        // Its own run does not see it as interrupted; another run does.
        assert!(orphans(&store, "run-a").await.unwrap().is_empty());
        assert_eq!(orphans(&store, "run-b").await.unwrap()[0].id, id);
        // A pause puts it back without counting an attempt.
        let released = Outcome::Released {
            error: "sending paused: 535".into(),
        };
        assert!(record(&store, id, &released).await.unwrap());
        let row = &list(&store).await.unwrap()[0];
        assert_eq!((row.state, row.attempts), (OutboxState::Queued, 0));
        // An outcome for a row no longer being sent changes nothing.
        let sent = Outcome::Sent { copied: true };
        assert!(!record(&store, id, &sent).await.unwrap());
        assert!(claim(&store, id, "run-a", now).await.unwrap());
        let failed = Outcome::Failed {
            error: "550 5.1.1".into(),
        };
        assert!(record(&store, id, &failed).await.unwrap());
        let row = &list(&store).await.unwrap()[0];
        assert_eq!((row.state, row.attempts), (OutboxState::Failed, 1));
    }

    #[tokio::test]
    async fn an_interrupted_send_is_settled_as_sent_or_requeued_by_another_run_only() {
        let (_dir, store) = testing::store().await;
        let now = Utc::now();
        let (a, b) = (
            queued(&store, "o1", None).await,
            queued(&store, "o2", None).await,
        );
        for id in [a, b] {
            assert!(claim(&store, id, "dead", now).await.unwrap());
        }
        // The uncertain outcome of a live run leaves it for the check too.
        let uncertain = Outcome::Uncertain {
            error: "timed out".into(),
        };
        assert!(record(&store, b, &uncertain).await.unwrap());
        assert!(!settle_orphan(&store, a, "dead", true, "x").await.unwrap());
        assert!(
            settle_orphan(&store, a, "next", true, "copy found")
                .await
                .unwrap()
        );
        assert!(
            settle_orphan(&store, b, "next", false, "no copy")
                .await
                .unwrap()
        );
        let rows = list(&store).await.unwrap();
        assert_eq!(rows[0].state, OutboxState::Sent);
        assert_eq!(rows[0].last_error.as_deref(), Some("copy found"));
        assert_eq!((rows[1].state, rows[1].attempts), (OutboxState::Queued, 0));
        assert_eq!(due(&store, 10).await.unwrap().len(), 1);
        assert_eq!(stuck_sending(&store, now).await.unwrap().0, 0);
    }

    #[tokio::test]
    async fn mail_expires_at_its_time_and_failed_mail_is_requeued_or_acknowledged() {
        let (_dir, store) = testing::store().await;
        let now = Utc::now();
        let late = queued(&store, "e1", Some(now - Duration::minutes(1))).await;
        let soon = queued(&store, "e2", Some(now + Duration::hours(1))).await;
        assert!(
            !claim(&store, late, "r", now).await.unwrap(),
            "its time has come"
        );
        assert_eq!(expire_due(&store, now).await.unwrap(), 1);
        assert!(claim(&store, soon, "r", now).await.unwrap());
        let failed = Outcome::Failed {
            error: "550".into(),
        };
        assert!(record(&store, soon, &failed).await.unwrap());
        let mut tx = store.begin().await.unwrap();
        let expired = expired_unnoticed(&mut tx).await.unwrap();
        assert_eq!(expired.iter().map(|e| e.id).collect::<Vec<_>>(), [late]);
        mark_expiry_noticed(&mut tx, &[late]).await.unwrap();
        assert!(expired_unnoticed(&mut tx).await.unwrap().is_empty());
        tx.commit().await.unwrap();
        let window = now - Duration::hours(72);
        assert_eq!(
            unacknowledged_failures(&store, window).await.unwrap().len(),
            1
        );
        assert_eq!(acknowledge(&store, Pick::AllFailed).await.unwrap(), 1);
        assert_eq!(acknowledge(&store, Pick::One(soon)).await.unwrap(), 0);
        assert!(
            unacknowledged_failures(&store, window)
                .await
                .unwrap()
                .is_empty()
        );
        // --failed takes failed mail only; by id an expired one too.
        assert_eq!(requeue(&store, Pick::AllFailed).await.unwrap(), 1);
        assert_eq!(requeue(&store, Pick::One(late)).await.unwrap(), 1);
        assert_eq!(requeue(&store, Pick::One(late)).await.unwrap(), 0);
        let rows = list(&store).await.unwrap();
        assert!(
            rows.iter()
                .all(|r| r.state == OutboxState::Queued && r.attempts == 0)
        );
        assert!(
            rows.iter()
                .all(|r| r.expires_at.is_none() && r.acked_at.is_none())
        );
        assert_eq!(
            state_of(&store, late).await.unwrap(),
            Some(OutboxState::Queued)
        );
        assert_eq!(state_of(&store, 999).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_batch_is_claimed_in_one_go_and_its_outcomes_recorded_all_or_none() {
        let (_dir, store) = testing::store().await;
        let now = Utc::now();
        let mut ids = Vec::new();
        for k in ["b1", "b2", "b3", "b4", "b5"] {
            ids.push(queued(&store, k, None).await);
        }
        let late = queued(&store, "b6", Some(now - Duration::minutes(1))).await;
        let later = queued(&store, "b7", None).await;
        sqlx::query("UPDATE outbox SET next_attempt_at = ? WHERE id = ?")
            .bind(ts(now + Duration::hours(1)))
            .bind(later)
            .execute(store.pool())
            .await
            .unwrap();
        let first = claim_due(&store, "run-a", now, 3).await.unwrap();
        assert_eq!(first.iter().map(|d| d.id).collect::<Vec<_>>(), ids[..3]);
        // The rest; not the expired one, not the one due later.
        let second = claim_due(&store, "run-b", now, 10).await.unwrap();
        assert_eq!(second.iter().map(|d| d.id).collect::<Vec<_>>(), ids[3..]);
        assert!(
            claim_due(&store, "run-c", now, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            orphans(&store, "run-a")
                .await
                .unwrap()
                .iter()
                .all(|o| o.id > ids[2])
        );
        assert_eq!(orphans(&store, "run-b").await.unwrap().len(), 3);
        assert_eq!(
            state_of(&store, late).await.unwrap(),
            Some(OutboxState::Queued)
        );

        // A group is recorded in one transaction: one refused, none recorded.
        sqlx::query(
            "CREATE TRIGGER refuse_failed BEFORE UPDATE OF state ON outbox \
             WHEN NEW.state = 'failed' BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let group = vec![
            (ids[0], Outcome::Sent { copied: true }),
            (
                ids[1],
                Outcome::Failed {
                    error: "550".into(),
                },
            ),
        ];
        assert!(record_many(&store, &group).await.is_err());
        assert_eq!(
            state_of(&store, ids[0]).await.unwrap(),
            Some(OutboxState::Sending)
        );
        sqlx::query("DROP TRIGGER refuse_failed")
            .execute(store.pool())
            .await
            .unwrap();
        let group = vec![
            (ids[0], Outcome::Sent { copied: true }),
            (
                ids[1],
                Outcome::Failed {
                    error: "550".into(),
                },
            ),
            (ids[2], Outcome::Unclaimed),
            // Not being sent any more: unchanged.
            (later, Outcome::Sent { copied: false }),
        ];
        assert_eq!(
            record_many(&store, &group).await.unwrap(),
            [true, true, true, false]
        );
        let rows = list(&store).await.unwrap();
        let by_id = |id: i64| rows.iter().find(|r| r.id == id).unwrap();
        assert_eq!(
            (by_id(ids[0]).state, by_id(ids[0]).attempts),
            (OutboxState::Sent, 1)
        );
        assert_eq!(by_id(ids[1]).state, OutboxState::Failed);
        // Unclaimed: back in the queue as it was, due again, no attempt counted.
        assert_eq!(
            (by_id(ids[2]).state, by_id(ids[2]).attempts),
            (OutboxState::Queued, 0)
        );
        assert_eq!(by_id(later).state, OutboxState::Queued);
        assert_eq!(
            claim_due(&store, "run-c", now, 10)
                .await
                .unwrap()
                .iter()
                .map(|d| d.id)
                .collect::<Vec<_>>(),
            [ids[2]]
        );
    }
}
