//! End-to-end benchmark against real servers (private Dovecot + Postfix) and
//! the release binary running as its own process:
//!
//!   (a) latency from "Postfix accepted the application" to "confirmation in
//!       the applicant's IMAP mailbox": p50/p99 over 100 mails sent one by one;
//!   (b) a backlog of 1,000 applications with two attachments each (~60 KB and
//!       ~30 KB): time until Postfix has delivered the last reply, intake rate
//!       (mails moved out of INBOX per second) and delivery rate (replies
//!       delivered per second);
//!   (c) the daemon's RSS when idle and at peak (VmRSS / VmHWM), and its idle
//!       wakeups per second (context switches of all its threads).
//!
//! Side by side (the default), the same backlog is also run by the baselines
//! in `../shared/bench` (`py_reference.py`, the script a programme office
//! would otherwise write, and `raw_floor.py`, the transport floor), each on
//! fresh servers holding the same, identically generated mails.
//!
//! Run: `cargo bench --bench pipeline` (as root; needs scripts/install-test-deps.sh
//! and python3 for the baselines).
//! Environment:
//!   BENCH_MODE           `side-by-side` (default) or `postbote` (no baselines)
//!   BENCH_LATENCY_MAILS  mails sent one by one for (a) (100)
//!   BENCH_BACKLOG        mails in the backlog (1000)
//!   BENCH_ATTACHMENT_KB  size of the first attachment in KiB (60); the second
//!                        is half as large
//!   BENCH_IDLE_SECS      window for the idle wakeups (60)
//!   BENCH_BASELINE_DIR   where the baseline scripts are if they are not in
//!                        `CARGO_MANIFEST_DIR/../shared/bench`

#[path = "../tests/daemon/mail_servers.rs"]
mod mail_servers;

#[allow(dead_code)]
#[path = "../tests/daemon/helpers.rs"]
mod helpers;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use helpers::{Deadline, PROJECT, write_config};
use mail_servers::MailServers;
use postbote::store::Store;
use std::collections::BTreeMap;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The baselines' mailbox user (any user logs in with the harness's static
/// passdb). postbote is configured for the same user, so that both read the
/// same mailbox layout and their replies have the same shape.
const MAILBOX: &str = "ews@example.test";
/// Maildir of [`MAILBOX`] below the harness's instance directory (layout
/// `Default`: `maildir:<mail>/%d/%n`, Maildir++ on disk).
const MAILBOX_DIR: &str = "mail/example.test/ews";
/// The applicants of the backlog write from this domain; a reply counts as
/// delivered when Postfix logs `to=<...@gemeinde.test>, ... status=sent`.
const APPLICANT_DOMAIN: &str = "gemeinde.test";
/// Seed of the attachment bytes: every run gets byte-identical mails.
const SEED: u64 = 0x5EED_B07E;
/// Upper bound for one backlog run.
const BACKLOG_LIMIT: Duration = Duration::from_secs(1800);
/// How long a baseline's last replies may stay in Postfix's queue after the
/// script exited.
const DRAIN_LIMIT: Duration = Duration::from_secs(120);
const SAMPLE: Duration = Duration::from_millis(20);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A field in kB from /proc/PID/status (VmRSS:, VmHWM:), if the process lives.
fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// utime + stime of a live process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    // After the comm: state is field 3, utime 14, stime 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// voluntary + nonvoluntary context switches per thread of `pid`, with the
/// thread's name.
fn ctxt_switches(pid: u32) -> Result<BTreeMap<u32, (String, u64)>> {
    let mut out = BTreeMap::new();
    let tasks = format!("/proc/{pid}/task");
    for entry in std::fs::read_dir(&tasks).with_context(|| format!("reading {tasks}"))? {
        let entry = entry?;
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        // A thread may end between read_dir and this read.
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let sum = status
            .lines()
            .filter(|l| {
                l.starts_with("voluntary_ctxt_switches:")
                    || l.starts_with("nonvoluntary_ctxt_switches:")
            })
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        out.insert(tid, (name.trim().to_string(), sum));
    }
    Ok(out)
}

struct Daemon {
    child: Child,
}

