//! `convops-agent redact`, the stable interface: lines on stdin, each line redacted on stdout,
//! one output line per input line, in order, with no configuration needed.

use std::io::Write;
use std::process::{Command, Stdio};

fn redact(input: &[u8]) -> (Vec<u8>, String, bool) {
    let mut child = Command::new(convops_tests::procs::bin("convops-agent").expect("binary"))
        .arg("redact")
        .env_remove("CONVOPS_AGENT__CONTROL_PLANE__URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let data = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer").expect("write");
    (
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

#[test]
fn corpus_through_the_cli() {
    let Some(path) = convops_tests::shared_path("data/redaction/corpus.jsonl") else {
        return;
    };
    let records: Vec<serde_json::Value> = std::fs::read_to_string(path)
        .expect("corpus")
        .lines()
        .map(|l| serde_json::from_str(l).expect("record"))
        .collect();
    let input: String = records
        .iter()
        .map(|r| format!("{}\n", r["line"].as_str().unwrap_or_default()))
        .collect();
    let (stdout, stderr, ok) = redact(input.as_bytes());
    assert!(ok, "{stderr}");
    let out = String::from_utf8(stdout).expect("utf8");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), records.len(), "one output line per input line");
    let masks = regex::Regex::new(r"\[[a-z0-9_]+:[0-9a-f]{4}\]").expect("mask pattern");
    for (r, got) in records.iter().zip(&lines) {
        let line = r["line"].as_str().unwrap_or_default();
        if r["kind"] == "trap" {
            assert_eq!(*got, line, "trap {} changed", r["id"]);
        }
        // A pseudonym's four hex digits may spell a short value by chance (a CVV `270` in
        // `[card_cvv:270b]`): what must not survive is the value outside the masks.
        let unmasked = masks.replace_all(got, "[]");
        for span in r["spans"].as_array().into_iter().flatten() {
            let text = span["text"].as_str().unwrap_or_default();
            assert!(
                !unmasked.contains(text),
                "{}: {text:?} survived: {got}",
                r["id"]
            );
        }
    }
}

#[test]
fn empty_and_invalid_lines_keep_their_place() {
    let (stdout, stderr, ok) =
        redact(b"a@example.com\n\n\xff\xfe bad utf8 10.0.0.1\nlast line without newline");
    assert!(ok, "{stderr}");
    let out = String::from_utf8(stdout).expect("utf8");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out:?}");
    assert!(lines[0].starts_with("[email:"), "{out:?}");
    assert_eq!(lines[1], "");
    assert!(
        lines[2].contains("[ipv4:") && lines[2].contains("bad utf8"),
        "{out:?}"
    );
    assert_eq!(lines[3], "last line without newline");
}
