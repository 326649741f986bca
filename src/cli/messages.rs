//! `postbote messages list [--failed]` and `postbote messages retry ID`: the
//! incoming mail as stored, and putting a failed one back.

use crate::config::Config;
use crate::store::Store;
use crate::store::messages::{self, Retry};
use std::process::ExitCode;

pub async fn list(config: &Config, failed: bool, limit: i64, json: bool) -> anyhow::Result<()> {
    let store = Store::open_existing(&config.settings.storage.database).await?;
    let rows = messages::list(&store, failed, limit).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:>5} {:<10} {:<12} {:<34} {:>3}  subject",
        "id", "state", "class", "from", "try"
    );
    for m in &rows {
        println!(
            "{:>5} {:<10} {:<12} {:<34} {:>3}  {}",
            m.id,
            m.state,
            m.class.as_deref().unwrap_or("-"),
            m.from_address.as_deref().unwrap_or("-"),
            m.attempts,
            m.subject.as_deref().unwrap_or("")
        );
        let place = match (&m.location, m.moved) {
            (Some(l), true) => format!("{l}, moved to the processed folder"),
            (Some(l), false) => l.clone(),
            (None, _) => "(no mailbox location)".into(),
        };
        println!(
            "      received {}, {place}{}",
            &m.internal_date[..m.internal_date.len().min(19)],
            if m.retries > 0 {
                format!(", retried {} time(s)", m.retries)
            } else {
                String::new()
            }
        );
        if let Some(e) = &m.error {
            println!("      error: {e}");
        }
    }
    println!("{} message(s)", rows.len());
    Ok(())
}

/// Exit 0 when the message was put back, 1 when there was nothing to put
/// back, 2 on errors (no such message, storage).
pub async fn retry(config: &Config, id: i64) -> anyhow::Result<ExitCode> {
    let store = Store::open_existing(&config.settings.storage.database).await?;
    let outcome = messages::retry(&store, id).await?;
    store.close().await;
    match outcome {
        Retry::Requeued { moves_cleared } => {
            println!(
                "message {id} is pending again (attempts reset{}); the daemon processes it at its \
                 next mailbox check (new mail, or within mailbox.rescan_secs)",
                if moves_cleared > 0 {
                    ", its refused move is tried again"
                } else {
                    ""
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Retry::MoveRequeued { .. } => {
            println!(
                "message {id} was processed; its refused move to the processed folder is tried \
                 again at the daemon's next mailbox check"
            );
            Ok(ExitCode::SUCCESS)
        }
        Retry::NotFailed(state) => {
            eprintln!("message {id} has not failed (state {state}): nothing to retry");
            Ok(ExitCode::from(1))
        }
        Retry::NoSuchMessage => {
            eprintln!("no message {id} (see postbote messages list)");
            Ok(ExitCode::from(2))
        }
    }
}
