#!/bin/bash
# Provisioning of the course machine (run as root by `vagrant up`): the
# Debian packages the labs need, enclos with its lxc-* and cg* links in
# /usr/local/bin, and the labs in /opt/enclos/lab (linked from
# ~vagrant/lab). Works offline when the packages are there already (the box
# of `cargo xtask vm box`), and again on `vagrant provision`.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
IN=/tmp/enclos-provision

# What the labs call, by package.
packages=(busybox-static bsdutils procps iproute2 uidmap lvm2 thin-provisioning-tools btrfs-progs)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "provision: installing ${missing[*]}"
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ -f "$IN/enclos" ]; then
    install -m 0755 "$IN/enclos" /usr/local/bin/enclos
elif [ -d "${ENCLOS_SRC:-}" ]; then
    echo "provision: no enclos binary on the host: building it here (rustup, cargo)"
    apt-get install -y -q --no-install-recommends build-essential curl ca-certificates
    if ! command -v cargo >/dev/null 2>&1 && [ ! -x /root/.cargo/bin/cargo ]; then
        curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    fi
    (cd "$ENCLOS_SRC" && /root/.cargo/bin/cargo build --release -p enclos)
    install -m 0755 "$ENCLOS_SRC/target/release/enclos" /usr/local/bin/enclos
elif ! command -v enclos >/dev/null 2>&1; then
    echo "provision: no enclos binary (build one on the host: cargo build --release -p enclos)" >&2
    exit 1
fi
/usr/local/bin/enclos compat install /usr/local/bin >/dev/null

if [ -d "$IN/lab" ]; then
    rm -rf /opt/enclos/lab
    mkdir -p /opt/enclos
    cp -r "$IN/lab" /opt/enclos/lab
fi
if id vagrant >/dev/null 2>&1; then
    ln -sfn /opt/enclos/lab /home/vagrant/lab
fi
rm -rf "$IN"
echo "provision: enclos $(/usr/local/bin/enclos --version 2>/dev/null || true) is installed;" \
    "play the labs with: sudo ENCLOS=/usr/local/bin/enclos bash ~/lab/lab1-cgroups.sh"
