//! Log template mining: raw log lines in, one template per line out (variables as `<*>`).
//!
//! Three steps, with one default configuration for every log format:
//!
//! 1. **Header.** [`HeaderModel::learn`] looks at a sample of lines and finds how many leading
//!    fields are header (timestamps, levels, pids, hosts, components): the last field position
//!    that holds the same kind of header field (a time, a number, a level, a bracketed group, a
//!    separator, a `component:`, a padded column) in nearly every line. The message is what
//!    follows.
//! 2. **Masking.** Numbers, hex, UUIDs, IPs, paths, URLs and dates in the message become `<*>`,
//!    keeping the punctuation around them (`uid=<*>`, `(<*>)`), so lines that differ only in
//!    values share one *skeleton*.
//! 3. **Clustering.** Skeletons are looked up in a hash map (the fast path, taken by almost every
//!    line). A new skeleton joins a cluster of the same length that it differs from only where
//!    one of them has a variable; one that differs by a single word is kept apart until that
//!    position has shown [`MinerConfig::word_variants`] different words, and then the siblings
//!    merge with `<*>` there (so `session opened` / `session closed` stay two templates, while a
//!    user name that takes many values becomes a variable).
//!
//! State is bounded: past [`MinerConfig::max_clusters`] the least recently used clusters are
//! evicted, so a flood of unique lines costs neither unbounded memory nor time.

// FxHash: the keys are our own skeletons and ids, hashed on every line; no untrusted party picks
// them to collide (a flood of crafted lines is bounded by the cluster cap either way).
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// Tunables; [`MinerConfig::default`] is the one configuration used for every log format.
#[derive(Debug, Clone)]
pub struct MinerConfig {
    /// Clusters kept at most; the least recently used go first.
    pub max_clusters: usize,
    /// Distinct words seen at one position of otherwise identical templates before that position
    /// becomes a variable.
    pub word_variants: usize,
    /// Most clusters of one length compared with a new skeleton (the most recently used first).
    pub max_candidates: usize,
    /// Leading fields examined for the header.
    pub max_header_fields: usize,
    /// Share of lines that must agree on a field's kind for it to count as header.
    pub header_agreement: f64,
}

impl Default for MinerConfig {
    fn default() -> Self {
        MinerConfig {
            max_clusters: 10_000,
            word_variants: 3,
            max_candidates: 256,
            max_header_fields: 14,
            header_agreement: 0.9,
        }
    }
}

/// Lines looked at by [`HeaderModel::learn`] when a caller buffers a sample first.
pub const HEADER_SAMPLE: usize = 2_000;

// ---------------------------------------------------------------------------------------------
// Header

/// What a leading field looks like, as evidence that it is part of a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum FieldKind {
    Time,
    Number,
    Level,
    Bracketed,
    Separator,
    Month,
    Component,
    Padded,
    /// A hex or UUID id (a request or trace id).
    Id,
}

impl FieldKind {
    /// Kinds that close a header (`program[pid]:`, ` - `): a line's header ends at the first one,
    /// wherever a name with a space in it or an optional field before it has moved it.
    fn ends_header(self) -> bool {
        matches!(self, FieldKind::Separator | FieldKind::Component)
    }
}

#[derive(Debug, Clone, Copy)]
struct Field {
    start: usize,
    end: usize,
    padded: bool,
}

impl Field {
    /// Classified on demand: reading a message needs the kind of one or two fields only.
    fn kind(&self, line: &str) -> Option<FieldKind> {
        field_kind(&line[self.start..self.end], self.padded)
    }
}

const LEVELS: &[&str] = &[
    "trace",
    "debug",
    "info",
    "information",
    "notice",
    "warn",
    "warning",
    "error",
    "err",
    "crit",
    "critical",
    "fatal",
    "severe",
    "alert",
    "emerg",
    "emergency",
    "failure",
    "fine",
    "finer",
    "finest",
];

const MONTHS: &[&str] = &[
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
];

fn is_month_or_day(word: &str) -> bool {
    word.len() <= 9 && MONTHS.iter().any(|m| m.eq_ignore_ascii_case(word))
}

fn is_level(word: &str) -> bool {
    let w = word.trim_end_matches([':', ',']);
    (w.len() == 1 && matches!(w, "V" | "D" | "I" | "W" | "E" | "F"))
        || (w.len() <= 11 && LEVELS.iter().any(|l| l.eq_ignore_ascii_case(w)))
}

/// Digits and the punctuation of numbers, dates, times and addresses only, with a digit.
fn is_numeric_punct(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b':' | b'-' | b'+' | b'/' | b','))
}

/// An ISO 8601 / RFC 3339 timestamp written as one token (`2026-11-29T10:00:00.123Z`,
/// `2026-11-29T10:00:00+01:00`): a date, `T`, a clock, an optional zone.
fn is_iso_timestamp(s: &str) -> bool {
    let Some((date, time)) = s.split_once('T') else {
        return false;
    };
    let time = time.strip_suffix('Z').unwrap_or(time);
    date.len() >= 8
        && date.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && is_numeric_punct(date)
        && time.contains(':')
        && is_numeric_punct(time)
}

fn field_kind(text: &str, padded: bool) -> Option<FieldKind> {
    let bare = text.trim_end_matches(',');
    if text.starts_with('[') && text.ends_with(']') {
        Some(FieldKind::Bracketed)
    } else if !bare.is_empty() && bare.bytes().all(|b| b.is_ascii_digit()) {
        Some(FieldKind::Number)
    } else if is_numeric_punct(bare) || is_iso_timestamp(bare) {
        Some(FieldKind::Time)
    } else if is_level(text) {
        Some(FieldKind::Level)
    } else if is_month_or_day(bare) {
        Some(FieldKind::Month)
    } else if !text.is_empty() && text.bytes().all(|b| b.is_ascii_punctuation()) {
        Some(FieldKind::Separator)
    } else if text.len() >= 2
        && text.ends_with(':')
        && text.bytes().any(|b| b.is_ascii_alphabetic() || b == b'#')
    {
        // `sshd[42]:`, `kernel:`, nginx's `pid#tid:`.
        Some(FieldKind::Component)
    } else if is_hexish(bare) {
        Some(FieldKind::Id)
    } else if padded {
        Some(FieldKind::Padded)
    } else {
        None
    }
}

