//! Cron schedules evaluated in Europe/Berlin (staff digest, `postbote plan`).
//!
//! A thin wrapper around the `cron` crate (0.15). Two things differ from
//! using the crate directly:
//!
//! * **Day of week.** The crate numbers days of the week `1` = Sunday …
//!   `7` = Saturday (`0` is rejected), while crontab users mean `0`/`7` =
//!   Sunday, `1` = Monday. In the crate's 6/7-field syntax numbers are passed
//!   through with the crate's meaning (so `2-6` is Monday to Friday); in the
//!   classic 5-field crontab syntax any number in the day-of-week field is
//!   rejected and the user is asked to write names such as `Mon-Fri`.
//!
//! * **Daylight saving time.** The schedule is matched against Berlin
//!   wall-clock time, so `07:30` is 07:30 local in summer (05:30 UTC) and in
//!   winter (06:30 UTC). Evaluated directly in `Europe/Berlin`, the crate
//!   (see the tests `crate_*`):
//!   - **skips** a wall-clock time that does not exist (02:30 on the
//!     spring-forward day, e.g. 2026-03-29): that day simply has no fire;
//!   - fires **twice** for a wall-clock time that exists twice (02:30 on
//!     2026-10-25, at 00:30 and 01:30 UTC), and when asked for fire times
//!     after an instant inside the repeated hour it can even return the
//!     *earlier* occurrence, i.e. a time before the starting point.
//!
//!   This wrapper therefore lets the crate work on the plain wall clock
//!   (evaluated in UTC, which has no DST) and maps each wall-clock fire time
//!   to an instant itself: a time that exists twice fires **once**, at its
//!   first occurrence (the summer-time one); a time that does not exist fires
//!   **once, at the end of the gap** (03:00 CEST), like Vixie cron, so no
//!   occurrence is lost. Several wall-clock times that fall in the gap
//!   collapse into that one instant. Fire times returned by this module are
//!   strictly increasing and never repeat. A consequence for interval
//!   schedules such as `0 */15 * * * *`: they pause during the repeated hour
//!   (its wall-clock times have already fired once).

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc,
};

use super::german::TZ;

/// The default digest schedule: weekdays at 07:30 Berlin time.
pub const DEFAULT_DIGEST: &str = "0 30 7 * * Mon-Fri";

/// The last year the cron crate can schedule in (its year field ends in 2100).
const LAST_YEAR: i32 = 2100;
/// The first year the cron crate can schedule in.
const FIRST_YEAR: i32 = 1970;

/// How far Berlin wall-clock time can be from UTC, with room to spare
/// (Berlin is UTC+1 or UTC+2; the margin only has to cover that).
fn margin() -> Duration {
    Duration::hours(3)
}

/// A cron schedule evaluated in Europe/Berlin.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expression: String,
    schedule: ::cron::Schedule,
}

/// A cron expression that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CronError {
    /// The expression is malformed or uses something this wrapper rejects.
    #[error("invalid cron expression \"{expression}\": {reason}")]
    Invalid { expression: String, reason: String },
}

impl CronSchedule {
    /// Accepts the cron crate's 6/7-field syntax ("sec min hour day-of-month
    /// month day-of-week [year]"), its `@daily`-style shorthands, AND the
    /// classic 5-field crontab syntax ("min hour dom month dow"), to which
    /// "0 " is prepended (fire at second 0).
    ///
    /// Day-of-week names (`Mon-Fri`, `Sat,Sun`) work in every form. Numeric
    /// day-of-week values follow the cron crate: `1` = Sunday, `2` = Monday …
    /// `7` = Saturday. Because crontab users mean `1` = Monday, numbers in the
    /// day-of-week field of a 5-field expression are rejected with an error
    /// asking for names instead.
    pub fn parse(expression: &str) -> Result<CronSchedule, CronError> {
        let invalid = |reason: String| CronError::Invalid {
            expression: expression.to_string(),
            reason,
        };
        let fields: Vec<&str> = expression.split_whitespace().collect();
        let normalized = match fields.len() {
            1 if fields[0].starts_with('@') => fields[0].to_string(),
            5 => {
                let dow = fields[4];
                if dow.chars().any(|c| c.is_ascii_digit()) {
                    return Err(invalid(format!(
                        "numeric day-of-week \"{dow}\" is ambiguous (crontab counts 1 = Monday, \
                         the cron library 1 = Sunday); write day names instead, e.g. Mon-Fri"
                    )));
                }
                format!("0 {}", fields.join(" "))
            }
            6 | 7 => fields.join(" "),
            0 => return Err(invalid("the expression is empty".to_string())),
            n => {
                return Err(invalid(format!(
                    "expected 5 fields (min hour day-of-month month day-of-week) or 6/7 fields \
                     (sec min hour day-of-month month day-of-week [year]), found {n}"
                )));
            }
        };
        let schedule = normalized
            .parse::<::cron::Schedule>()
            .map_err(|e| invalid(e.to_string()))?;
        Ok(CronSchedule {
            expression: expression.to_string(),
            schedule,
        })
    }

