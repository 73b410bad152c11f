//! The cgroup-tools that complete the set: lssubsys, cgsnapshot, cgclear,
//! cgxget and cgxset, as a user runs them, checked against what the host
//! shows (mount table, cgroup files). Each test makes its own groups under
//! names of its own and removes them on drop; none ever clears groups it
//! did not make.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use enclos_cgroupfs::{Layout, Version};
use enclos_tests::lab::{run, Out};
use enclos_tests::{enclos_bin, require_root};

fn cg(args: &[&str]) -> Out {
    let mut cmd = Command::new(enclos_bin());
    cmd.arg("cg").args(args);
    run(cmd)
}

fn layout() -> Arc<Layout> {
    Arc::new(Layout::discover().expect("the host's cgroup hierarchies"))
}

/// The version of the hierarchy serving `controller` here.
fn version_of(controller: &str) -> Version {
    layout().resolve(controller).unwrap().version
}

/// A group path unique to this test, removed (with its children, from
/// every hierarchy) on drop, even when the test fails.
struct Group(String);

impl Group {
    fn new(tag: &str) -> Group {
        Group(format!("enclos-test-cgtools-{tag}-{}", std::process::id()))
    }

    fn sub(&self, rel: &str) -> String {
        format!("{}/{rel}", self.0)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        for h in &layout().hierarchies {
            let dir = h.dir(&self.0);
            if dir.is_dir() {
                enclos_tests::lab::kill_and_remove(&dir);
            }
        }
    }
}

/// A process killed (and reaped) on drop.
struct Sleeper(std::process::Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `sleep` started through cgexec in `spec`, once it is in the group.
fn sleeper_in(spec: &str, procs: &Path) -> Sleeper {
    let child = Command::new(enclos_bin())
        .args(["cg", "exec", "-g", spec, "sleep", "600"])
        .spawn()
        .unwrap();
    let s = Sleeper(child);
    let pid = s.0.id().to_string();
    let placed = enclos_tests::lab::poll(enclos_tests::lab::SETTLE, || {
        std::fs::read_to_string(procs)
            .ok()
            .filter(|t| t.lines().any(|l| l == pid))
    });
    assert!(
        placed.is_some(),
        "cgexec never showed in {}",
        procs.display()
    );
    s
}

#[test]
fn lssubsys_names_every_mounted_hierarchy_and_its_mount_point() {
    let out = cg(&["subsys", "-m"]).success();
    let listed: Vec<(Vec<&str>, &str)> = out
        .lines()
        .iter()
        .filter_map(|l| l.split_once(' '))
        .map(|(names, point)| (names.split(',').collect(), point))
        .collect();
    for h in layout()
        .hierarchies
        .iter()
        .filter(|h| h.version == Version::V1)
    {
        if h.controllers.iter().all(|c| c.starts_with("name=")) {
            continue;
        }
        let point = h.mount_point.display().to_string();
        assert!(
            listed.iter().any(|(names, p)| *p == point
                && h.controllers.iter().all(|c| names.contains(&c.as_str()))),
            "{} at {point} missing from:\n{}",
            h.label(),
            out.stdout
        );
    }
    // -a adds every controller the kernel knows.
    let all = cg(&["subsys", "-a"]).success();
    let known = std::fs::read_to_string("/proc/cgroups").unwrap();
    for name in known
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
    {
        assert!(
            all.lines().iter().any(|l| l.split(',').any(|c| c == name)),
            "{name} missing from lssubsys -a:\n{}",
            all.stdout
        );
    }
    assert!(cg(&["subsys", "--help"])
        .success()
        .stdout
        .contains("Usage:"));
}

#[test]
fn lssubsys_ids_match_the_kernel_table() {
    let out = cg(&["subsys", "-i"]).success();
    let known = std::fs::read_to_string("/proc/cgroups").unwrap();
    for l in known.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f[1] == "0" {
            continue;
        }
        assert!(
            out.lines().iter().any(|line| {
                line.split_once(' ')
                    .is_some_and(|(names, id)| id == f[1] && names.split(',').any(|c| c == f[0]))
            }),
            "{} (hierarchy {}) missing from:\n{}",
            f[0],
            f[1],
            out.stdout
        );
    }
}

/// The host's own names for the two settings the snapshot tests use.
fn host_keys() -> [&'static str; 2] {
    let cpu = match version_of("cpu") {
        Version::V1 => "cpu.shares",
        Version::V2 => "cpu.weight",
    };
    let mem = match version_of("memory") {
        Version::V1 => "memory.limit_in_bytes",
        Version::V2 => "memory.max",
    };
    [cpu, mem]
}

