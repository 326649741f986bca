//! `postbote forget` and `postbote export`: erasure (DSGVO Art. 17) and
//! access (Art. 15) for one application or one person.

use crate::config::Config;
use crate::retention;
use crate::store::Store;
use crate::store::retention::Reason;
use std::path::Path;
use std::process::ExitCode;

/// Shows (without `yes`) or erases everything stored about `target`, a
/// reference or an email address, in the database and the mailbox.
pub async fn forget(config: &Config, target: &str, yes: bool) -> anyhow::Result<ExitCode> {
    let store = Store::open_existing(&config.settings.storage.database).await?;
    let result = forget_in(config, &store, target, yes).await;
    store.close().await;
    result
}

async fn forget_in(
    config: &Config,
    store: &Store,
    target: &str,
    yes: bool,
) -> anyhow::Result<ExitCode> {
    let Some((sel, refs)) = retention::select_forget(store, target).await? else {
        println!("nothing stored about {target}");
        return Ok(ExitCode::SUCCESS);
    };
    let counts = crate::store::retention::preview(store, &sel).await?;
    let what = if refs.is_empty() {
        "no application".to_string()
    } else {
        format!("application(s) {}", refs.join(", "))
    };
    if !yes {
        println!("would erase ({what}); nothing changed, run again with --yes:");
        for (kind, n) in counts.lines() {
            println!("  {kind}: {n}");
        }
        println!("  and their copies in the mailbox folders");
        return Ok(ExitCode::SUCCESS);
    }
    let (counts, expunged) =
        retention::erase(store, &config.settings, &sel, Reason::Forget, &refs).await?;
    println!("erased ({what}):");
    for (kind, n) in counts.lines() {
        println!("  {kind}: {n}");
    }
    println!("  mails deleted from the mailbox folders: {expunged}");
    Ok(ExitCode::SUCCESS)
}

/// Writes the Art. 15 export of one application to the new file `out`.
pub async fn export(config: &Config, reference: &str, out: &Path) -> anyhow::Result<ExitCode> {
    let store = Store::open_existing(&config.settings.storage.database).await?;
    let result =
        retention::export::write_file(&store, programme_of(config, reference), reference, out)
            .await;
    store.close().await;
    let n = result?;
    println!("{}: {n} file(s) written (mode 0600)", out.display());
    Ok(ExitCode::SUCCESS)
}

/// The programme a reference belongs to, by its prefix (`EWS8-0001`), else
/// the first one (the cover note names it).
fn programme_of<'a>(config: &'a Config, reference: &str) -> &'a crate::config::Programme {
    let upper = reference.trim().to_ascii_uppercase();
    config
        .programmes
        .iter()
        .find(|p| upper.starts_with(&format!("{}-", p.code)))
        .unwrap_or(config.programmes.first())
}
