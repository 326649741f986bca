//! Interviews that staff pinned or released. The plan for everyone else is
//! computed on demand (`workflow::interviews::plan`).

use super::column::text_enum;
use super::{Store, Tx, now, parse_ts, ts};
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;

text_enum! {
    /// Where an interview stands (`interviews.state`).
    pub enum InterviewState {
        /// Placed by staff, not sent yet.
        Pinned = "pinned",
        /// Its invitation was queued.
        Released = "released",
        /// Called off (a CANCEL went out if it had been released).
        Cancelled = "cancelled",
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Interview {
    pub id: i64,
    pub application_id: i64,
    pub uid: String,
    pub start_at: String,
    pub end_at: String,
    pub state: InterviewState,
    pub sequence: i64,
    /// Whether an invitation was ever queued (a CANCEL then has someone to tell).
    pub sent: bool,
}

impl Interview {
    pub fn start(&self) -> Option<DateTime<Utc>> {
        parse_ts(&self.start_at)
    }
    pub fn end(&self) -> Option<DateTime<Utc>> {
        parse_ts(&self.end_at)
    }
}

const COLUMNS: &str = "id, application_id, uid, start_at, end_at, state, sequence, sent";

pub async fn all_tx(tx: &mut Tx<'_>) -> anyhow::Result<Vec<Interview>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM interviews ORDER BY start_at, id"
    ))
    .fetch_all(&mut **tx)
    .await
    .context("cannot list interviews")
}

/// The interviews of programme `programme`'s applications, by start.
pub async fn all_in_tx(tx: &mut Tx<'_>, programme: &str) -> anyhow::Result<Vec<Interview>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM interviews WHERE application_id IN \
         (SELECT id FROM applications WHERE programme = ?) ORDER BY start_at, id"
    ))
    .bind(programme)
    .fetch_all(&mut **tx)
    .await
    .context("cannot list interviews")
}

pub async fn for_application(
    tx: &mut Tx<'_>,
    application_id: i64,
) -> anyhow::Result<Option<Interview>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM interviews WHERE application_id = ?"
    ))
    .bind(application_id)
    .fetch_optional(&mut **tx)
    .await
    .context("cannot read interview")
}

pub struct NewInterview<'a> {
    pub application_id: i64,
    pub uid: &'a str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub state: InterviewState,
    pub sequence: i64,
    pub sent: bool,
}

/// Creates or updates the interview of an application and returns it.
pub async fn upsert(tx: &mut Tx<'_>, n: &NewInterview<'_>) -> anyhow::Result<Interview> {
    let now = now();
    sqlx::query(
        "INSERT INTO interviews (application_id, uid, start_at, end_at, state, sequence, sent, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (application_id) DO UPDATE SET start_at = excluded.start_at, end_at = excluded.end_at, \
         state = excluded.state, sequence = excluded.sequence, sent = excluded.sent, updated_at = excluded.updated_at",
    )
    .bind(n.application_id)
    .bind(n.uid)
    .bind(ts(n.start))
    .bind(ts(n.end))
    .bind(n.state)
    .bind(n.sequence)
    .bind(n.sent)
    .bind(&now)
    .bind(&now)
    .execute(&mut **tx)
    .await
    .context("cannot store interview")?;
    for_application(tx, n.application_id)
        .await?
        .context("interview vanished after writing it")
}

/// How many interviews are in each state, for `status`.
pub async fn counts(store: &Store) -> anyhow::Result<Vec<(InterviewState, i64)>> {
    sqlx::query_as("SELECT state, COUNT(*) FROM interviews GROUP BY state ORDER BY state")
        .fetch_all(store.pool())
        .await
        .context("cannot count interviews")
}

/// Interviews by state, of programme `programme`'s applications.
pub async fn counts_in(
    store: &Store,
    programme: &str,
) -> anyhow::Result<Vec<(InterviewState, i64)>> {
    sqlx::query_as(
        "SELECT i.state, COUNT(*) FROM interviews i JOIN applications a ON a.id = i.application_id \
         WHERE a.programme = ? GROUP BY i.state ORDER BY i.state",
    )
    .bind(programme)
    .fetch_all(store.pool())
    .await
    .context("cannot count interviews")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::column::assert_round_trip;
    use crate::store::testing;

    #[test]
    fn interview_states_round_trip() {
        assert_round_trip!(InterviewState, "", "Pinned", "canceled", "held");
    }

    #[tokio::test]
    async fn interviews_are_stored_under_their_state_names_and_counted() {
        let (_dir, store) = testing::store().await;
        let now = Utc::now();
        let mut planned = Vec::new();
        for (n, state) in [
            (1, InterviewState::Released),
            (2, InterviewState::Pinned),
            (3, InterviewState::Released),
        ] {
            planned.push((testing::application(&store, n, false).await.id, state));
        }
        let mut tx = store.begin().await.unwrap();
        for (application_id, state) in planned {
            let uid = format!("interview-{application_id}");
            let i = upsert(
                &mut tx,
                &NewInterview {
                    application_id,
                    uid: &uid,
                    start: now,
                    end: now,
                    state,
                    sequence: 0,
                    sent: state == InterviewState::Released,
                },
            )
            .await
            .unwrap();
            assert_eq!(i.state, state);
        }
        let states: Vec<String> = sqlx::query_scalar("SELECT state FROM interviews ORDER BY id")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        assert_eq!(states, ["released", "pinned", "released"]);
        tx.commit().await.unwrap();
        assert_eq!(
            counts(&store).await.unwrap(),
            vec![(InterviewState::Pinned, 1), (InterviewState::Released, 2)]
        );
    }
}
