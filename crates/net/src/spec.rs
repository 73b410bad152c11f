//! One network of a container as LXC's `lxc.net.N.*` keys describe it,
//! parsed into types.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{Error, Result};

/// `lxc.net.N.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A new network namespace with its loopback only.
    Empty,
    /// The host's network namespace.
    None,
    Veth,
    Macvlan,
    Ipvlan,
    Phys,
    Vlan,
}

impl Kind {
    /// The kind named by `lxc.net.N.type`.
    pub fn parse(value: &str) -> Option<Kind> {
        Some(match value {
            "empty" => Kind::Empty,
            "none" => Kind::None,
            "veth" => Kind::Veth,
            "macvlan" => Kind::Macvlan,
            "ipvlan" => Kind::Ipvlan,
            "phys" => Kind::Phys,
            "vlan" => Kind::Vlan,
            _ => return None,
        })
    }

    /// Its name in `lxc.net.N.type`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Empty => "empty",
            Kind::None => "none",
            Kind::Veth => "veth",
            Kind::Macvlan => "macvlan",
            Kind::Ipvlan => "ipvlan",
            Kind::Phys => "phys",
            Kind::Vlan => "vlan",
        }
    }
}

/// `lxc.net.N.ipv4.address`: address, prefix and broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Net {
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub broadcast: Option<Ipv4Addr>,
}

impl Ipv4Net {
    /// The network's broadcast address (the explicit one, or the last
    /// address of the prefix).
    pub fn broadcast(&self) -> Ipv4Addr {
        self.broadcast.unwrap_or_else(|| {
            let host_bits = u32::MAX.checked_shr(u32::from(self.prefix)).unwrap_or(0);
            Ipv4Addr::from(u32::from(self.address) | host_bits)
        })
    }

    /// Whether `other` is in this address's network.
    pub fn contains(&self, other: Ipv4Addr) -> bool {
        let mask = u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0);
        u32::from(self.address) & mask == u32::from(other) & mask
    }
}

/// A gateway: an address, `auto` (the host side's address) or `dev`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gateway<A> {
    Address(A),
    Auto,
    Dev,
}

/// `lxc.net.N.veth.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VethMode {
    Bridge,
    Router,
}

/// One network of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetSpec {
    /// N in `lxc.net.N`.
    pub index: u32,
    pub kind: Kind,
    /// The host interface: the bridge of a veth, the parent of a
    /// macvlan/ipvlan/vlan, the device of a phys.
    pub link: Option<String>,
    /// The name inside the container (`lxc.net.N.name`, default `ethN`).
    pub name: String,
    pub up: bool,
    pub mtu: Option<u32>,
    /// The hardware address, its x characters already drawn.
    pub hwaddr: Option<[u8; 6]>,
    pub ipv4: Vec<Ipv4Net>,
    pub ipv4_gateway: Option<Gateway<Ipv4Addr>>,
    pub ipv6: Vec<(Ipv6Addr, u8)>,
    pub ipv6_gateway: Option<Gateway<Ipv6Addr>>,
    /// `veth.pair`: the host side's name.
    pub veth_pair: Option<String>,
    pub veth_mode: VethMode,
    pub veth_ipv4_routes: Vec<(Ipv4Addr, u8)>,
    pub veth_ipv6_routes: Vec<(Ipv6Addr, u8)>,
    pub macvlan_mode: String,
    pub ipvlan_mode: String,
    pub ipvlan_isolation: String,
    pub vlan_id: Option<u16>,
    pub script_up: Option<String>,
    pub script_down: Option<String>,
}

