//! The container's networks (`lxc.net.N.*`) through enclos-net: made by
//! the monitor once init is cloned and before it goes on, undone when init
//! exits or a start fails; and what `info` and `ls` show of them.
//!
//! What was made is written to the run file `net`, so that a stop after
//! the monitor is gone removes the host veths too.

use std::sync::Mutex;

use enclos_config::Config;
use enclos_net::{Attached, Created, Kind, NetSpec};
use nix::unistd::Pid;
use serde::Serialize;

use crate::container::Container;
use crate::error::{chain, Error, Result};

const RUN_FILE: &str = "net";

/// The networks of the container this monitor runs (one per monitor).
static HELD: Mutex<Option<Attached>> = Mutex::new(None);

/// The networks of `cfg` that need links (neither empty nor none).
pub(crate) fn specs(cfg: &Config) -> std::result::Result<Vec<NetSpec>, enclos_net::Error> {
    let mut out = Vec::new();
    for n in cfg.nets() {
        let Some(kind) = Kind::parse(n.net_type.name()) else {
            continue;
        };
        let settings: Vec<(&str, &str)> = n
            .settings
            .iter()
            .map(|s| (s.key.as_str(), s.value.as_str()))
            .collect();
        out.push(NetSpec::parse(n.index, kind, &settings)?);
    }
    Ok(out)
}

/// Makes the networks of `cfg` for init `pid` (waiting in its namespaces)
/// and runs their `script.up`.
pub(crate) fn attach(c: &Container, cfg: &Config, pid: Pid) -> Result<()> {
    let fail = |e: &dyn std::error::Error| Error::StartFailed {
        name: c.name().to_string(),
        reason: chain(e),
    };
    let _span = tracing::info_span!("net", container = c.name()).entered();
    let specs = specs(cfg).map_err(|e| fail(&e))?;
    if specs
        .iter()
        .all(|s| s.kind == Kind::Empty || s.kind == Kind::None)
    {
        return Ok(());
    }
    let attached = if nix::unistd::geteuid().is_root() {
        enclos_net::attach(&specs, pid.as_raw()).map_err(|e| fail(&e))?
    } else {
        let created =
            crate::user_net::attach(c, &specs, pid).map_err(|reason| Error::StartFailed {
                name: c.name().to_string(),
                reason,
            })?;
        Attached {
            created,
            netns: None,
        }
    };
    let lines: Vec<String> = attached.created.iter().map(Created::to_line).collect();
    let _ = c.write_run_file(RUN_FILE, &(lines.join("\n") + "\n"));
    let peers = host_names(&attached.created, &specs);
    *HELD.lock().unwrap_or_else(|e| e.into_inner()) = Some(attached);
    for (s, peer) in specs.iter().zip(&peers) {
        if let Err(e) = script(c, s, "up", peer.as_deref()) {
            detach(c);
            return Err(fail(&e));
        }
    }
    Ok(())
}

/// Undoes what [`attach`] made (phys given back, host veths removed),
/// after the `script.down` hooks; from the run file when this process did
/// not make it (the monitor is gone).
pub(crate) fn detach(c: &Container) {
    let held = HELD.lock().unwrap_or_else(|e| e.into_inner()).take();
    match held {
        Some(a) => {
            if let Ok(specs) = c
                .config()
                .map_err(drop)
                .and_then(|cfg| specs(&cfg).map_err(drop))
            {
                let peers = host_names(&a.created, &specs);
                for (s, peer) in specs.iter().zip(&peers) {
                    if let Err(e) = script(c, s, "down", peer.as_deref()) {
                        tracing::warn!(container = c.name(), "{e}");
                    }
                }
            }
            undo(c, &a);
        }
        None => {
            let created = recorded(c);
            if !created.is_empty() {
                undo(
                    c,
                    &Attached {
                        created,
                        netns: None,
                    },
                );
            }
        }
    }
    let _ = std::fs::remove_file(c.run_file(RUN_FILE));
}

/// Removes what was made: through the helper for a user.
fn undo(c: &Container, a: &Attached) {
    if nix::unistd::geteuid().is_root() {
        enclos_net::detach(a);
    } else {
        crate::user_net::undo(c, &a.created);
    }
}

/// What the run file says was made.
fn recorded(c: &Container) -> Vec<Created> {
    std::fs::read_to_string(c.run_file(RUN_FILE))
        .unwrap_or_default()
        .lines()
        .filter_map(Created::from_line)
        .collect()
}

/// The host-side veth of each spec, in order (veths are made in order).
fn host_names(created: &[Created], specs: &[NetSpec]) -> Vec<Option<String>> {
    let mut veths = created.iter().filter_map(|c| match c {
        Created::HostVeth { name } => Some(name.clone()),
        Created::Phys { .. } => None,
    });
    specs
        .iter()
        .map(|s| match s.kind {
            Kind::Veth => veths.next(),
            _ => None,
        })
        .collect()
}

