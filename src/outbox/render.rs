//! Templates in `templates/`: `<name>.subject.hbs`, `<name>.txt.hbs` and
//! `<name>.html.hbs`. Staff edit them without recompiling; the daemon checks all
//! of them at startup in strict mode, so a misspelt variable stops the start.
//!
//! A programme may have a folder of its own (`templates = "…"` in its file,
//! part 9) with some of the same files: each one there replaces the shared
//! file for that programme's mails ([`Templates::load_layered`]).

use anyhow::{Context, anyhow};
use handlebars::Handlebars;
use serde::Serialize;
use std::path::Path;

/// A rendered mail: subject, text part and HTML part.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct Templates {
    text: Handlebars<'static>,
    html: Handlebars<'static>,
}

impl Templates {
    /// Loads the named templates from `dir` and renders each with its sample
    /// context in strict mode: a variable the code does not provide is an error.
    pub fn load(dir: &Path, samples: &[(&str, serde_json::Value)]) -> anyhow::Result<Templates> {
        Self::load_layered(dir, None, samples)
    }

    /// Like [`Templates::load`], with the files of `overrides` (a
    /// programme's folder) in place of the shared ones of the same name. A
    /// file there that is no template postbote knows is refused (a misspelt
    /// name would silently override nothing).
    pub fn load_layered(
        dir: &Path,
        overrides: Option<&Path>,
        samples: &[(&str, serde_json::Value)],
    ) -> anyhow::Result<Templates> {
        if let Some(o) = overrides {
            check_overrides(o, samples)?;
        }
        let mut text = Handlebars::new();
        text.set_strict_mode(true);
        text.register_escape_fn(handlebars::no_escape);
        let mut html = Handlebars::new();
        html.set_strict_mode(true);
        for (name, _) in samples {
            for suffix in ["subject", "txt", "html"] {
                let registry = if suffix == "html" {
                    &mut html
                } else {
                    &mut text
                };
                let file_name = format!("{name}.{suffix}.hbs");
                let file = overrides
                    .map(|o| o.join(&file_name))
                    .filter(|f| f.is_file())
                    .unwrap_or_else(|| dir.join(&file_name));
                let source = std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read template {}", file.display()))?;
                registry
                    .register_template_string(&format!("{name}.{suffix}"), source)
                    .with_context(|| format!("template {} does not parse", file.display()))?;
            }
        }
        let templates = Templates { text, html };
        for (name, sample) in samples {
            templates.render(name, sample).with_context(|| {
                let dirs = match overrides {
                    Some(o) => format!("{} (over {})", o.display(), dir.display()),
                    None => dir.display().to_string(),
                };
                format!("template {name} in {dirs} failed its startup check")
            })?;
        }
        Ok(templates)
    }

    /// Renders the three parts of template `name`.
    pub fn render<C: Serialize>(&self, name: &str, context: &C) -> anyhow::Result<Rendered> {
        let part = |reg: &Handlebars<'static>, suffix: &str| {
            reg.render(&format!("{name}.{suffix}"), context)
                .map_err(|e| anyhow!("{name}.{suffix}.hbs: {e}"))
        };
        let subject = part(&self.text, "subject")?;
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(Rendered {
            subject,
            text: part(&self.text, "txt")?,
            html: part(&self.html, "html")?,
        })
    }
}

