//! The LXC 5.0 key set: one table of key patterns, each with what enclos
//! does with it (supported, reported with a reason where the host or the
//! configuration does not allow it, or not yet), whether it is a list, and
//! the kind of value it takes. A later issue that implements a key flips
//! its `NOT_YET` to `YES` here, and adds a case to `tests/config_keys`.

use serde::Serialize;

/// Whether enclos implements a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Support {
    /// Read, checked and used.
    Supported,
    /// An LXC key that enclos does not implement yet: an error.
    NotYet,
    /// Read and checked, but applied only where the host or the rest of
    /// the configuration allows: `start` says, with this reason, when it
    /// is not applied (never silently, never an error by itself).
    Reported(&'static str),
}

/// Whether a key holds one value (the last one wins) or a list (every line
/// adds to it; an empty value clears it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arity {
    Scalar,
    List,
}

/// The kind of value a key takes; `values::check` knows each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Any text.
    Text,
    /// A path, relative or absolute.
    Path,
    /// An absolute path.
    AbsPath,
    /// `0` or `1`.
    Bool,
    /// An unsigned 32-bit integer.
    Uint,
    /// A signed 32-bit integer.
    Int,
    /// A signal name (`SIGPWR`, `PWR`, `SIGRTMIN+3`) or number.
    Signal,
    /// A signal, or 0 for none.
    SignalOrZero,
    Arch,
    UtsName,
    TtyDir,
    LogLevel,
    SyslogFacility,
    /// `auto` or a size with an optional KB/MB/GB suffix.
    Size,
    RootfsPath,
    MountEntry,
    MountAuto,
    /// Capability names, space separated.
    Caps,
    /// Capability names or `none`.
    CapsKeep,
    IdMap,
    Environment,
    /// A command line, split like a shell does.
    Command,
    /// Names separated by blanks (lxc.group).
    Names,
    /// Namespace names, space separated.
    Namespaces,
    TimeOffset,
    Prlimit,
    /// `lxc.include`: read by the parser.
    Include,
    /// A key that only clears (`lxc.net =`, `lxc.cgroup =`): the keys
    /// matching these patterns are cleared with it.
    Clear(&'static [&'static str]),
    NetType,
    NetFlags,
    IfName,
    Hwaddr,
    Mtu,
    Ipv4Address,
    Ipv6Address,
    Ipv4Gateway,
    Ipv6Gateway,
    Ipv4Route,
    Ipv6Route,
    VethMode,
    MacvlanMode,
    IpvlanMode,
    IpvlanIsolation,
    VlanId,
    VethVlanId,
}

/// One line of the key table.
///
/// A pattern is an exact key (`lxc.uts.name`), a family of keys with any
/// non-empty suffix (`lxc.cgroup.*`), or a network key with its index
/// (`lxc.net.#.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    pub pattern: &'static str,
    pub support: Support,
    pub arity: Arity,
    pub(crate) kind: Kind,
}

const YES: Support = Support::Supported;
const NOT_YET: Support = Support::NotYet;
/// Applied by an AppArmor-confined start only; a host without AppArmor
/// gets one warning at start.
const APPARMOR: Support = Support::Reported(
    "an AppArmor setting: applied only on a host with AppArmor; start warns when the host has none",
);
const SELINUX: Support = Support::Reported(
    "an SELinux setting: applied only on a host with SELinux; start warns when the host has none",
);
/// An unprivileged container: init in a user namespace with these maps.
const IDMAP: Support = Support::Supported;
/// A network key enclos does not apply yet (l2proxy, the veth's VLAN
/// filtering): it has no effect and start warns.
const NET_ONLY: Support = Support::Reported(
    "not applied yet by enclos's network set-up; it has no effect and start warns",
);
/// The seccomp notifier's keys: enclos runs no listener (a profile's
/// `notify` rules are refused with their line).
const SECCOMP_NOTIFY: Support = Support::Reported(
    "forwards the calls of a seccomp profile's 'notify' rules, which enclos refuses (it runs no seccomp listener): start warns that it is not applied",
);
const ONE: Arity = Arity::Scalar;
const LIST: Arity = Arity::List;

