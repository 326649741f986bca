//! One stored message, processed in one transaction: classification, the
//! workflow's state change, its outbox rows and the message's new state.

use super::bounce::{self, Bounce};
use super::classify::Rules;
use super::route::{self, Route};
use super::{Class, Incoming, classify};
use crate::config::settings::SourceKind;
use crate::context::App;
use crate::documents::Limits;
use crate::documents::analyse::{Analysis, analyse_message, test_delay, whole_mail_problem};
use crate::documents::isolate::run_isolated;
use crate::store::bounces::{self, NewBounce};
use crate::store::messages::{self, Handled, MessageState};
use crate::store::outbox::{self, Purpose};
use crate::store::{parse_ts, transient};
use crate::workflow::commands::auth::{Policy, dmarc_failed};
use crate::workflow::commands::execute;
use crate::workflow::{applications, notices, replies};
use anyhow::Context;
use chrono::Utc;
use futures::FutureExt;
use std::panic::AssertUnwindSafe;
use tracing::Instrument;

/// What to do with the message in the mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Handled: move it to the processed folder.
    Move,
    /// postbote's own copy of a mail it sent to someone else: file it into
    /// the sent folder (where there is one; else it stays).
    Sent,
    /// Not understood, or for a human: leave it where staff see it.
    Keep,
    /// A command mail that carried the secret: delete it from the mailbox
    /// (`\Deleted` + `UID EXPUNGE`); the store keeps it masked.
    Delete,
    /// Processing failed and will be retried: not done yet.
    Pending,
}

impl Disposition {
    /// Reads the stored disposition; anything but "move" and "sent" keeps the mail.
    pub fn from_db(s: Option<&str>) -> Disposition {
        match s {
            Some("move") => Disposition::Move,
            Some("sent") => Disposition::Sent,
            Some("delete") => Disposition::Delete,
            _ => Disposition::Keep,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Disposition::Move => "move",
            Disposition::Sent => "sent",
            Disposition::Delete => "delete",
            Disposition::Keep | Disposition::Pending => "keep",
        }
    }
}

/// The longest the documents of one mail may take to read.
pub const ANALYSIS_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

/// Attempts before a message that keeps failing is marked `failed` for staff.
pub const MAX_ATTEMPTS: i64 = 5;

/// Why [`process`] could not even record the outcome of a message.
///
/// Failures of the message itself (an error in the workflow, a panic) are
/// not returned: they are recorded on the message as an attempt.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The store is busy, locked, full or failing I/O ([`transient`]):
    /// nothing was counted against the message, which stays `received`.
    /// Retry the sweep with backoff.
    #[error("storage unavailable: {0:#}")]
    Transient(anyhow::Error),
    /// Any other storage error.
    #[error("{0:#}")]
    Storage(anyhow::Error),
}

impl ProcessError {
    fn storage(e: anyhow::Error) -> ProcessError {
        if transient::is_transient(&e) {
            ProcessError::Transient(e)
        } else {
            ProcessError::Storage(e)
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, ProcessError::Transient(_))
    }
}

/// Runs `fut`, turning a panic inside it into `Err(message)`.
///
/// NOTE: relies on `panic = "unwind"` (the default; see `documents::isolate`).
/// Whatever the future held is dropped while unwinding: an open
/// transaction is rolled back, a connection is given back to the pool.
pub async fn guarded<F: Future>(fut: F) -> Result<F::Output, String> {
    AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .map_err(|payload| panic_message(payload.as_ref()))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// Debug builds only (`debug_assertions`, never a `--release` build): a mail
/// with this header panics in the middle of its processing, inside the
/// workflow's transaction, for as long as the file it names exists and is
/// called `postbote-debug-panic…`. The daemon tests use it to show that a
/// panic counts as an attempt and that `postbote messages retry` works once
/// the cause is gone (the file removed). Release builds ignore the header.
pub const DEBUG_PANIC_HEADER: &str = "X-Postbote-Debug-Panic-While";

#[cfg(debug_assertions)]
fn debug_panic(mail: &Incoming) {
    let Some(path) = mail.header(DEBUG_PANIC_HEADER).map(str::trim) else {
        return;
    };
    let path = std::path::Path::new(path);
    let named = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("postbote-debug-panic"));
    if named && path.exists() {
        panic!("{DEBUG_PANIC_HEADER}: {} exists", path.display());
    }
}

