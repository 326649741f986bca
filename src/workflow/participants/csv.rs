//! The participant roster as staff export it from Excel or LibreOffice, for
//! `postbote participants import FILE.csv`.
//!
//! Accepted:
//!
//! * a header row naming the columns, in any order and case, German or
//!   English: `Kommune`/`Municipality`, `Name`, `E-Mail`/`Email`/`Mail` and
//!   optionally `Rolle`/`Role`; other columns are ignored;
//! * `;` (German Excel), `,` or tab as separator, detected from the header
//!   line; an Excel `sep=;` first line is honoured;
//! * RFC 4180 quoting: quoted fields may hold separators, doubled quotes and
//!   line breaks;
//! * UTF-8 with or without BOM, UTF-16 with BOM (Excel's "Unicode text"),
//!   and otherwise Windows-1252 (older Excel's "CSV").
//!
//! Fields are trimmed; lines with only empty fields are skipped. Names and
//! municipalities end up in mail headers, so line breaks and other control
//! characters in them are refused. Either every row is valid or every error
//! is listed, with the line number where its record starts (line 0: the file
//! as a whole).

use std::collections::HashMap;
use std::fmt;

use crate::domain::{EmailAddress, HeaderText};

/// Largest file accepted, in bytes.
pub const MAX_BYTES: usize = 1024 * 1024;
/// Most data rows accepted.
pub const MAX_ROWS: usize = 1000;
/// Longest name or municipality accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 200;

/// One valid roster row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterRow {
    /// The line (1-based) where the row starts in the file.
    pub line: usize,
    /// The municipality the person works for.
    pub municipality: String,
    /// The person's name.
    pub name: String,
    /// The person's address.
    pub email: EmailAddress,
    /// Participant or supervisor.
    pub role: Role,
}

/// A person's role in the programme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Takes part in the programme (the default when the column is empty).
    Participant,
    /// The participant's supervisor.
    Supervisor,
}

/// Why a line (or the file, line 0) was refused; English, for the CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterError {
    /// The line (1-based) where the record starts, or 0 for the whole file.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl RosterError {
    fn new(line: usize, reason: impl Into<String>) -> RosterError {
        RosterError {
            line,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for RosterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "file: {}", self.reason)
        } else {
            write!(f, "line {}: {}", self.line, self.reason)
        }
    }
}

impl Role {
    /// Reads the role column; empty means participant.
    fn parse(raw: &str) -> Option<Role> {
        match raw.to_lowercase().as_str() {
            "" | "teilnehmende" | "teilnehmer" | "teilnehmerin" | "participant" => {
                Some(Role::Participant)
            }
            "vorgesetzte" | "vorgesetzter" | "supervisor" => Some(Role::Supervisor),
            _ => None,
        }
    }
}

/// Parses a roster file; `Ok` only if every row is valid, else every error.
pub fn parse(bytes: &[u8]) -> Result<Vec<RosterRow>, Vec<RosterError>> {
    if bytes.len() > MAX_BYTES {
        return Err(vec![RosterError::new(
            0,
            format!(
                "the file has {} bytes; at most {MAX_BYTES} (1 MiB) are accepted",
                bytes.len()
            ),
        )]);
    }
    let text = decode(bytes);
    let (text, first_line, forced) = excel_sep_line(&text);
    let separator = forced.unwrap_or_else(|| detect_separator(text));
    let records = split_records(text, separator, first_line).map_err(|e| vec![e])?;
    let mut records = records.into_iter().filter(|r| !r.is_blank());

    let Some(header) = records.next() else {
        return Err(vec![RosterError::new(0, "the file is empty")]);
    };
    let columns = Columns::from_header(&header).map_err(|e| vec![e])?;

    let data: Vec<Record> = records.collect();
    if data.len() > MAX_ROWS {
        return Err(vec![RosterError::new(
            0,
            format!(
                "the file has {} rows; at most {MAX_ROWS} are accepted",
                data.len()
            ),
        )]);
    }

    let mut rows = Vec::with_capacity(data.len());
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for record in &data {
        match columns.row(record, header.fields.len()) {
            Ok(row) => match seen.get(&row.email.key()) {
                Some(first) => errors.push(RosterError::new(
                    row.line,
                    format!(
                        "duplicate e-mail address {}, already on line {first}",
                        row.email
                    ),
                )),
                None => {
                    seen.insert(row.email.key(), row.line);
                    rows.push(row);
                }
            },
            Err(mut row_errors) => errors.append(&mut row_errors),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// Bytes to text: UTF-16 with BOM, UTF-8 (BOM dropped), else Windows-1252.
fn decode(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, u16::from_be_bytes);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|&b| cp1252(b)).collect(),
    }
}

