//! Documents of applications and the facts read from them.

use super::{Store, Tx, now};
use crate::documents::analyse::Document;
use anyhow::Context;
use serde::Serialize;

/// Stores the documents of one mail; a newer document of the same role
/// supersedes the older ones (the history is kept).
pub async fn insert(
    tx: &mut Tx<'_>,
    application_id: i64,
    message_row: i64,
    docs: &[Document],
) -> anyhow::Result<()> {
    for (position, d) in docs.iter().enumerate() {
        let extracted = d.extracted.as_ref().map(|e| {
            serde_json::json!({"checkboxes": e.checkboxes, "fields": e.fields}).to_string()
        });
        let text = d
            .extracted
            .as_ref()
            .map(|e| e.text.chars().take(100_000).collect::<String>());
        let pages = d.extracted.as_ref().and_then(|e| e.pages).map(i64::from);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO documents (application_id, message_row, position, name, format, role, sha256, size, \
             pages, problem, text, extracted, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (message_row, position) DO UPDATE SET name = excluded.name RETURNING id",
        )
        .bind(application_id)
        .bind(message_row)
        .bind(position as i64)
        .bind(&d.name)
        .bind(d.format.as_str())
        .bind(d.role.as_str())
        .bind(&d.sha256)
        .bind(d.size as i64)
        .bind(pages)
        .bind(&d.problem)
        .bind(text)
        .bind(extracted)
        .bind(now())
        .fetch_one(&mut **tx)
        .await
        .context("cannot store document")?;
        if d.role != crate::documents::analyse::Role::Other {
            sqlx::query(
                "UPDATE documents SET superseded_by = ? WHERE application_id = ? AND role = ? \
                 AND id != ? AND superseded_by IS NULL",
            )
            .bind(id)
            .bind(application_id)
            .bind(d.role.as_str())
            .bind(id)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// A current (not superseded) document of an application.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Current {
    pub role: String,
    pub name: String,
    pub format: String,
    pub problem: Option<String>,
    pub pages: Option<i64>,
}

pub async fn current(tx: &mut Tx<'_>, application_id: i64) -> anyhow::Result<Vec<Current>> {
    sqlx::query_as(
        "SELECT role, name, format, problem, pages FROM documents WHERE application_id = ? \
         AND superseded_by IS NULL ORDER BY id",
    )
    .bind(application_id)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read documents")
}

pub struct NewFact<'a> {
    pub name: &'a str,
    pub value: &'a str,
    pub source: &'a str,
    pub confidence: &'a str,
}

pub async fn add_fact(
    tx: &mut Tx<'_>,
    application_id: i64,
    message_row: i64,
    f: &NewFact<'_>,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO facts (application_id, name, value, source, confidence, message_row, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(application_id)
    .bind(f.name)
    .bind(f.value)
    .bind(f.source)
    .bind(f.confidence)
    .bind(message_row)
    .bind(now())
    .execute(&mut **tx)
    .await
    .context("cannot store fact")?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DocumentRow {
    pub id: i64,
    pub name: String,
    pub format: String,
    pub role: String,
    pub size: i64,
    pub pages: Option<i64>,
    pub problem: Option<String>,
    pub superseded_by: Option<i64>,
    pub extracted: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FactRow {
    pub name: String,
    pub value: String,
    pub source: String,
    pub confidence: String,
    pub created_at: String,
}

pub async fn list(
    store: &Store,
    application_id: i64,
) -> anyhow::Result<(Vec<DocumentRow>, Vec<FactRow>)> {
    let docs = sqlx::query_as(
        "SELECT id, name, format, role, size, pages, problem, superseded_by, extracted, created_at \
         FROM documents WHERE application_id = ? ORDER BY id",
    )
    .bind(application_id)
    .fetch_all(store.pool())
    .await?;
    let facts = sqlx::query_as(
        "SELECT name, value, source, confidence, created_at FROM facts WHERE application_id = ? ORDER BY id",
    )
    .bind(application_id)
    .fetch_all(store.pool())
    .await?;
    Ok((docs, facts))
}

/// The latest value of every fact of an application: name → (value, confidence).
pub async fn latest_facts(
    tx: &mut Tx<'_>,
    application_id: i64,
) -> anyhow::Result<std::collections::BTreeMap<String, (String, String)>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT name, value, confidence FROM facts WHERE id IN \
         (SELECT MAX(id) FROM facts WHERE application_id = ? GROUP BY name)",
    )
    .bind(application_id)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read facts")?;
    Ok(rows.into_iter().map(|(n, v, c)| (n, (v, c))).collect())
}
