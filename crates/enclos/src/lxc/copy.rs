//! lxc-copy: copies, snapshots, ephemeral copies and renames of a
//! container.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use enclos_container as container;

use super::Common;

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The original container.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: String,
    /// The copy's name (an ephemeral copy without one gets NAME_XXXXXX).
    #[arg(short = 'N', long = "newname", value_name = "NEWNAME")]
    newname: Option<String>,
    /// The lxcpath of the copy (default: the original's).
    #[arg(short = 'p', long = "newpath", value_name = "NEWPATH")]
    newpath: Option<PathBuf>,
    /// Rename the original instead of copying it.
    #[arg(short = 'R', long = "rename", requires = "newname",
          conflicts_with_all = ["snapshot", "ephemeral", "backingstorage", "newpath"])]
    rename: bool,
    /// A copy-on-write snapshot instead of a full copy (overlay over a
    /// dir rootfs, btrfs over btrfs).
    #[arg(short = 's', long = "snapshot")]
    snapshot: bool,
    /// Allow a snapshot (-s) of a running original.
    #[arg(short = 'a', long = "allowrunning", requires = "snapshot")]
    allowrunning: bool,
    /// An ephemeral copy: an overlay over the original, started at once and
    /// destroyed when it stops.
    #[arg(short = 'e', long = "ephemeral")]
    ephemeral: bool,
    /// With -e, keep the copy when it stops.
    #[arg(short = 'D', long = "keepdata", requires = "ephemeral")]
    keepdata: bool,
    /// With -e, start it in the foreground with its console on this terminal.
    #[arg(
        short = 'F',
        long = "foreground",
        requires = "ephemeral",
        conflicts_with = "daemon"
    )]
    foreground: bool,
    /// With -e, start it in the background (the default).
    #[arg(short = 'd', long = "daemon", requires = "ephemeral")]
    daemon: bool,
    /// With -e, mounts for the copy: `bind=/SRC:/DEST[:ro]` or `overlay=/SRC:/DEST`,
    /// comma-separated.
    #[arg(
        short = 'm',
        long = "mount",
        value_name = "MOUNTS",
        requires = "ephemeral"
    )]
    mount: Vec<String>,
    /// With -e, the copy's changes on a tmpfs made for its run (overlay only).
    #[arg(
        short = 't',
        long = "tmpfs",
        requires = "ephemeral",
        conflicts_with = "keepdata"
    )]
    tmpfs: bool,
    /// The copy's storage backend: dir, overlay, btrfs, loop, lvm, zfs or rbd.
    #[arg(short = 'B', long = "backingstorage", value_name = "BACKEND")]
    backingstorage: Option<String>,
    /// The size of the copy's filesystem where the backend has one (loop,
    /// lvm, rbd): bytes, or a number with K, M, G or T.
    #[arg(short = 'L', long = "fssize", value_name = "SIZE")]
    fssize: Option<String>,
    /// Keep the original's hostname (lxc.uts.name).
    #[arg(short = 'K', long = "keepname")]
    keepname: bool,
    /// Keep the original's MAC addresses.
    #[arg(short = 'M', long = "keepmac")]
    keepmac: bool,
    #[command(flatten)]
    common: Common,
}

impl CopyArgs {
    pub fn run(self) -> Result<ExitCode> {
        if self.ephemeral {
            // It starts the copy: as `start`, never from a binary the
            // container could reach through /proc/PID/exe.
            container::run_from_sealed_copy()?;
        }
        let c = self.common.open(&self.name)?;
        if self.rename {
            let new = self.newname.as_deref().unwrap_or_default();
            container::rename(&c, new)
                .with_context(|| format!("Cannot rename container '{}'", self.name))?;
            return Ok(ExitCode::SUCCESS);
        }
        let lxcpath = self.common.lxcpath();
        let storage = enclos_storage::CreateOptions {
            fssize: self
                .fssize
                .as_deref()
                .map(enclos_storage::parse_size)
                .transpose()?,
            ..Default::default()
        };
        let opts = container::CopyOptions {
            new_name: self.newname.clone(),
            new_lxcpath: self.newpath.clone(),
            snapshot: self.snapshot,
            allow_running: self.allowrunning,
            backend: self
                .backingstorage
                .as_deref()
                .map(|b| enclos_storage::Backend::resolve(b, &lxcpath))
                .transpose()?,
            storage,
            keep_name: self.keepname,
            keep_mac: self.keepmac,
            ephemeral: self.ephemeral,
            keep_data: self.keepdata,
            mounts: self.mount.clone(),
            tmpfs: self.tmpfs,
            hook_args: Vec::new(),
        };
        let new = self.copy(&c, &opts)?;
        if self.ephemeral {
            let _ = self.daemon;
            container::start_copy(&new, &opts, self.foreground)
                .with_context(|| format!("Cannot start the copy '{}'", new.name()))?;
            if !self.common.quiet && !self.foreground {
                println!(
                    "Created {} as {} of {}",
                    new.name(),
                    container::copy_kind_word(&opts),
                    self.name
                );
                if self.tmpfs {
                    println!("Container is placed on tmpfs.\nRebooting will cause all changes made to it to be lost!");
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    /// The copy, with a spinner naming its steps on a terminal.
    fn copy(
        &self,
        c: &container::Container,
        opts: &container::CopyOptions,
    ) -> Result<container::Container> {
        crate::output::with_steps(self.common.quiet, |step| {
            container::copy(c, opts, step)
                .with_context(|| format!("Cannot copy container '{}'", self.name))
        })
    }
}
