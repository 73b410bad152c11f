//! File-system steps with explicit modes (the umask does not decide) that
//! never follow a symlink already sitting in the rootfs, so a template cannot
//! write outside the tree it fills.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstatat, SFlag};
use nix::unistd::{symlinkat, unlinkat, UnlinkatFlags};

use crate::{Error, Result};

/// Creates the directory `path` (its parent must exist) with exactly `mode`.
/// An existing directory is fine and gets `mode`; anything else in the way
/// (a file, a symlink) is an error.
pub(crate) fn mkdir(path: &Path, mode: u32) -> Result<()> {
    match fs::DirBuilder::new().mode(mode).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::NotADirectory {
                    path: path.to_owned(),
                })
            }
            Err(source) => {
                return Err(Error::CreateDir {
                    path: path.to_owned(),
                    source,
                })
            }
        },
        Err(source) => {
            return Err(Error::CreateDir {
                path: path.to_owned(),
                source,
            })
        }
    }
    chmod(path, mode)
}

/// Creates `path` and its missing parents, each with `mode`.
pub(crate) fn mkdir_all(path: &Path, mode: u32) -> Result<()> {
    if let Ok(m) = fs::symlink_metadata(path) {
        return if m.is_dir() {
            Ok(())
        } else {
            Err(Error::NotADirectory {
                path: path.to_owned(),
            })
        };
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        mkdir_all(parent, mode)?;
    }
    mkdir(path, mode)
}

/// Sets the permission bits of `path` (a directory or file we created).
pub(crate) fn chmod(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, Permissions::from_mode(mode)).map_err(|source| Error::Chmod {
        path: path.to_owned(),
        mode,
        source,
    })
}

/// Opens `path` for writing, truncated, refusing to follow a symlink there.
fn create(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .custom_flags(OFlag::O_NOFOLLOW.bits())
        .open(path)
}

/// Writes `contents` to `path` with exactly `mode`.
pub(crate) fn write_file(path: &Path, contents: &str, mode: u32) -> Result<()> {
    let write = || -> io::Result<()> {
        let mut f = create(path, mode)?;
        f.write_all(contents.as_bytes())?;
        f.set_permissions(Permissions::from_mode(mode))
    };
    write().map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

/// Copies the file `from` to `to` (copy_file_range, so a reflink where the
/// file system can) and gives the copy exactly `mode`.
pub(crate) fn copy_file(from: &Path, to: &Path, mode: u32) -> Result<()> {
    let copy = || -> io::Result<()> {
        let mut src = File::open(from)?;
        let mut dst = create(to, mode)?;
        io::copy(&mut src, &mut dst)?;
        dst.set_permissions(Permissions::from_mode(mode))
    };
    copy().map_err(|source| Error::Copy {
        from: from.to_owned(),
        to: to.to_owned(),
        source,
    })
}

/// Creates the symlink `name` -> `target` in the directory open as `dir`
/// (`dir_path` names it in errors). An existing symlink of that name is
/// replaced; any other file there is an error.
pub(crate) fn symlink_at(dir: &File, dir_path: &Path, name: &OsStr, target: &str) -> Result<()> {
    let fail = |source: io::Error| Error::Symlink {
        path: dir_path.join(name),
        target: target.to_string(),
        source,
    };
    match symlinkat(target, dir.as_fd(), name) {
        Ok(()) => Ok(()),
        Err(Errno::EEXIST) => {
            let st = fstatat(dir.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW)
                .map_err(|e| fail(e.into()))?;
            if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFLNK {
                return Err(fail(Errno::EEXIST.into()));
            }
            unlinkat(dir.as_fd(), name, UnlinkatFlags::NoRemoveDir).map_err(|e| fail(e.into()))?;
            symlinkat(target, dir.as_fd(), name).map_err(|e| fail(e.into()))
        }
        Err(e) => Err(fail(e.into())),
    }
}

/// [`symlink_at`] for a single link given by its full path.
pub(crate) fn symlink(target: &str, path: &Path) -> Result<()> {
    let (parent, name) = match (path.parent(), path.file_name()) {
        (Some(p), Some(n)) => (p, n),
        _ => {
            return Err(Error::Symlink {
                path: path.to_owned(),
                target: target.to_string(),
                source: io::Error::from(io::ErrorKind::InvalidInput),
            })
        }
    };
    let dir = open_dir(parent)?;
    symlink_at(&dir, parent, name, target)
}

/// Opens a directory for the `*at` calls, refusing a symlink in its place.
pub(crate) fn open_dir(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW).bits())
        .open(path)
        .map_err(|source| Error::CreateDir {
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink as std_symlink;

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn modes_ignore_the_umask() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("a/b/c");
        mkdir_all(&d, 0o755).unwrap();
        mkdir(&tmp.path().join("t"), 0o1777).unwrap();
        write_file(&tmp.path().join("f"), "x", 0o600).unwrap();
        assert_eq!(mode(&d), 0o755);
        assert_eq!(mode(&tmp.path().join("t")), 0o1777);
        assert_eq!(mode(&tmp.path().join("f")), 0o600);
        // Again, over what is there.
        mkdir(&tmp.path().join("t"), 0o700).unwrap();
        write_file(&tmp.path().join("f"), "y", 0o644).unwrap();
        assert_eq!(mode(&tmp.path().join("t")), 0o700);
        assert_eq!(fs::read_to_string(tmp.path().join("f")).unwrap(), "y");
        assert_eq!(mode(&tmp.path().join("f")), 0o644);
    }

    #[test]
    fn never_follows_a_symlink_out_of_the_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let root = tmp.path().join("root");
        fs::create_dir(&root).unwrap();
        std_symlink(&outside, root.join("etc")).unwrap();
        std_symlink(outside.join("file"), root.join("file")).unwrap();

        let err = mkdir(&root.join("etc"), 0o755).unwrap_err();
        assert!(matches!(err, Error::NotADirectory { .. }), "{err}");
        let err = write_file(&root.join("file"), "x", 0o644).unwrap_err();
        assert!(matches!(err, Error::Write { .. }), "{err}");
        assert!(!outside.join("file").exists());
        assert!(open_dir(&root.join("etc")).is_err());
    }

    #[test]
    fn symlink_replaces_a_symlink_but_not_a_file() {
        let tmp = tempfile::tempdir().unwrap();
        let link = tmp.path().join("sh");
        symlink("/bin/old", &link).unwrap();
        symlink("/bin/busybox", &link).unwrap();
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("/bin/busybox"));

        let file = tmp.path().join("file");
        fs::write(&file, "data").unwrap();
        let err = symlink("/bin/busybox", &file).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Cannot create symlink {} -> /bin/busybox", file.display())
        );
        assert_eq!(fs::read_to_string(&file).unwrap(), "data");
    }
}
