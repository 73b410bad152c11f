//! Writing an export: the container's files as tar members, streamed
//! through the hash and the compressor to any writer.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use tar::{Builder, EntryType, Header};

use super::digest::HashingWriter;
use super::{Compression, Manifest, Progress, CHECKSUM, MANIFEST};
use crate::error::{Error, Result};

/// What to export: the container's config and its rootfs as a directory
/// (mounted by the caller for backends that need a mount), and the
/// snapshots to take along.
#[derive(Debug, Clone)]
pub struct ExportSource {
    /// The container's name.
    pub name: String,
    /// The container's directory (named in the manifest; import moves the
    /// config's paths from there).
    pub dir: PathBuf,
    /// Its config file.
    pub config: PathBuf,
    /// Its root filesystem, a directory.
    pub rootfs: PathBuf,
    /// The snapshots to export.
    pub snapshots: Vec<SnapshotSource>,
}

/// A snapshot to export.
#[derive(Debug, Clone)]
pub struct SnapshotSource {
    /// `snapN`.
    pub name: String,
    /// Its directory (`config`, `ts`, `comment` are read there).
    pub dir: PathBuf,
    /// Its root filesystem, a directory.
    pub rootfs: PathBuf,
}

/// How to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The archive's name in messages (its path, or `-` for stdout).
    pub archive: String,
    pub compression: Compression,
    /// zstd worker threads; 0 compresses in the calling thread.
    pub threads: u32,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            archive: "-".into(),
            compression: Compression::default(),
            threads: 0,
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// Members written (the manifest and checksum aside).
    pub members: u64,
    /// Bytes of file data.
    pub payload_bytes: u64,
    /// The checksum stored in the archive.
    pub sha256: String,
    /// Sockets met, which tar cannot hold (they are recreated by the
    /// programs that listen on them).
    pub skipped: Vec<PathBuf>,
}

/// The bytes each zstd worker compresses at a time.
const JOB_SIZE: u32 = 2 << 20;

/// The compressor, or not.
enum Sink<W: Write> {
    Zstd(zstd::stream::write::Encoder<'static, W>),
    Plain(W),
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Zstd(e) => e.write(buf),
            Sink::Plain(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Zstd(e) => e.flush(),
            Sink::Plain(w) => w.flush(),
        }
    }
}

impl<W: Write> Sink<W> {
    fn new(out: W, opts: &ExportOptions) -> io::Result<Self> {
        Ok(match opts.compression {
            Compression::None => Sink::Plain(out),
            Compression::Zstd { level } => {
                let mut e = zstd::stream::write::Encoder::new(out, level)?;
                e.include_checksum(true)?;
                if opts.threads > 0 {
                    e.multithread(opts.threads)?;
                    // Small jobs keep the workers' buffers (a few times
                    // the job each) within the memory bound.
                    e.set_parameter(zstd::stream::raw::CParameter::JobSize(JOB_SIZE))?;
                }
                Sink::Zstd(e)
            }
        })
    }

    fn finish(self) -> io::Result<W> {
        match self {
            Sink::Zstd(e) => e.finish(),
            Sink::Plain(w) => Ok(w),
        }
    }
}

