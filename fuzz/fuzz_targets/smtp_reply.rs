//! SMTP reply lines and EHLO capabilities: lines (split at LF, CR stripped) into the reply
//! parser; every finished reply into the capability parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postie::reply::{MAX_LINES, ReplyParser};
use postie::smtp::Capabilities;

fuzz_target!(|data: &[u8]| {
    let mut parser = ReplyParser::new();
    let mut pending = 0usize;
    for line in data.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match parser.push_line(line) {
            Ok(Some(reply)) => {
                pending = 0;
                assert!(!reply.lines.is_empty() && reply.lines.len() <= MAX_LINES);
                assert!(reply.code < 1000);
                assert_eq!(reply.texts().count(), reply.lines.len());
                let _ = reply.is_transient();
                let caps = Capabilities::from_ehlo(&reply.lines);
                for (i, m) in caps.auth_mechs.iter().enumerate() {
                    assert_eq!(*m, m.to_ascii_uppercase());
                    assert!(!m.is_empty());
                    assert!(!caps.auth_mechs[..i].contains(m), "duplicate mechanism");
                    assert!(caps.has_auth_mech(m));
                }
                assert!(caps.auth || caps.auth_mechs.is_empty());
            }
            Ok(None) => {
                pending += 1;
                assert!(pending <= MAX_LINES);
            }
            Err(_) => {
                parser = ReplyParser::new();
                pending = 0;
            }
        }
    }
});
