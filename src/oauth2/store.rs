//! Where an account's refresh token is kept (`oauth2_token_store`), and the lock that makes
//! concurrent postie processes refresh once.
//!
//! * `file` (the default): `$XDG_STATE_HOME/postie/oauth2/STEM.token` (`~/.local/state/...`),
//!   mode 0600 in a 0700 directory, written atomically (a temporary file, fsync, rename, fsync
//!   of the directory). A directory or file that is not the user's own, or that group or
//!   others can write, is refused, as the queue refuses one.
//! * `keyring`: the Secret Service through `secret-tool store|lookup|clear` with the attributes
//!   `service postie-oauth2 key STEM` (the token goes through secret-tool's stdin, never argv).
//! * `command`: the file store's place holds `STEM.token.enc`, what `oauth2_token_encrypt
//!   COMMAND` made of the token (stdin to stdout: `gpg -e -r me`, `age -r KEY`);
//!   `oauth2_token_decrypt COMMAND` turns it back (`gpg -d`, `age -d -i KEY`).
//!
//! STEM is the account name and a digest of the user, the token endpoint and the client ID
//! (a refresh token belongs to one client), so a changed client needs a new login. The lock
//! file `STEM.lock` lies in the same directory whatever the store.

use super::run::{self, run_with_input};
use crate::config::Secret;
use crate::error::{Error, Result, Sysexit};
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The largest token file read.
const MAX_FILE: u64 = 64 * 1024;

/// Where the refresh token lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Keyring,
    Command { encrypt: String, decrypt: String },
}

/// One account's token store.
#[derive(Clone, Debug)]
pub struct Store {
    pub kind: Kind,
    dir: PathBuf,
    stem: String,
}

/// The directory: `$XDG_STATE_HOME/postie/oauth2`, else `~/.local/state/postie/oauth2`.
pub fn default_dir() -> PathBuf {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| Path::new(&crate::config::paths::home_dir()).join(".local/state"));
    state.join("postie/oauth2")
}

impl Store {
    /// The store of `account` (name) for `user` with the client `client_id` at `token_url`,
    /// as the account's `oauth2_token_store` says.
    pub fn new(
        setting: Option<&str>,
        encrypt: Option<&str>,
        decrypt: Option<&str>,
        account: &str,
        user: &str,
        token_url: &str,
        client_id: &str,
    ) -> Result<Store> {
        let kind = match setting {
            None | Some("file") => Kind::File,
            Some("keyring") => Kind::Keyring,
            Some(_) => match (encrypt, decrypt) {
                (Some(e), Some(d)) => Kind::Command {
                    encrypt: e.to_owned(),
                    decrypt: d.to_owned(),
                },
                _ => {
                    return Err(Error::config(
                        "oauth2_token_store command needs oauth2_token_encrypt and oauth2_token_decrypt",
                    ));
                }
            },
        };
        Ok(Store {
            kind,
            dir: default_dir(),
            stem: stem(account, user, token_url, client_id),
        })
    }

    /// The store in another directory (tests).
    pub fn in_dir(mut self, dir: PathBuf) -> Store {
        self.dir = dir;
        self
    }

    /// STEM: what names this grant (file names, keyring attribute, access token cache).
    pub fn stem(&self) -> &str {
        &self.stem
    }