    /// The expression as it was given to [`CronSchedule::parse`].
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first fire time strictly after `after`, as UTC.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.fires_after(after).next()
    }

    /// The latest fire time at or before `at` that is not older than `window`
    /// (i.e. in `[at - window, at]`), for catching up on a missed run after
    /// downtime, as UTC. A negative `window` gives `None`.
    pub fn latest_at_or_before(
        &self,
        at: DateTime<Utc>,
        window: Duration,
    ) -> Option<DateTime<Utc>> {
        if window < Duration::zero() {
            return None;
        }
        // Walk the wall clock backwards from a little after `at`. Wall-clock
        // times map to instants monotonically, so the first one at or before
        // `at` is the latest fire time.
        // (Past the end of chrono's range, start at its end.)
        let start = wall_clock(at)
            .and_then(|local| local.checked_add_signed(margin()))
            .unwrap_or(NaiveDateTime::MAX);
        if start.year() < FIRST_YEAR {
            return None;
        }
        let latest = self
            .schedule
            .after(&start.and_utc())
            .rev()
            .filter_map(|wall| to_instant(wall.naive_utc()))
            .find(|fire| *fire <= at)?;
        match at.checked_sub_signed(window) {
            Some(oldest) if latest < oldest => None,
            _ => Some(latest),
        }
    }

    /// Every fire time in `(after, until]`, at most `limit`, as UTC.
    pub fn between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        self.fires_after(after)
            .take_while(|fire| *fire <= until)
            .take(limit)
            .collect()
    }

    /// Fire times strictly after `after`, strictly increasing.
    fn fires_after(&self, after: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        // Start the wall-clock search a little before `after`'s local time:
        // within a repeated hour the wall clock of later instants can be
        // earlier. Anything at or before `after` (or before a fire time
        // already returned) is skipped.
        // The crate only knows the years 1970-2100 (and casts earlier years
        // to unsigned), so start no earlier than just before 1970 and give up
        // after 2100 (which also keeps clear of chrono's range limits).
        let start = if after.year() > LAST_YEAR {
            None
        } else if after.year() < FIRST_YEAR {
            NaiveDate::from_ymd_opt(FIRST_YEAR - 1, 12, 31).and_then(|d| d.and_hms_opt(0, 0, 0))
        } else {
            wall_clock(after).and_then(|local| local.checked_sub_signed(margin()))
        };
        let mut last = after;
        start
            .into_iter()
            .flat_map(move |start| self.schedule.after_owned(start.and_utc()))
            .filter_map(|wall| to_instant(wall.naive_utc()))
            .filter(move |fire| {
                if *fire > last {
                    last = *fire;
                    true
                } else {
                    false
                }
            })
    }
}

/// The Berlin wall-clock time of an instant.
fn wall_clock(instant: DateTime<Utc>) -> Option<NaiveDateTime> {
    // Not `naive_local()`, which panics at the far ends of chrono's range.
    let utc = instant.naive_utc();
    let offset = TZ.offset_from_utc_datetime(&utc).fix().local_minus_utc();
    utc.checked_add_signed(Duration::seconds(i64::from(offset)))
}

