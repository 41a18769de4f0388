//! Logs: the log groups that belong to the resources involved (named after them, as in
//! `/ecs/<service>`), read over the window with `FilterLogEvents`, error-like lines kept and
//! grouped into templates with counts, first/last seen and examples.

use std::collections::HashMap;
use std::sync::LazyLock;

use convops_shared::evidence::{LogEvidence, LogTemplate};
use convops_shared::templates::{ClusterId, Miner, HEADER_SAMPLE};
use regex::Regex;

use crate::aws::{Action, CallError, Clients};

/// Log groups listed at most.
const MAX_GROUPS_LISTED: usize = 1000;
/// Events read per group at most.
const MAX_EVENTS_PER_GROUP: usize = 20_000;
const MAX_TEMPLATES: usize = 8;
const MAX_EXAMPLES: usize = 2;
const MAX_EXAMPLE_CHARS: usize = 400;

/// Lines that look like errors: the default of `logs.error_pattern`. Words also count after an
/// underscore, as in `SERVICE_TASK_PLACEMENT_FAILURE`.
pub const DEFAULT_ERROR_PATTERN: &str = r#"(?i)(?:\b|_)(?:error|errors|exception|fatal|panic|critical|crit|fail(?:ed|ure|s)?|timed?[ _-]?out|timeout|refused|denied|unauthori[sz]ed|forbidden|killed|oom|outofmemory|traceback|unavailable|throttl\w*|exceeded|unreachable|reset by peer)|(?:\b(?:status|code|http)[=: ]+|HTTP/\d(?:\.\d)?"?\s+|"\s)5\d\d\b"#;

static ERRORISH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(DEFAULT_ERROR_PATTERN).unwrap_or_else(|e| panic!("{e}")));

/// DynamoDB tables named in log lines (`table=NAME`, `"TableName": "NAME"`, table ARNs): their
/// metrics are read too, since nothing else in the read-only list names them.
static TABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(?:\btable(?:_?name)?["']?\s*[=:]\s*["']?|:table/)([A-Za-z0-9_.-]{3,255})"#)
        .unwrap_or_else(|e| panic!("{e}"))
});

/// Tables mentioned in `line`.
pub fn tables_in(line: &str) -> impl Iterator<Item = &str> {
    TABLE
        .captures_iter(line)
        .filter_map(|c| c.get(1).map(|m| m.as_str().trim_end_matches('.')))
}

/// Log groups where AWS services deliver their own events (EventBridge rules writing to
/// CloudWatch Logs, by convention under `/aws/events/`): ECS placement failures, task state
/// changes. They hold many resources' events, so only lines naming a resource involved are kept.
pub const SERVICE_EVENT_GROUP_PREFIX: &str = "/aws/events/";

/// Which lines of a group to keep.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// The group belongs to a resource involved: every error-like line.
    All,
    /// A shared group: error-like lines that mention one of these names.
    Mentioning(Vec<String>),
}

/// Error lines `(timestamp, message)` as templates with counts, first/last seen and examples;
/// the header is learned from `sample` (lines of the same group).
pub fn mine<'a>(
    sample: impl IntoIterator<Item = &'a str>,
    lines: &[(i64, String)],
) -> Vec<LogTemplate> {
    let mut miner = Miner::learning(sample);
    let ids: Vec<_> = lines.iter().map(|(_, msg)| miner.add(msg)).collect();
    let mut templates: HashMap<ClusterId, LogTemplate> = HashMap::new();
    for (id, (ts, msg)) in ids.into_iter().zip(lines) {
        let id = miner.resolve(id);
        let t = templates.entry(id).or_insert_with(|| LogTemplate {
            template: miner.template(id).unwrap_or_default(),
            count: 0,
            first_seen: *ts,
            last_seen: *ts,
            examples: Vec::new(),
        });
        t.count += 1;
        t.first_seen = t.first_seen.min(*ts);
        t.last_seen = t.last_seen.max(*ts);
        if t.examples.len() < MAX_EXAMPLES && !t.examples.iter().any(|x| x == msg) {
            t.examples
                .push(msg.chars().take(MAX_EXAMPLE_CHARS).collect());
        }
    }
    templates.into_values().collect()
}

