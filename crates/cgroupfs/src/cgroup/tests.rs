//! [`Cgroup`] against fake cgroup trees in temporary directories: the
//! layout is a parameter, so a hierarchy is any directory. A fake tree has
//! no kernel behind it: a new group gets no interface files, a write is
//! kept as written (over the old bytes, unlike the kernel's files, so the
//! files to write start empty), and `rmdir` of a group with files fails. The tests
//! create the files the kernel would have made where they need them.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rstest::rstest;

use crate::{
    attach_all, create_all, delete_all, kernel_kept_other, split_spec, Cgroup, DeleteOptions,
    Error, Hierarchy, Layout, Permissions, Populated, Version,
};

/// cpu,cpuacct and memory as two v1 hierarchies under `root`.
fn v1_layout(root: &Path) -> Arc<Layout> {
    let h = |c: &[&str], dir: &str| {
        let mount_point = root.join(dir);
        fs::create_dir_all(&mount_point).unwrap();
        Hierarchy {
            version: Version::V1,
            controllers: c.iter().map(|s| s.to_string()).collect(),
            mount_point,
            root: "/".into(),
        }
    };
    Arc::new(Layout {
        hierarchies: vec![
            h(&["cpu", "cpuacct"], "cpu,cpuacct"),
            h(&["memory"], "memory"),
        ],
    })
}

/// One v2 hierarchy at `root` offering cpu, memory and pids, with
/// `subtree_control` as its root's cgroup.subtree_control.
fn v2_layout(root: &Path, subtree_control: &str) -> Arc<Layout> {
    fs::write(root.join("cgroup.subtree_control"), subtree_control).unwrap();
    Arc::new(Layout {
        hierarchies: vec![Hierarchy {
            version: Version::V2,
            controllers: vec!["cpu".into(), "memory".into(), "pids".into()],
            mount_point: root.to_path_buf(),
            root: "/".into(),
        }],
    })
}

/// A group directory with the given files and contents, as the kernel
/// would have made it.
fn fake_group(dir: &Path, files: &[(&str, &str)]) {
    fs::create_dir_all(dir).unwrap();
    for (name, content) in files {
        fs::write(dir.join(name), content).unwrap();
    }
}

fn read(path: PathBuf) -> String {
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn mode(path: PathBuf) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

// --- create -------------------------------------------------------------

#[test]
fn create_makes_the_path_on_every_hierarchy() {
    let tmp = tempfile::tempdir().unwrap();
    let cg = Cgroup::new(v1_layout(tmp.path()), &["cpu", "memory"], "a/b").unwrap();
    assert!(!cg.exists());
    cg.create(&Permissions::default()).unwrap();
    assert!(tmp.path().join("cpu,cpuacct/a/b").is_dir());
    assert!(tmp.path().join("memory/a/b").is_dir());
    assert!(cg.exists());
    assert_eq!(cg.name(), "cpu,memory:/a/b");
}

#[test]
fn create_sets_owners_and_modes_of_an_existing_group() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("memory/g");
    fake_group(&dir, &[("cgroup.procs", ""), ("memory.limit_in_bytes", "")]);
    let perms = Permissions {
        dir_mode: Some(0o750),
        file_mode: Some(0o640),
        task_mode: Some(0o660),
        ..Permissions::default()
    };
    let cg = Cgroup::new(v1_layout(tmp.path()), &["memory"], "g").unwrap();
    cg.create(&perms).unwrap();
    assert_eq!(mode(dir.clone()), 0o750);
    assert_eq!(mode(dir.join("cgroup.procs")), 0o660);
    assert_eq!(mode(dir.join("memory.limit_in_bytes")), 0o640);
}

#[test]
fn create_on_v2_enables_the_controller_in_the_parent() {
    let tmp = tempfile::tempdir().unwrap();
    let cg = Cgroup::new(v2_layout(tmp.path(), ""), &["memory"], "g").unwrap();
    cg.create(&Permissions::default()).unwrap();
    assert!(tmp.path().join("g").is_dir());
    assert_eq!(read(tmp.path().join("cgroup.subtree_control")), "+memory");
}

