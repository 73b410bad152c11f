//! `enclos compat install DIR`: links named after the tools enclos stands
//! in for, so that `cgcreate` and `lxc-start` run enclos, and, when the
//! package installed them, links to their man pages where `man` looks for
//! DIR's commands, so that `man lxc-attach` shows enclos's page.
//!
//! `lxc-user-nic` is linked to the setuid helper `enclos-user-nic` rather
//! than to enclos: the kernel honours the setuid bit of the file a link
//! leads to, while a link to enclos would run it without privilege. It is
//! linked when that helper is installed setuid root.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum CompatCommand {
    /// Create links named cgcreate, lxc-start, ... to this binary in DIR,
    /// and links to their man pages in DIR/../share/man/man1.
    Install {
        /// Directory for the links (e.g. /usr/local/bin).
        dir: PathBuf,
        /// Replace files of those names that are not links to enclos.
        #[arg(long)]
        force: bool,
    },
    /// List the tool names enclos answers to.
    List,
}

/// LXC's name of the setuid helper that gives a user's container a veth.
pub const USER_NIC: &str = "lxc-user-nic";

/// Where the package installs that helper (enclos-user-nic).
const USER_NIC_HELPER: &str = "/usr/libexec/enclos/enclos-user-nic";

/// The helper `lxc-user-nic` leads to: `ENCLOS_USER_NIC` when set (the
/// helper `start` runs), else the package's; an error saying why when it
/// is not a file setuid root.
fn user_nic_helper() -> std::result::Result<PathBuf, String> {
    let path = std::env::var_os("ENCLOS_USER_NIC")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(USER_NIC_HELPER));
    check_setuid_root(&path)
}

fn check_setuid_root(path: &Path) -> std::result::Result<PathBuf, String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| {
        format!(
            "{} cannot be read ({e}): enclos's package installs it",
            path.display()
        )
    })?;
    if !meta.is_file() || meta.uid() != 0 || meta.mode() & 0o4000 == 0 {
        return Err(format!(
            "{} is not a file setuid root (chown root {0} && chmod u+s {0})",
            path.display()
        ));
    }
    path.canonicalize()
        .map_err(|e| format!("{} cannot be resolved ({e})", path.display()))
}

/// Every name the binary dispatches on.
pub fn tool_names() -> Vec<&'static str> {
    crate::cg::Tool::ALL
        .iter()
        .map(|(n, _)| *n)
        .chain(crate::lxc::LxcCommand::NAMES.iter().copied())
        .chain([crate::usernsexec::TOOL, crate::checkconfig::TOOL])
        .collect()
}

