//! Part 5: the office's own addresses. Staff write from the project's
//! domain, the project address is the project lead's own mailbox and one of
//! the staff addresses, and postbote's own notices land in that mailbox too.

use crate::helpers::{
    Deadline, PROJECT, STAFF, TestApp, spawn_app_with_clock, spawn_app_with_env, subject, text,
    wait_subject, with_subject,
};
use chrono::Utc;
use postbote::calendar::cron::CronSchedule;
use std::time::Duration;

const SECRET: &str = "eigene-domain-1-lang-genug";
const BOTH: &str = "[\"leitung@ews.test\", \"projekt@ews.test\"]";

async fn subjects_in(app: &TestApp, user: &str) -> Vec<String> {
    app.mails_in(user, "INBOX")
        .await
        .iter()
        .map(|m| subject(m))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_from_the_own_domain_and_from_the_project_address_are_executed_once() {
    // Arrange: the project address is a staff address and gets notices.
    let app = spawn_app_with_env(
        Deadline::Future,
        "",
        &[
            ("POSTBOTE_STAFF__ADDRESSES", BOTH),
            ("POSTBOTE_STAFF__NOTIFY", BOTH),
            ("POSTBOTE_STAFF__COMMAND_SECRET", SECRET),
        ],
    )
    .await;

    // Act: a command from Thunderbird (Message-ID at the own domain), one
    // written in Outlook from the project address itself, and a colleague's
    // question from the same domain.
    let date = crate::helpers::date_now();
    let thunderbird = format!(
        "From: Leitung <{STAFF}>\r\nTo: {PROJECT}\r\nSubject: Plan bitte\r\n\
         Message-ID: <3f2a9c4e-1b7d-4e0a-9c1e-5d2b7a8f6e01@ews.test>\r\n{date}\
         User-Agent: Mozilla Thunderbird\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         PLAN\r\nKennwort: {SECRET}\r\n"
    );
    app.deliver(STAFF, &thunderbird).await;
    let outlook = format!(
        "From: Anna Hirsch <{PROJECT}>\r\nTo: {PROJECT}\r\nSubject: Plan\r\n\
         Message-ID: <AM6PR01MB5734A1B2C3D4E5F6@ews.test>\r\n{date}X-Mailer: Microsoft Outlook 16.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nPLAN\r\nKennwort: {SECRET}\r\n"
    );
    app.deliver(PROJECT, &outlook).await;
    let colleague = "From: Kollegin <kollegin@ews.test>\r\nTo: projekt@ews.test\r\n\
                     Subject: Frage zum Modul 2\r\nMessage-ID: <9d8e7f60-aaaa-4bbb-8ccc-0123456789ab@ews.test>\r\n\
                     User-Agent: Mozilla Thunderbird\r\n\r\nWo findet Modul 2 statt?\r\n";
    app.deliver("kollegin@ews.test", colleague).await;

    // Assert: both commands executed and answered once; the answer to the
    // project address stays in its inbox and is not executed again; the
    // colleague's question stays; nothing loops.
    let staff_reply = text(&wait_subject(&app, STAFF, "Ergebnis Ihres Befehls").await);
    assert!(staff_reply.contains("PLAN"), "{staff_reply}");
    wait_subject(&app, PROJECT, "Ergebnis Ihres Befehls").await;
    app.wait_for_count("SELECT COUNT(*) FROM messages WHERE class = 'own'", 1)
        .await;
    app.wait_for_count("SELECT COUNT(*) FROM messages WHERE class = 'other'", 1)
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM staff_commands").await,
        2,
        "two command mails, each logged once"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM messages WHERE class = 'command'")
            .await,
        2
    );
    assert_eq!(
        with_subject(&app, STAFF, "Ergebnis Ihres Befehls")
            .await
            .len(),
        1
    );
    let inbox = subjects_in(&app, PROJECT).await;
    assert_eq!(
        inbox
            .iter()
            .filter(|s| s.contains("Ergebnis Ihres Befehls"))
            .count(),
        1,
        "{inbox:?}"
    );
    assert!(
        inbox.contains(&"Frage zum Modul 2".to_string()),
        "{inbox:?}"
    );
    assert_eq!(
        inbox.len(),
        2,
        "commands moved, answer and question kept: {inbox:?}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox").await,
        2,
        "two answers, nothing else"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE env_to = 'kollegin@ews.test'")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_to_the_project_address_stays_in_its_inbox_unanswered() {
    // Arrange: the digest goes to the project mailbox, which is staff.
    let cron = "0 */5 * * * *";
    let start = Utc::now();
    let app = spawn_app_with_clock(
        Deadline::Future,
        &[
            ("POSTBOTE_DIGEST__ENABLED", "true"),
            ("POSTBOTE_DIGEST__CRON", cron),
            ("POSTBOTE_STAFF__ADDRESSES", BOTH),
            ("POSTBOTE_STAFF__NOTIFY", "[\"projekt@ews.test\"]"),
        ],
        start,
    )
    .await;
    let question = "From: Frau Fragend <frage@dorf.test>\r\nTo: projekt@ews.test\r\n\
                    Subject: Frage zur Fortbildung\r\nMessage-ID: <q-own@dorf.test>\r\n\r\nWann beginnt das?\r\n";
    app.deliver("frage@dorf.test", question).await;
    app.wait_for_count("SELECT COUNT(*) FROM messages WHERE class = 'other'", 1)
        .await;

    // Act: the digest's time comes.
    let due = CronSchedule::parse(cron)
        .unwrap()
        .next_after(Utc::now())
        .unwrap();
    app.tick_at(due).await;

    // Assert: the digest arrives in the project inbox, is recognised as our
    // own mail, stays there and is answered by nothing.
    let digest = wait_subject(&app, PROJECT, "Übersicht").await;
    assert!(text(&digest).contains("Frage zur Fortbildung"));
    app.wait_for_count("SELECT COUNT(*) FROM messages WHERE class = 'own'", 1)
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let inbox = subjects_in(&app, PROJECT).await;
    assert_eq!(inbox.len(), 2, "{inbox:?}");
    assert!(inbox.iter().any(|s| s.contains("Übersicht")), "{inbox:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 1);
    assert!(
        app.mails_in(PROJECT, "Postbote/Verarbeitet")
            .await
            .is_empty(),
        "nothing moved away"
    );
}
