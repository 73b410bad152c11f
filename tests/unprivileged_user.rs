//! The course's section 2.6 as a real user who is not root: a user made
//! for the test (useradd, ranges in /etc/subuid and /etc/subgid, removed
//! by its guard), running enclos through setpriv. What is checked is what
//! the course shows: `id -u` inside a user namespace, the host owner of
//! the rootfs's files, the error of a map outside the user's ranges, and a
//! cgroup the user may make groups in.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use enclos_tests::lab::{run, Out};
use enclos_tests::user::{TestUser, RANGE};
use enclos_tests::{enclos_bin, require_root};

fn owner(path: &Path) -> (u32, u32) {
    let m = std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (m.uid(), m.gid())
}

fn root_enclos(args: &[&str]) -> Out {
    let mut c = Command::new(enclos_bin());
    c.args(args);
    run(c)
}

/// What `id -u` and the uid map say inside.
const SHOW: &str = "id -u; id -g; cat /proc/self/uid_map";

fn fields(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[test]
fn usernsexec_as_root_with_maps_and_through_its_link() {
    if !require_root("usernsexec_as_root_with_maps_and_through_its_link") {
        return;
    }
    let out = root_enclos(&[
        "usernsexec",
        "-m",
        "b:0:2300000:65536",
        "--",
        "sh",
        "-c",
        SHOW,
    ])
    .success();
    assert_eq!(
        fields(&out.stdout),
        [vec!["0"], vec!["0"], vec!["0", "2300000", "65536"]]
    );
    // The command's exit code is usernsexec's.
    let out = root_enclos(&[
        "usernsexec",
        "-m",
        "b:0:2300000:1",
        "--",
        "sh",
        "-c",
        "exit 7",
    ]);
    assert_eq!(out.code, Some(7), "{out:#?}");
    // lxc-usernsexec, as a link, with -s: root itself at the next id.
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("lxc-usernsexec");
    std::os::unix::fs::symlink(enclos_bin(), &link).unwrap();
    let mut c = Command::new(&link);
    c.args(["-m", "u:0:2300000:10", "-m", "g:0:2300000:10", "-s", "--"])
        .args(["cat", "/proc/self/uid_map"]);
    let out = run(c).success();
    assert_eq!(
        fields(&out.stdout),
        [vec!["0", "2300000", "10"], vec!["10", "0", "1"]]
    );
}

#[test]
fn usernsexec_as_a_user_maps_its_first_range() {
    if !require_root("usernsexec_as_a_user_maps_its_first_range") {
        return;
    }
    let u = TestUser::new("ux");
    let out = u.enclos(&["usernsexec", "--", "sh", "-c", SHOW]).success();
    assert_eq!(
        fields(&out.stdout),
        [
            vec!["0".to_string()],
            vec!["0".to_string()],
            vec!["0".to_string(), u.subid.to_string(), RANGE.to_string()]
        ]
    );
    // A range that is not the user's: newuidmap would refuse it; enclos
    // says which ids and how to allocate them.
    let out = u.enclos(&["usernsexec", "-m", "b:0:100000:65536", "--", "true"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(
        out.stderr.contains(&format!(
            "host uids 100000-165535 are not allocated to {} in /etc/subuid",
            u.name
        )),
        "{}",
        out.stderr
    );
}

/// Creates `c1` as `u` from the busybox template (`create` run by
/// `create`) and checks that its files belong to the user's first
/// subordinate id on the host.
fn create_and_check(u: &TestUser, create: impl FnOnce(&[&str]) -> Out) {
    create(&["create", "-n", "c1", "-t", "busybox"]).success();
    let dir = u.lxcpath().join("c1");
    assert_eq!(owner(&dir.join("rootfs/bin/busybox")), (u.subid, u.subid));
    assert_eq!(owner(&dir.join("rootfs/etc")), (u.subid, u.subid));
    assert_eq!(owner(&dir.join("rootfs")), (u.subid, u.subid));
    // The container's directory: its root and the user's group.
    assert_eq!(owner(&dir), (u.subid, u.gid));
    let config = std::fs::read_to_string(dir.join("config")).unwrap();
    let expected = [
        format!("lxc.idmap = u 0 {} {RANGE}", u.subid),
        format!("lxc.idmap = g 0 {} {RANGE}", u.subid),
    ];
    for line in expected {
        assert!(config.lines().any(|l| l == line), "{line} in\n{config}");
    }
    // The user removes it, files of the container's ids included.
    u.enclos(&["destroy", "-n", "c1"]).success();
    assert!(!dir.exists());
}

#[test]
fn a_users_create_gives_the_rootfs_to_its_mapped_root() {
    if !require_root("a_users_create_gives_the_rootfs_to_its_mapped_root") {
        return;
    }
    let u = TestUser::new("uc");
    u.write(
        ".config/enclos/default.conf",
        &format!(
            "lxc.idmap = u 0 {s} {RANGE}\nlxc.idmap = g 0 {s} {RANGE}\n",
            s = u.subid
        ),
    );
    create_and_check(&u, |args| u.enclos(args));
}

#[test]
fn the_courses_lxc_default_conf_works_as_written() {
    if !require_root("the_courses_lxc_default_conf_works_as_written") {
        return;
    }
    let u = TestUser::new("uk");
    // As the course writes it: LXC's file name, LXC's system include and
    // the legacy key.
    u.write(
        ".config/lxc/default.conf",
        &format!(
            "lxc.include = /etc/lxc/default.conf\n\
             lxc.id_map = u 0 {s} {RANGE}\n\
             lxc.id_map = g 0 {s} {RANGE}\n",
            s = u.subid
        ),
    );
    // On a host without LXC: /etc/lxc hidden. enclos's system default
    // (/etc/enclos/default.conf) stands in for LXC's, or nothing when
    // there is none.
    create_and_check(&u, |args| {
        run(u.cmd_hiding(&["/etc/lxc"], enclos_bin(), args))
    });
}

#[test]
fn a_map_outside_the_allocation_is_refused_and_leaves_nothing() {
    if !require_root("a_map_outside_the_allocation_is_refused_and_leaves_nothing") {
        return;
    }
    let u = TestUser::new("ub");
    let outside = u.subid + RANGE;
    u.write(
        ".config/enclos/default.conf",
        &format!("lxc.idmap = u 0 {outside} {RANGE}\nlxc.idmap = g 0 {outside} {RANGE}\n"),
    );
    let out = u.enclos(&["create", "-n", "c1", "-t", "busybox"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let last = outside + RANGE - 1;
    assert!(
        out.stderr.contains(&format!(
            "lxc.idmap = u 0 {outside} {RANGE}: host uids {outside}-{last} are not allocated to {} in /etc/subuid",
            u.name
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .starts_with("enclos: Cannot create container 'c1'"),
        "{}",
        out.stderr
    );
    assert!(!u.lxcpath().join("c1").exists());
}

/// Removes a user's delegated cgroups when the test ends.
struct Delegated<'u>(&'u TestUser);

impl Drop for Delegated<'_> {
    fn drop(&mut self) {
        let _ = root_enclos(&["cg", "delegate", "--user", &self.0.name, "--remove"]);
    }
}

#[test]
fn cg_delegate_gives_the_user_a_subtree_of_its_own() {
    if !require_root("cg_delegate_gives_the_user_a_subtree_of_its_own") {
        return;
    }
    let layout = enclos_cgroupfs::Layout::discover().unwrap();
    let Some(memory) = layout.hierarchies.iter().find(|h| h.has("memory")) else {
        enclos_tests::missing_feature(
            "cg_delegate_gives_the_user_a_subtree_of_its_own",
            "no memory controller",
        );
        return;
    };
    let u = TestUser::new("ug");
    let _guard = Delegated(&u);
    let out = root_enclos(&["cg", "delegate", "--user", &u.name]).success();
    let leaf = enclos_cgroupfs::delegated_dir(memory, &u.name);
    assert!(out.stdout.contains(&leaf.display().to_string()), "{out:#?}");
    // Twice is fine.
    root_enclos(&["cg", "delegate", "--user", &u.name]).success();
    assert_eq!(owner(&leaf), (u.uid, u.gid));
    let mine = leaf.join("c1");
    let mine = mine.to_str().unwrap();
    u.run("mkdir", &[mine]).success();
    // Above its leaf the user may not.
    let above = leaf.parent().unwrap().join("x");
    let out = u.run("mkdir", &[above.to_str().unwrap()]);
    assert!(!out.ok(), "{out:#?}");
    // --remove takes the user's groups too.
    root_enclos(&["cg", "delegate", "--user", &u.name, "--remove"]).success();
    assert!(!leaf.parent().unwrap().exists());
}

/// Stops (killing) and destroys a user's container when the test ends,
/// before its cgroups go.
struct Container<'u>(&'u TestUser, &'static str);

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = self.0.enclos(&["stop", "-k", "-n", self.1]);
        let _ = self.0.enclos(&["destroy", "-n", self.1]);
    }
}

/// A limit on a controller the v2 hierarchy serves: pids where it does
/// (a cgroup v2 host), else hugetlb's 2 MB pages (on a hybrid host, v1
/// holds the others).
fn v2_limit(v2: &enclos_cgroupfs::Hierarchy) -> Option<(&'static str, &'static str)> {
    if v2.has("pids") {
        Some(("pids.max", "77"))
    } else if v2.has("hugetlb") && Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").is_dir() {
        Some(("hugetlb.2MB.max", "6291456"))
    } else {
        None
    }
}

/// Runs `script` (`$0`: enclos) as a login shell of `u` that root first
/// places in its delegated subtree (`cg delegate --move`, whose report
/// names `leaf`), once the script has read a line.
fn placed_login(u: &TestUser, leaf: &Path, script: &str) -> std::process::Output {
    use std::io::Write;
    let mut login = u.cmd("sh", &["-c", script, enclos_bin().to_str().unwrap()]);
    login
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = login.spawn().unwrap();
    let pid = child.id();
    // setpriv has become the user's shell once the process is the user's.
    while enclos_tests::lab::proc_status(pid as i32, "Uid")
        .is_some_and(|uid| uid.split(' ').next() != Some(&u.uid.to_string()))
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let moved = root_enclos(&[
        "cg",
        "delegate",
        "--user",
        &u.name,
        "--move",
        &pid.to_string(),
    ])
    .success();
    assert!(
        moved
            .stdout
            .contains(&format!("moved {pid} into {}", leaf.display())),
        "{moved:#?}"
    );
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    child.wait_with_output().unwrap()
}

/// Cgroup v2 without systemd: root delegates a subtree and places the
/// user's login in it (`cg delegate --move PID`, as pam_cgfs places a
/// login); the user's start then puts the container's group below it,
/// with the configuration's limit, and the login's processes move to
/// the subtree's login group so that controllers reach the container.
#[test]
fn on_cgroup_v2_a_login_placed_in_the_delegated_subtree_gets_its_containers_there() {
    let name = "on_cgroup_v2_a_login_placed_in_the_delegated_subtree_gets_its_containers_there";
    if !require_root(name) {
        return;
    }
    let layout = enclos_cgroupfs::Layout::discover().unwrap();
    let Some(v2) = layout.unified().cloned() else {
        enclos_tests::missing_feature(name, "no cgroup v2 hierarchy");
        return;
    };
    let limit = v2_limit(&v2);
    let u = TestUser::new("uv");
    let _delegated = Delegated(&u);
    let mut conf = format!(
        "lxc.idmap = u 0 {s} {RANGE}\nlxc.idmap = g 0 {s} {RANGE}\n",
        s = u.subid
    );
    if let Some((key, value)) = limit {
        conf.push_str(&format!("lxc.cgroup2.{key} = {value}\n"));
    }
    u.write(".config/enclos/default.conf", &conf);
    u.enclos(&["create", "-n", "c1", "-t", "busybox"]).success();
    let _container = Container(&u, "c1");
    root_enclos(&["cg", "delegate", "--user", &u.name]).success();

    let leaf = enclos_cgroupfs::delegated_dir(&v2, &u.name);
    let out = placed_login(
        &u,
        &leaf,
        "read go; \"$0\" start -n c1 || exit 9; cat /proc/self/cgroup",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stderr.contains("without cgroup limits"), "{stderr}");
    let group = format!("user/{}/0/enclos.payload.c1", u.name);
    // Where the controllers are enabled, the login moved to the login
    // group (a group that gives controllers holds no process).
    let enabled = std::fs::read_to_string(leaf.join("cgroup.subtree_control")).unwrap();
    let login_group = if enabled.trim().is_empty() {
        format!("0::/user/{}/0", u.name)
    } else {
        format!("0::/user/{}/0/login", u.name)
    };
    assert!(
        stdout.lines().any(|l| l == login_group),
        "{login_group} in {stdout}"
    );

    // The container's init, as the host sees it.
    let init = u
        .enclos(&["info", "-n", "c1", "-p", "-H"])
        .success()
        .stdout
        .trim()
        .to_string();
    let cgroup = std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    assert!(
        cgroup.lines().any(|l| l == format!("0::/{group}")),
        "0::/{group} in\n{cgroup}"
    );
    let dir = v2.dir(&group);
    match limit {
        Some((key, value)) => {
            let set = std::fs::read_to_string(dir.join(key)).unwrap();
            assert_eq!(set.trim(), value, "{}", dir.join(key).display());
        }
        None => enclos_tests::missing_feature(name, "no pids or hugetlb controller on cgroup v2"),
    }
    // Its group is the user's to freeze.
    u.enclos(&["freeze", "-n", "c1"]).success();
    let freezer = layout.resolve("freezer").unwrap();
    let (file, state) = match freezer.version {
        enclos_cgroupfs::Version::V2 => ("cgroup.freeze", "1"),
        enclos_cgroupfs::Version::V1 => ("freezer.state", "FROZEN"),
    };
    let frozen = std::fs::read_to_string(freezer.dir(&group).join(file)).unwrap();
    assert_eq!(frozen.trim(), state);
    u.enclos(&["unfreeze", "-n", "c1"]).success();
    u.enclos(&["stop", "-n", "c1"]).success();
    assert!(!dir.exists(), "{} left", dir.display());
}
