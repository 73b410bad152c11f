//! `/etc/subuid` and `/etc/subgid`: the subordinate ids each user may map.
//!
//! Each line is `NAME_OR_UID:START:COUNT`; a user may have several lines,
//! `#` starts a comment line and blank lines are skipped, as in shadow's
//! subid(5). A line names its user by login name or by numeric uid, for
//! both files (a subgid line names a user, not a group).

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::map::IdKind;

/// The default subordinate uid file.
pub const SUBUID: &str = "/etc/subuid";
/// The default subordinate gid file.
pub const SUBGID: &str = "/etc/subgid";

/// Where a new allocation starts by default (shadow's `SUB_UID_MIN`).
pub const SUB_ID_MIN: u32 = 100_000;
/// How many ids a new allocation holds by default (shadow's `SUB_UID_COUNT`).
pub const SUB_ID_COUNT: u32 = 65_536;

/// The paths of the two files, injectable for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubIdPaths {
    pub subuid: PathBuf,
    pub subgid: PathBuf,
}

impl Default for SubIdPaths {
    fn default() -> SubIdPaths {
        SubIdPaths {
            subuid: PathBuf::from(SUBUID),
            subgid: PathBuf::from(SUBGID),
        }
    }
}

impl SubIdPaths {
    /// The file of `kind`: subuid for uids, subgid for gids.
    pub fn of(&self, kind: IdKind) -> &Path {
        match kind {
            IdKind::Uid => &self.subuid,
            IdKind::Gid => &self.subgid,
        }
    }
}

/// One line: `owner` may use host ids `start .. start + count`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubIdRange {
    /// A login name or a numeric uid, as written.
    pub owner: String,
    pub start: u32,
    pub count: u32,
    /// The line number in the file, from 1.
    pub line: usize,
}

impl std::fmt::Display for SubIdRange {
    /// The line as subid(5) has it: `lxcnp:165536:65536`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.owner, self.start, self.count)
    }
}

impl SubIdRange {
    /// The last id of the range.
    pub fn last(&self) -> u32 {
        self.start + (self.count - 1)
    }

    /// Whether the line is about the user `name` with uid `uid`.
    pub fn is_for(&self, name: &str, uid: u32) -> bool {
        self.owner == name || parse_number(&self.owner) == Some(uid)
    }
}

/// The parsed content of one subordinate id file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubIds {
    /// The file the ranges were read from.
    pub path: PathBuf,
    /// Uids for /etc/subuid, gids for /etc/subgid.
    pub kind: IdKind,
    /// Every range, in file order.
    pub ranges: Vec<SubIdRange>,
}

