//! A container's config rewritten for a copy of it in another directory:
//! what LXC's clone does for `lxc-snapshot` (the snapshot keeps the name)
//! and `lxc-snapshot -r` (the restored container takes its new name).
//!
//! - `lxc.rootfs.path` becomes the new rootfs;
//! - `lxc.uts.name` the new name, unless the name is kept (a snapshot);
//!   a legacy `lxc.utsname` line is replaced;
//! - every path inside the old directories (the container's, a
//!   snapshot's) in any value is moved to the new directory, as LXC moves
//!   hook scripts, `lxc.mount.fstab` and overlay mount entries; the hook
//!   scripts, fstab and included files found there are returned to be
//!   copied along ([`Rewritten::files`]).

use std::path::{Path, PathBuf};

use crate::error::Result;

/// How to rewrite.
#[derive(Debug, Clone, Default)]
pub struct Rename {
    /// The directories the config's paths may point into (a snapshot's
    /// and its container's), any order.
    pub from: Vec<PathBuf>,
    /// The new directory.
    pub to: PathBuf,
    /// The new `lxc.uts.name`; `None` keeps the name.
    pub uts_name: Option<String>,
    /// The new `lxc.rootfs.path`; `None` keeps it.
    pub rootfs: Option<String>,
}

/// The rewritten config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// The new config's text.
    pub text: String,
    /// Files the config names inside an old directory (hooks,
    /// `lxc.mount.fstab`, `lxc.include`), with where they go: copy them
    /// before the container is used.
    pub files: Vec<(PathBuf, PathBuf)>,
}

/// Keys whose files move with the container, as LXC's copyhooks and
/// copy_fstab move them, and the seccomp profile a template put there.
fn moves_file(key: &str) -> bool {
    key.starts_with("lxc.hook.")
        || matches!(
            key,
            "lxc.mount.fstab" | "lxc.include" | "lxc.seccomp.profile" | "lxc.seccomp"
        )
}

/// The files the config `text` (read from `origin`) names inside `dir`
/// under the keys whose files move with the container (hooks,
/// `lxc.mount.fstab`, `lxc.include`, `lxc.seccomp.profile`), relative to
/// `dir`: what an export takes along with the config.
pub fn dir_files(text: &str, origin: &Path, dir: &Path) -> Vec<PathBuf> {
    let Ok(config) = enclos_config::Config::parse_str(text, origin) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = Vec::new();
    for e in config.live_entries().filter(|e| moves_file(&e.key)) {
        for word in e.value.split(ends_path) {
            let Ok(rel) = Path::new(word).strip_prefix(dir) else {
                continue;
            };
            let safe = rel
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            if safe && dir.join(rel).is_file() && !out.iter().any(|p| p == rel) {
                out.push(rel.to_path_buf());
            }
        }
    }
    out
}

/// Rewrites `text`, the config read from `origin`.
pub fn rewrite_config(text: &str, origin: &Path, r: &Rename) -> Result<Rewritten> {
    let mut config = enclos_config::Config::parse_str(text, origin)?;
    if let Some(rootfs) = &r.rootfs {
        config.remove("lxc.rootfs.backend");
        config.set("lxc.rootfs.path", rootfs)?;
    }
    if let Some(name) = &r.uts_name {
        config.set("lxc.uts.name", name)?;
    }
    let mut from: Vec<&Path> = r.from.iter().map(PathBuf::as_path).collect();
    // The deepest first: a snapshot's directory is inside its container's.
    from.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    let mut files = Vec::new();
    let mut out = String::new();
    for line in config.to_string().lines() {
        out.push_str(&rewrite_line(line, &from, &r.to, &mut files));
        out.push('\n');
    }
    Ok(Rewritten { text: out, files })
}

fn rewrite_line(
    line: &str,
    from: &[&Path],
    to: &Path,
    files: &mut Vec<(PathBuf, PathBuf)>,
) -> String {
    let trimmed = line.trim_start();
    let Some((key, value)) = trimmed.split_once('=') else {
        return line.to_string();
    };
    let key = key.trim();
    if trimmed.starts_with('#') || key == "lxc.rootfs.path" || key == "lxc.uts.name" {
        return line.to_string();
    }
    let (new_value, moved) = move_paths(value, from, to);
    if moves_file(key) {
        for (old, new) in moved {
            if old.is_file() {
                files.push((old, new));
            }
        }
    }
    let indent = &line[..line.len() - trimmed.len()];
    let key_part = &trimmed[..trimmed.len() - value.len()];
    format!("{indent}{key_part}{new_value}")
}

