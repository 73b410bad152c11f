//! Privileged tests of enclos-cgroupfs on this host's real hierarchies.
//! Each test works in its own uniquely named group, removed by a Drop
//! guard even when the test fails.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use enclos_cgroupfs::{
    Cgroup, DeleteOptions, Error, FreezerState, Layout, Permissions, Populated, Version,
};
use enclos_tests::require_root;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(tag: &str) -> String {
    format!(
        "enclos-test-{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn layout() -> Arc<Layout> {
    Arc::new(Layout::discover().expect("discover the cgroup layout"))
}

/// A group that is killed and removed when dropped.
struct Group(Cgroup);

impl Group {
    fn create(controllers: &[&str], tag: &str) -> Group {
        let cg = Cgroup::new(layout(), controllers, &unique(tag)).expect("cgroup handle");
        cg.create(&Permissions::default())
            .expect("create the group");
        Group(cg)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = self.0.thaw(Duration::from_secs(1));
        let _ = self.0.delete(DeleteOptions {
            recursive: true,
            populated: Populated::Kill,
            ignore_missing: true,
        });
    }
}

/// A child process killed and reaped when dropped.
struct Proc(Child);

impl Proc {
    fn spawn(script: &str) -> Proc {
        Proc(
            Command::new("sh")
                .args(["-c", script])
                .stdout(Stdio::null())
                .spawn()
                .expect("spawn sh"),
        )
    }
    fn pid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096) as u64
}

fn cgroup_line(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap()
}

fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after ")".
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn memory_limit_is_read_back_page_rounded() {
    if !require_root("memory_limit_is_read_back_page_rounded") {
        return;
    }
    let g = Group::create(&["memory"], "limit");
    let kept = g.0.set_memory_limit(Some(40_000_000)).unwrap();
    let expected = 40_000_000 / page_size() * page_size();
    assert_eq!(kept, Some(expected));
    let file = g.0.file(match g.0.members()[0].hierarchy.version {
        Version::V1 => "memory.limit_in_bytes",
        Version::V2 => "memory.max",
    });
    let on_disk = std::fs::read_to_string(file.unwrap()).unwrap();
    assert_eq!(on_disk.trim(), expected.to_string());
    assert_eq!(g.0.set_memory_limit(None).unwrap(), None);
}

#[test]
fn attach_lists_and_delete_refuses_populated_group() {
    if !require_root("attach_lists_and_delete_refuses_populated_group") {
        return;
    }
    let g = Group::create(&["memory", "pids"], "attach");
    let p = Proc::spawn("exec sleep 1000");
    g.0.attach(p.pid()).unwrap();
    assert_eq!(g.0.procs().unwrap(), vec![p.pid()]);
    let line = cgroup_line(p.pid());
    assert!(line.contains(&format!("memory:/{}", g.0.path())), "{line}");
    assert!(line.contains(&format!("pids:/{}", g.0.path())), "{line}");

    let err = g.0.delete(DeleteOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Populated { count: 1, .. }), "{err}");
    assert!(
        err.to_string().contains(&format!("pids {}", p.pid())),
        "{err}"
    );
    assert!(g.0.exists(), "a refused delete must remove nothing");

    g.0.delete(DeleteOptions {
        populated: Populated::MoveToParent,
        ..Default::default()
    })
    .unwrap();
    assert!(!g.0.exists());
    let line = cgroup_line(p.pid());
    assert!(
        !line.contains(g.0.path()),
        "the process went to the parent: {line}"
    );
}

