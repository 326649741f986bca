//! `documents::tnef::attachments` on arbitrary bytes (winmail.dat).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let result = postbote::documents::tnef::attachments(data, &postbote_fuzz::limits());
    postbote_fuzz::show(|| match &result {
        Ok(files) => files
            .iter()
            .map(|f| format!("{:?} {:?} {} bytes", f.name, f.mime_type, f.data.len()))
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => format!("{e:?}"),
    });
});
