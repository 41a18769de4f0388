//! Redaction throughput against ripgrep on the same file with the same patterns, in one run.
//!
//! `cargo bench -p convops-shared --bench redact_throughput` (needs `rg` on PATH: Debian
//! `ripgrep`). The corpus is 1,000,000 lines generated deterministically from the Loghub-2k logs in
//! `../shared/data/loghub` with every digit run re-randomised (as real logs vary), plus 1% lines
//! from the labelled redaction corpus so that there is something to find. ripgrep only finds
//! (`--count-matches`); the redactor finds and replaces. Reported: MB/s of each and the ratio.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use convops_shared::redact::Redactor;

const LINES: usize = 1_000_000;

struct SplitMix(u64);
impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn rerandomise(line: &str, rng: &mut SplitMix) -> String {
    line.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                char::from(b'0' + (rng.next() % 10) as u8)
            } else {
                c
            }
        })
        .collect()
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    let mut base: Vec<String> = Vec::new();
    let mut systems: Vec<_> = std::fs::read_dir(root.join("loghub"))
        .expect("loghub")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    systems.sort();
    for dir in systems {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Ok(text) = std::fs::read_to_string(dir.join(format!("{name}_2k.log"))) {
            base.extend(text.lines().map(str::to_owned));
        }
    }
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
