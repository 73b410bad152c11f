//! `enclos net up|down|status`, the default network (bridge, forwarding,
//! NAT in an nftables table of its own, dnsmasq), each test inside a
//! network namespace of its own (see `enclos_tests::netns`): its bridge,
//! ip_forward and nftables tables are the namespace's, never the host's.
//!
//! Run: `cargo build --release -p enclos &&
//! ENCLOS_BIN=$PWD/target/release/enclos cargo test --test net_default`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use enclos_tests::lab::*;
use enclos_tests::netns::TestNet;
use enclos_tests::{enclos_bin, require_root};

/// lxc-net's settings file, enclos.conf and a run directory for `enclos
/// net`; on drop, `net down` and, should dnsmasq still run, a SIGKILL for
/// it (it would keep the test's namespace alive).
struct DefaultNet {
    dir: tempfile::TempDir,
}

impl DefaultNet {
    /// With lxc-net's `settings` and no enclos.conf.
    fn new(settings: &str) -> DefaultNet {
        let dir = tempfile::Builder::new()
            .prefix("enclos-net-")
            .tempdir()
            .expect("temp dir");
        std::fs::write(dir.path().join("lxc-net"), settings).expect("write settings");
        DefaultNet { dir }
    }

    /// With lxc-net's `settings` and enclos.conf's `conf`.
    fn with_conf(settings: &str, conf: &str) -> DefaultNet {
        let net = DefaultNet::new(settings);
        std::fs::write(net.conf(), conf).expect("write enclos.conf");
        net
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("enclos.conf")
    }

    fn run_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    fn cmd(&self, sub: &str, extra: &[&str]) -> Command {
        let mut c = Command::new(enclos_bin());
        c.args(["net", sub, "--settings"])
            .arg(self.dir.path().join("lxc-net"))
            .arg("--run-dir")
            .arg(self.run_dir())
            .arg("--config")
            .arg(self.conf())
            .args(extra);
        c
    }

    fn net(&self, sub: &str) -> Out {
        run(self.cmd(sub, &[]))
    }

    fn status(&self) -> serde_json::Value {
        let out = run(self.cmd("status", &["--format", "json"])).success();
        serde_json::from_str(&out.stdout).expect("status json")
    }

    fn dnsmasq_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.run_dir().join("dnsmasq.pid")).ok()?;
        text.trim().parse().ok()
    }
}

impl Drop for DefaultNet {
    fn drop(&mut self) {
        let pid = self.dnsmasq_pid();
        let _ = self.cmd("down", &[]).output();
        if let Some(pid) = pid.filter(|p| alive(*p)) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Whether `pid` runs (neither gone nor a zombie).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, r)| r.to_string()))
        .is_some_and(|r| !r.starts_with(['Z', 'X']))
}

/// The test namespace's ip_forward (read by a process started in it).
fn ip_forward() -> String {
    sysctl("net/ipv4/ip_forward")
}

/// The test namespace's net.ipv6.conf.all.forwarding.
fn ip6_forward() -> String {
    sysctl("net/ipv6/conf/all/forwarding")
}

fn sysctl(path: &str) -> String {
    let mut c = Command::new("cat");
    c.arg(format!("/proc/sys/{path}"));
    run(c).success().stdout.trim().to_string()
}

fn nft(args: &[&str]) -> Out {
    let mut c = Command::new("nft");
    c.args(args);
    run(c)
}

fn tables() -> String {
    nft(&["list", "tables"]).success().stdout
}

