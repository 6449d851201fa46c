//! Outbound-request guard: which IP addresses the server may dial on behalf of someone else.
//!
//! One function, [`is_global_address`], decides for every outbound fetch whose target a third
//! party can influence: Client ID Metadata Documents (`oauth::cimd`) and the GitHub connector
//! (`knowledge::github`). Only globally routable unicast addresses pass (IANA special-purpose
//! registries for IPv4 and IPv6, RFC 6890). Addresses that embed an IPv4 address (IPv4-mapped,
//! IPv4-compatible, 6to4, NAT64) are judged by the embedded address.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is a globally routable unicast address that an outbound fetch may dial.
pub fn is_global_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // 0.0.0.0/8 "this network"
        || a == 10 // 10/8 private
        || a == 127 // loopback
        || (a == 100 && (b & 0xc0) == 64) // 100.64/10 shared address space (CGNAT)
        || (a == 169 && b == 254) // link-local (cloud metadata services)
        || (a == 172 && (b & 0xf0) == 16) // 172.16/12 private
        || (a == 192 && b == 0 && c == 0) // 192.0.0/24 IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (deprecated)
        || (a == 192 && b == 168) // private
        || (a == 198 && (b & 0xfe) == 18) // 198.18/15 benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224) // multicast 224/4, reserved 240/4, broadcast
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Embedded IPv4 addresses: judged by the address they reach.
    if s[..5] == [0, 0, 0, 0, 0] && (s[5] == 0xffff || s[5] == 0) {
        // ::ffff:0:0/96 (mapped) and ::/96 (IPv4-compatible, deprecated; includes :: and ::1).
        if s[5] == 0 {
            // No host may be dialled through the deprecated IPv4-compatible form at all.
            return false;
        }
        return is_global_v4(embedded_v4(s[6], s[7]));
    }
    if s[0] == 0x0064 && s[1] == 0xff9b {
        // 64:ff9b::/96 NAT64 well-known prefix; 64:ff9b:1::/48 local-use NAT64.
        if s[2..6] == [0, 0, 0, 0] {
            return is_global_v4(embedded_v4(s[6], s[7]));
        }
        return false;
    }
    if s[0] == 0x2002 {
        // 6to4: the relay dials the embedded IPv4 address.
        return is_global_v4(embedded_v4(s[1], s[2]));
    }
    !((s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || s[0] == 0x0100 && s[1..4] == [0, 0, 0] // 100::/64 discard-only
        || (s[0] == 0x2001 && s[1] < 0x0200) // 2001::/23 IETF protocol assignments (Teredo, ORCHID, benchmarking …)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x3fff && s[1] < 0x1000) // 3fff::/20 documentation
        || s[0] == 0x5f00 // segment routing 5f00::/16
        || (s[0] & 0xe000) != 0x2000) // outside 2000::/3, nothing is globally routed
}

fn embedded_v4(hi: u16, lo: u16) -> Ipv4Addr {
    let [a, b] = hi.to_be_bytes();
    let [c, d] = lo.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

#[cfg(test)]
mod tests {
    use super::is_global_address;

    #[test]
    fn special_purpose_addresses_are_refused() {
        let table: &[(&str, bool, &str)] = &[
            // IPv4
            ("0.0.0.0", false, "unspecified"),
            ("0.1.2.3", false, "this network 0/8"),
            ("10.0.0.1", false, "private 10/8"),
            ("100.64.0.1", false, "CGNAT"),
            ("100.127.255.254", false, "CGNAT end"),
            ("100.128.0.1", true, "just past CGNAT"),
            ("127.0.0.1", false, "loopback"),
            ("127.255.255.255", false, "loopback end"),
            ("169.254.169.254", false, "link-local metadata"),
            ("172.16.3.4", false, "private 172.16/12"),
            ("172.31.255.255", false, "private 172.16/12 end"),
            ("172.32.0.1", true, "just past 172.16/12"),
            ("192.0.0.1", false, "IETF protocol assignments"),
            ("192.0.0.170", false, "NAT64 discovery"),
            ("192.0.2.1", false, "TEST-NET-1"),
            ("192.88.99.1", false, "6to4 relay anycast"),
            ("192.168.1.1", false, "private 192.168/16"),
            ("198.18.0.1", false, "benchmarking"),
            ("198.19.255.255", false, "benchmarking end"),
            ("198.20.0.1", true, "just past benchmarking"),
            ("198.51.100.7", false, "TEST-NET-2"),
            ("203.0.113.9", false, "TEST-NET-3"),
            ("224.0.0.1", false, "multicast"),
            ("239.255.255.250", false, "multicast SSDP"),
            ("240.0.0.1", false, "reserved"),
            ("255.255.255.255", false, "broadcast"),
            ("8.8.8.8", true, "public"),
            ("104.18.32.47", true, "public"),
            ("192.0.1.1", true, "public next to 192.0.0/24"),
            // IPv6
            ("::", false, "unspecified"),
            ("::1", false, "loopback"),
            ("::a9fe:a9fe", false, "IPv4-compatible 169.254.169.254"),
            (
                "::0808:0808",
                false,
                "IPv4-compatible, even of a public address",
            ),
            ("::ffff:10.0.0.1", false, "mapped private"),
            ("::ffff:127.0.0.1", false, "mapped loopback"),
            ("::ffff:169.254.169.254", false, "mapped link-local"),
            ("::ffff:8.8.8.8", true, "mapped public"),
            ("64:ff9b::10.0.0.1", false, "NAT64 of private"),
            ("64:ff9b::a9fe:a9fe", false, "NAT64 of metadata"),
            ("64:ff9b::8.8.8.8", true, "NAT64 of public"),
            ("64:ff9b:1::1", false, "local-use NAT64"),
            ("2002:a9fe:a9fe::1", false, "6to4 of metadata"),
            ("2002:0a00:0001::1", false, "6to4 of private"),
            ("2002:7f00:0001::1", false, "6to4 of loopback"),
            ("2002:0808:0808::1", true, "6to4 of public"),
            ("fe80::1", false, "link-local"),
            ("fec0::1", false, "site-local"),
            ("fc00::1", false, "ULA"),
            ("fd12:3456::1", false, "ULA"),
            ("ff02::1", false, "multicast"),
            ("ff0e::1", false, "global multicast"),
            ("100::1", false, "discard-only"),
            ("2001:db8::1", false, "documentation"),
            ("3fff::1", false, "documentation 3fff::/20"),
            ("2001::1", false, "Teredo"),
            ("2001:2::1", false, "benchmarking"),
            ("2001:10::1", false, "ORCHID"),
            ("5f00::1", false, "segment routing"),
            ("4000::1", false, "outside 2000::/3"),
            ("2606:4700::6812:202f", true, "public"),
            ("2a00:1450:4001::200e", true, "public"),
            ("2001:4860:4860::8888", true, "public 2001:4860"),
        ];
        for (addr, global, why) in table {
            let ip: std::net::IpAddr = addr.parse().unwrap();
            assert_eq!(is_global_address(ip), *global, "{addr} ({why})");
        }
    }
}
