//! Delivery status notifications (bounces): which outgoing mail failed, for
//! which address, and why. A pure parser over untrusted input; it never
//! panics and reads a bounded amount of every part.
//!
//! Three shapes are understood:
//! - RFC 3464 `multipart/report; report-type=delivery-status` (Postfix,
//!   Exchange / Microsoft 365, Exim with DSN, most others), with the original
//!   as `message/rfc822` or `text/rfc822-headers`;
//! - old free-text bounces (qmail, Exim's classic format, sendmail-like ones)
//!   sent by MAILER-DAEMON/postmaster or recognisable by their wording;
//! - anything else is not a bounce, in particular out-of-office replies and
//!   read receipts (`report-type=disposition-notification`).

use crate::domain::{EmailAddress, HeaderText};
use crate::outbox::compose::clean_id;
use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

/// At most this many bytes of any part (or of the raw report) are scanned.
const MAX_SCAN: usize = 256 * 1024;
const MAX_RECIPIENTS: usize = 100;
const MAX_IDS: usize = 10;
const MAX_DIAGNOSTIC: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRecipient {
    /// The address as postbote sent to it (`Original-Recipient` when the
    /// report has a usable one, else `Final-Recipient`), domain lower case.
    pub address: String,
    /// failed | delayed | delivered | relayed | expanded.
    pub action: String,
    /// Enhanced status code such as "5.1.1".
    pub status: Option<String>,
    /// Diagnostic text, one line, at most 300 characters.
    pub diagnostic: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// Message-IDs of the original mail found in the report (without <>), most reliable first.
    pub original_message_ids: Vec<String>,
    pub recipients: Vec<FailedRecipient>,
}

impl Bounce {
    /// True when at least one recipient failed permanently (action failed or status 5.x.x).
    pub fn is_permanent_failure(&self) -> bool {
        self.recipients.iter().any(|r| {
            r.action == "failed" || r.status.as_deref().is_some_and(|s| s.starts_with('5'))
        })
    }
}

/// None when the mail is not a bounce at all.
pub fn parse(raw: &[u8]) -> Option<Bounce> {
    // NOTE: mail-parser 0.11 has debug_assert!s that malformed nesting can
    // reach (see intake::parse); a panic must never take the intake down.
    std::panic::catch_unwind(|| parse_unguarded(raw))
        .ok()
        .flatten()
}

fn parse_unguarded(raw: &[u8]) -> Option<Bounce> {
    let msg = MessageParser::default().parse(raw)?;
    let own_id = msg.message_id().and_then(clean_id);
    let (root_type, root_sub) = mime(msg.root_part());
    let report_type = msg
        .root_part()
        .content_type()
        .and_then(|c| c.attribute("report-type"))
        .map(|r| r.trim().to_ascii_lowercase());
    let root_is_report = root_type == "multipart" && root_sub == "report";

    let mut dsn_texts: Vec<String> = Vec::new();
    let mut notices: Vec<String> = Vec::new();
    let mut html_notices: Vec<String> = Vec::new();
    let mut ids = Ids::new(own_id.clone());
    for part in msg.parts.iter().take(200) {
        let (ctype, sub) = mime(part);
        match (ctype.as_str(), sub.as_str()) {
            (_, "delivery-status" | "global-delivery-status") => {
                dsn_texts.push(capped_lossy(part.contents()));
            }
            ("message", "rfc822" | "global") => match &part.body {
                PartType::Message(m) => match m.message_id().and_then(clean_id) {
                    Some(id) => ids.push(id),
                    None => ids.scan_headers(&capped_lossy(m.raw_message()), true),
                },
                _ => ids.scan_headers(&capped_lossy(part.contents()), true),
            },
            (_, "rfc822-headers" | "global-headers") => {
                ids.scan_headers(&capped_lossy(part.contents()), true);
            }
            ("text", "html") => html_notices.push(strip_tags(&capped_lossy(part.contents()))),
            ("text", "plain") => notices.push(capped_lossy(part.contents())),
            _ => {}
        }
    }
    if notices.is_empty() {
        notices = html_notices;
    }
    let notice = notices.join("\n\n");
    // The report body (after the bounce's own header), for the fallbacks.
    let body_raw = raw
        .get(msg.root_part().raw_body_offset() as usize..)
        .unwrap_or_default();

    let is_dsn = !dsn_texts.is_empty()
        || (root_is_report && report_type.as_deref() == Some("delivery-status"));
    if !is_dsn && root_is_report && report_type.is_some() {
        // A read receipt, an abuse report, ...: a report, but not about delivery.
        return None;
    }

    let mut recipients = Recipients::default();
    if is_dsn {
        for text in &dsn_texts {
            recipients.scan_dsn_fields(text);
        }
        if recipients.list.is_empty() {
            // NOTE: the delivery-status part may be mislabelled, nested or
            // parsed as something else; its fields are plain text in the raw.
            recipients.scan_dsn_fields(&capped_lossy(body_raw));
        }
        if recipients.list.is_empty() {
            let (before, _) = split_at_copy(&notice);
            recipients.scan_free_text(before, "failed");
        }
        if ids.list.is_empty() {
            ids.scan_headers(&capped_lossy(body_raw), false);
        }
    } else {
        let (before, after) = split_at_copy(&notice);
        if !looks_like_free_text_bounce(&msg, before) {
            return None;
        }
        let action = if is_delay_warning(&msg, before) {
            "delayed"
        } else {
            "failed"
        };
        recipients.scan_free_text(before, action);
        if let Some(failed) = msg.header_raw("X-Failed-Recipients") {
            for a in failed.split([',', ' ', '\t', '\r', '\n']) {
                recipients.add_address(a, action, None);
            }
        }
        if recipients.list.is_empty() {
            recipients.scan_dsn_fields(&notice);
        }
        if recipients.list.is_empty() {
            recipients.scan_bracketed(before, &msg, action);
        }
        ids.scan_headers(after, false);
        if ids.list.is_empty() && after.is_empty() && notices.len() > 1 {
            // The original may be quoted in a later text part.
            ids.scan_headers(&notices[1..].join("\n\n"), false);
        }
    }
    // Microsoft and others put the original's Message-ID into In-Reply-To;
    // References is left out on purpose: it names earlier mails of the thread.
    if let Some(irt) = msg
        .in_reply_to()
        .as_text_list()
        .and_then(|l| l.first().and_then(|r| clean_id(r)))
    {
        ids.push(irt);
    }
    Some(Bounce {
        original_message_ids: ids.list,
        recipients: recipients.list,
    })
}

