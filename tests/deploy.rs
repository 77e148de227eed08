//! The deployment files are checked: the Dockerfile by hadolint (pinned by
//! `tests/tools/fetch.sh`), the compose file's foodqc commands by foodqc's own argument parser,
//! the alert rules by Prometheus's promtool (Debian's `prometheus`): their syntax, and their
//! unit tests (`alerts_test.yml`: which alerts fire on which series, and when). The Kubernetes
//! manifests (`assets/deploy/k8s/`) by kubernetes-validate (pinned by `tests/tools/fetch.sh`,
//! the schemas inside it) in strict mode, and their container command lines by foodqc's parser.

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

/// The Kubernetes versions the manifests are validated against: the oldest and the newest.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.29.0", "1.37.0"];

fn kubernetes_validate() -> Option<PathBuf> {
    common::plant::tool("kubernetes-validate-1.37.0/kubernetes-validate")
}

fn k8s_dir() -> PathBuf {
    root().join("assets/deploy/k8s")
}

/// The manifests, in the order `kubectl apply -f assets/deploy/k8s/` takes them.
fn k8s_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(k8s_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in &files {
        assert_eq!(
            f.extension().and_then(|e| e.to_str()),
            Some("yaml"),
            "only .yaml manifests in assets/deploy/k8s: {}",
            f.display()
        );
    }
    files
}

/// `kind/name` of every resource of a manifest, read without a YAML parser (so not by the
/// validator's): each document has its top-level `kind:` and, under `metadata:`, its `name:`.
fn resources_of(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for doc in text.split("\n---\n") {
        let kind = doc.lines().find_map(|l| l.strip_prefix("kind: "));
        let Some(kind) = kind else { continue };
        let name = doc
            .lines()
            .skip_while(|l| *l != "metadata:")
            .find_map(|l| l.strip_prefix("  name: "))
            .expect("a metadata.name");
        out.push(format!("{}/{}", kind.trim().to_lowercase(), name.trim()));
    }
    out
}

/// Runs the validator in strict mode on `files` for every version of [`KUBERNETES_VERSIONS`].
fn validate(bin: &Path, files: &[PathBuf]) -> (bool, String) {
    let mut cmd = std::process::Command::new(bin);
    cmd.arg("--strict");
    for v in KUBERNETES_VERSIONS {
        cmd.args(["--kubernetes-version", v]);
    }
    let out = cmd.args(files).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_kubernetes_manifests_pass_the_schema_validator() {
    let Some(bin) = kubernetes_validate() else {
        common::skip_or_fail("kubernetes-validate is missing: run tests/tools/fetch.sh");
        return;
    };
    let files = k8s_files();
    let (ok, report) = validate(&bin, &files);
    assert!(ok, "kubernetes-validate --strict:\n{report}");
    // A kind it has no schema for is only a WARN with exit 0: every resource must have passed
    // against a schema, for each version.
    assert!(!report.contains("WARN"), "{report}");
    let mut expected = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for resource in resources_of(&text) {
            for v in KUBERNETES_VERSIONS {
                let minor = v.rsplit_once('.').unwrap().0;
                expected.push(format!(
                    "INFO {} passed for resource {resource} against version {minor}",
                    f.display()
                ));
            }
        }
    }
    let mut passed: Vec<String> = report
        .lines()
        .filter(|l| l.starts_with("INFO "))
        .map(str::to_string)
        .collect();
    expected.sort();
    passed.sort();
    assert_eq!(passed, expected, "{report}");
    // Namespace, ConfigMap, Secret; collector Deployment, Service, HPA; station PVC,
    // Deployment, Service.
    assert_eq!(
        expected.len(),
        9 * KUBERNETES_VERSIONS.len(),
        "{expected:#?}"
    );

    // The gate can fail: a misspelled field (accepted without --strict) and a wrong type.
    let dir = tempfile::tempdir().unwrap();
    let collector = std::fs::read_to_string(k8s_dir().join("20-collector.yaml")).unwrap();
    for (what, from, to) in [
        (
            "misspelled field",
            "readOnlyRootFilesystem",
            "readOnlyRootFileSystem",
        ),
        ("wrong type", "maxReplicas: 6", "maxReplicas: six"),
    ] {
        assert!(collector.contains(from), "{from}");
        let broken = dir.path().join("20-collector.yaml");
        std::fs::write(&broken, collector.replacen(from, to, 1)).unwrap();
        let (ok, report) = validate(&bin, &[broken]);
        assert!(!ok, "a {what} passed:\n{report}");
        assert!(report.contains("ERROR"), "{what}: {report}");
    }
}

