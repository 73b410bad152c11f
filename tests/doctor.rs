//! `enclos doctor` as users run it: its JSON for root, and, for a real
//! user made for the test, the finding about a home directory that the
//! container's root cannot enter, its fix, and the check passing once the
//! fix is applied.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use enclos_tests::lab::{run, Out};
use enclos_tests::user::TestUser;
use enclos_tests::{enclos_bin, require_root};
use serde_json::Value;

const CHECKS: [&str; 6] = [
    "user_namespaces",
    "subids",
    "uidmap_helpers",
    "rootfs_access",
    "cgroups",
    "user_nic",
];

/// The findings of `enclos doctor --format json`, each checked to have
/// the four fields with their types.
fn findings(out: &Out) -> Vec<Value> {
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor's output is not JSON ({e}): {out:#?}"));
    let rows = v.as_array().expect("a JSON array").clone();
    for r in &rows {
        let keys: Vec<&str> = r
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 4, "{r}");
        assert!(CHECKS.contains(&r["check"].as_str().unwrap()), "{r}");
        assert!(
            ["ok", "warning", "problem"].contains(&r["status"].as_str().unwrap()),
            "{r}"
        );
        assert!(!r["detail"].as_str().unwrap().is_empty(), "{r}");
        // A fix goes with every warning and problem, and only with them.
        assert_eq!(r["fix"].is_string(), r["status"] != "ok", "{r}");
    }
    rows
}

fn exit_code_matches(out: &Out, rows: &[Value]) {
    let problem = rows.iter().any(|r| r["status"] == "problem");
    assert_eq!(out.code, Some(i32::from(problem)), "{out:#?}");
}

#[test]
fn json_for_root() {
    if !require_root("json_for_root") {
        return;
    }
    let lxcpath = tempfile::tempdir().unwrap();
    let out = run({
        let mut c = Command::new(enclos_bin());
        c.args(["doctor", "--format", "json", "-P"])
            .arg(lxcpath.path());
        c
    });
    let rows = findings(&out);
    for check in CHECKS {
        assert!(
            rows.iter().any(|r| r["check"] == check),
            "no {check}: {out:#?}"
        );
    }
    // Root needs neither subordinate ids nor delegation.
    let status = |check: &str| -> Vec<&str> {
        rows.iter()
            .filter(|r| r["check"] == check)
            .map(|r| r["status"].as_str().unwrap())
            .collect()
    };
    assert_eq!(status("subids"), vec!["ok"]);
    assert_eq!(status("cgroups"), vec!["ok"]);
    exit_code_matches(&out, &rows);
}

fn rows_of<'a>(rows: &'a [Value], check: &str) -> Vec<&'a Value> {
    rows.iter().filter(|r| r["check"] == check).collect()
}

/// Writes the course's maps, with the user's own range, to its default
/// configuration.
fn course_config(user: &TestUser) {
    let start = user.subid;
    user.write(
        ".config/enclos/default.conf",
        &format!("lxc.idmap = u 0 {start} 65536\nlxc.idmap = g 0 {start} 65536\n"),
    );
}

