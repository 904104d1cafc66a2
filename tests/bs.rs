//! `postie -bs`: an SMTP dialogue on postie's stdin and stdout, relayed to the recording test
//! server. Each test talks to a running postie through pipes, the way Symfony Mailer does,
//! with a deadline on every reply.

mod support;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use support::program::{Home, Options, POSTIE};
use support::server::{Line, ServerBuilder, Session, Stage};

/// How long one reply may take.
const REPLY_LIMIT: Duration = Duration::from_secs(20);

/// An account on the test server at `port`, logging to HOME/log.
fn rc(port: u16, extra: &str) -> String {
    format!(
        "defaults\nlogfile ~/log\n\naccount default\nhost 127.0.0.1\nport {port}\n\
         from default@example.com\n{extra}\n"
    )
}

/// A running `postie -bs`.
struct Bs {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Vec<u8>>,
    stderr: std::thread::JoinHandle<Vec<u8>>,
    /// Everything read from stdout, for messages.
    seen: String,
}

/// One reply: its code and its lines as received (without CRLF).
#[derive(Debug)]
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Bs {
    fn start(home: &Home, args: &[&str]) -> Bs {
        Bs::start_with(home, args, &Options::default())
    }

    /// Under `ulimit -v` (KiB) of address space.
    fn start_limited(home: &Home, kib: u32, args: &[&str]) -> Bs {
        let script = format!("ulimit -v {kib}; exec \"$0\" \"$@\"");
        let mut full = vec!["-c", script.as_str(), POSTIE];
        full.extend_from_slice(args);
        Bs::start_with(home, &full, &Options::default().program("/bin/sh"))
    }

    fn start_with(home: &Home, args: &[&str], o: &Options<'_>) -> Bs {
        let mut child = home.command(args, o).spawn().expect("spawn postie -bs");
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            loop {
                match stdout.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
                while let Some(i) = buf.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=i).collect();
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = stderr.read_to_end(&mut v);
            v
        });
        Bs {
            child,
            stdin,
            lines,
            stderr,
            seen: String::new(),
        }
    }

    /// Writes raw bytes; `false` when postie no longer reads.
    fn write(&mut self, bytes: &[u8]) -> bool {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).and_then(|()| stdin.flush()).is_ok()
    }

    fn send(&mut self, line: &str) {
        assert!(
            self.write(format!("{line}\r\n").as_bytes()),
            "postie stopped reading"
        );
    }

    /// The next reply; every line must end in CRLF.
    fn reply(&mut self) -> Reply {
        let deadline = Instant::now() + REPLY_LIMIT;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let raw = match self.lines.recv_timeout(left) {
                Ok(l) => l,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no reply within {REPLY_LIMIT:?}; so far:\n{}", self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("postie closed stdout; so far:\n{}", self.seen)
                }
            };
            let text = String::from_utf8(raw).expect("utf-8 reply");
            self.seen.push_str(&text);
            let line = text
                .strip_suffix("\r\n")
                .unwrap_or_else(|| panic!("no CRLF: {text:?}"));
            assert!(line.len() >= 4, "short reply line {line:?}");
            let last = line.as_bytes()[3] == b' ';
            lines.push(line.to_owned());
            if last {
                let code = line[..3].parse().expect("code");
                return Reply { code, lines };
            }
        }
    }

    /// Sends `line` and checks the code of its reply.
    fn cmd(&mut self, line: &str, code: u16) -> Reply {
        self.send(line);
        self.expect(code)
    }

    fn expect(&mut self, code: u16) -> Reply {
        let r = self.reply();
        assert_eq!(r.code, code, "{r:?}; so far:\n{}", self.seen);
        r
    }

    /// Closes stdin and waits for the end: exit code, the rest of stdout, stderr.
    fn finish(mut self) -> (i32, String, String) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("postie -bs did not end; so far:\n{}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut rest = String::new();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(5)) {
            rest.push_str(&String::from_utf8_lossy(&l));
        }
        let stderr = String::from_utf8_lossy(&self.stderr.join().expect("stderr")).into_owned();
        (status.code().unwrap_or(-1), rest, stderr)
    }

    /// Greeting and EHLO.
    fn hello(&mut self) {
        let g = self.expect(220);
        assert!(g.lines[0].contains("ESMTP postie"), "{g:?}");
        self.cmd("EHLO client.example", 250);
    }
}

fn sessions(server: support::server::RunningServer) -> Vec<Session> {
    server.finish()
}

