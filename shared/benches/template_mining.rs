//! Template mining throughput against Drain3 on the same files in the same run, and memory.
//!
//! `cargo bench -p convops-shared --bench template_mining` (needs a Python with PyPI `drain3`:
//! `CONVOPS_PYTHON`, else `$CONVOPS_VENV/bin/python`, else `python3`). The corpus is 1,000,000
//! lines drawn deterministically from the twelve Loghub-2k systems with every digit run
//! re-randomised, one file per system (a miner per log source, as the agent runs one per log
//! group). Both sides mine each file with a fresh miner; reading the file is not timed. Drain3
//! gets masking of numbers, hex, IPs and UUIDs and the same cluster cap as ours. A second run
//! feeds 1,000,000 unique lines (nothing to mask) to show that state and time stay bounded.

use std::io::Write;
use std::time::Instant;

use convops_shared::templates::{HeaderModel, Miner, MinerConfig, HEADER_SAMPLE};

mod corpus;
use corpus::{rerandomise, SplitMix};

const LINES: usize = 1_000_000;

/// Peak resident set of this process so far, in MiB (Linux).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn python() -> String {
    std::env::var("CONVOPS_PYTHON").unwrap_or_else(|_| {
        let venv = std::env::var("CONVOPS_VENV").unwrap_or_else(|_| {
            format!(
                "{}/.cache/convops-venv",
                std::env::var("HOME").unwrap_or_default()
            )
        });
        let p = format!("{venv}/bin/python");
        if std::path::Path::new(&p).exists() {
            p
        } else {
            "python3".into()
        }
    })
}

/// Mines one file the way `convops-agent templates` does (header learned from the first lines),
/// without writing output; returns (seconds, clusters).
fn mine_file(path: &std::path::Path) -> (f64, usize) {
    let text = std::fs::read_to_string(path).expect("corpus file");
    let lines: Vec<&str> = text.lines().collect();
    let start = Instant::now();
    let mut miner = Miner::learning(lines.iter().take(HEADER_SAMPLE).copied());
    let mut sum = 0u64;
    for l in &lines {
        sum = sum.wrapping_add(u64::from(miner.add(l)));
    }
    std::hint::black_box(sum);
    (start.elapsed().as_secs_f64(), miner.len())
}

fn main() {
    let systems = corpus::loghub_lines();
    let dir = std::env::temp_dir().join("convops-template-bench");
    std::fs::create_dir_all(&dir).expect("tmp");
    let mut rng = SplitMix(20261123);
    let per = LINES / systems.len();
    let mut files = Vec::new();
    let mut bytes = 0usize;
    for (i, base) in systems.iter().enumerate() {
        let n = if i + 1 == systems.len() {
            LINES - per * i
        } else {
            per
        };
        let file = dir.join(format!("system-{i:02}.log"));
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file).expect("create"));
        for _ in 0..n {
            let line = rerandomise(&base[(rng.next() as usize) % base.len()], &mut rng);
            bytes += line.len() + 1;
            writeln!(w, "{line}").expect("write");
        }
        w.flush().expect("flush");
        files.push(file);
    }
    println!(
        "corpus: {LINES} lines, {:.1} MB, {} files in {}",
        bytes as f64 / 1e6,
        files.len(),
        dir.display()
    );

    // Ours: best of 3.
    let mut ours = f64::MAX;
    let mut clusters = 0;
    for _ in 0..3 {
        let (mut t, mut c) = (0.0, 0);
        for f in &files {
            let (s, n) = mine_file(f);
            t += s;
            c += n;
        }
        ours = ours.min(t);
        clusters = c;
    }
    println!(
        "convops miner:  {:>9.0} lines/s ({ours:.2}s, {clusters} clusters, peak RSS {:.0} MiB)",
        LINES as f64 / ours,
        peak_rss_mib()
    );

    // Drain3, once (it is slow).
    let out = std::process::Command::new(python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/drain3_baseline.py"
        ))
        .arg(MinerConfig::default().max_clusters.to_string())
        .args(&files)
        .output()
        .expect("python with drain3");
    assert!(
        out.status.success(),
        "drain3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("drain3 output");
    let drain = v["seconds"].as_f64().expect("seconds");
    println!(
        "drain3:         {:>9.0} lines/s ({drain:.2}s, {} clusters)",
        LINES as f64 / drain,
        v["clusters"]
    );
    println!("speed-up:       {:>9.1}x", drain / ours);

    // A flood of unique lines: clusters stay at the cap, time per line stays flat.
    let config = MinerConfig::default();
    let cap = config.max_clusters;
    let mut miner = Miner::new(config, HeaderModel::none());
    let word = |mut n: u64| -> String {
        let mut s = String::with_capacity(8);
        for _ in 0..8 {
            s.push(char::from(b'a' + (n % 26) as u8));
            n /= 26;
        }
        s
    };
    let start = Instant::now();
    let mut halves = [0.0; 2];
    for i in 0..LINES as u64 {
        let a = rng.next();
        let line = format!(
            "{} {} {} {}",
            word(a),
            word(a >> 20),
            word(i),
            word(a >> 40)
        );
        miner.add(&line);
        if i + 1 == LINES as u64 / 2 {
            halves[0] = start.elapsed().as_secs_f64();
        }
    }
    halves[1] = start.elapsed().as_secs_f64() - halves[0];
    println!(
        "unique flood:   {:>9.0} lines/s (first half {:.2}s, second half {:.2}s), {} clusters held (cap {cap}), peak RSS {:.0} MiB",
        LINES as f64 / (halves[0] + halves[1]),
        halves[0],
        halves[1],
        miner.len(),
        peak_rss_mib()
    );
}
