//! The programmes the store knows (part 9): one row per programme code, the
//! counter its references are numbered by, and which one is the "legacy"
//! programme that owns the rows stored before part 9.
//!
//! The legacy programme keeps everything as it was: its references, its
//! idempotency keys and event keys have no programme prefix. Every other
//! programme's scheduled-mail keys start with its code (see
//! [`key_scope`]); outbox keys carry row ids, which are unique anyway.

use super::{Store, ts};
use anyhow::Context;
use chrono::{DateTime, Utc};

/// The tables whose rows belong to one programme (column `programme`).
const OWNED: &[&str] = &[
    "applications",
    "participants",
    "programme_events",
    "event_overrides",
    "programme_mails",
];

/// Why the store and the settings disagree about the programmes.
#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    /// A programme with stored data is no longer configured.
    #[error(
        "programme {code} has data in the database but no programme file in the settings: \
         keep its file (with `retired = true`) until its data is erased"
    )]
    Missing { code: String },
}

/// Registers the configured programme codes (in the settings' order) and
/// returns the legacy programme's code.
///
/// On the first start after the part 9 migration the first configured
/// programme becomes the legacy one: every row stored before (programme
/// `''`) is given to it, and its reference counter continues after the
/// highest application id (the references were `PREFIX-<id>`). A programme
/// added later starts its references at 1. A stored programme that is no
/// longer configured is refused ([`AdoptError::Missing`]) while it has data.
pub async fn adopt(store: &Store, codes: &[String], now: DateTime<Utc>) -> anyhow::Result<String> {
    let first = codes.first().context("no programme is configured")?.clone();
    let mut tx = store.begin().await?;
    let known: Vec<(String, bool)> = sqlx::query_as("SELECT code, legacy FROM programmes")
        .fetch_all(&mut *tx)
        .await
        .context("cannot read the programmes")?;
    let legacy = match known.iter().find(|(_, legacy)| *legacy) {
        Some((code, _)) => code.clone(),
        None => {
            let last: i64 = sqlx::query_scalar(
                "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'applications'), 0)",
            )
            .fetch_one(&mut *tx)
            .await
            .context("cannot read the application counter")?;
            sqlx::query(
                "INSERT INTO programmes (code, legacy, last_number, added_at) VALUES (?, 1, ?, ?) \
                 ON CONFLICT (code) DO UPDATE SET legacy = 1, \
                 last_number = MAX(programmes.last_number, excluded.last_number)",
            )
            .bind(&first)
            .bind(last)
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .context("cannot register the legacy programme")?;
            first.clone()
        }
    };
    for table in OWNED {
        sqlx::query(&format!(
            "UPDATE {table} SET programme = ? WHERE programme = ''"
        ))
        .bind(&legacy)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("cannot give the rows of {table} to {legacy}"))?;
    }
    for code in codes {
        sqlx::query(
            "INSERT INTO programmes (code, legacy, last_number, added_at) VALUES (?, 0, 0, ?) \
             ON CONFLICT (code) DO NOTHING",
        )
        .bind(code)
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .context("cannot register a programme")?;
    }
    let stored: Vec<String> = sqlx::query_scalar("SELECT code FROM programmes ORDER BY code")
        .fetch_all(&mut *tx)
        .await
        .context("cannot read the programmes")?;
    for code in stored.iter().filter(|c| !codes.contains(c)) {
        if has_data(&mut tx, code).await? {
            return Err(AdoptError::Missing { code: code.clone() }.into());
        }
    }
    tx.commit().await.context("cannot commit the programmes")?;
    Ok(legacy)
}

/// The legacy programme's code, if the store has one yet (read only).
pub async fn legacy(store: &Store) -> anyhow::Result<Option<String>> {
    sqlx::query_scalar("SELECT code FROM programmes WHERE legacy = 1")
        .fetch_optional(store.pool())
        .await
        .context("cannot read the programmes")
}

/// The prefix of a programme's scheduled-mail and event keys: none for the
/// legacy programme (its keys stay as they were), `CODE:` for the others.
pub fn key_scope(code: &str, legacy: Option<&str>) -> String {
    if legacy.is_none_or(|l| l == code) {
        String::new()
    } else {
        format!("{code}:")
    }
}

/// The next reference number of programme `code` (1, 2, …), counted in the
/// caller's transaction, so numbers are never given twice, nor again after
/// an erasure.
pub async fn next_number(tx: &mut super::Tx<'_>, code: &str) -> anyhow::Result<i64> {
    let n: Option<i64> = sqlx::query_scalar(
        "UPDATE programmes SET last_number = last_number + 1 WHERE code = ? RETURNING last_number",
    )
    .bind(code)
    .fetch_optional(&mut **tx)
    .await
    .context("cannot count the reference number")?;
    n.with_context(|| format!("programme {code} is not registered in the database"))
}

async fn has_data(tx: &mut super::Tx<'_>, code: &str) -> anyhow::Result<bool> {
    for table in OWNED {
        let found: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT 1 FROM {table} WHERE programme = ? LIMIT 1"
        ))
        .bind(code)
        .fetch_optional(&mut **tx)
        .await
        .with_context(|| format!("cannot read {table}"))?;
        if found.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_programmes_after_the_legacy_one_prefix_their_keys() {
        assert_eq!(key_scope("EWS7", Some("EWS7")), "");
        assert_eq!(key_scope("EWS8", Some("EWS7")), "EWS8:");
        assert_eq!(key_scope("EWS8", None), "");
    }
}
