//! One line of `/proc/<pid>/mountinfo` (proc(5)).

use std::path::PathBuf;

use crate::unescape;

/// Where the calling process's mount table is.
pub const MOUNTINFO: &str = "/proc/self/mountinfo";

/// Why a mountinfo line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct MountInfoError {
    /// What is wrong with the line, in a few words.
    pub reason: &'static str,
}

/// One mount, as a line of mountinfo gives it:
/// `id parent major:minor root mount-point options [optional...] - fstype source super-options`.
/// The paths come unescaped (`\040` is a blank).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// Field 3: `major:minor` of the filesystem's device.
    pub devno: String,
    /// Field 4: the directory of the filesystem that the mount shows
    /// (`/` for the whole filesystem).
    pub root: String,
    /// Field 5: where it is mounted.
    pub mount_point: PathBuf,
    /// Field 6: the per-mount options (`rw,nosuid,relatime`).
    pub options: String,
    /// The filesystem type after the ` - ` separator (`ext4`, `cgroup2`).
    pub fstype: String,
    /// The source (`/dev/sda1`, `tmpfs`).
    pub source: String,
    /// The per-superblock options; for a cgroup v1 mount, its controllers.
    pub super_options: String,
}

impl MountInfo {
    /// Reads one line.
    ///
    /// ```
    /// let m = enclos_mounts::MountInfo::parse(
    ///     r"40 25 0:35 / /mnt/my\040disk rw - ext4 /dev/sdb1 rw",
    /// )
    /// .unwrap();
    /// assert_eq!(m.mount_point, std::path::Path::new("/mnt/my disk"));
    /// assert_eq!(m.devno, "0:35");
    /// ```
    pub fn parse(line: &str) -> Result<MountInfo, MountInfoError> {
        let bad = |reason| MountInfoError { reason };
        let (pre, post) = line
            .split_once(" - ")
            .ok_or_else(|| bad("no ' - ' separator before the filesystem type"))?;
        let pre: Vec<&str> = pre.split(' ').collect();
        if pre.len() < 6 {
            return Err(bad("fewer than 6 fields before the separator"));
        }
        let post: Vec<&str> = post.split(' ').collect();
        if post.len() < 3 {
            return Err(bad(
                "expected filesystem type, source and super options after the separator",
            ));
        }
        if !pre[2].contains(':') {
            return Err(bad("field 3 is not a major:minor device number"));
        }
        Ok(MountInfo {
            devno: pre[2].to_string(),
            root: unescape(pre[3]),
            mount_point: PathBuf::from(unescape(pre[4])),
            options: pre[5].to_string(),
            fstype: unescape(post[0]),
            source: unescape(post[1]),
            super_options: post[2].to_string(),
        })
    }

    /// Every line of a mount table that reads; blank and malformed lines
    /// are passed over (for callers that only look, such as clean-ups).
    pub fn parse_all(text: &str) -> impl Iterator<Item = MountInfo> + '_ {
        text.lines().filter_map(|l| MountInfo::parse(l).ok())
    }

    /// The super options one by one.
    pub fn super_options(&self) -> impl Iterator<Item = &str> {
        self.super_options.split(',').filter(|o| !o.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn reads_every_field() {
        let m = MountInfo::parse(
            "35 24 0:31 /sub /sys/fs/cgroup/cpu\\040set rw,nosuid shared:9 master:1 - cgroup cgroup rw,cpu,cpuacct",
        )
        .unwrap();
        assert_eq!(
            m,
            MountInfo {
                devno: "0:31".into(),
                root: "/sub".into(),
                mount_point: "/sys/fs/cgroup/cpu set".into(),
                options: "rw,nosuid".into(),
                fstype: "cgroup".into(),
                source: "cgroup".into(),
                super_options: "rw,cpu,cpuacct".into(),
            }
        );
        assert_eq!(
            m.super_options().collect::<Vec<_>>(),
            ["rw", "cpu", "cpuacct"]
        );
    }

    #[rstest]
    #[case(
        "22 1 8:1 / / rw ext4 /dev/sda1 rw",
        "no ' - ' separator before the filesystem type"
    )]
    #[case(
        "22 1 8:1 / / - ext4 /dev/sda1 rw",
        "fewer than 6 fields before the separator"
    )]
    #[case(
        "22 1 8:1 / / rw - ext4 /dev/sda1",
        "expected filesystem type, source and super options after the separator"
    )]
    #[case(
        "22 1 81 / / rw - ext4 /dev/sda1 rw",
        "field 3 is not a major:minor device number"
    )]
    fn malformed(#[case] line: &str, #[case] reason: &str) {
        assert_eq!(MountInfo::parse(line).unwrap_err().reason, reason);
    }

    #[test]
    fn parse_all_skips_what_does_not_read() {
        let text =
            "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\ngarbage\n23 22 0:5 / /proc rw - proc proc rw\n";
        let points: Vec<PathBuf> = MountInfo::parse_all(text).map(|m| m.mount_point).collect();
        assert_eq!(points, [PathBuf::from("/"), PathBuf::from("/proc")]);
    }
}
