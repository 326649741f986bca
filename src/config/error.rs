//! Errors raised while loading configuration files.
//!
//! Every refusal names the file and the key path (e.g.
//! `modules[2].days[0].weekday`), so staff can find the line to fix.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// Key reported for TOML syntax errors, where no key path is known.
const SYNTAX_KEY: &str = "(syntax)";

/// Key reported for errors that concern the whole file (e.g. a missing top-level key).
const TOP_LEVEL_KEY: &str = "(top level)";

/// A configuration file could not be read or was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{}: cannot read: {source}", file.display())]
    Io {
        /// The file that was to be read.
        file: PathBuf,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },
    /// The file was read, but a value in it is not acceptable.
    #[error("{}: {key}: {reason}", file.display())]
    Invalid {
        /// The file that holds the value.
        file: PathBuf,
        /// The key path, e.g. `modules[2].days[0].weekday`.
        key: String,
        /// Why the value was refused, in plain English.
        reason: String,
    },
}

impl ConfigError {
    /// A refusal of the value at `key` in `file`.
    pub fn invalid(file: &Path, key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            file: file.to_path_buf(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// `file` could not be read.
    pub fn io(file: &Path, source: std::io::Error) -> Self {
        Self::Io {
            file: file.to_path_buf(),
            source,
        }
    }

    /// A TOML syntax error: the key is `(syntax)`, the reason the TOML message and line.
    pub fn toml_syntax(file: &Path, text: &str, err: &toml::de::Error) -> Self {
        Self::invalid(file, SYNTAX_KEY, toml_reason(text, err))
    }

    /// A TOML value that does not fit the expected shape (unknown key, wrong
    /// type, missing key), reported at the key path that serde tracked.
    pub fn toml_value(
        file: &Path,
        text: &str,
        err: &serde_path_to_error::Error<toml::de::Error>,
    ) -> Self {
        let path = err.path();
        let key = if path.iter().next().is_none() {
            TOP_LEVEL_KEY.to_owned()
        } else {
            path.to_string()
        };
        Self::invalid(file, key, toml_reason(text, err.inner()))
    }
}

/// Parses `text` as TOML into `T`, mapping every failure to [`ConfigError::Invalid`].
///
/// Syntax is checked first so that syntax errors are reported as `(syntax)`;
/// shape errors then carry their key path (e.g. `modules[2].days[0].colour`).
pub fn parse_toml<T: DeserializeOwned>(text: &str, file: &Path) -> Result<T, ConfigError> {
    if let Err(err) = text.parse::<toml::Table>() {
        return Err(ConfigError::toml_syntax(file, text, &err));
    }
    serde_path_to_error::deserialize(toml::Deserializer::new(text))
        .map_err(|err| ConfigError::toml_value(file, text, &err))
}

/// The TOML message on one line, followed by the line and column if known.
fn toml_reason(text: &str, err: &toml::de::Error) -> String {
    let message = err
        .message()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    match err.span() {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            format!("{message} (line {line}, column {column})")
        }
        None => message,
    }
}

/// The 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Shape {
        name: String,
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        size: u32,
    }

    fn file() -> &'static Path {
        Path::new("test.toml")
    }

    fn refusal(text: &str) -> (String, String, String) {
        match parse_toml::<Shape>(text, file()) {
            Err(err @ ConfigError::Invalid { .. }) => {
                let shown = err.to_string();
                let ConfigError::Invalid { key, reason, .. } = err else {
                    unreachable!()
                };
                (key, reason, shown)
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_are_reported_as_syntax_with_line() {
        let (key, reason, shown) = refusal("name = \"x\"\nitems = [\n");
        assert_eq!(key, "(syntax)");
        assert!(reason.contains("line"), "{reason}");
        assert!(shown.starts_with("test.toml: (syntax): "), "{shown}");
    }

    #[test]
    fn unknown_keys_name_their_path() {
        let (key, reason, _) = refusal("name = \"x\"\n[[items]]\nsize = 1\ncolour = 2\n");
        assert_eq!(key, "items[0].colour");
        assert!(reason.contains("unknown field `colour`"), "{reason}");
        assert!(reason.contains("line 4"), "{reason}");
    }

    #[test]
    fn type_errors_name_their_path() {
        let (key, reason, _) = refusal("name = \"x\"\n[[items]]\nsize = \"big\"\n");
        assert_eq!(key, "items[0].size");
        assert!(reason.contains("invalid type"), "{reason}");
    }

    #[test]
    fn missing_top_level_keys_are_reported_at_top_level() {
        let (key, reason, _) = refusal("items = []\n");
        assert_eq!(key, "(top level)");
        assert!(reason.contains("missing field `name`"), "{reason}");
    }

    #[test]
    fn io_errors_name_the_file() {
        let err = ConfigError::io(
            Path::new("/nowhere/p.toml"),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert!(
            err.to_string()
                .starts_with("/nowhere/p.toml: cannot read: ")
        );
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncä d", 7), (2, 4));
        assert_eq!(line_column("abc", 0), (1, 1));
    }
}
