//! The administrator's commands. Staff use mail; the CLI is for whoever runs
//! the server.

mod demo;
mod lists;
mod messages;
mod ops;
mod overview;
mod plan;
mod privacy;
mod staff;
mod status;
mod wake;
mod welcome;

use crate::config::Config;
use crate::config::settings::LogFormat;
use crate::context::App;
use crate::startup;
use crate::store::lock::DatabaseLock;
use crate::store::outbox::Pick;
use crate::telemetry;
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(
    name = "postbote",
    version,
    about = "Email-driven workflow daemon for training programmes"
)]
pub struct Cli {
    /// The settings file.
    #[arg(
        long,
        short,
        env = "POSTBOTE_CONFIG",
        default_value = "config/postbote.toml",
        global = true
    )]
    pub config: PathBuf,
    /// Log as JSON lines instead of readable text.
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum ApplicationsAction {
    /// Everything about one application (by id or reference such as EWS7-0003):
    /// documents, extracted facts with their source and confidence, flags.
    Show { id: String },
    /// Link an address to an application (by id or reference): mail from it
    /// may then change the application, as from the original applicant
    /// (the mail command VERKNÜPFEN does the same).
    Link { id: String, address: String },
    /// Merge a possible duplicate into an application: its documents, facts
    /// and mails move there, its sender is linked, its mail not yet sent is
    /// withdrawn (the mail command ZUSAMMENFÜHREN DUP IN REF does the same).
    Merge {
        /// The duplicate (id or reference), merged away.
        dup: String,
        /// The application it is merged into.
        #[arg(long)]
        into: String,
    },
    /// Keep a possible duplicate as an application of its own: the mark goes
    /// (as the mail command BEHALTEN).
    Keep { id: String },
    /// Confirm the held address changes of an application: the new contact
    /// or supervisor address is used from now on (as ADRESSE BESTÄTIGEN).
    ConfirmAddress { id: String },
    /// Refuse the held address changes: the previous addresses stay (as
    /// ADRESSE ABLEHNEN).
    RejectAddress { id: String },
}

