//! Subordinate ids: the user's ranges in /etc/subuid and /etc/subgid
//! exist and cover every `lxc.idmap` line (newuidmap's "Failed to find
//! subuid or subgid allocation" otherwise), and no two lines overlap.
//! The rules are enclos-idmap's ([`enclos_idmap::check`]); this module
//! turns its findings into the doctor's.

use enclos_idmap::{Allocation, IdKind, IdMap, IdMaps};

use super::{Check, Finding, HostPaths, Subject};

const CHECK: Check = Check::Subids;

/// `lxc.idmap = u 0 165536 65536, lxc.idmap = g 0 165536 65536`.
fn lines(maps: &IdMaps) -> String {
    let all: Vec<String> = maps
        .all()
        .iter()
        .map(|m| format!("lxc.idmap = {m}"))
        .collect();
    all.join(", ")
}

/// The shell command that appends `maps` to the configuration.
fn append_maps(subject: &Subject, maps: &[IdMap]) -> String {
    let text: String = maps.iter().map(|m| format!("lxc.idmap = {m}\\n")).collect();
    let file = subject.config.display();
    let mkdir = match subject.config.parent() {
        Some(dir) if !subject.config_exists => format!("mkdir -p {} && ", dir.display()),
        _ => String::new(),
    };
    format!("{mkdir}printf '{text}' >> {file}")
}

fn from_idmap(f: &enclos_idmap::Finding) -> Finding {
    let fix = f.fix();
    let text = f.to_string();
    let detail = text.strip_suffix(&format!("; {fix}")).unwrap_or(&text);
    Finding::problem(CHECK, detail, fix)
}

/// A user whose configuration has no map: their container would need
/// privileges they lack.
fn no_maps(subject: &Subject, allocation: &Allocation) -> Vec<Finding> {
    let detail = format!(
        "{} has no lxc.idmap lines: a user's container needs its ids mapped",
        subject.config_label()
    );
    match enclos_idmap::default_maps_for(allocation, &subject.user) {
        Ok(maps) => vec![Finding::problem(
            CHECK,
            detail,
            append_maps(subject, maps.all()),
        )],
        Err(e) => {
            // No range in one of the files: say which, then which map to
            // write once it is allocated.
            let text = e.to_string();
            let (what, fix) = text.split_once("; ").unwrap_or((&text, ""));
            let range = allocation
                .subuid
                .next_free_start(enclos_idmap::SUB_ID_COUNT)
                .max(
                    allocation
                        .subgid
                        .next_free_start(enclos_idmap::SUB_ID_COUNT),
                );
            let mut found = vec![Finding::problem(CHECK, what, fix)];
            if let Some(start) = range {
                let map = |kind| IdMap {
                    kind,
                    container_id: 0,
                    host_id: start,
                    range: enclos_idmap::SUB_ID_COUNT,
                };
                found.push(Finding::problem(
                    CHECK,
                    detail,
                    append_maps(subject, &[map(IdKind::Uid), map(IdKind::Gid)]),
                ));
            }
            found
        }
    }
}

pub(super) fn check(host: &HostPaths, subject: &Subject) -> Vec<Finding> {
    if subject.is_root() {
        let overlaps = enclos_idmap::check_overlaps(&subject.maps);
        if overlaps.is_empty() {
            return vec![Finding::ok(
                CHECK,
                "root writes its maps itself and needs no subordinate ids",
            )];
        }
        return overlaps.iter().map(from_idmap).collect();
    }
    let allocation = match Allocation::read(&host.subids) {
        Ok(a) => a,
        Err(e) => {
            return vec![Finding::problem(
                CHECK,
                enclos_report::chain(&e),
                "as root, correct that line (NAME_OR_UID:START:COUNT)",
            )]
        }
    };
    if subject.maps.is_empty() {
        return no_maps(subject, &allocation);
    }
    let found = enclos_idmap::check(&subject.maps, &allocation, &subject.user);
    if found.is_empty() {
        return vec![Finding::ok(
            CHECK,
            format!(
                "{} lie within {}'s ranges in {} and {}",
                lines(&subject.maps),
                subject.user.name,
                host.subids.subuid.display(),
                host.subids.subgid.display()
            ),
        )];
    }
    found.iter().map(from_idmap).collect()
}