/// The value a `$(NAME)` of a container command line gets: the container's environment
/// variable NAME, from the ConfigMap or Secret key of the same name in 10-plant-config.yaml.
fn env_value(manifest: &str, name: &str, config: &str) -> String {
    assert!(
        manifest.contains(&format!("- name: {name}\n"))
            && manifest.contains(&format!("key: {name}\n")),
        "$({name}) is not an environment variable of the container"
    );
    config
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{name}: \"")))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no {name} in 10-plant-config.yaml"))
        .to_string()
}

/// The JSON-style flow list after every `key: [` of a manifest (`command:`, `args:`).
fn flow_lists(text: &str, key: &str) -> Vec<Vec<String>> {
    let key = format!("{key}: [");
    let mut lists = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(&key) {
        let from = at + key.len() - 1;
        let end = from + rest[from..].find(']').expect("a closed list");
        let list: Vec<String> = serde_json::from_str(&rest[from..=end])
            .unwrap_or_else(|e| panic!("{key} as a list of double-quoted strings: {e}"));
        lists.push(list);
        rest = &rest[end..];
    }
    lists
}

/// Every container of the Kubernetes manifests runs a foodqc command line that foodqc accepts
/// (with `$(NAME)` replaced as Kubernetes does), on the port its probes and Service use, and a
/// station keeps its data folder on its volume.
#[test]
fn the_kubernetes_commands_are_foodqc_command_lines() {
    let config = std::fs::read_to_string(k8s_dir().join("10-plant-config.yaml")).unwrap();
    let mut ran = Vec::new();
    for file in k8s_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let images = text
            .lines()
            .filter(|l| l.trim_start().starts_with("image: "))
            .count();
        let commands = flow_lists(&text, "command");
        let args = flow_lists(&text, "args");
        assert!(
            commands.len() == images && args.len() == images,
            "{}: every container states its command and args",
            file.display()
        );
        for (command, args) in commands.iter().zip(&args) {
            assert_eq!(command[0], "foodqc", "{}", file.display());
            let mut line: Vec<String> = command[1..].iter().chain(args).cloned().collect();
            for arg in &mut line {
                if let Some(name) = arg.strip_prefix("$(").and_then(|a| a.strip_suffix(')')) {
                    *arg = env_value(&text, name, &config);
                }
            }
            let out = common::foodqc().args(&line).arg("--help").output().unwrap();
            assert!(
                out.status.success(),
                "foodqc {}: {}",
                line.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
            let after = |flag: &str| {
                let at = line.iter().position(|a| a == flag)?;
                line.get(at + 1).cloned()
            };
            let metrics = after("--metrics").expect("--metrics");
            let port = metrics.rsplit_once(':').unwrap().1;
            for wanted in [
                format!("containerPort: {port}\n"),
                format!("prometheus.io/port: \"{port}\"\n"),
            ] {
                assert!(text.contains(&wanted), "{}: {wanted}", file.display());
            }
            if args[0] == "inspect" {
                let data = after("--data-dir").expect("--data-dir");
                assert!(
                    text.contains(&format!("mountPath: {data}\n")),
                    "{}: the data folder {data} on a volume",
                    file.display()
                );
            }
            ran.push(args[0].clone());
        }
    }
    assert_eq!(ran, ["plant", "inspect"], "the collector and a station");
}
