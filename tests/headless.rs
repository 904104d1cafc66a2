//! The headless server (issue 11): a password cache in the kernel keyring that outlives
//! gpg-agent, `postie unlock`/`lock`, a stale cached password evicted after the server refuses
//! it, and a queue that waits for `postie unlock` instead of failing when nobody is at a
//! terminal. Against the scripted server; the helper counts its runs in a file.
//!
//! Where the kernel refuses keyring calls (a seccomp profile), the cache tests are skipped with
//! a note; CI runs on a machine that has it.

mod support;

use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;
use support::program::{Home, Options};
use support::server::ServerBuilder;

const MSG: &[u8] = b"Subject: hi\n\nbody\n";

fn keyring_available() -> bool {
    // SAFETY: keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0) has no pointer arguments.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, 0, -4i64, 0) };
    if r < 0 {
        eprintln!("skipped: the kernel keyring is not available here");
    }
    r >= 0
}

/// A HOME whose account authenticates as `u` with the password the helper prints: the
/// content of `HOME/pw`. Each run of the helper appends a line to `HOME/runs`.
struct Setup {
    home: Home,
}

impl Setup {
    fn new(port: u16, extra: &str) -> Setup {
        let home = Home::empty();
        let pw = home.path().join("pw");
        let runs = home.path().join("runs");
        std::fs::write(&pw, "secret-one\n").expect("pw");
        home.write(
            ".msmtprc",
            &format!(
                "account work\nhost 127.0.0.1\nport {port}\nfrom a@b.example\nauth plain\nuser u\n\
                 passwordeval echo run >> {runs}; cat {pw}\nlogfile {log}\n{extra}\n\
                 account default : work\n",
                runs = runs.display(),
                pw = pw.display(),
                log = home.path().join("log").display()
            ),
            0o600,
        );
        Setup { home }
    }

