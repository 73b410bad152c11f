//! A cgroup for a user's container on a cgroup v2 host under systemd: a
//! transient scope with `Delegate=yes`, asked of the user's own systemd
//! manager over D-Bus (`StartTransientUnit` on the user bus, as
//! `systemd-run --user --scope` does), holding the process that starts
//! the container. The scope's directory is then the user's: the
//! container's groups go below it.
//!
//! zbus runs a tokio runtime with threads, and a process that forks
//! afterwards must have none (see DESIGN.md): the request is made by a
//! short-lived child, which asks for the scope with its parent's pid,
//! waits for systemd's `JobRemoved`, reports and exits.

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use zbus::zvariant::{OwnedObjectPath, Value};

/// How long the request may take: connection, the job, its signal.
const TIMEOUT: Duration = Duration::from_secs(20);

/// systemd's manager object, on the system bus and on a user's.
const SYSTEMD: &str = "org.freedesktop.systemd1";
const SYSTEMD_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

/// Why the user's container got no scope.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScopeError {
    #[error("user {uid} has no systemd user manager bus (no {path}; dbus-user-session makes it)")]
    NoBus { uid: u32, path: PathBuf },
    #[error("cannot run the process that asks systemd for scope {unit}: {reason}")]
    Helper { unit: String, reason: String },
    #[error("the user's systemd manager did not start scope {unit}: {reason}")]
    Request { unit: String, reason: String },
    #[error("systemd started scope {unit}, but this process is in cgroup {path} (from /proc/self/cgroup), not in it")]
    NotInScope { unit: String, path: String },
}

/// The address of the user's bus: `DBUS_SESSION_BUS_ADDRESS` when set,
/// else the socket `bus` in `$XDG_RUNTIME_DIR` (`/run/user/UID`), which
/// dbus-user-session makes for a session's or a lingering user's
/// manager. Without either, the path that was looked for. (The
/// manager's own `systemd/private` socket is not used: zbus refuses the
/// messages systemd sends there, which carry no sender.)
pub(crate) fn bus_address(
    session: Option<&str>,
    runtime_dir: Option<&Path>,
    uid: u32,
) -> std::result::Result<String, PathBuf> {
    if let Some(a) = session.filter(|a| !a.is_empty()) {
        return Ok(a.to_string());
    }
    let path = runtime_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(format!("/run/user/{uid}")))
        .join("bus");
    if path.exists() {
        Ok(format!("unix:path={}", path.display()))
    } else {
        Err(path)
    }
}

/// The scope's unit name: `enclos-NAME-PID.scope`, with the characters a
/// unit name cannot hold escaped as systemd-escape does (`\x2f`).
pub(crate) fn unit_name(container: &str, pid: u32) -> String {
    let mut name = String::from("enclos-");
    for b in container.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'.' | b'-') {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("\\x{b:02x}"));
        }
    }
    format!("{name}-{pid}.scope")
}

/// The properties of the scope: the process it holds, the delegation,
/// and collection when it ends (a failed scope is not kept).
pub(crate) fn properties(container: &str, pid: u32) -> Vec<(&'static str, Value<'static>)> {
    vec![
        (
            "Description",
            Value::from(format!("enclos container {container}")),
        ),
        ("PIDs", Value::from(vec![pid])),
        ("Delegate", Value::from(true)),
        ("CollectMode", Value::from("inactive-or-failed")),
    ]
}

/// The cgroup v2 path (relative to the hierarchy's root) in the text of
/// `/proc/PID/cgroup`, when it names the scope `unit` as its last part.
pub(crate) fn scope_path(proc_cgroup: &str, unit: &str) -> std::result::Result<String, String> {
    let path = proc_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or("")
        .trim()
        .trim_start_matches('/')
        .to_string();
    if path.rsplit('/').next() == Some(unit) {
        Ok(path)
    } else {
        Err(path)
    }
}

/// Asks the user's systemd manager for a delegated scope holding this
/// process, named after `container`; returns the scope's path relative
/// to the cgroup v2 root, read back from `/proc/self/cgroup`.
pub(crate) fn enter(container: &str) -> std::result::Result<String, ScopeError> {
    let pid = std::process::id();
    let unit = unit_name(container, pid);
    enter_unit(unit, properties(container, pid))
}

/// The path of the user's systemd manager's group (`.../user@UID.service`)
/// in a cgroup v2 path, when the path lies below it.
pub(crate) fn manager_of(path: &str, uid: u32) -> Option<&str> {
    let service = format!("user@{uid}.service");
    let path = path.trim_start_matches('/');
    let mut end = 0;
    for part in path.split('/') {
        end += part.len();
        if part == service {
            return Some(&path[..end]);
        }
        end += 1;
    }
    None
}