fn one_session(server: support::server::RunningServer) -> Session {
    let mut s = sessions(server);
    assert_eq!(s.len(), 1, "sessions: {s:?}");
    s.remove(0)
}

fn data_text(s: &Session) -> String {
    String::from_utf8_lossy(s.data.as_deref().unwrap_or_default()).into_owned()
}

/// The client lines of a session's transcript.
fn client_lines(s: &Session) -> Vec<String> {
    s.transcript
        .iter()
        .filter_map(|l| match l {
            Line::Client(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

fn log(home: &Home) -> String {
    std::fs::read_to_string(home.path().join("log")).unwrap_or_default()
}

fn queue_dir(home: &Home) -> PathBuf {
    home.path().join("q")
}

fn queued_ids(home: &Home) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(queue_dir(home)) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".toml"))
                .map(str::to_owned)
        })
        .collect();
    ids.sort();
    ids
}

fn tmp_files(home: &Home) -> usize {
    std::fs::read_dir(queue_dir(home).join("tmp")).map_or(0, |rd| rd.count())
}

#[test]
fn a_message_is_relayed_with_the_header_rules_and_the_upstream_reply() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc(server.port(), ""));
    let mut bs = Bs::start(&home, &["-bs"]);
    bs.expect(220);
    let ehlo = bs.cmd("EHLO client.example", 250);
    let caps: Vec<&str> = ehlo.lines[1..].iter().map(|l| &l[4..]).collect();
    assert_eq!(caps, ["PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8"]);
    bs.cmd("MAIL FROM:<sender@example.com>", 250);
    bs.cmd("RCPT TO:<to@example.org>", 250);
    bs.cmd("RCPT TO:<hidden@example.org>", 250);
    bs.cmd("DATA", 354);
    bs.write(
        b"From: Sender <sender@example.com>\r\nTo: to@example.org\r\nBcc: hidden@example.org\r\n\
          Subject: relayed\r\n\r\nfirst line\r\n..leading dot\r\n.\r\n",
    );
    let done = bs.expect(250);
    assert_eq!(done.lines, ["250 2.0.0 Ok: queued as ABC123"]);
    bs.cmd("QUIT", 221);
    let (code, rest, stderr) = bs.finish();
    assert_eq!((code, rest.as_str(), stderr.as_str()), (0, "", ""));
    let s = one_session(server);
    assert_eq!(s.mail_from.as_deref(), Some("<sender@example.com>"));
    assert_eq!(s.rcpts, ["<to@example.org>", "<hidden@example.org>"]);
    assert!(s.data_complete && s.quit);
    let d = data_text(&s);
    assert!(!d.contains("Bcc"), "{d}");
    assert!(d.contains("\r\nDate: ") || d.starts_with("Date: "), "{d}");
    assert!(d.contains("Message-ID: <"), "{d}");
    assert!(d.contains("From: Sender <sender@example.com>\r\n"), "{d}");
    assert!(
        d.ends_with("\r\n\r\nfirst line\r\n..leading dot\r\n"),
        "{d:?}"
    );
    let l = log(&home);
    assert!(
        l.contains(
            "from=sender@example.com recipients=to@example.org,hidden@example.org mailsize="
        ) && l.contains("smtpstatus=250")
            && l.contains("exitcode=EX_OK"),
        "{l}"
    );
}

#[test]
fn pipelined_commands_get_their_replies_in_order() {
    let server = ServerBuilder::smtp()
        .reply(Stage::Rcpt(2), "550 5.1.1 <b@x.org>: no such user")
        .start();
    let home = Home::new(&rc(server.port(), ""));
    let mut bs = Bs::start(&home, &["-bs", "-i"]);
    bs.expect(220);
    bs.write(b"EHLO c\r\nMAIL FROM:<s@example.com>\r\nRCPT TO:<a@x.org>\r\nRCPT TO:<b@x.org>\r\nDATA\r\n");
    bs.expect(250);
    bs.expect(250);
    bs.expect(250);
    let refused = bs.expect(550);
    assert_eq!(refused.lines, ["550 5.1.1 <b@x.org>: no such user"]);
    bs.expect(354);
    bs.write(b"Subject: p\r\n\r\nbody\r\n.\r\nQUIT\r\n");
    bs.expect(250);
    bs.expect(221);
    assert_eq!(bs.finish().0, 0);
    let s = one_session(server);
    assert_eq!(s.rcpts, ["<a@x.org>", "<b@x.org>"]);
    assert!(s.data_complete);
}

