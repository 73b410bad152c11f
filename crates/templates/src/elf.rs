//! Just enough ELF to tell a static executable from a dynamic one: a
//! dynamically linked program names its loader in a `PT_INTERP` program
//! header; a static one (static-pie included) has none.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// What [`inspect`] found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElfKind {
    /// Not an ELF executable (a script, a truncated file, an object file...).
    NotElf(&'static str),
    /// An ELF executable without a program interpreter: runs on its own.
    Static,
    /// An ELF executable loaded by `interpreter` (`/lib64/ld-linux-x86-64.so.2`).
    Dynamic { interpreter: String },
}

const PT_INTERP: u32 = 3;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
/// More program headers than any real executable has; bounds the read.
const MAX_PHNUM: usize = 4096;
/// `PATH_MAX`: an interpreter name longer than this is corrupt.
const MAX_INTERP: u64 = 4096;

/// Reads the ELF header and program headers of `path`.
pub fn inspect(path: &Path) -> io::Result<ElfKind> {
    let file = File::open(path)?;
    inspect_file(&file)
}

fn inspect_file(file: &File) -> io::Result<ElfKind> {
    let mut ident = [0u8; 64];
    let n = read_at_most(file, &mut ident, 0)?;
    if n < 16 || ident[..4] != *b"\x7fELF" {
        return Ok(ElfKind::NotElf("no ELF magic"));
    }
    let wide = match ident[4] {
        1 => false,
        2 => true,
        _ => return Ok(ElfKind::NotElf("unknown ELF class")),
    };
    let rd = Reader {
        big: match ident[5] {
            1 => false,
            2 => true,
            _ => return Ok(ElfKind::NotElf("unknown ELF byte order")),
        },
    };
    let header_len = if wide { 64 } else { 52 };
    if n < header_len {
        return Ok(ElfKind::NotElf("truncated ELF header"));
    }
    let h = &ident[..header_len];
    if !matches!(rd.u16(h, 16), ET_EXEC | ET_DYN) {
        return Ok(ElfKind::NotElf("not an executable ELF type"));
    }
    let (phoff, phentsize, phnum) = if wide {
        (rd.u64(h, 0x20), rd.u16(h, 0x36), rd.u16(h, 0x38))
    } else {
        (u64::from(rd.u32(h, 0x1c)), rd.u16(h, 0x2a), rd.u16(h, 0x2c))
    };
    let (phentsize, phnum) = (usize::from(phentsize), usize::from(phnum).min(MAX_PHNUM));
    let min_entry = if wide { 56 } else { 32 };
    if phnum == 0 {
        return Ok(ElfKind::NotElf("no program headers"));
    }
    if phentsize < min_entry {
        return Ok(ElfKind::NotElf("bad program header size"));
    }
    let mut table = vec![0u8; phentsize * phnum];
    if read_at_most(file, &mut table, phoff)? < table.len() {
        return Ok(ElfKind::NotElf("truncated program headers"));
    }
    for ph in table.chunks_exact(phentsize) {
        if rd.u32(ph, 0) != PT_INTERP {
            continue;
        }
        let (offset, size) = if wide {
            (rd.u64(ph, 0x08), rd.u64(ph, 0x20))
        } else {
            (u64::from(rd.u32(ph, 0x04)), u64::from(rd.u32(ph, 0x10)))
        };
        let mut name = vec![0u8; size.min(MAX_INTERP) as usize];
        let got = read_at_most(file, &mut name, offset)?;
        name.truncate(got);
        if let Some(nul) = name.iter().position(|&b| b == 0) {
            name.truncate(nul);
        }
        return Ok(ElfKind::Dynamic {
            interpreter: String::from_utf8_lossy(&name).into_owned(),
        });
    }
    Ok(ElfKind::Static)
}

