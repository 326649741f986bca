//! May this mail command postbote? The caller has checked that the From
//! address is a configured staff address; From is easily forged, so here the
//! mail must also prove it, by one of:
//!
//! - `dkim=pass` with `header.d` equal to the From domain (strict alignment,
//!   see below),
//! - only where staff enabled it (`staff.accept_spf_only`): `spf=pass` with
//!   the domain of `smtp.mailfrom` equal to the From domain,
//!
//! both as reported in the `Authentication-Results` block (RFC 8601) of the
//! trusted boundary MTA ([`boundary_results`]), or
//!
//! - the installation's secret on a `Kennwort:` line in the body.
//!
//! A wrong secret is always a rejection, even when DKIM passed: the sender
//! meant to use it, and should learn that it is wrong.
//!
//! # Which Authentication-Results count
//!
//! Headers are prepended on the way: what the boundary MTA (the first server
//! of the own organisation, whose authserv-id is in
//! `staff.trusted_authserv_ids`) adds stands above everything the sender and
//! other hops wrote. Only these count:
//!
//! 1. From the top, skip the headers local delivery adds (`Return-Path`,
//!    `Delivered-To`, `X-Original-To`, …) and at most
//!    `staff.trusted_received_headers` `Received` headers (the own hops:
//!    default 2, the boundary MTA and the local delivery, e.g. Postfix and
//!    Dovecot LMTP). Any other header ends the top of the header block.
//! 2. Within that top, the first `Authentication-Results` header must carry
//!    a trusted authserv-id; it and the headers directly below it with the
//!    *same* id form the block (one MTA often writes several: OpenDKIM,
//!    OpenDMARC, policyd-spf). The block ends at the first other header.
//! 3. Anything after the block counts for nothing: a header below another
//!    hop's `Received`, below an A-R of another (untrusted or second trusted)
//!    id, a second run of the trusted id, a header without an id.
//! 4. A malformed header in the block (or as its first header) voids it.
//! 5. Within the block, each method (`dkim`, `spf`, `dmarc`) is decided by
//!    the first header that reports it; a later header of the block cannot
//!    add a pass for a method an earlier one already reported.
//!
//! NOTE: the trusted MTA must add its `Authentication-Results` to every mail
//! and remove incoming ones that carry its own authserv-id (RFC 8601 §5);
//! where it does not, a sender can still forge one.
//!
//! # Alignment
//!
//! DKIM must be *strictly* aligned: `header.d` equals the From domain (case
//! and a final dot ignored). Relaxed alignment (DMARC's organisational
//! domain) would need the Public Suffix List, which postbote does not carry;
//! staff writing from a subdomain need a signature of that subdomain, or the
//! secret. `header.i` alone never counts.
//!
//! NOTE: SPF only proves the envelope sender's domain authorised the sending
//! IP; where a domain's SPF record includes a shared provider, other customers
//! of that provider pass too. Hence SPF alone is off unless staff enable it.

use crate::config::settings::StaffSettings;
use crate::intake::Incoming;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Whether a command mail is authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Authenticated(Via),
    /// Not authenticated; the German reason for the staff reply.
    Rejected(String),
}

/// How a command mail was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Dkim,
    Spf,
    Secret,
}

/// What decides which `Authentication-Results` count and what they prove.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// authserv-ids of the boundary MTA (`staff.trusted_authserv_ids`).
    pub trusted_authserv_ids: &'a [String],
    /// `Received` headers the own hops add above the boundary MTA's block
    /// (`staff.trusted_received_headers`).
    pub received_headers: usize,
    /// `spf=pass` alone authenticates (`staff.accept_spf_only`).
    pub accept_spf_only: bool,
}

impl<'a> Policy<'a> {
    pub fn of(staff: &'a StaffSettings) -> Policy<'a> {
        Policy {
            trusted_authserv_ids: &staff.trusted_authserv_ids,
            received_headers: staff.trusted_received_headers,
            accept_spf_only: staff.accept_spf_only,
        }
    }
}

/// One parsed `Authentication-Results` header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    /// The server that wrote the header, as written (case kept); `None` when
    /// the header has none (then it is never trusted).
    pub authserv_id: Option<String>,
    /// The results, in order; empty for `none`.
    pub results: Vec<MethodResult>,
}

/// One `method=result` with its properties, e.g.
/// `dkim=pass header.d=example.de header.s=sel1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    /// Lower case, without a method version (`dkim`, `spf`, `dmarc`, …).
    pub method: String,
    /// Lower case (`pass`, `fail`, `softfail`, `none`, …).
    pub result: String,
    /// The `reason=` value, if any.
    pub reason: Option<String>,
    /// `(lower-case name, value)`, e.g. `("header.d", "example.de")`; values
    /// unquoted. Non-standard `key=value` pairs (`action=none`) are kept too.
    pub properties: Vec<(String, String)>,
}

