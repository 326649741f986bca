//! Private, real mail servers for integration tests and benchmarks.
//!
//! [`MailServers::start`] launches a Dovecot (IMAP + LMTP) and a Postfix (SMTP) instance
//! that belong to the calling test alone: their configuration, queue, mail store, sockets
//! and logs live in one temporary directory and they listen on free loopback ports. Postfix
//! delivers every accepted message, for any domain, over LMTP into Dovecot; nothing ever
//! leaves the machine (`default_transport = error`). Dovecot accepts any user name with the
//! password [`PASSWORD`]. Dropping the [`MailServers`] stops both and removes the directory.
//!
//! Requirements: root, and the Debian packages installed by `scripts/install-test-deps.sh`
//! (dovecot-imapd, dovecot-lmtpd, postfix). No system-wide configuration is needed: both
//! daemons run from the private configuration only (Postfix needs
//! `alternate_config_directories` only for its set-gid tools such as `sendmail`/`postdrop`,
//! which this harness never uses).
//!
//! This module must not depend on the `postbote` library: a benchmark includes it via
//! `#[path]`.
//!
//! [`MailServers::start_with_tls`] starts the same pair with TLS on top, for tests of
//! encrypted connections: a throwaway CA (see [`MailServers::ca_file`]) and a certificate for
//! `localhost` / `127.0.0.1`; STARTTLS on the IMAP and SMTP ports (optional, so the plain
//! helpers below keep working), implicit TLS on the extra ports [`MailServers::imaps_port`]
//! and [`MailServers::smtps_port`], and SMTP AUTH (any user, password [`PASSWORD`]) through
//! Dovecot's auth service. It needs the `openssl` command (Debian package `openssl`, part of
//! every standard installation).
//!
//! Set `POSTBOTE_KEEP_MAIL_SERVERS=1` to keep the temporary directory (configs, logs, mail)
//! after the test for inspection; its path is printed to stderr.
// Included via `#[path]` by several test and bench targets, each using a part of it; some
// of them also put `#[allow(dead_code)]` on the `mod` item.
#![allow(dead_code, clippy::duplicated_attributes)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::{BufRead, BufReader, ErrorKind, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use futures::TryStreamExt;

/// The password Dovecot accepts for every user.
pub const PASSWORD: &str = "secret";

/// Postfix rejects this recipient with `550 5.1.1`: a permanent delivery failure.
pub const UNKNOWN_RECIPIENT: &str = "unbekannt@stadt.test";

const HOST: &str = "127.0.0.1";
/// How long a (re)start may take before it counts as failed.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a graceful stop may take before the process group is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Bound for a single IMAP helper call (connect + login + command).
const IMAP_OP_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(10);
const WAIT_FOR_MAIL_POLL: Duration = Duration::from_millis(50);
/// Parent of all instance directories; also used to clean up after killed test processes.
const PARENT_DIR_NAME: &str = "postbote-mail-servers";
/// Process names (`comm`) of the daemon masters.
const DOVECOT_MASTER: &str = "dovecot";
const POSTFIX_MASTER: &str = "master";

/// Ports handed out by this process and not yet released (avoids duplicates between tests
/// running in parallel threads).
static RESERVED_PORTS: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// How Dovecot lays out folders: the forms real servers take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Maildir++ on disk, `/` as separator in IMAP (the harness's default).
    Default,
    /// `LAYOUT=fs`: one directory per level, `/` separator.
    Fs,
    /// Dovecot's default Maildir++: `.` separator (`Postbote.Verarbeitet`).
    MaildirDot,
    /// Courier-style: every personal folder below `INBOX.`, `.` separator.
    InboxPrefix,
}

impl Layout {
    /// The three layouts every mailbox behaviour is tested on.
    pub const FIELD: [Layout; 3] = [Layout::Fs, Layout::MaildirDot, Layout::InboxPrefix];

    /// The server's name of a `/`-separated folder.
    pub fn folder(self, logical: &str) -> String {
        if logical.eq_ignore_ascii_case("INBOX") {
            return "INBOX".into();
        }
        match self {
            Layout::Default | Layout::Fs => logical.to_string(),
            Layout::MaildirDot => logical.replace('/', "."),
            Layout::InboxPrefix => format!("INBOX.{}", logical.replace('/', ".")),
        }
    }

    fn dovecot(self, mail: &str) -> String {
        let (location, namespace) = match self {
            Layout::Default => (
                format!("maildir:{mail}/%d/%n"),
                "inbox = yes\n  separator = /",
            ),
            Layout::Fs => (
                format!("maildir:{mail}/%d/%n:LAYOUT=fs"),
                "inbox = yes\n  separator = /",
            ),
            Layout::MaildirDot => (
                format!("maildir:{mail}/%d/%n"),
                "inbox = yes\n  separator = .",
            ),
            Layout::InboxPrefix => (
                format!("maildir:{mail}/%d/%n"),
                "inbox = yes\n  prefix = INBOX.\n  separator = .",
            ),
        };
        format!("mail_location = {location}\n\nnamespace inbox {{\n  {namespace}\n}}\n")
    }
}

/// A private Dovecot + Postfix pair; see the module documentation.
#[derive(Debug)]
pub struct MailServers {
    /// Dovecot's folder layout.
    pub layout: Layout,
    pub imap_port: u16,
    pub smtp_port: u16,
    pub lmtp_port: u16,
    /// Dovecot's implicit-TLS IMAP port (only with [`MailServers::start_with_tls`]).
    pub imaps_port: Option<u16>,
    /// Postfix's implicit-TLS SMTP ("smtps", wrapper mode) port (only with
    /// [`MailServers::start_with_tls`]).
    pub smtps_port: Option<u16>,
    /// TLS material and Dovecot's auth port for Postfix SASL; `None` without TLS.
    tls: Option<TlsSetup>,
    dovecot_conf: PathBuf,
    dovecot_base_dir: PathBuf,
    dovecot_log: PathBuf,
    postfix_config_dir: PathBuf,
    postfix_queue_dir: PathBuf,
    postfix_log: PathBuf,
    dovecot_bin: PathBuf,
    postfix_bin: PathBuf,
    /// Declared last so that it is removed after the servers are stopped in `Drop`.
    dir: tempfile::TempDir,
}

