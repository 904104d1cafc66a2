//! Where the config files are (msmtp.md 2.1), the user-file permission check (2.2), and the C
//! `strerror` wording msmtp prints for file errors.

use std::ffi::CStr;
use std::path::{Path, PathBuf};

/// SYSCONFDIR: `/etc`, overridable by `POSTIE_SYSCONFDIR` (for tests).
pub fn sysconfdir() -> PathBuf {
    match std::env::var_os("POSTIE_SYSCONFDIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from("/etc"),
    }
}

/// The system configuration file, `SYSCONFDIR/msmtprc`.
pub fn system_file() -> PathBuf {
    sysconfdir().join("msmtprc")
}

/// `$HOME`, else the passwd entry's home directory, else `/`.
pub fn home_dir() -> String {
    if let Ok(h) = std::env::var("HOME") {
        return h;
    }
    passwd_field(|pw| pw.pw_dir).unwrap_or_else(|| "/".to_string())
}

/// The passwd name of the real user, if any.
pub fn passwd_name() -> Option<String> {
    passwd_field(|pw| pw.pw_name)
}

fn passwd_field(pick: fn(&libc::passwd) -> *mut libc::c_char) -> Option<String> {
    // SAFETY: getpwuid returns NULL or a pointer to a static passwd record that stays valid
    // until the next getpw* call; we copy the string out immediately and postie is
    // single-threaded while reading its configuration.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if pw.is_null() {
            return None;
        }
        let p = pick(&*pw);
        if p.is_null() {
            return None;
        }
        Some(CStr::from_ptr(p).to_string_lossy().into_owned())
    }
}

/// The default user file: `~/.msmtprc` if it exists, else the XDG location if that exists,
/// else `~/.msmtprc`.
pub fn default_user_file() -> PathBuf {
    default_user_file_in(
        Path::new(&home_dir()),
        std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from),
    )
}

/// [`default_user_file`] for a given home directory and `$XDG_CONFIG_HOME`.
pub fn default_user_file_in(home: &Path, xdg_config_home: Option<PathBuf>) -> PathBuf {
    let dot = home.join(".msmtprc");
    if std::fs::metadata(&dot).is_ok() {
        return dot;
    }
    let xdg = match xdg_config_home {
        Some(x) if !x.as_os_str().is_empty() => x,
        _ => home.join(".config"),
    };
    let xdg = xdg.join("msmtp").join("config");
    if std::fs::metadata(&xdg).is_ok() {
        xdg
    } else {
        dot
    }
}

pub use crate::error::strerror;

/// Outcome of the secrets permission check.
#[derive(Debug, PartialEq, Eq)]
pub enum PermProblem {
    /// `stat` failed: `FILE: strerror` (74).
    Stat(String),
    /// Owner is not the effective user (78).
    NotOwner,
    /// More than user read/write permission (78).
    TooOpen,
}

impl PermProblem {
    /// The message msmtp prints, with the file name prefix.
    pub fn message(&self, file: &Path) -> String {
        let f = file.display();
        match self {
            PermProblem::Stat(e) => format!("{f}: {e}"),
            PermProblem::NotOwner => {
                format!("{f}: contains secrets and therefore must be owned by you")
            }
            PermProblem::TooOpen => format!(
                "{f}: contains secrets and therefore must have no more than user read/write permissions"
            ),
        }
    }
}

/// Check a file that contains a literal `password` for owner `euid` and mode ≤ 0600
/// (symlinks followed). Root (euid 0) is never checked.
pub fn check_secure(file: &Path, euid: u32) -> Result<(), PermProblem> {
    use std::os::unix::fs::MetadataExt;
    if euid == 0 {
        return Ok(());
    }
    let md = std::fs::metadata(file).map_err(|e| PermProblem::Stat(strerror(&e)))?;
    if md.uid() != euid {
        return Err(PermProblem::NotOwner);
    }
    if md.mode() & 0o177 != 0 {
        return Err(PermProblem::TooOpen);
    }
    Ok(())
}

/// The effective user id (the owner a secrets file must have).
pub use crate::sys::geteuid as euid;

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn strerror_has_c_wording() {
        let e = std::fs::File::open("/nonexistent/postie/x").unwrap_err();
        assert_eq!(strerror(&e), "No such file or directory");
    }

    fn file_with_mode(mode: u32) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        f
    }

    fn my_uid() -> u32 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(tempfile::NamedTempFile::new().unwrap().path())
            .unwrap()
            .uid()
    }

    #[test]
    fn secrets_check_0600_and_0400_pass_0700_and_0640_fail() {
        let uid = my_uid().max(1);
        // When running as root the files are owned by 0; test the mode rule with a matching
        // pretend euid by chowning only if we are not root.
        if my_uid() == 0 {
            let f = file_with_mode(0o600);
            std::os::unix::fs::chown(f.path(), Some(uid), None).unwrap();
            assert_eq!(check_secure(f.path(), uid), Ok(()));
            for (mode, ok) in [
                (0o400, true),
                (0o700, false),
                (0o640, false),
                (0o604, false),
            ] {
                std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(mode)).unwrap();
                assert_eq!(check_secure(f.path(), uid).is_ok(), ok, "mode {mode:o}");
            }
        } else {
            for (mode, ok) in [(0o600, true), (0o400, true), (0o700, false), (0o640, false)] {
                let f = file_with_mode(mode);
                assert_eq!(check_secure(f.path(), uid).is_ok(), ok, "mode {mode:o}");
            }
        }
    }

    #[test]
    fn secrets_check_owner_must_be_euid() {
        let f = file_with_mode(0o600);
        let other = my_uid() + 4242;
        assert_eq!(check_secure(f.path(), other), Err(PermProblem::NotOwner));
        assert_eq!(
            PermProblem::NotOwner.message(Path::new("rc")),
            "rc: contains secrets and therefore must be owned by you"
        );
        assert_eq!(
            PermProblem::TooOpen.message(Path::new("rc")),
            "rc: contains secrets and therefore must have no more than user read/write permissions"
        );
    }

    #[test]
    fn user_file_location_precedence() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let dot = h.join(".msmtprc");
        // nothing exists: ~/.msmtprc
        assert_eq!(default_user_file_in(h, None), dot);
        // ~/.config/msmtp/config when XDG_CONFIG_HOME is unset
        std::fs::create_dir_all(h.join(".config/msmtp")).unwrap();
        std::fs::write(h.join(".config/msmtp/config"), "").unwrap();
        assert_eq!(
            default_user_file_in(h, None),
            h.join(".config/msmtp/config")
        );
        // $XDG_CONFIG_HOME/msmtp/config when set (and the other one is not consulted)
        let xdg = h.join("xdg");
        assert_eq!(default_user_file_in(h, Some(xdg.clone())), dot);
        std::fs::create_dir_all(xdg.join("msmtp")).unwrap();
        std::fs::write(xdg.join("msmtp/config"), "").unwrap();
        assert_eq!(
            default_user_file_in(h, Some(xdg.clone())),
            xdg.join("msmtp/config")
        );
        // ~/.msmtprc wins once it exists
        std::fs::write(&dot, "").unwrap();
        assert_eq!(default_user_file_in(h, Some(xdg)), dot);
    }

    #[test]
    fn secrets_check_skipped_for_root() {
        let f = file_with_mode(0o777);
        assert_eq!(check_secure(f.path(), 0), Ok(()));
    }

    #[test]
    fn secrets_check_stat_failure() {
        assert_eq!(
            check_secure(Path::new("/nonexistent/x"), 1000),
            Err(PermProblem::Stat("No such file or directory".into()))
        );
    }
}
