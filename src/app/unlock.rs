//! `postie unlock` and `postie lock`: fill and empty the password cache by hand, for the
//! headless user whose gpg-agent forgets: run `postie unlock --for 7d` once after logging in
//! (the pinentry or the prompt asks on this terminal), and cron, systemd timers and queue
//! flushes send for a week without anybody at a terminal.

use crate::config::{self, Account};
use crate::error::{Error, Result, Sysexit};
use crate::secret::{self, UnlockError, cache};
use std::time::Duration;

const HELP: &str = "\
Usage: {prog} [-C FILE] unlock [-a ACCOUNT] [--for DURATION]
       {prog} [-C FILE] unlock --status
       {prog} [-C FILE] lock [-a ACCOUNT]

unlock runs the password source of ACCOUNT (without -a: of every account that has one) now,
where it can ask on this terminal, and keeps the password in the kernel keyring for the
account's password_cache duration, or for --for DURATION (seconds, or a number with s, m, h
or d), which also works when password_cache is off. --status lists what is cached and for
how long, never the password. lock forgets the password of ACCOUNT, or without -a everything
postie cached.
";

/// Options of both commands.
#[derive(Default)]
struct Args {
    config_file: Option<String>,
    account: Option<String>,
    ttl: Option<u64>,
    status: bool,
    help: bool,
}

fn parse(prog: &str, cmd: &str, args: &[String]) -> Result<Args> {
    let usage = |what: String| Error::usage(format!("{what}\nsee '{prog} {cmd} --help'"));
    let mut a = Args::default();
    let mut w = super::words::Words::new(args, &usage);
    while let Some(arg) = w.next_word() {
        if let Some(v) = w.value(arg, &["-C", "--file"]) {
            a.config_file = Some(v?);
        } else if let Some(v) = w.value(arg, &["-a", "--account"]) {
            a.account = Some(v?);
        } else if let Some(v) = w.value(arg, &["--for"]) {
            let v = v?;
            if cmd != "unlock" {
                return Err(usage(format!("--for applies to unlock, not to {cmd}")));
            }
            a.ttl = Some(
                config::settings::parse_duration(&v)
                    .filter(|&n| n > 0)
                    .ok_or_else(|| {
                        usage(format!(
                            "invalid argument {} for --for",
                            crate::ui::sanitize(&v)
                        ))
                    })?,
            );
        } else if arg == "--status" && cmd == "unlock" {
            a.status = true;
        } else if arg == "-h" || arg == "--help" || arg == "help" {
            a.help = true;
        } else {
            return Err(usage(format!(
                "unknown argument {}",
                crate::ui::sanitize(arg)
            )));
        }
    }
    Ok(a)
}

/// `postie unlock ...` or `postie lock ...` (`cmd`), with the words after it.
pub(super) fn run(prog: &str, cmd: &str, args: &[String]) -> Result<()> {
    let a = parse(prog, cmd, args)?;
    if a.help {
        crate::ui::stdout_text(&HELP.replace("{prog}", prog));
        return Ok(());
    }
    if a.status {
        return status();
    }
    if cmd == "lock" && a.account.is_none() {
        let n = cache::forget_all().map_err(unavailable)?;
        crate::ui::stdout_text(&format!("forgot {n} cached password(s)\n"));
        return Ok(());
    }
    let config = config::load(a.config_file.as_deref().map(std::path::Path::new))?;
    let accounts: Vec<&Account> = match &a.account {
        Some(name) => vec![config.find(name).ok_or_else(|| {
            Error::config(format!("account {} not found", crate::ui::sanitize(name)))
        })?],
        None => config
            .accounts
            .iter()
            .filter(|acc| has_source(acc))
            .collect(),
    };
    if cmd == "lock" {
        let mut n = 0;
        for acc in accounts {
            n += usize::from(secret::lock(acc).map_err(unavailable)?);
        }
        crate::ui::stdout_text(&format!("forgot {n} cached password(s)\n"));
        return Ok(());
    }
    if accounts.is_empty() {
        return Err(Error::config(
            "no account has a password source (auth on and no password in the file)",
        ));
    }
    let mut failures: Vec<Error> = Vec::new();
    for acc in accounts {
        let name = crate::ui::sanitize(&acc.name);
        let Some(secs) = a.ttl.or(acc.settings.password_cache) else {
            failures.push(Error::config(format!(
                "account {name}: no password_cache duration; set password_cache or use --for DURATION"
            )));
            continue;
        };
        match secret::unlock(acc, Duration::from_secs(secs)) {
            Ok(true) => crate::ui::stdout_text(&format!(
                "account {name}: password cached for {}\n",
                human(secs)
            )),
            Ok(false) => failures.push(Error::config(format!(
                "account {name} has no password source (auth off, or a password in the file)"
            ))),
            Err(UnlockError::Cache(u)) => return Err(unavailable(u)),
            Err(UnlockError::Source(e)) => {
                failures.push(Error::new(e.exit, format!("account {name}: {}", e.message)));
            }
        }
    }
    match failures.split_first() {
        None => Ok(()),
        Some((first, rest)) => {
            let mut e = Error::new(first.exit, first.message.clone());
            e.after = rest.iter().flat_map(Error::lines).collect();
            Err(e)
        }
    }
}

/// An account whose password comes from a source (not from the file, not OAuth2): what
/// `unlock` without `-a` works on.
fn has_source(acc: &Account) -> bool {
    acc.settings.auth.enabled()
        && acc.settings.password.is_none()
        && acc.settings.oauth2_provider.is_none()
}

fn status() -> Result<()> {
    let entries = cache::entries().map_err(unavailable)?;
    if entries.is_empty() {
        crate::ui::stdout_text("no password cached\n");
        return Ok(());
    }
    let mut text = String::new();
    for e in entries {
        text.push_str(&format!(
            "{}: cached, {} ({})\n",
            crate::ui::sanitize(&e.account),
            match &e.expires {
                Some(t) => format!("expires in {t}"),
                None => "no expiry".to_owned(),
            },
            e.description
        ));
    }
    crate::ui::stdout_text(&text);
    Ok(())
}

fn unavailable(u: cache::Unavailable) -> Error {
    Error::new(
        Sysexit::Unavailable,
        format!("the password cache cannot be used here: {}", u.0),
    )
}

/// `7d`, `12h`, `30m`, `90s`: the largest unit that divides the duration.
fn human(secs: u64) -> String {
    for (unit, n) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs.is_multiple_of(n) {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{secs}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_back_in_the_largest_unit() {
        assert_eq!(human(604_800), "7d");
        assert_eq!(human(43_200), "12h");
        assert_eq!(human(1800), "30m");
        assert_eq!(human(90), "90s");
    }

    #[test]
    fn options() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let a = parse("postie", "unlock", &s(&["-a", "work", "--for=7d"])).expect("ok");
        assert_eq!(a.account.as_deref(), Some("work"));
        assert_eq!(a.ttl, Some(604_800));
        assert!(parse("postie", "lock", &s(&["--for", "1h"])).is_err());
        assert!(parse("postie", "unlock", &s(&["--for", "0"])).is_err());
        assert!(parse("postie", "unlock", &s(&["--for"])).is_err());
        assert!(
            parse("postie", "unlock", &s(&["--status"]))
                .expect("ok")
                .status
        );
        assert!(parse("postie", "lock", &s(&["--status"])).is_err());
    }
}