/// Characters that end a path inside a value.
fn ends_path(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | ':' | '"' | '\'')
}

/// Replaces, in `value`, each path that starts with one of `from` (at a
/// path boundary) by the same path under `to`; returns the new value and
/// the (old, new) paths.
fn move_paths(value: &str, from: &[&Path], to: &Path) -> (String, Vec<(PathBuf, PathBuf)>) {
    let to_s = to.to_string_lossy();
    let mut out = String::with_capacity(value.len());
    let mut moved = Vec::new();
    let mut i = 0;
    while i < value.len() {
        let at_start = i == 0 || value[..i].ends_with(|c: char| ends_path(c) || c == '=');
        let hit = at_start
            .then(|| {
                from.iter().find_map(|f| {
                    let s = f.to_string_lossy();
                    let rest = value[i..].strip_prefix(s.as_ref())?;
                    (rest.is_empty() || rest.starts_with('/') || rest.starts_with(ends_path))
                        .then_some((s.len(), *f))
                })
            })
            .flatten();
        let path_end = value[i..].find(ends_path).map_or(value.len(), |e| i + e);
        // A path already under `to`, where `to` lies inside the directory
        // it matched (a container's config written for its snapshot),
        // stays; one under a deeper `from` (a snapshot restored over its
        // container) moves.
        let stays = |f: &Path| Path::new(&value[i..path_end]).starts_with(to) && to.starts_with(f);
        match hit {
            Some((len, f)) if !stays(f) => {
                let old = &value[i..path_end];
                let new = format!("{to_s}{}", &old[len..]);
                moved.push((PathBuf::from(old), PathBuf::from(&new)));
                out.push_str(&new);
                i = path_end;
            }
            _ => {
                let c = value[i..].chars().next().unwrap_or(' ');
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    (out, moved)
}

/// The value of `lxc.rootfs.path` (or legacy `lxc.rootfs`) in a config's
/// text, read line by line (no includes): for cleaning up leftovers.
pub fn rootfs_of(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().split_once('='))
        .filter(|(k, _)| matches!(k.trim(), "lxc.rootfs.path" | "lxc.rootfs"))
        .map(|(_, v)| v.trim().to_string())
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn restore_renames_rootfs_name_and_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let lxc = tmp.path();
        let (c1, snap0, new) = (
            lxc.join("c1"),
            lxc.join("c1/snaps/snap0"),
            lxc.join("c1-snap0"),
        );
        fs::create_dir_all(&snap0).unwrap();
        fs::write(snap0.join("hook.sh"), "#!/bin/sh\n").unwrap();
        let text = format!(
            "# a comment naming {c1}/x stays\n\
             lxc.utsname = c1\n\
             lxc.rootfs.path = dir:{snap0}/rootfs\n\
             lxc.hook.pre-start = {snap0}/hook.sh arg\n\
             lxc.log.file = {c1}/c1.log\n\
             lxc.mount.entry = {c1}1/data srv none bind 0 0\n\
             lxc.mount.entry = overlay opt overlay lowerdir={c1}/lower,upperdir={snap0}/up 0 0\n",
            c1 = c1.display(),
            snap0 = snap0.display()
        );
        let r = Rename {
            from: vec![c1.clone(), snap0.clone()],
            to: new.clone(),
            uts_name: Some("c1-snap0".into()),
            rootfs: Some(format!("dir:{}/rootfs", new.display())),
        };
        let out = rewrite_config(&text, &snap0.join("config"), &r).unwrap();
        let n = new.display();
        assert_eq!(
            out.text,
            format!(
                "# a comment naming {c1}/x stays\n\
                 lxc.uts.name = c1-snap0\n\
                 lxc.rootfs.path = dir:{n}/rootfs\n\
                 lxc.hook.pre-start = {n}/hook.sh arg\n\
                 lxc.log.file = {n}/c1.log\n\
                 lxc.mount.entry = {c1}1/data srv none bind 0 0\n\
                 lxc.mount.entry = overlay opt overlay lowerdir={n}/lower,upperdir={n}/up 0 0\n",
                c1 = c1.display()
            )
        );
        assert_eq!(
            out.files,
            vec![(snap0.join("hook.sh"), new.join("hook.sh"))]
        );
    }

    #[test]
    fn a_snapshot_keeps_its_name() {
        let text = "lxc.uts.name = c1\nlxc.rootfs.path = dir:/l/c1/rootfs\n";
        let r = Rename {
            from: vec!["/l/c1".into()],
            to: "/l/c1/snaps/snap0".into(),
            uts_name: None,
            rootfs: Some("dir:/l/c1/snaps/snap0/rootfs".into()),
        };
        let out = rewrite_config(text, Path::new("/l/c1/config"), &r).unwrap();
        assert_eq!(
            out.text,
            "lxc.uts.name = c1\nlxc.rootfs.path = dir:/l/c1/snaps/snap0/rootfs\n"
        );
        assert_eq!(
            rootfs_of(&out.text).unwrap(),
            "dir:/l/c1/snaps/snap0/rootfs"
        );
    }

    /// A snapshot restored over its container: the snapshot's directory
    /// is inside the container's, and its profile moves back to the
    /// container's own.
    #[test]
    fn a_restore_in_place_names_the_containers_profile() {
        let text = "lxc.seccomp.profile = /l/c1/snaps/snap1/common.seccomp\n";
        let r = Rename {
            from: vec![PathBuf::from("/l/c1/snaps/snap1"), PathBuf::from("/l/c1")],
            to: PathBuf::from("/l/c1"),
            uts_name: None,
            rootfs: None,
        };
        let out = rewrite_config(text, Path::new("/l/c1/snaps/snap1/config"), &r).unwrap();
        assert_eq!(out.text, "lxc.seccomp.profile = /l/c1/common.seccomp\n");
        // And the container's config written for that snapshot names the
        // snapshot's copy, never a path twice nested.
        let text = "lxc.seccomp.profile = /l/c1/snaps/snap1/common.seccomp\n";
        let r = Rename {
            from: vec![PathBuf::from("/l/c1")],
            to: PathBuf::from("/l/c1/snaps/snap1"),
            uts_name: None,
            rootfs: None,
        };
        let out = rewrite_config(text, Path::new("/l/c1/config"), &r).unwrap();
        assert_eq!(out.text, text);
    }

    /// The busybox template's profile sits next to the config: a copy
    /// names its own, copied along, and an export takes it.
    #[test]
    fn the_seccomp_profile_moves_with_the_container() {
        let tmp = tempfile::tempdir().unwrap();
        let (c1, c2) = (tmp.path().join("c1"), tmp.path().join("c2"));
        fs::create_dir_all(&c1).unwrap();
        fs::write(c1.join("common.seccomp"), "2\ndenylist\n").unwrap();
        let text = format!(
            "lxc.uts.name = c1\nlxc.seccomp.profile = {}/common.seccomp\n",
            c1.display()
        );
        let r = Rename {
            from: vec![c1.clone()],
            to: c2.clone(),
            uts_name: Some("c2".into()),
            rootfs: None,
        };
        let out = rewrite_config(&text, &c1.join("config"), &r).unwrap();
        assert_eq!(
            out.text,
            format!(
                "lxc.uts.name = c2\nlxc.seccomp.profile = {}/common.seccomp\n",
                c2.display()
            )
        );
        assert_eq!(
            out.files,
            vec![(c1.join("common.seccomp"), c2.join("common.seccomp"))]
        );
        assert_eq!(
            dir_files(&text, &c1.join("config"), &c1),
            vec![PathBuf::from("common.seccomp")]
        );
        // A profile elsewhere (LXC's shared one) stays where it is.
        let shared = "lxc.seccomp.profile = /usr/share/lxc/config/common.seccomp\n";
        let keep = Rename {
            uts_name: None,
            ..r
        };
        let out = rewrite_config(shared, &c1.join("config"), &keep).unwrap();
        assert_eq!(out.text, shared);
        assert!(out.files.is_empty());
        assert!(dir_files(shared, &c1.join("config"), &c1).is_empty());
    }
}