impl NetSpec {
    /// The network `index` of type `kind` from its other keys (`link`,
    /// `ipv4.address`, ... in order; list keys may repeat).
    pub fn parse(index: u32, kind: Kind, settings: &[(&str, &str)]) -> Result<NetSpec> {
        let r = Keys { index, settings };
        let veth_mode = match r.last("veth.mode").as_deref() {
            None | Some("bridge") => VethMode::Bridge,
            Some("router") => VethMode::Router,
            Some(v) => return Err(r.bad("veth.mode", v, "bridge or router")),
        };
        let v4 = "an IPv4 address x.y.z.t/m, optionally followed by a broadcast address";
        Ok(NetSpec {
            index,
            kind,
            link: r.last("link"),
            name: r.last("name").unwrap_or_else(|| format!("eth{index}")),
            up: r.last("flags").as_deref() == Some("up"),
            mtu: r.one("mtu", "a number of bytes", |v| v.parse().ok())?,
            hwaddr: r.one("hwaddr", "a MAC address such as 00:16:3e:xx:xx:xx", hwaddr)?,
            ipv4: r.list("ipv4.address", v4, ipv4_net)?,
            ipv4_gateway: r.one("ipv4.gateway", "an IPv4 address, 'auto' or 'dev'", gateway)?,
            ipv6: r.list("ipv6.address", "an IPv6 address x::y/m", |v| {
                prefixed(v, 128, 64)
            })?,
            ipv6_gateway: r.one("ipv6.gateway", "an IPv6 address, 'auto' or 'dev'", gateway)?,
            veth_pair: r.last("veth.pair"),
            veth_mode,
            veth_ipv4_routes: r.list("veth.ipv4.route", "an IPv4 network x.y.z.t/m", |v| {
                prefixed(v, 32, 32)
            })?,
            veth_ipv6_routes: r.list("veth.ipv6.route", "an IPv6 network x::y/m", |v| {
                prefixed(v, 128, 128)
            })?,
            macvlan_mode: r.last("macvlan.mode").unwrap_or_else(|| "private".into()),
            ipvlan_mode: r.last("ipvlan.mode").unwrap_or_else(|| "l3".into()),
            ipvlan_isolation: r
                .last("ipvlan.isolation")
                .unwrap_or_else(|| "bridge".into()),
            vlan_id: r.one("vlan.id", "a VLAN id from 1 to 4094", |v| {
                v.parse().ok().filter(|id| (1..=4094).contains(id))
            })?,
            script_up: r.last("script.up"),
            script_down: r.last("script.down"),
        })
    }
}

/// The keys of one network, read by name.
struct Keys<'a> {
    index: u32,
    settings: &'a [(&'a str, &'a str)],
}

