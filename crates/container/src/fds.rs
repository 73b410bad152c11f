//! What a container's processes inherit from the host: standard input,
//! output and error, nothing else. Every descriptor enclos opens is
//! close-on-exec, but a caller's own descriptors (`(exec 7</secret;
//! enclos start ...)`) are not ours to trust: right before init or an
//! attached command execs, every descriptor above 2 is marked
//! close-on-exec ([`close_on_exec_from_3`]); execute's small init, which
//! never execs, closes them ([`close_from_3`]). The working directory is
//! resolved inside the container's root without magic links
//! ([`chdir_in_root`]), so a `/proc/self/fd/N` cwd cannot point at a host
//! directory (the class of runc's CVE-2024-21626).

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};

/// close_range(2)'s flag: mark close-on-exec instead of closing.
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

/// close_range(first, ~0, flags).
fn close_range(first: libc::c_uint, flags: libc::c_uint) -> Result<(), Errno> {
    close_range_raw(first, libc::c_uint::MAX, flags)
}

/// close_range(first, last, 0).
fn close_range_to(first: libc::c_uint, last: libc::c_uint) -> Result<(), Errno> {
    close_range_raw(first, last, 0)
}

fn close_range_raw(
    first: libc::c_uint,
    last: libc::c_uint,
    flags: libc::c_uint,
) -> Result<(), Errno> {
    // SAFETY: close_range takes plain integers and touches no memory of
    // ours; the descriptors it closes or marks are not used afterwards by
    // the callers (they exec, or own none above 2).
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Every descriptor above 2 is closed at the next exec: what we still
/// need until then (the error pipe that reports a failed exec) keeps
/// working.
pub(crate) fn close_on_exec_from_3() -> Result<(), String> {
    match close_range(3, CLOSE_RANGE_CLOEXEC) {
        Ok(()) => Ok(()),
        // Kernels before 5.11 lack the flag: mark them one by one.
        Err(Errno::EINVAL | Errno::ENOSYS) => mark_each_close_on_exec(),
        Err(e) => Err(format!(
            "Cannot mark inherited file descriptors close-on-exec: {e}"
        )),
    }
}

/// Closes every descriptor above 2 (a process that will not exec).
pub(crate) fn close_from_3() -> Result<(), String> {
    close_range(3, 0).map_err(|e| format!("Cannot close inherited file descriptors: {e}"))
}

/// Closes every descriptor above 2 but those of `keep`, in a process that
/// will exec or exit without dropping what owned the others (a forked
/// child that never returns).
pub(crate) fn close_from_3_except(keep: &[RawFd]) -> Result<(), String> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|fd| *fd > 2).collect();
    keep.sort_unstable();
    let mut first: RawFd = 3;
    for fd in keep {
        if fd > first {
            close_range_to(first as libc::c_uint, (fd - 1) as libc::c_uint)
                .map_err(|e| format!("Cannot close inherited file descriptors: {e}"))?;
        }
        first = fd + 1;
    }
    close_range(first as libc::c_uint, 0)
        .map_err(|e| format!("Cannot close inherited file descriptors: {e}"))
}

/// Points every descriptor above 2 but those of `keep` at /dev/null: the
/// host files and sockets they held are gone from this process, while
/// their numbers stay valid for whatever still owns them (a log writer,
/// a lock) in a process that goes on running our code.
pub(crate) fn detach_from_3_except(keep: &[RawFd]) -> Result<(), String> {
    let err = |e: std::io::Error| format!("Cannot detach inherited file descriptors: {e}");
    let open: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map_err(err)?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(err)?;
    let null_fd = null.as_raw_fd();
    for fd in open {
        if fd <= 2 || fd == null_fd || keep.contains(&fd) {
            continue;
        }
        // SAFETY: dup3 replaces what `fd` refers to by /dev/null; the
        // number stays open, so no owner of it sees it closed or reused.
        // The listing's own descriptor is closed already: EBADF.
        let rc = unsafe { libc::dup3(null_fd, fd, libc::O_CLOEXEC) };
        if rc < 0 {
            match Errno::last() {
                Errno::EBADF => {}
                e => return Err(format!("Cannot detach file descriptor {fd}: {e}")),
            }
        }
    }
    Ok(())
}

/// The fallback of [`close_on_exec_from_3`]: FD_CLOEXEC on every
/// descriptor below the open-files limit.
fn mark_each_close_on_exec() -> Result<(), String> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    let (soft, _) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_err(|e| format!("Cannot read the open-files limit: {e}"))?;
    for fd in 3..soft.min(1 << 20) as i32 {
        // SAFETY: only flags change; an fd that is not open gives EBADF.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        match fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)) {
            Ok(_) | Err(Errno::EBADF) => {}
            Err(e) => return Err(format!("Cannot mark fd {fd:?} close-on-exec: {e}")),
        }
    }
    Ok(())
}

/// Changes to `dir`, resolved inside our root (the container's, after
/// pivot_root or setns) with no magic link followed: `/proc/self/fd/N`
/// or `/proc/PID/cwd` cannot lead outside it.
pub(crate) fn chdir_in_root(dir: &str) -> Result<(), Errno> {
    let root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    let rel = Path::new(dir.trim_start_matches('/'));
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = openat2(root.as_fd(), rel, how)?;
    nix::unistd::fchdir(fd.as_fd())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_magic_link_cwd_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = std::fs::File::open(dir.path()).unwrap();
        let link = format!("/proc/self/fd/{}", f.as_raw_fd());
        assert_eq!(chdir_in_root(&link), Err(Errno::ELOOP));
    }
}
