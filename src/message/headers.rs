//! The header scanner: reads the header block of a mail byte by byte (msmtp.md 5.1, 5.2) and
//! extracts the From address, the recipients of To/Cc/Bcc (or of the first Resent-* block), and
//! whether Date and Message-ID exist. The same scanner parses recipient operands (1.4), because
//! msmtp feeds every operand through it as a `To: ARG` pseudo header.
//!
//! The scanner is a re-implementation of the character-level state machine of msmtp 1.8.23, so
//! that odd inputs (comments inside addresses, unbalanced quotes or parentheses, folded lines,
//! `\` escapes) give the same addresses; it was compared with msmtp 1.8.23 on thousands of
//! random header blocks. It works on bytes; addresses are converted to text lossily at the end.
//! One deliberate difference: white space between a header name and its colon (`Bcc :`, the
//! obsolete syntax of RFC 5322 4.5.3) still makes it that header, as it does for receivers.
//!
//! msmtp scans with recipient extraction only under `-t`, and that changes how later lines are
//! read in pathological cases (a comment left open in a To: header carries over). The header
//! block is therefore scanned twice in one pass: once with recipient extraction (giving the
//! recipients) and once without (giving From, Date and Message-ID, as msmtp without `-t`).

use crate::error::{Error, Result, Sysexit};
use std::io::{self, BufRead};

/// How many bytes of header block are held in memory. msmtp has no limit
/// because it copies the block to a temp file; receiving servers do have one (sendmail refuses
/// more than 32 KiB of headers, Postfix keeps 100 KiB of one header), so a block larger than
/// this is not a header block any server takes. See [`read_header_block_for`] for what happens
/// beyond it.
pub const MAX_HEADER_BLOCK: usize = 1 << 20;

/// RFC 5322's line length limit: a field name with its white space cannot be longer, which is
/// how a long line without a colon near its start is recognised as not a header line.
const MAX_NAME: usize = 998;

/// Everything up to and including the first empty line (or EOF), read from stdin before the
/// configuration, plus what msmtp learns from it; at most [`MAX_HEADER_BLOCK`] bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderBlock {
    /// Every byte consumed from the input, as it was read: the header lines, including the
    /// blank separator line if there was one. What gets transmitted of them is this with every
    /// `\r` deleted (as msmtp does), after filtering. Only when the header block had to be cut
    /// (see [`read_header_block_for`]) does it go on past [`HeaderBlock::header_len`] with the
    /// start of the body. The queue spools `raw` and then the rest of the input, which is thus
    /// the input unchanged.
    pub raw: Vec<u8>,
    /// The length of the header block within `raw`.
    pub header_len: usize,
    /// The first address of the first `From:` header that yields one. `Some("")` in msmtp's
    /// corner case of a `From:` header without address that is cut off by EOF (1.8.23 then
    /// treats the header as present and the envelope-from as empty, observed).
    pub from: Option<String>,
    /// The other addresses of that `From:` header. msmtp 1.8.23 with `-t` adds them to the
    /// recipients (at their position in header order); empty when the Resent rule applies,
    /// because msmtp drops them then.
    pub from_extra: Vec<String>,
    /// Whether a From header counts as present (decides `set_from_header auto`).
    pub has_from: bool,
    /// Whether a `Date:` header exists.
    pub has_date: bool,
    /// Whether a `Message-ID:` header exists.
    pub has_message_id: bool,
    /// Addresses of all To/Cc/Bcc headers in header order, or, if any `Resent-*` header
    /// exists, of the Resent-To/Cc/Bcc headers in the first contiguous Resent block. Used for
    /// `-t`; no de-duplication.
    pub recipients: Vec<String>,
}

impl HeaderBlock {
    /// The header lines (with the blank line, if any), CRs not yet deleted.
    pub fn header(&self) -> &[u8] {
        &self.raw[..self.header_len.min(self.raw.len())]
    }

    /// The start of the body that was read while looking for the end of the header block
    /// (empty unless the block was cut).
    pub fn body_start(&self) -> &[u8] {
        &self.raw[self.header_len.min(self.raw.len())..]
    }

    /// The mail's sender as msmtp >= 1.8.26 reads it for `--read-envelope-from` (and 1.8.29
    /// for `%F` in `from`): the first address of a `Resent-From:` header that stands in the
    /// first block of `Resent-*` headers, before any `From:` header (the person who resent the
    /// mail); otherwise [`HeaderBlock::from`].
    pub fn sender(&self) -> Option<String> {
        resent_from(self.header()).or_else(|| self.from.clone())
    }
}

/// The first address of the `Resent-From:` header of the first `Resent-*` block, if that
/// header comes before any `From:` header.
fn resent_from(header: &[u8]) -> Option<String> {
    let text: Vec<u8> = header.iter().copied().filter(|&b| b != b'\r').collect();
    let text = String::from_utf8_lossy(&text);
    // Unfolded fields: (name, value with its continuation lines).
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push('\n');
                value.push_str(line);
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            fields.push((String::new(), String::new()));
            continue;
        };
        fields.push((
            name.trim_end_matches([' ', '\t']).to_ascii_lowercase(),
            value.to_string(),
        ));
    }
    let mut in_block = false;
    for (name, value) in fields {
        match name.as_str() {
            "from" => return None,
            "resent-from" => return parse_address_list(&value).into_iter().next(),
            n if n.starts_with("resent-") => in_block = true,
            _ if in_block => return None,
            _ => {}
        }
    }
    None
}

/// Read the header block from `input`, consuming exactly the header bytes (through the blank
/// line) so that the body can be streamed from the same reader afterwards. From, Date and
/// Message-ID are detected as msmtp does without `-t`; see [`read_header_block_for`].
pub fn read_header_block<R: BufRead>(input: &mut R) -> Result<HeaderBlock> {
    read_header_block_for(input, false)
}

