//! enclos-templates: the rootfs templates behind `enclos create -t TEMPLATE`
//! (LXC's `lxc-create -t`).
//!
//! A template fills a container's rootfs directory and returns the `lxc.*`
//! keys the container's config gets. It writes no config file itself and
//! never emits `lxc.rootfs.path`: the container crate owns the config and
//! the container directory (and removes it when a create fails).
//!
//! The set is closed, so [`Template`] is an enum:
//!
//! - [`Template::Busybox`]: a static busybox copied to `/bin/busybox`, its
//!   applets linked where `busybox --list-full` places them, an inittab with
//!   a getty on every tty and on the console, an rcS that never blocks, and
//!   a root account that logs in without a password. See [`busybox`].
//!
//! ```no_run
//! use std::path::Path;
//! use enclos_templates::{Template, TemplateRequest};
//!
//! let template = Template::from_name("busybox")?;
//! let args = ["--busybox-path".to_string(), "/usr/bin/busybox".to_string()];
//! let mut req = TemplateRequest::new("c1", Path::new("/var/lib/enclos/c1/rootfs"));
//! req.args = &args;
//! let out = template.create(&req, &mut |step| eprintln!("{step}"))?;
//! for (key, value) in &out.config {
//!     println!("{key} = {value}");
//! }
//! # Ok::<(), enclos_templates::Error>(())
//! ```
#![forbid(unsafe_code)]

// The README's example is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

pub mod busybox;
mod elf;
mod error;
mod fsutil;

use std::ffi::OsStr;
use std::fmt;
use std::path::Path;

pub use elf::{inspect as inspect_elf, ElfKind};
pub use error::{Error, Result};

/// What a template is asked to build.
///
/// Built with [`TemplateRequest::new`]; the optional fields are public so
/// callers (and tests) set the ones they need.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct TemplateRequest<'a> {
    /// The container's name: the hostname inside, `lxc.uts.name`.
    pub name: &'a str,
    /// The rootfs directory to fill; created if missing.
    pub rootfs: &'a Path,
    /// The template's own arguments, the ones after `--` on the command line.
    pub args: &'a [String],
    /// The busybox binary to copy, instead of searching `PATH`. A
    /// `--busybox-path` in `args` wins over this.
    pub busybox: Option<&'a Path>,
    /// The directory list searched for programs; `None` reads the `PATH`
    /// environment variable (and falls back to [`DEFAULT_PATH`] when unset).
    pub search_path: Option<&'a OsStr>,
}

/// The program search list used when `PATH` is not set.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl<'a> TemplateRequest<'a> {
    /// A request with no template arguments, default busybox lookup and the
    /// process's `PATH`.
    pub fn new(name: &'a str, rootfs: &'a Path) -> Self {
        Self {
            name,
            rootfs,
            args: &[],
            busybox: None,
            search_path: None,
        }
    }
}

/// What a template produced, besides the files in the rootfs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TemplateOutput {
    /// `lxc.*` keys and values for the container's config, in order; a key
    /// may repeat (`lxc.mount.entry`). Values are unquoted.
    pub config: Vec<(String, String)>,
    /// Sentences for the user, printed after the create (how to log in, ...).
    pub notes: Vec<String>,
}

/// A file a template puts in the container's directory, next to its
/// config, and the key that names it there by its absolute path (as LXC's
/// `common.conf` names `common.seccomp`): the config stays in LXC's
/// language, and copies, snapshots and exports carry the file along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirFile {
    /// Its name in the container's directory.
    pub name: &'static str,
    /// What it holds.
    pub contents: &'static str,
    /// The config key whose value is its path.
    pub key: &'static str,
}

/// The templates enclos knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Template {
    /// A busybox system: see [`busybox`].
    Busybox,
}

impl Template {
    /// Every template, in the order listings show them.
    pub const ALL: &'static [Template] = &[Template::Busybox];