/// The first `max` fields of `line`: runs of non-blank characters split at `|`, with a bracketed
/// group (`[...]`, nested brackets allowed) kept as one field.
fn fields(line: &str, max: usize) -> Vec<Field> {
    let bytes = line.as_bytes();
    let mut out = Vec::with_capacity(max);
    let mut i = 0;
    while out.len() < max {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'|') {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        if bytes[i] == b'[' {
            let mut depth = 0usize;
            let mut j = i;
            while j < bytes.len() && j - i < 400 {
                match bytes[j] {
                    b'[' => depth += 1,
                    b']' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            if j < bytes.len() && bytes[j] == b']' {
                i = j + 1;
            }
        }
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'|' {
            i += 1;
        }
        let end = i;
        let mut gap = 0;
        let mut piped = false;
        while i + gap < bytes.len()
            && (bytes[i + gap].is_ascii_whitespace() || bytes[i + gap] == b'|')
        {
            piped |= bytes[i + gap] == b'|';
            gap += 1;
        }
        let padded = (gap >= 2 || piped) && i + gap < bytes.len();
        out.push(Field { start, end, padded });
    }
    out
}

/// How far a header's closing field may sit past its usual position.
const SHIFT: usize = 2;

/// Where the message starts in the lines of one log source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderModel {
    /// Index of the last header field and its kind; `None`: the whole line is the message.
    last: Option<(usize, FieldKind)>,
    max_fields: usize,
}

impl HeaderModel {
    /// No header: the whole line is the message.
    pub fn none() -> Self {
        HeaderModel {
            last: None,
            max_fields: 0,
        }
    }

    /// Learns the header from a sample of lines of one source.
    pub fn learn<'a>(lines: impl IntoIterator<Item = &'a str>, config: &MinerConfig) -> Self {
        let max = config.max_header_fields;
        let mut counts: Vec<HashMap<FieldKind, usize>> = vec![HashMap::default(); max];
        // Lines with more than `i + 1` fields: a header must leave a message in nearly all.
        let mut longer = vec![0usize; max];
        // Per closing kind, lines whose first field of that kind is at `i` (with a message after).
        let mut first_closer: HashMap<FieldKind, Vec<usize>> = HashMap::default();
        // Lines that start with a field only a header has (a time, a number, a level, a
        // bracketed group, a month, an id).
        let mut header_first = 0usize;
        let mut n = 0usize;
        for line in lines {
            if line.trim().is_empty() {
                continue;
            }
            n += 1;
            let fs = fields(line, max + 1);
            if fs.first().and_then(|f| f.kind(line)).is_some_and(|k| {
                matches!(
                    k,
                    FieldKind::Time
                        | FieldKind::Number
                        | FieldKind::Level
                        | FieldKind::Bracketed
                        | FieldKind::Month
                        | FieldKind::Id
                )
            }) {
                header_first += 1;
            }
            let mut closers_seen: Vec<FieldKind> = Vec::new();
            for (i, f) in fs.iter().take(max).enumerate() {
                let kind = f.kind(line);
                if let Some(k) = kind {
                    *counts[i].entry(k).or_default() += 1;
                }
                if i + 1 < fs.len() {
                    longer[i] += 1;
                    if let Some(k) = kind.filter(|k| k.ends_header() && !closers_seen.contains(k)) {
                        closers_seen.push(k);
                        first_closer.entry(k).or_insert_with(|| vec![0; max])[i] += 1;
                    }
                }
            }
        }
        let needed = (n as f64 * config.header_agreement).ceil() as usize;
        let fixed = (0..max)
            .rev()
            .filter(|&i| longer[i] >= needed)
            .find_map(|i| {
                counts[i]
                    .iter()
                    .filter(|(_, &c)| n > 0 && c >= needed)
                    .max_by_key(|(k, &c)| (c, **k as u8))
                    .map(|(&k, _)| (i, k))
            });
        // A header closed by a `program[pid]:` or ` - ` that nearly every line has within
        // [`SHIFT`] fields of one position: a name before it with a space in some lines
        // (`app.exe *64 -`) or an optional field (`prog[1] (subsystem):`) moves it, and the
        // fixed-position count above misses it. The message then starts after the first such
        // field at or after that position.
        // Only behind a field that opens a header, and not at the very first field: a log whose
        // messages mostly start with `*** …` or `NAME: …` has no header to close.
        let shifted = first_closer
            .iter()
            .filter(|_| header_first >= needed)
            .filter_map(|(&k, at)| {
                (1..max)
                    .rev()
                    .find(|&i| {
                        n > 0 && at[i..(i + SHIFT + 1).min(max)].iter().sum::<usize>() >= needed
                    })
                    .map(|i| (i, k))
            })
            .max_by_key(|&(i, k)| (i, k as u8));
        let last = match (fixed, shifted) {
            (Some(f), Some(s)) if s.0 > f.0 => Some(s),
            (None, s) => s,
            (f, _) => f,
        };
        HeaderModel {
            last,
            max_fields: max,
        }
    }

    /// The message part of `line`.
    pub fn message<'a>(&self, line: &'a str) -> &'a str {
        let Some((last, kind)) = self.last else {
            return line.trim();
        };
        let fs = fields(line, (last + 4).min(self.max_fields + 2));
        if fs.len() <= last {
            // Shorter than the header: keep what follows the first field, if anything.
            return fs.get(1).map_or("", |f| line[f.start..].trim());
        }
        // A line whose header field sits a little off (a component with a space in it, an
        // optional field) ends its header at the nearest field of the expected kind.
        let end = if fs[last].kind(line) == Some(kind) {
            last
        } else {
            [last + 1, last + 2, last.wrapping_sub(1)]
                .into_iter()
                .find(|&i| fs.get(i).is_some_and(|f| f.kind(line) == Some(kind)))
                .unwrap_or(last)
        };
        match fs.get(end + 1) {
            Some(f) => line[f.start..].trim_end(),
            None => "",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Masking

pub const VAR: &str = "<*>";

fn is_hexish(s: &str) -> bool {
    s.len() >= 6
        && s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        && s.bytes().any(|b| b.is_ascii_digit())
}

fn is_path_or_url(s: &str) -> bool {
    if !s.as_bytes().contains(&b'/') {
        return false;
    }
    s.contains("://") || (s.starts_with('/') && s[1..].contains('/')) || s.starts_with("~/")
}

/// Top-level domains that are common in logs beside the two-letter country codes: a dotted name
/// ending in one of these is a DNS name even without a digit or hyphen in it.
const TLDS: &[&str] = &[
    "com",
    "net",
    "org",
    "edu",
    "gov",
    "mil",
    "int",
    "info",
    "biz",
    "io",
    "app",
    "dev",
    "cloud",
    "internal",
    "local",
    "localdomain",
    "lan",
    "corp",
    "home",
    "arpa",
];

/// Two-letter suffixes that are file extensions far more often than country codes in logs.
const FILE_EXTENSIONS: &[&str] = &[
    "js", "py", "rb", "go", "sh", "so", "gz", "xz", "bz", "db", "md", "cs", "ts", "pl", "rs", "hs",
    "ml", "kt", "el", "cc", "hh", "lz", "7z", "qt",
];

/// A DNS name (RFC 1035 labels: letters, digits, hyphens) of at least three labels, lower case
/// (names are logged as resolved or configured, in lower case; dotted names with capitals are
/// code: `java.io.IOException`, `org.apache.Foo`), with a top-level domain last, or a digit or
/// hyphen that module names lack (`ip-10-0-1-23.ec2.internal`, `cp-1.slowvm1.example.us`).
fn is_dns_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.len() > 253 || s.bytes().filter(|&b| b == b'.').count() < 2 {
        return false;
    }
    let labels_ok = s.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    let tld = s.rsplit('.').next().unwrap_or("");
    let tld_ok = (2..=24).contains(&tld.len()) && tld.bytes().all(|b| b.is_ascii_lowercase());
    labels_ok
        && tld_ok
        && (s.bytes().any(|b| b.is_ascii_digit() || b == b'-')
            || TLDS.contains(&tld)
            || (tld.len() == 2 && !FILE_EXTENSIONS.contains(&tld)))
}

