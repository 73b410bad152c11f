//! User namespaces enabled: `user.max_user_namespaces` above 0, and, on
//! kernels with Debian's and Ubuntu's switch, `kernel.unprivileged_userns_clone`
//! at 1 (for users) and `kernel.apparmor_restrict_unprivileged_userns` at 0.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use super::{Check, Finding, HostPaths, Subject};

const CHECK: Check = Check::UserNamespaces;

/// A sysctl's value, `None` when the kernel has no such file; the error is
/// the reason it could not be read.
fn sysctl(proc_sys: &Path, name: &str) -> Result<Option<String>, String> {
    let path = proc_sys.join(name.replace('.', "/"));
    match fs::read_to_string(&path) {
        Ok(v) => Ok(Some(v.trim().to_string())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// The command that sets a sysctl now and at every boot.
fn set_sysctl(name: &str, value: &str) -> String {
    format!(
        "as root: sysctl -w {name}={value}, and to keep it after a reboot: \
         echo '{name} = {value}' > /etc/sysctl.d/90-enclos-userns.conf"
    )
}

pub(super) fn check(host: &HostPaths, subject: &Subject) -> Vec<Finding> {
    let mut findings = Vec::new();
    let max = "user.max_user_namespaces";
    match sysctl(&host.proc_sys, max) {
        Err(e) => findings.push(Finding::problem(CHECK, e, "run enclos doctor where /proc is mounted")),
        Ok(None) => findings.push(Finding::problem(
            CHECK,
            format!("the kernel has no user namespaces ({max} is missing: built without CONFIG_USER_NS)"),
            "boot a kernel built with CONFIG_USER_NS=y (every distribution kernel is)",
        )),
        Ok(Some(v)) if v.parse::<u64>().is_ok_and(|n| n > 0) => {
            findings.push(Finding::ok(CHECK, format!("{max} = {v}")))
        }
        Ok(Some(v)) => findings.push(Finding::problem(
            CHECK,
            format!("{max} = {v}: no user namespace may be created"),
            set_sysctl(max, "15000"),
        )),
    }
    // Root is not bound by the switches below.
    let for_users = |detail: String| {
        if subject.is_root() {
            format!("{detail} (only users are bound by it, not root)")
        } else {
            detail
        }
    };
    let clone = "kernel.unprivileged_userns_clone";
    match sysctl(&host.proc_sys, clone) {
        Ok(Some(v)) if v != "1" && !subject.is_root() => findings.push(Finding::problem(
            CHECK,
            format!("{clone} = {v}: users may not create user namespaces"),
            set_sysctl(clone, "1"),
        )),
        Ok(Some(v)) => findings.push(Finding::ok(CHECK, for_users(format!("{clone} = {v}")))),
        Ok(None) => {}
        Err(e) => findings.push(Finding::warning(
            CHECK,
            e,
            "check the permissions of /proc/sys",
        )),
    }
    let apparmor = "kernel.apparmor_restrict_unprivileged_userns";
    match sysctl(&host.proc_sys, apparmor) {
        Ok(Some(v)) if v != "0" && !subject.is_root() => findings.push(Finding::problem(
            CHECK,
            format!("{apparmor} = {v}: AppArmor denies users' user namespaces"),
            set_sysctl(apparmor, "0"),
        )),
        Ok(Some(v)) => findings.push(Finding::ok(CHECK, for_users(format!("{apparmor} = {v}")))),
        Ok(None) => {}
        Err(e) => findings.push(Finding::warning(
            CHECK,
            e,
            "check the permissions of /proc/sys",
        )),
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::super::{fake::Fake, Status};
    use super::*;

    #[test]
    fn enabled() {
        let host = Fake::new();
        host.sysctl("user/max_user_namespaces", "96365");
        host.sysctl("kernel/unprivileged_userns_clone", "1");
        let found = check(&host.paths, &host.user());
        assert_eq!(
            found
                .iter()
                .map(|f| (f.status, f.detail.as_str()))
                .collect::<Vec<_>>(),
            vec![
                (Status::Ok, "user.max_user_namespaces = 96365"),
                (Status::Ok, "kernel.unprivileged_userns_clone = 1"),
            ]
        );
    }

    #[test]
    fn no_namespaces_allowed() {
        let host = Fake::new();
        host.sysctl("user/max_user_namespaces", "0");
        let found = check(&host.paths, &host.user());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].status, Status::Problem);
        assert_eq!(
            found[0].fix.as_deref(),
            Some(
                "as root: sysctl -w user.max_user_namespaces=15000, and to keep it after a reboot: \
                 echo 'user.max_user_namespaces = 15000' > /etc/sysctl.d/90-enclos-userns.conf"
            )
        );
    }

    #[test]
    fn debians_switch_off() {
        let host = Fake::new();
        host.sysctl("user/max_user_namespaces", "100");
        host.sysctl("kernel/unprivileged_userns_clone", "0");
        let found = check(&host.paths, &host.user());
        assert_eq!(found[1].status, Status::Problem);
        assert_eq!(
            found[1].detail,
            "kernel.unprivileged_userns_clone = 0: users may not create user namespaces"
        );
        assert!(found[1]
            .fix
            .as_deref()
            .unwrap()
            .starts_with("as root: sysctl -w kernel.unprivileged_userns_clone=1,"));
        // Root is not bound by it.
        let root = check(&host.paths, &host.root());
        assert_eq!(root[1].status, Status::Ok);
    }

    #[test]
    fn apparmor_restriction() {
        let host = Fake::new();
        host.sysctl("user/max_user_namespaces", "100");
        host.sysctl("kernel/apparmor_restrict_unprivileged_userns", "1");
        let found = check(&host.paths, &host.user());
        assert_eq!(found[1].status, Status::Problem);
        assert!(found[1]
            .fix
            .as_deref()
            .unwrap()
            .contains("sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"));
    }

    #[test]
    fn a_kernel_without_user_namespaces() {
        let host = Fake::new();
        let found = check(&host.paths, &host.user());
        assert_eq!(found[0].status, Status::Problem);
        assert!(
            found[0].detail.contains("CONFIG_USER_NS"),
            "{}",
            found[0].detail
        );
    }
}
