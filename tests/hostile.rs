//! A hostile caller: argv from a web application (PHP's `mail()` fifth parameter, a sender
//! name or address from a form), mistyped subcommands, and a process that wants the secret out
//! of postie's memory. Each test is the regression test of one defect of issue 9 and checks
//! what reached the server, not only the exit code.

mod support;

use support::program::{Home, Options, is_root};
use support::server::ServerBuilder;

const MSG: &[u8] = b"Subject: hi\n\nbody\n";

fn rc_for(port: u16, extra: &str) -> String {
    format!("account default\nhost 127.0.0.1\nport {port}\nfrom sender@example.com\n{extra}\n")
}

// --- subcommands ---------------------------------------------------------------------------

#[test]
fn queue_subcommand_after_global_options_lists_and_sends_nothing() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new("");
    let q = home.path().join("q");
    let rc = home.write(
        "rc",
        &rc_for(server.port(), &format!("queue_dir {}", q.display())),
        0o600,
    );
    let rc = rc.to_str().expect("utf-8");
    for args in [
        vec!["-C", rc, "queue", "list"],
        vec!["--file", rc, "-v", "queue", "list"],
        vec!["-C", rc, "queue"],
    ] {
        let r = home.run(&args, b"");
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        assert_eq!(r.stdout, "Mail queue is empty\n", "{args:?}");
    }
    assert!(server.finish().is_empty(), "nothing may be sent");
}

#[test]
fn mistyped_subcommand_with_an_empty_message_is_refused() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc_for(server.port(), ""));
    for args in [vec!["queeu", "list"], vec!["qeue"], vec!["--", "queue"]] {
        let r = home.run(&args, b"");
        assert_eq!(r.code, 64, "{args:?}: {r:?}");
        assert!(
            r.stderr.contains("did you mean \"postie queue ...\"?"),
            "{args:?}: {}",
            r.stderr
        );
    }
    // Under the sendmail name `queue` is never a subcommand, but an empty message to it is
    // still a mistake rather than mail.
    let r = home.run_with(
        &["queue", "list"],
        b"",
        &Options {
            name: Some("sendmail"),
            ..Options::default()
        },
    );
    assert_eq!(r.code, 64, "{r:?}");
    assert!(server.finish().is_empty(), "nothing may be sent");
}

#[test]
fn a_real_message_to_a_similar_local_name_is_sent() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc_for(server.port(), ""));
    let r = home.run(&["queen"], MSG);
    assert_eq!(r.code, 0, "{r:?}");
    let s = server.finish();
    assert_eq!(s[0].rcpts, vec!["<queen>"]);
}

// --- header and envelope injection ---------------------------------------------------------

#[test]
fn full_name_with_a_line_break_is_refused_before_connecting() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc_for(server.port(), ""));
    for name in [
        "Name\r\nBcc: inj@evil\r\nX-Inj: 1",
        "Name\n\nbody text",
        "Name\u{1b}[31m",
    ] {
        let r = home.run(&["-F", name, "-f", "a@b.c", "rcpt@x.org"], MSG);
        assert_eq!(r.code, 64, "{name:?}: {r:?}");
        assert!(
            r.stderr.contains("invalid full name") && r.stderr.contains("control character"),
            "{}",
            r.stderr
        );
        assert!(!r.stderr.contains('\r') && !r.stderr.contains('\u{1b}'));
    }
    assert!(server.finish().is_empty(), "nothing may be sent");
}

#[test]
fn from_full_name_with_a_control_character_is_a_config_error() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc_for(server.port(), "from_full_name Evil\rBcc: x@y"));
    let r = home.run(&["rcpt@x.org"], b"To: rcpt@x.org\n\nbody\n");
    assert_eq!(r.code, 78, "{r:?}");
    assert!(r.stderr.contains("from_full_name"), "{}", r.stderr);
    assert!(server.finish().is_empty());
}

#[test]
fn full_name_with_specials_is_quoted_plain_names_are_not() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc_for(server.port(), ""));
    for name in ["Doe, John", "CronDaemon", "J. Doe", "\"Already, Quoted\""] {
        let r = home.run(&["-F", name, "rcpt@x.org"], b"Subject: s\n\nb\n");
        assert_eq!(r.code, 0, "{r:?}");
    }
    let froms: Vec<String> = server
        .finish()
        .iter()
        .map(|s| {
            let data = String::from_utf8_lossy(s.data.as_deref().expect("data")).into_owned();
            data.lines()
                .find(|l| l.starts_with("From: "))
                .expect("From")
                .to_owned()
        })
        .collect();
    assert_eq!(
        froms,
        [
            "From: \"Doe, John\" <sender@example.com>",
            "From: CronDaemon <sender@example.com>",
            "From: J. Doe <sender@example.com>",
            "From: \"Already, Quoted\" <sender@example.com>",
        ]
    );
}

