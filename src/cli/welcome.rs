//! `postbote participants welcome [--programme CODE]`: the welcome of a
//! cohort taken over mid-year (as the staff mail TERMINÜBERSICHT SENDEN).

use crate::config::Config;
use crate::context::App;
use crate::workflow::actions::ActionError;
use crate::workflow::participants::welcome;
use anyhow::Context;
use std::process::ExitCode;

pub async fn welcome(config: Config, programme: Option<&str>) -> anyhow::Result<ExitCode> {
    let app = App::for_command(config).await?;
    let chosen = match programme {
        Some(code) => app.programmes.get(code),
        None => app.programmes.only_active(),
    };
    let Some(chosen) = chosen else {
        let known: Vec<&str> = app.programmes.iter().map(|p| p.code.as_str()).collect();
        match programme {
            Some(code) => eprintln!("refused: no programme {code} (known: {})", known.join(", ")),
            None => eprintln!(
                "refused: name the programme with --programme CODE (known: {})",
                known.join(", ")
            ),
        }
        return Ok(ExitCode::from(1));
    };
    let desk = app.desk_for(chosen);
    let mut tx = app.store.begin().await?;
    match welcome::send(&desk, &mut tx, app.clock.now()).await {
        Ok(report) => {
            tx.commit().await.context("cannot commit the welcome")?;
            println!("{}", report.summary());
            for line in report.details() {
                println!("  {line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(ActionError::Refused(why)) => {
            tx.rollback().await?;
            eprintln!("refused: {why}");
            Ok(ExitCode::from(1))
        }
        Err(ActionError::Storage(e)) => Err(e),
    }
}