#[test]
fn delete_kill_removes_processes_and_children() {
    if !require_root("delete_kill_removes_processes_and_children") {
        return;
    }
    let g = Group::create(&["memory"], "kill");
    let child = Cgroup::new(layout(), &["memory"], &format!("{}/child", g.0.path())).unwrap();
    child.create(&Permissions::default()).unwrap();
    let mut p = Proc::spawn("exec sleep 1000");
    child.attach(p.pid()).unwrap();

    let err = g.0.delete(DeleteOptions::default()).unwrap_err();
    assert!(matches!(err, Error::HasChildren { .. }), "{err}");
    g.0.delete(DeleteOptions {
        recursive: true,
        populated: Populated::Kill,
        ignore_missing: false,
    })
    .unwrap();
    assert!(!g.0.exists() && !child.exists());
    let status = p.0.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

#[test]
fn oom_kill_is_counted_by_the_group() {
    if !require_root("oom_kill_is_counted_by_the_group") {
        return;
    }
    let g = Group::create(&["memory"], "oom");
    assert_eq!(
        g.0.set_memory_limit(Some(6000)).unwrap(),
        Some(6000 / page_size() * page_size())
    );
    // A shell that waits to be moved, then allocates well past one page.
    let mut p = Proc(
        Command::new("sh")
            .args([
                "-c",
                "read _; x=$(head -c 1000000 /dev/zero | tr '\\0' a); echo ${#x}",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    g.0.attach(p.pid()).unwrap();
    drop(p.0.stdin.take());
    let status = p.0.wait().unwrap();
    assert!(
        !status.success(),
        "the shell should have been killed: {status:?}"
    );
    let stats = g.0.stats().unwrap();
    assert!(stats.oom_kills.unwrap() >= 1, "{stats:?}");
    assert!(stats.memory_failcnt.unwrap() >= 1, "{stats:?}");
}

#[test]
fn freeze_stops_cpu_time_and_thaw_resumes() {
    if !require_root("freeze_stops_cpu_time_and_thaw_resumes") {
        return;
    }
    let g = Group::create(&["freezer", "cpuacct"], "freeze");
    let p = Proc::spawn("while :; do :; done");
    g.0.attach(p.pid()).unwrap();
    g.0.freeze(Duration::from_secs(5)).unwrap();
    assert_eq!(g.0.freezer_state().unwrap(), FreezerState::Frozen);
    let before = cpu_ticks(p.pid());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cpu_ticks(p.pid()), before, "a frozen process must not run");
    g.0.thaw(Duration::from_secs(5)).unwrap();
    assert_eq!(g.0.freezer_state().unwrap(), FreezerState::Thawed);
    std::thread::sleep(Duration::from_millis(300));
    assert!(cpu_ticks(p.pid()) > before, "a thawed busy loop runs again");
    assert!(g.0.stats().unwrap().cpu_usage_ns.unwrap() > 0);
}

#[test]
fn unified_hierarchy_create_attach_freeze() {
    if !require_root("unified_hierarchy_create_attach_freeze") {
        return;
    }
    let layout = layout();
    let Some(v2) = layout.unified() else {
        enclos_tests::missing_feature(
            "unified_hierarchy_create_attach_freeze",
            "no cgroup v2 mount",
        );
        return;
    };
    let cg = Cgroup::new(layout.clone(), &["unified"], &unique("v2")).unwrap();
    cg.create(&Permissions::default()).unwrap();
    let g = Group(cg);
    assert!(v2.dir(g.0.path()).join("cgroup.events").exists());
    let p = Proc::spawn("while :; do :; done");
    g.0.attach(p.pid()).unwrap();
    assert!(cgroup_line(p.pid()).contains(&format!("0::/{}", g.0.path())));
    g.0.freeze(Duration::from_secs(5)).unwrap();
    assert_eq!(g.0.get("cgroup.freeze").unwrap(), "1");
    assert!(g.0.get("cgroup.events").unwrap().contains("frozen 1"));
    assert_eq!(g.0.freezer_state().unwrap(), FreezerState::Frozen);
    let before = cpu_ticks(p.pid());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cpu_ticks(p.pid()), before);
    g.0.thaw(Duration::from_secs(5)).unwrap();
    assert!(g.0.get("cgroup.events").unwrap().contains("frozen 0"));
}

#[test]
fn typed_cpu_pids_and_cpuset_settings() {
    if !require_root("typed_cpu_pids_and_cpuset_settings") {
        return;
    }
    let g = Group::create(&["cpu", "pids", "cpuset"], "typed");
    let version = g.0.member_for("cpu").unwrap().hierarchy.version;
    let kept = g.0.set_cpu_shares(100).unwrap();
    match version {
        Version::V1 => {
            assert_eq!(kept, 100);
            assert_eq!(g.0.get("cpu.shares").unwrap(), "100");
            g.0.set_cpu_quota(Some(50_000), 100_000).unwrap();
            assert_eq!(g.0.get("cpu.cfs_quota_us").unwrap(), "50000");
            assert_eq!(g.0.get("cpu.cfs_period_us").unwrap(), "100000");
        }
        Version::V2 => {
            assert_eq!(g.0.get("cpu.weight").unwrap(), "4");
            g.0.set_cpu_quota(Some(50_000), 100_000).unwrap();
            assert_eq!(g.0.get("cpu.max").unwrap(), "50000 100000");
        }
    }
    g.0.set_pids_max(Some(5)).unwrap();
    assert_eq!(g.0.get("pids.max").unwrap(), "5");
    // A new cpuset group gets its parent's CPUs, so a task can join it.
    assert!(!g.0.get("cpuset.cpus").unwrap().is_empty());
    let p = Proc::spawn("exec sleep 1000");
    g.0.attach(p.pid()).unwrap();
    assert_eq!(g.0.set_cpuset_cpus("0").unwrap(), "0");
    // pids.max 5 really limits: the shell and four sleeps fit, a fifth
    // fork fails.
    let procs = g.0.member_for("pids").unwrap().dir.join("cgroup.procs");
    let script = format!(
        "echo $$ > {}; for i in 1 2 3 4 5 6; do sleep 5 & done",
        procs.display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("fork"), "the sixth fork should fail: {text}");
}

#[test]
fn kernel_refusal_names_the_file() {
    if !require_root("kernel_refusal_names_the_file") {
        return;
    }
    let g = Group::create(&["memory"], "refuse");
    let key = match g.0.members()[0].hierarchy.version {
        Version::V1 => "memory.limit_in_bytes",
        Version::V2 => "memory.max",
    };
    let err = g.0.set(key, "lots").unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("Cannot write 'lots' to "), "{msg}");
    assert!(msg.contains(key), "{msg}");
    assert!(msg.contains("the kernel refused the value"), "{msg}");
}

#[test]
fn missing_group_and_unknown_controller() {
    if !require_root("missing_group_and_unknown_controller") {
        return;
    }
    let err = Cgroup::new(layout(), &["nosuch"], "x").unwrap_err();
    assert!(matches!(err, Error::UnknownController { .. }), "{err}");
    let cg = Cgroup::new(layout(), &["memory"], &unique("missing")).unwrap();
    assert!(matches!(cg.procs(), Err(Error::NotFound { .. })));
    assert!(matches!(
        cg.delete(DeleteOptions::default()),
        Err(Error::NotFound { .. })
    ));
    assert!(cg
        .delete(DeleteOptions {
            ignore_missing: true,
            ..Default::default()
        })
        .is_ok());
}

#[test]
fn remove_if_empty_takes_empty_groups_and_leaves_populated_ones() {
    if !require_root("remove_if_empty_takes_empty_groups_and_leaves_populated_ones") {
        return;
    }
    let empty = Group::create(&["memory", "pids"], "rmempty");
    assert!(empty.0.remove_if_empty());
    assert!(empty.0.members().iter().all(|m| !m.dir.exists()));
    assert!(
        empty.0.remove_if_empty(),
        "a group already gone counts as removed"
    );

    let busy = Group::create(&["memory", "pids"], "rmbusy");
    let pids = Cgroup::new(layout(), &["pids"], busy.0.path()).unwrap();
    let p = Proc::spawn("exec sleep 1000");
    pids.attach(p.pid()).unwrap();
    assert!(!busy.0.remove_if_empty());
    let left: Vec<bool> = busy.0.members().iter().map(|m| m.dir.is_dir()).collect();
    // The memory group had no process: gone; the pids one stays with its
    // process in it.
    assert_eq!(left, [false, true]);
    assert_eq!(
        std::fs::read_to_string(pids.members()[0].dir.join("cgroup.procs"))
            .unwrap()
            .trim(),
        p.pid().to_string()
    );
}
