//! Passwords (msmtp.md section 4). Two moments, as in msmtp:
//!
//! * before connecting, `passwordeval` runs when authentication is on and no `password` is set
//!   ([`run_passwordeval`]);
//! * at AUTH time, when the chosen mechanism needs a password that is still missing, the lookup
//!   chain runs: the Secret Service ([`keyring`]), `~/.netrc`, the system netrc, then a prompt on
//!   `/dev/tty` ([`lookup`]). The mail is on stdin, so stdin is never read for a password.
//!
//! With `password_cache`, both moments look in the kernel keyring first ([`cache`]) and store
//! what the source produced there; a cached secret the server refuses is evicted and the source
//! asked once more ([`AuthSource::refused`]). Where nobody can answer (no terminal) and the
//! account queues (`queue on`), a source that fails is not an error but a reason to wait:
//! the message stays queued until `postie unlock`.
//!
//! With `oauth2_provider`, the secret for XOAUTH2 and OAUTHBEARER is an access token of the
//! account's OAuth2 grant ([`crate::oauth2`]), cached in the kernel keyring ([`TokenCache`])
//! until shortly before it expires; a refused cached token is refreshed and AUTH tried once
//! more.
//!
//! The value itself is a [`crate::config::Secret`]: out of `Debug` output, wiped on drop.

pub mod cache;
pub mod keyring;
pub mod netrc;
pub mod probe;

pub use crate::config::Secret;
use crate::config::{Account, Settings};
use crate::error::{Error, Result, Sysexit};
use crate::oauth2::{self, AccessCache, Grant};
use crate::smtp::{Mechanism, PasswordSource};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

/// Run `passwordeval CMD`: the first line of its output is the password. The exit status is
/// ignored (as in msmtp); no output at all is an error (78). The command gets /dev/null as
/// stdin so it can never eat the mail.
pub fn run_passwordeval(command: &str) -> Result<Secret> {
    run_helper(command, false)
}

/// [`run_passwordeval`]; `quiet`: the helper's stderr is kept for the error (as detail lines)
/// instead of passed on, for a helper that runs where nobody is at a terminal.
fn run_helper(command: &str, quiet: bool) -> Result<Secret> {
    let timeout = crate::config::eval::helper_timeout();
    let mut stderr = Vec::new();
    let result = if quiet {
        crate::config::eval::run_first_line_quiet(command, timeout, &mut stderr)
    } else {
        crate::config::eval::run_first_line(command, timeout)
    };
    let with_stderr = |mut e: Error| {
        e.details.extend(
            String::from_utf8_lossy(&stderr)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .take(20)
                .map(|l| format!("{command}: {l}")),
        );
        e
    };
    match result {
        Ok(Some(line)) => Ok(Secret::new(line)),
        Ok(None) => Err(with_stderr(Error::config(format!(
            "cannot read output of '{command}'"
        )))),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            Err(with_stderr(Error::config(format!(
                "passwordeval command '{command}' did not finish within {} and was killed \
             (if it waits for a passphrase, unlock your agent first, or raise POSTIE_HELPER_TIMEOUT)",
                match timeout.as_secs() {
                    1 => "1 second".to_owned(),
                    n => format!("{n} seconds"),
                }
            ))))
        }
        Err(e) => Err(with_stderr(Error::config(format!(
            "cannot evaluate '{command}': {}",
            crate::error::strerror(&e)
        )))),
    }
}

/// Where an account's password comes from, as the cache tells sources apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source<'a> {
    /// `passwordeval COMMAND`.
    Helper(&'a str),
    /// The AUTH-time chain: Secret Service, netrc, prompt.
    Lookup,
}

impl Source<'_> {
    fn slot(self, account: &Account) -> cache::Slot {
        let s = &account.settings;
        let host = s.host_or_socket();
        let what = match self {
            Source::Helper(cmd) => format!("passwordeval {cmd}"),
            Source::Lookup => "lookup".to_owned(),
        };
        cache::Slot::new(
            account.file.as_deref(),
            &account.name,
            host,
            s.effective_port().unwrap_or(0),
            s.user.as_deref().unwrap_or_default(),
            &what,
        )
    }

    /// Runs the source itself (a helper, or the chain with its prompt). With `queue on` and
    /// nobody at a terminal a failing helper only makes the message wait, so its complaints
    /// go into the error (shown with `-v`), not onto a stderr that cron would mail.
    fn run(self, s: &Settings) -> Result<Option<Secret>> {
        match self {
            Source::Helper(cmd) => run_helper(cmd, s.queue && !has_terminal()).map(Some),
            Source::Lookup => lookup_for(s),
        }
    }
}

