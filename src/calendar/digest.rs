//! The staff digest, on a cron schedule in Europe/Berlin (default weekdays
//! 07:30): what came in, what needs a human, what comes next. Keyed by its
//! scheduled time, so a restart never sends one twice; a run missed during
//! downtime is caught up within 12 hours. Nothing to report, no mail (unless
//! `digest.send_empty`).

use super::cron::CronSchedule;
use super::events;
use super::german;
use crate::config::Programme;
use crate::config::programme::EventStatus;
use crate::context::App;
use crate::outbox::{Cap, Letter};
use crate::store::digest::{self, Attention};
use crate::store::programme::{self, Decision, MailKind, MailState};
use crate::store::{health, parse_ts, participants, ts};
use crate::workflow::mails;
use chrono::{DateTime, Duration, Utc};

/// How late a missed digest is still sent.
pub const CATCH_UP: i64 = 12;

fn day(t: &str) -> String {
    parse_ts(t).map_or_else(|| t.to_string(), |t| german::format_datetime(&t))
}

/// A digest line on an open "possible duplicate" mark, with the commands.
fn duplicate_line(d: &digest::OpenDuplicate) -> String {
    format!(
        "{r} {m} (von {owner}): mögliche Doppelbewerbung zu {o}. Zusammenführen: \
         ZUSAMMENFÜHREN {r} IN {o}; getrennt behalten: BEHALTEN {r}",
        r = d.reference,
        m = d.municipality.as_deref().unwrap_or("(Kommune unbekannt)"),
        owner = d.owner,
        o = d.original,
    )
}

/// A digest line on a held address change, with the commands.
fn address_line(h: &digest::HeldChange) -> String {
    format!(
        "{r}: {field} neu {new} (bisher: {old}). Übernehmen: ADRESSE BESTÄTIGEN {r}; \
         ablehnen: ADRESSE ABLEHNEN {r}",
        r = h.reference,
        field = crate::workflow::ownership::field_de(&h.field),
        new = h.new_value,
        old = h.old_value.as_deref().unwrap_or("keine"),
    )
}

