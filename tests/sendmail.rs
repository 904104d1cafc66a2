//! postie's sendmail mode end to end: the binary against the in-repo scripted server. The
//! differential suite proves sameness with msmtp; these tests pin what postie promises beyond
//! it (bad input, helpers that hang, no terminal, secrets, stdin draining, the From-header
//! account choice, the dry run) and the exact bytes on the wire.

mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::program::{Home, Options, POSTIE, Run};
use support::server::{Action, ServerBuilder, Session, Stage};

fn rc_for(port: u16, extra: &str) -> String {
    format!("account default\nhost 127.0.0.1\nport {port}\nfrom sender@example.com\n{extra}\n")
}

fn one_session(server: support::server::RunningServer) -> Session {
    let mut s = server.finish();
    assert_eq!(s.len(), 1, "expected one connection");
    s.remove(0)
}

/// The DATA bytes with the generated Date and Message-ID lines removed.
fn data_without_generated(s: &Session) -> String {
    let data = String::from_utf8_lossy(s.data.as_deref().expect("DATA received")).into_owned();
    data.split_inclusive("\r\n")
        .filter(|l| !l.starts_with("Date: ") && !l.starts_with("Message-ID: "))
        .collect()
}

#[test]
fn lf_crlf_dots_and_no_trailing_newline_on_the_wire() {
    let server = ServerBuilder::smtp().pipelining().start();
    let home = Home::new(&rc_for(server.port(), ""));
    let mail = b"From: a@example.com\r\nSubject: x\n\nline1\r\n.\n..two\nlast";
    let r = home.feed(&["r@example.org"], mail);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.is_empty() && r.stderr.is_empty(),
        "postie must be silent on success"
    );
    let s = one_session(server);
    assert_eq!(
        data_without_generated(&s),
        "From: a@example.com\r\nSubject: x\r\n\r\nline1\r\n..\r\n...two\r\nlast\r\n"
    );
    assert!(s.data_complete && s.quit && s.pipelined);
}

#[test]
fn bad_input_is_sent_faithfully() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("nul bytes", b"Subject: n\n\na\0b\n".to_vec()),
        ("100 KB line", {
            let mut m = b"Subject: long\n\n".to_vec();
            m.extend(std::iter::repeat_n(b'x', 100 * 1024));
            m.push(b'\n');
            m
        }),
        (
            "no blank line after headers",
            b"Subject: only headers\nX-A: b".to_vec(),
        ),
        ("no headers at all", b"\njust a body\n".to_vec()),
        (
            "invalid utf-8",
            b"Subject: \xff\xfe\n\n\xc3\x28 body\n".to_vec(),
        ),
        ("empty input", Vec::new()),
    ];
    for (name, mail) in cases {
        let server = ServerBuilder::smtp().start();
        let home = Home::new(&rc_for(server.port(), ""));
        let r = home.feed(&["r@example.org"], &mail);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let s = one_session(server);
        let data = s.data.expect("data");
        assert!(s.data_complete, "{name}");
        // The original bytes (as CRLF) must all be there, after the prepended headers.
        let mut expected = Vec::new();
        for line in mail.split_inclusive(|&b| b == b'\n') {
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            let body = body.strip_suffix(b"\r").unwrap_or(body);
            expected.extend_from_slice(body);
            expected.extend_from_slice(b"\r\n");
        }
        assert!(
            data.windows(expected.len().max(1))
                .any(|w| w == expected.as_slice())
                || expected.is_empty(),
            "{name}: body not intact"
        );
        assert!(
            data.starts_with(b"From: sender@example.com\r\n"),
            "{name}: From added"
        );
    }
}

#[test]
fn comma_separated_argument_from_cron_is_split() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc_for(server.port(), ""));
    let r = home.feed(
        &[
            "-FCronDaemon",
            "-i",
            "-B8BITMIME",
            "-oem",
            "a@x.org,b@y.org",
        ],
        b"Subject: cron\n\nout\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = one_session(server);
    assert_eq!(s.rcpts, vec!["<a@x.org>", "<b@y.org>"]);
    assert!(data_without_generated(&s).starts_with("From: CronDaemon <sender@example.com>\r\n"));
}