/// Units a number is written with in logs: durations (Go's `time.Duration` strings such as
/// `1m30s`, `250ms`), sizes (`512KB`, `1.5GiB`) and percentages.
const UNITS: &[&str] = &[
    "ns", "us", "µs", "ms", "s", "sec", "secs", "m", "min", "mins", "h", "hr", "hrs", "d", "b",
    "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib", "k", "g", "t", "%", "x",
];

/// A number with a unit glued on, possibly compound: `250ms`, `1.5s`, `1h2m3s`, `512KB`, `90%`.
fn is_quantity(s: &str) -> bool {
    let mut rest = s;
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 || !rest.as_bytes()[0].is_ascii_digit() {
            return false;
        }
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit == 0 || !UNITS.iter().any(|u| u.eq_ignore_ascii_case(&rest[..unit])) {
            return false;
        }
        rest = &rest[unit..];
        parts += 1;
    }
    parts > 0
}

fn is_ipv4(s: &str) -> bool {
    let s = s.strip_prefix('/').unwrap_or(s);
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `address:port` with an IPv4 address or a DNS name: one value, as Loghub's corrected
/// templates write it (`blockMap updated: <*> is added`). (Java's `InetSocketAddress` form with a
/// leading `/` is split at the colon instead, `/<*>:<*>`, as those templates write that one.)
fn is_socket_address(s: &str) -> bool {
    s.rsplit_once(':').is_some_and(|(host, port)| {
        (1..=5).contains(&port.len())
            && port.bytes().all(|b| b.is_ascii_digit())
            && ((!host.starts_with('/') && is_ipv4(host)) || is_dns_name(host))
    })
}

/// Whether a token, punctuation around it aside, is one value as a whole: a number, time, date,
/// address (with port), hex string, path or URL. Other tokens are split at delimiters first, so
/// `uid=0` keeps its key.
fn is_whole_value(s: &str) -> bool {
    is_path_or_url(s)
        || is_dns_name(s)
        || is_quantity(s)
        || is_iso_timestamp(s)
        || is_socket_address(s)
        || (!s.starts_with('/') && is_numeric_punct(s))
        || ((s.starts_with("0x") || s.starts_with("0X"))
            && s.len() > 2
            && s[2..].bytes().all(|b| b.is_ascii_hexdigit()))
        || is_hexish(s)
}

/// Whether one piece of a token (no delimiters left in it) is a value rather than a word.
fn is_value(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    if is_path_or_url(s) || is_dns_name(s) {
        return true;
    }
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    if digits == 0 {
        // Booleans and nulls are values too.
        return s.len() <= 5
            && ["true", "false", "null", "nil", "none"]
                .iter()
                .any(|w| w.eq_ignore_ascii_case(s));
    }
    // A name with a version or size glued on is a word: `SHA256`, `UTF8`, `ext4`, `Base64`,
    // `HTTP2` (letters, then at most three digits, nothing else).
    let letters = s.bytes().take_while(u8::is_ascii_alphabetic).count();
    if letters >= 3 && s.len() - letters <= 3 && s[letters..].bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    // A name with a number after a hyphen or dot is a name with a value: `HikariPool-1`,
    // `node-7` (the name is kept, `node-<*>`).
    let stem = s.trim_end_matches(|c: char| c.is_ascii_digit());
    if stem.len() < s.len()
        && stem.ends_with(['-', '.'])
        && stem.bytes().filter(u8::is_ascii_alphabetic).count() >= 2
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || matches!(b, b'-' | b'.'))
    {
        return true;
    }
    // A counter after a marker: `#12`, nginx's connection `*4668`.
    if let Some(n) = s.strip_prefix(['#', '*']) {
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            return true;
        }
    }
    let s_no_slash = s.strip_prefix('/').unwrap_or(s);
    if is_numeric_punct(s_no_slash) || s.starts_with("0x") || s.starts_with("0X") || is_hexish(s) {
        return true;
    }
    let mut longest_run = 0;
    let mut run = 0;
    for b in s.bytes() {
        if b.is_ascii_digit() {
            run += 1;
            longest_run = longest_run.max(run);
        } else {
            run = 0;
        }
    }
    // A run of two digits, a leading digit (`2x0`, `1234ms`) or mostly digits.
    longest_run >= 2 || s.as_bytes()[0].is_ascii_digit() || digits * 2 > s.len()
}

/// Punctuation that opens a token around a value, closes it, or separates a key from a value.
const OPENERS: &[u8] = b"([{\"'<";
const CLOSERS: &[u8] = b")]}\"'>,;:.!?";
const DELIMS: &[u8] = b"=()[]{}\"',;:@|<>";
const OPENER: u8 = 1;
const CLOSER: u8 = 2;
const DELIM: u8 = 4;

/// [`OPENERS`], [`CLOSERS`] and [`DELIMS`] as one table of flags per byte.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < OPENERS.len() {
        t[OPENERS[i] as usize] |= OPENER;
        i += 1;
    }
    i = 0;
    while i < CLOSERS.len() {
        t[CLOSERS[i] as usize] |= CLOSER;
        i += 1;
    }
    i = 0;
    while i < DELIMS.len() {
        t[DELIMS[i] as usize] |= DELIM;
        i += 1;
    }
    t
};

