//! Retention and erasure (GDPR Art. 5(1)(e), 17): the daily retention run
//! (`[retention]`), `postbote forget` and the staff command `LÖSCHEN`.
//!
//! An erasure deletes the mailbox copies first (the watched folder, the
//! processed folder and the sent folder, by Message-ID), then the rows in
//! one transaction ([`crate::store::retention::erase`]), then checkpoints
//! the WAL. When the mailbox cannot be reached nothing is deleted and the
//! erasure is tried again (the retention run at the next pass).

pub mod export;
pub mod requests;

use crate::config::Programmes;
use crate::config::programme::Programme;
use crate::config::settings::{Settings, SourceKind};
use crate::store::retention::{self, Counts, Reason, Selection, Subject};
use crate::store::{Store, health, ts};
use anyhow::Context;
use chrono::{DateTime, Duration, Months, Utc};

/// The day (UTC, `YYYY-MM-DD`) of the last completed retention run.
pub const RETENTION_DAY: &str = "retention.last_day";

/// The strings that tie a stored mail to an application: its reference,
/// the applicant's address, the municipality (when it is long enough not to
/// be part of other words by chance).
fn needles(s: &Subject) -> Vec<String> {
    let mut v = vec![s.reference.to_lowercase(), s.applicant.to_lowercase()];
    if let Some(m) = s.municipality.as_deref().map(str::trim)
        && m.chars().count() >= 4
    {
        v.push(m.to_lowercase());
    }
    v
}

/// Whether a mail names one of `needles`: in its raw bytes or in its
/// decoded subject, text parts and attachment names.
fn names(raw: &[u8], needles: &[String]) -> bool {
    if needles.is_empty() {
        return false;
    }
    let lower = String::from_utf8_lossy(raw).to_lowercase();
    if needles.iter().any(|n| lower.contains(n.as_str())) {
        return true;
    }
    let Some(msg) = mail_parser::MessageParser::default().parse(raw) else {
        return false;
    };
    let mut text = String::new();
    if let Some(s) = msg.subject() {
        text.push_str(s);
    }
    for i in 0..msg.text_body.len() + msg.html_body.len() {
        if let Some(t) = msg.body_text(i) {
            text.push('\n');
            text.push_str(&t);
        }
    }
    for part in msg.parts.iter() {
        if let Some(t) = part.text_contents() {
            text.push('\n');
            text.push_str(t);
        }
    }
    let text = text.to_lowercase();
    needles.iter().any(|n| text.contains(n.as_str()))
}

/// Everything stored about the applications `subjects` (and, for a person,
/// about `address`): rows tied by key, and every stored mail (incoming, sent,
/// the copies of sent mail) that names one of them.
async fn select(
    store: &Store,
    subjects: &[Subject],
    address: Option<&str>,
) -> anyhow::Result<Selection> {
    // An application merged into one of them goes with it: its archived row
    // still names the duplicate's sender and municipality.
    let mut subjects = subjects.to_vec();
    let ids: Vec<i64> = subjects.iter().map(|s| s.id).collect();
    subjects.extend(retention::merged_into(store, &ids).await?);
    let subjects = subjects.as_slice();
    let apps: Vec<i64> = subjects.iter().map(|s| s.id).collect();
    let mut sel = retention::tied_to(store, &apps).await?;
    let mut needles: Vec<String> = subjects.iter().flat_map(needles).collect();
    if let Some(a) = address {
        sel.extend(retention::tied_to_address(store, a).await?);
        needles.push(a.to_string());
    }
    for s in subjects {
        sel.addresses.push(s.applicant.clone());
    }
    let named = retention::scan_outbox(store, &sel.outbox, |raw| names(raw, &needles)).await?;
    sel.extend(Selection {
        outbox: named,
        ..Selection::default()
    });
    let copies = retention::copies_of(store, &sel.outbox).await?;
    sel.extend(Selection {
        messages: copies,
        ..Selection::default()
    });
    let named =
        retention::scan_messages(store, &sel.messages, |_, raw| names(raw, &needles)).await?;
    sel.extend(Selection {
        messages: named,
        ..Selection::default()
    });
    Ok(sel)
}