impl Keys<'_> {
    /// The last non-empty value of `key`.
    fn last(&self, key: &str) -> Option<String> {
        self.settings
            .iter()
            .rev()
            .find(|(k, v)| *k == key && !v.is_empty())
            .map(|(_, v)| v.to_string())
    }

    fn bad(&self, key: &str, value: &str, expected: &str) -> Error {
        Error::InvalidValue {
            index: self.index,
            key: key.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }

    /// The last value of `key` through `parse`.
    fn one<T>(
        &self,
        key: &str,
        expected: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>> {
        match self.last(key) {
            Some(v) => parse(&v)
                .map(Some)
                .ok_or_else(|| self.bad(key, &v, expected)),
            None => Ok(None),
        }
    }

    /// Every value of list key `key` through `parse`.
    fn list<T>(
        &self,
        key: &str,
        expected: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Vec<T>> {
        self.settings
            .iter()
            .filter(|(k, v)| *k == key && !v.is_empty())
            .map(|(_, v)| parse(v).ok_or_else(|| self.bad(key, v, expected)))
            .collect()
    }
}

/// A MAC address with x characters replaced by random hex digits, as
/// LXC does (`00:16:3e:xx:xx:xx`). The first byte stays unicast.
pub fn hwaddr(value: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = value.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut random = [0u8; 12];
    fill_random(&mut random);
    let mut out = [0u8; 6];
    for (i, part) in parts.iter().enumerate() {
        if part.len() != 2 {
            return None;
        }
        let mut byte = 0u8;
        for (j, c) in part.chars().enumerate() {
            let nibble = match c {
                'x' | 'X' => random[i * 2 + j] & 0xf,
                c => c.to_digit(16)? as u8,
            };
            byte = byte << 4 | nibble;
        }
        out[i] = byte;
    }
    if parts[0].contains(['x', 'X']) {
        // Drawn: unicast and locally administered.
        out[0] = (out[0] & 0xfe) | 0x02;
    }
    Some(out)
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn format_hwaddr(mac: &[u8]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Random bytes from the kernel (a failed read leaves a fixed pattern).
pub(crate) fn fill_random(buf: &mut [u8]) {
    use std::io::Read;
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(buf);
    }
}

fn ipv4_net(value: &str) -> Option<Ipv4Net> {
    let mut fields = value.split_whitespace();
    let (address, prefix) = prefixed::<Ipv4Addr>(fields.next()?, 32, 24)?;
    let broadcast = match fields.next() {
        Some(b) => Some(b.parse().ok()?),
        None => None,
    };
    fields.next().is_none().then_some(Ipv4Net {
        address,
        prefix,
        broadcast,
    })
}

/// `ADDRESS[/PREFIX]`, the prefix at most `max` (`default` when absent).
fn prefixed<A: std::str::FromStr>(value: &str, max: u8, default: u8) -> Option<(A, u8)> {
    let (address, prefix) = match value.split_once('/') {
        Some((a, p)) => (a, p.parse::<u8>().ok().filter(|p| *p <= max)?),
        None => (value, default),
    };
    Some((address.parse().ok()?, prefix))
}

fn gateway<A: std::str::FromStr>(value: &str) -> Option<Gateway<A>> {
    match value {
        "auto" => Some(Gateway::Auto),
        "dev" => Some(Gateway::Dev),
        v => v.parse().ok().map(Gateway::Address),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lxc_default_veth() {
        let s = NetSpec::parse(
            0,
            Kind::Veth,
            &[
                ("link", "lxcbr0"),
                ("flags", "up"),
                ("hwaddr", "00:16:3e:xx:xx:xx"),
                ("ipv4.address", "10.0.3.5/24 10.0.3.255"),
                ("ipv6.address", "fd00::5/64"),
                ("ipv4.gateway", "auto"),
            ],
        )
        .unwrap();
        assert_eq!(s.link.as_deref(), Some("lxcbr0"));
        assert_eq!(s.name, "eth0");
        assert!(s.up);
        let mac = s.hwaddr.unwrap();
        assert_eq!(&mac[..3], &[0x00, 0x16, 0x3e]);
        assert_eq!(s.ipv4[0].prefix, 24);
        assert_eq!(s.ipv4[0].broadcast(), Ipv4Addr::new(10, 0, 3, 255));
        assert_eq!(s.ipv4_gateway, Some(Gateway::Auto));
        assert_eq!(s.ipv6[0].1, 64);
    }

    #[test]
    fn drawn_first_byte_is_local_unicast() {
        for _ in 0..32 {
            let mac = hwaddr("xx:xx:xx:xx:xx:xx").unwrap();
            assert_eq!(mac[0] & 0x03, 0x02);
        }
    }

    #[test]
    fn broadcast_defaults_to_the_prefix_end() {
        let n = ipv4_net("192.168.1.7/30").unwrap();
        assert_eq!(n.broadcast(), Ipv4Addr::new(192, 168, 1, 7));
        assert!(n.contains(Ipv4Addr::new(192, 168, 1, 5)));
        assert!(!n.contains(Ipv4Addr::new(192, 168, 1, 9)));
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = NetSpec::parse(2, Kind::Veth, &[("ipv4.address", "10.0.0.1/33")]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Invalid lxc.net.2.ipv4.address '10.0.0.1/33'"),
            "{e}"
        );
        let e = NetSpec::parse(0, Kind::Veth, &[("hwaddr", "00:16")]).unwrap_err();
        assert!(e.to_string().contains("hwaddr"), "{e}");
    }
}
