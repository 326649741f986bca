//! The template contexts: one struct per mail, each with a sample that the
//! startup check renders in strict mode.

use serde::Serialize;

/// `confirmation` and `confirmation_late`.
#[derive(Debug, Clone, Serialize)]
pub struct Confirmation {
    pub complete: bool,
    pub missing: Vec<String>,
    pub unreadable: Vec<String>,
    pub documents: Vec<String>,
    pub interview_choices: Vec<String>,
    /// Ticked questionnaire boxes that map to no interview day: the mail asks
    /// the applicant to confirm their dates.
    pub unmapped_boxes: usize,
    pub programme: String,
    pub short_name: String,
    pub reference: String,
    pub applicant_name: Option<String>,
    pub subject: String,
    pub received: String,
    pub deadline: String,
    pub attachments: Vec<String>,
    pub interview_days: Vec<String>,
    pub contact_name: String,
    pub contact_address: String,
}

/// `reminder_incomplete`.
#[derive(Debug, Clone, Serialize)]
pub struct Reminder {
    pub short_name: String,
    pub reference: String,
    pub deadline: String,
    pub missing: Vec<String>,
    pub contact_name: String,
    pub contact_address: String,
}

/// `staff_needs_review`: what a human should look at in an application.
#[derive(Debug, Clone, Serialize)]
pub struct StaffReview {
    pub short_name: String,
    pub reference: String,
    pub applicant: String,
    pub flags: Vec<String>,
}

/// `staff_late_application`.
#[derive(Debug, Clone, Serialize)]
pub struct StaffLate {
    pub short_name: String,
    pub reference: String,
    pub applicant: String,
    pub received: String,
    pub deadline: String,
    pub subject: String,
}

/// `staff_processing_failed`.
#[derive(Debug, Clone, Serialize)]
pub struct StaffFailure {
    pub short_name: String,
    pub message_id: String,
    pub from: String,
    pub subject: String,
    pub received: String,
    pub error: String,
    /// The message's row, for `postbote messages retry`.
    pub row: i64,
}

/// `interview_invitation`, `interview_update`, `interview_cancel`.
#[derive(Debug, Clone, Serialize)]
pub struct InterviewMail {
    pub short_name: String,
    pub programme: String,
    pub reference: String,
    pub municipality: String,
    pub recipient_name: Option<String>,
    /// e.g. "Mo., 29.06.2026, 09:00–09:20 Uhr"
    pub when: String,
    /// The time before a move, for `interview_update`.
    pub previous_when: Option<String>,
    pub zoom_link: String,
    pub minutes: u32,
    /// Everyone invited, e.g. "Erika Muster (erika@stadt.test)".
    pub invited: Vec<String>,
    pub contact_name: String,
    pub contact_address: String,
}

/// `interview_no_slot`: no date ticked, or all ticked days full.
#[derive(Debug, Clone, Serialize)]
pub struct NoSlot {
    pub short_name: String,
    pub reference: String,
    pub municipality: String,
    pub nothing_ticked: bool,
    pub interview_days: Vec<String>,
    pub contact_name: String,
    pub contact_address: String,
}

/// `decision_accept`, `decision_reject`, `decision_waitlist`, `decision_correction`.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionMail {
    pub short_name: String,
    pub programme: String,
    pub reference: String,
    pub municipality: String,
    /// accept | reject | waitlist
    pub outcome: String,
    pub accepted: bool,
    pub rejected: bool,
    pub waitlisted: bool,
    pub persons: i64,
    /// The first in-person module, e.g. "1. Präsenzmodul, Do., 27.08.2026 – Fr., 28.08.2026, DJH …".
    pub first_event: String,
    pub contact_name: String,
    pub contact_address: String,
}

/// `staff_notice`: one titled list for staff (replies that need a human,
/// applicants without a slot, rejected commands).
#[derive(Debug, Clone, Serialize)]
pub struct StaffNotice {
    pub short_name: String,
    pub title: String,
    pub intro: String,
    pub lines: Vec<String>,
    /// A quoted excerpt (for replies), may be empty.
    pub excerpt: String,
}

