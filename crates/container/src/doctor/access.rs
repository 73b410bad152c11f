//! The container's root reaches its rootfs: the host uid that container
//! uid 0 maps to (and the gid of container gid 0) may search every
//! directory from `/` down to the rootfs (or to the lxcpath, for the
//! containers to come). A home directory of mode 0700 is the usual
//! culprit: the container then fails to start with EACCES.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use enclos_idmap::{root_may_search, IdKind};

use super::{Check, Finding, Subject};

const CHECK: Check = Check::RootfsAccess;

/// Every directory to cross to reach `path`, from `/` down to `path`
/// itself: as written, and, when a symlink is on the way, as resolved.
fn crossings(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut add = |dir: &Path| {
        if !out.iter().any(|d| d == dir) {
            out.push(dir.to_path_buf());
        }
    };
    for target in paths {
        let mut chain: Vec<&Path> = target.ancestors().collect();
        chain.reverse();
        for dir in &chain {
            add(dir);
        }
        // The deepest existing directory, resolved.
        if let Some(real) = chain.iter().rev().find_map(|d| fs::canonicalize(d).ok()) {
            let mut real_chain: Vec<&Path> = real.ancestors().collect();
            real_chain.reverse();
            for dir in real_chain {
                add(dir);
            }
        }
    }
    out
}

/// Why `dir` stops the container's root, or `None` if it lets it in.
fn blocks(dir: &Path, subject: &Subject, uid: u32, gid: u32) -> Option<Finding> {
    let meta = match fs::metadata(dir) {
        Ok(m) => m,
        // Not created yet: enclos creates it with the user's umask.
        Err(e) if e.kind() == ErrorKind::NotFound => return None,
        Err(e) => {
            return Some(Finding::warning(
                CHECK,
                format!("cannot examine {}: {e}", dir.display()),
                "run enclos doctor as root to examine it",
            ))
        }
    };
    if !meta.is_dir() {
        return None;
    }
    let (owner, group) = (meta.uid(), meta.gid());
    // The ACL of the directory itself, not of a symlink to it.
    let real = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if root_may_search(&real, &meta, &subject.maps, uid, gid) {
        return None;
    }
    let p = dir.display();
    let as_root = if owner == subject.user.uid {
        ""
    } else {
        "as root: "
    };
    Some(Finding::problem(
        CHECK,
        format!(
            "{p} (mode {:04o}, owner {owner}:{group}) does not let the container's root \
             (host uid {uid}, gid {gid}) search it",
            meta.mode() & 0o7777
        ),
        format!(
            "{as_root}chmod o+x {p}, or for the container's root alone: setfacl -m u:{uid}:x {p}"
        ),
    ))
}

