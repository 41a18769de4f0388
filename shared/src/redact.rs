//! Redaction of secrets and personal data, applied by the agent before anything leaves the
//! customer's account and re-applied by the control plane to what it stores and sends.
//!
//! Each match is replaced by a **consistent pseudonym**, `[type:xxxx]`, where `xxxx` is a keyed
//! hash (HMAC-SHA256, first 16 bits) of the value. The same value gets the same pseudonym within a
//! workspace, so a diagnosis can say "every failure goes to the same host" without revealing it;
//! the key never leaves the account. Only the sensitive part is replaced: the value of
//! `key=value`, the password of URL userinfo, the credential after `Bearer`. Everything else in
//! the line is kept byte for byte.
//!
//! Properties (tested): idempotent (a redacted line redacts to itself), UTF-8 safe, never panics,
//! and lines without candidates come back unchanged and unallocated (`Cow::Borrowed`).

use std::borrow::Cow;

use hmac::{Hmac, Mac};
use regex::Regex;
use sha2::Sha256;

/// What a line must contain for a rule to be worth running: the literal prefilter. A gate is a
/// necessary condition of its rule's pattern, so skipping a rule whose gate is shut never misses a
/// match; most log lines open no gate, or only the gates of a few cheap rules.
#[derive(Clone, Copy)]
enum Gate {
    /// One of these literals, ASCII case-insensitive (one automaton finds them all).
    Needles(&'static [&'static str]),
    /// A property of the line's characters.
    Shape(fn(&Shape) -> bool),
    /// A check of the line itself.
    Line(fn(&str) -> bool),
    /// Always run (user-defined rules).
    Always,
}

/// Character counts of a line, taken in one pass, for [`Gate::Shape`].
#[derive(Debug, Default)]
struct Shape {
    digits: usize,
    longest_digit_run: usize,
    /// Dots with a digit on both sides (`10.0.0.1` has three).
    dots_between_digits: usize,
    colons: usize,
    double_colon: bool,
    /// A `+` right before a digit (`+44 …`).
    plus_digit: bool,
    /// Three digits in parentheses (`(555) 123-4567`).
    paren_three_digits: bool,
    /// `ddd-dd-dddd`.
    ssn_like: bool,
    /// Twelve digits between dashes (`app-123456789012-x`).
    dashed_twelve_digits: bool,
    /// Longest run of digits where single spaces or dashes may separate them (card numbers).
    longest_spaced_digits: usize,
    /// Two capitals right before two digits (`DE89`: IBAN).
    caps_then_digits: bool,
}

/// The index of the first digit or `:` in `b` from `i` (or `b.len()`), eight bytes at a time:
/// a byte in `0x30..0x3B` (`0`–`9`, `:`) sets its high bit in `hit`. Non-ASCII bytes can give a
/// false hit, which only ends the skip early.
fn skip_to_digit_or_colon(b: &[u8], mut i: usize) -> usize {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const FROM: u64 = 0x3030_3030_3030_3030;
    const UPTO: u64 = 0x3B3B_3B3B_3B3B_3B3B;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let t = u64::from_le_bytes(word) | HIGH;
        let hit = t.wrapping_sub(FROM) & !t.wrapping_sub(UPTO) & HIGH;
        if hit != 0 {
            return i + (hit.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && b[i].wrapping_sub(b'0') > 10 {
        i += 1;
    }
    i
}

impl Shape {
    fn of(line: &str) -> Shape {
        let b = line.as_bytes();
        let n = b.len();
        let mut s = Shape::default();
        let mut spaced = 0usize;
        // The two digit runs before the current one, as (start, len).
        let mut runs = [(usize::MAX, 0usize); 2];
        let mut i = 0;
        while i < n {
            let c = b[i];
            if c.is_ascii_digit() {
                let start = i;
                while i < n && b[i].is_ascii_digit() {
                    i += 1;
                }
                let len = i - start;
                let before = if start > 0 { b[start - 1] } else { 0 };
                let after = if i < n { b[i] } else { 0 };
                s.digits += len;
                s.longest_digit_run = s.longest_digit_run.max(len);
                let joined = |r: (usize, usize)| r.0 != usize::MAX && r.0 + r.1 + 1 == start;
                match before {
                    b' ' | b'-' if joined(runs[1]) => spaced += len,
                    _ => spaced = len,
                }
                s.longest_spaced_digits = s.longest_spaced_digits.max(spaced);
                match before {
                    b'-' => {
                        s.dashed_twelve_digits |= len == 12 && after == b'-';
                        let (p, pp) = (runs[1], runs[0]);
                        s.ssn_like |= len == 4
                            && p.1 == 2
                            && pp.1 == 3
                            && joined(p)
                            && b[p.0 - 1] == b'-'
                            && pp.0 != usize::MAX
                            && pp.0 + pp.1 + 1 == p.0;
                    }
                    b'(' => s.paren_three_digits |= len == 3 && after == b')',
                    b'+' => s.plus_digit = true,
                    b'A'..=b'Z' => {
                        s.caps_then_digits |=
                            len >= 2 && start >= 2 && b[start - 2].is_ascii_uppercase();
                    }
                    _ => {}
                }
                if after == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    s.dots_between_digits += 1;
                }
                runs = [runs[1], (start, len)];
                continue;
            }
            if c == b':' {
                s.colons += 1;
                s.double_colon |= i > 0 && b[i - 1] == b':';
            }
            i += 1;
            i = skip_to_digit_or_colon(b, i);
        }
        s
    }
}

/// One automaton over every rule's gate needles (ASCII case-insensitive), and which rules each
/// needle opens.
#[derive(Clone)]
struct Prefilter {
    needles: aho_corasick::AhoCorasick,
    /// Per needle: the rules it opens, its own and those of every needle that is a prefix of it.
    opens: Vec<Vec<usize>>,
    /// The rules whose gate is not a literal (shape, line check, always): the only ones looked at
    /// one by one for every line, however many literal-gated rules the table has.
    other: Vec<usize>,
}

impl Prefilter {
    fn new(rules: &[Rule]) -> Prefilter {
        let mut needles: Vec<(String, usize)> = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            if let Gate::Needles(ns) = r.gate {
                needles.extend(ns.iter().map(|n| (n.to_ascii_lowercase(), i)));
            }
        }
        let opens = needles
            .iter()
            .map(|(n, _)| {
                let mut rules: Vec<usize> = needles
                    .iter()
                    .filter(|(m, _)| n.starts_with(m.as_str()))
                    .map(|(_, r)| *r)
                    .collect();
                rules.sort_unstable();
                rules.dedup();
                rules
            })
            .collect();
        let other = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| !matches!(r.gate, Gate::Needles(_)))
            .map(|(i, _)| i)
            .collect();
        Prefilter {
            other,
            needles: aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                .build(needles.iter().map(|(n, _)| n))
                .unwrap_or_else(|e| panic!("redaction prefilter: {e}")),
            opens,
        }
    }

    /// The indices of the `rules` that may match `line`, in rule order.
    fn open(&self, rules: &[Rule], line: &str) -> Vec<usize> {
        let mut open: Vec<usize> = Vec::new();
        // Every start position is searched (the next search starts one past the last match's
        // start), so overlapping needles are all seen; a shorter needle at the same start is a
        // prefix of the one found and is opened with it.
        let mut pos = 0;
        while pos < line.len() {
            let input = aho_corasick::Input::new(line).span(pos..line.len());
            let Some(m) = self.needles.find(input) else {
                break;
            };
            open.extend_from_slice(&self.opens[m.pattern().as_usize()]);
            pos = m.start() + 1;
        }
        let mut shape = None;
        for &i in &self.other {
            let is_open = match rules[i].gate {
                Gate::Shape(f) => f(shape.get_or_insert_with(|| Shape::of(line))),
                Gate::Line(f) => f(line),
                Gate::Always => true,
                Gate::Needles(_) => false,
            };
            if is_open {
                open.push(i);
            }
        }
        open.sort_unstable();
        open.dedup();
        open
    }
}

