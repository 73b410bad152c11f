//! Work done as a container's root inside a user namespace with the
//! container's id maps: the template of a create with `lxc.idmap`, the
//! removal of such a container's files by a user who is not root, and
//! `enclos usernsexec`.
//!
//! As lxc-create does, the namespace maps the caller's own uid and gid too
//! (at the first ids the container's maps leave free): the caller's files
//! (its home, the lxcpath, the container's directory) are then owned by
//! ids the namespace knows, so its root may work in them, and may give the
//! container's directory and rootfs to the container's root.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use std::path::{Path, PathBuf};

use enclos_idmap::{Allocation, IdKind, IdMap, IdMaps, Owner, SubIdPaths};
use enclos_namespaces::{spawn_userns, MapsError, Namespace, SyncChild, UsernsOptions};
use nix::sys::wait::WaitStatus;

/// What can go wrong running work in a user namespace.
#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    #[error(transparent)]
    Spawn(#[from] enclos_namespaces::UsernsError),

    /// The work failed inside the namespace; `reason` is its report.
    #[error("Cannot {what} as the container's root in its user namespace: {reason}")]
    Failed { what: String, reason: String },

    #[error("Cannot {what} in a user namespace")]
    Sys {
        what: &'static str,
        #[source]
        source: nix::Error,
    },

    #[error("Cannot run {command}: {reason}")]
    Exec { command: String, reason: String },

    /// The maps ask for ids the user was not given.
    #[error("The id maps ask for ids that user '{user}' may not map: {findings}")]
    NotAllowed { user: String, findings: String },

    #[error(transparent)]
    IdMap(#[from] enclos_idmap::Error),

    #[error("Cannot find uid {uid} in {passwd}; without a user name its ranges in /etc/subuid cannot be looked up")]
    UnknownUser { uid: u32, passwd: PathBuf },
}

/// The user database the caller's name is read from, as a file: the
/// static binary's getpwuid may crash in NSS code.
pub use enclos_cgroupfs::PASSWD;

/// The calling user, by its real uid looked up in `passwd`.
pub fn current_owner(passwd: &Path) -> Result<Owner> {
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let name = enclos_cgroupfs::user_name(passwd, uid)
        .ok()
        .flatten()
        .ok_or_else(|| UsernsError::UnknownUser {
            uid,
            passwd: passwd.to_path_buf(),
        })?;
    Ok(Owner { name, uid, gid })
}

/// The maps lxc-usernsexec uses without `-m`: the caller's first ranges of
/// /etc/subuid and /etc/subgid from id 0.
pub fn default_maps(paths: &SubIdPaths) -> Result<IdMaps> {
    let owner = current_owner(Path::new(PASSWD))?;
    let allocation = Allocation::read(paths)?;
    Ok(enclos_idmap::default_maps_for(&allocation, &owner)?)
}

/// For a caller who is not root: the lines of `maps` that newuidmap or
/// newgidmap would refuse, as one error naming each missing range and
/// its fix. Root writes any map itself and is not checked.
pub fn check_allowed(maps: &IdMaps, paths: &SubIdPaths) -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let owner = current_owner(Path::new(PASSWD))?;
    let allocation = Allocation::read(paths)?;
    let findings = enclos_idmap::check(maps, &allocation, &owner);
    if findings.is_empty() {
        return Ok(());
    }
    Err(UsernsError::NotAllowed {
        user: owner.name,
        findings: findings
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join("; and "),
    })
}

type Result<T, E = UsernsError> = std::result::Result<T, E>;

/// One `-m` of lxc-usernsexec: `u|g|b:NSID:HOSTID:RANGE`, `b` giving a
/// line of each kind. The error says what was expected.
pub fn parse_usernsexec_map(spec: &str) -> Result<Vec<IdMap>, String> {
    let expected = || format!("'{spec}' is not u|g|b:NSID:HOSTID:RANGE (e.g. b:0:165536:65536)");
    let (kind, rest) = spec.split_once(':').ok_or_else(expected)?;
    let kinds: &[&str] = match kind {
        "u" => &["u"],
        "g" => &["g"],
        "b" => &["u", "g"],
        _ => return Err(expected()),
    };
    if rest.split(':').count() != 3 {
        return Err(expected());
    }
    kinds
        .iter()
        .map(|k| {
            IdMap::parse(&format!("{k} {}", rest.replace(':', " ")))
                .map_err(|why| format!("{}: expected {why}", expected()))
        })
        .collect()
}

