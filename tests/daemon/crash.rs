//! The crash test: the real `postbote run` binary is SIGKILLed at seeded
//! random moments while applications arrive, and started again. Afterwards
//! every applicant holds exactly one confirmation, every application is
//! recorded once and the INBOX is empty. Not a timed test: the figures it
//! prints are counts, and every wait fails at its deadline.

use crate::helpers::{
    Deadline, PROJECT, TestApp, app_on_servers, application, poll_until, start_servers,
};
use crate::mail_servers::Layout;
use postbote::test_noise::xorshift;
use std::fs::OpenOptions;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long the whole backlog may take once the last daemon runs.
const SETTLE: Duration = Duration::from_secs(360);

/// How long an interrupted send's copy is waited for: the default, 120 s.
/// A copy Postfix accepted just before it stopped arrives only once it is
/// back and its queue has run, and a shorter wait resends it (the window
/// the README names). 5 s and, on a loaded machine, 30 s were too short;
/// 90 s let one duplicate through once in a fresh-clone CI run (part 9,
/// cause not seen: the failure message now lists the evidence).
const RECOVERY_WAIT: (&str, &str) = ("POSTBOTE_SMTP__RECOVERY_WAIT_SECS", "120");

/// Up to 200 applications arrive within minutes: lift the hourly cap of
/// applicant mail (60 by default), which would suppress their confirmations.
const HOURLY_CAP: (&str, &str) = ("POSTBOTE_MAIL__MAX_AUTOMATIC_PER_HOUR", "1000");

/// Small pages (a test application is about 1 KB): a backlog goes in many
/// pages of several mails, so that the kills land between a page's fetch,
/// its one commit, its processing and its one move.
const PAGE_BYTES: (&str, &str) = ("POSTBOTE_MAILBOX__FETCH_PAGE_BYTES", "6000");

fn who(i: usize) -> String {
    format!("amt{i}@kommune{i}.test")
}

