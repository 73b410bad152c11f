//! The NAT of the default network: one nftables table of its own
//! ([`TABLE`]), loaded whole with `nft -f -` (replacing itself, so `up`
//! may run again) and deleted whole by `down`. Like lxc-net's, it
//! masquerades what leaves the network and accepts DHCP and DNS from the
//! bridge and forwarding through it.

use super::error::Result;
use super::settings::Settings;
use super::tools::NFT;

/// The table's family and name.
pub const TABLE: &str = "inet enclos_net";

/// The ruleset of `s`, replacing an earlier one.
pub(crate) fn ruleset(s: &Settings) -> String {
    let br = &s.bridge;
    let net = s.network_cidr();
    let nat66 = match (s.ipv6_network(), s.ipv6_nat) {
        (Some(n6), true) => format!("\t\tip6 saddr {n6} ip6 daddr != {n6} masquerade\n"),
        _ => String::new(),
    };
    format!(
        "table {TABLE}\n\
         delete table {TABLE}\n\
         table {TABLE} {{\n\
         \tchain input {{\n\
         \t\ttype filter hook input priority filter; policy accept;\n\
         \t\tiifname \"{br}\" udp dport {{ 53, 67 }} accept\n\
         \t\tiifname \"{br}\" tcp dport 53 accept\n\
         \t}}\n\
         \tchain forward {{\n\
         \t\ttype filter hook forward priority filter; policy accept;\n\
         \t\tiifname \"{br}\" accept\n\
         \t\toifname \"{br}\" accept\n\
         \t}}\n\
         \tchain postrouting {{\n\
         \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
         \t\tip saddr {net} ip daddr != {net} masquerade\n\
         {nat66}\
         \t}}\n\
         }}\n"
    )
}

/// Loads the table.
pub(crate) fn load(s: &Settings) -> Result<()> {
    NFT.run(
        &["-f".into(), "-".into()],
        Some(&ruleset(s)),
        &format!("load the table {TABLE}"),
    )
    .map(drop)
}

/// Whether the table is loaded.
pub(crate) fn loaded() -> Result<bool> {
    let args: Vec<String> = ["list", "tables"].map(String::from).to_vec();
    let out = NFT.run(&args, None, "list the tables")?;
    Ok(out.lines().any(|l| l.trim() == format!("table {TABLE}")))
}

/// Deletes the table (when it is loaded).
pub(crate) fn delete() -> Result<()> {
    if !loaded()? {
        return Ok(());
    }
    let mut args = vec!["delete".to_string(), "table".to_string()];
    args.extend(TABLE.split(' ').map(String::from));
    NFT.run(&args, None, &format!("delete the table {TABLE}"))
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ruleset_masquerades_the_network_and_names_the_bridge() {
        let s = Settings::default();
        let r = ruleset(&s);
        assert!(r.starts_with("table inet enclos_net\ndelete table inet enclos_net\n"));
        assert!(r.contains("ip saddr 10.0.3.0/24 ip daddr != 10.0.3.0/24 masquerade"));
        assert!(!r.contains("ip6 saddr"));
        let s6 = Settings {
            ipv6: Some("fd42:1:2:3::1".parse().unwrap()),
            ipv6_prefix: 48,
            ipv6_nat: true,
            ..Settings::default()
        };
        assert!(ruleset(&s6)
            .contains("\t\tip6 saddr fd42:1:2::/48 ip6 daddr != fd42:1:2::/48 masquerade\n"));
        assert!(r.contains("iifname \"lxcbr0\" udp dport { 53, 67 } accept"));
    }
}
