//! The queue (issue 5) end to end: the postie binary against the recording test server.
//!
//! Messages are told apart by a unique recipient (`mN@x.org`); a delivery counts only when the
//! server answered 250 to the final dot, read from the server transcript, so "delivered
//! exactly once" and "duplicates only after the server accepted the data" are measured on
//! what the server saw, not on what postie reports.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use support::program::{Home, Options, Run, Running};
use support::server::{Line, ServerBuilder, Session, Stage};

/// A private HOME with an msmtprc at `HOME/rc` whose account queues into `HOME/q`; postie runs
/// in it with `-C HOME/rc`.
struct Env {
    dir: Home,
    rc: String,
}

impl Env {
    fn new(port: u16) -> Env {
        let dir = Home::empty();
        let rc = dir.path().join("rc").to_str().expect("utf-8").to_owned();
        let e = Env { dir, rc };
        e.point_to(port);
        e
    }

    fn home(&self) -> &Path {
        self.dir.path()
    }

    fn queue(&self) -> PathBuf {
        self.home().join("q")
    }

    fn rc(&self) -> PathBuf {
        PathBuf::from(&self.rc)
    }

    /// (Re)writes the msmtprc: the account is re-resolved at flush time, so this is how a test
    /// "brings the server back" on a new port.
    fn point_to(&self, port: u16) {
        self.write_rc(&format!(
            "account default\nhost 127.0.0.1\nport {port}\nfrom s@x.org\nqueue on\nqueue_dir {}\nlogfile {}\n",
            self.queue().display(),
            self.home().join("log").display()
        ));
    }

    /// [`Env::point_to`] with more account commands.
    fn point_to_with(&self, port: u16, extra: &str) {
        self.point_to(port);
        let rc = std::fs::read_to_string(self.rc()).expect("rc");
        self.write_rc(&format!("{rc}{extra}"));
    }

    fn write_rc(&self, text: &str) {
        self.dir.write("rc", text, 0o600);
    }

    /// `-C HOME/rc` and `args`.
    fn with_rc<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["-C", self.rc.as_str()];
        v.extend_from_slice(args);
        v
    }

    fn cmd(&self, args: &[&str]) -> Command {
        self.dir.command(&self.with_rc(args), &Options::default())
    }

    fn spawn(&self, args: &[&str], stdin: &[u8]) -> Running {
        self.dir
            .spawn(&self.with_rc(args), stdin, &Options::default())
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Run {
        self.run_with(args, stdin, &Options::default())
    }

    fn run_with(&self, args: &[&str], stdin: &[u8], o: &Options<'_>) -> Run {
        self.dir.run_with(&self.with_rc(args), stdin, o)
    }

    /// `postie queue -C HOME/rc args`.
    fn queue_cmd(&self, args: &[&str]) -> Run {
        self.queue_with(args, &Options::default())
    }

    fn queue_with(&self, args: &[&str], o: &Options<'_>) -> Run {
        let mut argv = vec!["queue"];
        argv.extend(self.with_rc(args));
        self.dir.run_with(&argv, b"", o)
    }

    /// postie as `mailq`, without `-C`.
    fn mailq(&self, o: &Options<'_>) -> Run {
        self.dir.run_with(&[], b"", &o.clone().name("mailq"))
    }

    fn queued_ids(&self) -> Vec<String> {
        ids_in(&self.queue())
    }

    fn failed_ids(&self) -> Vec<String> {
        ids_in(&self.queue().join("failed"))
    }
}

fn ids_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .strip_suffix(".toml")
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn meta_of(dir: &Path, id: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{id}.toml"))).expect("metadata")
}

