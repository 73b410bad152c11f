//! The pax records of each member, read binary-safe.
//!
//! The tar crate splits pax records at newlines, which breaks binary
//! values (a file capability or an ACL holding byte 0x0a). This reader
//! sits under the tar reader, follows the stream's structure (headers,
//! GNU sparse extension blocks, data, padding; tar reads exactly that,
//! in order) and keeps the raw data of each pax header, handed to the
//! member it describes.

use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;

const BLOCK: usize = 512;
/// The largest pax data kept (a member's xattrs).
const MAX_PAX: u64 = 16 << 20;

#[derive(Debug)]
enum Step {
    Header,
    SparseExt,
    Data { left: u64, pad: u64, capture: bool },
    Pad { left: u64 },
}

/// What the tap has seen.
#[derive(Debug)]
pub struct TapState {
    step: Step,
    block: Vec<u8>,
    pax: Vec<u8>,
    pending: Option<Vec<u8>>,
    ext_size: u64,
    /// The pax data of the last member header read.
    pub current: Option<Vec<u8>>,
}

/// The reader.
#[derive(Debug)]
pub struct PaxTap<R> {
    inner: R,
    state: Rc<RefCell<TapState>>,
}

impl<R: Read> PaxTap<R> {
    pub fn new(inner: R) -> (Self, Rc<RefCell<TapState>>) {
        let state = Rc::new(RefCell::new(TapState {
            step: Step::Header,
            block: Vec::with_capacity(BLOCK),
            pax: Vec::new(),
            pending: None,
            ext_size: 0,
            current: None,
        }));
        (
            PaxTap {
                inner,
                state: state.clone(),
            },
            state,
        )
    }
}

impl<R: Read> Read for PaxTap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.state.borrow_mut().feed(&buf[..n]);
        Ok(n)
    }
}

/// A tar numeric field: octal, or GNU base-256.
fn number(field: &[u8]) -> u64 {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        return field[1..]
            .iter()
            .fold(u64::from(field[0] & 0x7f), |n, b| (n << 8) | u64::from(*b));
    }
    let text: String = field
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| *b as char)
        .collect();
    u64::from_str_radix(text.trim(), 8).unwrap_or(0)
}

fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

impl TapState {
    fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match self.step {
                Step::Header | Step::SparseExt => {
                    let take = (BLOCK - self.block.len()).min(data.len());
                    self.block.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if self.block.len() == BLOCK {
                        let block = std::mem::take(&mut self.block);
                        self.block_done(&block);
                    }
                }
                Step::Data { left, pad, capture } => {
                    let take = (left.min(data.len() as u64)) as usize;
                    if capture {
                        self.pax.extend_from_slice(&data[..take]);
                    }
                    data = &data[take..];
                    let left = left - take as u64;
                    self.step = Step::Data { left, pad, capture };
                    if left == 0 {
                        if capture {
                            self.pending = Some(std::mem::take(&mut self.pax));
                        }
                        self.step = Step::Pad { left: pad };
                        self.pad_done();
                    }
                }
                Step::Pad { left } => {
                    let take = (left.min(data.len() as u64)) as usize;
                    data = &data[take..];
                    self.step = Step::Pad {
                        left: left - take as u64,
                    };
                    self.pad_done();
                }
            }
        }
    }

    fn pad_done(&mut self) {
        if matches!(self.step, Step::Pad { left: 0 }) {
            self.step = Step::Header;
        }
    }

    /// A full block where a header or sparse extension was due.
    fn block_done(&mut self, block: &[u8]) {
        if matches!(self.step, Step::SparseExt) {
            if block[504] == 0 {
                self.begin_data(self.ext_size, false);
            }
            return;
        }
        if block.iter().all(|b| *b == 0) {
            return;
        }
        let kind = block[156];
        let mut size = number(&block[124..136]);
        if !matches!(kind, b'x' | b'g' | b'L' | b'K') {
            self.current = self.pending.take();
            let pax_size = self.current.as_deref().and_then(|p| {
                records(p)
                    .into_iter()
                    .find(|(k, _)| *k == b"size")
                    .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse().ok())
            });
            size = pax_size.unwrap_or(size);
        }
        if kind == b'S' && block[482] != 0 {
            self.ext_size = size;
            self.step = Step::SparseExt;
            return;
        }
        self.begin_data(size, kind == b'x' && size <= MAX_PAX);
    }

    fn begin_data(&mut self, size: u64, capture: bool) {
        if size == 0 {
            if capture {
                self.pending = Some(Vec::new());
            }
            self.step = Step::Header;
            return;
        }
        self.step = Step::Data {
            left: size,
            pad: padding(size),
            capture,
        };
    }
}

/// The `KEY=VALUE` records of pax data, by their lengths (values may hold
/// any byte). A malformed record ends the list.
pub fn records(data: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let rest = &data[at..];
        let Some(space) = rest.iter().position(|b| *b == b' ') else {
            break;
        };
        let Some(len) = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|l| l.parse::<usize>().ok())
            .filter(|l| *l > space + 1 && *l <= rest.len())
        else {
            break;
        };
        let body = &rest[space + 1..len];
        let body = body.strip_suffix(b"\n").unwrap_or(body);
        if let Some(eq) = body.iter().position(|b| *b == b'=') {
            out.push((&body[..eq], &body[eq + 1..]));
        }
        at += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_binary_values() {
        let mut data = b"29 SCHILY.xattr.user.a=x\ny\0z\n".to_vec();
        data.extend_from_slice(b"12 path=abc\n");
        assert_eq!(
            records(&data),
            vec![
                (&b"SCHILY.xattr.user.a"[..], &b"x\ny\0z"[..]),
                (&b"path"[..], &b"abc"[..])
            ]
        );
    }

    #[test]
    fn base_256_and_octal_sizes() {
        assert_eq!(number(b"00000001000\0"), 512);
        let mut f = [0u8; 12];
        f[0] = 0x80;
        f[11] = 5;
        assert_eq!(number(&f), 5);
    }
}
