//! `documents::docx::extract` on arbitrary bytes (ZIP + WordprocessingML).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let result = postbote::documents::docx::extract(data, &postbote_fuzz::limits());
    if let Ok(ex) = &result {
        postbote_fuzz::read_boxes(ex);
    }
    postbote_fuzz::show(|| format!("{result:#?}"));
});
