//! Sending over ssh (issue 12) without ssh: `proxy_command` (SMTP over a command's standard
//! input and output) through a small Python relay to the scripted server, and `pipe_command`
//! (the message on a command's standard input) into a fake `sendmail` that records its argv
//! and standard input, behind a fake `ssh` that, like the real one, joins its arguments and
//! hands them to a second shell.
//!
//! Every command here first starts a `sleep` in its own process group and notes its pid
//! (`MARK`): after postie has exited, that sleep must be gone, whatever the path.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;
use support::pki::pki;
use support::program::{Home, Run};
use support::server::{Action, ServerBuilder, Stage, TlsState};

/// A TCP relay between standard input/output and HOST PORT (what `ssh -W` does).
const RELAY: &str = r#"import os, select, socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
reading = True
while True:
    ready = select.select([0, s] if reading else [s], [], [])[0]
    if 0 in ready:
        data = os.read(0, 65536)
        if data:
            s.sendall(data)
        else:
            s.shutdown(socket.SHUT_WR)
            reading = False
    if s in ready:
        data = s.recv(65536)
        if not data:
            break
        while data:
            data = data[os.write(1, data):]
"#;

/// What `sendmail` records: its argv (one word a line) and its standard input, as
/// `argv.PID` and `stdin.PID` in DIR; it exits with the number in `DIR/exit` if there is one.
const FAKE_SENDMAIL: &str = r#"#!/bin/sh
d=DIR
printf '%s\n' "$@" > "$d/argv.$$"
cat > "$d/stdin.$$"
if [ -f "$d/exit" ]; then
  read code < "$d/exit"
  echo "sendmail: fatal: told to exit $code" >&2
  exit "$code"
fi
"#;

/// `ssh HOST WORDS...`: like ssh, the words joined by spaces, run by a second shell.
const FAKE_SSH: &str = "#!/bin/sh\nshift\nexec /bin/sh -c \"$*\"\n";

const MSG: &[u8] = b"To: r@x.org\nSubject: hi\n\nline one\n.\n..two dots\n.x\nlast\n";

struct Env {
    home: Home,
}

impl Env {
    fn new() -> Env {
        let home = Home::empty();
        std::fs::create_dir(home.path().join("rec")).expect("rec");
        let env = Env { home };
        env.home.write("relay.py", RELAY, 0o644);
        let rec = env.rec().display().to_string();
        env.home
            .write("bin/sendmail", &FAKE_SENDMAIL.replace("DIR", &rec), 0o755);
        env.home.write("bin/ssh", FAKE_SSH, 0o755);
        env
    }

    fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    fn rec(&self) -> PathBuf {
        self.path("rec")
    }

    /// Starts a sleep and notes its pid: the sleep must die with the command.
    fn mark(&self) -> String {
        format!("sleep 300 & echo $! >> {}; ", self.path("pids").display())
    }

    /// The relay to 127.0.0.1:%p, with [`Env::mark`].
    fn relay(&self) -> String {
        format!(
            "{}exec python3 {} 127.0.0.1 %p",
            self.mark(),
            self.path("relay.py").display()
        )
    }

    fn sendmail(&self) -> String {
        self.path("bin/sendmail").display().to_string()
    }

    fn ssh(&self) -> String {
        self.path("bin/ssh").display().to_string()
    }

    /// `account default` with these lines, a log file, `from a@x.org`.
    fn rc(&self, lines: &str) {
        self.home.write(
            ".msmtprc",
            &format!(
                "account default\nfrom a@x.org\nlogfile {}\nqueue_dir {}\nqueue_notify off\n{lines}\n",
                self.path("log").display(),
                self.path("q").display()
            ),
            0o600,
        );
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Run {
        let run = self.home.run(args, stdin);
        self.assert_no_leftovers();
        run
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("log")).unwrap_or_default()
    }

    fn rc_path(&self) -> String {
        self.path(".msmtprc").display().to_string()
    }

