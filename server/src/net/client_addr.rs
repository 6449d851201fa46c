//! The client's address behind trusted reverse proxies.
//!
//! Every per-address limit (sign-in throttling, client registration) and the audit log key on
//! the address this module decides. Without `--trusted-proxy` it is the TCP peer and proxy
//! headers are ignored. When the peer lies inside a trusted network, the configured header
//! (`X-Forwarded-For` by default, or RFC 7239 `Forwarded`) is read **from the right**: hops that
//! are themselves trusted proxies are skipped, and the first untrusted hop is the client. Everything
//! left of it was written by the client and is never believed, so a client cannot choose its
//! address by sending the header itself.
//!
//! Only one header is read: a proxy that writes `X-Forwarded-For` usually passes a client's
//! `Forwarded` header through untouched (nginx does), so reading both would let a client pick its
//! address. A hop that names no usable address (`unknown`, an obfuscated identifier, garbage, a
//! malformed header) ends the walk at the nearest trusted hop: the client lands in that proxy's
//! bucket rather than in one it chose.
use axum::http::HeaderMap;
use axum::http::header::FORWARDED;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv6Addr};

/// Hops examined from the right before giving up (a header cannot make the walk expensive).
const MAX_HOPS: usize = 32;

/// Which header a trusted proxy writes the client chain into.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx `$proxy_add_x_forwarded_for`, Caddy,
    /// most load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

/// The networks whose requests may name the client (`--trusted-proxy CIDR`, repeatable).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ProxyHeader,
}

/// One entry of a forwarding chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    Ip(IpAddr),
    /// `unknown`, an obfuscated identifier, or something that is not an address.
    Unidentified,
}

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>, header: ProxyHeader) -> Self {
        Self { nets, header }
    }

    /// Parses `--trusted-proxy` values: a CIDR (`10.0.0.0/8`, `fd00::/8`) or a single address.
    pub fn parse_nets(values: &[String]) -> anyhow::Result<Vec<IpNet>> {
        values
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<IpNet>()
                    .or_else(|_| v.parse::<IpAddr>().map(IpNet::from))
                    .map(|n| n.trunc())
                    .map_err(|_| anyhow::anyhow!("invalid --trusted-proxy {v:?}: expected a CIDR like 10.0.0.0/8 or an address"))
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    pub fn header(&self) -> ProxyHeader {
        self.header
    }

    /// Whether `ip` is a trusted proxy (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client address of a request that arrived from `peer` with `headers`.
    pub fn client_addr(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let hops = match self.header {
            ProxyHeader::XForwardedFor => x_forwarded_for(headers),
            ProxyHeader::Forwarded => forwarded(headers),
        };
        let mut nearest = peer;
        for hop in hops.iter().rev().take(MAX_HOPS) {
            match *hop {
                Hop::Ip(ip) if self.contains(ip) => nearest = ip,
                Hop::Ip(ip) => return ip,
                Hop::Unidentified => return nearest,
            }
        }
        nearest
    }
}

/// The hops of every `X-Forwarded-For` line, in order (several lines form one list, RFC 9110
/// §5.3). A value that is not valid text makes the whole chain unidentifiable.
pub fn x_forwarded_for(headers: &HeaderMap) -> Vec<Hop> {
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return vec![Hop::Unidentified];
        };
        hops.extend(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(parse_node),
        );
    }
    hops
}

/// The `for=` hops of every `Forwarded` line, in order (RFC 7239 §4). An element without `for`,
/// with `for` twice, or a malformed header (an unterminated quoted string, a bare token) yields
/// an unidentified hop.
pub fn forwarded(headers: &HeaderMap) -> Vec<Hop> {
    let mut hops = Vec::new();
    for value in headers.get_all(FORWARDED) {
        let Ok(text) = value.to_str() else {
            return vec![Hop::Unidentified];
        };
        match split_forwarded(text) {
            Some(elements) => hops.extend(elements.iter().map(|pairs| element_for(pairs))),
            None => hops.push(Hop::Unidentified),
        }
    }
    hops
}

/// The `for` value of one forwarded element.
fn element_for(pairs: &[(String, String)]) -> Hop {
    let mut found = pairs.iter().filter(|(k, _)| k.eq_ignore_ascii_case("for"));
    match (found.next(), found.next()) {
        (Some((_, v)), None) => parse_node(v),
        _ => Hop::Unidentified,
    }
}

