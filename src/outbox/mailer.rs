//! The one way to write a mail: render its template, compose the MIME
//! message and queue it in the caller's transaction, under its idempotency
//! key and the daily cap for its kind ([`Cap`]).
//!
//! The purpose recorded on the outbox row is the template's name (a
//! [`Purpose`]; a template without one is refused); the
//! Message-ID follows from the key ([`Composer::message_id_for`]), so a key
//! written twice queues one mail.

use super::compose::{Automatic, Calendar, Composer, Draft};
use super::render::{Rendered, Templates};
use crate::domain::EmailAddress;
use crate::store::Tx;
use crate::store::outbox::{self, Budget, CapClass, Enqueued, NewMail, Purpose};
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Which daily cap (mails to one recipient within 24 hours, a backstop
/// against loops) a mail counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// Mail an applicant's own mail or the calendar causes (confirmations,
    /// reminders): `mail.daily_cap_per_recipient`.
    Applicant,
    /// Mail that staff caused (invitations, decision corrections, programme
    /// mails): the applicants' cap, but at least 10.
    StaffCaused,
    /// Mail to staff (notices, command replies): at least 50.
    ToStaff,
    /// ALARM mails and the digest: at least 50, counted apart from all
    /// other mail to the recipient, so that notices caused by a flood of
    /// (forged) mail cannot suppress them.
    Alarm,
}

impl Cap {
    /// The cap for this kind when applicants get `per_recipient`.
    pub fn limit(self, per_recipient: u32) -> u32 {
        match self {
            Cap::Applicant => per_recipient,
            Cap::StaffCaused => per_recipient.max(10),
            Cap::ToStaff | Cap::Alarm => per_recipient.max(50),
        }
    }

    fn class(self) -> CapClass {
        match self {
            Cap::Applicant => CapClass::Applicant,
            Cap::StaffCaused => CapClass::StaffCaused,
            Cap::ToStaff => CapClass::ToStaff,
            Cap::Alarm => CapClass::Alarm,
        }
    }
}

/// The mail a [`Letter`] answers: the letter is then `auto-replied` and
/// threaded below it.
#[derive(Debug, Clone, Copy)]
pub struct Answering<'a> {
    /// The answered Message-ID (with or without brackets), if it had one.
    pub message_id: Option<&'a str>,
    /// The answered mail's References.
    pub references: &'a [String],
}

/// What to write: template, idempotency key, recipient; override the
/// optional parts with `Letter { .., ..Letter::new(..) }`.
#[derive(Debug, Clone)]
pub struct Letter<'a> {
    /// The template's name, recorded as the row's purpose as well.
    pub template: &'a str,
    pub key: String,
    pub application_id: Option<i64>,
    pub to: &'a EmailAddress,
    pub to_name: Option<&'a str>,
    /// None: an `auto-generated` mail that answers nothing.
    pub answering: Option<Answering<'a>>,
    /// An iCalendar object (iMIP), sent inline and as `.ics` file.
    pub calendar: Option<Calendar>,
    /// Not to be sent after this: the start of the event or interview it
    /// announces (the row is marked `expired` instead, and staff are told).
    pub expires_at: Option<DateTime<Utc>>,
    /// Files attached (an Art. 15 export to staff; the .ics files of a
    /// participant welcome).
    pub attachments: Vec<super::compose::FileAttachment>,
}

impl<'a> Letter<'a> {
    pub fn new(
        template: &'a str,
        key: String,
        application_id: Option<i64>,
        to: &'a EmailAddress,
    ) -> Letter<'a> {
        Letter {
            template,
            key,
            application_id,
            to,
            to_name: None,
            answering: None,
            calendar: None,
            expires_at: None,
            attachments: Vec::new(),
        }
    }

    fn draft(self, purpose: Purpose, rendered: Rendered) -> Draft<'a> {
        let (automatic, in_reply_to, references) = match self.answering {
            Some(a) => (Automatic::Replied, a.message_id, a.references),
            None => (Automatic::Generated, None, &[][..]),
        };
        Draft {
            idempotency_key: self.key,
            purpose,
            application_id: self.application_id,
            to: self.to,
            to_name: self.to_name,
            rendered,
            automatic,
            in_reply_to,
            references,
            calendar: self.calendar,
            attachments: self.attachments,
        }
    }
}

