//! The words after one of postie's own subcommands (`check`, `unlock`/`lock`, `oauth2`): options
//! written `--name VALUE` or `--name=VALUE`, as getopt reads long options, with the
//! subcommand's usage error when a value is missing.

use crate::error::Error;

pub(super) struct Words<'a> {
    args: &'a [String],
    next: usize,
    usage: &'a dyn Fn(String) -> Error,
}

impl<'a> Words<'a> {
    pub(super) fn new(args: &'a [String], usage: &'a dyn Fn(String) -> Error) -> Words<'a> {
        Words {
            args,
            next: 0,
            usage,
        }
    }

    /// The next word.
    pub(super) fn next_word(&mut self) -> Option<&'a str> {
        let w = self.args.get(self.next)?;
        self.next += 1;
        Some(w)
    }

    /// The value of `arg` when it is one of `names` (taking the next word for `--name VALUE`);
    /// `None` when it is another word.
    pub(super) fn value(&mut self, arg: &str, names: &[&str]) -> Option<Result<String, Error>> {
        for name in names {
            if let Some(v) = arg
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
            {
                return Some(Ok(v.to_owned()));
            }
            if arg == *name {
                return Some(
                    self.next_word()
                        .map(str::to_owned)
                        .ok_or_else(|| (self.usage)(format!("option {name} needs an argument"))),
                );
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_after_an_equals_sign_or_as_the_next_word() {
        let args: Vec<String> = ["-C", "rc", "--account=a", "--for", "x"]
            .map(String::from)
            .to_vec();
        let usage = |w: String| Error::usage(w);
        let mut w = Words::new(&args[..4], &usage);
        let mut got = Vec::new();
        while let Some(arg) = w.next_word() {
            match w.value(arg, &["-C", "--file", "-a", "--account", "--for"]) {
                Some(Ok(v)) => got.push(v),
                Some(Err(e)) => got.push(format!("error: {}", e.message)),
                None => got.push(format!("word {arg}")),
            }
        }
        assert_eq!(got, ["rc", "a", "error: option --for needs an argument"]);
        assert!(w.value("--fork", &["--for"]).is_none());
    }
}
