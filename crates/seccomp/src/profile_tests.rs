use super::*;
use rstest::rstest;

fn parse(text: &str) -> Result<Profile> {
    Profile::parse(text, Path::new("/p/seccomp"))
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn reads_lxc_common_seccomp() {
    let p = parse(crate::COMMON_PROFILE).unwrap();
    assert_eq!(p.version, 2);
    assert_eq!(p.policy, Policy::Denylist);
    assert_eq!(p.default_action, Action::Allow);
    let names: Vec<(String, Action, usize)> = p
        .rules
        .iter()
        .map(|r| match &r.syscall {
            Syscall::Name(n) => (n.clone(), r.action, r.line),
            Syscall::Number(_) => unreachable!(),
        })
        .collect();
    assert_eq!(
        names,
        [
            ("umount2".to_string(), Action::Errno(13), 3),
            ("kexec_load".to_string(), Action::Errno(1), 5),
            ("open_by_handle_at".to_string(), Action::Errno(1), 6),
            ("init_module".to_string(), Action::Errno(1), 7),
            ("finit_module".to_string(), Action::Errno(1), 8),
            ("delete_module".to_string(), Action::Errno(1), 9),
        ]
    );
    assert_eq!(
        p.rules[0].conditions,
        [Condition {
            arg: 1,
            value: 1,
            op: Op::MaskedEq(1)
        }]
    );
}

#[test]
fn version_1_is_an_allowlist_of_numbers() {
    let p = parse("1\nwhitelist\n0\n1\n# comment\n\n60\n").unwrap();
    assert_eq!(p.policy, Policy::Allowlist);
    assert_eq!(p.default_action, Action::Kill);
    let nrs: Vec<_> = p
        .rules
        .iter()
        .map(|r| (r.syscall.clone(), r.line))
        .collect();
    assert_eq!(
        nrs,
        [
            (Syscall::Number(0), 3),
            (Syscall::Number(1), 4),
            (Syscall::Number(60), 7)
        ]
    );
}

#[rstest]
#[case("allowlist", Policy::Allowlist, Action::Kill)]
#[case("whitelist errno 38", Policy::Allowlist, Action::Errno(38))]
#[case("denylist", Policy::Denylist, Action::Allow)]
#[case("blacklist trap", Policy::Denylist, Action::Trap)]
#[case("denylist log", Policy::Denylist, Action::Log)]
fn policy_lines(#[case] line: &str, #[case] policy: Policy, #[case] default: Action) {
    let p = parse(&format!("2\n{line}\n")).unwrap();
    assert_eq!((p.policy, p.default_action), (policy, default));
}

#[test]
fn rules_take_actions_sections_and_conditions() {
    let p = parse(
        "2\nallowlist errno 1\nread\n[x86_64]\nmkdir errno 17\n[i386]\nchdir kill\n[ALL]\n\
         personality allow [0,0,==] [1,0xff,SCMP_CMP_LE]\nioctl trap [1, 21505, !=]\nclone log [0,256,&=,256]\n",
    )
    .unwrap();
    let r = &p.rules;
    assert_eq!(r.len(), 6);
    assert_eq!((r[0].action, r[0].arch.as_deref()), (Action::Allow, None));
    assert_eq!(
        (r[1].action, r[1].arch.as_deref()),
        (Action::Errno(17), Some("x86_64"))
    );
    assert_eq!(
        (r[2].action, r[2].arch.as_deref()),
        (Action::Kill, Some("i386"))
    );
    assert_eq!(r[3].arch, None);
    assert_eq!(
        r[3].conditions,
        [
            Condition {
                arg: 0,
                value: 0,
                op: Op::Eq
            },
            Condition {
                arg: 1,
                value: 255,
                op: Op::Le
            }
        ]
    );
    assert_eq!(
        r[4].conditions,
        [Condition {
            arg: 1,
            value: 21505,
            op: Op::Ne
        }]
    );
    assert_eq!(r[4].action, Action::Trap);
    assert_eq!(
        r[5].conditions,
        [Condition {
            arg: 0,
            value: 256,
            op: Op::MaskedEq(256)
        }]
    );
    assert_eq!(r[5].line, 11);
}

#[test]
fn a_denylist_rule_without_action_kills() {
    let p = parse("2\ndenylist\nmount\n").unwrap();
    assert_eq!(p.rules[0].action, Action::Kill);
}

#[rstest]
#[case(
    "",
    "/p/seccomp:1: Empty seccomp profile: the first line is its version, 1 or 2"
)]
#[case(
    "3\ndenylist\n",
    "/p/seccomp:1: Unknown seccomp profile version '3' (expected 1 or 2)"
)]
#[case("2\n", "/p/seccomp:1: The seccomp profile ends after its version line (expected a line 'allowlist' or 'denylist')")]
#[case(
    "2\ngreylist\n",
    "/p/seccomp:2: Unknown seccomp policy 'greylist' (expected allowlist or denylist)"
)]
#[case(
    "1\ndenylist\n",
    "/p/seccomp:2: A version 1 seccomp profile is an allowlist ('denylist' needs version 2)"
)]
#[case(
    "1\nallowlist\nread\n",
    "/p/seccomp:3: 'read' is not a syscall number (a version 1 profile lists numbers, one a line)"
)]
#[case("2\ndenylist maybe\n", "/p/seccomp:2: Unknown default action 'maybe' (expected kill, errno N, trap, notify, allow or log)")]
#[case(
    "2\ndenylist\n\n# c\nmkdir errno\n",
    "/p/seccomp:5: 'errno' needs a number (e.g. errno 1)"
)]
#[case(
    "2\ndenylist\nmkdir errno 5000\n",
    "/p/seccomp:3: '5000' is not an errno (expected a number from 0 to 4095)"
)]
#[case("2\ndenylist\nmkdir deny\n", "/p/seccomp:3: Unknown action 'deny' for mkdir (expected kill, errno N, trap, notify, allow or log)")]
#[case(
    "2\ndenylist\nmkdir errno 1 now\n",
    "/p/seccomp:3: Unexpected 'now' after the action of mkdir"
)]
#[case("2\ndenylist\n[vax]\n", "/p/seccomp:3: Unknown architecture section '[vax]' (expected one of all, x86_64, i386, x32, arm, arm64, aarch64, ppc, ppc64, ppc64le, mips, mips64, mips64n32, mipsel, mipsel64, mipsel64n32, s390, s390x, riscv64)")]
#[case(
    "2\ndenylist\n[x86_64\n",
    "/p/seccomp:3: '[x86_64' names no syscall (expected NAME [ACTION] [[ARG,VALUE,OP]]...)"
)]
#[case(
    "2\ndenylist\nmk-dir\n",
    "/p/seccomp:3: 'mk-dir' is not a syscall name"
)]
#[case(
    "2\ndenylist\nmkdir kill [6,0,==]\n",
    "/p/seccomp:3: Argument '6' in '[6,0,==]' is not 0 to 5"
)]
#[case(
    "2\ndenylist\nmkdir kill [0,x,==]\n",
    "/p/seccomp:3: 'x' in '[0,x,==]' is not a number"
)]
#[case("2\ndenylist\nmkdir kill [0,1,=~]\n", "/p/seccomp:3: Unknown comparison '=~' in '[0,1,=~]' (expected !=, <, <=, ==, >=, >, &= or SCMP_CMP_*)")]
#[case(
    "2\ndenylist\nmkdir kill [0,1,&=]\n",
    "/p/seccomp:3: '[0,1,&=]' needs the mask: [ARG,VALUE,&=,MASK] is (arg & MASK) == VALUE"
)]
#[case(
    "2\ndenylist\nmkdir kill [0,1,==,2]\n",
    "/p/seccomp:3: '[0,1,==,2]' is not an argument condition [ARG,VALUE,OP] or [ARG,VALUE,OP,MASK]"
)]
#[case(
    "2\ndenylist\nmkdir kill [0,1,==\n",
    "/p/seccomp:3: '[0,1,==' is not an argument condition [ARG,VALUE,OP]"
)]
#[case(
    "2\ndenylist\nmkdir kill [0,1,==] x\n",
    "/p/seccomp:3: 'x' is not an argument condition [ARG,VALUE,OP]"
)]
fn errors_name_file_and_line(#[case] text: &str, #[case] expected: &str) {
    assert_eq!(err(text), expected);
}

