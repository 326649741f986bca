//! Retention and erasure: what a retention run or `postbote forget` would
//! remove, and removing it in one transaction.
//!
//! NOTE: the foreign keys do not cascade (adding ON DELETE CASCADE would mean
//! rebuilding every table). [`erase`] deletes the children explicitly, in one
//! transaction with `PRAGMA defer_foreign_keys` (applications and their first
//! message point at each other), and the commit checks every key.
//! `secure_delete` is on for every connection ([`super::Store`]), so deleted
//! cells are zeroed; [`super::Store::checkpoint`] then empties the WAL.

use super::{Store, Tx};
use anyhow::Context;
use futures::TryStreamExt;
use serde::Serialize;

/// What to erase, by row id.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub applications: Vec<i64>,
    pub messages: Vec<i64>,
    /// Outbox rows deleted whole.
    pub outbox: Vec<i64>,
    /// Outbox rows whose raw message and subject are blanked (the row stays
    /// for idempotency and the per-recipient cap).
    pub outbox_raw: Vec<i64>,
    pub participants: Vec<i64>,
    /// Addresses whose programme-mail records go (reminders to them).
    pub addresses: Vec<String>,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.applications.is_empty()
            && self.messages.is_empty()
            && self.outbox.is_empty()
            && self.outbox_raw.is_empty()
            && self.participants.is_empty()
    }

    /// Adds `other` (ids kept unique).
    pub fn extend(&mut self, other: Selection) {
        fn merge<T: PartialEq>(a: &mut Vec<T>, b: Vec<T>) {
            for x in b {
                if !a.contains(&x) {
                    a.push(x);
                }
            }
        }
        merge(&mut self.applications, other.applications);
        merge(&mut self.messages, other.messages);
        merge(&mut self.outbox, other.outbox);
        merge(&mut self.outbox_raw, other.outbox_raw);
        merge(&mut self.participants, other.participants);
        merge(&mut self.addresses, other.addresses);
        self.outbox_raw.retain(|id| !self.outbox.contains(id));
    }
}

