//! Which destinations deliveries may reach: the strict syntax of an endpoint URL, and which
//! addresses are refused. Pure classification; the server applies it after DNS resolution and
//! to IP-literal URLs, so the checked address is the one connected to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::Url;

/// What an operator does to let deliveries reach loopback or private addresses; every refusal
/// says it, so nobody has to guess.
pub const PRIVATE_NETWORKS_HINT: &str =
    "start Hookwire with --allow-private-networks (development) or --allowed-network CIDR to deliver there";

/// Parses an endpoint URL strictly: `http://` or `https://`, a host, no whitespace or control
/// characters anywhere (the URL standard would silently drop a newline or tab, and dial
/// `http:/x` or `http:///x` as host `x`), no empty host labels (`a..b`) and no port 0.
pub fn parse_endpoint_url(text: &str) -> Result<Url, String> {
    if let Some(bad) = text.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("must not contain whitespace or control characters (found {bad:?}); percent-encode them"));
    }
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &text[8..]
    } else if lower.starts_with("http://") {
        &text[7..]
    } else {
        return Err("must start with http:// or https://".into());
    };
    if rest.is_empty() || rest.starts_with(['/', '?', '#']) {
        return Err("has no host after the scheme's //".into());
    }
    let url = Url::parse(text).map_err(|e| format!("not a valid URL: {e}"))?;
    match url.host() {
        None => return Err("has no host".into()),
        Some(url::Host::Domain(domain)) => {
            let labels: Vec<&str> = domain.strip_suffix('.').unwrap_or(domain).split('.').collect();
            if labels.iter().any(|label| label.is_empty()) {
                return Err(format!("host {domain:?} has an empty label"));
            }
        }
        Some(_) => {}
    }
    if url.port() == Some(0) {
        return Err("port 0 cannot be dialled".into());
    }
    Ok(url)
}

/// Why an address is refused, or `None` when it is a public unicast address.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() || a == 0 => "unspecified or 'this network' address",
        _ if ip.is_loopback() => "loopback address",
        (169, 254, _) => "link-local or cloud metadata address",
        _ if ip.is_private() => "private address",
        (100, 64..=127, _) => "shared (CGNAT) address",
        _ if ip.is_multicast() => "multicast address",
        _ if ip.is_broadcast() || a >= 240 => "reserved address",
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "reserved or documentation address",
        (198, 18..=19, _) => "benchmarking address",
        _ => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = embedded_v4(ip) {
        return forbidden_v4(v4);
    }
    let first = ip.segments()[0];
    Some(match first {
        _ if ip.is_unspecified() => "unspecified address",
        _ if ip.is_loopback() => "loopback address",
        _ if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) => "cloud metadata address",
        _ if ip.is_unique_local() => "private (unique local) address",
        _ if ip.is_unicast_link_local() => "link-local address",
        _ if ip.is_multicast() => "multicast address",
        0x2001 if ip.segments()[1] == 0xdb8 => "documentation address",
        0x0100 if ip.segments()[1..4] == [0, 0, 0] => "discard-only address",
        _ => return None,
    })
}

/// IPv4 addresses carried inside IPv6 forms: mapped, compatible, NAT64 and 6to4.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, ..] => Some(tail),
        [0, 0, 0, 0, 0, 0, hi, _] if hi != 0 => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => Some(tail),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_addresses() {
        let refused = [
            "0.0.0.0",
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "192.0.2.1",
            "::",
            "::1",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2001:db8::1",
            "::127.0.0.1",
        ];
        for text in refused {
            assert!(forbidden_reason(text.parse().unwrap()).is_some(), "{text} must be refused");
        }
        for text in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert_eq!(forbidden_reason(text.parse().unwrap()), None, "{text} must be allowed");
        }
    }
}

