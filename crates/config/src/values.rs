//! Values of the typed keys: their parsers, and the types the container
//! crate gets from [`Config`](crate::Config)'s accessors.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use serde::Serialize;

use crate::error::Origin;
use crate::keys::Kind;
use enclos_idmap::IdMap;

/// Checks a non-empty value against the kind of its key; the error is what
/// was expected.
pub(crate) fn check(kind: Kind, value: &str) -> Result<(), String> {
    match kind {
        Kind::Text | Kind::Include => Ok(()),
        Kind::Path => Ok(()),
        Kind::AbsPath => abs_path(value),
        Kind::Bool => parse_bool(value).map(drop),
        Kind::Uint => parse_uint(value).map(drop),
        Kind::Int => value
            .parse::<i32>()
            .map(drop)
            .map_err(|_| "an integer".to_string()),
        Kind::Signal => parse_signal(value).map(drop),
        Kind::SignalOrZero => {
            if value == "0" {
                Ok(())
            } else {
                parse_signal(value).map(drop)
            }
        }
        Kind::Arch => parse_personality(value).map(drop),
        Kind::UtsName => uts_name(value),
        Kind::TtyDir => tty_dir(value),
        Kind::LogLevel => LogLevel::parse(value).map(drop),
        Kind::SyslogFacility => syslog_facility(value),
        Kind::Size => size(value),
        Kind::RootfsPath => Rootfs::parse(value, Vec::new()).map(drop),
        Kind::MountEntry => MountEntry::parse(value, Origin::new("", 0)).map(drop),
        Kind::MountAuto => MountAuto::default().apply(value),
        Kind::Caps => parse_caps(value, false).map(drop),
        Kind::CapsKeep => parse_caps(value, true).map(drop),
        Kind::IdMap => IdMap::parse(value).map(drop),
        Kind::Environment => parse_environment(value).map(drop),
        Kind::Command => split_command(value).map(drop),
        Kind::Names => Ok(()),
        Kind::Namespaces => namespaces(value),
        Kind::TimeOffset => time_offset(value),
        Kind::Prlimit => prlimit(value),
        Kind::Clear(_) => Err("no value (this key only clears earlier settings)".to_string()),
        Kind::NetType => NetType::parse(value).map(drop),
        Kind::NetFlags => match value {
            "up" => Ok(()),
            _ => Err("'up'".to_string()),
        },
        Kind::IfName => if_name(value),
        Kind::Hwaddr => hwaddr(value),
        Kind::Mtu => parse_uint(value).map(drop),
        Kind::Ipv4Address => ipv4_address(value),
        Kind::Ipv6Address => ipv6_address(value),
        Kind::Ipv4Gateway => gateway(value, |a| a.parse::<Ipv4Addr>().is_ok(), "an IPv4 address"),
        Kind::Ipv6Gateway => gateway(value, |a| a.parse::<Ipv6Addr>().is_ok(), "an IPv6 address"),
        Kind::Ipv4Route => route(
            value,
            |a| a.parse::<Ipv4Addr>().is_ok(),
            32,
            "an IPv4 route x.y.z.t/m",
        ),
        Kind::Ipv6Route => route(
            value,
            |a| a.parse::<Ipv6Addr>().is_ok(),
            128,
            "an IPv6 route x::y/m",
        ),
        Kind::VethMode => one_of(value, &["bridge", "router"]),
        Kind::MacvlanMode => one_of(value, &["private", "vepa", "bridge", "passthru"]),
        Kind::IpvlanMode => one_of(value, &["l3", "l3s", "l2"]),
        Kind::IpvlanIsolation => one_of(value, &["bridge", "private", "vepa"]),
        Kind::VlanId => vlan_id(value),
        Kind::VethVlanId => {
            if value == "none" {
                Ok(())
            } else {
                vlan_id(value)
            }
        }
    }
}

fn one_of(value: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(format!("one of {}", allowed.join(", ")))
    }
}

fn abs_path(value: &str) -> Result<(), String> {
    if value.starts_with('/') {
        Ok(())
    } else {
        Err("an absolute path".to_string())
    }
}

pub(crate) fn parse_bool(value: &str) -> Result<bool, String> {
    match value {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err("0 or 1".to_string()),
    }
}

pub(crate) fn parse_uint(value: &str) -> Result<u32, String> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err("an unsigned integer".to_string());
    }
    value
        .parse::<u32>()
        .map_err(|_| "an unsigned integer".to_string())
}

fn uts_name(value: &str) -> Result<(), String> {
    if value.len() > 64 {
        Err("a host name of at most 64 bytes".to_string())
    } else {
        Ok(())
    }
}

fn tty_dir(value: &str) -> Result<(), String> {
    let ok = !value.starts_with('/') && value.len() <= 255 && value.split('/').all(|c| c != "..");
    if ok {
        Ok(())
    } else {
        Err("a directory name under /dev, e.g. 'lxc'".to_string())
    }
}

fn syslog_facility(value: &str) -> Result<(), String> {
    const FACILITIES: &[&str] = &[
        "daemon", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
    ];
    one_of(value, FACILITIES)
}

fn size(value: &str) -> Result<(), String> {
    parse_size(value).map(drop)
}

/// A size as LXC's console keys write it: bytes with an optional KB, MB
/// or GB suffix (any case; multiples of 1024), or `auto` (128 KiB).
pub(crate) fn parse_size(value: &str) -> Result<u64, String> {
    if value == "auto" {
        return Ok(128 * 1024);
    }
    let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = value[digits.len()..].to_ascii_lowercase();
    let unit: u64 = match suffix.as_str() {
        "" | "b" => 1,
        "kb" => 1 << 10,
        "mb" => 1 << 20,
        "gb" => 1 << 30,
        _ => 0,
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|_| unit != 0)
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(|| "'auto' or a size such as 128KB, 1MB".to_string())
}

