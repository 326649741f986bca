//! `postbote participants import FILE.csv`: a roster decided outside postbote
//! (EWS 7 is already running). All rows or none.

use super::csv::{self, Role};
use crate::store::{Store, participants};
use anyhow::Context;

/// Imports the CSV; on invalid rows nothing is stored and every error is listed.
/// The people join programme `programme` (its code).
pub async fn import(store: &Store, programme: &str, bytes: &[u8]) -> anyhow::Result<usize> {
    let rows = csv::parse(bytes).map_err(|errors| {
        let list = errors
            .iter()
            .map(|e| format!("  {e}"))
            .collect::<Vec<_>>()
            .join("\n");
        anyhow::anyhow!("the roster was not imported:\n{list}")
    })?;
    let mut tx = store.begin().await?;
    for row in &rows {
        let role = match row.role {
            Role::Participant => "participant",
            Role::Supervisor => "supervisor",
        };
        participants::upsert(
            &mut tx,
            &participants::NewParticipant {
                programme,
                application_id: None,
                municipality: &row.municipality,
                name: Some(&row.name),
                email: row.email.as_str(),
                role,
                source: "import",
            },
        )
        .await?;
    }
    tx.commit().await.context("cannot store the roster")?;
    Ok(rows.len())
}
