#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::io::Write;

mod cgroup_tree;

pub use cgroup_tree::{read, CgroupTree};

/// The variable that turns every skip into a failure when set to `1`.
pub const REQUIRE_PRIVILEGED: &str = "ENCLOS_REQUIRE_PRIVILEGED";

/// Whether a missing privilege or kernel feature must fail the test
/// (`ENCLOS_REQUIRE_PRIVILEGED=1`) rather than skip it.
pub fn privileged_required() -> bool {
    std::env::var(REQUIRE_PRIVILEGED).is_ok_and(|v| v.trim() == "1")
}

/// The variable that sets how many cases each property test of the
/// workspace runs, for a long soak: `ENCLOS_PROPTEST_CASES=1000000 cargo
/// test -p enclos-config prop`.
pub const PROPTEST_CASES: &str = "ENCLOS_PROPTEST_CASES";

/// How many cases a property test runs: `default` (sized so that the
/// crate's tests stay within seconds), or [`PROPTEST_CASES`] when set.
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var(PROPTEST_CASES)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Returns true when the test may go on as root. Otherwise prints
/// `SKIP <test>: <reason>` and returns false, or panics when
/// `ENCLOS_REQUIRE_PRIVILEGED=1`.
pub fn require_root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    missing_feature(
        test,
        "needs root (run the tests as root, e.g. through .ci/run)",
    );
    false
}

/// Skips `test` because this host lacks something (`reason`: "no cgroup v2
/// mount"): prints `SKIP <test>: <reason>` on the real stderr (so it shows
/// although the harness captures test output), or panics when
/// `ENCLOS_REQUIRE_PRIVILEGED=1`. The caller returns right after.
pub fn missing_feature(test: &str, reason: &str) {
    if privileged_required() {
        panic!("{test}: {reason}; {REQUIRE_PRIVILEGED}=1 makes this a failure instead of a skip");
    }
    // Written to the stderr handle directly: libtest captures the print
    // macros only, and a skip should be seen.
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {reason}");
}

/// Runs `f` on a thread of its own, in a mount namespace of its own whose
/// mounts are slaves of the caller's: what `f` mounts never reaches the
/// host, and goes when the thread ends. Needs root; a panic in `f` is
/// the caller's.
pub fn in_own_mount_namespace<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let joined = std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
            .expect("unshare the mount namespace");
        let none: Option<&str> = None;
        nix::mount::mount(
            none,
            "/",
            none,
            nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_SLAVE,
            none,
        )
        .expect("make the mounts slaves");
        f()
    })
    .join();
    match joined {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_goes_on() {
        // As root the test goes on; as anyone else it is a skip, or a
        // failure under ENCLOS_REQUIRE_PRIVILEGED=1.
        if nix::unistd::geteuid().is_root() {
            assert!(require_root("root_goes_on"));
        } else if !privileged_required() {
            assert!(!require_root("root_goes_on"));
        }
    }

    #[test]
    fn a_missing_feature_fails_under_ci() {
        let outcome = std::panic::catch_unwind(|| missing_feature("t", "no such thing"));
        assert_eq!(outcome.is_err(), privileged_required());
        if let Err(p) = outcome {
            let msg = p.downcast_ref::<String>().cloned().unwrap_or_default();
            assert_eq!(
                msg,
                "t: no such thing; ENCLOS_REQUIRE_PRIVILEGED=1 makes this a failure instead of a skip"
            );
        }
    }
}
