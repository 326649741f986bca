//! `POSTBOTE_<SECTION>__<KEY>` environment overrides, applied to the parsed TOML.

use super::ConfigError;
use std::path::Path;
use toml::Value;

const PREFIX: &str = "POSTBOTE_";

/// Applies every `POSTBOTE_<SECTION>__<KEY>=value` to `root`. The value is read as a
/// TOML value when it parses as one (numbers, booleans, arrays), else as a string.
pub(super) fn apply(
    root: &mut Value,
    vars: impl Iterator<Item = (String, String)>,
    file: &Path,
) -> Result<(), ConfigError> {
    for (name, raw) in vars {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        // POSTBOTE_CONFIG and POSTBOTE_LOG are read by the CLI, not here.
        if !rest.contains("__") {
            continue;
        }
        let path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
        if path.iter().any(|p| p.is_empty()) {
            return Err(ConfigError::invalid(file, name, "empty section or key"));
        }
        set(root, &path, parse_value(&raw), file, &name)?;
    }
    Ok(())
}

fn parse_value(raw: &str) -> Value {
    let doc = format!("v = {raw}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| Value::String(raw.to_string())),
        Err(_) => Value::String(raw.to_string()),
    }
}

fn set(
    root: &mut Value,
    path: &[String],
    value: Value,
    file: &Path,
    var: &str,
) -> Result<(), ConfigError> {
    let mut node = root;
    for (i, key) in path.iter().enumerate() {
        let Value::Table(table) = node else {
            return Err(ConfigError::invalid(
                file,
                var,
                "overrides a value that is not a table",
            ));
        };
        if i == path.len() - 1 {
            table.insert(key.clone(), value);
            return Ok(());
        }
        node = table
            .entry(key.clone())
            .or_insert_with(|| Value::Table(toml::Table::new()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_keys_and_types_are_overridden() {
        let mut root: Value = toml::from_str("[imap]\nport = 1\nhost = \"a\"").unwrap();
        let vars = vec![
            ("POSTBOTE_IMAP__PORT".to_string(), "993".to_string()),
            (
                "POSTBOTE_IMAP__HOST".to_string(),
                "mail.example.org".to_string(),
            ),
            ("POSTBOTE_SMTP__PASSWORD".to_string(), "s3cr#t".to_string()),
            ("HOME".to_string(), "/root".to_string()),
        ];
        apply(&mut root, vars.into_iter(), Path::new("x.toml")).unwrap();
        assert_eq!(root["imap"]["port"].as_integer(), Some(993));
        assert_eq!(root["imap"]["host"].as_str(), Some("mail.example.org"));
        assert_eq!(root["smtp"]["password"].as_str(), Some("s3cr#t"));
    }
}
