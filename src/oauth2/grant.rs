//! An account's grant at send time: a valid access token, from the cache while it lasts, else
//! by refreshing once (under the store's lock, so concurrent postie processes refresh once).

use super::http::{self, Answer};
use super::provider::Provider;
use super::store::Store;
use crate::config::{Account, Secret};
use crate::error::{Error, Sysexit};
use std::time::Duration;

/// Where access tokens are kept between processes (the kernel keyring: `secret` provides it).
pub trait AccessCache {
    /// The cached access token, if one is there and still valid.
    fn get(&self) -> Option<Secret>;
    /// Caches `token` for `ttl`.
    fn put(&self, token: &Secret, ttl: Duration);
    /// Forgets the cached token.
    fn forget(&self);
}

/// A cache that keeps nothing (where the kernel keyring cannot be used).
pub struct NoCache;

impl AccessCache for NoCache {
    fn get(&self) -> Option<Secret> {
        None
    }
    fn put(&self, _: &Secret, _: Duration) {}
    fn forget(&self) {}
}

/// Why no token could be had.
#[derive(Debug)]
pub enum Problem {
    /// The account must be authorised (again): no refresh token, or the provider refused it
    /// (`invalid_grant`: revoked, expired, password changed). The text says why.
    NeedsLogin(String),
    /// Anything else (configuration, store, provider unreachable: then transient).
    Failed(Error),
}

impl From<Error> for Problem {
    fn from(e: Error) -> Problem {
        Problem::Failed(e)
    }
}

const WAITING: &str = "waiting for OAuth2 authorisation: run postie oauth2 login -a ";

impl Problem {
    /// The error for account `name`: for [`Problem::NeedsLogin`], `run postie oauth2 login`
    /// (77), or with `queue` a transient error of that reason, so the message stays queued.
    pub fn into_error(self, name: &str, queue: bool) -> Error {
        let name = crate::ui::sanitize(name);
        match self {
            Problem::Failed(e) => e,
            Problem::NeedsLogin(why) if queue => {
                let mut e = Error::new(Sysexit::TempFail, format!("{WAITING}{name}")).transient();
                e.details.push(format!("({why})"));
                e
            }
            Problem::NeedsLogin(why) => Error::new(
                Sysexit::NoPerm,
                format!("{why}: run postie oauth2 login -a {name}"),
            ),
        }
    }
}

/// Whether `e` is [`Problem::into_error`]'s queued wait.
pub fn is_waiting(e: &Error) -> bool {
    e.is_transient() && e.message.starts_with(WAITING)
}

/// What a token endpoint answered.
#[derive(Debug)]
pub struct Tokens {
    pub access_token: Secret,
    /// Seconds.
    pub expires_in: u64,
    pub refresh_token: Option<Secret>,
}

impl Tokens {
    /// From a successful answer; `None` when it has no access token.
    pub fn from_answer(a: &Answer) -> Option<Tokens> {
        let access = a.str("access_token").filter(|t| !t.is_empty())?;
        Some(Tokens {
            access_token: Secret::new(access.to_owned()),
            expires_in: a.u64("expires_in").unwrap_or(3600),
            refresh_token: a
                .str("refresh_token")
                .filter(|t| !t.is_empty())
                .map(|t| Secret::new(t.to_owned())),
        })
    }

    /// How long the access token is cached: until shortly before it expires (a minute, or a
    /// quarter of a short lifetime), so it is not refused in the middle of a session.
    pub fn cache_ttl(&self) -> Duration {
        cache_ttl(self.expires_in)
    }
}

/// See [`Tokens::cache_ttl`].
pub fn cache_ttl(expires_in: u64) -> Duration {
    let margin = (expires_in / 4).min(60);
    Duration::from_secs(expires_in.saturating_sub(margin).max(1))
}

/// An account's OAuth2 grant: its provider and its refresh token store.
pub struct Grant {
    pub provider: Provider,
    pub store: Store,
    pub timeout: Duration,
}

