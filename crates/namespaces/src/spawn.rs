//! Starting a child process in new namespaces.
//!
//! [`spawn`] is a fork that takes namespace flags: it calls clone3(2) (or
//! clone(2) on kernels before 5.3) with no new stack, so the child runs on a
//! copy-on-write copy of the caller's memory exactly as after fork(2); no
//! stack is allocated and nothing is copied up front. The child runs the
//! closure and `_exit`s with its return value.
//!
//! See [`spawn`] for what it does in a multi-threaded process.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nix::errno::Errno;
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::namespace::Namespace;
use crate::pidfd::PidFd;

/// The exit code of a child whose closure panicked.
pub const PANIC_EXIT_CODE: i32 = 101;

/// `struct clone_args` up to `cgroup` (CLONE_ARGS_SIZE_VER2, Linux 5.7),
/// from `<linux/sched.h>`; the same layout on every architecture. Passed
/// with the size of its first eight fields (CLONE_ARGS_SIZE_VER0) unless a
/// cgroup is given, so that older kernels take it.
#[repr(C)]
#[derive(Debug, Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// CLONE_ARGS_SIZE_VER0 of `<linux/sched.h>`.
const CLONE_ARGS_SIZE_VER0: usize = 64;

/// CLONE_INTO_CGROUP of `<linux/sched.h>` (Linux 5.7).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Set in a child that [`spawn_pidfd_into`] started in the group it was
/// given; see [`started_in_cgroup`].
static STARTED_IN_CGROUP: AtomicBool = AtomicBool::new(false);

/// In a child of [`spawn_pidfd_into`]: whether it started in the cgroup
/// v2 group it was given (the parent learns it from the return value).
pub fn started_in_cgroup() -> bool {
    STARTED_IN_CGROUP.load(Ordering::Relaxed)
}

/// Set once clone3 answered ENOSYS (old kernel, or a seccomp filter that
/// hides it), so later calls go straight to clone.
static NO_CLONE3: AtomicBool = AtomicBool::new(false);

/// The inode of the mount namespace [`spawn`] was last called from, as the
/// child's copy of memory holds it: `setup_rootfs` refuses to run in that
/// namespace (a child spawned without a new mount namespace).
pub(crate) static SPAWNER_MOUNT_NS: AtomicU64 = AtomicU64::new(0);

/// The inode of the caller's mount namespace, if /proc tells.
pub(crate) fn mount_ns_inode() -> Option<u64> {
    nix::sys::stat::stat("/proc/self/ns/mnt")
        .ok()
        .map(|st| st.st_ino)
}

enum Forked {
    Parent(Pid),
    Child,
}

/// clone3(2) with `args`.
fn sys_clone3(args: &mut CloneArgs) -> std::result::Result<Forked, Errno> {
    // The size the kernel reads: the fields up to `cgroup` only when one is
    // given (older kernels refuse a larger struct with E2BIG).
    let size = match args.flags & CLONE_INTO_CGROUP {
        0 => CLONE_ARGS_SIZE_VER0,
        _ => std::mem::size_of::<CloneArgs>(),
    };
    // SAFETY: `args` is a valid, initialised `struct clone_args` at least
    // `size` bytes long. Neither CLONE_VM nor a stack is given, so the
    // child gets its own copy of the address space and returns here like
    // fork(2)'s child. This function is private and only `clone_raw_in`
    // calls it, whose callers' child branch runs the caller's closure and
    // `_exit`s without returning into the caller's frames (see the
    // module's note on threads).
    let ret = unsafe { libc::syscall(libc::SYS_clone3, args as *mut CloneArgs, size) };
    match Errno::result(ret)? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as libc::pid_t))),
    }
}

/// clone(2) with no new stack; with CLONE_PIDFD the kernel stores the pidfd
/// in `*pidfd`.
fn sys_clone(flags: u64, pidfd: &mut libc::c_int) -> std::result::Result<Forked, Errno> {
    let pidfd_ptr = pidfd as *mut libc::c_int;
    // SAFETY: as for `sys_clone3`: no CLONE_VM and a null stack make this a
    // fork; `pidfd_ptr` points to a live c_int in this frame (the parent
    // tid argument, where CLONE_PIDFD stores the fd); child and tls
    // arguments are unused for the flags this crate passes.
    #[cfg(not(target_arch = "s390x"))]
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            pidfd_ptr,
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    // SAFETY: as above; s390 swaps the stack and flags arguments.
    #[cfg(target_arch = "s390x")]
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            std::ptr::null_mut::<libc::c_void>(),
            flags as libc::c_ulong,
            pidfd_ptr,
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    match Errno::result(ret)? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as libc::pid_t))),
    }
}

