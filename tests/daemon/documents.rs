//! Part 2 through the real pipeline: mail in through Postfix and Dovecot,
//! documents read, application record and confirmation out.

use crate::fixtures::{
    filled_docx, filled_pdf, forwarded, mail, pdf_letter, winmail_dat, zip_bomb, zip_of,
};
use crate::helpers::{TestApp, spawn_app};
use chrono::NaiveDate;

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

fn days(app: &TestApp) -> Vec<NaiveDate> {
    app.programme()
        .interview_days
        .iter()
        .map(|d| d.slot.start.date_naive())
        .collect()
}

async fn body_of_confirmation(app: &TestApp, to: &str, n: usize) -> String {
    let mails = app.wait_for_mail(to, n).await;
    let parsed = mail_parser::MessageParser::default()
        .parse(mails[n - 1].as_bytes())
        .expect("mail");
    parsed
        .body_text(0)
        .map(|b| b.to_string())
        .unwrap_or_default()
}

async fn facts(app: &TestApp, application: i64) -> Vec<(String, String, String)> {
    let store = app.store().await;
    let rows = sqlx::query_as(
        "SELECT name, value, confidence FROM facts WHERE application_id = ? ORDER BY name",
    )
    .bind(application)
    .fetch_all(store.pool())
    .await
    .expect("facts");
    store.close().await;
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_docx_form_and_a_pdf_letter_make_a_complete_application_with_the_ticked_dates() {
    // Arrange: the questionnaire postbote ships, filled in; a one-page letter.
    let app = spawn_app().await;
    let d = days(&app);
    let form = filled_docx(&app.programme(), &[d[0], d[2]], "Stadt Musterhausen");
    let letter = pdf_letter("Motivationsschreiben der Stadt Musterhausen", 1);
    let from = "engagement@musterhausen.test";
    let raw = mail(
        from,
        "docx-1@musterhausen.test",
        "Bewerbung EWS 7",
        "Anbei unsere Unterlagen.",
        &[
            ("Fragebogen_EWS7.docx", DOCX, form),
            ("Motivationsschreiben.pdf", "application/pdf", letter),
        ],
    );
    // Act
    app.deliver(from, &raw).await;
    // Assert
    let body = body_of_confirmation(&app, from, 1).await;
    assert!(body.contains("vollständig"), "{body}");
    assert!(!body.contains("Es fehlt noch"), "{body}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications WHERE complete = 1")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications WHERE municipality = 'Stadt Musterhausen'")
            .await,
        1,
        "read from the kommune_name content control of our DOCX form"
    );
    let f = facts(&app, 1).await;
    let yes: Vec<_> = f
        .iter()
        .filter(|(n, v, _)| n.starts_with("interview:") && v == "möglich")
        .map(|(n, _, _)| n.clone())
        .collect();
    assert_eq!(
        yes,
        vec![format!("interview:{}", d[0]), format!("interview:{}", d[2])],
        "{f:?}"
    );
    assert!(
        f.iter()
            .filter(|(n, _, _)| n.starts_with("interview:"))
            .all(|(_, _, c)| c == "high"),
        "{f:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_letter_is_requested_and_a_follow_up_completes_the_application() {
    // Arrange: first only the questionnaire (our fillable PDF).
    let app = spawn_app().await;
    let d = days(&app);
    let from = "hauptamt@lindenau.test";
    let form = filled_pdf(&app.programme(), &[d[1]], "Gemeinde Lindenau");
    app.deliver(
        from,
        &mail(
            from,
            "pdf-1@lindenau.test",
            "Bewerbung",
            "Fragebogen anbei.",
            &[("Fragebogen.pdf", "application/pdf", form)],
        ),
    )
    .await;
    let first = body_of_confirmation(&app, from, 1).await;
    assert!(
        first.contains("Es fehlt noch") && first.contains("Motivationsschreiben"),
        "{first}"
    );
    // Act: staff link another address of the municipality; the letter
    // follows in a mail from it, as a two-page PDF.
    let colleague = "buergermeister@lindenau.test";
    let linked = app.cli(&["applications", "link", "EWS7-0001", colleague]);
    assert!(linked.status.success(), "{linked:?}");
    let form_again = filled_pdf(&app.programme(), &[d[1]], "Gemeinde Lindenau");
    let letter = pdf_letter("Motivationsschreiben Gemeinde Lindenau", 2);
    app.deliver(
        colleague,
        &mail(
            colleague,
            "pdf-2@lindenau.test",
            "Nachtrag Bewerbung",
            "Hier das Schreiben.",
            &[
                ("Fragebogen.pdf", "application/pdf", form_again),
                ("Motivationsschreiben.pdf", "application/pdf", letter),
            ],
        ),
    )
    .await;
    // Assert: one application, complete; the older questionnaire superseded; the
    // two-page letter flagged for staff.
    // The update goes to the original applicant, not the new sender.
    let update = body_of_confirmation(&app, from, 2).await;
    assert!(update.contains("vollständig"), "{update}");
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM applications WHERE complete = 1 AND municipality = 'Gemeinde Lindenau'").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM documents WHERE role = 'questionnaire' AND superseded_by IS NOT NULL").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM facts WHERE name = 'flag:letter_pages' AND value = '2'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_of_a_printout_is_kept_for_a_human_and_the_applicant_asked_for_a_readable_file() {
    let app = spawn_app().await;
    let from = "rathaus@dorf.test";
    let jpeg = [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[0u8; 2048]].concat();
    app.deliver(
        from,
        &mail(
            from,
            "jpg-1@dorf.test",
            "Bewerbung",
            "Foto vom Fragebogen anbei",
            &[("IMG_2041.jpg", "image/jpeg", jpeg)],
        ),
    )
    .await;
    let body = body_of_confirmation(&app, from, 1).await;
    assert!(
        body.contains("nicht automatisch lesen") && body.contains("IMG_2041.jpg"),
        "{body}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM documents WHERE problem IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications WHERE complete = 0")
            .await,
        1
    );
    // Staff are told by mail what to look at.
    let staff = app.wait_for_mail(crate::helpers::STAFF, 1).await;
    assert!(
        crate::helpers::subject(&staff[0]).contains("Bitte prüfen"),
        "{}",
        staff[0]
    );
    assert!(staff[0].contains("IMG_2041.jpg"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_with_both_documents_a_traversal_name_and_dates_in_the_mail_body_is_read() {
    let app = spawn_app().await;
    let d = days(&app);
    let from = "kreis@nord.test";
    let form = filled_docx(&app.programme(), &[], "Kreis Nord");
    let letter = pdf_letter("Motivationsschreiben Kreis Nord", 1);
    let archive = zip_of(&[
        ("Unterlagen/Fragebogen.docx", &form),
        ("Unterlagen/Motivationsschreiben.pdf", &letter),
        ("../../etc/passwd", b"root:x:0:0"),
    ]);
    let body = format!(
        "Guten Tag, wir können am {} und am {} vormittags.",
        d[0].format("%d.%m."),
        d[3].format("%-d.%-m.")
    );
    app.deliver(
        from,
        &mail(
            from,
            "zip-1@nord.test",
            "Bewerbung Kreis Nord",
            &body,
            &[("Unterlagen.zip", "application/zip", archive)],
        ),
    )
    .await;
    let confirmation = body_of_confirmation(&app, from, 1).await;
    assert!(confirmation.contains("vollständig"), "{confirmation}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM documents WHERE name LIKE 'Unterlagen.zip › %'")
            .await,
        3
    );
    let f = facts(&app, 1).await;
    let yes: Vec<_> = f
        .iter()
        .filter(|(_, v, _)| v == "möglich")
        .map(|(n, _, _)| n.clone())
        .collect();
    assert_eq!(
        yes,
        vec![format!("interview:{}", d[0]), format!("interview:{}", d[3])],
        "{body}: {f:?}"
    );
    assert!(!std::path::Path::new("/etc/passwd.postbote").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_bomb_is_refused_by_its_limit_and_the_daemon_carries_on() {
    let app = spawn_app().await;
    let from = "bomb@example.test";
    app.deliver(
        from,
        &mail(
            from,
            "bomb-1@example.test",
            "Bewerbung",
            "x",
            &[("Unterlagen.zip", "application/zip", zip_bomb(300))],
        ),
    )
    .await;
    let body = body_of_confirmation(&app, from, 1).await;
    assert!(body.contains("nicht automatisch lesen"), "{body}");
    let store = app.store().await;
    let problem: String = sqlx::query_scalar("SELECT problem FROM documents")
        .fetch_one(store.pool())
        .await
        .expect("doc");
    assert!(problem.contains("limit"), "{problem}");
    // Still alive: the next application is confirmed.
    let next = "next@example.test";
    app.deliver(
        next,
        &crate::helpers::application(next, "Stadt", "after-bomb@example.test"),
    )
    .await;
    app.wait_for_mail(next, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn winmail_dat_and_forwarded_mails_are_unwrapped() {
    let app = spawn_app().await;
    let d = days(&app);
    // Outlook's winmail.dat with our PDF form inside.
    let from = "outlook@stadt-a.test";
    let form = filled_pdf(&app.programme(), &[d[4]], "Stadt A");
    let tnef = winmail_dat("Fragebogen Stadt A.pdf", &form);
    app.deliver(
        from,
        &mail(
            from,
            "tnef-1@stadt-a.test",
            "Bewerbung",
            "Siehe Anhang",
            &[("winmail.dat", "application/ms-tnef", tnef)],
        ),
    )
    .await;
    app.wait_for_mail(from, 1).await;
    let store = app.store().await;
    let docs: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT name, role, problem FROM documents ORDER BY id")
            .fetch_all(store.pool())
            .await
            .expect("documents");
    assert!(
        docs.iter()
            .any(|(n, r, p)| n == "winmail.dat › Fragebogen Stadt A.pdf"
                && r == "questionnaire"
                && p.is_none()),
        "{docs:?}"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM facts WHERE name = 'interview:{}' AND value = 'möglich'",
            d[4]
        ))
        .await,
        1
    );
    // A colleague forwards the original application mail.
    let inner = mail(
        "amt@stadt-b.test",
        "orig-1@stadt-b.test",
        "Bewerbung",
        "Original",
        &[(
            "Motivationsschreiben.pdf",
            "application/pdf",
            pdf_letter("Motivation Stadt B", 1),
        )],
    );
    let fwd_from = "vorzimmer@stadt-b.test";
    app.deliver(fwd_from, &forwarded(fwd_from, "fwd-1@stadt-b.test", &inner))
        .await;
    app.wait_for_mail(fwd_from, 1).await;
    let docs: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT name, role, problem FROM documents ORDER BY id")
            .fetch_all(store.pool())
            .await
            .expect("documents");
    let forwarded_letter = docs.iter().any(|(n, r, p)| {
        r == "motivation" && n.starts_with("weitergeleitete E-Mail › ") && p.is_none()
    });
    assert!(forwarded_letter, "{docs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incomplete_application_gets_one_reminder_days_before_the_deadline() {
    // Arrange: an application with only the letter.
    let app = spawn_app().await;
    let from = "amt@unvollstaendig.test";
    let letter = pdf_letter("Motivationsschreiben", 1);
    app.deliver(
        from,
        &mail(
            from,
            "inc-1@unvollstaendig.test",
            "Bewerbung",
            "Anbei.",
            &[("Motivationsschreiben.pdf", "application/pdf", letter)],
        ),
    )
    .await;
    app.wait_for_mail(from, 1).await;
    let one = postbote::context::App::build(app.config())
        .await
        .expect("app");
    let end = one
        .programmes
        .first()
        .deadline_end
        .with_timezone(&chrono::Utc);
    // Act and assert, with the clock under test control.
    let desk = one.desk();
    let queue = |days: i64| {
        postbote::workflow::reminders::queue_due(
            &one.store,
            &desk,
            end - chrono::Duration::days(days),
        )
    };
    assert_eq!(
        queue(5).await.expect("too early"),
        0,
        "default: 3 days before the deadline"
    );
    assert_eq!(queue(2).await.expect("due"), 1);
    assert_eq!(queue(1).await.expect("again"), 0, "a reminder is sent once");
    postbote::startup::sender(&one)
        .expect("sender")
        .run_once()
        .await
        .expect("send");
    let mails = app.wait_for_mail(from, 2).await;
    let reminder = mails
        .iter()
        .find(|m| crate::helpers::subject(m).starts_with("Erinnerung"))
        .expect("reminder arrives");
    let text = mail_parser::MessageParser::default()
        .parse(reminder.as_bytes())
        .and_then(|m| m.body_text(0).map(|b| b.to_string()))
        .unwrap_or_default();
    assert!(
        text.contains("Fragebogen") && !text.contains("Motivationsschreiben\n"),
        "{text}"
    );
    assert_eq!(queue(-1).await.expect("after the deadline"), 0);
}

/// The interview dates stored as "möglich" for the application of `from`.
async fn dates_possible(app: &TestApp, from: &str) -> Vec<String> {
    let store = app.store().await;
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT f.name FROM facts f JOIN applications a ON a.id = f.application_id \
         WHERE a.applicant = ? AND f.value = 'möglich' ORDER BY f.name",
    )
    .bind(from)
    .fetch_all(store.pool())
    .await
    .expect("facts");
    store.close().await;
    rows.into_iter().map(|(n,)| n).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odt_forms_legacy_word_fields_glyph_tables_and_ticked_text_lists_are_read() {
    let app = spawn_app().await;
    let d = days(&app);
    let want = vec![format!("interview:{}", d[1]), format!("interview:{}", d[4])];
    let text_list = format!(
        "Fragebogen\nTermine:\n[ ] {}\n[x] {}\n[ ] {}\n[ ] {}\n[x] {}\n",
        d[0].format("%d.%m.%Y"),
        d[1].format("%d.%m.%Y"),
        d[2].format("%d.%m.%Y"),
        d[3].format("%d.%m.%Y"),
        d[4].format("%d.%m.%Y")
    );
    let cases: Vec<(&str, &str, &str, Vec<u8>)> = vec![
        (
            "odt@a.test",
            "Fragebogen.odt",
            "application/vnd.oasis.opendocument.text",
            crate::fixtures::odt_questionnaire(&d, &[d[1], d[4]]),
        ),
        (
            "legacy@b.test",
            "Fragebogen.docx",
            DOCX,
            crate::fixtures::docx_questionnaire(&d, &[d[1], d[4]], false),
        ),
        (
            "glyphs@c.test",
            "Fragebogen.docx",
            DOCX,
            crate::fixtures::docx_questionnaire(&d, &[d[1], d[4]], true),
        ),
        (
            "text@d.test",
            "Fragebogen.txt",
            "text/plain",
            text_list.into_bytes(),
        ),
    ];
    for (i, (from, name, ctype, bytes)) in cases.iter().enumerate() {
        let raw = mail(
            from,
            &format!("fmt-{i}@x.test"),
            "Bewerbung",
            "Anbei der Fragebogen.",
            &[(name, ctype, bytes.clone())],
        );
        app.deliver(from, &raw).await;
    }
    for (from, name, _, _) in &cases {
        app.wait_for_mail(from, 1).await;
        assert_eq!(dates_possible(&app, from).await, want, "{from}: {name}");
    }
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM documents WHERE role = 'questionnaire' AND problem IS NULL"
        )
        .await,
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scanned_pdf_a_malformed_mail_and_a_20_mb_attachment_are_handled() {
    let app = spawn_app().await;
    // A scan without text: stored, marked for a human, the applicant asked.
    let from = "scan@e.test";
    app.deliver(
        from,
        &mail(
            from,
            "scan-1@e.test",
            "Bewerbung",
            "Scan anbei",
            &[(
                "Fragebogen.pdf",
                "application/pdf",
                crate::fixtures::scanned_pdf(),
            )],
        ),
    )
    .await;
    let body = body_of_confirmation(&app, from, 1).await;
    assert!(body.contains("nicht automatisch lesen"), "{body}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM documents WHERE problem LIKE '%scan%'")
            .await,
        1
    );
    // A malformed MIME mail (unterminated multipart, broken base64): no crash.
    let broken = "From: kaputt@f.test\r\nTo: projekt@ews.test\r\nSubject: Bewerbung\r\nMessage-ID: <broken-1@f.test>\r\n\
                  MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: application/pdf; name=\"x.pdf\"\r\n\
                  Content-Transfer-Encoding: base64\r\n\r\n%%%not base64%%%\r\n--B\r\nContent-Type: text/plain\r\n\r\nunterminated";
    app.deliver("kaputt@f.test", broken).await;
    app.wait_for_mail("kaputt@f.test", 1).await;
    // A 20 MB attachment (by IMAP APPEND: Postfix's default size limit is 10 MB).
    let big = "big@g.test";
    let pdf = [
        pdf_letter("Motivationsschreiben", 1),
        vec![b' '; 20 * 1024 * 1024],
    ]
    .concat();
    let raw = mail(
        big,
        "big-1@g.test",
        "Bewerbung",
        "Großer Anhang",
        &[("Motivationsschreiben.pdf", "application/pdf", pdf)],
    );
    app.servers
        .append(crate::helpers::PROJECT, "INBOX", raw.as_bytes())
        .await
        .expect("append");
    app.wait_for_mail(big, 1).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM messages WHERE state = 'failed'")
            .await,
        0
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM documents WHERE role = 'motivation' AND size > 20000000 AND problem IS NULL").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_marks_in_tables_are_read_and_unreadable_files_go_to_a_human() {
    let app = spawn_app().await;
    let d = days(&app);
    let want = vec![format!("interview:{}", d[0]), format!("interview:{}", d[2])];
    let readable: Vec<(&str, Vec<u8>)> = vec![
        (
            "x-table@h.test",
            crate::fixtures::docx_table(&d, &[d[0], d[2]], "X", ""),
        ),
        (
            "check-table@i.test",
            crate::fixtures::docx_table(&d, &[d[0], d[2]], "✔", ""),
        ),
        (
            "ballot@n.test",
            crate::fixtures::docx_table(&d, &[d[0], d[2]], "☑", "☐"),
        ),
        (
            "tick@o.test",
            crate::fixtures::docx_table(&d, &[d[0], d[2]], "✓", ""),
        ),
    ];
    for (i, (from, bytes)) in readable.iter().enumerate() {
        app.deliver(
            from,
            &mail(
                from,
                &format!("tab-{i}@x.test"),
                "Bewerbung",
                "Anbei.",
                &[("Fragebogen.docx", DOCX, bytes.clone())],
            ),
        )
        .await;
    }
    let programme = app.programme();
    let pdfs: Vec<(&str, Vec<u8>)> = vec![
        (
            "yes@p.test",
            crate::fixtures::filled_pdf_with(&programme, &[d[0], d[2]], "Stadt P", "Yes"),
        ),
        (
            "on@q.test",
            crate::fixtures::filled_pdf_with(&programme, &[d[0], d[2]], "Stadt Q", "On"),
        ),
    ];
    for (i, (from, bytes)) in pdfs.iter().enumerate() {
        let raw = mail(
            from,
            &format!("on-{i}@x.test"),
            "Bewerbung",
            "Anbei.",
            &[("Fragebogen.pdf", "application/pdf", bytes.clone())],
        );
        app.deliver(from, &raw).await;
    }
    for (from, _) in &pdfs {
        app.wait_for_mail(from, 1).await;
        assert_eq!(dates_possible(&app, from).await, want, "{from}");
    }
    let doc_bytes = [
        &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1][..],
        &[0u8; 4096],
    ]
    .concat();
    let unreadable: Vec<(&str, &str, &str, Vec<u8>, &str)> = vec![
        (
            "enc@j.test",
            "Fragebogen.pdf",
            "application/pdf",
            crate::fixtures::encrypted_pdf(),
            "encrypted",
        ),
        (
            "doc@k.test",
            "Fragebogen.doc",
            "application/msword",
            doc_bytes,
            "Word 97-2003",
        ),
        (
            "xfa@l.test",
            "Fragebogen.pdf",
            "application/pdf",
            crate::fixtures::xfa_pdf(),
            "XFA",
        ),
        (
            "bomb@m.test",
            "Fragebogen.docx",
            DOCX,
            crate::fixtures::docx_bomb(70),
            "limit",
        ),
    ];
    for (i, (from, name, ctype, bytes, _)) in unreadable.iter().enumerate() {
        app.deliver(
            from,
            &mail(
                from,
                &format!("bad-{i}@x.test"),
                "Bewerbung",
                "Anbei.",
                &[(name, ctype, bytes.clone())],
            ),
        )
        .await;
    }
    for (from, _) in &readable {
        app.wait_for_mail(from, 1).await;
        assert_eq!(dates_possible(&app, from).await, want, "{from}");
    }
    for (from, name, _, _, why) in &unreadable {
        let body = body_of_confirmation(&app, from, 1).await;
        assert!(
            body.contains("nicht automatisch lesen") && body.contains(name),
            "{from}: {body}"
        );
        let store = app.store().await;
        let problem: Option<String> = sqlx::query_scalar(
            "SELECT d.problem FROM documents d JOIN applications a ON a.id = d.application_id WHERE a.applicant = ?",
        )
        .bind(from)
        .fetch_one(store.pool())
        .await
        .expect("document");
        store.close().await;
        let problem = problem.unwrap_or_default();
        assert!(problem.contains(why), "{from}: {problem}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fillable_pdfs_from_other_tools_map_their_boxes_to_the_dates_printed_beside_them() {
    // Arrange: questionnaires whose boxes are named "Check Box 1",
    // "Kontrollkästchen1" or "termin_1", made by ReportLab in four layouts
    // and as Word exports them; the dates only printed beside the boxes.
    let app = spawn_app().await;
    let d = days(&app);
    let programme = app.programme();
    let labels = crate::fixtures::day_labels(&programme);
    let short: Vec<String> = labels
        .iter()
        .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(","))
        .collect();
    let two = vec![format!("interview:{}", d[1]), format!("interview:{}", d[3])];
    let cases: Vec<(&str, Vec<u8>, Vec<String>)> = vec![
        (
            "box-left@rl.test",
            crate::fixtures::reportlab_form("box-left", "check-box", "Stadt A", &labels, &[2, 4]),
            two.clone(),
        ),
        (
            "label-left@rl.test",
            crate::fixtures::reportlab_form(
                "label-left",
                "kontrollkaestchen",
                "Stadt B",
                &labels,
                &[2, 4],
            ),
            two.clone(),
        ),
        (
            "grid@rl.test",
            crate::fixtures::reportlab_form("grid", "termin", "Stadt C", &short, &[2, 4]),
            two.clone(),
        ),
        (
            "radio@rl.test",
            crate::fixtures::reportlab_form("radio", "termin", "Stadt D", &labels, &[4]),
            vec![format!("interview:{}", d[3])],
        ),
        (
            "word@wd.test",
            crate::fixtures::word_form(&labels, &[2, 4], false),
            two.clone(),
        ),
    ];
    // Act
    for (i, (from, pdf, _)) in cases.iter().enumerate() {
        let raw = mail(
            from,
            &format!("other-tool-{i}@x.test"),
            "Bewerbung EWS 7",
            "Anbei unser Fragebogen.",
            &[("Fragebogen.pdf", "application/pdf", pdf.clone())],
        );
        app.deliver(from, &raw).await;
    }
    // Assert: the ticked dates are stored, read with high confidence, and the
    // confirmation names them; nobody is asked to confirm anything.
    for (from, _, want) in &cases {
        let body = body_of_confirmation(&app, from, 1).await;
        assert_eq!(&dates_possible(&app, from).await, want, "{from}");
        assert!(
            body.contains(&format!(
                "{}: möglich",
                postbote::calendar::german::format_date(d[3])
            )),
            "{from}: {body}"
        );
        assert!(
            !body.contains("bitte bestätigen") && !body.contains("Kästchen"),
            "{from}: {body}"
        );
    }
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM facts WHERE name LIKE 'interview:%' AND confidence != 'high'"
        )
        .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM facts WHERE name LIKE 'checkbox_unmapped:%'")
            .await,
        0
    );
    let store = app.store().await;
    let source: String = sqlx::query_scalar(
        "SELECT f.source FROM facts f JOIN applications a ON a.id = f.application_id \
         WHERE a.applicant = 'label-left@rl.test' AND f.name = ?",
    )
    .bind(format!("interview:{}", d[1]))
    .fetch_one(store.pool())
    .await
    .expect("fact");
    store.close().await;
    assert_eq!(
        source,
        format!(
            "checkbox: \u{2612} Kontrollkästchen2 \u{2192} \u{201e}{}\u{201c} (left of the box on page 1)",
            labels[1]
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticked_box_beside_no_date_goes_to_staff_and_the_applicant_is_asked_to_confirm() {
    // Arrange: a Word-made form, the first day ticked and also the box
    // beside "Anderer Terminvorschlag: ____".
    let app = spawn_app().await;
    let d = days(&app);
    let labels = crate::fixtures::day_labels(&app.programme());
    let from = "hauptamt@wordhausen.test";
    let raw = mail(
        from,
        "unmapped-1@wordhausen.test",
        "Bewerbung",
        "Anbei der Fragebogen.",
        &[(
            "Fragebogen.pdf",
            "application/pdf",
            crate::fixtures::word_form(&labels, &[1], true),
        )],
    );
    // Act
    app.deliver(from, &raw).await;
    // Assert: the mapped date is stored, the other box is not dropped.
    let body = body_of_confirmation(&app, from, 1).await;
    assert_eq!(
        dates_possible(&app, from).await,
        vec![format!("interview:{}", d[0])]
    );
    assert!(
        body.contains("ein Kästchen angekreuzt, das wir keinem Gesprächstermin zuordnen konnten")
            && body.contains("Bitte bestätigen Sie uns mit einer kurzen Antwort auf diese E-Mail"),
        "{body}"
    );
    let f = facts(&app, 1).await;
    assert!(
        f.iter().any(|(n, v, c)| n == "checkbox_unmapped:1"
            && v == "angekreuzt, kein Termin zugeordnet"
            && c == "low"),
        "{f:?}"
    );
    let staff = crate::helpers::wait_subject(&app, crate::helpers::STAFF, "Bitte prüfen").await;
    let text = crate::helpers::text(&staff);
    assert!(
        text.contains("Fragebogen.pdf, Seite 1: Kästchen „Kontrollkästchen6“ (daneben: „Anderer Terminvorschlag: ____________“) ist angekreuzt, ließ sich aber keinem Gesprächstermin zuordnen (weder das Kästchen noch der Text daneben nennt ein Datum). Bitte im Fragebogen nachsehen. Die Eingangsbestätigung bittet die Kommune, ihre Termine zu bestätigen."),
        "{text}"
    );
    // `postbote applications show` prints the fact with its source.
    let out = app.cli(&["applications", "show", "1"]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("checkbox_unmapped:1") && shown.contains("Kontrollkästchen6"),
        "{shown}"
    );
}
