//! The names of the volumes a backend sets aside when it replaces one by
//! renames (LVM, ZFS, RBD; see `Driver::replace`): `NAME<mark>replaced`
//! while a replace is under way, `NAME<mark>retiredN` while clones of its
//! snapshots need it. The mark (`+` for LVM, `:` for ZFS and RBD) is in
//! no container name.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// A backend's mark.
pub(crate) struct Aside(pub char);

/// The mark of ZFS and RBD, and of any backend that says no other.
pub(crate) const COLON: Aside = Aside(':');

impl Aside {
    /// `NAME<mark>TAG`: a name of the backend's own beside `name`.
    pub fn tagged(&self, name: &str, tag: &str) -> String {
        format!("{name}{}{tag}", self.0)
    }

    /// `NAME<mark>replaced`.
    pub fn replaced(&self, name: &str) -> String {
        self.tagged(name, "replaced")
    }

    /// Whether `name` (its last `/` component) is `BASE<mark>retiredN`.
    pub fn is_retired(&self, name: &str) -> bool {
        let leaf = name.rsplit_once('/').map_or(name, |(_, l)| l);
        leaf.rsplit_once(&format!("{}retired", self.0))
            .is_some_and(|(base, n)| {
                !base.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
            })
    }

    /// `BASE<mark>retiredN` for the volume set aside as `aside` (BASE is
    /// it without its replaced mark), N the first one `taken` says is
    /// free.
    pub fn retired(
        &self,
        aside: &str,
        mut taken: impl FnMut(&str) -> Result<bool>,
    ) -> Result<String> {
        let replaced = format!("{}replaced", self.0);
        let base = aside.strip_suffix(&replaced).unwrap_or(aside);
        let mut n = 0u32;
        loop {
            let name = format!("{base}{}retired{n}", self.0);
            if !taken(&name)? {
                return Ok(name);
            }
            n += 1;
        }
    }
}

/// The error of a replace whose step failed with `failed`, once `undone`
/// tried to rename the old volume `path` back from `aside` (with the
/// backend's `rename` command): `failed` when it did, else where its data
/// is.
pub(crate) fn not_put_back(
    rename: &'static str,
    path: PathBuf,
    aside: PathBuf,
    failed: Error,
    undone: Result<()>,
) -> Error {
    match undone {
        Ok(()) => failed,
        Err(undo) => Error::NotPutBack {
            rename,
            path,
            aside,
            failed: failed.to_string(),
            source: Box::new(undo),
        },
    }
}