#[test]
fn bcc_is_removed_even_with_argv_recipients() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc_for(server.port(), ""));
    let r = home.feed(
        &["--", "to@x.org", "hidden@x.org"],
        b"To: to@x.org\nBcc: hidden@x.org,\n other@x.org\nSubject: s\n\nb\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = one_session(server);
    let data = data_without_generated(&s);
    assert!(
        !data.contains("Bcc") && !data.contains("other@x.org"),
        "{data}"
    );
}

#[test]
fn account_is_chosen_by_from_header_and_can_be_switched_off() {
    let two = |port: u16, extra: &str| {
        format!(
            "defaults\nhost 127.0.0.1\nport {port}\n{extra}\naccount work\nfrom bob@work.example\ndomain work.test\n\naccount default\nfrom me@home.example\n"
        )
    };
    let mail = b"From: Bob <bob@work.example>\nSubject: s\n\nb\n";

    let server = ServerBuilder::smtp().start();
    let home = Home::new(&two(server.port(), ""));
    let r = home.feed(&["r@x.org"], mail);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = one_session(server);
    assert_eq!(s.mail_from.as_deref(), Some("<bob@work.example>"));
    assert_eq!(s.greetings, vec!["EHLO work.test"]);

    let server = ServerBuilder::smtp().start();
    let home = Home::new(&two(server.port(), "select_account_by_from off"));
    let r = home.feed(&["r@x.org"], mail);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = one_session(server);
    assert_eq!(
        s.mail_from.as_deref(),
        Some("<me@home.example>"),
        "msmtp's choice when off"
    );
}

#[test]
fn program_name_follows_argv0_through_a_symlink() {
    let home = Home::new("account default\nhost 127.0.0.1\nfrom a@b\n");
    let link = home.path().join("sendmail");
    std::os::unix::fs::symlink(POSTIE, &link).expect("symlink");
    let as_link = Options::default().program(&link).must_read_stdin();
    let r = home.run_with(&[], b"Subject: s\n\nb\n", &as_link);
    assert_eq!(r.code, 64);
    assert_eq!(r.stderr, "sendmail: no recipients found\n");
    let r = home.run_with(&["-e"], b"", &as_link);
    assert_eq!(
        r.stderr,
        format!("{}: invalid option -- 'e'\n", link.display())
    );
}

#[test]
fn config_problems_have_clear_errors_and_codes() {
    let home = Home::new("account default\nhost 127.0.0.1\nbogus_command x\n");
    let r = home.feed(&["r@x.org"], b"Subject: s\n\nb\n");
    assert_eq!(r.code, 78);
    assert!(
        r.stderr
            .ends_with(".msmtprc: line 3: unknown command bogus_command\n"),
        "{}",
        r.stderr
    );

    let r = home.feed(&["-C", "/nonexistent/rc", "r@x.org"], b"x\n");
    assert_eq!(r.code, 74);
    assert_eq!(
        r.stderr,
        "postie: /nonexistent/rc: No such file or directory\n"
    );

    let home = Home::new("account default\nhost 127.0.0.1\nfrom a@b\n");
    let r = home.feed(&["-a", "nosuch", "r@x.org"], b"x\n");
    assert_eq!(r.code, 78);
    assert!(
        r.stderr.contains("account nosuch not found in"),
        "{}",
        r.stderr
    );

    // A directory where the file should be is unreadable as a config.
    let dir = home.path().join("rcdir");
    std::fs::create_dir(&dir).expect("mkdir");
    let r = home.feed(&["-C", dir.to_str().expect("utf8"), "r@x.org"], b"x\n");
    assert_eq!(r.code, 74, "{}", r.stderr);
}

