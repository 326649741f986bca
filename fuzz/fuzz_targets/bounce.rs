//! `intake::bounce::parse` on arbitrary bytes (a whole raw mail).
#![no_main]

use libfuzzer_sys::fuzz_target;
use postbote::intake::bounce;

fuzz_target!(|data: &[u8]| {
    let b = bounce::parse(data);
    if let Some(b) = &b {
        assert!(b.recipients.len() <= 100);
        assert!(b.original_message_ids.len() <= 10);
        for r in &b.recipients {
            assert!(!r.address.contains(['\r', '\n']));
            assert!(r.diagnostic.as_deref().is_none_or(|d| !d.contains(['\r', '\n'])));
        }
    }
    postbote_fuzz::show(|| format!("{b:#?}"));
});
