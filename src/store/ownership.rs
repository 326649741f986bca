//! Who may change an application: the addresses staff linked to it, the
//! "possible duplicate" mark, merging two applications, and address changes
//! held until staff confirm them.

use super::column::text_enum;
use super::outbox::{CapClass, OutboxState};
use super::{Store, Tx, now};
use anyhow::Context;
use serde::Serialize;

text_enum! {
    /// Where a held address change stands (`held_address_changes.state`).
    pub enum HoldState {
        /// Waiting for staff; the previous address stays in use.
        Held = "held",
        /// Staff confirmed it: the new address is in use.
        Confirmed = "confirmed",
        /// Staff refused it.
        Rejected = "rejected",
        /// A later change of the same field replaced it.
        Superseded = "superseded",
    }
}

/// An address linked to an application.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Link {
    pub application_id: i64,
    pub address: String,
    pub linked_by: String,
    pub created_at: String,
}

/// The application of programme `programme` that `address` (lower case)
/// is linked to, if any.
pub async fn linked_to(
    tx: &mut Tx<'_>,
    programme: &str,
    address: &str,
) -> anyhow::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT l.application_id FROM application_addresses l \
         JOIN applications a ON a.id = l.application_id WHERE l.address = ? AND a.programme = ?",
    )
    .bind(address)
    .bind(programme)
    .fetch_optional(&mut **tx)
    .await
    .context("cannot look up linked address")
}

/// Links `address` (lower case) to the application. An address already
/// linked to another application of the same programme is moved to this
/// one; its links in other programmes stay.
pub async fn link(
    tx: &mut Tx<'_>,
    application_id: i64,
    address: &str,
    by: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "DELETE FROM application_addresses WHERE address = ? AND application_id != ? \
         AND application_id IN (SELECT id FROM applications WHERE programme = \
         (SELECT programme FROM applications WHERE id = ?))",
    )
    .bind(address)
    .bind(application_id)
    .bind(application_id)
    .execute(&mut **tx)
    .await
    .context("cannot move linked address")?;
    sqlx::query(
        "INSERT INTO application_addresses (application_id, address, linked_by, created_at) \
         VALUES (?, ?, ?, ?) ON CONFLICT (application_id, address) DO UPDATE SET \
         linked_by = excluded.linked_by, created_at = excluded.created_at",
    )
    .bind(application_id)
    .bind(address)
    .bind(by)
    .bind(now())
    .execute(&mut **tx)
    .await
    .context("cannot link address")?;
    Ok(())
}

/// The addresses linked to an application, oldest first.
pub async fn links(tx: &mut Tx<'_>, application_id: i64) -> anyhow::Result<Vec<Link>> {
    sqlx::query_as(
        "SELECT application_id, address, linked_by, created_at FROM application_addresses \
         WHERE application_id = ? ORDER BY id",
    )
    .bind(application_id)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read linked addresses")
}

/// Every linked address, for `postbote applications`.
pub async fn all_links(store: &Store) -> anyhow::Result<Vec<Link>> {
    sqlx::query_as(
        "SELECT application_id, address, linked_by, created_at FROM application_addresses ORDER BY id",
    )
    .fetch_all(store.pool())
    .await
    .context("cannot read linked addresses")
}

/// The addresses linked to an application, for `applications show` (read only).
pub async fn links_of(store: &Store, application_id: i64) -> anyhow::Result<Vec<Link>> {
    sqlx::query_as(
        "SELECT application_id, address, linked_by, created_at FROM application_addresses \
         WHERE application_id = ? ORDER BY id",
    )
    .bind(application_id)
    .fetch_all(store.pool())
    .await
    .context("cannot read linked addresses")
}

/// The address changes of an application still waiting for staff, for
/// `applications show` (read only).
pub async fn held_of(store: &Store, application_id: i64) -> anyhow::Result<Vec<Hold>> {
    sqlx::query_as(
        "SELECT id, application_id, message_row, field, old_value, new_value, state \
         FROM held_address_changes WHERE application_id = ? AND state = ? ORDER BY id",
    )
    .bind(application_id)
    .bind(HoldState::Held)
    .fetch_all(store.pool())
    .await
    .context("cannot read held address changes")
}

