//! `enclos-user-nic`: the setuid helper that gives an unprivileged user's
//! container a veth on a bridge (LXC's lxc-user-nic, same arguments). See
//! the README for what it trusts and why.

use std::fs::File;
use std::process::ExitCode;

use enclos_namespaces::PidFd;
use enclos_net::usernic::{self, Caller, Paths};
use nix::unistd::{getgid, getgroups, getuid, Gid, Pid, Uid};

const USAGE: &str = "usage: enclos-user-nic create LXCPATH NAME PID veth BRIDGE NICNAME\n       enclos-user-nic delete LXCPATH NAME NETNS-PATH veth BRIDGE HOSTNIC";

fn main() -> ExitCode {
    clear_env();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(out) => {
            if !out.is_empty() {
                println!("{out}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("enclos-user-nic: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Nothing of the caller's environment is kept.
fn clear_env() {
    for (k, _) in std::env::vars_os() {
        std::env::remove_var(k);
    }
    std::env::set_var("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
}

fn run(args: &[String]) -> Result<String, String> {
    let caller = caller()?;
    match args {
        [cmd, _lxcpath, _name, pid, kind, bridge, nic] if cmd == "create" => {
            let pid: i32 = pid
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("Invalid pid '{pid}'"))?;
            let netns = owned_netns(pid)?;
            keep_net_admin_only()?;
            usernic::create(&Paths::default(), &caller, &netns, kind, bridge, nic)
                .map_err(|e| e.to_string())
        }
        [cmd, _lxcpath, _name, _netns, _kind, _bridge, nic] if cmd == "delete" => {
            keep_net_admin_only()?;
            usernic::delete(&Paths::default(), &caller, nic).map_err(|e| e.to_string())?;
            Ok(String::new())
        }
        _ => Err(USAGE.into()),
    }
}

/// The real uid's name and groups, from the files (no NSS module loaded
/// into a setuid program) and the kernel's credentials.
fn caller() -> Result<Caller, String> {
    let uid = getuid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let name = name_of(&passwd, uid.as_raw())
        .ok_or_else(|| format!("Uid {uid} has no name in /etc/passwd"))?;
    let mut gids: Vec<Gid> = getgroups().unwrap_or_default();
    gids.push(getgid());
    let groups = gids
        .iter()
        .filter_map(|g| name_of(&group, g.as_raw()))
        .collect();
    Ok(Caller { name, groups })
}

/// The name of id `id` in a passwd or group file.
fn name_of(text: &str, id: u32) -> Option<String> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[2].parse::<u32>().ok() == Some(id)).then(|| f[0].to_string())
    })
}

/// The network namespace of process `pid`, which the caller must own. The
/// process is pinned by a pidfd before the namespace is opened and checked
/// alive after: the namespace is that process's, not a successor's with a
/// recycled pid.
fn owned_netns(pid: i32) -> Result<File, String> {
    let pidfd = PidFd::open(Pid::from_raw(pid)).map_err(|e| format!("No process {pid}: {e}"))?;
    let path = format!("/proc/{pid}/ns/net");
    let netns = File::open(&path).map_err(|e| format!("Cannot open {path}: {e}"))?;
    if !pidfd.is_alive().unwrap_or(false) {
        return Err(format!(
            "Process {pid} exited while its network namespace was opened"
        ));
    }
    let owner = enclos_net::nsowner::owner_uid(&netns).map_err(|e| {
        format!("Cannot find the owner of the network namespace of process {pid}: {e}")
    })?;
    let me = getuid();
    if Uid::from_raw(owner) != me {
        return Err(format!(
            "The network namespace of process {pid} is not yours (its user namespace belongs to uid {owner}, you are uid {me}): a veth goes only into a container you started"
        ));
    }
    Ok(netns)
}

/// Every capability but CAP_NET_ADMIN goes, for good (bounding set too).
fn keep_net_admin_only() -> Result<(), String> {
    enclos_namespaces::keep_only(&[enclos_namespaces::Capability::CAP_NET_ADMIN])
        .map_err(|e| format!("Cannot drop capabilities: {e}"))
}
