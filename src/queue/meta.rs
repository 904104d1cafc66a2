//! The metadata kept beside each queued message (`ID.toml`): everything needed to send the
//! message later except the password, which is resolved at flush time. The message file itself
//! is the raw input and never changes; only this file is rewritten (atomically) after attempts.

use crate::envelope::Envelope;
use crate::message::Rewrite;
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// The format version written into every metadata file.
pub const FORMAT: u32 = 1;

/// First retry delay; it doubles with every failed attempt.
pub const BACKOFF_BASE_SECS: u64 = 60;
/// The longest delay between two attempts.
pub const BACKOFF_MAX_SECS: u64 = 3600;
/// After this age a message that still cannot be sent is moved to `failed/`.
pub const DEFAULT_MAX_AGE_SECS: u64 = 5 * 24 * 3600;

/// How to find the account again at flush time (the inputs of account selection, not its
/// result, so that a changed msmtprc or password applies to queued mail).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// `-C FILE`, made absolute; `None` means the default configuration files.
    pub config_file: Option<String>,
    /// The name of the account that was selected.
    pub account: String,
    /// `--host=HOST` (a pure command-line account).
    pub host: Option<String>,
    /// Command-line settings as msmtprc `(command, argument)` pairs, in order.
    pub overrides: Vec<(String, String)>,
}

impl Origin {
    /// A key that groups messages which can share one SMTP connection.
    pub fn route_key(&self) -> String {
        format!("{:?}", self)
    }
}

/// The header rewriting decided at submission time (stored as the message module's own
/// [`Rewrite`], flattened into the `[rewrite]` table). Date and Message-ID are fixed then, so a
/// retried message is the same message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRewrite {
    /// What to add and remove.
    #[serde(flatten)]
    pub rewrite: Rewrite,
    /// The header block was read with `-t` (changes how it is parsed).
    pub read_recipients: bool,
}

/// A recipient the server refused permanently; kept for the record, never retried.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    /// The address.
    pub recipient: String,
    /// The server's reply, one line.
    pub reply: String,
}

/// Everything stored about one queued message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// [`FORMAT`].
    pub format: u32,
    /// The queue ID (also the file name stem).
    pub id: String,
    /// Submission time, seconds since the epoch.
    pub created: u64,
    /// Reverse path.
    pub from: String,
    /// Recipients still to deliver to.
    pub recipients: Vec<String>,
    /// Recipients the server refused with a 5xx reply.
    #[serde(default)]
    pub refused: Vec<Refused>,
    /// Size of the message file in bytes.
    pub size: u64,
    /// SHA-256 of the message file (lowercase hex), checked with the size before every attempt
    /// so that a file truncated or changed after queueing is never sent. Absent in metadata
    /// written by postie versions before it existed: such a message is checked by size only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// The error of the last attempt.
    pub last_error: Option<String>,
    /// Earliest time of the next automatic attempt, seconds since the epoch.
    pub next_attempt: u64,
    /// Held messages are never sent until released.
    #[serde(default)]
    pub held: bool,
    /// How to find the account.
    pub origin: Origin,
    /// Header rewriting to apply.
    pub rewrite: StoredRewrite,
}

/// An error as one line for the metadata: the message, then the server's reply if any.
pub fn error_text(e: &crate::error::Error) -> String {
    match &e.reply {
        Some(r) => {
            let reply = r
                .lines
                .iter()
                .map(|l| l.trim_end())
                .collect::<Vec<_>>()
                .join(" / ");
            format!("{} ({reply})", e.message)
        }
        None => e.message.clone(),
    }
}

