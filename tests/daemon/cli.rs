use crate::helpers::{application, spawn_app};
use std::process::Command;

fn postbote(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_postbote"))
        .args(args)
        .output()
        .expect("run postbote")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_healthy_after_a_mailbox_check_and_lists_work() {
    let app = spawn_app().await;
    let applicant = "kaemmerei@stadt.test";
    app.deliver(
        applicant,
        &application(applicant, "Stadt", "cli-1@stadt.test"),
    )
    .await;
    app.wait_for_mail(applicant, 1).await;
    let config = app.config_path.to_str().unwrap();
    let status = postbote(&["--config", config, "status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "status: {text}");
    assert!(text.contains("health:       OK"), "{text}");
    assert!(text.contains("sent=1"), "{text}");
    let apps = postbote(&["--config", config, "applications", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&apps.stdout).unwrap();
    assert_eq!(json[0]["applicant"], applicant);
    let outbox = postbote(&["--config", config, "outbox", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&outbox.stdout).unwrap();
    assert_eq!(json[0]["state"], "sent");
}

#[test]
fn status_is_unhealthy_without_any_mailbox_check() {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let config = dir.path().join("p.toml");
    std::fs::write(
        &config,
        format!(
            "[instance]\nname = \"t\"\ndomain = \"ews.test\"\n[mailbox]\nsource = \"maildir\"\nprocessed_folder = \"Done\"\n\
             [maildir]\npath = \"md\"\n[smtp]\ntransport = \"file\"\nfile_dir = \"out\"\n[storage]\ndatabase = \"db.sqlite\"\n\
             [mail]\nfrom_address = \"projekt@ews.test\"\nfrom_name = \"P\"\n[programme]\nfile = \"{root}/config/ews7.toml\"\n\
             [templates]\ndir = \"{root}/templates\"\n"
        ),
    )
    .unwrap();
    let out = postbote(&["--config", config.to_str().unwrap(), "status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no successful mailbox check yet"));
    let check = postbote(&["--config", config.to_str().unwrap(), "check-config"]);
    assert!(check.status.success());
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(text.contains("Do., 27.08.2026"), "{text}");
    // The faithful transcription of the seed (with its weekday slip) is refused.
    let faithful = std::fs::read_to_string(&config).unwrap().replace(
        "config/ews7.toml",
        "tests/fixtures/config/ews7-faithful.toml",
    );
    std::fs::write(&config, faithful).unwrap();
    let refused = postbote(&["--config", config.to_str().unwrap(), "check-config"]);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("ews7-faithful.toml") && err.contains("modules[2].days[0].weekday"),
        "{err}"
    );
}