/// Lower-case `type`, `subtype` of a part; text/plain when it has none.
fn mime(part: &MessagePart<'_>) -> (String, String) {
    match part.content_type() {
        Some(c) => (
            c.ctype().trim().to_ascii_lowercase(),
            c.subtype().unwrap_or("").trim().to_ascii_lowercase(),
        ),
        None => ("text".into(), "plain".into()),
    }
}

fn capped_lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_SCAN)]).into_owned()
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len().min(MAX_SCAN));
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
}

/// Message-IDs collected in order of reliability, without duplicates.
struct Ids {
    own: Option<String>,
    list: Vec<String>,
}

impl Ids {
    fn new(own: Option<String>) -> Ids {
        Ids {
            own,
            list: Vec::new(),
        }
    }

    fn push(&mut self, id: String) {
        if self.list.len() < MAX_IDS
            && self.own.as_deref() != Some(id.as_str())
            && !self.list.contains(&id)
        {
            self.list.push(id);
        }
    }

    /// `Message-ID:` lines (folded or not). With `header_only`, stops at the
    /// first blank line after some header was seen.
    fn scan_headers(&mut self, text: &str, header_only: bool) {
        let mut seen_field = false;
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            if line.trim().is_empty() {
                if header_only && seen_field {
                    break;
                }
                continue;
            }
            seen_field = true;
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if !name.trim_end().eq_ignore_ascii_case("message-id") || name.starts_with([' ', '\t'])
            {
                continue;
            }
            let mut value = value.trim().to_string();
            while let Some(next) = lines.peek()
                && next.starts_with([' ', '\t'])
                && !next.trim().is_empty()
            {
                value.push_str(next.trim());
                lines.next();
            }
            if let Some(id) = message_id_in(&value) {
                self.push(id);
            }
        }
    }
}

/// The first `<...>` of a header value, or the bare value.
fn message_id_in(value: &str) -> Option<String> {
    if let Some(start) = value.find('<')
        && let Some(len) = value[start..].find('>')
    {
        return clean_id(&value[start..start + len + 1]);
    }
    clean_id(value.split_whitespace().next()?)
}

#[derive(Default)]
struct Recipients {
    list: Vec<FailedRecipient>,
}

impl Recipients {
    fn has(&self, address: &str) -> bool {
        self.list
            .iter()
            .any(|r| r.address.eq_ignore_ascii_case(address))
    }

    fn push(&mut self, r: FailedRecipient) -> bool {
        if self.list.len() >= MAX_RECIPIENTS || r.address.is_empty() || self.has(&r.address) {
            return false;
        }
        self.list.push(r);
        true
    }

    /// Adds a free-text address (angle brackets, quotes and trailing
    /// punctuation allowed) when it parses.
    fn add_address(&mut self, token: &str, action: &str, diagnostic: Option<&str>) -> bool {
        let Some(address) = address_token(token) else {
            return false;
        };
        let diagnostic = diagnostic.and_then(clean_diagnostic);
        self.push(FailedRecipient {
            address,
            action: action.to_string(),
            status: diagnostic.as_deref().and_then(status_in),
            diagnostic,
        })
    }

    /// RFC 3464 fields: blocks separated by blank lines; every block with a
    /// Final- or Original-Recipient is one recipient.
    fn scan_dsn_fields(&mut self, text: &str) {
        for block in field_blocks(text) {
            if self.list.len() >= MAX_RECIPIENTS {
                return;
            }
            let field = |name: &str| {
                block
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
            };
            let final_rcpt = field("final-recipient");
            let original = field("original-recipient");
            if final_rcpt.is_none() && original.is_none() {
                continue;
            }
            let Some(address) = original
                .and_then(dsn_address)
                .or_else(|| final_rcpt.and_then(dsn_address))
                .or_else(|| final_rcpt.or(original).and_then(dsn_address_text))
            else {
                continue;
            };
            let diagnostic = field("diagnostic-code").and_then(clean_diagnostic);
            let status = field("status")
                .and_then(|s| s.split_whitespace().next())
                .and_then(status_code)
                .or_else(|| diagnostic.as_deref().and_then(status_in));
            let action = field("action")
                .and_then(|a| {
                    let a = a
                        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
                        .next()
                        .unwrap_or("")
                        .to_ascii_lowercase();
                    ["failed", "delayed", "delivered", "relayed", "expanded"]
                        .contains(&a.as_str())
                        .then_some(a)
                })
                .unwrap_or_else(|| {
                    match status.as_deref().and_then(|s| s.chars().next()) {
                        Some('4') => "delayed",
                        Some('2') => "delivered",
                        _ => "failed",
                    }
                    .to_string()
                });
            self.push(FailedRecipient {
                address,
                action,
                status,
                diagnostic,
            });
        }
    }

    /// qmail (`<x@y>:` then the reason), sendmail (`<x@y>... reason`) and
    /// Exim (`  x@y` after "failed:", the reason indented below).
    fn scan_free_text(&mut self, text: &str, action: &str) {
        let mut triggered = false;
        let mut current: Option<(String, Vec<String>)> = None;
        for line in text.lines() {
            let t = line.trim();
            if t.is_empty() {
                self.finish(&mut current, action);
                continue;
            }
            let lower = t.to_ascii_lowercase();
            if t.starts_with('<')
                && let Some(end) = t.find('>')
                && let Some(address) = address_token(&t[..=end])
            {
                self.finish(&mut current, action);
                let rest = t[end + 1..].trim_start_matches([':', '.', ' ', '\t']);
                current = Some((address, vec![rest.to_string()]));
                continue;
            }
            if triggered
                && line.starts_with([' ', '\t'])
                && current.is_none()
                && let Some(first) = t.split_whitespace().next()
                && let Some(address) = address_token(first)
            {
                let rest = t[first.len()..].trim_start_matches([':', ' ', '\t']);
                current = Some((address, vec![rest.to_string()]));
                continue;
            }
            if [
                "failed:",
                "could not be delivered to",
                "following address",
                "following recipient",
                "not yet been delivered",
                "wasn't able to deliver",
                "permanent fatal errors",
                "konnte nicht zugestellt werden",
            ]
            .iter()
            .any(|p| lower.contains(p))
            {
                self.finish(&mut current, action);
                triggered = true;
                for token in t.split_whitespace() {
                    self.add_address(token, action, None);
                }
                continue;
            }
            if let Some((_, diag)) = current.as_mut()
                && diag.len() < 20
            {
                diag.push(t.to_string());
            }
        }
        self.finish(&mut current, action);
    }