/// What went (or would go), per kind.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub applications: u64,
    pub messages: u64,
    pub documents: u64,
    pub facts: u64,
    pub interviews: u64,
    pub decisions: u64,
    pub participants: u64,
    pub outbox: u64,
    pub outbox_raw: u64,
    pub bounces: u64,
    pub staff_commands: u64,
    pub programme_mails: u64,
    /// Addresses staff linked to the applications (`application_addresses`).
    pub linked_addresses: u64,
    /// Held (or decided) address changes (`held_address_changes`).
    pub address_changes: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.applications
            + self.messages
            + self.documents
            + self.facts
            + self.interviews
            + self.decisions
            + self.participants
            + self.outbox
            + self.outbox_raw
            + self.bounces
            + self.staff_commands
            + self.programme_mails
            + self.linked_addresses
            + self.address_changes
    }

    /// `kind: n` for every kind with n > 0.
    pub fn lines(&self) -> Vec<(&'static str, u64)> {
        [
            ("applications", self.applications),
            ("incoming mails (raw, stored copy)", self.messages),
            ("documents", self.documents),
            ("extracted facts", self.facts),
            ("interviews", self.interviews),
            ("decisions", self.decisions),
            ("participants rows", self.participants),
            ("outgoing mails", self.outbox),
            ("raw copies of outgoing mails (row kept)", self.outbox_raw),
            ("bounce records", self.bounces),
            ("staff command records", self.staff_commands),
            ("programme mail records", self.programme_mails),
            ("linked addresses", self.linked_addresses),
            ("address changes", self.address_changes),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

/// One application, as `forget` and `export` find it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Subject {
    pub id: i64,
    pub reference: String,
    pub applicant: String,
    pub applicant_name: Option<String>,
    pub municipality: Option<String>,
}

const SUBJECT: &str =
    "SELECT id, reference, applicant, applicant_name, municipality FROM applications";

/// The application with this reference (case-insensitive).
pub async fn application_by_reference(
    store: &Store,
    reference: &str,
) -> anyhow::Result<Option<Subject>> {
    sqlx::query_as(&format!("{SUBJECT} WHERE upper(reference) = upper(?)"))
        .bind(reference.trim())
        .fetch_optional(store.pool())
        .await
        .context("cannot look up the application")
}

/// The applications sent from `address` (lower case).
pub async fn applications_by_applicant(
    store: &Store,
    address: &str,
) -> anyhow::Result<Vec<Subject>> {
    sqlx::query_as(&format!("{SUBJECT} WHERE applicant = ? ORDER BY id"))
        .bind(address)
        .fetch_all(store.pool())
        .await
        .context("cannot look up applications by address")
}

/// The applications with these ids.
pub async fn applications_by_ids(store: &Store, apps: &[i64]) -> anyhow::Result<Vec<Subject>> {
    sqlx::query_as(&format!(
        "{SUBJECT} WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id"
    ))
    .bind(ids(apps))
    .fetch_all(store.pool())
    .await
    .context("cannot look up applications by id")
}

/// The applications merged into one of `apps` (their archived rows, which
/// hold the duplicate's sender and municipality), not already in `apps`.
pub async fn merged_into(store: &Store, apps: &[i64]) -> anyhow::Result<Vec<Subject>> {
    sqlx::query_as(&format!(
        "{SUBJECT} WHERE merged_into IN (SELECT value FROM json_each(?1)) \
         AND id NOT IN (SELECT value FROM json_each(?1)) ORDER BY id"
    ))
    .bind(ids(apps))
    .fetch_all(store.pool())
    .await
    .context("cannot look up merged applications")
}

/// The addresses of the participants rows `rows` (lower case).
pub async fn participant_addresses(store: &Store, rows: &[i64]) -> anyhow::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT DISTINCT lower(email) FROM participants WHERE id IN (SELECT value FROM json_each(?)) \
         AND email IS NOT NULL AND email != ''",
    )
    .bind(ids(rows))
    .fetch_all(store.pool())
    .await
    .context("cannot read the participants' addresses")
}

/// Ids as a JSON array, for `IN (SELECT value FROM json_each(?))`.
fn ids(v: &[i64]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".to_string())
}

async fn ids_of(store: &Store, sql: &str, binds: &[&str]) -> anyhow::Result<Vec<i64>> {
    let mut q = sqlx::query_scalar(sql);
    for b in binds {
        q = q.bind(*b);
    }
    q.fetch_all(store.pool())
        .await
        .with_context(|| format!("cannot select rows to erase ({sql})"))
}

/// The rows tied to the applications `apps` by key: their messages (and
/// the duplicates of those), outbox rows, participants rows.
pub async fn tied_to(store: &Store, apps: &[i64]) -> anyhow::Result<Selection> {
    if apps.is_empty() {
        return Ok(Selection::default());
    }
    let a = ids(apps);
    let messages = ids_of(
        store,
        "SELECT id FROM messages WHERE application_id IN (SELECT value FROM json_each(?1)) \
         OR duplicate_of IN (SELECT id FROM messages WHERE application_id IN \
         (SELECT value FROM json_each(?1))) \
         OR id IN (SELECT message_row FROM documents WHERE application_id IN \
         (SELECT value FROM json_each(?1)))",
        &[&a],
    )
    .await?;
    let outbox = ids_of(
        store,
        "SELECT id FROM outbox WHERE application_id IN (SELECT value FROM json_each(?))",
        &[&a],
    )
    .await?;
    let participants = ids_of(
        store,
        "SELECT id FROM participants WHERE application_id IN (SELECT value FROM json_each(?))",
        &[&a],
    )
    .await?;
    Ok(Selection {
        applications: apps.to_vec(),
        messages,
        outbox,
        participants,
        ..Selection::default()
    })
}

