//! systemd's notify protocol for `Type=notify` units (`deploy/postbote.service`):
//! `READY=1` once the daemon runs (migrated, folders checked, tasks
//! started), `STOPPING=1` when it begins to shut down, and `WATCHDOG=1`
//! pings while the unit sets `WatchdogSec=`. One datagram to the socket in
//! `$NOTIFY_SOCKET`; without it (not under systemd) every call does nothing.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Sends `state` (e.g. "READY=1") to systemd; false if not under systemd or
/// the datagram could not be sent (logged, never fatal).
pub fn notify(state: &str) -> bool {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return false;
    };
    let sent = UnixDatagram::unbound().and_then(|s| {
        let bytes = socket.as_encoded_bytes();
        match bytes.strip_prefix(b"@") {
            Some(name) => send_abstract(&s, name, state),
            None => s.send_to(state.as_bytes(), &socket).map(|_| ()),
        }
    });
    match sent {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, state, "cannot notify systemd");
            false
        }
    }
}

#[cfg(target_os = "linux")]
fn send_abstract(s: &UnixDatagram, name: &[u8], state: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    s.send_to_addr(state.as_bytes(), &addr).map(|_| ())
}

#[cfg(not(target_os = "linux"))]
fn send_abstract(_: &UnixDatagram, _: &[u8], _: &str) -> std::io::Result<()> {
    Err(std::io::Error::other("abstract sockets need Linux"))
}

/// How often to ping the watchdog (half of `WatchdogSec=`), if the unit
/// asks for pings from this process.
pub fn watchdog_interval() -> Option<Duration> {
    if let Some(pid) = std::env::var_os("WATCHDOG_PID")
        && pid.to_str().and_then(|p| p.parse::<u32>().ok()) != Some(std::process::id())
    {
        return None;
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}
