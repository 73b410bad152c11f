//! A child in a new user namespace that runs as root there once its parent
//! has written the namespace's id maps.
//!
//! [`spawn_userns`] clones a child into a new user namespace (and any other
//! namespaces asked for, which the new user namespace then owns). The child
//! waits on a [`sync_pair`](crate::sync_pair) while the parent writes its
//! maps through the caller's `write_maps` callback, which gets the child's
//! pid: this crate knows nothing of `/etc/subuid` or newuidmap, so an
//! unprivileged caller passes something like `enclos_idmap::write_maps`.
//! The child then switches to uid and gid 0 (or the ids asked for), drops
//! its supplementary groups where the kernel allows it (not after a
//! `setgroups` of `deny`, which newgidmap writes when a user maps their own
//! group), and runs the caller's closure, which may exec.
//!
//! ```no_run
//! use std::time::Duration;
//! use enclos_namespaces::{spawn_userns, UsernsOptions};
//!
//! let child = spawn_userns(
//!     &UsernsOptions::default(),
//!     |pid| {
//!         std::fs::write(format!("/proc/{pid}/uid_map"), "0 165536 65536\n")?;
//!         std::fs::write(format!("/proc/{pid}/gid_map"), "0 165536 65536\n")?;
//!         Ok(())
//!     },
//!     |_sync| if nix::unistd::getuid().is_root() { 0 } else { 1 },
//! )?;
//! let status = child.pidfd.reap()?;
//! # let _ = status;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::{Gid, Pid, Uid};

use crate::namespace::Namespace;
use crate::pidfd::PidFd;
use crate::spawn::spawn_pidfd;
use crate::sync::{sync_pair, SyncChild, SyncParent};

/// The parent's word: the maps are written.
const MAPS_WRITTEN: u8 = 1;
/// The child's word: it runs as the ids asked for.
const SWITCHED: u8 = 2;

/// What the error of a `write_maps` callback may be.
pub type MapsError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What [`spawn_userns`] is asked.
#[derive(Debug, Clone)]
pub struct UsernsOptions {
    /// Namespaces to create besides the user namespace (mount, pid, ...).
    pub namespaces: Vec<Namespace>,
    /// The uid the child switches to, as the new namespace sees it.
    pub uid: u32,
    /// The gid the child switches to, as the new namespace sees it.
    pub gid: u32,
    /// How long each side waits for the other's step.
    pub timeout: Duration,
}

impl Default for UsernsOptions {
    fn default() -> Self {
        UsernsOptions {
            namespaces: Vec::new(),
            uid: 0,
            gid: 0,
            timeout: Duration::from_secs(30),
        }
    }
}

/// What can go wrong starting the child.
#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    /// The clone failed (user namespaces disabled, the limit
    /// `user.max_user_namespaces` reached, ...).
    #[error("Cannot start a process in a new user namespace")]
    Spawn(#[source] crate::Error),
    /// The caller's callback failed; the child was killed.
    #[error("Cannot write the id maps of the new user namespace of process {pid}")]
    Maps {
        pid: i32,
        #[source]
        source: MapsError,
    },
    /// The child could not switch to the ids asked for (not mapped, ...).
    #[error("The process in the new user namespace cannot become uid {uid} and gid {gid} there")]
    Switch {
        uid: u32,
        gid: u32,
        #[source]
        source: crate::Error,
    },
}

/// A child started by [`spawn_userns`], past the switch of its ids and
/// running the caller's closure.
#[derive(Debug)]
pub struct UsernsChild {
    /// The child's pid, as the caller sees it.
    pub pid: Pid,
    /// A pidfd for it: the caller reaps the child through it.
    pub pidfd: PidFd,
    /// The parent's end of the sync pair, whose other end the closure
    /// got: to receive its failure report or further steps.
    pub sync: SyncParent,
}

/// Starts a child in a new user namespace (plus `opts.namespaces`), writes
/// its maps with `write_maps(child_pid)`, and lets it switch to
/// `opts.uid`/`opts.gid` and run `f`, whose return value is its exit code.
/// `f` gets the child's end of the sync pair to report a failure
/// ([`SyncChild::fail`]) or steps to the caller, who holds
/// [`UsernsChild::sync`].
///
/// On error nothing is left: a child that was started is killed and
/// reaped.
pub fn spawn_userns<M, F>(
    opts: &UsernsOptions,
    write_maps: M,
    f: F,
) -> Result<UsernsChild, UsernsError>
where
    M: FnOnce(Pid) -> Result<(), MapsError>,
    F: FnOnce(&SyncChild) -> i32,
{
    let (parent, child) = sync_pair().map_err(UsernsError::Spawn)?;
    let mut namespaces = vec![Namespace::User];
    namespaces.extend(opts.namespaces.iter().filter(|n| **n != Namespace::User));
    let (uid, gid, timeout) = (opts.uid, opts.gid, opts.timeout);
    let p = &parent;
    let (pid, pidfd) = spawn_pidfd(&namespaces, move || {
        let _ = p.close_in_child();
        if child.expect(MAPS_WRITTEN, timeout).is_err() {
            return 1;
        }
        if let Err(text) = switch_ids(uid, gid) {
            let _ = child.fail(&text);
            return 1;
        }
        if child.send(SWITCHED).is_err() {
            return 1;
        }
        f(&child)
    })
    .map_err(UsernsError::Spawn)?;
    let kill = |pidfd: &PidFd| {
        let _ = pidfd.send_signal(Signal::SIGKILL);
        let _ = pidfd.reap();
    };
    if let Err(source) = write_maps(pid) {
        kill(&pidfd);
        return Err(UsernsError::Maps {
            pid: pid.as_raw(),
            source,
        });
    }
    let switched = parent
        .send(MAPS_WRITTEN)
        .and_then(|()| parent.expect(SWITCHED, timeout));
    if let Err(source) = switched {
        kill(&pidfd);
        return Err(UsernsError::Switch { uid, gid, source });
    }
    Ok(UsernsChild {
        pid,
        pidfd,
        sync: parent,
    })
}

