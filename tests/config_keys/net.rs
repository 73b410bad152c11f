//! The network keys enclos applies: the type, the keys that clear
//! networks, and the keys of veth, macvlan, ipvlan and vlan networks. The
//! links live in a network namespace of the test's own
//! (`enclos_tests::netns`): the host's interfaces are never touched.

use enclos_tests::lab::*;
use enclos_tests::netns::TestNet;
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
    Case {
        pattern: "lxc.net.#.flags",
        test: veth_keys_shape_the_interface,
    },
    Case {
        pattern: "lxc.net.#.link",
        test: veth_keys_shape_the_interface,
    },
    Case {
        pattern: "lxc.net.#.name",
        test: veth_keys_shape_the_interface,
    },
    Case {
        pattern: "lxc.net.#.mtu",
        test: veth_keys_shape_the_interface,
    },
    Case {
        pattern: "lxc.net.#.hwaddr",
        test: veth_keys_shape_the_interface,
    },
    Case {
        pattern: "lxc.net.#.ipv4.address",
        test: veth_keys_shape_the_interface,
    },
    Case {
        pattern: "lxc.net.#.ipv4.gateway",
        test: veth_keys_shape_the_interface,
    },
    Case {
        pattern: "lxc.net.#.ipv6.address",
        test: veth_keys_shape_the_interface,
    },
    Case {
        pattern: "lxc.net.#.ipv6.gateway",
        test: veth_keys_shape_the_interface,
    },
    Case {
        pattern: "lxc.net.#.veth.pair",
        test: veth_keys_shape_the_interface,
    },
    Case {
        pattern: "lxc.net.#.veth.mode",
        test: veth_router_mode_routes_the_container_s_addresses_on_the_host,
    },
    Case {
        pattern: "lxc.net.#.veth.ipv4.route",
        test: veth_router_mode_routes_the_container_s_addresses_on_the_host,
    },
    Case {
        pattern: "lxc.net.#.veth.ipv6.route",
        test: veth_router_mode_routes_the_container_s_addresses_on_the_host,
    },
    Case {
        pattern: "lxc.net.#.script.up",
        test: net_scripts_run_with_lxc_s_arguments_and_environment,
    },
    Case {
        pattern: "lxc.net.#.script.down",
        test: net_scripts_run_with_lxc_s_arguments_and_environment,
    },
    Case {
        pattern: "lxc.net.#.macvlan.mode",
        test: macvlan_ipvlan_and_vlan_keys_reach_the_kernel,
    },
    Case {
        pattern: "lxc.net.#.ipvlan.mode",
        test: macvlan_ipvlan_and_vlan_keys_reach_the_kernel,
    },
    Case {
        pattern: "lxc.net.#.ipvlan.isolation",
        test: macvlan_ipvlan_and_vlan_keys_reach_the_kernel,
    },
    Case {
        pattern: "lxc.net.#.vlan.id",
        test: macvlan_ipvlan_and_vlan_keys_reach_the_kernel,
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
    // `none` shares the network of whoever starts it: the test's own
    // namespace, so the template's rcS never touches the host's links.
    let _net = enclos_tests::netns::TestNet::enter();
    let lab = Lab::new();
    let empty = running_with(&lab, "nempty", "lxc.net.0.type = empty");
    assert_ne!(
        net_ns(&lab.init_pid(&empty).to_string()),
        net_ns("thread-self")
    );
    assert_eq!(crate::inside(&lab, &empty, "ls /sys/class/net"), "lo");
    let none = running_with(&lab, "nnone", "lxc.net.0.type = none");
    assert_eq!(
        net_ns(&lab.init_pid(&none).to_string()),
        net_ns("thread-self")
    );
    // A key of another type's is said, not silently dropped (flags = up
    // has an effect on `empty`: lo up, see tests/net.rs).
    let link = with_keys(
        &lab,
        "nlink",
        "lxc.net.0.type = empty\nlxc.net.0.link = br0",
    );
    let out = lab.enclos("start", &["-n", &link]).success();
    assert!(
        out.stderr
            .contains("Key 'lxc.net.0.link' has no effect on a network of type 'empty'"),
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

/// A started container whose networks are `keys` only.
fn net_only(lab: &Lab, tag: &str, keys: &str) -> String {
    running_with(lab, tag, &format!("lxc.net =\n{keys}"))
}

/// `ip ARGS` in the network namespace of container `name`, as the host
/// sees it.
fn ip_in(net: &TestNet, lab: &Lab, name: &str, args: &[&str]) -> String {
    let mut cmd = vec!["ip"];
    cmd.extend_from_slice(args);
    net.in_netns_of(lab.init_pid(name), &cmd).stdout
}

#[test]
pub fn veth_keys_shape_the_interface() {
    if !require_root("veth_keys_shape_the_interface") {
        return;
    }
    let net = TestNet::enter();
    net.bridge("tbr0", "10.70.0.1/24");
    net.ip(&["addr", "add", "fd70::1/64", "dev", "tbr0"]);
    let lab = Lab::new();
    let c = net_only(
        &lab,
        "nveth",
        "lxc.net.0.type = veth\nlxc.net.0.link = tbr0\nlxc.net.0.flags = up\n\
         lxc.net.0.name = eth3\nlxc.net.0.mtu = 1400\nlxc.net.0.hwaddr = 00:16:3e:12:34:56\n\
         lxc.net.0.ipv4.address = 10.70.0.9/24 10.70.0.250\nlxc.net.0.ipv4.gateway = auto\n\
         lxc.net.0.ipv6.address = fd70::9/64\nlxc.net.0.ipv6.gateway = fd70::1\n\
         lxc.net.0.veth.pair = tkp0",
    );
    let link = ip_in(&net, &lab, &c, &["link", "show", "eth3"]);
    assert!(
        link.contains("mtu 1400") && link.contains("state UP"),
        "{link}"
    );
    assert!(link.contains("link/ether 00:16:3e:12:34:56"), "{link}");
    let v4 = ip_in(&net, &lab, &c, &["-4", "addr", "show", "eth3"]);
    assert!(v4.contains("inet 10.70.0.9/24 brd 10.70.0.250"), "{v4}");
    let v6 = ip_in(&net, &lab, &c, &["-6", "addr", "show", "eth3"]);
    assert!(v6.contains("inet6 fd70::9/64"), "{v6}");
    let r4 = ip_in(&net, &lab, &c, &["-4", "route"]);
    assert!(r4.contains("default via 10.70.0.1 dev eth3"), "{r4}");
    let r6 = ip_in(&net, &lab, &c, &["-6", "route"]);
    assert!(r6.contains("default via fd70::1 dev eth3"), "{r6}");
    // The host side: named by veth.pair, a port of the link.
    let ports = net.ip(&["-o", "link", "show", "master", "tbr0"]).stdout;
    assert!(ports.contains("tkp0@"), "{ports}");
}

#[test]
pub fn veth_router_mode_routes_the_container_s_addresses_on_the_host() {
    if !require_root("veth_router_mode_routes_the_container_s_addresses_on_the_host") {
        return;
    }
    let net = TestNet::enter();
    let lab = Lab::new();
    net_only(
        &lab,
        "nrouter",
        "lxc.net.0.type = veth\nlxc.net.0.veth.mode = router\nlxc.net.0.flags = up\n\
         lxc.net.0.veth.pair = tkr0\nlxc.net.0.ipv4.address = 10.71.0.2/32\n\
         lxc.net.0.ipv6.address = fd71::2/128\nlxc.net.0.veth.ipv4.route = 10.72.0.0/24\n\
         lxc.net.0.veth.ipv6.route = fd72::/64",
    );
    let r4 = net.ip(&["-4", "route", "show", "dev", "tkr0"]).stdout;
    assert!(
        r4.contains("10.71.0.2") && r4.contains("10.72.0.0/24"),
        "{r4}"
    );
    let r6 = net.ip(&["-6", "route", "show", "dev", "tkr0"]).stdout;
    assert!(r6.contains("fd71::2") && r6.contains("fd72::/64"), "{r6}");
}

#[test]
pub fn net_scripts_run_with_lxc_s_arguments_and_environment() {
    if !require_root("net_scripts_run_with_lxc_s_arguments_and_environment") {
        return;
    }
    let net = TestNet::enter();
    net.bridge("tbr0", "10.73.0.1/24");
    let lab = Lab::new();
    let script = lab.path().join("netscript");
    let log = lab.path().join("netscript.log");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$* $LXC_NET_TYPE $LXC_NET_PARENT $LXC_NET_PEER\" >> {}\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let s = script.display();
    let c = net_only(
        &lab,
        "nscript",
        &format!(
            "lxc.net.0.type = veth\nlxc.net.0.link = tbr0\nlxc.net.0.veth.pair = tks0\n\
             lxc.net.0.script.up = {s}\nlxc.net.0.script.down = {s}"
        ),
    );
    let up = std::fs::read_to_string(&log).unwrap();
    assert_eq!(up, format!("{c} net up veth tks0 veth tbr0 tks0\n"));
    lab.enclos("stop", &["-n", &c, "-k"]).success();
    let both = std::fs::read_to_string(&log).unwrap();
    assert_eq!(both, format!("{up}{c} net down veth tks0 veth tbr0 tks0\n"));
}

#[test]
pub fn macvlan_ipvlan_and_vlan_keys_reach_the_kernel() {
    if !require_root("macvlan_ipvlan_and_vlan_keys_reach_the_kernel") {
        return;
    }
    let net = TestNet::enter();
    net.parent("tpar0");
    let lab = Lab::new();
    let c = net_only(
        &lab,
        "nmacvlan",
        "lxc.net.0.type = macvlan\nlxc.net.0.link = tpar0\nlxc.net.0.macvlan.mode = vepa",
    );
    let link = ip_in(&net, &lab, &c, &["-d", "link", "show", "eth0"]);
    assert!(link.contains("macvlan mode vepa"), "{link}");
    for (kind, keys, shown) in [
        (
            "ipvlan",
            "lxc.net.0.ipvlan.mode = l2\nlxc.net.0.ipvlan.isolation = private",
            "ipvlan  mode l2 private",
        ),
        (
            "vlan",
            "lxc.net.0.vlan.id = 42",
            "vlan protocol 802.1Q id 42",
        ),
    ] {
        let keys = format!("lxc.net.0.type = {kind}\nlxc.net.0.link = tpar0\n{keys}");
        if net.supports(kind, "tpar0") {
            let c = net_only(&lab, "nkind", &keys);
            let link = ip_in(&net, &lab, &c, &["-d", "link", "show", "eth0"]);
            assert!(link.contains(shown), "{link}");
        } else {
            // This kernel has no such driver: start says so.
            let c = crate::with_keys(&lab, "nkind", &format!("lxc.net =\n{keys}"));
            let out = lab.enclos("start", &["-n", &c]);
            assert_one_error_line(&out, &format!("({kind}): this kernel has no {kind} driver"));
        }
    }
}