impl CompatCommand {
    pub fn run(self) -> Result<ExitCode> {
        match self {
            CompatCommand::List => {
                for n in tool_names() {
                    println!("{n}");
                }
            }
            CompatCommand::Install { dir, force } => install(&dir, force)?,
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn install(dir: &Path, force: bool) -> Result<()> {
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .context("Cannot find the path of the enclos binary")?;
    if !dir.is_dir() {
        bail!(
            "Cannot install links in {}: it is not a directory; create it first",
            dir.display()
        );
    }
    // Check every name first so that nothing is half-installed.
    let mut todo = Vec::new();
    for name in tool_names() {
        if let Some(t) = planned(dir.join(name), &exe, force)? {
            todo.push(t);
        }
    }
    match user_nic_helper() {
        Ok(helper) => {
            if let Some(t) = planned(dir.join(USER_NIC), &helper, force)? {
                todo.push(t);
            }
        }
        Err(why) => eprintln!("Not linked: {USER_NIC}, as {why}"),
    }
    let pages = man_links(&exe, dir);
    for (link, page) in &pages {
        if let Some(t) = planned(link.clone(), page, force)? {
            todo.push(t);
        }
    }
    if let Some((link, _)) = pages.first() {
        let man1 = link.parent().expect("a man page link has a directory");
        std::fs::create_dir_all(man1)
            .with_context(|| format!("Cannot create {}", man1.display()))?;
    }
    for (link, target, replace) in todo {
        if replace {
            std::fs::remove_file(&link)
                .with_context(|| format!("Cannot replace {}", link.display()))?;
        }
        std::os::unix::fs::symlink(&target, &link)
            .with_context(|| format!("Cannot create link {}", link.display()))?;
        println!("{} -> {}", link.display(), target.display());
    }
    Ok(())
}

/// A link to make at `link` pointing to `target`: `None` when it is there
/// already, `(link, target, replace)` otherwise; an error when a file of
/// that name is something else and `force` is not given.
fn planned(link: PathBuf, target: &Path, force: bool) -> Result<Option<(PathBuf, PathBuf, bool)>> {
    if std::fs::symlink_metadata(&link).is_err() {
        return Ok(Some((link, target.to_path_buf(), false)));
    }
    if std::fs::canonicalize(&link).ok().as_deref() == Some(target) {
        return Ok(None);
    }
    if !force {
        bail!(
            "Cannot install {}: a file of that name exists and is not enclos's; remove it, or pass --force to replace it",
            link.display()
        );
    }
    Ok(Some((link, target.to_path_buf(), true)))
}

/// The man pages of the compat names, linked where `man` looks for the
/// commands of `dir`: `DIR/../share/man/man1` (man-db's rule for a PATH
/// directory, and Debian's map of /usr/local/bin). The pages are those
/// the package installs beside the binary (`/usr/share/enclos/man/man1`
/// for `/usr/bin/enclos`); a binary built from a checkout has none, and
/// then only the commands are linked.
fn man_links(exe: &Path, dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let Some(pages) = exe
        .parent()
        .and_then(Path::parent)
        .map(|usr| usr.join("share/enclos/man/man1"))
        .filter(|p| p.is_dir())
    else {
        return Vec::new();
    };
    let Ok(dir) = dir.canonicalize() else {
        return Vec::new();
    };
    let Some(man1) = dir.parent().map(|p| p.join("share/man/man1")) else {
        return Vec::new();
    };
    tool_names()
        .into_iter()
        .map(|name| format!("{name}.1.gz"))
        .filter_map(|page| {
            let target = pages.join(&page).canonicalize().ok()?;
            Some((man1.join(&page), target))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lxc_user_nic_leads_only_to_a_helper_setuid_root() {
        let t = tempfile::tempdir().unwrap();
        let helper = t.path().join("enclos-user-nic");
        let e = check_setuid_root(&helper).unwrap_err();
        assert!(e.contains("cannot be read"), "{e}");
        std::fs::write(&helper, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = check_setuid_root(&helper).unwrap_err();
        assert!(e.contains("is not a file setuid root"), "{e}");
        if nix::unistd::geteuid().is_root() {
            std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o4755)).unwrap();
            assert_eq!(
                check_setuid_root(&helper).unwrap(),
                helper.canonicalize().unwrap()
            );
        }
        // Not one of the names enclos answers to: a link to enclos would
        // lose the privilege.
        assert!(!tool_names().contains(&USER_NIC));
    }

    #[test]
    fn man_pages_are_linked_where_man_looks_for_the_commands_of_dir() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().canonicalize().unwrap();
        let pages = root.join("usr/share/enclos/man/man1");
        std::fs::create_dir_all(&pages).unwrap();
        std::fs::write(pages.join("lxc-attach.1.gz"), "page").unwrap();
        std::fs::write(pages.join("cgcreate.1.gz"), "page").unwrap();
        let bin = root.join("usr/local/bin");
        std::fs::create_dir_all(&bin).unwrap();
        let mut links = man_links(&root.join("usr/bin/enclos"), &bin);
        links.sort();
        let man1 = root.join("usr/local/share/man/man1");
        assert_eq!(
            links,
            vec![
                (man1.join("cgcreate.1.gz"), pages.join("cgcreate.1.gz")),
                (man1.join("lxc-attach.1.gz"), pages.join("lxc-attach.1.gz")),
            ]
        );
        // A binary built from a checkout has no pages beside it.
        assert!(man_links(&root.join("target/release/enclos"), &bin).is_empty());
    }
}
