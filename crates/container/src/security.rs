//! What `start` says about keys it reads but does not apply: the security
//! modules' keys (`lxc.apparmor.*`, `lxc.selinux.*`) on a host without
//! that module (one warning per module, as LXC gives), and the
//! configuration's own warnings about keys with no effect (network keys
//! of an `empty` network, obsolete keys). Nothing here is silent: a key
//! that asks for confinement enclos cannot give on this host is a
//! warning when the host has no such module. On a host that runs
//! AppArmor, `crate::apparmor` applies its keys; on one that runs
//! SELinux, its keys are an error (enclos does not label containers).

use std::path::Path;

use enclos_config::{Config, WarningKind};

use crate::error::{Error, Result};

/// Where the kernel shows its security modules.
pub(crate) const SECURITYFS: &str = "/sys/kernel/security";
/// Where an SELinux host mounts selinuxfs.
pub(crate) const SELINUXFS: &str = "/sys/fs/selinux";

/// A security module and the keys that configure it.
struct Module {
    name: &'static str,
    prefix: &'static str,
    /// Whether the host runs it, from its securityfs and selinuxfs.
    present: fn(&Path, &Path) -> bool,
    /// A value of the main key that asks for no confinement.
    unconfined: (&'static str, &'static str),
    /// enclos applies the keys on a host that runs the module.
    applied: bool,
}

const MODULES: &[Module] = &[
    Module {
        name: "AppArmor",
        prefix: "lxc.apparmor.",
        present: |securityfs, _| securityfs.join("apparmor").exists(),
        unconfined: ("lxc.apparmor.profile", "unconfined"),
        applied: true,
    },
    Module {
        name: "SELinux",
        prefix: "lxc.selinux.",
        present: |_, selinuxfs| selinuxfs.join("enforce").exists(),
        unconfined: ("lxc.selinux.context", "unconfined_t"),
        applied: false,
    },
];

/// The warnings `start` prints before it starts container `name`, or the
/// error that refuses the start.
pub(crate) fn start_notes(cfg: &Config, name: &str) -> Result<Vec<String>> {
    start_notes_at(cfg, name, Path::new(SECURITYFS), Path::new(SELINUXFS))
}

