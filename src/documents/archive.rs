//! A safe ZIP reader for DOCX, ODT and plain `.zip` attachments.
//!
//! Nothing here touches the file system: entry names are display strings
//! only, and suspicious ones (`..`, a leading `/`, a drive letter) are flagged
//! rather than used. Every member is read through [`read_capped`] because the
//! sizes a ZIP declares can lie; the entry count and the decompressed total
//! of one archive are capped as well (see [`Limits`]).

use super::limits::read_capped;
use super::{ExtractError, Limits};
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use zip::ZipArchive;
use zip::result::ZipError;

/// One member of an archive, read within the limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipEntry {
    /// The member name, for display only (control characters replaced).
    /// Never use it as a path.
    pub name: String,
    /// The name would escape a target directory (`..`, a leading `/` or `\`,
    /// a drive letter) or contains control characters.
    pub unsafe_name: bool,
    /// A directory entry (no data).
    pub is_dir: bool,
    /// The decompressed bytes (empty for directories).
    pub data: Vec<u8>,
}

/// An opened archive that reads members on demand while keeping a running
/// total of decompressed bytes.
pub struct ZipReader<'a> {
    archive: ZipArchive<Cursor<&'a [u8]>>,
    limits: Limits,
    total: u64,
}

/// Local-file and central-directory signatures.
const LOCAL_SIG: &[u8; 4] = b"PK\x03\x04";
const CENTRAL_SIG: &[u8; 4] = b"PK\x01\x02";
const EMPTY_SIG: &[u8; 4] = b"PK\x05\x06";

/// Does this look like a ZIP container at all (local header at the start, or
/// an empty archive)?
pub fn looks_like_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(LOCAL_SIG) || bytes.starts_with(EMPTY_SIG)
}

impl<'a> ZipReader<'a> {
    /// Parses the central directory, enforcing `max_input_bytes` and
    /// `max_zip_entries` before any member is decompressed.
    pub fn open(bytes: &'a [u8], limits: &Limits) -> Result<Self, ExtractError> {
        if bytes.len() as u64 > limits.max_input_bytes {
            return Err(ExtractError::Limit(format!(
                "archive is larger than {} bytes",
                limits.max_input_bytes
            )));
        }
        // Every central-directory record starts with this signature, so the
        // count is an upper bound of the entries. Checking it first keeps a
        // directory of millions of tiny records from being parsed at all.
        let records = bytes.windows(4).filter(|w| *w == CENTRAL_SIG).count();
        if records > limits.max_zip_entries {
            return Err(too_many_entries(limits));
        }
        let archive = guard(|| ZipArchive::new(Cursor::new(bytes)).map_err(map_zip_error))?;
        if archive.len() > limits.max_zip_entries {
            return Err(too_many_entries(limits));
        }
        Ok(ZipReader {
            archive,
            limits: *limits,
            total: 0,
        })
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.archive.len()
    }

    /// True when the archive has no entries.
    pub fn is_empty(&self) -> bool {
        self.archive.is_empty()
    }

    /// Display names of all entries, in central-directory order.
    pub fn names(&self) -> Vec<String> {
        (0..self.archive.len())
            .map(|i| self.display_name(i))
            .collect()
    }

    /// Decompressed bytes read so far from this archive.
    pub fn total_read(&self) -> u64 {
        self.total
    }

    /// Reads the member with exactly this name, `None` if there is none.
    /// Two members with the same name make the archive ambiguous: `Malformed`.
    pub fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, ExtractError> {
        let Some(index) = self.archive.index_for_name(name) else {
            return Ok(None);
        };
        if self.archive.has_duplicate_names() {
            let same = (0..self.archive.len())
                .filter(|&i| self.raw_name(i).as_deref() == Some(name.as_bytes()))
                .count();
            if same > 1 {
                return Err(ExtractError::Malformed(format!(
                    "archive has more than one member named {}",
                    display(name)
                )));
            }
        }
        self.read_index(index).map(Some)
    }

