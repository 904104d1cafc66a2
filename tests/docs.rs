//! The man page and the shell completions are generated from postie's option, subcommand and
//! msmtprc command tables: these tests fail when docs/postie.1 or contrib/completions/* differ
//! from what the tables generate (`POSTIE_BLESS=1 cargo test --test docs` rewrites them), and
//! check the tables against the binary: `--help` of every subcommand, and every documented
//! subcommand option accepted by its parser.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const POSTIE: &str = env!("CARGO_BIN_EXE_postie");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compares `path` (under the repository) with `want`; with `POSTIE_BLESS=1`, rewrites it.
fn generated(path: &str, want: &str) {
    let file = root().join(path);
    let have = std::fs::read_to_string(&file).unwrap_or_default();
    if have == want {
        return;
    }
    if std::env::var_os("POSTIE_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&file, want).expect("write");
        return;
    }
    let line = have
        .lines()
        .zip(want.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| have.lines().count().min(want.lines().count()));
    panic!(
        "{path} is not what postie's tables generate (first difference at line {}):\n  file: {:?}\n  want: {:?}\n\
         run `POSTIE_BLESS=1 cargo test --test docs` to regenerate it",
        line + 1,
        have.lines().nth(line),
        want.lines().nth(line)
    );
}

#[test]
fn the_man_page_is_generated_from_the_declarations() {
    generated("docs/postie.1", &postie::app::manual::man_page());
}

#[test]
fn the_completions_are_generated_from_the_declarations() {
    for (shell, path) in [
        ("bash", "contrib/completions/postie.bash"),
        ("zsh", "contrib/completions/_postie"),
        ("fish", "contrib/completions/postie.fish"),
    ] {
        let script = postie::app::completions::script(shell).expect("a known shell");
        generated(path, &script);
        // The hidden mode prints the same script.
        let out = run(&["--completions", shell]);
        assert_eq!(out.0, 0, "{shell}");
        assert_eq!(out.1, script, "{shell}");
    }
    assert_eq!(run(&["--completions", "tcsh"]).0, 64);
}

/// Runs postie in an empty HOME; (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let home = tempfile::tempdir().expect("tempdir");
    run_in(home.path(), args)
}

fn run_in(home: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(POSTIE)
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/bin:/bin")
        .env("LC_ALL", "C")
        .env("POSTIE_SYSCONFDIR", home.join("etc"))
        .current_dir(home)
        .stdin(Stdio::null())
        .output()
        .expect("postie runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_command_has_help() {
    let (code, help, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for word in [
        "queue",
        "unlock",
        "lock",
        "check",
        "oauth2",
        "-bs",
        "-q",
        "-bp",
        "-odq",
        "--no-send",
    ] {
        assert!(help.contains(word), "--help lacks {word}");
    }
    let subs = postie::cli::doc::SUBCOMMANDS;
    let helps: Vec<String> = subs
        .iter()
        .map(|s| {
            let (code, text, err) = run(&[s.name, "--help"]);
            assert_eq!(code, 0, "postie {} --help: {err}", s.name);
            assert!(text.starts_with("Usage: "), "postie {} --help", s.name);
            text
        })
        .collect();
    for (s, text) in subs.iter().zip(&helps) {
        // Every option the command's help names is in the table the docs come from (`lock`
        // and `unlock` share one help).
        let sharing: Vec<_> = subs
            .iter()
            .zip(&helps)
            .filter(|(_, t)| *t == text)
            .map(|(s, _)| s)
            .collect();
        for word in text.split(|c: char| c.is_whitespace() || "[]|,".contains(c)) {
            let word = word.split('=').next().unwrap_or_default();
            if word.starts_with("--") && word.len() > 2 {
                assert!(
                    sharing
                        .iter()
                        .any(|s| s.options.iter().any(|o| o.names.contains(&word))),
                    "postie {}: {word} is in its --help but not in cli::doc",
                    s.name
                );
            }
        }
    }
}

/// Every option of the subcommand table is accepted by the subcommand: with `--help` after it
/// the command prints its help (exit 0); an unknown option would be refused (64) first. `queue`
/// prints its help before it looks at other options, so it runs `list` on an empty queue.
#[test]
fn every_documented_subcommand_option_is_accepted() {
    let home = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        home.path().join(".msmtprc"),
        "account default\nhost h.invalid\nfrom a@example.org\n",
    )
    .expect("rc");
    for s in postie::cli::doc::SUBCOMMANDS {
        for o in s.options {
            for name in o.names {
                let mut args = vec![s.name, name];
                let value = match o.value {
                    postie::cli::doc::Value::File => ".msmtprc",
                    postie::cli::doc::Value::Directory => "queue-dir",
                    postie::cli::doc::Value::Account => "default",
                    _ => match o.arg {
                        "DURATION" => "1h",
                        "NUMBER" => "8080",
                        _ => "a@example.org",
                    },
                };
                if !o.arg.is_empty() {
                    args.push(value);
                }
                if s.name == "queue" {
                    if name.contains("help") {
                        continue;
                    }
                    args.push("list");
                } else {
                    args.push("--help");
                }
                let (code, _, err) = run_in(home.path(), &args);
                assert_eq!(code, 0, "postie {}: {err}", args.join(" "));
            }
        }
        let (code, _, _) = run_in(home.path(), &[s.name, "--no-such-option", "--help"]);
        if s.name != "queue" {
            assert_eq!(code, 64, "{}: an unknown option is refused", s.name);
        }
    }
}
