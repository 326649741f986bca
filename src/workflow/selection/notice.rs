//! The outcome notice of a decision, to the applicant's address: one per
//! municipality, keyed by application and revision. A notice waits as held
//! in its programme's batch ([`super::batch`]) for staff to release it; a correction goes out at once.

use super::{Outcome, batch};
use crate::calendar::german;
use crate::domain::EmailAddress;
use crate::outbox::{Cap, Letter};
use crate::store::Tx;
use crate::store::applications::Application;
use crate::store::outbox::Enqueued;
use crate::workflow::desk::Desk;
use crate::workflow::{mails, people};

/// The first module (or learning group) as one German line.
fn first_event(desk: &Desk<'_>) -> String {
    if let Some(m) = desk.programme.modules.first()
        && let (Some(first), Some(last)) = (m.days.first(), m.days.last())
    {
        return format!(
            "{}: {}, {}",
            m.title,
            german::format_slot(&first.start, &last.end),
            m.place
        );
    }
    desk.programme
        .learning_groups
        .first()
        .map(|g| {
            format!(
                "{}: {}",
                g.title,
                german::format_slot(&g.slot.start, &g.slot.end)
            )
        })
        .unwrap_or_default()
}

/// Writes the notice of a decision: held in the programme's batch, or as a `correction`
/// to be sent now.
pub(super) async fn write(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    application: &Application,
    outcome: Outcome,
    persons: i64,
    revision: i64,
    correction: bool,
) -> anyhow::Result<Enqueued> {
    let to = EmailAddress::parse(&application.applicant)?;
    let people = people::of(tx, application).await?;
    let context = mails::DecisionMail {
        short_name: desk.programme.short_name.clone(),
        programme: desk.programme.name.clone(),
        reference: application.reference.clone(),
        municipality: people.municipality,
        outcome: outcome.as_str().into(),
        accepted: outcome == Outcome::Accept,
        rejected: outcome == Outcome::Reject,
        waitlisted: outcome == Outcome::Waitlist,
        persons,
        first_event: first_event(desk),
        contact_name: desk.settings.mail.from_name.clone(),
        contact_address: desk.settings.mail.from_address.to_string(),
    };
    let template = if correction {
        "decision_correction".to_string()
    } else {
        format!("decision_{}", outcome.as_str())
    };
    let letter = Letter::new(
        &template,
        format!(
            "{}:{}:r{revision}",
            if correction {
                "decision-correction"
            } else {
                "decision"
            },
            application.id
        ),
        Some(application.id),
        &to,
    );
    if correction {
        desk.mailer
            .queue(tx, letter, &context, Cap::StaffCaused)
            .await
    } else {
        desk.mailer.hold(tx, letter, &context, &batch(desk)).await
    }
}
