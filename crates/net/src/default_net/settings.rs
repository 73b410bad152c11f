//! The default network's settings, read from two files, the later winning:
//!
//! 1. Debian's lxc-net file (`/etc/default/lxc-net`): shell assignments
//!    `KEY="value"`, of which the `LXC_*` keys lxc-net reads are used and
//!    every other line is ignored;
//! 2. enclos's own `/etc/enclos/enclos.conf`: `key = value` lines (as its
//!    `lxc.lxcpath`), of which the `net.*` keys are the default network's,
//!    each one an lxc-net key under another name (see [`CONF_KEYS`]). Other
//!    keys belong to other settings and are left alone; an unknown `net.*`
//!    key is an error (a typo would otherwise pass unnoticed).
//!
//! Either file may be absent: lxc-net's defaults fill what neither sets.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use super::error::{file, Error, Result};

/// Where lxc-net's settings are read from by default.
pub const DEFAULT_PATH: &str = "/etc/default/lxc-net";

/// enclos's settings file, whose `net.*` keys win over lxc-net's.
pub const CONF_PATH: &str = "/etc/enclos/enclos.conf";

/// The `net.*` keys of enclos.conf and the lxc-net keys they stand for.
pub const CONF_KEYS: &[(&str, &str)] = &[
    ("net.use_bridge", "USE_LXC_BRIDGE"),
    ("net.bridge", "LXC_BRIDGE"),
    ("net.bridge_mac", "LXC_BRIDGE_MAC"),
    ("net.address", "LXC_ADDR"),
    ("net.netmask", "LXC_NETMASK"),
    ("net.network", "LXC_NETWORK"),
    ("net.dhcp_range", "LXC_DHCP_RANGE"),
    ("net.dhcp_max", "LXC_DHCP_MAX"),
    ("net.dhcp_confile", "LXC_DHCP_CONFILE"),
    ("net.domain", "LXC_DOMAIN"),
    ("net.ipv6.address", "LXC_IPV6_ADDR"),
    ("net.ipv6.mask", "LXC_IPV6_MASK"),
    ("net.ipv6.nat", "LXC_IPV6_NAT"),
];

/// The default network, as lxc-net describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `USE_LXC_BRIDGE`: false means `up` makes nothing.
    pub use_bridge: bool,
    /// `LXC_BRIDGE` (lxcbr0).
    pub bridge: String,
    /// `LXC_BRIDGE_MAC` (00:16:3e:00:00:00): a fixed address, so the
    /// bridge's does not change as ports come and go.
    pub bridge_mac: [u8; 6],
    /// `LXC_ADDR` (10.0.3.1), the bridge's address, gateway and DNS server.
    pub address: Ipv4Addr,
    /// The prefix of `LXC_NETMASK` (255.255.255.0).
    pub prefix: u8,
    /// `LXC_NETWORK` (10.0.3.0/24), masqueraded to the outside.
    pub network: (Ipv4Addr, u8),
    /// `LXC_DHCP_RANGE` (10.0.3.2,10.0.3.254).
    pub dhcp_range: (Ipv4Addr, Ipv4Addr),
    /// `LXC_DHCP_MAX` (253), the number of leases.
    pub dhcp_max: u32,
    /// `LXC_DHCP_CONFILE`: a dnsmasq configuration file of the user's.
    pub dhcp_confile: Option<PathBuf>,
    /// `LXC_DOMAIN`: the DNS domain of the containers.
    pub domain: Option<String>,
    /// `LXC_IPV6_ADDR`: the bridge's IPv6 address (none by default);
    /// dnsmasq then sends router advertisements for its network.
    pub ipv6: Option<Ipv6Addr>,
    /// `LXC_IPV6_MASK` (64): the prefix length of that network.
    pub ipv6_prefix: u8,
    /// `LXC_IPV6_NAT` (false): masquerade the IPv6 network too.
    pub ipv6_nat: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            use_bridge: true,
            bridge: "lxcbr0".into(),
            bridge_mac: [0x00, 0x16, 0x3e, 0, 0, 0],
            address: Ipv4Addr::new(10, 0, 3, 1),
            prefix: 24,
            network: (Ipv4Addr::new(10, 0, 3, 0), 24),
            dhcp_range: (Ipv4Addr::new(10, 0, 3, 2), Ipv4Addr::new(10, 0, 3, 254)),
            dhcp_max: 253,
            dhcp_confile: None,
            domain: None,
            ipv6: None,
            ipv6_prefix: 64,
            ipv6_nat: false,
        }
    }
}

