//! The daemon settings, `postbote.toml`. Every key is documented in
//! `config/postbote.example.toml`.

use super::{ConfigError, overrides, secret};
use crate::domain::EmailAddress;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub instance: InstanceSettings,
    pub mailbox: MailboxSettings,
    pub imap: Option<ImapSettings>,
    pub maildir: Option<MaildirSettings>,
    pub smtp: SmtpSettings,
    pub storage: StorageSettings,
    pub mail: MailSettings,
    #[serde(default)]
    pub staff: StaffSettings,
    pub programme: ProgrammeSettings,
    pub templates: TemplateSettings,
    #[serde(default)]
    pub health: HealthSettings,
    #[serde(default)]
    pub log: LogSettings,
    #[serde(default)]
    pub workflow: WorkflowSettings,
    #[serde(default)]
    pub reminders: super::schedule::ReminderSettings,
    #[serde(default)]
    pub digest: super::schedule::DigestSettings,
    #[serde(default)]
    pub retention: RetentionSettings,
}

/// `[retention]`: how long each kind of data is kept, each a number of days
/// or months after a named point; applied once a day by the scheduler. 0
/// keeps that kind forever. See the README, "Data protection".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Applications not selected (decision reject or waitlist), with their
    /// mails, documents, facts and the mail sent to them: months after their
    /// decision notice was released.
    pub not_selected_months: u32,
    /// Applications never decided: months after their first mail arrived.
    pub undecided_months: u32,
    /// Accepted applications and the whole roster (participants rows, the
    /// applications behind them): months after the programme's last event.
    pub participants_months: u32,
    /// Mail that is neither an application nor a command ("other", replies
    /// not tied to an application, unparseable, failed mail): days after it
    /// arrived.
    pub other_days: u32,
    /// Automatic mail (auto-replies, bounces and other delivery reports,
    /// spam-flagged and looping mail) and duplicates: days after it arrived.
    pub automatic_days: u32,
    /// Staff mail: command mails (they carry the command secret) and other
    /// mail from staff addresses: days after it arrived.
    pub staff_days: u32,
    /// Raw copies of sent mail: the outbox's raw message (the row itself stays
    /// as long as its application, for idempotency) and the copies that
    /// arrive in the project mailbox and are filed into `imap.sent_folder`
    /// (and postbote's own mail): days after it was sent.
    pub sent_days: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            not_selected_months: 6,
            undecided_months: 12,
            participants_months: 12,
            other_days: 30,
            automatic_days: 30,
            staff_days: 30,
            sent_days: 90,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSettings {
    /// Days before the deadline when incomplete applications get a reminder (0: never).
    #[serde(default = "default_reminder_days")]
    pub incomplete_reminder_days: u32,
}

impl Default for WorkflowSettings {
    fn default() -> Self {
        WorkflowSettings {
            incomplete_reminder_days: default_reminder_days(),
        }
    }
}