/// Exports `src` to `out` (a file, or stdout for `-`), calling
/// `progress` as file data goes. Nothing is read twice but the metadata
/// (a first walk sums the sizes for the progress total).
pub fn export<W: Write>(
    src: &ExportSource,
    out: W,
    opts: &ExportOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<ExportSummary> {
    let werr = |source| Error::Write {
        archive: opts.archive.clone(),
        source,
    };
    let (total, extra, snap_extra) = payload(src)?;
    let manifest = Manifest {
        format: "enclos-export".into(),
        version: 1,
        name: src.name.clone(),
        dir: src.dir.to_string_lossy().into_owned(),
        payload_bytes: total,
        snapshots: src.snapshots.iter().map(|s| s.name.clone()).collect(),
    };
    let sink = Sink::new(out, opts).map_err(werr)?;
    let mut w = Writer {
        builder: Builder::new(HashingWriter::new(sink)),
        links: HashMap::new(),
        summary: ExportSummary {
            members: 0,
            payload_bytes: 0,
            sha256: String::new(),
            skipped: Vec::new(),
        },
        total,
        progress,
        archive: opts.archive.clone(),
    };
    let json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    w.data_member(MANIFEST, &json).map_err(werr)?;
    w.file("config", &src.config)?;
    for f in &extra {
        w.file(&f.to_string_lossy(), &src.dir.join(f))?;
    }
    w.tree("rootfs", &src.rootfs)?;
    for (s, files) in src.snapshots.iter().zip(&snap_extra) {
        let base = format!("snaps/{}", s.name);
        for f in ["config", "ts", "comment"] {
            if s.dir.join(f).is_file() {
                w.file(&format!("{base}/{f}"), &s.dir.join(f))?;
            }
        }
        for f in files {
            w.file(&format!("{base}/{}", f.display()), &s.dir.join(f))?;
        }
        w.tree(&format!("{base}/rootfs"), &s.rootfs)?;
    }
    let sha = w.builder.get_ref().digest();
    w.data_member(CHECKSUM, format!("{sha}\n").as_bytes())
        .map_err(werr)?;
    let mut summary = std::mem::replace(
        &mut w.summary,
        ExportSummary {
            members: 0,
            payload_bytes: 0,
            sha256: String::new(),
            skipped: Vec::new(),
        },
    );
    summary.sha256 = sha;
    let hashing = w.builder.into_inner().map_err(werr)?;
    let mut out = hashing.into_inner().finish().map_err(werr)?;
    out.flush().map_err(werr)?;
    Ok(summary)
}

/// The bytes of file data `src` exports, the files its config names in
/// its directory and those of each snapshot's config.
fn payload(src: &ExportSource) -> Result<(u64, Vec<PathBuf>, Vec<Vec<PathBuf>>)> {
    let files_bytes = |dir: &Path, files: &[PathBuf]| -> u64 {
        files.iter().map(|f| file_bytes(&dir.join(f))).sum()
    };
    let mut seen = HashSet::new();
    let extra = named_files(&src.config, &src.dir);
    let mut total = file_bytes(&src.config) + tree_bytes(&src.rootfs, &mut seen)?;
    total += files_bytes(&src.dir, &extra);
    let mut snap_extra = Vec::new();
    for s in &src.snapshots {
        for f in ["config", "ts", "comment"] {
            total += file_bytes(&s.dir.join(f));
        }
        let files = named_files(&s.dir.join("config"), &s.dir);
        total += files_bytes(&s.dir, &files);
        snap_extra.push(files);
        total += tree_bytes(&s.rootfs, &mut seen)?;
    }
    Ok((total, extra, snap_extra))
}

/// The files the config at `config` names inside `dir` that move with
/// the container (hook scripts, fstab, the seccomp profile), relative to
/// `dir`; the import moves the config's paths to them.
fn named_files(config: &Path, dir: &Path) -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string(config) else {
        return Vec::new();
    };
    crate::rewrite::dir_files(&text, config, dir)
        .into_iter()
        .filter(|f| !matches!(f.to_str(), Some("config" | "ts" | "comment")))
        .filter(|f| !f.starts_with("rootfs") && !f.starts_with("snaps"))
        .collect()
}

/// The size of a regular file (0 for anything else).
fn file_bytes(path: &Path) -> u64 {
    fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map_or(0, |m| m.len())
}

/// The bytes of regular files under `root`, on its filesystem, each
/// hard-linked file once (`seen`).
fn tree_bytes(root: &Path, seen: &mut HashSet<(u64, u64)>) -> Result<u64> {
    let meta = fs::symlink_metadata(root).map_err(crate::error::io_err("read", root))?;
    let mut total = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = fs::read_dir(&dir).map_err(crate::error::io_err("list", &dir))?;
        for e in entries {
            let e = e.map_err(crate::error::io_err("list", &dir))?;
            let m =
                fs::symlink_metadata(e.path()).map_err(crate::error::io_err("read", &e.path()))?;
            if m.is_dir() && m.dev() == meta.dev() {
                stack.push(e.path());
            } else if m.is_file() && (m.nlink() == 1 || seen.insert((m.dev(), m.ino()))) {
                total += m.len();
            }
        }
    }
    Ok(total)
}

struct Writer<'p, W: Write> {
    builder: Builder<HashingWriter<Sink<W>>>,
    /// (dev, ino) of files with several links → their first member.
    links: HashMap<(u64, u64), String>,
    summary: ExportSummary,
    total: u64,
    progress: &'p mut dyn FnMut(Progress),
    archive: String,
}

