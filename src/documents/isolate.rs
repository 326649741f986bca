//! Runs a third-party parser where its panics and hangs cannot take the daemon
//! down with it.
//!
//! [`run_isolated`] starts the parser on a thread of its own and waits at most
//! `budget` for it:
//!
//! * a panic is caught with [`std::panic::catch_unwind`] and becomes
//!   [`ExtractError::Malformed`] (this relies on `panic = "unwind"`, the
//!   default; no profile in `Cargo.toml` may set `panic = "abort"`);
//! * a parser still running when the budget is spent becomes
//!   [`ExtractError::Limit`]. Rust cannot kill a thread, so that thread is
//!   **abandoned**: it keeps its CPU and memory until it returns on its own,
//!   and its result is dropped. To keep a stream of hostile documents from
//!   piling up such threads, at most [`MAX_ABANDONED`] may be running at once;
//!   past that, new work is refused with [`ExtractError::Limit`] until one of
//!   them ends.
//!
//! What this does not catch: a stack overflow or an allocation failure aborts
//! the whole process. The parser thread gets a larger stack than usual
//! ([`STACK_BYTES`]) against deep recursion; for full isolation a subprocess
//! with rlimits would be needed. The default panic hook still prints the
//! panic message to stderr; the hook is process-wide, so it is left alone.

use super::ExtractError;
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// Abandoned parser threads that may still be running before new work is
/// refused.
pub const MAX_ABANDONED: usize = 4;

/// Stack size of a parser thread.
pub const STACK_BYTES: usize = 16 * 1024 * 1024;

/// Abandoned parser threads still running, process-wide.
static ABANDONED: AtomicUsize = AtomicUsize::new(0);

const RUNNING: u8 = 0;
const DONE: u8 = 1;
const GAVE_UP: u8 = 2;

/// Runs `f` on its own thread. A panic in `f` becomes
/// `ExtractError::Malformed("parser panicked: …")`; if `f` has not returned
/// within `budget`, the thread is abandoned (see the module docs) and the
/// result is `ExtractError::Limit("took longer than …")`.
pub fn run_isolated<T: Send + 'static>(
    budget: Duration,
    f: impl FnOnce() -> Result<T, ExtractError> + Send + 'static,
) -> Result<T, ExtractError> {
    run_with(budget, f, &ABANDONED, MAX_ABANDONED)
}

fn run_with<T: Send + 'static>(
    budget: Duration,
    f: impl FnOnce() -> Result<T, ExtractError> + Send + 'static,
    abandoned: &'static AtomicUsize,
    max_abandoned: usize,
) -> Result<T, ExtractError> {
    if abandoned.load(Ordering::SeqCst) >= max_abandoned {
        return Err(ExtractError::Limit(format!(
            "{max_abandoned} earlier parsers are still running past their time budget"
        )));
    }
    let state = Arc::new(AtomicU8::new(RUNNING));
    let thread_state = Arc::clone(&state);
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("postbote-parser".into())
        .stack_size(STACK_BYTES)
        .spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(f));
            // If the caller gave up on us, we were counted as abandoned.
            if thread_state
                .compare_exchange(RUNNING, DONE, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                abandoned.fetch_sub(1, Ordering::SeqCst);
            }
            // The receiver is gone if the caller gave up; nothing to do then.
            let _ = tx.send(result);
        })
        .map_err(|e| ExtractError::Limit(format!("could not start a parser thread: {e}")))?;

    match rx.recv_timeout(budget) {
        Ok(Ok(result)) => result,
        Ok(Err(payload)) => Err(ExtractError::Malformed(format!(
            "parser panicked: {}",
            panic_message(payload.as_ref())
        ))),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            if state
                .compare_exchange(RUNNING, GAVE_UP, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                abandoned.fetch_add(1, Ordering::SeqCst);
                Err(ExtractError::Limit(format!("took longer than {budget:?}")))
            } else {
                // It finished just as the budget ran out; take the result.
                match rx.recv() {
                    Ok(Ok(result)) => result,
                    Ok(Err(payload)) => Err(ExtractError::Malformed(format!(
                        "parser panicked: {}",
                        panic_message(payload.as_ref())
                    ))),
                    Err(_) => Err(ExtractError::Malformed("parser thread vanished".into())),
                }
            }
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(ExtractError::Malformed("parser thread vanished".into()))
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_normal_parser_result_is_passed_through() {
        assert_eq!(run_isolated(Duration::from_secs(5), || Ok(42)), Ok(42));
        assert_eq!(
            run_isolated::<()>(Duration::from_secs(5), || Err(ExtractError::Encrypted)),
            Err(ExtractError::Encrypted)
        );
    }

    #[test]
    fn a_panicking_parser_becomes_malformed_not_a_crash() {
        let r = run_isolated::<()>(Duration::from_secs(5), || panic!("index out of bounds"));
        match r {
            Err(ExtractError::Malformed(m)) => {
                assert!(m.starts_with("parser panicked: "), "{m}");
                assert!(m.contains("index out of bounds"), "{m}");
            }
            other => panic!("expected Malformed, got {other:?}"),
        }
        let r = run_isolated::<()>(Duration::from_secs(5), || {
            panic!("formatted {}", 7);
        });
        assert!(matches!(r, Err(ExtractError::Malformed(m)) if m.contains("formatted 7")));
    }

    #[test]
    fn a_hanging_parser_is_abandoned_after_its_budget() {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let start = Instant::now();
        let r = run_with(
            Duration::from_millis(100),
            move || {
                let _ = release_rx.recv();
                Ok(())
            },
            &COUNT,
            1,
        );
        let waited = start.elapsed();
        assert!(
            matches!(&r, Err(ExtractError::Limit(m)) if m.starts_with("took longer than")),
            "{r:?}"
        );
        assert!(waited < Duration::from_secs(2), "waited {waited:?}");
        assert_eq!(COUNT.load(Ordering::SeqCst), 1);

        // While the abandoned thread runs, the cap refuses more work.
        let r = run_with(Duration::from_secs(1), || Ok(1), &COUNT, 1);
        assert!(matches!(r, Err(ExtractError::Limit(_))), "{r:?}");

        // Once it ends, the slot is free again.
        release_tx.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while COUNT.load(Ordering::SeqCst) != 0 {
            assert!(Instant::now() < deadline, "abandoned thread never ended");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(run_with(Duration::from_secs(1), || Ok(1), &COUNT, 1), Ok(1));
    }
}
