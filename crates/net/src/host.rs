//! The host side: checks of the host interfaces a container names, and
//! the links made for it (their container end created straight in its
//! network namespace).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::RawFd;

use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoVeth, IpVlanFlags, IpVlanMode, LinkAttribute, MacVlanMode,
};
use rtnetlink::{
    Handle, LinkIpVlan, LinkMacVlan, LinkMessageBuilder, LinkUnspec, LinkVeth, LinkVlan,
    RouteMessageBuilder,
};

use crate::error::{errno_of, netlink, Error, Result};
use crate::links;
use crate::spec::{fill_random, format_hwaddr, Gateway, Kind, NetSpec, VethMode};
use crate::Created;

/// What the container side needs from the host: the address of a
/// veth's bridge (for `gateway = auto`).
#[derive(Debug, Default, Clone)]
pub(crate) struct HostInfo {
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
}

/// Checks every spec against the host before anything is made; returns
/// the index of each spec's host interface (`link`), when it has one.
pub(crate) async fn check(h: &Handle, specs: &[NetSpec]) -> Result<Vec<Option<u32>>> {
    // The addresses in use, read only when a spec sets one.
    let mut macs: Vec<(Vec<u8>, String)> = match specs.iter().any(|s| s.hwaddr.is_some()) {
        true => links::all(h)
            .await?
            .iter()
            .filter_map(|m| Some((links::mac_of(m)?, links::name_of(m))))
            .filter(|(mac, _)| mac.len() == 6 && mac.iter().any(|b| *b != 0))
            .collect(),
        false => Vec::new(),
    };
    let mut parents = Vec::with_capacity(specs.len());
    for s in specs {
        if let Some(mac) = s.hwaddr {
            if let Some((_, user)) = macs.iter().find(|(m, _)| m[..] == mac[..]) {
                return Err(Error::DuplicateHwaddr {
                    index: s.index,
                    hwaddr: format_hwaddr(&mac),
                    user: user.clone(),
                });
            }
            macs.push((mac.to_vec(), format!("lxc.net.{}", s.index)));
        }
        parents.push(check_link(h, s).await?);
    }
    Ok(parents)
}

async fn check_link(h: &Handle, s: &NetSpec) -> Result<Option<u32>> {
    if matches!(s.kind, Kind::Empty | Kind::None) {
        return Ok(None);
    }
    if let Some(pair) = &s.veth_pair {
        if links::by_name(h, pair).await?.is_some() {
            return Err(Error::NameTaken {
                index: s.index,
                name: pair.clone(),
            });
        }
    }
    let Some(link) = &s.link else {
        return match s.kind {
            Kind::Veth => Ok(None),
            kind => Err(Error::MissingLink {
                index: s.index,
                net_type: kind.name(),
            }),
        };
    };
    match (links::by_name(h, link).await?, s.kind) {
        (None, Kind::Veth) => Err(Error::NoBridge {
            index: s.index,
            bridge: link.clone(),
        }),
        (None, _) => Err(Error::NoLink {
            index: s.index,
            link: link.clone(),
        }),
        (Some(m), Kind::Veth) if s.veth_mode == VethMode::Bridge && !links::is_bridge(&m) => {
            Err(Error::NotABridge {
                index: s.index,
                link: link.clone(),
            })
        }
        (Some(m), _) => Ok(Some(m.header.index)),
    }
}

