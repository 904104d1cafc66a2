//! The command line (msmtp.md section 1): what the user typed, validated the way msmtp 1.8.23
//! validates it, turned into a [`Cli`] value. Account settings given on the command line become
//! `(command, argument)` pairs in msmtprc form, so that one code path (the config module)
//! applies them to the selected account. Nothing here reads files or stdin.

mod getopt;

use crate::config::commands::{CliArg, Command};
use crate::error::{Error, Result};
use getopt::{HasArg, Item, LongOpt};
use std::sync::LazyLock;

/// What postie was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Read a mail on stdin and send it (the default, and `-bm`).
    Sendmail,
    /// `--serverinfo` / `-S`.
    ServerInfo,
    /// `--rmqs=ARG`.
    Rmqs(String),
    /// `--configure=ADDR`.
    Configure(String),
    /// `--version` or `-d0.1`.
    Version,
    /// `--help`.
    Help,
    /// `-q[TIME]` (postie only): deliver the queued mail once.
    FlushQueue,
    /// `-bp` or argv[0] `mailq` (postie only): list the queued mail.
    ListQueue,
    /// `-bs` (postie only): an SMTP dialogue on stdin and stdout.
    SmtpSession,
}

/// The parsed command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cli {
    /// The mode (sendmail unless an option chose another).
    pub mode: Option<Mode>,
    /// `-P`/`--pretend`.
    pub pretend: bool,
    /// `--no-send` (postie only): do everything but connect; print what would be sent.
    pub no_send: bool,
    /// `-d`/`-v`/`--debug`.
    pub debug: bool,
    /// `-C FILE`.
    pub config_file: Option<String>,
    /// `-a ID`.
    pub account: Option<String>,
    /// `--host=HOST`: use only command-line settings.
    pub host: Option<String>,
    /// `-f ADDR` (`<>` already turned into the empty string).
    pub from: Option<String>,
    /// `--read-envelope-from`.
    pub read_envelope_from: bool,
    /// `-t`.
    pub read_recipients: bool,
    /// `-F NAME`.
    pub full_name: Option<String>,
    /// Account settings from the command line, as msmtprc `(command, argument)` pairs, in order.
    pub overrides: Vec<(String, String)>,
    /// Recipient operands, as typed (each may hold an address list).
    pub recipients: Vec<String>,
    /// `-odq` (postie only): store the mail in the queue without trying to send it.
    pub queue_only: bool,
    /// The options given that choose a file postie reads or writes, or a command it runs
    /// (`-C`, `--passwordeval`, `-X`, ...), by name, in order. Under the name `sendmail` these
    /// need the user's own permission (see [`argv_guard`]).
    pub file_or_command_options: Vec<&'static str>,
}

impl Cli {
    /// The effective mode.
    pub fn mode(&self) -> Mode {
        self.mode.clone().unwrap_or(Mode::Sendmail)
    }
}

/// Identifiers of the options; short options use their letter's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opt {
    Version,
    Help,
    Configure,
    Pretend,
    NoSend,
    Debug,
    ServerInfo,
    Rmqs,
    File,
    Account,
    Host,
    From,
    ReadRecipients,
    ReadEnvelopeFrom,
    FullName,
    OpMode,
    /// `-o` with its argument: only `dq` (queue only) means something.
    SendmailOption,
    /// `-q[TIME]`: flush the queue.
    Queue,
    Ignored,
    /// An option that sets an msmtprc command.
    Setting(Command),
}

use HasArg::{No, Optional, Required};

