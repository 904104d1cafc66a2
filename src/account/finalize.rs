//! Derived values and final validation of the chosen account (msmtp.md 2.6): default ports,
//! the `tls_trust_file system` rule, the proxy port, `%` patterns in `domain` and `from`,
//! obsolete `auto_from`/`maildomain`, and `check_account` with msmtp's exact texts.

use crate::config::{Account, MailFrom, Trust, paths};
use crate::error::{Error, Result};
use crate::ui::sanitize;
use std::ffi::CStr;

/// Values the `%` patterns expand to; computed lazily because `%C` needs a DNS lookup and `%M`
/// a file read.
#[derive(Default)]
pub struct Expander {
    user: Option<String>,
    host: Option<String>,
    canon: Option<String>,
    mailname: Option<Result<String>>,
    fixed: Option<(String, String, String, Result<String, String>)>,
}

/// `$USER`, `$LOGNAME`, `getlogin()`, the passwd name, else `unknown` (set-but-empty counts).
pub fn user_name() -> String {
    if let Some(u) = std::env::var_os("USER").or_else(|| std::env::var_os("LOGNAME")) {
        return u.to_string_lossy().into_owned();
    }
    // SAFETY: getlogin returns NULL or a pointer to a static NUL-terminated string that we
    // copy immediately.
    let login = unsafe {
        let p = libc::getlogin();
        (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
    };
    login
        .or_else(paths::passwd_name)
        .unwrap_or_else(|| "unknown".to_string())
}

/// `$HOSTNAME`, else `gethostname()`, else `localhost` (msmtp's `%H`).
pub fn host_name() -> String {
    match std::env::var_os("HOSTNAME") {
        Some(h) => h.to_string_lossy().into_owned(),
        None => crate::sys::hostname(),
    }
}

/// The canonical name of `host` (msmtp's `%C`), falling back to `host`.
pub use crate::sys::canonical_hostname_of as canonical_name;

fn read_mailname() -> Result<String> {
    read_mailname_at(&paths::sysconfdir().join("mailname"))
}

fn read_mailname_at(file: &std::path::Path) -> Result<String> {
    let f = file.display();
    // msmtp takes what one fgets() into a 256-byte buffer gives: at most 255 bytes of the
    // first line, as a C string (observed: a longer line is cut, `/dev/zero` is empty). The
    // bounded read also keeps an endless file from being read without end.
    const MAX: usize = 255;
    let content = std::fs::File::open(file)
        .and_then(|r| crate::fsread::read_capped(r, MAX))
        .map_err(|e| Error::config(format!("{f}: {}", paths::strerror(&e))))?;
    let line = content
        .data
        .split(|&b| b == b'\n' || b == 0)
        .next()
        .unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err(Error::config(format!("{f}: Invalid argument")));
    }
    Ok(String::from_utf8_lossy(line).into_owned())
}

impl Expander {
    /// An expander with fixed values (tests): user, host, canonical host, mailname or error.
    pub fn with_values(user: &str, host: &str, canon: &str, mailname: Result<&str, &str>) -> Self {
        Expander {
            fixed: Some((
                user.to_string(),
                host.to_string(),
                canon.to_string(),
                mailname.map(str::to_string).map_err(str::to_string),
            )),
            ..Default::default()
        }
    }

    fn user(&mut self) -> String {
        if let Some((u, ..)) = &self.fixed {
            return u.clone();
        }
        self.user.get_or_insert_with(user_name).clone()
    }
    fn host(&mut self) -> String {
        if let Some((_, h, ..)) = &self.fixed {
            return h.clone();
        }
        self.host.get_or_insert_with(host_name).clone()
    }
    fn canon(&mut self) -> String {
        if let Some((_, _, c, _)) = &self.fixed {
            return c.clone();
        }
        if self.canon.is_none() {
            let h = self.host();
            self.canon = Some(canonical_name(&h));
        }
        self.canon.clone().unwrap_or_default()
    }
    fn mailname(&mut self) -> Result<String> {
        if let Some((.., m)) = &self.fixed {
            return m.clone().map_err(Error::config);
        }
        let r = self.mailname.get_or_insert_with(read_mailname);
        match r {
            Ok(s) => Ok(s.clone()),
            Err(e) => Err(Error::new(e.exit, e.message.clone())),
        }
    }