fn cgget(key: &str, path: &str) -> String {
    cg(&["get", "-n", "-v", "-r", key, path])
        .success()
        .stdout
        .trim()
        .to_string()
}

#[test]
fn cgsnapshot_output_loads_back_through_cgconfigparser() {
    if !require_root("cgsnapshot_output_loads_back_through_cgconfigparser") {
        return;
    }
    let g = Group::new("snap");
    let sub = g.sub("sub");
    cg(&["create", "-g", &format!("cpu,memory:{sub}")]).success();
    // Given in v1 terms, whatever this host runs.
    cg(&[
        "xset",
        "-1",
        "-r",
        "cpu.shares=512",
        "-r",
        "memory.limit_in_bytes=40960000",
        &g.0,
    ])
    .success();
    cg(&["xset", "-1", "-r", "cpu.shares=256", &sub]).success();
    let keys = host_keys();
    let before: Vec<String> = [&g.0, &sub]
        .iter()
        .flat_map(|p| keys.iter().map(|k| cgget(k, p)))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snapshot.conf");
    cg(&[
        "snapshot",
        "-s",
        "-f",
        file.to_str().unwrap(),
        "cpu",
        "memory",
    ])
    .success();
    // Keep our groups only: the host has others, which must stay as they are.
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("# Configuration file generated by cgsnapshot\n"),
        "{text}"
    );
    let mut config = enclos_cgconfig::parse_str(&text, &file).unwrap_or_else(|e| panic!("{e}"));
    config
        .groups
        .retain(|x| x.name == g.0 || x.name.starts_with(&format!("{}/", g.0)));
    let names: Vec<&str> = config.groups.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, [g.0.as_str(), sub.as_str()]);
    let ours = dir.path().join("ours.conf");
    std::fs::write(&ours, config.to_conf().unwrap()).unwrap();
    cg(&["delete", "-r", &format!("cpu,memory:{}", g.0)]).success();
    assert!(!layout().resolve("cpu").unwrap().dir(&g.0).exists());
    cg(&["apply", "-l", ours.to_str().unwrap()]).success();
    let after: Vec<String> = [&g.0, &sub]
        .iter()
        .flat_map(|p| keys.iter().map(|k| cgget(k, p)))
        .collect();
    assert_eq!(after, before, "{keys:?} of {} and {sub}", g.0);
}

#[test]
fn cgclear_removes_the_groups_of_a_file_and_moves_their_processes_up() {
    if !require_root("cgclear_removes_the_groups_of_a_file_and_moves_their_processes_up") {
        return;
    }
    let g = Group::new("clear");
    let keep = g.sub("keep");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cgconfig.conf");
    std::fs::write(
        &file,
        format!(
            "group {g} {{ memory {{ }} }}\ngroup {g}/a {{ memory {{ }} }}\ngroup {g}/a/b {{ memory {{ }} }}\n",
            g = g.0
        ),
    )
    .unwrap();
    cg(&["apply", "-l", file.to_str().unwrap()]).success();
    let mem = layout().resolve("memory").unwrap().clone();
    let busy = sleeper_in(
        &format!("memory:{}", g.sub("a/b")),
        &mem.dir(&g.sub("a/b")).join("cgroup.procs"),
    );
    // -e keeps what holds processes or children, and says so.
    let out = cg(&["clear", "-e", "-l", file.to_str().unwrap()]).success();
    assert!(
        out.stderr.contains("kept memory:/") && out.stderr.contains("still holds 1 process"),
        "{}",
        out.stderr
    );
    assert!(mem.dir(&g.sub("a/b")).is_dir());
    // A group the file does not name stays.
    cg(&["create", "-g", &format!("memory:{keep}")]).success();
    let file2 = dir.path().join("part.conf");
    std::fs::write(&file2, format!("group {}/a {{ memory {{ }} }}\n", g.0)).unwrap();
    cg(&["clear", "-l", file2.to_str().unwrap()]).success();
    assert!(!mem.dir(&g.sub("a")).exists(), "a and its child b are gone");
    assert!(mem.dir(&keep).is_dir() && mem.dir(&g.0).is_dir());
    let pid = busy.0.id();
    let procs = std::fs::read_to_string(mem.dir(&g.0).join("cgroup.procs")).unwrap();
    assert!(
        procs.lines().any(|l| l == pid.to_string()),
        "the process went to {}: {procs}",
        g.0
    );
    assert!(enclos_tests::lab::alive(pid as i32));
}

