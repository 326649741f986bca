//! Hard limits for untrusted documents. Declared sizes lie: count what is read.

use super::ExtractError;
use std::io::Read;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one document (or one archive member) as received.
    pub max_input_bytes: u64,
    /// Entries in one ZIP container (DOCX, ODT and plain ZIP alike).
    pub max_zip_entries: usize,
    /// Bytes decompressed from one archive member.
    pub max_entry_bytes: u64,
    /// Bytes decompressed from one archive in total.
    pub max_total_bytes: u64,
    /// Archive-in-archive and mail-in-mail depth.
    pub max_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 40 * 1024 * 1024,
            max_zip_entries: 2_000,
            max_entry_bytes: 64 * 1024 * 1024,
            max_total_bytes: 256 * 1024 * 1024,
            max_depth: 3,
        }
    }
}

/// Reads at most `max` bytes; more is an error, whatever the header claimed.
pub fn read_capped(reader: impl Read, max: u64, what: &str) -> Result<Vec<u8>, ExtractError> {
    let mut out = Vec::new();
    let n = reader
        .take(max.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| ExtractError::Malformed(format!("{what}: {e}")))?;
    if n as u64 > max {
        return Err(ExtractError::Limit(format!(
            "{what} decompresses to more than {max} bytes"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_stops_past_the_cap() {
        let data = vec![0u8; 1000];
        assert_eq!(read_capped(&data[..], 1000, "x").unwrap().len(), 1000);
        assert!(matches!(
            read_capped(&data[..], 999, "x"),
            Err(ExtractError::Limit(_))
        ));
    }
}