fn has_v(re: &Regex) -> bool {
    re.capture_names().any(|n| n == Some("v"))
}

/// Whether a built-in `pattern` names a group `v`, read from its text without compiling it (a
/// test checks this agrees with the compiled regex for every rule).
fn names_v(pattern: &str) -> bool {
    pattern.contains("(?P<v>") || pattern.contains("(?<v>")
}

/// A rule's regular expression, compiled the first time a line opens the rule's gate.
///
/// Most of the table (the vendor token formats) is gated on literals that most logs never
/// contain; compiled up front, the rules' automata were about 14 MiB of an idle agent's heap
/// (heaptrack, docs/benchmarks.md). Compiled on first use, a process pays for the rules its
/// data actually opens. Clones of a redactor ([`Redactor::rekeyed`]) share what is compiled.
#[derive(Clone)]
struct LazyRegex(std::sync::Arc<(String, std::sync::OnceLock<Regex>)>);

impl LazyRegex {
    fn new(pattern: String) -> LazyRegex {
        LazyRegex(std::sync::Arc::new((pattern, std::sync::OnceLock::new())))
    }

    fn compiled(re: Regex) -> LazyRegex {
        let cell = std::sync::OnceLock::new();
        let pattern = re.as_str().to_owned();
        let _ = cell.set(re);
        LazyRegex(std::sync::Arc::new((pattern, cell)))
    }

    fn as_str(&self) -> &str {
        &self.0 .0
    }

    fn get(&self) -> &Regex {
        // The built-in patterns are constants that a test compiles; a failure is a bug.
        self.0 .1.get_or_init(|| {
            Regex::new(&self.0 .0)
                .unwrap_or_else(|e| panic!("built-in redaction rule /{}/: {e}", self.0 .0))
        })
    }
}

/// One detection rule: a regex whose group `v` (or the whole match) is the sensitive value.
#[derive(Clone)]
struct Rule {
    kind: &'static str,
    re: LazyRegex,
    gate: Gate,
    /// Whether `re` has a `v` group (else the whole match is the value, found without captures).
    has_v: bool,
    /// Extra check given the line and the value's byte range.
    check: Option<Check>,
    /// The key=value parser instead of `re`'s groups.
    key_value: bool,
}

/// A compiled set of rules plus the pseudonym key.
#[derive(Clone)]
pub struct Redactor {
    rules: Vec<Rule>,
    prefilter: Prefilter,
    key: Vec<u8>,
    mask_re: Regex,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("rules", &self.rules.len())
            .finish()
    }
}

/// An error in a user-defined rule.
#[derive(Debug, thiserror::Error)]
#[error("redaction rule {name:?}: {message}")]
pub struct RuleError {
    pub name: String,
    pub message: String,
}

/// Key names whose value is a secret: the name must *end* with one of these words
/// (`DB_PASSWORD`, `client_secret`, `x-api-key`), so `api_key_rotation_days` or `token_ttl` are
/// left alone.
const SECRET_KEY_NAME: &str = r"(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|auth[_-]?key|signing[_-]?key|encryption[_-]?key|credentials?|session(?:[_-]?id)?|sid[_-]?token|cookie)";

/// The name of a `{"name": …, "value": …}` pair whose value is secret: a secret word anywhere in
/// it, or Bundler's gem-source credentials (`BUNDLE_HOST__COM`). One pattern for both key orders.
macro_rules! secret_env_name {
    () => {
        r"(?:[A-Za-z0-9_.-]*(?:secret|passw(?:or)?d|passphrase|pass|pwd|token|api_?key|private_?key|access_?key|credentials?|auth|_key)[A-Za-z0-9_.-]*|BUNDLE_[A-Za-z0-9_]*__[A-Za-z0-9_]+)"
    };
}

/// A JSON object key that names a secret: one that ends in a secret word (`password`,
/// `db_password`, `clientSecret`, `apiKey`, `X-Api-Key`, `sessionId`, `credentials`), so that
/// `token_count` or `passenger` do not, or is `pin`/`auth`. Compiled once.
fn secret_key_name() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)^[A-Za-z0-9_.-]*(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|auth[_-]?key|signing[_-]?key|encryption[_-]?key|credentials?|session[_-]?id|sid|cookie|cvv2?|cvc2?)$|^(?:pin|auth|authorization)$",
        )
        .unwrap_or_else(|e| panic!("secret key name pattern: {e}"))
    })
}

/// Keys that hold the name of a name/value pair object, and those that hold its value.
const PAIR_NAMES: &[&str] = &["name", "key", "parameterkey", "parametername", "variable"];
const PAIR_VALUES: &[&str] = &["value", "parametervalue", "secretvalue"];

/// The name of a name/value pair whose value is secret: the same names as in a pair written
/// as text (`secret_env_name!`), whole.
fn secret_pair_name() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(concat!(r"(?i)^", secret_env_name!(), r"$"))
            .unwrap_or_else(|e| panic!("secret pair name pattern: {e}"))
    })
}

/// A check on a candidate: the line and the value's byte range.
type Check = fn(&str, usize, usize) -> bool;

/// `(kind, pattern, check)`; an empty pattern means the key=value parser. The vendor token table
/// ([`crate::vendor_tokens`]) goes in before the generic rules (URL passwords, `Authorization`,
/// key=value), so that a token in a `key=value` pair is named by its vendor.
fn rules() -> Vec<(&'static str, &'static str, Option<Check>, Gate)> {
    let mut rules = built_in_rules();
    let at = rules
        .iter()
        .position(|r| r.0 == "url_password")
        .unwrap_or(rules.len());
    rules.splice(
        at..at,
        crate::vendor_tokens::VENDOR_TOKENS
            .iter()
            .map(|t| (t.kind, t.pattern, None, Gate::Needles(t.gate))),
    );
    rules
}

