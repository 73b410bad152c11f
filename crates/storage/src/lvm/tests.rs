//! The lvm driver's command lines and its reading of lvm2's reports.

use super::*;
use crate::tool::fake::Fake;

/// `vgs --reportformat json` listing `names`.
fn vgs(names: &[&str]) -> String {
    let rows: Vec<String> = names
        .iter()
        .map(|n| format!("{{\"vg_name\":\"{n}\"}}"))
        .collect();
    format!("{{\"report\":[{{\"vg\":[{}]}}]}}\n", rows.join(","))
}

/// `lvs --reportformat json` of the rows (name, size, attr, pool,
/// origin, data%), as lvm2 prints it (with a log section).
/// The `lvs` row of `name`, a 512 MiB copy-on-write snapshot of
/// `origin`.
fn cow<'a>(
    name: &'a str,
    origin: &'a str,
) -> (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str) {
    (name, "536870912", "swi-a-s---", "", origin, "0.01")
}

fn lvs(rows: &[(&str, &str, &str, &str, &str, &str)]) -> String {
    let rows: Vec<String> = rows
        .iter()
        .map(|(n, size, attr, pool, origin, pct)| {
            format!(
                "{{\"lv_name\":\"{n}\", \"vg_name\":\"lxc\", \"lv_size\":\"{size}\", \"lv_attr\":\"{attr}\", \"pool_lv\":\"{pool}\", \"origin\":\"{origin}\", \"data_percent\":\"{pct}\"}}"
            )
        })
        .collect();
    format!(
        "  {{\n      \"report\": [\n          {{\n              \"lv\": [\n{}\n              ]\n          }}\n      ]\n      ,\n      \"log\": []\n  }}\n",
        rows.join(",\n")
    )
}

const LVS: &str = "lvs --reportformat json --units b --nosuffix -o lv_name,vg_name,lv_size,lv_attr,pool_lv,origin,data_percent lxc";

fn dest(name: &str) -> Dest {
    Dest::named(Path::new("/var/lib/enclos").join(name).as_path(), name)
}

#[test]
fn create_makes_a_plain_volume_and_its_filesystem() {
    let l = Lvm(Fake::new()
        .answer("vgs", &vgs(&["lxc"]))
        .answer("lvs", &lvs(&[])));
    let opts = CreateOptions {
        fssize: Some(256 << 20),
        ..Default::default()
    };
    let r = l.create(&dest("c1"), &opts).unwrap();
    assert_eq!(r.spec(), "lvm:/dev/lxc/c1");
    assert_eq!(
        l.0.calls(),
        [
            "vgs --reportformat json -o vg_name",
            LVS,
            "lvcreate -Wy --yes -L 268435456b -n c1 lxc",
            "mkfs.ext4 -q -F /dev/lxc/c1",
        ]
    );
}

#[test]
fn create_takes_the_vg_lv_and_fstype_given() {
    let l = Lvm(Fake::new()
        .answer("vgs", &vgs(&["data", "lxc"]))
        .answer("lvs", &lvs(&[])));
    let opts = CreateOptions {
        vgname: Some("data".into()),
        lvname: Some("web".into()),
        fstype: Some("xfs".into()),
        ..Default::default()
    };
    let r = l.create(&dest("c1"), &opts).unwrap();
    assert_eq!(r.spec(), "lvm:/dev/data/web");
    let calls = l.0.calls();
    assert_eq!(calls[2], "lvcreate -Wy --yes -L 1073741824b -n web data");
    assert_eq!(calls[3], "mkfs.xfs -q -f /dev/data/web");
}