/// Splits a `Forwarded` value into elements of `(name, value)` pairs, honouring quoted strings
/// (with `\` escapes). `None` when the syntax is broken.
fn split_forwarded(text: &str) -> Option<Vec<Vec<(String, String)>>> {
    let mut elements = vec![Vec::new()];
    let mut chars = text.chars().peekable();
    loop {
        // Skip whitespace and empty list items.
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        match chars.peek() {
            None => break,
            Some(',') => {
                chars.next();
                elements.push(Vec::new());
                continue;
            }
            Some(';') => {
                chars.next();
                continue;
            }
            _ => {}
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ';' || c == ',' || c == ' ' || c == '"' {
                break;
            }
            name.push(c);
            chars.next();
        }
        if name.is_empty() || chars.next() != Some('=') {
            return None;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.push(chars.next()?),
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return None;
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ';' || c == ',' || c == ' ' || c == '\t' || c == '"' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        // After a pair: whitespace, then a separator or the end.
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        if !matches!(chars.peek(), None | Some(';') | Some(',')) {
            return None;
        }
        elements.last_mut()?.push((name, value));
    }
    // `for=a,,for=b` has an empty element that carries nothing; drop those.
    elements.retain(|e| !e.is_empty());
    Some(elements)
}

/// One node (RFC 7239 §6, also the `X-Forwarded-For` forms seen in the wild): `192.0.2.1`,
/// `192.0.2.1:8080`, `[2001:db8::1]`, `[2001:db8::1]:8080`, a bare `2001:db8::1`, optionally
/// quoted; a port may be obfuscated (`_abc`). `unknown`, `_hidden` and anything else is
/// unidentified.
pub fn parse_node(raw: &str) -> Hop {
    let s = raw.trim();
    let s = s
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(s);
    let ip = if let Some(rest) = s.strip_prefix('[') {
        let Some((inner, after)) = rest.split_once(']') else {
            return Hop::Unidentified;
        };
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(valid_port)) {
            return Hop::Unidentified;
        }
        match inner.parse::<Ipv6Addr>() {
            Ok(v6) => IpAddr::V6(v6),
            Err(_) => return Hop::Unidentified,
        }
    } else if let Ok(ip) = s.parse::<IpAddr>() {
        ip
    } else if let Some((host, port)) = s.split_once(':')
        && valid_port(port)
        && let Ok(v4) = host.parse::<std::net::Ipv4Addr>()
    {
        IpAddr::V4(v4)
    } else {
        return Hop::Unidentified;
    };
    Hop::Ip(ip.to_canonical())
}