/// The rows tied to one address: messages from it, outbox rows to it,
/// participants rows with it.
pub async fn tied_to_address(store: &Store, address: &str) -> anyhow::Result<Selection> {
    let messages = ids_of(
        store,
        "SELECT id FROM messages WHERE lower(from_address) = ?1 \
         OR duplicate_of IN (SELECT id FROM messages WHERE lower(from_address) = ?1)",
        &[address],
    )
    .await?;
    let outbox = ids_of(
        store,
        "SELECT id FROM outbox WHERE lower(env_to) = ?",
        &[address],
    )
    .await?;
    let participants = ids_of(
        store,
        "SELECT id FROM participants WHERE email = ?",
        &[address],
    )
    .await?;
    Ok(Selection {
        messages,
        outbox,
        participants,
        addresses: vec![address.to_string()],
        ..Selection::default()
    })
}

/// Every stored incoming message not in `skip`: id, Message-ID and raw bytes,
/// handed to `keep` one at a time; returns the ids it kept.
pub async fn scan_messages(
    store: &Store,
    skip: &[i64],
    mut keep: impl FnMut(Option<&str>, &[u8]) -> bool,
) -> anyhow::Result<Vec<i64>> {
    let mut rows = sqlx::query_as::<_, (i64, Option<String>, Vec<u8>)>(
        "SELECT m.id, m.message_id, r.bytes FROM messages m JOIN raw_messages r ON r.sha256 = m.sha256 \
         WHERE m.id NOT IN (SELECT value FROM json_each(?))",
    )
    .bind(ids(skip))
    .fetch(store.pool());
    let mut found = Vec::new();
    while let Some((id, message_id, bytes)) = rows
        .try_next()
        .await
        .context("cannot read the stored messages")?
    {
        if keep(message_id.as_deref(), &bytes) {
            found.push(id);
        }
    }
    Ok(found)
}

/// Every outbox row not in `skip` that still has its raw message, handed to
/// `keep`; returns the ids it kept.
pub async fn scan_outbox(
    store: &Store,
    skip: &[i64],
    mut keep: impl FnMut(&[u8]) -> bool,
) -> anyhow::Result<Vec<i64>> {
    let mut rows = sqlx::query_as::<_, (i64, Vec<u8>)>(
        "SELECT id, raw FROM outbox WHERE length(raw) > 0 AND id NOT IN (SELECT value FROM json_each(?))",
    )
    .bind(ids(skip))
    .fetch(store.pool());
    let mut found = Vec::new();
    while let Some((id, raw)) = rows.try_next().await.context("cannot read the outbox")? {
        if keep(&raw) {
            found.push(id);
        }
    }
    Ok(found)
}

/// The messages stored copies of the outbox rows `outbox` (same Message-ID).
pub async fn copies_of(store: &Store, outbox: &[i64]) -> anyhow::Result<Vec<i64>> {
    ids_of(
        store,
        "SELECT m.id FROM messages m JOIN outbox o ON o.message_id = m.message_id \
         WHERE o.id IN (SELECT value FROM json_each(?))",
        &[&ids(outbox)],
    )
    .await
}

/// Messages not tied to an application, of one of `classes` (NULL counts
/// as "other"), stored before `before`.
pub async fn expired_messages(
    store: &Store,
    classes: &[&str],
    before: &str,
) -> anyhow::Result<Vec<i64>> {
    let classes = serde_json::to_string(classes).unwrap_or_else(|_| "[]".to_string());
    ids_of(
        store,
        "SELECT id FROM messages WHERE application_id IS NULL AND state != 'received' \
         AND received_at < ? AND COALESCE(class, 'other') IN (SELECT value FROM json_each(?))",
        &[before, &classes],
    )
    .await
}

