//! Account selection and the envelope-from override (msmtp.md 3.1–3.3), plus postie's
//! selection by the mail's From header.
//!
//! Matching follows msmtp 1.8.25 (whole address first, then with `+detail` removed; glob
//! patterns tried in both steps), and `allow_from_override` follows 1.8.24 (inherited like
//! every other setting; it only blocks command-line overrides).

use crate::config::{Account, Config, Settings};
use crate::error::{Error, Result};

/// What the command line and the mail say about which account to use.
#[derive(Clone, Debug, Default)]
pub struct Request<'a> {
    /// `-a ID`.
    pub account: Option<&'a str>,
    /// `--host`: a pure command-line account, no files read.
    pub host: Option<&'a str>,
    /// From `-f` (`<>` = empty), or the From header address with `--read-envelope-from`.
    pub envelope_from: Option<&'a str>,
    /// `--read-envelope-from` was given (with `envelope_from` `None` it found no address:
    /// msmtp then leaves the envelope-from unset and `-P` prints `(read from mail)`).
    pub read_envelope_from: bool,
    /// The first From: address of the mail, for postie's selection by From header.
    pub from_header: Option<&'a str>,
    /// Command-line settings as (command, argument) pairs, applied after selection.
    pub overrides: &'a [(String, String)],
    pub sendmail_mode: bool,
}

/// The chosen account and the `-P`/`-d` info lines that explain the choice.
#[derive(Clone, Debug)]
pub struct Selected {
    pub account: Account,
    pub info: Vec<String>,
}

/// fnmatch(3) with flags 0: `?`, `*` (crossing `/` and `.`), `[...]` with `!`/`^`, ranges and
/// `[:class:]`, and backslash escapes. Case-sensitive.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob_at(&p, &t)
}

fn glob_at(p: &[char], t: &[char]) -> bool {
    let (mut pi, mut ti) = (0, 0);
    // Backtracking point for the last `*`: (pattern index after it, text index it covers to).
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi + 1, ti));
                    pi += 1;
                    continue;
                }
                '?' if ti < t.len() => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' if ti < t.len() => {
                    if let Some((matched, next)) = bracket(p, pi, t[ti]) {
                        if matched {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        // an unterminated bracket is a literal '['
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() && ti < t.len() && t[ti] == p[pi + 1] => {
                    pi += 2;
                    ti += 1;
                    continue;
                }
                '\\' if pi + 1 < p.len() => {}
                c if c != '?' && c != '[' && ti < t.len() && t[ti] == c => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        } else if ti == t.len() {
            return true;
        }
        match star {
            Some((sp, st)) if st < t.len() => {
                star = Some((sp, st + 1));
                pi = sp;
                ti = st + 1;
            }
            _ => return false,
        }
    }
}

/// Match `c` against the bracket expression starting at `p[start] == '['`. Returns whether it
/// matched and the index after `]`, or `None` if the bracket is not terminated.
fn bracket(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let ch = *p.get(i)?;
        if ch == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if ch == '[' && p.get(i + 1) == Some(&':') {
            let rest: String = p[i + 2..].iter().collect();
            if let Some(end) = rest.find(":]") {
                let class = &rest[..end];
                matched |= match class {
                    "alpha" => c.is_ascii_alphabetic(),
                    "digit" => c.is_ascii_digit(),
                    "alnum" => c.is_ascii_alphanumeric(),
                    "upper" => c.is_ascii_uppercase(),
                    "lower" => c.is_ascii_lowercase(),
                    "space" => c.is_ascii_whitespace() || c == '\x0b',
                    "punct" => c.is_ascii_punctuation(),
                    "xdigit" => c.is_ascii_hexdigit(),
                    "blank" => c == ' ' || c == '\t',
                    "cntrl" => c.is_ascii_control(),
                    "print" => c.is_ascii_graphic() || c == ' ',
                    "graph" => c.is_ascii_graphic(),
                    _ => false,
                };
                i += 2 + class.chars().count() + 2;
                continue;
            }
        }
        let lo = if ch == '\\' && i + 1 < p.len() {
            i += 1;
            p[i]
        } else {
            ch
        };
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&h| h != ']') {
            let mut hi = p[i + 2];
            i += 2;
            if hi == '\\' && i + 1 < p.len() {
                i += 1;
                hi = p[i];
            }
            matched |= lo <= c && c <= hi;
        } else {
            matched |= lo == c;
        }
        i += 1;
    }
}

