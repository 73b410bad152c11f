//! The cg* tools that enclos added after the course's (lssubsys,
//! cgsnapshot, cgxget) against cgroup-tools on the same host: each a shell
//! script, as in the `cgroups` measure, the enclos variant within 1.1x of
//! cgroup-tools' median.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use super::{time_script, CompareArgs, Comparison, Plan, Target, Variant};
use crate::deps::{self, Requirement};

/// One tool's measure: the script for each variant (`$T` is the tool's
/// command: the cgroup-tools name, or `"$ENCLOS" cg SUB`), and what its
/// output must contain.
struct ToolCase {
    title: &'static str,
    tool: &'static str,
    sub: &'static str,
    /// The timed command line, `$T` standing for the tool.
    script: &'static str,
    /// A word the output holds when the tool did its work.
    expect: &'static str,
}

const CASES: &[ToolCase] = &[
    ToolCase {
        title: "lssubsys -am: every controller and its mount point",
        tool: "lssubsys",
        sub: "subsys",
        script: "$T -am",
        expect: "memory",
    },
    ToolCase {
        title: "cgsnapshot -s -b /dev/null memory: the memory groups as a cgconfig.conf",
        tool: "cgsnapshot",
        sub: "snapshot",
        // The same (empty) blacklist for both: cgroup-tools fails when
        // /etc/cgsnapshot_blacklist.conf is missing.
        script: "$T -s -b /dev/null memory",
        expect: "memory",
    },
    ToolCase {
        title: "cgxget -2 -r memory.max /: a v2 name whatever the host runs",
        tool: "cgxget",
        sub: "xget",
        script: "$T -2 -n -v -r memory.max /",
        expect: "max",
    },
];

/// The comparisons, one per tool.
pub(super) fn comparisons<'a>(
    args: &CompareArgs,
    enclos: &std::result::Result<std::path::PathBuf, String>,
) -> Vec<Comparison<'a>> {
    CASES
        .iter()
        .filter(|case| args.wants(case.tool))
        .map(|case| {
            let req = [Requirement {
                purpose: "compare with cgroup-tools",
                program: case.tool,
                package: "cgroup-tools",
            }];
            let tools_missing = (!deps::missing(&req).is_empty()).then(|| {
                format!(
                    "{} not found (cgroup-tools older than libcgroup 3 lacks cgxget); install \
                     with: {}",
                    case.tool,
                    deps::install_hint(&["cgroup-tools"])
                )
            });
            let ours = match enclos {
                Ok(p) => format!("{} cg {}", shell_quote(p), case.sub),
                Err(_) => "enclos-not-built".to_string(),
            };
            Comparison {
                title: case.title.to_string(),
                variants: vec![
                    variant("cgroup-tools", case, case.tool.to_string(), tools_missing),
                    variant("enclos", case, ours, enclos.as_ref().err().cloned()),
                ],
                baseline: 0,
                targets: vec![Target::Ratio {
                    variant: 1,
                    reference: 0,
                    max: 1.1,
                }],
                plan: Plan::new(args, 100, 5, Duration::from_secs(60)),
            }
        })
        .collect()
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

fn variant<'a>(
    name: &'static str,
    case: &ToolCase,
    tool: String,
    unavailable: Option<String>,
) -> Variant<'a> {
    let env: Vec<(&'static str, OsString)> = vec![("T", tool.into())];
    let script = format!("eval \"{}\"", case.script.replace('"', "\\\""));
    let check = format!(
        "out=$({script}) || exit 1\nprintf '%s\\n' \"$out\" | grep -q '{}' || \
         {{ echo 'no {} in the output' >&2; exit 1; }}",
        case.expect, case.expect
    );
    let check_env = env.clone();
    Variant {
        name,
        run: Box::new(move |group| time_script(&script, &env, group)),
        check: Some(Box::new(move |group| {
            time_script(&check, &check_env, group).map(|_| ())
        })),
        unavailable,
    }
}
