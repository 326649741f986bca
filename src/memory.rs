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

/// Returns free heap pages to the system (glibc); a no-op elsewhere.
pub fn release() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists under
    // the allocator's locks; it takes no pointers from us.
    unsafe {
        libc::malloc_trim(0);
    }
}