impl MethodResult {
    /// The first value of a property (name in lower case, e.g. `header.d`).
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Decides whether a mail may command postbote; see the module documentation.
///
/// `secret` is the installation's secret (`None` or empty: no secret path);
/// `body_secret` is the secret written in the mail ([`super::Parsed::secret`]).
pub fn authenticate(
    mail: &Incoming,
    policy: &Policy<'_>,
    secret: Option<&SecretString>,
    body_secret: Option<&str>,
) -> Verdict {
    let Some(from) = &mail.from else {
        return Verdict::Rejected(
            "Die Absenderadresse fehlt oder ist ungültig; die Befehle wurden nicht ausgeführt."
                .into(),
        );
    };
    let configured = secret.filter(|s| !s.expose_secret().is_empty());
    let body_secret = body_secret.map(str::trim).filter(|s| !s.is_empty());
    let secret_ok = match (configured, body_secret) {
        (Some(configured), Some(given)) => {
            if same_secret(configured.expose_secret(), given) {
                true
            } else {
                return Verdict::Rejected(
                    "Das Kennwort ist falsch; die Befehle wurden nicht ausgeführt.".into(),
                );
            }
        }
        _ => false,
    };
    if let Some(via) = header_verdict(mail, policy, from.domain()) {
        return Verdict::Authenticated(via);
    }
    if secret_ok {
        return Verdict::Authenticated(Via::Secret);
    }
    let domain = from.domain();
    let checks = if policy.accept_spf_only {
        "DKIM- oder SPF-Prüfung"
    } else {
        "DKIM-Prüfung"
    };
    Verdict::Rejected(if configured.is_some() {
        format!(
            "Die Mail ließ sich nicht als echt bestätigen: keine bestandene {checks} \
             für die Absenderdomain {domain} durch den vertrauenswürdigen Eingangsserver, \
             und kein Kennwort in der Mail. Bitte erneut senden mit einer Zeile \
             „Kennwort: …“ über den Befehlen."
        )
    } else {
        format!(
            "Die Mail ließ sich nicht als echt bestätigen: keine bestandene {checks} \
             für die Absenderdomain {domain} durch den vertrauenswürdigen Eingangsserver. \
             Ein Kennwort ist für diese Installation nicht eingerichtet."
        )
    })
}

/// Whether `given` (the text of a mail's `Kennwort:` line) is the configured
/// secret; false when either is missing or empty.
pub fn secret_matches(secret: Option<&SecretString>, given: Option<&str>) -> bool {
    match (
        secret.filter(|s| !s.expose_secret().is_empty()),
        given.map(str::trim).filter(|s| !s.is_empty()),
    ) {
        (Some(configured), Some(given)) => same_secret(configured.expose_secret(), given),
        _ => false,
    }
}

/// Headers that local delivery adds above the boundary MTA's results.
const DELIVERY_HEADERS: &[&str] = &[
    "return-path",
    "delivered-to",
    "x-original-to",
    "x-delivered-to",
    "envelope-to",
    "x-envelope-to",
];

/// The results of the trusted boundary MTA's `Authentication-Results`
/// block (see the module documentation), each method from the first header
/// of the block that reports it; `None` when there is no valid block.
pub fn boundary_results(mail: &Incoming, policy: &Policy<'_>) -> Option<Vec<MethodResult>> {
    let trusted: Vec<String> = policy
        .trusted_authserv_ids
        .iter()
        .map(|id| id.trim().to_ascii_lowercase())
        .filter(|id| !id.is_empty())
        .collect();
    if trusted.is_empty() {
        return None;
    }
    let mut received = 0usize;
    let mut block: Option<(String, Vec<MethodResult>, Vec<String>)> = None;
    for (name, value) in &mail.headers {
        let name = name.as_str();
        if name == "authentication-results" {
            let parsed = authentication_results(value);
            let id = match &parsed {
                Some(r) => r.authserv_id.clone(),
                None => loose_authserv_id(value),
            }
            .map(|id| id.to_ascii_lowercase());
            match (&mut block, id) {
                // The first A-R of the top: it must be trusted.
                (None, Some(id)) if trusted.contains(&id) => {
                    let results = parsed?.results;
                    let methods = methods_of(&results);
                    block = Some((id, results, methods));
                }
                (None, _) => return None,
                // The same id directly below: part of the block.
                (Some((block_id, results, methods)), Some(id)) if *block_id == id => {
                    let more = parsed?.results;
                    let new: Vec<String> = methods_of(&more)
                        .into_iter()
                        .filter(|m| !methods.contains(m))
                        .collect();
                    results.extend(more.into_iter().filter(|r| new.contains(&r.method)));
                    methods.extend(new);
                }
                // Another id (or none) ends the block.
                (Some(_), _) => break,
            }
            continue;
        }
        if block.is_some() {
            break;
        }
        if DELIVERY_HEADERS.contains(&name) {
            continue;
        }
        if name == "received" && received < policy.received_headers {
            received += 1;
            continue;
        }
        // Anything else (another hop's Received, a header the sender wrote)
        // ends the top of the header block before any results.
        return None;
    }
    block.map(|(_, results, _)| results)
}

fn methods_of(results: &[MethodResult]) -> Vec<String> {
    let mut methods: Vec<String> = Vec::new();
    for r in results {
        if !methods.contains(&r.method) {
            methods.push(r.method.clone());
        }
    }
    methods
}

/// Whether the trusted boundary MTA reported `dmarc=fail` for this mail.
pub fn dmarc_failed(mail: &Incoming, policy: &Policy<'_>) -> bool {
    boundary_results(mail, policy).is_some_and(|results| {
        results
            .iter()
            .any(|r| r.method == "dmarc" && r.result == "fail")
    })
}

/// DKIM (or, where enabled, SPF) from the trusted boundary block.
fn header_verdict(mail: &Incoming, policy: &Policy<'_>, domain: &str) -> Option<Via> {
    if domain.is_empty() {
        return None;
    }
    let results = boundary_results(mail, policy)?;
    let (mut dkim, mut spf) = (false, false);
    for r in results.iter().filter(|r| r.result == "pass") {
        let matches = |property: &str| {
            r.property(property)
                .map(domain_of)
                .is_some_and(|x| same_domain(x, domain))
        };
        match r.method.as_str() {
            "dkim" => dkim |= matches("header.d"),
            "spf" => spf |= matches("smtp.mailfrom"),
            _ => {}
        }
    }
    if dkim {
        Some(Via::Dkim)
    } else if spf && policy.accept_spf_only {
        Some(Via::Spf)
    } else {
        None
    }
}

/// The domain of `local@domain`, `@domain` or `domain`, without a final dot.
fn domain_of(value: &str) -> &str {
    let d = value.rsplit_once('@').map_or(value, |(_, d)| d);
    d.strip_suffix('.').unwrap_or(d)
}

fn same_domain(a: &str, b: &str) -> bool {
    !a.is_empty() && a.eq_ignore_ascii_case(b)
}

/// Compares in constant time: both sides are hashed first, so neither the
/// position of the first difference nor the length of the secret shows.
fn same_secret(configured: &str, given: &str) -> bool {
    let a = Sha256::digest(configured.as_bytes());
    let b = Sha256::digest(given.as_bytes());
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Parses one `Authentication-Results` header value (RFC 8601): unfolds it,
/// drops comments (nested too), reads the authserv-id (with an optional
/// version) and the `;`-separated results. `None` when it is malformed.
pub fn authentication_results(value: &str) -> Option<AuthResults> {
    let clean = strip_comments(value)?;
    let mut parts = split_outside_quotes(&clean).into_iter();
    let first = parts.next()?.trim();
    let mut results = Vec::new();
    let authserv_id = if has_unquoted(first, '=') {
        // No authserv-id: the first part is already a result.
        results.extend(resinfo(first));
        None
    } else {
        let mut words = words_outside_quotes(first).into_iter();
        let id = unquote(words.next()?)?;
        match words.next() {
            None => {}
            Some(version) if !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) => {
            }
            Some(_) => return None,
        }
        if words.next().is_some() || id.is_empty() {
            return None;
        }
        Some(id)
    };
    let mut none = false;
    for part in parts {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if part.eq_ignore_ascii_case("none") {
            none = true;
            continue;
        }
        // A malformed result is skipped; it cannot pass anything.
        if let Some(r) = resinfo(part) {
            results.push(r);
        }
    }
    if none && !results.is_empty() {
        return None;
    }
    Some(AuthResults {
        authserv_id,
        results,
    })
}

/// `method[/version]=result [reason=…] [ptype.property=value …]`.
fn resinfo(part: &str) -> Option<MethodResult> {
    let mut pairs = Vec::new();
    let mut rest = part.trim_start();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = key(&rest[..eq])?;
        let (value, after) = value(rest[eq + 1..].trim_start())?;
        pairs.push((key, value));
        rest = after.trim_start();
    }
    let mut pairs = pairs.into_iter();
    let (method, result) = pairs.next()?;
    let method = method.split('/').next().unwrap_or_default().to_string();
    if method.is_empty() || method.contains('.') {
        return None;
    }
    let mut r = MethodResult {
        method,
        result: result.to_ascii_lowercase(),
        reason: None,
        properties: Vec::new(),
    };
    for (k, v) in pairs {
        if k == "reason" && r.reason.is_none() {
            r.reason = Some(v);
        } else {
            r.properties.push((k, v));
        }
    }
    Some(r)
}

