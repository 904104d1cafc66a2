//! The notification mail sent to the envelope sender when a queued message is set aside
//! (expired, or refused for good): `queue_notify`, on by default when the account has a
//! `from` address.
//!
//! Why it is itself a queued message: the reason a message expired is usually that the
//! account's server cannot be reached, and the notice goes out through that same account.
//! Queuing it (with the null reverse path `MAIL FROM:<>`, as RFC 3464 bounces do) means it is
//! retried like any other mail, survives crashes, and shows up in `mailq`; a flush that still
//! has a working connection delivers it right away. A message whose envelope sender is empty
//! (such as a notice) is never notified about, so notices cannot loop.

use super::meta::{Meta, Origin, StoredRewrite};
use super::store::Queue;
use crate::account::{self, Account, Request};
use crate::config::Config;
use crate::envelope::Envelope;
use crate::error::Result;
use std::io::{BufRead, Read};

/// The most header bytes copied into a notice (a pathological header block is cut there).
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// The longest original subject copied into the notice's Subject.
const MAX_SUBJECT_CHARS: usize = 200;

/// Whether an envelope sender is the null reverse path (never notified: loops).
pub fn is_null_sender(from: &str) -> bool {
    from.is_empty() || from == "<>" || from.eq_ignore_ascii_case("MAILER-DAEMON")
}

/// The account's own `from` address, without the envelope-from of the message applied (the
/// account is selected by name as at flush time, then finalized like `-P` does). `config` is
/// the configuration the flush already loaded for `origin` (`None` for a `--host` origin), so
/// no msmtprc is read, and no `eval` run, again.
pub fn own_from(origin: &Origin, config: Option<&Config>) -> Option<String> {
    let request = Request {
        account: origin.host.is_none().then_some(origin.account.as_str()),
        host: origin.host.as_deref(),
        envelope_from: None,
        read_envelope_from: false,
        from_header: None,
        overrides: &origin.overrides,
        sendmail_mode: true,
    };
    let mut a = account::select(config, &request).ok()?.account;
    account::finalize(&mut a, true, true).ok()?;
    a.settings.from.filter(|f| !is_null_sender(f))
}

/// Whether to notify: never for a null sender; else `queue_notify`, whose default is on
/// exactly when the account has its own `from` address.
pub fn wanted(meta: &Meta, account: &Account, own_from: Option<&str>) -> bool {
    !is_null_sender(&meta.from)
        && account
            .settings
            .queue_notify
            .unwrap_or_else(|| own_from.is_some())
}

/// The header block of a stored message: up to the first empty line, CRs removed, Bcc
/// headers left out (the notice quotes what the recipients would have seen), at most
/// [`MAX_HEADER_BYTES`].
pub fn read_headers<R: BufRead>(r: &mut R) -> Vec<u8> {
    let mut out = Vec::new();
    let mut line = Vec::new();
    let mut in_bcc = false;
    let mut limited = r.take(MAX_HEADER_BYTES as u64);
    loop {
        line.clear();
        match limited.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        line.retain(|&b| b != b'\r');
        if line == b"\n" {
            break;
        }
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if !continuation {
            in_bcc = line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"bcc:");
        }
        if !in_bcc {
            out.extend_from_slice(&line);
            if !line.ends_with(b"\n") {
                out.push(b'\n');
            }
        }
    }
    out
}

/// The unfolded value of the first `Subject:` header, shortened to a sane length.
pub fn subject(headers: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(headers);
    let mut lines = text.split('\n');
    let mut value = None::<String>;
    for l in lines.by_ref() {
        if value.is_some() {
            if l.starts_with([' ', '\t']) {
                if let Some(v) = value.as_mut() {
                    v.push(' ');
                    v.push_str(l.trim());
                }
                continue;
            }
            break;
        }
        if l.get(..8)
            .is_some_and(|h| h.eq_ignore_ascii_case("subject:"))
        {
            value = Some(l[8..].trim().to_owned());
        }
    }
    let v = value?.trim().to_owned();
    Some(match v.char_indices().nth(MAX_SUBJECT_CHARS) {
        Some((i, _)) => format!("{}...", &v[..i]),
        None => v,
    })
}

