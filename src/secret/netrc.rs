//! `.netrc` lookup as msmtp does it: the first entry whose `machine` equals the host exactly
//! (case-sensitive) and whose `login` equals the user. Entries without `login` and `default`
//! entries never match. Tokens may be quoted with `"` or `'`; `#` at the start of a token
//! starts a comment; `macdef` bodies run to the next blank line.

use std::path::Path;

/// Look up the password for `user` at `host` in the file at `path`; a missing or unreadable
/// file simply has no entry.
pub fn find_in_file(path: &Path, host: &str, user: &str) -> Option<String> {
    let text = std::fs::read(path).ok()?;
    find(&String::from_utf8_lossy(&text), host, user)
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
    fn macdef_body_is_skipped() {
        let t = "macdef init\nmachine mx login joe password bad\n\nmachine mx login joe password good\n";
        assert_eq!(find(t, "mx", "joe").as_deref(), Some("good"));
    }
}