const fn k(pattern: &'static str, support: Support, arity: Arity, kind: Kind) -> KeySpec {
    KeySpec {
        pattern,
        support,
        arity,
        kind,
    }
}

const HOOKS: &[&str] = &[
    "lxc.hook.autodev",
    "lxc.hook.clone",
    "lxc.hook.destroy",
    "lxc.hook.mount",
    "lxc.hook.post-stop",
    "lxc.hook.pre-mount",
    "lxc.hook.pre-start",
    "lxc.hook.start",
    "lxc.hook.start-host",
    "lxc.hook.stop",
];

/// Every LXC 5.0 container configuration key.
#[rustfmt::skip]
pub static KEYS: &[KeySpec] = &[
    //  pattern                             support  arity kind
    k("lxc.include",                        YES,     LIST, Kind::Include),
    k("lxc.arch",                           YES,     ONE,  Kind::Arch),
    k("lxc.uts.name",                       YES,     ONE,  Kind::UtsName),
    k("lxc.signal.halt",                    YES,     ONE,  Kind::Signal),
    k("lxc.signal.reboot",                  YES,     ONE,  Kind::Signal),
    k("lxc.signal.stop",                    YES,     ONE,  Kind::Signal),
    k("lxc.init.cmd",                       YES,     ONE,  Kind::Command),
    k("lxc.init.cwd",                       YES,     ONE,  Kind::AbsPath),
    k("lxc.init.uid",                       YES,     ONE,  Kind::Uint),
    k("lxc.init.gid",                       YES,     ONE,  Kind::Uint),
    k("lxc.init.groups",                    YES,     LIST, Kind::Text),
    k("lxc.execute.cmd",                    YES,     ONE,  Kind::Command),
    k("lxc.sched.core",                     YES,     ONE,  Kind::Bool),
    k("lxc.proc",                           YES,     ONE,  Kind::Clear(&["lxc.proc.*"])),
    k("lxc.proc.*",                         YES,     ONE,  Kind::Text),
    k("lxc.ephemeral",                      YES,     ONE,  Kind::Bool),
    k("lxc.net",                            YES,     ONE,  Kind::Clear(&[])),
    k("lxc.net.#",                          YES,     ONE,  Kind::Clear(&[])),
    k("lxc.net.#.type",                     YES,     ONE,  Kind::NetType),
    k("lxc.net.#.flags",                    YES,     ONE,  Kind::NetFlags),
    k("lxc.net.#.link",                     YES,     ONE,  Kind::IfName),
    k("lxc.net.#.l2proxy",                  NET_ONLY, ONE,  Kind::Bool),
    k("lxc.net.#.mtu",                      YES,     ONE,  Kind::Mtu),
    k("lxc.net.#.name",                     YES,     ONE,  Kind::IfName),
    k("lxc.net.#.hwaddr",                   YES,     ONE,  Kind::Hwaddr),
    k("lxc.net.#.ipv4.address",             YES,     LIST, Kind::Ipv4Address),
    k("lxc.net.#.ipv4.gateway",             YES,     ONE,  Kind::Ipv4Gateway),
    k("lxc.net.#.ipv6.address",             YES,     LIST, Kind::Ipv6Address),
    k("lxc.net.#.ipv6.gateway",             YES,     ONE,  Kind::Ipv6Gateway),
    k("lxc.net.#.script.up",                YES,     ONE,  Kind::Path),
    k("lxc.net.#.script.down",              YES,     ONE,  Kind::Path),
    k("lxc.net.#.veth.mode",                YES,     ONE,  Kind::VethMode),
    k("lxc.net.#.veth.pair",                YES,     ONE,  Kind::IfName),
    k("lxc.net.#.veth.ipv4.route",          YES,     LIST, Kind::Ipv4Route),
    k("lxc.net.#.veth.ipv6.route",          YES,     LIST, Kind::Ipv6Route),
    k("lxc.net.#.veth.vlan.id",             NET_ONLY, ONE,  Kind::VethVlanId),
    k("lxc.net.#.veth.vlan.tagged.id",      NET_ONLY, LIST, Kind::VlanId),
    k("lxc.net.#.macvlan.mode",             YES,     ONE,  Kind::MacvlanMode),
    k("lxc.net.#.ipvlan.mode",              YES,     ONE,  Kind::IpvlanMode),
    k("lxc.net.#.ipvlan.isolation",         YES,     ONE,  Kind::IpvlanIsolation),
    k("lxc.net.#.vlan.id",                  YES,     ONE,  Kind::VlanId),
    k("lxc.pty.max",                        YES,     ONE,  Kind::Uint),
    k("lxc.console.path",                   YES,     ONE,  Kind::Path),
    k("lxc.console.logfile",                YES,     ONE,  Kind::Path),
    k("lxc.console.rotate",                 YES,     ONE,  Kind::Bool),
    k("lxc.console.size",                   YES,     ONE,  Kind::Size),
    k("lxc.console.buffer.size",            YES,     ONE,  Kind::Size),
    k("lxc.tty.max",                        YES,     ONE,  Kind::Uint),
    k("lxc.tty.dir",                        YES,     ONE,  Kind::TtyDir),
    k("lxc.autodev",                        YES,     ONE,  Kind::Bool),
    k("lxc.autodev.tmpfs.size",             YES,     ONE,  Kind::Uint),
    k("lxc.mount.fstab",                    YES,     ONE,  Kind::Path),
    k("lxc.mount.entry",                    YES,     LIST, Kind::MountEntry),
    k("lxc.mount.auto",                     YES,     LIST, Kind::MountAuto),
    k("lxc.rootfs.path",                    YES,     ONE,  Kind::RootfsPath),
    k("lxc.rootfs.mount",                   YES,     ONE,  Kind::AbsPath),
    k("lxc.rootfs.options",                 YES,     ONE,  Kind::Text),
    k("lxc.rootfs.managed",                 YES,     ONE,  Kind::Bool),
    k("lxc.cgroup",                         YES,     ONE,  Kind::Clear(&["lxc.cgroup.*"])),
    k("lxc.cgroup.*",                       YES,     LIST, Kind::Text),
    k("lxc.cgroup2",                        YES,     ONE,  Kind::Clear(&["lxc.cgroup2.*"])),
    k("lxc.cgroup2.*",                      YES,     LIST, Kind::Text),
    k("lxc.cgroup.dir",                     YES,     ONE,  Kind::Path),
    k("lxc.cgroup.dir.container",           YES,     ONE,  Kind::Path),
    k("lxc.cgroup.dir.container.inner",     YES,     ONE,  Kind::Text),
    k("lxc.cgroup.dir.monitor",             YES,     ONE,  Kind::Path),
    k("lxc.cgroup.dir.monitor.pivot",       YES,     ONE,  Kind::Path),
    k("lxc.cgroup.relative",                YES,     ONE,  Kind::Bool),
    k("lxc.cap.drop",                       YES,     LIST, Kind::Caps),
    k("lxc.cap.keep",                       YES,     LIST, Kind::CapsKeep),
    k("lxc.namespace.clone",                YES,     LIST, Kind::Namespaces),
    k("lxc.namespace.keep",                 YES,     LIST, Kind::Namespaces),
    k("lxc.namespace.share.cgroup",         YES,     ONE,  Kind::Text),
    k("lxc.namespace.share.ipc",            YES,     ONE,  Kind::Text),
    k("lxc.namespace.share.mnt",            NOT_YET, ONE,  Kind::Text),
    k("lxc.namespace.share.net",            YES,     ONE,  Kind::Text),
    k("lxc.namespace.share.pid",            YES,     ONE,  Kind::Text),
    k("lxc.namespace.share.time",           YES,     ONE,  Kind::Text),
    k("lxc.namespace.share.user",           NOT_YET, ONE,  Kind::Text),
    k("lxc.namespace.share.uts",            YES,     ONE,  Kind::Text),
    k("lxc.time.offset.boot",               YES,     ONE,  Kind::TimeOffset),
    k("lxc.time.offset.monotonic",          YES,     ONE,  Kind::TimeOffset),
    k("lxc.prlimit",                        YES,     ONE,  Kind::Clear(&["lxc.prlimit.*"])),
    k("lxc.prlimit.*",                      YES,     ONE,  Kind::Prlimit),
    k("lxc.sysctl",                         YES,     ONE,  Kind::Clear(&["lxc.sysctl.*"])),
    k("lxc.sysctl.*",                       YES,     ONE,  Kind::Text),
    k("lxc.apparmor.profile",               APPARMOR, ONE,  Kind::Text),
    k("lxc.apparmor.allow_incomplete",      APPARMOR, ONE,  Kind::Bool),
    k("lxc.apparmor.allow_nesting",         APPARMOR, ONE,  Kind::Bool),
    k("lxc.apparmor.raw",                   APPARMOR, LIST, Kind::Text),
    k("lxc.selinux.context",                SELINUX,  ONE,  Kind::Text),
    k("lxc.selinux.context.keyring",        SELINUX,  ONE,  Kind::Text),
    k("lxc.keyring.session",                YES,     ONE,  Kind::Bool),
    k("lxc.seccomp.profile",                YES,     ONE,  Kind::Path),
    k("lxc.seccomp.allow_nesting",          YES,     ONE,  Kind::Bool),
    k("lxc.seccomp.notify.proxy",           SECCOMP_NOTIFY, ONE, Kind::Text),
    k("lxc.seccomp.notify.cookie",          SECCOMP_NOTIFY, ONE, Kind::Text),
    k("lxc.no_new_privs",                   YES,     ONE,  Kind::Bool),
    k("lxc.idmap",                          IDMAP,   LIST, Kind::IdMap),
    k("lxc.hook",                           YES,     ONE,  Kind::Clear(HOOKS)),
    k("lxc.hook.version",                   YES,     ONE,  Kind::Bool),
    k("lxc.hook.pre-start",                 YES,     LIST, Kind::Text),
    k("lxc.hook.pre-mount",                 YES,     LIST, Kind::Text),
    k("lxc.hook.mount",                     YES,     LIST, Kind::Text),
    k("lxc.hook.autodev",                   YES,     LIST, Kind::Text),
    k("lxc.hook.start-host",                YES,     LIST, Kind::Text),
    k("lxc.hook.start",                     YES,     LIST, Kind::Text),
    k("lxc.hook.stop",                      YES,     LIST, Kind::Text),
    k("lxc.hook.post-stop",                 YES,     LIST, Kind::Text),
    k("lxc.hook.clone",                     YES,     LIST, Kind::Text),
    k("lxc.hook.destroy",                   YES,     LIST, Kind::Text),
    k("lxc.start.auto",                     YES,     ONE,  Kind::Bool),
    k("lxc.start.delay",                    YES,     ONE,  Kind::Uint),
    k("lxc.start.order",                    YES,     ONE,  Kind::Int),
    k("lxc.monitor.unshare",                YES,     ONE,  Kind::Bool),
    k("lxc.monitor.signal.pdeath",          YES,     ONE,  Kind::SignalOrZero),
    k("lxc.group",                          YES,     LIST, Kind::Names),
    k("lxc.environment",                    YES,     LIST, Kind::Environment),
    k("lxc.log.level",                      YES,     ONE,  Kind::LogLevel),
    k("lxc.log.file",                       YES,     ONE,  Kind::Path),
    k("lxc.log.syslog",                     YES,     ONE,  Kind::SyslogFacility),
];

