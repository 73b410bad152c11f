//! console: our terminal on one of the container's ttys, through its
//! monitor. Ctrl+a q leaves; Ctrl+a Ctrl+a sends a Ctrl+a.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

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
    let (mut stream, leftover, tty) = request_tty(c, tty)?;
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
    if !leftover.is_empty() {
        let _ = std::io::stdout().write_all(&leftover);
    }
    relay(&mut stream, escape, is_tty);
    Ok(())
}

/// Asks the monitor for tty `tty` (none: any); returns the stream, what
/// came after the answer line, and the tty given.
fn request_tty(c: &Container, tty: Option<u32>) -> Result<(UnixStream, Vec<u8>, u32)> {
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
    Ok((stream, reader.buffer().to_vec(), tty))
}

/// Passes the tty's output to our standard output and our input to the
/// tty, until the tty closes or the user types the escape then `q`.
fn relay(stream: &mut UnixStream, escape: u8, is_tty: bool) {
    let stdin = std::io::stdin();
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
                _ => return,
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
            let (send, quit) = unescape(&buf[..n], escape, &mut escaped);
            if quit {
                let _ = stream.write_all(&send);
                if is_tty {
                    eprint!("\r\n");
                }
                return;
            }
            if stream.write_all(&send).is_err() {
                return;
            }
        }
    }
}

/// The bytes to send for what the user typed, and whether they typed the
/// escape then `q` (what came before it is sent; the rest is dropped).
/// `escaped`: the last input ended with the escape.
fn unescape(input: &[u8], escape: u8, escaped: &mut bool) -> (Vec<u8>, bool) {
    let mut send = Vec::with_capacity(input.len());
    for &b in input {
        if *escaped {
            *escaped = false;
            match b {
                b'q' | b'Q' => return (send, true),
                b if b == escape => send.push(escape),
                other => {
                    send.push(escape);
                    send.push(other);
                }
            }
        } else if b == escape {
            *escaped = true;
        } else {
            send.push(b);
        }
    }
    (send, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_escape_then_q_leaves_and_a_double_escape_sends_one() {
        let mut escaped = false;
        assert_eq!(unescape(b"ab", 1, &mut escaped), (b"ab".to_vec(), false));
        assert_eq!(
            unescape(b"a\x01\x01b", 1, &mut escaped),
            (b"a\x01b".to_vec(), false)
        );
        assert_eq!(unescape(b"x\x01", 1, &mut escaped), (b"x".to_vec(), false));
        assert!(escaped);
        assert_eq!(unescape(b"qzz", 1, &mut escaped), (Vec::new(), true));
        let mut escaped = false;
        assert_eq!(
            unescape(b"\x01c", 1, &mut escaped),
            (b"\x01c".to_vec(), false)
        );
    }
}
