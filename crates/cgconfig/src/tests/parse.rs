use std::fs;
use std::path::{Path, PathBuf};

use rstest::rstest;

use super::*;
use crate::ast::expand_template_name;
use crate::*;
use enclos_cgroupfs::Permissions;

#[test]
fn course_file_parses_to_its_ast() {
    let cfg = parse(COURSE);
    let expected = Config {
        groups: vec![Group {
            name: "helloworld2".into(),
            perm: None,
            controllers: vec![
                ControllerBlock {
                    name: "cpu".into(),
                    settings: vec![setting("cpu.shares", "100", 3, 9)],
                    at: at(2, 5),
                },
                ControllerBlock {
                    name: "memory".into(),
                    settings: vec![setting("memory.limit_in_bytes", "40000", 6, 9)],
                    at: at(5, 5),
                },
            ],
            at: at(1, 7),
        }],
        sources: vec![PathBuf::from("cgconfig.conf")],
        ..Config::default()
    };
    assert_eq!(cfg, expected);
    assert_eq!(cfg.group("/helloworld2/").unwrap().name, "helloworld2");
}

#[test]
fn perm_sections() {
    let cfg = parse(
            "group g {\n  perm {\n    admin { uid = root; gid = 0; dperm = 775; fperm = 644; }\n    task { uid = 1000; gid = \"root\"; fperm = 660; }\n  }\n  cpu { }\n}\n",
        );
    let p = cfg.groups[0].perm.as_ref().unwrap();
    assert_eq!(p.at, at(2, 3));
    let task = p.task.as_ref().unwrap();
    assert_eq!(task.uid.as_ref().unwrap().id, IdSpec::Id(1000));
    assert_eq!(task.gid.as_ref().unwrap().id, IdSpec::Name("root".into()));
    assert_eq!(task.gid.as_ref().unwrap().at, at(4, 30));
    assert_eq!(task.fperm, Some(0o660));
    let admin = p.admin.as_ref().unwrap();
    assert_eq!(admin.uid.as_ref().unwrap().id, IdSpec::Name("root".into()));
    assert_eq!(admin.dperm, Some(0o775));
    assert_eq!(admin.fperm, Some(0o644));
    assert_eq!(
        p.resolve().unwrap(),
        Permissions {
            task_uid: Some(1000),
            task_gid: Some(0),
            admin_uid: Some(0),
            admin_gid: Some(0),
            dir_mode: Some(0o775),
            file_mode: Some(0o644),
            task_mode: Some(0o660),
        }
    );
    // An empty block creates the group and sets nothing.
    assert!(cfg.groups[0].controllers[0].settings.is_empty());
}

#[test]
fn default_section_and_options_fill_in_field_by_field() {
    let cfg = parse(
        "group g { perm { task { fperm = 600; } } cpu { } }\n\
             group h { cpu { } }\n\
             default { perm { admin { dperm = 700; } task { fperm = 666; } } }\n",
    );
    let d = cfg.default.as_ref().unwrap();
    assert_eq!(d.admin.as_ref().unwrap().dperm, Some(0o700));
    let opts = ApplyOptions {
        default_perms: Permissions {
            dir_mode: Some(0o755),
            file_mode: Some(0o644),
            task_mode: Some(0o644),
            ..Permissions::default()
        },
    };
    let g = cfg.permissions_for(&cfg.groups[0], &opts).unwrap();
    assert_eq!(
        (g.dir_mode, g.file_mode, g.task_mode),
        (Some(0o700), Some(0o644), Some(0o600))
    );
    let h = cfg.permissions_for(&cfg.groups[1], &opts).unwrap();
    assert_eq!(
        (h.dir_mode, h.file_mode, h.task_mode),
        (Some(0o700), Some(0o644), Some(0o666))
    );
}

#[test]
fn unknown_user_is_an_error_with_its_place() {
    let cfg = parse("group g {\n perm { task { uid = no_such_user_enclos; } }\n cpu { }\n}\n");
    let err = cfg.groups[0].perm.as_ref().unwrap().resolve().unwrap_err();
    assert_eq!(
            err.to_string(),
            "cgconfig.conf:2:22: Unknown user 'no_such_user_enclos' (uid of the task permissions): no such user in the user database; create it or give a number"
        );
}