/// UTF-16 code units to text; broken surrogates become U+FFFD.
fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|pair| match *pair {
            [a, b] => unit([a, b]),
            _ => 0xFFFD,
        })
        .collect();
    String::from_utf16_lossy(&units)
}

/// One Windows-1252 byte as a character. 0x80–0x9F follow the code page
/// (the five unassigned bytes map to the C1 control of the same number, as
/// Windows does); everything else is Latin-1.
fn cp1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}',
        '\u{017D}', '\u{008F}', '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}',
        '\u{2022}', '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}',
        '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
    ];
    match b {
        0x80..=0x9F => HIGH
            .get(usize::from(b - 0x80))
            .copied()
            .unwrap_or('\u{FFFD}'),
        _ => char::from(b),
    }
}

/// Drops an Excel `sep=X` first line; returns the rest, the line number the
/// rest starts on, and the separator it names.
fn excel_sep_line(text: &str) -> (&str, usize, Option<char>) {
    let (first, rest) = match text.find('\n') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    };
    let first = first.trim_end_matches('\r');
    let mut chars = first.chars();
    let sep = first
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("sep="))
        .and_then(|_| {
            chars
                .nth(4)
                .filter(|c| [';', ',', '\t'].contains(c) && first.len() == 4 + c.len_utf8())
        });
    match sep {
        Some(c) => (rest, 2, Some(c)),
        None => (text, 1, None),
    }
}

/// The separator used most often, outside quotes, in the first line with
/// any text besides separators and blanks (the header); ties prefer `;`,
/// then tab, then `,`.
fn detect_separator(text: &str) -> char {
    const CANDIDATES: [char; 3] = [';', '\t', ','];
    let mut counts = [0usize; 3];
    let mut has_text = false;
    let mut in_quotes = false;
    for c in text.chars() {
        if c == '"' {
            in_quotes = !in_quotes;
            has_text = true;
        } else if in_quotes {
            has_text = true;
        } else if c == '\r' || c == '\n' {
            if has_text {
                break;
            }
            counts = [0; 3];
        } else if let Some(i) = CANDIDATES.iter().position(|s| *s == c) {
            if let Some(n) = counts.get_mut(i) {
                *n += 1;
            }
        } else if !c.is_whitespace() {
            has_text = true;
        }
    }
    let mut best = (';', 0);
    for (sep, n) in CANDIDATES.into_iter().zip(counts) {
        if n > best.1 {
            best = (sep, n);
        }
    }
    best.0
}

/// One CSV record and the line it starts on.
struct Record {
    line: usize,
    fields: Vec<String>,
}

impl Record {
    /// Whether every field is empty after trimming (Excel writes `;;;`).
    fn is_blank(&self) -> bool {
        self.fields.iter().all(|f| f.trim().is_empty())
    }

    /// The trimmed field at `i`, empty when the record is short.
    fn field(&self, i: usize) -> &str {
        self.fields.get(i).map_or("", |f| f.trim())
    }
}

/// Splits RFC 4180 text into records. Line ends are CRLF, LF or CR; inside
/// quotes they are kept as written. A quote opens a quoted field only at the
/// start of a field (after optional blanks); elsewhere it is literal, as is
/// text after a closing quote. An unterminated quote is an error.
fn split_records(text: &str, sep: char, first_line: usize) -> Result<Vec<Record>, RosterError> {
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut line = first_line;
    let mut record_line = first_line;
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => {
                    if c == '\n' || (c == '\r' && chars.peek() != Some(&'\n')) {
                        line += 1;
                    }
                    field.push(c);
                }
            }
            continue;
        }
        match c {
            '"' if !was_quoted && field.trim().is_empty() => {
                field.clear();
                quoted = true;
                was_quoted = true;
            }
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                fields.push(std::mem::take(&mut field));
                records.push(Record {
                    line: record_line,
                    fields: std::mem::take(&mut fields),
                });
                was_quoted = false;
                line += 1;
                record_line = line;
            }
            _ if c == sep => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(RosterError::new(
            record_line,
            "a quoted field is not closed (missing \")",
        ));
    }
    if !field.is_empty() || !fields.is_empty() || was_quoted {
        fields.push(field);
        records.push(Record {
            line: record_line,
            fields,
        });
    }
    Ok(records)
}

