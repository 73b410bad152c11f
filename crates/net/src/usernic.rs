//! Veths for unprivileged users' containers, as LXC's lxc-user-nic makes
//! them: the privileged side (the setuid `enclos-user-nic`) checks the
//! caller's quota in the usernet file (`user|@group veth BRIDGE COUNT`,
//! lxc-usernet(5)), counts the veths it already has in the nics database
//! (`OWNER veth BRIDGE HOSTNIC` lines, under an exclusive flock), makes a
//! veth pair whose host end joins the bridge and whose peer goes straight
//! into the container's network namespace, and records it. Entries whose
//! interface is gone (the kernel removes both ends with the namespace) are
//! dropped at each change, so a container killed outright frees its quota.
//!
//! The caller must own the network namespace (see
//! [`crate::nsowner::owner_uid`]): that check is the caller's (the helper
//! opens the namespace, then checks), as this module takes an open
//! namespace, never a pid.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
use rtnetlink::{LinkMessageBuilder, LinkUnspec, LinkVeth};

use crate::error::{netlink, Error, Result};
use crate::{links, rt};

/// enclos's usernet file.
pub const USERNET: &str = "/etc/enclos/enclos-usernet";
/// LXC's, read when enclos's is absent.
pub const LXC_USERNET: &str = "/etc/lxc/lxc-usernet";
/// The database of the veths made for users.
pub const NICS: &str = "/run/enclos/nics";

/// Where the rules and the database are.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The usernet files, the first that exists wins.
    pub usernet: Vec<PathBuf>,
    pub nics: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            usernet: vec![USERNET.into(), LXC_USERNET.into()],
            nics: NICS.into(),
        }
    }
}

/// Who asks: the real uid's name and the names of its groups.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub groups: Vec<String>,
}

/// One usernet line: `user|@group TYPE BRIDGE COUNT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub who: String,
    pub kind: String,
    pub bridge: String,
    pub count: u32,
}

/// The rules of a usernet file (comments, blank and malformed lines skipped).
pub fn parse_usernet(text: &str) -> Vec<Rule> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [who, kind, bridge, count] => Some(Rule {
                who: who.into(),
                kind: kind.into(),
                bridge: bridge.into(),
                count: count.parse().ok()?,
            }),
            _ => None,
        })
        .collect()
}

/// How many `kind` interfaces on `bridge` the rules give `caller` (the sum
/// of the lines naming it or one of its groups).
pub fn allowed(rules: &[Rule], caller: &Caller, kind: &str, bridge: &str) -> u32 {
    rules
        .iter()
        .filter(|r| r.kind == kind && r.bridge == bridge)
        .filter(|r| match r.who.strip_prefix('@') {
            Some(g) => caller.groups.iter().any(|x| x == g),
            None => r.who == caller.name,
        })
        .fold(0u32, |n, r| n.saturating_add(r.count))
}

/// One line of the nics database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub owner: String,
    pub kind: String,
    pub bridge: String,
    pub nic: String,
}

/// The entries of a nics database text.
pub fn parse_nics(text: &str) -> Vec<Entry> {
    text.lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [owner, kind, bridge, nic] => Some(Entry {
                owner: owner.into(),
                kind: kind.into(),
                bridge: bridge.into(),
                nic: nic.into(),
            }),
            _ => None,
        })
        .collect()
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Setup { what, source }
}

/// The first usernet file that exists, and its rules.
fn rules(paths: &Paths) -> Result<(PathBuf, Vec<Rule>)> {
    for p in &paths.usernet {
        match std::fs::read_to_string(p) {
            Ok(t) => return Ok((p.clone(), parse_usernet(&t))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(format!("read {}", p.display()))(e)),
        }
    }
    Ok((
        paths.usernet.first().cloned().unwrap_or_default(),
        Vec::new(),
    ))
}

/// The nics database, locked until dropped.
struct Db {
    file: Flock<File>,
    path: PathBuf,
    entries: Vec<Entry>,
}

impl Db {
    fn open(path: &Path) -> Result<Db> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(format!("create {}", dir.display())))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io(format!("open {}", path.display())))?;
        let mut file = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| io(format!("lock {}", path.display()))(e.into()))?;
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(io(format!("read {}", path.display())))?;
        Ok(Db {
            file,
            path: path.to_path_buf(),
            entries: parse_nics(&text),
        })
    }

    /// Drops the entries whose interface no longer exists.
    fn prune(&mut self) -> Result<()> {
        let names: Vec<String> = rt::run(None, |h| async move {
            Ok(links::all(&h).await?.iter().map(links::name_of).collect())
        })?;
        self.entries.retain(|e| names.contains(&e.nic));
        Ok(())
    }

    fn save(&mut self) -> Result<()> {
        let text: String = self
            .entries
            .iter()
            .map(|e| format!("{} {} {} {}\n", e.owner, e.kind, e.bridge, e.nic))
            .collect();
        let what = || format!("write {}", self.path.display());
        self.file.set_len(0).map_err(io(what()))?;
        self.file.rewind().map_err(io(what()))?;
        self.file.write_all(text.as_bytes()).map_err(io(what()))
    }
}

