//! Time per MiB of redaction and template mining on single pathological strings of 64 KiB to
//! 4 MiB: flat when the work is linear in the input, growing with the size when it is not.
//!
//! `cargo bench -p convops-shared --bench linear_time`. Each input is one string (a frame field or
//! a log line) made of one candidate repeated: addresses, `key=value` secrets, e-mail addresses,
//! masks the redactor must skip, digit runs that look like card numbers, and long messages for
//! the miner. Reported per input: ms per MiB at each size and the ratio of the largest to the
//! smallest (1.0 is linear; the same run is its own baseline, since this machine is noisy).

use std::time::Instant;

use convops_shared::redact::Redactor;
use convops_shared::templates::{HeaderModel, Miner, MinerConfig};

const SIZES: &[usize] = &[64 << 10, 256 << 10, 1 << 20, 4 << 20];

/// `unit` repeated (with its index mixed in) up to `size` bytes.
fn build(size: usize, unit: &dyn Fn(usize) -> String) -> String {
    let mut s = String::with_capacity(size + 64);
    let mut i = 0;
    while s.len() < size {
        s.push_str(&unit(i));
        i += 1;
    }
    s
}

/// Best of three, in ms per MiB.
fn per_mib(input: &str, run: &dyn Fn(&str) -> usize) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        std::hint::black_box(run(std::hint::black_box(input)));
        best = best.min(t.elapsed().as_secs_f64());
    }
    best * 1e3 / (input.len() as f64 / (1 << 20) as f64)
}

fn main() {
    let r = Redactor::new(b"bench");
    let redact = |s: &str| r.redact(s).len();
    let mine = |s: &str| {
        let mut m = Miner::new(MinerConfig::default(), HeaderModel::none());
        m.add(s) as usize
    };
    type Unit = Box<dyn Fn(usize) -> String>;
    type Run<'a> = &'a dyn Fn(&str) -> usize;
    let inputs: Vec<(&str, Unit, Run)> = vec![
        (
            "redact: IPv4 addresses",
            Box::new(|i| format!("10.{}.{}.{} ", i % 250, (i / 250) % 250, 1 + i % 200)),
            &redact,
        ),
        (
            "redact: password=value pairs",
            Box::new(|i| format!("password=Secret{i} ")),
            &redact,
        ),
        (
            "redact: e-mail addresses",
            Box::new(|i| format!("user{i}@example.com, ")),
            &redact,
        ),
        (
            "redact: existing masks and addresses",
            Box::new(|i| format!("[ipv4:{:04x}] 192.0.2.{} ", i % 65536, 1 + i % 250)),
            &redact,
        ),
        (
            "redact: card-like digit runs",
            Box::new(|i| format!("4111 1111 1111 {:04} ", i % 10_000)),
            &redact,
        ),
        (
            "redact: EC2 host names",
            Box::new(|i| format!("ip-10-0-{}-{}.ec2.internal ", i % 250, 1 + i % 250)),
            &redact,
        ),
        (
            "templates: one long message",
            Box::new(|i| format!("worker {i} took {}ms at node-{} ", i % 977, i % 13)),
            &mine,
        ),
        (
            "templates: one long token",
            Box::new(|i| format!("a{}b=", i % 10)),
            &mine,
        ),
    ];
    println!("| input | {} | largest / smallest |", {
        SIZES
            .iter()
            .map(|s| format!("{} KiB ms/MiB", s >> 10))
            .collect::<Vec<_>>()
            .join(" | ")
    });
    println!("|---|{}---|", "---|".repeat(SIZES.len()));
    for (name, unit, run) in &inputs {
        let times: Vec<f64> = SIZES
            .iter()
            .map(|&size| per_mib(&build(size, unit.as_ref()), *run))
            .collect();
        let ratio = times.last().copied().unwrap_or(0.0) / times[0];
        println!(
            "| {name} | {} | {ratio:.2} |",
            times
                .iter()
                .map(|t| format!("{t:.1}"))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
}