fn namespaces(value: &str) -> Result<(), String> {
    const NAMES: &[&str] = &[
        "cgroup", "ipc", "mnt", "mount", "net", "pid", "time", "user", "uts",
    ];
    if value.split_whitespace().all(|n| NAMES.contains(&n)) {
        Ok(())
    } else {
        Err(format!("namespace names among {}", NAMES.join(", ")))
    }
}

fn time_offset(value: &str) -> Result<(), String> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    let number = digits.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &digits[number.len()..];
    let ok = !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && matches!(unit, "h" | "m" | "s" | "ms" | "us" | "ns");
    if ok {
        Ok(())
    } else {
        Err("an offset such as 10s, -5m (units h, m, s, ms, us, ns)".to_string())
    }
}

fn prlimit(value: &str) -> Result<(), String> {
    let limit = |s: &str| s == "unlimited" || s.parse::<u64>().is_ok();
    let ok = match value.split_once(':') {
        Some((soft, hard)) => limit(soft.trim()) && limit(hard.trim()),
        None => limit(value),
    };
    if ok {
        Ok(())
    } else {
        Err("LIMIT or SOFT:HARD, each a number or 'unlimited'".to_string())
    }
}

fn if_name(value: &str) -> Result<(), String> {
    if value.len() < 16 && !value.contains('/') && !value.contains(char::is_whitespace) {
        Ok(())
    } else {
        Err("an interface name of at most 15 bytes".to_string())
    }
}

fn hwaddr(value: &str) -> Result<(), String> {
    let parts: Vec<&str> = value.split(':').collect();
    let ok = parts.len() == 6
        && parts.iter().all(|p| {
            p.len() == 2
                && p.chars()
                    .all(|c| c.is_ascii_hexdigit() || c == 'x' || c == 'X')
        });
    if ok {
        Ok(())
    } else {
        Err("a MAC address such as 00:16:3e:xx:xx:xx".to_string())
    }
}

fn prefixed(value: &str, valid_address: impl Fn(&str) -> bool, max_prefix: u8) -> bool {
    let (address, prefix) = match value.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (value, None),
    };
    valid_address(address) && prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|p| p <= max_prefix))
}

fn ipv4_address(value: &str) -> Result<(), String> {
    let mut fields = value.split_whitespace();
    let address = fields.next().unwrap_or("");
    let broadcast = fields.next();
    let ok = prefixed(address, |a| a.parse::<Ipv4Addr>().is_ok(), 32)
        && broadcast.is_none_or(|b| b.parse::<Ipv4Addr>().is_ok())
        && fields.next().is_none();
    if ok {
        Ok(())
    } else {
        Err("an IPv4 address x.y.z.t/m, optionally followed by a broadcast address".to_string())
    }
}

fn ipv6_address(value: &str) -> Result<(), String> {
    if prefixed(value, |a| a.parse::<Ipv6Addr>().is_ok(), 128) {
        Ok(())
    } else {
        Err("an IPv6 address x::y/m".to_string())
    }
}

fn gateway(value: &str, valid: impl Fn(&str) -> bool, what: &str) -> Result<(), String> {
    if value == "auto" || value == "dev" || valid(value) {
        Ok(())
    } else {
        Err(format!("{what}, 'auto' or 'dev'"))
    }
}

fn route(
    value: &str,
    valid: impl Fn(&str) -> bool,
    max_prefix: u8,
    what: &str,
) -> Result<(), String> {
    if value.contains('/') && prefixed(value, valid, max_prefix) {
        Ok(())
    } else {
        Err(what.to_string())
    }
}

fn vlan_id(value: &str) -> Result<(), String> {
    match value.parse::<u16>() {
        Ok(id) if (1..=4094).contains(&id) => Ok(()),
        _ => Err("a VLAN id from 1 to 4094".to_string()),
    }
}

// ---------------------------------------------------------------------------
// Signals

/// Signal names and numbers of Linux on the common architectures (x86,
/// arm, arm64, riscv, powerpc, s390).
#[rustfmt::skip]
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1), ("INT", 2), ("QUIT", 3), ("ILL", 4), ("TRAP", 5), ("ABRT", 6), ("IOT", 6),
    ("BUS", 7), ("FPE", 8), ("KILL", 9), ("USR1", 10), ("SEGV", 11), ("USR2", 12),
    ("PIPE", 13), ("ALRM", 14), ("TERM", 15), ("STKFLT", 16), ("CHLD", 17), ("CLD", 17),
    ("CONT", 18), ("STOP", 19), ("TSTP", 20), ("TTIN", 21), ("TTOU", 22), ("URG", 23),
    ("XCPU", 24), ("XFSZ", 25), ("VTALRM", 26), ("PROF", 27), ("WINCH", 28), ("IO", 29),
    ("POLL", 29), ("PWR", 30), ("SYS", 31),
];

/// SIGRTMIN as the C library reports it (glibc keeps 32 and 33 for itself).
pub const SIGRTMIN: i32 = 34;
/// SIGRTMAX.
pub const SIGRTMAX: i32 = 64;

pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGPWR: i32 = 30;

const SIGNAL_EXPECTED: &str = "a signal name (SIGPWR, PWR, SIGRTMIN+3) or number from 1 to 64";

/// Parses a signal the way kill(1) writes it: a number, a name with or
/// without `SIG` (any case), or `RTMIN+n` / `RTMAX-n`.
pub fn parse_signal(value: &str) -> Result<i32, String> {
    let expected = || SIGNAL_EXPECTED.to_string();
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return match value.parse::<i32>() {
            Ok(n) if (1..=SIGRTMAX).contains(&n) => Ok(n),
            _ => Err(expected()),
        };
    }
    let upper = value.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return realtime(SIGRTMIN, rest).ok_or_else(expected);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return realtime(SIGRTMAX, rest).ok_or_else(expected);
    }
    SIGNALS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, number)| *number)
        .ok_or_else(expected)
}

