//! The container's cgroup settings, v1 and v2, and the keys that clear
//! them.

use enclos_tests::lab::*;
use enclos_tests::require_root;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;

use crate::{inside, with_keys, Case};

pub const CASES: &[Case] = &[
    Case {
        pattern: "lxc.cgroup.*",
        test: cgroup_v1_setting_reaches_the_host_file,
    },
    Case {
        pattern: "lxc.cgroup2.*",
        test: cgroup_v2_setting_reaches_the_host_file,
    },
    Case {
        pattern: "lxc.cgroup",
        test: cgroup_clears_the_v1_settings,
    },
    Case {
        pattern: "lxc.cgroup2",
        test: cgroup2_clears_the_v2_settings,
    },
    Case {
        pattern: "lxc.cgroup.dir",
        test: cgroup_dir_is_where_the_container_s_cgroup_goes,
    },
    Case {
        pattern: "lxc.cgroup.dir.container",
        test: cgroup_dir_container_and_monitor_place_both,
    },
    Case {
        pattern: "lxc.cgroup.dir.container.inner",
        test: cgroup_dir_container_and_monitor_place_both,
    },
    Case {
        pattern: "lxc.cgroup.dir.monitor",
        test: cgroup_dir_container_and_monitor_place_both,
    },
    Case {
        pattern: "lxc.cgroup.dir.monitor.pivot",
        test: cgroup_dir_container_and_monitor_place_both,
    },
    Case {
        pattern: "lxc.cgroup.relative",
        test: cgroup_relative_puts_the_cgroup_under_the_starter_s,
    },
];

/// Top-level cgroups a test made (by name, on every hierarchy): removed
/// with whatever is under them when the test ends.
pub(crate) struct TopGroups(Vec<String>);

impl TopGroups {
    /// The group `top` made on every hierarchy (a v1 cpuset one given its
    /// parent's cpus and mems, so that processes may join it).
    pub(crate) fn make(top: &str) -> TopGroups {
        let guard = TopGroups(vec![top.to_string()]);
        for m in cgroup_mounts() {
            std::fs::create_dir_all(m.path.join(top)).unwrap();
            if m.options.iter().any(|o| o == "cpuset") {
                for f in ["cpuset.cpus", "cpuset.mems"] {
                    let v = std::fs::read_to_string(m.path.join(f)).unwrap();
                    std::fs::write(m.path.join(top).join(f), v.trim()).unwrap();
                }
            }
        }
        guard
    }

    /// Runs `cmd` in the group (this test's only one) on every hierarchy,
    /// as a service manager or a login would place it.
    pub(crate) fn place(&self, cmd: &mut std::process::Command) {
        let procs: Vec<PathBuf> = cgroup_mounts()
            .into_iter()
            .map(|m| m.path.join(&self.0[0]).join("cgroup.procs"))
            .collect();
        // SAFETY: between fork and exec, only writes of "0" (this
        // process) to cgroup files.
        unsafe {
            cmd.pre_exec(move || {
                for p in &procs {
                    std::fs::write(p, "0")?;
                }
                Ok(())
            });
        }
    }
}

impl Drop for TopGroups {
    fn drop(&mut self) {
        for m in cgroup_mounts() {
            for top in &self.0 {
                let dir = m.path.join(top);
                if dir.is_dir() {
                    kill_and_remove(&dir);
                }
            }
        }
    }
}

/// The hierarchies where `rel` is a directory, and those where it is not.
fn dirs_of(rel: &str) -> (Vec<PathBuf>, Vec<PathBuf>) {
    cgroup_mounts()
        .into_iter()
        .map(|m| m.path.join(rel))
        .partition(|d| d.is_dir())
}

/// The cgroup path of `pid` on the memory hierarchy (v1), or v2's.
fn memory_group(pid: i32) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let v1 = text.lines().find(|l| {
        l.split(':')
            .nth(1)
            .is_some_and(|c| c.split(',').any(|c| c == "memory"))
    });
    let line = v1
        .or_else(|| text.lines().find(|l| l.starts_with("0::")))
        .expect("a memory line");
    line.splitn(3, ':').nth(2).unwrap().to_string()
}

/// `lxc.cgroup` or `lxc.cgroup2` with a memory limit of 64 MiB: on a host
/// whose memory controller is of that version, the host's file holds it;
/// on the other, start refuses it and says why.
fn memory_setting(version_key: &str, tag: &str) {
    let lab = Lab::new();
    let mem = MemoryLimit::of_host();
    let (key, v, applies) = match version_key {
        "lxc.cgroup" => ("lxc.cgroup.memory.limit_in_bytes", "v1", mem.v1),
        _ => ("lxc.cgroup2.memory.max", "v2", !mem.v1),
    };
    let n = with_keys(&lab, tag, &format!("{key} = 67108864"));
    if applies {
        lab.start(&n);
        assert_eq!(mem.of(&n), "67108864");
    } else {
        let out = lab.enclos("start", &["-n", &n]);
        assert_one_error_line(
            &out,
            &format!("{key} is a cgroup {v} setting, but this host's memory controller is not on cgroup {v}"),
        );
        assert_eq!(
            cgroup_dirs(&n),
            Vec::<std::path::PathBuf>::new(),
            "no cgroup left"
        );
    }
}

