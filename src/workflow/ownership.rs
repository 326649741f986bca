//! Applications belong to their sender. Only the address that created an
//! application (its owner) and the addresses staff linked to it may change
//! it. A mail from another address naming the same municipality becomes an
//! application of its own, marked as a possible duplicate, for staff to merge
//! or keep. A changed address of the contact person or the supervisor (who
//! get the interview invitation and go on the roster) is held until staff
//! confirm it, unless the new address is itself linked.
//!
//! Staff commands (by mail, see `commands::parse`):
//! - `VERKNÜPFEN EWS7-0003 name@kommune.de`: link an address;
//! - `ZUSAMMENFÜHREN EWS7-0007 IN EWS7-0003`: merge a duplicate;
//! - `BEHALTEN EWS7-0007`: keep it, clear the duplicate mark;
//! - `ADRESSE BESTÄTIGEN EWS7-0003` / `ADRESSE ABLEHNEN EWS7-0003`: decide
//!   on held address changes.

use crate::domain::EmailAddress;
use crate::store::Tx;
use crate::store::applications::Application;
use crate::store::ownership::{self, HoldState, NewHold};
use crate::workflow::actions::{self, ActionResult, refuse};

/// The guarded address fields, with the facts that change with them.
const GUARDED: [(&str, &[&str]); 2] = [
    ("person_email", &["person_email", "person_name"]),
    ("vorgesetzte_email", &["vorgesetzte_email", "vorgesetzte_name"]),
];

/// German name of a guarded field.
fn field_de(field: &str) -> &'static str {
    match field {
        "person_email" => "Adresse der teilnehmenden Person",
        _ => "Adresse der/des Vorgesetzten",
    }
}

/// The effective values of the guarded fields before a change.
#[derive(Debug, Clone, Default)]
pub struct Before(Vec<Option<String>>);

fn address_key(v: &str) -> String {
    EmailAddress::parse(v.trim())
        .map(|a| a.key())
        .unwrap_or_else(|_| v.trim().to_lowercase())
}

/// Reads the guarded fields' current values.
pub async fn before(tx: &mut Tx<'_>, application_id: i64) -> anyhow::Result<Before> {
    let mut out = Vec::new();
    for (field, _) in GUARDED {
        out.push(ownership::latest_value(tx, application_id, &format!("field:{field}")).await?);
    }
    Ok(Before(out))
}

/// Whether `address` may change `application`: its owner or linked to it.
pub async fn may_change(
    tx: &mut Tx<'_>,
    application: &Application,
    address: &str,
) -> anyhow::Result<bool> {
    let key = address_key(address);
    if key == application.owner {
        return Ok(true);
    }
    Ok(ownership::linked_to(tx, &key).await? == Some(application.id))
}

/// After new facts from `messages` were stored: holds every guarded field
/// whose value changed to an address that may not change the application
/// itself. Returns the notes for staff ("Bitte prüfen").
pub async fn hold_changes(
    tx: &mut Tx<'_>,
    application: &Application,
    before: &Before,
    messages: &[i64],
) -> anyhow::Result<Vec<String>> {
    let mut notes = Vec::new();
    for ((field, names), old) in GUARDED.iter().zip(&before.0) {
        let name = format!("field:{field}");
        let Some(new) = ownership::latest_value(tx, application.id, &name).await? else {
            continue;
        };
        let unchanged = old
            .as_deref()
            .is_some_and(|o| address_key(o) == address_key(&new));
        if unchanged || may_change(tx, application, &new).await? {
            continue;
        }
        let message_row = ownership::latest_message(tx, application.id, &name).await?;
        let hold = NewHold {
            application_id: application.id,
            message_row,
            field,
            old_value: old.as_deref(),
            new_value: new.trim(),
        };
        ownership::hold(tx, &hold, names, messages).await?;
        let was = old.as_deref().unwrap_or("keine");
        notes.push(format!(
            "Geänderte {}: {} (bisher: {was}). Sie wird erst verwendet, wenn Sie zustimmen: \
             ADRESSE BESTÄTIGEN {r} (oder ADRESSE ABLEHNEN {r}). Bis dahin gelten für \
             Einladungen und Teilnehmendenliste die bisherigen Angaben.",
            field_de(field),
            new.trim(),
            r = application.reference
        ));
        tracing::warn!(application = %application.reference, field, "address change held for staff");
    }
    Ok(notes)
}

/// The note for staff on an application that may duplicate another.
pub fn duplicate_note(application: &Application, original: &Application) -> String {
    let municipality = original.municipality.as_deref().unwrap_or("?");
    format!(
        "Mögliches Duplikat von {o}: gleiche Kommune („{municipality}“), aber von einer anderen \
         Adresse ({sender}) als {o} ({owner}). Die Bewerbung {o} bleibt unverändert. \
         Zusammenführen: ZUSAMMENFÜHREN {r} IN {o}. Getrennt behalten: BEHALTEN {r}.",
        o = original.reference,
        r = application.reference,
        sender = application.owner,
        owner = original.owner,
    )
}