/// Renders, composes and queues mail; holds the checked templates, the
/// sender's identity and the applicants' daily cap.
pub struct Mailer {
    templates: Templates,
    composer: Composer,
    per_recipient: u32,
    applicant_per_hour: Option<u32>,
}

impl Mailer {
    /// `per_recipient`: `mail.daily_cap_per_recipient`, the base of every [`Cap`].
    pub fn new(templates: Templates, composer: Composer, per_recipient: u32) -> Mailer {
        Mailer {
            templates,
            composer,
            per_recipient,
            applicant_per_hour: None,
        }
    }

    /// At most `per_hour` mails of [`Cap::Applicant`] to anyone within the
    /// last hour (`mail.max_automatic_per_hour`); more are suppressed.
    pub fn with_applicant_per_hour(mut self, per_hour: u32) -> Mailer {
        self.applicant_per_hour = Some(per_hour);
        self
    }

    /// The daily cap that applies to a mail of kind `cap`.
    pub fn cap(&self, cap: Cap) -> u32 {
        cap.limit(self.per_recipient)
    }

    /// The templates, checked at startup.
    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    /// The composer: the From address and the Message-IDs.
    pub fn composer(&self) -> &Composer {
        &self.composer
    }

    /// Renders `letter`'s template with `context` and composes the message,
    /// without queueing it.
    pub fn compose<C: Serialize>(
        &self,
        letter: Letter<'_>,
        context: &C,
    ) -> anyhow::Result<NewMail> {
        let purpose = Purpose::parse(letter.template)
            .with_context(|| format!("no mail purpose for template {:?}", letter.template))?;
        let rendered = self.templates.render(letter.template, context)?;
        let expires_at = letter.expires_at;
        let mut mail = self.composer.compose(letter.draft(purpose, rendered))?;
        mail.expires_at = expires_at;
        Ok(mail)
    }

    /// Writes `letter` to the outbox in `tx`, to be sent; past the daily cap
    /// of its kind (or the hourly cap of applicant mail) it is stored as suppressed. A key used before queues nothing.
    pub async fn queue<C: Serialize>(
        &self,
        tx: &mut Tx<'_>,
        letter: Letter<'_>,
        context: &C,
        cap: Cap,
    ) -> anyhow::Result<Enqueued> {
        let mail = self.compose(letter, context)?;
        let budget = Budget {
            class: cap.class(),
            daily: self.cap(cap),
            hourly_total: match cap {
                Cap::Applicant => self.applicant_per_hour,
                _ => None,
            },
        };
        outbox::enqueue_within(tx, &mail, budget).await
    }

    /// Writes `letter` to the outbox in `tx` as held in `batch`, until staff
    /// release it (no daily cap: a human sends it). A key used before queues nothing.
    pub async fn hold<C: Serialize>(
        &self,
        tx: &mut Tx<'_>,
        letter: Letter<'_>,
        context: &C,
        batch: &str,
    ) -> anyhow::Result<Enqueued> {
        let mail = self.compose(letter, context)?;
        outbox::enqueue_held(tx, &mail, batch).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::outbox::OutboxState;
    use crate::workflow::mails::{self, samples};
    use std::path::Path;

    const CAP: u32 = 3;

    fn mailer(per_recipient: u32) -> Mailer {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let templates = Templates::load(&dir, &samples()).unwrap();
        let from = EmailAddress::parse("projekt@ews.test").unwrap();
        let composer = Composer::new(
            &from,
            "EWS 7 Projektteam",
            None,
            "ews.test",
            "postbote-test",
            [7; 32],
        )
        .unwrap();
        Mailer::new(templates, composer, per_recipient)
    }

    fn notice(title: &str) -> mails::StaffNotice {
        mails::StaffNotice {
            short_name: "EWS 7".into(),
            title: title.into(),
            intro: "Einleitung".into(),
            lines: vec!["eins".into()],
            excerpt: String::new(),
        }
    }

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite")).await.unwrap();
        (dir, store)
    }