impl MailServers {
    /// Keeps the temporary directory (configuration, queue, mail) when the
    /// servers are dropped and returns its path: the caller removes it.
    pub fn keep_files(&mut self) -> PathBuf {
        self.dir.disable_cleanup(true);
        self.dir.path().to_path_buf()
    }

    /// Starts Dovecot and Postfix and waits (bounded) until IMAP, LMTP and SMTP answer with
    /// their greeting. Blocking.
    pub fn start() -> Result<MailServers> {
        Self::start_inner(None, Layout::Default)
    }

    /// Like [`MailServers::start`], with Dovecot in the given folder layout.
    pub fn start_with_layout(layout: Layout) -> Result<MailServers> {
        Self::start_inner(None, layout)
    }

    /// Like [`MailServers::start`], with TLS: a fresh throwaway CA ([`MailServers::ca_file`])
    /// and server certificate for `localhost` and `127.0.0.1`; STARTTLS offered on the IMAP
    /// and SMTP ports; implicit TLS on [`MailServers::imaps_port`] and
    /// [`MailServers::smtps_port`]; SMTP AUTH (PLAIN/LOGIN, any user, password [`PASSWORD`])
    /// on both SMTP ports. Plain connections keep working, so all helpers below do too.
    /// Needs the `openssl` command. Blocking.
    pub fn start_with_tls() -> Result<MailServers> {
        let openssl = find_openssl()?;
        Self::start_inner(Some(&openssl), Layout::Default)
    }

    fn start_inner(openssl: Option<&Path>, layout: Layout) -> Result<MailServers> {
        ensure_root()?;
        let dovecot_bin = find_binary("dovecot")?;
        let postfix_bin = find_binary("postfix")?;
        let parent = parent_dir()?;
        sweep_stale_instances(&parent);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::try_start(&parent, &dovecot_bin, &postfix_bin, openssl, layout) {
                Ok(servers) => return Ok(servers),
                // Another process may have taken a port between our check and the server's
                // bind; try again with fresh ports.
                Err(err)
                    if attempt < 3
                        && (format!("{err:#}").contains("in use")
                            || format!("{err:#}").contains("mail system startup failed")) =>
                {
                    eprintln!("mail_servers: retrying start after port clash: {err:#}");
                }
                Err(err) => return Err(err),
            }
        }
    }

    fn try_start(
        parent: &Path,
        dovecot_bin: &Path,
        postfix_bin: &Path,
        openssl: Option<&Path>,
        layout: Layout,
    ) -> Result<MailServers> {
        let dir = tempfile::Builder::new()
            .prefix("run-")
            .tempdir_in(parent)
            .with_context(|| format!("creating instance directory in {}", parent.display()))?;
        let root = dir.path().to_path_buf();
        set_mode(&root, 0o755)?;
        fs::write(root.join("owner.pid"), std::process::id().to_string())
            .context("writing owner.pid")?;

        let ports = reserve_ports(if openssl.is_some() { 6 } else { 3 })?;
        let mut servers = MailServers {
            layout,
            imap_port: ports[0],
            lmtp_port: ports[1],
            smtp_port: ports[2],
            imaps_port: ports.get(3).copied(),
            smtps_port: ports.get(4).copied(),
            tls: None,
            dovecot_conf: root.join("dovecot/dovecot.conf"),
            dovecot_base_dir: root.join("dovecot/run"),
            dovecot_log: root.join("dovecot.log"),
            postfix_config_dir: root.join("postfix/etc"),
            postfix_queue_dir: root.join("postfix/queue"),
            postfix_log: root.join("postfix.log"),
            dovecot_bin: dovecot_bin.to_path_buf(),
            postfix_bin: postfix_bin.to_path_buf(),
            dir,
        };
        if std::env::var_os("POSTBOTE_KEEP_MAIL_SERVERS").is_some_and(|v| !v.is_empty()) {
            servers.dir.disable_cleanup(true);
            eprintln!("mail_servers: keeping {}", root.display());
        }
        if let Some(openssl) = openssl {
            let dir = root.join("tls");
            fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            set_mode(&dir, 0o755)?;
            let (ca_cert, ca_key) = create_ca(openssl, &dir, "ca")?;
            let (server_cert, server_key) = create_server_cert(openssl, &dir, &ca_cert, &ca_key)?;
            servers.tls = Some(TlsSetup {
                ca_cert,
                server_cert,
                server_key,
                auth_port: ports[5],
            });
        }
        servers.write_dovecot_config()?;
        servers.write_postfix_config()?;
        // Both masters bind all their listeners (IMAPS, Dovecot's auth port, SMTPS too) before
        // their start command returns, or fail it ("Address already in use" from Dovecot, a
        // bare "mail system startup failed" from Postfix); so the greeting checks of the plain
        // ports suffice.
        servers.start_dovecot()?;
        servers.start_postfix()?;
        Ok(servers)
    }

    // ---------------------------------------------------------------- Dovecot

    /// Stops Dovecot gracefully (IMAP clients get `* BYE`); returns once its ports refuse
    /// connections. Does nothing if it is not running.
    pub fn stop_dovecot(&self) -> Result<()> {
        self.stop_dovecot_within(STOP_GRACE)
    }

    fn stop_dovecot_within(&self, grace: Duration) -> Result<()> {
        let pid_file = self.dovecot_base_dir.join("master.pid");
        if let Some(pid) = running_master(&pid_file, DOVECOT_MASTER) {
            // After SIGTERM, Dovecot's master waits 1-1.5 s for its `log` child even when
            // all other children are gone; killing both at that point makes the stop take
            // ~30 ms.
            stop_process_group(pid, &["log"], grace).context("stopping Dovecot")?;
        }
        // Dovecot removes the pid file on a clean exit, not after SIGKILL; a stale file whose
        // pid is an unreaped zombie would make the next start fail with "already running".
        let _ = fs::remove_file(&pid_file);
        wait_port_closed(self.imap_port, START_TIMEOUT).context("Dovecot IMAP port")?;
        wait_port_closed(self.lmtp_port, START_TIMEOUT).context("Dovecot LMTP port")?;
        if let Some(port) = self.imaps_port {
            wait_port_closed(port, START_TIMEOUT).context("Dovecot IMAPS port")?;
        }
        if let Some(tls) = &self.tls {
            wait_port_closed(tls.auth_port, START_TIMEOUT).context("Dovecot auth port")?;
        }
        Ok(())
    }

    /// Starts Dovecot (again) on the same ports; returns once IMAP and LMTP greet. Does
    /// nothing if it is already running.
    pub fn start_dovecot(&self) -> Result<()> {
        if running_master(&self.dovecot_base_dir.join("master.pid"), DOVECOT_MASTER).is_some() {
            return Ok(());
        }
        let mut command = Command::new(&self.dovecot_bin);
        command.arg("-c").arg(&self.dovecot_conf);
        let (status, output) =
            run_daemonizing(command, &self.dir.path().join("dovecot/start.out"))?;
        if !status.success() {
            bail!(
                "`dovecot -c {}` failed ({status}): {output}\n--- dovecot log ---\n{}",
                self.dovecot_conf.display(),
                tail(&self.dovecot_log(), 30)
            );
        }
        let deadline = Instant::now() + START_TIMEOUT;
        wait_greeting(self.imap_port, "* OK", deadline)
            .and_then(|()| wait_greeting(self.lmtp_port, "220", deadline))
            .with_context(|| {
                format!(
                    "Dovecot did not become ready\n--- dovecot log ---\n{}",
                    tail(&self.dovecot_log(), 30)
                )
            })?;
        // Mail that Postfix deferred while Dovecot was down is delivered now rather than at
        // the next retry (up to ~1 s later). Best effort: Postfix may be stopped.
        let _ = self.flush_postfix_queue();
        Ok(())
    }

    fn write_dovecot_config(&self) -> Result<()> {
        let root = self.dir.path();
        let dovecot_dir = root.join("dovecot");
        let state_dir = dovecot_dir.join("state");
        let mail_dir = root.join("mail");
        for dir in [&dovecot_dir, &self.dovecot_base_dir, &state_dir, &mail_dir] {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            set_mode(dir, 0o755)?;
        }
        // Mail is stored as the `mail` user: Dovecot refuses to access mail as root.
        chown(&mail_dir, "mail:mail")?;
        // Without TLS the implicit-TLS listener is disabled (port 0) and nothing else changes.
        let (ssl, imaps, auth_service) = match (&self.tls, self.imaps_port) {
            (Some(tls), Some(imaps)) => (
                format!(
                    "ssl = yes\nssl_cert = <{}\nssl_key = <{}",
                    tls.server_cert.display(),
                    tls.server_key.display(),
                ),
                format!("address = {HOST}\n    port = {imaps}\n    ssl = yes"),
                // Postfix's SMTP AUTH asks Dovecot's auth service (smtpd_sasl_type = dovecot).
                format!(
                    r#"service auth {{
  inet_listener postfix-sasl {{
    address = {HOST}
    port = {port}
  }}
}}
"#,
                    port = tls.auth_port
                ),
            ),
            _ => (
                "ssl = no".to_string(),
                "port = 0".to_string(),
                String::new(),
            ),
        };
        let conf = format!(
            r#"# Private Dovecot instance of the postbote test harness.
base_dir = {base_dir}
state_dir = {state_dir}
log_path = {log}
instance_name = postbote-test
hostname = imap.postbote.test
listen = {HOST}
protocols = imap lmtp
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = 1
mail_fsync = never
# NOTE: Dovecot falls back to checking an IDLE mailbox every 30 s when its
# inotify watch misses a delivery (seen under load); a shorter fallback keeps
# the tests' 30 s waits meaningful. The client side is unchanged.
mailbox_idle_check_interval = 2 secs
mail_max_userip_connections = 1000
default_process_limit = 500
default_client_limit = 5000
{layout}
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={mail}/%d/%n allow_all_users=yes
}}