#[test]
fn create_uses_the_thin_pool() {
    // Named: it must exist.
    let pool = ("pool0", "4294967296", "twi-aotz--", "", "", "0.00");
    let l = Lvm(Fake::new()
        .answer("vgs", &vgs(&["lxc"]))
        .answer("lvs", &lvs(&[pool])));
    let opts = CreateOptions {
        thinpool: Some("pool0".into()),
        ..Default::default()
    };
    l.create(&dest("c1"), &opts).unwrap();
    assert_eq!(
        l.0.calls()[2],
        "lvcreate -Wy --yes -V 1073741824b -T lxc/pool0 -n c1"
    );
    // LXC's pool `lxc`, when there is one and none is named.
    let lxc = ("lxc", "4294967296", "twi-aotz--", "", "", "0.00");
    let l = Lvm(Fake::new()
        .answer("vgs", &vgs(&["lxc"]))
        .answer("lvs", &lvs(&[lxc])));
    l.create(&dest("c1"), &CreateOptions::default()).unwrap();
    assert_eq!(
        l.0.calls()[2],
        "lvcreate -Wy --yes -V 1073741824b -T lxc/lxc -n c1"
    );
}

#[test]
fn a_named_thin_pool_that_is_not_one_is_refused() {
    // `pool0` is a plain volume here.
    let plain = ("pool0", "4294967296", "-wi-a-----", "", "", "");
    let l = Lvm(Fake::new()
        .answer("vgs", &vgs(&["lxc"]))
        .answer("lvs", &lvs(&[plain])));
    let opts = CreateOptions {
        thinpool: Some("pool0".into()),
        ..Default::default()
    };
    let err = l.create(&dest("c1"), &opts).unwrap_err().to_string();
    assert!(
        err.starts_with("LVM thin pool 'pool0' does not exist in volume group 'lxc'; create it (lvcreate --type thin-pool"),
        "{err}"
    );
    assert_eq!(l.0.calls().len(), 2, "nothing was created");
}

#[test]
fn a_missing_volume_group_says_how_to_make_it() {
    let l = Lvm(Fake::new().answer("vgs", &vgs(&["other"])));
    let err = l
        .create(&dest("c1"), &CreateOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "LVM volume group 'lxc' does not exist; create it on a spare disk or partition (vgcreate lxc /dev/DISK), or name another with --vgname or lxc.bdev.lvm.vg"
    );
    assert_eq!(l.0.calls(), ["vgs --reportformat json -o vg_name"]);
}

#[test]
fn an_existing_volume_is_not_reused() {
    let c1 = ("c1", "1073741824", "-wi-a-----", "", "", "");
    let l = Lvm(Fake::new()
        .answer("vgs", &vgs(&["lxc"]))
        .answer("lvs", &lvs(&[c1])));
    let err = l
        .create(&dest("c1"), &CreateOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "Logical volume /dev/lxc/c1 already exists; give the new one another name (--lvname)"
        ),
        "{err}"
    );
    assert_eq!(l.0.calls().len(), 2);
}

#[test]
fn a_failed_mkfs_removes_the_volume() {
    let l = Lvm(Fake::new()
        .answer("vgs", &vgs(&["lxc"]))
        .answer("lvs", &lvs(&[]))
        .fail("mkfs.ext4", "mke2fs: No space left"));
    let err = l
        .create(&dest("c1"), &CreateOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("`mkfs.ext4 -q -F /dev/lxc/c1` failed"),
        "{err}"
    );
    assert_eq!(l.0.calls().last().unwrap(), "lvremove -f lxc/c1");
}

#[test]
fn a_snapshot_of_a_plain_volume_has_its_size() {
    let c1 = ("c1", "536870912", "-wi-a-----", "", "", "");
    let l = Lvm(Fake::new().answer("lvs", &lvs(&[c1])));
    let src = Rootfs::parse("lvm:/dev/lxc/c1").unwrap();
    let r = l
        .snapshot(&src, &dest("c1_snap0"), &CreateOptions::default())
        .unwrap();
    assert_eq!(r.spec(), "lvm:/dev/lxc/c1_snap0");
    assert_eq!(
        l.0.calls(),
        [LVS, "lvcreate -s -L 536870912b -n c1_snap0 lxc/c1"]
    );
}