#[test]
fn seven_conditions_are_too_many() {
    let e = err(
        "2\ndenylist\nmkdir kill [0,1,==] [1,1,==] [2,1,==] [3,1,==] [4,1,==] [5,1,==] [0,2,==]\n",
    );
    assert_eq!(
        e,
        "/p/seccomp:3: 7 argument conditions (a syscall has 6 arguments at most)"
    );
}

#[test]
fn written_back_it_reads_the_same() {
    let text = "2\ndenylist errno 38\nreject_force_umount\n[x86_64]\nmkdir errno 1 [1,448,==]\n[all]\nclone trap [0,256,&=,256]\n";
    let p = parse(text).unwrap();
    assert_eq!(
        p.to_string(),
        "2\ndenylist errno 38\numount2 errno 13 [1,1,&=,1]\n[x86_64]\nmkdir errno 1 [1,448,==]\n[all]\nclone trap [0,256,&=,256]\n"
    );
    let again = parse(&p.to_string()).unwrap();
    assert_eq!(again.rules.len(), 3);
    for (a, b) in again.rules.iter().zip(&p.rules) {
        assert_eq!(
            (&a.syscall, a.action, &a.conditions, &a.arch),
            (&b.syscall, b.action, &b.conditions, &b.arch)
        );
    }
    let v1 = parse("1\nwhitelist\n0\n60\n").unwrap();
    assert_eq!(v1.to_string(), "1\nallowlist\n0\n60\n");
}

