//! `lxc.hook.clone`: the hooks a copy runs once it exists, as LXC's
//! clone runs them.
//!
//! Each hook gets, as in LXC, the arguments `NEWNAME lxc clone` (hook
//! version 0) and the environment of every hook (`LXC_NAME` the copy's
//! name, `LXC_CONFIG_FILE` its config, `LXC_ROOTFS_PATH` its
//! `lxc.rootfs.path`, `LXC_ROOTFS_MOUNT` where its rootfs is seen as a
//! directory: its own directory, or mounted for the time of the hooks for
//! a backend that needs a mount), and `LXC_SRC_NAME`, the original's
//! name. A failing hook fails the copy, which is removed again.

use crate::container::{storage_rootfs, Container};
use crate::error::Result;
use crate::hooks::Hooks;

/// Runs the clone hooks of the copy `new` of `src_name`, with the extra
/// arguments `args`. Nothing when it has none.
pub(crate) fn run(new: &Container, src_name: &str, args: &[String]) -> Result<()> {
    let config = new.config()?;
    if config.hooks("clone").is_empty() {
        return Ok(());
    }
    let Some(r) = config.rootfs() else {
        let hooks = Hooks::new(new.name(), &config, &new.dir().join("rootfs"));
        return run_hooks(&hooks, src_name, args);
    };
    let rootfs = storage_rootfs(&r)?;
    let mount_point = new.run_dir().join("clone-hook-rootfs");
    let root = crate::backup::as_dir(&rootfs, &mount_point)?;
    let done = run_hooks(&Hooks::new(new.name(), &config, &root.root), src_name, args);
    drop(root);
    let _ = std::fs::remove_dir(&mount_point);
    done
}

fn run_hooks(hooks: &Hooks, src_name: &str, args: &[String]) -> Result<()> {
    let env = [("LXC_SRC_NAME".to_string(), src_name.to_string())];
    hooks.run_with("clone", args, &env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeHost;
    use std::fs;

    #[test]
    fn a_clone_hook_sees_lxc_s_arguments_and_environment() {
        let h = FakeHost::new();
        let out = h.lxcpath.join("hook.out");
        let hook = h.lxcpath.join("hook.sh");
        fs::write(
            &hook,
            format!(
                "#!/bin/sh\necho \"$@|$LXC_NAME|$LXC_SRC_NAME|$LXC_ROOTFS_MOUNT|$LXC_ROOTFS_PATH|$LXC_CONFIG_FILE\" > {}\n",
                out.display()
            ),
        )
        .unwrap();
        let c = h.container("c2", &format!("lxc.hook.clone = sh {}\n", hook.display()));
        run(&c, "c1", &["extra".to_string()]).unwrap();
        let rootfs = c.dir().join("rootfs");
        assert_eq!(
            fs::read_to_string(&out).unwrap(),
            format!(
                "c2 lxc clone extra|c2|c1|{}|{}|{}\n",
                rootfs.display(),
                c.config()
                    .unwrap()
                    .get("lxc.rootfs.path")
                    .unwrap_or_default(),
                c.config_path().display()
            )
        );

        let failing = h.container("c3", "lxc.hook.clone = sh -c 'echo no way >&2; exit 3'\n");
        let err = crate::error::chain(&run(&failing, "c1", &[]).unwrap_err());
        assert!(err.contains("no way"), "{err}");
    }
}