#[test]
fn a_hanging_passwordeval_is_killed_with_a_clear_error() {
    let server = ServerBuilder::smtp().auth("PLAIN").start();
    let home = Home::new(&rc_for(
        server.port(),
        "auth plain\nuser joe\npasswordeval sleep 30; echo late",
    ));
    let r = home.run_with(
        &["r@x.org"],
        b"Subject: s\n\nb\n",
        &Options::default()
            .env(&[("POSTIE_HELPER_TIMEOUT", "1")])
            .must_read_stdin(),
    );
    assert_ne!(r.code, 0);
    assert!(r.elapsed < Duration::from_secs(10), "took {:?}", r.elapsed);
    assert!(
        r.stderr.contains("sleep 30; echo late") && r.stderr.contains("1 second"),
        "{}",
        r.stderr
    );
    drop(server);
}

#[test]
fn passwordeval_never_reads_the_mail() {
    let server = ServerBuilder::smtp()
        .auth("PLAIN")
        .credentials("joe", "pw")
        .start();
    let home = Home::new(&rc_for(
        server.port(),
        "auth plain\nuser joe\npasswordeval cat >/dev/null; echo pw",
    ));
    let body = "x".repeat(10_000);
    let r = home.feed(&["r@x.org"], format!("Subject: s\n\n{body}\n").as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = one_session(server);
    assert!(data_without_generated(&s).contains(&body));
}

#[test]
fn no_terminal_and_no_password_fails_fast() {
    let server = ServerBuilder::smtp().auth("PLAIN").start();
    let home = Home::new(&rc_for(server.port(), "auth plain\nuser joe"));
    let r = home.feed(&["r@x.org"], b"Subject: s\n\nb\n");
    assert_eq!(r.code, 69);
    assert!(
        r.stderr
            .starts_with("postie: authentication method PLAIN needs a password\n"),
        "{}",
        r.stderr
    );
    assert!(r.elapsed < Duration::from_secs(10));
}

#[test]
fn netrc_supplies_the_password() {
    let server = ServerBuilder::smtp()
        .auth("PLAIN")
        .credentials("joe", "from-netrc")
        .start();
    let home = Home::new(&rc_for(server.port(), "auth plain\nuser joe"));
    home.write(
        ".netrc",
        "machine 127.0.0.1 login joe password from-netrc\n",
        0o600,
    );
    let r = home.feed(&["r@x.org"], b"Subject: s\n\nb\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = one_session(server);
    assert!(s.auth[0].ok);
}

#[test]
fn secrets_never_appear_in_debug_or_pretend_output() {
    let server = ServerBuilder::smtp()
        .auth("PLAIN LOGIN")
        .credentials("joe", "s3cr3t-pw")
        .start();
    let home = Home::new(&rc_for(
        server.port(),
        "auth login\nuser joe\npassword s3cr3t-pw",
    ));
    let r = home.feed(&["-d", "r@x.org"], b"Subject: s\n\nb\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
    for text in [&r.stdout, &r.stderr] {
        assert!(!text.contains("s3cr3t-pw"), "password leaked: {text}");
        // base64 of the password, as LOGIN would send it
        assert!(
            !text.contains("czNjcjN0LXB3"),
            "encoded password leaked: {text}"
        );
    }
    assert!(r.stdout.contains("--> AUTH LOGIN"), "{}", r.stdout);
    let r = home.feed(&["-P", "r@x.org"], b"");
    assert!(r.stdout.contains("password = *") && !r.stdout.contains("s3cr3t"));
    drop(server.finish());
}

#[test]
fn early_failure_drains_a_large_stdin() {
    let home = Home::new("account default\nhost 127.0.0.1\n");
    let mut big = b"Subject: big\n\n".to_vec();
    big.extend(std::iter::repeat_n(b'y', 2 * 1024 * 1024));
    // No from address: a config-stage failure before anything reads the body.
    let r = home.feed(&["r@x.org"], &big);
    assert_eq!(r.code, 78, "{}", r.stderr);
    // Home::feed asserts that the whole input could be written.
}

#[test]
fn rejected_recipient_prints_msmtps_texts_and_logs() {
    let server = ServerBuilder::smtp()
        .fault(
            Stage::Rcpt(2),
            Action::Reply("550 5.1.1 no such user".into()),
        )
        .start();
    let home = Home::new(&rc_for(server.port(), "logfile ~/log"));
    let r = home.feed(&["a@x.org", "b@x.org"], b"Subject: s\n\nb\n");
    assert_eq!(r.code, 65);
    let rc_path = home.path().join(".msmtprc");
    assert_eq!(
        r.stderr,
        format!(
            "postie: recipient address b@x.org not accepted by the server\npostie: server message: 550 5.1.1 no such user\npostie: could not send mail (account default from {})\n",
            rc_path.display()
        )
    );
    let log = std::fs::read_to_string(home.path().join("log")).expect("log");
    assert!(log.ends_with(" host=127.0.0.1 tls=off auth=off from=sender@example.com recipients=a@x.org,b@x.org smtpstatus=550 smtpmsg='550 5.1.1 no such user' errormsg='recipient address b@x.org not accepted by the server' exitcode=EX_DATAERR\n"), "{log}");
    let s = one_session(server);
    assert!(
        !s.quit && !s.rset,
        "msmtp sends neither QUIT nor RSET after an error"
    );
}

#[test]
fn server_down_is_a_tempfail() {
    let server = ServerBuilder::smtp().no_listen().start();
    let home = Home::new(&rc_for(server.port(), ""));
    let r = home.feed(&["r@x.org"], b"Subject: s\n\nb\n");
    assert_eq!(r.code, 75);
    assert!(r.stderr.starts_with(&format!(
        "postie: cannot connect to 127.0.0.1, port {}: Connection refused\n",
        server.port()
    )));
}

#[test]
fn stalled_server_times_out() {
    let server = ServerBuilder::smtp()
        .fault(Stage::Mail, Action::Stall)
        .start();
    let home = Home::new(&rc_for(server.port(), "timeout 1"));
    let r = home.feed(&["r@x.org"], b"Subject: s\n\nb\n");
    assert_eq!(r.code, 74);
    assert!(
        r.stderr
            .starts_with("postie: network read error: the operation timed out\n"),
        "{}",
        r.stderr
    );
    assert!(r.elapsed < Duration::from_secs(10));
}

#[test]
fn dry_run_shows_envelope_and_bytes_without_connecting() {
    let home = Home::new(
        "account default\nhost 192.0.2.1\nport 587\ntls on\nauth on\nuser u\npasswordeval exit 1\nfrom me@x.org\n",
    );
    let r = home.feed(
        &["--no-send", "-t"],
        b"To: a@y.org\nBcc: b@y.org\nSubject: s\n\n.dot\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("server: 192.0.2.1 port 587, TLS: STARTTLS (required)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("passwordeval 'exit 1' (not run in a dry run)")
    );
    assert!(
        r.stdout
            .contains("MAIL FROM:<me@x.org>\nRCPT TO:<a@y.org>\nRCPT TO:<b@y.org>\nDATA\n")
    );
    assert!(
        r.stdout
            .contains("To: a@y.org\r\nSubject: s\r\n\r\n..dot\r\n.\r\n")
    );
    assert!(!r.stdout.contains("Bcc"));
}

#[test]
fn memory_stays_bounded_for_a_large_message() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc_for(server.port(), ""));
    let line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n";
    let mut mail = b"Subject: big\n\n".to_vec();
    while mail.len() < 40 * 1024 * 1024 {
        mail.extend_from_slice(line.as_bytes());
    }
    // 30 MB of address space is less than the message: holding it whole would fail.
    let r = home.run_with(
        &[
            "-c",
            "ulimit -v 30000; exec \"$0\" \"$@\"",
            POSTIE,
            "r@x.org",
        ],
        &mail,
        &Options::default().program("/bin/sh").must_read_stdin(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = one_session(server);
    assert!(s.data_complete);
    assert!(s.data.expect("data").len() > 40 * 1024 * 1024);
}

#[test]
fn password_prompt_on_the_terminal_while_the_mail_is_on_stdin() {
    let server = ServerBuilder::smtp()
        .auth("PLAIN")
        .credentials("joe", "typed-pw")
        .start();
    let home = Home::new(&rc_for(server.port(), "auth plain\nuser joe"));
    let mail = home.write("mail.eml", "Subject: s\n\ntyped\n", 0o600);
    let rc = home.path().join(".msmtprc");
    // `script` gives postie a controlling terminal; the mail comes from a file on stdin.
    let shell = format!(
        "{POSTIE} -C {} r@x.org < {}; echo rc=$?",
        rc.display(),
        mail.display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &shell, "/dev/null"])
        .env("HOME", home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script (util-linux) runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            let _ = tx.send(String::from_utf8_lossy(&seen).into_owned());
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut text = String::new();
    while !text.contains("password for joe at 127.0.0.1: ") {
        text = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the prompt appears on the terminal");
    }
    stdin.write_all(b"typed-pw\n").expect("type the password");
    while !text.contains("rc=") {
        text = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("postie finishes");
    }
    let _ = child.wait();
    assert!(text.contains("rc=0"), "{text}");
    let s = one_session(server);
    assert!(s.auth[0].ok && s.data_complete);
    assert!(data_without_generated(&s).contains("typed"));
}

#[test]
fn a_line_break_in_the_envelope_sender_is_refused() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc_for(server.port(), ""));
    // (A NUL cannot travel in argv; a config `from` produced by `eval` is checked the same way.)
    for from in ["a@b\nX-Injected: 1", "a@b\r\nRSET"] {
        let r = home.feed(&["-f", from, "r@x.org"], b"Subject: s\n\nb\n");
        assert_eq!(r.code, 64, "{from:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("contains a line break or NUL"),
            "{}",
            r.stderr
        );
    }
    assert!(server.finish().is_empty(), "nothing may reach the server");
}

#[test]
fn a_closed_stderr_does_not_crash_postie() {
    let home = Home::new("account default\nhost 127.0.0.1\nfrom a@b\n");
    // No recipients: the error goes to a stderr whose reader is gone.
    let code = home
        .run_with(&[], b"", &Options::default().closed_stderr())
        .status
        .code();
    assert_eq!(
        code,
        Some(64),
        "a closed stderr must not turn into a panic (101)"
    );
}

/// Runs postie under a 30 MB address-space limit with the output of the shell command
/// `generator` as its stdin, so that large inputs never exist in the test's memory.
fn run_fed_by(home: &Home, generator: &str, args: &[&str]) -> Run {
    let script = format!("ulimit -v 30000; {generator} | \"$0\" \"$@\"");
    let mut argv = vec!["-c", script.as_str(), POSTIE];
    argv.extend_from_slice(args);
    home.run_with(
        &argv,
        b"",
        &Options::default().program("/bin/sh").must_read_stdin(),
    )
}

#[test]
fn an_oversized_header_block_is_refused_in_bounded_memory() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc_for(server.port(), ""));
    let filler = "yes 'X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' | head -c 200000000";
    let one_line = "{ printf 'X-Big: '; head -c 200000000 /dev/zero | tr '\\0' a; }";
    let headers_then_body =
        "{ yes 'X-Filler: aaaaaaaaaaaaaaaaaaaaaaaa' | head -c 2000000; printf '\\nbody\\n'; }";
    for (generator, args) in [
        (filler, &["r@x.org"][..]),
        (filler, &["-t"]),
        (one_line, &["r@x.org"]),
        (one_line, &["-t", "r@x.org"]),
        (headers_then_body, &["r@x.org"]),
    ] {
        let r = run_fed_by(&home, generator, args);
        assert_eq!(r.code, 65, "{generator} {args:?}: {}", r.stderr);
        assert_eq!(
            r.stderr,
            "postie: the header of the mail is longer than 1 MiB: is the empty line after the header lines missing?\n"
        );
        assert!(r.elapsed < Duration::from_secs(10));
    }
    assert!(server.finish().is_empty(), "nothing may reach the server");
}

