//! Selection: staff record accept, reject or waitlist. Each decision writes
//! its outcome notice to the outbox as `held`; a changed decision replaces
//! the held notice; staff preview and release them all at once. After
//! release a change goes out only as an explicit correction.

mod notice;
pub mod preview;

use crate::store::applications::{self, Application};
use crate::store::decisions::NoticeState;
use crate::store::{Tx, decisions, outbox, participants};
use crate::workflow::actions::{self, ActionResult, refuse};
use crate::workflow::desk::Desk;
use crate::workflow::people;
use serde::Serialize;

/// The outbox batch the notices wait in.
pub const BATCH: &str = "notices";

/// The outbox batch the notices of `desk`'s programme are held in:
/// [`BATCH`] for the legacy programme (as before part 9), `CODE:notices`
/// for the others, so each programme's notices are previewed and released
/// on their own.
pub fn batch(desk: &Desk<'_>) -> String {
    format!("{}{BATCH}", desk.programme.key_scope)
}

pub use crate::store::decisions::Outcome;

impl Outcome {
    /// The outcome as staff write it: `accept`/`zusage`, `reject`/`absage`,
    /// `waitlist`/`warteliste`, in any case.
    pub fn from_words(s: &str) -> Option<Outcome> {
        match s.trim().to_ascii_lowercase().as_str() {
            "accept" | "zusage" => Some(Outcome::Accept),
            "reject" | "absage" => Some(Outcome::Reject),
            "waitlist" | "warteliste" => Some(Outcome::Waitlist),
            _ => None,
        }
    }

    pub fn german(self) -> &'static str {
        match self {
            Outcome::Accept => "Zusage",
            Outcome::Reject => "Absage",
            Outcome::Waitlist => "Warteliste",
        }
    }
}

/// Refuses a decision that would break the capacity rules of the programme.
async fn check_capacity(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    application: &Application,
    outcome: Outcome,
    persons: i64,
) -> ActionResult<()> {
    if outcome != Outcome::Accept {
        return Ok(());
    }
    let rules = &desk.programme.selection;
    let others: Vec<decisions::Decision> = decisions::all_in_tx(tx, &desk.programme.code)
        .await?
        .into_iter()
        .filter(|d| d.outcome == Outcome::Accept && d.application_id != application.id)
        .collect();
    if others.len() as u64 >= u64::from(rules.max_municipalities) {
        return refuse(format!(
            "{}: schon {} Zusagen – höchstens {} Kommunen",
            application.reference,
            others.len(),
            rules.max_municipalities
        ));
    }
    let two = others.iter().filter(|d| d.persons == 2).count() as u64;
    if persons == 2 && two >= u64::from(rules.max_two_person) {
        return refuse(format!(
            "{}: schon {two} Kommunen mit zwei Personen – höchstens {}",
            application.reference, rules.max_two_person
        ));
    }
    Ok(())
}

/// Records a decision before its notice is released; the held notice is
/// replaced. After release, staff must use [`correct`].
pub async fn decide(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    reference: &str,
    outcome: Outcome,
    persons: u8,
    by: &str,
) -> ActionResult<String> {
    let application = actions::application(tx, reference).await?;
    actions::same_programme(desk, &application)?;
    let persons = persons_for(outcome, persons)?;
    if let Some(d) = decisions::get(tx, application.id).await?
        && d.notice == NoticeState::Released
    {
        return refuse(format!(
            "{}: der Bescheid ({}) ist schon versandt; für eine Änderung schreiben Sie KORREKTUR {} {}",
            application.reference,
            d.outcome.german(),
            outcome.german().to_uppercase(),
            application.reference
        ));
    }
    check_capacity(desk, tx, &application, outcome, persons).await?;
    let revision =
        decisions::set(tx, application.id, outcome, persons, NoticeState::Held, by).await?;
    let replaced = outbox::withdraw_held(tx, &batch(desk), application.id).await?;
    notice::write(desk, tx, &application, outcome, persons, revision, false).await?;
    Ok(format!(
        "{}: {}{}{} (Bescheid wartet auf FREIGEBEN BESCHEIDE)",
        application.reference,
        outcome.german(),
        if persons == 2 { ", 2 Personen" } else { "" },
        if replaced > 0 {
            "; ersetzt die vorige Entscheidung"
        } else {
            ""
        }
    ))
}

fn persons_for(outcome: Outcome, persons: u8) -> ActionResult<i64> {
    match (outcome, persons) {
        (Outcome::Accept, 1 | 2) => Ok(i64::from(persons)),
        (Outcome::Accept, _) => refuse("eine Kommune entsendet eine oder zwei Personen"),
        _ => Ok(1),
    }
}

