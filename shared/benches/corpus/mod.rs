//! The benchmark corpus shared by the shared crate's benches: lines of the Loghub-2k logs in
//! `../shared/data/loghub`, drawn deterministically with every digit run re-randomised (as ids,
//! counters and timestamps vary in real logs).

use std::path::{Path, PathBuf};

pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

pub fn rerandomise(line: &str, rng: &mut SplitMix) -> String {
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

/// `../shared/data`.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
}

/// Every raw line of every Loghub system, system by system.
pub fn loghub_lines() -> Vec<Vec<String>> {
    let mut systems: Vec<_> = std::fs::read_dir(data_dir().join("loghub"))
        .expect("../shared/data/loghub")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    systems.sort();
    systems
        .into_iter()
        .filter_map(|dir| {
            let name = dir.file_name()?.to_string_lossy().into_owned();
            let text = std::fs::read_to_string(dir.join(format!("{name}_2k.log"))).ok()?;
            Some(text.lines().map(str::to_owned).collect())
        })
        .collect()
}