/// The long options that are not msmtprc commands, with their rank in msmtp 1.8.23's
/// long-option table (which glibc uses when listing the possibilities of an ambiguous
/// prefix). The msmtprc commands' options and ranks are declared with the commands
/// (`config::commands`); [`LONG`] merges the two.
const OWN_LONG: &[(u8, &str, HasArg, Opt)] = &[
    (0, "version", No, Opt::Version),
    (1, "help", No, Opt::Help),
    (2, "configure", Required, Opt::Configure),
    (3, "pretend", No, Opt::Pretend),
    (4, "debug", Optional, Opt::Debug),
    (5, "serverinfo", No, Opt::ServerInfo),
    (6, "rmqs", Required, Opt::Rmqs),
    (7, "file", Required, Opt::File),
    (8, "account", Required, Opt::Account),
    (9, "host", Required, Opt::Host),
    (14, "from", Required, Opt::From),
    (51, "read-recipients", No, Opt::ReadRecipients),
    (52, "read-envelope-from", No, Opt::ReadEnvelopeFrom),
    // postie's own options rank after msmtp's and start with letters no msmtp option uses, so
    // they never change how an msmtp option prefix is resolved or which possibilities an
    // ambiguity lists.
    (POSTIE_RANKS, "no-send", No, Opt::NoSend),
];

/// The first rank of postie's own long options.
const POSTIE_RANKS: u8 = 100;

/// Every long option, in msmtp's table order.
static LONG: LazyLock<Vec<LongOpt<Opt>>> = LazyLock::new(|| {
    let own = OWN_LONG
        .iter()
        .map(|&(rank, name, has_arg, id)| (rank, LongOpt { name, has_arg, id }));
    let commands = Command::all().filter_map(|cmd| {
        let o = cmd.cli()?;
        let option = LongOpt {
            name: o.long,
            has_arg: has_arg(o.arg),
            id: Opt::Setting(cmd),
        };
        Some((o.rank, option))
    });
    let mut all: Vec<_> = own.chain(commands).collect();
    all.sort_by_key(|&(rank, _)| rank);
    all.into_iter().map(|(_, option)| option).collect()
});

fn has_arg(arg: CliArg) -> HasArg {
    match arg {
        CliArg::Required => Required,
        CliArg::Optional(_) => Optional,
    }
}

/// msmtp's short options: `Pd::SC:a:f:N:R:X:tA:B:b:F:Gh:iL:mnO:o:v` (`N`, `R` and `X` are
/// declared with their commands).
fn short(c: char) -> Option<(Opt, HasArg)> {
    if let Some((cmd, o)) = Command::all()
        .filter_map(|cmd| Some((cmd, cmd.cli()?)))
        .find(|(_, o)| o.short == Some(c))
    {
        return Some((Opt::Setting(cmd), has_arg(o.arg)));
    }
    Some(match c {
        'P' => (Opt::Pretend, No),
        'd' => (Opt::Debug, Optional),
        'v' => (Opt::Debug, No),
        'S' => (Opt::ServerInfo, No),
        'C' => (Opt::File, Required),
        'a' => (Opt::Account, Required),
        'f' => (Opt::From, Required),
        't' => (Opt::ReadRecipients, No),
        'F' => (Opt::FullName, Required),
        'b' => (Opt::OpMode, Required),
        'o' => (Opt::SendmailOption, Required),
        'q' => (Opt::Queue, Optional),
        'A' | 'B' | 'h' | 'L' | 'O' => (Opt::Ignored, Required),
        'G' | 'i' | 'm' | 'n' => (Opt::Ignored, No),
        _ => return None,
    })
}

/// A getopt diagnostic: glibc prints it with the full argv[0], not its basename.
#[derive(Debug, PartialEq, Eq)]
pub struct GetoptError(pub String);

/// Parse the arguments after argv[0]. `Err(Ok(e))` is a getopt diagnostic (printed with the
/// full argv[0]); `Err(Err(e))` is one of msmtp's own usage errors (printed with the basename).
pub fn parse(
    args: &[String],
    posixly_correct: bool,
) -> std::result::Result<Cli, std::result::Result<GetoptError, Error>> {
    let (items, getopt_error) = getopt::parse(args, &short, &LONG, posixly_correct);
    let mut cli = Cli::default();
    for item in items {
        match item {
            Item::Opt(opt, value) => apply(&mut cli, opt, value).map_err(Err)?,
            Item::Operand(r) => cli.recipients.push(r),
        }
    }
    if let Some(e) = getopt_error {
        return Err(Ok(GetoptError(e)));
    }
    Ok(cli)
}

