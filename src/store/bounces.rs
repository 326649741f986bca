//! Bounces (delivery status notifications) that came back, each failed
//! recipient matched, where possible, to the outbox row it concerns.

use super::{Tx, now};
use anyhow::Context;

/// One failed recipient of a bounce.
#[derive(Debug, Clone, Copy)]
pub struct NewBounce<'a> {
    /// The stored message that is the bounce.
    pub message_row: i64,
    /// The outbox row the bounce names, if it names one of ours.
    pub outbox_id: Option<i64>,
    pub address: &'a str,
    pub action: &'a str,
    pub status: Option<&'a str>,
    pub diagnostic: Option<&'a str>,
}

/// Records `b`; the same bounce and address a second time is a no-op.
/// Returns whether a row was written.
pub async fn record(tx: &mut Tx<'_>, b: &NewBounce<'_>) -> anyhow::Result<bool> {
    let r = sqlx::query(
        "INSERT INTO bounces (message_row, outbox_id, address, action, status, diagnostic, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_row, address) DO NOTHING",
    )
    .bind(b.message_row)
    .bind(b.outbox_id)
    .bind(b.address)
    .bind(b.action)
    .bind(b.status)
    .bind(b.diagnostic)
    .bind(now())
    .execute(&mut **tx)
    .await
    .context("cannot record bounce")?;
    Ok(r.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    #[tokio::test]
    async fn a_bounce_is_recorded_once_per_message_and_address() {
        let (_dir, store) = testing::store().await;
        let row = testing::message(&store, 1).await;
        let b = NewBounce {
            message_row: row,
            outbox_id: None,
            address: "gone@stadt.test",
            action: "failed",
            status: Some("5.1.1"),
            diagnostic: Some("550 no such user"),
        };
        let mut tx = store.begin().await.unwrap();
        assert!(record(&mut tx, &b).await.unwrap());
        assert!(!record(&mut tx, &b).await.unwrap());
        let other = NewBounce {
            address: "also@stadt.test",
            status: None,
            diagnostic: None,
            ..b
        };
        assert!(record(&mut tx, &other).await.unwrap());
        tx.commit().await.unwrap();
        let rows: Vec<(String, Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT address, status, outbox_id FROM bounces ORDER BY id")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(
            rows,
            vec![
                ("gone@stadt.test".into(), Some("5.1.1".into()), None),
                ("also@stadt.test".into(), None, None)
            ]
        );
    }
}
