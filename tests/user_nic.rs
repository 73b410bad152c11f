//! An unprivileged user's container on a bridge through the setuid
//! `enclos-user-nic`: its veth gets its address and reaches the bridge;
//! beyond the quota of the usernet file, a clear refusal with nothing
//! made; a network namespace the user does not own is refused; the host
//! end goes at stop and after SIGKILL of init.
//!
//! Everything runs in a network namespace of the test's own (the bridge
//! included) and, for the helper's fixed paths (/etc/enclos/enclos-usernet,
//! /run/enclos/nics), in a mount namespace where /etc is an overlay and
//! /run a tmpfs: the host's files and interfaces are never touched.
//!
//! Run: `cargo build --release -p enclos -p enclos-user-nic &&
//! ENCLOS_BIN=$PWD/target/release/enclos cargo test --test user_nic`
//! (the helper is taken from beside ENCLOS_BIN).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use enclos_tests::lab::{alive, poll, run, Out};
use enclos_tests::netns::TestNet;
use enclos_tests::user::{TestUser, RANGE};
use enclos_tests::{enclos_bin, require_root};

const BRIDGE: &str = "tunb0";

/// A process holding the mount namespace where the helper's files are
/// the test's; killed on drop.
struct MountNs {
    holder: Child,
    _dir: tempfile::TempDir,
}

impl MountNs {
    fn new(usernet: &str) -> MountNs {
        let dir = tempfile::tempdir().expect("temp dir");
        for d in ["upper", "work"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        let script = "mount -t overlay overlay -o lowerdir=/etc,upperdir=\"$1/upper\",workdir=\"$1/work\" /etc || exit 125; \
             mkdir -p /etc/enclos && printf '%s\\n' \"$2\" > /etc/enclos/enclos-usernet || exit 125; \
             mount -t tmpfs tmpfs /run || exit 125; echo ready; exec sleep 600";
        let mut holder = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "sh",
            ])
            .arg(dir.path())
            .arg(usernet)
            .stdout(Stdio::piped())
            .spawn()
            .expect("run unshare");
        let mut line = String::new();
        BufReader::new(holder.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the mount namespace holder failed");
        MountNs { holder, _dir: dir }
    }

    /// `cmd` run in the holder's mount namespace.
    fn wrap(&self, cmd: Command) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--mount=/proc/{}/ns/mnt", self.holder.id()))
            .arg("--")
            .arg(cmd.get_program())
            .args(cmd.get_args())
            .env_clear()
            .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))));
        if let Some(d) = cmd.get_current_dir() {
            c.current_dir(d);
        }
        c
    }
}

impl Drop for MountNs {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// The helper, copied where the user can run it, setuid root.
fn install_helper(dir: &Path) -> PathBuf {
    let built = enclos_bin().with_file_name("enclos-user-nic");
    assert!(
        built.is_file(),
        "{} is missing: cargo build --release -p enclos-user-nic",
        built.display()
    );
    let helper = dir.join("enclos-user-nic");
    std::fs::copy(&built, &helper).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o4755)).unwrap();
    helper
}

struct Setup {
    net: TestNet,
    u: TestUser,
    ns: MountNs,
    helper: PathBuf,
    _bin: tempfile::TempDir,
}

impl Setup {
    fn enclos(&self, args: &[&str]) -> Out {
        self.enclos_with(&self.helper, args)
    }

    /// `enclos ARGS` as the user, with `helper` as the user-nic helper.
    fn enclos_with(&self, helper: &Path, args: &[&str]) -> Out {
        let mut c = self.u.cmd(enclos_bin(), args);
        c.env("ENCLOS_USER_NIC", helper);
        run(self.ns.wrap(c))
    }

    /// A busybox container of the user with one veth on the bridge.
    fn container(&self, name: &str, addr: &str) {
        self.container_with(name, addr, "");
    }

    /// As [`Setup::container`], with `extra` keys of lxc.net.0.
    fn container_with(&self, name: &str, addr: &str, extra: &str) {
        self.enclos(&["create", "-n", name, "-t", "busybox"])
            .success();
        let conf = self.u.lxcpath().join(name).join("config");
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str(&format!(
            "lxc.net =\nlxc.net.0.type = veth\nlxc.net.0.link = {BRIDGE}\nlxc.net.0.flags = up\n\
             lxc.net.0.ipv4.address = {addr}\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n{extra}"
        ));
        std::fs::write(&conf, text).unwrap();
    }

