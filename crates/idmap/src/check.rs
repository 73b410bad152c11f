//! Checking a container's id maps before the kernel or newuidmap sees them.
//!
//! newuidmap and newgidmap accept a line when its host ids lie inside the
//! user's ranges of /etc/subuid (or /etc/subgid), adjacent ranges counting
//! as one, or when it maps exactly the user's own uid (gid) alone. The
//! kernel refuses two lines of one kind whose container ids or host ids
//! overlap. Each problem becomes a [`Finding`] that names the line, what is
//! missing and the fix.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::map::{IdKind, IdMap, IdMaps};
use crate::subid::{Allocation, SubIdRange, SUB_ID_COUNT};

/// The user whose allocation a map is checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    /// The login name.
    pub name: String,
    pub uid: u32,
    /// The primary gid.
    pub gid: u32,
}

/// What is wrong with one map line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// Host ids `start .. start + count` of the line are not allocated to
    /// the user in `file`.
    NotAllocated {
        file: PathBuf,
        user: String,
        start: u32,
        count: u32,
    },
    /// The line's container ids overlap those of `other`.
    ContainerIdsOverlap { other: IdMap },
    /// The line's host ids overlap those of `other`.
    HostIdsOverlap { other: IdMap },
}

/// One problem of one map line, with its fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The line concerned.
    pub map: IdMap,
    #[serde(flatten)]
    pub problem: Problem,
}

fn ids_word(kind: IdKind) -> &'static str {
    match kind {
        IdKind::Uid => "uids",
        IdKind::Gid => "gids",
    }
}

impl Finding {
    /// What to do about it, as a sentence without a final period.
    pub fn fix(&self) -> String {
        let ids = ids_word(self.map.kind);
        match &self.problem {
            Problem::NotAllocated {
                file,
                user,
                start,
                count,
            } => format!(
                "add '{user}:{start}:{count}' to {} (as root: usermod --add-sub{ids} {start}-{} {user})",
                file.display(),
                start + (count - 1),
            ),
            Problem::ContainerIdsOverlap { .. } => {
                format!("give each lxc.idmap line of kind {} its own container {ids}", self.map.kind.letter())
            }
            Problem::HostIdsOverlap { .. } => {
                format!("give each lxc.idmap line of kind {} its own host {ids}", self.map.kind.letter())
            }
        }
    }
}

impl fmt::Display for Finding {
    /// The problem, then the fix: `lxc.idmap = u 0 165536 65536: host uids
    /// 165536-231071 are not allocated to lxcnp in /etc/subuid; add ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids = ids_word(self.map.kind);
        write!(f, "lxc.idmap = {}: ", self.map)?;
        match &self.problem {
            Problem::NotAllocated {
                file,
                user,
                start,
                count,
            } => write!(
                f,
                "host {ids} {start}-{} are not allocated to {user} in {}",
                start + (count - 1),
                file.display()
            )?,
            Problem::ContainerIdsOverlap { other } => write!(
                f,
                "its container {ids} overlap those of '{other}', which the kernel refuses"
            )?,
            Problem::HostIdsOverlap { other } => write!(
                f,
                "its host {ids} overlap those of '{other}', which the kernel refuses"
            )?,
        }
        write!(f, "; {}", self.fix())
    }
}

/// The parts of `start .. start + count` that no range covers, as
/// `(start, count)` pairs in order.
fn gaps(start: u32, count: u32, ranges: &[&SubIdRange]) -> Vec<(u32, u32)> {
    let mut covered: Vec<(u64, u64)> = ranges
        .iter()
        .map(|r| (u64::from(r.start), u64::from(r.start) + u64::from(r.count)))
        .collect();
    covered.sort_unstable();
    let end = u64::from(start) + u64::from(count);
    let mut next = u64::from(start);
    let mut gaps = Vec::new();
    for (from, to) in covered {
        if next >= end {
            break;
        }
        if from > next {
            gaps.push((next, from.min(end)));
        }
        next = next.max(to);
    }
    if next < end {
        gaps.push((next, end));
    }
    // Both bounds lie within the line's ids, which fit in u32.
    gaps.into_iter()
        .map(|(from, to)| (from as u32, (to - from) as u32))
        .collect()
}

