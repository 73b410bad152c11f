//! Where netlink work runs: a current-thread tokio runtime that ends with
//! the call, so the caller has no thread more once it returns and may
//! fork or clone afterwards.
//!
//! Work in the caller's network namespace, and work with a handle in a
//! container's ([`run_pair`]), runs on the caller's own thread: the
//! container's namespace is entered only to open the netlink socket there
//! (a socket stays in the namespace it was made in), and left at once.
//! No thread to start and schedule: in a start, when both CPUs of a small
//! host are busy with init's mounts, a new thread could wait a millisecond
//! to run. A caller already inside a tokio runtime gets a thread of its
//! own instead, since runtimes do not nest.
//!
//! Work inside a container's namespace with no handle outside ([`run`]
//! with a namespace) runs in a thread of its own, which enters it for
//! good: its caller (an unprivileged one, in the user namespace owning the
//! container's) may not be allowed back into its own namespace.

use std::future::Future;
use std::os::fd::AsFd;

use rtnetlink::Handle;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};

/// Runs `work` with a netlink handle in a new thread, inside the network
/// namespace `netns` when given, and waits for it.
pub(crate) fn run<T, F, Fut>(netns: Option<&std::fs::File>, work: F) -> Result<T>
where
    T: Send,
    F: FnOnce(Handle) -> Fut + Send,
    Fut: Future<Output = Result<T>>,
{
    let make = || async {
        if let Some(ns) = netns {
            join(ns)?;
        }
        let (task, handle) = connection()?;
        let out = work(handle).await;
        task.abort();
        out
    };
    match netns {
        Some(_) => in_thread(make),
        None => on_caller(make),
    }
}

/// Runs `work` with two netlink handles: one in the caller's network
/// namespace, one in `netns`, whose socket is opened there
/// ([`connection_in`]). The caller ends in its own namespace.
pub(crate) fn run_pair<T, F, Fut>(netns: &std::fs::File, work: F) -> Result<T>
where
    T: Send,
    F: FnOnce(Handle, Handle) -> Fut + Send,
    Fut: Future<Output = Result<T>>,
{
    on_caller(|| async {
        // Each socket works in the namespace it was made in.
        let (host_task, host) = connection()?;
        let (task, inside) = connection_in(netns)?;
        let out = work(host, inside).await;
        host_task.abort();
        task.abort();
        out
    })
}

/// Runs the future `make` gives on a current-thread runtime on this
/// thread, or in a new one when this thread is inside a runtime already.
fn on_caller<T, M, Fut>(make: M) -> Result<T>
where
    T: Send,
    M: FnOnce() -> Fut + Send,
    Fut: Future<Output = Result<T>>,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        return in_thread(make);
    }
    runtime()?.block_on(make())
}

/// Runs the future `make` gives on a current-thread runtime in a new
/// thread, and waits for it.
fn in_thread<T, M, Fut>(make: M) -> Result<T>
where
    T: Send,
    M: FnOnce() -> Fut + Send,
    Fut: Future<Output = Result<T>>,
{
    std::thread::scope(|scope| {
        scope
            .spawn(move || runtime()?.block_on(make()))
            .join()
            .unwrap_or_else(|_| Err(panicked()))
    })
}

/// A netlink connection in this thread's network namespace: its task
/// (running on the runtime) and its handle.
fn connection() -> Result<(JoinHandle<()>, Handle)> {
    let (conn, handle, _) = rtnetlink::new_connection().map_err(connect)?;
    Ok((tokio::spawn(conn), handle))
}

/// A netlink connection in the network namespace `ns`: this thread
/// enters it to make the socket, and comes back to its own.
fn connection_in(ns: &std::fs::File) -> Result<(JoinHandle<()>, Handle)> {
    let own = std::fs::File::open("/proc/thread-self/ns/net").map_err(|source| Error::Setup {
        what: "open this thread's network namespace".into(),
        source,
    })?;
    join(ns)?;
    let made = connection();
    nix::sched::setns(own.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
        Error::Setup {
            what: "come back from the container's network namespace".into(),
            source: e.into(),
        }
    })?;
    made
}

/// Enters the network namespace `ns` (this thread only).
fn join(ns: &std::fs::File) -> Result<()> {
    nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| Error::Setup {
        what: "enter the container's network namespace".into(),
        source: e.into(),
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(connect)
}

fn connect(source: std::io::Error) -> Error {
    Error::Setup {
        what: "start a netlink connection".into(),
        source,
    }
}

fn panicked() -> Error {
    Error::Setup {
        what: "run the netlink thread".into(),
        source: std::io::Error::other("it panicked"),
    }
}

/// The network namespace of process `pid`.
pub fn netns_of(pid: i32) -> Result<std::fs::File> {
    let path = format!("/proc/{pid}/ns/net");
    std::fs::File::open(&path).map_err(|source| Error::Setup {
        what: format!("open {path}"),
        source,
    })
}
