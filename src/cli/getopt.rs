//! A GNU `getopt_long` work-alike. msmtp's users depend on its exact parsing model (argument
//! permutation, unambiguous prefixes of long options, `--opt=value` being the only way to give an
//! optional argument, `-oi` swallowing `i` as the argument of `-o`), and on glibc's diagnostics.
//! No argument-parsing crate reproduces all of that, so this is a small table-driven parser.

/// Whether an option takes an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HasArg {
    No,
    Required,
    Optional,
}

/// One long option: its name, argument rule and the identifier the caller matches on.
#[derive(Clone, Copy, Debug)]
pub struct LongOpt<Id: Copy> {
    pub name: &'static str,
    pub has_arg: HasArg,
    pub id: Id,
}

/// What the parser found, in command-line order.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<Id> {
    /// An option with its argument, if any.
    Opt(Id, Option<String>),
    /// A non-option argument (an operand).
    Operand(String),
}

/// Parse `args` (without argv[0]). `short` maps a short option letter to its id and argument
/// rule. On error, returns glibc's diagnostic without the `PROGRAM: ` prefix, and the items
/// parsed before it (the caller acts on them in order, as msmtp does).
pub fn parse<Id: Copy + PartialEq>(
    args: &[String],
    short: &dyn Fn(char) -> Option<(Id, HasArg)>,
    long: &[LongOpt<Id>],
    posixly_correct: bool,
) -> (Vec<Item<Id>>, Option<String>) {
    let mut items = Vec::new();
    let mut operands = Vec::new();
    let mut i = 0;
    let mut error = None;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(body) = arg.strip_prefix("--") {
            match parse_long(body, long, args, &mut i) {
                Ok(item) => items.push(item),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        } else if arg.len() > 1 && arg.starts_with('-') {
            if let Err(e) = parse_short_cluster(&arg[1..], short, args, &mut i, &mut items) {
                error = Some(e);
                break;
            }
        } else if posixly_correct {
            operands.push(arg.clone());
            operands.extend(args[i..].iter().cloned());
            break;
        } else {
            operands.push(arg.clone());
        }
    }
    if error.is_none() {
        items.extend(operands.into_iter().map(Item::Operand));
    }
    (items, error)
}

fn parse_long<Id: Copy + PartialEq>(
    body: &str,
    long: &[LongOpt<Id>],
    args: &[String],
    next: &mut usize,
) -> Result<Item<Id>, String> {
    let (name, value) = match body.split_once('=') {
        Some((n, v)) => (n, Some(v.to_owned())),
        None => (body, None),
    };
    let found = match long.iter().find(|o| o.name == name) {
        Some(o) => o,
        None => {
            let candidates: Vec<&LongOpt<Id>> =
                long.iter().filter(|o| o.name.starts_with(name)).collect();
            let Some(&first) = candidates.first() else {
                return Err(format!("unrecognized option '--{body}'"));
            };
            // glibc only calls a prefix ambiguous when the candidates would act differently.
            if candidates
                .iter()
                .any(|o| o.id != first.id || o.has_arg != first.has_arg)
            {
                let list: String = candidates
                    .iter()
                    .map(|o| format!(" '--{}'", o.name))
                    .collect();
                return Err(format!(
                    "option '--{body}' is ambiguous; possibilities:{list}"
                ));
            }
            first
        }
    };
    match (found.has_arg, value) {
        (HasArg::No, Some(_)) => Err(format!(
            "option '--{}' doesn't allow an argument",
            found.name
        )),
        (HasArg::No, None) => Ok(Item::Opt(found.id, None)),
        (HasArg::Optional, v) => Ok(Item::Opt(found.id, v)),
        (HasArg::Required, Some(v)) => Ok(Item::Opt(found.id, Some(v))),
        (HasArg::Required, None) => match args.get(*next) {
            Some(v) => {
                *next += 1;
                Ok(Item::Opt(found.id, Some(v.clone())))
            }
            None => Err(format!("option '--{}' requires an argument", found.name)),
        },
    }
}

