//! Builds the MIME message for an outbox row: threading, automatic-mail
//! markers and a stable Message-ID derived from the idempotency key.

use super::render::Rendered;
use crate::domain::{EmailAddress, HeaderText};
use crate::store::outbox::{NewMail, Purpose};
use anyhow::Context;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use sha2::{Digest, Sha256};

/// RFC 3834: a reply to a message is `auto-replied`, anything else `auto-generated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Automatic {
    Replied,
    Generated,
}

macro_rules! text_header {
    ($ty:ident, $name:literal) => {
        #[derive(Debug, Clone)]
        struct $ty(String);
        impl Header for $ty {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($name)
            }
            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok($ty(s.to_string()))
            }
            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

text_header!(AutoSubmitted, "Auto-Submitted");
text_header!(AutoResponseSuppress, "X-Auto-Response-Suppress");
text_header!(LoopMarker, "X-Postbote-Loop");

/// The loop-detection header we put on every mail, and look for on incoming mail.
pub const LOOP_HEADER: &str = "X-Postbote-Loop";

/// Hex digits of the keyed loop token.
const LOOP_TOKEN_LEN: usize = 32;

/// The keyed loop token: `X-Postbote-Loop: <instance>; <token>`, where the
/// token is the first 32 hex digits of HMAC-SHA256(instance key, `"loop:"` +
/// the mail's own Message-ID without brackets). Only a mail whose token
/// verifies against its own Message-ID is postbote's; the instance name
/// alone (visible in every mail sent) proves nothing.
///
/// NOTE: the HMAC input never holds a line break (a usable Message-ID has
/// none), the Message-ID's input always does (`instance "\n" key`), so one
/// MAC can never stand in for the other.
#[derive(Clone)]
pub struct LoopKey {
    instance: String,
    key: [u8; 32],
}

impl std::fmt::Debug for LoopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopKey")
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

/// What a mail's `X-Postbote-Loop` header says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoopVerdict {
    /// Our token for the mail's own Message-ID: postbote's own mail.
    Own,
    /// Our token for a Message-ID the mail answers (In-Reply-To or
    /// References): an automatic reply that copied our header.
    QuotesOurs(String),
    /// Our instance name with no token, a wrong one, or one for another
    /// Message-ID: proves nothing, the mail is ordinary input.
    Unverified,
    /// Another instance's name: another postbote's mail.
    Other(String),
}

impl LoopKey {
    pub fn new(instance: &str, key: [u8; 32]) -> LoopKey {
        LoopKey {
            instance: HeaderText::sanitize(instance, 60).to_string(),
            key,
        }
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The token for a Message-ID (with or without brackets).
    pub fn token(&self, message_id: &str) -> String {
        let id = message_id
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        let mac = hmac_sha256(&self.key, format!("loop:{id}").as_bytes());
        hex::encode(mac)[..LOOP_TOKEN_LEN].to_string()
    }

    /// The header value for the mail with this Message-ID.
    pub fn header_value(&self, message_id: &str) -> String {
        format!("{}; {}", self.instance, self.token(message_id))
    }

    /// Judges a received header value for a mail with `message_id` that
    /// answers `answered` (its In-Reply-To and References).
    pub fn judge(&self, value: &str, message_id: Option<&str>, answered: &[&str]) -> LoopVerdict {
        let value = value.trim();
        let (name, token) = match value.rsplit_once(';') {
            Some((n, t)) => (n.trim(), t.trim()),
            None => (value, ""),
        };
        if name != self.instance {
            return LoopVerdict::Other(HeaderText::sanitize(value, 80).to_string());
        }
        let fits = |id: &str| {
            let want = self.token(id);
            token.len() == want.len()
                && token
                    .bytes()
                    .zip(want.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        };
        if message_id.is_some_and(fits) {
            return LoopVerdict::Own;
        }
        match answered.iter().find(|id| fits(id)) {
            Some(id) => LoopVerdict::QuotesOurs(id.to_string()),
            None => LoopVerdict::Unverified,
        }
    }

    /// A stored raw message (queued before the keyed token) with the old
    /// header `X-Postbote-Loop: <instance>` made current, or None when its
    /// header block holds no such line.
    /// The loop header as mail carried it before it was keyed (the
    /// instance name alone), CRLF included.
    pub fn old_header(&self) -> String {
        format!("{LOOP_HEADER}: {}\r\n", self.instance)
    }

    pub fn upgrade_raw(&self, raw: &[u8], message_id: &str) -> Option<Vec<u8>> {
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 2)?;
        let old = self.old_header();
        let head = &raw[..end];
        let at = head
            .windows(old.len())
            .enumerate()
            .find(|(i, w)| {
                w.eq_ignore_ascii_case(old.as_bytes()) && (*i == 0 || head[i - 1] == b'\n')
            })
            .map(|(i, _)| i)?;
        let new = format!("{LOOP_HEADER}: {}\r\n", self.header_value(message_id));
        let mut out = Vec::with_capacity(raw.len() + LOOP_TOKEN_LEN + 2);
        out.extend_from_slice(&raw[..at]);
        out.extend_from_slice(new.as_bytes());
        out.extend_from_slice(&raw[at + old.len()..]);
        Some(out)
    }
}

/// What the workflow asks to send.
pub struct Draft<'a> {
    pub idempotency_key: String,
    pub purpose: Purpose,
    pub application_id: Option<i64>,
    pub to: &'a EmailAddress,
    pub to_name: Option<&'a str>,
    pub rendered: Rendered,
    pub automatic: Automatic,
    /// The Message-ID we answer (without angle brackets), if any.
    pub in_reply_to: Option<&'a str>,
    /// The References of the answered mail (without angle brackets).
    pub references: &'a [String],
    /// An iCalendar object (iMIP, RFC 6047), sent inline and as `.ics` file.
    pub calendar: Option<Calendar>,
    /// Files attached to the mail (an Art. 15 export for staff, the .ics
    /// files of a participant welcome).
    pub attachments: Vec<FileAttachment>,
}

