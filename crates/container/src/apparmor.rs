//! AppArmor confinement, as LXC gives it: `lxc.apparmor.profile` is
//! `generated` (a profile made for the container, loaded with
//! apparmor_parser as `lxc-NAME_<LXCPATH>` and removed when the container
//! stops), `unconfined`, `unchanged` (the caller's own confinement) or the
//! name of a profile the host has loaded. Unset, root's containers get the
//! generated profile; a user's keep the user's confinement (loading a
//! profile needs root).
//!
//! The profile is applied on exec: init, the command of `execute` and
//! every attached process write `exec PROFILE` to their
//! `/proc/self/attr/apparmor/exec` just before they exec, so that all the
//! container runs under it and nothing of enclos does.
//!
//! A host without AppArmor gets one warning when the configuration asks
//! for it (`security::start_notes`), never a silent pass.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use enclos_config::Config;

use crate::error::{Error, Result};

/// Where AppArmor says whether it is on.
const ENABLED: &str = "/sys/module/apparmor/parameters/enabled";
/// AppArmor's part of securityfs.
const APPARMORFS: &str = "/sys/kernel/security/apparmor";
/// Where the generated profiles and apparmor_parser's cache of their
/// compiled form are kept, so that a second start loads without
/// compiling.
const CACHE_DIR: &str = "/var/cache/enclos/apparmor";

/// What the host offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Host {
    /// The kernel runs AppArmor (and securityfs shows it).
    pub enabled: bool,
    /// The kernel mediates mounts (without it a profile cannot stop a
    /// mount of proc: LXC calls that incomplete).
    pub mounts_mediated: bool,
    /// The label enclos itself runs under (`unconfined` on most hosts).
    pub current: String,
    /// apparmor_parser, if installed.
    pub parser: Option<PathBuf>,
    /// The profiles loaded (for a named profile's check).
    pub loaded: Vec<String>,
    /// Root (CAP_MAC_ADMIN), who may load profiles.
    pub root: bool,
}

impl Host {
    /// The host as the kernel shows it now.
    pub(crate) fn probe() -> Host {
        let fs = Path::new(APPARMORFS);
        let enabled = host_enabled() && fs.exists();
        let loaded = match enabled {
            true => std::fs::read_to_string(fs.join("profiles"))
                .map(|t| t.lines().map(|l| strip_mode(l).to_string()).collect())
                .unwrap_or_default(),
            false => Vec::new(),
        };
        // Without AppArmor nothing else is asked (see decide): no search
        // of $PATH for the parser on every start.
        Host {
            enabled,
            mounts_mediated: enabled && fs.join("features/mount").exists(),
            current: match enabled {
                true => label_of("self").unwrap_or_else(|| "unconfined".into()),
                false => "unconfined".into(),
            },
            parser: if enabled { find_parser() } else { None },
            loaded,
            root: nix::unistd::geteuid().is_root(),
        }
    }
}

/// Whether the host runs AppArmor (without reading more of it).
pub(crate) fn host_enabled() -> bool {
    std::fs::read_to_string(ENABLED).is_ok_and(|v| v.trim() == "Y")
}

/// The profile a container runs under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Profile {
    /// Nothing to change: no AppArmor, or the caller's own label.
    Unchanged,
    /// A profile the host has loaded (or `unconfined`).
    Named(String),
    /// The container's own profile, loaded for the time it runs.
    Generated {
        name: String,
        text: String,
        parser: PathBuf,
    },
}

impl Profile {
    /// The label init and attached processes exec into, if any.
    pub(crate) fn exec_label(&self) -> Option<&str> {
        match self {
            Profile::Unchanged => None,
            Profile::Named(n) | Profile::Generated { name: n, .. } => Some(n),
        }
    }
}

/// The profile name LXC gives a container's generated profile.
pub(crate) fn generated_name(name: &str, lxcpath: &Path) -> String {
    format!("lxc-{name}_<{}>", lxcpath.display())
}