/// Processes stored message `row` unless that already happened.
///
/// An error or a panic while handling the message counts as an attempt: it
/// is recorded on the message, which is retried and after [`MAX_ATTEMPTS`]
/// marked `failed` with a notice to staff. A transient storage error counts
/// nothing and is returned as [`ProcessError::Transient`]; other storage
/// errors (recording the outcome failed) as [`ProcessError::Storage`].
pub async fn process(app: &App, row: i64) -> Result<Disposition, ProcessError> {
    let step = prepare(app, row).await?;
    finish(app, step).await
}

/// Processes `rows` in their order, reading up to `parallel` of them at
/// once ([`read_mail`] on the blocking pool: the parse, the class and the
/// documents) while the earlier ones are committed one by one. Every
/// row's transaction commits in the order of `rows`, as [`process`] would.
/// Stops at the first storage error (the rows after it stay `received`).
pub async fn process_many(
    app: &App,
    rows: &[i64],
    parallel: usize,
) -> Result<Vec<Disposition>, ProcessError> {
    let mut out = Vec::with_capacity(rows.len());
    let mut reading = std::collections::VecDeque::new();
    for &row in rows {
        reading.push_back(prepare(app, row).await?);
        if reading.len() >= parallel.max(1)
            && let Some(step) = reading.pop_front()
        {
            out.push(finish(app, step).await?);
        }
    }
    while let Some(step) = reading.pop_front() {
        out.push(finish(app, step).await?);
    }
    Ok(out)
}

/// A stored message on its way through [`process`].
pub enum Step {
    /// Handled before: nothing to do but file it.
    Done(Disposition),
    /// Being read on the blocking pool ([`read_mail`]).
    Reading {
        row: i64,
        /// Without its bytes: they went to the reader.
        loaded: Box<messages::Loaded>,
        read: tokio::task::JoinHandle<Read>,
    },
}

/// What is read from a mail before its transaction, all from one parse.
#[derive(Default)]
pub struct Read {
    pub incoming: Option<Incoming>,
    pub class: Option<Class>,
    /// The documents: read only for an application that is not a copy.
    pub analysis: Analysis,
    /// The delivery report of an automatic mail, if it is one.
    pub bounce: Option<Bounce>,
}

/// Loads the message and starts reading it. A copy (the same Message-ID
/// from the same sender as an earlier message) is parsed, but its
/// documents are not read.
async fn prepare(app: &App, row: i64) -> Result<Step, ProcessError> {
    let mut loaded = messages::load(&app.store, row)
        .await
        .map_err(ProcessError::storage)?;
    if loaded.state != MessageState::Received {
        return Ok(Step::Done(Disposition::from_db(
            loaded.disposition.as_deref(),
        )));
    }
    let copy = match &loaded.message_id {
        Some(id) => messages::seen_before(&app.store, row, id, loaded.from_address.as_deref())
            .await
            .map_err(ProcessError::storage)?,
        None => false,
    };
    let raw = std::mem::take(&mut loaded.raw);
    let rules = app.rules.clone();
    let read = tokio::task::spawn_blocking(move || read_mail(raw, &rules, !copy));
    Ok(Step::Reading {
        row,
        loaded: Box::new(loaded),
        read,
    })
}