    /// The argv and standard input of each run of the fake sendmail, oldest first.
    fn recorded(&self) -> Vec<(Vec<String>, Vec<u8>)> {
        let mut runs: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(self.rec())
            .expect("rec")
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let pid = name.strip_prefix("argv.")?.to_owned();
                Some((e.metadata().ok()?.modified().ok()?, pid))
            })
            .collect();
        runs.sort();
        runs.into_iter()
            .map(|(_, pid)| {
                let argv =
                    std::fs::read_to_string(self.rec().join(format!("argv.{pid}"))).expect("argv");
                let stdin =
                    std::fs::read(self.rec().join(format!("stdin.{pid}"))).unwrap_or_default();
                (argv.lines().map(str::to_owned).collect(), stdin)
            })
            .collect()
    }

    fn exit_with(&self, code: Option<i32>) {
        let f = self.rec().join("exit");
        match code {
            Some(c) => std::fs::write(f, format!("{c}\n")).expect("exit file"),
            None => {
                let _ = std::fs::remove_file(f);
            }
        }
    }

    fn queued(&self) -> usize {
        toml_files(&self.path("q"))
    }

    fn set_aside(&self) -> usize {
        toml_files(&self.path("q").join("failed"))
    }

    /// Every sleep [`Env::mark`] started is gone (a zombie counts as gone).
    fn assert_no_leftovers(&self) {
        let pids = std::fs::read_to_string(self.path("pids")).unwrap_or_default();
        for pid in pids.lines() {
            let deadline = std::time::Instant::now() + Duration::from_secs(2);
            while alive(pid) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(!alive(pid), "process {pid} outlived its command");
        }
    }
}

fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

fn toml_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".toml"))
                .count()
        })
        .unwrap_or(0)
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

// ------------------------------------------------------------------ proxy_command --

fn tls_account(port: u16, host: &str, proxy: &str) -> String {
    format!(
        "host {host}\nport {port}\nproxy_command {proxy}\ntls on\ntls_trust_file {}\n\
         auth plain\nuser u\npassword p\n",
        pki().ca_pem.display()
    )
}

#[test]
fn proxy_command_carries_starttls_and_auth_checked_against_host() {
    let env = Env::new();
    let server = ServerBuilder::smtp()
        .starttls()
        .auth("PLAIN")
        .credentials("u", "p")
        .pipelining()
        .start();
    env.rc(&tls_account(server.port(), "localhost", &env.relay()));
    let r = env.run(&["r@x.org"], MSG);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stderr, "");
    // The certificate is checked against `host`, which the relay never saw.
    env.rc(&tls_account(server.port(), "other.example", &env.relay()));
    let bad = env.run(&["r@x.org"], MSG);
    assert_eq!(bad.code, 69, "{bad:?}");
    assert!(
        bad.stderr
            .starts_with("postie: TLS certificate verification failed: "),
        "{bad:?}"
    );
    let sessions = server.finish();
    let s = &sessions[0];
    assert_eq!(s.tls_state(), TlsState::StartTls);
    assert!(s.auth[0].ok && s.auth[0].user == "u");
    assert_eq!(s.rcpts, ["<r@x.org>"]);
    assert!(s.quit);
    let data = String::from_utf8_lossy(s.data.as_deref().unwrap_or_default()).into_owned();
    assert!(
        data.ends_with("line one\r\n..\r\n...two dots\r\n..x\r\nlast\r\n"),
        "{data}"
    );
    assert!(
        env.log().contains(
            "host=localhost tls=on auth=on user=u from=a@x.org recipients=r@x.org mailsize="
        ),
        "{}",
        env.log()
    );
}

#[test]
fn proxy_command_with_implicit_tls_and_serverinfo() {
    let env = Env::new();
    let server = ServerBuilder::smtp().implicit_tls().start();
    env.rc(&format!(
        "host localhost\nport {}\nproxy_command {}\ntls on\ntls_starttls off\ntls_trust_file {}\n",
        server.port(),
        env.relay(),
        pki().ca_pem.display()
    ));
    let r = env.run(&["r@x.org"], MSG);
    assert_eq!(r.code, 0, "{r:?}");
    let info = env.run(&["-S"], b"");
    assert_eq!(info.code, 0, "{info:?}");
    assert!(info.stdout.contains("localhost"), "{info:?}");
    let sessions = server.finish();
    assert_eq!(sessions.len(), 2);
    assert!(sessions.iter().all(|s| s.tls_state() == TlsState::Implicit));
}

