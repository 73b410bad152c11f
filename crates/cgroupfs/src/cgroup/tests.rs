//! [`Cgroup`] against fake cgroup trees in temporary directories
//! (enclos-testkit's [`CgroupTree`]), whose layout is discovered from the
//! mount table that describes them. A fake tree has
//! no kernel behind it: a new group gets no interface files, a write is
//! kept as written (over the old bytes, unlike the kernel's files, so the
//! files to write start empty), and `rmdir` of a group with files fails. The tests
//! create the files the kernel would have made where they need them.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::Arc;

use rstest::rstest;

use enclos_testkit::{read, CgroupTree};

use crate::{
    attach_all, create_all, delete_all, kernel_kept_other, split_spec, Cgroup, DeleteOptions,
    Error, Layout, Permissions, Populated,
};

/// The layout of `tree`, discovered from its mount table.
fn layout_of(tree: &CgroupTree) -> Arc<Layout> {
    Arc::new(Layout::from_mountinfo(tree.mountinfo()).unwrap())
}

/// One v2 hierarchy offering cpu, memory and pids, with `enabled` in its
/// root's cgroup.subtree_control.
fn v2_tree(enabled: &[&str]) -> CgroupTree {
    CgroupTree::new()
        .v2(&["cpu", "memory", "pids"])
        .enable(enabled)
}

fn mode(path: PathBuf) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

// --- create -------------------------------------------------------------

#[test]
fn create_makes_the_path_on_every_hierarchy() {
    let tree = CgroupTree::legacy();
    let cg = Cgroup::new(layout_of(&tree), &["cpu", "memory"], "a/b").unwrap();
    assert!(!cg.exists());
    cg.create(&Permissions::default()).unwrap();
    assert!(tree.root().join("cpu,cpuacct/a/b").is_dir());
    assert!(tree.root().join("memory/a/b").is_dir());
    assert!(cg.exists());
    assert_eq!(cg.name(), "cpu,memory:/a/b");
}

#[test]
fn create_sets_owners_and_modes_of_an_existing_group() {
    let tree = CgroupTree::legacy();
    let dir = tree.group(
        "memory/g",
        &[("cgroup.procs", ""), ("memory.limit_in_bytes", "")],
    );
    let perms = Permissions {
        dir_mode: Some(0o750),
        file_mode: Some(0o640),
        task_mode: Some(0o660),
        ..Permissions::default()
    };
    let cg = Cgroup::new(layout_of(&tree), &["memory"], "g").unwrap();
    cg.create(&perms).unwrap();
    assert_eq!(mode(dir.clone()), 0o750);
    assert_eq!(mode(dir.join("cgroup.procs")), 0o660);
    assert_eq!(mode(dir.join("memory.limit_in_bytes")), 0o640);
}

#[test]
fn create_on_v2_enables_the_controller_in_the_parent() {
    let tree = v2_tree(&[]);
    let cg = Cgroup::new(layout_of(&tree), &["memory"], "g").unwrap();
    cg.create(&Permissions::default()).unwrap();
    assert!(tree.root().join("g").is_dir());
    assert_eq!(read(tree.root().join("cgroup.subtree_control")), "+memory");
}

#[test]
fn create_on_v2_writes_nothing_for_an_enabled_controller() {
    let tree = v2_tree(&["cpu", "memory"]);
    let cg = Cgroup::new(layout_of(&tree), &["memory"], "g").unwrap();
    cg.create(&Permissions::default()).unwrap();
    assert_eq!(
        read(tree.root().join("cgroup.subtree_control")),
        "cpu memory"
    );
}

#[test]
fn failed_create_undoes_its_directories_and_enabled_controllers() {
    let tree = v2_tree(&[]);
    // The new group "a" has no cgroup.subtree_control (no kernel made
    // it), so enabling memory for "a/b" fails after "a" was made.
    let cg = Cgroup::new(layout_of(&tree), &["memory"], "a/b").unwrap();
    let err = cg.create(&Permissions::default()).unwrap_err();
    assert!(
        matches!(&err, Error::Read { path, .. } if path == &tree.root().join("a/cgroup.subtree_control")),
        "{err}"
    );
    assert!(!tree.root().join("a").exists());
    assert_eq!(read(tree.root().join("cgroup.subtree_control")), "-memory");
}

