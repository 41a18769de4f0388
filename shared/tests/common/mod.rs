//! Scoring of mined templates against known ones, shared by the accuracy tests.

use std::collections::HashMap;

use convops_shared::templates::{Miner, HEADER_SAMPLE};

pub struct Score {
    pub ga: f64,
    pub pa: f64,
    pub templates: usize,
    pub truth: usize,
}

/// Mines `lines` with the default configuration and scores the templates against `truth`.
pub fn accuracy(lines: &[&str], truth: &[String], debug: bool) -> Score {
    let mut miner = Miner::learning(lines.iter().take(HEADER_SAMPLE).copied());
    let ids: Vec<u32> = lines.iter().map(|l| miner.add(l)).collect();
    let ids: Vec<u32> = ids.iter().map(|&i| miner.resolve(i)).collect();
    let templates: Vec<String> = ids
        .iter()
        .map(|&i| miner.template(i).unwrap_or_default())
        .collect();

    // Grouping accuracy: a line is right when its predicted group is exactly its true group.
    let mut true_groups: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut pred_groups: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, t) in truth.iter().enumerate() {
        true_groups.entry(t).or_default().push(i);
        pred_groups.entry(ids[i]).or_default().push(i);
    }
    let grouped = (0..lines.len())
        .filter(|&i| pred_groups[&ids[i]] == true_groups[truth[i].as_str()])
        .count();
    let parsed = (0..lines.len())
        .filter(|&i| templates[i] == truth[i])
        .count();
    if debug {
        let mut shown = std::collections::HashSet::new();
        for i in 0..lines.len() {
            let wrong =
                pred_groups[&ids[i]] != true_groups[truth[i].as_str()] || templates[i] != truth[i];
            if wrong && shown.insert((truth[i].clone(), templates[i].clone())) {
                eprintln!(
                    "truth {:?}\n mine {:?} ({} / {})\n line {:?}",
                    truth[i],
                    templates[i],
                    pred_groups[&ids[i]].len(),
                    true_groups[truth[i].as_str()].len(),
                    lines[i]
                );
            }
        }
    }
    Score {
        ga: grouped as f64 / lines.len() as f64,
        pa: parsed as f64 / lines.len() as f64,
        templates: pred_groups.len(),
        truth: true_groups.len(),
    }
}
