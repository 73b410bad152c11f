//! Privileged: a busybox container set up by `setup_rootfs` in a child
//! spawned into new namespaces, checked from the inside through a pipe.

mod common;

use std::ffi::CString;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use enclos_namespaces::*;
use nix::fcntl::OFlag;
use nix::sys::wait::WaitStatus;
use nix::unistd::{dup2_stderr, dup2_stdout, execv, pipe2};

const READY: u8 = 1;
const T: Duration = Duration::from_secs(60);
const NS: [Namespace; 6] = [
    Namespace::Mount,
    Namespace::Pid,
    Namespace::Uts,
    Namespace::Ipc,
    Namespace::Net,
    Namespace::Cgroup,
];

struct Run {
    /// The child's report: Ok once the rootfs is set up, or its error.
    setup: Result<()>,
    /// What the script printed (stdout and stderr).
    output: String,
    status: WaitStatus,
}

/// Spawns a child in `ns` that runs `setup_rootfs(spec)` and then
/// `/bin/busybox sh -c script` inside the container.
fn run_container(spec: RootfsSpec, ns: &[Namespace], script: &str) -> Run {
    let argv: Vec<CString> = ["busybox", "sh", "-c", script]
        .iter()
        .map(|s| CString::new(*s).unwrap())
        .collect();
    let exe = CString::new("/bin/busybox").unwrap();
    let (parent, child) = sync_pair().unwrap();
    let (r, w) = pipe2(OFlag::O_CLOEXEC).unwrap();
    let p = &parent;
    let pid = spawn(ns, move || {
        if p.close_in_child().is_err() {
            return 120;
        }
        if let Err(e) = setup_rootfs(&spec) {
            let _ = child.fail(&enclos_report::chain(&e));
            return 1;
        }
        if dup2_stdout(&w).is_err() || dup2_stderr(&w).is_err() {
            let _ = child.fail("Cannot redirect the output");
            return 1;
        }
        if child.send(READY).is_err() {
            return 1;
        }
        let _ = execv(&exe, &argv);
        127
    })
    .unwrap();
    let mut guard = ChildGuard::new(pid);
    let setup = parent.expect(READY, T);
    let output = if setup.is_ok() {
        read_to_eof(&r, T)
    } else {
        String::new()
    };
    let status = guard.wait(T);
    Run {
        setup,
        output,
        status,
    }
}

fn mounts_section(output: &str) -> Vec<&str> {
    output
        .split_once("---mounts\n")
        .map(|(_, m)| m.lines().collect())
        .unwrap_or_default()
}

/// The /proc/self/mounts line for mount point `mp`, last one wins.
fn mount_line<'a>(mounts: &[&'a str], mp: &str) -> Option<&'a str> {
    mounts
        .iter()
        .rev()
        .find(|l| l.split(' ').nth(1) == Some(mp))
        .copied()
}

fn mount_opts<'a>(mounts: &[&'a str], mp: &str) -> Vec<&'a str> {
    mount_line(mounts, mp)
        .and_then(|l| l.split(' ').nth(3))
        .map(|o| o.split(',').collect())
        .unwrap_or_default()
}

fn host_cgroups() -> Vec<CgroupHierarchy> {
    let mut out = Vec::new();
    if Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() {
        out.push(CgroupHierarchy {
            dir_name: "memory".into(),
            fstype_options: "memory".into(),
            v2: false,
        });
    }
    if Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists() {
        out.push(CgroupHierarchy {
            dir_name: "unified".into(),
            fstype_options: String::new(),
            v2: true,
        });
    }
    out
}