/// The first id of `kind` that no line of `maps` maps inside the
/// namespace (LXC's choice for the caller's own id).
fn first_free(maps: &IdMaps, kind: IdKind) -> Option<u32> {
    let mut id: u32 = 0;
    while let Some(m) = maps.of(kind).find(|m| contains(m, id)) {
        id = m.container_id.checked_add(m.range)?;
    }
    Some(id)
}

fn contains(m: &IdMap, container_id: u32) -> bool {
    container_id
        .checked_sub(m.container_id)
        .is_some_and(|o| o < m.range)
}

/// `maps` plus the caller's uid and gid, each at the first id the maps
/// leave free inside, unless a line already maps it on the host side.
pub fn with_caller(maps: &IdMaps) -> IdMaps {
    let mut all = maps.all().to_vec();
    let own = [
        (IdKind::Uid, nix::unistd::geteuid().as_raw()),
        (IdKind::Gid, nix::unistd::getegid().as_raw()),
    ];
    for (kind, host_id) in own {
        if maps.container_id(kind, host_id).is_some() {
            continue;
        }
        if let Some(container_id) = first_free(maps, kind) {
            all.push(IdMap {
                kind,
                container_id,
                host_id,
                range: 1,
            });
        }
    }
    IdMaps::new(all)
}

fn write_maps(maps: &IdMaps) -> impl FnOnce(nix::unistd::Pid) -> Result<(), MapsError> + '_ {
    move |pid| {
        enclos_idmap::write_maps(pid.as_raw(), maps)
            .map(drop)
            .map_err(MapsError::from)
    }
}

/// Where the work writes its lines for the parent.
pub(crate) struct Lines(File);

impl Lines {
    /// Sends one line (newlines and backslashes escaped).
    pub fn send(&mut self, line: &str) {
        let escaped = line.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.0, "{escaped}");
    }
}

fn unescape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// Runs `work` as root in a new user namespace with `maps` (plus the
/// caller's ids, [`with_caller`]), and a mount namespace of its own.
/// Each line `work` sends reaches `on_line` as it comes; an `Err` of
/// `work` is this function's [`UsernsError::Failed`], `what` saying what
/// was being done.
pub(crate) fn run_mapped(
    maps: &IdMaps,
    what: &str,
    work: impl FnOnce(&mut Lines) -> Result<(), String>,
    on_line: &mut dyn FnMut(&str),
) -> Result<()> {
    let all = with_caller(maps);
    check_allowed(&all, &SubIdPaths::default())?;
    let (r, w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|source| UsernsError::Sys {
            what: "create a pipe",
            source,
        })?;
    let opts = UsernsOptions {
        namespaces: vec![Namespace::Mount],
        ..Default::default()
    };
    let child = spawn_userns(&opts, write_maps(&all), move |sync: &SyncChild| {
        let mut lines = Lines(File::from(w));
        match work(&mut lines) {
            Ok(()) => 0,
            Err(text) => {
                let _ = sync.fail(&text);
                1
            }
        }
    })?;
    for line in BufReader::new(File::from(r)).lines() {
        match line {
            Ok(line) => on_line(&unescape(&line)),
            Err(_) => break,
        }
    }
    let status = child.pidfd.reap().map_err(|e| UsernsError::Failed {
        what: what.to_string(),
        reason: e.to_string(),
    })?;
    let failed = |reason: String| UsernsError::Failed {
        what: what.to_string(),
        reason,
    };
    match status {
        WaitStatus::Exited(_, 0) => Ok(()),
        WaitStatus::Exited(_, code) => {
            Err(failed(match child.sync.recv(Duration::from_millis(100)) {
                Err(enclos_namespaces::Error::PeerFailed { message, .. }) => message,
                _ => format!("it exited with status {code}"),
            }))
        }
        other => Err(failed(format!("it ended abnormally ({other:?})"))),
    }
}

