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
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                if let Some(ns) = netns {
                    nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).map_err(
                        |e| Error::Setup {
                            what: "enter the container's network namespace".into(),
                            source: e.into(),
                        },
                    )?;
                }
                let setup = |source| Error::Setup {
                    what: "start a netlink connection".into(),
                    source,
                };
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build()
                    .map_err(setup)?;
                rt.block_on(async {
                    let (conn, handle, _) = rtnetlink::new_connection().map_err(setup)?;
                    let task = tokio::spawn(conn);
                    let out = work(handle).await;
                    task.abort();
                    out
                })
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

/// The network namespace of process `pid`.
pub fn netns_of(pid: i32) -> Result<std::fs::File> {
    let path = format!("/proc/{pid}/ns/net");
    std::fs::File::open(&path).map_err(|source| Error::Setup {
        what: format!("open {path}"),
        source,
    })
}
