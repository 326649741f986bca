//! `documents::odt::extract` on arbitrary bytes (ZIP + ODF XML).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let result = postbote::documents::odt::extract(data, &postbote_fuzz::limits());
    if let Ok(ex) = &result {
        postbote_fuzz::read_boxes(ex);
    }
    postbote_fuzz::show(|| format!("{result:#?}"));
});
