//! fstab mount options and lines (`lxc.mount.entry`, `lxc.mount.fstab`).

use std::path::PathBuf;

use enclos_mounts::FstabEntry;
use nix::mount::MsFlags;

use crate::error::{Error, Result};

/// What `create=` makes when a mount target is missing.
pub use enclos_mounts::Create as CreateKind;

/// One mount to make inside the rootfs, as an fstab line gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    /// The device or filesystem source; for a bind mount, a host path.
    pub source: String,
    /// Where inside the rootfs, relative to it (a leading `/` is ignored).
    pub target: PathBuf,
    /// The filesystem type (ignored for bind mounts: `none`).
    pub fstype: String,
    /// fstab options: flags (`ro`, `nosuid`, `bind` ...), propagation
    /// (`rslave` ...) and filesystem data (`size=10m`), as
    /// [`parse_mount_options`] reads them.
    pub options: Vec<String>,
    /// `create=dir` or `create=file`.
    pub create: Option<CreateKind>,
    /// `optional`: a failure is a warning and the mount is skipped.
    pub optional: bool,
}

/// Parsed fstab options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for mount(2): MS_RDONLY, MS_NOSUID, MS_BIND, MS_REC ...
    pub flags: MsFlags,
    /// Propagation to apply after the mount (a second mount(2) call):
    /// MS_PRIVATE, MS_SLAVE, MS_SHARED or MS_UNBINDABLE, with MS_REC for
    /// the `r` forms.
    pub propagation: MsFlags,
    /// The rest, comma-joined, for the filesystem (`size=10m,mode=1777`).
    pub data: String,
}

impl Default for MountOptions {
    fn default() -> Self {
        Self {
            flags: MsFlags::empty(),
            propagation: MsFlags::empty(),
            data: String::new(),
        }
    }
}

impl MountOptions {
    /// Whether this is a bind mount (`bind` or `rbind`).
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
}

enum Opt {
    Set(MsFlags),
    Clear(MsFlags),
    Propagation(MsFlags),
    Ignore,
}

fn flag_option(name: &str) -> Option<Opt> {
    use MsFlags as M;
    Some(match name {
        "defaults" => Opt::Set(M::empty()),
        "ro" => Opt::Set(M::MS_RDONLY),
        "rw" => Opt::Clear(M::MS_RDONLY),
        "nosuid" => Opt::Set(M::MS_NOSUID),
        "suid" => Opt::Clear(M::MS_NOSUID),
        "nodev" => Opt::Set(M::MS_NODEV),
        "dev" => Opt::Clear(M::MS_NODEV),
        "noexec" => Opt::Set(M::MS_NOEXEC),
        "exec" => Opt::Clear(M::MS_NOEXEC),
        "sync" => Opt::Set(M::MS_SYNCHRONOUS),
        "async" => Opt::Clear(M::MS_SYNCHRONOUS),
        "dirsync" => Opt::Set(M::MS_DIRSYNC),
        "remount" => Opt::Set(M::MS_REMOUNT),
        "mand" => Opt::Set(M::MS_MANDLOCK),
        "nomand" => Opt::Clear(M::MS_MANDLOCK),
        "noatime" => Opt::Set(M::MS_NOATIME),
        "atime" => Opt::Clear(M::MS_NOATIME),
        "nodiratime" => Opt::Set(M::MS_NODIRATIME),
        "diratime" => Opt::Clear(M::MS_NODIRATIME),
        "relatime" => Opt::Set(M::MS_RELATIME),
        "norelatime" => Opt::Clear(M::MS_RELATIME),
        "strictatime" => Opt::Set(M::MS_STRICTATIME),
        "nostrictatime" => Opt::Clear(M::MS_STRICTATIME),
        "lazytime" => Opt::Set(M::MS_LAZYTIME),
        "nolazytime" => Opt::Clear(M::MS_LAZYTIME),
        "iversion" => Opt::Set(M::MS_I_VERSION),
        "noiversion" => Opt::Clear(M::MS_I_VERSION),
        "silent" => Opt::Set(M::MS_SILENT),
        "loud" => Opt::Clear(M::MS_SILENT),
        "bind" => Opt::Set(M::MS_BIND),
        "rbind" => Opt::Set(M::MS_BIND.union(M::MS_REC)),
        "private" => Opt::Propagation(M::MS_PRIVATE),
        "rprivate" => Opt::Propagation(M::MS_PRIVATE.union(M::MS_REC)),
        "slave" => Opt::Propagation(M::MS_SLAVE),
        "rslave" => Opt::Propagation(M::MS_SLAVE.union(M::MS_REC)),
        "shared" => Opt::Propagation(M::MS_SHARED),
        "rshared" => Opt::Propagation(M::MS_SHARED.union(M::MS_REC)),
        "unbindable" => Opt::Propagation(M::MS_UNBINDABLE),
        "runbindable" => Opt::Propagation(M::MS_UNBINDABLE.union(M::MS_REC)),
        // mount(8)'s own options, and LXC's (read into MountSpec fields).
        "auto" | "noauto" | "user" | "nouser" | "users" | "owner" | "group" | "nofail"
        | "_netdev" | "optional" | "create=dir" | "create=file" => Opt::Ignore,
        _ if name.starts_with("x-") || name.starts_with("comment=") => Opt::Ignore,
        _ => return None,
    })
}