/// One token of a message with its values masked (`uid=0)` → `uid=<*>)`).
fn mask_token(token: &str, out: &mut String) {
    if let Some(end) = token.find(']').filter(|&e| is_redaction_mask(&token[..=e])) {
        out.push_str(VAR);
        out.push_str(&token[end + 1..]);
        return;
    }
    let bytes = token.as_bytes();
    let core_start = bytes
        .iter()
        .position(|&b| CLASS[b as usize] & OPENER == 0)
        .unwrap_or(bytes.len());
    let core_end = bytes[core_start..]
        .iter()
        .rposition(|&b| CLASS[b as usize] & CLOSER == 0)
        .map_or(core_start, |i| core_start + i + 1);
    let core = &token[core_start..core_end];
    if !core.is_empty() && is_whole_value(core) {
        out.push_str(&token[..core_start]);
        out.push_str(VAR);
        out.push_str(&token[core_end..]);
        return;
    }
    let mut piece_start = 0;
    // Delimiters are ASCII, so splitting at their bytes keeps UTF-8 boundaries.
    for (i, &b) in bytes.iter().enumerate() {
        if i < piece_start {
            continue;
        }
        if CLASS[b as usize] & DELIM != 0 {
            push_piece(&token[piece_start..i], out);
            out.push(b as char);
            piece_start = i + 1;
            // The value of `key=value` or `key:value` is one value as a whole when it is one
            // (`delta=00:53:35`, `SHA256:5e5cf0b1`), not split again at its own colons.
            if matches!(b, b'=' | b':') && piece_start < core_end {
                let value = &token[piece_start..core_end];
                if !value.bytes().any(|c| c == b'=') && is_whole_value(value) {
                    out.push_str(VAR);
                    piece_start = core_end;
                }
            }
        }
    }
    push_piece(&token[piece_start..], out);
}

