//! The ids inside two extended attributes, rewritten when a tree's ids are
//! shifted: the root id of a file capability (`security.capability`) and
//! the uid and gid entries of a POSIX ACL (`system.posix_acl_access`,
//! `system.posix_acl_default`). Pure byte work: the caller reads and writes.

use crate::acl::{self, Acl, ACL_VERSION};

/// The attribute holding a file's capabilities.
pub const CAPABILITY: &str = "security.capability";
/// The attribute holding a file's access ACL.
pub const ACL_ACCESS: &str = "system.posix_acl_access";
/// The attribute holding a directory's default ACL.
pub const ACL_DEFAULT: &str = "system.posix_acl_default";

const CAP_REVISION_MASK: u32 = 0xFF00_0000;
const CAP_REVISION_1: u32 = 0x0100_0000;
const CAP_REVISION_2: u32 = 0x0200_0000;
const CAP_REVISION_3: u32 = 0x0300_0000;
const CAP_V1_SIZE: usize = 12;
const CAP_V2_SIZE: usize = 20;
const CAP_V3_SIZE: usize = 24;

fn le32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// The root id a file capability is for: `None` for a v1 or v2 capability
/// (the root of whatever namespace reads it), the stored id for v3.
pub fn capability_rootid(value: &[u8]) -> Result<Option<u32>, String> {
    if value.len() < 4 {
        return Err(format!("A file capability of {} bytes", value.len()));
    }
    match (le32(value, 0) & CAP_REVISION_MASK, value.len()) {
        (CAP_REVISION_1, CAP_V1_SIZE) | (CAP_REVISION_2, CAP_V2_SIZE) => Ok(None),
        (CAP_REVISION_3, CAP_V3_SIZE) => Ok(Some(le32(value, 20))),
        (revision, len) => Err(format!(
            "A file capability of revision {} and {len} bytes, which the kernel does not define",
            revision >> 24
        )),
    }
}

/// A file capability with the same flags and sets for root id `rootid`:
/// v3 bytes, or v2 bytes when `rootid` is `None`. A v1 value gains empty
/// upper sets.
pub fn capability_for_root(value: &[u8], rootid: Option<u32>) -> Result<Vec<u8>, String> {
    capability_rootid(value)?;
    let flags = le32(value, 0) & !CAP_REVISION_MASK;
    let mut sets = value[4..value.len().min(CAP_V2_SIZE)].to_vec();
    sets.resize(CAP_V2_SIZE - 4, 0);
    let revision = if rootid.is_some() {
        CAP_REVISION_3
    } else {
        CAP_REVISION_2
    };
    let mut out = (revision | flags).to_le_bytes().to_vec();
    out.extend_from_slice(&sets);
    if let Some(id) = rootid {
        out.extend_from_slice(&id.to_le_bytes());
    }
    Ok(out)
}

/// An ACL entry's tag and id: which kind of id it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclId {
    User(u32),
    Group(u32),
}

/// The ACL with each user and group entry's id replaced by `map(entry)`;
/// the owner, owning group, mask and other entries carry no id. The first
/// error of `map` stops it.
pub fn map_acl<E>(
    value: &[u8],
    mut map: impl FnMut(AclId) -> Result<u32, E>,
) -> Result<Result<Vec<u8>, E>, String> {
    let Some(mut acl) = Acl::parse(value) else {
        return Err(format!(
            "A POSIX ACL of {} bytes that is not version {ACL_VERSION} with 8-byte entries",
            value.len()
        ));
    };
    for entry in &mut acl.entries {
        let id = match entry.tag {
            acl::USER => AclId::User(entry.id),
            acl::GROUP => AclId::Group(entry.id),
            _ => continue,
        };
        match map(id) {
            Ok(new) => entry.id = new,
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok(acl.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cap_net_bind_service=ep as setcap writes it: v2, effective.
    pub(crate) const NET_BIND_V2: [u8; 20] = [
        0x01, 0, 0, 0x02, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];

    #[test]
    fn v2_becomes_v3_with_a_root_and_back() {
        assert_eq!(capability_rootid(&NET_BIND_V2), Ok(None));
        let v3 = capability_for_root(&NET_BIND_V2, Some(165536)).unwrap();
        assert_eq!(v3.len(), 24);
        assert_eq!(&v3[..4], &[0x01, 0, 0, 0x03]);
        assert_eq!(&v3[4..20], &NET_BIND_V2[4..]);
        assert_eq!(capability_rootid(&v3), Ok(Some(165536)));
        assert_eq!(
            capability_for_root(&v3, None).unwrap(),
            NET_BIND_V2.to_vec()
        );
    }

    #[test]
    fn v1_gains_empty_upper_sets() {
        let v1 = [0x00, 0, 0, 0x01, 1, 0, 0, 0, 2, 0, 0, 0];
        let v3 = capability_for_root(&v1, Some(7)).unwrap();
        assert_eq!(
            v3,
            [0, 0, 0, 3, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0]
        );
    }

    #[test]
    fn malformed_capabilities_are_refused() {
        assert!(capability_rootid(&[1, 2]).is_err());
        assert!(capability_rootid(&NET_BIND_V2[..16]).is_err());
        let mut v9 = NET_BIND_V2;
        v9[3] = 9;
        assert!(capability_for_root(&v9, None)
            .unwrap_err()
            .contains("revision 9 and 20 bytes"));
    }

    fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
        Acl::from_entries(entries).to_bytes()
    }

    #[test]
    fn acl_user_and_group_entries_are_mapped() {
        let none = u32::MAX;
        let before = acl(&[
            (1, 7, none),
            (2, 6, 1000),
            (4, 5, none),
            (8, 4, 1000),
            (0x10, 7, none),
            (0x20, 0, none),
        ]);
        let after = map_acl(&before, |id| match id {
            AclId::User(u) => Ok::<_, ()>(u + 165536),
            AclId::Group(g) => Ok(g + 200000),
        })
        .unwrap()
        .unwrap();
        let expected = acl(&[
            (1, 7, none),
            (2, 6, 166536),
            (4, 5, none),
            (8, 4, 201000),
            (0x10, 7, none),
            (0x20, 0, none),
        ]);
        assert_eq!(after, expected);
        let failed = map_acl(&before, Err::<u32, _>).unwrap();
        assert_eq!(failed, Err(AclId::User(1000)));
        assert!(map_acl(&before[..7], |_| Ok::<_, ()>(0)).is_err());
    }
}