    fn finish(&mut self, current: &mut Option<(String, Vec<String>)>, action: &str) {
        if let Some((address, diag)) = current.take() {
            let diagnostic = clean_diagnostic(&diag.join(" "));
            self.push(FailedRecipient {
                address,
                action: action.to_string(),
                status: diagnostic.as_deref().and_then(status_in),
                diagnostic,
            });
        }
    }

    /// Last resort: any `<x@y>` in the notice that is neither a daemon nor
    /// the bounce's own sender or recipient.
    fn scan_bracketed(&mut self, text: &str, msg: &Message<'_>, action: &str) {
        let own: Vec<String> = ["From", "To"]
            .iter()
            .filter_map(|h| msg.header_raw(*h))
            .flat_map(|v| {
                v.split([',', ' ', '\t', '\r', '\n'])
                    .filter_map(address_token)
                    .collect::<Vec<_>>()
            })
            .map(|a| a.to_lowercase())
            .collect();
        let mut rest = text;
        while let Some(start) = rest.find('<') {
            let after = &rest[start..];
            let Some(end) = after.find('>') else { break };
            if let Some(address) = address_token(&after[..=end]) {
                let lower = address.to_lowercase();
                let local = lower.split('@').next().unwrap_or("");
                if !own.contains(&lower) && !is_daemon_local(local) {
                    self.push(FailedRecipient {
                        address,
                        action: action.to_string(),
                        status: None,
                        diagnostic: None,
                    });
                }
            }
            rest = &after[end + 1..];
        }
    }
}

/// Unfolded `(lower-case name, value)` fields, grouped by blank lines.
fn field_blocks(text: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    let mut last_was_field = false;
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
            last_was_field = false;
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if last_was_field
                && let Some((_, value)) = current.last_mut()
                && value.len() < 4096
            {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        last_was_field = false;
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim_end();
            if !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                current.push((name.to_ascii_lowercase(), value.trim().to_string()));
                last_was_field = true;
            }
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

/// `rfc822; x@y` (or `utf-8; x@y`) as a valid address.
fn dsn_address(value: &str) -> Option<String> {
    let (kind, address) = value.split_once(';').unwrap_or(("rfc822", value));
    let kind = kind.trim();
    if !kind.eq_ignore_ascii_case("rfc822") && !kind.eq_ignore_ascii_case("utf-8") {
        return None;
    }
    address_token(address)
}

/// A recipient that is no valid mail address (an X.400 one, a bare local
/// part), kept as sanitised text so staff still see it.
fn dsn_address_text(value: &str) -> Option<String> {
    let address = value.split_once(';').map_or(value, |(_, a)| a);
    let address = HeaderText::sanitize(address.trim().trim_matches(['<', '>']), 254);
    (!address.as_str().is_empty()).then(|| address.to_string())
}

/// An address from a free-text token: `<x@y>`, `"x@y"`, `x@y:` or `x@y.`.
fn address_token(token: &str) -> Option<String> {
    let t = token.trim().trim_matches(|c: char| {
        matches!(
            c,
            '<' | '>' | '"' | '\'' | '(' | ')' | ',' | ';' | ':' | '.' | '[' | ']'
        )
    });
    let t = t.strip_prefix("mailto:").unwrap_or(t);
    if !t.contains('@') {
        return None;
    }
    EmailAddress::parse(t).ok().map(|a| a.to_string())
}

/// Diagnostic text: the `smtp;` type dropped, one line, at most 300 characters.
fn clean_diagnostic(raw: &str) -> Option<String> {
    let text = match raw.split_once(';') {
        Some((kind, rest))
            if !kind.trim().is_empty()
                && kind.trim().len() <= 20
                && kind
                    .trim()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            rest
        }
        _ => raw,
    };
    let text = HeaderText::sanitize(text, MAX_DIAGNOSTIC).to_string();
    (!text.is_empty()).then_some(text)
}

/// A `class.subject.detail` status code, class 2, 4 or 5.
fn status_code(s: &str) -> Option<String> {
    let mut parts = s.split('.');
    let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
    let ok = parts.next().is_none()
        && matches!(class, "2" | "4" | "5")
        && [subject, detail]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()));
    ok.then(|| s.to_string())
}

/// The first status code mentioned in a text ("550 5.1.1 ...", "(#5.1.1)").
fn status_in(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|t| t.trim_matches('.'))
        .find_map(status_code)
}

/// The notice, and the quoted original after a "copy of the message" line.
fn split_at_copy(text: &str) -> (&str, &str) {
    const MARKERS: [&str; 7] = [
        "--- below this line is a copy of the message",
        "------ this is a copy of the message",
        "------ this is a copy of the body of the message",
        "----- original message -----",
        "original message follows",
        "----- the following is a copy of the message",
        "----- original message follows -----",
    ];
    // ASCII lower-casing keeps byte offsets.
    let lower = text.to_ascii_lowercase();
    match MARKERS.iter().filter_map(|m| lower.find(m)).min() {
        Some(at) => (&text[..at], &text[at..]),
        None => (text, ""),
    }
}

fn is_daemon_local(local: &str) -> bool {
    matches!(
        local,
        "mailer-daemon" | "mailer_daemon" | "mailerdaemon" | "mail-daemon" | "postmaster"
    ) || local.starts_with("microsoftexchange")
}

