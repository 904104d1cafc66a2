//! The value types of msmtprc settings (msmtp.md section 2.5), the "explicitly set" mask that
//! drives inheritance (2.4), and [`Account::apply`], the one place where a command and its
//! argument are validated and stored. Config files and command-line overrides both go through
//! `apply`; the commands themselves are declared in [`super::commands`].

use super::commands::{Command, Field};
use super::grammar::{Bad, Ctx, Origin};
use std::fmt;
use std::path::PathBuf;

pub use super::commands::Settings;
pub use super::grammar::parse_duration;

/// `protocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Smtp,
    Lmtp,
}

impl Protocol {
    pub fn parse(s: &str) -> Option<Protocol> {
        match s {
            "smtp" => Some(Protocol::Smtp),
            "lmtp" => Some(Protocol::Lmtp),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Smtp => "smtp",
            Protocol::Lmtp => "lmtp",
        }
    }
}

/// An authentication method name accepted by `auth` (lowercase in the file, uppercase on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    Plain,
    ScramSha1,
    ScramSha256,
    ScramSha1Plus,
    ScramSha256Plus,
    External,
    Gssapi,
    CramMd5,
    DigestMd5,
    Login,
    Ntlm,
    OauthBearer,
    Xoauth2,
}

impl AuthMethod {
    /// Parse the lowercase config/command-line spelling.
    pub fn parse(s: &str) -> Option<AuthMethod> {
        Some(match s {
            "plain" => AuthMethod::Plain,
            "scram-sha-1" => AuthMethod::ScramSha1,
            "scram-sha-256" => AuthMethod::ScramSha256,
            "scram-sha-1-plus" => AuthMethod::ScramSha1Plus,
            "scram-sha-256-plus" => AuthMethod::ScramSha256Plus,
            "external" => AuthMethod::External,
            "gssapi" => AuthMethod::Gssapi,
            "cram-md5" => AuthMethod::CramMd5,
            "digest-md5" => AuthMethod::DigestMd5,
            "login" => AuthMethod::Login,
            "ntlm" => AuthMethod::Ntlm,
            "oauthbearer" => AuthMethod::OauthBearer,
            "xoauth2" => AuthMethod::Xoauth2,
            _ => return None,
        })
    }

    /// The SASL mechanism name, as sent in `AUTH` and printed by `-P`.
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Plain => "PLAIN",
            AuthMethod::ScramSha1 => "SCRAM-SHA-1",
            AuthMethod::ScramSha256 => "SCRAM-SHA-256",
            AuthMethod::ScramSha1Plus => "SCRAM-SHA-1-PLUS",
            AuthMethod::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
            AuthMethod::External => "EXTERNAL",
            AuthMethod::Gssapi => "GSSAPI",
            AuthMethod::CramMd5 => "CRAM-MD5",
            AuthMethod::DigestMd5 => "DIGEST-MD5",
            AuthMethod::Login => "LOGIN",
            AuthMethod::Ntlm => "NTLM",
            AuthMethod::OauthBearer => "OAUTHBEARER",
            AuthMethod::Xoauth2 => "XOAUTH2",
        }
    }
}

/// `auth`: off, on (let postie choose), or one fixed method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Auth {
    #[default]
    Off,
    Choose,
    Method(AuthMethod),
}

impl Auth {
    /// `on` or empty (choose), `off`, or a lowercase method name.
    pub fn parse(s: &str) -> Option<Auth> {
        match s {
            "" | "on" => Some(Auth::Choose),
            "off" => Some(Auth::Off),
            m => AuthMethod::parse(m).map(Auth::Method),
        }
    }

    /// What `-P` prints.
    pub fn describe(self) -> &'static str {
        match self {
            Auth::Off => "none",
            Auth::Choose => "choose",
            Auth::Method(m) => m.name(),
        }
    }

    /// Whether authentication is enabled at all (decides whether passwordeval runs).
    pub fn enabled(self) -> bool {
        self != Auth::Off
    }
}

/// `tls_trust_file`: the system store or a PEM file. "Unset" (no CA trust) is `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsTrust {
    System,
    File(String),
}

/// `set_from_header`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SetFromHeader {
    #[default]
    Auto,
    On,
    Off,
}

impl SetFromHeader {
    /// `auto` (or empty), `on` or `off`.
    pub fn parse(s: &str) -> Option<SetFromHeader> {
        match s {
            "" | "auto" => Some(SetFromHeader::Auto),
            "on" => Some(SetFromHeader::On),
            "off" => Some(SetFromHeader::Off),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            SetFromHeader::Auto => "auto",
            SetFromHeader::On => "on",
            SetFromHeader::Off => "off",
        }
    }
}

/// `set_date_header` and `set_msgid_header`: add the header when missing, or never.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AutoOff {
    #[default]
    Auto,
    Off,
}