impl<W: Write> Writer<'_, W> {
    fn err(&self, path: &Path) -> impl FnOnce(io::Error) -> Error {
        let archive = format!("{} (at {})", self.archive, path.display());
        move |source| Error::Write { archive, source }
    }

    /// A member holding `data`, owned by root, mode 0644.
    fn data_member(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        );
        self.builder.append_data(&mut h, name, data)
    }

    /// A regular file (not followed if a symlink: then a symlink member).
    fn file(&mut self, name: &str, path: &Path) -> Result<()> {
        let meta = fs::symlink_metadata(path).map_err(crate::error::io_err("read", path))?;
        self.member(name, path, &meta)
    }

    /// `root` and everything below it on its filesystem, depth first,
    /// names sorted.
    fn tree(&mut self, name: &str, root: &Path) -> Result<()> {
        let meta = fs::symlink_metadata(root).map_err(crate::error::io_err("read", root))?;
        let dev = meta.dev();
        self.member(name, root, &meta)?;
        let mut stack = vec![(name.to_string(), root.to_path_buf())];
        while let Some((name, dir)) = stack.pop() {
            let mut entries: Vec<_> = fs::read_dir(&dir)
                .map_err(crate::error::io_err("list", &dir))?
                .collect::<io::Result<_>>()
                .map_err(crate::error::io_err("list", &dir))?;
            entries.sort_by_key(|e| e.file_name());
            let mut subdirs = Vec::new();
            for e in entries {
                let path = e.path();
                let member = format!("{name}/{}", e.file_name().to_string_lossy());
                let m = fs::symlink_metadata(&path).map_err(crate::error::io_err("read", &path))?;
                self.member(&member, &path, &m)?;
                // A mount point is kept, not what is mounted on it.
                if m.is_dir() && m.dev() == dev {
                    subdirs.push((member, path));
                }
            }
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(())
    }

    fn member(&mut self, name: &str, path: &Path, meta: &fs::Metadata) -> Result<()> {
        let ft = meta.file_type();
        if ft.is_socket() {
            self.summary.skipped.push(path.to_path_buf());
            return Ok(());
        }
        self.xattrs(path).map_err(self.err(path))?;
        let result = if ft.is_file() {
            self.regular(name, path, meta)
        } else if ft.is_dir() {
            let mut h = header(meta);
            h.set_entry_type(EntryType::Directory);
            h.set_size(0);
            self.builder
                .append_data(&mut h, format!("{name}/"), io::empty())
        } else if ft.is_symlink() {
            let target = fs::read_link(path).map_err(crate::error::io_err("read", path))?;
            let mut h = header(meta);
            h.set_entry_type(EntryType::Symlink);
            h.set_size(0);
            self.builder.append_link(&mut h, name, target)
        } else {
            self.special(name, meta)
        };
        result.map_err(self.err(path))?;
        self.summary.members += 1;
        Ok(())
    }

    fn regular(&mut self, name: &str, path: &Path, meta: &fs::Metadata) -> io::Result<()> {
        if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key) {
                let mut h = header(meta);
                h.set_entry_type(EntryType::Link);
                h.set_size(0);
                let first = first.clone();
                return self.builder.append_link(&mut h, name, first);
            }
            self.links.insert(key, name.to_string());
        }
        let mut f = fs::File::open(path)?;
        // GNU sparse members for files with holes; full mode and numeric
        // owners (the builder's default header mode is Complete).
        self.builder.append_file(name, &mut f)?;
        self.summary.payload_bytes += meta.len();
        (self.progress)(Progress {
            done: self.summary.payload_bytes,
            total: Some(self.total),
        });
        Ok(())
    }

    fn special(&mut self, name: &str, meta: &fs::Metadata) -> io::Result<()> {
        let mut h = header(meta);
        let ft = meta.file_type();
        if ft.is_fifo() {
            h.set_entry_type(EntryType::Fifo);
        } else {
            h.set_entry_type(if ft.is_char_device() {
                EntryType::Char
            } else {
                EntryType::Block
            });
            let rdev = meta.rdev();
            h.set_device_major(nix::sys::stat::major(rdev) as u32)?;
            h.set_device_minor(nix::sys::stat::minor(rdev) as u32)?;
        }
        h.set_size(0);
        self.builder.append_data(&mut h, name, io::empty())
    }

    /// A pax member with the xattrs of `path`, when it has any.
    fn xattrs(&mut self, path: &Path) -> io::Result<()> {
        let mut records = Vec::new();
        for key in xattr::list(path)? {
            let Some(value) = xattr::get(path, &key)? else {
                continue;
            };
            let mut body = b"SCHILY.xattr.".to_vec();
            body.extend_from_slice(key.as_encoded_bytes());
            body.push(b'=');
            body.extend_from_slice(&value);
            body.push(b'\n');
            records.extend(pax_record(&body));
        }
        if records.is_empty() {
            return Ok(());
        }
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::XHeader);
        h.set_mode(0o644);
        h.set_size(records.len() as u64);
        self.builder
            .append_data(&mut h, "././@PaxHeader", &records[..])
    }
}

/// A pax record, `LEN KEY=VALUE\n`, whose length counts itself.
fn pax_record(body: &[u8]) -> Vec<u8> {
    let mut len = body.len() + 2;
    while len != body.len() + 1 + len.to_string().len() {
        len = body.len() + 1 + len.to_string().len();
    }
    let mut out = format!("{len} ").into_bytes();
    out.extend_from_slice(body);
    out
}

/// A GNU header with the owner, mode and times of `meta`.
fn header(meta: &fs::Metadata) -> Header {
    let mut h = Header::new_gnu();
    h.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_records_count_their_own_length() {
        let r = pax_record(b"a=b\n");
        assert_eq!(r, b"6 a=b\n");
        let body = vec![b'x'; 95];
        let r = pax_record(&body);
        let (len, _) = r.split_at(r.iter().position(|b| *b == b' ').unwrap());
        assert_eq!(r.len().to_string().as_bytes(), len);
    }
}
