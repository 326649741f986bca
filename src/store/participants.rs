//! The cohort's roster: participants (and supervisors) who get the reminders.

use super::{Store, Tx, now};
use anyhow::Context;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Participant {
    pub id: i64,
    /// The programme's code.
    pub programme: String,
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
    /// The programme's code.
    pub programme: &'a str,
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
        "INSERT INTO participants (programme, application_id, municipality, name, email, role, source, active, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) \
         ON CONFLICT (programme, email, role) DO UPDATE SET application_id = excluded.application_id, \
         municipality = excluded.municipality, name = excluded.name, source = excluded.source, \
         active = 1, updated_at = excluded.updated_at",
    )
    .bind(p.programme)
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

/// The active participants (not supervisors) of programme `programme`
/// (its code): address and name, by address.
pub async fn active_participants(
    store: &Store,
    programme: &str,
) -> anyhow::Result<Vec<(String, Option<String>)>> {
    sqlx::query_as(
        "SELECT email, name FROM participants WHERE programme = ? AND active = TRUE \
         AND role = 'participant' ORDER BY email",
    )
    .bind(programme)
    .fetch_all(store.pool())
    .await
    .context("cannot read the roster")
}

/// How many active participants (not supervisors) programme `programme` has.
pub async fn count_active_participants(store: &Store, programme: &str) -> anyhow::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM participants WHERE programme = ? AND active = TRUE \
         AND role = 'participant'",
    )
    .bind(programme)
    .fetch_one(store.pool())
    .await
    .context("cannot count participants")
}

pub async fn list(store: &Store) -> anyhow::Result<Vec<Participant>> {
    sqlx::query_as(
        "SELECT id, programme, application_id, municipality, name, email, role, source, active \
         FROM participants ORDER BY programme, municipality COLLATE NOCASE, role DESC, id",
    )
    .fetch_all(store.pool())
    .await
    .context("cannot list participants")
}

/// The programmes whose roster has `email` (lower case) active, by code.
pub async fn active_programmes_by_email(
    tx: &mut Tx<'_>,
    email: &str,
) -> anyhow::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT DISTINCT programme FROM participants WHERE email = ? AND active = ? ORDER BY programme",
    )
    .bind(email)
    .bind(true)
    .fetch_all(&mut **tx)
    .await
    .context("cannot look up the programmes of a participant")
}

/// Someone on the roster with the address `email` (lower case), if any.
pub async fn active_by_email(tx: &mut Tx<'_>, email: &str) -> anyhow::Result<Option<Participant>> {
    sqlx::query_as(
        "SELECT id, programme, application_id, municipality, name, email, role, source, active \
         FROM participants WHERE email = ? AND active = ? LIMIT 1",
    )
    .bind(email)
    .bind(true)
    .fetch_optional(&mut **tx)
    .await
    .context("cannot look up participant")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    fn person<'a>(
        email: &'a str,
        role: &'a str,
        application_id: Option<i64>,
    ) -> NewParticipant<'a> {
        NewParticipant {
            programme: "EWS7",
            application_id,
            municipality: "Musterstadt",
            name: None,
            email,
            role,
            source: "import",
        }
    }

    #[tokio::test]
    async fn active_participants_are_counted_and_found_by_address() {
        let (_dir, store) = testing::store().await;
        let a = testing::application(&store, 1, false).await;
        let mut tx = store.begin().await.unwrap();
        upsert(
            &mut tx,
            &person("Eva@Stadt.test", "participant", Some(a.id)),
        )
        .await
        .unwrap();
        upsert(&mut tx, &person("max@stadt.test", "participant", None))
            .await
            .unwrap();
        upsert(
            &mut tx,
            &person("chef@stadt.test", "supervisor", Some(a.id)),
        )
        .await
        .unwrap();
        let eva = active_by_email(&mut tx, "eva@stadt.test")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(eva.application_id, Some(a.id));
        assert!(
            active_by_email(&mut tx, "nobody@stadt.test")
                .await
                .unwrap()
                .is_none()
        );
        tx.commit().await.unwrap();
        assert_eq!(count_active_participants(&store, "EWS7").await.unwrap(), 2);

        let mut tx = store.begin().await.unwrap();
        deactivate_application(&mut tx, a.id).await.unwrap();
        assert!(
            active_by_email(&mut tx, "eva@stadt.test")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            active_by_email(&mut tx, "chef@stadt.test")
                .await
                .unwrap()
                .is_none()
        );
        tx.commit().await.unwrap();
        assert_eq!(count_active_participants(&store, "EWS7").await.unwrap(), 1);
    }
}
