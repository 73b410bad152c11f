//! Property tests of the `/etc/subuid` and `/etc/subgid` parser and of
//! `lxc.idmap` lines, on arbitrary text and near-valid lines: no panic,
//! every error of a file names the file and a line it has, and what
//! parses, written back, parses the same.
//!
//! Each property runs tens of thousands of cases (over 300,000 across
//! the workspace's parsers), which keeps `cargo test -p enclos-idmap`
//! within seconds; for a long soak set
//! `ENCLOS_PROPTEST_CASES` (e.g. `ENCLOS_PROPTEST_CASES=1000000 cargo test
//! -p enclos-idmap prop_tests`). The place of a bad `lxc.idmap` line is
//! enclos-config's business, and its property tests check it.

use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::map::IdMap;

fn config(default: u32) -> ProptestConfig {
    ProptestConfig::with_cases(enclos_testkit::proptest_cases(default))
}

/// A decimal number, often near the ends of the id space.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0u32..300_000).prop_map(|n| n.to_string()),
        2 => (u32::MAX - 70_000..=u32::MAX).prop_map(|n| n.to_string()),
        1 => Just("4294967296".to_string()),
        1 => Just("99999999999999999999".to_string()),
        1 => r"[+-]?[0-9]{0,3}|0x1|[0-9]{1,3} [0-9]",
    ]
}

/// A line of a subid file: a range, with blanks and odd owners, or a
/// comment, a blank line, too many or too few fields, arbitrary text.
fn subid_line() -> impl Strategy<Value = String> {
    let owner = prop_oneof![
        r"[a-z_][a-z0-9_-]{0,8}",
        r"[0-9]{1,5}",
        r"\PC{0,6}",
        Just(String::new())
    ];
    let range = (owner, number(), number(), r" {0,2}", r"(:[0-9]{1,3})?")
        .prop_map(|(o, s, c, pad, extra)| format!("{pad}{o}{pad}:{s}:{pad}{c}{extra}{pad}"));
    prop_oneof![
        6 => range,
        1 => r"#\PC{0,20}|[ \t]{0,3}",
        1 => r"[a-z0-9]{1,5}(:[0-9]{1,6}){0,4}",
        1 => r"\PC{0,30}",
    ]
}

/// An `lxc.idmap` value: a kind, three numbers, blanks of any width; or
/// arbitrary text.
fn idmap_value() -> impl Strategy<Value = String> {
    let kind = prop::sample::select(vec!["u", "g", "b", "U", "", "ug"]);
    let blank = prop::sample::select(vec![" ", "\t", "  ", " \u{a0}"]);
    prop_oneof![
        4 => (kind, prop::collection::vec(number(), 2..5), blank).prop_map(|(k, n, b)| {
            format!("{b}{k}{b}{}", n.join(b))
        }),
        1 => r"\PC{0,30}",
    ]
}

fn owners_and_ids(ids: &SubIds) -> Vec<(String, u32, u32)> {
    ids.ranges
        .iter()
        .map(|r| (r.owner.clone(), r.start, r.count))
        .collect()
}

proptest! {
    #![proptest_config(config(10_000))]

    #[test]
    fn subid_files_never_panic_and_errors_name_the_line(
        lines in prop::collection::vec(subid_line(), 0..12),
        newline in prop::sample::select(vec!["\n", "\r\n"]),
    ) {
        let text = lines.join(newline);
        let path = Path::new("/p/subuid");
        let count = text.lines().count();
        match SubIds::parse(path, IdKind::Uid, &text) {
            Ok(ids) => {
                for r in &ids.ranges {
                    prop_assert!(r.line >= 1 && r.line <= count);
                    prop_assert!(u64::from(r.last()) < u64::from(u32::MAX));
                }
                let _ = ids.next_free_start(u32::MAX);
                // Written back one range a line, it parses the same.
                let written: Vec<String> = ids.ranges.iter().map(ToString::to_string).collect();
                let again = SubIds::parse(path, IdKind::Uid, &written.join("\n"));
                prop_assert!(again.is_ok(), "{:?} does not parse again: {:?}", written, again);
                prop_assert_eq!(owners_and_ids(&again.unwrap()), owners_and_ids(&ids));
            }
            Err(e) => {
                let Error::SubIdSyntax { ref path, line, .. } = e else {
                    return Err(TestCaseError::fail(format!("unexpected error {e}")));
                };
                prop_assert_eq!(path.as_path(), Path::new("/p/subuid"));
                prop_assert!(line >= 1 && line <= count, "line {} of {}", line, count);
                let prefix = format!("/p/subuid:{line}: ");
                prop_assert!(e.to_string().starts_with(&prefix), "{}", e);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(60_000))]

    #[test]
    fn idmap_lines_never_panic_and_read_back_the_same(value in idmap_value()) {
        if let Ok(map) = IdMap::parse(&value) {
            prop_assert_eq!(IdMap::parse(&map.to_string()), Ok(map));
            let last = map.range - 1;
            prop_assert_eq!(map.host_id_of(map.container_id + last), Some(map.host_id + last));
            prop_assert_eq!(map.container_id_of(map.host_id + last), Some(map.container_id + last));
            prop_assert_eq!(map.host_id_of(u32::MAX).is_some(), map.container_id + last == u32::MAX);
        }
    }
}
