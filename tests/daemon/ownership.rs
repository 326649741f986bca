//! Part 8: applications belong to their sender. A takeover attempt (another
//! address sending a questionnaire for the same municipality) changes nothing
//! and reaches staff; staff link, merge and confirm address changes by mail.

use crate::fixtures::{filled_pdf_fields, mail, pdf_letter};
use crate::helpers::{
    Deadline, STAFF, TestApp, WAIT, poll_until, spawn_app_with_env, text, wait_subject,
    wait_subjects, with_subject,
};
use crate::interviews::{apply, days};
use std::time::Duration;

/// At least 20 characters (part 8 refuses shorter secrets).
const SECRET: &str = "geheim-4711-lang-genug-fuer-teil-8";

async fn app() -> TestApp {
    spawn_app_with_env(
        Deadline::Future,
        "",
        &[("POSTBOTE_STAFF__COMMAND_SECRET", SECRET)],
    )
    .await
}

/// A fresh, secret-authenticated command mail from staff.
async fn command(app: &TestApp, id: &str, body: &str) {
    let date = chrono::Utc::now().to_rfc2822();
    let raw = format!(
        "From: Leitung <{STAFF}>\r\nTo: projekt@ews.test\r\nSubject: Befehl\r\nDate: {date}\r\n\
         Message-ID: <{id}@leitung.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         {body}\r\nKennwort: {SECRET}\r\n"
    );
    app.deliver(STAFF, &raw).await;
}

/// A questionnaire (and optionally a letter) from `from`, with extra headers.
pub(crate) fn questionnaire_mail(
    app: &TestApp,
    from: &str,
    id: &str,
    extra_headers: &str,
    file: &str,
    fields: &[(&str, &str)],
    letter: bool,
) -> String {
    let d = days(app);
    let form = filled_pdf_fields(&app.programme(), &[d[0]], fields, "Ja");
    let mut files = vec![(file, "application/pdf", form)];
    if letter {
        files.push((
            "Schreiben-2.pdf",
            "application/pdf",
            pdf_letter("Motivationsschreiben", 1),
        ));
    }
    let raw = mail(from, id, "Bewerbung EWS 7", "Anbei.", &files);
    raw.replacen("\r\nTo: ", &format!("\r\n{extra_headers}To: "), 1)
}

pub(crate) async fn latest_fact(app: &TestApp, name: &str) -> String {
    let store = app.store().await;
    sqlx::query_scalar(
        "SELECT value FROM facts WHERE application_id = 1 AND name = ? ORDER BY id DESC LIMIT 1",
    )
    .bind(name)
    .fetch_one(store.pool())
    .await
    .unwrap()
}

/// Waits for a "Bitte prüfen" mail on `reference` whose text contains `needle`.
async fn review_containing(app: &TestApp, reference: &str, needle: &str) -> String {
    let subject = format!("Bitte prüfen: Bewerbung {reference}");
    poll_until(
        &format!("{subject} with {needle}"),
        WAIT,
        Duration::from_millis(200),
        async || {
            let found: Vec<String> = with_subject(app, STAFF, &subject)
                .await
                .iter()
                .map(|m| body(m))
                .collect();
            found
                .iter()
                .find(|b| b.contains(needle))
                .cloned()
                .ok_or_else(|| format!("{found:?}"))
        },
    )
    .await
}

