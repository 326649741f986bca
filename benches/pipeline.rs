//! End-to-end benchmark against real servers (private Dovecot + Postfix) and
//! the release binary running as its own process:
//!
//!   (a) latency from "Postfix accepted the application" to "confirmation in
//!       the applicant's IMAP mailbox": p50/p99 over 100 mails sent one by one;
//!   (b) a backlog of 1,000 applications with two attachments each: mails/s;
//!   (c) the daemon's RSS when idle and at peak (VmRSS / VmHWM).
//!
//! Run: `cargo bench --bench pipeline` (as root; needs scripts/install-test-deps.sh).
//! Environment: BENCH_LATENCY_MAILS (100), BENCH_BACKLOG (1000), BENCH_ATTACHMENT_KB (64).

#[path = "../tests/daemon/mail_servers.rs"]
mod mail_servers;

#[allow(dead_code)]
#[path = "../tests/daemon/helpers.rs"]
mod helpers;

use anyhow::{Context, Result, bail};
use helpers::{Deadline, PROJECT, write_config};
use mail_servers::MailServers;
use postbote::store::Store;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Daemon {
    child: Child,
}

impl Daemon {
    fn start(config: &Path) -> Result<Daemon> {
        let child = Command::new(env!("CARGO_BIN_EXE_postbote"))
            .args(["--config", config.to_str().context("config path")?, "run"])
            .env("RUST_LOG", "warn")
            // The backlog confirms 1000+ applications within minutes: lift
            // the hourly cap of applicant mail (60 by default).
            .env("POSTBOTE_MAIL__MAX_AUTOMATIC_PER_HOUR", "1000000")
            .stdout(Stdio::null())
            .spawn()
            .context("start postbote")?;
        Ok(Daemon { child })
    }

    fn status_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    fn stop(mut self) -> Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child.kill()?;
        bail!("daemon did not stop within 40 s of SIGTERM")
    }
}

async fn count(store: &Store, sql: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(sql).fetch_one(store.pool()).await?)
}

async fn wait_count(store: &Store, sql: &str, want: i64, limit: Duration) -> Result<()> {
    let what = format!("at least {want} from `{sql}`");
    let every = Duration::from_millis(10);
    mail_servers::poll(&what, limit, every, async || {
        let n = count(store, sql).await.expect(sql);
        if n >= want { Ok(()) } else { Err(n) }
    })
    .await
}