/// What some not-yet keys wait for: a key starting with the prefix gets
/// the reason in its error.
#[rustfmt::skip]
const NOT_YET_WHY: &[(&str, &str)] = &[
    ("lxc.namespace.share.mnt", "LXC sets the rootfs up inside the shared mount namespace, so its pivot would change the root of whatever runs there (and a running container's rootfs path is not even visible in it); enclos refuses it rather than do that"),
    ("lxc.namespace.share.user", "a user namespace makes an unprivileged container, which enclos does not run yet (the unprivileged issue)"),
];

/// Why the not-yet key `key` is not there yet, when a later piece of work
/// is named for it.
pub(crate) fn not_yet_reason(key: &str) -> Option<&'static str> {
    NOT_YET_WHY
        .iter()
        .find(|(prefix, _)| key.starts_with(prefix))
        .map(|(_, why)| *why)
}

/// The network types LXC knows, and which of them enclos sets up.
#[rustfmt::skip]
pub static NET_TYPES: &[(&str, Support)] = &[
    ("empty",   YES),
    ("none",    YES),
    ("veth",    YES),
    ("macvlan", YES),
    ("ipvlan",  YES),
    ("phys",    YES),
    ("vlan",    YES),
];

/// LXC 2.x keys renamed in LXC 2.1/3.0, with their modern name.
#[rustfmt::skip]
const RENAMED: &[(&str, &str)] = &[
    ("lxc.aa_allow_incomplete", "lxc.apparmor.allow_incomplete"),
    ("lxc.aa_profile",          "lxc.apparmor.profile"),
    ("lxc.console",             "lxc.console.path"),
    ("lxc.devttydir",           "lxc.tty.dir"),
    ("lxc.haltsignal",          "lxc.signal.halt"),
    ("lxc.id_map",              "lxc.idmap"),
    ("lxc.init_cmd",            "lxc.init.cmd"),
    ("lxc.init_gid",            "lxc.init.gid"),
    ("lxc.init_uid",            "lxc.init.uid"),
    ("lxc.limit",               "lxc.prlimit"),
    ("lxc.logfile",             "lxc.log.file"),
    ("lxc.loglevel",            "lxc.log.level"),
    ("lxc.mount",               "lxc.mount.fstab"),
    ("lxc.pts",                 "lxc.pty.max"),
    ("lxc.rebootsignal",        "lxc.signal.reboot"),
    ("lxc.rootfs",              "lxc.rootfs.path"),
    ("lxc.se_context",          "lxc.selinux.context"),
    ("lxc.seccomp",             "lxc.seccomp.profile"),
    ("lxc.stopsignal",          "lxc.signal.stop"),
    ("lxc.syslog",              "lxc.log.syslog"),
    ("lxc.tty",                 "lxc.tty.max"),
    ("lxc.utsname",             "lxc.uts.name"),
];