/// Where each known column is in the header.
struct Columns {
    municipality: usize,
    name: usize,
    email: usize,
    role: Option<usize>,
}

/// The known columns: their English name and accepted header spellings.
const KNOWN: [(&str, &[&str]); 4] = [
    ("municipality", &["kommune", "municipality"]),
    ("name", &["name"]),
    ("email", &["email", "e-mail", "mail"]),
    ("role", &["rolle", "role"]),
];

impl Columns {
    /// Finds the columns by name; refuses missing or repeated ones.
    fn from_header(header: &Record) -> Result<Columns, RosterError> {
        let mut found: [Option<usize>; 4] = [None; 4];
        for (i, raw) in header.fields.iter().enumerate() {
            let name = raw.trim().trim_start_matches('\u{FEFF}').to_lowercase();
            let Some(k) = KNOWN
                .iter()
                .position(|(_, spellings)| spellings.contains(&name.as_str()))
            else {
                continue;
            };
            let Some(slot) = found.get_mut(k) else {
                continue;
            };
            if slot.is_some() {
                return Err(RosterError::new(
                    header.line,
                    format!("the column {:?} appears twice in the header", raw.trim()),
                ));
            }
            *slot = Some(i);
        }
        let [municipality, name, email, role] = found;
        let missing: Vec<&str> = [municipality, name, email]
            .iter()
            .zip(KNOWN.iter())
            .filter(|(slot, _)| slot.is_none())
            .map(|(_, (english, _))| *english)
            .collect();
        match (municipality, name, email) {
            (Some(municipality), Some(name), Some(email)) => Ok(Columns {
                municipality,
                name,
                email,
                role,
            }),
            _ => Err(RosterError::new(
                header.line,
                format!(
                    "the header lacks the column(s) {}; expected Kommune/Municipality, Name, E-Mail and optionally Rolle/Role",
                    missing.join(", ")
                ),
            )),
        }
    }

    /// Validates one data record against the header of `width` columns.
    fn row(&self, record: &Record, width: usize) -> Result<RosterRow, Vec<RosterError>> {
        let line = record.line;
        let mut errors = Vec::new();
        let extra = record
            .fields
            .iter()
            .skip(width)
            .filter(|f| !f.trim().is_empty())
            .count();
        if extra > 0 {
            errors.push(RosterError::new(
                line,
                format!(
                    "{} fields but the header has {width} columns (a separator inside an unquoted value?)",
                    width + extra
                ),
            ));
        }
        let municipality = header_text(record.field(self.municipality), "municipality")
            .map_err(|e| errors.push(RosterError::new(line, e)));
        let name = header_text(record.field(self.name), "name")
            .map_err(|e| errors.push(RosterError::new(line, e)));
        let raw_email = record.field(self.email);
        let email = if raw_email.is_empty() {
            errors.push(RosterError::new(line, "the e-mail address is empty"));
            None
        } else {
            EmailAddress::parse(raw_email)
                .map_err(|_| {
                    errors.push(RosterError::new(
                        line,
                        format!("not a valid e-mail address: {:?}", shorten(raw_email)),
                    ));
                })
                .ok()
        };
        let raw_role = self.role.map_or("", |i| record.field(i));
        let role = Role::parse(raw_role);
        if role.is_none() {
            errors.push(RosterError::new(
                line,
                format!(
                    "unknown role {:?}; write Teilnehmende or Vorgesetzte (or leave it empty)",
                    shorten(raw_role)
                ),
            ));
        }
        match (municipality, name, email, role) {
            (Ok(municipality), Ok(name), Some(email), Some(role)) if errors.is_empty() => {
                Ok(RosterRow {
                    line,
                    municipality,
                    name,
                    email,
                    role,
                })
            }
            _ => Err(errors),
        }
    }
}

/// A required text that goes into mail headers: not empty, no control
/// characters (CR, LF, tab, NUL …), at most [`MAX_TEXT_CHARS`].
fn header_text(value: &str, what: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!(
            "the {what} {:?} contains a line break or control character",
            shorten(value)
        ));
    }
    let count = value.chars().count();
    if count > MAX_TEXT_CHARS {
        return Err(format!(
            "the {what} has {count} characters; at most {MAX_TEXT_CHARS} are accepted"
        ));
    }
    HeaderText::parse(value)
        .map(|t| t.as_str().to_owned())
        .map_err(|e| format!("the {what} is not safe for a mail header: {e}"))
}

