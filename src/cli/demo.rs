//! `postbote demo`: two programmes in one mailbox, played on a hand-set
//! clock through a local Maildir, SQLite and the file transport.
//!
//! 1. EWS 7 mid-year (01.12.2026): staff import the running cohort's roster
//!    (`TEILNEHMER IMPORT`, examples/ews7-teilnehmende.csv) and send the
//!    welcome (`TERMINÜBERSICHT SENDEN`); the EWS 7 reminders follow, staff
//!    confirm the tentative module 3 (`BESTÄTIGEN EWS7 MODUL 3`), a digest.
//! 2. The EWS 8 call (config/demo-ews8.toml): the sample mails in examples/
//!    arrive, are routed to EWS 8 and confirmed; interviews, decisions and
//!    their release by staff mail.
//! 3. The overview (`ÜBERSICHT EWS8`): a summary and the spreadsheet.
//! 4. The rest of both years: reminders of EWS 7 and of the new EWS 8 cohort.

use super::lists::print_outbox;
use crate::calendar::clock::Clock;
use crate::calendar::{events, german, scheduler, timeline};
use crate::config::Config;
use crate::config::settings::{Settings, SourceKind, TransportKind};
use crate::context::App;
use crate::intake::worker::sweep;
use crate::mailbox::MailSource;
use crate::mailbox::maildir::MaildirSource;
use crate::startup;
use crate::store::{applications, outbox, participants};
use crate::workflow::actions::ActionError;
use crate::workflow::interviews::schedule;
use crate::workflow::overview;
use crate::workflow::selection::{self, Outcome, preview};
use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};
use secrecy::SecretString;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

const DEMO_SECRET: &str = "demo-kennwort-nur-zum-ausprobieren";
/// The roster of the running EWS 7 cohort, as German Excel saves it.
const ROSTER: &str = "ews7-teilnehmende.csv";
/// The programme whose call the sample mails answer.
const NEW_CALL: &str = "EWS8";
/// A made-up meeting room: the shipped programme has placeholder Zoom links,
/// which postbote refuses to send.
const DEMO_ZOOM: &str = "https://zoom.us/j/1234567890";

/// Berlin wall-clock time on `date` at `hour`:00, as UTC.
fn berlin(date: (i32, u32, u32), hour: u32) -> anyhow::Result<DateTime<Utc>> {
    let day = NaiveDate::from_ymd_opt(date.0, date.1, date.2).context("demo date")?;
    let local = day.and_hms_opt(hour, 0, 0).context("demo time")?;
    german::from_berlin(local).context("demo time is ambiguous")
}

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
    // Two years play in seconds of wall-clock time: lift the loop backstop
    // (mails per recipient per 24 h), which counts wall-clock time.
    settings.mail.daily_cap_per_recipient = settings.mail.daily_cap_per_recipient.max(1000);
    settings.mail.max_automatic_per_hour = settings.mail.max_automatic_per_hour.max(10_000);
    // One digest is shown; daily ones in fast-forward would repeat the
    // demo's rows (their times are wall-clock times).
    settings.digest.enabled = false;
    // Retention off: the clock runs up to two years ahead of the real time
    // that stamps received and released mail, so every limit would look
    // passed at once (an application just waitlisted would be erased).
    settings.retention = crate::config::settings::RetentionSettings {
        not_selected_months: 0,
        undecided_months: 0,
        participants_months: 0,
        other_days: 0,
        automatic_days: 0,
        staff_days: 0,
        sent_days: 0,
    };
    // The demo's staff commands carry this secret ("Kennwort: ...").
    settings.staff.command_secret = Some(SecretString::from(DEMO_SECRET));
    let mut programmes = crate::config::Programmes::load(&settings.programme, demo_config)?;
    for programme in programmes.iter_mut() {
        programme.interviews.zoom_link = DEMO_ZOOM.into();
        for g in &mut programme.learning_groups {
            g.zoom_link = DEMO_ZOOM.into();
        }
    }
    if programmes.get(NEW_CALL).is_none() {
        bail!(
            "{} names no programme {NEW_CALL}: the demo plays two programmes",
            demo_config.display()
        );
    }
    MaildirSource::ensure(&maildir)?;
    let config = Config {
        settings,
        programmes,
        path: demo_config.to_path_buf(),
    };
    let clock = Clock::manual(berlin((2026, 12, 1), 9)?);
    let app = App::build_with_clock(config, clock.clone()).await?;
    let mut source = MaildirSource::new(
        &maildir,
        &app.settings.mailbox.processed_folder,
        Duration::from_secs(1),
    );
    source.connect().await?;
    let mut demo = Demo {
        app: &app,
        source,
        maildir,
        sent: dir.join("sent"),
        clock,
        commands: 0,
        played: 0,
    };
    ews7_mid_year(&mut demo, examples).await?;
    ews8_call(&mut demo, examples).await?;
    ews8_selection(&mut demo).await?;
    the_overview(&mut demo, dir).await?;
    println!("\n== 4. The rest of both years: EWS 7 ends, the new EWS 8 cohort begins");
    demo.play_until(None).await?;
    println!(
        "  {} scheduler passes sent mail; run `postbote plan --all` to see the timeline",
        demo.played
    );

    let kept = demo.source.scan().await?.len();
    println!("\nLeft in the inbox for staff: {kept} mail(s)\n");
    println!("Outbox:");
    print_outbox(&outbox::list(&app.store).await?);
    println!("\nMails written to {}:", demo.sent.display());
    for f in demo.sent_files()? {
        println!("  {}", f.display());
    }
    println!(
        "\nInspect with: postbote --config {} status | plan | applications [show EWS8-0002] | participants list | outbox",
        demo_config.display()
    );
    app.store.close().await;
    Ok(())
}

