//! The options and subcommands as people see them: `postie --help`, the man page
//! (docs/postie.1) and the shell completions (contrib/completions/) are generated from these
//! tables together with the msmtprc command declarations (`config::commands`, which carry the
//! options that set an account setting). Tests check the tables against the parsers: every
//! option the parser knows is documented here, and every option documented here is accepted
//! (tests/docs.rs runs each subcommand's options through the binary).

/// What an option's argument or an operand is, for the completions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// Free text (an address, a host, a number): nothing to complete.
    Text,
    /// A file name.
    File,
    /// A directory name.
    Directory,
    /// An account of the configuration.
    Account,
    /// The ID of a queued message.
    QueueId,
    /// One of these words.
    Words(&'static [&'static str]),
}

/// One option, or several names for it.
#[derive(Clone, Copy, Debug)]
pub struct OptionDoc {
    /// Its names: short ones first (`-C`), then the long one (`--file`).
    pub names: &'static [&'static str],
    /// Its argument as the help writes it (`FILE`); in brackets when it may be left out
    /// (`[TIME]`, attached to a short option: `-q30m`); empty when it takes none.
    pub arg: &'static str,
    /// What the argument is.
    pub value: Value,
    /// One line of help.
    pub text: &'static str,
}

/// Options under a heading.
#[derive(Clone, Copy, Debug)]
pub struct Group {
    pub title: &'static str,
    pub options: &'static [OptionDoc],
}

const fn opt(
    names: &'static [&'static str],
    arg: &'static str,
    value: Value,
    text: &'static str,
) -> OptionDoc {
    OptionDoc {
        names,
        arg,
        value,
        text,
    }
}

const fn flag(names: &'static [&'static str], text: &'static str) -> OptionDoc {
    opt(names, "", Value::Text, text)
}

/// The options that are not msmtprc settings, by heading. The settings' own options
/// (`--port`, `--tls`, `-N`, ...) follow them under "Account settings", from the declarations.
pub const GROUPS: &[Group] = &[
    Group {
        title: "Modes",
        options: &[
            flag(&["--version"], "print the version and exit"),
            flag(&["--help"], "print this help and exit"),
            flag(
                &["-P", "--pretend"],
                "print the settings of the account a mail would use and exit",
            ),
            flag(
                &["--no-send"],
                "do everything but connect: print the account, the server, the authentication \
                 and the exact bytes that would be sent",
            ),
            flag(
                &["-d", "-v", "--debug"],
                "print the settings and the SMTP dialogue (authentication data redacted)",
            ),
            flag(
                &["-S", "--serverinfo"],
                "print the server's greeting, TLS certificate and capabilities",
            ),
            opt(
                &["--rmqs"],
                "(HOST|@DOMAIN|#QUEUE)",
                Value::Text,
                "ask the server to deliver its queue for HOST, DOMAIN or QUEUE (ETRN)",
            ),
            opt(
                &["--configure"],
                "ADDRESS",
                Value::Text,
                "print an account for ADDRESS from its domain's SRV records",
            ),
            flag(
                &["-bs"],
                "speak SMTP on standard input and output, relaying each mail through the \
                 account its MAIL FROM address chooses",
            ),
            flag(
                &["-bm"],
                "read a mail on standard input and send it (the default)",
            ),
            flag(&["-bp"], "list the queued mail (also as mailq)"),
            opt(
                &["-q"],
                "[TIME]",
                Value::Text,
                "deliver the queued mail now (TIME, sendmail's interval, is ignored)",
            ),
            flag(&["-odq"], "queue the mail without trying to send it"),
        ],
    },
    Group {
        title: "Configuration",
        options: &[
            opt(
                &["-C", "--file"],
                "FILE",
                Value::File,
                "read FILE instead of ~/.msmtprc (or ~/.config/msmtp/config)",
            ),
            opt(
                &["-a", "--account"],
                "ACCOUNT",
                Value::Account,
                "use ACCOUNT instead of the one chosen by -f, the From header or default",
            ),
            opt(
                &["--host"],
                "HOST",
                Value::Text,
                "send to HOST with the command-line settings only; read no configuration file",
            ),
        ],
    },
    Group {
        title: "Sendmail mode",
        options: &[
            opt(
                &["-f", "--from"],
                "ADDRESS",
                Value::Text,
                "the envelope-from address (<> for none); it also chooses the account",
            ),
            flag(
                &["--read-envelope-from"],
                "take the envelope-from address from the mail's From header (or a Resent-From \
                 before it)",
            ),
            flag(
                &["-t", "--read-recipients"],
                "also send to the To, Cc and Bcc addresses of the mail (or of its first block \
                 of Resent- headers)",
            ),
            opt(
                &["-F"],
                "NAME",
                Value::Text,
                "the full name in a From header postie adds",
            ),
            flag(
                &["--"],
                "end of options: every word after it is a recipient",
            ),
        ],
    },
];

/// The heading of the options that set an msmtprc setting for one run.
pub const SETTINGS_TITLE: &str = "Account settings (the msmtprc command of the same name)";