/// Not multipart/report: a bounce only when it comes from a mail system and
/// reads like one, or carries a mail system's own wording and is no
/// auto-reply.
fn looks_like_free_text_bounce(msg: &Message<'_>, notice: &str) -> bool {
    const STRONG: [&str; 7] = [
        "this is the qmail-send program",
        "i'm afraid i wasn't able to deliver your message",
        "this message was created automatically by mail delivery software",
        "the following addresses had permanent fatal errors",
        "could not be delivered to one or more of its recipients",
        "delivery to the following recipients failed",
        "this is the mail system at host",
    ];
    const WEAK: [&str; 16] = [
        "undeliver",
        "unzustellbar",
        "nicht zugestellt",
        "delivery failed",
        "delivery failure",
        "failure notice",
        "returned mail",
        "returned to sender",
        "could not be delivered",
        "delivery status notification",
        "permanent error",
        "user unknown",
        "mailbox unavailable",
        "not yet been delivered",
        "delayed",
        "failed:",
    ];
    let lower = notice.to_ascii_lowercase();
    let subject = msg.subject().unwrap_or("").to_lowercase();
    let strong = STRONG.iter().any(|p| lower.contains(p));
    let weak = WEAK
        .iter()
        .any(|p| lower.contains(p) || subject.contains(p));
    // NOTE: a person forwarding a bounce quotes the same wording; only a mail
    // system's own sender, or wording in a mail that is neither an
    // auto-reply nor a reply or forward, counts.
    let forwarded = ["fwd:", "fw:", "wg:", "re:", "aw:", "wtr:", "antw:"]
        .iter()
        .any(|p| subject.trim_start().starts_with(p));
    (from_mail_system(msg) && (strong || weak))
        || (strong && !forwarded && !is_auto_reply(msg, &subject))
}

fn from_mail_system(msg: &Message<'_>) -> bool {
    let parsed = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .is_some_and(|a| is_daemon_local(&a.split('@').next().unwrap_or("").to_lowercase()));
    let raw = msg.header_raw("From").unwrap_or("").to_ascii_lowercase();
    parsed
        || raw.contains("mailer-daemon")
        || raw.contains("mail delivery s")
        || raw.contains("postmaster@")
}

fn is_auto_reply(msg: &Message<'_>, subject: &str) -> bool {
    let auto_replied = msg
        .header_raw("Auto-Submitted")
        .is_some_and(|v| v.to_ascii_lowercase().contains("auto-replied"));
    auto_replied
        || msg.header_raw("X-Autoreply").is_some()
        || msg.header_raw("X-Autorespond").is_some()
        || [
            "automatische antwort",
            "automatic reply",
            "auto:",
            "autoreply",
            "out of office",
            "abwesenheit",
        ]
        .iter()
        .any(|p| subject.starts_with(p))
}

