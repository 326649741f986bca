//! A mailbox address (`local@domain`), lower-cased domain, safe for headers.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a valid e-mail address: {0:?}")]
pub struct InvalidAddress(String);

impl EmailAddress {
    /// Accepts `local@domain` with no whitespace, control characters or brackets.
    pub fn parse(raw: &str) -> Result<EmailAddress, InvalidAddress> {
        let s = raw.trim_matches(' ');
        let bad = || InvalidAddress(raw.chars().take(80).collect());
        if s.len() > 254 || s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad());
        }
        if s.contains(['<', '>', '(', ')', ',', ';', ':', '"', '\\', '[', ']']) {
            return Err(bad());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
        if local.is_empty() || local.contains('@') || domain.is_empty() || !domain.contains('.') {
            return Err(bad());
        }
        if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
            return Err(bad());
        }
        Ok(EmailAddress(format!(
            "{local}@{}",
            domain.to_ascii_lowercase()
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address in lower case, the key we group applications by.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or(&self.0)
    }

    /// The domain, lower case (as `parse` stores it).
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = InvalidAddress;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        EmailAddress::parse(&s)
    }
}

impl From<EmailAddress> for String {
    fn from(a: EmailAddress) -> String {
        a.0
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::EmailAddress;

    #[test]
    fn accepts_ordinary_addresses_and_lowercases_the_domain() {
        let a = EmailAddress::parse(" Kaemmerei@Stadt-Musterhausen.DE ").unwrap();
        assert_eq!(a.as_str(), "Kaemmerei@stadt-musterhausen.de");
        assert_eq!(a.key(), "kaemmerei@stadt-musterhausen.de");
        assert_eq!(a.domain(), "stadt-musterhausen.de");
    }

    #[test]
    fn rejects_header_injection_and_junk() {
        for bad in [
            "a@b.de\r\nBcc: x@y.de",
            "a@b.de\n",
            "a b@c.de",
            "nobody",
            "x@localhost",
            "<a@b.de>",
            "a@b..de",
            "a@b.de\0",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