#[test]
fn a_proxy_command_that_cannot_start_is_69() {
    let env = Env::new();
    env.rc(&format!(
        "host localhost\nport 25\nproxy_command {}/nonexistent/relay %h %p\n",
        env.mark()
    ));
    let r = env.run(&["r@x.org"], MSG);
    assert_eq!(r.code, 69, "{r:?}");
    let want = format!(
        "postie: cannot run proxy_command: exit status 127\n\
         postie: command message: /bin/sh: 1: /nonexistent/relay: not found\n\
         postie: could not send mail (account default from {})\n",
        env.rc_path()
    );
    assert_eq!(r.stderr, want);
    assert!(
        env.log().contains("exitcode=EX_UNAVAILABLE"),
        "{}",
        env.log()
    );
}

#[test]
fn a_proxy_command_that_ends_before_the_greeting_is_a_refused_connection_and_queued() {
    let env = Env::new();
    let failing = format!(
        "{}echo 'ssh: connect to host relay.example port 22: Connection refused' >&2; exit 255",
        env.mark()
    );
    env.rc(&format!(
        "host mail.example\nport 587\nproxy_command {failing}\n"
    ));
    let r = env.run(&["r@x.org"], MSG);
    assert_eq!(r.code, 75, "{r:?}");
    assert_eq!(
        lines(&r.stderr),
        [
            "postie: cannot connect to mail.example, port 587: proxy_command ended (exit status 255)",
            "postie: command message: ssh: connect to host relay.example port 22: Connection refused",
            &format!(
                "postie: could not send mail (account default from {})",
                env.rc_path()
            ),
        ]
    );
    // With the queue: kept (exit 0), and sent by a flush once the relay works.
    env.rc(&format!(
        "host mail.example\nport 587\nproxy_command {failing}\nqueue on\n"
    ));
    let r = env.run(&["r@x.org"], MSG);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    assert_eq!(env.queued(), 1);
    let server = ServerBuilder::smtp().start();
    env.rc(&format!(
        "host mail.example\nport {}\nproxy_command {}\nqueue on\n",
        server.port(),
        env.relay()
    ));
    let flush = env.run(&["-q"], b"");
    assert_eq!(flush.code, 0, "{flush:?}");
    assert_eq!(env.queued(), 0);
    let sessions = server.finish();
    assert!(sessions[0].data_complete);
}

#[test]
fn a_proxy_commands_output_is_bounded() {
    let env = Env::new();
    env.rc(&format!(
        "host h\nport 25\nproxy_command {}seq 1 200000 >&2; exit 1\n",
        env.mark()
    ));
    let r = env.run(&["r@x.org"], MSG);
    assert_eq!(r.code, 75, "{r:?}");
    let shown: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("postie: command message: "))
        .collect();
    assert_eq!(shown.len(), 10);
    assert_eq!(shown[9], "postie: command message: 200000");
}

#[test]
fn a_proxy_command_that_stalls_is_killed_after_timeout() {
    let env = Env::new();
    env.rc(&format!(
        "host h\nport 25\ntimeout 1\nproxy_command {}exec sleep 60\n",
        env.mark()
    ));
    let r = env.run(&["r@x.org"], MSG);
    assert_eq!(r.code, 74, "{r:?}");
    assert!(
        r.stderr
            .starts_with("postie: network read error: the operation timed out\n"),
        "{r:?}"
    );
    assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
}

#[test]
fn the_proxy_commands_process_group_ends_on_every_path() {
    let env = Env::new();
    // Refused recipient (the session ends with an error after the greeting).
    let server = ServerBuilder::smtp()
        .reply(Stage::Rcpt(1), "550 5.1.1 no such user")
        .start();
    env.rc(&format!(
        "host h\nport {}\nproxy_command {}\n",
        server.port(),
        env.relay()
    ));
    assert_eq!(env.run(&["r@x.org"], MSG).code, 65);
    drop(server);
    // The server closes the connection in the middle of the data.
    let server = ServerBuilder::smtp()
        .fault(Stage::DataBody, Action::Drop)
        .start();
    env.rc(&format!(
        "host h\nport {}\nproxy_command {}\n",
        server.port(),
        env.relay()
    ));
    let r = env.run(&["r@x.org"], MSG);
    assert_ne!(r.code, 0, "{r:?}");
    drop(server);
    // A relay that cannot connect, and a command that ignores its closed input.
    env.rc(&format!("host h\nport 1\nproxy_command {}\n", env.relay()));
    assert_eq!(env.run(&["r@x.org"], MSG).code, 75);
    env.rc(&format!(
        "host h\nport 25\ntimeout 1\nproxy_command {}trap '' TERM; printf '220 hi\\r\\n'; exec sleep 60\n",
        env.mark()
    ));
    let r = env.run(&["r@x.org"], MSG);
    assert_ne!(r.code, 0, "{r:?}");
    let pids = std::fs::read_to_string(env.path("pids")).unwrap_or_default();
    assert_eq!(pids.lines().count(), 4);
}

