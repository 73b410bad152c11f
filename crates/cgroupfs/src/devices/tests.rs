use super::*;

/// Runs the program as the kernel would for one access, with the few
/// opcodes it uses; panics on anything else (a test failure).
fn run(prog: &[Insn], kind: u32, access: u32, major: u32, minor: u32) -> u32 {
    let ctx = [(access << 16) | kind, major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    for _ in 0..4096 {
        let i = prog[pc];
        let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
        pc += 1;
        match i.code {
            op::LDX_W => {
                assert_eq!(src, 1, "loads come from the context");
                r[dst] = ctx[i.off as usize / 4] as u64;
            }
            op::AND32_K => r[dst] = (r[dst] as u32 & i.imm as u32) as u64,
            op::RSH32_K => r[dst] = (r[dst] as u32 >> i.imm) as u64,
            op::MOV32_X => r[dst] = r[src] as u32 as u64,
            op::MOV32_K => r[dst] = i.imm as u32 as u64,
            op::JNE_K if r[dst] != i.imm as u32 as u64 => pc += i.off as usize,
            op::JNE_X if r[dst] != r[src] => pc += i.off as usize,
            op::JNE_K | op::JNE_X => {}
            op::EXIT => return r[0] as u32,
            other => panic!("unexpected opcode {other:#x}"),
        }
    }
    panic!("the program does not end");
}

fn rules(lines: &[(bool, &str)]) -> Vec<DeviceRule> {
    lines
        .iter()
        .map(|(allow, t)| DeviceRule::parse(*allow, t).unwrap())
        .collect()
}

/// LXC's default list (common.conf).
fn lxc_defaults() -> Vec<DeviceRule> {
    rules(&[
        (false, "a"),
        (true, "c *:* m"),
        (true, "b *:* m"),
        (true, "c 1:3 rwm"),
        (true, "c 1:9 rwm"),
        (true, "c 136:* rwm"),
        (true, "c 10:229 rwm"),
    ])
}

const RW: u32 = ACCESS_READ | ACCESS_WRITE;

#[test]
fn lxc_defaults_allow_null_and_mknod_but_no_disk() {
    let p = device_program(&lxc_defaults());
    assert_eq!(run(&p, DEV_CHAR, RW, 1, 3), 1, "/dev/null");
    assert_eq!(run(&p, DEV_CHAR, ACCESS_READ, 1, 9), 1, "/dev/urandom");
    assert_eq!(run(&p, DEV_CHAR, RW, 136, 4), 1, "/dev/pts/4");
    assert_eq!(run(&p, DEV_BLOCK, ACCESS_MKNOD, 8, 0), 1, "mknod of a disk");
    assert_eq!(run(&p, DEV_BLOCK, ACCESS_READ, 8, 0), 0, "reading a disk");
    assert_eq!(run(&p, DEV_BLOCK, RW, 254, 0), 0, "writing a disk");
    assert_eq!(run(&p, DEV_CHAR, ACCESS_READ, 1, 1), 0, "/dev/mem");
    assert_eq!(run(&p, DEV_CHAR, ACCESS_READ, 10, 237), 0, "loop-control");
}

#[test]
fn the_last_matching_rule_wins() {
    let p = device_program(&rules(&[
        (true, "a"),
        (false, "b 8:* rwm"),
        (true, "b 8:1 r"),
    ]));
    assert_eq!(run(&p, DEV_BLOCK, ACCESS_READ, 8, 1), 1);
    assert_eq!(
        run(&p, DEV_BLOCK, RW, 8, 1),
        0,
        "write not in the last rule"
    );
    assert_eq!(run(&p, DEV_BLOCK, ACCESS_READ, 8, 0), 0);
    assert_eq!(run(&p, DEV_CHAR, RW, 1, 3), 1, "allowed by default");
}

#[test]
fn a_reset_rule_drops_the_earlier_ones() {
    let p = device_program(&rules(&[(true, "c 1:3 rwm"), (false, "a")]));
    assert_eq!(run(&p, DEV_CHAR, RW, 1, 3), 0);
    assert_eq!(p.len(), 8, "prologue and the default answer only");
}

#[test]
fn no_rule_allows_all() {
    let p = device_program(&[]);
    assert_eq!(run(&p, DEV_BLOCK, RW, 8, 0), 1);
}

#[test]
fn instructions_have_the_kernels_layout() {
    let i = Insn::new(op::JNE_K, 4, 0, 3, 136);
    let b = i.to_bytes();
    assert_eq!(b[0], 0x55);
    assert_eq!(b[1], 0x04);
    assert_eq!(i16::from_ne_bytes([b[2], b[3]]), 3);
    assert_eq!(i32::from_ne_bytes([b[4], b[5], b[6], b[7]]), 136);
}

#[test]
fn rules_parse_as_v1_writes_them() {
    let r = DeviceRule::parse(true, "c 136:* rw").unwrap();
    assert_eq!(
        r,
        DeviceRule {
            allow: true,
            kind: DeviceType::Char,
            major: Some(136),
            minor: None,
            access: RW,
        }
    );
    assert!(DeviceRule::parse(false, "a").unwrap().is_all());
    for bad in [
        "",
        "x 1:3 rwm",
        "c 1 rwm",
        "c 1:x rwm",
        "c 1:3 rwz",
        "c",
        "c 1:3 r w",
    ] {
        let e = DeviceRule::parse(true, bad).unwrap_err();
        assert!(e.to_string().contains(&format!("'{bad}'")), "{e}");
    }
}
