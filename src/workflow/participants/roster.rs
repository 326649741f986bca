//! `postbote participants import FILE.csv` and the staff mail
//! `TEILNEHMER IMPORT` (the CSV attached): a roster decided outside postbote
//! (EWS 7 is already running). All rows or none.

use super::csv::{self, Role, RosterError};
use crate::calendar::events;
use crate::store::{Store, Tx, participants, welcome};
use crate::workflow::desk::Desk;
use anyhow::Context;
use chrono::{DateTime, Utc};
use mail_parser::{Encoding, MessageParser, MessagePart, MimeHeaders, PartType};

/// Imports the CSV; on invalid rows nothing is stored and every error is listed.
/// The people join `desk.programme`.
pub async fn import(
    desk: &Desk<'_>,
    store: &Store,
    now: DateTime<Utc>,
    bytes: &[u8],
) -> anyhow::Result<usize> {
    let mut tx = store.begin().await?;
    match import_in(desk, &mut tx, now, bytes).await? {
        Ok(n) => {
            tx.commit().await.context("cannot store the roster")?;
            Ok(n)
        }
        Err(errors) => {
            tx.rollback().await?;
            let list = errors
                .iter()
                .map(|e| format!("  {e}"))
                .collect::<Vec<_>>()
                .join("\n");
            Err(anyhow::anyhow!("the roster was not imported:\n{list}"))
        }
    }
}

/// [`import`] in the caller's transaction: `Ok(Err(errors))` when a row is
/// invalid (then nothing was written).
///
/// A participant who joins mid-year (not active on the roster before) gets
/// no reminders for events that began before `now`: they are recorded as
/// skipped, so the scheduler neither sends them nor reports them to staff
/// as missed.
pub async fn import_in(
    desk: &Desk<'_>,
    tx: &mut Tx<'_>,
    now: DateTime<Utc>,
    bytes: &[u8],
) -> anyhow::Result<Result<usize, Vec<RosterError>>> {
    let programme = desk.programme.code.as_str();
    let rows = match csv::parse(bytes) {
        Ok(rows) => rows,
        Err(errors) => return Ok(Err(errors)),
    };
    let begun: Vec<_> = events::effective_in(tx, desk.programme)
        .await?
        .into_iter()
        .filter(|e| e.start() <= now)
        .collect();
    for row in &rows {
        let role = match row.role {
            Role::Participant => "participant",
            Role::Supervisor => "supervisor",
        };
        let email = row.email.key();
        if role == "participant" && !welcome::is_active(tx, programme, &email, role).await? {
            let note = "the event began before the person joined the roster";
            super::welcome::skip_due_reminders(desk, tx, &begun, &email, now, note).await?;
        }
        participants::upsert(
            tx,
            &participants::NewParticipant {
                programme,
                application_id: None,
                municipality: &row.municipality,
                name: Some(&row.name),
                email: row.email.as_str(),
                role,
                source: "import",
            },
        )
        .await?;
    }
    Ok(Ok(rows.len()))
}

/// A CSV file attached to a mail: its name and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The CSV attachments of a raw mail: parts named `*.csv`, or of type
/// `text/csv` (Outlook also sends `application/vnd.ms-excel` for a named
/// `.csv`). Other attachments are ignored.
pub fn csv_attachments(raw: &[u8]) -> Vec<Attached> {
    let Some(msg) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    msg.attachments()
        .filter_map(|part| {
            let name = part.attachment_name().unwrap_or_default().to_string();
            let is_csv_type = part.content_type().is_some_and(|ct| {
                ct.ctype().eq_ignore_ascii_case("text")
                    && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("csv"))
            });
            let named = name.to_ascii_lowercase().ends_with(".csv");
            (named || is_csv_type).then(|| Attached {
                name: if name.is_empty() {
                    "(ohne Namen)".into()
                } else {
                    name
                },
                bytes: attached_bytes(raw, part),
            })
        })
        .collect()
}