fn invalid(value: &str, option: &str) -> Error {
    Error::usage(format!("invalid argument {value} for {option}"))
}

fn apply(cli: &mut Cli, opt: Opt, value: Option<String>) -> Result<()> {
    if let Some(name) = file_or_command_option(opt) {
        cli.file_or_command_options.push(name);
    }
    let explicit = value.clone();
    let v = value.unwrap_or_default();
    match opt {
        Opt::Version => cli.mode = Some(Mode::Version),
        Opt::Help => cli.mode = Some(Mode::Help),
        Opt::Configure => cli.mode = Some(Mode::Configure(v)),
        Opt::Pretend => cli.pretend = true,
        Opt::NoSend => cli.no_send = true,
        Opt::Debug => {
            cli.debug = true;
            // sendmail documents -d0.1 as "print the version".
            if v == "0.1" {
                cli.mode = Some(Mode::Version);
            }
        }
        Opt::ServerInfo => {
            if matches!(cli.mode, Some(Mode::Rmqs(_))) {
                return Err(Error::usage("cannot use both --serverinfo and --rmqs"));
            }
            if !matches!(
                cli.mode,
                Some(Mode::Version | Mode::Help | Mode::Configure(_))
            ) {
                cli.mode = Some(Mode::ServerInfo);
            }
        }
        Opt::Rmqs => {
            if cli.mode == Some(Mode::ServerInfo) {
                return Err(Error::usage("cannot use both --serverinfo and --rmqs"));
            }
            cli.mode = Some(Mode::Rmqs(v));
        }
        Opt::File => cli.config_file = Some(v),
        Opt::Account => {
            if cli.host.is_some() {
                return Err(Error::usage("cannot use both --host and --account"));
            }
            cli.account = Some(v);
        }
        Opt::Host => {
            if cli.account.is_some() {
                return Err(Error::usage("cannot use both --host and --account"));
            }
            cli.host = Some(v);
        }
        Opt::From => {
            if cli.read_envelope_from {
                return Err(Error::usage(
                    "cannot use both --from and --read-envelope-from",
                ));
            }
            // `<>` is the documented way to ask for an empty envelope sender.
            cli.from = Some(if v == "<>" { String::new() } else { v });
        }
        Opt::ReadEnvelopeFrom => {
            if cli.from.is_some() {
                return Err(Error::usage(
                    "cannot use both --from and --read-envelope-from",
                ));
            }
            cli.read_envelope_from = true;
        }
        Opt::ReadRecipients => cli.read_recipients = true,
        Opt::FullName => cli.full_name = Some(v),
        // A listing must never send, whichever of the two comes last.
        Opt::OpMode if v == "p" && cli.mode == Some(Mode::FlushQueue) => {
            return Err(Error::usage("cannot use both -bp and -q"));
        }
        Opt::Queue if cli.mode == Some(Mode::ListQueue) => {
            return Err(Error::usage("cannot use both -bp and -q"));
        }
        Opt::OpMode if v == "p" => cli.mode = Some(Mode::ListQueue),
        Opt::OpMode if v == "s" => cli.mode = Some(Mode::SmtpSession),
        Opt::SendmailOption => cli.queue_only |= v == "dq",
        // sendmail's -q takes an interval or a selector; postie flushes once either way.
        Opt::Queue => cli.mode = Some(Mode::FlushQueue),
        Opt::OpMode => {
            if v != "m" {
                return Err(Error::usage(format!("unsupported operation mode b{v}")));
            }
        }
        Opt::Ignored => {}
        Opt::Setting(cmd) => setting(cli, cmd, explicit.as_deref())?,
    }
    Ok(())
}