#[test]
fn a_snapshot_of_a_thin_volume_is_thin_and_active() {
    let c1 = ("c1", "1073741824", "Vwi-a-tz--", "lxc", "", "3.10");
    let l = Lvm(Fake::new().answer("lvs", &lvs(&[c1])));
    let src = Rootfs::parse("lvm:/dev/lxc/c1").unwrap();
    l.snapshot(&src, &dest("c2"), &CreateOptions::default())
        .unwrap();
    assert_eq!(l.0.calls()[1], "lvcreate -s -kn -n c2 lxc/c1");
}

#[test]
fn a_snapshot_of_a_missing_volume_is_refused() {
    let l = Lvm(Fake::new().answer("lvs", &lvs(&[])));
    let src = Rootfs::parse("lvm:/dev/lxc/c1").unwrap();
    let err = l
        .snapshot(&src, &dest("c2"), &CreateOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("Logical volume /dev/lxc/c1 does not exist"),
        "{err}"
    );
}

#[test]
fn destroy_removes_the_volume_once() {
    let c1 = ("c1", "1073741824", "-wi-a-----", "", "", "");
    let l = Lvm(Fake::new().answer("lvs", &lvs(&[c1])));
    let r = Rootfs::parse("lvm:/dev/lxc/c1").unwrap();
    l.destroy(&r).unwrap();
    assert_eq!(l.0.calls(), [LVS, "lvremove -f lxc/c1"]);
    // Gone already: nothing to remove.
    let l = Lvm(Fake::new().answer("lvs", &lvs(&[])));
    l.destroy(&r).unwrap();
    assert_eq!(l.0.calls(), [LVS]);
}

#[test]
fn snapshots_of_a_volume_are_its_clones() {
    let l = Lvm(Fake::new().answer(
        "lvs",
        &lvs(&[
            ("c1", "1073741824", "owi-a-s---", "", "", ""),
            ("c1_snap0", "1073741824", "swi-a-s---", "", "c1", "0.01"),
            ("c2", "1073741824", "-wi-a-----", "", "", ""),
        ]),
    ));
    let r = Rootfs::parse("lvm:/dev/lxc/c1").unwrap();
    assert_eq!(l.clones(&r).unwrap(), ["/dev/lxc/c1_snap0"]);
}

#[test]
fn usage_reads_size_and_allocation() {
    let r = Rootfs::parse("lvm:/dev/lxc/c1").unwrap();
    let l = Lvm(Fake::new().answer(
        "lvs",
        &lvs(&[("c1", "1073741824", "Vwi-a-tz--", "lxc", "", "25.00")]),
    ));
    let u = l.usage(&r).unwrap();
    assert_eq!((u.size, u.used), (Some(1 << 30), 1 << 28));
    let l = Lvm(Fake::new().answer(
        "lvs",
        &lvs(&[("c1", "1073741824", "-wi-a-----", "", "", "")]),
    ));
    let u = l.usage(&r).unwrap();
    assert_eq!((u.size, u.used), (Some(1 << 30), 1 << 30));
}

#[test]
fn bad_reports_and_specs_are_refused() {
    let l = Lvm(Fake::new().answer("lvs", "not json"));
    let r = Rootfs::parse("lvm:/dev/lxc/c1").unwrap();
    let err = l.usage(&r).unwrap_err().to_string();
    assert!(err.starts_with("Cannot read the output of `lvs"), "{err}");
    let l = Lvm(Fake::new());
    let err = l
        .destroy(&Rootfs::parse("lvm:/dev/sda1").unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("/dev/VG/LV"), "{err}");
    assert!(l.0.calls().is_empty());
}

#[test]
fn a_copy_goes_to_the_volume_group_of_its_source() {
    let l = Lvm(Fake::new());
    let src = Rootfs::parse("lvm:/dev/data/c1").unwrap();
    let opts = l.place_like(&src, &CreateOptions::default()).unwrap();
    assert_eq!(opts.vgname.as_deref(), Some("data"));
    let given = CreateOptions {
        vgname: Some("other".into()),
        ..Default::default()
    };
    assert_eq!(
        l.place_like(&src, &given).unwrap().vgname.as_deref(),
        Some("other")
    );
}

