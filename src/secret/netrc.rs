//! `.netrc` lookup as msmtp does it: the first entry whose `machine` equals the host exactly
//! (case-sensitive) and whose `login` equals the user. Entries without `login` and `default`
//! entries never match. Tokens may be quoted with `"` or `'`; `#` at the start of a token
//! starts a comment; `macdef` bodies run to the next blank line.

use crate::error::{Error, Result};
use crate::fsread::{self, ReadError};
use std::path::Path;

/// The largest netrc file postie reads; real ones hold a few entries.
pub const MAX_FILE_SIZE: usize = fsread::MIB;

/// Look up the password for `user` at `host` in the file at `path`; a missing or unreadable
/// file simply has no entry. A file over [`MAX_FILE_SIZE`] is an error (78): skipping it would
/// hide the reason why the password is not found.
pub fn find_in_file(path: &Path, host: &str, user: &str) -> Result<Option<String>> {
    let text = match fsread::read(path, MAX_FILE_SIZE) {
        Ok(t) => t,
        Err(ReadError::Io(_)) => return Ok(None),
        Err(ReadError::TooLarge(t)) => {
            return Err(Error::config(format!("{}: {t}", path.display())));
        }
    };
    Ok(find(&String::from_utf8_lossy(&text), host, user))
}

/// Look up the password for `user` at `host` in netrc text.
pub fn find(text: &str, host: &str, user: &str) -> Option<String> {
    let tokens = tokenize(text);
    let mut entries = Vec::new();
    let mut current: Option<Entry> = None;
    let mut it = tokens.into_iter();
    while let Some(tok) = it.next() {
        match tok.as_str() {
            "machine" => {
                entries.extend(current.take());
                current = it.next().map(|m| Entry {
                    machine: Some(m),
                    ..Entry::default()
                });
            }
            "default" => {
                entries.extend(current.take());
                current = Some(Entry::default());
            }
            "login" | "user" => {
                if let (Some(e), Some(v)) = (current.as_mut(), it.next()) {
                    e.login = Some(v);
                }
            }
            "password" | "passwd" => {
                if let (Some(e), Some(v)) = (current.as_mut(), it.next()) {
                    e.password = Some(v);
                }
            }
            "account" => {
                it.next();
            }
            "macdef" => {
                // The macro body was dropped by the tokenizer; only its name follows.
                it.next();
            }
            _ => {}
        }
    }
    entries.extend(current);
    entries
        .into_iter()
        .find(|e| e.machine.as_deref() == Some(host) && e.login.as_deref() == Some(user))
        .and_then(|e| e.password)
}

#[derive(Default)]
struct Entry {
    machine: Option<String>,
    login: Option<String>,
    password: Option<String>,
}

fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let mut chars = line.chars().peekable();
        let mut in_macdef = false;
        loop {
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            let Some(&c) = chars.peek() else { break };
            if c == '#' {
                break;
            }
            let mut tok = String::new();
            if c == '"' || c == '\'' {
                chars.next();
                for ch in chars.by_ref() {
                    if ch == c {
                        break;
                    }
                    tok.push(ch);
                }
            } else {
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() {
                        break;
                    }
                    tok.push(ch);
                    chars.next();
                }
            }
            if tok == "macdef" {
                in_macdef = true;
            }
            tokens.push(tok);
        }
        if in_macdef {
            // A macro definition runs until an empty line.
            for l in lines.by_ref() {
                if l.trim().is_empty() {
                    break;
                }
            }
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_machine_and_login() {
        let t = "machine a login x password 1\nmachine mx login joe password first\nmachine mx login joe password second\n";
        assert_eq!(find(t, "mx", "joe").as_deref(), Some("first"));
    }

    #[test]
    fn host_match_is_case_sensitive() {
        assert_eq!(find("machine MX login joe password p", "mx", "joe"), None);
    }

    #[test]
    fn entries_without_login_and_default_never_match() {
        assert_eq!(find("machine mx password p", "mx", "joe"), None);
        assert_eq!(find("default login joe password p", "mx", "joe"), None);
    }

    #[test]
    fn quoted_tokens_comments_and_synonyms() {
        let t = "# comment\nmachine mx user joe passwd \"p w\" account acct\n";
        assert_eq!(find(t, "mx", "joe").as_deref(), Some("p w"));
        assert_eq!(
            find("machine mx login 'joe' password 'x y'", "mx", "joe").as_deref(),
            Some("x y")
        );
    }

    #[test]
    fn files_over_the_limit_are_an_error_and_unreadable_ones_have_no_entry() {
        let e = find_in_file(Path::new("/dev/zero"), "mx", "joe").expect_err("too large");
        assert_eq!(e.exit, crate::error::Sysexit::Config);
        assert_eq!(
            e.message,
            "/dev/zero: file is too large (over 1048576 bytes)"
        );
        assert_eq!(
            find_in_file(Path::new("/nonexistent/netrc"), "mx", "joe").ok(),
            Some(None)
        );
        assert_eq!(find_in_file(Path::new("/"), "mx", "joe").ok(), Some(None));
        let d = tempfile::tempdir().expect("dir");
        let p = d.path().join("netrc");
        std::fs::write(&p, "machine mx login joe password pw\n").expect("write");
        assert_eq!(
            find_in_file(&p, "mx", "joe").ok(),
            Some(Some("pw".to_string()))
        );
    }

    #[test]
    fn macdef_body_is_skipped() {
        let t = "macdef init\nmachine mx login joe password bad\n\nmachine mx login joe password good\n";
        assert_eq!(find(t, "mx", "joe").as_deref(), Some("good"));
    }
}