const FACTS: &str = r#"
read pid rest < /proc/self/stat
echo "stat_pid=$pid"
echo "hostname=$(hostname)"
echo "dev=$(ls /dev | tr '\n' ' ')"
echo "ptmx=$(readlink /dev/ptmx)"
echo "fd_link=$(readlink /dev/fd)"
if test -c /dev/null; then echo null=char; else echo null=other; fi
if test -c /dev/tty1; then echo tty1=char; else echo tty1=other; fi
if test -c /dev/console; then echo console=char; else echo console=other; fi
if (echo 1 > /proc/sys/kernel/domainname) 2>/dev/null; then echo procsys=rw; else echo procsys=ro; fi
if touch /sys/enclos-probe 2>/dev/null; then echo sys=rw; else echo sys=ro; fi
if echo x > /tmp/probe && test "$(cat /tmp/probe)" = x; then echo tmp=rw; else echo tmp=broken; fi
echo "net=$(ls /sys/class/net | tr '\n' ' ')"
echo "procs=$(ls /proc | grep '^[0-9]' | tr '\n' ' ')"
echo "null_mode=$(stat -c %a /dev/null)"
echo "shm_mode=$(stat -c %a /dev/shm)"
echo "cgroup_dirs=$(ls /sys/fs/cgroup | tr '\n' ' ')"
test -d /mnt/missing && echo optional_target=created
echo hello-console > /dev/console
echo hello-tty > /dev/tty1
echo ---mounts
cat /proc/self/mounts
"#;

#[test]
fn busybox_container_sees_its_own_world() {
    let _serial = serial();
    if !require_root("busybox_container_sees_its_own_world")
        || !require_busybox("busybox_container_sees_its_own_world")
    {
        return;
    }
    let rootfs = BusyboxRootfs::new();
    let console = Pty::open().unwrap();
    let tty = Pty::open().unwrap();
    let cgroups = host_cgroups();
    let spec = RootfsSpec {
        hostname: Some("enclos-test".into()),
        proc: Some(ProcMode::Mixed),
        sys: Some(SysMode::Ro),
        cgroup: (!cgroups.is_empty()).then(|| CgroupMount {
            mode: CgroupMode::Ro,
            hierarchies: cgroups.clone(),
        }),
        autodev: true,
        devpts: Some(DevPts { max: 16 }),
        console: Some(console.slave_path.clone()),
        ttys: vec![tty.slave_path.clone()],
        mounts: vec![
            MountSpec::parse_fstab("tmpfs tmp tmpfs defaults,create=dir 0 0").unwrap(),
            MountSpec::parse_fstab(
                "/nonexistent/enclos-source mnt/missing none bind,create=dir,optional 0 0",
            )
            .unwrap(),
        ],
        ..RootfsSpec::new(rootfs.path())
    };
    let run = run_container(spec, &NS, FACTS);
    run.setup.unwrap();
    let out = &run.output;
    assert_eq!(
        run.status,
        WaitStatus::Exited(run.status.pid().unwrap(), 0),
        "{out}"
    );

    assert_world_facts(out);
    assert_world_mounts(out, &cgroups);

    // What the container wrote to its console and tty1 reached the masters.
    let console_out = read_available(&console);
    assert!(console_out.contains("hello-console"), "{console_out:?}");
    let tty_out = read_available(&tty);
    assert!(tty_out.contains("hello-tty"), "{tty_out:?}");

    // Nothing leaked to the host.
    assert!(host_mounts_under(rootfs.dir.path()).is_empty());
    assert_ne!(nix::unistd::gethostname().unwrap(), "enclos-test");
}