/// `VERKNÜPFEN REF ADDRESS`: the address may change the application.
pub async fn link(
    tx: &mut Tx<'_>,
    reference: &str,
    address: &str,
    by: &str,
) -> ActionResult<String> {
    let application = actions::application(tx, reference).await?;
    let Ok(address) = EmailAddress::parse(address.trim()) else {
        return refuse(format!("„{address}“ ist keine E-Mail-Adresse"));
    };
    let key = address.key();
    if application.merged_into.is_some() {
        return refuse(format!(
            "{}: die Bewerbung wurde zusammengeführt",
            application.reference
        ));
    }
    if key == application.owner {
        return Ok(format!(
            "{}: {key} hat die Bewerbung eingereicht und darf sie ohnehin ändern",
            application.reference
        ));
    }
    if let Some(other) = crate::store::applications::find_for_sender(tx, &key).await?
        && other.owner == key
    {
        return refuse(format!(
            "{key} hat die eigene Bewerbung {} eingereicht; bitte ZUSAMMENFÜHREN {} IN {}",
            other.reference, other.reference, application.reference
        ));
    }
    ownership::link(tx, application.id, &key, by).await?;
    tracing::info!(application = %application.reference, "address linked");
    Ok(format!(
        "{}: {key} verknüpft; Nachrichten von dieser Adresse ändern jetzt diese Bewerbung",
        application.reference
    ))
}

/// `BEHALTEN REF`: the application stays on its own; the mark goes.
pub async fn keep(tx: &mut Tx<'_>, reference: &str) -> ActionResult<String> {
    let application = actions::application(tx, reference).await?;
    let Some(original) = application.duplicate_of_reference.as_deref() else {
        return refuse(format!(
            "{}: die Bewerbung ist nicht als mögliches Duplikat markiert",
            application.reference
        ));
    };
    ownership::clear_duplicate(tx, application.id).await?;
    Ok(format!(
        "{}: bleibt eine eigene Bewerbung (nicht mehr als Duplikat von {original} markiert)",
        application.reference
    ))
}

/// `ZUSAMMENFÜHREN FROM IN INTO`: documents, facts and messages of `from`
/// move to `into`; the sender of `from` is linked to `into`; `from` is
/// archived as merged. A changed contact or supervisor address that comes
/// with it is held like any other.
pub async fn merge(
    tx: &mut Tx<'_>,
    from: &str,
    into: &str,
    by: &str,
) -> ActionResult<(String, Vec<String>)> {
    let source = actions::application(tx, from).await?;
    let target = actions::application(tx, into).await?;
    if source.id == target.id {
        return refuse("eine Bewerbung kann nicht mit sich selbst zusammengeführt werden");
    }
    for a in [&source, &target] {
        if a.merged_into.is_some() {
            return refuse(format!(
                "{}: die Bewerbung wurde schon zusammengeführt",
                a.reference
            ));
        }
    }
    if ownership::has_decision_or_interview(tx, source.id).await? {
        return refuse(format!(
            "{}: für die Bewerbung gibt es schon eine Entscheidung oder ein Gespräch",
            source.reference
        ));
    }
    let before = before(tx, target.id).await?;
    let messages = ownership::fact_messages(tx, source.id).await?;
    ownership::merge(tx, source.id, target.id).await?;
    ownership::link(tx, target.id, &source.owner, by).await?;
    for l in ownership::links(tx, source.id).await? {
        ownership::link(tx, target.id, &l.address, by).await?;
    }
    // The source's owner is linked now; its addresses must still be confirmed
    // unless linked themselves, so the check runs as for any other mail.
    let notes = hold_changes(tx, &target, &before, &messages).await?;
    let current = crate::store::documents::current(tx, target.id).await?;
    let complete = super::review::missing(&current, true).is_empty();
    crate::store::applications::set_complete(tx, target.id, complete).await?;
    tracing::info!(from = %source.reference, into = %target.reference, "applications merged");
    Ok((
        format!(
            "{} in {} zusammengeführt: Unterlagen, Angaben und Nachrichten gehören jetzt zu {}; \
             {} ist verknüpft",
            source.reference, target.reference, target.reference, source.owner
        ),
        notes,
    ))
}

/// `ADRESSE BESTÄTIGEN REF` (`confirm`) or `ADRESSE ABLEHNEN REF`: decides
/// on every held address change of the application.
pub async fn decide_held(
    tx: &mut Tx<'_>,
    reference: &str,
    confirm: bool,
    by: &str,
) -> ActionResult<String> {
    let application = actions::application(tx, reference).await?;
    let held = ownership::held(tx, application.id).await?;
    if held.is_empty() {
        return refuse(format!(
            "{}: keine Adressänderung wartet auf Bestätigung",
            application.reference
        ));
    }
    let mut changed = Vec::new();
    for h in &held {
        let names = GUARDED
            .iter()
            .find(|(f, _)| *f == h.field)
            .map(|(_, n)| *n)
            .unwrap_or(&[]);
        if confirm {
            ownership::confirm(tx, h, names, by).await?;
        } else {
            ownership::decide(tx, h.id, HoldState::Rejected, by).await?;
        }
        changed.push(format!("{}: {}", field_de(&h.field), h.new_value));
    }
    Ok(format!(
        "{}: {} {}",
        application.reference,
        if confirm {
            "Adressänderung übernommen –"
        } else {
            "Adressänderung abgelehnt, es gelten die bisherigen Angaben –"
        },
        changed.join("; ")
    ))
}
