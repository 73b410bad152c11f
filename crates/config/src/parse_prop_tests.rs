//! Property tests of the config language reader, on arbitrary text and
//! on near-valid files made of the key table's own keys (legacy ones,
//! `lxc.idmap` and `lxc.mount.entry` lines, includes among them): no
//! panic, every error names its file and a line that file has, and what
//! parses, written back (the file's own `Display`, `set`), parses to the
//! same entries. A config file can be written by anyone who owns the
//! container, so nothing in it may break the reader.
//!
//! Each property runs tens of thousands of cases (a few hundred for the ones
//! that write include files), which keeps `cargo test -p enclos-config`
//! within seconds; for a long soak set `ENCLOS_PROPTEST_CASES` (e.g.
//! `ENCLOS_PROPTEST_CASES=1000000 cargo test -p enclos-config
//! prop_tests`).

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use crate::keys::KEYS;
use crate::{Config, Error, Origin};

fn config(default: u32) -> ProptestConfig {
    ProptestConfig::with_cases(enclos_testkit::proptest_cases(default))
}

/// The place an error names; every error of reading a file has one.
fn origin(e: &Error) -> Option<&Origin> {
    match e {
        Error::Read { .. } | Error::Write { .. } => None,
        Error::Include { origin, .. }
        | Error::IncludeLoop { origin, .. }
        | Error::Syntax { origin, .. }
        | Error::InvalidKey { origin, .. }
        | Error::UnknownKey { origin, .. }
        | Error::Unsupported { origin, .. }
        | Error::UnsupportedNetType { origin, .. }
        | Error::InvalidValue { origin, .. }
        | Error::Inconsistent { origin, .. } => Some(origin),
    }
}

/// A key: one of the table's (network indices and families filled in),
/// a legacy one, or a made-up one.
fn key() -> impl Strategy<Value = String> {
    let patterns: Vec<&'static str> = KEYS.iter().map(|s| s.pattern).collect();
    let index = prop::sample::select(vec!["0", "1", "00", "7", "4294967296", "x", ""]);
    let family = prop::sample::select(vec!["memory.max", "cpu.shares", "nofile", "", "a.b"]);
    let legacy = prop::sample::select(vec![
        "lxc.utsname",
        "lxc.id_map",
        "lxc.tty",
        "lxc.rootfs",
        "lxc.rootfs.backend",
        "lxc.network.type",
        "lxc.network.link",
        "lxc.network.ipv4",
        "lxc.network.1.type",
        "lxc.network.2.flags",
        "lxc.network",
        "lxc.limit.nofile",
        "lxc.haltsignal",
        "lxc.pivotdir",
        "lxc.mount",
    ]);
    prop_oneof![
        6 => (prop::sample::select(patterns), index, family).prop_map(|(p, i, f)| {
            p.replace('#', i).replace('*', f)
        }),
        2 => legacy.prop_map(String::from),
        1 => r"lxc\.[a-z0-9._]{0,14}",
        1 => r"\PC{0,10}",
    ]
}

/// Values, some fitting each kind of key.
const VALUES: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "5",
    "busybox",
    "u 0 100000 65536",
    "g 0 100000 65536",
    "u 0 4294967295 1",
    "sys_admin mknod",
    "none",
    "proc proc proc",
    "/dev/fuse dev/fuse none bind,create=file,optional 0 0",
    r"/srv/a\040b mnt none bind",
    "a b c ,",
    "proc:mixed sys:ro cgroup:rw",
    "dir:/var/lib/x/rootfs",
    "btrfs",
    "dir",
    "/x",
    "x",
    "empty",
    "veth",
    "br0",
    "up",
    "10.0.0.2/24",
    "fd00::2/64",
    "10.0.0.1",
    "auto",
    "SIGPWR",
    "RTMIN+3",
    "max 100000",
    "x86_64",
    "lxc",
    "PATH=/bin",
    "/sbin/init --x 'a b'",
    "net uts",
    "boot 1s",
    "monotonic 10ms",
    "1024:2048",
    "unlimited",
    "10MB",
    "00:16:3e:12:34:56",
    "unconfined",
    "generated",
    "DEBUG",
    "daemon",
    "eth0",
    "bridge",
    "l2",
    "private",
    "10",
    "\"quoted value\"",
    "' x '",
    "\"",
    "a # b",
];

