//! The errors of enclos-net.

/// What went wrong setting up or reading a container's network.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `lxc.net.N.*` value that cannot be used.
    #[error("Invalid lxc.net.{index}.{key} '{value}': {expected}")]
    InvalidValue {
        index: u32,
        key: String,
        value: String,
        expected: String,
    },
    /// The bridge of a veth is missing.
    #[error("Bridge {bridge} does not exist: run `enclos net up` (or create it), or set lxc.net.{index}.type = empty")]
    NoBridge { index: u32, bridge: String },
    /// `lxc.net.N.link` names an interface the host does not have.
    #[error(
        "Interface {link} of lxc.net.{index}.link does not exist on the host; check `ip link`"
    )]
    NoLink { index: u32, link: String },
    /// `lxc.net.N.link` of a veth is not a bridge.
    #[error("Interface {link} of lxc.net.{index}.link is not a bridge; a veth joins a bridge")]
    NotABridge { index: u32, link: String },
    /// A type that needs `lxc.net.N.link` has none.
    #[error("lxc.net.{index}.type = {net_type} needs lxc.net.{index}.link (the host interface)")]
    MissingLink { index: u32, net_type: &'static str },
    /// Two interfaces would get one hardware address.
    #[error("Hardware address {hwaddr} of lxc.net.{index}.hwaddr is already used by {user}")]
    DuplicateHwaddr {
        index: u32,
        hwaddr: String,
        user: String,
    },
    /// A host interface name is already taken.
    #[error("Interface {name} of lxc.net.{index} already exists on the host; choose another lxc.net.{index}.veth.pair")]
    NameTaken { index: u32, name: String },
    /// The kernel has no driver for a link type.
    #[error("Cannot create lxc.net.{index} ({kind}): this kernel has no {kind} driver; {hint}")]
    NoDriver {
        index: u32,
        kind: &'static str,
        /// What to do (load the module, or choose another type).
        hint: String,
    },
    /// A netlink request failed.
    #[error("Cannot {what}: {source}")]
    Netlink {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// Entering a network namespace or starting the netlink connection failed.
    #[error("Cannot {what}")]
    Setup {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A user asked for more interfaces than the usernet file gives it.
    #[error("{}", quota_message(user, kind, bridge, *used, *quota, file))]
    UserNicQuota {
        user: String,
        kind: String,
        bridge: String,
        used: u32,
        quota: u32,
        file: std::path::PathBuf,
    },
    /// A user's bridge is missing.
    #[error("Bridge {bridge} does not exist: root can run `enclos net up` (or create it)")]
    UserNicNoBridge { bridge: String },
    /// A user's bridge is not a bridge.
    #[error("Interface {bridge} is not a bridge; a veth joins a bridge")]
    UserNicNotABridge { bridge: String },
    /// A user asked to remove an interface not made for it.
    #[error("Interface {nic} was not made for user {user} (see {})", nics.display())]
    NotUserNic {
        user: String,
        nic: String,
        nics: std::path::PathBuf,
    },
    /// A `script.up` or `script.down` failed.
    #[error("lxc.net.{index}.script.{kind} '{script}' failed: {reason}")]
    Script {
        index: u32,
        kind: &'static str,
        script: String,
        reason: String,
    },
}

fn quota_message(
    user: &str,
    kind: &str,
    bridge: &str,
    used: u32,
    quota: u32,
    file: &std::path::Path,
) -> String {
    let head = format!("User {user} may not attach a {kind} to bridge {bridge}");
    if quota == 0 {
        format!(
            "{head}: {} gives it no {kind} on {bridge}; root can add a line `{user} {kind} {bridge} COUNT` there",
            file.display()
        )
    } else {
        format!(
            "{head}: it already has {used} of the {quota} that {} allows; stop one of its containers, or root can raise the count there",
            file.display()
        )
    }
}

/// Results of enclos-net.
pub type Result<T> = std::result::Result<T, Error>;

/// A netlink error as an [`Error::Netlink`] doing `what`.
pub(crate) fn netlink(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> Error {
    let what = what.into();
    move |e| Error::Netlink {
        what,
        source: io_of(&e),
    }
}

/// The errno of a netlink error, as an io::Error.
pub(crate) fn io_of(e: &rtnetlink::Error) -> std::io::Error {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.to_io(),
        other => std::io::Error::other(other.to_string()),
    }
}

/// The errno of a netlink error, if the kernel sent one.
pub(crate) fn errno_of(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(m.raw_code().abs()),
        _ => None,
    }
}
