//! `postie check`: why does my mail not go out? A doctor for a person, not a script: one line
//! per step, `✓` or `✗`, what was checked and what was found, and for a `✗` what to do about
//! it. A mail client shows only the exit code ("exit 78"); this names the file, the line, the
//! helper's complaint, the certificate's date or the server's reply.
//!
//! The steps are a send's, in its order, each done the way a send does it (the same
//! configuration loading, account selection, password source, connection, TLS verification
//! and AUTH), so what passes here passes there:
//!
//! 1. the configuration files (found, readable, permissions, syntax);
//! 2. the account (which one a send would use and why) and its `from`;
//! 3. the password source (run, timed, never shown; a failing helper's stderr is shown);
//! 4. DNS, the connection, TLS (version, verification, the certificate's expiry);
//! 5. the AUTH mechanisms offered, and logging in (then QUIT: no mail is sent);
//! 6. the queue (messages waiting and why, damaged entries);
//! 7. with `--send-test ADDRESS`, a short test message to ADDRESS.
//!
//! A step that fails stops the steps that need it (no connection, no TLS); the others still
//! run (a password helper that fails does not keep DNS from being checked). The exit status
//! is 0 only when everything passed, else the sysexits code of the first failure.

use crate::account::{self, Request};
use crate::config::{self, Account, AuthSetting, Config, Trust, paths};
use crate::envelope::{Envelope, RecipientPolicy};
use crate::error::{Error, Result, Sysexit};
use crate::net::{self, tls::PeerCertificate};
use crate::queue::store::{FileError, Queue};
use crate::smtp::session::{self, Session};
use crate::smtp::{self, Capabilities, PasswordSource, SessionSettings};
use crate::ui::sanitize;
use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::ToSocketAddrs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

const HELP: &str = "\
Usage: {prog} [-C FILE] check [-a ACCOUNT | --all] [--from ADDRESS] [--send-test ADDRESS]

check goes through everything a send needs and prints one line per step, ✓ or ✗, with what
it found and, for ✗, how to fix it: the configuration file and its permissions, the account
and its from address, the password source (run and timed, the password never shown), DNS,
the connection, TLS and the server's certificate, the AUTH mechanisms and a login (followed
by QUIT: no mail is sent), and the queue.

Without -a it checks the account a send without -a would use: the default account, or with
--from ADDRESS the account a mail from ADDRESS would use. --all checks every account.
--send-test ADDRESS also sends a short test message to ADDRESS through each checked account.

The exit status is 0 only when every check passed.
";

/// The options.
#[derive(Default)]
struct Args {
    config_file: Option<String>,
    account: Option<String>,
    all: bool,
    from: Option<String>,
    send_test: Option<String>,
    help: bool,
}

fn parse(prog: &str, args: &[String]) -> Result<Args> {
    let usage = |what: String| Error::usage(format!("{what}\nsee '{prog} check --help'"));
    let mut a = Args::default();
    let mut w = super::words::Words::new(args, &usage);
    while let Some(arg) = w.next_word() {
        if let Some(v) = w.value(arg, &["-C", "--file"]) {
            a.config_file = Some(v?);
        } else if let Some(v) = w.value(arg, &["-a", "--account"]) {
            a.account = Some(v?);
        } else if let Some(v) = w.value(arg, &["--from", "-f"]) {
            a.from = Some(v?);
        } else if let Some(v) = w.value(arg, &["--send-test"]) {
            let v = v?;
            // Refused before anything connects, as a send refuses a bad recipient.
            if let Some(why) = crate::envelope::address::problem(&v) {
                return Err(usage(format!(
                    "--send-test: invalid address {}: {why}",
                    crate::ui::sanitize(&v)
                )));
            }
            a.send_test = Some(v);
        } else if arg == "--all" {
            a.all = true;
        } else if arg == "-h" || arg == "--help" || arg == "help" {
            a.help = true;
        } else {
            return Err(usage(format!("unknown argument {}", sanitize(arg))));
        }
    }
    if a.all && a.account.is_some() {
        return Err(usage("-a and --all cannot be used together".to_owned()));
    }
    Ok(a)
}

/// `postie check ...`, with the words after `check`.
pub(super) fn run(prog: &str, args: &[String]) -> Result<()> {
    let a = parse(prog, args)?;
    if a.help {
        crate::ui::stdout_text(&HELP.replace("{prog}", prog));
        return Ok(());
    }
    let mut r = Report::default();
    if let Some(config) = check_config(&mut r, a.config_file.as_deref()) {
        for (account, why) in chosen(&mut r, &config, &a) {
            check_account(&mut r, &config, account, &why, &a);
        }
    }
    r.finish()
}

// ------------------------------------------------------------------------- the report --

/// The lines printed so far and the failures among them.
#[derive(Default)]
struct Report {
    failures: usize,
    /// The exit code of the first failure.
    exit: Option<Sysexit>,
}

/// One line on stdout, sanitised (it may quote a server, a certificate or a file name).
fn line(text: &str) {
    crate::ui::stdout_text(&format!("{}\n", sanitize(text)));
}

impl Report {
    fn heading(&self, text: &str) {
        line(text);
    }

    fn ok(&mut self, what: &str, finding: &str) {
        line(&format!("✓ {what}: {finding}"));
    }