fn application(from: &str, id: &str, attachment_kb: usize) -> String {
    let chunk: String = (0..attachment_kb * 1024 / 4 * 3 / 57 + 1)
        .map(|i| format!("{:0>76}\r\n", i % 1_000_000))
        .collect();
    format!(
        "From: Gemeinde <{from}>\r\nTo: {PROJECT}\r\nSubject: Bewerbung EWS 7\r\nMessage-ID: <{id}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nAnbei unsere Bewerbung.\r\n\
         --b\r\nContent-Type: application/pdf; name=\"Fragebogen.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{chunk}\
         --b\r\nContent-Type: application/pdf; name=\"Motivationsschreiben.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{chunk}\
         --b--\r\n"
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<()> {
    let latency_mails = env_usize("BENCH_LATENCY_MAILS", 100);
    let backlog = env_usize("BENCH_BACKLOG", 1000);
    let kb = env_usize("BENCH_ATTACHMENT_KB", 64);
    let servers = tokio::task::spawn_blocking(MailServers::start).await??;
    let dir = tempfile::tempdir()?;
    let config = write_config(dir.path(), &servers, Deadline::Future, "");
    let store = Store::open(&dir.path().join("postbote.sqlite")).await?;

    // (c) idle: the daemon after its first sweep, settled.
    let daemon = Daemon::start(&config)?;
    wait_count(
        &store,
        "SELECT COUNT(*) FROM health WHERE key = 'mailbox.last_ok'",
        1,
        Duration::from_secs(30),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = daemon.status_kb("VmRSS:");

    // (a) latency, one mail at a time.
    let mut latencies = Vec::with_capacity(latency_mails);
    for i in 0..latency_mails {
        let to = format!("lat{i}@stadt.test");
        let raw = application(&to, &format!("lat-{i}@stadt.test"), 4);
        servers.send(&to, &[PROJECT], raw.as_bytes()).await?;
        let accepted = Instant::now();
        loop {
            if !servers.fetch_all(&to, "INBOX").await?.is_empty() {
                break;
            }
            if accepted.elapsed() > Duration::from_secs(30) {
                bail!("no confirmation for {to} within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        latencies.push(accepted.elapsed());
    }
    latencies.sort();
    daemon.stop()?;

    // (b) backlog: 1,000 applications wait in the inbox while the daemon is down.
    let fill_started = Instant::now();
    for i in 0..backlog {
        let from = format!("amt{i}@gemeinde.test");
        servers
            .append(
                PROJECT,
                "INBOX",
                application(&from, &format!("bl-{i}@gemeinde.test"), kb).as_bytes(),
            )
            .await?;
    }
    let fill = fill_started.elapsed();
    let mail_size = application("amt0@gemeinde.test", "x", kb).len();
    let started = Instant::now();
    let daemon = Daemon::start(&config)?;
    let want = (latency_mails + backlog) as i64;
    let mut peak_rss = 0;
    let deadline = Instant::now() + Duration::from_secs(1800);
    while count(
        &store,
        "SELECT COUNT(*) FROM outbox WHERE state = 'sent' AND purpose = 'confirmation'",
    )
    .await?
        < want
    {
        peak_rss = peak_rss.max(daemon.status_kb("VmHWM:"));
        if Instant::now() > deadline {
            bail!("backlog not done in 30 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let backlog_time = started.elapsed();
    peak_rss = peak_rss.max(daemon.status_kb("VmHWM:"));
    let idle_after = {
        tokio::time::sleep(Duration::from_secs(2)).await;
        daemon.status_kb("VmRSS:")
    };
    daemon.stop()?;
    let total_sent = count(
        &store,
        "SELECT COUNT(*) FROM outbox WHERE purpose = 'confirmation'",
    )
    .await?;

    println!();
    println!("postbote pipeline benchmark (release build, real Dovecot + Postfix on loopback)");
    println!("| measure | value | goal |");
    println!("|---|---|---|");
    println!(
        "| (a) Postfix accept -> confirmation in IMAP, p50 ({latency_mails} mails) | {:.0} ms | <= 1000 ms |",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3
    );
    println!(
        "| (a) same, p99 | {:.0} ms | |",
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "| (a) same, max | {:.0} ms | |",
        latencies
            .last()
            .map(|d| d.as_secs_f64() * 1e3)
            .unwrap_or(0.0)
    );
    println!(
        "| (b) backlog of {backlog} applications ({} KiB each, 2 attachments): all confirmed | {:.1} s | |",
        mail_size / 1024,
        backlog_time.as_secs_f64()
    );
    println!(
        "| (b) throughput | {:.1} mails/s | |",
        backlog as f64 / backlog_time.as_secs_f64()
    );
    println!(
        "| (c) RSS idle (after start) | {:.1} MiB | |",
        idle_rss as f64 / 1024.0
    );
    println!(
        "| (c) RSS idle (after the backlog) | {:.1} MiB | |",
        idle_after as f64 / 1024.0
    );
    println!(
        "| (c) RSS peak (VmHWM during the backlog) | {:.1} MiB | |",
        peak_rss as f64 / 1024.0
    );
    println!(
        "(filling the inbox by IMAP APPEND took {:.1} s; outbox rows: {total_sent}, expected {want})",
        fill.as_secs_f64()
    );
    if total_sent != want {
        bail!("expected exactly {want} outbox rows, found {total_sent}");
    }
    Ok(())
}