service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {imap}
  }}
  inet_listener imaps {{
    {imaps}
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = {HOST}
    port = {lmtp}
  }}
}}
{auth_service}"#,
            base_dir = self.dovecot_base_dir.display(),
            state_dir = state_dir.display(),
            log = self.dovecot_log.display(),
            mail = mail_dir.display(),
            imap = self.imap_port,
            lmtp = self.lmtp_port,
            layout = self.layout.dovecot(&mail_dir.display().to_string()),
        );
        fs::write(&self.dovecot_conf, conf).context("writing dovecot.conf")
    }

    // ---------------------------------------------------------------- Postfix

    /// Stops Postfix; returns once the SMTP port refuses connections. Mail already accepted
    /// stays queued and is delivered after [`MailServers::start_postfix`]. Does nothing if it
    /// is not running.
    pub fn stop_postfix(&self) -> Result<()> {
        self.stop_postfix_within(STOP_GRACE)
    }

    fn stop_postfix_within(&self, grace: Duration) -> Result<()> {
        if let Some(pid) = running_master(
            &self.postfix_queue_dir.join("pid/master.pid"),
            POSTFIX_MASTER,
        ) {
            // `postfix stop` would poll with `sleep 1`; signalling the master directly is
            // equivalent (it terminates its process group) and immediate.
            stop_process_group(pid, &[], grace).context("stopping Postfix")?;
        }
        wait_port_closed(self.smtp_port, START_TIMEOUT).context("Postfix SMTP port")?;
        if let Some(port) = self.smtps_port {
            wait_port_closed(port, START_TIMEOUT).context("Postfix SMTPS port")?;
        }
        Ok(())
    }

    /// Starts Postfix (again) on the same port; returns once SMTP greets. Does nothing if it
    /// is already running.
    pub fn start_postfix(&self) -> Result<()> {
        if running_master(
            &self.postfix_queue_dir.join("pid/master.pid"),
            POSTFIX_MASTER,
        )
        .is_some()
        {
            return Ok(());
        }
        let mut command = Command::new(&self.postfix_bin);
        command.arg("-c").arg(&self.postfix_config_dir).arg("start");
        let (status, output) =
            run_daemonizing(command, &self.dir.path().join("postfix/start.out"))?;
        if !status.success() {
            // Postfix reports most errors to its maillog_file rather than to stderr.
            bail!(
                "`postfix -c {} start` failed ({status}): {output}\n--- postfix log ---\n{}",
                self.postfix_config_dir.display(),
                tail(&self.postfix_log(), 30)
            );
        }
        wait_greeting(self.smtp_port, "220", Instant::now() + START_TIMEOUT).with_context(|| {
            format!(
                "Postfix did not become ready\n--- postfix log ---\n{}",
                tail(&self.postfix_log(), 30)
            )
        })
    }

    /// Asks Postfix to retry all deferred mail now (what `postqueue -f` does; that set-gid
    /// tool itself would need this instance listed in the system-wide
    /// `alternate_config_directories`).
    pub fn flush_postfix_queue(&self) -> Result<()> {
        let socket = self.postfix_queue_dir.join("public/qmgr");
        let mut stream = UnixStream::connect(&socket)
            .with_context(|| format!("connecting to {}", socket.display()))?;
        // Forget dead destinations, ignore retry time stamps, scan deferred and incoming.
        stream
            .write_all(b"FADI")
            .context("triggering the Postfix queue manager")
    }

    fn write_postfix_config(&self) -> Result<()> {
        let postfix_dir = self.dir.path().join("postfix");
        for dir in [
            &postfix_dir,
            &self.postfix_config_dir,
            &self.postfix_queue_dir,
        ] {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            set_mode(dir, 0o755)?;
        }
        // TLS mode: STARTTLS (optional) and SMTP AUTH via Dovecot on the SMTP port, plus an
        // implicit-TLS listener. `tlsmgr` is required: it seeds smtpd's PRNG, and without it
        // smtpd logs "no entropy for TLS key generation: disabling TLS support" (no STARTTLS,
        // wrapper-mode connections dropped) after ~1 s of retries.
        let (tls_main, tls_master) = match (&self.tls, self.smtps_port) {
            (Some(tls), Some(smtps)) => (
                format!(
                    r#"# TLS and SMTP AUTH (MailServers::start_with_tls).
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:{HOST}:{auth}
"#,
                    cert = tls.server_cert.display(),
                    key = tls.server_key.display(),
                    auth = tls.auth_port,
                ),
                format!(
                    r#"{HOST}:{smtps} inet n - n - - smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
tlsmgr     unix  - - n 1000? 1 tlsmgr
"#
                ),
            ),
            _ => (String::new(), String::new()),
        };
        // The queue lives outside the config dir: `postfix start` warns about every file in
        // the config dir that is not owned by root.
        let main_cf = format!(
            r#"# Private Postfix instance of the postbote test harness.
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
maillog_file = {log}
maillog_file_prefixes = {prefix}
myhostname = smtp.postbote.test
mydomain = postbote.test
myorigin = postbote.test
mydestination =
relay_domains =
relayhost =
inet_interfaces = {HOST}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = $myhostname ESMTP postbote-test
smtpd_peername_lookup = no
biff = no
alias_maps =
alias_database =
local_recipient_maps =
local_transport = error:local delivery is disabled in tests
# Leave message headers as the client sent them (no added Message-ID/Date/From), as a
# remote mail server would.
local_header_rewrite_clients =
# Every domain is a virtual mailbox domain delivered to the private Dovecot via LMTP.
virtual_mailbox_domains = static:all
virtual_mailbox_maps = static:ok
smtpd_reject_unlisted_recipient = no
# A mailbox that does not exist, for tests of permanent delivery failures.
smtpd_recipient_restrictions = check_recipient_access inline:{{ {{ {UNKNOWN_RECIPIENT} = 550 5.1.1 User unknown }} }}, permit_mynetworks, reject
virtual_transport = lmtp:inet:{HOST}:{lmtp}
lmtp_connection_cache_on_demand = no
# Nothing may leave the machine.
default_transport = error:outbound mail is disabled in tests
relay_transport = error:outbound mail is disabled in tests
# Retry quickly when Dovecot was stopped by a test.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
{tls_main}"#,
            queue = self.postfix_queue_dir.display(),
            data = postfix_dir.join("data").display(),
            log = self.postfix_log.display(),
            prefix = self.dir.path().display(),
            lmtp = self.lmtp_port,
        );
        let master_cf = format!(
            r#"# service  type  private unpriv chroot wakeup maxproc command
{HOST}:{smtp} inet n - n - - smtpd
pickup     unix  n - n 60 1 pickup
cleanup    unix  n - n - 0 cleanup
qmgr       unix  n - n 300 1 qmgr
rewrite    unix  - - n - - trivial-rewrite
bounce     unix  - - n - 0 bounce
defer      unix  - - n - 0 bounce
trace      unix  - - n - 0 bounce
verify     unix  - - n - 1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n - - proxymap
proxywrite unix  - - n - 1 proxymap
smtp       unix  - - n - - smtp
relay      unix  - - n - - smtp
showq      unix  n - n - - showq
error      unix  - - n - - error
retry      unix  - - n - - error
discard    unix  - - n - - discard
lmtp       unix  - - n - - lmtp
anvil      unix  - - n - 1 anvil
scache     unix  - - n - 1 scache
postlog    unix-dgram n - n - 1 postlogd
{tls_master}"#,
            smtp = self.smtp_port,
        );
        for (name, text) in [("main.cf", main_cf), ("master.cf", master_cf)] {
            let path = self.postfix_config_dir.join(name);
            fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            // Postfix re-reads a configuration file every 300 ms until its mtime is in the
            // past (it might still be being edited), which made every fresh start ~2 s slower.
            let past = SystemTime::now() - Duration::from_secs(60);
            fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|file| file.set_modified(past))
                .with_context(|| format!("backdating {}", path.display()))?;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- clients

    /// Submits `raw` through our Postfix with the given envelope. An empty `from` is the null
    /// sender (`MAIL FROM:<>`).
    pub async fn send(&self, from: &str, to: &[&str], raw: &[u8]) -> Result<()> {
        use lettre::address::{Address, Envelope};
        use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

        let from = if from.is_empty() {
            None
        } else {
            Some(
                from.parse::<Address>()
                    .with_context(|| format!("invalid sender {from:?}"))?,
            )
        };
        let to = to
            .iter()
            .map(|rcpt| {
                rcpt.parse::<Address>()
                    .with_context(|| format!("invalid recipient {rcpt:?}"))
            })
            .collect::<Result<Vec<_>>>()?;
        let envelope = Envelope::new(from, to).context("building SMTP envelope")?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(HOST)
            .port(self.smtp_port)
            .timeout(Some(Duration::from_secs(30)))
            .build();
        let result = transport.send_raw(&envelope, raw).await;
        transport.shutdown().await;
        result.with_context(|| {
            format!(
                "SMTP submission to {HOST}:{} failed\n--- postfix log ---\n{}",
                self.smtp_port,
                tail(&self.postfix_log(), 20)
            )
        })?;
        Ok(())
    }

    /// The names of every folder of `user`'s mailbox (LIST "" "*").
    pub async fn list_folders(&self, user: &str) -> Result<Vec<String>> {
        let op = async {
            let mut session = self.imap_login(user).await?;
            let names: Vec<_> = session
                .list(Some(""), Some("*"))
                .await
                .context("LIST")?
                .try_collect()
                .await
                .context("reading LIST responses")?;
            let _ = session.logout().await;
            Ok(names.iter().map(|n| n.name().to_string()).collect())
        };
        tokio::time::timeout(IMAP_OP_TIMEOUT, op)
            .await
            .map_err(|_| anyhow!("IMAP LIST timed out after {IMAP_OP_TIMEOUT:?}"))?
    }

    /// All messages (full RFC 822 text, in sequence order) of `user`'s `folder`, read without
    /// changing flags. A missing or empty folder gives an empty Vec.
    pub async fn fetch_all(&self, user: &str, folder: &str) -> Result<Vec<Vec<u8>>> {
        let op = async {
            let mut session = self.imap_login(user).await?;
            let mailbox = match session.examine(folder).await {
                Ok(mailbox) => mailbox,
                // NO [NONEXISTENT] Mailbox doesn't exist
                Err(async_imap::error::Error::No(_)) => {
                    let _ = session.logout().await;
                    return Ok(Vec::new());
                }
                Err(err) => return Err(anyhow!(err).context(format!("EXAMINE {folder:?}"))),
            };
            let mut messages = Vec::new();
            if mailbox.exists > 0 {
                let mut fetches = session
                    .fetch("1:*", "BODY.PEEK[]")
                    .await
                    .with_context(|| format!("FETCH in {folder:?}"))?;
                while let Some(fetch) = fetches
                    .try_next()
                    .await
                    .with_context(|| format!("reading FETCH responses in {folder:?}"))?
                {
                    // NOTE: Dovecot answers `BODY[] NIL` for a message another
                    // session expunged meanwhile (the daemon moved it): it is
                    // no longer in the folder, so it is not listed.
                    let Some(body) = fetch.body() else {
                        continue;
                    };
                    messages.push((fetch.message, body.to_vec()));
                }
            }
            let _ = session.logout().await;
            messages.sort_by_key(|(seq, _)| *seq);
            Ok(messages.into_iter().map(|(_, body)| body).collect())
        };
        tokio::time::timeout(IMAP_OP_TIMEOUT, op)
            .await
            .map_err(|_| anyhow!("IMAP fetch timed out after {IMAP_OP_TIMEOUT:?}"))?
            .with_context(|| format!("fetching {user}/{folder} over IMAP"))
    }

    /// Polls [`MailServers::fetch_all`] until `folder` holds at least `count` messages and
    /// returns them all; fails after `timeout` with the server logs in the error.
    pub async fn wait_for_mail(
        &self,
        user: &str,
        folder: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<Vec<u8>>> {
        let what = format!("{count} message(s) in {user}/{folder}");
        poll(&what, timeout, WAIT_FOR_MAIL_POLL, async || {
            match self.fetch_all(user, folder).await {
                Ok(messages) if messages.len() >= count => Ok(messages),
                Ok(messages) => Err(format!("{} message(s)", messages.len())),
                Err(err) => Err(format!("error: {err:#}")),
            }
        })
        .await
        .map_err(|err| {
            anyhow!(
                "{err:#}\n--- postfix log (tail) ---\n{}\n--- dovecot log (tail) ---\n{}",
                tail(&self.postfix_log(), 40),
                tail(&self.dovecot_log(), 20)
            )
        })
    }

    /// Stores `raw` in `user`'s `folder` with IMAP APPEND, creating the folder if needed.
    pub async fn append(&self, user: &str, folder: &str, raw: &[u8]) -> Result<()> {
        let op = async {
            let mut session = self.imap_login(user).await?;
            if !folder.eq_ignore_ascii_case("INBOX") {
                match session.create(folder).await {
                    // NO [ALREADYEXISTS] Mailbox already exists
                    Ok(()) | Err(async_imap::error::Error::No(_)) => {}
                    Err(err) => return Err(anyhow!(err).context(format!("CREATE {folder:?}"))),
                }
            }
            session
                .append(folder, None, None, raw)
                .await
                .with_context(|| format!("APPEND to {folder:?}"))?;
            let _ = session.logout().await;
            Ok(())
        };
        tokio::time::timeout(IMAP_OP_TIMEOUT, op)
            .await
            .map_err(|_| anyhow!("IMAP append timed out after {IMAP_OP_TIMEOUT:?}"))?
            .with_context(|| format!("appending to {user}/{folder} over IMAP"))
    }

    /// Stores every one of `raws` in `user`'s INBOX with IMAP APPEND, in
    /// one session (a flood in one go, without a login per mail).
    pub async fn append_all(&self, user: &str, raws: &[Vec<u8>]) -> Result<()> {
        let op = async {
            let mut session = self.imap_login(user).await?;
            for raw in raws {
                session
                    .append("INBOX", None, None, raw)
                    .await
                    .context("APPEND to INBOX")?;
            }
            let _ = session.logout().await;
            Ok::<(), anyhow::Error>(())
        };
        tokio::time::timeout(IMAP_OP_TIMEOUT * 4, op)
            .await
            .map_err(|_| anyhow!("IMAP append of {} mails timed out", raws.len()))?
            .with_context(|| format!("appending to {user}/INBOX over IMAP"))
    }

    /// The folders `user` subscribes to (LSUB), in the server's names.
    pub async fn subscribed(&self, user: &str) -> Result<Vec<String>> {
        let op = async {
            let mut session = self.imap_login(user).await?;
            let names: Vec<String> = session
                .lsub(Some(""), Some("*"))
                .await
                .context("LSUB")?
                .map_ok(|n| n.name().to_string())
                .try_collect()
                .await
                .context("reading LSUB")?;
            let _ = session.logout().await;
            Ok(names)
        };
        tokio::time::timeout(IMAP_OP_TIMEOUT, op)
            .await
            .map_err(|_| anyhow!("IMAP LSUB timed out after {IMAP_OP_TIMEOUT:?}"))?
    }

    /// Deletes `user`'s `folder` (server name) with everything in it.
    pub async fn delete_folder(&self, user: &str, folder: &str) -> Result<()> {
        let op = async {
            let mut session = self.imap_login(user).await?;
            session
                .delete(folder)
                .await
                .with_context(|| format!("DELETE {folder:?}"))?;
            let _ = session.logout().await;
            Ok(())
        };
        tokio::time::timeout(IMAP_OP_TIMEOUT, op)
            .await
            .map_err(|_| anyhow!("IMAP DELETE timed out after {IMAP_OP_TIMEOUT:?}"))?
    }

    async fn imap_login(&self, user: &str) -> Result<async_imap::Session<tokio::net::TcpStream>> {
        let stream = tokio::net::TcpStream::connect((HOST, self.imap_port))
            .await
            .with_context(|| format!("connecting to IMAP {HOST}:{}", self.imap_port))?;
        let mut client = async_imap::Client::new(stream);
        client
            .read_response()
            .await
            .context("reading IMAP greeting")?
            .context("IMAP server closed the connection before its greeting")?;
        client
            .login(user, PASSWORD)
            .await
            .map_err(|(err, _client)| anyhow!(err))
            .with_context(|| format!("IMAP LOGIN as {user:?}"))
    }

    // ---------------------------------------------------------------- accessors

    /// The Postfix log (every queue ID, delivery attempt and error).
    pub fn postfix_log(&self) -> String {
        fs::read_to_string(&self.postfix_log).unwrap_or_default()
    }

    /// The Dovecot log (logins, LMTP deliveries, errors).
    pub fn dovecot_log(&self) -> String {
        fs::read_to_string(&self.dovecot_log).unwrap_or_default()
    }

    pub fn imap_addr(&self) -> (String, u16) {
        (HOST.to_string(), self.imap_port)
    }

    pub fn smtp_addr(&self) -> (String, u16) {
        (HOST.to_string(), self.smtp_port)
    }

    pub fn lmtp_addr(&self) -> (String, u16) {
        (HOST.to_string(), self.lmtp_port)
    }

    /// CPU clock ticks (user + system) Dovecot and Postfix have used so far:
    /// each master's process group, with the children the masters reaped
    /// (every service process is a master's child). The difference of two
    /// readings is what the servers did in between.
    pub fn cpu_ticks(&self) -> u64 {
        [
            running_master(&self.dovecot_base_dir.join("master.pid"), DOVECOT_MASTER),
            running_master(
                &self.postfix_queue_dir.join("pid/master.pid"),
                POSTFIX_MASTER,
            ),
        ]
        .into_iter()
        .flatten()
        .map(group_cpu_ticks)
        .sum()
    }

    /// The instance directory (configs, logs, queue and maildirs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The PEM certificate of the throwaway CA that issued the servers' certificate (only
    /// with [`MailServers::start_with_tls`]); a client that trusts it can verify both
    /// servers as `localhost` or `127.0.0.1`.
    pub fn ca_file(&self) -> Option<&Path> {
        self.tls.as_ref().map(|tls| tls.ca_cert.as_path())
    }
}

impl Drop for MailServers {
    fn drop(&mut self) {
        let grace = Duration::from_secs(2);
        if let Err(err) = self.stop_postfix_within(grace) {
            eprintln!("mail_servers: stopping Postfix on drop: {err:#}");
        }
        if let Err(err) = self.stop_dovecot_within(grace) {
            eprintln!("mail_servers: stopping Dovecot on drop: {err:#}");
        }
        release_ports(&[self.imap_port, self.lmtp_port, self.smtp_port]);
        release_ports(
            &[
                self.imaps_port,
                self.smtps_port,
                self.tls.as_ref().map(|tls| tls.auth_port),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>(),
        );
    }
}

// -------------------------------------------------------------------- environment

fn ensure_root() -> Result<()> {
    let status = fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let euid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .context("no Uid line in /proc/self/status")?;
    if euid != "0" {
        bail!(
            "MailServers needs root (it runs private Dovecot and Postfix instances); euid is {euid}"
        );
    }
    Ok(())
}

fn find_binary(name: &str) -> Result<PathBuf> {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    ["/usr/sbin", "/usr/local/sbin", "/sbin"]
        .iter()
        .map(PathBuf::from)
        .chain(std::env::split_paths(&path_var))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .with_context(|| {
            format!("`{name}` not found; install the test dependencies with scripts/install-test-deps.sh")
        })
}

fn find_openssl() -> Result<PathBuf> {
    find_binary("openssl").context(
        "MailServers::start_with_tls needs the `openssl` command (Debian package `openssl`)",
    )
}

// -------------------------------------------------------------------- TLS material

/// Certificates of a TLS-enabled instance, plus the port of Dovecot's auth service that
/// Postfix uses for SMTP AUTH.
#[derive(Debug)]
struct TlsSetup {
    ca_cert: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    auth_port: u16,
}

/// Our own OpenSSL configuration, so that neither the system's `openssl.cnf` nor its
/// defaults matter. The extensions are what rustls/webpki insist on: a CA with
/// `basicConstraints CA:TRUE`, an end-entity certificate with a subjectAltName (the CN is
/// ignored) and, since an EKU is present, `serverAuth`.
const OPENSSL_CNF: &str = r#"[req]
distinguished_name = dn
prompt = no
[dn]
CN = postbote test
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"#;

/// Validity of the throwaway certificates; they live as long as one test.
const CERT_DAYS: &str = "2";
/// `openssl req` arguments for a new, unencrypted ECDSA P-256 key (generated in
/// milliseconds, unlike RSA).
const NEW_P256_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
];

/// Creates a fresh self-signed CA (P-256) in `dir` as `<name>.pem` / `<name>.key` and returns
/// both paths.
fn create_ca(openssl: &Path, dir: &Path, name: &str) -> Result<(PathBuf, PathBuf)> {
    let cnf = write_openssl_cnf(dir)?;
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    run_openssl(
        Command::new(openssl)
            .args(["req", "-x509", "-config"])
            .arg(&cnf)
            .args(["-extensions", "ca_ext"])
            .args(NEW_P256_KEY)
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .args(["-days", CERT_DAYS, "-subj"])
            .arg(format!(
                "/CN=postbote test CA {name} {}",
                std::process::id()
            )),
    )
    .with_context(|| format!("creating the test CA {}", cert.display()))?;
    Ok((cert, key))
}

/// Creates a fresh throwaway CA in `dir` and returns its PEM certificate: a client that
/// trusts only this CA must reject the servers of [`MailServers::start_with_tls`] (unknown
/// issuer). Blocking.
pub fn create_untrusted_ca(dir: &Path) -> Result<PathBuf> {
    let openssl = find_openssl()?;
    Ok(create_ca(&openssl, dir, "untrusted-ca")?.0)
}

/// Issues `server.pem` / `server.key` in `dir` for `localhost` and `127.0.0.1`, signed by the
/// CA `ca_cert` / `ca_key`.
fn create_server_cert(
    openssl: &Path,
    dir: &Path,
    ca_cert: &Path,
    ca_key: &Path,
) -> Result<(PathBuf, PathBuf)> {
    let cnf = write_openssl_cnf(dir)?;
    let csr = dir.join("server.csr");
    let cert = dir.join("server.pem");
    let key = dir.join("server.key");
    run_openssl(
        Command::new(openssl)
            .args(["req", "-new", "-config"])
            .arg(&cnf)
            .args(NEW_P256_KEY)
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&csr)
            .args(["-subj", "/CN=localhost"]),
    )
    .context("creating the server key and CSR")?;
    run_openssl(
        Command::new(openssl)
            .args(["x509", "-req", "-in"])
            .arg(&csr)
            .arg("-CA")
            .arg(ca_cert)
            .arg("-CAkey")
            .arg(ca_key)
            .args(["-set_serial", "2", "-days", CERT_DAYS])
            .arg("-extfile")
            .arg(&cnf)
            .args(["-extensions", "server_ext", "-out"])
            .arg(&cert),
    )
    .context("signing the server certificate")?;
    set_mode(&key, 0o600)?;
    Ok((cert, key))
}