    async fn rows(store: &Store) -> Vec<outbox::OutboxEntry> {
        outbox::list(store).await.unwrap()
    }

    #[test]
    fn each_kind_has_its_cap() {
        for (per_recipient, applicant, staff_caused, to_staff) in
            [(3, 3, 10, 50), (20, 20, 20, 50), (80, 80, 80, 80)]
        {
            let m = mailer(per_recipient);
            assert_eq!(m.cap(Cap::Applicant), applicant);
            assert_eq!(m.cap(Cap::StaffCaused), staff_caused);
            assert_eq!(m.cap(Cap::ToStaff), to_staff);
        }
    }

    #[tokio::test]
    async fn the_cap_of_the_kind_suppresses_past_it() {
        let (_dir, store) = store().await;
        let m = mailer(CAP);
        let to = EmailAddress::parse("kaemmerei@stadt.test").unwrap();
        let mut tx = store.begin().await.unwrap();
        let mut states = Vec::new();
        for (i, cap) in std::iter::repeat_n(Cap::Applicant, 4)
            .chain(std::iter::repeat_n(Cap::StaffCaused, 8))
            .enumerate()
        {
            let letter = Letter::new("staff_notice", format!("n:{i}"), None, &to);
            states.push(m.queue(&mut tx, letter, &notice("x"), cap).await.unwrap());
        }
        tx.commit().await.unwrap();
        let suppressed: Vec<usize> = states
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Enqueued::Suppressed(_)))
            .map(|(i, _)| i)
            .collect();
        // Applicant: 3 go out, the 4th is suppressed; staff-caused mail counts
        // the same 24 hours (suppressed rows aside) against 10.
        assert_eq!(suppressed, vec![3, 11]);
        let rows = rows(&store).await;
        assert_eq!(
            rows[3].last_error.as_deref(),
            Some("daily cap of 3 mails to this recipient reached")
        );
        assert_eq!(
            rows[11].last_error.as_deref(),
            Some("daily cap of 10 mails to this recipient reached")
        );
    }

    #[tokio::test]
    async fn mail_to_staff_gets_at_least_fifty() {
        let (_dir, store) = store().await;
        let m = mailer(1);
        let to = EmailAddress::parse("leitung@ews.test").unwrap();
        let mut tx = store.begin().await.unwrap();
        for i in 0..51 {
            let letter = Letter::new("staff_notice", format!("s:{i}"), None, &to);
            let got = m.queue(&mut tx, letter, &notice("x"), Cap::ToStaff).await;
            assert_eq!(matches!(got.unwrap(), Enqueued::Queued(_)), i < 50, "{i}");
        }
    }

    #[tokio::test]
    async fn the_same_key_twice_queues_once() {
        let (_dir, store) = store().await;
        let m = mailer(CAP);
        let to = EmailAddress::parse("kaemmerei@stadt.test").unwrap();
        let mut tx = store.begin().await.unwrap();
        let letter = || Letter::new("staff_notice", "same:1".into(), None, &to);
        let first = m
            .queue(&mut tx, letter(), &notice("a"), Cap::Applicant)
            .await
            .unwrap();
        assert!(matches!(first, Enqueued::Queued(_)));
        let again = m
            .queue(&mut tx, letter(), &notice("b"), Cap::ToStaff)
            .await
            .unwrap();
        assert_eq!(again, Enqueued::AlreadyQueued);
        let held = m
            .hold(&mut tx, letter(), &notice("c"), "notices")
            .await
            .unwrap();
        assert_eq!(held, Enqueued::AlreadyQueued);
        tx.commit().await.unwrap();
        let rows = rows(&store).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].message_id, m.composer().message_id_for("same:1"));
        assert_eq!(
            (
                rows[0].purpose,
                rows[0].state,
                rows[0].last_error.as_deref()
            ),
            (Purpose::StaffNotice, OutboxState::Queued, None)
        );
    }

    #[tokio::test]
    async fn held_mail_waits_outside_the_cap() {
        let (_dir, store) = store().await;
        let m = mailer(1);
        let to = EmailAddress::parse("kaemmerei@stadt.test").unwrap();
        let mut tx = store.begin().await.unwrap();
        for i in 0..3 {
            let letter = Letter::new("staff_notice", format!("h:{i}"), None, &to);
            let got = m
                .hold(&mut tx, letter, &notice("x"), "notices")
                .await
                .unwrap();
            assert!(matches!(got, Enqueued::Queued(_)));
        }
        tx.commit().await.unwrap();
        assert!(
            rows(&store)
                .await
                .iter()
                .all(|r| r.state == OutboxState::Held)
        );
    }

    #[test]
    fn line_breaks_in_a_subject_inject_no_header() {
        let m = mailer(CAP);
        let to = EmailAddress::parse("kaemmerei@stadt.test").unwrap();
        let letter = Letter {
            to_name: Some("Stadt\r\nCc: evil@x.test"),
            ..Letter::new("staff_notice", "inject:1".into(), None, &to)
        };
        let mail = m
            .compose(letter, &notice("Titel\r\nBcc: evil@x.test\nX-Evil: 1\r"))
            .unwrap();
        let text = String::from_utf8(mail.raw.clone()).unwrap();
        let head = text.split("\r\n\r\n").next().unwrap();
        for name in ["Bcc:", "Cc:", "X-Evil:"] {
            assert!(
                !head.lines().any(|l| l.starts_with(name)),
                "{name} injected:\n{head}"
            );
        }
        assert!(!mail.subject.contains(['\r', '\n']), "{}", mail.subject);
        assert!(mail.subject.contains("Titel Bcc: evil@x.test X-Evil: 1"));
    }

    #[test]
    fn a_letter_keeps_its_key_purpose_and_threading() {
        let m = mailer(CAP);
        let to = EmailAddress::parse("kaemmerei@stadt.test").unwrap();
        let refs = vec!["older@stadt.test".to_string()];
        let plain = m
            .compose(
                Letter::new("staff_notice", "k:1".into(), Some(3), &to),
                &notice("x"),
            )
            .unwrap();
        assert_eq!(plain.idempotency_key, "k:1");
        assert_eq!(plain.purpose, Purpose::StaffNotice);
        assert_eq!(plain.application_id, Some(3));
        assert_eq!(plain.message_id, m.composer().message_id_for("k:1"));
        // The Message-ID of a key (under one instance key) must not change:
        // queued mail and replies to it are known by it.
        assert_eq!(
            plain.message_id,
            "cb774d2ca066c4c21e95743b505f78fd.postbote@ews.test"
        );
        let text = String::from_utf8(plain.raw).unwrap();
        assert!(text.contains("Auto-Submitted: auto-generated\r\n"));
        assert!(!text.contains("In-Reply-To:"));
        let reply = m
            .compose(
                Letter {
                    answering: Some(Answering {
                        message_id: Some("<abc@stadt.test>"),
                        references: &refs,
                    }),
                    ..Letter::new("staff_notice", "k:2".into(), None, &to)
                },
                &notice("x"),
            )
            .unwrap();
        let text = String::from_utf8(reply.raw).unwrap();
        assert!(text.contains("Auto-Submitted: auto-replied\r\n"));
        assert!(text.contains("In-Reply-To: <abc@stadt.test>\r\n"));
        assert!(text.contains("References: <older@stadt.test> <abc@stadt.test>\r\n"));
    }
}