/// `staff_command_result`: the reply to a staff command mail.
#[derive(Debug, Clone, Serialize)]
pub struct CommandResult {
    pub short_name: String,
    pub authenticated_via: String,
    pub done: Vec<String>,
    pub refused: Vec<String>,
    pub details: Vec<String>,
}

/// `event_reminder`, `event_announcement`, `event_update`, `event_cancel`.
#[derive(Debug, Clone, Serialize)]
pub struct EventMail {
    pub short_name: String,
    pub programme: String,
    pub title: String,
    pub is_module: bool,
    /// Each day, e.g. "Do., 27.08.2026, 10:00–16:00 Uhr".
    pub days: Vec<String>,
    pub first_day: String,
    /// A module's venue with its address, e.g. "DJH …, Düsseldorfer Str. 1, …".
    pub venue: Option<String>,
    pub zoom_link: Option<String>,
    pub agenda: String,
    /// For reminders, in the dative: "14 Tagen", "1 Stunde".
    pub offset_text: Option<String>,
    /// Whether the mail carries the calendar entry (REQUEST or CANCEL).
    pub has_calendar: bool,
    pub recipient_name: Option<String>,
    pub contact_name: String,
    pub contact_address: String,
}

/// `participant_welcome`: every remaining event of the programme, for a
/// person on a roster taken over mid-year.
#[derive(Debug, Clone, Serialize)]
pub struct Welcome {
    pub short_name: String,
    pub programme: String,
    pub recipient_name: Option<String>,
    pub events: Vec<WelcomeEvent>,
    /// Some event is tentative ("unter Vorbehalt").
    pub has_tentative: bool,
    /// Some event's calendar entry (.ics) is attached.
    pub has_calendar: bool,
    pub contact_name: String,
    pub contact_address: String,
}

/// One event of a [`Welcome`].
#[derive(Debug, Clone, Serialize)]
pub struct WelcomeEvent {
    pub title: String,
    pub is_module: bool,
    /// Each day, e.g. "Do., 27.08.2026, 10:00–16:00 Uhr".
    pub days: Vec<String>,
    pub venue: Option<String>,
    pub zoom_link: Option<String>,
    pub agenda: String,
    /// Planned "unter Vorbehalt": no calendar entry yet.
    pub tentative: bool,
    /// The name of its attached .ics, if one is.
    pub calendar_file: Option<String>,
}

/// `staff_digest`: what happened and what comes, for staff: the
/// programme-neutral parts (mail that needs a human, sending, the mailbox)
/// once, the rest in one section per programme.
#[derive(Debug, Clone, Serialize)]
pub struct Digest {
    /// The programmes' short names, joined (the subject).
    pub short_name: String,
    pub date: String,
    pub since: String,
    pub needs_human: Vec<String>,
    /// One per programme, in the settings' order.
    pub sections: Vec<DigestSection>,
    pub sent: i64,
    pub failed: Vec<String>,
    pub bounces: Vec<String>,
    pub last_mailbox_check: String,
}

/// The part of the digest about one programme.
#[derive(Debug, Clone, Serialize)]
pub struct DigestSection {
    /// The programme's short name (the heading).
    pub short_name: String,
    pub code: String,
    pub retired: bool,
    pub new_applications: Vec<String>,
    pub interviews: Vec<String>,
    pub pending_decisions: Vec<String>,
    /// Open "possible duplicate" marks, each with the commands to resolve it.
    pub duplicates: Vec<String>,
    /// Held address changes, each with the commands to decide on it.
    pub address_changes: Vec<String>,
    pub upcoming: Vec<String>,
    /// Nothing in this section to show.
    pub quiet: bool,
}

