//! The `busybox` template: LXC's `lxc-busybox`, rebuilt.
//!
//! What it builds in the rootfs:
//!
//! - the directory tree: `bin sbin usr/bin usr/sbin usr/lib lib etc
//!   etc/init.d etc/udhcpc dev proc sys run mnt home var/log` (0755), `tmp`
//!   and `var/tmp` (1777), `root` (0700); `var/run -> ../run` and
//!   `etc/mtab -> ../proc/self/mounts` (relative, so they resolve inside the
//!   rootfs from the host too). No device node: `lxc.autodev` makes `/dev`
//!   at each start.
//! - `/bin/busybox` (0755), a copy of the host's static busybox, and one
//!   symlink to `/bin/busybox` per applet, at the place
//!   `busybox --list-full` gives (`bin/sh`, `sbin/init`, `usr/bin/awk`...).
//! - `/etc/inittab`: `/etc/init.d/rcS` at boot, a getty on `tty1`..`tty4`
//!   ([`TTY_COUNT`], the `lxc.tty.max` it sets) and on `console`, a reboot
//!   on ctrl-alt-del, and no shutdown action (as LXC's template): busybox
//!   init syncs by itself when it halts, and the container's mounts go with
//!   its mount namespace, so a `sync` and an `umount -a` would only make
//!   every stop slower (by about a fifth, measured).
//! - `/etc/init.d/rcS` (0755): mounts `/proc`, `/sys`, `/dev/pts`,
//!   `/dev/shm` only where the container manager has not, a tmpfs on
//!   `/run`, runs `mount -a`, sets the hostname from `/etc/hostname`,
//!   starts `syslogd`, brings `lo` up, and starts DHCP (below).
//! - `/etc/udhcpc/default.script`, `/etc/passwd`, `/etc/group`,
//!   `/etc/shadow` (0600), `/etc/hostname`, `/etc/hosts`, `/etc/profile`,
//!   `/etc/fstab` (comments only), `/etc/securetty`, `/etc/shells`, an empty
//!   `/etc/resolv.conf` (the udhcpc script fills it).
//!
//! What it puts next to the container's config ([`DIR_FILES`]):
//!
//! - `common.seccomp`, LXC's default deny-list (its `common.conf`'s
//!   `common.seccomp`: `kexec_load`, `open_by_handle_at`, `init_module`,
//!   `finit_module`, `delete_module` fail with EPERM, `umount -f` with
//!   EACCES), named by `lxc.seccomp.profile` with its absolute path.
//!
//! Where it departs from LXC's template, and why:
//!
//! - **a seccomp deny-list.** LXC's busybox config includes no
//!   `common.conf` and so loads no filter; its distribution templates do.
//!   Here the busybox container gets the same deny-list as those.
//! - **rcS never blocks.** LXC's runs `udhcpc` in the foreground; busybox
//!   init waits for rcS, and with no DHCP server udhcpc never returns, so
//!   the gettys never start and `lxc-stop` waits out its whole timeout.
//!   Here `udhcpc -f` runs as a background job of rcS (rcS returns at once,
//!   udhcpc keeps retrying and renewing, init reaps it), and only on
//!   Ethernet interfaces that have no IPv4 address yet: a container with no
//!   network, or with `lxc.net.N.ipv4.address`, runs no DHCP at all.
//! - **root logs in without a password.** LXC's leaves `/etc/shadow` empty
//!   while `/etc/passwd` says `x`; busybox `login` then finds no shadow
//!   entry and rejects every password, so the console is useless until
//!   someone runs `passwd` through `lxc-attach`. Here shadow holds `root::`
//!   (empty field): busybox `login` (and `su`) accept an empty password
//!   without prompting. This opens nothing new: whoever reaches the console
//!   or a tty can already attach to the container; `/etc/securetty` lists
//!   only the console and the ttys, and no network login service is
//!   started. A note in the output tells the user to set a password.
//! - **a getty on every tty and on the console** (LXC's: `tty1` only and an
//!   `askfirst` shell on the console), so `console -t N` works for each
//!   tty the config allocates.
//! - **the busybox must be static**: LXC's bind-mounts the host's `/lib`,
//!   `/usr/lib`, `/lib64`, `/usr/lib64` into the container so that a
//!   dynamic busybox runs; that exposes the host's libraries and breaks
//!   when the host upgrades them. A dynamic binary is an error naming
//!   `busybox-static`.
//! - `lxc.pty.max = 1024` (LXC's busybox: 1, which leaves one pty for the
//!   whole container), `lxc.tty.max = 4` (as LXC's common.conf),
//!   `sys:mixed` (as LXC's common.conf; LXC's busybox: `sys:ro`), no
//!   `/sys/kernel/security` bind mount (no LSM runs inside), and no
//!   `lxc.init.cmd`: `/sbin/init` is the default.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use tracing::debug;

use crate::elf::{self, ElfKind};
use crate::fsutil::{self, chmod, mkdir, open_dir, symlink, symlink_at, write_file};
use crate::{Error, Result, TemplateOutput, TemplateRequest, DEFAULT_PATH};

const TEMPLATE: &str = "busybox";

/// The ttys the container gets (`lxc.tty.max`), each with a getty.
pub const TTY_COUNT: u32 = 4;