/// The name before `=`, lower case. Whitespace may stand only around `.`
/// and `/` (`header . d`, `dkim / 1`).
fn key(raw: &str) -> Option<String> {
    let words: Vec<&str> = raw.split_whitespace().collect();
    let joins_ok = words
        .windows(2)
        .all(|w| w[0].ends_with(['.', '/']) || w[1].starts_with(['.', '/']));
    let key: String = words.concat().to_ascii_lowercase();
    let chars_ok = key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'));
    (joins_ok && chars_ok && !key.is_empty()).then_some(key)
}

/// A value after `=`: a quoted string or a run of non-blank characters.
fn value(s: &str) -> Option<(String, &str)> {
    if s.starts_with('"') {
        let end = quoted_end(s)?;
        return Some((unquote(&s[..end])?, &s[end..]));
    }
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    Some((s[..end].to_string(), &s[end..]))
}

/// The byte index just after the closing quote of the quoted string `s`
/// starts with.
fn quoted_end(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// A token as is, or the content of a quoted string with quoted-pairs resolved.
fn unquote(s: &str) -> Option<String> {
    let Some(inner) = s.strip_prefix('"') else {
        return (!s.contains('"')).then(|| s.to_string());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(chars.next()?);
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Unfolds (CR, LF and tabs become spaces) and replaces comments, nested
/// ones too, by a space. Quoted strings are kept; inside them `(` is text.
/// `None` for an unterminated quoted string or comment.
fn strip_comments(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    let mut in_quote = false;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        let c = if matches!(c, '\r' | '\n' | '\t') {
            ' '
        } else {
            c
        };
        if depth > 0 {
            match c {
                '\\' => {
                    chars.next();
                }
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        out.push(' ');
                    }
                }
                _ => {}
            }
        } else if in_quote {
            out.push(c);
            match c {
                '\\' => out.push(chars.next()?),
                '"' => in_quote = false,
                _ => {}
            }
        } else {
            match c {
                '(' => depth = 1,
                ')' => return None,
                '"' => {
                    in_quote = true;
                    out.push(c);
                }
                c => out.push(c),
            }
        }
    }
    (depth == 0 && !in_quote).then_some(out)
}

