//! Reading an export (or a plain tar of a container) into a new
//! container directory, staged next to it and renamed into place only
//! when everything is in and checked.

use std::cell::RefCell;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::digest::{LagState, LaggingHashReader};
use super::paxtap::{PaxTap, TapState};
use super::unpack::{member_path, Unpacker};
use super::{Manifest, Progress, CHECKSUM, MANIFEST};
use crate::error::{io_err, Error, Result};
use crate::rewrite::{rewrite_config, rootfs_of, Rename};
use crate::stage::Staged;

/// What the input was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An enclos export, its checksum checked.
    Export,
    /// A plain tar of `config` and `rootfs` (no checksum to check).
    PlainTar,
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The archive's name in messages (its path, or `-` for stdin).
    pub archive: String,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            archive: "-".into(),
        }
    }
}

/// What an import made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The new container's directory.
    pub dir: PathBuf,
    pub format: Format,
    /// The compression found: `zstd`, `gzip` or `none`.
    pub compression: &'static str,
    /// The snapshots imported.
    pub snapshots: Vec<String>,
    /// Bytes of file data written.
    pub payload_bytes: u64,
}

/// The decompressor for the first bytes of `input`.
fn decoder<'a, R: Read + 'a>(input: R) -> std::io::Result<(Box<dyn Read + 'a>, &'static str)> {
    let mut input = BufReader::with_capacity(1 << 16, input);
    let head = input.fill_buf()?;
    Ok(if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        (
            Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
            "zstd",
        )
    } else if head.starts_with(&[0x1f, 0x8b]) {
        (
            Box::new(flate2::bufread::MultiGzDecoder::new(input)),
            "gzip",
        )
    } else {
        (Box::new(input), "none")
    })
}

/// Imports the archive read from `input` (a file, or stdin for `-`) as
/// the container in `target_dir`, which must not exist. The container is
/// unpacked in `.<name>.partial` beside it and renamed into place when
/// complete and checked: on any failure (a damaged or truncated archive,
/// a full disk), nothing is left.
///
/// The config's `lxc.rootfs.path` is set to `target_dir/rootfs` and
/// paths inside the exported container's directory are moved to
/// `target_dir`; `lxc.uts.name` takes the new name when it was the old
/// one. Snapshots' configs likewise.
pub fn import<R: Read>(
    input: R,
    target_dir: &Path,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Imported> {
    let archive = opts.archive.as_str();
    let rerr = |source| Error::ArchiveIo {
        archive: archive.to_string(),
        source,
    };
    let staged = Staged::begin(target_dir, "import", 0o755)?;
    let (decoded, compression) = decoder(input).map_err(rerr)?;
    let (reader, hash) = LaggingHashReader::new(decoded);
    let (reader, tap) = PaxTap::new(reader);
    let mut tar = tar::Archive::new(reader);
    let mut unpacker = Unpacker::new(staged.dir(), archive);
    let read = read_members(&mut tar, &mut unpacker, (&hash, &tap), archive, progress)
        .map_err(|e| truncated(e, archive))?;
    unpacker.finish()?;
    let root = hoist_single_dir(staged.dir(), archive)?;
    fix_configs(&root, staged.dir(), target_dir, read.manifest.as_ref())?;
    let snapshots = list_names(&staged.dir().join("snaps"));
    let dir = staged.commit()?;
    Ok(Imported {
        dir,
        format: if read.manifest.is_some() {
            Format::Export
        } else {
            Format::PlainTar
        },
        compression,
        snapshots,
        payload_bytes: read.bytes,
    })
}

/// The manifest of the archive read from `input`, read from its first
/// member without going further (to learn an export's name before
/// importing it); `None` for a plain tar, which has none.
pub fn read_manifest<R: Read>(input: R, archive: &str) -> Result<Option<Manifest>> {
    let rerr = |source| Error::ArchiveIo {
        archive: archive.to_string(),
        source,
    };
    let (decoded, _) = decoder(input).map_err(rerr)?;
    let mut tar = tar::Archive::new(decoded);
    let mut entries = tar.entries().map_err(rerr)?;
    let Some(entry) = entries.next() else {
        return Ok(None);
    };
    let mut entry = entry.map_err(rerr)?;
    if member_path(archive, &entry.path_bytes())?.as_deref() != Some(Path::new(MANIFEST)) {
        return Ok(None);
    }
    let mut text = Vec::new();
    entry.read_to_end(&mut text).map_err(rerr)?;
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|e| Error::Archive {
            archive: archive.to_string(),
            reason: format!("its manifest is not valid: {e}"),
        })
}

/// A read error that means the input stopped early (the end of the file
/// within a member, zstd's "incomplete frame"), said as such.
fn truncated(e: Error, archive: &str) -> Error {
    let cut = |source: &std::io::Error| {
        source.kind() == std::io::ErrorKind::UnexpectedEof
            || source.to_string().contains("incomplete frame")
    };
    let member = match &e {
        Error::ArchiveIo { source, .. } if cut(source) => None,
        Error::Unpack { member, source, .. } if cut(source) => Some(member.clone()),
        _ => return e,
    };
    let at = member
        .map(|m| format!(" in the middle of '{m}'"))
        .unwrap_or_default();
    Error::Archive {
        archive: archive.to_string(),
        reason: format!(
            "it ends{at}: it is truncated (an export cut short?); nothing was imported"
        ),
    }
}

struct Read_ {
    manifest: Option<Manifest>,
    bytes: u64,
}