/// What the notice says about one set-aside message.
#[derive(Clone, Debug, Default)]
pub struct Notice {
    /// The queue ID of the set-aside message.
    pub id: String,
    /// The envelope sender, who gets the notice.
    pub sender: String,
    /// Recipients that did not get the message, each with the reason.
    pub failed: Vec<(String, String)>,
    /// The last error.
    pub last_error: String,
    /// Why it was set aside (`expired after N attempts` or `refused by the server`).
    pub why: String,
    /// The message's header block as stored, plus the headers postie would have added.
    pub headers: Vec<u8>,
}

impl Notice {
    /// Builds the notice for a message about to be set aside; `headers` is its stored header
    /// block ([`read_headers`]).
    pub fn new(meta: &Meta, headers: Vec<u8>, why: &str, last_error: &str) -> Notice {
        // The headers postie adds when sending come first, as in the sent mail, so the user
        // can tell which message it was.
        let r = &meta.rewrite.rewrite;
        let mut added = Vec::new();
        for (name, value) in [
            ("From", r.from_line.as_deref()),
            ("Date", r.date.as_deref()),
            ("Message-ID", r.message_id.as_deref()),
        ] {
            if let Some(v) = value {
                added.extend_from_slice(format!("{name}: {}\n", v.trim_end()).as_bytes());
            }
        }
        added.extend_from_slice(&headers);
        let headers = added;
        let mut failed: Vec<(String, String)> = meta
            .recipients
            .iter()
            .map(|r| (r.clone(), last_error.to_owned()))
            .collect();
        failed.extend(
            meta.refused
                .iter()
                .map(|r| (r.recipient.clone(), r.reply.clone())),
        );
        Notice {
            id: meta.id.clone(),
            sender: meta.from.clone(),
            failed,
            last_error: last_error.to_owned(),
            why: why.to_owned(),
            headers,
        }
    }

    /// The notice as a complete mail (LF line endings, as the queue stores input). `from` is
    /// the From header's address, `host` the local host name, `date` and `message_id` header
    /// values.
    pub fn compose(&self, from: &str, host: &str, date: &str, message_id: &str) -> Vec<u8> {
        let subject = subject(&self.headers).unwrap_or_else(|| "(no subject)".to_owned());
        let mut m = String::new();
        m.push_str(&format!("From: Mail Delivery System <{from}>\n"));
        m.push_str(&format!("To: <{}>\n", self.sender));
        m.push_str(&format!("Subject: Undelivered mail: {subject}\n"));
        m.push_str(&format!("Date: {date}\n"));
        m.push_str(&format!("Message-ID: {message_id}\n"));
        // RFC 3834: no auto-responder should answer this.
        m.push_str("Auto-Submitted: auto-replied\n");
        m.push_str("MIME-Version: 1.0\n");
        m.push_str("Content-Type: text/plain; charset=utf-8\n");
        m.push_str("Content-Transfer-Encoding: 8bit\n");
        m.push('\n');
        m.push_str(&format!(
            "This is postie on {host}.\n\n\
             Your message could not be delivered to the recipients below ({}).\n\
             It has been set aside and will not be retried.\n\n",
            self.why
        ));
        m.push_str("Failed recipients:\n");
        for (r, why) in &self.failed {
            m.push_str(&format!("  <{r}>: {why}\n"));
        }
        m.push_str(&format!("\nLast error: {}\n", self.last_error));
        m.push_str(&format!("Queue ID: {}\n", self.id));
        m.push_str("\n--- The headers of your message ---\n\n");
        let mut out = m.into_bytes();
        out.extend_from_slice(&self.headers);
        out
    }
}