/// Splits at `;` outside quoted strings (comments are already gone).
fn split_outside_quotes(s: &str) -> Vec<&str> {
    split_where(s, |c| c == ';')
}

/// Splits at whitespace outside quoted strings, dropping empty pieces.
fn words_outside_quotes(s: &str) -> Vec<&str> {
    split_where(s, char::is_whitespace)
        .into_iter()
        .filter(|w| !w.is_empty())
        .collect()
}

fn split_where(s: &str, at: impl Fn(char) -> bool) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut in_quote, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        if in_quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_quote = false,
                _ => {}
            }
        } else if c == '"' {
            in_quote = true;
        } else if at(c) {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&s[start..]);
    parts
}

fn has_unquoted(s: &str, needle: char) -> bool {
    split_where(s, |c| c == needle).len() > 1
}

/// The first word of a header value that does not parse: its claimed
/// authserv-id, if it looks like one.
fn loose_authserv_id(value: &str) -> Option<String> {
    let first = value
        .trim_start()
        .split(|c: char| c.is_whitespace() || c == ';' || c == '(')
        .next()?;
    (!first.is_empty() && !first.contains(['=', '"', ')'])).then(|| first.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EmailAddress;

    fn mail(from: &str, headers: &[&str]) -> Incoming {
        Incoming {
            from: EmailAddress::parse(from).ok(),
            headers: headers
                .iter()
                .map(|v| ("authentication-results".to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    static TRUSTED: std::sync::LazyLock<Vec<String>> =
        std::sync::LazyLock::new(|| vec!["mail.ews-buero.de".into()]);
    static TWO: std::sync::LazyLock<Vec<String>> =
        std::sync::LazyLock::new(|| vec!["mail.ews-buero.de".into(), "MX2.ews-buero.de".into()]);

    fn policy() -> Policy<'static> {
        Policy {
            trusted_authserv_ids: &TRUSTED,
            received_headers: 2,
            accept_spf_only: false,
        }
    }

    fn spf_policy() -> Policy<'static> {
        Policy {
            accept_spf_only: true,
            ..policy()
        }
    }

    fn check(from: &str, headers: &[&str]) -> Verdict {
        authenticate(&mail(from, headers), &policy(), None, None)
    }

    fn check_spf(from: &str, headers: &[&str]) -> Verdict {
        authenticate(&mail(from, headers), &spf_policy(), None, None)
    }

    const STAFF: &str = "m.muster@kreis-nord.de";

    #[test]
    fn parses_opendkim_with_comments_and_folding() {
        let v = "mail.ews-buero.de;\r\n\tdkim=pass (2048-bit key; unprotected) header.d=kreis-nord.de\r\n\theader.i=@kreis-nord.de header.a=rsa-sha256 header.s=sel2024 header.b=\"AbC1+/xy\";\r\n\tdkim-atps=neutral";
        let a = authentication_results(v).unwrap();
        assert_eq!(a.authserv_id.as_deref(), Some("mail.ews-buero.de"));
        assert_eq!(a.results.len(), 2);
        let d = &a.results[0];
        assert_eq!((d.method.as_str(), d.result.as_str()), ("dkim", "pass"));
        assert_eq!(d.property("header.d"), Some("kreis-nord.de"));
        assert_eq!(d.property("header.i"), Some("@kreis-nord.de"));
        assert_eq!(d.property("header.b"), Some("AbC1+/xy"));
        assert_eq!(a.results[1].method, "dkim-atps");
        assert_eq!(check(STAFF, &[v]), Verdict::Authenticated(Via::Dkim));
    }

    #[test]
    fn parses_microsoft_365_style() {
        let v = "spf=pass (sender IP is 40.107.1.2)\r\n smtp.mailfrom=kreis-nord.de; dkim=pass (signature was verified)\r\n header.d=kreis-nord.de;dmarc=pass action=none\r\n header.from=kreis-nord.de;compauth=pass reason=100";
        let a = authentication_results(v).unwrap();
        assert_eq!(a.authserv_id, None);
        let methods: Vec<_> = a
            .results
            .iter()
            .map(|r| (r.method.as_str(), r.result.as_str()))
            .collect();
        assert_eq!(
            methods,
            [
                ("spf", "pass"),
                ("dkim", "pass"),
                ("dmarc", "pass"),
                ("compauth", "pass")
            ]
        );
        assert_eq!(
            a.results[0].property("smtp.mailfrom"),
            Some("kreis-nord.de")
        );
        assert_eq!(a.results[2].property("action"), Some("none"));
        assert_eq!(a.results[3].reason.as_deref(), Some("100"));
        // no authserv-id: cannot be attributed, never trusted
        assert!(matches!(check(STAFF, &[v]), Verdict::Rejected(_)));

        // with an authserv-id and version, as on-premises Exchange writes it
        let v = format!("mail.ews-buero.de 1; {v}");
        let a = authentication_results(&v).unwrap();
        assert_eq!(a.authserv_id.as_deref(), Some("mail.ews-buero.de"));
        assert_eq!(a.results.len(), 4);
        assert_eq!(check(STAFF, &[&v]), Verdict::Authenticated(Via::Dkim));
    }

    #[test]
    fn parses_gmail_and_rspamd_style() {
        let gmail = "mx.google.com;\r\n       dkim=pass header.i=@kreis-nord.de header.s=20230601 header.b=Jx5aBcDe;\r\n       spf=pass (google.com: domain of m.muster@kreis-nord.de designates 1.2.3.4 as permitted sender) smtp.mailfrom=m.muster@kreis-nord.de;\r\n       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=kreis-nord.de";
        let a = authentication_results(gmail).unwrap();
        assert_eq!(a.authserv_id.as_deref(), Some("mx.google.com"));
        assert_eq!(a.results.len(), 3);
        let ids = vec!["MX.Google.com".to_string()];
        let google = Policy {
            trusted_authserv_ids: &ids,
            ..policy()
        };
        // Gmail names the signer by header.i only: not strictly aligned
        // proof (d may be a parent domain); SPF where enabled.
        assert!(matches!(
            authenticate(&mail(STAFF, &[gmail]), &google, None, None),
            Verdict::Rejected(_)
        ));
        let lenient = Policy {
            accept_spf_only: true,
            ..google
        };
        assert_eq!(
            authenticate(&mail(STAFF, &[gmail]), &lenient, None, None),
            Verdict::Authenticated(Via::Spf)
        );

        let rspamd = "mail.ews-buero.de;\n\tspf=pass (mail.ews-buero.de: domain of \"bounce+x=y@kreis-nord.de\" designates 1.2.3.4 as permitted sender; (nested) comment) smtp.mailfrom=\"bounce+x=y@kreis-nord.de\";\n\tdmarc=pass (policy=none) header.from=kreis-nord.de";
        let a = authentication_results(rspamd).unwrap();
        assert_eq!(
            a.results[0].property("smtp.mailfrom"),
            Some("bounce+x=y@kreis-nord.de")
        );
        assert_eq!(
            check_spf(STAFF, &[rspamd]),
            Verdict::Authenticated(Via::Spf)
        );
        // SPF alone counts only where staff enabled it.
        assert!(matches!(check(STAFF, &[rspamd]), Verdict::Rejected(_)));
    }

    #[test]
    fn parses_policyd_spf_with_comment_containing_semicolons() {
        let v = "mail.ews-buero.de; spf=pass (sender SPF authorized) smtp.mailfrom=kreis-nord.de (client-ip=1.2.3.4; helo=out.kreis-nord.de; envelope-from=x@kreis-nord.de; receiver=<UNKNOWN>)";
        let a = authentication_results(v).unwrap();
        assert_eq!(a.results.len(), 1);
        assert_eq!(
            a.results[0].property("smtp.mailfrom"),
            Some("kreis-nord.de")
        );
        assert_eq!(check_spf(STAFF, &[v]), Verdict::Authenticated(Via::Spf));
        assert!(matches!(check(STAFF, &[v]), Verdict::Rejected(_)));
    }

    #[test]
    fn parses_none_versions_and_odd_spacing() {
        let a = authentication_results("mail.ews-buero.de 1; none").unwrap();
        assert_eq!(a.authserv_id.as_deref(), Some("mail.ews-buero.de"));
        assert!(a.results.is_empty());
        let a = authentication_results(
            "  \"mail.ews-buero.de\" ; dkim / 1 = pass header . d = kreis-nord.de ;",
        )
        .unwrap();
        assert_eq!(a.authserv_id.as_deref(), Some("mail.ews-buero.de"));
        assert_eq!(a.results[0].method, "dkim");
        assert_eq!(a.results[0].property("header.d"), Some("kreis-nord.de"));
        let a =
            authentication_results("mail.ews-buero.de; DKIM=PASS Header.D=Kreis-Nord.DE").unwrap();
        assert_eq!(a.results[0].result, "pass");
        assert_eq!(
            check(
                STAFF,
                &["mail.ews-buero.de; DKIM=PASS Header.D=Kreis-Nord.DE."]
            ),
            Verdict::Authenticated(Via::Dkim)
        );
    }

    #[test]
    fn malformed_headers_are_none() {
        for bad in [
            "",
            "   ",
            "; dkim=pass header.d=kreis-nord.de",
            "mail.ews-buero.de x y; dkim=pass",
            "mail.ews-buero.de; dkim=pass (unclosed comment",
            "mail.ews-buero.de; dkim=pass header.d=\"unclosed",
            "mail.ews-buero.de) ; dkim=pass",
            "mail.ews-buero.de; none; dkim=pass header.d=kreis-nord.de",
        ] {
            assert_eq!(authentication_results(bad), None, "{bad:?}");
        }
    }

    /// A mail with headers `(name, value)` in order, top first.
    fn delivered(from: &str, headers: &[(&str, &str)]) -> Incoming {
        Incoming {
            from: EmailAddress::parse(from).ok(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn only_the_boundary_block_counts_forged_reordered_duplicated_malformed() {
        const AR: &str = "authentication-results";
        let ok = (AR, "mail.ews-buero.de; dkim=pass header.d=kreis-nord.de");
        let no = (AR, "mail.ews-buero.de; dkim=fail header.d=kreis-nord.de");
        let spf = (
            AR,
            "mail.ews-buero.de; spf=pass smtp.mailfrom=kreis-nord.de",
        );
        let broken = (AR, "mail.ews-buero.de; dkim=pass header.d=\"kreis-nord.de");
        let evil = (AR, "evil.example; dkim=pass header.d=kreis-nord.de");
        let no_id = (AR, "dkim=pass header.d=kreis-nord.de");
        let mx2_ok = (AR, "mx2.ews-buero.de; dkim=pass header.d=kreis-nord.de");
        let mx2_no = (AR, "mx2.ews-buero.de; dkim=fail header.d=kreis-nord.de");
        let mx1_none = (AR, "mail.ews-buero.de; dkim=none");
        let rp = ("return-path", "<m.muster@kreis-nord.de>");
        let dt = ("delivered-to", "projekt@ews.test");
        let own = (
            "received",
            "from mail.ews-buero.de by imap.ews-buero.de with LMTP",
        );
        let hop = ("received", "from out.evil.example by relay.evil.example");
        let from = ("from", "m.muster@kreis-nord.de");
        let one = policy();
        let two = Policy {
            trusted_authserv_ids: &TWO,
            ..policy()
        };
        let pass = Some(Via::Dkim);
        type Case<'a> = (
            &'a str,
            &'a Policy<'a>,
            Vec<(&'a str, &'a str)>,
            Option<Via>,
        );
        #[rustfmt::skip]
        let table: Vec<Case> = vec![
            ("as delivered: trace headers, own hops, block", &one, vec![rp, dt, own, own, ok, from], pass),
            ("block alone", &one, vec![ok], pass),
            ("block between the own hops", &one, vec![own, ok, own, from], pass),
            ("forged: below another hop's Received", &one, vec![own, own, hop, ok, from], None),
            ("forged: below a header the sender wrote", &one, vec![from, ok], None),
            ("reordered: below the sender's headers", &one, vec![rp, own, own, from, ok], None),
            ("forged: below another server's id", &one, vec![evil, ok], None),
            ("forged: below a header without id", &one, vec![no_id, ok], None),
            ("forged itself: another server's id", &one, vec![evil], None),
            ("duplicated: the first report decides", &one, vec![no, ok], None),
            ("duplicated: the first report decides (pass)", &one, vec![ok, no], pass),
            ("duplicated: a second run after an own hop", &one, vec![no, own, ok], None),
            ("malformed first header of the trusted id", &one, vec![broken, ok], None),
            ("malformed header inside the block", &one, vec![spf, broken], None),
            ("malformed below the block changes nothing", &one, vec![ok, from, broken], pass),
            ("methods from several headers of the same MTA", &one, vec![spf, ok], pass),
            ("no results at all", &one, vec![rp, dt, own, own, from], None),
            ("nothing", &one, vec![], None),
            ("two ids: either may be the boundary", &two, vec![own, mx2_ok, from], pass),
            ("two ids: a second trusted id counts for nothing", &two, vec![mx1_none, mx2_ok], None),
            ("two ids: nor the other way round", &two, vec![mx2_no, ok], None),
            ("two ids: below another server's id", &two, vec![evil, mx2_ok], None),
            ("two ids: below another hop", &two, vec![own, own, hop, mx2_ok], None),
            ("two ids: forged lower with the other id", &two, vec![own, ok, own, mx2_no, from], pass),
            ("two ids: duplicated in the block", &two, vec![no, ok, mx2_ok], None),
        ];
        for (what, policy, headers, want) in table {
            let got = match authenticate(&delivered(STAFF, &headers), policy, None, None) {
                Verdict::Authenticated(via) => Some(via),
                Verdict::Rejected(_) => None,
            };
            assert_eq!(got, want, "{what}: {headers:?}");
        }
        // More own hops only where configured.
        let three = Policy {
            received_headers: 3,
            ..policy()
        };
        let m = delivered(STAFF, &[own, own, own, ok]);
        assert!(matches!(
            authenticate(&m, &one, None, None),
            Verdict::Rejected(_)
        ));
        assert_eq!(
            authenticate(&m, &three, None, None),
            Verdict::Authenticated(Via::Dkim)
        );

        // No trusted ids configured: nothing counts.
        let pass = "mail.ews-buero.de; dkim=pass header.d=kreis-nord.de";
        for ids in [vec![], vec![" ".to_string()]] {
            let none = Policy {
                trusted_authserv_ids: &ids,
                ..policy()
            };
            assert!(matches!(
                authenticate(&mail(STAFF, &[pass]), &none, None, None),
                Verdict::Rejected(_)
            ));
        }
    }

    #[test]
    fn dmarc_fail_only_from_the_boundary_block() {
        const AR: &str = "authentication-results";
        let fail = (
            AR,
            "mail.ews-buero.de; dkim=none; dmarc=fail header.from=kreis-nord.de",
        );
        let pass = (
            AR,
            "mail.ews-buero.de; dmarc=pass header.from=kreis-nord.de",
        );
        let from = ("from", "m.muster@kreis-nord.de");
        let own = ("received", "from a by b");
        assert!(dmarc_failed(
            &delivered(STAFF, &[own, fail, from]),
            &policy()
        ));
        assert!(!dmarc_failed(&delivered(STAFF, &[pass, from]), &policy()));
        assert!(!dmarc_failed(&delivered(STAFF, &[pass, fail]), &policy()));
        assert!(!dmarc_failed(&delivered(STAFF, &[from, fail]), &policy()));
        assert!(!dmarc_failed(&delivered(STAFF, &[]), &policy()));
    }

    #[test]
    fn results_other_than_pass_and_mismatched_domains_are_rejected() {
        for v in [
            "mail.ews-buero.de; dkim=fail header.d=kreis-nord.de",
            "mail.ews-buero.de; dkim=neutral header.d=kreis-nord.de",
            "mail.ews-buero.de; dkim=temperror header.d=kreis-nord.de",
            "mail.ews-buero.de; spf=softfail smtp.mailfrom=kreis-nord.de",
            "mail.ews-buero.de; spf=neutral smtp.mailfrom=kreis-nord.de",
            "mail.ews-buero.de; dkim=pass header.d=evil.example",
            "mail.ews-buero.de; dkim=pass header.d=nord.de",
            "mail.ews-buero.de; dkim=pass header.d=sub.kreis-nord.de",
            "mail.ews-buero.de; dkim=pass header.d=kreis-nord.de.evil.example",
            "mail.ews-buero.de; dkim=pass header.i=@evil.example",
            "mail.ews-buero.de; dkim=pass",
            "mail.ews-buero.de; spf=pass smtp.mailfrom=x@evil.example",
            "mail.ews-buero.de; spf=pass smtp.helo=kreis-nord.de",
            "mail.ews-buero.de; spf=pass smtp.mailfrom=<>",
            "mail.ews-buero.de; dmarc=pass header.from=kreis-nord.de",
            "mail.ews-buero.de; arc=pass header.d=kreis-nord.de",
            "mail.ews-buero.de; dkim=pass (header.d=kreis-nord.de) header.d=evil.example",
            "mail.ews-buero.de; none",
        ] {
            match check(STAFF, &[v]) {
                Verdict::Rejected(reason) => assert!(reason.contains("kreis-nord.de"), "{reason}"),
                other => panic!("{v:?} gave {other:?}"),
            }
        }
        // Strict alignment: a signature of the parent domain does not
        // cover a subdomain's From, header.i notwithstanding.
        assert!(matches!(
            check(
                "a@sub.kreis-nord.de",
                &[
                    "mail.ews-buero.de; dkim=pass header.d=kreis-nord.de header.i=@sub.kreis-nord.de"
                ]
            ),
            Verdict::Rejected(_)
        ));
        assert!(matches!(
            check(
                STAFF,
                &["mail.ews-buero.de; dkim=pass header.i=@kreis-nord.de"]
            ),
            Verdict::Rejected(_)
        ));
        // DKIM wins over SPF when both pass
        assert_eq!(
            check(
                STAFF,
                &[
                    "mail.ews-buero.de; spf=pass smtp.mailfrom=kreis-nord.de; dkim=pass header.d=kreis-nord.de"
                ]
            ),
            Verdict::Authenticated(Via::Dkim)
        );
        // one failing signature beside a passing one: the passing one counts
        assert_eq!(
            check(
                STAFF,
                &[
                    "mail.ews-buero.de; dkim=fail header.d=kreis-nord.de; dkim=pass header.d=kreis-nord.de"
                ]
            ),
            Verdict::Authenticated(Via::Dkim)
        );
    }

    #[test]
    fn missing_from_is_rejected() {
        let m = Incoming {
            headers: vec![(
                "authentication-results".into(),
                "mail.ews-buero.de; dkim=pass header.d=kreis-nord.de".into(),
            )],
            ..Default::default()
        };
        assert!(matches!(
            authenticate(&m, &policy(), None, None),
            Verdict::Rejected(r) if r.contains("Absenderadresse")
        ));
    }

    #[test]
    fn secret_right_wrong_absent() {
        let secret = SecretString::from("Sonnenblume-42");
        let no_headers = mail(STAFF, &[]);
        let auth = |body: Option<&str>, s: Option<&SecretString>| {
            authenticate(&no_headers, &policy(), s, body)
        };
        assert_eq!(
            auth(Some("Sonnenblume-42"), Some(&secret)),
            Verdict::Authenticated(Via::Secret)
        );
        assert_eq!(
            auth(Some("  Sonnenblume-42 "), Some(&secret)),
            Verdict::Authenticated(Via::Secret)
        );
        for wrong in ["sonnenblume-42", "Sonnenblume-4", "Sonnenblume-421", "x"] {
            assert!(matches!(
                auth(Some(wrong), Some(&secret)),
                Verdict::Rejected(r) if r.contains("Kennwort ist falsch")
            ));
        }
        assert!(matches!(
            auth(None, Some(&secret)),
            Verdict::Rejected(r) if r.contains("Kennwort: …")
        ));
        assert!(matches!(
            auth(Some(""), Some(&secret)),
            Verdict::Rejected(_)
        ));

        // no secret configured, or an empty one: no secret path at all
        let empty = SecretString::from("");
        for configured in [None, Some(&empty)] {
            assert!(matches!(
                auth(Some(""), configured),
                Verdict::Rejected(r) if r.contains("nicht eingerichtet")
            ));
            assert!(matches!(
                auth(Some("irgendwas"), configured),
                Verdict::Rejected(r) if r.contains("nicht eingerichtet")
            ));
        }

        // a wrong secret rejects even when DKIM passed
        let signed = mail(
            STAFF,
            &["mail.ews-buero.de; dkim=pass header.d=kreis-nord.de"],
        );
        assert!(matches!(
            authenticate(&signed, &policy(), Some(&secret), Some("falsch")),
            Verdict::Rejected(_)
        ));
        assert_eq!(
            authenticate(&signed, &policy(), Some(&secret), Some("Sonnenblume-42")),
            Verdict::Authenticated(Via::Dkim)
        );
        assert_eq!(
            authenticate(&signed, &policy(), Some(&secret), None),
            Verdict::Authenticated(Via::Dkim)
        );
    }

    #[test]
    fn secret_never_in_debug_or_reasons() {
        let secret = SecretString::from("Sonnenblume-42");
        let m = mail(STAFF, &[]);
        for body in [Some("falsch"), None] {
            let v = authenticate(&m, &policy(), Some(&secret), body);
            assert!(!format!("{v:?}").contains("Sonnenblume"));
        }
        assert!(!format!("{secret:?}").contains("Sonnenblume"));
    }

    #[test]
    fn constant_time_compare_is_still_a_compare() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(same_secret("ümläut€", "ümläut€"));
    }

    #[test]
    fn never_panics_on_garbage() {
        let pieces = [
            "mail.ews-buero.de",
            ";",
            "=",
            "(",
            ")",
            "\"",
            "\\",
            " ",
            "\r\n\t",
            "dkim",
            "pass",
            "header.d",
            "kreis-nord.de",
            "@",
            ".",
            "/",
            "1",
            "none",
            "ä",
            "€",
            "𝄞",
            "\u{0}",
            "\u{202e}",
            "smtp.mailfrom",
            "spf",
            "reason",
            "İ",
        ];
        let seed = 0x9e37_79b9_7f4a_7c15;
        let (mut next, mut last) = (crate::test_noise::xorshift(seed), seed);
        for _ in 0..5000 {
            let mut text = String::new();
            let n = (last % 30) as usize;
            for _ in 0..n {
                last = next();
                text.push_str(pieces[(last % pieces.len() as u64) as usize]);
            }
            let _ = authentication_results(&text);
            let _ = authenticate(&mail(STAFF, &[&text, &text]), &policy(), None, Some(&text));
        }
        for long in [
            "(".repeat(200_000),
            ")".repeat(200_000),
            "\"".repeat(200_001),
            "\\".repeat(200_001),
            format!(
                "mail.ews-buero.de; dkim=pass header.d={}",
                "ä".repeat(200_000)
            ),
            format!("mail.ews-buero.de;{}", " dkim=pass;".repeat(50_000)),
            "=".repeat(100_000),
        ] {
            let _ = authentication_results(&long);
            let _ = check(STAFF, &[&long]);
        }
    }
}