/// Applications whose decision (reject or waitlist) was released before `before`.
pub async fn not_selected_before(store: &Store, before: &str) -> anyhow::Result<Vec<i64>> {
    ids_of(
        store,
        "SELECT application_id FROM decisions WHERE outcome IN ('reject', 'waitlist') \
         AND notice = 'released' AND released_at < ?",
        &[before],
    )
    .await
}

/// Applications whose first mail arrived before `before` with no released
/// decision (a rejection or waitlisting held and never released counts as
/// undecided, else it would be kept forever) and no acceptance (those are
/// the cohort's, kept until after the programme).
pub async fn undecided_before(store: &Store, before: &str) -> anyhow::Result<Vec<i64>> {
    ids_of(
        store,
        "SELECT id FROM applications WHERE received_at < ? \
         AND id NOT IN (SELECT application_id FROM decisions \
         WHERE notice = 'released' OR outcome = 'accept')",
        &[before],
    )
    .await
}

/// Every accepted application and every participants row of programme
/// `programme` (its code): its cohort.
pub async fn cohort(store: &Store, programme: &str) -> anyhow::Result<(Vec<i64>, Vec<i64>)> {
    let apps = ids_of(
        store,
        "SELECT d.application_id FROM decisions d JOIN applications a ON a.id = d.application_id \
         WHERE d.outcome = 'accept' AND a.programme = ?",
        &[programme],
    )
    .await?;
    let participants = ids_of(
        store,
        "SELECT id FROM participants WHERE programme = ?",
        &[programme],
    )
    .await?;
    Ok((apps, participants))
}

/// Outbox rows done with (not queued, held or sending) sent (or made)
/// before `before` that still have their raw message.
pub async fn sent_before(store: &Store, before: &str) -> anyhow::Result<Vec<i64>> {
    ids_of(
        store,
        "SELECT id FROM outbox WHERE state NOT IN ('queued', 'held', 'sending') \
         AND length(raw) > 0 AND COALESCE(sent_at, created_at) < ?",
        &[before],
    )
    .await
}

/// The Message-IDs of the selected messages and outbox rows (also the
/// blanked ones): what to delete from the mailbox folders.
pub async fn message_ids(store: &Store, sel: &Selection) -> anyhow::Result<Vec<String>> {
    let mut outbox = sel.outbox.clone();
    outbox.extend(&sel.outbox_raw);
    let mut v: Vec<String> = sqlx::query_scalar(
        "SELECT message_id FROM messages WHERE message_id IS NOT NULL \
         AND id IN (SELECT value FROM json_each(?1)) \
         UNION SELECT message_id FROM outbox WHERE id IN (SELECT value FROM json_each(?2))",
    )
    .bind(ids(&sel.messages))
    .bind(ids(&outbox))
    .fetch_all(store.pool())
    .await
    .context("cannot read the Message-IDs to erase")?;
    v.sort();
    v.dedup();
    Ok(v)
}

/// The references of the selected applications.
pub async fn references(store: &Store, apps: &[i64]) -> anyhow::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT reference FROM applications WHERE id IN (SELECT value FROM json_each(?)) ORDER BY reference",
    )
    .bind(ids(apps))
    .fetch_all(store.pool())
    .await
    .context("cannot read references")
}

