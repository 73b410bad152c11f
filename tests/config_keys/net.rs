//! The network keys enclos applies: the type (`empty`, `none`) and the
//! keys that clear networks. The other `lxc.net.N.*` keys apply to types
//! enclos does not set up yet; with `empty` or `none` start warns that
//! they have no effect.

use enclos_tests::lab::*;
use enclos_tests::require_root;

use crate::{running_with, with_keys, Case};

pub const CASES: &[Case] = &[
    Case {
        pattern: "lxc.net.#.type",
        test: net_type_empty_is_a_namespace_of_its_own_none_the_host_s,
    },
    Case {
        pattern: "lxc.net",
        test: net_and_net_n_clear_the_networks,
    },
    Case {
        pattern: "lxc.net.#",
        test: net_and_net_n_clear_the_networks,
    },
];

fn net_ns(pid: &str) -> std::path::PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/net")).expect("ns/net")
}

#[test]
pub fn net_type_empty_is_a_namespace_of_its_own_none_the_host_s() {
    if !require_root("net_type_empty_is_a_namespace_of_its_own_none_the_host_s") {
        return;
    }
    let lab = Lab::new();
    let empty = running_with(&lab, "nempty", "lxc.net.0.type = empty");
    assert_ne!(net_ns(&lab.init_pid(&empty).to_string()), net_ns("self"));
    assert_eq!(crate::inside(&lab, &empty, "ls /sys/class/net"), "lo");
    let none = running_with(&lab, "nnone", "lxc.net.0.type = none");
    assert_eq!(net_ns(&lab.init_pid(&none).to_string()), net_ns("self"));
    // A key of another type's is said, not silently dropped.
    let flags = with_keys(
        &lab,
        "nflags",
        "lxc.net.0.type = empty\nlxc.net.0.flags = up",
    );
    let out = lab.enclos("start", &["-n", &flags]).success();
    assert!(
        out.stderr
            .contains("Key 'lxc.net.0.flags' has no effect on a network of type 'empty'"),
        "{out:#?}"
    );
}

#[test]
pub fn net_and_net_n_clear_the_networks() {
    if !require_root("net_and_net_n_clear_the_networks") {
        return;
    }
    let lab = Lab::new();
    // Without the clearing line, these would share the host's network.
    let all = running_with(&lab, "nclr", "lxc.net.0.type = none\nlxc.net =");
    assert_ne!(net_ns(&lab.init_pid(&all).to_string()), net_ns("self"));
    let one = running_with(&lab, "nclr0", "lxc.net.0.type = none\nlxc.net.0 =");
    assert_ne!(net_ns(&lab.init_pid(&one).to_string()), net_ns("self"));
}
