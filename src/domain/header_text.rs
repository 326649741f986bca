//! Text bound for a mail header: never carries CR, LF or NUL.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderText(String);

impl HeaderText {
    /// Makes text from untrusted input safe for a header: CR, LF, NUL and other
    /// control characters become spaces, runs of whitespace collapse, and the
    /// result is cut to `max` characters.
    pub fn sanitize(raw: &str, max: usize) -> HeaderText {
        let mut out = String::with_capacity(raw.len().min(max));
        let mut last_space = false;
        for c in raw.chars() {
            let c = if c.is_control() || c.is_whitespace() {
                ' '
            } else {
                c
            };
            if c == ' ' && (last_space || out.is_empty()) {
                continue;
            }
            last_space = c == ' ';
            out.push(c);
            if out.chars().count() >= max {
                break;
            }
        }
        HeaderText(out.trim_end().to_string())
    }

    /// Refuses text with CR, LF or NUL instead of cleaning it.
    pub fn parse(raw: &str) -> Result<HeaderText, String> {
        if raw.contains(['\r', '\n', '\0']) {
            return Err(format!(
                "CR, LF or NUL in header text: {:?}",
                raw.chars().take(60).collect::<String>()
            ));
        }
        Ok(HeaderText(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HeaderText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::HeaderText;

    #[test]
    fn strips_line_breaks_that_would_inject_headers() {
        let t = HeaderText::sanitize("Bewerbung\r\nBcc: victim@example.org", 200);
        assert_eq!(t.as_str(), "Bewerbung Bcc: victim@example.org");
        assert!(HeaderText::parse("a\nb").is_err());
        assert!(HeaderText::parse("fine").is_ok());
    }

    #[test]
    fn cuts_long_text() {
        assert_eq!(
            HeaderText::sanitize(&"x".repeat(500), 10).as_str().len(),
            10
        );
    }
}