/// Where a token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The access token cache (this or another process refreshed it earlier).
    Cache,
    /// A refresh just now.
    Refreshed,
}

impl Grant {
    /// The grant of `account`; `Ok(None)` without `oauth2_provider`.
    pub fn of(account: &Account) -> Result<Option<Grant>, Error> {
        let s = &account.settings;
        let Some(provider) = Provider::of(s)? else {
            return Ok(None);
        };
        let store = Store::new(
            s.oauth2_token_store.as_deref(),
            s.oauth2_token_encrypt.as_deref(),
            s.oauth2_token_decrypt.as_deref(),
            &account.name,
            s.user.as_deref().unwrap_or_default(),
            &provider.token_url,
            &provider.client_id,
        )?;
        let timeout = s
            .timeout
            .map_or(http::DEFAULT_TIMEOUT, |t| Duration::from_secs(u64::from(t)));
        Ok(Some(Grant {
            provider,
            store,
            timeout,
        }))
    }

    /// A valid access token: the cached one, else one refreshed now.
    pub fn access_token(&self, cache: &dyn AccessCache) -> Result<(Secret, Origin), Problem> {
        if let Some(t) = cache.get() {
            return Ok((t, Origin::Cache));
        }
        let _lock = self.store.lock()?;
        // Another process may have refreshed while this one waited for the lock.
        if let Some(t) = cache.get() {
            return Ok((t, Origin::Cache));
        }
        self.refresh_locked(cache).map(|t| (t, Origin::Refreshed))
    }

    /// The server refused `refused`, a cached token (revoked early, or the cache outlived
    /// it): a fresh one, refreshed now unless another process already did.
    pub fn after_refusal(
        &self,
        refused: &Secret,
        cache: &dyn AccessCache,
    ) -> Result<Secret, Problem> {
        let _lock = self.store.lock()?;
        if let Some(t) = cache.get()
            && t != *refused
        {
            return Ok(t);
        }
        cache.forget();
        self.refresh_locked(cache)
    }

    /// Refreshes with the stored refresh token (the caller holds the lock): a rotated refresh
    /// token is saved before the new access token is used; the access token is cached.
    fn refresh_locked(&self, cache: &dyn AccessCache) -> Result<Secret, Problem> {
        let Some(refresh) = self.store.load()? else {
            return Err(Problem::NeedsLogin(
                "no OAuth2 authorisation stored".to_owned(),
            ));
        };
        let tokens = self.refresh_with(&refresh)?;
        if let Some(new) = &tokens.refresh_token
            && *new != refresh
        {
            self.store.save(new)?;
        }
        cache.put(&tokens.access_token, tokens.cache_ttl());
        Ok(tokens.access_token)
    }

    /// One `grant_type=refresh_token` request.
    pub fn refresh_with(&self, refresh: &Secret) -> Result<Tokens, Problem> {
        let secret = self.provider.client_secret()?;
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose()),
            ("client_id", self.provider.client_id.as_str()),
        ];
        if let Some(s) = &secret {
            form.push(("client_secret", s.expose()));
        }
        let answer = http::post_form(&self.provider.token_url, &form, self.timeout)?;
        token_answer(&answer, &self.provider.token_url)
    }

    /// Revokes `token` where the provider has an endpoint for it (RFC 7009); `Ok(false)`
    /// where it has none.
    pub fn revoke(&self, token: &Secret) -> Result<bool, Error> {
        let Some(url) = &self.provider.revoke_url else {
            return Ok(false);
        };
        let secret = self.provider.client_secret()?;
        let mut form = vec![
            ("token", token.expose()),
            ("token_type_hint", "refresh_token"),
            ("client_id", self.provider.client_id.as_str()),
        ];
        if let Some(s) = &secret {
            form.push(("client_secret", s.expose()));
        }
        let a = http::post_form(url, &form, self.timeout)?;
        // RFC 7009: 200 also for a token that was already invalid.
        if a.status == 200 || a.error() == Some("invalid_token") {
            Ok(true)
        } else {
            Err(Error::new(
                Sysexit::Unavailable,
                format!(
                    "the provider did not revoke the token (HTTP {}: {})",
                    a.status,
                    a.error_text()
                ),
            ))
        }
    }
}

