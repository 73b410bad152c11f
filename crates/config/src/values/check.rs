//! Checks a value against the kind of its key, as the parser reads each
//! line: the dispatch over the kinds, and the checks of the kinds that have
//! no type of their own (paths, names, offsets, limits).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::Origin;
use crate::keys::Kind;
use enclos_idmap::IdMap;

use super::capability::parse_caps;
use super::log_level::LogLevel;
use super::mounts::{MountAuto, MountEntry};
use super::net::{gateway, hwaddr, if_name, ipv4_address, ipv6_address, route, vlan_id, NetType};
use super::process::{parse_environment, parse_personality, split_command};
use super::rootfs::Rootfs;
use super::scalars::{parse_bool, parse_size, parse_uint};
use super::signal::parse_signal;

/// Checks a non-empty value against the kind of its key; the error is what
/// was expected.
pub(crate) fn check(kind: Kind, value: &str) -> Result<(), String> {
    match kind {
        Kind::Text | Kind::Include => Ok(()),
        Kind::Path => Ok(()),
        Kind::AbsPath => abs_path(value),
        Kind::Bool => parse_bool(value).map(drop),
        Kind::Uint => parse_uint(value).map(drop),
        Kind::Int => value
            .parse::<i32>()
            .map(drop)
            .map_err(|_| "an integer".to_string()),
        Kind::Signal => parse_signal(value).map(drop),
        Kind::SignalOrZero => {
            if value == "0" {
                Ok(())
            } else {
                parse_signal(value).map(drop)
            }
        }
        Kind::Arch => parse_personality(value).map(drop),
        Kind::UtsName => uts_name(value),
        Kind::TtyDir => tty_dir(value),
        Kind::LogLevel => LogLevel::parse(value).map(drop),
        Kind::SyslogFacility => syslog_facility(value),
        Kind::Size => size(value),
        Kind::RootfsPath => Rootfs::parse(value, Vec::new()).map(drop),
        Kind::MountEntry => MountEntry::parse(value, Origin::new("", 0)).map(drop),
        Kind::MountAuto => MountAuto::default().apply(value),
        Kind::Caps => parse_caps(value, false).map(drop),
        Kind::CapsKeep => parse_caps(value, true).map(drop),
        Kind::IdMap => IdMap::parse(value).map(drop),
        Kind::Environment => parse_environment(value).map(drop),
        Kind::Command => split_command(value).map(drop),
        Kind::Names => Ok(()),
        Kind::Namespaces => namespaces(value),
        Kind::TimeOffset => time_offset(value),
        Kind::Prlimit => prlimit(value),
        Kind::Clear(_) => Err("no value (this key only clears earlier settings)".to_string()),
        Kind::NetType => NetType::parse(value).map(drop),
        Kind::NetFlags => match value {
            "up" => Ok(()),
            _ => Err("'up'".to_string()),
        },
        Kind::IfName => if_name(value),
        Kind::Hwaddr => hwaddr(value),
        Kind::Mtu => parse_uint(value).map(drop),
        Kind::Ipv4Address => ipv4_address(value),
        Kind::Ipv6Address => ipv6_address(value),
        Kind::Ipv4Gateway => gateway(value, |a| a.parse::<Ipv4Addr>().is_ok(), "an IPv4 address"),
        Kind::Ipv6Gateway => gateway(value, |a| a.parse::<Ipv6Addr>().is_ok(), "an IPv6 address"),
        Kind::Ipv4Route => route(
            value,
            |a| a.parse::<Ipv4Addr>().is_ok(),
            32,
            "an IPv4 route x.y.z.t/m",
        ),
        Kind::Ipv6Route => route(
            value,
            |a| a.parse::<Ipv6Addr>().is_ok(),
            128,
            "an IPv6 route x::y/m",
        ),
        Kind::VethMode => one_of(value, &["bridge", "router"]),
        Kind::MacvlanMode => one_of(value, &["private", "vepa", "bridge", "passthru"]),
        Kind::IpvlanMode => one_of(value, &["l3", "l3s", "l2"]),
        Kind::IpvlanIsolation => one_of(value, &["bridge", "private", "vepa"]),
        Kind::VlanId => vlan_id(value),
        Kind::VethVlanId => {
            if value == "none" {
                Ok(())
            } else {
                vlan_id(value)
            }
        }
    }
}

fn one_of(value: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(format!("one of {}", allowed.join(", ")))
    }
}

fn abs_path(value: &str) -> Result<(), String> {
    if value.starts_with('/') {
        Ok(())
    } else {
        Err("an absolute path".to_string())
    }
}

fn uts_name(value: &str) -> Result<(), String> {
    if value.len() > 64 {
        Err("a host name of at most 64 bytes".to_string())
    } else {
        Ok(())
    }
}

fn tty_dir(value: &str) -> Result<(), String> {
    let ok = !value.starts_with('/') && value.len() <= 255 && value.split('/').all(|c| c != "..");
    if ok {
        Ok(())
    } else {
        Err("a directory name under /dev, e.g. 'lxc'".to_string())
    }
}