/// Why the kernel keyring could not be used, the first time it could not (for `-v`).
static CACHE_UNAVAILABLE: OnceLock<String> = OnceLock::new();

/// Why the password cache could not be used in this run, if it could not.
pub fn cache_unavailable() -> Option<&'static str> {
    CACHE_UNAVAILABLE.get().map(String::as_str)
}

fn note(u: cache::Unavailable) {
    let _ = CACHE_UNAVAILABLE.set(u.0);
}

/// The secret of `source` for `account`: from the cache when one is there, else from the
/// source itself (then cached, with `password_cache`). The `bool` says whether it came from
/// the cache.
fn obtain(account: &Account, source: Source<'_>) -> Result<Option<(Secret, bool)>> {
    let s = &account.settings;
    let ttl = s.password_cache.map(Duration::from_secs);
    // Read even with password_cache off: what `postie unlock --for` put there is what the user
    // asked for. Without password_cache nothing a source produces is stored.
    match cache::get(&source.slot(account)) {
        Ok(Some(p)) => return Ok(Some((Secret::new(p.to_string()), true))),
        Ok(None) => {}
        Err(u) if ttl.is_some() => note(u),
        Err(_) => {}
    }
    let Some(secret) = source.run(s).map_err(|e| waiting_or(account, e))? else {
        return Ok(None);
    };
    if let Some(ttl) = ttl
        && let Err(u) = cache::put(&source.slot(account), secret.expose(), ttl)
    {
        note(u);
    }
    Ok(Some((secret, false)))
}

/// Caches the secret of `account`'s password source for `ttl`, running the source now (with
/// the terminal, so a pinentry or the prompt can ask): `postie unlock`. `Ok(false)`: the
/// account has no password source.
pub fn unlock(account: &Account, ttl: Duration) -> std::result::Result<bool, UnlockError> {
    let s = &account.settings;
    if !s.auth.enabled() || s.password.is_some() || s.oauth2_provider.is_some() {
        return Ok(false);
    }
    let source = match &s.passwordeval {
        Some(cmd) => Source::Helper(cmd),
        None => Source::Lookup,
    };
    let secret = match source.run(s) {
        Ok(Some(p)) => p,
        Ok(None) => {
            return Err(UnlockError::Source(Error::new(
                Sysexit::Unavailable,
                "no password found (keyring, netrc) and no terminal to ask on",
            )));
        }
        Err(e) => return Err(UnlockError::Source(e)),
    };
    cache::put(&source.slot(account), secret.expose(), ttl).map_err(UnlockError::Cache)?;
    Ok(true)
}

/// Why `postie unlock` could not cache an account's password.
#[derive(Debug)]
pub enum UnlockError {
    /// The source failed.
    Source(Error),
    /// The kernel keyring is not available.
    Cache(cache::Unavailable),
}

/// Forgets what the cache holds for `account` (every source, and its OAuth2 access token);
/// `true` if there was something.
pub fn lock(account: &Account) -> std::result::Result<bool, cache::Unavailable> {
    let mut any = cache::forget(&Source::Lookup.slot(account))?;
    if let Some(cmd) = &account.settings.passwordeval {
        any |= cache::forget(&Source::Helper(cmd).slot(account))?;
    }
    // The OAuth2 access token is a cached secret too (the next send refreshes it).
    if let Ok(Some(grant)) = Grant::of(account) {
        any |= cache::forget(&TokenCache::new(account, &grant).slot)?;
    }
    Ok(any)
}

/// With `queue on` and nobody at a terminal to answer, a password source that fails is a
/// reason to keep the message queued until the user runs `postie unlock`, not a failure.
fn waiting_or(account: &Account, e: Error) -> Error {
    if account.settings.queue && !has_terminal() {
        waiting_for_password(account, Some(&e))
    } else {
        e
    }
}

const WAITING: &str = "waiting for a password: run postie unlock -a ";