fn realtime(base: i32, offset: &str) -> Option<i32> {
    let number = if offset.is_empty() {
        base
    } else if let Some(n) = offset.strip_prefix('+') {
        base + n.parse::<u8>().ok()? as i32
    } else if let Some(n) = offset.strip_prefix('-') {
        base - n.parse::<u8>().ok()? as i32
    } else {
        return None;
    };
    (SIGRTMIN..=SIGRTMAX).contains(&number).then_some(number)
}

// ---------------------------------------------------------------------------
// Capabilities

/// Normalizes one capability: `CAP_SYS_ADMIN`, `sys_admin` and `21` are
/// all `sys_admin`. The table of names and numbers is the `caps` crate's,
/// the one enclos-namespaces drops them with: a name or number it does not
/// know is an error here, at load, rather than at start.
pub fn parse_capability(token: &str) -> Result<String, String> {
    let cap = match token.parse::<u8>() {
        Ok(n) => caps::all().into_iter().find(|c| c.index() == n),
        Err(_) => caps::to_canonical(token).parse::<caps::Capability>().ok(),
    };
    cap.map(|c| {
        let name = c.to_string();
        name.strip_prefix("CAP_").unwrap_or(&name).to_ascii_lowercase()
    })
    .ok_or_else(|| {
        format!(
            "capability names without CAP_ as in capabilities(7), e.g. sys_module mknod ('{token}' is not one)"
        )
    })
}

/// The capabilities of one line; for `lxc.cap.keep`, `none` is `None`
/// (it clears what came before).
pub(crate) fn parse_caps(value: &str, allow_none: bool) -> Result<Vec<Option<String>>, String> {
    value
        .split_whitespace()
        .map(|token| {
            if allow_none && token == "none" {
                Ok(None)
            } else {
                parse_capability(token).map(Some)
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Environment, commands

pub(crate) fn parse_environment(value: &str) -> Result<(String, Option<String>), String> {
    let (name, val) = match value.split_once('=') {
        Some((name, val)) => (name, Some(val.to_string())),
        None => (value, None),
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err("NAME=VALUE, or NAME to pass the host's value".to_string());
    }
    Ok((name.to_string(), val))
}

/// Splits a command line into words like a POSIX shell does, without
/// expansions: blanks separate words, `'...'` is literal, `"..."` keeps
/// blanks and takes `\"`, `\\`, `\$` and `` \` `` as escapes, and outside
/// quotes a backslash escapes the next character.
pub fn split_command(value: &str) -> Result<Vec<String>, String> {
    let unbalanced = || "a command line with balanced quotes".to_string();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(unbalanced()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(unbalanced()),
                        },
                        Some(c) => word.push(c),
                        None => return Err(unbalanced()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => {
                        return Err(
                            "a command line that does not end with a lone backslash".to_string()
                        )
                    }
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        return Err("a command".to_string());
    }
    Ok(words)
}

// ---------------------------------------------------------------------------
// Architecture, log level

/// The execution domain an `lxc.arch` value asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Personality {
    /// A 32-bit userland (`i686`, `armhf`, ...): personality(PER_LINUX32).
    Linux32,
    /// The native 64-bit domain.
    Linux,
}

#[rustfmt::skip]
const ARCHES: &[(&str, Personality)] = &[
    ("arm", Personality::Linux32), ("armel", Personality::Linux32), ("armhf", Personality::Linux32),
    ("armv7l", Personality::Linux32), ("athlon", Personality::Linux32), ("i386", Personality::Linux32),
    ("i486", Personality::Linux32), ("i586", Personality::Linux32), ("i686", Personality::Linux32),
    ("linux32", Personality::Linux32), ("mips", Personality::Linux32), ("mipsel", Personality::Linux32),
    ("ppc", Personality::Linux32), ("powerpc", Personality::Linux32), ("x86", Personality::Linux32),
    ("aarch64", Personality::Linux), ("amd64", Personality::Linux), ("arm64", Personality::Linux),
    ("linux64", Personality::Linux), ("mips64", Personality::Linux), ("mips64el", Personality::Linux),
    ("ppc64", Personality::Linux), ("ppc64el", Personality::Linux), ("ppc64le", Personality::Linux),
    ("powerpc64", Personality::Linux), ("s390x", Personality::Linux), ("x86_64", Personality::Linux),
];

pub(crate) fn parse_personality(value: &str) -> Result<Personality, String> {
    ARCHES
        .iter()
        .find(|(name, _)| *name == value)
        .map(|(_, p)| *p)
        .ok_or_else(|| "an architecture such as x86_64, amd64, i686, x86, arm64, armhf".to_string())
}

/// LXC's log levels, 0 (trace) to 8 (fatal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Notice = 3,
    Warn = 4,
    Error = 5,
    Crit = 6,
    Alert = 7,
    Fatal = 8,
}

impl LogLevel {
    const ALL: [LogLevel; 9] = [
        LogLevel::Trace,
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Notice,
        LogLevel::Warn,
        LogLevel::Error,
        LogLevel::Crit,
        LogLevel::Alert,
        LogLevel::Fatal,
    ];

    /// The name LXC prints (`TRACE` ... `FATAL`).
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Notice => "NOTICE",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
            LogLevel::Crit => "CRIT",
            LogLevel::Alert => "ALERT",
            LogLevel::Fatal => "FATAL",
        }
    }

    /// A number 0-8 or a name, in any case.
    pub fn parse(value: &str) -> Result<LogLevel, String> {
        let by_number = value
            .parse::<usize>()
            .ok()
            .and_then(|n| LogLevel::ALL.get(n).copied());
        by_number
            .or_else(|| {
                LogLevel::ALL
                    .into_iter()
                    .find(|l| l.name().eq_ignore_ascii_case(value))
            })
            .ok_or_else(|| {
                "a level from 0 to 8 or TRACE, DEBUG, INFO, NOTICE, WARN, ERROR, CRIT, ALERT, FATAL"
                    .to_string()
            })
    }
}

