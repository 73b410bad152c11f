//! console: our terminal on one of the container's ttys, through its
//! monitor. Ctrl+a q leaves; Ctrl+a Ctrl+a sends a Ctrl+a.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::container::{Container, State};
use crate::error::{Error, Result};

/// Ctrl+a, the default escape (`-e` changes it).
pub const DEFAULT_ESCAPE: u8 = 0x01;

/// Connects our standard input and output to tty `tty` (0: the console;
/// none: the first free tty, as lxc-console) of the running container
/// until the user types `escape` then `q`.
pub fn console(c: &Container, tty: Option<u32>, escape: u8) -> Result<()> {
    let state = c.state()?;
    if state != State::Running && state != State::Frozen {
        return Err(Error::WrongState {
            name: c.name().to_string(),
            state: state.as_str(),
            hint: "start it first (enclos start -n NAME)",
        });
    }
    if !c.monitor_alive() {
        return Err(Error::MonitorGone {
            name: c.name().to_string(),
            pid: c.monitor_pid().unwrap_or(0),
            state: state.as_str(),
        });
    }
    let mut stream = crate::monitor::connect(c)?;
    stream
        .write_all(
            match tty {
                Some(n) => format!("console {n}\n"),
                None => "console any\n".to_string(),
            }
            .as_bytes(),
        )
        .map_err(|e| Error::Io {
            what: "talk to the monitor of",
            path: c.dir().to_path_buf(),
            source: e,
        })?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| Error::Io {
        what: "talk to the monitor of",
        path: c.dir().to_path_buf(),
        source: e,
    })?);
    let mut answer = String::new();
    reader.read_line(&mut answer).map_err(|e| Error::Io {
        what: "read the answer of the monitor of",
        path: c.dir().to_path_buf(),
        source: e,
    })?;
    if let Some(msg) = answer.trim_end().strip_prefix("ERR ") {
        return Err(Error::InvalidArgument {
            what: "tty",
            value: tty.map(|t| t.to_string()).unwrap_or_else(|| "(any)".into()),
            reason: msg.to_string(),
        });
    }
    let tty: u32 = answer
        .trim_end()
        .strip_prefix("OK ")
        .and_then(|n| n.parse().ok())
        .unwrap_or(tty.unwrap_or(0));
    stream.set_read_timeout(None).ok();
    let stdin = std::io::stdin();
    let is_tty = nix::unistd::isatty(stdin.as_fd()).unwrap_or(false);
    if is_tty {
        let key = (b'a' + escape.saturating_sub(1)) as char;
        eprint!("\r\nConnected to tty {tty} of {}\r\nType <Ctrl+{key} q> to exit the console, <Ctrl+{key} Ctrl+{key}> to enter Ctrl+{key} itself\r\n", c.name());
    }
    let _raw = if is_tty {
        enclos_namespaces::RawTerminal::enter(stdin.as_fd()).ok()
    } else {
        None
    };
    // Bytes already buffered by the reader came after the answer line.
    let leftover = reader.buffer().to_vec();
    if !leftover.is_empty() {
        let _ = std::io::stdout().write_all(&leftover);
    }
    let mut buf = [0u8; 4096];
    let mut escaped = false;
    let mut stdin_open = true;
    loop {
        let mut fds = vec![PollFd::new(stream.as_fd(), PollFlags::POLLIN)];
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let from_tty = fds[0].revents().unwrap_or(PollFlags::empty());
        let from_user = fds
            .get(1)
            .and_then(|f| f.revents())
            .unwrap_or(PollFlags::empty());
        drop(fds);
        if from_tty.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            match stream.read(&mut buf) {
                Ok(n) if n > 0 => {
                    let mut out = std::io::stdout();
                    let _ = out.write_all(&buf[..n]);
                    let _ = out.flush();
                }
                // The container stopped (or the monitor went away).
                _ => break,
            }
        }
        if from_user.intersects(PollFlags::POLLIN | PollFlags::POLLHUP) {
            let n = match std::io::stdin().read(&mut buf) {
                Ok(n) if n > 0 => n,
                _ => {
                    stdin_open = false;
                    continue;
                }
            };
            let mut send = Vec::with_capacity(n);
            for &b in &buf[..n] {
                if escaped {
                    escaped = false;
                    match b {
                        b'q' | b'Q' => {
                            let _ = stream.write_all(&send);
                            if is_tty {
                                eprint!("\r\n");
                            }
                            return Ok(());
                        }
                        b if b == escape => send.push(escape),
                        other => {
                            send.push(escape);
                            send.push(other);
                        }
                    }
                } else if b == escape {
                    escaped = true;
                } else {
                    send.push(b);
                }
            }
            if stream.write_all(&send).is_err() {
                break;
            }
        }
    }
    Ok(())
}