fn start_notes_at(
    cfg: &Config,
    name: &str,
    securityfs: &Path,
    selinuxfs: &Path,
) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    for m in MODULES {
        let keys: Vec<_> = cfg
            .live_entries()
            .filter(|e| e.key.starts_with(m.prefix) && !e.value.is_empty())
            .collect();
        let Some(first) = keys.first() else {
            continue;
        };
        let listed: Vec<String> = keys
            .iter()
            .map(|e| format!("{} ({}:{})", e.key, e.origin.file.display(), e.origin.line))
            .collect();
        // `lxc.apparmor.profile = unconfined` asks for nothing to apply.
        let asks_for_none = keys
            .iter()
            .all(|e| e.key == m.unconfined.0 && e.value == m.unconfined.1);
        if asks_for_none {
            continue;
        }
        if !(m.present)(securityfs, selinuxfs) {
            notes.push(format!(
                "Warning: this host has no {}: {} not applied",
                m.name,
                listed.join(", ")
            ));
            continue;
        }
        if m.applied {
            continue;
        }
        return Err(Error::StartFailed {
            name: name.to_string(),
            reason: format!(
                "{}:{}: this host runs {}, but enclos does not confine containers with it: {}; remove these keys, or set {} = {}, to run the container unconfined",
                first.origin.file.display(),
                first.origin.line,
                m.name,
                listed.join(", "),
                m.unconfined.0,
                m.unconfined.1
            ),
        });
    }
    let notify: Vec<String> = cfg
        .live_entries()
        .filter(|e| e.key.starts_with("lxc.seccomp.notify.") && !e.value.is_empty())
        .map(|e| format!("{} ({}:{})", e.key, e.origin.file.display(), e.origin.line))
        .collect();
    if !notify.is_empty() {
        notes.push(format!(
            "Warning: enclos runs no seccomp notify listener (a profile's 'notify' rules are refused): {} not applied",
            notify.join(", ")
        ));
    }
    for w in cfg.warnings() {
        if matches!(
            w.kind,
            WarningKind::NoEffect { .. }
                | WarningKind::Obsolete { .. }
                | WarningKind::NoneIgnored { .. }
                | WarningKind::HostNetwork { .. }
        ) {
            notes.push(format!("Warning: {w}"));
        }
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempfile::TempDir;

    fn cfg(text: &str) -> Config {
        Config::parse_str(text, Path::new("/c/config")).unwrap()
    }

    #[test]
    fn no_module_on_the_host_is_one_warning_per_module() {
        let dir = TempDir::new().unwrap();
        let c = cfg("lxc.apparmor.profile = generated\nlxc.apparmor.allow_nesting = 1\nlxc.selinux.context = system_u:system_r:lxc_t:s0\n");
        let notes = start_notes_at(&c, "c", dir.path(), dir.path()).unwrap();
        assert_eq!(
            notes,
            [
                "Warning: this host has no AppArmor: lxc.apparmor.profile (/c/config:1), lxc.apparmor.allow_nesting (/c/config:2) not applied",
                "Warning: this host has no SELinux: lxc.selinux.context (/c/config:3) not applied",
            ]
        );
    }

    #[test]
    fn a_host_with_the_module_applies_apparmor_and_refuses_selinux() {
        let dir = TempDir::new().unwrap();
        std::fs::create_dir(dir.path().join("apparmor")).unwrap();
        std::fs::write(dir.path().join("enforce"), "1").unwrap();
        let c = cfg("lxc.apparmor.profile = generated\nlxc.apparmor.allow_nesting = 1\n");
        assert_eq!(
            start_notes_at(&c, "c", dir.path(), dir.path()).unwrap(),
            Vec::<String>::new()
        );
        let c = cfg("lxc.selinux.context = system_u:system_r:lxc_t:s0\n");
        let e = start_notes_at(&c, "c", dir.path(), dir.path()).unwrap_err();
        assert!(
            e.to_string()
                .contains("/c/config:1: this host runs SELinux, but enclos does not confine"),
            "{e}"
        );
        let c = cfg("lxc.apparmor.profile = unconfined\n");
        assert_eq!(
            start_notes_at(&c, "c", dir.path(), dir.path()).unwrap(),
            Vec::<String>::new()
        );
        // Nor is it a warning on a host without AppArmor.
        let none = TempDir::new().unwrap();
        assert_eq!(
            start_notes_at(&c, "c", none.path(), none.path()).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn seccomp_notify_keys_are_one_warning() {
        let dir = TempDir::new().unwrap();
        let c =
            cfg("lxc.seccomp.notify.proxy = unix:/run/p.sock\nlxc.seccomp.notify.cookie = abc\n");
        let notes = start_notes_at(&c, "c", dir.path(), dir.path()).unwrap();
        assert_eq!(
            notes,
            ["Warning: enclos runs no seccomp notify listener (a profile's 'notify' rules are refused): lxc.seccomp.notify.proxy (/c/config:1), lxc.seccomp.notify.cookie (/c/config:2) not applied"]
        );
    }

    #[test]
    fn keys_with_no_effect_are_said() {
        let dir = TempDir::new().unwrap();
        // flags = up brings lo up on `empty`; a link has no effect there.
        let c = cfg("lxc.net.0.type = empty\nlxc.net.0.flags = up\nlxc.net.0.link = br0\n");
        let notes = start_notes_at(&c, "c", dir.path(), dir.path()).unwrap();
        assert_eq!(
            notes,
            ["Warning: /c/config:3: Key 'lxc.net.0.link' has no effect on a network of type 'empty'"]
        );
    }
}