/// Changes a decision whose notice was released: a correction mail goes out
/// at once and the roster follows.
pub async fn correct(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    reference: &str,
    outcome: Outcome,
    persons: u8,
    by: &str,
) -> ActionResult<String> {
    let application = actions::application(tx, reference).await?;
    actions::same_programme(desk, &application)?;
    let persons = persons_for(outcome, persons)?;
    let Some(previous) = decisions::get(tx, application.id).await? else {
        return refuse(format!(
            "{}: es gibt noch keine Entscheidung; schreiben Sie {} {}",
            application.reference,
            outcome.german().to_uppercase(),
            application.reference
        ));
    };
    if previous.notice != NoticeState::Released {
        return refuse(format!(
            "{}: der Bescheid ist noch nicht versandt; schreiben Sie einfach {} {}",
            application.reference,
            outcome.german().to_uppercase(),
            application.reference
        ));
    }
    if previous.outcome == outcome && previous.persons == persons {
        return refuse(format!(
            "{}: die Entscheidung ist bereits {}",
            application.reference,
            outcome.german()
        ));
    }
    check_capacity(desk, tx, &application, outcome, persons).await?;
    let revision = decisions::set(
        tx,
        application.id,
        outcome,
        persons,
        NoticeState::Released,
        by,
    )
    .await?;
    notice::write(desk, tx, &application, outcome, persons, revision, true).await?;
    participants::deactivate_application(tx, application.id).await?;
    if outcome == Outcome::Accept {
        enrol(tx, &application, persons).await?;
    }
    Ok(format!(
        "{}: korrigiert auf {}; die Korrektur geht hinaus",
        application.reference,
        outcome.german()
    ))
}

/// What a release did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Released {
    pub notices: u64,
    pub participants: usize,
    /// What staff must complete by hand (e.g. a second person without address).
    pub to_complete: Vec<String>,
}

/// Releases every held notice (after the capacity check of the whole
/// round) and puts the accepted applications on the roster.
pub async fn release(desk: &Desk<'_>, tx: &mut Tx<'_>) -> ActionResult<Released> {
    let all = decisions::all_in_tx(tx, &desk.programme.code).await?;
    let accepted: Vec<&decisions::Decision> = all
        .iter()
        .filter(|d| d.outcome == Outcome::Accept)
        .collect();
    let rules = &desk.programme.selection;
    let two = accepted.iter().filter(|d| d.persons == 2).count();
    if accepted.len() as u64 > u64::from(rules.max_municipalities)
        || two as u64 > u64::from(rules.max_two_person)
    {
        return refuse(format!(
            "{} Zusagen ({two} mit zwei Personen) – erlaubt sind {} ({}); nichts freigegeben",
            accepted.len(),
            rules.max_municipalities,
            rules.max_two_person
        ));
    }
    let released = decisions::release_in(tx, &desk.programme.code).await?;
    if released.is_empty() {
        return refuse("es warten keine Bescheide auf Freigabe");
    }
    let notices = outbox::release_held(tx, &batch(desk)).await?;
    let mut out = Released {
        notices,
        ..Released::default()
    };
    for id in released {
        let Some(d) = all.iter().find(|d| d.application_id == id) else {
            continue;
        };
        if d.outcome != Outcome::Accept {
            continue;
        }
        if let Some(application) = applications::get(tx, id).await? {
            let added = enrol(tx, &application, d.persons).await?;
            if d.persons == 2 && added < 2 {
                out.to_complete.push(format!(
                    "{}: Adresse der zweiten Person fehlt (postbote participants import)",
                    application.reference
                ));
            }
            out.participants += added;
        }
    }
    Ok(out)
}

