//! The monitor's event loop while init runs: one poll over init's pidfd,
//! the console socket, the pty masters, console clients and (in the
//! foreground) the terminal, with one handler per kind of event.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::wait::WaitStatus;

use super::request::{handle_request, Session};
use super::socket::socket_name;
use crate::console_log::{no_console, ConsoleOutput};
use crate::container::State;
use crate::launch::{Plan, Terminals};

/// Serves console clients (and, in the foreground, the terminal) until
/// init exits; returns init's wait status.
pub(super) fn serve(
    plan: &Plan,
    terms: Option<&Terminals>,
    output: &mut ConsoleOutput,
    pidfd: &enclos_namespaces::PidFd,
) -> WaitStatus {
    let Some(terms) = terms else {
        // execute: nothing to serve but the wait.
        return pidfd.reap().unwrap_or(WaitStatus::StillAlive);
    };
    // The monitor holds every slave open, so that reading a master never
    // returns EIO (and poll never spins) while no one in the container has
    // the tty open.
    let _slaves: Vec<OwnedFd> = std::iter::once(&terms.console)
        .chain(terms.ttys.iter())
        .filter_map(|m| enclos_namespaces::open_peer(m.as_fd()).ok())
        .collect();
    let _raw = if plan.foreground {
        enclos_namespaces::RawTerminal::enter(std::io::stdin()).ok()
    } else {
        None
    };
    let mut server = Server::new(plan, terms, output);
    loop {
        let ready = server.wait(pidfd);
        server.on_peer_input(ready.peer_input);
        if ready.init_done {
            server.on_init_exit();
            return pidfd.reap().unwrap_or(WaitStatus::StillAlive);
        }
        for i in ready.masters {
            server.on_master(i);
        }
        if ready.stdin {
            server.on_stdin();
        }
        server.on_sessions(&ready.sessions);
        server.on_pending(&ready.pending);
        if ready.accept {
            server.on_accept();
        }
    }
}

/// The state of the loop: the ptys, the console's output, the socket and
/// its clients.
struct Server<'a> {
    plan: &'a Plan,
    /// The console's master (0), then the ttys'.
    masters: Vec<BorrowedFd<'a>>,
    output: &'a mut ConsoleOutput,
    listener: Option<UnixListener>,
    /// Our terminal is the console (foreground start).
    foreground: bool,
    stdin_open: bool,
    /// Clients that have not sent their request line yet.
    pending: Vec<(UnixStream, Vec<u8>)>,
    sessions: Vec<Session>,
    buf: [u8; 8192],
}

/// What one poll found ready.
struct Ready {
    init_done: bool,
    accept: bool,
    masters: Vec<usize>,
    pending: Vec<usize>,
    sessions: Vec<usize>,
    stdin: bool,
    /// Input of the console's peer (`lxc.console.path` on a pty), read.
    peer_input: Option<nix::Result<Vec<u8>>>,
}

impl<'a> Server<'a> {
    fn new(plan: &'a Plan, terms: &'a Terminals, output: &'a mut ConsoleOutput) -> Self {
        let c = &plan.container;
        let masters = std::iter::once(terms.console.as_fd())
            .chain(terms.ttys.iter().map(|m| m.as_fd()))
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
        Server {
            plan,
            masters,
            output,
            listener,
            foreground: plan.foreground,
            stdin_open: plan.foreground,
            pending: Vec::new(),
            sessions: Vec::new(),
            buf: [0u8; 8192],
        }
    }

