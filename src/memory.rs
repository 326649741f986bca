//! Giving memory back to the system after a burst of work.
//!
//! A backlog passes megabytes of raw mail, parsed parts and extracted text
//! through the allocator. glibc keeps what was freed in its arenas (one per
//! thread that allocated, and the main heap), so without help the daemon
//! idles at its peak size long after the burst. [`release`] asks glibc to
//! return the free pages (`malloc_trim(0)`, which walks every arena since
//! glibc 2.8). It costs a few milliseconds on a large heap and nothing on a
//! small one; the intake calls it when a sweep that stored mail is over, the
//! sender when a pass that sent mail is over.
//! Other C libraries keep their own policy: there it does nothing.

/// How many malloc arenas glibc may keep (see [`limit_arenas`]).
pub const ARENAS: i32 = 2;

/// Caps glibc's malloc arenas at [`ARENAS`]; call once, first thing in
/// `main`, before any thread starts. A no-op with other C libraries.
///
/// NOTE: glibc gives each thread that allocates an arena of its own, up to
/// eight per core: after a backlog the daemon held a dozen (the runtime's
/// workers, the blocking pool's readers, one per SQLite connection), each
/// with half a MiB to a MiB of live and fragmented pages that
/// `malloc_trim` cannot return. Two arenas serve a daemon whose threads
/// mostly wait; `MALLOC_ARENA_MAX` in the environment still overrides this.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a tunable of the allocator, under its
        // own lock; it takes no pointers.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
    }
}

/// Returns free heap pages to the system (glibc); a no-op elsewhere.
pub fn release() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists under
    // the allocator's locks; it takes no pointers from us.
    unsafe {
        libc::malloc_trim(0);
    }
}