#[test]
fn a_large_mail_without_empty_line_is_sent_in_bounded_memory() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc_for(server.port(), ""));
    // A script forgot the empty line: its first output line ends the header lines.
    const LINE: &str = "2024-01-01 12:00:00 host cron[1]: job done\n";
    const LINES: usize = 1_000_000;
    let generator = format!(
        "{{ printf 'To: to@x.org\\nSubject: log\\n'; yes '{}' | head -c {}; }}",
        LINE.trim_end(),
        LINE.len() * LINES
    );
    let r = run_fed_by(&home, &generator, &["-t", "--set-msgid-header=off"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = one_session(server);
    assert_eq!(s.rcpts, ["<to@x.org>"]);
    assert!(s.data_complete);
    let data = s.data.expect("data");
    let head = b"To: to@x.org\r\nSubject: log\r\n2024-01-01 12:00:00 host cron[1]: job done\r\n";
    let start = data
        .windows(head.len())
        .position(|w| w == head)
        .expect("the header lines, then the body");
    assert_eq!(data.len() - start, 28 + (LINE.len() + 1) * LINES);
}

#[test]
fn bcc_with_white_space_before_the_colon_is_a_bcc_header() {
    // `Bcc :` (RFC 5322 obs-optional) is a Bcc header for receivers: it is a recipient with -t
    // and never transmitted; the same for To/Cc.
    let mail = b"From: a@example.com\nTo : to@x.org\nCc\t: cc@x.org\nBcc : hidden@x.org,\n second@x.org\nbcc\t\t: third@x.org\nSubject: s\n\nbody\n";
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc_for(server.port(), ""));
    let r = home.feed(&["-t"], mail);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = one_session(server);
    assert_eq!(
        s.rcpts,
        [
            "<to@x.org>",
            "<cc@x.org>",
            "<hidden@x.org>",
            "<second@x.org>",
            "<third@x.org>"
        ]
    );
    assert_eq!(
        data_without_generated(&s),
        "From: a@example.com\r\nTo : to@x.org\r\nCc\t: cc@x.org\r\nSubject: s\r\n\r\nbody\r\n"
    );
    // recipients from the command line: still removed
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc_for(server.port(), ""));
    let r = home.feed(&["to@x.org"], mail);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let data = data_without_generated(&one_session(server));
    assert!(
        !data.contains("hidden") && !data.contains("third"),
        "{data}"
    );
}

