//! The interview scheduler: a pure, deterministic function from the interview
//! days, the slot rules, the candidates (with the days they ticked as
//! possible) and the interviews that must stay where they are, to a plan.
//!
//! No database, no clock: the same input, in any order, always gives the
//! same plan, so staff can re-run it and compare.
//!
//! How it plans:
//!
//! 1. Every interview day is cut into slots ([`slots`]).
//! 2. Fixed interviews (already released to the applicant, or pinned by
//!    staff) are kept as they are and block every slot they overlap.
//! 3. The remaining candidates are placed most constrained first (fewest
//!    ticked *offered* days, then application id). Each goes to the ticked
//!    day with the fewest interviews so far (ties: the earlier day), and
//!    there to the earliest free slot.
//!
//! Times are [`DateTime<Tz>`] in Europe/Berlin throughout. Slot lengths are
//! real elapsed minutes; interview windows lie within the working day, so
//! they never cross a daylight-saving change in practice.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate};
use chrono_tz::Tz;

use crate::calendar::german;
use crate::config::programme::InterviewDay;

/// How interview slots are cut from the interview days' windows.
#[derive(Debug, Clone, Copy)]
pub struct SlotRules {
    /// Length of one interview; 0 yields no slots.
    pub minutes: u32,
    /// Pause after each interview before the next slot starts.
    pub buffer_minutes: u32,
    /// At most this many slots per calendar day (0 yields no slots).
    pub max_per_day: u32,
}

/// One bookable slot, `start..end` in Europe/Berlin wall time.
///
/// Serializes as two RFC 3339 strings with the Berlin offset, e.g.
/// `{"start":"2026-06-29T09:00:00+02:00","end":"2026-06-29T09:20:00+02:00"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct SlotTime {
    /// When the interview begins.
    pub start: DateTime<Tz>,
    /// When the interview ends (exclusive).
    pub end: DateTime<Tz>,
}

impl SlotTime {
    /// Whether the two half-open spans share any instant.
    pub fn overlaps(&self, other: &SlotTime) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// The Berlin calendar day the slot starts on.
    pub fn date(&self) -> NaiveDate {
        self.start.date_naive()
    }
}

/// An applicant to be given an interview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The application's row id.
    pub application_id: i64,
    /// The application's reference, shown to staff.
    pub reference: String,
    /// The days the applicant marked as possible (order and repeats do not matter).
    pub ticked: Vec<NaiveDate>,
}

/// An interview that must stay where it is: released (already sent) or pinned by staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixed {
    /// The application's row id.
    pub application_id: i64,
    /// When the interview begins; it lasts [`SlotRules::minutes`].
    pub start: DateTime<Tz>,
}

/// The outcome: who is interviewed when, and who could not be placed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    /// Every interview, fixed and new, sorted by start (then application id).
    pub assigned: Vec<Assignment>,
    /// Candidates without an interview, sorted by application id.
    pub unplaced: Vec<Unplaced>,
}

/// One interview in the plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Assignment {
    /// The application's row id.
    pub application_id: i64,
    /// The application's reference; empty for a fixed interview whose
    /// application is not among the candidates.
    pub reference: String,
    /// When the interview takes place.
    pub slot: SlotTime,
    /// Whether it was fixed beforehand (kept as is) rather than planned now.
    pub fixed: bool,
}

/// A candidate the planner could not place.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unplaced {
    /// The application's row id.
    pub application_id: i64,
    /// The application's reference.
    pub reference: String,
    /// Why no slot was found.
    pub reason: Reason,
}

/// Why a candidate was not placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// None of the ticked days is an interview day (or nothing was ticked).
    NoDateTicked,
    /// Every ticked interview day has no free slot left.
    AllTickedDaysFull,
}

impl Reason {
    /// The reason in German, for staff.
    pub fn text(&self) -> &'static str {
        match self {
            Reason::NoDateTicked => "kein Termin angekreuzt",
            Reason::AllTickedDaysFull => "alle angekreuzten Tage sind belegt",
        }
    }
}

