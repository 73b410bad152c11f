//! Forking is only sound in a process with one thread: a child of fork(2)
//! that runs our code could find the allocator's lock taken by a thread
//! that is not there any more.

use crate::container::Container;
use crate::error::{Error, Result};

/// start, execute and attach fork and run our code in the child: a
/// library caller with threads gets this error instead (the CLI creates
/// none).
pub(crate) fn refuse_threads(c: &Container, what: &str) -> Result<()> {
    if !enclos_namespaces::multi_threaded() {
        return Ok(());
    }
    Err(Error::Unsupported(format!(
        "Cannot {what} container '{}' from a process with several threads: it forks, which is only sound in a single-threaded process; call it before creating threads, or run the enclos command",
        c.name()
    )))
}
