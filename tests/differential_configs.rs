//! Random msmtprc files, msmtp 1.8.23 as the oracle: for each generated configuration (a fixed
//! seed, so every run checks the same files), `-P` with one of several argument sets must give
//! the same exit code, stdout and stderr (program name masked) from msmtp and from postie.
//! This reaches combinations no hand-written case does: odd empty arguments, inheritance
//! chains, obsolete commands, invalid values in `defaults`, ...
//!
//! Skipped (with a message) when msmtp is not installed, unless `CI` is set.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

const MSMTP: &str = "/usr/bin/msmtp";
const POSTIE: &str = env!("CARGO_BIN_EXE_postie");
const CASES: usize = 400;

/// Every command with some valid, invalid and empty arguments.
const COMMANDS: &[(&str, &[&str])] = &[
    ("host", &["mx.example.org", "127.0.0.1", ""]),
    ("port", &["25", "587", "0x1d", "0", "70000", "abc", ""]),
    ("timeout", &["off", "5", "0", ""]),
    ("protocol", &["smtp", "lmtp", "x", ""]),
    ("domain", &["%H", "example.org", ""]),
    ("from", &["a@b.c", "%U@example.org", "*@x.org", ""]),
    (
        "auth",
        &[
            "on",
            "off",
            "plain",
            "login",
            "scram-sha-256",
            "xoauth2",
            "PLAIN",
            "",
        ],
    ),
    ("user", &["joe", ""]),
    ("password", &["secret", ""]),
    ("passwordeval", &["echo pw", "printf ''", ""]),
    ("tls", &["on", "off", "x", ""]),
    ("tls_starttls", &["on", "off", ""]),
    ("tls_trust_file", &["system", "/nonexistent.pem", ""]),
    ("tls_certcheck", &["on", "off"]),
    (
        "tls_fingerprint",
        &[
            "AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB",
            "zz",
            "",
        ],
    ),
    ("tls_host_override", &["h.example", ""]),
    ("tls_key_file", &["/k.pem", ""]),
    ("tls_cert_file", &["/c.pem", ""]),
    ("dsn_notify", &["off", "never", "failure,delay", "bad"]),
    ("dsn_return", &["off", "headers", "full", "hdrs"]),
    ("set_from_header", &["auto", "on", "off", "x", ""]),
    ("set_date_header", &["auto", "off", "on"]),
    ("set_msgid_header", &["auto", "off"]),
    ("remove_bcc_headers", &["on", "off", ""]),
    ("undisclosed_recipients", &["on", "off"]),
    ("logfile", &["~/log", "-", ""]),
    ("logfile_time_format", &["%Y", ""]),
    ("syslog", &["on", "off", "LOG_MAIL", "LOG_BAD", ""]),
    ("aliases", &["~/aliases", ""]),
    ("allow_from_override", &["on", "off"]),
    ("proxy_host", &["127.0.0.1", ""]),
    ("proxy_port", &["1080", "0", ""]),
    ("socket", &["/tmp/sock", ""]),
    ("source_ip", &["127.0.0.2", ""]),
    ("auto_from", &["on", "off"]),
    ("maildomain", &["example.com", ""]),
    ("tls_nocertcheck", &[""]),
    ("keepbcc", &["on", "off"]),
];

const ARGS: &[&[&str]] = &[
    &["-P", "r@x.org"],
    &["-P", "-t"],
    &["-P", "-a", "a", "r@x.org"],
    &["-P", "-f", "a@b.c", "r@x.org"],
    &["-P", "--read-envelope-from", "r@x.org"],
    &["-P", "--tls=off", "--auth", "r@x.org"],
];

/// xorshift64*: enough randomness for test data, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

fn command_line(rng: &mut Rng) -> String {
    let (cmd, args) = rng.pick(COMMANDS);
    format!("{cmd} {}", rng.pick(args)).trim_end().to_owned()
}

fn config(rng: &mut Rng) -> String {
    let mut lines = Vec::new();
    if rng.below(2) == 0 {
        lines.push("defaults".to_owned());
        for _ in 0..rng.below(4) {
            lines.push(command_line(rng));
        }
    }
    let mut names: Vec<&str> = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let name = *rng.pick(&["default", "a", "b", "work"]);
        let parent = if !names.is_empty() && rng.below(3) == 0 {
            format!(" : {}", rng.pick(&names))
        } else {
            String::new()
        };
        lines.push(format!("account {name}{parent}"));
        names.push(name);
        for _ in 0..1 + rng.below(6) {
            lines.push(command_line(rng));
        }
    }
    lines.join("\n") + "\n"
}

fn run(program: &str, home: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new("setsid")
        .arg("-w")
        .arg(program)
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/bin:/bin")
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .env("USER", "tester")
        .env("HOSTNAME", "hostx")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"From: x@y.z\nTo: t@x.org\n\nbody\n");
    let out = child.wait_with_output().expect("wait");
    let mask = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .replace(program, "PRG")
            .replace("msmtp:", "PRG:")
            .replace("postie:", "PRG:")
    };
    (
        out.status.code().unwrap_or(-1),
        mask(&out.stdout),
        mask(&out.stderr),
    )
}

#[test]
fn random_configurations_give_msmtps_pretend_output() {
    if !std::path::Path::new(MSMTP).exists() {
        assert!(std::env::var_os("CI").is_none(), "msmtp is required in CI");
        eprintln!("skipped: msmtp not installed");
        return;
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut differences = Vec::new();
    let mut compared = 0;
    for case in 0..CASES {
        let rc = config(&mut rng);
        let args = *rng.pick(ARGS);
        let home = tempfile::tempdir().expect("tempdir");
        let path = home.path().join(".msmtprc");
        std::fs::write(&path, &rc).expect("write rc");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let m = run(MSMTP, home.path(), args);
        // msmtp 1.8.23 has a double free on some invalid files (it aborts with SIGABRT):
        // nothing to compare against there.
        if m.0 == -1 || m.2.contains("double free") {
            continue;
        }
        compared += 1;
        let p = run(POSTIE, home.path(), args);
        if m != p {
            differences.push(format!(
                "case {case} {args:?}\n{rc}\nmsmtp : {m:?}\npostie: {p:?}\n"
            ));
        }
    }
    eprintln!("{compared} random configurations compared with msmtp");
    assert!(
        compared > CASES / 2,
        "only {compared} cases could be compared"
    );
    assert!(
        differences.is_empty(),
        "{} of {compared} configurations differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
