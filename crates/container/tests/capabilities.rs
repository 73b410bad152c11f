//! The configuration accepts exactly the capabilities start can drop: both
//! read the `caps` crate's table (`lxc.cap.drop = 45` used to load and then
//! fail at start).

use enclos_config::parse_capability as config_cap;
use enclos_namespaces::parse_capability as start_cap;

#[test]
fn config_and_start_agree_on_every_number() {
    for n in 0..=u8::MAX {
        let token = n.to_string();
        match (config_cap(&token), start_cap(&token)) {
            (Ok(name), Ok(cap)) => {
                assert_eq!(usize::from(cap.index()), usize::from(n), "{token}");
                assert_eq!(start_cap(&name).unwrap(), cap, "{token} read as {name}");
            }
            (Err(_), Err(_)) => {}
            (c, s) => panic!("{token}: the config says {c:?}, start says {s:?}"),
        }
    }
    assert!(config_cap("45").is_err() && start_cap("45").is_err());
}

#[test]
fn config_and_start_agree_on_names() {
    for token in [
        "sys_admin",
        "CAP_SYS_ADMIN",
        "Sys_Module",
        "mac_admin",
        "checkpoint_restore",
        "sys_admn",
        "cap_",
        "none",
    ] {
        match (config_cap(token), start_cap(token)) {
            (Ok(name), Ok(cap)) => assert_eq!(start_cap(&name).unwrap(), cap, "{token}"),
            (Err(_), Err(_)) => {}
            (c, s) => panic!("{token}: the config says {c:?}, start says {s:?}"),
        }
    }
}
