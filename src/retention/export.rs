//! The Art. 15 export of one application: a ZIP with its mails (`.eml`),
//! the documents taken out of them, the stored facts as JSON, the mail sent
//! about it and a German cover note. Names inside the ZIP are generated
//! (`dokumente/01-fragebogen.pdf`); a document's own file name is only
//! sanitised into them, never used as a path.

use crate::config::programme::Programme;
use crate::store::Store;
use crate::store::retention::{self, StoredMail};
use anyhow::{Context, bail};
use mail_parser::MimeHeaders;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use zip::write::SimpleFileOptions;

/// The export of `reference` as ZIP bytes and the number of files in it.
pub async fn build(
    store: &Store,
    programme: &Programme,
    reference: &str,
) -> anyhow::Result<(Vec<u8>, usize)> {
    let Some(subject) = retention::application_by_reference(store, reference).await? else {
        bail!("no application {reference}");
    };
    let (app, decision) = retention::application_row(store, subject.id).await?;
    let incoming = retention::incoming_of(store, subject.id).await?;
    let outgoing = retention::outgoing_of(store, subject.id).await?;
    let (facts, documents) = retention::facts_of(store, subject.id).await?;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, m) in incoming.iter().enumerate() {
        files.push((
            format!("eingang/{:02}-{}.eml", i + 1, day(m)),
            m.bytes.clone(),
        ));
    }
    let mut n = 0;
    for m in &incoming {
        let Some(msg) = mail_parser::MessageParser::default().parse(&m.bytes) else {
            continue;
        };
        for part in msg.attachments() {
            n += 1;
            let name = part.attachment_name().unwrap_or("dokument");
            files.push((
                format!("dokumente/{n:02}-{}", safe_name(name)),
                part.contents().to_vec(),
            ));
        }
    }
    for (i, m) in outgoing.iter().enumerate() {
        files.push((
            format!("gesendet/{:02}-{}.eml", i + 1, day(m)),
            m.bytes.clone(),
        ));
    }
    let data = serde_json::json!({
        "bewerbung": app,
        "entscheidung": decision.map(|(outcome, released)| serde_json::json!({
            "ergebnis": outcome, "mitgeteilt": released,
        })),
        "dokumente": documents,
        "angaben": facts,
    });
    files.push((
        "daten.json".to_string(),
        serde_json::to_vec_pretty(&data).context("cannot write the facts as JSON")?,
    ));
    let note = cover_note(programme, &app.reference, incoming.len(), n, outgoing.len());
    files.insert(0, ("Auskunft.txt".to_string(), note.into_bytes()));
    let count = files.len();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in files {
        zip.start_file(name, SimpleFileOptions::default())
            .context("cannot write the ZIP")?;
        zip.write_all(&bytes).context("cannot write the ZIP")?;
    }
    let bytes = zip.finish().context("cannot finish the ZIP")?.into_inner();
    Ok((bytes, count))
}

/// Writes the export to the new file `out` (refused if it exists), mode 0600.
pub async fn write_file(
    store: &Store,
    programme: &Programme,
    reference: &str,
    out: &Path,
) -> anyhow::Result<usize> {
    let (bytes, count) = build(store, programme, reference).await?;
    write_private(out, &bytes)?;
    Ok(count)
}

/// Writes personal data to the new file `out`: refused if it exists (never
/// overwritten), mode 0600, synced before it counts as written.
pub fn write_private(out: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| {
            format!(
                "cannot create {} (an existing file is never overwritten)",
                out.display()
            )
        })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", out.display()))
}

fn day(m: &StoredMail) -> String {
    m.at.get(..10).unwrap_or("datum").to_string()
}

/// A file name reduced to `[a-z0-9._-]`, at most 60 characters, never
/// starting with a dot; the extension kept.
pub fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut s: String = base
        .chars()
        .map(|c| match c {
            'ä' | 'Ä' => 'a',
            'ö' | 'Ö' => 'o',
            'ü' | 'Ü' => 'u',
            'ß' => 's',
            c if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' => {
                c.to_ascii_lowercase()
            }
            _ => '_',
        })
        .collect();
    while s.starts_with('.') || s.contains("..") {
        s = s.trim_start_matches('.').replace("..", ".");
    }
    let s: String = s
        .chars()
        .rev()
        .take(60)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if s.is_empty() || s.chars().all(|c| c == '_' || c == '.') {
        "dokument".to_string()
    } else {
        s
    }
}

fn cover_note(
    programme: &Programme,
    reference: &str,
    mails: usize,
    docs: usize,
    sent: usize,
) -> String {
    format!(
        "Auskunft nach Art. 15 DSGVO\r\n\
         \r\n\
         {name}\r\n\
         Bewerbung {reference}\r\n\
         \r\n\
         Sehr geehrte Damen und Herren,\r\n\
         \r\n\
         diese Datei enthält alle Daten, die wir zu Ihrer Bewerbung gespeichert haben:\r\n\
         \r\n\
         - eingang/: Ihre E-Mails an uns im Original ({mails} Nachricht(en), .eml)\r\n\
         - dokumente/: die Anhänge dieser E-Mails ({docs} Datei(en))\r\n\
         - daten.json: die Angaben, die wir aus Ihren Unterlagen gelesen haben, mit Quelle,\r\n\
           sowie den Stand Ihrer Bewerbung und gegebenenfalls die Entscheidung\r\n\
         - gesendet/: die E-Mails, die wir Ihnen zu Ihrer Bewerbung geschickt haben ({sent})\r\n\
         \r\n\
         Zweck der Verarbeitung ist die Durchführung des Auswahlverfahrens und des Programms.\r\n\
         Die Daten werden nach den Löschfristen des Programms gelöscht: Bewerbungen, die nicht\r\n\
         ausgewählt wurden, sechs Monate nach der Mitteilung der Entscheidung, die Daten der\r\n\
         Teilnehmenden zwölf Monate nach der letzten Veranstaltung. Sie können die Berichtigung\r\n\
         oder Löschung Ihrer Daten verlangen; wenden Sie sich dazu bitte an uns.\r\n\
         \r\n\
         Mit freundlichen Grüßen\r\n\
         Ihr Projektteam {short}\r\n",
        name = programme.name,
        short = programme.short_name,
    )
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn document_names_cannot_become_paths() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(safe_name(".bashrc"), "bashrc");
        assert_eq!(safe_name("Fragebogen Müller.pdf"), "fragebogen_muller.pdf");
        assert_eq!(safe_name(""), "dokument");
        assert_eq!(safe_name("a..b"), "a.b");
    }
}