// ---------------------------------------------------------------------------
// Root file system

/// The storage backends LXC knows as `lxc.rootfs.path` prefixes: the
/// storage crate's list.
pub use enclos_storage::BACKEND_NAMES as ROOTFS_BACKENDS;

/// `lxc.rootfs.path` split into its backend and the rest, and
/// `lxc.rootfs.options`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rootfs {
    /// `dir` for a plain path; `overlay` for `overlay:` and `overlayfs:`.
    pub backend: String,
    /// What follows the prefix: `/lower:/upper` for overlay, the path or
    /// device otherwise.
    pub path: String,
    /// `lxc.rootfs.options`, split at commas.
    pub options: Vec<String>,
}

impl Rootfs {
    pub fn parse(value: &str, options: Vec<String>) -> Result<Rootfs, String> {
        if value.starts_with('/') {
            return Ok(Rootfs {
                backend: "dir".to_string(),
                path: value.to_string(),
                options,
            });
        }
        let expected = || {
            format!(
                "an absolute path, or BACKEND:PATH with BACKEND one of {}",
                ROOTFS_BACKENDS.join(", ")
            )
        };
        let (backend, rest) = value.split_once(':').ok_or_else(expected)?;
        if !ROOTFS_BACKENDS.contains(&backend) || rest.is_empty() {
            return Err(expected());
        }
        let needs_absolute = matches!(
            backend,
            "dir" | "overlay" | "overlayfs" | "btrfs" | "loop" | "lvm"
        );
        if needs_absolute && !rest.starts_with('/') {
            return Err(format!("an absolute path after '{backend}:'"));
        }
        let backend = if backend == "overlayfs" {
            "overlay"
        } else {
            backend
        };
        Ok(Rootfs {
            backend: backend.to_string(),
            path: rest.to_string(),
            options,
        })
    }

    /// Whether `lxc.rootfs.options` makes the container's root read-only:
    /// `ro`, unless a later `rw` takes it back.
    pub fn read_only(&self) -> bool {
        self.options
            .iter()
            .rev()
            .find(|o| *o == "ro" || *o == "rw")
            .is_some_and(|o| o == "ro")
    }

    /// Whether a value already starts with a backend prefix.
    pub(crate) fn has_backend_prefix(value: &str) -> bool {
        !value.starts_with('/')
            && value
                .split_once(':')
                .is_some_and(|(backend, _)| ROOTFS_BACKENDS.contains(&backend))
    }
}

// ---------------------------------------------------------------------------
// Mounts

/// What `create=` asks for a missing mount target.
pub use enclos_mounts::Create as MountCreate;
use enclos_mounts::{FstabEntry, FstabError};

/// One `lxc.mount.entry` (or one line of `lxc.mount.fstab`), in fstab
/// syntax: `source target fstype [options [dump [pass]]]`, and where it
/// was written. The target is as written: a relative target is relative to
/// the container's root (the rootfs mount point); see
/// [`MountEntry::target_in_rootfs`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountEntry {
    /// The line, read by enclos-mounts (the parser the rootfs set-up uses).
    #[serde(flatten)]
    pub fstab: FstabEntry,
    pub origin: Origin,
}

impl MountEntry {
    pub fn parse(value: &str, origin: Origin) -> Result<MountEntry, String> {
        let fstab = FstabEntry::parse(value).map_err(|e| match e {
            FstabError::BadCreate => "create=dir or create=file among the options".to_string(),
            _ => "SOURCE TARGET FSTYPE [OPTIONS [DUMP [PASS]]]".to_string(),
        })?;
        Ok(MountEntry { fstab, origin })
    }

    /// The target as a path inside the container's root, as LXC resolves
    /// it: a relative target as is; an absolute one only when it lies under
    /// the rootfs path (`rootfs_path`, e.g. `/var/lib/enclos/c1/rootfs`),
    /// with that prefix taken off. `None` for an absolute target elsewhere
    /// (LXC ignores such an entry with a warning).
    ///
    /// The rootfs may be reached through symbolic links (an lxcpath that is
    /// a link to the real directory) and the target written through the
    /// real path, or the other way round: when the paths differ as written,
    /// the target's leading directories are resolved on the host, and the
    /// shortest one that is the rootfs directory itself marks where the
    /// path inside the container starts. What follows it is kept as
    /// written: links inside the rootfs are the mount's business.
    pub fn target_in_rootfs(&self, rootfs_path: &Path) -> Option<String> {
        if !self.fstab.target.starts_with('/') {
            return Some(self.fstab.target.clone());
        }
        let target = Path::new(&self.fstab.target);
        if let Ok(rest) = target.strip_prefix(rootfs_path) {
            return Some(rest.to_string_lossy().into_owned());
        }
        let rootfs = std::fs::canonicalize(rootfs_path).ok()?;
        let base = target
            .ancestors()
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .find(|dir| std::fs::canonicalize(dir).is_ok_and(|real| real == rootfs))?;
        let rest = target.strip_prefix(base).ok()?;
        Some(rest.to_string_lossy().into_owned())
    }
}

/// How `/proc` is mounted by `lxc.mount.auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcMode {
    /// `proc` or `proc:mixed`: read-write, with /proc/sys and
    /// /proc/sysrq-trigger read-only.
    Mixed,
    /// `proc:rw`.
    Rw,
}

/// How `/sys` is mounted by `lxc.mount.auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SysMode {
    /// `sys:ro`.
    Ro,
    /// `sys:rw`.
    Rw,
    /// `sys` or `sys:mixed`: read-only but /sys/devices/virtual/net.
    Mixed,
}

/// The access asked for the cgroup mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CgroupMode {
    /// No specifier: `rw` if the container keeps CAP_SYS_ADMIN, `mixed`
    /// otherwise.
    Default,
    Mixed,
    Ro,
    Rw,
}