/// Puts an accepted application's people on the roster; returns how many
/// participants (supervisors are listed but not counted).
async fn enrol(tx: &mut Tx<'_>, application: &Application, persons: i64) -> anyhow::Result<usize> {
    let people = people::of(tx, application).await?;
    let mut rows = vec![(
        people.person.name.clone(),
        people.person.email.to_string(),
        "participant",
    )];
    if persons == 2 && people.applicant.key() != people.person.email.key() {
        // NOTE: the questionnaire asks for the second person's name only; the
        // applicant's address stands in until staff import the real one.
        rows.push((
            people.second_name.clone(),
            people.applicant.to_string(),
            "participant",
        ));
    }
    let added = rows.len();
    if let Some(s) = &people.supervisor {
        rows.push((s.name.clone(), s.email.to_string(), "supervisor"));
    }
    for (name, email, role) in &rows {
        participants::upsert(
            tx,
            &participants::NewParticipant {
                programme: &application.programme,
                application_id: Some(application.id),
                municipality: &people.municipality,
                name: name.as_deref(),
                email,
                role,
                source: "selection",
            },
        )
        .await?;
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::testing;
    use crate::store::applications::NewApplication;

    async fn application_of(app: &crate::context::App, programme: &str, n: u32) -> Application {
        let first = crate::store::testing::message(&app.store, n).await;
        let applicant = format!("a{n}@x.test");
        let mut tx = app.store.begin().await.unwrap();
        let a = applications::create(
            &mut tx,
            &NewApplication {
                programme,
                applicant: &applicant,
                applicant_name: None,
                subject: None,
                first_message: first,
                received_at: chrono::Utc::now(),
                late: false,
                duplicate_of: None,
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        a
    }

    #[tokio::test]
    async fn each_programme_previews_and_releases_only_its_own_notices() {
        let dir = tempfile::tempdir().unwrap();
        let app = testing::two_programmes(dir.path()).await;
        let ews7 = app.programmes.get("EWS7").unwrap();
        let ews8 = app.programmes.get("EWS8").unwrap();
        let (d7, d8) = (app.desk_for(ews7), app.desk_for(ews8));
        let a7 = application_of(&app, "EWS7", 1).await;
        let a8 = application_of(&app, "EWS8", 2).await;
        assert_eq!(a8.reference, "EWS8-0001");
        let mut tx = app.store.begin().await.unwrap();
        decide(&d7, &mut tx, &a7.reference, Outcome::Accept, 1, "t")
            .await
            .unwrap();
        decide(&d8, &mut tx, &a8.reference, Outcome::Reject, 1, "t")
            .await
            .unwrap();
        // A decision on another programme's application is refused.
        let wrong = decide(&d7, &mut tx, &a8.reference, Outcome::Accept, 1, "t").await;
        assert!(
            matches!(&wrong, Err(actions::ActionError::Refused(why)) if why.contains("EWS8")),
            "{wrong:?}"
        );
        assert_eq!(batch(&d7), "notices", "the legacy batch as before");
        assert_eq!(batch(&d8), "EWS8:notices");
        let held7 = preview::held(&d7, &mut tx).await.unwrap();
        let held8 = preview::held(&d8, &mut tx).await.unwrap();
        assert_eq!(held7.len(), 1);
        assert_eq!(held8.len(), 1);
        assert_eq!(held8[0].to, "a2@x.test");

        let r = release(&d8, &mut tx).await.unwrap();
        assert_eq!(r.notices, 1);
        assert!(preview::held(&d8, &mut tx).await.unwrap().is_empty());
        // EWS 7's notice is still held and its decision not released.
        assert_eq!(preview::held(&d7, &mut tx).await.unwrap().len(), 1);
        let d = decisions::get(&mut tx, a7.id).await.unwrap().unwrap();
        assert_eq!(d.notice, NoticeState::Held);
        let r = release(&d7, &mut tx).await.unwrap();
        assert_eq!((r.notices, r.participants), (1, 1));
        tx.commit().await.unwrap();
        let roster = crate::store::participants::active_participants(&app.store, "EWS7")
            .await
            .unwrap();
        assert_eq!(roster.len(), 1);
        assert!(
            crate::store::participants::active_participants(&app.store, "EWS8")
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn the_interview_plan_of_a_programme_holds_only_its_applications() {
        let dir = tempfile::tempdir().unwrap();
        let app = testing::two_programmes(dir.path()).await;
        let d8 = app.desk_for(app.programmes.get("EWS8").unwrap());
        let a7 = application_of(&app, "EWS7", 1).await;
        let a8 = application_of(&app, "EWS8", 2).await;
        let mut tx = app.store.begin().await.unwrap();
        let plan = crate::workflow::interviews::schedule::current(&d8, &mut tx)
            .await
            .unwrap();
        let named: Vec<&str> = plan.skipped.iter().map(|s| s.reference.as_str()).collect();
        assert_eq!(named, [a8.reference.as_str()], "{plan:?}");
        // Moving another programme's interview is refused.
        let local = chrono::NaiveDate::from_ymd_opt(2026, 6, 29)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap();
        let moved =
            crate::workflow::interviews::schedule::move_to(&d8, &mut tx, &a7.reference, local)
                .await;
        assert!(moved.is_err(), "{moved:?}");
    }

    #[tokio::test]
    async fn a_command_without_a_code_is_refused_while_two_programmes_are_active() {
        let dir = tempfile::tempdir().unwrap();
        let app = testing::two_programmes(dir.path()).await;
        let desk = app.desk();
        let why = desk.resolve_programme(None).unwrap_err();
        assert!(why.contains("Kürzel: EWS7, EWS8"), "{why}");
        assert_eq!(desk.resolve_programme(Some("ews8")).unwrap().code, "EWS8");
        let unknown = desk.resolve_programme(Some("EWS5")).unwrap_err();
        assert!(unknown.contains("EWS5"), "{unknown}");
    }
}