/// Decides the profile of container `name` (in `lxcpath`) from its
/// configuration and the host. An error is the reason the start is
/// refused.
pub(crate) fn decide(
    cfg: &Config,
    name: &str,
    lxcpath: &Path,
    host: &Host,
) -> std::result::Result<Profile, String> {
    if !host.enabled {
        return Ok(Profile::Unchanged);
    }
    let entry = cfg
        .live_entries()
        .filter(|e| e.key == "lxc.apparmor.profile")
        .last();
    let at = entry
        .map(|e| {
            format!(
                "lxc.apparmor.profile = {} at {}:{}",
                e.value,
                e.origin.file.display(),
                e.origin.line
            )
        })
        .unwrap_or_else(|| "lxc.apparmor.profile unset".to_string());
    let value = entry.map(|e| e.value.as_str()).filter(|v| !v.is_empty());
    let confined_already = host.current != "unconfined";
    let profile = match value {
        Some("unchanged") => return Ok(Profile::Unchanged),
        Some("unconfined") if !confined_already => return Ok(Profile::Unchanged),
        Some("unconfined") => return Ok(Profile::Named("unconfined".into())),
        // A user cannot load a profile, and enclos under a profile
        // already (nested) keeps it: as LXC, the container inherits it.
        None if !host.root || confined_already => {
            tracing::info!(
                "AppArmor: container '{name}' runs under the caller's label '{}' ({at}; only root outside any profile loads a generated one)",
                host.current
            );
            return Ok(Profile::Unchanged);
        }
        None | Some("generated") => {
            if !host.root {
                return Err(format!(
                    "{at}: loading a generated AppArmor profile needs root; set lxc.apparmor.profile to the name of a profile root has loaded, or to unchanged to run under your own confinement"
                ));
            }
            let Some(parser) = host.parser.clone() else {
                return Err(format!(
                    "this host runs AppArmor and {at} asks for a generated profile, which enclos loads with apparmor_parser, not found: install it (apt-get install apparmor), or set lxc.apparmor.profile = unconfined to run the container unconfined"
                ));
            };
            let pname = generated_name(name, lxcpath);
            let raw = cfg.get_all("lxc.apparmor.raw");
            let nesting = cfg.apparmor_allow_nesting();
            Profile::Generated {
                text: profile_text(&pname, name, nesting, &raw),
                name: pname,
                parser,
            }
        }
        Some(other) => {
            if !host.loaded.iter().any(|l| l == other) {
                return Err(format!(
                    "{at}: the host has no AppArmor profile '{other}' loaded (see /sys/kernel/security/apparmor/profiles); load it with apparmor_parser -r FILE, or use generated or unconfined"
                ));
            }
            Profile::Named(other.to_string())
        }
    };
    if !host.mounts_mediated {
        let incomplete = cfg
            .get("lxc.apparmor.allow_incomplete")
            .is_some_and(|v| v.trim() == "1" || v.trim().eq_ignore_ascii_case("true"));
        if !incomplete {
            return Err(format!(
                "{at}: this kernel's AppArmor does not mediate mounts, so the profile could not stop a mount of proc or sysfs in the container; set lxc.apparmor.allow_incomplete = 1 to start it anyway, or lxc.apparmor.profile = unconfined"
            ));
        }
        tracing::warn!("AppArmor does not mediate mounts on this kernel: container '{name}' starts with an incomplete profile (lxc.apparmor.allow_incomplete = 1)");
    }
    Ok(profile)
}

/// `NAME (enforce)` → `NAME`.
fn strip_mode(label: &str) -> &str {
    let label = label.trim_end();
    match label.rfind(" (") {
        Some(i) if label.ends_with(')') => &label[..i],
        _ => label,
    }
}

/// The AppArmor label of process `pid` (`self` for ours), without its
/// mode.
pub(crate) fn label_of(pid: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/attr/apparmor/current"))
        .or_else(|_| std::fs::read_to_string(format!("/proc/{pid}/attr/current")))
        .ok()?;
    let label = strip_mode(text.trim_end_matches(['\n', '\0']));
    (!label.is_empty()).then(|| label.to_string())
}

/// The label an attached process execs into: that of the container's
/// init (as lxc-attach takes it), on a host with AppArmor.
pub(crate) fn attach_label(init_pid: i32) -> Option<String> {
    if !std::fs::read_to_string(ENABLED).is_ok_and(|v| v.trim() == "Y") {
        return None;
    }
    label_of(&init_pid.to_string()).filter(|l| l != "unconfined")
}

fn find_parser() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join("apparmor_parser"))
        .find(|p| p.is_file())
}

/// Opens this process's exec attribute, while the host's /proc is still
/// at hand: written just before exec ([`exec_into`]).
pub(crate) fn open_exec_attr() -> std::result::Result<OwnedFd, String> {
    let open = |p: &str| {
        OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(p)
    };
    open("/proc/self/attr/apparmor/exec")
        .or_else(|_| open("/proc/self/attr/exec"))
        .map(OwnedFd::from)
        .map_err(|e| format!("Cannot open /proc/self/attr/apparmor/exec to confine the container with AppArmor: {e}"))
}

