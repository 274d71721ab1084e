//! The office LAN check: an on-site gateway sees the client's LAN address, which a phone faking
//! its GPS at home cannot fake. CIDRs are parsed here (IPv4 and IPv6) without a dependency.

use std::net::IpAddr;
use std::str::FromStr;

use serde_json::json;

use super::{CheckIn, Context, Finding, Mode, Severity};

/// An IP network, `address/prefix`. Host bits in the address are ignored
/// (`192.168.10.7/24` is `192.168.10.0/24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: u128,
    mask: u128,
    v4: bool,
    prefix: u8,
}

/// Why a CIDR string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// No `/prefix` part; write the network as `192.168.10.0/24`.
    #[error("missing /prefix")]
    MissingPrefix,
    /// The address part is not an IPv4 or IPv6 address.
    #[error("bad address")]
    BadAddress,
    /// The prefix is not a number or is longer than the address (32 for IPv4, 128 for IPv6).
    #[error("bad prefix length")]
    BadPrefix,
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let (addr, prefix) = s.trim().split_once('/').ok_or(CidrError::MissingPrefix)?;
        let addr: IpAddr = addr.parse().map_err(|_| CidrError::BadAddress)?;
        if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CidrError::BadPrefix);
        }
        let prefix: u8 = prefix.parse().map_err(|_| CidrError::BadPrefix)?;
        let (bits, v4, width) = match addr {
            IpAddr::V4(a) => (u128::from(u32::from(a)), true, 32u8),
            IpAddr::V6(a) => (u128::from(a), false, 128u8),
        };
        if prefix > width {
            return Err(CidrError::BadPrefix);
        }
        let mask = prefix_mask(prefix, width);
        Ok(Cidr {
            net: bits & mask,
            mask,
            v4,
            prefix,
        })
    }
}

fn prefix_mask(prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let all = if width == 32 {
        u128::from(u32::MAX)
    } else {
        u128::MAX
    };
    // prefix in 1..=width: shift the ones left so `prefix` high bits (of `width`) stay set.
    (all << (width - prefix)) & all
}

impl Cidr {
    /// Whether the address is in this network. IPv4-mapped IPv6 addresses (`::ffff:192.168.10.7`,
    /// as a dual-stack listener reports IPv4 clients) match IPv4 networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(a) => a.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(a)),
            v4 => v4,
        };
        match ip {
            IpAddr::V4(a) if self.v4 => u128::from(u32::from(a)) & self.mask == self.net,
            IpAddr::V6(a) if !self.v4 => u128::from(a) & self.mask == self.net,
            _ => false,
        }
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
}

