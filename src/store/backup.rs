//! `postbote backup FILE`: a consistent copy of the live database.
//!
//! `VACUUM INTO` reads the database in one read transaction, so the copy is
//! the state of one moment even while the daemon writes (WAL: it neither
//! waits for the daemon nor blocks it), and it is compact. The target is
//! created here first, empty and mode 0600 (SQLite accepts an empty file),
//! which also refuses an existing file without a race; SQLite does not sync
//! what `VACUUM INTO` wrote, so this does.

use super::{FILE_MODE, Store};
use anyhow::Context;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why a backup was not written.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} exists: postbote backup never overwrites a file; choose a new name")]
    Exists(PathBuf),
}

/// Writes a consistent copy of `store` to the new file `target` and returns
/// its size in bytes. On failure nothing is left at `target`.
pub async fn write(store: &Store, target: &Path) -> anyhow::Result<u64> {
    let target = std::path::absolute(target)
        .with_context(|| format!("cannot resolve {}", target.display()))?;
    let Some(name) = target.to_str() else {
        anyhow::bail!("the backup path {} is not valid UTF-8", target.display());
    };
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(&target)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(BackupError::Exists(target).into());
        }
        Err(e) => {
            return Err(e).with_context(|| format!("cannot create {}", target.display()));
        }
    }
    let copied = async {
        sqlx::query("VACUUM INTO ?")
            .bind(name)
            .execute(store.pool())
            .await
            .context("VACUUM INTO failed")?;
        let file = std::fs::File::open(&target)?;
        file.sync_all()?;
        if let Some(dir) = target.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        anyhow::Ok(file.metadata()?.len())
    }
    .await;
    if copied.is_err() {
        let _ = std::fs::remove_file(&target);
    }
    copied.with_context(|| format!("cannot write the backup {}", target.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn the_copy_is_complete_private_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).await.unwrap();
        crate::store::health::set(&store, "k", "v").await.unwrap();
        let target = dir.path().join("copy.sqlite");
        assert!(write(&store, &target).await.unwrap() > 0);
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let copy = Store::open_existing(&target).await.unwrap();
        let v = crate::store::health::get(&copy, "k").await.unwrap();
        assert_eq!(v.map(|(v, _)| v).as_deref(), Some("v"));
        let before = std::fs::read(&target).unwrap();
        let err = write(&store, &target).await.unwrap_err();
        assert!(err.downcast_ref::<BackupError>().is_some(), "{err:#}");
        assert!(err.to_string().contains("never overwrites"), "{err:#}");
        assert_eq!(
            std::fs::read(&target).unwrap(),
            before,
            "the file is untouched"
        );
    }
}
