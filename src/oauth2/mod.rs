//! OAuth2 built in (docs/oauth2.md): an account with `oauth2_provider` authenticates with
//! XOAUTH2 or OAUTHBEARER using access tokens postie obtains itself.
//!
//! * [`provider`]: endpoints, scope and client from the `oauth2_*` commands and the presets;
//! * [`flow`]: getting the first grant (`postie oauth2 login`): authorisation code with PKCE
//!   and a loopback or pasted redirect, or the device authorisation grant;
//! * [`store`]: where the refresh token is kept, and the refresh lock;
//! * [`grant`]: an account's grant at send time: the access token from a cache, else
//!   refreshed once under the lock, a rotated refresh token saved before it is used;
//! * [`http`]: the HTTPS client (form POSTs, JSON answers, bounded and timed out).
//!
//! The module sits below `secret` (whose `AuthSource` asks [`grant::Grant`] for tokens and
//! provides the kernel-keyring cache as an [`AccessCache`]) and `app` (the subcommand); it
//! imports only `config`, `error`, `ui` and `sys`.

pub mod flow;
pub mod grant;
pub mod http;
pub mod provider;
mod run;
pub mod store;

pub use grant::{AccessCache, Grant, Problem, Tokens};
pub use provider::Provider;
