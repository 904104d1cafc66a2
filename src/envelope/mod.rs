//! What is handed to a transport and what comes back: the SMTP envelope (reverse path and
//! forward paths, checked against RFC 5321 before anything is sent), the policy for recipients
//! a server refuses, and the outcome of one message. Every transport (the SMTP/LMTP session
//! today, a command's stdin tomorrow) speaks this vocabulary, so the direct send and the queue
//! flush read one result type.

pub mod address;

use crate::error::{Error, Result, Sysexit};
use crate::reply::Reply;

/// The SMTP envelope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse path; `""` and `MAILER-DAEMON` (any case) are sent as `MAIL FROM:<>`.
    pub from: String,
    /// The forward paths, in order.
    pub recipients: Vec<String>,
}

impl Envelope {
    /// Refuses an envelope whose addresses would not be a single, well-formed `MAIL FROM` or
    /// `RCPT TO` argument (see [`address`]): 64 for the sender, which only the command line or
    /// the configuration choose, 65 for a recipient, as the server's refusal of a bad address
    /// would be.
    pub fn check(&self) -> Result<()> {
        let null_sender = self.from.is_empty() || self.from.eq_ignore_ascii_case("MAILER-DAEMON");
        if !null_sender && let Some(why) = address::problem(&self.from) {
            return Err(Error::usage(format!(
                "invalid envelope-from address {}: {why}",
                crate::ui::sanitize(&self.from)
            )));
        }
        for r in &self.recipients {
            if let Some(why) = address::problem(r) {
                return Err(Error::new(
                    Sysexit::DataErr,
                    format!(
                        "invalid recipient address {}: {why}",
                        crate::ui::sanitize(r)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether the envelope needs the SMTPUTF8 extension (RFC 6531): some address has a
    /// non-ASCII character. msmtp 1.8.23 never sends the parameter (a server may then refuse or
    /// mangle such addresses); msmtp 1.8.28-1.8.31 sent it always, which made servers bounce
    /// (marlam/msmtp#197). postie sends it only when advertised and needed.
    pub fn needs_smtputf8(&self) -> bool {
        !self.from.is_ascii() || self.recipients.iter().any(|r| !r.is_ascii())
    }
}

/// What a refusal of the sender, of a recipient or of the data means for the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecipientPolicy {
    /// msmtp's rule, for mail sent now: the first refusal (MAIL, any RCPT, DATA, the final
    /// dot over SMTP) fails the whole message with msmtp's text and exit code, and nothing
    /// more is read from the server. LMTP's per-recipient replies after the dot are reported
    /// in the outcome.
    AllOrNothing,
    /// The queue's rule: a recipient refused for good (5xx) is dropped, one refused for now
    /// (4xx) stays queued, and the others still get the message; a refusal of the whole
    /// message is reported in [`Outcome::message_error`]. The server is kept in step (every
    /// pipelined reply is read), so the connection can carry the next message.
    EachRecipient,
}

/// What became of one message.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Recipients the server took responsibility for.
    pub accepted: Vec<String>,
    /// Recipients refused, in envelope order, with the server's reply (4xx: for now, 5xx: for
    /// good). Under [`RecipientPolicy::AllOrNothing`] only LMTP's replies after the dot.
    pub refusals: Vec<(String, Reply)>,
    /// [`RecipientPolicy::EachRecipient`]: the server refused the whole message (MAIL, DATA or
    /// the final dot); nobody was accepted.
    pub message_error: Option<Error>,
    /// SMTP: the reply to the final dot, for the log line.
    pub final_reply: Option<Reply>,
    /// The message size as msmtp counts it, when the data was sent.
    pub mailsize: u64,
}

impl Outcome {
    /// Every recipient accepted and the message too.
    pub fn all_accepted(&self) -> bool {
        self.refusals.is_empty() && self.message_error.is_none()
    }

    /// Recipients refused for now (4xx).
    pub fn deferred(&self) -> impl Iterator<Item = &(String, Reply)> {
        self.refusals.iter().filter(|(_, r)| r.is_transient())
    }

    /// Recipients refused for good.
    pub fn refused(&self) -> impl Iterator<Item = &(String, Reply)> {
        self.refusals.iter().filter(|(_, r)| !r.is_transient())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_sender_and_mailer_daemon_pass_the_envelope_check() {
        for from in ["", "MAILER-DAEMON", "mailer-daemon"] {
            let env = Envelope {
                from: from.to_string(),
                recipients: vec!["r@x.y".to_string()],
            };
            assert!(env.check().is_ok(), "{from:?}");
        }
    }

    #[test]
    fn smtputf8_only_for_non_ascii_addresses() {
        let mut e = Envelope {
            from: "a@b.c".into(),
            recipients: vec!["r@x.y".into()],
        };
        assert!(!e.needs_smtputf8());
        e.recipients.push("j\u{fc}rgen@x.y".into());
        assert!(e.needs_smtputf8());
    }
}
