//! Part 8, no reflection and no suppressed alarms: an application that
//! failed DMARC at the trusted MTA is put to staff unconfirmed, and the
//! hourly cap of applicant mail stops a flood of forged applications.

use crate::helpers::{
    Deadline, STAFF, application, spawn_app_with_env, subject, text, wait_inbox_count, wait_subject,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_failing_dmarc_is_not_confirmed_and_put_to_staff() {
    let app = spawn_app_with_env(Deadline::Future, "", &[]).await;
    let from = "buergermeister@stadt-gefaelscht.test";
    let raw = format!(
        "Authentication-Results: mx.ews.test; dmarc=fail (p=reject) header.from=stadt-gefaelscht.test; \
         dkim=none; spf=fail smtp.mailfrom=stadt-gefaelscht.test\r\n{}",
        application(from, "Stadt Gefälscht", "dmarc-1@stadt-gefaelscht.test")
    );
    app.deliver(from, &raw).await;

    let notice = wait_subject(&app, STAFF, "DMARC-Prüfung fehlgeschlagen").await;
    let body = text(&notice);
    assert!(body.contains(from), "{body}");
    assert!(body.contains("bleibt für Sie im Posteingang"), "{body}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE purpose LIKE 'confirmation%'")
            .await,
        0
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 0);
    // The mail stays in the project INBOX for staff.
    let inbox = wait_inbox_count(&app, 1).await;
    assert!(subject(&inbox[0]).contains("Stadt Gefälscht"));
    // Without the failing result the same kind of mail is confirmed.
    let other = "kaemmerei@stadt-echt.test";
    let real = format!(
        "Authentication-Results: mx.ews.test; dmarc=pass header.from=stadt-echt.test\r\n{}",
        application(other, "Stadt Echt", "dmarc-2@stadt-echt.test")
    );
    app.deliver(other, &real).await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM outbox WHERE purpose = 'confirmation'",
        1,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_forged_applications_stops_at_the_hourly_cap_and_staff_are_told_once() {
    let app = spawn_app_with_env(
        Deadline::Future,
        "",
        &[("POSTBOTE_MAIL__MAX_AUTOMATIC_PER_HOUR", "10")],
    )
    .await;
    for i in 0..30 {
        let from = format!("amt{i}@flut{i}.test");
        let raw = format!(
            "Reply-To: antwort{i}@flut{i}.test\r\n{}",
            application(
                &from,
                &format!("Gemeinde Flut {i}"),
                &format!("flut-{i}@flut{i}.test")
            )
        );
        app.deliver(&from, &raw).await;
    }
    app.wait_for_count(
        "SELECT COUNT(*) FROM messages WHERE state = 'processed' AND class = 'application'",
        30,
    )
    .await;
    let notice = wait_subject(&app, STAFF, "Stundenlimit erreicht").await;
    assert!(text(&notice).contains("max_automatic_per_hour = 10"));
    let sent = app
        .count(
            "SELECT COUNT(*) FROM outbox WHERE purpose = 'confirmation' \
             AND state <> 'suppressed'",
        )
        .await;
    assert_eq!(sent, 10, "confirmations queued or sent");
    let suppressed = app
        .count(
            "SELECT COUNT(*) FROM outbox WHERE purpose = 'confirmation' \
             AND state = 'suppressed' AND last_error LIKE 'hourly cap%'",
        )
        .await;
    assert_eq!(suppressed, 20);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE idempotency_key LIKE 'hourly-cap:%'")
            .await,
        1,
        "staff told once"
    );
    // Alarms and the digest count against their own cap (unit tests
    // `past_the_hourly_cap_…_and_alarms_go`, `an_alarm_goes_out_after_sixty_staff_notices`).
}
