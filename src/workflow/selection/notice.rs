//! The outcome notice of a decision, to the applicant's address: one per
//! municipality, keyed by application and revision.

use super::Outcome;
use crate::calendar::german;
use crate::context::App;
use crate::domain::EmailAddress;
use crate::outbox::compose::Draft;
use crate::store::Tx;
use crate::store::applications::Application;
use crate::store::outbox::NewMail;
use crate::workflow::{mails, people};

/// The first module (or learning group) as one German line.
fn first_event(app: &App) -> String {
    if let Some(m) = app.programme.modules.first()
        && let (Some(first), Some(last)) = (m.days.first(), m.days.last())
    {
        return format!(
            "{}: {}, {}",
            m.title,
            german::format_slot(&first.start, &last.end),
            m.place
        );
    }
    app.programme
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

pub(super) async fn compose(
    app: &App,
    tx: &mut Tx<'_>,
    application: &Application,
    outcome: Outcome,
    persons: i64,
    revision: i64,
    correction: bool,
) -> anyhow::Result<NewMail> {
    let to = EmailAddress::parse(&application.applicant)?;
    let people = people::of(tx, application).await?;
    let context = mails::DecisionMail {
        short_name: app.programme.short_name.clone(),
        programme: app.programme.name.clone(),
        reference: application.reference.clone(),
        municipality: people.municipality,
        outcome: outcome.as_str().into(),
        accepted: outcome == Outcome::Accept,
        rejected: outcome == Outcome::Reject,
        waitlisted: outcome == Outcome::Waitlist,
        persons,
        first_event: first_event(app),
        contact_name: app.settings.mail.from_name.clone(),
        contact_address: app.settings.mail.from_address.to_string(),
    };
    let template = if correction {
        "decision_correction".to_string()
    } else {
        format!("decision_{}", outcome.as_str())
    };
    let rendered = app.templates.render(&template, &context)?;
    let draft = Draft::generated(
        format!(
            "{}:{}:r{revision}",
            if correction {
                "decision-correction"
            } else {
                "decision"
            },
            application.id
        ),
        &template,
        Some(application.id),
        &to,
        rendered,
    );
    app.composer.compose(draft)
}