/// The bytes of an attached file as the sender's program wrote them.
///
/// NOTE: mail-parser turns every `text/*` part into UTF-8, and a part
/// without a charset (Outlook attaching a CSV German Excel saved, which is
/// Windows-1252) is decoded as UTF-8 lossily: "Hürtgenwald" would become
/// "H\u{FFFD}rtgenwald". Such a part is decoded from the raw mail here
/// (base64 or quoted-printable only), and [`csv::parse`] detects the
/// encoding itself. A part that names another charset than UTF-8 keeps
/// mail-parser's decoding, which honoured it.
fn attached_bytes(raw: &[u8], part: &MessagePart<'_>) -> Vec<u8> {
    let PartType::Text(text) = &part.body else {
        return part.contents().to_vec();
    };
    let declared = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .map(str::to_ascii_lowercase);
    if declared.is_some_and(|c| !matches!(c.as_str(), "utf-8" | "utf8" | "us-ascii")) {
        return text.as_bytes().to_vec();
    }
    let body = raw.get(part.raw_body_offset() as usize..part.raw_end_offset() as usize);
    let decoded = body.and_then(|b| match part.encoding {
        Encoding::Base64 => mail_parser::decoders::base64::base64_decode(b),
        Encoding::QuotedPrintable => {
            mail_parser::decoders::quoted_printable::quoted_printable_decode(b)
        }
        Encoding::None => Some(b.to_vec()),
    });
    decoded.unwrap_or_else(|| text.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// German Excel's CSV (Windows-1252) as Outlook attaches it: `text/csv`
    /// without a charset, in base64, quoted-printable or 8 bit; and once
    /// with the charset named.
    #[test]
    fn a_windows_1252_csv_keeps_its_umlauts_however_it_is_attached() {
        use base64::Engine;
        let csv: &[u8] = b"Kommune;Name;E-Mail\r\nGemeinde H\xfcrtgenwald;J\xf6rg;j@h.test\r\n";
        let b64 = base64::engine::general_purpose::STANDARD.encode(csv);
        let qp = "Kommune;Name;E-Mail\r\nGemeinde H=FCrtgenwald;J=F6rg;j@h.test\r\n";
        let mail = |headers: &str, body: &[u8]| -> Vec<u8> {
            let mut raw = format!(
                "From: a@b.test\r\nTo: c@d.test\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
                 Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
                 --b\r\nContent-Type: text/plain\r\n\r\nTEILNEHMER IMPORT\r\n\
                 --b\r\n{headers}Content-Disposition: attachment; filename=\"liste.csv\"\r\n\r\n"
            )
            .into_bytes();
            raw.extend_from_slice(body);
            raw.extend_from_slice(b"\r\n--b--\r\n");
            raw
        };
        let cases = [
            mail(
                "Content-Type: text/csv\r\nContent-Transfer-Encoding: base64\r\n",
                b64.as_bytes(),
            ),
            mail(
                "Content-Type: text/csv\r\nContent-Transfer-Encoding: quoted-printable\r\n",
                qp.as_bytes(),
            ),
            mail(
                "Content-Type: text/csv\r\nContent-Transfer-Encoding: 8bit\r\n",
                csv,
            ),
            mail(
                "Content-Type: text/csv; charset=windows-1252\r\nContent-Transfer-Encoding: base64\r\n",
                b64.as_bytes(),
            ),
        ];
        for (i, raw) in cases.iter().enumerate() {
            let found = csv_attachments(raw);
            assert_eq!(found.len(), 1, "case {i}");
            let rows = csv::parse(&found[0].bytes).unwrap_or_else(|e| panic!("case {i}: {e:?}"));
            assert_eq!(rows[0].municipality, "Gemeinde Hürtgenwald", "case {i}");
            assert_eq!(rows[0].name, "Jörg", "case {i}");
        }
    }

    #[test]
    fn csv_attachments_are_found_by_name_or_type() {
        let raw = "From: a@b.test\r\nTo: c@d.test\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
                   Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
                   --b\r\nContent-Type: text/plain\r\n\r\nTEILNEHMER IMPORT\r\n\
                   --b\r\nContent-Type: application/vnd.ms-excel; name=\"liste.csv\"\r\n\
                   Content-Disposition: attachment; filename=\"liste.csv\"\r\n\r\n\
                   Kommune;Name;E-Mail\r\nK;N;n@k.test\r\n\
                   --b\r\nContent-Type: application/pdf; name=\"x.pdf\"\r\n\
                   Content-Disposition: attachment; filename=\"x.pdf\"\r\n\r\n%PDF\r\n\
                   --b--\r\n";
        let found = csv_attachments(raw.as_bytes());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "liste.csv");
        assert!(String::from_utf8_lossy(&found[0].bytes).contains("n@k.test"));
        assert!(csv_attachments(b"not a mail").is_empty());
    }
}
