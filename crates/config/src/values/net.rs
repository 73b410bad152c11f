//! The container's networks: `lxc.net.N.*`, and the checks of their
//! addresses, names and ids.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use super::scalars::parse_uint;
use crate::error::Origin;

/// `lxc.net.N.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetType {
    /// Only a loopback interface, in a new network namespace.
    Empty,
    /// The host's network namespace.
    None,
    Veth,
    Macvlan,
    Ipvlan,
    Phys,
    Vlan,
}

impl NetType {
    pub fn parse(value: &str) -> Result<NetType, String> {
        Ok(match value {
            "empty" => NetType::Empty,
            "none" => NetType::None,
            "veth" => NetType::Veth,
            "macvlan" => NetType::Macvlan,
            "ipvlan" => NetType::Ipvlan,
            "phys" => NetType::Phys,
            "vlan" => NetType::Vlan,
            _ => return Err("one of empty, none, veth, macvlan, ipvlan, phys, vlan".to_string()),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            NetType::Empty => "empty",
            NetType::None => "none",
            NetType::Veth => "veth",
            NetType::Macvlan => "macvlan",
            NetType::Ipvlan => "ipvlan",
            NetType::Phys => "phys",
            NetType::Vlan => "vlan",
        }
    }
}

/// One `lxc.net.N.<key>` other than `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetSetting {
    /// The key after the index: `link`, `ipv4.address`, ...
    pub key: String,
    pub value: String,
    pub origin: Origin,
}

/// One network of the container: the `lxc.net.N.*` keys of one index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Net {
    pub index: u32,
    pub net_type: NetType,
    /// Where `type` was set.
    pub origin: Origin,
    /// The other keys, in order (list keys may appear several times).
    pub settings: Vec<NetSetting>,
}

impl Net {
    /// The last value of a sub-key (`link`, `name`, ...).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .rev()
            .find(|s| s.key == key)
            .map(|s| s.value.as_str())
    }

    /// Every value of a list sub-key (`ipv4.address`, ...).
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        self.settings
            .iter()
            .filter(|s| s.key == key)
            .map(|s| s.value.as_str())
            .collect()
    }

    /// `flags = up`.
    pub fn up(&self) -> bool {
        self.get("flags") == Some("up")
    }

    pub fn mtu(&self) -> Option<u32> {
        self.get("mtu").and_then(|v| parse_uint(v).ok())
    }
}

// The checks of `lxc.net.N.*` values that have no type of their own, as
// `check` calls them by kind.

pub(super) fn if_name(value: &str) -> Result<(), String> {
    if value.len() < 16 && !value.contains('/') && !value.contains(char::is_whitespace) {
        Ok(())
    } else {
        Err("an interface name of at most 15 bytes".to_string())
    }
}

pub(super) fn hwaddr(value: &str) -> Result<(), String> {
    let parts: Vec<&str> = value.split(':').collect();
    let ok = parts.len() == 6
        && parts.iter().all(|p| {
            p.len() == 2
                && p.chars()
                    .all(|c| c.is_ascii_hexdigit() || c == 'x' || c == 'X')
        });
    if ok {
        Ok(())
    } else {
        Err("a MAC address such as 00:16:3e:xx:xx:xx".to_string())
    }
}

fn prefixed(value: &str, valid_address: impl Fn(&str) -> bool, max_prefix: u8) -> bool {
    let (address, prefix) = match value.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (value, None),
    };
    valid_address(address) && prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|p| p <= max_prefix))
}

pub(super) fn ipv4_address(value: &str) -> Result<(), String> {
    let mut fields = value.split_whitespace();
    let address = fields.next().unwrap_or("");
    let broadcast = fields.next();
    let ok = prefixed(address, |a| a.parse::<Ipv4Addr>().is_ok(), 32)
        && broadcast.is_none_or(|b| b.parse::<Ipv4Addr>().is_ok())
        && fields.next().is_none();
    if ok {
        Ok(())
    } else {
        Err("an IPv4 address x.y.z.t/m, optionally followed by a broadcast address".to_string())
    }
}

pub(super) fn ipv6_address(value: &str) -> Result<(), String> {
    if prefixed(value, |a| a.parse::<Ipv6Addr>().is_ok(), 128) {
        Ok(())
    } else {
        Err("an IPv6 address x::y/m".to_string())
    }
}

pub(super) fn gateway(value: &str, valid: impl Fn(&str) -> bool, what: &str) -> Result<(), String> {
    if value == "auto" || value == "dev" || valid(value) {
        Ok(())
    } else {
        Err(format!("{what}, 'auto' or 'dev'"))
    }
}

pub(super) fn route(
    value: &str,
    valid: impl Fn(&str) -> bool,
    max_prefix: u8,
    what: &str,
) -> Result<(), String> {
    if value.contains('/') && prefixed(value, valid, max_prefix) {
        Ok(())
    } else {
        Err(what.to_string())
    }
}

pub(super) fn vlan_id(value: &str) -> Result<(), String> {
    match value.parse::<u16>() {
        Ok(id) if (1..=4094).contains(&id) => Ok(()),
        _ => Err("a VLAN id from 1 to 4094".to_string()),
    }
}
