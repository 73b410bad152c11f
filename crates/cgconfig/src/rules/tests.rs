//! Parser, matcher and templates against a fake user database.

use std::path::{Path, PathBuf};

use super::connector::parse_messages;
use super::*;
use crate::rules::parse::Databases;

struct Db(tempfile::TempDir);

impl Db {
    fn new() -> Db {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("passwd"),
            "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:100::/home/bob:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("group"),
            "root:x:0:\nusers:x:100:\nalice:x:1000:\ndevs:x:2000:alice\n",
        )
        .unwrap();
        Db(d)
    }
    fn dbs(&self) -> Databases {
        Databases {
            passwd: self.0.path().join("passwd"),
            group: self.0.path().join("group"),
        }
    }
    fn rules(&self, text: &str) -> Rules {
        Rules::parse(text, Path::new("cgrules.conf"), self.dbs()).unwrap()
    }
    fn error(&self, text: &str) -> String {
        Rules::parse(text, Path::new("cgrules.conf"), self.dbs())
            .unwrap_err()
            .to_string()
    }
}

fn proc(uid: u32, gid: u32, groups: &[u32], exe: &str) -> ProcessInfo {
    let exe = PathBuf::from(exe);
    ProcessInfo {
        pid: 4242,
        ids: Ids {
            uid,
            gid,
            groups: groups.to_vec(),
        },
        name: exe
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .chars()
            .take(15)
            .collect(),
        exe: Some(exe),
    }
}

fn paths(r: &Rules, p: &ProcessInfo) -> Vec<String> {
    r.classify(p)
        .unwrap()
        .into_iter()
        .map(|d| format!("{}:{}", d.controllers.join(","), d.path))
        .collect()
}

#[test]
fn comments_blank_lines_and_fields() {
    let db = Db::new();
    let r = db.rules("# a comment\n\n  alice  cpu,memory  users/alice  # trailing\n");
    assert_eq!(r.rules.len(), 1);
    assert_eq!(r.rules[0].user, UserSel::Uid(1000));
    assert_eq!(r.rules[0].controllers, ["cpu", "memory"]);
    assert_eq!(r.rules[0].at.line, 3);
}

#[test]
fn user_group_any_and_first_match_wins() {
    let db = Db::new();
    let r = db.rules("@devs cpu devs\nalice cpu alice\n* memory everyone\n");
    assert_eq!(
        paths(&r, &proc(1000, 1000, &[2000], "/bin/sh")),
        ["cpu:devs"]
    );
    assert_eq!(paths(&r, &proc(1000, 1000, &[], "/bin/sh")), ["cpu:alice"]);
    assert_eq!(
        paths(&r, &proc(1001, 100, &[], "/bin/sh")),
        ["memory:everyone"]
    );
    assert_eq!(
        paths(&r, &proc(1001, 2000, &[], "/bin/sh")),
        ["cpu:devs"],
        "effective gid counts"
    );
}

#[test]
fn process_by_name_by_path_and_by_truncated_comm() {
    let db = Db::new();
    let r = db
        .rules("*:/usr/bin/top cpu bypath\n*:sleep cpu byname\n*:averyveryverylongname cpu long\n");
    assert_eq!(paths(&r, &proc(0, 0, &[], "/usr/bin/top")), ["cpu:bypath"]);
    assert_eq!(
        paths(&r, &proc(0, 0, &[], "/bin/top")),
        Vec::<String>::new()
    );
    assert_eq!(paths(&r, &proc(0, 0, &[], "/bin/sleep")), ["cpu:byname"]);
    let mut p = proc(0, 0, &[], "/opt/averyveryverylongname");
    p.exe = None;
    assert_eq!(paths(&r, &p), ["cpu:long"]);
}

#[test]
fn continuation_lines_follow_only_their_rule() {
    let db = Db::new();
    let r =
        db.rules("alice cpu a\n% memory a-mem\n%:sleep pids a-sleep\nbob cpu b\n% memory b-mem\n");
    assert_eq!(
        paths(&r, &proc(1000, 1000, &[], "/bin/sh")),
        ["cpu:a", "memory:a-mem"]
    );
    assert_eq!(
        paths(&r, &proc(1000, 1000, &[], "/bin/sleep")),
        ["cpu:a", "memory:a-mem", "pids:a-sleep"]
    );
    assert_eq!(
        paths(&r, &proc(1001, 100, &[], "/bin/sh")),
        ["cpu:b", "memory:b-mem"]
    );
}

#[test]
fn templates_expand_names_and_numbers() {
    let db = Db::new();
    let r = db.rules("* cpu,memory u/%u/%U/%g/%G/%p/%P\n");
    assert_eq!(
        paths(&r, &proc(1000, 100, &[], "/bin/sleep")),
        ["cpu,memory:u/alice/1000/users/100/sleep/4242"]
    );
    // No name in the database: the number stands for it.
    assert_eq!(
        paths(&r, &proc(5555, 6666, &[], "/bin/sh")),
        ["cpu,memory:u/5555/5555/6666/6666/sh/4242"]
    );
}