/// A redaction mask (`[ip:3f9a]`): a value, whatever it hides.
fn is_redaction_mask(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return false;
    };
    inner.split_once(':').is_some_and(|(kind, hash)| {
        !kind.is_empty()
            && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            && hash.len() == 4
            && hash.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn push_piece(piece: &str, out: &mut String) {
    // `hostname/address` (Java's `InetSocketAddress`), `status=9/KILL`: each side on its own.
    if let Some((left, right)) = piece.split_once('/') {
        if !left.is_empty()
            && !right.is_empty()
            && !right.contains('/')
            && (is_value(left) || is_value(right))
            && !is_numeric_punct(piece)
            // `HTTP/1.1`, `TLSv1/1.2`: a protocol and its version are one word.
            && !(!is_value(left) && right.contains('.') && is_numeric_punct(right))
        {
            push_piece(left, out);
            out.push('/');
            push_piece(right, out);
            return;
        }
    }
    if !is_value(piece) {
        out.push_str(piece);
        return;
    }
    // A word with a number glued on after a separator keeps the word: `core.2275` → `core.<*>`,
    // `PS/2` → `PS/<*>`, `node-17` → `node-<*>`, `HikariPool-1` → `HikariPool-<*>`; so does a
    // marker before a number (nginx's connection `*4668`, an inode `#1234`).
    let digits_from = piece.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (word, _) = piece.split_at(digits_from);
    let letters = word.bytes().filter(u8::is_ascii_alphabetic).count();
    if digits_from < piece.len()
        && ((word.ends_with(['.', '/', '#', '-'])
            && letters >= 2
            && word
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || matches!(b, b'.' | b'/' | b'#' | b'-')))
            || matches!(word, "*" | "#"))
    {
        out.push_str(word);
    }
    out.push_str(VAR);
}

fn is_clock(s: &str) -> bool {
    let s = s.trim_end_matches([',', '.']);
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() >= 2
        && parts.len() <= 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
}

/// The masked tokens of a message. A written-out date (`Fri Jun 17 07:07:00 2005`) becomes one
/// `<*>`.
pub fn mask(message: &str) -> Vec<String> {
    let mut key = String::new();
    mask_into(message, &mut key);
    key.split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// [`mask`], written as the tokens joined by single spaces into `key` (cleared first): the
/// skeleton looked up on the fast path, built without a per-token allocation.
fn mask_into(message: &str, key: &mut String) {
    key.clear();
    let mut raw = message.split_whitespace();
    while let Some(tok) = raw.next() {
        if !key.is_empty() {
            key.push(' ');
        }
        if is_month_or_day(tok.trim_end_matches(',')) {
            // A date: a clock with month/day names, day numbers or a year around it.
            let ahead: Vec<&str> = std::iter::once(tok).chain(raw.clone().take(5)).collect();
            if let Some(len) = date_run(&ahead) {
                key.push_str(VAR);
                for _ in 1..len {
                    raw.next();
                }
                continue;
            }
        }
        if is_iso_date(tok) {
            // `2017-05-16 05:00:00`: a date and a clock are one value.
            if let Some(next) = raw.clone().next().filter(|t| is_clock(t)) {
                raw.next();
                key.push_str(VAR);
                key.push_str(&next[next.trim_end_matches([',', '.']).len()..]);
                continue;
            }
        }
        mask_token(tok, key);
    }
}

/// `2017-05-16`, `2017/05/16`.
fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && matches!(b[4], b'-' | b'/')
        && b[7] == b[4]
        && b[5..7].iter().chain(&b[8..]).all(u8::is_ascii_digit)
}

/// Length of a written-out date starting at `tokens[0]`, if one does (at least a month or day
/// name and a clock).
fn date_run(tokens: &[&str]) -> Option<usize> {
    let first = tokens.first()?;
    if !is_month_or_day(first.trim_end_matches(',')) {
        return None;
    }
    let mut n = 1;
    let mut clock = false;
    while n < tokens.len() && n < 6 {
        let t = tokens[n].trim_end_matches(',');
        if is_clock(t) {
            clock = true;
        } else if !(is_month_or_day(t) || (t.len() <= 4 && t.bytes().all(|b| b.is_ascii_digit()))) {
            break;
        }
        n += 1;
    }
    clock.then_some(n)
}

// ---------------------------------------------------------------------------------------------
// Clustering

/// One token for all of `words`: `<*>` with the prefix and suffix they share up to a delimiter
/// (`rhost=a`, `rhost=b`, `rhost=` → `rhost=<*>`).
fn generalise(words: &[String]) -> String {
    let Some(first) = words.first() else {
        return VAR.to_owned();
    };
    let mut pre = first.len();
    let mut suf = first.len();
    for w in &words[1..] {
        pre = pre.min(
            first
                .bytes()
                .zip(w.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
        suf = suf.min(
            first
                .bytes()
                .rev()
                .zip(w.bytes().rev())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    let is_delim = |b: u8| CLASS[b as usize] & DELIM != 0 || matches!(b, b'.' | b'/');
    // Cut the prefix back to just after a delimiter and the suffix to a delimiter.
    let fb = first.as_bytes();
    while pre > 0 && !is_delim(fb[pre - 1]) {
        pre -= 1;
    }
    let shortest = words.iter().map(String::len).min().unwrap_or(0);
    suf = suf.min(shortest.saturating_sub(pre));
    while suf > 0 && !is_delim(fb[fb.len() - suf]) {
        suf -= 1;
    }
    if pre + suf > first.len()
        || !first.is_char_boundary(pre)
        || !first.is_char_boundary(first.len() - suf)
    {
        return VAR.to_owned();
    }
    format!("{}{VAR}{}", &first[..pre], &first[first.len() - suf..])
}

/// A token wrapped in one pair of brackets or quotes, trailing punctuation aside: `(alice)`,
/// `[worker-3]:`, `'db'`.
fn is_enclosed(token: &str) -> bool {
    let t = token.trim_end_matches([':', ',', ';', '.']);
    let pairs = [
        (b'(', b')'),
        (b'[', b']'),
        (b'{', b'}'),
        (b'<', b'>'),
        (b'"', b'"'),
        (b'\'', b'\''),
    ];
    let b = t.as_bytes();
    b.len() >= 3
        && pairs.iter().any(|&(o, c)| {
            b[0] == o && b[b.len() - 1] == c && !b[1..b.len() - 1].iter().any(|&x| x == o || x == c)
        })
}

/// Whether the generalised token `pattern` (one `<*>` inside) matches `word`.
fn covers(pattern: &str, word: &str) -> bool {
    match pattern.split_once(VAR) {
        Some((pre, suf)) => {
            word.len() >= pre.len() + suf.len() && word.starts_with(pre) && word.ends_with(suf)
        }
        None => false,
    }
}

const MAX_KEYS_PER_CLUSTER: usize = 64;

/// The index key of a first token. Enclosed first tokens (`(alice)`, `[db-1]`) share one key per
/// kind of enclosure, so that lines differing there are compared and can make it a variable.
fn head(token: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    let hasher = BuildHasherDefault::<rustc_hash::FxHasher>::default();
    if is_enclosed(token) {
        let b = token.as_bytes();
        hasher.hash_one((b[0], true))
    } else {
        hasher.hash_one(token)
    }
}

/// Identifies a cluster for the life of a [`Miner`] (merged clusters resolve to the survivor).
pub type ClusterId = u32;

#[derive(Debug)]
struct Cluster {
    tokens: Vec<String>,
    count: u64,
    last_used: u64,
    /// Skeleton keys that lead here, so eviction can drop them.
    keys: Vec<String>,
    /// When this cluster was made as a one-word variant of another: that one and the position.
    variant_of: Option<(ClusterId, usize)>,
    /// Variants of this cluster by position: the words seen there and the clusters holding them.
    variants: Vec<(usize, Vec<String>, Vec<ClusterId>)>,
}

/// An online template miner with bounded state.
#[derive(Debug)]
pub struct Miner {
    config: MinerConfig,
    header: HeaderModel,
    clusters: HashMap<ClusterId, Cluster>,
    by_key: HashMap<String, ClusterId>,
    /// Clusters by token count, and by token count and first token: a new skeleton is compared
    /// with the clusters that share its first token (or have a variable there) only, since
    /// clusters that differ in the first word never merge.
    by_len: HashMap<usize, Vec<ClusterId>>,
    by_head: HashMap<(usize, u64), Vec<ClusterId>>,
    merged_into: HashMap<ClusterId, ClusterId>,
    next_id: ClusterId,
    clock: u64,
    /// The skeleton buffer reused across lines.
    scratch: String,
}

impl Miner {
    pub fn new(config: MinerConfig, header: HeaderModel) -> Self {
        Miner {
            config,
            header,
            clusters: HashMap::default(),
            by_key: HashMap::default(),
            by_len: HashMap::default(),
            by_head: HashMap::default(),
            merged_into: HashMap::default(),
            next_id: 0,
            clock: 0,
            scratch: String::new(),
        }
    }

    /// A miner whose header is learned from `sample` (lines of the same source).
    pub fn learning<'a>(sample: impl IntoIterator<Item = &'a str>) -> Self {
        let config = MinerConfig::default();
        let header = HeaderModel::learn(sample, &config);
        Miner::new(config, header)
    }

    pub fn header(&self) -> &HeaderModel {
        &self.header
    }

    /// Clusters currently held.
    pub fn len(&self) -> usize {
        self.clusters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
    }

    /// Adds one raw line; returns its cluster.
    pub fn add(&mut self, line: &str) -> ClusterId {
        let message = self.header.message(line);
        let mut key = std::mem::take(&mut self.scratch);
        mask_into(message, &mut key);
        self.clock += 1;
        if let Some(&id) = self.by_key.get(&key) {
            let id = self.resolve(id);
            if let Some(c) = self.clusters.get_mut(&id) {
                c.count += 1;
                c.last_used = self.clock;
                self.scratch = key;
                return id;
            }
        }
        let tokens: Vec<String> = key
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        let id = self.place(tokens, key);
        if self.clusters.len() > self.config.max_clusters {
            self.evict();
        }
        id
    }

    /// The cluster `id` now belongs to (after merges).
    pub fn resolve(&self, mut id: ClusterId) -> ClusterId {
        while let Some(&next) = self.merged_into.get(&id) {
            id = next;
        }
        id
    }

    /// The template of cluster `id`, or `None` once it has been evicted.
    pub fn template(&self, id: ClusterId) -> Option<String> {
        self.clusters
            .get(&self.resolve(id))
            .map(|c| c.tokens.join(" "))
    }

    /// Lines counted in cluster `id`.
    pub fn count(&self, id: ClusterId) -> u64 {
        self.clusters.get(&self.resolve(id)).map_or(0, |c| c.count)
    }

    fn place(&mut self, tokens: Vec<String>, key: String) -> ClusterId {
        let len = tokens.len();
        let mut general: Option<ClusterId> = None;
        let mut variant: Option<(ClusterId, usize)> = None;
        let take = self.config.max_candidates;
        let mut candidates: Vec<ClusterId> = Vec::new();
        let mut add = |ids: Option<&Vec<ClusterId>>| {
            candidates.extend(ids.into_iter().flat_map(|v| v.iter().rev().take(take)));
        };
        match tokens.first() {
            Some(first) if first != VAR => {
                add(self.by_head.get(&(len, head(first))));
                add(self.by_head.get(&(len, head(VAR))));
            }
            _ => add(self.by_len.get(&len)),
        }
        {
            for cid in candidates {
                let Some(c) = self.clusters.get(&cid) else {
                    continue;
                };
                let mut word_diff = None;
                let mut word_diffs = 0;
                let mut var_diffs = 0;
                for (p, (a, b)) in c.tokens.iter().zip(&tokens).enumerate() {
                    if a == b {
                        continue;
                    }
                    if a == VAR || b == VAR || covers(a, b) {
                        var_diffs += 1;
                    } else {
                        word_diffs += 1;
                        word_diff = Some(p);
                        if word_diffs > 1 {
                            break;
                        }
                    }
                }
                let diffs = var_diffs + word_diffs;
                if diffs * 2 > len {
                    continue;
                }
                if word_diffs == 0 {
                    general = Some(cid);
                    break;
                }
                if word_diffs == 1 && variant.is_none() && len >= 2 {
                    variant = word_diff.map(|p| (cid, p));
                }
            }
        }
        if let Some(cid) = general {
            let c = self.clusters.get_mut(&cid).expect("candidate exists");
            let old_first = c.tokens.first().cloned();
            for (a, b) in c.tokens.iter_mut().zip(&tokens) {
                if a != b && b == VAR {
                    *a = VAR.to_owned();
                }
            }
            self.rehead(cid, old_first.as_deref());
            let c = self.clusters.get_mut(&cid).expect("candidate exists");
            c.count += 1;
            c.last_used = self.clock;
            // Skeletons remembered per cluster are capped: past that, a line of a new skeleton
            // takes the slower path, which finds this cluster again.
            if c.keys.len() < MAX_KEYS_PER_CLUSTER {
                c.keys.push(key.clone());
                self.by_key.insert(key, cid);
            }
            return cid;
        }
        let id = self.next_id;
        self.next_id += 1;
        let word = variant.map(|(_, p)| tokens[p].clone());
        self.clusters.insert(
            id,
            Cluster {
                tokens,
                count: 1,
                last_used: self.clock,
                keys: vec![key.clone()],
                variant_of: None,
                variants: Vec::new(),
            },
        );
        self.by_key.insert(key, id);
        self.by_len.entry(len).or_default().push(id);
        let first = self.clusters[&id].tokens.first().map_or(0, |t| head(t));
        self.by_head.entry((len, first)).or_default().push(id);
        if let (Some((near, p)), Some(word)) = (variant, word) {
            self.add_variant(near, p, id, word);
        }
        id
    }

    /// Records `id` as a one-word variant (at `p`) of `near`, merging the family once the
    /// position has taken enough different words.
    fn add_variant(&mut self, near: ClusterId, p: usize, id: ClusterId, word: String) {
        // A variant of a variant at the same position belongs to the first one's family.
        let anchor = match self.clusters.get(&near).and_then(|c| c.variant_of) {
            Some((a, ap)) if ap == p && self.clusters.contains_key(&a) => a,
            _ => near,
        };
        let Some(a) = self.clusters.get_mut(&anchor) else {
            return;
        };
        let base_word = a.tokens[p].clone();
        let family = match a.variants.iter_mut().position(|(q, _, _)| *q == p) {
            Some(i) => &mut a.variants[i],
            None => {
                a.variants.push((p, vec![base_word], Vec::new()));
                a.variants.last_mut().expect("just pushed")
            }
        };
        if !family.1.contains(&word) {
            family.1.push(word);
        }
        family.2.push(id);
        // A word becomes a variable only away from the start of the message (which names the
        // event) and while at least half the template stays constant.
        // A word in brackets or quotes is a value wherever it stands (cron's `(user) CMD`).
        let constants = a.tokens.iter().filter(|t| *t != VAR).count();
        let ready = family.1.len() >= self.config.word_variants
            && (p > 0 || family.1.iter().all(|w| is_enclosed(w)))
            && (constants - 1) * 2 >= a.tokens.len();
        if let Some(c) = self.clusters.get_mut(&id) {
            c.variant_of = Some((anchor, p));
        }
        if ready {
            let a = self.clusters.get_mut(&anchor).expect("anchor exists");
            let i = a
                .variants
                .iter()
                .position(|(q, _, _)| *q == p)
                .expect("family");
            let (_, words, members) = a.variants.swap_remove(i);
            a.tokens[p] = generalise(&words);
            for m in members {
                self.merge(m, anchor);
            }
        }
    }

    fn merge(&mut self, from: ClusterId, into: ClusterId) {
        // (Positions that differ become variables; a position already generalised with its
        // common prefix and suffix, as `rhost=<*>`, keeps them.)
        if from == into {
            return;
        }
        let Some(f) = self.clusters.remove(&from) else {
            return;
        };
        if let Some(ids) = self.by_len.get_mut(&f.tokens.len()) {
            ids.retain(|&i| i != from);
        }
        if let Some(ids) = self
            .by_head
            .get_mut(&(f.tokens.len(), f.tokens.first().map_or(0, |t| head(t))))
        {
            ids.retain(|&i| i != from);
        }
        for k in &f.keys {
            self.by_key.insert(k.clone(), into);
        }
        self.merged_into.insert(from, into);
        let t = self.clusters.get_mut(&into).expect("merge target exists");
        let old_first = t.tokens.first().cloned();
        for (a, b) in t.tokens.iter_mut().zip(&f.tokens) {
            if a != b && !covers(a, b) {
                *a = VAR.to_owned();
            }
        }
        t.count += f.count;
        t.last_used = t.last_used.max(f.last_used);
        t.keys.extend(f.keys);
        self.rehead(into, old_first.as_deref());
    }

    /// Moves cluster `id` to the index of its first token when that changed from `old_first`.
    fn rehead(&mut self, id: ClusterId, old_first: Option<&str>) {
        let Some(c) = self.clusters.get(&id) else {
            return;
        };
        let (len, new) = (c.tokens.len(), c.tokens.first().map_or(0, |t| head(t)));
        let old = old_first.map_or(0, head);
        if old == new {
            return;
        }
        if let Some(ids) = self.by_head.get_mut(&(len, old)) {
            ids.retain(|&i| i != id);
        }
        self.by_head.entry((len, new)).or_default().push(id);
    }

    /// Drops the least recently used tenth of the clusters.
    fn evict(&mut self) {
        let mut by_age: Vec<(u64, ClusterId)> = self
            .clusters
            .iter()
            .map(|(&id, c)| (c.last_used, id))
            .collect();
        by_age.sort_unstable();
        let drop = (self.config.max_clusters / 10).max(1);
        let mut gone: HashSet<ClusterId> = HashSet::default();
        for &(_, id) in by_age.iter().take(drop) {
            if let Some(c) = self.clusters.remove(&id) {
                for k in &c.keys {
                    if self.by_key.get(k) == Some(&id) {
                        self.by_key.remove(k);
                    }
                }
                gone.insert(id);
            }
        }
        for ids in self.by_len.values_mut().chain(self.by_head.values_mut()) {
            ids.retain(|i| !gone.contains(i));
        }
        self.by_len.retain(|_, ids| !ids.is_empty());
        self.by_head.retain(|_, ids| !ids.is_empty());
        // Forwarding entries may only point at clusters that still exist or were evicted; drop
        // chains into evicted clusters so the map stays bounded too.
        let resolved: HashMap<ClusterId, ClusterId> = self
            .merged_into
            .keys()
            .map(|&from| (from, self.resolve(from)))
            .filter(|(_, to)| self.clusters.contains_key(to))
            .collect();
        self.merged_into = resolved;
    }
}

// ---------------------------------------------------------------------------------------------
// Streaming

/// Lines buffered before their templates are written: templates can still generalise while a
/// chunk is open, and every line of a chunk gets its cluster's template as of the chunk's end.
pub const CHUNK_LINES: usize = 10_000;

/// Reads raw lines from `input` and writes one JSON object per line to `output`, in order:
/// `{"template_id":"t7","template":"session opened for user <*> by (uid=<*>)"}`. The header is
/// learned from the first [`HEADER_SAMPLE`] lines. Invalid UTF-8 is read lossily.
pub fn stream(input: impl std::io::BufRead, output: impl std::io::Write) -> std::io::Result<()> {
    use std::io::Write;
    let mut input = input;
    let mut output = std::io::BufWriter::new(output);
    let mut chunk: Vec<String> = Vec::with_capacity(HEADER_SAMPLE);
    let mut eof = false;
    while chunk.len() < HEADER_SAMPLE {
        match read_line(&mut input)? {
            Some(l) => chunk.push(l),
            None => {
                eof = true;
                break;
            }
        }
    }
    let mut miner = Miner::learning(chunk.iter().map(String::as_str));
    let mut ids: Vec<ClusterId> = Vec::with_capacity(CHUNK_LINES);
    loop {
        ids.extend(chunk.iter().map(|l| miner.add(l)));
        chunk.clear();
        if !eof {
            while ids.len() < CHUNK_LINES {
                match read_line(&mut input)? {
                    Some(l) => ids.push(miner.add(&l)),
                    None => {
                        eof = true;
                        break;
                    }
                }
            }
        }
        // Templates are rendered once per cluster per chunk.
        let mut rendered: HashMap<ClusterId, String> = HashMap::default();
        for &id in &ids {
            let id = miner.resolve(id);
            let json = rendered.entry(id).or_insert_with(|| {
                let template = miner.template(id).unwrap_or_default();
                serde_json::json!({"template_id": format!("t{id}"), "template": template})
                    .to_string()
            });
            output.write_all(json.as_bytes())?;
            output.write_all(b"\n")?;
        }
        ids.clear();
        if eof {
            break;
        }
    }
    output.flush()
}

fn read_line(input: &mut impl std::io::BufRead) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    if input.read_until(b'\n', &mut buf)? == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    Ok(Some(match String::from_utf8(buf) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_of(lines: &[&str]) -> HeaderModel {
        HeaderModel::learn(lines.iter().copied(), &MinerConfig::default())
    }

    #[test]
    fn header_is_learned_from_the_fields_lines_agree_on() {
        let syslog = [
            "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; uid=0",
            "Jun 14 15:16:02 combo sshd(pam_unix)[19937]: check pass; user unknown",
            "Jul  1 09:00:55 combo kernel: Linux version 2.6.5",
        ];
        let h = header_of(&syslog);
        assert_eq!(h.message(syslog[1]), "check pass; user unknown");
        assert_eq!(h.message(syslog[2]), "Linux version 2.6.5");

        let app = [
            "2026-11-22 10:00:01,123 ERROR [main] com.example.Pool: connection refused to db:5432",
            "2026-11-22 10:00:02,456 INFO [worker-1] com.example.Http: GET /orders 200",
        ];
        let h = header_of(&app);
        assert_eq!(h.message(app[0]), "connection refused to db:5432");

        // Bracketed and piped headers; no header at all.
        let apache = [
            "[Sun Dec 04 04:47:44 2005] [error] mod_jk child in error state 6",
            "[Sun Dec 04 04:47:45 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties",
        ];
        assert_eq!(
            header_of(&apache).message(apache[0]),
            "mod_jk child in error state 6"
        );
        let piped = ["20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579"; 3];
        assert_eq!(
            header_of(&piped).message(piped[0]),
            "onStandStepChanged 3579"
        );
        let bare = ["connection reset by peer", "user alice logged in"];
        assert_eq!(header_of(&bare).message(bare[1]), "user alice logged in");
    }

    #[test]
    fn values_are_masked_and_keys_kept() {
        assert_eq!(
            mask("session opened for user cyrus by (uid=0)").join(" "),
            "session opened for user cyrus by (uid=<*>)"
        );
        assert_eq!(
            mask("client /10.10.34.18:42772 sessionid 0x14ed93111f20005 took 19.05s").join(" "),
            "client <*>:<*> sessionid <*> took <*>"
        );
        assert_eq!(
            mask("at Fri Jun 17 07:07:00 2005 path /var/lib/x/y uuid b9000564-fe1a-409b-b8cc-1e88b294cd1d")
                .join(" "),
            "at <*> path <*> uuid <*>"
        );
        assert_eq!(
            mask("generating core.2275 ready=true").join(" "),
            "generating core.<*> ready=<*>"
        );
        assert_eq!(
            mask("from [ip:3f9a], to [email:c21e]").join(" "),
            "from <*>, to <*>"
        );
        // Words with a digit in them are not values.
        assert_eq!(
            mask("jk2_init() found ext3 key SHA256:9f86d081884c HTTP/1.1").join(" "),
            "jk2_init() found ext3 key SHA256:<*> HTTP/1.1"
        );
        // DNS names, with or without a port; module and class names are not.
        assert_eq!(
            mask("to ip-10-0-1-23.ec2.internal:8080 via proxy.cse.example.hk and nova.compute.manager java.io.IOException app.min.js")
                .join(" "),
            "to <*> via <*> and nova.compute.manager java.io.IOException app.min.js"
        );
        // Durations and sizes with their units, also before punctuation; a clock after a key.
        assert_eq!(
            mask("timed out after 3m45s. sent 512KB (1.5GiB) delta=00:53:35 took 250ms").join(" "),
            "timed out after <*>. sent <*> (<*>) delta=<*> took <*>"
        );
        // Names with a counter keep the name; markers before a number stay.
        assert_eq!(
            mask("HikariPool-3 node-17 *4668 #12 status=9/KILL").join(" "),
            "HikariPool-<*> node-<*> *<*> #<*> status=<*>/KILL"
        );
        // A date and a clock are one value; Java's `host/address:port` is three.
        assert_eq!(
            mask("from 2017-05-16 05:00:00 to kafka-1.example.com/10.0.0.5:9092").join(" "),
            "from <*> to <*>/<*>:<*>"
        );
    }

    #[test]
    fn a_header_closed_by_a_field_that_moves_is_still_found() {
        // A program name with a second word in some lines moves the ` - ` that closes the header.
        let client: Vec<String> = (0..20)
            .map(|i| {
                let bits = if i % 3 == 0 { " *64" } else { "" };
                format!("[10.30 16:49:{i:02}] app{}.exe{bits} - host{i}.example.com:443 open through proxy", i % 4)
            })
            .collect();
        let h = header_of(&client.iter().map(String::as_str).collect::<Vec<_>>());
        for line in &client {
            assert!(
                h.message(line).starts_with("host"),
                "{line}: {:?}",
                h.message(line)
            );
        }
        // An optional `(subsystem)` after `program[pid]` moves the `:` that closes it.
        let bsd: Vec<String> = (0..20)
            .map(|i| {
                let sub = if i % 3 == 0 {
                    " (com.example.sync[77])"
                } else {
                    ""
                };
                format!(
                    "Jul  1 09:00:{i:02} host-{i} prog{}[{i}]{sub}: event {i} done",
                    i % 5
                )
            })
            .collect();
        let h = header_of(&bsd.iter().map(String::as_str).collect::<Vec<_>>());
        for line in &bsd {
            assert!(
                h.message(line).starts_with("event"),
                "{line}: {:?}",
                h.message(line)
            );
        }
        // A log whose messages mostly start with `*** …` or `NAME: ---` has no header to close:
        // the words stay in the message.
        let uwsgi = [
            "*** HARAKIRI ON WORKER 3 (pid: 31203, try: 1) ***",
            "HARAKIRI: --- uWSGI worker 3 (pid: 31203) WAS managing request /v1/items ---",
            "*** uWSGI Python tracebacker output ***",
            "DAMN ! worker 3 (pid: 31203) died, killed by signal 9 :( trying respawn ...",
        ];
        let h = header_of(&uwsgi);
        assert!(
            h.message(uwsgi[1]).starts_with("HARAKIRI:"),
            "{:?}",
            h.message(uwsgi[1])
        );
        assert!(
            h.message(uwsgi[0]).contains("HARAKIRI ON"),
            "{:?}",
            h.message(uwsgi[0])
        );
        // The Lambda runtime's tab-separated level, RFC 3339 time and request id.
        let lambda = [
            "[ERROR]\t2026-11-29T10:00:00.123Z\t8f5c2a10-1b2c-4d5e-9f00-123456789abc\tTask timed out",
            "[INFO]\t2026-11-29T10:00:01.456Z\t9a6d3b21-2c3d-4e6f-8a11-23456789abcd\tProcessed 3 records",
        ];
        assert_eq!(header_of(&lambda).message(lambda[1]), "Processed 3 records");
    }

    #[test]
    fn variants_stay_apart_until_a_position_takes_many_words() {
        let mut m = Miner::new(MinerConfig::default(), HeaderModel::none());
        let opened = m.add("session opened for user alice");
        let closed = m.add("session closed for user alice");
        assert_ne!(
            m.resolve(opened),
            m.resolve(closed),
            "one differing word is two events"
        );
        let bob = m.add("session opened for user bob");
        m.add("session opened for user carol");
        assert_eq!(
            m.resolve(opened),
            m.resolve(bob),
            "a position with three words is a variable"
        );
        assert_eq!(
            m.template(opened).expect("cluster"),
            "session opened for user <*>"
        );
        assert_eq!(m.count(opened), 3);
        assert_eq!(
            m.template(closed).expect("cluster"),
            "session closed for user alice"
        );
        // Lines differing in values only share a template from the start.
        let a = m.add("request 17 took 30 ms");
        let b = m.add("request 4242 took 7 ms");
        assert_eq!(a, b);
    }

    #[test]
    fn a_flood_of_unique_lines_stays_bounded() {
        let config = MinerConfig {
            max_clusters: 100,
            ..MinerConfig::default()
        };
        let mut m = Miner::new(config, HeaderModel::none());
        let words = |i: u64| -> String {
            // Distinct letters-only words: nothing to mask, every line its own skeleton.
            let mut n = i;
            let mut s = String::new();
            for _ in 0..6 {
                s.push((b'a' + (n % 26) as u8) as char);
                n /= 26;
            }
            s
        };
        for i in 0..20_000u64 {
            m.add(&format!(
                "{} {} {}",
                words(i),
                words(i * 7 + 3),
                words(i * 13 + 5)
            ));
        }
        assert!(m.len() <= 100, "{} clusters held", m.len());
        assert!(m.by_key.len() <= 100 * MAX_KEYS_PER_CLUSTER);
        assert!(m.merged_into.len() <= 100 * MAX_KEYS_PER_CLUSTER);
        // Still works after eviction.
        let id = m.add("steady line 1");
        assert_eq!(m.template(id).expect("cluster"), "steady line <*>");
    }

    #[test]
    fn streams_one_object_per_line_in_order() {
        let input = b"a 1\nb 2\na 3\n\xff\xfe odd bytes\nlast line without newline";
        let mut out = Vec::new();
        stream(&input[..], &mut out).expect("stream");
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0]["template"], "a <*>");
        assert_eq!(lines[0]["template_id"], lines[2]["template_id"]);
        assert_ne!(lines[0]["template_id"], lines[1]["template_id"]);
        assert_eq!(lines[4]["template"], "last line without newline");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(lines in proptest::collection::vec(".{0,120}", 1..40)) {
            let mut m = Miner::learning(lines.iter().map(String::as_str));
            for l in &lines {
                let id = m.add(l);
                proptest::prop_assert!(m.template(id).is_some());
            }
        }
    }
}