#[test]
fn upstream_refusals_of_each_recipient_are_relayed_as_they_came() {
    let server = ServerBuilder::smtp()
        .reply(
            Stage::Rcpt(2),
            "550-5.1.1 <gone@x.org>: Recipient address rejected:\n550 5.1.1 User unknown",
        )
        .reply(
            Stage::Rcpt(3),
            "451 4.7.1 <grey@x.org>: Recipient address rejected: greylisted",
        )
        .start();
    let home = Home::new(&rc(server.port(), ""));
    let mut bs = Bs::start(&home, &["-bs"]);
    bs.hello();
    bs.cmd("MAIL FROM:<s@example.com>", 250);
    bs.cmd("RCPT TO:<ok@x.org>", 250);
    let r = bs.cmd("RCPT TO:<gone@x.org>", 550);
    assert_eq!(
        r.lines,
        [
            "550-5.1.1 <gone@x.org>: Recipient address rejected:",
            "550 5.1.1 User unknown"
        ]
    );
    let r = bs.cmd("RCPT TO:<grey@x.org>", 451);
    assert_eq!(
        r.lines,
        ["451 4.7.1 <grey@x.org>: Recipient address rejected: greylisted"]
    );
    bs.cmd("DATA", 354);
    bs.write(b"Subject: x\r\n\r\nx\r\n.\r\n");
    bs.expect(250);
    bs.cmd("QUIT", 221);
    assert_eq!(bs.finish().0, 0);
    let s = one_session(server);
    assert!(s.data_complete);
    // The log names the recipients that got the message.
    let l = log(&home);
    assert!(l.contains("recipients=ok@x.org mailsize="), "{l}");
}

#[test]
fn refusals_of_sender_and_message_are_relayed() {
    let server = ServerBuilder::smtp()
        .reply(
            Stage::Mail,
            "553 5.7.1 <s@example.com>: Sender address rejected: not owned by user",
        )
        .start();
    let home = Home::new(&rc(server.port(), ""));
    let mut bs = Bs::start(&home, &["-bs"]);
    bs.hello();
    let r = bs.cmd("MAIL FROM:<s@example.com>", 553);
    assert!(r.lines[0].contains("not owned by user"));
    bs.cmd("RCPT TO:<r@x.org>", 503);
    bs.cmd("QUIT", 221);
    assert_eq!(bs.finish().0, 0);
    drop(server);
    let l = log(&home);
    assert!(
        l.contains("smtpstatus=553")
            && l.contains(
                "errormsg='envelope from address s@example.com not accepted by the server'"
            )
            && l.contains("exitcode=EX_DATAERR"),
        "{l}"
    );

    let server = ServerBuilder::smtp()
        .eod_reply("554 5.7.1 spam detected")
        .start();
    let home = Home::new(&rc(server.port(), ""));
    let mut bs = Bs::start(&home, &["-bs"]);
    bs.hello();
    bs.cmd("MAIL FROM:<s@example.com>", 250);
    bs.cmd("RCPT TO:<r@x.org>", 250);
    bs.cmd("DATA", 354);
    bs.write(b"Subject: x\r\n\r\nbuy\r\n.\r\n");
    let r = bs.expect(554);
    assert_eq!(r.lines, ["554 5.7.1 spam detected"]);
    bs.cmd("QUIT", 221);
    assert_eq!(bs.finish().0, 0);
    let l = log(&home);
    assert!(
        l.contains("smtpstatus=554") && l.contains("exitcode=EX_UNAVAILABLE"),
        "{l}"
    );
}

#[test]
fn transactions_share_one_upstream_session_and_rset_abandons_one() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc(server.port(), ""));
    let mut bs = Bs::start(&home, &["-bs"]);
    bs.hello();
    for i in 0..3 {
        bs.cmd(&format!("MAIL FROM:<s{i}@example.com>"), 250);
        bs.cmd(&format!("RCPT TO:<r{i}@x.org>"), 250);
        if i == 1 {
            bs.cmd("RSET", 250);
            continue;
        }
        bs.cmd("DATA", 354);
        bs.write(format!("Subject: m{i}\r\n\r\nmessage {i}\r\n.\r\n").as_bytes());
        bs.expect(250);
    }
    bs.cmd("NOOP", 250);
    bs.cmd("VRFY someone", 252);
    bs.cmd("QUIT", 221);
    assert_eq!(bs.finish().0, 0);
    let s = one_session(server);
    let c = client_lines(&s);
    let mails: Vec<&String> = c.iter().filter(|l| l.starts_with("MAIL FROM")).collect();
    assert_eq!(
        mails,
        [
            "MAIL FROM:<s0@example.com>",
            "MAIL FROM:<s1@example.com>",
            "MAIL FROM:<s2@example.com>"
        ]
    );
    assert_eq!(c.iter().filter(|l| *l == "DATA").count(), 2, "{c:?}");
    // RSET before each MAIL after the first.
    assert_eq!(c.iter().filter(|l| *l == "RSET").count(), 2, "{c:?}");
    assert!(data_text(&s).contains("message 2"));
    assert!(s.quit);
    assert_eq!(log(&home).lines().count(), 2);
}