fn built_in_rules() -> Vec<(&'static str, &'static str, Option<Check>, Gate)> {
    vec![
        // Whole-token formats, most specific first.
        (
            "private_key",
            r"(?s)-----BEGIN[A-Z ]*PRIVATE KEY-----.*?(?:-----END[A-Z ]*PRIVATE KEY-----|$)",
            None,
            Gate::Needles(&["-----BEGIN"]),
        ),
        // A PEM body logged one line per event (RFC 7468: 64 base64 characters a line): a
        // whole 64-character base64 run with mixed case and digits, not a hex digest.
        (
            "private_key",
            r#"(?:^|[\s:="'])(?P<v>[A-Za-z0-9+/]{64})(?:$|[\s"',])"#,
            Some(pem_line),
            Gate::Line(has_base64_run_of_64),
        ),
        // Its last line: shorter, padded with `=`, an event of its own.
        (
            "private_key",
            r"^\s*(?P<v>[A-Za-z0-9+/]{16,63}={1,2})\s*$",
            Some(pem_line),
            Gate::Line(|l| l.len() >= 17 && l.len() <= 80 && l.trim_end().ends_with('=')),
        ),
        (
            "jwt",
            r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}",
            None,
            Gate::Needles(&["eyJ"]),
        ),
        (
            "aws_access_key_id",
            r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}\b",
            None,
            Gate::Needles(&[
                "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "ABIA", "ACCA",
            ]),
        ),
        (
            "aws_session_token",
            r"(?:IQoJb3JpZ2lu|FwoGZXIvYXdz|FQoGZXIvYXdz)[A-Za-z0-9/+=]{20,}",
            None,
            Gate::Needles(&["IQoJb3JpZ2lu", "FwoGZXIvYXdz", "FQoGZXIvYXdz"]),
        ),
        (
            "aws_secret_access_key",
            r#"(?i)aws_?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?(?P<v>[A-Za-z0-9/+=]{40})"#,
            None,
            Gate::Needles(&["secret"]),
        ),
        (
            "github_token",
            r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
            None,
            Gate::Needles(&["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"]),
        ),
        (
            "gitlab_token",
            r"\bglpat-[A-Za-z0-9_-]{20,}",
            None,
            Gate::Needles(&["glpat-"]),
        ),
        (
            "slack_webhook",
            r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+",
            None,
            Gate::Needles(&["hooks.slack.com/"]),
        ),
        (
            "slack_token",
            r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
            None,
            Gate::Needles(&["xox"]),
        ),
        (
            "stripe_key",
            r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}|\bwhsec_[A-Za-z0-9]{16,}",
            None,
            Gate::Needles(&["_live_", "_test_", "whsec_"]),
        ),
        (
            "gcp_api_key",
            r"\bAIza[0-9A-Za-z_-]{35}",
            None,
            Gate::Needles(&["AIza"]),
        ),
        (
            "sendgrid_key",
            r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}",
            None,
            Gate::Needles(&["SG."]),
        ),
        (
            "twilio_key",
            r"\b(?:SK|AC)[0-9a-f]{32}\b",
            None,
            Gate::Line(|l| l.contains("SK") || l.contains("AC")),
        ),
        (
            "npm_token",
            r"\bnpm_[A-Za-z0-9]{36}\b",
            None,
            Gate::Needles(&["npm_"]),
        ),
        (
            "pypi_token",
            r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{20,}",
            None,
            Gate::Needles(&["pypi-AgEIcHlwaS5vcmc"]),
        ),
        (
            "llm_api_key",
            r"\bsk-(?:ant-(?:api|admin)\d\d-|proj-|svcacct-)?[A-Za-z0-9_-]{32,}",
            None,
            Gate::Needles(&["sk-"]),
        ),
        (
            "datadog_api_key",
            r#"(?i)\b(?:dd|datadog)_?(?:api|app(?:lication)?)_?key["']?\s*[:=]\s*["']?(?P<v>[a-f0-9]{32,40})\b"#,
            None,
            Gate::Needles(&["ddapi", "dd_api", "ddapp", "dd_app", "datadog"]),
        ),
        (
            "azure_storage_key",
            r"(?i)\bAccountKey=(?P<v>[A-Za-z0-9+/]{40,}={0,2})",
            None,
            Gate::Needles(&["accountkey="]),
        ),
        (
            "url_password",
            r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:(?P<v>[^\s/]+)@[A-Za-z0-9.-]+",
            None,
            Gate::Needles(&["://"]),
        ),
        // Signed URLs: S3/SigV4 and CloudFront signatures and session tokens, GCS signatures,
        // Azure SAS `sig` (https://learn.microsoft.com/rest/api/storageservices/create-service-sas),
        // and OAuth authorization codes (RFC 6749 4.1.2) in query strings.
        (
            "url_signature",
            r"(?i)[?&](?:x-amz-signature|x-amz-security-token|x-amz-credential|x-goog-signature|x-goog-credential|signature|sig)=(?P<v>[^&\s\x22'#<>]{8,})",
            None,
            Gate::Needles(&["signature=", "sig=", "token=", "credential="]),
        ),
        (
            "oauth_code",
            r"(?i)[?&]code=(?P<v>[^&\s\x22'#<>]{10,})",
            None,
            Gate::Needles(&["code="]),
        ),
        (
            "bearer_token",
            r"(?i)\bbearer\s+(?P<v>[A-Za-z0-9._~+/=-]{12,})",
            None,
            Gate::Needles(&["bearer"]),
        ),
        (
            "basic_auth",
            r"(?i)\bbasic\s+(?P<v>[A-Za-z0-9+/]{12,}={0,2})",
            None,
            Gate::Needles(&["basic"]),
        ),
        // The credential of an `Authorization` header of any scheme (RFC 9110 11.6.2: `scheme
        // token` or `scheme param=value`): `Token …`, `ApiKey …`, `SSWS …`, `Bot …`, `Negotiate …`.
        (
            "auth_credential",
            r#"(?i)\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?(?:[A-Za-z][A-Za-z0-9_-]{1,20}\s+)?(?:[A-Za-z]+=["']?)?(?P<v>[A-Za-z0-9._~+/=:%-]{8,})"#,
            Some(not_masked),
            Gate::Needles(&["authorization"]),
        ),
        // Passwords and tokens on command lines: `--password hunter2`, `--api-token x` (the
        // `--name=value` form is the key=value rule's), MySQL clients' `-pPASSWORD` (no space:
        // https://dev.mysql.com/doc/refman/8.0/en/connection-options.html#option_general_password),
        // `sshpass -p`, `redis-cli -a`, `curl -u user:password`.
        (
            "password_or_secret",
            r#"(?i)(?:^|[\s"'\[,])--?(?:[a-z0-9]+-)*(?:password|passwd|pass|pwd|secret|token|api-?key|access-?key|secret-?key|private-?key|client-?secret)["']?(?:\s+|["']?,\s*["'])["']?(?P<v>[^\s"'\-,\]][^\s"',\]]*)"#,
            Some(not_masked),
            Gate::Needles(&["pass", "pwd", "secret", "token", "key"]),
        ),
        (
            "password_or_secret",
            r#"(?i)\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mysqlpump|mysqlsh|mariadb|mariadb-dump|mariadb-admin)\b[^\n|;&]{0,200}?[\s"'\[,]-p(?P<v>[^\s"',\]]+)"#,
            Some(not_masked),
            Gate::Needles(&["mysql", "mariadb"]),
        ),
        (
            "password_or_secret",
            r#"(?i)\b(?:sshpass\b[^\n|;&]{0,100}?\s-p|redis-cli\b[^\n|;&]{0,200}?\s(?:-a|--pass))\s*["']?(?P<v>[^\s"']+)"#,
            Some(not_masked),
            Gate::Needles(&["sshpass", "redis-cli"]),
        ),
        (
            "password_or_secret",
            r#"(?i)\bcurl\b[^\n|;&]{0,200}?\s(?:-u|--user)\s+["']?[^\s:"']+:(?P<v>[^\s"']+)"#,
            Some(not_masked),
            Gate::Needles(&["curl"]),
        ),
        // `"name": "X_SECRET", "value": "…"` pairs (container environment in CloudTrail, parameter
        // and tag lists), in either key order: a name with a secret word anywhere in it
        // (`DB_PASSWORD`, `SECRET_KEY_BASE`, `GITHUB_AUTH`, `GPG_PASSPHRASE`), or Bundler's
        // credentials for a gem source (`BUNDLE_GEMS__EXAMPLE__COM`, whose value is
        // `user:password`: https://bundler.io/man/bundle-config.1.html, "Credentials for gem
        // sources").
        (
            "password_or_secret",
            concat!(
                r#"(?i)"name"\s*:\s*""#,
                secret_env_name!(),
                r#""\s*,\s*"value"\s*:\s*"(?P<v>(?:[^"\\]|\\.)+)"?"#
            ),
            Some(not_masked),
            Gate::Needles(&["\"value\""]),
        ),
        (
            "password_or_secret",
            concat!(
                r#"(?i)"value"\s*:\s*"(?P<v>(?:[^"\\]|\\.)+)"\s*,\s*"name"\s*:\s*""#,
                secret_env_name!(),
                r#"""#
            ),
            Some(not_masked),
            Gate::Needles(&["\"name\""]),
        ),
        // Mailchimp API keys: 32 hex digits and the data centre (`-us21`),
        // https://mailchimp.com/developer/marketing/guides/quick-start/#generate-your-api-key
        (
            "mailchimp_key",
            r"\b[0-9a-f]{32}-us[0-9]{1,2}\b",
            None,
            Gate::Needles(&["-us"]),
        ),
        // key=value, key: value, "key": "value", 'key': 'value'.
        (
            "password_or_secret",
            "",
            Some(not_masked),
            Gate::Needles(&[
                "pass",
                "pwd",
                "secret",
                "token",
                "key",
                "credential",
                "session",
                "sid",
                "cookie",
            ]),
        ),
        (
            "card_cvv",
            r#"(?i)\b(?:cvv2?|cvc2?|cid|security_?code)["']?\s*[:=]\s*["']?(?P<v>\d{3,4})\b"#,
            None,
            Gate::Needles(&["cvv", "cvc", "cid", "security"]),
        ),
        (
            "ssn",
            r"\b(?P<v>\d{3}-\d{2}-\d{4})\b",
            Some(valid_ssn),
            Gate::Shape(|s| s.ssn_like),
        ),
        (
            "iban",
            r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b",
            Some(valid_iban),
            Gate::Shape(|s| s.caps_then_digits),
        ),
        (
            "card_number",
            r"\b\d(?:[ -]?\d){12,18}\b",
            Some(valid_card),
            Gate::Shape(|s| s.longest_spaced_digits >= 13),
        ),
        (
            "email",
            r"\b[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b",
            Some(valid_email),
            Gate::Needles(&["@"]),
        ),
        (
            "aws_account_id",
            r"\barn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:(?P<v>\d{12})(?::|/|\b)",
            None,
            Gate::Needles(&["arn:aws"]),
        ),
        (
            "aws_account_id",
            r#"(?i)account(?:[_-]?id)?["']?\s*[:=]?\s*["']?(?P<v>\d{12})\b"#,
            None,
            Gate::Needles(&["account"]),
        ),
        (
            "aws_account_id",
            r"\b(?P<v>\d{12})\.dkr\.ecr\.",
            None,
            Gate::Needles(&[".dkr.ecr."]),
        ),
        (
            "aws_account_id",
            r"[A-Za-z0-9]-(?P<v>\d{12})-[A-Za-z]",
            None,
            Gate::Shape(|s| s.dashed_twelve_digits),
        ),
        (
            "aws_account_id",
            r"(?m)(?:^|\s)2 (?P<v>\d{12}) eni-[0-9a-f]+",
            None,
            Gate::Needles(&[" eni-"]),
        ),
        (
            "phone",
            r"\+\d{1,3}[ -]?\(?\d{1,4}\)?(?:[ -]?\d{2,4}){2,4}\b",
            Some(valid_phone),
            Gate::Shape(|s| s.plus_digit && s.digits >= 8),
        ),
        (
            "phone",
            r"\(\d{3}\) ?\d{3}-\d{4}\b",
            None,
            Gate::Shape(|s| s.paren_three_digits && s.digits >= 10),
        ),
        // North American numbers written `312-555-0172` / `312.555.0172` (NANP: area and exchange
        // codes start with 2-9), and numbers of any national format after a word that names them.
        (
            "phone",
            r"\b[2-9]\d{2}[-.][2-9]\d{2}[-.]\d{4}\b",
            Some(nanp_phone),
            Gate::Shape(|s| s.digits >= 10),
        ),
        (
            "phone",
            r#"(?i)\b(?:phone|telephone|tel|mobile|cell|fax|sms|whatsapp|msisdn)(?:[_-]?(?:number|no|num))?["']?\s*(?:[:=]|to\b)?\s*["']?(?P<v>\+?\d[\d .-]{6,16}\d)\b"#,
            Some(valid_phone),
            Gate::Needles(&[
                "phone", "tel", "mobile", "cell", "fax", "sms", "whatsapp", "msisdn",
            ]),
        ),
        // EC2 host names carry the address (`ip-10-0-1-23.ec2.internal`, `ec2-54-1-2-3.compute-1.
        // amazonaws.com`, https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-naming.html):
        // masked whole, with the pseudonym of the address, so name and address stay one host.
        (
            "ipv4",
            r"\b(?:ip|ec2)-\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3}(?:\.[A-Za-z0-9-]+)*",
            Some(valid_ec2_name),
            Gate::Needles(&["ip-", "ec2-"]),
        ),
        (
            "ipv4",
            r"\b(?:\d{1,3}\.){3}\d{1,3}\b",
            Some(valid_ipv4),
            Gate::Shape(|s| s.dots_between_digits >= 3),
        ),
        (
            "ipv6",
            r"(?i)(?:[0-9a-f]{1,4}:){2,7}(?::|[0-9a-f]{1,4})(?::?[0-9a-f]{1,4}){0,6}",
            Some(valid_ipv6),
            Gate::Shape(|s| s.double_colon || s.colons >= 6),
        ),
    ]
}