/// Reads fstab options, as mount(8) does: the flag words become mount(2)
/// flags (later words win: `ro,rw` is rw), the propagation words become a
/// separate set, and everything else (`size=10m`, `mode=755`, `uid=0`) is
/// filesystem data. Elements may themselves be comma lists. mount(8)'s own
/// words (`auto`, `nofail`, `x-*`) and LXC's `create=dir|file` and
/// `optional` are accepted and ignored here.
pub fn parse_mount_options<S: AsRef<str>>(opts: &[S]) -> Result<MountOptions> {
    let mut out = MountOptions::default();
    let mut data = Vec::new();
    for option in opts.iter().flat_map(|o| o.as_ref().split(',')) {
        let option = option.trim();
        if option.is_empty() {
            continue;
        }
        if let Some(kind) = option.strip_prefix("create=") {
            if kind != "dir" && kind != "file" {
                return Err(Error::MountOption {
                    option: option.to_owned(),
                    reason: "create= takes dir or file",
                });
            }
        }
        match flag_option(option) {
            Some(Opt::Set(f)) => out.flags |= f,
            Some(Opt::Clear(f)) => out.flags &= !f,
            Some(Opt::Propagation(f)) => out.propagation |= f,
            Some(Opt::Ignore) => {}
            None => {
                if option.contains(char::is_whitespace) {
                    return Err(Error::MountOption {
                        option: option.to_owned(),
                        reason: "options cannot contain blanks",
                    });
                }
                data.push(option);
            }
        }
    }
    out.data = data.join(",");
    Ok(out)
}

impl MountSpec {
    /// The mount of an fstab entry, on `target` inside the rootfs (the
    /// entry's own target, or where the caller resolved it to).
    pub fn from_fstab(entry: FstabEntry, target: impl Into<PathBuf>) -> Self {
        MountSpec {
            source: entry.source,
            target: target.into(),
            fstype: entry.fstype,
            options: entry.options,
            create: entry.create,
            optional: entry.optional,
        }
    }

