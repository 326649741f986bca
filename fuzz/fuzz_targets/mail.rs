//! `documents::analyse::analyse`: a whole raw mail (MIME parsing, format
//! detection, nested mails, ZIP and TNEF unpacking, every extractor).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let analysis = postbote::documents::analyse::analyse(data, &postbote_fuzz::limits());
    postbote_fuzz::show(|| format!("{analysis:#?}"));
});
