//! The monitor's abstract unix socket, where console clients reach it.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::time::Duration;

use crate::container::Container;
use crate::error::{Error, Result};

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

#[cfg(test)]
mod tests {
    use super::*;

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
