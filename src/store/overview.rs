//! What the overview of the applications (`ÜBERSICHT`, `postbote
//! applications --export`) reads: current documents, the latest facts,
//! interviews, decisions and participants, for one programme (its code) or
//! for all (`None`).

use super::Tx;
use super::decisions::Decision;
use super::interviews::Interview;
use anyhow::Context;

/// A current (not superseded) document of an application.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Document {
    pub application_id: i64,
    pub role: String,
    pub name: String,
    /// The extraction as JSON (`documents::extracted::Extracted`), if read.
    pub extracted: Option<String>,
}

/// The latest value of one fact of an application.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Fact {
    pub application_id: i64,
    pub name: String,
    pub value: String,
    pub confidence: String,
}

/// `(? IS NULL OR applications.programme = ?)` over the application
/// `column` names, bound twice with the code.
fn of_programme(column: &str) -> String {
    format!("{column} IN (SELECT id FROM applications WHERE (? IS NULL OR programme = ?))")
}

pub async fn documents(tx: &mut Tx<'_>, programme: Option<&str>) -> anyhow::Result<Vec<Document>> {
    sqlx::query_as(&format!(
        "SELECT application_id, role, name, extracted FROM documents \
         WHERE superseded_by IS NULL AND {} ORDER BY application_id, id",
        of_programme("application_id")
    ))
    .bind(programme)
    .bind(programme)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read documents for the overview")
}

pub async fn facts(tx: &mut Tx<'_>, programme: Option<&str>) -> anyhow::Result<Vec<Fact>> {
    sqlx::query_as(&format!(
        "SELECT application_id, name, value, confidence FROM facts WHERE id IN \
         (SELECT MAX(id) FROM facts WHERE {} GROUP BY application_id, name) \
         ORDER BY application_id, name",
        of_programme("application_id")
    ))
    .bind(programme)
    .bind(programme)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read facts for the overview")
}

pub async fn interviews(
    tx: &mut Tx<'_>,
    programme: Option<&str>,
) -> anyhow::Result<Vec<Interview>> {
    sqlx::query_as(&format!(
        "SELECT id, application_id, uid, start_at, end_at, state, sequence, sent \
         FROM interviews WHERE {} ORDER BY start_at, id",
        of_programme("application_id")
    ))
    .bind(programme)
    .bind(programme)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read interviews for the overview")
}

pub async fn decisions(tx: &mut Tx<'_>, programme: Option<&str>) -> anyhow::Result<Vec<Decision>> {
    sqlx::query_as(&format!(
        "SELECT application_id, outcome, persons, revision, notice, decided_by, decided_at, \
         released_at FROM decisions WHERE {} ORDER BY application_id",
        of_programme("application_id")
    ))
    .bind(programme)
    .bind(programme)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read decisions for the overview")
}

/// Active participants (not supervisors), by programme code.
pub async fn participants(
    tx: &mut Tx<'_>,
    programme: Option<&str>,
) -> anyhow::Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "SELECT programme, COUNT(*) FROM participants WHERE active = 1 AND role = 'participant' \
         AND (? IS NULL OR programme = ?) GROUP BY programme ORDER BY programme",
    )
    .bind(programme)
    .bind(programme)
    .fetch_all(&mut **tx)
    .await
    .context("cannot count participants for the overview")
}

/// Every programme code the database knows, in order.
pub async fn codes(tx: &mut Tx<'_>) -> anyhow::Result<Vec<String>> {
    sqlx::query_scalar("SELECT code FROM programmes ORDER BY added_at, code")
        .fetch_all(&mut **tx)
        .await
        .context("cannot list programmes")
}
