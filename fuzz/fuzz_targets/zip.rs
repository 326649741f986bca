//! `documents::archive::entries` on arbitrary bytes, plus the name check on
//! every entry it returns.
//!
//! Note: the ZIP reader wraps the `zip` crate in `catch_unwind`; libFuzzer's
//! panic hook aborts on every panic, caught or not, so a panic inside `zip`
//! is reported here as a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postbote::documents::archive;

fuzz_target!(|data: &[u8]| {
    match archive::entries(data, &postbote_fuzz::limits()) {
        Ok(entries) => {
            for e in &entries {
                let unsafe_name = archive::is_unsafe_name(&e.name);
                postbote_fuzz::show(|| {
                    format!(
                        "{:?} dir={} unsafe={}/{unsafe_name} {} bytes",
                        e.name,
                        e.is_dir,
                        e.unsafe_name,
                        e.data.len()
                    )
                });
            }
        }
        Err(e) => postbote_fuzz::show(|| format!("{e:?}")),
    }
});
