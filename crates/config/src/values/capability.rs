//! Capabilities as `lxc.cap.drop` and `lxc.cap.keep` write them.

/// Normalizes one capability: `CAP_SYS_ADMIN`, `sys_admin` and `21` are
/// all `sys_admin`. The table of names and numbers is the `caps` crate's,
/// the one enclos-namespaces drops them with: a name or number it does not
/// know is an error here, at load, rather than at start.
pub fn parse_capability(token: &str) -> Result<String, String> {
    let cap = match token.parse::<u8>() {
        Ok(n) => caps::all().into_iter().find(|c| c.index() == n),
        Err(_) => caps::to_canonical(token).parse::<caps::Capability>().ok(),
    };
    cap.map(|c| {
        let name = c.to_string();
        name.strip_prefix("CAP_").unwrap_or(&name).to_ascii_lowercase()
    })
    .ok_or_else(|| {
        format!(
            "capability names without CAP_ as in capabilities(7), e.g. sys_module mknod ('{token}' is not one)"
        )
    })
}

/// The capabilities of one line; for `lxc.cap.keep`, `none` is `None`
/// (it clears what came before).
pub(crate) fn parse_caps(value: &str, allow_none: bool) -> Result<Vec<Option<String>>, String> {
    value
        .split_whitespace()
        .map(|token| {
            if allow_none && token == "none" {
                Ok(None)
            } else {
                parse_capability(token).map(Some)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("sys_admin", "sys_admin")]
    #[case("CAP_SYS_ADMIN", "sys_admin")]
    #[case("SYS_MODULE", "sys_module")]
    #[case("21", "sys_admin")]
    #[case("40", "checkpoint_restore")]
    #[case("Cap_Net_Admin", "net_admin")]
    fn capabilities(#[case] token: &str, #[case] expected: &str) {
        assert_eq!(parse_capability(token).as_deref(), Ok(expected));
    }

    #[rstest]
    #[case("sys_admn")]
    #[case("45")]
    #[case("50")]
    #[case("64")]
    #[case("cap_")]
    #[case("")]
    #[case("none")]
    fn bad_capabilities(#[case] token: &str) {
        assert!(parse_capability(token).is_err());
    }
}
