//! Requests to destinations a tenant chose (webhook URLs, Slack webhook and response URLs): no
//! redirects, and no private, loopback, link-local or otherwise non-public address, checked on
//! the addresses actually connected to (a resolver that filters them), so a DNS name that
//! resolves to `169.254.169.254` or `127.0.0.1` at send time cannot smuggle one in. IP literals,
//! which reqwest does not resolve, are checked by [`check_url`] before the request.
//!
//! `allow_private` (`[delivery] allow_private_destinations`) lifts the address rule for a
//! receiver on the operator's own network (and for tests); redirects stay off.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Whether `ip` is an address of the public internet: not loopback, private (RFC 1918, ULA),
/// link-local (the instance metadata service), carrier-grade NAT, unspecified, broadcast,
/// multicast, documentation or benchmarking ranges, nor an IPv4 address mapped into IPv6.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0064 && s[1] == 0xff9b)) // NAT64 (embeds IPv4)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
        || (o[0] == 198 && (o[1] == 18 || o[1] == 19)) // benchmarking
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || o[0] >= 240) // reserved
}

/// Why a destination is refused.
pub fn check_url(url: &str, allow_private: bool) -> Result<(), String> {
    let u = url::Url::parse(url).map_err(|_| "the destination is not a valid URL".to_owned())?;
    if !matches!(u.scheme(), "https" | "http") {
        return Err(format!("scheme {:?} is not allowed", u.scheme()));
    }
    if allow_private {
        return Ok(());
    }
    let ip = match u.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        Some(url::Host::Domain(d)) => {
            if d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
            {
                return Err("the destination is not a public address".into());
            }
            return Ok(());
        }
        None => return Err("the destination has no host".into()),
    };
    if is_public(ip) {
        Ok(())
    } else {
        Err("the destination is not a public address".into())
    }
}

/// Resolves with the system resolver and keeps public addresses only.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                let e: Box<dyn std::error::Error + Send + Sync> =
                    "the destination resolves to no public address".into();
                return Err(e);
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// The client for tenant-chosen destinations.
pub fn client(timeout: Duration, allow_private: bool) -> reqwest::Result<reqwest::Client> {
    let b = reqwest::Client::builder()
        .timeout(timeout)
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none());
    if allow_private {
        b.build()
    } else {
        b.dns_resolver(Arc::new(PublicOnly)).build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!is_public(bad.parse().expect(bad)), "{bad}");
        }
        for good in ["8.8.8.8", "52.94.236.248", "2600:1f18::1"] {
            assert!(is_public(good.parse().expect(good)), "{good}");
        }
    }

    #[test]
    fn urls_with_private_literals_or_odd_schemes_are_refused() {
        for bad in [
            "http://169.254.169.254/latest/meta-data/",
            "https://[::1]:8443/hook",
            "http://localhost:8080/x",
            "http://127.1/x",
            "http://0x7f000001/x",
            "file:///etc/passwd",
            "gopher://example.com/",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_url("http://127.0.0.1:9/x", true).is_ok());
    }
}

#[cfg(test)]
mod resolver_tests {
    use reqwest::dns::Resolve;

    /// The connect-time filter: a name that resolves only to loopback gives no address to
    /// connect to, whatever the URL check let through.
    #[tokio::test]
    async fn names_resolving_to_private_addresses_give_nothing_to_connect_to() {
        let name: reqwest::dns::Name = "localhost".parse().expect("name");
        let result = super::PublicOnly.resolve(name).await;
        let err = result.err().expect("refused");
        assert!(err.to_string().contains("no public address"), "{err}");
    }
}
