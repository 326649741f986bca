//! The programme's events (modules and learning groups) in one shape, with a
//! stable key and a fingerprint of everything a participant acts on.

use super::german;
use crate::config::Programme;
use crate::config::programme::{EventStatus, Slot};
use crate::store::{Store, Tx, programme};
use crate::workflow::actions::{ActionResult, refuse};
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

    /// A module's venue and address in one line, without repeating the
    /// venue when the address starts with it.
    pub fn venue(&self) -> Option<String> {
        self.place.as_ref().map(|(place, address)| {
            if address.trim().is_empty() {
                place.clone()
            } else if address.starts_with(place.as_str()) || place.trim().is_empty() {
                address.clone()
            } else {
                format!("{place}, {address}")
            }
        })
    }

    /// Each day on its own line, e.g. "Do., 27.08.2026, 10:00–16:00 Uhr".
    pub fn day_lines(&self) -> Vec<String> {
        self.days
            .iter()
            .map(|d| german::format_slot(&d.start, &d.end))
            .collect()
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

fn rank(s: EventStatus) -> u8 {
    match s {
        EventStatus::Tentative => 0,
        EventStatus::Confirmed => 1,
        EventStatus::Cancelled => 2,
    }
}

/// The events of the programme file with the status staff set by mail
/// applied: the more final of the file's status and the override wins.
pub async fn effective(store: &Store, file: &Programme) -> anyhow::Result<Vec<Event>> {
    Ok(with_overrides(
        file,
        programme::overrides(store, &file.code).await?,
    ))
}

/// [`effective`] as the caller's transaction sees the overrides.
pub async fn effective_in(tx: &mut Tx<'_>, file: &Programme) -> anyhow::Result<Vec<Event>> {
    Ok(with_overrides(
        file,
        programme::overrides_in(tx, &file.code).await?,
    ))
}

fn with_overrides(file: &Programme, overrides: Vec<(String, EventStatus)>) -> Vec<Event> {
    let mut events = all(file);
    for e in &mut events {
        if let Some(&(_, status)) = overrides.iter().find(|(k, _)| *k == e.key)
            && rank(status) > rank(e.status)
        {
            e.status = status;
        }
    }
    events
}

/// Staff confirm (or cancel) an event by mail; the scheduler's next pass
/// sends the announcement (or the cancellation).
pub async fn set_status(
    programme: &Programme,
    tx: &mut Tx<'_>,
    key: &str,
    status: EventStatus,
    by: &str,
) -> ActionResult<String> {
    let events = effective_in(tx, programme).await?;
    let Some(event) = events.iter().find(|e| e.key == key) else {
        return refuse(format!(
            "{key}: diesen Termin gibt es in der Programmdatei nicht"
        ));
    };
    if rank(event.status) >= rank(status) {
        return refuse(format!(
            "{}: ist schon {}",
            event.title,
            match event.status {
                EventStatus::Confirmed => "bestätigt",
                EventStatus::Cancelled => "abgesagt",
                EventStatus::Tentative => "unter Vorbehalt",
            }
        ));
    }
    // Tentative ranks lowest and was refused above.
    programme::set_override(tx, &programme.code, key, status, by).await?;
    Ok(if status == EventStatus::Cancelled {
        format!(
            "{} ({}) abgesagt; alle, die davon wissen, bekommen eine Absage mit Kalenderdatei",
            event.title,
            event.day_lines().join(" / ")
        )
    } else {
        format!(
            "{} ({}) bestätigt; alle Teilnehmenden bekommen eine Ankündigung mit Kalenderdatei",
            event.title,
            event.day_lines().join(" / ")
        )
    })
}