#[test]
fn envelope_from_with_esmtp_parameters_is_refused() {
    let server = ServerBuilder::smtp().dsn().start();
    let home = Home::new(&rc_for(server.port(), ""));
    for from in [
        "a@b> RET=FULL ENVID=inj <x",
        "<?=`id`?>@x",
        "a b@c",
        "a@b\tc",
    ] {
        let r = home.run(&["-f", from, "rcpt@x.org"], MSG);
        assert_eq!(r.code, 64, "{from:?}: {r:?}");
        assert!(
            r.stderr.contains("invalid envelope-from address"),
            "{}",
            r.stderr
        );
    }
    // The dry run refuses it too: it shows what would be sent, and this would not be.
    let r = home.run(&["--no-send", "-f", "a@b> RET=FULL", "rcpt@x.org"], MSG);
    assert_eq!(r.code, 64, "{r:?}");
    assert!(server.finish().is_empty(), "nothing may be sent");
}

#[test]
fn recipients_are_checked_and_odd_but_valid_ones_are_sent() {
    let server = ServerBuilder::smtp().dsn().start();
    let home = Home::new(&rc_for(server.port(), ""));
    // msmtp's address scanner turns a quoted local part into `@x.org`, which msmtp sends and a
    // server refuses (65); postie refuses it before connecting, with the same code.
    let r = home.run(&["-t"], b"To: ok@x.org, \"john doe\"@x.org\n\nbody\n");
    assert_eq!(r.code, 65, "{r:?}");
    assert!(
        r.stderr
            .contains("invalid recipient address @x.org: its local part is empty"),
        "{}",
        r.stderr
    );
    let r = home.run(
        &["-t", "--", "root"],
        "To: o'brien@x.ie, j\u{fc}rgen@m\u{fc}ller.example\n\nbody\n".as_bytes(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let s = server.finish();
    assert_eq!(s.len(), 1, "only the valid message reaches the server");
    assert_eq!(
        s[0].rcpts,
        vec![
            "<root>",
            "<o'brien@x.ie>",
            "<j\u{fc}rgen@m\u{fc}ller.example>"
        ]
    );
}

// --- argv from others under the sendmail name ----------------------------------------------

fn as_sendmail() -> Options<'static> {
    Options {
        name: Some("sendmail"),
        ..Options::default()
    }
}

#[test]
fn sendmail_name_refuses_options_that_run_commands_or_choose_files() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc_for(server.port(), ""));
    let marker = home.path().join("ran");
    let shell = home.path().join("shell.php");
    let evil = home.write(
        "evil.rc",
        &format!(
            "account default\nhost 127.0.0.1\nport {}\nfrom a@b.c\neval touch {}\n",
            server.port(),
            marker.display()
        ),
        0o600,
    );
    let pe = format!("--passwordeval=touch {}", marker.display());
    let cases: Vec<Vec<String>> = vec![
        vec!["-t".into(), "--auth=on".into(), "--user=u".into(), pe],
        vec!["-t".into(), "-C".into(), evil.display().to_string()],
        vec![
            "-t".into(),
            "-X".into(),
            shell.display().to_string(),
            "-f".into(),
            "x@y.org".into(),
        ],
        vec![format!("-X{}", shell.display()), "rcpt@x.org".into()],
        vec!["-t".into(), "--aliases=/etc/shadow".into()],
        vec!["-t".into(), "--tls-trust-file=/etc/shadow".into()],
    ];
    for args in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = home.run_with(&args, b"To: rcpt@x.org\n\nbody\n", &as_sendmail());
        assert_eq!(r.code, 64, "{args:?}: {r:?}");
        assert!(
            r.stderr.contains("is refused when called as sendmail")
                && r.stderr.contains("trust_sendmail_argv on"),
            "{}",
            r.stderr
        );
    }
    assert!(!marker.exists(), "no command may run");
    assert!(!shell.exists(), "no file may be written");
    // What clients really pass works under the sendmail name.
    let r = home.run_with(
        &["-oi", "-t", "-fbounce@example.com", "-FWeb App", "-odi"],
        b"To: rcpt@x.org\n\nbody\n",
        &as_sendmail(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let s = server.finish();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].mail_from.as_deref(), Some("<bounce@example.com>"));
}

