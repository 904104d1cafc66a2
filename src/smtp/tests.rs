//! Dialogue tests against a scripted in-memory server that records every protocol turn.

use super::session::{Session, Stream, run};
use super::*;
use crate::envelope::{Envelope, Outcome as Delivery};
use crate::error::{Error, Sysexit};
use std::collections::VecDeque;
use std::io::{self, Read};

/// A scripted server: each read returns the next chunk (so replies can be split or glued),
/// EOF when the script is exhausted. Writes are grouped into turns, one per flush.
struct Fake {
    chunks: VecDeque<Vec<u8>>,
    turns: Vec<String>,
    current: Vec<u8>,
    tls: bool,
    fail_writes: Option<io::ErrorKind>,
    read_error: Option<io::ErrorKind>,
    /// What `tls_exporter` returns once TLS is active (TLS 1.3 in the real connection).
    exporter: Option<Vec<u8>>,
}

impl Fake {
    fn new(chunks: &[&str]) -> Fake {
        Fake {
            chunks: chunks.iter().map(|c| c.as_bytes().to_vec()).collect(),
            turns: Vec::new(),
            current: Vec::new(),
            tls: false,
            fail_writes: None,
            read_error: None,
            exporter: None,
        }
    }

    fn written(&self) -> String {
        let mut all = self.turns.concat();
        all.push_str(&String::from_utf8_lossy(&self.current));
        all
    }
}

impl Read for Fake {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(mut chunk) = self.chunks.pop_front() else {
            if let Some(k) = self.read_error {
                return Err(io::Error::from(k));
            }
            return Ok(0);
        };
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        if n < chunk.len() {
            let rest = chunk.split_off(n);
            self.chunks.push_front(rest);
        }
        Ok(n)
    }
}

impl io::Write for Fake {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(k) = self.fail_writes {
            return Err(io::Error::from(k));
        }
        self.current.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let t = std::mem::take(&mut self.current);
        self.turns.push(String::from_utf8_lossy(&t).into_owned());
        Ok(())
    }
}

impl Stream for Fake {
    fn is_tls(&self) -> bool {
        self.tls
    }

    fn start_tls(&mut self) -> Result<Vec<String>> {
        self.tls = true;
        self.turns.push("<TLS>".to_string());
        Ok(vec![
            "TLS session parameters:".to_string(),
            "    (fake)".to_string(),
        ])
    }

    fn tls_exporter(&self) -> Option<Vec<u8>> {
        if self.tls {
            self.exporter.clone()
        } else {
            None
        }
    }
}

struct Outcome {
    result: Result<Delivery>,
    fake: Fake,
    transcript: String,
    password_calls: usize,
}

fn settings() -> SessionSettings {
    SessionSettings::default()
}

fn envelope(rcpts: &[&str]) -> Envelope {
    Envelope {
        from: "a@b.c".to_string(),
        recipients: rcpts.iter().map(|r| r.to_string()).collect(),
    }
}

fn go_with(
    fake: Fake,
    tls: &TlsSettings,
    st: &SessionSettings,
    env: &Envelope,
    pw: Option<&str>,
) -> Outcome {
    let mut transcript = Vec::new();
    let mut calls = 0;
    let mut s = Session::new(fake, Some(&mut transcript));
    let mut password = |_m: Mechanism| {
        calls += 1;
        Ok(pw.map(str::to_string))
    };
    let mut body = |w: &mut dyn std::io::Write| {
        w.write_all(b"Subject: x\r\n\r\n..hi\r\n")
            .map_err(write_error)?;
        Ok(14)
    };
    let result = run(
        &mut s,
        tls,
        st,
        env,
        ("mx.example", 587),
        &mut password,
        &mut body,
    );
    let fake = s.into_inner();
    Outcome {
        result,
        fake,
        transcript: String::from_utf8_lossy(&transcript).into_owned(),
        password_calls: calls,
    }
}

fn go(chunks: &[&str]) -> Outcome {
    go_with(
        Fake::new(chunks),
        &TlsSettings::default(),
        &settings(),
        &envelope(&["r@x.y"]),
        None,
    )
}

fn err(o: &Outcome) -> &Error {
    o.result.as_ref().expect_err("expected an error")
}

const GREET: &str = "220 fake ESMTP\r\n";
const EHLO_PIPE: &str = "250-fake\r\n250 PIPELINING\r\n";
const EHLO_PLAIN: &str = "250 fake\r\n";
const OK: &str = "250 ok\r\n";
const GO: &str = "354 go\r\n";
const BYE: &str = "221 bye\r\n";

// ---- reply parsing through the session ----

#[test]
fn reply_split_across_reads_is_reassembled() {
    let o = go(&[
        "2",
        "20 fa",
        "ke\r\n",
        "25",
        "0-a\r\n250 b",
        "\r\n",
        OK,
        OK,
        GO,
        OK,
        BYE,
    ]);
    assert!(o.result.is_ok(), "{:?}", o.result.err());
}

#[test]
fn glued_replies_in_one_read_are_separated() {
    let all = format!("{GREET}{EHLO_PLAIN}");
    let o = go(&[&all, OK, OK, GO, OK, BYE]);
    assert!(o.result.is_ok(), "{:?}", o.result.err());
}

#[test]
fn reply_line_of_1023_bytes_with_crlf_is_accepted_1024_rejected() {
    let ok_line = format!("250-{}\r\n250 ok\r\n", "x".repeat(1017));
    let o = go(&[GREET, &ok_line, OK, OK, GO, OK, BYE]);
    assert!(o.result.is_ok(), "{:?}", o.result.err());
    let long = format!("250-{}\r\n250 ok\r\n", "x".repeat(1018));
    let o = go(&[GREET, &long]);
    assert_eq!(err(&o).message, "the server sent an invalid reply");
    assert_eq!(err(&o).exit, Sysexit::Protocol);
}

