//! Requests of console clients on the monitor's socket.

use std::os::unix::net::UnixStream;

/// A console client attached to one tty.
pub(super) struct Session {
    pub stream: UnixStream,
    pub tty: usize,
}

/// A request line: `console N` (returns the tty to attach to) or `state`.
/// `console` is false when the container has none (tty 0).
pub(super) fn handle_request(
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
}
