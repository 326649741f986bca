//! Folder names on any IMAP server. The config names folders with `/` as
//! the logical separator (`Postbote/Verarbeitet`); the server may use `.`
//! (Dovecot's Maildir++ default, Courier) and may keep every personal folder
//! below a namespace prefix such as `INBOX.` (RFC 2342). Names are sent in
//! modified UTF-7 (RFC 3501 §5.1.3).

use thiserror::Error;

/// The personal namespace the server announced (NAMESPACE, else `LIST "" ""`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// e.g. `""` or `"INBOX."`, as the server sends it.
    pub prefix: String,
    /// The hierarchy delimiter; `None` for a flat server (NIL).
    pub delimiter: Option<char>,
}

impl Namespace {
    /// The layout of servers that say nothing: no prefix, `/`.
    pub fn plain() -> Namespace {
        Namespace {
            prefix: String::new(),
            delimiter: Some('/'),
        }
    }

    pub fn describe(&self) -> String {
        let delimiter = self
            .delimiter
            .map_or("none".to_string(), |d| format!("'{d}'"));
        if self.prefix.is_empty() {
            format!("separator {delimiter}, no prefix")
        } else {
            format!("separator {delimiter}, prefix {:?}", self.prefix)
        }
    }
}

/// A configured folder name that cannot be used on this server.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("folder {logical:?} cannot be used on this server ({layout}): {reason}")]
pub struct BadFolderName {
    pub logical: String,
    pub layout: String,
    pub reason: String,
}

/// The server's name for a logical folder name (`/`-separated).
pub fn server_name(logical: &str, ns: &Namespace) -> Result<String, BadFolderName> {
    let bad = |reason: &str| BadFolderName {
        logical: logical.to_string(),
        layout: ns.describe(),
        reason: reason.to_string(),
    };
    if logical.eq_ignore_ascii_case("INBOX") {
        return Ok("INBOX".into());
    }
    let parts: Vec<&str> = logical.split('/').map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad("empty name or empty part between '/'"));
    }
    if let Some(p) = parts
        .iter()
        .find(|p| p.chars().any(|c| c.is_control() || c == '*' || c == '%'))
    {
        return Err(bad(&format!(
            "{p:?} contains a control character or an IMAP wildcard"
        )));
    }
    let delimiter = match ns.delimiter {
        Some(d) => d,
        None if parts.len() == 1 => '/',
        None => {
            return Err(bad(
                "the server has no folder hierarchy: use a name without '/'",
            ));
        }
    };
    if delimiter != '/'
        && let Some(p) = parts.iter().find(|p| p.contains(delimiter))
    {
        return Err(bad(&format!(
            "{p:?} contains the server's separator '{delimiter}': use '/' between levels and no '{delimiter}' inside a name"
        )));
    }
    let mut encoded: Vec<String> = parts.iter().map(|p| encode_mutf7(p)).collect();
    // "INBOX/…" names a folder below INBOX: INBOX itself keeps its name.
    if encoded[0].eq_ignore_ascii_case("INBOX") {
        encoded[0] = "INBOX".into();
    }
    let joined = encoded.join(&delimiter.to_string());
    let prefix = &ns.prefix;
    if prefix.is_empty()
        || joined
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    {
        return Ok(joined);
    }
    Ok(format!("{prefix}{joined}"))
}

/// Modified UTF-7 (RFC 3501 §5.1.3): printable ASCII as is, `&` as `&-`,
/// everything else as UTF-16 in modified base64 between `&` and `-`.
pub fn encode_mutf7(s: &str) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    let mut out = String::new();
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let symbols = chunk.len() + 1;
            for i in 0..symbols {
                let index = ((n >> (18 - 6 * i)) & 63) as usize;
                out.push(char::from(B64[index]));
            }
        }
        out.push('-');
        pending.clear();
    };
    for c in s.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Parses the first personal namespace of a `* NAMESPACE` line:
/// `* NAMESPACE (("INBOX." ".")) NIL NIL`. None when it names none or uses
/// a form this reader does not take (literals); the caller then asks LIST.
pub fn parse_namespace_line(line: &str) -> Option<Namespace> {
    let rest = line.trim().strip_prefix("* ")?;
    let rest = rest
        .get(..9)
        .filter(|h| h.eq_ignore_ascii_case("NAMESPACE"))
        .map(|_| &rest[9..])?
        .trim_start();
    let rest = rest.strip_prefix("((")?;
    let (prefix, rest) = quoted(rest.trim_start())?;
    let rest = rest.trim_start();
    let delimiter = if rest.get(..3).is_some_and(|h| h.eq_ignore_ascii_case("NIL")) {
        None
    } else {
        let (d, _) = quoted(rest)?;
        let mut chars = d.chars();
        let c = chars.next()?;
        if chars.next().is_some() {
            return None;
        }
        Some(c)
    };
    Some(Namespace { prefix, delimiter })
}