fn is_pattern(from: &str) -> bool {
    from.contains(['?', '*', '['])
}

fn matches_one(account_from: &str, addr: &str) -> bool {
    if is_pattern(account_from) {
        glob_match(account_from, addr)
    } else {
        account_from.eq_ignore_ascii_case(addr)
    }
}

/// `user+detail@domain` → `user@domain`; `None` when there is no `+` in the local part.
fn strip_detail(addr: &str) -> Option<String> {
    let at = addr.rfind('@')?;
    let plus = addr[..at].find('+')?;
    Some(format!("{}{}", &addr[..plus], &addr[at..]))
}

/// Whether an account's (unexpanded) `from` matches an address: the whole address first, then
/// the address without its `+detail`.
pub fn from_matches(account_from: &str, addr: &str) -> bool {
    matches_one(account_from, addr)
        || strip_detail(addr).is_some_and(|a| matches_one(account_from, &a))
}

fn find_by_from<'c>(accounts: &'c [Account], addr: &str) -> Option<&'c Account> {
    accounts.iter().find(|a| {
        a.settings
            .from
            .as_deref()
            .is_some_and(|f| from_matches(f, addr))
    })
}

fn not_found(config: Option<&Config>, id: &str) -> Error {
    let msg = match config {
        Some(c) if c.system_loaded && c.user_loaded => format!(
            "account {id} not found in {} and {}",
            c.system_file.display(),
            c.user_file.display()
        ),
        Some(c) if c.system_loaded => {
            format!("account {id} not found in {}", c.system_file.display())
        }
        Some(c) if c.user_loaded => format!("account {id} not found in {}", c.user_file.display()),
        _ => format!("account {id} not found: no configuration file available"),
    };
    Error::config(msg)
}

/// The environment variables the fallback account reads.
pub struct EnvFallback {
    pub smtpserver: Option<String>,
    pub email: Option<String>,
}

impl EnvFallback {
    fn from_env() -> EnvFallback {
        EnvFallback {
            smtpserver: std::env::var("SMTPSERVER").ok(),
            email: std::env::var("EMAIL").ok(),
        }
    }
}

/// Choose the account (msmtp.md 3.1), apply the envelope-from override (3.2, 3.3) and the
/// command-line settings.
pub fn select(config: Option<&Config>, req: &Request) -> Result<Selected> {
    select_with_env(config, req, &EnvFallback::from_env())
}

/// [`select`], pushing the info lines to `info` as they arise so that those preceding an error
/// (`falling back to default account` before `account default not found ...`) can be printed.
pub fn select_collecting(
    config: Option<&Config>,
    req: &Request,
    info: &mut Vec<String>,
) -> Result<Account> {
    select_inner(config, req, &EnvFallback::from_env(), info)
}

/// [`select`] with the `SMTPSERVER`/`EMAIL` values given explicitly.
pub fn select_with_env(
    config: Option<&Config>,
    req: &Request,
    env: &EnvFallback,
) -> Result<Selected> {
    let mut info = Vec::new();
    let account = select_inner(config, req, env, &mut info)?;
    Ok(Selected { account, info })
}

