//! The DATA payload writer (msmtp.md 5.3, 5.4): prepended headers, the filtered header block,
//! then the body streamed from stdin, each line CRLF-terminated and dot-stuffed.
//!
//! msmtp sends three separate streams (prepended headers, header block, body), each of which
//! gets its own "final line without newline gets CRLF" treatment; this module does the same.
//! The body is never held in memory: it is processed chunk by chunk as the reader yields it,
//! with only a pending CR (that may turn out to be half of a CRLF) carried across chunks.
//! Unlike msmtp, a bare CR (one not followed by LF) ends a line: msmtp sends it as it is, which
//! lets `<CR>.<CR>` end the data early at a lenient receiver (see [`LineWriter`]).

use super::headers::HeaderBlock;
use std::io::{self, BufRead, Write};

/// What to do to the header block when transmitting.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rewrite {
    /// Full value of a `From: VALUE` header to prepend. When `Some`, all original `From:`
    /// headers (with continuation lines) are removed.
    pub from_line: Option<String>,
    /// Prepend `To: undisclosed-recipients:;` and drop the original To/Cc/Bcc headers.
    pub undisclosed_recipients: bool,
    /// Value of a `To:` header to prepend that lists every recipient (`set_to_header on`);
    /// when `Some`, the original To/Cc/Bcc headers are dropped. Absent in queue entries
    /// written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
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
    // msmtp deletes every CR of the header block (`a<CR>b` becomes `ab`), also before
    // filtering: `B<CR>cc:` is a Bcc header for the scanner too.
    let header: Vec<u8> = headers
        .header()
        .iter()
        .copied()
        .filter(|&b| b != b'\r')
        .collect();
    for line in header.split_inclusive(|&b| b == b'\n') {
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
    } else if let Some(to) = &rewrite.to {
        s.push_str("To: ");
        s.push_str(to);
        s.push('\n');
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
        let new_to = rewrite.undisclosed_recipients || rewrite.to.is_some();
        if new_to {
            names.push(b"to");
            names.push(b"cc");
        }
        if new_to || rewrite.remove_bcc {
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

/// Converts one stream to SMTP DATA lines: CRLF, LF and a CR that is not followed by LF each
/// end a line, which goes out as CRLF; a leading '.' is doubled; a final unterminated line is
/// terminated. Holds no line in memory.
///
/// msmtp sends a bare CR as it is, so `text<CR>.<CR>` reaches the server, and a receiver that
/// takes a bare CR for a line end sees the end of the data there and the rest as new SMTP
/// commands (SMTP smuggling). Here no bare CR or LF ever reaches the server, and every line
/// that starts with '.' is stuffed, whatever a receiver takes for a line end.
struct LineWriter<'a, W: Write> {
    out: &'a mut W,
    at_line_start: bool,
    /// A CR at the end of the previous chunk: the first half of a CRLF if an LF follows.
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
        if self.pending_cr && !data.is_empty() {
            self.pending_cr = false;
            if data[0] == b'\n' {
                data = &data[1..];
            }
            self.end_line()?;
        }
        while !data.is_empty() {
            if self.at_line_start {
                if data[0] == b'.' {
                    self.out.write_all(b".")?;
                }
                self.at_line_start = false;
            }
            let Some(i) = data.iter().position(|&b| b == b'\r' || b == b'\n') else {
                self.out.write_all(data)?;
                self.size += data.len() as u64;
                break;
            };
            self.out.write_all(&data[..i])?;
            self.size += i as u64;
            match (data[i], data.get(i + 1)) {
                (b'\r', None) => {
                    self.pending_cr = true;
                    break;
                }
                (b'\r', Some(b'\n')) => data = &data[i + 2..],
                _ => data = &data[i + 1..],
            }
            self.end_line()?;
        }
        Ok(())
    }

    /// One line end. mailsize counts it as one byte, as msmtp counts the LF, or the bare CR it
    /// keeps, so the size is msmtp's for every input that ends with a newline.
    fn end_line(&mut self) -> io::Result<()> {
        self.out.write_all(b"\r\n")?;
        self.size += 1;
        self.at_line_start = true;
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.pending_cr {
            self.pending_cr = false;
            self.end_line()?;
        }
        if !self.at_line_start {
            self.end_line()?;
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
    fn lf_crlf_and_bare_cr_each_become_crlf() {
        let (out, n) = run(b"A: b\n\nx\ny\r\nz\rw\n\r\r\nv\n", &Rewrite::default());
        assert_eq!(out, b"A: b\r\n\r\nx\r\ny\r\nz\r\nw\r\n\r\n\r\nv\r\n");
        // msmtp's mailsize: it counts the bare CRs it keeps as one byte each
        assert_eq!(n, 5 + 1 + 2 + 2 + 4 + 2 + 2);
    }

    #[test]
    fn a_bare_cr_or_lf_cannot_smuggle_a_dot_line() {
        // `<CR>.<CR>` and `<LF>.<LF>` end the data at receivers that take a bare CR or LF for
        // a line end; the dot after any line end is stuffed.
        for (input, want) in [
            (
                &b"\nbody\r.\r\nMAIL FROM:<x>\r\n"[..],
                &b"\r\nbody\r\n..\r\nMAIL FROM:<x>\r\n"[..],
            ),
            (
                b"\nbody\r.\rRCPT TO:<y>\r",
                b"\r\nbody\r\n..\r\nRCPT TO:<y>\r\n",
            ),
            (b"\nbody\n.\nDATA", b"\r\nbody\r\n..\r\nDATA\r\n"),
            (b"\nbody\r\n.\r", b"\r\nbody\r\n..\r\n"),
            (b"\n\r.", b"\r\n\r\n..\r\n"),
        ] {
            assert_eq!(plain(input), want, "{}", input.escape_ascii());
        }
    }

    #[test]
    fn prepended_headers_have_no_bare_line_ends_either() {
        let rw = Rewrite {
            from_line: Some("A\rB\n.\r <a@b>".into()),
            ..Rewrite::default()
        };
        let (out, _) = run(b"", &rw);
        assert_eq!(out, b"From: A\r\nB\r\n..\r\n <a@b>\r\n");
    }

    /// The line ends of DATA as RFC 5321 wants them: every CR followed by LF, every LF preceded
    /// by CR, and no line "." (the end of data comes after the payload).
    fn assert_clean(out: &[u8], what: &str) {
        for (i, &b) in out.iter().enumerate() {
            if b == b'\r' {
                assert_eq!(out.get(i + 1), Some(&b'\n'), "bare CR at {i}: {what}");
            }
            if b == b'\n' {
                assert!(i > 0 && out[i - 1] == b'\r', "bare LF at {i}: {what}");
            }
        }
        assert!(!out.starts_with(b".\r\n"), "dot line: {what}");
        assert!(
            !out.windows(5).any(|w| w == b"\r\n.\r\n"),
            "dot line: {what}"
        );
    }

    #[test]
    fn no_input_yields_bare_line_ends_or_a_dot_line() {
        // Every input over a small alphabet up to length 7, through every buffer size: the
        // output is clean, the same whatever the chunking, and equals the reading of CRLF, LF
        // and CR as line ends; the size is msmtp's whenever the input ends with LF.
        let alphabet = [b'\r', b'\n', b'.', b'a'];
        let mut inputs = vec![Vec::new()];
        let mut frontier = vec![Vec::new()];
        for _ in 0..7 {
            let mut next = Vec::new();
            for v in &frontier {
                for &c in &alphabet {
                    let mut w: Vec<u8> = v.clone();
                    w.push(c);
                    next.push(w);
                }
            }
            inputs.extend(next.iter().cloned());
            frontier = next;
        }
        for body in &inputs {
            let mut input = b"\n".to_vec();
            input.extend_from_slice(body);
            let what = input.escape_ascii().to_string();
            let (out, n) = run(&input, &Rewrite::default());
            assert_clean(&out, &what);
            let text = body.to_vec();
            let mut lines: Vec<&[u8]> = Vec::new();
            let mut rest = &text[..];
            while let Some(i) = rest.iter().position(|&b| b == b'\r' || b == b'\n') {
                lines.push(&rest[..i]);
                let skip = if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                rest = &rest[i + skip..];
            }
            if !rest.is_empty() {
                lines.push(rest);
            }
            let mut want = b"\r\n".to_vec();
            for l in &lines {
                if l.first() == Some(&b'.') {
                    want.push(b'.');
                }
                want.extend_from_slice(l);
                want.extend_from_slice(b"\r\n");
            }
            assert_eq!(out, want, "{what}");
            if body.ends_with(b"\n") {
                let msmtp: usize = input
                    .split_inclusive(|&b| b == b'\n')
                    .map(|l| {
                        let l = l.strip_suffix(b"\n").unwrap_or(l);
                        l.strip_suffix(b"\r").unwrap_or(l).len() + 1
                    })
                    .sum();
                assert_eq!(n as usize, msmtp, "{what}");
            }
            for cap in [1, 2, 3] {
                let mut r = BufReader::with_capacity(cap, &input[..]);
                let h = read_header_block(&mut r).expect("headers");
                let mut chunked = Vec::new();
                let m = write_data(&h, &Rewrite::default(), &mut r, &mut chunked).expect("write");
                assert_eq!(
                    (chunked.as_slice(), m),
                    (out.as_slice(), n),
                    "{what} / {cap}"
                );
            }
        }
    }

    #[test]
    fn final_line_without_newline_gets_crlf() {
        assert_eq!(plain(b"A: b\n\nlast"), b"A: b\r\n\r\nlast\r\n");
        // the header stream is terminated on its own as well
        assert_eq!(plain(b"A: b"), b"A: b\r\n");
        assert_eq!(plain(b"A: b\n\nx\r"), b"A: b\r\n\r\nx\r\n");
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
            to: None,
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
    fn a_to_header_of_all_recipients_replaces_to_cc_bcc() {
        let rw = Rewrite {
            from_line: Some("x@y".into()),
            to: Some("a@x, b@y,\n c@z".into()),
            date: Some("D".into()),
            ..Rewrite::default()
        };
        let (out, n) = run(b"To: a,\n b\nCc: c\nBcc: d\nSubject: s\n\n", &rw);
        assert_eq!(
            out,
            b"From: x@y\r\nTo: a@x, b@y,\r\n c@z\r\nDate: D\r\nSubject: s\r\n\r\n"
        );
        assert_eq!(n, 10 + 14 + 5 + 8 + 11 + 1);
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
            assert_eq!(out, b"A: b\r\n\r\nab\r\ncd\r\n\r\nx\r\n", "capacity {cap}");
            assert_eq!(n, 5 + 1 + 3 + 3 + 1 + 2);
        }
    }

    #[test]
    fn a_cut_header_block_goes_out_whole() {
        // Without an empty line within the header limit the header lines end at the first line
        // that is not one; nothing is lost or added, Bcc is removed from the header part, and
        // the body is the body also in the part read with the header lines.
        let mut input = b"To: a@x\r\nBcc: b@x\r\nfirst line\rof a log\r\n".to_vec();
        let lines = 2 * crate::message::headers::MAX_HEADER_BLOCK / 10;
        input.extend(b"log line\r\n".repeat(lines));
        let rw = Rewrite {
            remove_bcc: true,
            ..Rewrite::default()
        };
        let (out, n) = run(&input, &rw);
        let mut want = b"To: a@x\r\nfirst line\r\nof a log\r\n".to_vec();
        want.extend(b"log line\r\n".repeat(lines));
        assert_eq!(out, want);
        assert_eq!(n as usize, 8 + 11 + 9 + 9 * lines);
    }

    #[test]
    fn every_cr_in_the_header_block_is_deleted() {
        let rw = Rewrite {
            remove_bcc: true,
            ..Rewrite::default()
        };
        let (out, n) = run(b"Subject: a\rb\r\nB\rcc: x\r\n\r\r\nbody\rtext\n", &rw);
        assert_eq!(out, b"Subject: ab\r\n\r\nbody\r\ntext\r\n");
        assert_eq!(n, 12 + 1 + 5 + 5);
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
