//! The text-only readers on arbitrary (lossily decoded) UTF-8:
//! `glyphs::checkboxes_in_text`, `dates::dates_in_text`,
//! `dates::choices_from_text`, `dates::choices_from_checkboxes` and
//! `dates::merge`.
//!
//! Input layout: the first three bytes choose an interview day (year
//! 1900..=2155, month, day); the days are that day, the two days after it and
//! three fixed days in 2026. The rest is the text.
#![no_main]

use chrono::{Datelike, NaiveDate};
use libfuzzer_sys::fuzz_target;
use postbote::documents::{dates, glyphs};

fuzz_target!(|data: &[u8]| {
    let (head, rest) = data.split_at(data.len().min(3));
    let mut days: Vec<NaiveDate> = ["2026-06-29", "2026-06-30", "2026-07-01"]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    if let [y, m, d] = *head {
        let first = NaiveDate::from_ymd_opt(
            1900 + i32::from(y),
            1 + u32::from(m) % 12,
            1 + u32::from(d) % 28,
        );
        if let Some(first) = first {
            days.extend(first.iter_days().take(3));
        }
    }
    let text = String::from_utf8_lossy(rest);

    let boxes = glyphs::checkboxes_in_text(&text);
    let year = days.iter().map(|d| d.year()).min().unwrap_or(2026);
    let _ = dates::dates_in_text(&text, year);
    let mut choices = dates::choices_from_text(&text, &days);
    choices.extend(dates::choices_from_checkboxes(&boxes, &days));
    let merged = dates::merge(choices);
    postbote_fuzz::show(|| format!("days {days:?}\nboxes {boxes:#?}\nchoices {merged:#?}"));
});