fn parse_number(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `NAME_OR_UID:START:COUNT`; the error says what is wrong.
fn parse_line(text: &str, line: usize) -> std::result::Result<SubIdRange, String> {
    let fields: Vec<&str> = text.split(':').collect();
    let [owner, start, count] = fields.as_slice() else {
        return Err(format!(
            "Expected NAME_OR_UID:START:COUNT, e.g. 'lxcnp:165536:65536', found {text:?}"
        ));
    };
    let owner = owner.trim();
    if owner.is_empty() {
        return Err("The user name or uid before the first ':' is empty".to_string());
    }
    let start = parse_number(start.trim())
        .ok_or_else(|| format!("START {:?} is not a decimal id", start.trim()))?;
    let count = parse_number(count.trim())
        .ok_or_else(|| format!("COUNT {:?} is not a decimal number", count.trim()))?;
    if count == 0 {
        return Err("COUNT is 0: a range holds at least one id".to_string());
    }
    if u64::from(start) + u64::from(count) > u64::from(u32::MAX) {
        return Err(format!(
            "START + COUNT ({start} + {count}) is past the last id, 4294967294"
        ));
    }
    Ok(SubIdRange {
        owner: owner.to_string(),
        start,
        count,
        line,
    })
}

impl SubIds {
    /// Parses the text of a subordinate id file; `path` names it in errors.
    pub fn parse(path: &Path, kind: IdKind, text: &str) -> Result<SubIds> {
        let mut ranges = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let content = raw.trim();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let range = parse_line(content, index + 1).map_err(|reason| Error::SubIdSyntax {
                path: path.to_path_buf(),
                line: index + 1,
                reason,
            })?;
            ranges.push(range);
        }
        Ok(SubIds {
            path: path.to_path_buf(),
            kind,
            ranges,
        })
    }

    /// Reads and parses `path`. A missing file holds no range, as for
    /// newuidmap: the error comes later, when a map needs one.
    pub fn read(path: &Path, kind: IdKind) -> Result<SubIds> {
        match fs::read_to_string(path) {
            Ok(text) => SubIds::parse(path, kind, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SubIds {
                path: path.to_path_buf(),
                kind,
                ranges: Vec::new(),
            }),
            Err(source) => Err(Error::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// The ranges of the user `name` with uid `uid`, matched by name or by
    /// numeric uid, in file order.
    pub fn ranges_for(&self, name: &str, uid: u32) -> Vec<&SubIdRange> {
        self.ranges.iter().filter(|r| r.is_for(name, uid)).collect()
    }

    /// Where a new range of `count` ids could start: after every range of
    /// the file and not below [`SUB_ID_MIN`], as useradd picks it.
    pub fn next_free_start(&self, count: u32) -> Option<u32> {
        let end = self
            .ranges
            .iter()
            .map(|r| u64::from(r.start) + u64::from(r.count))
            .fold(u64::from(SUB_ID_MIN), u64::max);
        (end + u64::from(count) <= u64::from(u32::MAX)).then_some(end as u32)
    }
}

/// The allocation of every user: both files, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allocation {
    pub subuid: SubIds,
    pub subgid: SubIds,
}

impl Allocation {
    /// Reads both files.
    pub fn read(paths: &SubIdPaths) -> Result<Allocation> {
        Ok(Allocation {
            subuid: SubIds::read(&paths.subuid, IdKind::Uid)?,
            subgid: SubIds::read(&paths.subgid, IdKind::Gid)?,
        })
    }

    /// The file of `kind`.
    pub fn of(&self, kind: IdKind) -> &SubIds {
        match kind {
            IdKind::Uid => &self.subuid,
            IdKind::Gid => &self.subgid,
        }
    }
}

#[cfg(test)]
#[path = "subid_prop_tests.rs"]
mod prop_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn names_uids_several_ranges_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "subuid",
            "# allocations\n\nroot:100000:65536\nlxcnp:165536:65536\n  1001:231072:1000  \nlxcnp:300000:10\n",
        );
        let ids = SubIds::read(&path, IdKind::Uid).unwrap();
        let starts = |name, uid| -> Vec<(u32, u32, usize)> {
            ids.ranges_for(name, uid)
                .iter()
                .map(|r| (r.start, r.count, r.line))
                .collect()
        };
        assert_eq!(
            starts("lxcnp", 1001),
            vec![(165536, 65536, 4), (231072, 1000, 5), (300000, 10, 6)]
        );
        assert_eq!(starts("root", 0), vec![(100000, 65536, 3)]);
        assert_eq!(starts("nobody", 65534), vec![]);
        assert_eq!(ids.ranges_for("lxcnp", 1001)[0].last(), 231071);
        assert_eq!(ids.next_free_start(65536), Some(300010));
    }

    #[test]
    fn a_missing_file_holds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ids = SubIds::read(&dir.path().join("subgid"), IdKind::Gid).unwrap();
        assert!(ids.ranges.is_empty());
        assert_eq!(ids.next_free_start(65536), Some(SUB_ID_MIN));
    }

    #[rstest]
    #[case("lxcnp:165536", "Expected NAME_OR_UID:START:COUNT")]
    #[case("lxcnp:165536:65536:1", "Expected NAME_OR_UID:START:COUNT")]
    #[case(":165536:65536", "The user name or uid")]
    #[case("lxcnp:-1:65536", "START \"-1\" is not a decimal id")]
    #[case("lxcnp:165536:lots", "COUNT \"lots\" is not a decimal number")]
    #[case("lxcnp:165536:0", "COUNT is 0")]
    #[case("lxcnp:4294967290:10", "START + COUNT (4294967290 + 10)")]
    fn errors_name_file_and_line(#[case] bad: &str, #[case] expected: &str) {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "subuid",
            &format!("# c\nroot:100000:65536\n{bad}\n"),
        );
        let err = SubIds::read(&path, IdKind::Uid).unwrap_err().to_string();
        let prefix = format!("{}:3: {expected}", path.display());
        assert!(
            err.starts_with(&prefix),
            "{err} does not start with {prefix}"
        );
    }

    #[test]
    fn both_files_through_injected_paths() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SubIdPaths {
            subuid: write(dir.path(), "subuid", "lxcnp:165536:65536\n"),
            subgid: write(dir.path(), "subgid", "1001:165536:65536\n"),
        };
        let all = Allocation::read(&paths).unwrap();
        assert_eq!(all.of(IdKind::Uid).ranges_for("lxcnp", 1001).len(), 1);
        assert_eq!(all.of(IdKind::Gid).ranges_for("lxcnp", 1001).len(), 1);
        assert_eq!(all.of(IdKind::Gid).ranges_for("other", 1002).len(), 0);
        assert_eq!(paths.of(IdKind::Gid), paths.subgid.as_path());
        assert_eq!(SubIdPaths::default().subuid, PathBuf::from("/etc/subuid"));
    }
}
