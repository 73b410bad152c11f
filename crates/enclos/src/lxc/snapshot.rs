//! `enclos snapshot` / `lxc-snapshot`: take, list, restore and destroy a
//! container's snapshots, with lxc-snapshot's flags and output.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use enclos_container as container;

use super::Common;
use crate::output::{print_json, Format};

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The container.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: String,
    /// Store FILE as the new snapshot's comment.
    #[arg(short = 'c', long = "comment", value_name = "FILE")]
    comment: Option<PathBuf>,
    /// List the snapshots: name, directory, time taken.
    #[arg(short = 'L', long = "list", conflicts_with_all = ["comment", "restore", "destroy"])]
    list: bool,
    /// With -L, print each snapshot's comment after it.
    #[arg(short = 'C', long = "showcomments", requires = "list")]
    showcomments: bool,
    /// Restore snapshot SNAP (snap0, ...): over the container, or as a new
    /// one with -N.
    #[arg(short = 'r', long = "restore", value_name = "SNAP", conflicts_with_all = ["comment", "destroy"])]
    restore: Option<String>,
    /// With -r, the name of the new container.
    #[arg(
        short = 'N',
        long = "newname",
        value_name = "NEWNAME",
        requires = "restore"
    )]
    newname: Option<String>,
    /// Destroy snapshot SNAP, or ALL of them.
    #[arg(
        short = 'd',
        long = "destroy",
        value_name = "SNAP",
        conflicts_with = "comment"
    )]
    destroy: Option<String>,
    /// With -L: text as lxc-snapshot prints it, or JSON.
    #[arg(long, value_enum, default_value_t, requires = "list")]
    format: Format,
    #[command(flatten)]
    common: Common,
}

impl SnapshotArgs {
    pub fn run(self) -> Result<ExitCode> {
        let c = self.common.open(&self.name)?;
        if self.list {
            return self.list(&c);
        }
        if let Some(snap) = &self.restore {
            container::restore(&c, snap, self.newname.as_deref()).with_context(|| {
                format!("Cannot restore snapshot {snap} of container '{}'", c.name())
            })?;
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(snap) = &self.destroy {
            container::destroy_snapshot(&c, snap).with_context(|| {
                format!("Cannot destroy snapshot {snap} of container '{}'", c.name())
            })?;
            return Ok(ExitCode::SUCCESS);
        }
        let plan = container::snapshot_plan(&c)?;
        if plan.is_dir_copy() && !self.common.quiet {
            eprintln!(
                "warning: '{}' keeps its rootfs in a plain directory, so this snapshot is a full \
                 copy of it (as large, and as slow to make, as the rootfs). For cheap snapshots, \
                 clone it into overlay or btrfs, snapshot the clone and leave this container as \
                 it is.",
                c.name()
            );
        }
        container::snapshot(&c, self.comment.as_deref())
            .with_context(|| format!("Cannot snapshot container '{}'", c.name()))?;
        Ok(ExitCode::SUCCESS)
    }

    /// `-L [-C]`: `snap0 (LXCPATH/NAME/snaps) 2020:07:29 17:34:36`, the
    /// comment after it with -C; "No snapshots" when there are none.
    fn list(&self, c: &container::Container) -> Result<ExitCode> {
        let snaps = container::snapshots(c)?;
        if self.format == Format::Json {
            print_json(&snaps)?;
            return Ok(ExitCode::SUCCESS);
        }
        let mut out = String::new();
        if snaps.is_empty() {
            out.push_str("No snapshots\n");
        }
        for s in &snaps {
            let parent = s.dir.parent().unwrap_or(&s.dir);
            out.push_str(&format!(
                "{} ({}) {}\n",
                s.name,
                parent.display(),
                s.timestamp.as_deref().unwrap_or("")
            ));
            if self.showcomments {
                if let Some(comment) = &s.comment {
                    out.push_str(comment);
                }
            }
        }
        std::io::stdout().write_all(out.as_bytes())?;
        Ok(ExitCode::SUCCESS)
    }
}