#[test]
fn clearing_every_group_below_a_test_subtree() {
    if !require_root("clearing_every_group_below_a_test_subtree") {
        return;
    }
    let g = Group::new("clearall");
    for rel in ["x/y", "z"] {
        cg(&["create", "-g", &format!("cpu,memory:{}", g.sub(rel))]).success();
    }
    let report =
        enclos_cgconfig::clear_all(layout(), &g.0, enclos_cgconfig::ClearOptions::default())
            .unwrap();
    assert!(report.removed.len() >= 4, "{report:?}");
    for c in ["cpu", "memory"] {
        let h = layout().resolve(c).unwrap().clone();
        assert!(h.dir(&g.0).is_dir(), "the subtree's root stays");
        let left: Vec<_> = std::fs::read_dir(h.dir(&g.0))
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .collect();
        assert!(left.is_empty(), "{c}: {left:?}");
    }
}

fn xget(version: &str, key: &str, path: &str) -> String {
    let out = cg(&["xget", version, "-n", "-v", "-r", key, path]);
    assert!(out.ok(), "{out:#?}");
    out.stdout.trim_end().to_string()
}

fn xset(version: &str, setting: &str, path: &str) {
    let out = cg(&["xset", version, "-r", setting, path]);
    assert!(out.ok(), "{out:#?}");
}

/// cgxset in one version's terms, cgxget in the other's:
/// (written, version, read, version, expected).
const XSET_XGET_CASES: &[(&str, &str, &str, &str, &str)] = &[
    ("cpu.max=5000 25000", "-2", "cpu.cfs_quota_us", "-1", "5000"),
    (
        "cpu.max=6000 26000",
        "-2",
        "cpu.cfs_period_us",
        "-1",
        "26000",
    ),
    ("cpu.max=max 40000", "-2", "cpu.cfs_quota_us", "-1", "-1"),
    (
        "cpu.cfs_period_us=50000",
        "-1",
        "cpu.max",
        "-2",
        "max 50000",
    ),
    (
        "cpu.cfs_quota_us=10000",
        "-1",
        "cpu.max",
        "-2",
        "10000 50000",
    ),
    (
        "memory.limit_in_bytes=8192000",
        "-1",
        "memory.max",
        "-2",
        "8192000",
    ),
    (
        "memory.max=81920",
        "-2",
        "memory.limit_in_bytes",
        "-1",
        "81920",
    ),
    (
        "memory.max=max",
        "-2",
        "memory.limit_in_bytes",
        "-1",
        "9223372036854771712",
    ),
    ("memory.limit_in_bytes=-1", "-1", "memory.max", "-2", "max"),
    // The soft limit is memory.high, as libcgroup pairs them.
    (
        "memory.soft_limit_in_bytes=819200",
        "-1",
        "memory.high",
        "-2",
        "819200",
    ),
    (
        "memory.high=8192",
        "-2",
        "memory.soft_limit_in_bytes",
        "-1",
        "8192",
    ),
    (
        "memory.high=max",
        "-2",
        "memory.soft_limit_in_bytes",
        "-1",
        "9223372036854771712",
    ),
    (
        "memory.soft_limit_in_bytes=-1",
        "-1",
        "memory.high",
        "-2",
        "max",
    ),
];