/// The demo's mailbox, clock and outbox.
struct Demo<'a> {
    app: &'a App,
    source: MaildirSource,
    maildir: PathBuf,
    sent: PathBuf,
    clock: Clock,
    /// Staff command mails written so far (for unique file names).
    commands: usize,
    /// Scheduler passes that sent mail.
    played: usize,
}

impl Demo<'_> {
    /// Reads the mailbox once and writes what that queued.
    async fn sweep(&mut self) -> anyhow::Result<(crate::intake::worker::Sweep, usize)> {
        let stats = sweep(self.app, &mut self.source, &CancellationToken::new()).await?;
        crate::store::health::mailbox_ok(&self.app.store).await?;
        let sent = startup::sender(self.app)?.run_once().await?;
        Ok((stats, sent))
    }

    fn sent_files(&self) -> anyhow::Result<Vec<PathBuf>> {
        let mut files: Vec<_> = match std::fs::read_dir(&self.sent) {
            Ok(dir) => dir.flatten().map(|e| e.path()).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).context("cannot read the sent folder"),
        };
        files.sort();
        Ok(files)
    }

    /// A staff command mail (with the secret, dated now by the system clock:
    /// a command must be recent), read and answered; the answer's text is
    /// printed.
    async fn command(
        &mut self,
        body: &str,
        attachment: Option<(&str, &[u8])>,
    ) -> anyhow::Result<()> {
        self.commands += 1;
        let n = self.commands;
        let staff = self
            .app
            .settings
            .staff
            .addresses
            .first()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let text = format!("{body}\r\nKennwort: {DEMO_SECRET}\r\n");
        let mail = lettre::Message::builder()
            .from(format!("Leitung <{staff}>").parse()?)
            .to(self.app.settings.mail.from_address.to_string().parse()?)
            .subject("Befehl")
            .message_id(Some(format!("<demo-command-{n}@leitung.example>")));
        let mail = match attachment {
            None => mail.singlepart(SinglePart::plain(text))?,
            Some((name, bytes)) => mail.multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain(text))
                    .singlepart(
                        Attachment::new(name.to_string())
                            .body(bytes.to_vec(), ContentType::parse("text/csv")?),
                    ),
            )?,
        };
        // lettre dates the mail now by the system clock.
        let raw = mail.formatted();
        let file = format!("{}.demo-command-{n}.postbote", 1_790_000_000 + n);
        std::fs::write(self.maildir.join("new").join(file), raw)?;
        let before: BTreeSet<PathBuf> = self.sent_files()?.into_iter().collect();
        let (_, sent) = self.sweep().await?;
        println!("  Staff mail \"{body}\": {sent} mail(s) written");
        for f in self.sent_files()? {
            if before.contains(&f) {
                continue;
            }
            let raw = std::fs::read(&f)?;
            let Some(mail) = mail_parser::MessageParser::default().parse(&raw) else {
                continue;
            };
            let to_staff = mail
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .is_some_and(|a| a.eq_ignore_ascii_case(&staff));
            if !to_staff {
                continue;
            }
            println!("    reply \"{}\":", mail.subject().unwrap_or_default());
            let text = mail.body_text(0).unwrap_or_default();
            for line in text.lines().filter(|l| !l.trim().is_empty()).take(12) {
                println!("      | {line}");
            }
            for a in mail.attachments() {
                use mail_parser::MimeHeaders;
                println!(
                    "      attached: {} ({} bytes)",
                    a.attachment_name().unwrap_or("?"),
                    a.contents().len()
                );
            }
        }
        // What the command changed, the scheduler's next pass sends
        // (announcements of a confirmed event).
        self.tick(self.clock.now()).await
    }

    /// Every reminder due time of every programme's events as they stand
    /// now (staff may have confirmed one), 7 minutes after it as the
    /// scheduler's minute tick would see it, in order.
    async fn ticks(&self) -> anyhow::Result<Vec<DateTime<Utc>>> {
        let mut t = Vec::new();
        for p in self.app.programmes.iter() {
            let events = events::effective(&self.app.store, p).await?;
            let due =
                timeline::reminders(&events, &self.app.settings.reminders, &["x@demo".into()]);
            t.extend(
                due.into_iter()
                    .map(|d| d.due + chrono::Duration::minutes(7)),
            );
        }
        t.sort();
        t.dedup();
        Ok(t)
    }

    /// One scheduler pass now, and the mails it queued written; one line
    /// when it sent or erased something.
    async fn tick(&mut self, t: DateTime<Utc>) -> anyhow::Result<()> {
        self.clock.set(t);
        let tick = scheduler::tick(self.app, t).await?;
        let sent = startup::sender(self.app)?.run_once().await?;
        if tick.reminders + tick.event_mails > 0 || tick.erased > 0 {
            let erased = if tick.erased > 0 {
                format!("; retention erased {} row(s)", tick.erased)
            } else {
                String::new()
            };
            println!(
                "  {}  {} reminder(s), {} announcement/update(s), {sent} mail(s) written{erased}",
                german::format_datetime(&t),
                tick.reminders,
                tick.event_mails
            );
            self.played += 1;
        }
        Ok(())
    }

    /// Runs the scheduler at each due time after the clock's now and up to
    /// `until` (all: None), writing what it queued.
    async fn play_until(&mut self, until: Option<DateTime<Utc>>) -> anyhow::Result<()> {
        let from = self.clock.now();
        for t in self.ticks().await? {
            if t <= from || until.is_some_and(|u| t > u) {
                continue;
            }
            self.tick(t).await?;
        }
        if let Some(u) = until {
            self.clock.set(u.max(self.clock.now()));
        }
        Ok(())
    }
}

