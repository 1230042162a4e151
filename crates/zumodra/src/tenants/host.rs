//! The host a request is for: the `Host` header (or `X-Forwarded-Host` from a trusted
//! proxy), lower-cased, port and trailing dot dropped. A request that names its host
//! ambiguously is refused (see [`request_host`]).

use axum::http::{header, HeaderMap, Uri};

/// What the host name says, before any database lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKind {
    /// The base domain itself.
    Platform,
    /// Any other syntactically valid host name: `<slug>.<base>` or a custom domain.
    Tenant(String),
    /// Not a host name we could ever serve (empty, IP literal, bad characters, a
    /// subdomain of the base that cannot be a slug).
    Unknown,
}

/// Normalize a `Host` value: lower-case, port and trailing dot dropped. `None` when it
/// is not a DNS host name (IPv6 literals, empty, non-ASCII, over-long labels).
pub fn normalize(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.starts_with('[') {
        return None;
    }
    let name = match raw.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && port.len() <= 5 => name,
        Some(_) => return None,
        None => raw,
    };
    if name.contains(':') || name.ends_with("..") {
        return None;
    }
    zumodra_tenancy::catalog::normalize_domain(name)
}

/// Classify a normalized host against the base domain.
pub fn classify(host: Option<String>, base: &str) -> HostKind {
    let Some(host) = host else {
        return HostKind::Unknown;
    };
    if host == base {
        return HostKind::Platform;
    }
    if let Some(label) = host.strip_suffix(base).and_then(|h| h.strip_suffix('.')) {
        // Under the base domain only `<slug>.<base>` can exist: skip the database for
        // anything else (deeper names, reserved words, bad slugs).
        if zumodra_tenancy::Slug::parse(label).is_err() {
            return HostKind::Unknown;
        }
    }
    HostKind::Tenant(host)
}

/// The raw host of a request: `X-Forwarded-Host` when the peer is a trusted proxy and
/// sent one, else `Host`.
pub fn raw_host(headers: &HeaderMap, peer_is_trusted: bool) -> Option<&str> {
    let forwarded = peer_is_trusted
        .then(|| headers.get("x-forwarded-host"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        // A chain of proxies appends; the first is what the client asked for.
        .and_then(|v| v.split(',').next());
    forwarded.or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()))
}

/// The raw host of a request as [`raw_host`] reads it, or `None` when the request names
/// its host ambiguously: more than one `Host` line; an absolute-form target
/// (`GET http://other/…`, which RFC 9112 §3.2.2 says wins over `Host`) whose host is not
/// the `Host` header's, or that carries `user@`; or, from a trusted proxy, an
/// `X-Forwarded-Host` sent twice, as a comma list, or in bytes that are not text.
///
/// Ambiguity is refused rather than resolved: a proxy or cache in front may resolve it
/// the other way, and then file one tenant's answer under another tenant's name.
pub fn request_host<'a>(
    headers: &'a HeaderMap,
    uri: &Uri,
    peer_is_trusted: bool,
) -> Option<&'a str> {
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return None;
    }
    if peer_is_trusted {
        let mut forwarded = headers.get_all("x-forwarded-host").iter();
        if let Some(first) = forwarded.next() {
            let readable = first.to_str().is_ok_and(|v| !v.contains(','));
            if !readable || forwarded.next().is_some() {
                return None;
            }
        }
    }
    if let Some(target) = uri.authority() {
        let named = host.and_then(|h| h.to_str().ok()).and_then(normalize);
        if target.as_str().contains('@') || named.is_none() || normalize(target.as_str()) != named {
            return None;
        }
    }
    raw_host(headers, peer_is_trusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalized() {
        assert_eq!(
            normalize("Acme.LocalHost:8080").as_deref(),
            Some("acme.localhost")
        );
        assert_eq!(
            normalize("acme.localhost.").as_deref(),
            Some("acme.localhost")
        );
        assert_eq!(
            normalize("acme.localhost.:80").as_deref(),
            Some("acme.localhost")
        );
        for bad in [
            "",
            "[::1]:8080",
            "::1",
            "acme.localhost:port",
            "é.localhost",
            "a..b",
            "acme.localhost..",
            "a:1:2",
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn hosts_are_classified() {
        let c = |h: &str| classify(normalize(h), "localhost");
        assert_eq!(c("localhost:8080"), HostKind::Platform);
        assert_eq!(
            c("acme.localhost"),
            HostKind::Tenant("acme.localhost".into())
        );
        assert_eq!(c("jobs.acme.com"), HostKind::Tenant("jobs.acme.com".into()));
        assert_eq!(c("www.localhost"), HostKind::Unknown);
        assert_eq!(c("a.b.localhost"), HostKind::Unknown);
        assert_eq!(c("[::1]"), HostKind::Unknown);
    }

    #[test]
    fn ambiguous_hosts_are_refused() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.append(*k, v.parse().unwrap());
            }
            h
        };
        let origin: Uri = "/api/v1/jobs".parse().unwrap();
        let one = headers(&[("host", "acme.localhost")]);
        assert_eq!(request_host(&one, &origin, false), Some("acme.localhost"));
        let two = headers(&[("host", "acme.localhost"), ("host", "globex.localhost")]);
        assert_eq!(request_host(&two, &origin, false), None);
        let absolute: Uri = "http://globex.localhost/api/v1/jobs".parse().unwrap();
        assert_eq!(request_host(&one, &absolute, false), None);
        let same: Uri = "http://ACME.localhost:80/api/v1/jobs".parse().unwrap();
        assert_eq!(request_host(&one, &same, false), Some("acme.localhost"));
        let userinfo: Uri = "http://x@acme.localhost/api/v1/jobs".parse().unwrap();
        assert_eq!(request_host(&one, &userinfo, false), None);
        let list = headers(&[
            ("host", "acme.localhost"),
            ("x-forwarded-host", "a.localhost, b.localhost"),
        ]);
        assert_eq!(request_host(&list, &origin, true), None);
        // From an untrusted peer the forwarded host is not read at all.
        assert_eq!(request_host(&list, &origin, false), Some("acme.localhost"));
        let lines = headers(&[
            ("host", "acme.localhost"),
            ("x-forwarded-host", "a.localhost"),
            ("x-forwarded-host", "b.localhost"),
        ]);
        assert_eq!(request_host(&lines, &origin, true), None);
        let single = headers(&[
            ("host", "acme.localhost"),
            ("x-forwarded-host", "b.localhost"),
        ]);
        assert_eq!(request_host(&single, &origin, true), Some("b.localhost"));
    }
}
