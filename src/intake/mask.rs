//! The command secret never reaches the store: a staff mail is masked before
//! its raw bytes are stored ("store every message raw before acting on it"
//! stores the masked bytes).
//!
//! 1. In the raw bytes, every `Kennwort:` / `Geheimwort:` line keeps its key
//!    and gets `********` as its value, and every literal occurrence of the
//!    configured secret becomes `********`. This covers 7bit, 8bit and
//!    quoted-printable lines without soft breaks, the usual case.
//! 2. If the decoded text of the result (base64, quoted-printable with soft
//!    line breaks, another charset) still shows the secret or an unmasked
//!    secret line, the body is replaced: the header block is kept, the MIME
//!    headers are replaced by `text/plain; charset=utf-8`, and the body is the
//!    masked decoded text of every text part. Attachments of such a mail are
//!    not kept (a command mail needs none), and an `X-Postbote-Masked` header
//!    says so.
//!
//! The masked bytes parse to the same commands: only secret values change.

use mail_parser::MessageParser;
use secrecy::{ExposeSecret, SecretString};

/// What a masked secret value reads as.
pub const MASK: &str = "********";

/// The masked bytes of a staff mail, or `None` when nothing needed masking.
pub fn mask_secret(raw: &[u8], secret: Option<&SecretString>) -> Option<Vec<u8>> {
    let secret = secret
        .map(|s| s.expose_secret().trim())
        .filter(|s| !s.is_empty());
    let literal = mask_bytes(raw, secret);
    let current: &[u8] = literal.as_deref().unwrap_or(raw);
    if !decoded_needs_mask(current, secret) {
        return literal;
    }
    Some(rebuilt(current, secret))
}

/// Masks secret lines and literal secrets in text.
pub fn mask_text(text: &str, secret: Option<&str>) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match secret_value_at(line) {
            Some(at) => {
                out.push_str(&line[..at]);
                out.push_str(MASK);
                let end = line.trim_end_matches(['\r', '\n']).len();
                out.push_str(&line[end..]);
            }
            None => out.push_str(line),
        }
    }
    match secret {
        Some(s) if !s.is_empty() => out.replace(s, MASK),
        _ => out,
    }
}

/// The byte offset where the value of a secret line starts, when `line` is
/// one (`Kennwort: x`, `kennwort = x`, `Geheimwort x`, after `>` quoting
/// and blanks too) and its value is not already the mask.
fn secret_value_at(line: &str) -> Option<usize> {
    let start = line.len() - line.trim_start_matches([' ', '\t', '>']).len();
    let rest = &line[start..];
    for key in ["kennwort", "geheimwort"] {
        let Some(head) = rest.get(..key.len()) else {
            continue;
        };
        if !head.eq_ignore_ascii_case(key) {
            continue;
        }
        let after = &rest[key.len()..];
        let sep = after.len() - after.trim_start_matches([' ', '\t', ':', '=']).len();
        if sep == 0 {
            continue;
        }
        let value = after[sep..].trim_end_matches(['\r', '\n']);
        if value.trim().is_empty() || value.trim() == MASK {
            return None;
        }
        return Some(start + key.len() + sep);
    }
    None
}

fn mask_bytes(raw: &[u8], secret: Option<&str>) -> Option<Vec<u8>> {
    // Lines are masked as text; bytes that are not UTF-8 are kept as they
    // are (a secret line is ASCII-keyed, its value replaced wholesale).
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut changed = false;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(line);
        if let Some(at) = secret_value_at(&text).filter(|_| std::str::from_utf8(line).is_ok()) {
            out.extend_from_slice(&line[..at]);
            out.extend_from_slice(MASK.as_bytes());
            let end = line
                .iter()
                .rposition(|&b| b != b'\r' && b != b'\n')
                .map_or(0, |i| i + 1);
            out.extend_from_slice(&line[end.max(at)..]);
            changed = true;
        } else {
            out.extend_from_slice(line);
        }
    }
    if let Some(s) = secret {
        let (needle, mask) = (s.as_bytes(), MASK.as_bytes());
        let mut replaced = Vec::with_capacity(out.len());
        let mut i = 0;
        while i < out.len() {
            if out[i..].starts_with(needle) {
                replaced.extend_from_slice(mask);
                i += needle.len();
                changed = true;
            } else {
                replaced.push(out[i]);
                i += 1;
            }
        }
        out = replaced;
    }
    changed.then_some(out)
}

fn texts(raw: &[u8]) -> Vec<String> {
    std::panic::catch_unwind(|| {
        MessageParser::default().parse(raw).map(|m| {
            (0..m.text_body_count())
                .filter_map(|i| m.body_text(i).map(|t| t.into_owned()))
                .chain(m.subject().map(str::to_string))
                .collect::<Vec<_>>()
        })
    })
    .ok()
    .flatten()
    .unwrap_or_default()
}

fn decoded_needs_mask(raw: &[u8], secret: Option<&str>) -> bool {
    texts(raw).iter().any(|t| {
        secret.is_some_and(|s| t.contains(s)) || t.lines().any(|l| secret_value_at(l).is_some())
    })
}