/// LXC 2.x keys with no modern equivalent, and why they can go.
#[rustfmt::skip]
const OBSOLETE: &[(&str, &str)] = &[
    ("lxc.rootfs.backend", "the backend is the prefix of 'lxc.rootfs.path' (e.g. 'btrfs:/path')"),
    ("lxc.pivotdir",       "the root file system is switched without a pivot directory"),
    ("lxc.kmsg",           "/dev/kmsg is no longer linked to the console"),
];

/// What a key written in a file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Class {
    /// A modern key (normalized: `lxc.net.01.type` is `lxc.net.1.type`).
    Modern {
        key: String,
        spec: &'static KeySpec,
    },
    /// An LXC 2.x key with its modern name (the modern name is classified
    /// again by the caller).
    Renamed {
        modern: String,
    },
    /// `lxc.network...`: the caller maps it, it needs the parser's state.
    LegacyNetwork,
    /// An LXC 2.x key that is dropped.
    Obsolete {
        reason: &'static str,
    },
    /// `lxc.net.<something not a number>...`
    BadNetIndex,
    Unknown {
        suggestion: Option<String>,
    },
}

/// Looks a key up in the key table (modern keys only).
pub fn lookup(key: &str) -> Option<&'static KeySpec> {
    lookup_normalized(key).map(|(_, spec)| spec)
}

