//! TNEF (`winmail.dat`, `application/ms-tnef`): the real attachments inside.
//!
//! Exchange and Outlook sometimes wrap every attachment of a message in one
//! TNEF stream (MS-OXTNEF). This is a small, strict reader for it:
//!
//! * every length is checked against the bytes that are actually left, so a
//!   lying length field is an error, never a panic or a huge allocation;
//! * every attribute checksum is verified: a damaged container goes to a
//!   human instead of yielding half an attachment;
//! * nothing is copied before the whole stream has been read and the limits
//!   (`max_input_bytes`, `max_zip_entries` as the attachment count,
//!   `max_entry_bytes` per attachment, `max_total_bytes` in total) hold.
//!
//! An attachment is named, in this order, by `PR_ATTACH_LONG_FILENAME`, the
//! 8.3 title (`attAttachTitle`), `PR_ATTACH_FILENAME`, `PR_DISPLAY_NAME`, or
//! else `attachment-N` (N counts the attachments of the container from 1).
//! Names are for display only (control characters replaced) and must never
//! be used as a path. 8-bit strings are decoded as Windows-1252, Unicode
//! ones as UTF-16LE.
//!
//! Embedded messages (`ATTACH_EMBEDDED_MSG`) and OLE objects that carry no
//! `attAttachData` are not unwrapped and are left out of the result; links
//! (`ATTACH_BY_REFERENCE` and friends) are `Unsupported`; any other
//! attachment without data is `Malformed`.

use super::{ExtractError, Limits};

/// `0x223E9F78`, little-endian, at the start of every TNEF stream.
const SIGNATURE: [u8; 4] = [0x78, 0x9F, 0x3E, 0x22];

const LVL_MESSAGE: u8 = 0x01;
const LVL_ATTACHMENT: u8 = 0x02;

/// Message-level MAPI properties (`attMsgProps`).
const ATT_MAPI_PROPS: u32 = 0x0006_9003;
/// Starts a new attachment (`attAttachRendData`).
const ATT_ATTACH_REND_DATA: u32 = 0x0006_9002;
/// The 8.3 file name, zero-terminated, in the code page of the stream.
const ATT_ATTACH_TITLE: u32 = 0x0001_8010;
/// The attachment bytes.
const ATT_ATTACH_DATA: u32 = 0x0006_800F;
/// Attachment-level MAPI properties.
const ATT_ATTACHMENT: u32 = 0x0006_9005;

/// `attAttachRendData.AttachType` of an OLE object.
const REND_OLE: u16 = 0x0002;

const PR_DISPLAY_NAME: u16 = 0x3001;
const PR_ATTACH_DATA: u16 = 0x3701;
const PR_ATTACH_FILENAME: u16 = 0x3704;
const PR_ATTACH_METHOD: u16 = 0x3705;
const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;
const PR_ATTACH_MIME_TAG: u16 = 0x370E;

const ATTACH_BY_REFERENCE: u32 = 2;
const ATTACH_BY_REF_RESOLVE: u32 = 3;
const ATTACH_BY_REF_ONLY: u32 = 4;
const ATTACH_EMBEDDED_MSG: u32 = 5;
const ATTACH_OLE: u32 = 6;
const ATTACH_BY_WEB_REF: u32 = 7;

const PT_SHORT: u16 = 0x0002;
const PT_LONG: u16 = 0x0003;
const PT_FLOAT: u16 = 0x0004;
const PT_DOUBLE: u16 = 0x0005;
const PT_CURRENCY: u16 = 0x0006;
const PT_APPTIME: u16 = 0x0007;
const PT_ERROR: u16 = 0x000A;
const PT_BOOLEAN: u16 = 0x000B;
const PT_OBJECT: u16 = 0x000D;
const PT_I8: u16 = 0x0014;
const PT_STRING8: u16 = 0x001E;
const PT_UNICODE: u16 = 0x001F;
const PT_SYSTIME: u16 = 0x0040;
const PT_CLSID: u16 = 0x0048;
const PT_BINARY: u16 = 0x0102;
const MV_FLAG: u16 = 0x1000;

/// Property ids from here on are named properties (GUID + id or name follow).
const FIRST_NAMED_ID: u16 = 0x8000;

/// Display names are cut to this many characters.
const MAX_NAME_CHARS: usize = 255;

/// One attachment unwrapped from a TNEF container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TnefAttachment {
    /// Long file name if present, else the 8.3 title, else `attachment-N`.
    /// For display only (control characters replaced); never a path.
    pub name: String,
    /// `PR_ATTACH_MIME_TAG`, if the sender set one (untrusted, like the name).
    pub mime_type: Option<String>,
    /// The attachment bytes.
    pub data: Vec<u8>,
}

/// Does this start with the TNEF signature?
pub fn looks_like_tnef(bytes: &[u8]) -> bool {
    bytes.starts_with(&SIGNATURE)
}

