//! Statistics of a container's interfaces, read over netlink in its
//! network namespace.

use std::net::{Ipv4Addr, Ipv6Addr};

use rtnetlink::packet_route::link::LinkAttribute;

use crate::error::Result;
use crate::{links, rt};

/// One interface of a container (loopback aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStats {
    /// Its name in the container.
    pub name: String,
    /// Bytes it received.
    pub rx_bytes: u64,
    /// Bytes it sent.
    pub tx_bytes: u64,
    /// Its global IPv4 addresses.
    pub ipv4: Vec<Ipv4Addr>,
    /// Its global IPv6 addresses.
    pub ipv6: Vec<Ipv6Addr>,
}

/// The interfaces of the network namespace of process `pid`.
pub fn stats(pid: i32) -> Result<Vec<LinkStats>> {
    let ns = rt::netns_of(pid)?;
    rt::run(Some(&ns), |h| async move {
        let all = links::all(&h).await?;
        let (v4, v6) = links::addresses(&h, None).await?;
        Ok(all
            .iter()
            .filter(|m| !links::is_loopback(m))
            .map(|m| {
                let i = m.header.index;
                let (rx, tx) = m
                    .attributes
                    .iter()
                    .find_map(|a| match a {
                        LinkAttribute::Stats64(s) => Some((s.rx_bytes, s.tx_bytes)),
                        _ => None,
                    })
                    .unwrap_or((0, 0));
                LinkStats {
                    name: links::name_of(m),
                    rx_bytes: rx,
                    tx_bytes: tx,
                    ipv4: v4
                        .iter()
                        .filter(|(l, _)| *l == i)
                        .map(|(_, a)| *a)
                        .collect(),
                    ipv6: v6
                        .iter()
                        .filter(|(l, _)| *l == i)
                        .map(|(_, a)| *a)
                        .collect(),
                }
            })
            .collect())
    })
}