/// A subcommand: `postie [global options] NAME [VERB] [options]`.
#[derive(Clone, Copy, Debug)]
pub struct SubcommandDoc {
    pub name: &'static str,
    /// What it is for, one line.
    pub text: &'static str,
    /// Its verbs (the first word after it), each with the operand it takes and one line.
    pub verbs: &'static [VerbDoc],
    /// Whether a verb is required (`oauth2`) or optional (`queue`: list).
    pub verb_required: bool,
    pub options: &'static [OptionDoc],
}

/// A verb of a subcommand.
#[derive(Clone, Copy, Debug)]
pub struct VerbDoc {
    pub name: &'static str,
    /// The operand it takes (`ID`), empty for none.
    pub operand: &'static str,
    pub value: Value,
    pub text: &'static str,
}

const fn verb(name: &'static str, text: &'static str) -> VerbDoc {
    VerbDoc {
        name,
        operand: "",
        value: Value::Text,
        text,
    }
}

const fn verb_id(name: &'static str, text: &'static str) -> VerbDoc {
    VerbDoc {
        name,
        operand: "ID",
        value: Value::QueueId,
        text,
    }
}

const CONFIG_FILE: OptionDoc = opt(
    &["-C", "--file"],
    "FILE",
    Value::File,
    "use this configuration file",
);
const HELP: OptionDoc = flag(&["-h", "--help"], "print the command's help");

/// postie's subcommands, in the order of `cli::SUBCOMMANDS`.
pub const SUBCOMMANDS: &[SubcommandDoc] = &[
    SubcommandDoc {
        name: "queue",
        text: "list, deliver and manage the mail waiting in the queue",
        verbs: &[
            verb("list", "list the queued mail (the default)"),
            verb("flush", "deliver the queued mail now"),
            verb_id(
                "show",
                "print a message's metadata and the message as submitted",
            ),
            verb_id(
                "hold",
                "keep a message from being sent until it is released",
            ),
            verb_id("release", "make a held message due again"),
            verb_id("delete", "remove a message from the queue"),
            verb("help", "print the queue commands' help"),
        ],
        verb_required: false,
        options: &[
            CONFIG_FILE,
            opt(
                &["-a", "--account"],
                "ACCOUNT",
                Value::Account,
                "work on the queue of this account only",
            ),
            opt(
                &["--queue-dir"],
                "DIRECTORY",
                Value::Directory,
                "work on exactly this queue directory",
            ),
            flag(&["--due"], "flush: only messages whose retry time has come"),
            opt(
                &["--max-age"],
                "DURATION",
                Value::Text,
                "flush: set aside messages older than DURATION (seconds, or with s, m, h, d)",
            ),
            flag(
                &["-P", "--pretend", "--no-send"],
                "flush: print what would be sent; send nothing, change nothing",
            ),
            flag(
                &["-d", "-v", "--debug"],
                "print progress and the SMTP dialogue",
            ),
            HELP,
        ],
    },
    SubcommandDoc {
        name: "unlock",
        text: "run an account's password source now and keep the password in the kernel \
               keyring, so that cron, timers and queue flushes can send",
        verbs: &[],
        verb_required: false,
        options: &[
            CONFIG_FILE,
            opt(
                &["-a", "--account"],
                "ACCOUNT",
                Value::Account,
                "this account only (default: every account with a password source)",
            ),
            opt(
                &["--for"],
                "DURATION",
                Value::Text,
                "keep it this long instead of the account's password_cache",
            ),
            flag(
                &["--status"],
                "list what is cached and for how long (never the password)",
            ),
            HELP,
        ],
    },
    SubcommandDoc {
        name: "lock",
        text: "forget the passwords postie unlock kept",
        verbs: &[],
        verb_required: false,
        options: &[
            CONFIG_FILE,
            opt(
                &["-a", "--account"],
                "ACCOUNT",
                Value::Account,
                "this account only (default: everything postie cached)",
            ),
            HELP,
        ],
    },
    SubcommandDoc {
        name: "check",
        text: "go through everything a send needs (configuration, password, DNS, connection, \
               TLS, login, queue) and print one line per step, with the fix for each failure",
        verbs: &[],
        verb_required: false,
        options: &[
            CONFIG_FILE,
            opt(
                &["-a", "--account"],
                "ACCOUNT",
                Value::Account,
                "check this account (default: the one a send without -a uses)",
            ),
            flag(&["--all"], "check every account"),
            opt(
                &["-f", "--from"],
                "ADDRESS",
                Value::Text,
                "check the account a mail from ADDRESS uses",
            ),
            opt(
                &["--send-test"],
                "ADDRESS",
                Value::Text,
                "also send a short test message to ADDRESS",
            ),
            HELP,
        ],
    },
    SubcommandDoc {
        name: "oauth2",
        text: "authorise postie to get OAuth2 tokens for an account with oauth2_provider",
        verbs: &[
            verb(
                "login",
                "authorise in a browser (or with --paste, --device)",
            ),
            verb(
                "import",
                "store a refresh token read on standard input (from mutt_oauth2.py, oama)",
            ),
            verb(
                "status",
                "which accounts are authorised, and how long their access token lasts",
            ),
            verb("logout", "forget the tokens and revoke them"),
        ],
        verb_required: true,
        options: &[
            CONFIG_FILE,
            opt(
                &["-a", "--account"],
                "ACCOUNT",
                Value::Account,
                "the account (required but for status)",
            ),
            flag(
                &["--paste"],
                "login: paste the address the browser was sent to; nothing listens",
            ),
            flag(&["--device"], "login: print a code to enter on any device"),
            opt(
                &["--port"],
                "NUMBER",
                Value::Text,
                "login: receive the browser's redirect on this port of 127.0.0.1",
            ),
            flag(
                &["--no-browser"],
                "login: print the address instead of opening a browser",
            ),
            HELP,
        ],
    },
];