fn parse_short_cluster<Id: Copy>(
    cluster: &str,
    short: &dyn Fn(char) -> Option<(Id, HasArg)>,
    args: &[String],
    next: &mut usize,
    items: &mut Vec<Item<Id>>,
) -> Result<(), String> {
    for (pos, c) in cluster.char_indices() {
        let Some((id, has_arg)) = short(c) else {
            return Err(format!("invalid option -- '{c}'"));
        };
        let rest = &cluster[pos + c.len_utf8()..];
        match has_arg {
            HasArg::No => items.push(Item::Opt(id, None)),
            HasArg::Optional => {
                items.push(Item::Opt(id, (!rest.is_empty()).then(|| rest.to_owned())));
                return Ok(());
            }
            HasArg::Required => {
                if !rest.is_empty() {
                    items.push(Item::Opt(id, Some(rest.to_owned())));
                } else if let Some(v) = args.get(*next) {
                    *next += 1;
                    items.push(Item::Opt(id, Some(v.clone())));
                } else {
                    return Err(format!("option requires an argument -- '{c}'"));
                }
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: &[LongOpt<&str>] = &[
        LongOpt {
            name: "timeout",
            has_arg: HasArg::Required,
            id: "timeout",
        },
        LongOpt {
            name: "tls",
            has_arg: HasArg::Optional,
            id: "tls",
        },
        LongOpt {
            name: "tls-starttls",
            has_arg: HasArg::Optional,
            id: "tls-starttls",
        },
        LongOpt {
            name: "pretend",
            has_arg: HasArg::No,
            id: "P",
        },
        LongOpt {
            name: "account",
            has_arg: HasArg::Required,
            id: "a",
        },
    ];

    fn short(c: char) -> Option<(&'static str, HasArg)> {
        match c {
            't' => Some(("t", HasArg::No)),
            'P' => Some(("P", HasArg::No)),
            'o' => Some(("o", HasArg::Required)),
            'd' => Some(("d", HasArg::Optional)),
            'a' => Some(("a", HasArg::Required)),
            _ => None,
        }
    }

    fn run(args: &[&str]) -> (Vec<Item<&'static str>>, Option<String>) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(&args, &short, LONG, false)
    }

    fn opt(id: &'static str, v: Option<&str>) -> Item<&'static str> {
        Item::Opt(id, v.map(str::to_owned))
    }

    #[test]
    fn operands_are_permuted_after_options() {
        let (items, err) = run(&["r@x", "-t", "s@y"]);
        assert_eq!(err, None);
        assert_eq!(
            items,
            vec![
                opt("t", None),
                Item::Operand("r@x".into()),
                Item::Operand("s@y".into())
            ]
        );
    }

    #[test]
    fn posixly_correct_stops_at_first_operand() {
        let args: Vec<String> = ["r@x", "-t"].iter().map(|s| s.to_string()).collect();
        let (items, _) = parse(&args, &short, LONG, true);
        assert_eq!(
            items,
            vec![Item::Operand("r@x".into()), Item::Operand("-t".into())]
        );
    }

    #[test]
    fn double_dash_ends_options() {
        let (items, _) = run(&["--", "-t"]);
        assert_eq!(items, vec![Item::Operand("-t".into())]);
    }

    #[test]
    fn grouped_sendmail_flags_swallow_the_rest() {
        let (items, _) = run(&["-oi", "-o", "em", "-tP"]);
        assert_eq!(
            items,
            vec![
                opt("o", Some("i")),
                opt("o", Some("em")),
                opt("t", None),
                opt("P", None)
            ]
        );
    }

    #[test]
    fn optional_short_argument_must_be_attached() {
        let (items, _) = run(&["-d0.1", "-d", "x"]);
        assert_eq!(
            items,
            vec![
                opt("d", Some("0.1")),
                opt("d", None),
                Item::Operand("x".into())
            ]
        );
    }

    #[test]
    fn optional_long_argument_needs_equals() {
        let (items, _) = run(&["--tls", "on", "--tls=off"]);
        assert_eq!(
            items,
            vec![
                opt("tls", None),
                opt("tls", Some("off")),
                Item::Operand("on".into())
            ]
        );
    }

    #[test]
    fn unambiguous_prefix_is_accepted() {
        let (items, err) = run(&["--acc=x", "--ti", "5", "--pre"]);
        assert_eq!(err, None);
        assert_eq!(
            items,
            vec![
                opt("a", Some("x")),
                opt("timeout", Some("5")),
                opt("P", None)
            ]
        );
    }

    #[test]
    fn exact_match_beats_longer_candidates() {
        let (items, err) = run(&["--tls"]);
        assert_eq!(err, None);
        assert_eq!(items, vec![opt("tls", None)]);
    }

    #[test]
    fn glibc_diagnostics() {
        assert_eq!(
            run(&["--foo=bar"]).1.unwrap(),
            "unrecognized option '--foo=bar'"
        );
        assert_eq!(
            run(&["--t"]).1.unwrap(),
            "option '--t' is ambiguous; possibilities: '--timeout' '--tls' '--tls-starttls'"
        );
        assert_eq!(
            run(&["--pre=x"]).1.unwrap(),
            "option '--pretend' doesn't allow an argument"
        );
        assert_eq!(
            run(&["--acc"]).1.unwrap(),
            "option '--account' requires an argument"
        );
        assert_eq!(run(&["-e"]).1.unwrap(), "invalid option -- 'e'");
        assert_eq!(
            run(&["-a"]).1.unwrap(),
            "option requires an argument -- 'a'"
        );
    }

    #[test]
    fn required_argument_may_start_with_a_dash() {
        let (items, _) = run(&["-a", "-P"]);
        assert_eq!(items, vec![opt("a", Some("-P"))]);
    }

    #[test]
    fn lone_dash_is_an_operand() {
        let (items, _) = run(&["-"]);
        assert_eq!(items, vec![Item::Operand("-".into())]);
    }
}