#[test]
fn a_missing_file_is_named() {
    let e = Profile::load(Path::new("/nonexistent/p.seccomp")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Cannot read the seccomp profile /nonexistent/p.seccomp"
    );
}

/// Property tests on arbitrary text and on lines of the profile
/// language's own words: no panic (parsing nor compiling what parses),
/// every error names the file and a line it has, and what parses,
/// written back, parses to the same profile. A profile is a file the
/// container's owner writes. `ENCLOS_PROPTEST_CASES` sets the count for
/// a soak (`ENCLOS_PROPTEST_CASES=1000000 cargo test -p enclos-seccomp
/// props`).
mod props {
    use super::*;
    use proptest::prelude::*;

    fn config(default: u32) -> ProptestConfig {
        ProptestConfig::with_cases(enclos_testkit::proptest_cases(default))
    }

    fn without_lines(p: &Profile) -> Vec<Rule> {
        p.rules
            .iter()
            .map(|r| Rule {
                line: 0,
                ..r.clone()
            })
            .collect()
    }

    /// Lines made of the profile language's own words, so that parses
    /// get deep, and arbitrary text.
    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("2".to_string()),
            Just("1".to_string()),
            Just("denylist".to_string()),
            Just("allowlist errno 1".to_string()),
            Just("blacklist kill".to_string()),
            Just("whitelist".to_string()),
            Just("[all]".to_string()),
            Just("[x86_64]".to_string()),
            Just("[ARM64]".to_string()),
            Just("reject_force_umount  # a comment".to_string()),
            Just("   # only a comment".to_string()),
            "[0-9]{1,4}",
            "(kexec_load|mkdir|umount2|seccomp|open_by_handle_at|no_such_call)( (kill|trap|allow|log|errno [0-9]{1,4}))?( \\[[0-6],(0x)?[0-9a-f]{1,6},(==|!=|&=|<|<=|>=|>|SCMP_CMP_GT|SCMP_CMP_MASKED_EQ)(,[0-9]{1,3})?\\]){0,3}",
            "[a-z_]{1,12}( (kill|trap|allow|log|notify|errno [0-9]{1,5}))?( \\[[0-9],[0-9x]{1,4},(==|!=|&=|<|SCMP_CMP_GT)(,[0-9]{1,3})?\\]){0,3}",
            "\\PC{0,40}",
        ]
    }

    proptest! {
        #![proptest_config(config(20_000))]
        #[test]
        fn never_panics_and_errors_name_the_line(lines in proptest::collection::vec(line(), 0..12)) {
            let text = lines.join("\n");
            match Profile::parse(&text, Path::new("/p/s")) {
                Ok(p) => {
                    let count = text.lines().count();
                    prop_assert!(p.rules.iter().all(|r| r.line >= 3 && r.line <= count));
                    // Written back, it parses the same.
                    let again = Profile::parse(&p.to_string(), Path::new("/p/s"));
                    prop_assert!(again.is_ok(), "{} does not parse again: {:?}", p, again);
                    let again = again.unwrap();
                    prop_assert_eq!(
                        (again.version, again.policy, again.default_action),
                        (p.version, p.policy, p.default_action)
                    );
                    prop_assert_eq!(without_lines(&again), without_lines(&p));
                    // Compiling it fails with the line, or works: never a
                    // panic.
                    match crate::Filter::compile(&p) {
                        Ok(_) | Err(Error::Compile { .. }) => {}
                        Err(Error::Unsupported { path, line, .. }) => {
                            prop_assert_eq!(path, Path::new("/p/s"));
                            prop_assert!(line >= 1 && line <= count);
                        }
                        Err(e) => prop_assert!(false, "unexpected error {e}"),
                    }
                }
                Err(Error::Parse { path, line, .. }) => {
                    prop_assert_eq!(path, Path::new("/p/s"));
                    prop_assert!(line >= 1 && line <= text.lines().count().max(1));
                    let shown = Profile::parse(&text, Path::new("/p/s")).unwrap_err().to_string();
                    let prefix = format!("/p/s:{line}: ");
                    prop_assert!(shown.starts_with(&prefix));
                }
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
        }
    }

    proptest! {
        #![proptest_config(config(4))]
        /// A long profile reads in linear time: thousands of rule lines.
        #[test]
        fn long_profiles_read_in_linear_time(rules in proptest::collection::vec(
            "(mkdir|kexec_load|umount2) errno [0-9]{1,3}( \\[[0-5],[0-9]{1,4},==\\])?", 1000..2000)) {
            let text = format!("2\ndenylist\n{}\n", rules.join("\n"));
            let p = Profile::parse(&text, Path::new("/p/s")).unwrap();
            prop_assert_eq!(p.rules.len(), rules.len());
        }
    }
}