#[test]
fn endless_line_without_newline_is_invalid() {
    let long = "2".repeat(5000);
    let o = go(&[&long]);
    assert_eq!(err(&o).message, "the server sent an invalid reply");
}

#[test]
fn eof_is_empty_reply_76() {
    let o = go(&[GREET]);
    assert_eq!(err(&o).message, "the server sent an empty reply");
    assert_eq!(err(&o).exit, Sysexit::Protocol);
}

#[test]
fn garbage_reply_is_invalid_76() {
    let o = go(&["hello there\r\n"]);
    assert_eq!(err(&o).message, "the server sent an invalid reply");
    assert_eq!(err(&o).exit, Sysexit::Protocol);
}

#[test]
fn over_50_lines_is_rejected_76() {
    let many = format!("{}250 end\r\n", "250-x\r\n".repeat(50));
    let o = go(&[GREET, &many]);
    assert_eq!(
        err(&o).message,
        "Rejecting server reply that is longer than 50 lines. Increase SMTP_MAXLINES."
    );
    assert_eq!(err(&o).exit, Sysexit::Protocol);
}

#[test]
fn read_timeout_is_ioerr_74() {
    let mut f = Fake::new(&[GREET]);
    f.read_error = Some(io::ErrorKind::WouldBlock);
    let o = go_with(
        f,
        &TlsSettings::default(),
        &settings(),
        &envelope(&["r"]),
        None,
    );
    assert_eq!(
        err(&o).message,
        "network read error: the operation timed out"
    );
    assert_eq!(err(&o).exit, Sysexit::IoErr);
    assert!(err(&o).transient);
}

#[test]
fn write_failure_is_ioerr_74() {
    let mut f = Fake::new(&[GREET]);
    f.fail_writes = Some(io::ErrorKind::BrokenPipe);
    let o = go_with(
        f,
        &TlsSettings::default(),
        &settings(),
        &envelope(&["r"]),
        None,
    );
    assert!(
        err(&o).message.starts_with("network write error: "),
        "{}",
        err(&o).message
    );
    assert_eq!(err(&o).exit, Sysexit::IoErr);
}

// ---- greeting and hello ----

#[test]
fn greeting_not_220_is_protocol_76_without_writing() {
    let o = go(&["554 go away\r\n"]);
    assert_eq!(err(&o).message, "cannot get initial OK message from server");
    assert_eq!(err(&o).exit, Sysexit::Protocol);
    assert_eq!(err(&o).reply.as_ref().map(|r| r.code), Some(554));
    assert_eq!(o.fake.written(), "");
}

#[test]
fn ehlo_refused_falls_back_to_helo_without_capabilities() {
    let o = go(&[GREET, "502 no\r\n", OK, OK, OK, GO, OK, BYE]);
    assert!(o.result.is_ok(), "{:?}", o.result.err());
    let w = o.fake.written();
    assert!(w.starts_with("EHLO localhost\r\nHELO localhost\r\nMAIL FROM:<a@b.c>\r\n"));
    // No pipelining after HELO: MAIL, RCPT and DATA each get their own turn.
    assert!(o.fake.turns.contains(&"MAIL FROM:<a@b.c>\r\n".to_string()));
}

#[test]
fn ehlo_and_helo_refused_is_protocol_76() {
    let o = go(&[GREET, "502 no\r\n", "502 no\r\n"]);
    assert_eq!(
        err(&o).message,
        "SMTP server does not accept EHLO or HELO commands"
    );
    assert_eq!(err(&o).exit, Sysexit::Protocol);
    assert!(!o.fake.written().contains("QUIT"));
}

#[test]
fn lmtp_lhlo_refused_has_no_helo_fallback() {
    let st = SessionSettings {
        protocol: Protocol::Lmtp,
        ..settings()
    };
    let o = go_with(
        Fake::new(&[GREET, "500 no\r\n"]),
        &TlsSettings::default(),
        &st,
        &envelope(&["r"]),
        None,
    );
    assert_eq!(err(&o).message, "command LHLO failed");
    assert_eq!(err(&o).exit, Sysexit::Protocol);
    assert_eq!(o.fake.written(), "LHLO localhost\r\n");
}

#[test]
fn domain_is_the_ehlo_argument() {
    let st = SessionSettings {
        domain: "me.example".into(),
        ..settings()
    };
    let o = go_with(
        Fake::new(&[GREET, EHLO_PLAIN, OK, OK, GO, OK, BYE]),
        &TlsSettings::default(),
        &st,
        &envelope(&["r"]),
        None,
    );
    assert!(o.fake.written().starts_with("EHLO me.example\r\n"));
}

// ---- envelope and data exit codes ----

fn stage(chunks: &[&str]) -> Outcome {
    go(chunks)
}

#[test]
fn mail_from_4xx_is_69_transient_and_5xx_is_65() {
    let o = stage(&[GREET, EHLO_PLAIN, "451 later\r\n"]);
    let e = err(&o);
    assert_eq!(
        e.message,
        "envelope from address a@b.c not accepted by the server"
    );
    assert_eq!(e.exit, Sysexit::Unavailable);
    assert!(e.transient);
    assert_eq!(
        e.reply.as_ref().map(|r| r.lines.clone()),
        Some(vec!["451 later".to_string()])
    );
    let o = stage(&[GREET, EHLO_PLAIN, "550 no\r\n"]);
    assert_eq!(err(&o).exit, Sysexit::DataErr);
    assert!(!err(&o).transient);
    assert!(!o.fake.written().contains("QUIT"));
    assert!(!o.fake.written().contains("RSET"));
}

#[test]
fn rcpt_4xx_is_69_and_5xx_is_65() {
    let o = stage(&[GREET, EHLO_PLAIN, OK, "450 4.1.1 mailbox busy\r\n"]);
    assert_eq!(
        err(&o).message,
        "recipient address r@x.y not accepted by the server"
    );
    assert_eq!(err(&o).exit, Sysexit::Unavailable);
    let o = stage(&[GREET, EHLO_PLAIN, OK, "550 unknown\r\n"]);
    assert_eq!(err(&o).exit, Sysexit::DataErr);
    assert!(!o.fake.written().contains("QUIT"));
}

