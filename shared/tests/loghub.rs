//! Template mining accuracy on the Loghub-2k systems in `../shared/data/loghub` (corrected
//! ground truth), on raw lines with the one default configuration: Grouping Accuracy (a line
//! counts when its predicted group is exactly its true group) and Parsing Accuracy (a line counts
//! when its template equals the true one), per system and on average.

mod common;

use std::path::PathBuf;

use common::{accuracy, Score};

/// `../shared/data/loghub` beside the repository; `None` (saying which path is missing) on a
/// clone without `../shared`, where the accuracy tests skip.
fn loghub() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/loghub");
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "skipped: {} is not there (../shared is absent)",
            p.display()
        );
        None
    }
}

fn score(root: &std::path::Path, system: &str) -> Score {
    let dir = root.join(system);
    let raw = std::fs::read_to_string(dir.join(format!("{system}_2k.log")))
        .unwrap_or_else(|e| panic!("{system}: {e}"));
    let lines: Vec<&str> = raw.lines().collect();
    let mut reader =
        csv::Reader::from_path(dir.join(format!("{system}_2k.log_structured_corrected.csv")))
            .unwrap_or_else(|e| panic!("{system}: {e}"));
    let headers = reader.headers().expect("csv header").clone();
    let col = headers
        .iter()
        .position(|h| h == "EventTemplate")
        .expect("EventTemplate column");
    let truth: Vec<String> = reader
        .records()
        .map(|r| r.expect("csv record")[col].to_owned())
        .collect();
    assert_eq!(truth.len(), lines.len(), "{system}: one truth row per line");
    let debug = std::env::var_os("LOGHUB_DEBUG").is_some_and(|v| v == system);
    accuracy(&lines, &truth, debug)
}

#[test]
fn loghub_grouping_and_parsing_accuracy() {
    let Some(root) = loghub() else {
        return;
    };
    let mut systems: Vec<String> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    systems.sort();
    assert!(
        systems.len() >= 12,
        "expected the 12 Loghub systems, found {systems:?}"
    );
    let (mut ga, mut pa) = (0.0, 0.0);
    eprintln!("| system | GA | PA | templates (truth) |");
    for s in &systems {
        let r = score(&root, s);
        eprintln!(
            "| {s} | {:.3} | {:.3} | {} ({}) |",
            r.ga, r.pa, r.templates, r.truth
        );
        ga += r.ga;
        pa += r.pa;
    }
    let n = systems.len() as f64;
    eprintln!("| **average** | **{:.3}** | **{:.3}** | |", ga / n, pa / n);
    // The targets of issue #20: no regression from GA 0.94 / PA 0.84.
    assert!(
        ga / n >= 0.93,
        "average grouping accuracy {:.3} < 0.93",
        ga / n
    );
    assert!(
        pa / n >= 0.84,
        "average parsing accuracy {:.3} < 0.84",
        pa / n
    );
}
