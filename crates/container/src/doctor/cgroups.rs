//! A cgroup the user may write: on each hierarchy, a group whose
//! directory and `cgroup.procs` the user owns, where the container's group
//! can go.
//!
//! Where such a group is looked for, on each hierarchy:
//! - `user/<name>/0` ([`enclos_cgroupfs::delegated_dir`]), which `enclos cg
//!   delegate --user NAME` (run by root) makes, as pam_cgfs does;
//! - on v2, `user.slice/user-<uid>.slice/user@<uid>.service`, the subtree
//!   systemd delegates to a user's manager;
//! - the caller's own group and the groups above it.
//!
//! On v2 without systemd (no `user.slice`), what counts is the subtree
//! the user owns that holds the user's own process (the login): a
//! process moves only between groups whose common ancestor the mover may
//! write, so a subtree root delegated is of use only once root (or
//! pam_cgfs) has placed the login in it. A login outside it is a problem
//! when the configuration sets limits on v2 controllers (a warning on a
//! cgroup v2 only host otherwise), with the two ways to place it.
//!
//! On v2, the controllers the configuration sets must be enabled for the
//! delegated group (listed in its `cgroup.controllers`, that is in its
//! parent's `cgroup.subtree_control`). A container starts without
//! delegation, without limits: a missing group is a warning, unless the
//! configuration sets limits on its controllers.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use enclos_cgroupfs::{delegated_dir, read_membership, v2_name, Hierarchy, Kind, Layout, Version};

use super::{Check, Finding, HostPaths, Subject};

const CHECK: Check = Check::Cgroups;

/// Whether `uid` owns `dir` and its `cgroup.procs`.
fn owned_by(dir: &Path, uid: u32) -> bool {
    let owns = |p: &Path| fs::metadata(p).is_ok_and(|m| m.uid() == uid);
    dir.is_dir() && owns(dir) && owns(&dir.join("cgroup.procs"))
}

/// The group of `h` delegated to the user, if there is one.
fn delegated(h: &Hierarchy, subject: &Subject, own: Option<&str>) -> Option<PathBuf> {
    let uid = subject.user.uid;
    let mut candidates = Vec::new();
    if h.version == Version::V2 {
        candidates.push(format!("user.slice/user-{uid}.slice/user@{uid}.service"));
    }
    if let Some(own) = own.filter(|o| !o.is_empty()) {
        let mut rel = own.to_string();
        loop {
            candidates.push(rel.clone());
            match rel.rsplit_once('/') {
                Some((parent, _)) => rel = parent.to_string(),
                None => break,
            }
        }
    }
    std::iter::once(delegated_dir(h, &subject.user.name))
        .chain(candidates.iter().map(|rel| h.dir(rel)))
        .find(|dir| owned_by(dir, uid))
}

/// The controllers of `needed` not enabled in the v2 group `dir`.
fn missing_v2(dir: &Path, needed: &[&str]) -> Vec<String> {
    let text = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let enabled: Vec<&str> = text.split_whitespace().collect();
    let mut missing: Vec<String> = needed
        .iter()
        .map(|c| v2_name(c))
        // freezer is built into every v2 group.
        .filter(|c| *c != "freezer" && !enabled.contains(c))
        .map(str::to_string)
        .collect();
    missing.dedup();
    missing
}

fn delegate_fix(subject: &Subject, layout: &Layout) -> String {
    let user = &subject.user.name;
    // On cgroup v2 only, a user's start moves processes only inside a
    // subtree that already holds them: a scope the user's systemd
    // manager delegates (start asks for one), which needs that manager.
    if layout.kind() == Kind::Unified {
        return format!(
            "as root: loginctl enable-linger {user} (or log in as {user} through a session with pam_systemd), so that {user}'s systemd manager runs and delegates a scope to each container; without systemd, root delegates a subtree that holds {user}'s processes"
        );
    }
    format!("as root: enclos cg delegate --user {user}")
}

