//! Notices to staff: a late application, a mail postbote could not process.

use super::mails;
use crate::calendar::german;
use crate::domain::EmailAddress;
use crate::intake::Incoming;
use crate::outbox::{Cap, Letter};
use crate::store::Tx;
use crate::store::applications::Application;
use crate::store::outbox;
use crate::workflow::desk::Desk;
use chrono::{DateTime, Utc};
use serde::Serialize;

async fn to_staff<C: Serialize>(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    template: &str,
    key: &str,
    application_id: Option<i64>,
    context: &C,
) -> anyhow::Result<()> {
    to_each(
        desk,
        tx,
        &desk.settings.staff.notify,
        (template, Cap::ToStaff),
        key,
        application_id,
        context,
    )
    .await
}

async fn to_each<C: Serialize>(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    recipients: &[EmailAddress],
    (template, cap): (&str, Cap),
    key: &str,
    application_id: Option<i64>,
    context: &C,
) -> anyhow::Result<()> {
    for staff in recipients {
        let letter = Letter::new(
            template,
            format!("{key}:{}", staff.key()),
            application_id,
            staff,
        );
        desk.mailer.queue(tx, letter, context, cap).await?;
    }
    Ok(())
}

pub async fn late_application(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    application: &Application,
    mail: &Incoming,
    received: DateTime<Utc>,
) -> anyhow::Result<()> {
    let context = mails::StaffLate {
        short_name: desk.staff_label(),
        reference: application.reference.clone(),
        applicant: application.applicant.clone(),
        received: german::format_datetime(&received),
        deadline: german::format_date(desk.programme.deadline),
        subject: mail.subject.clone(),
    };
    let key = format!("staff-late:{}", application.id);
    to_staff(
        desk,
        tx,
        "staff_late_application",
        &key,
        Some(application.id),
        &context,
    )
    .await
}

/// Tells staff that a stored message could not be processed and stays in the
/// mailbox. Once per failure: a message that fails again after `postbote
/// messages retry` (`retries` > 0) is told again.
pub async fn processing_failed(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    message_row: i64,
    retries: i64,
    mail: Option<&Incoming>,
    received: DateTime<Utc>,
    error: &str,
) -> anyhow::Result<()> {
    let context = mails::StaffFailure {
        short_name: desk.staff_label(),
        message_id: mail
            .and_then(|m| m.message_id.clone())
            .unwrap_or_else(|| "(keine)".into()),
        from: mail
            .and_then(|m| m.from_raw.clone())
            .unwrap_or_else(|| "(unbekannt)".into()),
        subject: mail.map(|m| m.subject.clone()).unwrap_or_default(),
        received: german::format_datetime(&received),
        error: error.chars().take(500).collect(),
        row: message_row,
    };
    let key = if retries == 0 {
        format!("failed:{message_row}")
    } else {
        format!("failed:{message_row}:retry-{retries}")
    };
    to_staff(desk, tx, "staff_processing_failed", &key, None, &context).await
}

/// Queues `letter` to an applicant ([`Cap::Applicant`]); when the global
/// hourly cap (`mail.max_automatic_per_hour`) suppressed it, staff are told,
/// once per hour window (UTC).
pub async fn to_applicant<C: Serialize>(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    letter: Letter<'_>,
    context: &C,
) -> anyhow::Result<outbox::Enqueued> {
    let queued = desk
        .mailer
        .queue(tx, letter, context, Cap::Applicant)
        .await?;
    if let outbox::Enqueued::OverHourlyCap(_) = queued {
        tracing::warn!("applicant mail suppressed: hourly cap reached");
        let now = Utc::now();
        let cap = desk.settings.mail.max_automatic_per_hour;
        staff(
            desk,
            tx,
            &format!("hourly-cap:{}", now.format("%Y-%m-%dT%H")),
            "Automatische E-Mails angehalten: Stundenlimit erreicht",
            &format!(
                "postbote hat in der letzten Stunde {cap} automatische E-Mails an Bewerber \
                 geschrieben (Bestätigungen, Erinnerungen) und schreibt vorerst keine weiteren: \
                 Das kann auf eine Flut gefälschter Bewerbungen hindeuten. Die angehaltenen \
                 E-Mails sind als „suppressed“ vermerkt und werden nicht nachgeholt. Bitte prüfen \
                 Sie die eingegangenen Bewerbungen; diese Nachricht kommt höchstens einmal pro Stunde."
            ),
            &[
                format!("Grenze: mail.max_automatic_per_hour = {cap}"),
                "Prüfen: postbote outbox".to_string(),
            ],
            "",
        )
        .await?;
    }
    Ok(queued)
}