/// Where the applet links point, inside the container.
pub const BUSYBOX_IN_ROOTFS: &str = "/bin/busybox";

/// Applets without which the container cannot boot or be logged into.
pub const REQUIRED_APPLETS: &[&str] = &["sh", "init", "getty", "login", "mount"];

/// What `--help` prints.
pub const USAGE: &str = "\
Usage: enclos create -n NAME -t busybox [-- TEMPLATE-OPTIONS]

Builds a busybox system in the container's rootfs: a static busybox in
/bin, its applets linked where `busybox --list-full` places them, busybox
init with a getty on the console and on tty1..tty4, DHCP in the background
on interfaces without an address, and root without a password.

Template options:
  --busybox-path PATH  The busybox binary to copy (default: `busybox` in
                       PATH); it must be statically linked
                       (Debian: apt-get install busybox-static)
  -h, --help           Print this help
";

/// What the error for an unknown option lists.
const TAKES: &str = "--busybox-path PATH, -h/--help";

/// LXC's internal template arguments (`lxc-create` passes them to every
/// template script); enclos passes name and rootfs in the request.
const LXC_INTERNAL: &[&str] = &[
    "-n",
    "--name",
    "-p",
    "--path",
    "--rootfs",
    "--mapped-uid",
    "--mapped-gid",
];

/// The template's options, parsed from the arguments after `--`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Options {
    /// `--busybox-path PATH`.
    pub busybox_path: Option<PathBuf>,
}

/// Parses the arguments after `--`: `--busybox-path PATH` (or `=PATH`),
/// `-h`/`--help` (an [`Error::Help`] carrying [`USAGE`]).
pub fn parse_args(args: &[String]) -> Result<Options> {
    let mut opts = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v)),
            _ => (arg.as_str(), None),
        };
        match flag {
            "-h" | "--help" => {
                return Err(Error::Help {
                    template: TEMPLATE,
                    usage: USAGE,
                })
            }
            "--busybox-path" => {
                let value = match inline {
                    Some(v) => v,
                    None => it.next().map(String::as_str).unwrap_or(""),
                };
                if value.is_empty() {
                    return Err(Error::MissingValue {
                        template: TEMPLATE,
                        option: flag.to_string(),
                    });
                }
                opts.busybox_path = Some(PathBuf::from(value));
            }
            f if LXC_INTERNAL.contains(&f) => {
                return Err(Error::InternalOption {
                    template: TEMPLATE,
                    option: f.to_string(),
                })
            }
            f if f.starts_with('-') && f != "-" => {
                return Err(Error::UnknownOption {
                    template: TEMPLATE,
                    option: f.to_string(),
                    takes: TAKES,
                })
            }
            _ => {
                return Err(Error::UnexpectedArgument {
                    template: TEMPLATE,
                    argument: arg.clone(),
                    takes: TAKES,
                })
            }
        }
    }
    Ok(opts)
}

/// The busybox to copy: `explicit` if given (it must exist and be
/// executable), else the first executable `busybox` in `search_path` (`None`:
/// the `PATH` environment variable, or [`DEFAULT_PATH`] when unset).
pub fn find_busybox(explicit: Option<&Path>, search_path: Option<&OsStr>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return match fs::metadata(path) {
            Err(_) => Err(Error::BusyboxNotFound {
                path: path.to_owned(),
            }),
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(path.to_owned()),
            Ok(_) => Err(Error::BusyboxNotExecutable {
                path: path.to_owned(),
            }),
        };
    }
    let env_path = std::env::var_os("PATH");
    let search = search_path
        .or(env_path.as_deref())
        .unwrap_or(OsStr::new(DEFAULT_PATH));
    std::env::split_paths(search)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join("busybox"))
        .find(|candidate| {
            fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .ok_or(Error::BusyboxNotInPath)
}

/// Fails unless `path` is a statically linked ELF executable.
pub fn check_static(path: &Path) -> Result<()> {
    match elf::inspect(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })? {
        ElfKind::Static => Ok(()),
        ElfKind::Dynamic { interpreter } => Err(Error::BusyboxDynamic {
            path: path.to_owned(),
            interpreter,
        }),
        ElfKind::NotElf(reason) => Err(Error::BusyboxNotElf {
            path: path.to_owned(),
            reason,
        }),
    }
}

/// Runs `busybox --list-full` and parses its output.
pub fn list_applets(busybox: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new(busybox)
        .arg("--list-full")
        .env_clear()
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::BusyboxSpawn {
            path: busybox.to_owned(),
            source,
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or("").trim();
        return Err(Error::BusyboxList {
            path: busybox.to_owned(),
            status: out.status,
            stderr: if first.is_empty() {
                String::new()
            } else {
                format!(": {first}")
            },
        });
    }
    Ok(parse_applet_list(&String::from_utf8_lossy(&out.stdout)))
}

/// The applet paths of a `busybox --list-full` output (`bin/sh`,
/// `usr/bin/awk`, `linuxrc`), relative to the rootfs. Lines that are not a
/// plain relative path (absolute, `..`, empty) are skipped, and so is
/// `bin/busybox`, the binary itself.
pub fn parse_applet_list(text: &str) -> Vec<PathBuf> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .filter(|p| {
            let plain = p.components().all(|c| matches!(c, Component::Normal(_)));
            if !plain {
                debug!(applet = %p.display(), "skipping an applet path that is not plain and relative");
            }
            plain && p.as_os_str() != OsStr::new(&BUSYBOX_IN_ROOTFS[1..])
        })
        .collect()
}

