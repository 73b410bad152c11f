//! Where netlink work runs: a thread of its own (in the caller's network
//! namespace or, after `setns`, in a container's; or with a handle in
//! each, see [`run_pair`]) with a current-thread tokio runtime that ends
//! with it. The caller is single-threaded again once it returns, so it may
//! fork or clone afterwards.

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
    in_thread(|| async {
        if let Some(ns) = netns {
            join(ns)?;
        }
        let (task, handle) = connection()?;
        let out = work(handle).await;
        task.abort();
        out
    })
}

/// Runs `work` in a new thread with two netlink handles: one in the
/// caller's network namespace, one in `netns`, which the thread enters
/// once the first is made. The caller's own namespace never changes.
pub(crate) fn run_pair<T, F, Fut>(netns: &std::fs::File, work: F) -> Result<T>
where
    T: Send,
    F: FnOnce(Handle, Handle) -> Fut + Send,
    Fut: Future<Output = Result<T>>,
{
    in_thread(|| async {
        // Each socket works in the namespace it was made in.
        let (host_task, host) = connection()?;
        join(netns)?;
        let (task, inside) = connection()?;
        let out = work(host, inside).await;
        host_task.abort();
        task.abort();
        out
    })
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