/// Tells staff that a mail that looks like an application failed DMARC at
/// the trusted boundary MTA (`dmarc=fail`): it was not confirmed and not
/// recorded as an application, and stays in the mailbox for them. Once per
/// message.
pub async fn dmarc_failed(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    message_row: i64,
    mail: &Incoming,
    received: DateTime<Utc>,
) -> anyhow::Result<()> {
    let lines = vec![
        format!(
            "Absender: {}",
            mail.from_raw.as_deref().unwrap_or("(unbekannt)")
        ),
        format!("Betreff: {}", mail.subject),
        format!("Eingegangen: {}", german::format_datetime(&received)),
        format!(
            "Message-ID: {}",
            mail.message_id.as_deref().unwrap_or("(keine)")
        ),
        format!("Gespeichert als Nachricht {message_row}"),
    ];
    staff(
        desk,
        tx,
        &format!("dmarc-failed:{message_row}"),
        "Bewerbung nicht bestätigt: DMARC-Prüfung fehlgeschlagen",
        "Eine E-Mail, die wie eine Bewerbung aussieht, hat die DMARC-Prüfung des Mailservers nicht \
         bestanden: Der Absender ist möglicherweise gefälscht. postbote hat sie weder als Bewerbung \
         erfasst noch bestätigt; sie bleibt für Sie im Posteingang liegen. Bitte prüfen Sie sie und \
         wenden Sie sich bei Bedarf auf anderem Weg an die Kommune.",
        &lines,
        "",
    )
    .await
}

/// Tells staff that a message over `mailbox.max_message_bytes` was not
/// fetched and stays in the folder for them. Once per message.
pub async fn mailbox_message_too_large(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    loc: &crate::store::messages::Location,
    size: u64,
    max: u64,
    summary: &crate::mailbox::HeaderSummary,
) -> anyhow::Result<()> {
    let mut lines = Vec::new();
    if let Some(from) = &summary.from {
        lines.push(format!("Absender: {from}"));
    }
    if let Some(subject) = &summary.subject {
        lines.push(format!("Betreff: {subject}"));
    }
    if let Some(date) = &summary.date {
        lines.push(format!("Datum: {date}"));
    }
    lines.extend([
        format!(
            "Größe: {} (Grenze: {}, Einstellung mailbox.max_message_bytes)",
            german_size(size),
            german_size(max)
        ),
        format!(
            "Ordner: {}, UID {} (UIDVALIDITY {})",
            loc.folder, loc.uid, loc.validity
        ),
        "Soll postbote sie doch lesen: Grenze in der Konfiguration erhöhen und postbote neu starten."
            .to_string(),
        "Prüfen: postbote status".to_string(),
    ]);
    staff(
        desk,
        tx,
        &format!(
            "mailbox-too-large:{}:{}:{}:{}",
            loc.source, loc.folder, loc.validity, loc.uid
        ),
        "E-Mail zu groß für die automatische Bearbeitung",
        "Im Posteingang liegt eine E-Mail, die größer ist als postbote sie abruft. Sie wurde nicht \
         gelesen und nicht beantwortet und bleibt für Sie im Posteingang liegen. Bitte sehen Sie \
         sie sich dort an und bearbeiten Sie sie von Hand. Alle anderen E-Mails bearbeitet postbote \
         weiter.",
        &lines,
        "",
    )
    .await
}

/// A size for staff: "72,4 MB" (decimal units, German comma).
fn german_size(bytes: u64) -> String {
    let (value, unit) = if bytes >= 1_000_000 {
        (bytes as f64 / 1_000_000.0, "MB")
    } else {
        (bytes as f64 / 1_000.0, "kB")
    };
    format!("{value:.1} {unit}").replace('.', ",")
}