fn write_openssl_cnf(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("openssl.cnf");
    fs::write(&path, OPENSSL_CNF).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn run_openssl(command: &mut Command) -> Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout).trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

fn parent_dir() -> Result<PathBuf> {
    // Dovecot's unix sockets live below this directory; keep the path short (sun_path is
    // limited to 108 bytes).
    let mut base = std::env::temp_dir();
    if base.as_os_str().len() > 40 {
        base = PathBuf::from("/tmp");
    }
    let parent = base.join(PARENT_DIR_NAME);
    fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    set_mode(&parent, 0o755)?;
    Ok(parent)
}

/// Kills the servers of instance directories whose owning process died without dropping
/// its `MailServers` (e.g. a test binary killed by a signal) and removes the directories.
fn sweep_stale_instances(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        let owner = fs::read_to_string(dir.join("owner.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        let stale = match owner {
            Some(pid) => !is_alive(pid),
            // Being created right now, or left half-initialised long ago.
            None => entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > Duration::from_secs(600)),
        };
        if !stale {
            continue;
        }
        for (pid_file, comm) in [
            ("dovecot/run/master.pid", DOVECOT_MASTER),
            ("postfix/queue/pid/master.pid", POSTFIX_MASTER),
        ] {
            if let Some(pid) = running_master(&dir.join(pid_file), comm) {
                let _ = signal(&format!("-{pid}"), "KILL");
            }
        }
        let _ = fs::remove_dir_all(&dir);
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {mode:o} {}", path.display()))
}