/// The key of a key=value pair (`DB_PASSWORD=`, `"password": `, `x-api-key: `); the value is
/// read by [`kv_value`], which can tell a value from the next key (`credentials: token=…`).
fn kv_pattern() -> String {
    // No leading boundary: leftmost-first matching starts at the key's first character, and a
    // boundary group would swallow the space before a following key.
    format!(r#"(?i)["']?[A-Za-z0-9_.-]*{SECRET_KEY_NAME}["']?\s*[:=]\s*"#)
}

/// The value starting at `p`: quoted (up to the closing quote) or bare (up to a delimiter,
/// keeping base64 `=` padding). `None` when the bare word is itself the key of a nested pair.
fn kv_value(line: &str, p: usize) -> Option<(usize, usize)> {
    let rest = &line[p..];
    let first = rest.chars().next()?;
    if first == '"' || first == '\'' {
        // Up to the closing quote, past backslash-escaped ones; a value whose closing quote was
        // cut off runs to the end of the string.
        let body = &rest[1..];
        let mut escaped = false;
        let close = body
            .char_indices()
            .find(|&(_, c)| {
                let closes = c == first && !escaped;
                escaped = c == '\\' && !escaped;
                closes
            })
            .map_or(body.len(), |(i, _)| i);
        return (close > 0).then_some((p + 1, p + 1 + close));
    }
    let run = rest
        .find(|c: char| {
            c.is_whitespace() || matches!(c, ',' | ';' | '&' | '"' | '\'' | '}' | ']' | ')' | '=')
        })
        .unwrap_or(rest.len());
    let after = &rest[run..];
    let padding = after.len() - after.trim_start_matches('=').len();
    let next = after[padding..].chars().next();
    if padding > 0
        && next.is_some_and(|c| {
            !c.is_whitespace() && !matches!(c, ',' | ';' | '&' | '"' | '\'' | '}' | ']' | ')')
        })
    {
        return None; // `key=value` nested inside this value: its own key will be matched
    }
    (run > 0).then_some((p, p + run + padding))
}

/// The secret values after a key at `p`: one value ([`kv_value`]), or, when the key holds a
/// JSON array or object (`"password": ["a", "b"]`, `"apiKey": {"current": "x"}`), every string
/// and number in it that is not an object key, up to the closing bracket (or 4 KiB, or the end
/// of a line cut short).
fn kv_values(line: &str, p: usize) -> Vec<(usize, usize)> {
    let b = line.as_bytes();
    // A mask already there (`key=[password_or_secret:1a2b]`) is not an array.
    let is_mask = b.get(p) == Some(&b'[')
        && line[p..]
            .find(']')
            .is_some_and(|e| is_mask(&line[p..=p + e]));
    // JSON starts with a value or a key after the bracket; `[password_or_secret:…` (a mask cut
    // short) or `[see docs]` is prose, one value.
    let bracket = matches!(b.get(p), Some(b'[' | b'{'));
    // (After an ASCII bracket, `p + 1` is a character boundary.)
    let json_like = bracket
        && line[p + 1..].trim_start().starts_with(|c: char| {
            matches!(c, '"' | '{' | '[' | ']' | '}' | '-') || c.is_ascii_digit()
        });
    if !json_like || is_mask {
        return kv_value(line, p).into_iter().collect();
    }
    // Within the line: a value never runs on into the next one.
    let line_end = line[p..].find('\n').map_or(b.len(), |n| p + n);
    let end = (p + 4096).min(line_end);
    let mut out = Vec::new();
    let mut numbers = Vec::new();
    let mut depth = 0usize;
    let mut closed = false;
    let mut i = p;
    while i < end {
        match b[i] {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    closed = true;
                    break;
                }
            }
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                let close = j.min(b.len());
                let after = line[close.min(b.len())..].trim_start_matches(['"', ' ']);
                if !after.starts_with(':') && close > start {
                    out.push((start, close));
                }
                i = close + 1;
                continue;
            }
            c if c.is_ascii_digit() => {
                let start = i;
                while i < end && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                numbers.push((start, i));
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    if !closed && i < line_end {
        // Brackets that do not close within the bound are prose, not a JSON value: one value.
        return kv_value(line, p).into_iter().collect();
    }
    // Numbers only inside a structure that closes: a value cut off at the end of the line may
    // be JSON cut short (its strings are masked) or prose (whose numbers are not secrets).
    if closed {
        out.extend(numbers);
        out.sort_unstable();
    }
    out
}

/// Whether `s` is exactly a pseudonym this redactor writes, `[kind:1a2b]`.
pub fn is_mask(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return false;
    };
    inner.split_once(':').is_some_and(|(kind, tag)| {
        !kind.is_empty()
            && kind
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
            && tag.len() == 4
            && tag
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    })
}

