//! One SMTP command line as a server reads it (RFC 5321 section 4.1), parsed without I/O:
//! [`parse_command`] is a pure function of the line's bytes, so it is unit-tested here and
//! fuzzed from outside.
//!
//! Lenient where real clients differ, strict where the envelope could be bent:
//! - verbs are case-insensitive, a trailing CR is ignored, and `MAIL FROM: <a@b>` (space
//!   after the colon) and a path without angle brackets are accepted, as Postfix does;
//! - a source route (`<@relay:user@host>`) is dropped (RFC 5321 4.1.1.3 allows it);
//! - every address must be one RFC 5321 mailbox ([`crate::envelope::address`]): no white
//!   space, no angle bracket, no control character, so nothing the client sends can add
//!   parameters to what postie sends upstream;
//! - MAIL takes `SIZE=`, `BODY=7BIT|8BITMIME` and `SMTPUTF8`; RCPT takes no parameter
//!   (DSN is not advertised); any other parameter is refused with 555.

use crate::envelope::address;
use crate::reply::Reply;
use crate::smtp::{BodyType, MailParams};

/// What a command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `HELO domain`.
    Helo(String),
    /// `EHLO domain`.
    Ehlo(String),
    /// `MAIL FROM:<path> [params]`; `""` is the null reverse path.
    Mail { from: String, params: MailParams },
    /// `RCPT TO:<path>`.
    Rcpt { to: String },
    /// `DATA`.
    Data,
    /// `RSET`.
    Rset,
    /// `NOOP [string]`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `VRFY string`: answered 252 (RFC 5321 3.5.3: no verification, but mail is accepted).
    Vrfy,
    /// `EXPN string`.
    Expn,
    /// `HELP [string]`.
    Help,
    /// A command postie knows but does not offer (`STARTTLS`, `AUTH`, `BDAT`, `ETRN`, ...).
    NotImplemented(String),
    /// A verb postie does not know.
    Unknown,
    /// A known verb with bad syntax, or a refused address or parameter: the reply to give.
    Refused(Reply),
}

/// A one-line reply `CODE TEXT`.
pub fn reply(code: u16, text: &str) -> Reply {
    Reply {
        code,
        lines: vec![format!("{code} {text}")],
    }
}

/// Parses one command line (its line end, CRLF or LF, may be present or not).
pub fn parse_command(line: &[u8]) -> Command {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.contains(&0) {
        return Command::Refused(reply(500, "5.5.2 Error: NUL character in command"));
    }
    let Ok(line) = std::str::from_utf8(line) else {
        return Command::Refused(reply(500, "5.5.2 Error: the command is not valid UTF-8"));
    };
    let (verb, arg) = match line.find(' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, ""),
    };
    let upper = verb.to_ascii_uppercase();
    let no_arg = |c: Command, syntax: &str| {
        if arg.trim().is_empty() {
            c
        } else {
            Command::Refused(reply(501, &format!("5.5.4 Syntax: {syntax}")))
        }
    };
    match upper.as_str() {
        "HELO" | "EHLO" => {
            let domain = arg.trim();
            if domain.is_empty() {
                return Command::Refused(reply(501, &format!("5.5.4 Syntax: {upper} hostname")));
            }
            if upper == "HELO" {
                Command::Helo(domain.to_owned())
            } else {
                Command::Ehlo(domain.to_owned())
            }
        }
        "MAIL" => parse_mail(arg),
        "RCPT" => parse_rcpt(arg),
        "DATA" => no_arg(Command::Data, "DATA"),
        "RSET" => no_arg(Command::Rset, "RSET"),
        "QUIT" => no_arg(Command::Quit, "QUIT"),
        "NOOP" => Command::Noop,
        "VRFY" => Command::Vrfy,
        "EXPN" => Command::Expn,
        "HELP" => Command::Help,
        "STARTTLS" | "AUTH" | "BDAT" | "ETRN" | "TURN" | "ATRN" | "SEND" | "SOML" | "SAML"
        | "XCLIENT" | "XFORWARD" => Command::NotImplemented(upper),
        _ => Command::Unknown,
    }
}