#[test]
fn the_account_is_chosen_by_the_mail_from_address() {
    let first = ServerBuilder::smtp().start();
    let second = ServerBuilder::smtp().start();
    let rcfile = format!(
        "defaults\nlogfile ~/log\n\naccount default\nhost 127.0.0.1\nport {}\nfrom default@example.com\n\n\
         account work\nhost 127.0.0.1\nport {}\nfrom *@work.example\n",
        first.port(),
        second.port()
    );
    let home = Home::new(&rcfile);
    let mut bs = Bs::start(&home, &["-bs"]);
    bs.hello();
    for from in [
        "me@work.example",
        "other@example.com",
        "",
        "you@work.example",
    ] {
        bs.cmd(&format!("MAIL FROM:<{from}>"), 250);
        bs.cmd("RCPT TO:<r@x.org>", 250);
        bs.cmd("DATA", 354);
        bs.write(b"Subject: s\r\n\r\nb\r\n.\r\n");
        bs.expect(250);
    }
    bs.cmd("QUIT", 221);
    assert_eq!(bs.finish().0, 0);
    let mails = |s: Vec<Session>| -> Vec<String> {
        s.iter()
            .flat_map(|s| {
                client_lines(s)
                    .into_iter()
                    .filter(|l| l.starts_with("MAIL"))
            })
            .collect()
    };
    // The default account served two transactions in two sessions (the work account's
    // session came in between).
    assert_eq!(
        mails(sessions(first)),
        ["MAIL FROM:<other@example.com>", "MAIL FROM:<>"]
    );
    assert_eq!(
        mails(sessions(second)),
        [
            "MAIL FROM:<me@work.example>",
            "MAIL FROM:<you@work.example>"
        ]
    );

    // -a wins; allow_from_override off keeps the account's own sender.
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&format!(
        "account default\nhost 127.0.0.1\nport 1\nfrom d@example.com\n\n\
         account fixed\nhost 127.0.0.1\nport {}\nfrom fixed@example.com\nallow_from_override off\n",
        server.port()
    ));
    let mut bs = Bs::start(&home, &["-bs", "-a", "fixed"]);
    bs.hello();
    bs.cmd("MAIL FROM:<app@example.com>", 250);
    bs.cmd("QUIT", 221);
    assert_eq!(bs.finish().0, 0);
    assert_eq!(
        one_session(server).mail_from.as_deref(),
        Some("<fixed@example.com>")
    );
}

#[test]
fn a_caller_gone_in_the_middle_of_the_data_gets_nothing_sent() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc(server.port(), ""));
    let mut bs = Bs::start(&home, &["-bs"]);
    bs.hello();
    bs.cmd("MAIL FROM:<s@example.com>", 250);
    bs.cmd("RCPT TO:<r@x.org>", 250);
    bs.cmd("DATA", 354);
    let mut part = b"Subject: cut\r\n\r\n".to_vec();
    part.extend(std::iter::repeat_n(b'z', 200_000));
    part.extend_from_slice(b"\r\nlast line without the dot\r\n");
    bs.write(&part);
    let (code, rest, stderr) = bs.finish();
    assert_eq!(code, 74, "{stderr}");
    assert_eq!(rest, "");
    assert!(
        stderr.contains("in the middle of the mail data"),
        "{stderr}"
    );
    let s = one_session(server);
    assert!(!s.data_complete, "{}", s.transcript_text());
    assert!(!s.quit);

    // With the queue: nothing is queued, no spool file is left.
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc(server.port(), "queue on\nqueue_dir ~/q"));
    let mut bs = Bs::start(&home, &["-bs"]);
    bs.hello();
    bs.cmd("MAIL FROM:<s@example.com>", 250);
    bs.cmd("RCPT TO:<r@x.org>", 250);
    bs.cmd("DATA", 354);
    bs.write(&part);
    assert_eq!(bs.finish().0, 74);
    let s = one_session(server);
    assert!(s.data.is_none() && !s.data_complete);
    assert_eq!(queued_ids(&home), Vec::<String>::new());
    assert_eq!(tmp_files(&home), 0);
}

