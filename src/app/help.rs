//! The texts of `--version` and `--help`, and the option model that `--help`, the man page
//! ([`super::manual`]) and the shell completions ([`super::completions`]) share: postie's own
//! options from `cli::doc`, the settings' options from the msmtprc command declarations.

use crate::cli::doc::{self, OptionDoc, Value};
use crate::cli::{self, Takes};
use crate::config;
use crate::config::commands::{CliArg, Command};

pub(super) fn version_text() -> String {
    format!(
        "postie version {} (msmtp 1.8.23 compatible)\n\
         Platform: {}-{}\n\
         TLS/SSL library: rustls\n\
         Authentication library: built-in\n\
         Supported authentication methods:\n\
         plain scram-sha-1 scram-sha-256 external cram-md5 login oauthbearer xoauth2 \n\
         System configuration file name: {}\n\
         User configuration file name: {}\n\
         \n\
         This is free software; there is NO WARRANTY, to the extent permitted by law.\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS,
        config::paths::sysconfdir().join("msmtprc").display(),
        config::paths::default_user_file().display(),
    )
}

/// One documented option of the main command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Opt {
    /// Short names first, then the long one (`--file`).
    pub names: Vec<String>,
    /// The argument as documented (`FILE`, `[(on|off)]`), empty for none.
    pub arg: &'static str,
    /// How a long option takes it.
    pub takes: Takes,
    /// What to complete for it.
    pub complete: Complete,
    /// One line (a sentence for the settings).
    pub text: &'static str,
}

/// What a shell completes for an argument.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Complete {
    /// These words.
    pub words: Vec<String>,
    /// `file`, `directory`, `command`, `account` or `queue-id`; empty for nothing more.
    pub kind: &'static str,
}

impl Complete {
    pub(crate) fn of(value: Value) -> Complete {
        match value {
            Value::Text => Complete::default(),
            Value::File => Complete::kind("file"),
            Value::Directory => Complete::kind("directory"),
            Value::Account => Complete::kind("account"),
            Value::QueueId => Complete::kind("queue-id"),
            Value::Words(w) => Complete {
                words: w.iter().map(|w| w.to_string()).collect(),
                kind: "",
            },
        }
    }

    fn kind(kind: &'static str) -> Complete {
        Complete {
            words: Vec::new(),
            kind,
        }
    }

    /// From a settings argument as the manual writes it: its lower-case words, and what its
    /// upper-case ones name (`FILE`, `COMMAND`, `METHOD`, ...).
    fn of_argument(arg: &str) -> Complete {
        let mut c = Complete {
            words: doc::literal_words(arg)
                .into_iter()
                .map(str::to_string)
                .collect(),
            kind: "",
        };
        for kind in doc::value_kinds(arg) {
            match kind {
                "FILE" => c.kind = "file",
                "DIRECTORY" => c.kind = "directory",
                "COMMAND" => c.kind = "command",
                "METHOD" => c.words.extend(
                    crate::config::Mechanism::ALL
                        .iter()
                        .map(|m| m.name().to_ascii_lowercase()),
                ),
                "FACILITY" => {
                    c.words.extend(["LOG_USER", "LOG_MAIL"].map(String::from));
                    c.words.extend((0..8).map(|n| format!("LOG_LOCAL{n}")));
                }
                _ => {}
            }
        }
        c
    }
}

impl Opt {
    fn from_doc(d: &OptionDoc) -> Opt {
        let takes = match d.long().and_then(|l| cli::long_takes(&l[2..])) {
            // `--debug` takes `=0.1` for sendmail only; documented as a flag.
            Some(Takes::Optional) if d.arg.is_empty() => Takes::Nothing,
            Some(t) => t,
            None if d.arg.is_empty() => Takes::Nothing,
            None if d.optional_arg() => Takes::Optional,
            None => Takes::Required,
        };
        Opt {
            names: d.names.iter().map(|n| n.to_string()).collect(),
            arg: d.arg,
            takes,
            complete: Complete::of(d.value),
            text: d.text,
        }
    }

    fn from_setting(cmd: Command) -> Opt {
        let o = cmd.cli().expect("an option");
        let man = cmd.man().expect("documented: config::commands tests");
        let short = o.short.map(|c| format!("-{c}"));
        Opt {
            names: short.into_iter().chain([format!("--{}", o.long)]).collect(),
            arg: man.argument,
            takes: match o.arg {
                CliArg::Required => Takes::Required,
                CliArg::Optional(_) => Takes::Optional,
            },
            complete: Complete::of_argument(man.argument),
            text: man.text,
        }
    }