#[test]
fn create_on_v2_writes_nothing_for_an_enabled_controller() {
    let tmp = tempfile::tempdir().unwrap();
    let cg = Cgroup::new(v2_layout(tmp.path(), "cpu memory"), &["memory"], "g").unwrap();
    cg.create(&Permissions::default()).unwrap();
    assert_eq!(
        read(tmp.path().join("cgroup.subtree_control")),
        "cpu memory"
    );
}

#[test]
fn failed_create_undoes_its_directories_and_enabled_controllers() {
    let tmp = tempfile::tempdir().unwrap();
    // The new group "a" has no cgroup.subtree_control (no kernel made
    // it), so enabling memory for "a/b" fails after "a" was made.
    let cg = Cgroup::new(v2_layout(tmp.path(), ""), &["memory"], "a/b").unwrap();
    let err = cg.create(&Permissions::default()).unwrap_err();
    assert!(
        matches!(&err, Error::Read { path, .. } if path == &tmp.path().join("a/cgroup.subtree_control")),
        "{err}"
    );
    assert!(!tmp.path().join("a").exists());
    assert_eq!(read(tmp.path().join("cgroup.subtree_control")), "-memory");
}

#[test]
fn create_all_removes_the_groups_it_made_when_one_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = v1_layout(tmp.path());
    fake_group(&tmp.path().join("memory/old"), &[]);
    // A regular file where the last group's directory would go.
    fs::write(tmp.path().join("memory/clash"), "").unwrap();
    let groups: Vec<Cgroup> = ["memory:old", "memory:new", "memory:clash"]
        .iter()
        .map(|s| Cgroup::from_spec(layout.clone(), s).unwrap())
        .collect();
    let err = create_all(&groups, &Permissions::default()).unwrap_err();
    assert_eq!(err.to_string(), "Cannot create cgroup memory:/clash");
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(
        cause.starts_with("Cannot create cgroup directory"),
        "{cause}"
    );
    assert!(!tmp.path().join("memory/new").exists());
    assert!(tmp.path().join("memory/old").is_dir());
}

#[test]
fn create_all_makes_every_group() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = v1_layout(tmp.path());
    let groups: Vec<Cgroup> = ["memory,cpu:x", "cpuacct:y"]
        .iter()
        .map(|s| Cgroup::from_spec(layout.clone(), s).unwrap())
        .collect();
    create_all(&groups, &Permissions::default()).unwrap();
    for dir in ["memory/x", "cpu,cpuacct/x", "cpu,cpuacct/y"] {
        assert!(tmp.path().join(dir).is_dir(), "{dir}");
    }
    assert!(!tmp.path().join("memory/y").exists());
}

// --- delete -------------------------------------------------------------

fn refuse() -> DeleteOptions {
    DeleteOptions::default()
}

#[test]
fn delete_removes_an_empty_group() {
    let tmp = tempfile::tempdir().unwrap();
    fake_group(&tmp.path().join("memory/g"), &[]);
    let cg = Cgroup::new(v1_layout(tmp.path()), &["memory"], "g").unwrap();
    cg.delete(refuse()).unwrap();
    assert!(!tmp.path().join("memory/g").exists());
    assert!(tmp.path().join("memory").is_dir());
}

#[test]
fn delete_of_a_missing_group_is_not_found_unless_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let cg = Cgroup::new(v1_layout(tmp.path()), &["memory"], "nosuch").unwrap();
    let err = cg.delete(refuse()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Cgroup memory:/nosuch does not exist"),
        "{err}"
    );
    let ignore = DeleteOptions {
        ignore_missing: true,
        ..refuse()
    };
    cg.delete(ignore).unwrap();
}

#[test]
fn delete_refuses_children_unless_recursive() {
    let tmp = tempfile::tempdir().unwrap();
    fake_group(&tmp.path().join("memory/g/c1/d"), &[]);
    fake_group(&tmp.path().join("memory/g/c2"), &[]);
    let cg = Cgroup::new(v1_layout(tmp.path()), &["memory"], "g").unwrap();
    let err = cg.delete(refuse()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Cgroup memory:/g has child groups (c1/d, c1, c2); delete them too with -r (recursive)"
    );
    assert!(tmp.path().join("memory/g/c1/d").is_dir());
    let recursive = DeleteOptions {
        recursive: true,
        ..refuse()
    };
    cg.delete(recursive).unwrap();
    assert!(!tmp.path().join("memory/g").exists());
}