#[cfg(test)]
mod tests {
    use super::super::{fake::Fake, Status};
    use super::*;

    #[test]
    fn the_course_allocation_covers_the_course_map() {
        let fake = Fake::new();
        fake.subids("lxcnp:165536:65536\n", "lxcnp:165536:65536\n");
        let found = check(&fake.paths, &fake.user());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].status, Status::Ok);
        assert!(found[0].detail.starts_with(
            "lxc.idmap = u 0 165536 65536, lxc.idmap = g 0 165536 65536 lie within lxcnp's ranges"
        ));
    }

    #[test]
    fn a_map_outside_the_allocation() {
        let fake = Fake::new();
        fake.subids("lxcnp:100000:65536\n", "lxcnp:165536:65536\n");
        let found = check(&fake.paths, &fake.user());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].status, Status::Problem);
        let subuid = fake.paths.subids.subuid.display();
        assert_eq!(
            found[0].detail,
            format!(
                "lxc.idmap = u 0 165536 65536: host uids 165536-231071 are not allocated to lxcnp in {subuid}"
            )
        );
        assert_eq!(
            found[0].fix.as_deref().unwrap(),
            format!(
                "add 'lxcnp:165536:65536' to {subuid} (as root: usermod --add-subuids 165536-231071 lxcnp)"
            )
        );
    }

    #[test]
    fn overlapping_lines() {
        let fake = Fake::new();
        fake.subids("lxcnp:165536:65536\n", "lxcnp:165536:65536\n");
        let mut s = fake.user();
        s.maps = IdMaps::new(vec![
            IdMap::parse("u 0 165536 1000").unwrap(),
            IdMap::parse("u 500 200000 1000").unwrap(),
            IdMap::parse("g 0 165536 65536").unwrap(),
        ]);
        let found = check(&fake.paths, &s);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].detail.contains("overlap"), "{}", found[0].detail);
        assert_eq!(
            found[0].fix.as_deref(),
            Some("give each lxc.idmap line of kind u its own container uids")
        );
    }

    #[test]
    fn no_maps_and_no_ranges() {
        let fake = Fake::new();
        fake.subids("other:100000:65536\n", "other:100000:65536\n");
        let mut s = fake.user();
        s.maps = IdMaps::default();
        s.config_exists = false;
        let found = check(&fake.paths, &s);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found[0]
            .detail
            .starts_with("User lxcnp has no subordinate uids"));
        assert_eq!(
            found[0].fix.as_deref(),
            Some("as root: usermod --add-subuids 165536-231071 --add-subgids 165536-231071 lxcnp")
        );
        let conf = s.config.display();
        let dir = s.config.parent().unwrap().display();
        assert_eq!(
            found[1].fix.as_deref().unwrap(),
            format!(
                "mkdir -p {dir} && printf 'lxc.idmap = u 0 165536 65536\\nlxc.idmap = g 0 165536 65536\\n' >> {conf}"
            )
        );
    }

    #[test]
    fn no_maps_with_ranges() {
        let fake = Fake::new();
        fake.subids("1001:200000:1000\n", "lxcnp:300000:1000\n");
        let mut s = fake.user();
        s.maps = IdMaps::default();
        let found = check(&fake.paths, &s);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].fix.as_deref().unwrap(),
            format!(
                "printf 'lxc.idmap = u 0 200000 1000\\nlxc.idmap = g 0 300000 1000\\n' >> {}",
                s.config.display()
            )
        );
    }

    #[test]
    fn a_bad_line_names_file_and_line() {
        let fake = Fake::new();
        fake.subids("lxcnp:165536\n", "");
        let found = check(&fake.paths, &fake.user());
        assert_eq!(found[0].status, Status::Problem);
        let at = format!("{}:1: ", fake.paths.subids.subuid.display());
        assert!(found[0].detail.starts_with(&at), "{}", found[0].detail);
    }

    #[test]
    fn root_needs_no_allocation() {
        let fake = Fake::new();
        let mut root = fake.root();
        root.maps = super::super::fake::course_maps();
        let found = check(&fake.paths, &root);
        assert_eq!(found[0].status, Status::Ok);
    }
}