    fn runs(&self) -> usize {
        std::fs::read_to_string(self.home.path().join("runs"))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    fn set_password(&self, pw: &str) {
        std::fs::write(self.home.path().join("pw"), format!("{pw}\n")).expect("pw");
    }

    fn send(&self, args: &[&str]) -> support::program::Run {
        let mut all = vec!["-a", "work"];
        all.extend_from_slice(args);
        all.push("rcpt@x.org");
        self.home.run(&all, MSG)
    }

    fn postie(&self, args: &[&str]) -> support::program::Run {
        self.home.run(args, b"")
    }

    fn point_to(&self, port: u16) {
        let rc = self.home.path().join(".msmtprc");
        let text = std::fs::read_to_string(&rc).expect("rc");
        let text: String = text
            .lines()
            .map(|l| {
                if l.starts_with("port ") {
                    format!("port {port}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(rc, text).expect("rc");
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        // Other tests (and the user's own postie) share the user keyring.
        let _ = self.home.run(&["lock", "-a", "work"], b"");
    }
}

fn server(password: &str) -> support::server::RunningServer {
    ServerBuilder::smtp()
        .auth("PLAIN")
        .credentials("u", password)
        .start()
}

#[test]
fn five_sends_run_the_helper_once_and_lock_makes_it_run_again() {
    if !keyring_available() {
        return;
    }
    let srv = server("secret-one");
    let s = Setup::new(srv.port(), "password_cache 1h");
    for _ in 0..5 {
        let r = s.send(&[]);
        assert_eq!(r.code, 0, "{r:?}");
    }
    assert_eq!(s.runs(), 1, "the cache answers after the first run");
    let r = s.postie(&["lock", "-a", "work"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "forgot 1 cached password(s)\n")
    );
    assert_eq!(s.send(&[]).code, 0);
    assert_eq!(s.runs(), 2, "locked: the helper runs again");
    let sessions = srv.finish();
    assert_eq!(sessions.len(), 6);
    assert!(sessions.iter().all(|x| x.auth[0].ok && x.data_complete));
}

#[test]
fn unlock_then_sends_run_the_helper_once_in_all_even_from_a_new_session_keyring() {
    if !keyring_available() {
        return;
    }
    let srv = server("secret-one");
    // No password_cache: --for caches anyway.
    let s = Setup::new(srv.port(), "");
    let r = s.postie(&["unlock", "-a", "work", "--for", "10m"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "account work: password cached for 10m\n");
    assert_eq!(s.runs(), 1);
    let status = s.postie(&["unlock", "--status"]);
    assert!(
        status.stdout.contains("work: cached, expires in"),
        "{status:?}"
    );
    assert!(!status.stdout.contains("secret-one"));
    // Without password_cache a send does not use the cache; with it, it does.
    s.set_password("secret-one");
    let rc = s.home.path().join(".msmtprc");
    let text = std::fs::read_to_string(&rc).expect("rc");
    std::fs::write(
        &rc,
        text.replace("account default", "password_cache 10m\naccount default"),
    )
    .expect("rc");
    assert_eq!(s.send(&[]).code, 0);
    // A new session keyring (`keyctl session -`): cron and systemd start processes so.
    let mut cmd = s
        .home
        .command(&["-a", "work", "rcpt@x.org"], &Options::default());
    // SAFETY: keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL) is async-signal-safe and takes no
    // pointer we own.
    unsafe {
        cmd.pre_exec(|| {
            libc::syscall(libc::SYS_keyctl, 1, 0usize);
            Ok(())
        });
    }
    let mut child = cmd.stdin(Stdio::piped()).spawn().expect("spawn");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), MSG).expect("write");
    assert!(child.wait().expect("wait").success());
    assert_eq!(s.runs(), 1, "one helper run in all");
    assert_eq!(srv.finish().len(), 2);
}

#[test]
fn a_cached_secret_expires() {
    if !keyring_available() {
        return;
    }
    let srv = server("secret-one");
    let s = Setup::new(srv.port(), "password_cache 2s");
    assert_eq!(s.send(&[]).code, 0);
    assert_eq!(s.send(&[]).code, 0);
    assert_eq!(s.runs(), 1);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(s.send(&[]).code, 0);
    assert_eq!(s.runs(), 2, "expired: the helper runs again");
    drop(srv.finish());
}

#[test]
fn without_password_cache_every_send_runs_the_helper() {
    let srv = server("secret-one");
    let s = Setup::new(srv.port(), "");
    for _ in 0..3 {
        assert_eq!(s.send(&[]).code, 0);
    }
    assert_eq!(s.runs(), 3);
    drop(srv.finish());
}

#[test]
fn a_refused_cached_password_is_evicted_and_the_helper_asked_once_more() {
    if !keyring_available() {
        return;
    }
    let old = server("secret-one");
    let s = Setup::new(old.port(), "password_cache 1h");
    assert_eq!(s.send(&[]).code, 0);
    assert_eq!(s.runs(), 1);
    let port = old.port();
    drop(old.finish());
    // The password changed: the server (same address) wants the new one, the helper now
    // prints it, the cache still holds the old one.
    let new = ServerBuilder::smtp()
        .auth("PLAIN")
        .credentials("u", "secret-two")
        .start_on(port);
    s.set_password("secret-two");
    let r = s.send(&["-d"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.runs(), 2, "the helper ran once more");
    let sessions = new.finish();
    assert_eq!(sessions.len(), 1, "one send, one connection");
    let auth: Vec<bool> = sessions[0].auth.iter().map(|a| a.ok).collect();
    assert_eq!(auth, [false, true], "refused once, then accepted");
    // A refusal of a password that did not come from the cache is the usual error.
    let other = ServerBuilder::smtp()
        .auth("PLAIN")
        .credentials("u", "secret-three")
        .start_on(port);
    let r = s.send(&[]);
    assert_eq!(r.code, 77, "{r:?}");
    assert_eq!(
        other.finish()[0].auth.len(),
        2,
        "the fresh secret from the cache is retried"
    );
}

#[test]
fn the_secret_appears_in_no_file_output_or_log_line() {
    if !keyring_available() {
        return;
    }
    let srv = server("secret-one");
    let s = Setup::new(srv.port(), "password_cache 1h\nqueue on\nqueue_dir QDIR");
    let rc = s.home.path().join(".msmtprc");
    let q = s.home.path().join("q");
    let text = std::fs::read_to_string(&rc)
        .expect("rc")
        .replace("QDIR", &q.display().to_string());
    std::fs::write(&rc, text).expect("rc");
    // Everything postie or its helper could write goes under HOME: the queue, the log, and
    // TMPDIR.
    let tmp = s.home.path().join("tmp");
    std::fs::create_dir(&tmp).expect("tmp");
    let tmp_env = tmp.display().to_string();
    let env = [("TMPDIR", tmp_env.as_str())];
    let opts = Options::default().env(&env);
    let run = |args: &[&str]| s.home.run_with(args, MSG, &opts);
    let r = run(&["-a", "work", "-d", "rcpt@x.org"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r2 = run(&["-a", "work", "-v", "rcpt@x.org"]);
    let status = run(&["unlock", "--status"]);
    let queued = run(&["-a", "work", "-odq", "rcpt@x.org"]);
    let listing = run(&["queue", "list"]);
    for text in [
        &r.stdout,
        &r.stderr,
        &r2.stdout,
        &r2.stderr,
        &status.stdout,
        &queued.stdout,
        &listing.stdout,
    ] {
        assert!(!text.contains("secret-one"), "{text}");
    }
    drop(srv.finish());
    let mut todo = vec![s.home.path().to_path_buf()];
    let mut found = Vec::new();
    while let Some(p) = todo.pop() {
        if p == s.home.path().join("pw") || p == s.home.path().join("bin") {
            continue;
        }
        if p.is_dir() {
            todo.extend(
                std::fs::read_dir(&p)
                    .expect("dir")
                    .flatten()
                    .map(|e| e.path()),
            );
        } else if std::fs::read(&p).is_ok_and(|b| b.windows(10).any(|w| w == b"secret-one")) {
            found.push(p);
        }
    }
    assert!(found.is_empty(), "the secret was written to {found:?}");
    assert!(q.join("tmp").exists() || q.exists(), "the queue was used");
}

// --- the queue waits for you ------------------------------------------------------------------

#[test]
fn a_queued_message_waits_for_unlock_then_goes_out_once() {
    if !keyring_available() {
        return;
    }
    // Server down, queue on: the send queues it (the helper works now).
    let s = Setup::new(
        1,
        &format!(
            "queue on\nqueue_dir {}\npassword_cache 1h",
            std::env::temp_dir()
                .join(format!("postie-headless-q-{}", std::process::id()))
                .display()
        ),
    );
    let q = s.home.path().join("q");
    let rc = s.home.path().join(".msmtprc");
    let text = std::fs::read_to_string(&rc).expect("rc");
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("queue_dir ") {
                format!("queue_dir {}\n", q.display())
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&rc, text).expect("rc");
    let r = s.send(&[]);
    assert_eq!(r.code, 0, "queued: {r:?}");
    // The cache is locked and the helper fails (gpg-agent forgot, nobody at a terminal).
    let _ = s.postie(&["lock", "-a", "work"]);
    std::fs::remove_file(s.home.path().join("pw")).expect("rm pw");
    let srv = server("secret-one");
    s.point_to(srv.port());
    let r = s.postie(&["-q"]);
    assert_eq!(r.code, 0, "a wait is a deferral: {r:?}");
    let listing = s.postie(&["-bp"]);
    assert!(
        listing
            .stdout
            .contains("waiting for a password: run postie unlock -a work"),
        "{}",
        listing.stdout
    );
    // The user unlocks (the helper works again at the terminal): the next flush delivers once.
    s.set_password("secret-one");
    let r = s.postie(&["unlock", "-a", "work"]);
    assert_eq!(r.code, 0, "{r:?}");
    let runs = s.runs();
    let r = s.postie(&["-q"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.runs(), runs, "the flush used the cache");
    let listing = s.postie(&["-bp"]);
    assert_eq!(listing.stdout, "Mail queue is empty\n");
    let sessions = srv.finish();
    let delivered = sessions.iter().filter(|x| x.data_complete).count();
    assert_eq!(delivered, 1, "delivered exactly once");
}

#[test]
fn at_send_time_a_missing_password_queues_the_message() {
    let s = Setup::new(
        1,
        "queue on\nqueue_dir QDIR", // replaced below
    );
    let q = s.home.path().join("q");
    let rc = s.home.path().join(".msmtprc");
    let text = std::fs::read_to_string(&rc)
        .expect("rc")
        .replace("QDIR", &q.display().to_string());
    std::fs::write(&rc, text).expect("rc");
    std::fs::remove_file(s.home.path().join("pw")).expect("rm pw");
    // Queued, so a success for the caller: no output at all (cron would mail it), not even
    // the helper's own complaint (`cat: ...: No such file or directory`).
    let r = s.send(&[]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (0, "", ""),
        "{r:?}"
    );
    let r = s.send(&["-v"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("No such file"),
        "-v shows the helper's stderr: {}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("waiting for a password: run postie unlock -a work"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("message queued as"), "{}", r.stderr);
    // Without queue on, the same failure is msmtp's error.
    let text = std::fs::read_to_string(&rc)
        .expect("rc")
        .replace("queue on\n", "");
    std::fs::write(&rc, text).expect("rc");
    let r = s.send(&[]);
    assert_eq!(r.code, 78, "{r:?}");
}

/// A seccomp filter that fails the keyring system calls with `ENOSYS`, as a container's default
/// profile does (x86_64 only; elsewhere the test is skipped).
#[cfg(target_arch = "x86_64")]
fn deny_keyring() -> std::io::Result<()> {
    const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
    let ret_errno = 0x0005_0000u32 | libc::ENOSYS as u32;
    let ret_allow = 0x7fff_0000u32;
    let stmt = |code: u16, k: u32| libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let ld = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    let ret = (libc::BPF_RET | libc::BPF_K) as u16;
    let filter = [
        stmt(ld, 4), // seccomp_data.arch
        jeq(AUDIT_ARCH_X86_64, 1, 0),
        stmt(ret, ret_allow),
        stmt(ld, 0), // seccomp_data.nr
        jeq(libc::SYS_add_key as u32, 3, 0),
        jeq(libc::SYS_keyctl as u32, 2, 0),
        jeq(libc::SYS_request_key as u32, 1, 0),
        stmt(ret, ret_allow),
        stmt(ret, ret_errno),
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr().cast_mut(),
    };
    // SAFETY: prctl with these arguments only reads `prog`, which outlives the call.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog,
            ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Where the kernel refuses the keyring, postie sends as without a cache (the helper runs each
/// time) and says why once with -v; the send never fails because of it.
#[cfg(target_arch = "x86_64")]
#[test]
fn without_a_kernel_keyring_sends_work_and_v_says_why() {
    let srv = server("secret-one");
    let s = Setup::new(srv.port(), "password_cache 1h");
    let run = |args: &[&str]| {
        let mut cmd = s.home.command(args, &Options::default());
        // SAFETY: deny_keyring only calls prctl, which is async-signal-safe.
        unsafe {
            cmd.pre_exec(deny_keyring);
        }
        let out = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                std::io::Write::write_all(&mut c.stdin.take().expect("stdin"), MSG)?;
                c.wait_with_output()
            })
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["-a", "work", "-v", "rcpt@x.org"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        err.matches("password cache not used").count(),
        1,
        "said once: {err}"
    );
    let (code, err) = run(&["-a", "work", "rcpt@x.org"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("password cache"), "quiet without -v: {err}");
    assert_eq!(s.runs(), 2, "no cache: the helper runs every time");
    assert_eq!(srv.finish().len(), 2);
}
