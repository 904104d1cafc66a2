//! The man page, docs/postie.1, generated from the option tables (`cli::doc`), the msmtprc
//! command declarations (`config::commands`) and the subcommand table, so that it lists every
//! option, subcommand and msmtprc command postie has. tests/docs.rs fails when docs/postie.1
//! differs from [`man_page`] (`POSTIE_BLESS=1 cargo test --test docs` rewrites it).

use super::help::{self, Opt};
use crate::cli::Takes;
use crate::cli::doc::{self, OptionDoc};
use crate::config::commands::{Command, FileSwitch, Manual};
use std::fmt::Write;

/// Text for roff: backslashes and minus signs escaped, a leading dot or quote made literal.
fn esc(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with(['.', '\'']) {
        format!("\\&{t}")
    } else {
        t
    }
}

fn bold(text: &str) -> String {
    format!("\\fB{}\\fR", esc(text))
}

fn italic(text: &str) -> String {
    format!("\\fI{}\\fR", esc(text))
}

/// `.TP` item: the tag line, then the text.
fn item(out: &mut String, tag: &str, text: &str) {
    let _ = write!(out, ".TP\n{tag}\n{}\n", esc(text));
}

/// An option's tag: `\fB\-C\fR, \fB\-\-file\fR=\fIFILE\fR`.
fn option_tag(o: &Opt) -> String {
    let names: Vec<String> = o.names.iter().map(|n| bold(n)).collect();
    let names = names.join(", ");
    let long = o.names.last().is_some_and(|n| n.starts_with("--"));
    match o.takes {
        _ if o.arg.is_empty() => names,
        Takes::Optional if long => format!("{names}[={}]", italic(doc::unbracket(o.arg))),
        Takes::Optional => format!("{names}{}", italic(o.arg)),
        _ if long => format!("{names}={}", italic(o.arg)),
        _ => format!("{names} {}", italic(o.arg)),
    }
}

fn option_doc_tag(d: &OptionDoc) -> String {
    let names: Vec<String> = d.names.iter().map(|n| bold(n)).collect();
    let names = names.join(", ");
    match d.long() {
        _ if d.arg.is_empty() => names,
        Some(_) => format!("{names}={}", italic(d.arg)),
        None => format!("{names} {}", italic(d.arg)),
    }
}

/// An msmtprc command's tag: `\fBport\fR \fInumber\fR`.
fn command_tag(name: &str, man: &Manual) -> String {
    if man.argument.is_empty() {
        bold(name)
    } else {
        format!("{} {}", bold(name), italic(man.argument))
    }
}

const HEADER: &str = ".\\\" Generated from postie's option and command tables; do not edit.
.\\\" POSTIE_BLESS=1 cargo test --test docs rewrites it, cargo test checks it.
.TH POSTIE 1 \"\" \"postie\" \"User Commands\"
.SH NAME
postie \\- send mail over SMTP or LMTP; a drop\\-in replacement for msmtp and sendmail
";

const SYNOPSIS: &str = ".SH SYNOPSIS
.B postie
[\\fIoption\\fR...] [\\fB\\-\\-\\fR] \\fIrecipient\\fR...
.br
.B postie
[\\fIoption\\fR...] \\fB\\-t\\fR [\\fB\\-\\-\\fR] [\\fIrecipient\\fR...]
.br
.B postie
[\\fIoption\\fR...] \\fB\\-bs\\fR
.br
.B postie
[\\fIoption\\fR...] \\fB\\-q\\fR | \\fB\\-bp\\fR | \\fB\\-S\\fR | \\fB\\-\\-rmqs\\fR=\\fIarg\\fR | \\fB\\-\\-configure\\fR=\\fIaddress\\fR
";

const DESCRIPTION_MORE: &str = "The mail is sent as it is read: line endings become CRLF, \
    a line holding only a dot never ends the input, Bcc headers are removed, and From, Date and \
    Message-ID headers are added when the mail has none. postie exits with the sysexits code \
    msmtp uses and prints msmtp's error texts and log line, so scripts and mail clients keep \
    working.";