/// The options that make postie read or write a file, or run a command, chosen on the command
/// line. An option that only changes where mail goes (`--host`) is not among them: the
/// account's password then never leaves with it.
fn file_or_command_option(opt: Opt) -> Option<&'static str> {
    match opt {
        Opt::File => Some("--file (-C)"),
        Opt::Setting(cmd) => cmd.cli()?.file_or_command,
        _ => None,
    }
}

/// The program names under which postie is the system's sendmail, run by programs that pass
/// on argv they got from others (PHP's `mail()` appends its fifth parameter; CVE-2016-10033
/// used `-X` to write a web shell). Under these names the options of
/// [`file_or_command_option`] are refused unless the user's own configuration allows them.
pub fn argv_guard(prog: &str) -> bool {
    matches!(prog, "sendmail" | "send-mail" | "mailq" | "newaliases")
}

/// postie's subcommands: `postie queue ...`, `postie unlock`, `postie lock`, `postie check`.
pub const SUBCOMMANDS: &[(&str, &[&str])] = &[
    (
        "queue",
        &["list", "flush", "show", "delete", "hold", "release", "help"],
    ),
    ("unlock", &[]),
    ("lock", &[]),
    ("check", &[]),
    ("oauth2", &["login", "import", "status", "logout"]),
];

/// The index in `args` of the first operand, skipping options and their arguments exactly as
/// the sendmail-mode parser does (`-C rc queue list` → 2). `None` when there is none, when an
/// option is invalid, or when the first operand follows `--` (then it is a recipient).
pub fn first_operand(args: &[String]) -> Option<usize> {
    let (items, error) = getopt::parse(args, &short, &LONG, true);
    if error.is_some() {
        return None;
    }
    let operands = items
        .iter()
        .filter(|i| matches!(i, Item::Operand(_)))
        .count();
    let first = args.len().checked_sub(operands)?;
    (operands > 0 && (first == 0 || args[first - 1] != "--")).then_some(first)
}

/// The subcommand that `postie ARGS` names: the first operand, after any options.
pub fn subcommand(args: &[String]) -> Option<(usize, &'static str)> {
    let i = first_operand(args)?;
    SUBCOMMANDS
        .iter()
        .find(|(name, _)| *name == args[i])
        .map(|(name, _)| (i, *name))
}

/// The subcommand that recipient operands look like a mistyped call of: the first operand is
/// a bare word at most two edits from a subcommand's name (`queeu`, `qeue`) and either the
/// message is empty or the next operand is one of that subcommand's verbs (`queeu list`).
/// Such a word is never a deliberate recipient of an empty message.
pub fn mistyped_subcommand(recipients: &[String], message_empty: bool) -> Option<&'static str> {
    let word = recipients.first()?.to_ascii_lowercase();
    if word.len() < 3 || !word.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    SUBCOMMANDS.iter().find_map(|(name, verbs)| {
        let verb_follows = recipients
            .get(1)
            .is_some_and(|v| verbs.contains(&v.as_str()));
        (edit_distance(&word, name) <= 2 && (message_empty || verb_follows)).then_some(*name)
    })
}