#[test]
fn a_busybox_container_on_lxcbr0_gets_its_address_from_dhcp_and_pings_the_bridge() {
    if !require_root(
        "a_busybox_container_on_lxcbr0_gets_its_address_from_dhcp_and_pings_the_bridge",
    ) {
        return;
    }
    let testnet = TestNet::enter();
    let forward_before = ip_forward();
    let net = DefaultNet::new(
        "# as Debian's\nUSE_LXC_BRIDGE=\"true\"\nLXC_DHCP_RANGE=\"10.0.3.100,10.0.3.110\"\n\
         LXC_DHCP_MAX=\"11\"\n",
    );
    let pid = assert_up_made_bridge_dhcp_and_nat(&testnet, &net);

    // Again: nothing new, the same dnsmasq.
    let again = net.net("up").success();
    assert!(again.stdout.contains("already up"), "{again:#?}");
    assert_eq!(net.dnsmasq_pid(), Some(pid));
    assert_eq!(tables().matches("enclos_net").count(), 1);

    let lab = Lab::new();
    let n = lab.create("dhcp");
    let got = start_on_lxcbr0(&lab, &n);
    let last: u8 = got.rsplit('.').next().unwrap().parse().unwrap();
    assert!((100..=110).contains(&last), "{got} is in LXC_DHCP_RANGE");
    let ping = lab.attach(&n, &["ping", "-c", "1", "-W", "3", "10.0.3.1"]);
    assert!(ping.ok(), "ping 10.0.3.1: {ping:#?}");
    let route = lab.attach(&n, &["ip", "route"]).stdout;
    assert!(route.contains("default via 10.0.3.1"), "{route}");
    let ls = lab
        .enclos("ls", &["-f", "-F", "name,ipv4"])
        .success()
        .stdout;
    assert!(ls.contains(&got), "{ls}");
    let leases = std::fs::read_to_string(net.run_dir().join("dnsmasq.leases")).expect("leases");
    assert!(leases.contains(&got), "{leases}");

    // down refuses while a container is on the bridge, and changes nothing.
    let busy = net.net("down");
    assert!(!busy.ok(), "{busy:#?}");
    assert!(
        busy.stderr.contains("still has ports") && busy.stderr.contains("enclos stop"),
        "{busy:#?}"
    );
    assert_eq!(net.status()["up"], true);

    lab.enclos("stop", &["-n", &n, "-k"]).success();
    let down = net.net("down").success();
    assert!(down.stdout.contains("Removed: "), "{down:#?}");
    assert_eq!(testnet.links(), ["lo"]);
    assert!(!tables().contains("enclos_net"), "{}", tables());
    assert_eq!(ip_forward(), forward_before);
    assert!(!alive(pid), "dnsmasq {pid} still runs");
    assert_eq!(net.status()["up"], false);
    // down again: nothing to do.
    let twice = net.net("down").success();
    assert!(twice.stdout.contains("nothing to remove"), "{twice:#?}");
}

/// `enclos net up` with Debian's settings: the bridge with its address,
/// forwarding, the masquerade rule and dnsmasq, whose pid it returns.
fn assert_up_made_bridge_dhcp_and_nat(testnet: &TestNet, net: &DefaultNet) -> i32 {
    let up = net.net("up").success();
    assert!(
        up.stdout.contains("made: bridge lxcbr0") && up.stdout.contains("dnsmasq"),
        "{up:#?}"
    );
    let addr = testnet
        .ip(&["-4", "-o", "addr", "show", "dev", "lxcbr0"])
        .stdout;
    assert!(addr.contains("10.0.3.1/24"), "{addr}");
    assert_eq!(ip_forward(), "1");
    let table = nft(&["list", "table", "inet", "enclos_net"])
        .success()
        .stdout;
    assert!(
        table.contains("ip saddr 10.0.3.0/24 ip daddr != 10.0.3.0/24 masquerade"),
        "{table}"
    );
    let st = net.status();
    assert_eq!(st["up"], true, "{st}");
    let pid = net.dnsmasq_pid().expect("dnsmasq's pid file");
    assert_eq!(st["dnsmasq_pid"], pid, "{st}");
    pid
}

/// Starts container `n` with a veth on lxcbr0 and returns the address it
/// got by DHCP.
fn start_on_lxcbr0(lab: &Lab, n: &str) -> String {
    start_on(lab, n, "lxcbr0")
}