fn select_inner(
    config: Option<&Config>,
    req: &Request,
    env: &EnvFallback,
    info: &mut Vec<String>,
) -> Result<Account> {
    let envelope_from = req.envelope_from.map(|f| if f == "<>" { "" } else { f });
    let mut from_header_choice: Option<&str> = None;

    let mut account = if let Some(host) = req.host {
        let mut a = Account::new("cmdline", None, &Settings::default());
        apply_override(&mut a, "host", host)?;
        info.push("using account specified on command line".to_string());
        a
    } else {
        let accounts: &[Account] = config.map(|c| c.accounts.as_slice()).unwrap_or(&[]);
        let mut fallback_allowed = false;
        let mut chosen: Option<&Account> = None;
        let mut id = "default";
        if let Some(name) = req.account {
            id = name;
            chosen = accounts.iter().find(|a| a.name == name);
        } else if let Some(addr) = envelope_from {
            if let Some(a) = find_by_from(accounts, addr) {
                info.push(format!(
                    "account chosen by envelope from address {addr}: {}",
                    a.name
                ));
                chosen = Some(a);
            }
        } else if let (Some(addr), true, false) = (
            req.from_header,
            config.is_some_and(|c| c.select_account_by_from),
            req.read_envelope_from,
        ) && let Some(a) = find_by_from(accounts, addr)
        {
            info.push(format!(
                "account chosen by From header address {addr}: {}",
                a.name
            ));
            from_header_choice = Some(addr);
            chosen = Some(a);
        }
        if chosen.is_none() && req.account.is_none() {
            info.push("falling back to default account".to_string());
            fallback_allowed = true;
            chosen = accounts.iter().find(|a| a.name == "default");
        }
        match chosen {
            // msmtp prints `using account ID from FILE` only once the account has passed
            // check_account: that line is the head of `describe`.
            Some(a) => a.clone(),
            None => match &env.smtpserver {
                Some(server)
                    if fallback_allowed
                        && (!req.sendmail_mode
                            || envelope_from.is_some()
                            || env.email.is_some()) =>
                {
                    info.push("using environment variables EMAIL and SMTPSERVER".to_string());
                    let mut a = Account::new("cmdline", None, &Settings::default());
                    apply_override(&mut a, "host", server)?;
                    if envelope_from.is_none()
                        && let Some(email) = &env.email
                    {
                        apply_override(&mut a, "from", email)?;
                    }
                    a
                }
                _ => return Err(not_found(config, id)),
            },
        }
    };

    let from_override = envelope_from.or(from_header_choice);
    if account.settings.allow_from_override {
        if let Some(addr) = from_override {
            apply_override(&mut account, "from", addr)?;
        } else if req.read_envelope_from {
            account.settings.from = None;
            account.from_pending = true;
        }
    }
    for (cmd, arg) in req.overrides {
        if cmd == "from" {
            if account.settings.allow_from_override {
                let arg = if arg == "<>" { "" } else { arg.as_str() };
                apply_override(&mut account, "from", arg)?;
                account.from_pending = false;
            }
        } else {
            apply_override(&mut account, cmd, arg)?;
        }
    }
    Ok(account)
}