/// Runs `command` as root in a new user namespace with `maps` and a mount
/// namespace of its own, as lxc-usernsexec does, and returns its exit code
/// (128 + the signal's number when a signal killed it).
pub fn usernsexec(maps: &IdMaps, command: &[String]) -> Result<i32> {
    let Some(program) = command.first() else {
        return Err(UsernsError::Exec {
            command: String::new(),
            reason: "no command given".into(),
        });
    };
    let args: Vec<std::ffi::CString> = command
        .iter()
        .map(|a| std::ffi::CString::new(a.as_bytes()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| UsernsError::Exec {
            command: program.clone(),
            reason: "an argument holds a NUL byte".into(),
        })?;
    check_allowed(maps, &SubIdPaths::default())?;
    let opts = UsernsOptions {
        namespaces: vec![Namespace::Mount],
        ..Default::default()
    };
    let child = spawn_userns(&opts, write_maps(maps), |sync: &SyncChild| {
        // The host's mounts stay the host's: nothing mounted here
        // propagates back.
        let _ = nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            nix::mount::MsFlags::MS_SLAVE | nix::mount::MsFlags::MS_REC,
            None::<&str>,
        );
        let err = nix::unistd::execvp(&args[0], &args).unwrap_err();
        let _ = sync.fail(&format!("{err}"));
        127
    })?;
    let status = child.pidfd.reap().map_err(|e| UsernsError::Exec {
        command: program.clone(),
        reason: e.to_string(),
    })?;
    match status {
        WaitStatus::Exited(_, 127) => match child.sync.recv(Duration::from_millis(100)) {
            Err(enclos_namespaces::Error::PeerFailed { message, .. }) => Err(UsernsError::Exec {
                command: program.clone(),
                reason: message,
            }),
            _ => Ok(127),
        },
        WaitStatus::Exited(_, code) => Ok(code),
        WaitStatus::Signaled(_, signal, _) => Ok(128 + signal as i32),
        _ => Ok(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(lines: &[&str]) -> IdMaps {
        IdMaps::new(lines.iter().map(|l| IdMap::parse(l).unwrap()).collect())
    }

    #[test]
    fn the_caller_goes_after_the_containers_ids() {
        let m = maps(&["u 0 165536 65536", "g 0 165536 65536"]);
        assert_eq!(first_free(&m, IdKind::Uid), Some(65536));
        let m = maps(&["u 0 165536 10", "u 10 300000 5", "g 5 165536 1"]);
        assert_eq!(first_free(&m, IdKind::Uid), Some(15));
        assert_eq!(first_free(&m, IdKind::Gid), Some(0));
        let all = with_caller(&maps(&["u 0 165536 65536", "g 0 165536 65536"]));
        let me = nix::unistd::geteuid().as_raw();
        assert_eq!(all.container_id(IdKind::Uid, me), Some(65536));
        assert_eq!(all.all().len(), 4);
    }

    #[test]
    fn usernsexec_maps() {
        assert_eq!(
            parse_usernsexec_map("b:0:165536:65536").unwrap(),
            [
                IdMap::parse("u 0 165536 65536").unwrap(),
                IdMap::parse("g 0 165536 65536").unwrap()
            ]
        );
        assert_eq!(
            parse_usernsexec_map("g:1:1000:1").unwrap(),
            [IdMap::parse("g 1 1000 1").unwrap()]
        );
        for bad in [
            "x:0:1:1",
            "u:0:1",
            "u 0 1 1",
            "u:0:1:1:1",
            "u:0:-1:1",
            "u:0:1:0",
        ] {
            let err = parse_usernsexec_map(bad).unwrap_err();
            assert!(err.starts_with(&format!("'{bad}' is not u|g|b")), "{err}");
        }
    }

    #[test]
    fn lines_survive_newlines_and_backslashes() {
        for text in ["plain", "two\nlines", "back\\slash\\n", "end\\"] {
            let escaped = text.replace('\\', "\\\\").replace('\n', "\\n");
            assert!(!escaped.contains('\n'));
            assert_eq!(unescape(&escaped), text);
        }
    }
}
