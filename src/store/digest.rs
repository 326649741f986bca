//! The staff digest's reads (`calendar::digest`) across the intake's, the
//! interviews' and the outbox's tables. A period `(since, until]` is measured
//! on the rows' own (wall-clock) timestamps. Read-only.

use super::interviews::InterviewState;
use super::messages::MessageState;
use super::outbox::{OutboxState, Purpose};
use super::ownership::HoldState;
use super::{Store, ts};
use anyhow::Context;
use chrono::{DateTime, Utc};

/// An application that came in during the period.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NewApplication {
    pub reference: String,
    pub municipality: Option<String>,
    pub applicant: String,
    pub complete: bool,
    pub late: bool,
}

/// Applications created in the period, in order of arrival.
pub async fn new_applications(
    store: &Store,
    programme: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> anyhow::Result<Vec<NewApplication>> {
    sqlx::query_as(
        "SELECT reference, municipality, applicant, complete, late FROM applications \
         WHERE programme = ? AND created_at > ? AND created_at <= ? ORDER BY id",
    )
    .bind(programme)
    .bind(ts(since))
    .bind(ts(until))
    .fetch_all(store.pool())
    .await
    .context("cannot read new applications")
}

/// Why an incoming mail needs a human.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attention {
    /// It could not be processed.
    Failed,
    /// A reply to a mail of ours.
    Reply,
    /// A question or anything else postbote does not act on.
    Other,
}

/// An incoming mail left for a human.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedsHuman {
    pub from: Option<String>,
    pub subject: Option<String>,
    pub attention: Attention,
}

/// Mails received in the period that are replies, other mail, or failed,
/// in order of arrival.
pub async fn needs_human(
    store: &Store,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> anyhow::Result<Vec<NeedsHuman>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        from_address: Option<String>,
        subject: Option<String>,
        class: Option<String>,
        state: MessageState,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT from_address, subject, class, state FROM messages WHERE received_at > ? AND received_at <= ? \
         AND (class IN ('reply', 'other') OR state = ?) ORDER BY id",
    )
    .bind(ts(since))
    .bind(ts(until))
    .bind(MessageState::Failed)
    .fetch_all(store.pool())
    .await
    .context("cannot read mails that need a human")?;
    Ok(rows
        .into_iter()
        .map(|r| NeedsHuman {
            attention: match (r.class.as_deref(), r.state) {
                (_, MessageState::Failed) => Attention::Failed,
                (Some("reply"), _) => Attention::Reply,
                _ => Attention::Other,
            },
            from: r.from_address,
            subject: r.subject,
        })
        .collect())
}

/// A released interview: its application and when it starts or ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interview {
    pub reference: String,
    /// A stored timestamp (`start_at` or `end_at`).
    pub at: String,
}

/// Released interviews starting in `[from, to)`, by start.
pub async fn interviews_starting(
    store: &Store,
    programme: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<Vec<Interview>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT a.reference, i.start_at FROM interviews i JOIN applications a ON a.id = i.application_id \
         WHERE a.programme = ? AND i.state = ? AND i.start_at >= ? AND i.start_at < ? \
         ORDER BY i.start_at",
    )
    .bind(programme)
    .bind(InterviewState::Released)
    .bind(ts(from))
    .bind(ts(to))
    .fetch_all(store.pool())
    .await
    .context("cannot read upcoming interviews")?;
    Ok(rows
        .into_iter()
        .map(|(reference, at)| Interview { reference, at })
        .collect())
}

/// Released interviews ended by `until` whose application has no decision
/// yet, by start; `at` is the end.
pub async fn undecided(
    store: &Store,
    programme: &str,
    until: DateTime<Utc>,
) -> anyhow::Result<Vec<Interview>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT a.reference, i.end_at FROM interviews i JOIN applications a ON a.id = i.application_id \
         WHERE a.programme = ? AND i.state = ? AND i.end_at <= ? \
         AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.application_id = a.id) ORDER BY i.start_at",
    )
    .bind(programme)
    .bind(InterviewState::Released)
    .bind(ts(until))
    .fetch_all(store.pool())
    .await
    .context("cannot read interviews without a decision")?;
    Ok(rows
        .into_iter()
        .map(|(reference, at)| Interview { reference, at })
        .collect())
}