fn json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Every template with a sample context (names match files in templates/).
pub fn samples() -> Vec<(&'static str, serde_json::Value)> {
    let confirmation = Confirmation {
        complete: false,
        missing: vec!["Fragebogen".into()],
        unreadable: vec!["Scan.jpg".into()],
        documents: vec!["Motivationsschreiben: Motivation.pdf".into()],
        interview_choices: vec!["Mo., 29.06.2026: möglich".into()],
        unmapped_boxes: 1,
        programme: "Entwicklungswerkstatt".into(),
        short_name: "EWS 7".into(),
        reference: "EWS7-0001".into(),
        applicant_name: Some("Stadt Musterhausen".into()),
        subject: "Bewerbung".into(),
        received: "Mo., 15.06.2026, 10:00 Uhr".into(),
        deadline: "Fr., 19.06.2026".into(),
        attachments: vec!["Fragebogen.pdf".into()],
        interview_days: vec!["Mo., 29.06.2026, 9:00–13:00 Uhr".into()],
        contact_name: "Projektteam".into(),
        contact_address: "projekt@example.org".into(),
    };
    let late = StaffLate {
        short_name: "EWS 7".into(),
        reference: "EWS7-0001".into(),
        applicant: "kaemmerei@stadt.test".into(),
        received: "Sa., 20.06.2026, 08:00 Uhr".into(),
        deadline: "Fr., 19.06.2026".into(),
        subject: "Bewerbung".into(),
    };
    let failure = StaffFailure {
        short_name: "EWS 7".into(),
        message_id: "abc@stadt.test".into(),
        from: "kaemmerei@stadt.test".into(),
        subject: "Bewerbung".into(),
        received: "Mo., 15.06.2026, 10:00 Uhr".into(),
        error: "example".into(),
        row: 17,
    };
    let reminder = Reminder {
        short_name: "EWS 7".into(),
        reference: "EWS7-0001".into(),
        deadline: "Fr., 19.06.2026".into(),
        missing: vec!["Fragebogen".into()],
        contact_name: "Projektteam".into(),
        contact_address: "projekt@example.org".into(),
    };
    let review = StaffReview {
        short_name: "EWS 7".into(),
        reference: "EWS7-0001".into(),
        applicant: "kaemmerei@stadt.test".into(),
        flags: vec!["IMG_2041.jpg: Foto".into()],
    };
    let interview = InterviewMail {
        short_name: "EWS 7".into(),
        programme: "Entwicklungswerkstatt".into(),
        reference: "EWS7-0001".into(),
        municipality: "Stadt Musterhausen".into(),
        recipient_name: Some("Erika Muster".into()),
        when: "Mo., 29.06.2026, 09:00–09:20 Uhr".into(),
        previous_when: Some("Mo., 29.06.2026, 09:30–09:50 Uhr".into()),
        zoom_link: "https://zoom.us/j/1".into(),
        minutes: 20,
        invited: vec!["Erika Muster (erika@stadt.test)".into()],
        contact_name: "Projektteam".into(),
        contact_address: "projekt@example.org".into(),
    };
    let no_slot = NoSlot {
        short_name: "EWS 7".into(),
        reference: "EWS7-0001".into(),
        municipality: "Stadt Musterhausen".into(),
        nothing_ticked: true,
        interview_days: vec!["Mo., 29.06.2026, 09:00–13:00 Uhr".into()],
        contact_name: "Projektteam".into(),
        contact_address: "projekt@example.org".into(),
    };
    let decision = DecisionMail {
        short_name: "EWS 7".into(),
        programme: "Entwicklungswerkstatt".into(),
        reference: "EWS7-0001".into(),
        municipality: "Stadt Musterhausen".into(),
        outcome: "accept".into(),
        accepted: true,
        rejected: false,
        waitlisted: false,
        persons: 2,
        first_event: "1. Präsenzmodul: Do., 27.08.2026".into(),
        contact_name: "Projektteam".into(),
        contact_address: "projekt@example.org".into(),
    };
    let notice = StaffNotice {
        short_name: "EWS 7".into(),
        title: "Antwort auf eine Einladung".into(),
        intro: "Bitte beantworten Sie diese Nachricht selbst.".into(),
        lines: vec!["Von: erika@stadt.test".into()],
        excerpt: "Der Termin passt leider nicht.".into(),
    };
    let result = CommandResult {
        short_name: "EWS 7".into(),
        authenticated_via: "DKIM".into(),
        done: vec!["Zusage für EWS7-0001".into()],
        refused: vec!["ABSAGE EWS7-0099: unbekannte Bewerbung".into()],
        details: vec!["Mo., 29.06.2026, 09:00 Uhr: EWS7-0001".into()],
    };
    let event = EventMail {
        short_name: "EWS 7".into(),
        programme: "Entwicklungswerkstatt".into(),
        title: "1. Präsenzmodul".into(),
        is_module: true,
        days: vec!["Do., 27.08.2026, 10:00–16:00 Uhr".into()],
        first_day: "Do., 27.08.2026".into(),
        venue: Some("DJH Jugendherberge Düsseldorf, Düsseldorfer Str. 1, 40545 Düsseldorf".into()),
        zoom_link: Some("https://zoom.us/j/1".into()),
        agenda: "Kennenlernen".into(),
        offset_text: Some("14 Tagen".into()),
        has_calendar: true,
        recipient_name: Some("Erika Muster".into()),
        contact_name: "Projektteam".into(),
        contact_address: "projekt@example.org".into(),
    };
    let digest = Digest {
        short_name: "EWS 7".into(),
        date: "Mo., 29.06.2026".into(),
        since: "Fr., 26.06.2026, 07:30 Uhr".into(),
        needs_human: vec!["Frage von a@b.test".into()],
        sections: vec![DigestSection {
            short_name: "EWS 7".into(),
            code: "EWS7".into(),
            retired: false,
            new_applications: vec!["EWS7-0001 Stadt Musterhausen: vollständig".into()],
            interviews: vec!["Mo., 29.06.2026, 09:00 Uhr: EWS7-0001".into()],
            pending_decisions: vec!["2 Bescheide warten".into()],
            duplicates: vec![
                "EWS7-0002 Stadt Musterhausen (von a@b.test): mögliche Doppelbewerbung".into(),
            ],
            address_changes: vec![
                "EWS7-0001: Adresse der teilnehmenden Person neu x@y.test".into(),
            ],
            upcoming: vec!["1. Präsenzmodul: 12 Teilnehmende".into()],
            quiet: false,
        }],
        sent: 3,
        failed: vec!["x@y.test: 550".into()],
        bounces: vec!["x@y.test: 5.1.1".into()],
        last_mailbox_check: "Mo., 29.06.2026, 07:29 Uhr".into(),
    };
    let welcome = Welcome {
        short_name: "EWS 7".into(),
        programme: "Entwicklungswerkstatt".into(),
        recipient_name: Some("Erika Muster".into()),
        events: vec![
            WelcomeEvent {
                title: "3. Treffen digitale Lerngruppe".into(),
                is_module: false,
                days: vec!["Mi., 13.01.2027, 09:00–10:30 Uhr".into()],
                venue: None,
                zoom_link: Some("https://zoom.us/j/1".into()),
                agenda: "Austausch".into(),
                tentative: false,
                calendar_file: Some("lerngruppe-3.ics".into()),
            },
            WelcomeEvent {
                title: "3. Präsenzmodul".into(),
                is_module: true,
                days: vec!["Do., 28.01.2027, 10:00–16:00 Uhr".into()],
                venue: Some("DJH Jugendherberge Düsseldorf".into()),
                zoom_link: None,
                agenda: String::new(),
                tentative: true,
                calendar_file: None,
            },
        ],
        has_tentative: true,
        has_calendar: true,
        contact_name: "Projektteam".into(),
        contact_address: "projekt@example.org".into(),
    };
    vec![
        ("event_reminder", json(&event)),
        ("participant_welcome", json(&welcome)),
        ("event_announcement", json(&event)),
        ("event_update", json(&event)),
        ("event_cancel", json(&event)),
        ("staff_digest", json(&digest)),
        ("interview_invitation", json(&interview)),
        ("interview_update", json(&interview)),
        ("interview_cancel", json(&interview)),
        ("interview_no_slot", json(&no_slot)),
        ("decision_accept", json(&decision)),
        ("decision_reject", json(&decision)),
        ("decision_waitlist", json(&decision)),
        ("decision_correction", json(&decision)),
        ("staff_notice", json(&notice)),
        ("staff_command_result", json(&result)),
        ("staff_needs_review", json(&review)),
        ("reminder_incomplete", json(&reminder)),
        ("confirmation", json(&confirmation)),
        ("confirmation_late", json(&confirmation)),
        ("confirmation_update", json(&confirmation)),
        ("staff_late_application", json(&late)),
        ("staff_processing_failed", json(&failure)),
    ]
}