fn default_reminder_days() -> u32 {
    3
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceSettings {
    /// Names this installation in the loop-detection header.
    pub name: String,
    /// Domain of the Message-IDs we generate.
    pub domain: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Imap,
    Maildir,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxSettings {
    pub source: SourceKind,
    #[serde(default = "default_inbox")]
    pub folder: String,
    /// Where handled mail is moved. `/` separates levels whatever the
    /// server uses; the name is translated to the server's namespace.
    pub processed_folder: String,
    /// A message whose fetch or move the server refused is retried after
    /// this long, doubling up to `retry_max_secs` ...
    #[serde(default = "default_mailbox_retry_initial")]
    pub retry_initial_secs: u64,
    #[serde(default = "default_mailbox_retry_max")]
    pub retry_max_secs: u64,
    /// ... and left for a human (staff notice, `status` unhealthy) after this many attempts.
    #[serde(default = "default_mailbox_attempts")]
    pub max_attempts: u32,
    /// A message larger than this (RFC822.SIZE, asked before FETCH) is not
    /// fetched: it stays in the folder, is recorded, and staff are told once.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: u64,
    /// The longest time between two looks at the folder, IDLE or not: IDLE
    /// is a hint, not a promise, and every look is a mailbox check for
    /// `health.mailbox_stale_after_secs`.
    #[serde(default = "default_rescan")]
    pub rescan_secs: u64,
    /// New mail is fetched in pages of at most this many bytes (by
    /// RFC822.SIZE), one `UID FETCH` each: bounds the intake's memory.
    #[serde(default = "default_fetch_page_bytes")]
    pub fetch_page_bytes: u64,
}

impl Settings {
    /// The longest a quiet mailbox goes without a successful check (a
    /// sweep): the rescan interval, or the IDLE renewal or the polling
    /// interval when that is shorter.
    pub fn longest_check_gap_secs(&self) -> u64 {
        let wait = match (self.mailbox.source, &self.imap, &self.maildir) {
            (SourceKind::Imap, Some(i), _) if i.use_idle => i.idle_renew_secs,
            (SourceKind::Imap, Some(i), _) => i.poll_interval_secs,
            (SourceKind::Maildir, _, Some(m)) => m.poll_interval_secs,
            _ => self.mailbox.rescan_secs,
        };
        wait.min(self.mailbox.rescan_secs)
    }
}

/// Transport security for IMAP and SMTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Implicit TLS (IMAPS 993, SMTPS 465).
    Tls,
    /// STARTTLS upgrade (IMAP 143, submission 587).
    Starttls,
    /// No encryption: allowed only to loopback.
    Plain,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub password_file: Option<PathBuf>,
    #[serde(skip)]
    pub password: Option<SecretString>,
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_true")]
    pub use_idle: bool,
    #[serde(default = "default_idle_renew")]
    pub idle_renew_secs: u64,
    #[serde(default = "default_poll")]
    pub poll_interval_secs: u64,
    #[serde(default = "default_backoff_initial_ms")]
    pub backoff_initial_ms: u64,
    #[serde(default = "default_backoff_max")]
    pub backoff_max_secs: u64,
    /// Append a copy of every sent mail here (empty: off).
    #[serde(default)]
    pub sent_folder: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaildirSettings {
    pub path: PathBuf,
    #[serde(default = "default_poll")]
    pub poll_interval_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    Smtp,
    File,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub transport: TransportKind,
    #[serde(default)]
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default = "default_security")]
    pub security: Security,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    #[serde(skip)]
    pub password: Option<SecretString>,
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_pool")]
    pub pool_max: u32,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "default_retry_initial")]
    pub retry_initial_secs: u64,
    #[serde(default = "default_retry_max")]
    pub retry_max_secs: u64,
    /// For `transport = "file"`: the folder for .eml files.
    pub file_dir: Option<PathBuf>,
    /// Every mail also goes, in the same SMTP transaction (an extra envelope
    /// recipient), to the project mailbox: the intake files it into
    /// `imap.sent_folder`, and after a crash it proves that a mail was
    /// accepted. Off: no copy recipient (and no crash check).
    #[serde(default = "default_true")]
    pub copy_sent: bool,
    /// Where that copy goes; default `mail.from_address`.
    pub copy_to: Option<EmailAddress>,
    /// A mail whose send was interrupted (a crash after the server's answer
    /// may have come) is sent again only when its copy has not arrived this
    /// many seconds after the send began.
    #[serde(default = "default_recovery_wait")]
    pub recovery_wait_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    pub database: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub from_address: EmailAddress,
    pub from_name: String,
    pub reply_to: Option<EmailAddress>,
    #[serde(default = "default_daily_cap")]
    pub daily_cap_per_recipient: u32,
    /// At most this many applicant-facing mails (confirmations, reminders:
    /// `Cap::Applicant`) to anyone within the last hour; more are recorded
    /// `suppressed` and staff are told once per hour.
    #[serde(default = "default_max_automatic_per_hour")]
    pub max_automatic_per_hour: u32,
    /// ORGANIZER of calendar invitations. Optional and, if given, must equal
    /// `from_address`: the ORGANIZER is always the From address of the mail
    /// that carries the invitation (validated at startup and check-config).
    pub organizer_address: Option<EmailAddress>,
    /// The ORGANIZER's display name (CN); default `from_name`.
    pub organizer_name: Option<String>,
}

