//! Change records: the log lines that say something was changed *on a host*, where CloudTrail
//! cannot see it.
//!
//! CloudTrail records the AWS API calls that change an account. Much of what breaks a host never
//! goes through one: a deployment agent restarting the application, a database reloading its
//! configuration, a scheduled job starting at the turn of the month. The software that does these
//! things writes one line when it does, in a fixed text; this table lists those texts, one reviewed
//! row per text, with where it is documented.
//!
//! The agent keeps the lines that match a row (they are rarely error-like, so the error pattern
//! would not keep them) as the log group's change records; the diagnosis cites the ones written on
//! the failing host before the onset. A row never names an operator's choice (a job, a unit, a
//! parameter): it anchors on the words the software itself writes.

use regex::{Regex, RegexSet};
use std::sync::LazyLock;

/// What kind of change a record shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// A new revision reached the host (a deployment agent's lifecycle events).
    Deploy,
    /// A running server loaded new configuration.
    Config,
    /// A scheduled job started.
    Job,
}

impl ChangeKind {
    /// How the message introduces a record of this kind.
    pub fn describe(self) -> &'static str {
        match self {
            ChangeKind::Deploy => "rolled out on the host",
            ChangeKind::Config => "configuration changed on the host",
            ChangeKind::Job => "job started on the host",
        }
    }
}

/// One reviewed change-record text.
pub struct Record {
    /// Stable id: "<software>.<what>".
    pub id: &'static str,
    pub kind: ChangeKind,
    /// A Rust `regex` pattern matched against one line.
    pub pattern: &'static str,
    /// Where the text is documented (the page or the source file that writes it).
    pub source: &'static str,
    /// One line as the software writes it.
    pub example: &'static str,
}

/// The table. Order matters only for which row a line is reported under.
pub static RECORDS: &[Record] = &[
    Record {
        id: "codedeploy.deployment",
        kind: ChangeKind::Deploy,
        // A CodeDeploy deployment id (`d-` and nine upper-case letters or digits) written next to
        // the word deployment, or in the agent's deployment-root path: the agent's log names the
        // deployment in each lifecycle event it runs.
        pattern: r"(?i:\bdeployment\b)[^\n]{0,40}?\bd-[A-Z0-9]{9}\b|/deployment-root/[^/\s]+/d-[A-Z0-9]{9}/",
        source: "https://docs.aws.amazon.com/codedeploy/latest/userguide/deployments-view-logs.html",
        example: "INFO  [codedeploy-agent(2817)]: [InstanceAgent::Plugins::CodeDeployPlugin::HookExecutor]: Lifecycle event ApplicationStart for deployment d-A1B2C3D4E: running scripts/start.sh",
    },
    Record {
        id: "postgres.parameter_changed",
        kind: ChangeKind::Config,
        // guc-file.l, ProcessConfigFileInternal: `parameter "%s" changed to "%s"` on reload.
        pattern: r#"\bparameter "[a-z_.]+" changed to ""#,
        source: "https://github.com/postgres/postgres/blob/master/src/backend/utils/misc/guc.c",
        example: r#"2024-11-29 09:10:00 UTC [901]:LOG:  parameter "work_mem" changed to "64MB""#,
    },
    Record {
        id: "postgres.sighup_reload",
        kind: ChangeKind::Config,
        pattern: r"\breceived SIGHUP, reloading configuration files\b",
        source: "https://github.com/postgres/postgres/blob/master/src/backend/postmaster/postmaster.c",
        example: "2024-11-29 09:10:00 UTC [901]:LOG:  received SIGHUP, reloading configuration files",
    },
    Record {
        id: "nginx.reconfiguring",
        kind: ChangeKind::Config,
        // The master process on `nginx -s reload` (SIGHUP).
        pattern: r"\bsignal 1 \(SIGHUP\) received(?: from \d+)?, reconfiguring\b",
        source: "https://nginx.org/en/docs/control.html#reconfiguration",
        example: "2024/11/29 09:10:00 [notice] 1#1: signal 1 (SIGHUP) received from 4242, reconfiguring",
    },
    Record {
        id: "mysql.set_persist",
        kind: ChangeKind::Config,
        // The general or audit log of a `SET GLOBAL` / `SET PERSIST` statement.
        pattern: r"(?i)\bSET\s+(?:GLOBAL|PERSIST|PERSIST_ONLY)\s+[a-z_]+\s*=",
        source: "https://dev.mysql.com/doc/refman/8.0/en/set-variable.html",
        example: "2024-11-29T09:10:00.000000Z\t   42 Query\tSET GLOBAL max_connections = 50",
    },
    Record {
        id: "cron.cmd",
        kind: ChangeKind::Job,
        // cronie (`CROND[pid]: (user) CMD (command)`) and Debian's cron (`CRON[pid]: …`) log
        // each job they start.
        pattern: r"\bCROND?\[\d+\]: \([^)\s]+\) CMD \(",
        source: "https://github.com/cronie-crond/cronie/blob/master/src/do_command.c",
        example: "web-1 CROND[19020]: (reports) CMD (/opt/jobs/rollup.sh --full)",
    },
    Record {
        id: "systemd.timer_started",
        kind: ChangeKind::Job,
        // A job started by a systemd timer: `Starting <description>...` from the unit named by
        // the timer is indistinguishable from any other start, so only the timer's own trigger
        // line is a record.
        pattern: r"\bsystemd\[1\]: [^:\s]+\.timer: Triggering\b|\bTriggered by [^\s]+\.timer\b",
        source: "https://www.freedesktop.org/software/systemd/man/latest/systemd.timer.html",
        example: "web-1 systemd[1]: nightly-export.timer: Triggering nightly-export.service.",
    },
];