/// Runs a command that starts a daemon and returns its exit status and output.
///
/// The output goes to a file, not a pipe: the daemon inherits stdout/stderr, and
/// `Command::output()` would wait for the pipe to close, i.e. until the daemon exits.
fn run_daemonizing(mut command: Command, out_path: &Path) -> Result<(ExitStatus, String)> {
    let out =
        fs::File::create(out_path).with_context(|| format!("creating {}", out_path.display()))?;
    let err = out.try_clone().context("duplicating output file handle")?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(|| format!("running {command:?}"))?;
    let deadline = Instant::now() + START_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for start command")? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{command:?} did not finish within {START_TIMEOUT:?}: {}",
                fs::read_to_string(out_path).unwrap_or_default()
            );
        }
        std::thread::sleep(POLL);
    };
    let output = fs::read_to_string(out_path).unwrap_or_default();
    Ok((status, output.trim().to_string()))
}

fn chown(path: &Path, owner: &str) -> Result<()> {
    let status = Command::new("chown")
        .arg(owner)
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .context("running chown")?;
    if !status.success() {
        bail!("chown {owner} {} failed: {status}", path.display());
    }
    Ok(())
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// -------------------------------------------------------------------- ports

/// Reserves `count` distinct free loopback ports.
///
/// Ports are drawn at random from below the kernel's ephemeral range: a port inside it could,
/// while its server is stopped, be taken as the local port of some outgoing connection
/// (including a TCP self-connect to that very port), which would make the restart fail.
fn reserve_ports(count: usize) -> Result<Vec<u16>> {
    let ephemeral_low = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = (20000u16, ephemeral_low.min(40000));
    let mut reserved = RESERVED_PORTS
        .lock()
        .map_err(|_| anyhow!("port registry poisoned"))?;
    let mut listeners = Vec::new();
    let mut ports = Vec::new();
    let random = RandomState::new();
    let mut tries = 0u64;
    while ports.len() < count {
        tries += 1;
        let port = if high > low + 1000 && tries < 2000 {
            let mut hasher = random.build_hasher();
            hasher.write_u64(tries);
            let span = u64::from(high - low);
            low + u16::try_from(hasher.finish() % span).context("port out of range")?
        } else if tries < 4000 {
            // Unusual port range configuration: let the kernel choose.
            TcpListener::bind((HOST, 0))
                .and_then(|l| l.local_addr())
                .context("binding 127.0.0.1:0")?
                .port()
        } else {
            bail!("could not find {count} free loopback ports");
        };
        if reserved.contains(&port) || ports.contains(&port) {
            continue;
        }
        if let Ok(listener) = TcpListener::bind((HOST, port)) {
            listeners.push(listener);
            ports.push(port);
        }
    }
    reserved.extend(ports.iter().copied());
    Ok(ports)
}

fn release_ports(ports: &[u16]) {
    if let Ok(mut reserved) = RESERVED_PORTS.lock() {
        for port in ports {
            reserved.remove(port);
        }
    }
}

/// Calls `probe` every `every` until it returns `Ok`, and returns that value. `Err` means
/// "not yet" and carries what the probe saw instead; once `timeout` has passed, the error
/// names `what` was awaited and that last observation. The one polling loop of the async
/// test helpers (`helpers::poll_until` fails the test with it).
pub async fn poll<T, O: std::fmt::Display>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut probe: impl AsyncFnMut() -> std::result::Result<T, O>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        let seen = match probe().await {
            Ok(value) => return Ok(value),
            Err(seen) => seen,
        };
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}; last seen: {seen}");
        }
        tokio::time::sleep(every).await;
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Waits until a server on `port` sends a greeting starting with `prefix`, then says goodbye.
fn wait_greeting(port: u16, prefix: &str, deadline: Instant) -> Result<()> {
    loop {
        let last = match read_greeting(port) {
            Ok(line) if line.starts_with(prefix) => return Ok(()),
            Ok(line) => format!("unexpected greeting {line:?}"),
            Err(err) => format!("{err:#}"),
        };
        if Instant::now() >= deadline {
            bail!("{HOST}:{port} did not greet with {prefix:?} in time (last: {last})");
        }
        std::thread::sleep(POLL);
    }
}