/// Makes the links of `s` (on its host interface `parent`, from
/// [`check`]) for the container whose network namespace `netns` holds;
/// pushes what must be undone on `created`. A link made here gets its
/// hardware address, mtu and state (`flags = up`) as it is made.
pub(crate) async fn create(
    h: &Handle,
    s: &NetSpec,
    parent: Option<u32>,
    netns: RawFd,
    created: &mut Vec<Created>,
) -> Result<HostInfo> {
    let what = || format!("create lxc.net.{} ({})", s.index, s.kind.name());
    match s.kind {
        Kind::Empty | Kind::None => Ok(HostInfo::default()),
        Kind::Veth => veth(h, s, netns, parent, created).await,
        Kind::Macvlan => {
            let mode = match s.macvlan_mode.as_str() {
                "vepa" => MacVlanMode::Vepa,
                "bridge" => MacVlanMode::Bridge,
                "passthru" => MacVlanMode::Passthrough,
                _ => MacVlanMode::Private,
            };
            let b = LinkMacVlan::new(&s.name, parent.unwrap_or(0), mode);
            add(h, into_container(common(b, s), s, netns).build(), s).await
        }
        Kind::Ipvlan => {
            let mode = match s.ipvlan_mode.as_str() {
                "l2" => IpVlanMode::L2,
                "l3s" => IpVlanMode::L3S,
                _ => IpVlanMode::L3,
            };
            let flags = match s.ipvlan_isolation.as_str() {
                "private" => IpVlanFlags::Private,
                "vepa" => IpVlanFlags::Vepa,
                _ => IpVlanFlags::empty(),
            };
            let b = LinkIpVlan::new(&s.name, parent.unwrap_or(0), mode).flag(flags);
            let b = match s.mtu {
                Some(m) => b.mtu(m),
                None => b,
            };
            add(h, into_container(b, s, netns).build(), s).await
        }
        Kind::Vlan => {
            let b = LinkVlan::new(&s.name, parent.unwrap_or(0), s.vlan_id.unwrap_or(1));
            add(h, into_container(common(b, s), s, netns).build(), s).await
        }
        Kind::Phys => {
            let index = parent.unwrap_or(0);
            let msg = LinkUnspec::new_with_index(index)
                .setns_by_fd(netns)
                .name(s.name.clone())
                .build();
            h.link().set(msg).execute().await.map_err(netlink(what()))?;
            created.push(Created::Phys {
                name: s.name.clone(),
                host_name: s.link.clone().unwrap_or_default(),
            });
            Ok(HostInfo::default())
        }
    }
}

/// A link made straight in the container's namespace `netns`, up there
/// when `s` says so and its kind allows (see [`made_up`]).
fn into_container<T>(b: LinkMessageBuilder<T>, s: &NetSpec, netns: RawFd) -> LinkMessageBuilder<T> {
    let b = b.setns_by_fd(netns);
    match s.up && made_up(s) {
        true => b.up(),
        false => b,
    }
}

/// Whether a link of `s` made by [`create`] is up as it is made (with
/// `flags = up`): macvlan, ipvlan and vlan are. A veth's container end
/// is not: the kernel opens it before it knows its peer (ENOTCONN), so it
/// is brought up afterwards, as phys is.
pub(crate) fn made_up(s: &NetSpec) -> bool {
    matches!(s.kind, Kind::Macvlan | Kind::Ipvlan | Kind::Vlan)
}

async fn add(
    h: &Handle,
    msg: rtnetlink::packet_route::link::LinkMessage,
    s: &NetSpec,
) -> Result<HostInfo> {
    match h.link().add(msg).execute().await {
        Ok(()) => Ok(HostInfo::default()),
        Err(e) if errno_of(&e) == Some(libc::EOPNOTSUPP) => Err(Error::NoDriver {
            index: s.index,
            kind: s.kind.name(),
            hint: crate::driver::hint_here(s.kind.name(), s.index),
        }),
        Err(e) => Err(netlink(format!(
            "create lxc.net.{} ({})",
            s.index,
            s.kind.name()
        ))(e)),
    }
}

/// The hardware address and mtu of `s` on a link being made.
fn common<T>(b: LinkMessageBuilder<T>, s: &NetSpec) -> LinkMessageBuilder<T> {
    let b = match s.hwaddr {
        Some(mac) => b.address(mac.to_vec()),
        None => b,
    };
    match s.mtu {
        Some(m) => b.mtu(m),
        None => b,
    }
}

/// One transmit and one receive queue, asked for: what a veth uses
/// anyway, but a veth made without them gets one queue per CPU, cut down
/// to one in use while it is made, and each cut waits for an expedited
/// RCU grace period (two per pair; up to a millisecond each in a start,
/// while init's mounts keep the CPUs busy).
fn one_queue<T>(b: LinkMessageBuilder<T>) -> LinkMessageBuilder<T> {
    b.append_extra_attribute(LinkAttribute::NumTxQueues(1))
        .append_extra_attribute(LinkAttribute::NumRxQueues(1))
}

