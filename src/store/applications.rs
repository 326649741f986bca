//! Applications: one per applicant address. The address of the mail that
//! created one is its owner; staff may link further addresses (see
//! [`super::ownership`]).

use super::{Store, Tx, now, ts};
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Application {
    pub id: i64,
    /// The code of the programme it was made for (`EWS7`).
    pub programme: String,
    pub reference: String,
    pub applicant: String,
    pub applicant_name: Option<String>,
    pub subject: Option<String>,
    pub received_at: String,
    pub late: bool,
    pub state: String,
    pub message_count: i64,
    pub complete: bool,
    pub municipality: Option<String>,
    /// The From address (lower case) of the mail that created the application.
    pub owner: String,
    /// Another application of the same municipality from another address:
    /// this one may be a duplicate of it, until staff merge or keep it.
    pub duplicate_of: Option<i64>,
    pub duplicate_of_reference: Option<String>,
    /// Set once staff merged this application into another.
    pub merged_into: Option<i64>,
}

const COLUMNS: &str = "id, programme, reference, applicant, applicant_name, subject, received_at, late, state, \
                       message_count, complete, municipality, COALESCE(owner, applicant) AS owner, \
                       duplicate_of, (SELECT d.reference FROM applications d \
                       WHERE d.id = applications.duplicate_of) AS duplicate_of_reference, merged_into";

/// Which application `?2` (a sender) may change in programme `?1`.
///
/// NOTE: `COALESCE(owner, applicant) = ?` in an OR read every application of
/// the programme, once per incoming mail; spelled as three indexed lookups,
/// and `+programme` keeps SQLite from walking the programme's index instead
/// of the few ids found.
const FOR_SENDER: &str = "WHERE id IN \
     (SELECT id FROM applications WHERE programme = ?1 AND applicant = ?2 AND owner IS NULL \
      UNION ALL SELECT id FROM applications WHERE programme = ?1 AND owner = ?2 \
      UNION ALL SELECT application_id FROM application_addresses WHERE address = ?2) \
     AND merged_into IS NULL AND +programme = ?1 \
     ORDER BY COALESCE(owner, applicant) = ?2 DESC, id LIMIT 1";

/// The application of programme `programme` that `sender` (lower case) may
/// change: the one it created, or the one staff linked it to. Merged
/// applications are skipped; another programme's applications never count
/// (the same municipality applying to EWS 8 after EWS 7 applies anew).
pub async fn find_for_sender(
    tx: &mut Tx<'_>,
    programme: &str,
    sender: &str,
) -> anyhow::Result<Option<Application>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM applications {FOR_SENDER}"))
        .bind(programme)
        .bind(sender)
        .fetch_optional(&mut **tx)
        .await
        .context("cannot look up application")
}

pub struct NewApplication<'a> {
    /// The programme's code, also the reference prefix.
    pub programme: &'a str,
    pub applicant: &'a str,
    pub applicant_name: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub first_message: i64,
    pub received_at: DateTime<Utc>,
    pub late: bool,
    /// The application of the same municipality from another address.
    pub duplicate_of: Option<i64>,
}

/// Creates the application and gives it the programme's next reference,
/// such as `EWS7-0007` ([`super::programmes::next_number`]).
pub async fn create(tx: &mut Tx<'_>, new: &NewApplication<'_>) -> anyhow::Result<Application> {
    let now = now();
    let number = super::programmes::next_number(tx, new.programme).await?;
    let reference = format!("{}-{number:04}", new.programme);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO applications (programme, reference, applicant, owner, applicant_name, subject, \
         first_message, received_at, late, created_at, updated_at, duplicate_of) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(new.programme)
    .bind(&reference)
    .bind(new.applicant)
    .bind(new.applicant)
    .bind(new.applicant_name)
    .bind(new.subject)
    .bind(new.first_message)
    .bind(ts(new.received_at))
    .bind(new.late)
    .bind(&now)
    .bind(&now)
    .bind(new.duplicate_of)
    .fetch_one(&mut **tx)
    .await
    .context("cannot create application")?;
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM applications WHERE id = ?"))
        .bind(id)
        .fetch_one(&mut **tx)
        .await
        .context("cannot read new application")
}

