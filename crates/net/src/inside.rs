//! The container side, run in its network namespace: loopback up, each
//! interface's hardware address, mtu, addresses, state and gateways.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::route::RouteScope;
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};

use crate::error::{netlink, Error, Result};
use crate::host::HostInfo;
use crate::links;
use crate::spec::{Gateway, Kind, NetSpec};

/// The index of loopback in every network namespace (the kernel's
/// `LOOPBACK_IFINDEX`: it is registered first, with this index).
const LOOPBACK_INDEX: u32 = 1;

/// Loopback up.
pub(crate) async fn loopback_up(h: &Handle) -> Result<()> {
    let msg = LinkUnspec::new_with_index(LOOPBACK_INDEX).up().build();
    h.link()
        .set(msg)
        .execute()
        .await
        .map_err(netlink("bring lo up in the container"))
}

/// Configures interface `s.name` of the container; its hardware address
/// and mtu too when `set_link` (a link made without them: phys, or a
/// user's veth), and its state unless it was made up (see
/// [`crate::host::made_up`]).
pub(crate) async fn configure(
    h: &Handle,
    s: &NetSpec,
    host: &HostInfo,
    set_link: bool,
) -> Result<()> {
    if matches!(s.kind, Kind::Empty | Kind::None) {
        return Ok(());
    }
    let dev = &s.name;
    let index = links::by_name(h, dev)
        .await?
        .ok_or_else(|| Error::Setup {
            what: format!("find {dev} in the container"),
            source: std::io::Error::from_raw_os_error(libc::ENODEV),
        })?
        .header
        .index;
    let bring_up = s.up && (set_link || !crate::host::made_up(s));
    if set_link || bring_up {
        let mut b = LinkUnspec::new_with_index(index);
        if let (Some(mac), true) = (s.hwaddr, set_link) {
            b = b.address(mac.to_vec());
        }
        if let (Some(mtu), true) = (s.mtu, set_link) {
            b = b.mtu(mtu);
        }
        if bring_up {
            b = b.up();
        }
        h.link()
            .set(b.build())
            .execute()
            .await
            .map_err(netlink(format!("set up {dev} in the container")))?;
    }
    for a in &s.ipv4 {
        let mut req = h.address().add(index, IpAddr::V4(a.address), a.prefix);
        req.message_mut()
            .attributes
            .push(AddressAttribute::Broadcast(a.broadcast()));
        req.execute().await.map_err(netlink(format!(
            "add {}/{} to {dev} in the container",
            a.address, a.prefix
        )))?;
    }
    for (a, p) in &s.ipv6 {
        h.address()
            .add(index, IpAddr::V6(*a), *p)
            .execute()
            .await
            .map_err(netlink(format!("add {a}/{p} to {dev} in the container")))?;
    }
    if s.up {
        gateway4(h, s, index, host).await?;
        gateway6(h, s, index, host).await?;
    }
    Ok(())
}

async fn gateway4(h: &Handle, s: &NetSpec, index: u32, host: &HostInfo) -> Result<()> {
    let what = || format!("add the IPv4 default route of lxc.net.{}", s.index);
    let b = RouteMessageBuilder::<Ipv4Addr>::new().output_interface(index);
    let gw = match s.ipv4_gateway {
        None => return Ok(()),
        Some(Gateway::Dev) => {
            let msg = b.scope(RouteScope::Link).build();
            return h.route().add(msg).execute().await.map_err(netlink(what()));
        }
        Some(Gateway::Auto) => host.ipv4.ok_or_else(|| no_auto(s, "ipv4"))?,
        Some(Gateway::Address(a)) => a,
    };
    if !s.ipv4.iter().any(|n| n.contains(gw)) {
        // A gateway outside the subnet: reached on the link first, as LXC does.
        let msg = RouteMessageBuilder::<Ipv4Addr>::new()
            .output_interface(index)
            .destination_prefix(gw, 32)
            .scope(RouteScope::Link)
            .build();
        h.route()
            .add(msg)
            .execute()
            .await
            .map_err(netlink(what()))?;
    }
    let msg = b.gateway(gw).build();
    h.route().add(msg).execute().await.map_err(netlink(what()))
}

async fn gateway6(h: &Handle, s: &NetSpec, index: u32, host: &HostInfo) -> Result<()> {
    let what = || format!("add the IPv6 default route of lxc.net.{}", s.index);
    let b = RouteMessageBuilder::<Ipv6Addr>::new().output_interface(index);
    let gw = match s.ipv6_gateway {
        None => return Ok(()),
        Some(Gateway::Dev) => {
            let msg = b.scope(RouteScope::Link).build();
            return h.route().add(msg).execute().await.map_err(netlink(what()));
        }
        Some(Gateway::Auto) => host.ipv6.ok_or_else(|| no_auto(s, "ipv6"))?,
        Some(Gateway::Address(a)) => a,
    };
    let msg = b.gateway(gw).build();
    h.route().add(msg).execute().await.map_err(netlink(what()))
}

fn no_auto(s: &NetSpec, family: &str) -> Error {
    Error::InvalidValue {
        index: s.index,
        key: format!("{family}.gateway"),
        value: "auto".into(),
        expected: format!(
            "an address: 'auto' takes the {family} address of lxc.net.{}.link, which has none",
            s.index
        ),
    }
}