    /// Where the token is, in words (`status`).
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::File => self.file().display().to_string(),
            Kind::Keyring => format!("the keyring (service postie-oauth2 key {})", self.stem),
            Kind::Command { .. } => format!("{} (encrypted)", self.file().display()),
        }
    }

    fn file(&self) -> PathBuf {
        let ext = match self.kind {
            Kind::Command { .. } => "token.enc",
            _ => "token",
        };
        self.dir.join(format!("{}.{ext}", self.stem))
    }

    /// The refresh token, `None` if none is stored.
    pub fn load(&self) -> Result<Option<Secret>> {
        match &self.kind {
            Kind::File => {
                let Some(bytes) = self.read_file()? else {
                    return Ok(None);
                };
                Ok(first_line(&bytes).map(Secret::new))
            }
            Kind::Keyring => {
                let out =
                    run_with_input(&secret_tool(&["lookup"], &self.stem), b"", run::timeout())
                        .map_err(|e| {
                            store_error("cannot ask the keyring (secret-tool lookup)", &e)
                        })?;
                Ok(first_line(&out.stdout).map(Secret::new))
            }
            Kind::Command { decrypt, .. } => {
                let Some(bytes) = self.read_file()? else {
                    return Ok(None);
                };
                let out = run_with_input(&run::sh(decrypt), &bytes, run::timeout())
                    .map_err(|e| store_error("cannot run oauth2_token_decrypt", &e))?;
                if !out.success {
                    return Err(Error::new(
                        Sysexit::Unavailable,
                        "oauth2_token_decrypt failed (its exit status was not 0)",
                    ));
                }
                match first_line(&out.stdout) {
                    Some(t) => Ok(Some(Secret::new(t))),
                    None => Err(Error::new(
                        Sysexit::Unavailable,
                        "oauth2_token_decrypt printed nothing",
                    )),
                }
            }
        }
    }

    /// Whether a token is stored, without decrypting it (`status`).
    pub fn exists(&self) -> Result<bool> {
        match &self.kind {
            Kind::Keyring => Ok(self.load()?.is_some()),
            _ => Ok(fs::symlink_metadata(self.file()).is_ok()),
        }
    }

    /// Saves `token` (replacing what was there) so that a crash leaves the old or the new one.
    pub fn save(&self, token: &Secret) -> Result<()> {
        let mut line = zeroize::Zeroizing::new(token.expose().as_bytes().to_vec());
        line.push(b'\n');
        match &self.kind {
            Kind::File => self.write_file(&line),
            Kind::Keyring => {
                let out = run_with_input(
                    &secret_tool(
                        &[
                            "store",
                            &format!("--label=postie OAuth2 refresh token ({})", self.stem),
                        ],
                        &self.stem,
                    ),
                    token.expose().as_bytes(),
                    run::timeout(),
                )
                .map_err(|e| store_error("cannot store in the keyring (secret-tool store)", &e))?;
                if out.success {
                    Ok(())
                } else {
                    Err(Error::new(
                        Sysexit::Unavailable,
                        "cannot store the refresh token in the keyring: secret-tool store failed",
                    ))
                }
            }
            Kind::Command { encrypt, .. } => {
                let out = run_with_input(&run::sh(encrypt), &line, run::timeout())
                    .map_err(|e| store_error("cannot run oauth2_token_encrypt", &e))?;
                if !out.success || out.stdout.is_empty() {
                    return Err(Error::new(
                        Sysexit::Unavailable,
                        "oauth2_token_encrypt failed (no output, or its exit status was not 0)",
                    ));
                }
                self.write_file(&out.stdout)
            }
        }
    }

    /// Forgets the token; `true` if there was one.
    pub fn forget(&self) -> Result<bool> {
        match &self.kind {
            Kind::Keyring => {
                let had = self.load()?.is_some();
                run_with_input(&secret_tool(&["clear"], &self.stem), b"", run::timeout())
                    .map_err(|e| store_error("cannot ask the keyring (secret-tool clear)", &e))?;
                Ok(had)
            }
            _ => match fs::remove_file(self.file()) {
                Ok(()) => {
                    let _ = sync_dir(&self.dir);
                    Ok(true)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(io_error("cannot remove", &self.file(), &e)),
            },
        }
    }

    /// Takes the account's refresh lock (`flock` on `STEM.lock`), waiting for another postie
    /// that holds it; released when the returned file is dropped.
    pub fn lock(&self) -> Result<File> {
        self.ensure_dir()?;
        let path = self.dir.join(format!("{}.lock", self.stem));
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| io_error("cannot open lock file", &path, &e))?;
        f.lock().map_err(|e| io_error("cannot lock", &path, &e))?;
        Ok(f)
    }

    /// Creates the directory (0700) if needed, and checks it is the user's own.
    fn ensure_dir(&self) -> Result<()> {
        if fs::symlink_metadata(&self.dir).is_err() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .map_err(|e| io_error("cannot create directory", &self.dir, &e))?;
        }
        check_dir(&self.dir)
    }

    fn read_file(&self) -> Result<Option<Vec<u8>>> {
        let path = self.file();
        if fs::symlink_metadata(&self.dir).is_err() {
            return Ok(None);
        }
        check_dir(&self.dir)?;
        let mut f = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("cannot open", &path, &e)),
        };
        check_file(&f, &path)?;
        let mut bytes = Vec::new();
        (&mut f)
            .take(MAX_FILE)
            .read_to_end(&mut bytes)
            .map_err(|e| io_error("cannot read", &path, &e))?;
        Ok(Some(bytes))
    }

    fn write_file(&self, bytes: &[u8]) -> Result<()> {
        self.ensure_dir()?;
        let path = self.file();
        let tmp = self
            .dir
            .join(format!(".{}.tmp.{}", self.stem, std::process::id()));
        let _ = fs::remove_file(&tmp);
        let written = (|| -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            sync_dir(&self.dir)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io_error("cannot write", &path, &e));
        }
        Ok(())
    }
}

