//! POSIX ACLs as the kernel stores them in `system.posix_acl_access` and
//! `system.posix_acl_default` (as `setfacl -m u:165536:x DIR` writes
//! them): the format, and the access check for one uid and one gid.

use std::io;
use std::path::Path;

use crate::xattr_ids::ACL_ACCESS;

/// The version in the header of every ACL value.
pub const ACL_VERSION: u32 = 2;

/// The file's owner (no id).
pub const USER_OBJ: u16 = 0x01;
/// A named user.
pub const USER: u16 = 0x02;
/// The file's group (no id).
pub const GROUP_OBJ: u16 = 0x04;
/// A named group.
pub const GROUP: u16 = 0x08;
/// The mask of the named entries and the owning group (no id).
pub const MASK: u16 = 0x10;
/// Everyone else (no id).
pub const OTHER: u16 = 0x20;

/// The search (execute) bit of an ACL entry's permission.
const X: u16 = 0o1;

/// One ACL entry: a tag, its permission bits (rwx as 4, 2, 1), its id
/// (`u32::MAX` for the tags without one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AclEntry {
    pub tag: u16,
    pub perm: u16,
    pub id: u32,
}

/// An ACL, entries in the kernel's order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Acl {
    pub entries: Vec<AclEntry>,
}

impl Acl {
    /// Parses an ACL xattr's value: a little-endian version 2 header,
    /// then 8-byte entries (tag u16, perm u16, id u32). `None` when it is
    /// not such a value.
    pub fn parse(bytes: &[u8]) -> Option<Acl> {
        let (header, rest) = bytes.split_first_chunk::<4>()?;
        if u32::from_le_bytes(*header) != ACL_VERSION || rest.len() % 8 != 0 {
            return None;
        }
        let entries = rest
            .chunks_exact(8)
            .map(|e| AclEntry {
                tag: u16::from_le_bytes([e[0], e[1]]),
                perm: u16::from_le_bytes([e[2], e[3]]),
                id: u32::from_le_bytes([e[4], e[5], e[6], e[7]]),
            })
            .collect();
        Some(Acl { entries })
    }

    /// An ACL of `(tag, perm, id)` entries, in that order.
    pub fn from_entries(entries: &[(u16, u16, u32)]) -> Acl {
        let entries = entries
            .iter()
            .map(|&(tag, perm, id)| AclEntry { tag, perm, id });
        Acl {
            entries: entries.collect(),
        }
    }

    /// The xattr's value: what [`Acl::parse`] reads.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = ACL_VERSION.to_le_bytes().to_vec();
        for e in &self.entries {
            out.extend_from_slice(&e.tag.to_le_bytes());
            out.extend_from_slice(&e.perm.to_le_bytes());
            out.extend_from_slice(&e.id.to_le_bytes());
        }
        out
    }

    /// The access ACL of `path` (a symlink's own, not its target's: pass
    /// a resolved path), `None` when it has none or its filesystem keeps
    /// none.
    pub fn read(path: &Path) -> io::Result<Option<Acl>> {
        Ok(crate::xattr::get(path, ACL_ACCESS)?.and_then(|b| Acl::parse(&b)))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(entries: &[(u16, u16, u32)]) -> Acl {
        Acl::from_entries(entries)
    }

    /// `setfacl -m u:165536:x` on a 0700 directory of uid 1001.
    fn home_acl(mask: u16) -> Acl {
        acl(&[
            (USER_OBJ, 0o7, u32::MAX),
            (USER, 0o1, 165536),
            (GROUP_OBJ, 0o0, u32::MAX),
            (MASK, mask, u32::MAX),
            (OTHER, 0o0, u32::MAX),
        ])
    }

    #[test]
    fn bytes_round_trip() {
        let a = home_acl(0o1);
        let bytes = a.to_bytes();
        assert_eq!(bytes.len(), 4 + 5 * 8);
        assert_eq!(&bytes[..4], &[2, 0, 0, 0]);
        assert_eq!(&bytes[12..20], &[2, 0, 1, 0, 0xa0, 0x86, 0x02, 0]);
        assert_eq!(Acl::parse(&bytes), Some(a));
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
        let acl = acl(&[
            (USER_OBJ, 0o7, u32::MAX),
            (GROUP_OBJ, 0o5, u32::MAX),
            (GROUP, 0o0, 165536),
            (MASK, 0o5, u32::MAX),
            (OTHER, 0o1, u32::MAX),
        ]);
        // A matching group entry without x denies, though other has x.
        assert!(!acl.may_search(0, 0, 165536, 165536));
        assert!(acl.may_search(0, 0, 165536, 0));
        assert!(acl.may_search(0, 0, 165536, 12));
    }

    #[test]
    fn bad_values_are_no_acl() {
        assert_eq!(Acl::parse(&[1, 0, 0, 0]), None);
        assert_eq!(Acl::parse(&home_acl(0o1).to_bytes()[..7]), None);
    }

    #[test]
    fn a_plain_directory_has_no_acl() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Acl::read(dir.path()).unwrap(), None);
    }
}
