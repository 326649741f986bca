//! Is intake keeping up with the mailbox? The conditions that make
//! `postbote status` exit 1 and raise the alarm mail, decided in one place:
//! the mailbox cannot be opened, mail has waited unprocessed too long, moves
//! keep failing, a message cannot be fetched. A message over
//! `mailbox.max_message_bytes` is none of these: staff get one notice, and
//! `status` lists it as a warning while it sits in the folder ([`oversized`]).

use crate::config::settings::HealthSettings;
use crate::store::waiting::{self, Stage};
use crate::store::{Store, health, parse_ts};
use chrono::{DateTime, Utc};

/// Moves that failed this often count as "keep failing".
pub const MOVE_FAILING_AFTER: i64 = 2;

/// One open problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The incident: one alarm per key.
    pub incident: String,
    /// For `status` (English).
    pub summary: String,
    /// For the alarm mail (German).
    pub title: String,
    pub intro: String,
    pub lines: Vec<String>,
}

fn minutes_since(now: DateTime<Utc>, at: &str) -> i64 {
    parse_ts(at).map_or(0, |t| (now - t).num_minutes())
}

/// The open mailbox problems at `now`.
pub async fn problems(
    store: &Store,
    h: &HealthSettings,
    processed_folder: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Problem>> {
    let mut out = Vec::new();
    let error = health::get(store, health::MAILBOX_ERROR)
        .await?
        .map(|(e, _)| e)
        .unwrap_or_default();
    let setup = health::get(store, health::MAILBOX_SETUP_ERROR).await?;
    if let Some((since, _)) = health::get(store, health::MAILBOX_FAILING_SINCE).await? {
        let failing = parse_ts(&since).map_or(0, |t| (now - t).num_seconds());
        let limit = i64::try_from(h.mailbox_error_after_secs).unwrap_or(i64::MAX);
        if setup.is_some() || failing >= limit {
            out.push(Problem {
                incident: format!("mailbox-open:{since}"),
                summary: format!("the mailbox cannot be opened since {since}: {error}"),
                title: "Postfach kann nicht geöffnet werden".into(),
                intro: format!(
                    "postbote kann das Postfach seit {} Minuten nicht öffnen. Neue Bewerbungen und Antworten bleiben liegen, bis das behoben ist.",
                    minutes_since(now, &since)
                ),
                lines: vec![
                    format!("Seit: {since}"),
                    format!("Fehler: {error}"),
                    if setup.is_some() {
                        "Das braucht eine Änderung am Server oder in der Konfiguration.".into()
                    } else {
                        "postbote versucht es weiter.".into()
                    },
                    "Prüfen: postbote status".into(),
                ],
            });
        }
    }
    let rows = waiting::all(store).await?;
    let limit = chrono::Duration::seconds(
        i64::try_from(h.unprocessed_after_secs).unwrap_or(i64::MAX / 2_000),
    );
    // NOTE: a message over the size limit waits for a human by design;
    // staff were told once when it came, and it raises nothing further.
    let overdue: Vec<_> = rows
        .iter()
        .filter(|w| w.stage != Some(Stage::TooLarge))
        .filter(|w| parse_ts(&w.first_seen_at).is_some_and(|t| now - t > limit))
        .collect();
    if let Some(oldest) = overdue.first() {
        let minutes = minutes_since(now, &oldest.first_seen_at);
        out.push(Problem {
            incident: format!("mailbox-waiting:{}", oldest.first_seen_at),
            summary: format!(
                "{} message(s) have waited unprocessed in the watched folder for up to {minutes} minutes (limit {})",
                overdue.len(),
                h.unprocessed_after_secs / 60
            ),
            title: "E-Mails bleiben unbearbeitet im Postfach".into(),
            intro: format!(
                "{} E-Mail(s) liegen seit bis zu {minutes} Minuten unbearbeitet im Posteingang.",
                overdue.len()
            ),
            lines: overdue
                .iter()
                .take(10)
                .map(|w| {
                    format!(
                        "{} UID {}: seit {}{}",
                        w.folder,
                        w.uid,
                        w.first_seen_at,
                        w.last_error
                            .as_deref()
                            .map(|e| format!(", Fehler: {e}"))
                            .unwrap_or_default()
                    )
                })
                .chain(std::iter::once("Prüfen: postbote status".into()))
                .collect(),
        });
    }
    for (stage, what, title) in [
        (
            Stage::Move,
            format!("moving to {processed_folder:?} keeps failing"),
            format!("E-Mails können nicht nach „{processed_folder}“ verschoben werden"),
        ),
        (
            Stage::Fetch,
            "fetching keeps failing".to_string(),
            "E-Mails können nicht abgerufen werden".to_string(),
        ),
    ] {
        let failing: Vec<_> = rows
            .iter()
            .filter(|w| {
                w.stage == Some(stage)
                    && (w.permanent || (stage == Stage::Move && w.attempts >= MOVE_FAILING_AFTER))
            })
            .collect();
        let Some(first) = failing.first() else {
            continue;
        };
        let since = first.failing_since.clone().unwrap_or_default();
        let error = first.last_error.clone().unwrap_or_default();
        let left = failing.iter().filter(|w| w.permanent).count();
        out.push(Problem {
            incident: format!("mailbox-{stage}:{}:{since}", first.uid),
            summary: format!(
                "{} message(s): {what} ({} attempts, {left} left for staff): {error}",
                failing.len(),
                first.attempts
            ),
            title,
            intro: format!(
                "Der Mailserver verweigert das bei {} E-Mail(s); postbote versucht es {}.",
                failing.len(),
                if left == failing.len() {
                    "nicht mehr: Die E-Mails bleiben für Sie im Posteingang"
                } else {
                    "weiter"
                }
            ),
            lines: failing
                .iter()
                .take(10)
                .map(|w| {
                    format!(
                        "{} UID {}: {} Versuche, {}",
                        w.folder,
                        w.uid,
                        w.attempts,
                        w.last_error.as_deref().unwrap_or("")
                    )
                })
                .chain(std::iter::once("Prüfen: postbote status".into()))
                .collect(),
        });
    }
    Ok(out)
}

/// The messages over the size limit that wait in the watched folder, for
/// `status` (English): one line each.
pub async fn oversized(store: &Store) -> anyhow::Result<Vec<String>> {
    Ok(waiting::all(store)
        .await?
        .into_iter()
        .filter(|w| w.stage == Some(Stage::TooLarge))
        .map(|w| {
            format!(
                "{} UID {}: {} bytes, over mailbox.max_message_bytes, not fetched (staff were told at {})",
                w.folder,
                w.uid,
                w.size.unwrap_or_default(),
                w.failing_since.as_deref().unwrap_or(&w.first_seen_at)
            )
        })
        .collect())
}
