//! The interview schedule: the plan staff look at, its release, moves and
//! cancellations. Each action is one transaction with its mails.

use super::invitations::{self, Kind};
use super::plan::{self, Candidate, Fixed, Plan, SlotRules};
use crate::calendar::german;
use crate::store::applications;
use crate::store::interviews::{self, Interview, InterviewState};
use crate::store::{Tx, documents};
use crate::workflow::actions::{self, ActionResult, refuse};
use crate::workflow::desk::Desk;
use crate::workflow::notices;
use chrono::{Duration, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;

pub fn rules(desk: &Desk<'_>) -> SlotRules {
    SlotRules {
        minutes: desk.programme.interview_minutes,
        buffer_minutes: desk.programme.interviews.buffer_minutes,
        max_per_day: desk.programme.interviews.max_per_day,
    }
}

/// The days an application ticked as possible (latest facts).
async fn ticked(tx: &mut Tx<'_>, application_id: i64) -> anyhow::Result<Vec<NaiveDate>> {
    let facts = documents::latest_facts(tx, application_id).await?;
    Ok(facts
        .iter()
        .filter(|(_, (v, _))| v == "möglich")
        .filter_map(|(n, _)| n.strip_prefix("interview:"))
        .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .collect())
}

/// An application that is not planned, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub reference: String,
    pub reason: String,
}

/// The plan with what staff need to read it.
#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    pub plan: Plan,
    /// interview state by application id (pinned, released, cancelled).
    pub states: HashMap<i64, InterviewState>,
    pub skipped: Vec<Skipped>,
}

impl Schedule {
    /// The plan as German lines for staff mail and the CLI.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for a in &self.plan.assigned {
            let state = match self.states.get(&a.application_id) {
                Some(InterviewState::Released) => "eingeladen",
                Some(InterviewState::Pinned) => "festgelegt, noch nicht versandt",
                Some(InterviewState::Cancelled) | None => "geplant, noch nicht versandt",
            };
            out.push(format!(
                "{}–{} Uhr: {} ({state})",
                german::format_datetime(&a.slot.start).trim_end_matches(" Uhr"),
                a.slot.end.format("%H:%M"),
                a.reference
            ));
        }
        for u in &self.plan.unplaced {
            out.push(format!(
                "Ohne Termin: {} ({})",
                u.reference,
                u.reason.text()
            ));
        }
        for s in &self.skipped {
            out.push(format!("Nicht eingeplant: {} ({})", s.reference, s.reason));
        }
        out
    }
}

/// Computes the plan of `desk`'s programme, on its interview days: pinned
/// and released interviews stay; every complete, on-time application of the
/// programme without an interview is placed on a ticked day.
pub async fn current(desk: &Desk<'_>, tx: &mut Tx<'_>) -> anyhow::Result<Schedule> {
    let code = &desk.programme.code;
    let existing = interviews::all_in_tx(tx, code).await?;
    let by_app: HashMap<i64, &Interview> = existing.iter().map(|i| (i.application_id, i)).collect();
    let mut candidates = Vec::new();
    let mut skipped = Vec::new();
    let mut fixed = Vec::new();
    let mut references = HashMap::new();
    for a in applications::list_tx(tx).await? {
        if a.merged_into.is_some() || a.programme != *code {
            continue;
        }
        references.insert(a.id, a.reference.clone());
        let not_planned = match by_app.get(&a.id) {
            Some(i) if i.state == InterviewState::Cancelled => Some("Gespräch abgesagt"),
            Some(i) => {
                if let Some(start) = i.start() {
                    fixed.push(Fixed {
                        application_id: a.id,
                        start: german::to_berlin(&start),
                    });
                }
                continue;
            }
            None if a.late => Some("nach der Frist eingegangen"),
            None if !a.complete => Some("Unterlagen unvollständig"),
            None => None,
        };
        if let Some(reason) = not_planned {
            skipped.push(Skipped {
                reference: a.reference.clone(),
                reason: reason.into(),
            });
            continue;
        }
        candidates.push(Candidate {
            application_id: a.id,
            reference: a.reference.clone(),
            ticked: ticked(tx, a.id).await?,
        });
    }
    let mut plan = plan::plan(
        &desk.programme.interview_days,
        rules(desk),
        &candidates,
        &fixed,
    );
    for a in &mut plan.assigned {
        if a.reference.is_empty()
            && let Some(r) = references.get(&a.application_id)
        {
            a.reference = r.clone();
        }
    }
    let states = existing
        .iter()
        .map(|i| (i.application_id, i.state))
        .collect();
    Ok(Schedule {
        plan,
        states,
        skipped,
    })
}

