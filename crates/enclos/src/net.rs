//! `enclos net up|down|status`: the default network that Debian's lxc-net
//! makes (bridge, NAT, dnsmasq), for hosts without it; enclos-net's
//! `default_net` module does the work.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use enclos_net::default_net::{self, Outcome, Paths, Status};
use serde::Serialize;

use crate::output::{print_json, Format};

/// The default network: bridge lxcbr0 with 10.0.3.1/24, NAT, DHCP and DNS.
///
/// Its settings are lxc-net's, read from /etc/default/lxc-net, and, over
/// them, the net.* keys of /etc/enclos/enclos.conf (`net.bridge = enclosbr0`,
/// `net.address = 10.0.3.1`, ...; see `--config`).
#[derive(Debug, Subcommand)]
pub enum NetCommand {
    /// Make the bridge, forwarding, the NAT table and dnsmasq (what is
    /// missing of them).
    Up(Where),
    /// Remove what `up` made, and only that.
    Down(Where),
    /// Show each part of the default network.
    Status {
        #[command(flatten)]
        at: Where,
        /// text, or json: {bridge, address, exists, bridge_up, ports,
        /// forwarding, ipv6, forwarding6, nat, dnsmasq_pid, up}.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// The files of the default network.
#[derive(Debug, Args)]
pub struct Where {
    /// lxc-net's settings (LXC_BRIDGE, LXC_ADDR, LXC_NETMASK, LXC_NETWORK,
    /// LXC_DHCP_RANGE, LXC_DHCP_MAX, ...); lxc-net's defaults when absent.
    #[arg(long, value_name = "FILE", default_value = default_net::DEFAULT_PATH)]
    settings: PathBuf,
    /// enclos's settings, whose `key = value` lines net.use_bridge,
    /// net.bridge, net.bridge_mac, net.address, net.netmask, net.network,
    /// net.dhcp_range, net.dhcp_max, net.dhcp_confile, net.domain,
    /// net.ipv6.address, net.ipv6.mask and net.ipv6.nat win over lxc-net's
    /// LXC_* of the same meaning.
    #[arg(long, value_name = "FILE", default_value = default_net::CONF_PATH)]
    config: PathBuf,
    /// Where `up` notes what it made, with dnsmasq's pid and lease files.
    #[arg(long, value_name = "DIR", default_value = "/run/enclos/net")]
    run_dir: PathBuf,
}

impl Where {
    fn paths(&self) -> Paths {
        Paths {
            settings: self.settings.clone(),
            conf: self.config.clone(),
            run_dir: self.run_dir.clone(),
            ..Paths::default()
        }
    }
}

impl NetCommand {
    pub fn run(self) -> Result<ExitCode> {
        match self {
            NetCommand::Up(w) => up(&w.paths()),
            NetCommand::Down(w) => {
                let removed = default_net::down(&w.paths())?;
                if removed.is_empty() {
                    println!("The default network was not up: nothing to remove");
                } else {
                    println!("Removed: {}", removed.join(", "));
                }
                Ok(ExitCode::SUCCESS)
            }
            NetCommand::Status { at, format } => {
                let st = default_net::status(&at.paths())?;
                match format {
                    Format::Json => print_json(&Row::of(&st))?,
                    Format::Text => print_status(&st),
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

fn up(paths: &Paths) -> Result<ExitCode> {
    match default_net::up(paths)? {
        Outcome::Disabled => println!(
            "The default network is switched off (net.use_bridge = false in {}, or \
             USE_LXC_BRIDGE not \"true\" in {}): nothing is made",
            paths.conf.display(),
            paths.settings.display()
        ),
        Outcome::Up { settings, made } => {
            let what = format!(
                "{} {}/{} ({}, DHCP {}-{})",
                settings.bridge,
                settings.address,
                settings.prefix,
                settings.network_cidr(),
                settings.dhcp_range.0,
                settings.dhcp_range.1
            );
            if made.is_empty() {
                println!("The default network is already up: {what}");
            } else {
                println!(
                    "The default network is up: {what}; made: {}",
                    made.join(", ")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `status --format json`.
#[derive(Debug, Serialize)]
struct Row {
    bridge: String,
    address: String,
    exists: bool,
    bridge_up: bool,
    ports: Vec<String>,
    forwarding: bool,
    ipv6: Option<String>,
    forwarding6: Option<bool>,
    nat: Option<bool>,
    dnsmasq_pid: Option<i32>,
    up: bool,
}

impl Row {
    fn of(st: &Status) -> Row {
        let b = st.bridge.as_ref();
        Row {
            bridge: st.settings.bridge.clone(),
            address: format!("{}/{}", st.settings.address, st.settings.prefix),
            exists: b.is_some_and(|b| b.is_bridge),
            bridge_up: b.is_some_and(|b| b.up),
            ports: b.map(|b| b.ports.clone()).unwrap_or_default(),
            forwarding: st.forwarding,
            ipv6: st
                .settings
                .ipv6
                .map(|a| format!("{a}/{}", st.settings.ipv6_prefix)),
            forwarding6: st.forwarding6,
            nat: st.nat,
            dnsmasq_pid: st.dnsmasq,
            up: st.is_up(),
        }
    }
}

fn print_status(st: &Status) {
    let s = &st.settings;
    let yes = |b: bool| if b { "yes" } else { "no" };
    let bridge = match &st.bridge {
        None => "missing".to_string(),
        Some(b) if !b.is_bridge => "not a bridge".to_string(),
        Some(b) => {
            let addrs: Vec<String> = b
                .addresses
                .iter()
                .map(|(a, p)| format!("{a}/{p}"))
                .collect();
            format!(
                "{}, {}, ports: {}",
                if b.up { "up" } else { "down" },
                if addrs.is_empty() {
                    "no address".into()
                } else {
                    addrs.join(" ")
                },
                if b.ports.is_empty() {
                    "none".into()
                } else {
                    b.ports.join(" ")
                }
            )
        }
    };
    println!("State:       {}", if st.is_up() { "up" } else { "down" });
    println!("Bridge:      {} ({bridge})", s.bridge);
    println!("Network:     {} via {}", s.network_cidr(), s.address);
    if let Some(a6) = s.ipv6 {
        println!("IPv6:        {a6}/{}", s.ipv6_prefix);
    }
    match (s.ipv6.is_some(), st.forwarding6) {
        (true, Some(f6)) => println!("Forwarding:  IPv4 {}, IPv6 {}", yes(st.forwarding), yes(f6)),
        _ => println!("Forwarding:  {}", yes(st.forwarding)),
    }
    let nat = match st.nat {
        Some(l) => yes(l).to_string(),
        None => "unknown (nft is not installed)".to_string(),
    };
    println!("NAT:         {nat} (nftables table {})", default_net::TABLE);
    match st.dnsmasq {
        Some(pid) => println!(
            "DHCP:        dnsmasq pid {pid}, {}-{}",
            s.dhcp_range.0, s.dhcp_range.1
        ),
        None => println!("DHCP:        no dnsmasq running"),
    }
}