/// Starts container `n` with a veth on `bridge` and returns the address
/// it got by DHCP (in 10.0.3.0/24).
fn start_on(lab: &Lab, n: &str, bridge: &str) -> String {
    let conf = lab.path().join(n).join("config");
    let mut text = std::fs::read_to_string(&conf).expect("read config");
    text.push_str(&format!(
        "lxc.net =\nlxc.net.0.type = veth\nlxc.net.0.link = {bridge}\nlxc.net.0.flags = up\n\
         lxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n"
    ));
    std::fs::write(&conf, text).expect("write config");
    lab.start(n);
    // The template's rcS runs udhcpc in the background.
    poll(Duration::from_secs(30), || {
        let out = lab.attach(n, &["ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
        out.stdout
            .split_whitespace()
            .find(|w| w.starts_with("10.0.3.1") && w.ends_with("/24"))
            .map(|w| w.trim_end_matches("/24").to_string())
    })
    .expect("an address by DHCP within 30 s")
}

#[test]
fn down_removes_only_what_up_made() {
    if !require_root("down_removes_only_what_up_made") {
        return;
    }
    let testnet = TestNet::enter();
    // The bridge is there already, without the address; forwarding is on.
    testnet.ip(&["link", "add", "tbr5", "type", "bridge"]);
    let mut c = Command::new("sh");
    c.args(["-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"]);
    run(c).success();
    let net = DefaultNet::new(
        "LXC_BRIDGE=tbr5\nLXC_ADDR=192.168.77.1\nLXC_NETWORK=192.168.77.0/24\n\
         LXC_DHCP_RANGE=192.168.77.2,192.168.77.9\n",
    );
    let up = net.net("up").success();
    assert!(
        up.stdout.contains("address 192.168.77.1/24 on tbr5")
            && !up.stdout.contains("bridge tbr5,"),
        "{up:#?}"
    );
    assert!(!up.stdout.contains("ip_forward"), "{up:#?}");
    net.net("down").success();
    // The bridge stays, without the address; forwarding stays on.
    assert_eq!(testnet.links(), ["lo", "tbr5"]);
    let addr = testnet
        .ip(&["-4", "-o", "addr", "show", "dev", "tbr5"])
        .stdout;
    assert!(!addr.contains("192.168.77.1"), "{addr}");
    assert_eq!(ip_forward(), "1");
    assert!(!tables().contains("enclos_net"));

    // An interface of the bridge's name that is not a bridge: refused.
    testnet.parent("tnb0");
    let other = DefaultNet::new("LXC_BRIDGE=tnb0\n");
    let out = other.net("up");
    assert!(!out.ok());
    assert!(
        out.stderr.contains("tnb0 exists and is not a bridge") && out.stderr.contains("LXC_BRIDGE"),
        "{out:#?}"
    );
}

#[test]
fn a_missing_tool_or_a_bad_setting_says_what_to_do_and_leaves_nothing() {
    if !require_root("a_missing_tool_or_a_bad_setting_says_what_to_do_and_leaves_nothing") {
        return;
    }
    let testnet = TestNet::enter();
    let forward_before = ip_forward();
    let net = DefaultNet::new("");
    // No nft (hidden under /dev/null in a mount namespace of the
    // command's own, and no PATH): the bridge and forwarding made before
    // the failure are undone.
    let up = net.cmd("up", &[]);
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(
            "for f in /usr/sbin/nft /sbin/nft /usr/bin/nft /bin/nft; do \
             [ -e $f ] && mount --bind /dev/null $f; done; exec env PATH=/nonexistent \"$@\"",
        )
        .arg("sh")
        .arg(up.get_program())
        .args(up.get_args());
    let out = run(c);
    assert!(!out.ok(), "{out:#?}");
    assert!(
        out.stderr.contains("Program nft is not installed")
            && out.stderr.contains("apt-get install nftables"),
        "{out:#?}"
    );
    assert_eq!(testnet.links(), ["lo"]);
    assert_eq!(ip_forward(), forward_before);
    assert!(!net.run_dir().join("made").exists());

    let bad = DefaultNet::new("USE_LXC_BRIDGE=true\nLXC_NETMASK=\"255.0.255.0\"\n");
    let out = bad.net("up");
    assert!(!out.ok());
    assert!(
        out.stderr
            .contains("Invalid LXC_NETMASK=\"255.0.255.0\" in ")
            && out.stderr.contains("line 2: an IPv4 netmask"),
        "{out:#?}"
    );
    assert_eq!(testnet.links(), ["lo"]);
}

#[test]
fn ipv6_settings_give_the_bridge_its_address_router_advertisements_and_nat66() {
    if !require_root("ipv6_settings_give_the_bridge_its_address_router_advertisements_and_nat66") {
        return;
    }
    let testnet = TestNet::enter();
    assert_eq!(ip6_forward(), "0", "a fresh namespace forwards no IPv6");
    let net = DefaultNet::new(
        "LXC_IPV6_ADDR=\"fd77:1::1\"\nLXC_IPV6_MASK=\"64\"\nLXC_IPV6_NAT=\"true\"\n",
    );
    let up = net.net("up").success();
    assert!(
        up.stdout.contains("net.ipv6.conf.all.forwarding = 1"),
        "{up:#?}"
    );
    assert_eq!(ip6_forward(), "1", "IPv6 forwarding after net up");
    let st = net.status();
    assert_eq!(st["forwarding6"], true, "{st}");
    assert_eq!(st["ipv6"], "fd77:1::1/64", "{st}");
    let addr = testnet
        .ip(&["-6", "-o", "addr", "show", "dev", "lxcbr0"])
        .stdout;
    assert!(addr.contains("fd77:1::1/64"), "{addr}");
    let table = nft(&["list", "table", "inet", "enclos_net"])
        .success()
        .stdout;
    assert!(
        table.contains("ip6 saddr fd77:1::/64 ip6 daddr != fd77:1::/64 masquerade"),
        "{table}"
    );
    let pid = net.dnsmasq_pid().expect("dnsmasq's pid file");
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    for want in ["--enable-ra", "--dhcp-range=fd77:1::1,ra-only"] {
        assert!(
            cmdline.split('\0').any(|a| a == want),
            "{want} in {cmdline:?}"
        );
    }

    // A container's static IPv6 address, compressed in `ls -f`.
    let lab = Lab::new();
    let n = lab.create("v6");
    let conf = lab.path().join(&n).join("config");
    let mut text = std::fs::read_to_string(&conf).expect("read config");
    text.push_str(
        "lxc.net =\nlxc.net.0.type = veth\nlxc.net.0.link = lxcbr0\nlxc.net.0.flags = up\n\
         lxc.net.0.ipv6.address = fd77:1:0:0:0:0:0:5/64\n",
    );
    std::fs::write(&conf, text).expect("write config");
    lab.start(&n);
    let ls = lab.enclos("ls", &["-f"]).success();
    assert!(
        ls.lines()
            .iter()
            .any(|l| l.starts_with(&n) && l.contains("fd77:1::5")),
        "{ls:#?}"
    );
    lab.enclos("stop", &["-n", &n]).success();
    let down = net.net("down").success();
    assert!(
        down.stdout
            .contains("net.ipv6.conf.all.forwarding (back to 0)"),
        "{down:#?}"
    );
    assert_eq!(ip6_forward(), "0", "IPv6 forwarding after net down");
    let addr = testnet.ip(&["-6", "-o", "addr", "show"]).stdout;
    assert!(!addr.contains("fd77:1::1"), "{addr}");

    // Forwarding that was on before stays on; without IPv6 settings it is
    // left alone.
    sysctl_write("net/ipv6/conf/all/forwarding", "1");
    net.net("up").success();
    net.net("down").success();
    assert_eq!(ip6_forward(), "1");
    sysctl_write("net/ipv6/conf/all/forwarding", "0");
    let v4 = DefaultNet::new("");
    let up = v4.net("up").success();
    assert!(!up.stdout.contains("ipv6"), "{up:#?}");
    assert_eq!(ip6_forward(), "0");
    v4.net("down").success();
}

fn sysctl_write(path: &str, value: &str) {
    let mut c = Command::new("sh");
    c.args(["-c", &format!("echo {value} > /proc/sys/{path}")]);
    run(c).success();
}

/// `net.bridge = enclosbr0` (and the network's other keys) in enclos.conf
/// win over lxc-net's file: `net up` makes that bridge, dnsmasq serves it
/// alone, and a container on it gets its address by DHCP.
#[test]
fn enclos_conf_names_the_bridge_enclosbr0_and_wins_over_lxc_net() {
    if !require_root("enclos_conf_names_the_bridge_enclosbr0_and_wins_over_lxc_net") {
        return;
    }
    let testnet = TestNet::enter();
    let net = DefaultNet::with_conf(
        "USE_LXC_BRIDGE=\"true\"\nLXC_BRIDGE=\"lxcbr0\"\nLXC_DHCP_RANGE=\"10.0.3.2,10.0.3.254\"\n",
        "# enclos's global settings\nlxc.lxcpath = /var/lib/enclos\n\
         net.bridge = enclosbr0\nnet.dhcp_range = 10.0.3.120,10.0.3.130\n",
    );
    let up = net.net("up").success();
    assert!(
        up.stdout.contains("made: bridge enclosbr0")
            && up.stdout.contains("DHCP 10.0.3.120-10.0.3.130"),
        "{up:#?}"
    );
    assert_eq!(testnet.links(), ["enclosbr0", "lo"]);
    let addr = testnet
        .ip(&["-4", "-o", "addr", "show", "dev", "enclosbr0"])
        .stdout;
    assert!(addr.contains("10.0.3.1/24"), "{addr}");
    let st = net.status();
    assert_eq!(st["bridge"], "enclosbr0", "{st}");
    assert_eq!(st["up"], true, "{st}");
    let pid = net.dnsmasq_pid().expect("dnsmasq's pid file");
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        cmdline.split('\0').any(|a| a == "--interface=enclosbr0"),
        "{cmdline:?}"
    );

    let lab = Lab::new();
    let n = lab.create("encbr");
    let got = start_on(&lab, &n, "enclosbr0");
    let last: u8 = got.rsplit('.').next().unwrap().parse().unwrap();
    assert!((120..=130).contains(&last), "{got} is in net.dhcp_range");
    let ls = lab
        .enclos("ls", &["-f", "-F", "name,ipv4"])
        .success()
        .stdout;
    assert!(ls.contains(&got), "{ls}");
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    net.net("down").success();
    assert_eq!(testnet.links(), ["lo"]);
}

/// A bad value or an unknown net.* key in enclos.conf: one error naming
/// the file and line, and nothing made.
#[test]
fn a_bad_line_of_enclos_conf_names_its_file_and_line_and_makes_nothing() {
    if !require_root("a_bad_line_of_enclos_conf_names_its_file_and_line_and_makes_nothing") {
        return;
    }
    let testnet = TestNet::enter();
    let forward_before = ip_forward();
    for (conf, want) in [
        (
            "lxc.lxcpath = /var/lib/enclos\nnet.address = 10.0.3.256\n",
            "Invalid net.address=\"10.0.3.256\" in {conf} line 2: an IPv4 address",
        ),
        (
            "net.brige = enclosbr0\n",
            "Invalid net.brige=\"enclosbr0\" in {conf} line 1: no such key; the default network's are net.use_bridge, net.bridge,",
        ),
    ] {
        let net = DefaultNet::with_conf("", conf);
        let out = net.net("up");
        assert_eq!(out.code, Some(1), "{out:#?}");
        let want = want.replace("{conf}", &net.conf().display().to_string());
        assert!(out.stderr.contains(&want), "{want} in {out:#?}");
        assert_eq!(out.stderr.trim().lines().count(), 1, "{out:#?}");
        assert_eq!(testnet.links(), ["lo"]);
        assert_eq!(ip_forward(), forward_before);
        assert!(!net.run_dir().join("made").exists());
    }
}