/// Every file in a programme's template folder must be `<name>.<part>.hbs`
/// of a known template.
fn check_overrides(dir: &Path, samples: &[(&str, serde_json::Value)]) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the template folder {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let known = samples.iter().any(|(t, _)| {
            ["subject", "txt", "html"]
                .iter()
                .any(|suffix| name == format!("{t}.{suffix}.hbs"))
        });
        if !known {
            anyhow::bail!(
                "{}: {name} is no template postbote knows (expected e.g. confirmation.subject.hbs)",
                dir.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::mails::samples;

    fn copy_templates(to: &Path) {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        for e in std::fs::read_dir(from).unwrap().flatten() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }

    #[test]
    fn the_shipped_templates_pass_the_startup_check_and_escape_html() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let t = Templates::load(&dir, &samples()).unwrap();
        let mut sample = samples()
            .into_iter()
            .find(|(n, _)| *n == "confirmation")
            .map(|(_, v)| v)
            .unwrap();
        sample["documents"] = serde_json::json!(["Fragebogen: <script>x</script>.pdf"]);
        let r = t.render("confirmation", &sample).unwrap();
        assert!(r.html.contains("&lt;script&gt;"));
        assert!(
            r.text.contains("<script>x</script>.pdf"),
            "text parts are not HTML-escaped"
        );
        assert!(r.text.contains("automatisch erstellt"));
        assert!(!r.subject.contains('\n'));
    }

    #[test]
    fn confirmations_ask_to_confirm_the_dates_when_a_ticked_box_maps_to_no_day() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let t = Templates::load(&dir, &samples()).unwrap();
        let sample = samples()
            .into_iter()
            .find(|(n, _)| *n == "confirmation")
            .map(|(_, v)| v)
            .unwrap();
        for template in ["confirmation", "confirmation_update"] {
            for (n, want) in [
                (0, None),
                (
                    1,
                    Some(
                        "ein Kästchen angekreuzt, das wir keinem Gesprächstermin zuordnen konnten. Bitte bestätigen Sie uns",
                    ),
                ),
                (
                    2,
                    Some(
                        "2 Kästchen angekreuzt, die wir keinem Gesprächstermin zuordnen konnten. Bitte bestätigen Sie uns",
                    ),
                ),
            ] {
                let mut context = sample.clone();
                context["unmapped_boxes"] = serde_json::json!(n);
                let r = t.render(template, &context).unwrap();
                for part in [&r.text, &r.html] {
                    match want {
                        Some(w) => assert!(part.contains(w), "{template} {n}: {part}"),
                        None => assert!(!part.contains("Kästchen"), "{template}: {part}"),
                    }
                }
            }
        }
    }

    #[test]
    fn a_misspelt_variable_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        copy_templates(dir.path());
        let file = dir.path().join("confirmation.txt.hbs");
        let text = std::fs::read_to_string(&file)
            .unwrap()
            .replace("{{reference}}", "{{referenz}}");
        std::fs::write(&file, text).unwrap();
        let err = Templates::load(dir.path(), &samples())
            .err()
            .expect("must refuse");
        let msg = format!("{err:#}");
        assert!(
            msg.contains("confirmation") && msg.contains("referenz"),
            "{msg}"
        );
    }

    #[test]
    fn a_programme_folder_overrides_single_files_and_a_stray_file_stops_the_start() {
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("confirmation.subject.hbs"),
            "EWS 8: Ihre Bewerbung {{reference}}",
        )
        .unwrap();
        let t = Templates::load_layered(&shared, Some(dir.path()), &samples()).unwrap();
        let sample = samples()
            .into_iter()
            .find(|(n, _)| *n == "confirmation")
            .map(|(_, v)| v)
            .unwrap();
        let r = t.render("confirmation", &sample).unwrap();
        assert!(
            r.subject.starts_with("EWS 8: Ihre Bewerbung"),
            "{}",
            r.subject
        );
        let plain = Templates::load(&shared, &samples()).unwrap();
        let shared_r = plain.render("confirmation", &sample).unwrap();
        assert_eq!(r.text, shared_r.text, "the other parts stay shared");
        assert_ne!(r.subject, shared_r.subject);

        std::fs::write(dir.path().join("confirmation.txt.hbs"), "{{referenz}}").unwrap();
        let err = Templates::load_layered(&shared, Some(dir.path()), &samples())
            .err()
            .expect("a misspelt variable in an override");
        assert!(format!("{err:#}").contains("referenz"), "{err:#}");
        std::fs::remove_file(dir.path().join("confirmation.txt.hbs")).unwrap();
        std::fs::write(dir.path().join("confirmaton.subject.hbs"), "x").unwrap();
        let err = Templates::load_layered(&shared, Some(dir.path()), &samples())
            .err()
            .expect("an unknown file");
        assert!(
            format!("{err:#}").contains("confirmaton.subject.hbs"),
            "{err:#}"
        );
    }

    #[test]
    fn a_missing_template_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        copy_templates(dir.path());
        std::fs::remove_file(dir.path().join("confirmation_late.html.hbs")).unwrap();
        let err = Templates::load(dir.path(), &samples())
            .err()
            .expect("must refuse");
        assert!(format!("{err:#}").contains("confirmation_late.html.hbs"));
    }
}