/// Why a clone failed.
enum CloneError {
    Errno(Errno),
    /// clone3 is missing and the flags need it (a time namespace).
    NeedsClone3,
}

/// What a clone gave: the fork's side, the pidfd (when asked) and whether
/// the child started in the cgroup asked for.
type Cloned = (Forked, Option<OwnedFd>, bool);

/// Clones with `flags` (namespace flags, maybe CLONE_PARENT) and SIGCHLD;
/// with `want_pidfd` the parent also gets a pidfd for the child. With
/// `cgroup` (a v2 group's directory) the child starts in that group when
/// the kernel can (clone3's CLONE_INTO_CGROUP); when it refuses, the
/// child is cloned where the caller is, and the caller moves it.
fn clone_raw(
    flags: u64,
    want_pidfd: bool,
    cgroup: Option<RawFd>,
) -> std::result::Result<Cloned, CloneError> {
    if let Some(fd) = cgroup.filter(|_| !NO_CLONE3.load(Ordering::Relaxed)) {
        match clone_raw_in(flags | CLONE_INTO_CGROUP, want_pidfd, fd as u64) {
            Ok((forked, pidfd)) => return Ok((forked, pidfd, true)),
            // An old kernel (E2BIG, EINVAL), or a group the kernel will
            // not start a child in: the plain clone below.
            Err(CloneError::Errno(e)) => {
                tracing::debug!("clone3 into the cgroup refused ({e}): cloning where we are");
            }
            Err(e) => return Err(e),
        }
    }
    let (forked, pidfd) = clone_raw_in(flags, want_pidfd, 0)?;
    Ok((forked, pidfd, false))
}

fn clone_raw_in(
    flags: u64,
    want_pidfd: bool,
    cgroup: u64,
) -> std::result::Result<(Forked, Option<OwnedFd>), CloneError> {
    let mut flags = flags;
    if want_pidfd {
        flags |= libc::CLONE_PIDFD as u64;
    }
    let mut pidfd: libc::c_int = -1;
    let mut forked = None;
    if !NO_CLONE3.load(Ordering::Relaxed) {
        let mut args = CloneArgs {
            flags,
            pidfd: if want_pidfd {
                &mut pidfd as *mut libc::c_int as u64
            } else {
                0
            },
            // With CLONE_PARENT the child inherits the caller's own exit
            // signal (SIGCHLD, from fork), and clone3 insists on 0 here.
            exit_signal: if flags & libc::CLONE_PARENT as u64 != 0 {
                0
            } else {
                libc::SIGCHLD as u64
            },
            cgroup,
            ..CloneArgs::default()
        };
        match sys_clone3(&mut args) {
            Ok(f) => forked = Some(f),
            Err(Errno::ENOSYS) => NO_CLONE3.store(true, Ordering::Relaxed),
            Err(e) => return Err(CloneError::Errno(e)),
        }
    }
    if flags & CLONE_INTO_CGROUP != 0 && forked.is_none() {
        // clone(2) has no such flag.
        return Err(CloneError::Errno(Errno::ENOSYS));
    }
    let forked = match forked {
        Some(f) => f,
        None => {
            if flags & libc::CLONE_NEWTIME as u64 != 0 {
                return Err(CloneError::NeedsClone3);
            }
            sys_clone(flags | libc::SIGCHLD as u64, &mut pidfd).map_err(CloneError::Errno)?
        }
    };
    let fd = match forked {
        Forked::Parent(_) if want_pidfd => Some(owned_pidfd(pidfd)),
        _ => None,
    };
    Ok((forked, fd))
}

fn owned_pidfd(fd: RawFd) -> OwnedFd {
    // SAFETY: the kernel just installed `fd` in this process's table for the
    // CLONE_PIDFD request and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Whether this process has more than one thread (field 20 of
/// /proc/self/stat); when /proc cannot tell, assume it has.
///
/// A process with threads must not run arbitrary code in a child of a
/// raw fork(2) (another thread may hold the allocator's lock): callers
/// that fork check this first and refuse.
pub fn multi_threaded() -> bool {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return true;
    };
    // Fields after the command name, which ends at the last ')': state is
    // field 3, num_threads field 20.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(17))
        .and_then(|n| n.parse::<u32>().ok())
        .is_none_or(|n| n > 1)
}