    /// Reads every entry (directories without data).
    pub fn read_all(&mut self) -> Result<Vec<ZipEntry>, ExtractError> {
        let mut out = Vec::with_capacity(self.archive.len());
        for i in 0..self.archive.len() {
            let name = self.display_name(i);
            let is_dir = guard(|| {
                self.archive
                    .by_index_data(i)
                    .map(|e| e.is_dir())
                    .map_err(map_zip_error)
            })?;
            let unsafe_name = self.unsafe_name(i);
            let data = if is_dir {
                Vec::new()
            } else {
                self.read_index(i)?
            };
            out.push(ZipEntry {
                name,
                unsafe_name,
                is_dir,
                data,
            });
        }
        Ok(out)
    }

    fn raw_name(&self, index: usize) -> Option<Vec<u8>> {
        self.archive
            .by_index_data(index)
            .ok()
            .map(|e| e.name_raw().to_vec())
    }

    fn display_name(&self, index: usize) -> String {
        let name = match self.archive.by_index_data(index) {
            Ok(e) => match e.name() {
                Ok(n) => n.into_owned(),
                Err(_) => String::from_utf8_lossy(e.name_raw()).into_owned(),
            },
            Err(_) => String::new(),
        };
        display(&name)
    }

    fn unsafe_name(&self, index: usize) -> bool {
        match self.archive.by_index_data(index) {
            Ok(e) => {
                let name = match e.name() {
                    Ok(n) => n.into_owned(),
                    Err(_) => String::from_utf8_lossy(e.name_raw()).into_owned(),
                };
                is_unsafe_name(&name) || e.enclosed_name().is_none()
            }
            Err(_) => true,
        }
    }

    fn read_index(&mut self, index: usize) -> Result<Vec<u8>, ExtractError> {
        let name = self.display_name(index);
        let encrypted = guard(|| {
            self.archive
                .by_index_data(index)
                .map(|e| e.encrypted())
                .map_err(map_zip_error)
        })?;
        if encrypted {
            return Err(ExtractError::Encrypted);
        }
        let remaining = self.limits.max_total_bytes.saturating_sub(self.total);
        let cap = self.limits.max_entry_bytes.min(remaining);
        let archive = &mut self.archive;
        let result = guard(|| {
            let file = archive.by_index(index).map_err(map_zip_error)?;
            read_capped(file, cap, &name)
        });
        let data = match result {
            Err(ExtractError::Limit(_)) if cap < self.limits.max_entry_bytes => {
                return Err(ExtractError::Limit(format!(
                    "archive decompresses to more than {} bytes in total",
                    self.limits.max_total_bytes
                )));
            }
            other => other?,
        };
        self.total = self.total.saturating_add(data.len() as u64);
        Ok(data)
    }
}

/// Lists and reads every entry of a ZIP archive within the limits.
pub fn entries(bytes: &[u8], limits: &Limits) -> Result<Vec<ZipEntry>, ExtractError> {
    ZipReader::open(bytes, limits)?.read_all()
}

/// Reads one member (e.g. `word/document.xml`), `None` if the archive has no
/// member of that name.
pub fn read_member(
    bytes: &[u8],
    name: &str,
    limits: &Limits,
) -> Result<Option<Vec<u8>>, ExtractError> {
    ZipReader::open(bytes, limits)?.read(name)
}

/// Would this name escape an extraction directory? (`..` components, an
/// absolute path, a drive letter, control characters.)
pub fn is_unsafe_name(name: &str) -> bool {
    if name.starts_with('/') || name.starts_with('\\') {
        return true;
    }
    let b = name.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return true;
    }
    if name.chars().any(char::is_control) {
        return true;
    }
    name.split(['/', '\\']).any(|part| part == "..")
}

