//! `[reminders]` and `[digest]`: when programme reminders and the staff
//! digest go out.

use serde::{Deserialize, Deserializer};
use std::fmt;

/// How long before an event a reminder goes out: "14d", "2d", "1h", "90m", "2w".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Offset {
    minutes: i64,
}

impl Offset {
    /// Parses "<number><unit>" with unit m, h, d or w; at most a year.
    pub fn parse(text: &str) -> Result<Offset, String> {
        let t = text.trim();
        let split = t
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| format!("\"{text}\" has no unit; write e.g. \"14d\" or \"1h\""))?;
        let (number, unit) = t.split_at(split);
        let n: i64 = number
            .parse()
            .map_err(|_| format!("\"{text}\" does not start with a number"))?;
        let factor = match unit.trim() {
            "m" | "min" => 1,
            "h" => 60,
            "d" => 60 * 24,
            "w" => 60 * 24 * 7,
            other => {
                return Err(format!(
                    "unknown unit \"{other}\" in \"{text}\"; use m, h, d or w"
                ));
            }
        };
        let minutes = n * factor;
        if minutes <= 0 || minutes > 366 * 24 * 60 {
            return Err(format!("\"{text}\" must be between 1 minute and a year"));
        }
        Ok(Offset { minutes })
    }

    pub fn duration(self) -> chrono::Duration {
        chrono::Duration::minutes(self.minutes)
    }

    /// German, for mails and `postbote plan`: "14 Tage", "1 Stunde".
    pub fn german(self) -> String {
        let m = self.minutes;
        let (n, one, many) = if m % (60 * 24) == 0 {
            (m / (60 * 24), "Tag", "Tage")
        } else if m % 60 == 0 {
            (m / 60, "Stunde", "Stunden")
        } else {
            (m, "Minute", "Minuten")
        };
        format!("{n} {}", if n == 1 { one } else { many })
    }
}

impl Offset {
    /// German dative, for "in 14 Tagen", "in 1 Stunde".
    pub fn german_dative(self) -> String {
        let text = self.german();
        match text.strip_suffix(" Tage") {
            Some(n) => format!("{n} Tagen"),
            None => text,
        }
    }
}

impl fmt::Display for Offset {
    /// The compact form used in idempotency keys: "20160m".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}m", self.minutes)
    }
}

impl<'de> Deserialize<'de> for Offset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Offset::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReminderSettings {
    /// Before each in-person module (default 14 days and 2 days).
    #[serde(default = "module_offsets")]
    pub module_offsets: Vec<Offset>,
    /// Before each learning group (default 2 days and 1 hour).
    #[serde(default = "group_offsets")]
    pub learning_group_offsets: Vec<Offset>,
    /// Reminders that could not go out in time (downtime) are reported to
    /// staff if their event began at most this many days ago.
    #[serde(default = "report_days")]
    pub report_skipped_days: u32,
}

impl Default for ReminderSettings {
    fn default() -> Self {
        ReminderSettings {
            module_offsets: module_offsets(),
            learning_group_offsets: group_offsets(),
            report_skipped_days: report_days(),
        }
    }
}

fn module_offsets() -> Vec<Offset> {
    vec![Offset { minutes: 14 * 1440 }, Offset { minutes: 2 * 1440 }]
}
fn group_offsets() -> Vec<Offset> {
    vec![Offset { minutes: 2 * 1440 }, Offset { minutes: 60 }]
}
fn report_days() -> u32 {
    14
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestSettings {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Cron expression in Europe/Berlin (default weekdays 07:30).
    #[serde(default = "default_cron")]
    pub cron: String,
    /// Send a digest even when there is nothing to report.
    #[serde(default)]
    pub send_empty: bool,
}

impl Default for DigestSettings {
    fn default() -> Self {
        DigestSettings {
            enabled: true,
            cron: default_cron(),
            send_empty: false,
        }
    }
}

fn yes() -> bool {
    true
}
fn default_cron() -> String {
    crate::calendar::cron::DEFAULT_DIGEST.into()
}

#[cfg(test)]
mod tests {
    use super::Offset;

    #[test]
    fn offsets_parse_and_read_in_german() {
        assert_eq!(Offset::parse("14d").unwrap().german(), "14 Tage");
        assert_eq!(Offset::parse("1h").unwrap().german(), "1 Stunde");
        assert_eq!(Offset::parse("90m").unwrap().german(), "90 Minuten");
        assert_eq!(Offset::parse("2w").unwrap().german(), "14 Tage");
        assert_eq!(Offset::parse("1h").unwrap().to_string(), "60m");
        assert_eq!(Offset::parse("14d").unwrap().german_dative(), "14 Tagen");
        assert_eq!(Offset::parse("1d").unwrap().german_dative(), "1 Tag");
        assert_eq!(Offset::parse("1h").unwrap().german_dative(), "1 Stunde");
        for bad in ["", "14", "d", "0h", "-1d", "3x", "400d"] {
            assert!(Offset::parse(bad).is_err(), "{bad}");
        }
    }
}