#[test]
fn delete_refuses_a_populated_group_and_leaves_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("memory/g");
    fake_group(&dir, &[("cgroup.procs", "4242\n17\n")]);
    let cg = Cgroup::new(v1_layout(tmp.path()), &["memory"], "g").unwrap();
    let err = cg.delete(refuse()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Cgroup memory:/g still holds 2 process(es) (pids 17, 4242); stop them first, or have them moved to the parent group or killed"
    );
    assert_eq!(read(dir.join("cgroup.procs")), "4242\n17\n");
}

#[test]
fn delete_moves_the_processes_to_the_parent() {
    let tmp = tempfile::tempdir().unwrap();
    fake_group(&tmp.path().join("memory/p"), &[("cgroup.procs", "")]);
    fake_group(
        &tmp.path().join("memory/p/g"),
        &[("cgroup.procs", "4242\n")],
    );
    let cg = Cgroup::new(v1_layout(tmp.path()), &["memory"], "p/g").unwrap();
    let opts = DeleteOptions {
        populated: Populated::MoveToParent,
        ..refuse()
    };
    let result = cg.delete(opts);
    assert_eq!(read(tmp.path().join("memory/p/cgroup.procs")), "4242");
    // A fake group keeps its cgroup.procs as a real file, so its rmdir
    // fails where the kernel's would succeed.
    assert!(matches!(result, Err(Error::Remove { .. })), "{result:?}");
}

#[test]
fn delete_kills_the_processes_then_removes_the_group() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("memory/g");
    let mut child = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    fake_group(&dir, &[("cgroup.procs", &format!("{}\n", child.id()))]);
    let cg = Cgroup::new(v1_layout(tmp.path()), &["memory"], "g").unwrap();
    let opts = DeleteOptions {
        populated: Populated::Kill,
        ..refuse()
    };
    let deleting = std::thread::spawn(move || cg.delete(opts));
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    // What the kernel does when the last process has gone: the group is
    // empty (and its files go with its rmdir).
    fs::remove_file(dir.join("cgroup.procs")).unwrap();
    deleting.join().unwrap().unwrap();
    assert!(!dir.exists());
}

#[test]
fn delete_all_checks_every_group_before_removing_any() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = v1_layout(tmp.path());
    fake_group(&tmp.path().join("memory/here"), &[]);
    let groups: Vec<Cgroup> = ["memory:here", "memory:gone"]
        .iter()
        .map(|s| Cgroup::from_spec(layout.clone(), s).unwrap())
        .collect();
    let err = delete_all(&groups, refuse()).unwrap_err();
    assert_eq!(err.to_string(), "Cannot delete cgroup memory:/gone");
    assert!(tmp.path().join("memory/here").is_dir());
}

// --- set and get -----------------------------------------------------------

#[test]
fn set_and_read_writes_the_file_and_reads_it_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("memory/g");
    fake_group(&dir, &[("memory.limit_in_bytes", "")]);
    let cg = Cgroup::for_key(v1_layout(tmp.path()), "memory.limit_in_bytes", "g").unwrap();
    let kept = cg.set_and_read("memory.limit_in_bytes", "40000").unwrap();
    assert_eq!(kept, "40000");
    assert_eq!(read(dir.join("memory.limit_in_bytes")), "40000");
    assert_eq!(cg.get("memory.limit_in_bytes").unwrap(), "40000");
}

#[test]
fn set_picks_the_hierarchy_of_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = v1_layout(tmp.path());
    fake_group(&tmp.path().join("cpu,cpuacct/g"), &[("cpu.shares", "")]);
    fake_group(&tmp.path().join("memory/g"), &[]);
    let cg = Cgroup::new(layout, &["memory", "cpu"], "g").unwrap();
    cg.set("cpu.shares", "512").unwrap();
    assert_eq!(read(tmp.path().join("cpu,cpuacct/g/cpu.shares")), "512");
}

