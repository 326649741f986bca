use crate::helpers::{application, header, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_office_reply_to_a_confirmation_gets_no_answer() {
    // Arrange: an application, confirmed.
    let app = spawn_app().await;
    let applicant = "buergermeister@gemeinde.test";
    app.deliver(
        applicant,
        &application(applicant, "Gemeinde Lindenau", "bw-2@gemeinde.test"),
    )
    .await;
    let confirmation = app.wait_for_mail(applicant, 1).await.remove(0);
    let our_id = header(&confirmation, "Message-ID").unwrap();
    // Act: the town hall's Exchange answers with an out-of-office reply (with a
    // Bewerbung keyword and an attachment-free body), and a Gmail-style one.
    let exchange = format!(
        "From: Buergermeister <{applicant}>\r\nTo: projekt@ews.test\r\n\
         Subject: Automatische Antwort: Eingangsbestätigung Ihrer Bewerbung\r\n\
         Message-ID: <oof-1@gemeinde.test>\r\nIn-Reply-To: {our_id}\r\n\
         X-Auto-Response-Suppress: All\r\nX-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent\r\n\r\n\
         Ich bin bis 03.07. nicht im Haus. Ihre Bewerbung wird weitergeleitet.\r\n"
    );
    let gmail = format!(
        "From: {applicant}\r\nTo: projekt@ews.test\r\nSubject: Re: Bewerbung\r\n\
         Message-ID: <oof-2@gemeinde.test>\r\nAuto-Submitted: auto-replied\r\nPrecedence: bulk\r\n\r\nAbwesend.\r\n"
    );
    app.deliver(applicant, &exchange).await;
    app.deliver(applicant, &gmail).await;
    // Assert: both recorded as automatic, nothing queued, nothing sent.
    assert_eq!(
        app.wait_for_count("SELECT COUNT(*) FROM messages WHERE class = 'automatic'", 2)
            .await,
        2
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 1);
    assert_eq!(app.mails_in(applicant, "INBOX").await.len(), 1);
}
