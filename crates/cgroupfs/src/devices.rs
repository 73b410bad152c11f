//! Device rules as cgroup v1 writes them (`c 1:3 rwm` to `devices.allow`
//! or `devices.deny`) and, for cgroup v2, which has no devices
//! controller, the eBPF program (`BPF_PROG_TYPE_CGROUP_DEVICE`) that
//! enforces the same rules, as crun and LXC build it. Loading and
//! attaching the program is the caller's (it takes the `bpf` syscall).

use thiserror::Error;

/// A device rule that does not parse.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("Invalid device rule '{rule}': {reason} (expected e.g. `c 1:3 rwm`, `b *:* m` or `a`)")]
pub struct RuleError {
    pub rule: String,
    pub reason: &'static str,
}

/// The kind of device a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceType {
    All,
    Char,
    Block,
}

/// One rule: allow or deny some access to some devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    pub kind: DeviceType,
    /// `None`: any (`*`).
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// [`ACCESS_MKNOD`] | [`ACCESS_READ`] | [`ACCESS_WRITE`].
    pub access: u32,
}

/// The access bits, as the kernel's `bpf_cgroup_dev_ctx` has them.
pub const ACCESS_MKNOD: u32 = 1;
pub const ACCESS_READ: u32 = 2;
pub const ACCESS_WRITE: u32 = 4;
const ACCESS_ALL: u32 = ACCESS_MKNOD | ACCESS_READ | ACCESS_WRITE;
/// The device types of `bpf_cgroup_dev_ctx` (`BPF_DEVCG_DEV_*`).
pub const DEV_BLOCK: u32 = 1;
pub const DEV_CHAR: u32 = 2;

impl DeviceRule {
    /// Parses the value of a `devices.allow` (`allow`) or `devices.deny`
    /// line: `TYPE MAJOR:MINOR ACCESS`, or `a` alone.
    pub fn parse(allow: bool, text: &str) -> Result<DeviceRule, RuleError> {
        let err = |reason| RuleError {
            rule: text.to_string(),
            reason,
        };
        let mut words = text.split_whitespace();
        let kind = match words.next() {
            Some("a") => DeviceType::All,
            Some("c") => DeviceType::Char,
            Some("b") => DeviceType::Block,
            _ => return Err(err("the type is not a, b or c")),
        };
        let (major, minor) = match words.next() {
            None if kind == DeviceType::All => (None, None),
            None => return Err(err("MAJOR:MINOR is missing")),
            Some(numbers) => {
                let (ma, mi) = numbers
                    .split_once(':')
                    .ok_or_else(|| err("MAJOR:MINOR has no ':'"))?;
                let number = |s: &str| match s {
                    "*" => Ok(None),
                    _ => s
                        .parse()
                        .map(Some)
                        .map_err(|_| err("a device number is not a number or *")),
                };
                (number(ma)?, number(mi)?)
            }
        };
        let access = match words.next() {
            None => ACCESS_ALL,
            Some(a) => a.chars().try_fold(0, |acc, c| match c {
                'm' => Ok(acc | ACCESS_MKNOD),
                'r' => Ok(acc | ACCESS_READ),
                'w' => Ok(acc | ACCESS_WRITE),
                _ => Err(err("the access is not made of r, w and m")),
            })?,
        };
        if words.next().is_some() {
            return Err(err("there is more after the access"));
        }
        Ok(DeviceRule {
            allow,
            kind,
            major,
            minor,
            access,
        })
    }

    /// `a`, or `a *:* rwm`: a rule that resets the default.
    fn is_all(&self) -> bool {
        self.kind == DeviceType::All
            && self.major.is_none()
            && self.minor.is_none()
            && self.access == ACCESS_ALL
    }
}

/// One eBPF instruction (`struct bpf_insn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// dst in the low nibble, src in the high one.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src << 4) | (dst & 0xf),
            off,
            imm,
        }
    }

    /// The 8 bytes the kernel reads, in the host's byte order.
    pub fn to_bytes(self) -> [u8; 8] {
        let mut b = [0; 8];
        b[0] = self.code;
        b[1] = self.regs;
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        b
    }
}

