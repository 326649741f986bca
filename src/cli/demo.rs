//! `postbote demo`: the sample applications in examples/ flow through a local
//! Maildir, SQLite and the file transport; the mails written are listed.

use super::lists::print_outbox;
use crate::calendar::clock::Clock;
use crate::calendar::{events, german, scheduler, timeline};
use crate::config::Config;
use crate::config::programme::EventStatus;
use crate::config::settings::{Settings, SourceKind, TransportKind};
use crate::context::App;
use crate::intake::worker::sweep;
use crate::mailbox::MailSource;
use crate::mailbox::maildir::MaildirSource;
use crate::startup;
use crate::store::{applications, outbox, participants};
use crate::workflow::actions::ActionError;
use crate::workflow::interviews::schedule;
use crate::workflow::selection::{self, Outcome, preview};
use anyhow::{Context, bail};
use secrecy::SecretString;
use std::path::Path;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

const DEMO_SECRET: &str = "demo-kennwort-nur-zum-ausprobieren";

pub async fn run(demo_config: &Path, dir: &Path, examples: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        if !dir.join("postbote.sqlite").exists() && std::fs::read_dir(dir)?.next().is_some() {
            bail!(
                "{} exists and is not a demo folder; choose another --dir",
                dir.display()
            );
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    let mut settings = Settings::load(demo_config, std::env::vars())?;
    settings.storage.database = dir.join("postbote.sqlite");
    settings.mailbox.source = SourceKind::Maildir;
    let maildir = dir.join("Maildir");
    if let Some(m) = settings.maildir.as_mut() {
        m.path = maildir.clone();
    }
    settings.smtp.transport = TransportKind::File;
    settings.smtp.file_dir = Some(dir.join("sent"));
    // The year plays in seconds of wall-clock time: lift the loop backstop
    // (mails per recipient per 24 h), which counts wall-clock time.
    settings.mail.daily_cap_per_recipient = settings.mail.daily_cap_per_recipient.max(100);
    settings.mail.max_automatic_per_hour = settings.mail.max_automatic_per_hour.max(1000);
    // Part 4 shows one digest; daily ones in fast-forward would repeat the
    // demo's rows (their times are wall-clock times).
    settings.digest.enabled = false;
    // The demo's staff commands carry this secret ("Kennwort: ...").
    settings.staff.command_secret = Some(SecretString::from(DEMO_SECRET));
    let mut programmes = crate::config::Programmes::load(&settings.programme, demo_config)?;
    let programme = programmes.first_mut();
    // The shipped programme has placeholder Zoom links, which postbote
    // refuses to send; the demo stands in a made-up one.
    programme.interviews.zoom_link = "https://zoom.us/j/1234567890".into();
    for g in &mut programme.learning_groups {
        g.zoom_link = "https://zoom.us/j/1234567890".into();
    }
    let count = deliver_examples(examples, &maildir)?;
    println!(
        "Delivered {count} sample mails from {} into {}",
        examples.display(),
        maildir.display()
    );

    let config = Config {
        settings,
        programmes,
        path: demo_config.to_path_buf(),
    };
    // The scheduler's clock stands still until part 4 plays the year.
    let clock = Clock::manual(
        config
            .programmes
            .first()
            .deadline_end
            .with_timezone(&chrono::Utc),
    );
    let app = App::build_with_clock(config.clone(), clock.clone()).await?;
    let mut source = MaildirSource::new(
        &maildir,
        &app.settings.mailbox.processed_folder,
        Duration::from_secs(1),
    );
    source.connect().await?;
    let stats = sweep(&app, &mut source, &CancellationToken::new()).await?;
    crate::store::health::mailbox_ok(&app.store).await?;
    let sent = startup::sender(&app)?.run_once().await?;
    println!(
        "Intake: {} mails seen, {} stored, {} moved to the processed folder; {} mails written\n",
        stats.seen, stats.stored, stats.moved, sent
    );

    println!("Applications:");
    for a in applications::list(&app.store).await? {
        println!(
            "  {}  {:<34} {:<10}{}",
            a.reference,
            a.applicant,
            if a.complete { "complete" } else { "incomplete" },
            if a.late {
                "  (LATE: flagged for staff)"
            } else {
                ""
            }
        );
    }
    part3(&app, &mut source, &maildir).await?;
    part4(&app, config, &clock).await?;
    let kept = source.scan().await?.len();
    println!("\nLeft in the inbox for staff: {kept} mail(s)\n");
    println!("Outbox:");
    print_outbox(&outbox::list(&app.store).await?);
    println!("\nMails written to {}:", dir.join("sent").display());
    let mut files: Vec<_> = std::fs::read_dir(dir.join("sent"))?
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files {
        println!("  {}", f.display());
    }
    println!(
        "\nInspect with: postbote --config {} status | applications [show EWS7-0002] | outbox",
        demo_config.display()
    );
    app.store.close().await;
    Ok(())
}

/// Interviews and selection: the plan, its release, a decision round with a
/// preview, and the release by a staff command mail.
async fn part3(app: &App, source: &mut MaildirSource, maildir: &Path) -> anyhow::Result<()> {
    let mut tx = app.store.begin().await?;
    let plan = schedule::current(&app.desk(), &mut tx).await?;
    println!("\nInterview plan (postbote interviews plan):");
    for line in plan.lines() {
        println!("  {line}");
    }
    let released = schedule::release(&app.desk(), &mut tx)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "Released (postbote interviews release): {} invited, {} mails queued\n",
        released.invited.len(),
        released.mails
    );
    let candidates: Vec<_> = applications::list_tx(&mut tx)
        .await?
        .into_iter()
        .filter(|a| a.complete && !a.late)
        .collect();
    println!("Decisions (postbote decisions set ...):");
    for (i, a) in candidates.iter().enumerate() {
        let (outcome, persons) = match i {
            0 => (Outcome::Accept, 2),
            1 => (Outcome::Waitlist, 1),
            _ => (Outcome::Reject, 1),
        };
        match selection::decide(&app.desk(), &mut tx, &a.reference, outcome, persons, "demo").await
        {
            Ok(done) => println!("  {done}"),
            Err(ActionError::Refused(why)) => println!("  refused: {why}"),
            Err(ActionError::Storage(e)) => return Err(e),
        }
    }
    let held = preview::held(&app.desk(), &mut tx).await?;
    tx.commit().await?;
    println!("\nPreview (postbote decisions preview):");
    for n in &held {
        println!("  #{} {} to {}: {}", n.id, n.purpose, n.to, n.subject);
    }
    let command = format!(
        "From: Leitung <{staff}>\r\nTo: {to}\r\nSubject: Befehl\r\n\
         Message-ID: <demo-command@leitung.example>\r\nDate: {date}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nFREIGEBEN BESCHEIDE\r\nKennwort: {DEMO_SECRET}\r\n",
        staff = app
            .settings
            .staff
            .addresses
            .first()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        to = app.settings.mail.from_address,
        // A command must be recent (staff.command_max_age_hours) by the
        // system clock: the mailbox's arrival time is real time.
        date = chrono::Utc::now().to_rfc2822(),
    );
    std::fs::write(
        maildir.join("new").join("1790000000.demo-command.postbote"),
        command,
    )?;
    sweep(app, source, &CancellationToken::new()).await?;
    let sent = startup::sender(app)?.run_once().await?;
    println!(
        "\nStaff mail \"FREIGEBEN BESCHEIDE\" (with the secret) released the notices; {sent} more mails written"
    );
    println!("\nParticipants (postbote participants list):");
    for p in participants::list(&app.store).await? {
        println!("  {:<34} {:<36} {}", p.municipality, p.email, p.role);
    }
    println!();
    Ok(())
}