impl Daemon {
    fn start(config: &Path) -> Result<Daemon> {
        let child = Command::new(env!("CARGO_BIN_EXE_postbote"))
            .args(["--config", config.to_str().context("config path")?, "run"])
            // BENCH_RUST_LOG (e.g. `info`) shows the daemon's log, to see where time goes.
            .env(
                "RUST_LOG",
                std::env::var("BENCH_RUST_LOG").unwrap_or_else(|_| "warn".to_string()),
            )
            // The backlog confirms 1000+ applications within minutes: lift
            // the hourly cap of applicant mail (60 by default).
            .env("POSTBOTE_MAIL__MAX_AUTOMATIC_PER_HOUR", "1000000")
            .stdout(Stdio::null())
            .spawn()
            .context("start postbote")?;
        Ok(Daemon { child })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn status_kb(&self, field: &str) -> u64 {
        status_kb(self.pid(), field).unwrap_or(0)
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

impl Drop for Daemon {
    /// On an error path the daemon must not outlive the bench.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn count(store: &Store, sql: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(sql).fetch_one(store.pool()).await?)
}

async fn wait_count(store: &Store, sql: &str, want: i64, limit: Duration) -> Result<()> {
    let what = format!("at least {want} from `{sql}`");
    let every = Duration::from_millis(10);
    mail_servers::poll(&what, limit, every, async || {
        match count(store, sql).await {
            Ok(n) if n >= want => Ok(()),
            Ok(n) => Err(n.to_string()),
            Err(err) => Err(format!("error: {err:#}")),
        }
    })
    .await
}

/// `len` pseudo-random bytes, the same for the same `seed` (splitmix64).
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Base64 in lines of 76 characters, each ended by CRLF.
fn base64_lines(bytes: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(text.len() + text.len() / 76 * 2 + 2);
    for line in text.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

/// A valid one-page PDF of about `size` bytes: a line of `text`, padded with
/// an unreferenced stream of seeded random bytes (so that postbote reads it as
/// a document and the mail takes the normal path, not "damaged file").
fn pdf(text: &str, size: usize, seed: u64) -> Vec<u8> {
    let content = format!("BT /F1 12 Tf 72 770 Td ({text}) Tj ET");
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
          /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
            .to_vec(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        )
        .into_bytes(),
    ];
    let padding = random_bytes(seed, size.saturating_sub(700));
    let mut stream = format!("<< /Length {} >>\nstream\n", padding.len()).into_bytes();
    stream.extend_from_slice(&padding);
    stream.extend_from_slice(b"\nendstream");
    objects.push(stream);
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// An application from `from` to `to` with two PDF attachments of about
/// `first_kb` and `first_kb / 2` KiB (mail `n`: the same `n` gives the same
/// bytes).
fn application(from: &str, to: &str, id: &str, first_kb: usize, n: u64) -> Vec<u8> {
    let attachment = |which: u64, text: &str, kb: usize| {
        let seed = SEED ^ n.wrapping_mul(0x1_0000_0001) ^ which;
        base64_lines(&pdf(text, kb * 1024, seed))
    };
    let first = attachment(1, "Fragebogen EWS 7", first_kb);
    let second = attachment(2, "Motivationsschreiben", first_kb / 2);
    format!(
        "From: Gemeinde <{from}>\r\nTo: {to}\r\nSubject: Bewerbung EWS 7\r\nMessage-ID: <{id}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nAnbei unsere Bewerbung.\r\n\
         --b\r\nContent-Type: application/pdf; name=\"Fragebogen.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"Fragebogen.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{first}\
         --b\r\nContent-Type: application/pdf; name=\"Motivationsschreiben.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"Motivationsschreiben.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{second}\
         --b--\r\n"
    )
    .into_bytes()
}

fn backlog_mails(backlog: usize, kb: usize) -> Vec<Vec<u8>> {
    (0..backlog)
        .map(|i| {
            let from = format!("amt{i}@{APPLICANT_DOMAIN}");
            application(
                &from,
                MAILBOX,
                &format!("bl-{i}@{APPLICANT_DOMAIN}"),
                kb,
                i as u64,
            )
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Counts, as Postfix's maillog grows, the replies delivered to applicants
/// (`to=<...@gemeinde.test>` with `status=sent`; postbote's own copies to the
/// project mailbox do not count). Reads only what was appended since the last
/// call.
struct MaillogTail {
    file: std::fs::File,
    offset: u64,
    partial: Vec<u8>,
    sent: usize,
}

impl MaillogTail {
    fn open(servers: &MailServers) -> Result<MaillogTail> {
        let path = servers.dir().join("postfix.log");
        let file =
            std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        Ok(MaillogTail {
            file,
            offset: 0,
            partial: Vec::new(),
            sent: 0,
        })
    }

    fn replies_sent(&mut self) -> Result<usize> {
        self.file.seek(SeekFrom::Start(self.offset))?;
        let mut fresh = Vec::new();
        self.offset += self.file.read_to_end(&mut fresh)? as u64;
        self.partial.extend_from_slice(&fresh);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Ok(self.sent);
        };
        let needle = format!("@{APPLICANT_DOMAIN}>");
        for line in self.partial[..end].split(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(line);
            if line.contains("status=sent")
                && line.split(" to=<").nth(1).is_some_and(|rest| {
                    rest.split(',')
                        .next()
                        .is_some_and(|to| to.ends_with(&needle))
                })
            {
                self.sent += 1;
            }
        }
        self.partial.drain(..=end);
        Ok(self.sent)
    }
}

/// Files in a Maildir++ folder of [`MAILBOX`] (`cur` + `new`).
fn folder_count(servers: &MailServers, logical: &str) -> usize {
    let dir = servers
        .dir()
        .join(MAILBOX_DIR)
        .join(format!(".{}", logical.replace('/', ".")));
    ["cur", "new"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(dir.join(sub)).ok())
        .map(|entries| entries.count())
        .sum()
}

/// Files in the INBOX of [`MAILBOX`] (Maildir++: the root's `cur` + `new`).
fn inbox_count(servers: &MailServers) -> usize {
    let dir = servers.dir().join(MAILBOX_DIR);
    ["cur", "new"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(dir.join(sub)).ok())
        .map(|entries| entries.count())
        .sum()
}

/// The files of every run, removed when the bench ends (or fails), not when
/// the run ends.
///
/// NOTE: on an ext4 file system without a journal (this machine's), the
/// inode allocator skips recently freed inodes (`recently_deleted` in
/// `fs/ext4/ialloc.c`). A run right after another
/// one's thousands of files were deleted paid for it: filling the same
/// INBOX took 2.0 s before the first backlog and 4.3 s before the third. Kept
/// until the end, no run creates its files among another run's deleted ones.
#[derive(Default)]
struct Leftovers(Vec<PathBuf>);

impl Leftovers {
    /// A fresh temporary folder, removed when the bench ends.
    fn dir(&mut self) -> Result<PathBuf> {
        let path = tempfile::tempdir()?.keep();
        self.0.push(path.clone());
        Ok(path)
    }

    /// Fresh servers whose folder (configuration, queue, mail) stays when
    /// they stop, and is removed when the bench ends.
    async fn servers(&mut self) -> Result<MailServers> {
        let mut servers = tokio::task::spawn_blocking(MailServers::start).await??;
        self.0.push(servers.keep_files());
        Ok(servers)
    }
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        for path in &self.0 {
            if let Err(e) = std::fs::remove_dir_all(path) {
                eprintln!("bench: cannot remove {}: {e}", path.display());
            }
        }
    }
}

/// Fresh servers whose [`MAILBOX`] INBOX holds `mails`; returns them and the
/// time the IMAP APPENDs took.
async fn servers_with_backlog(
    mails: &[Vec<u8>],
    leftovers: &mut Leftovers,
) -> Result<(MailServers, Duration)> {
    let servers = leftovers.servers().await?;
    let started = Instant::now();
    for chunk in mails.chunks(50) {
        servers.append_all(MAILBOX, chunk).await?;
    }
    let inbox = servers.fetch_all(MAILBOX, "INBOX").await?.len();
    if inbox != mails.len() {
        bail!(
            "INBOX holds {inbox} mails after the fill, expected {}",
            mails.len()
        );
    }
    Ok((servers, started.elapsed()))
}

/// When (since the process start) a count first reached 1, 10 %, 90 % and
/// all of the backlog.
#[derive(Debug, Default, Clone, Copy)]
struct Marks {
    first: Option<Duration>,
    tenth: Option<Duration>,
    ninetieth: Option<Duration>,
    all: Option<Duration>,
}

impl Marks {
    fn thresholds(want: usize) -> (usize, usize) {
        ((want / 10).max(1), (want * 9 / 10).max(1))
    }

    fn update(&mut self, n: usize, want: usize, at: Duration) {
        let (tenth, ninetieth) = Self::thresholds(want);
        for (mark, threshold) in [
            (&mut self.first, 1),
            (&mut self.tenth, tenth),
            (&mut self.ninetieth, ninetieth),
            (&mut self.all, want),
        ] {
            if mark.is_none() && n >= threshold {
                *mark = Some(at);
            }
        }
    }

    /// Mails per second between the 10 % and the 90 % mark: the steady rate,
    /// without start-up and tail.
    fn steady(&self, want: usize) -> Option<f64> {
        let (tenth, ninetieth) = Self::thresholds(want);
        let span = self.ninetieth?.checked_sub(self.tenth?)?.as_secs_f64();
        (span > 0.0).then(|| (ninetieth - tenth) as f64 / span)
    }
}

/// One side of the side-by-side backlog.
#[derive(Debug, Default, Clone)]
struct BacklogRun {
    /// Process start -> Postfix delivered the last reply.
    total: Duration,
    /// Mails moved out of INBOX (counted in the done folder); all `None`
    /// when the program moves nothing (raw_floor.py).
    moved: Marks,
    /// Replies delivered to applicants.
    sent: Marks,
    peak_rss_kb: u64,
    cpu_secs: f64,
    /// CPU of Dovecot and Postfix (all their processes) from the start to the
    /// last reply.
    servers_cpu_secs: f64,
    /// The whole machine from the start to the last reply.
    machine: MachineTime,
    fill: Duration,
}

/// The machine's CPU time (all cores, `/proc/stat`), in seconds.
#[derive(Debug, Default, Clone, Copy)]
struct MachineTime {
    /// Neither idle nor waiting for I/O.
    busy: f64,
    /// Idle, or idle waiting for I/O.
    idle: f64,
    /// Taken by the hypervisor for other guests: a busy host, not this run.
    steal: f64,
}

impl MachineTime {
    fn now(ticks: f64) -> MachineTime {
        let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<f64> = text
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .map(|f| f.parse::<f64>().unwrap_or(0.0) / ticks)
            .collect();
        let at = |i: usize| fields.get(i).copied().unwrap_or(0.0);
        // user nice system idle iowait irq softirq steal (guest is in user)
        MachineTime {
            busy: at(0) + at(1) + at(2) + at(5) + at(6),
            idle: at(3) + at(4),
            steal: at(7),
        }
    }

    fn since(self, start: MachineTime) -> MachineTime {
        MachineTime {
            busy: self.busy - start.busy,
            idle: self.idle - start.idle,
            steal: self.steal - start.steal,
        }
    }
}

/// Samples `pid` and the servers every [`SAMPLE`] from `started` until
/// `want` replies are delivered. `done_folder`: where the program moves the
/// mails out of INBOX. `exits`: the program ends on its own (a script) rather
/// than running on (the daemon).
async fn watch_backlog(
    servers: &MailServers,
    child: &mut Child,
    started: Instant,
    want: usize,
    done_folder: Option<&str>,
    exits: bool,
    name: &str,
) -> Result<BacklogRun> {
    let pid = child.id();
    let ticks = clock_ticks_per_sec();
    let mut log = MaillogTail::open(servers)?;
    let mut run = BacklogRun::default();
    let servers_at_start = servers.cpu_ticks();
    let machine_at_start = MachineTime::now(ticks);
    let mut exited_at: Option<Instant> = None;
    loop {
        if exited_at.is_none() {
            if let Some(kb) = status_kb(pid, "VmHWM:") {
                run.peak_rss_kb = run.peak_rss_kb.max(kb);
            }
            if let Some(t) = cpu_ticks(pid) {
                run.cpu_secs = t as f64 / ticks;
            }
        }
        if let Some(folder) = done_folder
            && run.moved.all.is_none()
        {
            let moved = folder_count(servers, folder);
            run.moved.update(moved, want, started.elapsed());
        }
        let sent = log.replies_sent()?;
        run.sent.update(sent, want, started.elapsed());
        if sent >= want && run.total.is_zero() {
            run.total = started.elapsed();
            run.servers_cpu_secs =
                servers.cpu_ticks().saturating_sub(servers_at_start) as f64 / ticks;
            run.machine = MachineTime::now(ticks).since(machine_at_start);
        }
        // The clock stops at the last reply; a program may move the last
        // mails out of INBOX after that (py_reference.py moves each page of
        // 100 after its replies), so wait for that too, bounded.
        if !run.total.is_zero() {
            if done_folder.is_none() || run.moved.all.is_some() {
                return Ok(run);
            }
            if started.elapsed() > run.total + DRAIN_LIMIT {
                let folder = done_folder.unwrap_or_default();
                let moved = folder_count(servers, folder);
                bail!(
                    "{name}: all {want} replies delivered, but only {moved} mails in {folder:?} \
                     {DRAIN_LIMIT:?} later"
                );
            }
        }
        if exited_at.is_none()
            && let Some(status) = child.try_wait()?
        {
            if !exits || !status.success() {
                bail!("{name} exited ({status}) after {sent} of {want} replies");
            }
            exited_at = Some(Instant::now());
        }
        if let Some(at) = exited_at
            && run.total.is_zero()
            && at.elapsed() > DRAIN_LIMIT
        {
            bail!(
                "{name} exited, but only {sent} of {want} replies were delivered within {DRAIN_LIMIT:?}"
            );
        }
        if started.elapsed() > BACKLOG_LIMIT {
            bail!("{name}: only {sent} of {want} replies within {BACKLOG_LIMIT:?}");
        }
        tokio::time::sleep(SAMPLE).await;
    }
}

/// Where the baseline scripts are: `CARGO_MANIFEST_DIR/../shared/bench`, else
/// `$BENCH_BASELINE_DIR`. Fails, naming both, if `py_reference.py` and
/// `raw_floor.py` are in neither.
fn baseline_dir() -> Result<PathBuf> {
    let mut tried = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench")];
    if let Some(dir) = std::env::var_os("BENCH_BASELINE_DIR") {
        tried.push(PathBuf::from(dir));
    }
    for dir in &tried {
        if dir.join("py_reference.py").is_file() && dir.join("raw_floor.py").is_file() {
            return Ok(dir.canonicalize().unwrap_or_else(|_| dir.clone()));
        }
    }
    let tried: Vec<String> = tried.iter().map(|d| d.display().to_string()).collect();
    bail!(
        "side-by-side benchmark: the baseline scripts py_reference.py and raw_floor.py were not \
         found in {} (set BENCH_BASELINE_DIR to their folder, or BENCH_MODE=postbote to measure \
         postbote alone)",
        tried.join(" nor in ")
    )
}

/// Runs a baseline script on fresh servers holding `mails`.
async fn run_script(
    dir: &Path,
    script: &str,
    mails: &[Vec<u8>],
    done_folder: Option<&str>,
    leftovers: &mut Leftovers,
) -> Result<BacklogRun> {
    let (servers, fill) = servers_with_backlog(mails, leftovers).await?;
    let work = leftovers.dir()?;
    let stderr_path = work.join("stderr.txt");
    let mut command = Command::new("python3");
    command
        .arg(dir.join(script))
        .arg(servers.imap_port.to_string())
        .arg(servers.smtp_port.to_string());
    if script == "py_reference.py" {
        command.arg(work.join("ref"));
    }
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path)?)
        .spawn()
        .with_context(|| format!("starting python3 {script}"))?;
    let result = watch_backlog(
        &servers,
        &mut child,
        started,
        mails.len(),
        done_folder,
        true,
        script,
    )
    .await;
    if matches!(child.try_wait(), Ok(None)) {
        let _ = child.kill();
    }
    let _ = child.wait();
    let mut run = result.with_context(|| {
        format!(
            "{script} stderr:\n{}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        )
    })?;
    run.fill = fill;
    Ok(run)
}

/// postbote's config for `servers`, logged in as [`MAILBOX`].
fn postbote_config(dir: &Path, servers: &MailServers) -> Result<PathBuf> {
    let path = write_config(dir, servers, Deadline::Future, "");
    let text = std::fs::read_to_string(&path)?.replace(PROJECT, MAILBOX);
    std::fs::write(&path, text)?;
    Ok(path)
}

/// postbote's backlog on fresh servers; also its RSS after the backlog.
async fn run_postbote_backlog(
    mails: &[Vec<u8>],
    leftovers: &mut Leftovers,
) -> Result<(BacklogRun, u64)> {
    let (servers, fill) = servers_with_backlog(mails, leftovers).await?;
    let dir = leftovers.dir()?;
    let config = postbote_config(&dir, &servers)?;
    let started = Instant::now();
    let mut daemon = Daemon::start(&config)?;
    let mut run = watch_backlog(
        &servers,
        &mut daemon.child,
        started,
        mails.len(),
        Some("Postbote/Verarbeitet"),
        false,
        "postbote",
    )
    .await?;
    run.fill = fill;
    // Idle means no work left: the copies of the replies (one per reply, to
    // the project mailbox) are still being filed into the sent folder when
    // the last reply is delivered. Wait for an empty INBOX, then settle.
    let deadline = Instant::now() + Duration::from_secs(120);
    while inbox_count(&servers) > 0 {
        if Instant::now() > deadline {
            bail!(
                "postbote: {} mails still in the INBOX 120 s after the last reply",
                inbox_count(&servers)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_after = daemon.status_kb("VmRSS:");
    run.peak_rss_kb = run.peak_rss_kb.max(daemon.status_kb("VmHWM:"));
    daemon.stop()?;
    let store = Store::open(&dir.join("postbote.sqlite")).await?;
    let confirmations = count(
        &store,
        "SELECT COUNT(*) FROM outbox WHERE purpose = 'confirmation'",
    )
    .await?;
    if confirmations != mails.len() as i64 {
        bail!(
            "postbote: expected exactly {} confirmations in the outbox, found {confirmations}",
            mails.len()
        );
    }
    Ok((run, idle_after))
}

/// Idle RSS, idle wakeups per second and latencies of mails sent one by one.
struct OneByOne {
    idle_rss_kb: u64,
    wakeups_per_sec: f64,
    idle_threads: usize,
    idle_threads_gone: usize,
    /// Wakeups per second by thread name, most first.
    idle_by_thread: Vec<(String, f64)>,
    /// Wakeups per second of each thread (tid, name), most first.
    idle_per_thread: Vec<(u32, String, f64)>,
    latencies: Vec<Duration>,
}

async fn run_one_by_one(
    latency_mails: usize,
    idle_secs: u64,
    leftovers: &mut Leftovers,
) -> Result<OneByOne> {
    let servers = leftovers.servers().await?;
    let dir = leftovers.dir()?;
    let config = postbote_config(&dir, &servers)?;
    let store = Store::open(&dir.join("postbote.sqlite")).await?;

    // Idle: the daemon after its first sweep, settled.
    let daemon = Daemon::start(&config)?;
    wait_count(
        &store,
        "SELECT COUNT(*) FROM health WHERE key = 'mailbox.last_ok'",
        1,
        Duration::from_secs(30),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss_kb = daemon.status_kb("VmRSS:");
    let before = ctxt_switches(daemon.pid())?;
    let window = Instant::now();
    tokio::time::sleep(Duration::from_secs(idle_secs)).await;
    let after = ctxt_switches(daemon.pid())?;
    let window = window.elapsed().as_secs_f64();
    // Threads that ended within the window take their count with them; new
    // threads count from zero.
    let mut by_name: BTreeMap<String, u64> = BTreeMap::new();
    let mut idle_per_thread = Vec::new();
    for (tid, (name, n)) in &after {
        let earlier = before.get(tid).map_or(0, |(_, n)| *n);
        *by_name.entry(name.clone()).or_default() += n.saturating_sub(earlier);
        idle_per_thread.push((*tid, name.clone(), n.saturating_sub(earlier) as f64));
    }
    let switches: u64 = by_name.values().sum();
    let idle_threads_gone = before.keys().filter(|t| !after.contains_key(t)).count();

    // Latency, one mail at a time.
    let mut latencies = Vec::with_capacity(latency_mails);
    for i in 0..latency_mails {
        let to = format!("lat{i}@stadt.test");
        let raw = application(
            &to,
            MAILBOX,
            &format!("lat-{i}@stadt.test"),
            4,
            1_000_000 + i as u64,
        );
        servers.send(&to, &[MAILBOX], &raw).await?;
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
    let mut idle_by_thread: Vec<(String, f64)> = by_name
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| (name, n as f64 / window))
        .collect();
    idle_by_thread.sort_by(|a, b| b.1.total_cmp(&a.1));
    for t in &mut idle_per_thread {
        t.2 /= window;
    }
    idle_per_thread.sort_by(|a, b| b.2.total_cmp(&a.2));
    Ok(OneByOne {
        idle_by_thread,
        idle_per_thread,
        idle_rss_kb,
        wakeups_per_sec: switches as f64 / window,
        idle_threads: after.len(),
        idle_threads_gone,
        latencies,
    })
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn rate(n: usize, d: Duration) -> String {
    format!("{:.1}/s", n as f64 / d.as_secs_f64())
}

fn mib(kb: u64) -> String {
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

#[tokio::main]
async fn main() -> Result<()> {
    let latency_mails = env_usize("BENCH_LATENCY_MAILS", 100);
    let backlog = env_usize("BENCH_BACKLOG", 1000);
    let kb = env_usize("BENCH_ATTACHMENT_KB", 60);
    let idle_secs = env_usize("BENCH_IDLE_SECS", 60) as u64;
    let mode = std::env::var("BENCH_MODE").unwrap_or_else(|_| "side-by-side".into());
    let side_by_side = match mode.as_str() {
        "side-by-side" => true,
        "postbote" => false,
        other => bail!("BENCH_MODE must be `side-by-side` or `postbote`, not {other:?}"),
    };
    if latency_mails == 0 || backlog == 0 {
        bail!("BENCH_LATENCY_MAILS and BENCH_BACKLOG must be at least 1");
    }
    // Before minutes of work: the baselines must be there.
    let baselines = if side_by_side {
        Some(baseline_dir()?)
    } else {
        None
    };
    let mails = backlog_mails(backlog, kb);
    let mail_kib = mails.iter().map(Vec::len).sum::<usize>() / mails.len() / 1024;

    eprintln!("bench: idle ({idle_secs} s) and latency ({latency_mails} mails one by one)");
    let mut leftovers = Leftovers::default();
    let one = run_one_by_one(latency_mails, idle_secs, &mut leftovers).await?;
    let (baseline, floor) = match &baselines {
        Some(dir) => {
            eprintln!("bench: py_reference.py backlog of {backlog}");
            let reference =
                run_script(dir, "py_reference.py", &mails, Some("Done"), &mut leftovers).await?;
            eprintln!("bench: raw_floor.py backlog of {backlog}");
            let floor = run_script(dir, "raw_floor.py", &mails, None, &mut leftovers).await?;
            (Some(reference), Some(floor))
        }
        None => (None, None),
    };
    eprintln!("bench: postbote backlog of {backlog}");
    let (ours, idle_after) = run_postbote_backlog(&mails, &mut leftovers).await?;

    let p50 = percentile(&one.latencies, 0.50);
    let p99 = percentile(&one.latencies, 0.99);
    let max = one.latencies.last().copied().unwrap_or_default();
    let dash = || "-".to_string();
    let col = |run: &Option<BacklogRun>, f: &dyn Fn(&BacklogRun) -> String| {
        run.as_ref().map(f).unwrap_or_else(dash)
    };
    let ratio = baseline
        .as_ref()
        .map(|b| ours.total.as_secs_f64() / b.total.as_secs_f64());

    println!();
    println!(
        "postbote pipeline benchmark (release build, real Dovecot + Postfix on loopback, {} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "backlog: {backlog} mails of {mail_kib} KiB (attachments {kb} + {} KiB, seeded random), \
         each program on fresh servers; clock: process start -> Postfix logged status=sent for \
         the last reply to an applicant",
        kb / 2
    );
    println!();
    println!("| measure | postbote | py_reference | raw_floor | target | |");
    println!("|---|---|---|---|---|---|");
    let (ratio_text, ratio_verdict) = match ratio {
        Some(r) => (format!("{r:.2}x"), verdict(r <= 0.5)),
        None => (dash(), "n/a"),
    };
    println!(
        "| backlog: all replies delivered | {} | {} | {} | <= 0.5x baseline | {} |",
        secs(ours.total),
        col(&baseline, &|r| secs(r.total)),
        col(&floor, &|r| secs(r.total)),
        ratio_verdict
    );
    println!(
        "| ratio postbote / py_reference | {ratio_text} | {} | {} | <= 0.50x | {ratio_verdict} |",
        if baseline.is_some() {
            "1.00x".to_string()
        } else {
            dash()
        },
        match (&floor, &baseline) {
            (Some(f), Some(b)) => format!("{:.2}x", f.total.as_secs_f64() / b.total.as_secs_f64()),
            _ => dash(),
        }
    );
    // A row with a figure per program and no target.
    let row = |label: &str, f: &dyn Fn(&BacklogRun) -> String| {
        println!(
            "| {label} | {} | {} | {} | | |",
            f(&ours),
            col(&baseline, f),
            col(&floor, f)
        )
    };
    let intake = |r: &BacklogRun| match r.moved.all {
        Some(d) => format!("{} (all at {})", rate(backlog, d), secs(d)),
        None => "(moves nothing)".into(),
    };
    row("intake: mails moved out of INBOX/s", &intake);
    let steady = |m: &Marks| match m.steady(backlog) {
        Some(r) => format!("{r:.1}/s"),
        None => dash(),
    };
    let intake_steady = |r: &BacklogRun| steady(&r.moved);
    row("intake, steady (10 % -> 90 % moved)", &intake_steady);
    let first_moved = |r: &BacklogRun| r.moved.first.map_or_else(dash, secs);
    row("first mail moved out of INBOX at", &first_moved);
    let delivery = |r: &BacklogRun| rate(backlog, r.total);
    row("delivery: replies delivered/s", &delivery);
    let delivery_steady = |r: &BacklogRun| steady(&r.sent);
    row(
        "delivery, steady (10 % -> 90 % delivered)",
        &delivery_steady,
    );
    let first = |r: &BacklogRun| r.sent.first.map_or_else(dash, secs);
    row("first reply delivered at", &first);
    let cpu = |r: &BacklogRun| format!("{:.1} s", r.cpu_secs);
    row("CPU time of the program (user+sys)", &cpu);
    let servers_cpu = |r: &BacklogRun| format!("{:.1} s", r.servers_cpu_secs);
    row(
        "CPU time of Dovecot + Postfix (start -> last reply)",
        &servers_cpu,
    );
    let machine = |r: &BacklogRun| {
        let m = r.machine;
        format!(
            "{:.0} % ({:.1} of {:.1} s)",
            100.0 * m.busy / (m.busy + m.idle).max(f64::EPSILON),
            m.busy,
            m.busy + m.idle
        )
    };
    row("machine busy, all cores (start -> last reply)", &machine);
    let peak = |r: &BacklogRun| mib(r.peak_rss_kb);
    println!(
        "| RSS peak (VmHWM during the backlog) | {} | {} | {} | <= 64 MiB | {} |",
        peak(&ours),
        col(&baseline, &peak),
        col(&floor, &peak),
        verdict(ours.peak_rss_kb <= 64 * 1024)
    );
    println!(
        "| RSS idle (after start) | {} | | | <= 20 MiB | {} |",
        mib(one.idle_rss_kb),
        verdict(one.idle_rss_kb <= 20 * 1024)
    );
    println!(
        "| RSS idle (after the backlog) | {} | | | <= 20 MiB | {} |",
        mib(idle_after),
        verdict(idle_after <= 20 * 1024)
    );
    println!(
        "| idle wakeups/s ({idle_secs} s, {} threads) | {:.1} | | | <= 1 | {} |",
        one.idle_threads,
        one.wakeups_per_sec,
        verdict(one.wakeups_per_sec <= 1.0)
    );
    println!(
        "| latency accept -> confirmation in IMAP, p50 ({latency_mails} one by one) | {:.0} ms | | | <= 600 ms | {} |",
        p50.as_secs_f64() * 1e3,
        verdict(p50 <= Duration::from_millis(600))
    );
    println!(
        "| latency, p99 | {:.0} ms | | | <= 1000 ms | {} |",
        p99.as_secs_f64() * 1e3,
        verdict(p99 <= Duration::from_millis(1000))
    );
    println!(
        "| latency, max | {:.0} ms | | | | |",
        max.as_secs_f64() * 1e3
    );
    println!();
    println!(
        "(filling INBOX by IMAP APPEND, outside the clock: postbote {}, py_reference {}, raw_floor {}{})",
        secs(ours.fill),
        col(&baseline, &|r| secs(r.fill)),
        col(&floor, &|r| secs(r.fill)),
        if one.idle_threads_gone > 0 {
            format!(
                "; {} daemon threads ended during the idle window, their switches are not counted",
                one.idle_threads_gone
            )
        } else {
            String::new()
        }
    );
    if !one.idle_by_thread.is_empty() {
        let parts: Vec<String> = one
            .idle_by_thread
            .iter()
            .map(|(name, r)| format!("{name} {r:.2}/s"))
            .collect();
        println!("(idle wakeups by thread name: {})", parts.join(", "));
        let parts: Vec<String> = one
            .idle_per_thread
            .iter()
            .map(|(tid, name, r)| format!("{name}[{tid}] {r:.2}/s"))
            .collect();
        println!("(idle wakeups per thread: {})", parts.join(", "));
    }
    let steal = |r: &BacklogRun| format!("{:.1} s", r.machine.steal);
    println!(
        "(CPU stolen by the hypervisor during the backlog, a busy host: postbote {}, py_reference {}, raw_floor {})",
        steal(&ours),
        col(&baseline, &steal),
        col(&floor, &steal)
    );
    if let Some(b) = &baseline {
        // NOTE: on a small machine the servers' own work for postbote's
        // deliveries (its replies and their copies to the project mailbox)
        // can leave little of the target's CPU for postbote itself.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let budget = cores * 0.5 * b.total.as_secs_f64();
        println!(
            "(at the target, {cores:.0} cores x 0.5 x {} give {budget:.1} core-seconds; in postbote's run \
             Dovecot + Postfix used {:.1} of them, leaving {:.1} for postbote, which used {:.1})",
            secs(b.total),
            ours.servers_cpu_secs,
            budget - ours.servers_cpu_secs,
            ours.cpu_secs
        );
    }
    if let Some(dir) = &baselines {
        println!("(baselines from {})", dir.display());
    } else {
        println!("(BENCH_MODE=postbote: no baselines run)");
    }
    Ok(())
}