/// EWS 7 is half done: its roster comes in by staff mail, the welcome goes
/// out, and the reminders follow until the EWS 8 call closes.
async fn ews7_mid_year(demo: &mut Demo<'_>, examples: &Path) -> anyhow::Result<()> {
    println!(
        "== 1. EWS 7 mid-year: the running cohort taken over on {}",
        german::format_datetime(&demo.clock.now())
    );
    let roster_file = examples.join(ROSTER);
    let roster = std::fs::read(&roster_file)
        .with_context(|| format!("cannot read {}", roster_file.display()))?;
    demo.command("TEILNEHMER IMPORT EWS7", Some((ROSTER, &roster)))
        .await?;
    demo.command("TERMINÜBERSICHT SENDEN EWS7", None).await?;
    println!("\nThe EWS 7 year goes on (scheduler on a hand-set clock):");
    demo.play_until(Some(berlin((2027, 1, 4), 8)?)).await?;
    // The 2027 budget is approved: staff confirm the tentative module 3.
    demo.command("BESTÄTIGEN EWS7 MODUL 3", None).await?;
    let digest_at = berlin((2027, 1, 11), 7)? + chrono::Duration::minutes(30);
    demo.play_until(Some(digest_at)).await?;
    let since = digest_at - chrono::Duration::days(400);
    crate::calendar::digest::send(demo.app, digest_at, since, digest_at).await?;
    let sent = startup::sender(demo.app)?.run_once().await?;
    println!(
        "  {}  the staff digest (weekdays at 07:30): {sent} mail written",
        german::format_datetime(&digest_at)
    );
    let opens = demo
        .app
        .programmes
        .get(NEW_CALL)
        .and_then(|p| p.call_opens_at)
        .map(|t| t.with_timezone(&Utc));
    match opens {
        Some(t) => demo.play_until(Some(t)).await,
        None => Ok(()),
    }
}