fn read_members<R: Read>(
    tar: &mut tar::Archive<R>,
    unpacker: &mut Unpacker<'_>,
    (hash, tap): (&Rc<RefCell<LagState>>, &Rc<RefCell<TapState>>),
    archive: &str,
    progress: &mut dyn FnMut(Progress),
) -> Result<Read_> {
    let bad = |reason: String| Error::Archive {
        archive: archive.to_string(),
        reason,
    };
    let rerr = |source| Error::ArchiveIo {
        archive: archive.to_string(),
        source,
    };
    let mut out = Read_ {
        manifest: None,
        bytes: 0,
    };
    let mut checked = false;
    let mut first = true;
    for entry in tar.entries().map_err(rerr)? {
        let mut entry = entry.map_err(rerr)?;
        let raw = entry.path_bytes().into_owned();
        if checked {
            return Err(bad("it has members after its checksum".into()));
        }
        let Some(rel) = member_path(archive, &raw)? else {
            continue;
        };
        if first && rel == Path::new(MANIFEST) {
            first = false;
            let mut text = Vec::new();
            entry.read_to_end(&mut text).map_err(rerr)?;
            let m: Manifest = serde_json::from_slice(&text)
                .map_err(|e| bad(format!("its manifest is not valid: {e}")))?;
            out.manifest = Some(m);
            continue;
        }
        first = false;
        if rel == Path::new(CHECKSUM) && out.manifest.is_some() {
            let actual = hash.borrow().digest_before_last_block();
            let mut text = String::new();
            entry.read_to_string(&mut text).map_err(rerr)?;
            let expected = text.trim().to_string();
            if expected != actual {
                return Err(Error::Checksum {
                    archive: archive.to_string(),
                    expected,
                    actual,
                });
            }
            checked = true;
            continue;
        }
        let total = out.manifest.as_ref().map(|m| m.payload_bytes);
        let done = &mut out.bytes;
        let mut on_data = |n: u64| {
            *done += n;
            progress(Progress { done: *done, total });
        };
        let pax = tap.borrow_mut().current.take();
        unpacker.member(&rel, &mut entry, pax.as_deref(), &mut on_data)?;
    }
    if out.manifest.is_some() && !checked {
        return Err(bad(
            "it ends before its checksum: it is truncated (an export cut short?)".into(),
        ));
    }
    Ok(out)
}

/// A plain tar made one level up (`tar czf b.tgz c1/config c1/rootfs`)
/// holds a single directory with the config: its content moves up.
/// Returns the directory the exported container's files are now in.
fn hoist_single_dir(root: &Path, archive: &str) -> Result<PathBuf> {
    if root.join("config").is_file() {
        return Ok(root.to_path_buf());
    }
    let entries: Vec<_> = fs::read_dir(root)
        .map_err(io_err("list", root))?
        .flatten()
        .collect();
    let single =
        match entries.as_slice() {
            [one] if one.path().join("config").is_file() => one.path(),
            _ => return Err(Error::Archive {
                archive: archive.to_string(),
                reason:
                    "it holds no container: no 'config' at its top (expected config and rootfs/)"
                        .into(),
            }),
        };
    let moved = root.join(".enclos-hoist");
    fs::rename(&single, &moved).map_err(io_err("move", &single))?;
    for e in fs::read_dir(&moved)
        .map_err(io_err("list", &moved))?
        .flatten()
    {
        fs::rename(e.path(), root.join(e.file_name())).map_err(io_err("move", &e.path()))?;
    }
    fs::remove_dir(&moved).map_err(io_err("remove", &moved))?;
    Ok(root.to_path_buf())
}

/// Rewrites the container's and its snapshots' configs for `target`.
fn fix_configs(root: &Path, staged: &Path, target: &Path, m: Option<&Manifest>) -> Result<()> {
    let config = root.join("config");
    let text = fs::read_to_string(&config).map_err(io_err("read", &config))?;
    // Where it was: the manifest says; a plain tar's rootfs path tells.
    let old_dir = m.map(|m| PathBuf::from(&m.dir)).or_else(|| {
        let spec = rootfs_of(&text)?;
        let rootfs = enclos_storage::Rootfs::parse(&spec).ok()?;
        rootfs.path.parent().map(Path::to_path_buf)
    });
    let old_name = old_dir
        .as_ref()
        .and_then(|d| d.file_name())
        .map(|n| n.to_string_lossy().into_owned());
    let new_name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let uts = enclos_config::Config::parse_str(&text, &config)
        .ok()
        .and_then(|c| c.get("lxc.uts.name").map(str::to_string));
    let rename = Rename {
        from: old_dir.iter().cloned().collect(),
        to: target.to_path_buf(),
        uts_name: (uts.is_none() || uts == old_name).then(|| new_name.clone()),
        rootfs: Some(format!("dir:{}", target.join("rootfs").display())),
    };
    let out = rewrite_config(&text, &config, &rename)?;
    fs::write(&config, out.text).map_err(io_err("write", &config))?;
    for snap in list_names(&staged.join("snaps")) {
        let sconfig = staged.join("snaps").join(&snap).join("config");
        let Ok(text) = fs::read_to_string(&sconfig) else {
            continue;
        };
        let final_dir = target.join("snaps").join(&snap);
        let rename = Rename {
            from: old_dir
                .iter()
                .flat_map(|d| [d.join("snaps").join(&snap), d.clone()])
                .collect(),
            to: final_dir.clone(),
            uts_name: None,
            rootfs: Some(format!("dir:{}", final_dir.join("rootfs").display())),
        };
        let out = rewrite_config(&text, &sconfig, &rename)?;
        fs::write(&sconfig, out.text).map_err(io_err("write", &sconfig))?;
    }
    Ok(())
}

fn list_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort_by_key(|n| (crate::layout::snap_index(n), n.clone()));
    names
}