/// Whether a process in cgroup `own` must first move below the user's
/// manager to join `target`, a group below `user@UID.service`: on cgroup
/// v2 a move needs write access to the common ancestor's `cgroup.procs`,
/// and outside the manager (a login's `session-N.scope`) that ancestor
/// is root's `user-UID.slice`.
pub(crate) fn must_join_manager(own: &str, target: &str, uid: u32) -> bool {
    if uid == 0 {
        return false;
    }
    let Some(manager) = manager_of(target, uid) else {
        return false;
    };
    let own = own.trim_start_matches('/');
    !own.strip_prefix(manager)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// Before this process (or a child it forks) joins `target`, a group of
/// a user's container below the user's systemd manager: moves it into a
/// transient scope of that manager (`enclos-attach-NAME-PID.scope`,
/// which systemd removes once empty) when it is outside, so that the
/// move's common ancestor is the user's. Nothing to do for root, on v1,
/// or when already below the manager.
pub(crate) fn join_manager(container: &str, target: &str) -> std::result::Result<(), ScopeError> {
    let uid = nix::unistd::getuid().as_raw();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let own = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or("")
        .trim();
    if !must_join_manager(own, target, uid) {
        return Ok(());
    }
    let pid = std::process::id();
    let unit = unit_name(&format!("attach-{container}"), pid);
    enter_unit(unit, attach_properties(container, pid)).map(|_| ())
}

/// The properties of an attach's scope: the process it holds, and
/// collection when it ends.
pub(crate) fn attach_properties(container: &str, pid: u32) -> Vec<(&'static str, Value<'static>)> {
    vec![
        (
            "Description",
            Value::from(format!("enclos attach to container {container}")),
        ),
        ("PIDs", Value::from(vec![pid])),
        ("CollectMode", Value::from("inactive-or-failed")),
    ]
}

/// Asks the user's systemd manager for scope `unit` with `props` (which
/// name this process); returns the scope's path relative to the cgroup
/// v2 root, read back from `/proc/self/cgroup`.
fn enter_unit(
    unit: String,
    props: Vec<(&'static str, Value<'static>)>,
) -> std::result::Result<String, ScopeError> {
    let uid = nix::unistd::getuid().as_raw();
    let session = std::env::var("DBUS_SESSION_BUS_ADDRESS").ok();
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    let address = bus_address(session.as_deref(), runtime.as_deref(), uid)
        .map_err(|path| ScopeError::NoBus { uid, path })?;
    let helper = |reason: String| ScopeError::Helper {
        unit: unit.clone(),
        reason,
    };
    let (read, write) = nix::unistd::pipe().map_err(|e| helper(e.to_string()))?;
    let (_, pidfd) = enclos_namespaces::spawn_pidfd(&[], || {
        ask_in_child(&address, &unit, props.clone(), write.as_fd())
    })
    .map_err(|e| helper(crate::error::chain(&e)))?;
    drop(write);
    if !pidfd.wait_exit(Some(TIMEOUT)).unwrap_or(false) {
        let _ = pidfd.send_signal(nix::sys::signal::Signal::SIGKILL);
    }
    let status = pidfd.reap().map_err(|e| helper(crate::error::chain(&e)))?;
    let mut report = String::new();
    let _ = std::fs::File::from(read).read_to_string(&mut report);
    match status {
        nix::sys::wait::WaitStatus::Exited(_, 0) => {}
        _ if !report.is_empty() => {
            return Err(ScopeError::Request {
                unit,
                reason: report,
            })
        }
        nix::sys::wait::WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGALRM, _) => {
            return Err(ScopeError::Request {
                unit,
                reason: format!("no answer within {}s", TIMEOUT.as_secs()),
            })
        }
        other => {
            return Err(ScopeError::Request {
                unit,
                reason: format!("the process that asked ended with {other:?}"),
            })
        }
    }
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    scope_path(&text, &unit).map_err(|path| ScopeError::NotInScope { unit, path })
}

/// The child's side: the request, its outcome written to `report` (empty
/// when the job is done), and the exit code.
fn ask_in_child(
    address: &str,
    unit: &str,
    props: Vec<(&'static str, Value<'static>)>,
    report: BorrowedFd<'_>,
) -> i32 {
    // A request that hangs ends the child (SIGALRM's default action).
    let _ = nix::unistd::alarm::set(u32::try_from(TIMEOUT.as_secs()).unwrap_or(20));
    match request(address, unit, props) {
        Ok(()) => 0,
        Err(reason) => {
            let _ = nix::unistd::write(report, reason.as_bytes());
            1
        }
    }
}

