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
    vec![
        ("staff_needs_review", json(&review)),
        ("reminder_incomplete", json(&reminder)),
        ("confirmation", json(&confirmation)),
        ("confirmation_late", json(&confirmation)),
        ("confirmation_update", json(&confirmation)),
        ("staff_late_application", json(&late)),
        ("staff_processing_failed", json(&failure)),
    ]
}