const GUARD: &str = "Called as sendmail, send-mail, mailq or newaliases, postie refuses the \
    options that choose a file or a command (-C, --passwordeval, -X, --aliases, \
    --tls-trust-file, --tls-crl-file, --tls-key-file, --tls-cert-file, --socket) unless the \
    system file or the user's msmtprc says trust_sendmail_argv on: programs that run sendmail \
    often pass on options that came from others (PHP's mail()).";

const SYNTAX: &[&str] = &[
    "postie reads the system file /etc/msmtprc, then the user file: -C FILE, else ~/.msmtprc, \
     else $XDG_CONFIG_HOME/msmtp/config (~/.config/msmtp/config). Each has its own defaults; an \
     account of the user file replaces a system account of the same name.",
    "One command per line: the command, blanks, the argument (the rest of the line without \
     outer blanks, and without one pair of enclosing double quotes). A line whose first \
     non-blank character is # is a comment; there are no comments at the end of a line. Lines \
     are at most 499 characters. A file name starting with ~ is in the home directory.",
];

const KEYWORDS: &[(&str, &str, &str)] = &[
    (
        "defaults",
        "",
        "Start a section whose settings every following account of the file copies.",
    ),
    (
        "account",
        "NAME [: PARENT[, PARENT...]]",
        "Start an account; with parents, it also copies the settings set explicitly in them. \
         account default : NAME makes NAME the default account. Commands before the first \
         section form an account named default.",
    ),
    (
        "eval",
        "COMMAND",
        "Run COMMAND (stdin closed, killed after 120 seconds) and read the first line of its \
         output as if it stood here.",
    ),
    (
        "#postie:",
        "COMMAND ARGUMENT",
        "A comment for msmtp, a command of the current section for postie: how one file holds \
         postie's own commands and still works with msmtp. account, defaults and eval cannot \
         follow it.",
    ),
];

const EXIT_STATUS: &str = "0 on success; otherwise the sysexits.h code msmtp uses: 64 usage, \
    65 refused by the server (5xx), 66 unreadable TLS file, 68 unknown host, 69 unavailable \
    (4xx, a missing capability, the certificate), 70 internal error, 71 operating system error, \
    74 input/output error or timeout, 75 temporary failure (cannot connect, the resolver), 76 \
    protocol error, 77 authentication failed, 78 configuration error. With queue on, a \
    temporary failure stores the mail and exits 0.";

const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "POSTIE_HELPER_TIMEOUT",
        "Seconds after which passwordeval, eval and the other helpers postie runs are killed \
         (default 120).",
    ),
    (
        "GPG_TTY",
        "Passed on to passwordeval; when unset and postie has a controlling terminal, it is \
         set to that terminal's name, so gpg can ask for a passphrase.",
    ),
    (
        "POSIXLY_CORRECT",
        "Options end at the first operand, as with getopt.",
    ),
];

const FILES: &str = "~/.msmtprc, ~/.config/msmtp/config, /etc/msmtprc, ~/.netrc, /etc/netrc, \
    ~/.local/state/postie/queue, ~/.local/state/postie/oauth2.";