/// Values that are already masked, empty placeholders, or references, not secrets.
fn not_masked(line: &str, start: usize, end: usize) -> bool {
    let t = line[start..end].trim();
    if t.is_empty() || t.len() < 3 {
        return false;
    }
    let lower = t.to_ascii_lowercase();
    let placeholder = t
        .chars()
        .all(|c| matches!(c, '*' | 'x' | 'X' | '#' | '•' | '.' | '…'))
        || (t.starts_with('<') && t.ends_with('>'))
        || (t.starts_with('[') && t.ends_with(']'))
        || t.starts_with("${")
        || (t.starts_with('$')
            && t[1..]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))
        || t.starts_with("{{")
        || [
            "redacted",
            "masked",
            "hidden",
            "null",
            "none",
            "undefined",
            "true",
            "false",
            "changeme",
        ]
        .contains(&lower.as_str());
    !placeholder
}

fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn valid_card(line: &str, start: usize, end: usize) -> bool {
    let v = &line[start..end];
    let digits: Vec<u32> = v.chars().filter_map(|c| c.to_digit(10)).collect();
    let n = digits.len();
    if !(13..=19).contains(&n) || !luhn(&digits) {
        return false;
    }
    // Separators, when present, must be consistent (all spaces or all dashes).
    if v.contains(' ') && v.contains('-') {
        return false;
    }
    let prefix = |k: usize| digits.iter().take(k).fold(0u32, |a, d| a * 10 + d);
    let (p1, p2, p3, p4) = (prefix(1), prefix(2), prefix(3), prefix(4));
    match p1 {
        4 => matches!(n, 13 | 16 | 19),
        5 => (51..=55).contains(&p2) && n == 16,
        2 => (2221..=2720).contains(&p4) && n == 16,
        3 => {
            ((p2 == 34 || p2 == 37) && n == 15)
                || ((3528..=3589).contains(&p4) && n >= 16)
                || ((300..=305).contains(&p3) || p2 == 36 || p2 == 38) && n == 14
        }
        6 => (p4 == 6011 || p2 == 65 || (644..=649).contains(&p3)) && n >= 16,
        _ => false,
    }
}

