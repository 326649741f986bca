//! The programme's events (modules and learning groups) in one shape, with a
//! stable key and a fingerprint of everything a participant acts on.

use super::german;
use crate::config::Programme;
use crate::config::programme::{EventStatus, Slot};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Module,
    LearningGroup,
}

/// One module or learning group.
#[derive(Debug, Clone)]
pub struct Event {
    /// `module-1`, `learning-group-2`: how postbote knows the event.
    pub key: String,
    pub kind: Kind,
    pub title: String,
    pub days: Vec<Slot>,
    /// The module's venue and address; None for a learning group.
    pub place: Option<(String, String)>,
    /// The learning group's Zoom link; None for a module.
    pub zoom_link: Option<String>,
    pub agenda: String,
    pub status: EventStatus,
}

impl Event {
    pub fn start(&self) -> DateTime<Utc> {
        self.days
            .first()
            .map(|d| d.start.with_timezone(&Utc))
            .unwrap_or_default()
    }

    /// Changes here (dates, hours, place, link, title) mean an updated .ics.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(&self.title);
        for d in &self.days {
            h.update(d.start.to_rfc3339());
            h.update(d.end.to_rfc3339());
        }
        if let Some((p, a)) = &self.place {
            h.update(p);
            h.update(a);
        }
        if let Some(z) = &self.zoom_link {
            h.update(z);
        }
        hex::encode(h.finalize())[..16].to_string()
    }

    /// Each day on its own line, e.g. "Do., 27.08.2026, 10:00–16:00 Uhr".
    pub fn day_lines(&self) -> Vec<String> {
        self.days
            .iter()
            .map(|d| german::format_slot(&d.start, &d.end))
            .collect()
    }

    pub fn status_str(&self) -> &'static str {
        match self.status {
            EventStatus::Confirmed => "confirmed",
            EventStatus::Tentative => "tentative",
            EventStatus::Cancelled => "cancelled",
        }
    }
}

/// Every module and learning group, ordered by start.
pub fn all(programme: &Programme) -> Vec<Event> {
    let mut out: Vec<Event> = programme
        .modules
        .iter()
        .map(|m| Event {
            key: format!("module-{}", m.number),
            kind: Kind::Module,
            title: m.title.clone(),
            days: m.days.clone(),
            place: Some((m.place.clone(), m.address.clone())),
            zoom_link: None,
            agenda: m.agenda.clone(),
            status: m.status,
        })
        .chain(programme.learning_groups.iter().map(|g| Event {
            key: format!("learning-group-{}", g.number),
            kind: Kind::LearningGroup,
            title: g.title.clone(),
            days: vec![g.slot.clone()],
            place: None,
            zoom_link: Some(g.zoom_link.clone()),
            agenda: g.agenda.clone(),
            status: g.status,
        }))
        .collect();
    out.sort_by_key(Event::start);
    out
}
