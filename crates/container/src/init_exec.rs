//! How a start keeps the container from the enclos binary without
//! re-executing itself sealed first (see [`crate::sealed_exe`]).
//!
//! What a container could reach of a start is `/proc/PID/exe` of an
//! enclos process in its pid namespace: PID 1, our init, from its clone
//! until it execs the container's init; and what that exec resolves
//! `/proc/self/exe` to (an init that is `/proc/self/exe`, or a script
//! whose interpreter is, runs the binary of the process that execs it,
//! runc's CVE-2019-5736). The monitor and the starting command are in the
//! host's pid namespace, out of the container's sight.
//!
//! Before init execs, nothing of the container runs in its pid namespace,
//! unless hooks run there (`lxc.hook.pre-mount`, `mount`, `autodev`,
//! `start`) or the namespace is not the container's own (kept, shared).
//! Without those, a start as root runs from the host's binary, and init
//! execs the container's init through a trampoline seen through a
//! detached read-only overlay (see [`crate::sealed_exe`]), which execs the
//! container's init at once: the small program [`enclos_init_exec`]
//! where it is installed (beside the enclos binary, or in
//! `../libexec/enclos/` from it), a regular file of root's that only root
//! may write; else the enclos binary itself, run as [`TRAMPOLINE`]. So
//! `/proc/self/exe` of the exec is a sealed file, never the host's, and
//! the start saves the re-execution of the starting command (about 1.4 ms
//! of a 10 ms start, measured); the small program saves the exec and
//! start-up of the whole CLI on top (0.84 against 1.34 ms from init's exec
//! to the container's init's, traced; about 0.2-0.3 ms of a start in
//! alternating pairs). The program is taken when it is a regular
//! executable file of root's that only root may write and a static
//! x86_64 program (see `sealed_exe::trusted_program`); a file refused is
//! named in a warning, and the enclos binary plays its part.
//!
//! The trampoline runs where the container's init runs, under its
//! AppArmor profile and seccomp filter: a host with AppArmor, and a
//! seccomp profile that allows only what it lists or rules on a call the
//! trampoline makes, keep the sealed re-execution instead; so does a
//! `start-host` hook, which runs while init waits and is given its pid (it
//! may enter its namespaces), and an enclos binary that is not static
//! (the trampoline runs after pivot_root, where its loader is not; the
//! program is checked for the same, and refused when dynamic).
//!
//! The monitor, running from the host's binary for the container's life,
//! is not dumpable: a process of another container that shares the
//! host's pid namespace cannot open its `/proc/PID/exe` without
//! CAP_SYS_PTRACE in the host's user namespace.
//!
//! Every other case (hooks, a pid namespace not its own, no overlay, a
//! user's start) re-executes sealed as before; so do `attach`, `execute`
//! and the starts of `autostart` and `copy -e`.

use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use enclos_config::Config;
use enclos_namespaces::{Namespace, SyncChild};
use nix::fcntl::{fcntl, FcntlArg, FdFlag};

use crate::container::Container;
use crate::error::Result;

/// `argv[0]` of the trampoline: `TRAMPOLINE SYNC-FD CMD [ARG...]`.
pub use enclos_init_exec::TRAMPOLINE;

/// The calls the trampoline makes, from its start to the exec of the
/// container's init (strace of it: the C library's and Rust's start-up,
/// then the exec and, when it fails, the report). A seccomp profile that
/// rules on one of them keeps the sealed re-execution.
const TRAMPOLINE_CALLS: &[&str] = &[
    "arch_prctl",
    "brk",
    "close",
    "execve",
    "execveat",
    "exit_group",
    "fcntl",
    "getrandom",
    "gettid",
    "mmap",
    "mprotect",
    "munmap",
    "newfstatat",
    "openat",
    "poll",
    "prlimit64",
    "read",
    "readlink",
    "rseq",
    "rt_sigaction",
    "rt_sigprocmask",
    "sched_getaffinity",
    "sendto",
    "set_robust_list",
    "set_tid_address",
    "sigaltstack",
    "write",
];

/// For `start`: the handle init execs the trampoline from, when this
/// start may run from the host's binary; None when it already runs sealed.
/// Otherwise (`reexec`: this process is a start command of its own) it
/// re-executes itself sealed and does not return, or fails saying why.
pub(crate) fn for_start(c: &Container, config: &Config, reexec: bool) -> Result<Option<OwnedFd>> {
    if crate::sealed_exe::is_sealed(std::path::Path::new(crate::sealed_exe::SELF_EXE)) {
        return Ok(None);
    }
    let why = match unsealed_start_refused(c, config) {
        None => match crate::sealed_exe::trampoline_handle() {
            Ok(handle) => return Ok(Some(handle)),
            Err(why) => why,
        },
        Some(why) => why.to_string(),
    };
    tracing::debug!(container = c.name(), "start re-executes sealed: {why}");
    if !reexec {
        // Autostart and copy -e seal first thing: not reached.
        return Err(crate::Error::StartFailed {
            name: c.name().to_string(),
            reason: format!("enclos does not run from a sealed binary ({why})"),
        });
    }
    crate::sealed_exe::run_from_sealed_copy().map_err(|e| crate::Error::StartFailed {
        name: c.name().to_string(),
        reason: crate::error::chain(&e),
    })?;
    Ok(None)
}

