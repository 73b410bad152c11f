//! Container networks on links the test makes in a network namespace of
//! its own (see `enclos_tests::netns`): veth on a bridge, macvlan and
//! ipvlan on a dummy parent, phys moved in and given back, the clean-up
//! after stop, SIGKILL and a killed monitor, and bad input.
//!
//! Run: `cargo build --release -p enclos &&
//! ENCLOS_BIN=$PWD/target/release/enclos cargo test --test net`.

use std::time::Duration;

use enclos_tests::lab::*;
use enclos_tests::netns::TestNet;
use enclos_tests::require_root;

/// A busybox container of `lab` whose networks are `keys` only.
fn with_net(lab: &Lab, tag: &str, keys: &str) -> String {
    let n = lab.create(tag);
    let path = lab.path().join(&n).join("config");
    let mut text = std::fs::read_to_string(&path).expect("read config");
    text.push_str("lxc.net =\n");
    text.push_str(keys);
    text.push('\n');
    std::fs::write(&path, text).expect("write config");
    n
}

fn started(lab: &Lab, tag: &str, keys: &str) -> String {
    let n = with_net(lab, tag, keys);
    lab.start(&n);
    n
}

/// `ping -c1` from container `from` to `to` succeeds.
fn pings(lab: &Lab, from: &str, to: &str) {
    let out = lab.attach(from, &["ping", "-c", "1", "-W", "3", to]);
    assert!(out.ok(), "ping {to} from {from}: {out:#?}");
}

fn veth(addr: &str, extra: &str) -> String {
    format!(
        "lxc.net.0.type = veth\nlxc.net.0.link = tbr0\nlxc.net.0.flags = up\n\
         lxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\nlxc.net.0.ipv4.address = {addr}\n\
         lxc.net.0.ipv4.gateway = auto\n{extra}"
    )
}

#[test]
fn two_veth_containers_on_a_bridge_ping_each_other_and_the_bridge() {
    if !require_root("two_veth_containers_on_a_bridge_ping_each_other_and_the_bridge") {
        return;
    }
    let net = TestNet::enter();
    net.bridge("tbr0", "10.77.0.1/24");
    let lab = Lab::new();
    let a = started(
        &lab,
        "va",
        &veth("10.77.0.2/24", "lxc.net.0.ipv6.address = fd77::2/64"),
    );
    let b = started(&lab, "vb", &veth("10.77.0.3/24", ""));
    pings(&lab, &a, "10.77.0.3");
    pings(&lab, &b, "10.77.0.2");
    pings(&lab, &a, "10.77.0.1");
    // The host sides are ports of the bridge.
    let ports = net.ip(&["-o", "link", "show", "master", "tbr0"]).stdout;
    assert_eq!(ports.lines().count(), 2, "{ports}");
    // ls -f fills IPV4 and IPV6 (compressed).
    let ls = lab.enclos("ls", &["-f", "-F", "name,ipv4,ipv6"]).success();
    let line = ls
        .stdout
        .lines()
        .find(|l| l.starts_with(&a))
        .expect("a's line");
    assert!(
        line.contains("10.77.0.2") && line.contains("fd77::2"),
        "{}",
        ls.stdout
    );
    // info: IP, Link (the host side) and its byte counts.
    let info = lab.enclos("info", &["-n", &a]).success().stdout;
    let f = fields(&info);
    assert!(info.contains("10.77.0.2"), "{info}");
    assert!(
        f.get("Link").is_some_and(|l| l.starts_with("veth")),
        "{info}"
    );
    assert!(ports.contains(&f["Link"]), "{info}\n{ports}");
    assert!(
        info.contains(" TX bytes:") && info.contains(" Total bytes:"),
        "{info}"
    );
    // The default route goes through the bridge (gateway = auto).
    let routes = inside(&lab, &a, "ip route");
    assert!(routes.contains("default via 10.77.0.1"), "{routes}");
    let mac = inside(&lab, &a, "cat /sys/class/net/eth0/address");
    assert!(mac.starts_with("00:16:3e:"), "{mac}");
    lab.enclos("stop", &["-n", &a, "-k"]).success();
    lab.enclos("stop", &["-n", &b, "-k"]).success();
    assert_eq!(net.links(), ["lo", "tbr0"]);
}

fn inside(lab: &Lab, name: &str, cmd: &str) -> String {
    let out = lab.attach(name, &["sh", "-c", cmd]);
    assert!(out.ok(), "`{cmd}` in {name}: {out:#?}");
    out.stdout.trim().to_string()
}

/// Whether an interface's `/sys/class/net/IF/flags` (`0x1003`) has
/// IFF_UP.
fn is_up(flags: &str) -> bool {
    let bits = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16)
        .unwrap_or_else(|e| panic!("flags {flags:?}: {e}"));
    bits & 1 == 1
}