    /// The template named `name` (as in `-t NAME`).
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|t| t.name() == name)
            .ok_or_else(|| Error::UnknownTemplate {
                name: name.to_string(),
                known: Self::ALL
                    .iter()
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The name `-t` takes.
    pub fn name(&self) -> &'static str {
        match self {
            Template::Busybox => "busybox",
        }
    }

    /// The template's help: the options it takes after `--`.
    pub fn usage(&self) -> &'static str {
        match self {
            Template::Busybox => busybox::USAGE,
        }
    }

    /// The files this template's containers get next to their config
    /// (the busybox template: LXC's default seccomp deny-list, see
    /// [`busybox::DIR_FILES`]). The caller writes them in the container's
    /// directory and adds each key with the file's absolute path, unless
    /// the config it starts from sets that key already.
    pub fn dir_files(&self) -> &'static [DirFile] {
        match self {
            Template::Busybox => busybox::DIR_FILES,
        }
    }

    /// What the rootfs this template builds for `req` depends on, but for
    /// the container's name, as text: two requests with the same identity
    /// build the same rootfs but for the files [`Template::personalize`]
    /// writes. A cache of a built rootfs is valid while its identity is
    /// (for busybox: the binary's path, inode, size and modification
    /// time, and the template's format).
    pub fn cache_identity(&self, req: &TemplateRequest) -> Result<String> {
        match self {
            Template::Busybox => busybox::cache_identity(req),
        }
    }

    /// Makes a rootfs copied from one this template built for another
    /// container the rootfs of `req.name` (its hostname files), and
    /// returns the config keys and notes [`Template::create`] would.
    pub fn personalize(&self, req: &TemplateRequest) -> Result<TemplateOutput> {
        match self {
            Template::Busybox => busybox::personalize(req),
        }
    }

    /// Builds the rootfs at `req.rootfs` and returns the config keys.
    ///
    /// `progress` receives a short step name before each step
    /// ("checking busybox", "copying busybox", ...). On error the rootfs may
    /// be partly filled (the caller removes it); no process or mount is left
    /// behind.
    pub fn create(
        &self,
        req: &TemplateRequest,
        progress: &mut dyn FnMut(&str),
    ) -> Result<TemplateOutput> {
        match self {
            Template::Busybox => busybox::create(req, progress),
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Template {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::from_name(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("busybox", Some(Template::Busybox))]
    #[case("debian", None)]
    #[case("", None)]
    #[case("Busybox", None)]
    fn from_name(#[case] name: &str, #[case] expected: Option<Template>) {
        match (Template::from_name(name), expected) {
            (Ok(t), Some(e)) => assert_eq!(t, e),
            (Err(err), None) => assert_eq!(
                err.to_string(),
                format!("Unknown template '{name}'; known templates: busybox")
            ),
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn the_busybox_template_gives_lxc_s_common_seccomp() {
        let files = Template::Busybox.dir_files();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].name, "common.seccomp");
        assert_eq!(files[0].key, "lxc.seccomp.profile");
        let p = enclos_seccomp::Profile::parse(files[0].contents, Path::new("common.seccomp"))
            .expect("the profile parses");
        assert_eq!(p.policy, enclos_seccomp::Policy::Denylist);
        let denied: Vec<String> = p
            .rules
            .iter()
            .map(|r| format!("{:?} {}", r.syscall, r.action))
            .collect();
        for call in [
            "kexec_load",
            "open_by_handle_at",
            "init_module",
            "finit_module",
            "delete_module",
        ] {
            assert!(
                denied.contains(&format!("Name({call:?}) errno 1")),
                "{call}: {denied:?}"
            );
        }
        assert!(
            denied.contains(&"Name(\"umount2\") errno 13".to_string()),
            "{denied:?}"
        );
    }

    #[test]
    fn display_round_trips() {
        for t in Template::ALL {
            assert_eq!(t.to_string().parse::<Template>().unwrap(), *t);
        }
    }
}
