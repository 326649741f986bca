//! Wakes the running daemon after a command queued outgoing mail or changed
//! what the scheduler plans: SIGUSR1 to the process that holds the
//! database lock (`store::lock`), which then looks at the outbox and its
//! plan at once ([`crate::startup::forward_wakeups`]). The daemon never
//! polls for such changes, so without the signal they wait for its next
//! planned pass.
//!
//! Signalled only when the lock file names a `postbote run` whose process is
//! alive and still a `run` (a pid reused by another program is left alone:
//! SIGUSR1 would end it). Failing to wake is a warning, never an error: the
//! command's work is committed, and the daemon finds it at its next pass.

use crate::store::lock;
use std::path::Path;

/// Wakes the daemon working on `database`, if one runs.
pub fn wake(database: &Path) {
    match running_daemon(database) {
        Ok(Some(pid)) => match signal(pid) {
            Ok(()) => tracing::debug!(pid, "daemon woken (SIGUSR1)"),
            Err(e) => tracing::warn!(
                pid, error = %e,
                "cannot wake the daemon (SIGUSR1); it sees the change at its next pass"
            ),
        },
        Ok(None) => tracing::debug!("no daemon running on this database; nothing to wake"),
        Err(e) => tracing::warn!(
            error = %e,
            "cannot tell whether a daemon runs (lock file unreadable); it sees the change at \
             its next pass"
        ),
    }
}

/// The pid of the live `postbote run` holding the lock of `database`.
fn running_daemon(database: &Path) -> std::io::Result<Option<u32>> {
    let Some((pid, command)) = lock::last_holder(database)? else {
        return Ok(None);
    };
    if command != "run" || pid == std::process::id() || pid == 0 {
        return Ok(None);
    }
    Ok(is_daemon(pid).then_some(pid))
}

/// Whether `pid` is alive and its command line is a `run` (the file
/// outlives the daemon; the kernel may have given its pid to another
/// process since).
fn is_daemon(pid: u32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    cmdline.split(|b| *b == 0).any(|arg| arg == b"run")
}

fn signal(pid: u32) -> std::io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(std::io::Error::other)?;
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(pid, libc::SIGUSR1) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_live_run_that_is_not_this_process_is_woken() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("postbote.sqlite");
        assert_eq!(running_daemon(&db).unwrap(), None, "no lock file");
        // This test process: never signalled (a command is not the daemon).
        let lock = lock::DatabaseLock::acquire(&db, "run").unwrap();
        assert_eq!(running_daemon(&db).unwrap(), None);
        drop(lock);
        // A live process that is not a `run` (the file outlived the daemon
        // and the pid was reused).
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        std::fs::write(lock::lock_path(&db), format!("{} run\n", other.id())).unwrap();
        assert_eq!(running_daemon(&db).unwrap(), None);
        wake(&db);
        assert!(other.try_wait().unwrap().is_none(), "left alone");
        // A live `run`: found.
        let mut daemon = std::process::Command::new("sh")
            .args(["-c", "trap '' USR1; sleep 30", "postbote", "run"])
            .spawn()
            .unwrap();
        // NOTE: until the child has exec'd, its command line is this test's.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !is_daemon(daemon.id()) {
            assert!(std::time::Instant::now() < deadline, "sh never started");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::fs::write(lock::lock_path(&db), format!("{} run\n", daemon.id())).unwrap();
        assert_eq!(running_daemon(&db).unwrap(), Some(daemon.id()));
        std::fs::write(lock::lock_path(&db), format!("{} migrate\n", daemon.id())).unwrap();
        assert_eq!(
            running_daemon(&db).unwrap(),
            None,
            "a migration is not woken"
        );
        for p in [&mut other, &mut daemon] {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}