    /// Replace `%H %C %M` (and `%U` when `with_user`) in `s`; other `%` sequences stay.
    pub fn expand(&mut self, s: &str, with_user: bool) -> Result<String> {
        self.expand_with(s, with_user, None)
    }

    /// [`Expander::expand`], also replacing `%F` by `mail_from` when it is given. Replaced
    /// text is not scanned again (an address holding `%H` stays as it is).
    fn expand_with(&mut self, s: &str, with_user: bool, mail_from: Option<&str>) -> Result<String> {
        if !s.contains('%') {
            return Ok(s.to_string());
        }
        let mut out = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let v = match chars.peek() {
                Some('U') if with_user => self.user(),
                Some('H') => self.host(),
                Some('C') => self.canon(),
                Some('M') => self.mailname()?,
                Some('F') if mail_from.is_some() => mail_from.unwrap_or_default().to_string(),
                _ => {
                    out.push('%');
                    continue;
                }
            };
            chars.next();
            out.push_str(&sanitize(&v));
        }
        Ok(out)
    }
}

/// Fill derived defaults, expand `%` patterns, apply `auto_from`, then validate (msmtp.md 2.6).
/// Call after passwordeval. `pretend` skips the envelope-from-missing check, as msmtp does.
pub fn finalize(account: &mut Account, sendmail_mode: bool, pretend: bool) -> Result<()> {
    finalize_with(account, sendmail_mode, pretend, &mut Expander::default())
}

/// [`finalize`] with an explicit [`Expander`].
pub fn finalize_with(
    account: &mut Account,
    sendmail_mode: bool,
    pretend: bool,
    exp: &mut Expander,
) -> Result<()> {
    let trust_explicit = account.tls_trust_file_explicit();
    let s = &mut account.settings;
    s.port = s.effective_port();
    if s.tls_trust_file.is_none() && !trust_explicit {
        s.tls_trust_file = Some(Trust::System);
    }
    if s.proxy_host.is_some() && s.proxy_port.is_none() {
        s.proxy_port = Some(1080);
    }
    s.domain = exp.expand(&s.domain, false)?;
    if sendmail_mode {
        if let Some(from) = &s.from {
            let mail_from = match &account.mail_from {
                MailFrom::Address(a) => Some(a.as_str()),
                MailFrom::Missing if !pretend && from.contains("%F") => {
                    return Err(Error::usage(
                        "no envelope from address found: from uses %F, \
                         and the mail has no From header",
                    ));
                }
                // `-P` shows the pattern, as msmtp does.
                _ => None,
            };
            s.from = Some(exp.expand_with(from, true, mail_from)?);
        }
        if s.auto_from {
            let user = exp.user();
            s.from = Some(match s.maildomain.as_deref() {
                Some(d) if !d.is_empty() => format!("{user}@{d}"),
                _ => user,
            });
            account.from_pending = false;
        }
    }
    check_account(account, sendmail_mode, pretend)
}