    /// A failed check: the finding, detail lines (a helper's stderr, the rest of a server
    /// reply), and the fix.
    fn fail(&mut self, exit: Sysexit, what: &str, finding: &str, details: &[String], fix: &str) {
        line(&format!("✗ {what}: {finding}"));
        for d in details {
            line(&format!("    {d}"));
        }
        if !fix.is_empty() {
            line(&format!("    fix: {fix}"));
        }
        self.failures += 1;
        self.exit.get_or_insert(exit);
    }

    /// [`Report::fail`] for an [`Error`]: its text and the first line of the server's reply
    /// as the finding, its detail lines and the rest of the reply below.
    fn fail_with(&mut self, e: &Error, what: &str, fix: &str) {
        let (finding, details) = error_text(e);
        self.fail(e.exit, what, &finding, &details, fix);
    }

    fn finish(self) -> Result<()> {
        match self.exit {
            None => {
                line("everything needed to send works");
                Ok(())
            }
            Some(exit) => Err(Error::new(
                exit,
                match self.failures {
                    1 => "1 check failed (see above)".to_owned(),
                    n => format!("{n} checks failed (see above)"),
                },
            )),
        }
    }
}

/// An error as one finding (`TEXT: FIRST REPLY LINE`) and detail lines.
fn error_text(e: &Error) -> (String, Vec<String>) {
    // GnuTLS's verification texts end in a space.
    let mut finding = e
        .message
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join(" ");
    let mut details = e.details.clone();
    if let Some(reply) = &e.reply {
        let mut lines = reply.lines.iter();
        if let Some(first) = lines.next() {
            finding.push_str(&format!(": {first}"));
        }
        details.extend(lines.map(|l| format!("server: {l}")));
    }
    (finding, details)
}

