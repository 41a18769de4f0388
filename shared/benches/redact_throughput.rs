//! Redaction throughput against ripgrep on the same file with the same patterns, in one run.
//!
//! `cargo bench -p convops-shared --bench redact_throughput` (needs `rg` on PATH: Debian
//! `ripgrep`). The corpus is 1,000,000 lines generated deterministically from the Loghub-2k logs in
//! `../shared/data/loghub` with every digit run re-randomised (as real logs vary), plus 1% lines
//! from the labelled redaction corpus so that there is something to find. ripgrep only finds
//! (`--count-matches`); the redactor finds and replaces. Reported: MB/s of each and the ratio.

use std::io::Write;
use std::time::Instant;

use convops_shared::redact::Redactor;

mod corpus;
use corpus::{rerandomise, SplitMix};

const LINES: usize = 1_000_000;

fn main() {
    let root = corpus::data_dir();
    let base: Vec<String> = corpus::loghub_lines().into_iter().flatten().collect();
    let secrets: Vec<String> = std::fs::read_to_string(root.join("redaction/corpus.jsonl"))
        .expect("redaction corpus")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "positive")
        .filter_map(|v| v["line"].as_str().map(str::to_owned))
        .collect();
    let mut rng = SplitMix(20261122);
    let dir = std::env::temp_dir().join("convops-redact-bench");
    std::fs::create_dir_all(&dir).expect("tmp");
    let file = dir.join("corpus.log");
    let mut lines = Vec::with_capacity(LINES);
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file).expect("create"));
        for i in 0..LINES {
            let line = if i % 100 == 57 {
                secrets[(rng.next() as usize) % secrets.len()].clone()
            } else {
                rerandomise(&base[(rng.next() as usize) % base.len()], &mut rng)
            };
            writeln!(w, "{line}").expect("write");
            lines.push(line);
        }
    }
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mb = bytes as f64 / 1e6;
    println!(
        "corpus: {LINES} lines, {mb:.1} MB ({} Loghub lines, {} secret lines) at {}",
        base.len(),
        secrets.len(),
        file.display()
    );

    let redactor = Redactor::new(b"bench");
    let patterns = dir.join("patterns.txt");
    // rg joins -f patterns into one alternation: scope each pattern's flags in its own group and
    // drop the group name all rules share.
    let for_rg: Vec<String> = redactor
        .patterns()
        .iter()
        .map(|p| format!("(?:{})", p.replace("(?P<v>", "(?:")))
        .collect();
    std::fs::write(&patterns, for_rg.join("\n") + "\n").expect("patterns");

    // ripgrep: best of 3.
    let mut rg_best = f64::MAX;
    let mut rg_count = String::new();
    for _ in 0..3 {
        let t = Instant::now();
        let out = std::process::Command::new("rg")
            .args(["--count-matches", "--no-config", "-j1", "-f"])
            .arg(&patterns)
            .arg(&file)
            .output()
            .expect("rg on PATH (Debian package ripgrep)");
        assert!(
            out.status.success(),
            "rg failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        rg_best = rg_best.min(t.elapsed().as_secs_f64());
        rg_count = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    }

    // The redactor: best of 3, single thread, finding and replacing.
    let mut ours_best = f64::MAX;
    let mut changed = 0usize;
    for _ in 0..3 {
        let t = Instant::now();
        let mut n = 0usize;
        let mut out_bytes = 0usize;
        for l in &lines {
            let r = redactor.redact(l);
            if matches!(r, std::borrow::Cow::Owned(_)) {
                n += 1;
            }
            out_bytes += r.len();
        }
        std::hint::black_box(out_bytes);
        ours_best = ours_best.min(t.elapsed().as_secs_f64());
        changed = n;
    }
    println!(
        "ripgrep 1 thread, find only:  {:>8.1} MB/s ({rg_best:.2}s, {rg_count} matches)",
        mb / rg_best
    );
    println!(
        "redactor 1 thread, find+mask: {:>8.1} MB/s ({ours_best:.2}s, {changed} lines changed)",
        mb / ours_best
    );
    println!(
        "ratio redactor/ripgrep:       {:>8.1}%",
        100.0 * rg_best / ours_best
    );
}