#[test]
fn thin_snapshots_stand_alone_and_are_not_clones() {
    let rows = [
        ("c1", "1073741824", "Vwi-a-tz--", "pool0", "", "3.10"),
        (
            "c1_snap0",
            "1073741824",
            "Vwi-a-tz-k",
            "pool0",
            "c1",
            "3.10",
        ),
        ("c2", "1073741824", "-wi-a-----", "", "", ""),
    ];
    let l = Lvm(Fake::new()
        .answer("lvs", &lvs(&rows))
        .answer("lvs", &lvs(&rows))
        .answer("lvs", &lvs(&rows)));
    let snap = Rootfs::parse("lvm:/dev/lxc/c1_snap0").unwrap();
    assert!(l.snapshots_stand_alone(&snap).unwrap());
    assert!(!l
        .snapshots_stand_alone(&Rootfs::parse("lvm:/dev/lxc/c2").unwrap())
        .unwrap());
    // Removing c1 would leave its thin snapshot whole.
    let c1 = Rootfs::parse("lvm:/dev/lxc/c1").unwrap();
    assert!(l.clones(&c1).unwrap().is_empty());
}

/// A container's plain volume `c1`, its snapshot, and the new volume of a
/// restore.
fn plain_with_snapshot() -> String {
    lvs(&[
        ("c1", "536870912", "owi-a-s---", "", "", ""),
        cow("c1_snap0", "c1"),
        ("c1+restoring", "536870912", "-wi-a-----", "", "", ""),
    ])
}

#[test]
fn replace_renames_the_old_volume_aside_and_the_new_one_in() {
    let l = Lvm(Fake::new().answer("lvs", &plain_with_snapshot()));
    let old = Rootfs::parse("lvm:/dev/lxc/c1").unwrap();
    let new = Rootfs::parse("lvm:/dev/lxc/c1+restoring").unwrap();
    let aside = l.replace(&old, &new).unwrap();
    assert_eq!(aside.spec(), "lvm:/dev/lxc/c1+replaced");
    assert_eq!(
        l.0.calls(),
        [
            LVS,
            "lvrename lxc c1 c1+replaced",
            "lvrename lxc c1+restoring c1"
        ]
    );
    // And back.
    let l = Lvm(Fake::new());
    l.undo_replace(&old, &new, &aside).unwrap();
    assert_eq!(
        l.0.calls(),
        [
            "lvrename lxc c1 c1+restoring",
            "lvrename lxc c1+replaced c1"
        ]
    );
}

#[test]
fn a_failed_replace_puts_the_old_volume_back() {
    let l = Lvm(Fake::new()
        .answer("lvs", &plain_with_snapshot())
        .fail("lvrename lxc c1+restoring", "  Device busy"));
    let old = Rootfs::parse("lvm:/dev/lxc/c1").unwrap();
    let new = Rootfs::parse("lvm:/dev/lxc/c1+restoring").unwrap();
    let err = l.replace(&old, &new).unwrap_err().to_string();
    assert!(
        err.starts_with("`lvrename lxc c1+restoring c1` failed"),
        "{err}"
    );
    assert_eq!(
        l.0.calls()[1..],
        [
            "lvrename lxc c1 c1+replaced",
            "lvrename lxc c1+restoring c1",
            "lvrename lxc c1+replaced c1"
        ]
    );
    // The undo failing too says where the data is and how to put it back.
    let l = Lvm(Fake::new()
        .answer("lvs", &plain_with_snapshot())
        .fail("lvrename lxc c1+restoring", "  Device busy")
        .fail("lvrename lxc c1+replaced", "  VG locked"));
    let err = l.replace(&old, &new).unwrap_err().to_string();
    assert!(
        err.starts_with("Cannot put /dev/lxc/c1 back after a failed replace (`lvrename lxc c1+restoring c1` failed"),
        "{err}"
    );
    assert!(
        err.ends_with("its data is in /dev/lxc/c1+replaced; rename it back (lvrename /dev/lxc/c1+replaced /dev/lxc/c1)"),
        "{err}"
    );
}

