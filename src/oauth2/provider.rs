//! The provider an account uses: its endpoints, scope and client, from the `oauth2_*`
//! commands over the preset of `oauth2_provider google|microsoft` (docs/oauth2.md).

use crate::config::{Secret, Settings};
use crate::error::{Error, Result};

/// Google's endpoints (developers.google.com/identity/protocols/oauth2/native-app and
/// .../limited-input-device).
pub mod google {
    pub const AUTH: &str = "https://accounts.google.com/o/oauth2/v2/auth";
    pub const TOKEN: &str = "https://oauth2.googleapis.com/token";
    pub const DEVICE: &str = "https://oauth2.googleapis.com/device/code";
    pub const REVOKE: &str = "https://oauth2.googleapis.com/revoke";
    /// Full mail access: the only scope Gmail's SMTP server takes.
    pub const SCOPE: &str = "https://mail.google.com/";
}

/// Microsoft identity platform (v2.0) endpoints; `{tenant}` is `oauth2_tenant`.
pub mod microsoft {
    pub const AUTH: &str = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize";
    pub const TOKEN: &str = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token";
    pub const DEVICE: &str = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode";
    /// SMTP AUTH for Exchange Online, and a refresh token.
    pub const SCOPE: &str = "https://outlook.office.com/SMTP.Send offline_access";
    /// The tenant when none is set: work, school and personal accounts.
    pub const TENANT: &str = "common";
}

/// Which preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Google,
    Microsoft,
    Custom,
}

/// An account's OAuth2 provider, resolved.
#[derive(Clone, Debug)]
pub struct Provider {
    pub kind: Kind,
    pub auth_url: Option<String>,
    pub token_url: String,
    pub device_url: Option<String>,
    pub revoke_url: Option<String>,
    pub scope: String,
    pub client_id: String,
    client_secret: Option<Secret>,
    client_secret_eval: Option<String>,
}

impl Provider {
    /// The provider of an account's settings; `Ok(None)` without `oauth2_provider`.
    pub fn of(s: &Settings) -> Result<Option<Provider>> {
        let kind = match s.oauth2_provider.as_deref() {
            None => return Ok(None),
            Some("google") => Kind::Google,
            Some("microsoft") => Kind::Microsoft,
            Some(_) => Kind::Custom,
        };
        let tenant = s.oauth2_tenant.as_deref().unwrap_or(microsoft::TENANT);
        let ms = |t: &str| t.replace("{tenant}", tenant);
        let (auth, token, device, revoke, scope) = match kind {
            Kind::Google => (
                Some(google::AUTH.to_owned()),
                Some(google::TOKEN.to_owned()),
                Some(google::DEVICE.to_owned()),
                Some(google::REVOKE.to_owned()),
                Some(google::SCOPE.to_owned()),
            ),
            Kind::Microsoft => (
                Some(ms(microsoft::AUTH)),
                Some(ms(microsoft::TOKEN)),
                Some(ms(microsoft::DEVICE)),
                // Microsoft has no RFC 7009 endpoint for these tokens.
                None,
                Some(microsoft::SCOPE.to_owned()),
            ),
            Kind::Custom => (None, None, None, None, None),
        };
        let or = |own: &Option<String>, preset: Option<String>| own.clone().or(preset);
        let token_url = or(&s.oauth2_token_url, token)
            .ok_or_else(|| Error::config("oauth2_provider custom needs oauth2_token_url"))?;
        let client_id = s
            .oauth2_client_id
            .clone()
            .ok_or_else(|| Error::config("OAuth2 needs oauth2_client_id"))?;
        Ok(Some(Provider {
            kind,
            auth_url: or(&s.oauth2_auth_url, auth),
            token_url,
            device_url: or(&s.oauth2_device_url, device),
            revoke_url: or(&s.oauth2_revoke_url, revoke),
            scope: or(&s.oauth2_scope, scope).unwrap_or_default(),
            client_id,
            client_secret: s.oauth2_client_secret.clone(),
            client_secret_eval: s.oauth2_client_secret_eval.clone(),
        }))
    }

