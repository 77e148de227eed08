//! The deployment files are checked: the Dockerfile by hadolint (pinned by
//! `tests/tools/fetch.sh`), the compose file's foodqc commands by foodqc's own argument parser,
//! the alert rules by Prometheus's promtool (Debian's `prometheus`): their syntax, and their
//! unit tests (`alerts_test.yml`: which alerts fire on which series, and when).

mod common;

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn hadolint() -> Option<PathBuf> {
    common::plant::tool("hadolint-2.15.1/hadolint")
}

#[test]
fn the_dockerfile_passes_hadolint() {
    let Some(bin) = hadolint() else {
        common::skip_or_fail("hadolint is missing: run tests/tools/fetch.sh");
        return;
    };
    let out = std::process::Command::new(bin)
        .arg("--no-color")
        .arg(root().join("assets/deploy/Dockerfile"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hadolint: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_alert_rules_pass_promtool_and_their_unit_tests() {
    let Ok(version) = std::process::Command::new("promtool")
        .arg("--version")
        .output()
    else {
        common::skip_or_fail("promtool is missing (apt-get install prometheus)");
        return;
    };
    assert!(version.status.success());
    let dir = root().join("assets/monitoring");
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
    ] {
        let out = std::process::Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every `command:` of the compose file is a foodqc command line foodqc accepts.
#[test]
fn the_compose_commands_are_foodqc_command_lines() {
    let compose = std::fs::read_to_string(root().join("assets/deploy/compose.yaml")).unwrap();
    let mut commands = 0;
    let mut rest = compose.as_str();
    while let Some(at) = rest.find("command: [") {
        let after = &rest[at + "command: [".len()..];
        let end = after.find(']').expect("a closed command list");
        let args: Vec<String> = after[..end]
            .split(',')
            .map(|a| a.trim().trim_matches('"').to_string())
            .filter(|a| !a.is_empty())
            .collect();
        rest = &after[end..];
        // `--help` after the arguments: clap checks them all, then prints help, runs nothing.
        let out = common::foodqc().args(&args).arg("--help").output().unwrap();
        assert!(
            out.status.success(),
            "foodqc {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        commands += 1;
    }
    assert_eq!(commands, 3, "the collector and two stations");
}
