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
/// and runs their `script.up`. Returns whether there was any to make.
pub(crate) fn attach(c: &Container, cfg: &Config, pid: Pid) -> Result<bool> {
    let fail = |e: &dyn std::error::Error| Error::StartFailed {
        name: c.name().to_string(),
        reason: chain(e),
    };
    let _span = tracing::info_span!("net", container = c.name()).entered();
    let specs = specs(cfg).map_err(|e| fail(&e))?;
    // Nothing to do but for links, and for `empty` with `flags = up`,
    // which brings lo up, as LXC does.
    if specs
        .iter()
        .all(|s| s.kind == Kind::None || (s.kind == Kind::Empty && !s.up))
    {
        return Ok(false);
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
    Ok(true)
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
    c.clear_run_file(RUN_FILE);
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
    stats(pid)
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
    let stats = stats(pid);
    let v4 = stats
        .iter()
        .flat_map(|l| l.ipv4.iter().map(|a| a.to_string()));
    let v6 = stats
        .iter()
        .flat_map(|l| l.ipv6.iter().map(|a| a.to_string()));
    v4.chain(v6).collect()
}

/// The interfaces of the network namespace of init `pid` (none when they
/// cannot be read). Root enters it from a thread. Another user, whose
/// container it is, cannot: entering a network namespace takes
/// CAP_SYS_ADMIN in the caller's own user namespace too. A child joins the
/// container's user namespace first (the user owns it, so the child has
/// every capability there), reads them, and sends them back over a pipe.
fn stats(pid: i32) -> Vec<enclos_net::LinkStats> {
    if nix::unistd::geteuid().is_root() {
        return enclos_net::stats(pid).unwrap_or_default();
    }
    match stats_from_user_ns(pid) {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(pid, "cannot read the interfaces of the container: {e}");
            Vec::new()
        }
    }
}

fn stats_from_user_ns(pid: i32) -> std::result::Result<Vec<enclos_net::LinkStats>, String> {
    use std::io::Read;
    use std::os::fd::AsRawFd;

    use enclos_namespaces::Namespace;
    use nix::sys::wait::{waitpid, WaitStatus};

    let (rd, wr) = nix::unistd::pipe().map_err(|e| format!("cannot make a pipe: {e}"))?;
    let (rd_raw, wr_ref) = (rd.as_raw_fd(), &wr);
    let child = enclos_namespaces::spawn(&[], || {
        let _ = nix::unistd::close(rd_raw);
        let r = enclos_namespaces::join(Pid::from_raw(pid), &[Namespace::User])
            .map_err(|e| e.to_string())
            .and_then(|()| enclos_net::stats(pid).map_err(|e| e.to_string()));
        match r {
            Ok(links) => {
                let text: String = links.iter().map(stats_line).collect();
                match nix::unistd::write(wr_ref, text.as_bytes()) {
                    Ok(n) if n == text.len() => 0,
                    _ => 1,
                }
            }
            Err(_) => 1,
        }
    })
    .map_err(|e| e.to_string())?;
    drop(wr);
    let mut text = String::new();
    let _ = std::fs::File::from(rd).read_to_string(&mut text);
    match waitpid(child, None) {
        Ok(WaitStatus::Exited(_, 0)) => Ok(text.lines().filter_map(parse_stats_line).collect()),
        other => Err(format!("the reading child ended with {other:?}")),
    }
}

/// One interface as a line: `NAME RX TX IPV4,... IPV6,...` (`-` for none).
fn stats_line(l: &enclos_net::LinkStats) -> String {
    let list = |v: Vec<String>| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(",")
        }
    };
    format!(
        "{} {} {} {} {}\n",
        l.name,
        l.rx_bytes,
        l.tx_bytes,
        list(l.ipv4.iter().map(ToString::to_string).collect()),
        list(l.ipv6.iter().map(ToString::to_string).collect()),
    )
}

fn parse_stats_line(line: &str) -> Option<enclos_net::LinkStats> {
    let f: Vec<&str> = line.split(' ').collect();
    let [name, rx, tx, v4, v6] = f.as_slice() else {
        return None;
    };
    Some(enclos_net::LinkStats {
        name: name.to_string(),
        rx_bytes: rx.parse().ok()?,
        tx_bytes: tx.parse().ok()?,
        ipv4: parse_list(v4)?,
        ipv6: parse_list(v6)?,
    })
}

fn parse_list<T: std::str::FromStr>(s: &str) -> Option<Vec<T>> {
    if s == "-" {
        return Some(Vec::new());
    }
    s.split(',').map(|a| a.parse().ok()).collect()
}

#[cfg(test)]
mod stats_tests {
    use super::*;

    #[test]
    fn interfaces_read_in_the_users_namespace_come_back_as_they_were() {
        let links = vec![
            enclos_net::LinkStats {
                name: "eth0".into(),
                rx_bytes: 1234,
                tx_bytes: 56,
                ipv4: vec!["10.91.0.2".parse().unwrap(), "10.91.0.9".parse().unwrap()],
                ipv6: vec!["fd91::2".parse().unwrap()],
            },
            enclos_net::LinkStats {
                name: "eth1".into(),
                rx_bytes: 0,
                tx_bytes: 0,
                ipv4: vec![],
                ipv6: vec![],
            },
        ];
        let text: String = links.iter().map(stats_line).collect();
        assert_eq!(
            text,
            "eth0 1234 56 10.91.0.2,10.91.0.9 fd91::2\neth1 0 0 - -\n"
        );
        let back: Vec<_> = text.lines().filter_map(parse_stats_line).collect();
        assert_eq!(back, links);
        assert_eq!(parse_stats_line("eth0 x 0 - -"), None);
    }
}