/// A decimal port or an obfuscated one (`_` followed by ALPHA / DIGIT / `.` / `_` / `-`).
fn valid_port(p: &str) -> bool {
    if let Some(obf) = p.strip_prefix('_') {
        return !obf.is_empty()
            && obf
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    }
    !p.is_empty()
        && p.len() <= 5
        && p.bytes().all(|b| b.is_ascii_digit())
        && p.parse::<u16>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(nets: &[&str], header: ProxyHeader) -> TrustedProxies {
        let v: Vec<String> = nets.iter().map(|s| s.to_string()).collect();
        TrustedProxies::new(TrustedProxies::parse_nets(&v).unwrap(), header)
    }

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn xff(values: &[&str]) -> HeaderMap {
        headers("x-forwarded-for", values)
    }

    fn fwd(values: &[&str]) -> HeaderMap {
        headers("forwarded", values)
    }

    #[test]
    fn nodes() {
        assert_eq!(parse_node("192.0.2.60"), Hop::Ip(ip("192.0.2.60")));
        assert_eq!(parse_node(" 192.0.2.60:4711 "), Hop::Ip(ip("192.0.2.60")));
        assert_eq!(parse_node("\"192.0.2.60:_abc\""), Hop::Ip(ip("192.0.2.60")));
        assert_eq!(
            parse_node("[2001:db8:cafe::17]"),
            Hop::Ip(ip("2001:db8:cafe::17"))
        );
        assert_eq!(
            parse_node("\"[2001:db8:cafe::17]:4711\""),
            Hop::Ip(ip("2001:db8:cafe::17"))
        );
        assert_eq!(parse_node("2001:db8::1"), Hop::Ip(ip("2001:db8::1")));
        // IPv4-mapped IPv6 is the IPv4 address.
        assert_eq!(
            parse_node("::ffff:198.51.100.7"),
            Hop::Ip(ip("198.51.100.7"))
        );
        assert_eq!(
            parse_node("[::ffff:198.51.100.7]:80"),
            Hop::Ip(ip("198.51.100.7"))
        );
        for bad in [
            "unknown",
            "_hidden",
            "_SEVKISEK",
            "",
            "localhost",
            "192.0.2.60:",
            "192.0.2.60:99999",
            "192.0.2.60:80:80",
            "192.0.2.256",
            "[2001:db8::1",
            "[2001:db8::1]x",
            "[192.0.2.1]",
            "fe80::1%eth0",
            "1.2.3.4 5.6.7.8",
            "01.2.3.4",
        ] {
            assert_eq!(parse_node(bad), Hop::Unidentified, "{bad:?}");
        }
    }

    #[test]
    fn forwarded_syntax() {
        assert_eq!(
            forwarded(&fwd(&[
                "for=192.0.2.43, for=\"[2001:db8:cafe::17]:4711\";proto=https;by=203.0.113.43"
            ])),
            vec![Hop::Ip(ip("192.0.2.43")), Hop::Ip(ip("2001:db8:cafe::17"))]
        );
        // Parameter names are case-insensitive; order within an element is free.
        assert_eq!(
            forwarded(&fwd(&["proto=http;For=198.51.100.17;by=_proxy"])),
            vec![Hop::Ip(ip("198.51.100.17"))]
        );
        // Several header lines are one list, in order.
        assert_eq!(
            forwarded(&fwd(&["for=192.0.2.1", "for=192.0.2.2, for=192.0.2.3"])),
            vec![
                Hop::Ip(ip("192.0.2.1")),
                Hop::Ip(ip("192.0.2.2")),
                Hop::Ip(ip("192.0.2.3"))
            ]
        );
        // A comma or semicolon inside a quoted string does not split.
        assert_eq!(
            forwarded(&fwd(&["by=\"a,b;c\";for=192.0.2.9"])),
            vec![Hop::Ip(ip("192.0.2.9"))]
        );
        // Elements without `for`, or with it twice, name nobody.
        assert_eq!(
            forwarded(&fwd(&["proto=https, for=192.0.2.1;for=192.0.2.2"])),
            vec![Hop::Unidentified, Hop::Unidentified]
        );
        // Broken syntax: an unterminated quote, a bare token, junk after a value.
        for bad in [
            "for=\"192.0.2.1",
            "192.0.2.1",
            "for=192.0.2.1 junk",
            "for=\"192.0.2.1\"x",
            "=1.2.3.4",
        ] {
            assert_eq!(forwarded(&fwd(&[bad])), vec![Hop::Unidentified], "{bad:?}");
        }
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_send() {
        let p = proxies(&["10.0.0.0/8"], ProxyHeader::XForwardedFor);
        let h = xff(&["203.0.113.9"]);
        assert_eq!(p.client_addr(ip("198.51.100.1"), &h), ip("198.51.100.1"));
        let none = TrustedProxies::default();
        assert_eq!(none.client_addr(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        assert!(none.is_empty());
    }

    #[test]
    fn rightmost_untrusted_hop_wins() {
        let p = proxies(&["10.0.0.0/8", "127.0.0.1"], ProxyHeader::XForwardedFor);
        // nginx appended the real client to whatever the client sent: the spoofed left part
        // is ignored.
        let h = xff(&["6.6.6.6, 203.0.113.9"]);
        assert_eq!(p.client_addr(ip("127.0.0.1"), &h), ip("203.0.113.9"));
        // Two proxies: client → 10.1.1.1 → 127.0.0.1.
        let h = xff(&["1.1.1.1, 203.0.113.9, 10.1.1.1"]);
        assert_eq!(p.client_addr(ip("127.0.0.1"), &h), ip("203.0.113.9"));
        // The spoof in a separate header line comes first in list order: still ignored.
        let h = xff(&["6.6.6.6", "203.0.113.9"]);
        assert_eq!(p.client_addr(ip("127.0.0.1"), &h), ip("203.0.113.9"));
        // Ports and IPv6.
        let h = xff(&["[2001:db8::5]:5555"]);
        assert_eq!(p.client_addr(ip("10.0.0.2"), &h), ip("2001:db8::5"));
        let h = xff(&["203.0.113.9:443"]);
        assert_eq!(p.client_addr(ip("10.0.0.2"), &h), ip("203.0.113.9"));
        // An IPv4-mapped peer is trusted like its IPv4 form.
        let h = xff(&["203.0.113.9"]);
        assert_eq!(p.client_addr(ip("::ffff:127.0.0.1"), &h), ip("203.0.113.9"));
        // No header: the peer itself. Only trusted hops: the left-most of them.
        assert_eq!(
            p.client_addr(ip("127.0.0.1"), &HeaderMap::new()),
            ip("127.0.0.1")
        );
        let h = xff(&["10.9.9.9, 10.1.1.1"]);
        assert_eq!(p.client_addr(ip("127.0.0.1"), &h), ip("10.9.9.9"));
    }

    #[test]
    fn unidentified_hops_stop_at_the_nearest_proxy() {
        let p = proxies(&["10.0.0.0/8"], ProxyHeader::XForwardedFor);
        // The hop next to the proxy is not an address: the client cannot pick one further left.
        let h = xff(&["6.6.6.6, unknown"]);
        assert_eq!(p.client_addr(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        let h = xff(&["6.6.6.6, _obf, 10.2.2.2"]);
        assert_eq!(p.client_addr(ip("10.0.0.1"), &h), ip("10.2.2.2"));
        let h = xff(&["6.6.6.6, not-an-ip"]);
        assert_eq!(p.client_addr(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        // A very long chain of trusted hops is not walked forever.
        let long = vec!["10.3.3.3"; 100].join(", ");
        let h = xff(&[&format!("6.6.6.6, {long}")]);
        assert_eq!(p.client_addr(ip("10.0.0.1"), &h), ip("10.3.3.3"));
    }

    #[test]
    fn only_the_configured_header_counts() {
        let xff_proxies = proxies(&["127.0.0.0/8"], ProxyHeader::XForwardedFor);
        let fwd_proxies = proxies(&["127.0.0.0/8"], ProxyHeader::Forwarded);
        let mut h = xff(&["203.0.113.9"]);
        h.append(FORWARDED, HeaderValue::from_static("for=6.6.6.6"));
        assert_eq!(
            xff_proxies.client_addr(ip("127.0.0.1"), &h),
            ip("203.0.113.9")
        );
        assert_eq!(fwd_proxies.client_addr(ip("127.0.0.1"), &h), ip("6.6.6.6"));
        // Forwarded: the right-most untrusted `for`, quoted IPv6 with port, obfuscated hops.
        let h = fwd(&["for=6.6.6.6, for=\"[2001:db8::7]:1234\";proto=https, for=127.0.0.2"]);
        assert_eq!(
            fwd_proxies.client_addr(ip("127.0.0.1"), &h),
            ip("2001:db8::7")
        );
        let h = fwd(&["for=6.6.6.6, for=_gazonk"]);
        assert_eq!(
            fwd_proxies.client_addr(ip("127.0.0.1"), &h),
            ip("127.0.0.1")
        );
        // A malformed line the client smuggled cannot hide the proxy's element behind a quote.
        let h = fwd(&["for=\"6.6.6.6", "for=203.0.113.9"]);
        assert_eq!(
            fwd_proxies.client_addr(ip("127.0.0.1"), &h),
            ip("203.0.113.9")
        );
        let h = fwd(&["for=\"6.6.6.6, for=203.0.113.9"]);
        assert_eq!(
            fwd_proxies.client_addr(ip("127.0.0.1"), &h),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn nets_parse() {
        let nets = TrustedProxies::parse_nets(&[
            "10.0.0.0/8".into(),
            "192.168.1.7".into(),
            "fd00::/8".into(),
            "10.1.2.3/16".into(),
        ])
        .unwrap();
        let p = TrustedProxies::new(nets, ProxyHeader::XForwardedFor);
        assert!(p.contains(ip("10.200.0.1")));
        assert!(p.contains(ip("192.168.1.7")));
        assert!(!p.contains(ip("192.168.1.8")));
        assert!(p.contains(ip("fd12::1")));
        assert!(p.contains(ip("10.1.99.1")));
        assert!(TrustedProxies::parse_nets(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse_nets(&["example.com".into()]).is_err());
    }
}