/// An application marked as a possible duplicate, not yet merged or kept.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OpenDuplicate {
    pub reference: String,
    pub municipality: Option<String>,
    pub owner: String,
    pub original: String,
}

/// Every open "possible duplicate" mark, oldest first.
pub async fn open_duplicates(store: &Store, programme: &str) -> anyhow::Result<Vec<OpenDuplicate>> {
    sqlx::query_as(
        "SELECT a.reference, a.municipality, COALESCE(a.owner, a.applicant) AS owner, d.reference AS original \
         FROM applications a JOIN applications d ON d.id = a.duplicate_of \
         WHERE a.programme = ? AND a.merged_into IS NULL ORDER BY a.id",
    )
    .bind(programme)
    .fetch_all(store.pool())
    .await
    .context("cannot read the possible duplicates")
}

/// An address change waiting for staff.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HeldChange {
    pub reference: String,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: String,
}

/// Every address change still held, oldest first.
pub async fn held_changes(store: &Store, programme: &str) -> anyhow::Result<Vec<HeldChange>> {
    sqlx::query_as(
        "SELECT a.reference, h.field, h.old_value, h.new_value FROM held_address_changes h \
         JOIN applications a ON a.id = h.application_id WHERE a.programme = ? AND h.state = ? \
         ORDER BY h.id",
    )
    .bind(programme)
    .bind(HoldState::Held)
    .fetch_all(store.pool())
    .await
    .context("cannot read the held address changes")
}

/// How many outgoing mails wait for staff to release them.
pub async fn held_count(store: &Store) -> anyhow::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = ?")
        .bind(OutboxState::Held)
        .fetch_one(store.pool())
        .await
        .context("cannot count held mails")
}

/// How many outgoing mails about applications of programme `programme`
/// wait for staff to release them.
pub async fn held_count_in(store: &Store, programme: &str) -> anyhow::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox o JOIN applications a ON a.id = o.application_id \
         WHERE a.programme = ? AND o.state = ?",
    )
    .bind(programme)
    .bind(OutboxState::Held)
    .fetch_one(store.pool())
    .await
    .context("cannot count held mails")
}

/// How many mails went out in the period, digests not counted.
pub async fn sent_count(
    store: &Store,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> anyhow::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE state = ? AND sent_at > ? AND sent_at <= ? \
         AND purpose <> ?",
    )
    .bind(OutboxState::Sent)
    .bind(ts(since))
    .bind(ts(until))
    .bind(Purpose::StaffDigest)
    .fetch_one(store.pool())
    .await
    .context("cannot count sent mails")
}

/// An outgoing mail given up on.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FailedMail {
    #[sqlx(rename = "env_to")]
    pub to: String,
    pub subject: String,
    pub last_error: Option<String>,
}

/// Outgoing mails created in the period that failed for good, in order.
pub async fn failed(
    store: &Store,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> anyhow::Result<Vec<FailedMail>> {
    sqlx::query_as(
        "SELECT env_to, subject, last_error FROM outbox WHERE state = ? \
         AND created_at > ? AND created_at <= ? ORDER BY id",
    )
    .bind(OutboxState::Failed)
    .bind(ts(since))
    .bind(ts(until))
    .fetch_all(store.pool())
    .await
    .context("cannot read failed mails")
}

/// A bounce, with the subject of the outgoing mail it matched (if any).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Bounce {
    pub address: String,
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    pub subject: Option<String>,
}