/// Whether this process may call setgroups(2): not once `deny` is in
/// /proc/self/setgroups.
fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() != "deny")
}

/// Switches a process that is in a user namespace with its maps written
/// to `uid` and `gid` there: gid, supplementary groups (where allowed),
/// then uid, as the uid switch drops the capabilities the others need
/// when it leaves root. The child of [`spawn_userns`] calls it, and so
/// may a process that joined or was cloned into such a namespace
/// otherwise. The text of an error says which id is not mapped.
pub fn switch_ids(uid: u32, gid: u32) -> Result<(), String> {
    let gid_ = Gid::from_raw(gid);
    nix::unistd::setresgid(gid_, gid_, gid_).map_err(|e| {
        format!("setresgid({gid}) failed ({e}): gid {gid} is not mapped in the namespace")
    })?;
    if setgroups_allowed() {
        match nix::unistd::setgroups(&[]) {
            Ok(()) | Err(nix::errno::Errno::EPERM) => {}
            Err(e) => return Err(format!("Cannot drop the supplementary groups: {e}")),
        }
    }
    let uid_ = Uid::from_raw(uid);
    nix::unistd::setresuid(uid_, uid_, uid_).map_err(|e| {
        format!("setresuid({uid}) failed ({e}): uid {uid} is not mapped in the namespace")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::wait::WaitStatus;

    fn write_root_map(pid: Pid, uid_map: &str) -> Result<(), MapsError> {
        std::fs::write(format!("/proc/{pid}/uid_map"), uid_map)?;
        std::fs::write(format!("/proc/{pid}/gid_map"), uid_map)?;
        Ok(())
    }

    fn status_of(pidfd: &PidFd) -> WaitStatus {
        crate::wait_child(pidfd, Duration::from_secs(30))
    }

    #[test]
    fn child_runs_as_root_of_the_new_namespace() {
        let _serial = crate::serial();
        if !crate::require_root("child_runs_as_root_of_the_new_namespace") {
            return;
        }
        let child = spawn_userns(
            &UsernsOptions {
                namespaces: vec![Namespace::Mount],
                ..Default::default()
            },
            |pid| write_root_map(pid, "0 2000000 65536\n"),
            |_| {
                let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
                let ids = nix::unistd::getresuid().ok().map(|r| r.real.as_raw());
                let gid = nix::unistd::getgid().as_raw();
                let fields: Vec<&str> = map.split_whitespace().collect();
                if ids == Some(0) && gid == 0 && fields == ["0", "2000000", "65536"] {
                    0
                } else {
                    3
                }
            },
        )
        .unwrap();
        // The host sees the child as the mapped root.
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.pid)).unwrap();
        let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        assert_eq!(
            uid_line.split_whitespace().nth(1),
            Some("2000000"),
            "{uid_line}"
        );
        assert_eq!(status_of(&child.pidfd), WaitStatus::Exited(child.pid, 0));
    }

    #[test]
    fn a_failing_callback_kills_the_child_and_says_why() {
        let _serial = crate::serial();
        let err = spawn_userns(
            &UsernsOptions::default(),
            |_| Err("newuidmap refused the map".into()),
            |_| 0,
        )
        .unwrap_err();
        match &err {
            UsernsError::Maps { source, .. } => {
                assert_eq!(source.to_string(), "newuidmap refused the map")
            }
            other => panic!("{other:?}"),
        }
        assert!(err
            .to_string()
            .starts_with("Cannot write the id maps of the new user namespace of process"));
    }

    #[test]
    fn an_unmapped_target_id_is_refused_with_the_childs_reason() {
        let _serial = crate::serial();
        if !crate::require_root("an_unmapped_target_id_is_refused_with_the_childs_reason") {
            return;
        }
        let err = spawn_userns(
            &UsernsOptions {
                uid: 5,
                gid: 0,
                ..Default::default()
            },
            |pid| write_root_map(pid, "0 2000000 1\n"),
            |_| 0,
        )
        .unwrap_err();
        let text = enclos_report::chain(&err).to_string();
        assert!(text.contains("cannot become uid 5"), "{text}");
        assert!(text.contains("uid 5 is not mapped"), "{text}");
    }

    #[test]
    fn the_closure_can_report_a_failure() {
        let _serial = crate::serial();
        if !crate::require_root("the_closure_can_report_a_failure") {
            return;
        }
        let child = spawn_userns(
            &UsernsOptions::default(),
            |pid| write_root_map(pid, "0 2000000 10\n"),
            |sync| {
                let _ = sync.fail("The template failed");
                4
            },
        )
        .unwrap();
        let err = child.sync.expect(9, Duration::from_secs(10)).unwrap_err();
        assert_eq!(err.to_string(), "The child failed: The template failed");
        assert_eq!(status_of(&child.pidfd), WaitStatus::Exited(child.pid, 4));
    }
}