/// `cgroup[:mode][:force]` or `cgroup-full[:mode][:force]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CgroupAuto {
    /// `cgroup-full`: the host's whole hierarchies, not only the
    /// container's own cgroup.
    pub full: bool,
    pub mode: CgroupMode,
    /// `:force`: mount even when the container has a cgroup namespace.
    pub force: bool,
}

/// `shmounts:HOST[:CONTAINER]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedMounts {
    pub host: String,
    /// `/dev/.lxc-mounts` unless given.
    pub container: String,
}

/// What `lxc.mount.auto` asks to mount. Each line adds to the previous
/// ones; a later `proc:...`, `sys:...` or `cgroup...` replaces an earlier
/// one of the same file system, and an empty value clears all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MountAuto {
    pub proc: Option<ProcMode>,
    pub sys: Option<SysMode>,
    pub cgroup: Option<CgroupAuto>,
    pub shmounts: Option<SharedMounts>,
}

impl MountAuto {
    /// Applies one line of `lxc.mount.auto`.
    pub fn apply(&mut self, value: &str) -> Result<(), String> {
        for token in value.split_whitespace() {
            self.apply_token(token).map_err(|_| {
                format!(
                    "proc[:mixed|:rw], sys[:ro|:rw|:mixed], cgroup[:mixed|:ro|:rw][:force], \
                     cgroup-full[:mixed|:ro|:rw][:force] or shmounts:HOST[:CONTAINER] ('{token}' is none of them)"
                )
            })?;
        }
        Ok(())
    }

    fn apply_token(&mut self, token: &str) -> Result<(), ()> {
        if let Some(rest) = token.strip_prefix("shmounts:") {
            let (host, container) = match rest.split_once(':') {
                Some((host, container)) if !container.is_empty() => (host, container),
                Some((host, _)) => (host, "/dev/.lxc-mounts"),
                None => (rest, "/dev/.lxc-mounts"),
            };
            if host.is_empty() {
                return Err(());
            }
            self.shmounts = Some(SharedMounts {
                host: host.to_string(),
                container: container.to_string(),
            });
            return Ok(());
        }
        let (fs, spec) = token.split_once(':').unwrap_or((token, ""));
        match (fs, spec) {
            ("proc", "" | "mixed") => self.proc = Some(ProcMode::Mixed),
            ("proc", "rw") => self.proc = Some(ProcMode::Rw),
            ("sys", "" | "mixed") => self.sys = Some(SysMode::Mixed),
            ("sys", "ro") => self.sys = Some(SysMode::Ro),
            ("sys", "rw") => self.sys = Some(SysMode::Rw),
            ("cgroup" | "cgroup-full", spec) => {
                let (mode, force) = match spec.split_once(':') {
                    Some((mode, "force")) => (mode, true),
                    Some(_) => return Err(()),
                    None if spec == "force" => ("", true),
                    None => (spec, false),
                };
                let mode = match mode {
                    "" => CgroupMode::Default,
                    "mixed" => CgroupMode::Mixed,
                    "ro" => CgroupMode::Ro,
                    "rw" => CgroupMode::Rw,
                    _ => return Err(()),
                };
                self.cgroup = Some(CgroupAuto {
                    full: fs == "cgroup-full",
                    mode,
                    force,
                });
            }
            _ => return Err(()),
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Networks, cgroups

/// `lxc.net.N.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetType {
    /// Only a loopback interface, in a new network namespace.
    Empty,
    /// The host's network namespace.
    None,
    Veth,
    Macvlan,
    Ipvlan,
    Phys,
    Vlan,
}

impl NetType {
    pub fn parse(value: &str) -> Result<NetType, String> {
        Ok(match value {
            "empty" => NetType::Empty,
            "none" => NetType::None,
            "veth" => NetType::Veth,
            "macvlan" => NetType::Macvlan,
            "ipvlan" => NetType::Ipvlan,
            "phys" => NetType::Phys,
            "vlan" => NetType::Vlan,
            _ => return Err("one of empty, none, veth, macvlan, ipvlan, phys, vlan".to_string()),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            NetType::Empty => "empty",
            NetType::None => "none",
            NetType::Veth => "veth",
            NetType::Macvlan => "macvlan",
            NetType::Ipvlan => "ipvlan",
            NetType::Phys => "phys",
            NetType::Vlan => "vlan",
        }
    }
}

/// One `lxc.net.N.<key>` other than `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetSetting {
    /// The key after the index: `link`, `ipv4.address`, ...
    pub key: String,
    pub value: String,
    pub origin: Origin,
}

/// One network of the container: the `lxc.net.N.*` keys of one index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Net {
    pub index: u32,
    pub net_type: NetType,
    /// Where `type` was set.
    pub origin: Origin,
    /// The other keys, in order (list keys may appear several times).
    pub settings: Vec<NetSetting>,
}

impl Net {
    /// The last value of a sub-key (`link`, `name`, ...).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .rev()
            .find(|s| s.key == key)
            .map(|s| s.value.as_str())
    }

    /// Every value of a list sub-key (`ipv4.address`, ...).
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        self.settings
            .iter()
            .filter(|s| s.key == key)
            .map(|s| s.value.as_str())
            .collect()
    }

    /// `flags = up`.
    pub fn up(&self) -> bool {
        self.get("flags") == Some("up")
    }

    pub fn mtu(&self) -> Option<u32> {
        self.get("mtu").and_then(|v| parse_uint(v).ok())
    }
}

