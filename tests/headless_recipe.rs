//! The promises of the headless recipe (docs/recipes.md, "A headless server") that
//! tests/headless.rs does not make already: the cache is off unless asked for; the key gives
//! nothing to group or others; a helper that runs while a secret is known finds it in no argv
//! or environment; `postie unlock --for 7d` and `postie lock` without `-a` work on every
//! account; and where the kernel refuses keyring calls (a container's seccomp profile), postie
//! sends as without a cache while `unlock`, `unlock --status` and `lock` say that the cache
//! cannot be used.
//!
//! The user keyring is shared by every process of the user, other test binaries included:
//! every account name here is unique to the process, and `lock` without `-a` runs as a user of
//! its own (root only).

mod support;

use std::os::unix::process::CommandExt;
use support::program::{Home, Options, Running, is_root};
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

/// An account name no other test (here or in another binary) uses.
fn unique(what: &str) -> String {
    format!("recipe-{what}-{}", std::process::id())
}

/// A HOME whose account `name` authenticates as `u` with the content of `HOME/pw`; each run
/// of the helper appends a line to `HOME/runs` first, after running `before` (shell).
struct Setup {
    home: Home,
    name: String,
}

impl Setup {
    fn new(name: &str, port: u16, before: &str, extra: &str) -> Setup {
        let home = Home::empty();
        let pw = home.path().join("pw");
        std::fs::write(&pw, "secret-one\n").expect("pw");
        home.write(
            ".msmtprc",
            &format!(
                "account {name}\nhost 127.0.0.1\nport {port}\nfrom a@b.example\nauth plain\n\
                 user u\npasswordeval {before}echo run >> {runs}; cat {pw}\n{extra}\n",
                runs = home.path().join("runs").display(),
                pw = pw.display(),
            ),
            0o600,
        );
        Setup {
            home,
            name: name.to_owned(),
        }
    }

