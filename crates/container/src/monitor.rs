//! The monitor: parent of the container's init. It creates the cgroup,
//! holds the console and tty pty masters, answers console clients on an
//! abstract unix socket, writes the state, and cleans up when init exits.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::time::Duration;

use enclos_cgroupfs::{DeleteOptions, Populated};
use nix::fcntl::Flock;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{self, SigHandler, Signal};
use nix::sys::wait::WaitStatus;

use crate::console_log::{no_console, ConsoleOutput};
use crate::container::{Container, State};
use crate::error::{Error, Result};
use crate::init::Init;
use crate::launch::{make_cgroup, rootfs_spec, spawn_init, Plan, Terminals};

/// The abstract socket name of a container's monitor.
pub fn socket_name(c: &Container) -> String {
    // FNV-1a: a stable short name whatever the lxcpath's length.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in c.dir().as_os_str().as_encoded_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("enclos/{h:016x}/{}", c.name())
}

/// Connects to the monitor of `c`, with timeouts on every call.
pub fn connect(c: &Container) -> Result<UnixStream> {
    let addr =
        SocketAddr::from_abstract_name(socket_name(c).as_bytes()).map_err(|e| Error::Io {
            what: "name the monitor socket of",
            path: c.dir().to_path_buf(),
            source: e,
        })?;
    let s = UnixStream::connect_addr(&addr).map_err(|e| Error::Io {
        what: "reach the monitor of",
        path: c.dir().to_path_buf(),
        source: e,
    })?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    s.set_write_timeout(Some(Duration::from_secs(5))).ok();
    Ok(s)
}

/// Runs the monitor until the container stops; returns init's exit status.
/// `_mlock` is the monitor lock, held until the end (while it is held the
/// container is not STOPPED); `report` receives "OK" once RUNNING or
/// "ERR why".
pub(crate) fn run(plan: Plan, _mlock: Flock<File>, report: &mut Option<File>) -> Result<i32> {
    monitor_signals();
    let c = plan.container.clone();
    let _log = crate::logging::container_log(&plan.config, c.name())?;
    crate::monitor_keys::apply(&plan.config, c.name())?;
    let monitor_cg = crate::cgroup_keys::enter_monitor_group(&plan.cgroups, plan.layout.clone())?;
    let mut code;
    loop {
        c.write_run_file("monitor.pid", &std::process::id().to_string())?;
        c.write_run_file("state", State::Starting.as_str())?;
        let started = start_once(&plan);
        let (cg, terms, mut output, pidfd) = match started {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(container = c.name(), "failed to start: {e}");
                c.clear_runtime();
                if let Some(cg) = monitor_cg {
                    crate::cgroup_keys::leave_monitor_group(&plan.cgroups, cg);
                }
                return Err(e);
            }
        };
        c.write_run_file("init.pid", &pidfd.pid().as_raw().to_string())?;
        c.write_run_file("state", State::Running.as_str())?;
        if let Some(mut r) = report.take() {
            let _ = writeln!(r, "OK {}", pidfd.pid());
        }
        tracing::info!(container = c.name(), init = pidfd.pid().as_raw(), "RUNNING");
        let nsrefs = crate::hooks::NsRefs::open(pidfd.pid(), &plan.ns.of_init());
        let status = serve(&plan, terms.as_ref(), &mut output, &pidfd);
        drop(output);
        tracing::info!(container = c.name(), "init exited: {status:?}");
        let _ = c.write_run_file("state", State::Stopping.as_str());
        // Init that called reboot(2) in its pid namespace ends by SIGHUP:
        // start it again, unless a stop asked for the end.
        let rebooted = matches!(status, WaitStatus::Signaled(_, Signal::SIGHUP, _))
            && matches!(plan.init, Init::Exec(_))
            && !c.run_file("stopping").exists();
        let target = if rebooted { "reboot" } else { "stop" };
        nsrefs.run_stop_hooks(&plan.hooks, target);
        let env = nsrefs.env(target);
        drop(nsrefs);
        let _ = cg.thaw(Duration::from_secs(2));
        let _ = cg.delete(DeleteOptions {
            recursive: true,
            populated: Populated::Kill,
            ignore_missing: true,
        });
        code = crate::process::exit_code(status);
        // A failed post-stop hook stops a rebooting container, as in LXC.
        if !plan.hooks.run_logged("post-stop", &[], &env) || !rebooted {
            break;
        }
        tracing::info!(container = c.name(), "rebooting");
    }
    let _ = std::fs::remove_file(c.run_file("stopping"));
    c.clear_runtime();
    if let Some(cg) = monitor_cg {
        crate::cgroup_keys::leave_monitor_group(&plan.cgroups, cg);
    }
    tracing::info!(container = c.name(), "STOPPED");
    if plan.config.ephemeral() {
        let _ = crate::create::remove_stopped(&c);
    }
    Ok(code)
}