fn lookup_normalized(key: &str) -> Option<(String, &'static KeySpec)> {
    if let Some(spec) = KEYS.iter().find(|s| s.pattern == key) {
        return Some((key.to_string(), spec));
    }
    if let Some((index, sub)) = split_net_key(key) {
        let index = index.parse::<u32>().ok()?;
        let pattern_sub = if sub.is_empty() {
            String::new()
        } else {
            format!(".{sub}")
        };
        let spec = KEYS
            .iter()
            .find(|s| s.pattern.strip_prefix("lxc.net.#") == Some(pattern_sub.as_str()))?;
        return Some((format!("lxc.net.{index}{pattern_sub}"), spec));
    }
    KEYS.iter()
        .filter_map(|s| s.pattern.strip_suffix('*').map(|prefix| (prefix, s)))
        .filter(|(prefix, _)| key.len() > prefix.len() && key.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, spec)| (key.to_string(), spec))
}

/// `lxc.net.<index>[.<sub>]` → (index text, sub), for a numeric-looking
/// first segment.
fn split_net_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("lxc.net.")?;
    let (index, sub) = rest.split_once('.').unwrap_or((rest, ""));
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((index, sub))
}

/// The index of a network key (`lxc.net.3.link` → 3).
pub(crate) fn net_index(key: &str) -> Option<u32> {
    split_net_key(key).and_then(|(index, _)| index.parse().ok())
}

