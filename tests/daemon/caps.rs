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
