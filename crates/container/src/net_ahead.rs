//! A privileged container's network made ahead of its init: right after
//! the `pre-start` hooks, the monitor forks a helper that makes a new
//! network namespace, hands it to the monitor, and makes and configures
//! the links there (enclos-net's `prepare`), while the monitor makes the
//! cgroups, the terminals and init; init joins that namespace instead of
//! cloning one. The links then cost the start nothing on a machine with
//! two CPUs or more: they are ready by the time init has mounted its
//! rootfs.
//!
//! The helper is a process, not a thread: the monitor clones init next,
//! and a clone must not copy another thread's locks. It reports over a
//! socket: the namespace (SCM_RIGHTS), then `ok` and the lines of what it
//! made, or `error` and why (it has undone what it made then). An
//! [`Ahead`] dropped before [`Ahead::finish`] (a start that failed
//! meanwhile) waits for that report and undoes what was made.
//!
//! An unprivileged container's network namespace belongs to its user
//! namespace, which exists only with init: it keeps the usual order (init
//! cloned, then its links, through `enclos-user-nic`).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use enclos_namespaces::PidFd;
use enclos_net::{Attached, Created, Kind, NetSpec};

use crate::container::Container;
use crate::error::{chain, Error, Result};
use crate::launch::Plan;

/// What the helper writes after the namespace: the first line.
const OK: &str = "ok";
const FAILED: &str = "error";
/// The byte that stands for the namespace when the helper failed before
/// it could send it.
const NO_NETNS: u8 = b'-';

/// A network being made by the helper.
#[derive(Debug)]
pub(crate) struct Ahead {
    specs: Vec<NetSpec>,
    helper: Option<PidFd>,
    sock: Option<UnixStream>,
    /// The namespace, once received.
    netns: Option<File>,
}

/// Forks the helper when `plan` allows it: run by root, no user
/// namespace, a network namespace of init's own with at least one link to
/// make. `None` otherwise (and when the keys do not parse: the usual path
/// reports them).
pub(crate) fn start(plan: &Plan) -> Result<Option<Ahead>> {
    let eligible = nix::unistd::geteuid().is_root()
        && plan.userns.is_none()
        && plan.namespaces.contains(&enclos_namespaces::Namespace::Net);
    if !eligible {
        return Ok(None);
    }
    let Ok(specs) = crate::net::specs(&plan.config) else {
        return Ok(None);
    };
    if specs
        .iter()
        .all(|s| matches!(s.kind, Kind::Empty | Kind::None))
    {
        return Ok(None);
    }
    let name = plan.container.name().to_string();
    let (ours, theirs) = UnixStream::pair().map_err(|e| Error::Sys {
        what: "create the network helper's socket",
        name: name.clone(),
        source: nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    })?;
    let child_specs = &specs;
    // The child's copy of our end is harmless: it only writes, and exits.
    let (_, helper) =
        enclos_namespaces::spawn_pidfd(&[], move || helper_main(&name, child_specs, theirs))
            .map_err(|e| Error::StartFailed {
                name: plan.container.name().to_string(),
                reason: format!("cannot start the network helper: {}", chain(&e)),
            })?;
    Ok(Some(Ahead {
        specs,
        helper: Some(helper),
        sock: Some(ours),
        netns: None,
    }))
}

/// The helper: the namespace sent as soon as it exists, the links made,
/// the report written.
fn helper_main(name: &str, specs: &[NetSpec], mut sock: UnixStream) -> i32 {
    let span = tracing::info_span!("net", container = name).entered();
    let mut sent = false;
    let made = enclos_net::prepare(specs, |ns| {
        enclos_namespaces::send_fd(sock.as_fd(), ns.as_fd()).map_err(|e| {
            enclos_net::Error::Setup {
                what: "hand the network namespace to the monitor".into(),
                source: std::io::Error::other(chain(&e)),
            }
        })?;
        sent = true;
        Ok(())
    });
    drop(span);
    let mut report = Vec::new();
    if !sent {
        report.push(NO_NETNS);
    }
    match &made {
        Ok(a) => {
            report.extend_from_slice(OK.as_bytes());
            for c in &a.created {
                report.push(b'\n');
                report.extend_from_slice(c.to_line().as_bytes());
            }
        }
        Err(e) => {
            report.extend_from_slice(format!("{FAILED}\n{}", chain(e)).as_bytes());
        }
    }
    match sock.write_all(&report) {
        Ok(()) => 0,
        Err(_) => {
            // The monitor is gone: so must what was made.
            if let Ok(a) = &made {
                enclos_net::detach(a);
            }
            1
        }
    }
}