impl Settings {
    /// The settings of lxc-net's file `path`, or the defaults when it does
    /// not exist.
    pub fn read(path: &Path) -> Result<Settings> {
        Settings::load(path, None)
    }

    /// The settings of lxc-net's file `lxc_net`, then of enclos.conf `conf`
    /// over them (either may be absent).
    pub fn load(lxc_net: &Path, conf: Option<&Path>) -> Result<Settings> {
        let mut s = Settings::default();
        let mut read = Vec::new();
        if let Some(text) = read_if_there(lxc_net)? {
            s.apply_lxc_net(&text, lxc_net)?;
            read.push(lxc_net);
        }
        if let Some(conf) = conf {
            if let Some(text) = read_if_there(conf)? {
                if s.apply_conf(&text, conf)? {
                    read.push(conf);
                }
            }
        }
        s.check(&read)?;
        Ok(s)
    }

    /// The settings in lxc-net's `text` (from `path`, named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Settings> {
        let mut s = Settings::default();
        s.apply_lxc_net(text, path)?;
        s.check(&[path])?;
        Ok(s)
    }

    /// The settings in enclos.conf's `text` over lxc-net's defaults.
    pub fn parse_conf(text: &str, path: &Path) -> Result<Settings> {
        let mut s = Settings::default();
        s.apply_conf(text, path)?;
        s.check(&[path])?;
        Ok(s)
    }

    fn apply_lxc_net(&mut self, text: &str, path: &Path) -> Result<()> {
        for (n, line) in text.lines().enumerate() {
            let Some((key, value)) = assignment(line) else {
                continue;
            };
            self.set(key, &value, bad_value(path, n + 1, key, &value))?;
        }
        Ok(())
    }

    /// Applies the `net.*` lines of enclos.conf's `text`; whether there
    /// was one.
    fn apply_conf(&mut self, text: &str, path: &Path) -> Result<bool> {
        let mut any = false;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let key = key.trim();
            if !key.starts_with("net.") {
                continue;
            }
            let value = unquote(value.trim());
            let Some((_, lxc_key)) = CONF_KEYS.iter().find(|(k, _)| *k == key) else {
                let known: Vec<&str> = CONF_KEYS.iter().map(|(k, _)| *k).collect();
                return Err(Error::Setting {
                    path: path.to_path_buf(),
                    line: n + 1,
                    key: key.to_string(),
                    value: value.to_string(),
                    expected: format!(
                        "no such key; the default network's are {}",
                        known.join(", ")
                    ),
                });
            };
            let bad = bad_value(path, n + 1, key, value);
            if matches!(*lxc_key, "USE_LXC_BRIDGE" | "LXC_IPV6_NAT")
                && !matches!(value, "true" | "false")
            {
                return Err(bad("true or false"));
            }
            self.set(lxc_key, value, bad)?;
            any = true;
        }
        Ok(any)
    }

    fn set(&mut self, key: &str, value: &str, bad: impl Fn(&str) -> Error) -> Result<()> {
        let v = value;
        match key {
            "USE_LXC_BRIDGE" => self.use_bridge = v == "true",
            "LXC_BRIDGE" if valid_ifname(v) => self.bridge = v.to_string(),
            "LXC_BRIDGE" => return Err(bad("an interface name of 1 to 15 characters")),
            "LXC_BRIDGE_MAC" => {
                self.bridge_mac = parse_mac(v).ok_or_else(|| bad("a MAC address"))?;
            }
            "LXC_ADDR" => self.address = v.parse().map_err(|_| bad("an IPv4 address"))?,
            "LXC_NETMASK" => {
                self.prefix = netmask_prefix(v).ok_or_else(|| bad("an IPv4 netmask"))?;
            }
            "LXC_NETWORK" => {
                self.network = parse_cidr(v).ok_or_else(|| bad("an IPv4 network A.B.C.D/N"))?;
            }
            "LXC_DHCP_RANGE" => {
                let (a, b) = v.split_once(',').ok_or_else(|| bad("FIRST,LAST"))?;
                let a = a.trim().parse().map_err(|_| bad("FIRST,LAST addresses"))?;
                let b = b.trim().parse().map_err(|_| bad("FIRST,LAST addresses"))?;
                self.dhcp_range = (a, b);
            }
            "LXC_DHCP_MAX" => {
                self.dhcp_max = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad("a number of leases above 0"))?;
            }
            "LXC_DHCP_CONFILE" => self.dhcp_confile = non_empty(v).map(PathBuf::from),
            "LXC_DOMAIN" => self.domain = non_empty(v).map(str::to_string),
            "LXC_IPV6_ADDR" if v.is_empty() => self.ipv6 = None,
            "LXC_IPV6_ADDR" => self.ipv6 = Some(v.parse().map_err(|_| bad("an IPv6 address"))?),
            "LXC_IPV6_MASK" => {
                let p: u8 = v
                    .parse()
                    .ok()
                    .filter(|p| (1..=128).contains(p))
                    .ok_or_else(|| bad("an IPv6 prefix length of 1 to 128"))?;
                self.ipv6_prefix = p;
            }
            "LXC_IPV6_NAT" => self.ipv6_nat = v == "true",
            _ => {}
        }
        Ok(())
    }

    /// The settings together (read from `paths`, named in the error).
    fn check(&self, paths: &[&Path]) -> Result<()> {
        let inside = |a: Ipv4Addr| in_network(a, self.network);
        let reason = if !inside(self.address) {
            Some(format!(
                "the address {} (LXC_ADDR, net.address) is outside the network {} \
                 (LXC_NETWORK, net.network)",
                self.address,
                self.network_cidr()
            ))
        } else if !inside(self.dhcp_range.0) || !inside(self.dhcp_range.1) {
            Some(format!(
                "the DHCP range {},{} (LXC_DHCP_RANGE, net.dhcp_range) is not inside the \
                 network {} (LXC_NETWORK, net.network)",
                self.dhcp_range.0,
                self.dhcp_range.1,
                self.network_cidr()
            ))
        } else if u32::from(self.dhcp_range.0) > u32::from(self.dhcp_range.1) {
            Some(
                "the DHCP range (LXC_DHCP_RANGE, net.dhcp_range) ends before it starts".to_string(),
            )
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::Settings {
                paths: if paths.is_empty() {
                    "lxc-net's defaults".to_string()
                } else {
                    paths
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" and ")
                },
                reason,
            }),
            None => Ok(()),
        }
    }

    /// The IPv6 network of the bridge (its address with the host bits
    /// cleared), as ADDR/N, when it has one.
    pub fn ipv6_network(&self) -> Option<String> {
        let a = u128::from(self.ipv6?);
        let p = u32::from(self.ipv6_prefix);
        let mask = u128::MAX.checked_shl(128 - p).unwrap_or(0);
        Some(format!("{}/{p}", Ipv6Addr::from(a & mask)))
    }

    /// `LXC_NETWORK` as A.B.C.D/N.
    pub fn network_cidr(&self) -> String {
        format!("{}/{}", self.network.0, self.network.1)
    }
}

