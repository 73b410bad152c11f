//! Writing one tar member under a directory: its file, then its owner,
//! mode, xattrs and times, in the order that keeps them all (chown clears
//! set-id bits and file capabilities, so it goes first). Paths that would
//! leave the directory are refused; holes are seeked over, never written.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::sys::time::TimeSpec;
use tar::EntryType;

use crate::error::{Error, Result};

/// The safe relative path of a member: `./` and a leading `/` dropped;
/// `..` refused. `None` for the top directory itself.
pub fn member_path(archive: &str, raw: &[u8]) -> Result<Option<PathBuf>> {
    let path = Path::new(OsStr::from_bytes(raw));
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Error::UnsafeMember {
                    archive: archive.to_string(),
                    member: path.display().to_string(),
                    reason: "it climbs out of the container with '..'",
                })
            }
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// Unpacks members under `root`.
pub struct Unpacker<'a> {
    pub root: &'a Path,
    pub archive: &'a str,
    /// Directories and their times, set last (their files change them).
    dirs: Vec<(PathBuf, u64)>,
}

impl<'a> Unpacker<'a> {
    pub fn new(root: &'a Path, archive: &'a str) -> Self {
        Unpacker {
            root,
            archive,
            dirs: Vec::new(),
        }
    }

    fn err(&self, rel: &Path) -> impl FnOnce(io::Error) -> Error {
        let member = rel.display().to_string();
        let archive = self.archive.to_string();
        move |source| Error::Unpack {
            archive,
            member,
            source,
        }
    }

    /// Refuses a member whose parent directories include a symlink (it
    /// would write outside the root), and makes missing parents.
    fn parents(&self, rel: &Path) -> Result<PathBuf> {
        let mut at = self.root.to_path_buf();
        if let Some(parent) = rel.parent() {
            for c in parent.components() {
                at.push(c);
                match fs::symlink_metadata(&at) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => {
                        return Err(Error::UnsafeMember {
                            archive: self.archive.to_string(),
                            member: rel.display().to_string(),
                            reason: "a directory above it is a symlink or a file",
                        })
                    }
                    Err(_) => fs::create_dir(&at).map_err(self.err(rel))?,
                }
            }
        }
        Ok(self.root.join(rel))
    }

    /// Unpacks `entry` at `rel`; returns the bytes of file data written.
    pub fn member<R: Read>(
        &mut self,
        rel: &Path,
        entry: &mut tar::Entry<R>,
        pax: Option<&[u8]>,
        on_data: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        let xattrs = pax_xattrs(pax.unwrap_or_default());
        let path = self.parents(rel)?;
        let h = entry.header().clone();
        let kind = h.entry_type();
        if kind != EntryType::Directory {
            remove_existing(&path).map_err(self.err(rel))?;
        }
        let mut bytes = 0;
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                bytes = write_file(&path, entry, on_data).map_err(self.err(rel))?;
            }
            EntryType::Directory => match fs::create_dir(&path) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                    return Err(self.err(rel)(e));
                }
                _ => {
                    let mtime = h.mtime().unwrap_or(0);
                    self.dirs.push((path.clone(), mtime));
                }
            },
            EntryType::Symlink => {
                let target = link_target(entry).map_err(self.err(rel))?;
                symlink(target, &path).map_err(self.err(rel))?;
            }
            EntryType::Link => {
                let raw = entry.link_name_bytes().unwrap_or_default().into_owned();
                let Some(target) = member_path(self.archive, &raw)? else {
                    return Err(self.err(rel)(io::ErrorKind::InvalidData.into()));
                };
                // The same inode: its metadata came with the first name.
                fs::hard_link(self.root.join(target), &path).map_err(self.err(rel))?;
                return Ok(0);
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                make_node(&path, &h, kind).map_err(self.err(rel))?;
            }
            _ => return Ok(0),
        }
        self.metadata(&path, &h, kind, &xattrs)
            .map_err(self.err(rel))?;
        Ok(bytes)
    }

    /// Owner, then mode, then xattrs, then times.
    fn metadata(
        &self,
        path: &Path,
        h: &tar::Header,
        kind: EntryType,
        xattrs: &[(String, Vec<u8>)],
    ) -> io::Result<()> {
        let uid = h.uid()? as u32;
        let gid = h.gid()? as u32;
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
        if kind != EntryType::Symlink {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(path, fs::Permissions::from_mode(h.mode()? & 0o7777))?;
        }
        for (key, value) in xattrs {
            xattr::set(path, key, value)?;
        }
        if kind != EntryType::Directory {
            set_mtime(path, h.mtime()?)?;
        }
        Ok(())
    }

    /// Sets the directories' times, deepest first.
    pub fn finish(&mut self) -> Result<()> {
        while let Some((path, mtime)) = self.dirs.pop() {
            set_mtime(&path, mtime).map_err(|source| Error::Unpack {
                archive: self.archive.to_string(),
                member: path.display().to_string(),
                source,
            })?;
        }
        Ok(())
    }
}

