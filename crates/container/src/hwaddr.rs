//! MAC addresses of a container's networks as LXC makes them up: a new
//! random one for a copy, and `x` digits (`00:16:3e:xx:xx:xx`) completed.

use std::fs;
use std::io::Read;
use std::path::Path;

use crate::error::{io_err, Result};

/// `lxc.net.N.hwaddr` or the legacy `lxc.network.hwaddr`.
pub(crate) fn is_hwaddr_key(key: &str) -> bool {
    if key == "lxc.network.hwaddr" {
        return true;
    }
    key.strip_prefix("lxc.net.")
        .and_then(|r| r.strip_suffix(".hwaddr"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `N` bytes from /dev/urandom.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    let path = Path::new("/dev/urandom");
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(io_err("read", path))?;
    Ok(b)
}

/// A MAC address in LXC's range (`00:16:3e:xx:xx:xx`).
pub(crate) fn random_mac() -> Result<String> {
    let [a, b, c] = random_bytes::<3>()?;
    Ok(format!("00:16:3e:{:02x}:{:02x}:{:02x}", a & 0x7f, b, c))
}

/// `hwaddr` with each `x` (or `X`) a random hex digit, as LXC completes
/// `00:16:3e:xx:xx:xx`; the first octet stays unicast.
pub(crate) fn complete_hwaddr(hwaddr: &str) -> Result<String> {
    if !hwaddr.contains(['x', 'X']) {
        return Ok(hwaddr.to_string());
    }
    const HEX: &[u8] = b"0123456789abcdef";
    let random = random_bytes::<32>()?;
    Ok(hwaddr
        .chars()
        .enumerate()
        .map(|(i, ch)| match ch {
            'x' | 'X' => {
                let r = random[i % random.len()];
                // The second digit of the first octet: bit 0 clear.
                let mask = if i == 1 { 0x0e } else { 0x0f };
                HEX[(r & mask) as usize] as char
            }
            other => other,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hwaddr_with_x_is_completed_and_unicast() {
        let done = complete_hwaddr("00:16:3e:xx:xx:xx").unwrap();
        assert_eq!(done.len(), 17);
        assert!(done.starts_with("00:16:3e:"));
        assert!(!done.contains('x'));
        assert_eq!(
            complete_hwaddr("aa:bb:cc:dd:ee:ff").unwrap(),
            "aa:bb:cc:dd:ee:ff"
        );
        for _ in 0..20 {
            let first = complete_hwaddr("xx:00:00:00:00:00").unwrap();
            let octet = u8::from_str_radix(&first[..2], 16).unwrap();
            assert_eq!(octet & 1, 0, "{first} is unicast");
        }
    }

    #[test]
    fn hwaddr_keys_and_random_values() {
        assert!(is_hwaddr_key("lxc.net.0.hwaddr"));
        assert!(is_hwaddr_key("lxc.network.hwaddr"));
        assert!(!is_hwaddr_key("lxc.net.0.link"));
        assert!(!is_hwaddr_key("lxc.net..hwaddr"));
        let mac = random_mac().unwrap();
        assert!(mac.starts_with("00:16:3e:") && mac.len() == 17, "{mac}");
    }
}
