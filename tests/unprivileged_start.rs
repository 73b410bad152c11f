//! Section 2.6's start and after, as a real user who is not root: the
//! user's container starts, shows UNPRIVILEGED true, runs as the user's
//! first subordinate id on the host, is attached to as root inside, and
//! stops and goes away leaving no process and no cgroup; with a cgroup
//! root delegated (`enclos cg delegate --user NAME`) and without one.

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use enclos_tests::lab::{alive, proc_status, run, Out};
use enclos_tests::require_root;
use enclos_tests::user::{TestUser, RANGE};

fn root_enclos(args: &[&str]) -> Out {
    let mut c = Command::new(enclos_tests::enclos_bin());
    c.args(args);
    run(c)
}

/// Removes a user's delegated cgroups when the test ends.
struct Delegated<'u>(&'u TestUser);

impl Drop for Delegated<'_> {
    fn drop(&mut self) {
        let _ = root_enclos(&["cg", "delegate", "--user", &self.0.name, "--remove"]);
    }
}

/// The container's cgroup directories under the user's subtree.
fn user_cgroups(u: &TestUser, name: &str) -> Vec<std::path::PathBuf> {
    let layout = enclos_cgroupfs::Layout::discover().unwrap();
    layout
        .hierarchies
        .iter()
        .map(|h| enclos_cgroupfs::delegated_dir(h, &u.name).join(format!("enclos.payload.{name}")))
        .filter(|d| d.is_dir())
        .collect()
}

/// The whole flow as `u`; `delegated` says whether root gave it cgroups.
fn start_attach_stop(u: &TestUser, delegated: bool) {
    u.write(
        ".config/lxc/default.conf",
        &format!(
            "lxc.idmap = u 0 {s} {RANGE}\nlxc.idmap = g 0 {s} {RANGE}\n",
            s = u.subid
        ),
    );
    u.enclos(&["create", "-n", "np", "-t", "busybox"]).success();
    let out = u.enclos(&["start", "-n", "np"]).success();
    let warned = out
        .stderr
        .contains(&format!("enclos cg delegate --user {}", u.name));
    assert_eq!(warned, !delegated, "{out:#?}");
    let ls = u.enclos(&["ls", "-f", "--running"]).success();
    let row: Vec<&str> = ls
        .lines()
        .into_iter()
        .find(|l| l.starts_with("np "))
        .unwrap_or_else(|| panic!("np in\n{}", ls.stdout))
        .split_whitespace()
        .collect();
    assert_eq!(row[1], "RUNNING", "{}", ls.stdout);
    assert_eq!(row.last(), Some(&"true"), "{}", ls.stdout);
    let pid: i32 = u
        .enclos(&["info", "-n", "np", "-p", "-H"])
        .success()
        .stdout
        .trim()
        .parse()
        .unwrap();
    let uid = proc_status(pid, "Uid").unwrap();
    assert_eq!(uid.split(' ').next(), Some(u.subid.to_string().as_str()));
    // The busybox template's seccomp deny-list holds for a user's
    // container too.
    assert_eq!(proc_status(pid, "Seccomp").as_deref(), Some("2"));
    let profile = u.lxcpath().join("np/common.seccomp");
    let config = std::fs::read_to_string(u.lxcpath().join("np/config")).unwrap();
    assert!(
        config.contains(&format!("lxc.seccomp.profile = {}\n", profile.display())),
        "{config}"
    );
    let id = u
        .enclos(&["attach", "-n", "np", "--", "id", "-u"])
        .success();
    assert_eq!(id.stdout.trim(), "0");
    u.enclos(&["attach", "-n", "np", "--", "touch", "/tmp/made-inside"])
        .success();
    let made = u.lxcpath().join("np/rootfs/tmp/made-inside");
    assert_eq!(std::fs::metadata(&made).unwrap().uid(), u.subid);
    let cgroups = user_cgroups(u, "np");
    assert_eq!(!cgroups.is_empty(), delegated, "{cgroups:?}");
    let freeze = u.enclos(&["freeze", "-n", "np"]);
    assert_eq!(freeze.ok(), delegated, "{freeze:#?}");
    if delegated {
        u.enclos(&["unfreeze", "-n", "np"]).success();
    } else {
        assert!(freeze.stderr.contains("no freezer cgroup"), "{freeze:#?}");
    }
    u.enclos(&["stop", "-n", "np"]).success();
    assert!(!alive(pid), "init {pid} still runs");
    assert!(user_cgroups(u, "np").is_empty());
    u.enclos(&["destroy", "-n", "np"]).success();
    assert!(!u.lxcpath().join("np").exists());
}

#[test]
fn a_users_container_starts_without_delegated_cgroups() {
    if !require_root("a_users_container_starts_without_delegated_cgroups") {
        return;
    }
    let u = TestUser::new("sn");
    start_attach_stop(&u, false);
}

#[test]
fn a_users_container_starts_in_its_delegated_cgroups() {
    if !require_root("a_users_container_starts_in_its_delegated_cgroups") {
        return;
    }
    let u = TestUser::new("sd");
    let _guard = Delegated(&u);
    root_enclos(&["cg", "delegate", "--user", &u.name]).success();
    start_attach_stop(&u, true);
}

#[test]
fn a_home_the_mapped_root_cannot_search_gets_the_doctors_finding() {
    if !require_root("a_home_the_mapped_root_cannot_search_gets_the_doctors_finding") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let u = TestUser::new("sh");
    u.write(
        ".config/lxc/default.conf",
        &format!(
            "lxc.idmap = u 0 {s} {RANGE}\nlxc.idmap = g 0 {s} {RANGE}\n",
            s = u.subid
        ),
    );
    u.enclos(&["create", "-n", "np", "-t", "busybox"]).success();
    std::fs::set_permissions(&u.home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = u.enclos(&["start", "-n", "np"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let home = u.home.display().to_string();
    assert!(
        out.stderr.contains("`enclos doctor -n np` finds:")
            && out.stderr.contains("problem rootfs_access")
            && out.stderr.contains(&format!("chmod o+x {home}")),
        "{}",
        out.stderr
    );
    let ls = u.enclos(&["ls", "-f"]).success();
    assert!(ls.stdout.contains("STOPPED"), "{}", ls.stdout);
    assert!(user_cgroups(&u, "np").is_empty());
    std::fs::set_permissions(&u.home, std::fs::Permissions::from_mode(0o711)).unwrap();
    u.enclos(&["destroy", "-n", "np"]).success();
}
