//! The Secret Service (GNOME Keyring, KeePassXC, KWallet's bridge) as a password source, the
//! first step of msmtp's AUTH-time lookup chain (msmtp.md section 4).
//!
//! msmtp links libsecret; postie asks the same service through libsecret's own command-line
//! client, `secret-tool` (Debian package `libsecret-tools`), so no D-Bus stack is compiled in.
//! When `secret-tool` is not installed, there is no session bus (cron, ssh without a desktop)
//! or nothing matches, the lookup quietly finds nothing and the chain goes on to netrc, as
//! msmtp's does.
//!
//! The two queries are msmtp's:
//! 1. attributes `host`=HOST `service`=`smtp` `user`=USER, schema name not matched — what
//!    `secret-tool store --label=msmtp host HOST service smtp user USER` creates;
//! 2. the legacy GNOME keyring network-password schema: `user`=USER `protocol`=`smtp`
//!    `server`=HOST, with the schema name `org.gnome.keyring.NetworkPassword` matched (observed:
//!    msmtp 1.8.23 does not find such an item stored under another schema).
//!
//! `secret-tool` gets `/dev/null` as stdin, its stderr is discarded, and it is killed when it
//! outlives the helper deadline (`POSTIE_HELPER_TIMEOUT`, default 120 s: long enough to answer a
//! keyring unlock prompt). Only the first line of the secret is used.

use super::Secret;
use std::time::Duration;

/// The attribute sets msmtp queries, in order, for `user` at `host`.
pub fn queries(host: &str, user: &str) -> [Vec<(&'static str, String)>; 2] {
    [
        vec![
            ("host", host.to_owned()),
            ("service", "smtp".to_owned()),
            ("user", user.to_owned()),
        ],
        vec![
            ("xdg:schema", "org.gnome.keyring.NetworkPassword".to_owned()),
            ("user", user.to_owned()),
            ("protocol", "smtp".to_owned()),
            ("server", host.to_owned()),
        ],
    ]
}

/// Quotes a word for `/bin/sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The shell command that runs one `secret-tool lookup` if the program exists.
fn command(program: &str, attributes: &[(&str, String)]) -> String {
    let mut cmd = format!(
        "command -v {p} >/dev/null 2>&1 || exit 0; exec {p} lookup",
        p = sh_quote(program)
    );
    for (k, v) in attributes {
        cmd.push(' ');
        cmd.push_str(&sh_quote(k));
        cmd.push(' ');
        cmd.push_str(&sh_quote(v));
    }
    cmd.push_str(" 2>/dev/null");
    cmd
}

/// Looks `user` at `host` up in the Secret Service with msmtp's two attribute sets. `None` when
/// nothing is found or the service cannot be asked.
pub fn lookup(host: &str, user: &str) -> Option<Secret> {
    lookup_with(
        "secret-tool",
        host,
        user,
        crate::config::eval::helper_timeout(),
    )
}

/// [`lookup`] with an explicit program and deadline; the deadline covers both queries.
pub fn lookup_with(program: &str, host: &str, user: &str, timeout: Duration) -> Option<Secret> {
    let deadline = std::time::Instant::now() + timeout;
    queries(host, user).iter().find_map(|attrs| {
        let left = deadline.checked_duration_since(std::time::Instant::now())?;
        match crate::config::eval::run_first_line(&command(program, attrs), left) {
            Ok(Some(p)) if !p.is_empty() => Some(Secret::new(p)),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A fake secret-tool that answers `pw-new` for the new schema and `pw-old` for the legacy
    /// one, each only for host `mx` / user `joe`.
    fn fake(dir: &std::path::Path, legacy_only: bool) -> String {
        let path = dir.join("secret-tool");
        let new = if legacy_only {
            ""
        } else {
            "  'lookup host mx service smtp user joe') printf pw-new ;;\n"
        };
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\necho noise >&2\ncase \"$*\" in\n{new}  \
                 'lookup xdg:schema org.gnome.keyring.NetworkPassword user joe protocol smtp server mx') printf pw-old ;;\n  \
                 *) exit 1 ;;\nesac\n"
            ),
        )
        .expect("write fake");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path.display().to_string()
    }

    const T: Duration = Duration::from_secs(10);

    #[test]
    fn keyring_new_schema_attributes_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = fake(dir.path(), false);
        let s = lookup_with(&p, "mx", "joe", T).expect("found");
        assert_eq!(s.expose(), "pw-new");
    }

    #[test]
    fn keyring_legacy_schema_second() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = fake(dir.path(), true);
        let s = lookup_with(&p, "mx", "joe", T).expect("found");
        assert_eq!(s.expose(), "pw-old");
    }

    #[test]
    fn keyring_no_match_or_no_program_is_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = fake(dir.path(), false);
        assert!(lookup_with(&p, "mx", "ann", T).is_none());
        assert!(lookup_with("/nonexistent/secret-tool", "mx", "joe", T).is_none());
    }

    #[test]
    fn keyring_hung_helper_is_abandoned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret-tool");
        std::fs::write(&path, "#!/bin/sh\nsleep 30\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let start = std::time::Instant::now();
        let got = lookup_with(
            &path.display().to_string(),
            "mx",
            "joe",
            Duration::from_millis(300),
        );
        assert!(got.is_none());
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn keyring_values_are_shell_quoted() {
        let c = command("secret-tool", &[("user", "o'brien $(x)".to_owned())]);
        assert!(c.contains(r"'user' 'o'\''brien $(x)'"), "{c}");
    }
}
