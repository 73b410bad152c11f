//! newuidmap and newgidmap (Debian's uidmap package): installed and
//! setuid root, as a user's maps are written by them. Found by
//! enclos-idmap's [`enclos_idmap::find_helper`], the one start uses.

use std::os::unix::fs::MetadataExt;

use super::{Check, Finding, HostPaths, Subject};

const CHECK: Check = Check::UidmapHelpers;

pub(super) fn check(host: &HostPaths, subject: &Subject) -> Vec<Finding> {
    let dirs: Vec<&str> = host.helper_dirs.iter().map(String::as_str).collect();
    ["newuidmap", "newgidmap"]
        .into_iter()
        .map(|tool| match enclos_idmap::find_helper(tool, &dirs) {
            Ok(path) => Finding::ok(
                CHECK,
                format!("{} is installed and setuid root", path.display()),
            ),
            // Root writes its maps itself.
            Err(e) if subject.is_root() => Finding::ok(
                CHECK,
                format!("{tool}: {}; root does not need it", brief(&e)),
            ),
            Err(e) => Finding::problem(CHECK, brief(&e), fix(&e)),
        })
        .collect()
}

/// The error's first clause: what is wrong, without its advice.
fn brief(e: &enclos_idmap::Error) -> String {
    match e {
        enclos_idmap::Error::HelperMissing { tool } => {
            format!("{tool} is not installed: a user's maps are written by it")
        }
        enclos_idmap::Error::HelperNotSetuid { path } => format!(
            "{} is not setuid root: it cannot write maps for other users",
            path.display()
        ),
        other => enclos_report::chain(other),
    }
}

fn fix(e: &enclos_idmap::Error) -> String {
    match e {
        enclos_idmap::Error::HelperMissing { .. } => {
            "as root: apt-get install uidmap (the shadow-utils or shadow package elsewhere)"
                .to_string()
        }
        enclos_idmap::Error::HelperNotSetuid { path } => {
            let owned_by_root = std::fs::metadata(path).is_ok_and(|m| m.uid() == 0);
            let p = path.display();
            if owned_by_root {
                format!("as root: chmod u+s {p}")
            } else {
                format!("as root: chown root:root {p} && chmod u+s {p}")
            }
        }
        _ => {
            "as root: reinstall the uidmap package (apt-get install --reinstall uidmap)".to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::super::{fake::Fake, Status};
    use super::*;

    fn helper(fake: &Fake, tool: &str, mode: u32) -> std::path::PathBuf {
        let path = fake.path().join("bin").join(tool);
        fs::write(&path, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn missing() {
        let fake = Fake::new();
        let found = check(&fake.paths, &fake.user());
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].status, Status::Problem);
        assert_eq!(
            found[0].detail,
            "newuidmap is not installed: a user's maps are written by it"
        );
        assert_eq!(
            found[1].fix.as_deref(),
            Some("as root: apt-get install uidmap (the shadow-utils or shadow package elsewhere)")
        );
        // Root does not need them.
        let root = check(&fake.paths, &fake.root());
        assert!(root.iter().all(|f| f.status == Status::Ok), "{root:#?}");
    }

    #[test]
    fn setuid_or_not() {
        let fake = Fake::new();
        let uid = helper(&fake, "newuidmap", 0o755);
        helper(&fake, "newgidmap", 0o4755);
        let found = check(&fake.paths, &fake.user());
        let p = uid.display();
        assert_eq!(found[0].status, Status::Problem);
        assert_eq!(
            found[0].detail,
            format!("{p} is not setuid root: it cannot write maps for other users")
        );
        let am_root = nix::unistd::geteuid().is_root();
        let expected = if am_root {
            format!("as root: chmod u+s {p}")
        } else {
            format!("as root: chown root:root {p} && chmod u+s {p}")
        };
        assert_eq!(found[0].fix.as_deref(), Some(expected.as_str()));
        // newgidmap is setuid; it is setuid root when the test runs as root.
        let gid = fake.path().join("bin/newgidmap");
        if am_root {
            assert_eq!(found[1].status, Status::Ok);
            assert_eq!(
                found[1].detail,
                format!("{} is installed and setuid root", gid.display())
            );
        } else {
            assert_eq!(found[1].status, Status::Problem);
        }
    }
}
