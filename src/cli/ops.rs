//! `postbote migrate` and `postbote backup`: the operator's side of the
//! database (see the README's operations section).

use crate::config::Config;
use crate::store::lock::DatabaseLock;
use crate::store::{Store, backup};
use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;

/// Applies pending migrations under the database lock: refused while a
/// daemon runs on the database.
pub async fn migrate(config: &Config) -> anyhow::Result<ExitCode> {
    let database = &config.settings.storage.database;
    let _lock = DatabaseLock::acquire(database, "migrate").context(
        "postbote migrate refused (stop the daemon first; it also migrates at its start)",
    )?;
    let (store, applied) = Store::open_and_migrate(database).await?;
    store.close().await;
    match applied.last() {
        None => println!("{}: up to date", database.display()),
        Some(last) => println!(
            "{}: applied {} migration(s), now at version {last}",
            database.display(),
            applied.len()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a consistent copy of the database to the new file `target`.
pub async fn backup(config: &Config, target: &Path) -> anyhow::Result<ExitCode> {
    let database = &config.settings.storage.database;
    let store = Store::open_any(database).await?;
    let written = backup::write(&store, target).await;
    store.close().await;
    let bytes = written?;
    println!(
        "{}: consistent copy of {} written ({bytes} bytes, mode 0600)",
        target.display(),
        database.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    /// Only `run` (mod.rs), `migrate` (here) and the demo (its own database)
    /// may migrate: every other command opens the store as it is.
    #[test]
    fn no_other_command_migrates_the_database() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
        let mut offenders = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            // How often each may stand where it is allowed: `run`, `migrate`,
            // the demo's two daemons; nowhere else.
            let allowed: &[(&str, usize)] = match name.as_str() {
                "mod.rs" => &[("App::build(", 1)],
                "ops.rs" => &[("Store::open_and_migrate(", 1)],
                "demo.rs" => &[("App::build_with_clock(", 2)],
                _ => &[],
            };
            for needle in [
                "App::build(",
                "App::build_with_clock(",
                "Store::open(",
                "Store::open_and_migrate(",
            ] {
                let limit = allowed
                    .iter()
                    .find(|(n, _)| *n == needle)
                    .map_or(0, |(_, k)| *k);
                let found = code.matches(needle).count();
                if found > limit {
                    offenders.push(format!("{name}: {needle} ×{found}"));
                }
            }
        }
        assert!(offenders.is_empty(), "{offenders:?}");
    }
}