#[test]
fn unknown_names_never_match_and_are_reported() {
    let db = Db::new();
    let r = db.rules("nosuchuser cpu x\n@nosuchgroup cpu y\n* cpu z\n");
    assert_eq!(paths(&r, &proc(0, 0, &[], "/bin/sh")), ["cpu:z"]);
    let unknown: Vec<_> = r
        .unknown_names()
        .map(|(at, n)| (at.line, n.to_string()))
        .collect();
    assert_eq!(
        unknown,
        [(1, "nosuchuser".into()), (2, "@nosuchgroup".into())]
    );
}

#[test]
fn parse_errors_name_file_and_line() {
    let db = Db::new();
    let e = db.error("alice cpu\n");
    assert!(
        e.starts_with("cgrules.conf:1:7:") && e.contains("a rule has 3"),
        "{e}"
    );
    let e = db.error("\nalice cpu a extra\n");
    assert!(
        e.starts_with("cgrules.conf:2:13:") && e.contains("'extra'"),
        "{e}"
    );
    let e = db.error("% cpu a\n");
    assert!(e.contains("first rule"), "{e}");
    let e = db.error("alice: cpu a\n");
    assert!(e.contains("empty process name"), "{e}");
    let e = db.error("alice cpu,,memory a\n");
    assert!(e.contains("empty controller"), "{e}");
    let e = db.error("alice cpu ../up\n");
    assert!(
        e.starts_with("cgrules.conf:1:11:") && e.contains("'..'"),
        "{e}"
    );
}

#[test]
fn thousand_rules_compile_and_match_the_last() {
    let db = Db::new();
    let mut text = String::new();
    for i in 0..1000 {
        text.push_str(&format!("*:cmd{i} cpu g{i}\n"));
    }
    let r = db.rules(&text);
    assert_eq!(paths(&r, &proc(0, 0, &[], "/bin/cmd999")), ["cpu:g999"]);
}

fn nl(what: u32, data: &[u32]) -> Vec<u8> {
    let mut cn = Vec::new();
    for v in [1u32, 1, 0, 0] {
        cn.extend_from_slice(&v.to_ne_bytes());
    }
    cn.extend_from_slice(&((16 + 4 * data.len()) as u16).to_ne_bytes());
    cn.extend_from_slice(&0u16.to_ne_bytes());
    cn.extend_from_slice(&what.to_ne_bytes());
    cn.extend_from_slice(&[0u8; 12]);
    for v in data {
        cn.extend_from_slice(&v.to_ne_bytes());
    }
    let mut m = Vec::new();
    m.extend_from_slice(&((16 + cn.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&[0u8; 12]);
    m.extend_from_slice(&cn);
    m
}

#[test]
fn connector_messages_decode_to_events() {
    let mut buf = nl(0x2, &[11, 10]);
    buf.extend(nl(0x4, &[21, 20, 0, 1000]));
    buf.extend(nl(0x40, &[31, 30, 0, 100]));
    buf.extend(nl(0x1, &[1, 1, 41, 40]));
    buf.extend(nl(0x80000000, &[0, 0]));
    assert_eq!(
        parse_messages(&buf),
        [
            ProcEvent::Exec { pid: 10 },
            ProcEvent::Uid {
                pid: 20,
                euid: 1000
            },
            ProcEvent::Gid { pid: 30, egid: 100 },
            ProcEvent::Fork {
                parent: 1,
                child: 40
            },
        ]
    );
}

#[test]
fn sticky_list_covers_children_and_forgets_the_gone() {
    let d = tempfile::tempdir().unwrap();
    let list = StickyList {
        file: d.path().join("run/sticky"),
        proc: "/proc".into(),
    };
    let me = std::process::id() as i32;
    assert!(!list.covers(me));
    let parent = super::process::parent_of(Path::new("/proc"), me).unwrap();
    list.set(parent, true).unwrap();
    assert!(list.covers(me), "a child of a sticky process is sticky");
    list.set(999_999_999, true).unwrap();
    assert_eq!(
        std::fs::read_to_string(&list.file).unwrap().lines().count(),
        1
    );
    list.set(parent, false).unwrap();
    assert!(!list.covers(me));
}

#[test]
fn process_info_reads_this_process() {
    let me = std::process::id() as i32;
    let p = ProcessInfo::read(Path::new("/proc"), me).unwrap();
    assert_eq!(p.pid, me);
    assert_eq!(p.ids.uid, nix::unistd::geteuid().as_raw());
    assert!(ProcessInfo::read(Path::new("/proc"), 999_999_999).is_none());
}

#[test]
fn a_rules_directory_adds_its_files_in_name_order() {
    let d = tempfile::tempdir().unwrap();
    let main = d.path().join("cgrules.conf");
    std::fs::write(&main, "root:a cpu first\n").unwrap();
    let dir = d.path().join("cgrules.d");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("20-b"), "root:b cpu third\n").unwrap();
    std::fs::write(dir.join("10-a"), "root:b cpu second\n").unwrap();
    let r = Rules::load_all(&main, &dir).unwrap();
    let dests: Vec<&str> = r.rules.iter().map(|r| r.destination.as_str()).collect();
    assert_eq!(dests, ["first", "second", "third"]);
    let e = Rules::load_all(&d.path().join("none"), &dir).unwrap_err();
    assert!(format!("{e}").contains("none"), "{e}");
    std::fs::write(dir.join("30-bad"), "root cpu\n").unwrap();
    let e = Rules::load_all(&main, &dir).unwrap_err().to_string();
    assert!(e.contains("30-bad:1:"), "{e}");
}