#[test]
fn rcpt_251_is_accepted() {
    let o = stage(&[GREET, EHLO_PLAIN, OK, "251 forwarded\r\n", GO, OK, BYE]);
    assert!(o.result.is_ok());
}

#[test]
fn data_not_354_is_69_for_4xx_and_65_otherwise() {
    let o = stage(&[GREET, EHLO_PLAIN, OK, OK, "451 no data\r\n"]);
    assert_eq!(err(&o).message, "the server does not accept mail data");
    assert_eq!(err(&o).exit, Sysexit::Unavailable);
    let o = stage(&[GREET, EHLO_PLAIN, OK, OK, "554 no data\r\n"]);
    assert_eq!(err(&o).exit, Sysexit::DataErr);
    let o = stage(&[GREET, EHLO_PLAIN, OK, OK, "250 odd\r\n"]);
    assert_eq!(err(&o).exit, Sysexit::DataErr);
}

#[test]
fn end_of_data_failure_is_always_69() {
    for (reply, transient) in [("452 full\r\n", true), ("554 spam\r\n", false)] {
        let o = stage(&[GREET, EHLO_PLAIN, OK, OK, GO, reply]);
        assert_eq!(err(&o).message, "the server did not accept the mail");
        assert_eq!(err(&o).exit, Sysexit::Unavailable);
        assert_eq!(err(&o).transient, transient);
        assert!(!o.fake.written().contains("QUIT"));
    }
}

#[test]
fn success_sends_quit_and_returns_final_reply() {
    let o = stage(&[GREET, EHLO_PLAIN, OK, OK, GO, "250 2.0.0 queued\r\n", BYE]);
    let d = o.result.as_ref().expect("ok");
    assert_eq!(d.final_reply.as_ref().map(|r| r.code), Some(250));
    assert_eq!(d.mailsize, 14);
    assert!(o.fake.written().ends_with(".\r\nQUIT\r\n"));
}

#[test]
fn quit_failure_after_success_is_ignored() {
    let o = stage(&[GREET, EHLO_PLAIN, OK, OK, GO, OK]);
    assert!(o.result.is_ok());
}

#[test]
fn body_is_sent_in_one_turn_ending_with_dot() {
    let o = stage(&[GREET, EHLO_PLAIN, OK, OK, GO, OK, BYE]);
    assert!(
        o.fake
            .turns
            .contains(&"Subject: x\r\n\r\n..hi\r\n.\r\n".to_string()),
        "{:?}",
        o.fake.turns
    );
}

#[test]
fn mailer_daemon_and_empty_from_are_null_reverse_path() {
    for from in ["MAILER-DAEMON", "mailer-daemon", ""] {
        let env = Envelope {
            from: from.to_string(),
            recipients: vec!["r".into()],
        };
        let o = go_with(
            Fake::new(&[GREET, EHLO_PLAIN, OK, OK, GO, OK, BYE]),
            &TlsSettings::default(),
            &settings(),
            &env,
            None,
        );
        assert!(o.fake.written().contains("MAIL FROM:<>\r\n"), "{from}");
    }
}

#[test]
fn command_longer_than_4094_is_dataerr_65() {
    let long = format!("{}@x", "a".repeat(4094 - "RCPT TO:<@x>".len()));
    let o = go_with(
        Fake::new(&[GREET, EHLO_PLAIN, OK, OK, GO, OK, BYE]),
        &TlsSettings::default(),
        &settings(),
        &envelope(&[&long]),
        None,
    );
    assert!(o.result.is_ok(), "exactly 4094 is fine");
    let longer = format!("a{long}");
    let o = go_with(
        Fake::new(&[GREET, EHLO_PLAIN, OK]),
        &TlsSettings::default(),
        &settings(),
        &envelope(&[&longer]),
        None,
    );
    assert_eq!(
        err(&o).message,
        "Cannot send command because it is longer than 4094 characters. Increase SMTP_MAXCMDLEN."
    );
    assert_eq!(err(&o).exit, Sysexit::DataErr);
}

// ---- pipelining ----

#[test]
fn pipelining_sends_mail_rcpts_data_in_one_batch() {
    let o = go_with(
        Fake::new(&[GREET, EHLO_PIPE, OK, OK, OK, GO, OK, BYE]),
        &TlsSettings::default(),
        &settings(),
        &envelope(&["r1@x", "r2@x"]),
        None,
    );
    assert!(o.result.is_ok(), "{:?}", o.result.err());
    assert_eq!(
        o.fake.turns[1],
        "MAIL FROM:<a@b.c>\r\nRCPT TO:<r1@x>\r\nRCPT TO:<r2@x>\r\nDATA\r\n"
    );
}

#[test]
fn pipelining_aborts_at_first_bad_reply() {
    let o = go_with(
        Fake::new(&[GREET, EHLO_PIPE, OK, "550 no r1\r\n", OK, "554 no\r\n"]),
        &TlsSettings::default(),
        &settings(),
        &envelope(&["r1@x", "r2@x"]),
        None,
    );
    assert_eq!(
        err(&o).message,
        "recipient address r1@x not accepted by the server"
    );
    assert_eq!(err(&o).exit, Sysexit::DataErr);
    // The whole batch went out before the failure was read, and nothing after it.
    assert_eq!(o.fake.turns.len(), 2);
    assert!(o.fake.turns[1].ends_with("DATA\r\n"));
}

#[test]
fn pipelining_batches_at_most_100_commands() {
    let rcpts: Vec<String> = (0..150).map(|i| format!("r{i}@x")).collect();
    let refs: Vec<&str> = rcpts.iter().map(String::as_str).collect();
    let mut chunks = vec![GREET, EHLO_PIPE];
    chunks.extend(std::iter::repeat_n(OK, 151));
    chunks.extend([GO, OK, BYE]);
    let o = go_with(
        Fake::new(&chunks),
        &TlsSettings::default(),
        &settings(),
        &envelope(&refs),
        None,
    );
    assert!(o.result.is_ok(), "{:?}", o.result.err());
    assert_eq!(o.fake.turns[1].matches("\r\n").count(), 100);
    assert_eq!(o.fake.turns[2].matches("\r\n").count(), 52);
}

