//! A user's veths: the setuid `enclos-user-nic` (LXC's lxc-user-nic) is
//! installed, and a line of /etc/enclos/enclos-usernet (or LXC's
//! /etc/lxc/lxc-usernet) lets the user attach a veth to each bridge the
//! configuration names.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use enclos_net::usernic::{self, Caller};

use super::{Check, Finding, HostPaths, Subject};

const CHECK: Check = Check::UserNic;

pub(super) fn check(host: &HostPaths, subject: &Subject) -> Vec<Finding> {
    if subject.bridges.is_empty() {
        return vec![Finding::ok(
            CHECK,
            format!("{} asks for no veth", subject.config_label()),
        )];
    }
    if subject.is_root() {
        return vec![Finding::ok(CHECK, "root makes its veths itself")];
    }
    let mut found = vec![helper(&host.user_nic)];
    let file = host.usernet.iter().find(|p| p.is_file());
    let rules = file
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| usernic::parse_usernet(&t))
        .unwrap_or_default();
    let caller = Caller {
        name: subject.user.name.clone(),
        groups: groups_of(&host.group, &subject.user.name, subject.user.gid),
    };
    let shown = file
        .or(host.usernet.first())
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    for bridge in &subject.bridges {
        let n = usernic::allowed(&rules, &caller, "veth", bridge);
        found.push(if n > 0 {
            Finding::ok(
                CHECK,
                format!(
                    "{shown} lets {} attach {n} veth(s) to {bridge}",
                    caller.name
                ),
            )
        } else {
            Finding::problem(
                CHECK,
                format!(
                    "no line of {shown} lets {} attach a veth to {bridge}",
                    caller.name
                ),
                format!(
                    "as root: echo '{} veth {bridge} 2' >> {}",
                    caller.name,
                    host.usernet
                        .first()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ),
            )
        });
    }
    found
}

fn helper(path: &Path) -> Finding {
    let p = path.display();
    match std::fs::metadata(path) {
        Ok(m) if m.uid() == 0 && m.mode() & 0o4000 != 0 => {
            Finding::ok(CHECK, format!("{p} is installed and setuid root"))
        }
        Ok(_) => Finding::problem(
            CHECK,
            format!("{p} is not setuid root: it cannot make a user's veths"),
            format!("as root: chown root:root {p} && chmod 4755 {p}"),
        ),
        Err(_) => Finding::problem(
            CHECK,
            format!("{p} is not installed: a user's veths are made by it"),
            "as root: install enclos's package (it has the helper), or set lxc.net.0.type = empty",
        ),
    }
}

/// The names of the groups of `user` (primary `gid`) in the group file.
fn groups_of(group: &Path, user: &str, gid: u32) -> Vec<String> {
    let text = std::fs::read_to_string(group).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let member = f.get(3).is_some_and(|m| m.split(',').any(|x| x == user));
            let primary = f.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(gid);
            (f.len() > 2 && (member || primary)).then(|| f[0].to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::super::{fake::Fake, Status};
    use super::*;

    #[test]
    fn a_user_needs_the_helper_and_a_line_per_bridge() {
        let fake = Fake::new();
        let mut s = fake.user();
        s.bridges = vec!["lxcbr0".into(), "br1".into()];
        fs::write(&fake.paths.group, "lxcusers:x:200:lxcnp\n").unwrap();
        fs::write(&fake.paths.usernet[1], "@lxcusers veth lxcbr0 2\n").unwrap();
        let found = check(&fake.paths, &s);
        let st: Vec<Status> = found.iter().map(|f| f.status).collect();
        assert_eq!(
            st,
            [Status::Problem, Status::Ok, Status::Problem],
            "{found:#?}"
        );
        assert!(found[0]
            .detail
            .ends_with("is not installed: a user's veths are made by it"));
        assert_eq!(
            found[2].fix.as_deref(),
            Some(
                format!(
                    "as root: echo 'lxcnp veth br1 2' >> {}",
                    fake.paths.usernet[0].display()
                )
                .as_str()
            )
        );
        s.bridges.clear();
        assert_eq!(check(&fake.paths, &s)[0].status, Status::Ok);
    }
}
