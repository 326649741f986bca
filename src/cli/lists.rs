//! `postbote applications` and `postbote outbox`.

use crate::config::Config;
use crate::store::{Store, applications, outbox};

pub async fn applications(config: &Config, json: bool) -> anyhow::Result<()> {
    let store = Store::open(&config.settings.storage.database).await?;
    let rows = applications::list(&store).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:<10} {:<36} {:<10} {:<5} {:>5}  received (UTC)",
        "reference", "applicant", "state", "late", "mails"
    );
    for a in &rows {
        println!(
            "{:<10} {:<36} {:<10} {:<5} {:>5}  {}",
            a.reference,
            a.applicant,
            a.state,
            if a.late { "LATE" } else { "" },
            a.message_count,
            &a.received_at[..a.received_at.len().min(19)]
        );
    }
    println!("{} application(s)", rows.len());
    Ok(())
}

pub async fn outbox(config: &Config, json: bool) -> anyhow::Result<()> {
    let store = Store::open(&config.settings.storage.database).await?;
    let rows = outbox::list(&store).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    print_outbox(&rows);
    Ok(())
}

pub fn print_outbox(rows: &[outbox::OutboxEntry]) {
    println!(
        "{:>4} {:<11} {:<24} {:<34} {:>3}  subject",
        "id", "state", "purpose", "to", "try"
    );
    for r in rows {
        println!(
            "{:>4} {:<11} {:<24} {:<34} {:>3}  {}",
            r.id, r.state, r.purpose, r.env_to, r.attempts, r.subject
        );
        if let Some(e) = &r.last_error {
            println!("     last error: {e}");
        }
    }
    println!("{} mail(s)", rows.len());
}