/// Fills as much of `buf` as the file holds from `offset`; returns the count.
fn read_at_most(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Reads fixed-size integers in the file's byte order. Callers check the
/// slice lengths first.
struct Reader {
    big: bool,
}

impl Reader {
    fn bytes<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&b[at..at + N]);
        out
    }

    fn u16(&self, b: &[u8], at: usize) -> u16 {
        let v = Self::bytes::<2>(b, at);
        if self.big {
            u16::from_be_bytes(v)
        } else {
            u16::from_le_bytes(v)
        }
    }

    fn u32(&self, b: &[u8], at: usize) -> u32 {
        let v = Self::bytes::<4>(b, at);
        if self.big {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        }
    }

    fn u64(&self, b: &[u8], at: usize) -> u64 {
        let v = Self::bytes::<8>(b, at);
        if self.big {
            u64::from_be_bytes(v)
        } else {
            u64::from_le_bytes(v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::io::Write;

    /// A minimal ELF image: header, one program header (PT_LOAD or
    /// PT_INTERP), then the interpreter name.
    fn image(wide: bool, big: bool, e_type: u16, interp: Option<&str>) -> Vec<u8> {
        let put16 = |v: u16| {
            if big {
                v.to_be_bytes().to_vec()
            } else {
                v.to_le_bytes().to_vec()
            }
        };
        let put32 = |v: u32| {
            if big {
                v.to_be_bytes().to_vec()
            } else {
                v.to_le_bytes().to_vec()
            }
        };
        let put64 = |v: u64| {
            if big {
                v.to_be_bytes().to_vec()
            } else {
                v.to_le_bytes().to_vec()
            }
        };
        let (ehsize, phentsize) = if wide { (64usize, 56usize) } else { (52, 32) };
        let name_at = (ehsize + phentsize) as u64;
        let name = interp.map(|s| format!("{s}\0")).unwrap_or_default();
        let p_type = if interp.is_some() { PT_INTERP } else { 1 };

        let mut h = vec![
            0x7f,
            b'E',
            b'L',
            b'F',
            if wide { 2 } else { 1 },
            if big { 2 } else { 1 },
            1,
        ];
        h.resize(16, 0);
        h.extend(put16(e_type));
        h.extend(put16(62)); // e_machine
        h.extend(put32(1)); // e_version
        if wide {
            h.extend(put64(0)); // e_entry
            h.extend(put64(ehsize as u64)); // e_phoff
            h.extend(put64(0)); // e_shoff
        } else {
            h.extend(put32(0));
            h.extend(put32(ehsize as u32));
            h.extend(put32(0));
        }
        h.extend(put32(0)); // e_flags
        h.extend(put16(ehsize as u16));
        h.extend(put16(phentsize as u16));
        h.extend(put16(1)); // e_phnum
        h.extend(put16(0));
        h.extend(put16(0));
        h.extend(put16(0));
        assert_eq!(h.len(), ehsize);

        let mut ph = put32(p_type);
        if wide {
            ph.extend(put32(4)); // p_flags
            ph.extend(put64(name_at)); // p_offset
            ph.extend(put64(0)); // p_vaddr
            ph.extend(put64(0)); // p_paddr
            ph.extend(put64(name.len() as u64)); // p_filesz
            ph.extend(put64(name.len() as u64)); // p_memsz
            ph.extend(put64(1)); // p_align
        } else {
            ph.extend(put32(name_at as u32));
            ph.extend(put32(0));
            ph.extend(put32(0));
            ph.extend(put32(name.len() as u32));
            ph.extend(put32(name.len() as u32));
            ph.extend(put32(4));
            ph.extend(put32(1));
        }
        assert_eq!(ph.len(), phentsize);
        h.extend(ph);
        h.extend(name.as_bytes());
        h
    }

    fn kind_of(bytes: &[u8]) -> ElfKind {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        inspect_file(&f).unwrap()
    }

    fn dynamic(interp: &str) -> ElfKind {
        ElfKind::Dynamic {
            interpreter: interp.to_string(),
        }
    }

    #[rstest]
    #[case::elf64_le_static(image(true, false, ET_EXEC, None), ElfKind::Static)]
    #[case::elf64_le_static_pie(image(true, false, ET_DYN, None), ElfKind::Static)]
    #[case::elf64_le_dynamic(
        image(true, false, ET_DYN, Some("/lib64/ld-linux-x86-64.so.2")),
        dynamic("/lib64/ld-linux-x86-64.so.2")
    )]
    #[case::elf32_be_dynamic(
        image(false, true, ET_EXEC, Some("/lib/ld.so.1")),
        dynamic("/lib/ld.so.1")
    )]
    #[case::elf32_le_static(image(false, false, ET_EXEC, None), ElfKind::Static)]
    #[case::elf64_be_static(image(true, true, ET_EXEC, None), ElfKind::Static)]
    #[case::relocatable(
        image(true, false, 1, None),
        ElfKind::NotElf("not an executable ELF type")
    )]
    #[case::script(b"#!/bin/sh\necho hi\n".to_vec(), ElfKind::NotElf("no ELF magic"))]
    #[case::empty(Vec::new(), ElfKind::NotElf("no ELF magic"))]
    #[case::truncated_header(image(true, false, ET_EXEC, None)[..40].to_vec(), ElfKind::NotElf("truncated ELF header"))]
    #[case::truncated_phdrs(image(true, false, ET_EXEC, None)[..80].to_vec(), ElfKind::NotElf("truncated program headers"))]
    fn classifies(#[case] bytes: Vec<u8>, #[case] expected: ElfKind) {
        assert_eq!(kind_of(&bytes), expected);
    }

    #[test]
    fn host_binaries() {
        // /bin/true is dynamically linked on every glibc distribution.
        match inspect(Path::new("/bin/true")).unwrap() {
            ElfKind::Dynamic { interpreter } => {
                assert!(interpreter.contains("ld"), "{interpreter}")
            }
            other => panic!("/bin/true: {other:?}"),
        }
        assert_eq!(
            inspect(Path::new("/etc/passwd")).unwrap(),
            ElfKind::NotElf("no ELF magic")
        );
    }
}