/// Slots of every interview day: from the window start, every
/// `minutes + buffer_minutes`, while `start + minutes <= window end`, at most
/// `max_per_day` per day.
///
/// The result has one entry per distinct calendar day (Berlin), in date
/// order, each with its slots in time order. Two windows on the same day are
/// merged; a slot that would overlap an earlier one is dropped. A day whose
/// window holds no slot is listed with an empty list.
pub fn slots(days: &[InterviewDay], rules: SlotRules) -> Vec<(NaiveDate, Vec<SlotTime>)> {
    let length = Duration::minutes(i64::from(rules.minutes));
    let step = Duration::minutes(i64::from(rules.minutes) + i64::from(rules.buffer_minutes));
    let cap = usize::try_from(rules.max_per_day).unwrap_or(usize::MAX);

    let mut windows: Vec<(DateTime<Tz>, DateTime<Tz>)> = days
        .iter()
        .map(|d| {
            (
                german::to_berlin(&d.slot.start),
                german::to_berlin(&d.slot.end),
            )
        })
        .collect();
    windows.sort();

    let mut out: Vec<(NaiveDate, Vec<SlotTime>)> = Vec::new();
    for (window_start, window_end) in windows {
        let date = window_start.date_naive();
        let list = match out.last_mut() {
            Some((d, list)) if *d == date => list,
            _ => {
                out.push((date, Vec::new()));
                match out.last_mut() {
                    Some((_, list)) => list,
                    None => continue,
                }
            }
        };
        if rules.minutes == 0 {
            continue;
        }
        let mut start = window_start;
        while list.len() < cap {
            let Some(end) = start.checked_add_signed(length) else {
                break;
            };
            if end > window_end {
                break;
            }
            let after_previous = list.last().is_none_or(|last| start >= last.end);
            if after_previous {
                list.push(SlotTime { start, end });
            }
            match start.checked_add_signed(step) {
                Some(next) => start = next,
                None => break,
            }
        }
    }
    out
}

/// A slot of the grid and whether it is taken.
struct Cell {
    slot: SlotTime,
    taken: bool,
}

/// One interview day while planning.
struct Day {
    date: NaiveDate,
    cells: Vec<Cell>,
    /// Interviews on this day so far, fixed ones included.
    load: usize,
}

impl Day {
    /// Index of the earliest free slot.
    fn first_free(&self) -> Option<usize> {
        self.cells.iter().position(|c| !c.taken)
    }
}

/// A candidate with its ticked days normalized, for sorting.
struct Normalized<'a> {
    application_id: i64,
    reference: &'a str,
    ticked: BTreeSet<NaiveDate>,
}