/// The transient `waiting for a password: run postie unlock -a ACCOUNT` error.
pub fn waiting_for_password(account: &Account, cause: Option<&Error>) -> Error {
    let mut e = Error::new(
        Sysexit::TempFail,
        format!("{WAITING}{}", crate::ui::sanitize(&account.name)),
    )
    .transient();
    if let Some(c) = cause {
        e.details
            .push(format!("(the password source said: {})", c.message));
        e.details.extend(c.details.iter().cloned());
    }
    e
}

/// Whether `e` is [`waiting_for_password`]'s error.
pub fn is_waiting(e: &Error) -> bool {
    e.is_transient() && e.message.starts_with(WAITING)
}

fn has_terminal() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .is_ok()
}

/// msmtp's early `passwordeval` (before connecting, also under `-P` in msmtp; postie's dry
/// runs skip it): only when authentication is on and no `password` is set; the result (from
/// the cache with `password_cache`) becomes the password.
pub fn apply_passwordeval(account: &mut Account) -> Result<()> {
    let s = &account.settings;
    // With pipe_command postie authenticates nowhere: the command does (ssh's key).
    if s.auth.enabled()
        && s.pipe_command.is_none()
        && s.password.is_none()
        && s.oauth2_provider.is_none()
        && let Some(cmd) = s.passwordeval.clone()
        && let Some((secret, cached)) = obtain(account, Source::Helper(&cmd))?
    {
        account.settings.password = Some(secret);
        account.password_cached = cached;
    }
    Ok(())
}

/// The password for AUTH, asked for only once a mechanism that needs one has been chosen: the
/// account's `password` (from the file or `passwordeval`), else the lookup chain for its
/// `user` at its `host` (or socket path, as msmtp keys it), through the cache with
/// `password_cache`. A cached secret the server refuses is evicted and the source run again.
pub struct AuthSource<'a> {
    account: &'a Account,
    /// What the last answer was, when it came from the cache: then a refusal can be retried.
    cached: Option<Source<'a>>,
    /// The secret produced after a refusal, replacing the account's.
    fresh: Option<Secret>,
    /// The OAuth2 grant, once a token mechanism asked for it.
    oauth: Option<OAuth>,
}

/// An account's OAuth2 grant as AUTH uses it.
struct OAuth {
    grant: Grant,
    cache: TokenCache,
    /// The token given last, if it came from the cache (a refusal then refreshes it).
    cached: Option<Secret>,
    /// What the refresh after a refusal gave: the next answer.
    after_refusal: Option<Result<Secret>>,
}

/// The kernel-keyring cache of an account's OAuth2 access token: one slot per grant (the
/// token store's name), shared by every postie process of the user.
pub struct TokenCache {
    slot: cache::Slot,
}

impl TokenCache {
    /// The cache of `grant`'s access token, for `account`.
    pub fn new(account: &Account, grant: &Grant) -> TokenCache {
        TokenCache {
            slot: cache::Slot::new(
                None,
                &account.name,
                "",
                0,
                "",
                &format!("oauth2 {}", grant.store.stem()),
            ),
        }
    }

    /// The cache entry's description (`oauth2 status` finds its time left by it).
    pub fn description(&self) -> &str {
        self.slot.description()
    }
}

impl AccessCache for TokenCache {
    fn get(&self) -> Option<Secret> {
        match cache::get(&self.slot) {
            Ok(t) => t.map(|t| Secret::new(t.to_string())),
            Err(u) => {
                note(u);
                None
            }
        }
    }

    fn put(&self, token: &Secret, ttl: Duration) {
        if let Err(u) = cache::put(&self.slot, token.expose(), ttl) {
            note(u);
        }
    }

    fn forget(&self) {
        if let Err(u) = cache::forget(&self.slot) {
            note(u);
        }
    }
}