/// Asks the kernel to run what this process execs next under `label`.
pub(crate) fn exec_into(attr: OwnedFd, label: &str) -> std::result::Result<(), String> {
    let mut f = std::fs::File::from(attr);
    f.write_all(format!("exec {label}").as_bytes())
        .map_err(|e| format!("Cannot change to the AppArmor profile '{label}' on exec: {e}"))
}

/// A generated profile loaded in the kernel: removed when dropped.
#[derive(Debug)]
pub(crate) struct Loaded {
    file: PathBuf,
    parser: PathBuf,
}

/// Loads the profile of a start, if it is generated: written to the
/// cache directory (rewritten only when its text changed, so that
/// apparmor_parser's compiled cache stays valid), then loaded with
/// `apparmor_parser -r -W -L`.
pub(crate) fn load(profile: &Profile, container: &str) -> Result<Option<Loaded>> {
    let Profile::Generated { name, text, parser } = profile else {
        return Ok(None);
    };
    let started = Instant::now();
    let fail = |reason: String| Error::StartFailed {
        name: container.to_string(),
        reason,
    };
    let dir = Path::new(CACHE_DIR);
    let cache = dir.join("cache");
    std::fs::create_dir_all(&cache).map_err(|e| {
        fail(format!(
            "cannot create {} for its AppArmor profile: {e}",
            cache.display()
        ))
    })?;
    let file = dir.join(file_name(name));
    if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(&file, text).map_err(|e| {
            fail(format!(
                "cannot write its AppArmor profile {}: {e}",
                file.display()
            ))
        })?;
    }
    let out = Command::new(parser)
        .arg("-r")
        .arg("-W")
        .arg("-L")
        .arg(&cache)
        .arg(&file)
        .output()
        .map_err(|e| fail(format!("cannot run {}: {e}", parser.display())))?;
    if !out.status.success() {
        return Err(fail(format!(
            "apparmor_parser could not load its AppArmor profile {} ({}): {}",
            file.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    tracing::debug!(elapsed = ?started.elapsed(), profile = name.as_str(), "AppArmor profile loaded");
    Ok(Some(Loaded {
        file,
        parser: parser.clone(),
    }))
}

impl Drop for Loaded {
    fn drop(&mut self) {
        match Command::new(&self.parser)
            .arg("-R")
            .arg(&self.file)
            .output()
        {
            Ok(o) if o.status.success() => {}
            Ok(o) => tracing::warn!(
                "Cannot remove the AppArmor profile of {}: {}",
                self.file.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => tracing::warn!(
                "Cannot run {} to remove a profile: {e}",
                self.parser.display()
            ),
        }
    }
}

/// The file a profile is kept in: its name, with `/` made `-`.
fn file_name(profile: &str) -> String {
    profile.replace('/', "-")
}

/// Quotes a profile name for the profile's header.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The flags of a new mount (no bind, move, remount or propagation).
const NEW_MOUNT: &str = "ro, rw, nosuid, suid, nodev, dev, noexec, exec, sync, async, dirsync, mand, nomand, atime, noatime, diratime, nodiratime, relatime, norelatime, strictatime, silent, loud";

/// Paths outside /proc, /sys and /dev: what may be bind-mounted or moved.
const NOT_PROC_SYS_DEV: &[&str] = &[
    "/[^spd]*{,/**}",
    "/p[^r]*{,/**}",
    "/pr[^o]*{,/**}",
    "/pro[^c]*{,/**}",
    "/proc?*{,/**}",
    "/s[^y]*{,/**}",
    "/sy[^s]*{,/**}",
    "/sys?*{,/**}",
    "/d[^e]*{,/**}",
    "/de[^v]*{,/**}",
    "/dev?*{,/**}",
];

/// /proc/sys but kernel/ and net/ (namespaced): read-only.
const PROC_SYS_DENIED: &[&str] = &[
    "/proc/sys/[^kn]*{,/**}",
    "/proc/sys/k[^e]*{,/**}",
    "/proc/sys/ke[^r]*{,/**}",
    "/proc/sys/ker[^n]*{,/**}",
    "/proc/sys/kern[^e]*{,/**}",
    "/proc/sys/kerne[^l]*{,/**}",
    "/proc/sys/kernel?*{,/**}",
    "/proc/sys/n[^e]*{,/**}",
    "/proc/sys/ne[^t]*{,/**}",
    "/proc/sys/net?*{,/**}",
    // kernel/ but the IPC namespace's shm* keys.
    "/proc/sys/kernel/{?,??,[^s][^h][^m]**}",
];

/// /sys read-only but the container's cgroups under /sys/fs/cgroup.
const SYS_DENIED: &[&str] = &[
    "/sys/[^f]*{,/**}",
    "/sys/f[^s]*{,/**}",
    "/sys/fs/[^c]*{,/**}",
    "/sys/fs/c[^g]*{,/**}",
    "/sys/fs/cg[^r]*{,/**}",
];

/// The generated profile `pname` of container `name`: in the spirit of
/// LXC's lxc-container-default-cgns with its generated parts.
pub(crate) fn profile_text(pname: &str, name: &str, nesting: bool, raw: &[&str]) -> String {
    let mut p = String::new();
    let mut line = |s: &str| {
        p.push_str(s);
        p.push('\n');
    };
    line(&format!(
        "# The AppArmor profile of container '{name}', generated by enclos (lxc.apparmor.profile = generated)."
    ));
    line("# Loaded while the container runs; rewritten at each start.");
    line(&format!(
        "profile {} flags=(attach_disconnected,mediate_deleted) {{",
        quoted(pname)
    ));
    for rule in [
        "  # What a system container does: files (but below), capabilities",
        "  # (what lxc.cap.* leaves), the network of its namespace.",
        "  capability,",
        "  dbus,",
        "  file,",
        "  network,",
        "  umount,",
        "",
        "  # Signals from anywhere; sent and traced only within the container.",
        "  signal (receive),",
        "  signal peer=@{profile_name},",
        "  ptrace (readby),",
        "  ptrace (tracedby),",
        "  ptrace peer=@{profile_name},",
        "",
        "  # The mounts of a system container's init: new mounts only (a rule",
        "  # with no options would allow binds and moves of anything too).",
        "  deny mount options=(ro, remount) -> /,",
        "  deny mount options=(ro, remount, silent) -> /,",
    ] {
        line(rule);
    }
    for (fstype, target) in [
        ("tmpfs", ""),
        ("mqueue", ""),
        ("devpts", ""),
        ("hugetlbfs", ""),
        ("fuse", ""),
        ("fuse.*", ""),
        ("binfmt_misc", " -> /proc/sys/fs/binfmt_misc/"),
        // proc and sysfs on /proc and /sys only, where the rules below hold.
        ("proc", " -> /proc/"),
        ("sysfs", " -> /sys/"),
        ("cgroup", " -> /sys/fs/cgroup/**"),
        ("cgroup2", " -> /sys/fs/cgroup/**"),
    ] {
        line(&format!(
            "  mount fstype={fstype} options in ({NEW_MOUNT}){target},"
        ));
    }
    for rule in [
        "  mount options=(rw, nosuid, nodev, noexec, remount) -> /sys/,",
        "  mount options=(ro, nosuid, nodev, noexec, remount, strictatime) -> /sys/fs/cgroup/,",
    ] {
        line(rule);
    }
    for kind in [
        "make-slave",
        "make-rslave",
        "make-shared",
        "make-rshared",
        "make-private",
        "make-rprivate",
        "make-unbindable",
        "make-runbindable",
    ] {
        line(&format!("  mount options=(rw,{kind}) -> **,"));
    }
    // No `options=(ro,remount,bind) -> PATH` (LXC has it): apparmor_parser
    // makes it a bind of any source onto PATH, /proc included.
    line("  # Bind mounts and moves of anything but /proc, /sys and /dev.");
    for path in NOT_PROC_SYS_DEV {
        line(&format!("  mount options=(rw,bind) {path},"));
        line(&format!("  mount options=(rw,rbind) {path},"));
        line(&format!("  mount options=(rw,move) {path},"));
    }
    line("");
    line("  # The host's kernel, seen through /proc and /sys: not writable.");
    for rule in [
        "  deny /proc/sysrq-trigger rwklx,",
        "  deny /proc/kcore rwklx,",
        "  deny /proc/mem rwklx,",
        "  deny /proc/kmem rwklx,",
        "  deny /proc/acpi/** rwklx,",
        "  deny /proc/sys/fs/binfmt_misc/{,**} wklx,",
    ] {
        line(rule);
    }
    for path in PROC_SYS_DENIED.iter().chain(SYS_DENIED) {
        line(&format!("  deny {path} wklx,"));
    }
    for rule in [
        "  deny /sys/firmware/{,**} rwklx,",
        "  deny /sys/kernel/security/{,**} rwklx,",
        "  deny /sys/kernel/debug/{,**} rwklx,",
        "  deny /sys/kernel/tracing/{,**} rwklx,",
        "  # No pivot_root nor change of profile: no rule allows them.",
    ] {
        line(rule);
    }
    if nesting {
        for rule in [
            "",
            "  # lxc.apparmor.allow_nesting: containers inside this one.",
            "  pivot_root,",
            "  mount fstype=proc,",
            "  mount fstype=sysfs,",
            "  mount fstype=cgroup,",
            "  mount fstype=cgroup2,",
            "  mount options=(rw,bind),",
            "  mount options=(rw,rbind),",
        ] {
            line(rule);
        }
    }
    if !raw.is_empty() {
        line("");
        line("  # lxc.apparmor.raw");
        for r in raw {
            line(&format!("  {}", r.trim()));
        }
    }
    line("}");
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        Config::parse_str(text, Path::new("/c/config")).unwrap()
    }

    fn host() -> Host {
        Host {
            enabled: true,
            mounts_mediated: true,
            current: "unconfined".into(),
            parser: Some(PathBuf::from("/sbin/apparmor_parser")),
            loaded: vec!["lxc-container-default-cgns".into()],
            root: true,
        }
    }

    fn decide_in(text: &str, host: &Host) -> std::result::Result<Profile, String> {
        decide(&cfg(text), "c1", Path::new("/var/lib/lxc"), host)
    }

    #[test]
    fn root_gets_the_generated_profile_by_default() {
        let p = decide_in("lxc.uts.name = c1\n", &host()).unwrap();
        let Profile::Generated { name, text, parser } = &p else {
            panic!("{p:?}")
        };
        assert_eq!(name, "lxc-c1_</var/lib/lxc>");
        assert_eq!(parser, Path::new("/sbin/apparmor_parser"));
        assert!(
            text.contains(
                "profile \"lxc-c1_</var/lib/lxc>\" flags=(attach_disconnected,mediate_deleted) {"
            ),
            "{text}"
        );
        assert_eq!(p.exec_label(), Some("lxc-c1_</var/lib/lxc>"));
        let explicit = decide_in("lxc.apparmor.profile = generated\n", &host()).unwrap();
        assert_eq!(explicit, p);
    }

    #[test]
    fn unconfined_unchanged_and_no_apparmor_change_nothing() {
        for text in [
            "lxc.apparmor.profile = unconfined\n",
            "lxc.apparmor.profile = unchanged\n",
        ] {
            assert_eq!(decide_in(text, &host()).unwrap(), Profile::Unchanged);
        }
        let off = Host {
            enabled: false,
            ..host()
        };
        assert_eq!(
            decide_in("lxc.apparmor.profile = generated\n", &off).unwrap(),
            Profile::Unchanged
        );
        // Confined already, unconfined is asked for.
        let confined = Host {
            current: "lxc-outer_</var/lib/lxc>".into(),
            ..host()
        };
        assert_eq!(
            decide_in("lxc.apparmor.profile = unconfined\n", &confined).unwrap(),
            Profile::Named("unconfined".into())
        );
        // ... and unset: the container inherits the label, as with LXC.
        assert_eq!(decide_in("", &confined).unwrap(), Profile::Unchanged);
    }

    #[test]
    fn a_user_keeps_its_label_unless_it_names_a_loaded_profile() {
        let user = Host {
            root: false,
            ..host()
        };
        assert_eq!(decide_in("", &user).unwrap(), Profile::Unchanged);
        let e = decide_in("lxc.apparmor.profile = generated\n", &user).unwrap_err();
        assert_eq!(e, "lxc.apparmor.profile = generated at /c/config:1: loading a generated AppArmor profile needs root; set lxc.apparmor.profile to the name of a profile root has loaded, or to unchanged to run under your own confinement");
        assert_eq!(
            decide_in("lxc.apparmor.profile = lxc-container-default-cgns\n", &user).unwrap(),
            Profile::Named("lxc-container-default-cgns".into())
        );
    }

    #[test]
    fn a_named_profile_must_be_loaded() {
        let e = decide_in("lxc.apparmor.profile = nosuch\n", &host()).unwrap_err();
        assert!(
            e.starts_with("lxc.apparmor.profile = nosuch at /c/config:1: the host has no AppArmor profile 'nosuch' loaded"),
            "{e}"
        );
    }

    #[test]
    fn no_parser_is_one_error_saying_what_to_install() {
        let h = Host {
            parser: None,
            ..host()
        };
        let e = decide_in("", &h).unwrap_err();
        assert_eq!(e, "this host runs AppArmor and lxc.apparmor.profile unset asks for a generated profile, which enclos loads with apparmor_parser, not found: install it (apt-get install apparmor), or set lxc.apparmor.profile = unconfined to run the container unconfined");
        // Unconfined needs no parser.
        assert_eq!(
            decide_in("lxc.apparmor.profile = unconfined\n", &h).unwrap(),
            Profile::Unchanged
        );
    }

    #[test]
    fn no_mount_mediation_needs_allow_incomplete() {
        let h = Host {
            mounts_mediated: false,
            ..host()
        };
        let e = decide_in("", &h).unwrap_err();
        assert!(e.contains("set lxc.apparmor.allow_incomplete = 1"), "{e}");
        let p = decide_in("lxc.apparmor.allow_incomplete = 1\n", &h).unwrap();
        assert!(matches!(p, Profile::Generated { .. }), "{p:?}");
    }

    #[test]
    fn the_generated_profile_denies_what_escapes() {
        let text = profile_text("lxc-c1_</l>", "c1", false, &[]);
        for rule in [
            "  deny /proc/sysrq-trigger rwklx,",
            "  deny /proc/sys/kernel/{?,??,[^s][^h][^m]**} wklx,",
            "  deny /proc/sys/[^kn]*{,/**} wklx,",
            "  deny /sys/[^f]*{,/**} wklx,",
            "  deny /sys/firmware/{,**} rwklx,",
            "  deny /sys/kernel/security/{,**} rwklx,",
            "  mount options=(rw,bind) /[^spd]*{,/**},",
            "  signal peer=@{profile_name},",
        ] {
            assert!(text.lines().any(|l| l == rule), "no '{rule}' in\n{text}");
        }
        for rule in [
            format!("  mount fstype=proc options in ({NEW_MOUNT}) -> /proc/,"),
            format!("  mount fstype=sysfs options in ({NEW_MOUNT}) -> /sys/,"),
            format!("  mount fstype=tmpfs options in ({NEW_MOUNT}),"),
        ] {
            assert!(text.lines().any(|l| l == rule), "no '{rule}' in\n{text}");
        }
        // A mount rule with no options allows binds and moves too.
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("  mount fstype=") && !l.contains(" options in (")),
            "{text}"
        );
        // proc and sysfs elsewhere, pivot_root, and binds of /proc: no
        // rule allows them.
        assert!(!text.contains("pivot_root,"), "{text}");
        assert!(!text.lines().any(|l| l.trim() == "mount fstype=proc,"));
        assert!(!text.contains("remount,bind"), "{text}");
        for dir in ["/proc/", "/sys/", "/dev/"] {
            assert!(!text.contains(&format!("bind) {dir}")), "{dir}: {text}");
        }
        assert_eq!(text.matches('{').count(), text.matches('}').count());
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn nesting_and_raw_lines_extend_it() {
        let text = profile_text("p", "c1", true, &["deny /secret rw,", " mount fstype=nfs,"]);
        assert!(text.lines().any(|l| l == "  pivot_root,"), "{text}");
        assert!(text.lines().any(|l| l == "  mount fstype=proc,"), "{text}");
        assert!(text.contains("  # lxc.apparmor.raw\n  deny /secret rw,\n  mount fstype=nfs,\n}\n"));
    }

    #[test]
    fn names_and_labels() {
        assert_eq!(
            generated_name("web", Path::new("/srv/c")),
            "lxc-web_</srv/c>"
        );
        assert_eq!(file_name("lxc-web_</srv/c>"), "lxc-web_<-srv-c>");
        assert_eq!(strip_mode("lxc-web_</srv/c> (enforce)"), "lxc-web_</srv/c>");
        assert_eq!(strip_mode("unconfined"), "unconfined");
        assert_eq!(quoted("a\"b"), "\"a\\\"b\"");
    }
}
