//! The lab VM's initramfs: a newc cpio archive (written here, no cpio
//! program needed) holding a static busybox, our `/init` script
//! (`lab/guest/initramfs-init`) and the few kernel modules that reach the
//! root filesystem, in the order they must be loaded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{bail, Context, Result};

/// The modules the initramfs loads (with their dependencies, first): the
/// virtio PCI transport, the virtio disk, and ext4 with the crc32c it
/// checksums with.
pub const MODULES: &[&str] = &["virtio_pci", "virtio_blk", "crc32c_generic", "ext4"];

/// A newc ("070701") cpio archive being written in memory.
#[derive(Debug, Default)]
pub struct Cpio {
    buf: Vec<u8>,
    ino: u32,
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

impl Cpio {
    pub fn new() -> Cpio {
        Cpio::default()
    }

    /// A directory (`path` without a leading slash, as in every entry).
    pub fn dir(&mut self, path: &str, perm: u32) {
        self.entry(path, S_IFDIR | perm, 2, (0, 0), &[]);
    }

    /// A regular file.
    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) {
        self.entry(path, S_IFREG | perm, 1, (0, 0), data);
    }

    /// A symbolic link to `target`.
    pub fn symlink(&mut self, path: &str, target: &str) {
        self.entry(path, S_IFLNK | 0o777, 1, (0, 0), target.as_bytes());
    }

    /// A character device node (major, minor).
    pub fn char_device(&mut self, path: &str, perm: u32, dev: (u32, u32)) {
        self.entry(path, S_IFCHR | perm, 1, dev, &[]);
    }

    /// The archive, with its trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.ino = 0;
        self.entry("TRAILER!!!", 0, 1, (0, 0), &[]);
        self.buf
    }

    fn entry(&mut self, name: &str, mode: u32, nlink: u32, rdev: (u32, u32), data: &[u8]) {
        if name != "TRAILER!!!" {
            self.ino += 1;
        }
        let size = u32::try_from(data.len()).expect("an initramfs file under 4 GiB");
        let namesize = u32::try_from(name.len() + 1).expect("a short file name");
        let fields = [
            self.ino, mode, 0, // uid
            0, // gid
            nlink, 0, // mtime: fixed, so the archive is reproducible
            size, 0, // devmajor
            0, // devminor
            rdev.0, rdev.1, namesize, 0, // check
        ];
        self.buf.extend_from_slice(b"070701");
        for field in fields {
            self.buf
                .extend_from_slice(format!("{field:08x}").as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }
}

/// The kernel modules of `release` in `root` (a root filesystem with
/// `usr/lib/modules/<release>/modules.dep`, as depmod wrote it): what
/// each module needs and where its file is.
#[derive(Debug)]
pub struct ModuleTree {
    /// Module name (with `_`, as the kernel names them) → (its file
    /// relative to the modules directory, its dependencies' names).
    modules: BTreeMap<String, (String, Vec<String>)>,
    builtin: BTreeSet<String>,
}

/// `kernel/fs/ext4/ext4.ko` → `ext4`; `-` becomes `_`.
fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.split(".ko").next().unwrap_or(file);
    stem.replace('-', "_")
}

impl ModuleTree {
    pub fn read(modules_dir: &Path) -> Result<ModuleTree> {
        let dep_file = modules_dir.join("modules.dep");
        let text = std::fs::read_to_string(&dep_file).with_context(|| {
            format!(
                "Cannot read {} (depmod writes it; was depmod run?)",
                dep_file.display()
            )
        })?;
        let mut modules = BTreeMap::new();
        for line in text.lines() {
            let Some((file, deps)) = line.split_once(':') else {
                continue;
            };
            let deps = deps.split_whitespace().map(module_name).collect();
            modules.insert(module_name(file), (file.to_string(), deps));
        }
        let builtin = std::fs::read_to_string(modules_dir.join("modules.builtin"))
            .unwrap_or_default()
            .lines()
            .map(module_name)
            .collect();
        Ok(ModuleTree { modules, builtin })
    }

    /// `wanted` and everything they need, each after what it needs, as
    /// (name, file) pairs; modules built into the kernel are left out.
    pub fn load_order(&self, wanted: &[&str]) -> Result<Vec<(String, String)>> {
        let mut order = Vec::new();
        let mut seen = BTreeSet::new();
        for name in wanted {
            self.visit(&name.replace('-', "_"), &mut seen, &mut order)?;
        }
        Ok(order)
    }

