//! The DATA payload writer (msmtp.md 5.3, 5.4): prepended headers, the filtered header block,
//! then the body streamed from stdin, each line CRLF-terminated and dot-stuffed.
//!
//! msmtp sends three separate streams (prepended headers, header block, body), each of which
//! gets its own "final line without newline gets CRLF" treatment; this module does the same.
//! The body is never held in memory: it is processed chunk by chunk as the reader yields it,
//! with only a pending CR (that may turn out to be half of a CRLF) carried across chunks.
//! Unlike msmtp, a bare CR that happens to fall on msmtp's internal 1023-byte chunk boundary is
//! kept (msmtp drops it, assuming it precedes an LF).

use super::headers::HeaderBlock;
use std::io::{self, BufRead, Write};

/// What to do to the header block when transmitting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rewrite {
    /// Full value of a `From: VALUE` header to prepend. When `Some`, all original `From:`
    /// headers (with continuation lines) are removed.
    pub from_line: Option<String>,
    /// Prepend `To: undisclosed-recipients:;` and drop the original To/Cc/Bcc headers.
    pub undisclosed_recipients: bool,
    /// Value of a `Date:` header to prepend.
    pub date: Option<String>,
    /// Value of a `Message-ID:` header to prepend (including the angle brackets).
    pub message_id: Option<String>,
    /// Drop `Bcc:` headers with their continuation lines (never `Resent-Bcc:`).
    pub remove_bcc: bool,
}

/// A failure while streaming the message.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Reading the body failed (msmtp: `input error while reading the mail`, exit 74).
    #[error("input error while reading the mail")]
    Read(#[source] io::Error),
    /// Writing to the server failed.
    #[error("{0}")]
    Write(io::Error),
}

/// Stream the DATA payload, without the final `.\r\n`. Returns msmtp's `mailsize`: the sum
/// over transmitted lines of their length without line ending plus one (stuffing dots not
/// counted, removed headers not counted, prepended headers counted). Output is written in
/// many small pieces, so `out` should be buffered; memory use is bounded by `body`'s buffer.
pub fn write_data<R: BufRead, W: Write>(
    headers: &HeaderBlock,
    rewrite: &Rewrite,
    body: &mut R,
    out: &mut W,
) -> Result<u64, BodyError> {
    let mut size = 0;

    let prepend = prepended_headers(rewrite);
    if !prepend.is_empty() {
        let mut w = LineWriter::new(out);
        w.feed(prepend.as_bytes()).map_err(BodyError::Write)?;
        w.finish().map_err(BodyError::Write)?;
        size += w.size;
    }

    let mut w = LineWriter::new(out);
    let filter = Filter::new(rewrite);
    let mut dropping = false;
    for line in headers.header().split_inclusive(|&b| b == b'\n') {
        if filter.removes(line) {
            dropping = true;
            continue;
        }
        if dropping && matches!(line.first(), Some(b' ' | b'\t')) {
            continue;
        }
        dropping = false;
        w.feed(line).map_err(BodyError::Write)?;
    }
    w.finish().map_err(BodyError::Write)?;
    size += w.size;

    let mut w = LineWriter::new(out);
    w.feed(headers.body_start()).map_err(BodyError::Write)?;
    loop {
        let buf = match body.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(BodyError::Read(e)),
        };
        if buf.is_empty() {
            break;
        }
        let n = buf.len();
        w.feed(buf).map_err(BodyError::Write)?;
        body.consume(n);
    }
    w.finish().map_err(BodyError::Write)?;
    size += w.size;
    Ok(size)
}

/// The block msmtp prepends, in its fixed order From, To, Date, Message-ID.
fn prepended_headers(rewrite: &Rewrite) -> String {
    let mut s = String::new();
    if let Some(from) = &rewrite.from_line {
        s.push_str("From: ");
        s.push_str(from);
        s.push('\n');
    }
    if rewrite.undisclosed_recipients {
        s.push_str("To: undisclosed-recipients:;\n");
    }
    if let Some(date) = &rewrite.date {
        s.push_str("Date: ");
        s.push_str(date);
        s.push('\n');
    }
    if let Some(id) = &rewrite.message_id {
        s.push_str("Message-ID: ");
        s.push_str(id);
        s.push('\n');
    }
    s
}