#[test]
fn create_all_removes_the_groups_it_made_when_one_fails() {
    let tree = CgroupTree::legacy();
    let layout = layout_of(&tree);
    tree.group("memory/old", &[]);
    // A regular file where the last group's directory would go.
    fs::write(tree.root().join("memory/clash"), "").unwrap();
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
    assert!(!tree.root().join("memory/new").exists());
    assert!(tree.root().join("memory/old").is_dir());
}

#[test]
fn create_all_makes_every_group() {
    let tree = CgroupTree::legacy();
    let layout = layout_of(&tree);
    let groups: Vec<Cgroup> = ["memory,cpu:x", "cpuacct:y"]
        .iter()
        .map(|s| Cgroup::from_spec(layout.clone(), s).unwrap())
        .collect();
    create_all(&groups, &Permissions::default()).unwrap();
    for dir in ["memory/x", "cpu,cpuacct/x", "cpu,cpuacct/y"] {
        assert!(tree.root().join(dir).is_dir(), "{dir}");
    }
    assert!(!tree.root().join("memory/y").exists());
}

// --- delete -------------------------------------------------------------

fn refuse() -> DeleteOptions {
    DeleteOptions::default()
}

#[test]
fn delete_removes_an_empty_group() {
    let tree = CgroupTree::legacy();
    tree.group("memory/g", &[]);
    let cg = Cgroup::new(layout_of(&tree), &["memory"], "g").unwrap();
    cg.delete(refuse()).unwrap();
    assert!(!tree.root().join("memory/g").exists());
    assert!(tree.root().join("memory").is_dir());
}

#[test]
fn delete_of_a_missing_group_is_not_found_unless_ignored() {
    let tree = CgroupTree::legacy();
    let cg = Cgroup::new(layout_of(&tree), &["memory"], "nosuch").unwrap();
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
    let tree = CgroupTree::legacy();
    tree.group("memory/g/c1/d", &[]);
    tree.group("memory/g/c2", &[]);
    let cg = Cgroup::new(layout_of(&tree), &["memory"], "g").unwrap();
    let err = cg.delete(refuse()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Cgroup memory:/g has child groups (c1/d, c1, c2); delete them too with -r (recursive)"
    );
    assert!(tree.root().join("memory/g/c1/d").is_dir());
    let recursive = DeleteOptions {
        recursive: true,
        ..refuse()
    };
    cg.delete(recursive).unwrap();
    assert!(!tree.root().join("memory/g").exists());
}

#[test]
fn delete_refuses_a_populated_group_and_leaves_it() {
    let tree = CgroupTree::legacy();
    let dir = tree.group("memory/g", &[("cgroup.procs", "4242\n17\n")]);
    let cg = Cgroup::new(layout_of(&tree), &["memory"], "g").unwrap();
    let err = cg.delete(refuse()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Cgroup memory:/g still holds 2 process(es) (pids 17, 4242); stop them first, or have them moved to the parent group or killed"
    );
    assert_eq!(read(dir.join("cgroup.procs")), "4242\n17\n");
}

#[test]
fn delete_moves_the_processes_to_the_parent() {
    let tree = CgroupTree::legacy();
    tree.group("memory/p", &[("cgroup.procs", "")]);
    tree.group("memory/p/g", &[("cgroup.procs", "4242\n")]);
    let cg = Cgroup::new(layout_of(&tree), &["memory"], "p/g").unwrap();
    let opts = DeleteOptions {
        populated: Populated::MoveToParent,
        ..refuse()
    };
    let result = cg.delete(opts);
    assert_eq!(read(tree.root().join("memory/p/cgroup.procs")), "4242");
    // A fake group keeps its cgroup.procs as a real file, so its rmdir
    // fails where the kernel's would succeed.
    assert!(matches!(result, Err(Error::Remove { .. })), "{result:?}");
}