/// Exim's and others' "not yet delivered, still trying" warnings.
fn is_delay_warning(msg: &Message<'_>, notice: &str) -> bool {
    let lower = notice.to_ascii_lowercase();
    let subject = msg.subject().unwrap_or("").to_lowercase();
    let delayed = subject.contains("delayed")
        || lower.contains("not yet been delivered")
        || lower.contains("will continue trying")
        || lower.contains("still trying");
    let failed = lower.contains("permanent error")
        || lower.contains("given up")
        || lower.contains("failed:");
    delayed && !failed
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGINAL_ID: &str = "0123456789abcdef0123456789abcdef.postbote@ews.test";

    const POSTFIX: &str = "Return-Path: <>\r
Delivered-To: bewerbung@ews.test\r
Received: by mail.ews.test (Postfix)\r
\tid 4VxYz2Q1kLz9sT; Tue, 14 May 2024 10:15:03 +0200 (CEST)\r
Date: Tue, 14 May 2024 10:15:03 +0200 (CEST)\r
From: MAILER-DAEMON@mail.ews.test (Mail Delivery System)\r
Subject: Undelivered Mail Returned to Sender\r
To: bewerbung@ews.test\r
Auto-Submitted: auto-replied\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status;\r
\tboundary=\"4VxYz2Q1kLz9sT.1715674503/mail.ews.test\"\r
Content-Transfer-Encoding: 8bit\r
Message-Id: <20240514081503.4VxYz2Q1kLz9sT@mail.ews.test>\r
\r
This is a MIME-encapsulated message.\r
\r
--4VxYz2Q1kLz9sT.1715674503/mail.ews.test\r
Content-Description: Notification\r
Content-Type: text/plain; charset=utf-8\r
Content-Transfer-Encoding: 8bit\r
\r
This is the mail system at host mail.ews.test.\r
\r
I'm sorry to have to inform you that your message could not\r
be delivered to one or more recipients. It's attached below.\r
\r
For further assistance, please send mail to postmaster.\r
\r
If you do so, please include this problem report. You can\r
delete your own text from the attached returned message.\r
\r
                   The mail system\r
\r
<kaemmerei@stadt.test>: host mx.stadt.test[192.0.2.25] said: 550 5.1.1\r
    <kaemmerei@stadt.test>: Recipient address rejected: User unknown in local\r
    recipient table (in reply to RCPT TO command)\r
\r
--4VxYz2Q1kLz9sT.1715674503/mail.ews.test\r
Content-Description: Delivery report\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; mail.ews.test\r
X-Postfix-Queue-ID: 4VxYz2Q1kLz9sT\r
X-Postfix-Sender: rfc822; bewerbung@ews.test\r
Arrival-Date: Tue, 14 May 2024 10:15:01 +0200 (CEST)\r
\r
Final-Recipient: rfc822; kaemmerei@stadt.test\r
Original-Recipient: rfc822;kaemmerei@stadt.test\r
Action: failed\r
Status: 5.1.1\r
Remote-MTA: dns; mx.stadt.test\r
Diagnostic-Code: smtp; 550 5.1.1 <kaemmerei@stadt.test>: Recipient address\r
    rejected: User unknown in local recipient table\r
\r
--4VxYz2Q1kLz9sT.1715674503/mail.ews.test\r
Content-Description: Undelivered Message\r
Content-Type: message/rfc822\r
Content-Transfer-Encoding: 8bit\r
\r
Return-Path: <bewerbung@ews.test>\r
Received: from postbote (localhost [127.0.0.1])\r
\tby mail.ews.test (Postfix) with ESMTPSA id 4VxYz2Q1kLz9sT\r
\tfor <kaemmerei@stadt.test>; Tue, 14 May 2024 10:15:01 +0200 (CEST)\r
Message-ID: <0123456789abcdef0123456789abcdef.postbote@ews.test>\r
In-Reply-To: <CAF8x1=abc@mail.gmail.com>\r
References: <CAF8x1=abc@mail.gmail.com>\r
Date: Tue, 14 May 2024 10:15:00 +0200\r
From: EWS 7 Projektteam <bewerbung@ews.test>\r
To: kaemmerei@stadt.test\r
Subject: Ihre Bewerbung\r
MIME-Version: 1.0\r
Content-Type: text/plain; charset=utf-8\r
Content-Transfer-Encoding: 8bit\r
\r
Guten Tag,\r
\r
vielen Dank f\u{fc}r Ihre Bewerbung.\r
\r
--4VxYz2Q1kLz9sT.1715674503/mail.ews.test--\r
";

    const EXCHANGE: &str = "Received: from AM0PR07MB1234.eurprd07.prod.outlook.com\r
 by AM0PR07MB5678.eurprd07.prod.outlook.com; Tue, 14 May 2024 08:20:12 +0000\r
From: <postmaster@ewsprojekt.onmicrosoft.com>\r
To: <bewerbung@ews.test>\r
Date: Tue, 14 May 2024 08:20:12 +0000\r
Content-Type: multipart/report; report-type=delivery-status;\r
\tboundary=\"cbd1a2f4-6f3e-4c4e-9b55-0d7b7f3e1a11\"\r
Content-Language: de-DE\r
Message-ID: <0e5c1a7d-3b7e-4a7e-8f3a-2a1b9d9e0c01@AM0PR07MB5678.eurprd07.prod.outlook.com>\r
In-Reply-To: <fedcba9876543210fedcba9876543210.postbote@ews.test>\r
References: <aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.postbote@ews.test>\r
 <fedcba9876543210fedcba9876543210.postbote@ews.test>\r
Thread-Topic: Einladung zum Kennenlerngespraech\r
Subject: Unzustellbar: Einladung zum Kennenlerngespraech\r
Auto-Submitted: auto-replied\r
X-MS-Exchange-Message-Is-Ndr:\r
MIME-Version: 1.0\r
\r
--cbd1a2f4-6f3e-4c4e-9b55-0d7b7f3e1a11\r
Content-Type: multipart/alternative; differences=Content-Type;\r
\tboundary=\"e5d2b3c4-1111-2222-3333-444455556666\"\r
\r
--e5d2b3c4-1111-2222-3333-444455556666\r
Content-Type: text/plain; charset=\"utf-8\"\r
Content-Transfer-Encoding: quoted-printable\r
\r
Ihre Nachricht hat kaemmerei@stadt.test nicht erreicht.\r
\r
kaemmerei wurde nicht gefunden. Vergewissern Sie sich, dass die E-Mail-Adr=\r
esse richtig geschrieben ist.\r
\r
Diagnoseinformationen f=C3=BCr Administratoren:\r
\r
Generierender Server: AM0PR07MB5678.eurprd07.prod.outlook.com\r
\r
Kaemmerei@stadt.test\r
Remoteserver hat '550 5.1.10 RESOLVER.ADR.RecipientNotFound' zur=C3=BCckgegeben\r
\r
--e5d2b3c4-1111-2222-3333-444455556666\r
Content-Type: text/html; charset=\"utf-8\"\r
Content-Transfer-Encoding: quoted-printable\r
\r
<html><body><p>Ihre Nachricht hat <b>kaemmerei@stadt.test</b> nicht erreicht.</p></body></html>\r
\r
--e5d2b3c4-1111-2222-3333-444455556666--\r
\r
--cbd1a2f4-6f3e-4c4e-9b55-0d7b7f3e1a11\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns;AM0PR07MB5678.eurprd07.prod.outlook.com\r
Received-From-MTA: dns;AM0PR07MB1234.eurprd07.prod.outlook.com\r
Arrival-Date: Tue, 14 May 2024 08:20:11 +0000\r
\r
Final-Recipient: rfc822;Kaemmerei@STADT.test\r
Action: failed\r
Status: 5.1.10\r
Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup\r
Remote-MTA: dns;mx.stadt.test\r
X-Display-Name: Kaemmerei\r
\r
Final-Recipient: rfc822;personal@stadt.test\r
Action: failed\r
Status: 5.2.2\r
Diagnostic-Code: smtp;552 5.2.2 Mailbox full\r
\r
--cbd1a2f4-6f3e-4c4e-9b55-0d7b7f3e1a11\r
Content-Type: text/rfc822-headers\r
\r
Received: from mail.ews.test (192.0.2.10) by AM0PR07MB1234.mail.protection.outlook.com\r
 with Microsoft SMTP Server; Tue, 14 May 2024 08:20:11 +0000\r
From: EWS 7 Projektteam <bewerbung@ews.test>\r
To: Kaemmerei <Kaemmerei@stadt.test>, <personal@stadt.test>\r
Subject: Einladung zum Kennenlerngespraech\r
Date: Tue, 14 May 2024 10:20:09 +0200\r
Message-ID:\r
 <fedcba9876543210fedcba9876543210.postbote@ews.test>\r
References: <aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.postbote@ews.test>\r
MIME-Version: 1.0\r
Content-Type: text/plain; charset=utf-8\r
\r
--cbd1a2f4-6f3e-4c4e-9b55-0d7b7f3e1a11--\r
";

    const DELAYED: &str = "Return-Path: <>\r
Date: Tue, 14 May 2024 14:15:03 +0200 (CEST)\r
From: MAILER-DAEMON@mail.ews.test (Mail Delivery System)\r
Subject: Delayed Mail (still being retried)\r
To: bewerbung@ews.test\r
Auto-Submitted: auto-replied\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status;\r
\tboundary=\"4VxZ0.1715688903/mail.ews.test\"\r
Message-Id: <20240514121503.4VxZ0@mail.ews.test>\r
\r
This is a MIME-encapsulated message.\r
\r
--4VxZ0.1715688903/mail.ews.test\r
Content-Description: Notification\r
Content-Type: text/plain; charset=utf-8\r
\r
This is the mail system at host mail.ews.test.\r
\r
####################################################################\r
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\r
####################################################################\r
\r
Your message could not be delivered for more than 4 hour(s).\r
It will be retried until it is 5 day(s) old.\r
\r
--4VxZ0.1715688903/mail.ews.test\r
Content-Description: Delivery report\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; mail.ews.test\r
X-Postfix-Queue-ID: 4VxZ0\r
X-Postfix-Sender: rfc822; bewerbung@ews.test\r
Arrival-Date: Tue, 14 May 2024 10:15:01 +0200 (CEST)\r
\r
Final-Recipient: rfc822; traeger@verein.example\r
Original-Recipient: rfc822;traeger@verein.example\r
Action: delayed\r
Status: 4.4.1\r
Diagnostic-Code: X-Postfix; connect to mx.verein.example[198.51.100.9]:25:\r
    Connection timed out\r
Will-Retry-Until: Sun, 19 May 2024 10:15:01 +0200 (CEST)\r
\r
--4VxZ0.1715688903/mail.ews.test\r
Content-Description: Undelivered Message Headers\r
Content-Type: text/rfc822-headers\r
\r
Return-Path: <bewerbung@ews.test>\r
Message-ID: <11111111111111111111111111111111.postbote@ews.test>\r
Date: Tue, 14 May 2024 10:15:00 +0200\r
From: EWS 7 Projektteam <bewerbung@ews.test>\r
To: traeger@verein.example\r
Subject: Ihre Bewerbung\r
\r
--4VxZ0.1715688903/mail.ews.test--\r
";

    const QMAIL: &str = "Return-Path: <>\r
Received: (qmail 12345 invoked for bounce); 14 May 2024 08:30:00 -0000\r
Date: 14 May 2024 08:30:00 -0000\r
From: MAILER-DAEMON@mail.verein.example\r
To: bewerbung@ews.test\r
Subject: failure notice\r
Message-ID: <20240514083000.12345.qmail@mail.verein.example>\r
\r
Hi. This is the qmail-send program at mail.verein.example.\r
I'm afraid I wasn't able to deliver your message to the following addresses.\r
This is a permanent error; I've given up. Sorry it didn't work out.\r
\r
<vorstand@verein.example>:\r
Sorry, no mailbox here by that name. (#5.1.1)\r
\r
--- Below this line is a copy of the message.\r
\r
Return-Path: <bewerbung@ews.test>\r
Received: (qmail 12340 invoked from network); 14 May 2024 08:29:59 -0000\r
Message-ID: <22222222222222222222222222222222.postbote@ews.test>\r
Date: Tue, 14 May 2024 10:29:58 +0200\r
From: EWS 7 Projektteam <bewerbung@ews.test>\r
To: vorstand@verein.example\r
Subject: Ihre Bewerbung\r
\r
Guten Tag, bitte antworten Sie an <bewerbung@ews.test>.\r
";

    const EXIM: &str = "Return-path: <>\r
Envelope-to: bewerbung@ews.test\r
Received: from Debian-exim by mx.kreis-nord.example with local (Exim 4.96)\r
\tid 1q2w3e-0001Ab-Cd for bewerbung@ews.test; Tue, 14 May 2024 10:40:02 +0200\r
X-Failed-Recipients: ehrenamt@kreis-nord.example\r
Auto-Submitted: auto-replied\r
From: Mail Delivery System <Mailer-Daemon@mx.kreis-nord.example>\r
To: bewerbung@ews.test\r
Content-Type: text/plain; charset=us-ascii\r
Subject: Mail delivery failed: returning message to sender\r
Message-Id: <E1q2w3e-0001Ab-Cd@mx.kreis-nord.example>\r
Date: Tue, 14 May 2024 10:40:02 +0200\r
\r
This message was created automatically by mail delivery software.\r
\r
A message that you sent could not be delivered to one or more of its\r
recipients. This is a permanent error. The following address(es) failed:\r
\r
  ehrenamt@kreis-nord.example\r
    host mail.kreis-nord.example [198.51.100.4]\r
    SMTP error from remote mail server after RCPT TO:<ehrenamt@kreis-nord.example>:\r
    550 5.1.1 <ehrenamt@kreis-nord.example>: Recipient address rejected: User unknown\r
\r
------ This is a copy of the message, including all the headers. ------\r
\r
Return-path: <bewerbung@ews.test>\r
Received: from mail.ews.test ([192.0.2.10])\r
\tby mx.kreis-nord.example with esmtps (Exim 4.96)\r
\tid 1q2w3d-0001Aa-Bc for ehrenamt@kreis-nord.example; Tue, 14 May 2024 10:40:01 +0200\r
Message-ID: <33333333333333333333333333333333.postbote@ews.test>\r
Date: Tue, 14 May 2024 10:40:00 +0200\r
From: EWS 7 Projektteam <bewerbung@ews.test>\r
To: ehrenamt@kreis-nord.example\r
Subject: Ihre Bewerbung\r
\r
Guten Tag.\r
";

    const READ_RECEIPT: &str = "From: Kaemmerei <kaemmerei@stadt.test>\r
To: bewerbung@ews.test\r
Subject: Gelesen: Ihre Bewerbung\r
Date: Tue, 14 May 2024 11:00:00 +0200\r
Message-ID: <read-1@stadt.test>\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=disposition-notification;\r
\tboundary=\"rr\"\r
\r
--rr\r
Content-Type: text/plain; charset=utf-8\r
\r
Ihre Nachricht wurde gelesen. Delivery failed: no.\r
\r
--rr\r
Content-Type: message/disposition-notification\r
\r
Reporting-UA: stadt.test; Microsoft Outlook 16.0\r
Final-Recipient: rfc822;kaemmerei@stadt.test\r
Original-Message-ID: <0123456789abcdef0123456789abcdef.postbote@ews.test>\r
Disposition: manual-action/MDN-sent-manually; displayed\r
\r
--rr--\r
";

    const OUT_OF_OFFICE: &str = "From: Kaemmerei <kaemmerei@stadt.test>\r
To: bewerbung@ews.test\r
Subject: Automatische Antwort: Ihre Bewerbung\r
Date: Tue, 14 May 2024 11:00:00 +0200\r
Message-ID: <ooo-1@stadt.test>\r
In-Reply-To: <0123456789abcdef0123456789abcdef.postbote@ews.test>\r
Auto-Submitted: auto-replied\r
X-Auto-Response-Suppress: All\r
Content-Type: text/plain; charset=utf-8\r
\r
Ich bin bis zum 24.05. nicht im B\u{fc}ro. Ihre Nachricht wird nicht weitergeleitet.\r
Your message could not be delivered to me personally; in dringenden F\u{e4}llen\r
wenden Sie sich an <vertretung@stadt.test>.\r
";

    const ORDINARY: &str = "From: A <a@stadt.test>\r
To: bewerbung@ews.test\r
Subject: Frage zur Bewerbung\r
Message-ID: <q-1@stadt.test>\r
\r
Hallo, eine Frage: failed: nichts. <b@stadt.test>\r
";

    fn fixtures() -> [&'static str; 8] {
        [
            POSTFIX,
            EXCHANGE,
            DELAYED,
            QMAIL,
            EXIM,
            READ_RECEIPT,
            OUT_OF_OFFICE,
            ORDINARY,
        ]
    }

    #[test]
    fn postfix_bounce_with_the_original_attached() {
        let b = parse(POSTFIX.as_bytes()).unwrap();
        assert_eq!(b.original_message_ids, vec![ORIGINAL_ID.to_string()]);
        assert_eq!(
            b.recipients,
            vec![FailedRecipient {
                address: "kaemmerei@stadt.test".into(),
                action: "failed".into(),
                status: Some("5.1.1".into()),
                diagnostic: Some(
                    "550 5.1.1 <kaemmerei@stadt.test>: Recipient address rejected: \
                     User unknown in local recipient table"
                        .into()
                ),
            }]
        );
        assert!(b.is_permanent_failure());
    }

    #[test]
    fn folded_diagnostic_code_with_tabs_is_one_line_and_capped() {
        let long = "x".repeat(400);
        let raw = POSTFIX.replace(
            "Diagnostic-Code: smtp; 550 5.1.1 <kaemmerei@stadt.test>: Recipient address\r\n    rejected:",
            &format!(
                "Diagnostic-Code: smtp;\r\n\t550 5.1.1 <kaemmerei@stadt.test>:\r\n\t Recipient\r\n  address {long}\r\n rejected:"
            ),
        );
        assert_ne!(raw, POSTFIX);
        let b = parse(raw.as_bytes()).unwrap();
        let diag = b.recipients[0].diagnostic.clone().unwrap();
        assert!(diag.starts_with("550 5.1.1 <kaemmerei@stadt.test>: Recipient address xxx"));
        assert_eq!(diag.chars().count(), 300);
        assert!(!diag.contains(['\r', '\n', '\t']));
    }

    #[test]
    fn exchange_online_ndr_with_headers_only_and_german_text() {
        let b = parse(EXCHANGE.as_bytes()).unwrap();
        assert_eq!(
            b.original_message_ids,
            vec!["fedcba9876543210fedcba9876543210.postbote@ews.test".to_string()]
        );
        assert_eq!(b.recipients.len(), 2);
        assert_eq!(b.recipients[0].address, "Kaemmerei@stadt.test");
        assert_eq!(b.recipients[0].action, "failed");
        assert_eq!(b.recipients[0].status.as_deref(), Some("5.1.10"));
        assert_eq!(
            b.recipients[0].diagnostic.as_deref(),
            Some(
                "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"
            )
        );
        assert_eq!(b.recipients[1].address, "personal@stadt.test");
        assert_eq!(b.recipients[1].status.as_deref(), Some("5.2.2"));
        assert!(b.is_permanent_failure());
    }

    #[test]
    fn a_delay_warning_is_a_bounce_but_not_permanent() {
        let b = parse(DELAYED.as_bytes()).unwrap();
        assert_eq!(
            b.original_message_ids,
            vec!["11111111111111111111111111111111.postbote@ews.test".to_string()]
        );
        assert_eq!(b.recipients.len(), 1);
        let r = &b.recipients[0];
        assert_eq!(r.address, "traeger@verein.example");
        assert_eq!(r.action, "delayed");
        assert_eq!(r.status.as_deref(), Some("4.4.1"));
        assert_eq!(
            r.diagnostic.as_deref(),
            Some("connect to mx.verein.example[198.51.100.9]:25: Connection timed out")
        );
        assert!(!b.is_permanent_failure());
    }

    #[test]
    fn qmail_bounce() {
        let b = parse(QMAIL.as_bytes()).unwrap();
        assert_eq!(
            b.original_message_ids,
            vec!["22222222222222222222222222222222.postbote@ews.test".to_string()]
        );
        assert_eq!(
            b.recipients,
            vec![FailedRecipient {
                address: "vorstand@verein.example".into(),
                action: "failed".into(),
                status: Some("5.1.1".into()),
                diagnostic: Some("Sorry, no mailbox here by that name. (#5.1.1)".into()),
            }]
        );
        assert!(b.is_permanent_failure());
    }

    #[test]
    fn exim_bounce() {
        let b = parse(EXIM.as_bytes()).unwrap();
        assert_eq!(
            b.original_message_ids,
            vec!["33333333333333333333333333333333.postbote@ews.test".to_string()]
        );
        assert_eq!(b.recipients.len(), 1);
        let r = &b.recipients[0];
        assert_eq!(r.address, "ehrenamt@kreis-nord.example");
        assert_eq!(r.action, "failed");
        assert_eq!(r.status.as_deref(), Some("5.1.1"));
        assert!(
            r.diagnostic
                .as_deref()
                .unwrap()
                .starts_with("host mail.kreis-nord.example [198.51.100.4] SMTP error")
        );
        assert!(b.is_permanent_failure());
    }

    #[test]
    fn exim_delay_warning_is_not_permanent() {
        let raw = EXIM
            .replace(
                "Mail delivery failed: returning message to sender",
                "Warning: message 1q2w3d-0001Aa-Bc delayed 24 hours",
            )
            .replace(
                "A message that you sent could not be delivered to one or more of its\r\nrecipients. This is a permanent error. The following address(es) failed:",
                "A message that you sent has not yet been delivered to one or more of its\r\nrecipients after more than 24 hours on the queue on mx.kreis-nord.example.\r\n\r\nThe address to which the message has not yet been delivered is:",
            )
            .replace(
                "    host mail.kreis-nord.example [198.51.100.4]\r\n    SMTP error from remote mail server after RCPT TO:<ehrenamt@kreis-nord.example>:\r\n    550 5.1.1 <ehrenamt@kreis-nord.example>: Recipient address rejected: User unknown\r\n",
                "    Delay reason: SMTP error from remote mail server after RCPT TO:<ehrenamt@kreis-nord.example>:\r\n    451 4.7.1 Greylisted, please try again later\r\n",
            );
        let b = parse(raw.as_bytes()).unwrap();
        assert_eq!(b.recipients.len(), 1);
        assert_eq!(b.recipients[0].action, "delayed");
        assert_eq!(b.recipients[0].status.as_deref(), Some("4.7.1"));
        assert!(!b.is_permanent_failure());
    }

    #[test]
    fn dsn_fields_found_in_the_raw_when_the_part_is_mislabelled() {
        let raw = POSTFIX.replace(
            "Content-Type: message/delivery-status",
            "Content-Type: application/octet-stream; name=x\r\nContent-Transfer-Encoding: 7bit",
        );
        let b = parse(raw.as_bytes()).unwrap();
        assert_eq!(b.recipients.len(), 1);
        assert_eq!(b.recipients[0].address, "kaemmerei@stadt.test");
        assert_eq!(b.original_message_ids, vec![ORIGINAL_ID.to_string()]);
    }

    #[test]
    fn original_recipient_is_preferred_and_unknown_action_follows_status() {
        let text = "Reporting-MTA: dns; a\n\nFinal-Recipient: rfc822; real.person@backend.test\n\
Original-Recipient: rfc822; alias@stadt.test\nAction: weird\nStatus: 4.2.2\n\n\
Final-Recipient: x400; /C=DE/O=Stadt\nStatus: 5.0.0\n";
        let mut r = Recipients::default();
        r.scan_dsn_fields(text);
        assert_eq!(r.list[0].address, "alias@stadt.test");
        assert_eq!(r.list[0].action, "delayed");
        assert_eq!(r.list[1].address, "/C=DE/O=Stadt");
        assert_eq!(r.list[1].action, "failed");
    }

    #[test]
    fn a_bounce_forwarded_by_a_person_is_not_one() {
        let raw = EXIM
            .replace(
                "From: Mail Delivery System <Mailer-Daemon@mx.kreis-nord.example>",
                "From: Ehrenamt <info@kreis-nord.example>",
            )
            .replace(
                "Subject: Mail delivery failed: returning message to sender",
                "Subject: WG: Mail delivery failed: returning message to sender",
            )
            .replace("Auto-Submitted: auto-replied\r\n", "")
            .replace("X-Failed-Recipients: ehrenamt@kreis-nord.example\r\n", "");
        assert_eq!(parse(raw.as_bytes()), None);
        // The same wording without the forward prefix still counts.
        let raw = raw.replace("Subject: WG: ", "Subject: ");
        assert!(parse(raw.as_bytes()).is_some());
    }

    #[test]
    fn reports_that_are_not_bounces() {
        assert_eq!(parse(READ_RECEIPT.as_bytes()), None);
        assert_eq!(parse(OUT_OF_OFFICE.as_bytes()), None);
        assert_eq!(parse(ORDINARY.as_bytes()), None);
        assert_eq!(parse(b""), None);
    }

    #[test]
    fn limits_hold() {
        let mut dsn = String::from("Reporting-MTA: dns; a\r\n\r\n");
        for i in 0..150 {
            dsn.push_str(&format!(
                "Final-Recipient: rfc822; r{i}@stadt.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
            ));
        }
        let mut headers = String::new();
        for i in 0..20 {
            headers.push_str(&format!("Message-ID: <id{i}@ews.test>\r\n"));
        }
        let raw = format!(
            "From: MAILER-DAEMON@a.test\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n\
--b\r\nContent-Type: message/delivery-status\r\n\r\n{dsn}--b\r\nContent-Type: text/plain\r\n\r\nx\r\n\
--b--\r\n{headers}"
        );
        let b = parse(raw.as_bytes()).unwrap();
        assert_eq!(b.recipients.len(), MAX_RECIPIENTS);
        assert!(b.original_message_ids.len() <= MAX_IDS);
    }

    #[test]
    fn truncations_of_every_fixture_never_panic() {
        for fixture in fixtures() {
            let bytes = fixture.as_bytes();
            for end in (0..bytes.len()).step_by(7) {
                let _ = parse(&bytes[..end]);
            }
        }
    }

    #[test]
    fn pseudo_random_bytes_never_panic() {
        let mut next = crate::test_noise::xorshift(0x9e37_79b9_7f4a_7c15);
        let alphabet: &[u8] = b"<>@:;.,-= \t\r\n\"abcXYZ059\xc3\xbc\xff\0";
        for round in 0..3000 {
            let len = (next() % 600) as usize;
            let mut bytes: Vec<u8> = Vec::with_capacity(len + 200);
            if round % 2 == 0 {
                // Keep a plausible report header so the deeper paths run.
                bytes.extend_from_slice(
                    b"From: MAILER-DAEMON@x.test\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: ",
                );
            }
            for _ in 0..len {
                let r = next();
                bytes.push(if r.is_multiple_of(3) {
                    (r >> 8) as u8
                } else {
                    alphabet[(r >> 8) as usize % alphabet.len()]
                });
            }
            let _ = parse(&bytes);
        }
        // Fixtures with random bytes flipped.
        for fixture in fixtures() {
            for _ in 0..50 {
                let mut bytes = fixture.as_bytes().to_vec();
                for _ in 0..8 {
                    let at = next() as usize % bytes.len();
                    bytes[at] = (next() >> 16) as u8;
                }
                let _ = parse(&bytes);
            }
        }
    }
}