/// The lines whose host ids are not allocated to `owner`, one finding per
/// missing stretch. A line mapping exactly the owner's own uid (gid) needs
/// no allocation. Root writes maps without newuidmap and needs none at
/// all: call this for other users.
pub fn check_allocation(maps: &IdMaps, allocation: &Allocation, owner: &Owner) -> Vec<Finding> {
    let mut findings = Vec::new();
    for kind in [IdKind::Uid, IdKind::Gid] {
        let own = match kind {
            IdKind::Uid => owner.uid,
            IdKind::Gid => owner.gid,
        };
        let file = allocation.of(kind);
        let ranges = file.ranges_for(&owner.name, owner.uid);
        for map in maps.of(kind) {
            if map.range == 1 && map.host_id == own {
                continue;
            }
            for (start, count) in gaps(map.host_id, map.range, &ranges) {
                findings.push(Finding {
                    map: *map,
                    problem: Problem::NotAllocated {
                        file: file.path.clone(),
                        user: owner.name.clone(),
                        start,
                        count,
                    },
                });
            }
        }
    }
    findings
}

/// Whether `a_start .. a_start + a.range` and `b_start .. b_start +
/// b.range` share an id.
fn overlaps(a_start: u32, a: &IdMap, b_start: u32, b: &IdMap) -> bool {
    let (a_start, b_start) = (u64::from(a_start), u64::from(b_start));
    a_start < b_start + u64::from(b.range) && b_start < a_start + u64::from(a.range)
}

/// The lines whose container ids or host ids overlap those of an earlier
/// line of the same kind; the finding is on the later line.
pub fn check_overlaps(maps: &IdMaps) -> Vec<Finding> {
    let mut findings = Vec::new();
    for kind in [IdKind::Uid, IdKind::Gid] {
        let lines: Vec<&IdMap> = maps.of(kind).collect();
        for (i, later) in lines.iter().enumerate() {
            for earlier in &lines[..i] {
                if overlaps(earlier.container_id, earlier, later.container_id, later) {
                    findings.push(Finding {
                        map: **later,
                        problem: Problem::ContainerIdsOverlap { other: **earlier },
                    });
                }
                if overlaps(earlier.host_id, earlier, later.host_id, later) {
                    findings.push(Finding {
                        map: **later,
                        problem: Problem::HostIdsOverlap { other: **earlier },
                    });
                }
            }
        }
    }
    findings
}

/// Every finding of `maps` for `owner`: overlaps, then allocation.
pub fn check(maps: &IdMaps, allocation: &Allocation, owner: &Owner) -> Vec<Finding> {
    let mut findings = check_overlaps(maps);
    findings.extend(check_allocation(maps, allocation, owner));
    findings
}

