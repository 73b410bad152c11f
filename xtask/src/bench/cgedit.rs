//! The cg* tools that change groups (cgclear, cgxset) against
//! cgroup-tools, within 1.1x of its median: the groups each run works on
//! are made before the clock starts (mkdir in the memory hierarchy), and
//! only the tool's command is timed, as one `sh -c` script like the other
//! cgroup measures.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use super::cgmounts::{memory_hierarchy, remove_group, Mount};
use super::{time_script, CompareArgs, Comparison, Plan, Target, Variant};
use crate::deps::{self, Requirement};

/// Groups below the run's group that each cgclear run removes.
const CHILDREN: usize = 5;
/// The limit cgxset writes: 64 MiB, as memory.max (v2 terms).
const LIMIT: u64 = 64 << 20;

/// What one tool's measure needs: the memory hierarchy and a directory
/// for the config files.
struct Env {
    memory: PathBuf,
    version: &'static str,
    scratch: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.scratch);
    }
}

/// The cgclear and cgxset comparisons that `--only` lets through.
pub(super) fn comparisons<'a>(
    args: &CompareArgs,
    enclos: &std::result::Result<PathBuf, String>,
    mounts: &[Mount],
) -> Result<Vec<Comparison<'a>>> {
    let mut out = Vec::new();
    if !args.wants("cgclear") && !args.wants("cgxset") {
        return Ok(out);
    }
    let (memory, version) = memory_hierarchy(mounts)?;
    let scratch =
        std::env::temp_dir().join(format!("{}{}-cgedit", super::PREFIX, std::process::id()));
    fs::create_dir_all(&scratch)?;
    let env = std::rc::Rc::new(Env {
        memory,
        version,
        scratch,
    });
    let ours = |sub: &str| match enclos {
        Ok(p) => format!(
            "'{}' cg {sub}",
            p.display().to_string().replace('\'', r"'\''")
        ),
        Err(_) => "enclos-not-built".to_string(),
    };
    let not_built = enclos.as_ref().err().cloned();
    if args.wants("cgclear") {
        out.push(comparison(
            args,
            format!(
                "cgclear -l FILE: remove the {} groups a cgconfig.conf names (memory, cgroup {})",
                CHILDREN + 1,
                env.version
            ),
            [
                clear_variant("cgroup-tools", "cgclear".into(), missing("cgclear"), &env),
                clear_variant("enclos", ours("clear"), not_built.clone(), &env),
            ],
        ));
    }
    if args.wants("cgxset") {
        out.push(comparison(
            args,
            format!(
                "cgxset -2 -r memory.max={LIMIT} GROUP: a v2 name whatever the host runs \
                 (cgroup {})",
                env.version
            ),
            [
                xset_variant("cgroup-tools", "cgxset".into(), missing("cgxset"), &env),
                xset_variant("enclos", ours("xset"), not_built, &env),
            ],
        ));
    }
    Ok(out)
}

fn comparison<'a>(args: &CompareArgs, title: String, variants: [Variant<'a>; 2]) -> Comparison<'a> {
    Comparison {
        title,
        variants: variants.into(),
        baseline: 0,
        targets: vec![Target::Ratio {
            variant: 1,
            reference: 0,
            max: 1.1,
        }],
        plan: Plan::new(args, 100, 5, Duration::from_secs(60)),
    }
}

/// Why cgroup-tools' `tool` cannot be measured, if it cannot.
fn missing(tool: &'static str) -> Option<String> {
    let req = [Requirement {
        purpose: "compare with cgroup-tools",
        program: tool,
        package: "cgroup-tools",
    }];
    (!deps::missing(&req).is_empty()).then(|| {
        format!(
            "{tool} not found (cgroup-tools older than libcgroup 3, such as Debian 12's 2.0.2, \
             lacks cgxget and cgxset); install with: {}",
            deps::install_hint(&["cgroup-tools"])
        )
    })
}

