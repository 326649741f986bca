//! Part 8, no reflection and no suppressed alarms: an application that
//! failed DMARC at the trusted MTA is put to staff unconfirmed, and the
//! hourly cap of applicant mail stops a flood of forged applications, after
//! which an ALARM and the digest still reach staff.

use crate::helpers::{
    Deadline, PROJECT, STAFF, TestApp, application, poll_until, spawn_app_with_clock,
    spawn_app_with_env, subject, text, wait_inbox_count, wait_subject, with_subject,
};
use chrono::Utc;
use postbote::calendar::cron::CronSchedule;
use std::time::{Duration, Instant};

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

/// A small forged application: the keyword makes it one, no documents to
/// read, so that 200 of them are handled quickly.
fn forged(i: usize, auth: &str) -> Vec<u8> {
    format!(
        "{auth}From: Gemeinde Flut {i} <amt{i}@flut{i}.test>\r\nReply-To: antwort{i}@flut{i}.test\r\n\
         To: {PROJECT}\r\nSubject: Bewerbung EWS 7 - Gemeinde Flut {i}\r\n\
         Message-ID: <flut-{i}@flut{i}.test>\r\nDate: Mon, 15 Jun 2026 09:00:00 +0200\r\n\r\n\
         Anbei unsere Bewerbung.\r\n"
    )
    .into_bytes()
}

/// How many mails Postfix delivered to a recipient whose address contains `needle`.
fn delivered_to(app: &TestApp, needle: &str) -> usize {
    app.servers
        .postfix_log()
        .lines()
        .filter(|l| l.contains("status=sent") && l.contains(needle))
        .count()
}

async fn wait_long(app: &TestApp, sql: &str, want: i64) {
    app.wait_for_count_within(sql, want, FLOOD_WAIT).await;
}

/// 200 mails on a loaded two-core machine: more than [`crate::helpers::WAIT`].
const FLOOD_WAIT: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_forged_applications_stops_at_the_hourly_cap_and_alarms_still_go_out() {
    let started = Instant::now();
    let cron = "0 */5 * * * *";
    let app = spawn_app_with_clock(
        Deadline::Future,
        &[
            ("POSTBOTE_MAIL__MAX_AUTOMATIC_PER_HOUR", "10"),
            ("POSTBOTE_DIGEST__ENABLED", "true"),
            ("POSTBOTE_DIGEST__CRON", cron),
            ("POSTBOTE_HEALTH__ALARM_MAILBOX_AFTER_SECS", "2"),
            ("POSTBOTE_HEALTH__MAILBOX_STALE_AFTER_SECS", "2"),
            ("POSTBOTE_MAILBOX__RESCAN_SECS", "1"),
        ],
        Utc::now(),
    )
    .await;

    // Act 1: 200 forged applications, each from its own address with its
    // own Reply-To, put into the INBOX in one go.
    let flood: Vec<Vec<u8>> = (0..200).map(|i| forged(i, "")).collect();
    app.servers
        .append_all(PROJECT, &flood)
        .await
        .expect("append the flood");
    wait_long(
        &app,
        "SELECT COUNT(*) FROM messages WHERE state = 'processed' AND class = 'application'",
        200,
    )
    .await;
    wait_long(
        &app,
        "SELECT COUNT(*) = 0 FROM outbox WHERE state IN ('queued', 'sending')",
        1,
    )
    .await;
    let notice = wait_subject(&app, STAFF, "Stundenlimit erreicht").await;
    let flood_done = started.elapsed();

    // Assert 1: the cap, counted where the mail went out (Postfix) and in
    // the outbox; nothing to a Reply-To; staff told once.
    assert!(text(&notice).contains("max_automatic_per_hour = 10"));
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 200);
    // Postfix hands the mail on to Dovecot after postbote's SMTP transaction.
    poll_until(
        "Postfix to deliver 10 confirmations",
        crate::helpers::WAIT,
        Duration::from_millis(200),
        async || match delivered_to(&app, "@flut") {
            n if n >= 10 => Ok(()),
            n => Err(n),
        },
    )
    .await;
    assert_eq!(delivered_to(&app, "@flut"), 10, "delivered to applicants");
    assert_eq!(
        delivered_to(&app, "to=<antwort"),
        0,
        "nothing to a Reply-To"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE purpose = 'confirmation' AND state = 'sent'")
            .await,
        10
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM outbox WHERE purpose = 'confirmation' \
             AND state = 'suppressed' AND last_error LIKE 'hourly cap%'"
        )
        .await,
        190
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE idempotency_key LIKE 'hourly-cap:%'")
            .await,
        1,
        "staff told once"
    );
    assert_eq!(
        with_subject(&app, STAFF, "Stundenlimit erreicht")
            .await
            .len(),
        1
    );

    // Act 2: 60 more forged applications that fail DMARC: each is a notice
    // to staff, past the staff notices' daily budget (50).
    let dmarc =
        "Authentication-Results: mx.ews.test; dmarc=fail (p=reject) header.from=flut.test\r\n";
    let notices: Vec<Vec<u8>> = (200..260).map(|i| forged(i, dmarc)).collect();
    app.servers
        .append_all(PROJECT, &notices)
        .await
        .expect("append the notices");
    wait_long(
        &app,
        "SELECT COUNT(*) FROM outbox WHERE idempotency_key LIKE 'dmarc-failed:%'",
        60,
    )
    .await;
    assert!(
        app.count("SELECT COUNT(*) FROM outbox WHERE cap = 'to_staff' AND state = 'suppressed'")
            .await
            >= 10,
        "the staff notices' budget is used up"
    );
    assert_eq!(delivered_to(&app, "@flut"), 10, "still only the cap");

    // Act 3: the mailbox goes away; the scheduler's next passes.
    // NOTE: the scheduler wakes when the 2-s alarm threshold is crossed, so
    // a sweep of the flood that took longer than 2 s may have raised a
    // mailbox alarm of its own (another incident, keyed by the last check);
    // counted are the alarms of this incident.
    let alarm = "SELECT COUNT(*) FROM outbox WHERE subject LIKE '%ALARM: Postfach%' \
                 AND cap = 'alarm' AND state <> 'suppressed'";
    let all_alarms = "SELECT COUNT(*) FROM outbox WHERE subject LIKE '%ALARM: Postfach%'";
    let (before, before_all) = (app.count(alarm).await, app.count(all_alarms).await);
    assert_eq!(before, before_all, "no earlier alarm was suppressed");
    app.servers.stop_dovecot().expect("stop dovecot");
    app.wait_status(1).await;
    app.tick_at(Utc::now()).await;
    app.tick_at(Utc::now() + chrono::Duration::seconds(1)).await;
    assert_eq!(
        app.count(alarm).await,
        before + 1,
        "the alarm is queued, not suppressed"
    );
    app.servers.start_dovecot().expect("start dovecot");
    app.servers.flush_postfix_queue().expect("flush");

    // Assert 3: the ALARM reaches staff through Postfix, and so does the
    // digest after it.
    wait_subject(&app, STAFF, "ALARM: Postfach").await;
    let due = CronSchedule::parse(cron)
        .unwrap()
        .next_after(Utc::now())
        .unwrap();
    app.tick_at(due).await;
    let digest = wait_subject(&app, STAFF, "Übersicht").await;
    assert!(text(&digest).contains("EWS7-0200"), "{}", text(&digest));
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM outbox WHERE purpose = 'staff_digest' AND cap = 'alarm' \
             AND state = 'sent'"
        )
        .await,
        1
    );
    eprintln!(
        "flood test: 200 applications handled in {flood_done:?}, whole test {:?}",
        started.elapsed()
    );
}
