//! `postie oauth2 login|import|status|logout`: an account's OAuth2 authorisation
//! (docs/oauth2.md). The tokens never reach the terminal, argv or an error text.

use crate::config::{self, Account, Secret};
use crate::error::{Error, Result, Sysexit};
use crate::oauth2::flow::{self, Mode};
use crate::oauth2::{AccessCache, Grant, Problem};
use crate::secret::{TokenCache, cache};
use std::io::BufRead;

const HELP: &str = "\
Usage: {prog} [-C FILE] oauth2 login -a ACCOUNT [--paste | --device | --port N] [--no-browser]
       {prog} [-C FILE] oauth2 import -a ACCOUNT < REFRESH_TOKEN
       {prog} [-C FILE] oauth2 status [-a ACCOUNT]
       {prog} [-C FILE] oauth2 logout -a ACCOUNT

login authorises postie to send mail for ACCOUNT (an account with oauth2_provider): it prints
an address to open in a browser and receives the browser's redirect on 127.0.0.1 (a free port,
or --port N, e.g. forwarded with ssh -L N:127.0.0.1:N). With --paste nothing listens: paste
the address the browser was sent to. With --device it prints a code to enter on any device.
import reads a refresh token (from mutt_oauth2.py, oama, pizauth) on stdin and stores it.
status says which accounts are authorised and how long the cached access token lasts;
logout forgets the tokens and revokes them where the provider offers it.
";

#[derive(Default)]
struct Args {
    verb: String,
    config_file: Option<String>,
    account: Option<String>,
    mode: Option<Mode>,
    no_browser: bool,
    help: bool,
}

fn parse(prog: &str, args: &[String]) -> Result<Args> {
    let usage = |what: String| Error::usage(format!("{what}\nsee '{prog} oauth2 --help'"));
    let mut a = Args::default();
    let set_mode = |a: &mut Args, m: Mode| -> Result<()> {
        if a.mode.is_some_and(|old| old != m) {
            return Err(usage("choose one of --paste, --device and --port".into()));
        }
        a.mode = Some(m);
        Ok(())
    };
    let mut w = super::words::Words::new(args, &usage);
    while let Some(arg) = w.next_word() {
        if let Some(v) = w.value(arg, &["-C", "--file"]) {
            a.config_file = Some(v?);
        } else if let Some(v) = w.value(arg, &["-a", "--account"]) {
            a.account = Some(v?);
        } else if let Some(v) = w.value(arg, &["--port"]) {
            let v = v?;
            let port = v
                .parse::<u16>()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| usage(format!("invalid port {}", crate::ui::sanitize(&v))))?;
            set_mode(&mut a, Mode::Loopback(port))?;
        } else if arg == "--paste" {
            set_mode(&mut a, Mode::Paste)?;
        } else if arg == "--device" {
            set_mode(&mut a, Mode::Device)?;
        } else if arg == "--no-browser" {
            a.no_browser = true;
        } else if arg == "-h" || arg == "--help" || arg == "help" {
            a.help = true;
        } else if a.verb.is_empty() && ["login", "import", "status", "logout"].contains(&arg) {
            a.verb = arg.to_owned();
        } else {
            return Err(usage(format!(
                "unknown argument {}",
                crate::ui::sanitize(arg)
            )));
        }
    }
    if a.help {
        return Ok(a);
    }
    if a.verb.is_empty() {
        return Err(usage(
            "which command: login, import, status or logout?".into(),
        ));
    }
    if a.mode.is_some() && a.verb != "login" {
        return Err(usage(format!(
            "--paste, --device and --port apply to login, not to {}",
            a.verb
        )));
    }
    if a.account.is_none() && a.verb != "status" {
        return Err(usage(format!("oauth2 {} needs -a ACCOUNT", a.verb)));
    }
    Ok(a)
}

/// `postie oauth2 ...` with the words after `oauth2`.
pub(super) fn run(prog: &str, args: &[String]) -> Result<()> {
    let a = parse(prog, args)?;
    if a.help {
        crate::ui::stdout_text(&HELP.replace("{prog}", prog));
        return Ok(());
    }
    let config = config::load(a.config_file.as_deref().map(std::path::Path::new))?;
    if a.verb == "status" {
        return status(&config, a.account.as_deref());
    }
    let name = a.account.as_deref().unwrap_or_default();
    let account = find(&config, name)?;
    let grant = grant_of(account)?;
    let cache = TokenCache::new(account, &grant);
    match a.verb.as_str() {
        "login" => login(
            account,
            &grant,
            &cache,
            a.mode.unwrap_or(Mode::Loopback(0)),
            !a.no_browser,
        ),
        "import" => import(account, &grant, &cache),
        _ => logout(account, &grant, &cache),
    }
}

fn find<'c>(config: &'c config::Config, name: &str) -> Result<&'c Account> {
    config
        .find(name)
        .ok_or_else(|| Error::config(format!("account {} not found", crate::ui::sanitize(name))))
}

fn grant_of(account: &Account) -> Result<Grant> {
    Grant::of(account)?.ok_or_else(|| {
        Error::config(format!(
            "account {} has no oauth2_provider",
            crate::ui::sanitize(&account.name)
        ))
    })
}

fn problem(account: &Account, p: Problem) -> Error {
    p.into_error(&account.name, false)
}

