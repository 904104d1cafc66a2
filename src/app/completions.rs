//! Shell completions for bash, zsh and fish, generated from the same tables as `--help` and
//! the man page (contrib/completions/ holds the output; tests/docs.rs checks it is current),
//! and the hidden `postie --complete accounts|queue-ids [-C FILE]` that the scripts call for
//! the account names and queue IDs. That lookup reads the configuration files without running
//! their `eval` lines (a TAB must not start a gpg prompt).

use super::help::{self, Complete};
use crate::cli::Takes;
use crate::cli::doc::{self, OptionDoc};
use crate::config::parse::split_line;
use crate::config::paths;
use crate::error::{Error, Result};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// One option as a completion sees it.
struct Spec {
    names: Vec<String>,
    takes: Takes,
    complete: Complete,
    text: String,
}

/// A command the completions know: `postie` itself or one of its subcommands.
struct Context {
    name: &'static str,
    options: Vec<Spec>,
    /// Verbs with the completion of their operand (`queue show ID`).
    verbs: Vec<(&'static str, Complete, &'static str)>,
}

fn sub_option(o: &OptionDoc) -> Spec {
    Spec {
        names: o.names.iter().map(|n| n.to_string()).collect(),
        takes: if o.arg.is_empty() {
            Takes::Nothing
        } else {
            Takes::Required
        },
        complete: Complete::of(o.value),
        text: o.text.to_string(),
    }
}

fn contexts() -> Vec<Context> {
    let main = Context {
        name: "postie",
        options: help::option_groups()
            .into_iter()
            .flat_map(|g| g.options)
            // `--` and the `-b`/`-o` forms are not options a completion offers by name.
            .filter(|o| o.names.iter().all(|n| n != "--"))
            .map(|o| Spec {
                names: o.names,
                takes: o.takes,
                complete: o.complete,
                text: o.text.to_string(),
            })
            .collect(),
        verbs: doc::SUBCOMMANDS
            .iter()
            .map(|s| (s.name, Complete::default(), s.text))
            .collect(),
    };
    let subs = doc::SUBCOMMANDS.iter().map(|s| Context {
        name: s.name,
        options: s.options.iter().map(sub_option).collect(),
        verbs: s
            .verbs
            .iter()
            .map(|v| {
                let c = if v.operand.is_empty() {
                    Complete::default()
                } else {
                    Complete::of(v.value)
                };
                (v.name, c, v.text)
            })
            .collect(),
    });
    std::iter::once(main).chain(subs).collect()
}

/// How an option takes its argument in the scripts: `none`, `next` (the next word, or
/// `--opt=VALUE`) or `attached` (only `--opt=VALUE`, or attached to a short option), then the
/// items to complete: `file`, `directory`, `command`, `account`, `queue-id`, `=WORD`.
fn spec_string(s: &Spec, name: &str) -> String {
    let mode = match s.takes {
        Takes::Nothing => "none",
        Takes::Required => "next",
        Takes::Optional => "attached",
    };
    let long = name.starts_with("--");
    // `-q[TIME]` and `--tls[=on|off]` both take their argument in the same word only.
    let mode = if s.takes == Takes::Optional && !long {
        "attached"
    } else {
        mode
    };
    let mut out = mode.to_string();
    if !s.complete.kind.is_empty() {
        out.push(' ');
        out.push_str(s.complete.kind);
    }
    for w in &s.complete.words {
        out.push_str(" =");
        out.push_str(w);
    }
    out
}

/// The names a completion offers for `s`: `--port=` for a long option that needs an
/// argument (completed without a trailing space), the name itself otherwise.
fn offered(s: &Spec) -> Vec<String> {
    s.names
        .iter()
        .map(|n| {
            if n.starts_with("--") && s.takes == Takes::Required {
                format!("{n}=")
            } else {
                n.clone()
            }
        })
        .collect()
}

