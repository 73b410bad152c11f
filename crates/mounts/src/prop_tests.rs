//! Property tests of the mountinfo and fstab line parsers and of the octal
//! escapes, on arbitrary text and on near-valid lines: no panic, and what
//! parses, written back, parses the same. The lines come from files anyone
//! may write (an fstab, `lxc.mount.entry`), so nothing may break a reader.
//!
//! Each property runs tens of thousands of cases (over 300,000 across
//! the workspace's parsers), which keeps `cargo test -p enclos-mounts`
//! within seconds; for a long soak set
//! `ENCLOS_PROPTEST_CASES` (e.g. `ENCLOS_PROPTEST_CASES=1000000 cargo test
//! -p enclos-mounts prop_tests`). The place in a file of a bad line is the
//! callers' business (enclos-config's `lxc.mount.entry` tests check it).

use proptest::prelude::*;

use crate::{escape, unescape, FstabEntry, MountInfo};

fn config(default: u32) -> ProptestConfig {
    ProptestConfig::with_cases(enclos_testkit::proptest_cases(default))
}

/// One field of a line: path-like text with escapes (valid, out of range,
/// short, lone backslashes), dashes and commas, or arbitrary text.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => r"(/|[a-z0-9._=:,-]|\\[0-3][0-7]{2}|\\[0-9]{1,3}|\\){0,10}",
        1 => Just("-".to_string()),
        1 => r"\PC{0,8}",
    ]
}

/// A mountinfo line as the kernel writes one, with fields that may be
/// anything; sometimes a field too few or a separator missing.
fn mountinfo_line() -> impl Strategy<Value = String> {
    let optional = prop::collection::vec(
        r"(shared|master|propagate_from):[0-9]{1,3}|unbindable",
        0..3,
    );
    (
        r"[0-9]{1,4} [0-9]{1,4} [0-9]{1,3}:[0-9]{1,3}",
        field(),
        field(),
        r"[a-z,]{0,12}",
        optional,
        prop::sample::select(vec![" - ", " ", " -  ", " - - "]),
        (field(), field(), r"[a-z,=0-9]{0,12}"),
    )
        .prop_map(
            |(ids, root, point, options, optional, sep, (fstype, source, sup))| {
                let mut pre = vec![ids, root, point, options];
                pre.extend(optional);
                format!("{}{sep}{fstype} {source} {sup}", pre.join(" "))
            },
        )
}

/// A mountinfo line written from a parsed one (the kernel's ids left out,
/// which parsing does not keep). A root or mount point of `-` alone would
/// read as the separator: the kernel never writes one (they start with
/// `/`), and here it is escaped.
fn mountinfo_text(m: &MountInfo) -> String {
    let path = |s: &str| {
        if s == "-" {
            r"\055".to_string()
        } else {
            escape(s)
        }
    };
    format!(
        "0 0 {} {} {} {} - {} {} {}",
        m.devno,
        path(&m.root),
        path(&m.mount_point.to_string_lossy()),
        m.options,
        escape(&m.fstype),
        escape(&m.source),
        m.super_options
    )
}

/// An fstab line: three to seven fields, options with LXC's own among
/// them, dump and pass numbers or not.
fn fstab_line() -> impl Strategy<Value = String> {
    let option = prop_oneof![
        Just("optional".to_string()),
        Just("relative".to_string()),
        Just("create=dir".to_string()),
        Just("create=file".to_string()),
        Just("create=sock".to_string()),
        Just("bind".to_string()),
        Just(String::new()),
        r"[a-z=\\0-9]{1,8}",
    ];
    let number = prop_oneof![r"[0-9]{1,3}", r"\+?[0-9]{1,11}", r"-1|x|\\060"];
    (
        prop::collection::vec(field(), 1..4),
        prop::option::of(prop::collection::vec(option, 0..5)),
        prop::collection::vec(number, 0..4),
        prop::sample::select(vec![" ", "\t", "  "]),
    )
        .prop_map(|(paths, options, numbers, blank)| {
            let mut fields: Vec<String> = paths.into_iter().filter(|f| !f.is_empty()).collect();
            if let Some(options) = options {
                fields.push(options.join(","));
            }
            fields.extend(numbers);
            fields.join(blank)
        })
}

proptest! {
    #![proptest_config(config(60_000))]

    #[test]
    fn escaped_fields_unescape_to_themselves(s in r"\PC{0,20}|[ \t\n\\#a-z]{0,20}") {
        let escaped = escape(&s);
        prop_assert!(!escaped.contains(char::is_whitespace), "{escaped:?}");
        prop_assert_eq!(unescape(&escaped), s);
    }
}

proptest! {
    #![proptest_config(config(40_000))]

    #[test]
    fn unescape_never_panics(s in r"(\\[0-9]{0,4}|\PC){0,20}|\PC{0,20}") {
        let once = unescape(&s);
        // Written back, the unescaped text unescapes to itself.
        prop_assert_eq!(unescape(&escape(&once)), once);
    }
}

proptest! {
    #![proptest_config(config(20_000))]

    #[test]
    fn mountinfo_lines_read_back_the_same(line in prop_oneof![mountinfo_line(), r"\PC{0,60}"]) {
        if let Ok(m) = MountInfo::parse(&line) {
            let text = mountinfo_text(&m);
            prop_assert_eq!(MountInfo::parse(&text), Ok(m), "{} written as {}", line, text);
        }
    }
}

proptest! {
    #![proptest_config(config(25_000))]

    #[test]
    fn fstab_lines_read_back_the_same(line in prop_oneof![fstab_line(), r"\PC{0,60}"]) {
        if let Ok(e) = FstabEntry::parse(&line) {
            let text = e.to_string();
            prop_assert_eq!(FstabEntry::parse(&text), Ok(e), "{} written as {}", line, text);
        }
    }
}
