//! The password cache (`password_cache`, `postie unlock`): a secret that a password source
//! produced, kept in the Linux kernel's key retention service with a timeout, so that later
//! postie processes of the same user find it without running the source again: a send from
//! cron or a systemd timer after gpg-agent's own cache expired, a queue flush with nobody at a
//! terminal.
//!
//! Where: the user keyring (`@u`). Every process of the user reaches it by its special ID, from
//! any login, from cron, from a systemd user service, and from a new session keyring
//! (`keyctl session`); it lives as long as the user has a process (a tmux server, a lingering
//! systemd user manager). The key grants the user view, read, search and set-attribute and
//! nothing to group or others: any process of the same user can read the secret, as it can ask
//! gpg-agent; root can too. It is never written to disk, argv or a child's environment, and
//! postie's own copies are wiped after use ([`zeroize`]).
//!
//! What: one `user` key per account, described `postie:ACCOUNT:DIGEST`. The digest covers the
//! configuration file, the account, the host, port and user, and the password source, so a
//! changed configuration never gets a stale secret.
//!
//! Where the kernel refuses (`ENOSYS`, `EPERM`, `EACCES`: a container's seccomp profile), the
//! cache is [`Unavailable`] and callers go on as without it.

use linux_keyutils::{KeyError, KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, Permission};
use sha2::{Digest, Sha256};
use std::time::Duration;
use zeroize::Zeroizing;

/// Every description postie writes starts with this, so `lock` without an account and
/// `unlock --status` find exactly postie's keys.
const PREFIX: &str = "postie:";

/// The kernel keyring cannot be used here (why, for `-v`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unavailable(pub String);

/// The key of one account's secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    description: String,
}

impl Slot {
    /// The slot for `account` of `config_file` (`None`: command-line settings) whose secret
    /// comes from `source` (the `passwordeval` command, or a name for the AUTH-time lookup).
    pub fn new(
        config_file: Option<&std::path::Path>,
        account: &str,
        host: &str,
        port: u16,
        user: &str,
        source: &str,
    ) -> Slot {
        let mut h = Sha256::new();
        // `-C rc` and `-C /home/me/rc` are the same file: the same key for both.
        let file = config_file
            .map(|p| {
                std::fs::canonicalize(p)
                    .unwrap_or_else(|_| p.to_path_buf())
                    .display()
                    .to_string()
            })
            .unwrap_or_default();
        for part in [
            file.as_str(),
            account,
            host,
            &port.to_string(),
            user,
            source,
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        let digest: String = h.finalize()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // The account name is shown by `unlock --status`; a colon or control character in it
        // would confuse the description's fields.
        let name: String = account
            .chars()
            .map(|c| if c == ':' || c.is_control() { '_' } else { c })
            .collect();
        Slot {
            description: format!("{PREFIX}{name}:{digest}"),
        }
    }

    /// The key's description, as `keyctl show` lists it.
    pub fn description(&self) -> &str {
        &self.description
    }
}

fn user_keyring() -> Result<KeyRing, Unavailable> {
    KeyRing::from_special_id(KeyRingIdentifier::User, false).map_err(unavailable)
}

fn unavailable(e: KeyError) -> Unavailable {
    Unavailable(format!("the kernel keyring cannot be used: {e:?}"))
}

/// The cached secret of `slot`, if one is there and has not expired.
pub fn get(slot: &Slot) -> Result<Option<Zeroizing<String>>, Unavailable> {
    let ring = user_keyring()?;
    let key = match ring.search(slot.description()) {
        Ok(k) => k,
        Err(KeyError::KeyDoesNotExist | KeyError::KeyExpired | KeyError::KeyRevoked) => {
            return Ok(None);
        }
        Err(e) => return Err(unavailable(e)),
    };
    let bytes = Zeroizing::new(key.read_to_vec().map_err(unavailable)?);
    Ok(std::str::from_utf8(&bytes)
        .ok()
        .map(|s| Zeroizing::new(s.to_owned())))
}

/// Caches `secret` for `slot` for `ttl` (replacing what was there).
pub fn put(slot: &Slot, secret: &str, ttl: Duration) -> Result<(), Unavailable> {
    let ring = user_keyring()?;
    let key = ring
        .add_key(slot.description(), secret.as_bytes())
        .map_err(unavailable)?;
    let perms = KeyPermissionsBuilder::builder()
        .posessor(Permission::ALL)
        .user(Permission::VIEW | Permission::READ | Permission::SEARCH | Permission::SETATTR)
        .build();
    let seconds = usize::try_from(ttl.as_secs().max(1)).unwrap_or(usize::MAX);
    if let Err(e) = key.set_perms(perms).and_then(|()| key.set_timeout(seconds)) {
        // A secret without its timeout must not stay behind.
        let _ = key.invalidate();
        return Err(unavailable(e));
    }
    Ok(())
}

/// Forgets the secret of `slot`; `true` if there was one.
pub fn forget(slot: &Slot) -> Result<bool, Unavailable> {
    let ring = user_keyring()?;
    match ring.search(slot.description()) {
        Ok(key) => {
            key.invalidate().map_err(unavailable)?;
            Ok(true)
        }
        Err(KeyError::KeyDoesNotExist | KeyError::KeyExpired | KeyError::KeyRevoked) => Ok(false),
        Err(e) => Err(unavailable(e)),
    }
}

/// One cached secret, for `unlock --status` (never the secret itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The key's description (`postie:ACCOUNT:DIGEST`).
    pub description: String,
    /// The account name part of it.
    pub account: String,
    /// Time left, as the kernel shows it in /proc/keys (`59m`, `6d`); `None`: no timeout.
    pub expires: Option<String>,
}

