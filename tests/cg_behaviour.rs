//! What libcgroup's scripts expect of cgget, cgset, lscgroup and cgdelete,
//! run through links named after them: reading a whole group, groups
//! present in some controllers only, several groups at once, copying and
//! recursive settings, listings, deleting a group that still has
//! processes, and libcgroup's words for bad input.

use std::path::PathBuf;
use std::process::{Child, Command};

use enclos_cgroupfs::{Layout, Version};
use enclos_tests::lab::{cg_delete_tree, run, Out};
use enclos_tests::{enclos_bin, require_root};

/// Links named after libcgroup's tools, in a temporary directory.
struct Tools(tempfile::TempDir);

impl Tools {
    fn new() -> Tools {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Command::new(enclos_bin());
        c.args(["compat", "install"]).arg(dir.path());
        run(c).success();
        Tools(dir)
    }

    fn run(&self, tool: &str, args: &[&str]) -> Out {
        let mut c = Command::new(self.0.path().join(tool));
        c.args(args);
        run(c)
    }
}

/// A group name unique to the test, removed from memory and cpu on drop.
struct Group(String);

impl Group {
    fn new(tag: &str) -> Group {
        Group(format!("enclos-test-beh-{tag}-{}", std::process::id()))
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        cg_delete_tree(&["memory", "cpu"], &self.0);
    }
}

/// A child process killed and reaped on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn layout() -> Layout {
    Layout::discover().unwrap()
}

/// The memory limit's file: v1's or v2's.
fn limit_key() -> &'static str {
    match layout().resolve("memory").unwrap().version {
        Version::V1 => "memory.limit_in_bytes",
        Version::V2 => "memory.max",
    }
}

fn dir_of(ctrl: &str, group: &str) -> PathBuf {
    layout().resolve(ctrl).unwrap().mount_point.join(group)
}

fn read(ctrl: &str, group: &str, key: &str) -> String {
    std::fs::read_to_string(dir_of(ctrl, group).join(key))
        .unwrap()
        .trim()
        .to_string()
}

/// Whether memory and cpu are separate hierarchies (v1 or hybrid).
fn separate() -> bool {
    let l = layout();
    l.resolve("memory").unwrap().mount_point != l.resolve("cpu").unwrap().mount_point
}

#[test]
fn cgget_with_a_group_alone_prints_all_its_settings() {
    if !require_root("cgget_with_a_group_alone_prints_all_its_settings") {
        return;
    }
    let t = Tools::new();
    let g = Group::new("all");
    t.run("cgcreate", &["-g", &format!("memory,cpu:{}", g.0)])
        .success();
    let out = t.run("cgget", &[&g.0]).success();
    let lines = out.lines();
    assert_eq!(lines[0], format!("{}:", g.0), "{}", out.stdout);
    let limit = format!("{}: {}", limit_key(), read("memory", &g.0, limit_key()));
    assert!(
        lines.contains(&limit.as_str()),
        "no '{limit}' in {}",
        out.stdout
    );
    assert!(
        lines.iter().any(|l| l.starts_with("cpu.")),
        "{}",
        out.stdout
    );
}

