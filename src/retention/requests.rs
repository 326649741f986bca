//! Performs the staff commands LÖSCHEN and AUSKUNFT (`privacy_requests`):
//! a scheduler step, run at every pass and right after a command mail was
//! committed (the intake wakes the scheduler), outside any command
//! transaction, because an erasure deletes mailbox copies over IMAP.
//!
//! - preview (`LÖSCHEN REF`): what `forget REF` would erase, as counts, to
//!   the requesting staff address; nothing is erased;
//! - erase (`LÖSCHEN REF BESTÄTIGT`): [`super::erase`] (mailbox copies, then
//!   the rows), then the counts to staff and the requester;
//! - export (`AUSKUNFT REF`): the Art. 15 ZIP ([`super::export::build`]) in
//!   memory, attached to one mail to the requesting staff address, keyed
//!   by the request, and tied to the application so that a later erasure
//!   removes it (row, raw copy and its copy in the sent folder) as well.
//!
//! A request whose application is gone fails at once; one that fails
//! otherwise (the mailbox unreachable) is tried again at the next pass, and
//! after [`MAX_ATTEMPTS`] it fails for good. Staff are told either way.

use crate::domain::EmailAddress;
use crate::outbox::compose::FileAttachment;
use crate::outbox::{Cap, Letter};
use crate::store::privacy::{self, Kind, Request};
use crate::store::retention::{self as stored, Counts, Reason};
use crate::store::{Store, Tx};
use crate::workflow::desk::Desk;
use crate::workflow::{mails, notices};
use anyhow::Context;

/// Attempts before a request fails for good (one per scheduler pass).
pub const MAX_ATTEMPTS: i64 = 5;

/// The idempotency-key prefix of the export mails; the export leaves
/// earlier export mails out ([`crate::store::retention::outgoing_of`]).
pub const EXPORT_KEY_PREFIX: &str = "privacy-export:";

/// A request still pending this long is stuck: `postbote status` reports it.
pub const STUCK_AFTER_MINUTES: i64 = 60;

/// Requests that fail for good are shown by `status` this long (staff were
/// told by mail).
const FAILED_SHOWN_DAYS: i64 = 7;