/// Like [`read_header_block`], but with `read_recipients` (`-t`) From, Date and Message-ID
/// are detected as msmtp does under `-t`. The two differ only for pathological headers (a
/// comment left open in a To/Cc/Bcc header hides the address of a following From header).
///
/// Memory is bounded by [`MAX_HEADER_BLOCK`]. Within it, the header block is msmtp's:
/// everything up to the first empty line. When that much has been read without an empty line,
/// the input is cut the way receiving servers read it: the header block ends before the first
/// line that cannot be a header field, and everything from there on is body. Mail from a
/// script that forgot the empty line (or has no headers at all) is thus still sent, streamed,
/// and for such input msmtp sends the same bytes. When every line read so far could be a
/// header field, the mail is refused (EX_DATAERR): postie cannot tell where its headers end.
pub fn read_header_block_for<R: BufRead>(
    input: &mut R,
    read_recipients: bool,
) -> Result<HeaderBlock> {
    read_limited(input, read_recipients, MAX_HEADER_BLOCK)
}

fn read_limited<R: BufRead>(
    input: &mut R,
    read_recipients: bool,
    limit: usize,
) -> Result<HeaderBlock> {
    // msmtp 1.8.23 scans differently without -t (From, Date, Message-ID) and with -t
    // (recipients too): both run, in one pass.
    let mut scan = Scan::new();
    let mut raw = Vec::new();
    let mut full = false;
    'outer: loop {
        let buf = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(Error::io("input error while reading the mail")),
        };
        if buf.is_empty() {
            scan.eof();
            break;
        }
        let mut used = 0;
        for &c in buf {
            // Checked before taking the next byte, so that a block of exactly `limit` bytes
            // followed by EOF is still an ordinary header block.
            if raw.len() == limit {
                full = true;
                input.consume(used);
                break 'outer;
            }
            used += 1;
            raw.push(c);
            // msmtp deletes every CR of the header block before scanning it.
            if c != b'\r' && scan.feed(c) {
                input.consume(used);
                break 'outer;
            }
        }
        input.consume(used);
    }
    if !full {
        let header_len = raw.len();
        return Ok(scan.into_block(raw, header_len, read_recipients));
    }
    let Some(cut) = first_non_header_line(&raw) else {
        return Err(Error::new(
            Sysexit::DataErr,
            format!(
                "the header of the mail is longer than {}: is the empty line after the header \
                 lines missing?",
                size_text(limit)
            ),
        ));
    };
    // The scanners have seen lines that turned out to be body: scan the header part alone.
    let mut scan = Scan::new();
    for &c in &raw[..cut] {
        if c != b'\r' && scan.feed(c) {
            break;
        }
    }
    scan.eof();
    Ok(scan.into_block(raw, cut, read_recipients))
}

fn size_text(n: usize) -> String {
    if n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

/// The offset of the first line of `raw` that cannot be part of a header block: neither
/// `name *WSP ":"` (RFC 5322 field name, with the obsolete white space before the colon) nor a
/// continuation of such a line. CRs are ignored, as in the rest of the header block. A last
/// line that is cut off before this can be told counts as a header line.
fn first_non_header_line(raw: &[u8]) -> Option<usize> {
    let mut start = 0;
    let mut after_header = false;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        let complete = line.ends_with(b"\n");
        let is_header = match line.iter().find(|&&c| c != b'\r') {
            Some(b' ' | b'\t') => after_header,
            _ => field_name_then_colon(line).unwrap_or(!complete),
        };
        if !is_header {
            return Some(start);
        }
        after_header = true;
        start += line.len();
    }
    None
}

/// Whether `line` starts with a field name, optional white space and a colon; `None` when the
/// line ends (without newline) before that can be told.
fn field_name_then_colon(line: &[u8]) -> Option<bool> {
    let mut name = 0;
    let mut space = false;
    for (i, &c) in line.iter().filter(|&&c| c != b'\r').enumerate() {
        if i >= MAX_NAME {
            return Some(false);
        }
        match c {
            b':' => return Some(name > 0),
            b' ' | b'\t' if name > 0 => space = true,
            33..=126 if !space => name += 1,
            _ => return Some(false),
        }
    }
    None
}

/// The two scanners of one header block.
struct Scan {
    main: Scanner,
    rcpt: Scanner,
}

impl Scan {
    fn new() -> Scan {
        Scan {
            main: Scanner::new(Mode::MAIL),
            rcpt: Scanner::new(Mode::MAIL_T),
        }
    }

    /// Feeds one byte (never a CR); true at the end of the header block.
    fn feed(&mut self, c: u8) -> bool {
        self.main.feed(c);
        self.rcpt.feed(c);
        self.main.done()
    }

    fn eof(&mut self) {
        self.main.eof();
        self.rcpt.eof();
    }

    fn into_block(self, raw: Vec<u8>, header_len: usize, read_recipients: bool) -> HeaderBlock {
        let with_rcpt = self.rcpt.into_block();
        let mut block = if read_recipients {
            with_rcpt.clone()
        } else {
            self.main.into_block()
        };
        block.raw = raw;
        block.header_len = header_len;
        block.recipients = with_rcpt.recipients;
        block.from_extra = with_rcpt.from_extra;
        block
    }
}

/// Scan one address list the way msmtp scans a recipient operand (`To: VALUE`).
pub fn parse_address_list(value: &str) -> Vec<String> {
    parse_recipient_operands(&[value])
}