/// The instant at which a Berlin wall-clock time fires: its only occurrence,
/// the first of two in the autumn fold, or the end of the spring gap if the
/// time does not exist.
fn to_instant(wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    if let Some(local) = TZ.from_local_datetime(&wall).earliest() {
        return Some(local.with_timezone(&Utc));
    }
    // In a gap: the first whole minute after it (gaps start and end on whole
    // minutes, in Berlin on whole hours and last one hour).
    let mut t = wall.with_second(0)?.with_nanosecond(0)?;
    for _ in 0..(24 * 60) {
        t = t.checked_add_signed(Duration::minutes(1))?;
        if let Some(local) = TZ.from_local_datetime(&t).earliest() {
            return Some(local.with_timezone(&Utc));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid RFC 3339 in test")
            .with_timezone(&Utc)
    }

    fn parse(expr: &str) -> CronSchedule {
        CronSchedule::parse(expr).expect("valid cron expression in test")
    }

    fn reason(expr: &str) -> String {
        match CronSchedule::parse(expr) {
            Err(CronError::Invalid { expression, reason }) => {
                assert_eq!(expression, expr);
                reason
            }
            Ok(_) => panic!("{expr:?} should be rejected"),
        }
    }

    #[test]
    fn parses_five_and_six_field_forms() {
        let six = parse(DEFAULT_DIGEST);
        assert_eq!(six.expression(), DEFAULT_DIGEST);
        let five = parse("30 7 * * Mon-Fri");
        assert_eq!(five.expression(), "30 7 * * Mon-Fri");
        let from = utc("2026-06-01T00:00:00Z");
        let until = utc("2026-07-01T00:00:00Z");
        assert_eq!(
            six.between(from, until, 100),
            five.between(from, until, 100)
        );
        assert_eq!(
            five.next_after(utc("2026-06-01T00:00:00Z")),
            Some(utc("2026-06-01T05:30:00Z"))
        );
        // Seven fields (with a year) and shorthands go to the crate as they are.
        assert!(CronSchedule::parse("0 30 7 * * Mon-Fri 2026").is_ok());
        assert!(CronSchedule::parse("@daily").is_ok());
    }

    #[test]
    fn invalid_expressions_name_the_expression() {
        for expr in [
            "",
            "every morning",
            "0 61 7 * * *",
            "0 30 7 * * Funday",
            "1 2 3 4 5 6 7 8",
        ] {
            let err = CronSchedule::parse(expr).expect_err("should be rejected");
            assert!(
                err.to_string().contains(&format!("\"{expr}\"")),
                "{err} should name {expr:?}"
            );
        }
    }

    #[test]
    fn numeric_day_of_week_rejected_in_five_field_form() {
        for expr in [
            "30 7 * * 1-5",
            "30 7 * * 0",
            "30 7 * * */2",
            "30 7 * * Mon,3",
        ] {
            let why = reason(expr);
            assert!(why.contains("Mon-Fri"), "{why}");
            assert!(why.contains("day-of-week"), "{why}");
        }
        // In the 6-field form numbers are the crate's: 1 = Sunday, so 2-6 is Mon-Fri.
        let crate_numbers = parse("0 30 7 * * 2-6");
        let names = parse(DEFAULT_DIGEST);
        let from = utc("2026-06-01T00:00:00Z");
        let until = utc("2026-06-15T00:00:00Z");
        assert_eq!(
            crate_numbers.between(from, until, 100),
            names.between(from, until, 100)
        );
        let sunday = parse("0 0 12 * * 1")
            .next_after(from)
            .expect("a Sunday")
            .with_timezone(&TZ);
        assert_eq!(sunday.weekday(), Weekday::Sun);
    }

    #[test]
    fn weekdays_at_0730_stay_local_across_dst() {
        let digest = parse(DEFAULT_DIGEST);
        // Spring: Thu 2026-03-26 to Wed 2026-04-01 (DST starts Sun 2026-03-29).
        let spring = digest.between(
            utc("2026-03-26T00:00:00Z"),
            utc("2026-04-01T23:59:59Z"),
            100,
        );
        assert_eq!(
            spring,
            [
                utc("2026-03-26T06:30:00Z"),
                utc("2026-03-27T06:30:00Z"),
                utc("2026-03-30T05:30:00Z"),
                utc("2026-03-31T05:30:00Z"),
                utc("2026-04-01T05:30:00Z"),
            ]
        );
        // Autumn: Thu 2026-10-22 to Wed 2026-10-28 (DST ends Sun 2026-10-25).
        let autumn = digest.between(
            utc("2026-10-22T00:00:00Z"),
            utc("2026-10-28T23:59:59Z"),
            100,
        );
        assert_eq!(
            autumn,
            [
                utc("2026-10-22T05:30:00Z"),
                utc("2026-10-23T05:30:00Z"),
                utc("2026-10-26T06:30:00Z"),
                utc("2026-10-27T06:30:00Z"),
                utc("2026-10-28T06:30:00Z"),
            ]
        );
        for fire in spring.iter().chain(&autumn) {
            let local = fire.with_timezone(&TZ);
            assert_eq!(local.format("%H:%M").to_string(), "07:30");
            assert!(!matches!(local.weekday(), Weekday::Sat | Weekday::Sun));
        }
    }

    #[test]
    fn between_two_weeks_gives_ten_and_respects_limit() {
        let digest = parse(DEFAULT_DIGEST);
        let from = utc("2026-06-01T00:00:00Z");
        let until = utc("2026-06-15T00:00:00Z");
        assert_eq!(digest.between(from, until, 100).len(), 10);
        assert_eq!(digest.between(from, until, 3).len(), 3);
        // (after, until]: a fire exactly at `after` is excluded, at `until` included.
        let first = utc("2026-06-01T05:30:00Z");
        assert!(digest.between(first, first, 10).is_empty());
        assert_eq!(digest.between(from, first, 10), [first]);
        assert_eq!(digest.next_after(first), Some(utc("2026-06-02T05:30:00Z")));
    }

    #[test]
    fn latest_at_or_before_within_and_outside_window() {
        let digest = parse(DEFAULT_DIGEST);
        // Tue 2026-06-02 09:00 Berlin; the run at 07:30 Berlin (05:30 UTC) was missed.
        let at = utc("2026-06-02T07:00:00Z");
        assert_eq!(
            digest.latest_at_or_before(at, Duration::hours(2)),
            Some(utc("2026-06-02T05:30:00Z"))
        );
        assert_eq!(digest.latest_at_or_before(at, Duration::hours(1)), None);
        // Exactly at the fire time and exactly at the window's edge both count.
        let fire = utc("2026-06-02T05:30:00Z");
        assert_eq!(
            digest.latest_at_or_before(fire, Duration::zero()),
            Some(fire)
        );
        assert_eq!(
            digest.latest_at_or_before(at, Duration::minutes(90)),
            Some(fire)
        );
        // Monday morning before the run: the latest is Friday's.
        let monday = utc("2026-06-08T05:00:00Z");
        assert_eq!(
            digest.latest_at_or_before(monday, Duration::days(4)),
            Some(utc("2026-06-05T05:30:00Z"))
        );
        assert_eq!(digest.latest_at_or_before(monday, Duration::days(2)), None);
        assert_eq!(digest.latest_at_or_before(at, Duration::hours(-1)), None);
    }

    fn crate_fires(expr: &str, from: &str, n: usize) -> Vec<DateTime<Utc>> {
        let schedule: ::cron::Schedule = expr.parse().expect("valid cron expression in test");
        schedule
            .after(&utc(from).with_timezone(&TZ))
            .take(n)
            .map(|t| t.with_timezone(&Utc))
            .collect()
    }

    /// What the crate does by itself at the spring gap: 02:30 does not exist
    /// on 2026-03-29 and that day is skipped.
    #[test]
    fn crate_skips_a_nonexistent_local_time() {
        assert_eq!(
            crate_fires("0 30 2 * * *", "2026-03-28T12:00:00Z", 2),
            [utc("2026-03-30T00:30:00Z"), utc("2026-03-31T00:30:00Z")]
        );
    }

    /// What the crate does by itself at the autumn fold: 02:30 exists twice
    /// on 2026-10-25 and fires twice; started inside the repeated hour it
    /// even returns a time before the start.
    #[test]
    fn crate_fires_twice_for_a_repeated_local_time() {
        assert_eq!(
            crate_fires("0 30 2 * * *", "2026-10-24T12:00:00Z", 3),
            [
                utc("2026-10-25T00:30:00Z"),
                utc("2026-10-25T01:30:00Z"),
                utc("2026-10-26T01:30:00Z"),
            ]
        );
        // 01:00 UTC is 02:00 CET, the second pass through 02:00-03:00.
        let from_inside = crate_fires("0 30 2 * * *", "2026-10-25T01:00:00Z", 1);
        assert_eq!(from_inside, [utc("2026-10-25T00:30:00Z")]);
        assert!(from_inside[0] < utc("2026-10-25T01:00:00Z"));
    }

    #[test]
    fn gap_fires_once_at_the_end_of_the_gap() {
        let s = parse("0 30 2 * * *");
        let fires = s.between(utc("2026-03-28T00:00:00Z"), utc("2026-03-31T00:00:00Z"), 10);
        assert_eq!(
            fires,
            [
                utc("2026-03-28T01:30:00Z"), // 02:30 CET
                utc("2026-03-29T01:00:00Z"), // 02:30 missing: 03:00 CEST
                utc("2026-03-30T00:30:00Z"), // 02:30 CEST
            ]
        );
        // Several times inside the gap collapse into one fire; 03:00 itself
        // is the same instant and also fires only once.
        let many = parse("0 0,15,30,45 2,3 * * *");
        let fires = many.between(utc("2026-03-29T00:00:00Z"), utc("2026-03-29T02:00:00Z"), 10);
        assert_eq!(
            fires,
            [
                utc("2026-03-29T01:00:00Z"),
                utc("2026-03-29T01:15:00Z"),
                utc("2026-03-29T01:30:00Z"),
                utc("2026-03-29T01:45:00Z"),
            ]
        );
        assert_eq!(
            s.next_after(utc("2026-03-29T00:59:00Z")),
            Some(utc("2026-03-29T01:00:00Z"))
        );
        assert_eq!(
            s.latest_at_or_before(utc("2026-03-29T02:00:00Z"), Duration::hours(2)),
            Some(utc("2026-03-29T01:00:00Z"))
        );
    }

    #[test]
    fn fold_fires_once_at_the_first_occurrence() {
        let s = parse("0 30 2 * * *");
        let fires = s.between(utc("2026-10-24T00:00:00Z"), utc("2026-10-27T00:00:00Z"), 10);
        assert_eq!(
            fires,
            [
                utc("2026-10-24T00:30:00Z"), // 02:30 CEST
                utc("2026-10-25T00:30:00Z"), // first 02:30 (CEST); not again at 01:30 UTC
                utc("2026-10-26T01:30:00Z"), // 02:30 CET
            ]
        );
        // Asked from inside the repeated hour (before or after the first
        // 02:30), the answer is never in the past and never the repeat.
        for from in [
            "2026-10-25T00:15:00Z",
            "2026-10-25T00:45:00Z",
            "2026-10-25T01:00:00Z",
            "2026-10-25T01:45:00Z",
        ] {
            let next = s.next_after(utc(from)).expect("a next fire time");
            assert!(next > utc(from));
            assert_ne!(next, utc("2026-10-25T01:30:00Z"));
        }
        assert_eq!(
            s.next_after(utc("2026-10-25T00:15:00Z")),
            Some(utc("2026-10-25T00:30:00Z"))
        );
        assert_eq!(
            s.next_after(utc("2026-10-25T01:00:00Z")),
            Some(utc("2026-10-26T01:30:00Z"))
        );
        assert_eq!(
            s.latest_at_or_before(utc("2026-10-25T01:45:00Z"), Duration::hours(2)),
            Some(utc("2026-10-25T00:30:00Z"))
        );
        // An every-15-minutes schedule through the fold: strictly increasing,
        // each wall-clock time of the repeated hour once.
        let quarter = parse("0 */15 * * * *");
        let fires = quarter.between(
            utc("2026-10-24T23:50:00Z"),
            utc("2026-10-25T02:10:00Z"),
            100,
        );
        assert!(fires.windows(2).all(|w| w[0] < w[1]));
        let walls: Vec<String> = fires
            .iter()
            .map(|t| t.with_timezone(&TZ).format("%H:%M").to_string())
            .collect();
        assert_eq!(
            walls,
            [
                "02:00", "02:15", "02:30", "02:45", // CEST, 00:00-00:45 UTC
                "03:00", // CET, 02:00 UTC: nothing in the repeated hour
            ]
        );
    }

    #[test]
    fn never_panics_at_the_edges_of_time() {
        let s = parse("* * * * * *");
        let max = DateTime::<Utc>::MAX_UTC;
        let min = DateTime::<Utc>::MIN_UTC;
        assert_eq!(s.next_after(max), None);
        assert_eq!(s.latest_at_or_before(min, Duration::MAX), None);
        assert!(s.latest_at_or_before(max, Duration::MAX).is_some());
        assert!(s.next_after(min).is_some());
        assert_eq!(s.between(min, max, 3).len(), 3);
        assert_eq!(
            parse("0 0 0 1 1 * 2026").next_after(utc("2027-01-01T00:00:00Z")),
            None
        );
    }
}