/// What a release did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Released {
    pub invited: Vec<String>,
    pub mails: usize,
    pub without_slot: Vec<String>,
}

/// The interview's UID: the stored one, or a new one for the application.
fn uid_of(desk: &Desk<'_>, existing: Option<&Interview>, application_id: i64) -> String {
    existing.map_or_else(|| uid(desk, application_id), |i| i.uid.clone())
}

fn uid(desk: &Desk<'_>, application_id: i64) -> String {
    format!(
        "interview-{application_id}.{}@{}",
        desk.settings.instance.name, desk.settings.instance.domain
    )
}

/// Releases the plan: every planned or pinned interview is stored as
/// released and its invitations are queued; applicants without a slot are
/// asked for other times and staff are told. Running it again sends only
/// what is new.
pub async fn release(desk: &Desk<'_>, tx: &mut Tx<'_>) -> ActionResult<Released> {
    if crate::config::programme::is_placeholder_link(&desk.programme.interviews.zoom_link) {
        return refuse(
            "Der Zoom-Link der Gespräche fehlt oder ist noch der Platzhalter \
             (interviews.zoom_link in der Programmdatei); nichts wurde versandt.",
        );
    }
    let schedule = current(desk, tx).await?;
    let mut out = Released::default();
    for a in &schedule.plan.assigned {
        if schedule.states.get(&a.application_id) == Some(&InterviewState::Released) {
            continue;
        }
        let Some(application) = applications::get(tx, a.application_id).await? else {
            continue;
        };
        let start = a.slot.start.with_timezone(&Utc);
        let end = a.slot.end.with_timezone(&Utc);
        let row = interviews::upsert(
            tx,
            &interviews::NewInterview {
                application_id: application.id,
                uid: &uid(desk, application.id),
                start,
                end,
                state: InterviewState::Released,
                sequence: 0,
                sent: true,
            },
        )
        .await?;
        out.mails += invitations::queue(desk, tx, &application, &row, Kind::Invite, None).await?;
        out.invited.push(application.reference.clone());
    }
    for u in &schedule.plan.unplaced {
        let Some(application) = applications::get(tx, u.application_id).await? else {
            continue;
        };
        out.mails += notices::no_slot(
            desk,
            tx,
            &application,
            matches!(u.reason, plan::Reason::NoDateTicked),
        )
        .await?;
        out.without_slot
            .push(format!("{}: {}", application.reference, u.reason.text()));
    }
    if !out.without_slot.is_empty() {
        notices::staff(
            desk,
            tx,
            &format!("staff-unplaced:{}", out.without_slot.join(",")),
            "Bewerbungen ohne Gesprächstermin",
            "Diese Bewerbungen haben keinen Gesprächstermin bekommen. Sie wurden gebeten, andere Zeiten zu nennen. Mit VERSCHIEBEN <Nummer> <Datum> <Uhrzeit> legen Sie einen Termin fest.",
            &out.without_slot,
            "",
        )
        .await?;
    }
    Ok(out)
}

/// Parses "2026-06-30", "30.06.2026" or "30.6.2026" and "10:00"/"10.00".
pub fn parse_local(date: &str, time: &str) -> Option<NaiveDateTime> {
    let d = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(date.trim(), "%d.%m.%Y"))
        .ok()?;
    let t = time.trim().trim_end_matches("Uhr").trim().replace('.', ":");
    let t = chrono::NaiveTime::parse_from_str(&t, "%H:%M").ok()?;
    Some(d.and_time(t))
}

