//! The msmtprc grammar (msmtp.md 2.3, 2.4): line reading with the 500-character limit,
//! whole-line comments, command/argument splitting with the outer-quote rule, `defaults`,
//! `account NAME [: PARENT, ...]` with mask-based inheritance, the implicit `default` account,
//! and `eval`. Each file is parsed on its own, with its own defaults.
//!
//! postie also reads the comment lines that start with [`MARKER`] (`#postie: queue on`): msmtp
//! skips them as comments, postie reads the rest of the line as a command of the current
//! section, so one file serves both programs (docs/migration.md).

use super::commands::FileSwitch;
use super::eval::run_first_line;
use super::settings::{Account, CommandError, Settings};
use crate::error::{Error, Result};
use std::path::Path;
use std::time::Duration;

/// What one file yields.
#[derive(Debug)]
pub struct ParsedFile {
    /// Accounts in file order.
    pub accounts: Vec<Account>,
    /// The file has a literal `password` line (triggers the permission check).
    pub contains_secrets: bool,
    /// The postie-only `select_account_by_from` switch, if the file sets it.
    pub select_account_by_from: Option<bool>,
    /// The postie-only `trust_sendmail_argv` switch, if the file sets it.
    pub trust_sendmail_argv: Option<bool>,
}

/// Context the parser needs from the outside world.
#[derive(Clone, Debug)]
pub struct ParseEnv {
    /// `$HOME` for `~` expansion.
    pub home: String,
    /// Deadline for each `eval`.
    pub eval_timeout: Duration,
}

enum Section {
    None,
    Defaults,
    Account(usize),
}

struct Parser<'a> {
    file: &'a Path,
    env: &'a ParseEnv,
    defaults: Account,
    accounts: Vec<Account>,
    section: Section,
    /// Index into `accounts` by name: a 1 MiB file holds ~70,000 `account` lines, and a linear
    /// search per line made parsing it quadratic.
    by_name: std::collections::HashMap<String, usize>,
    contains_secrets: bool,
    select_account_by_from: Option<bool>,
    trust_sendmail_argv: Option<bool>,
}

const BLANKS: [char; 2] = [' ', '\t'];

/// The start of a line that msmtp reads as a comment and postie as a command: `#postie:`,
/// after optional blanks, then the command (`#postie: password_cache 12h`).
pub const MARKER: &str = "#postie:";

/// The commands a [`MARKER`] line cannot hold: msmtp does not see the line, so a section
/// started there would put the following lines into different accounts for the two programs,
/// and an `eval` there would run for postie only.
const NOT_AFTER_MARKER: [&str; 3] = ["account", "defaults", "eval"];

/// The command part of a [`MARKER`] line, or `None` for any other line.
pub fn marked(line: &str) -> Option<&str> {
    line.trim_start_matches(BLANKS).strip_prefix(MARKER)
}

/// Split a line into command and argument: the command is the first run of non-blanks, the
/// argument the trimmed rest with one pair of enclosing double quotes removed. `None` for blank
/// and comment lines.
pub fn split_line(line: &str) -> Option<(&str, &str)> {
    let line = line.trim_start_matches(BLANKS);
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (cmd, rest) = match line.find(BLANKS) {
        Some(i) => (&line[..i], &line[i..]),
        None => (line, ""),
    };
    let mut arg = rest.trim_matches(BLANKS);
    if arg.len() >= 2 && arg.starts_with('"') && arg.ends_with('"') {
        arg = &arg[1..arg.len() - 1];
    }
    Some((cmd, arg))
}