/// A duration for a person: `12 ms`, `1.4 s`.
fn took(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// `YYYY-MM-DD` (UTC) of a time in seconds since the Unix epoch.
fn date(secs: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `1 day`, `12 days`.
fn days(n: i64) -> String {
    if n == 1 {
        "1 day".to_owned()
    } else {
        format!("{n} days")
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

// ------------------------------------------------------------------ configuration --

/// What a configuration file is, before msmtp's rules read it.
enum FileState {
    Missing,
    Directory,
    /// It exists but cannot be opened: the reason, and who owns it with which mode.
    Unreadable(String, String),
    /// Owner and mode.
    Readable(String, u32),
}

fn owner(uid: u32) -> String {
    match uid {
        u if u == paths::euid() => "yours".to_owned(),
        0 => "owned by root".to_owned(),
        u => format!("owned by uid {u}"),
    }
}

fn file_state(path: &Path) -> FileState {
    let md = match std::fs::metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return FileState::Missing,
        Err(e) => return FileState::Unreadable(paths::strerror(&e), String::new()),
    };
    if md.is_dir() {
        return FileState::Directory;
    }
    let who = format!("{}, mode {:04o}", owner(md.uid()), md.mode() & 0o7777);
    match std::fs::File::open(path) {
        Ok(_) => FileState::Readable(who, md.mode()),
        Err(e) => FileState::Unreadable(paths::strerror(&e), who),
    }
}

/// The fix for an error of `config::load`.
fn config_fix(e: &Error, user: &Path) -> String {
    let f = user.display();
    if e.message
        .ends_with("must have no more than user read/write permissions")
    {
        format!("chmod 600 {f}")
    } else if e.message.ends_with("must be owned by you") {
        format!(
            "the file holds a password, so it must be yours: chown {} {f} (as root)",
            crate::account::finalize::user_name()
        )
    } else if e.message.contains(": line ") {
        "correct that line (man postie lists every command under CONFIGURATION)".to_owned()
    } else {
        "see man postie, CONFIGURATION".to_owned()
    }
}

/// Step 1: the configuration files. `None` when there is nothing to check accounts in.
fn check_config(r: &mut Report, file: Option<&str>) -> Option<Config> {
    let explicit = file.map(PathBuf::from);
    let user = explicit.clone().unwrap_or_else(paths::default_user_file);
    let system = paths::system_file();
    let f = user.display();
    let user_state = file_state(&user);
    match &user_state {
        FileState::Readable(..) => {}
        FileState::Missing if explicit.is_some() => {
            r.fail(
                Sysexit::IoErr,
                "configuration",
                &format!("{f}: No such file or directory"),
                &[],
                "check the file name given with -C",
            );
            return None;
        }
        FileState::Missing => {}
        FileState::Directory => {
            r.fail(
                Sysexit::IoErr,
                "configuration",
                &format!("{f} is a directory, not a file"),
                &[],
                "name the msmtprc file itself (-C FILE), or move the directory out of the way",
            );
            if explicit.is_some() {
                return None;
            }
        }
        FileState::Unreadable(why, who) => {
            let who = if who.is_empty() {
                String::new()
            } else {
                format!(" ({who})")
            };
            r.fail(
                Sysexit::IoErr,
                "configuration",
                &format!("{f} exists but cannot be read: {why}{who}"),
                &[],
                &format!(
                    "make it readable for you: chown {} {f} (as root), then chmod 600 {f}",
                    crate::account::finalize::user_name()
                ),
            );
            if explicit.is_some() {
                return None;
            }
        }
    }
    let config = match config::load(explicit.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            r.fail_with(&e, "configuration", &config_fix(&e, &user));
            return None;
        }
    };
    if !config.system_loaded && !config.user_loaded {
        r.fail(
            Sysexit::Config,
            "configuration",
            &format!(
                "no configuration file: neither {f} nor {} exists",
                system.display()
            ),
            &[],
            &format!(
                "write {f} (see man postie, CONFIGURATION; postie --configure YOU@YOUR.DOMAIN \
                 prints an account for your domain)"
            ),
        );
        return None;
    }
    let mut found = Vec::new();
    if let (true, FileState::Readable(who, _)) = (config.user_loaded, &user_state) {
        found.push(format!("{f} ({who})"));
    }
    if config.system_loaded {
        found.push(format!("system file {}", system.display()));
    } else {
        found.push(format!("no system file {}", system.display()));
    }
    r.ok("configuration", &found.join("; "));
    // msmtp does not check root's file (root can read every file anyway), but a password in
    // a file others can read is theirs too.
    if let (true, FileState::Readable(_, mode)) = (config.user_loaded, &user_state)
        && mode & 0o077 != 0
        && config
            .accounts
            .iter()
            .any(|a| a.file.as_deref() == Some(user.as_path()) && a.settings.password.is_some())
    {
        r.fail(
            Sysexit::Config,
            "permissions",
            &format!(
                "{f} holds a password and other users can read it (mode {:04o})",
                mode & 0o7777
            ),
            &[],
            &format!("chmod 600 {f}"),
        );
    }
    Some(config)
}

// ------------------------------------------------------------------------ accounts --

/// Step 2: the accounts to check, each with why it is the one.
fn chosen(r: &mut Report, config: &Config, a: &Args) -> Vec<(Account, String)> {
    let names = || {
        let all: Vec<&str> = config.accounts.iter().map(|a| a.name.as_str()).collect();
        if all.is_empty() {
            "the configuration has no account".to_owned()
        } else {
            format!("the accounts are: {}", all.join(", "))
        }
    };
    if let (Some(addr), true) = (&a.from, a.all || a.account.is_some()) {
        // What a mail from ADDR would use, next to the accounts asked for.
        let req = Request {
            envelope_from: Some(addr),
            sendmail_mode: true,
            ..Request::default()
        };
        match account::select(Some(config), &req) {
            Ok(sel) => r.ok(
                "from",
                &format!("a mail from {addr} uses account {}", sel.account.name),
            ),
            Err(e) => r.fail_with(&e, "from", &names()),
        }
    }
    if a.all {
        if config.accounts.is_empty() {
            r.fail(
                Sysexit::Config,
                "account",
                "the configuration has no account",
                &[],
                "add one (see man postie, CONFIGURATION)",
            );
        }
        return config
            .accounts
            .iter()
            .map(|acc| (acc.clone(), "checked with --all".to_owned()))
            .collect();
    }
    // A mail from ADDRESS: what -f ADDRESS chooses, and the From header too unless
    // select_account_by_from is off.
    let req = Request {
        account: a.account.as_deref(),
        envelope_from: a.from.as_deref(),
        sendmail_mode: true,
        ..Request::default()
    };
    let header_note = if config.select_account_by_from {
        ""
    } else {
        " (with -f; select_account_by_from is off, so a From header alone does not choose)"
    };
    match account::select(Some(config), &req) {
        Ok(sel) => {
            let by_from = sel.info.iter().any(|l| l.starts_with("account chosen by"));
            let from_env = sel
                .info
                .iter()
                .any(|l| l.starts_with("using environment variables"));
            let why = match (&a.account, &a.from) {
                _ if from_env => "made from the environment variables SMTPSERVER and EMAIL \
                                  (there is no account default)"
                    .to_owned(),
                (Some(_), _) => "given with -a".to_owned(),
                (None, Some(addr)) if by_from => {
                    format!("a mail from {addr} uses it (its from matches){header_note}")
                }
                (None, Some(addr)) => format!(
                    "no account's from matches {addr}, so a mail from it uses the default account"
                ),
                (None, None) => "the default account (used when neither -a nor a from address \
                                 chooses another)"
                    .to_owned(),
            };
            vec![(sel.account, why)]
        }
        Err(e) => {
            let fix = match &a.account {
                Some(_) => names(),
                None => format!(
                    "name one account default (account default : NAME makes a copy), \
                     or check one with -a NAME; {}",
                    names()
                ),
            };
            r.fail_with(&e, "account", &fix);
            Vec::new()
        }
    }
}

/// The network timeout of `postie check` for an account without `timeout`, in seconds.
const CHECK_TIMEOUT: u32 = 20;

/// Steps 2 to 7 for one account.
fn check_account(r: &mut Report, config: &Config, account: Account, why: &str, a: &Args) {
    let name = sanitize(&account.name);
    r.heading(&match &account.file {
        Some(f) => format!("account {name} ({})", f.display()),
        None => format!("account {name} (command line or environment)"),
    });
    r.ok("account", why);
    let Some((mut acc, from_ok)) = check_settings(r, config, &account) else {
        return;
    };
    // Without a timeout of the account's own, a send waits up to ten minutes for a silent
    // server; a person waiting for a diagnosis should not.
    if acc.settings.timeout.is_none() {
        acc.settings.timeout = Some(CHECK_TIMEOUT);
    }
    // postie talks to no server with pipe_command: the command (a remote sendmail) does, with
    // its own credentials, so there is nothing of postie's to check beyond the settings.
    if let Some(cmd) = &acc.settings.pipe_command {
        r.ok(
            "transport",
            &format!(
                "pipe_command '{}' (the command delivers; postie checks no server for it)",
                sanitize(cmd)
            ),
        );
        check_queue(r, &acc);
        return;
    }
    let password_ok = check_password(r, &mut acc);
    let server = check_server(r, &acc, password_ok);
    check_queue(r, &acc);
    if let Some(mut server) = server {
        if let Some(to) = &a.send_test {
            if from_ok {
                send_test(r, &mut server, &acc, to);
            } else {
                r.fail(
                    Sysexit::Config,
                    "send test",
                    "not sent: the account has no from address",
                    &[],
                    "see the from line above",
                );
            }
        }
        server.session.quit();
    }
}

/// The fix for msmtp's `check_account` errors.
fn settings_fix(e: &Error, name: &str) -> String {
    let m = e.message.as_str();
    if m.ends_with("host not set") {
        format!("add \"host smtp.example.org\" to account {name}")
    } else if m.ends_with("port not set") {
        format!("add \"port N\" to account {name} (LMTP has no default port)")
    } else if m.contains("tls requires either tls_trust_file") {
        format!("add \"tls_trust_file system\" to account {name} (the system's CAs)")
    } else {
        "see man postie, CONFIGURATION".to_owned()
    }
}

/// The account's settings as a send finishes them (derived values, `%` patterns, msmtp's
/// `check_account`), and its from address. `None`: the account cannot be used at all. The
/// `bool` says whether it has a from address (a send without `-f` needs one).
fn check_settings(r: &mut Report, config: &Config, account: &Account) -> Option<(Account, bool)> {
    let name = account.name.as_str();
    let mut acc = account.clone();
    let from_ok = match account::finalize(&mut acc, true, false) {
        Ok(()) => true,
        Err(e) if e.message.ends_with("envelope-from address is missing") => {
            r.fail(
                e.exit,
                "from",
                "the account has no from address: a send without -f fails with \
                 \"envelope-from address is missing\"",
                &[],
                &format!("add \"from you@example.org\" to account {name}"),
            );
            acc = account.clone();
            if let Err(e) = account::finalize(&mut acc, false, false) {
                r.fail_with(&e, "settings", &settings_fix(&e, name));
                return None;
            }
            false
        }
        Err(e) => {
            r.fail_with(&e, "settings", &settings_fix(&e, name));
            return None;
        }
    };
    if from_ok && let Some(from) = acc.settings.from.clone() {
        // Where a mail from this address goes: -f always chooses by it, the From header
        // too with select_account_by_from.
        let req = Request {
            envelope_from: Some(&from),
            sendmail_mode: true,
            ..Request::default()
        };
        let uses = account::select(Some(config), &req).map(|s| s.account.name);
        let pattern = from.contains(['*', '?', '[']);
        let finding = match uses {
            _ if from.contains("%F") => format!(
                "{from} (%F is the address of each mail's From header, or of a Resent-From \
                 before it)"
            ),
            _ if pattern => format!(
                "{from} (a pattern: a mail from an address it matches uses this account, \
                 unless an account listed earlier matches too)"
            ),
            Ok(n) if n == name => format!("{from} (a mail from {from} uses this account)"),
            Ok(n) => format!(
                "{from} (a mail from {from} uses account {n}, whose from matches first; \
                 -a {name} uses this one)"
            ),
            Err(_) => from.clone(),
        };
        r.ok("from", &finding);
    }
    Some((acc, from_ok))
}

// ------------------------------------------------------------------------ password --

/// Step 3: the password source, run as a send runs it. `true`: AUTH can be tried.
fn check_password(r: &mut Report, acc: &mut Account) -> bool {
    let name = acc.name.clone();
    match acc.settings.auth {
        AuthSetting::Off => {
            r.ok("password", "not needed (auth off)");
            return true;
        }
        AuthSetting::Method(m) if !m.needs_password() => {
            r.ok(
                "password",
                &format!("not needed (auth {})", m.name().to_ascii_lowercase()),
            );
            return true;
        }
        _ => {}
    }
    let oauth2 = crate::secret::probe::uses_oauth2(acc);
    let what = if oauth2 { "OAuth2" } else { "password" };
    let start = Instant::now();
    let probe = if oauth2 {
        crate::secret::probe::oauth2_token(acc)
    } else {
        crate::secret::probe::probe(acc)
    };
    let time = took(start.elapsed());
    match probe {
        Ok(found) => {
            r.ok(what, &format!("from {} ({time})", found.source));
            // As a send: passwordeval's answer becomes the password before connecting; the
            // lookup chain (Secret Service, netrc, prompt) runs again at AUTH time.
            if !oauth2
                && acc.settings.password.is_none()
                && acc.settings.passwordeval.is_some()
                && let Some(p) = found.secret
            {
                acc.settings.password = Some(p);
                acc.password_cached = found.cached;
            }
            true
        }
        Err(e) => {
            let fix = if oauth2 {
                format!(
                    "postie oauth2 login -a {name} authorises the account (again); \
                     postie oauth2 status shows what is stored"
                )
            } else if acc.settings.passwordeval.is_some() {
                "run the command yourself: it must print the password on its first line \
                 (if it asks for a passphrase, unlock your agent first)"
                    .to_owned()
            } else {
                let s = &acc.settings;
                let host = s.host.as_deref().or(s.socket.as_deref()).unwrap_or("HOST");
                let user = s.user.as_deref().unwrap_or("USER");
                format!(
                    "store it (secret-tool store --label=msmtp host {host} service smtp user \
                     {user}), put it into ~/.netrc, or set passwordeval for account {name}"
                )
            };
            let (finding, details) = error_text(&e);
            r.fail(e.exit, what, &format!("{finding} ({time})"), &details, &fix);
            false
        }
    }
}

// -------------------------------------------------------------------------- server --

/// What the TLS layer showed during the dialogue.
#[derive(Clone, Default)]
struct Seen {
    /// A TLS handshake was attempted.
    handshake: bool,
    cert: Option<PeerCertificate>,
    version: Option<String>,
}

/// The connection, with the TLS facts recorded as the dialogue starts TLS (the session owns
/// the stream; the record is shared with the check).
struct Watched {
    conn: net::tls::Conn,
    seen: Rc<RefCell<Seen>>,
}

impl Read for Watched {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.conn.read(buf)
    }
}

impl Write for Watched {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.conn.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.conn.flush()
    }
}