async fn count(
    tx: &mut sqlx::SqliteConnection,
    sql: &str,
    a: &str,
    m: &str,
) -> anyhow::Result<u64> {
    let n: i64 = sqlx::query_scalar(sql)
        .bind(a)
        .bind(m)
        .fetch_one(&mut *tx)
        .await
        .with_context(|| format!("cannot count ({sql})"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The statements of an erasure, in order: (kind, count, delete). `?1` is
/// the applications, `?2` the messages, `?3` the outbox rows, `?4` the
/// participants, `?5` the addresses, `?6` the outbox rows to blank.
const STEPS: &[(&str, &str)] = &[
    (
        "facts",
        "FROM facts WHERE application_id IN (SELECT value FROM json_each(?1)) \
         OR message_row IN (SELECT value FROM json_each(?2))",
    ),
    (
        "documents",
        "FROM documents WHERE application_id IN (SELECT value FROM json_each(?1)) \
         OR message_row IN (SELECT value FROM json_each(?2))",
    ),
    (
        "interviews",
        "FROM interviews WHERE application_id IN (SELECT value FROM json_each(?1))",
    ),
    (
        "linked_addresses",
        "FROM application_addresses WHERE application_id IN (SELECT value FROM json_each(?1))",
    ),
    (
        "address_changes",
        "FROM held_address_changes WHERE application_id IN (SELECT value FROM json_each(?1)) \
         OR message_row IN (SELECT value FROM json_each(?2))",
    ),
    (
        "decisions",
        "FROM decisions WHERE application_id IN (SELECT value FROM json_each(?1))",
    ),
    (
        "participants",
        "FROM participants WHERE id IN (SELECT value FROM json_each(?4)) \
         OR application_id IN (SELECT value FROM json_each(?1))",
    ),
    (
        "bounces",
        "FROM bounces WHERE message_row IN (SELECT value FROM json_each(?2)) \
         OR outbox_id IN (SELECT value FROM json_each(?3))",
    ),
    (
        "staff_commands",
        "FROM staff_commands WHERE message_row IN (SELECT value FROM json_each(?2))",
    ),
    (
        "programme_mails",
        "FROM programme_mails WHERE recipient IN (SELECT value FROM json_each(?5))",
    ),
    (
        "mailbox_locations",
        "FROM mailbox_locations WHERE message_row IN (SELECT value FROM json_each(?2))",
    ),
    (
        "outbox",
        "FROM outbox WHERE id IN (SELECT value FROM json_each(?3)) \
         OR application_id IN (SELECT value FROM json_each(?1))",
    ),
];

/// Counts what [`erase`] would remove, changing nothing.
pub async fn preview(store: &Store, sel: &Selection) -> anyhow::Result<Counts> {
    let mut tx = store.pool().begin().await.context("cannot begin")?;
    let c = tally(&mut tx, sel).await?;
    tx.rollback().await.ok();
    Ok(c)
}

fn binds(sel: &Selection) -> [String; 6] {
    let blank: Vec<i64> = sel
        .outbox_raw
        .iter()
        .copied()
        .filter(|id| !sel.outbox.contains(id))
        .collect();
    [
        ids(&sel.applications),
        ids(&sel.messages),
        ids(&sel.outbox),
        ids(&sel.participants),
        serde_json::to_string(&sel.addresses).unwrap_or_else(|_| "[]".to_string()),
        ids(&blank),
    ]
}

async fn run_count(
    tx: &mut sqlx::SqliteConnection,
    sql: &str,
    b: &[String; 6],
) -> anyhow::Result<u64> {
    let mut q = sqlx::query_scalar::<_, i64>(sql);
    for v in b {
        q = q.bind(v.as_str());
    }
    let n = q
        .fetch_one(&mut *tx)
        .await
        .with_context(|| format!("cannot count ({sql})"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

async fn tally(tx: &mut sqlx::SqliteConnection, sel: &Selection) -> anyhow::Result<Counts> {
    let b = binds(sel);
    let mut c = Counts::default();
    for (kind, from) in STEPS {
        let n = run_count(tx, &format!("SELECT COUNT(*) {from}"), &b).await?;
        match *kind {
            "facts" => c.facts = n,
            "documents" => c.documents = n,
            "interviews" => c.interviews = n,
            "decisions" => c.decisions = n,
            "participants" => c.participants = n,
            "bounces" => c.bounces = n,
            "staff_commands" => c.staff_commands = n,
            "programme_mails" => c.programme_mails = n,
            "linked_addresses" => c.linked_addresses = n,
            "address_changes" => c.address_changes = n,
            "outbox" => c.outbox = n,
            _ => {}
        }
    }
    c.messages = count(
        tx,
        "SELECT COUNT(*) FROM messages WHERE id IN (SELECT value FROM json_each(?2)) \
         OR application_id IN (SELECT value FROM json_each(?1))",
        &b[0],
        &b[1],
    )
    .await?;
    c.applications = count(
        tx,
        "SELECT COUNT(*) FROM applications WHERE id IN (SELECT value FROM json_each(?1)) \
         AND ?2 IS NOT NULL",
        &b[0],
        &b[1],
    )
    .await?;
    c.outbox_raw = run_count(
        tx,
        "SELECT COUNT(*) FROM outbox WHERE id IN (SELECT value FROM json_each(?6)) \
         AND length(raw) > 0 AND ?1 IS NOT NULL AND ?2 IS NOT NULL AND ?3 IS NOT NULL \
         AND ?4 IS NOT NULL AND ?5 IS NOT NULL",
        &b,
    )
    .await?;
    Ok(c)
}

/// Why an erasure happened, as recorded in `erasures`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Retention,
    Forget,
    Command,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Retention => "retention",
            Reason::Forget => "forget",
            Reason::Command => "command",
        }
    }
}

async fn exec(tx: &mut Tx<'_>, sql: &str, b: &[String; 6]) -> anyhow::Result<()> {
    let mut q = sqlx::query(sql);
    for v in b {
        q = q.bind(v.as_str());
    }
    q.execute(&mut **tx)
        .await
        .with_context(|| format!("cannot erase ({sql})"))?;
    Ok(())
}

/// Removes everything selected in one transaction, records the erasure
/// (counts, dates, `references`) and returns the counts.
pub async fn erase(
    store: &Store,
    sel: &Selection,
    reason: Reason,
    references: &[String],
) -> anyhow::Result<Counts> {
    let mut tx = store.begin().await?;
    sqlx::query("PRAGMA defer_foreign_keys = ON")
        .execute(&mut *tx)
        .await
        .context("cannot defer foreign keys")?;
    let counts = tally(&mut tx, sel).await?;
    let b = binds(sel);
    let (oldest, newest): (Option<String>, Option<String>) = {
        let mut q = sqlx::query_as(
            "SELECT MIN(t), MAX(t) FROM ( \
             SELECT received_at AS t FROM messages WHERE id IN (SELECT value FROM json_each(?2)) \
             OR application_id IN (SELECT value FROM json_each(?1)) \
             UNION ALL SELECT COALESCE(sent_at, created_at) FROM outbox \
             WHERE id IN (SELECT value FROM json_each(?3)) OR id IN (SELECT value FROM json_each(?6)) \
             OR application_id IN (SELECT value FROM json_each(?1)) \
             UNION ALL SELECT created_at FROM participants WHERE id IN (SELECT value FROM json_each(?4)) \
             AND ?5 IS NOT NULL)",
        );
        for v in &b {
            q = q.bind(v.as_str());
        }
        q.fetch_one(&mut *tx)
            .await
            .context("cannot read the dates of the erased rows")?
    };
    // The messages tied to the applications go with them.
    exec(
        &mut tx,
        "CREATE TEMP TABLE IF NOT EXISTS erase_messages (id INTEGER PRIMARY KEY)",
        &b,
    )
    .await?;
    sqlx::query("DELETE FROM temp.erase_messages")
        .execute(&mut *tx)
        .await
        .context("cannot prepare the erasure")?;
    exec(
        &mut tx,
        "INSERT OR IGNORE INTO temp.erase_messages (id) SELECT id FROM messages \
         WHERE id IN (SELECT value FROM json_each(?2)) \
         OR application_id IN (SELECT value FROM json_each(?1))",
        &b,
    )
    .await?;
    for (_, from) in STEPS {
        exec(&mut tx, &format!("DELETE {from}"), &b).await?;
    }
    exec(
        &mut tx,
        "UPDATE outbox SET raw = x'', subject = '' WHERE id IN (SELECT value FROM json_each(?6))",
        &b,
    )
    .await?;
    // Other rows that point at what goes lose the pointer, not their data.
    for sql in [
        "UPDATE messages SET duplicate_of = NULL WHERE duplicate_of IN (SELECT id FROM temp.erase_messages)",
        "UPDATE bounces SET outbox_id = NULL WHERE outbox_id NOT IN (SELECT id FROM outbox)",
        "UPDATE documents SET superseded_by = NULL WHERE superseded_by NOT IN (SELECT id FROM documents)",
        "DELETE FROM documents WHERE message_row IN (SELECT id FROM temp.erase_messages)",
        "DELETE FROM facts WHERE message_row IN (SELECT id FROM temp.erase_messages)",
        "DELETE FROM bounces WHERE message_row IN (SELECT id FROM temp.erase_messages)",
        "DELETE FROM staff_commands WHERE message_row IN (SELECT id FROM temp.erase_messages)",
        "DELETE FROM mailbox_locations WHERE message_row IN (SELECT id FROM temp.erase_messages)",
        "DELETE FROM held_address_changes WHERE message_row IN (SELECT id FROM temp.erase_messages)",
    ] {
        sqlx::query(sql)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("cannot erase ({sql})"))?;
    }
    // Applications that stay lose their pointer at an erased one (a kept
    // "possible duplicate" of it; a merged one goes with its target).
    for sql in [
        "UPDATE applications SET duplicate_of = NULL WHERE duplicate_of IN \
         (SELECT value FROM json_each(?1)) AND id NOT IN (SELECT value FROM json_each(?1))",
        "UPDATE applications SET merged_into = NULL WHERE merged_into IN \
         (SELECT value FROM json_each(?1)) AND id NOT IN (SELECT value FROM json_each(?1))",
    ] {
        sqlx::query(sql)
            .bind(b[0].as_str())
            .execute(&mut *tx)
            .await
            .with_context(|| format!("cannot erase ({sql})"))?;
    }
    exec(
        &mut tx,
        "DELETE FROM applications WHERE id IN (SELECT value FROM json_each(?1))",
        &b,
    )
    .await?;
    for sql in [
        "CREATE TEMP TABLE IF NOT EXISTS erase_raw (sha256 TEXT PRIMARY KEY)",
        "DELETE FROM temp.erase_raw",
        "INSERT OR IGNORE INTO temp.erase_raw SELECT sha256 FROM messages WHERE id IN (SELECT id FROM temp.erase_messages)",
        "DELETE FROM messages WHERE id IN (SELECT id FROM temp.erase_messages)",
        "DELETE FROM raw_messages WHERE sha256 IN (SELECT sha256 FROM temp.erase_raw) \
         AND sha256 NOT IN (SELECT sha256 FROM messages)",
        "DELETE FROM temp.erase_raw",
        "DELETE FROM temp.erase_messages",
    ] {
        sqlx::query(sql)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("cannot erase ({sql})"))?;
    }
    let reference = (!references.is_empty()).then(|| references.join(","));
    sqlx::query(
        "INSERT INTO erasures (at, reason, reference, counts, oldest, newest) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(super::now())
    .bind(reason.as_str())
    .bind(reference)
    .bind(serde_json::to_string(&counts).context("cannot record the counts")?)
    .bind(oldest)
    .bind(newest)
    .execute(&mut *tx)
    .await
    .context("cannot record the erasure")?;
    tx.commit().await.context("cannot commit the erasure")?;
    Ok(counts)
}

/// One recorded erasure.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct Erasure {
    pub at: String,
    pub reason: String,
    pub reference: Option<String>,
    pub counts: String,
    pub oldest: Option<String>,
    pub newest: Option<String>,
}

/// The recorded erasures, oldest first.
pub async fn log(store: &Store) -> anyhow::Result<Vec<Erasure>> {
    sqlx::query_as("SELECT at, reason, reference, counts, oldest, newest FROM erasures ORDER BY id")
        .fetch_all(store.pool())
        .await
        .context("cannot read the erasures")
}

/// One stored mail for the export: when, and its raw bytes.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredMail {
    pub at: String,
    pub bytes: Vec<u8>,
}