/// The man page.
pub fn man_page() -> String {
    let mut out = String::from(HEADER);
    out.push_str(SYNOPSIS);
    for s in doc::SUBCOMMANDS {
        let _ = writeln!(
            out,
            ".br\n.B postie\n[\\fB\\-C\\fR \\fIfile\\fR] {}",
            esc(&help::subcommand_usage(s))
        );
    }
    let _ = write!(
        out,
        ".SH DESCRIPTION\n{}\n.PP\n{}\n",
        esc(help::DESCRIPTION),
        esc(DESCRIPTION_MORE)
    );

    out.push_str(".SH OPTIONS\n");
    for group in help::option_groups() {
        let _ = writeln!(out, ".SS {}", esc(group.title));
        for o in &group.options {
            item(&mut out, &option_tag(o), o.text);
        }
    }
    let _ = write!(
        out,
        ".PP\n{}\n.PP\n{}\n",
        esc(&format!(
            "Accepted and ignored, as sendmail's: {}, and -o except -odq.",
            help::ignored_options()
        )),
        esc(GUARD)
    );

    out.push_str(
        ".SH COMMANDS\nGlobal options such as \\fB\\-C\\fR may come before the command; \
                  each command has \\fB\\-\\-help\\fR.\n",
    );
    for s in doc::SUBCOMMANDS {
        let _ = write!(
            out,
            ".SS postie {}\n{}\n",
            esc(&help::subcommand_usage(s)),
            esc(&sentence(s.text))
        );
        for v in s.verbs {
            let tag = if v.operand.is_empty() {
                bold(v.name)
            } else {
                format!("{} {}", bold(v.name), italic(v.operand))
            };
            item(&mut out, &tag, v.text);
        }
        for o in s.options {
            item(&mut out, &option_doc_tag(o), o.text);
        }
    }

    out.push_str(".SH CONFIGURATION\n");
    for p in SYNTAX {
        let _ = write!(out, "{}\n.PP\n", esc(p));
    }
    for (name, arg, text) in KEYWORDS {
        let tag = if arg.is_empty() {
            bold(name)
        } else {
            format!("{} {}", bold(name), italic(arg))
        };
        item(&mut out, &tag, text);
    }
    out.push_str(".SS Commands\n");
    for cmd in Command::all().filter(|c| !c.is_alias()) {
        let man = cmd.man().expect("documented: config::commands tests");
        item(&mut out, &command_tag(cmd.name(), &man), man.text);
    }
    for sw in FileSwitch::ALL {
        item(&mut out, &command_tag(sw.name(), &sw.man()), sw.man().text);
    }
    out.push_str(".SS Old spellings\nmsmtp's older names, still accepted.\n");
    for cmd in Command::all().filter(|c| c.is_alias()) {
        let man = cmd.man().expect("documented: config::commands tests");
        item(&mut out, &command_tag(cmd.name(), &man), man.text);
    }

    let _ = write!(
        out,
        ".SH EXIT STATUS\n{}\n.SH ENVIRONMENT\n",
        esc(EXIT_STATUS)
    );
    for (name, text) in ENVIRONMENT {
        item(&mut out, &bold(name), text);
    }
    let _ = write!(
        out,
        ".SH FILES\n{}\n.SH SEE ALSO\n.BR msmtp (1),\n.BR sendmail (8).\n\
         The documentation in \\fI/usr/share/doc/postie/\\fR (\\fIdocs/\\fR in the source): usage, configuration, queue, OAuth2, compatibility, \
         migration, recipes.\n",
        esc(FILES)
    );
    out
}

/// A help line as a sentence: capitalised, with a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let first: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    format!("{first}{}.", chars.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_covers_every_command_option_and_subcommand() {
        let page = man_page();
        for cmd in Command::all() {
            let tag = format!(".TP\n{}", bold(cmd.name()));
            assert!(page.contains(&tag), "{}", cmd.name());
        }
        for sw in FileSwitch::ALL {
            assert!(page.contains(&bold(sw.name())), "{}", sw.name());
        }
        for group in help::option_groups() {
            for o in group.options {
                for name in &o.names {
                    assert!(page.contains(&bold(name)), "{name}");
                }
            }
        }
        for s in doc::SUBCOMMANDS {
            assert!(
                page.contains(&format!(".SS postie {}", s.name)),
                "{}",
                s.name
            );
            for v in s.verbs {
                assert!(page.contains(&bold(v.name)), "{} {}", s.name, v.name);
            }
        }
        assert!(page.contains(&format!(".TP\n{}", bold("#postie:"))));
    }

    #[test]
    fn roff_escapes() {
        assert_eq!(esc("a-b\\c"), "a\\-b\\ec");
        assert_eq!(esc(".x"), "\\&.x");
        assert_eq!(sentence("list the mail"), "List the mail.");
        let man = Manual {
            argument: "[(on|off)]",
            text: "",
        };
        assert_eq!(command_tag("tls", &man), "\\fBtls\\fR \\fI[(on|off)]\\fR");
    }
}