/// fork(3) through the C library, which runs its fork handlers: the child
/// starts with the allocator and stdio in a usable state.
fn libc_fork() -> std::result::Result<Forked, Errno> {
    // SAFETY: only `spawn_via_fork` calls this; its child branch clones
    // once more, reports over a socket and `_exit`s, or runs the caller's
    // closure and `_exit`s, never returning into the caller's frames.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => Ok(Forked::Child),
        nix::unistd::ForkResult::Parent { child } => Ok(Forked::Parent(child)),
    }
}

/// The report of the intermediate process: the child's pid, or minus the
/// errno of the failed clone (i32::MIN: clone3 needed), with the pidfd as
/// SCM_RIGHTS when asked.
fn send_report(sock: &OwnedFd, value: i32, pidfd: Option<&OwnedFd>) {
    let bytes = value.to_ne_bytes();
    let iov = [IoSlice::new(&bytes)];
    let fds;
    let cmsgs: &[ControlMessage<'_>] = match pidfd {
        Some(fd) => {
            fds = [fd.as_raw_fd()];
            &[ControlMessage::ScmRights(&fds)]
        }
        None => &[],
    };
    let _ = sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None);
}

fn recv_report(sock: &OwnedFd) -> std::result::Result<(i32, Option<OwnedFd>), Errno> {
    // The intermediate process only clones and sends: a generous bound.
    if !crate::pidfd::poll_readable(sock.as_fd(), Some(std::time::Duration::from_secs(30)))? {
        return Err(Errno::ETIMEDOUT);
    }
    let mut bytes = [0u8; 4];
    let mut iov = [IoSliceMut::new(&mut bytes)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut pidfd = None;
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            for fd in fds {
                // SAFETY: SCM_RIGHTS just installed `fd` in this process's
                // table; nothing else owns it.
                let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                pidfd.get_or_insert(owned);
            }
        }
    }
    if msg.bytes != 4 {
        // The intermediate died before reporting.
        return Err(Errno::ECHILD);
    }
    Ok((i32::from_ne_bytes(bytes), pidfd))
}

/// Runs `f` in the child and exits with its return value (or
/// [`PANIC_EXIT_CODE`] if it panics). Never returns.
fn child_main<F: FnOnce() -> i32>(f: F) -> ! {
    let code = std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or(PANIC_EXIT_CODE);
    exit_child(code)
}

/// Ends the calling process at once with `code` (_exit(2)): no destructors,
/// no atexit handlers, no stdio flush. What a spawned or forked child
/// calls instead of returning into its parent's frames (after a failed
/// exec, say).
pub fn exit_child(code: i32) -> ! {
    // SAFETY: _exit takes a plain int and never returns; it touches no
    // memory of this process.
    unsafe { libc::_exit(code) }
}

/// Spawns; with `cgroup` (single-threaded callers only) the child may
/// start in that v2 group: the last value says whether it did.
fn spawn_inner<F: FnOnce() -> i32>(
    namespaces: &[Namespace],
    want_pidfd: bool,
    cgroup: Option<RawFd>,
    f: F,
) -> Result<(Pid, Option<OwnedFd>, bool)> {
    let err = |source| Error::Clone {
        namespaces: Namespace::describe(namespaces),
        source,
    };
    let map_clone_err = |e| match e {
        CloneError::Errno(errno) => err(errno),
        CloneError::NeedsClone3 => Error::TimeNamespaceUnsupported,
    };
    if let Some(ino) = mount_ns_inode() {
        SPAWNER_MOUNT_NS.store(ino, Ordering::Relaxed);
    }
    let flags = Namespace::flags(namespaces).bits() as u32 as u64;
    if !multi_threaded() {
        return match clone_raw(flags, want_pidfd, cgroup).map_err(map_clone_err)? {
            (Forked::Child, _, placed) => {
                STARTED_IN_CGROUP.store(placed, Ordering::Relaxed);
                child_main(f)
            }
            (Forked::Parent(pid), fd, placed) => {
                drop(f);
                Ok((pid, fd, placed))
            }
        };
    }
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(err)?;
    match libc_fork().map_err(err)? {
        Forked::Child => {
            drop(ours);
            match clone_raw(flags | libc::CLONE_PARENT as u64, want_pidfd, None) {
                Ok((Forked::Child, _, _)) => {
                    drop(theirs);
                    child_main(f)
                }
                Ok((Forked::Parent(pid), fd, _)) => {
                    send_report(&theirs, pid.as_raw(), fd.as_ref());
                    exit_child(0)
                }
                Err(e) => {
                    let value = match e {
                        CloneError::Errno(errno) => -(errno as i32),
                        CloneError::NeedsClone3 => i32::MIN,
                    };
                    send_report(&theirs, value, None);
                    exit_child(1)
                }
            }
        }
        Forked::Parent(intermediate) => {
            drop(theirs);
            let report = recv_report(&ours);
            if report.is_err() {
                let _ = nix::sys::signal::kill(intermediate, nix::sys::signal::Signal::SIGKILL);
            }
            // ECHILD: someone else reaped it (a waitpid(-1) loop).
            while let Err(Errno::EINTR) = nix::sys::wait::waitpid(intermediate, None) {}
            drop(f);
            let (value, fd) = report.map_err(err)?;
            match value {
                i32::MIN => Err(Error::TimeNamespaceUnsupported),
                v if v < 0 => Err(err(Errno::from_raw(-v))),
                v => {
                    if want_pidfd && fd.is_none() {
                        return Err(err(Errno::EBADF));
                    }
                    Ok((Pid::from_raw(v), fd, false))
                }
            }
        }
    }
}