// ------------------------------------------------------------------- pipe_command --

const T_MSG: &[u8] = b"From: Alice <a@x.org>\nTo: T <t@x.org>\nCc: c@x.org\nBcc: b@x.org\n\
Subject: pipe\n\nline one\n.\n..two dots\n.x\nlast\n";

#[test]
fn pipe_command_gets_the_sent_message_and_the_envelope_as_words() {
    let env = Env::new();
    env.rc(&format!(
        "pipe_command {} mailhost {} -oi -f %f -- %r\n",
        env.ssh(),
        env.sendmail()
    ));
    let r = env.run(&["-t", "first.last+tag=x@sub.x.org"], T_MSG);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    let runs = env.recorded();
    assert_eq!(runs.len(), 1);
    let (argv, stdin) = &runs[0];
    assert_eq!(
        argv,
        &[
            "-oi",
            "-f",
            "a@x.org",
            "--",
            "first.last+tag=x@sub.x.org",
            "t@x.org",
            "c@x.org",
            "b@x.org"
        ]
    );
    let text = String::from_utf8_lossy(stdin);
    let (head, body) = text.split_once("\n\n").expect("header block");
    assert_eq!(body, "line one\n.\n..two dots\n.x\nlast\n");
    assert!(!text.contains('\r'));
    assert!(!head.to_ascii_lowercase().contains("bcc"), "{head}");
    for h in [
        "\nTo: T <t@x.org>",
        "\nCc: c@x.org",
        "\nSubject: pipe",
        "Date: ",
        "Message-ID: <",
    ] {
        assert!(head.contains(h), "{h} in {head}");
    }
    let log = env.log();
    assert!(
        log.contains(&format!(
            "host={} tls=off auth=off from=a@x.org recipients=first.last+tag=x@sub.x.org,t@x.org,c@x.org,b@x.org mailsize={} exitcode=EX_OK",
            env.ssh(),
            stdin.len()
        )),
        "{log}"
    );
}

#[test]
fn addresses_a_second_shell_would_read_differently_are_refused() {
    let env = Env::new();
    env.rc(&format!(
        "pipe_command {} mailhost {} -oi -f %f -- %r\n",
        env.ssh(),
        env.sendmail()
    ));
    for bad in [
        "`touch${IFS}pwned`@x.org",
        "a|touch${IFS}pwned@x.org",
        "a&touch${IFS}pwned&@x.org",
        "o'brien@x.org",
        "-oQ/tmp@x.org",
    ] {
        let r = env.run(&["--", "ok@x.org", bad], MSG);
        assert_eq!(r.code, 65, "{bad}: {r:?}");
        assert!(
            r.stderr.starts_with(&format!(
                "postie: recipient address {bad} cannot be passed safely to pipe_command (use proxy_command)\n"
            )),
            "{bad}: {r:?}"
        );
        let r = env.run(&["-f", bad, "ok@x.org"], MSG);
        assert_eq!(r.code, 64, "{bad}: {r:?}");
    }
    assert!(!env.path("pwned").exists());
    assert!(env.recorded().is_empty(), "the command ran");
    // Through the same two shells, plain addresses arrive as they are.
    let fine = "j\u{fc}rgen.m\u{fc}ller@b\u{fc}cher.example";
    let r = env.run(&["-f", "x_y%z@x.org", "--", fine], MSG);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        env.recorded()[0].0,
        ["-oi", "-f", "x_y%z@x.org", "--", fine]
    );
}

