//! Bounded reading of the files postie is pointed at (msmtprc, aliases, netrc, mailname, TLS
//! files). A path can name something endless (`-C /dev/zero`, `aliases /dev/urandom`) and
//! reading such a thing whole would eat memory until the kernel kills postie, so every read
//! stops one byte past a limit no real file reaches. Pipes (`-C <(cmd)`) and `/dev/null` read
//! like regular files. Opening a FIFO still waits for a writer, as msmtp's `fopen` does.
//!
//! A leaf module: it depends on nothing else in postie, so every layer can use it.

use std::fmt;
use std::io::{self, Read};
use std::path::Path;

/// 1 MiB, the limit for the small text files (msmtprc, aliases, netrc, mailname).
pub const MIB: usize = 1 << 20;

/// The start of a file, at most the limit, and whether more followed.
#[derive(Debug)]
pub struct Capped {
    /// At most `limit` bytes.
    pub data: Vec<u8>,
    /// The source had more than `limit` bytes.
    pub over: bool,
}

impl Capped {
    /// The lines a line-by-line reader has seen whole: all the data if the source ended,
    /// else up to and including the last newline (all of it if there is none, as such a
    /// line is longer than any line limit).
    pub fn whole_lines(&self) -> &[u8] {
        if !self.over {
            return &self.data;
        }
        match self.data.iter().rposition(|&b| b == b'\n') {
            Some(i) => &self.data[..=i],
            None => &self.data,
        }
    }
}

/// Read at most `limit` bytes from `r`, and one more to tell whether the source is larger.
pub fn read_capped(r: impl Read, limit: usize) -> io::Result<Capped> {
    let mut data = Vec::new();
    r.take(limit as u64 + 1).read_to_end(&mut data)?;
    let over = data.len() > limit;
    data.truncate(limit);
    Ok(Capped { data, over })
}

/// Why [`read`] failed.
#[derive(Debug)]
pub enum ReadError {
    /// Opening or reading failed.
    Io(io::Error),
    /// The file is larger than the limit.
    TooLarge(TooLarge),
}

/// A file over its size limit; displays as `file is too large (over N bytes)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLarge {
    pub limit: usize,
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "file is too large (over {} bytes)", self.limit)
    }
}

/// The whole file at `path`, refused if it is larger than `limit` bytes.
pub fn read(path: &Path, limit: usize) -> Result<Vec<u8>, ReadError> {
    let f = std::fs::File::open(path).map_err(ReadError::Io)?;
    let c = read_capped(f, limit).map_err(ReadError::Io)?;
    if c.over {
        return Err(ReadError::TooLarge(TooLarge { limit }));
    }
    Ok(c.data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endless_sources_stop_one_byte_past_the_limit() {
        let c = read_capped(io::repeat(0), 10).expect("read");
        assert_eq!(c.data.len(), 10);
        assert!(c.over);
        let e = read(Path::new("/dev/zero"), 1000).expect_err("too large");
        assert!(
            matches!(e, ReadError::TooLarge(t) if t.to_string() == "file is too large (over 1000 bytes)")
        );
    }

    #[test]
    fn exactly_the_limit_is_fine() {
        let c = read_capped(&b"0123456789"[..], 10).expect("read");
        assert_eq!(c.data, b"0123456789");
        assert!(!c.over);
        assert_eq!(read(Path::new("/dev/null"), 0).expect("empty"), b"");
    }

    #[test]
    fn whole_lines_drop_the_cut_line() {
        let c = read_capped(&b"a\nbc\ndef"[..], 7).expect("read");
        assert!(c.over);
        assert_eq!(c.whole_lines(), b"a\nbc\n");
        let c = read_capped(&b"abcdef"[..], 3).expect("read");
        assert_eq!(c.whole_lines(), b"abc");
        let c = read_capped(&b"a\nbc"[..], 4).expect("read");
        assert_eq!(c.whole_lines(), b"a\nbc");
    }

    #[test]
    fn directories_and_missing_files_are_io_errors() {
        assert!(matches!(read(Path::new("/"), MIB), Err(ReadError::Io(_))));
        assert!(matches!(
            read(Path::new("/nonexistent/postie"), MIB),
            Err(ReadError::Io(_))
        ));
    }
}