fn valid_ssn(line: &str, start: usize, end: usize) -> bool {
    let v = &line[start..end];
    let area: u32 = v[0..3].parse().unwrap_or(0);
    let group: u32 = v[4..6].parse().unwrap_or(0);
    let serial: u32 = v[7..11].parse().unwrap_or(0);
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

fn valid_iban(line: &str, start: usize, end: usize) -> bool {
    let v = &line[start..end];
    let compact: String = v.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let rearranged = format!("{}{}", &compact[4..], &compact[..4]);
    let mut rem: u64 = 0;
    for c in rearranged.chars() {
        let val = match c.to_digit(36) {
            Some(d) => d as u64,
            None => return false,
        };
        rem = if val >= 10 {
            (rem * 100 + val) % 97
        } else {
            (rem * 10 + val) % 97
        };
    }
    rem == 1
}

const FILE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "css", "js", "mjs", "ts", "json", "txt",
    "log", "html", "htm", "xml", "yaml", "yml", "toml", "md", "pdf", "zip", "gz", "tar", "jar",
    "py", "rb", "go", "rs", "java", "class", "so", "dll", "exe", "bin", "csv", "map", "woff",
    "woff2", "ttf",
];

fn valid_email(line: &str, start: usize, end: usize) -> bool {
    let v = &line[start..end];
    let Some((local, domain)) = v.rsplit_once('@') else {
        return false;
    };
    let tld = domain
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    // `git@github.com:org/repo.git` is an SSH remote, not a person.
    if local == "git" {
        return false;
    }
    // `logo@2x.png`, `lodash@4.17.21.tgz`: a file or package name when the labels are numbers
    // (a version), or one is a number or scale factor before a file extension.
    let labels: Vec<&str> = domain.split('.').collect();
    let numeric = |l: &&str| {
        let l = l.strip_suffix(['x', 'X']).unwrap_or(l);
        !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit())
    };
    let before_tld = &labels[..labels.len() - 1];
    if before_tld.iter().all(numeric)
        || (before_tld.iter().any(numeric) && FILE_EXTENSIONS.contains(&tld.as_str()))
    {
        return false;
    }
    // Extensions that are also top-level domains (Serbia, Paraguay, Somalia, Moldova, Saint
    // Helena, Poland, Palestine, and the `.zip`/`.mov` gTLDs) are addresses.
    const ALSO_TLDS: &[&str] = &["rs", "py", "so", "md", "sh", "pl", "ps", "zip", "mov"];
    !FILE_EXTENSIONS.contains(&tld.as_str()) || ALSO_TLDS.contains(&tld.as_str())
}

