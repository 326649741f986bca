//! The shared context of the stages: the store, the settings, the programme,
//! the mail templates and composer, the classification rules, the clock and
//! the signals between the tasks. Built once at the start (`App::build`);
//! `startup` runs the tasks on it.

use crate::calendar::clock::Clock;
use crate::config::Config;
use crate::config::settings::Settings;
use crate::config::{Programme, Programmes};
use crate::intake::classify::Rules;
use crate::outbox::{Composer, Mailer, Templates};
use crate::store::{Store, instance_key};
use crate::workflow::desk::{Desk, Mailers};
use crate::workflow::mails;
use anyhow::Context;
use std::sync::Arc;
use tokio::sync::Notify;

/// Everything the stages share.
pub struct App {
    pub store: Store,
    pub settings: Settings,
    /// Every programme of the instance (part 9), in the settings' order.
    pub programmes: Programmes,
    /// Renders, composes and queues every mail (templates checked at start).
    pub mailer: Mailer,
    /// The mailers of the programmes with a template folder of their own
    /// (`templates = "…"`), by code; [`App::desk_for`] hands them out.
    programme_mailers: Vec<(String, Mailer)>,
    pub rules: Rules,
    /// Wakes the sender when the intake queued mail.
    pub outbox_signal: Arc<Notify>,
    /// The scheduler's clock (the wall clock, or a test's hand-set one).
    pub clock: Clock,
    /// Wakes the scheduler before its next tick (tests moving the clock).
    pub scheduler_signal: Arc<Notify>,
    /// Ends the intake's wait for mail (SIGUSR1 after `postbote messages
    /// retry`): it sweeps at once and finds the message pending again.
    pub intake_signal: Arc<Notify>,
}

impl App {
    /// What SIGUSR1 does (`startup::forward_wakeups`): the sender, the
    /// scheduler and the intake look at the queue, the plan and the pending
    /// messages at once.
    pub fn wake(&self) {
        self.outbox_signal.notify_one();
        self.scheduler_signal.notify_one();
        self.intake_signal.notify_one();
    }