/// Parse the contents of one configuration file.
pub fn parse_bytes(file: &Path, content: &[u8], env: &ParseEnv) -> Result<ParsedFile> {
    let mut p = Parser {
        file,
        env,
        defaults: Account::new("", None, &Settings::default()),
        accounts: Vec::new(),
        section: Section::None,
        by_name: std::collections::HashMap::new(),
        contains_secrets: false,
        select_account_by_from: None,
        trust_sendmail_argv: None,
    };
    let mut rest = content;
    let mut lineno = 0usize;
    while !rest.is_empty() {
        lineno += 1;
        let (raw, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        if raw.len() >= 500 {
            return Err(Error::config(format!(
                "{}: line longer than 500 characters",
                file.display()
            )));
        }
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = String::from_utf8_lossy(raw);
        p.line(&line, lineno, false)?;
    }
    Ok(ParsedFile {
        accounts: p.accounts,
        contains_secrets: p.contains_secrets,
        select_account_by_from: p.select_account_by_from,
        trust_sendmail_argv: p.trust_sendmail_argv,
    })
}

impl Parser<'_> {
    fn err(&self, lineno: usize, msg: impl std::fmt::Display) -> Error {
        Error::config(format!("{}: line {lineno}: {msg}", self.file.display()))
    }

    fn line(&mut self, line: &str, lineno: usize, from_eval: bool) -> Result<()> {
        if let Some(rest) = marked(line) {
            if let Some((cmd, _)) = split_line(rest) {
                let refused = if NOT_AFTER_MARKER.contains(&cmd) {
                    Some(format!(
                        "command {cmd} cannot follow {MARKER} (msmtp reads the line as a \
                         comment; write it as an ordinary line)"
                    ))
                } else if matches!(self.section, Section::None) && FileSwitch::lookup(cmd).is_none()
                {
                    // Before any section an ordinary command starts msmtp's implicit account
                    // "default", which msmtp, skipping the line, would not have.
                    Some(format!(
                        "command {cmd} after {MARKER} must follow a defaults or account line \
                         (before them it would make an account default that msmtp does not see)"
                    ))
                } else {
                    None
                };
                if let Some(why) = refused {
                    return Err(self.err(lineno, why));
                }
            }
            return self.command(rest, lineno, from_eval);
        }
        self.command(line, lineno, from_eval)
    }

    /// One line that is not a [`MARKER`] line (or the rest of one).
    fn command(&mut self, line: &str, lineno: usize, from_eval: bool) -> Result<()> {
        let Some((cmd, arg)) = split_line(line) else {
            return Ok(());
        };
        match cmd {
            "eval" if !from_eval => self.eval(arg, lineno),
            "defaults" => {
                if !arg.is_empty() {
                    return Err(self.err(
                        lineno,
                        CommandError::TakesNoArgument {
                            command: cmd.into(),
                        },
                    ));
                }
                self.section = Section::Defaults;
                Ok(())
            }
            "account" => self.account(arg, lineno),
            // postie's whole-file switches: they apply wherever they stand in the file.
            _ if let Some(switch) = FileSwitch::lookup(cmd) => {
                let on = FileSwitch::parse(arg).map_err(|_| {
                    self.err(
                        lineno,
                        CommandError::Invalid {
                            command: cmd.into(),
                            argument: arg.into(),
                        },
                    )
                })?;
                match switch {
                    FileSwitch::SelectAccountByFrom => self.select_account_by_from = Some(on),
                    FileSwitch::TrustSendmailArgv => self.trust_sendmail_argv = Some(on),
                }
                Ok(())
            }
            _ => {
                if cmd == "password" && !from_eval {
                    self.contains_secrets = true;
                }
                if let Section::None = self.section {
                    // msmtp 1.2 compatibility: settings before any section form account "default".
                    let acc = Account::new(
                        "default",
                        Some(self.file.to_path_buf()),
                        &self.defaults.settings,
                    );
                    self.by_name
                        .insert("default".to_owned(), self.accounts.len());
                    self.accounts.push(acc);
                    self.section = Section::Account(self.accounts.len() - 1);
                }
                let home = self.env.home.clone();
                let target = match self.section {
                    Section::Account(i) => &mut self.accounts[i],
                    _ => &mut self.defaults,
                };
                target
                    .apply_with_home(cmd, arg, &home)
                    .map_err(|e| self.err(lineno, e))
            }
        }
    }

    fn eval(&mut self, arg: &str, lineno: usize) -> Result<()> {
        if arg.is_empty() {
            return Err(self.err(
                lineno,
                CommandError::NeedsArgument {
                    command: "eval".into(),
                },
            ));
        }
        let f = self.file.display();
        match run_first_line(arg, self.env.eval_timeout) {
            Ok(Some(out)) => self.line(&out, lineno, true),
            Ok(None) => Err(Error::io(format!("{f}: cannot read output of '{arg}'"))),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Err(Error::io(format!(
                "{f}: cannot read output of '{arg}': command timed out after {} seconds",
                self.env.eval_timeout.as_secs()
            ))),
            Err(e) => Err(Error::io(format!(
                "{f}: cannot evaluate '{arg}': {}",
                super::paths::strerror(&e)
            ))),
        }
    }

    fn account(&mut self, arg: &str, lineno: usize) -> Result<()> {
        let missing = "missing account name";
        let (name, parents) = match arg.split_once(':') {
            Some((n, p)) => (n.trim_matches(BLANKS), Some(p)),
            None => (arg, None),
        };
        if name.is_empty() {
            return Err(self.err(lineno, missing));
        }
        let mut acc = Account::new(name, Some(self.file.to_path_buf()), &self.defaults.settings);
        if let Some(parents) = parents {
            for parent in parents.split(',') {
                let parent = parent.trim_matches(BLANKS);
                if parent.is_empty() {
                    return Err(self.err(lineno, missing));
                }
                let Some(p) = self.by_name.get(parent).map(|&i| &self.accounts[i]) else {
                    return Err(self.err(lineno, format!("account {parent} not (yet) defined")));
                };
                acc.inherit(p);
            }
        }
        if name.contains([',', ':']) {
            return Err(self.err(lineno, "an account name must not contain colons or commas"));
        }
        if self.by_name.contains_key(name) {
            return Err(self.err(lineno, format!("account {name} was already defined")));
        }
        self.by_name.insert(name.to_owned(), self.accounts.len());
        self.accounts.push(acc);
        self.section = Section::Account(self.accounts.len() - 1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings::{AuthSetting, Mechanism, Trust};
    use crate::error::Sysexit;

    fn env() -> ParseEnv {
        ParseEnv {
            home: "/home/u".into(),
            eval_timeout: Duration::from_secs(10),
        }
    }

    fn parse(s: &str) -> Result<ParsedFile> {
        parse_bytes(Path::new("rc"), s.as_bytes(), &env())
    }

    fn err(s: &str) -> (String, u8) {
        let e = parse(s).unwrap_err();
        (e.message, e.exit.code())
    }

    fn acc<'a>(p: &'a ParsedFile, name: &str) -> &'a Account {
        p.accounts.iter().find(|a| a.name == name).unwrap()
    }

    #[test]
    fn quoting_strips_outer_pair_only() {
        assert_eq!(split_line(r#"host "a b""#), Some(("host", "a b")));
        assert_eq!(split_line(r#"host "x"y""#), Some(("host", r#"x"y"#)));
        assert_eq!(split_line(r#"host "a"#), Some(("host", r#""a"#)));
        assert_eq!(split_line(r#"host ""#), Some(("host", r#"""#)));
        assert_eq!(split_line("\thost\t a \t"), Some(("host", "a")));
        assert_eq!(split_line("tls"), Some(("tls", "")));
    }

    #[test]
    fn comments_are_whole_line_only() {
        assert_eq!(split_line("  # comment"), None);
        assert_eq!(split_line("\t#x"), None);
        assert_eq!(split_line("   "), None);
        let p = parse("account a\nhost a.example # x\n").unwrap();
        assert_eq!(acc(&p, "a").settings.host.as_deref(), Some("a.example # x"));
    }

    #[test]
    fn empty_quoted_host_needs_argument() {
        assert_eq!(
            err("account b\nhost \"\"\n"),
            ("rc: line 2: command host needs an argument".into(), 78)
        );
    }

    #[test]
    fn line_length_limit_is_499() {
        let ok = format!("account a\nhost {}\n", "h".repeat(494));
        assert!(parse(&ok).is_ok());
        let bad = format!("account a\nhost {}\n", "h".repeat(495));
        assert_eq!(
            err(&bad),
            ("rc: line longer than 500 characters".into(), 78)
        );
    }

    #[test]
    fn trailing_cr_removed() {
        let p = parse("account a\r\nhost h\r\nport 26\r\n").unwrap();
        assert_eq!(acc(&p, "a").settings.host.as_deref(), Some("h"));
        assert_eq!(acc(&p, "a").settings.port, Some(26));
    }

    #[test]
    fn error_texts() {
        let cases = [
            (
                "account a\nhost\n",
                "rc: line 2: command host needs an argument",
            ),
            (
                "account a\nport x\n",
                "rc: line 2: invalid argument x for command port",
            ),
            ("account a\nHost x\n", "rc: line 2: unknown command Host"),
            (
                "defaults x\n",
                "rc: line 1: command defaults does not take an argument",
            ),
            ("account\n", "rc: line 1: missing account name"),
            ("account  :b\n", "rc: line 1: missing account name"),
            (
                "account a\naccount c : a , \n",
                "rc: line 2: missing account name",
            ),
            (
                "account a,b\n",
                "rc: line 1: an account name must not contain colons or commas",
            ),
            (
                "account a\naccount c,d : a\n",
                "rc: line 2: an account name must not contain colons or commas",
            ),
            (
                "account a\naccount a\n",
                "rc: line 2: account a was already defined",
            ),
            (
                "account a\naccount a : a\n",
                "rc: line 2: account a was already defined",
            ),
            (
                "account a\naccount c : x\n",
                "rc: line 2: account x not (yet) defined",
            ),
            (
                "account a\naccount c : c\n",
                "rc: line 2: account c not (yet) defined",
            ),
            (
                "account a\naccount c:a:d\n",
                "rc: line 2: account a:d not (yet) defined",
            ),
            (
                "account a\ntls_nocertcheck x\n",
                "rc: line 2: command tls_nocertcheck does not take an argument",
            ),
            (
                "account a\nallow_from_override\n",
                "rc: line 2: invalid argument  for command allow_from_override",
            ),
            (
                "account a\ndsn_notify\n",
                "rc: line 2: command dsn_notify needs an argument",
            ),
            (
                "account a\neval\n",
                "rc: line 2: command eval needs an argument",
            ),
            (
                "account a\nset_cc_header on\n",
                "rc: line 2: unknown command set_cc_header",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(err(input), (want.to_string(), 78), "{input:?}");
        }
    }

    #[test]
    fn implicit_default_account() {
        let p = parse("host implicit\nfrom imp@x\ndefaults\nport 2525\naccount b\n").unwrap();
        assert_eq!(p.accounts[0].name, "default");
        assert_eq!(p.accounts[0].settings.host.as_deref(), Some("implicit"));
        assert_eq!(p.accounts[0].settings.port, None);
        assert_eq!(acc(&p, "b").settings.port, Some(2525));
        assert_eq!(
            err("host x\naccount default\n"),
            ("rc: line 2: account default was already defined".into(), 78)
        );
    }

    #[test]
    fn account_default_colon_other() {
        let p = parse("account x\nhost hx\nfrom x@x\naccount default : x\n").unwrap();
        let d = acc(&p, "default");
        assert_eq!(d.settings.host.as_deref(), Some("hx"));
        assert_eq!(d.settings.from.as_deref(), Some("x@x"));
    }

    #[test]
    fn inheritance_copies_only_explicit_settings() {
        let p = parse(
            "defaults\ntls_trust_file\nport 2525\n\
             account p1\nhost p1\nfrom p1@x\ntls_trust_file /p1\n\
             account p2\nhost p2\nuser p2user\n\
             defaults\nport 26\n\
             account c : p1, p2\naccount d : p2\naccount e : p1\naccount f : e\n",
        )
        .unwrap();
        let c = acc(&p, "c");
        assert_eq!(c.settings.host.as_deref(), Some("p2"));
        assert_eq!(c.settings.port, Some(26));
        assert_eq!(c.settings.user.as_deref(), Some("p2user"));
        assert_eq!(c.settings.from.as_deref(), Some("p1@x"));
        assert_eq!(c.settings.tls_trust_file, Some(Trust::File("/p1".into())));
        assert!(c.tls_trust_file_explicit());
        let d = acc(&p, "d");
        assert_eq!(d.settings.from, None);
        assert_eq!(d.settings.tls_trust_file, None);
        assert!(!d.tls_trust_file_explicit());
        assert_eq!(acc(&p, "p1").settings.port, Some(2525));
        // mask bits propagate through a chain
        let f = acc(&p, "f");
        assert_eq!(f.settings.host.as_deref(), Some("p1"));
        assert!(f.tls_trust_file_explicit());
    }

    #[test]
    fn allow_from_override_inherits_fixed_semantics() {
        // 1.8.24 semantics: the flag is inherited and does not block inheriting `from`.
        let p = parse(
            "defaults\nallow_from_override off\naccount y\nfrom y@x\nallow_from_override on\n\
             account x : y\naccount z\nfrom z@x\nallow_from_override off\naccount default : z\n",
        )
        .unwrap();
        assert_eq!(acc(&p, "x").settings.from.as_deref(), Some("y@x"));
        assert!(acc(&p, "x").settings.allow_from_override);
        assert!(!acc(&p, "default").settings.allow_from_override);
    }

    #[test]
    fn names_may_contain_spaces_and_quotes_are_stripped() {
        let p = parse("account b\nhost h\naccount  c d  : b\naccount \"e : b\"\n").unwrap();
        assert_eq!(acc(&p, "c d").settings.host.as_deref(), Some("h"));
        assert_eq!(acc(&p, "e").settings.host.as_deref(), Some("h"));
    }

    #[test]
    fn tilde_expansion_for_file_commands() {
        let p = parse(
            "account a\ntls_trust_file ~/ca\nlogfile ~\naliases \"~/al\"\ntls_crl_file ~x\n\
             tls_key_file ~/k\ntls_cert_file ~/c\nuser ~u\npasswordeval ~/pw\n",
        )
        .unwrap();
        let s = &acc(&p, "a").settings;
        assert_eq!(s.tls_trust_file, Some(Trust::File("/home/u/ca".into())));
        assert_eq!(s.logfile.as_deref(), Some("/home/u"));
        assert_eq!(s.aliases.as_deref(), Some("/home/u/al"));
        assert_eq!(s.tls_crl_file.as_deref(), Some("/home/ux"));
        assert_eq!(s.tls_key_file.as_deref(), Some("/home/u/k"));
        assert_eq!(s.tls_cert_file.as_deref(), Some("/home/u/c"));
        assert_eq!(s.user.as_deref(), Some("~u"));
        assert_eq!(s.passwordeval.as_deref(), Some("~/pw"));
    }

    #[test]
    fn eval_processes_first_line_as_config_line() {
        let p = parse(
            "account b\neval echo host evalhost\neval echo '# c'; echo x\n\
             eval printf 'from  f@x  '\neval echo\neval printf 'password pw\\r\\nsecond'\n",
        )
        .unwrap();
        let s = &acc(&p, "b").settings;
        assert_eq!(s.host.as_deref(), Some("evalhost"));
        assert_eq!(s.from.as_deref(), Some("f@x"));
        assert_eq!(s.password.as_ref().map(|p| p.expose()), Some("pw"));
        // a password produced by eval does not trigger the permission check
        assert!(!p.contains_secrets);
        let p = parse("eval echo account q\nhost h\n").unwrap();
        assert_eq!(acc(&p, "q").settings.host.as_deref(), Some("h"));
    }

    #[test]
    fn eval_failures() {
        assert_eq!(
            err("account b\nhost h\neval true\n"),
            ("rc: cannot read output of 'true'".into(), 74)
        );
        assert_eq!(
            err("account b\neval echo eval echo hi\n"),
            ("rc: line 2: unknown command eval".into(), 78)
        );
        let env = ParseEnv {
            home: "/".into(),
            eval_timeout: Duration::from_millis(200),
        };
        let e = parse_bytes(Path::new("rc"), b"eval sleep 20\n", &env).unwrap_err();
        assert_eq!(e.exit, Sysexit::IoErr);
        assert!(e.message.contains("'sleep 20'"), "{}", e.message);
    }

    #[test]
    fn literal_password_marks_secrets() {
        assert!(parse("account a\npassword x\n").unwrap().contains_secrets);
        assert!(parse("account a\npassword\n").unwrap().contains_secrets);
        assert!(
            !parse("account a\npasswordeval x\n")
                .unwrap()
                .contains_secrets
        );
    }

    #[test]
    fn select_account_by_from_switch() {
        assert_eq!(parse("account a\n").unwrap().select_account_by_from, None);
        assert_eq!(
            parse("defaults\nselect_account_by_from off\n")
                .unwrap()
                .select_account_by_from,
            Some(false)
        );
        assert_eq!(
            err("defaults\nselect_account_by_from x\n").0,
            "rc: line 2: invalid argument x for command select_account_by_from"
        );
    }

    #[test]
    fn marker_lines_are_commands_for_postie_in_their_section() {
        let p = parse(
            "defaults\n#postie: password_cache 12h\n  #postie: select_account_by_from off\n\
             \t#postie:queue on\naccount a\nhost h\n#postie: oauth2_provider google\n\
             #postie:\n# postie: prose, not a command\n#postie2: also prose\n\
             account b : a\n #postie:  password_cache off\n",
        )
        .unwrap();
        let a = &acc(&p, "a").settings;
        assert_eq!(a.password_cache, Some(43_200));
        assert!(a.queue);
        assert_eq!(a.oauth2_provider.as_deref(), Some("google"));
        assert_eq!(p.select_account_by_from, Some(false));
        let b = &acc(&p, "b").settings;
        assert_eq!(b.password_cache, None);
        assert_eq!(b.oauth2_provider.as_deref(), Some("google"));
        // A literal password behind the marker still asks for a private file.
        assert!(
            parse("account a\n#postie: password x\n")
                .unwrap()
                .contains_secrets
        );
        // Also in the output of eval, as msmtp reads that line as a comment too.
        let p = parse("account a\nhost h\neval echo '  #postie: queue on'\n").unwrap();
        assert!(acc(&p, "a").settings.queue);
    }

    #[test]
    fn marker_lines_report_errors_and_keep_sections_with_msmtp() {
        assert_eq!(
            err("account a\n#postie: queue maybe\n"),
            (
                "rc: line 2: invalid argument maybe for command queue".into(),
                78
            )
        );
        assert_eq!(
            err("account a\n#postie: bogus 1\n"),
            ("rc: line 2: unknown command bogus".into(), 78)
        );
        for cmd in ["account b", "defaults", "eval echo queue on"] {
            let (msg, code) = err(&format!("account a\n#postie: {cmd}\n"));
            assert_eq!(code, 78);
            let name = cmd.split(' ').next().unwrap();
            assert_eq!(
                msg,
                format!(
                    "rc: line 2: command {name} cannot follow #postie: (msmtp reads the line \
                     as a comment; write it as an ordinary line)"
                )
            );
        }
    }

    #[test]
    fn auth_methods_lowercase_only() {
        let p = parse("account a\nauth plain\naccount b\nauth\naccount c\nauth on\n").unwrap();
        assert_eq!(
            acc(&p, "a").settings.auth,
            AuthSetting::Method(Mechanism::Plain)
        );
        assert_eq!(acc(&p, "b").settings.auth, AuthSetting::Auto);
        assert_eq!(acc(&p, "c").settings.auth, AuthSetting::Auto);
        assert_eq!(
            err("account a\nauth PLAIN\n").0,
            "rc: line 2: invalid argument PLAIN for command auth"
        );
    }
}
