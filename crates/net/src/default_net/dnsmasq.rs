//! dnsmasq for the default network: DHCP and DNS bound to the bridge
//! alone, as lxc-net starts it, with its pid and lease files in the run
//! directory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::error::Result;
use super::settings::Settings;
use super::tools::DNSMASQ;

/// The pid file in `run_dir`.
pub fn pid_file(run_dir: &Path) -> PathBuf {
    run_dir.join("dnsmasq.pid")
}

/// The lease file in `run_dir`.
pub fn lease_file(run_dir: &Path) -> PathBuf {
    run_dir.join("dnsmasq.leases")
}

/// dnsmasq's arguments for `s`.
pub(crate) fn args(s: &Settings, run_dir: &Path) -> Vec<String> {
    let conf = s
        .dhcp_confile
        .as_deref()
        .unwrap_or(Path::new("/dev/null"))
        .display();
    let mut a = vec![
        format!("--conf-file={conf}"),
        "--strict-order".into(),
        "--bind-interfaces".into(),
        format!("--pid-file={}", pid_file(run_dir).display()),
        format!("--listen-address={}", s.address),
        format!("--dhcp-range={},{}", s.dhcp_range.0, s.dhcp_range.1),
        format!("--dhcp-lease-max={}", s.dhcp_max),
        "--dhcp-no-override".into(),
        "--except-interface=lo".into(),
        format!("--interface={}", s.bridge),
        format!("--dhcp-leasefile={}", lease_file(run_dir).display()),
        "--dhcp-authoritative".into(),
    ];
    if let Some(a6) = s.ipv6 {
        // As lxc-net: router advertisements for the bridge's network.
        a.push(format!("--listen-address={a6}"));
        a.push("--enable-ra".into());
        a.push(format!("--dhcp-range={a6},ra-only"));
    }
    if let Some(d) = &s.domain {
        a.push(format!("--domain={d}"));
        a.push(format!("--local=/{d}/"));
    }
    a
}

/// Starts dnsmasq; it forks into the background once it listens, so an
/// error in its settings or a port taken comes back here.
pub(crate) fn start(s: &Settings, run_dir: &Path) -> Result<()> {
    DNSMASQ
        .run(
            &args(s, run_dir),
            None,
            &format!("serve DHCP and DNS on {}", s.bridge),
        )
        .map(drop)
}

/// The pid of the running dnsmasq of `run_dir`, if it runs.
pub fn running(run_dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(pid_file(run_dir)).ok()?;
    let pid: i32 = text.trim().parse().ok()?;
    is_dnsmasq(pid).then_some(pid)
}

/// Whether `pid` is a live (not zombie) dnsmasq.
fn is_dnsmasq(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // pid (comm) state ...
    let Some((head, rest)) = stat.rsplit_once(") ") else {
        return false;
    };
    head.ends_with("(dnsmasq") && !rest.starts_with(['Z', 'X'])
}

/// Stops the dnsmasq of `run_dir` (SIGTERM, then SIGKILL after 3 s) and
/// removes its pid and lease files.
pub(crate) fn stop(run_dir: &Path) -> Result<()> {
    if let Some(pid) = running(run_dir) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while is_dnsmasq(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if is_dnsmasq(pid) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    for f in [pid_file(run_dir), lease_file(run_dir)] {
        match std::fs::remove_file(&f) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(super::error::file("remove", &f)(e));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dnsmasq_listens_on_the_bridge_alone_with_its_files_in_the_run_dir() {
        let a = args(&Settings::default(), Path::new("/run/x"));
        for want in [
            "--bind-interfaces",
            "--interface=lxcbr0",
            "--except-interface=lo",
            "--listen-address=10.0.3.1",
            "--dhcp-range=10.0.3.2,10.0.3.254",
            "--dhcp-lease-max=253",
            "--pid-file=/run/x/dnsmasq.pid",
            "--dhcp-leasefile=/run/x/dnsmasq.leases",
            "--conf-file=/dev/null",
        ] {
            assert!(a.iter().any(|x| x == want), "{want} in {a:?}");
        }
        assert!(running(Path::new("/run/x/none")).is_none());
        assert!(!a.iter().any(|x| x == "--enable-ra"));
    }

    #[test]
    fn an_ipv6_address_brings_router_advertisements_as_lxc_net() {
        let s = Settings {
            ipv6: Some("fd42::1".parse().unwrap()),
            ..Settings::default()
        };
        let a = args(&s, Path::new("/run/x"));
        for want in [
            "--listen-address=fd42::1",
            "--enable-ra",
            "--dhcp-range=fd42::1,ra-only",
        ] {
            assert!(a.iter().any(|x| x == want), "{want} in {a:?}");
        }
    }
}