#[test]
fn queue_on_with_the_upstream_down_queues_and_answers_queued() {
    let down = ServerBuilder::smtp().no_listen().start();
    let port = down.port();
    let home = Home::new(&rc(port, "queue on\nqueue_dir ~/q"));
    let mut bs = Bs::start(&home, &["-bs"]);
    bs.hello();
    bs.cmd("MAIL FROM:<s@example.com>", 250);
    bs.cmd("RCPT TO:<r1@x.org>", 250);
    bs.cmd("RCPT TO:<r2@x.org>", 250);
    bs.cmd("RCPT TO:<bad address@x.org>", 553);
    bs.cmd("DATA", 354);
    bs.write(b"Subject: later\r\nBcc: r2@x.org\r\n\r\nqueued body\r\n.\r\n");
    let r = bs.expect(250);
    let ids = queued_ids(&home);
    assert_eq!(ids.len(), 1);
    assert_eq!(r.lines, [format!("250 2.0.0 Ok: queued as {}", ids[0])]);
    bs.cmd("QUIT", 221);
    assert_eq!(bs.finish().0, 0);
    let meta =
        std::fs::read_to_string(queue_dir(&home).join(format!("{}.toml", ids[0]))).expect("meta");
    assert!(meta.contains("from = \"s@example.com\""), "{meta}");
    assert!(
        meta.contains("\"r1@x.org\"") && meta.contains("\"r2@x.org\""),
        "{meta}"
    );

    // The flush delivers it, with the header rules of the submission.
    let server = ServerBuilder::smtp().start_on(port);
    let r = home.run(&["queue", "flush"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = one_session(server);
    assert_eq!(s.rcpts, ["<r1@x.org>", "<r2@x.org>"]);
    let d = data_text(&s);
    assert!(d.contains("queued body") && !d.contains("Bcc"), "{d}");
    assert!(queued_ids(&home).is_empty());
}

#[test]
fn without_the_queue_an_unreachable_upstream_is_a_4xx_at_mail() {
    let down = ServerBuilder::smtp().no_listen().start();
    let home = Home::new(&rc(down.port(), ""));
    let mut bs = Bs::start(&home, &["-bs"]);
    bs.hello();
    let r = bs.cmd("MAIL FROM:<s@example.com>", 451);
    assert!(r.lines[0].contains("cannot connect to 127.0.0.1"), "{r:?}");
    bs.cmd("RCPT TO:<r@x.org>", 503);
    bs.cmd("QUIT", 221);
    assert_eq!(bs.finish().0, 0);
    assert!(
        log(&home).contains("exitcode=EX_TEMPFAIL") || log(&home).contains("errormsg="),
        "{}",
        log(&home)
    );
}

#[test]
fn queue_on_and_a_4xx_after_the_data_queues_the_message() {
    let server = ServerBuilder::smtp()
        .eod_reply("451 4.3.0 try again later")
        .start();
    let home = Home::new(&rc(server.port(), "queue on\nqueue_dir ~/q"));
    let mut bs = Bs::start(&home, &["-bs"]);
    bs.hello();
    bs.cmd("MAIL FROM:<s@example.com>", 250);
    bs.cmd("RCPT TO:<r@x.org>", 250);
    bs.cmd("DATA", 354);
    bs.write(b"Subject: q\r\n\r\nbody\r\n.\r\n");
    let r = bs.expect(250);
    assert!(r.lines[0].contains("queued as"), "{r:?}");
    bs.cmd("QUIT", 221);
    assert_eq!(bs.finish().0, 0);
    assert_eq!(queued_ids(&home).len(), 1);
    assert!(one_session(server).data_complete);

    // A 5xx is relayed and nothing is queued.
    let server = ServerBuilder::smtp().eod_reply("550 5.7.1 no").start();
    let home = Home::new(&rc(server.port(), "queue on\nqueue_dir ~/q"));
    let mut bs = Bs::start(&home, &["-bs"]);
    bs.hello();
    bs.cmd("MAIL FROM:<s@example.com>", 250);
    bs.cmd("RCPT TO:<r@x.org>", 250);
    bs.cmd("DATA", 354);
    bs.write(b"Subject: q\r\n\r\nbody\r\n.\r\n");
    bs.expect(550);
    bs.cmd("QUIT", 221);
    assert_eq!(bs.finish().0, 0);
    assert!(queued_ids(&home).is_empty());
    assert_eq!(tmp_files(&home), 0);
}

#[test]
fn a_one_megabyte_line_is_refused_as_a_command_and_relayed_as_data() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc(server.port(), ""));
    let mut bs = Bs::start_limited(&home, 30_000, &["-bs"]);
    bs.hello();
    let long = "N".repeat(1 << 20);
    bs.send(&long);
    let r = bs.expect(500);
    assert!(r.lines[0].contains("line too long"));
    bs.cmd("NOOP", 250);
    // More than the 30 MB of address space postie has: a line is never kept whole.
    let mut stdin = bs.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'G'; 1 << 20];
        for _ in 0..48 {
            stdin.write_all(&chunk).expect("write");
        }
        stdin.write_all(b"\r\n").expect("write");
        stdin
    });
    assert!(bs.expect(500).lines[0].contains("line too long"));
    bs.stdin = Some(writer.join().expect("writer"));
    bs.cmd("NOOP", 250);
    bs.cmd("MAIL FROM:<s@example.com>", 250);
    bs.cmd("RCPT TO:<r@x.org>", 250);
    bs.cmd("DATA", 354);
    bs.write(format!("Subject: long\r\n\r\n{long}\r\n.\r\n").as_bytes());
    bs.expect(250);
    bs.cmd("QUIT", 221);
    assert_eq!(bs.finish().0, 0);
    let s = one_session(server);
    assert!(data_text(&s).ends_with(&format!("\r\n\r\n{long}\r\n")));
}

