//! The completion scripts of contrib/completions/ run in real bash, zsh and fish, without a
//! terminal: bash's function is called with COMP_WORDS and COMP_CWORD set (as bash splits a
//! line: `--tls=o` is `--tls`, `=`, `o`), zsh's with `words` and `CURRENT` and the completion
//! builtins replaced by functions that print what they were given, and fish's through
//! `complete -C LINE`, which is fish's own completion. Account names come from the file given
//! by `-C` (or the default msmtprc) through `postie --complete`, queue IDs from the queue.
//!
//! A shell that is not installed is skipped with a message, unless `CI` is set
//! (.ci/install-packages installs zsh and fish).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use support::program::{Home, POSTIE};

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("contrib/completions")
        .join(name)
}

fn have(shell: &str) -> bool {
    let found = ["/usr/bin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(shell).exists());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{shell} is missing (.ci/install-packages installs it)"
        );
        eprintln!("skipped: {shell} is not installed");
    }
    found
}

/// A HOME with two accounts in ~/.msmtprc, a third file for -C, and one queued message.
fn home() -> (Home, String) {
    let home = Home::new(
        "defaults\n#postie: queue on\naccount work\nhost h.invalid\nfrom w@example.org\n\
         account private : work\nfrom p@example.org\naccount default : work\n",
    );
    home.write(
        "other.rc",
        "account alpha\nhost h\naccount beta\nhost h\neval echo account never\n",
        0o600,
    );
    // One queued message: -odq queues without connecting.
    let r = home.run(&["-odq", "r@example.org"], b"Subject: s\n\nbody\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let listing = home.run(&["-bp"], b"");
    let id = listing
        .stdout
        .lines()
        .nth(2)
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("a queue ID in {}", listing.stdout))
        .to_string();
    (home, id)
}

/// Runs `shell` with `args` in HOME, postie first in PATH (the scripts call it by its name).
fn shell(home: &Home, shell: &str, args: &[&str]) -> String {
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let link = bin.join("postie");
    if !link.exists() {
        std::os::unix::fs::symlink(POSTIE, &link).expect("symlink");
    }
    let out = Command::new(shell)
        .args(args)
        .current_dir(home.path())
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("POSTIE_SYSCONFDIR", home.path().join("etc"))
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .expect("shell runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{shell} failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ---- bash ---------------------------------------------------------------------------------

/// COMPREPLY (one per line) for a line split into words as bash does, then `nospace` if the
/// script asked for it.
fn bash(home: &Home, words: &[&str]) -> Vec<String> {
    let words: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\n\
         compopt() {{ [[ $* == *nospace* ]] && nospace=1; return 0; }}\n\
         COMP_WORDS=(postie {})\n\
         COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n\
         _postie\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n\
         [[ -n $nospace ]] && echo '(nospace)'\n\
         exit 0\n",
        script("postie.bash").display(),
        words.join(" ")
    );
    shell(home, "bash", &["--norc", "--noprofile", "-c", &program])
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_options_values_accounts_subcommands_and_queue_ids() {
    if !have("bash") {
        return;
    }
    let (home, id) = home();
    let b = |w: &[&str]| bash(&home, w);
    // An option that needs its value: `--port=`, and no space after it.
    assert_eq!(b(&["--po"]), ["--port=", "(nospace)"]);
    // An option whose value is optional: `--tls` alone, and with the space.
    assert!(b(&["--tl"]).contains(&"--tls".to_string()));
    assert!(
        !b(&["--tl"])
            .iter()
            .any(|w| w == "--tls=" || w == "(nospace)")
    );
    assert_eq!(b(&["--tls-t"]), ["--tls-trust-file=", "(nospace)"]);
    // Values after `=` (bash splits `--tls=o` into three words).
    assert_eq!(b(&["--tls", "=", ""]), ["on", "off"]);
    assert_eq!(
        b(&["--set-to-header", "=", "u"]),
        ["undisclosed_recipients"]
    );
    assert_eq!(b(&["--tls-trust-file", "=", "sys"]), ["system"]);
    assert_eq!(
        b(&["--auth", "=", "scram-sha-256"]),
        ["scram-sha-256", "scram-sha-256-plus"]
    );
    // Account names of the default file, or of the one given with -C (no eval run).
    assert_eq!(b(&["-a", ""]), ["work", "private", "default"]);
    assert_eq!(b(&["--account", "=", "p"]), ["private"]);
    assert_eq!(b(&["-C", "other.rc", "-a", ""]), ["alpha", "beta"]);
    assert_eq!(
        b(&["--file", "=", "other.rc", "--account", "=", ""]),
        ["alpha", "beta"]
    );
    assert!(!home.path().join("never").exists());
    // File names.
    assert!(b(&["-C", "oth"]).contains(&"other.rc".to_string()));
    // Subcommands, their verbs, options and operands.
    assert_eq!(b(&["qu"]), ["queue"]);
    assert_eq!(b(&["-C", "other.rc", "ch"]), ["check"]);
    assert_eq!(b(&["queue", "sh"]), ["show"]);
    assert_eq!(b(&["queue", "show", ""]), [id.as_str()]);
    assert_eq!(
        b(&["-C", ".msmtprc", "queue", "--due", "delete", ""]),
        [id.as_str()]
    );
    assert_eq!(b(&["queue", "--max"]), ["--max-age=", "(nospace)"]);
    assert_eq!(b(&["check", "-a", "w"]), ["work"]);
    assert_eq!(b(&["oauth2", "lo"]), ["login", "logout"]);
    assert_eq!(b(&["unlock", "--st"]), ["--status"]);
    // Recipients are the user's: nothing after one, nothing after `--`.
    assert!(b(&["bob@example.org", "qu"]).is_empty());
    assert!(b(&["--", "qu"]).is_empty());
}

// ---- zsh ----------------------------------------------------------------------------------

/// What the zsh function offers: one line per match, `|` after its suffix (a space unless
/// the script said `-S ''`), plus `_files` when it asked for file names.
fn zsh(home: &Home, words: &[&str]) -> Vec<String> {
    let words: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "compadd() {{\n\
           local suffix=' ' arr= n w\n\
           while [[ $1 == -* ]]; do\n\
             case $1 in\n\
               -S) suffix=$2; shift 2 ;;\n\
               -a) arr=1; shift ;;\n\
               --) shift; break ;;\n\
               *) shift ;;\n\
             esac\n\
           done\n\
           if [[ -n $arr ]]; then\n\
             for n in \"$@\"; do for w in \"${{(@P)n}}\"; do print -r -- \"$w$suffix|\"; done; done\n\
           else\n\
             for w in \"$@\"; do print -r -- \"$w$suffix|\"; done\n\
           fi\n\
         }}\n\
         compset() {{ return 0 }}\n\
         _files() {{ print -r -- \"_files $*\" }}\n\
         _command_names() {{ print -r -- _command_names }}\n\
         words=(postie {})\n\
         CURRENT=${{#words}}\n\
         source '{}'\n",
        words.join(" "),
        script("_postie").display()
    );
    shell(home, "zsh", &["-f", "-c", &program])
        .lines()
        .map(str::to_string)
        .collect()
}

/// The matches that start with `prefix`, as zsh would filter them.
fn starting<'a>(offered: &'a [String], prefix: &str) -> Vec<&'a str> {
    offered
        .iter()
        .map(String::as_str)
        .filter(|w| w.starts_with(prefix))
        .collect()
}