fn body(raw: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.body_text(0).map(|b| b.into_owned()))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_attempt_changes_nothing_and_reaches_staff() {
    // Arrange: Stadt A applied, naming its person and supervisor.
    let app = app().await;
    let d = days(&app);
    let (owner, person, chefin) = (
        "rathaus@stadt-a.test",
        "erika@stadt-a.test",
        "chefin@stadt-a.test",
    );
    apply(
        &app,
        owner,
        "Stadt A",
        &[d[0]],
        &[("person_email", person), ("vorgesetzte_email", chefin)],
    )
    .await;

    // Act: another address sends a questionnaire for Stadt A naming itself,
    // with a Reply-To elsewhere.
    let attacker = "mallory@evil.test";
    let raw = questionnaire_mail(
        &app,
        attacker,
        "takeover-1@evil.test",
        "Reply-To: <sammler@evil.test>\r\n",
        "Fragebogen-Angriff.pdf",
        &[
            ("kommune_name", "Stadt A"),
            ("person_email", attacker),
            ("vorgesetzte_email", attacker),
        ],
        true,
    );
    app.deliver(attacker, &raw).await;

    // Assert: its own application, marked, told to staff.
    let review = review_containing(&app, "EWS7-0002", "Mögliches Duplikat von EWS7-0001").await;
    assert!(
        review.contains("ZUSAMMENFÜHREN EWS7-0002 IN EWS7-0001")
            && review.contains("BEHALTEN EWS7-0002"),
        "{review}"
    );
    let listed = app.cli(&["applications"]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.contains("possible duplicate of EWS7-0001"),
        "{listed}"
    );
    // The attacker's confirmation lists only what its mail brought, and went
    // to its From, not the Reply-To.
    let own = body(&app.wait_for_mail(attacker, 1).await[0]);
    assert!(own.contains("Fragebogen-Angriff.pdf"), "{own}");
    assert!(
        !own.contains("Fragebogen.pdf") && !own.contains("Motivationsschreiben.pdf"),
        "the original's documents are not listed to the attacker: {own}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE env_to LIKE '%sammler%'")
            .await,
        0
    );
    // The original application is unchanged: its people, its mails.
    assert_eq!(latest_fact(&app, "field:person_email").await, person);
    assert_eq!(latest_fact(&app, "field:vorgesetzte_email").await, chefin);
    assert_eq!(
        app.count("SELECT message_count FROM applications WHERE id = 1")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE application_id = 1 AND env_to LIKE '%evil%'")
            .await,
        0
    );

    // Act 2: the interview invitations are released.
    let out = app.cli(&["interviews", "release"]);
    assert!(out.status.success(), "{out:?}");
    // Assert 2: EWS7-0001's invitation goes to its own person and supervisor.
    for who in [person, chefin] {
        let invitation = wait_subject(&app, who, "Einladung zum Kennenlerngespräch").await;
        assert!(invitation.contains("EWS7-0001"), "{invitation}");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE application_id = 1 AND env_to LIKE '%evil%'")
            .await,
        0,
        "nothing about EWS7-0001 ever goes to the attacker"
    );
    assert_eq!(
        app.mails_in(owner, "INBOX").await.len(),
        1,
        "no update to the owner"
    );

    // Forgetting the original leaves the marked duplicate on its own: it
    // stays, without a pointer at the erased application.
    let out = app.cli(&["forget", "EWS7-0001", "--yes"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications WHERE reference = 'EWS7-0002' AND duplicate_of IS NULL")
            .await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_merge_link_and_confirm_a_held_contact_change_by_mail() {
    // Arrange: Stadt B applied; a colleague's questionnaire becomes EWS7-0002.
    let app = app().await;
    let d = days(&app);
    let owner = "amt@stadt-b.test";
    apply(
        &app,
        owner,
        "Stadt B",
        &[d[0]],
        &[
            ("person_name", "Erika B"),
            ("person_email", "erika@stadt-b.test"),
        ],
    )
    .await;
    let colleague = "kollegin@stadt-b.test";
    let raw = questionnaire_mail(
        &app,
        colleague,
        "colleague-1@stadt-b.test",
        "",
        "Fragebogen-Kollegin.pdf",
        &[("kommune_name", "Stadt B")],
        false,
    );
    app.deliver(colleague, &raw).await;
    app.wait_for_mail(colleague, 1).await;
    wait_subject(&app, STAFF, "Bitte prüfen: Bewerbung EWS7-0002").await;

    // Act 1: staff merge it.
    command(&app, "merge-1", "ZUSAMMENFÜHREN EWS7-0002 IN EWS7-0001").await;
    let result = text(&wait_subject(&app, STAFF, "Ergebnis Ihres Befehls").await);
    assert!(
        result.contains("EWS7-0002 in EWS7-0001 zusammengef"),
        "{result}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications WHERE id = 2 AND state = 'merged' AND merged_into = 1")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM documents WHERE application_id = 1 AND name = 'Fragebogen-Kollegin.pdf'")
            .await,
        1
    );

    // Act 2: the owner names another person, with a Reply-To elsewhere.
    let raw = questionnaire_mail(
        &app,
        owner,
        "change-1@stadt-b.test",
        "Reply-To: <sekretariat@other.test>\r\n",
        "Fragebogen-neu.pdf",
        &[
            ("kommune_name", "Stadt B"),
            ("person_name", "Max Neu"),
            ("person_email", "max@stadt-b.test"),
        ],
        false,
    );
    app.deliver(owner, &raw).await;
    // Assert 2: the update goes to the owner, the change is held and told.
    let update = app.wait_for_mail(owner, 2).await;
    assert!(update[1].contains("EWS7-0001"), "{}", update[1]);
    let review = review_containing(&app, "EWS7-0001", "max@stadt-b.test").await;
    assert!(review.contains("ADRESSE BESTÄTIGEN EWS7-0001"), "{review}");
    assert_eq!(
        latest_fact(&app, "field:person_email").await,
        "erika@stadt-b.test"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE env_to LIKE '%other.test%'")
            .await,
        0
    );

    // Act 3: staff confirm the address and link an assistant.
    command(
        &app,
        "confirm-1",
        "ADRESSE BESTÄTIGEN EWS7-0001\r\nVERKNÜPFEN EWS7-0001 assistenz@stadt-b.test",
    )
    .await;
    let results = wait_subjects(&app, STAFF, "Ergebnis Ihres Befehls", 2).await;
    let result = results
        .iter()
        .map(|r| text(r))
        .find(|r| r.contains("assistenz"))
        .expect("second result");
    assert!(result.contains("Adressänderung übernommen"), "{result}");
    assert_eq!(
        latest_fact(&app, "field:person_email").await,
        "max@stadt-b.test"
    );

    // Act 4: the linked address sends the letter.
    let raw = questionnaire_mail(
        &app,
        "assistenz@stadt-b.test",
        "linked-1@stadt-b.test",
        "",
        "Fragebogen-3.pdf",
        &[("kommune_name", "Stadt B")],
        true,
    );
    app.deliver("assistenz@stadt-b.test", &raw).await;
    // Assert 4: it updates EWS7-0001, confirmed to the owner.
    app.wait_for_mail(owner, 3).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications WHERE merged_into IS NULL")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE env_to = 'assistenz@stadt-b.test'")
            .await,
        0
    );
}
