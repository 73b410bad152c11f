//! Container networking through rtnetlink, as LXC's `lxc.net.N.*` keys
//! describe it: veth pairs on a bridge (or in router mode), macvlan,
//! ipvlan, vlan and phys interfaces moved into a container's network
//! namespace, with hardware address, mtu, addresses, gateways and routes;
//! and the statistics of a container's interfaces.
//!
//! rtnetlink is async: each call here runs its netlink work on a
//! current-thread tokio runtime that ends with the call, so the caller
//! has no thread more when it returns and may fork or clone afterwards.
//! The work runs on the caller's thread (a thread of its own for a caller
//! inside a tokio runtime), which enters a container's network namespace
//! only to open a netlink socket there and comes back at once; reading
//! from inside a namespace alone ([`stats`]) enters it from a thread of
//! its own.
//!
//! ```no_run
//! use enclos_net::{attach, detach, Kind, NetSpec};
//! # fn main() -> enclos_net::Result<()> {
//! let spec = NetSpec::parse(0, Kind::Veth, &[("link", "br0"), ("flags", "up"),
//!     ("ipv4.address", "10.0.3.5/24")])?;
//! let pid = 1234; // a process in the network namespace to fill
//! let attached = attach(&[spec], pid)?;
//! // ... the container runs ...
//! detach(&attached);
//! # Ok(()) }
//! ```

// unsafe only in nsowner's two ioctl wrappers.
#![deny(unsafe_code)]

// The README's example is compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

pub mod default_net;
mod driver;
mod error;
mod host;
mod inside;
mod links;
#[allow(unsafe_code)]
pub mod nsowner;
mod rt;
mod spec;
mod stats;
pub mod usernic;

pub use error::{Error, Result};
pub use rt::netns_of;
pub use spec::{format_hwaddr, hwaddr, Gateway, Ipv4Net, Kind, NetSpec, VethMode};
pub use stats::{stats, LinkStats};

/// Something made or moved on the host for a container, to undo at stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// The host side of a veth pair.
    HostVeth { name: String },
    /// A host interface moved into the container as `name`, given back as
    /// `host_name`.
    Phys { name: String, host_name: String },
}

impl Created {
    /// One line for a run file.
    pub fn to_line(&self) -> String {
        match self {
            Created::HostVeth { name } => format!("veth {name}"),
            Created::Phys { name, host_name } => format!("phys {name} {host_name}"),
        }
    }

    /// A line of [`Created::to_line`].
    pub fn from_line(line: &str) -> Option<Created> {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["veth", name] => Some(Created::HostVeth {
                name: name.to_string(),
            }),
            ["phys", name, host] => Some(Created::Phys {
                name: name.to_string(),
                host_name: host.to_string(),
            }),
            _ => None,
        }
    }
}

/// The networks of a running container: what was made, and a reference
/// to its network namespace (which keeps it alive until [`detach`]).
#[derive(Debug)]
pub struct Attached {
    pub created: Vec<Created>,
    /// The container's network namespace.
    pub netns: Option<std::fs::File>,
}

/// Sets up `specs` for the container whose init is `pid` (in its own
/// network namespace, waiting): checks the host interfaces, makes the
/// links (their container end straight in its namespace), then configures
/// them there. On failure nothing made is left behind.
pub fn attach(specs: &[NetSpec], pid: i32) -> Result<Attached> {
    use std::os::fd::AsRawFd;
    let netns = rt::netns_of(pid)?;
    let ns = netns.as_raw_fd();
    // One thread: the host's handle makes the links, their container end
    // straight in the namespace, whose handle then configures them.
    let (created, result) = rt::run_pair(&netns, |host, inner| async move {
        let mut created = Vec::new();
        let result = async {
            let parents = host::check(&host, specs).await?;
            let mut infos = Vec::with_capacity(specs.len());
            for (s, parent) in specs.iter().zip(parents) {
                infos.push(host::create(&host, s, parent, ns, &mut created).await?);
            }
            inside::loopback_up(&inner).await?;
            for (s, info) in specs.iter().zip(&infos) {
                inside::configure(&inner, s, info, s.kind == Kind::Phys).await?;
            }
            Ok(())
        }
        .await;
        Ok((created, result))
    })?;
    let attached = Attached {
        created,
        netns: Some(netns),
    };
    match result {
        Ok(()) => Ok(attached),
        Err(e) => {
            detach(&attached);
            Err(e)
        }
    }
}