/// Makes a veth for `caller`'s container whose network namespace is
/// `netns`: its host end (returned) on `bridge`, up; its peer `peer` in
/// the namespace, down. Refused beyond the quota, with nothing made.
pub fn create(
    paths: &Paths,
    caller: &Caller,
    netns: &File,
    kind: &str,
    bridge: &str,
    peer: &str,
) -> Result<String> {
    let (file, rules) = rules(paths)?;
    let quota = allowed(&rules, caller, kind, bridge);
    let refuse = |used: u32| Error::UserNicQuota {
        user: caller.name.clone(),
        kind: kind.into(),
        bridge: bridge.into(),
        used,
        quota,
        file: file.clone(),
    };
    if quota == 0 || kind != "veth" {
        return Err(refuse(0));
    }
    let mut db = Db::open(&paths.nics)?;
    db.prune()?;
    let used = db
        .entries
        .iter()
        .filter(|e| e.owner == caller.name && e.kind == kind && e.bridge == bridge)
        .count() as u32;
    if used >= quota {
        return Err(refuse(used));
    }
    let host = make_veth(netns, bridge, peer)?;
    db.entries.push(Entry {
        owner: caller.name.clone(),
        kind: kind.into(),
        bridge: bridge.into(),
        nic: host.clone(),
    });
    if let Err(e) = db.save() {
        remove_link(&host);
        return Err(e);
    }
    Ok(host)
}

/// Removes the host end `nic` that was made for `caller` (if it is still
/// there) and its entry. Another user's interface is refused.
pub fn delete(paths: &Paths, caller: &Caller, nic: &str) -> Result<()> {
    let mut db = Db::open(&paths.nics)?;
    let Some(i) = db
        .entries
        .iter()
        .position(|e| e.nic == nic && e.owner == caller.name)
    else {
        db.prune()?;
        db.save()?;
        return Err(Error::NotUserNic {
            user: caller.name.clone(),
            nic: nic.into(),
            nics: paths.nics.clone(),
        });
    };
    db.entries.remove(i);
    remove_link(nic);
    db.prune()?;
    db.save()
}

fn remove_link(name: &str) {
    if let Err(e) = links::remove(name) {
        tracing::warn!("{e}");
    }
}

/// The veth pair: host end on `bridge` (which must be a bridge), peer
/// `peer` in `netns`.
fn make_veth(netns: &File, bridge: &str, peer: &str) -> Result<String> {
    let host = crate::host::veth_name();
    let ns = netns.as_raw_fd();
    rt::run(None, |h| {
        let host = host.clone();
        async move {
            let br = match links::by_name(&h, bridge).await? {
                Some(m) if links::is_bridge(&m) => m.header.index,
                Some(_) => {
                    return Err(Error::UserNicNotABridge {
                        bridge: bridge.into(),
                    })
                }
                None => {
                    return Err(Error::UserNicNoBridge {
                        bridge: bridge.into(),
                    })
                }
            };
            let peer_msg = LinkMessageBuilder::<LinkUnspec>::new()
                .name(peer.to_string())
                .setns_by_fd(ns)
                .build();
            let msg = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
                .name(host.clone())
                .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg)))
                .controller(br)
                .up()
                .build();
            h.link()
                .add(msg)
                .execute()
                .await
                .map_err(netlink(format!("create the veth {host} on {bridge}")))
        }
    })?;
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller {
            name: "alice".into(),
            groups: vec!["alice".into(), "lxcusers".into()],
        }
    }

    #[test]
    fn quotas_add_up_over_the_lines_naming_the_user_or_its_groups() {
        let rules = parse_usernet(
            "# who type bridge count\nalice veth lxcbr0 2\n@lxcusers veth lxcbr0 1 # more\n\
             bob veth lxcbr0 9\nalice veth br1 4\nalice macvlan lxcbr0 3\nbroken line\nalice veth lxcbr0 x\n",
        );
        assert_eq!(rules.len(), 5);
        assert_eq!(allowed(&rules, &caller(), "veth", "lxcbr0"), 3);
        assert_eq!(allowed(&rules, &caller(), "veth", "br1"), 4);
        assert_eq!(allowed(&rules, &caller(), "veth", "br2"), 0);
    }

    #[test]
    fn the_lxc_file_counts_when_ours_is_absent() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            usernet: vec![
                dir.path().join("enclos-usernet"),
                dir.path().join("lxc-usernet"),
            ],
            nics: dir.path().join("nics"),
        };
        std::fs::write(&paths.usernet[1], "alice veth lxcbr0 5\n").unwrap();
        let (file, r) = rules(&paths).unwrap();
        assert_eq!(
            (file, allowed(&r, &caller(), "veth", "lxcbr0")),
            (paths.usernet[1].clone(), 5)
        );
        std::fs::write(&paths.usernet[0], "alice veth lxcbr0 1\n").unwrap();
        assert_eq!(
            allowed(&rules(&paths).unwrap().1, &caller(), "veth", "lxcbr0"),
            1
        );
    }

    #[test]
    fn no_line_for_the_user_is_a_refusal_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            usernet: vec![dir.path().join("enclos-usernet")],
            nics: dir.path().join("nics"),
        };
        let ns = File::open("/proc/self/ns/net").unwrap();
        let e = create(&paths, &caller(), &ns, "veth", "lxcbr0", "eth0").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "User alice may not attach a veth to bridge lxcbr0: {} gives it no veth on lxcbr0; \
                 root can add a line `alice veth lxcbr0 COUNT` there",
                paths.usernet[0].display()
            )
        );
        assert!(!paths.nics.exists(), "nothing made");
    }

    #[test]
    fn the_database_keeps_four_fields_a_line() {
        let e = parse_nics("alice veth lxcbr0 vethAb12Cd\nbad\n");
        assert_eq!(
            e,
            [Entry {
                owner: "alice".into(),
                kind: "veth".into(),
                bridge: "lxcbr0".into(),
                nic: "vethAb12Cd".into()
            }]
        );
    }
}