/// Whether `line` has 64 base64 characters in a row: the PEM-line rule's gate, one byte loop
/// instead of a capturing regex over every long line.
fn has_base64_run_of_64(line: &str) -> bool {
    if line.len() < 64 {
        return false;
    }
    let mut run = 0usize;
    for &c in line.as_bytes() {
        if c.is_ascii_alphanumeric() || c == b'+' || c == b'/' {
            run += 1;
            if run >= 64 {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// A 64-character PEM body line: mixed case and digits (not a hex digest or a word run).
fn pem_line(line: &str, start: usize, end: usize) -> bool {
    let v = &line.as_bytes()[start..end];
    v.iter().any(u8::is_ascii_uppercase)
        && v.iter().any(u8::is_ascii_lowercase)
        && v.iter().any(u8::is_ascii_digit)
        && !v.iter().all(u8::is_ascii_hexdigit)
}

/// `312-555-0172`: one separator throughout.
fn nanp_phone(line: &str, start: usize, end: usize) -> bool {
    let v = &line.as_bytes()[start..end];
    v[3] == v[7] && !version_context(line, start, end)
}

/// The octets of `ip-10-0-1-23…` are an address.
fn valid_ec2_name(line: &str, start: usize, end: usize) -> bool {
    ec2_name_address(&line[start..end]).is_some()
}

/// `10.0.1.23` from `ip-10-0-1-23.ec2.internal` or `ec2-10-0-1-23.compute-1.amazonaws.com`.
fn ec2_name_address(name: &str) -> Option<String> {
    let rest = name
        .strip_prefix("ip-")
        .or_else(|| name.strip_prefix("ec2-"))?;
    let octets: Vec<&str> = rest.split(['-', '.']).take(4).collect();
    (octets.len() == 4
        && octets.iter().all(|o| {
            o.parse::<u16>().is_ok_and(|n| n <= 255) && !(o.len() > 1 && o.starts_with('0'))
        }))
    .then(|| octets.join("."))
}

fn valid_phone(line: &str, start: usize, end: usize) -> bool {
    let v = &line[start..end];
    let n = v.chars().filter(char::is_ascii_digit).count();
    (8..=15).contains(&n)
}

fn valid_ipv4(line: &str, start: usize, end: usize) -> bool {
    let v = &line[start..end];
    !version_context(line, start, end)
        && v.split('.').all(|o| {
            o.parse::<u16>().is_ok_and(|n| n <= 255) && !(o.len() > 1 && o.starts_with('0'))
        })
}

fn valid_ipv6(line: &str, start: usize, end: usize) -> bool {
    let v = &line[start..end];
    v.matches(':').count() >= 3 && v.parse::<std::net::Ipv6Addr>().is_ok()
}

/// Context that makes a dotted quad a version number, not an address.
fn version_context(line: &str, start: usize, end: usize) -> bool {
    let before = &line[..start];
    let after = &line[end..];
    // A full stop ends a sentence; only `.digit` continues a version (`1.2.3.4.5`).
    let continues_version =
        after.starts_with('.') && after[1..].starts_with(|c: char| c.is_ascii_digit());
    if before.ends_with('/')
        || before.ends_with('v')
        || before.ends_with('V')
        || continues_version
        || after.starts_with(|c: char| c.is_ascii_alphanumeric())
        || before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '.')
    {
        return true;
    }
    let word = before
        .trim_end()
        .rsplit(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    // Words that name a version. Not `build`, `agent`, `kernel`, `os`: "build agent 10.0.0.5"
    // is a host, and a real four-part build number (`10.0.19041.1`) is no address anyway.
    [
        "version", "ver", "firmware", "bios", "release", "rev", "revision", "fw", "chrome",
        "firefox", "safari",
    ]
    .contains(&word.as_str())
}

impl Default for Redactor {
    fn default() -> Self {
        Self::new(b"convops-default-pseudonym-key")
    }
}

impl Redactor {
    /// The built-in rules, with `key` for pseudonyms (keep it per workspace and secret).
    pub fn new(key: &[u8]) -> Self {
        let rules = rules()
            .into_iter()
            .map(|(kind, pat, check, gate)| {
                let key_value = pat.is_empty();
                let pat = if key_value {
                    kv_pattern()
                } else {
                    pat.to_owned()
                };
                Rule {
                    kind,
                    has_v: names_v(&pat),
                    re: LazyRegex::new(pat),
                    gate,
                    check,
                    key_value,
                }
            })
            .collect::<Vec<_>>();
        Redactor {
            prefilter: Prefilter::new(&rules),
            rules,
            key: key.to_vec(),
            mask_re: Regex::new(r"\[[a-z0-9_]+:[0-9a-f]{4}\]")
                .unwrap_or_else(|e| panic!("mask pattern: {e}")),
        }
    }

    /// The rules' regular expressions (the key=value rule's is its key pattern), e.g. to give the
    /// same patterns to another scanner in a benchmark.
    pub fn patterns(&self) -> Vec<String> {
        self.rules
            .iter()
            .map(|r| r.re.as_str().to_owned())
            .collect()
    }

    /// The same rules with another pseudonym key (cheap: compiled regexes are shared).
    pub fn rekeyed(&self, key: &[u8]) -> Redactor {
        Redactor {
            key: key.to_vec(),
            ..self.clone()
        }
    }

    /// Add a user-defined rule: `pattern` is a regex; its group `v` (or the whole match) is masked
    /// as `[name:xxxx]`.
    pub fn with_rule(mut self, name: &str, pattern: &str) -> Result<Self, RuleError> {
        let err = |message: String| RuleError {
            name: name.to_owned(),
            message,
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(err("name must be lowercase letters, digits and '_'".into()));
        }
        let re = Regex::new(pattern).map_err(|e| err(e.to_string().replace('\n', " ")))?;
        let kind: &'static str = Box::leak(name.to_owned().into_boxed_str());
        let user_has_v = has_v(&re);
        self.rules.insert(
            0,
            Rule {
                kind,
                re: LazyRegex::compiled(re),
                gate: Gate::Always,
                has_v: user_has_v,
                check: None,
                key_value: false,
            },
        );
        self.prefilter = Prefilter::new(&self.rules);
        Ok(self)
    }

    fn pseudonym(&self, kind: &str, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(kind.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!("[{kind}:{:02x}{:02x}]", tag[0], tag[1])
    }

    /// The sensitive spans of `line`: `(start, end, kind)`, sorted and non-overlapping. Where
    /// candidates overlap, the earlier (more specific) rule wins.
    pub fn find(&self, line: &str) -> Vec<(usize, usize, &'static str)> {
        let open = self.prefilter.open(&self.rules, line);
        if open.is_empty() {
            return Vec::new();
        }
        // Masks already in the line, in order and disjoint: a binary search finds the one that
        // could overlap a candidate.
        let masks: Vec<(usize, usize)> = self
            .mask_re
            .find_iter(line)
            .map(|m| (m.start(), m.end()))
            .collect();
        let inside_mask = |s: usize, e: usize| {
            let i = masks.partition_point(|&(_, me)| me <= s);
            masks.get(i).is_some_and(|&(ms, _)| ms < e)
        };
        // Accepted spans by start, disjoint: the neighbours of a candidate decide an overlap, so
        // checking costs a logarithm, not a scan of every earlier span.
        let mut taken: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
        let overlaps = |taken: &std::collections::BTreeMap<usize, usize>, s: usize, e: usize| {
            taken.range(..e).next_back().is_some_and(|(_, &b)| b > s)
        };
        let mut accepted: Vec<(usize, usize, &'static str)> = Vec::new();
        for rule in open.iter().map(|&i| &self.rules[i]) {
            let candidates: Vec<(usize, usize)> = if rule.key_value {
                rule.re
                    .get()
                    .find_iter(line)
                    .flat_map(|m| kv_values(line, m.end()))
                    .collect()
            } else if !rule.has_v {
                rule.re
                    .get()
                    .find_iter(line)
                    .map(|m| (m.start(), m.end()))
                    .collect()
            } else {
                rule.re
                    .get()
                    .captures_iter(line)
                    .filter_map(|caps| {
                        caps.name("v")
                            .or_else(|| caps.get(0))
                            .map(|m| (m.start(), m.end()))
                    })
                    .collect()
            };
            for (s, e) in candidates {
                if s == e || inside_mask(s, e) || overlaps(&taken, s, e) {
                    continue;
                }
                if rule.check.is_some_and(|check| !check(line, s, e)) {
                    continue;
                }
                taken.insert(s, e);
                accepted.push((s, e, rule.kind));
            }
        }
        accepted.sort_by_key(|a| a.0);
        accepted
    }

    /// Redact one line (or any text). Returns the input unchanged and unallocated when nothing
    /// sensitive is found.
    pub fn redact<'a>(&self, line: &'a str) -> Cow<'a, str> {
        let spans = self.find(line);
        if spans.is_empty() {
            return Cow::Borrowed(line);
        }
        let mut out = String::with_capacity(line.len());
        let mut pos = 0;
        for (s, e, kind) in spans {
            out.push_str(&line[pos..s]);
            // An EC2 host name gets its address's pseudonym: one host, however it is written.
            let value = match ec2_name_address(&line[s..e]) {
                Some(address) if kind == "ipv4" => Cow::Owned(address),
                _ => Cow::Borrowed(&line[s..e]),
            };
            out.push_str(&self.pseudonym(kind, &value));
            pos = e;
        }
        out.push_str(&line[pos..]);
        Cow::Owned(out)
    }

    /// Redact every string inside a JSON value, in place, object keys included; everything under
    /// a key that names a secret (`password`, `clientSecret`, `apiKey`: strings, numbers, and the
    /// leaves of arrays and objects) is masked whole. Returns how many strings changed.
    pub fn redact_json(&self, value: &mut serde_json::Value) -> usize {
        match value {
            serde_json::Value::String(s) => match self.redact(s) {
                Cow::Owned(r) => {
                    *s = r;
                    1
                }
                Cow::Borrowed(_) => 0,
            },
            serde_json::Value::Array(items) => items.iter_mut().map(|v| self.redact_json(v)).sum(),
            serde_json::Value::Object(map) => {
                let mut changed = 0;
                // A name/value pair object (`{"name": "DB_PASSWORD", "value": …}`: container
                // environments, parameter and tag lists; `Key`/`ParameterKey` spellings too):
                // the value is secret when the name is.
                let secret_pair = map.iter().any(|(k, v)| {
                    PAIR_NAMES.iter().any(|n| n.eq_ignore_ascii_case(k))
                        && v.as_str()
                            .is_some_and(|name| secret_pair_name().is_match(name))
                });
                let old = std::mem::take(map);
                for (k, mut v) in old {
                    let pair_value =
                        secret_pair && PAIR_VALUES.iter().any(|n| n.eq_ignore_ascii_case(&k));
                    changed += if pair_value || secret_key_name().is_match(&k) {
                        self.mask_all(&mut v)
                    } else {
                        self.redact_json(&mut v)
                    };
                    let key = match self.redact(&k) {
                        Cow::Owned(r) => {
                            changed += 1;
                            r
                        }
                        Cow::Borrowed(_) => k,
                    };
                    map.insert(key, v);
                }
                changed
            }
            _ => 0,
        }
    }

    /// Masks every leaf under a secret key: strings and numbers become pseudonyms (placeholders
    /// such as `null`, `""` or `"${VAR}"` stay); booleans stay.
    fn mask_all(&self, value: &mut serde_json::Value) -> usize {
        match value {
            serde_json::Value::String(s)
                if not_masked(s, 0, s.len()) && !self.mask_re.is_match(s) =>
            {
                *s = self.pseudonym("password_or_secret", s);
                1
            }
            serde_json::Value::Number(n) => {
                let text = n.to_string();
                *value = serde_json::Value::String(self.pseudonym("password_or_secret", &text));
                1
            }
            serde_json::Value::Array(items) => items.iter_mut().map(|v| self.mask_all(v)).sum(),
            serde_json::Value::Object(map) => map.values_mut().map(|v| self.mask_all(v)).sum(),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipping_finds_the_first_digit_or_colon() {
        for s in [
            "",
            "abc",
            "abcdefghijklmnop9",
            "é€ü:x",
            "abcdefgh:",
            "zzzzzzz0",
            "/;<=>?@ 5",
        ] {
            let want = s
                .bytes()
                .position(|c| c.is_ascii_digit() || c == b':')
                .unwrap_or(s.len());
            let mut i = 0;
            // False hits on non-ASCII bytes may stop early: keep skipping as `Shape::of` does.
            loop {
                i = skip_to_digit_or_colon(s.as_bytes(), i);
                if i >= s.len() || s.as_bytes()[i].is_ascii_digit() || s.as_bytes()[i] == b':' {
                    break;
                }
                i += 1;
            }
            assert_eq!(i, want, "{s:?}");
        }
    }

    #[test]
    fn every_built_in_rule_compiles_and_its_v_group_is_read_from_the_text() {
        let r = Redactor::default();
        assert!(r.rules.len() > 200, "{} rules", r.rules.len());
        for rule in &r.rules {
            assert!(
                rule.re.0 .1.get().is_none(),
                "{} compiled before any line opened it",
                rule.kind
            );
            let compiled = rule.re.get();
            assert_eq!(rule.has_v, has_v(compiled), "{}", rule.kind);
        }
        // A clone made before compiling shares what is compiled later.
        let fresh = Redactor::default();
        let rekeyed = fresh.rekeyed(b"other");
        let _ = fresh.redact("password=hunter2hunter2");
        assert!(rekeyed.rules.iter().any(|r| r.re.0 .1.get().is_some()));
    }

    #[test]
    fn masks_only_the_value_and_keeps_the_rest() {
        let r = Redactor::default();
        let out = r.redact("db connect url=postgres://app:Sup3rS3cret@orders-db:5432/orders ok");
        assert!(!out.contains("Sup3rS3cret"), "{out}");
        assert!(
            out.starts_with("db connect url=postgres://app:[url_password:")
                && out.ends_with("@orders-db:5432/orders ok"),
            "{out}"
        );
        let out = r.redact(r#"{"password":"hunter2x","user":"bob"}"#);
        assert!(
            out.starts_with(r#"{"password":"[password_or_secret:"#)
                && out.ends_with(r#"]","user":"bob"}"#),
            "{out}"
        );
    }

    #[test]
    fn pseudonyms_are_consistent_and_keyed() {
        let a = Redactor::new(b"k1");
        let x = a.redact("from 203.0.113.9 and 203.0.113.9 and 203.0.113.10");
        let parts: Vec<&str> = x.split(' ').collect();
        assert_eq!(parts[1], parts[3], "same value, same pseudonym: {x}");
        assert_ne!(parts[1], parts[5], "{x}");
        assert_ne!(
            Redactor::new(b"k2").redact("from 203.0.113.9"),
            a.redact("from 203.0.113.9")
        );
    }

    #[test]
    fn idempotent_and_leaves_placeholders() {
        let r = Redactor::default();
        for line in [
            "password=hunter2x token=abcdefghijkl ip 10.1.2.3 mail a.b@example.com",
            "password=****** token=<redacted> (masked upstream)",
            "firmware 5.7.9.5 applied; bios 2.0.5; chrome/120.0.6099.109",
        ] {
            let once = r.redact(line).into_owned();
            assert_eq!(r.redact(&once), once, "not idempotent for {line:?}");
        }
        assert_eq!(
            r.redact("password=****** token=<redacted>"),
            "password=****** token=<redacted>"
        );
    }

    #[test]
    fn user_rules() {
        let r = Redactor::default()
            .with_rule("employee_id", r"\bEMP-(?P<v>\d{6})\b")
            .expect("rule");
        assert!(r
            .redact("by EMP-123456 today")
            .starts_with("by EMP-[employee_id:"));
        let e = Redactor::default()
            .with_rule("bad", "(")
            .expect_err("invalid");
        assert!(e.to_string().contains("\"bad\""), "{e}");
    }

    #[test]
    fn utf8_and_odd_input_never_panic() {
        let r = Redactor::default();
        for line in [
            "",
            "ü@ä.de",
            "passwörd=geheim",
            "ключ token=секретноезначение",
            "\u{0}\u{ffff}",
            "a@b.c@d.e",
            "::::::::",
            "-----BEGIN PRIVATE KEY-----",
        ] {
            let _ = r.redact(line);
        }
    }
}