/// Parses a raw mail once and reads from that one parse its header facts,
/// its class and (for an application, when `documents`) its documents; a
/// bounce's delivery report besides. Runs on its own thread with
/// [`ANALYSIS_BUDGET`] ([`crate::documents::isolate`]): no parser can hang
/// the intake. Past the budget or after a panic, the header facts are
/// parsed again here and the documents are reported as unreadable.
pub fn read_mail(raw: Vec<u8>, rules: &Rules, documents: bool) -> Read {
    let raw = std::sync::Arc::new(raw);
    let (job_raw, job_rules) = (raw.clone(), rules.clone());
    let delay = test_delay();
    let job = move || {
        let Some(msg) = mail_parser::MessageParser::default().parse(&job_raw[..]) else {
            return Ok(Read::default());
        };
        let incoming = Incoming::from_message(&msg);
        let class = classify(&incoming, &job_rules);
        let analysis = if documents && class == Class::Application {
            if let Some(d) = delay {
                std::thread::sleep(d);
            }
            analyse_message(&msg, job_raw.len(), &Limits::default())
        } else {
            Analysis::default()
        };
        let bounce = match class {
            Class::Automatic(_) => bounce::parse(&job_raw),
            _ => None,
        };
        Ok(Read {
            incoming: Some(incoming),
            class: Some(class),
            analysis,
            bounce,
        })
    };
    match run_isolated(ANALYSIS_BUDGET, job) {
        Ok(read) => read,
        Err(e) => {
            tracing::error!(error = %e, "reading the mail did not finish; its documents are left for a human");
            let incoming = Incoming::parse(&raw);
            let class = incoming.as_ref().and_then(|m| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| classify(m, rules))).ok()
            });
            let analysis = if documents && class == Some(Class::Application) {
                whole_mail_problem(&e.to_string())
            } else {
                Analysis::default()
            };
            Read {
                incoming,
                class,
                analysis,
                bounce: None,
            }
        }
    }
}

/// Waits for the reading of a prepared message and acts on it in one
/// transaction; records a failure as an attempt (see [`process`]).
async fn finish(app: &App, step: Step) -> Result<Disposition, ProcessError> {
    let (row, loaded, read) = match step {
        Step::Done(d) => return Ok(d),
        Step::Reading { row, loaded, read } => (row, loaded, read.await),
    };
    let messages::Loaded {
        internal_date,
        retries,
        secret_verified,
        programme: routed,
        ..
    } = *loaded;
    let received = parse_ts(&internal_date).unwrap_or_else(Utc::now);
    let (read, failed) = match read {
        Ok(read) => (read, None),
        Err(e) => (
            Read::default(),
            Some(format!("panic while reading the mail: {e}")),
        ),
    };
    let incoming = read.incoming.as_ref();
    let span = tracing::info_span!(
        "message",
        row,
        message_id = incoming
            .and_then(|m| m.message_id.as_deref())
            .unwrap_or("-"),
        application = tracing::field::Empty,
    );
    let result = match failed {
        Some(e) => Err(e),
        None => guarded(
            handle(
                app,
                row,
                &read,
                Arrived {
                    received,
                    secret_verified,
                    routed: routed.as_deref(),
                },
            )
            .instrument(span.clone()),
        )
        .await
        .map_err(|panic| format!("panic while processing: {panic}")),
    };
    let error = match result {
        Ok(Ok(d)) => {
            app.outbox_signal.notify_one();
            return Ok(d);
        }
        Ok(Err(e)) if transient::is_transient(&e) => {
            let error = format!("{e:#}");
            span.in_scope(|| {
                tracing::warn!(error = %error, "storage unavailable: not counted, retried later")
            });
            return Err(ProcessError::Transient(e));
        }
        Ok(Err(e)) => format!("{e:#}"),
        Err(panic) => panic,
    };
    span.in_scope(|| tracing::error!(error = %error, "processing failed"));
    let state = messages::set_error(&app.store, row, &error, MAX_ATTEMPTS)
        .await
        .map_err(ProcessError::storage)?;
    if state != MessageState::Failed {
        return Ok(Disposition::Pending);
    }
    let notice = async {
        let mut tx = app.store.begin().await?;
        notices::processing_failed(
            &app.desk(),
            &mut tx,
            row,
            retries,
            incoming,
            received,
            &error,
        )
        .await?;
        tx.commit().await.context("cannot queue failure notice")
    };
    notice.await.map_err(ProcessError::storage)?;
    app.outbox_signal.notify_one();
    Ok(Disposition::Keep)
}