/// Queues a composed notice (reverse path `<>`, one recipient) with the same origin as the
/// message it is about, so it goes out through the same account. Returns its queue ID.
pub fn enqueue(queue: &Queue, origin: &Origin, to: &str, text: &[u8]) -> Result<String> {
    let spool = queue.spool(b"", &mut &text[..])?;
    let mut meta = Meta::new(
        "",
        origin.clone(),
        &Envelope {
            from: String::new(),
            recipients: vec![to.to_owned()],
        },
        StoredRewrite::default(),
    );
    spool.commit(&mut meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::queue::meta::Refused;

    fn meta(from: &str) -> Meta {
        let mut m = Meta::new(
            "q1",
            Origin::default(),
            &Envelope {
                from: from.into(),
                recipients: vec!["late@y.org".into()],
            },
            StoredRewrite {
                rewrite: crate::message::Rewrite {
                    message_id: Some("<abc@x.org>".into()),
                    ..crate::message::Rewrite::default()
                },
                read_recipients: false,
            },
        );
        m.refused.push(Refused {
            recipient: "gone@y.org".into(),
            reply: "550 5.1.1 no such user".into(),
        });
        m
    }

    fn account(notify: Option<bool>) -> Account {
        let mut a = Account::new("a", None, &Settings::default());
        a.settings.queue_notify = notify;
        a
    }

    #[test]
    fn null_senders_are_never_notified() {
        for from in ["", "<>", "MAILER-DAEMON", "mailer-daemon"] {
            assert!(!wanted(&meta(from), &account(Some(true)), Some("me@x.org")));
        }
    }

    #[test]
    fn notify_defaults_to_on_exactly_when_the_account_has_a_from() {
        let m = meta("s@x.org");
        assert!(wanted(&m, &account(None), Some("me@x.org")));
        assert!(!wanted(&m, &account(None), None));
        assert!(!wanted(&m, &account(Some(false)), Some("me@x.org")));
        assert!(wanted(&m, &account(Some(true)), None));
    }

    #[test]
    fn headers_stop_at_the_blank_line_and_drop_bcc() {
        let raw = b"Subject: hi\r\nBcc: secret@x.org,\r\n more@x.org\r\nTo: a@b\r\n\r\nbody\n";
        assert_eq!(
            read_headers(&mut &raw[..]),
            b"Subject: hi\nTo: a@b\n".to_vec()
        );
    }

    #[test]
    fn header_copy_is_bounded() {
        let raw = vec![b'x'; MAX_HEADER_BYTES * 2];
        assert!(read_headers(&mut &raw[..]).len() <= MAX_HEADER_BYTES + 1);
    }

    #[test]
    fn subject_is_unfolded_and_shortened() {
        assert_eq!(
            subject(b"To: x\nsubject: one\n\ttwo\nX: y\n").as_deref(),
            Some("one two")
        );
        assert_eq!(subject(b"To: x\n"), None);
        let long = format!("Subject: {}\n", "\u{e9}".repeat(300));
        let s = subject(long.as_bytes()).expect("subject");
        assert!(s.ends_with("...") && s.chars().count() == MAX_SUBJECT_CHARS + 3);
    }

    #[test]
    fn notice_names_failed_recipients_error_id_and_original_headers() {
        let n = Notice::new(
            &meta("s@x.org"),
            b"Subject: Lunch\nTo: late@y.org\n".to_vec(),
            "expired after 9 attempts",
            "cannot connect to mx, port 25: Connection refused",
        );
        let text =
            String::from_utf8(n.compose("me@x.org", "box", "DATE", "<id@box>")).expect("utf-8");
        let (head, body) = text.split_once("\n\n").expect("blank line");
        assert!(
            head.contains("From: Mail Delivery System <me@x.org>\n"),
            "{head}"
        );
        assert!(head.contains("To: <s@x.org>\n"), "{head}");
        assert!(
            head.contains("Subject: Undelivered mail: Lunch\n"),
            "{head}"
        );
        assert!(
            head.contains("Date: DATE\nMessage-ID: <id@box>\n"),
            "{head}"
        );
        assert!(head.contains("Auto-Submitted: auto-replied"), "{head}");
        assert!(
            body.contains("  <late@y.org>: cannot connect to mx"),
            "{body}"
        );
        assert!(
            body.contains("  <gone@y.org>: 550 5.1.1 no such user"),
            "{body}"
        );
        assert!(body.contains("Queue ID: q1\n"), "{body}");
        assert!(body.contains("expired after 9 attempts"), "{body}");
        assert!(
            body.ends_with("Message-ID: <abc@x.org>\nSubject: Lunch\nTo: late@y.org\n"),
            "{body}"
        );
    }

    #[test]
    fn notice_without_subject_says_so() {
        let n = Notice::new(&meta("s@x.org"), Vec::new(), "refused", "554 no");
        let text = String::from_utf8_lossy(&n.compose("a@b", "h", "d", "<m@h>")).into_owned();
        assert!(text.contains("Subject: Undelivered mail: (no subject)\n"));
    }

    #[test]
    fn a_queued_notice_has_the_null_sender() {
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(t.path()).expect("open");
        let id = enqueue(&q, &Origin::default(), "s@x.org", b"Subject: x\n\nbody\n").expect("q");
        let m = q.read_meta(&id).expect("meta");
        assert_eq!(m.from, "");
        assert_eq!(m.recipients, vec!["s@x.org".to_owned()]);
        assert!(is_null_sender(&m.from));
    }
}