// ---- DSN ----

#[test]
fn dsn_parameters_are_appended() {
    let st = SessionSettings {
        dsn_notify: Some("FAILURE,DELAY".into()),
        dsn_return: Some("HDRS".into()),
        ..settings()
    };
    let o = go_with(
        Fake::new(&[GREET, "250-x\r\n250 DSN\r\n", OK, OK, GO, OK, BYE]),
        &TlsSettings::default(),
        &st,
        &envelope(&["r@x"]),
        None,
    );
    assert!(o.result.is_ok(), "{:?}", o.result.err());
    let w = o.fake.written();
    assert!(w.contains("MAIL FROM:<a@b.c> RET=HDRS\r\n"));
    assert!(w.contains("RCPT TO:<r@x> NOTIFY=FAILURE,DELAY\r\n"));
}

#[test]
fn dsn_not_advertised_quits_with_69() {
    let st = SessionSettings {
        dsn_notify: Some("NEVER".into()),
        ..settings()
    };
    let o = go_with(
        Fake::new(&[GREET, EHLO_PLAIN, BYE]),
        &TlsSettings::default(),
        &st,
        &envelope(&["r@x"]),
        None,
    );
    assert_eq!(err(&o).message, "the server does not support DSN");
    assert_eq!(err(&o).exit, Sysexit::Unavailable);
    assert_eq!(o.fake.written(), "EHLO localhost\r\nQUIT\r\n");
}

// ---- SMTPUTF8 ----

#[test]
fn smtputf8_sent_only_when_advertised_and_an_address_needs_it() {
    let utf8_env = Envelope {
        from: "a@b.c".to_string(),
        recipients: vec!["jörg@bücher.example".to_string()],
    };
    let ehlo_utf8 = "250-x\r\n250 SMTPUTF8\r\n";
    let cases = [
        (ehlo_utf8, &utf8_env, "MAIL FROM:<a@b.c> SMTPUTF8\r\n"),
        (ehlo_utf8, &envelope(&["r@x"]), "MAIL FROM:<a@b.c>\r\n"),
        (EHLO_PLAIN, &utf8_env, "MAIL FROM:<a@b.c>\r\n"),
    ];
    for (ehlo, env, want) in cases {
        let o = go_with(
            Fake::new(&[GREET, ehlo, OK, OK, GO, OK, BYE]),
            &TlsSettings::default(),
            &settings(),
            env,
            None,
        );
        assert!(o.result.is_ok(), "{:?}", o.result.err());
        assert!(o.fake.written().contains(want), "{}", o.fake.written());
    }
}

#[test]
fn smtputf8_follows_dsn_ret() {
    let st = SessionSettings {
        dsn_return: Some("FULL".into()),
        ..settings()
    };
    let env = Envelope {
        from: "jörg@example.org".to_string(),
        recipients: vec!["r@x".to_string()],
    };
    let o = go_with(
        Fake::new(&[
            GREET,
            "250-x\r\n250-DSN\r\n250 SMTPUTF8\r\n",
            OK,
            OK,
            GO,
            OK,
            BYE,
        ]),
        &TlsSettings::default(),
        &st,
        &env,
        None,
    );
    assert!(o.result.is_ok(), "{:?}", o.result.err());
    assert!(
        o.fake
            .written()
            .contains("MAIL FROM:<jörg@example.org> RET=FULL SMTPUTF8\r\n")
    );
}

// ---- step by step (the relay of postie -bs) ----

#[test]
fn mail_parameters_follow_dsn_ret_in_a_fixed_order() {
    let st = SessionSettings {
        dsn_return: Some("HDRS".into()),
        ..settings()
    };
    let all = MailParams {
        size: Some(1234),
        body: Some(BodyType::EightBitMime),
        smtputf8: true,
    };
    assert_eq!(
        super::session::mail_command(&st, "a@b.c", &all),
        "MAIL FROM:<a@b.c> RET=HDRS SIZE=1234 BODY=8BITMIME SMTPUTF8"
    );
    let seven = MailParams {
        body: Some(BodyType::SevenBit),
        ..MailParams::default()
    };
    assert_eq!(
        super::session::mail_command(&settings(), "MAILER-DAEMON", &seven),
        "MAIL FROM:<> BODY=7BIT"
    );
}

#[test]
fn the_message_step_reports_a_refusal_without_failing() {
    let mut s = Session::new(
        Fake::new(&[OK, "550 5.1.1 no\r\n", OK, GO, "451 4.3.0 later\r\n"]),
        None,
    );
    assert_eq!(s.command("MAIL FROM:<a@b.c>").expect("mail").code, 250);
    assert_eq!(s.command("RCPT TO:<x@y>").expect("rcpt").code, 550);
    assert_eq!(s.command("RCPT TO:<r@y>").expect("rcpt").code, 250);
    assert_eq!(s.command("DATA").expect("data").code, 354);
    let mut out = Delivery {
        accepted: vec!["r@y".into()],
        ..Delivery::default()
    };
    let mut body = |w: &mut dyn std::io::Write| -> Result<u64> {
        w.write_all(b"Subject: s\r\n\r\nb\r\n").expect("write");
        Ok(3)
    };
    s.message(
        Protocol::Smtp,
        crate::envelope::RecipientPolicy::EachRecipient,
        &mut out,
        &mut body,
    )
    .expect("message");
    let e = out.message_error.expect("refused");
    assert!(e.is_transient());
    assert_eq!(e.reply.map(|r| r.code), Some(451));
    assert!(out.accepted.is_empty());
    assert_eq!(out.mailsize, 3);
    assert!(
        s.into_inner()
            .written()
            .ends_with("DATA\r\nSubject: s\r\n\r\nb\r\n.\r\n")
    );
}