/// Ignores SIGPIPE and SIGHUP in the monitor, which outlives terminals and
/// console clients.
pub(crate) fn monitor_signals() {
    // SAFETY: setting SIG_IGN installs no handler code.
    unsafe {
        let _ = signal::signal(Signal::SIGPIPE, SigHandler::SigIgn);
        let _ = signal::signal(Signal::SIGHUP, SigHandler::SigIgn);
    }
}

type Started = (
    enclos_cgroupfs::Cgroup,
    Option<Terminals>,
    ConsoleOutput,
    enclos_namespaces::PidFd,
);

fn start_once(plan: &Plan) -> Result<Started> {
    plan.hooks.run("pre-start")?;
    let cg = make_cgroup(plan)?;
    let result = (|| {
        let (terms, output) = match plan.init {
            Init::Exec(_) => (
                Some(Terminals::open(&plan.config)?),
                ConsoleOutput::open(&plan.config)?,
            ),
            Init::Run(_) => (None, ConsoleOutput::default()),
        };
        let (console, ttys) = match &terms {
            Some(t) => (
                // lxc.console.path = none: init gets no console.
                Some(t.console.slave_path.clone()).filter(|_| !no_console(&plan.config)),
                t.ttys.iter().map(|p| p.slave_path.clone()).collect(),
            ),
            None => (None, Vec::new()),
        };
        let spec = rootfs_spec(plan, console, ttys)?;
        let inner = crate::cgroup_keys::init_group(&plan.config, &cg, &plan.container)?;
        let (_pid, pidfd) =
            spawn_init(plan, inner.as_ref().unwrap_or(&cg), &spec, terms.is_none())?;
        Ok((terms, output, pidfd))
    })();
    match result {
        Ok((terms, output, pidfd)) => Ok((cg, terms, output, pidfd)),
        Err(e) => {
            let _ = cg.delete(DeleteOptions {
                recursive: true,
                populated: Populated::Kill,
                ignore_missing: true,
            });
            Err(e)
        }
    }
}

/// A console client attached to one tty.
struct Session {
    stream: UnixStream,
    tty: usize,
}