#[test]
fn ten_thousand_rcpt_commands_stay_within_the_recipient_limit() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc(server.port(), ""));
    let mut bs = Bs::start_limited(&home, 30_000, &["-bs"]);
    bs.hello();
    bs.cmd("MAIL FROM:<s@example.com>", 250);
    let mut batch = String::new();
    for i in 0..10_000 {
        batch.push_str(&format!("RCPT TO:<r{i}@x.org>\r\n"));
    }
    // Written from a thread: postie's replies must be read meanwhile.
    let mut stdin = bs.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let ok = stdin.write_all(batch.as_bytes()).is_ok();
        (stdin, ok)
    });
    let mut codes = std::collections::BTreeMap::new();
    for _ in 0..10_000 {
        *codes.entry(bs.reply().code).or_insert(0) += 1;
    }
    let (stdin, ok) = writer.join().expect("writer");
    assert!(ok);
    bs.stdin = Some(stdin);
    assert_eq!(codes, [(250, 1000), (452, 9000)].into_iter().collect());
    bs.cmd("DATA", 354);
    bs.write(b"Subject: many\r\n\r\nx\r\n.\r\n");
    bs.expect(250);
    bs.cmd("QUIT", 221);
    assert_eq!(bs.finish().0, 0);
    let s = one_session(server);
    assert_eq!(s.rcpts.len(), 1000);
}

#[test]
fn garbage_bytes_end_the_dialogue_after_twenty_errors() {
    let home = Home::new(&rc(1, ""));
    let mut bs = Bs::start_limited(&home, 30_000, &["-bs"]);
    bs.expect(220);
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let garbage: Vec<u8> = (0..(4 << 20))
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect();
    let mut stdin = bs.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&garbage);
    });
    let mut last = bs.reply();
    let mut n = 0;
    while last.code != 421 {
        assert!(last.code == 500 || last.code == 501, "{last:?}");
        n += 1;
        last = bs.reply();
    }
    assert_eq!(n, 20);
    let (code, _, stderr) = bs.finish();
    writer.join().expect("writer");
    assert_eq!(code, 76, "{stderr}");
    assert!(stderr.contains("too many errors"), "{stderr}");
}