#[test]
fn a_home_without_execute_permission() {
    if !require_root("a_home_without_execute_permission") {
        return;
    }
    let user = TestUser::new("doc");
    course_config(&user);
    let start = user.subid;
    fs::set_permissions(&user.home, fs::Permissions::from_mode(0o700)).unwrap();

    let out = user.enclos(&["doctor", "--format", "json"]);
    let rows = findings(&out);
    exit_code_matches(&out, &rows);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let h = user.home.display();
    let access = rows_of(&rows, "rootfs_access");
    assert_eq!(access.len(), 1, "{out:#?}");
    assert_eq!(access[0]["status"], "problem");
    let detail = access[0]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(&format!("{h} (mode 0700, owner ")),
        "{detail}"
    );
    assert!(
        detail.ends_with(&format!(
            "does not let the container's root (host uid {start}, gid {start}) search it"
        )),
        "{detail}"
    );
    assert_eq!(
        access[0]["fix"],
        format!("chmod o+x {h}, or for the container's root alone: setfacl -m u:{start}:x {h}")
    );
    // The same in text, one line.
    let text = user.enclos(&["doctor"]);
    assert_eq!(text.code, Some(1));
    assert!(
        text.stdout.lines().any(|l| l.starts_with("problem rootfs_access: ")
            && l.ends_with(&format!("; fix: chmod o+x {h}, or for the container's root alone: setfacl -m u:{start}:x {h}"))),
        "{text:#?}"
    );

    // The fix as printed, run by the user, clears the finding.
    let fixed = Command::new("setpriv")
        .args([
            "--reuid",
            &user.name,
            "--regid",
            &user.name,
            "--init-groups",
            "--",
        ])
        .args(["chmod", "o+x"])
        .arg(&user.home)
        .status()
        .unwrap();
    assert!(fixed.success());
    let out = user.enclos(&["doctor", "--format", "json"]);
    let rows = findings(&out);
    let access = rows_of(&rows, "rootfs_access");
    assert_eq!(access.len(), 1, "{out:#?}");
    assert_eq!(access[0]["status"], "ok", "{out:#?}");
    let subids = rows_of(&rows, "subids");
    assert_eq!(subids[0]["status"], "ok", "{out:#?}");
    exit_code_matches(&out, &rows);
}

/// Removes a user's delegated cgroups when the test ends.
struct Delegated<'u>(&'u TestUser);

impl Drop for Delegated<'_> {
    fn drop(&mut self) {
        let mut c = Command::new(enclos_bin());
        c.args(["cg", "delegate", "--user", &self.0.name, "--remove"]);
        let _ = run(c);
    }
}

#[test]
fn cgroups_before_and_after_cg_delegate() {
    if !require_root("cgroups_before_and_after_cg_delegate") {
        return;
    }
    let user = TestUser::new("dcg");
    course_config(&user);
    let cgroups = |out: &Out| -> Vec<(String, String, Option<String>)> {
        rows_of(&findings(out), "cgroups")
            .iter()
            .map(|r| {
                (
                    r["status"].as_str().unwrap().to_string(),
                    r["detail"].as_str().unwrap().to_string(),
                    r["fix"].as_str().map(str::to_string),
                )
            })
            .collect()
    };
    let before = cgroups(&user.enclos(&["doctor", "--format", "json"]));
    assert_eq!(before.len(), 1, "{before:#?}");
    assert_eq!(before[0].0, "warning", "{before:#?}");
    assert!(
        before[0]
            .1
            .starts_with(&format!("{} owns no cgroup on ", user.name)),
        "{before:#?}"
    );
    let fix = format!("as root: enclos cg delegate --user {}", user.name);
    assert!(
        before[0].2.as_deref().unwrap().starts_with(&fix),
        "{before:#?}"
    );

    // The fix as printed.
    let _undo = Delegated(&user);
    let mut c = Command::new(enclos_bin());
    c.args(["cg", "delegate", "--user", &user.name]);
    run(c).success();
    let after = cgroups(&user.enclos(&["doctor", "--format", "json"]));
    assert_eq!(after.len(), 1, "{after:#?}");
    assert_eq!(after[0].0, "ok", "{after:#?}");
    let layout = enclos_cgroupfs::Layout::discover().unwrap();
    let memory = layout.resolve("memory").unwrap();
    let leaf = enclos_cgroupfs::delegated_dir(memory, &user.name);
    assert!(
        after[0].1.contains(&format!("({})", leaf.display())),
        "{after:#?}"
    );
}