/// Serves console clients (and, in the foreground, the terminal) until
/// init exits; returns init's wait status.
fn serve(
    plan: &Plan,
    terms: Option<&Terminals>,
    output: &mut ConsoleOutput,
    pidfd: &enclos_namespaces::PidFd,
) -> WaitStatus {
    let c = &plan.container;
    let Some(terms) = terms else {
        // execute: nothing to serve but the wait.
        return pidfd.reap().unwrap_or(WaitStatus::StillAlive);
    };
    // The monitor holds every slave open, so that reading a master never
    // returns EIO (and poll never spins) while no one in the container has
    // the tty open.
    let _slaves: Vec<OwnedFd> = std::iter::once(&terms.console)
        .chain(terms.ttys.iter())
        .filter_map(|p| p.open_slave().ok())
        .collect();
    let masters: Vec<BorrowedFd<'_>> = std::iter::once(terms.console.master.as_fd())
        .chain(terms.ttys.iter().map(|p| p.master.as_fd()))
        .collect();
    let listener = SocketAddr::from_abstract_name(socket_name(c).as_bytes())
        .and_then(|a| UnixListener::bind_addr(&a));
    let listener = match listener {
        Ok(l) => {
            let _ = l.set_nonblocking(true);
            Some(l)
        }
        Err(e) => {
            tracing::warn!(container = c.name(), "no console socket: {e}");
            None
        }
    };
    let foreground = plan.foreground;
    let _raw = if foreground {
        enclos_namespaces::RawTerminal::enter(std::io::stdin()).ok()
    } else {
        None
    };
    let mut stdin_open = foreground;
    let mut pending: Vec<(UnixStream, Vec<u8>)> = Vec::new();
    let mut sessions: Vec<Session> = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        // Build the poll set: pidfd, listener, masters, pending, sessions, stdin.
        let mut fds: Vec<PollFd> = Vec::new();
        fds.push(PollFd::new(pidfd.as_fd(), PollFlags::POLLIN));
        let li = listener.as_ref().map(|l| {
            fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let m0 = fds.len();
        for m in &masters {
            fds.push(PollFd::new(*m, PollFlags::POLLIN));
        }
        let p0 = fds.len();
        for (s, _) in &pending {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
        }
        let s0 = fds.len();
        for s in &sessions {
            fds.push(PollFd::new(s.stream.as_fd(), PollFlags::POLLIN));
        }
        let stdin = std::io::stdin();
        let si = if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            Some(fds.len() - 1)
        } else {
            None
        };
        let peer = output.input().map(|fd| {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
            (fd, fds.len() - 1)
        });
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
        let ready = |i: usize| {
            fds[i].revents().is_some_and(|r| {
                r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
            })
        };
        let init_done = ready(0);
        let accept = li.is_some_and(ready);
        let master_ready: Vec<usize> = (0..masters.len()).filter(|i| ready(m0 + i)).collect();
        let pending_ready: Vec<usize> = (0..pending.len()).filter(|i| ready(p0 + i)).collect();
        let session_ready: Vec<usize> = (0..sessions.len()).filter(|i| ready(s0 + i)).collect();
        let stdin_ready = si.is_some_and(ready);
        let peer_input = peer
            .filter(|(_, i)| ready(*i))
            .map(|(fd, _)| nix::unistd::read(fd, &mut buf).map(|n| buf[..n].to_vec()));
        drop(fds);
        match peer_input {
            Some(Ok(data)) if !data.is_empty() => {
                let _ = write_all_fd(masters[0], &data);
            }
            Some(Err(nix::errno::Errno::EAGAIN)) | None => {}
            Some(_) => output.close_input(),
        }

        if init_done {
            // What init wrote last is still in the masters (non-blocking):
            // pass it on before leaving.
            for (i, m) in masters.iter().enumerate() {
                while let Ok(n) = nix::unistd::read(*m, &mut buf) {
                    if n == 0 {
                        break;
                    }
                    if foreground && i == 0 {
                        let _ = std::io::stdout().write_all(&buf[..n]);
                    }
                    if i == 0 {
                        output.record(&buf[..n]);
                    }
                    for s in sessions.iter_mut().filter(|s| s.tty == i) {
                        let _ = s.stream.write_all(&buf[..n]);
                    }
                }
            }
            let _ = std::io::stdout().flush();
            for s in &sessions {
                let _ = s.stream.shutdown(std::net::Shutdown::Both);
            }
            return pidfd.reap().unwrap_or(WaitStatus::StillAlive);
        }
        for i in master_ready {
            let n = match nix::unistd::read(masters[i], &mut buf) {
                Ok(n) if n > 0 => n,
                _ => continue,
            };
            if foreground && i == 0 {
                let _ = std::io::stdout().write_all(&buf[..n]);
                let _ = std::io::stdout().flush();
            }
            if i == 0 {
                output.record(&buf[..n]);
            }
            sessions.retain_mut(|s| s.tty != i || s.stream.write_all(&buf[..n]).is_ok());
        }
        if stdin_ready {
            match std::io::stdin().read(&mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => {
                    let _ = write_all_fd(masters[0], &buf[..n]);
                }
            }
        }
        // Sessions: client input to its tty; a closed client detaches.
        let mut gone = Vec::new();
        for i in session_ready {
            let s = &mut sessions[i];
            match s.stream.read(&mut buf) {
                Ok(0) => gone.push(i),
                Ok(n) => {
                    let _ = write_all_fd(masters[s.tty], &buf[..n]);
                }
                Err(e)
                    if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {}
                Err(_) => gone.push(i),
            }
        }
        for i in gone.into_iter().rev() {
            sessions.remove(i);
        }
        // Pending clients: read their request line.
        let mut done = Vec::new();
        for i in pending_ready {
            let (s, line) = &mut pending[i];
            match s.read(&mut buf) {
                Ok(0) | Err(_) => done.push((i, None)),
                Ok(n) => {
                    line.extend_from_slice(&buf[..n]);
                    if line.contains(&b'\n') || line.len() > 256 {
                        let req = String::from_utf8_lossy(line)
                            .lines()
                            .next()
                            .unwrap_or("")
                            .to_string();
                        done.push((i, Some(req)));
                    }
                }
            }
        }
        for (i, req) in done.into_iter().rev() {
            let (mut s, _) = pending.remove(i);
            let Some(req) = req else { continue };
            let console = !no_console(&plan.config);
            match handle_request(&req, masters.len(), console, &sessions) {
                Ok(Some(tty)) => {
                    let replay = if tty == 0 {
                        output.replay()
                    } else {
                        Vec::new()
                    };
                    if s.write_all(format!("OK {tty}\n").as_bytes()).is_ok()
                        && s.write_all(&replay).is_ok()
                    {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
                        sessions.push(Session { stream: s, tty });
                    }
                }
                Ok(None) => {
                    let _ = s.write_all(format!("OK {}\n", State::Running.as_str()).as_bytes());
                }
                Err(msg) => {
                    let _ = s.write_all(format!("ERR {msg}\n").as_bytes());
                }
            }
        }
        if accept {
            if let Some(l) = &listener {
                while let Ok((s, _)) = l.accept() {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                    pending.push((s, Vec::new()));
                }
            }
        }
    }
}