#[test]
fn without_percent_r_the_headers_must_carry_exactly_the_recipients() {
    let env = Env::new();
    env.rc(&format!("pipe_command {} -oi -t\n", env.sendmail()));
    let no_bcc = b"To: t@x.org\nCc: c@x.org\nSubject: s\n\nbody\n";
    let r = env.run(&["-t"], no_bcc);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    assert_eq!(env.recorded()[0].0, ["-oi", "-t"]);
    // A Bcc recipient would be lost (its header is removed).
    let r = env.run(&["-t"], T_MSG);
    assert_eq!(r.code, 65, "{r:?}");
    assert!(
        r.stderr.starts_with(
            "postie: pipe_command has no %r: recipient b@x.org is in no To or Cc header"
        ),
        "{r:?}"
    );
    // A recipient only on the command line, and a header address that is not a recipient.
    let r = env.run(&["other@x.org"], no_bcc);
    assert_eq!(r.code, 65, "{r:?}");
    let r = env.run(&["t@x.org"], no_bcc);
    assert_eq!(r.code, 65, "{r:?}");
    assert!(
        r.stderr
            .contains("c@x.org is in the headers but not a recipient"),
        "{r:?}"
    );
    // A kept Bcc header would be the remote side's to hide.
    env.rc(&format!(
        "pipe_command {} -oi -t\nremove_bcc_headers off\n",
        env.sendmail()
    ));
    let r = env.run(&["-t"], T_MSG);
    assert_eq!(r.code, 65, "{r:?}");
    assert!(r.stderr.contains("the message has a bcc header"), "{r:?}");
    assert_eq!(
        env.recorded().len(),
        1,
        "a refused message reached the command"
    );
}

#[test]
fn pipe_command_exit_statuses() {
    let env = Env::new();
    env.rc(&format!(
        "pipe_command {}{} -oi -f %f -- %r\n",
        env.mark(),
        env.sendmail()
    ));
    for (code, want, first) in [
        (75, 75, "postie: pipe_command failed: exit status 75"),
        (255, 75, "postie: pipe_command failed: exit status 255"),
        (67, 69, "postie: pipe_command failed: exit status 67"),
        (65, 65, "postie: pipe_command failed: exit status 65"),
        (1, 69, "postie: pipe_command failed: exit status 1"),
    ] {
        env.exit_with(Some(code));
        let r = env.run(&["r@x.org"], MSG);
        assert_eq!(r.code, want, "{code}: {r:?}");
        assert_eq!(
            lines(&r.stderr),
            [
                first,
                &format!("postie: command message: sendmail: fatal: told to exit {code}"),
                &format!(
                    "postie: could not send mail (account default from {})",
                    env.rc_path()
                ),
            ],
            "{code}"
        );
    }
    assert!(
        env.log()
            .contains("errormsg='pipe_command failed: exit status 67' exitcode=EX_UNAVAILABLE")
    );
    env.exit_with(None);
    // Plain words run without a shell; anything else through /bin/sh, one simple command with
    // `exec` (as ssh runs its ProxyCommand).
    env.rc("pipe_command /nonexistent/sendmail -t\n");
    let r = env.run(&["-t"], b"To: r@x.org\n\nbody\n");
    assert_eq!(r.code, 69, "{r:?}");
    assert_eq!(
        lines(&r.stderr),
        [
            "postie: cannot run pipe_command: No such file or directory",
            &format!(
                "postie: could not send mail (account default from {})",
                env.rc_path()
            ),
        ]
    );
    env.rc("pipe_command '/nonexistent/sendmail' -t\n");
    let r = env.run(&["-t"], b"To: r@x.org\n\nbody\n");
    assert_eq!(r.code, 69, "{r:?}");
    assert_eq!(
        lines(&r.stderr)[..2],
        [
            "postie: cannot run pipe_command: exit status 127",
            "postie: command message: /bin/sh: 1: exec: /nonexistent/sendmail: not found"
        ]
    );
    // A command that ends without reading the message has not taken it.
    env.rc(&format!("pipe_command {}exit 0\n", env.mark()));
    let big = [MSG, "x".repeat(2 << 20).as_bytes(), b"\n"].concat();
    let r = env.run(&["r@x.org"], &big);
    assert_eq!(r.code, 69, "{r:?}");
    assert!(
        r.stderr.starts_with(
            "postie: pipe_command failed: the command did not read the whole message (exit status 0)\n"
        ),
        "{r:?}"
    );
}