/// Scan all recipient operands together, exactly as msmtp does: it writes `To: ARG\n` for each
/// operand plus a final `\n` into one buffer and scans that, so an operand containing a newline
/// can affect the next one.
pub fn parse_recipient_operands<S: AsRef<[u8]>>(args: &[S]) -> Vec<String> {
    let mut scanner = Scanner::new(Mode::OPERANDS);
    let mut text = Vec::new();
    for a in args {
        text.extend_from_slice(b"To: ");
        text.extend_from_slice(a.as_ref());
        text.push(b'\n');
    }
    text.push(b'\n');
    for c in text {
        if c == b'\r' {
            continue;
        }
        scanner.feed(c);
        if scanner.done() {
            break;
        }
    }
    scanner.eof();
    scanner.into_block().recipients
}

/// Which parts of the scanner are active (msmtp passes NULL pointers for unwanted results,
/// which also changes how header names are classified).
#[derive(Clone, Copy)]
struct Mode {
    from: bool,
    date_msgid: bool,
    recipients: bool,
}

impl Mode {
    const MAIL: Mode = Mode {
        from: true,
        date_msgid: true,
        recipients: false,
    };
    const MAIL_T: Mode = Mode {
        from: true,
        date_msgid: true,
        recipients: true,
    };
    const OPERANDS: Mode = Mode {
        from: false,
        date_msgid: false,
        recipients: true,
    };
}

/// Header names the scanner recognises, matched letter by letter after the first one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Word {
    Date,
    MessageId,
    From,
    To,
    Cc,
    Bcc,
}

impl Word {
    fn text(self) -> &'static [u8] {
        match self {
            Word::Date => b"date",
            Word::MessageId => b"message-id",
            Word::From => b"from",
            Word::To => b"to",
            Word::Cc => b"cc",
            Word::Bcc => b"bcc",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// At a line start after a header that is not an address header.
    LineFresh,
    /// At a line start after an address header line (a space/tab continues it).
    LineAfterAddr,
    /// Inside a header we do not care about.
    Other,
    /// Matched the first `n` letters of a header name.
    Name(Word, u8),
    /// Matched a whole address header name; a ':' must follow, after optional white space.
    Almost,
    /// Matching the `Resent-` prefix (progress in `resent_index`).
    Resent,
    AddrDefault,
    DQuote,
    BracketsStart,
    InBrackets,
    ParenStart,
    InParen,
    InAddress,
    Backslash,
    End,
}

/// Where the From header stands: msmtp's -1 / 0 / 1.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FromHdr {
    Before,
    In,
    After,
}

/// Where the first Resent block stands: msmtp's -1 / 0 / 1.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ResentBlock {
    Before,
    In,
    After,
}

struct Scanner {
    mode: Mode,
    state: State,
    folded_save: State,
    backslash_save: State,
    paren_save: State,
    paren_depth: u32,
    resent_index: Option<u8>,
    resent_block: ResentBlock,
    from_hdr: FromHdr,
    /// The current address header is a From (or Resent-From) header.
    in_from_header: bool,
    current: Option<Vec<u8>>,
    from: Option<Vec<u8>>,
    from_extra: Vec<Vec<u8>>,
    has_date: bool,
    has_msgid: bool,
    normal: Vec<Vec<u8>>,
    resent: Vec<Vec<u8>>,
}

impl Scanner {
    fn new(mode: Mode) -> Scanner {
        Scanner {
            mode,
            state: State::LineFresh,
            folded_save: State::LineFresh,
            backslash_save: State::LineFresh,
            paren_save: State::LineFresh,
            paren_depth: 0,
            resent_index: None,
            resent_block: ResentBlock::Before,
            from_hdr: FromHdr::Before,
            in_from_header: false,
            current: None,
            from: None,
            from_extra: Vec::new(),
            has_date: false,
            has_msgid: false,
            normal: Vec::new(),
            resent: Vec::new(),
        }
    }

    fn done(&self) -> bool {
        self.state == State::End
    }

    fn eof(&mut self) {
        if self.state != State::End {
            self.state = State::End;
            self.finish();
        }
    }

    fn into_block(self) -> HeaderBlock {
        let mut from = self.from.map(|a| lossy(&a));
        // msmtp: a From header whose address was cut off by EOF still counts, with an empty
        // address.
        if self.from_hdr == FromHdr::In {
            from = Some(String::new());
        }
        let use_resent = self.resent_block != ResentBlock::Before;
        let recipients = if use_resent {
            &self.resent
        } else {
            &self.normal
        };
        HeaderBlock {
            raw: Vec::new(),
            header_len: 0,
            has_from: from.is_some(),
            from,
            from_extra: if use_resent {
                Vec::new()
            } else {
                self.from_extra.iter().map(|a| lossy(a)).collect()
            },
            has_date: self.has_date,
            has_message_id: self.has_msgid,
            recipients: recipients.iter().map(|a| lossy(a)).collect(),
        }
    }

    /// The current address is junk (a display-name word, a group name, ...).
    fn forget(&mut self) {
        self.current = None;
    }

    /// The current address is complete: route it.
    fn finish(&mut self) {
        let Some(addr) = self.current.take() else {
            return;
        };
        if self.from_hdr == FromHdr::In {
            self.from = Some(addr);
            self.from_hdr = FromHdr::After;
        } else if self.in_from_header {
            self.from_extra.push(addr);
        } else if self.mode.recipients {
            if self.resent_block == ResentBlock::In {
                self.resent.push(addr);
            } else {
                self.normal.push(addr);
            }
        }
    }

    /// A non-Resent header line ends the first Resent block.
    fn check_resent_end(&mut self) {
        if self.resent_block == ResentBlock::In && self.resent_index != Some(6) {
            self.resent_block = ResentBlock::After;
        }
    }