/// Tells staff that the server keeps refusing to hand over (`Fetch`) or to
/// move (`Move`) one message, which is now left in the folder for them.
/// Once per message and step.
pub async fn mailbox_message_left(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    loc: &crate::store::messages::Location,
    stage: crate::store::waiting::Stage,
    error: &str,
    attempts: i64,
) -> anyhow::Result<()> {
    use crate::store::waiting::Stage;
    let folder = &desk.settings.mailbox.processed_folder;
    let (title, intro) = match stage {
        // NOTE: an oversized message has a notice of its own
        // (`mailbox_message_too_large`); it is never "left" by attempts.
        Stage::Fetch | Stage::TooLarge => (
            "E-Mail im Postfach kann nicht abgerufen werden".to_string(),
            "Der Mailserver verweigert postbote eine E-Mail im Posteingang. Sie wurde nicht gelesen \
             und nicht beantwortet und bleibt für Sie im Posteingang liegen. Bitte sehen Sie sie sich \
             dort an. Wenn der Fehler behoben ist, verschieben Sie die E-Mail in einen anderen Ordner \
             und wieder zurück: Dann liest postbote sie neu."
                .to_string(),
        ),
        Stage::Move => (
            format!("E-Mail kann nicht nach „{folder}“ verschoben werden"),
            format!(
                "postbote hat eine E-Mail bearbeitet, kann sie aber nicht in den Ordner „{folder}“ \
                 verschieben. Sie bleibt im Posteingang liegen und wird nicht noch einmal bearbeitet \
                 oder beantwortet. Bitte verschieben Sie sie von Hand und prüfen Sie den Ordner."
            ),
        ),
    };
    let lines = vec![
        format!(
            "Ordner: {}, UID {} (UIDVALIDITY {})",
            loc.folder, loc.uid, loc.validity
        ),
        format!(
            "Antwort des Servers: {}",
            error.chars().take(300).collect::<String>()
        ),
        format!("Versuche: {attempts}"),
        "Prüfen: postbote status".to_string(),
    ];
    staff(
        desk,
        tx,
        &format!(
            "mailbox-left:{}:{}:{}:{}:{}",
            loc.source,
            loc.folder,
            loc.validity,
            loc.uid,
            stage.as_str()
        ),
        &title,
        &intro,
        &lines,
        "",
    )
    .await
}

/// Tells staff what in an application needs a human: unreadable files,
/// uncertain dates, an over-long letter. Once per mail.
pub async fn needs_review(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    application: &Application,
    message_row: i64,
    flags: &[String],
) -> anyhow::Result<()> {
    if flags.is_empty() {
        return Ok(());
    }
    let context = mails::StaffReview {
        short_name: desk.staff_label(),
        reference: application.reference.clone(),
        applicant: application.applicant.clone(),
        flags: flags.to_vec(),
    };
    let key = format!("staff-review:{}:{message_row}", application.id);
    to_staff(
        desk,
        tx,
        "staff_needs_review",
        &key,
        Some(application.id),
        &context,
    )
    .await
}

/// A titled list for staff (`staff_notice`), keyed once by `key`.
pub async fn staff(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    key: &str,
    title: &str,
    intro: &str,
    lines: &[String],
    excerpt: &str,
) -> anyhow::Result<()> {
    let context = notice(desk, title, intro, lines, excerpt);
    to_staff(desk, tx, "staff_notice", key, None, &context).await
}

/// An ALARM (`staff_notice`) to staff, keyed once by `key`: counted against
/// its own daily cap ([`Cap::Alarm`]), apart from every other notice.
pub async fn alarm(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    key: &str,
    title: &str,
    intro: &str,
    lines: &[String],
) -> anyhow::Result<()> {
    let to = &desk.settings.staff.notify;
    notice_to(desk, tx, to, Cap::Alarm, key, (title, intro, lines)).await
}

/// A `staff_notice` without excerpt to each of `to`, under `cap`.
async fn notice_to(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    to: &[EmailAddress],
    cap: Cap,
    key: &str,
    (title, intro, lines): (&str, &str, &[String]),
) -> anyhow::Result<()> {
    let context = notice(desk, title, intro, lines, "");
    to_each(desk, tx, to, ("staff_notice", cap), key, None, &context).await
}

fn notice(
    desk: &Desk<'_>,
    title: &str,
    intro: &str,
    lines: &[String],
    excerpt: &str,
) -> mails::StaffNotice {
    mails::StaffNotice {
        short_name: desk.staff_label(),
        title: title.to_string(),
        intro: intro.to_string(),
        lines: lines.to_vec(),
        excerpt: excerpt.to_string(),
    }
}

