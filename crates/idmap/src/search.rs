//! Whether the root of a user namespace may search a directory of the
//! host: what init needs of every directory above its rootfs, and what
//! `enclos doctor` checks.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::acl::Acl;
use crate::map::{IdKind, IdMaps};

/// Whether `uid`/`gid` may search a directory of `owner`/`group` by its
/// mode alone.
pub fn mode_may_search(mode: u32, owner: u32, group: u32, uid: u32, gid: u32) -> bool {
    let bits = if uid == owner {
        mode >> 6
    } else if gid == group {
        mode >> 3
    } else {
        mode
    };
    bits & 0o1 != 0
}

/// Whether the root of a user namespace with `maps`, host `uid`/`gid`
/// (no supplementary group), may search directory `dir` whose metadata
/// is `meta`, as the kernel decides: root in the namespace passes a
/// directory whose owner and group are both mapped into it
/// (CAP_DAC_READ_SEARCH there); else the directory's access ACL decides,
/// or its mode when it has none. `dir` is a resolved path: its own ACL is
/// read, not a symlink's.
pub fn root_may_search(dir: &Path, meta: &Metadata, maps: &IdMaps, uid: u32, gid: u32) -> bool {
    let (owner, group) = (meta.uid(), meta.gid());
    if maps.container_id(IdKind::Uid, owner).is_some()
        && maps.container_id(IdKind::Gid, group).is_some()
    {
        return true;
    }
    match Acl::read(dir) {
        Ok(Some(acl)) => acl.may_search(owner, group, uid, gid),
        _ => mode_may_search(meta.mode(), owner, group, uid, gid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IdMap;

    #[test]
    fn modes() {
        assert!(!mode_may_search(0o700, 1001, 1001, 165536, 165536));
        assert!(mode_may_search(0o701, 1001, 1001, 165536, 165536));
        assert!(mode_may_search(0o710, 1001, 165536, 165536, 165536));
        assert!(!mode_may_search(0o601, 165536, 0, 165536, 165536));
        assert!(mode_may_search(0o755, 0, 0, 165536, 165536));
        assert!(!mode_may_search(0o750, 0, 0, 165536, 165536));
        assert!(mode_may_search(0o700, 165536, 0, 165536, 165536));
        assert!(mode_may_search(0o750, 0, 165536, 165536, 165536));
    }

    #[test]
    fn a_directory_of_mapped_ids_is_searched_whatever_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let meta = std::fs::metadata(dir.path()).unwrap();
        let (owner, group) = (meta.uid(), meta.gid());
        let unmapped = IdMaps::new(vec![
            IdMap::parse("u 0 4000000000 1").unwrap(),
            IdMap::parse("g 0 4000000000 1").unwrap(),
        ]);
        assert!(!root_may_search(
            dir.path(),
            &meta,
            &unmapped,
            4000000000,
            4000000000
        ));
        let mapped = IdMaps::new(vec![
            IdMap::parse("u 0 4000000000 1").unwrap(),
            IdMap::parse(&format!("u 1 {owner} 1")).unwrap(),
            IdMap::parse("g 0 4000000000 1").unwrap(),
            IdMap::parse(&format!("g 1 {group} 1")).unwrap(),
        ]);
        assert!(root_may_search(
            dir.path(),
            &meta,
            &mapped,
            4000000000,
            4000000000
        ));
    }
}
