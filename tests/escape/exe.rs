//! The enclos binary through /proc/PID/exe (the class of runc's
//! CVE-2019-5736): under `execute`, PID 1 of the container is our own
//! init, an enclos process; its /proc/1/exe must be the binary seen
//! through a read-only overlay mounted nowhere (as root), or a sealed
//! in-memory copy, never the host's file, and writing through it must
//! fail. The
//! binary run (and attacked) is a copy in the test's directory, so a
//! failed defence damages only that copy.
//!
//! On a host that runs AppArmor, the container's profile lets it ptrace
//! (and so read /proc/PID/exe of) only its own processes: PID 1 of
//! `execute`, enclos, is not under the profile, so the link does not
//! even read.

use enclos_tests::enclos_bin;
use enclos_tests::lab::*;

use super::{container, Kind};

pub fn exe_overwrite(kind: Kind) {
    let lab = Lab::new();
    let n = container(&lab, kind, "exe", "");
    let bin = lab.path().join("enclos-copy");
    std::fs::copy(enclos_bin(), &bin).expect("copy the enclos binary");
    let before = std::fs::read(&bin).expect("read the copy");
    let script = "echo label=$(cat /proc/self/attr/current 2>/dev/null); \
                  echo exe=$(readlink /proc/1/exe); \
                  (echo pwned >/proc/1/exe && echo WROTE-EXE); \
                  (exec 3</proc/1/exe && echo pwned >/proc/self/fd/3 && echo WROTE-FD); \
                  (echo pwned >>/proc/1/exe && echo WROTE-APPEND); echo END";
    let mut cmd = std::process::Command::new(&bin);
    cmd.args([
        "execute",
        "-P",
        lab.path_str(),
        "-n",
        &n,
        "--",
        "sh",
        "-c",
        script,
    ]);
    let out = run(cmd);
    assert!(
        out.stdout.contains("END"),
        "execute ran the attempt: {out:#?}"
    );
    assert!(
        !out.stdout.contains("WROTE"),
        "a write went through: {out:#?}"
    );
    let said = |key: &str| {
        out.lines()
            .iter()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("the attempt printed no {key}: {out:#?}"))
            .trim()
            .to_string()
    };
    let exe = said("exe=");
    let host = bin.to_str().unwrap();
    assert!(
        !exe.contains(host),
        "/proc/1/exe is the host's binary: {out:#?}"
    );
    if !exe.is_empty() {
        // A file of a mount attached nowhere reads as its path from the
        // mount's root: the overlay's root is the binary's directory.
        let overlay = format!("/{}", bin.file_name().unwrap().to_str().unwrap());
        assert!(
            exe == overlay || exe.starts_with("/memfd:"),
            "/proc/1/exe is {exe:?}, neither {overlay:?} nor a memfd: {out:#?}"
        );
    } else if kind == Kind::Privileged {
        // Privileged root reads the link, unless AppArmor forbids it (the
        // unprivileged root may not: init is not dumpable to it). Either
        // hides the host path too.
        let label = said("label=");
        assert!(
            !label.is_empty() && label != "unconfined",
            "/proc/1/exe did not read, yet the attempt ran unconfined ({label:?}): {out:#?}"
        );
    }
    assert!(
        std::fs::read(&bin).expect("read the copy") == before,
        "the binary changed"
    );
}