fn rebuilt(raw: &[u8], secret: Option<&str>) -> Vec<u8> {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 2)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| i + 1))
        .unwrap_or(raw.len());
    let mut out = Vec::new();
    let mut skipping = false;
    for line in raw[..head_end].split_inclusive(|&b| b == b'\n') {
        let folded = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !folded {
            let name = String::from_utf8_lossy(line).to_ascii_lowercase();
            skipping = [
                "content-type:",
                "content-transfer-encoding:",
                "mime-version:",
            ]
            .iter()
            .any(|h| name.starts_with(h));
        }
        if !skipping {
            out.extend_from_slice(line);
        }
    }
    while out.ends_with(b"\n") || out.ends_with(b"\r") {
        out.pop();
    }
    if !out.is_empty() {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
          Content-Transfer-Encoding: 8bit\r\n\
          X-Postbote-Masked: body re-encoded by postbote to mask the command secret; attachments dropped\r\n\r\n",
    );
    let full = MessageParser::default();
    let bodies: Vec<String> = std::panic::catch_unwind(|| {
        full.parse(raw).map(|m| {
            (0..m.text_body_count())
                .filter_map(|i| m.body_text(i).map(|t| t.into_owned()))
                .collect::<Vec<_>>()
        })
    })
    .ok()
    .flatten()
    .unwrap_or_default();
    for body in bodies {
        let masked = mask_text(&body, secret).replace("\r\n", "\n");
        out.extend_from_slice(masked.replace('\n', "\r\n").as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // The header block too: a secret in a decoded Subject.
    let text = String::from_utf8_lossy(&out).into_owned();
    match secret {
        Some(s) if text.contains(s) => text.replace(s, MASK).into_bytes(),
        _ => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "Sonnenblume-am-Deich-42";

    fn secret() -> SecretString {
        SecretString::from(SECRET)
    }

    fn shows_secret(raw: &[u8]) -> bool {
        let text = String::from_utf8_lossy(raw);
        text.contains(SECRET) || texts(raw).iter().any(|t| t.contains(SECRET))
    }

    #[test]
    fn plain_mail_has_its_secret_line_masked_and_keeps_its_commands() {
        let raw = format!(
            "From: a@b.de\r\nSubject: Befehl\r\n\r\nPLAN\r\nKennwort: {SECRET}\r\nGruß\r\n"
        );
        let masked = mask_secret(raw.as_bytes(), Some(&secret())).unwrap();
        let text = String::from_utf8(masked.clone()).unwrap();
        assert!(
            text.contains("PLAN\r\nKennwort: ********\r\nGruß"),
            "{text}"
        );
        assert!(!shows_secret(&masked));
        // Idempotent: masked bytes need nothing more.
        assert_eq!(mask_secret(&masked, Some(&secret())), None);
        // A mail without secret stays as it is.
        assert_eq!(
            mask_secret(b"From: a@b.de\r\n\r\nPLAN\r\n", Some(&secret())),
            None
        );
    }

    #[test]
    fn a_wrong_secret_line_is_masked_too() {
        let raw = b"From: a@b.de\r\n\r\nkennwort = falsch-aber-fast\r\n";
        let masked = mask_secret(raw, Some(&secret())).unwrap();
        assert!(!String::from_utf8_lossy(&masked).contains("falsch-aber-fast"));
    }

    #[test]
    fn base64_and_soft_broken_quoted_printable_are_re_encoded() {
        use base64::Engine;
        let body = format!("PLAN\r\nKennwort: {SECRET}\r\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode(body.as_bytes());
        let raw = format!(
            "From: a@b.de\r\nSubject: Befehl\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n"
        );
        assert!(!raw.contains(SECRET));
        let masked = mask_secret(raw.as_bytes(), Some(&secret())).unwrap();
        assert!(!shows_secret(&masked));
        let text = String::from_utf8(masked).unwrap();
        assert!(text.contains("Subject: Befehl"), "{text}");
        assert!(text.contains("PLAN\r\nKennwort: ********"), "{text}");
        assert!(text.contains("X-Postbote-Masked"), "{text}");

        let qp = "From: a@b.de\r\nContent-Type: text/plain; charset=utf-8\r\n\
                  Content-Transfer-Encoding: quoted-printable\r\n\r\n\
                  PLAN\r\nKenn=\r\nwort: Sonnenblume-am-=\r\nDeich-42\r\n";
        let masked = mask_secret(qp.as_bytes(), Some(&secret())).unwrap();
        assert!(
            !shows_secret(&masked),
            "{}",
            String::from_utf8_lossy(&masked)
        );
    }

    #[test]
    fn mask_text_keeps_other_lines() {
        assert_eq!(
            mask_text("A\nKennwort: x\n> Kennwort: y\nKennwortänderung\n", None),
            "A\nKennwort: ********\n> Kennwort: ********\nKennwortänderung\n"
        );
        assert_eq!(mask_text("sag abc", Some("abc")), "sag ********");
    }
}
