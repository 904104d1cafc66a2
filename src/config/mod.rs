//! msmtprc files (msmtp.md section 2): locating the system and user files, parsing each with its
//! own defaults, the secrets permission check on the user file, and merging the two account
//! lists (user accounts replace same-named system ones; system-only accounts come first).
//! Also home of the helper-command runner shared with `passwordeval` ([`eval`]).

pub(crate) mod commands;
mod declare;
pub mod eval;
pub(crate) mod grammar;
pub mod parse;
pub mod paths;
mod secret;
pub mod settings;
pub mod values;

pub use secret::Secret;
pub use settings::{
    Account, AuthSetting, AutoOff, CommandError, DsnCondition, DsnNotify, DsnReturn, Fingerprint,
    Mechanism, Protocol, SetFromHeader, Settings, SyslogFacility, Trust,
};

use crate::error::{Error, Result};
use parse::{ParseEnv, ParsedFile};
use std::path::{Path, PathBuf};

/// The merged configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// System-only accounts (system file order), then user accounts (user file order).
    pub accounts: Vec<Account>,
    pub system_file: PathBuf,
    pub user_file: PathBuf,
    /// `-P`/`-d` info lines: `loaded ...` / `ignoring ...: REASON`.
    pub info: Vec<String>,
    /// postie's From-header account selection (default on; the user file's `defaults` wins).
    pub select_account_by_from: bool,
    /// postie's `trust_sendmail_argv` (default off; the user file wins over the system file).
    pub trust_sendmail_argv: bool,
    /// Whether the system file was read (for the "account not found" wording).
    pub system_loaded: bool,
    /// Whether the user file was read.
    pub user_loaded: bool,
}

impl Config {
    /// The account named `name`.
    pub fn find(&self, name: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.name == name)
    }
}

/// Read the system file and the user file (`-C FILE` if given, else the default location).
pub fn load(user_file: Option<&Path>) -> Result<Config> {
    load_collecting(user_file, &mut Vec::new())
}

/// [`load`], also pushing the info lines to `info` as they arise, so that a caller printing
/// them under `-P`/`-d` can show the ones that precede an error (msmtp prints
/// `ignoring system configuration file ...` before failing on a missing `-C` file).
pub fn load_collecting(user_file: Option<&Path>, info: &mut Vec<String>) -> Result<Config> {
    let env = ParseEnv {
        home: paths::home_dir(),
        eval_timeout: eval::helper_timeout(),
    };
    let user = match user_file {
        Some(p) => p.to_path_buf(),
        None => paths::default_user_file(),
    };
    load_files_collecting(
        &paths::system_file(),
        &user,
        user_file.is_some(),
        &env,
        paths::euid(),
        info,
    )
}

fn read_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

/// The largest msmtprc postie reads. Real ones are a few kilobytes.
pub const MAX_FILE_SIZE: usize = crate::fsread::MIB;

fn parse_open(path: &Path, f: std::fs::File, env: &ParseEnv) -> Result<ParsedFile> {
    let content = crate::fsread::read_capped(f, MAX_FILE_SIZE)
        .map_err(|_| Error::io(format!("{}: input error", path.display())))?;
    if !content.over {
        return parse::parse_bytes(path, &content.data, env);
    }
    // msmtp reads line by line, so an error in the lines before the limit is the one it
    // reports too (`-C /dev/zero` fails with its `line longer than 500 characters`); only a
    // file that is fine that far is refused for its size.
    parse::parse_bytes(path, content.whole_lines(), env)?;
    Err(Error::config(format!(
        "{}: {}",
        path.display(),
        crate::fsread::TooLarge {
            limit: MAX_FILE_SIZE
        }
    )))
}

/// [`load`] with every outside input explicit (used by tests).
pub fn load_files(
    system_file: &Path,
    user_file: &Path,
    user_file_required: bool,
    env: &ParseEnv,
    euid: u32,
) -> Result<Config> {
    load_files_collecting(
        system_file,
        user_file,
        user_file_required,
        env,
        euid,
        &mut Vec::new(),
    )
}