/// The attachments of a TNEF stream, in stream order.
///
/// Errors: input, attachment count or data over the limits → `Limit`; a bad
/// signature, a checksum mismatch, a length running past the end, an unknown
/// attribute level, or an attachment without data → `Malformed`; a MAPI
/// property type this reader does not know, or a linked (by-reference)
/// attachment → `Unsupported`.
pub fn attachments(bytes: &[u8], limits: &Limits) -> Result<Vec<TnefAttachment>, ExtractError> {
    if bytes.len() as u64 > limits.max_input_bytes {
        return Err(ExtractError::Limit(format!(
            "TNEF container is larger than {} bytes",
            limits.max_input_bytes
        )));
    }
    let mut r = Reader::new(bytes);
    let signature = r.array::<4>("signature")?;
    if signature != SIGNATURE {
        return Err(malformed("bad signature, not a TNEF stream"));
    }
    let _legacy_key = r.u16("legacy key")?;

    let mut pending: Vec<Pending<'_>> = Vec::new();
    while r.remaining() > 0 {
        let level = r.u8("attribute level")?;
        let id = r.u32("attribute id")?;
        let len = r.len("attribute length")?;
        let data = r.take(len, "attribute data")?;
        let checksum = r.u16("attribute checksum")?;
        if checksum != checksum_of(data) {
            return Err(malformed(format!(
                "checksum mismatch in attribute 0x{id:08X}"
            )));
        }
        match level {
            LVL_MESSAGE => {
                if id == ATT_MAPI_PROPS {
                    // Not needed, but read through to be sure it is sound.
                    read_props(data, |_, _| {})?;
                }
            }
            LVL_ATTACHMENT => {
                if id == ATT_ATTACH_REND_DATA {
                    if pending.len() >= limits.max_zip_entries {
                        return Err(ExtractError::Limit(format!(
                            "TNEF container has more than {} attachments",
                            limits.max_zip_entries
                        )));
                    }
                    pending.push(Pending::new(data));
                    continue;
                }
                let Some(current) = pending.last_mut() else {
                    return Err(malformed(format!(
                        "attachment attribute 0x{id:08X} before attAttachRendData"
                    )));
                };
                current.apply(id, data)?;
            }
            other => {
                return Err(malformed(format!("unknown attribute level {other}")));
            }
        }
    }
    finish(pending, limits)
}

/// Checks the limits, picks names and copies the data out.
fn finish(pending: Vec<Pending<'_>>, limits: &Limits) -> Result<Vec<TnefAttachment>, ExtractError> {
    let mut out = Vec::new();
    let mut total: u64 = 0;
    for (index, p) in pending.into_iter().enumerate() {
        let number = index + 1;
        let Some(data) = p.data.or(p.props.data_bin) else {
            let method = p.props.method;
            let not_unwrapped = p.ole
                || p.props.data_object
                || matches!(method, Some(ATTACH_EMBEDDED_MSG | ATTACH_OLE));
            if not_unwrapped {
                continue;
            }
            if let Some(
                m @ (ATTACH_BY_REFERENCE
                | ATTACH_BY_REF_RESOLVE
                | ATTACH_BY_REF_ONLY
                | ATTACH_BY_WEB_REF),
            ) = method
            {
                return Err(ExtractError::Unsupported(format!(
                    "TNEF attachment {number} is a link, not a file (attach method {m})"
                )));
            }
            return Err(malformed(format!("attachment {number} has no data")));
        };
        let len = data.len() as u64;
        if len > limits.max_entry_bytes {
            return Err(ExtractError::Limit(format!(
                "TNEF attachment {number} is larger than {} bytes",
                limits.max_entry_bytes
            )));
        }
        total = total.saturating_add(len);
        if total > limits.max_total_bytes {
            return Err(ExtractError::Limit(format!(
                "TNEF attachments exceed {} bytes in total",
                limits.max_total_bytes
            )));
        }
        let name = p
            .props
            .long_name
            .or(p.title)
            .or(p.props.short_name)
            .or(p.props.display_name)
            .unwrap_or_else(|| format!("attachment-{number}"));
        out.push(TnefAttachment {
            name,
            mime_type: p.props.mime_type,
            data: data.to_vec(),
        });
    }
    Ok(out)
}

/// An attachment while the stream is read; data stays borrowed until the
/// limits have been checked.
struct Pending<'a> {
    /// `attAttachRendData` says this is an OLE object.
    ole: bool,
    title: Option<String>,
    data: Option<&'a [u8]>,
    props: AttachProps<'a>,
}

impl<'a> Pending<'a> {
    fn new(rend_data: &[u8]) -> Self {
        let attach_type = match rend_data {
            [a, b, ..] => u16::from_le_bytes([*a, *b]),
            _ => 0,
        };
        Pending {
            ole: attach_type == REND_OLE,
            title: None,
            data: None,
            props: AttachProps::default(),
        }
    }

    fn apply(&mut self, id: u32, data: &'a [u8]) -> Result<(), ExtractError> {
        match id {
            ATT_ATTACH_TITLE => self.title = clean_text(&decode_cp1252(data)),
            ATT_ATTACH_DATA => {
                if self.data.is_some() {
                    return Err(malformed("attachment has attAttachData twice"));
                }
                self.data = Some(data);
            }
            ATT_ATTACHMENT => {
                let props = &mut self.props;
                read_props(data, |id, value| props.set(id, value))?;
            }
            // Dates, metafile, transport name …: not needed.
            _ => {}
        }
        Ok(())
    }
}

/// What the attachment's MAPI properties say.
#[derive(Default)]
struct AttachProps<'a> {
    long_name: Option<String>,
    short_name: Option<String>,
    display_name: Option<String>,
    mime_type: Option<String>,
    method: Option<u32>,
    /// `PR_ATTACH_DATA_BIN`: the bytes, when `attAttachData` is missing.
    data_bin: Option<&'a [u8]>,
    /// `PR_ATTACH_DATA_OBJ`: an embedded message or OLE storage.
    data_object: bool,
}