/// Starts a child in new `namespaces` (none: a plain fork) that runs `f` and
/// `_exit`s with its return value; SIGCHLD is its exit signal, so the caller
/// reaps it with `waitpid`. Returns the child's pid as the caller sees it.
///
/// The child works on a copy of the caller's memory: `f` may borrow from
/// the caller's stack, and values it captures by move (a [`crate::SyncChild`],
/// a pipe end) are closed in the caller when `spawn` returns, since the
/// caller's copy of `f` is dropped there. The child never runs destructors of
/// the caller's frames. A panic in `f` exits with [`PANIC_EXIT_CODE`].
///
/// # Threads
///
/// The direct clone bypasses the C library's fork handling (as LXC's and
/// crun's do), which is only safe in a single-threaded process: a lock
/// another thread holds at that moment (the allocator's above all) would
/// stay held forever in the child. So `spawn` counts the caller's threads
/// (`/proc/self/stat`): with one, it clones directly; with more (a test
/// harness, a runtime), it forks through the C library first, which leaves
/// the allocator usable, and that fork clones the real child with
/// `CLONE_PARENT` (still the caller's child), reports its pid and pidfd,
/// and exits. Locks the C library does not know (Rust's stdout lock, a
/// lazy static another thread is initialising) are copied as they are:
/// the closure should not print through `std` nor wait on such state.
/// Prefer calling `spawn` before any thread exists.
///
/// A new time namespace needs clone3 (Linux 5.8).
pub fn spawn<F: FnOnce() -> i32>(namespaces: &[Namespace], f: F) -> Result<Pid> {
    let (pid, _, _) = spawn_inner(namespaces, false, None, f)?;
    tracing::debug!(%pid, namespaces = %Namespace::describe(namespaces), "spawned child");
    Ok(pid)
}

/// Like [`spawn`], and also returns a pidfd for the child, obtained
/// atomically with the clone (CLONE_PIDFD, Linux 5.2), so it can never name
/// another process.
pub fn spawn_pidfd<F: FnOnce() -> i32>(namespaces: &[Namespace], f: F) -> Result<(Pid, PidFd)> {
    let (pid, pidfd, _) = spawn_pidfd_into(namespaces, None, f)?;
    Ok((pid, pidfd))
}

