//! `convops-footprint`: the agent's memory, measured as a customer runs it. Starts moto, the
//! CloudWatch adapter, a Slack receiver and the real control plane and agent (from
//! `$CONVOPS_BIN_DIR`, e.g. the static release build `packaging/release` makes), then samples the
//! agent's resident set (`VmRSS` in /proc) while it idles connected, and while it investigates
//! `--alarms` alarms fired at once; `VmHWM` gives the peak, and `RssAnon` / `RssFile` split the
//! resident set into the heap and stacks and the mapped program. Prints a table, or JSON with
//! `--json`.
//! The result goes in docs/benchmarks.md with the command that produced it.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use convops_tests::procs;
use convops_tests::world::{fire_alarm, world};

/// Measure the agent's resident memory idle and during investigations.
#[derive(Debug, Parser)]
#[command(name = "convops-footprint")]
struct Cli {
    /// Seconds to sample the connected, idle agent.
    #[arg(long, default_value_t = 20)]
    idle_secs: u64,
    /// Alarms fired at once (each on its own load balancer: one investigation each).
    #[arg(long, default_value_t = 3)]
    alarms: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// One reading of `/proc/PID/status`, in KiB.
#[derive(Debug, Clone, Copy)]
struct Memory {
    rss: u64,
    hwm: u64,
    anon: u64,
    file: u64,
}

fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some(Memory {
        rss: field("VmRSS:")?,
        hwm: field("VmHWM:")?,
        anon: field("RssAnon:")?,
        file: field("RssFile:")?,
    })
}

#[derive(Debug, Default, serde::Serialize)]
struct Samples {
    count: usize,
    median_kib: u64,
    max_kib: u64,
    /// `RssAnon` and `RssFile` of the sample whose `VmRSS` is the median.
    median_anon_kib: u64,
    median_file_kib: u64,
}

fn summarise(mut v: Vec<Memory>) -> Samples {
    v.sort_unstable_by_key(|m| m.rss);
    let median = v.get(v.len() / 2);
    Samples {
        count: v.len(),
        median_kib: median.map_or(0, |m| m.rss),
        max_kib: v.last().map_or(0, |m| m.rss),
        median_anon_kib: median.map_or(0, |m| m.anon),
        median_file_kib: median.map_or(0, |m| m.file),
    }
}

#[derive(Debug, serde::Serialize)]
struct Report {
    agent: String,
    idle: Samples,
    investigating: Samples,
    peak_hwm_kib: u64,
    after: Samples,
    alarms: usize,
    investigate_secs: f64,
}

async fn measure(cli: &Cli) -> anyhow::Result<Report> {
    let w = world().await?;
    let mut cp = w.cp.start().await?;
    let port = convops_tests::free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let mut agent = procs::start_agent_with(
        &w.cp,
        &w.aws,
        &w.dir.path().join("spool"),
        w.dir.path().join("agent.log"),
        &w.cp.agent_url(),
        &[
            ("CONVOPS_AGENT__METRICS__LISTEN", &listen),
            ("CONVOPS_LOG", "info"),
        ],
    )?;
    let pid = agent
        .pid()
        .ok_or_else(|| anyhow::anyhow!("agent not running"))?;
    let ready = format!("http://{listen}/readyz");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !reqwest::get(&ready)
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        anyhow::ensure!(
            Instant::now() < deadline && agent.is_running(),
            "agent never ready:\n{}",
            agent.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let sample_for = |secs: u64| async move {
        let mut v = Vec::new();
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if let Some(m) = memory(pid) {
                v.push(m);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        v
    };
    let idle = sample_for(cli.idle_secs).await;

    let started = Instant::now();
    for i in 0..cli.alarms {
        let name = format!("footprint-{i}");
        fire_alarm(&w, &name, &format!("app/fp{i}/{i}"), "Threshold Crossed").await?;
    }
    let mut busy = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    while w.slack.messages().len() < cli.alarms {
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} of {} diagnoses within 180 s",
            w.slack.messages().len(),
            cli.alarms
        );
        if let Some(m) = memory(pid) {
            busy.push(m);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let investigate_secs = started.elapsed().as_secs_f64();
    let peak = memory(pid).map_or(0, |m| m.hwm);
    let after = sample_for(cli.idle_secs.min(10)).await;
    agent.kill();
    cp.kill();
    Ok(Report {
        agent: procs::bin("convops-agent")?.display().to_string(),
        idle: summarise(idle),
        investigating: summarise(busy),
        peak_hwm_kib: peak,
        after: summarise(after),
        alarms: cli.alarms,
        investigate_secs,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match measure(&cli).await {
        Ok(r) if cli.json => {
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Ok(r) => {
            let mib = |k: u64| k as f64 / 1024.0;
            println!("agent: {}", r.agent);
            println!(
                "| phase | samples | median RSS (MiB) | of it anonymous / file (MiB) | max RSS (MiB) |"
            );
            println!("|---|---|---|---|---|");
            for (phase, s) in [
                ("idle, connected", &r.idle),
                ("investigating", &r.investigating),
                ("idle again", &r.after),
            ] {
                println!(
                    "| {phase} | {} | {:.1} | {:.1} / {:.1} | {:.1} |",
                    s.count,
                    mib(s.median_kib),
                    mib(s.median_anon_kib),
                    mib(s.median_file_kib),
                    mib(s.max_kib)
                );
            }
            println!(
                "peak (VmHWM) {:.1} MiB over {} investigations in {:.1} s; peak / idle median = {:.2}",
                mib(r.peak_hwm_kib),
                r.alarms,
                r.investigate_secs,
                r.peak_hwm_kib as f64 / r.idle.median_kib.max(1) as f64
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("convops-footprint: {e:#}");
            ExitCode::FAILURE
        }
    }
}