impl AutoOff {
    /// `auto` (or empty) or `off`.
    pub fn parse(s: &str) -> Option<AutoOff> {
        match s {
            "" | "auto" => Some(AutoOff::Auto),
            "off" => Some(AutoOff::Off),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            AutoOff::Auto => "auto",
            AutoOff::Off => "off",
        }
    }
}

/// One `dsn_notify` condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DsnCondition {
    Failure,
    Delay,
    Success,
}

/// `dsn_notify` when not `off`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DsnNotify {
    Never,
    /// The conditions in the order given (no duplicates).
    On(Vec<DsnCondition>),
}

impl DsnNotify {
    /// The `NOTIFY=` parameter value (also what `-P` prints), e.g. `FAILURE,DELAY`.
    pub fn keyword(&self) -> String {
        match self {
            DsnNotify::Never => "NEVER".to_string(),
            DsnNotify::On(conds) => conds
                .iter()
                .map(|c| match c {
                    DsnCondition::Failure => "FAILURE",
                    DsnCondition::Delay => "DELAY",
                    DsnCondition::Success => "SUCCESS",
                })
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// Parse the config spelling (`never` or a comma list of lowercase conditions).
    pub fn parse(s: &str) -> Option<DsnNotify> {
        if s == "never" {
            return Some(DsnNotify::Never);
        }
        let mut conds = Vec::new();
        for word in s.split(',') {
            let c = match word {
                "failure" => DsnCondition::Failure,
                "delay" => DsnCondition::Delay,
                "success" => DsnCondition::Success,
                _ => return None,
            };
            if conds.contains(&c) {
                return None;
            }
            conds.push(c);
        }
        Some(DsnNotify::On(conds))
    }
}

/// `dsn_return` when not `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DsnReturn {
    Headers,
    Full,
}

impl DsnReturn {
    /// The `RET=` parameter value (also what `-P` prints).
    pub fn keyword(self) -> &'static str {
        match self {
            DsnReturn::Headers => "HDRS",
            DsnReturn::Full => "FULL",
        }
    }
}

/// `syslog FACILITY`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyslogFacility {
    User,
    Mail,
    /// LOG_LOCAL0 .. LOG_LOCAL7.
    Local(u8),
}

impl SyslogFacility {
    /// Parse the exact (case-sensitive) facility name.
    pub fn parse(s: &str) -> Option<SyslogFacility> {
        match s {
            "LOG_USER" => Some(SyslogFacility::User),
            "LOG_MAIL" => Some(SyslogFacility::Mail),
            _ => {
                let n = s.strip_prefix("LOG_LOCAL")?;
                match n.as_bytes() {
                    [d @ b'0'..=b'7'] => Some(SyslogFacility::Local(d - b'0')),
                    _ => None,
                }
            }
        }
    }

    /// The facility name as written in the config and printed by `-P`.
    pub fn name(self) -> String {
        match self {
            SyslogFacility::User => "LOG_USER".to_string(),
            SyslogFacility::Mail => "LOG_MAIL".to_string(),
            SyslogFacility::Local(n) => format!("LOG_LOCAL{n}"),
        }
    }

    /// The libc facility constant.
    pub fn to_libc(self) -> libc::c_int {
        match self {
            SyslogFacility::User => libc::LOG_USER,
            SyslogFacility::Mail => libc::LOG_MAIL,
            SyslogFacility::Local(n) => match n {
                0 => libc::LOG_LOCAL0,
                1 => libc::LOG_LOCAL1,
                2 => libc::LOG_LOCAL2,
                3 => libc::LOG_LOCAL3,
                4 => libc::LOG_LOCAL4,
                5 => libc::LOG_LOCAL5,
                6 => libc::LOG_LOCAL6,
                _ => libc::LOG_LOCAL7,
            },
        }
    }
}

/// The set of settings explicitly given for an account (in the file, by a parent, or on the
/// command line). Values copied from `defaults` are *not* in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Mask(u128);

const _: () = assert!(Field::ALL.len() <= u128::BITS as usize);

impl Mask {
    pub(crate) fn set(&mut self, f: Field) {
        self.0 |= 1 << (f as u32);
    }
    pub(crate) fn has(self, f: Field) -> bool {
        self.0 & (1 << (f as u32)) != 0
    }
}

/// Why a command could not be applied. Display gives msmtp's text without the `FILE: line N: `
/// prefix, e.g. `command host needs an argument`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandError {
    Unknown { command: String },
    NeedsArgument { command: String },
    TakesNoArgument { command: String },
    Invalid { command: String, argument: String },
}