/// The section of the digest about `programme` for the period (since, until].
async fn section(
    app: &App,
    programme: &Programme,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> anyhow::Result<mails::DigestSection> {
    let store = &app.store;
    let code = programme.code.as_str();
    let new_applications: Vec<String> = digest::new_applications(store, code, since, until)
        .await?
        .into_iter()
        .map(|a| {
            format!(
                "{} {}: {}{}",
                a.reference,
                a.municipality.unwrap_or(a.applicant),
                if a.complete {
                    "vollständig"
                } else {
                    "unvollständig"
                },
                if a.late { ", nach der Frist" } else { "" }
            )
        })
        .collect();
    let interviews: Vec<String> =
        digest::interviews_starting(store, code, until, until + Duration::days(3))
            .await?
            .into_iter()
            .map(|i| format!("{}: {}", day(&i.at), i.reference))
            .collect();
    // Commands that act on one programme name it when there are several.
    let named = if app.programmes.only_active().is_some() {
        String::new()
    } else {
        format!(" {code}")
    };
    let mut pending_decisions = Vec::new();
    let held = digest::held_count_in(store, code).await?;
    if held > 0 {
        pending_decisions.push(format!(
            "{held} Bescheid(e) warten auf Freigabe (VORSCHAU{named}, dann FREIGEBEN{named} BESCHEIDE)"
        ));
    }
    for i in digest::undecided(store, code, until).await? {
        pending_decisions.push(format!(
            "{}: Gespräch am {}, noch keine Entscheidung",
            i.reference,
            day(&i.at)
        ));
    }
    let duplicates: Vec<String> = digest::open_duplicates(store, code)
        .await?
        .iter()
        .map(duplicate_line)
        .collect();
    let address_changes: Vec<String> = digest::held_changes(store, code)
        .await?
        .iter()
        .map(address_line)
        .collect();
    let participants = participants::count_active_participants(store, code).await?;
    let upcoming: Vec<String> = if programme.retired {
        Vec::new()
    } else {
        events::effective(store, programme)
            .await?
            .into_iter()
            .filter(|e| e.status != EventStatus::Cancelled)
            .filter(|e| e.start() > until && e.start() <= until + Duration::days(30))
            .map(|e| {
                format!(
                    "{}: {}, {participants} Teilnehmende{}",
                    e.title,
                    e.day_lines().join(" / "),
                    if e.status == EventStatus::Tentative {
                        " (unter Vorbehalt)"
                    } else {
                        ""
                    }
                )
            })
            .collect()
    };
    let quiet = new_applications.is_empty()
        && interviews.is_empty()
        && pending_decisions.is_empty()
        && duplicates.is_empty()
        && address_changes.is_empty()
        && upcoming.is_empty();
    Ok(mails::DigestSection {
        short_name: programme.short_name.clone(),
        code: programme.code.clone(),
        retired: programme.retired,
        new_applications,
        interviews,
        pending_decisions,
        duplicates,
        address_changes,
        upcoming,
        quiet,
    })
}

/// Builds the digest for the period (since, until], titled with the date of
/// `at`: one section per programme (a retired one only when it has
/// something to show), the programme-neutral parts once.
pub async fn build(
    app: &App,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    at: DateTime<Utc>,
) -> anyhow::Result<mails::Digest> {
    let store = &app.store;
    let mut sections = Vec::new();
    for programme in app.programmes.iter() {
        let s = section(app, programme, since, until).await?;
        if !(s.retired && s.quiet) {
            sections.push(s);
        }
    }
    let needs_human = digest::needs_human(store, since, until)
        .await?
        .into_iter()
        .map(|m| {
            let what = match m.attention {
                Attention::Failed => "konnte nicht verarbeitet werden",
                Attention::Reply => "Antwort",
                Attention::Other => "Frage oder sonstige Nachricht",
            };
            format!(
                "{}: \"{}\" ({what}, liegt im Posteingang)",
                m.from.unwrap_or_else(|| "(unbekannt)".into()),
                m.subject.unwrap_or_default()
            )
        })
        .collect();
    let sent = digest::sent_count(store, since, until).await?;
    let failed = digest::failed(store, since - Duration::days(7), until)
        .await?
        .into_iter()
        .map(|f| {
            format!(
                "an {}: \"{}\" – {}",
                f.to,
                f.subject,
                f.last_error.unwrap_or_default()
            )
        })
        .collect();
    let bounces = digest::bounces(store, since, until)
        .await?
        .into_iter()
        .map(|b| {
            format!(
                "{} ist nicht erreichbar{}{}{}",
                b.address,
                b.status.map(|s| format!(" ({s})")).unwrap_or_default(),
                b.subject
                    .map(|s| format!(", E-Mail \"{s}\""))
                    .unwrap_or_default(),
                b.diagnostic.map(|d| format!(": {d}")).unwrap_or_default()
            )
        })
        .collect();
    let last_mailbox_check = health::get(&app.store, health::MAILBOX_OK)
        .await?
        .map_or_else(|| "noch keiner".to_string(), |(v, _)| day(&v));
    Ok(mails::Digest {
        short_name: app.programmes.label(),
        date: german::format_date(german::to_berlin(&at).date_naive()),
        since: german::format_datetime(&since),
        needs_human,
        sections,
        sent,
        failed,
        bounces,
        last_mailbox_check,
    })
}

fn is_empty(d: &mails::Digest) -> bool {
    d.needs_human.is_empty()
        && d.failed.is_empty()
        && d.bounces.is_empty()
        && d.sent == 0
        && d.sections.iter().all(|s| {
            s.new_applications.is_empty()
                && s.interviews.is_empty()
                && s.pending_decisions.is_empty()
                && s.duplicates.is_empty()
                && s.address_changes.is_empty()
        })
}

/// Sends the digest whose scheduled time is the latest at or before `clock`
/// (within [`CATCH_UP`] hours), unless it was decided on before. Returns
/// whether a digest was queued.
pub async fn run(app: &App, clock: DateTime<Utc>) -> anyhow::Result<bool> {
    let settings = &app.settings.digest;
    if !settings.enabled {
        return Ok(false);
    }
    let schedule = CronSchedule::parse(&settings.cron)?;
    let Some(due) = schedule.latest_at_or_before(clock, Duration::hours(CATCH_UP)) else {
        return Ok(false);
    };
    let key = format!("digest:{}", ts(due));
    if programme::is_decided(&app.store, &key).await? {
        return Ok(false);
    }
    let since = programme::last_due(&app.store, MailKind::Digest)
        .await?
        .unwrap_or(due - Duration::days(1));
    send(app, due, since, clock).await
}

/// Builds and queues the digest scheduled at `due` for the period since
/// `since`, keyed by `due`; records it as sent or (empty) skipped.
pub async fn send(
    app: &App,
    due: DateTime<Utc>,
    since: DateTime<Utc>,
    clock: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let key = format!("digest:{}", ts(due));
    // NOTE: the period is measured on the wall clock of the rows (when mail
    // came in or went out), the schedule on the scheduler's clock.
    let digest = build(app, since, Utc::now().max(due), due).await?;
    let empty = is_empty(&digest) && !app.settings.digest.send_empty;
    let mut tx = app.store.begin().await?;
    if !empty {
        for staff in &app.settings.staff.notify {
            let letter = Letter::new(
                "staff_digest",
                format!("{key}:{}", staff.key()),
                None,
                staff,
            );
            app.mailer
                .queue(&mut tx, letter, &digest, Cap::Alarm)
                .await?;
        }
    }
    let decision = Decision {
        programme: &app.programmes.first().code,
        key: &key,
        event_key: None,
        kind: MailKind::Digest,
        recipient: None,
        due,
        decided_at: clock,
        state: if empty {
            MailState::Skipped
        } else {
            MailState::Sent
        },
        note: empty.then_some("nothing to report"),
        calendar: None,
    };
    programme::record_mail(&mut tx, &decision).await?;
    tx.commit().await?;
    Ok(!empty)
}

#[cfg(test)]
mod tests {
    use crate::context::testing;
    use crate::store::ownership::{self, NewHold};
    use chrono::{Duration, Utc};

    #[tokio::test]
    async fn the_digest_lists_open_duplicates_and_held_address_changes_with_their_commands() {
        let dir = tempfile::tempdir().unwrap();
        let app = testing::app(dir.path()).await;
        let store = &app.store;
        let original = crate::store::testing::application(store, 1, false).await;
        let dup = crate::store::testing::application(store, 2, false).await;
        let kept = crate::store::testing::application(store, 3, false).await;
        let mut tx = store.begin().await.unwrap();
        for (id, municipality) in [(dup.id, "Stadt Ahausen"), (kept.id, "Stadt Behausen")] {
            sqlx::query("UPDATE applications SET duplicate_of = ?, municipality = ? WHERE id = ?")
                .bind(original.id)
                .bind(municipality)
                .bind(id)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        // A kept one is no longer marked.
        ownership::clear_duplicate(&mut tx, kept.id).await.unwrap();
        let hold = NewHold {
            application_id: original.id,
            message_row: None,
            field: "person_email",
            old_value: Some("erika@ahausen.test"),
            new_value: "neu@ahausen.test",
        };
        ownership::hold(&mut tx, &hold, &[], &[]).await.unwrap();
        tx.commit().await.unwrap();

        let now = Utc::now();
        let digest = super::build(&app, now - Duration::days(1), now, now)
            .await
            .unwrap();
        let s = &digest.sections[0];
        assert_eq!(s.duplicates.len(), 1, "{:?}", s.duplicates);
        assert_eq!(s.address_changes.len(), 1);
        let text = app
            .mailer
            .templates()
            .render("staff_digest", &digest)
            .unwrap()
            .text;
        let section = |title: &str| {
            let start = text
                .find(title)
                .unwrap_or_else(|| panic!("{title}: {text}"));
            text[start..].split("\n\n").next().unwrap_or("").to_string()
        };
        let duplicates = section("Mögliche Doppelbewerbungen");
        assert!(
            duplicates.contains(&format!(
                "{} Stadt Ahausen (von a2@x.test): mögliche Doppelbewerbung zu {}",
                dup.reference, original.reference
            )),
            "{duplicates}"
        );
        assert!(
            duplicates.contains(&format!(
                "ZUSAMMENFÜHREN {} IN {}",
                dup.reference, original.reference
            )) && duplicates.contains(&format!("BEHALTEN {}", dup.reference)),
            "{duplicates}"
        );
        assert!(!duplicates.contains(&kept.reference), "{duplicates}");
        let changes = section("Adressänderungen zur Bestätigung");
        assert!(
            changes.contains(&format!(
                "{}: Adresse der teilnehmenden Person neu neu@ahausen.test (bisher: erika@ahausen.test)",
                original.reference
            )),
            "{changes}"
        );
        assert!(
            changes.contains(&format!("ADRESSE BESTÄTIGEN {}", original.reference))
                && changes.contains(&format!("ADRESSE ABLEHNEN {}", original.reference)),
            "{changes}"
        );
        // Something for staff to resolve is worth a digest on its own.
        assert!(!super::is_empty(&digest));
    }
}