impl OptionDoc {
    /// The long name (`--file`), if it has one.
    pub fn long(&self) -> Option<&'static str> {
        self.names
            .iter()
            .copied()
            .find(|n| n.starts_with("--") && n.len() > 2)
    }

    /// Whether the argument may be left out.
    pub fn optional_arg(&self) -> bool {
        self.arg.starts_with('[')
    }

    /// The names with the argument, as the help shows them: `-C, --file=FILE`, `-F NAME`,
    /// `-q[TIME]`.
    pub fn synopsis(&self) -> String {
        let names = self.names.join(", ");
        if self.arg.is_empty() {
            return names;
        }
        match self.long() {
            Some(_) if self.optional_arg() => format!("{names}[={}]", unbracket(self.arg)),
            Some(_) => format!("{names}={}", self.arg),
            None if self.optional_arg() => format!("{names}{}", self.arg),
            None => format!("{names} {}", self.arg),
        }
    }
}

/// `[X]` without its brackets.
pub fn unbracket(arg: &str) -> &str {
    arg.strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(arg)
}

/// The literal words of a documented argument (`[(on|off|METHOD)]` → on, off): the
/// alternatives written in lower case; upper-case ones name a kind of value.
pub fn literal_words(arg: &str) -> Vec<&str> {
    let inner = unbracket(arg);
    let inner = inner
        .strip_prefix('(')
        .and_then(|a| a.strip_suffix(')'))
        .unwrap_or(inner);
    inner
        .split('|')
        .filter(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(&b))
        })
        .collect()
}

/// The kinds of value named by the upper-case alternatives of a documented argument.
pub fn value_kinds(arg: &str) -> Vec<&str> {
    let inner = unbracket(arg);
    let inner = inner
        .strip_prefix('(')
        .and_then(|a| a.strip_suffix(')'))
        .unwrap_or(inner);
    inner
        .split('|')
        .filter(|w| w.bytes().any(|b| b.is_ascii_uppercase()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synopses() {
        let s = |names, arg| opt(names, arg, Value::Text, "").synopsis();
        assert_eq!(s(&["-C", "--file"], "FILE"), "-C, --file=FILE");
        assert_eq!(s(&["--tls"], "[(on|off)]"), "--tls[=(on|off)]");
        assert_eq!(s(&["-F"], "NAME"), "-F NAME");
        assert_eq!(s(&["-q"], "[TIME]"), "-q[TIME]");
        assert_eq!(s(&["--due"], ""), "--due");
    }

    #[test]
    fn words_of_arguments() {
        assert_eq!(literal_words("[(on|off|METHOD)]"), ["on", "off"]);
        assert_eq!(value_kinds("[(on|off|METHOD)]"), ["METHOD"]);
        assert_eq!(
            literal_words("(off|headers|full)"),
            ["off", "headers", "full"]
        );
        assert_eq!(literal_words("[(FILE|system)]"), ["system"]);
        assert_eq!(value_kinds("[(FILE|system)]"), ["FILE"]);
        assert_eq!(
            literal_words("[(on|off|undisclosed_recipients)]"),
            ["on", "off", "undisclosed_recipients"]
        );
        assert!(literal_words("NUMBER").is_empty());
        assert_eq!(value_kinds("NUMBER"), ["NUMBER"]);
    }

    #[test]
    fn the_subcommands_are_the_parsers_subcommands() {
        let names: Vec<_> = SUBCOMMANDS.iter().map(|s| s.name).collect();
        let parsed: Vec<_> = super::super::SUBCOMMANDS.iter().map(|s| s.0).collect();
        assert_eq!(names, parsed);
        for (doc, (_, verbs)) in SUBCOMMANDS.iter().zip(super::super::SUBCOMMANDS) {
            let mut documented: Vec<_> = doc.verbs.iter().map(|v| v.name).collect();
            let mut verbs = verbs.to_vec();
            documented.sort();
            verbs.sort();
            assert_eq!(documented, verbs, "{}", doc.name);
        }
    }
}
