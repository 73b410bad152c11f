//! Which containers stack on which, in LXC's files: a parent's
//! `lxc_snapshots` lists its clones (`LXCPATH\nNAME\n` for each), a
//! clone's `lxc_rdepends` names its parent the same way. LXC writes and
//! reads the same files, so a parent made by one is guarded against the
//! other.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{io_err, Result};

/// The parent's file that lists its clones.
pub const SNAPSHOTS_FILE: &str = "lxc_snapshots";
/// The clone's file that names its parent.
pub const RDEPENDS_FILE: &str = "lxc_rdepends";

/// A container, by lxcpath and name, in a dependency record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependent {
    pub lxcpath: PathBuf,
    pub name: String,
}

impl Dependent {
    /// The container whose directory is `dir` (`<lxcpath>/<name>`).
    pub fn of_dir(dir: &Path) -> Dependent {
        Dependent {
            lxcpath: dir.parent().unwrap_or(Path::new("/")).to_path_buf(),
            name: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }

    /// Its directory.
    pub fn dir(&self) -> PathBuf {
        self.lxcpath.join(&self.name)
    }

    fn record(&self) -> String {
        format!("{}\n{}\n", self.lxcpath.display(), self.name)
    }
}

/// Reads `LXCPATH\nNAME\n` pairs. LXC's older format (a bare count) reads
/// as no names.
fn read_records(file: &Path) -> Result<Vec<Dependent>> {
    let text = match fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("read", file)(e)),
    };
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() < 2 {
        return Ok(Vec::new());
    }
    Ok(lines
        .chunks_exact(2)
        .map(|p| Dependent {
            lxcpath: PathBuf::from(p[0]),
            name: p[1].to_string(),
        })
        .collect())
}

/// Writes the records through a temporary file and a rename, or removes
/// the file when there are none.
fn write_records(file: &Path, records: &[Dependent]) -> Result<()> {
    if records.is_empty() {
        return match fs::remove_file(file) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(io_err("remove", file)(e)),
            _ => Ok(()),
        };
    }
    let tmp = file.with_extension("tmp");
    let text: String = records.iter().map(Dependent::record).collect();
    // No fsync: the rename makes the record whole or absent for every
    // reader, as LXC's own (unsynced) write does; a clone's other files
    // are not synced either, so a sync here would buy no durability, and
    // costs a flush of the device on every copy.
    fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(io_err("write", &tmp))?;
    fs::rename(&tmp, file).map_err(io_err("replace", file))
}

/// The clones of the container in `dir` whose directory still exists.
pub fn dependents(dir: &Path) -> Result<Vec<Dependent>> {
    let mut all = read_records(&dir.join(SNAPSHOTS_FILE))?;
    all.retain(|d| d.dir().exists());
    Ok(all)
}

/// The parent of the container in `dir`, if it is a clone that stacks on
/// one.
pub fn parent(dir: &Path) -> Result<Option<Dependent>> {
    Ok(read_records(&dir.join(RDEPENDS_FILE))?.into_iter().next())
}

/// Records that the container in `child_dir` stacks on the one in
/// `parent_dir`: in both files.
pub fn record(parent_dir: &Path, child_dir: &Path) -> Result<()> {
    let file = parent_dir.join(SNAPSHOTS_FILE);
    let child = Dependent::of_dir(child_dir);
    let mut all = read_records(&file)?;
    if !all.contains(&child) {
        all.push(child);
    }
    write_records(&file, &all)?;
    write_records(
        &child_dir.join(RDEPENDS_FILE),
        &[Dependent::of_dir(parent_dir)],
    )
}

/// Undoes [`record`] for the container in `child_dir`, whatever its
/// parent: removes it from its parent's list and removes its own file.
pub fn forget_parent(child_dir: &Path) -> Result<()> {
    leave_parent(child_dir)?;
    write_records(&child_dir.join(RDEPENDS_FILE), &[])
}

/// Removes the container in `child_dir` from its parent's list alone,
/// for a caller about to remove the whole directory (its own record
/// goes with it).
pub fn leave_parent(child_dir: &Path) -> Result<()> {
    let Some(parent) = parent(child_dir)? else {
        return Ok(());
    };
    let file = parent.dir().join(SNAPSHOTS_FILE);
    let child = Dependent::of_dir(child_dir);
    let mut all = read_records(&file)?;
    all.retain(|d| *d != child);
    if parent.dir().is_dir() {
        write_records(&file, &all)?;
    }
    Ok(())
}