/// A value that fits some key, or arbitrary text, sometimes quoted.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(VALUES).prop_map(String::from),
        1 => r"\PC{0,16}",
        1 => r#"["'][a-z "']{0,6}["']?"#,
    ]
}

/// `key = value` pairs that read: every key of the table with each of
/// [`VALUES`] that fits it.
fn fitting() -> Vec<(String, &'static str)> {
    let origin = Origin::new("", 0);
    let mut pairs = Vec::new();
    for spec in KEYS {
        for index in ["0", "1"] {
            let key = spec.pattern.replace('#', index).replace('*', "nofile");
            for v in VALUES.iter().filter(|v| !v.is_empty()) {
                if crate::parse::check_entry(&key, &key, v, &origin).is_ok() {
                    pairs.push((key.clone(), *v));
                }
            }
        }
    }
    pairs
}

/// One line of a file: `key = value` with any blanks, a comment, a blank
/// line, a line without `=`, arbitrary text.
fn line() -> impl Strategy<Value = String> {
    let blank = prop::sample::select(vec!["", " ", "\t", "  "]);
    let pair = prop_oneof![
        6 => prop::sample::select(fitting()).prop_map(|(k, v)| (k, v.to_string())),
        1 => (key(), value()),
    ];
    prop_oneof![
        16 => (pair, blank.clone(), blank).prop_map(|((k, v), a, b)| {
            format!("{a}{k}{b}={a}{v}{b}")
        }),
        2 => r"[ \t]{0,2}#\PC{0,12}|[ \t]{0,2}",
        1 => r"\PC{0,24}",
    ]
}

/// The place an error names is in one of `files` (path and text), at a
/// line that file has, and the message starts with it.
fn check_place(e: &Error, files: &[(PathBuf, String)]) -> Result<(), TestCaseError> {
    let Some(origin) = origin(e) else {
        return Err(TestCaseError::fail(format!("no place in {e}")));
    };
    let Some((path, text)) = files.iter().find(|(p, _)| *p == origin.file) else {
        return Err(TestCaseError::fail(format!("{e} names no file read")));
    };
    let lines = text.lines().count();
    prop_assert!(
        origin.line >= 1 && origin.line <= lines,
        "line {} of {}: {}",
        origin.line,
        lines,
        e
    );
    let prefix = format!("{}:{}: ", path.display(), origin.line);
    prop_assert!(e.to_string().starts_with(&prefix), "{}", e);
    Ok(())
}

/// Every entry comes from one of `files`, from a line it has.
fn check_entries(c: &Config, files: &[(PathBuf, String)]) -> Result<(), TestCaseError> {
    let places = c
        .entries()
        .iter()
        .map(|e| &e.origin)
        .chain(c.warnings().iter().map(|w| &w.origin));
    for origin in places {
        let file = files.iter().find(|(p, _)| *p == origin.file);
        prop_assert!(file.is_some(), "{} is no file read", origin);
        let lines = file.unwrap().1.lines().count();
        prop_assert!(
            origin.line >= 1 && origin.line <= lines,
            "{} of {} lines",
            origin,
            lines
        );
    }
    Ok(())
}

fn keys_and_values(c: &Config) -> Vec<(String, String)> {
    c.entries()
        .iter()
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect()
}

/// Written back, `c` parses to the same entries.
fn check_round_trip(c: &Config) -> Result<(), TestCaseError> {
    let text = c.to_string();
    let again = Config::parse_str(&text, c.path());
    prop_assert!(again.is_ok(), "{} in\n{}", again.unwrap_err(), text);
    prop_assert_eq!(
        keys_and_values(&again.unwrap()),
        keys_and_values(c),
        "written as\n{}",
        text
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(35_000))]

    #[test]
    fn files_never_panic_errors_name_the_line_and_write_back(
        lines in prop::collection::vec(line(), 0..10),
        newline in prop::sample::select(vec!["\n", "\r\n"]),
    ) {
        // Includes name files of /p, which does not exist: each is an
        // error at its line.
        let path = Path::new("/p/config");
        let text = lines.join(newline);
        let files = [(path.to_path_buf(), text.clone())];
        match Config::parse_str(&text, path) {
            Ok(c) => {
                check_entries(&c, &files)?;
                check_round_trip(&c)?;
            }
            Err(e) => check_place(&e, &files)?,
        }
    }
}