struct Compiled {
    set: RegexSet,
    each: Vec<Regex>,
}

static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    let patterns: Vec<&str> = RECORDS.iter().map(|r| r.pattern).collect();
    Compiled {
        set: RegexSet::new(&patterns).expect("change-record patterns compile"),
        each: patterns
            .iter()
            .map(|p| Regex::new(p).expect("change-record pattern compiles"))
            .collect(),
    }
});

/// The row a line is a record of, with the span of the words that matched.
pub fn classify(line: &str) -> Option<(&'static Record, (usize, usize))> {
    let c = &*COMPILED;
    let i = c.set.matches(line).into_iter().next()?;
    let m = c.each[i].find(line)?;
    Some((&RECORDS[i], (m.start(), m.end())))
}

/// Whether a line is a change record.
pub fn is_match(line: &str) -> bool {
    COMPILED.set.is_match(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_matches_its_example_and_has_a_source() {
        for r in RECORDS {
            let (row, _) = classify(r.example).unwrap_or_else(|| panic!("{} unmatched", r.id));
            assert_eq!(row.id, r.id, "example of {} classified as {}", r.id, row.id);
            assert!(r.source.starts_with("https://"), "{} has no source", r.id);
        }
    }

    #[test]
    fn ordinary_lines_are_not_records() {
        for line in [
            "web-1 systemd[1]: Started Session 12 of user ec2-user.",
            "INFO deployment of feature flags complete",
            "ERROR deployment d-short failed",
            r#"LOG:  duration: 0.412 ms  statement: SELECT 1"#,
            "cron: job rollup scheduled for 02:00",
            "2024/11/29 09:10:00 [notice] 1#1: gracefully shutting down",
        ] {
            assert!(classify(line).is_none(), "{line}");
        }
    }

    #[test]
    fn the_span_covers_the_identifying_words() {
        let line = "Lifecycle event ApplicationStart for deployment d-7XK2M9Q1A: running x.sh";
        let (r, (a, b)) = classify(line).expect("a record");
        assert_eq!(r.kind, ChangeKind::Deploy);
        assert!(line[a..b].ends_with("d-7XK2M9Q1A"));
    }
}