#[test]
fn zsh_completes_options_values_accounts_subcommands_and_queue_ids() {
    if !have("zsh") {
        return;
    }
    let (home, id) = home();
    let z = |w: &[&str]| zsh(&home, w);
    // `--port=` without a space after it; `--tls` with one.
    let opts = z(&["--po"]);
    assert_eq!(starting(&opts, "--po"), ["--port=|"]);
    let opts = z(&["--tl"]);
    assert!(opts.contains(&"--tls |".to_string()), "{opts:?}");
    assert!(opts.contains(&"--tls-trust-file=|".to_string()));
    // Values after `=` (zsh keeps `--tls=o` one word; compset moves `--tls=` aside).
    assert_eq!(z(&["--tls=o"]), ["on |", "off |"]);
    assert_eq!(z(&["--tls-trust-file=s"]), ["_files ", "system |"]);
    assert_eq!(
        z(&["--set-to-header="]),
        ["on |", "off |", "undisclosed_recipients |"]
    );
    // Accounts, from -C's file when given.
    assert_eq!(z(&["-a", ""]), ["work |", "private |", "default |"]);
    assert_eq!(
        z(&["-C", "other.rc", "--account", ""]),
        ["alpha |", "beta |"]
    );
    assert_eq!(z(&["--file=other.rc", "-a", ""]), ["alpha |", "beta |"]);
    assert_eq!(z(&["-C", ""]), ["_files "]);
    // Subcommands, verbs, their options and operands.
    assert!(z(&["qu"]).contains(&"queue |".to_string()));
    assert!(z(&["queue", ""]).contains(&"show |".to_string()));
    assert_eq!(z(&["queue", "show", ""]), [format!("{id} |")]);
    assert_eq!(starting(&z(&["queue", "--qu"]), "--qu"), ["--queue-dir=|"]);
    assert_eq!(z(&["queue", "--queue-dir", ""]), ["_files -/"]);
    assert_eq!(starting(&z(&["check", "--se"]), "--se"), ["--send-test=|"]);
    assert!(z(&["oauth2", ""]).contains(&"login |".to_string()));
    assert!(z(&["bob@example.org", ""]).is_empty());
}

