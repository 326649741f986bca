//! The programmes of one instance (part 9): one programme file each, listed
//! in the settings (`[programme] files = […]`), each with a unique code.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::error::ConfigError;
use super::programme::Programme;
use super::settings::ProgrammeSettings;

/// Every programme the settings name, in the order they are listed.
#[derive(Debug, Clone)]
pub struct Programmes {
    list: Vec<Programme>,
}

impl Programmes {
    /// Loads and validates every programme file the settings name.
    pub fn load(settings: &ProgrammeSettings, config_file: &Path) -> Result<Self, ConfigError> {
        let paths = settings.paths();
        let list = paths
            .iter()
            .map(|p| Programme::load(p))
            .collect::<Result<Vec<_>, _>>()?;
        for (i, p) in list.iter().enumerate() {
            if let Some(j) = list[..i].iter().position(|q| q.code == p.code) {
                return Err(ConfigError::invalid(
                    config_file,
                    "programme.files",
                    format!(
                        "{} and {} both have the code {}; codes must be unique \
                         (set `code = \"…\"` in one of them)",
                        paths[j].display(),
                        paths[i].display(),
                        p.code
                    ),
                ));
            }
        }
        Self::new(list, config_file)
    }

    /// Refuses an empty list and a code given twice (`file` is named in
    /// the error).
    pub fn new(list: Vec<Programme>, file: &Path) -> Result<Self, ConfigError> {
        if list.is_empty() {
            return Err(ConfigError::invalid(file, "programme", "no programme file"));
        }
        for (i, p) in list.iter().enumerate() {
            if list[..i].iter().any(|q| q.code == p.code) {
                return Err(ConfigError::invalid(
                    file,
                    "programme.files",
                    format!(
                        "two programmes have the code {}; codes must be unique",
                        p.code
                    ),
                ));
            }
        }
        Ok(Programmes { list })
    }

    /// One programme only (tests, the demo's first part).
    pub fn single(programme: Programme) -> Self {
        Programmes {
            list: vec![programme],
        }
    }

    /// The first programme listed.
    pub fn first(&self) -> &Programme {
        // NOTE: `new` refuses an empty list, so there is always a first.
        &self.list[0]
    }

    /// The first programme listed, to change (the demo).
    pub fn first_mut(&mut self) -> &mut Programme {
        &mut self.list[0]
    }

    /// Every programme, to change (the demo, tests).
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Programme> {
        self.list.iter_mut()
    }