/// The text of `path`, or None when it does not exist.
fn read_if_there(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(file("read", path)(e)),
    }
}

/// The error for `key`'s `value` at `path` line `line`, given what was
/// expected.
fn bad_value<'a>(
    path: &'a Path,
    line: usize,
    key: &'a str,
    value: &'a str,
) -> impl Fn(&str) -> Error + 'a {
    move |expected| Error::Setting {
        path: path.to_path_buf(),
        line,
        key: key.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

/// `value` without the double or single quotes around it, if any.
fn unquote(value: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(v) = value.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return v;
        }
    }
    value
}

/// `KEY=value` of a shell line (`export`, quotes and comments aside).
fn assignment(line: &str) -> Option<(&str, String)> {
    let line = line.trim();
    let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
    if line.starts_with('#') {
        return None;
    }
    let (key, rest) = line.split_once('=')?;
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let value = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or("").to_string(),
        _ => rest.split(" #").next().unwrap_or("").trim().to_string(),
    };
    Some((key, value))
}

fn non_empty(v: &str) -> Option<&str> {
    (!v.is_empty()).then_some(v)
}

fn valid_ifname(v: &str) -> bool {
    !v.is_empty() && v.len() < 16 && !v.contains(['/', ' ', ':']) && v != "." && v != ".."
}

fn parse_mac(v: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = v
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).ok().filter(|_| p.len() == 2))
        .collect::<Option<_>>()?;
    parts.try_into().ok()
}

fn netmask_prefix(v: &str) -> Option<u8> {
    let m = u32::from(v.parse::<Ipv4Addr>().ok()?);
    let prefix = m.leading_ones();
    (m.checked_shl(prefix).unwrap_or(0) == 0).then_some(prefix as u8)
}