/// Regular mode only: the client's address against `verification.office_networks`.
///
/// - no networks configured → `net.not-configured` (Info: the check was skipped)
/// - inside one → `net.inside-lan` (Info)
/// - outside all → `net.outside-lan` (Review: a phone on mobile data in the office is possible
///   where the gateway is reachable from outside, so a human decides)
/// - address unknown → `net.unknown-address` (Review: the check could not be made)
///
/// Entries that do not parse are ignored here (config validation rejects them at start).
pub fn office_lan(c: &CheckIn, ctx: &Context<'_>) -> Vec<Finding> {
    if c.mode != Mode::Regular {
        return Vec::new();
    }
    let nets: Vec<Cidr> = ctx
        .policy
        .office_networks
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    if nets.is_empty() {
        return vec![Finding::new(
            "net.not-configured",
            Severity::Info,
            "Jaringan kantor belum diatur; pemeriksaan alamat jaringan dilewati",
            "No office network is configured; the network address check was skipped",
            json!({}),
        )];
    }
    let Some(ip) = c.client_ip else {
        return vec![Finding::new(
            "net.unknown-address",
            Severity::Review,
            "Alamat jaringan perangkat tidak diketahui",
            "The device's network address is unknown",
            json!({ "office_networks": ctx.policy.office_networks }),
        )];
    };
    let detail =
        json!({ "client_ip": ip.to_string(), "office_networks": ctx.policy.office_networks });
    if nets.iter().any(|n| n.contains(ip)) {
        vec![Finding::new(
            "net.inside-lan",
            Severity::Info,
            "Terhubung ke jaringan kantor",
            "Connected to the office network",
            detail,
        )]
    } else {
        vec![Finding::new(
            "net.outside-lan",
            Severity::Review,
            format!("Tidak terhubung ke Wi-Fi/jaringan kantor (alamat {ip})"),
            format!("Not connected to the office Wi-Fi/network (address {ip})"),
            detail,
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{codes, Fixture};
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn ipv4_networks_contain_their_hosts_only() {
        let n = cidr("192.168.10.0/24");
        assert!(n.contains(ip("192.168.10.1")));
        assert!(n.contains(ip("192.168.10.255")));
        assert!(!n.contains(ip("192.168.11.1")));
        assert!(!n.contains(ip("10.0.0.1")));
        assert!(cidr("10.20.0.0/14").contains(ip("10.23.255.1")));
        assert!(!cidr("10.20.0.0/14").contains(ip("10.24.0.1")));
    }

    #[test]
    fn host_bits_in_the_network_are_ignored() {
        assert_eq!(cidr("192.168.10.77/24"), cidr("192.168.10.0/24"));
    }

    #[test]
    fn zero_and_full_prefixes_work_for_both_families() {
        assert!(cidr("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(cidr("192.168.10.5/32").contains(ip("192.168.10.5")));
        assert!(!cidr("192.168.10.5/32").contains(ip("192.168.10.6")));
        assert!(cidr("::/0").contains(ip("2001:db8::1")));
        assert!(cidr("fd00::1/128").contains(ip("fd00::1")));
        assert!(!cidr("fd00::1/128").contains(ip("fd00::2")));
    }

    #[test]
    fn ipv6_networks_contain_their_hosts_only() {
        let n = cidr("fd00:10::/64");
        assert!(n.contains(ip("fd00:10::abcd:1")));
        assert!(!n.contains(ip("fd00:11::1")));
        assert!(!n.contains(ip("192.168.10.1")));
    }

    #[test]
    fn ipv4_mapped_ipv6_clients_match_ipv4_networks() {
        assert!(cidr("192.168.10.0/24").contains(ip("::ffff:192.168.10.9")));
    }

    #[test]
    fn malformed_networks_are_refused() {
        for (s, e) in [
            ("192.168.10.0", CidrError::MissingPrefix),
            ("192.168.10/24", CidrError::BadAddress),
            ("kantor/24", CidrError::BadAddress),
            ("192.168.10.0/33", CidrError::BadPrefix),
            ("192.168.10.0/", CidrError::BadPrefix),
            ("192.168.10.0/+8", CidrError::BadPrefix),
            ("fd00::/129", CidrError::BadPrefix),
            ("fd00::/0128", CidrError::BadPrefix),
        ] {
            assert_eq!(s.parse::<Cidr>(), Err(e), "{s}");
        }
    }

    #[test]
    fn config_validation_accepts_and_rejects_the_same_networks() {
        let ok = "[verification]\noffice_networks = [\"192.168.10.0/24\", \"fd00:10::/64\"]\n";
        assert!(hadir_config::parse(ok, "t.toml").is_ok());
        let bad = "[verification]\noffice_networks = [\"192.168.10.0/24\", \"192.168.10.0/33\"]\n";
        let err = hadir_config::parse(bad, "t.toml").expect_err("rejected");
        let paths: Vec<_> = err.problems().iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["verification.office_networks[1]"]);
    }

    #[test]
    fn a_tablet_on_the_office_lan_passes() {
        let f = Fixture::kutim();
        let out = office_lan(&f.checkin(), &f.ctx());
        assert_eq!(codes(&out), ["net.inside-lan"]);
    }

    #[test]
    fn a_phone_on_mobile_data_is_outside_the_lan_and_goes_to_review() {
        let f = Fixture::kutim();
        let mut c = f.checkin();
        c.client_ip = Some(ip("114.125.10.20"));
        let out = office_lan(&c, &f.ctx());
        assert_eq!(codes(&out), ["net.outside-lan"]);
        assert_eq!(out[0].severity, Severity::Review);
    }

    #[test]
    fn without_configured_networks_the_check_is_skipped_with_a_note() {
        let mut f = Fixture::kutim();
        f.policy.office_networks.clear();
        let out = office_lan(&f.checkin(), &f.ctx());
        assert_eq!(codes(&out), ["net.not-configured"]);
        assert_eq!(out[0].severity, Severity::Info);
    }

    #[test]
    fn an_unknown_client_address_goes_to_review() {
        let f = Fixture::kutim();
        let mut c = f.checkin();
        c.client_ip = None;
        let out = office_lan(&c, &f.ctx());
        assert_eq!(codes(&out), ["net.unknown-address"]);
    }

    #[test]
    fn wfh_and_travel_are_not_checked_against_the_lan() {
        let f = Fixture::kutim();
        let mut c = f.checkin();
        c.mode = Mode::Wfh;
        c.client_ip = Some(ip("114.125.10.20"));
        assert!(office_lan(&c, &f.ctx()).is_empty());
    }
}