    /// Every programme, in the order of the settings.
    pub fn iter(&self) -> std::slice::Iter<'_, Programme> {
        self.list.iter()
    }

    /// The programmes that are not retired.
    pub fn active(&self) -> impl Iterator<Item = &Programme> {
        self.list.iter().filter(|p| !p.retired)
    }

    /// The programme with this code (any case).
    pub fn get(&self, code: &str) -> Option<&Programme> {
        let code = code.trim();
        self.list.iter().find(|p| p.code.eq_ignore_ascii_case(code))
    }

    /// The one programme that is not retired, when there is exactly one:
    /// then staff may leave out the code in commands and on the CLI.
    pub fn only_active(&self) -> Option<&Programme> {
        let mut active = self.active();
        match (active.next(), active.next()) {
            (Some(p), None) => Some(p),
            _ => None,
        }
    }

    /// The programme a command means: the one with `code`, or without a
    /// code the only active one (the only one at all, when every programme
    /// is retired). [`Unresolved`] when the code is unknown or none was
    /// given with several active programmes.
    pub fn pick(&self, code: Option<&str>) -> Result<&Programme, Unresolved> {
        match code {
            Some(code) => self.get(code).ok_or_else(|| Unresolved::Unknown {
                code: code.trim().to_string(),
                codes: self.codes(),
            }),
            None => match self.only_active() {
                Some(p) => Ok(p),
                None if self.list.len() == 1 => Ok(self.first()),
                None => Err(Unresolved::Ambiguous {
                    codes: self.codes(),
                }),
            },
        }
    }

    /// What mail about no programme in particular is labelled with: the
    /// short names of the active programmes, "EWS 7 / EWS 8" (every
    /// programme's when all are retired; with one programme, its own).
    pub fn label(&self) -> String {
        let active: Vec<&str> = self.active().map(|p| p.short_name.as_str()).collect();
        if active.is_empty() {
            self.list
                .iter()
                .map(|p| p.short_name.as_str())
                .collect::<Vec<_>>()
                .join(" / ")
        } else {
            active.join(" / ")
        }
    }

    /// Every code, in the settings' order, comma-separated.
    pub fn codes(&self) -> String {
        self.list
            .iter()
            .map(|p| p.code.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The programmes whose call for applications is open at `at`.
    pub fn open_calls(&self, at: DateTime<Utc>) -> Vec<&Programme> {
        self.list.iter().filter(|p| p.is_call_open(at)).collect()
    }

    /// How many programmes there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Never true (see [`Programmes::new`]); for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// Why [`Programmes::pick`] found no programme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unresolved {
    #[error("no programme has the code {code} (codes: {codes})")]
    Unknown { code: String, codes: String },
    #[error("several programmes are active: name one with --programme CODE (codes: {codes})")]
    Ambiguous { codes: String },
}

impl Unresolved {
    /// The same in German, for answers to staff mail.
    pub fn german(&self) -> String {
        match self {
            Unresolved::Unknown { code, codes } => {
                format!("Kein Programm hat das Kürzel {code}. Kürzel: {codes}.")
            }
            Unresolved::Ambiguous { codes } => format!(
                "Mehrere Programme laufen: bitte das Kürzel nach dem Befehlswort nennen \
                 (z. B. FREIGEBEN EWS8 EINLADUNGEN). Kürzel: {codes}."
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_files_with_the_same_code_are_refused_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let shipped =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/ews7.toml"))
                .unwrap();
        let a = dir.path().join("ews7.toml");
        let b = dir.path().join("ews7-copy.toml");
        std::fs::write(&a, &shipped).unwrap();
        std::fs::write(&b, &shipped).unwrap();
        let settings = ProgrammeSettings {
            file: None,
            files: vec![a.clone(), b.clone()],
        };
        let config = dir.path().join("postbote.toml");
        let err = Programmes::load(&settings, &config)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ews7.toml")
                && err.contains("ews7-copy.toml")
                && err.contains("both have the code EWS7")
                && err.contains("programme.files"),
            "{err}"
        );
        // A code of its own makes them two programmes.
        let own = shipped.replacen("short_name", "code = \"EWS8\"\nshort_name", 1);
        std::fs::write(&b, own).unwrap();
        let both = Programmes::load(&settings, &config).unwrap();
        let codes: Vec<&str> = both.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes, ["EWS7", "EWS8"]);
    }

    /// The demo's two programmes (config/demo.toml) load; mail about no
    /// programme in particular names the active ones.
    #[test]
    fn the_demo_programmes_load_and_neutral_mail_names_the_active_ones() {
        let config = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml"));
        let settings = ProgrammeSettings {
            file: None,
            files: vec![
                concat!(env!("CARGO_MANIFEST_DIR"), "/config/ews7.toml").into(),
                concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo-ews8.toml").into(),
            ],
        };
        let mut both = Programmes::load(&settings, config).unwrap();
        let codes: Vec<&str> = both.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes, ["EWS7", "EWS8"]);
        assert_eq!(both.label(), "EWS 7 / EWS 8");
        both.first_mut().retired = true;
        assert_eq!(both.label(), "EWS 8");
        for p in both.iter_mut() {
            p.retired = true;
        }
        assert_eq!(both.label(), "EWS 7 / EWS 8");
        let one = Programmes::single(both.first().clone());
        assert_eq!(one.label(), "EWS 7");
    }
}