/// No interface but lo and the bridge, within a few seconds.
fn only_bridge_left(net: &TestNet) {
    let left = poll(Duration::from_secs(10), || {
        (net.links() == ["lo", "tbr0"]).then_some(())
    });
    assert!(left.is_some(), "left: {:?}", net.links());
}

#[test]
fn a_veth_leaves_nothing_after_stop_sigkill_or_a_killed_monitor() {
    if !require_root("a_veth_leaves_nothing_after_stop_sigkill_or_a_killed_monitor") {
        return;
    }
    let net = TestNet::enter();
    net.bridge("tbr0", "10.78.0.1/24");
    let lab = Lab::new();
    let c = started(
        &lab,
        "vk",
        &veth("10.78.0.2/24", "lxc.net.0.veth.pair = tvk0"),
    );
    assert!(net.links().contains(&"tvk0".to_string()));
    lab.enclos("stop", &["-n", &c]).success();
    only_bridge_left(&net);
    // init killed outright.
    lab.start(&c);
    assert!(net.links().contains(&"tvk0".to_string()));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(lab.init_pid(&c)),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    only_bridge_left(&net);
    assert!(
        poll(Duration::from_secs(10), || (lab.state(&c) == "STOPPED")
            .then_some(()))
        .is_some()
    );
    // The monitor killed: init dies with it (lxc.monitor.signal.pdeath).
    lab.start(&c);
    kill_monitor(&lab, &c);
    only_bridge_left(&net);
    // The monitor killed, init living on, then the container stopped.
    let path = lab.path().join(&c).join("config");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("lxc.monitor.signal.pdeath = 0\n");
    std::fs::write(&path, text).unwrap();
    lab.start(&c);
    kill_monitor(&lab, &c);
    assert_eq!(lab.state(&c), "RUNNING");
    lab.enclos("stop", &["-n", &c, "-k"]).success();
    only_bridge_left(&net);
}