/// postie's cached secrets that this process can see.
pub fn entries() -> Result<Vec<Entry>, Unavailable> {
    user_keyring()?;
    let text = std::fs::read_to_string("/proc/keys")
        .map_err(|e| Unavailable(format!("cannot read /proc/keys: {e}")))?;
    Ok(text.lines().filter_map(parse_proc_keys_line).collect())
}

/// Forgets every secret postie cached; returns how many.
pub fn forget_all() -> Result<usize, Unavailable> {
    let ring = user_keyring()?;
    let mut n = 0;
    for e in entries()? {
        if let Ok(key) = ring.search(&e.description) {
            key.invalidate().map_err(unavailable)?;
            n += 1;
        }
    }
    Ok(n)
}

/// `/proc/keys`: `ID FLAGS USAGE EXPIRY PERM UID GID TYPE DESCRIPTION: SUMMARY`.
fn parse_proc_keys_line(line: &str) -> Option<Entry> {
    let mut fields = line.split_whitespace();
    let _id = fields.next()?;
    let flags = fields.next()?;
    let _usage = fields.next()?;
    let expiry = fields.next()?;
    // A key that is revoked, dead, negative or invalidated, or has expired, lingers in
    // /proc/keys until the kernel's garbage collector runs: it is not cached any more.
    if !flags.starts_with('I') || flags.contains(['R', 'D', 'N', 'i']) || expiry == "expd" {
        return None;
    }
    let _perm = fields.next()?;
    let _uid = fields.next()?;
    let _gid = fields.next()?;
    let kind = fields.next()?;
    let rest: Vec<&str> = fields.collect();
    let description = rest.join(" ");
    let description = description
        .rsplit_once(": ")
        .map_or(description.as_str(), |(d, _)| d);
    if kind != "user" || !description.starts_with(PREFIX) {
        return None;
    }
    let account = description[PREFIX.len()..]
        .rsplit_once(':')
        .map_or("", |(a, _)| a)
        .to_owned();
    Some(Entry {
        description: description.to_owned(),
        account,
        expires: (expiry != "perm").then(|| expiry.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(n: &str) -> Slot {
        Slot::new(None, n, "mx.example", 587, "joe", "pass show mail")
    }

    #[test]
    fn slots_differ_when_any_part_of_the_source_differs() {
        let a = Slot::new(None, "a", "h", 587, "u", "cmd");
        assert_ne!(a, Slot::new(None, "a", "h", 465, "u", "cmd"));
        assert_ne!(a, Slot::new(None, "a", "h", 587, "v", "cmd"));
        assert_ne!(a, Slot::new(None, "a", "h", 587, "u", "cmd2"));
        assert_ne!(
            a,
            Slot::new(Some(std::path::Path::new("/rc")), "a", "h", 587, "u", "cmd")
        );
        assert!(a.description().starts_with("postie:a:"));
        assert!(
            !Slot::new(None, "x:y\n", "h", 1, "u", "c")
                .description()
                .contains('\n')
        );
        // The same file named two ways is one key.
        let dir = std::env::temp_dir();
        let abs = dir.join(format!("postie-slot-test-{}", std::process::id()));
        std::fs::write(&abs, "").expect("rc");
        let rel = dir
            .join(".")
            .join(format!("postie-slot-test-{}", std::process::id()));
        assert_eq!(
            Slot::new(Some(&abs), "a", "h", 1, "u", "c"),
            Slot::new(Some(&rel), "a", "h", 1, "u", "c")
        );
        let _ = std::fs::remove_file(abs);
    }

    #[test]
    fn proc_keys_lines_are_parsed() {
        let e = parse_proc_keys_line(
            "2b5b4ba9 I--Q---     1   59m 3f0b0000     0     0 user      postie:work:0a1b2c: 6",
        )
        .expect("postie key");
        assert_eq!(e.account, "work");
        assert_eq!(e.description, "postie:work:0a1b2c");
        assert_eq!(e.expires.as_deref(), Some("59m"));
        assert!(
            parse_proc_keys_line(
                "1d5f9a2e I--Q---     1 perm 1f3f0000     0 65534 keyring   _uid.0: 1"
            )
            .is_none()
        );
        assert!(parse_proc_keys_line("12 I--Q--- 1 perm 3f010000 0 0 user other: 3").is_none());
        for gone in [
            "2b5b4ba9 I--Q--i     1   59m 3f0b0000     0     0 user      postie:w:0a: 6",
            "2b5b4ba9 IR-Q---     1   59m 3f0b0000     0     0 user      postie:w:0a: 6",
            "2b5b4ba9 I-DQ---     1   59m 3f0b0000     0     0 user      postie:w:0a: 6",
            "2b5b4ba9 I--Q---     1  expd 3f0b0000     0     0 user      postie:w:0a: 6",
        ] {
            assert!(parse_proc_keys_line(gone).is_none(), "{gone}");
        }
    }

    /// Against the real kernel keyring, when this machine has one (skipped where a seccomp
    /// profile refuses it).
    #[test]
    fn put_get_forget_round_trip() {
        let s = slot(&format!("unit-{}", std::process::id()));
        if let Err(Unavailable(why)) = put(&s, "hunter2", Duration::from_secs(60)) {
            eprintln!("skipped: {why}");
            return;
        }
        assert_eq!(
            get(&s).expect("get").as_deref().map(String::as_str),
            Some("hunter2")
        );
        put(&s, "new", Duration::from_secs(60)).expect("replace");
        assert_eq!(
            get(&s).expect("get").as_deref().map(String::as_str),
            Some("new")
        );
        assert!(
            entries()
                .expect("entries")
                .iter()
                .any(|e| e.description == s.description())
        );
        assert!(forget(&s).expect("forget"));
        assert_eq!(get(&s).expect("get"), None);
        assert!(!forget(&s).expect("forget again"));
    }

    #[test]
    fn a_secret_expires() {
        let s = slot(&format!("expiry-{}", std::process::id()));
        if put(&s, "short", Duration::from_secs(1)).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(2100));
        assert_eq!(get(&s).expect("get"), None);
    }
}
