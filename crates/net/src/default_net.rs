//! The default network that Debian's lxc-net makes, for hosts without it:
//! a bridge (`lxcbr0`, 10.0.3.1/24), forwarding, NAT of its network
//! through an nftables table of its own, and dnsmasq serving DHCP and DNS
//! on the bridge alone. Settings come from lxc-net's file
//! (`/etc/default/lxc-net`) when there is one, and from the `net.*` keys of
//! `/etc/enclos/enclos.conf` over them (see [`Settings`]). With
//! `LXC_IPV6_ADDR` (and `LXC_IPV6_MASK`, 64 by default) the bridge gets
//! that IPv6 address too, IPv6 forwarding is switched on
//! (net.ipv6.conf.all.forwarding) and dnsmasq sends router advertisements
//! for its network (`--enable-ra --dhcp-range=ADDR,ra-only`), as lxc-net
//! does; `LXC_IPV6_NAT=true` masquerades it in the same table.
//!
//! The bridge keeps lxc-net's name, lxcbr0, by default rather than one of
//! enclos's own: the course's configs and LXC's default.conf name lxcbr0
//! (`net.bridge = enclosbr0` in enclos.conf names another).
//!
//! [`up`] is idempotent and notes what it makes in the run directory;
//! [`down`] removes what was noted and nothing else (a bridge or an
//! address that was there before stays, ip_forward and IPv6 forwarding
//! get their old values).
//!
//! ```no_run
//! use enclos_net::default_net::{self, Paths};
//! # fn main() -> Result<(), default_net::Error> {
//! let paths = Paths::default();
//! default_net::up(&paths)?;
//! println!("{:?}", default_net::status(&paths)?);
//! default_net::down(&paths)?;
//! # Ok(()) }
//! ```

mod bridge;
mod dnsmasq;
mod error;
mod nft;
mod record;
mod settings;
mod tools;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub use bridge::BridgeState;
pub use error::{Error, Result};
pub use nft::TABLE;
pub use settings::{Settings, CONF_KEYS, CONF_PATH, DEFAULT_PATH};

use error::file;
use record::{Made, Record};

/// The files the default network reads and writes.
#[derive(Debug, Clone)]
pub struct Paths {
    /// lxc-net's settings (`/etc/default/lxc-net`).
    pub settings: PathBuf,
    /// enclos's settings (`/etc/enclos/enclos.conf`), whose `net.*` keys
    /// win over lxc-net's.
    pub conf: PathBuf,
    /// What `up` made, dnsmasq's pid and leases (`/run/enclos/net`).
    pub run_dir: PathBuf,
    /// The sysctl tree (`/proc/sys`), for ip_forward.
    pub proc_sys: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            settings: PathBuf::from(DEFAULT_PATH),
            conf: PathBuf::from(CONF_PATH),
            run_dir: PathBuf::from("/run/enclos/net"),
            proc_sys: PathBuf::from("/proc/sys"),
        }
    }
}

impl Paths {
    fn forward(&self) -> PathBuf {
        self.proc_sys.join("net/ipv4/ip_forward")
    }

    fn forward6(&self) -> PathBuf {
        self.proc_sys.join("net/ipv6/conf/all/forwarding")
    }

    /// The settings of both files.
    pub fn read_settings(&self) -> Result<Settings> {
        Settings::load(&self.settings, Some(&self.conf))
    }
}

/// What [`up`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `USE_LXC_BRIDGE` (`net.use_bridge`) is not true in the settings:
    /// nothing was made.
    Disabled,
    /// The network is up; `made` lists what this call made (empty when it
    /// was up already).
    Up {
        settings: Settings,
        made: Vec<String>,
    },
}