fn syslog_facility(value: &str) -> Result<(), String> {
    const FACILITIES: &[&str] = &[
        "daemon", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
    ];
    one_of(value, FACILITIES)
}

fn size(value: &str) -> Result<(), String> {
    parse_size(value).map(drop)
}

fn namespaces(value: &str) -> Result<(), String> {
    const NAMES: &[&str] = &[
        "cgroup", "ipc", "mnt", "mount", "net", "pid", "time", "user", "uts",
    ];
    if value.split_whitespace().all(|n| NAMES.contains(&n)) {
        Ok(())
    } else {
        Err(format!("namespace names among {}", NAMES.join(", ")))
    }
}

fn time_offset(value: &str) -> Result<(), String> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    let number = digits.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &digits[number.len()..];
    let ok = !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && matches!(unit, "h" | "m" | "s" | "ms" | "us" | "ns");
    if ok {
        Ok(())
    } else {
        Err("an offset such as 10s, -5m (units h, m, s, ms, us, ns)".to_string())
    }
}

fn prlimit(value: &str) -> Result<(), String> {
    let limit = |s: &str| s == "unlimited" || s.parse::<u64>().is_ok();
    let ok = match value.split_once(':') {
        Some((soft, hard)) => limit(soft.trim()) && limit(hard.trim()),
        None => limit(value),
    };
    if ok {
        Ok(())
    } else {
        Err("LIMIT or SOFT:HARD, each a number or 'unlimited'".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(Kind::Bool, "1", true)]
    #[case(Kind::Bool, "2", false)]
    #[case(Kind::Bool, "yes", false)]
    #[case(Kind::Uint, "5", true)]
    #[case(Kind::Uint, "abc", false)]
    #[case(Kind::Uint, "-1", false)]
    #[case(Kind::Uint, "+1", false)]
    #[case(Kind::Int, "-5", true)]
    #[case(Kind::LogLevel, "9", false)]
    #[case(Kind::AbsPath, "/", true)]
    #[case(Kind::AbsPath, "relative", false)]
    #[case(Kind::UtsName, "busybox", true)]
    #[case(Kind::UtsName, &"a".repeat(65), false)]
    #[case(Kind::TtyDir, "lxc", true)]
    #[case(Kind::TtyDir, "/dev/lxc", false)]
    #[case(Kind::Arch, "x86_64", true)]
    #[case(Kind::Arch, "z80", false)]
    #[case(Kind::Caps, "sys_module mac_admin  mac_override sys_time", true)]
    #[case(Kind::Caps, "none", false)]
    #[case(Kind::CapsKeep, "none", true)]
    #[case(Kind::Environment, "FOO=bar=baz", true)]
    #[case(Kind::Environment, "PATH", true)]
    #[case(Kind::Environment, "=bar", false)]
    #[case(Kind::NetType, "empty", true)]
    #[case(Kind::NetType, "bridge", false)]
    #[case(Kind::NetFlags, "down", false)]
    #[case(Kind::Hwaddr, "00:16:3e:xx:xx:xx", true)]
    #[case(Kind::Hwaddr, "00:16:3e", false)]
    #[case(Kind::Ipv4Address, "10.0.3.5/24 10.0.3.255", true)]
    #[case(Kind::Ipv4Address, "10.0.3.5/33", false)]
    #[case(Kind::Ipv6Address, "2003:db8:1:0:214:1234:fe0b:3596/64", true)]
    #[case(Kind::Ipv4Gateway, "auto", true)]
    #[case(Kind::Ipv4Gateway, "10.0.3.1", true)]
    #[case(Kind::Ipv4Gateway, "gateway", false)]
    #[case(Kind::Ipv4Route, "192.168.1.0/24", true)]
    #[case(Kind::Ipv4Route, "192.168.1.0", false)]
    #[case(Kind::VethVlanId, "none", true)]
    #[case(Kind::VlanId, "4095", false)]
    #[case(Kind::IfName, "eth0", true)]
    #[case(Kind::IfName, "a-very-long-interface", false)]
    #[case(Kind::Size, "128KB", true)]
    #[case(Kind::Size, "auto", true)]
    #[case(Kind::Size, "lots", false)]
    #[case(Kind::Size, "99999999999GB", false)]
    #[case(Kind::TimeOffset, "-10s", true)]
    #[case(Kind::TimeOffset, "10 s", false)]
    #[case(Kind::Prlimit, "1024:unlimited", true)]
    #[case(Kind::Prlimit, "lots", false)]
    #[case(Kind::Namespaces, "mnt net ipc", true)]
    #[case(Kind::Namespaces, "network", false)]
    #[case(Kind::SignalOrZero, "0", true)]
    #[case(Kind::Clear(&[]), "x", false)]
    fn value_checks(#[case] kind: Kind, #[case] value: &str, #[case] valid: bool) {
        assert_eq!(
            check(kind, value).is_ok(),
            valid,
            "{kind:?} {value}: {:?}",
            check(kind, value)
        );
    }
}