/// What the store knows of a message besides its bytes.
struct Arrived<'a> {
    /// INTERNALDATE.
    received: chrono::DateTime<Utc>,
    secret_verified: bool,
    /// The programme staff routed it to (`ZUORDNEN`).
    routed: Option<&'a str>,
}

async fn handle(
    app: &App,
    row: i64,
    read: &Read,
    arrived: Arrived<'_>,
) -> anyhow::Result<Disposition> {
    let Arrived {
        received,
        secret_verified,
        routed,
    } = arrived;
    let Read {
        incoming,
        class,
        analysis,
        bounce,
    } = read;
    let (incoming, class) = (incoming.as_ref(), class.clone());
    let mut tx = app.store.begin().await?;
    #[cfg(debug_assertions)]
    if let Some(mail) = incoming {
        debug_panic(mail);
    }
    let (Some(mail), Some(class)) = (incoming, class) else {
        let h = Handled {
            state: MessageState::Processed,
            class: "other",
            reason: "not a parseable mail",
            disposition: "keep",
            application_id: None,
            duplicate_of: None,
        };
        messages::set_handled(&mut tx, row, &h).await?;
        tx.commit().await?;
        tracing::warn!("unparseable mail left in the mailbox for staff");
        return Ok(Disposition::Keep);
    };
    // NOTE: the same Message-ID from another sender is not a copy: another
    // municipality's mail program may have made the same one.
    if let Some(id) = &mail.message_id
        && let Some((original, disposition)) =
            messages::earlier_with_message_id(&mut tx, row, id, mail.from_raw.as_deref()).await?
    {
        let d = Disposition::from_db(disposition.as_deref());
        let h = Handled {
            state: MessageState::Duplicate,
            class: "duplicate",
            reason: "Message-ID seen before from the same sender",
            disposition: d.as_str(),
            application_id: None,
            duplicate_of: Some(original),
        };
        messages::set_handled(&mut tx, row, &h).await?;
        tx.commit().await?;
        tracing::info!(original, "duplicate Message-ID: not acted on again");
        return Ok(d);
    }
    // NOTE: replies to invitations and notices come from applicants and may
    // carry attachments; they are for staff, not a follow-up application.
    let reply = match &class {
        Class::Application | Class::Other(_) => match replies::parent(&mut tx, mail).await? {
            Some(p) => Some(p),
            None if mail.calendar_reply => Some((Purpose::InterviewInvitation, None)),
            None => replies::absence_from_participant(&mut tx, mail).await?,
        },
        _ => None,
    };
    if let Some((purpose, application_id)) = reply {
        let programme =
            match route::named_application(&app.programmes, &mut tx, mail, application_id, &[])
                .await?
            {
                Some(p) => Some(p),
                None => route::roster_of_sender(&app.programmes, &mut tx, mail).await?,
            };
        let desk = programme.map_or_else(|| app.desk(), |p| app.desk_for(p));
        replies::bring_to_staff(&desk, &mut tx, row, mail, purpose, application_id).await?;
        let h = Handled {
            state: MessageState::Processed,
            class: "reply",
            reason: "reply to an invitation or notice: brought to staff",
            disposition: Disposition::Keep.as_str(),
            application_id,
            duplicate_of: None,
        };
        messages::set_handled(&mut tx, row, &h).await?;
        tx.commit().await.context("cannot commit reply")?;
        tracing::info!(%purpose, "reply brought to staff");
        return Ok(Disposition::Keep);
    }
    if class == Class::Staff
        && let Some(parsed) = execute::command_mail(mail)
    {
        let arrival = execute::Arrival {
            received,
            secret_verified,
            now: app.clock.now(),
        };
        // The programme of the first application a command names (or of
        // the thread it answers); else the first programme's desk.
        let named: Vec<&str> = parsed
            .commands
            .iter()
            .filter_map(|c| c.reference())
            .collect();
        let programme =
            route::named_application(&app.programmes, &mut tx, mail, None, &named).await?;
        let desk = programme.map_or_else(|| app.desk(), |p| app.desk_for(p));
        let delete = execute::handle(&desk, &mut tx, row, mail, &parsed, arrival).await?;
        // A mail that carried the secret (or commanded postbote) is deleted
        // from the mailbox, which every mailbox reader sees; the store keeps
        // it masked.
        let disposition = if delete {
            Disposition::Delete
        } else {
            Disposition::Move
        };
        let h = Handled {
            state: MessageState::Processed,
            class: "command",
            reason: "staff command mail",
            disposition: disposition.as_str(),
            application_id: None,
            duplicate_of: None,
        };
        messages::set_handled(&mut tx, row, &h).await?;
        tx.commit().await.context("cannot commit staff command")?;
        // A confirmed or cancelled event: tell people now, not in a minute.
        app.scheduler_signal.notify_one();
        return Ok(disposition);
    }
    if class == Class::Application && dmarc_failed(mail, &Policy::of(&app.settings.staff)) {
        notices::dmarc_failed(&app.desk(), &mut tx, row, mail, received).await?;
        let h = Handled {
            state: MessageState::Processed,
            class: "application",
            reason: "dmarc=fail from the trusted MTA: not confirmed, kept for staff",
            disposition: Disposition::Keep.as_str(),
            application_id: None,
            duplicate_of: None,
        };
        messages::set_handled(&mut tx, row, &h).await?;
        tx.commit().await.context("cannot commit DMARC failure")?;
        tracing::warn!(
            "application failed DMARC at the trusted MTA: kept for staff, not confirmed"
        );
        return Ok(Disposition::Keep);
    }
    let route = match class {
        Class::Application => Some(
            route::application(&app.programmes, &mut tx, mail, analysis, received, routed).await?,
        ),
        _ => None,
    };
    if let Some(Route::Ambiguous(open)) = &route {
        applications::unrouted(&app.desk(), &mut tx, row, mail, received, open).await?;
        let h = Handled {
            state: MessageState::Processed,
            class: messages::UNROUTED_CLASS,
            reason: messages::UNROUTED_REASON,
            disposition: Disposition::Keep.as_str(),
            application_id: None,
            duplicate_of: None,
        };
        messages::set_handled(&mut tx, row, &h).await?;
        tx.commit()
            .await
            .context("cannot commit unrouted application")?;
        tracing::warn!(
            open = open.len(),
            "application names no programme while several calls are open: put to staff"
        );
        return Ok(Disposition::Keep);
    }
    let (disposition, application_id) = match &class {
        Class::Application => {
            let programme = match route {
                Some(Route::To(p)) => p,
                // NOTE: an ambiguous one returned above.
                _ => app.programmes.first(),
            };
            let desk = app.desk_for(programme);
            let id = applications::receive(&desk, &mut tx, row, mail, received, analysis).await?;
            (Disposition::Move, Some(id))
        }
        Class::Automatic(reason) => {
            tracing::info!(%reason, "automatic mail: recorded, never answered");
            if let Some(b) = bounce {
                let matched = record_bounce(&mut tx, row, b).await?;
                tracing::warn!(
                    matched,
                    recipients = b.recipients.len(),
                    "bounce recorded for the digest"
                );
            }
            (Disposition::Move, None)
        }
        Class::Own(reason) => {
            let copy = match &mail.message_id {
                Some(id) => outbox::by_message_id(&mut tx, id)
                    .await?
                    .filter(|o| !app.settings.is_own_address(&o.env_to)),
                None => None,
            };
            let filed = app.settings.mailbox.source == SourceKind::Imap
                && app
                    .settings
                    .imap
                    .as_ref()
                    .is_some_and(|i| !i.sent_folder.is_empty());
            if let Some(sent) = copy.filter(|_| filed) {
                tracing::info!(outbox = sent.id, %reason, "our copy of a sent mail: filed, never answered");
                (Disposition::Sent, None)
            } else {
                tracing::info!(%reason, "our own mail: left for staff, never answered");
                (Disposition::Keep, None)
            }
        }
        Class::Staff | Class::Other(_) => (Disposition::Keep, None),
    };
    let h = Handled {
        state: MessageState::Processed,
        class: class.name(),
        reason: class.reason(),
        disposition: disposition.as_str(),
        application_id,
        duplicate_of: None,
    };
    messages::set_handled(&mut tx, row, &h).await?;
    tx.commit()
        .await
        .context("cannot commit processed message")?;
    tracing::info!(
        class = class.name(),
        disposition = disposition.as_str(),
        "message processed"
    );
    Ok(disposition)
}

