//! `convops-scenario`: replay incident scenarios (format `convops-scenario/1`) through the real
//! ConvOps agent and control plane against an AWS emulator, and score the diagnosis.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use convops_tests::runner::{self, Emulator, Options, Outcome};

/// Replay incident scenarios end to end and score the result.
///
/// Starts moto_server (installing moto[server] into the project's venv when missing), a CloudWatch
/// CBOR adapter and a CloudTrail server on loopback, seeds them from the scenario, runs the real
/// control plane and agent, waits for the diagnosis at a local Slack receiver, and reports the
/// top category, hypotheses, delivered message, raw vs sent bytes, detect-to-deliver time and
/// every planted secret found outside the account. Binaries are taken from the directory of this
/// executable (or $CONVOPS_BIN_DIR).
#[derive(Debug, Parser)]
#[command(name = "convops-scenario", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run one scenario file.
    Run {
        file: PathBuf,
        #[command(flatten)]
        args: RunArgs,
    },
    /// Run every *.json scenario in a directory, in file-name order.
    RunAll {
        dir: PathBuf,
        #[command(flatten)]
        args: RunArgs,
    },
    /// Diagnose evidence saved by `--save-evidence` again, without AWS, agent or control plane,
    /// and print each frame's message: to see what an engine change does to stored incidents.
    /// (Only the diagnosis runs: no storm grouping, LLM write-up or delivery.)
    Diagnose {
        /// Files written by `--save-evidence` (a JSON array of stored frames each).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// The message the diagnosis engine writes for each evidence frame saved in `file`.
fn diagnose_saved(file: &Path) -> anyhow::Result<Vec<String>> {
    use convops_shared::protocol::AgentFrame;
    let text =
        std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let frames: Vec<serde_json::Value> = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a JSON array of frames: {e}", file.display()))?;
    frames
        .iter()
        .enumerate()
        .map(|(i, v)| match AgentFrame::decode(&v.to_string()) {
            Ok(AgentFrame::Evidence(f)) => {
                let d = convops_control_plane::diagnose::diagnose(&f);
                Ok(convops_control_plane::diagnose::render_text(&d, "-"))
            }
            Ok(_) => anyhow::bail!("{}: frame {i} is not evidence", file.display()),
            Err(e) => anyhow::bail!("{}: frame {i}: {e}", file.display()),
        })
        .collect()
}

/// Options of `run` and `run-all`.
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Print JSON: the runner output object (`run`) or an array of them (`run-all`).
    #[arg(long)]
    json: bool,
    /// Seconds to wait for each delivered diagnosis.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Also write the evidence frames the control plane stored to DIR/<scenario>.json.
    #[arg(long, value_name = "DIR")]
    save_evidence: Option<PathBuf>,
    /// After the diagnosis, also ask for the alarm again with a signed Slack slash command
    /// (`/convops investigate <alarm>`) and report the answer that comes back to it.
    #[arg(long)]
    investigate_from_chat: bool,
    /// Turn WhatsApp on (a local Cloud API stand-in, an on-call number linked to the workspace)
    /// and, after the diagnosis, send `investigate <alarm>` from that number as a signed Meta
    /// webhook; report the diagnosis that comes back to the number.
    #[arg(long)]
    investigate_from_whatsapp: bool,
}

impl RunArgs {
    fn options(&self) -> Options {
        Options {
            timeout: Duration::from_secs(self.timeout),
            save_evidence: self.save_evidence.clone(),
            investigate_from_chat: self.investigate_from_chat,
            investigate_from_whatsapp: self.investigate_from_whatsapp,
        }
    }
}

fn scenario_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .collect();
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

fn print_human(o: &Outcome) {
    println!("scenario:  {}", o.scenario);
    if let Some(e) = &o.error {
        println!("error:     {e}");
        return;
    }
    println!(
        "verdict:   {} (expected {}, got {})",
        if o.correct { "correct" } else { "wrong" },
        o.expected_root_cause,
        o.root_cause.as_deref().unwrap_or("no ranked cause")
    );
    for h in &o.hypotheses {
        println!("           {} {:.2}", h.category, h.confidence);
    }
    println!(
        "must cite: {} found, missing {:?}",
        o.must_cite_found.len(),
        o.must_cite_missing
    );
    println!(
        "bytes:     {} read from AWS, {} sent on the wire, compressed ({:.2}%)",
        o.raw_bytes,
        o.evidence_bytes,
        if o.raw_bytes > 0 {
            100.0 * o.evidence_bytes as f64 / o.raw_bytes as f64
        } else {
            0.0
        }
    );
    for (name, s) in &o.sources {
        println!(
            "           {name}: {}{} ({} calls, {} raw, {} of JSON in the frame)",
            s.status,
            s.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default(),
            s.api_calls,
            s.raw_bytes,
            s.sent_bytes
        );
    }
    println!("detect→deliver: {} ms", o.detect_to_deliver_ms);
    if o.leaks.is_empty() {
        println!("leaks:     none");
    } else {
        for l in &o.leaks {
            println!("LEAK:      {:?} found in {}", l.secret, l.places.join(", "));
        }
    }
    println!(
        "--- delivered message ---\n{}\n-------------------------",
        o.message
    );
}

