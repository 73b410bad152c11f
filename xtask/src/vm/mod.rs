//! The VM lab: a reproducible Debian 12 guest under QEMU, where the labs
//! run on what this host may lack (cgroup v2, LVM, a real btrfs disk,
//! systemd).
//!
//! - `cargo xtask vm build`: the image, cached under
//!   `target/vm/<hash of its recipe>/` ([`image`]);
//! - `cargo xtask lab vm`: boots a fresh overlay of it and plays the labs
//!   inside ([`lab`], [`qemu`]), the escape suite among them ([`escape`]);
//! - `cargo xtask vm box`: the same Debian as a Vagrant box for libvirt
//!   ([`vagrant_box`]).

mod apt;
mod escape;
pub mod image;
mod initramfs;
pub mod lab;
mod qemu;
mod vagrant_box;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Subcommand;
use sha2::{Digest, Sha256};

use crate::deps;
use crate::process::target_dir;

/// The Debian release of the guest.
pub const SUITE: &str = "bookworm";

/// Debian's mirror (a CDN), the default of `--mirror`.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
/// The mirror of Debian's security updates, the default of
/// `--security-mirror`.
pub const DEFAULT_SECURITY_MIRROR: &str = "http://deb.debian.org/debian-security";

/// Where the image's packages come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirrors {
    pub mirror: String,
    pub security: String,
}

impl Default for Mirrors {
    fn default() -> Mirrors {
        Mirrors {
            mirror: DEFAULT_MIRROR.into(),
            security: DEFAULT_SECURITY_MIRROR.into(),
        }
    }
}

impl Mirrors {
    /// apt's one-line sources: the release, its updates, its security
    /// updates.
    pub fn sources(&self) -> Vec<String> {
        let (m, s) = (
            self.mirror.trim_end_matches('/'),
            self.security.trim_end_matches('/'),
        );
        vec![
            format!("deb {m} {SUITE} main"),
            format!("deb {m} {SUITE}-updates main"),
            format!("deb {s} {SUITE}-security main"),
        ]
    }
}

/// The image's options, shared by `vm build`, `vm box` and `lab vm`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImageArgs {
    /// The Debian mirror the image's packages come from.
    #[arg(long, default_value = DEFAULT_MIRROR, env = "ENCLOS_VM_MIRROR")]
    pub mirror: String,
    /// The mirror of Debian's security updates (where the newest kernel
    /// is).
    #[arg(long, default_value = DEFAULT_SECURITY_MIRROR, env = "ENCLOS_VM_SECURITY_MIRROR")]
    pub security_mirror: String,
    /// Fetch the mirror's package lists again before anything else: a
    /// newer kernel there makes a new image.
    #[arg(long)]
    pub refresh: bool,
    /// An optional part of the image, slow to build and so left out by
    /// default: `zfs` (Debian's zfs-dkms built for the guest's kernel).
    /// Each set of parts is an image flavour, cached on its own.
    #[arg(long = "with", value_enum, value_name = "PART")]
    pub with: Vec<image::Extra>,
}

impl ImageArgs {
    pub fn mirrors(&self) -> Mirrors {
        Mirrors {
            mirror: self.mirror.clone(),
            security: self.security_mirror.clone(),
        }
    }

    pub fn options(&self, force: bool) -> image::Options {
        image::Options {
            mirrors: self.mirrors(),
            refresh: self.refresh,
            force,
            extras: self.with.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the lab VM's image (Debian 12, its kernel, our initramfs),
    /// cached under `target/vm/<hash of the recipe>/`: rebuilt only when the
    /// recipe changes. Needs root.
    Build {
        #[command(flatten)]
        image: ImageArgs,
        /// Build again even if the image is cached.
        #[arg(long)]
        force: bool,
    },
    /// Package Debian 12 with enclos and lab/ as a Vagrant box for libvirt
    /// (sshd, the vagrant user with Vagrant's insecure key, DHCP on eth0),
    /// for offline classrooms. Needs root.
    Box(vagrant_box::Args),
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Boot a fresh Debian 12 VM (QEMU) and play the labs inside with the
    /// release binary; exits with the labs' status.
    Vm(lab::Args),
}

/// `cargo xtask vm ...`.
pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Build { image, force } => {
            deps::ensure("The VM image", deps::VM)?;
            image::ensure(&image.options(force)).map(|_| ())
        }
        Command::Box(args) => vagrant_box::run(&args),
    }
}

/// `cargo xtask lab ...`.
pub fn run_lab(command: LabCommand) -> Result<()> {
    match command {
        LabCommand::Vm(args) => lab::run(&args),
    }
}

/// `target/vm`: the images, the package caches, the runs and their logs.
pub fn vm_dir() -> PathBuf {
    target_dir().join("vm")
}

/// The first 16 hex digits of the SHA-256 of `data`.
pub fn short_hash(data: impl AsRef<[u8]>) -> String {
    let digest = Sha256::digest(data.as_ref());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// `s` quoted for a POSIX shell (and for mmdebstrap's hooks).
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A duration as people read it: `42 s`, `3 min 05 s`.
pub fn secs(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// Removes a directory tree if it is there. A tree with something mounted
/// inside (a root filesystem whose builder was killed with /dev or /proc
/// still bound in it) is left alone: removing it would remove the host's
/// files through those mounts.
pub fn remove_dir_all_if_exists(path: &Path) -> Result<()> {
    let mounted = mounts_under(path);
    if !mounted.is_empty() {
        anyhow::bail!(
            "Cannot remove {}: {} still mounted inside it ({}); unmount them (umount -R \
             on each) and run this again",
            path.display(),
            if mounted.len() == 1 {
                "one filesystem is"
            } else {
                "filesystems are"
            },
            mounted.join(", ")
        );
    }
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("Cannot remove {}", path.display())),
    }
}

/// The mount points at or under `path` (from /proc/self/mountinfo).
fn mounts_under(path: &Path) -> Vec<String> {
    let Ok(path) = path.canonicalize() else {
        return Vec::new();
    };
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    enclos_mounts::MountInfo::parse_all(&info)
        .map(|m| m.mount_point)
        .filter(|p| p.starts_with(&path))
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_name_the_three_suites() {
        let m = Mirrors {
            mirror: "http://mirror.example/debian/".into(),
            security: DEFAULT_SECURITY_MIRROR.into(),
        };
        assert_eq!(
            m.sources(),
            [
                "deb http://mirror.example/debian bookworm main",
                "deb http://mirror.example/debian bookworm-updates main",
                "deb http://deb.debian.org/debian-security bookworm-security main",
            ]
        );
    }

    #[test]
    fn a_tree_with_a_mount_inside_is_not_removed() {
        assert!(mounts_under(Path::new("/proc"))
            .iter()
            .any(|m| m == "/proc"));
        assert!(remove_dir_all_if_exists(Path::new("/proc")).is_err());
        assert!(mounts_under(Path::new("/nonexistent-xtask-dir")).is_empty());
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("/a/b"), "/a/b");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(short_hash("abc").len(), 16);
    }
}
