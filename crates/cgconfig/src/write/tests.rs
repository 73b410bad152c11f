use std::path::{Path, PathBuf};

use crate::ast::{Config, Group, PermSection};
use crate::error::Location;
use crate::parse_str;

fn nowhere() -> Location {
    Location {
        file: PathBuf::new(),
        line: 0,
        column: 0,
    }
}

/// The configuration without the places of its items, which differ
/// between a file and its rewrite.
pub(crate) fn unplaced(mut c: Config) -> Config {
    fn perm(p: &mut Option<PermSection>) {
        if let Some(p) = p {
            p.at = nowhere();
            for o in [p.task.as_mut().map(|t| (&mut t.uid, &mut t.gid))]
                .into_iter()
                .flatten()
                .chain(p.admin.as_mut().map(|a| (&mut a.uid, &mut a.gid)))
            {
                for x in [o.0, o.1].into_iter().flatten() {
                    x.at = nowhere();
                }
            }
        }
    }
    fn group(g: &mut Group) {
        g.at = nowhere();
        perm(&mut g.perm);
        for b in &mut g.controllers {
            b.at = nowhere();
            for s in &mut b.settings {
                s.at = nowhere();
            }
        }
    }
    c.groups.iter_mut().for_each(group);
    c.templates.iter_mut().for_each(group);
    for e in c.mounts.iter_mut().chain(c.namespaces.iter_mut()) {
        e.at = nowhere();
    }
    perm(&mut c.default);
    c.sources.clear();
    c
}

fn parse(text: &str) -> Config {
    parse_str(text, Path::new("in.conf")).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

const RICH: &str = r#"
mount { cpu = /sys/fs/cgroup/cpu; "name=systemd" = /sys/fs/cgroup/systemd; }
namespace { memory = /daemons; cpuset = /; }
default { perm { task { uid = root; gid = 0; fperm = 660; } } }
group helloworld2 {
    perm {
        task { uid = alice; gid = alice; fperm = 0660; }
        admin { uid = 0; gid = root; dperm = 775; fperm = 644; }
    }
    cpu { cpu.shares = 100; cpu.cfs_quota_us = "-1"; }
    memory { memory.limit_in_bytes = 40000; }
    cpuset { }
}
group "my group/sub" { cpu { cpu.max = "max 100000"; } }
group . { memory { memory.swappiness = ""; } }
template users/%u { cpu { cpu.shares = 512; } }
"#;

#[test]
fn what_is_written_parses_back_to_the_same_tree() {
    let x = parse(RICH);
    let text = x.to_conf().unwrap();
    let back = parse(&text);
    assert_eq!(unplaced(back), unplaced(x), "{text}");
}

#[test]
fn values_are_quoted_as_cgsnapshot_writes_them() {
    let text = parse("group a { cpu { cpu.shares = 1024; } }")
        .to_conf()
        .unwrap();
    assert_eq!(
        text,
        "group a {\n\tcpu {\n\t\tcpu.shares=\"1024\";\n\t}\n}\n\n"
    );
}

#[test]
fn a_value_the_language_cannot_hold_is_an_error() {
    let mut c = parse("group a { memory { memory.oom_control = x; } }");
    c.groups[0].controllers[0].settings[0].value = "oom_kill_disable 0\nunder_oom 0".into();
    let err = c.to_conf().unwrap_err().to_string();
    assert_eq!(
        err,
        "Cannot write the value of memory.oom_control in group a 'oom_kill_disable 0\nunder_oom 0' in cgconfig.conf: it spans several lines"
    );
}

/// Found by the property tests: a quoted user name was written bare, and
/// a controller called `perm` read back as the perm section.
#[rstest::rstest]
#[case("group a {\nperm { task { uid = \"{\"; } }\na {  }\n}")]
#[case("group a { perm { admin { gid = \"my group\"; } } cpu { } }")]
#[case("group a {\n\n\"perm\" {  }\n}")]
fn quoted_names_are_written_quoted(#[case] text: &str) {
    let x = parse(text);
    let written = x.to_conf().unwrap();
    let back = parse(&written);
    assert_eq!(unplaced(back), unplaced(x), "{written}");
}