/// The opcodes the program uses.
pub mod op {
    /// `dst = *(u32 *)(src + off)`.
    pub const LDX_W: u8 = 0x61;
    /// `dst &= imm` (32 bits).
    pub const AND32_K: u8 = 0x54;
    /// `dst >>= imm` (32 bits).
    pub const RSH32_K: u8 = 0x74;
    /// `dst = src` (32 bits).
    pub const MOV32_X: u8 = 0xbc;
    /// `dst = imm` (32 bits).
    pub const MOV32_K: u8 = 0xb4;
    /// `if dst != imm goto +off`.
    pub const JNE_K: u8 = 0x55;
    /// `if dst != src goto +off`.
    pub const JNE_X: u8 = 0x5d;
    pub const EXIT: u8 = 0x95;
}

/// The program that answers, for a device access, what the rules (as
/// cgroup v1 applies them, in order, the last matching one winning)
/// say: 1 allows, 0 refuses. Registers: r2 the type, r3 the access, r4
/// the major, r5 the minor; rules are tested from the last to the first.
pub fn device_program(rules: &[DeviceRule]) -> Vec<Insn> {
    // v1 starts from its parent's rules; a container's starts from
    // "allow all" unless a rule resets it.
    let mut default_allow = true;
    let mut kept: Vec<&DeviceRule> = Vec::new();
    for r in rules {
        if r.is_all() {
            default_allow = r.allow;
            kept.clear();
        } else {
            kept.push(r);
        }
    }
    let mut prog = vec![
        Insn::new(op::LDX_W, 2, 1, 0, 0),
        Insn::new(op::AND32_K, 2, 0, 0, 0xffff),
        Insn::new(op::LDX_W, 3, 1, 0, 0),
        Insn::new(op::RSH32_K, 3, 0, 0, 16),
        Insn::new(op::LDX_W, 4, 1, 4, 0),
        Insn::new(op::LDX_W, 5, 1, 8, 0),
    ];
    for r in kept.iter().rev() {
        prog.extend(rule_block(r));
    }
    prog.push(Insn::new(op::MOV32_K, 0, 0, 0, default_allow as i32));
    prog.push(Insn::new(op::EXIT, 0, 0, 0, 0));
    prog
}

/// The test of one rule: jumps past itself when the access does not
/// match, returns the rule's answer when it does.
fn rule_block(r: &DeviceRule) -> Vec<Insn> {
    let mut tests = Vec::new();
    match r.kind {
        DeviceType::Char => tests.push((op::JNE_K, 2, DEV_CHAR as i32)),
        DeviceType::Block => tests.push((op::JNE_K, 2, DEV_BLOCK as i32)),
        DeviceType::All => {}
    }
    let mut block = Vec::new();
    let partial_access = r.access & ACCESS_ALL != ACCESS_ALL;
    if let Some(major) = r.major {
        tests.push((op::JNE_K, 4, major as i32));
    }
    if let Some(minor) = r.minor {
        tests.push((op::JNE_K, 5, minor as i32));
    }
    // Each test is one instruction but the access test, which is three;
    // the answer is two.
    let len = tests.len() + if partial_access { 3 } else { 0 } + 2;
    for (i, (code, reg, imm)) in tests.iter().enumerate() {
        let off = (len - i - 1) as i16;
        block.push(Insn::new(*code, *reg, 0, off, *imm));
    }
    if partial_access {
        // Every access bit asked must be in the rule: (r3 & access) == r3.
        block.push(Insn::new(op::MOV32_X, 1, 3, 0, 0));
        block.push(Insn::new(op::AND32_K, 1, 0, 0, r.access as i32));
        let off = (len - block.len() - 1) as i16;
        block.push(Insn::new(op::JNE_X, 1, 3, off, 0));
    }
    block.push(Insn::new(op::MOV32_K, 0, 0, 0, r.allow as i32));
    block.push(Insn::new(op::EXIT, 0, 0, 0, 0));
    block
}

#[cfg(test)]
mod tests;