impl session::Stream for Watched {
    fn is_tls(&self) -> bool {
        self.conn.is_tls()
    }

    fn start_tls(&mut self) -> Result<Vec<String>> {
        let result = self.conn.start_tls();
        let mut seen = self.seen.borrow_mut();
        seen.handshake = true;
        seen.cert = self.conn.peer_certificate();
        seen.version = self.conn.tls_version();
        result
    }

    fn tls_exporter(&self) -> Option<Vec<u8>> {
        self.conn.tls_exporter()
    }
}

/// An open, authenticated session (for the send test).
struct Server {
    session: Session<'static, Watched>,
    caps: Capabilities,
    settings: SessionSettings,
}

/// The resolver's text without std's prefix.
fn gai_text(e: &std::io::Error) -> String {
    let text = net::strerror(e);
    match text.strip_prefix("failed to lookup address information: ") {
        Some(rest) => rest.to_owned(),
        None => text,
    }
}

/// Step 4 and 5: DNS, connect, TLS, the certificate, AUTH and the login. Returns the open
/// session when everything passed.
fn check_server(r: &mut Report, acc: &Account, password_ok: bool) -> Option<Server> {
    let name = acc.name.as_str();
    let (target, tls, settings) = crate::delivery::smtp_settings(acc);
    let host = target.display_host();
    if let Some(cmd) = &target.proxy_command {
        // The command reaches the server (ssh -W %h:%p resolves %h on the far side): a local
        // look-up of `host` would say nothing about it.
        r.ok(
            "DNS",
            &format!(
                "not looked up here: proxy_command '{}' connects",
                sanitize(cmd)
            ),
        );
    } else if target.socket.is_none() {
        let (lookup, port, what) = match &target.proxy_host {
            Some(p) => (p.clone(), target.proxy_port, "DNS (SOCKS proxy)"),
            None => (host.clone(), target.port, "DNS"),
        };
        let start = Instant::now();
        match (lookup.as_str(), port).to_socket_addrs() {
            Ok(_) if lookup.parse::<std::net::IpAddr>().is_ok() => {
                r.ok(
                    what,
                    &format!("{lookup} is an address (nothing to look up)"),
                );
            }
            Ok(addrs) => {
                let mut ips: Vec<String> = Vec::new();
                for a in addrs {
                    let ip = a.ip().to_string();
                    if !ips.contains(&ip) {
                        ips.push(ip);
                    }
                }
                r.ok(
                    what,
                    &format!("{lookup} → {} ({})", ips.join(", "), took(start.elapsed())),
                );
            }
            Err(e) => {
                r.fail(
                    Sysexit::NoHost,
                    what,
                    &format!("cannot locate host {lookup}: {}", gai_text(&e)),
                    &[],
                    &format!(
                        "check {} in account {name} for a typo; getent hosts {lookup} shows \
                         what this machine's resolver says",
                        if target.proxy_host.is_some() {
                            "proxy_host"
                        } else {
                            "host"
                        }
                    ),
                );
                return None;
            }
        }
    }
    let start = Instant::now();
    let (conn, peer) = match net::open(&target, &tls, net::TlsFiles::BeforeConnect) {
        Ok(c) => c,
        Err(e) if e.exit == Sysexit::NoInput => {
            r.fail_with(
                &e,
                "TLS files",
                "check the file names of tls_trust_file, tls_cert_file, tls_key_file and \
                 tls_crl_file, and that you can read them",
            );
            return None;
        }
        Err(e) => {
            let fix = if e.message.starts_with("cannot connect to") {
                "is the port right (587: tls_starttls on, 465: tls_starttls off)? \
                 Is the server up, and does a firewall let you through?"
            } else {
                "see the error text"
            };
            r.fail_with(&e, "connect", fix);
            return None;
        }
    };
    let via = match (&target.socket, &target.proxy_host, peer) {
        (Some(p), _, _) => format!("unix socket {}", p.display()),
        (None, Some(p), _) => format!("{host} port {} through the SOCKS proxy {p}", target.port),
        (None, None, Some(a)) => format!("{} port {}", a.ip(), a.port()),
        (None, None, None) => format!("{host} port {}", target.port),
    };
    r.ok("connect", &format!("{via} ({})", took(start.elapsed())));

    let seen = Rc::new(RefCell::new(Seen::default()));
    let stream = Watched {
        conn,
        seen: seen.clone(),
    };
    let mut s: Session<'static, Watched> = Session::new(stream, None);
    let opened = session::open(&mut s, &tls, &settings, false);
    let seen = seen.borrow().clone();
    let caps = match opened {
        Ok(o) => {
            report_tls(r, acc, &seen, None);
            o.caps
        }
        Err(e) if seen.handshake || e.message.contains("STARTTLS") => {
            report_tls(r, acc, &seen, Some(&e));
            return None;
        }
        Err(e) => {
            r.fail_with(
                &e,
                "server",
                "is this an SMTP server? Check the host and port of the account",
            );
            return None;
        }
    };
    if (settings.dsn_notify.is_some() || settings.dsn_return.is_some()) && !caps.dsn {
        r.fail(
            Sysexit::Unavailable,
            "DSN",
            "the server does not support DSN (delivery status notifications)",
            &[],
            &format!("remove dsn_notify and dsn_return from account {name}"),
        );
        s.quit();
        return None;
    }
    let login = Login {
        oauth_target: (&host, target.port),
        is_tls: seen.version.is_some(),
        password_ok,
    };
    if !check_login(r, acc, &mut s, &caps, &settings, &login) {
        s.quit();
        return None;
    }
    Some(Server {
        session: s,
        caps,
        settings,
    })
}