/// `STEM` for an account: its name (made safe for a file name) and a digest of the rest.
fn stem(account: &str, user: &str, token_url: &str, client_id: &str) -> String {
    let mut h = Sha256::new();
    for part in [account, user, token_url, client_id] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let digest: String = h.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let name: String = account
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_@+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{name}-{digest}")
}

/// The first line, without its end, if it is not empty.
fn first_line(bytes: &[u8]) -> Option<String> {
    let line = bytes.split(|&b| b == b'\n').next()?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let t = String::from_utf8_lossy(line).trim().to_owned();
    (!t.is_empty()).then_some(t)
}

fn secret_tool(verb: &[&str], stem: &str) -> Vec<String> {
    let mut v = vec!["secret-tool".to_owned()];
    v.extend(verb.iter().map(|s| (*s).to_owned()));
    v.extend(
        ["service", "postie-oauth2", "key", stem]
            .iter()
            .map(|s| (*s).to_owned()),
    );
    v
}

fn store_error(what: &str, e: &std::io::Error) -> Error {
    Error::new(
        Sysexit::Unavailable,
        format!("{what}: {}", crate::error::strerror(e)),
    )
}

fn io_error(what: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::io(format!(
        "{what} {}: {}",
        path.display(),
        crate::error::strerror(e)
    ))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The token directory must be a real directory owned by the user, not writable by group or
/// others; one readable by others is tightened to 0700.
fn check_dir(dir: &Path) -> Result<()> {
    let md = fs::symlink_metadata(dir).map_err(|e| io_error("cannot open", dir, &e))?;
    let euid = crate::sys::geteuid();
    let refuse = |why: String| {
        Err(Error::config(format!(
            "OAuth2 token directory {} {why}; refusing to use it",
            dir.display()
        )))
    };
    if !md.is_dir() {
        return refuse("is not a directory".to_owned());
    }
    if md.uid() != euid {
        return refuse(format!(
            "is owned by uid {}, not by you (uid {euid})",
            md.uid()
        ));
    }
    let mode = md.permissions().mode();
    if mode & 0o022 != 0 {
        return refuse(format!(
            "is writable by group or others (mode {:o})",
            mode & 0o7777
        ));
    }
    if mode & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| io_error("cannot change the mode of", dir, &e))?;
    }
    Ok(())
}

