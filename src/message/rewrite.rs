//! Which headers postie adds to or removes from a message (msmtp.md 5.3): a From header
//! (`set_from_header`, with `-F` or `from_full_name`), Date, Message-ID, the Bcc removal and
//! `undisclosed_recipients`. Every value written into a header is checked here: a full name
//! usually comes from a program (cron's `-FCronDaemon`, a web application's sender name), and a
//! line break in it would add headers or body text to the message.

use super::body::Rewrite;
use super::headers::HeaderBlock;
use super::msgid::{date_header_value, message_id};
use crate::config::{AutoOff, SetFromHeader, Settings};
use crate::error::{Error, Result};
use std::borrow::Cow;

/// The rewrite for a message with header block `headers`, sent from the envelope sender
/// `from` with the account's settings `s`. `full_name` is `-F`, which wins over
/// `from_full_name`.
pub fn for_message(
    s: &Settings,
    headers: &HeaderBlock,
    full_name: Option<&str>,
    from: &str,
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
        undisclosed_recipients: s.undisclosed_recipients,
        date: (s.set_date_header == AutoOff::Auto && !headers.has_date).then(date_header_value),
        message_id: (s.set_msgid_header == AutoOff::Auto && !headers.has_message_id)
            .then(|| message_id(from)),
        remove_bcc: s.remove_bcc_headers,
    })
}

/// The value of the From header postie adds: `NAME <ADDR>` with a full name, else `ADDR`. A
/// control character in the name is refused (64 for `-F`, 78 for `from_full_name`); a name
/// with RFC 5322 specials is quoted, since unquoted `Doe, John <j@x>` would name two mailboxes.
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
    Ok(format!("{} <{from}>", display_name(name)))
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
