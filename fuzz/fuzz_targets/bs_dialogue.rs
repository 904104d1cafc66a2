//! The `-bs` server (`smtpd::serve`): a client's bytes against a relay whose replies the input
//! also chooses. Byte 0 picks the limits, byte 1 the length of the relay's script, then the
//! script (one byte per relay reply: code and text, hostile texts included), then everything
//! the client sends. Checked: the relay is called in RFC 5321 order (RCPT only in an open
//! transaction, DATA only with an accepted recipient, the message only after a 354, nothing
//! after the end), at most `max_recipients` accepted per transaction, every output line a
//! CRLF-terminated `DDD-text`/`DDD text` line without control characters, output bounded by
//! the input, and the dialogue ends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postie::reply::Reply;
use postie::smtp::MailParams;
use postie::smtpd::{Limits, Relay, serve};
use std::io::{BufRead, Read};

#[derive(PartialEq, Debug)]
enum State {
    Idle,
    Mail,
    Data,
    Done,
}

struct Script<'a> {
    script: &'a [u8],
    at: usize,
    state: State,
    accepted: usize,
    max_recipients: usize,
    data_read: usize,
}

impl Script<'_> {
    /// The next scripted reply; `positive` is the 2xx/3xx code for this step.
    fn next(&mut self, positive: u16) -> Reply {
        let b = self.script.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        let code = match b & 7 {
            0..=3 => positive,
            4 => 451,
            5 => 550,
            6 => 0,
            _ => 999,
        };
        let text = match b >> 3 {
            0 => "OK".to_string(),
            1 => "injected\r\n250 fake".to_string(),
            2 => "\u{1b}[2J\u{202e}\0".to_string(),
            3 => String::new(),
            n => "x".repeat(usize::from(n) * 40),
        };
        let lines = if b >> 3 == 3 {
            Vec::new()
        } else {
            vec![format!("{code} {text}"), format!("{code} second")]
        };
        Reply { code, lines }
    }

    fn live(&self) {
        assert_ne!(self.state, State::Done, "relay called after the end");
    }
}

impl Relay for Script<'_> {
    fn mail(&mut self, from: &str, _: &MailParams) -> Reply {
        self.live();
        assert_eq!(self.state, State::Idle, "MAIL in a transaction");
        assert!(!from.contains(['\r', '\n']), "{from:?}");
        let r = self.next(250);
        if (200..300).contains(&r.code) {
            self.state = State::Mail;
            self.accepted = 0;
        }
        r
    }
    fn rcpt(&mut self, to: &str) -> Reply {
        self.live();
        assert_eq!(self.state, State::Mail, "RCPT outside a transaction");
        assert!(!to.is_empty() && !to.contains(['\r', '\n']), "{to:?}");
        assert!(
            self.accepted < self.max_recipients,
            "more recipients than the limit"
        );
        let r = self.next(250);
        if (200..300).contains(&r.code) {
            self.accepted += 1;
        }
        r
    }
    fn data(&mut self) -> Reply {
        self.live();
        assert_eq!(self.state, State::Mail, "DATA outside a transaction");
        assert!(self.accepted > 0, "DATA without an accepted recipient");
        let r = self.next(354);
        if r.code == 354 {
            self.state = State::Data;
        }
        r
    }
    fn message(&mut self, data: &mut dyn BufRead) -> Reply {
        self.live();
        assert_eq!(self.state, State::Data, "a message without a 354");
        // Read some or all of it, as a relay may stop early.
        let mut buf = Vec::new();
        let _ = data.take(1 << 20).read_to_end(&mut buf);
        self.data_read += buf.len();
        self.state = State::Idle;
        self.next(250)
    }
    fn reset(&mut self) {
        self.live();
        self.state = State::Idle;
    }
    fn abort(&mut self) {
        self.live();
        self.state = State::Done;
    }
    fn quit(&mut self) {
        self.live();
        self.state = State::Done;
    }
}

fuzz_target!(|data: &[u8]| {
    let [flags, len, rest @ ..] = data else {
        return;
    };
    let (script, client) = rest.split_at(usize::from(*len).min(rest.len()));
    let limits = Limits {
        max_line: [2048, 64, 512, 16][usize::from(flags & 3)],
        max_recipients: 1 + usize::from((flags >> 2) & 7),
        max_errors: 1 + usize::from(flags >> 5) * 3,
    };
    let mut relay = Script {
        script,
        at: 0,
        state: State::Idle,
        accepted: 0,
        max_recipients: limits.max_recipients,
        data_read: 0,
    };
    let mut out = Vec::new();
    let mut trace = Vec::new();
    let end = serve(
        client,
        &mut out,
        &mut relay,
        "fuzz.example",
        limits,
        Some(&mut trace),
    );
    assert!(end.is_ok(), "in-memory output cannot fail: {end:?}");
    assert_eq!(
        relay.state,
        State::Done,
        "the relay was not told the dialogue ended"
    );
    assert!(relay.data_read <= client.len());

    // Every reply line: "DDD" + '-' or ' ' + printable text + CRLF.
    assert!(out.is_empty() || out.ends_with(b"\r\n"));
    let mut lines = 0usize;
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        lines += 1;
        let line = line.strip_suffix(b"\r").expect("LF without CR");
        assert!(line.len() >= 4, "{:?}", String::from_utf8_lossy(line));
        assert!(line[..3].iter().all(u8::is_ascii_digit));
        assert!(matches!(line[3], b' ' | b'-'));
        let text = std::str::from_utf8(&line[4..]).expect("UTF-8 replies");
        assert!(
            !text.chars().any(|c| c.is_control()),
            "control character in a reply: {text:?}"
        );
        let code: u16 = std::str::from_utf8(&line[..3]).unwrap().parse().unwrap();
        assert!((200..600).contains(&code), "code {code}");
    }
    // The greeting, then at most a few lines per client line (EHLO's list, a relayed
    // two-line reply) and per relay call.
    let client_lines = client.split(|&b| b == b'\n').count();
    assert!(
        lines <= 1 + 8 * (client_lines + relay.at) + 2,
        "{lines} reply lines for {client_lines} client lines"
    );
});
