//! Selection decisions, one per application, with the state of its notice.

use super::column::text_enum;
use super::{Store, Tx, now};
use anyhow::Context;
use serde::Serialize;

text_enum! {
    /// Where a decision's notice stands (`decisions.notice`).
    pub enum NoticeState {
        /// The notice waits in the outbox for the release.
        Held = "held",
        /// The notice was released (sent or sending).
        Released = "released",
    }
}

text_enum! {
    /// What was decided (`decisions.outcome`).
    pub enum Outcome {
        Accept = "accept",
        Reject = "reject",
        Waitlist = "waitlist",
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Decision {
    pub application_id: i64,
    pub outcome: Outcome,
    pub persons: i64,
    pub revision: i64,
    pub notice: NoticeState,
    pub decided_by: String,
    pub decided_at: String,
    pub released_at: Option<String>,
}

const COLUMNS: &str =
    "application_id, outcome, persons, revision, notice, decided_by, decided_at, released_at";

pub async fn get(tx: &mut Tx<'_>, application_id: i64) -> anyhow::Result<Option<Decision>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM decisions WHERE application_id = ?"
    ))
    .bind(application_id)
    .fetch_optional(&mut **tx)
    .await
    .context("cannot read decision")
}

pub async fn all(store: &Store) -> anyhow::Result<Vec<Decision>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM decisions ORDER BY application_id"
    ))
    .fetch_all(store.pool())
    .await
    .context("cannot list decisions")
}

pub async fn all_tx(tx: &mut Tx<'_>) -> anyhow::Result<Vec<Decision>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM decisions ORDER BY application_id"
    ))
    .fetch_all(&mut **tx)
    .await
    .context("cannot list decisions")
}

/// The decisions on programme `programme`'s applications.
pub async fn all_in_tx(tx: &mut Tx<'_>, programme: &str) -> anyhow::Result<Vec<Decision>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM decisions WHERE application_id IN \
         (SELECT id FROM applications WHERE programme = ?) ORDER BY application_id"
    ))
    .bind(programme)
    .fetch_all(&mut **tx)
    .await
    .context("cannot list decisions")
}

/// Writes a decision (a new revision when one exists); returns the revision.
pub async fn set(
    tx: &mut Tx<'_>,
    application_id: i64,
    outcome: Outcome,
    persons: i64,
    notice: NoticeState,
    by: &str,
) -> anyhow::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO decisions (application_id, outcome, persons, revision, notice, decided_by, decided_at) \
         VALUES (?, ?, ?, 1, ?, ?, ?) \
         ON CONFLICT (application_id) DO UPDATE SET outcome = excluded.outcome, persons = excluded.persons, \
         revision = decisions.revision + 1, notice = excluded.notice, decided_by = excluded.decided_by, \
         decided_at = excluded.decided_at RETURNING revision",
    )
    .bind(application_id)
    .bind(outcome)
    .bind(persons)
    .bind(notice)
    .bind(by)
    .bind(now())
    .fetch_one(&mut **tx)
    .await
    .context("cannot store decision")
}

/// Marks every held notice released; returns the applications concerned.
pub async fn release_all(tx: &mut Tx<'_>) -> anyhow::Result<Vec<i64>> {
    sqlx::query_scalar(
        "UPDATE decisions SET notice = ?, released_at = ? WHERE notice = ? RETURNING application_id",
    )
    .bind(NoticeState::Released)
    .bind(now())
    .bind(NoticeState::Held)
    .fetch_all(&mut **tx)
    .await
    .context("cannot release decisions")
}

/// Marks every held notice on programme `programme`'s applications
/// released; returns the applications concerned.
pub async fn release_in(tx: &mut Tx<'_>, programme: &str) -> anyhow::Result<Vec<i64>> {
    sqlx::query_scalar(
        "UPDATE decisions SET notice = ?, released_at = ? WHERE notice = ? AND application_id IN \
         (SELECT id FROM applications WHERE programme = ?) RETURNING application_id",
    )
    .bind(NoticeState::Released)
    .bind(now())
    .bind(NoticeState::Held)
    .bind(programme)
    .fetch_all(&mut **tx)
    .await
    .context("cannot release decisions")
}

/// How many decisions there are of each `outcome/notice`, for `status`.
pub async fn counts(store: &Store) -> anyhow::Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "SELECT outcome || '/' || notice, COUNT(*) FROM decisions GROUP BY outcome, notice ORDER BY 1",
    )
    .fetch_all(store.pool())
    .await
    .context("cannot count decisions")
}

/// Decisions by outcome and notice, of programme `programme`'s applications.
pub async fn counts_in(store: &Store, programme: &str) -> anyhow::Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "SELECT d.outcome || '/' || d.notice, COUNT(*) FROM decisions d \
         JOIN applications a ON a.id = d.application_id WHERE a.programme = ? \
         GROUP BY d.outcome, d.notice ORDER BY 1",
    )
    .bind(programme)
    .fetch_all(store.pool())
    .await
    .context("cannot count decisions")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::column::assert_round_trip;
    use crate::store::testing;

    #[test]
    fn notice_states_round_trip() {
        assert_round_trip!(NoticeState, "", "Held", "sent", "withdrawn");
    }

    #[tokio::test]
    async fn notices_are_held_then_released_and_decisions_counted() {
        let (_dir, store) = testing::store().await;
        let a = testing::application(&store, 1, false).await;
        let b = testing::application(&store, 2, false).await;
        let mut tx = store.begin().await.unwrap();
        assert_eq!(
            set(&mut tx, a.id, Outcome::Accept, 2, NoticeState::Held, "s")
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            set(&mut tx, a.id, Outcome::Accept, 1, NoticeState::Held, "s")
                .await
                .unwrap(),
            2
        );
        set(&mut tx, b.id, Outcome::Reject, 1, NoticeState::Held, "s")
            .await
            .unwrap();
        assert_eq!(
            get(&mut tx, a.id).await.unwrap().unwrap().notice,
            NoticeState::Held
        );
        assert_eq!(release_all(&mut tx).await.unwrap(), vec![a.id, b.id]);
        assert!(release_all(&mut tx).await.unwrap().is_empty());
        tx.commit().await.unwrap();
        let d = all(&store).await.unwrap();
        assert!(d.iter().all(|d| d.notice == NoticeState::Released));
        let notices: Vec<String> = sqlx::query_scalar("SELECT DISTINCT notice FROM decisions")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(notices, ["released"]);
        assert_eq!(
            counts(&store).await.unwrap(),
            vec![
                ("accept/released".to_string(), 1),
                ("reject/released".to_string(), 1)
            ]
        );
    }
}