/// Which original header names are dropped.
struct Filter {
    names: Vec<&'static [u8]>,
}

impl Filter {
    fn new(rewrite: &Rewrite) -> Filter {
        let mut names: Vec<&'static [u8]> = Vec::new();
        if rewrite.from_line.is_some() {
            names.push(b"from");
        }
        if rewrite.undisclosed_recipients {
            names.push(b"to");
            names.push(b"cc");
        }
        if rewrite.undisclosed_recipients || rewrite.remove_bcc {
            names.push(b"bcc");
        }
        Filter { names }
    }

    /// A header line with one of the names, then optional white space and the colon: the
    /// scanner takes `Bcc :` as a Bcc header (RFC 5322 obs-optional), and so do receivers,
    /// so it must go wherever `Bcc:` goes.
    fn removes(&self, line: &[u8]) -> bool {
        self.names.iter().any(|n| {
            line.len() > n.len()
                && line[..n.len()].eq_ignore_ascii_case(n)
                && line[n.len()..].iter().find(|&&b| b != b' ' && b != b'\t') == Some(&b':')
        })
    }
}

/// Converts one stream to SMTP DATA lines: LF or CRLF → CRLF, bare CR kept, leading '.'
/// doubled, a final unterminated line terminated. Holds no line in memory.
struct LineWriter<'a, W: Write> {
    out: &'a mut W,
    at_line_start: bool,
    /// A CR at the end of the previous chunk: dropped if an LF follows, else written.
    pending_cr: bool,
    size: u64,
}

impl<'a, W: Write> LineWriter<'a, W> {
    fn new(out: &'a mut W) -> Self {
        LineWriter {
            out,
            at_line_start: true,
            pending_cr: false,
            size: 0,
        }
    }