    /// The first character of a header line decides which name it may be.
    fn line_start(&mut self, c: u8) -> State {
        let l = c.to_ascii_lowercase();
        let m = self.mode;
        if m.date_msgid && l == b'd' {
            State::Name(Word::Date, 1)
        } else if m.date_msgid && l == b'm' {
            State::Name(Word::MessageId, 1)
        } else if m.from && self.from_hdr == FromHdr::Before && l == b'f' {
            State::Name(Word::From, 1)
        } else if m.recipients && l == b't' {
            State::Name(Word::To, 1)
        } else if m.recipients && l == b'c' {
            State::Name(Word::Cc, 1)
        } else if m.recipients && l == b'b' {
            State::Name(Word::Bcc, 1)
        } else if m.recipients && self.resent_block != ResentBlock::After && l == b'r' {
            self.resent_index = Some(0);
            State::Resent
        } else if c == b'\n' {
            State::End
        } else {
            State::Other
        }
    }

    fn feed(&mut self, c: u8) {
        let old = self.state;
        let new = match old {
            State::End => return,
            State::LineFresh => {
                self.paren_depth = 0;
                self.resent_index = None;
                self.in_from_header = false;
                self.line_start(c)
            }
            State::LineAfterAddr => {
                self.resent_index = None;
                if c == b' ' || c == b'\t' {
                    self.folded_save
                } else {
                    if self.current.is_some() {
                        self.finish();
                    } else if self.from_hdr == FromHdr::In {
                        // that From header had no address: consider the next one
                        self.from_hdr = FromHdr::Before;
                    }
                    self.in_from_header = false;
                    // msmtp does not reset the comment depth here
                    self.line_start(c)
                }
            }
            State::Other => {
                self.check_resent_end();
                if c == b'\n' {
                    State::LineFresh
                } else {
                    State::Other
                }
            }
            State::Resent => self.resent_step(c),
            State::Name(word, n) => self.name_step(word, n, c),
            // RFC 5322 4.5.3 (obs-optional): white space may come between a field name and its
            // colon, and receivers take `Bcc :` as a Bcc header. msmtp requires the colon right
            // after the name, so `Bcc :` recipients were missed by -t and the header was sent.
            State::Almost if c == b' ' || c == b'\t' => State::Almost,
            State::Almost => {
                if self.from_hdr == FromHdr::In && c != b':' {
                    self.from_hdr = FromHdr::Before;
                }
                if c == b':' {
                    self.in_from_header = self.from_hdr == FromHdr::In;
                    State::AddrDefault
                } else if c == b'\n' {
                    State::LineFresh
                } else {
                    State::Other
                }
            }
            State::AddrDefault => match c {
                b'\n' => {
                    self.finish();
                    self.folded_save = State::AddrDefault;
                    State::LineAfterAddr
                }
                b'\\' => {
                    self.backslash_save = State::AddrDefault;
                    State::Backslash
                }
                b'(' => {
                    self.paren_save = State::AddrDefault;
                    State::ParenStart
                }
                b'"' => {
                    self.forget();
                    State::DQuote
                }
                b'<' => {
                    self.forget();
                    State::BracketsStart
                }
                b' ' | b'\t' => State::AddrDefault,
                b':' => {
                    self.forget();
                    State::AddrDefault
                }
                b';' | b',' => {
                    self.finish();
                    State::AddrDefault
                }
                _ => {
                    self.forget();
                    State::InAddress
                }
            },
            State::DQuote => match c {
                b'\n' => self.fold(State::DQuote),
                b'\\' => {
                    self.backslash_save = State::DQuote;
                    State::Backslash
                }
                b'"' => State::AddrDefault,
                _ => State::DQuote,
            },
            State::BracketsStart => match c {
                b'\n' => self.fold(State::BracketsStart),
                b'(' => {
                    self.paren_save = State::BracketsStart;
                    State::ParenStart
                }
                b'>' => State::AddrDefault,
                _ => State::InBrackets,
            },
            State::InBrackets => match c {
                b'\n' => self.fold(State::InBrackets),
                b'\\' => {
                    self.backslash_save = State::InBrackets;
                    State::Backslash
                }
                b'(' => {
                    self.paren_save = State::InBrackets;
                    State::ParenStart
                }
                b'>' => {
                    self.finish();
                    State::AddrDefault
                }
                _ => State::InBrackets,
            },
            State::ParenStart => match c {
                b'\n' => self.fold(State::ParenStart),
                b')' => self.paren_save,
                _ => {
                    self.paren_depth += 1;
                    State::InParen
                }
            },
            State::InParen => match c {
                b'\n' => self.fold(State::InParen),
                b'\\' => {
                    self.backslash_save = State::InParen;
                    State::Backslash
                }
                b'(' => State::ParenStart,
                b')' => {
                    self.paren_depth = self.paren_depth.saturating_sub(1);
                    if self.paren_depth == 0 {
                        self.paren_save
                    } else {
                        State::InParen
                    }
                }
                _ => State::InParen,
            },
            State::InAddress => match c {
                b'\n' => self.fold(State::AddrDefault),
                b'\\' => {
                    self.backslash_save = State::InAddress;
                    State::Backslash
                }
                b'"' => {
                    self.forget();
                    State::DQuote
                }
                b'(' => {
                    self.paren_save = State::InAddress;
                    State::ParenStart
                }
                b'<' => {
                    self.forget();
                    State::BracketsStart
                }
                b' ' | b'\t' => State::AddrDefault,
                b':' => {
                    self.forget();
                    State::AddrDefault
                }
                b',' | b';' => {
                    self.finish();
                    State::AddrDefault
                }
                _ => State::InAddress,
            },
            State::Backslash => {
                if c == b'\n' {
                    self.fold(State::AddrDefault)
                } else {
                    self.backslash_save
                }
            }
        };
        self.state = new;
        if matches!(new, State::InAddress | State::InBrackets)
            && !matches!(
                old,
                State::ParenStart | State::InParen | State::LineAfterAddr
            )
        {
            let ch = if c.is_ascii_control() || is_c_space(c) {
                b'_'
            } else {
                c
            };
            self.current.get_or_insert_with(Vec::new).push(ch);
        }
    }

