//! The trampoline through which enclos's init executes a container's init.
//!
//! Between its clone and that exec, a container's PID 1 is enclos's own
//! init. What the exec resolves `/proc/self/exe` to, for an init that is
//! `/proc/self/exe` or a script whose interpreter is (runc's
//! CVE-2019-5736), is the binary of the process that execs. So init does
//! not exec the container's init itself: it execs this program, seen
//! through a read-only overlay mounted nowhere, and this program execs the
//! container's init at once. Whatever the container then reaches through
//! `/proc/1/exe` or `/proc/self/exe` is a file no one can write.
//!
//! It is a program of its own, not the enclos binary run under another
//! name, because it lives a fraction of a millisecond on the path of
//! every start: its exec and start-up cost what a small static program
//! costs, not what the whole CLI does. The enclos binary runs the same
//! [`run`] when this program is not installed beside it.
//!
//! Its arguments: `TRAMPOLINE SYNC-FD CMD [ARG...]`, where `SYNC-FD` is
//! init's end of its socket with the monitor (see
//! `enclos_namespaces::sync_pair`). It sends [`REACHED`] on it, marks it
//! close-on-exec (the monitor reads the end of the socket as the exec
//! done) and execs `CMD` with its own environment, searching the `PATH`
//! of that environment; a failure goes back on the socket.

use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;

use enclos_namespaces::{exit_child, SyncChild};
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::signal::{SigHandler, Signal};

/// The program's file name, where the package installs it
/// (`/usr/libexec/enclos/`) or beside the enclos binary.
pub const FILE_NAME: &str = "enclos-init-exec";

/// `argv[0]` of the trampoline, naming the version of its arguments: a
/// trampoline given another one says so instead of guessing.
pub const TRAMPOLINE: &str = "enclos-init-exec/1";

/// The step the trampoline sends once it runs: an end of the socket
/// before it is the trampoline's death, not the exec of the container's
/// init.
pub const REACHED: u8 = 4;

/// The trampoline's whole life: execs the container's init with `env`, or
/// reports why not to the monitor, and exits.
pub fn run(args: impl IntoIterator<Item = OsString>, env: &[CString]) -> ! {
    let mut args = args.into_iter();
    let ours = args.next().is_some_and(|a| a == TRAMPOLINE);
    let sync = args
        .next()
        .and_then(|a| a.into_string().ok()?.parse::<RawFd>().ok())
        .filter(|fd| *fd > 2);
    let Some(sync) = sync else {
        eprintln!("{FILE_NAME}: started by enclos's init only");
        exit_child(2);
    };
    // SAFETY: init passed this descriptor, open, for us alone.
    let sync = SyncChild::from_inherited(unsafe { OwnedFd::from_raw_fd(sync) });
    if !ours {
        let _ = sync.fail(&format!(
            "{FILE_NAME} does not take the arguments of this enclos (it speaks {TRAMPOLINE}): \
             install enclos and {FILE_NAME} from the same build"
        ));
        exit_child(1);
    }
    // Closed at the exec (the monitor reads the end of it as success),
    // never left to the container's init.
    if let Err(e) = fcntl(sync.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)) {
        let _ = sync.fail(&format!(
            "{FILE_NAME}, which starts init, cannot close its socket at exec: {e}"
        ));
        exit_child(1);
    }
    if sync.send(REACHED).is_err() {
        exit_child(1);
    }
    let cmd: Vec<String> = args
        .map(|a| String::from_utf8_lossy(&a.into_vec()).into_owned())
        .collect();
    let err = exec(&cmd, env);
    let _ = sync.fail(&exec_failed(&cmd, err));
    exit_child(1)
}

/// The environment of this process, as `execve` takes it.
pub fn environ() -> Vec<CString> {
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            CString::new(kv.into_vec()).ok()
        })
        .collect()
}

/// execvpe with the `PATH` of `env`; returns only on failure. SIGPIPE,
/// which the Rust runtime ignores in every enclos process, gets its
/// default action back first: a command in the container that writes to
/// a closed pipe ends, as anywhere else, instead of printing
/// "Broken pipe" errors.
pub fn exec(cmd: &[String], env: &[CString]) -> nix::Error {
    // SAFETY: SIG_DFL installs no handler code.
    let _ = unsafe { nix::sys::signal::signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    let args: Vec<CString> = match cmd.iter().map(|a| CString::new(a.as_bytes())).collect() {
        Ok(a) => a,
        Err(_) => return nix::Error::EINVAL,
    };
    if args.is_empty() {
        return nix::Error::ENOENT;
    }
    // PATH from the environment we pass, not ours.
    let path = env
        .iter()
        .filter_map(|e| e.to_str().ok())
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/sbin:/usr/bin:/sbin:/bin")
        .to_string();
    if cmd[0].contains('/') {
        return match nix::unistd::execve(&args[0], &args, env) {
            Err(e) => e,
            Ok(never) => match never {},
        };
    }
    let mut last = nix::Error::ENOENT;
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let Ok(full) = CString::new(format!("{dir}/{}", cmd[0])) else {
            continue;
        };
        match nix::unistd::execve(&full, &args, env) {
            Err(nix::Error::ENOENT) | Err(nix::Error::ENOTDIR) => {}
            Err(e) => last = e,
            Ok(never) => match never {},
        }
    }
    last
}

/// The error of a failed exec of the container's init.
pub fn exec_failed(cmd: &[String], err: nix::Error) -> String {
    format!(
        "Cannot execute init '{}' in the container: {err}; check lxc.init.cmd and that the rootfs holds it",
        cmd.join(" ")
    )
}