/// The facts [`FACTS`] printed: pid 1, the hostname, /dev, read-only
/// /proc/sys and /sys, no host process, the optional entry's target.
fn assert_world_facts(out: &str) {
    assert_eq!(fact(out, "stat_pid"), Some("1"), "{out}");
    assert_eq!(fact(out, "hostname"), Some("enclos-test"), "{out}");
    let dev: Vec<&str> = fact(out, "dev").unwrap().split_whitespace().collect();
    for name in [
        "null", "zero", "full", "random", "urandom", "tty", "fd", "stdin", "stdout", "stderr",
        "pts", "shm", "mqueue", "ptmx", "console", "tty1",
    ] {
        assert!(dev.contains(&name), "/dev lacks {name}: {dev:?}");
    }
    assert_eq!(fact(out, "ptmx"), Some("pts/ptmx"), "{out}");
    assert_eq!(fact(out, "fd_link"), Some("/proc/self/fd"), "{out}");
    assert_eq!(fact(out, "null"), Some("char"), "{out}");
    assert_eq!(fact(out, "tty1"), Some("char"), "{out}");
    assert_eq!(fact(out, "console"), Some("char"), "{out}");
    assert_eq!(fact(out, "null_mode"), Some("666"), "{out}");
    assert_eq!(fact(out, "shm_mode"), Some("1777"), "{out}");
    assert_eq!(fact(out, "procsys"), Some("ro"), "{out}");
    assert_eq!(fact(out, "sys"), Some("ro"), "{out}");
    assert_eq!(fact(out, "tmp"), Some("rw"), "{out}");
    assert_eq!(fact(out, "net"), Some("lo "), "{out}");
    // pid 1 and the script's own short-lived children, nothing from the host.
    let procs: Vec<u32> = fact(out, "procs")
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(procs.first(), Some(&1), "{out}");
    assert!(
        procs.len() < 10 && procs.iter().all(|&p| p < 100),
        "{procs:?}"
    );
    assert_eq!(fact(out, "optional_target"), Some("created"), "{out}");
}

/// The mounts [`FACTS`] listed, with `cgroups` read-only under
/// /sys/fs/cgroup.
fn assert_world_mounts(out: &str, cgroups: &[CgroupHierarchy]) {
    let mounts = mounts_section(out);
    assert!(mount_line(&mounts, "/").is_some(), "{out}");
    assert!(mount_opts(&mounts, "/proc").contains(&"rw"), "{out}");
    assert!(mount_opts(&mounts, "/proc/sys").contains(&"ro"), "{out}");
    assert!(mount_opts(&mounts, "/sys").contains(&"ro"), "{out}");
    let dev_line = mount_line(&mounts, "/dev").unwrap();
    assert!(
        dev_line.starts_with("none /dev tmpfs rw,nosuid,noexec"),
        "{dev_line}"
    );
    let pts = mount_opts(&mounts, "/dev/pts");
    for o in ["gid=5", "mode=620", "ptmxmode=666", "max=16"] {
        assert!(pts.contains(&o), "devpts lacks {o}: {pts:?}");
    }
    assert!(mount_line(&mounts, "/dev/console").is_some(), "{out}");
    assert!(mount_line(&mounts, "/dev/tty1").is_some(), "{out}");
    assert!(
        mount_line(&mounts, "/tmp")
            .unwrap()
            .starts_with("tmpfs /tmp tmpfs rw"),
        "{out}"
    );
    assert!(mount_line(&mounts, "/mnt/missing").is_none(), "{out}");
    if !cgroups.is_empty() {
        assert!(
            mount_opts(&mounts, "/sys/fs/cgroup").contains(&"ro"),
            "{out}"
        );
        let dirs = fact(out, "cgroup_dirs").unwrap();
        for h in cgroups {
            let mp = format!("/sys/fs/cgroup/{}", h.dir_name);
            let line = mount_line(&mounts, &mp).unwrap_or_else(|| panic!("no {mp} mount: {out}"));
            let fstype = if h.v2 { "cgroup2" } else { "cgroup" };
            assert_eq!(line.split(' ').nth(2), Some(fstype), "{line}");
            assert!(mount_opts(&mounts, &mp).contains(&"ro"), "{line}");
            assert!(dirs.contains(h.dir_name.as_str()), "{dirs}");
        }
    }
}