    fn runs(&self) -> usize {
        std::fs::read_to_string(self.home.path().join("runs"))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    fn send(&self) -> support::program::Run {
        self.home.run(&["-a", &self.name, "rcpt@x.org"], MSG)
    }

    /// This account's line in /proc/keys, if postie cached something for it.
    fn proc_keys_line(&self) -> Option<String> {
        let keys = std::fs::read_to_string("/proc/keys").expect("/proc/keys");
        let needle = format!(" postie:{}:", self.name);
        keys.lines()
            .find(|l| l.contains(&needle))
            .map(str::to_owned)
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = self.home.run(&["lock", "-a", &self.name], b"");
    }
}

fn server(password: &str) -> support::server::RunningServer {
    ServerBuilder::smtp()
        .auth("PLAIN")
        .credentials("u", password)
        .start()
}

#[test]
fn without_password_cache_nothing_goes_into_the_keyring() {
    if !keyring_available() {
        return;
    }
    let srv = server("secret-one");
    let s = Setup::new(&unique("off"), srv.port(), "", "");
    assert_eq!(s.send().code, 0);
    assert_eq!(s.send().code, 0);
    assert_eq!(s.runs(), 2, "no cache: the helper runs every time");
    assert_eq!(s.proc_keys_line(), None, "nothing was cached");
    let status = s.home.run(&["unlock", "--status"], b"");
    assert!(!status.stdout.contains(&s.name), "{status:?}");
    // `unlock --for` fills the cache even with password_cache off, and sends use it: that is
    // what the user asked for by unlocking.
    let r = s.home.run(&["unlock", "-a", &s.name, "--for", "10m"], b"");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(s.proc_keys_line().is_some());
    assert_eq!(s.send().code, 0);
    assert_eq!(
        s.runs(),
        3,
        "unlock ran the helper, the send used the cache"
    );
    // `postie lock` empties it; a stale key never lingers in the listing.
    let r = s.home.run(&["lock", "-a", &s.name], b"");
    assert_eq!(r.stdout, "forgot 1 cached password(s)\n");
    let status = s.home.run(&["unlock", "--status"], b"");
    assert!(!status.stdout.contains(&s.name), "{status:?}");
    assert_eq!(s.send().code, 0);
    assert_eq!(s.runs(), 4, "locked: the helper runs again");
    assert_eq!(srv.finish().len(), 4);
}

/// `/proc/keys` shows the permission mask as possessor, user, group, other (a byte each): the
/// user may view, read, search and set attributes (0x2b), group and others nothing.
#[test]
fn the_cached_secret_is_the_users_alone() {
    if !keyring_available() {
        return;
    }
    let srv = server("secret-one");
    let s = Setup::new(&unique("perm"), srv.port(), "", "password_cache 1h");
    assert_eq!(s.send().code, 0);
    let line = s.proc_keys_line().expect("cached");
    let fields: Vec<&str> = line.split_whitespace().collect();
    // ID FLAGS USAGE EXPIRY PERM UID GID TYPE DESCRIPTION
    assert_eq!(fields[4], "3f2b0000", "{line}");
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    assert_eq!(fields[5], uid.to_string(), "{line}");
    assert_eq!(fields[7], "user", "{line}");
    drop(srv.finish());
}

/// The one moment a helper runs while postie holds a cached secret: the server refused it, the
/// source is asked again. The helper records its own environment and postie's command line
/// (and postie's environment where it may read it): the secret is in none of them.
#[test]
fn a_helper_finds_the_cached_secret_in_no_argv_or_environment() {
    if !keyring_available() {
        return;
    }
    let old = server("secret-one");
    let dump = Home::empty();
    let before = format!(
        "{{ env; cat /proc/$PPID/cmdline; cat /proc/$PPID/environ; }} > {}/dump-$$ 2>/dev/null; ",
        dump.path().display()
    );
    let s = Setup::new(&unique("env"), old.port(), &before, "password_cache 1h");
    assert_eq!(s.send().code, 0);
    let port = old.port();
    drop(old.finish());
    let new = ServerBuilder::smtp()
        .auth("PLAIN")
        .credentials("u", "secret-two")
        .start_on(port);
    std::fs::write(s.home.path().join("pw"), "secret-two\n").expect("pw");
    let r = s.send();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        s.runs(),
        2,
        "the refused cached secret made the helper run again"
    );
    drop(new.finish());
    let dumps: Vec<Vec<u8>> = std::fs::read_dir(dump.path())
        .expect("dumps")
        .map(|e| std::fs::read(e.expect("entry").path()).expect("dump"))
        .collect();
    assert_eq!(dumps.len(), 2);
    for d in &dumps {
        assert!(
            d.windows(8).any(|w| w == b"rcpt@x.o"),
            "the dump has postie's argv"
        );
        for secret in [&b"secret-one"[..], b"secret-two"] {
            assert!(!d.windows(secret.len()).any(|w| w == secret));
        }
    }
}