impl CommandError {
    fn new(bad: Bad, command: &str, argument: &str) -> CommandError {
        let command = command.to_string();
        match bad {
            Bad::Needs => CommandError::NeedsArgument { command },
            Bad::TakesNone => CommandError::TakesNoArgument { command },
            Bad::Invalid => CommandError::Invalid {
                command,
                argument: argument.to_string(),
            },
        }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Unknown { command } => write!(f, "unknown command {command}"),
            CommandError::NeedsArgument { command } => {
                write!(f, "command {command} needs an argument")
            }
            CommandError::TakesNoArgument { command } => {
                write!(f, "command {command} does not take an argument")
            }
            CommandError::Invalid { command, argument } => {
                write!(f, "invalid argument {argument} for command {command}")
            }
        }
    }
}

impl std::error::Error for CommandError {}

/// One account: its name, the file it came from, its settings and which of them were set
/// explicitly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    /// The file that defined it; `None` for a command-line (`--host`) or environment account.
    pub file: Option<PathBuf>,
    pub settings: Settings,
    /// `--read-envelope-from` was given, overriding was allowed, but the mail had no From
    /// address: the envelope-from is missing and `-P` prints `from = (read from mail)`.
    pub from_pending: bool,
    pub(crate) mask: Mask,
}

impl Account {
    /// A new account whose values are a copy of `defaults` and whose mask is empty.
    pub fn new(name: impl Into<String>, file: Option<PathBuf>, defaults: &Settings) -> Account {
        Account {
            name: name.into(),
            file,
            settings: defaults.clone(),
            from_pending: false,
            mask: Mask::default(),
        }
    }

    /// Overlay the settings explicitly set in `parent` (values and mask bits).
    pub fn inherit(&mut self, parent: &Account) {
        for &f in Field::ALL {
            if parent.mask.has(f) {
                f.copy(&mut self.settings, &parent.settings);
                self.mask.set(f);
            }
        }
    }

    /// Whether `tls_trust_file` was given explicitly (possibly empty) for this account, by a
    /// parent, or on the command line. Decides the `system` default (msmtp.md 2.6).
    pub fn tls_trust_file_explicit(&self) -> bool {
        self.mask.has(Field::tls_trust_file)
    }

    /// Apply one config command (also used for command-line overrides: `--host=x` is
    /// `("host", "x")`). `~` in file-name arguments is expanded with `$HOME`.
    pub fn apply(&mut self, command: &str, argument: &str) -> Result<(), CommandError> {
        let home = super::paths::home_dir();
        self.apply_with_home(command, argument, &home)
    }

    /// [`Account::apply`] with an explicit home directory for `~` expansion.
    pub fn apply_with_home(
        &mut self,
        command: &str,
        arg: &str,
        home: &str,
    ) -> Result<(), CommandError> {
        let Some(cmd) = Command::lookup(command) else {
            return Err(CommandError::Unknown {
                command: command.to_string(),
            });
        };
        let ctx = Ctx {
            home,
            origin: Origin::File,
        };
        let field = cmd
            .apply(&mut self.settings, arg, &ctx)
            .map_err(|bad| CommandError::new(bad, command, arg))?;
        if let Some(f) = field {
            self.mask.set(f);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_tracks_explicit_settings_and_inheritance_overlays() {
        let defaults = Settings {
            port: Some(99),
            ..Settings::default()
        };
        let mut parent = Account::new("p", None, &defaults);
        parent.apply_with_home("host", "ph", "/h").unwrap();
        parent.apply_with_home("tls_trust_file", "", "/h").unwrap();
        let mut child = Account::new("c", None, &Settings::default());
        child.inherit(&parent);
        // the parent's port came from its defaults: not inherited
        assert_eq!(child.settings.port, None);
        assert_eq!(child.settings.host.as_deref(), Some("ph"));
        assert!(child.tls_trust_file_explicit());
    }

    #[test]
    fn unknown_command_text() {
        let mut a = Account::new("a", None, &Settings::default());
        for cmd in [
            "Host",
            "eval",
            "account",
            "defaults",
            "select_account_by_from",
        ] {
            let e = a.apply_with_home(cmd, "x", "/h").unwrap_err();
            assert_eq!(e.to_string(), format!("unknown command {cmd}"));
        }
    }

    #[test]
    fn errors_name_the_command_as_written() {
        let mut a = Account::new("a", None, &Settings::default());
        let mut text =
            |cmd: &str, arg: &str| a.apply_with_home(cmd, arg, "/h").unwrap_err().to_string();
        assert_eq!(
            text("connect_timeout", ""),
            "command connect_timeout needs an argument"
        );
        assert_eq!(
            text("keepbcc", "x"),
            "invalid argument x for command keepbcc"
        );
        assert_eq!(
            text("tls_nocertcheck", "x"),
            "command tls_nocertcheck does not take an argument"
        );
    }

    #[test]
    fn debug_output_of_settings_never_shows_the_password() {
        let mut a = Account::new("a", None, &Settings::default());
        a.apply("password", "hunter2-secret").expect("valid");
        assert!(!format!("{a:?}").contains("hunter2-secret"));
        assert_eq!(
            a.settings.password.as_ref().map(|p| p.expose()),
            Some("hunter2-secret")
        );
    }
}
