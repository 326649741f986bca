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
//! * RFC 4180 quoting (read by the `csv` crate): quoted fields may hold
//!   separators, doubled quotes and line breaks; blanks before an opening
//!   quote are tolerated;
//! * UTF-8 with or without BOM, UTF-16 LE or BE with BOM (Excel's "Unicode
//!   text"), and otherwise Windows-1252 (older Excel's "CSV"), decoded by
//!   `encoding_rs`.
//!
//! Fields are trimmed; lines with only empty fields are skipped. Names and
//! municipalities end up in mail headers, so line breaks and other control
//! characters in them are refused. Either every row is valid or every error
//! is listed, with the line number where its record starts (line 0: the file
//! as a whole).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

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

/// Why a line (or the file, line 0) was refused: in English for the CLI
/// ([`fmt::Display`]), in German for the staff mail ([`RosterError::german`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterError {
    /// The line (1-based) where the record starts, or 0 for the whole file.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
    /// The same in German.
    pub grund: String,
}

impl RosterError {
    fn new(line: usize, reason: impl Into<String>, grund: impl Into<String>) -> RosterError {
        RosterError {
            line,
            reason: reason.into(),
            grund: grund.into(),
        }
    }

    /// "Zeile 3: …" / "Datei: …", for the reply to `TEILNEHMER IMPORT`.
    pub fn german(&self) -> String {
        if self.line == 0 {
            format!("Datei: {}", self.grund)
        } else {
            format!("Zeile {}: {}", self.line, self.grund)
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
            format!(
                "Die Datei hat {} Bytes; höchstens {MAX_BYTES} (1 MiB) sind möglich.",
                bytes.len()
            ),
        )]);
    }
    let text = decode(bytes);
    let (separator, text, first_line) = match excel_sep_line(&text) {
        Some((separator, rest)) => (separator, rest, 2),
        None => (detect_separator(&text), &*text, 1),
    };
    let records = read_records(text, separator, first_line).map_err(|e| vec![e])?;
    let mut records = records.into_iter().filter(|r| !r.is_blank());

    let Some(header) = records.next() else {
        return Err(vec![RosterError::new(
            0,
            "the file is empty",
            "Die Datei ist leer.",
        )]);
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
            format!(
                "Die Datei hat {} Zeilen; höchstens {MAX_ROWS} sind möglich.",
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
                    format!(
                        "Die E-Mail-Adresse {} steht schon in Zeile {first}.",
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

/// Bytes to text: a BOM decides (UTF-8, UTF-16 LE or BE, and is dropped);
/// without one, UTF-8 if the bytes are valid UTF-8, else Windows-1252 (its
/// five unassigned bytes become the C1 controls of the same number).
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    let (encoding, bom) = Encoding::for_bom(bytes).unwrap_or((UTF_8, 0));
    let rest = bytes.get(bom..).unwrap_or_default();
    if encoding == UTF_8 {
        UTF_8
            .decode_without_bom_handling_and_without_replacement(rest)
            .unwrap_or_else(|| WINDOWS_1252.decode_without_bom_handling(rest).0)
    } else {
        encoding.decode_without_bom_handling(rest).0
    }
}

/// An Excel `sep=X` first line: the separator it names and the text after it.
fn excel_sep_line(text: &str) -> Option<(u8, &str)> {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let first = first.trim_end_matches('\r');
    let separator = match first.get(4..)? {
        ";" => b';',
        "," => b',',
        "\t" => b'\t',
        _ => return None,
    };
    first
        .get(..4)?
        .eq_ignore_ascii_case("sep=")
        .then_some((separator, rest))
}

/// The separator that splits the header (the first record with any text
/// besides separators and blanks) into the most fields; ties prefer `;`,
/// then tab, then `,`.
fn detect_separator(text: &str) -> u8 {
    const CANDIDATES: [u8; 3] = [b';', b'\t', b','];
    let is_filler =
        |c: char| c.is_whitespace() || u8::try_from(c).is_ok_and(|b| CANDIDATES.contains(&b));
    let header_width = |separator| {
        reader(text.as_bytes(), separator)
            .into_records()
            .map_while(Result::ok)
            .find(|r| r.iter().any(|f| !f.trim_matches(is_filler).is_empty()))
            .map_or(0, |r| r.len())
    };
    let mut best = (b';', 0);
    for separator in CANDIDATES {
        let width = header_width(separator);
        if width > best.1 {
            best = (separator, width);
        }
    }
    best.0
}

/// An RFC 4180 reader: no header handling, rows of any width. Line ends are
/// CRLF, LF or CR; inside quotes they are kept as written. A quote opens a
/// quoted field only at the start of a field; elsewhere it is literal, as is
/// text after a closing quote.
fn reader<R: std::io::Read>(input: R, separator: u8) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(separator)
        .from_reader(input)
}

/// Every record of `text` with the line (counting from `first_line`) it
/// starts on. The csv crate reads an open quote to the end of the input
/// without complaint, so a line holding a lone quote is appended: it starts
/// a record of its own past the text, unless it closes a quote the text left
/// open, which is refused.
fn read_records(text: &str, separator: u8, first_line: usize) -> Result<Vec<Record>, RosterError> {
    let input = format!("{text}\n\"");
    let mut records = Vec::new();
    let (mut line, mut counted) = (first_line, 0);
    for record in reader(input.as_bytes(), separator).into_records() {
        let record = record.map_err(|e| {
            RosterError::new(
                0,
                format!("the file is not readable CSV: {e}"),
                format!("Die Datei ist keine lesbare CSV-Datei ({e})."),
            )
        })?;
        // The position is where the previous record ended, before any
        // blank lines the reader skipped.
        let Some(after) = record
            .position()
            .and_then(|p| usize::try_from(p.byte()).ok())
            .and_then(|byte| input.get(byte..))
        else {
            return Err(RosterError::new(
                line,
                "the CSV reader lost its place here",
                "Hier konnte die Datei nicht weitergelesen werden.",
            ));
        };
        let start = input.len() - after.trim_start_matches(['\r', '\n']).len();
        if start >= text.len() {
            return Ok(records);
        }
        line += line_breaks(input.get(counted..start).unwrap_or_default());
        counted = start;
        records.push(Record {
            line,
            fields: record.iter().map(unquote_after_blanks).collect(),
        });
    }
    Err(RosterError::new(
        line,
        "a quoted field is not closed (missing \")",
        "Ein Feld in Anführungszeichen wird nicht geschlossen (es fehlt ein \").",
    ))
}

/// How many line ends (CRLF, LF or a lone CR) `text` holds.
fn line_breaks(text: &str) -> usize {
    text.matches('\n').count() + text.matches('\r').count() - text.matches("\r\n").count()
}

/// Hand-edited files put blanks before an opening quote (`; "X"`), which
/// RFC 4180 reads as literal text; such a field is unquoted here. (A
/// separator inside it has split it already.)
fn unquote_after_blanks(field: &str) -> String {
    let trimmed = field.trim();
    match trimmed.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if field.starts_with(char::is_whitespace) => inner.replace("\"\"", "\""),
        _ => field.to_owned(),
    }
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
                    format!(
                        "Die Spalte „{}“ steht zweimal in der Kopfzeile.",
                        raw.trim()
                    ),
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
        let missing_de: Vec<&str> = missing
            .iter()
            .map(|m| match *m {
                "municipality" => "Kommune",
                "name" => "Name",
                _ => "E-Mail",
            })
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
                format!(
                    "In der Kopfzeile fehlt: {}. Erwartet werden die Spalten Kommune, Name, E-Mail und auf Wunsch Rolle.",
                    missing_de.join(", ")
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
                format!(
                    "{} Felder, die Kopfzeile hat aber {width} Spalten (ein Trennzeichen in einem Wert ohne Anführungszeichen?).",
                    width + extra
                ),
            ));
        }
        let municipality =
            header_text(record.field(self.municipality), ("municipality", "Kommune"))
                .map_err(|(en, de)| errors.push(RosterError::new(line, en, de)));
        let name = header_text(record.field(self.name), ("name", "Name"))
            .map_err(|(en, de)| errors.push(RosterError::new(line, en, de)));
        let raw_email = record.field(self.email);
        let email = if raw_email.is_empty() {
            errors.push(RosterError::new(
                line,
                "the e-mail address is empty",
                "Die E-Mail-Adresse fehlt.",
            ));
            None
        } else {
            EmailAddress::parse(raw_email)
                .map_err(|_| {
                    errors.push(RosterError::new(
                        line,
                        format!("not a valid e-mail address: {:?}", shorten(raw_email)),
                        format!("Keine gültige E-Mail-Adresse: „{}“", shorten(raw_email)),
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
                format!(
                    "Unbekannte Rolle „{}“; bitte Teilnehmende oder Vorgesetzte eintragen (oder leer lassen).",
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
/// A name or municipality, checked; Err: why not, in English and German.
/// `what` names the field in both.
fn header_text(value: &str, what: (&str, &str)) -> Result<String, (String, String)> {
    let (en, de) = what;
    if value.is_empty() {
        return Err((format!("the {en} is empty"), format!("{de} fehlt.")));
    }
    if value.chars().any(char::is_control) {
        return Err((
            format!(
                "the {en} {:?} contains a line break or control character",
                shorten(value)
            ),
            format!(
                "{de} „{}“ enthält einen Zeilenumbruch oder ein Steuerzeichen.",
                shorten(value)
            ),
        ));
    }
    let count = value.chars().count();
    if count > MAX_TEXT_CHARS {
        return Err((
            format!("the {en} has {count} characters; at most {MAX_TEXT_CHARS} are accepted"),
            format!("{de} hat {count} Zeichen; höchstens {MAX_TEXT_CHARS} sind möglich."),
        ));
    }
    HeaderText::parse(value)
        .map(|t| t.as_str().to_owned())
        .map_err(|e| {
            (
                format!("the {en} is not safe for a mail header: {e}"),
                format!("{de} ist als Angabe in einer E-Mail nicht zulässig."),
            )
        })
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
        assert_eq!(decode(b"\x9F\xE4a"), "Ÿäa");
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

    fn utf16(text: &str, unit: fn(u16) -> [u8; 2], bom: [u8; 2]) -> Vec<u8> {
        let mut bytes = bom.to_vec();
        for u in text.encode_utf16() {
            bytes.extend_from_slice(&unit(u));
        }
        bytes
    }

    #[test]
    fn utf16_le_file_as_excel_writes_unicode_text() {
        // Excel's "Unicode text": UTF-16 LE with BOM, tabs, CRLF, quotes
        // around fields that hold a tab or a line break.
        let text = "Kommune\tName\tE-Mail\tNotiz\r\n\
             Köln\tJürgen Weiß\tj@koeln.de\t\"Raum 3\r\nab 9 €\"\r\n\
             Oberdorf\tÄnne Öz\tÄ@b.de\t\"Tab\there\"\r\n\
             Bonn\tX\tnot-an-address\t\r\n";
        let bytes = utf16(text, u16::to_le_bytes, [0xFF, 0xFE]);
        let e = errors(&bytes);
        assert_eq!(lines_of(&e), [5], "{e:?}");
        let fixed = text.replace("not-an-address", "x@bonn.de");
        let rows = parse(&utf16(&fixed, u16::to_le_bytes, [0xFF, 0xFE])).expect("UTF-16 LE");
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].line, rows[1].line, rows[2].line), (2, 4, 5));
        assert_eq!(rows[0].municipality, "Köln");
        assert_eq!(rows[0].name, "Jürgen Weiß");
        assert_eq!(rows[1].municipality, "Oberdorf");
        assert_eq!(rows[1].name, "Änne Öz");
        // The same file big-endian.
        let rows = parse(&utf16(&fixed, u16::to_be_bytes, [0xFE, 0xFF])).expect("UTF-16 BE");
        assert_eq!(rows[1].name, "Änne Öz");
    }

    #[test]
    fn utf8_bom_file_as_excel_writes_it() {
        // Excel's "CSV UTF-8": BOM, `;`, CRLF; here with its `sep=` line.
        for sep_line in ["", "sep=;\r\n"] {
            let text = format!(
                "\u{FEFF}{sep_line}Kommune;Name;E-Mail;Rolle\r\n\
                 \"Stadt; Land\";Zoë Ärger;z@b.de;Vorgesetzte\r\n\
                 Köln;€uro Müller;e@b.de;\r\n"
            );
            let rows = parse(text.as_bytes()).expect("UTF-8 with BOM");
            let first = if sep_line.is_empty() { 2 } else { 3 };
            assert_eq!(rows[0].line, first);
            assert_eq!(rows[0].municipality, "Stadt; Land");
            assert_eq!(rows[0].name, "Zoë Ärger");
            assert_eq!(rows[0].role, Role::Supervisor);
            assert_eq!(rows[1].municipality, "Köln");
            assert_eq!(rows[1].name, "€uro Müller");
        }
    }

    #[test]
    fn windows_1252_file_as_excel_writes_it() {
        // Older Excel's "CSV (Trennzeichen-getrennt)": cp1252, `;`, CRLF.
        let bytes = b"Kommune;Name;E-Mail;Notiz\r\n\
            M\xFCnchen;J\xFCrgen Stra\xDFer;j@m.de;\"Kosten: 5 \x80; bar\r\nbezahlt\"\r\n\
            \xC4rzte-Stadt;\xD6zlem \xC4\xFC\xF6;o@m.de;\r\n\
            K;A;kaputt\r\n";
        let e = errors(bytes);
        assert_eq!(lines_of(&e), [5], "{e:?}");
        assert_eq!(e[0].reason, "not a valid e-mail address: \"kaputt\"");
        let rows = parse(&bytes[..bytes.len() - b"K;A;kaputt\r\n".len()]).expect("cp1252");
        assert_eq!(rows[0].municipality, "München");
        assert_eq!(rows[0].name, "Jürgen Straßer");
        assert_eq!(rows[1].line, 4);
        assert_eq!(rows[1].municipality, "Ärzte-Stadt");
        assert_eq!(rows[1].name, "Özlem Äüö");
        assert_eq!(decode(b"5 \x80 f\xFCr \x84Caf\xE9\x93"), "5 € für „Café“");
    }

    #[test]
    fn quoted_fields_hold_the_separator_and_line_breaks() {
        // `|` stands for the separator; a tab is refused in names, so the
        // note holds it (with line breaks of every kind).
        for sep in [";", ",", "\t"] {
            let text = "Kommune|Name|E-Mail|Notiz\n\
                 \"A;B,C\"|\"C ,; \"\"D\"\"\"|a@b.de|\"x|\n\ny\r\nz\rw\"\n\
                 K|E|e@b.de|\"\"\n\
                 \"K\"|\"F\"|f@b.de|\"|\n\"\n"
                .replace('|', sep);
            let rows = match parse(text.as_bytes()) {
                Ok(rows) => rows,
                Err(e) => panic!("{sep:?}: {e:?}"),
            };
            assert_eq!(rows.len(), 3, "{sep:?}");
            assert_eq!(rows[0].municipality, "A;B,C");
            assert_eq!(rows[0].name, "C ,; \"D\"");
            // x, blank line, y (CRLF), z (CR): the next record is on line 7.
            assert_eq!(
                (rows[0].line, rows[1].line, rows[2].line),
                (2, 7, 8),
                "{sep:?}"
            );
            assert_eq!(rows[2].name, "F");
        }
    }

    #[test]
    fn the_end_of_the_file_closes_no_quote() {
        // No final line break after a closed quote or a plain field.
        let rows = ok("Kommune;Name;E-Mail\nK;\"A\";a@b.de\nK;B;\"b@b.de\"");
        assert_eq!(rows[1].email.as_str(), "b@b.de");
        assert_eq!(ok("Kommune;Name;E-Mail\nK;B;b@b.de").len(), 1);
        for open in [
            "Kommune;Name;E-Mail\nK;A;a@b.de\nK;B;b@b.de;\"",
            "Kommune;Name;E-Mail\nK;A;a@b.de\nK;B;\"b@b.de\n\n",
            "Kommune;Name;E-Mail\r\nK;A;a@b.de\r\nK;B;\"b@b.de\"\"\r\n",
        ] {
            let e = errors(open.as_bytes());
            assert_eq!(lines_of(&e), [3], "{open:?}");
            assert!(e[0].reason.contains("not closed"), "{e:?}");
        }
        assert_eq!(lines_of(&errors(b"\"Kommune;Name;E-Mail\n")), [1]);
    }

    #[test]
    fn old_mac_line_ends_count_as_lines() {
        let e = errors(b"Kommune;Name;E-Mail\rK;A;a@b.de\r\rK;B;bad\r");
        assert_eq!(lines_of(&e), [4]);
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
