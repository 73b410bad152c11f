//! A network namespace of the test's own: the calling thread leaves the
//! host's network for a fresh one, where the test makes its bridges and
//! dummy links and starts its containers (their host side lands there).
//! Nothing the test makes touches the host's interfaces, and all of it
//! goes with the namespace when the test's processes end.

use std::process::Command;

use crate::lab::{run, Out};

/// The test thread's own network namespace (entered by [`TestNet::enter`]).
#[derive(Debug)]
pub struct TestNet(());

impl TestNet {
    /// Moves the calling thread (and every process it starts from now
    /// on) into a new network namespace, with its loopback up.
    pub fn enter() -> TestNet {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .expect("unshare a network namespace for the test");
        let t = TestNet(());
        t.ip(&["link", "set", "lo", "up"]);
        t
    }

    /// `ip ARGS...` in the test's namespace; it must succeed.
    pub fn ip(&self, args: &[&str]) -> Out {
        let mut c = Command::new("ip");
        c.args(args);
        let out = run(c);
        assert!(out.ok(), "ip {}: {out:#?}", args.join(" "));
        out
    }

    /// A bridge `name` with `address` (CIDR), up.
    pub fn bridge(&self, name: &str, address: &str) {
        self.ip(&["link", "add", name, "type", "bridge"]);
        self.ip(&["addr", "add", address, "dev", name]);
        self.ip(&["link", "set", name, "up"]);
    }

    /// A parent link `name` for macvlan, ipvlan or phys: one end of a veth
    /// pair (its peer `<name>p` stays), both up. A veth rather than a
    /// dummy: hosts without the dummy module have veth.
    pub fn parent(&self, name: &str) {
        let peer = format!("{name}p");
        self.ip(&["link", "add", name, "type", "veth", "peer", "name", &peer]);
        self.ip(&["link", "set", name, "up"]);
        self.ip(&["link", "set", &peer, "up"]);
    }

    /// Whether this kernel makes links of `kind` (`ipvlan`, `vlan`) on
    /// `parent`.
    pub fn supports(&self, kind: &str, parent: &str) -> bool {
        let extra: &[&str] = if kind == "vlan" { &["id", "9"] } else { &[] };
        let mut c = Command::new("ip");
        c.args([
            "link", "add", "link", parent, "name", "tprobe0", "type", kind,
        ])
        .args(extra);
        let ok = run(c).ok();
        if ok {
            self.ip(&["link", "del", "tprobe0"]);
        }
        ok
    }

    /// The names of the interfaces of the test's namespace, sorted.
    pub fn links(&self) -> Vec<String> {
        let out = self.ip(&["-o", "link", "show"]);
        let mut names: Vec<String> = out
            .stdout
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_string())
            .collect();
        names.sort();
        names
    }

    /// `CMD...` run in the network namespace of process `pid` (as the
    /// host sees it, through nsenter); it must succeed.
    pub fn in_netns_of(&self, pid: i32, cmd: &[&str]) -> Out {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/proc/{pid}/ns/net")).args(cmd);
        let out = run(c);
        assert!(out.ok(), "nsenter {pid} {cmd:?}: {out:#?}");
        out
    }
}
