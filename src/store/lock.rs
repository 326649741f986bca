//! One daemon per database: an exclusive advisory lock (`flock`) on
//! `<database>.lock`, held for the life of the process (`postbote run`) or of
//! the migration (`postbote migrate`).
//!
//! The kernel drops the lock when the process ends, however it ends
//! (SIGKILL, a crash, a power cut): a stale file never blocks a start. The
//! file is never deleted (deleting a lock file races with a process that has
//! just opened it); it holds the pid and the command of the last holder, for
//! the message a second process prints.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "the database {database} is in use by another postbote ({holder}): its lock file {lock} \
         is held; only one daemon (or `postbote migrate`) may work on a database at a time"
    )]
    Held {
        database: PathBuf,
        lock: PathBuf,
        /// "pid 1234, `postbote run`", or what is known of the holder.
        holder: String,
    },
    #[error("cannot use the lock file {lock}: {source}")]
    Io {
        lock: PathBuf,
        source: std::io::Error,
    },
}

/// The lock file of the database at `database`: `<database>.lock`.
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

/// Held while alive; the lock is released when this is dropped (or the
/// process ends).
#[derive(Debug)]
pub struct DatabaseLock {
    _file: File,
    path: PathBuf,
}

impl DatabaseLock {
    /// Takes the lock of `database` without waiting, for `command` ("run",
    /// "migrate"), and writes this process's pid and command into it.
    pub fn acquire(database: &Path, command: &str) -> Result<DatabaseLock, LockError> {
        let lock = lock_path(database);
        let io = |source| LockError::Io {
            lock: lock.clone(),
            source,
        };
        if let Some(dir) = lock.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(LockError::Held {
                    database: database.to_path_buf(),
                    lock,
                    holder: describe_holder(&text),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // An older file may carry wider permissions.
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{} {command}", std::process::id()).map_err(io)?;
        Ok(DatabaseLock {
            _file: file,
            path: lock,
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The pid and the command ("run", "migrate") the last holder of the lock
/// of `database` wrote into it; None when there is no lock file or it says
/// nothing readable. Says nothing about whether that process still lives.
pub fn last_holder(database: &Path) -> std::io::Result<Option<(u32, String)>> {
    let text = match std::fs::read_to_string(lock_path(database)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(parse_holder(&text))
}

fn parse_holder(text: &str) -> Option<(u32, String)> {
    let mut words = text.split_whitespace();
    let pid = words.next()?.parse::<u32>().ok()?;
    Some((pid, words.next()?.to_string()))
}

/// "pid 1234, `postbote run`" from the file's "1234 run".
fn describe_holder(text: &str) -> String {
    let mut words = text.split_whitespace();
    match (
        words.next().and_then(|p| p.parse::<u32>().ok()),
        words.next(),
    ) {
        (Some(pid), Some(command)) => format!("pid {pid}, `postbote {command}`"),
        (Some(pid), None) => format!("pid {pid}"),
        _ => "a process that has not written its pid yet".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_lock_file_and_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("postbote.sqlite");
        let first = DatabaseLock::acquire(&db, "run").unwrap();
        assert_eq!(first.path(), dir.path().join("postbote.sqlite.lock"));
        let err = DatabaseLock::acquire(&db, "migrate").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, LockError::Held { .. }), "{text}");
        assert!(text.contains("postbote.sqlite.lock"), "{text}");
        assert!(
            text.contains(&format!("pid {}, `postbote run`", std::process::id())),
            "{text}"
        );
        let mode = std::fs::metadata(first.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // Released on drop: the next one gets it and writes itself in.
        drop(first);
        let again = DatabaseLock::acquire(&db, "migrate").unwrap();
        let text = std::fs::read_to_string(again.path()).unwrap();
        assert_eq!(text, format!("{} migrate\n", std::process::id()));
    }

    #[test]
    fn the_last_holder_is_read_back_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("postbote.sqlite");
        assert!(last_holder(&db).unwrap().is_none(), "no lock file yet");
        let lock = DatabaseLock::acquire(&db, "run").unwrap();
        assert_eq!(
            last_holder(&db).unwrap(),
            Some((std::process::id(), "run".to_string()))
        );
        drop(lock);
        assert_eq!(parse_holder("42"), None);
        assert_eq!(parse_holder(""), None);
    }

    #[test]
    fn the_holder_is_described_from_what_it_wrote() {
        assert_eq!(describe_holder("42 run\n"), "pid 42, `postbote run`");
        assert_eq!(describe_holder("42"), "pid 42");
        assert!(describe_holder("").contains("not written"));
    }
}
