//! Owners and modes as libcgroup writes them: `cgcreate -t alice:users
//! -d 775` and the `perm` sections of cgconfig.conf.

use std::path::Path;

use crate::error::{Error, Result};

/// An octal file mode such as `644` or `2775`: octal digits only, at most
/// `7777`.
pub fn parse_mode(value: &str) -> Result<u32> {
    let invalid = || Error::InvalidMode {
        value: value.to_string(),
    };
    if value.is_empty() || !value.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(invalid());
    }
    u32::from_str_radix(value, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(invalid)
}

/// Whether `value` is a number (`1000`) rather than a name: ASCII digits
/// only.
pub fn is_numeric_id(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
}

fn number(value: &str, setting: &'static str) -> Result<u32> {
    value.parse::<u32>().map_err(|_| Error::InvalidValue {
        setting,
        value: value.to_string(),
        reason: "out of range".into(),
    })
}

/// The user database a name is looked up in. Read as a file, as the
/// enclos binary is static: glibc's getpwnam in a static binary loads NSS
/// modules at run time and may crash on a name it does not find.
pub const PASSWD: &str = "/etc/passwd";
/// The group database, read as [`PASSWD`] is.
pub const GROUP: &str = "/etc/group";

/// A user given by number or by name, looked up in the user database.
pub fn user_id(user: &str) -> Result<u32> {
    id_in(user, "user", "uid", PASSWD)
}

/// A group given by number or by name, looked up in the group database.
pub fn group_id(group: &str) -> Result<u32> {
    id_in(group, "group", "gid", GROUP)
}

/// The fields of the first line of the passwd- or group-shaped `file`
/// (`name:x:id:...`, at least three fields) that `pred` accepts.
pub fn db_entry(
    file: &Path,
    pred: impl Fn(&[&str]) -> bool,
) -> std::io::Result<Option<Vec<String>>> {
    let text = std::fs::read_to_string(file)?;
    Ok(text
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && pred(f))
        .map(|f| f.into_iter().map(str::to_string).collect()))
}

/// The name of user `uid` in the passwd-shaped `passwd` ([`PASSWD`] on a
/// host), `None` when no line has that uid.
pub fn user_name(passwd: &Path, uid: u32) -> std::io::Result<Option<String>> {
    let entry = db_entry(passwd, |f| f[2].parse::<u32>().ok() == Some(uid))?;
    Ok(entry.map(|mut f| f.swap_remove(0)))
}

/// `name`'s id (the third field) in a passwd- or group-shaped `file`.
fn id_in(name: &str, what: &'static str, setting: &'static str, file: &str) -> Result<u32> {
    if is_numeric_id(name) {
        return number(name, setting);
    }
    let entry = db_entry(Path::new(file), |f| f[0] == name).map_err(|e| Error::Lookup {
        what,
        name: name.to_string(),
        source: nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(nix::libc::EIO)),
    })?;
    entry
        .and_then(|f| f[2].parse::<u32>().ok())
        .ok_or_else(|| Error::UnknownId {
            what,
            name: name.to_string(),
        })
}

/// `user:group` as `cgcreate -t/-a` take it: each part a name or a number,
/// either part may be empty (`alice:`, `:1000`), no colon means the user
/// alone.
pub fn parse_owner(spec: &str) -> Result<(Option<u32>, Option<u32>)> {
    let (u, g) = spec.split_once(':').unwrap_or((spec, ""));
    let uid = (!u.is_empty()).then(|| user_id(u)).transpose()?;
    let gid = (!g.is_empty()).then(|| group_id(g)).transpose()?;
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("644", 0o644)]
    #[case("0775", 0o775)]
    #[case("2775", 0o2775)]
    #[case("7777", 0o7777)]
    fn modes(#[case] text: &str, #[case] mode: u32) {
        assert_eq!(parse_mode(text).unwrap(), mode);
    }

    // The CLI's old copy took "+775" (from_str_radix accepts a sign);
    // cgconfig's refused it. Both now refuse it.
    #[rstest]
    #[case("")]
    #[case("+775")]
    #[case("-1")]
    #[case("8")]
    #[case("17777")]
    #[case("rw")]
    fn bad_modes(#[case] text: &str) {
        assert_eq!(
            parse_mode(text).unwrap_err().to_string(),
            format!("Invalid mode '{text}': expected an octal number such as 644")
        );
    }

    #[rstest]
    #[case("0:0", (Some(0), Some(0)))]
    #[case("root:", (Some(0), None))]
    #[case(":root", (None, Some(0)))]
    #[case("1000", (Some(1000), None))]
    #[case("", (None, None))]
    fn owners(#[case] text: &str, #[case] expected: (Option<u32>, Option<u32>)) {
        assert_eq!(parse_owner(text).unwrap(), expected);
    }

    #[test]
    fn names_of_uids() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/bash\nshort:x\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        )
        .unwrap();
        assert_eq!(user_name(&passwd, 0).unwrap().as_deref(), Some("root"));
        assert_eq!(user_name(&passwd, 1000).unwrap().as_deref(), Some("alice"));
        assert_eq!(user_name(&passwd, 1001).unwrap(), None);
        assert!(user_name(&dir.path().join("missing"), 0).is_err());
    }

    #[test]
    fn unknown_names_and_huge_numbers_are_errors() {
        let user = parse_owner("enclos-no-such-user:0").unwrap_err();
        assert!(
            user.to_string()
                .starts_with("Unknown user 'enclos-no-such-user'"),
            "{user}"
        );
        let group = parse_owner("0:enclos-no-such-group").unwrap_err();
        assert!(
            group
                .to_string()
                .starts_with("Unknown group 'enclos-no-such-group'"),
            "{group}"
        );
        let huge = parse_owner("99999999999").unwrap_err();
        assert_eq!(
            huge.to_string(),
            "Invalid value '99999999999' for uid: out of range"
        );
    }
}