/// `FROM:<path> params` (the text after `MAIL `).
fn parse_mail(arg: &str) -> Command {
    let Some(rest) = strip_prefix_ci(arg, "FROM:") else {
        return Command::Refused(reply(501, "5.5.4 Syntax: MAIL FROM:<address>"));
    };
    let (from, params) = match split_path(rest) {
        Ok(p) => p,
        Err(why) => {
            return Command::Refused(reply(
                501,
                &format!("5.1.7 Bad sender address syntax: {why}"),
            ));
        }
    };
    if !from.is_empty()
        && let Some(why) = address::problem(&from)
    {
        return Command::Refused(reply(
            553,
            &format!("5.1.7 Bad sender address syntax: {why}"),
        ));
    }
    let mut mp = MailParams::default();
    for p in params.split(' ').filter(|p| !p.is_empty()) {
        let (key, value) = match p.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (p, None),
        };
        match (key.to_ascii_uppercase().as_str(), value) {
            ("SIZE", Some(v))
                if !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()) =>
            {
                match v.parse() {
                    Ok(n) => mp.size = Some(n),
                    Err(_) => return Command::Refused(reply(501, "5.5.4 Bad SIZE parameter")),
                }
            }
            ("SIZE", _) => return Command::Refused(reply(501, "5.5.4 Bad SIZE parameter")),
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => {
                mp.body = Some(BodyType::SevenBit)
            }
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => {
                mp.body = Some(BodyType::EightBitMime);
            }
            ("BODY", _) => return Command::Refused(reply(501, "5.5.4 Unsupported BODY parameter")),
            ("SMTPUTF8", None) => mp.smtputf8 = true,
            _ => {
                return Command::Refused(reply(
                    555,
                    &format!("5.5.4 Unsupported option: {}", crate::ui::sanitize(key)),
                ));
            }
        }
    }
    Command::Mail { from, params: mp }
}

