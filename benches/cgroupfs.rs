//! Criterion benches of enclos-cgroupfs's hot paths on this host's real
//! hierarchies:
//!
//! - `memory_group/create_attach_delete`: create a memory group, move a
//!   process into it, move it back, delete the group (what `cg exec` and a
//!   container start do);
//! - `memory_group/set_memory_limit`: a typed write (and read back) on an
//!   existing group;
//! - `layout/discover`: reading the hierarchies from /proc/self/mountinfo.
//!
//! The group benches need root; without it they are skipped with a printed
//! reason. Groups are uniquely named and removed by Drop guards.

use std::hint::black_box;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use criterion::Criterion;
use enclos_cgroupfs::{read_membership, Cgroup, DeleteOptions, Layout, Permissions, Populated};

fn main() {
    let mut c = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();

    c.bench_function("layout/discover", |b| {
        b.iter(|| black_box(Layout::discover().expect("discover the cgroup layout")))
    });

    match GroupBench::prepare() {
        Ok(bench) => bench.run(&mut c),
        Err(why) => eprintln!("SKIP memory_group benches: {why}"),
    }

    c.final_summary();
}

/// A name no other run (or test) uses.
fn unique(tag: &str) -> String {
    format!("enclos-bench-cgroupfs-{}-{tag}", std::process::id())
}

fn remove(cg: &Cgroup) {
    let _ = cg.delete(DeleteOptions {
        recursive: true,
        populated: Populated::MoveToParent,
        ignore_missing: true,
    });
}

/// A group removed (its processes moved to the parent) when dropped.
struct GroupGuard(Cgroup);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        remove(&self.0);
    }
}

/// A `sleep 1000` child, killed and reaped when dropped.
struct Sleeper(Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the group benches work with. Field order is drop order: the groups
/// go (moving the child out if it is still in one) before the child dies.
struct GroupBench {
    /// Created and deleted at every iteration of the first bench.
    churn: GroupGuard,
    /// Exists for the whole run, for the set bench.
    settled: GroupGuard,
    /// The memory group the child started in; it goes back there.
    home: Cgroup,
    child: Sleeper,
}

impl GroupBench {
    fn prepare() -> Result<GroupBench, String> {
        if !nix::unistd::geteuid().is_root() {
            return Err("needs root (creates memory cgroups)".into());
        }
        let layout = Arc::new(Layout::discover().map_err(|e| format!("{e}"))?);
        let memory = layout
            .resolve("memory")
            .map_err(|e| format!("no memory hierarchy: {e}"))?
            .clone();

        let child = Command::new("sleep")
            .arg("1000")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot spawn `sleep 1000`: {e}"))?;
        let child = Sleeper(child);
        let pid = child.0.id();
        let proc_cgroup = format!("/proc/{pid}/cgroup");
        let memberships = read_membership(Path::new(&proc_cgroup)).map_err(|e| format!("{e}"))?;
        let home_path = layout.group_of(&memory, &memberships).unwrap_or("");
        let home =
            Cgroup::new(layout.clone(), &["memory"], home_path).map_err(|e| format!("{e}"))?;

        let handle = |tag: &str| {
            Cgroup::new(layout.clone(), &["memory"], &unique(tag)).map_err(|e| format!("{e}"))
        };
        let churn = GroupGuard(handle("churn")?);
        let settled = GroupGuard(handle("set")?);
        settled
            .0
            .create(&Permissions::default())
            .map_err(|e| format!("cannot create a memory group: {e}"))?;
        Ok(GroupBench {
            churn,
            settled,
            home,
            child,
        })
    }

    fn run(&self, c: &mut Criterion) {
        let pid = self.child.0.id() as i32;
        let mut group = c.benchmark_group("memory_group");

        let cg = &self.churn.0;
        group.bench_function("create_attach_delete", |b| {
            b.iter(|| {
                cg.create(&Permissions::default()).expect("create");
                cg.attach(pid).expect("attach");
                self.home.attach(pid).expect("move back");
                cg.delete(DeleteOptions {
                    recursive: false,
                    populated: Populated::Refuse,
                    ignore_missing: false,
                })
                .expect("delete");
            })
        });

        let cg = &self.settled.0;
        let mut limit = 40_000_000u64;
        group.bench_function("set_memory_limit", |b| {
            b.iter(|| {
                // Alternate so that every write changes the value.
                limit = if limit == 40_000_000 {
                    50_000_000
                } else {
                    40_000_000
                };
                black_box(cg.set_memory_limit(Some(limit)).expect("set_memory_limit"))
            })
        });
        group.finish();
    }
}
