//! Device rules on cgroup v2, which has no devices controller: the eBPF
//! program `enclos_cgroupfs::devices` generates, loaded with the `bpf`
//! syscall and attached to the container's cgroup as a
//! `BPF_CGROUP_DEVICE` program, as crun and LXC do.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use enclos_cgroupfs::devices::Insn;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Programs of a parent group keep running along this one.
const BPF_F_ALLOW_MULTI: u32 = 2;

/// `union bpf_attr`, as `BPF_PROG_LOAD` reads it; the rest zero.
#[repr(C, align(8))]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    _rest: [u8; 88],
}

/// `union bpf_attr`, as `BPF_PROG_ATTACH` reads it; the rest zero.
#[repr(C, align(8))]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    _rest: [u8; 112],
}

/// `union bpf_attr`, as `BPF_PROG_QUERY` reads it; the rest zero.
#[repr(C, align(8))]
struct ProgQuery {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _rest: [u8; 100],
}

/// `union bpf_attr`, as `BPF_PROG_GET_FD_BY_ID` reads it; the rest zero.
#[repr(C, align(8))]
struct ProgId {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
    _rest: [u8; 116],
}

/// The `bpf` syscall with one attribute block.
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, fully initialized `#[repr(C)]` block of
    // the size passed; the kernel reads it (and writes only inside it or
    // into the buffers it points to, which outlive the call).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Loads `prog` as a device program; on a refusal, the error carries
/// the verifier's log.
pub(crate) fn load(prog: &[Insn]) -> io::Result<OwnedFd> {
    let bytes: Vec<u8> = prog.iter().flat_map(|i| i.to_bytes()).collect();
    let license = c"GPL";
    let mut log = vec![0u8; 64 * 1024];
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: bytes.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        _rest: [0; 88],
    };
    match bpf(BPF_PROG_LOAD, &mut attr) {
        // SAFETY: a successful BPF_PROG_LOAD returns a new fd we own.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        Err(e) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            Err(io::Error::new(
                e.kind(),
                format!("{e}; the verifier said: {}", text.trim()),
            ))
        }
    }
}

/// Attaches the device program `prog` to the cgroup v2 directory `dir`.
pub(crate) fn attach(dir: &Path, prog: &OwnedFd) -> io::Result<()> {
    let cgroup = std::fs::File::open(dir)?;
    attach_cmd(BPF_PROG_ATTACH, &cgroup, prog)
}

fn attach_cmd(cmd: libc::c_long, cgroup: &std::fs::File, prog: &impl AsRawFd) -> io::Result<()> {
    let mut attr = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: if cmd == BPF_PROG_ATTACH {
            BPF_F_ALLOW_MULTI
        } else {
            0
        },
        _rest: [0; 112],
    };
    bpf(cmd, &mut attr).map(|_| ())
}

/// The ids of the device programs attached to the group `dir` itself.
pub(crate) fn attached(dir: &Path) -> io::Result<Vec<u32>> {
    let cgroup = std::fs::File::open(dir)?;
    let mut ids = vec![0u32; 64];
    let mut attr = ProgQuery {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        query_flags: 0,
        attach_flags: 0,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        _rest: [0; 100],
    };
    bpf(BPF_PROG_QUERY, &mut attr)?;
    ids.truncate(attr.prog_cnt as usize);
    Ok(ids)
}

/// Puts `prog` in place of the device programs attached to the group
/// `dir`: the new one first, so that no access is allowed in between
/// that neither allows (attached programs must all allow).
pub(crate) fn replace(dir: &Path, prog: &OwnedFd) -> io::Result<()> {
    let old = attached(dir)?;
    let cgroup = std::fs::File::open(dir)?;
    attach_cmd(BPF_PROG_ATTACH, &cgroup, prog)?;
    for id in old {
        let mut attr = ProgId {
            prog_id: id,
            next_id: 0,
            open_flags: 0,
            _rest: [0; 116],
        };
        let fd = bpf(BPF_PROG_GET_FD_BY_ID, &mut attr)?;
        // SAFETY: a successful BPF_PROG_GET_FD_BY_ID returns a new fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        attach_cmd(BPF_PROG_DETACH, &cgroup, &fd)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use enclos_cgroupfs::devices::{device_program, DeviceRule};

    /// The kernel's verifier accepts the program of LXC's default rules.
    #[test]
    fn the_verifier_accepts_the_default_program() {
        if !enclos_testkit::require_root("the_verifier_accepts_the_default_program") {
            return;
        }
        let rules: Vec<DeviceRule> = crate::launch::devices::DEFAULT_RULES
            .iter()
            .map(|(k, v)| DeviceRule::parse(*k == "devices.allow", v).unwrap())
            .collect();
        let fd = load(&device_program(&rules)).expect("the program loads");
        assert!(fd.as_raw_fd() > 2);
    }

    /// Removes the test's v2 group when dropped.
    struct Group(std::path::PathBuf);

    impl Drop for Group {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }

    /// A shell in a v2 group with the program of `deny a`, `allow c 1:3
    /// rwm` writes /dev/null but cannot read /dev/zero (the program
    /// runs wherever there is a v2 hierarchy, hybrid hosts included).
    #[test]
    fn an_attached_program_refuses_what_the_rules_do_not_allow() {
        if !enclos_testkit::require_root("an_attached_program_refuses_what_the_rules_do_not_allow")
        {
            return;
        }
        let layout = enclos_cgroupfs::Layout::discover().expect("the cgroup layout");
        let Some(v2) = layout.unified() else {
            enclos_testkit::missing_feature(
                "an_attached_program_refuses",
                "no cgroup v2 hierarchy",
            );
            return;
        };
        let dir = v2
            .mount_point
            .join(format!("enclos-devtest-{}", std::process::id()));
        std::fs::create_dir(&dir).expect("create the v2 group");
        let group = Group(dir);
        let rules = [
            DeviceRule::parse(false, "a").unwrap(),
            DeviceRule::parse(true, "c 1:3 rwm").unwrap(),
        ];
        let prog = load(&device_program(&rules)).expect("load");
        attach(&group.0, &prog).expect("attach");
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg("echo $$ > \"$0/cgroup.procs\" || exit 9; echo x > /dev/null && echo NULL-OK; head -c 1 /dev/zero && echo ZERO-READ; true")
            .arg(&group.0)
            .output()
            .expect("run sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("NULL-OK"), "{out:?}");
        assert!(!stdout.contains("ZERO-READ"), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("not permitted"),
            "{out:?}"
        );
    }
}