/// A delegated group, and on v2 the controllers it gives (its
/// `cgroup.controllers`), for the report.
fn describe(h: &Hierarchy, dir: &Path) -> String {
    let given = fs::read_to_string(dir.join("cgroup.controllers"));
    match given {
        Ok(text) if h.version == Version::V2 => {
            let list: Vec<&str> = text.split_whitespace().collect();
            format!(
                "{} ({}, controllers: {})",
                h.label(),
                dir.display(),
                if list.is_empty() {
                    "none".to_string()
                } else {
                    list.join(" ")
                }
            )
        }
        _ => format!("{} ({})", h.label(), dir.display()),
    }
}

pub(super) fn check(host: &HostPaths, subject: &Subject) -> Vec<Finding> {
    if subject.is_root() {
        return vec![Finding::ok(CHECK, "root may create cgroups anywhere")];
    }
    let layout = match Layout::from_mountinfo(&host.mountinfo) {
        Ok(l) => l,
        Err(e) => {
            return vec![Finding::warning(
                CHECK,
                enclos_report::chain(&e),
                "mount the cgroup hierarchies (as root: mount -t cgroup2 none /sys/fs/cgroup)",
            )]
        }
    };
    let memberships = read_membership(&host.proc_cgroup).unwrap_or_default();
    let needed: Vec<&str> = subject.controllers.iter().map(String::as_str).collect();
    let serves_needed = |h: &Hierarchy| {
        needed.iter().any(|c| {
            layout
                .resolve(c)
                .is_ok_and(|r| r.mount_point == h.mount_point)
        })
    };
    let (mut ok, mut warn, mut bad) = (Vec::new(), Vec::new(), Vec::new());
    let mut findings = Vec::new();
    // Every hierarchy, as `cg delegate` makes the user's group on each.
    for h in &layout.hierarchies {
        let own = layout.group_of(h, &memberships);
        if h.version == Version::V2 && !h.dir("user.slice").is_dir() {
            let (found, more) = v2_login(h, &layout, subject, own.unwrap_or(""), &needed);
            ok.extend(found);
            findings.extend(more);
            continue;
        }
        match delegated(h, subject, own) {
            Some(dir) if h.version == Version::V2 => {
                let missing = missing_v2(&dir, &v2_needed(&layout, &needed));
                if !missing.is_empty() {
                    findings.push(v2_missing(subject, &dir, &missing));
                }
                ok.push(describe(h, &dir));
            }
            Some(dir) => ok.push(describe(h, &dir)),
            None if serves_needed(h) => bad.push(h.label()),
            None => warn.push(h.label()),
        }
    }
    let user = &subject.user.name;
    if !bad.is_empty() {
        findings.push(Finding::problem(
            CHECK,
            format!(
                "{user} owns no cgroup on {}, where {} sets limits: the container cannot get them",
                bad.join(", "),
                subject.config_label()
            ),
            delegate_fix(subject, &layout),
        ));
    }
    if !warn.is_empty() {
        findings.push(Finding::warning(
            CHECK,
            format!(
                "{user} owns no cgroup on {}: the container runs without limits there",
                warn.join(", ")
            ),
            delegate_fix(subject, &layout),
        ));
    }
    if !ok.is_empty() {
        findings.insert(
            0,
            Finding::ok(CHECK, format!("delegated to {user}: {}", ok.join(", "))),
        );
    }
    findings
}

/// Of the controllers `needed`, those the v2 hierarchy serves (not v1's,
/// on a hybrid host).
fn v2_needed<'n>(layout: &Layout, needed: &[&'n str]) -> Vec<&'n str> {
    needed
        .iter()
        .copied()
        .filter(|c| layout.resolve(c).is_ok_and(|r| r.version == Version::V2))
        .collect()
}

/// On v2 without systemd: the subtree holding the user's login (`own`),
/// for the report, with the controllers it lacks; or the finding of a
/// login outside any (not on a hybrid host where v2 serves nothing the
/// configuration sets: the v1 groups serve).
fn v2_login(
    h: &Hierarchy,
    layout: &Layout,
    subject: &Subject,
    own: &str,
    needed: &[&str],
) -> (Option<String>, Vec<Finding>) {
    let on_v2 = needed.iter().any(|c| {
        layout
            .resolve(c)
            .is_ok_and(|r| r.mount_point == h.mount_point)
    });
    match login_subtree(h, subject, own) {
        Some(dir) => {
            let missing = missing_v2(&dir, &v2_needed(layout, needed));
            let more = if missing.is_empty() {
                Vec::new()
            } else {
                vec![v2_missing(subject, &dir, &missing)]
            };
            (Some(describe(h, &dir)), more)
        }
        None if on_v2 || layout.kind() == Kind::Unified => {
            (None, vec![login_outside(h, subject, own, on_v2)])
        }
        None => (None, Vec::new()),
    }
}