    /// Reads one fstab line (`lxc.mount.entry` value): `source target
    /// fstype [options [dump [pass]]]`, fields separated by blanks, `\040`
    /// for a blank inside a field. `create=dir|file` and `optional` go to
    /// their fields; the other options stay in `options` (default:
    /// `defaults`).
    pub fn parse_fstab(line: &str) -> Result<Self> {
        let entry = FstabEntry::parse(line).map_err(|e| Error::FstabLine {
            line: line.to_owned(),
            reason: e.reason(),
        })?;
        let target = PathBuf::from(&entry.target);
        let spec = MountSpec::from_fstab(entry, target);
        // Validate now, so a bad line fails at parse time.
        parse_mount_options(&spec.options)?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const RO: MsFlags = MsFlags::MS_RDONLY;
    const NOSUID: MsFlags = MsFlags::MS_NOSUID;
    const NODEV: MsFlags = MsFlags::MS_NODEV;
    const NOEXEC: MsFlags = MsFlags::MS_NOEXEC;
    const BIND: MsFlags = MsFlags::MS_BIND;
    const REC: MsFlags = MsFlags::MS_REC;
    const NONE: MsFlags = MsFlags::empty();

    #[rstest]
    #[case(&["defaults"], NONE, NONE, "")]
    #[case(&["defaults,create=dir"], NONE, NONE, "")]
    #[case(&["ro"], RO, NONE, "")]
    #[case(&["ro,rw"], NONE, NONE, "")]
    #[case(&["rw", "ro"], RO, NONE, "")]
    #[case(&["nosuid,nodev,noexec"], NOSUID.union(NODEV).union(NOEXEC), NONE, "")]
    #[case(&["nosuid,suid"], NONE, NONE, "")]
    #[case(&["bind"], BIND, NONE, "")]
    #[case(&["rbind,ro"], BIND.union(REC).union(RO), NONE, "")]
    #[case(&["bind,rslave"], BIND, MsFlags::MS_SLAVE.union(REC), "")]
    #[case(&["private"], NONE, MsFlags::MS_PRIVATE, "")]
    #[case(&["runbindable"], NONE, MsFlags::MS_UNBINDABLE.union(REC), "")]
    #[case(&["rshared"], NONE, MsFlags::MS_SHARED.union(REC), "")]
    #[case(&["size=10m,mode=1777,nosuid"], NOSUID, NONE, "size=10m,mode=1777")]
    #[case(&["defaults,uid=0", "gid=5"], NONE, NONE, "uid=0,gid=5")]
    #[case(&["relatime,noatime,nodiratime"], MsFlags::MS_RELATIME.union(MsFlags::MS_NOATIME).union(MsFlags::MS_NODIRATIME), NONE, "")]
    #[case(&["strictatime,nostrictatime"], NONE, NONE, "")]
    #[case(&["remount,ro,bind"], MsFlags::MS_REMOUNT.union(RO).union(BIND), NONE, "")]
    #[case(&["sync,dirsync"], MsFlags::MS_SYNCHRONOUS.union(MsFlags::MS_DIRSYNC), NONE, "")]
    #[case(&["noauto,nofail,x-systemd.automount,_netdev,optional,create=file"], NONE, NONE, "")]
    #[case(&["", " ro ", ""], RO, NONE, "")]
    #[case(&["newinstance,ptmxmode=0666"], NONE, NONE, "newinstance,ptmxmode=0666")]
    fn option_table(
        #[case] opts: &[&str],
        #[case] flags: MsFlags,
        #[case] propagation: MsFlags,
        #[case] data: &str,
    ) {
        let parsed = parse_mount_options(opts).unwrap();
        assert_eq!(
            parsed,
            MountOptions {
                flags,
                propagation,
                data: data.to_owned()
            },
            "{opts:?}"
        );
    }

    #[rstest]
    #[case("create=pipe", "create= takes dir or file")]
    fn bad_options(#[case] opt: &str, #[case] reason: &str) {
        let err = parse_mount_options(&[opt]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Invalid mount option '{opt}': {reason}")
        );
    }

    #[test]
    fn fstab_line_with_lxc_options() {
        let spec = MountSpec::parse_fstab("tmpfs tmp tmpfs defaults,create=dir 0 0").unwrap();
        assert_eq!(
            spec,
            MountSpec {
                source: "tmpfs".into(),
                target: "tmp".into(),
                fstype: "tmpfs".into(),
                options: vec!["defaults".into()],
                create: Some(CreateKind::Dir),
                optional: false,
            }
        );
        let spec =
            MountSpec::parse_fstab("/dev/fuse dev/fuse none bind,create=file,optional,ro").unwrap();
        assert_eq!(spec.create, Some(CreateKind::File));
        assert!(spec.optional);
        assert_eq!(spec.options, vec!["bind".to_owned(), "ro".to_owned()]);
        let spec = MountSpec::parse_fstab("proc /proc proc").unwrap();
        assert_eq!(spec.options, vec!["defaults".to_owned()]);
        assert_eq!(spec.target, PathBuf::from("/proc"));
    }

    /// The config and the rootfs set-up read a line with one parser: LXC's
    /// `relative` is not passed to the filesystem as data (it was, when
    /// each had its own).
    #[test]
    fn lxc_relative_is_not_filesystem_data() {
        let spec = MountSpec::parse_fstab("data mnt/data none bind,relative,ro 0 0").unwrap();
        assert_eq!(spec.options, vec!["bind".to_owned(), "ro".to_owned()]);
        assert_eq!(parse_mount_options(&spec.options).unwrap().data, "");
    }

    #[test]
    fn fstab_escapes() {
        let spec = MountSpec::parse_fstab(r"/srv/my\040data mnt/my\040data none bind 0 0").unwrap();
        assert_eq!(spec.source, "/srv/my data");
        assert_eq!(spec.target, PathBuf::from("mnt/my data"));
    }

    #[rstest]
    #[case("tmpfs tmp", "expected at least source, target and type")]
    #[case(
        "a b c d 0 0 extra",
        "too many fields (a blank in a path is written \\040)"
    )]
    #[case("a b c d zero", "the dump and pass fields must be numbers")]
    #[case("a b c create=socket", "create= takes dir or file")]
    fn bad_fstab_lines(#[case] line: &str, #[case] reason: &str) {
        let err = MountSpec::parse_fstab(line).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Invalid fstab line '{line}': {reason}")
        );
    }
}
