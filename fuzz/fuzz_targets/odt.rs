//! `documents::odt::extract` on arbitrary bytes (ZIP + ODF XML).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let result = postbote::documents::odt::extract(data, &postbote_fuzz::limits());
    postbote_fuzz::show(|| format!("{result:#?}"));
});