/// StartTransientUnit on the user's manager, then the wait for the job's
/// `JobRemoved` (subscribed to before the call, so it cannot be missed).
fn request(
    address: &str,
    unit: &str,
    props: Vec<(&'static str, Value<'static>)>,
) -> Result<(), String> {
    use zbus::blocking::connection::Builder;
    let conn = Builder::address(address)
        .and_then(Builder::build)
        .map_err(|e| format!("cannot connect to the user bus {address}: {e}"))?;
    let manager = zbus::blocking::Proxy::new(&conn, SYSTEMD, SYSTEMD_PATH, MANAGER)
        .map_err(|e| e.to_string())?;
    let jobs = manager
        .receive_signal("JobRemoved")
        .map_err(|e| e.to_string())?;
    let aux: Vec<(&str, Vec<(&str, Value<'_>)>)> = Vec::new();
    let job: OwnedObjectPath = manager
        .call("StartTransientUnit", &(unit, "fail", props, aux))
        .map_err(|e| e.to_string())?;
    for msg in jobs {
        let Ok((_, path, _, result)) = msg
            .body()
            .deserialize::<(u32, OwnedObjectPath, String, String)>()
        else {
            continue;
        };
        if path == job {
            return match result.as_str() {
                "done" => Ok(()),
                other => Err(format!("its job ended with '{other}'")),
            };
        }
    }
    Err("the bus closed before the job ended".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_address_comes_first() {
        assert_eq!(
            bus_address(Some("unix:path=/x/bus"), None, 1000).unwrap(),
            "unix:path=/x/bus"
        );
    }

    #[test]
    fn the_runtime_dir_bus_is_used_when_it_exists() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bus"), "").unwrap();
        assert_eq!(
            bus_address(Some(""), Some(dir.path()), 1000).unwrap(),
            format!("unix:path={}/bus", dir.path().display())
        );
    }

    #[test]
    fn no_bus_names_the_socket_looked_for() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            bus_address(None, Some(dir.path()), 1000).unwrap_err(),
            dir.path().join("bus")
        );
        assert_eq!(
            bus_address(None, None, 4242424).unwrap_err(),
            PathBuf::from("/run/user/4242424/bus")
        );
    }

    #[test]
    fn unit_names_escape_what_systemd_refuses() {
        assert_eq!(unit_name("bb-np_1.x", 42), "enclos-bb-np_1.x-42.scope");
        assert_eq!(unit_name("a b/c", 7), "enclos-a\\x20b\\x2fc-7.scope");
    }

    #[test]
    fn properties_delegate_and_hold_the_pid() {
        let props = properties("bb", 42);
        let get = |k: &str| props.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        assert_eq!(get("Delegate"), Some(Value::from(true)));
        assert_eq!(get("PIDs"), Some(Value::from(vec![42u32])));
        assert_eq!(get("PIDs").unwrap().value_signature().to_string(), "au");
        assert_eq!(get("CollectMode"), Some(Value::from("inactive-or-failed")));
    }

    #[test]
    fn the_request_body_has_systemds_signature() {
        use zbus::zvariant::Type;
        type Body<'a> = (
            &'a str,
            &'a str,
            Vec<(&'a str, Value<'a>)>,
            Vec<(&'a str, Vec<(&'a str, Value<'a>)>)>,
        );
        assert_eq!(Body::SIGNATURE.to_string(), "(ssa(sv)a(sa(sv)))");
    }

    #[test]
    fn attach_joins_the_manager_only_from_outside_it() {
        let target = "user.slice/user-1000.slice/user@1000.service/app.slice/enclos-bb-42.scope/enclos.payload.bb";
        assert_eq!(
            manager_of(target, 1000),
            Some("user.slice/user-1000.slice/user@1000.service")
        );
        assert_eq!(manager_of(target, 1001), None);
        let session = "/user.slice/user-1000.slice/session-3.scope";
        assert!(must_join_manager(session, target, 1000));
        let inside = "/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope";
        assert!(!must_join_manager(inside, target, 1000));
        assert!(must_join_manager(
            "/user.slice/user-1000.slice/user@1000.serviceX/a",
            target,
            1000
        ));
        assert!(!must_join_manager(session, target, 0));
        assert!(!must_join_manager(session, "user/alice/0/bb", 1000));
    }

    #[test]
    fn attach_scopes_hold_the_pid_without_delegation() {
        let props = attach_properties("bb", 42);
        assert!(props.iter().all(|(n, _)| *n != "Delegate"));
        assert!(props
            .iter()
            .any(|(n, v)| *n == "PIDs" && *v == Value::from(vec![42u32])));
        assert_eq!(unit_name("attach-bb", 42), "enclos-attach-bb-42.scope");
    }

    #[test]
    fn the_scope_path_is_read_from_proc_cgroup() {
        let unit = "enclos-bb-42.scope";
        let text =
            "0::/user.slice/user-1000.slice/user@1000.service/app.slice/enclos-bb-42.scope\n";
        assert_eq!(
            scope_path(text, unit).unwrap(),
            "user.slice/user-1000.slice/user@1000.service/app.slice/enclos-bb-42.scope"
        );
        assert_eq!(
            scope_path("0::/user.slice/session-3.scope\n", unit).unwrap_err(),
            "user.slice/session-3.scope"
        );
        assert_eq!(scope_path("4:memory:/\n", unit).unwrap_err(), "");
    }
}