impl<'a> AttachProps<'a> {
    fn set(&mut self, id: u16, value: Value<'a>) {
        match (id, value) {
            (PR_ATTACH_LONG_FILENAME, v) => set_text(&mut self.long_name, v),
            (PR_ATTACH_FILENAME, v) => set_text(&mut self.short_name, v),
            (PR_DISPLAY_NAME, v) => set_text(&mut self.display_name, v),
            (PR_ATTACH_MIME_TAG, v) => set_text(&mut self.mime_type, v),
            (PR_ATTACH_METHOD, Value::Long(m)) => self.method = Some(m),
            (PR_ATTACH_DATA, Value::Binary(b)) => self.data_bin = Some(b),
            (PR_ATTACH_DATA, Value::Object) => self.data_object = true,
            _ => {}
        }
    }
}

fn set_text(slot: &mut Option<String>, value: Value<'_>) {
    let text = match value {
        Value::String8(b) => decode_cp1252(b),
        Value::Unicode(b) => decode_utf16le(b),
        _ => return,
    };
    if let Some(t) = clean_text(&text) {
        *slot = Some(t);
    }
}

/// A single-valued property of an unnamed id, as far as this reader cares.
enum Value<'a> {
    String8(&'a [u8]),
    Unicode(&'a [u8]),
    Binary(&'a [u8]),
    Object,
    Long(u32),
    Other,
}

/// Walks a MAPI property block (count, then tag, [name], value(s) per
/// property), calling `found` for each single-valued unnamed property.
fn read_props<'a>(
    block: &'a [u8],
    mut found: impl FnMut(u16, Value<'a>),
) -> Result<(), ExtractError> {
    let mut r = Reader::new(block);
    let count = r.u32("property count")?;
    // Each property takes at least four bytes, so a lying count runs out of
    // input after a bounded number of rounds.
    for _ in 0..count {
        let ptype = r.u16("property type")?;
        let pid = r.u16("property id")?;
        if pid >= FIRST_NAMED_ID {
            r.take(16, "named property GUID")?;
            match r.u32("named property kind")? {
                0 => {
                    r.u32("named property id")?;
                }
                1 => {
                    let len = r.len("named property name length")?;
                    r.take(len, "named property name")?;
                    r.skip_padding(len, "named property name padding")?;
                }
                other => {
                    return Err(malformed(format!("unknown named property kind {other}")));
                }
            }
        }
        let multi = ptype & MV_FLAG != 0;
        let base = ptype & !MV_FLAG;
        let fixed = fixed_size(base);
        let variable =
            matches!(base, PT_STRING8 | PT_UNICODE | PT_BINARY) || (base == PT_OBJECT && !multi);
        if fixed.is_none() && !variable {
            return Err(ExtractError::Unsupported(format!(
                "TNEF MAPI property type 0x{ptype:04X}"
            )));
        }
        let values = if multi || variable {
            r.u32("value count")?
        } else {
            1
        };
        if variable && !multi && values != 1 {
            return Err(malformed(format!(
                "single-valued property 0x{pid:04X} has {values} values"
            )));
        }
        for _ in 0..values {
            let value = match fixed {
                Some(size) => {
                    let raw = r.take(size, "property value")?;
                    match (base, raw) {
                        (PT_LONG, [a, b, c, d]) => {
                            Value::Long(u32::from_le_bytes([*a, *b, *c, *d]))
                        }
                        _ => Value::Other,
                    }
                }
                None => {
                    let len = r.len("property value length")?;
                    let raw = r.take(len, "property value")?;
                    r.skip_padding(len, "property value padding")?;
                    match base {
                        PT_STRING8 => Value::String8(raw),
                        PT_UNICODE => Value::Unicode(raw),
                        PT_BINARY => Value::Binary(raw),
                        _ => {
                            // PT_OBJECT: the interface id is part of the length.
                            if raw.len() < 16 {
                                return Err(malformed("PT_OBJECT value shorter than its IID"));
                            }
                            Value::Object
                        }
                    }
                }
            };
            if !multi && pid < FIRST_NAMED_ID {
                found(pid, value);
            }
        }
    }
    Ok(())
}

/// Bytes one value of a fixed-size type takes in TNEF (2-byte values are
/// padded to four).
fn fixed_size(base: u16) -> Option<usize> {
    match base {
        PT_SHORT | PT_LONG | PT_FLOAT | PT_ERROR | PT_BOOLEAN => Some(4),
        PT_DOUBLE | PT_CURRENCY | PT_APPTIME | PT_I8 | PT_SYSTIME => Some(8),
        PT_CLSID => Some(16),
        _ => None,
    }
}

fn checksum_of(data: &[u8]) -> u16 {
    data.iter()
        .fold(0u16, |sum, &b| sum.wrapping_add(u16::from(b)))
}

fn malformed(what: impl std::fmt::Display) -> ExtractError {
    ExtractError::Malformed(format!("TNEF: {what}"))
}

/// Bounds-checked little-endian reading over a byte slice.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ExtractError> {
        let out = self
            .pos
            .checked_add(n)
            .and_then(|end| self.bytes.get(self.pos..end))
            .ok_or_else(|| {
                malformed(format!(
                    "{what}: {n} bytes needed, {} left",
                    self.remaining()
                ))
            })?;
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ExtractError> {
        let slice = self.take(N, what)?;
        <[u8; N]>::try_from(slice).map_err(|_| malformed(what))
    }

    fn u8(&mut self, what: &str) -> Result<u8, ExtractError> {
        Ok(u8::from_le_bytes(self.array(what)?))
    }

    fn u16(&mut self, what: &str) -> Result<u16, ExtractError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32, ExtractError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// A u32 length; whether that many bytes are left is checked by `take`.
    fn len(&mut self, what: &str) -> Result<usize, ExtractError> {
        let n = self.u32(what)?;
        usize::try_from(n).map_err(|_| malformed(format!("{what} {n} too large")))
    }

    /// Values are padded to a multiple of four bytes.
    fn skip_padding(&mut self, len: usize, what: &str) -> Result<(), ExtractError> {
        let pad = (4 - len % 4) % 4;
        self.take(pad, what).map(|_| ())
    }
}

/// Windows-1252 0x80–0x9F; the rest of the code page equals Latin-1. The five
/// unassigned bytes map to the C1 controls, as Windows itself does.
const CP1252_80_9F: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

fn decode_cp1252(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            b.checked_sub(0x80)
                .and_then(|i| CP1252_80_9F.get(usize::from(i)))
                .copied()
                .unwrap_or(char::from(b))
        })
        .collect()
}

