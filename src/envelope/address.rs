//! Syntax of the addresses postie writes into `MAIL FROM:<...>` and `RCPT TO:<...>`.
//!
//! The envelope often comes from people and programs postie does not trust: PHP's `mail()`
//! passes its fifth parameter through as `-f`, web forms feed `-t` headers. An address with `>`
//! and a space in it (`a@b> RET=FULL ENVID=x <c`) would add ESMTP parameters to the command
//! (msmtp 1.8.23 sends it as it is), so every address is checked against RFC 5321's `Mailbox`
//! before it reaches the dialogue.
//!
//! Lenient where real mail needs it, strict where the command line could be changed:
//! - a bare local part (`root`, `fail2ban`) is accepted: cron, sudo and fail2ban send to and
//!   from unqualified logins and the server (or an aliases file) qualifies them;
//! - dots may lead, trail or repeat in a local part (`a..b@docomo.ne.jp` exists in the wild);
//! - non-ASCII UTF-8 is accepted (RFC 6531, sent with SMTPUTF8 when the server offers it);
//! - `_` is accepted in domain labels (internal host names use it);
//! - a quoted local part may hold anything printable, spaces included;
//! - nothing else outside `atext`: no space, `<`, `>`, `(`, `)`, `,`, `;`, `:`, `\`, `"`
//!   or control character outside quotes.

/// Why `addr` cannot be written into `MAIL FROM:<addr>` or `RCPT TO:<addr>`, or `None` if it
/// can. The empty string (the null reverse path) is the caller's decision.
pub fn problem(addr: &str) -> Option<&'static str> {
    if addr.is_empty() {
        return Some("it is empty");
    }
    if addr.contains(['\r', '\n', '\0']) {
        return Some("it contains a line break or NUL");
    }
    if addr.chars().any(|c| c.is_control()) {
        return Some("it contains a control character");
    }
    let (local, domain) = match split_local(addr) {
        Ok(parts) => parts,
        Err(reason) => return Some(reason),
    };
    if let Some(reason) = local_problem(local) {
        return Some(reason);
    }
    match domain {
        None => None,
        Some(d) => domain_problem(d),
    }
}

/// Splits at the `@` after the local part (a quoted local part may contain `@`).
fn split_local(addr: &str) -> Result<(&str, Option<&str>), &'static str> {
    let end = if addr.starts_with('"') {
        let mut escaped = false;
        let mut close = None;
        for (i, c) in addr.char_indices().skip(1) {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                close = Some(i + 1);
                break;
            }
        }
        match close {
            Some(i) => i,
            None => return Err("its quoted local part is not closed"),
        }
    } else {
        addr.find('@').unwrap_or(addr.len())
    };
    let (local, rest) = addr.split_at(end);
    match rest.strip_prefix('@') {
        Some(domain) => Ok((local, Some(domain))),
        None if rest.is_empty() => Ok((local, None)),
        None => Err("it has text after its quoted local part"),
    }
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

fn local_problem(local: &str) -> Option<&'static str> {
    if local.is_empty() {
        return Some("its local part is empty");
    }
    if let Some(inner) = local.strip_prefix('"') {
        let inner = inner.strip_suffix('"')?;
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            // qtextSMTP and quoted-pairSMTP: printable ASCII (and UTF-8), space included.
            if c == '\\' && chars.next().is_none() {
                return Some("its quoted local part ends in a backslash");
            }
            if c == '"' {
                return Some("its quoted local part has an unescaped quote");
            }
        }
        return None;
    }
    if local.chars().all(|c| c == '.' || is_atext(c)) {
        None
    } else if local.contains([' ', '\t']) {
        Some("it contains white space")
    } else if local.contains(['<', '>']) {
        Some("it contains an angle bracket")
    } else {
        Some("its local part has a character that needs quoting")
    }
}

fn domain_problem(domain: &str) -> Option<&'static str> {
    if let Some(literal) = domain.strip_prefix('[') {
        // address-literal: dcontent is printable ASCII except `[`, `\` and `]`; `<` and `>`
        // too, though RFC 5321 allows them: `MAIL FROM:<a@[x>]>` would end the path early.
        return match literal.strip_suffix(']') {
            Some(inner)
                if !inner.is_empty()
                    && inner
                        .bytes()
                        .all(|b| (33..=126).contains(&b) && !b"[\\]<>".contains(&b)) =>
            {
                None
            }
            Some(inner) if inner.contains(['<', '>']) => Some("it contains an angle bracket"),
            _ => Some("its address literal is malformed"),
        };
    }
    if domain.is_empty() {
        return Some("its domain is empty");
    }
    for label in domain.split('.') {
        if label.is_empty() {
            return Some("its domain has an empty label");
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || !c.is_ascii())
        {
            return Some(if domain.contains([' ', '\t']) {
                "it contains white space"
            } else if domain.contains(['<', '>']) {
                "it contains an angle bracket"
            } else {
                "its domain has a character that is not allowed in a host name"
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn accepts_what_clients_send() {
        for a in [
            "alice@example.org",
            "root",
            "fail2ban",
            "root@host",
            "a.b+tag@sub.example.org",
            "a..b.@docomo.ne.jp",
            "o'brien@example.ie",
            "\"john doe\"@example.org",
            "\"a@b\\\"c\"@example.org",
            "user@[192.0.2.1]",
            "user@[IPv6:2001:db8::1]",
            "MAILER-DAEMON",
            "jürgen@müller.example",
            "bounce-123=x@lists_internal.example",
            "!#$%&'*+-/=?^_`{|}~@example.org",
        ] {
            assert_eq!(problem(a), None, "{a}");
        }
    }

    #[test]
    fn refuses_parameter_and_command_injection() {
        for (a, why) in [
            ("a@b> RET=FULL ENVID=inj <x", "it contains white space"),
            ("a@b>", "it contains an angle bracket"),
            ("<a@b", "it contains an angle bracket"),
            ("a b@c", "it contains white space"),
            ("a@b\r\nRCPT TO:<x>", "it contains a line break or NUL"),
            ("a@b\0", "it contains a line break or NUL"),
            ("a@b\u{7f}", "it contains a control character"),
            ("a@b c", "it contains white space"),
            ("a,b@c", "its local part has a character that needs quoting"),
            (
                "a@b,c",
                "its domain has a character that is not allowed in a host name",
            ),
            ("<?=`id`?>@x", "it contains an angle bracket"),
            ("", "it is empty"),
            ("@b", "its local part is empty"),
            ("a@", "its domain is empty"),
            ("a@b..c", "its domain has an empty label"),
            ("\"open@b", "its quoted local part is not closed"),
            ("\"a\"b@c", "it has text after its quoted local part"),
            ("a@[1.2.3.4", "its address literal is malformed"),
            ("a@[1.2 3.4]", "its address literal is malformed"),
            // Found by the fuzz target `address` (issue 15): RFC 5321's dcontent has `>`.
            ("a@[x>]", "it contains an angle bracket"),
            ("a@[<x]", "it contains an angle bracket"),
            ("@a,@b:c@d", "its local part is empty"),
        ] {
            assert_eq!(problem(a), Some(why), "{a:?}");
        }
    }
}
