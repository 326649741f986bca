//! The facts postbote reads from an incoming mail. Everything here comes from
//! untrusted input: header text is sanitised, addresses are parsed.

use crate::domain::{EmailAddress, HeaderText};
use crate::outbox::compose::clean_id;
use mail_parser::{MessageParser, MimeHeaders};

/// An incoming mail, reduced to what intake and the workflow use.
/// `Debug` leaves out the body: a staff command mail carries a secret there.
#[derive(Clone, Default)]
pub struct Incoming {
    pub message_id: Option<String>,
    /// The From address, when it parses as one.
    pub from: Option<EmailAddress>,
    /// The From header as written (sanitised), for staff.
    pub from_raw: Option<String>,
    pub from_name: Option<String>,
    pub reply_to: Option<EmailAddress>,
    pub subject: String,
    pub references: Vec<String>,
    pub in_reply_to: Option<String>,
    /// The mail carries an iTIP REPLY (an Outlook "Angenommen"/"Abgelehnt").
    pub calendar_reply: bool,
    pub attachments: Vec<String>,
    /// The start of the text body, for classification.
    pub body_start: String,
    /// Every header as (lower-case name, raw value).
    pub headers: Vec<(String, String)>,
    /// `type/subtype` of the root part, lower case.
    pub content_type: String,
}

const MAX_BODY_START: usize = 4096;

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming")
            .field("message_id", &self.message_id)
            .field("from", &self.from)
            .field("subject", &self.subject)
            .field("attachments", &self.attachments)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

impl Incoming {
    /// Parses a raw message; None when it is not a mail at all.
    pub fn parse(raw: &[u8]) -> Option<Incoming> {
        // NOTE: mail-parser 0.11 has debug_assert!s that malformed nesting can
        // reach (found by fuzzing); a panic must never take the intake down.
        std::panic::catch_unwind(|| Self::parse_unguarded(raw))
            .ok()
            .flatten()
    }

    /// The header facts only (no body, no attachments), read from the
    /// header block: what the intake stores beside the raw bytes before it
    /// acts on them. The full parse comes once, when the mail is processed.
    pub fn parse_headers(raw: &[u8]) -> Option<Incoming> {
        std::panic::catch_unwind(|| {
            MessageParser::default()
                .parse_headers(raw)
                .map(|m| Self::from_message(&m))
        })
        .ok()
        .flatten()
    }

    fn parse_unguarded(raw: &[u8]) -> Option<Incoming> {
        let msg = MessageParser::default().parse(raw)?;
        Some(Self::from_message(&msg))
    }

    /// The facts of a message parsed by the caller, who may read more from
    /// the same parse (the documents: [`crate::documents::analyse::analyse_message`]).
    ///
    /// NOTE: mail-parser may panic on malformed nesting; callers run this
    /// under `catch_unwind`, as [`Incoming::parse`] does.
    pub fn from_message(msg: &mail_parser::Message<'_>) -> Incoming {
        let first_addr = |a: Option<&mail_parser::Address>| {
            a.and_then(|a| a.first())
                .and_then(|a| a.address())
                .map(str::to_string)
        };
        let from_text =
            first_addr(msg.from()).or_else(|| msg.header_raw("From").and_then(address_in_raw));
        let from_name = msg
            .from()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .map(|n| HeaderText::sanitize(&n, 120).to_string())
            .filter(|n| !n.is_empty());
        let references = msg
            .references()
            .as_text_list()
            .map(|l| l.iter().filter_map(|r| clean_id(r)).take(50).collect())
            .unwrap_or_default();
        let in_reply_to = msg
            .in_reply_to()
            .as_text_list()
            .and_then(|l| l.first().and_then(|r| clean_id(r)));
        // NOTE: Outlook sends meeting responses as text/calendar with
        // method=REPLY, usually without In-Reply-To.
        let calendar_reply = msg.parts.iter().any(|p| {
            p.content_type().is_some_and(|c| {
                c.ctype().eq_ignore_ascii_case("text")
                    && c.subtype()
                        .is_some_and(|s| s.eq_ignore_ascii_case("calendar"))
                    && c.attribute("method")
                        .is_some_and(|m| m.eq_ignore_ascii_case("reply"))
            })
        });
        let attachments = msg
            .attachments()
            .map(|p| {
                HeaderText::sanitize(p.attachment_name().unwrap_or("(ohne Namen)"), 120).to_string()
            })
            .take(100)
            .collect();
        let body_start: String = msg
            .body_text(0)
            .map(|b| b.chars().take(MAX_BODY_START).collect())
            .unwrap_or_default();
        let content_type = msg
            .root_part()
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")).to_ascii_lowercase())
            .unwrap_or_else(|| "text/plain".into());
        let headers = msg
            .headers_raw()
            .take(500)
            .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Incoming {
            message_id: msg.message_id().and_then(clean_id),
            from: from_text
                .as_deref()
                .and_then(|a| EmailAddress::parse(a).ok()),
            from_raw: from_text.map(|f| HeaderText::sanitize(&f, 200).to_string()),
            from_name,
            reply_to: first_addr(msg.reply_to()).and_then(|a| EmailAddress::parse(&a).ok()),
            subject: HeaderText::sanitize(msg.subject().unwrap_or(""), 250).to_string(),
            references,
            in_reply_to,
            calendar_reply,
            attachments,
            body_start,
            headers,
            content_type,
        }
    }

    /// The first value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
    }
}

/// NOTE: mail-parser gives up on some malformed From headers (an unquoted comma
/// in the display name); fall back to the text in angle brackets, or a bare
/// token with an '@'.
fn address_in_raw(raw: &str) -> Option<String> {
    if let (Some(start), Some(end)) = (raw.rfind('<'), raw.rfind('>'))
        && start < end
    {
        return Some(raw[start + 1..end].trim().to_string());
    }
    raw.split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .find(|t| t.contains('@'))
        .map(|t| t.trim_matches(|c| c == '"' || c == '\'').to_string())
}

#[cfg(test)]
mod tests {
    use super::Incoming;

    #[test]
    fn debug_output_never_shows_the_body() {
        let raw =
            b"From: leitung@ews.test\r\nSubject: Befehl\r\n\r\nPLAN\r\nKennwort: streng-geheim\r\n";
        let m = Incoming::parse(raw).unwrap();
        assert!(m.body_start.contains("streng-geheim"));
        assert!(!format!("{m:?}").contains("streng-geheim"));
    }

    #[test]
    fn an_outlook_meeting_response_is_a_calendar_reply() {
        let raw = b"From: a@stadt.test\r\nSubject: Angenommen: Kennenlerngespraech\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nok\r\n\
--b\r\nContent-Type: text/calendar; charset=utf-8; method=REPLY\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nEND:VCALENDAR\r\n--b--\r\n";
        assert!(Incoming::parse(raw).unwrap().calendar_reply);
        let plain = b"From: a@stadt.test\r\nSubject: x\r\nIn-Reply-To: <abc@ews.test>\r\n\r\nbody";
        let m = Incoming::parse(plain).unwrap();
        assert!(!m.calendar_reply);
        assert_eq!(m.in_reply_to.as_deref(), Some("abc@ews.test"));
    }

    #[test]
    fn unquoted_comma_in_display_name_still_finds_the_address() {
        let raw = b"From: Kreis Nord, Ehrenamtsb\xc3\xbcro <ehrenamt@kreis-nord.example>\r\nSubject: x\r\n\r\nbody";
        let m = Incoming::parse(raw).unwrap();
        assert_eq!(
            m.from.as_ref().map(|a| a.as_str()),
            Some("ehrenamt@kreis-nord.example")
        );
    }
}