/// A file attached to an outgoing mail.
#[derive(Debug, Clone)]
pub struct FileAttachment {
    /// Shown to the recipient (sanitised before use).
    pub file_name: String,
    /// e.g. `application/zip`
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl<'a> Draft<'a> {
    /// An automatic mail (`auto-generated`) that answers nothing, without
    /// a calendar part; override fields with `Draft { .., ..Draft::generated(..) }`.
    pub fn generated(
        idempotency_key: String,
        purpose: Purpose,
        application_id: Option<i64>,
        to: &'a EmailAddress,
        rendered: Rendered,
    ) -> Draft<'a> {
        Draft {
            idempotency_key,
            purpose,
            application_id,
            to,
            to_name: None,
            rendered,
            automatic: Automatic::Generated,
            in_reply_to: None,
            references: &[],
            calendar: None,
            attachments: Vec::new(),
        }
    }
}

/// The calendar part of a mail: the content type carries the iTIP method.
#[derive(Debug, Clone)]
pub struct Calendar {
    /// e.g. `text/calendar; charset=UTF-8; method=REQUEST`
    pub content_type: String,
    pub ics: String,
    /// The attachment's file name, e.g. `einladung.ics`.
    pub file_name: String,
}

#[derive(Debug, Clone)]
pub struct Composer {
    from: Mailbox,
    reply_to: Option<Mailbox>,
    domain: String,
    instance: String,
    /// The per-instance secret that keys the Message-IDs.
    key: [u8; 32],
    /// Keys the loop tokens (the same secret).
    loop_key: LoopKey,
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key` (at most one block).
fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut ipad = [0x36u8; BLOCK];
    let mut opad = [0x5cu8; BLOCK];
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize()
        .into()
}

impl Composer {
    /// `key`: the instance's secret (`store::instance_key`), which keys the
    /// Message-IDs.
    pub fn new(
        from: &EmailAddress,
        from_name: &str,
        reply_to: Option<&EmailAddress>,
        domain: &str,
        instance: &str,
        key: [u8; 32],
    ) -> anyhow::Result<Composer> {
        let mailbox = |a: &EmailAddress, name: Option<&str>| -> anyhow::Result<Mailbox> {
            let address = a
                .as_str()
                .parse()
                .with_context(|| format!("bad address {a}"))?;
            Ok(Mailbox::new(
                name.map(|n| HeaderText::sanitize(n, 120).to_string()),
                address,
            ))
        };
        Ok(Composer {
            from: mailbox(from, Some(from_name))?,
            reply_to: reply_to.map(|r| mailbox(r, None)).transpose()?,
            domain: domain.to_string(),
            instance: HeaderText::sanitize(instance, 60).to_string(),
            key,
            loop_key: LoopKey::new(instance, key),
        })
    }

    /// What makes and checks the loop tokens.
    pub fn loop_key(&self) -> &LoopKey {
        &self.loop_key
    }

    pub fn from_address(&self) -> String {
        self.from.email.to_string()
    }

    /// The Message-ID for an idempotency key: the same key always gives the
    /// same id on one store; it is keyed with the instance's secret
    /// (HMAC-SHA256), so nobody without it can tell the id of a mail to come.
    pub fn message_id_for(&self, key: &str) -> String {
        let mac = hmac_sha256(&self.key, format!("{}\n{key}", self.instance).as_bytes());
        format!("{}.postbote@{}", &hex::encode(mac)[..32], self.domain)
    }

    /// Renders the MIME message and wraps it as an outbox row.
    pub fn compose(&self, draft: Draft<'_>) -> anyhow::Result<NewMail> {
        let message_id = self.message_id_for(&draft.idempotency_key);
        let to_name = draft
            .to_name
            .map(|n| HeaderText::sanitize(n, 120).to_string());
        let to_address = draft
            .to
            .as_str()
            .parse()
            .with_context(|| format!("bad recipient {}", draft.to))?;
        let subject = HeaderText::sanitize(&draft.rendered.subject, 250);
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(to_name, to_address))
            .subject(subject.as_str())
            .message_id(Some(format!("<{message_id}>")))
            .header(AutoSubmitted(
                match draft.automatic {
                    Automatic::Replied => "auto-replied",
                    Automatic::Generated => "auto-generated",
                }
                .to_string(),
            ))
            .header(AutoResponseSuppress("All".to_string()))
            .header(LoopMarker(self.loop_key.header_value(&message_id)));
        if let Some(r) = &self.reply_to {
            builder = builder.reply_to(r.clone());
        }
        if let Some(parent) = draft.in_reply_to.and_then(clean_id) {
            let mut chain: Vec<String> = draft
                .references
                .iter()
                .filter_map(|r| clean_id(r))
                .collect();
            chain.push(parent.clone());
            // NOTE: keep References short; the first and the last 9 ids suffice (RFC 5322 3.6.4).
            if chain.len() > 10 {
                let first = chain[0].clone();
                chain = std::iter::once(first)
                    .chain(chain[chain.len() - 9..].iter().cloned())
                    .collect();
            }
            let refs = chain
                .iter()
                .map(|r| format!("<{r}>"))
                .collect::<Vec<_>>()
                .join(" ");
            builder = builder.in_reply_to(format!("<{parent}>")).references(refs);
        }
        let body = MultiPart::alternative_plain_html(
            draft.rendered.text.clone(),
            draft.rendered.html.clone(),
        );
        let mut parts = match &draft.calendar {
            None => body,
            Some(cal) => with_calendar(body, cal)?,
        };
        if !draft.attachments.is_empty() {
            let mut mixed = MultiPart::mixed().multipart(parts);
            for a in &draft.attachments {
                let ctype = ContentType::parse(&a.content_type)
                    .with_context(|| format!("bad attachment content type {}", a.content_type))?;
                mixed = mixed.singlepart(
                    Attachment::new(HeaderText::sanitize(&a.file_name, 60).to_string())
                        .body(a.bytes.clone(), ctype),
                );
            }
            parts = mixed;
        }
        let message = builder
            .multipart(parts)
            .context("cannot build outgoing message")?;
        Ok(NewMail {
            idempotency_key: draft.idempotency_key,
            message_id,
            purpose: draft.purpose,
            application_id: draft.application_id,
            env_from: self.from_address(),
            env_to: draft.to.to_string(),
            subject: subject.to_string(),
            raw: message.formatted(),
            expires_at: None,
        })
    }
}

/// NOTE: the layout Google Calendar sends and Outlook and Thunderbird both
/// understand: the text/calendar part (with `method=` in its content type)
/// inside multipart/alternative, and the same object again as an `.ics`
/// attachment for clients that only offer attachments.
fn with_calendar(body: MultiPart, cal: &Calendar) -> anyhow::Result<MultiPart> {
    let inline_type = ContentType::parse(&cal.content_type)
        .with_context(|| format!("bad calendar content type {}", cal.content_type))?;
    let file_type = ContentType::parse("application/ics").context("bad attachment content type")?;
    let inline = SinglePart::builder()
        .header(inline_type)
        .header(ContentTransferEncoding::Base64)
        .body(cal.ics.clone());
    let attachment = Attachment::new(HeaderText::sanitize(&cal.file_name, 60).to_string())
        .body(cal.ics.clone().into_bytes(), file_type);
    Ok(MultiPart::mixed()
        .multipart(body.singlepart(inline))
        .singlepart(attachment))
}

/// A Message-ID from untrusted input, without brackets, or None when unusable.
pub fn clean_id(raw: &str) -> Option<String> {
    let id = raw.trim().trim_start_matches('<').trim_end_matches('>');
    let ok = !id.is_empty()
        && id.len() <= 250
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
    ok.then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn composer() -> Composer {
        let from = EmailAddress::parse("projekt@ews.test").unwrap();
        Composer::new(
            &from,
            "EWS 7 Projektteam",
            None,
            "ews.test",
            "postbote-test",
            [7; 32],
        )
        .unwrap()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2, its key ("Jefe") zero-padded to 32 bytes
        // (HMAC pads a short key with zeros to the block size anyway).
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        assert_eq!(
            hex::encode(hmac_sha256(&key, b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn message_ids_depend_on_the_instance_key() {
        let from = EmailAddress::parse("projekt@ews.test").unwrap();
        let with = |key| {
            Composer::new(&from, "EWS", None, "ews.test", "postbote-test", key)
                .unwrap()
                .message_id_for("confirmation:1")
        };
        assert_eq!(with([1; 32]), with([1; 32]));
        assert_ne!(with([1; 32]), with([2; 32]));
        let id = with([1; 32]);
        let (hash, domain) = id.split_once(".postbote@").unwrap();
        assert_eq!(domain, "ews.test");
        assert!(hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn loop_tokens_verify_only_for_the_own_message_id_and_key() {
        let key = LoopKey::new("postbote-test", [7; 32]);
        let id = "0123456789abcdef0123456789abcdef.postbote@ews.test";
        let value = key.header_value(id);
        let (name, token) = value.split_once("; ").unwrap();
        assert_eq!(name, "postbote-test");
        assert!(token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()));
        // valid, with or without brackets and surrounding space
        assert_eq!(key.judge(&value, Some(id), &[]), LoopVerdict::Own);
        assert_eq!(
            key.judge(&format!("  {value} "), Some(&format!("<{id}>")), &[]),
            LoopVerdict::Own
        );
        // forged: the right instance name, no token or a wrong one, or the
        // token of another Message-ID, or made with another key
        let other_key = LoopKey::new("postbote-test", [8; 32]).header_value(id);
        for forged in [
            "postbote-test".to_string(),
            "postbote-test;".to_string(),
            format!("postbote-test; {}", "0".repeat(32)),
            format!("postbote-test; {}", token.to_uppercase()),
            format!("postbote-test; {}", &token[..31]),
            format!("postbote-test; {token}0"),
            key.header_value("other@stadt.test"),
            other_key,
        ] {
            assert_eq!(
                key.judge(&forged, Some(id), &[]),
                LoopVerdict::Unverified,
                "{forged}"
            );
        }
        assert_eq!(key.judge(&value, None, &[]), LoopVerdict::Unverified);
        // a reply that copied the header of our mail it answers
        assert_eq!(
            key.judge(&value, Some("reply@stadt.test"), &["x@y.test", id]),
            LoopVerdict::QuotesOurs(id.into())
        );
        // another instance, with or without a token of its own
        let theirs = LoopKey::new("postbote-other", [7; 32]).header_value(id);
        assert!(matches!(
            key.judge(&theirs, Some(id), &[]),
            LoopVerdict::Other(_)
        ));
        assert!(matches!(
            key.judge("another-instance", Some(id), &[]),
            LoopVerdict::Other(_)
        ));
        // malformed: empty, separators only, garbage
        for bad in ["", ";", " ; ; ", "postbote-test x", "\u{1F4EC}; zz"] {
            assert!(
                matches!(key.judge(bad, Some(id), &[]), LoopVerdict::Other(_)),
                "{bad:?}"
            );
        }
        assert_eq!(
            key.judge("postbote-test; ;", Some(id), &[]),
            LoopVerdict::Other("postbote-test; ;".into()),
            "the name part is everything before the last semicolon"
        );
    }

    #[test]
    fn composed_mail_carries_its_verified_loop_token() {
        let to = EmailAddress::parse("kaemmerei@stadt.test").unwrap();
        let c = composer();
        let mail = c
            .compose(Draft::generated(
                "digest:1".into(),
                Purpose::Confirmation,
                None,
                &to,
                rendered("x"),
            ))
            .unwrap();
        let text = String::from_utf8(mail.raw.clone()).unwrap();
        let want = format!(
            "X-Postbote-Loop: {}\r\n",
            c.loop_key().header_value(&mail.message_id)
        );
        assert!(text.contains(&want), "{text}");
        assert!(!text.contains("X-Postbote-Loop: postbote-test\r\n"));
    }

    #[test]
    fn mail_queued_before_the_keyed_token_is_upgraded() {
        let key = LoopKey::new("postbote-test", [7; 32]);
        let id = "abc.postbote@ews.test";
        let old = "From: a@ews.test\r\nX-Postbote-Loop: postbote-test\r\nSubject: x\r\n\r\n\
                   X-Postbote-Loop: postbote-test\r\n";
        let new = String::from_utf8(key.upgrade_raw(old.as_bytes(), id).unwrap()).unwrap();
        assert_eq!(
            new,
            format!(
                "From: a@ews.test\r\nX-Postbote-Loop: {}\r\nSubject: x\r\n\r\n\
                 X-Postbote-Loop: postbote-test\r\n",
                key.header_value(id)
            ),
            "only the header line changes, never the body"
        );
        assert_eq!(key.upgrade_raw(new.as_bytes(), id), None, "done once");
        let body_only = "From: a@ews.test\r\n\r\nX-Postbote-Loop: postbote-test\r\n";
        assert_eq!(key.upgrade_raw(body_only.as_bytes(), id), None);
        let lookalike = "X-Postbote-Loop: postbote-test-2\r\n\r\nx";
        assert_eq!(key.upgrade_raw(lookalike.as_bytes(), id), None);
    }

    fn rendered(subject: &str) -> Rendered {
        Rendered {
            subject: subject.into(),
            text: "Hallo".into(),
            html: "<p>Hallo</p>".into(),
        }
    }

    #[test]
    fn marks_replies_as_automatic_and_threads_them() {
        let to = EmailAddress::parse("kaemmerei@stadt.test").unwrap();
        let refs = vec!["older@stadt.test".to_string()];
        let mail = composer()
            .compose(Draft {
                idempotency_key: "confirmation:1".into(),
                purpose: Purpose::Confirmation,
                application_id: Some(1),
                to: &to,
                to_name: Some("Stadt\r\nBcc: evil@x.test"),
                rendered: rendered("Ihre Bewerbung\r\nBcc: evil@x.test"),
                automatic: Automatic::Replied,
                in_reply_to: Some("<abc@stadt.test>"),
                references: &refs,
                calendar: None,
                attachments: Vec::new(),
            })
            .unwrap();
        let text = String::from_utf8(mail.raw.clone()).unwrap();
        assert!(text.contains("Auto-Submitted: auto-replied\r\n"));
        assert!(text.contains("X-Auto-Response-Suppress: All\r\n"));
        assert!(text.contains("In-Reply-To: <abc@stadt.test>\r\n"));
        assert!(text.contains("References: <older@stadt.test> <abc@stadt.test>\r\n"));
        assert!(
            !text.lines().any(|l| l.starts_with("Bcc:")),
            "header injected:\n{text}"
        );
        assert_eq!(mail.message_id, composer().message_id_for("confirmation:1"));
        assert!(text.contains(&format!("Message-ID: <{}>", mail.message_id)));
    }

    #[test]
    fn rejects_unusable_message_ids() {
        assert_eq!(clean_id("<a@b>"), Some("a@b".into()));
        assert_eq!(clean_id("a b@c"), None);
        assert_eq!(clean_id("a@b\r\nX: y"), None);
        assert_eq!(clean_id(""), None);
    }
}
