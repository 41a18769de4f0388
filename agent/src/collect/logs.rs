//! Logs: the log groups that belong to the resources involved (named after them, as in
//! `/ecs/<service>`), read over the window with `FilterLogEvents`, error-like lines kept and
//! grouped into templates with counts, first/last seen and examples.

use std::collections::HashMap;
use std::sync::LazyLock;

use convops_shared::evidence::{LogEvidence, LogTemplate};
use convops_shared::names::distinctive_tokens;
use convops_shared::templates::{ClusterId, Miner, HEADER_SAMPLE};
use convops_shared::{host_changes, signatures};
use regex::Regex;

use crate::aws::{Action, CallError, Clients};

/// Log groups listed at most.
const MAX_GROUPS_LISTED: usize = 1000;
/// Events read per group at most.
const MAX_EVENTS_PER_GROUP: usize = 20_000;
const MAX_TEMPLATES: usize = 8;
const MAX_EXAMPLES: usize = 2;

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
/// CloudWatch Logs, by convention under `/aws/events/`): ECS placement failures and task state
/// changes, EC2 Spot interruption warnings and state changes, Auto Scaling launch failures, RDS
/// events, AWS Health events. They hold many resources' events, so only lines naming a resource
/// involved are kept.
pub const SERVICE_EVENT_GROUP_PREFIX: &str = "/aws/events/";

/// Which lines of a group to keep.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// The group belongs to a resource involved: every error-like line.
    All,
    /// A shared group: error-like lines that mention one of these names.
    Mentioning(Vec<String>),
    /// A group of host logs: the error-like lines of the streams named after these EC2 instances.
    /// The CloudWatch agent names a file's stream `{instance_id}` unless told otherwise, and its
    /// group after the file's path (`log_stream_name`, `log_group_name` in
    /// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Agent-Configuration-File-Details.html>),
    /// so such a group carries no resource name; its streams do.
    Streams(Vec<String>),
    /// A group named after none of the resources involved, read whole when it was written in the
    /// window (the logs of a queue's consumer, a state machine's functions, a database's
    /// clients); what is not read of these is not reported as missing.
    Any,
}

/// The resources an investigation involves, as log discovery needs them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Involved {
    /// Names that AWS puts in log group names, most important first: ECS services and task
    /// definition families (`/ecs/NAME`), Lambda functions (`/aws/lambda/NAME`), RDS instances
    /// and clusters (`/aws/rds/instance/NAME/postgresql`), API names and ids
    /// (`API-Gateway-Execution-Logs_ID/STAGE`), queues, tables, state machines, Auto Scaling
    /// groups, EC2 `Name` tags.
    pub names: Vec<String>,
    /// EC2 instances whose host logs matter (stream names of the CloudWatch agent).
    pub instance_ids: Vec<String>,
    /// Every other resource the sources found (databases, instances and their ids, services):
    /// an AWS event about any of them is kept from the shared event groups, since a failover
    /// or an interruption of something the alarm's resource depends on is how such incidents
    /// begin.
    pub known: Vec<String>,
}

/// Host-log groups probed for the instances' streams at most (one `FilterLogEvents` each).
pub const MAX_HOST_GROUPS: usize = 8;

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
            // Whole (up to a memory bound): the encoder cuts it around its decisive words
            // after redaction, so nothing is cut before it is masked.
            t.examples
                .push(msg.chars().take(crate::reduce::MAX_LINE_CHARS).collect());
        }
    }
    templates.into_values().collect()
}

pub fn is_errorish(line: &str) -> bool {
    ERRORISH.is_match(line)
}

/// Where the default error pattern first matches in `line`.
pub fn errorish_at(line: &str) -> Option<usize> {
    ERRORISH.find(line).map(|m| m.start())
}

/// The groups to read for the resources involved, in priority order: the groups configured for
/// them in `mapping`, groups whose name carries one of their names (by AWS's conventions:
/// `/ecs/NAME`, `/aws/lambda/NAME`, `/aws/rds/instance/NAME/…`, `API-Gateway-Execution-Logs_ID/…`;
/// the resource the alarm names first), the AWS service event groups scoped to lines that mention
/// them, then host-log groups probed for the instances' streams.
pub async fn relevant_groups(
    clients: &Clients,
    involved: &Involved,
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
    Ok(choose_groups(groups, involved, mapping))
}

