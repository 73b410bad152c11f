//! enclos-storage: where a container's root filesystem lives, and how it
//! is created, cloned, mounted, measured and destroyed.
//!
//! A rootfs is named as LXC's `lxc.rootfs.path` names it: a backend prefix
//! and the backend's own description ([`Rootfs::parse`], [`Rootfs::spec`]):
//! `dir:/var/lib/enclos/c1/rootfs` (or a plain path), `overlay:LOWER:UPPER`,
//! `btrfs:/path`, `loop:/image`, `lvm:/dev/VG/LV`, `zfs:POOL/DATASET`,
//! `rbd:POOL/IMAGE`.
//!
//! # One enum, one contract, one module per backend
//!
//! The backends are a closed set, LXC's: [`Backend`] names them, parses
//! and prints their names and says what each can do ([`Capabilities`]),
//! so a command a backend cannot do is refused before anything starts.
//! Each backend lives in a module of its own (`dir`, `overlay`, `btrfs`,
//! `loop`, `lvm`, `zfs`, `rbd`) that implements one crate-private trait,
//! `Driver`: create, snapshot, copy, destroy, mount, unmount, usage. The
//! trait is the contract the modules share (the compiler checks each
//! against it, and the operations they do not have are refused by its
//! defaults); the enum is what users hold, and the one `match` that maps
//! an enum value to its driver is the only dispatch. Users never see the
//! trait: they call the methods of [`Rootfs`].
//!
//! # The operations
//!
//! - [`Rootfs::create`] / [`Rootfs::create_with`]: an empty rootfs for a
//!   new container ([`Dest`]), with lxc-create's `-B` options
//!   ([`CreateOptions`]).
//! - [`Rootfs::clone_to`]: a full copy or a snapshot ([`CloneKind`]),
//!   checked first by [`Rootfs::clone_backend`].
//! - [`Rootfs::destroy`]: refused while clones stack on the rootfs
//!   ([`deps`], LXC's `lxc_snapshots`); [`Rootfs::destroy_force`].
//! - [`Rootfs::mount`]: the directory to use as root, as a [`Mounted`]
//!   guard; [`Rootfs::prepare`] for the backends that need no mount.
//! - [`Rootfs::usage`]: size and bytes in use ([`Usage`]).
//! - [`copy_tree`]: the full copy of a tree that `dir` uses, for anyone.
#![deny(unsafe_code)]

// The README's example is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

mod aside;
mod backend;
mod btrfs;
#[allow(unsafe_code)]
mod copy;
pub mod deps;
mod dir;
mod du;
mod error;
#[allow(unsafe_code)]
mod fsinfo;
#[allow(unsafe_code)]
mod r#loop;
mod lvm;
mod mount;
mod ops;
mod options;
pub mod overlay;
mod rbd;
mod remove;
mod spec;
#[allow(unsafe_code)]
mod subvol;
mod tool;
mod zfs;

pub use backend::{Backend, Capabilities, BACKEND_NAMES};
pub use copy::copy_tree;
pub use du::used_bytes;
pub use error::{Error, Result};
pub use fsinfo::is_btrfs;
pub use ops::Mounted;
pub use options::{parse_size, CloneKind, CreateOptions, Dest, Usage, DEFAULT_FSSIZE};
pub use remove::remove_tree;
pub use spec::Rootfs;
