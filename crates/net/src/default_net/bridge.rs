//! The default network's bridge, through rtnetlink: made (or found),
//! given its address, brought up; its ports; removed.

use std::net::{IpAddr, Ipv4Addr};

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::{Handle, LinkBridge, LinkUnspec};

use crate::error::{netlink, Result};
use crate::links;
use crate::rt;

/// The bridge as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeState {
    /// Whether the interface of that name is a bridge at all.
    pub is_bridge: bool,
    pub up: bool,
    /// Its IPv4 addresses with their prefixes.
    pub addresses: Vec<(Ipv4Addr, u8)>,
    /// The interfaces enslaved to it.
    pub ports: Vec<String>,
}

/// The interface `name`, if there is one.
pub(crate) fn state(name: &str) -> Result<Option<BridgeState>> {
    rt::run(None, |h| async move {
        let Some(m) = links::by_name(&h, name).await? else {
            return Ok(None);
        };
        let index = m.header.index;
        let all = links::all(&h).await?;
        let ports = all
            .iter()
            .filter(|l| controller_of(l) == Some(index))
            .map(links::name_of)
            .collect();
        Ok(Some(BridgeState {
            is_bridge: links::is_bridge(&m),
            up: m.header.flags.contains(LinkFlags::Up),
            addresses: v4_addresses(&h, index).await?,
            ports,
        }))
    })
}

fn controller_of(m: &LinkMessage) -> Option<u32> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::Controller(i) => Some(*i),
        _ => None,
    })
}

async fn v4_addresses(h: &Handle, index: u32) -> Result<Vec<(Ipv4Addr, u8)>> {
    let msgs: Vec<_> = h
        .address()
        .get()
        .set_link_index_filter(index)
        .execute()
        .try_collect()
        .await
        .map_err(netlink("list the bridge's addresses"))?;
    Ok(msgs
        .iter()
        .filter_map(|m| {
            m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(IpAddr::V4(a)) => Some((*a, m.header.prefix_len)),
                _ => None,
            })
        })
        .collect())
}

/// Makes bridge `name` with hardware address `mac`.
pub(crate) fn create(name: &str, mac: [u8; 6]) -> Result<()> {
    rt::run(None, |h| async move {
        let msg = LinkBridge::new(name).address(mac.to_vec()).build();
        h.link()
            .add(msg)
            .execute()
            .await
            .map_err(netlink(format!("create bridge {name}")))
    })
}

/// Adds each `address/prefix` to `name` and brings it up. Returns those
/// it added (one already there is left as it is).
pub(crate) fn configure(name: &str, addresses: &[(IpAddr, u8)]) -> Result<Vec<(IpAddr, u8)>> {
    rt::run(None, |h| async move {
        let Some(m) = links::by_name(&h, name).await? else {
            return Ok(Vec::new());
        };
        let index = m.header.index;
        let mut added = Vec::new();
        for &(a, p) in addresses {
            match h.address().add(index, a, p).execute().await {
                Ok(()) => added.push((a, p)),
                Err(e) if crate::error::errno_of(&e) == Some(libc::EEXIST) => {}
                Err(e) => return Err(netlink(format!("add {a}/{p} to {name}"))(e)),
            }
        }
        let msg = LinkUnspec::new_with_index(index).up().build();
        h.link()
            .set(msg)
            .execute()
            .await
            .map_err(netlink(format!("bring {name} up")))?;
        Ok(added)
    })
}

/// Removes `address/prefix` from `name` (when both are still there).
pub(crate) fn remove_address(name: &str, address: IpAddr, prefix: u8) -> Result<()> {
    rt::run(None, |h| async move {
        let Some(m) = links::by_name(&h, name).await? else {
            return Ok(());
        };
        let msgs: Vec<_> = h
            .address()
            .get()
            .set_link_index_filter(m.header.index)
            .execute()
            .try_collect()
            .await
            .map_err(netlink(format!("list the addresses of {name}")))?;
        for msg in msgs {
            let ours = msg.header.prefix_len == prefix
                && msg.attributes.contains(&AddressAttribute::Local(address));
            if ours {
                h.address()
                    .del(msg)
                    .execute()
                    .await
                    .map_err(netlink(format!("remove {address}/{prefix} from {name}")))?;
            }
        }
        Ok(())
    })
}

/// Removes interface `name` (when it is still there).
pub(crate) fn remove(name: &str) -> Result<()> {
    links::remove(name)
}