/// Whether a group is named by an AWS service's own convention (its name says whose it is), as
/// opposed to one an operator or the CloudWatch agent named after a file.
fn aws_named(group: &str) -> bool {
    let g = group.to_ascii_lowercase();
    g.starts_with("/aws/")
        || g.starts_with("/ecs/")
        || g.starts_with("api-gateway-execution-logs_")
        || g.starts_with("rdsossmetrics")
}

/// The pure part of [`relevant_groups`].
pub fn choose_groups(
    existing: Vec<String>,
    involved: &Involved,
    mapping: &std::collections::BTreeMap<String, Vec<String>>,
) -> Vec<(String, Scope)> {
    let lower: Vec<String> = involved
        .names
        .iter()
        .filter(|n| n.len() >= 3)
        .map(|n| n.to_lowercase())
        .collect();
    let mut out: Vec<(String, Scope)> = Vec::new();
    for n in &involved.names {
        for g in mapping.get(n).into_iter().flatten() {
            if !out.iter().any(|(o, _)| o == g) {
                out.push((g.clone(), Scope::All));
            }
        }
    }
    let mut named: Vec<(usize, bool, String)> = Vec::new();
    let mut events = Vec::new();
    let mut hosts = Vec::new();
    let mut others = Vec::new();
    for g in existing {
        if out.iter().any(|(o, _)| *o == g) {
            continue;
        }
        if g.starts_with(SERVICE_EVENT_GROUP_PREFIX) {
            events.push(g);
            continue;
        }
        let gl = g.to_lowercase();
        // The most important name the group carries; a whole path segment beats a part of one.
        let hit = lower.iter().enumerate().find_map(|(i, n)| {
            let whole = gl
                .split(['/', '_'])
                .any(|seg| seg == n.as_str() || seg.split('.').next() == Some(n.as_str()));
            gl.contains(n.as_str()).then_some((i, whole))
        });
        match hit {
            Some((i, whole)) => named.push((i, !whole, g)),
            None if !aws_named(&g) => hosts.push(g),
            None => others.push(g),
        }
    }
    named.sort();
    out.extend(named.into_iter().map(|(_, _, g)| (g, Scope::All)));
    let mut mention = lower.clone();
    for n in involved.instance_ids.iter().chain(&involved.known) {
        let n = n.to_lowercase();
        if n.len() >= 3 && !mention.contains(&n) {
            mention.push(n);
        }
    }
    if !mention.is_empty() {
        out.extend(
            events
                .into_iter()
                .map(|g| (g, Scope::Mentioning(mention.clone()))),
        );
    }
    let mut rest: Vec<String> = Vec::new();
    if involved.instance_ids.is_empty() {
        rest.extend(hosts);
    } else {
        let mut hosts = hosts.into_iter();
        out.extend(
            hosts
                .by_ref()
                .take(MAX_HOST_GROUPS)
                .map(|g| (g, Scope::Streams(involved.instance_ids.clone()))),
        );
        rest.extend(hosts);
    }
    // Then every other group, whole: the logs of what the alarm's resource calls or is called by
    // are often named after neither (a state machine's functions, a queue's consumer, a
    // database's clients). Groups that share a distinctive word with a resource involved come
    // first; the caller reads only groups written in the window, up to its cap.
    rest.extend(others);
    let tokens: Vec<&str> = lower.iter().flat_map(|n| distinctive_tokens(n)).collect();
    let shared = |g: &str| {
        let gl = g.to_lowercase();
        let hit = distinctive_tokens(&gl).any(|t| tokens.contains(&t));
        hit
    };
    let (near, far): (Vec<String>, Vec<String>) = rest.into_iter().partition(|g| shared(g));
    out.extend(near.into_iter().map(|g| (g, Scope::Any)));
    out.extend(far.into_iter().map(|g| (g, Scope::Any)));
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
    before_ms: i64,
    id: String,
) -> Result<GroupRead, CallError> {
    let mut read = 0u64;
    let mut matched = 0u64;
    // Error lines are kept (the read is capped) and mined once the read ends, with the header
    // learned from the first lines of the group, whether errors or not.
    let mut errors: Vec<(i64, String)> = Vec::new();
    let mut sample: Vec<String> = Vec::new();
    // Every line read, for the templates that grew: (time, line, error-like).
    let mut all: Vec<(i64, String, bool)> = Vec::new();
    let mut token = None;
    let mut truncated = false;
    let mut tables: HashMap<String, u32> = HashMap::new();
    // A group none of whose streams took events in the window is not searched: FilterLogEvents
    // is the scarcest quota (5/s), and most groups of an account are idle at any moment. A host
    // group is read only for the instances' streams, which the read itself finds or not.
    let prefixes: Vec<Option<&str>> = match scope {
        Scope::Streams(ids) => ids.iter().take(3).map(|i| Some(i.as_str())).collect(),
        _ => vec![None],
    };
    if !matches!(scope, Scope::Streams(_))
        && recently_written(clients, group, start_ms).await? == Some(false)
    {
        return Ok(GroupRead {
            evidence: LogEvidence {
                id,
                group: group.to_owned(),
                lines_read: 0,
                lines_matched: 0,
                templates: Vec::new(),
                context: Vec::new(),
                grew: Vec::new(),
                streams: Vec::new(),
                changes: Vec::new(),
            },
            truncated: false,
            tables,
        });
    }
    // The first error line: where it is, for the context around it.
    let mut first_error: Option<(i64, String)> = None;
    // Error lines per stream; change records, with their streams.
    let mut streams: HashMap<String, u64> = HashMap::new();
    let mut record_streams: HashMap<String, u64> = HashMap::new();
    let mut records: Vec<(i64, String, String)> = Vec::new();
    let mut prefixes = prefixes.into_iter();
    let mut prefix = prefixes.next().flatten();
    loop {
        let req = clients
            .logs
            .filter_log_events()
            .log_group_name(group)
            .set_log_stream_name_prefix(prefix.map(str::to_owned))
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
            let errorish = pattern.is_match(msg) || signatures::is_match(msg);
            // A change record may also look like an error (`parameter "statement_timeout"
            // changed`, a deployment that failed): it is kept as both.
            if records.len() < MAX_RECORD_LINES && host_changes::is_match(msg) {
                let stream = e.log_stream_name().unwrap_or_default();
                *record_streams.entry(stream.to_owned()).or_default() += 1;
                records.push((
                    e.timestamp().unwrap_or(0),
                    msg.chars().take(crate::reduce::MAX_LINE_CHARS).collect(),
                    stream.to_owned(),
                ));
            }
            if errorish {
                if let Some(stream) = e.log_stream_name() {
                    if streams.len() < MAX_STREAMS_COUNTED || streams.contains_key(stream) {
                        *streams.entry(stream.to_owned()).or_default() += 1;
                    }
                }
            }
            all.push((
                e.timestamp().unwrap_or(0),
                msg.chars().take(MAX_GROWTH_LINE_CHARS).collect(),
                errorish,
            ));
            if !errorish {
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
        if read as usize >= MAX_EVENTS_PER_GROUP {
            truncated = true;
            break;
        }
        if token.is_none() {
            match prefixes.next() {
                Some(p) => prefix = p,
                None => break,
            }
        }
    }
    let mut templates = mine(sample.iter().map(String::as_str), &errors);
    rank_templates(&mut templates);
    templates.truncate(MAX_TEMPLATES);
    // A second example shows how the leading template's values vary; for the others one says
    // what they are.
    for t in templates.iter_mut().skip(1) {
        t.examples.truncate(1);
    }
    let grew = grown(sample.iter().map(String::as_str), &all);
    drop(all);
    // In a group several hosts write, a change on a host whose lines show no error is not the
    // failing host's: only the records of the streams that logged errors are kept (all of them
    // when nothing did).
    if !streams.is_empty() && streams.len() < MAX_STREAMS_COUNTED {
        records.retain(|r| streams.contains_key(&r.2));
    }
    let records: Vec<(i64, String)> = records.into_iter().map(|(t, m, _)| (t, m)).collect();
    let changes = change_records(sample.iter().map(String::as_str), &records, before_ms);
    // The streams of the error lines; of the change records when there are none.
    let streams = if streams.is_empty() {
        record_streams
    } else {
        streams
    };
    let mut streams: Vec<(String, u64)> = streams.into_iter().collect();
    streams.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let streams: Vec<String> = streams.into_iter().take(3).map(|(s, _)| s).collect();
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
            grew,
            streams,
            changes,
        },
        truncated,
        tables,
    })
}

