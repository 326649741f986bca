//! `postbote applications --export FILE.xlsx [--programme CODE]`: the
//! overview spreadsheet (the one the `ÜBERSICHT` mail attaches) as a file.

use crate::config::Config;
use crate::store::Store;
use crate::workflow::overview;
use std::path::Path;
use std::process::ExitCode;

pub async fn export(
    config: &Config,
    out: &Path,
    programme: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let code = programme.map(str::to_ascii_uppercase);
    if let Some(code) = &code
        && config.programmes.get(code).is_none()
    {
        eprintln!("no programme with the code {code}");
        return Ok(ExitCode::from(2));
    }
    let store = Store::open_existing(&config.settings.storage.database).await?;
    let mut tx = store.begin().await?;
    let o = overview::collect(&mut tx, code.as_deref(), chrono::Utc::now()).await?;
    drop(tx);
    let bytes = overview::sheet::xlsx(&o)?;
    // NOTE: personal data: never overwrite a file, readable by the owner only.
    crate::retention::export::write_private(out, &bytes)?;
    for line in o.summary() {
        println!("{line}");
    }
    println!(
        "{} application(s) written to {} (personal data: keep it safe, delete it when done)",
        o.rows.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
