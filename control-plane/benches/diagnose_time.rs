//! Diagnosis time per incident, on the evidence the control plane stored for each public scenario
//! and each scenario of the project's corpus (`benches/evidence/*.json`, written by
//! `convops-scenario run-all … --save-evidence`),
//! against a baseline measured in the same run: decoding the same frame from JSON, which every
//! ingest does anyway.
//!
//! `cargo bench -p convops-control-plane --bench diagnose_time`

use std::path::Path;
use std::time::Instant;

use convops_control_plane::diagnose;
use convops_shared::protocol::{AgentFrame, EvidenceFrame};

const ROUNDS: usize = 400;

/// The evidence frame inside a stored agent frame.
fn evidence(text: &str) -> anyhow::Result<EvidenceFrame> {
    match AgentFrame::decode(text)? {
        AgentFrame::Evidence(f) => Ok(*f),
        _ => anyhow::bail!("not an evidence frame"),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() -> anyhow::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/evidence");
    let mut files: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    anyhow::ensure!(!files.is_empty(), "no evidence in {}", dir.display());
    // The failure-signature table compiles once per process, on first use: timed apart.
    let t = Instant::now();
    std::hint::black_box(convops_shared::signatures::classify("warm-up"));
    println!(
        "signature table compiled in {:.1} ms (once per process)",
        t.elapsed().as_secs_f64() * 1e3
    );
    println!(
        "{:<40} {:>6} {:>11} {:>11} {:>11} {:>7}",
        "incident", "items", "decode µs", "diag p50 µs", "diag p99 µs", "ratio"
    );
    let mut all = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f)?;
        let frames: Vec<serde_json::Value> = serde_json::from_str(&text)?;
        let Some(first) = frames.first() else {
            continue;
        };
        let frame_text = first.to_string();
        let frame = evidence(&frame_text)?;
        let (mut decode, mut diag) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let f = evidence(&frame_text)?;
            decode.push(t.elapsed().as_secs_f64() * 1e6);
            std::hint::black_box(f);
            let t = Instant::now();
            let d = diagnose::diagnose(std::hint::black_box(&frame));
            diag.push(t.elapsed().as_secs_f64() * 1e6);
            std::hint::black_box(d);
        }
        decode.sort_by(f64::total_cmp);
        diag.sort_by(f64::total_cmp);
        let (dec50, dia50, dia99) = (
            percentile(&decode, 0.5),
            percentile(&diag, 0.5),
            percentile(&diag, 0.99),
        );
        all.extend(diag.iter().copied());
        println!(
            "{:<40} {:>6} {:>11.0} {:>11.0} {:>11.0} {:>6.2}×",
            f.file_stem().and_then(|s| s.to_str()).unwrap_or("?"),
            frame.items.len(),
            dec50,
            dia50,
            dia99,
            dia50 / dec50
        );
    }
    all.sort_by(f64::total_cmp);
    println!(
        "all incidents: diagnosis p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs (target: p99 under 1 ms)",
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or(0.0)
    );
    Ok(())
}