/// Why this start must run sealed, if it must.
fn unsealed_start_refused(c: &Container, config: &Config) -> Option<&'static str> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root");
    }
    // Linked dynamically, the trampoline would need its loader and C
    // library from the container's rootfs (it runs after pivot_root); and
    // the list of its calls is x86_64's.
    if !cfg!(target_feature = "crt-static") || !cfg!(target_arch = "x86_64") {
        return Some("enclos is not a static x86_64 binary");
    }
    if crate::hooks::run_in_init(config) {
        return Some("hooks run in the container's namespaces before its init");
    }
    // start-host runs while init (our binary) waits, with its pid: a hook
    // may enter its namespaces and run the container's programs there.
    if !config.hooks("start-host").is_empty() {
        return Some("a start-host hook runs while init waits");
    }
    match crate::ns_plan::NsPlan::new(c, config) {
        Ok(ns) if ns.clone.contains(&Namespace::Pid) => {}
        Ok(_) => return Some("the pid namespace is not the container's own"),
        Err(_) => return Some("the namespaces do not check out"),
    }
    if crate::apparmor::host_enabled() {
        return Some("the host runs AppArmor");
    }
    if let Some(entry) = config.seccomp_profile_entry() {
        let profile = enclos_seccomp::Profile::load(std::path::Path::new(&entry.value));
        if !profile.is_ok_and(|p| spares_trampoline(&p)) {
            return Some("the seccomp profile may rule on the trampoline's calls");
        }
    }
    None
}

/// Whether `p` lets the trampoline run: a deny-list with no rule on one of
/// its calls.
fn spares_trampoline(p: &enclos_seccomp::Profile) -> bool {
    use enclos_seccomp::{Policy, Syscall};
    let numbers: Vec<u32> = TRAMPOLINE_CALLS
        .iter()
        .filter_map(|n| enclos_seccomp::syscalls::number(n))
        .collect();
    p.policy == Policy::Denylist
        && p.rules.iter().all(|r| match &r.syscall {
            Syscall::Name(n) => !TRAMPOLINE_CALLS.contains(&n.as_str()),
            Syscall::Number(n) => !numbers.contains(n),
        })
}

/// In init, in place of the exec of the container's init: the trampoline
/// from `handle`, with `sync` kept open across that one exec so that it
/// reports a failed exec as init would. Returns only on failure.
pub(crate) fn exec_through(
    handle: RawFd,
    sync: &SyncChild,
    cmd: &[String],
    env: &[CString],
) -> nix::Error {
    let fd = sync.as_fd();
    if let Err(e) = fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty())) {
        return e;
    }
    let mut args = vec![TRAMPOLINE.to_string(), fd.as_raw_fd().to_string()];
    args.extend(cmd.iter().cloned());
    let Ok(args) = args
        .into_iter()
        .map(CString::new)
        .collect::<std::result::Result<Vec<_>, _>>()
    else {
        return nix::Error::EINVAL;
    };
    // SAFETY: init holds the handle open until this exec (close-on-exec).
    let handle = unsafe { std::os::fd::BorrowedFd::borrow_raw(handle) };
    crate::sealed_exe::execveat_empty(handle, &args, env)
}

/// The trampoline's whole life in the enclos binary (`main` calls it
/// first thing when `argv[0]` is [`TRAMPOLINE`], which init asks for when
/// the small program is not installed): see [`enclos_init_exec::run`].
pub fn run_trampoline(args: Vec<OsString>) -> ! {
    enclos_init_exec::run(args, &enclos_init_exec::environ())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn profile(text: &str) -> enclos_seccomp::Profile {
        enclos_seccomp::Profile::parse(text, Path::new("t.seccomp")).unwrap()
    }

    #[test]
    fn only_a_deny_list_that_leaves_its_calls_alone_lets_the_trampoline_run() {
        // LXC's common profile, which the busybox template's config uses.
        assert!(spares_trampoline(&profile(enclos_seccomp::COMMON_PROFILE)));
        assert!(!spares_trampoline(&profile(
            "2\ndenylist\n[all]\nkexec_load errno 1\nexecveat errno 1\n"
        )));
        assert!(!spares_trampoline(&profile(
            "2\ndenylist\n[x86_64]\nreadlink kill\n"
        )));
        assert!(!spares_trampoline(&profile(
            "2\nallowlist\n[all]\nexecve\nread\nwrite\n"
        )));
        // Version 1: an allow-list of numbers.
        assert!(!spares_trampoline(&profile("1\nallowlist\n59\n")));
    }
}