/// `'text'` for sh: single quotes, with `'` written as `'\''`.
fn sq(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

const NOTICE: &str = "Generated from postie's option and command tables (postie --completions SHELL);\n\
# do not edit: tests/docs.rs checks it, POSTIE_BLESS=1 cargo test --test docs rewrites it.";

/// The case arms shared by bash and zsh: `_postie_option CMD OPT` prints the spec of an
/// option, `_postie_options CMD` the names to offer, `_postie_verbs CMD` the verbs,
/// `_postie_operand CMD VERB` what a verb's operand is.
fn sh_tables(out: &mut String) {
    let ctx = contexts();
    out.push_str("_postie_option() {\n    case \"$1 $2\" in\n");
    for c in &ctx {
        for s in &c.options {
            for n in &s.names {
                let _ = writeln!(
                    out,
                    "        {}) echo {} ;;",
                    sq(&format!("{} {n}", c.name)),
                    sq(&spec_string(s, n))
                );
            }
        }
    }
    out.push_str("        *) echo unknown ;;\n    esac\n}\n\n");
    out.push_str("_postie_options() {\n    case $1 in\n");
    for c in &ctx {
        let names: Vec<String> = c.options.iter().flat_map(offered).collect();
        let _ = writeln!(out, "        {}) echo {} ;;", c.name, sq(&names.join(" ")));
    }
    out.push_str("    esac\n}\n\n");
    out.push_str("_postie_verbs() {\n    case $1 in\n");
    for c in &ctx {
        if !c.verbs.is_empty() {
            let verbs: Vec<&str> = c.verbs.iter().map(|v| v.0).collect();
            let _ = writeln!(out, "        {}) echo {} ;;", c.name, sq(&verbs.join(" ")));
        }
    }
    out.push_str("    esac\n}\n\n");
    out.push_str("_postie_operand() {\n    case \"$1 $2\" in\n");
    for c in &ctx {
        for (verb, complete, _) in &c.verbs {
            if !complete.kind.is_empty() {
                let _ = writeln!(
                    out,
                    "        {}) echo {} ;;",
                    sq(&format!("{} {verb}", c.name)),
                    sq(complete.kind)
                );
            }
        }
    }
    out.push_str("    esac\n}\n");
}

const BASH_LOGIC: &str = r#"
# COMP_WORDS with the words bash split at '=' joined again: sets _postie_w and _postie_c.
_postie_words() {
    _postie_w=()
    _postie_c=0
    local i join=
    for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
        local word=${COMP_WORDS[i]}
        if [[ $word == = && ${#_postie_w[@]} -gt 0 && ${_postie_w[-1]} == -* && ${_postie_w[-1]} != *=* ]]; then
            _postie_w[-1]+==
            join=1
        elif [[ -n $join ]]; then
            _postie_w[-1]+=$word
            join=
        else
            _postie_w+=("$word")
        fi
        ((i == COMP_CWORD)) && _postie_c=$((${#_postie_w[@]} - 1))
    done
}

# Account names or queue IDs of the configuration chosen by -C (postie runs no eval for it).
_postie_list() {
    local i file= args=()
    for ((i = 1; i < _postie_c; i++)); do
        case ${_postie_w[i]} in
            -C|--file) file=${_postie_w[i + 1]} ;;
            --file=*) file=${_postie_w[i]#--file=} ;;
            -C?*) file=${_postie_w[i]#-C} ;;
        esac
    done
    file=$(_postie_unquote "$file")
    [[ $file == "~/"* ]] && file=$HOME/${file#"~/"}
    [[ -n $file ]] && args=(-C "$file")
    "${_postie_w[0]}" --complete "$1" "${args[@]}" 2>/dev/null
}

# A word as the shell will pass it ('a b', "a b", a\ b -> a b), without evaluating anything.
_postie_unquote() {
    local s=$1 out= i c
    case $s in
        \'*\') printf '%s' "${s:1:${#s}-2}"; return ;;
        \"*\") s=${s:1:${#s}-2} ;;
    esac
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        if [[ $c == \\ ]]; then
            i=$((i + 1))
            c=${s:i:1}
        fi
        out+=$c
    done
    printf '%s' "$out"
}

# COMPREPLY for the items of a spec ("next file =system") and the text typed so far. Names
# from the configuration are compared as text and inserted quoted: compgen -W would expand
# them ($(...), `...`, globs) and split them at spaces.
_postie_value() {
    local item words=() kind=
    for item in ${1#* }; do
        case $item in
            '='*) words+=("${item#=}") ;;
            account|queue-id) mapfile -t -O ${#words[@]} words < <(_postie_list "${item}s") ;;
            none|next|attached) ;;
            *) kind=$item ;;
        esac
    done
    COMPREPLY=()
    for item in "${words[@]}"; do
        [[ $item == "$2"* ]] && COMPREPLY+=("$(printf '%q' "$item")")
    done
    case $kind in
        file) compopt -o filenames 2>/dev/null; mapfile -t -O ${#COMPREPLY[@]} COMPREPLY < <(compgen -f -- "$2") ;;
        directory) compopt -o filenames 2>/dev/null; mapfile -t -O ${#COMPREPLY[@]} COMPREPLY < <(compgen -d -- "$2") ;;
        command) mapfile -t -O ${#COMPREPLY[@]} COMPREPLY < <(compgen -c -- "$2") ;;
    esac
}

_postie() {
    local _postie_w _postie_c
    _postie_words
    local cur=${_postie_w[_postie_c]} cmd=postie operands=() next= spec i word
    COMPREPLY=()
    for ((i = 1; i < _postie_c; i++)); do
        word=${_postie_w[i]}
        if [[ -n $next ]]; then
            next=
            continue
        fi
        case $word in
            --) [[ $cmd == postie ]] && return 0 ;;
            -*=*) ;;
            -*) [[ $(_postie_option "$cmd" "$word") == next* ]] && next=1 ;;
            *)
                if [[ $cmd == postie && ${#operands[@]} -eq 0 && " $(_postie_verbs postie) " == *" $word "* ]]; then
                    cmd=$word
                else
                    operands+=("$word")
                fi
                ;;
        esac
    done
    if [[ -n $next ]]; then
        _postie_value "$(_postie_option "$cmd" "${_postie_w[_postie_c - 1]}")" "$cur"
    elif [[ $cur == -*=* ]]; then
        spec=$(_postie_option "$cmd" "${cur%%=*}")
        [[ $spec != none && $spec != unknown ]] && _postie_value "$spec" "${cur#*=}"
    elif [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_postie_options "$cmd")" -- "$cur")
    elif [[ $cmd == postie ]]; then
        # A subcommand where it can be one; recipients are the user's to type.
        [[ ${#operands[@]} -eq 0 ]] && mapfile -t COMPREPLY < <(compgen -W "$(_postie_verbs postie)" -- "$cur")
    elif [[ ${#operands[@]} -eq 0 ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_postie_verbs "$cmd")" -- "$cur")
    elif [[ ${#operands[@]} -eq 1 ]]; then
        spec=$(_postie_operand "$cmd" "${operands[0]}")
        [[ -n $spec ]] && _postie_value "next $spec" "$cur"
    fi
    # `--port=` waits for its value: no space after it.
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}

complete -F _postie postie
"#;

fn bash() -> String {
    let mut out = format!(
        "# bash completion for postie                              -*- shell-script -*-\n\
         # {NOTICE}\n\
         # Install as /usr/share/bash-completion/completions/postie.\n\n"
    );
    sh_tables(&mut out);
    out.push_str(BASH_LOGIC);
    out
}

const ZSH_LOGIC: &str = r#"
# Account names or queue IDs of the configuration chosen by -C (postie runs no eval for it).
_postie_list() {
    emulate -L zsh
    local i file=
    for ((i = 2; i < CURRENT; i++)); do
        case ${words[i]} in
            -C|--file) file=${words[i + 1]} ;;
            --file=*) file=${words[i]#--file=} ;;
            -C?*) file=${words[i]#-C} ;;
        esac
    done
    # As the shell will pass it: quotes removed, ~ expanded.
    file=${(Q)file}
    [[ $file == '~/'* ]] && file=$HOME/${file#'~/'}
    if [[ -n $file ]]; then
        ${words[1]} --complete $1 -C $file 2>/dev/null
    else
        ${words[1]} --complete $1 2>/dev/null
    fi
}

# Offer the items of a spec ("next file =system") for the text typed so far.
_postie_value() {
    local item
    local -a values
    for item in ${=1}; do
        case $item in
            '='*) values+=(${item#=}) ;;
            account|queue-id) values+=(${(f)"$(_postie_list ${item}s)"}) ;;
            file) _files ;;
            directory) _files -/ ;;
            command) _command_names -e ;;
        esac
    done
    (( ${#values} )) && compadd -a values
    return 0
}

_postie() {
    local cur=${words[CURRENT]} cmd=postie next= spec i word
    local -a operands names plain equals
    for ((i = 2; i < CURRENT; i++)); do
        word=${words[i]}
        if [[ -n $next ]]; then
            next=
            continue
        fi
        case $word in
            --) [[ $cmd == postie ]] && return 1 ;;
            -*=*) ;;
            -*) [[ $(_postie_option $cmd $word) == next* ]] && next=1 ;;
            *)
                if [[ $cmd == postie && ${#operands} -eq 0 && " $(_postie_verbs postie) " == *" $word "* ]]; then
                    cmd=$word
                else
                    operands+=($word)
                fi
                ;;
        esac
    done
    if [[ -n $next ]]; then
        _postie_value "$(_postie_option $cmd ${words[CURRENT - 1]})"
    elif [[ $cur == -*=* ]]; then
        spec=$(_postie_option $cmd ${cur%%=*})
        if [[ $spec != none && $spec != unknown ]]; then
            compset -P '*='
            _postie_value "$spec"
        fi
    elif [[ $cur == -* ]]; then
        names=(${=$(_postie_options $cmd)})
        equals=(${(M)names:#*=})
        plain=(${names:#*=})
        # `--port=` waits for its value: no space after it.
        (( ${#equals} )) && compadd -S '' -a equals
        (( ${#plain} )) && compadd -a plain
    elif [[ $cmd == postie ]]; then
        (( ${#operands} == 0 )) && compadd ${=$(_postie_verbs postie)}
    elif (( ${#operands} == 0 )); then
        compadd ${=$(_postie_verbs $cmd)}
    elif (( ${#operands} == 1 )); then
        spec=$(_postie_operand $cmd ${operands[1]})
        [[ -n $spec ]] && _postie_value "next $spec"
    fi
    return 0
}

_postie "$@"
"#;

fn zsh() -> String {
    let mut out = format!(
        "#compdef postie\n# zsh completion for postie.\n# {NOTICE}\n\
         # Install as _postie in a directory of $fpath (/usr/share/zsh/vendor-completions).\n\n"
    );
    sh_tables(&mut out);
    out.push_str(ZSH_LOGIC);
    out
}

/// fish: `complete` lines per option, with conditions from small functions that find the
/// subcommand in the command line (skipping options and their arguments as postie does).
fn fish() -> String {
    let ctx = contexts();
    let mut out = format!(
        "# fish completion for postie.\n# {NOTICE}\n\
         # Install as /usr/share/fish/vendor_completions.d/postie.fish.\n\n"
    );
    // The options that take the next word as their argument, per command.
    out.push_str(
        "function __postie_takes_next --argument-names cmd opt\n    switch \"$cmd $opt\"\n",
    );
    let mut next: Vec<String> = Vec::new();
    for c in &ctx {
        for s in &c.options {
            if s.takes == Takes::Required {
                for n in &s.names {
                    next.push(sq(&format!("{} {n}", c.name)));
                }
            }
        }
    }
    let _ = writeln!(out, "        case {}\n            return 0", next.join(" "));
    out.push_str("    end\n    return 1\nend\n\n");
    let verbs = |c: &Context| c.verbs.iter().map(|v| v.0).collect::<Vec<_>>().join(" ");
    let _ = write!(
        out,
        r#"# The command (postie or a subcommand) and its operands so far, one per line.
function __postie_state
    set -l words (commandline -opc)
    set -l cmd postie
    set -l operands
    set -l skip 0
    for word in $words[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $word
            case --
                test $cmd = postie; and set cmd recipients
            case '-*=*'
            case '-*'
                __postie_takes_next $cmd $word; and set skip 1
            case '*'
                if test $cmd = postie; and test (count $operands) = 0; and contains -- $word {}
                    set cmd $word
                else
                    set -a operands $word
                end
        end
    end
    echo $cmd
    for o in $operands
        echo $o
    end
end

# Whether the command is $argv[1] with exactly $argv[2] operands (any number without it).
function __postie_is --argument-names cmd n
    set -l state (__postie_state)
    test "$state[1]" = $cmd; or return 1
    test -z "$n"; or test (math (count $state) - 1) = $n
end

# Whether the operand of verb $argv[2] of command $argv[1] is being typed.
function __postie_operand_of --argument-names cmd verb
    set -l state (__postie_state)
    test "$state[1]" = $cmd; and test (count $state) = 2; and test "$state[2]" = $verb
end

# Account names or queue IDs of the configuration chosen by -C (postie runs no eval for it).
function __postie_list --argument-names what
    set -l words (commandline -opc)
    set -l file
    for i in (seq 2 (count $words))
        switch $words[$i]
            case -C --file
                set file $words[(math $i + 1)]
            case '--file=*'
                set file (string replace -- --file= '' $words[$i])
            case '-C*'
                set file (string sub -s 3 -- $words[$i])
        end
    end
    set file (string replace -r '^~/' "$HOME/" -- $file)
    if test -n "$file"
        $words[1] --complete $what -C $file 2>/dev/null
    else
        $words[1] --complete $what 2>/dev/null
    end
end

complete -c postie -f
"#,
        verbs(&ctx[0])
    );
    for c in &ctx {
        let cond = if c.name == "postie" {
            "__postie_is postie".to_string()
        } else {
            format!("__postie_is {}", c.name)
        };
        for s in &c.options {
            fish_option(&mut out, &cond, s);
        }
        for (verb, complete, text) in &c.verbs {
            let cond0 = format!("{cond} 0");
            let _ = writeln!(
                out,
                "complete -c postie -n {} -a {} -d {}",
                sq(&cond0),
                sq(verb),
                sq(&fish_text(text))
            );
            if !complete.kind.is_empty() {
                let _ = writeln!(
                    out,
                    "complete -c postie -n {} -a {}",
                    sq(&format!("__postie_operand_of {} {verb}", c.name)),
                    sq(&fish_items(complete))
                );
            }
        }
    }
    out
}

/// The `-a` argument list of a completion: words, or a command substitution.
fn fish_items(c: &Complete) -> String {
    let mut items: Vec<String> = c.words.clone();
    match c.kind {
        "account" => items.push("(__postie_list accounts)".into()),
        "queue-id" => items.push("(__postie_list queue-ids)".into()),
        "command" => items.push("(__fish_complete_command)".into()),
        _ => {}
    }
    items.join(" ")
}

fn fish_text(text: &str) -> String {
    // fish shows one short line: the text without its parenthesised asides, cut at a word
    // before 72 characters.
    const MAX: usize = 72;
    let mut plain = String::new();
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let mut t = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    t = t.replace(" :", ":").replace(" ,", ",").replace(" ;", ";");
    if t.chars().count() > MAX {
        let cut: String = t.chars().take(MAX).collect();
        let end = cut.rfind(' ').unwrap_or(cut.len());
        t = format!("{}...", cut[..end].trim_end_matches([',', ';', ':']));
    }
    t.strip_suffix('.').unwrap_or(&t).to_string()
}

fn fish_option(out: &mut String, cond: &str, s: &Spec) {
    let mut flags = String::new();
    for n in &s.names {
        if let Some(long) = n.strip_prefix("--") {
            let _ = write!(flags, " -l {long}");
        } else if n.len() == 2 {
            let _ = write!(flags, " -s {}", &n[1..]);
        } else {
            // -bs, -bp, -odq: old-style options.
            let _ = write!(flags, " -o {}", &n[1..]);
        }
    }
    let desc = sq(&fish_text(&s.text));
    match s.takes {
        Takes::Nothing => {
            let _ = writeln!(out, "complete -c postie -n {}{flags} -d {desc}", sq(cond));
        }
        Takes::Required => {
            // fish completes file names itself with -F, also after `--opt=`.
            let files = matches!(s.complete.kind, "file" | "directory");
            let mut c = s.complete.clone();
            if files {
                c.kind = "";
            }
            let items = fish_items(&c);
            let arg = if items.is_empty() {
                String::new()
            } else {
                format!(" -a {}", sq(&items))
            };
            let mode = if files { "-r -F" } else { "-x" };
            let _ = writeln!(
                out,
                "complete -c postie -n {}{flags} {mode}{arg} -d {desc}",
                sq(cond)
            );
        }
        Takes::Optional => {
            // `--tls` alone, or `--tls=VALUE` in the same word (never a separate word, which
            // postie would take for a recipient).
            let _ = writeln!(out, "complete -c postie -n {}{flags} -d {desc}", sq(cond));
            if let Some(long) = s.names.iter().find(|n| n.starts_with("--")) {
                let values: Vec<String> = s
                    .complete
                    .words
                    .iter()
                    .map(|w| format!("{long}={w}"))
                    .collect();
                if !values.is_empty() {
                    let _ = writeln!(
                        out,
                        "complete -c postie -n {} -a {} -d {desc}",
                        sq(&format!(
                            "{cond}; and string match -q -- '{long}=*' (commandline -ct)"
                        )),
                        sq(&values.join(" "))
                    );
                }
            }
        }
    }
}

/// The completion script for `shell` (bash, zsh or fish).
pub fn script(shell: &str) -> Option<String> {
    match shell {
        "bash" => Some(bash()),
        "zsh" => Some(zsh()),
        "fish" => Some(fish()),
        _ => None,
    }
}

/// `postie --completions SHELL` and `postie --complete WHAT [-C FILE]`: hidden modes for the
/// scripts (not options of postie's option table: they change nothing for msmtp's options,
/// whose prefixes they do not share). `None` when `args` is neither.
pub(super) fn hidden_mode(args: &[String]) -> Option<Result<String>> {
    match args {
        [flag, shell] if flag == "--completions" => Some(script(shell).ok_or_else(|| {
            Error::usage(format!(
                "unknown shell {}: bash, zsh or fish",
                crate::ui::sanitize(shell)
            ))
        })),
        [flag, what, rest @ ..] if flag == "--complete" => {
            let file = match rest {
                [] => None,
                [c, f] if c == "-C" => Some(f.as_str()),
                _ => return Some(Err(Error::usage("--complete WHAT [-C FILE]"))),
            };
            Some(complete_words(what, file).map(|w| {
                w.into_iter().fold(String::new(), |mut s, w| {
                    s.push_str(&w);
                    s.push('\n');
                    s
                })
            }))
        }
        _ => None,
    }
}

/// What the configuration files say, read without running `eval`.
#[derive(Default)]
struct Scan {
    accounts: Vec<String>,
    queue_dirs: Vec<PathBuf>,
}

fn scan(files: &[PathBuf]) -> Scan {
    let mut s = Scan::default();
    let home = paths::home_dir();
    for file in files {
        let Ok(bytes) = crate::fsread::read(file, 1 << 20) else {
            continue;
        };
        for line in String::from_utf8_lossy(&bytes).lines() {
            let marked = crate::config::parse::marked(line);
            match split_line(marked.unwrap_or(line)) {
                Some(("account", arg)) if marked.is_none() => {
                    let name = arg.split(':').next().unwrap_or_default().trim();
                    if !name.is_empty() && !s.accounts.iter().any(|a| a == name) {
                        s.accounts.push(name.to_string());
                    }
                }
                Some(("queue_dir", dir)) if !dir.is_empty() => {
                    let d = PathBuf::from(crate::config::grammar::expand_tilde(dir, &home));
                    if !s.queue_dirs.contains(&d) {
                        s.queue_dirs.push(d);
                    }
                }
                _ => {}
            }
        }
    }
    s
}

/// Account names (`accounts`) or queue IDs (`queue-ids`) for the completions.
fn complete_words(what: &str, config_file: Option<&str>) -> Result<Vec<String>> {
    let user = config_file.map_or_else(paths::default_user_file, PathBuf::from);
    let scan = scan(&[paths::sysconfdir().join("msmtprc"), user]);
    match what {
        "accounts" => Ok(scan.accounts),
        "queue-ids" => {
            let mut dirs = scan.queue_dirs;
            dirs.push(crate::queue::default_dir());
            let mut ids = Vec::new();
            for dir in dirs {
                if let Ok(Some(q)) = crate::queue::Queue::existing(Path::new(&dir)) {
                    ids.extend(q.ids());
                    ids.extend(q.failed_ids());
                }
            }
            ids.dedup();
            Ok(ids)
        }
        _ => Err(Error::usage(format!(
            "unknown word list {}: accounts or queue-ids",
            crate::ui::sanitize(what)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let ctx = contexts();
        let main = &ctx[0];
        let find = |name: &str| {
            main.options
                .iter()
                .find(|s| s.names.iter().any(|n| n == name))
                .unwrap_or_else(|| panic!("{name}"))
        };
        assert_eq!(spec_string(find("-C"), "-C"), "next file");
        assert_eq!(spec_string(find("--tls"), "--tls"), "attached =on =off");
        assert_eq!(
            spec_string(find("--tls-trust-file"), "--tls-trust-file"),
            "next file =system"
        );
        assert_eq!(spec_string(find("-a"), "-a"), "next account");
        assert_eq!(spec_string(find("-q"), "-q"), "attached");
        assert_eq!(spec_string(find("--version"), "--version"), "none");
        assert_eq!(offered(find("--port")), ["--port="]);
        assert_eq!(offered(find("--tls")), ["--tls"]);
        let queue = ctx.iter().find(|c| c.name == "queue").expect("queue");
        assert!(
            queue
                .verbs
                .iter()
                .any(|v| v.0 == "show" && v.1.kind == "queue-id")
        );
    }

    #[test]
    fn the_scan_reads_accounts_and_queue_dirs_without_eval() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rc = dir.path().join("rc");
        std::fs::write(
            &rc,
            "defaults\nqueue_dir /q1\naccount work\nhost h\neval touch /tmp/never-run\n\
             account  private mail : work\n#postie: queue_dir /q2\naccount \"quoted\"\n\
             #postie: account refused\n",
        )
        .expect("write");
        let s = scan(&[rc, dir.path().join("missing")]);
        assert_eq!(s.accounts, ["work", "private mail", "quoted"]);
        assert_eq!(s.queue_dirs, [PathBuf::from("/q1"), PathBuf::from("/q2")]);
    }

    #[test]
    fn hidden_modes() {
        let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        assert!(hidden_mode(&s(&["--completions", "bash"])).is_some_and(|r| r.is_ok()));
        assert!(hidden_mode(&s(&["--completions", "csh"])).is_some_and(|r| r.is_err()));
        assert!(hidden_mode(&s(&["--completions"])).is_none());
        assert!(hidden_mode(&s(&["--complete", "x"])).is_some_and(|r| r.is_err()));
        assert!(hidden_mode(&s(&["-t", "--completions", "bash"])).is_none());
    }
}