    /// A newline inside an address header: a following space/tab resumes in `resume`.
    fn fold(&mut self, resume: State) -> State {
        self.folded_save = resume;
        State::LineAfterAddr
    }

    fn resent_step(&mut self, c: u8) -> State {
        let l = c.to_ascii_lowercase();
        let idx = self.resent_index.unwrap_or(0);
        // the 'R' was consumed at the line start (index 0)
        const AFTER_R: &[u8] = b"esent-";
        if idx < 6 && l == AFTER_R[idx as usize] {
            if idx == 5 && self.resent_block == ResentBlock::Before {
                self.resent_block = ResentBlock::In;
            }
            self.resent_index = Some(idx + 1);
            return State::Resent;
        }
        if idx == 6 {
            let m = self.mode;
            if m.recipients {
                match l {
                    b't' => return State::Name(Word::To, 1),
                    b'c' => return State::Name(Word::Cc, 1),
                    b'b' => return State::Name(Word::Bcc, 1),
                    _ => {}
                }
            }
        }
        if c == b'\n' {
            State::LineFresh
        } else {
            State::Other
        }
    }

    fn name_step(&mut self, word: Word, n: u8, c: u8) -> State {
        // msmtp ends a Resent block as soon as the second letter of a From/To/Cc/Bcc line that
        // is not part of a Resent- header is seen.
        if n == 1 && matches!(word, Word::From | Word::To | Word::Cc | Word::Bcc) {
            self.check_resent_end();
        }
        let text = word.text();
        let n = n as usize;
        if n < text.len() {
            if c.to_ascii_lowercase() == text[n] {
                if n + 1 < text.len() {
                    return State::Name(word, (n + 1) as u8);
                }
                return match word {
                    Word::Date | Word::MessageId => State::Name(word, (n + 1) as u8),
                    Word::From => {
                        self.from_hdr = FromHdr::In;
                        State::Almost
                    }
                    Word::To | Word::Cc | Word::Bcc => State::Almost,
                };
            }
        } else if c == b' ' || c == b'\t' {
            // white space before the colon, as for the address headers (State::Almost)
            return State::Name(word, n as u8);
        } else if c == b':' {
            // whole Date / Message-ID name followed by ':'
            if word == Word::Date {
                self.has_date = true;
            } else {
                self.has_msgid = true;
            }
            return State::Other;
        }
        if c == b'\n' {
            State::LineFresh
        } else {
            State::Other
        }
    }
}