    /// What a workflow step works with, for the first programme of the
    /// settings: for work that belongs to no programme in particular (staff
    /// notices, alarms) and while only one programme is configured.
    ///
    /// With several programmes this desk is neutral ([`Desk::neutral`]):
    /// its staff mail names them all and uses the shared templates.
    pub fn desk(&self) -> Desk<'_> {
        let first = self.desk_for(self.programmes.first());
        if self.programmes.len() > 1 {
            Desk {
                neutral: true,
                mailer: &self.mailer,
                ..first
            }
        } else {
            first
        }
    }

    /// What a workflow step works with, for `programme`.
    pub fn desk_for<'a>(&'a self, programme: &'a Programme) -> Desk<'a> {
        let mailers = Mailers {
            shared: &self.mailer,
            own: &self.programme_mailers,
        };
        Desk {
            programme,
            programmes: &self.programmes,
            mailer: mailers.of(&programme.code),
            mailers,
            settings: &self.settings,
            neutral: false,
        }
    }

    /// For the daemon: opens and migrates the database, and checks every
    /// template. Only `postbote run` (under the database lock) and the demo
    /// use this; other commands use [`App::for_command`] or [`App::read_only`].
    pub async fn build(config: Config) -> anyhow::Result<Arc<App>> {
        Self::build_with_clock(config, Clock::system()).await
    }

    /// For commands that only read: the store opened without migrating, the
    /// templates not checked (nothing is rendered).
    pub async fn read_only(config: Config) -> anyhow::Result<Arc<App>> {
        let Config {
            settings,
            programmes,
            ..
        } = config;
        let store = Store::open_existing(&settings.storage.database).await?;
        let mut programmes = programmes;
        let legacy = crate::store::programmes::legacy(&store).await?;
        scope(&mut programmes, legacy.as_deref());
        let templates = Templates::load(&settings.templates.dir, &[])?;
        // NOTE: a read-only command renders and queues nothing, so no
        // Message-ID is made: without a stored key (and without writing
        // one) a dummy serves.
        let key = instance_key::get(&store)
            .await?
            .unwrap_or([0; instance_key::LEN]);
        let layers = Layers {
            shared: templates,
            programmes: Vec::new(),
        };
        Self::assemble(settings, programmes, store, layers, Clock::system(), key)
    }

    /// For commands that change data (staff commands, the roster import):
    /// the store opened without migrating (refused unless its schema is
    /// exactly this binary's, see [`Store::open_existing`]), every template
    /// checked.
    pub async fn for_command(config: Config) -> anyhow::Result<Arc<App>> {
        let Config {
            settings,
            programmes,
            ..
        } = config;
        let store = Store::open_existing(&settings.storage.database).await?;
        let programmes = adopted(&store, programmes).await?;
        let layers = Layers::load(&settings, &programmes)?;
        let key = instance_key::get_or_create(&store, rand::random()).await?;
        Self::assemble(settings, programmes, store, layers, Clock::system(), key)
    }

    /// Like [`App::build`], with the scheduler on `clock`.
    pub async fn build_with_clock(config: Config, clock: Clock) -> anyhow::Result<Arc<App>> {
        let Config {
            settings,
            programmes,
            ..
        } = config;
        // NOTE: check CA files now, so a wrong one stops the start instead of
        // showing up later as an endless "UnknownIssuer" retry loop.
        if let Some(ca) = settings.imap.as_ref().and_then(|i| i.ca_file.as_ref()) {
            crate::mailbox::tls::ca_certificates(ca)?;
        }
        if let Some(ca) = &settings.smtp.ca_file {
            crate::mailbox::tls::ca_certificates(ca)?;
        }
        let store = Store::open(&settings.storage.database).await?;
        let programmes = adopted(&store, programmes).await?;
        let layers = Layers::load(&settings, &programmes)?;
        let key = instance_key::get_or_create(&store, rand::random()).await?;
        let app = Self::assemble(settings, programmes, store, layers, clock, key)?;
        crate::outbox::upgrade_loop_headers(&app.store, app.mailer.composer().loop_key()).await?;
        Ok(app)
    }

    fn assemble(
        settings: Settings,
        programmes: Programmes,
        store: Store,
        layers: Layers,
        clock: Clock,
        key: [u8; instance_key::LEN],
    ) -> anyhow::Result<Arc<App>> {
        let mail = &settings.mail;
        let composer = Composer::new(
            &mail.from_address,
            &mail.from_name,
            mail.reply_to.as_ref(),
            &settings.instance.domain,
            &settings.instance.name,
            key,
        )?;
        let rules = Rules {
            loop_key: composer.loop_key().clone(),
            staff: settings.staff.addresses.clone(),
        };
        let mailer_with = |templates: Templates| {
            Mailer::new(templates, composer.clone(), mail.daily_cap_per_recipient)
                .with_applicant_per_hour(mail.max_automatic_per_hour)
        };
        let programme_mailers = layers
            .programmes
            .into_iter()
            .map(|(code, t)| (code, mailer_with(t)))
            .collect();
        let mailer = mailer_with(layers.shared);
        Ok(Arc::new(App {
            store,
            settings,
            programmes,
            mailer,
            programme_mailers,
            rules,
            outbox_signal: Arc::new(Notify::new()),
            clock,
            scheduler_signal: Arc::new(Notify::new()),
            intake_signal: Arc::new(Notify::new()),
        }))
    }
}

/// The checked templates: the shared ones, and for each programme with a
/// folder of its own the shared ones with its files in their place.
pub(crate) struct Layers {
    shared: Templates,
    programmes: Vec<(String, Templates)>,
}

impl Layers {
    /// Loads and checks (every sample rendered) all of them.
    pub(crate) fn load(settings: &Settings, programmes: &Programmes) -> anyhow::Result<Layers> {
        let samples = mails::samples();
        let dir = &settings.templates.dir;
        let shared = Templates::load(dir, &samples)?;
        let mut layered = Vec::new();
        for p in programmes.iter() {
            if let Some(own) = &p.templates {
                let t = Templates::load_layered(dir, Some(own), &samples)
                    .with_context(|| format!("the templates of programme {}", p.code))?;
                layered.push((p.code.clone(), t));
            }
        }
        Ok(Layers {
            shared,
            programmes: layered,
        })
    }
}

/// Registers the programmes in the store (`store::programmes::adopt`) and
/// sets each one's key scope.
async fn adopted(store: &Store, mut programmes: Programmes) -> anyhow::Result<Programmes> {
    let codes: Vec<String> = programmes.iter().map(|p| p.code.clone()).collect();
    let legacy = crate::store::programmes::adopt(store, &codes, chrono::Utc::now()).await?;
    scope(&mut programmes, Some(&legacy));
    Ok(programmes)
}