// ---- ETRN (--rmqs) and --serverinfo ----

fn rmqs_go(chunks: &[&str]) -> (Result<()>, Fake) {
    let mut s = Session::new(Fake::new(chunks), None);
    let mut password = |_m: Mechanism| Ok(Some("pw".to_string()));
    let r = super::session::rmqs(
        &mut s,
        &TlsSettings::default(),
        &settings(),
        "@example.org",
        ("mx.example", 25),
        &mut password,
    );
    (r, s.into_inner())
}

#[test]
fn etrn_replies_map_to_msmtps_exit_codes() {
    let ehlo = "250-x\r\n250 ETRN\r\n";
    for (reply, exit, msg) in [
        ("250 ok\r\n", Sysexit::Ok, ""),
        ("253 ok\r\n", Sysexit::Ok, ""),
        (
            "458 no\r\n",
            Sysexit::Unavailable,
            "the server is unable to fulfill the request",
        ),
        (
            "459 no\r\n",
            Sysexit::Unavailable,
            "the server is unable to fulfill the request",
        ),
        (
            "500 bad\r\n",
            Sysexit::DataErr,
            "invalid argument for Remote Message Queue Starting",
        ),
        (
            "501 bad\r\n",
            Sysexit::DataErr,
            "invalid argument for Remote Message Queue Starting",
        ),
        ("254 odd\r\n", Sysexit::Protocol, "command ETRN failed"),
    ] {
        let (r, fake) = rmqs_go(&[GREET, ehlo, reply, BYE]);
        let w = fake.written();
        match r {
            Ok(()) => {
                assert_eq!(exit, Sysexit::Ok, "{reply}");
                assert!(w.ends_with("ETRN @example.org\r\nQUIT\r\n"), "{w}");
            }
            Err(e) => {
                assert_eq!((e.exit, e.message.as_str()), (exit, msg), "{reply}");
                assert!(e.reply.is_some());
                assert!(
                    w.ends_with("ETRN @example.org\r\n"),
                    "no QUIT after failure: {w}"
                );
            }
        }
    }
}

#[test]
fn etrn_capability_checked_before_auth() {
    let mut s = Session::new(
        Fake::new(&[GREET, "250-x\r\n250 AUTH PLAIN\r\n", BYE]),
        None,
    );
    let mut password = |_m: Mechanism| Ok(Some("pw".to_string()));
    let st = SessionSettings {
        auth: AuthSetting::Method(Mechanism::Plain),
        user: Some("joe".into()),
        ..settings()
    };
    let e = super::session::rmqs(
        &mut s,
        &TlsSettings::default(),
        &st,
        "x",
        ("mx", 25),
        &mut password,
    )
    .expect_err("no ETRN");
    assert_eq!(e.exit, Sysexit::Unavailable);
    assert_eq!(
        e.message,
        "the server does not support Remote Message Queue Starting"
    );
    assert_eq!(s.into_inner().written(), "EHLO localhost\r\nQUIT\r\n");
}

#[test]
fn serverinfo_session_is_ehlo_and_quit_only() {
    let mut s = Session::new(Fake::new(&[GREET, "250-x\r\n250 SIZE 100\r\n", BYE]), None);
    let o = super::session::server_info(&mut s, &TlsSettings::default(), &settings()).expect("ok");
    assert_eq!(o.greeting.lines, ["220 fake ESMTP"]);
    assert_eq!(o.caps.size, Some(100));
    assert!(o.tls_info.is_none() && !o.starttls_used);
    assert_eq!(s.into_inner().written(), "EHLO localhost\r\nQUIT\r\n");
}

// ---- STARTTLS ----

fn starttls() -> TlsSettings {
    TlsSettings {
        enabled: true,
        starttls: true,
        certcheck: true,
        ..TlsSettings::default()
    }
}

#[test]
fn starttls_then_second_ehlo_replaces_capabilities() {
    let o = go_with(
        Fake::new(&[
            GREET,
            "250-x\r\n250 STARTTLS\r\n",
            "220 go ahead\r\n",
            EHLO_PIPE,
            OK,
            OK,
            GO,
            OK,
            BYE,
        ]),
        &starttls(),
        &settings(),
        &envelope(&["r@x"]),
        None,
    );
    assert!(o.result.is_ok(), "{:?}", o.result.err());
    assert_eq!(o.fake.turns[0], "EHLO localhost\r\n");
    assert_eq!(o.fake.turns[1], "STARTTLS\r\n");
    assert_eq!(o.fake.turns[2], "<TLS>");
    assert_eq!(o.fake.turns[3], "EHLO localhost\r\n");
    // The second EHLO offered PIPELINING.
    assert_eq!(
        o.fake.turns[4],
        "MAIL FROM:<a@b.c>\r\nRCPT TO:<r@x>\r\nDATA\r\n"
    );
    assert!(o.transcript.contains("TLS session parameters:\n"));
}

#[test]
fn starttls_not_advertised_quits_with_69() {
    let o = go_with(
        Fake::new(&[GREET, EHLO_PLAIN, BYE]),
        &starttls(),
        &settings(),
        &envelope(&["r@x"]),
        None,
    );
    assert_eq!(
        err(&o).message,
        "the server does not support TLS via the STARTTLS command"
    );
    assert_eq!(err(&o).exit, Sysexit::Unavailable);
    assert_eq!(o.fake.written(), "EHLO localhost\r\nQUIT\r\n");
}

#[test]
fn starttls_refused_is_protocol_76() {
    let o = go_with(
        Fake::new(&[GREET, "250-x\r\n250 STARTTLS\r\n", "454 not now\r\n"]),
        &starttls(),
        &settings(),
        &envelope(&["r@x"]),
        None,
    );
    assert_eq!(err(&o).message, "command STARTTLS failed");
    assert_eq!(err(&o).exit, Sysexit::Protocol);
    assert!(!o.fake.written().contains("QUIT"));
}

