//! Passwords (msmtp.md section 4). Two moments, as in msmtp:
//!
//! * before connecting, `passwordeval` runs when authentication is on and no `password` is set
//!   ([`run_passwordeval`]);
//! * at AUTH time, when the chosen mechanism needs a password that is still missing, the lookup
//!   chain runs: the Secret Service ([`keyring`]), `~/.netrc`, the system netrc, then a prompt on
//!   `/dev/tty` ([`lookup`]). The mail is on stdin, so stdin is never read for a password.
//!
//! The value itself is a [`crate::config::Secret`]: out of `Debug` output, wiped on drop.

pub mod keyring;
pub mod netrc;

pub use crate::config::Secret;
use crate::error::{Error, Result, Sysexit};
use std::path::Path;

/// Run `passwordeval CMD`: the first line of its output is the password. The exit status is
/// ignored (as in msmtp); no output at all is an error (78). The command gets /dev/null as
/// stdin so it can never eat the mail.
pub fn run_passwordeval(command: &str) -> Result<Secret> {
    let timeout = crate::config::eval::helper_timeout();
    match crate::config::eval::run_first_line(command, timeout) {
        Ok(Some(line)) => Ok(Secret::new(line)),
        Ok(None) => Err(Error::config(format!("cannot read output of '{command}'"))),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Err(Error::config(format!(
            "passwordeval command '{command}' did not finish within {} and was killed \
             (if it waits for a passphrase, unlock your agent first, or raise POSTIE_HELPER_TIMEOUT)",
            match timeout.as_secs() {
                1 => "1 second".to_owned(),
                n => format!("{n} seconds"),
            }
        ))),
        Err(e) => Err(Error::config(format!(
            "cannot evaluate '{command}': {}",
            crate::error::strerror(&e)
        ))),
    }
}

/// msmtp's early `passwordeval` (before connecting, also under `-P`): only when
/// authentication is on and no `password` is set; the result becomes the password.
pub fn apply_passwordeval(settings: &mut crate::config::Settings) -> Result<()> {
    if settings.auth.enabled()
        && settings.password.is_none()
        && let Some(cmd) = &settings.passwordeval
    {
        settings.password = Some(run_passwordeval(cmd)?);
    }
    Ok(())
}

/// The password for AUTH, asked for only once a mechanism that needs one has been chosen: the
/// account's `password` (from the file or `passwordeval`), else the lookup chain for its
/// `user` at its `host` (or socket path, as msmtp keys it). `Ok(None)`: nothing found.
pub fn auth_password(settings: &crate::config::Settings) -> Result<Option<String>> {
    if let Some(p) = &settings.password {
        return Ok(Some(p.expose().to_owned()));
    }
    let host = settings
        .host
        .as_deref()
        .or(settings.socket.as_deref())
        .unwrap_or_default();
    let user = settings.user.as_deref().unwrap_or_default();
    let home = std::path::PathBuf::from(crate::config::paths::home_dir());
    let found = lookup(host, user, Some(&home), &crate::config::paths::sysconfdir())?;
    Ok(found.map(|p| p.expose().to_owned()))
}

/// The AUTH-time lookup chain for `user` at `host` (the `host` setting, or the socket path):
/// the Secret Service, `~/.netrc`, `SYSCONFDIR/netrc`, then a prompt on `/dev/tty`. `Ok(None)` means nothing was
/// found and no terminal was available; the caller reports msmtp's
/// `authentication method M needs a password` (69).
pub fn lookup(
    host: &str,
    user: &str,
    home: Option<&Path>,
    sysconfdir: &Path,
) -> Result<Option<Secret>> {
    if let Some(p) = keyring::lookup(host, user) {
        return Ok(Some(p));
    }
    if let Some(home) = home
        && let Some(p) = netrc::find_in_file(&home.join(".netrc"), host, user)?
    {
        return Ok(Some(Secret::new(p)));
    }
    if let Some(p) = netrc::find_in_file(&sysconfdir.join("netrc"), host, user)? {
        return Ok(Some(Secret::new(p)));
    }
    prompt(host, user)
}

/// Ask on the controlling terminal, without echo. Only when `/dev/tty` opens read-write: under
/// cron, systemd or an ssh session without a tty there is nobody to answer, and waiting would
/// hang the caller.
fn prompt(host: &str, user: &str) -> Result<Option<Secret>> {
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .is_err()
    {
        return Ok(None);
    }
    match rpassword::prompt_password(format!("password for {user} at {host}: ")) {
        Ok(p) => Ok(Some(Secret::new(p))),
        Err(e) => Err(Error::new(
            Sysexit::IoErr,
            format!(
                "cannot read the password from the terminal: {}",
                crate::error::strerror(&e)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netrc_wins_over_prompt() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".netrc"),
            "machine mx login joe password pw\n",
        )
        .unwrap();
        let got = lookup("mx", "joe", Some(dir.path()), dir.path()).unwrap();
        assert_eq!(got.unwrap().expose(), "pw");
    }
}