/// Configures, inside the network namespace `netns`, the interfaces of
/// `specs` that another step made there already (an unprivileged
/// container's veths, made by `enclos-user-nic`): hardware address, mtu,
/// addresses, state, gateways (`auto`: the bridge's address, read on the
/// caller's side). The caller must be allowed to enter `netns`: an
/// unprivileged one joins the user namespace owning it first.
pub fn configure_inside(specs: &[NetSpec], netns: &std::fs::File) -> Result<()> {
    let infos = rt::run(None, |h| async move {
        let mut infos = Vec::new();
        for s in specs {
            infos.push(host::info_of(&h, s).await?);
        }
        Ok(infos)
    })?;
    rt::run(Some(netns), |h| async move {
        inside::loopback_up(&h).await?;
        for (s, info) in specs.iter().zip(&infos) {
            inside::configure(&h, s, info, true).await?;
        }
        Ok(())
    })
}

/// Undoes [`attach`]: phys interfaces go back to the host under their
/// name (while the container's namespace is still held), host veths are
/// removed. Errors are logged: this runs on the way out.
pub fn detach(attached: &Attached) {
    undo(&attached.created, attached.netns.as_ref());
}

/// Undoes `created` (from a run file when the monitor is gone: phys
/// interfaces can only be given back while `netns` is held).
pub fn undo(created: &[Created], netns: Option<&std::fs::File>) {
    let phys: Vec<&Created> = created
        .iter()
        .filter(|c| matches!(c, Created::Phys { .. }))
        .collect();
    if let (Some(ns), false) = (netns, phys.is_empty()) {
        let host = match std::fs::File::open("/proc/self/ns/net") {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!("cannot give phys interfaces back: {e}");
                return;
            }
        };
        let r = rt::run(Some(ns), |h| async move {
            for c in phys {
                if let Created::Phys { name, host_name } = c {
                    give_back(&h, name, host_name, &host).await;
                }
            }
            Ok(())
        });
        if let Err(e) = r {
            tracing::warn!("cannot give phys interfaces back: {e}");
        }
    }
    let r = rt::run(None, |h| async move {
        for c in created {
            if let Created::HostVeth { name } = c {
                if let Some(m) = links::by_name(&h, name).await? {
                    if let Err(e) = h.link().del(m.header.index).execute().await {
                        tracing::warn!("cannot remove {name}: {}", error::io_of(&e));
                    }
                }
            }
        }
        Ok(())
    });
    if let Err(e) = r {
        tracing::warn!("cannot remove the host veths: {e}");
    }
}

async fn give_back(h: &rtnetlink::Handle, name: &str, host_name: &str, host: &std::fs::File) {
    use std::os::fd::AsRawFd;
    let Ok(Some(m)) = links::by_name(h, name).await else {
        tracing::warn!("{name} is no longer in the container: cannot give it back as {host_name}");
        return;
    };
    let msg = rtnetlink::LinkUnspec::new_with_index(m.header.index)
        .down()
        .setns_by_fd(host.as_raw_fd())
        .name(host_name.to_string())
        .build();
    if let Err(e) = h.link().set(msg).execute().await {
        tracing::warn!(
            "cannot give {name} back as {host_name}: {}",
            error::io_of(&e)
        );
    }
}

/// Whether interface `name` exists in the caller's network namespace.
pub fn link_exists(name: &str) -> Result<bool> {
    rt::run(None, |h| async move {
        Ok(links::by_name(&h, name).await?.is_some())
    })
}