fn kill_monitor(lab: &Lab, name: &str) {
    let monitor: i32 = std::fs::read_to_string(lab.path().join(name).join(".enclos/monitor.pid"))
        .expect("monitor.pid")
        .trim()
        .parse()
        .expect("a pid in monitor.pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(poll(SETTLE, || (!alive(monitor)).then_some(())).is_some());
}

/// Two containers of `kind` on the parent tpar0 ping each other.
fn two_on_a_parent_ping(net: &TestNet, lab: &Lab, kind: &str, mode: &str, subnet: &str) {
    let keys = |i: u8| {
        format!(
            "lxc.net.0.type = {kind}\nlxc.net.0.link = tpar0\nlxc.net.0.flags = up\n\
             lxc.net.0.{mode}\nlxc.net.0.ipv4.address = {subnet}.{i}/24"
        )
    };
    let a = started(lab, "ma", &keys(2));
    let b = started(lab, "mb", &keys(3));
    pings(lab, &a, &format!("{subnet}.3"));
    pings(lab, &b, &format!("{subnet}.2"));
    let link = net
        .in_netns_of(lab.init_pid(&a), &["ip", "-d", "link", "show", "eth0"])
        .stdout;
    assert!(link.contains(kind), "{link}");
    lab.enclos("stop", &["-n", &a, "-k"]).success();
    lab.enclos("stop", &["-n", &b, "-k"]).success();
}

#[test]
fn macvlan_containers_on_one_parent_ping_each_other() {
    if !require_root("macvlan_containers_on_one_parent_ping_each_other") {
        return;
    }
    let net = TestNet::enter();
    net.parent("tpar0");
    let lab = Lab::new();
    two_on_a_parent_ping(&net, &lab, "macvlan", "macvlan.mode = bridge", "10.79.0");
    assert_eq!(net.links(), ["lo", "tpar0", "tpar0p"]);
}

/// ipvlan and vlan: where the kernel has them, two containers ping each
/// other; where it has not (no module), start says so in one line and
/// leaves nothing.
#[test]
fn ipvlan_and_vlan_work_or_fail_cleanly() {
    if !require_root("ipvlan_and_vlan_work_or_fail_cleanly") {
        return;
    }
    let net = TestNet::enter();
    net.parent("tpar0");
    let lab = Lab::new();
    for (kind, mode, subnet) in [
        ("ipvlan", "ipvlan.mode = l2", "10.80.0"),
        ("vlan", "vlan.id = 7", "10.83.0"),
    ] {
        if net.supports(kind, "tpar0") {
            two_on_a_parent_ping(&net, &lab, kind, mode, subnet);
        } else {
            let c = with_net(
                &lab,
                "nokind",
                &format!("lxc.net.0.type = {kind}\nlxc.net.0.link = tpar0\nlxc.net.0.{mode}"),
            );
            let out = lab.enclos("start", &["-n", &c]);
            assert_one_error_line(
                &out,
                &format!("Cannot create lxc.net.0 ({kind}): this kernel has no {kind} driver; "),
            );
            // What to do: the module to load when the kernel has it, and
            // always another type.
            assert!(
                out.stderr
                    .contains("use another lxc.net.0.type (veth on a bridge, or macvlan)"),
                "{out:#?}"
            );
            assert_eq!(lab.state(&c), "STOPPED");
        }
        assert_eq!(net.links(), ["lo", "tpar0", "tpar0p"]);
    }
}

#[test]
fn phys_moves_a_link_in_and_gives_it_back_at_stop() {
    if !require_root("phys_moves_a_link_in_and_gives_it_back_at_stop") {
        return;
    }
    let net = TestNet::enter();
    net.parent("tphy0");
    let lab = Lab::new();
    let c = started(
        &lab,
        "ph",
        "lxc.net.0.type = phys\nlxc.net.0.link = tphy0\nlxc.net.0.name = eth7\n\
         lxc.net.0.flags = up\nlxc.net.0.ipv4.address = 10.81.0.2/24",
    );
    assert_eq!(net.links(), ["lo", "tphy0p"]);
    let inside = inside(&lab, &c, "ls /sys/class/net");
    assert!(inside.contains("eth7"), "{inside}");
    lab.enclos("stop", &["-n", &c, "-k"]).success();
    assert_eq!(net.links(), ["lo", "tphy0", "tphy0p"]);
}

/// A start that fails before its network is made (a cgroup value the
/// kernel refuses) or after (a mount entry whose source is missing, in
/// init's set-up) gives the phys link back and leaves no veth, every time
/// with its one error; the same keys without the failing one bring both
/// links up.
#[test]
fn a_start_failing_before_or_after_its_network_gives_everything_back() {
    if !require_root("a_start_failing_before_or_after_its_network_gives_everything_back") {
        return;
    }
    let net = TestNet::enter();
    net.bridge("tbr0", "10.83.0.1/24");
    net.parent("tphy0");
    let lab = Lab::new();
    let links = "lxc.net.0.type = phys\nlxc.net.0.link = tphy0\nlxc.net.0.name = eth7\n\
                 lxc.net.0.flags = up\nlxc.net.0.ipv4.address = 10.83.1.2/24\n\
                 lxc.net.1.type = veth\nlxc.net.1.link = tbr0\nlxc.net.1.flags = up\n\
                 lxc.net.1.veth.pair = tfail0\nlxc.net.1.ipv4.address = 10.83.0.2/24\n";
    let cases = [
        (
            "lxc.cgroup.cpuset.cpus = 4095",
            "cannot apply lxc.cgroup.cpuset.cpus = 4095",
        ),
        (
            "lxc.mount.entry = /nonexistent-enclos-test mnt none bind 0 0",
            "Cannot mount /nonexistent-enclos-test on /mnt",
        ),
    ];
    for (key, error) in cases {
        let c = with_net(&lab, "fail", &format!("{links}{key}"));
        let out = lab.enclos("start", &["-n", &c]);
        assert_one_error_line(&out, error);
        assert_eq!(lab.state(&c), "STOPPED");
        let back = poll(Duration::from_secs(10), || {
            (net.links() == ["lo", "tbr0", "tphy0", "tphy0p"]).then_some(())
        });
        assert!(back.is_some(), "after {key}: {:?}", net.links());
    }
    // And the same keys without the failing one start, with both links.
    let c = started(&lab, "ok", links);
    assert_eq!(net.links(), ["lo", "tbr0", "tfail0", "tphy0p"]);
    // Both up (IFF_UP, bit 0 of their flags).
    let flags = inside(
        &lab,
        &c,
        "cat /sys/class/net/eth7/flags /sys/class/net/eth1/flags",
    );
    for f in flags.lines() {
        assert!(is_up(f), "{flags}");
    }
    lab.enclos("stop", &["-n", &c, "-k"]).success();
    assert_eq!(net.links(), ["lo", "tbr0", "tphy0", "tphy0p"]);
}

/// `lxc.net.0.type = empty` gives loopback only, down unless
/// `lxc.net.0.flags = up` says otherwise (as LXC does); init here is a
/// plain sleep, so no rcS brings it up.
#[test]
fn an_empty_network_has_lo_up_only_with_flags_up() {
    if !require_root("an_empty_network_has_lo_up_only_with_flags_up") {
        return;
    }
    let lab = Lab::new();
    for (flags, up) in [("lxc.net.0.flags = up\n", true), ("", false)] {
        let c = started(
            &lab,
            "lo",
            &format!("lxc.net.0.type = empty\n{flags}lxc.init.cmd = /bin/sleep 4242\n"),
        );
        let links = inside(&lab, &c, "ls /sys/class/net");
        assert_eq!(links, "lo", "{flags}");
        let text = inside(&lab, &c, "cat /sys/class/net/lo/flags");
        assert_eq!(is_up(&text), up, "lo's flags {text} with {flags:?}");
        lab.enclos("stop", &["-n", &c, "-k"]).success();
    }
}

#[test]
fn bad_networks_fail_the_start_with_one_error_and_leave_nothing() {
    if !require_root("bad_networks_fail_the_start_with_one_error_and_leave_nothing") {
        return;
    }
    let net = TestNet::enter();
    net.bridge("tbr0", "10.82.0.1/24");
    let lab = Lab::new();
    let cases = [
        (
            "lxc.net.0.type = macvlan\nlxc.net.0.link = nope0",
            "Interface nope0 of lxc.net.0.link does not exist",
        ),
        (
            "lxc.net.0.type = veth\nlxc.net.0.link = nobr0",
            "Bridge nobr0 does not exist: run `enclos net up` (or create it), or set lxc.net.0.type = empty",
        ),
        (
            "lxc.net.0.type = veth\nlxc.net.0.link = tbr0\nlxc.net.0.hwaddr = 00:16:3e:00:00:01\n\
             lxc.net.1.type = veth\nlxc.net.1.link = tbr0\nlxc.net.1.hwaddr = 00:16:3e:00:00:01",
            "Hardware address 00:16:3e:00:00:01 of lxc.net.1.hwaddr is already used by lxc.net.0",
        ),
        (
            "lxc.net.0.type = veth\nlxc.net.0.link = tbr0\nlxc.net.0.ipv4.address = 10.82.0.300/24",
            "lxc.net.0.ipv4.address",
        ),
        (
            "lxc.net.0.type = veth\nlxc.net.0.link = tbr0\nlxc.net.0.ipv4.address = 10.82.0.3/40",
            "lxc.net.0.ipv4.address",
        ),
    ];
    for (keys, error) in cases {
        let c = with_net(&lab, "bad", keys);
        let out = lab.enclos("start", &["-n", &c]);
        assert_one_error_line(&out, error);
        assert_eq!(lab.state(&c), "STOPPED");
        assert_eq!(net.links(), ["lo", "tbr0"], "after {keys}");
    }
}

#[test]
fn a_none_network_beside_a_veth_is_ignored_with_one_warning() {
    if !require_root("a_none_network_beside_a_veth_is_ignored_with_one_warning") {
        return;
    }
    let net = TestNet::enter();
    net.bridge("tbr0", "10.84.0.1/24");
    net.parent("tnon0");
    let lab = Lab::new();
    let c = with_net(
        &lab,
        "nonev",
        &format!(
            "lxc.net.0.type = none\n{}",
            veth("10.84.0.2/24", "").replace("lxc.net.0.", "lxc.net.1.")
        ),
    );
    let out = lab.enclos("start", &["-n", &c]).success();
    let warnings: Vec<&str> = out.stderr.lines().filter(|l| l.contains("none")).collect();
    assert_eq!(warnings.len(), 1, "{out:#?}");
    assert!(
        warnings[0].contains(
            "lxc.net.0.type = none is ignored: lxc.net.1 give the container a network namespace of its own"
        ),
        "{out:#?}"
    );
    // Its own namespace: its veth, not the test namespace's links.
    let links = inside(&lab, &c, "ls /sys/class/net");
    assert!(
        links.contains("eth1") && !links.contains("tnon0"),
        "{links}"
    );
    pings(&lab, &c, "10.84.0.1");
    lab.enclos("stop", &["-n", &c, "-k"]).success();
    assert_eq!(net.links(), ["lo", "tbr0", "tnon0", "tnon0p"]);

    // none alone: the network namespace the container was started in
    // (here the test's), with the warning.
    let alone = with_net(&lab, "nonea", "lxc.net.0.type = none");
    let out = lab.enclos("start", &["-n", &alone]).success();
    assert!(
        out.stderr
            .contains("lxc.net.0.type = none: the container shares the host's network namespace"),
        "{out:#?}"
    );
    let links = inside(&lab, &alone, "ls /sys/class/net");
    assert!(links.contains("tnon0") && links.contains("tbr0"), "{links}");
    lab.enclos("stop", &["-n", &alone, "-k"]).success();
}
