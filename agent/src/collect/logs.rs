//! Logs: the log groups that belong to the resources involved (named after them, as in
//! `/ecs/<service>`), read over the window with `FilterLogEvents`, error-like lines kept and
//! grouped into templates with counts, first/last seen and examples.

use std::collections::HashMap;
use std::sync::LazyLock;

use convops_shared::evidence::{LogEvidence, LogTemplate};
use regex::Regex;

use crate::aws::{call, Action, CallError, Clients};

/// Log groups listed at most.
const MAX_GROUPS_LISTED: usize = 1000;
/// Events read per group at most.
const MAX_EVENTS_PER_GROUP: usize = 20_000;
const MAX_TEMPLATES: usize = 8;
const MAX_EXAMPLES: usize = 2;
const MAX_EXAMPLE_CHARS: usize = 400;

/// Lines that look like errors (default; the log pattern is not yet configurable).
static ERRORISH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:error|errors|exception|fatal|panic|critical|crit|fail(?:ed|ure|s)?|timed?[ _-]?out|timeout|refused|denied|unauthori[sz]ed|forbidden|killed|oom|outofmemory|traceback|unavailable|throttl\w*|exceeded|unreachable|reset by peer)|(?:\b(?:status|code|http)[=: ]+|HTTP/\d(?:\.\d)?"?\s+|"\s)5\d\d\b"#)
        .unwrap_or_else(|e| panic!("{e}"))
});

/// Variable parts replaced by `<*>` before grouping.
static VARIABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        \[[a-z0-9_]+:[0-9a-f]{4}\]                           # redaction masks
      | [0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}
      | \b\d{4}-\d{2}-\d{2}[T\ ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?
      | \b0x[0-9a-fA-F]+\b
      | \b[0-9a-fA-F]*\d[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b  # hex with digits and letters
      | \b[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\d[0-9a-fA-F]*\b
      | \d+(?:\.\d+)*
    ",
    )
    .unwrap_or_else(|e| panic!("{e}"))
});

/// The template of a line: variables masked, whitespace folded.
pub fn template_of(line: &str) -> String {
    let masked = VARIABLE.replace_all(line, "<*>");
    masked.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn is_errorish(line: &str) -> bool {
    ERRORISH.is_match(line)
}

/// Groups whose name mentions one of `names` (case-insensitive, as a path segment or part).
pub async fn relevant_groups(
    clients: &Clients,
    names: &[String],
) -> Result<Vec<String>, CallError> {
    let mut groups = Vec::new();
    let mut token = None;
    loop {
        let out = call(
            Action::LogsDescribeLogGroups,
            clients
                .logs
                .describe_log_groups()
                .set_next_token(token)
                .send(),
        )
        .await?;
        groups.extend(
            out.log_groups()
                .iter()
                .filter_map(|g| g.log_group_name().map(str::to_owned)),
        );
        token = out.next_token().map(str::to_owned);
        if token.is_none() || groups.len() >= MAX_GROUPS_LISTED {
            break;
        }
    }
    let lower: Vec<String> = names
        .iter()
        .filter(|n| n.len() >= 3)
        .map(|n| n.to_lowercase())
        .collect();
    Ok(groups
        .into_iter()
        .filter(|g| {
            let gl = g.to_lowercase();
            lower.iter().any(|n| gl.contains(n.as_str()))
        })
        .collect())
}

/// Error-like lines of `group` between `start_ms` and `end_ms`, as templates. Returns the
/// evidence and whether the read was cut at the per-group cap.
pub async fn group_errors(
    clients: &Clients,
    group: &str,
    start_ms: i64,
    end_ms: i64,
    id: String,
) -> Result<(LogEvidence, bool), CallError> {
    let mut read = 0u64;
    let mut matched = 0u64;
    let mut templates: HashMap<String, LogTemplate> = HashMap::new();
    let mut token = None;
    let mut truncated = false;
    loop {
        let out = call(
            Action::LogsFilterLogEvents,
            clients
                .logs
                .filter_log_events()
                .log_group_name(group)
                .start_time(start_ms)
                .end_time(end_ms)
                .set_next_token(token)
                .send(),
        )
        .await?;
        for e in out.events() {
            read += 1;
            let msg = e.message().unwrap_or_default();
            if !is_errorish(msg) {
                continue;
            }
            matched += 1;
            let ts = e.timestamp().unwrap_or(0);
            let t = templates
                .entry(template_of(msg))
                .or_insert_with_key(|k| LogTemplate {
                    template: k.clone(),
                    count: 0,
                    first_seen: ts,
                    last_seen: ts,
                    examples: Vec::new(),
                });
            t.count += 1;
            t.first_seen = t.first_seen.min(ts);
            t.last_seen = t.last_seen.max(ts);
            if t.examples.len() < MAX_EXAMPLES && !t.examples.iter().any(|x| x == msg) {
                t.examples
                    .push(msg.chars().take(MAX_EXAMPLE_CHARS).collect());
            }
        }
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
        if read as usize >= MAX_EVENTS_PER_GROUP {
            truncated = true;
            break;
        }
    }
    let mut templates: Vec<LogTemplate> = templates.into_values().collect();
    templates.sort_by(|a, b| b.count.cmp(&a.count).then(a.first_seen.cmp(&b.first_seen)));
    templates.truncate(MAX_TEMPLATES);
    Ok((
        LogEvidence {
            id,
            group: group.to_owned(),
            lines_read: read,
            lines_matched: matched,
            templates,
        },
        truncated,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_mask_variables() {
        assert_eq!(
            template_of("2026-11-22T10:00:01.123Z ERROR request 7f3a9c2e-1b2c-4d5e-8f90-0a1b2c3d4e5f took 1234ms on 10.0.0.1"),
            "<*> ERROR request <*> took <*>ms on <*>"
        );
        assert_eq!(
            template_of("GET /orders/17 500"),
            template_of("GET /orders/4242 500")
        );
        assert!(is_errorish("java.lang.OutOfMemoryError: Java heap space"));
        assert!(is_errorish("upstream timed out after 3000ms"));
        assert!(!is_errorish("GET /healthz 200 ok"));
        assert!(
            !is_errorish("[http-nio-8080-exec-559] processed 516 abandoned carts"),
            "numbers are not statuses"
        );
        assert!(is_errorish(r#"10.0.0.1 - - [x] "GET / HTTP/1.1" 502 0"#));
        assert!(is_errorish("request done status=503 in 12ms"));
    }
}
