//! The client's bytes, read through one fixed buffer: command lines of bounded length and the
//! message data up to its final dot. Nothing here grows with the input: a line longer than
//! the limit is skipped to its end, and the data is handed on as it arrives.

use std::io::{self, BufRead, Read};

/// The buffer size; also the most that is read ahead.
const BUFFER: usize = 64 * 1024;

/// The client side of the dialogue.
pub struct Input<R: Read> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
}

/// One command line.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The line without its line end; `crlf`: it ended in CRLF (else in a bare LF).
    Complete { text: Vec<u8>, crlf: bool },
    /// Longer than the limit: skipped to its end.
    TooLong,
    /// The input ended (a last line without line end is dropped).
    Eof,
}

impl<R: Read> Input<R> {
    pub fn new(inner: R) -> Input<R> {
        Input {
            inner,
            buf: vec![0; BUFFER].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
        }
    }

    /// Bytes read from the client and not yet taken: when there are none, the client waits
    /// for our replies (RFC 2920: flush then).
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Reads more into the buffer, moving what is left to its start first; `Ok(0)` at EOF.
    fn fill(&mut self) -> io::Result<usize> {
        if self.eof {
            return Ok(0);
        }
        if self.start > 0 && self.end == self.buf.len() || self.start == self.end {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            return Err(io::Error::other("input buffer full"));
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(0);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads one line ending in LF, of at most `max` bytes without its line end.
    pub fn read_line(&mut self, max: usize) -> io::Result<Line> {
        let mut scanned = 0;
        let mut too_long = false;
        loop {
            let pending = &self.buf[self.start..self.end];
            if let Some(i) = pending[scanned..].iter().position(|&b| b == b'\n') {
                let i = scanned + i;
                let crlf = i > 0 && pending[i - 1] == b'\r';
                let text_len = if crlf { i - 1 } else { i };
                let line = if too_long || text_len > max {
                    Line::TooLong
                } else {
                    Line::Complete {
                        text: pending[..text_len].to_vec(),
                        crlf,
                    }
                };
                self.start += i + 1;
                return Ok(line);
            }
            if pending.len() > max + 1 {
                // Not a line we take: forget what was read of it (the last byte may be the
                // CR of a CRLF) and look for its end.
                too_long = true;
                self.start = self.end - 1;
                scanned = 1;
            } else {
                scanned = pending.len();
            }
            if self.fill()? == 0 {
                self.start = self.end;
                return Ok(Line::Eof);
            }
        }
    }

    /// Makes at least `n` bytes available if the input has them; returns how many there are.
    fn want(&mut self, n: usize) -> io::Result<usize> {
        while self.buffered() < n {
            if self.fill()? == 0 {
                break;
            }
        }
        Ok(self.buffered())
    }
}

/// The message data after a 354, as a [`BufRead`]: dot-unstuffed, with the line ends as the
/// client sent them, ending (EOF) at the line holding only a dot. That line is `.` between
/// CRLFs; for a client whose DATA command ended in a bare LF (`lf_client`), a bare LF counts
/// as a line end too. For any other client, a bare LF does not start a line: a `.` after it
/// was not stuffed by the client and is not the end (a web form's text passed through a
/// framework that stuffs only after CRLF cannot end the data early or inject commands).
///
/// If the input ends before the final dot, reading fails with `UnexpectedEof` and
/// [`DataReader::disconnected`] says so.
pub struct DataReader<'a, R: Read> {
    input: &'a mut Input<R>,
    lf_client: bool,
    /// The next byte starts a line.
    line_start: bool,
    /// The last byte handed out (to tell CRLF from a bare LF across reads).
    last: u8,
    done: bool,
    disconnected: bool,
}

impl<'a, R: Read> DataReader<'a, R> {
    pub fn new(input: &'a mut Input<R>, lf_client: bool) -> DataReader<'a, R> {
        DataReader {
            input,
            lf_client,
            line_start: true,
            last: b'\n',
            done: false,
            disconnected: false,
        }
    }

    /// The input ended before the final dot.
    pub fn disconnected(&self) -> bool {
        self.disconnected
    }

    /// Reads (and discards) the rest of the data, up to the final dot. `false`: the input
    /// ended first.
    pub fn drain(&mut self) -> bool {
        loop {
            match self.fill_buf() {
                Ok([]) => return true,
                Ok(b) => {
                    let n = b.len();
                    self.consume(n);
                }
                Err(_) => return false,
            }
        }
    }

    fn eof_error(&mut self) -> io::Error {
        self.disconnected = true;
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the client closed the connection in the middle of the mail data",
        )
    }
}

impl<R: Read> Read for DataReader<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for DataReader<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.done {
            return Ok(&[]);
        }
        if self.disconnected {
            return Err(self.eof_error());
        }
        if self.input.want(1)? == 0 {
            return Err(self.eof_error());
        }
        if self.line_start && self.input.buf[self.input.start] == b'.' {
            // Never wait for more than the line needs: the client sends nothing after the
            // final dot until it has the reply.
            let mut have = self.input.want(2)?;
            if have >= 2 && self.input.buf[self.input.start + 1] == b'\r' {
                have = self.input.want(3)?;
            }
            let b = &self.input.buf[self.input.start..self.input.end];
            let end_len = match b.get(1..have.min(3)) {
                Some([b'\r', b'\n', ..]) => Some(3),
                Some([b'\n', ..]) if self.lf_client => Some(2),
                _ => None,
            };
            if let Some(n) = end_len {
                self.input.start += n;
                self.done = true;
                return Ok(&[]);
            }
            if have == 1 {
                // A dot and then the end of the input.
                return Err(self.eof_error());
            }
            // A stuffed dot: dropped.
            self.input.start += 1;
            self.line_start = false;
            self.last = b'.';
            if self.input.want(1)? == 0 {
                return Err(self.eof_error());
            }
        }
        let b = &self.input.buf[self.input.start..self.input.end];
        // Up to the first LF: what follows it may be the final dot.
        let n = b
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |i| i + 1);
        Ok(&b[..n])
    }

    fn consume(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let taken = &self.input.buf[self.input.start..self.input.start + n];
        self.line_start = false;
        if taken[n - 1] == b'\n' {
            let before = if n >= 2 { taken[n - 2] } else { self.last };
            self.line_start = self.lf_client || before == b'\r';
        }
        self.last = taken[n - 1];
        self.input.start += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that yields its bytes in chunks of `step`.
    struct Trickle(Vec<u8>, usize, usize);

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(out.len()).min(self.0.len() - self.2);
            out[..n].copy_from_slice(&self.0[self.2..self.2 + n]);
            self.2 += n;
            Ok(n)
        }
    }

    fn lines(input: &[u8], max: usize, step: usize) -> Vec<Line> {
        let mut i = Input::new(Trickle(input.to_vec(), step, 0));
        let mut v = Vec::new();
        loop {
            let l = i.read_line(max).expect("read");
            let eof = l == Line::Eof;
            v.push(l);
            if eof {
                return v;
            }
        }
    }

    fn complete(t: &str, crlf: bool) -> Line {
        Line::Complete {
            text: t.as_bytes().to_vec(),
            crlf,
        }
    }

    #[test]
    fn lines_end_in_crlf_or_lf_and_long_ones_are_skipped() {
        for step in [1, 2, 7, 4096] {
            let long = format!("{}\r\nNOOP\n", "x".repeat(300_000));
            let mut input = b"EHLO a\r\nQUIT\n".to_vec();
            input.extend_from_slice(long.as_bytes());
            input.extend_from_slice(b"12345\r\n123456\r\ntail");
            assert_eq!(
                lines(&input, 5, step),
                vec![
                    Line::TooLong,
                    complete("QUIT", false),
                    Line::TooLong,
                    complete("NOOP", false),
                    complete("12345", true),
                    Line::TooLong,
                    Line::Eof
                ],
                "step {step}"
            );
        }
    }

    fn data(input: &[u8], lf_client: bool, step: usize) -> (Vec<u8>, bool, Vec<u8>) {
        let mut i = Input::new(Trickle(input.to_vec(), step, 0));
        let mut out = Vec::new();
        let mut r = DataReader::new(&mut i, lf_client);
        let ok = r.read_to_end(&mut out).is_ok();
        assert_eq!(ok, !r.disconnected());
        let mut rest = Vec::new();
        if ok {
            let _ = i.read_line(100).map(|l| {
                if let Line::Complete { text, .. } = l {
                    rest = text;
                }
            });
        }
        (out, ok, rest)
    }

    #[test]
    fn data_ends_at_the_dot_line_and_is_unstuffed() {
        for step in [1, 2, 3, 64 * 1024] {
            let (d, ok, rest) = data(b"a\r\n..b\r\n.c\r\n\r\n.\r\nQUIT\r\n", false, step);
            assert!(ok);
            assert_eq!(d, b"a\r\n.b\r\nc\r\n\r\n");
            assert_eq!(rest, b"QUIT");
            // Empty message.
            assert_eq!(data(b".\r\nQUIT\r\n", false, step).0, b"");
        }
    }

    #[test]
    fn bare_lf_is_a_line_end_only_for_lf_clients() {
        for step in [1, 2, 5, 1000] {
            // A CRLF client: `\n.\n` is content, and its dot was not stuffed.
            let (d, ok, _) = data(b"x\n.\nMAIL FROM:<e@v>\r\n.\r\n", false, step);
            assert!(ok);
            assert_eq!(d, b"x\n.\nMAIL FROM:<e@v>\r\n");
            let (d, _, _) = data(b"x\n.y\r\n.\r\n", false, step);
            assert_eq!(d, b"x\n.y\r\n");
            // An LF client.
            let (d, ok, rest) = data(b"x\n..y\n.\nQUIT\n", true, step);
            assert!(ok);
            assert_eq!(d, b"x\n.y\n");
            assert_eq!(rest, b"QUIT");
            assert_eq!(data(b"x\n.\r\n", true, step).0, b"x\n");
        }
    }

    /// A client that waits for the reply after its final dot: reading past it would block.
    struct Waiting(Vec<u8>, bool);

    impl Read for Waiting {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            assert!(
                !self.1,
                "read past the final dot: the client waits for a reply"
            );
            self.1 = true;
            let n = self.0.len().min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            Ok(n)
        }
    }

    #[test]
    fn the_final_dot_is_seen_without_reading_beyond_it() {
        for (input, lf_client) in [
            (&b"x\n.\n"[..], true),
            (b"x\r\n.\r\n", false),
            (b".\n", true),
            (b"x\n.\r\n", true),
        ] {
            let mut i = Input::new(Waiting(input.to_vec(), false));
            let mut r = DataReader::new(&mut i, lf_client);
            assert!(r.drain(), "{input:?}");
        }
    }

    #[test]
    fn bare_cr_never_ends_a_line() {
        let (d, ok, _) = data(b"x\r.\r\ny\r\n.\r\n", false, 1);
        assert!(ok);
        assert_eq!(d, b"x\r.\r\ny\r\n");
        let (d, _, _) = data(b".\rz\r\n.\r\n", false, 1);
        assert_eq!(d, b"\rz\r\n");
    }

    #[test]
    fn input_ending_before_the_dot_is_a_disconnect() {
        for input in [
            &b""[..],
            b"abc",
            b"abc\r\n",
            b"abc\r\n.",
            b"abc\r\n.\r",
            b"abc\n.\n",
        ] {
            for step in [1, 4096] {
                let (_, ok, _) = data(input, false, step);
                assert!(!ok, "{input:?}");
            }
        }
    }

    #[test]
    fn a_long_data_line_streams_through_the_fixed_buffer() {
        let mut input = vec![b'y'; 3 * BUFFER + 17];
        input.extend_from_slice(b"\r\n.\r\n");
        let (d, ok, _) = data(&input, false, 1 << 20);
        assert!(ok);
        assert_eq!(d.len(), 3 * BUFFER + 19);
    }
}