#[test]
fn starttls_injection_bytes_after_220_are_refused() {
    let o = go_with(
        Fake::new(&[
            GREET,
            "250-x\r\n250 STARTTLS\r\n",
            "220 go ahead\r\n250-injected\r\n",
        ]),
        &starttls(),
        &settings(),
        &envelope(&["r@x"]),
        None,
    );
    assert_eq!(err(&o).message, "command STARTTLS failed");
    assert_eq!(err(&o).exit, Sysexit::Protocol);
    assert!(!o.fake.turns.contains(&"<TLS>".to_string()));
}

#[test]
fn implicit_tls_starts_before_the_greeting() {
    let tls = TlsSettings {
        enabled: true,
        starttls: false,
        certcheck: true,
        ..TlsSettings::default()
    };
    let o = go_with(
        Fake::new(&[GREET, "250-x\r\n250 STARTTLS\r\n", OK, OK, GO, OK, BYE]),
        &tls,
        &settings(),
        &envelope(&["r@x"]),
        None,
    );
    assert!(o.result.is_ok(), "{:?}", o.result.err());
    assert_eq!(o.fake.turns[0], "<TLS>");
    assert!(!o.fake.written().contains("STARTTLS"));
    assert!(o.transcript.starts_with("TLS session parameters:\n"));
}

// ---- AUTH ----

fn auth_run(
    ehlo_auth: &str,
    auth: AuthSetting,
    tls: bool,
    user: Option<&str>,
    after: &[&str],
) -> Outcome {
    let ehlo = format!("250-x\r\n250-STARTTLS\r\n250 AUTH {ehlo_auth}\r\n");
    let mut chunks = vec![GREET, ehlo.as_str()];
    if tls {
        chunks.push("220 go\r\n");
        chunks.push(ehlo.as_str());
    }
    chunks.extend_from_slice(after);
    let st = SessionSettings {
        auth,
        user: user.map(str::to_string),
        ..settings()
    };
    let t = if tls {
        starttls()
    } else {
        TlsSettings::default()
    };
    go_with(
        Fake::new(&chunks),
        &t,
        &st,
        &envelope(&["r@x"]),
        Some("secret"),
    )
}

const AFTER_AUTH_OK: [&str; 6] = ["235 ok\r\n", OK, OK, GO, OK, BYE];

#[test]
fn auth_plain_wire_format_and_redacted_transcript() {
    let o = auth_run(
        "PLAIN LOGIN",
        AuthSetting::Auto,
        true,
        Some("joe"),
        &AFTER_AUTH_OK,
    );
    assert!(o.result.is_ok(), "{:?}", o.result.err());
    assert!(o.fake.written().contains("AUTH PLAIN AGpvZQBzZWNyZXQ=\r\n"));
    assert!(o.transcript.contains("--> AUTH PLAIN (redacted)\r\n"));
    assert!(!o.transcript.contains("AGpvZQBzZWNyZXQ="));
    assert_eq!(o.password_calls, 1);
}

#[test]
fn auth_login_wire_format_and_redaction() {
    let o = auth_run(
        "LOGIN",
        AuthSetting::Method(Mechanism::Login),
        false,
        Some("joe"),
        &[
            "334 VXNlcm5hbWU6\r\n",
            "334 UGFzc3dvcmQ6\r\n",
            "235 ok\r\n",
            OK,
            OK,
            GO,
            OK,
            BYE,
        ],
    );
    assert!(o.result.is_ok(), "{:?}", o.result.err());
    assert!(
        o.fake
            .written()
            .contains("AUTH LOGIN\r\nam9l\r\nc2VjcmV0\r\n")
    );
    assert!(o.transcript.contains("--> AUTH LOGIN\r\n"));
    assert_eq!(o.transcript.matches("--> (redacted)\r\n").count(), 2);
    assert!(!o.transcript.contains("c2VjcmV0"));
}

#[test]
fn auth_cram_md5_answers_the_rfc_2195_challenge() {
    let st = SessionSettings {
        auth: AuthSetting::Method(Mechanism::CramMd5),
        user: Some("tim".into()),
        ..settings()
    };
    let o = go_with(
        Fake::new(&[
            GREET,
            "250-x\r\n250 AUTH CRAM-MD5\r\n",
            "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n",
            "235 ok\r\n",
            OK,
            OK,
            GO,
            OK,
            BYE,
        ]),
        &TlsSettings::default(),
        &st,
        &envelope(&["r"]),
        Some("tanstaaftanstaaf"),
    );
    assert!(o.result.is_ok(), "{:?}", o.result.err());
    assert!(
        o.fake
            .written()
            .contains("AUTH CRAM-MD5\r\ndGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n")
    );
    assert!(!o.transcript.contains("dGltIGI5"));
}

#[test]
fn auth_auto_without_tls_refuses_cleartext_mechanisms() {
    let o = auth_run(
        "PLAIN LOGIN CRAM-MD5",
        AuthSetting::Auto,
        false,
        Some("joe"),
        &[],
    );
    assert_eq!(err(&o).message, "cannot use a secure authentication method");
    assert_eq!(err(&o).exit, Sysexit::Unavailable);
    assert_eq!(o.password_calls, 0);
    assert!(!o.fake.written().contains("QUIT"));
}

#[test]
fn auth_auto_without_tls_uses_scram_and_verifies_server() {
    // The nonce is random, so the scripted server cannot answer correctly: the client must
    // reject the foreign nonce with an authentication failure instead of proceeding.
    let o = auth_run(
        "PLAIN SCRAM-SHA-1",
        AuthSetting::Auto,
        false,
        Some("joe"),
        &[
            "334 \r\n",
            "334 cj1mb3JlaWduLHM9UVNYQ1IrUTZzZWs4YmY5MixpPTQwOTY=\r\n",
        ],
    );
    assert_eq!(
        err(&o).message,
        "authentication failed (method SCRAM-SHA-1)"
    );
    assert_eq!(err(&o).exit, Sysexit::NoPerm);
    assert!(
        o.transcript
            .contains("--> AUTH SCRAM-SHA-1\r\n<-- 334 \r\n--> (redacted)\r\n")
    );
}