/// Makes the default network, or what is missing of it. On failure what
/// this call made is removed again.
pub fn up(paths: &Paths) -> Result<Outcome> {
    let s = paths.read_settings()?;
    if !s.use_bridge {
        return Ok(Outcome::Disabled);
    }
    require_root("up")?;
    let _lock = lock(&paths.run_dir)?;
    let mut record = Record::open(&paths.run_dir)?;
    let before = record.made.len();
    let result = make(paths, &s, &mut record);
    let made: Vec<String> = record.made[before..].iter().map(describe).collect();
    match result {
        Ok(()) => Ok(Outcome::Up { settings: s, made }),
        Err(e) => {
            let new = record.made.split_off(before);
            if let Err(undo) = remove(paths, &new) {
                tracing::warn!("cannot undo a failed `net up`: {undo}");
            }
            if record.made.is_empty() {
                let _ = record.remove();
            }
            Err(e)
        }
    }
}

fn make(paths: &Paths, s: &Settings, record: &mut Record) -> Result<()> {
    let bridge_error = |st: &Option<BridgeState>| match st {
        Some(b) if !b.is_bridge => Err(Error::NotABridge {
            name: s.bridge.clone(),
            settings: paths.settings.clone(),
            conf: paths.conf.clone(),
        }),
        _ => Ok(()),
    };
    let found = bridge::state(&s.bridge)?;
    bridge_error(&found)?;
    if found.is_none() {
        bridge::create(&s.bridge, s.bridge_mac)?;
        record.add(Made::Bridge(s.bridge.clone()))?;
    }
    let has = found
        .as_ref()
        .is_some_and(|b| b.addresses.contains(&(s.address, s.prefix)));
    let mut addresses: Vec<(IpAddr, u8)> = Vec::new();
    if !has {
        addresses.push((IpAddr::V4(s.address), s.prefix));
    }
    if let Some(a6) = s.ipv6 {
        addresses.push((IpAddr::V6(a6), s.ipv6_prefix));
    }
    let added = bridge::configure(&s.bridge, &addresses)?;
    if found.is_some() {
        for (a, p) in added {
            record.add(Made::Address(s.bridge.clone(), a, p))?;
        }
    }
    if let Some(old) = switch_on(&paths.forward())? {
        record.add(Made::Forward(old))?;
    }
    if s.ipv6.is_some() {
        if let Some(old) = switch_on(&paths.forward6())? {
            record.add(Made::Forward6(old))?;
        }
    }
    nft::load(s)?;
    record.add(Made::Nft)?;
    if dnsmasq::running(&paths.run_dir).is_none() {
        dnsmasq::start(s, &paths.run_dir)?;
        record.add(Made::Dnsmasq)?;
    }
    Ok(())
}

/// Writes 1 to the sysctl `path`; its old value when it was not 1.
fn switch_on(path: &Path) -> Result<Option<String>> {
    let old = std::fs::read_to_string(path).map_err(file("read", path))?;
    if old.trim() == "1" {
        return Ok(None);
    }
    std::fs::write(path, "1\n").map_err(file("write", path))?;
    Ok(Some(old.trim().to_string()))
}

fn describe(m: &Made) -> String {
    match m {
        Made::Bridge(n) => format!("bridge {n}"),
        Made::Address(n, a, p) => format!("address {a}/{p} on {n}"),
        Made::Forward(_) => "ip_forward = 1".into(),
        Made::Forward6(_) => "net.ipv6.conf.all.forwarding = 1".into(),
        Made::Nft => format!("nftables table {TABLE}"),
        Made::Dnsmasq => "dnsmasq".into(),
    }
}

/// Removes what [`up`] made; returns what was removed (nothing when the
/// network was not up). A bridge that still has ports stops it before
/// anything is removed.
pub fn down(paths: &Paths) -> Result<Vec<String>> {
    require_root("down")?;
    let _lock = lock(&paths.run_dir)?;
    let record = Record::open(&paths.run_dir)?;
    for m in &record.made {
        if let Made::Bridge(name) = m {
            if let Some(b) = bridge::state(name)?.filter(|b| !b.ports.is_empty()) {
                return Err(Error::Busy {
                    bridge: name.clone(),
                    ports: b.ports.join(", "),
                });
            }
        }
    }
    remove(paths, &record.made)?;
    let removed = record
        .made
        .iter()
        .map(|m| match m {
            Made::Forward(old) => format!("ip_forward (back to {old})"),
            Made::Forward6(old) => format!("net.ipv6.conf.all.forwarding (back to {old})"),
            m => describe(m),
        })
        .collect();
    record.remove()?;
    Ok(removed)
}