/// A quoted IMAP string at the start of `s`, and what follows it.
fn quoted(s: &str) -> Option<(String, &str)> {
    let mut chars = s.char_indices();
    if chars.next()?.1 != '"' {
        return None;
    }
    let mut out = String::new();
    let mut escaped = false;
    for (i, c) in chars {
        match (escaped, c) {
            (true, c) => {
                out.push(c);
                escaped = false;
            }
            (false, '\\') => escaped = true,
            (false, '"') => return Some((out, &s[i + 1..])),
            (false, c) => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(prefix: &str, d: Option<char>) -> Namespace {
        Namespace {
            prefix: prefix.into(),
            delimiter: d,
        }
    }

    #[test]
    fn translates_the_logical_separator_for_each_layout() {
        let logical = "Postbote/Verarbeitet";
        assert_eq!(
            server_name(logical, &ns("", Some('/'))).unwrap(),
            "Postbote/Verarbeitet"
        );
        assert_eq!(
            server_name(logical, &ns("", Some('.'))).unwrap(),
            "Postbote.Verarbeitet"
        );
        assert_eq!(
            server_name(logical, &ns("INBOX.", Some('.'))).unwrap(),
            "INBOX.Postbote.Verarbeitet"
        );
        // Already below the prefix: not prefixed twice.
        assert_eq!(
            server_name("INBOX/Postbote/Verarbeitet", &ns("INBOX.", Some('.'))).unwrap(),
            "INBOX.Postbote.Verarbeitet"
        );
        assert_eq!(
            server_name("inbox/Archiv", &ns("", Some('/'))).unwrap(),
            "INBOX/Archiv"
        );
        for layout in [ns("", Some('/')), ns("INBOX.", Some('.'))] {
            assert_eq!(server_name("INBOX", &layout).unwrap(), "INBOX");
            assert_eq!(server_name("inbox", &layout).unwrap(), "INBOX");
        }
        assert_eq!(server_name("Erledigt", &ns("", None)).unwrap(), "Erledigt");
    }

    #[test]
    fn refuses_names_the_server_would_split_or_misread() {
        for (name, layout, needle) in [
            ("Postbote/v1.2", ns("", Some('.')), "separator '.'"),
            ("Postbote//x", ns("", Some('/')), "empty"),
            ("", ns("", Some('/')), "empty"),
            ("a/*", ns("", Some('/')), "wildcard"),
            ("a\r\nb", ns("", Some('/')), "control"),
            ("a/b", ns("", None), "no folder hierarchy"),
        ] {
            let e = server_name(name, &layout).unwrap_err().to_string();
            assert!(e.contains(needle), "{name:?}: {e}");
        }
    }

    #[test]
    fn encodes_modified_utf7_as_rfc_3501_shows() {
        assert_eq!(encode_mutf7("Verarbeitet"), "Verarbeitet");
        assert_eq!(encode_mutf7("Geprüft"), "Gepr&APw-ft");
        assert_eq!(encode_mutf7("A&B"), "A&-B");
        // RFC 3501's example: "~peter/mail/台北/日本語"
        assert_eq!(encode_mutf7("台北"), "&U,BTFw-");
        assert_eq!(encode_mutf7("日本語"), "&ZeVnLIqe-");
        assert_eq!(
            server_name("Postbote/Geprüft", &ns("INBOX.", Some('.'))).unwrap(),
            "INBOX.Postbote.Gepr&APw-ft"
        );
    }

    #[test]
    fn reads_the_personal_namespace() {
        assert_eq!(
            parse_namespace_line("* NAMESPACE ((\"\" \"/\")) NIL NIL"),
            Some(ns("", Some('/')))
        );
        assert_eq!(
            parse_namespace_line("* NAMESPACE ((\"INBOX.\" \".\")) NIL ((\"#shared.\" \".\"))\r\n"),
            Some(ns("INBOX.", Some('.')))
        );
        assert_eq!(
            parse_namespace_line("* namespace ((\"\" NIL)) NIL NIL"),
            Some(ns("", None))
        );
        assert_eq!(parse_namespace_line("* NAMESPACE NIL NIL NIL"), None);
        assert_eq!(parse_namespace_line("* NAMESPACE ((\"x\" \"ab\"))"), None);
        assert_eq!(parse_namespace_line("* NAMESPACE ((\"unterminated"), None);
        assert_eq!(parse_namespace_line("* OK"), None);
    }
}