/// The config file of run `group`: the group and its children, each in
/// memory, parents first.
fn clear_config(group: &str) -> String {
    let mut text = String::new();
    let names =
        std::iter::once(group.to_string()).chain((0..CHILDREN).map(|i| format!("{group}/g{i}")));
    for name in names {
        text.push_str(&format!("group {name} {{\n    memory {{\n    }}\n}}\n"));
    }
    text
}

/// Makes the run's groups and writes its config; returns the config.
fn set_up_clear(env: &Env, group: &str) -> std::result::Result<PathBuf, String> {
    for i in 0..CHILDREN {
        let dir = env.memory.join(group).join(format!("g{i}"));
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let conf = env.scratch.join(format!("{group}.conf"));
    fs::write(&conf, clear_config(group))
        .map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
    Ok(conf)
}

/// Removes what a run left (nothing, when the tool did its work).
fn tidy(env: &Env, group: &str) {
    let _ = remove_group(&env.memory, &env.memory.join(group));
    let _ = fs::remove_file(env.scratch.join(format!("{group}.conf")));
}

fn clear_variant<'a>(
    name: &'static str,
    tool: String,
    unavailable: Option<String>,
    env: &std::rc::Rc<Env>,
) -> Variant<'a> {
    let script = r#"eval "$T -l \"$F\"""#;
    let vars = move |conf: &Path| -> Vec<(&'static str, OsString)> {
        vec![("T", tool.clone().into()), ("F", conf.into())]
    };
    let (run_env, check_env) = (env.clone(), env.clone());
    let (run_vars, check_vars) = (vars.clone(), vars);
    Variant {
        name,
        run: Box::new(move |group| {
            let conf = set_up_clear(&run_env, group)?;
            let took = time_script(script, &run_vars(&conf), group);
            tidy(&run_env, group);
            took
        }),
        check: Some(Box::new(move |group| {
            let conf = set_up_clear(&check_env, group)?;
            let ran = time_script(script, &check_vars(&conf), group);
            let left = check_env.memory.join(group);
            let result = match ran {
                Err(why) => Err(why),
                Ok(_) if left.exists() => Err(format!("{} still exists", left.display())),
                Ok(_) => Ok(()),
            };
            tidy(&check_env, group);
            result
        })),
        unavailable,
    }
}

fn xset_variant<'a>(
    name: &'static str,
    tool: String,
    unavailable: Option<String>,
    env: &std::rc::Rc<Env>,
) -> Variant<'a> {
    let script = format!(r#"eval "$T -2 -r memory.max={LIMIT} $G""#);
    let vars: Vec<(&'static str, OsString)> = vec![("T", tool.into())];
    let (run_env, check_env) = (env.clone(), env.clone());
    let (run_vars, check_vars) = (vars.clone(), vars);
    let check_script = script.clone();
    let make = |env: &Env, group: &str| {
        let dir = env.memory.join(group);
        fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
    };
    Variant {
        name,
        run: Box::new(move |group| {
            make(&run_env, group)?;
            let took = time_script(&script, &run_vars, group);
            tidy(&run_env, group);
            took
        }),
        check: Some(Box::new(move |group| {
            make(&check_env, group)?;
            let ran = time_script(&check_script, &check_vars, group);
            let file = if check_env.version == "v1" {
                "memory.limit_in_bytes"
            } else {
                "memory.max"
            };
            let path = check_env.memory.join(group).join(file);
            let value = fs::read_to_string(&path).unwrap_or_default();
            tidy(&check_env, group);
            ran?;
            if value.trim() == LIMIT.to_string() {
                Ok(())
            } else {
                Err(format!(
                    "{} holds {:?}, not {LIMIT}",
                    path.display(),
                    value.trim()
                ))
            }
        })),
        unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_names_the_group_then_its_children() {
        let text = clear_config("g");
        assert!(
            text.starts_with("group g {\n    memory {\n    }\n}\ngroup g/g0 {"),
            "{text}"
        );
        assert_eq!(text.matches("group ").count(), CHILDREN + 1);
    }
}