proptest! {
    #![proptest_config(config(15_000))]

    /// `set` with any key and value: a value it takes is written so that
    /// the file reads it back.
    #[test]
    fn set_values_are_written_back(
        lines in prop::collection::vec(line(), 0..4),
        sets in prop::collection::vec((key(), value()), 1..4),
    ) {
        let Ok(mut c) = Config::parse_str(&lines.join("\n"), Path::new("/p/config")) else {
            return Ok(());
        };
        for (k, v) in &sets {
            let _ = c.set(k, v);
        }
        if c.validate().is_ok() {
            check_round_trip(&c)?;
        }
    }
}

/// A top-level file and the files it may include, in `dir`: `config`,
/// `a.conf`, `b.conf` and `d/*.conf`.
const FILES: [&str; 5] = ["config", "a.conf", "b.conf", "d/x.conf", "d/y.conf"];

/// A line of a file of the include tree: mostly includes of the others
/// (loops, directories, missing files among them).
fn include_tree_line() -> impl Strategy<Value = String> {
    let target = prop::sample::select(vec![
        "a.conf",
        "b.conf",
        "d",
        "d/",
        "config",
        "missing.conf",
        "missing.d/",
        "x.conf",
        "../d/x.conf",
        "",
    ]);
    // Legacy keys whose meaning depends on lines of other files.
    let legacy = prop::sample::select(vec![
        "lxc.rootfs.backend = btrfs",
        "lxc.rootfs.backend =",
        "lxc.rootfs = /x",
        "lxc.network.type = empty",
        "lxc.network.link = br0",
        "lxc.network.flags = up",
        "lxc.net.1.type = empty",
    ]);
    prop_oneof![
        2 => target.prop_map(|t| format!("lxc.include = {t}")),
        2 => legacy.prop_map(String::from),
        3 => line(),
    ]
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn includes_never_panic_and_errors_name_their_file(
        texts in prop::collection::vec(prop::collection::vec(include_tree_line(), 0..5), 5),
    ) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("d")).unwrap();
        let files: Vec<(PathBuf, String)> = FILES
            .iter()
            .zip(&texts)
            .map(|(name, lines)| {
                let path = dir.path().join(name);
                let text = lines.join("\n");
                fs::write(&path, &text).unwrap();
                (path, text)
            })
            .collect();
        // The files of `d` are also read as `d/../d/x.conf`.
        let mut places = files.clone();
        for (path, text) in &files[3..] {
            let name = path.file_name().unwrap();
            places.push((dir.path().join("d/../d").join(name), text.clone()));
        }
        match Config::load(&files[0].0) {
            Ok(c) => {
                check_entries(&c, &places)?;
                check_round_trip(&c)?;
            }
            Err(e) => check_place(&e, &places)?,
        }
    }
}

/// A long line: a key or a value of many thousand characters.
fn long_line() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "lxc.cgrup.",
            "lxc.",
            "lxc.uts.name = ",
            "lxc.net.0.",
            "x",
            "lxc.cap.drop = ",
        ]),
        r"[a-z. ]",
        10_000usize..60_000,
        prop::sample::select(vec!["", " = 1", "="]),
    )
        .prop_map(|(head, fill, n, tail)| format!("{head}{}{tail}", fill.repeat(n)))
}

proptest! {
    #![proptest_config(config(30))]

    /// Reading a line takes time in proportion to its length: a
    /// misspelt key of 60 000 characters is no reason to wait.
    #[test]
    fn long_lines_read_in_linear_time(line in long_line()) {
        let start = std::time::Instant::now();
        let result = Config::parse_str(&line, Path::new("/p/config"));
        prop_assert!(start.elapsed() < std::time::Duration::from_secs(30), "{:?}", start.elapsed());
        if let Err(e) = result {
            check_place(&e, &[(PathBuf::from("/p/config"), line)])?;
        }
    }
}