/// The tokens of a token endpoint's answer, or why there are none: `invalid_grant` means a new
/// login; a 5xx or `temporarily_unavailable` is transient.
pub fn token_answer(a: &Answer, url: &str) -> Result<Tokens, Problem> {
    if a.status == 200
        && let Some(t) = Tokens::from_answer(a)
    {
        return Ok(t);
    }
    let said = a.error_text();
    match a.error() {
        Some("invalid_grant") => Err(Problem::NeedsLogin(format!(
            "the OAuth2 provider refused the authorisation ({said})"
        ))),
        Some("temporarily_unavailable") => Err(transient(a, url)),
        _ if a.status >= 500 || a.status == 429 => Err(transient(a, url)),
        _ => Err(Problem::Failed(Error::new(
            Sysexit::NoPerm,
            format!(
                "the OAuth2 token endpoint {} answered HTTP {}: {said}",
                crate::ui::sanitize(&http::endpoint(url)),
                a.status
            ),
        ))),
    }
}

fn transient(a: &Answer, url: &str) -> Problem {
    Problem::Failed(
        Error::new(
            Sysexit::TempFail,
            format!(
                "the OAuth2 provider at {} is unavailable (HTTP {}: {})",
                crate::ui::sanitize(&http::endpoint(url)),
                a.status,
                a.error_text()
            ),
        )
        .transient(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, json: serde_json::Value) -> Answer {
        let serde_json::Value::Object(json) = json else {
            panic!()
        };
        Answer { status, json }
    }

    #[test]
    fn the_cache_stops_a_minute_early_or_a_quarter_of_a_short_life() {
        assert_eq!(cache_ttl(3600), Duration::from_secs(3540));
        assert_eq!(cache_ttl(8), Duration::from_secs(6));
        assert_eq!(cache_ttl(1), Duration::from_secs(1));
        assert_eq!(cache_ttl(0), Duration::from_secs(1));
    }

    #[test]
    fn token_answers() {
        let ok = answer(
            200,
            serde_json::json!({"access_token": "at", "expires_in": 60, "refresh_token": "rt2"}),
        );
        let t = token_answer(&ok, "https://t").unwrap();
        assert_eq!(t.access_token.expose(), "at");
        assert_eq!(t.refresh_token.unwrap().expose(), "rt2");
        let bad = answer(
            400,
            serde_json::json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
        );
        match token_answer(&bad, "https://t") {
            Err(Problem::NeedsLogin(why)) => assert!(why.contains("expired or revoked"), "{why}"),
            other => panic!("{other:?}"),
        }
        let down = answer(503, serde_json::json!({}));
        match token_answer(&down, "https://t") {
            Err(Problem::Failed(e)) => assert!(e.is_transient()),
            other => panic!("{other:?}"),
        }
        let client = answer(401, serde_json::json!({"error": "invalid_client"}));
        match token_answer(&client, "https://t?x=1") {
            Err(Problem::Failed(e)) => {
                assert!(!e.is_transient());
                assert_eq!(e.exit, Sysexit::NoPerm);
                assert!(!e.message.contains("x=1"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn needing_a_login_waits_in_the_queue() {
        let e =
            Problem::NeedsLogin("no OAuth2 authorisation stored".into()).into_error("work", false);
        assert_eq!(e.exit, Sysexit::NoPerm);
        assert_eq!(
            e.message,
            "no OAuth2 authorisation stored: run postie oauth2 login -a work"
        );
        let w = Problem::NeedsLogin("x".into()).into_error("work", true);
        assert!(is_waiting(&w) && w.exit == Sysexit::TempFail);
    }
}