/// The first application of programme `programme` naming `municipality`.
pub async fn find_by_municipality(
    tx: &mut Tx<'_>,
    programme: &str,
    municipality: &str,
) -> anyhow::Result<Option<Application>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM applications WHERE programme = ? AND \
         municipality = ? COLLATE NOCASE AND merged_into IS NULL ORDER BY id LIMIT 1"
    ))
    .bind(programme)
    .bind(municipality)
    .fetch_optional(&mut **tx)
    .await
    .context("cannot look up application by municipality")
}

pub async fn set_municipality(tx: &mut Tx<'_>, id: i64, municipality: &str) -> anyhow::Result<()> {
    sqlx::query("UPDATE applications SET municipality = ? WHERE id = ?")
        .bind(municipality)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn add_message(tx: &mut Tx<'_>, id: i64) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE applications SET message_count = message_count + 1, updated_at = ? WHERE id = ?",
    )
    .bind(now())
    .bind(id)
    .execute(&mut **tx)
    .await
    .context("cannot attach message to application")?;
    Ok(())
}

pub async fn set_state(tx: &mut Tx<'_>, id: i64, state: &str) -> anyhow::Result<()> {
    sqlx::query("UPDATE applications SET state = ?, updated_at = ? WHERE id = ?")
        .bind(state)
        .bind(now())
        .bind(id)
        .execute(&mut **tx)
        .await
        .context("cannot update application state")?;
    Ok(())
}

pub async fn list(store: &Store) -> anyhow::Result<Vec<Application>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM applications ORDER BY id"))
        .fetch_all(store.pool())
        .await
        .context("cannot list applications")
}

pub async fn get(tx: &mut Tx<'_>, id: i64) -> anyhow::Result<Option<Application>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM applications WHERE id = ?"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .context("cannot read application")
}

/// Finds an application by its reference (`EWS7-0003`, any case) or plain id.
pub async fn find(tx: &mut Tx<'_>, reference: &str) -> anyhow::Result<Option<Application>> {
    let r = reference.trim();
    if let Ok(id) = r.parse::<i64>() {
        return get(tx, id).await;
    }
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM applications WHERE reference = ? COLLATE NOCASE"
    ))
    .bind(r)
    .fetch_optional(&mut **tx)
    .await
    .context("cannot look up application")
}

pub async fn list_tx(tx: &mut Tx<'_>) -> anyhow::Result<Vec<Application>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM applications ORDER BY id"))
        .fetch_all(&mut **tx)
        .await
        .context("cannot list applications")
}

/// Records whether the application's documents are complete.
pub async fn set_complete(tx: &mut Tx<'_>, id: i64, complete: bool) -> anyhow::Result<()> {
    sqlx::query("UPDATE applications SET complete = ? WHERE id = ?")
        .bind(complete)
        .bind(id)
        .execute(&mut **tx)
        .await
        .context("cannot record whether the application is complete")?;
    Ok(())
}

/// How many applications there are, and how many of them came late.
pub async fn counts(store: &Store) -> anyhow::Result<(i64, i64)> {
    sqlx::query_as("SELECT COUNT(*), COUNT(CASE WHEN late = ? THEN 1 END) FROM applications")
        .bind(true)
        .fetch_one(store.pool())
        .await
        .context("cannot count applications")
}

/// Like [`counts`], for programme `programme` (its code) only.
pub async fn counts_in(store: &Store, programme: &str) -> anyhow::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT COUNT(*), COUNT(CASE WHEN late = ? THEN 1 END) FROM applications \
         WHERE programme = ?",
    )
    .bind(true)
    .bind(programme)
    .fetch_one(store.pool())
    .await
    .context("cannot count applications")
}

/// An application in time whose documents are not complete.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Incomplete {
    pub id: i64,
    pub reference: String,
    pub applicant: String,
}

/// The applications in time whose documents are not complete, oldest first:
/// they get the reminder before the deadline.
pub async fn incomplete_on_time(store: &Store) -> anyhow::Result<Vec<Incomplete>> {
    sqlx::query_as(
        "SELECT id, reference, applicant FROM applications WHERE complete = ? AND late = ? \
         AND merged_into IS NULL ORDER BY id",
    )
    .bind(false)
    .bind(false)
    .fetch_all(store.pool())
    .await
    .context("cannot list incomplete applications")
}