#[test]
fn templates_parse_and_instantiate() {
    let cfg = parse(
        "template users/%u/%p-%P {\n perm { task { uid = %U; } }\n cpu { cpu.shares = 512; }\n}\n",
    );
    assert!(cfg.groups.is_empty());
    let t = cfg.template("users/%u/%p-%P").unwrap();
    assert_eq!(t.at, at(1, 10));
    let vars = TemplateVars {
        user: Some("alice".into()),
        uid: Some(1000),
        process: Some("sleep".into()),
        pid: Some(42),
        ..TemplateVars::default()
    };
    let g = t.instantiate(&vars).unwrap();
    assert_eq!(g.name, "users/alice/sleep-42");
    assert_eq!(g.path().unwrap(), "users/alice/sleep-42");
    assert_eq!(g.controllers, t.controllers);
    // Only the name is expanded.
    let uid = &g.perm.as_ref().unwrap().task.as_ref().unwrap().uid;
    assert_eq!(uid.as_ref().unwrap().id, IdSpec::Name("%U".into()));
}

#[rstest]
#[case("%u", "alice")]
#[case("%U", "1000")]
#[case("%g", "staff")]
#[case("%G", "50")]
#[case("%p", "sleep")]
#[case("%P", "42")]
#[case("a/%u.%G/%%x", "a/alice.50/%x")]
#[case("50%z%", "50%z%")]
fn template_variables(#[case] name: &str, #[case] expected: &str) {
    let vars = TemplateVars {
        user: Some("alice".into()),
        uid: Some(1000),
        group: Some("staff".into()),
        gid: Some(50),
        process: Some("sleep".into()),
        pid: Some(42),
    };
    assert_eq!(expand_template_name(name, &vars).unwrap(), expected);
}

#[test]
fn template_with_a_missing_variable() {
    let cfg = parse("template t/%p { cpu { } }");
    let err = cfg.templates[0]
        .instantiate(&TemplateVars::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cgconfig.conf:1:10: Template 't/%p' uses %p, but no process name was given"
    );
    let vars = TemplateVars {
        process: Some("..".into()),
        ..TemplateVars::default()
    };
    let cfg = parse("template %p { cpu { } }");
    let err = cfg.templates[0].instantiate(&vars).unwrap_err();
    assert!(err.message.contains("invalid group name '..'"), "{err}");
}

#[test]
fn mount_and_namespace_sections() {
    let cfg = parse(
            "mount {\n  cpu = /sys/fs/cgroup/cpu;\n  cpuacct = /sys/fs/cgroup/cpu;\n  \"name=systemd\" = /sys/fs/cgroup/systemd;\n}\nnamespace { cpu = /daemons/; }\n",
        );
    assert_eq!(
        cfg.mounts,
        vec![
            MountEntry {
                controller: "cpu".into(),
                path: "/sys/fs/cgroup/cpu".into(),
                at: at(2, 3)
            },
            MountEntry {
                controller: "cpuacct".into(),
                path: "/sys/fs/cgroup/cpu".into(),
                at: at(3, 3)
            },
            MountEntry {
                controller: "name=systemd".into(),
                path: "/sys/fs/cgroup/systemd".into(),
                at: at(4, 3)
            },
        ]
    );
    assert_eq!(cfg.namespaces[0].path, "daemons");
}

#[test]
fn names_values_and_comments() {
    let cfg = parse(
        "# a comment\n\
             group \"my group\" { cpu { } } # trailing\n\
             group a/b/c {\n\
             \x20 devices { devices.allow = \"c 1:3 mr; }\"; # not a comment: \"#\"\n\
             \x20   cpuset.cpus = 0-1;\n\
             \x20 }\n\
             }\n\
             group . { cpu { cpu.shares = 2048; } }\n\
             group default { cpu { } }\n\
             group \"task\" { cpu{cpu.shares=1;} }\n",
    );
    let names: Vec<&str> = cfg.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["my group", "a/b/c", ".", "default", "task"]);
    assert_eq!(cfg.groups[2].path().unwrap(), "");
    let dev = &cfg.groups[1].controllers[0].settings;
    assert_eq!(dev[0].value, "c 1:3 mr; }");
    assert_eq!(dev[1], setting("cpuset.cpus", "0-1", 5, 5));
    assert_eq!(cfg.groups[4].controllers[0].settings[0].value, "1");
}