/// Plans the interviews; see the module documentation for the rules.
///
/// Candidates appearing twice (same application id) are planned once (the
/// entry with the smallest reference, then fewest/earliest ticked days, wins).
/// An application fixed twice keeps its earliest fixed start. A fixed
/// interview lasts `rules.minutes` from its start, blocks every slot it
/// overlaps (also off the slot grid) and counts towards its day's interviews.
pub fn plan(
    days: &[InterviewDay],
    rules: SlotRules,
    candidates: &[Candidate],
    fixed: &[Fixed],
) -> Plan {
    let length = Duration::minutes(i64::from(rules.minutes));
    let mut grid: Vec<Day> = slots(days, rules)
        .into_iter()
        .map(|(date, slots)| Day {
            date,
            cells: slots
                .into_iter()
                .map(|slot| Cell { slot, taken: false })
                .collect(),
            load: 0,
        })
        .collect();

    let candidates = normalize(candidates);
    let references: HashMap<i64, &str> = candidates
        .iter()
        .map(|c| (c.application_id, c.reference))
        .collect();

    let mut assigned = Vec::new();
    let mut fixed_ids = HashSet::new();
    for f in normalize_fixed(fixed) {
        let start = german::to_berlin(&f.start);
        let end = start.checked_add_signed(length).unwrap_or(start);
        let slot = SlotTime { start, end };
        for day in &mut grid {
            for cell in &mut day.cells {
                if cell.slot.overlaps(&slot) {
                    cell.taken = true;
                }
            }
            if day.date == slot.date() {
                day.load += 1;
            }
        }
        fixed_ids.insert(f.application_id);
        assigned.push(Assignment {
            application_id: f.application_id,
            reference: references
                .get(&f.application_id)
                .map(|r| (*r).to_owned())
                .unwrap_or_default(),
            slot,
            fixed: true,
        });
    }

    let mut unplaced = Vec::new();
    let mut open: Vec<(Vec<usize>, &Normalized<'_>)> = Vec::new();
    for c in candidates
        .iter()
        .filter(|c| !fixed_ids.contains(&c.application_id))
    {
        let offered: Vec<usize> = grid
            .iter()
            .enumerate()
            .filter(|(_, d)| c.ticked.contains(&d.date))
            .map(|(i, _)| i)
            .collect();
        if offered.is_empty() {
            unplaced.push(Unplaced {
                application_id: c.application_id,
                reference: c.reference.to_owned(),
                reason: Reason::NoDateTicked,
            });
        } else {
            open.push((offered, c));
        }
    }
    open.sort_by_key(|(offered, c)| (offered.len(), c.application_id));

    for (offered, c) in open {
        let choice = offered
            .iter()
            .filter_map(|&i| {
                let day = grid.get(i)?;
                let cell = day.first_free()?;
                Some((day.load, day.date, i, cell))
            })
            .min();
        let placed = choice.and_then(|(_, _, i, cell)| {
            let day = grid.get_mut(i)?;
            let cell = day.cells.get_mut(cell)?;
            cell.taken = true;
            day.load += 1;
            Some(cell.slot.clone())
        });
        match placed {
            Some(slot) => assigned.push(Assignment {
                application_id: c.application_id,
                reference: c.reference.to_owned(),
                slot,
                fixed: false,
            }),
            None => unplaced.push(Unplaced {
                application_id: c.application_id,
                reference: c.reference.to_owned(),
                reason: Reason::AllTickedDaysFull,
            }),
        }
    }

    assigned.sort_by(|a, b| {
        (&a.slot, a.application_id, !a.fixed).cmp(&(&b.slot, b.application_id, !b.fixed))
    });
    unplaced.sort_by_key(|u| u.application_id);
    Plan { assigned, unplaced }
}

/// Candidates sorted by id with one entry per application id.
fn normalize(candidates: &[Candidate]) -> Vec<Normalized<'_>> {
    let mut out: Vec<Normalized<'_>> = candidates
        .iter()
        .map(|c| Normalized {
            application_id: c.application_id,
            reference: &c.reference,
            ticked: c.ticked.iter().copied().collect(),
        })
        .collect();
    out.sort_by(|a, b| {
        (a.application_id, a.reference, a.ticked.len(), &a.ticked).cmp(&(
            b.application_id,
            b.reference,
            b.ticked.len(),
            &b.ticked,
        ))
    });
    out.dedup_by_key(|c| c.application_id);
    out
}