/// The TLS line and the certificate line; `error`: the dialogue failed at TLS.
fn report_tls(r: &mut Report, acc: &Account, seen: &Seen, error: Option<&Error>) {
    let s = &acc.settings;
    let name = acc.name.as_str();
    let host = s
        .tls_host_override
        .as_deref()
        .or(s.host.as_deref())
        .unwrap_or_default();
    if let Some(e) = error {
        let issuer = seen.cert.as_ref().map(|c| c.issuer.as_str()).unwrap_or("?");
        let fix = if e.message.contains("does not support TLS via the STARTTLS") {
            "the server does not offer STARTTLS on this port: use port 465 with tls_starttls off, \
             or 587 with tls_starttls on (do not turn tls off: your password would cross the \
             network in clear)"
                .to_owned()
        } else if e.message.contains("issuer is unknown") {
            let pin = seen
                .cert
                .as_ref()
                .map(|c| {
                    format!(
                        "; or, once you know it is the server's, tls_fingerprint {}",
                        c.sha256
                    )
                })
                .unwrap_or_default();
            format!(
                "set tls_trust_file to the certificate of the CA that issued the server's \
                 certificate (issuer: {issuer}){pin}"
            )
        } else if e.message.contains("does not match the expected") {
            let subject = seen
                .cert
                .as_ref()
                .map(|c| c.subject.as_str())
                .unwrap_or("?");
            format!(
                "the certificate ({subject}) is not for {host}: set host to a name it is \
                 for, or tls_host_override"
            )
        } else if e.message.contains("expired") {
            "the server's certificate has expired (see the next line)".to_owned()
        } else if e.message.contains("fingerprint does not match") {
            let now = seen
                .cert
                .as_ref()
                .map(|c| format!(" (now {})", c.sha256))
                .unwrap_or_default();
            format!(
                "the server's certificate is not the one tls_fingerprint names{now}: ask the \
                 server's administrator whether it changed before you pin the new one"
            )
        } else if e.message.starts_with("TLS handshake failed") {
            "the port may not speak TLS the configured way: 465 wants tls_starttls off, \
             587 wants tls_starttls on"
                .to_owned()
        } else {
            format!("see the error text; account {name}")
        };
        r.fail_with(e, "TLS", &fix);
    } else if !s.tls {
        r.ok("TLS", "off (tls off): mail crosses the network in clear");
    } else {
        let mode = if s.tls_starttls {
            "STARTTLS"
        } else {
            "implicit TLS"
        };
        let version = seen.version.as_deref().unwrap_or("?");
        let trust = if s.tls_fingerprint.is_some() {
            "the certificate matches tls_fingerprint".to_owned()
        } else if !s.tls_certcheck {
            "the certificate is not checked (tls_certcheck off)".to_owned()
        } else {
            match &s.tls_trust_file {
                Some(Trust::File(p)) => format!("certificate verified with {}", p.display()),
                _ => "certificate verified with the system's CAs".to_owned(),
            }
        };
        r.ok("TLS", &format!("{mode}, {version}, {trust}"));
    }
    if let Some(c) = &seen.cert {
        let left = c.not_after - now();
        let who = format!("{}, issued by {}", c.subject, c.issuer);
        if left < 0 {
            r.fail(
                Sysexit::Unavailable,
                "certificate",
                &format!(
                    "{who}: expired on {} ({} ago)",
                    date(c.not_after),
                    days((-left) / 86_400)
                ),
                &[],
                "the server's administrator must renew it; until then no client can verify it",
            );
        } else {
            r.ok(
                "certificate",
                &format!(
                    "{who}: valid until {} ({} left)",
                    date(c.not_after),
                    days(left / 86_400)
                ),
            );
        }
    }
}