/// A CIDR block (`10.1.0.0/16`, `fd00::/8`) the operator allows despite the rules above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (address, prefix) =
            text.trim().split_once('/').ok_or_else(|| format!("{text:?} is not a CIDR block such as 10.0.0.0/8"))?;
        let address: IpAddr = address.parse().map_err(|_| format!("{text:?}: {address:?} is not an IP address"))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("{text:?}: the prefix must be 0..={max}"))?;
        Ok(Self { address, prefix })
    }
}

impl Network {
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
            if prefix == 0 { 0 } else { bits >> (width - prefix) }
        }
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net) as u128, self.prefix, 32) == masked(u32::from(ip) as u128, self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), self.prefix, 128) == masked(u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// The operator's destination rules: everything allowed (development), or the rules above with
/// an allowlist of networks.
#[derive(Debug, Clone, Default)]
pub struct DestinationPolicy {
    pub allow_private_networks: bool,
    pub allowed_networks: Vec<Network>,
}

impl DestinationPolicy {
    /// Why `ip` must not be dialled, or `None`.
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        if self.allow_private_networks || self.allowed_networks.iter().any(|n| n.contains(ip)) {
            return None;
        }
        forbidden_reason(ip)
    }

    /// Why an IP-literal URL must not be dialled (a resolver never sees literal hosts, so they
    /// are checked here); `None` for names, which are checked on the addresses they resolve to.
    pub fn refused_literal_host(&self, url: &Url) -> Option<&'static str> {
        let ip: IpAddr = match url.host()? {
            url::Host::Ipv4(v4) => v4.into(),
            url::Host::Ipv6(v6) => v6.into(),
            url::Host::Domain(_) => return None,
        };
        self.refusal(ip)
    }
}

#[cfg(test)]
mod policy_tests {
    use super::*;

    #[test]
    fn endpoint_urls_are_parsed_strictly() {
        for good in [
            "https://example.com/hooks?a=b",
            "HTTP://Example.com:8080/x",
            "http://127.0.0.1:9000/h",
            "http://[::1]/",
            "https://example.com./in",
        ] {
            parse_endpoint_url(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        let bad = [
            ("ftp://example.com/", "http:// or https://"),
            ("http:/x", "http:// or https://"),
            ("http:///x", "no host"),
            ("http://exa\nmple.com/", "control"),
            ("http://example.com/a b", "whitespace"),
            ("http://a..b/", "empty label"),
            ("http://.a/", "empty label"),
            ("http://example.com:0/", "port 0"),
            ("http://", "no host"),
        ];
        for (text, expected) in bad {
            let error = parse_endpoint_url(text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn literal_hosts_are_checked_and_names_left_to_the_resolver() {
        let policy = DestinationPolicy::default();
        let check = |text: &str| policy.refused_literal_host(&Url::parse(text).unwrap());
        assert_eq!(check("http://127.0.0.1/"), Some("loopback address"));
        assert_eq!(check("http://[::ffff:10.0.0.1]/"), Some("private address"));
        assert_eq!(check("http://localhost/"), None);
        assert_eq!(check("http://8.8.8.8/"), None);
    }

    #[test]
    fn allowlisted_networks_pass_and_nothing_else() {
        let policy = DestinationPolicy {
            allow_private_networks: false,
            allowed_networks: vec!["10.1.0.0/16".parse().unwrap(), "fd00::/8".parse().unwrap()],
        };
        assert_eq!(policy.refusal("10.1.2.3".parse().unwrap()), None);
        assert!(policy.refusal("10.2.0.1".parse().unwrap()).is_some());
        assert_eq!(policy.refusal("fd12::1".parse().unwrap()), None);
        assert!(policy.refusal("127.0.0.1".parse().unwrap()).is_some());
        assert_eq!(policy.refusal("8.8.8.8".parse().unwrap()), None);
        let open = DestinationPolicy { allow_private_networks: true, allowed_networks: vec![] };
        assert_eq!(open.refusal("127.0.0.1".parse().unwrap()), None);
        assert!("10.0.0.0".parse::<Network>().is_err());
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("0.0.0.0/0".parse::<Network>().unwrap().contains("1.2.3.4".parse().unwrap()));
    }
}