/// For `postbote status`: the stuck requests (problems) and those that
/// failed for good in the last week (warnings), in English.
pub async fn health(
    store: &Store,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let before = crate::store::ts(now - chrono::Duration::minutes(STUCK_AFTER_MINUTES));
    let stuck = privacy::pending_before(store, &before)
        .await?
        .into_iter()
        .map(|r| {
            format!(
                "{} request {} for {} pending since {} ({} attempt(s); last error: {})",
                r.kind.as_str(),
                r.id,
                r.reference,
                r.requested_at,
                r.attempts,
                r.note.as_deref().unwrap_or("none")
            )
        })
        .collect();
    let since = crate::store::ts(now - chrono::Duration::days(FAILED_SHOWN_DAYS));
    let failed = privacy::failed_since(store, &since)
        .await?
        .into_iter()
        .map(|r| {
            format!(
                "{} request {} for {} failed ({}); staff were told",
                r.kind.as_str(),
                r.id,
                r.reference,
                r.note.as_deref().unwrap_or("no error recorded")
            )
        })
        .collect();
    Ok((stuck, failed))
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Performed {
    pub done: usize,
    pub failed: usize,
}

/// Why a request could not be performed.
enum Failure {
    /// Nothing to retry (the application is gone).
    Final(String),
    /// Perhaps passing (the mailbox or the database).
    Retry(anyhow::Error),
}

/// Performs every pending request. A failing one does not stop the others.
pub async fn perform_pending(store: &Store, desk: &Desk<'_>) -> anyhow::Result<Performed> {
    let mut p = Performed::default();
    for r in privacy::pending(store).await? {
        let result = match r.kind {
            Kind::Preview => preview(store, desk, &r).await,
            Kind::Erase => erase(store, desk, &r).await,
            Kind::Export => export(store, desk, &r).await,
        };
        match result {
            Ok(()) => p.done += 1,
            Err(f) => {
                p.failed += 1;
                failed(store, desk, &r, f).await?;
            }
        }
    }
    Ok(p)
}

fn requester(r: &Request) -> Result<EmailAddress, Failure> {
    EmailAddress::parse(&r.requested_by)
        .map_err(|e| Failure::Final(format!("the requesting address is invalid: {e}")))
}

fn retry(e: anyhow::Error) -> Failure {
    Failure::Retry(e)
}

async fn preview(store: &Store, desk: &Desk<'_>, r: &Request) -> Result<(), Failure> {
    let to = requester(r)?;
    let lines = match super::select_forget(store, &r.reference)
        .await
        .map_err(retry)?
    {
        None => vec![format!("Zu {} ist nichts gespeichert.", r.reference)],
        Some((sel, _)) => {
            let counts = stored::preview(store, &sel).await.map_err(retry)?;
            let mut lines = german_counts(&counts);
            lines.push("dazu ihre Kopien in den Ordnern des Postfachs".into());
            lines.push(format!(
                "Zum Löschen senden Sie bitte: LÖSCHEN {} BESTÄTIGT",
                r.reference
            ));
            lines
        }
    };
    let mut tx = store.begin().await.map_err(retry)?;
    notices::staff_to(
        desk,
        &mut tx,
        &to,
        &format!("privacy-preview:{}", r.id),
        &format!("Vorschau der Löschung: {}", r.reference),
        &format!(
            "Auf Ihren Befehl „LÖSCHEN {}“ hat postbote nichts gelöscht. So viel würde gelöscht \
             (nur Anzahlen):",
            r.reference
        ),
        &lines,
    )
    .await
    .map_err(retry)?;
    finish(tx, r.id).await
}

async fn erase(store: &Store, desk: &Desk<'_>, r: &Request) -> Result<(), Failure> {
    let to = requester(r)?;
    let Some((mut sel, refs)) = super::select_forget(store, &r.reference)
        .await
        .map_err(retry)?
    else {
        return Err(Failure::Final(format!(
            "nothing stored about {} (erased already?)",
            r.reference
        )));
    };
    // NOTE: the reply to the confirming command was queued in its
    // transaction, just before, and may be sending now. It does not name the
    // application (only the template's example reference, which may be the
    // same), so it is left alone: erased, it would never reach staff.
    let reply = privacy::command_reply(store, r.message_row)
        .await
        .map_err(retry)?;
    sel.outbox.retain(|id| !reply.contains(id));
    let (counts, expunged) = super::erase(store, desk.settings, &sel, Reason::Command, &refs)
        .await
        .map_err(retry)?;
    let mut lines = german_counts(&counts);
    lines.push(format!(
        "Mails in den Ordnern des Postfachs gelöscht: {expunged}"
    ));
    lines.push(format!("Beantragt von: {}", r.requested_by));
    let mut tx = store.begin().await.map_err(retry)?;
    tell(
        desk,
        &mut tx,
        &to,
        &format!("privacy-erase:{}", r.id),
        &format!("Bewerbung {} gelöscht", r.reference),
        &format!(
            "postbote hat die Bewerbung {} auf Ihren Befehl „LÖSCHEN {} BESTÄTIGT“ gelöscht: in \
             der Datenbank und im Postfach. Gelöscht wurde (nur Anzahlen):",
            r.reference, r.reference
        ),
        &lines,
    )
    .await
    .map_err(retry)?;
    finish(tx, r.id).await
}

async fn export(store: &Store, desk: &Desk<'_>, r: &Request) -> Result<(), Failure> {
    let to = requester(r)?;
    let Some(subject) = stored::application_by_reference(store, &r.reference)
        .await
        .map_err(retry)?
    else {
        return Err(Failure::Final(format!(
            "no application {} (erased?)",
            r.reference
        )));
    };
    let (bytes, files) = super::export::build(store, desk.programme, &r.reference)
        .await
        .map_err(retry)?;
    let context = mails::StaffNotice {
        short_name: desk.staff_label(),
        title: format!("Auskunft nach Art. 15 DSGVO: {}", r.reference),
        intro: format!(
            "Anbei die Auskunft zu {} als ZIP-Datei, wie auf Ihren Befehl „AUSKUNFT {}“ \
             erstellt. Sie wurde nur an Sie geschickt, nicht an die Bewerber: Bitte prüfen Sie \
             sie und geben Sie sie auf sicherem Weg weiter. Diese Mail enthält personenbezogene \
             Daten; ihre Kopie bei postbote wird mit der Bewerbung gelöscht.",
            r.reference, r.reference
        ),
        lines: vec![
            format!("Dateien im ZIP: {files}"),
            "Auskunft.txt: Anschreiben; eingang/: eingegangene Mails; dokumente/: Anlagen; \
             daten.json: gespeicherte Angaben; gesendet/: gesendete Mails"
                .into(),
        ],
        excerpt: String::new(),
    };
    let letter = Letter {
        attachments: vec![FileAttachment {
            file_name: format!("Auskunft-{}.zip", r.reference),
            content_type: "application/zip".into(),
            bytes,
        }],
        ..Letter::new(
            "staff_notice",
            format!("{EXPORT_KEY_PREFIX}{}", r.id),
            Some(subject.id),
            &to,
        )
    };
    let mut tx = store.begin().await.map_err(retry)?;
    desk.mailer
        .queue(&mut tx, letter, &context, Cap::ToStaff)
        .await
        .map_err(retry)?;
    finish(tx, r.id).await
}

async fn finish(mut tx: Tx<'_>, id: i64) -> Result<(), Failure> {
    privacy::done(&mut tx, id).await.map_err(retry)?;
    tx.commit()
        .await
        .context("cannot commit the privacy request")
        .map_err(retry)?;
    tracing::info!(request = id, "privacy request done");
    Ok(())
}

/// Records the failure; staff are told when it is final (at once for a
/// gone application, after [`MAX_ATTEMPTS`] otherwise).
async fn failed(store: &Store, desk: &Desk<'_>, r: &Request, f: Failure) -> anyhow::Result<()> {
    let (note, last) = match f {
        Failure::Final(note) => (note, true),
        Failure::Retry(e) => (format!("{e:#}"), r.attempts + 1 >= MAX_ATTEMPTS),
    };
    let note: String = note.chars().take(500).collect();
    tracing::warn!(request = r.id, kind = r.kind.as_str(), reference = %r.reference,
        error = %note, last, "privacy request failed");
    let mut tx = store.begin().await?;
    let attempts = privacy::attempt_failed(&mut tx, r.id, &note, last).await?;
    if last {
        let what = match r.kind {
            Kind::Preview => format!("LÖSCHEN {}", r.reference),
            Kind::Erase => format!("LÖSCHEN {} BESTÄTIGT", r.reference),
            Kind::Export => format!("AUSKUNFT {}", r.reference),
        };
        let lines = vec![
            format!("Befehl: {what} (Auftrag Nr. {})", r.id),
            format!("Beantragt von: {} am {}", r.requested_by, r.requested_at),
            format!("Versuche: {attempts}"),
            format!("Fehler: {note}"),
            "Bitte prüfen: postbote status; von Hand: postbote forget bzw. postbote export"
                .to_string(),
        ];
        let intro = "postbote konnte einen Befehl zum Datenschutz nicht ausführen. Es wurde nichts \
                     gelöscht und keine Auskunft verschickt; bitte senden Sie den Befehl erneut, \
                     wenn der Fehler behoben ist.";
        let to = EmailAddress::parse(&r.requested_by).ok();
        let key = format!("privacy-failed:{}", r.id);
        let title = "Befehl zum Datenschutz nicht ausgeführt";
        match &to {
            Some(to) => tell(desk, &mut tx, to, &key, title, intro, &lines).await?,
            None => notices::staff(desk, &mut tx, &key, title, intro, &lines, "").await?,
        }
    }
    tx.commit()
        .await
        .context("cannot record the failed privacy request")?;
    Ok(())
}

/// A notice to staff (`staff.notify`) and to the requester, once each.
async fn tell(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    requester: &EmailAddress,
    key: &str,
    title: &str,
    intro: &str,
    lines: &[String],
) -> anyhow::Result<()> {
    notices::staff(desk, tx, key, title, intro, lines, "").await?;
    if !desk
        .settings
        .staff
        .notify
        .iter()
        .any(|n| n.key() == requester.key())
    {
        notices::staff_to(
            desk,
            tx,
            requester,
            &format!("{key}:requester"),
            title,
            intro,
            lines,
        )
        .await?;
    }
    Ok(())
}

/// The counts for staff, in German.
fn german_counts(c: &Counts) -> Vec<String> {
    let lines: Vec<String> = c
        .lines()
        .into_iter()
        .map(|(kind, n)| format!("{}: {n}", german_kind(kind)))
        .collect();
    if lines.is_empty() {
        vec!["nichts in der Datenbank".into()]
    } else {
        lines
    }
}

fn german_kind(kind: &str) -> &str {
    match kind {
        "applications" => "Bewerbungen",
        "incoming mails (raw, stored copy)" => "eingegangene Mails",
        "documents" => "Dokumente",
        "extracted facts" => "ausgelesene Angaben",
        "interviews" => "Gespräche",
        "decisions" => "Entscheidungen",
        "participants rows" => "Einträge in der Teilnehmendenliste",
        "outgoing mails" => "gesendete Mails",
        "raw copies of outgoing mails (row kept)" => "Kopien gesendeter Mails",
        "bounce records" => "Unzustellbarkeitsmeldungen",
        "staff command records" => "Befehlsprotokolle",
        "programme mail records" => "Programm-Mails",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::testing;
    use crate::store::outbox;

    #[tokio::test]
    async fn a_request_for_a_gone_application_fails_at_once_and_staff_are_told() {
        let dir = tempfile::tempdir().unwrap();
        let app = testing::app(dir.path()).await;
        let mut tx = app.store.begin().await.unwrap();
        let id = privacy::request(&mut tx, Kind::Erase, "EWS7-0099", "leitung@ews.test", 7)
            .await
            .unwrap();
        // The same command line again is the same request.
        let again = privacy::request(&mut tx, Kind::Erase, "EWS7-0099", "leitung@ews.test", 7)
            .await
            .unwrap();
        assert_eq!(id, again);
        tx.commit().await.unwrap();

        // Pending for over an hour: `status` calls it stuck.
        let later = chrono::Utc::now() + chrono::Duration::minutes(STUCK_AFTER_MINUTES + 1);
        let (stuck, failed) = health(&app.store, later).await.unwrap();
        assert_eq!(stuck.len(), 1, "{stuck:?}");
        assert!(stuck[0].contains("EWS7-0099"), "{stuck:?}");
        assert!(failed.is_empty());
        let (stuck, _) = health(&app.store, chrono::Utc::now()).await.unwrap();
        assert!(stuck.is_empty(), "a fresh request is not stuck");

        let p = perform_pending(&app.store, &app.desk()).await.unwrap();
        assert_eq!(p, Performed { done: 0, failed: 1 });
        assert!(privacy::pending(&app.store).await.unwrap().is_empty());
        let (stuck, failed) = health(&app.store, chrono::Utc::now()).await.unwrap();
        assert!(stuck.is_empty());
        assert_eq!(failed.len(), 1, "{failed:?}");
        let told: Vec<_> = outbox::list(&app.store)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.subject.contains("Datenschutz nicht ausgeführt"))
            .collect();
        assert_eq!(told.len(), 1, "{told:?}");

        // Nothing pending: the next pass does nothing and tells no one again.
        let p = perform_pending(&app.store, &app.desk()).await.unwrap();
        assert_eq!(p, Performed::default());
    }
}
