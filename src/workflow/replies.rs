//! Replies to what postbote sent about interviews and decisions ("passt
//! leider nicht", a new date, an Outlook meeting response): recognised by
//! In-Reply-To/References, brought to staff, never answered automatically.

use super::notices;
use crate::intake::Incoming;
use crate::store::outbox::{self, Purpose};
use crate::store::{Tx, participants};
use crate::workflow::desk::Desk;

/// The purposes whose replies need a human.
const HUMAN_PURPOSES: &[Purpose] = &[
    Purpose::InterviewInvitation,
    Purpose::InterviewUpdate,
    Purpose::InterviewCancel,
    Purpose::InterviewNoSlot,
    Purpose::DecisionAccept,
    Purpose::DecisionReject,
    Purpose::DecisionWaitlist,
    Purpose::DecisionCorrection,
    Purpose::EventReminder,
    Purpose::EventAnnouncement,
    Purpose::EventUpdate,
    Purpose::EventCancel,
];

/// Mail about an interview.
fn about_interview(p: Purpose) -> bool {
    matches!(
        p,
        Purpose::InterviewInvitation
            | Purpose::InterviewUpdate
            | Purpose::InterviewCancel
            | Purpose::InterviewNoSlot
    )
}

/// Mail about a programme event.
fn about_event(p: Purpose) -> bool {
    matches!(
        p,
        Purpose::EventReminder
            | Purpose::EventAnnouncement
            | Purpose::EventUpdate
            | Purpose::EventCancel
    )
}

/// Words with which participants call off ("kann leider nicht teilnehmen").
const ABSENCE: &[&str] = &[
    "nicht teilnehmen",
    "kann leider nicht",
    "können leider nicht",
    "kann nicht kommen",
    "nicht kommen",
    "abmelden",
    "abmeldung",
    "absagen",
    "sage ab",
    "sagen ab",
    "verhindert",
    "krank",
    "ausfallen",
];

/// Whether the text reports an absence or a cancellation.
pub fn reports_absence(text: &str) -> bool {
    let t = text.to_lowercase();
    ABSENCE.iter().any(|w| t.contains(w))
}

/// A mail from a participant on the roster that reports an absence, even
/// outside a thread of ours: (purpose, application id).
pub async fn absence_from_participant(
    tx: &mut Tx<'_>,
    mail: &Incoming,
) -> anyhow::Result<Option<(Purpose, Option<i64>)>> {
    let Some(from) = &mail.from else {
        return Ok(None);
    };
    if !reports_absence(&format!("{}\n{}", mail.subject, mail.body_start)) {
        return Ok(None);
    }
    Ok(participants::active_by_email(tx, &from.key())
        .await?
        .map(|p| (Purpose::EventReminder, p.application_id)))
}

/// The mail of ours this one answers: (purpose, application id).
pub async fn parent(
    tx: &mut Tx<'_>,
    mail: &Incoming,
) -> anyhow::Result<Option<(Purpose, Option<i64>)>> {
    let ids: Vec<&String> = mail
        .in_reply_to
        .iter()
        .chain(mail.references.iter().rev())
        .collect();
    for id in ids {
        if let Some(ours) = outbox::by_message_id(tx, id).await?
            && HUMAN_PURPOSES.contains(&ours.purpose)
        {
            return Ok(Some((ours.purpose, ours.application_id)));
        }
    }
    Ok(None)
}

/// Tells staff at once, with an excerpt; once per message.
pub async fn bring_to_staff(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    row: i64,
    mail: &Incoming,
    purpose: Purpose,
    application_id: Option<i64>,
) -> anyhow::Result<()> {
    let reference = match application_id {
        Some(id) => crate::store::applications::get(tx, id)
            .await?
            .map(|a| a.reference),
        None => None,
    };
    let absence = about_event(purpose) && reports_absence(&mail.body_start);
    let about = match purpose {
        _ if absence => "einen Termin: Absage oder Abwesenheit",
        p if about_interview(p) => "eine Einladung zum Kennenlerngespräch",
        p if about_event(p) => "eine Terminerinnerung",
        _ => "einen Bescheid",
    };
    let lines = vec![
        format!(
            "Von: {}",
            mail.from_raw
                .clone()
                .unwrap_or_else(|| "(unbekannt)".into())
        ),
        format!("Betreff: {}", mail.subject),
        format!(
            "Bewerbung: {}",
            reference.unwrap_or_else(|| "(nicht zugeordnet)".into())
        ),
    ];
    let excerpt: String = mail.body_start.chars().take(1500).collect();
    notices::staff(
        desk,
        tx,
        &format!("staff-reply:{row}"),
        &if absence {
            format!("Abmeldung: {about}")
        } else {
            format!("Antwort auf {about}")
        },
        "Diese Antwort braucht Sie: postbote hat sie nicht beantwortet. Die E-Mail liegt im Posteingang.",
        &lines,
        excerpt.trim(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::reports_absence;

    #[test]
    fn absence_phrases_are_recognised() {
        assert!(reports_absence(
            "Leider kann ich am Mittwoch nicht teilnehmen."
        ));
        assert!(reports_absence("Ich bin krank und muss absagen"));
        assert!(reports_absence("Hiermit möchte ich mich abmelden."));
        assert!(!reports_absence("Vielen Dank, ich komme gern."));
    }
}
