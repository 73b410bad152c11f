//! Capabilities as `lxc.cap.drop` and `lxc.cap.keep` write them: the one
//! parser of capability names in enclos, over the `caps` crate's table
//! (the one enclos-namespaces drops them with).

pub use caps::Capability;

/// Reads one capability: `CAP_SYS_ADMIN`, `sys_admin` (any case) and `21`
/// are all [`Capability::CAP_SYS_ADMIN`]. A name or number the `caps`
/// crate does not know is an error here, at load, rather than at start.
pub fn parse_capability(token: &str) -> Result<Capability, String> {
    let cap = match token.parse::<u8>() {
        Ok(n) => caps::all().into_iter().find(|c| c.index() == n),
        Err(_) => caps::to_canonical(token).parse::<Capability>().ok(),
    };
    cap.ok_or_else(|| {
        format!(
            "capability names without CAP_ as in capabilities(7), e.g. sys_module mknod ('{token}' is not one)"
        )
    })
}

/// The capabilities of one line; for `lxc.cap.keep`, `none` is `None`
/// (it clears what came before).
pub(crate) fn parse_caps(value: &str, allow_none: bool) -> Result<Vec<Option<Capability>>, String> {
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
    #[case("sys_admin", Capability::CAP_SYS_ADMIN)]
    #[case("CAP_SYS_ADMIN", Capability::CAP_SYS_ADMIN)]
    #[case("SYS_MODULE", Capability::CAP_SYS_MODULE)]
    #[case("21", Capability::CAP_SYS_ADMIN)]
    #[case("0", Capability::CAP_CHOWN)]
    #[case("40", Capability::CAP_CHECKPOINT_RESTORE)]
    #[case("Cap_Net_Admin", Capability::CAP_NET_ADMIN)]
    fn capabilities(#[case] token: &str, #[case] expected: Capability) {
        assert_eq!(parse_capability(token), Ok(expected));
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