#[test]
fn lf_only_clients_and_bare_lf_in_crlf_data() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc(server.port(), ""));
    let mut bs = Bs::start(&home, &["-bs"]);
    bs.expect(220);
    // An LF-only client: its data ends at LF . LF.
    bs.write(b"HELO c\nMAIL FROM:<s@example.com>\nRCPT TO:<r@x.org>\nDATA\n");
    bs.expect(250);
    bs.expect(250);
    bs.expect(250);
    bs.expect(354);
    bs.write(b"Subject: lf\n\n..dotted\nbody\n.\n");
    bs.expect(250);
    // A CRLF client whose body holds a bare LF, a dot line and a command: all content.
    bs.write(b"MAIL FROM:<s@example.com>\r\nRCPT TO:<r@x.org>\r\nDATA\r\n");
    bs.expect(250);
    bs.expect(250);
    bs.expect(354);
    bs.write(b"Subject: crlf\r\n\r\nform text\n.\nMAIL FROM:<evil@example.com>\r\n.\r\n");
    bs.expect(250);
    bs.cmd("QUIT", 221);
    assert_eq!(bs.finish().0, 0);
    let s = one_session(server);
    let c = client_lines(&s);
    assert_eq!(
        c.iter().filter(|l| l.starts_with("MAIL FROM")).count(),
        2,
        "{c:?}"
    );
    // The bare LFs went out as CRLF, the dot stuffed: the upstream sees content, not an end.
    assert!(
        data_text(&s).ends_with("\r\n\r\nform text\r\n..\r\nMAIL FROM:<evil@example.com>\r\n"),
        "{:?}",
        data_text(&s)
    );
    let first = c.iter().position(|l| l.starts_with("<")).expect("data");
    assert!(c[..first].iter().any(|l| l == "DATA"));
}

#[test]
fn debug_output_goes_to_stderr_and_stdout_stays_smtp() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc(server.port(), ""));
    let mut bs = Bs::start(&home, &["-bs", "-d"]);
    bs.hello();
    bs.cmd("MAIL FROM:<s@example.com>", 250);
    bs.cmd("RCPT TO:<r@x.org>", 250);
    bs.cmd("DATA", 354);
    bs.write(b"Subject: d\r\n\r\nb\r\n.\r\n");
    bs.expect(250);
    bs.cmd("QUIT", 221);
    let (code, rest, stderr) = bs.finish();
    assert_eq!(code, 0);
    assert_eq!(rest, "");
    assert!(stderr.contains("--> MAIL FROM:<s@example.com>"), "{stderr}");
    assert!(stderr.contains("<<< RCPT TO:<r@x.org>"), "{stderr}");
    assert!(
        stderr.contains(">>> 250 2.0.0 Ok: queued as ABC123"),
        "{stderr}"
    );
    drop(server);
}

#[test]
fn options_without_meaning_are_refused_before_the_greeting() {
    let home = Home::new(&rc(1, ""));
    for args in [
        &["-bs", "r@x.org"][..],
        &["-bs", "-t"],
        &["-bs", "--pretend"],
    ] {
        let r = home.run(args, b"");
        assert_eq!(r.code, 64, "{args:?}: {}", r.stderr);
        assert_eq!(r.stdout, "");
        assert!(r.stderr.contains("with -bs"), "{}", r.stderr);
    }
}

#[test]
fn mail_parameters_go_upstream_only_where_the_server_has_the_extension() {
    let server = ServerBuilder::smtp()
        .cap("SIZE 10000000")
        .cap("8BITMIME")
        .cap("SMTPUTF8")
        .start();
    let home = Home::new(&rc(server.port(), ""));
    let mut bs = Bs::start(&home, &["-bs"]);
    bs.hello();
    bs.cmd(
        "MAIL FROM:<j\u{fc}rgen@example.com> SIZE=100 BODY=8BITMIME SMTPUTF8",
        250,
    );
    bs.cmd("QUIT", 221);
    assert_eq!(bs.finish().0, 0);
    assert_eq!(
        one_session(server).mail_from.as_deref(),
        Some("<j\u{fc}rgen@example.com> SIZE=100 BODY=8BITMIME SMTPUTF8")
    );

    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc(server.port(), ""));
    let mut bs = Bs::start(&home, &["-bs"]);
    bs.hello();
    bs.cmd(
        "MAIL FROM:<a@example.com> SIZE=100 BODY=8BITMIME SMTPUTF8",
        250,
    );
    bs.cmd("RSET", 250);
    bs.cmd("MAIL FROM:<a@example.com> RET=HDRS", 555);
    bs.cmd("MAIL FROM:<a@example.com>", 250);
    bs.cmd("RCPT TO:<r@x.org> NOTIFY=NEVER", 555);
    bs.cmd("QUIT", 221);
    assert_eq!(bs.finish().0, 0);
    assert_eq!(
        one_session(server).mail_from.as_deref(),
        Some("<a@example.com>")
    );
}