#[test]
fn directory_loading_is_sorted_and_skips_hidden_and_backup_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("20-b.conf"), "group b { cpu { } }\n").unwrap();
    fs::write(d.join("10-a.conf"), "group a { cpu { } }\n").unwrap();
    fs::write(d.join("30-c"), "group c { cpu { } }\n").unwrap();
    fs::write(d.join(".hidden.conf"), "this is not parsed {").unwrap();
    fs::write(d.join("10-a.conf~"), "nor this {").unwrap();
    fs::create_dir(d.join("sub.conf")).unwrap();
    let files = config_files(d).unwrap();
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["10-a.conf", "20-b.conf", "30-c"]);
    let cfg = load_dir(d).unwrap();
    let groups: Vec<&str> = cfg.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(groups, ["a", "b", "c"]);
    assert_eq!(cfg.sources, files);

    let other = tempfile::tempdir().unwrap();
    let main = other.path().join("cgconfig.conf");
    fs::write(&main, "group first { memory { } }\n").unwrap();
    let cfg = load(std::slice::from_ref(&main), &[d.to_path_buf()]).unwrap();
    let groups: Vec<&str> = cfg.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(groups, ["first", "a", "b", "c"]);
    assert_eq!(cfg.sources[0], main);
}

#[test]
fn duplicate_group_across_files_names_both_places() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("a.conf"), "group x { cpu { } }\n").unwrap();
    fs::write(d.join("b.conf"), "\n\ngroup  /x/ { memory { } }\n").unwrap();
    let err = load_dir(d).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}:3:8: Group '/x/' is already defined at {}:1:7 (as 'x')",
            d.join("b.conf").display(),
            d.join("a.conf").display()
        )
    );
}

#[test]
fn missing_file_is_a_read_error() {
    let err = parse_file(Path::new("/nonexistent/cgconfig.conf")).unwrap_err();
    assert!(matches!(err, Error::Read { .. }), "{err}");
}