/// Like [`incomplete_on_time`], for programme `programme` (its code) only.
pub async fn incomplete_on_time_in(
    store: &Store,
    programme: &str,
) -> anyhow::Result<Vec<Incomplete>> {
    sqlx::query_as(
        "SELECT id, reference, applicant FROM applications WHERE programme = ? AND complete = ? \
         AND late = ? AND merged_into IS NULL ORDER BY id",
    )
    .bind(programme)
    .bind(false)
    .bind(false)
    .fetch_all(store.pool())
    .await
    .context("cannot list incomplete applications")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    async fn found(tx: &mut Tx<'_>, programme: &str, sender: &str) -> Option<i64> {
        find_for_sender(tx, programme, sender)
            .await
            .unwrap()
            .map(|x| x.id)
    }

    #[tokio::test]
    async fn the_sender_lookup_reads_the_few_applications_found_by_index() {
        let (_dir, store) = testing::store().await;
        let plan =
            testing::query_plan(&store, &format!("SELECT id FROM applications {FOR_SENDER}")).await;
        assert!(
            plan.contains("SEARCH applications USING INTEGER PRIMARY KEY"),
            "{plan}"
        );
        assert!(!plan.contains("SCAN"), "{plan}");
    }

    #[tokio::test]
    async fn the_sender_finds_its_own_or_its_linked_application_of_the_programme_only() {
        let (_dir, store) = testing::store().await;
        let a = testing::application(&store, 1, false).await;
        let b = testing::application(&store, 2, false).await;
        let legacy = testing::application(&store, 3, false).await;
        let merged = testing::application(&store, 4, false).await;
        let mut tx = store.begin().await.unwrap();
        // Rows from before owners were stored have none: the applicant counts.
        sqlx::query("UPDATE applications SET owner = NULL WHERE id = ?")
            .bind(legacy.id)
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("UPDATE applications SET merged_into = ? WHERE id = ?")
            .bind(a.id)
            .bind(merged.id)
            .execute(&mut *tx)
            .await
            .unwrap();
        // a2's own application comes before one it is linked to.
        crate::store::ownership::link(&mut tx, a.id, "a2@x.test", "cli")
            .await
            .unwrap();
        crate::store::ownership::link(&mut tx, a.id, "buero@x.test", "cli")
            .await
            .unwrap();
        assert_eq!(found(&mut tx, "EWS7", "a1@x.test").await, Some(a.id));
        assert_eq!(found(&mut tx, "EWS7", "a2@x.test").await, Some(b.id));
        assert_eq!(found(&mut tx, "EWS7", "buero@x.test").await, Some(a.id));
        assert_eq!(found(&mut tx, "EWS7", "a3@x.test").await, Some(legacy.id));
        assert_eq!(
            found(&mut tx, "EWS7", "a4@x.test").await,
            None,
            "merged away"
        );
        assert_eq!(
            found(&mut tx, "EWS8", "a1@x.test").await,
            None,
            "another programme"
        );
        assert_eq!(found(&mut tx, "EWS8", "buero@x.test").await, None);
        assert_eq!(found(&mut tx, "EWS7", "nobody@x.test").await, None);
    }

    #[tokio::test]
    async fn completeness_and_lateness_are_counted_and_the_incomplete_listed() {
        let (_dir, store) = testing::store().await;
        assert_eq!(counts(&store).await.unwrap(), (0, 0));
        let a = testing::application(&store, 1, false).await;
        let b = testing::application(&store, 2, false).await;
        let late = testing::application(&store, 3, true).await;
        assert_eq!(counts(&store).await.unwrap(), (3, 1));
        let open = incomplete_on_time(&store).await.unwrap();
        assert_eq!(
            open,
            vec![
                Incomplete {
                    id: a.id,
                    reference: a.reference.clone(),
                    applicant: a.applicant.clone()
                },
                Incomplete {
                    id: b.id,
                    reference: b.reference.clone(),
                    applicant: b.applicant.clone()
                }
            ]
        );
        let mut tx = store.begin().await.unwrap();
        set_complete(&mut tx, a.id, true).await.unwrap();
        set_complete(&mut tx, late.id, true).await.unwrap();
        assert!(get(&mut tx, a.id).await.unwrap().unwrap().complete);
        tx.commit().await.unwrap();
        let open: Vec<i64> = incomplete_on_time(&store)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(open, vec![b.id]);
        let mut tx = store.begin().await.unwrap();
        set_complete(&mut tx, a.id, false).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(incomplete_on_time(&store).await.unwrap().len(), 2);
    }
}