/// The sub-key of a network key (`lxc.net.3.ipv4.address` → `ipv4.address`).
pub(crate) fn net_subkey(key: &str) -> Option<&str> {
    split_net_key(key).map(|(_, sub)| sub)
}

pub(crate) fn classify(key: &str) -> Class {
    if let Some((key, spec)) = lookup_normalized(key) {
        return Class::Modern { key, spec };
    }
    if key == "lxc.network" || key.starts_with("lxc.network.") {
        return Class::LegacyNetwork;
    }
    if let Some((_, modern)) = RENAMED.iter().find(|(old, _)| *old == key) {
        return Class::Renamed {
            modern: modern.to_string(),
        };
    }
    if let Some(rest) = key.strip_prefix("lxc.limit.") {
        return Class::Renamed {
            modern: format!("lxc.prlimit.{rest}"),
        };
    }
    if let Some((_, reason)) = OBSOLETE.iter().find(|(old, _)| *old == key) {
        return Class::Obsolete { reason };
    }
    if let Some(rest) = key.strip_prefix("lxc.net.") {
        let index = rest.split('.').next().unwrap_or("");
        if !index.bytes().all(|b| b.is_ascii_digit())
            || index.is_empty()
            || index.parse::<u32>().is_err()
        {
            return Class::BadNetIndex;
        }
    }
    Class::Unknown {
        suggestion: suggest(key),
    }
}

/// The longest key [`suggest`] looks at.
const SUGGEST_MAX_LEN: usize = 100;