fn load_files_collecting(
    system_file: &Path,
    user_file: &Path,
    user_file_required: bool,
    env: &ParseEnv,
    euid: u32,
    info: &mut Vec<String>,
) -> Result<Config> {
    let sysname = system_file.display();
    let system = match read_file(system_file) {
        Ok(f) => {
            let p = parse_open(system_file, f, env)?;
            info.push(format!("loaded system configuration file {sysname}"));
            Some(p)
        }
        Err(e) => {
            info.push(format!(
                "ignoring system configuration file {sysname}: {}",
                paths::strerror(&e)
            ));
            None
        }
    };
    let username = user_file.display();
    let user = match read_file(user_file) {
        Ok(f) => {
            let p = parse_open(user_file, f, env)?;
            if p.contains_secrets {
                paths::check_secure(user_file, euid).map_err(|problem| {
                    let msg = problem.message(user_file);
                    match problem {
                        paths::PermProblem::Stat(_) => Error::io(msg),
                        _ => Error::config(msg),
                    }
                })?;
            }
            info.push(format!("loaded user configuration file {username}"));
            Some(p)
        }
        Err(e) if user_file_required => {
            return Err(Error::io(format!("{username}: {}", paths::strerror(&e))));
        }
        Err(e) => {
            info.push(format!(
                "ignoring user configuration file {username}: {}",
                paths::strerror(&e)
            ));
            None
        }
    };
    let select_account_by_from = user
        .as_ref()
        .and_then(|u| u.select_account_by_from)
        .or(system.as_ref().and_then(|s| s.select_account_by_from))
        .unwrap_or(true);
    let trust_sendmail_argv = user
        .as_ref()
        .and_then(|u| u.trust_sendmail_argv)
        .or(system.as_ref().and_then(|s| s.trust_sendmail_argv))
        .unwrap_or(false);
    let system_loaded = system.is_some();
    let user_loaded = user.is_some();
    let user_accounts = user.map(|u| u.accounts).unwrap_or_default();
    let mut accounts: Vec<Account> = system
        .map(|s| s.accounts)
        .unwrap_or_default()
        .into_iter()
        .filter(|a| !user_accounts.iter().any(|u| u.name == a.name))
        .collect();
    accounts.extend(user_accounts);
    Ok(Config {
        accounts,
        system_file: system_file.to_path_buf(),
        user_file: user_file.to_path_buf(),
        info: info.clone(),
        select_account_by_from,
        trust_sendmail_argv,
        system_loaded,
        user_loaded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Sysexit;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    fn env() -> ParseEnv {
        ParseEnv {
            home: "/home/u".into(),
            eval_timeout: Duration::from_secs(10),
        }
    }

    fn write(dir: &Path, name: &str, content: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn merge_user_replaces_system_and_system_only_first() {
        let d = tempfile::tempdir().unwrap();
        let sys = write(
            d.path(),
            "sys",
            "account s1\nhost s1\naccount u1\nhost sysu1\naccount s2\nhost s2\n",
            0o644,
        );
        let usr = write(
            d.path(),
            "usr",
            "account u1\nhost useru1\naccount a\nhost a\n",
            0o600,
        );
        let c = load_files(&sys, &usr, true, &env(), 0).unwrap();
        let names: Vec<_> = c.accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["s1", "s2", "u1", "a"]);
        assert_eq!(
            c.find("u1").unwrap().settings.host.as_deref(),
            Some("useru1")
        );
        assert_eq!(c.find("u1").unwrap().file.as_deref(), Some(usr.as_path()));
        assert_eq!(
            c.info,
            [
                format!("loaded system configuration file {}", sys.display()),
                format!("loaded user configuration file {}", usr.display()),
            ]
        );
        assert!(c.system_loaded && c.user_loaded);
    }

    #[test]
    fn per_file_defaults_do_not_leak() {
        let d = tempfile::tempdir().unwrap();
        let sys = write(d.path(), "sys", "defaults\nport 99\naccount s\n", 0o644);
        let usr = write(d.path(), "usr", "account u\naccount v : s\n", 0o600);
        let e = load_files(&sys, &usr, true, &env(), 0).unwrap_err();
        assert_eq!(
            e.message,
            format!("{}: line 2: account s not (yet) defined", usr.display())
        );
        let usr = write(d.path(), "usr", "account u\n", 0o600);
        let c = load_files(&sys, &usr, true, &env(), 0).unwrap();
        assert_eq!(c.find("u").unwrap().settings.port, None);
        assert_eq!(c.find("s").unwrap().settings.port, Some(99));
    }

    #[test]
    fn missing_files_are_info_lines_unless_c_given() {
        let d = tempfile::tempdir().unwrap();
        let sys = d.path().join("nosys");
        let usr = d.path().join("nousr");
        let c = load_files(&sys, &usr, false, &env(), 0).unwrap();
        assert_eq!(
            c.info,
            [
                format!(
                    "ignoring system configuration file {}: No such file or directory",
                    sys.display()
                ),
                format!(
                    "ignoring user configuration file {}: No such file or directory",
                    usr.display()
                ),
            ]
        );
        assert!(c.accounts.is_empty());
        let mut info = Vec::new();
        let e = load_files_collecting(&sys, &usr, true, &env(), 0, &mut info).unwrap_err();
        assert_eq!(info.len(), 1, "system line kept before the -C error");
        assert_eq!(e.exit, Sysexit::IoErr);
        assert_eq!(
            e.message,
            format!("{}: No such file or directory", usr.display())
        );
    }

    #[test]
    fn system_syntax_error_is_fatal() {
        let d = tempfile::tempdir().unwrap();
        let sys = write(d.path(), "sys", "account\n", 0o644);
        let e = load_files(&sys, &d.path().join("x"), false, &env(), 0).unwrap_err();
        assert_eq!(e.exit, Sysexit::Config);
        assert_eq!(
            e.message,
            format!("{}: line 1: missing account name", sys.display())
        );
    }

    #[test]
    fn permission_check_only_user_file_with_literal_password() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let sys = write(d.path(), "sys", "account s\npassword x\n", 0o644);
        let usr = write(d.path(), "usr", "account u\npasswordeval x\n", 0o644);
        let me = std::fs::metadata(&usr).unwrap().uid();
        let euid = if me == 0 { 4242 } else { me };
        if me == 0 {
            std::os::unix::fs::chown(&usr, Some(euid), None).unwrap();
        }
        assert!(load_files(&sys, &usr, true, &env(), euid).is_ok());
        let usr = write(d.path(), "usr", "account u\npassword x\n", 0o644);
        if me == 0 {
            std::os::unix::fs::chown(&usr, Some(euid), None).unwrap();
        }
        let e = load_files(&sys, &usr, true, &env(), euid).unwrap_err();
        assert_eq!(e.exit, Sysexit::Config);
        assert_eq!(
            e.message,
            format!(
                "{}: contains secrets and therefore must have no more than user read/write permissions",
                usr.display()
            )
        );
        let e = load_files(&sys, &usr, true, &env(), euid + 1).unwrap_err();
        assert!(e.message.ends_with("must be owned by you"));
        // root is never checked
        assert!(load_files(&sys, &usr, true, &env(), 0).is_ok());
    }

    #[test]
    fn select_account_by_from_user_file_wins() {
        let d = tempfile::tempdir().unwrap();
        let sys = write(
            d.path(),
            "sys",
            "defaults\nselect_account_by_from off\n",
            0o644,
        );
        let usr = write(d.path(), "usr", "account u\n", 0o600);
        assert!(
            !load_files(&sys, &usr, true, &env(), 0)
                .unwrap()
                .select_account_by_from
        );
        let usr = write(
            d.path(),
            "usr",
            "defaults\nselect_account_by_from on\n",
            0o600,
        );
        assert!(
            load_files(&sys, &usr, true, &env(), 0)
                .unwrap()
                .select_account_by_from
        );
        let none = d.path().join("none");
        assert!(
            load_files(&none, &none, false, &env(), 0)
                .unwrap()
                .select_account_by_from
        );
    }

    #[test]
    fn endless_files_stop_at_msmtps_line_limit() {
        let d = tempfile::tempdir().unwrap();
        let none = d.path().join("none");
        for dev in ["/dev/zero", "/dev/urandom"] {
            let e = load_files(&none, Path::new(dev), true, &env(), 0).unwrap_err();
            assert_eq!(e.exit, Sysexit::Config, "{dev}: {}", e.message);
            assert!(
                e.message.starts_with(&format!("{dev}: line")),
                "{}",
                e.message
            );
        }
        let e = load_files(Path::new("/dev/zero"), &none, false, &env(), 0).unwrap_err();
        assert_eq!(e.message, "/dev/zero: line longer than 500 characters");
        let c = load_files(&none, Path::new("/dev/null"), true, &env(), 0).unwrap();
        assert!(c.accounts.is_empty() && c.user_loaded);
    }

    #[test]
    fn files_over_the_limit_are_refused_after_their_first_error() {
        let d = tempfile::tempdir().unwrap();
        let none = d.path().join("none");
        let line = "# a comment line of a configuration file that is too large\n";
        let mut big = line.repeat(MAX_FILE_SIZE / line.len());
        big.push_str("account a\nhost a.example\n");
        assert!(big.len() <= MAX_FILE_SIZE);
        let usr = write(d.path(), "usr", &big, 0o600);
        assert_eq!(
            load_files(&none, &usr, true, &env(), 0)
                .unwrap()
                .accounts
                .len(),
            1
        );
        big.push_str(&line.repeat(2));
        let usr = write(d.path(), "usr", &big, 0o600);
        let e = load_files(&none, &usr, true, &env(), 0).unwrap_err();
        assert_eq!(e.exit, Sysexit::Config);
        assert_eq!(
            e.message,
            format!("{}: file is too large (over 1048576 bytes)", usr.display())
        );
        let bad = format!("account a\nbogus x\n{big}");
        let usr = write(d.path(), "usr", &bad, 0o600);
        let e = load_files(&none, &usr, true, &env(), 0).unwrap_err();
        assert_eq!(
            e.message,
            format!("{}: line 2: unknown command bogus", usr.display())
        );
    }
}