/// What the master holds now (the slave side is closed by then).
fn read_available(pty: &Pty) -> String {
    pty.set_nonblocking(true).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    for _ in 0..200 {
        match nix::unistd::read(pty.master.as_fd(), &mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(nix::errno::Errno::EAGAIN) if out.is_empty() => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What [`readonly_rootfs_tty_dir_and_bind_entries`] has its container
/// print.
const READONLY_FACTS: &str = r#"
if touch /probe 2>&-; then echo root=rw; else echo root=ro; fi
echo "shared=$(cat /mnt/shared/file)"
if touch /mnt/shared/new 2>&-; then echo shared_rw=yes; else echo shared_rw=no; fi
if touch /run/x 2>&-; then echo run=rw; else echo run=ro; fi
echo "run_mode=$(stat -c %a /run)"
echo "console_link=$(readlink /dev/console)"
if test -c /dev/lxc/console; then echo lxc_console=char; fi
if (echo enclos > /proc/sys/kernel/domainname) 2>&-; then echo procsys=rw; else echo procsys=ro; fi
echo "ptmx=$(readlink /dev/ptmx)"
echo ---mounts
cat /proc/self/mounts
"#;

#[test]
fn readonly_rootfs_tty_dir_and_bind_entries() {
    let _serial = serial();
    if !require_root("readonly_rootfs_tty_dir_and_bind_entries")
        || !require_busybox("readonly_rootfs_tty_dir_and_bind_entries")
    {
        return;
    }
    let rootfs = BusyboxRootfs::new();
    let shared = tempfile::tempdir().unwrap();
    std::fs::write(shared.path().join("file"), "from-the-host\n").unwrap();
    let console = Pty::open().unwrap();
    let entry = format!(
        "{} mnt/shared none bind,ro,nosuid,create=dir 0 0",
        shared.path().display()
    );
    let spec = RootfsSpec {
        rootfs_readonly: true,
        proc: Some(ProcMode::Rw),
        sys: Some(SysMode::Mixed),
        devpts: Some(DevPts { max: 0 }),
        console: Some(console.slave_path.clone()),
        tty_dir: Some("lxc".into()),
        mounts: vec![
            MountSpec::parse_fstab(&entry).unwrap(),
            MountSpec::parse_fstab("tmpfs /run tmpfs rw,size=1m,mode=0700,rprivate,create=dir")
                .unwrap(),
        ],
        ..RootfsSpec::new(rootfs.path())
    };
    let run = run_container(spec, &NS, READONLY_FACTS);
    run.setup.unwrap();
    let out = &run.output;
    assert_eq!(fact(out, "root"), Some("ro"), "{out}");
    assert_eq!(fact(out, "shared"), Some("from-the-host"), "{out}");
    assert_eq!(fact(out, "shared_rw"), Some("no"), "{out}");
    assert_eq!(fact(out, "run"), Some("rw"), "{out}");
    assert_eq!(fact(out, "run_mode"), Some("700"), "{out}");
    assert_eq!(fact(out, "console_link"), Some("lxc/console"), "{out}");
    assert_eq!(fact(out, "lxc_console"), Some("char"), "{out}");
    assert_eq!(fact(out, "procsys"), Some("rw"), "{out}");
    assert_eq!(fact(out, "ptmx"), Some("pts/ptmx"), "{out}");
    let mounts = mounts_section(out);
    assert!(mount_opts(&mounts, "/").contains(&"ro"), "{out}");
    let shared_opts = mount_opts(&mounts, "/mnt/shared");
    assert!(
        shared_opts.contains(&"ro") && shared_opts.contains(&"nosuid"),
        "{shared_opts:?}"
    );
    assert!(mount_opts(&mounts, "/sys").contains(&"ro"), "{out}");
    assert!(
        mount_opts(&mounts, "/sys/devices/virtual/net").contains(&"rw"),
        "{out}"
    );
    assert!(mount_line(&mounts, "/dev/lxc/console").is_some(), "{out}");
    assert!(
        !mount_opts(&mounts, "/dev/pts")
            .iter()
            .any(|o| o.starts_with("max=")),
        "{out}"
    );
    // The host's file is untouched and the domain name is the container's.
    assert!(!shared.path().join("new").exists());
    assert_ne!(
        std::fs::read_to_string("/proc/sys/kernel/domainname")
            .unwrap()
            .trim(),
        "enclos"
    );
    assert!(host_mounts_under(rootfs.dir.path()).is_empty());
}

#[test]
fn symlink_in_the_rootfs_cannot_send_a_mount_to_the_host() {
    let _serial = serial();
    let test = "symlink_in_the_rootfs_cannot_send_a_mount_to_the_host";
    if !require_root(test) || !require_busybox(test) {
        return;
    }
    let name = "enclos-escape-x";
    let host_target = Path::new("/etc").join(name);
    assert!(
        !host_target.exists(),
        "{} exists before the test",
        host_target.display()
    );
    let rootfs = BusyboxRootfs::new();
    std::os::unix::fs::symlink("/etc", rootfs.path().join("evil")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../etc", rootfs.path().join("evil2")).unwrap();
    let spec = RootfsSpec {
        mounts: vec![
            MountSpec::parse_fstab(&format!("tmpfs evil/{name} tmpfs defaults,create=dir 0 0"))
                .unwrap(),
            MountSpec::parse_fstab(&format!(
                "tmpfs evil2/{name}-2 tmpfs defaults,create=dir 0 0"
            ))
            .unwrap(),
            MountSpec::parse_fstab(&format!(
                "/dev/null evil/{name}-file none bind,create=file 0 0"
            ))
            .unwrap(),
        ],
        proc: Some(ProcMode::Rw),
        ..RootfsSpec::new(rootfs.path())
    };
    let script = format!("mount | grep -c {name}; test -d /etc/{name} && echo inside=yes");
    let run = run_container(spec, &[Namespace::Mount], &script);
    // Either refused, or done inside the rootfs: never on the host.
    for suffix in ["", "-2", "-file"] {
        let host = PathBuf::from(format!("/etc/{name}{suffix}"));
        assert!(!host.exists(), "{} was created on the host", host.display());
    }
    match run.setup {
        Ok(()) => {
            assert_eq!(fact(&run.output, "inside"), Some("yes"), "{}", run.output);
            assert!(run.output.starts_with("3\n"), "{}", run.output);
            assert!(rootfs.path().join("etc").join(name).is_dir());
            assert!(rootfs.path().join("etc").join(format!("{name}-2")).is_dir());
            assert!(rootfs
                .path()
                .join("etc")
                .join(format!("{name}-file"))
                .is_file());
        }
        Err(e) => panic!("setup refused the entries instead of resolving them inside: {e}"),
    }
    assert!(host_mounts_under(rootfs.dir.path()).is_empty());
}

#[test]
fn failing_mount_entry_is_reported_to_the_parent() {
    let _serial = serial();
    let test = "failing_mount_entry_is_reported_to_the_parent";
    if !require_root(test) || !require_busybox(test) {
        return;
    }
    let rootfs = BusyboxRootfs::new();
    let spec = RootfsSpec {
        mounts: vec![MountSpec::parse_fstab(
            "/nonexistent/enclos-src mnt/x none bind,create=dir 0 0",
        )
        .unwrap()],
        ..RootfsSpec::new(rootfs.path())
    };
    let run = run_container(spec, &[Namespace::Mount], "true");
    let err = run.setup.unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(
            "The child failed: Cannot mount /nonexistent/enclos-src on /mnt/x (type none, options bind): ENOENT"
        ),
        "{text}"
    );
    assert!(
        matches!(run.status, WaitStatus::Exited(_, 1)),
        "{:?}",
        run.status
    );
    assert!(host_mounts_under(rootfs.dir.path()).is_empty());
}

#[test]
fn missing_rootfs_is_an_error_naming_it() {
    let _serial = serial();
    let test = "missing_rootfs_is_an_error_naming_it";
    if !require_root(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-rootfs");
    let run = run_container(RootfsSpec::new(&missing), &[Namespace::Mount], "true");
    let text = run.setup.unwrap_err().to_string();
    assert!(text.contains(&missing.display().to_string()), "{text}");
    assert!(text.contains("ENOENT"), "{text}");
}