/// The sample mails answer the EWS 8 call while EWS 7 runs: routed by their
/// arrival time and subject, confirmed with EWS 8 references.
async fn ews8_call(demo: &mut Demo<'_>, examples: &Path) -> anyhow::Result<()> {
    let ews8 = demo
        .app
        .programmes
        .get(NEW_CALL)
        .context("the demo's EWS 8")?;
    let closes = ews8.deadline_end.with_timezone(&Utc);
    println!(
        "\n== 2. The EWS 8 call ({} to {}), EWS 7 still running",
        ews8.call_opens.map(german::format_date).unwrap_or_default(),
        german::format_date(ews8.deadline)
    );
    demo.play_until(Some(closes)).await?;
    let count = deliver_examples(examples, &demo.maildir)?;
    println!(
        "Delivered {count} sample mails from {} into {}",
        examples.display(),
        demo.maildir.display()
    );
    let (stats, sent) = demo.sweep().await?;
    println!(
        "Intake: {} mails seen, {} stored, {} moved to the processed folder; {} mails written\n",
        stats.seen, stats.stored, stats.moved, sent
    );
    println!("Applications:");
    for a in applications::list(&demo.app.store).await? {
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
    Ok(())
}

/// EWS 8's interviews and selection: the plan, its release, a decision round
/// with a preview, and the release by a staff command mail.
async fn ews8_selection(demo: &mut Demo<'_>) -> anyhow::Result<()> {
    let app = demo.app;
    let ews8 = app.programmes.get(NEW_CALL).context("the demo's EWS 8")?;
    let desk = app.desk_for(ews8);
    let mut tx = app.store.begin().await?;
    let plan = schedule::current(&desk, &mut tx).await?;
    println!("\nEWS 8 interview plan (postbote interviews plan --programme EWS8):");
    for line in plan.lines() {
        println!("  {line}");
    }
    let released = schedule::release(&desk, &mut tx)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "Released (postbote interviews release --programme EWS8): {} invited, {} mails queued\n",
        released.invited.len(),
        released.mails
    );
    let candidates: Vec<_> = applications::list_tx(&mut tx)
        .await?
        .into_iter()
        .filter(|a| a.programme == ews8.code && a.complete && !a.late)
        .collect();
    println!("Decisions (postbote decisions set ...):");
    for (i, a) in candidates.iter().enumerate() {
        let (outcome, persons) = match i {
            0 => (Outcome::Accept, 2),
            1 => (Outcome::Waitlist, 1),
            _ => (Outcome::Reject, 1),
        };
        match selection::decide(&desk, &mut tx, &a.reference, outcome, persons, "demo").await {
            Ok(done) => println!("  {done}"),
            Err(ActionError::Refused(why)) => println!("  refused: {why}"),
            Err(ActionError::Storage(e)) => return Err(e),
        }
    }
    let held = preview::held(&desk, &mut tx).await?;
    tx.commit().await?;
    println!("\nPreview (postbote decisions preview --programme EWS8):");
    for n in &held {
        println!("  #{} {} to {}: {}", n.id, n.purpose, n.to, n.subject);
    }
    let sent = startup::sender(app)?.run_once().await?;
    println!("{sent} invitation(s) written\n");
    demo.command("FREIGEBEN EWS8 BESCHEIDE", None).await?;
    println!("\nParticipants (postbote participants list):");
    for p in participants::list(&app.store).await? {
        println!(
            "  {:<5} {:<34} {:<36} {}",
            p.programme, p.municipality, p.email, p.role
        );
    }
    Ok(())
}

/// `ÜBERSICHT EWS8` by staff mail (the spreadsheet attached), and the same
/// spreadsheet as a file (`postbote applications --export`).
async fn the_overview(demo: &mut Demo<'_>, dir: &Path) -> anyhow::Result<()> {
    println!("\n== 3. The overview staff work from");
    demo.command("ÜBERSICHT EWS8", None).await?;
    let mut tx = demo.app.store.begin().await?;
    let o = overview::collect(&mut tx, Some(NEW_CALL), demo.clock.now()).await?;
    drop(tx);
    let out = dir.join("uebersicht-ews8.xlsx");
    crate::retention::export::write_private(&out, &overview::sheet::xlsx(&o)?)?;
    println!(
        "  {} application(s) written to {} (postbote applications --export FILE.xlsx --programme EWS8)",
        o.rows.len(),
        out.display()
    );
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
