//! What to do when the kernel has no driver for a link type: load its
//! module when this kernel has one, else choose another type.

use std::path::Path;

/// Where the kernel's modules live by default.
pub(crate) const MODULES_DIR: &str = "/lib/modules";

/// The module of a link type (`vlan` is 8021q).
fn module_of(kind: &str) -> &str {
    match kind {
        "vlan" => "8021q",
        other => other,
    }
}

/// The advice for a missing `kind` driver on kernel `release`, whose
/// modules would be in `modules_dir/release`.
pub(crate) fn hint(kind: &str, index: u32, modules_dir: &Path, release: &str) -> String {
    let module = module_of(kind);
    let dir = modules_dir.join(release);
    let other = format!("use another lxc.net.{index}.type (veth on a bridge, or macvlan)");
    let Ok(dep) = std::fs::read_to_string(dir.join("modules.dep")) else {
        return format!(
            "it is not built in, and kernel {release} has no modules ({} is missing): {other}",
            dir.display()
        );
    };
    let file = format!("/{module}.ko");
    let has = dep.lines().any(|l| {
        l.split(':')
            .next()
            .is_some_and(|m| m.contains(&file) || m.starts_with(&file[1..]))
    });
    if has {
        format!("load it (`modprobe {module}`), or {other}")
    } else {
        format!(
            "kernel {release} was built without it (no {module} module in {}): {other}",
            dir.display()
        )
    }
}

/// [`hint`] for the running kernel.
pub(crate) fn hint_here(kind: &str, index: u32) -> String {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    hint(kind, index, Path::new(MODULES_DIR), &release)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_follows_what_the_kernel_has() {
        let dir = tempfile::tempdir().unwrap();
        let none = hint("ipvlan", 1, dir.path(), "6.1.0-test");
        assert!(
            none.starts_with("it is not built in, and kernel 6.1.0-test has no modules (")
                && none.ends_with("): use another lxc.net.1.type (veth on a bridge, or macvlan)"),
            "{none}"
        );
        let rel = dir.path().join("6.1.0-test");
        std::fs::create_dir_all(&rel).unwrap();
        std::fs::write(
            rel.join("modules.dep"),
            "kernel/drivers/net/ipvlan/ipvlan.ko.xz:\nkernel/net/8021q/8021q.ko.xz: kernel/net/802/garp.ko.xz\n",
        )
        .unwrap();
        assert_eq!(
            hint("vlan", 0, dir.path(), "6.1.0-test"),
            "load it (`modprobe 8021q`), or use another lxc.net.0.type (veth on a bridge, or macvlan)"
        );
        assert!(
            hint("ipvlan", 0, dir.path(), "6.1.0-test").starts_with("load it (`modprobe ipvlan`)")
        );
        let without = hint("macvlan", 2, dir.path(), "6.1.0-test");
        assert!(
            without.starts_with("kernel 6.1.0-test was built without it (no macvlan module in "),
            "{without}"
        );
    }
}