/// What `forget TARGET` erases: one application by reference, or one person
/// by address (every application they sent, the roster rows, the mail to
/// and from them). None when nothing is stored about it.
pub async fn select_forget(
    store: &Store,
    target: &str,
) -> anyhow::Result<Option<(Selection, Vec<String>)>> {
    let target = target.trim();
    let (subjects, address) = if target.contains('@') {
        let address = target.to_lowercase();
        let subjects = retention::applications_by_applicant(store, &address).await?;
        (subjects, Some(address))
    } else {
        match retention::application_by_reference(store, target).await? {
            Some(s) => (vec![s], None),
            None => return Ok(None),
        }
    };
    let sel = select(store, &subjects, address.as_deref()).await?;
    if sel.is_empty() {
        return Ok(None);
    }
    let refs = subjects.iter().map(|s| s.reference.clone()).collect();
    Ok(Some((sel, refs)))
}

/// The end of the programme's last event (module day or learning group).
pub fn programme_end(programme: &Programme) -> Option<DateTime<Utc>> {
    let modules = programme
        .modules
        .iter()
        .flat_map(|m| m.days.iter().map(|d| d.end.with_timezone(&Utc)));
    let groups = programme
        .learning_groups
        .iter()
        .map(|g| g.slot.end.with_timezone(&Utc));
    modules.chain(groups).max()
}

fn months_before(clock: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    clock
        .checked_sub_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// What the policy says is due at `clock`.
pub async fn select_due(
    store: &Store,
    settings: &Settings,
    programmes: &Programmes,
    clock: DateTime<Utc>,
) -> anyhow::Result<Selection> {
    let r = &settings.retention;
    let mut apps = Vec::new();
    if r.not_selected_months > 0 {
        let before = ts(months_before(clock, r.not_selected_months));
        apps.extend(retention::not_selected_before(store, &before).await?);
    }
    if r.undecided_months > 0 {
        let before = ts(months_before(clock, r.undecided_months));
        apps.extend(retention::undecided_before(store, &before).await?);
    }
    // Each programme's cohort: kept until `participants_months` after THAT
    // programme's last event.
    let mut participants = Vec::new();
    for programme in programmes.iter() {
        if r.participants_months > 0
            && let Some(end) = programme_end(programme)
            && end
                .checked_add_months(Months::new(r.participants_months))
                .is_some_and(|due| due <= clock)
        {
            let (accepted, rows) = retention::cohort(store, &programme.code).await?;
            apps.extend(accepted);
            participants.extend(rows);
        }
    }
    participants.sort();
    participants.dedup();
    apps.sort();
    apps.dedup();
    // What goes with a due application is what `forget` would erase of it:
    // the rows tied by key, and every stored mail that names it (the copies
    // of the mail sent to it, staff notices about it), not only the rows
    // that carry its id.
    let subjects = retention::applications_by_ids(store, &apps).await?;
    let mut sel = if subjects.is_empty() {
        Selection::default()
    } else {
        select(store, &subjects, None).await?
    };
    let addresses = if participants.is_empty() {
        Vec::new()
    } else {
        retention::participant_addresses(store, &participants).await?
    };
    sel.extend(Selection {
        participants,
        addresses,
        ..Selection::default()
    });
    let expired = |days: u32, classes: &'static [&'static str]| {
        let before = ts(clock - Duration::days(i64::from(days)));
        async move {
            if days == 0 {
                return Ok(Vec::new());
            }
            retention::expired_messages(store, classes, &before).await
        }
    };
    let mut messages = Vec::new();
    messages.extend(expired(r.other_days, &["other", "reply"]).await?);
    messages.extend(expired(r.automatic_days, &["automatic", "duplicate"]).await?);
    messages.extend(expired(r.staff_days, &["staff", "command"]).await?);
    messages.extend(expired(r.sent_days, &["own"]).await?);
    // Application mail that became no application: held for staff to
    // route (`ZUORDNEN`) or refused (DMARC failed). Staff were told; it is
    // kept as long as an application nobody decided on.
    if r.undecided_months > 0 {
        let before = ts(months_before(clock, r.undecided_months));
        messages.extend(
            retention::expired_messages(store, &[crate::store::messages::UNROUTED_CLASS], &before)
                .await?,
        );
    }
    let outbox_raw = if r.sent_days > 0 {
        let before = ts(clock - Duration::days(i64::from(r.sent_days)));
        retention::sent_before(store, &before).await?
    } else {
        Vec::new()
    };
    sel.extend(Selection {
        messages,
        outbox_raw,
        ..Selection::default()
    });
    Ok(sel)
}