#[test]
fn replace_refuses_before_renaming_anything() {
    let old = Rootfs::parse("lvm:/dev/lxc/c1").unwrap();
    // The new volume is missing.
    let l = Lvm(Fake::new().answer(
        "lvs",
        &lvs(&[("c1", "536870912", "-wi-a-----", "", "", "")]),
    ));
    let new = Rootfs::parse("lvm:/dev/lxc/c1+restoring").unwrap();
    let err = l.replace(&old, &new).unwrap_err().to_string();
    assert!(
        err.starts_with("Logical volume /dev/lxc/c1+restoring does not exist"),
        "{err}"
    );
    assert_eq!(l.0.calls(), [LVS]);
    // A volume set aside by a replace cut short is not overwritten.
    let l = Lvm(Fake::new().answer(
        "lvs",
        &lvs(&[
            ("c1", "536870912", "-wi-a-----", "", "", ""),
            ("c1+restoring", "536870912", "-wi-a-----", "", "", ""),
            ("c1+replaced", "536870912", "-wi-a-----", "", "", ""),
        ]),
    ));
    let err = l.replace(&old, &new).unwrap_err().to_string();
    assert!(
        err.starts_with("Logical volume /dev/lxc/c1+replaced already exists"),
        "{err}"
    );
    assert_eq!(l.0.calls(), [LVS]);
    // Cut short between its renames: the old data is aside.
    let l = Lvm(Fake::new().answer(
        "lvs",
        &lvs(&[
            ("c1+restoring", "536870912", "-wi-a-----", "", "", ""),
            ("c1+replaced", "536870912", "-wi-a-----", "", "", ""),
        ]),
    ));
    let err = l.replace(&old, &new).unwrap_err().to_string();
    assert_eq!(
        err,
        "Logical volume /dev/lxc/c1 does not exist, but /dev/lxc/c1+replaced does: the replace of /dev/lxc/c1 by a restore was cut short, and /dev/lxc/c1+replaced holds its data; put it back (lvrename /dev/lxc/c1+replaced /dev/lxc/c1)"
    );
    assert_eq!(l.0.calls(), [LVS]);
    // Across volume groups.
    let l = Lvm(Fake::new());
    let other = Rootfs::parse("lvm:/dev/data/c1+restoring").unwrap();
    let err = l.replace(&old, &other).unwrap_err().to_string();
    assert_eq!(
        err,
        "The lvm backend cannot replace a volume of lxc with one of data; a volume is renamed within its group only"
    );
    assert!(l.0.calls().is_empty());
}

#[test]
fn a_released_volume_goes_unless_a_snapshot_needs_it() {
    let aside = Rootfs::parse("lvm:/dev/lxc/c1+replaced").unwrap();
    // Nothing needs it (a thin snapshot does not): removed.
    let l = Lvm(Fake::new().answer(
        "lvs",
        &lvs(&[
            (
                "c1",
                "1073741824",
                "Vwi-a-tz--",
                "pool0",
                "c1_snap0",
                "3.10",
            ),
            (
                "c1+replaced",
                "1073741824",
                "Vwi-a-tz--",
                "pool0",
                "",
                "3.10",
            ),
            (
                "c1_snap0",
                "1073741824",
                "Vwi-a-tz-k",
                "pool0",
                "c1+replaced",
                "3.10",
            ),
        ]),
    ));
    l.release(&aside).unwrap();
    assert_eq!(l.0.calls(), [LVS, "lvremove -f lxc/c1+replaced"]);
    // A snapshot of a plain volume needs its origin: kept, under the
    // first free retired name.
    let l = Lvm(Fake::new().answer(
        "lvs",
        &lvs(&[
            ("c1", "536870912", "-wi-a-----", "", "", ""),
            ("c1+replaced", "536870912", "owi-a-s---", "", "", ""),
            ("c1+retired0", "536870912", "owi-a-s---", "", "", ""),
            cow("c1_snap0", "c1+retired0"),
            cow("c1_snap1", "c1+replaced"),
        ]),
    ));
    l.release(&aside).unwrap();
    assert_eq!(l.0.calls(), [LVS, "lvrename lxc c1+replaced c1+retired1"]);
    // Gone already: nothing to do.
    let l = Lvm(Fake::new().answer("lvs", &lvs(&[])));
    l.release(&aside).unwrap();
    assert_eq!(l.0.calls(), [LVS]);
}

