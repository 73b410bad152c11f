//! Property tests of the cgconfig.conf reader (lexer, parser, loading of
//! several files) on arbitrary text and on near-valid files: no panic,
//! every error names the file and a line it has, and what parses, written
//! back by [`Config::to_conf`] (what cgsnapshot prints), parses to the
//! same tree. A cgconfig.conf may come from anyone who can write to
//! /etc/cgconfig.d.
//!
//! Each property runs tens of thousands of cases (over 300,000 across
//! the workspace's parsers), which keeps `cargo test -p enclos-cgconfig`
//! within seconds; for a long soak set
//! `ENCLOS_PROPTEST_CASES` (e.g. `ENCLOS_PROPTEST_CASES=1000000 cargo test
//! -p enclos-cgconfig prop_tests`).

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use crate::error::{ConfigError, Error};
use crate::write::tests::unplaced;
use crate::{load, parse_str, Config};

fn config(default: u32) -> ProptestConfig {
    ProptestConfig::with_cases(enclos_testkit::proptest_cases(default))
}

/// A name: a bare word (keywords included), a quoted string, a path.
fn name() -> impl Strategy<Value = String> {
    let word = prop::sample::select(vec![
        "group",
        "template",
        "perm",
        "task",
        "admin",
        "default",
        "mount",
        "namespace",
        ".",
        "a/b",
        "/",
        "%u",
        "name=systemd",
        "cpu",
        "memory",
        "uid",
    ]);
    prop_oneof![
        4 => r"[a-z][a-z0-9_.%-]{0,6}",
        2 => word.clone().prop_map(String::from),
        1 => word.prop_map(|w| format!("\"{w}\"")),
        2 => r#""[^"\n]{0,8}""#,
        1 => r"[^ \n]{1,4}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        r"[0-9]{1,6}|-1|max",
        r#""[^"\n]{0,10}""#,
        r"/[a-z/]{0,10}",
        name(),
    ]
}

fn settings() -> impl Strategy<Value = String> {
    let key = prop_oneof![r"(cpu|memory|pids)\.[a-z_]{1,8}", name()];
    prop::collection::vec((key, value()), 0..3).prop_map(|s| {
        s.iter()
            .map(|(k, v)| format!("{k} = {v};"))
            .collect::<Vec<_>>()
            .join(" ")
    })
}