/// Clears the "possible duplicate" mark (staff keep the application).
pub async fn clear_duplicate(tx: &mut Tx<'_>, application_id: i64) -> anyhow::Result<()> {
    sqlx::query("UPDATE applications SET duplicate_of = NULL, updated_at = ? WHERE id = ?")
        .bind(now())
        .bind(application_id)
        .execute(&mut **tx)
        .await
        .context("cannot clear the duplicate mark")?;
    Ok(())
}

/// Whether an application has a decision or an interview (it cannot be
/// merged away then).
pub async fn has_decision_or_interview(
    tx: &mut Tx<'_>,
    application_id: i64,
) -> anyhow::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM decisions WHERE application_id = ?1) + \
         (SELECT COUNT(*) FROM interviews WHERE application_id = ?1)",
    )
    .bind(application_id)
    .fetch_one(&mut **tx)
    .await
    .context("cannot check decisions and interviews")?;
    Ok(n > 0)
}

/// The messages whose facts belong to an application (for a merge).
pub async fn fact_messages(tx: &mut Tx<'_>, application_id: i64) -> anyhow::Result<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT DISTINCT message_row FROM facts WHERE application_id = ? AND message_row IS NOT NULL",
    )
    .bind(application_id)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read the messages of facts")
}

/// Withdraws the mail to application `from` that has not gone out yet
/// (queued or held), before it is merged away: a confirmation or reminder
/// naming a reference that no longer stands on its own would mislead.
/// Mail to staff (notices about it) still goes; mail already being sent is
/// left alone. Returns how many rows.
pub async fn withdraw_pending(tx: &mut Tx<'_>, from: i64) -> anyhow::Result<u64> {
    let r = sqlx::query(
        "UPDATE outbox SET state = ?, last_error = 'application merged' \
         WHERE application_id = ? AND state IN (?, ?) AND cap IN (?, ?)",
    )
    .bind(OutboxState::Withdrawn)
    .bind(from)
    .bind(OutboxState::Queued)
    .bind(OutboxState::Held)
    .bind(CapClass::Applicant)
    .bind(CapClass::StaffCaused)
    .execute(&mut **tx)
    .await
    .context("cannot withdraw the merged application's pending mail")?;
    Ok(r.rows_affected())
}

/// Moves the documents, facts, messages and held changes of `from` to
/// `into`, then marks `from` merged. Documents of `from` supersede older
/// ones of the same role in `into` as if they had arrived there (and the
/// other way round for older ones).
pub async fn merge(tx: &mut Tx<'_>, from: i64, into: i64) -> anyhow::Result<()> {
    // The outbox rows move too (sent and withdrawn ones): what was sent
    // about the application belongs to it, for export and erasure.
    for table in [
        "documents",
        "facts",
        "messages",
        "held_address_changes",
        "outbox",
    ] {
        sqlx::query(&format!(
            "UPDATE {table} SET application_id = ? WHERE application_id = ?"
        ))
        .bind(into)
        .bind(from)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("cannot move {table} to the merged application"))?;
    }
    // The newest document of each role (other than "other") is current.
    sqlx::query(
        "UPDATE documents SET superseded_by = (SELECT MAX(n.id) FROM documents n \
         WHERE n.application_id = documents.application_id AND n.role = documents.role) \
         WHERE application_id = ? AND role != 'other' AND id < (SELECT MAX(n.id) FROM documents n \
         WHERE n.application_id = documents.application_id AND n.role = documents.role)",
    )
    .bind(into)
    .execute(&mut **tx)
    .await
    .context("cannot supersede merged documents")?;
    sqlx::query(
        "UPDATE documents SET superseded_by = NULL WHERE application_id = ? AND role != 'other' \
         AND id = (SELECT MAX(n.id) FROM documents n WHERE n.application_id = documents.application_id \
         AND n.role = documents.role)",
    )
    .bind(into)
    .execute(&mut **tx)
    .await?;
    let now = now();
    sqlx::query(
        "UPDATE applications SET message_count = message_count + \
         (SELECT message_count FROM applications WHERE id = ?), updated_at = ? WHERE id = ?",
    )
    .bind(from)
    .bind(&now)
    .bind(into)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE applications SET merged_into = ?, duplicate_of = NULL, state = 'merged', \
         updated_at = ? WHERE id = ?",
    )
    .bind(into)
    .bind(&now)
    .bind(from)
    .execute(&mut **tx)
    .await
    .context("cannot mark the application merged")?;
    Ok(())
}

