//! attach, stats and detach against a process in a network namespace of
//! its own, all inside a namespace of the test's (the host's interfaces
//! are never touched). Needs root.

use std::process::{Child, Command};

use enclos_net::{attach, detach, link_exists, stats, Error, Kind, NetSpec};
use enclos_testkit::require_root;

/// The test thread in a fresh network namespace with a bridge `br` at
/// 10.66.0.1/24; a `sleep` in a namespace of its own below it.
struct Lab {
    sleeper: Child,
}

impl Lab {
    fn new(br: &str) -> Lab {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
        for args in [
            vec!["link", "set", "lo", "up"],
            vec!["link", "add", br, "type", "bridge"],
            vec!["addr", "add", "10.66.0.1/24", "dev", br],
            vec!["link", "set", br, "up"],
        ] {
            assert!(Command::new("ip").args(&args).status().unwrap().success());
        }
        let sleeper = Command::new("unshare")
            .args(["-n", "sleep", "60"])
            .spawn()
            .expect("unshare -n sleep");
        // Wait until the sleeper is in its own namespace.
        let me = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        for _ in 0..200 {
            let its = std::fs::read_link(format!("/proc/{}/ns/net", sleeper.id()));
            if its.is_ok_and(|p| p != me) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Lab { sleeper }
    }

    fn pid(&self) -> i32 {
        self.sleeper.id() as i32
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.sleeper.kill();
        let _ = self.sleeper.wait();
    }
}

fn veth(link: &str) -> NetSpec {
    NetSpec::parse(
        0,
        Kind::Veth,
        &[
            ("link", link),
            ("flags", "up"),
            ("veth.pair", "tnv0"),
            ("ipv4.address", "10.66.0.7/24"),
            ("ipv4.gateway", "auto"),
            ("ipv6.address", "fd66::7/64"),
        ],
    )
    .unwrap()
}

#[test]
fn a_veth_on_a_bridge_is_made_read_and_removed() {
    if !require_root("a_veth_on_a_bridge_is_made_read_and_removed") {
        return;
    }
    let lab = Lab::new("tnbr0");
    let own = own_netns();
    let attached = attach(&[veth("tnbr0")], lab.pid()).expect("attach");
    // The work ran on this thread, which entered the container's
    // namespace only to open a socket there.
    assert_eq!(
        own_netns(),
        own,
        "attach left its caller in another namespace"
    );
    assert!(link_exists("tnv0").unwrap());
    // One queue each way, asked for (see host::one_queue).
    let shown = Command::new("ip")
        .args(["-d", "link", "show", "tnv0"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("numtxqueues 1 numrxqueues 1"), "{shown}");
    let links = stats(lab.pid()).unwrap();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0].name, "eth0");
    assert_eq!(
        links[0].ipv4,
        ["10.66.0.7".parse::<std::net::Ipv4Addr>().unwrap()]
    );
    assert_eq!(
        links[0].ipv6,
        ["fd66::7".parse::<std::net::Ipv6Addr>().unwrap()]
    );
    detach(&attached);
    assert!(!link_exists("tnv0").unwrap());
}

/// A caller inside a tokio runtime (which cannot run another on its
/// thread) gets the same work done from a thread of its own.
#[test]
fn attach_works_from_inside_a_tokio_runtime() {
    if !require_root("attach_works_from_inside_a_tokio_runtime") {
        return;
    }
    let lab = Lab::new("tnbr3");
    let own = own_netns();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let attached = runtime
        .block_on(async { attach(&[veth("tnbr3")], lab.pid()) })
        .expect("attach");
    assert_eq!(own_netns(), own);
    assert!(link_exists("tnv0").unwrap());
    assert_eq!(stats(lab.pid()).unwrap()[0].name, "eth0");
    detach(&attached);
    assert!(!link_exists("tnv0").unwrap());
}

fn own_netns() -> std::path::PathBuf {
    std::fs::read_link("/proc/thread-self/ns/net").unwrap()
}

#[test]
fn a_missing_bridge_is_said_and_nothing_is_made() {
    if !require_root("a_missing_bridge_is_said_and_nothing_is_made") {
        return;
    }
    let lab = Lab::new("tnbr1");
    let err = attach(&[veth("nobr9")], lab.pid()).unwrap_err();
    assert!(matches!(err, Error::NoBridge { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Bridge nobr9 does not exist: run `enclos net up` (or create it), or set lxc.net.0.type = empty"
    );
    assert!(!link_exists("tnv0").unwrap());
    assert!(stats(lab.pid()).unwrap().is_empty());
}

#[test]
fn a_failure_inside_undoes_the_host_side() {
    if !require_root("a_failure_inside_undoes_the_host_side") {
        return;
    }
    let lab = Lab::new("tnbr2");
    // `auto` needs an address on the link: a bridge without one fails
    // after the veth was made, which must then be gone.
    assert!(Command::new("ip")
        .args(["addr", "flush", "dev", "tnbr2"])
        .status()
        .unwrap()
        .success());
    let err = attach(&[veth("tnbr2")], lab.pid()).unwrap_err();
    assert!(err.to_string().contains("ipv4.gateway"), "{err}");
    assert!(!link_exists("tnv0").unwrap());
    assert!(stats(lab.pid()).unwrap().is_empty());
}