fn plus_run(exporter: Option<Vec<u8>>, tls: bool) -> Outcome {
    let ehlo = "250-x\r\n250-STARTTLS\r\n250 AUTH PLAIN SCRAM-SHA-256-PLUS\r\n";
    let mut chunks = vec![GREET, ehlo];
    if tls {
        chunks.extend_from_slice(&["220 go\r\n", ehlo]);
    }
    // A server-first with a foreign nonce: the exchange stops after the client-first.
    chunks.push("334 \r\n");
    chunks.push("334 cj1mb3JlaWduLHM9UVNYQ1IrUTZzZWs4YmY5MixpPTQwOTY=\r\n");
    let mut fake = Fake::new(&chunks);
    fake.exporter = exporter;
    let st = SessionSettings {
        auth: AuthSetting::Method(Mechanism::ScramSha256Plus),
        user: Some("joe".into()),
        ..settings()
    };
    let t = if tls {
        starttls()
    } else {
        TlsSettings::default()
    };
    go_with(fake, &t, &st, &envelope(&["r@x"]), Some("secret"))
}

#[test]
fn auth_scram_plus_sends_the_tls_exporter_gs2_header() {
    let o = plus_run(Some(vec![7; 32]), true);
    assert_eq!(
        err(&o).message,
        "authentication failed (method SCRAM-SHA-256-PLUS)"
    );
    let written = o.fake.written();
    let mut lines = written.lines();
    lines
        .find(|l| *l == "AUTH SCRAM-SHA-256-PLUS")
        .expect("AUTH without initial response, as msmtp");
    let first = lines.next().expect("client-first after the empty 334");
    let decoded = auth::unb64(first).expect("base64");
    assert!(
        decoded.starts_with(b"p=tls-exporter,,n=joe,r="),
        "{}",
        String::from_utf8_lossy(&decoded)
    );
    assert!(
        o.transcript
            .contains("--> AUTH SCRAM-SHA-256-PLUS\r\n<-- 334 \r\n--> (redacted)\r\n")
    );
}

#[test]
fn auth_scram_plus_without_tls13_exporter_is_69_before_auth() {
    for (exporter, tls) in [(None, true), (Some(vec![7; 32]), false)] {
        let o = plus_run(exporter, tls);
        assert_eq!(
            err(&o).message,
            "authentication method SCRAM-SHA-256-PLUS needs TLS 1.3 for channel binding (tls-exporter)"
        );
        assert_eq!(err(&o).exit, Sysexit::Unavailable);
        assert!(!o.fake.written().contains("AUTH"));
        assert_eq!(o.password_calls, 0);
    }
}

#[test]
fn auth_explicit_plain_works_without_tls() {
    let o = auth_run(
        "PLAIN",
        AuthSetting::Method(Mechanism::Plain),
        false,
        Some("joe"),
        &AFTER_AUTH_OK,
    );
    assert!(o.result.is_ok(), "{:?}", o.result.err());
}

#[test]
fn auth_explicit_not_advertised_is_69_without_quit() {
    let o = auth_run(
        "LOGIN",
        AuthSetting::Method(Mechanism::Plain),
        true,
        Some("joe"),
        &[],
    );
    assert_eq!(
        err(&o).message,
        "the server does not support authentication method PLAIN"
    );
    assert_eq!(err(&o).exit, Sysexit::Unavailable);
    assert!(!o.fake.written().contains("QUIT"));
}

#[test]
fn auth_not_advertised_at_all_quits_with_69() {
    let st = SessionSettings {
        auth: AuthSetting::Auto,
        user: Some("joe".into()),
        ..settings()
    };
    let o = go_with(
        Fake::new(&[GREET, EHLO_PLAIN, BYE]),
        &TlsSettings::default(),
        &st,
        &envelope(&["r"]),
        Some("pw"),
    );
    assert_eq!(
        err(&o).message,
        "the server does not support authentication"
    );
    assert_eq!(err(&o).exit, Sysexit::Unavailable);
    assert_eq!(o.fake.written(), "EHLO localhost\r\nQUIT\r\n");
}

#[test]
fn auth_without_user_needs_a_user_name() {
    let o = auth_run(
        "PLAIN",
        AuthSetting::Method(Mechanism::Plain),
        false,
        None,
        &[],
    );
    assert_eq!(
        err(&o).message,
        "authentication method PLAIN needs a user name"
    );
    assert_eq!(err(&o).exit, Sysexit::Unavailable);
    assert_eq!(o.password_calls, 0);
}

#[test]
fn auth_missing_password_is_69() {
    let st = SessionSettings {
        auth: AuthSetting::Method(Mechanism::Plain),
        user: Some("joe".into()),
        ..settings()
    };
    let o = go_with(
        Fake::new(&[GREET, "250-x\r\n250 AUTH PLAIN\r\n"]),
        &TlsSettings::default(),
        &st,
        &envelope(&["r"]),
        None,
    );
    assert_eq!(
        err(&o).message,
        "authentication method PLAIN needs a password"
    );
    assert_eq!(err(&o).exit, Sysexit::Unavailable);
}

#[test]
fn auth_failure_is_noperm_77_with_reply() {
    let o = auth_run(
        "PLAIN",
        AuthSetting::Auto,
        true,
        Some("joe"),
        &["535 5.7.8 bad credentials\r\n"],
    );
    let e = err(&o);
    assert_eq!(e.message, "authentication failed (method PLAIN)");
    assert_eq!(e.exit, Sysexit::NoPerm);
    assert_eq!(e.reply.as_ref().map(|r| r.code), Some(535));
    assert!(!o.fake.written().contains("QUIT"));
}

