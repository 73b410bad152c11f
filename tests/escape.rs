//! The escape suite: each case is one attempt at a known way out of a
//! container, run from inside a privileged and an unprivileged (root-run,
//! `lxc.idmap`) busybox container; it asserts that the attempt failed
//! AND what the host still has. No case harms the host when the defence
//! fails: secrets are test files, the binary attacked is a copy in the
//! test's own directory, the fork bomb and the memory hog are bounded, a
//! redirected mount target can only make an empty directory the guard
//! removes.
//!
//! [`CASES`] below is the one list of cases: add a case there (a module
//! under `tests/escape/` with a function taking the [`Kind`]) and it
//! runs for both kinds of container. The confinement cases (capabilities,
//! seccomp, no_new_privs) go in that list too.
//!
//! ```text
//! CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static" \
//!   cargo build --release -p enclos -p enclos-init-exec --target x86_64-unknown-linux-gnu
//! ENCLOS_BIN=$PWD/target/x86_64-unknown-linux-gnu/release/enclos cargo test --test escape
//! ```

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use enclos_config::{IdMap, IdMaps};
use enclos_tests::lab::*;
use enclos_tests::require_root;

#[path = "escape/devices.rs"]
mod devices;
#[path = "escape/exe.rs"]
mod exe;
#[path = "escape/fds.rs"]
mod fds;
#[path = "escape/limits.rs"]
mod limits;
#[path = "escape/monitor.rs"]
mod monitor;
#[path = "escape/mounts.rs"]
mod mounts;
#[path = "escape/procsys.rs"]
mod procsys;
#[path = "escape/seccomp.rs"]
mod seccomp;

/// Every case of the suite, each a `#[test]` per kind of container
/// (`privileged::NAME`, `unprivileged::NAME`).
macro_rules! cases {
    ($($name:ident => $attempt:path,)*) => {
        /// The cases by name, for a runner that wants them all.
        pub const CASES: &[(&str, fn(Kind))] = &[$((stringify!($name), $attempt),)*];
        mod privileged {
            use super::*;
            $(#[test] fn $name() { super::run_case(stringify!($name), super::Kind::Privileged, $attempt) })*
        }
        mod unprivileged {
            use super::*;
            $(#[test] fn $name() { super::run_case(stringify!($name), super::Kind::Unprivileged, $attempt) })*
        }
    };
}

cases! {
    host_fd_of_start => fds::host_fd_of_start,
    host_fd_of_attach => fds::host_fd_of_attach,
    host_fd_of_execute => fds::host_fd_of_execute,
    host_cwd_of_attach => fds::host_cwd_of_attach,
    host_dir_as_init_cwd => fds::host_dir_as_init_cwd,
    exe_overwrite => exe::exe_overwrite,
    init_is_proc_self_exe => exe::init_is_proc_self_exe,
    init_is_proc_self_exe_through_the_program => exe::init_is_proc_self_exe_through_the_program,
    untrusted_program_beside_the_binary => exe::untrusted_program_beside_the_binary,
    start_hook_writes_init_exe => exe::start_hook_writes_init_exe,
    start_host_hook_enters_init => exe::start_host_hook_enters_init,
    symlinked_mount_targets => mounts::symlinked_mount_targets,
    monitor_out_of_reach => monitor::monitor_out_of_reach,
    fork_bomb => limits::fork_bomb,
    memory_hog => limits::memory_hog,
    host_disk_node => devices::host_disk_node,
    allowed_devices_work => devices::allowed_devices_work,
    proc_sys_write => procsys::proc_sys_write,
    sysrq_trigger => procsys::sysrq_trigger,
    sys_write => procsys::sys_write,
    fresh_proc_and_sysfs => procsys::fresh_proc_and_sysfs,
    masked_proc_files => procsys::masked_proc_files,
    // Confinement (capabilities, seccomp, no_new_privs): add here.
    seccomp_filter_loaded => seccomp::seccomp_filter_loaded,
    module_load => seccomp::module_load,
    kexec => seccomp::kexec,
    open_by_handle_at => seccomp::open_by_handle_at,
    umount_force => seccomp::umount_force,
}

/// Which container a case attacks from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Container root is host root.
    Privileged,
    /// Container root is host uid [`ROOT`], through `lxc.idmap`.
    Unprivileged,
}

fn run_case(name: &str, kind: Kind, attempt: fn(Kind)) {
    if !require_root(&format!("escape::{name} ({kind:?})")) {
        return;
    }
    attempt(kind)
}

/// The unprivileged container's root on the host.
pub const ROOT: u32 = 165536;
const MAPS: &str = "lxc.idmap = u 0 165536 65536\nlxc.idmap = g 0 165536 65536\n";

/// A stopped busybox container of `kind` with `extra` keys at the end of
/// its configuration (made as tests/config_keys/idmap.rs makes an
/// unprivileged one: the rootfs shifted onto the map, the container's
/// directory given to its root).
pub fn container(lab: &Lab, kind: Kind, tag: &str, extra: &str) -> String {
    let n = lab.name(tag);
    lab.create_with(&n, "");
    let mut keys = String::new();
    if kind == Kind::Unprivileged {
        std::fs::set_permissions(lab.path(), std::fs::Permissions::from_mode(0o711))
            .expect("open the lxcpath to the mapped root");
        std::os::unix::fs::chown(lab.path().join(&n), Some(ROOT), None)
            .expect("give the container's directory to the mapped root");
        let maps = IdMaps::new(
            MAPS.lines()
                .map(|l| IdMap::parse(l.split_once('=').unwrap().1).unwrap())
                .collect(),
        );
        enclos_idmap::shift_tree(&rootfs(lab, &n), &maps, enclos_idmap::Direction::ToHost)
            .expect("shift the rootfs onto the map");
        keys.push_str(MAPS);
    }
    keys.push_str(extra);
    if !keys.is_empty() {
        use std::io::Write;
        let path = lab.path().join(&n).join("config");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        writeln!(f, "{keys}").expect("append to the config");
    }
    n
}

/// [`container`], started.
pub fn running(lab: &Lab, kind: Kind, tag: &str, extra: &str) -> String {
    let n = container(lab, kind, tag, extra);
    lab.start(&n);
    n
}

pub fn rootfs(lab: &Lab, name: &str) -> PathBuf {
    lab.path().join(name).join("rootfs")
}

/// A root-only host file with unique content: what must not leak.
pub fn host_secret(lab: &Lab) -> (PathBuf, String) {
    let text = format!("enclos-host-secret-{}", std::process::id());
    let path = lab.path().join("secret");
    std::fs::write(&path, &text).expect("write the secret");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .expect("make the secret root-only");
    (path, text)
}

/// `shell` run by sh with the secret open on fd 7 and `args` after it
/// (`$@`), as `(exec 7<secret; ...)` in a user's shell.
pub fn with_fd_7(secret: &Path, shell: &str, args: &[&str]) -> Out {
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!("exec 7<\"$0\"; {shell}"))
        .arg(secret)
        .args(args);
    run(cmd)
}

/// Runs `script` in the container by attach and returns what it printed
/// (stdout and stderr); it may fail (the attempts do).
pub fn attempt(lab: &Lab, name: &str, script: &str) -> Out {
    lab.attach(name, &["sh", "-c", script])
}
