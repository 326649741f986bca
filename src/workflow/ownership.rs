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
    (
        "vorgesetzte_email",
        &["vorgesetzte_email", "vorgesetzte_name"],
    ),
];

/// German name of a guarded field.
pub fn field_de(field: &str) -> &'static str {
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
    Ok(ownership::linked_to(tx, &application.programme, &key).await? == Some(application.id))
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
    if let Some(other) =
        crate::store::applications::find_for_sender(tx, &application.programme, &key).await?
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
    if source.programme != target.programme {
        return refuse(format!(
            "{} ({}) und {} ({}) gehören zu verschiedenen Programmen",
            source.reference, source.programme, target.reference, target.programme
        ));
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
    let withdrawn = ownership::withdraw_pending(tx, source.id).await?;
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
    tracing::info!(from = %source.reference, into = %target.reference, withdrawn, "applications merged");
    let mut done = format!(
        "{} in {} zusammengeführt: Unterlagen, Angaben und Nachrichten gehören jetzt zu {}; \
         {} ist verknüpft",
        source.reference, target.reference, target.reference, source.owner
    );
    if withdrawn > 0 {
        done.push_str(&format!(
            "; {withdrawn} noch nicht versandte E-Mail(s) zu {} zurückgezogen",
            source.reference
        ));
    }
    Ok((done, notes))
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

#[cfg(test)]
mod tests {
    use crate::context::{App, testing};
    use crate::documents::analyse::{Analysis, Document, Format, Role};
    use crate::documents::extracted::{Extracted, Field};
    use crate::intake::Incoming;
    use crate::store::outbox::{self, Purpose};
    use crate::store::{applications, ownership};
    use crate::workflow::actions::ActionError;
    use crate::workflow::{applications as intake, people};
    use chrono::{DateTime, Utc};

    fn questionnaire(name: &str, fields: &[(&str, &str)]) -> Analysis {
        let fields = fields
            .iter()
            .map(|(n, v)| Field {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect();
        Analysis {
            documents: vec![Document {
                name: name.into(),
                format: Format::Pdf,
                role: Role::Questionnaire,
                sha256: format!("sha-{name}"),
                size: 100,
                extracted: Some(Extracted {
                    fields,
                    ..Extracted::default()
                }),
                problem: None,
            }],
            body: String::new(),
        }
    }

    fn received(app: &App) -> DateTime<Utc> {
        let day = app.programmes.first().deadline - chrono::Duration::days(3);
        day.and_hms_opt(10, 0, 0).unwrap().and_utc()
    }

    /// Runs one application mail through the workflow; returns the application id.
    async fn mail(app: &App, n: u32, from: &str, extra: &str, analysis: &Analysis) -> i64 {
        let raw = format!(
            "From: Kommune <{from}>\r\nTo: projekt@ews.test\r\nSubject: Bewerbung {n}\r\n\
             Message-ID: <m{n}@test>\r\n{extra}\r\nAnbei.\r\n"
        );
        let row = crate::store::testing::message(&app.store, n).await;
        let incoming = Incoming::parse(raw.as_bytes()).unwrap();
        let mut tx = app.store.begin().await.unwrap();
        let id = intake::receive(
            &app.desk(),
            &mut tx,
            row,
            &incoming,
            received(app),
            analysis,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        id
    }

    async fn person_and_supervisor(app: &App, id: i64) -> (String, Option<String>) {
        let mut tx = app.store.begin().await.unwrap();
        let a = applications::get(&mut tx, id).await.unwrap().unwrap();
        let p = people::of(&mut tx, &a).await.unwrap();
        (
            p.person.email.to_string(),
            p.supervisor.map(|s| s.email.to_string()),
        )
    }

    /// The text of every queued mail of `purpose`, with its recipient.
    async fn mails(app: &App, purpose: Purpose) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for r in outbox::list(&app.store).await.unwrap() {
            if r.purpose != purpose {
                continue;
            }
            let raw = outbox::raw(&app.store, r.id).await.unwrap();
            let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
            let text = parsed.body_text(0).unwrap_or_default().into_owned();
            out.push((r.env_to, format!("{}\n{text}", r.subject)));
        }
        out
    }

    async fn act<T>(
        app: &App,
        f: impl AsyncFnOnce(&mut crate::store::Tx<'_>) -> Result<T, ActionError>,
    ) -> Result<T, String> {
        let mut tx = app.store.begin().await.unwrap();
        match f(&mut tx).await {
            Ok(v) => {
                tx.commit().await.unwrap();
                Ok(v)
            }
            Err(ActionError::Refused(why)) => Err(why),
            Err(ActionError::Storage(e)) => panic!("{e:#}"),
        }
    }

    #[tokio::test]
    async fn a_takeover_attempt_becomes_a_marked_duplicate_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let app = testing::app(dir.path()).await;
        let own = [
            ("kommune_name", "Stadt Ahausen"),
            ("person_email", "erika@ahausen.test"),
            ("vorgesetzte_email", "chefin@ahausen.test"),
        ];
        let first = mail(
            &app,
            1,
            "rathaus@ahausen.test",
            "",
            &questionnaire("Fragebogen-Ahausen.pdf", &own),
        )
        .await;

        // Another address, same municipality, its own people.
        let attack = [
            ("kommune_name", "Stadt Ahausen"),
            ("person_email", "mallory@evil.test"),
            ("vorgesetzte_email", "mallory@evil.test"),
        ];
        let second = mail(
            &app,
            2,
            "mallory@evil.test",
            "Reply-To: other@evil.test\r\n",
            &questionnaire("Fragebogen-Angriff.pdf", &attack),
        )
        .await;

        assert_ne!(first, second);
        let people = person_and_supervisor(&app, first).await;
        assert_eq!(
            people,
            (
                "erika@ahausen.test".into(),
                Some("chefin@ahausen.test".into())
            )
        );
        let mut tx = app.store.begin().await.unwrap();
        let dup = applications::get(&mut tx, second).await.unwrap().unwrap();
        assert_eq!(dup.duplicate_of, Some(first));
        assert_eq!(dup.duplicate_of_reference.as_deref(), Some("EWS7-0001"));
        drop(tx);
        let confirmations = mails(&app, Purpose::Confirmation).await;
        assert_eq!(confirmations.len(), 2, "{confirmations:?}");
        let to_attacker: Vec<_> = confirmations
            .iter()
            .filter(|(to, _)| to.contains("evil"))
            .collect();
        assert_eq!(to_attacker.len(), 1, "{confirmations:?}");
        assert_eq!(to_attacker[0].0, "mallory@evil.test", "not the Reply-To");
        assert!(to_attacker[0].1.contains("Fragebogen-Angriff.pdf"));
        assert!(
            !to_attacker[0].1.contains("Ahausen.pdf"),
            "{}",
            to_attacker[0].1
        );
        let reviews = mails(&app, Purpose::StaffNeedsReview).await;
        assert_eq!(reviews.len(), 1, "{reviews:?}");
        assert_eq!(reviews[0].0, testing::STAFF);
        assert!(
            reviews[0].1.contains("Mögliches Duplikat von EWS7-0001")
                && reviews[0]
                    .1
                    .contains("ZUSAMMENFÜHREN EWS7-0002 IN EWS7-0001"),
            "{}",
            reviews[0].1
        );

        // Linking the attacker's address is refused: it has its own application.
        let refused = act(&app, async |tx| {
            super::link(tx, "EWS7-0001", "mallory@evil.test", "test").await
        })
        .await
        .unwrap_err();
        assert!(refused.contains("ZUSAMMENFÜHREN"), "{refused}");

        // Staff merge: the documents move, the sender is linked, the
        // attacker's addresses are held, not used.
        let (done, notes) = act(&app, async |tx| {
            super::merge(tx, "EWS7-0002", "EWS7-0001", "test").await
        })
        .await
        .unwrap();
        assert!(done.contains("zusammengeführt"), "{done}");
        // The duplicate's confirmation, still queued, is withdrawn (it names
        // a reference merged away) and belongs to the target now.
        assert!(
            done.contains("1 noch nicht versandte E-Mail(s) zu EWS7-0002 zurückgezogen"),
            "{done}"
        );
        let rows: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT application_id, env_to, state FROM outbox WHERE purpose = ?")
                .bind(Purpose::Confirmation)
                .fetch_all(app.store.pool())
                .await
                .unwrap();
        assert_eq!(
            rows,
            vec![
                (
                    first,
                    "rathaus@ahausen.test".to_string(),
                    "queued".to_string()
                ),
                (
                    first,
                    "mallory@evil.test".to_string(),
                    "withdrawn".to_string()
                ),
            ]
        );
        assert_eq!(
            notes.len(),
            0,
            "the attacker's address is linked now: {notes:?}"
        );
        let mut tx = app.store.begin().await.unwrap();
        let merged = applications::get(&mut tx, second).await.unwrap().unwrap();
        assert_eq!(merged.merged_into, Some(first));
        assert_eq!(merged.state, "merged");
        let docs = crate::store::documents::current(&mut tx, first)
            .await
            .unwrap();
        assert_eq!(docs.len(), 1, "{docs:?}");
        assert_eq!(docs[0].name, "Fragebogen-Angriff.pdf");
        assert_eq!(
            ownership::linked_to(&mut tx, "EWS7", "mallory@evil.test")
                .await
                .unwrap(),
            Some(first)
        );
        drop(tx);
        assert_eq!(
            person_and_supervisor(&app, first).await.0,
            "mallory@evil.test",
            "merged by staff, with the sender linked: its own address counts"
        );
    }

    #[tokio::test]
    async fn an_owners_contact_change_is_held_until_staff_confirm_and_a_linked_address_may_update()
    {
        let dir = tempfile::tempdir().unwrap();
        let app = testing::app(dir.path()).await;
        let first = mail(
            &app,
            1,
            "rathaus@bdorf.test",
            "",
            &questionnaire(
                "Fragebogen.pdf",
                &[
                    ("kommune_name", "Gemeinde Bdorf"),
                    ("person_name", "Erika Muster"),
                    ("person_email", "erika@bdorf.test"),
                ],
            ),
        )
        .await;
        // The owner sends a new questionnaire naming another person, with a
        // Reply-To elsewhere.
        let id = mail(
            &app,
            2,
            "Rathaus@bdorf.test",
            "Reply-To: sekretariat@elsewhere.test\r\n",
            &questionnaire(
                "Fragebogen-neu.pdf",
                &[
                    ("kommune_name", "Gemeinde Bdorf"),
                    ("person_name", "Max Neu"),
                    ("person_email", "max@bdorf.test"),
                ],
            ),
        )
        .await;
        assert_eq!(id, first);
        assert_eq!(
            person_and_supervisor(&app, first).await.0,
            "erika@bdorf.test"
        );
        let mut tx = app.store.begin().await.unwrap();
        let a = applications::get(&mut tx, first).await.unwrap().unwrap();
        let p = people::of(&mut tx, &a).await.unwrap();
        assert_eq!(p.person.name.as_deref(), Some("Erika Muster"));
        assert_eq!(ownership::held(&mut tx, first).await.unwrap().len(), 1);
        drop(tx);
        let updates = mails(&app, Purpose::ConfirmationUpdate).await;
        assert_eq!(updates.len(), 1, "{updates:?}");
        assert_eq!(updates[0].0, "rathaus@bdorf.test");
        let reviews = mails(&app, Purpose::StaffNeedsReview).await;
        assert_eq!(reviews.len(), 1, "{reviews:?}");
        assert!(
            reviews[0].1.contains("max@bdorf.test")
                && reviews[0].1.contains("ADRESSE BESTÄTIGEN EWS7-0001"),
            "{}",
            reviews[0].1
        );

        // Staff confirm: the new person is used.
        let done = act(&app, async |tx| {
            super::decide_held(tx, "EWS7-0001", true, "test").await
        })
        .await
        .unwrap();
        assert!(done.contains("max@bdorf.test"), "{done}");
        let mut tx = app.store.begin().await.unwrap();
        let p = people::of(&mut tx, &a).await.unwrap();
        assert_eq!(p.person.email.as_str(), "max@bdorf.test");
        assert_eq!(p.person.name.as_deref(), Some("Max Neu"));
        drop(tx);
        let again = act(&app, async |tx| {
            super::decide_held(tx, "EWS7-0001", true, "test").await
        })
        .await
        .unwrap_err();
        assert!(again.contains("keine Adressänderung"), "{again}");

        // A colleague's mail is its own application until linked ...
        let colleague = questionnaire(
            "Nachtrag.pdf",
            &[
                ("kommune_name", "Gemeinde Bdorf"),
                ("person_email", "kollegin@bdorf.test"),
            ],
        );
        let before_link = mail(&app, 3, "kollegin@bdorf.test", "", &colleague).await;
        assert_ne!(before_link, first);
        let kept = act(&app, async |tx| super::keep(tx, "EWS7-0002").await)
            .await
            .unwrap();
        assert!(kept.contains("eigene Bewerbung"), "{kept}");
        let mut tx = app.store.begin().await.unwrap();
        let b = applications::get(&mut tx, before_link)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(b.duplicate_of, None);
        drop(tx);
        // ... and a linked address updates the application, and its own
        // address as contact needs no confirmation.
        act(&app, async |tx| {
            super::link(tx, "EWS7-0001", "assistenz@bdorf.test", "test").await
        })
        .await
        .unwrap();
        let linked = questionnaire(
            "Fragebogen-3.pdf",
            &[
                ("kommune_name", "Gemeinde Bdorf"),
                ("person_email", "assistenz@bdorf.test"),
            ],
        );
        assert_eq!(
            mail(&app, 4, "assistenz@bdorf.test", "", &linked).await,
            first
        );
        assert_eq!(
            person_and_supervisor(&app, first).await.0,
            "assistenz@bdorf.test"
        );
        let updates = mails(&app, Purpose::ConfirmationUpdate).await;
        assert_eq!(updates.len(), 2, "{updates:?}");
        assert!(updates.iter().all(|(to, _)| to == "rathaus@bdorf.test"));
    }
}