#[test]
fn delete_kills_the_processes_then_removes_the_group() {
    let tree = CgroupTree::legacy();
    let dir = tree.root().join("memory/g");
    let mut child = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    tree.group(
        "memory/g",
        &[("cgroup.procs", &format!("{}\n", child.id()))],
    );
    let cg = Cgroup::new(layout_of(&tree), &["memory"], "g").unwrap();
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
    let tree = CgroupTree::legacy();
    let layout = layout_of(&tree);
    tree.group("memory/here", &[]);
    let groups: Vec<Cgroup> = ["memory:here", "memory:gone"]
        .iter()
        .map(|s| Cgroup::from_spec(layout.clone(), s).unwrap())
        .collect();
    let err = delete_all(&groups, refuse()).unwrap_err();
    assert_eq!(err.to_string(), "Cannot delete cgroup memory:/gone");
    assert!(tree.root().join("memory/here").is_dir());
}

// --- set and get -----------------------------------------------------------

#[test]
fn set_and_read_writes_the_file_and_reads_it_back() {
    let tree = CgroupTree::legacy();
    let dir = tree.group("memory/g", &[("memory.limit_in_bytes", "")]);
    let cg = Cgroup::for_key(layout_of(&tree), "memory.limit_in_bytes", "g").unwrap();
    let kept = cg.set_and_read("memory.limit_in_bytes", "40000").unwrap();
    assert_eq!(kept, "40000");
    assert_eq!(read(dir.join("memory.limit_in_bytes")), "40000");
    assert_eq!(cg.get("memory.limit_in_bytes").unwrap(), "40000");
}

#[test]
fn set_picks_the_hierarchy_of_the_key() {
    let tree = CgroupTree::legacy();
    let layout = layout_of(&tree);
    tree.group("cpu,cpuacct/g", &[("cpu.shares", "")]);
    tree.group("memory/g", &[]);
    let cg = Cgroup::new(layout, &["memory", "cpu"], "g").unwrap();
    cg.set("cpu.shares", "512").unwrap();
    assert_eq!(read(tree.root().join("cpu,cpuacct/g/cpu.shares")), "512");
}

#[test]
fn set_in_a_missing_group_is_not_found() {
    let tree = v2_tree(&[]);
    let cg = Cgroup::new(layout_of(&tree), &["memory"], "nosuch").unwrap();
    let err = cg.set("memory.max", "1G").unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { dir, .. } if dir == &tree.root().join("nosuch")),
        "{err}"
    );
}

#[test]
fn set_of_a_missing_file_names_it() {
    let tree = v2_tree(&[]);
    tree.group("g", &[]);
    let cg = Cgroup::new(layout_of(&tree), &["memory"], "g").unwrap();
    let err = cg.set("memory.max", "1G").unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "Cannot write '1G' to {} (the file does not exist",
            tree.root().join("g/memory.max").display()
        )),
        "{err}"
    );
}

