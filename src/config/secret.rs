//! Passwords: from the environment (`POSTBOTE_IMAP__PASSWORD`) or a file, never the TOML.

use super::ConfigError;
use secrecy::SecretString;
use std::path::Path;
use toml::Value;

/// Refuses any `password` key written in the config file itself.
pub(super) fn refuse_clear_passwords(root: &Value, file: &Path) -> Result<(), ConfigError> {
    let Value::Table(table) = root else {
        return Ok(());
    };
    for (section, value) in table {
        if let Value::Table(inner) = value
            && inner.contains_key("command_secret")
        {
            return Err(ConfigError::invalid(
                file,
                format!("{section}.command_secret"),
                "the command secret must not stand in the config file; use \
                 staff.command_secret_file or POSTBOTE_STAFF__COMMAND_SECRET",
            ));
        }
        if let Value::Table(inner) = value
            && inner.contains_key("password")
        {
            return Err(ConfigError::invalid(
                file,
                format!("{section}.password"),
                format!(
                    "passwords must not stand in the config file; use {section}.password_file \
                     or the environment variable POSTBOTE_{}__PASSWORD",
                    section.to_ascii_uppercase()
                ),
            ));
        }
    }
    Ok(())
}

/// Resolves a password from an override (environment) or a file (first line).
pub(super) fn resolve(
    from_env: Option<String>,
    file: Option<&Path>,
    config_file: &Path,
    key: &str,
) -> Result<Option<SecretString>, ConfigError> {
    if let Some(p) = from_env {
        return Ok(Some(SecretString::from(p)));
    }
    let Some(path) = file else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::invalid(
            config_file,
            key,
            format!("cannot read password file {}: {e}", path.display()),
        )
    })?;
    let line = text.lines().next().unwrap_or("").to_string();
    if line.is_empty() {
        return Err(ConfigError::invalid(
            config_file,
            key,
            format!("password file {} is empty", path.display()),
        ));
    }
    Ok(Some(SecretString::from(line)))
}