/// UTF-16LE; unpaired surrogates become U+FFFD, an odd last byte is ignored.
fn decode_utf16le(bytes: &[u8]) -> String {
    let units = bytes.chunks_exact(2).map(|pair| match pair {
        [a, b] => u16::from_le_bytes([*a, *b]),
        _ => 0,
    });
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// A string as stored (zero-terminated) made fit for display: cut at the
/// first NUL, control characters replaced, trimmed, capped; `None` if empty.
fn clean_text(raw: &str) -> Option<String> {
    let text = raw.split('\0').next().unwrap_or_default().trim();
    if text.is_empty() {
        return None;
    }
    Some(
        text.chars()
            .take(MAX_NAME_CHARS)
            .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ATT_SUBJECT: u32 = 0x0001_8004;
    const ATT_MESSAGE_CLASS: u32 = 0x0007_8008;
    const ATT_TNEF_VERSION: u32 = 0x0008_9006;
    const ATT_OEM_CODEPAGE: u32 = 0x0006_9007;
    const ATT_ATTACH_MODIFY_DATE: u32 = 0x0003_8013;
    const PR_SUBJECT: u16 = 0x0037;
    const PR_ATTACH_SIZE: u16 = 0x0E20;
    const PR_RENDERING_POSITION: u16 = 0x370B;
    const PR_CREATION_TIME: u16 = 0x3007;
    /// IID_IMessage {00020307-0000-0000-C000-000000000046}.
    const IID_IMESSAGE: [u8; 16] = [
        0x07, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x46,
    ];
    /// PS_PUBLIC_STRINGS {00020329-0000-0000-C000-000000000046}.
    const PS_PUBLIC_STRINGS: [u8; 16] = [
        0x29, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x46,
    ];
    const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n";
    const DOCX: &[u8] = b"PK\x03\x04 not really a docx, but bytes";
    const LONG_NAME: &str = "Fragebogen Gemeinde W\u{fc}lfrath.pdf";

    fn cp1252(s: &str) -> Vec<u8> {
        s.chars()
            .map(|c| {
                if let Some(i) = CP1252_80_9F.iter().position(|&x| x == c) {
                    0x80 + i as u8
                } else {
                    u8::try_from(u32::from(c)).expect("not in Windows-1252")
                }
            })
            .collect()
    }

    fn zstr8(s: &str) -> Vec<u8> {
        let mut v = cp1252(s);
        v.push(0);
        v
    }

    fn zutf16(s: &str) -> Vec<u8> {
        s.encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    /// Test-side TNEF writer. Records the offset after every attribute.
    struct Tnef {
        buf: Vec<u8>,
        boundaries: Vec<usize>,
    }

    impl Tnef {
        fn new() -> Self {
            let mut buf = SIGNATURE.to_vec();
            buf.extend(0x0001u16.to_le_bytes());
            let boundaries = vec![buf.len()];
            Tnef { buf, boundaries }
        }

        fn attr(mut self, level: u8, id: u32, data: &[u8]) -> Self {
            self.buf.push(level);
            self.buf.extend(id.to_le_bytes());
            self.buf.extend((data.len() as u32).to_le_bytes());
            self.buf.extend(data);
            self.buf.extend(checksum_of(data).to_le_bytes());
            self.boundaries.push(self.buf.len());
            self
        }

        /// What Outlook writes first: version, code page, class, subject.
        fn message_header(self) -> Self {
            self.attr(LVL_MESSAGE, ATT_TNEF_VERSION, &0x0001_0000u32.to_le_bytes())
                .attr(
                    LVL_MESSAGE,
                    ATT_OEM_CODEPAGE,
                    &[0xE4, 0x04, 0, 0, 0, 0, 0, 0],
                )
                .attr(LVL_MESSAGE, ATT_MESSAGE_CLASS, &zstr8("IPM.Note"))
                .attr(
                    LVL_MESSAGE,
                    ATT_SUBJECT,
                    &zstr8("Antrag \u{2013} Stra\u{df}enfest"),
                )
        }

        fn rend(self, attach_type: u16) -> Self {
            let mut d = attach_type.to_le_bytes().to_vec();
            d.extend(0xFFFF_FFFFu32.to_le_bytes());
            d.extend(0xFFFFu16.to_le_bytes());
            d.extend(0xFFFFu16.to_le_bytes());
            d.extend(0u32.to_le_bytes());
            self.attr(LVL_ATTACHMENT, ATT_ATTACH_REND_DATA, &d)
        }

        fn title(self, s: &str) -> Self {
            self.attr(LVL_ATTACHMENT, ATT_ATTACH_TITLE, &zstr8(s))
        }

        fn data(self, bytes: &[u8]) -> Self {
            self.attr(LVL_ATTACHMENT, ATT_ATTACH_DATA, bytes)
        }

        fn attach_props(self, props: &Props) -> Self {
            self.attr(LVL_ATTACHMENT, ATT_ATTACHMENT, &props.build())
        }

        fn message_props(self, props: &Props) -> Self {
            self.attr(LVL_MESSAGE, ATT_MAPI_PROPS, &props.build())
        }

        fn bytes(&self) -> Vec<u8> {
            self.buf.clone()
        }
    }

    /// Test-side MAPI property block writer.
    #[derive(Default)]
    struct Props {
        count: u32,
        buf: Vec<u8>,
    }

    impl Props {
        fn tag(mut self, ptype: u16, pid: u16) -> Self {
            self.count += 1;
            self.buf.extend(ptype.to_le_bytes());
            self.buf.extend(pid.to_le_bytes());
            self
        }

        fn u32(mut self, v: u32) -> Self {
            self.buf.extend(v.to_le_bytes());
            self
        }

        fn raw(mut self, bytes: &[u8]) -> Self {
            self.buf.extend(bytes);
            self
        }

        /// Length, bytes, padding to four.
        fn value(self, bytes: &[u8]) -> Self {
            let pad = (4 - bytes.len() % 4) % 4;
            self.u32(bytes.len() as u32).raw(bytes).raw(&[0; 3][..pad])
        }

        fn string8(self, pid: u16, s: &str) -> Self {
            self.tag(PT_STRING8, pid).u32(1).value(&zstr8(s))
        }

        fn unicode(self, pid: u16, s: &str) -> Self {
            self.tag(PT_UNICODE, pid).u32(1).value(&zutf16(s))
        }

        fn binary(self, pid: u16, b: &[u8]) -> Self {
            self.tag(PT_BINARY, pid).u32(1).value(b)
        }

        fn long(self, pid: u16, v: u32) -> Self {
            self.tag(PT_LONG, pid).u32(v)
        }

        fn object(self, pid: u16, iid: [u8; 16], b: &[u8]) -> Self {
            let mut v = iid.to_vec();
            v.extend(b);
            self.tag(PT_OBJECT, pid).u32(1).value(&v)
        }

        /// Named property with a numeric id (MNID_ID), PT_BOOLEAN value.
        fn named_id_bool(self, lid: u32, v: bool) -> Self {
            self.tag(PT_BOOLEAN, 0x8001)
                .raw(&PS_PUBLIC_STRINGS)
                .u32(0)
                .u32(lid)
                .u32(u32::from(v))
        }

        /// Named property with a string name (MNID_STRING), PT_UNICODE value.
        fn named_string(self, name: &str, v: &str) -> Self {
            self.tag(PT_UNICODE, 0x8002)
                .raw(&PS_PUBLIC_STRINGS)
                .u32(1)
                .value(&zutf16(name))
                .u32(1)
                .value(&zutf16(v))
        }

        /// A little of everything else: short, systime, double, clsid,
        /// multi-valued strings and longs.
        fn assorted(self) -> Self {
            self.tag(PT_SHORT, 0x0017)
                .raw(&[1, 0, 0, 0])
                .tag(PT_SYSTIME, PR_CREATION_TIME)
                .raw(&[0x80, 0x3E, 0xD5, 0xDE, 0xB1, 0x9D, 0x01, 0x00])
                .tag(PT_DOUBLE, 0x0E2B)
                .raw(&1.5f64.to_le_bytes())
                .tag(PT_CLSID, 0x0E2C)
                .raw(&PS_PUBLIC_STRINGS)
                .tag(PT_UNICODE | MV_FLAG, 0x3A4F)
                .u32(2)
                .value(&zutf16("eins"))
                .value(&zutf16("zwei"))
                .tag(PT_LONG | MV_FLAG, 0x3A50)
                .u32(3)
                .u32(1)
                .u32(2)
                .u32(3)
        }

        fn build(&self) -> Vec<u8> {
            let mut out = self.count.to_le_bytes().to_vec();
            out.extend(&self.buf);
            out
        }
    }

    fn pdf_props_unicode() -> Props {
        Props::default()
            .long(PR_ATTACH_SIZE, PDF.len() as u32)
            .long(PR_ATTACH_METHOD, 1)
            .unicode(PR_ATTACH_LONG_FILENAME, LONG_NAME)
            .string8(PR_ATTACH_MIME_TAG, "application/pdf")
            .long(PR_RENDERING_POSITION, 0xFFFF_FFFF)
            .named_id_bool(0x8514, true)
            .named_string("x-sharing-flag", "ja")
    }

    /// Message header, one PDF with title, data and props (UTF-16 long name).
    fn one_pdf() -> Tnef {
        Tnef::new()
            .message_header()
            .rend(1)
            .title("FRAGEB~1.PDF")
            .attr(
                LVL_ATTACHMENT,
                ATT_ATTACH_MODIFY_DATE,
                &[0xE8, 0x07, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 2, 0],
            )
            .data(PDF)
            .attach_props(&pdf_props_unicode())
    }

    fn read(bytes: &[u8]) -> Result<Vec<TnefAttachment>, ExtractError> {
        attachments(bytes, &Limits::default())
    }

    fn is_malformed(r: &Result<Vec<TnefAttachment>, ExtractError>) -> bool {
        matches!(r, Err(ExtractError::Malformed(_)))
    }

    #[test]
    fn pdf_with_utf16_long_filename() {
        let got = read(&one_pdf().bytes()).unwrap();
        assert_eq!(
            got,
            vec![TnefAttachment {
                name: LONG_NAME.into(),
                mime_type: Some("application/pdf".into()),
                data: PDF.to_vec(),
            }]
        );
    }

    #[test]
    fn pdf_with_cp1252_long_filename() {
        let props = Props::default()
            .long(PR_ATTACH_METHOD, 1)
            .string8(PR_ATTACH_LONG_FILENAME, LONG_NAME)
            .string8(PR_ATTACH_MIME_TAG, "application/pdf");
        assert!(cp1252(LONG_NAME).contains(&0xFC));
        let tnef = Tnef::new()
            .message_header()
            .rend(1)
            .title("FRAGEB~1.PDF")
            .data(PDF)
            .attach_props(&props);
        let got = read(&tnef.bytes()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, LONG_NAME);
        assert_eq!(got[0].mime_type.as_deref(), Some("application/pdf"));
        assert_eq!(got[0].data, PDF);
    }

    #[test]
    fn two_attachments_in_order() {
        let docx_props = Props::default()
            .unicode(PR_ATTACH_LONG_FILENAME, "Stellungnahme \u{20AC} 2025.docx")
            .string8(
                PR_ATTACH_MIME_TAG,
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            );
        let tnef = one_pdf()
            .rend(1)
            .title("STELLU~1.DOC")
            .data(DOCX)
            .attach_props(&docx_props);
        let got = read(&tnef.bytes()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name, LONG_NAME);
        assert_eq!(got[0].data, PDF);
        assert_eq!(got[1].name, "Stellungnahme \u{20AC} 2025.docx");
        assert_eq!(got[1].data, DOCX);
        assert!(
            got[1]
                .mime_type
                .as_deref()
                .unwrap()
                .contains("wordprocessingml")
        );
    }

    #[test]
    fn names_fall_back_to_title_then_numbering() {
        let tnef = Tnef::new()
            .rend(1)
            .data(b"no title, no props")
            .rend(1)
            .title("ANTRAG.PDF")
            .data(PDF)
            .rend(1)
            .data(b"third")
            .attach_props(&Props::default().long(PR_ATTACH_METHOD, 1));
        let got = read(&tnef.bytes()).unwrap();
        let names: Vec<&str> = got.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["attachment-1", "ANTRAG.PDF", "attachment-3"]);
        assert_eq!(got[0].mime_type, None);
        assert_eq!(got[0].data, b"no title, no props");
    }

    #[test]
    fn empty_title_and_name_count_as_missing() {
        let props = Props::default().unicode(PR_ATTACH_LONG_FILENAME, "   ");
        let tnef = Tnef::new().rend(1).title("").data(PDF).attach_props(&props);
        assert_eq!(read(&tnef.bytes()).unwrap()[0].name, "attachment-1");
    }

    #[test]
    fn message_attributes_and_message_props_before_attachments() {
        let message_props = Props::default()
            .unicode(PR_SUBJECT, "Antrag")
            .named_id_bool(0x8503, false)
            .named_string("Keywords", "Bauamt")
            .binary(0x0FFF, &[1, 2, 3, 4, 5])
            .object(0x3701, IID_IMESSAGE, b"opaque")
            .assorted();
        let tnef = Tnef::new()
            .attr(LVL_MESSAGE, ATT_SUBJECT, &zstr8("Fragebogen"))
            .attr(
                LVL_MESSAGE,
                ATT_MESSAGE_CLASS,
                &zstr8("IPM.Microsoft Mail.Note"),
            )
            .message_props(&message_props)
            .rend(1)
            .title("FRAGEB~1.PDF")
            .data(PDF)
            .attach_props(&pdf_props_unicode().assorted());
        let got = read(&tnef.bytes()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, LONG_NAME);
        assert_eq!(got[0].data, PDF);
    }

    #[test]
    fn no_attachments_is_an_empty_list() {
        assert_eq!(read(&Tnef::new().message_header().bytes()).unwrap(), vec![]);
        assert_eq!(read(&Tnef::new().bytes()).unwrap(), vec![]);
    }

    #[test]
    fn data_from_attach_data_bin_when_att_attach_data_is_missing() {
        let props = Props::default()
            .long(PR_ATTACH_METHOD, 1)
            .binary(PR_ATTACH_DATA, PDF)
            .string8(PR_ATTACH_FILENAME, "ANTRAG.PDF");
        let tnef = Tnef::new().rend(1).attach_props(&props);
        let got = read(&tnef.bytes()).unwrap();
        assert_eq!(got[0].data, PDF);
        assert_eq!(got[0].name, "ANTRAG.PDF");
    }

    #[test]
    fn embedded_message_and_data_less_ole_object_are_left_out() {
        let embedded = Props::default()
            .long(PR_ATTACH_METHOD, ATTACH_EMBEDDED_MSG)
            .unicode(PR_DISPLAY_NAME, "Weitergeleitet: Antrag")
            .object(PR_ATTACH_DATA, IID_IMESSAGE, &Tnef::new().bytes());
        let tnef = Tnef::new()
            .rend(1)
            .attach_props(&embedded)
            .rend(REND_OLE)
            .title("Bild")
            .rend(1)
            .title("ANTRAG.PDF")
            .data(PDF);
        let got = read(&tnef.bytes()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "ANTRAG.PDF");
    }

    #[test]
    fn ole_object_with_data_is_returned() {
        let tnef = Tnef::new()
            .rend(REND_OLE)
            .title("Bild")
            .data(b"\xD0\xCF\x11\xE0");
        let got = read(&tnef.bytes()).unwrap();
        assert_eq!(got[0].name, "Bild");
        assert_eq!(got[0].data, b"\xD0\xCF\x11\xE0");
    }

    #[test]
    fn attachment_without_data_goes_to_a_human() {
        let named = Tnef::new().rend(1).title("ANTRAG.PDF");
        assert!(is_malformed(&read(&named.bytes())));
        let linked = Tnef::new()
            .rend(1)
            .title("ANTRAG.PDF")
            .attach_props(&Props::default().long(PR_ATTACH_METHOD, ATTACH_BY_REFERENCE));
        assert!(matches!(
            read(&linked.bytes()),
            Err(ExtractError::Unsupported(_))
        ));
    }

    #[test]
    fn names_are_display_only() {
        let props = Props::default().unicode(PR_ATTACH_LONG_FILENAME, "a\r\nBcc: x.pdf");
        let tnef = Tnef::new().rend(1).data(PDF).attach_props(&props);
        let name = &read(&tnef.bytes()).unwrap()[0].name;
        assert!(!name.contains('\r') && !name.contains('\n'));
        assert!(name.starts_with('a') && name.ends_with("Bcc: x.pdf"));

        let long = "x".repeat(1000);
        let tnef = Tnef::new().rend(1).title(&long).data(PDF);
        assert_eq!(read(&tnef.bytes()).unwrap()[0].name.len(), MAX_NAME_CHARS);
    }

    #[test]
    fn strings_are_decoded() {
        assert_eq!(
            decode_cp1252(&[0x80, 0x84, 0x93, 0x96, 0x9F, 0xFC, 0xDF, b'A']),
            "\u{20AC}\u{201E}\u{201C}\u{2013}\u{0178}\u{fc}\u{df}A"
        );
        assert_eq!(
            decode_utf16le(&zutf16("W\u{fc}lfrath \u{1F4C4}")),
            "W\u{fc}lfrath \u{1F4C4}\0"
        );
        assert_eq!(decode_utf16le(&[0x00, 0xD8, b'A', 0]), "\u{FFFD}A");
        assert_eq!(decode_utf16le(&[b'A', 0, 0x42]), "A");
        assert_eq!(clean_text("a.pdf\0\0garbage").as_deref(), Some("a.pdf"));
        assert_eq!(clean_text("\0\0"), None);
    }

    #[test]
    fn signature_is_checked() {
        let good = one_pdf().bytes();
        assert!(looks_like_tnef(&good));
        let mut bad = good.clone();
        bad[0] ^= 0xFF;
        assert!(!looks_like_tnef(&bad));
        assert!(is_malformed(&read(&bad)));
        assert!(is_malformed(&read(b"")));
        assert!(is_malformed(&read(b"%PDF-1.4")));
        assert!(!looks_like_tnef(b"\x78\x9F"));
    }

    #[test]
    fn checksum_mismatch_is_malformed() {
        let good = one_pdf().bytes();
        let pdf_at = good.windows(PDF.len()).position(|w| w == PDF).unwrap();
        let mut bad = good.clone();
        bad[pdf_at + 3] ^= 0x01;
        let err = read(&bad).unwrap_err();
        assert!(
            matches!(&err, ExtractError::Malformed(m) if m.contains("checksum")),
            "{err:?}"
        );

        // The checksum field itself (right after the data).
        let mut bad = good.clone();
        bad[pdf_at + PDF.len()] ^= 0x01;
        assert!(is_malformed(&read(&bad)));
    }

    #[test]
    fn truncation_at_every_length_never_panics() {
        let tnef = one_pdf()
            .rend(1)
            .title("STELLU~1.DOC")
            .data(DOCX)
            .attach_props(&Props::default().assorted());
        let full = tnef.bytes();
        assert_eq!(read(&full).unwrap().len(), 2);
        for n in 0..full.len() {
            let result = read(&full[..n]);
            if !tnef.boundaries.contains(&n) {
                assert!(is_malformed(&result), "cut at {n}: {result:?}");
            }
        }
    }

    #[test]
    fn flipped_bytes_never_panic() {
        let full = one_pdf().attach_props(&Props::default().assorted()).bytes();
        for i in 0..full.len() {
            for mask in [0x01, 0x80, 0xFF] {
                let mut bad = full.clone();
                bad[i] ^= mask;
                let _ = read(&bad);
            }
        }
        // Deterministic pseudo-random multi-byte damage.
        let mut seed: u32 = 0x1234_5678;
        for _ in 0..2000 {
            let mut bad = full.clone();
            for _ in 0..4 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let at = (seed >> 8) as usize % bad.len();
                bad[at] = (seed >> 24) as u8;
            }
            let _ = read(&bad);
        }
    }

    #[test]
    fn attribute_length_of_all_ones_is_malformed() {
        let tnef = one_pdf();
        let good = tnef.bytes();
        // Every attribute starts at a boundary; its length sits 5 bytes in.
        for &start in &tnef.boundaries[..tnef.boundaries.len() - 1] {
            let mut bad = good.clone();
            bad[start + 5..start + 9].copy_from_slice(&[0xFF; 4]);
            assert!(is_malformed(&read(&bad)), "length at {start}");
        }
    }

    #[test]
    fn mapi_lengths_of_all_ones_are_malformed() {
        let ones = 0xFFFF_FFFFu32;
        let blocks = [
            // Property count.
            Props::default()
                .long(PR_ATTACH_METHOD, 1)
                .build_with_count(ones),
            // Value count of a string.
            Props::default()
                .tag(PT_UNICODE, PR_ATTACH_LONG_FILENAME)
                .u32(ones)
                .build(),
            // Value length of a string.
            Props::default()
                .tag(PT_UNICODE, PR_ATTACH_LONG_FILENAME)
                .u32(1)
                .u32(ones)
                .raw(b"ab")
                .build(),
            // Value count of a multi-valued long.
            Props::default()
                .tag(PT_LONG | MV_FLAG, 0x3A50)
                .u32(ones)
                .u32(7)
                .build(),
            // Name length of a named property.
            Props::default()
                .tag(PT_LONG, 0x8001)
                .raw(&PS_PUBLIC_STRINGS)
                .u32(1)
                .u32(ones)
                .build(),
            // Object value length.
            Props::default()
                .tag(PT_OBJECT, PR_ATTACH_DATA)
                .u32(1)
                .u32(ones)
                .build(),
        ];
        for (i, block) in blocks.iter().enumerate() {
            let tnef = Tnef::new()
                .rend(1)
                .data(PDF)
                .attr(LVL_ATTACHMENT, ATT_ATTACHMENT, block);
            assert!(is_malformed(&read(&tnef.bytes())), "block {i}");
            let tnef = Tnef::new().attr(LVL_MESSAGE, ATT_MAPI_PROPS, block);
            assert!(is_malformed(&read(&tnef.bytes())), "message block {i}");
        }
    }

    impl Props {
        fn build_with_count(&self, count: u32) -> Vec<u8> {
            let mut out = count.to_le_bytes().to_vec();
            out.extend(&self.buf);
            out
        }
    }

    #[test]
    fn structural_errors() {
        // Attachment attribute before any attAttachRendData.
        let early = Tnef::new().title("A.PDF").data(PDF);
        assert!(is_malformed(&read(&early.bytes())));
        // Unknown attribute level.
        let level = Tnef::new().attr(3, ATT_SUBJECT, b"x\0");
        assert!(is_malformed(&read(&level.bytes())));
        // Data given twice.
        let twice = Tnef::new().rend(1).data(PDF).data(PDF);
        assert!(is_malformed(&read(&twice.bytes())));
        // Trailing garbage after the last attribute.
        let mut trailing = one_pdf().bytes();
        trailing.extend([0, 0]);
        assert!(is_malformed(&read(&trailing)));
        // Unknown named-property kind.
        let kind = Props::default()
            .tag(PT_LONG, 0x8001)
            .raw(&PS_PUBLIC_STRINGS)
            .u32(2)
            .u32(0);
        let tnef = Tnef::new().rend(1).data(PDF).attach_props(&kind);
        assert!(is_malformed(&read(&tnef.bytes())));
        // A single-valued string with two values.
        let two = Props::default()
            .tag(PT_STRING8, PR_ATTACH_LONG_FILENAME)
            .u32(2)
            .value(b"a\0")
            .value(b"b\0");
        let tnef = Tnef::new().rend(1).data(PDF).attach_props(&two);
        assert!(is_malformed(&read(&tnef.bytes())));
        // An object shorter than its interface id.
        let short = Props::default()
            .tag(PT_OBJECT, PR_ATTACH_DATA)
            .u32(1)
            .value(b"short");
        let tnef = Tnef::new().rend(1).data(PDF).attach_props(&short);
        assert!(is_malformed(&read(&tnef.bytes())));
    }

    #[test]
    fn unknown_property_type_is_unsupported() {
        let odd = Props::default().tag(0x00FB, 0x0FF9).u32(4).raw(&[0; 4]);
        let tnef = Tnef::new().rend(1).data(PDF).attach_props(&odd);
        assert!(matches!(
            read(&tnef.bytes()),
            Err(ExtractError::Unsupported(_))
        ));
    }

    #[test]
    fn too_many_attachments_is_a_limit() {
        let mut tnef = Tnef::new();
        for _ in 0..3 {
            tnef = tnef.rend(1).data(b"x");
        }
        let bytes = tnef.bytes();
        let limits = Limits {
            max_zip_entries: 2,
            ..Limits::default()
        };
        assert!(matches!(
            attachments(&bytes, &limits),
            Err(ExtractError::Limit(_))
        ));
        let limits = Limits {
            max_zip_entries: 3,
            ..Limits::default()
        };
        assert_eq!(attachments(&bytes, &limits).unwrap().len(), 3);
    }

    #[test]
    fn size_limits() {
        let tnef = Tnef::new().rend(1).data(&[7; 600]).rend(1).data(&[8; 600]);
        let bytes = tnef.bytes();
        let total = Limits {
            max_total_bytes: 1000,
            ..Limits::default()
        };
        assert!(matches!(
            attachments(&bytes, &total),
            Err(ExtractError::Limit(_))
        ));
        let entry = Limits {
            max_entry_bytes: 599,
            ..Limits::default()
        };
        assert!(matches!(
            attachments(&bytes, &entry),
            Err(ExtractError::Limit(_))
        ));
        let input = Limits {
            max_input_bytes: bytes.len() as u64 - 1,
            ..Limits::default()
        };
        assert!(matches!(
            attachments(&bytes, &input),
            Err(ExtractError::Limit(_))
        ));
        let exact = Limits {
            max_input_bytes: bytes.len() as u64,
            max_entry_bytes: 600,
            max_total_bytes: 1200,
            ..Limits::default()
        };
        assert_eq!(attachments(&bytes, &exact).unwrap().len(), 2);
    }
}