/// The latest value of a fact (e.g. `field:person_email`).
pub async fn latest_value(
    tx: &mut Tx<'_>,
    application_id: i64,
    name: &str,
) -> anyhow::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT value FROM facts WHERE application_id = ? AND name = ? ORDER BY id DESC LIMIT 1",
    )
    .bind(application_id)
    .bind(name)
    .fetch_optional(&mut **tx)
    .await
    .context("cannot read fact")
}

/// The message that brought the latest value of a fact.
pub async fn latest_message(
    tx: &mut Tx<'_>,
    application_id: i64,
    name: &str,
) -> anyhow::Result<Option<i64>> {
    let row: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT message_row FROM facts WHERE application_id = ? AND name = ? ORDER BY id DESC LIMIT 1",
    )
    .bind(application_id)
    .bind(name)
    .fetch_optional(&mut **tx)
    .await
    .context("cannot read fact")?;
    Ok(row.flatten())
}

/// A held change of an address field.
pub struct NewHold<'a> {
    pub application_id: i64,
    pub message_row: Option<i64>,
    pub field: &'a str,
    pub old_value: Option<&'a str>,
    pub new_value: &'a str,
}

/// Holds an address change: the facts `field:{names}` of the messages in
/// `messages` become `held:field:{names}` (so the previous values stay in
/// use), and the change is recorded; an earlier held change of the same
/// field is superseded.
pub async fn hold(
    tx: &mut Tx<'_>,
    h: &NewHold<'_>,
    names: &[&str],
    messages: &[i64],
) -> anyhow::Result<()> {
    for name in names {
        for m in messages {
            sqlx::query(
                "UPDATE facts SET name = 'held:' || name WHERE application_id = ? AND name = ? \
                 AND message_row = ?",
            )
            .bind(h.application_id)
            .bind(format!("field:{name}"))
            .bind(m)
            .execute(&mut **tx)
            .await
            .context("cannot hold fact")?;
        }
    }
    let now = now();
    sqlx::query(
        "UPDATE held_address_changes SET state = ?, decided_at = ? WHERE application_id = ? \
         AND field = ? AND state = ?",
    )
    .bind(HoldState::Superseded)
    .bind(&now)
    .bind(h.application_id)
    .bind(h.field)
    .bind(HoldState::Held)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO held_address_changes (application_id, message_row, field, old_value, \
         new_value, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(h.application_id)
    .bind(h.message_row)
    .bind(h.field)
    .bind(h.old_value)
    .bind(h.new_value)
    .bind(HoldState::Held)
    .bind(&now)
    .execute(&mut **tx)
    .await
    .context("cannot record held address change")?;
    Ok(())
}

/// A held (or decided) address change.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Hold {
    pub id: i64,
    pub application_id: i64,
    pub message_row: Option<i64>,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: String,
    pub state: HoldState,
}

/// The changes of an application still waiting for staff, oldest first.
pub async fn held(tx: &mut Tx<'_>, application_id: i64) -> anyhow::Result<Vec<Hold>> {
    sqlx::query_as(
        "SELECT id, application_id, message_row, field, old_value, new_value, state \
         FROM held_address_changes WHERE application_id = ? AND state = ? ORDER BY id",
    )
    .bind(application_id)
    .bind(HoldState::Held)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read held address changes")
}

