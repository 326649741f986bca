//! `documents::pdf::extract` on arbitrary bytes.
//!
//! Note: the extractor runs lopdf through `run_isolated`, which catches
//! panics. libFuzzer's panic hook aborts on every panic, caught or not, so a
//! panic inside lopdf is reported here as a crash (in the daemon it would
//! become `ExtractError::Malformed`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let result = postbote::documents::pdf::extract(data, &postbote_fuzz::limits());
    if let Ok(ex) = &result {
        postbote_fuzz::read_boxes(ex);
    }
    postbote_fuzz::show(|| format!("{result:#?}"));
});