/// `lxc.net.N.script.up|down` as LXC runs it: `SCRIPT NAME net up|down
/// TYPE [HOST_IF]` with `LXC_NET_TYPE`, `LXC_NET_PARENT`, `LXC_NET_PEER`.
fn script(
    c: &Container,
    s: &NetSpec,
    kind: &'static str,
    peer: Option<&str>,
) -> std::result::Result<(), enclos_net::Error> {
    let path = if kind == "up" {
        &s.script_up
    } else {
        &s.script_down
    };
    let Some(path) = path else { return Ok(()) };
    let mut cmd = std::process::Command::new(path);
    cmd.args([c.name(), "net", kind, s.kind.name()]);
    cmd.env("LXC_NAME", c.name())
        .env("LXC_HOOK_TYPE", kind)
        .env("LXC_HOOK_SECTION", "net")
        .env("LXC_NET_TYPE", s.kind.name());
    if let Some(p) = peer {
        cmd.arg(p).env("LXC_NET_PEER", p);
    }
    if let Some(l) = &s.link {
        cmd.env("LXC_NET_PARENT", l);
    }
    let fail = |reason: String| enclos_net::Error::Script {
        index: s.index,
        kind,
        script: path.clone(),
        reason,
    };
    match cmd.status() {
        Ok(st) if st.success() => Ok(()),
        Ok(st) => Err(fail(format!("it exited with {st}"))),
        Err(e) => Err(fail(e.to_string())),
    }
}

/// One interface of a running container, as `info` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NetLink {
    /// The host side's name for a veth, else the name in the container.
    pub link: String,
    /// Bytes the host side sent (what the container received).
    pub tx_bytes: u64,
    /// Bytes the host side received (what the container sent).
    pub rx_bytes: u64,
}

/// The interfaces of the container of init `pid`, read in its namespace.
pub(crate) fn links(c: &Container, pid: i32) -> Vec<NetLink> {
    let peers = match c.config().ok().map(|cfg| specs(&cfg)) {
        Some(Ok(specs)) => specs
            .iter()
            .zip(host_names(&recorded(c), &specs))
            .filter_map(|(s, p)| Some((s.name.clone(), p?)))
            .collect(),
        _ => Vec::new(),
    };
    enclos_net::stats(pid)
        .unwrap_or_default()
        .into_iter()
        .map(|l| NetLink {
            link: peers
                .iter()
                .find(|(n, _)| *n == l.name)
                .map(|(_, p)| p.clone())
                .unwrap_or(l.name),
            tx_bytes: l.rx_bytes,
            rx_bytes: l.tx_bytes,
        })
        .collect()
}

/// The IPv4 then IPv6 addresses of the container of init `pid`, loopback
/// and link-local excepted, read over netlink in its namespace.
pub(crate) fn addresses(pid: i32) -> Vec<String> {
    let stats = match enclos_net::stats(pid) {
        Ok(s) => s,
        // A user may not enter its container's network namespace (setns
        // wants CAP_SYS_ADMIN where the caller is too), but as the owner
        // of the container's user namespace it may read the namespace's
        // tables in /proc/PID/net.
        Err(_) if !nix::unistd::geteuid().is_root() => return proc_addresses(pid),
        Err(_) => Vec::new(),
    };
    let v4 = stats
        .iter()
        .flat_map(|l| l.ipv4.iter().map(|a| a.to_string()));
    let v6 = stats
        .iter()
        .flat_map(|l| l.ipv6.iter().map(|a| a.to_string()));
    v4.chain(v6).collect()
}

/// The IPv4 then IPv6 addresses of the network namespace of `pid` from
/// `/proc/PID/net` (`fib_trie`'s local host entries, `if_inet6`), loopback
/// and link-local excepted.
fn proc_addresses(pid: i32) -> Vec<String> {
    let dir = std::path::PathBuf::from(format!("/proc/{pid}/net"));
    let trie = std::fs::read_to_string(dir.join("fib_trie")).unwrap_or_default();
    let inet6 = std::fs::read_to_string(dir.join("if_inet6")).unwrap_or_default();
    let mut all = fib_local_v4(&trie);
    all.extend(global_v6(&inet6));
    all
}

/// The addresses `fib_trie` lists as `/32 host LOCAL` (the namespace's
/// own IPv4 addresses), loopback excepted, each once.
fn fib_local_v4(trie: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut last = None;
    for line in trie.lines() {
        let t = line.trim();
        if let Some(a) = t.strip_prefix("|-- ") {
            last = a.parse::<std::net::Ipv4Addr>().ok();
        } else if t.starts_with("/32 host LOCAL") {
            if let Some(a) = last.filter(|a| !a.is_loopback()) {
                let a = a.to_string();
                if !found.contains(&a) {
                    found.push(a);
                }
            }
        }
    }
    found
}

/// The addresses of `if_inet6` of global scope (not host or link).
fn global_v6(inet6: &str) -> Vec<String> {
    inet6
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 6 || f[3] != "00" {
                return None;
            }
            u128::from_str_radix(f[0], 16)
                .ok()
                .map(|n| std::net::Ipv6Addr::from(n).to_string())
        })
        .collect()
}

#[cfg(test)]
mod proc_net_tests {
    #[test]
    fn addresses_from_proc_net() {
        let trie = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.0.3.0\n        /24 link UNICAST\n\
                    |-- 10.0.3.198\n        /32 host LOCAL\n     |-- 127.0.0.1\n        /32 host LOCAL\n\
                    Local:\n     |-- 10.0.3.198\n        /32 host LOCAL\n     |-- 10.0.3.255\n        /32 link BROADCAST\n";
        assert_eq!(super::fib_local_v4(trie), ["10.0.3.198"]);
        let inet6 = "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n\
                     fd000000000000000000000000000002 04 40 00 82     eth0\n\
                     00000000000000000000000000000001 01 80 10 80       lo\n";
        assert_eq!(super::global_v6(inet6), ["fd00::2"]);
    }
}
