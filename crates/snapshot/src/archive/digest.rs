//! The SHA-256 of a tar stream up to its checksum member, on the writing
//! side and on the reading side.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::rc::Rc;

use sha2::{Digest, Sha256};

/// Hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A writer that hashes what goes through it.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// The digest of everything written so far.
    pub fn digest(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }

    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The shared state of a [`LaggingHashReader`]: everything read but the
/// last 512 bytes is hashed; those are held back.
#[derive(Debug, Default)]
pub struct LagState {
    hasher: Sha256,
    held: Vec<u8>,
    /// Bytes read in all.
    pub read: u64,
}

impl LagState {
    /// The digest of everything read before the last 512 bytes: read
    /// right after tar read a member's header, the digest of the stream
    /// before that header.
    pub fn digest_before_last_block(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }

    fn take(&mut self, new: &[u8]) {
        self.read += new.len() as u64;
        if new.len() >= BLOCK {
            self.hasher.update(&self.held);
            self.hasher.update(&new[..new.len() - BLOCK]);
            self.held.clear();
            self.held.extend_from_slice(&new[new.len() - BLOCK..]);
        } else {
            self.held.extend_from_slice(new);
            if self.held.len() > BLOCK {
                let excess = self.held.len() - BLOCK;
                self.hasher.update(&self.held[..excess]);
                self.held.drain(..excess);
            }
        }
    }
}

const BLOCK: usize = 512;

/// A reader that hashes what goes through it, holding back the last tar
/// block; tar reads exactly what it needs (headers, data, padding), so
/// when it hands out the checksum member, the held block is that member's
/// header.
#[derive(Debug)]
pub struct LaggingHashReader<R> {
    inner: R,
    state: Rc<RefCell<LagState>>,
}

impl<R: Read> LaggingHashReader<R> {
    pub fn new(inner: R) -> (Self, Rc<RefCell<LagState>>) {
        let state = Rc::new(RefCell::new(LagState::default()));
        (
            LaggingHashReader {
                inner,
                state: state.clone(),
            },
            state,
        )
    }
}

impl<R: Read> Read for LaggingHashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.state.borrow_mut().take(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lagging_digest_is_the_writers_before_the_last_block() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(&data[..5000 - 512]).unwrap();
        let expected = w.digest();
        let (mut r, state) = LaggingHashReader::new(&data[..]);
        // Odd read sizes, as a decoder would give.
        let mut buf = [0u8; 333];
        while r.read(&mut buf).unwrap() > 0 {}
        assert_eq!(state.borrow().digest_before_last_block(), expected);
        assert_eq!(state.borrow().read, 5000);
    }
}