    /// The names with the argument: `-C, --file=FILE`, `--tls[=(on|off)]`, `-F NAME`.
    pub(crate) fn synopsis(&self) -> String {
        let names = self.names.join(", ");
        let long = self.names.last().is_some_and(|n| n.starts_with("--"));
        match self.takes {
            _ if self.arg.is_empty() => names,
            Takes::Optional if long => format!("{names}[={}]", doc::unbracket(self.arg)),
            Takes::Optional => format!("{names}{}", self.arg),
            _ if long => format!("{names}={}", self.arg),
            _ => format!("{names} {}", self.arg),
        }
    }
}

/// A heading and its options.
pub(crate) struct Group {
    pub title: &'static str,
    pub options: Vec<Opt>,
}

/// Every option of the main command, by heading: postie's own, then the settings'.
pub(crate) fn option_groups() -> Vec<Group> {
    let mut groups: Vec<Group> = doc::GROUPS
        .iter()
        .map(|g| Group {
            title: g.title,
            options: g.options.iter().map(Opt::from_doc).collect(),
        })
        .collect();
    groups.push(Group {
        title: doc::SETTINGS_TITLE,
        options: cli::setting_options()
            .into_iter()
            .map(|(cmd, _)| Opt::from_setting(cmd))
            .collect(),
    });
    groups
}

