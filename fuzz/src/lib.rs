//! Shared by the fuzz targets in `fuzz_targets/`.

use postbote::documents::{Extracted, Limits, boxes};

/// Limits for fuzzing: the same kind as in production, but small enough that
/// legitimate large allocations (a 64 MiB member, 256 MiB in total) do not
/// slow the fuzzer down or trip its RSS limit. A crash below these limits is
/// still a bug.
pub fn limits() -> Limits {
    Limits {
        max_input_bytes: 4 * 1024 * 1024,
        max_zip_entries: 200,
        max_entry_bytes: 4 * 1024 * 1024,
        max_total_bytes: 16 * 1024 * 1024,
        max_depth: 3,
    }
}

/// Set `POSTBOTE_FUZZ_SHOW=1` to have the targets print what they read, e.g.
/// to check the seeds or to look at an artifact:
///
/// ```sh
/// POSTBOTE_FUZZ_SHOW=1 RUSTC_BOOTSTRAP=1 cargo fuzz run docx fuzz/seeds/docx/form.docx
/// ```
static SHOW: std::sync::LazyLock<bool> =
    std::sync::LazyLock::new(|| std::env::var_os("POSTBOTE_FUZZ_SHOW").is_some_and(|v| v != "0"));

/// Prints `what()` to stderr when `POSTBOTE_FUZZ_SHOW` is set; otherwise does
/// nothing (the closure is not called).
pub fn show(what: impl FnOnce() -> String) {
    if *SHOW {
        eprintln!("{}", what());
    }
}

/// Maps the checkboxes of an extraction to the five interview days of
/// `config/ews7.toml` (`boxes::read`, which runs on the workflow thread and
/// must never panic), and shows the result.
pub fn read_boxes(ex: &Extracted) {
    let days: Vec<chrono::NaiveDate> = [
        "2026-06-29",
        "2026-06-30",
        "2026-07-01",
        "2026-07-02",
        "2026-07-03",
    ]
    .iter()
    .filter_map(|d| d.parse().ok())
    .collect();
    let read = boxes::read(ex, &days);
    show(|| format!("{read:#?}"));
}