/// The programme year in fast-forward: the scheduler runs at every reminder's
/// due time on a hand-set clock; halfway, staff confirm the tentative
/// module 3 (an announcement goes out) and a digest is shown.
async fn part4(app: &App, config: Config, clock: &Clock) -> anyhow::Result<()> {
    println!("The programme year in fast-forward (scheduler on a hand-set clock):");
    let start = clock.now();
    let ticks = |app: &App| -> Vec<chrono::DateTime<chrono::Utc>> {
        let evs = events::all(app.programmes.first());
        let mut t: Vec<_> = timeline::reminders(&evs, &app.settings.reminders, &["x@demo".into()])
            .into_iter()
            .map(|d| d.due + chrono::Duration::minutes(7))
            .filter(|t| *t > start)
            .collect();
        t.dedup();
        t
    };
    let mut played = 0;
    let halfway = chrono::DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z")
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or(start);
    let mut run =
        async |app: &App, until: Option<chrono::DateTime<chrono::Utc>>| -> anyhow::Result<()> {
            for t in ticks(app) {
                if until.is_some_and(|u| t > u) || (until.is_none() && t <= halfway) {
                    continue;
                }
                clock.set(t);
                let tick = scheduler::tick(app, t).await?;
                let sent = startup::sender(app)?.run_once().await?;
                if tick.reminders + tick.event_mails > 0 {
                    println!(
                        "  {}  {} reminder(s), {} announcement/update(s), {sent} mail(s) written",
                        german::format_datetime(&t),
                        tick.reminders,
                        tick.event_mails
                    );
                    played += 1;
                }
            }
            Ok(())
        };
    run(app, Some(halfway)).await?;
    // Staff confirm module 3 ("status = confirmed" in the programme file).
    let mut confirmed = config;
    for m in confirmed.programmes.first_mut().modules.iter_mut() {
        if m.status == EventStatus::Tentative {
            m.status = EventStatus::Confirmed;
            println!("  (staff set {} to confirmed)", m.title);
            break;
        }
    }
    let app2 = App::build_with_clock(confirmed, clock.clone()).await?;
    run(&app2, None).await?;
    let digest_at = chrono::DateTime::parse_from_rfc3339("2027-01-11T06:30:00Z")
        .map(|t| t.with_timezone(&chrono::Utc))?;
    let since = digest_at - chrono::Duration::days(400);
    crate::calendar::digest::send(&app2, digest_at, since, digest_at).await?;
    let sent = startup::sender(&app2)?.run_once().await?;
    println!(
        "  and the staff digest of Mo., 11.01.2027, 07:30 Uhr (weekdays at 07:30): {sent} mail written"
    );
    println!(
        "  {played} scheduler passes sent mail; run `postbote plan --all` to see the timeline\n"
    );
    app2.store.close().await;
    Ok(())
}

/// Copies examples/*.eml into Maildir/new, dating each file by its Date
/// header (the demo's stand-in for the server's arrival time).
fn deliver_examples(examples: &Path, maildir: &Path) -> anyhow::Result<usize> {
    MaildirSource::ensure(maildir)?;
    let mut files: Vec<_> = std::fs::read_dir(examples)
        .with_context(|| format!("cannot read {}", examples.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    for (i, path) in files.iter().enumerate() {
        let raw = std::fs::read(path)?;
        let target = maildir
            .join("new")
            .join(format!("{}.demo{i:03}.postbote", 1_780_000_000 + i));
        std::fs::write(&target, &raw)?;
        let date = mail_parser::MessageParser::default()
            .parse_headers(&raw)
            .and_then(|m| m.date().map(|d| d.to_timestamp()))
            .map(|t| SystemTime::UNIX_EPOCH + Duration::from_secs(t.max(0) as u64));
        if let Some(t) = date {
            std::fs::File::options()
                .write(true)
                .open(&target)?
                .set_modified(t)?;
        }
    }
    Ok(files.len())
}