/// Like [`spawn_pidfd`], and the child starts in the cgroup v2 group of
/// the directory `cgroup` when the kernel can (clone3's
/// CLONE_INTO_CGROUP, Linux 5.7): no move afterwards, so no wait for the
/// kernel's global threadgroup lock. Returns whether it did; when not
/// (an older kernel, a group it refuses, a caller with threads), the
/// child is where the caller is, and the caller moves it.
pub fn spawn_pidfd_into<F: FnOnce() -> i32>(
    namespaces: &[Namespace],
    cgroup: Option<BorrowedFd<'_>>,
    f: F,
) -> Result<(Pid, PidFd, bool)> {
    let (pid, fd, placed) = spawn_inner(namespaces, true, cgroup.map(|c| c.as_raw_fd()), f)?;
    let fd = fd.expect("spawn_inner returns a pidfd when asked");
    tracing::debug!(%pid, namespaces = %Namespace::describe(namespaces), placed, "spawned child with pidfd");
    Ok((pid, PidFd::from_owned(fd, pid), placed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::wait::WaitStatus;

    #[test]
    fn plain_spawn_returns_exit_code() {
        let _serial = crate::serial();
        let pid = spawn(&[], || 7).unwrap();
        assert_eq!(
            crate::wait_pid(pid, std::time::Duration::from_secs(30)),
            WaitStatus::Exited(pid, 7)
        );
    }

    #[test]
    fn child_sees_a_copy_of_the_callers_memory() {
        let _serial = crate::serial();
        let value = String::from("borrowed");
        let pid = spawn(&[], || if value == "borrowed" { 0 } else { 1 }).unwrap();
        assert_eq!(
            crate::wait_pid(pid, std::time::Duration::from_secs(30)),
            WaitStatus::Exited(pid, 0)
        );
    }

    #[test]
    fn panic_in_child_gives_the_panic_code() {
        let _serial = crate::serial();
        // Quiet (no hook output) and lock-free: the default hook takes
        // locks another test thread may hold at clone time, and set_hook
        // takes the hook lock (the module's note on threads). The hook is
        // process-wide, so it is set here in the parent, once, before the
        // clone, and left: it only silences panics in spawned children.
        static QUIET: std::sync::Once = std::sync::Once::new();
        QUIET.call_once(|| {
            let default = std::panic::take_hook();
            let parent = std::process::id();
            std::panic::set_hook(Box::new(move |info| {
                if std::process::id() == parent {
                    default(info);
                }
            }));
        });
        let (pid, pidfd) =
            spawn_pidfd(&[], || panic!("boom in a spawned child (expected)")).unwrap();
        let status = crate::wait_child(&pidfd, std::time::Duration::from_secs(30));
        assert_eq!(status, WaitStatus::Exited(pid, PANIC_EXIT_CODE));
    }

    #[test]
    fn both_paths_work() {
        let _serial = crate::serial();
        // The test harness has threads: the fork path.
        assert!(multi_threaded());
        // A spawned child has one thread: the direct clone, checked there.
        let (pid, pidfd) = spawn_pidfd(&[], || {
            if multi_threaded() {
                return 2;
            }
            let Ok((inner, inner_fd)) = spawn_pidfd(&[], || 9) else {
                return 3;
            };
            match inner_fd.reap() {
                Ok(WaitStatus::Exited(p, 9)) if p == inner => 0,
                _ => 4,
            }
        })
        .unwrap();
        assert_eq!(
            crate::wait_child(&pidfd, std::time::Duration::from_secs(30)),
            WaitStatus::Exited(pid, 0)
        );
    }

    #[test]
    fn direct_clone_into_new_namespaces() {
        let _serial = crate::serial();
        if !crate::require_root("direct_clone_into_new_namespaces") {
            return;
        }
        // From a single-threaded child, so the direct clone is the one used.
        let (pid, pidfd) = spawn_pidfd(&[], || {
            let mut ns = vec![Namespace::Pid, Namespace::Uts, Namespace::Mount];
            if Namespace::available().is_ok_and(|a| a.contains(&Namespace::Time)) {
                ns.push(Namespace::Time);
            }
            let Ok((inner, inner_fd)) = spawn_pidfd(&ns, || {
                if nix::unistd::getpid().as_raw() != 1
                    || nix::unistd::sethostname("direct").is_err()
                {
                    return 1;
                }
                0
            }) else {
                return 3;
            };
            match inner_fd.reap() {
                Ok(WaitStatus::Exited(p, 0)) if p == inner => 0,
                _ => 4,
            }
        })
        .unwrap();
        assert_eq!(
            crate::wait_child(&pidfd, std::time::Duration::from_secs(30)),
            WaitStatus::Exited(pid, 0)
        );
        assert_ne!(nix::unistd::gethostname().unwrap(), "direct");
    }

    #[test]
    fn the_child_is_the_callers_own() {
        let _serial = crate::serial();
        let me = nix::unistd::getpid();
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let pid = spawn(&[], move || {
            let ppid = nix::unistd::getppid().as_raw().to_ne_bytes();
            let _ = nix::unistd::write(&w, &ppid);
            0
        })
        .unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(nix::unistd::read(&r, &mut buf).unwrap(), 4);
        assert_eq!(i32::from_ne_bytes(buf), me.as_raw());
        assert_eq!(
            crate::wait_pid(pid, std::time::Duration::from_secs(30)),
            WaitStatus::Exited(pid, 0)
        );
    }

    #[test]
    fn spawn_pidfd_gives_a_working_pidfd() {
        let _serial = crate::serial();
        let (pid, pidfd) = spawn_pidfd(&[], || 3).unwrap();
        assert_eq!(pidfd.pid(), pid);
        assert!(pidfd
            .wait_exit(Some(std::time::Duration::from_secs(10)))
            .unwrap());
        assert_eq!(pidfd.reap().unwrap(), WaitStatus::Exited(pid, 3));
    }
}