/// Undoes `made`, last first.
fn remove(paths: &Paths, made: &[Made]) -> Result<()> {
    for m in made.iter().rev() {
        match m {
            Made::Dnsmasq => dnsmasq::stop(&paths.run_dir)?,
            Made::Nft => nft::delete()?,
            Made::Forward(old) => {
                let forward = paths.forward();
                std::fs::write(&forward, format!("{old}\n")).map_err(file("write", &forward))?;
            }
            Made::Forward6(old) => {
                let forward = paths.forward6();
                std::fs::write(&forward, format!("{old}\n")).map_err(file("write", &forward))?;
            }
            Made::Address(n, a, p) => bridge::remove_address(n, *a, *p)?,
            Made::Bridge(n) => bridge::remove(n)?,
        }
    }
    Ok(())
}

/// The default network as it is now.
#[derive(Debug, Clone)]
pub struct Status {
    pub settings: Settings,
    /// The bridge, if an interface of its name exists.
    pub bridge: Option<BridgeState>,
    /// ip_forward is 1.
    pub forwarding: bool,
    /// net.ipv6.conf.all.forwarding is 1 (None: this host has no IPv6).
    pub forwarding6: Option<bool>,
    /// The nftables table is loaded (None: nft is not installed).
    pub nat: Option<bool>,
    /// The pid of dnsmasq.
    pub dnsmasq: Option<i32>,
    /// `up` has a record in the run directory.
    pub recorded: bool,
}

impl Status {
    /// Whether every part is there.
    pub fn is_up(&self) -> bool {
        let bridge = self.bridge.as_ref().is_some_and(|b| {
            b.is_bridge
                && b.up
                && b.addresses
                    .contains(&(self.settings.address, self.settings.prefix))
        });
        let forwarding6 = self.settings.ipv6.is_none() || self.forwarding6 == Some(true);
        bridge && self.forwarding && forwarding6 && self.nat == Some(true) && self.dnsmasq.is_some()
    }
}

/// Reads the state of each part.
pub fn status(paths: &Paths) -> Result<Status> {
    let settings = paths.read_settings()?;
    let forward = paths.forward();
    let forwarding = std::fs::read_to_string(&forward)
        .map_err(file("read", &forward))?
        .trim()
        == "1";
    let forwarding6 = std::fs::read_to_string(paths.forward6())
        .ok()
        .map(|v| v.trim() == "1");
    let nat = match nft::loaded() {
        Ok(l) => Some(l),
        Err(Error::Missing { .. }) => None,
        Err(e) => return Err(e),
    };
    Ok(Status {
        bridge: bridge::state(&settings.bridge)?,
        forwarding,
        forwarding6,
        nat,
        dnsmasq: dnsmasq::running(&paths.run_dir),
        recorded: Record::open(&paths.run_dir)?.exists(),
        settings,
    })
}

/// One `up` or `down` at a time: an exclusive lock on `run_dir/lock`
/// (the file stays, so that every waiter locks the same one).
fn lock(run_dir: &Path) -> Result<nix::fcntl::Flock<std::fs::File>> {
    std::fs::create_dir_all(run_dir).map_err(file("create", run_dir))?;
    let path = run_dir.join("lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(file("open", &path))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| file("lock", &path)(e.into()))
}

fn require_root(command: &'static str) -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(Error::NotRoot { command })
    }
}

/// The lease file of the dnsmasq of `run_dir`.
pub fn lease_file(run_dir: &Path) -> PathBuf {
    dnsmasq::lease_file(run_dir)
}