fn parse_cidr(v: &str) -> Option<(Ipv4Addr, u8)> {
    let (a, p) = v.split_once('/')?;
    let p: u8 = p.parse().ok().filter(|p| *p <= 32)?;
    Some((a.parse().ok()?, p))
}

fn in_network(a: Ipv4Addr, (net, prefix): (Ipv4Addr, u8)) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    u32::from(a) & mask == u32::from(net) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lxc_nets_ipv6_settings_give_the_bridge_an_ipv6_network() {
        let s = Settings::parse(
            "LXC_IPV6_MASK=\"48\"\nLXC_IPV6_ADDR=\"fc11:4514::1\"\nLXC_IPV6_NAT=\"true\"\n",
            Path::new("lxc-net"),
        )
        .unwrap();
        assert_eq!(s.ipv6, Some("fc11:4514::1".parse().unwrap()));
        assert_eq!(s.ipv6_network().as_deref(), Some("fc11:4514::/48"));
        assert!(s.ipv6_nat);
        assert_eq!(Settings::default().ipv6_network(), None);
        let e = Settings::parse("LXC_IPV6_MASK=200\n", Path::new("lxc-net")).unwrap_err();
        assert!(
            e.to_string().contains("an IPv6 prefix length of 1 to 128"),
            "{e}"
        );
    }

    #[test]
    fn debians_file_is_read_with_its_quotes_and_comments() {
        let text = "# This file is auto-generated by lxc.postinst\n\
            USE_LXC_BRIDGE=\"true\"\n\
            LXC_BRIDGE=\"lxcbr1\"\n\
            export LXC_ADDR='192.168.50.1'\n\
            LXC_NETMASK=\"255.255.255.0\"\n\
            LXC_NETWORK=192.168.50.0/24 # the subnet\n\
            LXC_DHCP_RANGE=\"192.168.50.10,192.168.50.20\"\n\
            LXC_DHCP_MAX=\"11\"\n\
            LXC_DHCP_CONFILE=\"\"\n\
            LXC_DOMAIN=\"lxc\"\n\
            SOMETHING_ELSE=\"ignored\"\n";
        let s = Settings::parse(text, Path::new("lxc-net")).unwrap();
        assert_eq!(s.bridge, "lxcbr1");
        assert_eq!(s.address, Ipv4Addr::new(192, 168, 50, 1));
        assert_eq!(s.prefix, 24);
        assert_eq!(s.network_cidr(), "192.168.50.0/24");
        assert_eq!(
            s.dhcp_range,
            (
                Ipv4Addr::new(192, 168, 50, 10),
                Ipv4Addr::new(192, 168, 50, 20)
            )
        );
        assert_eq!(s.dhcp_max, 11);
        assert_eq!(s.dhcp_confile, None);
        assert_eq!(s.domain.as_deref(), Some("lxc"));
        assert!(s.use_bridge);
    }

    #[test]
    fn a_missing_file_gives_lxc_nets_defaults() {
        let dir = std::env::temp_dir().join("enclos-net-no-such-dir/lxc-net");
        let s = Settings::read(&dir).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.bridge, "lxcbr0");
        assert_eq!(s.network_cidr(), "10.0.3.0/24");
    }

    #[test]
    fn a_bad_value_names_its_key_file_and_line() {
        let e = Settings::parse("\nLXC_NETMASK=\"255.0.255.0\"\n", Path::new("/x/lxc-net"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "Invalid LXC_NETMASK=\"255.0.255.0\" in /x/lxc-net line 2: an IPv4 netmask"
        );
        let e = Settings::parse("LXC_ADDR=10.0.4.1\n", Path::new("f"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "The settings in f do not fit together: the address 10.0.4.1 (LXC_ADDR, \
             net.address) is outside the network 10.0.3.0/24 (LXC_NETWORK, net.network)"
        );
        let e = Settings::parse("LXC_DHCP_RANGE=10.0.3.9,10.0.3.2\n", Path::new("f"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("ends before it starts"), "{e}");
    }

    #[test]
    fn enclos_conf_net_keys_win_over_lxc_nets() {
        let dir = tempfile::tempdir().unwrap();
        let lxc_net = dir.path().join("lxc-net");
        let conf = dir.path().join("enclos.conf");
        std::fs::write(
            &lxc_net,
            "LXC_BRIDGE=\"lxcbr1\"\nLXC_ADDR=\"10.0.3.9\"\nLXC_DOMAIN=lxc\n",
        )
        .unwrap();
        std::fs::write(
            &conf,
            "# enclos's global settings\nlxc.lxcpath = /var/lib/enclos\n\
             net.bridge = enclosbr0\n  net.address=10.0.4.1\nnet.network = \"10.0.4.0/24\"\n\
             net.dhcp_range = 10.0.4.2,10.0.4.99\n#net.dhcp_max = 7\nnet.ipv6.address = fd00::1\n",
        )
        .unwrap();
        let s = Settings::load(&lxc_net, Some(&conf)).unwrap();
        assert_eq!(s.bridge, "enclosbr0");
        assert_eq!(s.address, Ipv4Addr::new(10, 0, 4, 1));
        assert_eq!(s.network_cidr(), "10.0.4.0/24");
        assert_eq!(s.dhcp_max, 253);
        assert_eq!(
            s.domain.as_deref(),
            Some("lxc"),
            "lxc-net's, unset in enclos.conf"
        );
        assert_eq!(s.ipv6_network().as_deref(), Some("fd00::/64"));
        // Without enclos.conf, lxc-net's; without either, the defaults.
        assert_eq!(Settings::load(&lxc_net, None).unwrap().bridge, "lxcbr1");
        let none = dir.path().join("absent");
        assert_eq!(
            Settings::load(&none, Some(&none)).unwrap(),
            Settings::default()
        );
        assert_eq!(
            Settings::load(&none, Some(&conf)).unwrap().bridge,
            "enclosbr0"
        );
    }

    #[test]
    fn the_packaged_enclos_conf_documents_lxc_nets_defaults() {
        let text = include_str!("../../../../packaging/enclos.conf");
        let path = Path::new("packaging/enclos.conf");
        assert_eq!(
            Settings::parse_conf(text, path).unwrap(),
            Settings::default()
        );
        // Each key is documented, and uncommented its value is the default
        // (the IPv6 address aside: there is none by default).
        let uncommented: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("#net."))
            .filter(|l| !l.starts_with("ipv6.address"))
            .map(|l| format!("net.{l}\n"))
            .collect();
        for (key, _) in CONF_KEYS {
            assert!(text.contains(&format!("#{key} =")), "{key} in enclos.conf");
        }
        assert_eq!(
            Settings::parse_conf(&uncommented, path).unwrap(),
            Settings::default()
        );
    }

    #[test]
    fn enclos_conf_errors_name_the_key_file_and_line() {
        let e = |text: &str| {
            Settings::parse_conf(text, Path::new("/etc/enclos/enclos.conf"))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            e("lxc.lxcpath = /x\nnet.address = 10.0.3.300\n"),
            "Invalid net.address=\"10.0.3.300\" in /etc/enclos/enclos.conf line 2: an IPv4 address"
        );
        assert_eq!(
            e("net.bridge = a-name-far-too-long\n"),
            "Invalid net.bridge=\"a-name-far-too-long\" in /etc/enclos/enclos.conf line 1: \
             an interface name of 1 to 15 characters"
        );
        assert_eq!(
            e("net.use_bridge = yes\n"),
            "Invalid net.use_bridge=\"yes\" in /etc/enclos/enclos.conf line 1: true or false"
        );
        let typo = e("\n\nnet.adress = 10.0.3.1\n");
        assert!(
            typo.starts_with(
                "Invalid net.adress=\"10.0.3.1\" in /etc/enclos/enclos.conf line 3: no such key; \
                 the default network's are net.use_bridge, net.bridge,"
            ),
            "{typo}"
        );
        assert_eq!(
            e("net.address = 10.0.9.1\n"),
            "The settings in /etc/enclos/enclos.conf do not fit together: the address \
             10.0.9.1 (LXC_ADDR, net.address) is outside the network 10.0.3.0/24 \
             (LXC_NETWORK, net.network)"
        );
        // Other keys are other settings' (lxc.lxcpath), never an error here.
        assert_eq!(
            Settings::parse_conf("lxc.bdev.lvm.vg = vg0\nnetwork = x\n", Path::new("c")).unwrap(),
            Settings::default()
        );
        assert!(
            !Settings::parse_conf("net.use_bridge = false\n", Path::new("c"))
                .unwrap()
                .use_bridge
        );
    }

    #[test]
    fn netmasks_become_prefixes() {
        assert_eq!(netmask_prefix("255.255.0.0"), Some(16));
        assert_eq!(netmask_prefix("255.255.255.255"), Some(32));
        assert_eq!(netmask_prefix("0.0.0.0"), Some(0));
        assert_eq!(netmask_prefix("255.0.255.0"), None);
    }
}