/// Change-record lines kept per group before mining (a bound on memory: a job that runs every
/// minute writes one a minute).
const MAX_RECORD_LINES: usize = 2_000;
/// Change-record templates reported per group.
const MAX_RECORDS: usize = 4;
/// Distinct streams counted per group (a bound on memory for groups of many short streams).
const MAX_STREAMS_COUNTED: usize = 256;

/// The change records of a group as templates, at most [`MAX_RECORDS`]: a deployment's
/// lifecycle events, a configuration reload, a job that started. Those first seen before
/// `before_ms` (the alarm's transition) come first, the latest first, so that a rollback or a
/// restart after the alarm does not push out the change that preceded it. A job that recurs
/// through the window (one that runs every few minutes) is routine, not a change, and is left
/// out: three lines or more spread over more than half an hour. Deployments and reloads are kept
/// however often they came.
pub fn change_records<'a>(
    sample: impl IntoIterator<Item = &'a str>,
    records: &[(i64, String)],
    before_ms: i64,
) -> Vec<LogTemplate> {
    const ROUTINE_SPREAD_MS: i64 = 30 * 60_000;
    let job = |t: &LogTemplate| {
        let line = t.examples.first().unwrap_or(&t.template);
        host_changes::classify(line).is_some_and(|(r, _)| r.kind == host_changes::ChangeKind::Job)
    };
    let mut templates: Vec<LogTemplate> = mine(sample, records)
        .into_iter()
        .filter(|t| !job(t) || t.count < 3 || t.last_seen - t.first_seen <= ROUTINE_SPREAD_MS)
        .collect();
    templates.sort_by(|a, b| {
        (a.first_seen > before_ms)
            .cmp(&(b.first_seen > before_ms))
            .then(b.last_seen.cmp(&a.last_seen))
            .then_with(|| a.template.cmp(&b.template))
    });
    templates.truncate(MAX_RECORDS);
    for t in &mut templates {
        t.examples.truncate(1);
    }
    templates
}

