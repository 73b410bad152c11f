//! Looking links and addresses up by name in the namespace of a handle.

use std::net::{Ipv4Addr, Ipv6Addr};

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressScope};
use rtnetlink::packet_route::link::{InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::Handle;

use crate::error::{errno_of, netlink, Result};

/// The link named `name`, if there is one.
pub(crate) async fn by_name(h: &Handle, name: &str) -> Result<Option<LinkMessage>> {
    match h
        .link()
        .get()
        .match_name(name.to_string())
        .execute()
        .try_next()
        .await
    {
        Ok(m) => Ok(m),
        Err(e) if errno_of(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(netlink(format!("look up interface {name}"))(e)),
    }
}

/// Removes interface `name` (when it is still there).
pub(crate) fn remove(name: &str) -> Result<()> {
    crate::rt::run(None, |h| async move {
        if let Some(m) = by_name(&h, name).await? {
            h.link()
                .del(m.header.index)
                .execute()
                .await
                .map_err(netlink(format!("remove {name}")))?;
        }
        Ok(())
    })
}

/// Every link.
pub(crate) async fn all(h: &Handle) -> Result<Vec<LinkMessage>> {
    h.link()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(netlink("list the interfaces"))
}

pub(crate) fn name_of(m: &LinkMessage) -> String {
    m.attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::IfName(n) => Some(n.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

pub(crate) fn mac_of(m: &LinkMessage) -> Option<Vec<u8>> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::Address(a) => Some(a.clone()),
        _ => None,
    })
}

pub(crate) fn is_bridge(m: &LinkMessage) -> bool {
    m.attributes.iter().any(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos
            .iter()
            .any(|i| matches!(i, LinkInfo::Kind(InfoKind::Bridge))),
        _ => false,
    })
}

pub(crate) fn is_loopback(m: &LinkMessage) -> bool {
    m.header.flags.contains(LinkFlags::Loopback)
}

/// The global addresses of link `index` (all links when None).
pub(crate) async fn addresses(
    h: &Handle,
    index: Option<u32>,
) -> Result<(Vec<(u32, Ipv4Addr)>, Vec<(u32, Ipv6Addr)>)> {
    let mut req = h.address().get();
    if let Some(i) = index {
        req = req.set_link_index_filter(i);
    }
    let msgs: Vec<_> = req
        .execute()
        .try_collect()
        .await
        .map_err(netlink("list the addresses"))?;
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for m in msgs {
        if m.header.scope != AddressScope::Universe {
            continue;
        }
        let addr = m.attributes.iter().find_map(|a| match a {
            AddressAttribute::Local(a) if m.header.family == AddressFamily::Inet => Some(*a),
            AddressAttribute::Address(a) if m.header.family == AddressFamily::Inet6 => Some(*a),
            _ => None,
        });
        match addr {
            Some(std::net::IpAddr::V4(a)) => v4.push((m.header.index, a)),
            Some(std::net::IpAddr::V6(a)) => v6.push((m.header.index, a)),
            None => {}
        }
    }
    Ok((v4, v6))
}