/// What the login needs to know besides the session.
struct Login<'a> {
    /// The server as OAuth2 tokens name it: host (or socket) and port.
    oauth_target: (&'a str, u16),
    /// TLS is active (decides which mechanisms `auth on` may use).
    is_tls: bool,
    /// The password source worked (or no password is needed).
    password_ok: bool,
}

/// The AUTH line and the login. `false`: stop here.
fn check_login(
    r: &mut Report,
    acc: &Account,
    s: &mut Session<'static, Watched>,
    caps: &Capabilities,
    settings: &SessionSettings,
    login: &Login<'_>,
) -> bool {
    let name = acc.name.as_str();
    let offered = if caps.auth_mechs.is_empty() {
        "no mechanism".to_owned()
    } else {
        caps.auth_mechs.join(" ")
    };
    if settings.auth == AuthSetting::Off {
        let note = if caps.auth {
            format!("; the server offers {offered} (if it refuses your mail, set auth on)")
        } else {
            String::new()
        };
        r.ok("AUTH", &format!("not used (auth off){note}"));
        return true;
    }
    if !caps.auth {
        let tls = if acc.settings.tls {
            ""
        } else {
            " (many servers offer it only after TLS)"
        };
        r.fail(
            Sysexit::Unavailable,
            "AUTH",
            &format!("the server does not offer authentication{tls}"),
            &[],
            &if acc.settings.tls {
                format!(
                    "set auth off for account {name} if this server takes mail without a \
                     login; otherwise check host and port (the submission port, 587 or 465, \
                     is the one with AUTH)"
                )
            } else {
                format!(
                    "turn on tls for account {name}, or set auth off if this server takes mail \
                     without a login"
                )
            },
        );
        return false;
    }
    let mut password = crate::secret::AuthSource::new(acc);
    let preferred = password.mechanisms();
    let mech = match smtp::auth::choose_for(settings.auth, caps, login.is_tls, preferred) {
        Ok(Some(m)) => m,
        Ok(None) => return true,
        Err(e) => {
            r.fail_with(
                &e,
                "AUTH",
                &if settings.auth == smtp::auth::AuthSetting::Auto {
                    format!(
                        "the server offers {offered}, which would send the password in clear: \
                         turn on tls (recommended), or name one of them (auth plain) to accept that"
                    )
                } else {
                    format!(
                        "the server offers {offered}: set auth on (postie picks one of them), \
                         or turn on tls"
                    )
                },
            );
            return false;
        }
    };
    r.ok(
        "AUTH",
        &format!("the server offers {offered}; postie uses {}", mech.name()),
    );
    if !login.password_ok {
        r.heading("  (no login tried: no password or token)");
        return false;
    }
    let user = acc.settings.user.as_deref();
    let start = Instant::now();
    let result = s.authenticate(settings.auth, caps, user, login.oauth_target, &mut password);
    let time = took(start.elapsed());
    match result {
        Ok(()) => {
            let who = user.map(|u| format!(" as {u}")).unwrap_or_default();
            r.ok("login", &format!("{}{who} accepted ({time})", mech.name()));
            true
        }
        Err(e) => {
            let fix = if e.exit == Sysexit::NoPerm {
                format!(
                    "check user and password, or postie lock -a {name} if the cache holds an \
                     old one"
                )
            } else if e.message.contains("needs a user name") {
                format!("add \"user NAME\" to account {name}")
            } else {
                "see the error text".to_owned()
            };
            r.fail_with(&e, "login", &fix);
            false
        }
    }
}