/// The incoming mails of application `id`, oldest first.
pub async fn incoming_of(store: &Store, id: i64) -> anyhow::Result<Vec<StoredMail>> {
    sqlx::query_as(
        "SELECT m.received_at AS at, r.bytes FROM messages m JOIN raw_messages r ON r.sha256 = m.sha256 \
         WHERE m.application_id = ? ORDER BY m.id",
    )
    .bind(id)
    .fetch_all(store.pool())
    .await
    .context("cannot read the application's mails")
}

/// The mails sent about application `id` that still have their raw copy,
/// without earlier Art. 15 exports (keys `privacy-export:…`: an export
/// would otherwise carry every earlier one).
pub async fn outgoing_of(store: &Store, id: i64) -> anyhow::Result<Vec<StoredMail>> {
    sqlx::query_as(
        "SELECT COALESCE(sent_at, created_at) AS at, raw AS bytes FROM outbox \
         WHERE application_id = ? AND length(raw) > 0 \
         AND idempotency_key NOT LIKE 'privacy-export:%' ORDER BY id",
    )
    .bind(id)
    .fetch_all(store.pool())
    .await
    .context("cannot read the application's outgoing mails")
}

/// A fact, as exported.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct FactRow {
    pub name: String,
    pub value: String,
    pub source: String,
    pub confidence: String,
    pub created_at: String,
}