/// Applet name (`getty`) to its absolute path in the container (`/sbin/getty`).
fn applet_map(applets: &[PathBuf]) -> BTreeMap<String, String> {
    applets
        .iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            Some((name, format!("/{}", p.to_str()?)))
        })
        .collect()
}

/// The files next to the config: LXC's `common.seccomp`, named by
/// `lxc.seccomp.profile`.
pub const DIR_FILES: &[crate::DirFile] = &[crate::DirFile {
    name: "common.seccomp",
    contents: enclos_seccomp::COMMON_PROFILE,
    key: "lxc.seccomp.profile",
}];

/// The `lxc.*` keys a busybox container's config gets, in order (and
/// `lxc.seccomp.profile`, naming the file of [`DIR_FILES`]).
pub fn config(name: &str) -> Vec<(String, String)> {
    let tty = TTY_COUNT.to_string();
    [
        ("lxc.signal.halt", "SIGUSR1"),
        ("lxc.signal.reboot", "SIGTERM"),
        ("lxc.uts.name", name),
        ("lxc.autodev", "1"),
        ("lxc.tty.max", tty.as_str()),
        ("lxc.pty.max", "1024"),
        ("lxc.cap.drop", "sys_module mac_admin mac_override sys_time"),
        ("lxc.mount.auto", "cgroup:mixed proc:mixed sys:mixed"),
        (
            "lxc.mount.entry",
            "shm dev/shm tmpfs defaults,create=dir 0 0",
        ),
        (
            "lxc.mount.entry",
            "mqueue dev/mqueue mqueue defaults,optional,create=dir 0 0",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Checks that `name` can be the container's hostname.
fn check_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 64 {
        Some("a hostname holds at most 64 bytes")
    } else if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        Some("a hostname cannot hold spaces, control characters or '/'")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidName {
            template: TEMPLATE,
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// `/etc/inittab`, with the applet paths `--list-full` gave.
fn inittab(applets: &BTreeMap<String, String>) -> String {
    let getty = &applets["getty"];
    let mut s = String::from(
        "# /etc/inittab, written by enclos's busybox template (busybox init's format:\n\
         # <tty>::<action>:<command>).\n\
         \n\
         # Boot: mount what is missing, set the hostname, start the network (never blocks).\n\
         ::sysinit:/etc/init.d/rcS\n\
         \n\
         # A login on each tty the container gets (lxc.tty.max) and on its console.\n",
    );
    for n in 1..=TTY_COUNT {
        let _ = writeln!(s, "tty{n}::respawn:{getty} -L tty{n} 115200 vt100");
    }
    let _ = writeln!(s, "console::respawn:{getty} -L console 115200 vt100");
    s.push_str(
        "\n# lxc-stop sends SIGUSR1 (lxc.signal.halt) and reboot SIGTERM (lxc.signal.reboot):\n\
         # init ends every process (it syncs by itself) and then itself; the\n\
         # container's mounts go with its mount namespace.\n",
    );
    if let Some(reboot) = applets.get("reboot") {
        let _ = writeln!(s, "::ctrlaltdel:{reboot}");
    }
    s
}

fn securetty() -> String {
    let mut s = String::from(
        "# Terminals root may log in on (busybox login). Root has no password: keep\n\
         # network terminals (pts/N) out of this list.\nconsole\nlxc/console\n",
    );
    for n in 1..=TTY_COUNT {
        let _ = writeln!(s, "tty{n}");
    }
    for n in 1..=TTY_COUNT {
        let _ = writeln!(s, "lxc/tty{n}");
    }
    s
}

const RCS: &str = include_str!("../files/rcS");
const UDHCPC_SCRIPT: &str = include_str!("../files/udhcpc.script");

const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n";
/// Root's password field is empty: busybox login and su let root in without
/// asking. `nobody` is locked.
const SHADOW: &str = "root:::0:99999:7:::\nnobody:*::0:99999:7:::\n";
const PROFILE: &str = "\
# /etc/profile, written by enclos's busybox template: read by login shells.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PS1='\\u@\\h:\\w\\$ '
umask 022
";
const FSTAB: &str = "\
# /etc/fstab: rcS runs `mount -a` at boot. The container manager already
# mounts /proc, /sys, /dev, /dev/pts, /dev/shm (lxc.mount.auto, lxc.autodev,
# lxc.mount.entry); add your own file systems here.
# <file system> <mount point> <type> <options> <dump> <pass>
";
const SHELLS: &str = "/bin/sh\n/bin/ash\n";

/// Directories of the tree, parents first, with their modes.
const DIRS: &[(&str, u32)] = &[
    ("bin", 0o755),
    ("sbin", 0o755),
    ("dev", 0o755),
    ("etc", 0o755),
    ("etc/init.d", 0o755),
    ("etc/udhcpc", 0o755),
    ("home", 0o755),
    ("lib", 0o755),
    ("mnt", 0o755),
    ("proc", 0o755),
    ("root", 0o700),
    ("run", 0o755),
    ("sys", 0o755),
    ("tmp", 0o1777),
    ("usr", 0o755),
    ("usr/bin", 0o755),
    ("usr/lib", 0o755),
    ("usr/sbin", 0o755),
    ("var", 0o755),
    ("var/log", 0o755),
    ("var/tmp", 0o1777),
];

/// Relative symlinks of the tree: (path, target).
const LINKS: &[(&str, &str)] = &[("var/run", "../run"), ("etc/mtab", "../proc/self/mounts")];

pub(crate) fn create(
    req: &TemplateRequest,
    progress: &mut dyn FnMut(&str),
) -> Result<TemplateOutput> {
    let started = Instant::now();
    let opts = parse_args(req.args)?;
    check_name(req.name)?;

    progress("checking busybox");
    let explicit = opts.busybox_path.as_deref().or(req.busybox);
    let (busybox, applets) = usable_busybox(explicit, req.search_path)?;

    let root = req.rootfs;
    progress("creating the directory tree");
    make_tree(root)?;

    progress("copying busybox");
    let rootfs_busybox = root.join(&BUSYBOX_IN_ROOTFS[1..]);
    fsutil::copy_file(&busybox, &rootfs_busybox, 0o755)?;

    progress("creating applet links");
    link_applets(root, &applets)?;

    progress("writing /etc");
    let name = req.name;
    write_etc(&root.join("etc"), name, &applet_map(&applets))?;

    debug!(rootfs = %root.display(), elapsed = ?started.elapsed(), "busybox rootfs created");
    Ok(output(name))
}

/// The config keys and notes of a container called `name`.
fn output(name: &str) -> TemplateOutput {
    TemplateOutput {
        config: config(name),
        notes: vec![format!(
            "Root has no password: log in as root on the console or a tty, then set one with `passwd` \
             before starting any network login service in {name}"
        )],
    }
}

/// Bumped whenever what [`create`] writes changes, so that rootfs cached
/// by an older enclos are not used.
const CACHE_FORMAT: u32 = 1;

/// What the rootfs [`create`] would build for `req` depends on, but for
/// the container's name: the template's format and the identity of the
/// busybox it copies (its path, device, inode, size and modification
/// time). A rootfs built for another name is the same but for the files
/// [`personalize`] writes.
pub(crate) fn cache_identity(req: &TemplateRequest) -> Result<String> {
    let opts = parse_args(req.args)?;
    let explicit = opts.busybox_path.as_deref().or(req.busybox);
    let busybox = find_busybox(explicit, req.search_path)?;
    let path = fs::canonicalize(&busybox).map_err(|source| Error::Read {
        path: busybox.clone(),
        source,
    })?;
    let m = fs::metadata(&path).map_err(|source| Error::Read {
        path: path.clone(),
        source,
    })?;
    use std::os::unix::fs::MetadataExt;
    Ok(format!(
        "template {TEMPLATE} {CACHE_FORMAT}\nbusybox {}\ndevice {}\ninode {}\nsize {}\nmtime {}.{:09}\n",
        path.display(),
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec()
    ))
}

/// Writes the files of a rootfs cloned from one built for another name
/// that name the container (`/etc/hostname`, `/etc/hosts`); returns the
/// container's config keys and notes, as [`create`] does.
pub(crate) fn personalize(req: &TemplateRequest) -> Result<TemplateOutput> {
    check_name(req.name)?;
    for (file, contents, mode) in name_files(req.name) {
        write_file(&req.rootfs.join("etc").join(file), &contents, mode)?;
    }
    Ok(output(req.name))
}

/// The files of `/etc` that hold the container's name.
fn name_files(name: &str) -> [(&'static str, String, u32); 2] {
    [
        ("hostname", format!("{name}\n"), 0o644),
        (
            "hosts",
            format!("127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n::1\tlocalhost ip6-localhost ip6-loopback\n"),
            0o644,
        ),
    ]
}

/// The busybox to copy (`explicit`, or the first on the search path) and
/// its applets: a static binary that has every [`REQUIRED_APPLETS`].
fn usable_busybox(
    explicit: Option<&Path>,
    search_path: Option<&OsStr>,
) -> Result<(PathBuf, Vec<PathBuf>)> {
    let busybox = find_busybox(explicit, search_path)?;
    check_static(&busybox)?;
    let applets = list_applets(&busybox)?;
    let by_name = applet_map(&applets);
    let missing: Vec<&str> = REQUIRED_APPLETS
        .iter()
        .copied()
        .filter(|a| !by_name.contains_key(*a))
        .collect();
    if !missing.is_empty() {
        return Err(Error::BusyboxApplets {
            path: busybox,
            missing: missing.join(", "),
        });
    }
    debug!(busybox = %busybox.display(), applets = applets.len(), "busybox checked");
    Ok((busybox, applets))
}

/// The rootfs directory itself, [`DIRS`] and [`LINKS`].
fn make_tree(root: &Path) -> Result<()> {
    fs::create_dir_all(root).map_err(|source| Error::CreateDir {
        path: root.to_owned(),
        source,
    })?;
    chmod(root, 0o755)?;
    for (dir, mode) in DIRS {
        mkdir(&root.join(dir), *mode)?;
    }
    for (path, target) in LINKS {
        symlink(target, &root.join(path))?;
    }
    Ok(())
}

/// The files of `/etc` (`etc`, on the host) for a container called `name`
/// whose busybox has the applets `by_name`.
fn write_etc(etc: &Path, name: &str, by_name: &BTreeMap<String, String>) -> Result<()> {
    let files: [(&str, String, u32); 11] = [
        ("inittab", inittab(by_name), 0o644),
        ("init.d/rcS", RCS.to_string(), 0o755),
        ("udhcpc/default.script", UDHCPC_SCRIPT.to_string(), 0o755),
        ("passwd", PASSWD.to_string(), 0o644),
        ("group", GROUP.to_string(), 0o644),
        ("shadow", SHADOW.to_string(), 0o600),
        ("profile", PROFILE.to_string(), 0o644),
        ("fstab", FSTAB.to_string(), 0o644),
        ("securetty", securetty(), 0o644),
        ("shells", SHELLS.to_string(), 0o644),
        ("resolv.conf", String::new(), 0o644),
    ];
    for (file, contents, mode) in files.into_iter().chain(name_files(name)) {
        write_file(&etc.join(file), &contents, mode)?;
    }
    Ok(())
}

/// One symlink to `/bin/busybox` per applet, through one directory fd per
/// parent directory.
fn link_applets(root: &Path, applets: &[PathBuf]) -> Result<()> {
    let mut dirs: BTreeMap<&Path, fs::File> = BTreeMap::new();
    for applet in applets {
        let (Some(parent), Some(file)) = (applet.parent(), applet.file_name()) else {
            continue;
        };
        if !dirs.contains_key(parent) {
            let dir = root.join(parent);
            fsutil::mkdir_all(&dir, 0o755)?;
            dirs.insert(parent, open_dir(&dir)?);
        }
        symlink_at(&dirs[parent], &root.join(parent), file, BUSYBOX_IN_ROOTFS)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::{fixture, rstest};
    use std::os::unix::fs::FileTypeExt;
    use std::time::Duration;
    use tempfile::TempDir;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    /// A static busybox on this host, or `None` (the test then skips, unless
    /// ENCLOS_REQUIRE_PRIVILEGED=1 asks for the whole environment).
    fn host_busybox() -> Option<PathBuf> {
        let found = find_busybox(None, None)
            .ok()
            .into_iter()
            .chain(["/usr/bin/busybox", "/bin/busybox"].map(PathBuf::from))
            .find(|p| check_static(p).is_ok());
        if found.is_none() {
            let why = "no static busybox on this host (apt-get install busybox-static)";
            assert!(
                std::env::var_os("ENCLOS_REQUIRE_PRIVILEGED").is_none_or(|v| v != "1"),
                "{why}"
            );
            eprintln!("skipped: {why}");
        }
        found
    }

    struct Created {
        _tmp: TempDir,
        root: PathBuf,
        busybox: PathBuf,
        out: TemplateOutput,
        steps: Vec<String>,
        elapsed: Duration,
    }

    impl Created {
        fn path(&self, rel: &str) -> PathBuf {
            self.root.join(rel)
        }

        fn read(&self, rel: &str) -> String {
            fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
        }

        fn mode(&self, rel: &str) -> u32 {
            fs::symlink_metadata(self.path(rel))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        }
    }

    fn create_in(
        root: &Path,
        busybox: &Path,
        args: &[String],
    ) -> (Result<TemplateOutput>, Vec<String>) {
        let mut req = TemplateRequest::new("bb1", root);
        req.busybox = Some(busybox);
        req.args = args;
        let mut steps = Vec::new();
        let out = crate::Template::Busybox.create(&req, &mut |s| steps.push(s.to_string()));
        (out, steps)
    }

    /// A rootfs built by the template, or `None` without a static busybox.
    #[fixture]
    fn created() -> Option<Created> {
        let busybox = host_busybox()?;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("rootfs");
        let start = Instant::now();
        let (out, steps) = create_in(&root, &busybox, &[]);
        let elapsed = start.elapsed();
        eprintln!("busybox template create took {elapsed:?}");
        Some(Created {
            _tmp: tmp,
            root,
            busybox,
            out: out.unwrap(),
            steps,
            elapsed,
        })
    }

    #[rstest]
    #[case(&[], Ok(None))]
    #[case(&["--busybox-path", "/opt/bb"], Ok(Some("/opt/bb")))]
    #[case(&["--busybox-path=/opt/bb"], Ok(Some("/opt/bb")))]
    #[case(&["--busybox-path", "/a", "--busybox-path", "/b"], Ok(Some("/b")))]
    #[case(&["--busybox-path"], Err("Option '--busybox-path' of the busybox template needs a value"))]
    #[case(&["--busybox-path="], Err("Option '--busybox-path' of the busybox template needs a value"))]
    #[case(&["--foo"], Err("Unknown option '--foo' for the busybox template; it takes: --busybox-path PATH, -h/--help"))]
    #[case(&["--foo=1"], Err("Unknown option '--foo' for the busybox template; it takes: --busybox-path PATH, -h/--help"))]
    #[case(&["-u"], Err("Unknown option '-u' for the busybox template; it takes: --busybox-path PATH, -h/--help"))]
    #[case(&["extra"], Err("Unexpected argument 'extra' for the busybox template; it takes: --busybox-path PATH, -h/--help"))]
    #[case(&["--rootfs", "/x"], Err("Option '--rootfs' is one LXC passes to its template scripts itself; enclos gives the busybox template the container's name and rootfs directly, so drop it from the arguments after `--`"))]
    #[case(&["-n", "x"], Err("Option '-n' is one LXC passes to its template scripts itself; enclos gives the busybox template the container's name and rootfs directly, so drop it from the arguments after `--`"))]
    #[case(&["--help"], Err(USAGE))]
    #[case(&["-h", "--foo"], Err(USAGE))]
    fn options(#[case] args: &[&str], #[case] expected: std::result::Result<Option<&str>, &str>) {
        match (parse_args(&strings(args)), expected) {
            (Ok(opts), Ok(path)) => assert_eq!(opts.busybox_path, path.map(PathBuf::from)),
            (Err(e), Err(msg)) => assert_eq!(e.to_string(), msg),
            (got, want) => panic!("{args:?}: got {got:?}, want {want:?}"),
        }
    }

    #[rstest]
    #[case::nonexistent_override(Some("/nonexistent/busybox"), None, "The busybox template needs a busybox binary: /nonexistent/busybox does not exist; install it with: apt-get install busybox-static")]
    #[case::empty_path(None, Some(""), "The busybox template needs a busybox binary: none in PATH; install it with: apt-get install busybox-static")]
    #[case::path_without_busybox(None, Some("/nonexistent:/proc"), "The busybox template needs a busybox binary: none in PATH; install it with: apt-get install busybox-static")]
    #[case::directory_override(Some("/"), None, "The busybox template needs a busybox binary: / is not an executable file; install one with: apt-get install busybox-static")]
    fn missing_busybox(
        #[case] explicit: Option<&str>,
        #[case] search: Option<&str>,
        #[case] message: &str,
    ) {
        let err = find_busybox(explicit.map(Path::new), search.map(OsStr::new)).unwrap_err();
        assert_eq!(err.to_string(), message);
    }

    #[test]
    fn path_search_skips_non_executables() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        fs::create_dir(&a).unwrap();
        fs::create_dir(&b).unwrap();
        write_file(&a.join("busybox"), "", 0o644).unwrap();
        write_file(&b.join("busybox"), "", 0o755).unwrap();
        let search = std::env::join_paths([&a, &b]).unwrap();
        assert_eq!(
            find_busybox(None, Some(&search)).unwrap(),
            b.join("busybox")
        );
    }

    #[test]
    fn missing_busybox_through_create_names_the_package() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("rootfs");
        let mut req = TemplateRequest::new("bb1", &root);
        req.search_path = Some(OsStr::new(""));
        let err = crate::Template::Busybox
            .create(&req, &mut |_| {})
            .unwrap_err();
        assert!(
            err.to_string().contains("apt-get install busybox-static"),
            "{err}"
        );
        assert!(!root.exists(), "nothing is written before busybox is found");
    }

    #[test]
    fn dynamic_busybox_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("rootfs");
        let (out, steps) = create_in(&root, Path::new("/bin/true"), &[]);
        let err = out.unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::BusyboxDynamic { .. }), "{msg}");
        assert!(
            msg.starts_with("/bin/true is dynamically linked (interpreter /"),
            "{msg}"
        );
        assert!(
            msg.contains("needs a static build: install it with: apt-get install busybox-static"),
            "{msg}"
        );
        assert_eq!(steps, ["checking busybox"]);
        assert!(!root.exists());
    }

    #[test]
    fn script_is_not_a_busybox() {
        let tmp = tempfile::tempdir().unwrap();
        let fake = tmp.path().join("busybox");
        write_file(&fake, "#!/bin/sh\n", 0o755).unwrap();
        let err = check_static(&fake).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "The busybox template needs a static busybox binary: {} is not an ELF executable (no ELF magic); install one with: apt-get install busybox-static",
                fake.display()
            )
        );
    }

    #[test]
    fn option_overrides_request() {
        let tmp = tempfile::tempdir().unwrap();
        let (out, _) = create_in(
            &tmp.path().join("rootfs"),
            Path::new("/usr/bin/busybox"),
            &strings(&["--busybox-path", "/nonexistent/bb"]),
        );
        assert_eq!(
            out.unwrap_err().to_string(),
            "The busybox template needs a busybox binary: /nonexistent/bb does not exist; install it with: apt-get install busybox-static"
        );
    }

    #[rstest]
    #[case("", "it is empty")]
    #[case("a b", "a hostname cannot hold spaces, control characters or '/'")]
    #[case("a\nb", "a hostname cannot hold spaces, control characters or '/'")]
    #[case("a/b", "a hostname cannot hold spaces, control characters or '/'")]
    #[case(&"x".repeat(65), "a hostname holds at most 64 bytes")]
    fn bad_names(#[case] name: &str, #[case] reason: &str) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("rootfs");
        let mut req = TemplateRequest::new(name, &root);
        req.busybox = Some(Path::new("/usr/bin/busybox"));
        let err = crate::Template::Busybox
            .create(&req, &mut |_| {})
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Invalid container name '{name}' for the busybox template: {reason}")
        );
    }

    #[rstest]
    #[case("bin/sh\nsbin/init\n", &["bin/sh", "sbin/init"])]
    #[case("bin/busybox\nusr/bin/awk\r\n\n  linuxrc  \n", &["usr/bin/awk", "linuxrc"])]
    #[case("/bin/sh\n../etc/x\nbin/../../y\nusr/./bin/z\nok\n", &["usr/bin/z", "ok"])]
    #[case("", &[])]
    fn applet_lists(#[case] text: &str, #[case] expected: &[&str]) {
        let got = parse_applet_list(text);
        assert_eq!(got, expected.iter().map(PathBuf::from).collect::<Vec<_>>());
    }

    #[test]
    fn config_pairs() {
        let expected = [
            ("lxc.signal.halt", "SIGUSR1"),
            ("lxc.signal.reboot", "SIGTERM"),
            ("lxc.uts.name", "web-1"),
            ("lxc.autodev", "1"),
            ("lxc.tty.max", "4"),
            ("lxc.pty.max", "1024"),
            ("lxc.cap.drop", "sys_module mac_admin mac_override sys_time"),
            ("lxc.mount.auto", "cgroup:mixed proc:mixed sys:mixed"),
            (
                "lxc.mount.entry",
                "shm dev/shm tmpfs defaults,create=dir 0 0",
            ),
            (
                "lxc.mount.entry",
                "mqueue dev/mqueue mqueue defaults,optional,create=dir 0 0",
            ),
        ];
        let got = config("web-1");
        assert_eq!(
            got,
            expected
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .to_vec()
        );
        assert!(got.iter().all(|(k, _)| k != "lxc.rootfs.path"));
    }

    #[test]
    fn inittab_uses_the_listed_paths() {
        let map = applet_map(&parse_applet_list(
            "sbin/getty\nbin/umount\nbin/sync\nsbin/reboot\n",
        ));
        let text = inittab(&map);
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        assert_eq!(
            lines,
            [
                "::sysinit:/etc/init.d/rcS",
                "tty1::respawn:/sbin/getty -L tty1 115200 vt100",
                "tty2::respawn:/sbin/getty -L tty2 115200 vt100",
                "tty3::respawn:/sbin/getty -L tty3 115200 vt100",
                "tty4::respawn:/sbin/getty -L tty4 115200 vt100",
                "console::respawn:/sbin/getty -L console 115200 vt100",
                "::ctrlaltdel:/sbin/reboot",
            ]
        );
    }

    #[rstest]
    fn tree_and_modes(created: Option<Created>) {
        let Some(c) = created else { return };
        for (dir, mode) in DIRS {
            assert!(c.path(dir).is_dir(), "{dir}");
            assert_eq!(c.mode(dir), *mode, "{dir}");
        }
        assert_eq!(c.mode("tmp"), 0o1777);
        assert_eq!(c.mode("root"), 0o700);
        assert_eq!(c.mode("bin/busybox"), 0o755);
        assert_eq!(c.mode("etc/init.d/rcS"), 0o755);
        assert_eq!(c.mode("etc/udhcpc/default.script"), 0o755);
        assert_eq!(c.mode("etc/shadow"), 0o600);
        assert_eq!(c.mode("etc/passwd"), 0o644);
        assert_eq!(
            fs::read_link(c.path("var/run")).unwrap(),
            Path::new("../run")
        );
        assert_eq!(
            fs::read_link(c.path("etc/mtab")).unwrap(),
            Path::new("../proc/self/mounts")
        );
        // No device nodes: autodev makes /dev at start.
        assert_eq!(fs::read_dir(c.path("dev")).unwrap().count(), 0);
        for entry in fs::read_dir(&c.root).unwrap() {
            let t = entry.unwrap().file_type().unwrap();
            assert!(!t.is_char_device() && !t.is_block_device());
        }
    }

    #[rstest]
    fn busybox_and_applet_links(created: Option<Created>) {
        let Some(c) = created else { return };
        let copy = fs::symlink_metadata(c.path("bin/busybox")).unwrap();
        assert!(copy.is_file());
        assert_eq!(copy.len(), fs::metadata(&c.busybox).unwrap().len());

        for link in [
            "bin/sh",
            "sbin/init",
            "sbin/getty",
            "bin/login",
            "bin/mount",
        ] {
            assert_eq!(
                fs::read_link(c.path(link)).unwrap(),
                Path::new("/bin/busybox"),
                "{link}"
            );
        }
        let applets = list_applets(&c.busybox).unwrap();
        assert!(applets.len() > 100, "{} applets", applets.len());
        for applet in &applets {
            assert_eq!(
                fs::read_link(c.path(applet.to_str().unwrap())).unwrap(),
                Path::new("/bin/busybox")
            );
        }

        let out = Command::new(c.path("bin/busybox"))
            .args(["sh", "-c", "echo ok"])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
    }

    #[rstest]
    fn scripts_parse(created: Option<Created>) {
        let Some(c) = created else { return };
        for script in ["etc/init.d/rcS", "etc/udhcpc/default.script", "etc/profile"] {
            let out = Command::new(c.path("bin/busybox"))
                .args(["sh", "-n"])
                .arg(c.path(script))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{script}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    #[rstest]
    fn inittab_has_a_getty_per_tty_and_the_console(created: Option<Created>) {
        let Some(c) = created else { return };
        let inittab = c.read("etc/inittab");
        let lines: Vec<&str> = inittab.lines().collect();
        assert!(lines.contains(&"::sysinit:/etc/init.d/rcS"));
        for n in 1..=TTY_COUNT {
            let line = format!("tty{n}::respawn:/sbin/getty -L tty{n} 115200 vt100");
            assert!(lines.contains(&line.as_str()), "{line}");
        }
        assert!(lines.contains(&"console::respawn:/sbin/getty -L console 115200 vt100"));
        assert!(lines.iter().any(|l| l.starts_with("::ctrlaltdel:")));
        assert!(
            !lines.iter().any(|l| l.contains("::shutdown:")),
            "{lines:?}"
        );
        let tty_max = c
            .out
            .config
            .iter()
            .find(|(k, _)| k == "lxc.tty.max")
            .unwrap();
        let gettys = lines
            .iter()
            .filter(|l| l.starts_with("tty") && l.contains("getty"))
            .count();
        assert_eq!(tty_max.1, gettys.to_string());
        // Every tty with a getty is one root may log in on.
        let securetty = c.read("etc/securetty");
        for tty in ["console", "lxc/console", "tty1", "tty4", "lxc/tty1"] {
            assert!(securetty.lines().any(|l| l == tty), "{tty}");
        }
        assert!(!securetty.lines().any(|l| l.starts_with("pts")));
    }

    #[rstest]
    fn rcs_never_waits_for_dhcp(created: Option<Created>) {
        let Some(c) = created else { return };
        let rcs = c.read("etc/init.d/rcS");
        // Commands, with continuation lines joined and comments dropped.
        let joined = rcs.replace("\\\n", " ");
        let commands: Vec<&str> = joined
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let dhcp: Vec<&&str> = commands
            .iter()
            .filter(|l| l.starts_with("udhcpc"))
            .collect();
        assert_eq!(
            dhcp,
            [
                &r#"udhcpc -f -S -i "$dev" -p "/run/udhcpc.$dev.pid"              -s /etc/udhcpc/default.script </dev/null >/dev/null 2>&1 &"#
            ]
        );
        assert!(commands.contains(&r#"[ -z "$(ip -4 -o addr show dev "$dev")" ] || continue"#));
        assert!(commands.contains(&"[ -s /etc/hostname ] && hostname -F /etc/hostname"));
        assert!(commands.contains(&"ip link set dev lo up"));
        assert!(commands.contains(
            &"mounted /dev/shm || mount -t tmpfs -o nosuid,nodev,mode=1777 shm /dev/shm"
        ));
        assert!(commands.contains(&"mounted /dev/pts || mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts"));
        assert_eq!(commands.last(), Some(&"exit 0"));
    }

    #[rstest]
    fn accounts_and_names(created: Option<Created>) {
        let Some(c) = created else { return };
        assert!(c
            .read("etc/passwd")
            .lines()
            .any(|l| l == "root:x:0:0:root:/root:/bin/sh"));
        assert!(c
            .read("etc/group")
            .lines()
            .any(|l| l.starts_with("root:x:0:")));
        // An empty password field: busybox login lets root in without one.
        assert!(c
            .read("etc/shadow")
            .lines()
            .any(|l| l.starts_with("root::")));
        assert_eq!(c.read("etc/hostname"), "bb1\n");
        assert!(c.read("etc/hosts").lines().any(|l| l == "127.0.1.1\tbb1"));
        assert!(c.read("etc/profile").contains("export PS1="));
        assert!(c
            .read("etc/profile")
            .contains("export PATH=/bin:/sbin:/usr/bin:/usr/sbin"));
        assert!(c.path("etc/fstab").is_file());
        assert_eq!(c.out.config, config("bb1"));
        assert_eq!(c.out.notes.len(), 1);
        assert!(c.out.notes[0].starts_with("Root has no password"));
    }

    #[rstest]
    fn progress_and_speed(created: Option<Created>) {
        let Some(c) = created else { return };
        assert_eq!(
            c.steps,
            [
                "checking busybox",
                "creating the directory tree",
                "copying busybox",
                "creating applet links",
                "writing /etc",
            ]
        );
        // The target is well under 50 ms; the bound is loose for busy CI hosts.
        assert!(c.elapsed < Duration::from_secs(2), "{:?}", c.elapsed);
    }

    #[rstest]
    fn create_twice_on_the_same_rootfs(created: Option<Created>) {
        let Some(c) = created else { return };
        let (out, _) = create_in(&c.root, &c.busybox, &[]);
        out.unwrap();
        assert_eq!(
            fs::read_link(c.path("bin/sh")).unwrap(),
            Path::new("/bin/busybox")
        );
    }

    #[test]
    fn rootfs_that_is_a_file() {
        let Some(busybox) = host_busybox() else {
            return;
        };
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("rootfs");
        fs::write(&root, "").unwrap();
        let (out, _) = create_in(&root, &busybox, &[]);
        assert_eq!(
            out.unwrap_err().to_string(),
            format!("Cannot create directory {}", root.display())
        );
    }
}