pub fn is_errorish(line: &str) -> bool {
    ERRORISH.is_match(line)
}

/// The groups to read for the resources `names`, in priority order: the groups configured for
/// them in `mapping`, groups whose name mentions one of them (case-insensitive, as `/ecs/NAME`),
/// then the AWS service event groups, scoped to lines that mention them.
pub async fn relevant_groups(
    clients: &Clients,
    names: &[String],
    mapping: &std::collections::BTreeMap<String, Vec<String>>,
) -> Result<Vec<(String, Scope)>, CallError> {
    let mut groups = Vec::new();
    let mut token = None;
    loop {
        let req = clients.logs.describe_log_groups().set_next_token(token);
        let out = clients
            .call(Action::LogsDescribeLogGroups, || req.clone().send())
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
    Ok(choose_groups(groups, names, mapping))
}

/// The pure part of [`relevant_groups`].
pub fn choose_groups(
    existing: Vec<String>,
    names: &[String],
    mapping: &std::collections::BTreeMap<String, Vec<String>>,
) -> Vec<(String, Scope)> {
    let lower: Vec<String> = names
        .iter()
        .filter(|n| n.len() >= 3)
        .map(|n| n.to_lowercase())
        .collect();
    let mut out: Vec<(String, Scope)> = Vec::new();
    for n in names {
        for g in mapping.get(n).into_iter().flatten() {
            out.push((g.clone(), Scope::All));
        }
    }
    let mut events = Vec::new();
    for g in existing {
        if out.iter().any(|(o, _)| *o == g) {
            continue;
        }
        if g.starts_with(SERVICE_EVENT_GROUP_PREFIX) {
            events.push((g, Scope::Mentioning(lower.clone())));
            continue;
        }
        let gl = g.to_lowercase();
        if lower.iter().any(|n| gl.contains(n.as_str())) {
            out.push((g, Scope::All));
        }
    }
    out.extend(events);
    out
}

/// What reading one group produced.
#[derive(Debug)]
pub struct GroupRead {
    pub evidence: LogEvidence,
    /// The read stopped at the per-group cap.
    pub truncated: bool,
    /// DynamoDB tables named in the lines read, with how many lines named them.
    pub tables: HashMap<String, u32>,
}

/// Error-like lines of `group` between `start_ms` and `end_ms`, as templates. Returns the
/// evidence and whether the read was cut at the per-group cap.
pub async fn group_errors(
    clients: &Clients,
    group: &str,
    scope: &Scope,
    pattern: &Regex,
    (start_ms, end_ms): (i64, i64),
    id: String,
) -> Result<GroupRead, CallError> {
    let mut read = 0u64;
    let mut matched = 0u64;
    // Error lines are kept (the read is capped) and mined once the read ends, with the header
    // learned from the first lines of the group, whether errors or not.
    let mut errors: Vec<(i64, String)> = Vec::new();
    let mut sample: Vec<String> = Vec::new();
    let mut token = None;
    let mut truncated = false;
    let mut tables: HashMap<String, u32> = HashMap::new();
    // A group none of whose streams took events in the window is not searched: FilterLogEvents
    // is the scarcest quota (5/s), and most groups of an account are idle at any moment.
    if recently_written(clients, group, start_ms).await? == Some(false) {
        return Ok(GroupRead {
            evidence: LogEvidence {
                id,
                group: group.to_owned(),
                lines_read: 0,
                lines_matched: 0,
                templates: Vec::new(),
                context: Vec::new(),
            },
            truncated: false,
            tables,
        });
    }
    // The first error line: where it is, for the context around it.
    let mut first_error: Option<(i64, String)> = None;
    loop {
        let req = clients
            .logs
            .filter_log_events()
            .log_group_name(group)
            .start_time(start_ms)
            .end_time(end_ms)
            .set_next_token(token);
        let out = clients
            .call(Action::LogsFilterLogEvents, || req.clone().send())
            .await?;
        for e in out.events() {
            let msg = e.message().unwrap_or_default();
            if let Scope::Mentioning(names) = scope {
                let lower = msg.to_lowercase();
                if !names.iter().any(|n| lower.contains(n.as_str())) {
                    continue;
                }
            }
            read += 1;
            if sample.len() < HEADER_SAMPLE {
                sample.push(msg.to_owned());
            }
            for t in tables_in(msg) {
                *tables.entry(t.to_owned()).or_default() += 1;
            }
            if !pattern.is_match(msg) {
                continue;
            }
            matched += 1;
            let ts = e.timestamp().unwrap_or(0);
            if let Some(stream) = e.log_stream_name() {
                if first_error.as_ref().is_none_or(|(t, _)| ts < *t) {
                    first_error = Some((ts, stream.to_owned()));
                }
            }
            errors.push((ts, msg.to_owned()));
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
    let mut templates = mine(sample.iter().map(String::as_str), &errors);
    templates.sort_by(|a, b| b.count.cmp(&a.count).then(a.first_seen.cmp(&b.first_seen)));
    templates.truncate(MAX_TEMPLATES);
    let context = match &first_error {
        Some((ts, stream)) => context_before(clients, group, stream, *ts).await?,
        None => Vec::new(),
    };
    Ok(GroupRead {
        evidence: LogEvidence {
            id,
            group: group.to_owned(),
            lines_read: read,
            lines_matched: matched,
            templates,
            context,
        },
        truncated,
        tables,
    })
}

/// Whether a stream of `group` ingested events since `since_ms` (`DescribeLogStreams`, most
/// recent first); `None` when the group has more streams than one page shows, so that it cannot
/// be ruled out.
async fn recently_written(
    clients: &Clients,
    group: &str,
    since_ms: i64,
) -> Result<Option<bool>, CallError> {
    let req = clients
        .logs
        .describe_log_streams()
        .log_group_name(group)
        .order_by(aws_sdk_cloudwatchlogs::types::OrderBy::LastEventTime)
        .descending(true)
        .limit(50);
    let out = clients
        .call(Action::LogsDescribeLogStreams, || req.clone().send())
        .await?;
    if out.next_token().is_some_and(|t| !t.is_empty()) {
        return Ok(None);
    }
    Ok(Some(out.log_streams().iter().any(|s| {
        s.last_ingestion_time()
            .or(s.last_event_timestamp())
            .is_some_and(|t| t >= since_ms)
    })))
}

/// Lines of context read before the first error.
const CONTEXT_LINES: i32 = 8;
/// How far back the context may reach.
const CONTEXT_WINDOW_MS: i64 = 5 * 60_000;

/// The lines of `stream` just before (and including) the one at `ts`, oldest first, each as
/// `HH:MM:SS line`, with `GetLogEvents`.
async fn context_before(
    clients: &Clients,
    group: &str,
    stream: &str,
    ts: i64,
) -> Result<Vec<String>, CallError> {
    let req = clients
        .logs
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .start_time(ts - CONTEXT_WINDOW_MS)
        .end_time(ts + 1)
        .start_from_head(false)
        .limit(CONTEXT_LINES);
    let out = clients
        .call(Action::LogsGetLogEvents, || req.clone().send())
        .await?;
    let mut lines: Vec<(i64, String)> = out
        .events()
        .iter()
        .filter_map(|e| Some((e.timestamp()?, e.message()?.to_owned())))
        .filter(|(t, _)| *t <= ts)
        .collect();
    lines.sort_by_key(|l| l.0);
    Ok(lines
        .into_iter()
        .map(|(t, m)| {
            let clock = time_of_day(t);
            format!(
                "{clock} {}",
                m.chars().take(MAX_EXAMPLE_CHARS).collect::<String>()
            )
        })
        .collect())
}

/// `HH:MM:SS` (UTC) of an epoch-ms timestamp.
fn time_of_day(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_become_templates_without_their_header() {
        let lines: Vec<(i64, String)> = [
            "2026-11-22T10:00:01.123Z ERROR [pool-1] Db: request 7f3a9c2e-1b2c-4d5e-8f90-0a1b2c3d4e5f failed after 1234ms on 10.0.0.1",
            "2026-11-22T10:00:02.456Z ERROR [pool-2] Db: request 0a1b2c3d-1b2c-4d5e-8f90-7f3a9c2e4e5f failed after 99ms on 10.0.0.2",
            "2026-11-22T10:00:03.001Z ERROR [pool-1] Http: GET /orders/17 500",
        ]
        .iter()
        .enumerate()
        .map(|(i, l)| (i as i64 * 1000, l.to_string()))
        .collect();
        let mut t = mine(lines.iter().map(|l| l.1.as_str()), &lines);
        t.sort_by_key(|x| std::cmp::Reverse(x.count));
        assert_eq!(t[0].template, "request <*> failed after <*> on <*>");
        assert_eq!((t[0].count, t[0].first_seen, t[0].last_seen), (2, 0, 1000));
        assert_eq!(t[0].examples.len(), 2);
        assert_eq!(t[1].template, "GET <*> <*>");
        assert!(is_errorish("java.lang.OutOfMemoryError: Java heap space"));
        assert!(is_errorish("upstream timed out after 3000ms"));
        assert!(!is_errorish("GET /healthz 200 ok"));
        assert!(
            !is_errorish("[http-nio-8080-exec-559] processed 516 abandoned carts"),
            "numbers are not statuses"
        );
        assert!(is_errorish(r#"10.0.0.1 - - [x] "GET / HTTP/1.1" 502 0"#));
        assert!(is_errorish("request done status=503 in 12ms"));
        assert!(is_errorish(
            r#"{"eventName":"SERVICE_TASK_PLACEMENT_FAILURE"}"#
        ));
    }

    #[test]
    fn time_of_day_is_utc_clock_time() {
        assert_eq!(time_of_day(0), "00:00:00");
        assert_eq!(time_of_day(1_800_000_123_456), "08:02:03");
        assert_eq!(time_of_day(86_399_999), "23:59:59");
    }

    #[test]
    fn table_names_are_found_in_common_spellings() {
        let found = |l: &str| tables_in(l).map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            found("slow put_item 2.31s table=user-sessions"),
            ["user-sessions"]
        );
        assert_eq!(
            found(r#"{"TableName": "orders_v2", "op": "Query"}"#),
            ["orders_v2"]
        );
        assert_eq!(
            found("arn:aws:dynamodb:eu-west-1:123456789012:table/carts/index/by-user"),
            ["carts"]
        );
        assert!(found("the level of throughput for the table was exceeded").is_empty());
    }

    #[test]
    fn groups_are_chosen_mapped_first_then_by_name_then_service_events() {
        let existing = vec![
            "/aws/events/ecs".to_owned(),
            "/ecs/api".to_owned(),
            "/ecs/other".to_owned(),
            "/custom/api-audit".to_owned(),
        ];
        let mapping = std::collections::BTreeMap::from([(
            "api".to_owned(),
            vec!["/legacy/frontdoor".to_owned()],
        )]);
        let chosen = choose_groups(existing, &["api".to_owned()], &mapping);
        let names: Vec<&str> = chosen.iter().map(|(g, _)| g.as_str()).collect();
        assert_eq!(
            names,
            [
                "/legacy/frontdoor",
                "/ecs/api",
                "/custom/api-audit",
                "/aws/events/ecs"
            ]
        );
        assert_eq!(chosen[3].1, Scope::Mentioning(vec!["api".to_owned()]));
    }
}