/// `TO:<path>` (the text after `RCPT `).
fn parse_rcpt(arg: &str) -> Command {
    let Some(rest) = strip_prefix_ci(arg, "TO:") else {
        return Command::Refused(reply(501, "5.5.4 Syntax: RCPT TO:<address>"));
    };
    let (to, params) = match split_path(rest) {
        Ok(p) => p,
        Err(why) => {
            return Command::Refused(reply(
                501,
                &format!("5.1.3 Bad recipient address syntax: {why}"),
            ));
        }
    };
    if let Some(why) = address::problem(&to) {
        return Command::Refused(reply(
            553,
            &format!("5.1.3 Bad recipient address syntax: {why}"),
        ));
    }
    if let Some(p) = params.split(' ').find(|p| !p.is_empty()) {
        let key = p.split('=').next().unwrap_or(p);
        return Command::Refused(reply(
            555,
            &format!("5.5.4 Unsupported option: {}", crate::ui::sanitize(key)),
        ));
    }
    Command::Rcpt { to }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Splits `<path> params` into the address (source route dropped) and the parameter text.
/// A path without brackets ends at the first space.
fn split_path(s: &str) -> Result<(String, &str), &'static str> {
    let s = s.trim_start_matches(' ');
    let (path, rest) = if let Some(inner) = s.strip_prefix('<') {
        // The closing bracket is the first `>` outside a quoted local part.
        let mut quoted = false;
        let mut escaped = false;
        let mut close = None;
        for (i, c) in inner.char_indices() {
            if escaped {
                escaped = false;
            } else if quoted && c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = !quoted;
            } else if c == '>' && !quoted {
                close = Some(i);
                break;
            }
        }
        let Some(i) = close else {
            return Err("the address has no closing angle bracket");
        };
        let rest = &inner[i + 1..];
        if !rest.is_empty() && !rest.starts_with(' ') {
            return Err("text after the closing angle bracket");
        }
        (&inner[..i], rest)
    } else {
        match s.find(' ') {
            Some(i) => (&s[..i], &s[i..]),
            None => (s, ""),
        }
    };
    // A source route `@a,@b:mailbox`: RFC 5321 says it must be accepted and may be ignored.
    let path = match path.strip_prefix('@') {
        Some(route) => match route.find(':') {
            Some(i) => &route[i + 1..],
            None => return Err("a source route without a mailbox"),
        },
        None => path,
    };
    Ok((path.to_owned(), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_code(c: Command) -> u16 {
        match c {
            Command::Refused(r) => r.code,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn verbs_are_case_insensitive_and_line_ends_are_ignored() {
        assert_eq!(parse_command(b"quit\r\n"), Command::Quit);
        assert_eq!(parse_command(b"QUIT\n"), Command::Quit);
        assert_eq!(parse_command(b"Data"), Command::Data);
        assert_eq!(parse_command(b"noop whatever"), Command::Noop);
        assert_eq!(
            parse_command(b"EHLO client.example\r\n"),
            Command::Ehlo("client.example".into())
        );
        assert_eq!(parse_command(b"helo x"), Command::Helo("x".into()));
        assert_eq!(parse_command(b"VRFY root"), Command::Vrfy);
        assert_eq!(
            parse_command(b"STARTTLS"),
            Command::NotImplemented("STARTTLS".into())
        );
        assert_eq!(
            parse_command(b"AUTH PLAIN AAAA"),
            Command::NotImplemented("AUTH".into())
        );
        assert_eq!(parse_command(b"BOGUS"), Command::Unknown);
        assert_eq!(parse_command(b""), Command::Unknown);
    }

    #[test]
    fn mail_paths_and_parameters() {
        assert_eq!(
            parse_command(b"MAIL FROM:<a@b.c>"),
            Command::Mail {
                from: "a@b.c".into(),
                params: MailParams::default()
            }
        );
        assert_eq!(
            parse_command(b"mail from: <a@b.c> size=123 BODY=8bitmime SMTPUTF8"),
            Command::Mail {
                from: "a@b.c".into(),
                params: MailParams {
                    size: Some(123),
                    body: Some(BodyType::EightBitMime),
                    smtputf8: true
                }
            }
        );
        assert_eq!(
            parse_command(b"MAIL FROM:<>"),
            Command::Mail {
                from: String::new(),
                params: MailParams::default()
            }
        );
        assert_eq!(
            parse_command(b"MAIL FROM:a@b.c"),
            Command::Mail {
                from: "a@b.c".into(),
                params: MailParams::default()
            }
        );
        assert_eq!(
            parse_command(b"MAIL FROM:<@relay.example,@r2:a@b.c>"),
            Command::Mail {
                from: "a@b.c".into(),
                params: MailParams::default()
            }
        );
        assert_eq!(
            parse_command("MAIL FROM:<j\u{fc}rgen@example.org> SMTPUTF8".as_bytes()),
            Command::Mail {
                from: "j\u{fc}rgen@example.org".into(),
                params: MailParams {
                    smtputf8: true,
                    ..MailParams::default()
                }
            }
        );
        assert_eq!(
            parse_command(b"MAIL FROM:<\"a>b\"@c.d>"),
            Command::Mail {
                from: "\"a>b\"@c.d".into(),
                params: MailParams::default()
            }
        );
    }

    #[test]
    fn bad_mail_commands_are_refused() {
        assert_eq!(refused_code(parse_command(b"MAIL")), 501);
        assert_eq!(refused_code(parse_command(b"MAIL TO:<a@b>")), 501);
        assert_eq!(refused_code(parse_command(b"MAIL FROM:<a@b")), 501);
        assert_eq!(refused_code(parse_command(b"MAIL FROM:<a@b>x")), 501);
        assert_eq!(refused_code(parse_command(b"MAIL FROM:<a b@c>")), 553);
        assert_eq!(
            refused_code(parse_command(b"MAIL FROM:<a@b> RET=FULL")),
            555
        );
        assert_eq!(refused_code(parse_command(b"MAIL FROM:<a@b> SIZE=x")), 501);
        assert_eq!(
            refused_code(parse_command(
                b"MAIL FROM:<a@b> SIZE=99999999999999999999999"
            )),
            501
        );
        assert_eq!(
            refused_code(parse_command(b"MAIL FROM:<a@b> BODY=BINARYMIME")),
            501
        );
        assert_eq!(refused_code(parse_command(b"MAIL FROM:<a\x01@b>")), 553);
        assert_eq!(refused_code(parse_command(b"MAIL FROM:<a@b>\0")), 500);
        assert_eq!(refused_code(parse_command(b"MAIL FROM:<\xff@b>")), 500);
    }

    #[test]
    fn rcpt_commands() {
        assert_eq!(
            parse_command(b"RCPT TO:<r@x.y>"),
            Command::Rcpt { to: "r@x.y".into() }
        );
        assert_eq!(
            parse_command(b"rcpt to:postmaster"),
            Command::Rcpt {
                to: "postmaster".into()
            }
        );
        assert_eq!(refused_code(parse_command(b"RCPT TO:<>")), 553);
        assert_eq!(
            refused_code(parse_command(b"RCPT TO:<r@x> NOTIFY=NEVER")),
            555
        );
        assert_eq!(
            refused_code(parse_command(b"RCPT TO:<r@x> ORCPT=rfc822;r@x")),
            555
        );
        assert_eq!(refused_code(parse_command(b"RCPT FROM:<r@x>")), 501);
        assert_eq!(refused_code(parse_command(b"RCPT TO:<r@x> <s@y>")), 555);
    }

    #[test]
    fn arguments_where_none_belong_are_refused() {
        assert_eq!(refused_code(parse_command(b"DATA now")), 501);
        assert_eq!(refused_code(parse_command(b"QUIT now")), 501);
        assert_eq!(refused_code(parse_command(b"EHLO")), 501);
        assert_eq!(refused_code(parse_command(b"HELO  ")), 501);
    }

    #[test]
    fn any_bytes_parse_without_panicking() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for len in 0..300 {
            let line: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    b"MAILFROMRCPTTO:<>@ =\"\\\r\n\0\xc3\xff.a"[(seed % 26) as usize]
                })
                .collect();
            let _ = parse_command(&line);
        }
    }
}