/// A generated host-side name: `veth` and 6 random characters.
pub(crate) fn veth_name() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut r = [0u8; 6];
    fill_random(&mut r);
    let tail: String = r
        .iter()
        .map(|b| CHARS[*b as usize % CHARS.len()] as char)
        .collect();
    format!("veth{tail}")
}

async fn veth(
    h: &Handle,
    s: &NetSpec,
    netns: RawFd,
    bridge: Option<u32>,
    created: &mut Vec<Created>,
) -> Result<HostInfo> {
    let host = s.veth_pair.clone().unwrap_or_else(veth_name);
    let peer = one_queue(common(LinkMessageBuilder::<LinkUnspec>::new(), s))
        .name(s.name.clone())
        .setns_by_fd(netns)
        .build();
    let mut b = one_queue(LinkMessageBuilder::<LinkVeth>::new_with_info_kind(
        InfoKind::Veth,
    ))
    .name(host.clone())
    .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)));
    if let Some(m) = s.mtu {
        b = b.mtu(m);
    }
    if let (Some(br), VethMode::Bridge) = (bridge, s.veth_mode) {
        b = b.controller(br);
    }
    let what = format!("create veth {host} of lxc.net.{}", s.index);
    h.link()
        .add(b.up().build())
        .execute()
        .await
        .map_err(netlink(what))?;
    created.push(Created::HostVeth { name: host.clone() });
    let routed = s.veth_mode == VethMode::Router
        || !s.veth_ipv4_routes.is_empty()
        || !s.veth_ipv6_routes.is_empty();
    if routed {
        let index = links::by_name(h, &host)
            .await?
            .map(|m| m.header.index)
            .unwrap_or(0);
        if s.veth_mode == VethMode::Router {
            router_routes(h, s, index, &host).await?;
        }
        for (dest, prefix) in &s.veth_ipv4_routes {
            route(h, IpAddr::V4(*dest), *prefix, index, &host).await?;
        }
        for (dest, prefix) in &s.veth_ipv6_routes {
            route(h, IpAddr::V6(*dest), *prefix, index, &host).await?;
        }
    }
    let auto = matches!(s.ipv4_gateway, Some(Gateway::Auto))
        || matches!(s.ipv6_gateway, Some(Gateway::Auto));
    match bridge {
        Some(br) if auto => bridge_info(h, br).await,
        _ => Ok(HostInfo::default()),
    }
}

/// The addresses of bridge `index` (for `gateway = auto`).
async fn bridge_info(h: &Handle, index: u32) -> Result<HostInfo> {
    let (v4, v6) = links::addresses(h, Some(index)).await?;
    Ok(HostInfo {
        ipv4: v4.first().map(|(_, a)| *a),
        ipv6: v6.first().map(|(_, a)| *a),
    })
}

/// What the container side of `s` needs from the host, when its links
/// were made by another step: its bridge's addresses.
pub(crate) async fn info_of(h: &Handle, s: &NetSpec) -> Result<HostInfo> {
    let (Kind::Veth, VethMode::Bridge, Some(link)) = (s.kind, s.veth_mode, &s.link) else {
        return Ok(HostInfo::default());
    };
    match links::by_name(h, link).await? {
        Some(m) => bridge_info(h, m.header.index).await,
        None => Ok(HostInfo::default()),
    }
}

/// Router mode: each address of the container reached through the host side.
async fn router_routes(h: &Handle, s: &NetSpec, index: u32, host: &str) -> Result<()> {
    for a in &s.ipv4 {
        route(h, IpAddr::V4(a.address), 32, index, host).await?;
    }
    for (a, _) in &s.ipv6 {
        route(h, IpAddr::V6(*a), 128, index, host).await?;
    }
    Ok(())
}

async fn route(h: &Handle, dest: IpAddr, prefix: u8, index: u32, dev: &str) -> Result<()> {
    let msg = match dest {
        IpAddr::V4(d) => RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(d, prefix)
            .output_interface(index)
            .build(),
        IpAddr::V6(d) => RouteMessageBuilder::<Ipv6Addr>::new()
            .destination_prefix(d, prefix)
            .output_interface(index)
            .build(),
    };
    h.route()
        .add(msg)
        .execute()
        .await
        .map_err(netlink(format!("add the route {dest}/{prefix} dev {dev}")))
}
