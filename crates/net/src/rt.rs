//! Where netlink work runs: a thread of its own (in the caller's network
//! namespace or, after `setns`, in a container's) with a current-thread
//! tokio runtime that ends with it. The caller is single-threaded again
//! once it returns, so it may fork or clone afterwards.

use std::future::Future;
use std::os::fd::AsFd;

use rtnetlink::Handle;

use crate::error::{Error, Result};

/// Runs `work` with a netlink handle in a new thread, inside the network
/// namespace `netns` when given, and waits for it.
pub(crate) fn run<T, F, Fut>(netns: Option<&std::fs::File>, work: F) -> Result<T>
where
    T: Send,
    F: FnOnce(Handle) -> Fut + Send,
    Fut: Future<Output = Result<T>>,
{
    run_async(move || async move {
        if let Some(ns) = netns {
            enter(ns)?;
        }
        let conn = connect()?;
        work(conn.handle.clone()).await
    })
}

/// Runs `work` in a new thread on a current-thread runtime that ends with
/// it, and waits for it: for work that needs more than one connection
/// ([`connect`]), e.g. the host's, then, after [`enter`], a container's.
pub(crate) fn run_async<T, F, Fut>(work: F) -> Result<T>
where
    T: Send,
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = Result<T>>,
{
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build()
                    .map_err(|source| Error::Setup {
                        what: "start a netlink connection".into(),
                        source,
                    })?;
                rt.block_on(work())
            })
            .join()
            .unwrap_or_else(|_| {
                Err(Error::Setup {
                    what: "run the netlink thread".into(),
                    source: std::io::Error::other("it panicked"),
                })
            })
    })
}

/// A netlink connection, its task stopped when dropped.
pub(crate) struct Conn {
    pub handle: Handle,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A netlink connection in the calling thread's network namespace, its
/// task on the current runtime (within [`run_async`]).
pub(crate) fn connect() -> Result<Conn> {
    let (conn, handle, _) = rtnetlink::new_connection().map_err(|source| Error::Setup {
        what: "start a netlink connection".into(),
        source,
    })?;
    Ok(Conn {
        handle,
        task: tokio::spawn(conn),
    })
}

/// Moves the calling thread, a thread of [`run_async`] (which ends with
/// its work), into the network namespace `ns`.
pub(crate) fn enter(ns: &std::fs::File) -> Result<()> {
    nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| Error::Setup {
        what: "enter the container's network namespace".into(),
        source: e.into(),
    })
}

/// The network namespace of process `pid`.
pub fn netns_of(pid: i32) -> Result<std::fs::File> {
    let path = format!("/proc/{pid}/ns/net");
    std::fs::File::open(&path).map_err(|source| Error::Setup {
        what: format!("open {path}"),
        source,
    })
}
