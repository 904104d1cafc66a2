//! The `-P`/`-d` settings listing of msmtp 1.8.23 (msmtp.md 1.6), byte for byte.

use crate::config::Account;
use crate::config::commands::Field;
use crate::config::grammar::View;
use std::fmt::Write;

/// The settings block: for accounts from a file first `using account ID from FILE` (msmtp
/// prints that line only once the account passed validation, so it is not a selection info
/// line), then one `key = value` line for each setting whose declaration has a `-P` line, in
/// declaration order; in sendmail mode the message-handling settings and the "reading
/// recipients ..." line follow.
pub fn describe(account: &Account, sendmail_mode: bool, read_recipients: bool) -> String {
    let mut out = String::new();
    if let Some(f) = &account.file {
        let _ = writeln!(out, "using account {} from {}", account.name, f.display());
    }
    let view = View {
        settings: &account.settings,
        from_pending: account.from_pending,
    };
    let lines: Vec<_> = Field::ALL.iter().filter_map(|f| f.line()).collect();
    let connection = lines.iter().filter(|l| !l.sendmail_only);
    let message = lines.iter().filter(|l| l.sendmail_only && sendmail_mode);
    for line in connection.chain(message) {
        let _ = writeln!(out, "{} = {}", line.label, (line.value)(&view));
    }
    if sendmail_mode {
        out.push_str(if read_recipients {
            "reading recipients from the command line and the mail\n"
        } else {
            "reading recipients from the command line\n"
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::finalize::{Expander, finalize_with};
    use crate::config::parse::{ParseEnv, parse_bytes};
    use std::path::Path;
    use std::time::Duration;

    fn finalized(rc: &str, name: &str, sendmail: bool) -> Account {
        let env = ParseEnv {
            home: "/tmp/cfgt/home".into(),
            eval_timeout: Duration::from_secs(5),
        };
        let mut a = parse_bytes(Path::new("rc"), rc.as_bytes(), &env)
            .unwrap()
            .accounts
            .into_iter()
            .find(|a| a.name == name)
            .unwrap();
        let mut exp = Expander::with_values("me", "hh", "hh", Ok("m"));
        finalize_with(&mut a, sendmail, true, &mut exp).unwrap();
        a
    }

    // Captured from msmtp 1.8.23: `HOME=/tmp/cfgt/home msmtp -C rc -a a -P rcpt </dev/null`.
    const SIMPLE_RC: &str = "defaults\ntls on\naccount a\nhost mail.example\nfrom a@example.com\nuser bob\npassword secret\n";
    const SIMPLE_EXPECTED: &str = "using account a from rc
host = mail.example
port = 25
source ip = (not set)
proxy host = (not set)
proxy port = 0
socket = (not set)
timeout = off
protocol = smtp
domain = localhost
auth = none
user = bob
password = *
passwordeval = (not set)
ntlmdomain = (not set)
tls = on
tls_starttls = on
tls_trust_file = system
tls_crl_file = (not set)
tls_fingerprint = (not set)
tls_key_file = (not set)
tls_cert_file = (not set)
tls_certcheck = on
tls_min_dh_prime_bits = (not set)
tls_priorities = (not set)
tls_host_override = (not set)
auto_from = off
maildomain = (not set)
from = a@example.com
allow_from_override = on
set_from_header = auto
set_date_header = auto
remove_bcc_headers = on
undisclosed_recipients = off
dsn_notify = (not set)
dsn_return = (not set)
logfile = (not set)
logfile_time_format = (not set)
syslog = (not set)
aliases = (not set)
reading recipients from the command line
";

    #[test]
    fn describe_matches_msmtp_simple() {
        let a = finalized(SIMPLE_RC, "a", true);
        assert_eq!(describe(&a, true, false), SIMPLE_EXPECTED);
    }

    #[test]
    fn describe_read_recipients_line() {
        let a = finalized(SIMPLE_RC, "a", true);
        let d = describe(&a, true, true);
        assert!(d.ends_with(
            "aliases = (not set)\nreading recipients from the command line and the mail\n"
        ));
    }

    #[test]
    fn describe_non_sendmail_mode_stops_after_tls() {
        // msmtp -C rc -S -a a -P
        let a = finalized(SIMPLE_RC, "a", false);
        let d = describe(&a, false, false);
        let want: String = SIMPLE_EXPECTED
            .lines()
            .take_while(|l| !l.starts_with("auto_from"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(d, want);
    }

    // Captured from msmtp 1.8.23 with USER=me HOSTNAME=hh, account b of this file (the
    // passwordeval had produced a password, hence `password = *`).
    const FULL_RC: &str = "account b
host \"mail.example # x\"
port 0x1d
source_ip 1.2.3.4
proxy_host proxy
socket /tmp/sock
timeout 1
protocol lmtp
domain %H.foo
auth scram-sha-1
user u
password from-passwordeval
passwordeval echo hi
ntlmdomain nd
tls on
tls_starttls off
tls_trust_file ~/ca.pem
tls_crl_file ~/crl.pem
tls_fingerprint ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab
tls_key_file k
tls_cert_file c
tls_certcheck off
tls_min_dh_prime_bits 1024
tls_priorities NORMAL
tls_host_override over
auto_from on
maildomain md
from x@y
allow_from_override off
set_from_header on
set_date_header off
remove_bcc_headers off
undisclosed_recipients on
dsn_notify failure,delay
dsn_return headers
logfile ~/log
logfile_time_format %Y
syslog LOG_MAIL
aliases ~/al
";
    const FULL_EXPECTED: &str = "using account b from rc
host = mail.example # x
port = 29
source ip = 1.2.3.4
proxy host = proxy
proxy port = 1080
socket = /tmp/sock
timeout = 1 second
protocol = lmtp
domain = hh.foo
auth = SCRAM-SHA-1
user = u
password = *
passwordeval = echo hi
ntlmdomain = nd
tls = on
tls_starttls = off
tls_trust_file = /tmp/cfgt/home/ca.pem
tls_crl_file = /tmp/cfgt/home/crl.pem
tls_fingerprint = AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB
tls_key_file = k
tls_cert_file = c
tls_certcheck = off
tls_min_dh_prime_bits = 1024
tls_priorities = NORMAL
tls_host_override = over
auto_from = on
maildomain = md
from = me@md
allow_from_override = off
set_from_header = on
set_date_header = off
remove_bcc_headers = off
undisclosed_recipients = on
dsn_notify = FAILURE,DELAY
dsn_return = HDRS
logfile = /tmp/cfgt/home/log
logfile_time_format = %Y
syslog = LOG_MAIL
aliases = /tmp/cfgt/home/al
reading recipients from the command line
";

    #[test]
    fn describe_matches_msmtp_every_setting() {
        let a = finalized(FULL_RC, "b", true);
        assert_eq!(describe(&a, true, false), FULL_EXPECTED);
    }

    #[test]
    fn describe_value_spellings() {
        // observed: timeout 30 → "30 seconds", auth on → "choose", dsn never/full,
        // syslog (empty) → LOG_USER, empty from → "from = "
        let a = finalized(
            "account a\nhost h\ntimeout 30\nauth\ndsn_notify never\ndsn_return full\nsyslog\nfrom\n",
            "a",
            true,
        );
        let d = describe(&a, true, false);
        for want in [
            "timeout = 30 seconds\n",
            "auth = choose\n",
            "dsn_notify = NEVER\n",
            "dsn_return = FULL\n",
            "syslog = LOG_USER\n",
            "\nfrom = \n",
        ] {
            assert!(d.contains(want), "{want:?} in {d}");
        }
    }

    #[test]
    fn describe_command_line_account_has_no_using_line() {
        // msmtp --host=x -P r: the info line comes from selection, the block starts at host
        let mut a = Account::new("cmdline", None, &Default::default());
        a.apply("host", "x").unwrap();
        let mut exp = Expander::with_values("me", "hh", "hh", Ok("m"));
        finalize_with(&mut a, true, true, &mut exp).unwrap();
        let d = describe(&a, true, false);
        assert!(d.starts_with("host = x\nport = 25\n"), "{d}");
        assert!(d.contains("\ntls_trust_file = system\n"));
        assert!(d.contains("\nfrom = (not set)\n"));
    }

    #[test]
    fn describe_from_pending() {
        let mut a = finalized("account a\nhost h\n", "a", true);
        a.from_pending = true;
        assert!(describe(&a, true, false).contains("\nfrom = (read from mail)\n"));
    }
}
