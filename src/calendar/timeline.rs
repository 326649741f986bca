//! The reminder timeline: for every confirmed event, every offset and every
//! participant, when the reminder is due. The scheduler sends what is due and
//! `postbote plan` prints what is still to come: the same function for both.

use super::events::{Event, Kind};
use crate::config::programme::EventStatus;
use crate::config::schedule::{Offset, ReminderSettings};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One reminder of one event to one participant.
#[derive(Debug, Clone, Serialize)]
pub struct Due {
    pub key: String,
    pub event_key: String,
    pub title: String,
    #[serde(skip)]
    pub offset: Offset,
    pub offset_text: String,
    pub due: DateTime<Utc>,
    pub event_start: DateTime<Utc>,
    pub recipient: String,
}

/// The idempotency key of a reminder: once per event, offset and recipient,
/// whatever happens to the dates later.
pub fn key(event_key: &str, offset: Offset, recipient: &str) -> String {
    format!("reminder:{event_key}:{offset}:{}", recipient.to_lowercase())
}

/// Every reminder of the confirmed events, sorted by due time then key,
/// keyed as the legacy programme's (no key scope).
pub fn reminders(events: &[Event], settings: &ReminderSettings, recipients: &[String]) -> Vec<Due> {
    scoped_reminders("", events, settings, recipients)
}

/// Like [`reminders`], for the programme with key scope `scope`
/// (`Programme::key_scope`): every key starts with it.
pub fn scoped_reminders(
    scope: &str,
    events: &[Event],
    settings: &ReminderSettings,
    recipients: &[String],
) -> Vec<Due> {
    let mut out = Vec::new();
    for e in events.iter().filter(|e| e.status == EventStatus::Confirmed) {
        let offsets = match e.kind {
            Kind::Module => &settings.module_offsets,
            Kind::LearningGroup => &settings.learning_group_offsets,
        };
        let start = e.start();
        for offset in offsets {
            for r in recipients {
                out.push(Due {
                    key: format!("{scope}{}", key(&e.key, *offset, r)),
                    event_key: e.key.clone(),
                    title: e.title.clone(),
                    offset: *offset,
                    offset_text: offset.german(),
                    due: start - offset.duration(),
                    event_start: start,
                    recipient: r.to_lowercase(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.due.cmp(&b.due).then_with(|| a.key.cmp(&b.key)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::events;
    use crate::config::Programme;
    use std::path::Path;

    fn ews7() -> Programme {
        let root = env!("CARGO_MANIFEST_DIR");
        Programme::load(&Path::new(root).join("config/ews7.toml")).unwrap()
    }

    #[test]
    fn every_confirmed_event_gets_each_offset_for_each_participant() {
        let p = ews7();
        let evs = events::all(&p);
        let confirmed = evs
            .iter()
            .filter(|e| e.status == EventStatus::Confirmed)
            .count();
        let people = vec!["a@x.test".to_string(), "B@y.test".to_string()];
        let due = reminders(&evs, &ReminderSettings::default(), &people);
        assert_eq!(due.len(), confirmed * 2 * 2);
        assert!(due.windows(2).all(|w| w[0].due <= w[1].due));
        assert!(due.iter().all(|d| d.due < d.event_start));
        assert!(due.iter().any(|d| d.recipient == "b@y.test"));
    }

    #[test]
    fn the_one_hour_reminder_keeps_local_time_across_the_dst_change() {
        // Learning group 2 is on Wed 11.11.2026 at 09:00 CET (after the
        // October change): 1 h before is 08:00 local = 07:00 UTC.
        let p = ews7();
        let evs = events::all(&p);
        let due = reminders(&evs, &ReminderSettings::default(), &["a@x.test".into()]);
        let lg2 = due
            .iter()
            .find(|d| d.event_key == "learning-group-2" && d.offset_text == "1 Stunde")
            .unwrap();
        assert_eq!(lg2.due.to_rfc3339(), "2026-11-11T07:00:00+00:00");
        let lg1 = due
            .iter()
            .find(|d| d.event_key == "learning-group-1" && d.offset_text == "1 Stunde")
            .unwrap();
        assert_eq!(lg1.due.to_rfc3339(), "2026-10-07T06:00:00+00:00");
    }
}