fn read_greeting(port: u16) -> Result<String> {
    let stream = TcpStream::connect_timeout(&loopback(port), Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let goodbye: &[u8] = if line.starts_with('*') {
        b"a LOGOUT\r\n"
    } else {
        b"QUIT\r\n"
    };
    let mut stream = stream;
    let _ = stream.write_all(goodbye);
    // Let the server answer so that it does not log a lost connection.
    let mut ignored = String::new();
    let _ = reader.read_line(&mut ignored);
    Ok(line.trim_end().to_string())
}

fn wait_port_closed(port: u16, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        match TcpStream::connect_timeout(&loopback(port), Duration::from_secs(1)) {
            Err(err) if err.kind() == ErrorKind::ConnectionRefused => return Ok(()),
            _ if Instant::now() >= deadline => {
                bail!("{HOST}:{port} still accepts connections {timeout:?} after stopping")
            }
            _ => std::thread::sleep(POLL),
        }
    }
}

// -------------------------------------------------------------------- processes

#[derive(Debug)]
struct ProcStat {
    state: char,
    pgrp: u32,
    comm: String,
    /// utime + stime + cutime + cstime: the process's CPU and that of its
    /// children it has waited for, in clock ticks.
    cpu_ticks: u64,
}

fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let mut fields = text.get(close + 1..)?.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    // After pgrp (field 5): session .. cmajflt (6-13), then utime, stime,
    // cutime, cstime (14-17).
    let cpu_ticks = fields
        .skip(8)
        .take(4)
        .map(|f| f.parse::<u64>().unwrap_or(0))
        .sum();
    Some(ProcStat {
        state,
        pgrp,
        comm,
        cpu_ticks,
    })
}