/// `postie unlock --for D` without `-a` caches the password of every account that has a source,
/// for D whatever `password_cache` says, and `postie lock` without `-a` forgets every password
/// postie cached. The latter works on the whole user keyring, so the test runs as a user of its
/// own (root only). That user has no process at all between the runs: the cached password
/// outlives them (Linux 5.3 and later keep the user keyring in the user namespace).
#[test]
fn unlock_and_lock_without_an_account_work_on_every_account() {
    if !keyring_available() || !is_root() {
        return;
    }
    let uid = 100_000 + std::process::id() % 50_000;
    let srv = server("secret-one");
    let home = Home::empty();
    let pw = home.path().join("pw");
    std::fs::write(&pw, "secret-one\n").expect("pw");
    let mut rc = String::new();
    for name in ["one", "two"] {
        rc.push_str(&format!(
            "account {name}\nhost 127.0.0.1\nport {}\nfrom a@b.example\nauth plain\nuser u\n\
             passwordeval echo run >> {}; cat {}\npassword_cache 1h\n",
            srv.port(),
            home.path().join("runs").display(),
            pw.display()
        ));
    }
    home.write(".msmtprc", &rc, 0o600);
    home.give_to(uid);
    let opts = Options {
        uid: Some(uid),
        ..Options::default()
    };
    let run = |args: &[&str]| home.run_with(args, MSG, &opts);
    let runs = || {
        std::fs::read_to_string(home.path().join("runs"))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    assert_eq!(run(&["unlock", "--status"]).stdout, "no password cached\n");
    let r = run(&["unlock", "--for", "7d"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (
            0,
            "account one: password cached for 7d\naccount two: password cached for 7d\n"
        ),
        "{r:?}"
    );
    for _ in 0..2 {
        assert_eq!(run(&["-a", "one", "rcpt@x.org"]).code, 0);
        assert_eq!(run(&["-a", "two", "rcpt@x.org"]).code, 0);
    }
    assert_eq!(
        runs(),
        2,
        "one helper run per account (unlock), then the cache"
    );
    // One line per account, the time left starting with a digit: `6d` (`1w` in the first
    // second), not password_cache's `1h`. `grep -q '^one: cached, expires in [0-9]'` in
    // ~/.profile looks for that.
    let status = run(&["unlock", "--status"]);
    let mut lines: Vec<&str> = status.stdout.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines.len(), 2, "{status:?}");
    for (line, name) in lines.iter().zip(["one", "two"]) {
        let rest = line
            .strip_prefix(&format!("{name}: cached, expires in "))
            .unwrap_or_else(|| panic!("{line}"));
        assert!(rest.starts_with("6d ") || rest.starts_with("1w "), "{line}");
        assert!(rest.contains(&format!("(postie:{name}:")), "{line}");
    }
    let r = run(&["lock"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "forgot 2 cached password(s)\n")
    );
    assert_eq!(run(&["-a", "one", "rcpt@x.org"]).code, 0);
    assert_eq!(run(&["-a", "two", "rcpt@x.org"]).code, 0);
    assert_eq!(runs(), 4, "forgotten: each helper ran again");
    assert_eq!(srv.finish().len(), 6);
    let _ = run(&["lock"]);
}

// --- no kernel keyring ------------------------------------------------------------------------

/// A seccomp filter that makes keyctl, add_key and request_key fail with EPERM, as Docker's
/// default profile does (tests/headless.rs has one that answers ENOSYS).
fn without_keyring(cmd: &mut std::process::Command) {
    const fn stmt(code: u32, k: u32) -> libc::sock_filter {
        libc::sock_filter {
            code: code as u16,
            jt: 0,
            jf: 0,
            k,
        }
    }
    const fn jeq(k: i64, jt: u8) -> libc::sock_filter {
        libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt,
            jf: 0,
            k: k as u32,
        }
    }
    let filter = Box::leak(Box::new([
        // A = seccomp_data.nr
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0),
        jeq(libc::SYS_keyctl, 3),
        jeq(libc::SYS_add_key, 2),
        jeq(libc::SYS_request_key, 1),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
        stmt(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        ),
    ]));
    let prog: &'static libc::sock_fprog = Box::leak(Box::new(libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    }));
    // An address, so that the closure is Send and Sync.
    let prog = prog as *const libc::sock_fprog as usize;
    let (one, zero) = (1 as libc::c_ulong, 0 as libc::c_ulong);
    // SAFETY: prctl is async-signal-safe; `prog` points to memory that outlives the child's
    // exec (leaked), and nothing else is touched between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, one, zero, zero, zero) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                    prog as *const libc::sock_fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn without_the_kernel_keyring_postie_sends_as_without_a_cache() {
    let srv = server("secret-one");
    let s = Setup::new(&unique("nokeyring"), srv.port(), "", "password_cache 1h");
    let run = |args: &[&str]| {
        let mut cmd = s.home.command(args, &Options::default());
        without_keyring(&mut cmd);
        Running::start(cmd, MSG).wait()
    };
    for _ in 0..2 {
        let r = run(&["-a", &s.name, "rcpt@x.org"]);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    }
    // EPERM (Docker's answer) as well as ENOSYS (tests/headless.rs): -v says why, once.
    let r = run(&["-v", "-a", &s.name, "rcpt@x.org"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stderr
            .lines()
            .filter(|l| l.starts_with("postie: password cache not used: "))
            .count(),
        1,
        "{r:?}"
    );
    assert_eq!(s.runs(), 3, "no cache: the helper ran for each send");
    if keyring_available() {
        assert_eq!(s.proc_keys_line(), None);
    }
    for args in [
        &["unlock", "-a", &s.name][..],
        &["unlock", "--status"],
        &["lock", "-a", &s.name],
    ] {
        let r = run(args);
        assert_eq!(r.code, 69, "{args:?}: {r:?}");
        assert!(
            r.stderr
                .starts_with("postie: the password cache cannot be used here: "),
            "{args:?}: {r:?}"
        );
    }
    let sessions = srv.finish();
    assert_eq!(sessions.len(), 3);
    assert!(sessions.iter().all(|x| x.auth[0].ok && x.data_complete));
}