#[test]
fn auth_off_never_asks_for_a_password() {
    let o = auth_run(
        "PLAIN",
        AuthSetting::Off,
        false,
        Some("joe"),
        &[OK, OK, GO, OK, BYE],
    );
    assert!(o.result.is_ok());
    assert_eq!(o.password_calls, 0);
    assert!(!o.fake.written().contains("AUTH"));
}

#[test]
fn auth_external_does_not_ask_for_a_password() {
    let o = auth_run(
        "EXTERNAL",
        AuthSetting::Method(Mechanism::External),
        true,
        None,
        &["334 \r\n", "235 ok\r\n", OK, OK, GO, OK, BYE],
    );
    assert!(o.result.is_ok(), "{:?}", o.result.err());
    assert_eq!(o.password_calls, 0);
    assert!(o.fake.written().contains("AUTH EXTERNAL\r\n\r\n"));
}

#[test]
fn auth_xoauth2_and_oauthbearer_wire_formats() {
    let o = auth_run(
        "XOAUTH2",
        AuthSetting::Method(Mechanism::XOAuth2),
        true,
        Some("joe"),
        &["334 \r\n", "235 ok\r\n", OK, OK, GO, OK, BYE],
    );
    assert!(o.result.is_ok(), "{:?}", o.result.err());
    let want = auth::b64(b"user=joe\x01auth=Bearer secret\x01\x01");
    assert!(
        o.fake
            .written()
            .contains(&format!("AUTH XOAUTH2\r\n{want}\r\n"))
    );
    let o = auth_run(
        "OAUTHBEARER",
        AuthSetting::Method(Mechanism::OAuthBearer),
        true,
        Some("joe"),
        &["334 eyJzdGF0dXMiOiI0MDEifQ==\r\n", "535 no\r\n"],
    );
    assert_eq!(
        err(&o).message,
        "authentication failed (method OAUTHBEARER)"
    );
    let want = auth::b64(b"n,a=joe,\x01host=mx.example\x01port=587\x01auth=Bearer secret\x01\x01");
    assert!(
        o.fake
            .written()
            .contains(&format!("AUTH OAUTHBEARER {want}\r\n\r\n"))
    );
    assert!(o.transcript.contains("--> AUTH OAUTHBEARER (redacted)\r\n"));
}

// ---- LMTP ----

fn lmtp(after_dot: &[&str], rcpts: &[&str]) -> Outcome {
    let st = SessionSettings {
        protocol: Protocol::Lmtp,
        ..settings()
    };
    let mut chunks = vec![GREET, EHLO_PIPE];
    chunks.extend(std::iter::repeat_n(OK, rcpts.len() + 1));
    chunks.push(GO);
    chunks.extend_from_slice(after_dot);
    go_with(
        Fake::new(&chunks),
        &TlsSettings::default(),
        &st,
        &envelope(rcpts),
        None,
    )
}

#[test]
fn lmtp_reads_one_reply_per_recipient_and_quits_on_success() {
    let o = lmtp(&[OK, "250 ok too\r\n", BYE], &["r1", "r2"]);
    let d = o.result.as_ref().expect("ok");
    assert_eq!(d.accepted, ["r1", "r2"]);
    assert!(d.all_accepted());
    assert!(o.fake.written().starts_with("LHLO localhost\r\n"));
    assert!(o.fake.written().ends_with("QUIT\r\n"));
}

#[test]
fn lmtp_partial_failure_returns_replies_without_quit() {
    let o = lmtp(&[OK, "450 busy\r\n"], &["r1", "r2"]);
    let d = o.result.as_ref().expect("ok");
    assert!(!d.all_accepted());
    assert_eq!(d.accepted, ["r1"]);
    assert_eq!(d.refusals[0].0, "r2");
    assert_eq!(d.refusals[0].1.code, 450);
    assert!(!o.fake.written().contains("QUIT"));
}

// ---- transcript ----

#[test]
fn transcript_matches_msmtp_format() {
    let o = go(&[GREET, "250-fake\r\n250 SIZE 1000\r\n", OK, OK, GO, OK, BYE]);
    assert!(o.result.is_ok());
    assert_eq!(
        o.transcript,
        "<-- 220 fake ESMTP\r\n--> EHLO localhost\r\n<-- 250-fake\r\n<-- 250 SIZE 1000\r\n\
         --> MAIL FROM:<a@b.c>\r\n<-- 250 ok\r\n--> RCPT TO:<r@x.y>\r\n<-- 250 ok\r\n\
         --> DATA\r\n<-- 354 go\r\n--> Subject: x\r\n--> \r\n--> ..hi\r\n--> .\r\n\
         <-- 250 ok\r\n--> QUIT\r\n<-- 221 bye\r\n"
    );
}

// ---- envelope syntax ----

/// A queue entry's envelope is read back from disk, so the session checks it again: an address
/// that would add ESMTP parameters never reaches the server, not even as MAIL FROM.
#[test]
fn envelope_with_injected_parameters_is_refused_before_mail_from() {
    let mut env = envelope(&["r@x.y"]);
    env.from = "a@b> RET=FULL ENVID=inj <x".to_string();
    let o = go_with(
        Fake::new(&[GREET, EHLO_PIPE]),
        &TlsSettings::default(),
        &settings(),
        &env,
        None,
    );
    assert_eq!(err(&o).exit, Sysexit::Usage);
    assert!(
        !o.fake.written().contains("MAIL FROM"),
        "{}",
        o.fake.written()
    );

    let o = go_with(
        Fake::new(&[GREET, EHLO_PIPE]),
        &TlsSettings::default(),
        &settings(),
        &envelope(&["ok@x.y", "r@x.y> NOTIFY=NEVER"]),
        None,
    );
    assert_eq!(err(&o).exit, Sysexit::DataErr);
    assert_eq!(
        err(&o).message,
        "invalid recipient address r@x.y> NOTIFY=NEVER: it contains white space"
    );
    assert!(!o.fake.written().contains("MAIL FROM"));
}