/// A document's record (not its bytes), as exported.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct DocumentRow {
    pub name: String,
    pub format: String,
    pub role: String,
    pub size: i64,
    pub pages: Option<i64>,
    pub problem: Option<String>,
    pub extracted: Option<String>,
    pub created_at: String,
}

/// The facts and document records of application `id`.
pub async fn facts_of(store: &Store, id: i64) -> anyhow::Result<(Vec<FactRow>, Vec<DocumentRow>)> {
    let facts = sqlx::query_as(
        "SELECT name, value, source, confidence, created_at FROM facts WHERE application_id = ? ORDER BY id",
    )
    .bind(id)
    .fetch_all(store.pool())
    .await
    .context("cannot read the facts")?;
    let docs = sqlx::query_as(
        "SELECT name, format, role, size, pages, problem, extracted, created_at FROM documents \
         WHERE application_id = ? ORDER BY id",
    )
    .bind(id)
    .fetch_all(store.pool())
    .await
    .context("cannot read the documents")?;
    Ok((facts, docs))
}

/// The application's own row, as exported.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct ApplicationRow {
    pub reference: String,
    pub applicant: String,
    pub applicant_name: Option<String>,
    pub municipality: Option<String>,
    pub subject: Option<String>,
    pub received_at: String,
    pub state: String,
    pub complete: i64,
    pub late: i64,
}

/// The application row of `id`, and its decision (outcome, released at).
pub async fn application_row(
    store: &Store,
    id: i64,
) -> anyhow::Result<(ApplicationRow, Option<(String, Option<String>)>)> {
    let app = sqlx::query_as(
        "SELECT reference, applicant, applicant_name, municipality, subject, received_at, state, \
         complete, late FROM applications WHERE id = ?",
    )
    .bind(id)
    .fetch_one(store.pool())
    .await
    .context("cannot read the application")?;
    let decision =
        sqlx::query_as("SELECT outcome, released_at FROM decisions WHERE application_id = ?")
            .bind(id)
            .fetch_optional(store.pool())
            .await
            .context("cannot read the decision")?;
    Ok((app, decision))
}