// ---- fish ---------------------------------------------------------------------------------

/// fish's completions of `line`: the match, without the description.
fn fish(home: &Home, line: &str) -> Vec<String> {
    let program = format!(
        "source '{}'; complete -C '{line}'",
        script("postie.fish").display()
    );
    shell(home, "fish", &["--no-config", "-c", &program])
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn fish_completes_options_values_accounts_subcommands_and_queue_ids() {
    if !have("fish") {
        return;
    }
    let (home, id) = home();
    let f = |line: &str| fish(&home, line);
    let opts = f("postie --po");
    assert_eq!(opts, ["--port"]);
    // A value the option needs comes as the next word or after `=`; optional ones only after `=`.
    assert_eq!(f("postie --tls="), ["--tls=off", "--tls=on"]);
    assert!(f("postie --tls ").iter().all(|w| w != "on" && w != "off"));
    assert_eq!(f("postie --protocol "), ["lmtp", "smtp"]);
    assert_eq!(f("postie --protocol=l"), ["--protocol=lmtp"]);
    assert!(f("postie --tls-trust-file=").contains(&"--tls-trust-file=system".to_string()));
    assert!(f("postie --tls-trust-file=oth").contains(&"--tls-trust-file=other.rc".to_string()));
    // Accounts, from -C's file when given.
    assert_eq!(f("postie -a "), ["default", "private", "work"]);
    assert_eq!(f("postie -C other.rc -a "), ["alpha", "beta"]);
    assert_eq!(
        f("postie -C other.rc check --account="),
        ["--account=alpha", "--account=beta"]
    );
    // Subcommands, verbs, options and queue IDs.
    assert_eq!(f("postie qu"), ["queue"]);
    assert_eq!(f("postie -C other.rc qu"), ["queue"]);
    assert!(f("postie queue ").contains(&"show".to_string()));
    assert_eq!(f("postie queue show "), [id.as_str()]);
    assert_eq!(f("postie queue --max"), ["--max-age"]);
    assert_eq!(f("postie unlock --st"), ["--status"]);
    assert!(f("postie bob@example.org qu").is_empty());
}

// ---- hostile names ------------------------------------------------------------------------

/// Account names are the configuration's text: no shell may run or expand them, and a name
/// with a space stays one name. A `-C` path given quoted or escaped is the file it names.
#[test]
fn account_names_are_never_evaluated_and_quoted_paths_are_followed() {
    let (home, _) = home();
    home.write(
        "my rc",
        "account $(touch pwned)\nhost h\naccount `touch pwned2`\nhost h\naccount a b\nhost h\n\
         account g*\nhost h\naccount ${HOME}\nhost h\n",
        0o600,
    );
    let names = ["$(touch pwned)", "`touch pwned2`", "a b", "g*", "${HOME}"];
    let untouched = |shell: &str| {
        for f in ["pwned", "pwned2"] {
            assert!(!home.path().join(f).exists(), "{shell} ran an account name");
        }
    };
    if have("bash") {
        // bash inserts COMPREPLY as typed text: each name quoted as the shell reads it back.
        let quoted = [
            r"\$\(touch\ pwned\)",
            r"\`touch\ pwned2\`",
            r"a\ b",
            r"g\*",
            r"\$\{HOME\}",
        ];
        for c in [r#""my rc""#, r"my\ rc"] {
            assert_eq!(bash(&home, &["-C", c, "-a", ""]), quoted, "-C {c}");
        }
        assert_eq!(bash(&home, &["-C", r#""my rc""#, "-a", "a"]), [r"a\ b"]);
        untouched("bash");
    }
    if have("zsh") {
        let offered: Vec<String> = names.iter().map(|n| format!("{n} |")).collect();
        for c in [r#""my rc""#, r"my\ rc"] {
            assert_eq!(zsh(&home, &["-C", c, "-a", ""]), offered, "-C {c}");
        }
        untouched("zsh");
    }
    if have("fish") {
        let mut sorted = names.to_vec();
        sorted.sort_unstable();
        for line in [r#"postie -C "my rc" -a "#, r"postie -Cmy\ rc -a "] {
            let mut got = fish(&home, line);
            got.sort_unstable();
            assert_eq!(got, sorted, "{line}");
        }
        untouched("fish");
    }
}