/// Fixed interviews sorted by id with the earliest start per application.
fn normalize_fixed(fixed: &[Fixed]) -> Vec<&Fixed> {
    let mut out: Vec<&Fixed> = fixed.iter().collect();
    out.sort_by_key(|f| (f.application_id, f.start));
    out.dedup_by_key(|f| f.application_id);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::programme::Slot;
    use chrono::{Datelike, NaiveTime, TimeZone};

    fn date(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).expect("valid date")
    }

    fn at(day: NaiveDate, hh: u32, mm: u32) -> DateTime<Tz> {
        let time = NaiveTime::from_hms_opt(hh, mm, 0).expect("valid time");
        german::TZ
            .from_local_datetime(&day.and_time(time))
            .single()
            .expect("unambiguous")
    }

    fn day(number: u32, d: NaiveDate, from: u32, to: u32) -> InterviewDay {
        InterviewDay {
            number,
            slot: Slot {
                start: at(d, from, 0),
                end: at(d, to, 0),
            },
            place: "Digital, via Zoom".into(),
        }
    }

    /// Five days, Mon 29.06.–Fri 03.07.2026, 09:00–13:00.
    fn week() -> Vec<InterviewDay> {
        (0..5)
            .map(|i| day(i + 1, date(6, 29) + Duration::days(i64::from(i)), 9, 13))
            .collect()
    }

    fn week_dates() -> Vec<NaiveDate> {
        week().iter().map(|d| d.slot.start.date_naive()).collect()
    }

    const RULES: SlotRules = SlotRules {
        minutes: 20,
        buffer_minutes: 10,
        max_per_day: 100,
    };

    fn cand(id: i64, ticked: &[NaiveDate]) -> Candidate {
        Candidate {
            application_id: id,
            reference: format!("EWS7-{id:03}"),
            ticked: ticked.to_vec(),
        }
    }

    fn hhmm(t: &DateTime<Tz>) -> String {
        t.format("%H:%M").to_string()
    }

    fn placed(p: &Plan, id: i64) -> Option<&Assignment> {
        p.assigned.iter().find(|a| a.application_id == id)
    }

    #[test]
    fn slots_are_cut_with_buffer() {
        let all = slots(&[day(1, date(6, 29), 9, 13)], RULES);
        assert_eq!(all.len(), 1);
        let (d, list) = &all[0];
        assert_eq!(*d, date(6, 29));
        assert_eq!(list.len(), 8);
        assert_eq!(
            (hhmm(&list[0].start), hhmm(&list[0].end)),
            ("09:00".into(), "09:20".into())
        );
        assert_eq!(
            (hhmm(&list[1].start), hhmm(&list[1].end)),
            ("09:30".into(), "09:50".into())
        );
        let last = &list[7];
        assert_eq!(
            (hhmm(&last.start), hhmm(&last.end)),
            ("12:30".into(), "12:50".into())
        );
    }

    #[test]
    fn last_slot_may_end_exactly_at_the_window_end() {
        let rules = SlotRules {
            minutes: 30,
            buffer_minutes: 0,
            max_per_day: 100,
        };
        let all = slots(&[day(1, date(6, 29), 9, 11)], rules);
        let ends: Vec<String> = all[0].1.iter().map(|s| hhmm(&s.end)).collect();
        assert_eq!(ends, ["09:30", "10:00", "10:30", "11:00"]);
    }

    #[test]
    fn max_per_day_caps_the_slots() {
        let rules = SlotRules {
            max_per_day: 3,
            ..RULES
        };
        let all = slots(&week(), rules);
        assert_eq!(all.len(), 5);
        for (_, list) in &all {
            let starts: Vec<String> = list.iter().map(|s| hhmm(&s.start)).collect();
            assert_eq!(starts, ["09:00", "09:30", "10:00"]);
        }
        let none = slots(
            &week(),
            SlotRules {
                max_per_day: 0,
                ..RULES
            },
        );
        assert!(none.iter().all(|(_, l)| l.is_empty()));
        let zero = slots(
            &week(),
            SlotRules {
                minutes: 0,
                buffer_minutes: 0,
                max_per_day: 100,
            },
        );
        assert!(zero.iter().all(|(_, l)| l.is_empty()));
    }

    #[test]
    fn two_windows_on_one_day_are_merged_and_capped_together() {
        let d = date(6, 29);
        let days = [day(1, d, 9, 10), day(2, d, 14, 15)];
        let all = slots(&days, RULES);
        assert_eq!(all.len(), 1);
        let starts: Vec<String> = all[0].1.iter().map(|s| hhmm(&s.start)).collect();
        assert_eq!(starts, ["09:00", "09:30", "14:00", "14:30"]);
        let capped = slots(
            &days,
            SlotRules {
                max_per_day: 3,
                ..RULES
            },
        );
        assert_eq!(capped[0].1.len(), 3);
    }

    #[test]
    fn slot_times_are_berlin_wall_times() {
        let all = slots(&[day(1, date(6, 29), 9, 13)], RULES);
        let first = &all[0].1[0];
        assert_eq!(first.start.timezone(), chrono_tz::Europe::Berlin);
        assert_eq!(first.start.to_rfc3339(), "2026-06-29T09:00:00+02:00");
        let json = serde_json::to_value(first).expect("serializable");
        assert_eq!(json["start"], "2026-06-29T09:00:00+02:00");
        assert_eq!(json["end"], "2026-06-29T09:20:00+02:00");
        // A winter day is cut in CET, still at 09:00 wall time.
        let winter = slots(&[day(1, date(12, 1), 9, 10)], RULES);
        assert_eq!(
            winter[0].1[0].start.to_rfc3339(),
            "2026-12-01T09:00:00+01:00"
        );
    }

    #[test]
    fn same_input_in_any_order_gives_the_same_plan() {
        let dates = week_dates();
        let mut candidates: Vec<Candidate> = (1..=30)
            .map(|id| {
                let ticked: Vec<NaiveDate> = dates
                    .iter()
                    .copied()
                    .filter(|d| !(id as usize + d.ordinal() as usize).is_multiple_of(3))
                    .collect();
                cand(id, &ticked)
            })
            .collect();
        let fixed = vec![
            Fixed {
                application_id: 7,
                start: at(dates[1], 9, 30),
            },
            Fixed {
                application_id: 99,
                start: at(dates[2], 10, 5),
            },
        ];
        let rules = SlotRules {
            max_per_day: 5,
            ..RULES
        };
        let first = plan(&week(), rules, &candidates, &fixed);
        let mut days = week();
        days.reverse();
        candidates.reverse();
        for c in &mut candidates {
            c.ticked.reverse();
        }
        candidates.swap(3, 17);
        let mut fixed_rev = fixed.clone();
        fixed_rev.reverse();
        let second = plan(&days, rules, &candidates, &fixed_rev);
        assert_eq!(first, second);
    }

    #[test]
    fn spreads_evenly_over_the_days() {
        let dates = week_dates();
        let candidates: Vec<Candidate> = (1..=10).map(|id| cand(id, &dates)).collect();
        let p = plan(&week(), RULES, &candidates, &[]);
        assert!(p.unplaced.is_empty());
        for d in &dates {
            let n = p.assigned.iter().filter(|a| a.slot.date() == *d).count();
            assert_eq!(n, 2, "{d}");
        }
        // Within a day the earliest slots are used.
        let monday: Vec<String> = p
            .assigned
            .iter()
            .filter(|a| a.slot.date() == dates[0])
            .map(|a| hhmm(&a.slot.start))
            .collect();
        assert_eq!(monday, ["09:00", "09:30"]);
    }

    #[test]
    fn most_constrained_candidate_is_placed_first() {
        let d = date(6, 29);
        let tuesday = date(6, 30);
        let days = [day(1, d, 9, 10), day(2, tuesday, 9, 13)];
        let rules = SlotRules {
            max_per_day: 1,
            ..RULES
        };
        // Id 1 could go on either day, id 50 only on Monday (one slot).
        let candidates = [cand(1, &[d, tuesday]), cand(50, &[d])];
        let p = plan(&days, rules, &candidates, &[]);
        assert!(p.unplaced.is_empty(), "{:?}", p.unplaced);
        assert_eq!(placed(&p, 50).map(|a| a.slot.date()), Some(d));
        assert_eq!(placed(&p, 1).map(|a| a.slot.date()), Some(tuesday));
    }

    #[test]
    fn fixed_interviews_are_kept_and_never_double_booked() {
        let dates = week_dates();
        let monday = dates[0];
        let days = [day(1, monday, 9, 11)]; // slots 09:00 09:30 10:00 10:30
        let fixed = [
            // On the grid.
            Fixed {
                application_id: 1,
                start: at(monday, 9, 0),
            },
            // Off the grid: 09:45–10:05 blocks 09:30 and 10:00.
            Fixed {
                application_id: 2,
                start: at(monday, 9, 45),
            },
            // Not among the candidates, on another day.
            Fixed {
                application_id: 77,
                start: at(dates[3], 15, 0),
            },
        ];
        let candidates = [
            cand(1, &[monday]),
            cand(2, &[]),
            cand(3, &[monday]),
            cand(4, &[monday]),
        ];
        let p = plan(&days, RULES, &candidates, &fixed);
        let one = placed(&p, 1).expect("fixed 1");
        assert!(one.fixed);
        assert_eq!(one.reference, "EWS7-001");
        assert_eq!(hhmm(&one.slot.start), "09:00");
        let two = placed(&p, 2).expect("fixed 2");
        assert!(two.fixed);
        assert_eq!(
            (hhmm(&two.slot.start), hhmm(&two.slot.end)),
            ("09:45".into(), "10:05".into())
        );
        let other = placed(&p, 77).expect("fixed 77 kept");
        assert!(other.fixed);
        assert_eq!(other.reference, "");
        let three = placed(&p, 3).expect("3 placed");
        assert!(!three.fixed);
        assert_eq!(hhmm(&three.slot.start), "10:30");
        assert_eq!(p.unplaced.len(), 1);
        assert_eq!(p.unplaced[0].application_id, 4);
        assert_eq!(p.unplaced[0].reason, Reason::AllTickedDaysFull);
        for (i, a) in p.assigned.iter().enumerate() {
            for b in &p.assigned[i + 1..] {
                assert!(!a.slot.overlaps(&b.slot), "{a:?} overlaps {b:?}");
            }
        }
        // Sorted by start.
        assert!(p.assigned.windows(2).all(|w| w[0].slot <= w[1].slot));
    }

    #[test]
    fn unplaced_reasons() {
        let dates = week_dates();
        let days = [day(1, dates[0], 9, 10)]; // two slots
        let candidates = [
            cand(1, &[]),
            cand(2, &[date(8, 1)]), // not an interview day
            cand(3, &[dates[0]]),
            cand(4, &[dates[0]]),
            cand(5, &[dates[0], date(8, 1)]),
        ];
        let p = plan(&days, RULES, &candidates, &[]);
        let reasons: Vec<(i64, Reason)> = p
            .unplaced
            .iter()
            .map(|u| (u.application_id, u.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                (1, Reason::NoDateTicked),
                (2, Reason::NoDateTicked),
                (5, Reason::AllTickedDaysFull),
            ]
        );
        assert_eq!(Reason::NoDateTicked.text(), "kein Termin angekreuzt");
        assert_eq!(
            Reason::AllTickedDaysFull.text(),
            "alle angekreuzten Tage sind belegt"
        );
        let json = serde_json::to_value(&p).expect("serializable");
        assert_eq!(json["unplaced"][0]["reason"], "no_date_ticked");
        assert_eq!(json["assigned"][0]["reference"], "EWS7-003");
        assert_eq!(json["assigned"][0]["fixed"], false);
    }

    #[test]
    fn duplicate_candidates_and_fixed_entries_are_planned_once() {
        let dates = week_dates();
        let candidates = [cand(1, &dates), cand(1, &dates[..1]), cand(2, &dates)];
        let fixed = [
            Fixed {
                application_id: 2,
                start: at(dates[1], 10, 0),
            },
            Fixed {
                application_id: 2,
                start: at(dates[0], 10, 0),
            },
        ];
        let p = plan(&week(), RULES, &candidates, &fixed);
        assert_eq!(p.assigned.len(), 2);
        assert_eq!(
            placed(&p, 2).map(|a| a.slot.start),
            Some(at(dates[0], 10, 0))
        );
    }

    /// SplitMix64: a tiny deterministic generator for the property test.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    #[test]
    fn property_random_inputs_give_sound_plans() {
        let mut rng = Rng(0x5EED);
        let mut seen_reasons = HashSet::new();
        let mut seen_fixed = 0;
        for round in 0..400 {
            let day_count = 1 + rng.below(5) as u32;
            let days: Vec<InterviewDay> = (0..day_count)
                .map(|i| {
                    let from = 8 + rng.below(3) as u32;
                    let to = from + 1 + rng.below(5) as u32;
                    day(
                        i + 1,
                        date(6, 29) + Duration::days(i64::from(i) * 2),
                        from,
                        to,
                    )
                })
                .collect();
            let rules = SlotRules {
                minutes: 10 + rng.below(30) as u32,
                buffer_minutes: rng.below(15) as u32,
                max_per_day: 1 + rng.below(12) as u32,
            };
            // Candidate days: the interview days plus some that are not.
            let pool: Vec<NaiveDate> = (0..12).map(|i| date(6, 28) + Duration::days(i)).collect();
            let n = rng.below(40) as i64;
            let candidates: Vec<Candidate> = (0..n)
                .map(|i| {
                    let ticked = pool
                        .iter()
                        .copied()
                        .filter(|_| rng.below(3) == 0)
                        .collect::<Vec<_>>();
                    cand(i * 37 % 101 + 1, &ticked)
                })
                .collect();
            let fixed: Vec<Fixed> = (0..rng.below(4))
                .filter_map(|_| {
                    let c = candidates.get(rng.below(n as u64 + 2) as usize);
                    let d = days.get(rng.below(u64::from(day_count)) as usize)?;
                    let start = d.slot.start + Duration::minutes(rng.below(200) as i64);
                    Some(Fixed {
                        application_id: c.map_or(5000 + round, |c| c.application_id),
                        start,
                    })
                })
                .collect();

            let p = plan(&days, rules, &candidates, &fixed);
            let grid = slots(&days, rules);
            let offered: HashSet<NaiveDate> = grid.iter().map(|(d, _)| *d).collect();

            // Nobody placed twice, every candidate accounted for exactly once.
            let mut seen = HashSet::new();
            for id in p
                .assigned
                .iter()
                .map(|a| a.application_id)
                .chain(p.unplaced.iter().map(|u| u.application_id))
            {
                assert!(seen.insert(id), "round {round}: {id} twice");
            }
            for c in &candidates {
                assert!(seen.contains(&c.application_id), "round {round}: lost");
            }

            for a in p.assigned.iter().filter(|a| !a.fixed) {
                // On a grid slot, on a ticked day.
                let on_grid = grid.iter().any(|(_, list)| list.contains(&a.slot));
                assert!(on_grid, "round {round}: {a:?} not a slot");
                let c = candidates
                    .iter()
                    .find(|c| c.application_id == a.application_id)
                    .expect("candidate");
                assert!(c.ticked.contains(&a.slot.date()), "round {round}");
                // No slot used twice, no overlap with anything else.
                for b in &p.assigned {
                    if b.application_id != a.application_id {
                        assert!(!a.slot.overlaps(&b.slot), "round {round}: {a:?} {b:?}");
                    }
                }
            }

            seen_fixed += p.assigned.iter().filter(|a| a.fixed).count();
            // Nobody left out while a ticked day still has a free slot.
            for u in &p.unplaced {
                seen_reasons.insert(u.reason);
                let c = candidates
                    .iter()
                    .find(|c| c.application_id == u.application_id)
                    .expect("candidate");
                match u.reason {
                    Reason::NoDateTicked => {
                        assert!(
                            c.ticked.iter().all(|d| !offered.contains(d)),
                            "round {round}"
                        );
                    }
                    Reason::AllTickedDaysFull => {
                        for (d, list) in grid.iter().filter(|(d, _)| c.ticked.contains(d)) {
                            let free = list
                                .iter()
                                .any(|s| p.assigned.iter().all(|a| !a.slot.overlaps(s)));
                            assert!(!free, "round {round}: {d} has room for {u:?}");
                        }
                    }
                }
            }

            // Determinism under shuffling.
            let mut shuffled = candidates.clone();
            for i in (1..shuffled.len()).rev() {
                let j = rng.below(i as u64 + 1) as usize;
                shuffled.swap(i, j);
            }
            let mut fixed_shuffled = fixed.clone();
            fixed_shuffled.reverse();
            assert_eq!(
                plan(&days, rules, &shuffled, &fixed_shuffled),
                p,
                "round {round}"
            );
        }
        // The inputs exercised every branch.
        assert_eq!(seen_reasons.len(), 2);
        assert!(seen_fixed > 100, "{seen_fixed}");
    }
}