#[test]
fn pipe_command_failures_for_now_are_queued_and_for_good_set_aside() {
    let env = Env::new();
    env.rc(&format!(
        "pipe_command {} -oi -f %f -- %r\nqueue on\n",
        env.sendmail()
    ));
    env.exit_with(Some(75));
    let r = env.run(&["r@x.org"], MSG);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    assert_eq!(env.queued(), 1);
    env.exit_with(Some(255));
    let flush = env.run(&["-q"], b"");
    assert_eq!(flush.code, 0, "{flush:?}");
    assert_eq!(env.queued(), 1);
    env.exit_with(None);
    let flush = env.run(&["-q"], b"");
    assert_eq!(flush.code, 0, "{flush:?}");
    assert_eq!(env.queued(), 0);
    let runs = env.recorded();
    assert_eq!(runs.len(), 3);
    let (argv, stdin) = runs.last().unwrap();
    assert_eq!(argv, &["-oi", "-f", "a@x.org", "--", "r@x.org"]);
    assert!(stdin.ends_with(b"\n\nline one\n.\n..two dots\n.x\nlast\n"));
    // A permanent failure at flush time sets the message aside.
    env.exit_with(Some(75));
    assert_eq!(env.run(&["r@x.org"], MSG).code, 0);
    env.exit_with(Some(67));
    env.run(&["-q"], b"");
    assert_eq!((env.queued(), env.set_aside()), (0, 1));
}

#[test]
fn a_pipe_command_that_hangs_is_killed_after_timeout() {
    let env = Env::new();
    env.rc(&format!(
        "timeout 1\npipe_command {}exec sleep 60\n",
        env.mark()
    ));
    let r = env.run(&["r@x.org"], MSG);
    assert_eq!(r.code, 75, "{r:?}");
    assert!(
        r.stderr
            .starts_with("postie: pipe_command failed: the operation timed out\n"),
        "{r:?}"
    );
    assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
    // One that never reads: the write waits for room, then gives up.
    let big = [MSG, "y".repeat(4 << 20).as_bytes(), b"\n"].concat();
    let r = env.run(&["r@x.org"], &big);
    assert_eq!(r.code, 75, "{r:?}");
    assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
}

#[test]
fn pipe_command_streams_a_large_message_unchanged() {
    let env = Env::new();
    let out = env.path("out");
    env.rc(&format!("pipe_command cat > {}\n", out.display()));
    let mut body = Vec::new();
    for i in 0..100_000 {
        body.extend_from_slice(
            format!(".{i} starts with a dot\n..\n{}\n", "z".repeat(i % 80)).as_bytes(),
        );
    }
    let msg = [b"To: r@x.org\n\n".as_slice(), &body].concat();
    let r = env.run(&["r@x.org"], &msg);
    assert_eq!(r.code, 0, "{r:?}");
    let got = std::fs::read(&out).unwrap();
    assert!(got.ends_with(&body), "the body changed on the way");
}

#[test]
fn pipe_command_runs_no_password_helper() {
    let env = Env::new();
    let ran = env.path("helper-ran");
    env.rc(&format!(
        "auth on\nuser u\npasswordeval touch {}; echo pw\npipe_command {} -oi -f %f -- %r\n",
        ran.display(),
        env.sendmail()
    ));
    let r = env.run(&["r@x.org"], MSG);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    assert!(!ran.exists(), "passwordeval ran for pipe_command");
    assert_eq!(env.recorded().len(), 1);
}

#[test]
fn pipe_command_in_a_dry_run_and_with_serverinfo() {
    let env = Env::new();
    env.rc("pipe_command sendmail -oi -f %f -- %r\n");
    let r = env.run(&["--no-send", "r@x.org"], MSG);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("delivery: pipe_command 'sendmail -oi -f %f -- %r' (not run in a dry run)\n"),
        "{r:?}"
    );
    let r = env.run(&["-S"], b"");
    assert_eq!(r.code, 64, "{r:?}");
    assert_eq!(
        r.stderr,
        "postie: account default delivers with pipe_command: it has no SMTP server to talk to\n"
    );
}
