//! One fstab line (fstab(5)), with LXC's own options as fields, as
//! `lxc.mount.entry` and `lxc.mount.fstab` write them.

use std::fmt;

use serde::Serialize;

use crate::{escape, unescape};

/// What `create=` asks for when the mount target is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Create {
    /// `create=dir`: the directory and its missing parents.
    Dir,
    /// `create=file`: an empty file (and missing parent directories).
    File,
}

/// Why an fstab line could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.reason())]
pub enum FstabError {
    /// Fewer than three fields.
    TooFewFields,
    /// More than six fields.
    TooManyFields,
    /// Dump or pass is not a number.
    NotANumber,
    /// `create=` with something other than `dir` or `file`.
    BadCreate,
}

impl FstabError {
    /// The reason, as the error prints it.
    pub fn reason(self) -> &'static str {
        match self {
            FstabError::TooFewFields => "expected at least source, target and type",
            FstabError::TooManyFields => "too many fields (a blank in a path is written \\040)",
            FstabError::NotANumber => "the dump and pass fields must be numbers",
            FstabError::BadCreate => "create= takes dir or file",
        }
    }
}

/// One fstab line: `source target fstype [options [dump [pass]]]`, fields
/// separated by blanks, `\040` for a blank inside a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FstabEntry {
    /// The device or filesystem source; for a bind mount, a path.
    pub source: String,
    /// As written (LXC reads a relative target as relative to the rootfs).
    pub target: String,
    /// The filesystem type (`none` for a bind mount).
    pub fstype: String,
    /// The options, less LXC's own (`create=`, `optional`, `relative`);
    /// `defaults` when none are written (no field, or only commas).
    pub options: Vec<String>,
    /// `create=dir` or `create=file`.
    pub create: Option<Create>,
    /// `optional`: a failure to mount is not an error.
    pub optional: bool,
    /// `relative`: the source is relative to the container's root.
    pub relative: bool,
    /// Field 5 (0 when absent).
    pub dump: u32,
    /// Field 6 (0 when absent).
    pub pass: u32,
}

impl FstabEntry {
    /// Reads one line.
    ///
    /// ```
    /// let e = enclos_mounts::FstabEntry::parse("proc proc proc").unwrap();
    /// assert_eq!(e.options, ["defaults"]);
    /// assert!(enclos_mounts::FstabEntry::parse("tmpfs tmp").is_err());
    /// ```
    pub fn parse(line: &str) -> Result<FstabEntry, FstabError> {
        let fields: Vec<String> = line.split_whitespace().map(unescape).collect();
        if fields.len() < 3 {
            return Err(FstabError::TooFewFields);
        }
        if fields.len() > 6 {
            return Err(FstabError::TooManyFields);
        }
        let number = |i: usize| {
            fields.get(i).map_or(Ok(0), |f| {
                f.parse::<u32>().map_err(|_| FstabError::NotANumber)
            })
        };
        let (dump, pass) = (number(4)?, number(5)?);
        let mut entry = FstabEntry {
            source: fields[0].clone(),
            target: fields[1].clone(),
            fstype: fields[2].clone(),
            options: Vec::new(),
            create: None,
            optional: false,
            relative: false,
            dump,
            pass,
        };
        let options = fields.get(3).map_or("defaults", String::as_str);
        for option in options.split(',').filter(|o| !o.is_empty()) {
            match option {
                "optional" => entry.optional = true,
                "relative" => entry.relative = true,
                "create=dir" => entry.create = Some(Create::Dir),
                "create=file" => entry.create = Some(Create::File),
                o if o.starts_with("create=") => return Err(FstabError::BadCreate),
                o => entry.options.push(o.to_string()),
            }
        }
        if entry.options.is_empty() && entry.create.is_none() && !entry.optional && !entry.relative
        {
            // `,` names no option at all: the defaults, as no field does.
            entry.options.push("defaults".to_string());
        }
        Ok(entry)
    }
}

impl fmt::Display for FstabEntry {
    /// The line with all six fields, LXC's options after the others,
    /// escaped so that [`FstabEntry::parse`] reads it back the same:
    /// `/srv/my\040data mnt none bind,create=dir,optional 0 0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut options: Vec<String> = self.options.iter().map(|o| escape(o)).collect();
        match self.create {
            Some(Create::Dir) => options.push("create=dir".to_string()),
            Some(Create::File) => options.push("create=file".to_string()),
            None => {}
        }
        for (set, name) in [(self.optional, "optional"), (self.relative, "relative")] {
            if set {
                options.push(name.to_string());
            }
        }
        if options.is_empty() {
            options.push("defaults".to_string());
        }
        write!(
            f,
            "{} {} {} {} {} {}",
            escape(&self.source),
            escape(&self.target),
            escape(&self.fstype),
            options.join(","),
            self.dump,
            self.pass
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn lxc_options_become_fields() {
        let e =
            FstabEntry::parse("/dev/fuse dev/fuse none bind,create=file,optional,ro,relative 1 2")
                .unwrap();
        assert_eq!(
            e,
            FstabEntry {
                source: "/dev/fuse".into(),
                target: "dev/fuse".into(),
                fstype: "none".into(),
                options: vec!["bind".into(), "ro".into()],
                create: Some(Create::File),
                optional: true,
                relative: true,
                dump: 1,
                pass: 2,
            }
        );
    }

    #[test]
    fn escapes_in_every_field() {
        let e =
            FstabEntry::parse(r"/srv/my\040data mnt/my\040data none bind,x-a\054b 0 0").unwrap();
        assert_eq!(e.source, "/srv/my data");
        assert_eq!(e.target, "mnt/my data");
        assert_eq!(e.options, ["bind", "x-a", "b"]);
    }

    /// Found by the property tests: an options field of commas alone
    /// gave no option at all, which wrote back as `defaults`.
    #[test]
    fn commas_alone_are_the_defaults() {
        let e = FstabEntry::parse("a b c ,").unwrap();
        assert_eq!(e.options, ["defaults"]);
        assert_eq!(FstabEntry::parse(&e.to_string()).unwrap(), e);
        let e = FstabEntry::parse("a b c ,optional,").unwrap();
        assert!(e.options.is_empty() && e.optional);
    }

    #[test]
    fn written_back_as_read() {
        let line = r"/srv/my\040data mnt/x none bind,x-a\054b,create=dir,optional 1 2";
        let e = FstabEntry::parse(line).unwrap();
        assert_eq!(
            e.to_string(),
            r"/srv/my\040data mnt/x none bind,x-a,b,create=dir,optional 1 2"
        );
        assert_eq!(FstabEntry::parse(&e.to_string()).unwrap(), e);
    }

    #[rstest]
    #[case("tmpfs tmp", FstabError::TooFewFields)]
    #[case("a b c d 0 0 extra", FstabError::TooManyFields)]
    #[case("a b c d zero", FstabError::NotANumber)]
    #[case("a b c d 0 -1", FstabError::NotANumber)]
    #[case("a b c create=socket", FstabError::BadCreate)]
    fn bad_lines(#[case] line: &str, #[case] want: FstabError) {
        let err = FstabEntry::parse(line).unwrap_err();
        assert_eq!(err, want);
        assert_eq!(err.to_string(), want.reason());
    }
}
