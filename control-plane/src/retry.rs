//! The one place that decides what an HTTP answer from a service the control plane calls means
//! for a retry (Slack, WhatsApp, tenants' webhooks, the LLM), and how long to wait.
//!
//! - [`classify`]: 2xx is done; 408, 425, 429 and every 5xx may succeed later (RFC 9110 §15.5.9
//!   and §15.6, RFC 8470 §5.2, RFC 6585 §4); every other status is final.
//! - [`retry_after`]: the `Retry-After` header as delta-seconds or an HTTP date (RFC 9110
//!   §10.2.3), capped so a hostile or broken server cannot park a delivery for days.
//! - [`backoff`]: the wait when the server names none.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

/// The longest wait a `Retry-After` is taken at.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// What an HTTP status means for the request that got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Success,
    /// May succeed later (after the server's [`retry_after`] when it gave one).
    Retry,
    /// Sending it again cannot help.
    Final,
}

/// The verdict on `status`.
pub fn classify(status: StatusCode) -> Verdict {
    match status.as_u16() {
        200..=299 => Verdict::Success,
        408 | 425 | 429 | 500..=599 => Verdict::Retry,
        _ => Verdict::Final,
    }
}

/// The `Retry-After` of `headers`, at most [`MAX_RETRY_AFTER`].
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    parse_retry_after(headers.get(RETRY_AFTER)?.to_str().ok()?)
}

/// A `Retry-After` value: delta-seconds or an HTTP date (a date in the past is no wait), at most
/// [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    let wait = match v.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => httpdate::parse_http_date(v)
            .ok()?
            .duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Backoff before attempt `attempts + 1`: 2 s doubling, at most 5 min, with up to 25% jitter.
pub fn backoff(attempts: i64) -> Duration {
    let base = 2u64.saturating_mul(1 << attempts.clamp(0, 8)).min(300);
    let jitter = rand::random::<u64>() % (base * 250 + 1);
    Duration::from_millis(base * 1000 + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn with_retry_after(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(v).expect("header"));
        h
    }

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).expect("status")
    }

    #[test]
    fn statuses_are_classified_once_for_every_caller() {
        for ok in [200, 201, 204] {
            assert_eq!(classify(status(ok)), Verdict::Success, "{ok}");
        }
        for later in [408, 425, 429, 500, 502, 503, 504, 529] {
            assert_eq!(classify(status(later)), Verdict::Retry, "{later}");
        }
        for never in [400, 401, 403, 404, 410, 413, 422] {
            assert_eq!(classify(status(never)), Verdict::Final, "{never}");
        }
        assert_eq!(
            retry_after(&with_retry_after("7")),
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date_and_is_capped() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        let in_a_minute = std::time::SystemTime::now() + Duration::from_secs(60);
        let d = parse_retry_after(&httpdate::fmt_http_date(in_a_minute)).expect("date");
        assert!(
            d > Duration::from_secs(55) && d <= Duration::from_secs(60),
            "{d:?}"
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO),
            "a date in the past is no wait"
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-3"), None);
        assert_eq!(parse_retry_after("86400"), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn backoff_doubles_to_five_minutes_with_jitter() {
        assert!(backoff(0) >= Duration::from_secs(2) && backoff(0) < Duration::from_secs(3));
        assert!(backoff(3) >= Duration::from_secs(16));
        assert!(backoff(40) <= Duration::from_secs(375));
    }
}