/// At most 60 characters of `value`, for messages.
fn shorten(value: &str) -> String {
    value.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<RosterRow> {
        match parse(text.as_bytes()) {
            Ok(rows) => rows,
            Err(e) => panic!("refused: {e:?}"),
        }
    }

    fn errors(bytes: &[u8]) -> Vec<RosterError> {
        match parse(bytes) {
            Ok(rows) => panic!("accepted: {rows:?}"),
            Err(e) => e,
        }
    }

    fn lines_of(errors: &[RosterError]) -> Vec<usize> {
        errors.iter().map(|e| e.line).collect()
    }

    #[test]
    fn german_excel_semicolons() {
        let rows = ok("Kommune;Name;E-Mail;Rolle\r\n\
             Stadt Musterhausen;Erika Mustermann;Erika@Musterhausen.DE;Teilnehmende\r\n\
             Gemeinde Beispiel;Max Müller;max@beispiel.de;Vorgesetzter\r\n");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].municipality, "Stadt Musterhausen");
        assert_eq!(rows[0].name, "Erika Mustermann");
        assert_eq!(rows[0].email.as_str(), "Erika@musterhausen.de");
        assert_eq!(rows[0].role, Role::Participant);
        assert_eq!(rows[1].name, "Max Müller");
        assert_eq!(rows[1].role, Role::Supervisor);
    }

    #[test]
    fn english_header_in_any_order_and_case_with_commas() {
        let rows = ok("EMAIL,Role,NAME,Municipality,Notes\n\
             a@b.de,supervisor,Ann,Town,whatever\n\
             c@d.de,,Carl,Village,\n");
        assert_eq!(rows[0].name, "Ann");
        assert_eq!(rows[0].municipality, "Town");
        assert_eq!(rows[0].role, Role::Supervisor);
        assert_eq!(rows[1].email.as_str(), "c@d.de");
        assert_eq!(rows[1].role, Role::Participant);
    }

    #[test]
    fn role_column_is_optional_and_spellings_are_accepted() {
        let rows = ok("Name;Mail;Kommune\nA;a@b.de;K\n");
        assert_eq!(rows[0].role, Role::Participant);
        for (word, role) in [
            ("Teilnehmende", Role::Participant),
            ("TEILNEHMER", Role::Participant),
            ("participant", Role::Participant),
            ("Vorgesetzte", Role::Supervisor),
            ("vorgesetzter", Role::Supervisor),
            ("Supervisor", Role::Supervisor),
        ] {
            let rows = ok(&format!("Name;E-Mail;Kommune;Rolle\nA;a@b.de;K; {word} \n"));
            assert_eq!(rows[0].role, role, "{word}");
        }
        let e = errors(b"Name;E-Mail;Kommune;Rolle\nA;a@b.de;K;Chef\n");
        assert_eq!(lines_of(&e), [2]);
        assert!(e[0].reason.contains("unknown role"), "{e:?}");
    }

    #[test]
    fn tab_separated() {
        let rows = ok("Kommune\tName\tE-Mail\nK\tA, B\ta@b.de\n");
        assert_eq!(rows[0].name, "A, B");
    }

    #[test]
    fn separator_is_detected_from_the_header_only() {
        // The header has semicolons; commas in the data are just text.
        let rows = ok("Kommune;Name;E-Mail\nK;Müller, Hans;h@x.de\n");
        assert_eq!(rows[0].name, "Müller, Hans");
    }

    #[test]
    fn excel_sep_line_is_honoured() {
        let rows = ok("sep=,\nKommune,Name,E-Mail\nK;1,A;B,a@b.de\n");
        assert_eq!(rows[0].municipality, "K;1");
        assert_eq!(rows[0].line, 3);
    }

    #[test]
    fn rfc4180_quoting() {
        let rows = ok("Kommune,Name,E-Mail\n\
             \"Stadt, Land\",\"Der \"\"Chef\"\"\",a@b.de\n\
             \"Dorf\" , \"X\",c@d.de\n");
        assert_eq!(rows[0].municipality, "Stadt, Land");
        assert_eq!(rows[0].name, "Der \"Chef\"");
        assert_eq!(rows[1].municipality, "Dorf");
        assert_eq!(rows[1].name, "X");
        assert_eq!(rows[1].line, 3);
    }

    #[test]
    fn newline_inside_quotes_is_parsed_but_refused_in_names() {
        let text = "Kommune;Name;E-Mail;Notiz\n\
             K;A;a@b.de;\"eins\nzwei\"\n\
             K;\"Erika\r\nBcc: x@y.de\";e@b.de;\n\
             K;C;c@b.de;\n";
        let e = errors(text.as_bytes());
        // The note may hold a line break; the name may not. Line numbers
        // count physical lines, so the third record starts on line 4.
        assert_eq!(lines_of(&e), [4]);
        assert!(e[0].reason.contains("line break"), "{e:?}");
        let rows = ok("Kommune;Name;E-Mail;Notiz\nK;A;a@b.de;\"eins\nzwei\"\nK;C;c@b.de;\n");
        assert_eq!(rows[1].line, 4);
    }

    #[test]
    fn control_characters_are_refused() {
        for bad in ["A\tB", "A\u{0}B", "A\u{7}B", "A\u{85}B"] {
            let text = format!("Kommune,Name,E-Mail\nK,\"{bad}\",a@b.de\n");
            let e = errors(text.as_bytes());
            assert_eq!(lines_of(&e), [2], "{bad:?}");
        }
        let e = errors(b"Kommune,Name,E-Mail\n\"K\rX\",A,a@b.de\n");
        assert!(e[0].reason.contains("municipality"), "{e:?}");
    }

    #[test]
    fn utf8_bom_is_dropped() {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice("Kommune;Name;E-Mail\nKöln;Jürgen Weiß;j@koeln.de\n".as_bytes());
        let rows = parse(&bytes).expect("BOM accepted");
        assert_eq!(rows[0].municipality, "Köln");
        assert_eq!(rows[0].name, "Jürgen Weiß");
    }

    #[test]
    fn windows_1252_is_decoded() {
        // "Jürgen Weiß – Öffentlich" in cp1252, with the en dash at 0x96.
        let mut bytes =
            b"Kommune;Name;E-Mail\nK\xF6ln;J\xFCrgen Wei\xDF \x96 \xD6ffentlich \x80;j@k.de\n"
                .to_vec();
        let rows = parse(&bytes).expect("cp1252 accepted");
        assert_eq!(rows[0].municipality, "Köln");
        assert_eq!(rows[0].name, "Jürgen Weiß – Öffentlich €");
        // An unassigned byte decodes to a control character and is refused.
        bytes = b"Kommune;Name;E-Mail\nK\x81;A;a@b.de\n".to_vec();
        assert_eq!(lines_of(&errors(&bytes)), [2]);
        assert_eq!(cp1252(0x9F), 'Ÿ');
        assert_eq!(cp1252(0xE4), 'ä');
        assert_eq!(cp1252(b'a'), 'a');
    }

    #[test]
    fn utf16_with_bom_is_decoded() {
        let text = "Kommune\tName\tE-Mail\r\nKöln\tÄnne\ta@b.de\r\n";
        let mut bytes = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let rows = parse(&bytes).expect("UTF-16 accepted");
        assert_eq!(rows[0].name, "Änne");
    }

    #[test]
    fn fields_are_trimmed_and_blank_lines_skipped() {
        let rows = ok("\n  Kommune ; Name ;E-Mail\n\n ;;\n  K  ;  A  ;  a@b.de  \n;;;\n\n");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].municipality, "K");
        assert_eq!(rows[0].name, "A");
        assert_eq!(rows[0].line, 5);
    }

    #[test]
    fn header_is_required() {
        let e = errors(b"K;A;a@b.de\n");
        assert_eq!(lines_of(&e), [1]);
        assert!(e[0].reason.contains("municipality, name, email"), "{e:?}");
        let e = errors(b"Kommune;Name\nK;A\n");
        assert!(e[0].reason.contains("email"), "{e:?}");
        let e = errors(b"Name;Name;E-Mail;Kommune\n");
        assert!(e[0].reason.contains("twice"), "{e:?}");
        assert_eq!(lines_of(&errors(b"")), [0]);
        assert_eq!(lines_of(&errors(b"\r\n;;\n")), [0]);
    }

    #[test]
    fn header_only_is_an_empty_roster() {
        assert_eq!(ok("Kommune;Name;E-Mail\n"), []);
    }

    #[test]
    fn invalid_and_missing_fields_are_reported_with_line_numbers() {
        let e = errors(
            b"Kommune;Name;E-Mail\n\
              K;A;a@b.de\n\
              K;B;not-an-address\n\
              ;C;c@b.de\n\
              K;;\n\
              K;D\n",
        );
        assert_eq!(lines_of(&e), [3, 4, 5, 5, 6]);
        assert!(e[0].reason.contains("not a valid e-mail"), "{e:?}");
        assert!(e[1].reason.contains("municipality is empty"), "{e:?}");
        assert!(e[2].reason.contains("name is empty"), "{e:?}");
        assert!(e[3].reason.contains("e-mail address is empty"), "{e:?}");
        assert!(e[4].reason.contains("e-mail address is empty"), "{e:?}");
    }

    #[test]
    fn too_many_fields_are_refused() {
        let e = errors(b"Kommune,Name,E-Mail\nK,M\xC3\xBCller, Hans,h@x.de\n");
        assert!(e.iter().any(|e| e.reason.contains("4 fields")), "{e:?}");
    }

    #[test]
    fn duplicate_addresses_are_refused_case_insensitively() {
        let e = errors(b"Kommune;Name;E-Mail\nK;A;Anna@B.de\nK;B;x@b.de\nK;C;anna@b.DE\n");
        assert_eq!(lines_of(&e), [4]);
        assert!(e[0].reason.contains("already on line 2"), "{e:?}");
    }

    #[test]
    fn unterminated_quote_is_refused() {
        let e = errors(b"Kommune;Name;E-Mail\nK;\"A;a@b.de\n");
        assert_eq!(lines_of(&e), [2]);
        assert!(e[0].reason.contains("not closed"), "{e:?}");
    }

    #[test]
    fn size_limits() {
        let mut text = String::from("Kommune;Name;E-Mail\n");
        for i in 0..MAX_ROWS {
            text.push_str(&format!("K;N{i};p{i}@b.de\n"));
        }
        assert_eq!(ok(&text).len(), MAX_ROWS);
        text.push_str("K;Last;last@b.de\n");
        let e = errors(text.as_bytes());
        assert_eq!(lines_of(&e), [0]);
        assert!(e[0].reason.contains("1001 rows"), "{e:?}");

        let mut big = b"Kommune;Name;E-Mail\n".to_vec();
        big.resize(MAX_BYTES + 1, b' ');
        let e = errors(&big);
        assert_eq!(lines_of(&e), [0]);
        assert!(e[0].reason.contains("1 MiB"), "{e:?}");

        let long = "x".repeat(MAX_TEXT_CHARS + 1);
        let e = errors(format!("Kommune;Name;E-Mail\nK;{long};a@b.de\n").as_bytes());
        assert!(e[0].reason.contains("characters"), "{e:?}");
    }

    #[test]
    fn every_error_is_listed() {
        let e = errors(b"Kommune;Name;E-Mail\nK;A;bad\nK;B;worse\nK;C;c@b.de\nK;D;c@b.de\n");
        assert_eq!(lines_of(&e), [2, 3, 5]);
        assert_eq!(
            e[0].to_string(),
            "line 2: not a valid e-mail address: \"bad\""
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut next = crate::test_noise::xorshift(0x1234_5678_9ABC_DEF0);
        let alphabet = b";,\t\"\r\n aA@.\xC3\xA4\xFF\xFE\xEF\xBB\xBF\x00\x81";
        for round in 0..2000 {
            let len = (next() % 200) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    if round % 2 == 0 {
                        next() as u8
                    } else {
                        alphabet[(next() % alphabet.len() as u64) as usize]
                    }
                })
                .collect();
            let _ = parse(&bytes);
            let mut with_header = b"Kommune;Name;E-Mail;Rolle\n".to_vec();
            with_header.extend_from_slice(&bytes);
            let _ = parse(&with_header);
        }
        for odd in [
            &b"\xFF\xFE"[..],
            b"\xFF\xFEK\x00",
            b"\xFE\xFF\xD8\x00",
            b"\"",
            b"sep=",
            b"sep=;",
            b"sep=\xC3\xA4\n",
            b"\xEF\xBB\xBF",
        ] {
            let _ = parse(odd);
        }
    }
}