/// Makes a queued message `secs` seconds old (its creation time is what expiry looks at).
fn age(env: &Env, id: &str, secs: u64) {
    let p = env.queue().join(format!("{id}.toml"));
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let text: String = meta_of(&env.queue(), id)
        .lines()
        .map(|l| {
            if l.starts_with("created = ") {
                format!("created = {}\n", now - secs)
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(p, text).expect("write metadata");
}

fn mail(n: usize) -> Vec<u8> {
    format!("Subject: message {n}\n\nbody of message {n}\n.leading dot\n").into_bytes()
}

fn rcpt(n: usize) -> String {
    format!("m{n}@x.org")
}

fn text(b: &(impl AsRef<[u8]> + ?Sized)) -> String {
    String::from_utf8_lossy(b.as_ref()).into_owned()
}

/// Per recipient, how many times the server accepted a message (250 after the final dot).
fn deliveries(sessions: &[Session]) -> BTreeMap<String, usize> {
    let mut count = BTreeMap::new();
    for s in sessions {
        let mut pending: Option<String> = None;
        let mut accepted: Vec<String> = Vec::new();
        let mut after_dot = false;
        for l in &s.transcript {
            match l {
                Line::Client(t) if t.to_ascii_uppercase().starts_with("MAIL FROM") => {
                    accepted.clear();
                }
                Line::Client(t) if t.to_ascii_uppercase().starts_with("RCPT TO:<") => {
                    pending = t[9..].split('>').next().map(str::to_owned);
                }
                Line::Client(t) if t == "." => after_dot = true,
                Line::Server(t) => {
                    if let Some(r) = pending.take()
                        && t.starts_with("250")
                    {
                        accepted.push(r);
                    }
                    if after_dot {
                        after_dot = false;
                        if t.starts_with("250") {
                            for r in accepted.drain(..) {
                                *count.entry(r).or_insert(0) += 1;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    count
}

/// A small xorshift generator, seeded from the clock (the seed is printed on failure).
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1;
        eprintln!("rng seed {seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[test]
fn queue_while_server_down_then_flush() {
    let down = ServerBuilder::smtp().no_listen().start();
    let env = Env::new(down.port());
    for n in 0..3 {
        let out = env.run(&[&rcpt(n)], &mail(n));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        // Emacs treats any output as failure: nothing without -v.
        assert_eq!(text(&out.stderr), "");
        assert_eq!(text(&out.stdout), "");
    }
    assert_eq!(env.queued_ids().len(), 3);
    let listing = env.run(&["-bp"], b"");
    assert!(
        text(&listing.stdout).contains("(3 requests)"),
        "{}",
        text(&listing.stdout)
    );
    assert!(text(&listing.stdout).contains("Connection refused"));
    let log = std::fs::read_to_string(env.home().join("log")).expect("log");
    assert!(log.contains("exitcode=EX_TEMPFAIL"), "{log}");
    let stored = std::fs::read_to_string(env.queue().join(format!("{}.toml", env.queued_ids()[0])))
        .expect("meta");
    assert!(!stored.to_lowercase().contains("password"));

    let up = ServerBuilder::smtp().start();
    env.point_to(up.port());
    let out = env.run(&["-q"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sessions = up.finish();
    assert_eq!(sessions.len(), 1, "one connection for the whole account");
    assert!(sessions[0].rset, "RSET between messages");
    assert!(sessions[0].quit);
    let d = deliveries(&sessions);
    for n in 0..3 {
        assert_eq!(d.get(&rcpt(n)), Some(&1), "{d:?}");
    }
    let data = text(sessions[0].data.as_deref().unwrap_or_default());
    assert!(data.contains("Subject: message 2\r\n"), "{data}");
    assert!(
        data.contains("\r\n..leading dot\r\n"),
        "dot-stuffed: {data}"
    );
    assert!(data.contains("Message-ID: <"), "{data}");
    assert!(env.queued_ids().is_empty());
    let listing = env.run(&["-bp"], b"");
    assert_eq!(text(&listing.stdout), "Mail queue is empty\n");
}

#[test]
fn odq_queues_without_connecting_and_mailq_lists() {
    let server = ServerBuilder::smtp().start();
    let env = Env::new(server.port());
    // -odq works even with queue off.
    let rc = std::fs::read_to_string(env.rc()).expect("rc");
    env.write_rc(&rc.replace("queue on\n", ""));
    let out = env.run(&["-odq", &rcpt(1)], &mail(1));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(env.queued_ids().len(), 1);
    // `mailq` is postie under another name.
    let out = env.mailq(&Options::default());
    // mailq without -C looks at the default queue only; this one is configured elsewhere.
    assert_eq!(out.status.code(), Some(0));
    let out = env.queue_cmd(&["list"]);
    assert!(
        text(&out.stdout).contains(&rcpt(1)),
        "{}",
        text(&out.stdout)
    );
    let out = env.run(&["-q"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sessions = server.finish();
    assert_eq!(sessions.len(), 1, "-odq must not connect; -q connects once");
    assert_eq!(deliveries(&sessions).get(&rcpt(1)), Some(&1));
}

#[test]
fn permanent_5xx_fails_at_once_with_msmtps_exit_code() {
    let server = ServerBuilder::smtp()
        .reply(Stage::Rcpt(1), "550 5.1.1 no such user")
        .start();
    let env = Env::new(server.port());
    let out = env.run(&[&rcpt(1)], &mail(1));
    assert_eq!(out.status.code(), Some(65), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("recipient address m1@x.org not accepted by the server"));
    assert!(env.queued_ids().is_empty());
    assert_eq!(
        std::fs::read_dir(env.queue().join("tmp"))
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
}

#[test]
fn transient_4xx_is_queued_then_delivered() {
    let server = ServerBuilder::smtp()
        .reply(Stage::Mail, "451 4.3.0 try again later")
        .start();
    let env = Env::new(server.port());
    let out = env.run(&[&rcpt(1)], &mail(1));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    assert_eq!(env.queued_ids().len(), 1);
    // -v says what happened.
    let out = env.run(&["-v", &rcpt(2)], &mail(2));
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("message queued as"),
        "{}",
        text(&out.stderr)
    );
    drop(server);
    let good = ServerBuilder::smtp().start();
    env.point_to(good.port());
    let out = env.run(&["-q"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let d = deliveries(&good.finish());
    assert_eq!((d.get(&rcpt(1)), d.get(&rcpt(2))), (Some(&1), Some(&1)));
}

#[test]
fn one_refused_recipient_is_dropped_and_the_rest_delivered() {
    let env = Env::new(1);
    let out = env.run(&["-odq", "a@x.org", "b@x.org", "c@x.org"], &mail(1));
    assert_eq!(out.status.code(), Some(0));
    let out = env.run(&["-odq", "d@x.org", "e@x.org"], &mail(2));
    assert_eq!(out.status.code(), Some(0));
    // The server refuses the second RCPT of every transaction: b and e.
    let s1 = ServerBuilder::smtp()
        .reply(Stage::Rcpt(2), "550 5.1.1 b unknown")
        .start();
    env.point_to(s1.port());
    let out = env.run(&["-q"], b"");
    assert!(
        text(&out.stderr).contains("b@x.org"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("e@x.org"),
        "{}",
        text(&out.stderr)
    );
    let d = deliveries(&s1.finish());
    assert_eq!(d.get("a@x.org"), Some(&1));
    assert_eq!(d.get("c@x.org"), Some(&1));
    assert_eq!(d.get("d@x.org"), Some(&1));
    assert_eq!(d.get("b@x.org"), None);
    // Messages whose recipients were refused are set aside for the user, not deleted.
    assert_eq!(env.failed_ids().len(), 2);
    assert!(env.queued_ids().is_empty());

    // A 4xx for one recipient keeps only that recipient queued.
    let out = env.run(&["-odq", "f@x.org", "g@x.org"], &mail(3));
    assert_eq!(out.status.code(), Some(0));
    let s2 = ServerBuilder::smtp()
        .reply(Stage::Rcpt(1), "452 4.2.2 mailbox full")
        .start();
    env.point_to(s2.port());
    env.run(&["-q"], b"");
    let d = deliveries(&s2.finish());
    assert_eq!(d.get("g@x.org"), Some(&1));
    let ids = env.queued_ids();
    assert_eq!(ids.len(), 1);
    let meta = std::fs::read_to_string(env.queue().join(format!("{}.toml", ids[0]))).expect("meta");
    assert!(meta.contains("recipients = [\"f@x.org\"]"), "{meta}");
    assert!(meta.contains("attempts = 1"), "{meta}");
    let s3 = ServerBuilder::smtp().start();
    env.point_to(s3.port());
    env.run(&["-q"], b"");
    let d = deliveries(&s3.finish());
    assert_eq!(d.get("f@x.org"), Some(&1));
    assert_eq!(d.get("g@x.org"), None, "g must not get it twice");
    assert!(env.queued_ids().is_empty());
}

#[test]
fn permanent_message_rejection_at_flush_moves_it_aside() {
    let env = Env::new(1);
    env.run(&["-odq", &rcpt(1)], &mail(1));
    let s = ServerBuilder::smtp().eod_reply("554 5.7.1 spam").start();
    env.point_to(s.port());
    let out = env.run(&["-q"], b"");
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("554"), "{}", text(&out.stderr));
    assert!(env.queued_ids().is_empty());
    // The notice to the sender went out over the same connection and this server refused it
    // too: it is set aside like any message, and nobody is notified about a notice (no loop).
    let sessions = s.finish();
    assert_eq!(sessions.len(), 1);
    assert!(
        sessions[0]
            .transcript
            .contains(&Line::Client("MAIL FROM:<>".into())),
        "{}",
        sessions[0].transcript_text()
    );
    assert_eq!(env.failed_ids().len(), 2);
    let notices: Vec<String> = env
        .failed_ids()
        .into_iter()
        .filter(|id| meta_of(&env.queue().join("failed"), id).contains("from = \"\""))
        .collect();
    assert_eq!(notices.len(), 1);
}

#[test]
fn expired_messages_move_to_failed_with_a_log_line() {
    let env = Env::new(1);
    env.run(&["-odq", &rcpt(1)], &mail(1));
    let id = env.queued_ids()[0].clone();
    let p = env.queue().join(format!("{id}.toml"));
    let meta = std::fs::read_to_string(&p).expect("meta");
    let old: String = meta
        .lines()
        .map(|l| {
            if l.starts_with("created = ") {
                "created = 1".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&p, old).expect("write");
    let down = ServerBuilder::smtp().no_listen().start();
    env.point_to(down.port());
    let out = env.run(&["-q"], b"");
    assert!(
        text(&out.stderr).contains("expired"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(env.failed_ids(), vec![id]);
    let log = std::fs::read_to_string(env.home().join("log")).expect("log");
    assert!(log.contains("expired"), "{log}");
}

#[test]
fn queue_max_age_setting_expires_and_the_max_age_flag_wins() {
    let down = ServerBuilder::smtp().no_listen().start();
    let env = Env::new(down.port());
    env.run(&["-odq", &rcpt(1)], &mail(1));
    let id = env.queued_ids()[0].clone();
    age(&env, &id, 2 * 86400);
    // Default (5 days): two days old is not expired.
    let out = env.run(&["-q"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(env.queued_ids(), vec![id.clone()]);
    // queue_max_age 1d: expired, unless --max-age says otherwise.
    let rc = std::fs::read_to_string(env.rc()).expect("rc");
    env.write_rc(&format!("{rc}queue_max_age 1d\nqueue_notify off\n"));
    let out = env.queue_cmd(&["flush", "--max-age=3d"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(env.queued_ids(), vec![id.clone()], "--max-age wins");
    let out = env.run(&["-q"], b"");
    assert_eq!(out.status.code(), Some(69), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("expired after 3 attempts"));
    assert_eq!(env.failed_ids(), vec![id]);
    assert!(env.queued_ids().is_empty(), "queue_notify off: no notice");
    // A malformed value is a configuration error with msmtp's wording.
    env.write_rc(&format!("{rc}queue_max_age 5w\n"));
    let out = env.run(&["-odq", &rcpt(2)], &mail(2));
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("invalid argument 5w for command queue_max_age"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn refused_recipient_is_reported_to_the_sender_with_a_null_sender_mail() {
    let env = Env::new(1);
    let msg = b"Subject: Lunch on Friday\nTo: a@x.org, b@x.org\nBcc: hidden@x.org\n\nhello\n";
    let out = env.run(&["-odq", "a@x.org", "b@x.org"], msg);
    assert_eq!(out.status.code(), Some(0));
    let id = env.queued_ids()[0].clone();
    let server = ServerBuilder::smtp()
        .reply(Stage::Rcpt(2), "550 5.1.1 b unknown")
        .start();
    env.point_to(server.port());
    let out = env.run(&["-q"], b"");
    assert_eq!(out.status.code(), Some(69), "{}", text(&out.stderr));
    let sessions = server.finish();
    assert_eq!(sessions.len(), 1, "the notice uses the same connection");
    let s = &sessions[0];
    let d = deliveries(&sessions);
    assert_eq!(d.get("a@x.org"), Some(&1));
    assert_eq!(d.get("s@x.org"), Some(&1), "{}", s.transcript_text());
    assert!(s.transcript.contains(&Line::Client("MAIL FROM:<>".into())));
    // The last DATA of the session is the notice.
    let notice = text(s.data.as_deref().unwrap_or_default());
    for want in [
        "From: Mail Delivery System <s@x.org>\r\n",
        "To: <s@x.org>\r\n",
        "Subject: Undelivered mail: Lunch on Friday\r\n",
        "Auto-Submitted: auto-replied\r\n",
        "  <b@x.org>: 550 5.1.1 b unknown\r\n",
        &format!("Queue ID: {id}\r\n"),
        "\r\nSubject: Lunch on Friday\r\nTo: a@x.org, b@x.org\r\n",
    ] {
        assert!(notice.contains(want), "{want:?} missing in {notice}");
    }
    assert!(notice.contains("Message-ID: <"), "{notice}");
    assert!(!notice.contains("hidden@x.org"), "Bcc quoted: {notice}");
    assert!(!notice.contains("<a@x.org>:"), "a was delivered: {notice}");
    assert_eq!(env.failed_ids(), vec![id]);
    assert!(env.queued_ids().is_empty());
}

#[test]
fn expiry_notice_is_queued_and_delivered_when_the_server_is_back() {
    let down = ServerBuilder::smtp().no_listen().start();
    let env = Env::new(down.port());
    env.run(&["-odq", &rcpt(1)], &mail(1));
    let id = env.queued_ids()[0].clone();
    age(&env, &id, 6 * 86400);
    let out = env.run(&["-q"], b"");
    assert_eq!(out.status.code(), Some(69), "{}", text(&out.stderr));
    assert_eq!(env.failed_ids(), vec![id.clone()]);
    // The notice waits in the queue like any mail, with the null sender.
    let queued = env.queued_ids();
    assert_eq!(queued.len(), 1);
    let meta = meta_of(&env.queue(), &queued[0]);
    assert!(meta.contains("from = \"\""), "{meta}");
    assert!(meta.contains("recipients = [\"s@x.org\"]"), "{meta}");
    let listing = text(&env.run(&["-bp"], b"").stdout);
    assert!(listing.contains("<>"), "{listing}");
    let up = ServerBuilder::smtp().start();
    env.point_to(up.port());
    let out = env.run(&["-q"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sessions = up.finish();
    let s = &sessions[0];
    assert!(s.transcript.contains(&Line::Client("MAIL FROM:<>".into())));
    assert!(
        s.transcript
            .contains(&Line::Client("RCPT TO:<s@x.org>".into()))
    );
    let notice = text(s.data.as_deref().unwrap_or_default());
    assert!(
        notice.contains("Subject: Undelivered mail: message 1\r\n"),
        "{notice}"
    );
    assert!(notice.contains("expired after 1 attempt)"), "{notice}");
    assert!(
        notice.contains(&format!(
            "  <{}>: cannot connect to 127.0.0.1, port {}: Connection refused\r\n",
            rcpt(1),
            down.port()
        )),
        "{notice}"
    );
    assert!(env.queued_ids().is_empty());
}

#[test]
fn no_notice_for_a_null_sender_with_queue_notify_off_or_an_account_without_from() {
    let down = ServerBuilder::smtp().no_listen().start();
    let env = Env::new(down.port());
    let base = std::fs::read_to_string(env.rc()).expect("rc");
    // 1. Null envelope sender.
    env.run(&["-odq", &rcpt(1)], &mail(1));
    let id = env.queued_ids()[0].clone();
    let p = env.queue().join(format!("{id}.toml"));
    let m = meta_of(&env.queue(), &id).replace("from = \"s@x.org\"", "from = \"\"");
    std::fs::write(&p, m).expect("write");
    // 2. queue_notify off.
    env.write_rc(&format!("{base}queue_notify off\n"));
    env.run(&["-odq", &rcpt(2)], &mail(2));
    // 3. No `from` in the account (the sender came from -f): default off.
    env.write_rc(&base.replace("from s@x.org\n", ""));
    env.run(&["-odq", "-f", "t@x.org", &rcpt(3)], &mail(3));
    let ids = env.queued_ids();
    assert_eq!(ids.len(), 3);
    for id in &ids {
        age(&env, id, 6 * 86400);
    }
    let out = env.queue_cmd(&["flush"]);
    assert_eq!(out.status.code(), Some(69), "{}", text(&out.stderr));
    assert_eq!(env.failed_ids(), ids);
    assert!(env.queued_ids().is_empty(), "no notice was queued");
}

#[test]
fn flush_uses_one_tls_handshake_one_auth_and_pipelining() {
    let server = ServerBuilder::smtp()
        .starttls()
        .auth("PLAIN")
        .credentials("joe", "s3cret")
        .pipelining()
        .start();
    let env = Env::new(server.port());
    let extra = format!(
        "tls on\ntls_trust_file {}\nauth plain\nuser joe\npasswordeval echo s3cret\n",
        support::pki::pki().ca_pem.display()
    );
    env.point_to_with(server.port(), &extra);
    for n in 0..3 {
        let out = env.run(&["-odq", &rcpt(n)], &mail(n));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    for id in env.queued_ids() {
        assert!(!meta_of(&env.queue(), &id).contains("s3cret"));
    }
    let out = env.run(&["-q"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sessions = server.finish();
    assert_eq!(sessions.len(), 1, "-odq never connects; -q connects once");
    let s = &sessions[0];
    assert_eq!(s.tls_state(), support::server::TlsState::StartTls);
    assert_eq!(s.auth.len(), 1, "one AUTH for three messages");
    assert!(s.auth[0].ok);
    assert!(s.pipelined, "the envelope is pipelined when offered");
    assert!(s.rset);
    let d = deliveries(&sessions);
    for n in 0..3 {
        assert_eq!(d.get(&rcpt(n)), Some(&1), "{d:?}");
    }
}

#[test]
fn dns_failure_and_timeout_are_transient_and_queued() {
    let env = Env::new(1);
    let rc = std::fs::read_to_string(env.rc()).expect("rc");
    env.write_rc(&rc.replace("host 127.0.0.1", "host no-such-host.invalid"));
    let out = env.run(&[&rcpt(1)], &mail(1));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    assert_eq!(env.queued_ids().len(), 1);
    let stall = ServerBuilder::smtp()
        .fault(Stage::Greeting, support::server::Action::Stall)
        .start();
    env.point_to_with(stall.port(), "timeout 1\n");
    let out = env.run(&[&rcpt(2)], &mail(2));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    assert_eq!(env.queued_ids().len(), 2);
    let listing = text(&env.run(&["-bp"], b"").stdout);
    assert!(listing.contains("no-such-host.invalid"), "{listing}");
    drop(stall);
    let up = ServerBuilder::smtp().start();
    env.point_to(up.port());
    assert_eq!(env.run(&["-q"], b"").status.code(), Some(0));
    let d = deliveries(&up.finish());
    assert_eq!((d.get(&rcpt(1)), d.get(&rcpt(2))), (Some(&1), Some(&1)));
}

#[test]
fn flush_due_respects_the_backoff_and_q_does_not() {
    let down = ServerBuilder::smtp().no_listen().start();
    let env = Env::new(down.port());
    // A failed first attempt: the next one is due in a minute.
    let out = env.run(&[&rcpt(1)], &mail(1));
    assert_eq!(out.status.code(), Some(0));
    let id = env.queued_ids()[0].clone();
    assert!(meta_of(&env.queue(), &id).contains("attempts = 1"));
    let up = ServerBuilder::smtp().start();
    env.point_to(up.port());
    let out = env.queue_cmd(&["flush", "--due"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(env.queued_ids(), vec![id.clone()], "not due yet");
    // -odq mail has never failed: it is due at once.
    env.run(&["-odq", &rcpt(2)], &mail(2));
    let out = env.queue_cmd(&["flush", "--due"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(env.queued_ids(), vec![id]);
    let out = env.run(&["-q"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(env.queued_ids().is_empty());
    let d = deliveries(&up.finish());
    assert_eq!((d.get(&rcpt(1)), d.get(&rcpt(2))), (Some(&1), Some(&1)));
}

#[test]
fn hold_release_show_delete() {
    let server = ServerBuilder::smtp().start();
    let env = Env::new(server.port());
    env.run(&["-odq", &rcpt(1)], &mail(1));
    let id = env.queued_ids()[0].clone();
    assert_eq!(env.queue_cmd(&["hold", &id]).status.code(), Some(0));
    assert!(text(&env.queue_cmd(&["list"]).stdout).contains("(held)"));
    env.run(&["-q"], b"");
    assert_eq!(env.queued_ids(), vec![id.clone()], "held mail is not sent");
    let show = env.queue_cmd(&["show", &id]);
    assert!(
        text(&show.stdout).contains("Subject: message 1"),
        "{}",
        text(&show.stdout)
    );
    assert_eq!(env.queue_cmd(&["release", &id]).status.code(), Some(0));
    assert_eq!(env.queue_cmd(&["flush"]).status.code(), Some(0));
    assert!(env.queued_ids().is_empty());
    assert_eq!(deliveries(&server.finish()).get(&rcpt(1)), Some(&1));
    env.run(&["-odq", &rcpt(2)], &mail(2));
    let id = env.queued_ids()[0].clone();
    assert_eq!(env.queue_cmd(&["delete", &id]).status.code(), Some(0));
    assert!(env.queued_ids().is_empty());
    assert_eq!(
        env.queue_cmd(&["show", "../../etc/passwd"]).status.code(),
        Some(64)
    );
}

/// Points the account's `queue_dir` at `dir` (relative to HOME).
fn queue_dir_at(env: &Env, dir: &str) {
    let rc = std::fs::read_to_string(env.rc()).expect("rc");
    env.write_rc(&rc.replace(
        &format!("queue_dir {}", env.queue().display()),
        &format!("queue_dir {}/{dir}", env.home().display()),
    ));
}

#[test]
fn unwritable_queue_fails_loudly_with_odq() {
    let server = ServerBuilder::smtp().start();
    let env = Env::new(server.port());
    // A queue_dir below a regular file cannot be created, even by root.
    std::fs::write(env.home().join("file"), "x").expect("write");
    queue_dir_at(&env, "file/q");
    let out = env.run(&["-odq", &rcpt(1)], &mail(1));
    assert_eq!(out.status.code(), Some(74), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot create queue directory"),
        "{}",
        text(&out.stderr)
    );
    assert!(server.finish().is_empty(), "-odq never connects");
}

#[test]
fn an_unusable_queue_does_not_stop_a_direct_send() {
    let server = ServerBuilder::smtp().start();
    let env = Env::new(server.port());
    std::fs::write(env.home().join("file"), "x").expect("write");
    // Below a regular file, and a regular file itself: both fail for root too.
    for (n, dir) in [(1, "file/q"), (2, "file")] {
        queue_dir_at(&env, dir);
        let out = env.run(&[&rcpt(n)], &mail(n));
        assert_eq!(out.status.code(), Some(0), "{dir}: {}", text(&out.stderr));
        assert_eq!(text(&out.stderr), "", "{dir}: silent without -v");
        env.point_to(server.port());
    }
    queue_dir_at(&env, "file/q");
    let out = env.run(&["-v", &rcpt(3)], &mail(3));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("cannot create queue directory"), "{err}");
    assert!(err.contains("sending without it"), "{err}");
    let sessions = server.finish();
    let d = deliveries(&sessions);
    for n in 1..=3 {
        assert_eq!(d.get(&rcpt(n)), Some(&1), "{d:?}");
    }
    let data = text(sessions[0].data.as_deref().unwrap_or_default());
    assert!(
        data.contains("body of message 1\r\n..leading dot\r\n"),
        "{data}"
    );
}

#[test]
fn an_unusable_queue_and_a_transient_failure_report_both_with_the_send_exit_code() {
    let down = ServerBuilder::smtp().no_listen().start();
    let env = Env::new(down.port());
    std::fs::write(env.home().join("file"), "x").expect("write");
    queue_dir_at(&env, "file/q");
    let out = env.run(&[&rcpt(1)], &mail(1));
    let err = text(&out.stderr);
    // 75: what the same send exits with when there is no queue at all.
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(err.contains("Connection refused"), "{err}");
    assert!(err.contains("cannot create queue directory"), "{err}");
    assert!(err.contains("neither sent nor queued"), "{err}");
    // A permanent failure is reported as without a queue (it would not be queued anyway).
    let refusing = ServerBuilder::smtp()
        .reply(Stage::Rcpt(1), "550 5.1.1 no such user")
        .start();
    env.point_to(refusing.port());
    queue_dir_at(&env, "file/q");
    let out = env.run(&[&rcpt(2)], &mail(2));
    assert_eq!(out.status.code(), Some(65), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("queue"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_queue_that_fills_up_while_spooling_still_sends_every_byte() {
    let server = ServerBuilder::smtp().start();
    let env = Env::new(server.port());
    let body = (0..6000)
        .map(|i| format!("line {i:05} of a message larger than the file size limit\n"))
        .collect::<String>();
    let big = format!("Subject: big\n\n{body}").into_bytes();
    assert!(big.len() > 300_000);
    let mut cmd = env.cmd(&[&rcpt(1)]);
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only async-signal-safe calls (setrlimit, signal) run.
    unsafe {
        cmd.pre_exec(|| {
            // Writes past 100 kB fail with EFBIG, as on a full disk, for root too; ignoring
            // SIGXFSZ survives exec, so postie sees the error instead of dying of the signal.
            let lim = libc::rlimit {
                rlim_cur: 100_000,
                rlim_max: 100_000,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &lim);
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let out = Running::start(cmd, &big).wait();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sessions = server.finish();
    let data = sessions[0].data.clone().unwrap_or_default();
    let sent = text(&data);
    // The server received the body exactly, LF turned into CRLF.
    assert!(
        sent.ends_with(&body.replace('\n', "\r\n")),
        "{} bytes sent of {}",
        data.len(),
        big.len()
    );
    assert!(env.queued_ids().is_empty());
    assert_eq!(
        std::fs::read_dir(env.queue().join("tmp"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "no spool debris"
    );
}

#[test]
fn full_filesystem_fails_loudly_and_leaves_no_debris() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let env = Env::new(1);
    let mnt = env.home().join("small");
    std::fs::create_dir(&mnt).expect("mkdir");
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: mount -t tmpfs failed (no CAP_SYS_ADMIN in this container?)");
        return;
    }
    let rc = std::fs::read_to_string(env.rc()).expect("rc");
    env.write_rc(&rc.replace(
        &format!("queue_dir {}", env.queue().display()),
        &format!("queue_dir {}/q", mnt.display()),
    ));
    let big = format!("Subject: big\n\n{}\n", "x".repeat(200_000)).into_bytes();
    let out = env.run(&["-odq", &rcpt(1)], &big);
    let stderr = text(&out.stderr);
    let tmp_left = std::fs::read_dir(mnt.join("q/tmp"))
        .map(|d| d.count())
        .unwrap_or(0);
    let queued = ids_in(&mnt.join("q"));
    // With `queue on` and a reachable server, the full disk does not stop the send.
    let server = ServerBuilder::smtp().start();
    let rc = std::fs::read_to_string(env.rc()).expect("rc");
    env.write_rc(&rc.replace("port 1\n", &format!("port {}\n", server.port())));
    let direct = env.run(&["-v", &rcpt(2)], &big);
    let direct_tmp_left = std::fs::read_dir(mnt.join("q/tmp"))
        .map(|d| d.count())
        .unwrap_or(0);
    let _ = Command::new("umount").arg(&mnt).status();
    assert_eq!(out.status.code(), Some(74), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert_eq!(tmp_left, 0);
    assert!(queued.is_empty());
    let err = text(&direct.stderr);
    assert_eq!(direct.status.code(), Some(0), "{err}");
    assert!(
        err.contains("No space left on device") && err.contains("sending without it"),
        "{err}"
    );
    assert_eq!(direct_tmp_left, 0);
    let sessions = server.finish();
    assert_eq!(deliveries(&sessions).get(&rcpt(2)), Some(&1));
    let data = sessions[0].data.clone().unwrap_or_default();
    assert!(data.ends_with(format!("{}\r\n", "x".repeat(200_000)).as_bytes()));
}

/// A queue directory that turns read-only (a remounted file system for root, mode 0500
/// otherwise): `-odq` fails loudly (74), a send with `queue on` still goes out directly, `-q`
/// refuses (74) before sending anything, and once the directory is writable again the
/// message is delivered exactly once.
#[test]
fn read_only_queue_directory_fails_loudly_and_loses_nothing() {
    let env = Env::new(1);
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mnt = env.home().join("ro");
    std::fs::create_dir(&mnt).expect("mkdir");
    if root {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(&mnt)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: mount -t tmpfs failed (no CAP_SYS_ADMIN in this container?)");
            return;
        }
    }
    let rc = std::fs::read_to_string(env.rc()).expect("rc");
    let q = mnt.join("q");
    env.write_rc(&rc.replace(
        &format!("queue_dir {}", env.queue().display()),
        &format!("queue_dir {}", q.display()),
    ));
    let out = env.run(&["-odq", &rcpt(1)], &mail(1));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let queued = ids_in(&q);
    assert_eq!(queued.len(), 1);
    let set_read_only = |ro: bool| {
        if root {
            let opt = if ro { "remount,ro" } else { "remount,rw" };
            let ok = Command::new("mount")
                .args(["-o", opt])
                .arg(&mnt)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "mount -o {opt}");
        } else {
            use std::os::unix::fs::PermissionsExt;
            let mode = if ro { 0o500 } else { 0o700 };
            for d in [q.clone(), q.join("tmp")] {
                std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).expect("chmod");
            }
        }
    };
    set_read_only(true);
    let odq = env.run(&["-odq", &rcpt(2)], &mail(2));
    let server = ServerBuilder::smtp().start();
    let rc = std::fs::read_to_string(env.rc()).expect("rc");
    env.write_rc(&rc.replace("port 1\n", &format!("port {}\n", server.port())));
    let direct = env.run(&["-v", &rcpt(3)], &mail(3));
    let flush = env.run(&["-q"], b"");
    let still_queued = ids_in(&q);
    set_read_only(false);
    let again = env.run(&["-q"], b"");
    let left = ids_in(&q);
    if root {
        let _ = Command::new("umount").arg(&mnt).status();
    }
    let err = text(&odq.stderr);
    assert_eq!(odq.status.code(), Some(74), "{err}");
    assert!(
        err.contains("Read-only file system") || err.contains("Permission denied"),
        "{err}"
    );
    let err = text(&direct.stderr);
    assert_eq!(direct.status.code(), Some(0), "{err}");
    assert!(err.contains("sending without it"), "{err}");
    // -q refuses the read-only directory before connecting: a message it delivered there
    // could not be removed and would go out again at the next flush.
    let err = text(&flush.stderr);
    assert_eq!(flush.status.code(), Some(74), "{err}");
    assert!(
        err.contains("cannot flush queue directory") && err.contains("nothing was sent"),
        "{err}"
    );
    assert_eq!(still_queued, queued);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(left.is_empty(), "{left:?}");
    let d = deliveries(&server.finish());
    assert_eq!(d.get(&rcpt(2)), None, "-odq never sends: {d:?}");
    assert_eq!(d.get(&rcpt(3)), Some(&1), "{d:?}");
    assert_eq!(d.get(&rcpt(1)), Some(&1), "exactly once: {d:?}");
    eprintln!(
        "read-only queue: -odq exit 74, direct send ok, -q exit 74 with nothing sent, message 1 delivered once after the directory became writable"
    );
}

#[test]
fn two_concurrent_flushers_deliver_each_message_exactly_once() {
    let server = ServerBuilder::smtp().start();
    let env = Env::new(server.port());
    for n in 0..30 {
        let out = env.run(&["-odq", &rcpt(n)], &mail(n));
        assert_eq!(out.status.code(), Some(0));
    }
    let a = env.spawn(&["-q"], b"");
    let b = env.spawn(&["-q"], b"");
    let (a, b) = (a.wait(), b.wait());
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    assert_eq!(b.status.code(), Some(0), "{}", text(&b.stderr));
    let sessions = server.finish();
    let d = deliveries(&sessions);
    for n in 0..30 {
        assert_eq!(d.get(&rcpt(n)), Some(&1), "{d:?}");
    }
    assert!(env.queued_ids().is_empty());
    eprintln!(
        "concurrency: 30 messages, {} connection(s), each delivered exactly once",
        sessions.len()
    );
}

#[test]
fn sigkill_during_enqueue_never_loses_an_acknowledged_message() {
    let env = Env::new(1);
    let mut rng = Rng::new();
    let body = |n: usize| {
        format!(
            "Subject: crash {n}\n\n{}",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n".repeat(4000)
        )
    };
    // Kill times are spread over twice the time an enqueue takes on this machine now, so
    // some kills land mid-write, some during the commit and some just after the
    // acknowledgement; a fixed range missed the acknowledged half on a fast machine.
    let t0 = Instant::now();
    let out = env.run(&["-odq", &rcpt(1000)], body(1000).as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let span = (t0.elapsed().as_micros() as u64 * 2).max(2000);
    let mut acknowledged = vec![1000];
    let mut killed = 0;
    let trial = |n: usize, delay_us: u64, acknowledged: &mut Vec<usize>, killed: &mut usize| {
        let mut child = env.spawn(&["-odq", &rcpt(n)], body(n).as_bytes());
        std::thread::sleep(Duration::from_micros(delay_us));
        child.kill();
        if child.wait().status.code() == Some(0) {
            acknowledged.push(n);
        } else {
            *killed += 1;
        }
    };
    let trials = 60;
    for n in 0..trials {
        trial(n, rng.below(span), &mut acknowledged, &mut killed);
    }
    // Both outcomes must have happened for the test to mean something, whatever the load.
    let mut n = trials;
    while killed == 0 && n < trials + 20 {
        trial(n, 0, &mut acknowledged, &mut killed);
        n += 1;
    }
    while acknowledged.len() < 2 && n < trials + 40 {
        trial(n, span * 4, &mut acknowledged, &mut killed);
        n += 1;
    }
    assert!(
        killed > 0 && acknowledged.len() > 1,
        "{killed} killed, {acknowledged:?}"
    );
    let server = ServerBuilder::smtp().start();
    env.point_to(server.port());
    let out = env.run(&["-q"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let d = deliveries(&server.finish());
    for n in &acknowledged {
        assert_eq!(
            d.get(&rcpt(*n)),
            Some(&1),
            "acknowledged message {n} lost: {d:?}"
        );
    }
    // Every message file left has its metadata (debris was cleaned up).
    let left: Vec<_> = std::fs::read_dir(env.queue())
        .expect("queue")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".msg"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    eprintln!(
        "enqueue crash test: {n} trials, {killed} killed mid-enqueue, {} acknowledged, 0 lost",
        acknowledged.len()
    );
}

#[test]
fn sigkill_during_flush_loses_nothing_and_duplicates_only_accepted_mail() {
    flush_crash_campaign(None, Duration::ZERO, 15_000);
}

/// The long crash campaign (issue 15): `POSTIE_FLUSH_KILLS` SIGKILLs (default 1,000) at random
/// moments (2 to 62 ms after the start) of `postie -q` against a slow server (every MAIL FROM
/// and end-of-data reply 3 ms late), the queue refilled whenever it runs empty. Run with
/// `cargo test --test queue -- --ignored --nocapture sigkill_during_flush_campaign`; figures
/// in docs/queue.md.
#[test]
#[ignore]
fn sigkill_during_flush_campaign_against_a_slow_server() {
    let kills = std::env::var("POSTIE_FLUSH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    flush_crash_campaign(Some(kills), Duration::from_millis(3), 60_000);
}

/// Queues messages, then kills `postie -q` at random moments (2 ms plus up to `spread_us`
/// after its start): until the queue is empty (at
/// most 20 s) when `kills` is `None`, else exactly `kills` times, queueing 40 more messages
/// whenever the queue runs empty. Afterwards a clean flush must deliver every message at least
/// once, and there are at most as many duplicates as kills (a duplicate needs a kill between
/// the server's 250 and the removal of the queue entry).
fn flush_crash_campaign(kills: Option<usize>, slow: Duration, spread_us: u64) {
    let env = Env::new(1);
    let batch = 40;
    let mut n_msgs = 0;
    let enqueue = |env: &Env, n_msgs: &mut usize| {
        for n in *n_msgs..*n_msgs + batch {
            let out = env.run(&["-odq", &rcpt(n)], &mail(n));
            assert_eq!(out.status.code(), Some(0));
        }
        *n_msgs += batch;
    };
    enqueue(&env, &mut n_msgs);
    let mut builder = ServerBuilder::smtp();
    if !slow.is_zero() {
        builder = builder
            .fault(Stage::Mail, support::server::Action::Slow(slow))
            .fault(Stage::EndOfData, support::server::Action::Slow(slow));
    }
    let server = builder.start();
    env.point_to(server.port());
    let mut rng = Rng::new();
    let mut done = 0;
    let start = Instant::now();
    loop {
        match kills {
            None if env.queued_ids().is_empty() || start.elapsed() >= Duration::from_secs(20) => {
                break;
            }
            Some(k) if done >= k => break,
            Some(_) if env.queued_ids().is_empty() => enqueue(&env, &mut n_msgs),
            _ => {}
        }
        let mut child = env.spawn(&["-q"], b"");
        std::thread::sleep(Duration::from_micros(2000 + rng.below(spread_us)));
        child.kill();
        let _ = child.wait();
        done += 1;
    }
    let elapsed = start.elapsed();
    let out = env.run(&["-q"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(env.queued_ids().is_empty());
    let sessions = server.finish();
    let d = deliveries(&sessions);
    let mut duplicates = 0;
    for n in 0..n_msgs {
        let c = d.get(&rcpt(n)).copied().unwrap_or(0);
        assert!(c >= 1, "message {n} lost: {d:?}");
        duplicates += c - 1;
    }
    assert!(
        duplicates <= done,
        "{duplicates} duplicates for {done} kills"
    );
    eprintln!(
        "flush crash test: {n_msgs} messages, {done} SIGKILLs in {:.1} s over {} connections, 0 lost, {duplicates} duplicate(s) (all after the server's 250)",
        elapsed.as_secs_f64(),
        sessions.len()
    );
}

/// `cargo test --release --test queue -- --ignored --nocapture bench`: flushing 1,000 queued
/// messages with `postie -q` against sending the same messages with one msmtp process each,
/// which is what msmtpq's flush does (msmtpq itself is not installed here; its shell loop only
/// adds to msmtp's time, so the ratio is a lower bound of postie's advantage).
#[test]
#[ignore]
fn bench_flush_1000_against_one_msmtp_per_message() {
    let n = 1000;
    // No PIPELINING: the test server waits 150 ms per MAIL to detect it.
    let server = ServerBuilder::smtp().start();
    let env = Env::new(server.port());
    for i in 0..n {
        let out = env.run(&["-odq", &rcpt(i)], &mail(i));
        assert_eq!(out.status.code(), Some(0));
    }
    let t = Instant::now();
    let out = env.run(&["-q"], b"");
    let postie = t.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let d = deliveries(&server.finish());
    assert_eq!(d.len(), n);

    let server = ServerBuilder::smtp().start();
    let msmtprc = env.home().join("msmtprc");
    std::fs::write(
        &msmtprc,
        format!(
            "account default\nhost 127.0.0.1\nport {}\nfrom s@x.org\n",
            server.port()
        ),
    )
    .expect("msmtprc");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&msmtprc, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let t = Instant::now();
    for i in 0..n {
        let mut c = Command::new("/usr/bin/msmtp");
        c.env_clear()
            .env("HOME", env.home())
            .arg("-C")
            .arg(&msmtprc)
            .arg(rcpt(i))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = c.spawn().expect("msmtp");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&mail(i))
            .expect("write");
        assert!(child.wait().expect("wait").success());
    }
    let msmtp = t.elapsed();
    assert_eq!(deliveries(&server.finish()).len(), n);
    eprintln!(
        "bench: {n} messages: postie -q {:.2}s, one msmtp per message {:.2}s, ratio {:.1}x",
        postie.as_secs_f64(),
        msmtp.as_secs_f64(),
        msmtp.as_secs_f64() / postie.as_secs_f64()
    );
}

#[test]
fn queue_show_redacts_a_command_line_passwordeval() {
    let env = Env::new(1);
    let out = env.run(
        &["-odq", "--passwordeval=echo SECRETPW", &rcpt(1)],
        &mail(1),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let id = env.queued_ids()[0].clone();
    let show = env.queue_cmd(&["show", &id]);
    assert_eq!(show.status.code(), Some(0), "{}", text(&show.stderr));
    let shown = text(&show.stdout);
    assert!(!shown.contains("SECRETPW"), "{shown}");
    assert!(
        shown.contains("passwordeval") && shown.contains("(redacted)"),
        "{shown}"
    );
    // Still stored (0600): the flush needs it to select the account again.
    assert!(meta_of(&env.queue(), &id).contains("echo SECRETPW"));
}

#[test]
fn a_queue_dir_writable_by_others_is_refused_with_exit_78() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new(1);
    std::fs::create_dir(env.queue()).expect("mkdir");
    std::fs::set_permissions(env.queue(), std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    let out = env.run(&["-odq", &rcpt(1)], &mail(1));
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("writable by group or others"),
        "{}",
        text(&out.stderr)
    );
    assert!(env.queued_ids().is_empty());
    for args in [&["-q"][..], &["-bp"][..]] {
        let out = env.run(args, b"");
        assert_eq!(
            out.status.code(),
            Some(78),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_planted_metadata_file_is_ignored_and_reported() {
    use std::os::unix::fs::PermissionsExt;
    let server = ServerBuilder::smtp().start();
    let env = Env::new(server.port());
    env.run(&["-odq", &rcpt(1)], &mail(1));
    let id = env.queued_ids()[0].clone();
    let p = env.queue().join(format!("{id}.toml"));
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let out = env.run(&["-q"], b"");
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("ignoring queue file"),
        "{}",
        text(&out.stderr)
    );
    assert!(deliveries(&server.finish()).is_empty(), "nothing sent");
    assert_eq!(env.queued_ids(), vec![id]);
}

#[test]
fn flush_sends_smtputf8_only_when_offered_and_needed() {
    let server = ServerBuilder::smtp().cap("SMTPUTF8").start();
    let env = Env::new(server.port());
    env.run(&["-odq", "j\u{f6}rg@x.org"], &mail(1));
    assert_eq!(env.run(&["-q"], b"").status.code(), Some(0));
    let sessions = server.finish();
    let mail_from = sessions[0].mail_from.clone().unwrap_or_default();
    assert!(mail_from.ends_with(" SMTPUTF8"), "{mail_from}");

    let server = ServerBuilder::smtp().cap("SMTPUTF8").start();
    env.point_to(server.port());
    env.run(&["-odq", &rcpt(2)], &mail(2));
    assert_eq!(env.run(&["-q"], b"").status.code(), Some(0));
    let sessions = server.finish();
    let mail_from = sessions[0].mail_from.clone().unwrap_or_default();
    assert!(!mail_from.contains("SMTPUTF8"), "ASCII only: {mail_from}");
}

#[test]
fn queue_help_prints_the_usage_and_unknown_verbs_point_to_it() {
    let env = Env::new(1);
    for args in [
        &["--help"][..],
        &["help"][..],
        &["-h"][..],
        &["-v", "--help"][..],
    ] {
        let out = env.queue_cmd(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stderr), "", "{args:?}");
        let usage = text(&out.stdout);
        for verb in [
            "list",
            "flush",
            "show ID",
            "hold ID",
            "release ID",
            "delete ID",
        ] {
            assert!(usage.contains(verb), "{args:?} lacks {verb}: {usage}");
        }
        for opt in ["--queue-dir", "--due", "--max-age", "--no-send", "-C", "-a"] {
            assert!(usage.contains(opt), "{args:?} lacks {opt}: {usage}");
        }
    }
    let out = env.queue_cmd(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(64));
    let err = text(&out.stderr);
    assert!(err.contains("unknown queue command frobnicate"), "{err}");
    assert!(err.contains("postie queue --help"), "{err}");
    assert_eq!(text(&out.stdout), "");
    let out = env.queue_cmd(&["--frob"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("postie queue --help"));
    let out = env.queue_cmd(&["show"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("postie queue --help"));
}

#[test]
fn a_listing_into_a_closed_pipe_ends_quietly() {
    let env = Env::new(1);
    for n in 0..3 {
        let out = env.run(&["-odq", &rcpt(n)], &mail(n));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let id = env.queued_ids()[0].clone();
    // Stdout is a pipe whose reader is already closed (`postie -bp | head -0`).
    let closed = Options::default().closed_stdout();
    let queue = |args: &[&str]| env.queue_with(args, &closed);
    for (name, out) in [
        ("-bp", env.run_with(&["-bp"], b"", &closed)),
        ("mailq", env.mailq(&closed)),
        ("queue list", queue(&["list"])),
        ("queue show", queue(&["show", &id])),
        ("queue (default list)", queue(&[])),
    ] {
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        assert_eq!(text(&out.stderr), "", "{name}");
    }
    // A verbose flush whose progress output nobody reads still delivers (no panic).
    let server = ServerBuilder::smtp().start();
    env.point_to(server.port());
    let out = env.run_with(&["-q", "-v"], b"", &closed);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(env.queued_ids().is_empty());
    assert_eq!(deliveries(&server.finish()).len(), 3);
}

fn msg_path(env: &Env, id: &str) -> PathBuf {
    env.queue().join(format!("{id}.msg"))
}

fn log_text(env: &Env) -> String {
    std::fs::read_to_string(env.home().join("log")).unwrap_or_default()
}

/// Recipients the server saw a RCPT TO for, in any session.
fn rcpts_seen(sessions: &[Session]) -> Vec<String> {
    sessions
        .iter()
        .flat_map(|s| s.transcript.iter())
        .filter_map(|l| match l {
            Line::Client(t) if t.to_ascii_uppercase().starts_with("RCPT TO:<") => {
                t[9..].split('>').next().map(str::to_owned)
            }
            _ => None,
        })
        .collect()
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: mkfifo reads the NUL-terminated path, which outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

#[test]
fn truncated_emptied_or_changed_messages_are_set_aside_never_sent() {
    let server = ServerBuilder::smtp().start();
    let env = Env::new(server.port());
    for n in 0..4 {
        let out = env.run(&["-odq", &rcpt(n)], &mail(n));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let ids = env.queued_ids();
    let len = std::fs::metadata(msg_path(&env, &ids[0]))
        .expect("md")
        .len();
    let open = |id: &str| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(msg_path(&env, id))
            .expect("open")
    };
    open(&ids[0]).set_len(len / 2).expect("truncate");
    open(&ids[1]).set_len(0).expect("empty");
    // Same size, other content: only the checksum can tell.
    let changed =
        text(&std::fs::read(msg_path(&env, &ids[2])).expect("read")).replace("body", "BODY");
    std::fs::write(msg_path(&env, &ids[2]), changed).expect("write");
    let out = env.run(&["-q"], b"");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(74), "{err}");
    for id in &ids[..3] {
        assert!(
            err.contains(&format!("queued message {id} is damaged")),
            "{err}"
        );
        assert!(env.failed_ids().contains(id), "{id} set aside");
        assert!(
            env.queue()
                .join("failed")
                .join(format!("{id}.msg"))
                .exists()
        );
    }
    assert!(err.contains("SHA-256"), "{err}");
    let sessions = server.finish();
    // Nothing of a damaged message reached the server, not even its envelope.
    assert_eq!(rcpts_seen(&sessions), vec![rcpt(3)]);
    assert_eq!(deliveries(&sessions).get(&rcpt(3)), Some(&1));
    assert!(env.queued_ids().is_empty());
    let log = log_text(&env);
    assert_eq!(log.matches("exitcode=EX_IOERR").count(), 3, "{log}");
    assert!(log.contains("damaged"), "{log}");
}

#[test]
fn metadata_without_a_checksum_from_an_older_postie_is_size_checked_then_sent() {
    let server = ServerBuilder::smtp().start();
    let env = Env::new(server.port());
    for n in 0..2 {
        env.run(&["-odq", &rcpt(n)], &mail(n));
    }
    let ids = env.queued_ids();
    for id in &ids {
        let meta = meta_of(&env.queue(), id);
        assert!(meta.contains("sha256 = "), "{meta}");
        let old: String = meta
            .lines()
            .filter(|l| !l.starts_with("sha256 = "))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(env.queue().join(format!("{id}.toml")), old).expect("write");
    }
    // The size is still recorded by older versions, so truncation is still caught.
    let len = std::fs::metadata(msg_path(&env, &ids[1]))
        .expect("md")
        .len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(msg_path(&env, &ids[1]))
        .expect("open")
        .set_len(len - 3)
        .expect("truncate");
    let out = env.run(&["-q", "-v"], b"");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(74), "{err}");
    assert!(
        err.contains(&format!("queued message {} has no checksum", ids[0])),
        "{err}"
    );
    assert!(
        err.contains(&format!("queued message {} is damaged", ids[1])),
        "{err}"
    );
    let sessions = server.finish();
    assert_eq!(rcpts_seen(&sessions), vec![rcpt(0)]);
    assert_eq!(deliveries(&sessions).get(&rcpt(0)), Some(&1));
}

#[test]
fn a_deleted_message_file_is_reported_and_its_metadata_kept() {
    let server = ServerBuilder::smtp().start();
    let env = Env::new(server.port());
    env.run(&["-odq", &rcpt(1)], &mail(1));
    let id = env.queued_ids()[0].clone();
    std::fs::remove_file(msg_path(&env, &id)).expect("rm");
    let out = env.run(&["-bp"], b"");
    assert_eq!(out.status.code(), Some(74), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("damaged"),
        "{}",
        text(&out.stdout)
    );
    let out = env.run(&["-q"], b"");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(74), "{err}");
    assert!(
        err.contains(&format!("queued message {id} is damaged")),
        "{err}"
    );
    assert!(err.contains("missing"), "{err}");
    assert!(env.queued_ids().is_empty());
    assert_eq!(env.failed_ids(), vec![id.clone()], "metadata kept aside");
    let log = log_text(&env);
    assert!(
        log.contains("exitcode=EX_IOERR") && log.contains("missing"),
        "{log}"
    );
    assert!(server.finish().is_empty(), "nothing to send, no connection");
    // Reported once: the next flush has nothing to say.
    let out = env.run(&["-q"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn fifos_and_oversized_metadata_in_the_queue_never_block_and_are_set_aside() {
    let server = ServerBuilder::smtp().start();
    let env = Env::new(server.port());
    for n in 0..4 {
        env.run(&["-odq", &rcpt(n)], &mail(n));
    }
    let ids = env.queued_ids();
    // ids[0]: its message file is a FIFO.
    std::fs::remove_file(msg_path(&env, &ids[0])).expect("rm");
    mkfifo(&msg_path(&env, &ids[0]));
    // ids[1]: its metadata file is a FIFO.
    let toml1 = env.queue().join(format!("{}.toml", ids[1]));
    std::fs::remove_file(&toml1).expect("rm");
    mkfifo(&toml1);
    // ids[2]: valid metadata padded past 1 MiB.
    let toml2 = env.queue().join(format!("{}.toml", ids[2]));
    let padded = format!(
        "{}# {}\n",
        meta_of(&env.queue(), &ids[2]),
        "x".repeat(2 << 20)
    );
    std::fs::write(&toml2, padded).expect("write");
    // A FIFO message file without metadata.
    let orphan = env.queue().join("00000000000000-1.msg");
    mkfifo(&orphan);

    let out = env
        .spawn(&["-bp"], b"")
        .wait_within(Duration::from_secs(10), "-bp");
    assert_eq!(out.status.code(), Some(74), "{}", text(&out.stderr));
    let out = env
        .spawn(&["-q"], b"")
        .wait_within(Duration::from_secs(10), "-q");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(74), "{err}");
    for id in &ids[..3] {
        assert!(
            err.contains(&format!("queued message {id} is damaged")),
            "{err}"
        );
        assert!(env.failed_ids().contains(id), "{id} set aside: {err}");
    }
    assert!(err.contains("FIFO"), "{err}");
    assert!(err.contains("1 MiB"), "{err}");
    assert!(err.contains("00000000000000-1.msg"), "{err}");
    assert!(!orphan.exists(), "the orphan FIFO is set aside too");
    assert!(env.queued_ids().is_empty());
    let sessions = server.finish();
    assert_eq!(rcpts_seen(&sessions), vec![rcpt(3)]);
    // Once set aside, the queue is clean again.
    let out = env
        .spawn(&["-q"], b"")
        .wait_within(Duration::from_secs(10), "-q");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// Everything about a directory tree that a dry run must leave alone: names, types, modes,
/// sizes, modification times and contents.
fn snapshot(dir: &Path) -> Vec<(PathBuf, u32, u64, i64, i64, Vec<u8>)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let md = std::fs::symlink_metadata(&p).expect("lstat");
            let content = if md.is_file() {
                std::fs::read(&p).expect("read")
            } else {
                Vec::new()
            };
            if md.is_dir() {
                todo.push(p.clone());
            }
            out.push((
                p,
                md.mode(),
                md.size(),
                md.mtime(),
                md.mtime_nsec(),
                content,
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn dry_run_flushes_send_nothing_run_no_helper_and_change_nothing() {
    let server = ServerBuilder::smtp().auth("PLAIN").start();
    let env = Env::new(server.port());
    let marker = env.home().join("passwordeval-ran");
    env.point_to_with(
        server.port(),
        &format!(
            "auth plain\nuser u\npasswordeval touch {}; echo pw\n",
            marker.display()
        ),
    );
    for n in 0..3 {
        let out = env.run(&["-odq", &rcpt(n)], &mail(n));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let ids = env.queued_ids();
    assert_eq!(env.queue_cmd(&["hold", &ids[2]]).status.code(), Some(0));
    // Crash debris a real flush would remove.
    std::fs::write(env.queue().join("00000000000000-1.msg"), "debris").expect("write");
    let before = snapshot(&env.queue());
    let queue = |args: &[&str]| env.queue_cmd(args);
    let runs: Vec<(&str, Run)> = vec![
        ("-q --no-send", env.run(&["-q", "--no-send"], b"")),
        ("--no-send -q", env.run(&["--no-send", "-q"], b"")),
        ("-P -q", env.run(&["-P", "-q"], b"")),
        ("-q -P -v", env.run(&["-q", "-P", "-v"], b"")),
        ("-q30m --pretend", env.run(&["-q30m", "--pretend"], b"")),
        ("queue flush --no-send", queue(&["flush", "--no-send"])),
        ("queue --no-send flush", queue(&["--no-send", "flush"])),
        ("queue flush -P", queue(&["flush", "-P"])),
        (
            "queue flush --due --no-send",
            queue(&["flush", "--due", "--no-send"]),
        ),
    ];
    for (what, out) in &runs {
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{what}: {}", text(&out.stderr));
        assert_eq!(text(&out.stderr), "", "{what}");
        for id in &ids[..2] {
            assert!(
                stdout.contains(&format!("queued message {id}: would be sent")),
                "{what}: {stdout}"
            );
        }
        assert!(
            stdout.contains(&format!("queued message {}: held", ids[2])),
            "{what}: {stdout}"
        );
        assert!(
            stdout.contains("account: default (from "),
            "{what}: {stdout}"
        );
        assert!(
            stdout.contains(&format!("server: 127.0.0.1 port {}", server.port())),
            "{what}: {stdout}"
        );
        assert!(stdout.contains("MAIL FROM:<s@x.org>"), "{what}: {stdout}");
        assert!(
            stdout.contains(&format!("RCPT TO:<{}>", rcpt(1))),
            "{what}: {stdout}"
        );
        assert!(stdout.contains("not run in a dry run"), "{what}: {stdout}");
        assert!(stdout.contains("nothing was sent"), "{what}: {stdout}");
    }
    assert!(!marker.exists(), "passwordeval ran");
    assert_eq!(snapshot(&env.queue()), before, "the queue changed");
    assert!(!env.home().join("log").exists(), "a log line was written");
    assert!(server.finish().is_empty(), "a dry run connected");
}

#[test]
fn q_with_odq_is_refused_and_dry_run_only_applies_to_flush() {
    let server = ServerBuilder::smtp().start();
    let env = Env::new(server.port());
    env.run(&["-odq", &rcpt(1)], &mail(1));
    let id = env.queued_ids()[0].clone();
    for args in [
        &["-q", "-odq"][..],
        &["-odq", "-q"][..],
        &["-q", "-o", "dq"][..],
    ] {
        let out = env.run(args, b"");
        assert_eq!(
            out.status.code(),
            Some(64),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stderr).contains("-odq"), "{}", text(&out.stderr));
    }
    for verb in ["delete", "hold", "release"] {
        let out = env.queue_cmd(&[verb, &id, "--no-send"]);
        assert_eq!(out.status.code(), Some(64), "{verb}: {}", text(&out.stderr));
    }
    // Listing is read-only anyway: -P and --no-send change nothing about it.
    for args in [
        &["-bp", "--no-send"][..],
        &["-P", "-bp"][..],
        &["-bp", "-odq"][..],
    ] {
        let out = env.run(args, b"");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stdout).contains(&id), "{args:?}");
    }
    assert_eq!(env.queued_ids(), vec![id]);
    assert!(server.finish().is_empty());
}

#[test]
fn dry_run_reports_damaged_entries_and_the_due_schedule_without_touching_them() {
    let server = ServerBuilder::smtp().start();
    let env = Env::new(server.port());
    for n in 0..2 {
        env.run(&["-odq", &rcpt(n)], &mail(n));
    }
    let ids = env.queued_ids();
    std::fs::remove_file(msg_path(&env, &ids[0])).expect("rm");
    let before = snapshot(&env.queue());
    let out = env.run(&["-q", "--no-send"], b"");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(74), "{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("queued message {} is damaged", ids[0])),
        "{stdout}"
    );
    assert!(stdout.contains("would be set aside"), "{stdout}");
    assert!(stdout.contains(&format!("queued message {}: would be sent", ids[1])));
    assert_eq!(snapshot(&env.queue()), before);
    // A deferred message is not due yet: `flush --due` would skip it, `-q` would not.
    std::fs::write(msg_path(&env, &ids[0]), "x").expect("write");
    env.queue_cmd(&["delete", &ids[0]]);
    let down = ServerBuilder::smtp().no_listen().start();
    env.point_to(down.port());
    assert_eq!(env.run(&["-q"], b"").status.code(), Some(0));
    let out = env.queue_cmd(&["flush", "--due", "--no-send"]);
    assert!(
        text(&out.stdout).contains("not due before"),
        "{}",
        text(&out.stdout)
    );
    let out = env.run(&["-q", "--no-send"], b"");
    assert!(
        text(&out.stdout).contains("would be sent"),
        "{}",
        text(&out.stdout)
    );
    assert!(server.finish().is_empty());
}

/// Queue metadata is state on disk that someone else may have written: an envelope sender
/// edited to carry ESMTP parameters must never reach the server, however the entry got there.
#[test]
fn an_injected_envelope_in_queue_metadata_is_never_sent() {
    let server = ServerBuilder::smtp().dsn().start();
    let env = Env::new(server.port());
    let out = env.run(&["-odq", &rcpt(1)], &mail(1));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let id = env.queued_ids().remove(0);
    let p = env.queue().join(format!("{id}.toml"));
    let edited = meta_of(&env.queue(), &id).replace(
        "from = \"s@x.org\"",
        "from = \"s@x.org> RET=FULL ENVID=inj <x\"",
    );
    assert!(edited.contains("ENVID=inj"), "{edited}");
    std::fs::write(&p, edited).expect("write metadata");
    let out = env.run(&["-q"], b"");
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("invalid envelope-from address"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        env.queued_ids().is_empty() && env.failed_ids().contains(&id),
        "set aside: {:?} {:?}\n{}",
        env.queued_ids(),
        env.failed_ids(),
        text(&out.stderr)
    );
    assert!(server.finish().is_empty(), "not even a connection");
}