    /// The client secret, if the client has one (`oauth2_client_secret_eval` runs now).
    pub fn client_secret(&self) -> Result<Option<Secret>> {
        if let Some(s) = &self.client_secret {
            return Ok(Some(s.clone()));
        }
        match &self.client_secret_eval {
            Some(cmd) => match super::run::first_line_of(cmd) {
                Ok(Some(line)) => Ok(Some(Secret::new(line))),
                Ok(None) => Err(Error::config(format!(
                    "cannot read output of '{cmd}' (oauth2_client_secret_eval)"
                ))),
                Err(e) => Err(Error::config(format!(
                    "cannot evaluate '{cmd}' (oauth2_client_secret_eval): {}",
                    crate::error::strerror(&e)
                ))),
            },
            None => Ok(None),
        }
    }

    /// The loopback host in the redirect URI: Microsoft's app registrations list
    /// `http://localhost` (any port); Google and RFC 8252 use the literal address.
    pub fn loopback_host(&self) -> &'static str {
        match self.kind {
            Kind::Microsoft => "localhost",
            _ => "127.0.0.1",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(lines: &[(&str, &str)]) -> Settings {
        let mut a = crate::config::Account::new("a", None, &Settings::default());
        for (k, v) in lines {
            a.apply_with_home(k, v, "/h").expect("valid");
        }
        a.settings
    }

    #[test]
    fn google_preset() {
        let p = Provider::of(&settings(&[
            ("oauth2_provider", "google"),
            ("oauth2_client_id", "c"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(p.token_url, "https://oauth2.googleapis.com/token");
        assert_eq!(p.scope, "https://mail.google.com/");
        assert_eq!(p.revoke_url.as_deref(), Some(google::REVOKE));
        assert_eq!(p.loopback_host(), "127.0.0.1");
    }

    #[test]
    fn microsoft_tenant_and_overrides() {
        let p = Provider::of(&settings(&[
            ("oauth2_provider", "microsoft"),
            ("oauth2_client_id", "c"),
            ("oauth2_tenant", "contoso.example"),
            (
                "oauth2_scope",
                "https://outlook.office365.com/SMTP.Send offline_access",
            ),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            p.token_url,
            "https://login.microsoftonline.com/contoso.example/oauth2/v2.0/token"
        );
        assert_eq!(
            p.device_url.as_deref(),
            Some("https://login.microsoftonline.com/contoso.example/oauth2/v2.0/devicecode")
        );
        assert!(p.scope.starts_with("https://outlook.office365.com/"));
        assert_eq!(p.revoke_url, None);
        let common = Provider::of(&settings(&[
            ("oauth2_provider", "microsoft"),
            ("oauth2_client_id", "c"),
        ]))
        .unwrap()
        .unwrap();
        assert!(
            common
                .auth_url
                .unwrap()
                .contains("/common/oauth2/v2.0/authorize")
        );
        assert_eq!(
            common.scope,
            "https://outlook.office.com/SMTP.Send offline_access"
        );
    }

    #[test]
    fn custom_needs_a_token_url_and_every_provider_a_client_id() {
        assert!(
            Provider::of(&settings(&[
                ("oauth2_provider", "custom"),
                ("oauth2_client_id", "c")
            ]))
            .is_err()
        );
        assert!(Provider::of(&settings(&[("oauth2_provider", "google")])).is_err());
        assert!(Provider::of(&settings(&[])).unwrap().is_none());
        let p = Provider::of(&settings(&[
            ("oauth2_provider", "custom"),
            ("oauth2_client_id", "c"),
            ("oauth2_token_url", "https://idp.example/token"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!((p.auth_url, p.device_url, p.revoke_url), (None, None, None));
    }
}
