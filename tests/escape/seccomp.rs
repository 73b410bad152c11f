//! The seccomp deny-list the busybox template gives every container
//! (LXC's common.seccomp, next to the config, named by
//! `lxc.seccomp.profile`): loading a module, kexec, the "shocker"
//! open_by_handle_at and `umount -f` fail from inside, with LXC's errnos
//! (EPERM, EACCES for the forced umount). Busybox has no applet for
//! these calls, so a small static probe (tests/escape/seccomp_probe.rs)
//! is compiled with rustc and copied into the rootfs. None of its
//! attempts can harm the host when the filter is missing: the module
//! image is sixteen bytes of text, the module to remove does not exist,
//! kexec_load gets a flag the kernel refuses before loading anything,
//! and the handles opened are only read.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use enclos_tests::lab::*;

use super::{attempt, container, rootfs, Kind, ROOT};

/// Where the probe is in the rootfs.
const PROBE: &str = "/bin/enclos-probe";
/// EPERM, the errno of LXC's deny-list.
const EPERM: &str = "ERRNO 1";
/// EACCES, the errno of `reject_force_umount`.
const EACCES: &str = "ERRNO 13";

/// The probe, compiled once per test run: a static binary, as the
/// container sees none of the host's libraries. `$ENCLOS_ESCAPE_PROBE`,
/// when set, is the probe built elsewhere with these flags, for a host
/// without rustc (the lab VM: `cargo xtask lab vm escape-suite.sh`,
/// whose xtask/src/vm/escape.rs builds it with the same flags).
fn probe() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        if let Some(built) = std::env::var_os("ENCLOS_ESCAPE_PROBE").filter(|p| !p.is_empty()) {
            let built = PathBuf::from(built);
            assert!(
                built.is_file(),
                "ENCLOS_ESCAPE_PROBE={} is not a file: build it from \
                 tests/escape/seccomp_probe.rs, or unset it to have rustc build it",
                built.display()
            );
            return built;
        }
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let src = dir.join(format!("enclos-probe-{}.rs", std::process::id()));
        let out = dir.join(format!("enclos-probe-{}", std::process::id()));
        std::fs::write(&src, include_str!("seccomp_probe.rs")).expect("write the probe's source");
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let mut cmd = std::process::Command::new(rustc);
        // The flags the VM lab's xtask builds it with too: one list.
        cmd.args(include_str!("seccomp_probe.rustc-args").lines())
            .arg(&src)
            .arg("-o")
            .arg(&out);
        run(cmd).success();
        let _ = std::fs::remove_file(&src);
        out
    })
}

/// A running busybox container of `kind` (the template's own config)
/// with the probe in its rootfs.
fn with_probe(lab: &Lab, kind: Kind, tag: &str) -> String {
    let n = container(lab, kind, tag, "");
    let dest = rootfs(lab, &n).join(&PROBE[1..]);
    std::fs::copy(probe(), &dest).expect("copy the probe into the rootfs");
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))
        .expect("make the probe executable");
    if kind == Kind::Unprivileged {
        std::os::unix::fs::chown(&dest, Some(ROOT), Some(ROOT))
            .expect("give the probe to the container's root");
    }
    lab.start(&n);
    n
}

/// The answer the probe printed for `call` (`ok`, `ERRNO N`).
fn answer<'a>(out: &'a Out, call: &str) -> &'a str {
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix(call)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("the probe said nothing of {call}: {out:#?}"))
}