    /// The ports of the test bridge.
    fn ports(&self) -> Vec<String> {
        let out = self.net.ip(&["-o", "link", "show", "master", BRIDGE]);
        out.stdout
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_string())
            .collect()
    }

    fn init_pid(&self, name: &str) -> i32 {
        let out = self.enclos(&["info", "-n", name, "-p"]).success();
        out.stdout
            .trim()
            .trim_start_matches("PID:")
            .trim()
            .parse()
            .unwrap()
    }
}

fn setup(tag: &str) -> Setup {
    let net = TestNet::enter();
    net.bridge(BRIDGE, "10.91.0.1/24");
    let u = TestUser::new(tag);
    u.write(
        ".config/lxc/default.conf",
        &format!(
            "lxc.idmap = u 0 {s} {RANGE}\nlxc.idmap = g 0 {s} {RANGE}\n",
            s = u.subid
        ),
    );
    let ns = MountNs::new(&format!("{} veth {BRIDGE} 1", u.name));
    let bin = tempfile::tempdir().unwrap();
    let helper = install_helper(bin.path());
    Setup {
        net,
        u,
        ns,
        helper,
        _bin: bin,
    }
}

#[test]
fn a_users_veth_works_within_its_quota_and_goes_at_stop_and_sigkill() {
    if !require_root("a_users_veth_works_within_its_quota_and_goes_at_stop_and_sigkill") {
        return;
    }
    let s = setup("nic");
    s.container("c1", "10.91.0.2/24");
    s.container("c2", "10.91.0.3/24");
    // The doctor sees the helper and the user's line.
    let doc = s.enclos(&["doctor", "-n", "c1"]);
    for line in [
        format!(
            "user_nic: {} is installed and setuid root",
            s.helper.display()
        ),
        format!(
            "user_nic: /etc/enclos/enclos-usernet lets {} attach 1 veth(s) to {BRIDGE}",
            s.u.name
        ),
    ] {
        let ok = doc
            .stdout
            .lines()
            .any(|l| l.strip_prefix("ok").map(str::trim_start) == Some(line.as_str()));
        assert!(ok, "ok {line} in {doc:#?}");
    }
    s.enclos(&["start", "-n", "c1"]).success();
    let addr = s.enclos(&[
        "attach", "-n", "c1", "--", "ip", "-4", "-o", "addr", "show", "dev", "eth0",
    ]);
    assert!(addr.stdout.contains("10.91.0.2/24"), "{addr:#?}");
    let ping = s.enclos(&[
        "attach",
        "-n",
        "c1",
        "--",
        "ping",
        "-c",
        "1",
        "-W",
        "3",
        "10.91.0.1",
    ]);
    assert!(ping.ok(), "{ping:#?}");
    let ports = s.ports();
    assert!(
        ports.len() == 1 && ports[0].starts_with("veth"),
        "{ports:?}"
    );

    // The quota is one veth on the bridge: the second container is
    // refused, and nothing of it is left.
    let out = s.enclos(&["start", "-n", "c2"]);
    assert!(!out.ok(), "{out:#?}");
    assert!(
        out.stderr.contains(&format!(
            "User {} may not attach a veth to bridge {BRIDGE}: it already has 1 of the 1 that /etc/enclos/enclos-usernet allows",
            s.u.name
        )),
        "{}",
        out.stderr
    );
    assert_eq!(s.ports(), ports);
    let state = s.enclos(&["info", "-n", "c2", "-s"]).success();
    assert!(state.stdout.contains("STOPPED"), "{state:#?}");

    // Stop: the host end goes.
    s.enclos(&["stop", "-n", "c1"]).success();
    assert_eq!(s.ports(), Vec::<String>::new());

    // SIGKILL of init: the kernel takes the pair with the namespace, and
    // the quota is free again for c2.
    s.enclos(&["start", "-n", "c1"]).success();
    let pid = s.init_pid("c1");
    assert_eq!(s.ports().len(), 1);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL).unwrap();
    let gone = poll(Duration::from_secs(10), || {
        s.ports().is_empty().then_some(())
    });
    assert!(
        gone.is_some(),
        "a veth is left after SIGKILL: {:?}",
        s.ports()
    );
    poll(Duration::from_secs(10), || (!alive(pid)).then_some(()));
    s.enclos(&["start", "-n", "c2"]).success();
    assert_eq!(s.ports().len(), 1);
    s.enclos(&["stop", "-n", "c2"]).success();
    assert!(s.ports().is_empty());
}

