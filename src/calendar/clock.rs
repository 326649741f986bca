//! The scheduler's clock: the wall clock in production, a hand-set one in
//! tests that play a programme year in fast-forward.

use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    manual: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl Clock {
    /// The wall clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that stands at `start` until [`Clock::set`] moves it.
    pub fn manual(start: DateTime<Utc>) -> Clock {
        Clock {
            manual: Some(Arc::new(Mutex::new(start))),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            None => Utc::now(),
            Some(t) => t.lock().map(|t| *t).unwrap_or_else(|e| *e.into_inner()),
        }
    }

    /// Moves a manual clock (ignored for the wall clock).
    pub fn set(&self, to: DateTime<Utc>) {
        if let Some(t) = &self.manual {
            match t.lock() {
                Ok(mut g) => *g = to,
                Err(e) => *e.into_inner() = to,
            }
        }
    }
}