/// The logical mailbox folders that hold copies: the watched folder, the
/// processed folder and the sent folder.
fn folders(settings: &Settings) -> Vec<String> {
    let mut v = vec![
        settings.mailbox.folder.clone(),
        settings.mailbox.processed_folder.clone(),
    ];
    if let Some(i) = &settings.imap
        && !i.sent_folder.is_empty()
    {
        v.push(i.sent_folder.clone());
    }
    v.retain(|f| !f.is_empty());
    v
}

/// Erases `sel` everywhere: the mailbox copies (IMAP), then the rows, then
/// the WAL. Logged as counts, dates and references only.
pub async fn erase(
    store: &Store,
    settings: &Settings,
    sel: &Selection,
    reason: Reason,
    references: &[String],
) -> anyhow::Result<(Counts, usize)> {
    let ids = retention::message_ids(store, sel).await?;
    let mut expunged = 0;
    if settings.mailbox.source == SourceKind::Imap
        && let Some(imap) = &settings.imap
    {
        let folders = folders(settings);
        let folders: Vec<&str> = folders.iter().map(String::as_str).collect();
        expunged = crate::mailbox::imap::delete_message_ids(imap, &folders, &ids)
            .await
            .context("cannot erase the copies in the mailbox (nothing was erased)")?;
    }
    let counts = retention::erase(store, sel, reason, references).await?;
    if !store.checkpoint().await? {
        tracing::warn!(
            "the WAL could not be emptied after the erasure (readers kept it); it will be at the next checkpoint"
        );
    }
    tracing::info!(
        reason = reason.as_str(),
        references = %references.join(","),
        counts = %serde_json::to_string(&counts).unwrap_or_default(),
        mailbox_copies = expunged,
        "erased"
    );
    Ok((counts, expunged))
}

/// When the next day's run is due: the next midnight (UTC) of `clock`,
/// the day [`run_daily`] keys its runs by.
pub fn next_run(clock: DateTime<Utc>) -> Option<DateTime<Utc>> {
    clock
        .date_naive()
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// The scheduler's step: once a day (by `clock`), erases what the policy
/// says is due. Returns what went, or None when it ran today already.
pub async fn run_daily(
    store: &Store,
    settings: &Settings,
    programmes: &Programmes,
    clock: DateTime<Utc>,
) -> anyhow::Result<Option<Counts>> {
    let day = clock.format("%Y-%m-%d").to_string();
    if let Some((last, _)) = health::get(store, RETENTION_DAY).await?
        && last >= day
    {
        return Ok(None);
    }
    let sel = select_due(store, settings, programmes, clock).await?;
    let counts = if sel.is_empty() {
        Counts::default()
    } else {
        let refs = retention::references(store, &sel.applications).await?;
        erase(store, settings, &sel, Reason::Retention, &refs)
            .await?
            .0
    };
    health::set(store, RETENTION_DAY, &day).await?;
    tracing::info!(day = %day, erased = counts.total(), "retention run done");
    Ok(Some(counts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::testing;

    #[tokio::test]
    async fn application_mail_that_became_no_application_goes_with_the_undecided() {
        let dir = tempfile::tempdir().unwrap();
        let app = testing::app(dir.path()).await;
        let row = crate::store::testing::message(&app.store, 1).await;
        let arrived = Utc::now() - Duration::days(400);
        sqlx::query(
            "UPDATE messages SET class = 'application', application_id = NULL, \
             state = 'processed', received_at = ? WHERE id = ?",
        )
        .bind(ts(arrived))
        .bind(row)
        .execute(app.store.pool())
        .await
        .unwrap();
        let due = |at| select_due(&app.store, &app.settings, &app.programmes, at);
        let months = i64::from(app.settings.retention.undecided_months) * 31;
        // Weeks before its time it stays; a day after, it is due.
        let early = arrived + Duration::days(months - 40);
        assert!(!due(early).await.unwrap().messages.contains(&row));
        let late = arrived + Duration::days(months + 1);
        assert!(due(late).await.unwrap().messages.contains(&row));
    }
}