// --------------------------------------------------------------------------- queue --

/// Step 6: what waits in the account's queue.
fn check_queue(r: &mut Report, acc: &Account) {
    let name = acc.name.as_str();
    let dir = crate::queue::dir_for(&acc.settings);
    let d = dir.display();
    let q = match Queue::existing(&dir) {
        Ok(Some(q)) => q,
        Ok(None) => {
            r.ok("queue", &format!("{d}: empty"));
            return;
        }
        Err(e) => {
            r.fail_with(
                &e,
                "queue",
                &format!("the queue directory must be yours and private: chmod 700 {d}"),
            );
            return;
        }
    };
    let mut reasons: Vec<(String, usize)> = Vec::new();
    let (mut waiting, mut held, mut others) = (0, 0, 0);
    let mut damaged: Vec<String> = Vec::new();
    for id in q.ids() {
        let m = match q.read_meta(&id) {
            Ok(m) => m,
            Err(FileError::Missing) => continue,
            Err(FileError::Damaged(why)) => {
                damaged.push(format!("{id}: damaged ({why})"));
                continue;
            }
            Err(FileError::Refused(e)) => {
                damaged.push(format!("{id}: {}", e.message));
                continue;
            }
        };
        if let Some(why) = q.message_problem(&id) {
            damaged.push(format!("{id}: damaged ({why})"));
        } else if m.origin.account != acc.name {
            others += 1;
        } else if m.held {
            held += 1;
        } else {
            waiting += 1;
            let reason = m
                .last_error
                .as_deref()
                .map(crate::queue::command::printable)
                .unwrap_or_else(|| "not tried yet".to_owned());
            match reasons.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, n)) => *n += 1,
                None => reasons.push((reason, 1)),
            }
        }
    }
    let mut extra = Vec::new();
    if held > 0 {
        extra.push(format!("{held} held"));
    }
    if others > 0 {
        extra.push(format!("{others} of other accounts"));
    }
    let failed = q.failed_ids().len();
    if failed > 0 {
        extra.push(format!(
            "{failed} set aside in {}",
            dir.join("failed").display()
        ));
    }
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" ({})", extra.join(", "))
    };
    if waiting == 0 && damaged.is_empty() {
        r.ok("queue", &format!("{d}: nothing waiting{extra}"));
        return;
    }
    let mut finding = format!("{d}: {waiting} message(s) of account {name} waiting");
    match damaged.len() {
        0 => {}
        1 => finding.push_str(", 1 damaged entry"),
        n => finding.push_str(&format!(", {n} damaged entries")),
    }
    finding.push_str(&extra);
    let mut details: Vec<String> = reasons
        .iter()
        .map(|(why, n)| format!("{n} × {why}"))
        .collect();
    details.extend(damaged.iter().cloned());
    let mut fix = Vec::new();
    if reasons
        .iter()
        .any(|(r, _)| r.starts_with("waiting for a password"))
    {
        fix.push(format!("postie unlock -a {name}, then postie queue flush"));
    } else if waiting > 0 {
        fix.push("postie queue flush sends them now (postie queue list shows them)".to_owned());
    }
    if !damaged.is_empty() {
        fix.push("postie queue show ID tells more, postie queue delete ID removes one".to_owned());
    }
    let exit = if waiting > 0 {
        Sysexit::TempFail
    } else {
        Sysexit::IoErr
    };
    r.fail(exit, "queue", &finding, &details, &fix.join("; "));
}