/// Follows a clone whose directory was renamed from `old_dir` to
/// `new_dir` (a clone made in a staging directory, then moved into
/// place): its parent's list names the new directory instead of the old
/// one, and its own `lxc_rdepends` (moved with it) is kept. Nothing to do
/// for a container that is no clone.
pub fn moved(old_dir: &Path, new_dir: &Path) -> Result<()> {
    let Some(parent) = parent(new_dir)? else {
        return Ok(());
    };
    if !parent.dir().is_dir() {
        return Ok(());
    }
    let file = parent.dir().join(SNAPSHOTS_FILE);
    let (old, new) = (Dependent::of_dir(old_dir), Dependent::of_dir(new_dir));
    let mut all = read_records(&file)?;
    all.retain(|d| *d != old && *d != new);
    all.push(new);
    write_records(&file, &all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_forgets_in_lxcs_format() {
        let tmp = tempfile::tempdir().unwrap();
        let (base, c1, c2) = (
            tmp.path().join("base"),
            tmp.path().join("c1"),
            tmp.path().join("c2"),
        );
        for d in [&base, &c1, &c2] {
            fs::create_dir(d).unwrap();
        }
        record(&base, &c1).unwrap();
        record(&base, &c2).unwrap();
        record(&base, &c2).unwrap();
        let lxcpath = tmp.path().display();
        assert_eq!(
            fs::read_to_string(base.join(SNAPSHOTS_FILE)).unwrap(),
            format!("{lxcpath}\nc1\n{lxcpath}\nc2\n")
        );
        assert_eq!(
            fs::read_to_string(c1.join(RDEPENDS_FILE)).unwrap(),
            format!("{lxcpath}\nbase\n")
        );
        assert_eq!(dependents(&base).unwrap().len(), 2);
        // A clone whose directory went away does not hold its parent.
        fs::remove_dir_all(&c2).unwrap();
        assert_eq!(dependents(&base).unwrap(), vec![Dependent::of_dir(&c1)]);
        forget_parent(&c1).unwrap();
        assert!(!c1.join(RDEPENDS_FILE).exists());
        assert_eq!(
            fs::read_to_string(base.join(SNAPSHOTS_FILE)).unwrap(),
            format!("{lxcpath}\nc2\n")
        );
    }

    #[test]
    fn leaving_the_parent_keeps_the_clones_own_record() {
        let tmp = tempfile::tempdir().unwrap();
        let (base, c1) = (tmp.path().join("base"), tmp.path().join("c1"));
        for d in [&base, &c1] {
            fs::create_dir(d).unwrap();
        }
        record(&base, &c1).unwrap();
        leave_parent(&c1).unwrap();
        assert!(!base.join(SNAPSHOTS_FILE).exists());
        assert_eq!(
            fs::read_to_string(c1.join(RDEPENDS_FILE)).unwrap(),
            format!("{}\nbase\n", tmp.path().display())
        );
    }

    #[test]
    fn lxcs_old_count_format_names_no_one() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(SNAPSHOTS_FILE), "2\n").unwrap();
        assert!(dependents(tmp.path()).unwrap().is_empty());
    }

    #[test]
    fn a_clone_moved_into_place_is_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let (base, staged, done) = (
            tmp.path().join("base"),
            tmp.path().join(".c1.partial"),
            tmp.path().join("c1"),
        );
        fs::create_dir(&base).unwrap();
        fs::create_dir(&staged).unwrap();
        record(&base, &staged).unwrap();
        fs::rename(&staged, &done).unwrap();
        moved(&staged, &done).unwrap();
        assert_eq!(
            fs::read_to_string(base.join(SNAPSHOTS_FILE)).unwrap(),
            format!("{}\nc1\n", tmp.path().display())
        );
        assert_eq!(dependents(&base).unwrap(), vec![Dependent::of_dir(&done)]);
        // Not a clone: nothing to do.
        moved(&base, &base).unwrap();
    }
}