/// A token file is used only if it is a regular file of the user's, not writable by group or
/// others (checked on the open descriptor).
fn check_file(f: &File, path: &Path) -> Result<()> {
    let md = f
        .metadata()
        .map_err(|e| io_error("cannot read", path, &e))?;
    let euid = crate::sys::geteuid();
    let why = if !md.is_file() {
        "is not a regular file".to_owned()
    } else if md.uid() != euid {
        format!("is owned by uid {}, not by you (uid {euid})", md.uid())
    } else if md.permissions().mode() & 0o022 != 0 {
        "is writable by group or others".to_owned()
    } else {
        return Ok(());
    };
    Err(Error::config(format!(
        "OAuth2 token file {} {why}; refusing to use it",
        path.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path, kind: Option<&str>, enc: Option<&str>, dec: Option<&str>) -> Store {
        Store::new(kind, enc, dec, "work", "u@x", "https://t", "cid")
            .unwrap()
            .in_dir(dir.join("oauth2"))
    }

    #[test]
    fn stems_name_the_account_and_differ_by_client() {
        let a = stem("work", "u", "https://t", "c1");
        assert!(
            a.starts_with("work-") && a.len() == "work-".len() + 12,
            "{a}"
        );
        assert_ne!(a, stem("work", "u", "https://t", "c2"));
        assert!(stem("../x y", "u", "t", "c").starts_with("___x_y-"));
    }

    #[test]
    fn file_store_round_trip_private_and_atomic() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), None, None, None);
        assert_eq!(s.load().unwrap(), None);
        assert!(!s.exists().unwrap());
        s.save(&Secret::new("rt-1".into())).unwrap();
        s.save(&Secret::new("rt-2".into())).unwrap();
        assert_eq!(s.load().unwrap().unwrap().expose(), "rt-2");
        let dir_mode = fs::metadata(tmp.path().join("oauth2"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        let f = tmp
            .path()
            .join("oauth2")
            .join(format!("{}.token", s.stem()));
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let names: Vec<_> = fs::read_dir(tmp.path().join("oauth2")).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
        assert!(s.forget().unwrap());
        assert!(!s.forget().unwrap());
    }

    #[test]
    fn writable_by_others_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), None, None, None);
        s.save(&Secret::new("rt".into())).unwrap();
        let f = tmp
            .path()
            .join("oauth2")
            .join(format!("{}.token", s.stem()));
        fs::set_permissions(&f, fs::Permissions::from_mode(0o622)).unwrap();
        let e = s.load().unwrap_err();
        assert!(
            e.message.contains("writable by group or others"),
            "{}",
            e.message
        );
        fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(tmp.path().join("oauth2"), fs::Permissions::from_mode(0o777)).unwrap();
        assert!(s.load().is_err());
    }

    #[test]
    fn command_store_keeps_only_the_encrypted_form() {
        let tmp = tempfile::tempdir().unwrap();
        // A reversible "cipher": tr rotates letters by 13.
        let rot = "tr A-Za-z N-ZA-Mn-za-m";
        let s = store(tmp.path(), Some("command"), Some(rot), Some(rot));
        s.save(&Secret::new("refresh-abc".into())).unwrap();
        let f = tmp
            .path()
            .join("oauth2")
            .join(format!("{}.token.enc", s.stem()));
        assert_eq!(fs::read_to_string(&f).unwrap(), "erserfu-nop\n");
        assert_eq!(s.load().unwrap().unwrap().expose(), "refresh-abc");
        assert!(Store::new(Some("command"), Some(rot), None, "a", "u", "t", "c").is_err());
        let failing = store(tmp.path(), Some("command"), Some("false"), Some("false"));
        assert!(failing.save(&Secret::new("x".into())).is_err());
    }

    #[test]
    fn the_lock_excludes_a_second_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), None, None, None);
        let held = s.lock().unwrap();
        let path = tmp.path().join("oauth2").join(format!("{}.lock", s.stem()));
        let other = File::open(&path).unwrap();
        assert!(other.try_lock().is_err());
        drop(held);
        assert!(other.try_lock().is_ok());
    }
}