/// Lines longer than this are cut for the growth count (their template is in the first part).
const MAX_GROWTH_LINE_CHARS: usize = 2048;
/// Templates that grew reported per group at most.
const MAX_GROWN: usize = 2;
/// A template grew when its rate after the change is at least this many times its rate before
/// (and it came at least `MIN_GROWN_LINES` times after).
const GROWTH_RATIO: f64 = 3.0;
const MIN_GROWN_LINES: u64 = 10;

/// The templates of a group's non-error lines whose rate rose sharply where the group's line
/// rate changed (the change point of its lines per minute, `stats::onset`): the extra load a
/// surge brings (a crawler, a campaign's path, a tenant's webhooks, a batch job), which no error
/// line names. Nothing when the group's rate did not change.
pub fn grown<'a>(
    sample: impl IntoIterator<Item = &'a str>,
    lines: &[(i64, String, bool)],
) -> Vec<convops_shared::evidence::GrownTemplate> {
    const MIN: i64 = 60_000;
    if lines.len() < 30 {
        return Vec::new();
    }
    let (t0, t1) = lines
        .iter()
        .fold((i64::MAX, i64::MIN), |(a, b), l| (a.min(l.0), b.max(l.0)));
    let bins = usize::try_from((t1 - t0) / MIN + 1).unwrap_or(0);
    if !(10..=100_000).contains(&bins) {
        return Vec::new();
    }
    let mut per_minute = vec![0.0; bins];
    for l in lines {
        per_minute[usize::try_from((l.0 - t0) / MIN).unwrap_or(0)] += 1.0;
    }
    // The last minute is cut short where the lines end: its few lines are no drop in rate.
    per_minute.pop();
    let Some(split_bin) = convops_shared::stats::onset(&per_minute) else {
        return new_templates(sample, lines, t0, t1);
    };
    let since = t0 + split_bin as i64 * MIN;
    let minutes_before = ((since - t0) as f64 / MIN as f64).max(1.0);
    let minutes_after = ((t1 - since) as f64 / MIN as f64).max(1.0);
    let mut miner = Miner::learning(sample);
    let ids: Vec<ClusterId> = lines.iter().map(|l| miner.add(&l.1)).collect();
    // Per template: lines before, after, the first line after, and whether it is error-like.
    let mut counts: HashMap<ClusterId, (u64, u64, Option<usize>, bool)> = HashMap::new();
    for (i, (id, l)) in ids.into_iter().zip(lines).enumerate() {
        let c = counts.entry(miner.resolve(id)).or_default();
        c.3 |= l.2;
        if l.0 < since {
            c.0 += 1;
        } else {
            c.1 += 1;
            c.2.get_or_insert(i);
        }
    }
    let mut out: Vec<convops_shared::evidence::GrownTemplate> = counts
        .into_iter()
        // Error-like lines are the error templates' business.
        .filter(|(_, c)| !c.3 && c.1 >= MIN_GROWN_LINES)
        .filter_map(|(id, (before, after, first, _))| {
            let ratio = (after as f64 / minutes_after) / (before.max(1) as f64 / minutes_before);
            (ratio >= GROWTH_RATIO).then(|| convops_shared::evidence::GrownTemplate {
                template: miner.template(id).unwrap_or_default(),
                example: first.map(|i| lines[i].1.clone()).unwrap_or_default(),
                before,
                after,
                since,
                ratio: (ratio * 10.0).round() / 10.0,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (b.after as f64 - b.before as f64 * minutes_after / minutes_before)
            .total_cmp(&(a.after as f64 - a.before as f64 * minutes_after / minutes_before))
            .then(a.template.cmp(&b.template))
    });
    out.truncate(MAX_GROWN);
    out
}

/// When a group's line rate did not change, what its lines say may still have: a kind of line
/// that was not there before and now comes as often as the rest (a slow-request warning replacing
/// the access lines it delays). These are the non-error templates whose first line came at least
/// [`NEW_AFTER_MS`] into the window and that came [`MIN_GROWN_LINES`] times or more from then
/// on, the most frequent first, each with its own start as `since`.
fn new_templates<'a>(
    sample: impl IntoIterator<Item = &'a str>,
    lines: &[(i64, String, bool)],
    t0: i64,
    t1: i64,
) -> Vec<convops_shared::evidence::GrownTemplate> {
    const MIN: f64 = 60_000.0;
    let mut miner = Miner::learning(sample);
    let ids: Vec<ClusterId> = lines.iter().map(|l| miner.add(&l.1)).collect();
    // Per template: lines, the earliest line (streams are read one after another, so lines are
    // not in time order), whether any is error-like.
    let mut counts: HashMap<ClusterId, (u64, usize, bool)> = HashMap::new();
    for (i, (id, l)) in ids.into_iter().zip(lines).enumerate() {
        let c = counts.entry(miner.resolve(id)).or_insert((0, i, false));
        c.0 += 1;
        if l.0 < lines[c.1].0 {
            c.1 = i;
        }
        c.2 |= l.2;
    }
    let mut out: Vec<convops_shared::evidence::GrownTemplate> = counts
        .into_iter()
        .filter(|(_, (n, first, errorish))| {
            !errorish && *n >= MIN_GROWN_LINES && lines[*first].0 >= t0 + NEW_AFTER_MS
        })
        .filter_map(|(id, (n, first, _))| {
            let since = lines[first].0;
            let minutes_before = ((since - t0) as f64 / MIN).max(1.0);
            let minutes_after = ((t1 - since) as f64 / MIN).max(1.0);
            let ratio = (n as f64 / minutes_after) * minutes_before;
            (ratio >= GROWTH_RATIO).then(|| convops_shared::evidence::GrownTemplate {
                template: miner.template(id).unwrap_or_default(),
                example: lines[first].1.clone(),
                before: 0,
                after: n,
                since,
                ratio: (ratio * 10.0).round() / 10.0,
            })
        })
        .collect();
    out.sort_by(|a, b| b.after.cmp(&a.after).then(a.template.cmp(&b.template)));
    out.truncate(MAX_GROWN);
    out
}

/// How far into the window a template's first line must come for it to be new (earlier, the
/// window's start may just have cut off its earlier lines).
const NEW_AFTER_MS: i64 = 15 * 60_000;

/// Templates in the order they are kept: those whose lines name a cause in the failure-signature
/// table first, then symptoms the table knows, then the rest; by count within each. A rare line
/// that says why (the kernel's OOM killer, once) outranks a frequent one that only says that
/// something failed, so the template cap never drops it for background noise.
pub fn rank_templates(templates: &mut [LogTemplate]) {
    let rank = |t: &LogTemplate| {
        let line = t
            .examples
            .first()
            .map(String::as_str)
            .unwrap_or(&t.template);
        match signatures::classify(line) {
            Some((sig, _)) if sig.role == signatures::Role::Cause => 0,
            Some(_) => 1,
            None => 2,
        }
    };
    // The rank classifies a line: once per template, not once per comparison.
    templates.sort_by_cached_key(|t| (rank(t), std::cmp::Reverse(t.count), t.first_seen));
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
                m.chars()
                    .take(crate::reduce::MAX_LINE_CHARS)
                    .collect::<String>()
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
        let involved = Involved {
            names: vec!["api".to_owned()],
            ..Default::default()
        };
        let chosen = choose_groups(existing, &involved, &mapping);
        let names: Vec<&str> = chosen.iter().map(|(g, _)| g.as_str()).collect();
        assert_eq!(
            names,
            [
                "/legacy/frontdoor",
                "/ecs/api",
                "/custom/api-audit",
                "/aws/events/ecs",
                "/ecs/other"
            ]
        );
        assert_eq!(chosen[3].1, Scope::Mentioning(vec!["api".to_owned()]));
    }

    #[test]
    fn groups_follow_aws_naming_and_host_logs_are_read_by_instance_stream() {
        let existing: Vec<String> = [
            "/aws/events/spot",
            "/aws/lambda/resize-images",
            "/aws/lambda/resize-images-dlq-drainer",
            "/aws/rds/instance/orders-db/postgresql",
            "/aws/rds/instance/other-db/postgresql",
            "API-Gateway-Execution-Logs_a1b2c3d4e5/prod",
            "/var/log/messages",
            "/ec2/nginx/error.log",
            "/aws/containerinsights/prod/performance",
        ]
        .map(str::to_owned)
        .to_vec();
        let involved = Involved {
            names: vec![
                "resize-images".to_owned(),
                "orders-db".to_owned(),
                "a1b2c3d4e5".to_owned(),
            ],
            instance_ids: vec!["i-0abc".to_owned()],
            known: Vec::new(),
        };
        let chosen = choose_groups(existing, &involved, &Default::default());
        let got: Vec<(&str, &Scope)> = chosen.iter().map(|(g, s)| (g.as_str(), s)).collect();
        let mention = Scope::Mentioning(vec![
            "resize-images".into(),
            "orders-db".into(),
            "a1b2c3d4e5".into(),
            "i-0abc".into(),
        ]);
        let streams = Scope::Streams(vec!["i-0abc".into()]);
        assert_eq!(
            got,
            [
                // The alarm's resource first, a whole segment before a part of one.
                ("/aws/lambda/resize-images", &Scope::All),
                ("/aws/lambda/resize-images-dlq-drainer", &Scope::All),
                ("/aws/rds/instance/orders-db/postgresql", &Scope::All),
                ("API-Gateway-Execution-Logs_a1b2c3d4e5/prod", &Scope::All),
                ("/aws/events/spot", &mention),
                // Groups the CloudWatch agent named after files: the instance's streams only;
                // AWS-named groups of other resources are not host logs.
                ("/var/log/messages", &streams),
                ("/ec2/nginx/error.log", &streams),
                // Then the rest, whole, the groups sharing a word with a resource first.
                ("/aws/rds/instance/other-db/postgresql", &Scope::Any),
                ("/aws/containerinsights/prod/performance", &Scope::Any),
            ]
        );
        let involved = Involved {
            names: vec!["invoice-run".to_owned()],
            ..Default::default()
        };
        let existing: Vec<String> = ["/aws/lambda/thumbs", "/aws/lambda/invoice-generate"]
            .map(str::to_owned)
            .to_vec();
        let chosen = choose_groups(existing, &involved, &Default::default());
        assert_eq!(chosen[0].0, "/aws/lambda/invoice-generate", "{chosen:?}");
    }

    #[test]
    fn change_records_keep_one_off_changes_and_drop_routine_jobs() {
        let mut records: Vec<(i64, String)> = Vec::new();
        // A job every five minutes for two hours: routine.
        for m in (0..120i64).step_by(5) {
            records.push((
                m * 60_000,
                format!(
                    "db-1 CROND[{}]: (root) CMD (/usr/local/bin/rotate.sh --keep 3)",
                    4000 + m
                ),
            ));
        }
        // A monthly job once, and a reload once.
        records.push((
            80 * 60_000,
            "db-1 CROND[19020]: (exporter) CMD (/opt/exports/monthly.py --full)".into(),
        ));
        records.push((
            30 * 60_000,
            r#"[901]:LOG:  parameter "work_mem" changed to "1GB""#.into(),
        ));
        records.sort_by_key(|r| r.0);
        let sample: Vec<&str> = records.iter().map(|r| r.1.as_str()).collect();
        let kept = change_records(sample, &records, 200 * 60_000);
        let examples: Vec<&str> = kept.iter().map(|t| t.examples[0].as_str()).collect();
        assert_eq!(kept.len(), 2, "{examples:?}");
        // The latest first.
        assert!(examples[0].contains("monthly.py"), "{examples:?}");
        assert!(examples[1].contains("work_mem"), "{examples:?}");
        // Those before the alarm come before those after it, and a deployment is kept however
        // often its lines came.
        records.extend((0..6).map(|i| {
            (
                (40 + i * 10) * 60_000,
                format!(
                    "Lifecycle event ApplicationStart for deployment d-A1B2C3D4{i}: running x.sh"
                ),
            )
        }));
        records.sort_by_key(|r| r.0);
        let sample: Vec<&str> = records.iter().map(|r| r.1.as_str()).collect();
        let kept = change_records(sample, &records, 50 * 60_000);
        let examples: Vec<&str> = kept.iter().map(|t| t.examples[0].as_str()).collect();
        let at = |word: &str| examples.iter().position(|e| e.contains(word));
        assert!(at("work_mem") < at("monthly.py"), "{examples:?}");
        assert!(at("deployment d-").is_some(), "{examples:?}");
    }

    #[test]
    fn templates_that_grew_at_the_change_are_found() {
        let mut lines: Vec<(i64, String, bool)> = Vec::new();
        for m in 0..120i64 {
            // Steady background, then a crawler from minute 90 on.
            for k in 0..5 {
                lines.push((
                    m * 60_000 + k * 1000,
                    format!("GET /docs/page/{} 200 ua=Mozilla/5.0 (Windows)", m * 7 + k),
                    false,
                ));
            }
            if m >= 90 {
                for k in 0..40 {
                    lines.push((
                        m * 60_000 + 10_000 + k * 100,
                        format!(
                            "GET /docs/page/{} 200 ua=Bytespider; spider-feedback@bytedance.com",
                            k
                        ),
                        false,
                    ));
                }
            }
            if m % 10 == 0 {
                lines.push((m * 60_000 + 500, "ERROR upstream timed out".into(), true));
            }
        }
        lines.sort_by_key(|l| l.0);
        let sample: Vec<&str> = lines.iter().take(200).map(|l| l.1.as_str()).collect();
        let g = grown(sample, &lines);
        assert_eq!(g.len(), 1, "{g:?}");
        assert!(g[0].example.contains("Bytespider"), "{g:?}");
        assert_eq!((g[0].before, g[0].after), (0, 1200));
        assert!(
            g[0].since >= 85 * 60_000 && g[0].since <= 91 * 60_000,
            "{}",
            g[0].since
        );
        // A group whose rate and lines did not change has nothing that grew.
        let flat: Vec<(i64, String, bool)> = (0..600)
            .map(|i| (i * 10_000, format!("GET /x/{i} 200"), false))
            .collect();
        assert!(grown(flat.iter().take(100).map(|l| l.1.as_str()), &flat).is_empty());
        // At the same rate, a new kind of line that takes the place of the old ones is found,
        // from its first line.
        let shifted: Vec<(i64, String, bool)> = (0..600)
            .map(|i| {
                let line = if i < 400 {
                    format!("GET /x/{i} 200")
                } else {
                    format!(
                        "WARN slow render of / took {} ms (item {})",
                        4000 + i,
                        77 + i % 3
                    )
                };
                (i * 10_000, line, false)
            })
            .collect();
        let g = grown(shifted.iter().take(100).map(|l| l.1.as_str()), &shifted);
        assert_eq!(g.len(), 1, "{g:?}");
        assert!(g[0].example.contains("slow render"), "{g:?}");
        assert_eq!((g[0].before, g[0].after, g[0].since), (0, 200, 4_000_000));
    }

    #[test]
    fn templates_that_name_a_cause_outrank_frequent_noise() {
        let t = |line: &str, count: u64| LogTemplate {
            template: line.to_owned(),
            count,
            first_seen: 0,
            last_seen: 0,
            examples: vec![line.to_owned()],
        };
        let mut ts = vec![
            t("WARN retrying request to upstream, attempt 2", 900),
            t("GET /health 503 Service Unavailable", 400),
            t(
                "Out of memory: Killed process 4242 (java) total-vm:8388608kB",
                1,
            ),
        ];
        rank_templates(&mut ts);
        assert!(ts[0].template.starts_with("Out of memory"), "{ts:?}");
    }
}
