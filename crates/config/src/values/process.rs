//! What the container's process is given: its environment
//! (`lxc.environment`), a command line (`lxc.init.cmd`, `lxc.execute.cmd`,
//! hooks) and its execution domain (`lxc.arch`).

use serde::Serialize;

pub(crate) fn parse_environment(value: &str) -> Result<(String, Option<String>), String> {
    let (name, val) = match value.split_once('=') {
        Some((name, val)) => (name, Some(val.to_string())),
        None => (value, None),
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err("NAME=VALUE, or NAME to pass the host's value".to_string());
    }
    Ok((name.to_string(), val))
}

/// Splits a command line into words like a POSIX shell does, without
/// expansions: blanks separate words, `'...'` is literal, `"..."` keeps
/// blanks and takes `\"`, `\\`, `\$` and `` \` `` as escapes, and outside
/// quotes a backslash escapes the next character.
pub fn split_command(value: &str) -> Result<Vec<String>, String> {
    let unbalanced = || "a command line with balanced quotes".to_string();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(unbalanced()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(unbalanced()),
                        },
                        Some(c) => word.push(c),
                        None => return Err(unbalanced()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => {
                        return Err(
                            "a command line that does not end with a lone backslash".to_string()
                        )
                    }
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        return Err("a command".to_string());
    }
    Ok(words)
}

/// The execution domain an `lxc.arch` value asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Personality {
    /// A 32-bit userland (`i686`, `armhf`, ...): personality(PER_LINUX32).
    Linux32,
    /// The native 64-bit domain.
    Linux,
}

#[rustfmt::skip]
const ARCHES: &[(&str, Personality)] = &[
    ("arm", Personality::Linux32), ("armel", Personality::Linux32), ("armhf", Personality::Linux32),
    ("armv7l", Personality::Linux32), ("athlon", Personality::Linux32), ("i386", Personality::Linux32),
    ("i486", Personality::Linux32), ("i586", Personality::Linux32), ("i686", Personality::Linux32),
    ("linux32", Personality::Linux32), ("mips", Personality::Linux32), ("mipsel", Personality::Linux32),
    ("ppc", Personality::Linux32), ("powerpc", Personality::Linux32), ("x86", Personality::Linux32),
    ("aarch64", Personality::Linux), ("amd64", Personality::Linux), ("arm64", Personality::Linux),
    ("linux64", Personality::Linux), ("mips64", Personality::Linux), ("mips64el", Personality::Linux),
    ("ppc64", Personality::Linux), ("ppc64el", Personality::Linux), ("ppc64le", Personality::Linux),
    ("powerpc64", Personality::Linux), ("s390x", Personality::Linux), ("x86_64", Personality::Linux),
];

pub(crate) fn parse_personality(value: &str) -> Result<Personality, String> {
    ARCHES
        .iter()
        .find(|(name, _)| *name == value)
        .map(|(_, p)| *p)
        .ok_or_else(|| "an architecture such as x86_64, amd64, i686, x86, arm64, armhf".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("/sbin/init", &["/sbin/init"])]
    #[case("  /bin/sh   -c   'echo hi; exit 0' ", &["/bin/sh", "-c", "echo hi; exit 0"])]
    #[case(r#"/bin/echo "a \"b\" c" d\ e"#, &["/bin/echo", r#"a "b" c"#, "d e"])]
    #[case(r#"x"y"'z'"#, &["xyz"])]
    #[case(r#"echo '' "" end"#, &["echo", "", "", "end"])]
    #[case(r#"printf "a\nb""#, &["printf", r"a\nb"])]
    fn command_splitting(#[case] value: &str, #[case] expected: &[&str]) {
        assert_eq!(split_command(value).unwrap(), expected);
    }

    #[rstest]
    #[case("/bin/sh -c 'unterminated")]
    #[case(r#"/bin/sh "open"#)]
    #[case(r"trailing\")]
    #[case("   ")]
    fn bad_commands(#[case] value: &str) {
        assert!(split_command(value).is_err());
    }
}