/// A request line: `console N` (returns the tty to attach to) or `state`.
/// `console` is false when the container has none (tty 0).
fn handle_request(
    req: &str,
    ttys: usize,
    console: bool,
    sessions: &[Session],
) -> std::result::Result<Option<usize>, String> {
    let mut words = req.split_whitespace();
    match words.next() {
        Some("console") => {
            let free = |n: &usize| !sessions.iter().any(|s| s.tty == *n) && (*n > 0 || console);
            let n: usize = match words.next().unwrap_or("0") {
                // The first free tty, the console when there is none.
                "any" => (1..ttys)
                    .find(free)
                    .or(Some(0).filter(free))
                    .ok_or_else(|| {
                        "every tty and the console are in use by other console clients".to_string()
                    })?,
                w => w
                    .parse()
                    .map_err(|_| format!("'{req}': the tty must be a number"))?,
            };
            if n == 0 && !console {
                return Err(
                    "the container has no console (lxc.console.path = none); pick a tty from 1 (lxc.tty.max)"
                        .to_string(),
                );
            }
            if n >= ttys {
                return Err(format!(
                    "the container has no tty {n}: it has the console (0) and ttys 1 to {} (lxc.tty.max)",
                    ttys - 1
                ));
            }
            if sessions.iter().any(|s| s.tty == n) {
                return Err(format!("tty {n} is in use by another console client"));
            }
            Ok(Some(n))
        }
        Some("state") => Ok(None),
        _ => Err(format!("unknown request '{req}'")),
    }
}

fn write_all_fd(fd: BorrowedFd<'_>, mut data: &[u8]) -> nix::Result<()> {
    let mut tries = 0;
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EAGAIN) if tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(tty: usize) -> Session {
        let (a, _b) = UnixStream::pair().unwrap();
        Session { stream: a, tty }
    }

    #[test]
    fn console_requests_pick_free_ttys() {
        // The console and ttys 1 to 4.
        assert_eq!(handle_request("console 0", 5, true, &[]), Ok(Some(0)));
        assert_eq!(handle_request("console any", 5, true, &[]), Ok(Some(1)));
        assert_eq!(
            handle_request("console any", 5, true, &[session(1), session(2)]),
            Ok(Some(3))
        );
        let all: Vec<Session> = (1..5).map(session).collect();
        assert_eq!(handle_request("console any", 5, true, &all), Ok(Some(0)));
        let every: Vec<Session> = (0..5).map(session).collect();
        assert!(handle_request("console any", 5, true, &every)
            .unwrap_err()
            .contains("in use"));
        assert!(handle_request("console 2", 5, true, &[session(2)])
            .unwrap_err()
            .contains("tty 2 is in use"));
        let err = handle_request("console 9", 5, true, &[]).unwrap_err();
        assert!(err.contains("ttys 1 to 4 (lxc.tty.max)"), "{err}");
        assert!(handle_request("console x", 5, true, &[])
            .unwrap_err()
            .contains("must be a number"));
        assert_eq!(handle_request("state", 5, true, &[]), Ok(None));
        // lxc.console.path = none: no tty 0, not even as a last resort.
        let err = handle_request("console 0", 5, false, &[]).unwrap_err();
        assert!(err.contains("has no console"), "{err}");
        assert_eq!(handle_request("console any", 5, false, &[]), Ok(Some(1)));
        assert!(handle_request("console any", 5, false, &all).is_err());
        assert!(handle_request("reboot", 5, true, &[])
            .unwrap_err()
            .contains("unknown request"));
    }

    #[test]
    fn socket_names_are_short_and_distinct() {
        let deep = "/tmp/".to_string() + &"very-long-directory-name/".repeat(10);
        let a = Container::new(std::path::Path::new(&deep), "c1").unwrap();
        let b = Container::new(std::path::Path::new("/var/lib/enclos"), "c1").unwrap();
        assert!(socket_name(&a).len() < 100);
        assert_ne!(socket_name(&a), socket_name(&b));
        assert_eq!(socket_name(&b), socket_name(&b.clone()));
    }
}