/// A host file's content, or `None` when this kernel has no such file.
fn host_file(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The template's config names its profile in the container's directory,
/// and init and an attached process run under it (`Seccomp: 2`, filter
/// mode).
pub fn seccomp_filter_loaded(kind: Kind) {
    let lab = Lab::new();
    let n = container(&lab, kind, "filter", "");
    let config = std::fs::read_to_string(lab.path().join(&n).join("config")).unwrap();
    let profile = lab.path().join(&n).join("common.seccomp");
    assert!(
        config.contains(&format!("lxc.seccomp.profile = {}\n", profile.display())),
        "{config}"
    );
    let text = std::fs::read_to_string(&profile).expect("the profile is there");
    for line in [
        "denylist",
        "reject_force_umount",
        "kexec_load errno 1",
        "open_by_handle_at errno 1",
        "init_module errno 1",
        "finit_module errno 1",
        "delete_module errno 1",
    ] {
        assert!(text.lines().any(|l| l.starts_with(line)), "{line}: {text}");
    }
    lab.start(&n);
    let out = attempt(
        &lab,
        &n,
        "grep Seccomp: /proc/1/status; grep Seccomp: /proc/self/status",
    );
    let modes: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Seccomp:"))
        .map(str::trim)
        .collect();
    assert_eq!(modes, ["2", "2"], "init, attached: {out:#?}");
}

/// init_module, finit_module (of a bogus image) and delete_module (of a
/// module that does not exist).
pub fn module_load(kind: Kind) {
    let lab = Lab::new();
    let before = host_modules();
    let n = with_probe(&lab, kind, "module");
    let out = attempt(&lab, &n, &format!("{PROBE} modules"));
    for call in ["init_module", "finit_module", "delete_module"] {
        assert_eq!(answer(&out, call), EPERM, "{call}: {out:#?}");
    }
    assert_eq!(host_modules(), before, "the host's modules");
}

/// The names of the host's loaded modules (/proc/modules without the use
/// counts, which other tests' mounts change meanwhile).
fn host_modules() -> Vec<String> {
    let mut names: Vec<String> = host_file("/proc/modules")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

/// kexec_load, with flags the kernel would refuse anyway.
pub fn kexec(kind: Kind) {
    let lab = Lab::new();
    let loaded = host_file("/sys/kernel/kexec_loaded");
    let n = with_probe(&lab, kind, "kexec");
    let out = attempt(&lab, &n, &format!("{PROBE} kexec"));
    assert_eq!(answer(&out, "kexec_load"), EPERM, "{out:#?}");
    assert_eq!(host_file("/sys/kernel/kexec_loaded"), loaded);
    if let Some(l) = loaded {
        assert_eq!(l.trim(), "0", "a kexec image is loaded on the host");
    }
}

/// The "shocker" attack: open_by_handle_at through a descriptor of the
/// container's root, with the root's own handle and with a forged one
/// for the root directory of the host's filesystem the rootfs is on.
/// Without the filter, a privileged container (CAP_DAC_READ_SEARCH)
/// opens the host's root with it.
pub fn open_by_handle_at(kind: Kind) {
    let lab = Lab::new();
    let n = with_probe(&lab, kind, "shocker");
    let out = attempt(&lab, &n, &format!("{PROBE} handles"));
    for call in ["open_by_handle_at_fs_root", "open_by_handle_at_own_root"] {
        assert_eq!(answer(&out, call), EPERM, "{call}: {out:#?}");
    }
}

/// `umount -f` (umount2 with MNT_FORCE) of a mount the container made
/// fails with EACCES, and the mount stays; a plain umount works.
pub fn umount_force(kind: Kind) {
    let lab = Lab::new();
    let n = with_probe(&lab, kind, "umountf");
    let out = attempt(
        &lab,
        &n,
        &format!(
            "mkdir -p /tmp/f && mount -t tmpfs none /tmp/f && echo MOUNTED; \
             {PROBE} umount-force /tmp/f; grep -q ' /tmp/f ' /proc/mounts && echo STILL; \
             umount /tmp/f && echo UNMOUNTED"
        ),
    );
    assert!(out.lines().contains(&"MOUNTED"), "{out:#?}");
    assert_eq!(answer(&out, "umount2_force"), EACCES, "{out:#?}");
    assert!(out.stdout.contains("STILL"), "{out:#?}");
    assert!(out.stdout.contains("UNMOUNTED"), "{out:#?}");
}
