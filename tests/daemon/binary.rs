//! The real `postbote` binary as its own process: start `run` on a config,
//! send it SIGTERM, time its exit, read its log. And a config on a Maildir
//! and the file transport, for tests that need no mail servers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// `postbote --config CONFIG ARGS…`, with `env` added.
pub fn postbote(config: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postbote"))
        .arg("--config")
        .arg(config)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run postbote")
}

/// A `postbote run` process; killed if still running when dropped.
pub struct Daemon {
    pub child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Starts `postbote --config CONFIG --log-json run` with `env` added; its
    /// stderr goes to `log`.
    pub fn start(config: &Path, env: &[(&str, &str)], log: &Path) -> Daemon {
        let file = std::fs::File::create(log).expect("create log file");
        let child = Command::new(env!("CARGO_BIN_EXE_postbote"))
            .arg("--config")
            .arg(config)
            .args(["--log-json", "run"])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn postbote run");
        Daemon {
            child,
            log: log.to_path_buf(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// The exit status, or `None` while it runs.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Sends SIGTERM and waits up to `limit` for the exit; returns the status
    /// and how long it took. Fails the test (with the log) past `limit`.
    pub async fn stop_within(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        let started = Instant::now();
        self.terminate();
        let status = self.wait_exit(limit).await;
        (status, started.elapsed())
    }

    /// Waits up to `limit` for the exit; fails the test (with the log) past it.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                panic!(
                    "postbote still running after {limit:?}; log:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Writes a config in `dir` on the Maildir `dir/md` and the file transport
/// (`dir/out`), with the database `dir/postbote.sqlite`.
pub fn maildir_config(dir: &Path) -> PathBuf {
    let root = env!("CARGO_MANIFEST_DIR");
    let config = dir.join("postbote.toml");
    std::fs::write(
        &config,
        format!(
            "[instance]\nname = \"ops-test\"\ndomain = \"ews.test\"\n\
             [mailbox]\nsource = \"maildir\"\nprocessed_folder = \"Done\"\n\
             [maildir]\npath = \"md\"\npoll_interval_secs = 1\n\
             [smtp]\ntransport = \"file\"\nfile_dir = \"out\"\n\
             [storage]\ndatabase = \"postbote.sqlite\"\n\
             [mail]\nfrom_address = \"projekt@ews.test\"\nfrom_name = \"P\"\n\
             [staff]\naddresses = [\"leitung@ews.test\"]\nnotify = [\"leitung@ews.test\"]\n\
             [digest]\nenabled = false\n\
             [programme]\nfile = \"{root}/config/ews7.toml\"\n\
             [templates]\ndir = \"{root}/templates\"\n"
        ),
    )
    .expect("write config");
    std::fs::create_dir_all(dir.join("out")).expect("create out");
    config
}

/// Polls `postbote status` until it exits 0 (a mailbox check succeeded);
/// fails the test with the daemon's log after `limit`.
pub async fn wait_healthy(config: &Path, daemon: &mut Daemon, limit: Duration) {
    let started = Instant::now();
    loop {
        let out = postbote(config, &[], &["status"]);
        if out.status.success() {
            return;
        }
        if let Some(status) = daemon.exited() {
            panic!(
                "postbote run ended ({status}) before it was healthy:\n{}",
                daemon.log()
            );
        }
        if started.elapsed() > limit {
            panic!(
                "not healthy after {limit:?}: {}{}\nlog:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                daemon.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