#[test]
fn from_date_and_message_id_with_white_space_before_the_colon_are_not_added_again() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc_for(server.port(), ""));
    let mail =
        "From : a@example.com\nDate\t: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID : <x@y>\n\nb\n";
    let r = home.feed(&["r@x.org"], mail.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = one_session(server);
    assert_eq!(s.mail_from.as_deref(), Some("<sender@example.com>"));
    assert_eq!(
        String::from_utf8_lossy(s.data.as_deref().expect("data")),
        mail.replace('\n', "\r\n")
    );
}

/// Whether a CR without LF after it, or an LF without CR before it, occurs.
fn has_bare_line_end(data: &[u8]) -> bool {
    data.iter().enumerate().any(|(i, &b)| {
        (b == b'\r' && data.get(i + 1) != Some(&b'\n'))
            || (b == b'\n' && (i == 0 || data[i - 1] != b'\r'))
    })
}

#[test]
fn a_bare_cr_or_lf_never_reaches_the_server() {
    // SMTP smuggling: `<CR>.<CR>` (or `<LF>.<LF>`) ends the data at a receiver that takes a bare
    // CR (LF) for a line end, and what follows becomes SMTP commands. Each bare CR or LF ends a
    // line instead, and the dot after it is stuffed.
    let smuggle = "MAIL FROM:<evil@x.org>\r\nRCPT TO:<victim@x.org>\r\nDATA\r\n\r\nforged\r\n";
    let server = ServerBuilder::smtp().pipelining().start();
    let home = Home::new(&rc_for(server.port(), ""));
    let mail =
        format!("From: a@example.com\nSubject: s\r\n\r\nbody\r.\r{smuggle}.\rmore\n.\nlast\r");
    let r = home.feed(&["r@x.org"], mail.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = one_session(server);
    assert_eq!(s.rcpts, ["<r@x.org>"]);
    let data = s.data.as_deref().expect("data");
    assert!(!has_bare_line_end(data), "{}", data.escape_ascii());
    assert_eq!(
        data_without_generated(&s),
        format!(
            "From: a@example.com\r\nSubject: s\r\n\r\nbody\r\n..\r\n{smuggle}..\r\nmore\r\n..\r\nlast\r\n"
        )
    );
}
