//! Differential suite: runs msmtp 1.8.23 (the oracle) and postie on the same case — same argv,
//! stdin, msmtprc and a fresh scripted server each — and compares what an observer can see:
//! exit code, EHLO/HELO/LHLO, envelope, DATA bytes, AUTH, TLS, QUIT, logfile line, stdout (for
//! `-P` cases) and the first stderr line.
//!
//! Run one case:   `DIFF_CASE=smtp_rcpt_450 cargo test --test differential -- --nocapture`
//! (comma-separated names; a trailing `*` matches a prefix). `DIFF_VERBOSE=1` prints the server
//! transcripts of differing cases. `POSTIE_DIFF_SELF=1` runs msmtp on both sides (validates the
//! suite itself; intended differences are skipped). A TSV report goes to
//! `target/differential-report.tsv` (case, field, msmtp, postie, status).
//!
//! Deliberate differences are declared per case with `Case::postie(field, expectation, why)`;
//! the suite then checks that postie does the intended thing instead of matching msmtp.

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::pki::{CertChoice, pki};
use support::server::{Action, ServerBuilder, Session, Stage, TlsState};

const MSMTP: &str = "/usr/bin/msmtp";
/// Upper bound for one program run; stalls use `timeout 1`, so this only catches hangs.
const RUN_LIMIT: Duration = Duration::from_secs(20);

/// A compared observable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Field {
    Exit,
    Helo,
    Envelope,
    Data,
    Auth,
    Tls,
    Quit,
    Log,
    Stdout,
    Stderr,
    Pipelining,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Exit => "exit",
            Field::Helo => "helo",
            Field::Envelope => "envelope",
            Field::Data => "data",
            Field::Auth => "auth",
            Field::Tls => "tls",
            Field::Quit => "quit",
            Field::Log => "log",
            Field::Stdout => "stdout",
            Field::Stderr => "stderr",
            Field::Pipelining => "pipelining",
        }
    }
}

/// What postie must show for a field where it deliberately differs from msmtp.
#[derive(Clone, Debug)]
enum Expect {
    /// Exactly this (masked) value.
    Equals(String),
    /// The (masked, escaped) value contains this text.
    Contains(String),
    /// Not checked: a consequence of another intended difference.
    Any,
    /// One of these values: the outcome depends on timing, for msmtp as for postie.
    OneOf(Vec<String>),
}

/// One differential case. Text in `args`, `rc`, `env` and `files` may use the placeholders
/// `{PORT} {PORTHEX} {HOME} {LOG} {CA} {OTHERCA} {FP256} {FP1} {FPMD5}`.
#[derive(Clone)]
struct Case {
    name: &'static str,
    args: Vec<String>,
    rc: Option<String>,
    rc_path: &'static str,
    rc_mode: u32,
    stdin: Vec<u8>,
    server: ServerBuilder,
    env: Vec<(String, String)>,
    files: Vec<(String, String, u32)>,
    stdout: bool,
    postie: Vec<(Field, Expect, &'static str)>,
}

/// Why postie's TLS state differs from msmtp's when a certificate is refused.
const TLS_IN_HANDSHAKE: &str = "(f) rustls rejects a bad certificate inside the handshake (the server sees an alert); GnuTLS completes it and rejects afterwards";

/// The default user configuration: one account on the case's server, logging into the temp dir.
const RC: &str = "defaults\nlogfile {LOG}\n\naccount default\nhost 127.0.0.1\nport {PORT}\nfrom sender@example.com\n";
/// A plain message with a From header that matches no account.
const MAIL: &str =
    "From: Alice <alice@example.com>\nTo: bob@example.org\nSubject: hello\n\nHello Bob.\n";
const MAIL_NOFROM: &str = "To: bob@example.org\nSubject: hello\n\nHello Bob.\n";
const MAIL_T: &str = "From: alice@example.com\nTo: to1@example.org, To Two <to2@example.org>\nCc: cc1@example.org\nBcc: bcc1@example.org,\n  bcc2@example.org\nSubject: t\n\nbody\n";

impl Case {
    fn new(name: &'static str) -> Self {
        Case {
            name,
            args: vec!["rcpt@example.org".into()],
            rc: Some(RC.into()),
            rc_path: ".msmtprc",
            rc_mode: 0o600,
            stdin: MAIL.as_bytes().to_vec(),
            server: ServerBuilder::smtp(),
            env: Vec::new(),
            files: Vec::new(),
            stdout: false,
            postie: Vec::new(),
        }
    }
    fn args(mut self, a: &[&str]) -> Self {
        self.args = a.iter().map(|s| s.to_string()).collect();
        self
    }
    /// Appends lines to the default account.
    fn extra(mut self, lines: &str) -> Self {
        self.rc = Some(format!("{RC}{lines}\n"));
        self
    }
    /// A complete rc, after a `defaults` block that sets the logfile.
    fn rc(mut self, text: &str) -> Self {
        self.rc = Some(format!("defaults\nlogfile {{LOG}}\n\n{text}"));
        self
    }
    /// A complete rc, verbatim.
    fn rc_raw(mut self, text: &str) -> Self {
        self.rc = Some(text.into());
        self
    }
    fn no_rc(mut self) -> Self {
        self.rc = None;
        self
    }
    fn rc_at(mut self, path: &'static str) -> Self {
        self.rc_path = path;
        self
    }
    fn mode(mut self, mode: u32) -> Self {
        self.rc_mode = mode;
        self
    }
    fn stdin(mut self, s: impl AsRef<[u8]>) -> Self {
        self.stdin = s.as_ref().to_vec();
        self
    }
    fn server(mut self, s: ServerBuilder) -> Self {
        self.server = s;
        self
    }
    fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
    fn file(mut self, path: &str, content: &str, mode: u32) -> Self {
        self.files.push((path.into(), content.into(), mode));
        self
    }
    fn stdout(mut self) -> Self {
        self.stdout = true;
        self
    }
    fn postie(mut self, f: Field, e: Expect, why: &'static str) -> Self {
        self.postie.push((f, e, why));
        self
    }