pub(super) fn check(subject: &Subject) -> Vec<Finding> {
    if subject.maps.is_empty() {
        let detail = if subject.is_root() {
            "no lxc.idmap: the container's root is the host's root, which may enter every directory"
        } else {
            "not checked: no lxc.idmap lines (see the subids check)"
        };
        return vec![Finding::ok(CHECK, detail)];
    }
    let Some(uid) = subject.maps.host_id(IdKind::Uid, 0) else {
        return vec![Finding::problem(
            CHECK,
            format!(
                "{} maps no host uid to container uid 0: the container has no root",
                subject.config_label()
            ),
            "map it, e.g. lxc.idmap = u 0 165536 65536 (with the user's range of /etc/subuid)",
        )];
    };
    // Without a gid map the container's processes have the overflow gid.
    let gid = subject.maps.host_id(IdKind::Gid, 0).unwrap_or(65534);
    let mut findings: Vec<Finding> = crossings(&subject.paths)
        .iter()
        .filter_map(|dir| blocks(dir, subject, uid, gid))
        .collect();
    if findings.is_empty() {
        let targets: Vec<String> = subject
            .paths
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        findings.push(Finding::ok(
            CHECK,
            format!(
                "the container's root (host uid {uid}, gid {gid}) may search every directory down to {}",
                targets.join(" and ")
            ),
        ));
    }
    findings
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::super::{fake::Fake, Status};
    use super::*;

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// `<tmp>/home/lxcnp/.local/share/enclos`, every directory 0755, and
    /// the directories above `<tmp>` open to others (as /tmp is).
    fn lxcpath(fake: &Fake) -> PathBuf {
        let s = fake.user();
        fs::create_dir_all(&s.paths[0]).unwrap();
        let mut dir = s.paths[0].clone();
        while dir != fake.path() {
            chmod(&dir, 0o755);
            dir.pop();
        }
        chmod(fake.path(), 0o755);
        s.paths[0].clone()
    }

    fn assert_open_above(fake: &Fake) {
        // The test's own temporary directory's parents must let others
        // in, as a real /tmp does; otherwise the case is meaningless.
        let s = fake.user();
        let open = crossings(&s.paths)
            .iter()
            .filter(|d| !d.starts_with(fake.path()))
            .all(|d| blocks(d, &s, 165536, 165536).is_none());
        assert!(
            open,
            "the parents of {} must let others search them, as /tmp does",
            fake.path().display()
        );
    }

    #[test]
    fn open_directories() {
        let fake = Fake::new();
        let target = lxcpath(&fake);
        assert_open_above(&fake);
        let found = check(&fake.user());
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].status, Status::Ok);
        assert_eq!(
            found[0].detail,
            format!(
                "the container's root (host uid 165536, gid 165536) may search every directory down to {}",
                target.display()
            )
        );
    }

    #[test]
    fn a_home_without_execute_permission() {
        let fake = Fake::new();
        lxcpath(&fake);
        assert_open_above(&fake);
        let home = fake.path().join("home/lxcnp");
        chmod(&home, 0o700);
        let found = check(&fake.user());
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].status, Status::Problem);
        let meta = fs::metadata(&home).unwrap();
        let h = home.display();
        assert_eq!(
            found[0].detail,
            format!(
                "{h} (mode 0700, owner {}:{}) does not let the container's root (host uid 165536, gid 165536) search it",
                meta.uid(),
                meta.gid()
            )
        );
        // The test's files belong to the user running it, not to lxcnp.
        assert_eq!(
            found[0].fix.as_deref().unwrap(),
            format!("as root: chmod o+x {h}, or for the container's root alone: setfacl -m u:165536:x {h}")
        );
        // The owner's own directory needs no root to fix.
        let mut own = fake.user();
        own.user.uid = meta.uid();
        let found = check(&own);
        assert_eq!(
            found[0].fix.as_deref().unwrap(),
            format!("chmod o+x {h}, or for the container's root alone: setfacl -m u:165536:x {h}")
        );
    }

    #[test]
    fn a_directory_owned_by_mapped_ids_is_entered() {
        let fake = Fake::new();
        lxcpath(&fake);
        assert_open_above(&fake);
        let home = fake.path().join("home/lxcnp");
        chmod(&home, 0o700);
        let meta = fs::metadata(&home).unwrap();
        let mut s = fake.user();
        // Map the directory's owner and group into the container.
        s.maps = enclos_idmap::IdMaps::new(vec![
            enclos_idmap::IdMap::parse("u 0 165536 1000").unwrap(),
            enclos_idmap::IdMap::parse(&format!("u 1000 {} 1", meta.uid())).unwrap(),
            enclos_idmap::IdMap::parse("g 0 165536 1000").unwrap(),
            enclos_idmap::IdMap::parse(&format!("g 1000 {} 1", meta.gid())).unwrap(),
        ]);
        let found = check(&s);
        assert_eq!(found[0].status, Status::Ok, "{found:#?}");
    }

    #[test]
    fn without_maps() {
        let fake = Fake::new();
        let found = check(&fake.root());
        assert_eq!(found[0].status, Status::Ok);
        let mut s = fake.user();
        s.maps =
            enclos_idmap::IdMaps::new(vec![enclos_idmap::IdMap::parse("u 1 165536 10").unwrap()]);
        let found = check(&s);
        assert_eq!(found[0].status, Status::Problem);
        assert!(found[0]
            .detail
            .ends_with("maps no host uid to container uid 0: the container has no root"));
    }

    #[test]
    fn symlinks_are_followed() {
        let fake = Fake::new();
        let real = fake.path().join("data/lxcnp");
        fs::create_dir_all(&real).unwrap();
        std::os::unix::fs::symlink(&real, fake.path().join("link")).unwrap();
        let target = fake.path().join("link/enclos");
        let dirs = crossings(std::slice::from_ref(&target));
        let real = fs::canonicalize(&real).unwrap();
        assert!(dirs.contains(&real), "{dirs:?}");
        assert!(
            dirs.contains(&real.parent().unwrap().to_path_buf()),
            "{dirs:?}"
        );
        assert!(dirs.contains(&target), "{dirs:?}");
    }
}