fn perm() -> impl Strategy<Value = String> {
    let id = prop_oneof![r"[a-z]{1,5}|[0-9]{1,11}", r#""[^"\n]{0,5}""#];
    let mode = r"[0-7]{1,5}|8|";
    let field = (
        prop::sample::select(vec!["uid", "gid", "fperm", "dperm", "other"]),
        prop_oneof![id, mode.prop_map(String::from)],
    )
        .prop_map(|(k, v)| format!("{k} = {v};"));
    let section = (
        prop::sample::select(vec!["task", "admin", "task", "admin", "other"]),
        prop::collection::vec(field, 0..4),
    )
        .prop_map(|(s, f)| format!("{s} {{ {} }}", f.join(" ")));
    prop::collection::vec(section, 0..3).prop_map(|s| format!("perm {{ {} }}", s.join("\n")))
}

/// One top-level item of a cgconfig.conf.
fn item() -> impl Strategy<Value = String> {
    let block = (name(), settings()).prop_map(|(n, s)| format!("{n} {{ {s} }}"));
    let group = (
        prop::sample::select(vec!["group", "template"]),
        name(),
        prop::option::of(perm()),
        prop::collection::vec(block, 0..3),
    )
        .prop_map(|(kw, n, p, b)| {
            format!(
                "{kw} {n} {{\n{}\n{}\n}}",
                p.unwrap_or_default(),
                b.join("\n")
            )
        });
    let entries = (
        prop::sample::select(vec!["mount", "namespace"]),
        prop::collection::vec((name(), value()), 0..3),
    )
        .prop_map(|(kw, e)| {
            let e: Vec<String> = e.iter().map(|(k, v)| format!("{k} = {v};")).collect();
            format!("{kw} {{ {} }}", e.join(" "))
        });
    prop_oneof![
        4 => group,
        2 => entries,
        1 => perm().prop_map(|p| format!("default {{ {p} }}")),
        1 => r"# [^\n]{0,10}",
    ]
}

/// A file of items, then maybe broken: a few characters cut or a
/// character put in somewhere.
fn file() -> impl Strategy<Value = String> {
    let edit = (
        any::<prop::sample::Index>(),
        0usize..3,
        prop::sample::select(vec!["", "{", "}", ";", "=", "\"", "\n", "#", " x "]),
    );
    (
        prop::collection::vec(item(), 0..4),
        prop::sample::select(vec!["\n", " ", "\n\n", "\t"]),
        prop::option::of(edit),
    )
        .prop_map(|(items, sep, edit)| {
            let text = items.join(sep);
            let Some((at, cut, put)) = edit else {
                return text;
            };
            let chars: Vec<char> = text.chars().collect();
            let at = at.index(chars.len() + 1);
            let end = (at + cut).min(chars.len());
            let mut out: String = chars[..at].iter().collect();
            out.push_str(put);
            out.extend(&chars[end..]);
            out
        })
}

/// The error names `file` and a line and column of `text`.
fn check_place(e: &ConfigError, file: &Path, text: &str) -> Result<(), TestCaseError> {
    let lines = text.lines().count().max(1);
    prop_assert_eq!(&e.file, file);
    prop_assert!(
        e.line >= 1 && e.line <= lines,
        "line {} of {}: {}",
        e.line,
        lines,
        e
    );
    prop_assert!(e.column >= 1, "{}", e);
    let prefix = format!("{}:{}:{}: ", file.display(), e.line, e.column);
    prop_assert!(e.to_string().starts_with(&prefix), "{}", e);
    Ok(())
}

/// Written back, `c` parses to the same tree.
fn check_round_trip(c: &Config, from: &str) -> Result<(), TestCaseError> {
    let text = c.to_conf();
    prop_assert!(text.is_ok(), "{:?} from {}", text, from);
    let text = text.unwrap();
    let again = parse_str(&text, Path::new("/p/again.conf"));
    prop_assert!(
        again.is_ok(),
        "{} from {} written as\n{}",
        again.unwrap_err(),
        from,
        text
    );
    prop_assert_eq!(
        unplaced(again.unwrap()),
        unplaced(c.clone()),
        "{} written as\n{}",
        from,
        text
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(40_000))]

    #[test]
    fn files_never_panic_errors_name_the_line_and_write_back(
        text in prop_oneof![4 => file(), 1 => r"\PC{0,60}", 1 => r"[{}=;# \n\x22a-z]{0,40}"],
    ) {
        let file = Path::new("/p/cgconfig.conf");
        match parse_str(&text, file) {
            Ok(c) => check_round_trip(&c, &text)?,
            Err(e) => check_place(&e, file, &text)?,
        }
    }
}

proptest! {
    #![proptest_config(config(400))]

    /// Several files loaded into one: an item defined twice names both
    /// places, in the file of the second.
    #[test]
    fn loading_several_files_names_the_file(texts in prop::collection::vec(file(), 1..4)) {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let path = dir.path().join(format!("{i}.conf"));
                std::fs::write(&path, t).unwrap();
                path
            })
            .collect();
        match load(&files, &[]) {
            Ok(c) => check_round_trip(&c, &texts.join("\n---\n"))?,
            Err(Error::Config(e)) => {
                let i = files.iter().position(|f| *f == e.file);
                prop_assert!(i.is_some(), "{} names no file loaded", e);
                check_place(&e, &files[i.unwrap()], &texts[i.unwrap()])?;
            }
            Err(e) => prop_assert!(false, "unexpected error {}", e),
        }
    }
}

/// Many items, or a long one.
fn big_file() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "group g{i} { cpu { } }\n",
            "cpu.k{i} = 1;\n",
            "\"{i}\" = /m;\n",
            "x{i}",
        ]),
        5_000usize..20_000,
    )
        .prop_map(|(item, n)| {
            let items: String = (0..n)
                .map(|i| item.replace("{i}", &i.to_string()))
                .collect();
            match item {
                "cpu.k{i} = 1;\n" => format!("group a {{ cpu {{ {items} }} }}"),
                "\"{i}\" = /m;\n" => format!("mount {{ {items} }}"),
                _ => items,
            }
        })
}

proptest! {
    #![proptest_config(config(6))]

    /// Reading takes time in proportion to the size of the file, not to
    /// the square of its number of items (the bound is loose for loaded
    /// machines: the square of 5 000 items took 18 s in debug).
    #[test]
    fn big_files_read_in_linear_time(text in big_file()) {
        let start = std::time::Instant::now();
        let result = parse_str(&text, Path::new("/p/cgconfig.conf"));
        prop_assert!(start.elapsed() < std::time::Duration::from_secs(30), "{:?}", start.elapsed());
        if let Err(e) = result {
            check_place(&e, Path::new("/p/cgconfig.conf"), &text)?;
        }
    }
}
