//! Invalid configuration makes either binary exit non-zero with one line naming the key or file.

use std::process::Command;

use convops_tests::procs::bin;

fn run(exe: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(bin(exe).expect("binary built"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("CONVOPS_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check(exe: &str, args: &[&str], env: &[(&str, &str)], needles: &[&str]) {
    let (code, stderr) = run(exe, args, env);
    assert_ne!(code, 0, "{exe} {args:?} must fail; stderr: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected, got:\n{stderr}"
    );
    for n in needles {
        assert!(stderr.contains(n), "{n:?} missing from: {stderr}");
    }
}

#[test]
fn agent_config_errors_are_one_precise_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p.display().to_string()
    };
    let token = [("CONVOPS_AGENT__CONTROL_PLANE__TOKEN", "t")];
    check(
        "convops-agent",
        &["check-config"],
        &token,
        &["control_plane.url", "missing"],
    );
    let bad_toml = write("bad.toml", "[control_plane\nurl = ");
    check(
        "convops-agent",
        &["--config", &bad_toml, "check-config"],
        &[],
        &["bad.toml"],
    );
    let unknown = write(
        "unknown.toml",
        "[control_plane]\nurl = \"wss://x/\"\ntoken = \"t\"\ncolour = 1\n",
    );
    check(
        "convops-agent",
        &["--config", &unknown, "check-config"],
        &[],
        &["colour", "control_plane"],
    );
    check(
        "convops-agent",
        &["check-config"],
        &[
            ("CONVOPS_AGENT__CONTROL_PLANE__URL", "wss://x/"),
            ("CONVOPS_AGENT__CONTROL_PLANE__TOKEN", "t"),
            (
                "CONVOPS_AGENT__CONTROL_PLANE__CA_FILE",
                "/nonexistent/ca.pem",
            ),
        ],
        &["control_plane.ca_file", "/nonexistent/ca.pem"],
    );
    check(
        "convops-agent",
        &["--config", "/nonexistent/agent.toml", "check-config"],
        &[],
        &["/nonexistent/agent.toml"],
    );
    check(
        "convops-agent",
        &["check-config"],
        &[
            ("CONVOPS_AGENT__CONTROL_PLANE__URL", "wss://x/"),
            ("CONVOPS_AGENT__CONTROL_PLANE__TOKEN", "t"),
            ("CONVOPS_AGENT__ALARMS__POLL_INTERVAL_SECS", "soon"),
        ],
        &["alarms.poll_interval_secs"],
    );
    let good = write(
        "good.toml",
        "[control_plane]\nurl = \"wss://cp.example.com/v1/agent/connect\"\ntoken = \"t\"\n",
    );
    let (code, stderr) = run("convops-agent", &["--config", &good, "check-config"], &[]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn control_plane_config_errors_are_one_precise_line() {
    check(
        "convops-control-plane",
        &["serve"],
        &[],
        &["tls.cert_file", "required"],
    );
    check(
        "convops-control-plane",
        &["serve"],
        &[
            ("CONVOPS_CP__TLS__CERT_FILE", "/nonexistent/cert.pem"),
            ("CONVOPS_CP__TLS__KEY_FILE", "/nonexistent/key.pem"),
        ],
        &["tls.cert_file", "/nonexistent/cert.pem"],
    );
    check(
        "convops-control-plane",
        &["serve"],
        &[("CONVOPS_CP__LISTEN", "everywhere")],
        &["listen"],
    );
    check(
        "convops-control-plane",
        &["serve"],
        &[("CONVOPS_CP__COLOUR", "blue")],
        &["colour"],
    );
}