    /// postie refuses the envelope before connecting where msmtp sends it: exit `code`, the
    /// first stderr line containing `stderr`, and nothing on the wire or in the log.
    fn refused_before_connecting(mut self, code: &str, stderr: &str, why: &'static str) -> Self {
        self = self
            .postie(Field::Exit, eq(code), why)
            .postie(Field::Stderr, has(stderr), why);
        for f in [
            Field::Helo,
            Field::Envelope,
            Field::Data,
            Field::Auth,
            Field::Tls,
            Field::Quit,
            Field::Log,
            Field::Pipelining,
        ] {
            self = self.postie(f, Expect::Any, why);
        }
        self
    }
}

/// Why postie does not send an envelope address that msmtp sends as it is.
const BAD_ADDRESS: &str = "(aa) an envelope address outside RFC 5321 syntax is refused before connecting (it could carry ESMTP parameters)";

fn c(name: &'static str) -> Case {
    Case::new(name)
}

fn reply(stage: Stage, text: &str) -> ServerBuilder {
    ServerBuilder::smtp().reply(stage, text)
}

fn has(s: &str) -> Expect {
    Expect::Contains(s.into())
}

fn one_of(vs: &[&str]) -> Expect {
    Expect::OneOf(vs.iter().map(|v| v.to_string()).collect())
}

/// Why postie turns a bare CR into a line end where msmtp sends it as it is.
const BARE_CR: &str = "(k) a bare CR ends a line (CRLF on the wire, a following dot stuffed): no bare CR reaches the server, so `<CR>.<CR>` cannot end the data early at a lenient receiver (SMTP smuggling); mailsize is unchanged";

/// Why postie takes `Bcc :` for a Bcc header where msmtp ignores it.
const OBS_COLON: &str = "(ag) white space before the colon (RFC 5322 obs-optional) is the same header for receivers: `Bcc :` is removed and, with -t, its addresses are recipients; msmtp transmits it";

/// Why postie speaks SMTP on stdin and stdout where msmtp refuses `-bs`.
const BS: &str = "(am) -bs is an SMTP dialogue on stdin and stdout (Symfony Mailer's default): a message piped in gets 500 for each line and the end of input ends the dialogue (exit 0)";

/// Why postie refuses a huge header block that msmtp sends.
const HEADER_LIMIT: &str = "(ah) more than 1 MiB of header lines without an empty line is refused before connecting (exit 65); memory stays bounded";

/// Why a connection dropped in the middle of DATA has more than one right outcome.
const DROP_RACE: &str = "(timing) the server closes while the client may still be writing";

fn eq(s: &str) -> Expect {
    Expect::Equals(s.into())
}

/// All cases, grouped by the msmtp.md section they exercise.
fn cases() -> Vec<Case> {
    let tls_rc = "tls on\ntls_trust_file {CA}";
    let auth_srv = || {
        ServerBuilder::smtp()
            .starttls()
            .auth("PLAIN LOGIN CRAM-MD5")
            .credentials("joe", "secret")
    };
    let two_accounts = "account default\nhost 127.0.0.1\nport {PORT}\ndomain def.test\nfrom sender@example.com\n\naccount work\nhost 127.0.0.1\nport {PORT}\ndomain work.test\nfrom w@work.example\n";
    // More than postie's 1 MiB header limit, without an empty line.
    let log_without_blank_line = format!(
        "To: bob@example.org\nSubject: log\n{}",
        "2024-01-01 12:00:00 host cron[1]: job done\n".repeat(40_000)
    );
    let oversized_header = format!(
        "From: a@b.c\n{}\nbody\n",
        format!("X-Pad: {}\n", "p".repeat(64)).repeat(17_000)
    );
    let big_body: String = format!(
        "Subject: big\n\n{}END-OF-BODY\n",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n".repeat(3000)
    );
    vec![
        // ---- 1. command line -------------------------------------------------------------
        c("opt_basic"),
        c("opt_sendmail_o_flags").args(&["-oi", "-oem", "-odi", "-B8BITMIME", "--", "r@x.org"]),
        c("opt_i").args(&["-i", "r@x.org"]),
        c("opt_ignored_flags").args(&[
            "-Ac", "-G", "-h", "5", "-L", "tag", "-m", "-n", "-O", "a=b", "-bm", "r@x.org",
        ]),
        c("opt_o_separate_word").args(&["-o", "i", "r@x.org"]),
        c("opt_dashdash_dash_rcpt").args(&["--", "-odd@x.org"]),
        c("opt_bp_rejected")
            .args(&["-bp"])
            .postie(Field::Exit, eq("0"), "queue (issue 5): -bp lists the queue")
            .postie(Field::Stderr, eq(""), "queue (issue 5): -bp lists the queue"),
        c("opt_bs_rejected")
            .args(&["-bs"])
            .postie(Field::Exit, eq("0"), BS)
            .postie(Field::Stderr, eq(""), BS),
        c("opt_bi_rejected").args(&["-bi", "r@x.org"]),
        c("opt_em_rejected").args(&["-em", "r@x.org"]),
        c("opt_r_rejected").args(&["-r", "a@x.org", "r@x.org"]),
        c("opt_q_rejected")
            .args(&["-q"])
            .postie(Field::Exit, eq("0"), "queue (issue 5): -q flushes the queue")
            .postie(Field::Stderr, eq(""), "queue (issue 5): -q flushes the queue"),
        c("opt_I_rejected").args(&["-I"]),
        c("opt_unknown_long").args(&["--foo", "r@x.org"]),
        c("opt_empty_optional_tls").args(&["--tls=", "r@x.org"]),
        c("opt_empty_optional_set_from_header").args(&["--set-from-header=", "r@x.org"]),
        c("opt_empty_optional_keepbcc").args(&["--keepbcc=", "r@x.org"]),
        c("opt_empty_optional_auth").args(&["--auth=", "--user=u", "r@x.org"]),
        c("opt_missing_arg").args(&["r@x.org", "-f"]),
        c("opt_ambiguous_long").args(&["--tls-c=x", "r@x.org"]),
        c("opt_abbrev_account")
            .rc(two_accounts)
            .args(&["--acc=work", "r@x.org"]),
        c("opt_abbrev_host").args(&["--ho=127.0.0.1", "--port={PORT}", "-f", "s@x.org", "r@x.org"]),
        c("opt_optional_arg_space")
            .args(&["--remove-bcc-headers", "off", "r@x.org"])
            .stdin(MAIL_T),
        c("opt_optional_arg_eq")
            .args(&["--remove-bcc-headers=off", "r@x.org"])
            .stdin(MAIL_T),
        c("opt_invalid_value").args(&["--tls=maybe", "r@x.org"]),
        c("opt_dsn_sent")
            .args(&["-N", "failure,delay", "-R", "hdrs", "r@x.org"])
            .server(ServerBuilder::smtp().dsn()),
        c("opt_dsn_never_full")
            .args(&["--dsn-notify=never", "--dsn-return=full", "r@x.org"])
            .server(ServerBuilder::smtp().dsn()),
        c("opt_dsn_not_offered").args(&["-N", "success", "r@x.org"]),
        c("opt_dsn_invalid").args(&["-N", "bogus", "r@x.org"]),
        c("opt_dsn_return_invalid").args(&["-R", "everything", "r@x.org"]),
        c("opt_f_empty").args(&["-f", "<>", "r@x.org"]).stdin(MAIL_NOFROM),
        c("opt_f_mailer_daemon")
            .args(&["-f", "MAILER-DAEMON", "r@x.org"])
            .stdin(MAIL_NOFROM),
        c("opt_f_other").args(&["-f", "other@example.com", "r@x.org"]),
        c("opt_f_attached").args(&["-fother@example.com", "r@x.org"]),
        c("opt_F_fullname")
            .args(&["-F", "John Doe", "r@x.org"])
            .stdin(MAIL_NOFROM),
        c("opt_d01_version").args(&["-d0.1"]),
        c("opt_version").args(&["--version"]),
        c("opt_help").args(&["--help"]),
        c("opt_no_recipients").args(&[]),
        c("opt_empty_recipient").args(&[""]),
        c("opt_address_lists").args(&[
            "A <a@x.org>, b@y.org",
            "grp: g1@x.org, g2@x.org;",
            "x@y.org (comment)",
            "\"Doe, J.\" <j@x.org>",
            "local",
        ]),
        c("opt_posixly_correct")
            .env("POSIXLY_CORRECT", "1")
            .args(&["r@x.org", "-f", "z@x.org"]),
        c("opt_permutation").args(&["r@x.org", "-f", "other@example.com", "s@x.org"]),
        c("opt_host_and_account").args(&["--host=127.0.0.1", "-a", "default", "r@x.org"]),
        c("opt_from_and_read_envelope").args(&["-f", "a@x.org", "--read-envelope-from", "r@x.org"]),
        c("opt_serverinfo_with_args").args(&["-S", "r@x.org"]),
        c("opt_port_hex").args(&["--port={PORTHEX}", "r@x.org"]),
        c("opt_timeout_zero").args(&["--timeout=0", "r@x.org"]),
        c("opt_C_missing").args(&["-C", "{HOME}/nope.rc", "r@x.org"]),
        c("opt_C_file")
            .rc_at("custom.rc")
            .args(&["-C", "{HOME}/custom.rc", "r@x.org"]),
        c("opt_P_pretend").args(&["-P", "r@x.org"]).stdout(),
        c("opt_P_read_recipients")
            .args(&["-P", "-t"])
            .stdin(MAIL_T)
            .stdout(),
        c("opt_P_host_mode")
            .args(&["-P", "--host=127.0.0.1", "--port=2525", "-f", "a@b.c", "r@x.org"])
            .stdout(),
        c("opt_v_debug").args(&["-v", "r@x.org"]),
        c("opt_domain").args(&["--domain=client.test", "r@x.org"]),
        c("opt_protocol_invalid").args(&["--protocol=x", "r@x.org"]),
        // ---- more edge cases (each area above, one more angle) ------------------------------
        c("opt_P_read_envelope_from_none")
            .args(&["-P", "--read-envelope-from", "r@x.org"])
            .stdin(MAIL_NOFROM)
            .stdout(),
        c("opt_X_logfile")
            .rc_raw("account default\nhost 127.0.0.1\nport {PORT}\nfrom sender@example.com\n")
            .args(&["-X", "{LOG}", "r@x.org"]),
        c("opt_N_success_delay").server(ServerBuilder::smtp().dsn()).args(&["-N", "success,delay", "-R", "full", "r@x.org"]),
        c("opt_F_with_set_from_on").extra("set_from_header on").args(&["-F", "Full Name", "r@x.org"]),
        c("hdr_from_empty").stdin("From:\nSubject: s\n\nbody\n"),
        c("hdr_lowercase_date_msgid").stdin("from: a@b.c\ndate: Mon, 1 Jan 2024 00:00:00 +0000\nmessage-id: <x@y>\n\nbody\n"),
        c("hdr_undisclosed_with_t")
            .extra("undisclosed_recipients on")
            .args(&["-t"])
            .stdin(MAIL_T),
        c("hdr_t_resent_plus_args")
            .args(&["-t", "extra@x.org"])
            .stdin("From: a@b.c\nTo: old@x.org\nResent-From: r@b.c\nResent-To: new@x.org\nResent-Cc: cc@x.org\n\nbody\n"),
        c("hdr_several_bcc_folded")
            .args(&["-t"])
            .stdin("From: a@b.c\nBcc: b1@x.org\nTo: t@x.org\nbcc: b2@x.org,\n\tb3@x.org\nSubject: s\n\nbody\n"),
        c("body_final_dot_line").stdin("Subject: s\n\nbody\n.\n"),
        c("body_dot_crlf_only").stdin("Subject: s\r\n\r\n.\r\n..\r\n"),
        c("smtp_rcpt_251_accepted").server(reply(Stage::Rcpt(1), "251 2.1.5 will forward")),
        c("smtp_rcpt_550_multiline").server(reply(Stage::Rcpt(1), "550-5.1.1 first line\n550 5.1.1 'quoted' second")),
        c("cfg_eval_host").rc_raw("account default\neval echo host 127.0.0.1\nport {PORT}\nfrom sender@example.com\nlogfile {LOG}\n"),
        c("acct_default_inherits_work").rc(
            "account work\nhost 127.0.0.1\nport {PORT}\ndomain work.test\nfrom w@work.example\n\naccount default : work\n",
        ),
        c("acct_f_plus_glob")
            .rc("account default\nhost 127.0.0.1\nport {PORT}\nfrom sender@example.com\n\naccount glob\nhost 127.0.0.1\nport {PORT}\ndomain glob.test\nfrom *@glob.org\n")
            .args(&["-f", "joe+tag@glob.org", "r@x.org"])
            .postie(Field::Helo, eq("EHLO glob.test"), "(j) +detail addresses also match glob patterns (msmtp 1.8.25 fix)"),
        // ---- 2. configuration files ------------------------------------------------------
        c("cfg_eol_comment")
            .rc("account default\nhost 127.0.0.1\nport {PORT}\nfrom sender@example.com # c\n")
            .refused_before_connecting("64", "invalid envelope-from address sender@example.com # c: it contains white space", BAD_ADDRESS),
        c("cfg_quotes_stripped").rc("account default\nhost 127.0.0.1\nport {PORT}\nfrom \"sender@example.com\"\n"),
        c("cfg_half_quote")
            .rc("account default\nhost 127.0.0.1\nport {PORT}\nfrom \"sender@example.com\n")
            .refused_before_connecting("64", "its quoted local part is not closed", BAD_ADDRESS),
        c("cfg_unknown_command").extra("hots 127.0.0.1"),
        c("cfg_needs_argument").extra("host"),
        c("cfg_defaults_with_arg").rc_raw("defaults x\n"),
        c("cfg_invalid_argument").extra("tls maybe"),
        c("cfg_missing_account_name").extra("account"),
        c("cfg_account_comma").extra("account a,b"),
        c("cfg_account_duplicate").extra("account default"),
        c("cfg_parent_undefined").extra("account x : nope"),
        c("cfg_implicit_default_conflict")
            .rc_raw("host 127.0.0.1\nport {PORT}\naccount default\nfrom a@b.c\n"),
        c("cfg_implicit_default_works")
            .rc_raw("host 127.0.0.1\nport {PORT}\nfrom sender@example.com\nlogfile {LOG}\n"),
        c("cfg_line_too_long").extra(&format!("domain {}", "d".repeat(500))),
        c("cfg_line_499_ok").extra(&format!("domain {}", "d".repeat(492))),
        c("cfg_crlf_lines").rc_raw(&RC.replace('\n', "\r\n")),
        c("cfg_perm_0644_password").extra("password x").mode(0o644),
        c("cfg_perm_0700_password").extra("password x").mode(0o700),
        c("cfg_perm_0400_password").extra("password x").mode(0o400),
        c("cfg_perm_0644_no_password").mode(0o644),
        c("cfg_eval_port").rc("account default\nhost 127.0.0.1\neval echo port {PORT}\nfrom sender@example.com\n"),
        c("cfg_eval_no_output").extra("eval true"),
        c("cfg_inheritance").rc("account base\nhost 127.0.0.1\nport {PORT}\ndomain base.test\n\naccount default : base\nfrom sender@example.com\n"),
        c("cfg_account_not_found").args(&["-a", "nope", "r@x.org"]),
        c("cfg_no_default_account").rc("account other\nhost 127.0.0.1\nport {PORT}\nfrom o@x.org\n"),
        c("cfg_env_fallback")
            .no_rc()
            .env("SMTPSERVER", "127.0.0.1")
            .env("EMAIL", "env@example.com")
            .args(&["--port={PORT}", "r@x.org"]),
        c("cfg_host_not_set").rc("account default\nport {PORT}\nfrom sender@example.com\n"),
        c("cfg_from_missing").rc("account default\nhost 127.0.0.1\nport {PORT}\n"),
        c("cfg_tls_without_trust").extra("tls on\ntls_trust_file"),
        c("cfg_lmtp_without_port").rc("account default\nhost 127.0.0.1\nprotocol lmtp\nfrom sender@example.com\n"),
        c("cfg_xdg_location").rc_at(".config/msmtp/config"),
        c("cfg_auth_uppercase_invalid").extra("auth PLAIN"),
        c("cfg_allow_from_override_empty").extra("allow_from_override"),
        c("cfg_trust_file_missing").extra("tls on\ntls_trust_file {HOME}/missing.pem"),
        // ---- 3. account selection and envelope-from --------------------------------------
        c("acct_by_f").rc(two_accounts).args(&["-f", "w@work.example", "r@x.org"]),
        c("acct_by_f_case").rc(two_accounts).args(&["-f", "W@WORK.example", "r@x.org"]),
        c("acct_by_f_wildcard")
            .rc(&two_accounts.replace("from w@work.example", "from *@work.example"))
            .args(&["-f", "any@work.example", "r@x.org"]),
        c("acct_by_f_subaddress").rc(two_accounts).args(&["-f", "w+tag@work.example", "r@x.org"]),
        c("acct_by_f_nomatch").rc(two_accounts).args(&["-f", "x@else.example", "r@x.org"]),
        c("acct_a").rc(two_accounts).args(&["-a", "work", "r@x.org"]),
        c("acct_from_header_selects")
            .rc(two_accounts)
            .stdin("From: Worker <w@work.example>\nSubject: s\n\nbody\n")
            .postie(Field::Helo, eq("EHLO work.test"), "(a) account chosen by From header")
            .postie(Field::Envelope, eq("MAIL FROM:<w@work.example> | RCPT TO:<rcpt@example.org>"), "(a)")
            .postie(Field::Log, has("from=w@work.example"), "(a)"),
        c("acct_read_envelope_from").args(&["--read-envelope-from", "r@x.org"]),
        c("acct_read_envelope_from_none")
            .args(&["--read-envelope-from", "r@x.org"])
            .stdin(MAIL_NOFROM),
        c("acct_allow_from_override_off")
            .extra("allow_from_override off")
            .args(&["-f", "other@example.com", "r@x.org"]),
        c("acct_allow_from_override_inherit")
            .rc("account fzj\nhost 127.0.0.1\nport {PORT}\nfrom fzj@example.com\nallow_from_override off\n\naccount default : fzj\n")
            .args(&["-f", "other@example.com", "r@x.org"])
            .postie(Field::Envelope, eq("MAIL FROM:<fzj@example.com> | RCPT TO:<r@x.org>"), "(b) allow_from_override inherited (msmtp 1.8.24 fix)")
            .postie(Field::Log, has("from=fzj@example.com"), "(b)"),
        c("acct_pattern_as_envelope")
            .rc("account default\nhost 127.0.0.1\nport {PORT}\nfrom *@example.com\n")
            .stdin("From: Alice <alice@example.org>\nSubject: s\n\nbody\n"),
        c("acct_pattern_matches_from_header")
            .rc("account default\nhost 127.0.0.1\nport {PORT}\nfrom *@example.com\n")
            .postie(Field::Envelope, eq("MAIL FROM:<alice@example.com> | RCPT TO:<rcpt@example.org>"), "(a) the From header matches the account's pattern: it becomes the envelope sender instead of the pattern text")
            .postie(Field::Log, has("from=alice@example.com"), "(a)"),
        c("acct_percent_user")
            .rc("account default\nhost 127.0.0.1\nport {PORT}\nfrom %U@example.com\n")
            .stdin(MAIL_NOFROM),
        // ---- 5. headers ---------------------------------------------------------------
        c("hdr_from_added").stdin(MAIL_NOFROM),
        c("hdr_date_msgid_present").stdin("From: a@b.c\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <x@y>\n\nbody\n"),
        c("hdr_set_from_on").extra("set_from_header on"),
        c("hdr_set_from_off").extra("set_from_header off").stdin(MAIL_NOFROM),
        c("hdr_set_date_off").extra("set_date_header off"),
        c("hdr_set_msgid_off").extra("set_msgid_header off"),
        c("hdr_bcc_removed").stdin(MAIL_T),
        c("hdr_keepbcc").extra("keepbcc on").stdin(MAIL_T),
        c("hdr_resent_bcc_kept").stdin("From: a@b.c\nResent-Bcc: rb@x.org\nBcc: b@x.org\n\nbody\n"),
        c("hdr_undisclosed").extra("undisclosed_recipients on").stdin(MAIL_T),
        c("hdr_t_basic").args(&["-t"]).stdin(MAIL_T),
        c("hdr_t_plus_args").args(&["-t", "extra@x.org"]).stdin(MAIL_T),
        c("hdr_t_resent").args(&["-t"]).stdin("From: a@b.c\nTo: old@x.org\nResent-From: r@b.c\nResent-To: new1@x.org\nResent-Cc: new2@x.org\nSubject: s\n\nbody\n"),
        c("hdr_t_resent_second_block").args(&["-t"]).stdin("Resent-To: first@x.org\nSubject: s\nResent-To: second@x.org\nTo: to@x.org\n\nbody\n"),
        c("hdr_t_no_dedup").args(&["-t", "a@x.org"]).stdin("To: a@x.org, a@x.org\nCc: A@X.ORG\n\nbody\n"),
        c("hdr_t_folded").args(&["-t"]).stdin("To: one@x.org,\n\ttwo@x.org\nSubject: s\n\nbody\n"),
        c("hdr_t_name_space")
            .args(&["-t"])
            .stdin("To : x@y.org\n\nbody\n")
            .postie(Field::Exit, eq("0"), OBS_COLON)
            .postie(Field::Stderr, eq(""), OBS_COLON)
            .postie(Field::Helo, eq("EHLO localhost"), OBS_COLON)
            .postie(Field::Envelope, eq("MAIL FROM:<sender@example.com> | RCPT TO:<x@y.org>"), OBS_COLON)
            .postie(Field::Data, has("\\r\\nTo : x@y.org\\r\\n\\r\\nbody\\r\\n"), OBS_COLON)
            .postie(Field::Tls, eq("none"), OBS_COLON)
            .postie(Field::Quit, eq("QUIT"), OBS_COLON)
            .postie(Field::Pipelining, eq("one by one"), OBS_COLON)
            .postie(Field::Log, has("recipients=x@y.org mailsize="), OBS_COLON),
        c("hdr_bcc_space_colon")
            .stdin("From: a@b.c\nTo: t@x.org\nBcc : hidden@x.org\nbcc\t: h2@x.org,\n h3@x.org\nSubject: s\n\nbody\n")
            .postie(Field::Data, has("\\r\\nFrom: a@b.c\\r\\nTo: t@x.org\\r\\nSubject: s\\r\\n\\r\\nbody\\r\\n"), OBS_COLON)
            .postie(Field::Log, has("mailsize=41+generated"), OBS_COLON),
        c("hdr_t_bcc_space_colon")
            .args(&["-t"])
            .stdin("From: a@b.c\nTo: t@x.org\nBcc\t: hidden@x.org\nSubject: s\n\nbody\n")
            .postie(Field::Envelope, eq("MAIL FROM:<sender@example.com> | RCPT TO:<t@x.org> | RCPT TO:<hidden@x.org>"), OBS_COLON)
            .postie(Field::Data, has("\\r\\nFrom: a@b.c\\r\\nTo: t@x.org\\r\\nSubject: s\\r\\n\\r\\nbody\\r\\n"), OBS_COLON)
            .postie(Field::Log, has("recipients=t@x.org,hidden@x.org mailsize=41+generated"), OBS_COLON),
        c("hdr_bare_cr_in_header").stdin("From: a@b.c\nSubject: a\rb\n\nbody\n"),
        c("hdr_unparsable_from").stdin("From: \"Cron Daemon\"\nSubject: s\n\nbody\n"),
        c("hdr_t_comments").args(&["-t"]).stdin("To: to10(c)@localhost(c), John Doe j@x.org, grp: g@x.org;\n\nbody\n"),
        c("hdr_t_bcc_only").args(&["-t"]).stdin("Bcc: hidden@x.org\nSubject: s\n\nbody\n"),
        c("hdr_t_from_multi")
            .args(&["-t"])
            .stdin("From: a@x.org, b@y.org\nTo: to@x.org\n\nbody\n")
            .postie(Field::Envelope, eq("MAIL FROM:<sender@example.com> | RCPT TO:<to@x.org>"), "(e) 2nd From address is not a recipient")
            .postie(Field::Log, has("recipients=to@x.org mailsize"), "(e)"),
        // The first line that is no header field ends the header lines, as msmtp sends them.
        c("hdr_no_blank_line_large").stdin(log_without_blank_line),
        c("hdr_block_over_limit")
            .stdin(oversized_header)
            .postie(Field::Exit, eq("65"), HEADER_LIMIT)
            .postie(Field::Stderr, eq("PRG: the header of the mail is longer than 1 MiB: is the empty line after the header lines missing?"), HEADER_LIMIT)
            .postie(Field::Helo, eq("(no connection)"), HEADER_LIMIT)
            .postie(Field::Envelope, eq("(none)"), HEADER_LIMIT)
            .postie(Field::Data, eq("(no data)"), HEADER_LIMIT)
            .postie(Field::Tls, eq("(no connection)"), HEADER_LIMIT)
            .postie(Field::Quit, eq("(no connection)"), HEADER_LIMIT)
            .postie(Field::Pipelining, eq("(no MAIL)"), HEADER_LIMIT)
            .postie(Field::Log, eq(""), HEADER_LIMIT),
        // ---- 5.4 body -------------------------------------------------------------------
        c("body_lf").stdin("Subject: s\n\nline1\nline2\n"),
        c("body_crlf").stdin("Subject: s\r\n\r\nline1\r\nline2\r\n"),
        c("body_mixed").stdin("Subject: s\r\n\nline1\r\nline2\nline3\r\n"),
        c("body_bare_cr")
            .stdin("Subject: s\n\na\rb\ntrailing\r\r\n")
            .postie(Field::Data, eq("From: sender@example.com\\r\\nDate: <generated>\\r\\nMessage-ID: <generated>\\r\\nSubject: s\\r\\n\\r\\na\\r\\nb\\r\\ntrailing\\r\\n\\r\\n"), BARE_CR),
        c("body_cr_dot_smuggle")
            .stdin("Subject: s\n\nbody\r.\rMAIL FROM:<evil@x.org>\r\n.\r")
            .postie(Field::Data, eq("From: sender@example.com\\r\\nDate: <generated>\\r\\nMessage-ID: <generated>\\r\\nSubject: s\\r\\n\\r\\nbody\\r\\n..\\r\\nMAIL FROM:<evil@x.org>\\r\\n..\\r\\n"), BARE_CR)
            .postie(Field::Log, has("mailsize=69+generated"), "(k) a bare CR at the very end of the input is a line end, not a byte of a line: mailsize is one less than msmtp's"),
        c("body_dots").stdin("Subject: s\n\n.leading\n..two\nmid.dle\n"),
        c("body_lone_dot").stdin("Subject: s\n\nbefore\n.\nafter\n"),
        c("body_no_final_newline").stdin("Subject: s\n\nno newline"),
        c("body_headers_only").stdin("Subject: s\nX-A: b"),
        c("body_empty").stdin(""),
        c("body_only_blank_line").stdin("\n"),
        c("body_nul").stdin(b"Subject: s\n\na\0b\n\0\n".as_slice()),
        c("body_long_line").stdin(format!("Subject: s\n\n{}\n", "x".repeat(10000))),
        c("body_invalid_utf8").stdin(b"Subject: \xff\xfe\n\n\xc3\x28 bad \x80\n".as_slice()),
        c("body_large").stdin(big_body.clone()),
        // ---- 6/7. SMTP session and exit codes -------------------------------------------
        c("smtp_greeting_554").server(reply(Stage::Greeting, "554 5.3.2 go away")),
        c("smtp_greeting_multiline").server(reply(Stage::Greeting, "421-busy\n421 try later")),
        c("smtp_helo_fallback").server(reply(Stage::Ehlo, "502 5.5.2 no EHLO")),
        c("smtp_helo_fallback_dsn_lost")
            .args(&["-N", "failure", "r@x.org"])
            .server(ServerBuilder::smtp().dsn().reply(Stage::Ehlo, "500 no")),
        c("smtp_ehlo_helo_refused").server(reply(Stage::Ehlo, "502 no").reply(Stage::Helo, "502 no")),
        c("smtp_mail_451").server(reply(Stage::Mail, "451 4.3.0 try again")),
        c("smtp_mail_550").server(reply(Stage::Mail, "550 5.7.1 sender rejected")),
        c("smtp_rcpt_450_second")
            .args(&["r1@x.org", "r2@x.org"])
            .server(reply(Stage::Rcpt(2), "450 4.1.1 mailbox busy")),
        c("smtp_rcpt_550").server(reply(Stage::Rcpt(1), "550 5.1.1 no such user")),
        c("smtp_data_451").server(reply(Stage::Data, "451 4.3.0 not now")),
        c("smtp_data_554").server(reply(Stage::Data, "554 5.5.1 no")),
        c("smtp_eod_452").server(reply(Stage::EndOfData, "452 4.3.1 full")),
        c("smtp_eod_554_multiline").server(reply(Stage::EndOfData, "554-5.7.1 spam\n554 5.7.1 it's rejected")),
        c("smtp_eod_quote_in_reply").server(ServerBuilder::smtp().eod_reply("250 it's queued")),
        c("smtp_pipelining_ok")
            .args(&["a@x.org", "b@x.org"])
            .server(ServerBuilder::smtp().pipelining()),
        c("smtp_pipelining_mail_fail")
            .args(&["a@x.org", "b@x.org"])
            .server(ServerBuilder::smtp().pipelining().reply(Stage::Mail, "550 5.7.1 no")),
        c("smtp_pipelining_rcpt_fail")
            .args(&["a@x.org", "b@x.org"])
            .server(ServerBuilder::smtp().pipelining().reply(Stage::Rcpt(1), "451 4.1.1 later")),
        c("smtp_drop_at_greeting").server(ServerBuilder::smtp().fault(Stage::Greeting, Action::Drop)),
        c("smtp_drop_at_rcpt").server(ServerBuilder::smtp().fault(Stage::Rcpt(1), Action::Drop)),
        c("smtp_drop_mid_data")
            .stdin(big_body.clone())
            .server(ServerBuilder::smtp().fault(Stage::DataBody, Action::Drop))
            // Whether the client is still writing when the close arrives is a race for both
            // programs: a write error (74) or an empty reply (76) are both right.
            .postie(Field::Exit, one_of(&["74", "76"]), DROP_RACE)
            .postie(Field::Stderr, one_of(&[
                "PRG: network write error: Broken pipe",
                "PRG: network write error: Connection reset by peer",
                "PRG: network read error: Connection reset by peer",
                "PRG: the server sent an empty reply",
            ]), DROP_RACE)
            .postie(Field::Log, Expect::Any, DROP_RACE)
            .postie(Field::Data, Expect::Any, DROP_RACE),
        c("smtp_invalid_reply").server(reply(Stage::Mail, "hello")),
        c("smtp_reply_too_long").server(reply(
            Stage::Mail,
            &format!("{}250 ok", "250-x\n".repeat(51)),
        )),
        c("smtp_conn_refused").server(ServerBuilder::smtp().no_listen()),
        c("smtp_stall_greeting_timeout")
            .extra("timeout 1")
            .server(ServerBuilder::smtp().fault(Stage::Greeting, Action::Stall)),
        c("smtp_stall_eod_timeout")
            .extra("timeout 1")
            .server(ServerBuilder::smtp().fault(Stage::EndOfData, Action::Stall)),
        c("smtp_slow_within_timeout")
            .extra("timeout 1")
            .server(ServerBuilder::smtp().fault(Stage::Rcpt(1), Action::Slow(Duration::from_millis(300)))),
        c("lmtp_ok")
            .extra("protocol lmtp")
            .args(&["a@x.org", "b@x.org"])
            .server(ServerBuilder::lmtp()),
        c("lmtp_partial")
            .extra("protocol lmtp")
            .args(&["a@x.org", "b@x.org"])
            .server(ServerBuilder::lmtp().lmtp_reply(2, "550 5.1.1 no such user")),
        c("lmtp_lhlo_refused")
            .extra("protocol lmtp")
            .server(ServerBuilder::lmtp().reply(Stage::Lhlo, "500 no")),
        // ---- 6. TLS ---------------------------------------------------------------------
        c("tls_starttls_ca").extra(tls_rc).server(ServerBuilder::smtp().starttls()),
        c("tls_host_override")
            .extra(&format!("{tls_rc}\ntls_host_override localhost"))
            .server(ServerBuilder::smtp().starttls()),
        c("tls_starttls_missing").extra(tls_rc),
        c("tls_starttls_454")
            .extra(tls_rc)
            .server(ServerBuilder::smtp().starttls().reply(Stage::StartTls, "454 4.7.0 TLS not available")),
        c("tls_starttls_injection")
            .extra(tls_rc)
            .server(ServerBuilder::smtp().starttls().fault(Stage::StartTls, Action::InjectAfter(b"250 injected\r\n".to_vec()))),
        c("tls_implicit")
            .extra(&format!("{tls_rc}\ntls_starttls off"))
            .server(ServerBuilder::smtp().implicit_tls()),
        c("tls_fingerprint_sha256")
            .extra("tls on\ntls_fingerprint {FP256}")
            .server(ServerBuilder::smtp().starttls()),
        c("tls_fingerprint_sha1")
            .extra("tls on\ntls_fingerprint {FP1}")
            .server(ServerBuilder::smtp().starttls()),
        c("tls_fingerprint_md5")
            .extra("tls on\ntls_starttls off\ntls_fingerprint {FPMD5}")
            .server(ServerBuilder::smtp().implicit_tls()),
        c("tls_fingerprint_wrong")
            .extra(&format!("tls on\ntls_fingerprint {}", ["AB"; 32].join(":")))
            .server(ServerBuilder::smtp().starttls())
            .postie(Field::Tls, eq("handshake failed"), TLS_IN_HANDSHAKE),
        c("tls_certcheck_off")
            .extra("tls on\ntls_certcheck off")
            .server(ServerBuilder::smtp().starttls().cert(CertChoice::WrongHost)),
        c("tls_wrong_host").extra(tls_rc).server(ServerBuilder::smtp().starttls().cert(CertChoice::WrongHost))
            .postie(Field::Tls, eq("handshake failed"), TLS_IN_HANDSHAKE),
        c("tls_untrusted_ca").extra(tls_rc).server(ServerBuilder::smtp().starttls().cert(CertChoice::UntrustedCa))
            .postie(Field::Tls, eq("handshake failed"), TLS_IN_HANDSHAKE),
        c("tls_other_ca_file").extra("tls on\ntls_trust_file {OTHERCA}").server(ServerBuilder::smtp().starttls())
            .postie(Field::Tls, eq("handshake failed"), TLS_IN_HANDSHAKE),
        c("tls_implicit_against_plain").extra(&format!("{tls_rc}\ntls_starttls off\ntimeout 2")),
        // ---- 6. AUTH --------------------------------------------------------------------
        c("auth_on_tls_plain")
            .extra(&format!("{tls_rc}\nauth on\nuser joe\npassword secret"))
            .server(auth_srv()),
        c("auth_login_explicit_tls")
            .extra(&format!("{tls_rc}\nauth login\nuser joe\npassword secret"))
            .server(auth_srv()),
        c("auth_plain_cleartext")
            .extra("auth plain\nuser joe\npassword secret")
            .server(ServerBuilder::smtp().auth("PLAIN LOGIN").credentials("joe", "secret")),
        c("auth_on_cleartext_refused")
            .extra("auth on\nuser joe\npassword secret")
            .server(ServerBuilder::smtp().auth("PLAIN LOGIN CRAM-MD5")),
        c("auth_on_tls_login_only")
            .extra(&format!("{tls_rc}\nauth on\nuser joe\npassword secret"))
            .server(ServerBuilder::smtp().starttls().auth("LOGIN").credentials("joe", "secret")),
        c("auth_cram_md5_explicit")
            .extra("auth cram-md5\nuser joe\npassword secret")
            .server(ServerBuilder::smtp().auth("CRAM-MD5").credentials("joe", "secret")),
        c("auth_on_tls_cram_only")
            .extra(&format!("{tls_rc}\nauth on\nuser joe\npassword secret"))
            .server(ServerBuilder::smtp().starttls().auth("CRAM-MD5").credentials("joe", "secret")),
        c("auth_wrong_password")
            .extra(&format!("{tls_rc}\nauth on\nuser joe\npassword wrong"))
            .server(auth_srv()),
        c("auth_not_advertised")
            .extra(&format!("{tls_rc}\nauth on\nuser joe\npassword secret"))
            .server(ServerBuilder::smtp().starttls()),
        c("auth_mech_not_advertised")
            .extra("auth login\nuser joe\npassword secret")
            .server(ServerBuilder::smtp().auth("PLAIN")),
        c("auth_no_user")
            .extra("auth plain\npassword secret")
            .server(ServerBuilder::smtp().auth("PLAIN")),
        c("auth_454")
            .extra("auth plain\nuser joe\npassword secret")
            .server(ServerBuilder::smtp().auth("PLAIN").reply(Stage::Auth, "454 4.7.0 temporary failure")),
        c("auth_on_tls_no_common_mech")
            .extra(&format!("{tls_rc}\nauth on\nuser joe\npassword secret"))
            .server(ServerBuilder::smtp().starttls().auth("XOAUTH2")),
        // ---- 4. passwords ---------------------------------------------------------------
        c("pw_eval_ok")
            .extra("auth plain\nuser joe\npasswordeval echo secret")
            .server(ServerBuilder::smtp().auth("PLAIN").credentials("joe", "secret")),
        c("pw_eval_exit_ignored")
            .extra("auth plain\nuser joe\npasswordeval printf 'secret\\n'; exit 3")
            .server(ServerBuilder::smtp().auth("PLAIN").credentials("joe", "secret")),
        c("pw_eval_no_output")
            .extra("auth plain\nuser joe\npasswordeval true")
            .server(ServerBuilder::smtp().auth("PLAIN")),
        c("pw_eval_empty_line")
            .extra("auth plain\nuser joe\npasswordeval echo")
            .server(ServerBuilder::smtp().auth("PLAIN").credentials("joe", "secret")),
        c("pw_eval_crlf_stripped")
            .extra("auth plain\nuser joe\npasswordeval printf 'secret\\r\\nline2\\n'")
            .server(ServerBuilder::smtp().auth("PLAIN").credentials("joe", "secret")),
        c("pw_eval_not_run_without_auth").extra("passwordeval true"),
        c("pw_eval_stdin")
            .extra("auth plain\nuser joe\npasswordeval cat >/dev/null; echo secret")
            .stdin(big_body.clone())
            .server(ServerBuilder::smtp().auth("PLAIN").credentials("joe", "secret"))
            .postie(Field::Data, has("END-OF-BODY"), "(d) passwordeval gets /dev/null as stdin")
            .postie(Field::Log, Expect::Any, "(d) mailsize follows the full body"),
        c("pw_missing_no_tty")
            .extra("auth plain\nuser joe")
            .server(ServerBuilder::smtp().auth("PLAIN")),
        c("pw_netrc")
            .extra("auth plain\nuser joe")
            .file(".netrc", "machine 127.0.0.1 login joe password secret\n", 0o600)
            .server(ServerBuilder::smtp().auth("PLAIN").credentials("joe", "secret")),
        c("pw_netrc_wrong_login")
            .extra("auth plain\nuser joe")
            .file(".netrc", "machine 127.0.0.1 login other password secret\n", 0o600)
            .server(ServerBuilder::smtp().auth("PLAIN")),
        // ---- 5.7 aliases / 8. logging ----------------------------------------------------
        c("alias_order_and_skip")
            .extra("aliases {HOME}/aliases")
            .file("aliases", "root: joe@x.org, bob\nbob: bob@y.org\n", 0o644)
            .args(&["root", "bob", "plain@x.org"])
            .postie(Field::Envelope, eq("MAIL FROM:<sender@example.com> | RCPT TO:<joe@x.org> | RCPT TO:<bob@y.org> | RCPT TO:<bob@y.org> | RCPT TO:<plain@x.org>"), "(c) aliases expanded in order without skipping")
            .postie(Field::Log, has("recipients=joe@x.org,bob@y.org,bob@y.org,plain@x.org "), "(c)"),
        c("alias_default_catch_all")
            .extra("aliases {HOME}/aliases")
            .file("aliases", "default: catch@x.org\n", 0o644)
            .args(&["nobody", "r@x.org"]),
        c("alias_file_missing")
            .extra("aliases {HOME}/no-aliases")
            .args(&["root"]),
        c("log_custom_time_format").extra("logfile_time_format %Y-%m-%dT%H:%M:%S"),
        c("log_failure_has_smtpstatus").server(reply(Stage::Rcpt(1), "550 5.1.1 it's unknown")),
        c("log_auth_user")
            .extra(&format!("{tls_rc}\nauth on\nuser joe\npassword secret"))
            .server(auth_srv()),
        // ---- 9. --serverinfo, --rmqs, --configure -------------------------------------------
        c("si_plain_all_caps")
            .args(&["-S"])
            .stdout()
            .server(
                ServerBuilder::smtp()
                    .cap("SIZE 1000000")
                    .pipelining()
                    .cap("ETRN")
                    .dsn()
                    .starttls()
                    .auth("XOAUTH2 LOGIN CRAM-MD5 PLAIN SCRAM-SHA-256 OAUTHBEARER"),
            ),
        c("si_no_caps").args(&["-S"]).stdout(),
        c("si_size_unlimited")
            .args(&["--serverinfo"])
            .stdout()
            .server(ServerBuilder::smtp().cap("SIZE 0")),
        c("si_size_mib")
            .args(&["-S"])
            .stdout()
            .server(ServerBuilder::smtp().cap("SIZE 52428800")),
        c("si_size_invalid_ignored")
            .args(&["-S"])
            .stdout()
            .server(ServerBuilder::smtp().cap("SIZE abc")),
        c("si_auth_unknown_only")
            .args(&["-S"])
            .stdout()
            .server(ServerBuilder::smtp().auth("FOO")),
        c("si_auth_plus_variant")
            .args(&["-S"])
            .stdout()
            .server(ServerBuilder::smtp().auth("SCRAM-SHA-1-PLUS PLAIN"))
            .postie(Field::Stdout, eq("SMTP server at 127.0.0.1 (localhost [127.0.0.1]), port {PORT}:\n    localhost ESMTP test server\nCapabilities:\n    AUTH:\n        Supported authentication methods:\n        PLAIN "), "(s) AUTH mechanisms are whole tokens: a -PLUS variant does not list the plain SCRAM mechanism"),
        c("si_starttls")
            .extra(tls_rc)
            .args(&["-S"])
            .stdout()
            .server(ServerBuilder::smtp().starttls().pipelining()),
        c("si_implicit_tls")
            .extra("tls on\ntls_starttls off\ntls_certcheck off")
            .args(&["-S"])
            .stdout()
            .server(ServerBuilder::smtp().implicit_tls().cap("ETRN")),
        c("si_fingerprint")
            .extra("tls on\ntls_fingerprint {FP256}")
            .args(&["-S"])
            .stdout()
            .server(ServerBuilder::smtp().starttls()),
        c("si_starttls_missing")
            .extra(tls_rc)
            .args(&["-S"])
            .stdout(),
        c("si_greeting_rejected")
            .args(&["-S"])
            .stdout()
            .server(reply(Stage::Greeting, "554 5.3.2 go away")),
        c("si_helo_fallback")
            .args(&["-S"])
            .stdout()
            .server(reply(Stage::Ehlo, "502 5.5.2 no EHLO")),
        c("si_lmtp")
            .extra("protocol lmtp")
            .args(&["-S"])
            .stdout()
            .server(ServerBuilder::lmtp().pipelining()),
        c("si_pretend").args(&["-S", "-P"]).stdout(),
        c("si_passwordeval_runs")
            .extra("auth on\nuser joe\npasswordeval echo ran >&2; echo pw")
            .args(&["-S"])
            .stdout(),
        c("si_command_line_host")
            .no_rc()
            .args(&["--host=127.0.0.1", "--port={PORT}", "-S"])
            .stdout()
            .server(ServerBuilder::smtp().dsn()),
        c("si_connect_refused")
            .args(&["-S"])
            .stdout()
            .server(ServerBuilder::smtp().no_listen()),
        c("si_operand_refused").args(&["-S", "r@x.org"]),
        c("rmqs_not_supported").args(&["--rmqs=@example.org"]).stdout(),
        c("rmqs_etrn_rejected")
            .args(&["--rmqs=@example.org"])
            .stdout()
            .server(ServerBuilder::smtp().cap("ETRN")),
        c("rmqs_pretend").args(&["--rmqs=x", "-P"]).stdout(),
        c("configure_invalid_address").args(&["--configure=joe"]).stdout(),
        // ---- 5.5 SMTPUTF8 --------------------------------------------------------------------
        c("smtputf8_ascii_not_sent").server(ServerBuilder::smtp().cap("SMTPUTF8")),
        c("smtputf8_needed")
            .args(&["jörg@bücher.example"])
            .server(ServerBuilder::smtp().cap("SMTPUTF8"))
            .postie(Field::Envelope, eq("MAIL FROM:<sender@example.com> SMTPUTF8 | RCPT TO:<jörg@bücher.example>"), "(u) SMTPUTF8 is requested when the server offers it and an address is not ASCII (msmtp >= 1.8.32: for non-ASCII domains)"),
        c("smtputf8_not_offered").args(&["jörg@bücher.example"]),
        // ---- 6. client certificates (tls_cert_file/tls_key_file), AUTH EXTERNAL, source_ip ----
        // The client files are the test PKI's (`pki()`), named directly: the harness masks
        // their directory as {PKI} in stderr.
        c("cc_starttls_client_cert")
            .extra(&format!(
                "tls on\ntls_trust_file {{CA}}\ntls_cert_file {}\ntls_key_file {}",
                pki().client_cert_pem.display(),
                pki().client_key_pem.display()
            ))
            .server(ServerBuilder::smtp().starttls().client_cert_required()),
        c("cc_implicit_client_cert")
            .extra(&format!(
                "tls on\ntls_starttls off\ntls_trust_file {{CA}}\ntls_cert_file {}\ntls_key_file {}",
                pki().client_cert_pem.display(),
                pki().client_key_pem.display()
            ))
            .server(ServerBuilder::smtp().implicit_tls().client_cert_required()),
        c("cc_cmdline_client_cert")
            .extra("tls on\ntls_trust_file {CA}")
            .args(&[
                &format!("--tls-cert-file={}", pki().client_cert_pem.display()),
                &format!("--tls-key-file={}", pki().client_key_pem.display()),
                "rcpt@example.org",
            ])
            .server(ServerBuilder::smtp().starttls().client_cert_required()),
        c("cc_auth_external_user")
            .extra(&format!(
                "tls on\ntls_trust_file {{CA}}\ntls_cert_file {}\ntls_key_file {}\nauth external\nuser joe",
                pki().client_cert_pem.display(),
                pki().client_key_pem.display()
            ))
            .server(
                ServerBuilder::smtp()
                    .starttls()
                    .client_cert_required()
                    .auth("EXTERNAL PLAIN")
                    .credentials("joe", "unused"),
            ),
        c("cc_auth_external_no_user")
            .extra(&format!(
                "tls on\ntls_trust_file {{CA}}\ntls_cert_file {}\ntls_key_file {}\nauth external",
                pki().client_cert_pem.display(),
                pki().client_key_pem.display()
            ))
            .server(ServerBuilder::smtp().starttls().client_cert_required().auth("EXTERNAL"))
            .postie(Field::Exit, eq("0"), EXTERNAL_EMPTY)
            .postie(Field::Stderr, eq(""), EXTERNAL_EMPTY)
            .postie(Field::Envelope, Expect::Any, EXTERNAL_EMPTY)
            .postie(Field::Data, Expect::Any, EXTERNAL_EMPTY)
            .postie(Field::Quit, eq("QUIT"), EXTERNAL_EMPTY)
            .postie(Field::Log, has("exitcode=EX_OK"), EXTERNAL_EMPTY)
            .postie(Field::Pipelining, Expect::Any, EXTERNAL_EMPTY),
        c("cc_auth_external_no_cert")
            .extra("tls on\ntls_trust_file {CA}\nauth external\nuser joe")
            .server(ServerBuilder::smtp().starttls().auth("EXTERNAL")),
        c("cc_auth_on_never_picks_external")
            .extra(&format!(
                "tls on\ntls_trust_file {{CA}}\ntls_cert_file {}\ntls_key_file {}\nauth on\nuser joe\npassword secret",
                pki().client_cert_pem.display(),
                pki().client_key_pem.display()
            ))
            .server(
                ServerBuilder::smtp()
                    .starttls()
                    .client_cert_required()
                    .auth("EXTERNAL PLAIN"),
            ),
        c("cc_required_none_starttls")
            .extra(tls_rc)
            .server(ServerBuilder::smtp().starttls().client_cert_required()),
        c("cc_required_none_implicit")
            .extra("tls on\ntls_starttls off\ntls_trust_file {CA}")
            .server(ServerBuilder::smtp().implicit_tls().client_cert_required()),
        c("cc_untrusted_client_cert")
            .extra(&format!(
                "tls on\ntls_trust_file {{CA}}\ntls_cert_file {}\ntls_key_file {}",
                pki().untrusted_client_cert_pem.display(),
                pki().untrusted_client_key_pem.display()
            ))
            .server(ServerBuilder::smtp().starttls().client_cert_required()),
        c("cc_key_without_cert").extra(&format!(
            "tls on\ntls_trust_file {{CA}}\ntls_key_file {}",
            pki().client_key_pem.display()
        )),
        c("cc_cert_without_key").extra(&format!(
            "tls on\ntls_trust_file {{CA}}\ntls_cert_file {}",
            pki().client_cert_pem.display()
        )),
        c("cc_key_missing")
            .extra(&format!(
                "tls on\ntls_trust_file {{CA}}\ntls_cert_file {}\ntls_key_file {{HOME}}/missing-key.pem",
                pki().client_cert_pem.display()
            ))
            .server(ServerBuilder::smtp().starttls()),
        c("cc_key_is_a_certificate")
            .extra(&format!(
                "tls on\ntls_trust_file {{CA}}\ntls_cert_file {0}\ntls_key_file {0}",
                pki().client_cert_pem.display()
            ))
            .server(ServerBuilder::smtp().starttls()),
        c("cc_cert_is_a_key")
            .extra(&format!(
                "tls on\ntls_trust_file {{CA}}\ntls_cert_file {0}\ntls_key_file {0}",
                pki().client_key_pem.display()
            ))
            .server(ServerBuilder::smtp().starttls()),
        c("cc_pair_mismatch")
            .extra(&format!(
                "tls on\ntls_trust_file {{CA}}\ntls_cert_file {}\ntls_key_file {}",
                pki().client_cert_pem.display(),
                pki().untrusted_client_key_pem.display()
            ))
            .server(ServerBuilder::smtp().starttls()),
        c("cc_key_before_trust_file")
            .extra(&format!(
                "tls on\ntls_trust_file {{HOME}}/missing-ca.pem\ntls_cert_file {}\ntls_key_file {{HOME}}/missing-key.pem",
                pki().client_cert_pem.display()
            ))
            .server(ServerBuilder::smtp().starttls()),
        c("cc_serverinfo_connects_first")
            .extra("tls on\ntls_certcheck off\ntls_cert_file {HOME}/missing-cert.pem\ntls_key_file {HOME}/missing-key.pem")
            .args(&["-S"])
            .stdout()
            .server(ServerBuilder::smtp().no_listen()),
        c("cc_serverinfo_bad_key")
            .extra("tls on\ntls_certcheck off\ntls_cert_file {HOME}/missing-cert.pem\ntls_key_file {HOME}/missing-key.pem")
            .args(&["-S"])
            .stdout()
            .server(ServerBuilder::smtp().starttls()),
        c("cc_rmqs_connects_first")
            .extra("tls on\ntls_certcheck off\ntls_cert_file {HOME}/missing-cert.pem\ntls_key_file {HOME}/missing-key.pem")
            .args(&["--rmqs=@example.org"])
            .stdout()
            .server(ServerBuilder::smtp().no_listen()),
        c("sip_loopback_alias").extra("source_ip 127.0.0.2"),
        c("sip_command_line").args(&["--source-ip=127.0.0.2", "rcpt@example.org"]),
        c("sip_unassignable").extra("source_ip 192.0.2.1"),
        c("sip_family_mismatch").extra("source_ip ::1"),
        c("sip_invalid").extra("source_ip nonsense"),
    ]
}

/// Why postie completes `auth external` without a user where msmtp desynchronises.
const EXTERNAL_EMPTY: &str = "(x) AUTH EXTERNAL without user: postie answers the server's 334 with an empty line (RFC 4954); msmtp 1.8.23 sends nothing and its MAIL FROM is taken as the response, then fails on the 235";

// ---------------------------------------------------------------------------------------------
// Running one side

/// One program run's observables (already masked), plus diagnostics.
struct Outcome {
    fields: BTreeMap<Field, String>,
    transcript: String,
}

struct Subst {
    pairs: Vec<(String, String)>,
}

impl Subst {
    fn apply(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (k, v) in &self.pairs {
            out = out.replace(k.as_str(), v);
        }
        out
    }
}

/// Escapes bytes for one-line display: `\r`, `\n`, `\t`, `\\`, `\0` and `\xNN`.
fn escape(b: &[u8]) -> String {
    let mut s = String::new();
    for chunk in b.utf8_chunks() {
        for ch in chunk.valid().chars() {
            match ch {
                '\r' => s.push_str("\\r"),
                '\n' => s.push_str("\\n"),
                '\t' => s.push_str("\\t"),
                '\\' => s.push_str("\\\\"),
                '\0' => s.push_str("\\0"),
                c if c.is_control() => {
                    let _ = write!(s, "\\u{{{:x}}}", c as u32);
                }
                c => s.push(c),
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(s, "\\x{byte:02x}");
        }
    }
    s
}

/// Masks generated Date:/Message-ID: values in the DATA header block; returns the masked bytes
/// and the LF-normalised length of the masked lines (to normalise the log's `mailsize`).
fn mask_data(data: &[u8], stdin: &[u8]) -> (Vec<u8>, usize) {
    let input_lines: Vec<&[u8]> = stdin
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    let mut out = Vec::new();
    let mut generated = 0;
    let mut in_headers = true;
    for line in data.split_inclusive(|&b| b == b'\n') {
        let bare = line
            .strip_suffix(b"\n")
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .unwrap_or(line);
        if in_headers && bare.is_empty() {
            in_headers = false;
        }
        let lower = bare.to_ascii_lowercase();
        let name = if lower.starts_with(b"date:") {
            Some("Date:")
        } else if lower.starts_with(b"message-id:") {
            Some("Message-ID:")
        } else {
            None
        };
        match name {
            Some(n) if in_headers && !input_lines.contains(&bare) => {
                generated += bare.len() + 1;
                out.extend_from_slice(format!("{n} <generated>\r\n").as_bytes());
            }
            _ => out.extend_from_slice(line),
        }
    }
    (out, generated)
}

fn mask_log(log: &str, generated: usize) -> String {
    let mut out = Vec::new();
    for line in log.lines() {
        let start = ["host=", "socket="]
            .iter()
            .filter_map(|k| line.find(k))
            .min()
            .unwrap_or(0);
        let mut rest = line[start..].to_string();
        if let Some(p) = rest.find("mailsize=") {
            let num: String = rest[p + 9..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(n) = num.parse::<usize>() {
                let repl = format!("mailsize={}+generated", n.saturating_sub(generated));
                rest.replace_range(p..p + 9 + num.len(), &repl);
            }
        }
        out.push(format!("<time> {rest}"));
    }
    out.join("\n")
}

/// Replaces the program-name prefix of diagnostics: `ARGV0: ` (the full path, as glibc's getopt
/// prints it) and `PRG: ` (the basename, as msmtp's own messages use it), so that which of the
/// two a message uses is still compared.
fn mask_prg(s: &str, argv0: &str) -> String {
    let base = argv0.rsplit('/').next().unwrap_or(argv0);
    s.lines()
        .map(|l| {
            if let Some(rest) = l.strip_prefix(&format!("{argv0}: ")) {
                format!("ARGV0: {rest}")
            } else if let Some(rest) = l.strip_prefix(&format!("{base}: ")) {
                format!("PRG: {rest}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn describe_sessions(sessions: &[Session]) -> (String, String) {
    if sessions.is_empty() {
        return ("(no connection)".into(), "(none)".into());
    }
    let helo = sessions
        .iter()
        .map(|s| s.greetings.join(" | "))
        .collect::<Vec<_>>()
        .join(" || ");
    let env = sessions
        .iter()
        .map(|s| {
            let mut parts = Vec::new();
            if let Some(m) = &s.mail_from {
                parts.push(format!("MAIL FROM:{m}"));
            }
            parts.extend(s.rcpts.iter().map(|r| format!("RCPT TO:{r}")));
            if parts.is_empty() {
                "(none)".into()
            } else {
                parts.join(" | ")
            }
        })
        .collect::<Vec<_>>()
        .join(" || ");
    (helo, env)
}

fn run_side(case: &Case, program: &Path) -> Outcome {
    let prg_name = program.display().to_string();
    let prg_name = prg_name.as_str();
    let home = tempfile::tempdir().expect("tempdir");
    let home_path = home.path().to_path_buf();
    let server = case.server.clone().start();
    let port = server.port();
    let p = pki();
    let subst = Subst {
        pairs: vec![
            ("{PORTHEX}".into(), format!("{port:#x}")),
            ("{PORT}".into(), port.to_string()),
            ("{HOME}".into(), home_path.display().to_string()),
            ("{LOG}".into(), home_path.join("log").display().to_string()),
            ("{OTHERCA}".into(), p.other_ca_pem.display().to_string()),
            ("{CA}".into(), p.ca_pem.display().to_string()),
            ("{FP256}".into(), p.fp_sha256.clone()),
            ("{FP1}".into(), p.fp_sha1.clone()),
            ("{FPMD5}".into(), p.fp_md5.clone()),
        ],
    };
    if let Some(rc) = &case.rc {
        let path = home_path.join(case.rc_path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        std::fs::write(&path, subst.apply(rc)).expect("write rc");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(case.rc_mode))
            .expect("chmod rc");
    }
    for (path, content, mode) in &case.files {
        let path = home_path.join(path);
        std::fs::write(&path, subst.apply(content)).expect("write file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode)).expect("chmod");
    }
    let mut cmd = Command::new("setsid");
    cmd.arg("-w")
        .arg(program)
        .args(case.args.iter().map(|a| subst.apply(a)))
        .current_dir(&home_path)
        .env_clear()
        .env("HOME", &home_path)
        .env("PATH", "/usr/bin:/bin")
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .env("USER", "tester")
        .env("LOGNAME", "tester")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &case.env {
        cmd.env(k, subst.apply(v));
    }
    let mut child = cmd.spawn().expect("spawn program");
    let mut input = child.stdin.take().expect("stdin");
    let data = case.stdin.clone();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st.code().map(|c| c.to_string()),
            Ok(None) if start.elapsed() > RUN_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                break Some("killed (run limit)".into());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break None,
        }
    };
    let _ = writer.join();
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    let sessions = server.finish();
    let log = std::fs::read_to_string(home_path.join("log")).unwrap_or_default();

    let home_s = home_path.display().to_string();
    let port_s = port.to_string();
    let mask = |s: &str| {
        s.replace(&home_s, "{HOME}")
            .replace(&port_s, "{PORT}")
            .replace(&p.dir.display().to_string(), "{PKI}")
    };
    let mut fields = BTreeMap::new();
    fields.insert(Field::Exit, status.unwrap_or_else(|| "signal".into()));
    let (helo, env) = describe_sessions(&sessions);
    fields.insert(Field::Helo, helo);
    fields.insert(Field::Envelope, env);
    let mut generated = 0;
    let data = match sessions
        .iter()
        .find_map(|s| s.data.as_ref().map(|d| (d, s)))
    {
        Some((d, s)) => {
            let (masked, g) = mask_data(d, &case.stdin);
            generated = g;
            let tail = if s.data_complete { "" } else { " [incomplete]" };
            format!("{}{tail}", escape(&masked))
        }
        None => "(no data)".into(),
    };
    fields.insert(Field::Data, data);
    let auth = sessions
        .iter()
        .flat_map(|s| s.auth.iter())
        .map(|a| {
            format!(
                "{} user={} {}",
                a.mechanism,
                a.user,
                if a.ok { "ok" } else { "failed" }
            )
        })
        .collect::<Vec<_>>();
    fields.insert(
        Field::Auth,
        if auth.is_empty() {
            "none".into()
        } else {
            auth.join("; ")
        },
    );
    let tls = sessions
        .iter()
        .map(|s| match s.tls_state() {
            TlsState::None => "none",
            TlsState::StartTls => "starttls",
            TlsState::Implicit => "implicit",
            TlsState::Failed => "handshake failed",
        })
        .collect::<Vec<_>>()
        .join(", ");
    fields.insert(
        Field::Tls,
        if tls.is_empty() {
            "(no connection)".into()
        } else {
            tls
        },
    );
    let quit = sessions
        .iter()
        .map(|s| match (s.quit, s.rset) {
            (true, false) => "QUIT",
            (false, false) => "no QUIT",
            (true, true) => "RSET, QUIT",
            (false, true) => "RSET, no QUIT",
        })
        .collect::<Vec<_>>()
        .join(", ");
    fields.insert(
        Field::Quit,
        if quit.is_empty() {
            "(no connection)".into()
        } else {
            quit
        },
    );
    fields.insert(Field::Log, mask(&mask_log(&log, generated)));
    if case.stdout {
        let so = String::from_utf8_lossy(&stdout);
        fields.insert(Field::Stdout, mask(&mask_prg(&so, prg_name)));
    }
    let piped = sessions
        .iter()
        .filter(|s| s.mail_from.is_some())
        .map(|s| {
            if s.pipelined {
                "pipelined"
            } else {
                "one by one"
            }
        })
        .collect::<Vec<_>>();
    fields.insert(
        Field::Pipelining,
        if piped.is_empty() {
            "(no MAIL)".into()
        } else {
            piped.join(", ")
        },
    );
    let se = String::from_utf8_lossy(&stderr);
    let first = se.lines().next().unwrap_or("").to_string();
    fields.insert(Field::Stderr, mask(&mask_prg(&first, prg_name)));
    let transcript = sessions
        .iter()
        .map(Session::transcript_text)
        .collect::<Vec<_>>()
        .join("---\n");
    Outcome {
        fields,
        transcript: format!("{transcript}stderr:\n{se}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing and reporting

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Same,
    Different,
    Intended,
    Skipped,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Same => "same",
            Status::Different => "different",
            Status::Intended => "intended",
            Status::Skipped => "skipped",
        }
    }
}

struct Row {
    field: Field,
    msmtp: String,
    postie: String,
    status: Status,
    note: String,
}

fn compare(case: &Case, a: &Outcome, b: &Outcome, self_mode: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    for (field, mv) in &a.fields {
        let pv = b.fields.get(field).cloned().unwrap_or_default();
        let intended = case.postie.iter().find(|(f, _, _)| f == field);
        let (status, note) = match intended {
            _ if *mv == pv => (Status::Same, String::new()),
            Some((_, _, why)) if self_mode => (Status::Skipped, why.to_string()),
            Some((_, exp, why)) => {
                let ok = match exp {
                    Expect::Equals(v) => pv == *v,
                    Expect::Contains(v) => pv.contains(v.as_str()),
                    Expect::Any => true,
                    Expect::OneOf(vs) => vs.contains(&pv),
                };
                if ok {
                    (Status::Intended, why.to_string())
                } else {
                    (
                        Status::Different,
                        format!("expected postie {exp:?} ({why})"),
                    )
                }
            }
            None if *mv == pv => (Status::Same, String::new()),
            None => (Status::Different, String::new()),
        };
        rows.push(Row {
            field: *field,
            msmtp: mv.clone(),
            postie: pv,
            status,
            note,
        });
    }
    rows
}

fn tsv(s: &str) -> String {
    let s = s
        .replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n");
    if s.len() > 3000 {
        let cut = (0..=3000)
            .rev()
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        format!("{}…[{} chars]", &s[..cut], s.len())
    } else {
        s
    }
}

fn selected(name: &str) -> bool {
    match std::env::var("DIFF_CASE") {
        Ok(sel) if !sel.is_empty() => sel.split(',').any(|p| match p.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == p,
        }),
        _ => true,
    }
}

/// The `postie` side: the real binary, or (self mode) a symlink named `postie` to msmtp, so that
/// argv[0] differs on both sides either way.
fn postie_program(dir: &Path, self_mode: bool) -> PathBuf {
    if self_mode {
        let link = dir.join("postie");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(MSMTP, &link).expect("symlink msmtp as postie");
        link
    } else {
        PathBuf::from(env!("CARGO_BIN_EXE_postie"))
    }
}

/// True when the postie binary is still the skeleton (prints nothing for --version).
fn postie_is_stub(program: &Path) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map(|o| o.stdout.is_empty())
        .unwrap_or(true)
}

#[test]
fn case_names_are_unique_and_enough() {
    let all = cases();
    let mut names: Vec<_> = all.iter().map(|c| c.name).collect();
    names.sort_unstable();
    let n = names.len();
    names.dedup();
    assert_eq!(n, names.len(), "duplicate case names");
    assert!(n >= 80, "only {n} cases");
}

#[test]
fn masking_keeps_presence_and_normalises_mailsize() {
    let data = b"From: a@b\r\nDate: Mon, 1 Jan\r\nMessage-ID: <x@y>\r\n\r\nDate: body\r\n";
    let (m, g) = mask_data(data, b"Message-ID: <x@y>\n\nDate: body\n");
    assert_eq!(
        m,
        b"From: a@b\r\nDate: <generated>\r\nMessage-ID: <x@y>\r\n\r\nDate: body\r\n"
    );
    assert_eq!(g, "Date: Mon, 1 Jan".len() + 1);
    assert_eq!(
        mask_log(
            "Nov 28 12:38:50 host=h tls=off mailsize=120 exitcode=EX_OK",
            20
        ),
        "<time> host=h tls=off mailsize=100+generated exitcode=EX_OK"
    );
    assert_eq!(
        mask_prg("msmtp: x\n/usr/bin/msmtp: y", "/usr/bin/msmtp"),
        "PRG: x\nARGV0: y"
    );
}

#[test]
fn differential_msmtp_vs_postie() {
    if !Path::new(MSMTP).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "msmtp not installed but CI is set"
        );
        println!("skipped: msmtp not installed");
        return;
    }
    let self_mode = std::env::var("POSTIE_DIFF_SELF").is_ok_and(|v| v == "1");
    let bindir = tempfile::tempdir().expect("tempdir");
    let postie = postie_program(bindir.path(), self_mode);
    if !self_mode && postie_is_stub(&postie) {
        assert!(
            std::env::var_os("CI").is_none(),
            "postie binary is a stub but CI is set"
        );
        println!("skipped: postie binary is still a stub (no --version output)");
        return;
    }
    let all: Vec<Case> = cases().into_iter().filter(|c| selected(c.name)).collect();
    assert!(!all.is_empty(), "DIFF_CASE selects no case");
    let verbose = std::env::var_os("DIFF_VERBOSE").is_some();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Vec<Row>, String)>> = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism()
        .map(|n| n.get().min(8))
        .unwrap_or(4);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = all.get(i) else { break };
                    let a = run_side(case, Path::new(MSMTP));
                    let b = run_side(case, &postie);
                    let rows = compare(case, &a, &b, self_mode);
                    let detail = format!(
                        "--- msmtp transcript\n{}--- postie transcript\n{}",
                        a.transcript, b.transcript
                    );
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, rows, detail));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|r| r.0);

    let mut report = String::from("case\tfield\tmsmtp\tpostie\tstatus\tnote\n");
    let mut failures = String::new();
    let (mut same_cases, mut failed_cases) = (0, 0);
    for (i, rows, detail) in &results {
        let case = &all[*i];
        let mut bad = String::new();
        for r in rows {
            let _ = writeln!(
                report,
                "{}\t{}\t{}\t{}\t{}\t{}",
                case.name,
                r.field.name(),
                tsv(&r.msmtp),
                tsv(&r.postie),
                r.status.name(),
                tsv(&r.note)
            );
            if r.status == Status::Different {
                let _ = writeln!(
                    bad,
                    "  {}:{}\n    msmtp : {}\n    postie: {}",
                    r.field.name(),
                    if r.note.is_empty() {
                        String::new()
                    } else {
                        format!(" {}", r.note)
                    },
                    r.msmtp.replace('\n', "\n            "),
                    r.postie.replace('\n', "\n            ")
                );
            }
        }
        if bad.is_empty() {
            same_cases += 1;
        } else {
            failed_cases += 1;
            let _ = writeln!(failures, "case {}:\n{bad}", case.name);
            if verbose {
                let _ = writeln!(failures, "{detail}");
            }
        }
    }
    let report_path = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|t| t.join("differential-report.tsv"))
        .unwrap_or_else(|| PathBuf::from("differential-report.tsv"));
    let _ = std::fs::write(&report_path, &report);
    println!(
        "differential: {} cases, {same_cases} matching, {failed_cases} differing (report: {})",
        results.len(),
        report_path.display()
    );
    assert!(failed_cases == 0, "differences found:\n{failures}");
}