/// A name fit for logs and display: control characters replaced.
fn display(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

fn too_many_entries(limits: &Limits) -> ExtractError {
    ExtractError::Limit(format!(
        "archive has more than {} entries",
        limits.max_zip_entries
    ))
}

fn map_zip_error(e: ZipError) -> ExtractError {
    match e {
        ZipError::UnsupportedArchive(ZipError::PASSWORD_REQUIRED) | ZipError::InvalidPassword => {
            ExtractError::Encrypted
        }
        ZipError::CompressionMethodNotSupported(m) => {
            ExtractError::Unsupported(format!("ZIP compression method {m}"))
        }
        ZipError::UnsupportedArchive(what) => ExtractError::Unsupported(format!("ZIP: {what}")),
        other => ExtractError::Malformed(format!("ZIP: {other}")),
    }
}

/// Runs third-party parsing code; a panic in it becomes `Malformed`.
fn guard<T>(f: impl FnOnce() -> Result<T, ExtractError>) -> Result<T, ExtractError> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(ExtractError::Malformed("ZIP reader failed".into())))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;
    use std::time::Instant;
    use zip::write::SimpleFileOptions;
    use zip::{CompressionMethod, ZipWriter};

    /// Builds a ZIP from (name, content) pairs, deflated.
    pub(crate) fn build_zip(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        for (name, data) in members {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    /// A ZIP with one member of `size` zero bytes, streamed into the writer.
    pub(crate) fn zero_bomb(name: &str, size: u64) -> Vec<u8> {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(1));
        w.start_file(name, opts).unwrap();
        let chunk = vec![0u8; 1 << 20];
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            w.write_all(&chunk[..n]).unwrap();
            left -= n as u64;
        }
        w.finish().unwrap().into_inner()
    }

    fn small_limits() -> Limits {
        Limits {
            max_entry_bytes: 1024 * 1024,
            max_total_bytes: 3 * 1024 * 1024 / 2,
            max_zip_entries: 10,
            ..Limits::default()
        }
    }

    #[test]
    fn lists_members_with_their_contents() {
        let zip = build_zip(&[("a.txt", b"Hallo"), ("dir/b.txt", "Grüße".as_bytes())]);
        let list = entries(&zip, &Limits::default()).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].name, "a.txt");
        assert_eq!(list[0].data, b"Hallo");
        assert_eq!(list[1].name, "dir/b.txt");
        assert_eq!(list[1].data, "Grüße".as_bytes());
        assert!(list.iter().all(|e| !e.unsafe_name && !e.is_dir));
    }

    #[test]
    fn reads_one_member_by_name_or_none() {
        let zip = build_zip(&[("word/document.xml", b"<w/>")]);
        let l = Limits::default();
        assert_eq!(
            read_member(&zip, "word/document.xml", &l).unwrap(),
            Some(b"<w/>".to_vec())
        );
        assert_eq!(read_member(&zip, "content.xml", &l).unwrap(), None);
    }

    #[test]
    fn member_that_decompresses_past_the_entry_cap_is_a_limit_error() {
        let zip = zero_bomb("bomb.bin", 2 * 1024 * 1024);
        assert!(zip.len() < 100 * 1024, "fixture is small: {}", zip.len());
        let l = small_limits();
        assert!(matches!(entries(&zip, &l), Err(ExtractError::Limit(_))));
        assert!(matches!(
            read_member(&zip, "bomb.bin", &l),
            Err(ExtractError::Limit(_))
        ));
    }

    #[test]
    fn archive_total_past_the_cap_is_a_limit_error_even_if_each_member_fits() {
        let big = vec![0u8; 900 * 1024];
        let zip = build_zip(&[("a", &big), ("b", &big)]);
        let l = small_limits();
        let err = entries(&zip, &l).unwrap_err();
        assert!(
            matches!(&err, ExtractError::Limit(m) if m.contains("in total")),
            "{err:?}"
        );
        // One of them alone is fine.
        assert!(read_member(&zip, "b", &l).unwrap().is_some());
    }

    /// A raw DEFLATE stream (fixed Huffman) of `matches * 258 + 1` zero bytes:
    /// one literal zero, then length-258/distance-1 back-references.
    fn deflate_zeros(matches: u64) -> Vec<u8> {
        struct Bits {
            out: Vec<u8>,
            acc: u32,
            n: u32,
        }
        impl Bits {
            fn put(&mut self, value: u32, len: u32) {
                self.acc |= value << self.n;
                self.n += len;
                while self.n >= 8 {
                    self.out.push(self.acc as u8);
                    self.acc >>= 8;
                    self.n -= 8;
                }
            }
            /// Huffman codes go most significant bit first.
            fn code(&mut self, code: u32, len: u32) {
                let rev = code.reverse_bits() >> (32 - len);
                self.put(rev, len);
            }
        }
        let mut b = Bits {
            out: Vec::with_capacity((matches * 13 / 8 + 16) as usize),
            acc: 0,
            n: 0,
        };
        b.put(1, 1); // BFINAL
        b.put(1, 2); // BTYPE = 01, fixed Huffman
        b.code(0x30, 8); // literal 0
        for _ in 0..matches {
            b.code(0b1100_0101, 8); // length code 285 = 258
            b.code(0, 5); // distance code 0 = 1
        }
        b.code(0, 7); // end of block
        b.put(0, 7); // flush
        b.out
    }

    /// A hand-made ZIP with one deflated member whose headers declare
    /// `declared` bytes (and a made-up CRC): sizes in headers can lie.
    fn raw_zip(name: &str, deflated: &[u8], declared: u32) -> Vec<u8> {
        let mut z = Vec::new();
        let name = name.as_bytes();
        let comp = deflated.len() as u32;
        z.extend_from_slice(LOCAL_SIG);
        z.extend_from_slice(&[20, 0, 0, 0, 8, 0, 0, 0, 0x21, 0]); // version, flags, method 8, time, date
        z.extend_from_slice(&0xDEAD_BEEFu32.to_le_bytes());
        z.extend_from_slice(&comp.to_le_bytes());
        z.extend_from_slice(&declared.to_le_bytes());
        z.extend_from_slice(&(name.len() as u16).to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z.extend_from_slice(name);
        z.extend_from_slice(deflated);
        let cd_start = z.len() as u32;
        z.extend_from_slice(CENTRAL_SIG);
        z.extend_from_slice(&[20, 3, 20, 0, 0, 0, 8, 0, 0, 0, 0x21, 0]);
        z.extend_from_slice(&0xDEAD_BEEFu32.to_le_bytes());
        z.extend_from_slice(&comp.to_le_bytes());
        z.extend_from_slice(&declared.to_le_bytes());
        z.extend_from_slice(&(name.len() as u16).to_le_bytes());
        z.extend_from_slice(&[0; 12]); // extra, comment, disk, internal and external attributes
        z.extend_from_slice(&0u32.to_le_bytes()); // local header offset
        z.extend_from_slice(name);
        let cd_len = z.len() as u32 - cd_start;
        z.extend_from_slice(EMPTY_SIG);
        z.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
        z.extend_from_slice(&cd_len.to_le_bytes());
        z.extend_from_slice(&cd_start.to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z
    }

    #[test]
    fn hand_made_deflate_fixture_is_valid() {
        let zip = raw_zip("z.bin", &deflate_zeros(3), 3 * 258 + 1);
        let err = entries(&zip, &Limits::default()).unwrap_err();
        // The made-up CRC is the only thing wrong with it.
        assert!(
            matches!(&err, ExtractError::Malformed(m) if m.to_lowercase().contains("crc") || m.contains("checksum")),
            "{err:?}"
        );
        let ok = raw_zip("z.bin", &deflate_zeros(3), 3 * 258 + 1);
        let l = Limits {
            max_entry_bytes: 3 * 258,
            ..Limits::default()
        };
        assert!(matches!(entries(&ok, &l), Err(ExtractError::Limit(_))));
    }

    #[test]
    fn zip_bomb_of_300_mb_zeros_stops_at_the_default_entry_cap() {
        let matches = 300 * 1024 * 1024 / 258;
        let t = Instant::now();
        let zip = raw_zip(
            "zeros.bin",
            &deflate_zeros(matches),
            (matches * 258 + 1) as u32,
        );
        let res = entries(&zip, &Limits::default());
        assert!(
            matches!(&res, Err(ExtractError::Limit(m)) if m.contains("zeros.bin")),
            "{res:?}"
        );
        assert!(t.elapsed().as_secs() < 10, "took {:?}", t.elapsed());
    }

    #[test]
    fn zip_bomb_that_declares_a_small_size_is_still_capped() {
        let zip = raw_zip("liar.bin", &deflate_zeros(16 * 1024), 100);
        let l = small_limits();
        let res = entries(&zip, &l);
        assert!(res.is_err(), "{res:?}");
        assert!(!matches!(res, Ok(ref v) if v[0].data.len() > 1024 * 1024));
    }

    #[test]
    fn too_many_entries_is_a_limit_error_before_anything_is_read() {
        let names: Vec<String> = (0..11).map(|i| format!("f{i}.txt")).collect();
        let members: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
        let zip = build_zip(&members);
        let l = small_limits();
        assert!(matches!(
            ZipReader::open(&zip, &l),
            Err(ExtractError::Limit(_))
        ));
        assert!(matches!(entries(&zip, &l), Err(ExtractError::Limit(_))));
        // Exactly at the cap is fine.
        let zip = build_zip(&members[..10]);
        assert_eq!(entries(&zip, &l).unwrap().len(), 10);
    }

    #[test]
    fn input_larger_than_max_input_bytes_is_a_limit_error() {
        let zip = build_zip(&[("a.txt", b"Hallo")]);
        let l = Limits {
            max_input_bytes: 10,
            ..Limits::default()
        };
        assert!(matches!(entries(&zip, &l), Err(ExtractError::Limit(_))));
    }

    #[test]
    fn path_traversal_names_are_listed_and_flagged_but_never_touch_the_disk() {
        let zip = build_zip(&[
            ("../../etc/passwd", b"root:x:0:0"),
            ("/abs.txt", b"a"),
            ("C:/win.ini", b"w"),
            ("ok/fine.txt", b"f"),
        ]);
        let list = entries(&zip, &Limits::default()).unwrap();
        let flagged: Vec<(&str, bool)> = list
            .iter()
            .map(|e| (e.name.as_str(), e.unsafe_name))
            .collect();
        assert_eq!(
            flagged,
            vec![
                ("../../etc/passwd", true),
                ("/abs.txt", true),
                ("C:/win.ini", true),
                ("ok/fine.txt", false),
            ]
        );
        assert_eq!(list[0].data, b"root:x:0:0");
        assert!(!std::path::Path::new("../../etc/passwd.postbote-test").exists());
    }

    #[test]
    fn unsafe_name_rules() {
        assert!(is_unsafe_name("a/../b"));
        assert!(is_unsafe_name("..\\x"));
        assert!(is_unsafe_name("\\\\server\\share"));
        assert!(is_unsafe_name("d:x"));
        assert!(is_unsafe_name("a\nb"));
        assert!(!is_unsafe_name("a..b/c"));
        assert!(!is_unsafe_name("Lebenslauf Müller.pdf"));
    }

    #[test]
    fn control_characters_in_names_are_replaced_for_display() {
        let zip = build_zip(&[("a\r\nBcc: x", b"1")]);
        let list = entries(&zip, &Limits::default()).unwrap();
        assert!(!list[0].name.contains('\n') && !list[0].name.contains('\r'));
        assert!(list[0].unsafe_name);
    }

    #[test]
    fn encrypted_member_is_reported_as_encrypted() {
        let mut zip = build_zip(&[("secret.txt", b"geheim")]);
        set_encryption_flag(&mut zip);
        assert_eq!(
            entries(&zip, &Limits::default()),
            Err(ExtractError::Encrypted)
        );
        assert_eq!(
            read_member(&zip, "secret.txt", &Limits::default()),
            Err(ExtractError::Encrypted)
        );
    }

    /// Sets bit 0 of the general-purpose flags in every local and central header.
    fn set_encryption_flag(zip: &mut [u8]) {
        let mut i = 0;
        while i + 10 < zip.len() {
            if &zip[i..i + 4] == LOCAL_SIG {
                zip[i + 6] |= 1;
            } else if &zip[i..i + 4] == CENTRAL_SIG {
                zip[i + 8] |= 1;
            }
            i += 1;
        }
    }

    #[test]
    fn random_bytes_are_malformed_not_a_panic() {
        let mut next = crate::test_noise::xorshift(0x9E37_79B9_7F4A_7C15);
        for len in [0usize, 1, 3, 4, 22, 100, 1000, 5000] {
            let bytes = crate::test_noise::noise(&mut next, len);
            assert!(matches!(
                entries(&bytes, &Limits::default()),
                Err(ExtractError::Malformed(_))
            ));
        }
    }

    #[test]
    fn truncated_archives_are_errors_not_panics() {
        let zip = build_zip(&[("a.txt", b"Hallo Welt"), ("b.txt", &[7u8; 3000])]);
        for len in 0..zip.len() {
            let res = entries(&zip[..len], &Limits::default());
            assert!(res.is_err(), "truncated at {len} accepted");
        }
    }

    #[test]
    fn damaged_compressed_data_is_an_error_not_a_panic() {
        let text: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let zip = build_zip(&[("a.bin", &text)]);
        for pos in (30..zip.len().saturating_sub(100)).step_by(17) {
            let mut bad = zip.clone();
            bad[pos] ^= 0x5A;
            let _ = entries(&bad, &Limits::default());
        }
    }
}
