//! Which headers postie adds to or removes from a message (msmtp.md 5.3): a From header
//! (`set_from_header`, with `-F` or `from_full_name`), Date, Message-ID, the Bcc removal and
//! `set_to_header` (one To header instead of To, Cc and Bcc: every recipient, or
//! `undisclosed-recipients:;`). Every value written into a header is checked here: a full name
//! usually comes from a program (cron's `-FCronDaemon`, a web application's sender name), and a
//! line break in it would add headers or body text to the message.

use super::body::Rewrite;
use super::headers::HeaderBlock;
use super::msgid::{date_header_value, message_id};
use crate::config::{AutoOff, SetFromHeader, SetToHeader, Settings};
use crate::error::{Error, Result};
use std::borrow::Cow;

/// The rewrite for a message with header block `headers`, sent from the envelope sender
/// `from` to `recipients` with the account's settings `s`. `full_name` is `-F`, which wins
/// over `from_full_name`.
pub fn for_message(
    s: &Settings,
    headers: &HeaderBlock,
    full_name: Option<&str>,
    from: &str,
    recipients: &[String],
) -> Result<Rewrite> {
    let add_from = match s.set_from_header {
        SetFromHeader::On => true,
        SetFromHeader::Auto => headers.from.is_none(),
        SetFromHeader::Off => false,
    };
    let from_line = if add_from {
        Some(from_header_value(
            full_name,
            s.from_full_name.as_deref(),
            from,
        )?)
    } else {
        None
    };
    Ok(Rewrite {
        from_line,
        undisclosed_recipients: s.set_to_header == SetToHeader::UndisclosedRecipients,
        to: (s.set_to_header == SetToHeader::On).then(|| address_list(recipients)),
        date: (s.set_date_header == AutoOff::Auto && !headers.has_date).then(date_header_value),
        message_id: (s.set_msgid_header == AutoOff::Auto && !headers.has_message_id)
            .then(|| message_id(from)),
        remove_bcc: s.remove_bcc_headers,
    })
}

/// The longest header line [`address_list`] writes when the addresses allow it (RFC 5322's
/// recommended 78 characters).
const FOLD_AT: usize = 78;

/// The value of the To header of `set_to_header on`: the recipients separated by `, ` (as
/// msmtp writes it), folded after a comma before a line would pass [`FOLD_AT`] characters, so
/// that a long list makes no long line (one address longer than a line stays whole: an address
/// cannot be folded).
fn address_list(recipients: &[String]) -> String {
    let mut out = String::new();
    // "To: " starts the first line.
    let mut column = "To: ".len();
    for (i, r) in recipients.iter().enumerate() {
        if i > 0 {
            out.push(',');
            column += 1;
            if column + 1 + r.len() + 1 > FOLD_AT {
                out.push_str("\n ");
                column = 1;
            } else {
                out.push(' ');
                column += 1;
            }
        }
        out.push_str(r);
        column += r.len();
    }
    out
}

/// The value of the From header postie adds: `NAME <ADDR>` with a full name, else `ADDR`. A
/// control character in the name is refused (64 for `-F`, 78 for `from_full_name`); a name
/// with RFC 5322 specials is quoted, since unquoted `Doe, John <j@x>` would name two mailboxes;
/// a name that is not ASCII is written as RFC 2047 encoded words (as msmtp >= 1.8.27 does).
fn from_header_value(cli_name: Option<&str>, rc_name: Option<&str>, from: &str) -> Result<String> {
    let (name, from_cli) = match (cli_name, rc_name) {
        (Some(n), _) => (n, true),
        (None, Some(n)) => (n, false),
        (None, None) => return Ok(from.to_owned()),
    };
    if name.chars().any(char::is_control) {
        let what = format!(
            "invalid full name {}: it contains a control character",
            crate::ui::sanitize(name)
        );
        return Err(if from_cli {
            Error::usage(what)
        } else {
            Error::config(format!("from_full_name: {what}"))
        });
    }
    if !name.is_ascii() {
        return Ok(encoded_from(name, from));
    }
    Ok(format!("{} <{from}>", display_name(name)))
}

/// The longest line that holds an encoded word (RFC 2047 section 2).
const ENCODED_LINE: usize = 76;