/// Stores what a login or an import obtained: the refresh token first, then the access token
/// into the cache.
fn keep(
    account: &Account,
    grant: &Grant,
    cache: &TokenCache,
    tokens: &crate::oauth2::Tokens,
    refresh: &Secret,
) -> Result<()> {
    {
        let _lock = grant.store.lock()?;
        grant.store.save(refresh)?;
        cache.put(&tokens.access_token, tokens.cache_ttl());
    }
    crate::ui::stdout_text(&format!(
        "account {}: authorised; refresh token stored in {}\n",
        crate::ui::sanitize(&account.name),
        crate::ui::sanitize(&grant.store.describe())
    ));
    Ok(())
}

fn login(
    account: &Account,
    grant: &Grant,
    cache: &TokenCache,
    mode: Mode,
    open_browser: bool,
) -> Result<()> {
    let stdout = std::io::stdout();
    let stdin = std::io::stdin();
    let tokens = flow::login(
        grant,
        mode,
        account.settings.user.as_deref(),
        &mut stdout.lock(),
        &mut stdin.lock(),
        open_browser,
    )
    .map_err(|p| problem(account, p))?;
    let Some(refresh) = tokens.refresh_token.clone() else {
        return Err(Error::new(
            Sysexit::NoPerm,
            "the provider sent no refresh token: for Microsoft the scope needs offline_access; \
             for Google remove postie's access in your account's security settings and log in again",
        ));
    };
    keep(account, grant, cache, &tokens, &refresh)
}

fn import(account: &Account, grant: &Grant, cache: &TokenCache) -> Result<()> {
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin().lock().read_line(&mut line).map_err(|e| {
        Error::io(format!(
            "cannot read standard input: {}",
            crate::error::strerror(&e)
        ))
    })?;
    let given = Secret::new(line.trim().to_owned());
    if given.expose().is_empty() {
        return Err(Error::usage("no refresh token on standard input"));
    }
    // Checked by using it once: a wrong or revoked token is refused now, not at the first send.
    match grant.refresh_with(&given) {
        Ok(tokens) => {
            let refresh = tokens.refresh_token.clone().unwrap_or(given);
            keep(account, grant, cache, &tokens, &refresh)
        }
        Err(Problem::Failed(e)) if e.is_transient() => {
            grant.store.save(&given)?;
            crate::ui::stdout_text(&format!(
                "account {}: refresh token stored in {}, not checked: {}\n",
                crate::ui::sanitize(&account.name),
                crate::ui::sanitize(&grant.store.describe()),
                e.message
            ));
            Ok(())
        }
        Err(p) => Err(problem(account, p)),
    }
}

fn logout(account: &Account, grant: &Grant, cache: &TokenCache) -> Result<()> {
    let name = crate::ui::sanitize(&account.name);
    let _lock = grant.store.lock()?;
    cache.forget();
    let token = grant.store.load()?;
    let revoked = match &token {
        None => "no token was stored".to_owned(),
        Some(t) => match grant.revoke(t) {
            Ok(true) => "the token is revoked".to_owned(),
            Ok(false) => "this provider offers no revocation: remove postie's access in your \
                          account's security settings"
                .to_owned(),
            Err(e) => format!("not revoked: {}", e.message),
        },
    };
    grant.store.forget()?;
    crate::ui::stdout_text(&format!("account {name}: logged out ({revoked})\n"));
    Ok(())
}

fn status(config: &config::Config, only: Option<&str>) -> Result<()> {
    let accounts: Vec<&Account> = match only {
        Some(name) => vec![find(config, name)?],
        None => config
            .accounts
            .iter()
            .filter(|a| a.settings.oauth2_provider.is_some())
            .collect(),
    };
    if accounts.is_empty() {
        crate::ui::stdout_text("no account has oauth2_provider\n");
        return Ok(());
    }
    let entries = cache::entries().unwrap_or_default();
    let mut text = String::new();
    for account in accounts {
        let name = crate::ui::sanitize(&account.name);
        let grant = grant_of(account)?;
        let line = match grant.store.exists() {
            Ok(true) => {
                let c = TokenCache::new(account, &grant);
                let left = entries
                    .iter()
                    .find(|e| e.description == c.description())
                    .map_or_else(
                        || "no access token in the cache (the next send refreshes it)".to_owned(),
                        |e| match &e.expires {
                            Some(t) => format!("access token cached, valid for {t} more"),
                            None => "access token cached".to_owned(),
                        },
                    );
                format!(
                    "{name}: authorised ({}), {left}",
                    crate::ui::sanitize(&grant.store.describe())
                )
            }
            Ok(false) => format!("{name}: not authorised: run postie oauth2 login -a {name}"),
            Err(e) => format!("{name}: cannot read the token store: {}", e.message),
        };
        text.push_str(&line);
        text.push('\n');
    }
    crate::ui::stdout_text(&text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn options() {
        let a = parse("postie", &s(&["login", "-a", "work", "--port=8765"])).unwrap();
        assert_eq!(
            (a.verb.as_str(), a.mode),
            ("login", Some(Mode::Loopback(8765)))
        );
        assert_eq!(
            parse("postie", &s(&["login", "--device", "-a", "w"]))
                .unwrap()
                .mode,
            Some(Mode::Device)
        );
        assert!(parse("postie", &s(&["login", "--device", "--paste", "-a", "w"])).is_err());
        assert!(parse("postie", &s(&["login"])).is_err(), "needs -a");
        assert!(parse("postie", &s(&["status"])).is_ok());
        assert!(parse("postie", &s(&["import", "-a", "w", "--paste"])).is_err());
        assert!(parse("postie", &s(&["login", "-a", "w", "--port", "0"])).is_err());
        assert!(parse("postie", &s(&[])).is_err());
        assert!(parse("postie", &s(&["--help"])).unwrap().help);
    }
}