/// Bounces recorded in the period, in order.
pub async fn bounces(
    store: &Store,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> anyhow::Result<Vec<Bounce>> {
    sqlx::query_as(
        "SELECT b.address, b.status, b.diagnostic, o.subject FROM bounces b LEFT JOIN outbox o ON o.id = b.outbox_id \
         WHERE b.created_at > ? AND b.created_at <= ? ORDER BY b.id",
    )
    .bind(ts(since))
    .bind(ts(until))
    .fetch_all(store.pool())
    .await
    .context("cannot read bounces")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn t(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 8, 3, hour, 0, 0).unwrap()
    }

    async fn message(store: &Store, n: u32, class: Option<&str>, state: &str, at: DateTime<Utc>) {
        let sha = format!("{n:064}");
        sqlx::query(
            "INSERT INTO raw_messages (sha256, size, bytes, stored_at) VALUES (?, 1, x'00', ?)",
        )
        .bind(&sha)
        .bind(ts(at))
        .execute(store.pool())
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO messages (sha256, from_address, subject, internal_date, state, class, received_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&sha)
        .bind(format!("m{n}@example.org"))
        .bind(format!("mail {n}"))
        .bind(ts(at))
        .bind(state)
        .bind(class)
        .bind(ts(at))
        .execute(store.pool())
        .await
        .unwrap();
    }

    async fn outgoing(store: &Store, n: u32, purpose: &str, state: &str, at: DateTime<Utc>) {
        sqlx::query(
            "INSERT INTO outbox (idempotency_key, message_id, purpose, env_from, env_to, subject, raw, \
             state, next_attempt_at, last_error, created_at, sent_at) \
             VALUES (?, ?, ?, 'p@example.org', ?, ?, x'00', ?, ?, ?, ?, ?)",
        )
        .bind(format!("k{n}"))
        .bind(format!("<{n}@example.org>"))
        .bind(purpose)
        .bind(format!("to{n}@example.org"))
        .bind(format!("subject {n}"))
        .bind(state)
        .bind(ts(at))
        .bind((state == "failed").then_some("550 no such user"))
        .bind(ts(at))
        .bind((state == "sent").then(|| ts(at)))
        .execute(store.pool())
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn the_period_excludes_its_start_and_includes_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).await.unwrap();
        message(&store, 1, Some("reply"), "processed", t(8)).await;
        message(&store, 2, Some("application"), "failed", t(9)).await;
        message(&store, 3, Some("other"), "processed", t(10)).await;
        message(&store, 4, None, "failed", t(11)).await;
        message(&store, 5, Some("application"), "processed", t(9)).await;
        message(&store, 6, Some("reply"), "processed", t(12)).await;
        let got = needs_human(&store, t(8), t(11)).await.unwrap();
        let what: Vec<(Option<&str>, Attention)> = got
            .iter()
            .map(|m| (m.subject.as_deref(), m.attention))
            .collect();
        assert_eq!(
            what,
            vec![
                (Some("mail 2"), Attention::Failed),
                (Some("mail 3"), Attention::Other),
                (Some("mail 4"), Attention::Failed),
            ]
        );

        outgoing(&store, 1, "confirmation", "sent", t(9)).await;
        outgoing(&store, 2, "staff_digest", "sent", t(9)).await;
        outgoing(&store, 3, "confirmation", "sent", t(8)).await;
        outgoing(&store, 4, "confirmation", "failed", t(10)).await;
        outgoing(&store, 5, "decision", "held", t(10)).await;
        assert_eq!(sent_count(&store, t(8), t(11)).await.unwrap(), 1);
        assert_eq!(
            sent_count(&store, t(8) - Duration::seconds(1), t(11))
                .await
                .unwrap(),
            2
        );
        assert_eq!(held_count(&store).await.unwrap(), 1);
        assert_eq!(
            failed(&store, t(8), t(11)).await.unwrap(),
            vec![FailedMail {
                to: "to4@example.org".into(),
                subject: "subject 4".into(),
                last_error: Some("550 no such user".into()),
            }]
        );
        assert!(failed(&store, t(10), t(11)).await.unwrap().is_empty());
        assert!(bounces(&store, t(8), t(11)).await.unwrap().is_empty());
        assert!(
            new_applications(&store, "EWS7", t(8), t(11))
                .await
                .unwrap()
                .is_empty()
        );
    }
}