/// Stores a bounce's failed recipients, matched to the outbox row it
/// concerns by the original Message-ID; returns how many rows matched.
async fn record_bounce(
    tx: &mut crate::store::Tx<'_>,
    row: i64,
    b: &Bounce,
) -> anyhow::Result<usize> {
    let mut outbox_id: Option<i64> = None;
    for id in &b.original_message_ids {
        outbox_id = outbox::by_message_id(tx, id).await?.map(|m| m.id);
        if outbox_id.is_some() {
            break;
        }
    }
    let mut matched = 0;
    for r in b.recipients.iter().filter(|r| r.action == "failed") {
        let bounce = NewBounce {
            message_row: row,
            outbox_id,
            address: &r.address,
            action: &r.action,
            status: r.status.as_deref(),
            diagnostic: r.diagnostic.as_deref(),
        };
        bounces::record(tx, &bounce).await?;
        if let Some(id) = outbox_id {
            outbox::mark_bounced(tx, id).await?;
            matched += 1;
        }
    }
    Ok(matched)
}

#[cfg(test)]
mod tests {
    use super::{DEBUG_PANIC_HEADER, Disposition, MAX_ATTEMPTS, ProcessError, process};
    use crate::context::testing;
    use crate::store::messages::{self, Location, MessageState, Retry, Summary};
    use crate::store::outbox::{self, Purpose};
    use chrono::Utc;
    use sqlx::Connection;