#[test]
fn values_lists_the_readable_parameters_of_a_controller() {
    let tree = v2_tree(&[]);
    let dir = tree.group(
        "g",
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
    let cg = Cgroup::new(layout_of(&tree), &["memory"], "g").unwrap();
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
    let tree = CgroupTree::legacy();
    tree.group("cpu,cpuacct/g", &[("cgroup.procs", "")]);
    tree.group("memory/g", &[("cgroup.procs", "")]);
    let cg = Cgroup::new(layout_of(&tree), &["cpu", "memory"], "g").unwrap();
    cg.attach(4242).unwrap();
    assert_eq!(read(tree.root().join("cpu,cpuacct/g/cgroup.procs")), "4242");
    assert_eq!(read(tree.root().join("memory/g/cgroup.procs")), "4242");
}

#[test]
fn attach_thread_writes_tasks_on_v1_and_cgroup_threads_on_v2() {
    let tree = CgroupTree::legacy();
    tree.group("memory/g", &[("tasks", "")]);
    let v1 = Cgroup::new(layout_of(&tree), &["memory"], "g").unwrap();
    v1.attach_thread(77).unwrap();
    assert_eq!(read(tree.root().join("memory/g/tasks")), "77");
    let tree2 = v2_tree(&[]);
    tree2.group("g", &[("cgroup.threads", "")]);
    let v2 = Cgroup::new(layout_of(&tree2), &["memory"], "g").unwrap();
    v2.attach_thread(78).unwrap();
    assert_eq!(read(tree2.root().join("g/cgroup.threads")), "78");
}

#[test]
fn attach_to_a_missing_group_is_not_found() {
    let tree = CgroupTree::legacy();
    let cg = Cgroup::new(layout_of(&tree), &["memory"], "nosuch").unwrap();
    let err = cg.attach(4242).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

#[test]
fn procs_lists_the_pids_of_every_hierarchy_once() {
    let tree = CgroupTree::legacy();
    tree.group("cpu,cpuacct/g", &[("cgroup.procs", "5\n3\n")]);
    tree.group("memory/g", &[("cgroup.procs", "3\n9\n")]);
    let cg = Cgroup::new(layout_of(&tree), &["cpu", "memory"], "g").unwrap();
    assert_eq!(cg.procs().unwrap(), vec![3, 5, 9]);
}

#[test]
fn attach_all_checks_every_pid_then_moves_each_into_each_group() {
    let tree = CgroupTree::legacy();
    let layout = layout_of(&tree);
    let proc = tree.dir().join("proc");
    fs::create_dir_all(proc.join("4242")).unwrap();
    tree.group("memory/a", &[("cgroup.procs", "")]);
    tree.group("cpu,cpuacct/b", &[("cgroup.procs", "")]);
    let groups: Vec<Cgroup> = ["memory:a", "cpu:b"]
        .iter()
        .map(|s| Cgroup::from_spec(layout.clone(), s).unwrap())
        .collect();
    let err = attach_all(&groups, &[4242, 4343], &proc).unwrap_err();
    assert_eq!(
        err.to_string(),
        "No process with pid 4343: check it with `ps -p 4343`"
    );
    assert_eq!(read(tree.root().join("memory/a/cgroup.procs")), "");
    attach_all(&groups, &[4242], &proc).unwrap();
    assert_eq!(read(tree.root().join("memory/a/cgroup.procs")), "4242");
    assert_eq!(read(tree.root().join("cpu,cpuacct/b/cgroup.procs")), "4242");
}

#[test]
fn attach_all_names_the_process_and_the_group_that_refused() {
    let tree = CgroupTree::legacy();
    let proc = tree.dir().join("proc");
    fs::create_dir_all(proc.join("4242")).unwrap();
    // A group without cgroup.procs: the write fails.
    tree.group("memory/a", &[]);
    let cg = Cgroup::from_spec(layout_of(&tree), "memory:a").unwrap();
    let err = attach_all(&[cg], &[4242], &proc).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Cannot move process 4242 into cgroup memory:/a"
    );
}

// --- trees ----------------------------------------------------------------

#[test]
fn trees_walk_the_group_on_each_hierarchy() {
    let tree = CgroupTree::legacy();
    tree.group("cpu,cpuacct/g/x", &[("cgroup.procs", "7\n")]);
    tree.group("cpu,cpuacct/g", &[("cgroup.procs", "")]);
    tree.group("memory/g", &[("cgroup.procs", "8\n")]);
    let cg = Cgroup::new(layout_of(&tree), &["*"], "g").unwrap();
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
    let tree = CgroupTree::legacy();
    let err = Cgroup::from_spec(layout_of(&tree), spec).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Invalid group '{spec}': expected <controllers>:<path>, e.g. memory,cpu:helloworld"
        )
    );
}