impl Ahead {
    /// Waits for the helper to have made the namespace init joins (see
    /// [`Ahead::netns`]).
    pub(crate) fn receive(&mut self, c: &Container) -> Result<()> {
        if self.netns.is_none() {
            let sock = self.sock.as_ref().expect("the socket stays until finish");
            let got = enclos_namespaces::recv_fd(sock.as_fd()).map_err(|e| fail(c, chain(&e)))?;
            match got {
                Some(fd) => self.netns = Some(File::from(fd)),
                None => return Err(self.failure(c)),
            }
        }
        Ok(())
    }

    /// The namespace, once [`Ahead::receive`]d.
    pub(crate) fn netns(&self) -> Option<BorrowedFd<'_>> {
        self.netns.as_ref().map(|f| f.as_fd())
    }

    /// The helper's report once it has made and configured the links:
    /// the specs and what was made, held through the namespace.
    pub(crate) fn finish(mut self, c: &Container) -> Result<(Vec<NetSpec>, Attached)> {
        self.receive(c)?;
        let created = self.report(c)?;
        let attached = Attached {
            created,
            netns: self.netns.take(),
        };
        Ok((std::mem::take(&mut self.specs), attached))
    }

    /// Reads the helper's report to its end and reaps the helper.
    fn report(&mut self, c: &Container) -> Result<Vec<Created>> {
        let mut text = String::new();
        let read = match self.sock.take() {
            Some(mut s) => s.read_to_string(&mut text).map(drop),
            None => Ok(()),
        };
        if let Some(h) = self.helper.take() {
            let _ = h.reap();
        }
        read.map_err(|e| fail(c, format!("cannot read the network helper's report: {e}")))?;
        let (head, rest) = text.split_once('\n').unwrap_or((text.as_str(), ""));
        match head {
            OK => Ok(rest.lines().filter_map(Created::from_line).collect()),
            FAILED => Err(fail(c, rest.to_string())),
            _ => Err(fail(
                c,
                "the network helper ended without a report".to_string(),
            )),
        }
    }

    /// The helper's reason, when it sent no namespace.
    fn failure(&mut self, c: &Container) -> Error {
        match self.report(c) {
            Ok(_) => fail(
                c,
                "the network helper sent no network namespace".to_string(),
            ),
            Err(e) => e,
        }
    }
}

impl Drop for Ahead {
    /// A start that failed before it took the network over: what the
    /// helper made goes (the namespace with it, unless init is in it).
    fn drop(&mut self) {
        if self.sock.is_none() && self.helper.is_none() {
            return;
        }
        let mut text = String::new();
        if let Some(mut s) = self.sock.take() {
            if self.netns.is_none() {
                // The namespace (held to give phys interfaces back), or
                // the byte that says there is none.
                if let Ok(Some(fd)) = enclos_namespaces::recv_fd(s.as_fd()) {
                    self.netns = Some(File::from(fd));
                }
            }
            let _ = s.read_to_string(&mut text);
        }
        if let Some(h) = self.helper.take() {
            let _ = h.reap();
        }
        if let Some(rest) = text.strip_prefix(OK) {
            let created: Vec<Created> = rest.lines().filter_map(Created::from_line).collect();
            enclos_net::detach(&Attached {
                created,
                netns: self.netns.take(),
            });
        }
    }
}

fn fail(c: &Container, reason: String) -> Error {
    Error::StartFailed {
        name: c.name().to_string(),
        reason,
    }
}