fn apply_override(account: &mut Account, cmd: &str, arg: &str) -> Result<()> {
    account
        .apply(cmd, arg)
        .map_err(|e| Error::usage(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse::{ParseEnv, parse_bytes};
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    #[test]
    fn glob_basics() {
        assert!(glob_match("*@example.com", "a@example.com"));
        assert!(glob_match("*", "a/b.c"));
        assert!(glob_match("a?c@x", "abc@x"));
        assert!(!glob_match("a?c@x", "ac@x"));
        assert!(glob_match("[abc]*@x", "bob@x"));
        assert!(!glob_match("[!abc]*@x", "bob@x"));
        assert!(glob_match("[^abc]*@x", "zed@x"));
        assert!(glob_match("[a-c]@x", "b@x"));
        assert!(!glob_match("[a-c]@x", "d@x"));
        assert!(glob_match("[]]x", "]x"));
        assert!(glob_match("[[:digit:]]*", "1abc"));
        assert!(glob_match("\\*x", "*x"));
        assert!(!glob_match("\\*x", "ax"));
        assert!(glob_match("[x", "[x"));
        assert!(glob_match("*a*b*c", "xxaxxbxxc"));
        assert!(!glob_match("*a*b*c", "xxaxxbxx"));
    }

    #[test]
    fn glob_is_case_sensitive_equality_is_not() {
        assert!(!glob_match("*@Example.com", "a@example.com"));
        assert!(from_matches("A@Example.COM", "a@example.com"));
        assert!(!from_matches("*@Example.com", "a@example.com"));
    }

    #[test]
    fn plus_detail_stripped_after_whole_address() {
        assert!(from_matches("joe@x.org", "joe+list@x.org"));
        assert!(from_matches("joe+list@x.org", "joe+list@x.org"));
        assert!(!from_matches("joe+other@x.org", "joe+list@x.org"));
        // fixed 1.8.25: patterns are tried for + addresses too
        assert!(from_matches("*@x.org", "joe+list@x.org"));
        assert!(from_matches("joe@*", "joe+list@x.org"));
        assert_eq!(strip_detail("a+b@c+d"), Some("a@c+d".to_string()));
        assert_eq!(strip_detail("a@c+d"), None);
    }

    fn config(files: &[(&str, &str)]) -> Config {
        let env = ParseEnv {
            home: "/home/u".into(),
            eval_timeout: Duration::from_secs(5),
        };
        let mut accounts = Vec::new();
        for (name, content) in files {
            let p = parse_bytes(Path::new(name), content.as_bytes(), &env).unwrap();
            accounts.retain(|a: &Account| !p.accounts.iter().any(|u| u.name == a.name));
            accounts.extend(p.accounts);
        }
        Config {
            accounts,
            system_file: PathBuf::from("/etc/msmtprc"),
            user_file: PathBuf::from(files.last().map(|f| f.0).unwrap_or("rc")),
            info: vec![],
            select_account_by_from: true,
            trust_sendmail_argv: false,
            system_loaded: files.len() > 1,
            user_loaded: !files.is_empty(),
        }
    }

    const NOENV: EnvFallback = EnvFallback {
        smtpserver: None,
        email: None,
    };

    fn sel(c: &Config, req: &Request) -> Result<Selected> {
        select_with_env(Some(c), req, &NOENV)
    }

    const RC: &str = "account a\nhost ha\nfrom a@example.com\n\
                      account b\nhost hb\nfrom *@example.com\n\
                      account c\nhost hc\nfrom c@other.org\nallow_from_override off\n\
                      account default : a\n";

    #[test]
    fn selection_by_envelope_from_first_match() {
        let c = config(&[("rc", RC)]);
        let r = sel(
            &c,
            &Request {
                envelope_from: Some("x@example.com"),
                sendmail_mode: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.account.name, "b");
        assert_eq!(r.account.settings.from.as_deref(), Some("x@example.com"));
        assert_eq!(
            r.info,
            ["account chosen by envelope from address x@example.com: b"]
        );
        let r = sel(
            &c,
            &Request {
                envelope_from: Some("A@EXAMPLE.com"),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.account.name, "a");
    }

    #[test]
    fn selection_searches_system_only_accounts_first() {
        let c = config(&[
            (
                "/etc/msmtprc",
                "account s1\nhost s1\nfrom x@y\naccount u1\nhost sysu1\n",
            ),
            ("urc", "account u1\nhost useru1\nfrom x@y\n"),
        ]);
        let r = sel(
            &c,
            &Request {
                envelope_from: Some("x@y"),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.account.name, "s1");
        assert_eq!(r.account.file.as_deref(), Some(Path::new("/etc/msmtprc")));
    }

    #[test]
    fn fallback_to_default_when_nothing_matches() {
        let c = config(&[("rc", RC)]);
        let r = sel(
            &c,
            &Request {
                envelope_from: Some("nobody@nowhere"),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.account.name, "default");
        assert_eq!(r.account.settings.from.as_deref(), Some("nobody@nowhere"));
        assert_eq!(r.info, ["falling back to default account"]);
    }

    #[test]
    fn allow_from_override_off_blocks_f_but_not_selection() {
        let c = config(&[("rc", RC)]);
        let r = sel(
            &c,
            &Request {
                envelope_from: Some("C@other.org"),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.account.name, "c");
        assert_eq!(r.account.settings.from.as_deref(), Some("c@other.org"));
        let r = sel(
            &c,
            &Request {
                account: Some("c"),
                read_envelope_from: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.account.settings.from.as_deref(), Some("c@other.org"));
        assert!(!r.account.from_pending);
    }

    #[test]
    fn read_envelope_from_without_address_leaves_from_pending() {
        let c = config(&[("rc", RC)]);
        let r = sel(
            &c,
            &Request {
                account: Some("a"),
                read_envelope_from: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.account.settings.from, None);
        assert!(r.account.from_pending);
    }

    #[test]
    fn empty_envelope_from() {
        let c = config(&[("rc", RC)]);
        let r = sel(
            &c,
            &Request {
                account: Some("a"),
                envelope_from: Some("<>"),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.account.settings.from.as_deref(), Some(""));
    }

    #[test]
    fn account_option_and_not_found_texts() {
        let c = config(&[("rc", RC)]);
        let r = sel(
            &c,
            &Request {
                account: Some("b"),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(r.info.is_empty());
        assert_eq!(r.account.settings.from.as_deref(), Some("*@example.com"));
        let e = sel(
            &c,
            &Request {
                account: Some("zz"),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.message, "account zz not found in rc");
        assert_eq!(e.exit.code(), 78);
        let c2 = config(&[("/etc/msmtprc", "account s\n"), ("urc", "account u\n")]);
        let e = sel(
            &c2,
            &Request {
                account: Some("zz"),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.message, "account zz not found in /etc/msmtprc and urc");
        let c3 = config(&[]);
        let e = sel(&c3, &Request::default()).unwrap_err();
        assert_eq!(
            e.message,
            "account default not found: no configuration file available"
        );
    }

    #[test]
    fn smtpserver_email_fallback() {
        let c = config(&[]);
        let env = EnvFallback {
            smtpserver: Some("srv".into()),
            email: Some("e@x".into()),
        };
        let req = Request {
            sendmail_mode: true,
            ..Default::default()
        };
        let r = select_with_env(Some(&c), &req, &env).unwrap();
        assert_eq!(r.account.settings.host.as_deref(), Some("srv"));
        assert_eq!(r.account.settings.from.as_deref(), Some("e@x"));
        assert_eq!(r.account.file, None);
        assert_eq!(
            r.info,
            [
                "falling back to default account",
                "using environment variables EMAIL and SMTPSERVER"
            ]
        );
        // -f wins over EMAIL
        let req_f = Request {
            envelope_from: Some("f@x"),
            sendmail_mode: true,
            ..Default::default()
        };
        let r = select_with_env(Some(&c), &req_f, &env).unwrap();
        assert_eq!(r.account.settings.from.as_deref(), Some("f@x"));
        // sendmail mode without EMAIL and without -f: no fallback
        let env2 = EnvFallback {
            smtpserver: Some("srv".into()),
            email: None,
        };
        assert!(select_with_env(Some(&c), &req, &env2).is_err());
        assert!(select_with_env(Some(&c), &req_f, &env2).is_ok());
        let server_mode = Request::default();
        assert!(select_with_env(Some(&c), &server_mode, &env2).is_ok());
        // never with -a
        let req_a = Request {
            account: Some("default"),
            ..Default::default()
        };
        assert!(select_with_env(Some(&c), &req_a, &env).is_err());
    }

    #[test]
    fn host_gives_command_line_account() {
        let overrides = vec![("port".to_string(), "2525".to_string())];
        let r = select_with_env(
            None,
            &Request {
                host: Some("x"),
                envelope_from: Some("f@x"),
                overrides: &overrides,
                ..Default::default()
            },
            &NOENV,
        )
        .unwrap();
        assert_eq!(r.info, ["using account specified on command line"]);
        assert_eq!(r.account.settings.host.as_deref(), Some("x"));
        assert_eq!(r.account.settings.port, Some(2525));
        assert_eq!(r.account.settings.from.as_deref(), Some("f@x"));
        assert_eq!(r.account.file, None);
    }

    #[test]
    fn overrides_apply_after_selection() {
        let c = config(&[("rc", RC)]);
        let overrides = vec![
            ("tls_trust_file".to_string(), String::new()),
            ("from".to_string(), "o@x".to_string()),
        ];
        let r = sel(
            &c,
            &Request {
                account: Some("a"),
                overrides: &overrides,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(r.account.tls_trust_file_explicit());
        assert_eq!(r.account.settings.from.as_deref(), Some("o@x"));
        let bad = vec![("port".to_string(), "x".to_string())];
        let e = sel(
            &c,
            &Request {
                account: Some("a"),
                overrides: &bad,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.exit.code(), 64);
    }

    #[test]
    fn postie_selects_by_from_header() {
        let c = config(&[("rc", RC)]);
        let r = sel(
            &c,
            &Request {
                from_header: Some("joe+x@example.com"),
                sendmail_mode: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.account.name, "b");
        assert_eq!(
            r.account.settings.from.as_deref(),
            Some("joe+x@example.com")
        );
        assert_eq!(
            r.info,
            ["account chosen by From header address joe+x@example.com: b"]
        );
        // respects allow_from_override
        let r = sel(
            &c,
            &Request {
                from_header: Some("c@other.org"),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.account.name, "c");
        assert_eq!(r.account.settings.from.as_deref(), Some("c@other.org"));
        // no match: exactly msmtp (default account, its own from)
        let r = sel(
            &c,
            &Request {
                from_header: Some("z@z"),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.account.name, "default");
        assert_eq!(r.account.settings.from.as_deref(), Some("a@example.com"));
        // -a and -f win; the switch turns it off
        let r = sel(
            &c,
            &Request {
                account: Some("c"),
                from_header: Some("x@example.com"),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.account.name, "c");
        let mut off = c.clone();
        off.select_account_by_from = false;
        let r = sel(
            &off,
            &Request {
                from_header: Some("x@example.com"),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.account.name, "default");
        assert_eq!(r.account.settings.from.as_deref(), Some("a@example.com"));
    }
}