/// C `isspace` in the C locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(input: &[u8]) -> HeaderBlock {
        let mut r = input;
        read_header_block(&mut r).expect("in-memory read")
    }

    /// The RFC 2822 sample of upstream's tests/test-header-handling.sh (test data), by line.
    const NASTY_LINES: &[&str] = &[
        "From: Some Name <from@example.com>",
        "X-Comment: Recipient address madness inspired by the RFC 2822 appendix",
        "To: to1@example.com,",
        "\t=?utf-8?B?VGVzdCDDnHNlcg==?= <to2@example.com>, Some",
        "\tOne <to3@example.com>,",
        "Cc: to4, \"A; \\\"Quoted\\\" Name\" <to5@example.com>",
        "To: A Group:Person 1 <to6@example.com>,to7@example.com,SomeOne <to8@example.com>;",
        "Cc: Undisclosed recipients:;",
        "To: \"A Person: Personal Account\" <to9@example.com>",
        "To: Some(wonderful \\) chap) <to10(his account)@localhost(this host)>",
        "Cc:A Group(Some people)",
        "     :Some Person <to11@(their's host.)example.com>,",
        "              to12, ",
        "\t        Person <to13@localhost> (a friend); (the end of the group)",
        "Bcc:(Empty list)(start)Undisclosed recipients  :(nobody(that I know))  ;",
        "Bcc: bcc@example.com",
        "Subject: Test",
        "",
        "This is a test.",
        "",
    ];

    fn nasty() -> String {
        NASTY_LINES.join("\n")
    }

    #[test]
    fn upstream_nasty_sample_gives_14_recipients() {
        let b = scan(nasty().as_bytes());
        let want = [
            "to1@example.com",
            "to2@example.com",
            "to3@example.com",
            "to4",
            "to5@example.com",
            "to6@example.com",
            "to7@example.com",
            "to8@example.com",
            "to9@example.com",
            "to10@localhost",
            "to11@example.com",
            "to12",
            "to13@localhost",
            "bcc@example.com",
        ];
        assert_eq!(b.recipients, want);
        assert_eq!(b.from.as_deref(), Some("from@example.com"));
        assert!(b.has_from && !b.has_date && !b.has_message_id);
        assert!(b.from_extra.is_empty());
    }

    #[test]
    fn header_block_stops_after_blank_line_and_leaves_body() {
        let input = b"Subject: x\r\nTo: a@x\r\n\r\nbody\r\n";
        let mut r = &input[..];
        let b = read_header_block(&mut r).expect("read");
        assert_eq!(b.raw, b"Subject: x\r\nTo: a@x\r\n\r\n");
        assert_eq!(b.header_len, b.raw.len());
        assert_eq!(b.recipients, ["a@x"]);
        assert_eq!(r, b"body\r\n");
    }

    #[test]
    fn every_cr_in_headers_is_ignored() {
        // the writer deletes them (body.rs); a CR-only line is an empty line
        let b = scan(b"T\ro: a\rb@x\r\n\r\r\nbody\n");
        assert_eq!(b.raw, b"T\ro: a\rb@x\r\n\r\r\n");
        assert_eq!(b.recipients, ["ab@x"]);
    }

    #[test]
    fn whitespace_only_line_does_not_end_headers() {
        let b = scan(b"Subject: a\n \nTo: b@x\n\nbody");
        assert_eq!(b.raw, b"Subject: a\n \nTo: b@x\n\n");
        assert_eq!(b.recipients, ["b@x"]);
    }

    #[test]
    fn no_blank_line_means_all_headers() {
        let b = scan(b"To: a@x\nSubject: no body");
        assert_eq!(b.raw, b"To: a@x\nSubject: no body");
        assert_eq!(b.recipients, ["a@x"]);
    }

    #[test]
    fn empty_input_and_body_only_input() {
        let b = scan(b"");
        assert_eq!(b, HeaderBlock::default());
        let input = b"\nbody\n";
        let mut r = &input[..];
        let b = read_header_block(&mut r).expect("read");
        assert_eq!(b.raw, b"\n");
        assert_eq!(r, b"body\n");
    }

    #[test]
    fn white_space_before_the_colon_is_the_same_header() {
        // RFC 5322 4.5.3 obs-optional; msmtp 1.8.23 ignores these headers (deliberate
        // difference: their Bcc recipients were missed by -t and the header was sent)
        let b =
            scan(b"From : a@x\nDate\t: x\nMessage-ID \t : y\nTo : b@x\nCc\t: c@x\nBcc  : d@x\n\n");
        assert_eq!(b.from.as_deref(), Some("a@x"));
        assert!(b.has_from && b.has_date && b.has_message_id);
        assert_eq!(b.recipients, ["b@x", "c@x", "d@x"]);
        let mut r = &b"To: a@x\nResent-To : r@x\nResent-Bcc\t: s@x\n\n"[..];
        let b = read_header_block_for(&mut r, true).expect("read");
        assert_eq!(b.recipients, ["r@x", "s@x"]);
        // only white space: anything else, or a line break, makes it another header
        let b = scan(b"From x: a@x\nDate-: x\nTo\n: b@x\nBcc .: c@x\n\n");
        assert!(!b.has_from && !b.has_date);
        assert!(b.recipients.is_empty());
        // names in any case
        let b = scan(b"fROM: a@x\ndATE: x\nmessage-id: <y>\ntO: b@x\n\n");
        assert_eq!(b.from.as_deref(), Some("a@x"));
        assert!(b.has_date && b.has_message_id);
        assert_eq!(b.recipients, ["b@x"]);
    }

    #[test]
    fn longer_names_are_other_headers() {
        let b = scan(b"Fromage: a@x\nDated: x\nTox: b@x\nCcc: c@x\nBcc2: d@x\n\n");
        assert!(!b.has_from && !b.has_date);
        assert!(b.recipients.is_empty());
    }

    #[test]
    fn first_from_with_an_address_wins() {
        let b = scan(b"From: \"Cron Daemon\"\nFrom: second@x\nFrom: third@x\n\n");
        assert_eq!(b.from.as_deref(), Some("second@x"));
        assert!(b.has_from);
    }

    #[test]
    fn from_without_address_is_absent() {
        let b = scan(b"From: \"Cron Daemon\"\n\n");
        assert_eq!(b.from, None);
        assert!(!b.has_from);
        let b = scan(b"From: \n\n");
        assert!(!b.has_from);
    }

    #[test]
    fn from_cut_off_by_eof_counts_as_empty_from() {
        // observed with msmtp 1.8.23: no From header is added and MAIL FROM:<> is used
        let b = scan(b"From:");
        assert_eq!(b.from.as_deref(), Some(""));
        assert!(b.has_from);
    }

    #[test]
    fn from_extra_addresses_are_reported_separately() {
        let b = scan(b"To: t@x\nFrom: a@x, b@y, Name <c@z>\nCc: d@x\n\n");
        assert_eq!(b.from.as_deref(), Some("a@x"));
        assert_eq!(b.from_extra, ["b@y", "c@z"]);
        assert_eq!(b.recipients, ["t@x", "d@x"]);
    }

    #[test]
    fn from_address_at_eof_is_taken() {
        let b = scan(b"From: a@x");
        assert_eq!(b.from.as_deref(), Some("a@x"));
    }

    #[test]
    fn no_deduplication_no_case_folding() {
        let b = scan(b"To: a@x, a@x\nCc: A@X\n\n");
        assert_eq!(b.recipients, ["a@x", "a@x", "A@X"]);
    }

    #[test]
    fn first_resent_block_overrides_to_cc_bcc() {
        let input = b"To: a@x\nResent-From: r@x\nResent-To: b@x\nResent-Cc: c@x\n\
Resent-Date: now\nResent-Bcc: d@x\nSubject: s\nResent-To: late@x\nCc: e@x\n\n";
        let b = scan(input);
        assert_eq!(b.recipients, ["b@x", "c@x", "d@x"]);
    }

    #[test]
    fn resent_bcc_counts_and_resent_header_anywhere_switches() {
        let b = scan(b"To: a@x\nSubject: s\nResent-Bcc: z@x\n\n");
        assert_eq!(b.recipients, ["z@x"]);
        let b = scan(b"Resent-Message-ID: <x>\nTo: a@x\n\n");
        assert!(b.recipients.is_empty());
    }

    #[test]
    fn resent_from_does_not_replace_from() {
        // msmtp 1.8.23 reads only From for --read-envelope-from; Resent-From is not an address
        // header it collects.
        let b = scan(b"Resent-From: Boss <r@x>\nResent-To: b@x\nFrom: f@x\n\n");
        assert_eq!(b.from.as_deref(), Some("f@x"));
        assert_eq!(b.recipients, ["b@x"]);
    }

    #[test]
    fn comments_are_skipped_even_inside_addresses() {
        assert_eq!(
            parse_address_list("to10(c)@localhost(c)"),
            ["to10@localhost"]
        );
        assert_eq!(parse_address_list("x@y (comment)"), ["x@y"]);
        assert_eq!(parse_address_list("(a (nested) c) x@y"), ["x@y"]);
    }

    #[test]
    fn brackets_discard_display_name() {
        assert_eq!(parse_address_list("A <a@x>, b@y"), ["a@x", "b@y"]);
        assert_eq!(parse_address_list("\"Doe, J.\" <j@x>"), ["j@x"]);
        assert_eq!(parse_address_list("<>"), Vec::<String>::new());
    }

    #[test]
    fn groups_drop_their_name() {
        assert_eq!(parse_address_list("grp: g1@x, g2@x;"), ["g1@x", "g2@x"]);
        assert!(parse_address_list("undisclosed-recipients:;").is_empty());
    }

    #[test]
    fn run_of_words_keeps_last() {
        assert_eq!(parse_address_list("John Doe j@x"), ["j@x"]);
        assert!(parse_address_list("").is_empty());
        assert_eq!(parse_address_list("local"), ["local"]);
    }

    #[test]
    fn backslash_escapes_are_honoured() {
        assert_eq!(parse_address_list("<a\\>b@x>"), ["a>b@x"]);
        assert_eq!(parse_address_list("a\\,b@x"), ["a,b@x"]);
    }

    #[test]
    fn control_characters_become_underscore() {
        assert_eq!(parse_address_list("<a b\x01c@x>"), ["a_b_c@x"]);
        let b = scan(b"To: a\x00b@x\n\n");
        assert_eq!(b.recipients, ["a_b@x"]);
    }

    #[test]
    fn folded_lines_continue_the_header() {
        let b = scan(b"To: a@x,\n b@x,\n\tName\n <c@x>\nSubject: d@x\n\n");
        assert_eq!(b.recipients, ["a@x", "b@x", "c@x"]);
    }

    #[test]
    fn open_comment_carries_into_next_address_header_like_msmtp() {
        // observed with msmtp 1.8.23: x@y is swallowed by the comment depth left over
        let b = scan(b"To: (a\nCc: (b) x@y\nTo: z@y\n\n");
        assert_eq!(b.recipients, ["z@y"]);
        // ... but a non-address header in between resets it
        let b = scan(b"To: (a\nSubject: s\nCc: (b) x@y\n\n");
        assert_eq!(b.recipients, ["x@y"]);
        // From detection is that of msmtp without -t
        let b = scan(b"To: (a\nFrom: (b) f@y\n\n");
        assert_eq!(b.from.as_deref(), Some("f@y"));
        // ... and under -t the open comment hides it (observed)
        let mut r = &b"To: (a\nFrom: (b) f@y\n\n"[..];
        let b = read_header_block_for(&mut r, true).expect("read");
        assert_eq!(b.from, None);
        assert!(!b.has_from);
    }

    #[test]
    fn operands_are_scanned_together() {
        let r = parse_recipient_operands(&["a@x", "B <b@x>, c@y", "", "local"]);
        assert_eq!(r, ["a@x", "b@x", "c@y", "local"]);
    }

    #[test]
    fn invalid_utf8_is_converted_lossily() {
        let b = scan(b"To: \xff\xfe@x\nFrom: \xc3@y\n\n");
        assert_eq!(b.recipients, ["\u{fffd}\u{fffd}@x"]);
        assert_eq!(b.from.as_deref(), Some("\u{fffd}@y"));
    }

    #[test]
    fn long_lines_and_binary_do_not_panic() {
        let mut input = b"To: ".to_vec();
        input.extend(std::iter::repeat_n(b'a', 100_000));
        input.extend_from_slice(b"@x\nX: ");
        input.extend((0..=255u8).cycle().take(10_000));
        input.extend_from_slice(b"\n\nbody");
        let b = scan(&input);
        assert_eq!(b.recipients.len(), 1);
        assert_eq!(b.recipients[0].len(), 100_002);
    }

    fn limited(input: &[u8], limit: usize) -> (Result<HeaderBlock>, Vec<u8>) {
        let mut r = std::io::BufReader::with_capacity(7, input);
        let b = read_limited(&mut r, true, limit);
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut r, &mut rest).expect("rest");
        (b, rest)
    }

    #[test]
    fn header_block_within_the_limit_is_msmtps() {
        let input = b"To: a@x\nX: y\n\nbody";
        let (b, rest) = limited(input, 16);
        let b = b.expect("fits");
        assert_eq!(b.header(), b"To: a@x\nX: y\n\n");
        assert!(b.body_start().is_empty());
        assert_eq!(rest, b"body");
        // exactly `limit` bytes, then EOF: still all header, no body
        let (b, rest) = limited(b"To: a@x\nX: y", 13);
        let b = b.expect("fits");
        assert_eq!((b.header(), b.recipients.len()), (&b"To: a@x\nX: y"[..], 1));
        assert!(rest.is_empty());
        // CRs count
        let input = b"To: a@x\r\r\r\nX: y\r\n\r\n";
        let (b, _) = limited(input, input.len());
        assert_eq!(b.expect("fits").header(), input);
        let (b, _) = limited(input, input.len() - 1);
        assert!(b.is_err(), "{b:?}");
    }

    #[test]
    fn oversized_block_of_header_lines_is_refused() {
        for input in [
            &b"To: a@x\nX-Pad: 0123456789\n continued\nX: y\n\nbody"[..],
            b"X-One-Long-Line: 0123456789012345678901234567890123456789",
            // a field name cut off by the limit might still be one
            b"X: y\nX-Long-Name-Cut-Off",
        ] {
            let (b, _) = limited(input, 20);
            let e = b.expect_err("refused");
            assert_eq!(e.exit, Sysexit::DataErr);
            assert_eq!(
                e.message,
                "the header of the mail is longer than 20 bytes: is the empty line after the \
                 header lines missing?"
            );
        }
    }

    #[test]
    fn oversized_block_is_cut_before_the_first_non_header_line() {
        let input = b"To: a@x\nSubject: log\n2024-01-01 12:00:00 job\nBcc: b@x\nCc: c@x\nmore\n";
        let (b, rest) = limited(input, 46);
        let b = b.expect("cut");
        assert_eq!(b.header(), b"To: a@x\nSubject: log\n");
        assert_eq!(b.body_start(), b"2024-01-01 12:00:00 job\nB");
        assert_eq!(rest, b"cc: b@x\nCc: c@x\nmore\n");
        // what follows the cut is body: no recipients from it
        assert_eq!(b.recipients, ["a@x"]);
    }

    #[test]
    fn what_cannot_be_a_header_line() {
        let cut = |input: &[u8]| {
            let (b, _) = limited(input, 24);
            b.expect("cut").header_len
        };
        // no headers at all
        assert_eq!(cut(b"just some text, no colon\nmore"), 0);
        // white space inside the name, before the colon
        assert_eq!(cut(b"X: y\nJohn Doe: hi there you\n"), 5);
        // a continuation line with nothing to continue
        assert_eq!(cut(b" indented text at the start\n"), 0);
        assert_eq!(cut(b"X: a\n folded\n\tagain\nno colon here\n"), 20);
        // NUL, colon first
        assert_eq!(cut(b"X: a\n\0Bcc: b@x, c@x, d@x\n"), 5);
        assert_eq!(cut(b"X: a\n: value value value\n"), 5);
        // obsolete white space before the colon is still a header line
        assert_eq!(cut(b"Bcc : b@x\nX:\ty\nplain text\n"), 15);
        // a line without a colon among the first 998 bytes is no header line
        let mut long = vec![b'a'; 2000];
        long.push(b':');
        let (b, _) = limited(&long, 1500);
        assert_eq!(b.expect("cut").header_len, 0);
    }

    #[test]
    fn the_limit_is_one_mib() {
        assert_eq!(MAX_HEADER_BLOCK, 1 << 20);
        let mut input = b"To: a@x\n".to_vec();
        while input.len() <= MAX_HEADER_BLOCK {
            input.extend_from_slice(b"X-Pad: 0123456789abcdef\n");
        }
        input.extend_from_slice(b"\nbody\n");
        let e = read_header_block(&mut &input[..]).expect_err("too long");
        assert_eq!(e.exit, Sysexit::DataErr);
        assert!(e.message.contains("longer than 1 MiB"), "{}", e.message);
        // the same lines, one megabyte of body without an empty line before it
        let mut input = b"To: a@x\nSubject: log\n".to_vec();
        while input.len() <= 2 * MAX_HEADER_BLOCK {
            input.extend_from_slice(b"2024-01-01 12:00:00 job done\n");
        }
        let mut r = &input[..];
        let b = read_header_block(&mut r).expect("cut");
        assert_eq!(b.header(), b"To: a@x\nSubject: log\n");
        assert_eq!(b.raw.len(), MAX_HEADER_BLOCK);
        assert_eq!(r.len(), input.len() - MAX_HEADER_BLOCK);
    }

    #[test]
    fn reading_the_consumed_bytes_again_cuts_at_the_same_place() {
        // The queue spools `raw` followed by the unread rest and reads it back later.
        let input = b"To: a@x\r\nSubject: s\r\ntext\r\nBcc: b@x\r\n\r\nbody\r\n";
        for limit in 10..input.len() {
            let (first, rest) = limited(input, limit);
            let Ok(first) = first else { continue };
            let mut spooled = first.raw.clone();
            spooled.extend_from_slice(&rest);
            let (again, rest2) = limited(&spooled, limit);
            let again = again.expect("same decision");
            assert_eq!(again.header(), first.header(), "limit {limit}");
            let mut body = again.body_start().to_vec();
            body.extend_from_slice(&rest2);
            let mut body1 = first.body_start().to_vec();
            body1.extend_from_slice(&rest);
            assert_eq!(body, body1, "limit {limit}");
        }
    }

    #[test]
    fn reads_through_small_buffers() {
        let text = nasty();
        let mut r = std::io::BufReader::with_capacity(3, text.as_bytes());
        let b = read_header_block(&mut r).expect("read");
        assert_eq!(b.recipients.len(), 14);
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut r, &mut rest).expect("rest");
        assert_eq!(rest, "This is a test.\n");
    }

    #[test]
    fn the_sender_is_a_resent_from_before_any_from() {
        let sender = |mail: &[u8]| read_header_block(&mut &mail[..]).unwrap().sender();
        let s = |v: &str| Some(v.to_string());
        assert_eq!(sender(b"From: a@x\nTo: b@y\n\nbody\n"), s("a@x"));
        assert_eq!(
            sender(b"Resent-From: R <r@x>\nResent-To: n@y\nFrom: a@x\n\n"),
            s("r@x")
        );
        assert_eq!(
            sender(b"Resent-Date: d\nresent-from :\n r@x\nFrom: a@x\n\n"),
            s("r@x")
        );
        // From first, or the Resent-From in a later block: the From address.
        assert_eq!(sender(b"From: a@x\nResent-From: r@x\n\n"), s("a@x"));
        assert_eq!(
            sender(b"Resent-To: n@y\nSubject: s\nResent-From: r@x\nFrom: a@x\n\n"),
            s("a@x")
        );
        assert_eq!(sender(b"Resent-From: r@x\n\n"), s("r@x"));
        assert_eq!(sender(b"Subject: s\n\nFrom: a@x\n"), None);
    }
}