#[test]
fn a_network_namespace_the_user_does_not_own_is_refused() {
    if !require_root("a_network_namespace_the_user_does_not_own_is_refused") {
        return;
    }
    let s = setup("nio");
    // Root's process in a network namespace of its own.
    let mut other = Command::new("unshare")
        .args(["-n", "sleep", "60"])
        .spawn()
        .unwrap();
    let pid = other.id().to_string();
    std::thread::sleep(Duration::from_millis(200));
    let before = s.net.links();
    let c = s.u.cmd(
        &s.helper,
        &["create", "/x", "c", &pid, "veth", BRIDGE, "eth0"],
    );
    let out = run(s.ns.wrap(c));
    let _ = other.kill();
    let _ = other.wait();
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(
        out.stderr.contains(&format!(
            "The network namespace of process {pid} is not yours"
        )) || out
            .stderr
            .contains(&format!("Cannot open /proc/{pid}/ns/net")),
        "{}",
        out.stderr
    );
    assert_eq!(s.net.links(), before, "nothing made");
    // Its own process in the host's namespace (the test's) is refused too.
    let c = s.u.cmd(
        "sh",
        &[
            "-c",
            &format!(
                "exec {} create /x c $$ veth {BRIDGE} eth0",
                s.helper.display()
            ),
        ],
    );
    let out = run(s.ns.wrap(c));
    assert!(out.stderr.contains("is not yours"), "{out:#?}");
    assert_eq!(s.net.links(), before, "nothing made");
}

/// `enclos compat install` links lxc-user-nic to the setuid helper, and
/// the link keeps its privilege: a user's container started through it
/// gets its veth. Then the user's `ls -f` fills IPV4 and IPV6, and `info`
/// shows IP, Link and the byte counts, read inside the container's network
/// namespace, which the user enters through the user namespace they own.
#[test]
fn a_users_container_through_lxc_user_nic_shows_its_addresses_in_ls_and_info() {
    if !require_root("a_users_container_through_lxc_user_nic_shows_its_addresses_in_ls_and_info") {
        return;
    }
    let s = setup("nils");
    let compat = tempfile::tempdir().unwrap();
    std::fs::set_permissions(compat.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = Command::new(enclos_bin());
    c.args(["compat", "install"])
        .arg(compat.path())
        .env("ENCLOS_USER_NIC", &s.helper);
    let out = run(c).success();
    let link = compat.path().join("lxc-user-nic");
    assert!(
        out.stdout
            .contains(&format!("{} -> {}", link.display(), s.helper.display())),
        "{out:#?}"
    );
    assert_eq!(std::fs::read_link(&link).unwrap(), s.helper);
    // Without a setuid helper there is no link, and the reason is given.
    let plain = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let mut c = Command::new(enclos_bin());
    c.args(["compat", "install"])
        .arg(other.path())
        .env("ENCLOS_USER_NIC", plain.path().join("none"));
    let out = run(c).success();
    assert!(!other.path().join("lxc-user-nic").exists());
    assert!(
        out.stderr.contains("Not linked: lxc-user-nic, as ")
            && out.stderr.contains("enclos's package installs it"),
        "{out:#?}"
    );

    s.container_with(
        "c1",
        "10.91.0.2/24",
        "lxc.net.0.ipv6.address = fd91::2/64\n",
    );
    s.enclos_with(&link, &["start", "-n", "c1"]).success();
    let ports = s.ports();
    assert!(
        ports.len() == 1 && ports[0].starts_with("veth"),
        "the veth made through lxc-user-nic: {ports:?}"
    );
    let ping = s.enclos(&[
        "attach",
        "-n",
        "c1",
        "--",
        "ping",
        "-c",
        "1",
        "-W",
        "3",
        "10.91.0.1",
    ]);
    assert!(ping.ok(), "{ping:#?}");

    let ls = s.enclos(&["ls", "-f", "-F", "name,ipv4,ipv6"]).success();
    let row = ls
        .stdout
        .lines()
        .find(|l| l.starts_with("c1 "))
        .unwrap_or_else(|| panic!("no row c1 in {ls:#?}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols, ["c1", "10.91.0.2", "fd91::2"], "{ls:#?}");

    let info = s.enclos(&["info", "-n", "c1"]).success();
    let value = |key: &str| -> Vec<String> {
        info.stdout
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}:")))
            .map(|v| v.trim().to_string())
            .collect()
    };
    assert_eq!(value("IP"), ["10.91.0.2", "fd91::2"], "{info:#?}");
    assert_eq!(value("Link"), ports, "{info:#?}");
    // The ping went out and came back over it.
    for key in [" TX bytes", " RX bytes"] {
        let v = value(key);
        assert_eq!(v.len(), 1, "{key} in {info:#?}");
        assert_ne!(v[0], "0 bytes", "{key} in {info:#?}");
    }
    s.enclos(&["stop", "-n", "c1"]).success();
    assert!(s.ports().is_empty());
}