#[test]
fn set_in_a_missing_group_is_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    let cg = Cgroup::new(v2_layout(tmp.path(), ""), &["memory"], "nosuch").unwrap();
    let err = cg.set("memory.max", "1G").unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { dir, .. } if dir == &tmp.path().join("nosuch")),
        "{err}"
    );
}

#[test]
fn set_of_a_missing_file_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    fake_group(&tmp.path().join("g"), &[]);
    let cg = Cgroup::new(v2_layout(tmp.path(), ""), &["memory"], "g").unwrap();
    let err = cg.set("memory.max", "1G").unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "Cannot write '1G' to {} (the file does not exist",
            tmp.path().join("g/memory.max").display()
        )),
        "{err}"
    );
}

#[test]
fn values_lists_the_readable_parameters_of_a_controller() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("g");
    fake_group(
        &dir,
        &[
            ("memory.max", "max\n"),
            ("memory.current", "8192\n"),
            ("cpu.weight", "100\n"),
            ("memory.reclaim", ""),
        ],
    );
    // Write-only, as the kernel makes memory.reclaim.
    fs::set_permissions(
        dir.join("memory.reclaim"),
        fs::Permissions::from_mode(0o200),
    )
    .unwrap();
    let cg = Cgroup::new(v2_layout(tmp.path(), ""), &["memory"], "g").unwrap();
    let values = cg.values(Some("memory")).unwrap();
    assert_eq!(
        values,
        vec![
            ("memory.current".to_string(), "8192".to_string()),
            ("memory.max".to_string(), "max".to_string()),
        ]
    );
}

// The CLI's cgset noted a kept value only when it was one line; its
// cgconfigparser compared whole texts. The one-line rule is the one kept.
#[rstest]
#[case::same("40000", "40000", false)]
#[case::spaces(" 40000", "40000\n", false)]
#[case::rounded("40000", "36864", true)]
#[case::several_lines("8:0 100", "default 100\n8:0 100", false)]
fn kernel_kept_other_value(#[case] asked: &str, #[case] kept: &str, #[case] other: bool) {
    assert_eq!(kernel_kept_other(asked, kept), other);
}

// --- attach ---------------------------------------------------------------

#[test]
fn attach_writes_the_pid_to_cgroup_procs_of_every_hierarchy() {
    let tmp = tempfile::tempdir().unwrap();
    fake_group(&tmp.path().join("cpu,cpuacct/g"), &[("cgroup.procs", "")]);
    fake_group(&tmp.path().join("memory/g"), &[("cgroup.procs", "")]);
    let cg = Cgroup::new(v1_layout(tmp.path()), &["cpu", "memory"], "g").unwrap();
    cg.attach(4242).unwrap();
    assert_eq!(read(tmp.path().join("cpu,cpuacct/g/cgroup.procs")), "4242");
    assert_eq!(read(tmp.path().join("memory/g/cgroup.procs")), "4242");
}

#[test]
fn attach_thread_writes_tasks_on_v1_and_cgroup_threads_on_v2() {
    let tmp = tempfile::tempdir().unwrap();
    fake_group(&tmp.path().join("memory/g"), &[("tasks", "")]);
    let v1 = Cgroup::new(v1_layout(tmp.path()), &["memory"], "g").unwrap();
    v1.attach_thread(77).unwrap();
    assert_eq!(read(tmp.path().join("memory/g/tasks")), "77");
    let tmp2 = tempfile::tempdir().unwrap();
    fake_group(&tmp2.path().join("g"), &[("cgroup.threads", "")]);
    let v2 = Cgroup::new(v2_layout(tmp2.path(), ""), &["memory"], "g").unwrap();
    v2.attach_thread(78).unwrap();
    assert_eq!(read(tmp2.path().join("g/cgroup.threads")), "78");
}

#[test]
fn attach_to_a_missing_group_is_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    let cg = Cgroup::new(v1_layout(tmp.path()), &["memory"], "nosuch").unwrap();
    let err = cg.attach(4242).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