#[test]
fn trust_sendmail_argv_in_the_users_own_file_allows_them() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&format!(
        "trust_sendmail_argv on\n{}",
        rc_for(server.port(), "")
    ));
    let log = home.path().join("log");
    let r = home.run_with(
        &["-X", log.to_str().expect("utf-8"), "rcpt@x.org"],
        MSG,
        &as_sendmail(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        log.exists(),
        "the log file is written when the user allowed -X"
    );
    // A -C file cannot grant itself the trust.
    let other = home.write(
        "other.rc",
        &format!("trust_sendmail_argv on\n{}", rc_for(server.port(), "")),
        0o600,
    );
    std::fs::write(home.path().join(".msmtprc"), rc_for(server.port(), "")).expect("rc");
    let r = home.run_with(
        &["-C", other.to_str().expect("utf-8"), "rcpt@x.org"],
        MSG,
        &as_sendmail(),
    );
    assert_eq!(r.code, 64, "{r:?}");
    assert_eq!(server.finish().len(), 1);
}

#[test]
fn postie_and_msmtp_names_keep_every_option() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new("");
    let rc = home.write("rc", &rc_for(server.port(), ""), 0o600);
    for name in [None, Some("msmtp")] {
        let r = home.run_with(
            &["-C", rc.to_str().expect("utf-8"), "rcpt@x.org"],
            MSG,
            &Options {
                name,
                ..Options::default()
            },
        );
        assert_eq!(r.code, 0, "{name:?}: {r:?}");
    }
    assert_eq!(server.finish().len(), 2);
}

// --- secrets in memory ---------------------------------------------------------------------

/// The owner of `/proc/PID` is root while a process is not dumpable; a helper run by
/// `passwordeval` looks at its parent (postie) at the moment the password is being fetched.
#[test]
fn postie_is_not_dumpable_while_a_password_source_runs() {
    let uid: u32 = if is_root() {
        65534
    } else {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() }
    };
    let home = Home::new("");
    let owner = home.path().join("owner");
    home.write(
        ".msmtprc",
        &format!(
            "account default\nhost 127.0.0.1\nport 1\nfrom a@b.c\nauth plain\nuser u\n\
             passwordeval stat -c %u /proc/$PPID/status > {}; echo secret\n",
            owner.display()
        ),
        0o600,
    );
    if is_root() {
        home.give_to(uid);
    }
    let r = home.run_with(
        &["rcpt@x.org"],
        MSG,
        &Options {
            uid: is_root().then_some(uid),
            ..Options::default()
        },
    );
    assert_ne!(r.code, 0, "port 1 refuses: {r:?}");
    let seen = std::fs::read_to_string(&owner).expect("the helper ran");
    assert_eq!(
        seen.trim(),
        "0",
        "postie (uid {uid}) was dumpable while its password helper ran"
    );
}

// --- dry runs ------------------------------------------------------------------------------

/// `-P` and `--no-send` run no password helper and connect nowhere, in every mode (msmtp runs
/// passwordeval for `-P`, which can mean a gpg prompt).
#[test]
fn dry_runs_run_no_helper_and_connect_nowhere_in_any_mode() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new("");
    let marker = home.path().join("ran");
    home.write(
        ".msmtprc",
        &format!(
            "account default\nhost 127.0.0.1\nport {}\nfrom a@b.c\nauth plain\nuser u\n\
             passwordeval touch {}; echo pw\nlogfile {}\n",
            server.port(),
            marker.display(),
            home.path().join("log").display()
        ),
        0o600,
    );
    for args in [
        vec!["-P", "rcpt@x.org"],
        vec!["-P", "-t"],
        vec!["--no-send", "rcpt@x.org"],
        vec!["-P", "-S"],
        vec!["--no-send", "-S"],
        vec!["-P", "--rmqs=x.org"],
        vec!["--no-send", "--rmqs=x.org"],
        vec!["-P", "-d", "rcpt@x.org"],
        vec!["--no-send", "-d", "-X", "-", "rcpt@x.org"],
    ] {
        let r = home.run(&args, b"To: rcpt@x.org\n\nbody\n");
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        assert!(
            r.stdout.contains("passwordeval = touch")
                || r.stdout.contains("password from passwordeval"),
            "{args:?} shows the settings: {}",
            r.stdout
        );
        assert!(!marker.exists(), "{args:?} ran passwordeval");
    }
    assert!(!home.path().join("log").exists(), "no log line");
    assert!(server.finish().is_empty(), "no connection");
}