impl<'a> AuthSource<'a> {
    /// The source for `account` (its password source already applied, see
    /// [`apply_passwordeval`]).
    pub fn new(account: &'a Account) -> AuthSource<'a> {
        AuthSource {
            account,
            cached: None,
            fresh: None,
            oauth: None,
        }
    }

    /// An access token for XOAUTH2/OAUTHBEARER from the account's grant.
    fn token(&mut self) -> Result<String> {
        let account = self.account;
        if self.oauth.is_none() {
            let Some(grant) = Grant::of(account)? else {
                return Err(Error::config("OAuth2 needs oauth2_provider"));
            };
            let cache = TokenCache::new(account, &grant);
            self.oauth = Some(OAuth {
                grant,
                cache,
                cached: None,
                after_refusal: None,
            });
        }
        let o = self.oauth.as_mut().expect("set above");
        if let Some(fresh) = o.after_refusal.take() {
            o.cached = None;
            return fresh.map(|t| t.expose().to_owned());
        }
        let (token, origin) = o
            .grant
            .access_token(&o.cache)
            .map_err(|p| p.into_error(&account.name, account.settings.queue))?;
        o.cached = (origin == oauth2::grant::Origin::Cache).then(|| token.clone());
        Ok(token.expose().to_owned())
    }
}

impl PasswordSource for AuthSource<'_> {
    fn password(&mut self, mech: Mechanism) -> Result<Option<String>> {
        if self.account.settings.oauth2_provider.is_some()
            && matches!(mech, Mechanism::XOAuth2 | Mechanism::OAuthBearer)
        {
            return self.token().map(Some);
        }
        if let Some(p) = &self.fresh {
            return Ok(Some(p.expose().to_owned()));
        }
        let s = &self.account.settings;
        if let Some(p) = &s.password {
            if self.account.password_cached
                && let Some(cmd) = s.passwordeval.as_deref()
            {
                self.cached = Some(Source::Helper(cmd));
            }
            return Ok(Some(p.expose().to_owned()));
        }
        match obtain(self.account, Source::Lookup)? {
            Some((p, cached)) => {
                self.cached = cached.then_some(Source::Lookup);
                Ok(Some(p.expose().to_owned()))
            }
            None if s.queue && !has_terminal() => Err(waiting_for_password(self.account, None)),
            None => Ok(None),
        }
    }

    fn mechanisms(&self) -> Option<&'static [Mechanism]> {
        self.account
            .settings
            .oauth2_provider
            .is_some()
            .then_some(&[Mechanism::OAuthBearer, Mechanism::XOAuth2])
    }

    fn refused(&mut self) -> bool {
        if let Some(o) = &mut self.oauth {
            // A cached token the server refused: refresh once (unless another process has).
            let Some(refused) = o.cached.take() else {
                return false;
            };
            let account = self.account;
            o.after_refusal = Some(
                o.grant
                    .after_refusal(&refused, &o.cache)
                    .map_err(|p| p.into_error(&account.name, account.settings.queue)),
            );
            return true;
        }
        let Some(source) = self.cached.take() else {
            return false;
        };
        // The cached secret is stale (the password changed): forget it, ask the source.
        let _ = cache::forget(&source.slot(self.account));
        match obtain(self.account, source) {
            Ok(Some((p, _))) => {
                self.fresh = Some(p);
                true
            }
            _ => false,
        }
    }
}

/// [`lookup`] for an account's settings.
fn lookup_for(settings: &Settings) -> Result<Option<Secret>> {
    let host = settings.host_or_socket();
    let user = settings.user.as_deref().unwrap_or_default();
    let home = std::path::PathBuf::from(crate::config::paths::home_dir());
    lookup(host, user, Some(&home), &crate::config::paths::sysconfdir())
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
    match stored(host, user, home, sysconfdir)? {
        Some((_, p)) => Ok(Some(p)),
        None => prompt(host, user),
    }
}

/// Where [`stored`] found a password.
pub(crate) enum StoredIn {
    SecretService,
    Netrc(std::path::PathBuf),
}

impl std::fmt::Display for StoredIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoredIn::SecretService => f.write_str("the Secret Service (secret-tool)"),
            StoredIn::Netrc(file) => write!(f, "{}", file.display()),
        }
    }
}

/// The lookup chain without the prompt: the Secret Service, `HOME/.netrc`,
/// `SYSCONFDIR/netrc`, and where the password was found.
pub(crate) fn stored(
    host: &str,
    user: &str,
    home: Option<&Path>,
    sysconfdir: &Path,
) -> Result<Option<(StoredIn, Secret)>> {
    if let Some(p) = keyring::lookup(host, user) {
        return Ok(Some((StoredIn::SecretService, p)));
    }
    let files = home
        .map(|h| h.join(".netrc"))
        .into_iter()
        .chain([sysconfdir.join("netrc")]);
    for file in files {
        if let Some(p) = netrc::find_in_file(&file, host, user)? {
            return Ok(Some((StoredIn::Netrc(file), Secret::new(p))));
        }
    }
    Ok(None)
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
