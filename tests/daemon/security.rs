//! Part 8 security: forged Authentication-Results change nothing, stale and
//! replayed command mails are refused, and the secret is kept nowhere: not in
//! the mailbox, not in the store, not in the answer.

use crate::helpers::{
    Deadline, PROJECT, STAFF, TestApp, date_now, spawn_app_with_env, text, wait_inbox_empty,
    wait_subject, wait_subjects, with_subject,
};

const SECRET: &str = "Deichgraf-Sonnenblume-2026";

async fn staff_mail(app: &TestApp, top: &str, id: &str, date: &str, body: &str) {
    let raw = format!(
        "{top}From: Leitung <{STAFF}>\r\nTo: {PROJECT}\r\nSubject: Befehl\r\n\
         Message-ID: <{id}@leitung.example>\r\n{date}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    );
    app.deliver(STAFF, &raw).await;
}

async fn secret_bytes(app: &TestApp) -> i64 {
    app.count(&format!(
        "SELECT (SELECT COUNT(*) FROM raw_messages WHERE instr(bytes, CAST('{SECRET}' AS BLOB)) > 0) \
         + (SELECT COUNT(*) FROM messages WHERE instr(COALESCE(subject, ''), '{SECRET}') > 0) \
         + (SELECT COUNT(*) FROM staff_commands WHERE instr(summary, '{SECRET}') > 0) \
         + (SELECT COUNT(*) FROM outbox WHERE instr(raw, CAST('{SECRET}' AS BLOB)) > 0)"
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_authentication_results_change_nothing_and_staff_are_told() {
    let app = spawn_app_with_env(Deadline::Future, "", &[]).await;
    let date = date_now();
    // Below a Received header of another hop (the sender wrote both).
    staff_mail(
        &app,
        "Received: from out.evil.example by relay.evil.example\r\n\
         Authentication-Results: mx.ews.test; dkim=pass header.d=ews.test\r\n",
        "forged-1",
        &date,
        "STORNIEREN EWS7-0001",
    )
    .await;
    // Below a header with another authserv-id.
    staff_mail(
        &app,
        "Authentication-Results: relay.evil.example; dkim=none\r\n\
         Authentication-Results: mx.ews.test; dkim=pass header.d=ews.test\r\n",
        "forged-2",
        &date,
        "PLAN",
    )
    .await;
    // Below the sender's own headers.
    let raw = format!(
        "From: Leitung <{STAFF}>\r\nTo: {PROJECT}\r\nSubject: Befehl\r\n\
         Message-ID: <forged-3@leitung.example>\r\n{date}\
         Authentication-Results: mx.ews.test; dkim=pass header.d=ews.test\r\n\r\nPLAN\r\n"
    );
    app.deliver(STAFF, &raw).await;

    let refused = wait_subjects(&app, STAFF, "Befehl abgelehnt", 3).await;
    for r in &refused {
        assert!(text(r).contains("nicht als echt"), "{}", text(r));
    }
    app.wait_for_count(
        "SELECT COUNT(*) FROM staff_commands WHERE via IS NULL AND summary LIKE 'rejected:%'",
        3,
    )
    .await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM staff_commands WHERE via IS NOT NULL")
            .await,
        0
    );
    assert!(
        with_subject(&app, STAFF, "Ergebnis Ihres Befehls")
            .await
            .is_empty()
    );

    // The same mail with the results of the trusted MTA on top is executed.
    staff_mail(
        &app,
        "Authentication-Results: mx.ews.test; dkim=pass header.d=ews.test\r\n",
        "real-1",
        &date,
        "PLAN",
    )
    .await;
    let reply = text(&wait_subject(&app, STAFF, "Ergebnis Ihres Befehls").await);
    assert!(reply.contains("DKIM"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_and_replayed_commands_are_refused_and_the_secret_is_kept_nowhere() {
    let app = spawn_app_with_env(
        Deadline::Future,
        "",
        &[("POSTBOTE_STAFF__COMMAND_SECRET", SECRET)],
    )
    .await;
    let body = format!("PLAN\r\nKennwort: {SECRET}");
    // Fresh: executed, answered without the secret, deleted from the mailbox.
    staff_mail(&app, "", "fresh-1", &date_now(), &body).await;
    let reply = wait_subject(&app, STAFF, "Ergebnis Ihres Befehls").await;
    assert!(text(&reply).contains("Kennwort"), "{}", text(&reply));
    assert!(!reply.contains(SECRET), "the answer quotes no secret");

    // Replayed: the same mail again (same Message-ID) is not executed again.
    staff_mail(&app, "", "fresh-1", &date_now(), &body).await;
    // Stale: three days old.
    let old = (chrono::Utc::now() - chrono::Duration::days(3)).to_rfc2822();
    staff_mail(&app, "", "old-1", &format!("Date: {old}\r\n"), &body).await;
    // No Date at all.
    staff_mail(&app, "", "undated-1", "", &body).await;
    let refused = wait_subjects(&app, STAFF, "Befehl abgelehnt", 2).await;
    let reasons: Vec<String> = refused.iter().map(|r| text(r)).collect();
    assert!(
        reasons.iter().any(|r| r.contains("älter als 24 Stunden")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("kein lesbares Datum")),
        "{reasons:?}"
    );
    app.wait_for_count("SELECT COUNT(*) FROM messages WHERE state = 'duplicate'", 1)
        .await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM staff_commands WHERE via = 'Kennwort'")
            .await,
        1,
        "executed once"
    );
    assert_eq!(
        with_subject(&app, STAFF, "Ergebnis Ihres Befehls")
            .await
            .len(),
        1
    );

    // Kept nowhere: no command mail left in any folder of the project
    // mailbox, no byte of the secret in the store, none in what was sent.
    // (Wait until every mail was handled: a FETCH racing the EXPUNGE fails.)
    app.wait_for_count("SELECT COUNT(*) FROM staff_commands", 3)
        .await;
    app.wait_for_count("SELECT COUNT(*) FROM outbox WHERE state = 'sent'", 3)
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    wait_inbox_empty(&app).await;
    for folder in ["INBOX", "Postbote/Verarbeitet"] {
        let mails = app.mails_in(PROJECT, folder).await;
        assert!(
            mails.iter().all(|m| !m.contains(SECRET)),
            "{folder} still shows the secret"
        );
        assert!(
            mails.iter().all(|m| !m.contains("@leitung.example>")),
            "{folder} still holds a command mail"
        );
    }
    assert_eq!(secret_bytes(&app).await, 0);
    assert!(
        app.count(
            "SELECT COUNT(*) FROM raw_messages WHERE instr(bytes, CAST('Kennwort: ********' AS BLOB)) > 0"
        )
        .await
            >= 3,
        "stored masked"
    );
    for r in &refused {
        assert!(!r.contains(SECRET));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_carrying_our_instance_name_as_loop_header_is_confirmed() {
    use crate::helpers::{SENT_FOLDER, WAIT, application, header, poll_until};
    let app = spawn_app_with_env(Deadline::Future, "", &[]).await;
    // Two outsiders: one writes our instance name (it is in every mail we
    // send), one adds a made-up token to it.
    let plain = "kaemmerei@stadt-schlau.test";
    let raw = format!(
        "X-Postbote-Loop: postbote-test\r\n{}",
        application(plain, "Stadt Schlau", "loop-1@stadt-schlau.test")
    );
    app.deliver(plain, &raw).await;
    let tokened = "amt@dorf-schlau.test";
    let raw = format!(
        "X-Postbote-Loop: postbote-test; 0123456789abcdef0123456789abcdef\r\n{}",
        application(tokened, "Dorf Schlau", "loop-2@dorf-schlau.test")
    );
    app.deliver(tokened, &raw).await;

    // Both are processed as applications and confirmed to their senders.
    for who in [plain, tokened] {
        let confirmation = app.wait_for_mail(who, 1).await.remove(0);
        // What we sent carries a token bound to its own Message-ID.
        let id = header(&confirmation, "Message-ID").expect("message id");
        let mark = header(&confirmation, "X-Postbote-Loop").expect("loop header");
        assert!(mark.starts_with("postbote-test; "), "{mark}");
        assert_ne!(mark, "postbote-test; 0123456789abcdef0123456789abcdef");
        assert!(id.contains(".postbote@ews.test"), "{id}");
    }
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM messages WHERE class = 'application' AND state = 'processed'"
        )
        .await,
        2
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 2);
    // Our own copies (the verified token) are still known as ours and filed
    // as sent, not taken for input.
    let what = format!("the two confirmations' copies in {SENT_FOLDER}");
    poll_until(
        &what,
        WAIT,
        std::time::Duration::from_millis(200),
        async || {
            let copies = app.mails_in(PROJECT, SENT_FOLDER).await;
            let n = copies
                .iter()
                .filter(|m| header(m, "To").is_some_and(|t| t.contains("schlau.test")))
                .count();
            if n >= 2 { Ok(()) } else { Err(n) }
        },
    )
    .await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM messages WHERE class = 'own' AND disposition = 'sent'",
        2,
    )
    .await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE purpose LIKE 'confirmation%'")
            .await,
        2,
        "the copies answered nothing"
    );
}

/// A Postfix-style delivery report saying our mail `original` to `rcpt`
/// failed, sent by whoever wrote it.
fn delivery_report(original: &str, rcpt: &str, id: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.stadt.test (Mail Delivery System)\r\nTo: {PROJECT}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <{id}@mx.stadt.test>\r\n\
         Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
         --B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.stadt.test\r\n\r\n\
         Final-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
         --B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {PROJECT}\r\nTo: {rcpt}\r\n\
         Subject: x\r\nMessage-ID: {original}\r\n\r\n--B--\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_delivery_report_with_a_computed_message_id_marks_nothing_bounced() {
    use sha2::{Digest, Sha256};
    let app = spawn_app_with_env(Deadline::Future, "", &[]).await;
    let applicant = "poststelle@ruhrstadt.test";
    app.deliver(
        applicant,
        &crate::helpers::application(applicant, "Stadt Ruhrstadt", "fb-1@ruhrstadt.test"),
    )
    .await;
    let confirmation = app.wait_for_mail(applicant, 1).await.remove(0);
    let real = crate::helpers::header(&confirmation, "Message-ID").expect("message id");
    let store = app.store().await;
    let key: String =
        sqlx::query_scalar("SELECT idempotency_key FROM outbox WHERE purpose = 'confirmation'")
            .fetch_one(store.pool())
            .await
            .expect("the confirmation's key");
    store.close().await;
    // What an outsider could compute before part 8: the instance name is in
    // every mail, the key scheme in the source code.
    let digest = hex::encode(Sha256::digest(format!("postbote-test\n{key}")));
    let computed = format!("<{}.postbote@ews.test>", &digest[..32]);
    assert_ne!(computed, real, "the Message-ID must not be computable");

    app.deliver(
        "MAILER-DAEMON@mx.stadt.test",
        &delivery_report(&computed, applicant, "forged-dsn-1"),
    )
    .await;
    // The report is read (stored, recognised as a bounce) but matches nothing.
    app.wait_for_count("SELECT COUNT(*) FROM bounces", 1).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM bounces WHERE outbox_id IS NOT NULL")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE bounced <> 0")
            .await,
        0
    );

    // The control: a report naming the real Message-ID does mark it, so the
    // check above could fail.
    app.deliver(
        "MAILER-DAEMON@mx.stadt.test",
        &delivery_report(&real, applicant, "real-dsn-1"),
    )
    .await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM outbox WHERE purpose = 'confirmation' AND bounced <> 0",
        1,
    )
    .await;
}
