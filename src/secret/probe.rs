//! `postie check`'s look at an account's password source: which source answers (the file,
//! postie's cache, the `passwordeval` helper, the Secret Service, a netrc file), with what a
//! failing helper said on its stderr kept for the report. The secret itself is handed on for
//! the AUTH test, never shown.
//!
//! The order is a send's: the cache first, then the helper (`passwordeval`) or the lookup
//! chain of [`super::lookup`] (Secret Service, `~/.netrc`, the system netrc). Nothing is
//! written to the cache here. An OAuth2 account's secret is its access token, from the
//! token cache or refreshed now, as AUTH gets it ([`oauth2_token`]).

use super::{Source, TokenCache, cache, has_terminal, run_helper};
use crate::config::{Account, AuthSetting, Secret, paths};
use crate::error::{Error, Result, Sysexit};
use crate::oauth2::{Grant, grant::Origin};
use crate::smtp::Mechanism;

/// What the password source produced.
#[derive(Debug)]
pub struct Found {
    /// Where the password came from, for a person (`passwordeval 'CMD'`, `/home/me/.netrc`).
    pub source: String,
    /// It came from postie's password cache (a refusal may then mean it is stale).
    pub cached: bool,
    /// `None`: nothing is stored, and a send asks on the terminal.
    pub secret: Option<Secret>,
}

/// Whether AUTH for `account` uses an OAuth2 access token instead of a password: it has
/// `oauth2_provider`, and `auth` is `on` or a token mechanism.
pub fn uses_oauth2(account: &Account) -> bool {
    let s = &account.settings;
    s.oauth2_provider.is_some()
        && matches!(
            s.auth,
            AuthSetting::Auto | AuthSetting::Method(Mechanism::XOAuth2 | Mechanism::OAuthBearer)
        )
}

/// The access token AUTH would use for an OAuth2 account ([`uses_oauth2`]): the cached one,
/// else one refreshed now (and cached, as a send does, so the login that follows uses it).
pub fn oauth2_token(account: &Account) -> Result<Found> {
    let Some(grant) = Grant::of(account)? else {
        return Err(Error::config("OAuth2 needs oauth2_provider"));
    };
    let cache = TokenCache::new(account, &grant);
    let (token, origin) = grant
        .access_token(&cache)
        .map_err(|p| p.into_error(&account.name, false))?;
    let store = grant.store.describe();
    Ok(Found {
        source: match origin {
            Origin::Cache => format!("the cached access token (refresh token in {store})"),
            Origin::Refreshed => format!(
                "an access token refreshed at {} (refresh token in {store})",
                grant.provider.token_url
            ),
        },
        cached: origin == Origin::Cache,
        secret: Some(token),
    })
}

/// Runs `account`'s password source as a send would (authentication on, no `password` in the
/// file means `passwordeval` or the lookup chain), except that a helper's stderr is always
/// captured into the error's detail lines (`CMD: LINE`) and the prompt is not shown.
pub fn probe(account: &Account) -> Result<Found> {
    let s = &account.settings;
    if let Some(p) = &s.password {
        return Ok(Found {
            source: "the configuration file".to_owned(),
            cached: false,
            secret: Some(p.clone()),
        });
    }
    let source = match &s.passwordeval {
        Some(cmd) => Source::Helper(cmd),
        None => Source::Lookup,
    };
    let name = match source {
        Source::Helper(cmd) => format!("passwordeval '{cmd}'"),
        Source::Lookup => "the lookup (Secret Service, netrc)".to_owned(),
    };
    if let Ok(Some(p)) = cache::get(&source.slot(account)) {
        return Ok(Found {
            source: format!("{name}, cached by postie"),
            cached: true,
            secret: Some(Secret::new(p.to_string())),
        });
    }
    match source {
        Source::Helper(cmd) => Ok(Found {
            source: name,
            cached: false,
            secret: Some(run_helper(cmd, true)?),
        }),
        Source::Lookup => lookup(account),
    }
}

/// The lookup chain of [`super::lookup`], naming the place that answered.
fn lookup(account: &Account) -> Result<Found> {
    let s = &account.settings;
    let host = s.host_or_socket();
    let user = s.user.as_deref().unwrap_or_default();
    let home = std::path::PathBuf::from(paths::home_dir());
    let sysconfdir = paths::sysconfdir();
    if let Some((place, p)) = super::stored(host, user, Some(&home), &sysconfdir)? {
        return Ok(Found {
            source: place.to_string(),
            cached: false,
            secret: Some(p),
        });
    }
    let home_netrc = home.join(".netrc");
    let system_netrc = sysconfdir.join("netrc");
    let nothing = format!(
        "nothing stored for user {user} at {host} (Secret Service, {}, {})",
        home_netrc.display(),
        system_netrc.display()
    );
    if has_terminal() {
        return Ok(Found {
            source: format!("{nothing}: a send asks on the terminal"),
            cached: false,
            secret: None,
        });
    }
    Err(Error::new(
        Sysexit::Unavailable,
        format!("{nothing}, and no terminal to ask on"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn account(rc: &[(&str, &str)]) -> Account {
        let mut a = Account::new("probe-test", None, &Settings::default());
        for (k, v) in rc {
            a.apply(k, v).expect("setting");
        }
        a
    }

    #[test]
    fn oauth2_is_used_for_auth_on_and_the_token_mechanisms() {
        let oauth = |auth: &str| {
            uses_oauth2(&account(&[
                ("oauth2_provider", "google"),
                ("oauth2_client_id", "c"),
                ("auth", auth),
            ]))
        };
        assert!(oauth("on") && oauth("xoauth2") && oauth("oauthbearer"));
        assert!(!oauth("plain") && !oauth("off"));
        assert!(!uses_oauth2(&account(&[("auth", "on")])));
    }

    #[test]
    fn a_password_in_the_file_is_used_as_it_is() {
        let f = probe(&account(&[("auth", "on"), ("password", "pw")])).expect("found");
        assert_eq!(f.source, "the configuration file");
        assert_eq!(f.secret.map(|s| s.expose().to_owned()), Some("pw".into()));
    }

    #[test]
    fn a_helper_that_prints_nothing_fails_with_its_stderr() {
        let e = probe(&account(&[
            ("auth", "on"),
            ("passwordeval", "echo 'no such entry' >&2"),
        ]))
        .expect_err("nothing printed");
        assert_eq!(
            e.message,
            "cannot read output of 'echo 'no such entry' >&2'"
        );
        assert_eq!(e.details, ["echo 'no such entry' >&2: no such entry"]);
    }

    #[test]
    fn a_helper_that_prints_a_line_is_the_source() {
        let f = probe(&account(&[("auth", "on"), ("passwordeval", "echo s3cret")])).expect("found");
        assert_eq!(f.source, "passwordeval 'echo s3cret'");
        assert!(!f.cached);
        assert_eq!(
            f.secret.map(|s| s.expose().to_owned()),
            Some("s3cret".into())
        );
    }
}
