//! Who may search a directory: its mode, or its POSIX ACL
//! (`system.posix_acl_access`, as `setfacl -m u:165536:x DIR` writes it),
//! evaluated as the kernel does for one uid and one gid.

use std::io;
use std::path::Path;

use enclos_idmap::xattr_ids::ACL_ACCESS;

const ACL_VERSION: u32 = 2;

const USER_OBJ: u16 = 0x01;
const USER: u16 = 0x02;
const GROUP_OBJ: u16 = 0x04;
const GROUP: u16 = 0x08;
const MASK: u16 = 0x10;
const OTHER: u16 = 0x20;

/// The search (execute) bit of an ACL entry's or a mode's permission.
const X: u16 = 0o1;

/// One ACL entry: a tag, its permission bits (rwx as 4, 2, 1), its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry {
    pub tag: u16,
    pub perm: u16,
    pub id: u32,
}

/// An access ACL, entries in the kernel's order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Acl {
    pub entries: Vec<Entry>,
}

impl Acl {
    /// Parses the xattr's value: a little-endian version 2 header, then
    /// 8-byte entries (tag u16, perm u16, id u32).
    pub fn parse(bytes: &[u8]) -> Option<Acl> {
        let (header, rest) = bytes.split_first_chunk::<4>()?;
        if u32::from_le_bytes(*header) != ACL_VERSION || rest.len() % 8 != 0 {
            return None;
        }
        let entries = rest
            .chunks_exact(8)
            .map(|e| Entry {
                tag: u16::from_le_bytes([e[0], e[1]]),
                perm: u16::from_le_bytes([e[2], e[3]]),
                id: u32::from_le_bytes([e[4], e[5], e[6], e[7]]),
            })
            .collect();
        Some(Acl { entries })
    }

    /// The ACL of `path` (a symlink's own, not its target's: pass a
    /// resolved path), `None` when it has none or its filesystem keeps
    /// none.
    pub fn read(path: &Path) -> io::Result<Option<Acl>> {
        Ok(enclos_idmap::read_xattr(path, ACL_ACCESS)?.and_then(|b| Acl::parse(&b)))
    }

    fn perm(&self, tag: u16) -> Option<u16> {
        self.entries.iter().find(|e| e.tag == tag).map(|e| e.perm)
    }

    /// Whether `uid`/`gid` may search a directory owned by
    /// `owner`/`group` with this ACL (posix_acl_permission's order:
    /// owner, named user, owning and named groups, other; the mask caps
    /// all but the owner and other).
    pub fn may_search(&self, owner: u32, group: u32, uid: u32, gid: u32) -> bool {
        let mask = self.perm(MASK).unwrap_or(0o7);
        if uid == owner {
            return self.perm(USER_OBJ).unwrap_or(0) & X != 0;
        }
        if let Some(e) = self.entries.iter().find(|e| e.tag == USER && e.id == uid) {
            return e.perm & mask & X != 0;
        }
        let groups: Vec<u16> = self
            .entries
            .iter()
            .filter(|e| (e.tag == GROUP_OBJ && gid == group) || (e.tag == GROUP && e.id == gid))
            .map(|e| e.perm)
            .collect();
        if !groups.is_empty() {
            return groups.iter().any(|p| p & mask & X != 0);
        }
        self.perm(OTHER).unwrap_or(0) & X != 0
    }
}

/// Whether `uid`/`gid` may search a directory by its mode alone.
pub(super) fn mode_may_search(mode: u32, owner: u32, group: u32, uid: u32, gid: u32) -> bool {
    let bits = if uid == owner {
        mode >> 6
    } else if gid == group {
        mode >> 3
    } else {
        mode
    };
    bits & u32::from(X) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(entries: &[(u16, u16, u32)]) -> Vec<u8> {
        let mut b = ACL_VERSION.to_le_bytes().to_vec();
        for (tag, perm, id) in entries {
            b.extend(tag.to_le_bytes());
            b.extend(perm.to_le_bytes());
            b.extend(id.to_le_bytes());
        }
        b
    }

    /// `setfacl -m u:165536:x` on a 0700 directory of uid 1001.
    fn home_acl(mask: u16) -> Acl {
        Acl::parse(&bytes(&[
            (USER_OBJ, 0o7, u32::MAX),
            (USER, 0o1, 165536),
            (GROUP_OBJ, 0o0, u32::MAX),
            (MASK, mask, u32::MAX),
            (OTHER, 0o0, u32::MAX),
        ]))
        .unwrap()
    }

    #[test]
    fn a_named_user_entry_lets_in_that_user_only() {
        let acl = home_acl(0o1);
        assert!(acl.may_search(1001, 1001, 165536, 165536));
        assert!(!acl.may_search(1001, 1001, 165537, 165537));
        assert!(acl.may_search(1001, 1001, 1001, 1001));
        // A mask without x takes it back.
        assert!(!home_acl(0o6).may_search(1001, 1001, 165536, 165536));
    }

    #[test]
    fn groups_and_other() {
        let acl = Acl::parse(&bytes(&[
            (USER_OBJ, 0o7, u32::MAX),
            (GROUP_OBJ, 0o5, u32::MAX),
            (GROUP, 0o0, 165536),
            (MASK, 0o5, u32::MAX),
            (OTHER, 0o1, u32::MAX),
        ]))
        .unwrap();
        // A matching group entry without x denies, though other has x.
        assert!(!acl.may_search(0, 0, 165536, 165536));
        assert!(acl.may_search(0, 0, 165536, 0));
        assert!(acl.may_search(0, 0, 165536, 12));
    }

    #[test]
    fn bad_values_are_no_acl() {
        assert_eq!(Acl::parse(&[1, 0, 0, 0]), None);
        assert_eq!(Acl::parse(&bytes(&[(USER_OBJ, 7, 0)])[..7]), None);
    }

    #[test]
    fn modes() {
        assert!(!mode_may_search(0o700, 1001, 1001, 165536, 165536));
        assert!(mode_may_search(0o701, 1001, 1001, 165536, 165536));
        assert!(mode_may_search(0o710, 1001, 165536, 165536, 165536));
        assert!(!mode_may_search(0o601, 165536, 0, 165536, 165536));
    }

    #[test]
    fn a_plain_directory_has_no_acl() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Acl::read(dir.path()).unwrap(), None);
    }
}
