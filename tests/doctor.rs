//! `enclos doctor` as users run it: its JSON for root, and, for a real
//! user made for the test, the finding about a home directory that the
//! container's root cannot enter, its fix, and the check passing once the
//! fix is applied.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use enclos_tests::lab::{run, Out};
use enclos_tests::{enclos_bin, missing_feature, require_root};
use serde_json::Value;

const CHECKS: [&str; 5] = [
    "user_namespaces",
    "subids",
    "uidmap_helpers",
    "rootfs_access",
    "cgroups",
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

/// A user made for the test (useradd, with a home in a temporary
/// directory), removed with its home and its subordinate ids by Drop,
/// even when the test fails.
struct TestUser {
    name: String,
    home: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestUser {
    /// `None` (after a skip) when this host has no useradd.
    fn new(tag: &str) -> Option<TestUser> {
        let dir = tempfile::Builder::new()
            .prefix("enclos-user-")
            .tempdir()
            .unwrap();
        // Others may enter it, as /home: the home below is what is tested.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let name = format!("enc{tag}{}", std::process::id());
        let home = dir.path().join(&name);
        let status = Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", "-d"])
            .arg(&home)
            .arg(&name)
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => panic!("useradd {name} failed: {s}"),
            Err(e) => {
                missing_feature(tag, &format!("cannot run useradd: {e}"));
                return None;
            }
        }
        Some(TestUser {
            name,
            home,
            _dir: dir,
        })
    }

    /// The user's first range of /etc/subuid, given one if it has none.
    fn subuid_start(&self) -> u32 {
        let find = || {
            fs::read_to_string("/etc/subuid")
                .ok()?
                .lines()
                .find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() == 3 && f[0] == self.name).then(|| f[1].parse().ok())?
                })
        };
        if let Some(start) = find() {
            return start;
        }
        let uid = nix::unistd::User::from_name(&self.name)
            .unwrap()
            .unwrap()
            .uid
            .as_raw();
        let start = 1_000_000 + uid * 65536;
        let range = format!("{start}-{}", start + 65535);
        let ok = Command::new("usermod")
            .args(["--add-subuids", &range, "--add-subgids", &range, &self.name])
            .status()
            .unwrap()
            .success();
        assert!(ok, "usermod --add-subuids {range} {} failed", self.name);
        start
    }

    /// `enclos ARGS` run as the user, with its HOME.
    fn enclos(&self, bin: &Path, args: &[&str]) -> Out {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid",
            &self.name,
            "--regid",
            &self.name,
            "--init-groups",
            "--",
        ])
        .arg(bin)
        .args(args)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env("HOME", &self.home)
        .env("USER", &self.name);
        run(c)
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel")
            .args(["-r", "-f", &self.name])
            .output();
    }
}

#[test]
fn a_home_without_execute_permission() {
    if !require_root("a_home_without_execute_permission") {
        return;
    }
    let Some(user) = TestUser::new("doc") else {
        return;
    };
    let start = user.subuid_start();
    let conf = user.home.join(".config/enclos/default.conf");
    fs::create_dir_all(conf.parent().unwrap()).unwrap();
    fs::write(
        &conf,
        format!("lxc.idmap = u 0 {start} 65536\nlxc.idmap = g 0 {start} 65536\n"),
    )
    .unwrap();
    let chown = Command::new("chown")
        .args(["-R", &format!("{0}:{0}", user.name)])
        .arg(user.home.join(".config"))
        .status()
        .unwrap();
    assert!(chown.success());
    // The binary where the user may run it.
    let bin = user.home.parent().unwrap().join("enclos");
    fs::copy(enclos_bin(), &bin).unwrap();
    fs::set_permissions(&user.home, fs::Permissions::from_mode(0o700)).unwrap();

    let out = user.enclos(&bin, &["doctor", "--format", "json"]);
    let rows = findings(&out);
    exit_code_matches(&out, &rows);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let h = user.home.display();
    let access: Vec<&Value> = rows
        .iter()
        .filter(|r| r["check"] == "rootfs_access")
        .collect();
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
    let text = user.enclos(&bin, &["doctor"]);
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
    let out = user.enclos(&bin, &["doctor", "--format", "json"]);
    let rows = findings(&out);
    let access: Vec<&Value> = rows
        .iter()
        .filter(|r| r["check"] == "rootfs_access")
        .collect();
    assert_eq!(access.len(), 1, "{out:#?}");
    assert_eq!(access[0]["status"], "ok", "{out:#?}");
    let subids: Vec<&Value> = rows.iter().filter(|r| r["check"] == "subids").collect();
    assert_eq!(subids[0]["status"], "ok", "{out:#?}");
    exit_code_matches(&out, &rows);
}