/// The sendmail options postie accepts and ignores, as `-A, -B, ...`.
pub(crate) fn ignored_options() -> String {
    cli::ignored_short_options()
        .iter()
        .map(|(c, _)| format!("-{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The usage line of a subcommand: `queue [list|flush|show ID|...] [option...]`.
pub(crate) fn subcommand_usage(s: &doc::SubcommandDoc) -> String {
    let verbs: Vec<String> = s
        .verbs
        .iter()
        .map(|v| {
            if v.operand.is_empty() {
                v.name.to_string()
            } else {
                format!("{} {}", v.name, v.operand)
            }
        })
        .collect();
    let mut line = s.name.to_string();
    if !verbs.is_empty() {
        let verbs = verbs.join("|");
        if s.verb_required {
            line.push_str(&format!(" {verbs}"));
        } else {
            line.push_str(&format!(" [{verbs}]"));
        }
    }
    line.push_str(" [option...]");
    line
}

/// Appends `left` and `text` as two columns (text from column 31, wrapped before 80).
fn two_columns(out: &mut String, left: &str, text: &str) {
    const COLUMN: usize = 31;
    const WIDTH: usize = 79;
    out.push_str("  ");
    out.push_str(left);
    let mut col = 2 + left.chars().count();
    if col + 1 > COLUMN {
        out.push('\n');
        col = 0;
    }
    out.push_str(&" ".repeat(COLUMN - col));
    col = COLUMN;
    let mut first = true;
    for word in text.split(' ') {
        let len = word.chars().count();
        if !first && col + 1 + len > WIDTH {
            out.push('\n');
            out.push_str(&" ".repeat(COLUMN));
            col = COLUMN;
        } else if !first {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += len;
        first = false;
    }
    out.push('\n');
}

/// A settings sentence as a help line: `The server's port.` → `the server's port`; an
/// acronym (`TLS`) keeps its case, an ellipsis its dots.
fn help_line(text: &str) -> String {
    let text = match text.strip_suffix('.') {
        Some(t) if !t.ends_with('.') => t,
        _ => text,
    };
    let first_word = text.split(' ').next().unwrap_or_default();
    let acronym = first_word.chars().skip(1).any(char::is_uppercase);
    match text.chars().next() {
        Some(first) if first.is_uppercase() && !acronym => first
            .to_lowercase()
            .chain(text[first.len_utf8()..].chars())
            .collect(),
        _ => text.to_string(),
    }
}

/// `text` wrapped before column 80, each line ending in a newline.
pub(crate) fn paragraph(text: &str) -> String {
    let mut out = String::new();
    let mut col = 0;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if col > 0 && col + 1 + len > 79 {
            out.push('\n');
            col = 0;
        } else if col > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += len;
    }
    out.push('\n');
    out
}

pub(super) fn help_text(prog: &str) -> String {
    let mut out = format!(
        "Usage: {prog} [option...] [--] recipient...\n\
         \x20      {prog} [option...] -t [--] [recipient...]\n\
         \x20      {prog} [option...] -bs\n\
         \x20      {prog} [option...] -q | -bp | -S | --rmqs=ARG | --configure=ADDRESS\n"
    );
    for s in doc::SUBCOMMANDS {
        let line = format!("       {prog} {}", subcommand_usage(s));
        match line.strip_suffix(" [option...]") {
            Some(head) if line.chars().count() > 79 => {
                let indent = format!("       {prog} {}", s.name).chars().count();
                out.push_str(&format!("{head}\n{}[option...]\n", " ".repeat(indent + 1)));
            }
            _ => {
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    out.push('\n');
    out.push_str(&paragraph(DESCRIPTION));
    out.push_str("\nCommands (each has --help; -C FILE may come before the command):\n");
    for s in doc::SUBCOMMANDS {
        two_columns(&mut out, s.name, s.text);
    }
    for group in option_groups() {
        out.push('\n');
        out.push_str(group.title);
        out.push_str(":\n");
        for o in &group.options {
            two_columns(&mut out, &o.synopsis(), &help_line(o.text));
        }
    }
    out.push('\n');
    out.push_str(&paragraph(&format!(
        "Accepted and ignored (sendmail's): {}, and -o except -odq.",
        ignored_options()
    )));
    out.push('\n');
    out.push_str(&paragraph(&format!(
        "Configuration: {} and ~/.msmtprc (or ~/.config/msmtp/config, or -C FILE). \
         The msmtprc commands, the commands' options and the exit codes: man postie.",
        config::paths::sysconfdir().join("msmtprc").display(),
    )));
    out
}

/// What postie does, for `--help` and the man page.
pub(crate) const DESCRIPTION: &str = "Read a mail on standard input and send it to the SMTP or \
    LMTP server of the account that the command line, the envelope-from address or the mail's \
    From header chooses (sendmail mode, the default). postie reads msmtp's configuration files \
    and accepts its options, so it can replace msmtp or be installed as sendmail.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_option_mode_and_command() {
        let h = help_text("postie");
        for word in [
            "queue",
            "unlock",
            "lock",
            "check",
            "oauth2",
            "-bs",
            "-q[TIME]",
            "-bp",
            "-odq",
            "--no-send",
            "--set-to-header[=(on|off|undisclosed_recipients)]",
            "-N, --dsn-notify=(off|CONDITIONS)",
            "-C, --file=FILE",
            "--port=NUMBER",
            "--tls[=(on|off)]",
            "--undisclosed-recipients[=(on|off)]",
            "-F NAME",
            "-A, -B",
        ] {
            assert!(h.contains(word), "{word} missing in\n{h}");
        }
        for group in option_groups() {
            for o in group.options {
                for name in o.names {
                    assert!(h.contains(&name), "{name}");
                }
            }
        }
        // Within 79 columns, but for an option whose synopsis alone is longer.
        for line in h.lines() {
            assert!(
                line.chars().count() <= 79 || !line.trim_start().contains(' '),
                "{line}"
            );
        }
    }

    #[test]
    fn help_columns() {
        let mut out = String::new();
        two_columns(&mut out, "--x", "short");
        assert_eq!(out, format!("  --x{}short\n", " ".repeat(26)));
        let mut out = String::new();
        two_columns(&mut out, &"-".repeat(40), "t");
        assert_eq!(out, format!("  {}\n{}t\n", "-".repeat(40), " ".repeat(31)));
        assert_eq!(help_line("The server's port."), "the server's port");
        assert_eq!(help_line("TLS on."), "TLS on");
        assert_eq!(help_line("postie only: x."), "postie only: x");
    }

    #[test]
    fn completions_of_settings_arguments() {
        let c = Complete::of_argument("[(FILE|system)]");
        assert_eq!((c.words, c.kind), (vec!["system".to_string()], "file"));
        let c = Complete::of_argument("[(on|off|METHOD)]");
        assert!(c.words.contains(&"scram-sha-256".to_string()) && c.words[0] == "on");
        let c = Complete::of_argument("[(on|off|FACILITY)]");
        assert!(c.words.contains(&"LOG_LOCAL7".to_string()));
        assert_eq!(Complete::of_argument("NUMBER"), Complete::default());
    }
}