/// Asks an applicant without an interview slot for other times; once per application.
pub async fn no_slot(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    application: &Application,
    nothing_ticked: bool,
) -> anyhow::Result<usize> {
    let Ok(to) = crate::domain::EmailAddress::parse(&application.applicant) else {
        return Ok(0);
    };
    let people = super::people::of(tx, application).await?;
    let context = mails::NoSlot {
        short_name: desk.programme.short_name.clone(),
        reference: application.reference.clone(),
        municipality: people.municipality,
        nothing_ticked,
        interview_days: desk
            .programme
            .interview_days
            .iter()
            .map(|d| german::format_slot(&d.slot.start, &d.slot.end))
            .collect(),
        contact_name: desk.settings.mail.from_name.clone(),
        contact_address: desk.settings.mail.from_address.to_string(),
    };
    let letter = Letter::new(
        "interview_no_slot",
        format!("interview-no-slot:{}", application.id),
        Some(application.id),
        &to,
    );
    Ok(usize::from(matches!(
        desk.mailer
            .queue(tx, letter, &context, Cap::StaffCaused)
            .await?,
        outbox::Enqueued::Queued(_)
    )))
}

/// A `staff_notice` to one staff address outside the notify list.
pub async fn staff_to(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    to: &EmailAddress,
    key: &str,
    title: &str,
    intro: &str,
    lines: &[String],
) -> anyhow::Result<()> {
    let to = std::slice::from_ref(to);
    notice_to(desk, tx, to, Cap::ToStaff, key, (title, intro, lines)).await
}

#[cfg(test)]
mod tests {
    use crate::context::testing;
    use crate::store::messages::Location;
    use crate::store::outbox::{self, Purpose};
    use crate::store::waiting::Stage;

    #[tokio::test]
    async fn a_message_left_in_the_mailbox_is_told_to_staff_once_per_step() {
        let dir = tempfile::tempdir().unwrap();
        let app = testing::app(dir.path()).await;
        let loc = Location {
            source: "imap",
            folder: "INBOX".into(),
            validity: 9,
            uid: "42".into(),
        };
        for stage in [Stage::Move, Stage::Move, Stage::Fetch] {
            let mut tx = app.store.begin().await.unwrap();
            super::mailbox_message_left(&app.desk(), &mut tx, &loc, stage, "NO [CANNOT] nope", 5)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        let rows = outbox::list(&app.store).await.unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!(
            rows.iter()
                .all(|r| r.env_to == testing::STAFF && r.purpose == Purpose::StaffNotice)
        );
        assert!(
            rows[0].subject.contains("„Postbote/Verarbeitet“"),
            "{rows:?}"
        );
        assert!(
            rows[1].subject.contains("kann nicht abgerufen werden"),
            "{rows:?}"
        );
        let raw = outbox::raw(&app.store, rows[0].id).await.unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("Auto-Submitted: auto-generated"), "{text}");
    }

    #[tokio::test]
    async fn past_the_hourly_cap_applicant_mail_is_suppressed_staff_told_once_and_alarms_go() {
        use crate::domain::EmailAddress;
        use crate::outbox::Letter;
        use crate::store::outbox::{Enqueued, OutboxState};
        let dir = tempfile::tempdir().unwrap();
        let app = testing::app(dir.path()).await;
        let cap = app.settings.mail.max_automatic_per_hour;
        assert_eq!(cap, 60, "the default");
        let context = super::notice(&app.desk(), "Bestätigung", "Hallo", &[], "");
        let mut over = 0;
        for i in 0..cap + 3 {
            let to = EmailAddress::parse(&format!("kommune{i}@forged.test")).unwrap();
            let letter = Letter::new("staff_notice", format!("confirmation:{i}"), None, &to);
            let mut tx = app.store.begin().await.unwrap();
            let got = super::to_applicant(&app.desk(), &mut tx, letter, &context)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            match got {
                Enqueued::Queued(_) => assert!(i < cap, "{i}"),
                Enqueued::OverHourlyCap(_) => over += 1,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(over, 3);
        let rows = outbox::list(&app.store).await.unwrap();
        let told: Vec<_> = rows
            .iter()
            .filter(|r| r.subject.contains("Stundenlimit erreicht"))
            .collect();
        assert_eq!(told.len(), 1, "{told:?}");
        assert_eq!(told[0].env_to, testing::STAFF);
        assert_eq!(told[0].state, OutboxState::Queued);
        let suppressed = rows
            .iter()
            .filter(|r| r.state == OutboxState::Suppressed)
            .count();
        assert_eq!(suppressed, 3);

        let mut tx = app.store.begin().await.unwrap();
        super::alarm(
            &app.desk(),
            &mut tx,
            "alarm-test:1",
            "ALARM: Test",
            "Text",
            &[],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let rows = outbox::list(&app.store).await.unwrap();
        let alarm = rows.iter().find(|r| r.subject.contains("ALARM")).unwrap();
        assert_eq!(alarm.state, OutboxState::Queued);
    }
}
