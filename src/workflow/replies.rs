//! Replies to what postbote sent about interviews and decisions ("passt
//! leider nicht", a new date, an Outlook meeting response): recognised by
//! In-Reply-To/References, brought to staff, never answered automatically.

use super::notices;
use crate::context::App;
use crate::intake::Incoming;
use crate::store::Tx;

/// The purposes whose replies need a human.
const HUMAN_PURPOSES: &[&str] = &[
    "interview_invitation",
    "interview_update",
    "interview_cancel",
    "interview_no_slot",
    "decision_accept",
    "decision_reject",
    "decision_waitlist",
    "decision_correction",
    "event_reminder",
    "event_announcement",
    "event_update",
    "event_cancel",
];

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
) -> anyhow::Result<Option<(String, Option<i64>)>> {
    let Some(from) = &mail.from else {
        return Ok(None);
    };
    if !reports_absence(&format!("{}\n{}", mail.subject, mail.body_start)) {
        return Ok(None);
    }
    let row: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT application_id FROM participants WHERE email = ? AND active = 1 LIMIT 1",
    )
    .bind(from.key())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|application| ("event_reminder".to_string(), application)))
}

/// The mail of ours this one answers: (purpose, application id).
pub async fn parent(
    tx: &mut Tx<'_>,
    mail: &Incoming,
) -> anyhow::Result<Option<(String, Option<i64>)>> {
    let ids: Vec<&String> = mail
        .in_reply_to
        .iter()
        .chain(mail.references.iter().rev())
        .collect();
    for id in ids {
        let row: Option<(String, Option<i64>)> =
            sqlx::query_as("SELECT purpose, application_id FROM outbox WHERE message_id = ?")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
        if let Some((purpose, application)) = row
            && HUMAN_PURPOSES.contains(&purpose.as_str())
        {
            return Ok(Some((purpose, application)));
        }
    }
    Ok(None)
}

/// Tells staff at once, with an excerpt; once per message.
pub async fn bring_to_staff(
    app: &App,
    tx: &mut Tx<'_>,
    row: i64,
    mail: &Incoming,
    purpose: &str,
    application_id: Option<i64>,
) -> anyhow::Result<()> {
    let reference = match application_id {
        Some(id) => crate::store::applications::get(tx, id)
            .await?
            .map(|a| a.reference),
        None => None,
    };
    let absence = purpose.starts_with("event") && reports_absence(&mail.body_start);
    let about = match purpose {
        _ if absence => "einen Termin: Absage oder Abwesenheit",
        p if p.starts_with("interview") => "eine Einladung zum Kennenlerngespräch",
        p if p.starts_with("event") => "eine Terminerinnerung",
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
        app,
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