#[test]
fn odq_queues_every_message_without_connecting() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc(server.port(), "queue_dir ~/q"));
    let mut bs = Bs::start(&home, &["-bs", "-odq"]);
    bs.hello();
    for i in 0..2 {
        bs.cmd("MAIL FROM:<s@example.com>", 250);
        bs.cmd(&format!("RCPT TO:<r{i}@x.org>"), 250);
        bs.cmd("DATA", 354);
        bs.write(format!("Subject: {i}\r\n\r\nbody\r\n.\r\n").as_bytes());
        let r = bs.expect(250);
        assert!(r.lines[0].contains("queued as"), "{r:?}");
    }
    bs.cmd("QUIT", 221);
    assert_eq!(bs.finish().0, 0);
    assert_eq!(queued_ids(&home).len(), 2);
    assert!(sessions(server).is_empty());
}

#[test]
fn an_aliases_file_applies_to_each_recipient() {
    let server = ServerBuilder::smtp()
        .reply(Stage::Rcpt(3), "550 5.1.1 no such user")
        .start();
    let home = Home::new(&rc(server.port(), "aliases ~/aliases"));
    home.write(
        "aliases",
        "team: a@x.org, b@x.org\nroot: admin@x.org\n",
        0o644,
    );
    let mut bs = Bs::start(&home, &["-bs"]);
    bs.hello();
    bs.cmd("MAIL FROM:<s@example.com>", 250);
    bs.cmd("RCPT TO:<team>", 250);
    // One of the addresses refused: the recipient gets the refusal.
    let r = bs.cmd("RCPT TO:<root>", 550);
    assert_eq!(r.lines, ["550 5.1.1 no such user"]);
    bs.cmd("DATA", 354);
    bs.write(b"Subject: a\r\n\r\nb\r\n.\r\n");
    bs.expect(250);
    bs.cmd("QUIT", 221);
    assert_eq!(bs.finish().0, 0);
    let s = one_session(server);
    assert_eq!(s.rcpts, ["<a@x.org>", "<b@x.org>", "<admin@x.org>"]);
    assert!(log(&home).contains("recipients=a@x.org,b@x.org mailsize="));
}

#[test]
fn an_upstream_lost_in_a_transaction_is_451_and_the_next_one_reconnects() {
    let server = ServerBuilder::smtp()
        .fault(Stage::Rcpt(2), support::server::Action::Drop)
        .start();
    let home = Home::new(&rc(server.port(), ""));
    let mut bs = Bs::start(&home, &["-bs"]);
    bs.hello();
    bs.cmd("MAIL FROM:<s@example.com>", 250);
    bs.cmd("RCPT TO:<r1@x.org>", 250);
    let r = bs.cmd("RCPT TO:<r2@x.org>", 451);
    assert!(r.lines[0].starts_with("451 4.3.0 "), "{r:?}");
    bs.cmd("RCPT TO:<r3@x.org>", 451);
    bs.cmd("DATA", 451);
    bs.cmd("RSET", 250);
    bs.cmd("MAIL FROM:<s@example.com>", 250);
    bs.cmd("RCPT TO:<r1@x.org>", 250);
    bs.cmd("DATA", 354);
    bs.write(b"Subject: again\r\n\r\nb\r\n.\r\n");
    bs.expect(250);
    bs.cmd("QUIT", 221);
    assert_eq!(bs.finish().0, 0);
    let s = sessions(server);
    assert_eq!(s.len(), 2);
    assert!(!s[0].data_complete && s[1].data_complete);
}

#[test]
fn an_lmtp_account_gives_one_reply_for_the_message() {
    let server = ServerBuilder::lmtp()
        .lmtp_reply(2, "550 5.1.1 <b@x.org>: mailbox full")
        .start();
    let home = Home::new(&rc(server.port(), "protocol lmtp"));
    let mut bs = Bs::start(&home, &["-bs"]);
    bs.hello();
    for (i, code) in [(0, 550), (1, 250)] {
        bs.cmd("MAIL FROM:<s@example.com>", 250);
        bs.cmd("RCPT TO:<a@x.org>", 250);
        if i == 0 {
            bs.cmd("RCPT TO:<b@x.org>", 250);
        }
        bs.cmd("DATA", 354);
        bs.write(b"Subject: l\r\n\r\nb\r\n.\r\n");
        let r = bs.expect(code);
        if code == 550 {
            assert_eq!(r.lines, ["550 5.1.1 <b@x.org>: mailbox full"]);
        }
    }
    bs.cmd("QUIT", 221);
    assert_eq!(bs.finish().0, 0);
    let s = one_session(server);
    assert!(s.greetings[0].starts_with("LHLO "));
}
