//! Maildir source: for the mail host itself and for the demo. A message's
//! identity is its unique file name (the part before `:2,`).

use super::{Fetch, Fetched, HeaderSummary, MailSource, SourceError, Wake};
use crate::store::messages::Location;
use anyhow::Context;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct MaildirSource {
    root: PathBuf,
    processed: PathBuf,
    poll: Duration,
}

impl MaildirSource {
    /// `processed_folder` such as `Postbote/Verarbeitet` becomes the Maildir++
    /// folder `.Postbote.Verarbeitet` under `root`.
    pub fn new(root: &Path, processed_folder: &str, poll: Duration) -> MaildirSource {
        let name: String = processed_folder
            .chars()
            .map(|c| if c == '/' || c == '.' { '.' } else { c })
            .filter(|c| *c != '\0')
            .collect();
        MaildirSource {
            root: root.to_path_buf(),
            processed: root.join(format!(".{}", name.trim_matches('.'))),
            poll,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates `new`, `cur` and `tmp` if missing.
    pub fn ensure(dir: &Path) -> anyhow::Result<()> {
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(dir.join(sub))
                .with_context(|| format!("cannot create {}", dir.join(sub).display()))?;
        }
        Ok(())
    }

    fn find(&self, unique: &str) -> Option<PathBuf> {
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.root.join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if unique_of(&name) == unique {
                    return Some(e.path());
                }
            }
        }
        None
    }
}

fn unique_of(file_name: &str) -> &str {
    file_name.split(':').next().unwrap_or(file_name)
}

impl MailSource for MaildirSource {
    fn kind(&self) -> &'static str {
        "maildir"
    }

    async fn connect(&mut self) -> anyhow::Result<()> {
        Self::ensure(&self.root)?;
        Self::ensure(&self.processed)
    }

    async fn scan(&mut self) -> anyhow::Result<Vec<Location>> {
        let mut found = Vec::new();
        for sub in ["new", "cur"] {
            let dir = self.root.join(sub);
            let entries = std::fs::read_dir(&dir)
                .with_context(|| format!("cannot list {}", dir.display()))?;
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with('.') || !e.path().is_file() {
                    continue;
                }
                let modified = e.metadata().and_then(|m| m.modified()).ok();
                found.push((modified, unique_of(&name).to_string()));
            }
        }
        found.sort();
        Ok(found
            .into_iter()
            .map(|(_, uid)| Location {
                source: "maildir",
                folder: "INBOX".into(),
                validity: 0,
                uid,
            })
            .collect())
    }

    async fn fetch(&mut self, loc: &Location, max_bytes: u64) -> Result<Fetch, SourceError> {
        let Some(path) = self.find(&loc.uid) else {
            return Ok(Fetch::Gone);
        };
        let size = std::fs::metadata(&path)
            .with_context(|| format!("cannot read the size of {}", path.display()))
            .map_err(SourceError::Message)?
            .len();
        if size > max_bytes {
            // Only the head is read, for the staff notice.
            use std::io::Read;
            let mut head = Vec::new();
            let _ =
                std::fs::File::open(&path).and_then(|f| f.take(64 * 1024).read_to_end(&mut head));
            return Ok(Fetch::TooLarge {
                size,
                summary: HeaderSummary::from_header_block(&head),
            });
        }
        let raw = std::fs::read(&path)
            .with_context(|| format!("cannot read {}", path.display()))
            .map_err(SourceError::Message)?;
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let internal_date = modified.map(DateTime::<Utc>::from).unwrap_or_else(Utc::now);
        Ok(Fetch::Mail(Fetched { raw, internal_date }))
    }

    async fn move_processed(&mut self, loc: &Location) -> Result<(), SourceError> {
        let Some(path) = self.find(&loc.uid) else {
            return Ok(());
        };
        let Some(name) = path.file_name() else {
            return Err(SourceError::Message(anyhow::anyhow!(
                "message file has no name"
            )));
        };
        let target = self.processed.join("cur").join(name);
        std::fs::rename(&path, &target)
            .with_context(|| format!("cannot move {} to {}", path.display(), target.display()))
            .map_err(SourceError::Message)
    }

    async fn delete(&mut self, loc: &Location) -> Result<(), SourceError> {
        let Some(path) = self.find(&loc.uid) else {
            return Ok(());
        };
        std::fs::remove_file(&path)
            .with_context(|| format!("cannot delete {}", path.display()))
            .map_err(SourceError::Message)
    }

    async fn wait(
        &mut self,
        shutdown: &CancellationToken,
        at_most: Duration,
    ) -> anyhow::Result<Wake> {
        tokio::select! {
            _ = shutdown.cancelled() => Ok(Wake::Shutdown),
            _ = tokio::time::sleep(self.poll.min(at_most)) => Ok(Wake::Changed),
        }
    }
}