/// Moves (or, before release, pins) the interview of `reference` to `local`
/// (Europe/Berlin). A released interview gets SEQUENCE+1 and an update mail.
pub async fn move_to(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    reference: &str,
    local: NaiveDateTime,
) -> ActionResult<String> {
    let application = actions::application(tx, reference).await?;
    actions::same_programme(desk, &application)?;
    let Some(start) = german::from_berlin(local) else {
        return refuse(format!(
            "{}: {local} gibt es in deutscher Zeit nicht eindeutig",
            application.reference
        ));
    };
    let end = start + Duration::minutes(i64::from(desk.programme.interview_minutes));
    let fits = desk.programme.interview_days.iter().any(|d| {
        d.slot.start.with_timezone(&Utc) <= start && end <= d.slot.end.with_timezone(&Utc)
    });
    if !fits {
        return refuse(format!(
            "{}: {} liegt nicht in einem Gesprächsfenster der Programmdatei",
            application.reference,
            german::format_datetime(&start)
        ));
    }
    let buffer = Duration::minutes(i64::from(desk.programme.interviews.buffer_minutes));
    for other in interviews::all_in_tx(tx, &desk.programme.code).await? {
        if other.application_id == application.id || other.state == InterviewState::Cancelled {
            continue;
        }
        if let (Some(s), Some(e)) = (other.start(), other.end())
            && s < end + buffer
            && start < e + buffer
        {
            let reference = applications::get(tx, other.application_id)
                .await?
                .map(|a| a.reference)
                .unwrap_or_default();
            return refuse(format!(
                "{}: {} überschneidet sich mit dem Gespräch von {reference}",
                application.reference,
                german::format_datetime(&start)
            ));
        }
    }
    let existing = interviews::for_application(tx, application.id).await?;
    let (state, sequence, kind, previous) = match &existing {
        Some(i) if i.sent => (
            InterviewState::Released,
            i.sequence + 1,
            Some(if i.state == InterviewState::Cancelled {
                Kind::Invite
            } else {
                Kind::Update
            }),
            i.start()
                .zip(i.end())
                .filter(|_| i.state != InterviewState::Cancelled),
        ),
        _ => (InterviewState::Pinned, 0, None, None),
    };
    let row = interviews::upsert(
        tx,
        &interviews::NewInterview {
            application_id: application.id,
            uid: &uid_of(desk, existing.as_ref(), application.id),
            start,
            end,
            state,
            sequence,
            sent: state == InterviewState::Released,
        },
    )
    .await?;
    let when = invitations::when(start, end);
    match kind {
        Some(kind) => {
            invitations::queue(desk, tx, &application, &row, kind, previous).await?;
            Ok(format!(
                "{} verschoben auf {when}; neue Einladung (SEQUENCE {sequence}) geht hinaus",
                application.reference
            ))
        }
        None => Ok(format!(
            "{} festgelegt auf {when}; Versand mit FREIGEBEN EINLADUNGEN",
            application.reference
        )),
    }
}

/// Cancels the interview of `reference`; a released one gets a CANCEL mail.
pub async fn cancel(desk: &Desk<'_>, tx: &mut Tx<'_>, reference: &str) -> ActionResult<String> {
    let application = actions::application(tx, reference).await?;
    actions::same_programme(desk, &application)?;
    let existing = interviews::for_application(tx, application.id).await?;
    if existing
        .as_ref()
        .is_some_and(|i| i.state == InterviewState::Cancelled)
    {
        return refuse(format!(
            "{}: das Gespräch ist bereits abgesagt",
            application.reference
        ));
    }
    let now = Utc::now();
    let (start, end) = existing
        .as_ref()
        .and_then(|i| i.start().zip(i.end()))
        .unwrap_or((now, now));
    let sent = existing.as_ref().is_some_and(|i| i.sent);
    let sequence = existing
        .as_ref()
        .map_or(0, |i| i.sequence + i64::from(sent));
    let row = interviews::upsert(
        tx,
        &interviews::NewInterview {
            application_id: application.id,
            uid: &uid_of(desk, existing.as_ref(), application.id),
            start,
            end,
            state: InterviewState::Cancelled,
            sequence,
            sent,
        },
    )
    .await?;
    if sent {
        invitations::queue(desk, tx, &application, &row, Kind::Cancel, None).await?;
        Ok(format!(
            "{}: Gespräch abgesagt; Absage mit Kalenderdatei geht hinaus",
            application.reference
        ))
    } else {
        Ok(format!(
            "{}: wird nicht eingeplant (noch keine Einladung versandt)",
            application.reference
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_local;

    #[test]
    fn staff_dates_and_times_parse_in_both_spellings() {
        let want = chrono::NaiveDate::from_ymd_opt(2026, 6, 30)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap();
        assert_eq!(parse_local("30.06.2026", "10:00"), Some(want));
        assert_eq!(parse_local("2026-06-30", "10.00 Uhr"), Some(want));
        assert_eq!(parse_local("30.6.2026", "10:00"), Some(want));
        assert_eq!(parse_local("31.02.2026", "10:00"), None);
        assert_eq!(parse_local("30.06.2026", "25:00"), None);
    }
}