/// Optimal string alignment distance: insertions, deletions, substitutions and transpositions
/// of neighbours each count one.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// An option that sets an msmtprc command: checked with the command's own grammar, then
/// recorded in msmtprc form for the selected account.
fn setting(cli: &mut Cli, cmd: Command, explicit: Option<&str>) -> Result<()> {
    let option = cmd
        .cli()
        .expect("Opt::Setting is made from a declared option");
    let value = explicit.unwrap_or_default();
    // `--tls` is `--tls=on`. An explicitly empty `--tls=` is not: msmtp refuses it for its
    // on/off and auto/off options, and takes it only for `--auth=` (choose) and the ignored
    // `--tls-force-sslv3=`.
    let arg = match option.arg {
        CliArg::Optional(implicit) if explicit.is_none() => implicit,
        CliArg::Optional(implicit)
            if value.is_empty() && matches!(option.error_label, "--auth" | "--tls-force-sslv3") =>
        {
            implicit
        }
        CliArg::Optional(_) if value.is_empty() => {
            return Err(invalid(value, option.error_label));
        }
        _ => value,
    };
    match cmd.command_line_override(arg) {
        Ok(Some((command, argument))) => cli.overrides.push((command.to_owned(), argument)),
        Ok(None) => {}
        Err(_) => return Err(invalid(value, option.error_label)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Cli {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(&args, false).expect("parses")
    }

    fn usage_error(args: &[&str]) -> String {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse(&args, false) {
            Err(Err(e)) => e.message,
            Err(Ok(GetoptError(g))) => format!("getopt: {g}"),
            Ok(c) => panic!("parsed: {c:?}"),
        }
    }

    #[test]
    fn mutt_default_argv() {
        let c = p(&[
            "-oem",
            "-oi",
            "-B8BITMIME",
            "-f",
            "me@x",
            "-N",
            "failure,delay",
            "-R",
            "hdrs",
            "--",
            "a@x",
            "b@y",
        ]);
        assert_eq!(c.from.as_deref(), Some("me@x"));
        assert_eq!(c.recipients, vec!["a@x", "b@y"]);
        assert_eq!(
            c.overrides,
            vec![
                ("dsn_notify".to_string(), "failure,delay".to_string()),
                ("dsn_return".to_string(), "headers".to_string())
            ]
        );
        assert_eq!(c.mode(), Mode::Sendmail);
    }

    #[test]
    fn cron_argv() {
        let c = p(&["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "a@x,b@y"]);
        assert_eq!(c.full_name.as_deref(), Some("CronDaemon"));
        assert_eq!(c.recipients, vec!["a@x,b@y"]);
    }

    #[test]
    fn empty_angle_brackets_mean_empty_sender() {
        assert_eq!(p(&["-f", "<>"]).from.as_deref(), Some(""));
        assert_eq!(p(&["-f<>"]).from.as_deref(), Some(""));
    }

    #[test]
    fn v_is_debug_and_d01_is_version() {
        assert!(p(&["-v"]).debug);
        assert_eq!(p(&["-d0.1"]).mode(), Mode::Version);
    }

    #[test]
    fn conflicts_are_usage_errors() {
        assert_eq!(
            usage_error(&["--host=x", "-a", "y"]),
            "cannot use both --host and --account"
        );
        assert_eq!(
            usage_error(&["-a", "y", "--host=x"]),
            "cannot use both --host and --account"
        );
        assert_eq!(
            usage_error(&["-f", "a", "--read-envelope-from"]),
            "cannot use both --from and --read-envelope-from"
        );
        assert_eq!(
            usage_error(&["-S", "--rmqs=x"]),
            "cannot use both --serverinfo and --rmqs"
        );
        assert_eq!(p(&["-bs"]).mode(), Mode::SmtpSession);
        assert_eq!(p(&["-bs", "-i"]).mode(), Mode::SmtpSession);
        assert_eq!(usage_error(&["-bi"]), "unsupported operation mode bi");
    }

    #[test]
    fn invalid_values_name_the_option() {
        assert_eq!(usage_error(&["--tls=x"]), "invalid argument x for --tls");
        assert_eq!(usage_error(&["--port=0"]), "invalid argument 0 for --port");
        assert_eq!(
            usage_error(&["--port=65536"]),
            "invalid argument 65536 for --port"
        );
        assert_eq!(
            usage_error(&["--timeout=0"]),
            "invalid argument 0 for --timeout"
        );
        assert_eq!(
            usage_error(&["-N", "bad"]),
            "invalid argument bad for --dsn-notify"
        );
        assert_eq!(
            usage_error(&["-N", "failure,failure"]),
            "invalid argument failure,failure for --dsn-notify"
        );
        assert_eq!(
            usage_error(&["-R", "x"]),
            "invalid argument x for --dsn-return"
        );
        assert_eq!(
            usage_error(&["--auth=PLAIN"]),
            "invalid argument PLAIN for --auth"
        );
        assert_eq!(
            usage_error(&["--syslog=LOG_FOO"]),
            "invalid argument LOG_FOO for --syslog"
        );
        assert_eq!(
            usage_error(&["--set-date-header=on"]),
            "invalid argument on for --set-date-header"
        );
        assert_eq!(
            usage_error(&["--tls-fingerprint=zz"]),
            "invalid argument zz for --tls-fingerprint"
        );
    }

    #[test]
    fn numbers_use_strtol_base_zero_and_are_recorded_in_decimal() {
        assert_eq!(
            p(&[
                "--port=0x19",
                "--timeout=031",
                "--proxy-port=",
                "--tls-min-dh-prime-bits=0x400"
            ])
            .overrides,
            vec![
                ("port".into(), "25".into()),
                ("timeout".into(), "25".into()),
                ("proxy_port".into(), "".into()),
                ("tls_min_dh_prime_bits".into(), "1024".into()),
            ]
        );
        // msmtp's strtol takes one sign, before any 0x.
        for bad in ["25x", "-1", "", "++5", "0x+5"] {
            assert_eq!(
                usage_error(&[&format!("--port={bad}")]),
                format!("invalid argument {bad} for --port")
            );
        }
        assert_eq!(
            usage_error(&["--connect-timeout=++5"]),
            "invalid argument ++5 for --timeout"
        );
    }

    #[test]
    fn optional_arguments_default_to_on_or_auto() {
        let c = p(&["--tls", "--auth", "--set-from-header", "--keepbcc"]);
        assert_eq!(
            c.overrides,
            vec![
                ("tls".into(), "on".into()),
                ("auth".into(), "on".into()),
                ("set_from_header".into(), "auto".into()),
                ("remove_bcc_headers".into(), "off".into()),
            ]
        );
    }

    #[test]
    fn tls_on_as_separate_word_is_a_recipient() {
        let c = p(&["--tls", "on"]);
        assert_eq!(c.recipients, vec!["on"]);
    }

    #[test]
    fn getopt_errors_come_back_separately() {
        assert_eq!(usage_error(&["-e"]), "getopt: invalid option -- 'e'");
        assert_eq!(usage_error(&["-r", "x"]), "getopt: invalid option -- 'r'");
    }

    #[test]
    fn queue_options_select_the_queue_modes() {
        assert_eq!(p(&["-q"]).mode(), Mode::FlushQueue);
        assert_eq!(p(&["-q30m"]).mode(), Mode::FlushQueue);
        assert_eq!(p(&["-bp"]).mode(), Mode::ListQueue);
        assert!(p(&["-odq", "r@x"]).queue_only);
        assert!(p(&["-o", "dq", "r@x"]).queue_only);
        assert!(!p(&["-odi", "r@x"]).queue_only);
        assert_eq!(p(&["-odq", "r@x"]).recipients, vec!["r@x"]);
    }

    #[test]
    fn fingerprints_are_recorded_as_typed() {
        for fp in [
            ["AB"; 32].join(":"),
            ["ab"; 20].join(" "),
            ["01"; 16].join(":"),
        ] {
            assert_eq!(
                p(&[&format!("--tls-fingerprint={fp}")]).overrides,
                vec![("tls_fingerprint".into(), fp.clone())]
            );
        }
        let bad = ["AB"; 32].join(":").replace('A', "G");
        assert_eq!(
            usage_error(&[&format!("--tls-fingerprint={bad}")]),
            format!("invalid argument {bad} for --tls-fingerprint")
        );
    }

    /// msmtp 1.8.23's long options in the order of its `getopt_long` table.
    const MSMTP_LONG_OPTIONS: [&str; 53] = [
        "version",
        "help",
        "configure",
        "pretend",
        "debug",
        "serverinfo",
        "rmqs",
        "file",
        "account",
        "host",
        "port",
        "timeout",
        "connect-timeout",
        "auto-from",
        "from",
        "maildomain",
        "auth",
        "user",
        "passwordeval",
        "tls",
        "tls-starttls",
        "tls-trust-file",
        "tls-crl-file",
        "tls-fingerprint",
        "tls-key-file",
        "tls-cert-file",
        "tls-certcheck",
        "tls-force-sslv3",
        "tls-min-dh-prime-bits",
        "tls-priorities",
        "tls-host-override",
        "dsn-notify",
        "dsn-return",
        "protocol",
        "domain",
        "logfile",
        "logfile-time-format",
        "syslog",
        "aliases",
        "proxy-host",
        "proxy-port",
        "add-missing-from-header",
        "add-missing-date-header",
        "set-from-header",
        "set-date-header",
        "set-msgid-header",
        "remove-bcc-headers",
        "undisclosed-recipients",
        "source-ip",
        "socket",
        "keepbcc",
        "read-recipients",
        "read-envelope-from",
    ];

    #[test]
    fn long_options_are_in_msmtps_table_order_then_posties() {
        let names: Vec<&str> = LONG.iter().map(|o| o.name).collect();
        assert_eq!(names[..MSMTP_LONG_OPTIONS.len()], MSMTP_LONG_OPTIONS);
        assert_eq!(names[MSMTP_LONG_OPTIONS.len()..], ["no-send"]);
        let mut ranks: Vec<u8> = OWN_LONG.iter().map(|o| o.0).collect();
        ranks.extend(Command::all().filter_map(|c| Some(c.cli()?.rank)));
        ranks.sort();
        ranks.dedup();
        assert_eq!(ranks.len(), LONG.len(), "two options share a rank");
    }

    #[test]
    fn every_long_option_maps_to_its_command() {
        for o in LONG.iter() {
            if let Opt::Setting(cmd) = o.id {
                let declared = cmd.cli().expect("declared option");
                assert_eq!((declared.long, has_arg(declared.arg)), (o.name, o.has_arg));
            }
        }
        for (c, name) in [('N', "dsn_notify"), ('R', "dsn_return"), ('X', "logfile")] {
            assert!(matches!(short(c), Some((Opt::Setting(cmd), Required)) if cmd.name() == name));
        }
    }

    #[test]
    fn postie_options_leave_msmtp_prefixes_alone() {
        let msmtp_initials: Vec<char> = MSMTP_LONG_OPTIONS
            .iter()
            .filter_map(|n| n.chars().next())
            .collect();
        for o in LONG.iter().skip(MSMTP_LONG_OPTIONS.len()) {
            let initial = o.name.chars().next().unwrap();
            assert!(!msmtp_initials.contains(&initial), "--{}", o.name);
        }
    }

    #[test]
    fn compatibility_options_record_the_setting_they_change() {
        assert_eq!(
            p(&[
                "--keepbcc=off",
                "--add-missing-from-header",
                "--add-missing-date-header=off",
                "--connect-timeout=off",
                "--tls-force-sslv3=whatever",
                "-R",
                "hdrs",
            ])
            .overrides,
            vec![
                ("remove_bcc_headers".into(), "on".into()),
                ("set_from_header".into(), "auto".into()),
                ("set_date_header".into(), "off".into()),
                ("timeout".into(), "off".into()),
                ("dsn_return".into(), "headers".into()),
            ]
        );
        assert_eq!(
            usage_error(&["--keepbcc=x"]),
            "invalid argument x for --keepbcc"
        );
        assert_eq!(
            usage_error(&["--add-missing-date-header=auto"]),
            "invalid argument auto for --add-missing-date-header"
        );
    }

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn list_and_flush_together_are_refused_in_either_order() {
        assert_eq!(usage_error(&["-bp", "-q"]), "cannot use both -bp and -q");
        assert_eq!(usage_error(&["-q", "-bp"]), "cannot use both -bp and -q");
        assert_eq!(usage_error(&["-q1h", "-bp"]), "cannot use both -bp and -q");
    }

    #[test]
    fn subcommand_after_global_options() {
        assert_eq!(subcommand(&strings(&["queue", "list"])), Some((0, "queue")));
        assert_eq!(
            subcommand(&strings(&["-C", "rc", "queue", "list"])),
            Some((2, "queue"))
        );
        assert_eq!(
            subcommand(&strings(&["--file=rc", "-a", "x", "-v", "queue"])),
            Some((4, "queue"))
        );
        assert_eq!(subcommand(&strings(&["-Crc", "queue"])), Some((1, "queue")));
        assert_eq!(
            subcommand(&strings(&["-C", "rc", "check", "--all"])),
            Some((2, "check"))
        );
        // After `--` it is a recipient; after another recipient too.
        assert_eq!(subcommand(&strings(&["--", "queue"])), None);
        assert_eq!(subcommand(&strings(&["bob", "queue"])), None);
        // `-f queue`: the word is the option's argument.
        assert_eq!(subcommand(&strings(&["-f", "queue", "bob"])), None);
        assert_eq!(subcommand(&strings(&["--bogus", "queue"])), None);
    }

    #[test]
    fn mistyped_subcommands_are_recognised() {
        let r = |a: &[&str]| strings(a);
        assert_eq!(
            mistyped_subcommand(&r(&["queeu", "list"]), false),
            Some("queue")
        );
        assert_eq!(mistyped_subcommand(&r(&["qeue"]), true), Some("queue"));
        assert_eq!(mistyped_subcommand(&r(&["Queue"]), true), Some("queue"));
        assert_eq!(mistyped_subcommand(&r(&["chekc"]), true), Some("check"));
        assert_eq!(mistyped_subcommand(&r(&["queue"]), true), Some("queue"));
        // A real message to a similar name, or an address, is mail.
        assert_eq!(mistyped_subcommand(&r(&["queen"]), false), None);
        assert_eq!(mistyped_subcommand(&r(&["queue@example.org"]), true), None);
        assert_eq!(mistyped_subcommand(&r(&["root"]), true), None);
        assert_eq!(mistyped_subcommand(&r(&["alice", "list"]), false), None);
        assert_eq!(edit_distance("queeu", "queue"), 1);
        assert_eq!(edit_distance("qeue", "queue"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn options_that_choose_files_or_commands_are_recorded() {
        let c = p(&[
            "-C",
            "rc",
            "--passwordeval=x",
            "-X",
            "/tmp/l",
            "--aliases=a",
            "--tls-trust-file=t",
            "--tls-key-file=k",
            "--tls-cert-file=c",
            "--tls-crl-file=r",
            "--socket=s",
            "-t",
            "-f",
            "a@b",
            "-FName",
            "--host=h",
        ]);
        assert_eq!(
            c.file_or_command_options,
            vec![
                "--file (-C)",
                "--passwordeval",
                "--logfile (-X)",
                "--aliases",
                "--tls-trust-file",
                "--tls-key-file",
                "--tls-cert-file",
                "--tls-crl-file",
                "--socket",
            ]
        );
        assert!(
            p(&["-oi", "-t", "-fa@b", "-odq", "--", "x"])
                .file_or_command_options
                .is_empty()
        );
        assert!(argv_guard("sendmail") && argv_guard("mailq"));
        assert!(!argv_guard("postie") && !argv_guard("msmtp"));
    }
}
