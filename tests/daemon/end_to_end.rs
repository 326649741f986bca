use crate::helpers::{
    Deadline, PROJECT, SENT_FOLDER, STAFF, application, header, spawn_app, spawn_app_with, subject,
    wait_inbox_empty,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_sent_through_postfix_is_confirmed_in_the_applicants_mailbox() {
    // Arrange
    let app = spawn_app().await;
    let applicant = "kaemmerei@stadt.test";
    // Act
    app.deliver(
        applicant,
        &application(applicant, "Stadt Musterhausen", "bw-1@stadt.test"),
    )
    .await;
    // Assert: the confirmation is in the municipality's mailbox, read over IMAP.
    let mails = app.wait_for_mail(applicant, 1).await;
    let confirmation = &mails[0];
    assert!(subject(confirmation).contains("EWS7-0001"));
    assert_eq!(
        header(confirmation, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    assert_eq!(
        header(confirmation, "X-Auto-Response-Suppress").as_deref(),
        Some("All")
    );
    assert_eq!(
        header(confirmation, "In-Reply-To").as_deref(),
        Some("<bw-1@stadt.test>")
    );
    assert!(
        header(confirmation, "References")
            .unwrap()
            .contains("<bw-1@stadt.test>")
    );
    assert!(
        header(confirmation, "Message-ID")
            .unwrap()
            .ends_with("@ews.test>")
    );
    assert!(confirmation.contains("multipart/alternative"));
    assert!(confirmation.contains("text/html"));
    // The application left the inbox for the processed folder; \Seen was not used.
    let processed = app
        .servers
        .wait_for_mail(
            PROJECT,
            "Postbote/Verarbeitet",
            1,
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(processed.len(), 1);
    // The confirmation's copy went to the project mailbox in the same SMTP
    // transaction and is filed into the sent folder.
    let copies = app
        .servers
        .wait_for_mail(PROJECT, SENT_FOLDER, 1, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        header(&String::from_utf8_lossy(&copies[0]), "Message-ID"),
        header(confirmation, "Message-ID")
    );
    wait_inbox_empty(&app).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications WHERE late = 0")
            .await,
        1
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM raw_messages r JOIN messages m ON m.sha256 = r.sha256 \
             WHERE m.message_id NOT LIKE '%.postbote@ews.test'"
        )
        .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_application_gets_its_own_template_and_staff_are_told() {
    // Arrange: the shipped programme, whose deadline (19.06.2026) has passed.
    let app = spawn_app_with(Deadline::Past, "").await;
    let applicant = "ehrenamt@kreis.test";
    // Act
    app.deliver(
        applicant,
        &application(applicant, "Kreis Nord", "late-1@kreis.test"),
    )
    .await;
    // Assert
    let mails = app.wait_for_mail(applicant, 1).await;
    assert!(subject(&mails[0]).contains("nach Fristende"));
    let staff = app.wait_for_mail(STAFF, 1).await;
    assert!(subject(&staff[0]).contains("Verspätete Bewerbung"));
    assert_eq!(
        header(&staff[0], "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications WHERE late = 1")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_stays_in_the_inbox_for_staff_and_is_not_answered() {
    let app = spawn_app().await;
    let raw = "From: info@gemeinde.test\r\nTo: projekt@ews.test\r\nSubject: Frage zum Stellenumfang\r\n\
               Message-ID: <q-1@gemeinde.test>\r\n\r\nReichen vier Wochenstunden?\r\n";
    app.deliver("info@gemeinde.test", raw).await;
    assert_eq!(
        app.wait_for_count("SELECT COUNT(*) FROM messages WHERE state = 'processed'", 1)
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM messages WHERE class = 'other'")
            .await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 0);
    assert_eq!(
        app.mails_in(PROJECT, "INBOX").await.len(),
        1,
        "the question must stay where staff see it"
    );
}