#[test]
fn procs_lists_the_pids_of_every_hierarchy_once() {
    let tmp = tempfile::tempdir().unwrap();
    fake_group(
        &tmp.path().join("cpu,cpuacct/g"),
        &[("cgroup.procs", "5\n3\n")],
    );
    fake_group(&tmp.path().join("memory/g"), &[("cgroup.procs", "3\n9\n")]);
    let cg = Cgroup::new(v1_layout(tmp.path()), &["cpu", "memory"], "g").unwrap();
    assert_eq!(cg.procs().unwrap(), vec![3, 5, 9]);
}

#[test]
fn attach_all_checks_every_pid_then_moves_each_into_each_group() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = v1_layout(tmp.path());
    let proc = tmp.path().join("proc");
    fs::create_dir_all(proc.join("4242")).unwrap();
    fake_group(&tmp.path().join("memory/a"), &[("cgroup.procs", "")]);
    fake_group(&tmp.path().join("cpu,cpuacct/b"), &[("cgroup.procs", "")]);
    let groups: Vec<Cgroup> = ["memory:a", "cpu:b"]
        .iter()
        .map(|s| Cgroup::from_spec(layout.clone(), s).unwrap())
        .collect();
    let err = attach_all(&groups, &[4242, 4343], &proc).unwrap_err();
    assert_eq!(
        err.to_string(),
        "No process with pid 4343: check it with `ps -p 4343`"
    );
    assert_eq!(read(tmp.path().join("memory/a/cgroup.procs")), "");
    attach_all(&groups, &[4242], &proc).unwrap();
    assert_eq!(read(tmp.path().join("memory/a/cgroup.procs")), "4242");
    assert_eq!(read(tmp.path().join("cpu,cpuacct/b/cgroup.procs")), "4242");
}

#[test]
fn attach_all_names_the_process_and_the_group_that_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let proc = tmp.path().join("proc");
    fs::create_dir_all(proc.join("4242")).unwrap();
    // A group without cgroup.procs: the write fails.
    fake_group(&tmp.path().join("memory/a"), &[]);
    let cg = Cgroup::from_spec(v1_layout(tmp.path()), "memory:a").unwrap();
    let err = attach_all(&[cg], &[4242], &proc).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Cannot move process 4242 into cgroup memory:/a"
    );
}

// --- trees ----------------------------------------------------------------

#[test]
fn trees_walk_the_group_on_each_hierarchy() {
    let tmp = tempfile::tempdir().unwrap();
    fake_group(
        &tmp.path().join("cpu,cpuacct/g/x"),
        &[("cgroup.procs", "7\n")],
    );
    fake_group(&tmp.path().join("cpu,cpuacct/g"), &[("cgroup.procs", "")]);
    fake_group(&tmp.path().join("memory/g"), &[("cgroup.procs", "8\n")]);
    let cg = Cgroup::new(v1_layout(tmp.path()), &["*"], "g").unwrap();
    let trees = cg.trees(true).unwrap();
    let seen: Vec<(String, Vec<&str>)> =
        trees.iter().map(|(h, n)| (h.label(), n.paths())).collect();
    assert_eq!(
        seen,
        vec![
            ("cpu,cpuacct".to_string(), vec!["g", "g/x"]),
            ("memory".to_string(), vec!["g"]),
        ]
    );
    assert_eq!(trees[0].1.children[0].pids, vec![7]);
    assert_eq!(trees[1].1.pids, vec![8]);
}

// --- specs ----------------------------------------------------------------

#[rstest]
#[case("memory,cpu:hello", Some((vec!["memory", "cpu"], "hello")))]
#[case(":hello", Some((vec![], "hello")))]
#[case("*:/", Some((vec!["*"], "/")))]
#[case("a,,b:x", Some((vec!["a", "", "b"], "x")))]
#[case("hello", None)]
fn splits_specs(#[case] spec: &str, #[case] expected: Option<(Vec<&str>, &str)>) {
    assert_eq!(split_spec(spec), expected);
}

#[rstest]
#[case("hello")]
#[case("memory,,cpu:hello")]
fn from_spec_refuses_malformed_specs(#[case] spec: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let err = Cgroup::from_spec(v1_layout(tmp.path()), spec).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Invalid group '{spec}': expected <controllers>:<path>, e.g. memory,cpu:helloworld"
        )
    );
}