    fn application(from: &str, message_id: &str, extra: &str) -> String {
        format!(
            "From: Kommune <{from}>\r\nTo: projekt@ews.test\r\nSubject: Bewerbung EWS 7\r\n\
             Message-ID: <{message_id}>\r\n{extra}\r\nAnbei unsere Bewerbung.\r\n"
        )
    }

    async fn state_of(app: &crate::context::App, row: i64) -> (MessageState, i64) {
        sqlx::query_as("SELECT state, attempts FROM messages WHERE id = ?")
            .bind(row)
            .fetch_one(app.store.pool())
            .await
            .unwrap()
    }

    async fn count(app: &crate::context::App, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(app.store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_panic_counts_as_an_attempt_and_a_retried_message_is_processed_once_its_cause_is_gone()
     {
        let dir = tempfile::tempdir().unwrap();
        let app = testing::app(dir.path()).await;
        let cause = dir.path().join("postbote-debug-panic-1");
        std::fs::write(&cause, "").unwrap();
        let header = format!("{DEBUG_PANIC_HEADER}: {}\r\n", cause.display());
        let row = stored(
            &app,
            "1",
            &application("amt@stadt.test", "p1@stadt.test", &header),
        )
        .await;

        // Every attempt panics inside the workflow's transaction.
        for attempt in 1..MAX_ATTEMPTS {
            assert_eq!(process(&app, row).await.unwrap(), Disposition::Pending);
            assert_eq!(state_of(&app, row).await, (MessageState::Received, attempt));
        }
        assert_eq!(process(&app, row).await.unwrap(), Disposition::Keep);
        assert_eq!(
            state_of(&app, row).await,
            (MessageState::Failed, MAX_ATTEMPTS)
        );
        let error: String = sqlx::query_scalar("SELECT error FROM messages WHERE id = ?")
            .bind(row)
            .fetch_one(app.store.pool())
            .await
            .unwrap();
        assert!(error.starts_with("panic while processing"), "{error}");
        // Rolled back: no application, no confirmation; one notice to staff.
        assert_eq!(count(&app, "SELECT COUNT(*) FROM applications").await, 0);
        let queued = outbox::list(&app.store).await.unwrap();
        assert_eq!(queued.len(), 1, "{queued:?}");
        assert_eq!(queued[0].purpose, Purpose::StaffProcessingFailed);
        let notice = String::from_utf8_lossy(&outbox::raw(&app.store, queued[0].id).await.unwrap())
            .into_owned();
        assert!(
            notice.contains(&format!("postbote messages retry {row}")),
            "{notice}"
        );

        // Retried while the cause is still there: it fails again, and staff
        // hear of it again.
        assert_eq!(
            messages::retry(&app.store, row).await.unwrap(),
            Retry::Requeued { moves_cleared: 0 }
        );
        assert_eq!(state_of(&app, row).await, (MessageState::Received, 0));
        for _ in 0..MAX_ATTEMPTS {
            process(&app, row).await.unwrap();
        }
        assert_eq!(state_of(&app, row).await.0, MessageState::Failed);
        assert_eq!(outbox::list(&app.store).await.unwrap().len(), 2);

        // The cause is gone: one retry, processed, confirmed once.
        std::fs::remove_file(&cause).unwrap();
        messages::retry(&app.store, row).await.unwrap();
        assert_eq!(process(&app, row).await.unwrap(), Disposition::Move);
        assert_eq!(state_of(&app, row).await, (MessageState::Processed, 0));
        assert_eq!(count(&app, "SELECT COUNT(*) FROM applications").await, 1);
        assert_eq!(
            messages::retry(&app.store, row).await.unwrap(),
            Retry::NotFailed(MessageState::Processed)
        );
        assert_eq!(
            messages::retry(&app.store, row + 100).await.unwrap(),
            Retry::NoSuchMessage
        );
        let retried: i64 = sqlx::query_scalar("SELECT retries FROM messages WHERE id = ?")
            .bind(row)
            .fetch_one(app.store.pool())
            .await
            .unwrap();
        assert_eq!(retried, 2);
    }

    #[tokio::test]
    async fn a_busy_database_counts_nothing_against_the_message_and_an_error_of_its_data_does() {
        let dir = tempfile::tempdir().unwrap();
        let busy = std::time::Duration::from_millis(200);
        let app = testing::app_with_busy_timeout(dir.path(), busy).await;
        let row = stored(
            &app,
            "1",
            &application("amt@stadt.test", "b1@stadt.test", ""),
        )
        .await;

        // Another connection holds the write lock past the busy timeout.
        let db = dir.path().join("db.sqlite");
        let mut holder = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut holder)
            .await
            .unwrap();
        for _ in 0..(MAX_ATTEMPTS + 2) {
            let e = process(&app, row).await.unwrap_err();
            assert!(matches!(e, ProcessError::Transient(_)), "{e}");
            assert!(e.to_string().contains("database is locked"), "{e}");
        }
        sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
        assert_eq!(state_of(&app, row).await, (MessageState::Received, 0));
        assert_eq!(process(&app, row).await.unwrap(), Disposition::Move);
        assert_eq!(state_of(&app, row).await, (MessageState::Processed, 0));

        // A write the database refuses for this mail's data is an attempt.
        sqlx::query(
            "CREATE TRIGGER refuse BEFORE INSERT ON applications \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        )
        .execute(&mut holder)
        .await
        .unwrap();
        let row = stored(&app, "2", &application("rat@dorf.test", "b2@dorf.test", "")).await;
        assert_eq!(process(&app, row).await.unwrap(), Disposition::Pending);
        assert_eq!(state_of(&app, row).await, (MessageState::Received, 1));
    }

    #[tokio::test]
    async fn the_same_message_id_from_another_sender_is_its_own_application() {
        let dir = tempfile::tempdir().unwrap();
        let app = testing::app(dir.path()).await;
        let id = "0001@outlook.invalid";
        let a = stored(&app, "1", &application("amt@stadt.test", id, "")).await;
        let b = stored(&app, "2", &application("rat@dorf.test", id, "")).await;
        // A re-delivered copy of A (other bytes: a relay added a header).
        let again = application("AMT@stadt.test", id, "X-Relay: mx2\r\n");
        let c = stored(&app, "3", &again).await;
        for row in [a, b, c] {
            assert_eq!(process(&app, row).await.unwrap(), Disposition::Move);
        }
        assert_eq!(count(&app, "SELECT COUNT(*) FROM applications").await, 2);
        assert_eq!(state_of(&app, b).await.0, MessageState::Processed);
        assert_eq!(state_of(&app, c).await.0, MessageState::Duplicate);
        let confirmations = outbox::list(&app.store)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.purpose.as_str().starts_with("confirmation"))
            .count();
        assert_eq!(confirmations, 2);
    }

    async fn stored(app: &crate::context::App, uid: &str, raw: &str) -> i64 {
        let loc = Location {
            source: "imap",
            folder: "INBOX".into(),
            validity: 1,
            uid: uid.into(),
        };
        // As the worker stores it: the header facts read first.
        let summary = crate::intake::Incoming::parse(raw.as_bytes())
            .map(|m| Summary {
                message_id: m.message_id,
                from_address: m.from_raw,
                subject: Some(m.subject),
                secret_verified: false,
            })
            .unwrap_or_default();
        messages::store_incoming(&app.store, &loc, raw.as_bytes(), Utc::now(), &summary)
            .await
            .unwrap()
            .row()
    }

    #[tokio::test]
    async fn our_own_mail_stays_unanswered_and_a_colleague_from_the_domain_is_a_person() {
        let dir = tempfile::tempdir().unwrap();
        let app = testing::app(dir.path()).await;
        let id = "0123456789abcdef0123456789abcdef.postbote@ews.test";
        let token = app.mailer.composer().loop_key().header_value(id);
        let digest = format!(
            "From: Projektteam <projekt@ews.test>\r\nTo: projekt@ews.test\r\n\
             Subject: Übersicht\r\nMessage-ID: <{id}>\r\n\
             Auto-Submitted: auto-generated\r\nX-Postbote-Loop: {token}\r\n\r\nPLAN\r\n"
        );
        let row = stored(&app, "1", &digest).await;
        assert_eq!(process(&app, row).await.unwrap(), Disposition::Keep);
        let question = "From: Kollegin <kollegin@ews.test>\r\nTo: projekt@ews.test\r\n\
                        Subject: Frage zum Modul 2\r\nMessage-ID: <4b1e-77@ews.test>\r\n\r\nWo?\r\n";
        let row = stored(&app, "2", question).await;
        assert_eq!(process(&app, row).await.unwrap(), Disposition::Keep);
        let by_class = messages::counts(&app.store).await.unwrap();
        assert_eq!(
            by_class,
            [
                ("processed/other".to_string(), 1),
                ("processed/own".to_string(), 1)
            ]
        );
        let queued = outbox::list(&app.store).await.unwrap();
        assert!(queued.is_empty(), "nothing answers either: {queued:?}");
    }
}
