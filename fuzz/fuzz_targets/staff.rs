//! What staff send: command mails (`commands::parse`, the
//! Authentication-Results parser and `authenticate` on a parsed mail) and
//! roster CSV files (`participants::csv::parse`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use postbote::intake::Incoming;
use postbote::workflow::commands::{authenticate, authentication_results, parse};
use postbote::workflow::participants::csv;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = parse(&text);
    assert!(parsed.commands.len() <= 50);
    for c in &parsed.commands {
        let _ = c.describe();
    }
    let _ = authentication_results(&text);
    if let Some(mail) = Incoming::parse(data) {
        let secret = secrecy::SecretString::from("geheim".to_string());
        let _ = authenticate(&mail, &["mx.ews.test".to_string()], Some(&secret), parsed.secret.as_deref());
    }
    let roster = csv::parse(data);
    if let Ok(rows) = &roster {
        for r in rows {
            assert!(!r.name.contains(['\r', '\n']) && !r.municipality.contains(['\r', '\n']));
        }
    }
    postbote_fuzz::show(|| format!("{:#?}\n{roster:#?}", parsed.commands));
});