/// `NAME <FROM>` with `name` as RFC 2047 encoded words (`=?utf-8?B?...?=`), each holding
/// whole characters, folded so that no line with an encoded word passes [`ENCODED_LINE`]
/// characters (the first line starts with `From: `); a reader drops the folding white space
/// between encoded words. A short name stays on one line, as msmtp >= 1.8.27 writes it.
fn encoded_from(name: &str, from: &str) -> String {
    use base64::Engine;
    const WRAP: usize = "=?utf-8?B??=".len();
    let mut out = String::new();
    // The first line starts with "From: ", the others with the folding space.
    let mut line = "From: ".len();
    let mut start = 0;
    while start < name.len() {
        if start > 0 {
            out.push_str("\n ");
            line = 1;
        }
        // Whole base64 groups: 3 bytes of text for every 4 characters that fit.
        let room = ENCODED_LINE - line - WRAP;
        let mut end = (start + room / 4 * 3).min(name.len());
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let word = format!(
            "=?utf-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(&name.as_bytes()[start..end])
        );
        out.push_str(&word);
        line += word.len();
        start = end;
    }
    if line + " <>".len() + from.len() > ENCODED_LINE {
        out.push_str("\n <");
    } else {
        out.push_str(" <");
    }
    out.push_str(from);
    out.push('>');
    out
}

/// `name` as an RFC 5322 phrase: as it is when it needs no quoting (msmtp's output), else as a
/// quoted string. `.` stays unquoted (obs-phrase, `J. Doe`), as do names already quoted.
fn display_name(name: &str) -> Cow<'_, str> {
    if is_quoted_string(name)
        || !name.contains(['(', ')', '<', '>', '[', ']', ':', ';', '@', '\\', ',', '"'])
    {
        return name.into();
    }
    let mut q = String::with_capacity(name.len() + 2);
    q.push('"');
    for c in name.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q.into()
}

/// Whether `s` is one whole RFC 5322 quoted-string (`"Doe, John"`), escapes respected.
fn is_quoted_string(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return false;
    };
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.next().is_none() => return false,
            '"' => return false,
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_only_when_they_need_it() {
        assert_eq!(display_name("CronDaemon"), "CronDaemon");
        assert_eq!(display_name("J. Doe"), "J. Doe");
        assert_eq!(display_name("Doe, John"), "\"Doe, John\"");
        assert_eq!(display_name("a \"b\" c"), "\"a \\\"b\\\" c\"");
        assert_eq!(display_name("\"Already, Quoted\""), "\"Already, Quoted\"");
        assert_eq!(display_name("\"open\\\""), "\"\\\"open\\\\\\\"\"");
    }

    #[test]
    fn names_that_are_not_ascii_are_encoded_words() {
        assert_eq!(
            from_header_value(Some("Test Üser"), None, "t@x").expect("ok"),
            "=?utf-8?B?VGVzdCDDnHNlcg==?= <t@x>"
        );
        for n in [1, 15, 20, 40, 500] {
            let long = "Ü".repeat(n);
            let v = from_header_value(None, Some(&long), "t@example.org").expect("ok");
            let header = format!("From: {v}");
            let lines: Vec<&str> = header.split('\n').collect();
            // RFC 2047: no line with an encoded word over 76 characters; folded lines start
            // with white space.
            assert!(lines.iter().all(|l| l.len() <= 76), "{lines:?}");
            assert!(lines[1..].iter().all(|l| l.starts_with(' ')), "{lines:?}");
            assert!(v.ends_with("<t@example.org>"), "{v}");
            use base64::Engine;
            let decoded: Vec<u8> = v
                .split_whitespace()
                .filter(|w| w.starts_with("=?"))
                .flat_map(|w| {
                    let b64 = w.trim_start_matches("=?utf-8?B?").trim_end_matches("?=");
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .expect("base64")
                })
                .collect();
            assert_eq!(String::from_utf8(decoded).expect("whole characters"), long);
        }
    }

    #[test]
    fn all_recipients_in_one_folded_to_header() {
        let r = |v: &[&str]| address_list(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(r(&["a@x.org"]), "a@x.org");
        assert_eq!(r(&["a@x.org", "root", "b@y.org"]), "a@x.org, root, b@y.org");
        let many: Vec<String> = (0..20).map(|i| format!("user{i:02}@example.org")).collect();
        let v = address_list(&many);
        let text = format!("To: {v}");
        let lines: Vec<&str> = text.split('\n').collect();
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.len() <= FOLD_AT), "{lines:?}");
        assert!(lines[1..].iter().all(|l| l.starts_with(' ')));
        assert_eq!(v.replace("\n ", " "), many.join(", "));
    }

    #[test]
    fn control_characters_in_names_are_refused() {
        let e = from_header_value(Some("a\r\nBcc: x"), None, "s@x").expect_err("refused");
        assert_eq!(e.exit.code(), 64);
        let e = from_header_value(None, Some("a\u{1b}b"), "s@x").expect_err("refused");
        assert_eq!(e.exit.code(), 78);
        assert_eq!(
            from_header_value(None, Some("Joe"), "s@x").expect("ok"),
            "Joe <s@x>"
        );
        assert_eq!(from_header_value(None, None, "s@x").expect("ok"), "s@x");
    }
}