/// The v2 subtree the user owns that holds the user's process (`own`),
/// as start uses it; not a systemd user manager's.
fn login_subtree(h: &Hierarchy, subject: &Subject, own: &str) -> Option<PathBuf> {
    let uid = subject.user.uid;
    let top = enclos_cgroupfs::delegated_root(&h.mount_point, own, uid)?;
    let service = format!("user@{uid}.service");
    if top.split('/').any(|p| p == service) {
        return None;
    }
    Some(h.dir(&top))
}

/// The user's login is in no v2 subtree of the user's: where it is, the
/// subtree root delegated (if any), and how to place the login there.
fn login_outside(h: &Hierarchy, subject: &Subject, own: &str, needed: bool) -> Finding {
    let user = &subject.user.name;
    let leaf = delegated_dir(h, user);
    let subtree = if owned_by(&leaf, subject.user.uid) {
        format!(
            "outside the subtree delegated to {user} ({})",
            leaf.display()
        )
    } else {
        format!("in no subtree {user} owns")
    };
    let detail = format!(
        "{user}'s login is in cgroup /{own} of cgroup v2 ({}), {subtree}: a process moves only between groups whose common ancestor it may write, so a start cannot put the container in a cgroup of {user}'s{}",
        h.mount_point.display(),
        if needed {
            format!(", and {} sets limits there", subject.config_label())
        } else {
            String::new()
        }
    );
    let fix = crate::launch::v2_login_fix(user);
    if needed {
        Finding::problem(CHECK, detail, fix)
    } else {
        Finding::warning(CHECK, detail, fix)
    }
}

