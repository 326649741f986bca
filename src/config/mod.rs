//! Configuration: the daemon settings (`postbote.toml`, layered under
//! `POSTBOTE_<SECTION>__<KEY>` environment variables) and the programme file.

pub mod error;
mod overrides;
pub mod programme;
pub mod programmes;
pub mod schedule;
mod secret;
pub mod settings;

pub use error::ConfigError;
pub use programme::Programme;
pub use programmes::Programmes;
pub use settings::{Security, Settings};

use std::path::{Path, PathBuf};

/// Everything the daemon needs to start: settings plus the validated programmes.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub programmes: Programmes,
    /// The main config file, for messages.
    pub path: PathBuf,
}

impl Config {
    /// Loads the settings file, applies environment overrides, resolves secrets
    /// and loads the programme files that the settings name.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let settings = Settings::load(path, std::env::vars())?;
        let programmes = Programmes::load(&settings.programme, path)?;
        Ok(Config {
            settings,
            programmes,
            path: path.to_path_buf(),
        })
    }
}