#[rstest]
#[case::missing_semicolon(
    "group a {\n    cpu {\n        cpu.shares = 100\n    }\n}\n",
    "4:5: Expected ';' after the value of cpu.shares, found '}'"
)]
#[case::missing_semicolon_before_brace(
    "group a {\ncpu {\n    cpu.shares = 100}\n}\n",
    "3:21: Expected ';' after the value of cpu.shares, found '}'"
)]
#[case::perm_task_without_brace(
    "group a { perm { task uid = 0; } cpu { } }",
    "1:23: Expected '{' after 'task', found 'uid'"
)]
#[case::empty_name(
    "group \"\" { cpu { } }",
    "1:7: Empty group name: write . for the root group"
)]
#[case::missing_semicolon_same_line(
    "group a { cpu { cpu.shares = 100 } }",
    "1:34: Expected ';' after the value of cpu.shares, found '}'"
)]
#[case::missing_close_before_next_group(
    "group a {\n  cpu { }\ngroup b { cpu { } }\n",
    "3:1: Missing '}' to close group 'a' opened at line 1, before 'group'"
)]
#[case::missing_close_of_block(
    "group a {\n  cpu { cpu.shares = 1;\n  memory { }\n}\n",
    "3:3: Missing '}' to close the cpu block of group 'a' opened at line 2, before 'memory'"
)]
#[case::eof_in_block(
    "group a {\n  cpu {\n    cpu.shares = 1;\n",
    "3:20: Unexpected end of file in the cpu block of group 'a' opened at line 2: missing '}'"
)]
#[case::eof_in_group(
    "group a { cpu { }",
    "1:18: Unexpected end of file in group 'a' opened at line 1: missing '}'"
)]
#[case::eof_after_keyword(
    "group",
    "1:6: Unexpected end of file: expected a group name after 'group'"
)]
#[case::unterminated_string(
    "group a {\n  devices { devices.allow = \"a *:* rwm; }\n}\n",
    "2:29: Unterminated quoted string: no closing '\"' on its line"
)]
#[case::unexpected_top(
    "grop a { }",
    "1:1: Expected 'group', 'template', 'mount', 'namespace' or 'default', found 'grop'"
)]
#[case::stray_brace(
    "}",
    "1:1: Expected 'group', 'template', 'mount', 'namespace' or 'default', found '}'"
)]
#[case::no_name(
    "group { cpu { } }",
    "1:7: Expected a group name after 'group', found '{'"
)]
#[case::no_open(
    "group a cpu { }",
    "1:9: Expected '{' after group name 'a', found 'cpu'"
)]
#[case::no_equals(
    "group a { cpu { cpu.shares 100; } }",
    "1:28: Expected '=' after cpu.shares, found '100'"
)]
#[case::no_value(
    "group a { cpu { cpu.shares = ; } }",
    "1:30: Expected a value after 'cpu.shares =', found ';'"
)]
#[case::semicolon_in_group(
    "group a { ; }",
    "1:11: Expected a controller name, 'perm' or '}' in group 'a', found ';'"
)]
#[case::duplicate_group(
    "group a { cpu { } }\ngroup a { memory { } }",
    "2:7: Group 'a' is already defined at cgconfig.conf:1:7"
)]
#[case::duplicate_block(
    "group a {\n cpu { }\n cpu { }\n}",
    "3:2: Duplicate cpu block in group 'a' (the first is at line 2)"
)]
#[case::duplicate_key(
    "group a { cpu {\n cpu.shares = 1;\n cpu.shares = 2; } }",
    "3:2: Duplicate key cpu.shares in the cpu block of group 'a' (the first is at line 2)"
)]
#[case::empty_group(
    "group a { }",
    "1:7: Group 'a' names no controller: add a controller block such as `cpu { }`"
)]
#[case::bad_name(
    "group ../etc { cpu { } }",
    "1:7: Invalid group name '../etc': '..' would leave the hierarchy"
)]
#[case::bad_key(
    "group a { cpu { \"cpu/shares\" = 1; } }",
    "1:17: Invalid key 'cpu/shares': a key names a file of the group, such as cpu.shares"
)]
#[case::unknown_perm_section(
    "group a {\n perm { owner { uid = 0; } }\n cpu { }\n}",
    "2:9: Unknown section 'owner' in the perm section of group 'a': expected 'task' or 'admin'"
)]
#[case::unknown_task_key(
    "group a { perm { task { dperm = 755; } } cpu { } }",
    "1:25: Unknown key 'dperm' in task permissions: expected uid, gid or fperm"
)]
#[case::unknown_admin_key(
    "group a { perm { admin { tperm = 755; } } cpu { } }",
    "1:26: Unknown key 'tperm' in admin permissions: expected uid, gid, dperm or fperm"
)]
#[case::bad_octal(
    "group a { perm { admin { fperm = 648; } } cpu { } }",
    "1:34: Invalid mode '648' for fperm: expected an octal number such as 644"
)]
#[case::mode_too_large(
    "group a { perm { task { fperm = 17777; } } cpu { } }",
    "1:33: Invalid mode '17777' for fperm: expected an octal number such as 644"
)]
#[case::duplicate_perm(
    "group a {\n perm { }\n perm { }\n cpu { } }",
    "3:2: Duplicate perm section in group 'a' (the first is at line 2)"
)]
#[case::duplicate_task(
    "group a { perm {\n task { }\n task { } } cpu { } }",
    "3:2: Duplicate task section in the perm section of group 'a' (the first is at line 2)"
)]
#[case::uid_out_of_range(
    "group a { perm { task { uid = 99999999999; } } cpu { } }",
    "1:31: Invalid uid '99999999999': out of range"
)]
#[case::relative_mount(
    "mount { cpu = cgroup/cpu; }",
    "1:15: Mount point 'cgroup/cpu' of cpu is not an absolute path"
)]
#[case::mount_twice(
    "mount { cpu = /a; }\nmount { cpu = /b; }",
    "2:9: Controller 'cpu' is already given mount '/a' at cgconfig.conf:1:9"
)]
#[case::default_other(
    "default { cpu { } }",
    "1:11: Expected 'perm' or '}' in the default section, found 'cpu'"
)]
#[case::systemd("systemd { slice = a; }", "1:1: The systemd section (libcgroup's delegation to systemd slices) is not supported by enclos; remove it")]
fn malformed_inputs(#[case] text: &str, #[case] expected: &str) {
    let err = parse_str(text, Path::new("cgconfig.conf")).unwrap_err();
    assert_eq!(err.to_string(), format!("cgconfig.conf:{expected}"));
}

/// Found by the property tests: each group was compared with every group
/// before it, and a file of 5 000 groups took seconds to read.
#[test]
fn many_groups_read_in_linear_time() {
    let mut text: String = (0..50_000)
        .map(|i| format!("group g{i} {{ cpu {{ }} }}\n"))
        .collect();
    text.push_str("group /g7/ { cpu { } }\n");
    let start = std::time::Instant::now();
    let err = parse_str(&text, Path::new("cgconfig.conf")).unwrap_err();
    assert!(start.elapsed().as_secs() < 30, "{:?}", start.elapsed());
    assert_eq!(
        err.to_string(),
        "cgconfig.conf:50001:7: Group '/g7/' is already defined at cgconfig.conf:8:7 (as 'g7')"
    );
}