#[derive(Debug, Subcommand)]
pub enum OutboxAction {
    /// Put a failed (or expired) mail back in the queue, due now, or with
    /// --failed every failed mail.
    Retry {
        id: Option<i64>,
        #[arg(long, conflicts_with = "id", required_unless_present = "id")]
        failed: bool,
    },
    /// Acknowledge a failed mail, or with --all every failed mail: `status`
    /// no longer exits 1 for it (it stays listed as failed).
    Ack {
        id: Option<i64>,
        #[arg(long, conflicts_with = "id", required_unless_present = "id")]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum InterviewsAction {
    /// Show the interview plan (pinned, released and proposed slots, and who
    /// has none) without sending anything.
    Plan {
        #[arg(long)]
        json: bool,
    },
    /// Release the plan: store it and queue the invitations (.ics) of every
    /// interview not yet invited; ask applicants without a slot for other times.
    Release,
    /// Move (before release: pin) the interview of an application, e.g.
    /// `move EWS7-0003 30.06.2026 10:00`. A released one gets an update (SEQUENCE+1).
    Move {
        reference: String,
        date: String,
        time: String,
    },
    /// Cancel the interview of an application (a released one gets a CANCEL).
    Cancel { reference: String },
}

#[derive(Debug, Subcommand)]
pub enum DecisionsAction {
    /// List the decisions.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Record accept, reject or waitlist; the notice is held for release and a
    /// changed decision replaces it. With --correction after release, a
    /// correction mail goes out at once.
    Set {
        reference: String,
        /// accept | reject | waitlist
        outcome: String,
        /// Persons the municipality sends (1 or 2; only for accept).
        #[arg(long, default_value_t = 1)]
        persons: u8,
        #[arg(long)]
        correction: bool,
    },
    /// Show the held notices: count, recipients and text.
    Preview {
        #[arg(long)]
        json: bool,
    },
    /// Print the preview and, with --yes, release every held notice.
    Release {
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MessagesAction {
    /// The stored incoming messages, newest first: state, class, sender,
    /// attempts, the last error and where the mail is.
    List {
        /// Only the messages that failed processing.
        #[arg(long)]
        failed: bool,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Put a failed message back: attempts reset, pending again, processed
    /// at the daemon's next mailbox check (a move the server refused until
    /// it was left for staff is tried again too).
    Retry { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum ParticipantsAction {
    /// List the roster.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Import a roster CSV (columns kommune, name, email, optional rolle;
    /// `;` or `,`; UTF-8 or Windows-1252). All rows or none.
    Import {
        file: PathBuf,
        /// The programme whose roster it is (its code); may be left out
        /// while only one is active.
        #[arg(long, value_name = "CODE")]
        programme: Option<String>,
    },
    /// Mail each imported participant of the programme once: every
    /// remaining event, one .ics per confirmed event, tentative ones marked
    /// "unter Vorbehalt". Running it again sends nothing new.
    Welcome {
        /// The programme's code (needed when several are active).
        #[arg(long)]
        programme: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon until SIGTERM or SIGINT. Takes the database lock
    /// (`<database>.lock`: one daemon per database) and applies pending
    /// migrations at its start.
    Run,
    /// Apply pending database migrations, then exit. Refused while a daemon
    /// runs on the database (it holds the lock). Every command but `run` and
    /// `migrate` refuses a database that is not migrated to this version.
    Migrate,
    /// Write a consistent copy of the database to FILE (a new file, mode
    /// 0600) while the daemon keeps running. See the README for restoring.
    Backup {
        /// The backup file to create; an existing file is never overwritten.
        file: PathBuf,
    },
    /// Validate the settings and the programme, and print the programme.
    CheckConfig,
    /// Mailbox health, counts by state and the outbox queue; exits 1 when unhealthy.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// List applications, or show one with everything read from its documents.
    Applications {
        #[arg(long, global = true)]
        json: bool,
        /// Write the overview spreadsheet (XLSX, one row per application,
        /// the one the ÜBERSICHT mail attaches) to this new file (mode 0600;
        /// an existing file is never overwritten). Personal data.
        #[arg(long, value_name = "FILE.xlsx")]
        export: Option<std::path::PathBuf>,
        /// Only this programme (its code): the list, or with --export the
        /// spreadsheet; without it every programme.
        #[arg(long, value_name = "CODE")]
        programme: Option<String>,
        #[command(subcommand)]
        action: Option<ApplicationsAction>,
    },
    /// Incoming messages as stored, and putting a failed one back.
    Messages {
        #[command(subcommand)]
        action: MessagesAction,
    },
    /// List outgoing mail (queued, sending, sent, failed, expired,
    /// suppressed); retry or acknowledge failed mail.
    Outbox {
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<OutboxAction>,
    },
    /// The timeline of every automated mail still to come (reminders before
    /// modules and learning groups, digests, the incomplete-application
    /// reminder), computed by the code that sends them.
    Plan {
        #[arg(long)]
        json: bool,
        /// Also list past ones (sent or skipped).
        #[arg(long)]
        all: bool,
        /// Only this programme (its code); without it, every programme.
        #[arg(long, value_name = "CODE")]
        programme: Option<String>,
    },
    /// The interview plan, its release, moves and cancellations.
    Interviews {
        /// The programme (its code); may be left out while only one is
        /// active. Move and cancel act on the reference's programme.
        #[arg(long, global = true, value_name = "CODE")]
        programme: Option<String>,
        #[command(subcommand)]
        action: InterviewsAction,
    },
    /// Selection decisions and their notices (held until release).
    Decisions {
        /// The programme (its code) whose notices are previewed or released;
        /// may be left out while only one is active. A decision acts on the
        /// reference's programme; the list shows every programme.
        #[arg(long, global = true, value_name = "CODE")]
        programme: Option<String>,
        #[command(subcommand)]
        action: DecisionsAction,
    },
    /// The cohort's participant roster.
    Participants {
        #[command(subcommand)]
        action: ParticipantsAction,
    },
    /// Erase one application (by reference, e.g. EWS7-0003) or one person
    /// (by email address: every application they sent, roster rows, mail to
    /// and from them) everywhere: database and mailbox folders. Without
    /// --yes, shows what would go and changes nothing. Works while the
    /// daemon runs.
    Forget {
        target: String,
        #[arg(long)]
        yes: bool,
    },
    /// Write a ZIP with everything stored about one application (DSGVO
    /// Art. 15): its mails (.eml), documents, facts (JSON), the mail sent to
    /// it and a cover note. FILE must not exist; written with mode 0600.
    Export {
        reference: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the blank questionnaire (DOCX with content-control checkboxes and a
    /// fillable PDF) with the interview dates of the programme config.
    Forms {
        /// Output folder.
        #[arg(long, default_value = "forms")]
        out: PathBuf,
        /// The programme (its code); may be left out while only one is active.
        #[arg(long, value_name = "CODE")]
        programme: Option<String>,
    },
    /// Run the sample applications in examples/ through a Maildir, SQLite and
    /// the file transport in a local folder, and list the mails written.
    Demo {
        /// Working folder (wiped and recreated).
        #[arg(long, default_value = "demo-run")]
        dir: PathBuf,
        /// The demo settings.
        #[arg(long, default_value = "config/demo.toml")]
        demo_config: PathBuf,
        /// Folder with the sample .eml files.
        #[arg(long, default_value = "examples")]
        examples: PathBuf,
    },
}

impl Command {
    /// Whether the command, when it succeeds, may have queued outgoing mail
    /// or changed what the scheduler plans (events, roster, applications),
    /// so that the running daemon must look now (`wake::wake`).
    pub fn wakes_daemon(&self) -> bool {
        match self {
            Command::Applications { action, .. } => {
                !matches!(action, None | Some(ApplicationsAction::Show { .. }))
            }
            Command::Outbox { action, .. } => matches!(action, Some(OutboxAction::Retry { .. })),
            Command::Messages { action } => matches!(action, MessagesAction::Retry { .. }),
            Command::Interviews { action, .. } => !matches!(action, InterviewsAction::Plan { .. }),
            Command::Decisions { action, .. } => matches!(
                action,
                DecisionsAction::Set { .. } | DecisionsAction::Release { yes: true }
            ),
            Command::Participants { action } => !matches!(action, ParticipantsAction::List { .. }),
            Command::Forget { yes, .. } => *yes,
            Command::Run
            | Command::Migrate
            | Command::Backup { .. }
            | Command::CheckConfig
            | Command::Status { .. }
            | Command::Plan { .. }
            | Command::Export { .. }
            | Command::Forms { .. }
            | Command::Demo { .. } => false,
        }
    }
}

/// Runs the command; the exit code is 0 on success, 1 on unhealthy status, 2 on errors.
pub async fn main(cli: Cli) -> ExitCode {
    let format = if cli.log_json {
        LogFormat::Json
    } else {
        LogFormat::Text
    };
    let filter = if matches!(cli.command, Command::Run) {
        "info"
    } else {
        "warn"
    };
    telemetry::init(format, filter);
    match dispatch(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Demo {
        dir,
        demo_config,
        examples,
    } = &cli.command
    {
        return demo::run(demo_config, dir, examples)
            .await
            .map(|_| ExitCode::SUCCESS);
    }
    let config = Config::load(&cli.config)?;
    let wakes = cli.command.wakes_daemon();
    let database = config.settings.storage.database.clone();
    let code = run(cli.command, config).await?;
    if wakes && code == ExitCode::SUCCESS {
        wake::wake(&database);
    }
    Ok(code)
}

async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Forms { out, programme } => {
            let programme = match config.programmes.pick(programme.as_deref()) {
                Ok(p) => p,
                Err(why) => {
                    eprintln!("{why}");
                    return Ok(ExitCode::from(1));
                }
            };
            for path in crate::documents::forms::write_questionnaire(programme, &out)? {
                println!("{}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig => {
            println!("{}: valid", config.path.display());
            for programme in config.programmes.iter() {
                for w in programme.warnings() {
                    println!("warning: {}: {w}", programme.code);
                }
                println!("{}", programme.render_summary());
            }
            // Every template, with each programme's own folder over the
            // shared one, rendered with its sample as at the start.
            crate::context::Layers::load(&config.settings, &config.programmes)?;
            println!("Templates: checked");
            Ok(ExitCode::SUCCESS)
        }
        Command::Run => {
            // NOTE: before anything touches the database: a second daemon
            // must not migrate, send or move mail beside the first.
            // NOTE: listening first: the lock file names this process, and
            // a CLI command may send SIGUSR1 as soon as it does.
            let usr1 = startup::listen_for_wakeups()?;
            let lock = DatabaseLock::acquire(&config.settings.storage.database, "run")
                .context("postbote run refused")?;
            tracing::info!(lock = %lock.path().display(), "database lock taken");
            let app = App::build(config).await?;
            tokio::spawn(startup::forward_wakeups(usr1, app.clone()));
            let shutdown = CancellationToken::new();
            let signal = shutdown.clone();
            tokio::spawn(async move {
                if let Err(e) = startup::wait_for_signal().await {
                    tracing::error!(error = %e, "signal handling failed");
                }
                signal.cancel();
            });
            startup::run(app, shutdown).await.context("daemon failed")?;
            drop(lock);
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => ops::migrate(&config).await,
        Command::Backup { file } => ops::backup(&config, &file).await,
        Command::Status { json } => status::run(&config, json).await,
        Command::Applications {
            export: Some(_),
            action: Some(_),
            ..
        } => {
            eprintln!("--export writes the overview of all applications: give no subcommand");
            Ok(ExitCode::from(2))
        }
        Command::Applications {
            export: Some(file),
            programme,
            action: None,
            ..
        } => overview::export(&config, &file, programme.as_deref()).await,
        Command::Applications {
            json,
            programme,
            action: None,
            ..
        } => lists::applications(&config, json, programme.as_deref())
            .await
            .map(|_| ExitCode::SUCCESS),
        Command::Applications {
            json,
            action: Some(ApplicationsAction::Show { id }),
            ..
        } => lists::show_application(&config, &id, json).await,
        Command::Applications {
            action: Some(ApplicationsAction::Link { id, address }),
            ..
        } => staff::link_address(config, &id, &address).await,
        Command::Applications {
            action: Some(ApplicationsAction::Merge { dup, into }),
            ..
        } => staff::merge(config, &dup, &into).await,
        Command::Applications {
            action: Some(ApplicationsAction::Keep { id }),
            ..
        } => staff::keep(config, &id).await,
        Command::Applications {
            action: Some(ApplicationsAction::ConfirmAddress { id }),
            ..
        } => staff::decide_address(config, &id, true).await,
        Command::Applications {
            action: Some(ApplicationsAction::RejectAddress { id }),
            ..
        } => staff::decide_address(config, &id, false).await,
        Command::Messages { action } => match action {
            MessagesAction::List {
                failed,
                limit,
                json,
            } => messages::list(&config, failed, limit, json)
                .await
                .map(|_| ExitCode::SUCCESS),
            MessagesAction::Retry { id } => messages::retry(&config, id).await,
        },
        Command::Outbox { json, action } => match action {
            None => lists::outbox(&config, json)
                .await
                .map(|_| ExitCode::SUCCESS),
            Some(OutboxAction::Retry { id, .. }) => {
                lists::outbox_retry(&config, id.map_or(Pick::AllFailed, Pick::One)).await
            }
            Some(OutboxAction::Ack { id, .. }) => {
                lists::outbox_ack(&config, id.map_or(Pick::AllFailed, Pick::One)).await
            }
        },
        Command::Plan {
            json,
            all,
            programme,
        } => plan::run(config, json, all, programme.as_deref()).await,
        Command::Interviews { programme, action } => match action {
            InterviewsAction::Plan { json } => staff::plan(config, json, programme).await,
            InterviewsAction::Release => staff::release_invitations(config, programme).await,
            InterviewsAction::Move {
                reference,
                date,
                time,
            } => staff::move_interview(config, &reference, &date, &time).await,
            InterviewsAction::Cancel { reference } => {
                staff::cancel_interview(config, &reference).await
            }
        },
        Command::Decisions { programme, action } => match action {
            DecisionsAction::List { json } => staff::list_decisions(config, json).await,
            DecisionsAction::Set {
                reference,
                outcome,
                persons,
                correction,
            } => staff::decide(config, &reference, &outcome, persons, correction).await,
            DecisionsAction::Preview { json } => {
                staff::preview_notices(config, json, programme).await
            }
            DecisionsAction::Release { yes } => {
                staff::release_notices(config, yes, programme).await
            }
        },
        Command::Participants { action } => match action {
            ParticipantsAction::List { json } => staff::list_participants(config, json).await,
            ParticipantsAction::Import { file, programme } => {
                staff::import_participants(config, &file, programme).await
            }
            ParticipantsAction::Welcome { programme } => {
                welcome::welcome(config, programme.as_deref()).await
            }
        },
        Command::Forget { target, yes } => privacy::forget(&config, &target, yes).await,
        Command::Export { reference, out } => privacy::export(&config, &reference, &out).await,
        Command::Demo { .. } => Ok(ExitCode::SUCCESS),
    }
}