/// Runs `enclos doctor --format json` as `user` in a login that root
/// first places in the user's delegated subtree (`cg delegate --move`).
fn doctor_in_placed_login(user: &TestUser) -> Out {
    use std::io::Write;
    let mut login = user.cmd(
        "sh",
        &[
            "-c",
            "read go; exec \"$0\" doctor --format json",
            enclos_bin().to_str().unwrap(),
        ],
    );
    login
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = login.spawn().unwrap();
    let pid = child.id();
    // setpriv has become the user's shell once the process is the user's.
    while enclos_tests::lab::proc_status(pid as i32, "Uid")
        .is_some_and(|uid| uid.split(' ').next() != Some(&user.uid.to_string()))
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut c = Command::new(enclos_bin());
    c.args([
        "cg",
        "delegate",
        "--user",
        &user.name,
        "--move",
        &pid.to_string(),
    ]);
    run(c).success();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = child.wait_with_output().unwrap();
    Out {
        cmd: format!("enclos doctor as {} in a placed login", user.name),
        timed_out: false,
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A limit on a controller the v2 hierarchy serves here.
fn v2_limit_key(v2: &enclos_cgroupfs::Hierarchy) -> Option<&'static str> {
    if v2.has("pids") {
        Some("pids.max = 50")
    } else if v2.has("hugetlb") {
        Some("hugetlb.2MB.max = 0")
    } else {
        None
    }
}

/// Cgroup v2 without systemd: with limits on a v2 controller, a login
/// outside the subtree root delegated gets the finding that names both
/// ways in (pam_cgfs's line, root's `--move`); once root placed the
/// login, the subtree is the user's.
#[test]
fn cgroups_v2_a_login_outside_the_delegated_subtree() {
    let name = "cgroups_v2_a_login_outside_the_delegated_subtree";
    if !require_root(name) {
        return;
    }
    let layout = enclos_cgroupfs::Layout::discover().unwrap();
    let Some(v2) = layout.unified().cloned() else {
        enclos_tests::missing_feature(name, "no cgroup v2 hierarchy");
        return;
    };
    if v2.dir("user.slice").is_dir() {
        enclos_tests::missing_feature(name, "systemd manages cgroup v2 here");
        return;
    }
    let Some(key) = v2_limit_key(&v2) else {
        enclos_tests::missing_feature(name, "no pids or hugetlb controller on cgroup v2");
        return;
    };
    let user = TestUser::new("dv2");
    course_config(&user);
    let conf = user.home.join(".config/enclos/default.conf");
    let text = fs::read_to_string(&conf).unwrap();
    user.write(
        ".config/enclos/default.conf",
        &format!("{text}lxc.cgroup2.{key}\n"),
    );
    let _undo = Delegated(&user);
    let mut c = Command::new(enclos_bin());
    c.args(["cg", "delegate", "--user", &user.name]);
    run(c).success();
    let leaf = enclos_cgroupfs::delegated_dir(&v2, &user.name);

    let out = user.enclos(&["doctor", "--format", "json"]);
    let rows = findings(&out);
    exit_code_matches(&out, &rows);
    let outside: Vec<_> = rows_of(&rows, "cgroups")
        .into_iter()
        .filter(|r| {
            r["detail"]
                .as_str()
                .unwrap()
                .contains("'s login is in cgroup")
        })
        .collect();
    assert_eq!(outside.len(), 1, "{out:#?}");
    assert_eq!(outside[0]["status"], "problem", "{out:#?}");
    let detail = outside[0]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(&format!(
            "{}'s login is in cgroup / of cgroup v2 ({}), outside the subtree delegated to {} ({})",
            user.name,
            v2.mount_point.display(),
            user.name,
            leaf.display()
        )),
        "{detail}"
    );
    let fix = outside[0]["fix"].as_str().unwrap();
    for part in [
        format!(
            "enclos cg delegate --user {} --move PID (PID: `echo $$` in {}'s login shell)",
            user.name, user.name
        ),
        "/etc/pam.d/common-session read `session optional pam_cgfs.so -c freezer,memory,name=systemd,unified`".to_string(),
    ] {
        assert!(fix.contains(&part), "{part} in {fix}");
    }

    // The first fix, applied: the login is in the subtree.
    inside_after_move(&user, &leaf);
}

/// The doctor in a login root placed in `user`'s subtree (`leaf`): no
/// finding of a login outside, and the subtree delegated.
fn inside_after_move(user: &TestUser, leaf: &std::path::Path) {
    let out = doctor_in_placed_login(user);
    let rows = findings(&out);
    let cgroups = rows_of(&rows, "cgroups");
    assert!(
        cgroups.iter().all(|r| !r["detail"]
            .as_str()
            .unwrap()
            .contains("'s login is in cgroup")),
        "{out:#?}"
    );
    assert!(
        cgroups.iter().any(|r| r["status"] == "ok"
            && r["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("({}, controllers: ", leaf.display()))),
        "{out:#?}"
    );
}
