//! German presentation of dates and times, always in Europe/Berlin.
//!
//! Every date shown to applicants or staff goes through these functions, so
//! the format is the same everywhere: `Do., 27.08.2026, 10:00 Uhr`.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Weekday};
use chrono_tz::Tz;

/// The time zone of the programme: all dates are shown in local German time.
pub const TZ: Tz = chrono_tz::Europe::Berlin;

/// The German two-letter abbreviation of a weekday ("Mo", "Di", … "So").
pub fn weekday_abbrev(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "Mo",
        Weekday::Tue => "Di",
        Weekday::Wed => "Mi",
        Weekday::Thu => "Do",
        Weekday::Fri => "Fr",
        Weekday::Sat => "Sa",
        Weekday::Sun => "So",
    }
}

/// A date with its weekday, e.g. `Do., 27.08.2026`.
pub fn format_date(d: NaiveDate) -> String {
    format!("{}., {}", weekday_abbrev(d.weekday()), d.format("%d.%m.%Y"))
}

/// An instant converted to Berlin time, e.g. `Do., 27.08.2026, 10:00 Uhr`.
pub fn format_datetime<T: TimeZone>(dt: &DateTime<T>) -> String {
    let local = to_berlin(dt);
    format!(
        "{}, {} Uhr",
        format_date(local.date_naive()),
        local.format("%H:%M")
    )
}

/// The hours of a slot in Berlin time, e.g. `10:00–16:00 Uhr` (with an en dash).
pub fn format_time_range<T: TimeZone>(start: &DateTime<T>, end: &DateTime<T>) -> String {
    format!(
        "{}–{} Uhr",
        to_berlin(start).format("%H:%M"),
        to_berlin(end).format("%H:%M")
    )
}

/// A whole slot in Berlin time, e.g. `Do., 27.08.2026, 10:00–16:00 Uhr`.
///
/// A slot that ends on a later day is shown with both dates:
/// `Do., 27.08.2026, 10:00 Uhr – Fr., 28.08.2026, 16:00 Uhr`.
pub fn format_slot<T: TimeZone>(start: &DateTime<T>, end: &DateTime<T>) -> String {
    let start_day = to_berlin(start).date_naive();
    if start_day == to_berlin(end).date_naive() {
        format!(
            "{}, {}",
            format_date(start_day),
            format_time_range(start, end)
        )
    } else {
        format!("{} – {}", format_datetime(start), format_datetime(end))
    }
}

/// The same instant expressed in Europe/Berlin.
pub fn to_berlin<T: TimeZone>(dt: &DateTime<T>) -> DateTime<Tz> {
    dt.with_timezone(&TZ)
}

/// A Berlin wall-clock time as an instant; None in the spring gap and the
/// autumn fold (02:00–03:00 on the nights the clocks change).
pub fn from_berlin(local: chrono::NaiveDateTime) -> Option<DateTime<chrono::Utc>> {
    TZ.from_local_datetime(&local)
        .single()
        .map(|t| t.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, Utc};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid RFC 3339 in test")
            .with_timezone(&Utc)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date in test")
    }

    #[test]
    fn weekday_abbreviations_are_german() {
        let all = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ]
        .map(weekday_abbrev);
        assert_eq!(all, ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"]);
    }

    #[test]
    fn formats_dates_with_weekday_and_leading_zeros() {
        assert_eq!(format_date(date(2026, 8, 27)), "Do., 27.08.2026");
        assert_eq!(format_date(date(2026, 6, 19)), "Fr., 19.06.2026");
        assert_eq!(format_date(date(2027, 1, 3)), "So., 03.01.2027");
    }

    #[test]
    fn formats_summer_and_winter_times_in_berlin() {
        // CEST (UTC+2) in August, CET (UTC+1) in November.
        assert_eq!(
            format_datetime(&utc("2026-08-27T08:00:00Z")),
            "Do., 27.08.2026, 10:00 Uhr"
        );
        assert_eq!(
            format_datetime(&utc("2026-11-26T09:00:00Z")),
            "Do., 26.11.2026, 10:00 Uhr"
        );
    }

    #[test]
    fn converts_other_offsets_to_berlin() {
        let ny = DateTime::<FixedOffset>::parse_from_rfc3339("2026-06-19T17:59:00-04:00")
            .expect("valid RFC 3339 in test");
        assert_eq!(format_datetime(&ny), "Fr., 19.06.2026, 23:59 Uhr");
    }

    #[test]
    fn late_utc_evening_is_the_next_day_in_berlin() {
        assert_eq!(
            format_datetime(&utc("2026-06-19T22:30:00Z")),
            "Sa., 20.06.2026, 00:30 Uhr"
        );
    }

    #[test]
    fn spring_forward_skips_from_two_to_three() {
        // 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
        assert_eq!(
            format_datetime(&utc("2026-03-29T00:30:00Z")),
            "So., 29.03.2026, 01:30 Uhr"
        );
        assert_eq!(
            format_datetime(&utc("2026-03-29T00:59:59Z")),
            "So., 29.03.2026, 01:59 Uhr"
        );
        assert_eq!(
            format_datetime(&utc("2026-03-29T01:00:00Z")),
            "So., 29.03.2026, 03:00 Uhr"
        );
        assert_eq!(
            format_datetime(&utc("2026-03-29T01:30:00Z")),
            "So., 29.03.2026, 03:30 Uhr"
        );
    }

    #[test]
    fn fall_back_shows_half_past_two_twice() {
        // 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00 UTC, so the
        // wall clock reads 02:30 twice, one hour apart.
        let first = utc("2026-10-25T00:30:00Z");
        let second = utc("2026-10-25T01:30:00Z");
        assert_eq!(format_datetime(&first), "So., 25.10.2026, 02:30 Uhr");
        assert_eq!(format_datetime(&second), "So., 25.10.2026, 02:30 Uhr");
        assert_eq!(to_berlin(&first).to_rfc3339(), "2026-10-25T02:30:00+02:00");
        assert_eq!(to_berlin(&second).to_rfc3339(), "2026-10-25T02:30:00+01:00");
        assert_eq!(
            format_datetime(&utc("2026-10-25T02:30:00Z")),
            "So., 25.10.2026, 03:30 Uhr"
        );
    }

    #[test]
    fn formats_time_ranges_and_slots() {
        let start = utc("2026-08-27T08:00:00Z");
        let end = utc("2026-08-27T14:00:00Z");
        assert_eq!(format_time_range(&start, &end), "10:00–16:00 Uhr");
        assert_eq!(
            format_slot(&start, &end),
            "Do., 27.08.2026, 10:00–16:00 Uhr"
        );
        let winter_start = utc("2027-01-13T08:00:00Z");
        let winter_end = utc("2027-01-13T09:30:00Z");
        assert_eq!(
            format_time_range(&winter_start, &winter_end),
            "09:00–10:30 Uhr"
        );
    }

    #[test]
    fn slot_over_midnight_shows_both_dates() {
        let start = utc("2026-08-27T08:00:00Z");
        let end = utc("2026-08-28T14:00:00Z");
        assert_eq!(
            format_slot(&start, &end),
            "Do., 27.08.2026, 10:00 Uhr – Fr., 28.08.2026, 16:00 Uhr"
        );
    }
}