fn print_table(outcomes: &[Outcome]) {
    println!(
        "{:<44} {:<19} {:<19} {:>5} {:>5} {:>10} {:>8} {:>7}",
        "scenario", "expected", "got", "cite", "leaks", "raw", "sent", "d2d ms"
    );
    for o in outcomes {
        if let Some(e) = &o.error {
            let first = e.lines().next().unwrap_or_default();
            println!("{:<44} ERROR {first}", o.scenario);
            continue;
        }
        println!(
            "{:<44} {:<19} {:<19} {:>2}/{:<2} {:>5} {:>10} {:>8} {:>7}",
            o.scenario,
            o.expected_root_cause,
            format!(
                "{}{}",
                if o.correct { "✓ " } else { "✗ " },
                o.root_cause.as_deref().unwrap_or("-")
            ),
            o.must_cite_found.len(),
            o.must_cite_found.len() + o.must_cite_missing.len(),
            o.leaked_secrets.len(),
            o.raw_bytes,
            o.evidence_bytes,
            o.detect_to_deliver_ms
        );
    }
    let s = runner::summarise(outcomes);
    println!();
    println!("{}", runner::confusion_table(outcomes));
    println!(
        "scenarios:            {} ({} could not be run)",
        s.scenarios, s.errors
    );
    println!("top-1 accuracy:       {:.0}%", 100.0 * s.top1_accuracy);
    println!("must-cite rate:       {:.0}%", 100.0 * s.must_cite_rate);
    println!("leaked secrets:       {}", s.leaked_secrets);
    match s.median_evidence_raw_ratio {
        Some(r) => println!("median sent/raw:      {:.2}%", 100.0 * r),
        None => println!("median sent/raw:      n/a"),
    }
    println!(
        "detect→deliver:       p50 {} ms, p95 {} ms",
        s.detect_to_deliver_p50_ms
            .map(|v| v.to_string())
            .unwrap_or("n/a".into()),
        s.detect_to_deliver_p95_ms
            .map(|v| v.to_string())
            .unwrap_or("n/a".into())
    );
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = async {
        match cli.command {
            Cmd::Run { file, args } => {
                let json = args.json;
                // A file that is not a valid scenario is a usage error: say why, precisely.
                if let Err(e) = convops_tests::scenario::load(&file) {
                    if json {
                        let o = Outcome {
                            file: file.display().to_string(),
                            error: Some(e.to_string()),
                            ..Outcome::default()
                        };
                        println!("{}", serde_json::to_string_pretty(&o)?);
                    }
                    eprintln!("convops-scenario: {e}");
                    return Ok(ExitCode::from(2));
                }
                let emu = Emulator::start().await?;
                let o = runner::run_file(&emu, &file, &args.options()).await;
                if json {
                    println!("{}", serde_json::to_string_pretty(&o)?);
                } else {
                    print_human(&o);
                }
                Ok(if o.error.is_some() {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                })
            }
            Cmd::Diagnose { files } => {
                for f in &files {
                    for message in diagnose_saved(f)? {
                        println!("=== {}\n{message}", f.display());
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            Cmd::RunAll { dir, args } => {
                let json = args.json;
                let files = scenario_files(&dir)?;
                anyhow::ensure!(
                    !files.is_empty(),
                    "{}: no *.json scenario files",
                    dir.display()
                );
                let emu = Emulator::start().await?;
                let opts = args.options();
                let mut outcomes = Vec::new();
                for f in &files {
                    outcomes.push(runner::run_file(&emu, f, &opts).await);
                }
                if json {
                    println!("{}", serde_json::to_string_pretty(&outcomes)?);
                } else {
                    print_table(&outcomes);
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    }
    .await;
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("convops-scenario: {e:#}");
            ExitCode::FAILURE
        }
    }
}