impl MailSettings {
    /// The ORGANIZER address of invitations: the From address.
    ///
    /// NOTE: Outlook shows an invitation whose ORGANIZER is not the sender as
    /// sent on someone's behalf, Gmail warns that it may be forged, and every
    /// client sends meeting responses to the ORGANIZER, not to Reply-To; so
    /// the ORGANIZER is the From mailbox, which postbote reads.
    pub fn organizer(&self) -> &EmailAddress {
        &self.from_address
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffSettings {
    /// Mail from these addresses is staff mail (never treated as an application).
    #[serde(default)]
    pub addresses: Vec<EmailAddress>,
    /// Who gets notices (late applications, quarantined mail).
    #[serde(default)]
    pub notify: Vec<EmailAddress>,
    /// authserv-ids of the receiving servers whose Authentication-Results
    /// header is trusted for staff commands (DKIM or SPF pass).
    #[serde(default)]
    pub trusted_authserv_ids: Vec<String>,
    /// How many `Received` headers the own hops (the boundary MTA, local
    /// delivery) add above the boundary MTA's Authentication-Results; a
    /// header below one more `Received` is another hop's and never counts.
    #[serde(default = "default_trusted_received")]
    pub trusted_received_headers: usize,
    /// `spf=pass` alone (without an aligned DKIM pass) authenticates.
    #[serde(default)]
    pub accept_spf_only: bool,
    /// A command mail whose Date is older than this many hours (or more
    /// than a few minutes in the future) is refused.
    #[serde(default = "default_command_max_age")]
    pub command_max_age_hours: u64,
    /// A file whose first line is the secret that authenticates staff
    /// commands ("Kennwort: ..."); or POSTBOTE_STAFF__COMMAND_SECRET.
    pub command_secret_file: Option<PathBuf>,
    #[serde(skip)]
    pub command_secret: Option<SecretString>,
}

/// The shortest command secret accepted.
pub const MIN_COMMAND_SECRET_CHARS: usize = 20;

impl Default for StaffSettings {
    fn default() -> Self {
        StaffSettings {
            addresses: Vec::new(),
            notify: Vec::new(),
            trusted_authserv_ids: Vec::new(),
            trusted_received_headers: default_trusted_received(),
            accept_spf_only: false,
            command_max_age_hours: default_command_max_age(),
            command_secret_file: None,
            command_secret: None,
        }
    }
}

fn default_trusted_received() -> usize {
    2
}

fn default_command_max_age() -> u64 {
    24
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeSettings {
    /// One programme file (the layout before part 9).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Several programme files, one per programme. The first one owns the
    /// data stored before part 9 (see `store::programmes::adopt`).
    #[serde(default)]
    pub files: Vec<PathBuf>,
}

impl ProgrammeSettings {
    /// The programme files, in order: `file`, or else `files`.
    pub fn paths(&self) -> Vec<&Path> {
        match &self.file {
            Some(f) => vec![f.as_path()],
            None => self.files.iter().map(PathBuf::as_path).collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSettings {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSettings {
    #[serde(default = "default_stale")]
    pub mailbox_stale_after_secs: u64,
    #[serde(default = "default_stuck")]
    pub outbox_stuck_after_secs: u64,
    /// Staff get an alarm mail when no mailbox check succeeded for this long.
    #[serde(default = "default_alarm_mailbox")]
    pub alarm_mailbox_after_secs: u64,
    /// ... or when an outgoing mail has been failing for this many hours.
    #[serde(default = "default_alarm_outbox")]
    pub alarm_outbox_failing_hours: u64,
    /// Mail that has waited in the watched folder unprocessed for longer
    /// than this makes `status` unhealthy and raises an alarm.
    #[serde(default = "default_unprocessed_after")]
    pub unprocessed_after_secs: u64,
    /// The mailbox failing to open (login, folders, SELECT) for longer than
    /// this makes `status` unhealthy and raises an alarm; a folder that cannot
    /// be created or opened does so at once.
    #[serde(default = "default_mailbox_error_after")]
    pub mailbox_error_after_secs: u64,
    /// A mail that failed permanently within this many hours makes `status`
    /// exit 1 until someone acknowledges it (`postbote outbox ack`).
    #[serde(default = "default_failed_mail_window")]
    pub failed_mail_window_hours: u64,
    /// `status` exits 1 when the scheduler's planned pass is this much
    /// overdue: the scheduler is stuck in a pass, or not running.
    #[serde(default = "default_scheduler_late_after")]
    pub scheduler_late_after_secs: u64,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            mailbox_stale_after_secs: default_stale(),
            outbox_stuck_after_secs: default_stuck(),
            alarm_mailbox_after_secs: default_alarm_mailbox(),
            alarm_outbox_failing_hours: default_alarm_outbox(),
            unprocessed_after_secs: default_unprocessed_after(),
            mailbox_error_after_secs: default_mailbox_error_after(),
            failed_mail_window_hours: default_failed_mail_window(),
            scheduler_late_after_secs: default_scheduler_late_after(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    #[serde(default)]
    pub format: LogFormat,
    /// A tracing filter such as `info` or `postbote=debug`.
    #[serde(default)]
    pub filter: Option<String>,
}

fn default_inbox() -> String {
    "INBOX".into()
}
fn default_true() -> bool {
    true
}
fn default_idle_renew() -> u64 {
    25 * 60
}
fn default_poll() -> u64 {
    60
}
fn default_backoff_initial_ms() -> u64 {
    500
}
fn default_backoff_max() -> u64 {
    300
}
fn default_smtp_port() -> u16 {
    587
}
fn default_security() -> Security {
    Security::Starttls
}
fn default_pool() -> u32 {
    4
}
fn default_timeout() -> u64 {
    30
}
fn default_retry_initial() -> u64 {
    30
}
fn default_retry_max() -> u64 {
    3600
}
fn default_daily_cap() -> u32 {
    5
}
fn default_max_automatic_per_hour() -> u32 {
    60
}
fn default_stale() -> u64 {
    15 * 60
}
fn default_stuck() -> u64 {
    3600
}
fn default_alarm_mailbox() -> u64 {
    3600
}
fn default_alarm_outbox() -> u64 {
    4
}
fn default_unprocessed_after() -> u64 {
    900
}
fn default_mailbox_error_after() -> u64 {
    300
}
fn default_recovery_wait() -> u64 {
    120
}
fn default_scheduler_late_after() -> u64 {
    600
}
fn default_failed_mail_window() -> u64 {
    72
}
fn default_mailbox_retry_initial() -> u64 {
    30
}
fn default_mailbox_retry_max() -> u64 {
    900
}
fn default_mailbox_attempts() -> u32 {
    5
}
fn default_fetch_page_bytes() -> u64 {
    4 * 1024 * 1024
}

fn default_max_message_bytes() -> u64 {
    50 * 1024 * 1024
}
fn default_rescan() -> u64 {
    300
}

impl Settings {
    /// Where the copy of every sent mail goes (an extra envelope recipient),
    /// or None: no copies (`smtp.copy_sent = false`, or the file transport).
    pub fn copy_address(&self) -> Option<&EmailAddress> {
        match (self.smtp.transport, self.smtp.copy_sent) {
            (TransportKind::Smtp, true) => Some(
                self.smtp
                    .copy_to
                    .as_ref()
                    .unwrap_or(&self.mail.from_address),
            ),
            _ => None,
        }
    }

    /// Whether `address` is the project mailbox (the From address or the
    /// copy address): mail to it is not a copy of mail to someone else.
    pub fn is_own_address(&self, address: &str) -> bool {
        let key = address.trim().to_lowercase();
        self.mail.from_address.key() == key
            || self.smtp.copy_to.as_ref().is_some_and(|c| c.key() == key)
    }

    /// Reads `path`, applies `POSTBOTE_*` overrides from `vars`, validates.
    pub fn load(
        path: &Path,
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            file: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path, vars)
    }

    /// Parses settings text; `path` anchors relative paths and names the file in errors.
    pub fn parse(
        text: &str,
        path: &Path,
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut root: toml::Value = text
            .parse::<toml::Table>()
            .map(toml::Value::Table)
            .map_err(|e| ConfigError::invalid(path, "(syntax)", e.message().to_string()))?;
        secret::refuse_clear_passwords(&root, path)?;
        overrides::apply(&mut root, vars, path)?;
        let imap_pw = take_password(&mut root, "imap");
        let smtp_pw = take_password(&mut root, "smtp");
        let command_secret = take_key(&mut root, "staff", "command_secret");
        let mut settings: Settings = serde_path_to_error::deserialize(root).map_err(|e| {
            let key = e.path().to_string();
            ConfigError::invalid(path, key, e.inner().to_string())
        })?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        settings.anchor_paths(&base);
        if let Some(imap) = settings.imap.as_mut() {
            imap.password = secret::resolve(
                imap_pw,
                imap.password_file.as_deref(),
                path,
                "imap.password",
            )?;
        }
        settings.smtp.password = secret::resolve(
            smtp_pw,
            settings.smtp.password_file.as_deref(),
            path,
            "smtp.password",
        )?;
        settings.staff.command_secret = secret::resolve(
            command_secret,
            settings.staff.command_secret_file.as_deref(),
            path,
            "staff.command_secret",
        )?;
        settings.validate(path)?;
        Ok(settings)
    }

    fn anchor_paths(&mut self, base: &Path) {
        let anchor = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        anchor(&mut self.storage.database);
        self.programme.file.as_mut().map(anchor);
        self.programme.files.iter_mut().for_each(anchor);
        anchor(&mut self.templates.dir);
        if let Some(m) = self.maildir.as_mut() {
            anchor(&mut m.path);
        }
        if let Some(i) = self.imap.as_mut() {
            i.password_file.as_mut().map(anchor);
            i.ca_file.as_mut().map(anchor);
        }
        self.smtp.password_file.as_mut().map(anchor);
        self.smtp.ca_file.as_mut().map(anchor);
        self.smtp.file_dir.as_mut().map(anchor);
        self.staff.command_secret_file.as_mut().map(anchor);
    }

    fn validate(&self, file: &Path) -> Result<(), ConfigError> {
        let bad = |key: &str, reason: &str| Err(ConfigError::invalid(file, key, reason));
        match (&self.programme.file, self.programme.files.len()) {
            (None, 0) => {
                return bad(
                    "programme",
                    "name the programme file (file = \"…\") or files (files = [\"…\", …])",
                );
            }
            (Some(_), n) if n > 0 => {
                return bad("programme", "set either file or files, not both");
            }
            _ => {}
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = self.programme.files.iter().find(|f| !seen.insert(*f)) {
            return bad(
                "programme.files",
                &format!("{} is listed twice", dup.display()),
            );
        }
        match self.mailbox.source {
            SourceKind::Imap if self.imap.is_none() => {
                return bad("imap", "mailbox.source is \"imap\" but [imap] is missing");
            }
            SourceKind::Maildir if self.maildir.is_none() => {
                return bad(
                    "maildir",
                    "mailbox.source is \"maildir\" but [maildir] is missing",
                );
            }
            _ => {}
        }
        if let Some(imap) = &self.imap {
            if imap.security == Security::Plain && !is_loopback(&imap.host) {
                return bad(
                    "imap.security",
                    "plaintext IMAP is allowed only to loopback",
                );
            }
            if imap.idle_renew_secs == 0 || imap.idle_renew_secs >= 29 * 60 {
                return bad(
                    "imap.idle_renew_secs",
                    "must be between 1 and 1739 (RFC 2177: under 29 minutes)",
                );
            }
            if self.mailbox.source == SourceKind::Imap && imap.password.is_none() {
                return bad(
                    "imap.password",
                    "no password: set imap.password_file or POSTBOTE_IMAP__PASSWORD",
                );
            }
        }
        match self.smtp.transport {
            TransportKind::Smtp => {
                if self.smtp.host.is_empty() {
                    return bad("smtp.host", "required when smtp.transport is \"smtp\"");
                }
                if self.smtp.security == Security::Plain && !is_loopback(&self.smtp.host) {
                    return bad(
                        "smtp.security",
                        "plaintext SMTP is allowed only to loopback",
                    );
                }
                if self.smtp.username.is_some() && self.smtp.password.is_none() {
                    return bad(
                        "smtp.password",
                        "smtp.username is set but no password: set smtp.password_file or POSTBOTE_SMTP__PASSWORD",
                    );
                }
            }
            TransportKind::File if self.smtp.file_dir.is_none() => {
                return bad("smtp.file_dir", "required when smtp.transport is \"file\"");
            }
            TransportKind::File => {}
        }
        if self.smtp.retry_initial_secs == 0
            || self.smtp.retry_max_secs < self.smtp.retry_initial_secs
        {
            return bad(
                "smtp.retry_max_secs",
                "must be at least smtp.retry_initial_secs, which must be > 0",
            );
        }
        if self.mailbox.retry_initial_secs == 0
            || self.mailbox.retry_max_secs < self.mailbox.retry_initial_secs
            || self.mailbox.max_attempts == 0
        {
            return bad(
                "mailbox.retry_max_secs",
                "must be at least mailbox.retry_initial_secs, which must be > 0; mailbox.max_attempts must be > 0",
            );
        }
        if self.mailbox.max_message_bytes < 1024 {
            return bad(
                "mailbox.max_message_bytes",
                "must be at least 1024 (the default is 52428800, 50 MiB)",
            );
        }
        if self.mailbox.rescan_secs == 0 {
            return bad("mailbox.rescan_secs", "must be at least 1");
        }
        // NOTE: a quiet mailbox is checked once per gap; a staleness limit
        // at or under it would read every quiet mailbox as unhealthy.
        let gap = self.longest_check_gap_secs();
        if self.health.mailbox_stale_after_secs <= gap {
            return bad(
                "health.mailbox_stale_after_secs",
                &format!(
                    "is {} but a quiet mailbox is checked only every {gap} s (the shortest of \
                     mailbox.rescan_secs and imap.idle_renew_secs, or the polling interval): a quiet \
                     mailbox would read as unhealthy; make it longer than {gap} or lower mailbox.rescan_secs",
                    self.health.mailbox_stale_after_secs
                ),
            );
        }
        if self.health.alarm_mailbox_after_secs <= gap {
            return bad(
                "health.alarm_mailbox_after_secs",
                &format!(
                    "is {} but a quiet mailbox is checked only every {gap} s: staff would be alarmed \
                     about a mailbox that works; make it longer than {gap}",
                    self.health.alarm_mailbox_after_secs
                ),
            );
        }
        if let Some(organizer) = &self.mail.organizer_address
            && organizer.key() != self.mail.from_address.key()
        {
            return bad(
                "mail.organizer_address",
                &format!(
                    "is {organizer} but mail.from_address is {}: the ORGANIZER of a calendar invitation must be \
                     the From address of its mail (Outlook shows it as sent on someone's behalf otherwise, and \
                     meeting responses go to the ORGANIZER); remove mail.organizer_address or set it to mail.from_address",
                    self.mail.from_address
                ),
            );
        }
        let organizer = self.mail.organizer().local_part().to_ascii_lowercase();
        if ["noreply", "no-reply", "donotreply", "do-not-reply"]
            .iter()
            .any(|n| organizer.starts_with(n))
        {
            return bad(
                "mail.from_address",
                "is the ORGANIZER of calendar invitations and receives the meeting responses: \
                 it must be a real mailbox that postbote reads, not a no-reply address",
            );
        }
        if let Err(e) = crate::calendar::cron::CronSchedule::parse(&self.digest.cron) {
            return bad("digest.cron", &e.to_string());
        }
        if self.reminders.report_skipped_days > 366 {
            return bad("reminders.report_skipped_days", "must be at most 366");
        }
        if self.health.alarm_outbox_failing_hours == 0
            || self.health.alarm_outbox_failing_hours > 8760
        {
            return bad(
                "health.alarm_outbox_failing_hours",
                "must be between 1 and 8760",
            );
        }
        if self.health.failed_mail_window_hours == 0 || self.health.failed_mail_window_hours > 8760
        {
            return bad(
                "health.failed_mail_window_hours",
                "must be between 1 and 8760",
            );
        }
        if self.health.scheduler_late_after_secs == 0 {
            return bad("health.scheduler_late_after_secs", "must be at least 1");
        }
        if self.smtp.recovery_wait_secs > 86_400 {
            return bad("smtp.recovery_wait_secs", "must be at most 86400 (a day)");
        }
        if let Some(secret) = &self.staff.command_secret {
            let chars = secret.expose_secret().trim().chars().count();
            if chars < MIN_COMMAND_SECRET_CHARS {
                return bad(
                    "staff.command_secret",
                    &format!(
                        "is {chars} characters long; it must have at least \
                         {MIN_COMMAND_SECRET_CHARS} (e.g. five random words or `openssl rand -base64 24`)"
                    ),
                );
            }
        }
        if self.staff.command_max_age_hours == 0 || self.staff.command_max_age_hours > 24 * 30 {
            return bad("staff.command_max_age_hours", "must be between 1 and 720");
        }
        if self.mail.daily_cap_per_recipient == 0 {
            return bad("mail.daily_cap_per_recipient", "must be at least 1");
        }
        if self.mail.max_automatic_per_hour == 0 {
            return bad("mail.max_automatic_per_hour", "must be at least 1");
        }
        if self.instance.domain.is_empty()
            || self
                .instance
                .domain
                .contains(['<', '>', '@', ' ', '\r', '\n'])
        {
            return bad("instance.domain", "must be a plain domain name");
        }
        Ok(())
    }
}

/// Pulls `section.password` (only ever set by an environment override) out of the tree.
fn take_password(root: &mut toml::Value, section: &str) -> Option<String> {
    take_key(root, section, "password")
}

fn take_key(root: &mut toml::Value, section: &str, key: &str) -> Option<String> {
    let table = root.get_mut(section)?.as_table_mut()?;
    match table.remove(key)? {
        toml::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

/// True for `localhost` and loopback IP literals.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[instance]
name = "t"
domain = "ews.test"
[mailbox]
source = "imap"
processed_folder = "Done"
[imap]
host = "127.0.0.1"
port = 143
security = "plain"
username = "projekt@ews.test"
[smtp]
transport = "file"
file_dir = "out"
[storage]
database = "db.sqlite"
[mail]
from_address = "projekt@ews.test"
from_name = "Projekt"
[programme]
file = "ews7.toml"
[templates]
dir = "../templates"
"#;

    fn vars(list: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    fn err(text: &str, env: &[(&str, &str)]) -> String {
        Settings::parse(text, Path::new("/etc/postbote/p.toml"), vars(env))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn loads_with_an_environment_password_and_anchors_paths() {
        let s = Settings::parse(
            BASE,
            Path::new("/etc/postbote/p.toml"),
            vars(&[
                ("POSTBOTE_IMAP__PASSWORD", "pw"),
                ("POSTBOTE_IMAP__PORT", "1143"),
            ]),
        )
        .unwrap();
        let imap = s.imap.unwrap();
        assert_eq!(imap.port, 1143);
        assert!(imap.password.is_some());
        assert_eq!(s.storage.database, Path::new("/etc/postbote/db.sqlite"));
        assert_eq!(s.programme.paths(), [Path::new("/etc/postbote/ews7.toml")]);
    }

    #[test]
    fn a_command_secret_needs_20_characters_and_the_staff_defaults_are_strict() {
        let pw = ("POSTBOTE_IMAP__PASSWORD", "pw");
        let e = err(BASE, &[pw, ("POSTBOTE_STAFF__COMMAND_SECRET", "kurz-4711")]);
        assert!(
            e.contains("staff.command_secret") && e.contains("at least 20") && !e.contains("kurz"),
            "{e}"
        );
        let e = err(
            BASE,
            &[
                pw,
                ("POSTBOTE_STAFF__COMMAND_SECRET", "   neunzehn-zeichen-   "),
            ],
        );
        assert!(e.contains("staff.command_secret"), "{e}");
        let s = Settings::parse(
            BASE,
            Path::new("p.toml"),
            vars(&[
                pw,
                ("POSTBOTE_STAFF__COMMAND_SECRET", "zwanzig-zeichen-lang"),
            ]),
        )
        .unwrap();
        assert!(s.staff.command_secret.is_some());
        assert!(!s.staff.accept_spf_only);
        assert_eq!(s.staff.command_max_age_hours, 24);
        assert_eq!(s.staff.trusted_received_headers, 2);
        let e = err(BASE, &[pw, ("POSTBOTE_STAFF__COMMAND_MAX_AGE_HOURS", "0")]);
        assert!(e.contains("staff.command_max_age_hours"), "{e}");
    }

    #[test]
    fn the_password_never_appears_in_debug_output() {
        let s = Settings::parse(
            BASE,
            Path::new("p.toml"),
            vars(&[("POSTBOTE_IMAP__PASSWORD", "hunter2-geheim")]),
        )
        .unwrap();
        assert!(!format!("{s:?}").contains("hunter2-geheim"));
    }

    #[test]
    fn refuses_unknown_keys_naming_file_and_key() {
        let text = BASE.replace("port = 143", "port = 143\nprot = 1");
        let e = err(&text, &[("POSTBOTE_IMAP__PASSWORD", "pw")]);
        assert!(
            e.contains("/etc/postbote/p.toml") && e.contains("imap") && e.contains("prot"),
            "{e}"
        );
    }

    #[test]
    fn refuses_a_clear_password_in_the_file() {
        let text = BASE.replace("port = 143", "port = 143\npassword = \"x\"");
        let e = err(&text, &[]);
        assert!(
            e.contains("imap.password") && e.contains("must not stand in the config file"),
            "{e}"
        );
    }

    #[test]
    fn refuses_plaintext_to_a_remote_host_and_a_missing_password() {
        let remote = BASE.replace("host = \"127.0.0.1\"", "host = \"imap.example.org\"");
        assert!(err(&remote, &[("POSTBOTE_IMAP__PASSWORD", "pw")]).contains("only to loopback"));
        assert!(err(BASE, &[]).contains("no password"));
    }

    #[test]
    fn refuses_bad_addresses() {
        let text = BASE.replace(
            "from_address = \"projekt@ews.test\"",
            "from_address = \"projekt@ews.test\\r\\nBcc: x@y.de\"",
        );
        let e = err(&text, &[("POSTBOTE_IMAP__PASSWORD", "pw")]);
        assert!(e.contains("mail.from_address"), "{e}");
    }

    #[test]
    fn the_organizer_is_the_from_address() {
        let pw = [("POSTBOTE_IMAP__PASSWORD", "pw")];
        let with = |extra: &str| {
            BASE.replace(
                "from_name = \"Projekt\"",
                &format!("from_name = \"Projekt\"\n{extra}"),
            )
        };
        let s = Settings::parse(BASE, Path::new("p.toml"), vars(&pw)).unwrap();
        assert_eq!(s.mail.organizer().as_str(), "projekt@ews.test");
        // A Reply-To does not move the ORGANIZER away from the sender.
        let s = Settings::parse(
            &with("reply_to = \"team@ews.test\""),
            Path::new("p.toml"),
            vars(&pw),
        )
        .unwrap();
        assert_eq!(s.mail.organizer().as_str(), "projekt@ews.test");
        // The same address (any case) is accepted, another one refused.
        let s = Settings::parse(
            &with("organizer_address = \"Projekt@EWS.test\""),
            Path::new("p.toml"),
            vars(&pw),
        )
        .unwrap();
        assert_eq!(s.mail.organizer().as_str(), "projekt@ews.test");
        let e = err(&with("organizer_address = \"leitung@ews.test\""), &pw);
        assert!(
            e.contains("mail.organizer_address")
                && e.contains("leitung@ews.test")
                && e.contains("must be the From address"),
            "{e}"
        );
        let noreply = BASE.replace(
            "from_address = \"projekt@ews.test\"",
            "from_address = \"noreply@ews.test\"",
        );
        let e = err(&noreply, &pw);
        assert!(
            e.contains("mail.from_address") && e.contains("no-reply"),
            "{e}"
        );
    }

    #[test]
    fn a_quiet_mailbox_is_checked_more_often_than_the_health_limits_and_contradictions_are_refused()
    {
        let pw = [("POSTBOTE_IMAP__PASSWORD", "pw")];
        // The defaults fit: IDLE renewed every 25 min, but a look every 5 min
        // keeps a quiet mailbox's last check well inside the 15 min limit.
        let s = Settings::parse(BASE, Path::new("p.toml"), vars(&pw)).unwrap();
        assert_eq!(s.imap.as_ref().unwrap().idle_renew_secs, 1500);
        assert_eq!(s.mailbox.rescan_secs, 300);
        assert_eq!(s.longest_check_gap_secs(), 300);
        assert!(s.health.mailbox_stale_after_secs > s.longest_check_gap_secs());
        assert_eq!(s.mailbox.max_message_bytes, 50 * 1024 * 1024);
        // A limit at or under the gap is refused, naming both settings.
        let e = err(
            BASE,
            &[pw[0], ("POSTBOTE_HEALTH__MAILBOX_STALE_AFTER_SECS", "300")],
        );
        assert!(
            e.contains("health.mailbox_stale_after_secs") && e.contains("mailbox.rescan_secs"),
            "{e}"
        );
        let e = err(
            BASE,
            &[pw[0], ("POSTBOTE_HEALTH__ALARM_MAILBOX_AFTER_SECS", "60")],
        );
        assert!(e.contains("health.alarm_mailbox_after_secs"), "{e}");
        // A shorter IDLE renewal or polling interval shortens the gap.
        let s = Settings::parse(
            BASE,
            Path::new("p.toml"),
            vars(&[
                pw[0],
                ("POSTBOTE_IMAP__IDLE_RENEW_SECS", "60"),
                ("POSTBOTE_HEALTH__MAILBOX_STALE_AFTER_SECS", "120"),
            ]),
        )
        .unwrap();
        assert_eq!(s.longest_check_gap_secs(), 60);
        let s = Settings::parse(
            BASE,
            Path::new("p.toml"),
            vars(&[
                pw[0],
                ("POSTBOTE_IMAP__USE_IDLE", "false"),
                ("POSTBOTE_IMAP__POLL_INTERVAL_SECS", "30"),
            ]),
        )
        .unwrap();
        assert_eq!(s.longest_check_gap_secs(), 30);
        let e = err(BASE, &[pw[0], ("POSTBOTE_MAILBOX__RESCAN_SECS", "0")]);
        assert!(e.contains("mailbox.rescan_secs"), "{e}");
        let e = err(
            BASE,
            &[pw[0], ("POSTBOTE_MAILBOX__MAX_MESSAGE_BYTES", "10")],
        );
        assert!(e.contains("mailbox.max_message_bytes"), "{e}");
    }
}