/// CPU clock ticks used so far by process group `pgid`: every member (zombies
/// too, until they are reaped) with the children it has reaped.
fn group_cpu_ticks(pgid: u32) -> u64 {
    group_stats(pgid).map(|(_, stat)| stat.cpu_ticks).sum()
}

/// Every process of group `pgid`, zombies included.
fn group_stats(pgid: u32) -> impl Iterator<Item = (u32, ProcStat)> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, proc_stat(pid)?)))
        .filter(move |(_, stat)| stat.pgrp == pgid)
}

/// Alive and not a zombie (the container's init may reap daemonized processes late).
fn is_alive(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|stat| !matches!(stat.state, 'Z' | 'X'))
}

/// Live (non-zombie) members of process group `pgid`, as (pid, comm).
fn group_members(pgid: u32) -> Vec<(u32, String)> {
    group_stats(pgid)
        .filter(|(_, stat)| !matches!(stat.state, 'Z' | 'X'))
        .map(|(pid, stat)| (pid, stat.comm))
        .collect()
}

/// Sends `sig` to `target` (a pid, or `-pgid` for a process group) via the shell's `kill`
/// builtin, which exists even where procps does not.
fn signal(target: &str, sig: &str) -> Result<()> {
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -s {sig} -- {target}"))
        .output()
        .context("running sh -c kill")?;
    if !output.status.success() {
        bail!(
            "kill -s {sig} {target}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// SIGTERMs the daemon master `pid` (leader of its own process group) and waits until the
/// whole group is gone. Once only the master and members named in `lingering` are left, or
/// after `grace`, the group is SIGKILLed.
fn stop_process_group(pid: u32, lingering: &[&str], grace: Duration) -> Result<()> {
    let Some(stat) = proc_stat(pid) else {
        return Ok(());
    };
    if matches!(stat.state, 'Z' | 'X') {
        return Ok(());
    }
    if stat.pgrp != pid {
        bail!(
            "pid {pid} ({}) is not a daemon master (process group {})",
            stat.comm,
            stat.pgrp
        );
    }
    // The master may have exited just now.
    let _ = signal(&pid.to_string(), "TERM");
    let mut deadline = Instant::now() + grace;
    let mut killed = false;
    loop {
        let members = group_members(pid);
        if members.is_empty() {
            return Ok(());
        }
        let master_alive = members.iter().any(|(p, _)| *p == pid);
        if master_alive
            && !killed
            && members.len() > 1
            && members
                .iter()
                .all(|(p, comm)| *p == pid || lingering.contains(&comm.as_str()))
        {
            // Only the master and its lingering helpers are left: every worker has finished,
            // so nothing is lost by ending the rest at once.
            let _ = signal(&format!("-{pid}"), "KILL");
            killed = true;
            deadline = Instant::now() + Duration::from_secs(5);
        }
        if Instant::now() >= deadline {
            if killed {
                let mut survivors = String::new();
                for (p, comm) in &members {
                    let _ = write!(survivors, " {p}({comm})");
                }
                bail!("process group {pid} survived SIGKILL:{survivors}");
            }
            let _ = signal(&format!("-{pid}"), "KILL");
            killed = true;
            deadline = Instant::now() + Duration::from_secs(5);
        }
        std::thread::sleep(POLL);
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The pid in `pid_file` if it is a live daemon master: named `comm` and leader of its own
/// process group (guards against stale pid files whose pid was reused).
fn running_master(pid_file: &Path, comm: &str) -> Option<u32> {
    let pid = read_pid(pid_file)?;
    let stat = proc_stat(pid)?;
    (stat.pgrp == pid && stat.comm == comm && !matches!(stat.state, 'Z' | 'X')).then_some(pid)
}
