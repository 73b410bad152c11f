//! An unprivileged container's networks: its veths are made by the setuid
//! `enclos-user-nic` (LXC's lxc-user-nic), within the quota root gives in
//! /etc/enclos/enclos-usernet, and configured inside by a child that
//! joins the container's user namespace (the user owns it, so it may
//! enter its network namespace there). Removed the same way at stop.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;

use enclos_namespaces::Namespace;
use enclos_net::{Created, Kind, NetSpec, VethMode};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use crate::container::Container;

/// Where the helper is installed.
pub(crate) const HELPER: &str = "/usr/libexec/enclos/enclos-user-nic";
/// The variable that names another helper (tests, a build tree).
pub(crate) const HELPER_ENV: &str = "ENCLOS_USER_NIC";

/// The helper this user runs.
pub(crate) fn helper() -> PathBuf {
    std::env::var_os(HELPER_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(HELPER))
}

/// Why spec `s` cannot be made for a user, if it cannot.
fn refusal(s: &NetSpec) -> Option<String> {
    match (s.kind, s.veth_mode, &s.link) {
        (Kind::Empty | Kind::None, _, _) | (Kind::Veth, VethMode::Bridge, Some(_)) => None,
        (Kind::Veth, VethMode::Bridge, None) => Some(format!(
            "lxc.net.{0}.type = veth needs lxc.net.{0}.link (the bridge) in an unprivileged container",
            s.index
        )),
        (kind, _, _) => Some(format!(
            "lxc.net.{} ({}{}) needs root: an unprivileged container gets only veths on a bridge (lxc.net.{}.type = veth, lxc.net.{}.link = BRIDGE), through {}",
            s.index,
            kind.name(),
            if kind == Kind::Veth { ", router mode" } else { "" },
            s.index,
            s.index,
            HELPER
        )),
    }
}

/// Makes the veths of `specs` for init `pid` through the helper and
/// configures them inside. Returns what was made; on failure, removes it.
pub(crate) fn attach(
    c: &Container,
    specs: &[NetSpec],
    pid: Pid,
) -> std::result::Result<Vec<Created>, String> {
    if let Some(why) = specs.iter().find_map(refusal) {
        return Err(why);
    }
    let mut created = Vec::new();
    let result = (|| {
        for s in specs.iter().filter(|s| s.kind == Kind::Veth) {
            let host = create(c, s, pid)?;
            created.push(Created::HostVeth { name: host });
        }
        configure(specs, pid)
    })();
    match result {
        Ok(()) => Ok(created),
        Err(e) => {
            undo(c, &created);
            Err(e)
        }
    }
}

fn run_helper(args: &[&str]) -> std::result::Result<String, String> {
    let helper = helper();
    let out = Command::new(&helper).args(args).output().map_err(|e| {
        format!(
            "cannot run {} ({e}): an unprivileged container's veth is made by it; install enclos's package, or set {HELPER_ENV}",
            helper.display()
        )
    })?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let err = err.trim();
    Err(err
        .strip_prefix("enclos-user-nic: ")
        .unwrap_or(err)
        .to_string())
}

fn create(c: &Container, s: &NetSpec, pid: Pid) -> std::result::Result<String, String> {
    let lxcpath = c.lxcpath().to_string_lossy().into_owned();
    let pid = pid.to_string();
    let bridge = s.link.as_deref().unwrap_or_default();
    let host = run_helper(&["create", &lxcpath, c.name(), &pid, "veth", bridge, &s.name])
        .map_err(|e| format!("lxc.net.{}: {e}", s.index))?;
    // LXC's helper prints CONTAINER_NIC:HOST_NIC:INDEX, ours the host end.
    match host.split_whitespace().next() {
        Some(h) => Ok(h.to_string()),
        None => Err(format!(
            "lxc.net.{}: the helper named no interface",
            s.index
        )),
    }
}

/// Configures the interfaces inside, from a child in the container's
/// user namespace.
fn configure(specs: &[NetSpec], pid: Pid) -> std::result::Result<(), String> {
    let netns = enclos_net::netns_of(pid.as_raw()).map_err(|e| e.to_string())?;
    let (rd, wr) = nix::unistd::pipe().map_err(|e| format!("cannot make a pipe: {e}"))?;
    let (rd_raw, wr_ref) = (rd.as_raw_fd(), &wr);
    let child = enclos_namespaces::spawn(&[], || {
        let _ = nix::unistd::close(rd_raw);
        let r = enclos_namespaces::join(pid, &[Namespace::User])
            .map_err(|e| e.to_string())
            .and_then(|()| enclos_net::configure_inside(specs, &netns).map_err(|e| e.to_string()));
        match r {
            Ok(()) => 0,
            Err(e) => {
                let _ = nix::unistd::write(wr_ref, e.as_bytes());
                1
            }
        }
    })
    .map_err(|e| e.to_string())?;
    drop(wr);
    let mut err = String::new();
    let _ = std::fs::File::from(rd).read_to_string(&mut err);
    match waitpid(child, None) {
        Ok(WaitStatus::Exited(_, 0)) => Ok(()),
        Ok(_) if !err.is_empty() => Err(err),
        other => Err(format!("the configuring child ended with {other:?}")),
    }
}

/// Removes the host ends in `created` through the helper (what the
/// kernel removed with the namespace is only forgotten).
pub(crate) fn undo(c: &Container, created: &[Created]) {
    let lxcpath = c.lxcpath().to_string_lossy().into_owned();
    for made in created {
        if let Created::HostVeth { name } = made {
            if let Err(e) = run_helper(&["delete", &lxcpath, c.name(), "-", "veth", "-", name]) {
                tracing::debug!(container = c.name(), "{e}");
            }
        }
    }
}
