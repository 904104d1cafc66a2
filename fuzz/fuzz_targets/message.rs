//! Header scanner and DATA writer: message -> (envelope data, DATA bytes), checked against a
//! simple model: the header block ends at the first empty line, Bcc (and the other dropped
//! headers) removed with their continuation lines, every line CRLF-terminated and dot-stuffed,
//! no bare CR or LF, no "." line, the body unchanged but for line ends, msmtp's mail size.
//! The first input byte chooses the options, the rest is the mail.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postie::message::{Rewrite, read_header_block_for, write_data};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mail)) = data.split_first() else {
        return;
    };
    let read_recipients = flags & 1 != 0;
    let rewrite = Rewrite {
        remove_bcc: flags & 2 != 0,
        undisclosed_recipients: flags & 4 != 0,
        from_line: (flags & 8 != 0).then(|| "Fuzz <fuzz@example.org>".to_string()),
        date: (flags & 16 != 0).then(|| "Mon, 01 Jan 2024 00:00:00 +0000".to_string()),
        message_id: (flags & 32 != 0).then(|| "<fuzz@example.org>".to_string()),
        // set_to_header on: shares its bit with the From line (the chunk size takes the rest).
        to: (flags & 8 != 0 && flags & 1 != 0)
            .then(|| "a@example.org,\r\n b@example.org".to_string()),
    };
    // A reader that hands out small pieces, so that CRLF and header ends split across reads.
    let chunk = usize::from(flags >> 6) * 3 + 1;
    let mut input = std::io::BufReader::with_capacity(chunk, mail);
    let block = read_header_block_for(&mut input, read_recipients).expect("under 1 MiB: no error");

    // The header block: up to and including the first line that is empty once CRs are deleted.
    let model_len = header_end(mail);
    assert_eq!(block.header_len, model_len, "header block end");
    assert_eq!(block.raw, &mail[..model_len], "raw header bytes");
    assert!(block.body_start().is_empty());
    for r in block.recipients.iter().chain(&block.from_extra) {
        let _ = postie::envelope::address::problem(r);
    }

    let mut out = Vec::new();
    let size = write_data(&block, &rewrite, &mut input, &mut out).expect("in-memory I/O");

    // No bare CR or LF.
    for (i, &b) in out.iter().enumerate() {
        if b == b'\r' {
            assert_eq!(out.get(i + 1), Some(&b'\n'), "bare CR at {i}");
        }
        if b == b'\n' {
            assert!(i > 0 && out[i - 1] == b'\r', "bare LF at {i}");
        }
    }
    assert!(
        out.is_empty() || out.ends_with(b"\r\n"),
        "unterminated last line"
    );
    let lines: Vec<&[u8]> = if out.is_empty() {
        Vec::new()
    } else {
        out[..out.len() - 2]
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .collect()
    };
    // Dot-stuffing: no line is ".", every line starting with '.' starts with "..".
    let mut unstuffed_size = 0u64;
    for l in &lines {
        assert_ne!(*l, b".", "a lone dot line ends the data early");
        if l.first() == Some(&b'.') {
            assert!(l.starts_with(b".."), "unstuffed dot line");
        }
        unstuffed_size += (l.len() - usize::from(l.first() == Some(&b'.'))) as u64 + 1;
    }
    assert_eq!(size, unstuffed_size, "mail size");

    // The header section of the output holds no removed header.
    let header_lines = lines.iter().take_while(|l| !l.is_empty());
    for l in header_lines {
        if rewrite.remove_bcc || rewrite.undisclosed_recipients || rewrite.to.is_some() {
            assert!(
                !is_field(l, b"bcc"),
                "Bcc header left: {:?}",
                String::from_utf8_lossy(l)
            );
        }
    }

    // The whole output, from the model.
    let mut expected = Vec::new();
    let mut prepend = String::new();
    if let Some(f) = &rewrite.from_line {
        prepend += &format!("From: {f}\n");
    }
    if rewrite.undisclosed_recipients {
        prepend += "To: undisclosed-recipients:;\n";
    } else if let Some(to) = &rewrite.to {
        prepend += &format!("To: {to}\n");
    }
    if let Some(d) = &rewrite.date {
        prepend += &format!("Date: {d}\n");
    }
    if let Some(m) = &rewrite.message_id {
        prepend += &format!("Message-ID: {m}\n");
    }
    stuffed_lines(prepend.as_bytes(), &mut expected);
    let header: Vec<u8> = mail[..model_len]
        .iter()
        .copied()
        .filter(|&b| b != b'\r')
        .collect();
    let mut names: Vec<&[u8]> = Vec::new();
    if rewrite.from_line.is_some() {
        names.push(b"from");
    }
    let new_to = rewrite.undisclosed_recipients || rewrite.to.is_some();
    if new_to {
        names.extend([&b"to"[..], b"cc"]);
    }
    if new_to || rewrite.remove_bcc {
        names.push(b"bcc");
    }
    let mut kept = Vec::new();
    let mut dropping = false;
    for line in header.split_inclusive(|&b| b == b'\n') {
        if names.iter().any(|n| is_field(line, n)) {
            dropping = true;
        } else if !(dropping && matches!(line.first(), Some(b' ' | b'\t'))) {
            dropping = false;
            kept.extend_from_slice(line);
        }
    }
    stuffed_lines(&kept, &mut expected);
    stuffed_lines(&mail[model_len..], &mut expected);
    assert!(out == expected, "output differs from the model");
});

fn header_end(mail: &[u8]) -> usize {
    let mut start = 0;
    for (i, &b) in mail.iter().enumerate() {
        if b == b'\n' {
            if mail[start..i].iter().all(|&c| c == b'\r') {
                return i + 1;
            }
            start = i + 1;
        }
    }
    mail.len()
}

/// `name *WSP ":"`, the name in any case.
fn is_field(line: &[u8], name: &[u8]) -> bool {
    line.len() > name.len()
        && line[..name.len()].eq_ignore_ascii_case(name)
        && line[name.len()..]
            .iter()
            .find(|&&b| b != b' ' && b != b'\t')
            == Some(&b':')
}

/// CRLF, CR and LF each end a line; a last line without end gets one; leading dots doubled.
fn stuffed_lines(text: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    let mut at_start = true;
    while i < text.len() {
        let b = text[i];
        if at_start && b == b'.' {
            out.push(b'.');
        }
        at_start = false;
        match b {
            b'\r' if text.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 1;
                at_start = true;
            }
            b'\r' | b'\n' => {
                out.extend_from_slice(b"\r\n");
                at_start = true;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    if !at_start {
        out.extend_from_slice(b"\r\n");
    }
}