#[test]
fn cgget_all_lists_only_the_controllers_the_group_is_in() {
    if !require_root("cgget_all_lists_only_the_controllers_the_group_is_in") {
        return;
    }
    let t = Tools::new();
    let g = Group::new("some");
    t.run("cgcreate", &["-g", &format!("memory:{}", g.0)])
        .success();
    let out = t.run("cgget", &["-a", &g.0]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(
        out.stdout.contains(&format!("{}: ", limit_key())),
        "{}",
        out.stdout
    );
    if separate() {
        assert!(
            !out.stdout.lines().any(|l| l.starts_with("cpu.")),
            "{}",
            out.stdout
        );
    }
}

#[test]
fn cgget_values_of_several_groups_come_under_their_names() {
    if !require_root("cgget_values_of_several_groups_come_under_their_names") {
        return;
    }
    let t = Tools::new();
    let g = Group::new("many");
    let child = format!("{}/child", g.0);
    t.run(
        "cgcreate",
        &[
            "-g",
            &format!("memory:{}", g.0),
            "-g",
            &format!("memory:{child}"),
        ],
    )
    .success();
    t.run(
        "cgset",
        &["-r", &format!("{}=40960000", limit_key()), &child],
    )
    .success();
    let key = limit_key();
    let out = t.run(
        "cgget",
        &["-v", "-r", key, "-r", "memory.swappiness", &g.0, &child],
    );
    let (a, b) = (read("memory", &g.0, key), read("memory", &child, key));
    let mut want = String::new();
    let sw =
        |grp: &str| std::fs::read_to_string(dir_of("memory", grp).join("memory.swappiness")).ok();
    for (name, v) in [(&g.0, &a), (&child, &b)] {
        want.push_str(&format!("{name}:\n{v}\n"));
        if let Some(s) = sw(name) {
            want.push_str(s.trim());
            want.push('\n');
        }
        want.push('\n');
    }
    if sw(&g.0).is_some() {
        assert_eq!(out.stdout, want, "{out:#?}");
    } else {
        // No memory.swappiness on this host: cgget fails on it, as libcgroup's.
        assert_eq!(out.code, Some(1));
    }
    assert_eq!(b, "40960000");
}

#[test]
fn cgset_copies_over_shared_controllers_and_sets_recursively() {
    if !require_root("cgset_copies_over_shared_controllers_and_sets_recursively") {
        return;
    }
    let t = Tools::new();
    let src = Group::new("src");
    let dst = Group::new("dst");
    t.run("cgcreate", &["-g", &format!("memory,cpu:{}", src.0)])
        .success();
    t.run("cgcreate", &["-g", &format!("memory:{}", dst.0)])
        .success();
    let key = limit_key();
    t.run("cgset", &["-r", &format!("{key}=81920000"), &src.0])
        .success();
    let out = t.run("cgset", &["--copy-from", &src.0, &dst.0]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(read("memory", &dst.0, key), "81920000");

    let deep = format!("{}/a/b", dst.0);
    t.run("cgcreate", &["-g", &format!("memory:{deep}")])
        .success();
    t.run("cgset", &["-R", "-r", &format!("{key}=40960000"), &dst.0])
        .success();
    for grp in [dst.0.clone(), format!("{}/a", dst.0), deep] {
        assert_eq!(read("memory", &grp, key), "40960000", "{grp}");
    }
}

#[test]
fn lscgroup_names_the_group_with_a_slash_then_its_children() {
    if !require_root("lscgroup_names_the_group_with_a_slash_then_its_children") {
        return;
    }
    let t = Tools::new();
    let g = Group::new("ls");
    t.run("cgcreate", &["-g", &format!("memory:{}/a", g.0)])
        .success();
    let out = t
        .run("lscgroup", &["-g", &format!("memory:/{}", g.0)])
        .success();
    let label = out.lines()[0].split(':').next().unwrap().to_string();
    assert_eq!(
        out.lines(),
        [format!("{label}:/{}/", g.0), format!("{label}:/{}/a", g.0)],
        "{}",
        out.stdout
    );
}

#[test]
fn cgdelete_recursive_moves_processes_to_the_parent() {
    if !require_root("cgdelete_recursive_moves_processes_to_the_parent") {
        return;
    }
    let t = Tools::new();
    let g = Group::new("del");
    let inner = format!("{}/inner", g.0);
    t.run("cgcreate", &["-g", &format!("memory:{inner}")])
        .success();
    let p = Proc(Command::new("sleep").arg("60").spawn().unwrap());
    let pid = p.0.id().to_string();
    std::fs::write(dir_of("memory", &inner).join("cgroup.procs"), &pid).unwrap();
    // enclos's own command refuses and says what to do.
    let mut c = Command::new(enclos_bin());
    c.args(["cg", "delete", "-r", &format!("memory:{}", g.0)]);
    let refused = run(c);
    assert_eq!(refused.code, Some(1));
    assert!(refused.stderr.contains("--move"), "{}", refused.stderr);
    assert!(dir_of("memory", &inner).is_dir());
    // libcgroup's name moves the process out and says which.
    let out = t.run("cgdelete", &["-r", &format!("memory:{}", g.0)]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stderr.contains(&pid), "{}", out.stderr);
    assert!(!dir_of("memory", &g.0).exists());
    let procs = std::fs::read_to_string(dir_of("memory", "").join("cgroup.procs")).unwrap();
    assert!(
        procs.lines().any(|l| l == pid),
        "the process is in the parent"
    );
}

#[test]
fn bad_input_gets_libcgroups_words_then_ours() {
    if !require_root("bad_input_gets_libcgroups_words_then_ours") {
        return;
    }
    let t = Tools::new();
    for (tool, args) in [
        ("cgget", vec!["-Z", "x"]),
        ("cgget", vec![]),
        ("lscgroup", vec!["-Z"]),
        ("cgdelete", vec![]),
    ] {
        let out = t.run(tool, &args);
        assert_eq!(out.code, Some(1), "{tool} {args:?}: {out:#?}");
        let first = out.stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("Wrong input parameters"),
            "{tool} {args:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr.lines().count() > 1,
            "our explanation follows: {}",
            out.stderr
        );
    }
    let g = Group::new("missing");
    let out = t.run("cgdelete", &[&format!("memory:{}", g.0)]);
    assert_eq!(out.code, Some(1));
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "cgdelete: cannot remove group '{}': No such file or directory",
            g.0
        )
    );
    assert!(lines[1].contains("does not exist"), "{}", out.stderr);
}