    fn visit(
        &self,
        name: &str,
        seen: &mut BTreeSet<String>,
        order: &mut Vec<(String, String)>,
    ) -> Result<()> {
        if !seen.insert(name.to_string()) {
            return Ok(());
        }
        match self.modules.get(name) {
            Some((file, deps)) => {
                // modules.dep lists every dependency, nearest last: load
                // from the end.
                for dep in deps.iter().rev() {
                    self.visit(dep, seen, order)?;
                }
                order.push((name.to_string(), file.clone()));
                Ok(())
            }
            None if self.builtin.contains(name) => Ok(()),
            None => bail!(
                "The kernel module {name} is neither in modules.dep nor built in: the \
                 initramfs cannot reach the root disk without it"
            ),
        }
    }
}

/// The initramfs of a root filesystem `root` whose kernel modules are
/// those of `release`: `/init` is `init_script`, busybox comes from the
/// image itself (busybox-static), and `/modules` lists the modules to
/// load, in order. Returns the archive and the modules' names.
pub fn build(root: &Path, release: &str, init_script: &[u8]) -> Result<(Vec<u8>, Vec<String>)> {
    let busybox_path = root.join("usr/bin/busybox");
    let busybox = std::fs::read(&busybox_path).with_context(|| {
        format!(
            "Cannot read {} for the initramfs (the image must include busybox-static)",
            busybox_path.display()
        )
    })?;
    let modules_dir = root.join("usr/lib/modules").join(release);
    let tree = ModuleTree::read(&modules_dir)?;
    let order = tree.load_order(MODULES)?;

    let mut cpio = Cpio::new();
    for dir in ["bin", "dev", "proc", "sys", "newroot", "lib", "lib/modules"] {
        cpio.dir(dir, 0o755);
    }
    cpio.char_device("dev/console", 0o600, (5, 1));
    cpio.file("bin/busybox", 0o755, &busybox);
    cpio.symlink("bin/sh", "busybox");
    cpio.file("init", 0o755, init_script);
    let mut list = String::new();
    for (name, file) in &order {
        let path = modules_dir.join(file);
        let data = std::fs::read(&path)
            .with_context(|| format!("Cannot read the kernel module {}", path.display()))?;
        if !file.ends_with(".ko") {
            bail!(
                "The kernel module {} is compressed ({file}): the initramfs's busybox insmod \
                 loads plain .ko files only",
                name
            );
        }
        cpio.file(&format!("lib/modules/{name}.ko"), 0o644, &data);
        list.push_str(name);
        list.push('\n');
    }
    cpio.file("modules", 0o644, list.as_bytes());
    Ok((cpio.finish(), order.into_iter().map(|(n, _)| n).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newc_entries_are_aligned_and_terminated() {
        let mut cpio = Cpio::new();
        cpio.dir("bin", 0o755);
        cpio.file("init", 0o755, b"#!/bin/sh\n");
        let bytes = cpio.finish();
        assert_eq!(bytes.len() % 4, 0);
        assert!(bytes.starts_with(b"070701"));
        // The first entry: ino 1, a directory 0755.
        assert_eq!(&bytes[6..14], b"00000001");
        assert_eq!(&bytes[14..22], b"000041ed");
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("init\0"));
        assert!(text.contains("#!/bin/sh\n"));
        assert!(text.ends_with("TRAILER!!!\0\0\0\0") || text.contains("TRAILER!!!\0"));
    }

    #[test]
    fn modules_load_after_their_dependencies() {
        let dir = std::env::temp_dir().join(format!("xtask-modtree-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("modules.dep"),
            "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko\n\
             kernel/fs/jbd2/jbd2.ko:\nkernel/lib/crc16.ko:\nkernel/fs/mbcache.ko:\n\
             kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n\
             kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n\
             kernel/drivers/virtio/virtio_ring.ko:\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("modules.builtin"),
            "kernel/crypto/crc32c_generic.ko\n",
        )
        .unwrap();
        let tree = ModuleTree::read(&dir).unwrap();
        let names: Vec<String> = tree
            .load_order(&["virtio_blk", "crc32c_generic", "ext4"])
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            [
                "virtio_ring",
                "virtio",
                "virtio_blk",
                "jbd2",
                "mbcache",
                "crc16",
                "ext4"
            ]
        );
        assert!(tree.load_order(&["nosuch"]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