fn scope(programmes: &mut Programmes, legacy: Option<&str>) {
    for p in programmes.iter_mut() {
        p.key_scope = crate::store::programmes::key_scope(&p.code, legacy);
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! An `App` on a temporary SQLite store and the shipped templates and
    //! programme, for unit tests of workflow code without mail servers.

    use super::App;
    use crate::config::{Config, Programmes, Settings};
    use std::path::Path;
    use std::sync::Arc;

    /// Staff who get notices in the test app.
    pub const STAFF: &str = "leitung@ews.test";

    fn config(dir: &Path) -> Config {
        let root = env!("CARGO_MANIFEST_DIR");
        config_with(dir, &format!("file = \"{root}/config/ews7.toml\""))
    }

    /// The test settings with `programme` as the body of `[programme]`
    /// (`file = "…"` or `files = [ … ]`).
    fn config_with(dir: &Path, programme: &str) -> Config {
        let root = env!("CARGO_MANIFEST_DIR");
        let path = dir.join("postbote.toml");
        std::fs::write(
            &path,
            format!(
                "[instance]\nname = \"unit\"\ndomain = \"ews.test\"\n\
                 [mailbox]\nsource = \"maildir\"\nprocessed_folder = \"Postbote/Verarbeitet\"\n\
                 [maildir]\npath = \"md\"\n[smtp]\ntransport = \"file\"\nfile_dir = \"out\"\n\
                 [storage]\ndatabase = \"db.sqlite\"\n\
                 [mail]\nfrom_address = \"projekt@ews.test\"\nfrom_name = \"Projektteam\"\n\
                 [staff]\naddresses = [\"{STAFF}\"]\nnotify = [\"{STAFF}\"]\n\
                 [programme]\n{programme}\n[templates]\ndir = \"{root}/templates\"\n"
            ),
        )
        .expect("write config");
        let settings = Settings::load(&path, std::iter::empty()).expect("settings");
        let programmes = Programmes::load(&settings.programme, &path).expect("programme");
        Config {
            settings,
            programmes,
            path,
        }
    }

    pub async fn app(dir: &Path) -> Arc<App> {
        App::build(config(dir)).await.expect("app")
    }

    /// The shipped EWS 7 file under `code` (short name "EWS <digits>"),
    /// retired or not, written to `dir`.
    pub fn programme_file(dir: &Path, code: &str, retired: bool) -> std::path::PathBuf {
        let root = env!("CARGO_MANIFEST_DIR");
        let ews7 = std::fs::read_to_string(format!("{root}/config/ews7.toml")).expect("ews7");
        let number: String = code.chars().filter(char::is_ascii_digit).collect();
        let text = ews7.replacen(
            "short_name = \"EWS 7\"",
            &format!(
                "short_name = \"EWS {number}\"\ncode = \"{code}\"{}",
                if retired { "\nretired = true" } else { "" }
            ),
            1,
        );
        let path = dir.join(format!("{}.toml", code.to_lowercase()));
        std::fs::write(&path, text).expect("write programme");
        path
    }

    /// The shipped EWS 7 file and an EWS 8 copy: the app of two programmes.
    pub async fn two_programmes(dir: &Path) -> Arc<App> {
        let root = env!("CARGO_MANIFEST_DIR");
        let files = [
            std::path::PathBuf::from(format!("{root}/config/ews7.toml")),
            programme_file(dir, "EWS8", false),
        ];
        app_with_programmes(dir, &files).await
    }

    /// Like [`app`], with several programme files (the first is the legacy
    /// programme of a new store).
    pub async fn app_with_programmes(dir: &Path, files: &[std::path::PathBuf]) -> Arc<App> {
        let list = files
            .iter()
            .map(|f| format!("\"{}\"", f.display()))
            .collect::<Vec<_>>()
            .join(", ");
        App::build(config_with(dir, &format!("files = [{list}]")))
            .await
            .expect("app")
    }

    /// Like [`app`], on a store that waits at most `busy` for a lock
    /// (the daemon waits 10 s): tests of a busy database stay quick.
    pub async fn app_with_busy_timeout(dir: &Path, busy: std::time::Duration) -> Arc<App> {
        let Config {
            settings,
            programmes,
            ..
        } = config(dir);
        let db = &settings.storage.database;
        crate::store::Store::open(db)
            .await
            .expect("migrate")
            .close()
            .await;
        let store = crate::store::testing::open_with_busy_timeout(db, busy).await;
        let programmes = super::adopted(&store, programmes)
            .await
            .expect("programmes");
        let templates = super::Layers::load(&settings, &programmes).expect("templates");
        let key = crate::store::instance_key::get_or_create(&store, rand::random())
            .await
            .expect("instance key");
        App::assemble(
            settings,
            programmes,
            store,
            templates,
            crate::calendar::clock::Clock::system(),
            key,
        )
        .expect("app")
    }

    #[tokio::test]
    async fn message_ids_are_keyed_per_store_and_kept_across_restarts() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let id = |app: &App| app.mailer.composer().message_id_for("confirmation:1");
        let first = app(a.path()).await;
        let id_a = id(&first);
        first.store.close().await;
        drop(first);
        let again = app(a.path()).await;
        assert_eq!(id(&again), id_a, "the same store after a restart");
        let other = app(b.path()).await;
        assert_ne!(id(&other), id_a, "another store, the same key and instance");
    }
}