#[test]
fn a_retired_volume_goes_with_its_last_snapshot() {
    let rows = [
        ("c1", "536870912", "-wi-a-----", "", "", ""),
        ("c1+retired0", "536870912", "owi-a-s---", "", "", ""),
        cow("c1_snap0", "c1+retired0"),
        cow("c1_snap1", "c1+retired0"),
    ];
    // Another snapshot still needs it.
    let l = Lvm(Fake::new().answer("lvs", &lvs(&rows)));
    l.destroy(&Rootfs::parse("lvm:/dev/lxc/c1_snap0").unwrap())
        .unwrap();
    assert_eq!(l.0.calls(), [LVS, "lvremove -f lxc/c1_snap0"]);
    // The last one.
    let l = Lvm(Fake::new().answer("lvs", &lvs(&[rows[0], rows[1], rows[3]])));
    l.destroy(&Rootfs::parse("lvm:/dev/lxc/c1_snap1").unwrap())
        .unwrap();
    assert_eq!(
        l.0.calls(),
        [
            LVS,
            "lvremove -f lxc/c1_snap1",
            "lvremove -f lxc/c1+retired0"
        ]
    );
    // Left behind by a command cut short: the next destroy in the group
    // removes it.
    let l = Lvm(Fake::new().answer("lvs", &lvs(&[rows[0], rows[1]])));
    l.destroy(&Rootfs::parse("lvm:/dev/lxc/gone").unwrap())
        .unwrap();
    assert_eq!(l.0.calls(), [LVS, "lvremove -f lxc/c1+retired0"]);
}

#[test]
fn only_the_backends_own_names_are_retired_volumes() {
    assert!(ASIDE.is_retired("c1+retired0"));
    assert!(ASIDE.is_retired("web.1+retired12"));
    for name in [
        "c1",
        "c1+retired",
        "+retired0",
        "c1+retiredx",
        "c1_retired0",
        "c1+replaced",
    ] {
        assert!(!ASIDE.is_retired(name), "{name}");
    }
}

#[test]
fn a_copy_keeps_its_sources_filesystem() {
    let src = Rootfs::parse("lvm:/dev/lxc/c1").unwrap();
    let l = Lvm(Fake::new().answer("blkid", "xfs\n"));
    let opts = l.place_like(&src, &CreateOptions::default()).unwrap();
    assert_eq!(
        (opts.fstype.as_deref(), opts.vgname.as_deref()),
        (Some("xfs"), Some("lxc"))
    );
    assert_eq!(l.0.calls(), ["blkid -o value -s TYPE /dev/lxc/c1"]);
    // --fstype says otherwise: blkid is not asked.
    let l = Lvm(Fake::new());
    let asked = CreateOptions {
        fstype: Some("ext4".into()),
        ..Default::default()
    };
    let opts = l.place_like(&src, &asked).unwrap();
    assert_eq!(opts.fstype.as_deref(), Some("ext4"));
    assert!(l.0.calls().is_empty());
    // No filesystem found (blkid exits 2): the default, ext4, is made.
    let l = Lvm(Fake::new().fail_with("blkid", 2, ""));
    let opts = l.place_like(&src, &CreateOptions::default()).unwrap();
    assert_eq!(opts.fstype, None);
    // Any other failure is reported.
    let l = Lvm(Fake::new().fail("blkid", "cannot open /dev/lxc/c1"));
    let err = l.place_like(&src, &CreateOptions::default()).unwrap_err();
    assert!(err.to_string().contains("cannot open /dev/lxc/c1"), "{err}");
}