// ----------------------------------------------------------------------- send test --

/// The test message, CRLF line ends, no line starting with a dot.
fn test_message(acc: &Account, from: &str, to: &str) -> String {
    let server = acc.settings.host_or_socket();
    let lines = [
        format!("From: {from}"),
        format!("To: {to}"),
        format!("Subject: postie check: test message (account {})", acc.name),
        format!("Date: {}", crate::message::date_header_value()),
        format!("Message-ID: {}", crate::message::message_id(from)),
        "MIME-Version: 1.0".to_owned(),
        "Content-Type: text/plain; charset=UTF-8".to_owned(),
        String::new(),
        "This is a test message sent by postie check --send-test".to_owned(),
        format!("through account {} ({server}).", acc.name),
        "It arrived: the account can send mail.".to_owned(),
    ];
    lines.iter().map(|l| format!("{l}\r\n")).collect()
}

/// Step 7: a test message to `to` on the open session.
fn send_test(r: &mut Report, server: &mut Server, acc: &Account, to: &str) {
    let from = acc.settings.from.clone().unwrap_or_default();
    let envelope = Envelope {
        from: from.clone(),
        recipients: vec![to.to_owned()],
    };
    if let Err(e) = envelope.check() {
        r.fail_with(
            &e,
            "send test",
            "give a plain address: --send-test you@example.org",
        );
        return;
    }
    let text = test_message(acc, &from, to);
    let smtputf8 = server.caps.smtputf8 && envelope.needs_smtputf8();
    let start = Instant::now();
    let result = server.session.transaction(
        &server.settings,
        &envelope,
        server.caps.pipelining,
        smtputf8,
        RecipientPolicy::AllOrNothing,
        &mut |w| {
            w.write_all(text.as_bytes()).map_err(smtp::write_error)?;
            Ok(text.len() as u64)
        },
    );
    let time = took(start.elapsed());
    match result {
        Ok(outcome) if outcome.all_accepted() => {
            let reply = outcome
                .final_reply
                .as_ref()
                .and_then(|r| r.lines.last())
                .map(|l| format!(": {l}"))
                .unwrap_or_default();
            r.ok(
                "send test",
                &format!("a message to {to} was accepted ({time}){reply}"),
            );
        }
        Ok(outcome) => {
            let details: Vec<String> = outcome
                .refusals
                .iter()
                .flat_map(|(rcpt, reply)| reply.lines.iter().map(move |l| format!("{rcpt}: {l}")))
                .collect();
            r.fail(
                Sysexit::Unavailable,
                "send test",
                &format!("the message to {to} was not delivered"),
                &details,
                "the server's reply says why",
            );
        }
        Err(e) => {
            r.fail_with(
                &e,
                "send test",
                "the server's reply says why (a sender address this login may not use? an \
                 unknown recipient?)",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(978_307_200), "2001-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(-86_400), "1969-12-31");
        assert_eq!(date(4_102_444_799), "2099-12-31");
    }

    #[test]
    fn durations_read_as_milliseconds_or_seconds() {
        assert_eq!(took(Duration::from_millis(12)), "12 ms");
        assert_eq!(took(Duration::from_millis(1450)), "1.4 s");
    }

    #[test]
    fn options() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let a = parse("postie", &s(&["-a", "work", "--send-test=me@x.org"])).expect("ok");
        assert_eq!(a.account.as_deref(), Some("work"));
        assert_eq!(a.send_test.as_deref(), Some("me@x.org"));
        assert!(parse("postie", &s(&["--all"])).expect("ok").all);
        assert!(parse("postie", &s(&["--all", "-a", "x"])).is_err());
        assert!(parse("postie", &s(&["--from"])).is_err());
        assert!(parse("postie", &s(&["extra"])).is_err());
        assert!(parse("postie", &s(&["--help"])).expect("ok").help);
    }

    #[test]
    fn an_error_is_its_text_and_the_first_reply_line() {
        let e = Error::new(Sysexit::NoPerm, "authentication failed (method PLAIN)").with_reply(
            crate::reply::Reply {
                code: 535,
                lines: vec!["535-5.7.8 first".into(), "535 5.7.8 second".into()],
            },
        );
        let (finding, details) = error_text(&e);
        assert_eq!(
            finding,
            "authentication failed (method PLAIN): 535-5.7.8 first"
        );
        assert_eq!(details, ["server: 535 5.7.8 second"]);
    }
}