/// msmtp's `check_account`: the first problem found, as `account ID from FILE: MSG` (or just
/// `MSG` for command-line accounts), exit 78. postie's own additions: an account that
/// delivers with `pipe_command` needs no host, and `proxy_command` (which replaces the
/// socket) goes with neither `socket`, `proxy_host` nor `pipe_command`.
pub fn check_account(account: &Account, sendmail_mode: bool, pretend: bool) -> Result<()> {
    let s = &account.settings;
    let no_host = s.pipe_command.is_none()
        && ((s.host.is_none() && s.socket.is_none())
            || (s.tls && s.host.is_none() && s.tls_host_override.is_none()));
    let problem = if no_host {
        Some("host not set")
    } else if s.port.is_none() {
        Some("port not set")
    } else if sendmail_mode && !pretend && s.from.is_none() {
        Some("envelope-from address is missing")
    } else if s.tls_key_file.is_some() && s.tls_cert_file.is_none() {
        Some("tls_key_file requires tls_cert_file")
    } else if s.tls_cert_file.is_some() && s.tls_key_file.is_none() {
        Some("tls_cert_file requires tls_key_file")
    } else if s.tls && s.tls_trust_file.is_none() && s.tls_fingerprint.is_none() && s.tls_certcheck
    {
        Some(
            "tls requires either tls_trust_file (highly recommended) or tls_fingerprint or a disabled tls_certcheck",
        )
    } else if s.tls_crl_file.is_some() && s.tls_trust_file.is_none() {
        Some("tls_crl_file requires tls_trust_file")
    } else if s.proxy_command.is_some() && s.pipe_command.is_some() {
        Some("pipe_command and proxy_command cannot both be used")
    } else if s.proxy_command.is_some() && s.socket.is_some() {
        Some("proxy_command and socket cannot both be used")
    } else if s.proxy_command.is_some() && s.proxy_host.is_some() {
        Some("proxy_command and proxy_host cannot both be used")
    } else {
        None
    };
    match (problem, &account.file) {
        (None, _) => Ok(()),
        (Some(p), Some(f)) => Err(Error::config(format!(
            "account {} from {}: {p}",
            account.name,
            f.display()
        ))),
        (Some(p), None) => Err(Error::config(p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse::{ParseEnv, parse_bytes};
    use std::path::Path;
    use std::time::Duration;

    fn account(rc: &str, name: &str) -> Account {
        let env = ParseEnv {
            home: "/home/u".into(),
            eval_timeout: Duration::from_secs(5),
        };
        parse_bytes(Path::new("rc"), rc.as_bytes(), &env)
            .unwrap()
            .accounts
            .into_iter()
            .find(|a| a.name == name)
            .unwrap()
    }

    fn exp() -> Expander {
        Expander {
            fixed: Some((
                "me".into(),
                "hh".into(),
                "hh.canon".into(),
                Ok("mail.name".into()),
            )),
            ..Default::default()
        }
    }

    fn fin(rc: &str, sendmail: bool, pretend: bool) -> Result<Account> {
        let mut a = account(rc, "a");
        finalize_with(&mut a, sendmail, pretend, &mut exp())?;
        Ok(a)
    }

    fn fin_mail(rc: &str, mail_from: MailFrom, pretend: bool) -> Result<Option<String>> {
        let mut a = account(rc, "a");
        a.mail_from = mail_from;
        finalize_with(&mut a, true, pretend, &mut exp())?;
        Ok(a.settings.from)
    }

    #[test]
    fn percent_f_is_the_mails_sender() {
        let rc = "account a\nhost h\nfrom %F\n";
        let addr = || MailFrom::Address("joe@x.org".into());
        assert_eq!(
            fin_mail(rc, addr(), false).unwrap().as_deref(),
            Some("joe@x.org")
        );
        // Replaced once, with the other patterns; the address is not scanned again.
        let rc2 = "account a\nhost h\nfrom %U+%F@%H\n";
        assert_eq!(
            fin_mail(rc2, MailFrom::Address("%H".into()), false)
                .unwrap()
                .as_deref(),
            Some("me+%H@hh")
        );
        // No mail read (queue flush, -S, check): left as it is.
        assert_eq!(
            fin_mail(rc, MailFrom::NotRead, false).unwrap().as_deref(),
            Some("%F")
        );
        // A mail without From: -P shows the pattern, a send is refused.
        assert_eq!(
            fin_mail(rc, MailFrom::Missing, true).unwrap().as_deref(),
            Some("%F")
        );
        let e = fin_mail(rc, MailFrom::Missing, false).unwrap_err();
        assert_eq!(e.exit.code(), 64);
        assert_eq!(
            e.message,
            "no envelope from address found: from uses %F, and the mail has no From header"
        );
        // Without %F a missing From changes nothing.
        assert_eq!(
            fin_mail("account a\nhost h\nfrom f@x\n", MailFrom::Missing, false)
                .unwrap()
                .as_deref(),
            Some("f@x")
        );
        // `domain` knows no %F.
        let mut a = account("account a\nhost h\nfrom f@x\ndomain %F.%H\n", "a");
        a.mail_from = addr();
        finalize_with(&mut a, true, false, &mut exp()).unwrap();
        assert_eq!(a.settings.domain, "%F.hh");
    }

    #[test]
    fn default_ports() {
        let a = fin("account a\nhost h\nfrom f\n", true, false).unwrap();
        assert_eq!(a.settings.port, Some(25));
        let a = fin(
            "account a\nhost h\nfrom f\ntls\ntls_starttls off\n",
            true,
            false,
        )
        .unwrap();
        assert_eq!(a.settings.port, Some(465));
        let a = fin("account a\nhost h\nfrom f\ntls_starttls off\n", true, false).unwrap();
        assert_eq!(a.settings.port, Some(25));
        let e = fin("account a\nhost h\nfrom f\nprotocol lmtp\n", true, false).unwrap_err();
        assert_eq!(e.message, "account a from rc: port not set");
        let e = fin("account a\nsocket /s\nfrom f\nprotocol lmtp\n", true, false).unwrap_err();
        assert_eq!(e.message, "account a from rc: port not set");
    }

    #[test]
    fn trust_file_system_rule() {
        let a = fin("account a\nhost h\nfrom f\n", true, false).unwrap();
        assert_eq!(a.settings.tls_trust_file, Some(Trust::System));
        // empty in the account itself: stays unset
        let a = fin("account a\nhost h\nfrom f\ntls_trust_file\n", true, false).unwrap();
        assert_eq!(a.settings.tls_trust_file, None);
        // empty in an inherited parent: stays unset
        let a = fin(
            "account p\ntls_trust_file\naccount a : p\nhost h\nfrom f\n",
            true,
            false,
        )
        .unwrap();
        assert_eq!(a.settings.tls_trust_file, None);
        // empty in defaults does not count
        let a = fin(
            "defaults\ntls_trust_file\naccount a\nhost h\nfrom f\n",
            true,
            false,
        )
        .unwrap();
        assert_eq!(a.settings.tls_trust_file, Some(Trust::System));
        // on the command line
        let mut a = account("account a\nhost h\nfrom f\n", "a");
        a.apply("tls_trust_file", "").unwrap();
        finalize_with(&mut a, true, false, &mut exp()).unwrap();
        assert_eq!(a.settings.tls_trust_file, None);
    }

    #[test]
    fn proxy_port_default() {
        let a = fin("account a\nhost h\nfrom f\nproxy_host p\n", true, false).unwrap();
        assert_eq!(a.settings.proxy_port, Some(1080));
        let a = fin("account a\nhost h\nfrom f\n", true, false).unwrap();
        assert_eq!(a.settings.proxy_port, None);
    }

    #[test]
    fn percent_expansion() {
        let a = fin("account a\nhost h\nfrom %U@%H\ndomain %U.%C\n", true, false).unwrap();
        assert_eq!(a.settings.from.as_deref(), Some("me@hh"));
        assert_eq!(a.settings.domain, "%U.hh.canon");
        let a = fin("account a\nhost h\nfrom x@%M%%%X\n", true, false).unwrap();
        assert_eq!(a.settings.from.as_deref(), Some("x@mail.name%%%X"));
        // from is expanded only in sendmail mode
        let a = fin("account a\nhost h\nfrom %U\n", false, false).unwrap();
        assert_eq!(a.settings.from.as_deref(), Some("%U"));
        let mut e = Expander {
            fixed: Some((
                "a\tb".into(),
                "h\u{1}x".into(),
                "c".into(),
                Err("/etc/mailname: Invalid argument".into()),
            )),
            ..Default::default()
        };
        assert_eq!(e.expand("%U-%H", true).unwrap(), "a?b-h?x");
        let err = e.expand("%M", true).unwrap_err();
        assert_eq!(err.message, "/etc/mailname: Invalid argument");
        assert_eq!(err.exit.code(), 78);
    }

    #[test]
    fn mailname_is_msmtps_first_fgets_line() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("mailname");
        let mut long = "x".repeat(300);
        long.push_str(".example\n");
        std::fs::write(&p, &long).unwrap();
        assert_eq!(read_mailname_at(&p).unwrap(), "x".repeat(255));
        std::fs::write(&p, "ab\0cd\r\n").unwrap();
        assert_eq!(read_mailname_at(&p).unwrap(), "ab");
        std::fs::write(&p, "mail.example\r\nnext\n").unwrap();
        assert_eq!(read_mailname_at(&p).unwrap(), "mail.example");
        for endless in ["/dev/zero", "/dev/null"] {
            let e = read_mailname_at(std::path::Path::new(endless)).unwrap_err();
            assert_eq!(e.message, format!("{endless}: Invalid argument"));
            assert_eq!(e.exit.code(), 78);
        }
    }

    #[test]
    fn auto_from_replaces_from() {
        let a = fin(
            "account a\nhost h\nfrom a@x\nauto_from on\nmaildomain %H.d\n",
            true,
            false,
        )
        .unwrap();
        assert_eq!(a.settings.from.as_deref(), Some("me@%H.d"));
        let a = fin("account a\nhost h\nauto_from\nmaildomain\n", true, false).unwrap();
        assert_eq!(a.settings.from.as_deref(), Some("me"));
    }

    #[test]
    fn check_account_texts_and_order() {
        let cases = [
            ("from a@x\n", "host not set"),
            ("socket /s\ntls on\nfrom a@x\n", "host not set"),
            ("host h\n", "envelope-from address is missing"),
            (
                "host h\ntls_key_file k\nfrom x\n",
                "tls_key_file requires tls_cert_file",
            ),
            (
                "host h\ntls_cert_file c\nfrom x\n",
                "tls_cert_file requires tls_key_file",
            ),
            (
                "host h\ntls on\ntls_trust_file\nfrom x\n",
                "tls requires either tls_trust_file (highly recommended) or tls_fingerprint or a disabled tls_certcheck",
            ),
            (
                "host h\ntls_trust_file\ntls_crl_file c\nfrom x\n",
                "tls_crl_file requires tls_trust_file",
            ),
        ];
        for (body, want) in cases {
            let e = fin(&format!("account a\n{body}"), true, false).unwrap_err();
            assert_eq!(e.message, format!("account a from rc: {want}"), "{body:?}");
            assert_eq!(e.exit.code(), 78);
        }
        for ok in [
            "socket /s\nfrom a@x\n",
            "socket /s\ntls on\ntls_host_override o\nfrom a@x\n",
            "host h\ntls on\ntls_trust_file\ntls_certcheck off\nfrom x\n",
            "host h\ntls on\ntls_trust_file\ntls_fingerprint ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab\nfrom x\n",
            "host h\ntls_crl_file c\nfrom x\n",
        ] {
            assert!(
                fin(&format!("account a\n{ok}"), true, false).is_ok(),
                "{ok:?}"
            );
        }
        // pretend and non-sendmail modes skip the envelope-from check
        assert!(fin("account a\nhost h\n", true, true).is_ok());
        assert!(fin("account a\nhost h\n", false, false).is_ok());
        // pretend still reports the key/cert problem
        let e = fin("account a\nhost h\ntls_key_file k\n", true, true).unwrap_err();
        assert!(e.message.ends_with("tls_key_file requires tls_cert_file"));
    }

    #[test]
    fn command_transports_need_no_host_and_exclude_other_connections() {
        assert!(fin("account a\npipe_command sendmail -t\nfrom f\n", true, false).is_ok());
        assert!(
            fin(
                "account a\nhost h\nproxy_command nc %h %p\nfrom f\n",
                true,
                false
            )
            .is_ok()
        );
        for (body, want) in [
            (
                "host h\nproxy_command nc %h %p\npipe_command sendmail -t\n",
                "pipe_command and proxy_command cannot both be used",
            ),
            (
                "host h\nproxy_command nc %h %p\nsocket /s\n",
                "proxy_command and socket cannot both be used",
            ),
            (
                "host h\nproxy_command nc %h %p\nproxy_host p\n",
                "proxy_command and proxy_host cannot both be used",
            ),
            ("proxy_command nc %h %p\n", "host not set"),
        ] {
            let e = fin(&format!("account a\n{body}from f\n"), true, false).unwrap_err();
            assert_eq!(e.message, format!("account a from rc: {want}"), "{body:?}");
            assert_eq!(e.exit.code(), 78);
        }
        // An account drops an inherited setting with an empty argument.
        let rc = "defaults\nproxy_host p\naccount a\nhost h\nfrom f\nproxy_host\nproxy_command nc %h %p\n";
        assert!(fin(rc, true, false).is_ok());
    }

    #[test]
    fn check_account_command_line_has_no_prefix() {
        let mut a = Account::new("cmdline", None, &Default::default());
        let e = finalize_with(&mut a, true, false, &mut exp()).unwrap_err();
        assert_eq!(e.message, "host not set");
    }
}
