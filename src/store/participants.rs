//! The cohort's roster: participants (and supervisors) who get the reminders.

use super::{Store, Tx, now};
use anyhow::Context;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Participant {
    pub id: i64,
    pub application_id: Option<i64>,
    pub municipality: String,
    pub name: Option<String>,
    pub email: String,
    /// participant | supervisor
    pub role: String,
    /// selection | import
    pub source: String,
    pub active: bool,
}

pub struct NewParticipant<'a> {
    pub application_id: Option<i64>,
    pub municipality: &'a str,
    pub name: Option<&'a str>,
    pub email: &'a str,
    pub role: &'a str,
    pub source: &'a str,
}

/// Adds a person, or updates and re-activates one with the same address and role.
pub async fn upsert(tx: &mut Tx<'_>, p: &NewParticipant<'_>) -> anyhow::Result<()> {
    let now = now();
    sqlx::query(
        "INSERT INTO participants (application_id, municipality, name, email, role, source, active, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?) \
         ON CONFLICT (email, role) DO UPDATE SET application_id = excluded.application_id, \
         municipality = excluded.municipality, name = excluded.name, source = excluded.source, \
         active = 1, updated_at = excluded.updated_at",
    )
    .bind(p.application_id)
    .bind(p.municipality)
    .bind(p.name)
    .bind(p.email.to_lowercase())
    .bind(p.role)
    .bind(p.source)
    .bind(&now)
    .bind(&now)
    .execute(&mut **tx)
    .await
    .context("cannot store participant")?;
    Ok(())
}

/// Takes an application's people off the roster (a corrected decision).
pub async fn deactivate_application(tx: &mut Tx<'_>, application_id: i64) -> anyhow::Result<()> {
    sqlx::query("UPDATE participants SET active = 0, updated_at = ? WHERE application_id = ?")
        .bind(now())
        .bind(application_id)
        .execute(&mut **tx)
        .await
        .context("cannot update roster")?;
    Ok(())
}

/// The active participants (not supervisors): address and name, by address.
pub async fn active_participants(store: &Store) -> anyhow::Result<Vec<(String, Option<String>)>> {
    sqlx::query_as(
        "SELECT email, name FROM participants WHERE active = TRUE AND role = 'participant' ORDER BY email",
    )
    .fetch_all(store.pool())
    .await
    .context("cannot read the roster")
}

/// How many active participants (not supervisors) there are.
pub async fn count_active_participants(store: &Store) -> anyhow::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM participants WHERE active = TRUE AND role = 'participant'",
    )
    .fetch_one(store.pool())
    .await
    .context("cannot count participants")
}

pub async fn list(store: &Store) -> anyhow::Result<Vec<Participant>> {
    sqlx::query_as(
        "SELECT id, application_id, municipality, name, email, role, source, active FROM participants \
         ORDER BY municipality COLLATE NOCASE, role DESC, id",
    )
    .fetch_all(store.pool())
    .await
    .context("cannot list participants")
}