#[test]
fn cgxset_and_cgxget_speak_both_versions() {
    if !require_root("cgxset_and_cgxget_speak_both_versions") {
        return;
    }
    let g = Group::new("xget");
    cg(&["create", "-g", &format!("cpu,memory:{}", g.0)]).success();
    for (set, sv, key, gv, expected) in XSET_XGET_CASES {
        xset(sv, set, &g.0);
        assert_eq!(
            xget(gv, key, &g.0),
            *expected,
            "after cgxset {sv} {set}, cgxget {gv} {key}"
        );
    }
    xset("-1", "cpu.shares=512", &g.0);
    // libcgroup's numbers (its 037-cgxget-cpu_settings): shares and
    // weight scaled by their defaults, 1024 and 100.
    assert_eq!(xget("-2", "cpu.weight", &g.0), "50");
    xset("-2", "cpu.weight=200", &g.0);
    let shares = xget("-1", "cpu.shares", &g.0);
    assert_eq!(shares, "2048");
    // Names and headers as cgget prints them.
    let out = cg(&["xget", "-1", "-r", "cpu.shares", &g.0]).success();
    assert_eq!(out.stdout, format!("{}:\ncpu.shares: {shares}\n\n", g.0));
    // A setting the other version lacks: an error, or nothing with -i.
    let (version, unmappable) = match version_of("memory") {
        Version::V1 => ("-2", "memory.low"),
        Version::V2 => ("-1", "memory.swappiness"),
    };
    let out = cg(&["xget", version, "-r", unmappable, &g.0]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(
        out.stderr
            .contains(&format!("{unmappable} has no counterpart")),
        "{}",
        out.stderr
    );
    let out = cg(&["xget", version, "-i", "-n", "-r", unmappable, &g.0]).success();
    assert_eq!(out.stdout, "");
    // A whole controller in either version's names.
    for (version, names) in [
        ("-2", ["cpu.weight", "cpu.max"]),
        ("-1", ["cpu.shares", "cpu.cfs_quota_us"]),
    ] {
        let out = cg(&["xget", version, "-g", "cpu", &g.0]).success();
        for n in names {
            assert!(
                out.stdout.lines().any(|l| l.starts_with(&format!("{n}: "))),
                "{n} in:\n{}",
                out.stdout
            );
        }
        assert!(
            !out.stdout.contains("cpu.stat:")
                || version_of("cpu")
                    == if version == "-1" {
                        Version::V1
                    } else {
                        Version::V2
                    }
        );
    }
    // A bad value is refused in either terms.
    assert_eq!(
        cg(&["xset", "-1", "-r", "memory.limit_in_bytes=-10", &g.0]).code,
        Some(1)
    );
    assert_eq!(
        cg(&["xset", "-2", "-r", "memory.max=-10", &g.0]).code,
        Some(1)
    );
}

#[test]
fn cgconfigparser_converts_a_file_mixing_both_versions() {
    if !require_root("cgconfigparser_converts_a_file_mixing_both_versions") {
        return;
    }
    let g = Group::new("auto");
    let (old, new) = (g.sub("v1"), g.sub("v2"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mixed.conf");
    std::fs::write(
        &file,
        format!(
            "group {old} {{\n  cpu {{\n    cpu.cfs_period_us = 100000;\n    cpu.cfs_quota_us = 50000;\n    cpu.shares = 1024;\n  }}\n}}\n\
             group {new} {{\n  cpu {{\n    cpu.max = \"max 100000\";\n    cpu.weight = 50;\n  }}\n}}\n"
        ),
    )
    .unwrap();
    let out = cg(&["apply", "-l", file.to_str().unwrap()]);
    assert!(out.ok(), "{out:#?}");
    assert_eq!(xget("-2", "cpu.max", &old), "50000 100000");
    // As libcgroup's 076-cgconfig-auto_convert reads them back.
    assert_eq!(xget("-2", "cpu.weight", &old), "100");
    assert_eq!(xget("-1", "cpu.cfs_quota_us", &new), "-1");
    assert_eq!(xget("-1", "cpu.cfs_period_us", &new), "100000");
    assert_eq!(xget("-1", "cpu.shares", &new), "512");
}

#[test]
fn every_new_tool_answers_to_its_name() {
    let names = Command::new(enclos_bin())
        .args(["compat", "list"])
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&names.stdout);
    for tool in ["lssubsys", "cgsnapshot", "cgclear", "cgxget", "cgxset"] {
        assert!(
            names.lines().any(|l| l == tool),
            "{tool} missing from:\n{names}"
        );
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join(tool);
        std::os::unix::fs::symlink(enclos_bin().canonicalize().unwrap(), &link).unwrap();
        let with = |arg: &str| {
            let mut c = Command::new(&link);
            c.arg(arg);
            run(c)
        };
        let out = with("--help");
        assert!(out.ok() && out.stdout.contains("Usage:"), "{out:#?}");
        assert_eq!(with("--bogus").code, Some(1));
    }
}

#[test]
fn cgxset_recursive_sets_every_descendant() {
    if !require_root("cgxset_recursive_sets_every_descendant") {
        return;
    }
    let g = Group::new("xsetr");
    let (child, grandchild) = (g.sub("child"), g.sub("child/grandchild"));
    cg(&["create", "-g", &format!("cpu:{grandchild}")]).success();
    let all = [g.0.as_str(), child.as_str(), grandchild.as_str()];
    cg(&["xset", "-1", "-R", "-r", "cpu.shares=512", &g.0]).success();
    for p in all {
        assert_eq!(xget("-1", "cpu.shares", p), "512", "{p}");
    }
    xset("-1", "cpu.shares=1024", &g.0);
    let got: Vec<String> = all.iter().map(|p| xget("-1", "cpu.shares", p)).collect();
    assert_eq!(
        got,
        ["1024", "512", "512"],
        "without -R only the group changes"
    );
}
