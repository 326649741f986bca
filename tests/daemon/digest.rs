//! Part 4: the staff digest (new applications, questions, bounces matched to
//! the outbox, nothing twice, nothing when empty) and the health alarm.

use crate::helpers::{
    Deadline, PROJECT, STAFF, application, header, spawn_app_with_clock, text, wait_subject,
};
use chrono::{Duration, Utc};
use postbote::calendar::cron::CronSchedule;

/// A Postfix-style bounce of our mail `original` to `rcpt`.
fn bounce(original: &str, rcpt: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.stadt.test (Mail Delivery System)\r\nTo: {PROJECT}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce-1@mx.stadt.test>\r\n\
         Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n\
         --B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.stadt.test\r\n\r\n\
         Final-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown\r\n\r\n\
         --B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {PROJECT}\r\nTo: {rcpt}\r\nSubject: x\r\n\
         Message-ID: {original}\r\n\r\n--B--\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digest_reports_what_happened_once_and_stays_silent_when_nothing_did() {
    // Arrange: a digest every five minutes, the scheduler on a hand-set clock.
    let cron = "0 */5 * * * *";
    let now = Utc::now();
    let app = spawn_app_with_clock(
        Deadline::Future,
        &[
            ("POSTBOTE_DIGEST__ENABLED", "true"),
            ("POSTBOTE_DIGEST__CRON", cron),
        ],
        now,
    )
    .await;
    let applicant = "kaemmerei@stadt.test";
    app.deliver(
        applicant,
        &application(applicant, "Stadt", "dg-1@stadt.test"),
    )
    .await;
    let confirmation = app.wait_for_mail(applicant, 1).await.remove(0);
    let question = "From: Frau Fragend <frage@dorf.test>\r\nTo: projekt@ews.test\r\n\
                    Subject: Frage zur Fortbildung\r\nMessage-ID: <q-1@dorf.test>\r\n\r\nWann genau beginnt das?\r\n";
    app.deliver("frage@dorf.test", question).await;
    let original = header(&confirmation, "Message-ID").expect("message id");
    app.deliver("MAILER-DAEMON@mx.stadt.test", &bounce(&original, applicant))
        .await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM bounces WHERE outbox_id IS NOT NULL",
        1,
    )
    .await;
    app.wait_for_count("SELECT COUNT(*) FROM messages WHERE class = 'other'", 1)
        .await;
    // A municipality's application, and a second one from another address
    // naming it: a possible duplicate for staff to resolve.
    let d = crate::interviews::days(&app);
    crate::interviews::apply(&app, "amt@stadt-d.test", "Stadt D", &[d[0]], &[]).await;
    let dup = crate::ownership::questionnaire_mail(
        &app,
        "kollegin@stadt-d.test",
        "dg-dup-1@stadt-d.test",
        "",
        "Fragebogen-Kollegin.pdf",
        &[("kommune_name", "Stadt D")],
        false,
    );
    app.deliver("kollegin@stadt-d.test", &dup).await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM applications WHERE duplicate_of IS NOT NULL",
        1,
    )
    .await;

    // Act: the next scheduled digest time, then the same again, then later.
    let schedule = CronSchedule::parse(cron).unwrap();
    let due = schedule.next_after(Utc::now()).unwrap();
    app.tick_at(due).await;
    app.tick_at(due + Duration::seconds(30)).await;

    // Assert: one digest with the application, the question and the bounce.
    let digest = wait_subject(&app, STAFF, "Übersicht").await;
    let body = text(&digest);
    assert!(body.contains("EWS7-0001"), "{body}");
    assert!(body.contains("vollständig"), "{body}");
    assert!(body.contains("frage@dorf.test"), "{body}");
    assert!(
        body.contains(&format!("{applicant} ist nicht erreichbar (5.1.1)")),
        "{body}"
    );
    assert!(body.contains("Letzter erfolgreicher Abruf"), "{body}");
    assert!(
        body.contains("Mögliche Doppelbewerbungen")
            && body.contains(
                "EWS7-0003 Stadt D (von kollegin@stadt-d.test): mögliche Doppelbewerbung zu EWS7-0002"
            )
            && body.contains("ZUSAMMENFÜHREN EWS7-0003 IN EWS7-0002")
            && body.contains("BEHALTEN EWS7-0003"),
        "{body}"
    );
    // Staff keep it (on the command line): the mark no longer needs them.
    let kept = app.cli(&["applications", "keep", "EWS7-0003"]);
    assert!(kept.status.success(), "{kept:?}");
    assert_eq!(
        app.count("SELECT bounced FROM outbox WHERE purpose = 'confirmation'")
            .await,
        1
    );
    // Nothing new since: the next run is skipped, no mail.
    let skipped =
        "SELECT COUNT(*) FROM programme_mails WHERE kind = 'digest' AND state = 'skipped'";
    let before = app.count(skipped).await;
    app.tick_at(schedule.next_after(due).unwrap()).await;
    assert_eq!(app.count(skipped).await, before + 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE purpose = 'staff_digest'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_are_alarmed_when_outgoing_mail_keeps_failing_and_status_exits_non_zero() {
    // Arrange: SMTP down, so the confirmation keeps failing.
    let app = spawn_app_with_clock(Deadline::Future, &[], Utc::now()).await;
    app.servers.stop_postfix().expect("stop postfix");
    let applicant = "kaemmerei@stadt.test";
    let raw = application(applicant, "Stadt", "alarm-1@stadt.test");
    // Postfix is down: put the mail straight into the project mailbox.
    app.servers
        .append(PROJECT, "INBOX", raw.as_bytes())
        .await
        .expect("append");
    app.wait_for_count(
        "SELECT COUNT(*) FROM outbox WHERE purpose = 'confirmation' AND last_error IS NOT NULL",
        1,
    )
    .await;
    let healthy = app.cli(&["status"]);
    assert!(
        healthy.status.success(),
        "{}",
        String::from_utf8_lossy(&healthy.stdout)
    );
    // The wall clock cannot be moved: the mail is made five hours old.
    let store = app.store().await;
    sqlx::query("UPDATE outbox SET created_at = ? WHERE purpose = 'confirmation'")
        .bind(postbote::store::ts(Utc::now() - Duration::hours(5)))
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;

    // Act: the scheduler's next pass, then SMTP comes back.
    let status = app.cli(&["status"]);
    app.tick_at(Utc::now()).await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM outbox WHERE purpose = 'staff_notice' AND subject LIKE '%ALARM%'",
        1,
    )
    .await;
    app.servers.start_postfix().expect("start postfix");

    // Assert: status says unhealthy; staff get the alarm once SMTP is back.
    assert_eq!(status.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&status.stdout).contains("failing since"));
    wait_subject(&app, STAFF, "ALARM: E-Mails werden nicht zugestellt").await;
    app.wait_for_mail(applicant, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_are_alarmed_once_when_the_mailbox_cannot_be_checked() {
    // Arrange: alarm after 2 s without a successful mailbox check.
    let app = spawn_app_with_clock(
        Deadline::Future,
        &[
            ("POSTBOTE_HEALTH__ALARM_MAILBOX_AFTER_SECS", "2"),
            ("POSTBOTE_HEALTH__MAILBOX_STALE_AFTER_SECS", "2"),
            // A quiet mailbox is checked every second: the limits fit.
            ("POSTBOTE_MAILBOX__RESCAN_SECS", "1"),
        ],
        Utc::now(),
    )
    .await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM health WHERE key = 'mailbox.last_ok'",
        1,
    )
    .await;
    // Act: Dovecot goes away; two scheduler passes after the limit.
    app.servers.stop_dovecot().expect("stop dovecot");
    let status = app.wait_status(1).await;
    app.tick_at(Utc::now()).await;
    app.tick_at(Utc::now() + Duration::seconds(1)).await;
    // Assert: status unhealthy; one alarm for the incident, delivered once
    // Dovecot is back.
    assert!(status.contains("last successful mailbox check"), "{status}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE subject LIKE '%ALARM: Postfach%'")
            .await,
        1
    );
    app.servers.start_dovecot().expect("start dovecot");
    app.servers.flush_postfix_queue().expect("flush");
    wait_subject(&app, STAFF, "ALARM: Postfach").await;
}
