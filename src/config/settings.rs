//! An account: its settings, the "explicitly set" mask that drives inheritance (2.4), and
//! [`Account::apply`], the one place where a command and its argument are validated and
//! stored. Config files and command-line overrides both go through
//! `apply`; the commands themselves are declared in [`super::commands`].

use super::commands::{Command, Field};
use super::grammar::{Bad, Ctx, Origin};
use std::fmt;
use std::path::PathBuf;

pub use super::commands::Settings;
pub use super::grammar::parse_duration;

pub use super::values::*;

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
    /// The password in `settings` came from postie's password cache (so a server refusing it
    /// means it is stale): set by `secret::apply_passwordeval`.
    pub password_cached: bool,
    /// What `%F` in `from` stands for: the mail's sender, when a mail was read.
    pub mail_from: MailFrom,
    pub(crate) mask: Mask,
}

/// What `%F` in `from` (msmtp >= 1.8.29) is replaced by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum MailFrom {
    /// No mail was read (`--serverinfo`, a queue flush, `postie check`): `%F` stays as it is.
    #[default]
    NotRead,
    /// The mail has neither From nor Resent-From: a send with `%F` in `from` is refused.
    Missing,
    /// The address of the mail's From header (or of its Resent-From, see
    /// `HeaderBlock::sender`).
    Address(String),
}

impl Settings {
    /// The server's name: `host`, or the `socket` path (what passwords are stored for).
    pub fn host_or_socket(&self) -> &str {
        self.host
            .as_deref()
            .or(self.socket.as_deref())
            .unwrap_or_default()
    }

    /// The port a connection uses: `port`, else SMTP's default for the TLS mode (465 for
    /// implicit TLS, else 25); LMTP has no default (msmtp.md 2.6).
    pub fn effective_port(&self) -> Option<u16> {
        self.port.or_else(|| {
            (self.protocol == Protocol::Smtp).then_some(if self.tls && !self.tls_starttls {
                465
            } else {
                25
            })
        })
    }
}

impl Account {
    /// A new account whose values are a copy of `defaults` and whose mask is empty.
    pub fn new(name: impl Into<String>, file: Option<PathBuf>, defaults: &Settings) -> Account {
        Account {
            name: name.into(),
            file,
            settings: defaults.clone(),
            from_pending: false,
            password_cached: false,
            mail_from: MailFrom::NotRead,
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