/// The modern key closest to a misspelt one, when one is close enough:
/// among the exact keys (not the clear-only ones), the network keys of the
/// same index, and the families (`lxc.cgrup.memory.max` is close to
/// `lxc.cgroup.memory.max`).
pub(crate) fn suggest(key: &str) -> Option<String> {
    // No key is near this long, and the edit distance takes time in the
    // product of the lengths: a line of a megabyte must not hang the read.
    if key.len() > SUGGEST_MAX_LEN {
        return None;
    }
    let net_index = net_index(key);
    let mut candidates: Vec<String> = KEYS
        .iter()
        .filter(|spec| !spec.pattern.ends_with('*') && !matches!(spec.kind, Kind::Clear(_)))
        .map(|spec| match spec.pattern.strip_prefix("lxc.net.#") {
            Some(sub) => format!("lxc.net.{}{sub}", net_index.unwrap_or(0)),
            None => spec.pattern.to_string(),
        })
        .collect();
    for stem in KEYS
        .iter()
        .filter_map(|spec| spec.pattern.strip_suffix(".*"))
    {
        let segments = stem.split('.').count();
        let mut parts = key.splitn(segments + 1, '.');
        let head: Vec<&str> = parts.by_ref().take(segments).collect();
        if let Some(rest) = parts.next().filter(|r| !r.is_empty()) {
            if levenshtein(&head.join("."), stem) <= 2 {
                candidates.push(format!("{stem}.{rest}"));
            }
        }
    }
    let limit = if key.len() >= 12 { 3 } else { 2 };
    candidates
        .into_iter()
        .map(|candidate| (levenshtein(key, &candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// The edit distance (insertions, deletions, substitutions) between two
/// strings, by characters.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// Whether an entry with an empty value for `clearing` clears an earlier
/// entry for `key`.
pub(crate) fn clears(clearing: &str, key: &str) -> bool {
    if clearing == key {
        return true;
    }
    if clearing == "lxc.net" {
        return key.starts_with("lxc.net.");
    }
    if net_index(clearing).is_some() && net_subkey(clearing) == Some("") {
        return key.len() > clearing.len()
            && key.starts_with(clearing)
            && key.as_bytes()[clearing.len()] == b'.';
    }
    match lookup(clearing).map(|s| s.kind) {
        Some(Kind::Clear(patterns)) => {
            lookup(key).is_some_and(|spec| patterns.contains(&spec.pattern))
        }
        _ => false,
    }
}

pub(crate) fn net_type_support(value: &str) -> Option<Support> {
    NET_TYPES
        .iter()
        .find(|(name, _)| *name == value)
        .map(|(_, s)| *s)
}

pub(crate) fn supported_net_types() -> String {
    NET_TYPES
        .iter()
        .filter(|(_, s)| *s == Support::Supported)
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("", "", 0)]
    #[case("abc", "", 3)]
    #[case("", "abc", 3)]
    #[case("kitten", "sitting", 3)]
    #[case("lxc.rootfs.pth", "lxc.rootfs.path", 1)]
    #[case("flaw", "lawn", 2)]
    #[case("été", "ete", 2)]
    fn levenshtein_distances(#[case] a: &str, #[case] b: &str, #[case] expected: usize) {
        assert_eq!(levenshtein(a, b), expected);
        assert_eq!(levenshtein(b, a), expected);
    }

    #[rstest]
    #[case("lxc.uts.name", "lxc.uts.name")]
    #[case("lxc.cgroup.memory.limit_in_bytes", "lxc.cgroup.*")]
    #[case("lxc.cgroup2.memory.max", "lxc.cgroup2.*")]
    #[case("lxc.cgroup.dir", "lxc.cgroup.dir")]
    #[case("lxc.cgroup", "lxc.cgroup")]
    #[case("lxc.net.0.type", "lxc.net.#.type")]
    #[case("lxc.net.12.veth.vlan.tagged.id", "lxc.net.#.veth.vlan.tagged.id")]
    #[case("lxc.net.3", "lxc.net.#")]
    #[case("lxc.net", "lxc.net")]
    #[case("lxc.sysctl.net.ipv4.ip_forward", "lxc.sysctl.*")]
    #[case("lxc.hook.pre-start", "lxc.hook.pre-start")]
    fn lookup_finds_the_pattern(#[case] key: &str, #[case] pattern: &str) {
        assert_eq!(lookup(key).map(|s| s.pattern), Some(pattern));
    }

    #[rstest]
    #[case("lxc.cgroup.")]
    #[case("lxc.foo")]
    #[case("lxc.net.0.foo")]
    #[case("lxc.net.x.type")]
    #[case("lxc.utsname")]
    fn lookup_misses(#[case] key: &str) {
        assert_eq!(lookup(key), None);
    }

    #[rstest]
    #[case("lxc.rootfs.pth", Some("lxc.rootfs.path"))]
    #[case("lxc.uts.nmae", Some("lxc.uts.name"))]
    #[case("lxc.net.1.lnk", Some("lxc.net.1.link"))]
    #[case("lxc.cap.dorp", Some("lxc.cap.drop"))]
    #[case("lxc.mount.entries", Some("lxc.mount.entry"))]
    #[case("lxc.foo", None)]
    #[case("lxc.hok", None)]
    #[case(
        "lxc.cgrup.memory.limit_in_bytes",
        Some("lxc.cgroup.memory.limit_in_bytes")
    )]
    #[case("lxc.cgroups2.memory.max", Some("lxc.cgroup2.memory.max"))]
    #[case("lxc.something.else.entirely", None)]
    fn suggestions(#[case] key: &str, #[case] expected: Option<&str>) {
        assert_eq!(suggest(key).as_deref(), expected);
    }

    #[rstest]
    #[case("lxc.net.01.type", Class::Modern { key: "lxc.net.1.type".into(), spec: lookup("lxc.net.0.type").unwrap() })]
    #[case("lxc.utsname", Class::Renamed { modern: "lxc.uts.name".into() })]
    #[case("lxc.limit.nofile", Class::Renamed { modern: "lxc.prlimit.nofile".into() })]
    #[case("lxc.network.type", Class::LegacyNetwork)]
    #[case("lxc.network", Class::LegacyNetwork)]
    #[case("lxc.pivotdir", Class::Obsolete { reason: OBSOLETE[1].1 })]
    #[case("lxc.net.x.type", Class::BadNetIndex)]
    #[case("lxc.net.99999999999.type", Class::BadNetIndex)]
    #[case("lxc.net.type", Class::BadNetIndex)]
    fn classification(#[case] key: &str, #[case] expected: Class) {
        assert_eq!(classify(key), expected);
    }

    #[rstest]
    #[case("lxc.net", "lxc.net.0.type", true)]
    #[case("lxc.net.0", "lxc.net.0.link", true)]
    #[case("lxc.net.0", "lxc.net.01.link", false)]
    #[case("lxc.net.1", "lxc.net.10.link", false)]
    #[case("lxc.cgroup", "lxc.cgroup.devices.allow", true)]
    #[case("lxc.cgroup", "lxc.cgroup.dir", false)]
    #[case("lxc.cgroup", "lxc.cgroup2.devices.allow", false)]
    #[case("lxc.cgroup.devices.allow", "lxc.cgroup.devices.allow", true)]
    #[case("lxc.cgroup.devices.allow", "lxc.cgroup.devices.deny", false)]
    #[case("lxc.hook", "lxc.hook.mount", true)]
    #[case("lxc.hook", "lxc.hook.version", false)]
    #[case("lxc.cap.drop", "lxc.cap.keep", false)]
    fn clear_scope(#[case] clearing: &str, #[case] key: &str, #[case] expected: bool) {
        assert_eq!(clears(clearing, key), expected);
    }

    #[test]
    fn every_pattern_is_unique_and_well_formed() {
        for (i, spec) in KEYS.iter().enumerate() {
            assert!(spec.pattern.starts_with("lxc."), "{}", spec.pattern);
            assert!(
                KEYS[..i].iter().all(|other| other.pattern != spec.pattern),
                "{} twice",
                spec.pattern
            );
        }
        for (old, new) in RENAMED {
            assert!(lookup(new).is_some(), "{old} -> {new}");
            assert!(lookup(old).is_none(), "{old}");
        }
    }
}