/// The real daemon as a child process, its output appended to `daemon.log`.
fn start(app: &TestApp) -> Child {
    let log_path = app.dir.path().join("daemon.log");
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .expect("daemon log");
    let err = log.try_clone().expect("daemon log");
    Command::new(env!("CARGO_BIN_EXE_postbote"))
        .arg("--config")
        .arg(&app.config_path)
        .arg("run")
        .envs(app.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("RUST_LOG", "postbote=info")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .expect("start postbote run")
}

fn kill(child: &mut Child) {
    // SIGKILL: nothing is flushed, nothing is cleaned up.
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
}

/// How a crash run goes wrong on the way.
#[derive(Debug, Clone, Copy)]
enum Trouble {
    /// Only the kills.
    None,
    /// Dovecot restarts and Postfix is down for a while, in the middle.
    ServerOutages,
}

struct Figures {
    applications: usize,
    kills: usize,
    /// Pages of several mails fetched and stored in one go.
    pages: usize,
    recorded: i64,
    lost: usize,
    duplicates: usize,
    /// Sends a kill interrupted, settled by their copy / sent again.
    settled: usize,
    resent: usize,
    /// What went wrong, for the failure message: the daemon's log lines
    /// about requeued sends, and each duplicate's Message-ID with whether
    /// its copy reached the store (late) or never did.
    evidence: Vec<String>,
}

async fn deliver(app: &TestApp, i: usize, smtp_up: bool) {
    let raw = application(
        &who(i),
        &format!("Gemeinde {i}"),
        &format!("crash-{i}@kommune{i}.test"),
    );
    if smtp_up {
        app.deliver(&who(i), &raw).await;
    } else {
        // NOTE: with Postfix down, mail reaches the mailbox as a client
        // would file it: by IMAP APPEND.
        app.servers
            .append(PROJECT, "INBOX", raw.as_bytes())
            .await
            .expect("append");
    }
}

async fn crash_run(seed: u64, n: usize, kills: usize, trouble: Trouble) -> Figures {
    let servers = start_servers(Layout::Default).await;
    let app = app_on_servers(
        servers,
        Deadline::Future,
        "",
        &[RECOVERY_WAIT, HOURLY_CAP, PAGE_BYTES],
    );
    let mut next = xorshift(seed);
    let per_wave = n.div_ceil(kills);
    let mut delivered = 0;
    let mut smtp_up = true;
    let mut daemon = start(&app);
    for k in 0..kills {
        // Every other wave arrives while the daemon is down: it starts on a
        // backlog, which goes the batched way (pages), and is killed in it.
        let down = k % 2 == 1;
        if down {
            kill(&mut daemon);
        }
        let wave = per_wave.min(n - delivered);
        for i in delivered..delivered + wave {
            deliver(&app, i, smtp_up).await;
        }
        delivered += wave;
        if down {
            daemon = start(&app);
        }
        if let Trouble::ServerOutages = trouble {
            if k == kills / 3 {
                app.servers.stop_dovecot().expect("stop dovecot");
                tokio::time::sleep(Duration::from_millis(800)).await;
                app.servers.start_dovecot().expect("start dovecot");
            }
            if k == kills / 2 {
                app.servers.stop_postfix().expect("stop postfix");
                smtp_up = false;
            }
            if k == kills / 2 + 2 {
                app.servers.start_postfix().expect("start postfix");
                smtp_up = true;
            }
        }
        // Between 0.2 and 2.5 s of work, then SIGKILL, then a restart.
        let ms = 200 + next() % 2300;
        tokio::time::sleep(Duration::from_millis(ms)).await;
        kill(&mut daemon);
        daemon = start(&app);
    }
    for i in delivered..n {
        deliver(&app, i, smtp_up).await;
    }
    if !smtp_up {
        app.servers.start_postfix().expect("start postfix");
    }
    // Let the last daemon clear the backlog: every confirmation delivered
    // and the INBOX empty.
    let got = poll_until(
        "every applicant's confirmation and an empty INBOX",
        SETTLE,
        Duration::from_millis(500),
        async || {
            let sent = app
                .count("SELECT COUNT(*) FROM outbox WHERE purpose LIKE 'confirmation%' AND state = 'sent'")
                .await;
            let inbox = app.mails_in(PROJECT, "INBOX").await.len();
            if sent >= n as i64 && inbox == 0 {
                Ok(sent)
            } else {
                Err(format!("{sent} of {n} confirmations sent, {inbox} mails in the INBOX"))
            }
        },
    )
    .await;
    assert!(got >= n as i64);
    // Late duplicates would arrive within Postfix's delivery time: give them
    // a few seconds, then count what each applicant holds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut lost = 0;
    let mut duplicates = 0;
    let mut evidence = Vec::new();
    for i in 0..n {
        let mails = app
            .servers
            .fetch_all(&who(i), "INBOX")
            .await
            .expect("fetch applicant mailbox");
        match mails.len() {
            0 => lost += 1,
            1 => {}
            more => {
                duplicates += more - 1;
                for m in &mails {
                    let text = String::from_utf8_lossy(m);
                    let id = crate::helpers::header(&text, "Message-ID").unwrap_or_default();
                    let bare = id.trim_matches(['<', '>']).replace('\'', "''");
                    let stored = app
                        .count(&format!(
                            "SELECT COUNT(*) FROM messages WHERE trim(message_id, '<>') = '{bare}'"
                        ))
                        .await;
                    evidence.push(format!(
                        "duplicate to {}: {id}, copy stored: {stored}",
                        who(i)
                    ));
                }
            }
        }
    }
    let recorded = app.count("SELECT COUNT(*) FROM applications").await;
    kill(&mut daemon);
    let log = std::fs::read_to_string(app.dir.path().join("daemon.log")).unwrap_or_default();
    assert!(
        !log.contains("panicked"),
        "the daemon panicked:\n{}",
        log.lines()
            .filter(|l| l.contains("panicked"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The batched path ran: pages of more than one mail were stored.
    let pages = log
        .lines()
        .filter(|l| l.contains("page fetched and stored"))
        .filter_map(|l| l.split("mails=").nth(1))
        .filter_map(|n| {
            n.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u32>()
                .ok()
        })
        .filter(|&mails| mails > 1)
        .count();
    if pages == 0 {
        let swept: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("swept") || l.contains("page"))
            .take(40)
            .collect();
        println!(
            "no page of several mails; the sweeps:\n{}",
            swept.join("\n")
        );
    }
    Figures {
        applications: n,
        kills,
        pages,
        recorded,
        lost,
        duplicates,
        settled: log.matches("interrupted send had gone out").count(),
        resent: log.matches("interrupted send requeued").count(),
        evidence: evidence
            .into_iter()
            .chain(
                log.lines()
                    .filter(|l| l.contains("interrupted send"))
                    .map(|l| l.chars().take(400).collect()),
            )
            .collect(),
    }
}

fn report(name: &str, f: &Figures) {
    println!(
        "crash test ({name}): {} applications, {} SIGKILLs, {} pages of several mails: {} recorded, {} lost, \
         {} duplicate confirmations; interrupted sends: {} found sent by their copy, {} sent again",
        f.applications, f.kills, f.pages, f.recorded, f.lost, f.duplicates, f.settled, f.resent
    );
    assert!(
        f.pages > 0,
        "no page of several mails: the batched path did not run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_nothing_and_sends_nothing_twice() {
    let f = crash_run(0x5eed_0007, 200, 15, Trouble::None).await;
    report("kills only", &f);
    assert_eq!((f.lost, f.duplicates), (0, 0), "{:#?}", f.evidence);
    assert_eq!(f.recorded, 200, "every application recorded once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_an_imap_restart_and_an_smtp_outage_loses_nothing_and_sends_nothing_twice() {
    let f = crash_run(0x5eed_0107, 100, 10, Trouble::ServerOutages).await;
    report("with IMAP restart and SMTP outage", &f);
    assert_eq!((f.lost, f.duplicates), (0, 0), "{:#?}", f.evidence);
    assert_eq!(f.recorded, 100, "every application recorded once");
}
