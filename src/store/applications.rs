//! Applications: one per applicant address (part 2 merges by municipality).

use super::{Store, Tx, now, ts};
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Application {
    pub id: i64,
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
}

const COLUMNS: &str = "id, reference, applicant, applicant_name, subject, received_at, late, state, \
                       message_count, complete, municipality";

pub async fn find_by_applicant(
    tx: &mut Tx<'_>,
    applicant: &str,
) -> anyhow::Result<Option<Application>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM applications WHERE applicant = ?"
    ))
    .bind(applicant)
    .fetch_optional(&mut **tx)
    .await
    .context("cannot look up application")
}

pub struct NewApplication<'a> {
    pub prefix: &'a str,
    pub applicant: &'a str,
    pub applicant_name: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub first_message: i64,
    pub received_at: DateTime<Utc>,
    pub late: bool,
}

/// Creates the application and gives it a reference such as `EWS7-0007`.
pub async fn create(tx: &mut Tx<'_>, new: &NewApplication<'_>) -> anyhow::Result<Application> {
    let now = now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO applications (reference, applicant, applicant_name, subject, first_message, \
         received_at, late, created_at, updated_at) VALUES ('', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(new.applicant)
    .bind(new.applicant_name)
    .bind(new.subject)
    .bind(new.first_message)
    .bind(ts(new.received_at))
    .bind(new.late)
    .bind(&now)
    .bind(&now)
    .fetch_one(&mut **tx)
    .await
    .context("cannot create application")?;
    let reference = format!("{}-{id:04}", new.prefix);
    sqlx::query("UPDATE applications SET reference = ? WHERE id = ?")
        .bind(&reference)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM applications WHERE id = ?"))
        .bind(id)
        .fetch_one(&mut **tx)
        .await
        .context("cannot read new application")
}

pub async fn find_by_municipality(
    tx: &mut Tx<'_>,
    municipality: &str,
) -> anyhow::Result<Option<Application>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM applications WHERE municipality = ? COLLATE NOCASE"
    ))
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