    fn feed(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            if self.at_line_start {
                if data[0] == b'.' {
                    self.out.write_all(b".")?;
                }
                self.at_line_start = false;
            }
            let newline = data.iter().position(|&b| b == b'\n');
            let (mut seg, rest) = match newline {
                Some(i) => (&data[..i], &data[i + 1..]),
                None => (data, &data[data.len()..]),
            };
            if self.pending_cr {
                self.pending_cr = false;
                if !(seg.is_empty() && newline.is_some()) {
                    self.out.write_all(b"\r")?;
                    self.size += 1;
                }
            }
            if let Some(stripped) = seg.strip_suffix(b"\r") {
                seg = stripped;
                if newline.is_none() {
                    self.pending_cr = true;
                }
            }
            self.out.write_all(seg)?;
            self.size += seg.len() as u64;
            if newline.is_some() {
                self.out.write_all(b"\r\n")?;
                self.size += 1;
                self.at_line_start = true;
            }
            data = rest;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.pending_cr {
            self.pending_cr = false;
            self.out.write_all(b"\r")?;
            self.size += 1;
        }
        if !self.at_line_start {
            self.out.write_all(b"\r\n")?;
            self.size += 1;
            self.at_line_start = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::headers::read_header_block;
    use std::io::{BufReader, Read};

    fn run(input: &[u8], rewrite: &Rewrite) -> (Vec<u8>, u64) {
        let mut r = input;
        let h = read_header_block(&mut r).expect("headers");
        let mut out = Vec::new();
        let n = write_data(&h, rewrite, &mut r, &mut out).expect("write");
        (out, n)
    }

    fn plain(input: &[u8]) -> Vec<u8> {
        run(input, &Rewrite::default()).0
    }

    #[test]
    fn lf_and_crlf_become_crlf_bare_cr_kept() {
        assert_eq!(
            plain(b"A: b\n\nx\ny\r\nz\rw\n"),
            b"A: b\r\n\r\nx\r\ny\r\nz\rw\r\n"
        );
    }

    #[test]
    fn final_line_without_newline_gets_crlf() {
        assert_eq!(plain(b"A: b\n\nlast"), b"A: b\r\n\r\nlast\r\n");
        // the header stream is terminated on its own as well
        assert_eq!(plain(b"A: b"), b"A: b\r\n");
        assert_eq!(plain(b"A: b\n\nx\r"), b"A: b\r\n\r\nx\r\r\n");
    }

    #[test]
    fn leading_dots_are_stuffed_and_lone_dot_does_not_end() {
        let (out, n) = run(b"A: b\n\n.\n..x\nmid.\n.\nafter\n", &Rewrite::default());
        assert_eq!(out, b"A: b\r\n\r\n..\r\n...x\r\nmid.\r\n..\r\nafter\r\n");
        assert_eq!(n, 5 + 1 + 2 + 4 + 5 + 2 + 6);
    }

    #[test]
    fn no_blank_line_is_added() {
        assert_eq!(plain(b"A: b\n"), b"A: b\r\n");
        assert_eq!(plain(b""), b"");
    }

    #[test]
    fn empty_input_gives_only_prepended_headers() {
        let rw = Rewrite {
            from_line: Some("a@b".into()),
            date: Some("D".into()),
            message_id: Some("<m>".into()),
            ..Rewrite::default()
        };
        let (out, n) = run(b"", &rw);
        assert_eq!(out, b"From: a@b\r\nDate: D\r\nMessage-ID: <m>\r\n");
        assert_eq!(n, 10 + 8 + 16);
    }

    #[test]
    fn prepended_order_is_from_to_date_msgid() {
        let rw = Rewrite {
            from_line: Some("N <a@b>".into()),
            undisclosed_recipients: true,
            date: Some("Sat, 28 Nov 2026 12:38:50 +0000".into()),
            message_id: Some("<h.a@b>".into()),
            remove_bcc: false,
        };
        let (out, _) = run(b"Subject: s\n\nbody\n", &rw);
        assert_eq!(
            out,
            &b"From: N <a@b>\r\nTo: undisclosed-recipients:;\r\n\
Date: Sat, 28 Nov 2026 12:38:50 +0000\r\nMessage-ID: <h.a@b>\r\n\
Subject: s\r\n\r\nbody\r\n"[..]
        );
    }

    #[test]
    fn adding_from_removes_all_from_headers_with_continuations() {
        let rw = Rewrite {
            from_line: Some("x@y".into()),
            ..Rewrite::default()
        };
        let (out, n) = run(
            b"From: \"Cron Daemon\"\n cont\nSubject: s\nfrom: b@c\n\nFrom: body\n",
            &rw,
        );
        assert_eq!(out, b"From: x@y\r\nSubject: s\r\n\r\nFrom: body\r\n");
        assert_eq!(n, 10 + 11 + 1 + 11);
    }

    #[test]
    fn bcc_removed_with_continuations_resent_bcc_kept() {
        let rw = Rewrite {
            remove_bcc: true,
            ..Rewrite::default()
        };
        let (out, _) = run(
            b"To: a\nBCC: b,\n\tc\nResent-Bcc: d\nCc: e\n\nBcc: body\n",
            &rw,
        );
        assert_eq!(out, b"To: a\r\nResent-Bcc: d\r\nCc: e\r\n\r\nBcc: body\r\n");
        let (out, _) = run(b"Bcc: b\n\n", &Rewrite::default());
        assert_eq!(out, b"Bcc: b\r\n\r\n");
    }

    #[test]
    fn white_space_before_the_colon_is_the_same_header() {
        let rw = Rewrite {
            remove_bcc: true,
            ..Rewrite::default()
        };
        let (out, n) = run(
            b"To: a\nBcc : b,\n\tc\nbcc\t: d\nBCC \t : e\nBccx : f\nBcc x: g\nCc : h\n\n",
            &rw,
        );
        assert_eq!(out, b"To: a\r\nBccx : f\r\nBcc x: g\r\nCc : h\r\n\r\n");
        assert_eq!(n, 6 + 9 + 9 + 7 + 1);
        let rw = Rewrite {
            from_line: Some("x@y".into()),
            undisclosed_recipients: true,
            ..Rewrite::default()
        };
        let (out, _) = run(b"From : a\nTo\t: b\nCc : c\nBcc : d\nSubject : s\n\n", &rw);
        assert_eq!(
            out,
            b"From: x@y\r\nTo: undisclosed-recipients:;\r\nSubject : s\r\n\r\n"
        );
    }

    #[test]
    fn undisclosed_drops_to_cc_bcc() {
        let rw = Rewrite {
            undisclosed_recipients: true,
            ..Rewrite::default()
        };
        let (out, _) = run(b"To: a,\n b\nCc: c\nBcc: d\nSubject: s\n\n", &rw);
        assert_eq!(out, b"To: undisclosed-recipients:;\r\nSubject: s\r\n\r\n");
    }

    #[test]
    fn mailsize_counts_lf_bytes_without_stuffing() {
        let (out, n) = run(b"A: b\r\n\r\n.x\r\ny", &Rewrite::default());
        assert_eq!(out, b"A: b\r\n\r\n..x\r\ny\r\n");
        assert_eq!(n, 5 + 1 + 3 + 2);
    }

    #[test]
    fn nul_bytes_pass_through() {
        assert_eq!(plain(b"A: \0\n\n\0x\0\n"), b"A: \0\r\n\r\n\0x\0\r\n");
    }

    #[test]
    fn crlf_split_across_chunks() {
        let input = b"A: b\n\nab\r\ncd\r\rx\r";
        for cap in 1..8 {
            let mut r = BufReader::with_capacity(cap, &input[..]);
            let h = read_header_block(&mut r).expect("headers");
            let mut out = Vec::new();
            let n = write_data(&h, &Rewrite::default(), &mut r, &mut out).expect("write");
            assert_eq!(out, b"A: b\r\n\r\nab\r\ncd\r\rx\r\r\n", "capacity {cap}");
            assert_eq!(n, 5 + 1 + 3 + 7);
        }
    }

    #[test]
    fn a_cut_header_block_goes_out_whole() {
        // Without an empty line within the header limit the header lines end at the first line
        // that is not one; nothing is lost or added, and Bcc is removed from the header part.
        let mut input = b"To: a@x\nBcc: b@x\nfirst line of a log\n".to_vec();
        while input.len() <= 2 * crate::message::headers::MAX_HEADER_BLOCK {
            input.extend_from_slice(b"log line\n");
        }
        let rw = Rewrite {
            remove_bcc: true,
            ..Rewrite::default()
        };
        let (out, n) = run(&input, &rw);
        let mut want = b"To: a@x\r\nfirst line of a log\r\n".to_vec();
        want.extend(b"log line\r\n".repeat((input.len() - 37) / 9));
        assert_eq!(out, want);
        assert_eq!(n as usize, input.len() - 9);
    }

    /// Yields `len` bytes of 'a' without any newline.
    struct Endless {
        left: u64,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = (buf.len() as u64).min(self.left) as usize;
            buf[..n].fill(b'a');
            self.left -= n as u64;
            Ok(n)
        }
    }

    /// Counts bytes and checks the stream shape without storing it.
    #[derive(Default)]
    struct Counting {
        bytes: u64,
        tail: Vec<u8>,
    }

    impl Write for Counting {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.bytes += buf.len() as u64;
            self.tail.extend_from_slice(buf);
            let keep = self.tail.len().saturating_sub(4);
            self.tail.drain(..keep);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn streams_50mb_single_line_with_bounded_memory() {
        const LEN: u64 = 50 * 1024 * 1024;
        let mut r = BufReader::with_capacity(4096, Endless { left: LEN });
        let h = HeaderBlock::default();
        let mut out = Counting::default();
        let n = write_data(&h, &Rewrite::default(), &mut r, &mut out).expect("write");
        assert_eq!(out.bytes, LEN + 2);
        assert_eq!(out.tail, b"aa\r\n");
        assert_eq!(n, LEN + 1);
    }

    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("boom"))
        }
    }

    #[test]
    fn read_and_write_errors_are_distinguished() {
        let h = HeaderBlock::default();
        let mut r = BufReader::new(Failing);
        let e = write_data(&h, &Rewrite::default(), &mut r, &mut Vec::new());
        assert!(matches!(e, Err(BodyError::Read(_))));
        let mut full = [0u8; 2];
        let mut out = &mut full[..];
        let mut body = &b"abcdef\n"[..];
        let e = write_data(&h, &Rewrite::default(), &mut body, &mut out);
        assert!(matches!(e, Err(BodyError::Write(_))));
    }
}