    /// Polls pidfd, listener, masters, pending, sessions, stdin and the
    /// console's peer.
    fn wait(&mut self, pidfd: &enclos_namespaces::PidFd) -> Ready {
        loop {
            let mut fds: Vec<PollFd> = Vec::new();
            fds.push(PollFd::new(pidfd.as_fd(), PollFlags::POLLIN));
            let li = self.listener.as_ref().map(|l| {
                fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            let m0 = fds.len();
            fds.extend(
                self.masters
                    .iter()
                    .map(|m| PollFd::new(*m, PollFlags::POLLIN)),
            );
            let p0 = fds.len();
            fds.extend(
                self.pending
                    .iter()
                    .map(|(s, _)| PollFd::new(s.as_fd(), PollFlags::POLLIN)),
            );
            let s0 = fds.len();
            fds.extend(
                self.sessions
                    .iter()
                    .map(|s| PollFd::new(s.stream.as_fd(), PollFlags::POLLIN)),
            );
            let stdin = std::io::stdin();
            let si = self.stdin_open.then(|| {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            let peer = self.output.input().map(|fd| {
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
            let buf = &mut self.buf;
            return Ready {
                init_done: ready(0),
                accept: li.is_some_and(ready),
                masters: (0..self.masters.len()).filter(|i| ready(m0 + i)).collect(),
                pending: (0..self.pending.len()).filter(|i| ready(p0 + i)).collect(),
                sessions: (0..self.sessions.len()).filter(|i| ready(s0 + i)).collect(),
                stdin: si.is_some_and(ready),
                peer_input: peer
                    .filter(|(_, i)| ready(*i))
                    .map(|(fd, _)| nix::unistd::read(fd, buf).map(|n| buf[..n].to_vec())),
            };
        }
    }

    /// The console's peer typed: to the console.
    fn on_peer_input(&mut self, input: Option<nix::Result<Vec<u8>>>) {
        match input {
            Some(Ok(data)) if !data.is_empty() => {
                let _ = write_all_fd(self.masters[0], &data);
            }
            Some(Err(nix::errno::Errno::EAGAIN)) | None => {}
            Some(_) => self.output.close_input(),
        }
    }

    /// Init exited. What it wrote last is still in the masters
    /// (non-blocking): pass it on before leaving.
    fn on_init_exit(&mut self) {
        for i in 0..self.masters.len() {
            while let Ok(n) = nix::unistd::read(self.masters[i], &mut self.buf) {
                if n == 0 {
                    break;
                }
                let data = &self.buf[..n];
                if self.foreground && i == 0 {
                    let _ = std::io::stdout().write_all(data);
                }
                if i == 0 {
                    self.output.record(data);
                }
                for s in self.sessions.iter_mut().filter(|s| s.tty == i) {
                    let _ = s.stream.write_all(data);
                }
            }
        }
        let _ = std::io::stdout().flush();
        for s in &self.sessions {
            let _ = s.stream.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Output of tty `i` (0: the console): to its client, and the
    /// console's to the terminal and the log.
    fn on_master(&mut self, i: usize) {
        let n = match nix::unistd::read(self.masters[i], &mut self.buf) {
            Ok(n) if n > 0 => n,
            _ => return,
        };
        let data = &self.buf[..n];
        if self.foreground && i == 0 {
            let _ = std::io::stdout().write_all(data);
            let _ = std::io::stdout().flush();
        }
        if i == 0 {
            self.output.record(data);
        }
        self.sessions
            .retain_mut(|s| s.tty != i || s.stream.write_all(data).is_ok());
    }

    /// Our terminal typed (foreground): to the console.
    fn on_stdin(&mut self) {
        match std::io::stdin().read(&mut self.buf) {
            Ok(0) | Err(_) => self.stdin_open = false,
            Ok(n) => {
                let _ = write_all_fd(self.masters[0], &self.buf[..n]);
            }
        }
    }

    /// Console clients: their input to their tty; a closed client detaches.
    fn on_sessions(&mut self, ready: &[usize]) {
        let mut gone = Vec::new();
        for &i in ready {
            let s = &mut self.sessions[i];
            match s.stream.read(&mut self.buf) {
                Ok(0) => gone.push(i),
                Ok(n) => {
                    let _ = write_all_fd(self.masters[s.tty], &self.buf[..n]);
                }
                Err(e)
                    if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {}
                Err(_) => gone.push(i),
            }
        }
        for i in gone.into_iter().rev() {
            self.sessions.remove(i);
        }
    }

    /// Pending clients: read their request line, then answer it.
    fn on_pending(&mut self, ready: &[usize]) {
        let mut done = Vec::new();
        for &i in ready {
            let (s, line) = &mut self.pending[i];
            match s.read(&mut self.buf) {
                Ok(0) | Err(_) => done.push((i, None)),
                Ok(n) => {
                    line.extend_from_slice(&self.buf[..n]);
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
            let (s, _) = self.pending.remove(i);
            if let Some(req) = req {
                self.on_request(s, &req);
            }
        }
    }

    /// A control request: `console N` makes the client a session of tty
    /// N (after the console's replay), `state` answers RUNNING.
    fn on_request(&mut self, mut s: UnixStream, req: &str) {
        let console = !no_console(&self.plan.config);
        match handle_request(req, self.masters.len(), console, &self.sessions) {
            Ok(Some(tty)) => {
                let replay = if tty == 0 {
                    self.output.replay()
                } else {
                    Vec::new()
                };
                if s.write_all(format!("OK {tty}\n").as_bytes()).is_ok()
                    && s.write_all(&replay).is_ok()
                {
                    let _ = s.set_nonblocking(false);
                    let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
                    self.sessions.push(Session { stream: s, tty });
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

    /// New console clients: pending until their request line.
    fn on_accept(&mut self) {
        if let Some(l) = &self.listener {
            while let Ok((s, _)) = l.accept() {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                self.pending.push((s, Vec::new()));
            }
        }
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