/// `strftime("%Y-%m-%d %H:%M:%S")` in local time.
pub fn local_time(secs: u64) -> String {
    let t = crate::sys::local_time(i64::try_from(secs).unwrap_or(0));
    crate::sys::strftime("%Y-%m-%d %H:%M:%S", &t)
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The delay before attempt `attempts + 1`, given `attempts` failures so far.
pub fn backoff(attempts: u32) -> u64 {
    let exp = attempts.saturating_sub(1).min(20);
    BACKOFF_BASE_SECS
        .saturating_mul(1u64 << exp)
        .min(BACKOFF_MAX_SECS)
}

impl Meta {
    /// Metadata for a newly submitted message.
    pub fn new(id: &str, origin: Origin, envelope: &Envelope, rewrite: StoredRewrite) -> Meta {
        let t = now();
        Meta {
            format: FORMAT,
            id: id.to_owned(),
            created: t,
            from: envelope.from.clone(),
            recipients: envelope.recipients.clone(),
            refused: Vec::new(),
            size: 0,
            sha256: None,
            attempts: 0,
            last_error: None,
            next_attempt: t,
            held: false,
            origin,
            rewrite,
        }
    }

    /// Record a failed attempt and schedule the next one.
    pub fn record_failure(&mut self, error: &str, at: u64) {
        self.attempts = self.attempts.saturating_add(1);
        self.last_error = Some(error.to_owned());
        self.next_attempt = at.saturating_add(backoff(self.attempts));
    }

    /// [`Meta::record_failure`] with an error's text and, if it has one, the server's reply
    /// (one line), so that `mailq` shows why the server refused.
    pub fn record_error(&mut self, e: &crate::error::Error, at: u64) {
        self.record_failure(&error_text(e), at);
    }

    /// Whether an automatic flush should try it now.
    pub fn is_due(&self, at: u64) -> bool {
        !self.held && self.next_attempt <= at
    }

    /// Whether it is older than `max_age` seconds.
    pub fn is_expired(&self, at: u64, max_age: u64) -> bool {
        at.saturating_sub(self.created) > max_age
    }

    /// The TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Parse the TOML text.
    pub fn from_toml(text: &str) -> Result<Meta, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Meta {
        Meta::new(
            "abc",
            Origin {
                config_file: Some("/h/.msmtprc".into()),
                account: "default".into(),
                host: None,
                overrides: vec![("port".into(), "2525".into())],
            },
            &Envelope {
                from: "a@x".into(),
                recipients: vec!["b@y".into(), "c@z".into()],
            },
            StoredRewrite {
                rewrite: Rewrite {
                    date: Some("Mon, 1 Jan 2024 00:00:00 +0000".into()),
                    ..Rewrite::default()
                },
                read_recipients: false,
            },
        )
    }

    #[test]
    fn metadata_round_trips_through_toml() {
        let mut m = sample();
        m.record_failure("cannot connect to x, port 25: Connection refused", 100);
        m.refused.push(Refused {
            recipient: "d@q".into(),
            reply: "550 no such user".into(),
        });
        let text = m.to_toml();
        assert!(text.contains("attempts = 1"), "{text}");
        assert_eq!(Meta::from_toml(&text), Ok(m));
    }

    #[test]
    fn metadata_never_holds_a_password_field() {
        let text = sample().to_toml();
        assert!(!text.contains("password"), "{text}");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(1), 60);
        assert_eq!(backoff(2), 120);
        assert_eq!(backoff(3), 240);
        assert_eq!(backoff(50), BACKOFF_MAX_SECS);
    }

    #[test]
    fn held_messages_are_never_due() {
        let mut m = sample();
        assert!(m.is_due(m.created));
        m.held = true;
        assert!(!m.is_due(u64::MAX));
    }

    #[test]
    fn expiry_uses_the_creation_time() {
        let m = sample();
        assert!(!m.is_expired(m.created + 10, DEFAULT_MAX_AGE_SECS));
        assert!(m.is_expired(m.created + DEFAULT_MAX_AGE_SECS + 1, DEFAULT_MAX_AGE_SECS));
    }

    #[test]
    fn recorded_errors_carry_the_server_reply_on_one_line() {
        let mut m = sample();
        let e = crate::error::Error::new(crate::error::Sysexit::TempFail, "not accepted")
            .with_reply(crate::smtp::Reply {
                code: 450,
                lines: vec!["450-4.2.0 a".into(), "450 4.2.0 b".into()],
            });
        m.record_error(&e, 5);
        assert_eq!(
            m.last_error.as_deref(),
            Some("not accepted (450-4.2.0 a / 450 4.2.0 b)")
        );
        let plain = crate::error::Error::new(crate::error::Sysexit::TempFail, "refused");
        assert_eq!(error_text(&plain), "refused");
    }

    #[test]
    fn metadata_of_an_older_version_has_no_checksum() {
        let mut m = sample();
        m.sha256 = Some("ab".repeat(32));
        let text = m.to_toml();
        assert!(text.contains("sha256 = "), "{text}");
        let old: String = text
            .lines()
            .filter(|l| !l.starts_with("sha256"))
            .map(|l| format!("{l}\n"))
            .collect();
        let parsed = Meta::from_toml(&old).expect("old metadata still parses");
        assert_eq!(parsed.sha256, None);
        m.sha256 = None;
        assert!(!m.to_toml().contains("sha256"));
    }

    #[test]
    fn garbage_metadata_is_an_error_not_a_panic() {
        assert!(Meta::from_toml("format = [").is_err());
        assert!(Meta::from_toml("").is_err());
    }
}