#[test]
pub fn cgroup_v1_setting_reaches_the_host_file() {
    if !require_root("cgroup_v1_setting_reaches_the_host_file") {
        return;
    }
    memory_setting("lxc.cgroup", "cg1");
}

#[test]
pub fn cgroup_v2_setting_reaches_the_host_file() {
    if !require_root("cgroup_v2_setting_reaches_the_host_file") {
        return;
    }
    memory_setting("lxc.cgroup2", "cg2");
}

/// A memory limit of `version_key` set in an included file, then cleared
/// by `version_key =`: the container starts with no limit.
fn memory_setting_cleared(version_key: &str, tag: &str) {
    let lab = Lab::new();
    let mem = MemoryLimit::of_host();
    let key = match version_key {
        "lxc.cgroup" => "lxc.cgroup.memory.limit_in_bytes",
        _ => "lxc.cgroup2.memory.max",
    };
    let inc = lab.conf(&format!("{tag}.conf"), &format!("{key} = 67108864\n"));
    let n = with_keys(
        &lab,
        tag,
        &format!("lxc.include = {}\n{version_key} =", inc.display()),
    );
    // Uncleared, the setting would apply (or, on a host of the other
    // version, refuse the start): cleared, the start succeeds and the
    // group has the kernel's default.
    lab.start(&n);
    let unlimited = if mem.v1 { "9223372036854771712" } else { "max" };
    assert_eq!(mem.of(&n), unlimited);
}

#[test]
pub fn cgroup_clears_the_v1_settings() {
    if !require_root("cgroup_clears_the_v1_settings") {
        return;
    }
    memory_setting_cleared("lxc.cgroup", "cgclr1");
}

#[test]
pub fn cgroup2_clears_the_v2_settings() {
    if !require_root("cgroup2_clears_the_v2_settings") {
        return;
    }
    memory_setting_cleared("lxc.cgroup2", "cgclr2");
}

#[test]
pub fn cgroup_dir_is_where_the_container_s_cgroup_goes() {
    if !require_root("cgroup_dir_is_where_the_container_s_cgroup_goes") {
        return;
    }
    let lab = Lab::new();
    let top = format!("enclos-kt-dir-{}", std::process::id());
    let _guard = TopGroups(vec![top.clone()]);
    let n = with_keys(&lab, "cgdir", &format!("lxc.cgroup.dir = {top}/first"));
    lab.start(&n);
    let (there, missing) = dirs_of(&format!("{top}/first"));
    assert_eq!(missing, Vec::<PathBuf>::new(), "on every hierarchy");
    assert!(!there.is_empty());
    assert_eq!(
        cgroup_dirs(&n),
        Vec::<PathBuf>::new(),
        "not at the default place"
    );
    let init = lab.init_pid(&n);
    assert_eq!(memory_group(init), format!("/{top}/first"));
    // The commands find it there.
    assert_eq!(lab.state(&n), "RUNNING");
    assert_eq!(inside(&lab, &n, "echo in"), "in");
    lab.enclos("freeze", &["-n", &n]).success();
    assert_eq!(lab.state(&n), "FROZEN");
    lab.enclos("unfreeze", &["-n", &n]).success();
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    lab.assert_stopped_and_clean(&n, Some(init));
    let (there, _) = dirs_of(&format!("{top}/first"));
    assert_eq!(there, Vec::<PathBuf>::new(), "removed at stop");
}

