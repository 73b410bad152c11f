use super::*;
use std::ffi::CString;

fn filter(text: &str) -> Result<Filter> {
    Filter::compile(&Profile::parse(text, Path::new("/p/s"))?)
}

/// Runs `f` in a thread of its own with `filter` loaded (a filter stays
/// with its thread), returning what `f` returns.
fn confined<T: Send + 'static>(filter: Filter, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        filter
            .load()
            .expect("load the filter (root, or no_new_privs)");
        f()
    })
    .join()
    .unwrap()
}

/// errno of mkdir(path), or 0.
fn mkdir(path: &Path) -> i32 {
    match std::fs::create_dir(path) {
        Ok(()) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn denied_calls_get_their_errno_and_the_rest_runs() {
    if !is_root() {
        eprintln!("skipped: loading a filter without no_new_privs needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let f = filter("2\ndenylist\n[all]\nmkdir errno 1\nrmdir errno 5\n").unwrap();
    assert_eq!(f.programs(), 3, "x32 guard and one filter per errno");
    let d = dir.path().to_owned();
    let (made, removed) = confined(f, move || {
        let made = mkdir(&d.join("a"));
        (
            made,
            std::fs::remove_dir(&d).err().and_then(|e| e.raw_os_error()),
        )
    });
    assert_eq!(made, libc::EPERM);
    // An empty directory, which rmdir would remove.
    assert_eq!(removed, Some(libc::EIO));
    assert!(dir.path().exists());
    assert!(!dir.path().join("a").exists());
    // The test's own thread is not confined.
    assert_eq!(mkdir(&dir.path().join("b")), 0);
}

#[test]
fn conditions_select_calls() {
    if !is_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // mkdir(path, mode): refused only for mode 0o700.
    let f = filter("2\ndenylist\nmkdir errno 13 [1,448,==]\n").unwrap();
    let d = dir.path().to_owned();
    let got = confined(f, move || {
        let call = |name: &str, mode: u32| {
            let c = CString::new(d.join(name).into_os_string().into_encoded_bytes()).unwrap();
            // SAFETY: c is a valid C string for the call.
            let rc = unsafe { libc::mkdir(c.as_ptr(), mode) };
            if rc == 0 {
                0
            } else {
                std::io::Error::last_os_error().raw_os_error().unwrap()
            }
        };
        (call("a", 0o700), call("b", 0o755))
    });
    assert_eq!(got, (libc::EACCES, 0));
}

#[test]
fn an_allowlist_gives_the_default_to_the_rest() {
    if !is_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Everything a thread needs to run and end, and rmdir with errno 5.
    let f = filter(
        "2\nallowlist errno 38\nrt_sigprocmask\nmunmap\nmadvise\nexit\nfutex\nrmdir errno 5\nwrite\nsigaltstack\nrt_sigreturn\nsched_yield\nmmap\n",
    )
    .unwrap();
    let d = dir.path().to_owned();
    let got = confined(f, move || {
        let mk = mkdir(&d.join("a"));
        let rm = std::fs::remove_dir(&d).err().and_then(|e| e.raw_os_error());
        (mk, rm)
    });
    assert_eq!(got, (libc::ENOSYS, Some(libc::EIO)));
}

#[test]
fn other_arches_and_unknown_names_are_left_out() {
    let f = filter("2\ndenylist\n[i386]\nmkdir errno 1\n[all]\nno_such_call errno 1\n").unwrap();
    assert_eq!(f.programs(), 0);
    assert_eq!(
        f.notes(),
        ["/p/s:6: x86_64 has no syscall 'no_such_call': rule left out"]
    );
}

#[test]
fn notify_is_refused_with_its_line() {
    let e = filter("2\ndenylist\nmkdir errno 1\nioctl notify\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "/p/s:4: 'notify' hands the call to a user-space listener (lxc.seccomp.notify.proxy), which enclos does not run yet; use errno N or kill"
    );
    let e = filter("2\ndenylist notify\n").unwrap_err();
    assert!(e.to_string().starts_with("/p/s:2: 'notify'"), "{e}");
}

#[test]
fn common_profile_compiles() {
    let f = filter(crate::COMMON_PROFILE).unwrap();
    // x32 guard, errno 1, errno 13 (reject_force_umount).
    assert_eq!(f.programs(), 3);
    assert!(f.notes().is_empty());
}

#[test]
fn seccomp_status_line() {
    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status");
    std::fs::write(&status, "Name:\tx\nSeccomp:\t0\nSeccomp_filters:\t0\n").unwrap();
    assert!(!already_confined(&status).unwrap());
    std::fs::write(&status, "Name:\tx\nSeccomp:\t2\nSeccomp_filters:\t1\n").unwrap();
    assert!(already_confined(&status).unwrap());
}

/// errno of a raw syscall, or 0.
fn raw(nr: libc::c_long, args: [libc::c_long; 4]) -> i32 {
    // SAFETY: every call below passes null or invalid arguments that the
    // kernel (or the filter) rejects before touching memory or state.
    let rc = unsafe { libc::syscall(nr, args[0], args[1], args[2], args[3]) };
    if rc < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap()
    } else {
        0
    }
}

/// The calls of LXC's common.seccomp, each with arguments the kernel would
/// refuse with another errno, so that the filter's answer shows.
fn common_calls() -> Vec<(&'static str, i32)> {
    let nowhere = c"/nonexistent-enclos-mount".as_ptr() as libc::c_long;
    let no_module = c"enclos_no_such_module".as_ptr() as libc::c_long;
    let empty = c"".as_ptr() as libc::c_long;
    vec![
        // Flags no kernel knows: EINVAL without the filter.
        ("kexec_load", raw(libc::SYS_kexec_load, [0, 0, 0, -1])),
        (
            "open_by_handle_at",
            raw(libc::SYS_open_by_handle_at, [-1, 0, 0, 0]),
        ),
        ("init_module", raw(libc::SYS_init_module, [0, 0, empty, 0])),
        (
            "finit_module",
            raw(libc::SYS_finit_module, [-1, empty, 0, 0]),
        ),
        (
            "delete_module",
            raw(
                libc::SYS_delete_module,
                [no_module, libc::O_NONBLOCK as libc::c_long, 0, 0],
            ),
        ),
        (
            "umount2 MNT_FORCE",
            raw(
                libc::SYS_umount2,
                [nowhere, libc::MNT_FORCE as libc::c_long, 0, 0],
            ),
        ),
        ("umount2", raw(libc::SYS_umount2, [nowhere, 0, 0, 0])),
    ]
}

#[test]
fn common_profile_answers_with_lxc_errnos() {
    if !is_root() {
        return;
    }
    let free = std::thread::spawn(common_calls).join().unwrap();
    assert!(
        free.iter()
            .all(|(_, e)| *e != libc::EPERM && *e != libc::EACCES),
        "without the filter: {free:?}"
    );
    let got = confined(filter(crate::COMMON_PROFILE).unwrap(), common_calls);
    assert_eq!(
        got,
        [
            ("kexec_load", libc::EPERM),
            ("open_by_handle_at", libc::EPERM),
            ("init_module", libc::EPERM),
            ("finit_module", libc::EPERM),
            ("delete_module", libc::EPERM),
            ("umount2 MNT_FORCE", libc::EACCES),
            ("umount2", libc::ENOENT),
        ]
    );
}