/// How many address changes wait for staff, for `postbote applications`.
pub async fn held_counts(store: &Store) -> anyhow::Result<Vec<(i64, i64)>> {
    sqlx::query_as(
        "SELECT application_id, COUNT(*) FROM held_address_changes WHERE state = ? \
         GROUP BY application_id",
    )
    .bind(HoldState::Held)
    .fetch_all(store.pool())
    .await
    .context("cannot count held address changes")
}

/// Confirms a held change: its facts are copied as current `field:{names}`
/// facts (newer than anything before).
pub async fn confirm(tx: &mut Tx<'_>, hold: &Hold, names: &[&str], by: &str) -> anyhow::Result<()> {
    for name in names {
        sqlx::query(
            "INSERT INTO facts (application_id, name, value, source, confidence, message_row, created_at) \
             SELECT application_id, substr(name, 6), value, source || ' (Änderung bestätigt)', \
             confidence, message_row, ? FROM facts WHERE id = (SELECT MAX(id) FROM facts \
             WHERE application_id = ? AND name = ? AND message_row IS ?)",
        )
        .bind(now())
        .bind(hold.application_id)
        .bind(format!("held:field:{name}"))
        .bind(hold.message_row)
        .execute(&mut **tx)
        .await
        .context("cannot confirm held fact")?;
    }
    decide(tx, hold.id, HoldState::Confirmed, by).await
}

/// Records staff's decision on a held change.
pub async fn decide(tx: &mut Tx<'_>, id: i64, state: HoldState, by: &str) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE held_address_changes SET state = ?, decided_by = ?, decided_at = ? WHERE id = ?",
    )
    .bind(state)
    .bind(by)
    .bind(now())
    .bind(id)
    .execute(&mut **tx)
    .await
    .context("cannot record the decision on an address change")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::applications::{self, NewApplication};
    use crate::store::testing;

    #[tokio::test]
    async fn an_address_is_linked_to_one_application_per_programme() {
        let (_dir, store) = testing::store().await;
        let codes = ["EWS7".to_string(), "EWS8".to_string()];
        crate::store::programmes::adopt(&store, &codes, chrono::Utc::now())
            .await
            .unwrap();
        let a = testing::application(&store, 1, false).await;
        let b = testing::application(&store, 2, false).await;
        let first = testing::message(&store, 3).await;
        let mut tx = store.begin().await.unwrap();
        let new = NewApplication {
            programme: "EWS8",
            applicant: "a3@x.test",
            applicant_name: None,
            subject: None,
            first_message: first,
            received_at: chrono::Utc::now(),
            late: false,
            duplicate_of: None,
        };
        let c = applications::create(&mut tx, &new).await.unwrap();
        let office = "buero@x.test";
        link(&mut tx, a.id, office, "cli").await.unwrap();
        link(&mut tx, c.id, office, "cli").await.unwrap();
        assert_eq!(
            linked_to(&mut tx, "EWS7", office).await.unwrap(),
            Some(a.id)
        );
        assert_eq!(
            linked_to(&mut tx, "EWS8", office).await.unwrap(),
            Some(c.id)
        );
        // Within one programme the link moves.
        link(&mut tx, b.id, office, "cli").await.unwrap();
        assert_eq!(
            linked_to(&mut tx, "EWS7", office).await.unwrap(),
            Some(b.id)
        );
        assert_eq!(
            linked_to(&mut tx, "EWS8", office).await.unwrap(),
            Some(c.id)
        );
        link(&mut tx, b.id, office, "mail:leitung@x.test")
            .await
            .unwrap();
        assert_eq!(links(&mut tx, b.id).await.unwrap().len(), 1);
        assert!(links(&mut tx, a.id).await.unwrap().is_empty());
        // The sender lookup sees only the programme's own link.
        let found = applications::find_for_sender(&mut tx, "EWS8", office)
            .await
            .unwrap()
            .map(|x| x.id);
        assert_eq!(found, Some(c.id));
    }
}