/// One `lxc.cgroup.*` (version 1) or `lxc.cgroup2.*` (version 2) line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupSetting {
    pub version: u8,
    /// The controller file: `devices.allow`, `memory.max`, ...
    pub key: String,
    pub value: String,
    pub origin: Origin,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("SIGPWR", 30)]
    #[case("PWR", 30)]
    #[case("sigpwr", 30)]
    #[case("SIGKILL", 9)]
    #[case("SIGUSR1", 10)]
    #[case("term", 15)]
    #[case("SIGRTMIN", 34)]
    #[case("SIGRTMIN+3", 37)]
    #[case("RTMIN+14", 48)]
    #[case("SIGRTMAX-10", 54)]
    #[case("SIGRTMAX", 64)]
    #[case("9", 9)]
    #[case("64", 64)]
    fn signals(#[case] value: &str, #[case] expected: i32) {
        assert_eq!(parse_signal(value), Ok(expected));
    }

    #[rstest]
    #[case("SIGFOO")]
    #[case("0")]
    #[case("65")]
    #[case("-1")]
    #[case("SIGRTMIN+40")]
    #[case("SIGRTMAX+1")]
    #[case("SIGRTMIN3")]
    #[case("SIG")]
    #[case("")]
    fn bad_signals(#[case] value: &str) {
        assert!(parse_signal(value).is_err(), "{value}");
    }

    #[test]
    fn console_sizes_in_bytes() {
        assert_eq!(parse_size("auto"), Ok(128 * 1024));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64kB"), Ok(64 * 1024));
        assert_eq!(parse_size("1MB"), Ok(1 << 20));
        assert!(parse_size("1TB").is_err());
        assert!(parse_size("MB").is_err());
    }

    #[rstest]
    #[case("sys_admin", "sys_admin")]
    #[case("CAP_SYS_ADMIN", "sys_admin")]
    #[case("SYS_MODULE", "sys_module")]
    #[case("21", "sys_admin")]
    #[case("40", "checkpoint_restore")]
    #[case("Cap_Net_Admin", "net_admin")]
    fn capabilities(#[case] token: &str, #[case] expected: &str) {
        assert_eq!(parse_capability(token).as_deref(), Ok(expected));
    }

    #[rstest]
    #[case("sys_admn")]
    #[case("45")]
    #[case("50")]
    #[case("64")]
    #[case("cap_")]
    #[case("")]
    #[case("none")]
    fn bad_capabilities(#[case] token: &str) {
        assert!(parse_capability(token).is_err());
    }

    #[rstest]
    #[case("/sbin/init", &["/sbin/init"])]
    #[case("  /bin/sh   -c   'echo hi; exit 0' ", &["/bin/sh", "-c", "echo hi; exit 0"])]
    #[case(r#"/bin/echo "a \"b\" c" d\ e"#, &["/bin/echo", r#"a "b" c"#, "d e"])]
    #[case(r#"x"y"'z'"#, &["xyz"])]
    #[case(r#"echo '' "" end"#, &["echo", "", "", "end"])]
    #[case(r#"printf "a\nb""#, &["printf", r"a\nb"])]
    fn command_splitting(#[case] value: &str, #[case] expected: &[&str]) {
        assert_eq!(split_command(value).unwrap(), expected);
    }

    #[rstest]
    #[case("/bin/sh -c 'unterminated")]
    #[case(r#"/bin/sh "open"#)]
    #[case(r"trailing\")]
    #[case("   ")]
    fn bad_commands(#[case] value: &str) {
        assert!(split_command(value).is_err());
    }

    #[rstest]
    #[case("/var/lib/enclos/c1/rootfs", "dir", "/var/lib/enclos/c1/rootfs")]
    #[case("dir:/var/lib/enclos/c1/rootfs", "dir", "/var/lib/enclos/c1/rootfs")]
    #[case("overlay:/lower:/upper", "overlay", "/lower:/upper")]
    #[case("overlayfs:/a:/b:/c", "overlay", "/a:/b:/c")]
    #[case(
        "btrfs:/var/lib/enclos/c1/rootfs",
        "btrfs",
        "/var/lib/enclos/c1/rootfs"
    )]
    #[case(
        "loop:/var/lib/enclos/c1/rootdev",
        "loop",
        "/var/lib/enclos/c1/rootdev"
    )]
    #[case("lvm:/dev/vg0/c1", "lvm", "/dev/vg0/c1")]
    #[case("zfs:tank/c1", "zfs", "tank/c1")]
    #[case("/with:colon", "dir", "/with:colon")]
    fn rootfs_paths(#[case] value: &str, #[case] backend: &str, #[case] path: &str) {
        let rootfs = Rootfs::parse(value, Vec::new()).unwrap();
        assert_eq!(
            (rootfs.backend.as_str(), rootfs.path.as_str()),
            (backend, path)
        );
    }

    #[rstest]
    #[case("relative/path")]
    #[case("foo:/x")]
    #[case("dir:")]
    #[case("dir:relative")]
    #[case("btrfs:x")]
    fn bad_rootfs_paths(#[case] value: &str) {
        assert!(Rootfs::parse(value, Vec::new()).is_err());
    }

    #[rstest]
    #[case(
        "shm dev/shm tmpfs defaults,create=dir 0 0",
        ("shm", "dev/shm", "tmpfs"), &["defaults"], Some(MountCreate::Dir), false, false
    )]
    #[case(
        "mqueue dev/mqueue mqueue defaults,optional,create=dir 0 0",
        ("mqueue", "dev/mqueue", "mqueue"), &["defaults"], Some(MountCreate::Dir), true, false
    )]
    #[case(
        "/lib lib none ro,bind 0 0",
        ("/lib", "lib", "none"), &["ro", "bind"], None, false, false
    )]
    #[case(
        "dev/null proc/kcore none bind,relative 0 0",
        ("dev/null", "proc/kcore", "none"), &["bind"], None, false, true
    )]
    #[case(
        "/etc/resolv.conf etc/resolv.conf none bind,create=file",
        ("/etc/resolv.conf", "etc/resolv.conf", "none"), &["bind"], Some(MountCreate::File), false, false
    )]
    #[case(
        r"/srv/My\040Files srv/files none bind",
        ("/srv/My Files", "srv/files", "none"), &["bind"], None, false, false
    )]
    #[case("proc proc proc", ("proc", "proc", "proc"), &["defaults"], None, false, false)]
    fn mount_entries(
        #[case] value: &str,
        #[case] fields: (&str, &str, &str),
        #[case] options: &[&str],
        #[case] create: Option<MountCreate>,
        #[case] optional: bool,
        #[case] relative: bool,
    ) {
        let entry = MountEntry::parse(value, Origin::new("config", 1))
            .unwrap()
            .fstab;
        assert_eq!(
            (
                entry.source.as_str(),
                entry.target.as_str(),
                entry.fstype.as_str()
            ),
            fields
        );
        assert_eq!(entry.options, options);
        assert_eq!(
            (entry.create, entry.optional, entry.relative),
            (create, optional, relative)
        );
    }

    #[rstest]
    #[case("proc proc")]
    #[case("a b c d 0 0 extra")]
    #[case("a b c d x 0")]
    #[case("a b c create=link")]
    fn bad_mount_entries(#[case] value: &str) {
        assert!(MountEntry::parse(value, Origin::new("config", 1)).is_err());
    }

    #[rstest]
    #[case(
        "sys/kernel/security",
        "/var/lib/enclos/c1/rootfs",
        Some("sys/kernel/security")
    )]
    #[case(
        "/var/lib/enclos/c1/rootfs/mnt/data",
        "/var/lib/enclos/c1/rootfs",
        Some("mnt/data")
    )]
    #[case("/mnt/data", "/var/lib/enclos/c1/rootfs", None)]
    fn mount_targets(#[case] target: &str, #[case] rootfs: &str, #[case] expected: Option<&str>) {
        let entry =
            MountEntry::parse(&format!("src {target} none bind"), Origin::new("", 0)).unwrap();
        assert_eq!(
            entry.target_in_rootfs(Path::new(rootfs)).as_deref(),
            expected
        );
    }

    #[rstest]
    #[case("", false)]
    #[case("ro", true)]
    #[case("rw", false)]
    #[case("nodev,ro,nosuid", true)]
    #[case("ro,rw", false)]
    #[case("rw,ro", true)]
    fn rootfs_read_only(#[case] options: &str, #[case] expected: bool) {
        let options = options
            .split(',')
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .collect();
        let rootfs = Rootfs::parse("/var/lib/lxc/c1/rootfs", options).unwrap();
        assert_eq!(rootfs.read_only(), expected);
    }

    /// The lxcpath is a link to the real directory: an absolute target
    /// written through either path lies inside the rootfs; a link inside
    /// the rootfs is not followed to decide it, and a path elsewhere is
    /// still refused.
    #[test]
    fn mount_targets_through_a_linked_lxcpath() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir_all(real.join("c1/rootfs/opt/inside")).unwrap();
        std::fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
        let linked = dir.path().join("linked");
        std::os::unix::fs::symlink(&real, &linked).unwrap();
        std::os::unix::fs::symlink(
            real.join("c1/rootfs/opt/inside"),
            real.join("c1/rootfs/opt/link"),
        )
        .unwrap();
        let target_in = |target: &Path, rootfs: &Path| {
            let line = format!("src {} none bind", target.display());
            MountEntry::parse(&line, Origin::new("", 0))
                .unwrap()
                .target_in_rootfs(rootfs)
        };
        let via_link = linked.join("c1/rootfs");
        let via_real = real.join("c1/rootfs");
        for (target, rootfs) in [(&via_real, &via_link), (&via_link, &via_real)] {
            assert_eq!(
                target_in(&target.join("opt/xxx/dir2"), rootfs).as_deref(),
                Some("opt/xxx/dir2"),
                "{} in {}",
                target.display(),
                rootfs.display()
            );
        }
        assert_eq!(
            target_in(&via_real.join("opt/link/dir"), &via_link).as_deref(),
            Some("opt/link/dir"),
            "a link inside the rootfs is kept as written"
        );
        assert_eq!(
            target_in(&dir.path().join("elsewhere/dir"), &via_link),
            None
        );
        assert_eq!(
            target_in(&real.join("c1/rootfs2/dir"), &via_link),
            None,
            "a sibling whose name starts like the rootfs is elsewhere"
        );
    }

    fn cg(full: bool, mode: CgroupMode, force: bool) -> Option<CgroupAuto> {
        Some(CgroupAuto { full, mode, force })
    }

    #[rstest]
    #[case("proc", Some(ProcMode::Mixed), None, None)]
    #[case("proc:mixed", Some(ProcMode::Mixed), None, None)]
    #[case("proc:rw", Some(ProcMode::Rw), None, None)]
    #[case("sys", None, Some(SysMode::Mixed), None)]
    #[case("sys:ro", None, Some(SysMode::Ro), None)]
    #[case("sys:rw", None, Some(SysMode::Rw), None)]
    #[case("sys:mixed", None, Some(SysMode::Mixed), None)]
    #[case("cgroup", None, None, cg(false, CgroupMode::Default, false))]
    #[case("cgroup:mixed", None, None, cg(false, CgroupMode::Mixed, false))]
    #[case("cgroup:ro", None, None, cg(false, CgroupMode::Ro, false))]
    #[case("cgroup:rw", None, None, cg(false, CgroupMode::Rw, false))]
    #[case("cgroup:force", None, None, cg(false, CgroupMode::Default, true))]
    #[case("cgroup:mixed:force", None, None, cg(false, CgroupMode::Mixed, true))]
    #[case("cgroup:ro:force", None, None, cg(false, CgroupMode::Ro, true))]
    #[case("cgroup:rw:force", None, None, cg(false, CgroupMode::Rw, true))]
    #[case("cgroup-full", None, None, cg(true, CgroupMode::Default, false))]
    #[case("cgroup-full:mixed", None, None, cg(true, CgroupMode::Mixed, false))]
    #[case("cgroup-full:ro", None, None, cg(true, CgroupMode::Ro, false))]
    #[case("cgroup-full:rw", None, None, cg(true, CgroupMode::Rw, false))]
    #[case("cgroup-full:force", None, None, cg(true, CgroupMode::Default, true))]
    #[case("cgroup-full:rw:force", None, None, cg(true, CgroupMode::Rw, true))]
    #[case(
        "cgroup:mixed proc:mixed sys:mixed",
        Some(ProcMode::Mixed),
        Some(SysMode::Mixed),
        cg(false, CgroupMode::Mixed, false)
    )]
    #[case(
        "proc:rw sys:rw cgroup-full:rw",
        Some(ProcMode::Rw),
        Some(SysMode::Rw),
        cg(true, CgroupMode::Rw, false)
    )]
    #[case("sys:ro sys:rw", None, Some(SysMode::Rw), None)]
    fn mount_auto(
        #[case] value: &str,
        #[case] proc: Option<ProcMode>,
        #[case] sys: Option<SysMode>,
        #[case] cgroup: Option<CgroupAuto>,
    ) {
        let mut auto = MountAuto::default();
        auto.apply(value).unwrap();
        assert_eq!(
            auto,
            MountAuto {
                proc,
                sys,
                cgroup,
                shmounts: None
            }
        );
    }

    #[rstest]
    #[case("shmounts:/run/shared", "/run/shared", "/dev/.lxc-mounts")]
    #[case("shmounts:/run/shared:/mnt/shared", "/run/shared", "/mnt/shared")]
    fn shared_mounts(#[case] value: &str, #[case] host: &str, #[case] container: &str) {
        let mut auto = MountAuto::default();
        auto.apply(value).unwrap();
        let expected = SharedMounts {
            host: host.to_string(),
            container: container.to_string(),
        };
        assert_eq!(auto.shmounts, Some(expected));
    }

    #[rstest]
    #[case("proc:ro")]
    #[case("sys:full")]
    #[case("cgroup:force:mixed")]
    #[case("cgroup:mixed:strong")]
    #[case("dev")]
    #[case("shmounts:")]
    fn bad_mount_auto(#[case] value: &str) {
        assert!(MountAuto::default().apply(value).is_err());
    }

    #[rstest]
    #[case("0", LogLevel::Trace)]
    #[case("8", LogLevel::Fatal)]
    #[case("DEBUG", LogLevel::Debug)]
    #[case("warn", LogLevel::Warn)]
    #[case("Error", LogLevel::Error)]
    fn log_levels(#[case] value: &str, #[case] expected: LogLevel) {
        assert_eq!(LogLevel::parse(value), Ok(expected));
    }

    #[rstest]
    #[case(Kind::Bool, "1", true)]
    #[case(Kind::Bool, "2", false)]
    #[case(Kind::Bool, "yes", false)]
    #[case(Kind::Uint, "5", true)]
    #[case(Kind::Uint, "abc", false)]
    #[case(Kind::Uint, "-1", false)]
    #[case(Kind::Uint, "+1", false)]
    #[case(Kind::Int, "-5", true)]
    #[case(Kind::LogLevel, "9", false)]
    #[case(Kind::AbsPath, "/", true)]
    #[case(Kind::AbsPath, "relative", false)]
    #[case(Kind::UtsName, "busybox", true)]
    #[case(Kind::UtsName, &"a".repeat(65), false)]
    #[case(Kind::TtyDir, "lxc", true)]
    #[case(Kind::TtyDir, "/dev/lxc", false)]
    #[case(Kind::Arch, "x86_64", true)]
    #[case(Kind::Arch, "z80", false)]
    #[case(Kind::Caps, "sys_module mac_admin  mac_override sys_time", true)]
    #[case(Kind::Caps, "none", false)]
    #[case(Kind::CapsKeep, "none", true)]
    #[case(Kind::Environment, "FOO=bar=baz", true)]
    #[case(Kind::Environment, "PATH", true)]
    #[case(Kind::Environment, "=bar", false)]
    #[case(Kind::NetType, "empty", true)]
    #[case(Kind::NetType, "bridge", false)]
    #[case(Kind::NetFlags, "down", false)]
    #[case(Kind::Hwaddr, "00:16:3e:xx:xx:xx", true)]
    #[case(Kind::Hwaddr, "00:16:3e", false)]
    #[case(Kind::Ipv4Address, "10.0.3.5/24 10.0.3.255", true)]
    #[case(Kind::Ipv4Address, "10.0.3.5/33", false)]
    #[case(Kind::Ipv6Address, "2003:db8:1:0:214:1234:fe0b:3596/64", true)]
    #[case(Kind::Ipv4Gateway, "auto", true)]
    #[case(Kind::Ipv4Gateway, "10.0.3.1", true)]
    #[case(Kind::Ipv4Gateway, "gateway", false)]
    #[case(Kind::Ipv4Route, "192.168.1.0/24", true)]
    #[case(Kind::Ipv4Route, "192.168.1.0", false)]
    #[case(Kind::VethVlanId, "none", true)]
    #[case(Kind::VlanId, "4095", false)]
    #[case(Kind::IfName, "eth0", true)]
    #[case(Kind::IfName, "a-very-long-interface", false)]
    #[case(Kind::Size, "128KB", true)]
    #[case(Kind::Size, "auto", true)]
    #[case(Kind::Size, "lots", false)]
    #[case(Kind::Size, "99999999999GB", false)]
    #[case(Kind::TimeOffset, "-10s", true)]
    #[case(Kind::TimeOffset, "10 s", false)]
    #[case(Kind::Prlimit, "1024:unlimited", true)]
    #[case(Kind::Prlimit, "lots", false)]
    #[case(Kind::Namespaces, "mnt net ipc", true)]
    #[case(Kind::Namespaces, "network", false)]
    #[case(Kind::SignalOrZero, "0", true)]
    #[case(Kind::Clear(&[]), "x", false)]
    fn value_checks(#[case] kind: Kind, #[case] value: &str, #[case] valid: bool) {
        assert_eq!(
            check(kind, value).is_ok(),
            valid,
            "{kind:?} {value}: {:?}",
            check(kind, value)
        );
    }
}
