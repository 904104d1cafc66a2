//! postie's mail queue (issue 5): with `queue on` a message that cannot be sent for a
//! transient reason (no network, DNS, connect failure, timeout, 4xx) is stored and postie
//! exits 0; `-odq` stores without connecting; `-q`, `postie queue flush` and the systemd/cron
//! triggers in `contrib/` deliver it later; `-bp`/`mailq`/`postie queue list` show it.
//!
//! Why it is built this way: the message must never be lost, so with the queue enabled stdin
//! is spooled to a locked, fsynced temp file *before* connecting, the first attempt sends from
//! that file, and the file is then either discarded (sent, or failed for good and reported) or
//! committed into the queue. Nothing about the account is stored except the inputs needed to
//! select it again, so the password (and a changed configuration) is resolved at flush time.
//!
//! - [`store`]: the directory layout, atomic writes and per-message locks;
//! - [`meta`]: the TOML metadata and the retry schedule;
//! - [`flush`]: delivery of queued mail over one connection per account;
//! - [`notify`]: the notice mailed to the sender of a message that is set aside;
//! - [`command`]: `-q`, `-bp`, `mailq` and `postie queue ...`.

pub mod command;
pub mod flush;
pub mod meta;
pub mod notify;
pub mod store;

pub use meta::{Meta, Origin, StoredRewrite};
pub use store::{Locked, Queue, Spool, Unspooled};

use crate::cli::Cli;
use crate::config::{Account, Settings};
use crate::envelope::Envelope;
use crate::message::Rewrite;
use std::path::{Path, PathBuf};

/// The default queue directory: `$XDG_STATE_HOME/postie/queue`, else
/// `~/.local/state/postie/queue`.
pub fn default_dir() -> PathBuf {
    default_dir_in(
        Path::new(&crate::config::paths::home_dir()),
        std::env::var_os("XDG_STATE_HOME").map(PathBuf::from),
    )
}

/// [`default_dir`] with its inputs explicit (XDG says relative values are to be ignored).
pub fn default_dir_in(home: &Path, xdg_state_home: Option<PathBuf>) -> PathBuf {
    match xdg_state_home {
        Some(d) if d.is_absolute() => d.join("postie").join("queue"),
        _ => home
            .join(".local")
            .join("state")
            .join("postie")
            .join("queue"),
    }
}

/// The queue directory of an account.
pub fn dir_for(settings: &Settings) -> PathBuf {
    settings.queue_dir.clone().unwrap_or_else(default_dir)
}

/// A `-C FILE` argument made absolute, as it is recorded in [`Origin::config_file`] (so a
/// flush from another directory finds the same file, and so configurations loaded by file can
/// be shared within one command).
pub fn absolute(f: &str) -> String {
    let p = Path::new(f);
    if p.is_absolute() {
        f.to_owned()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p).to_string_lossy().into_owned())
            .unwrap_or_else(|_| f.to_owned())
    }
}

/// What to record so that the account can be selected again at flush time.
pub fn origin(cli: &Cli, account: &Account) -> Origin {
    let config_file = cli.config_file.as_deref().map(absolute);
    Origin {
        config_file,
        account: account.name.clone(),
        host: cli.host.clone(),
        overrides: cli.overrides.clone(),
    }
}

/// Metadata for a message about to be committed.
pub fn new_meta(cli: &Cli, account: &Account, envelope: &Envelope, rewrite: &Rewrite) -> Meta {
    Meta::new(
        "",
        origin(cli, account),
        envelope,
        StoredRewrite {
            rewrite: rewrite.clone(),
            read_recipients: cli.read_recipients,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_dir_follows_xdg_state_home() {
        assert_eq!(
            default_dir_in(Path::new("/h"), Some("/s".into())),
            PathBuf::from("/s/postie/queue")
        );
    }

    #[test]
    fn default_dir_ignores_relative_xdg_state_home() {
        assert_eq!(
            default_dir_in(Path::new("/h"), Some("rel".into())),
            PathBuf::from("/h/.local/state/postie/queue")
        );
        assert_eq!(
            default_dir_in(Path::new("/h"), None),
            PathBuf::from("/h/.local/state/postie/queue")
        );
    }

    #[test]
    fn relative_config_file_is_recorded_absolute() {
        let cli = Cli {
            config_file: Some("rc".into()),
            ..Cli::default()
        };
        let a = Account::new("default", None, &Settings::default());
        let o = origin(&cli, &a);
        assert!(o.config_file.is_some_and(|f| f.starts_with('/')));
    }
}
