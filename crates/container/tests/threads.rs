//! A library caller with threads gets an error from start and execute,
//! not a fork that runs our code beside a lock another thread may hold.

use std::sync::mpsc;

use enclos_container::{execute, start, Container, StartOptions};

#[test]
fn start_and_execute_refuse_a_process_with_threads() {
    let lxcpath = tempfile::tempdir().unwrap();
    let dir = lxcpath.path().join("c1");
    std::fs::create_dir(&dir).unwrap();
    std::fs::create_dir(dir.join("rootfs")).unwrap();
    std::fs::write(
        dir.join("config"),
        format!("lxc.rootfs.path = dir:{}\n", dir.join("rootfs").display()),
    )
    .unwrap();
    let c = Container::new(lxcpath.path(), "c1").unwrap();
    // A second thread for certain, whatever the harness runs tests on.
    let (stop, parked) = mpsc::channel::<()>();
    let other = std::thread::spawn(move || parked.recv());
    let started = start(&c, &StartOptions::default());
    let executed = execute(&c, vec!["true".into()], None);
    stop.send(()).unwrap();
    let _ = other.join();
    for (what, err) in [
        ("start", started.unwrap_err().to_string()),
        ("execute", executed.unwrap_err().to_string()),
    ] {
        assert!(
            err.starts_with(&format!("Cannot {what} container 'c1'"))
                && err.contains("several threads"),
            "{err}"
        );
    }
    // Nothing was started: no runtime files.
    assert!(!dir.join(".enclos/monitor.pid").exists());
}
