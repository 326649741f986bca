//! What the welcome of a cohort taken over mid-year reads: the imported
//! participants of a programme, and the stored bytes of the staff mail that
//! carried a roster (`TEILNEHMER IMPORT`).

use super::Tx;
use anyhow::Context;

/// One active imported participant (not a supervisor).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Imported {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
}

/// The active participants of programme `programme` (its code) that came
/// from a roster import, by row id.
pub async fn imported_participants(
    tx: &mut Tx<'_>,
    programme: &str,
) -> anyhow::Result<Vec<Imported>> {
    sqlx::query_as(
        "SELECT id, email, name FROM participants WHERE programme = ? AND active = TRUE \
         AND role = 'participant' AND source = 'import' ORDER BY id",
    )
    .bind(programme)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read the imported roster")
}

/// The stored bytes of message `row` (as stored: a secret line masked).
pub async fn message_bytes(tx: &mut Tx<'_>, row: i64) -> anyhow::Result<Option<Vec<u8>>> {
    sqlx::query_scalar(
        "SELECT r.bytes FROM messages m JOIN raw_messages r ON r.sha256 = m.sha256 WHERE m.id = ?",
    )
    .bind(row)
    .fetch_optional(&mut **tx)
    .await
    .with_context(|| format!("cannot load message {row}"))
}

/// Whether `email` (lower case) is active on programme `programme`'s roster
/// in `role`.
pub async fn is_active(
    tx: &mut Tx<'_>,
    programme: &str,
    email: &str,
    role: &str,
) -> anyhow::Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM participants WHERE programme = ? AND email = ? AND role = ? AND active = TRUE",
    )
    .bind(programme)
    .bind(email)
    .bind(role)
    .fetch_optional(&mut **tx)
    .await
    .context("cannot read the roster")?;
    Ok(found.is_some())
}
