//! The instructors' Vagrantfile (`vagrant/Vagrantfile`) is valid:
//! `vagrant validate`, with `--ignore-provider` when no provider (libvirt
//! with its daemon, or VirtualBox) is installed to check the providers'
//! blocks against.
//!
//! Without vagrant the test skips with a printed reason (`apt-get install
//! vagrant`, Debian 12 has it), unless `ENCLOS_REQUIRE_PRIVILEGED=1`
//! (`.ci/run`, whose deps step installs it).

use std::path::Path;
use std::process::Command;

use enclos_tests::{missing_feature, workspace_root};

/// Whether a directory of `$PATH` holds `program`.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Whether a provider is there to validate the providers' blocks with.
fn provider_installed(vagrant_home: &Path) -> bool {
    if on_path("VBoxManage") {
        return true;
    }
    let plugins = Command::new("vagrant")
        .args(["plugin", "list"])
        .env("VAGRANT_HOME", vagrant_home)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    plugins.contains("vagrant-libvirt") && Path::new("/var/run/libvirt/libvirt-sock").exists()
}

#[test]
fn vagrantfile_validates() {
    let test = "vagrantfile_validates";
    if !on_path("vagrant") {
        missing_feature(
            test,
            "vagrant is not installed (apt-get install vagrant): the Vagrantfile is not validated",
        );
        return;
    }
    let dir = workspace_root().join("vagrant");
    assert!(
        dir.join("Vagrantfile").is_file(),
        "{test}: {} not found",
        dir.join("Vagrantfile").display()
    );
    // Vagrant's own state (~/.vagrant.d, vagrant/.vagrant) goes to a
    // temporary directory, not to the user's home or the repository.
    let state = tempfile::tempdir().expect("a temporary directory for vagrant's state");
    let home = state.path().join("home");
    let mut cmd = Command::new("vagrant");
    cmd.arg("validate")
        .current_dir(&dir)
        .env("VAGRANT_HOME", &home)
        .env("VAGRANT_DOTFILE_PATH", state.path().join("dotfile"))
        .env("VAGRANT_CHECKPOINT_DISABLE", "1")
        .env("VAGRANT_NO_COLOR", "1");
    if !provider_installed(&home) {
        println!("{test}: no Vagrant provider here: validating with --ignore-provider");
        cmd.arg("--ignore-provider");
    }
    let out = cmd.output().expect("vagrant runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{test}: `vagrant validate` in {} failed ({}):\n{text}",
        dir.display(),
        out.status
    );
    assert!(
        text.contains("validated successfully"),
        "{test}: `vagrant validate` did not say the Vagrantfile is valid:\n{text}"
    );
}