/// A delegated v2 group without some controllers the configuration uses.
fn v2_missing(subject: &Subject, dir: &Path, missing: &[String]) -> Finding {
    let parent = dir.parent().unwrap_or(dir);
    let plus: Vec<String> = missing.iter().map(|c| format!("+{c}")).collect();
    Finding::problem(
        CHECK,
        format!(
            "{} sets {} limits, which are not enabled for {}",
            subject.config_label(),
            missing.join(", "),
            dir.display()
        ),
        format!(
            "as root: echo '{}' > {}/cgroup.subtree_control (under systemd: Delegate={} in the user's unit)",
            plus.join(" "),
            parent.display(),
            missing.join(" ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::super::{fake::Fake, Status};
    use super::*;

    /// A hybrid host: memory and pids on v1, an empty v2 mount, and
    /// name=systemd, under `<tmp>/cgroup`.
    fn hybrid(fake: &Fake) -> PathBuf {
        let root = fake.path().join("cgroup");
        for d in ["memory", "pids", "systemd", "unified"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        let r = root.display();
        fs::write(
            &fake.paths.mountinfo,
            format!(
                "35 31 0:32 / {r}/memory rw - cgroup cgroup rw,memory\n\
                 39 31 0:36 / {r}/pids rw - cgroup cgroup rw,pids\n\
                 40 31 0:37 / {r}/systemd rw - cgroup cgroup rw,name=systemd\n\
                 41 31 0:38 / {r}/unified rw - cgroup2 cgroup2 rw\n"
            ),
        )
        .unwrap();
        fs::write(
            &fake.paths.proc_cgroup,
            "4:memory:/\n8:pids:/\n9:name=systemd:/\n0::/\n",
        )
        .unwrap();
        root
    }

    /// The uid that owns the groups made by [`group`]: 1001 (lxcnp) when
    /// the test runs as root, who can give them away, else the test's own.
    fn owner() -> u32 {
        match nix::unistd::geteuid().as_raw() {
            0 => 1001,
            me => me,
        }
    }

    /// `dir` with a `cgroup.procs`, owned by [`owner`].
    fn group(dir: &Path) {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join("cgroup.procs"), "").unwrap();
        if nix::unistd::geteuid().is_root() {
            for p in [dir.to_path_buf(), dir.join("cgroup.procs")] {
                std::os::unix::fs::chown(&p, Some(owner()), None).unwrap();
            }
        }
    }

    /// lxcnp, with the uid that owns the groups.
    fn me(fake: &Fake) -> Subject {
        let mut s = fake.user();
        s.user.uid = owner();
        s
    }

    #[test]
    fn delegated_with_cg_delegate() {
        let fake = Fake::new();
        let root = hybrid(&fake);
        for h in ["memory", "pids", "systemd", "unified"] {
            group(&root.join(h).join("user/lxcnp/0"));
        }
        // On v2 the login is in the subtree (root or pam_cgfs put it there).
        fs::write(
            &fake.paths.proc_cgroup,
            "4:memory:/user/lxcnp/0\n8:pids:/\n9:name=systemd:/\n0::/user/lxcnp/0\n",
        )
        .unwrap();
        let mut s = me(&fake);
        s.controllers = vec!["memory".into()];
        let found = check(&fake.paths, &s);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].status, Status::Ok);
        assert_eq!(
            found[0].detail,
            format!(
                "delegated to lxcnp: memory ({r}/memory/user/lxcnp/0), pids ({r}/pids/user/lxcnp/0), \
                 name=systemd ({r}/systemd/user/lxcnp/0), unified ({r}/unified/user/lxcnp/0)",
                r = root.display()
            )
        );
    }

    #[test]
    fn not_delegated() {
        let fake = Fake::new();
        let root = hybrid(&fake);
        group(&root.join("pids/user/lxcnp/0"));
        // A group the user does not own.
        let mut s = me(&fake);
        s.user.uid += 1;
        s.controllers = vec!["memory".into()];
        let found = check(&fake.paths, &s);
        let statuses: Vec<Status> = found.iter().map(|f| f.status).collect();
        assert_eq!(
            statuses,
            vec![Status::Problem, Status::Warning],
            "{found:#?}"
        );
        assert_eq!(
            found[0].detail,
            format!(
                "lxcnp owns no cgroup on memory, where {} sets limits: the container cannot get them",
                s.config.display()
            )
        );
        assert_eq!(
            found[0].fix.as_deref(),
            Some("as root: enclos cg delegate --user lxcnp")
        );
        assert_eq!(
            found[1].detail,
            "lxcnp owns no cgroup on pids, name=systemd: the container runs without limits there"
        );
    }

    #[test]
    fn v2_delegation_with_missing_controllers() {
        let fake = Fake::new();
        let root = v2_host(
            &fake,
            "cpu io memory pids",
            "/user.slice/user-1001.slice/session-3.scope",
        );
        let service = root.join("user.slice/user-1001.slice/user@1001.service");
        group(&service);
        fs::write(service.join("cgroup.controllers"), "cpu memory\n").unwrap();
        let mut s = me(&fake);
        // The candidate is named after the owner's uid.
        let uid = s.user.uid;
        let mine = root.join(format!("user.slice/user-{uid}.slice/user@{uid}.service"));
        if mine != service {
            fs::create_dir_all(mine.parent().unwrap()).unwrap();
            fs::rename(&service, &mine).unwrap();
        }
        s.controllers = vec!["memory".into(), "pids".into(), "freezer".into()];
        let found = check(&fake.paths, &s);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!(found[0].status, Status::Ok);
        assert!(
            found[0]
                .detail
                .ends_with(&format!("({}, controllers: cpu memory)", mine.display())),
            "{found:#?}"
        );
        assert_eq!(found[1].status, Status::Problem);
        assert_eq!(
            found[1].fix.as_deref().unwrap(),
            format!(
                "as root: echo '+pids' > {}/cgroup.subtree_control (under systemd: Delegate=pids in the user's unit)",
                mine.parent().unwrap().display()
            )
        );
    }

    #[test]
    fn v2_without_a_user_manager_names_lingering() {
        let fake = Fake::new();
        let login = "/user.slice/user-1001.slice/session-3.scope";
        let root = v2_host(&fake, "cpu io memory pids", login);
        fs::create_dir_all(root.join(&login[1..])).unwrap();
        let mut s = me(&fake);
        s.user.uid += 1;
        s.controllers = vec!["memory".into()];
        let found = check(&fake.paths, &s);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].status, Status::Problem);
        assert!(
            found[0]
                .fix
                .as_deref()
                .unwrap()
                .starts_with("as root: loginctl enable-linger lxcnp"),
            "{found:#?}"
        );
    }

    /// A cgroup v2 only host without systemd, where root delegated
    /// `user/lxcnp/0` with pids, and the login is in `own`.
    fn v2_no_systemd(fake: &Fake, own: &str) -> PathBuf {
        let leaf = v2_host(fake, "memory pids", own).join("user/lxcnp/0");
        group(&leaf);
        fs::write(leaf.join("cgroup.controllers"), "pids\n").unwrap();
        leaf
    }

    /// A cgroup v2 only host, mounted on `<fake>/cgroup` (returned),
    /// whose root offers `controllers`, with the login in group `login`.
    fn v2_host(fake: &Fake, controllers: &str, login: &str) -> PathBuf {
        let root = fake.path().join("cgroup");
        fs::create_dir_all(&root).unwrap();
        fs::write(root.join("cgroup.controllers"), format!("{controllers}\n")).unwrap();
        fs::write(
            &fake.paths.mountinfo,
            format!("35 24 0:30 / {} rw - cgroup2 cgroup2 rw\n", root.display()),
        )
        .unwrap();
        fs::write(&fake.paths.proc_cgroup, format!("0::{login}\n")).unwrap();
        root
    }

    #[test]
    fn v2_without_systemd_a_login_outside_the_subtree_is_told_how_to_enter() {
        let fake = Fake::new();
        let leaf = v2_no_systemd(&fake, "/");
        let mut s = me(&fake);
        s.controllers = vec!["pids".into()];
        let found = check(&fake.paths, &s);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].status, Status::Problem);
        assert!(
            found[0].detail.starts_with(&format!(
                "lxcnp's login is in cgroup / of cgroup v2 ({}), outside the subtree delegated to lxcnp ({}): ",
                fake.path().join("cgroup").display(),
                leaf.display()
            )),
            "{found:#?}"
        );
        let fix = found[0].fix.as_deref().unwrap();
        for part in [
            "as root, enclos cg delegate --user lxcnp --move PID (PID: `echo $$` in lxcnp's login shell)",
            "apt install libpam-cgfs, make its line in /etc/pam.d/common-session read `session optional pam_cgfs.so -c freezer,memory,name=systemd,unified`",
        ] {
            assert!(fix.contains(part), "{part} in {fix}");
        }
        // No limits asked on v2: the same words, as a warning.
        s.controllers = Vec::new();
        let found = check(&fake.paths, &s);
        assert_eq!(found[0].status, Status::Warning, "{found:#?}");
    }

    #[test]
    fn v2_without_systemd_a_login_inside_the_subtree_is_delegated() {
        let fake = Fake::new();
        // The login's processes moved to the leaf's login group.
        let leaf = v2_no_systemd(&fake, "/user/lxcnp/0/login");
        group(&leaf.join("login"));
        let mut s = me(&fake);
        s.controllers = vec!["pids".into()];
        let found = check(&fake.paths, &s);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].status, Status::Ok);
        assert_eq!(
            found[0].detail,
            format!(
                "delegated to lxcnp: memory,pids ({}, controllers: pids)",
                leaf.display()
            )
        );
        // Without pids given to the subtree: which to enable, and where.
        fs::write(leaf.join("cgroup.controllers"), "").unwrap();
        let found = check(&fake.paths, &s);
        assert_eq!(found[1].status, Status::Problem, "{found:#?}");
        assert!(found[1].detail.contains("sets pids limits"), "{found:#?}");
    }

    #[test]
    fn root_needs_none() {
        let fake = Fake::new();
        let found = check(&fake.paths, &fake.root());
        assert_eq!(found[0].status, Status::Ok);
    }
}