#[test]
pub fn cgroup_dir_container_and_monitor_place_both() {
    if !require_root("cgroup_dir_container_and_monitor_place_both") {
        return;
    }
    let lab = Lab::new();
    let top = format!("enclos-kt-split-{}", std::process::id());
    let _guard = TopGroups(vec![top.clone()]);
    let n = with_keys(
        &lab,
        "cgsplit",
        &format!(
            "lxc.cgroup.dir.container = {top}/payload\n\
             lxc.cgroup.dir.container.inner = inner\n\
             lxc.cgroup.dir.monitor = {top}/monitor\n\
             lxc.cgroup.dir.monitor.pivot = {top}/pivot\n\
             lxc.init.cmd = /bin/sleep 4242"
        ),
    );
    lab.start(&n);
    let init = lab.init_pid(&n);
    // init is in the inner group; the limits would sit on the outer one.
    assert_eq!(memory_group(init), format!("/{top}/payload/inner"));
    let monitor: i32 = std::fs::read_to_string(lab.path().join(&n).join(".enclos/monitor.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(memory_group(monitor), format!("/{top}/monitor"));
    // Inside, the cgroup namespace starts at the inner group.
    assert_eq!(
        inside(&lab, &n, "cat /proc/1/cgroup | cut -d: -f3 | sort -u"),
        "/"
    );
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    lab.assert_stopped_and_clean(&n, Some(init));
    // The monitor left its group for the pivot and removed it.
    let (payload, _) = dirs_of(&format!("{top}/payload"));
    let (mon, _) = dirs_of(&format!("{top}/monitor"));
    assert_eq!((payload, mon), (Vec::new(), Vec::new()));
    let (pivot, missing) = dirs_of(&format!("{top}/pivot"));
    assert!(missing.is_empty() && !pivot.is_empty(), "{missing:?}");
    // Without the monitor's group, the container's alone is refused.
    let half = with_keys(
        &lab,
        "cghalf",
        &format!("lxc.cgroup.dir.container = {top}/half"),
    );
    let out = lab.enclos("start", &["-n", &half]);
    assert_one_error_line(
        &out,
        "lxc.cgroup.dir.container goes with lxc.cgroup.dir.monitor",
    );
}

#[test]
pub fn init_and_monitor_are_in_their_groups_on_every_hierarchy() {
    if !require_root("init_and_monitor_are_in_their_groups_on_every_hierarchy") {
        return;
    }
    // Init starts in its group (cloned into it on v2, moving by its own
    // thread on v1) and the monitor likewise: every line of their
    // /proc/PID/cgroup, v1 and v2, names their group.
    let lab = Lab::new();
    let n = with_keys(&lab, "cgevery", "lxc.init.cmd = /bin/sleep 4242");
    lab.start(&n);
    let init = lab.init_pid(&n);
    let monitor: i32 = std::fs::read_to_string(lab.path().join(&n).join(".enclos/monitor.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let groups = |pid: i32| -> Vec<String> {
        std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .unwrap()
            .lines()
            .map(|l| l.splitn(3, ':').nth(2).unwrap_or_default().to_string())
            .collect()
    };
    let (init_groups, monitor_groups) = (groups(init), groups(monitor));
    assert!(!init_groups.is_empty());
    for g in &init_groups {
        assert_eq!(g, &format!("/enclos.payload.{n}"), "{init_groups:?}");
    }
    for g in &monitor_groups {
        assert_eq!(g, &format!("/enclos.monitor.{n}"), "{monitor_groups:?}");
    }
    // Init was in its group before it made its cgroup namespace: that
    // group is its root on every hierarchy.
    let lines = inside(&lab, &n, "cut -d: -f3 /proc/1/cgroup | sort -u");
    assert_eq!(lines, "/");
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    lab.assert_stopped_and_clean(&n, Some(init));
    assert_eq!(cgroup_dirs(&n), Vec::<PathBuf>::new());
}

#[test]
pub fn cgroup_relative_puts_the_cgroup_under_the_starter_s() {
    if !require_root("cgroup_relative_puts_the_cgroup_under_the_starter_s") {
        return;
    }
    let lab = Lab::new();
    let top = format!("enclos-kt-rel-{}", std::process::id());
    let guard = TopGroups::make(&top);
    let n = with_keys(&lab, "cgrel", "lxc.cgroup.relative = 1");
    // execute (its monitor in the foreground) runs in TOP on every
    // hierarchy, as a service manager would place it; the monitor then
    // leaves TOP for a group of its own, so that TOP holds no process.
    let mut exec = lab.cmd("execute", &["-n", &n, "--", "sleep", "4242"]);
    exec.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    guard.place(&mut exec);
    let mut child = exec.spawn().expect("spawn execute");
    let payload = format!("{top}/enclos.payload.{n}");
    let mem = MemoryLimit::of_host();
    let init = poll(SETTLE, || {
        read_pids_of(&mem.mount.join(&payload)).into_iter().next()
    });
    let monitor_group = memory_group(child.id() as i32);
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    let (status, timed_out) = wait_deadline(&mut child, COMMAND_TIMEOUT);
    assert!(!timed_out && status.is_some());
    let init = init.unwrap_or_else(|| panic!("no process ever in {payload}"));
    assert!(!alive(init));
    assert_eq!(monitor_group, format!("/{top}/enclos.monitor.{n}"));
    assert_eq!(cgroup_dirs(&n), Vec::<PathBuf>::new(), "not under the root");
    let (left, _) = dirs_of(&payload);
    assert_eq!(left, Vec::<PathBuf>::new(), "removed at stop");
    let (left, _) = dirs_of(&format!("{top}/enclos.monitor.{n}"));
    assert_eq!(left, Vec::<PathBuf>::new(), "the monitor's group removed");
}

pub(crate) fn read_pids_of(dir: &std::path::Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}