/// The `SCHILY.xattr.*` records of a member's pax data.
fn pax_xattrs(pax: &[u8]) -> Vec<(String, Vec<u8>)> {
    super::paxtap::records(pax)
        .into_iter()
        .filter_map(|(k, v)| {
            let key = std::str::from_utf8(k).ok()?.strip_prefix("SCHILY.xattr.")?;
            Some((key.to_string(), v.to_vec()))
        })
        .collect()
}

fn link_target<R: Read>(entry: &tar::Entry<R>) -> io::Result<PathBuf> {
    let raw = entry
        .link_name_bytes()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a symlink with no target"))?;
    Ok(PathBuf::from(OsStr::from_bytes(&raw)))
}

/// Removes what a member replaces (a later member of the same name).
fn remove_existing(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir(path),
        Ok(_) => fs::remove_file(path),
        Err(_) => Ok(()),
    }
}

fn make_node(path: &Path, h: &tar::Header, kind: EntryType) -> io::Result<()> {
    let (flag, dev) = match kind {
        EntryType::Fifo => (SFlag::S_IFIFO, 0),
        _ => {
            let major = h.device_major()?.unwrap_or(0);
            let minor = h.device_minor()?.unwrap_or(0);
            let flag = if kind == EntryType::Char {
                SFlag::S_IFCHR
            } else {
                SFlag::S_IFBLK
            };
            (flag, makedev(major.into(), minor.into()))
        }
    };
    mknod(path, flag, Mode::from_bits_truncate(0o600), dev).map_err(io::Error::from)
}

fn set_mtime(path: &Path, mtime: u64) -> io::Result<()> {
    let t = TimeSpec::new(mtime as i64, 0);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &t,
        &t,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .map_err(io::Error::from)
}

/// The size of the blocks checked for zeros.
const HOLE_BLOCK: usize = 4096;

/// Writes a file's data, seeking over blocks of zeros so holes stay holes
/// (a GNU sparse member's, or zeros a plain tar stored), as `cp
/// --sparse=always` does. Returns its size.
fn write_file<R: Read>(path: &Path, src: &mut R, on_data: &mut dyn FnMut(u64)) -> io::Result<u64> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = read_full(src, &mut buf)?;
        if n == 0 {
            break;
        }
        write_sparse(&mut f, &buf[..n])?;
        size += n as u64;
        on_data(n as u64);
    }
    f.set_len(size)?;
    Ok(size)
}

fn read_full<R: Read>(src: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Writes `data` at the file's position, runs of data in one write, runs
/// of zero blocks as a seek.
fn write_sparse(f: &mut fs::File, data: &[u8]) -> io::Result<()> {
    let blocks: Vec<&[u8]> = data.chunks(HOLE_BLOCK).collect();
    let mut i = 0;
    while i < blocks.len() {
        let zero = blocks[i].iter().all(|b| *b == 0);
        let start = i;
        while i < blocks.len() && blocks[i].iter().all(|b| *b == 0) == zero {
            i += 1;
        }
        let len: usize = blocks[start..i].iter().map(|b| b.len()).sum();
        let from = start * HOLE_BLOCK;
        if zero {
            f.seek(SeekFrom::Current(len as i64))?;
        } else {
            f.write_all(&data[from..from + len])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn member_paths_stay_inside() {
        let p = |s: &str| member_path("a.tar", s.as_bytes());
        assert_eq!(
            p("./rootfs/etc").unwrap(),
            Some(PathBuf::from("rootfs/etc"))
        );
        assert_eq!(p("/config").unwrap(), Some(PathBuf::from("config")));
        assert_eq!(p("./").unwrap(), None);
        let err = p("rootfs/../../etc/passwd").unwrap_err().to_string();
        assert_eq!(
            err,
            "Refusing the archive member 'rootfs/../../etc/passwd' of a.tar: it climbs out of the container with '..'"
        );
    }

    #[test]
    fn zeros_become_holes() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        let mut data = vec![0u8; 8 << 20];
        data[5] = 1;
        data[(8 << 20) - 1] = 2;
        let size = write_file(&path, &mut &data[..], &mut |_| {}).unwrap();
        assert_eq!(size, 8 << 20);
        assert_eq!(fs::read(&path).unwrap(), data);
        let blocks = fs::metadata(&path).unwrap().blocks();
        assert!(
            blocks * 512 < 1 << 20,
            "{blocks} blocks for 2 bytes of data"
        );
    }
}