/// The maps lxc-usernsexec uses without `-m`: container id 0 onwards onto
/// the owner's first range of each file, `u 0 START COUNT` and
/// `g 0 START COUNT`. The error names the file without a range and the
/// command that adds one.
pub fn default_maps_for(allocation: &Allocation, owner: &Owner) -> Result<IdMaps> {
    let mut maps = Vec::new();
    for kind in [IdKind::Uid, IdKind::Gid] {
        let file = allocation.of(kind);
        let Some(first) = file.ranges_for(&owner.name, owner.uid).first().copied() else {
            let start = allocation
                .subuid
                .next_free_start(SUB_ID_COUNT)
                .max(allocation.subgid.next_free_start(SUB_ID_COUNT));
            let hint = match start {
                Some(s) => format!(
                    "as root: usermod --add-subuids {s}-{last} --add-subgids {s}-{last} {user}",
                    last = s + (SUB_ID_COUNT - 1),
                    user = owner.name
                ),
                None => format!("as root, add a range for {} to it", owner.name),
            };
            return Err(Error::NoSubIds {
                path: file.path.clone(),
                user: owner.name.clone(),
                ids: ids_word(kind),
                hint,
            });
        };
        maps.push(IdMap {
            kind,
            container_id: 0,
            host_id: first.start,
            range: first.count,
        });
    }
    Ok(IdMaps::new(maps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subid::SubIds;
    use std::path::Path;

    fn allocation(subuid: &str, subgid: &str) -> Allocation {
        Allocation {
            subuid: SubIds::parse(Path::new("/etc/subuid"), IdKind::Uid, subuid).unwrap(),
            subgid: SubIds::parse(Path::new("/etc/subgid"), IdKind::Gid, subgid).unwrap(),
        }
    }

    fn lxcnp() -> Owner {
        Owner {
            name: "lxcnp".to_string(),
            uid: 1001,
            gid: 1001,
        }
    }

    fn maps(lines: &[&str]) -> IdMaps {
        IdMaps::new(lines.iter().map(|l| IdMap::parse(l).unwrap()).collect())
    }

    #[test]
    fn the_course_map_fits_the_course_allocation() {
        let all = allocation("lxcnp:165536:65536\n", "lxcnp:165536:65536\n");
        let m = maps(&["u 0 165536 65536", "g 0 165536 65536"]);
        assert_eq!(check(&m, &all, &lxcnp()), vec![]);
        assert_eq!(default_maps_for(&all, &lxcnp()).unwrap(), m);
    }

    #[test]
    fn a_missing_allocation_says_what_to_add() {
        let all = allocation("root:100000:65536\n", "lxcnp:165536:65536\n");
        let m = maps(&["u 0 165536 65536", "g 0 165536 65536"]);
        let found = check(&m, &all, &lxcnp());
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].to_string(),
            "lxc.idmap = u 0 165536 65536: host uids 165536-231071 are not allocated to lxcnp \
             in /etc/subuid; add 'lxcnp:165536:65536' to /etc/subuid (as root: usermod \
             --add-subuids 165536-231071 lxcnp)"
        );
    }

    #[test]
    fn only_the_uncovered_part_is_missing_and_adjacent_ranges_join() {
        // 165536..+1000 and 166536..+1000 are adjacent; 168536.. is missing.
        let all = allocation(
            "lxcnp:165536:1000\n1001:166536:1000\nlxcnp:170000:10\n",
            "lxcnp:165536:65536\n",
        );
        let found = check_allocation(&maps(&["u 0 165536 3000"]), &all, &lxcnp());
        let missing: Vec<_> = found
            .iter()
            .map(|f| match &f.problem {
                Problem::NotAllocated { start, count, .. } => (*start, *count),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(missing, vec![(167536, 1000)]);
        assert!(found[0]
            .fix()
            .contains("usermod --add-subuids 167536-168535 lxcnp"));
    }

    #[test]
    fn the_users_own_id_needs_no_allocation() {
        let all = allocation("lxcnp:165536:65536\n", "lxcnp:165536:65536\n");
        let m = maps(&[
            "u 0 165536 1000",
            "u 1000 1001 1",
            "g 0 165536 1000",
            "g 1000 1001 1",
        ]);
        assert_eq!(check(&m, &all, &lxcnp()), vec![]);
        // Two of its own ids are not its own id alone.
        let found = check(&maps(&["g 0 1001 2"]), &all, &lxcnp());
        assert_eq!(found.len(), 1);
        assert!(
            found[0].fix().contains("--add-subgids 1001-1002 lxcnp"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn overlapping_lines_are_found_on_the_later_line() {
        let m = maps(&[
            "u 0 165536 1000",
            "u 999 300000 10",
            "u 2000 166000 5",
            "g 0 165536 10",
            "g 10 165546 10",
        ]);
        let found = check_overlaps(&m);
        assert_eq!(
            found,
            vec![
                Finding {
                    map: m.all()[1],
                    problem: Problem::ContainerIdsOverlap { other: m.all()[0] },
                },
                Finding {
                    map: m.all()[2],
                    problem: Problem::HostIdsOverlap { other: m.all()[0] },
                },
            ]
        );
        assert!(found[0]
            .to_string()
            .contains("its container uids overlap those of 'u 0 165536 1000'"));
    }

    #[test]
    fn default_maps_without_a_range_suggest_one() {
        let all = allocation("root:100000:65536\n", "");
        let err = default_maps_for(&all, &lxcnp()).unwrap_err().to_string();
        assert_eq!(
            err,
            "User lxcnp has no subordinate uids in /etc/subuid; as root: usermod \
             --add-subuids 165536-231071 --add-subgids 165536-231071 lxcnp"
        );
    }

    #[test]
    fn findings_serialize_with_their_problem() {
        let f = Finding {
            map: IdMap::parse("u 0 1 1").unwrap(),
            problem: Problem::HostIdsOverlap {
                other: IdMap::parse("u 5 1 1").unwrap(),
            },
        };
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["problem"], "host_ids_overlap");
        assert_eq!(json["map"]["host_id"], 1);
    }
}
