//! Staff command mails (`staff_commands`): every mail from a staff address
//! that looked like a command, who sent it and what came of it.

use super::{Tx, now};
use anyhow::Context;

/// The longest summary kept, in characters.
pub const SUMMARY_CHARS: usize = 2000;

/// What to record about one command mail.
#[derive(Debug, Clone, Copy)]
pub struct NewCommand<'a> {
    pub message_row: i64,
    pub sender: &'a str,
    /// How the sender was authenticated (`dkim` | `spf` | `secret`); None: not.
    pub via: Option<&'a str>,
    /// What came of it; cut to [`SUMMARY_CHARS`].
    pub summary: &'a str,
}

/// Records a command mail once: a second record for the same message is a
/// no-op. Returns whether a row was written.
pub async fn record(tx: &mut Tx<'_>, c: &NewCommand<'_>) -> anyhow::Result<bool> {
    let r = sqlx::query(
        "INSERT INTO staff_commands (message_row, sender, authenticated, via, summary, created_at) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (message_row) DO NOTHING",
    )
    .bind(c.message_row)
    .bind(c.sender)
    .bind(c.via.is_some())
    .bind(c.via)
    .bind(c.summary.chars().take(SUMMARY_CHARS).collect::<String>())
    .bind(now())
    .execute(&mut **tx)
    .await
    .context("cannot record staff command")?;
    Ok(r.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    #[tokio::test]
    async fn a_command_mail_is_recorded_once_with_its_summary_cut() {
        let (_dir, store) = testing::store().await;
        let row = testing::message(&store, 1).await;
        let long = "ä".repeat(SUMMARY_CHARS + 10);
        let mut tx = store.begin().await.unwrap();
        let c = NewCommand {
            message_row: row,
            sender: "team@ews.test",
            via: Some("dkim"),
            summary: &long,
        };
        assert!(record(&mut tx, &c).await.unwrap());
        let again = NewCommand {
            via: None,
            summary: "rejected",
            ..c
        };
        assert!(!record(&mut tx, &again).await.unwrap());
        tx.commit().await.unwrap();
        let (authenticated, via, summary): (bool, Option<String>, String) =
            sqlx::query_as("SELECT authenticated, via, summary FROM staff_commands")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert!(authenticated);
        assert_eq!(via.as_deref(), Some("dkim"));
        assert_eq!(summary.chars().count(), SUMMARY_CHARS);

        let unauthenticated = testing::message(&store, 2).await;
        let mut tx = store.begin().await.unwrap();
        let c = NewCommand {
            message_row: unauthenticated,
            sender: "someone@x.test",
            via: None,
            summary: "rejected: not staff",
        };
        assert!(record(&mut tx, &c).await.unwrap());
        tx.commit().await.unwrap();
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM staff_commands WHERE authenticated = 0 AND via IS NULL",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(n, 1);
    }
}
