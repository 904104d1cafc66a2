//! Alias expansion for local recipients (`aliases FILE`, msmtp.md 5.7).
//!
//! The file format, limits and error texts are msmtp's. The expansion itself is the intended
//! one, not msmtp's: every local recipient is expanded and the expansion keeps the order of
//! the alias list (msmtp 1.8.23 inserts an expansion in reverse order and skips the recipient
//! right after an expanded alias). Empty list items (`root: a@x,`) are dropped instead of
//! becoming an empty recipient. Aliases only change the envelope, never the headers.

use crate::error::{Error, Result};
use crate::fsread;
use crate::sys;
use crate::ui::sanitize;
use std::collections::HashSet;
use std::path::Path;

/// The largest aliases file postie reads. A system-wide one with thousands of entries is a
/// few hundred kilobytes.
pub const MAX_FILE_SIZE: usize = fsread::MIB;

/// msmtp reads lines with a 512-byte buffer: a line that fills 511 bytes is an error.
const MAX_LINE: usize = 511;
/// At most this many comma-separated items of one alias are honoured.
const MAX_ITEMS: usize = 32;
/// Nesting deeper than this is reported as a loop.
const MAX_DEPTH: usize = 16;
/// The most list items one recipient's expansion may visit (so also the most addresses it
/// may give). 32 items on each of 16 levels would allow 32^16; real lists expand to hundreds,
/// and servers take at most about a thousand recipients per message (Postfix's
/// `smtpd_recipient_limit`).
const MAX_EXPANSION: usize = 10_000;

/// Why an expansion stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// Nested deeper than [`MAX_DEPTH`] (msmtp's loop error).
    Depth,
    /// More than [`MAX_EXPANSION`] items.
    Size,
}

/// Replace every recipient without '@' by its alias expansion from `file`. The file is opened
/// only if such a recipient exists. Errors have msmtp's texts (`FILE: ...`) and exit 78.
pub fn expand(file: &Path, recipients: Vec<String>) -> Result<Vec<String>> {
    if !recipients.iter().any(|r| is_local(r.as_bytes())) {
        return Ok(recipients);
    }
    let fail = |msg: String| Error::config(format!("{}: {}", file.display(), sanitize(&msg)));
    // Like fopen(): opening succeeds for a directory, and reading it then is an input error.
    let f = std::fs::File::open(file).map_err(|e| fail(sys::io_error_text(&e)))?;
    let data =
        fsread::read_capped(f, MAX_FILE_SIZE).map_err(|_| fail("input error".to_string()))?;
    // msmtp reads line by line, so an error before the limit is the one it would report
    // (`aliases /dev/zero` fails with its line-length error); only a file that is fine that
    // far is refused for its size.
    let table = parse(data.whole_lines()).map_err(fail)?;
    if data.over {
        return Err(fail(
            fsread::TooLarge {
                limit: MAX_FILE_SIZE,
            }
            .to_string(),
        ));
    }
    expand_with(&table, recipients).map_err(fail)
}

/// [`expand`] on the contents of an aliases file instead of its path; errors are the texts
/// [`expand`] puts after `FILE: `. For the fuzz targets and property tests.
#[doc(hidden)]
pub fn expand_data(
    data: &[u8],
    recipients: Vec<String>,
) -> std::result::Result<Vec<String>, String> {
    if !recipients.iter().any(|r| is_local(r.as_bytes())) {
        return Ok(recipients);
    }
    expand_with(&parse(data)?, recipients)
}

fn expand_with(table: &Table, recipients: Vec<String>) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(recipients.len());
    for r in recipients {
        if is_local(r.as_bytes()) {
            let mut expanded = Vec::new();
            match table.expand(r.as_bytes(), 0, &mut expanded, &mut 0) {
                Ok(()) => {}
                Err(Stop::Depth) => {
                    return Err(format!("Too many redirects when expanding alias {r}."));
                }
                Err(Stop::Size) => {
                    return Err(format!("Too many recipients when expanding alias {r}."));
                }
            }
            out.extend(
                expanded
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned()),
            );
        } else {
            out.push(r);
        }
    }
    Ok(out)
}

/// A local name: non-empty and without '@'.
fn is_local(s: &[u8]) -> bool {
    !s.is_empty() && !s.contains(&b'@')
}

/// C `isspace` in the C locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&c| !is_c_space(c)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&c| !is_c_space(c))
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

struct Table {
    entries: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
}

impl Table {
    fn find(&self, name: &[u8]) -> Option<&[Vec<u8>]> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, list)| list.as_slice())
    }

    /// Append the expansion of `name` to `out`; an error if nesting is too deep or the
    /// expansion too large. An unknown name uses the `default` alias, else stays as it is.
    /// `visited` counts the list items seen so far, empty ones included: a tree of aliases
    /// whose leaves are empty gives no address but would still take exponential time.
    fn expand(
        &self,
        name: &[u8],
        depth: usize,
        out: &mut Vec<Vec<u8>>,
        visited: &mut usize,
    ) -> Result<(), Stop> {
        if depth > MAX_DEPTH {
            return Err(Stop::Depth);
        }
        let Some(list) = self.find(name).or_else(|| self.find(b"default")) else {
            out.push(name.to_vec());
            return Ok(());
        };
        for item in list {
            *visited += 1;
            if *visited > MAX_EXPANSION {
                return Err(Stop::Size);
            }
            if item.is_empty() {
                continue;
            }
            if !is_local(item) {
                out.push(item.clone());
            } else {
                self.expand(item, depth + 1, out, visited)?;
            }
        }
        Ok(())
    }
}

/// Parse the aliases file; errors are `line N: ...` texts.
fn parse(data: &[u8]) -> std::result::Result<Table, String> {
    let mut entries: Vec<(Vec<u8>, Vec<Vec<u8>>)> = Vec::new();
    // A set, so that the duplicate check of a large file does not take quadratic time.
    let mut names: HashSet<&[u8]> = HashSet::new();
    for (i, line) in data.split_inclusive(|&b| b == b'\n').enumerate() {
        let lnum = i + 1;
        if line.len() >= MAX_LINE {
            return Err(format!("line {lnum}: longer than {MAX_LINE} characters"));
        }
        // C string semantics: the line ends at a NUL byte.
        let line = line.split(|&b| b == 0).next().unwrap_or_default();
        let content = trim(line.split(|&b| b == b'#').next().unwrap_or_default());
        if content.is_empty() {
            continue;
        }
        let parts: Vec<&[u8]> = content.split(|&b| b == b':').collect();
        if parts.len() != 2 {
            return Err(format!("line {lnum}: single ':' delimiter expected"));
        }
        let name = trim(parts[0]);
        if !is_local(name) {
            return Err(format!("line {lnum}: invalid alias '{}'", text(name)));
        }
        if !names.insert(name) {
            return Err(format!("line {lnum}: duplicate alias '{}'", text(name)));
        }
        let items = parts[1]
            .split(|&b| b == b',')
            .take(MAX_ITEMS)
            .map(|s| trim(s).to_vec());
        entries.push((name.to_vec(), items.collect()));
    }
    Ok(Table { entries })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Sysexit;
    use std::io::Write;

    fn file(content: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("tempfile");
        f.write_all(content).expect("write");
        f
    }

    fn v(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn err(content: &[u8], rcpts: &[&str]) -> String {
        let f = file(content);
        let e = expand(f.path(), v(rcpts)).expect_err("should fail");
        assert_eq!(e.exit, Sysexit::Config);
        let prefix = format!("{}: ", f.path().display());
        e.message
            .strip_prefix(&prefix)
            .expect("FILE: prefix")
            .to_string()
    }

    #[test]
    fn file_not_opened_without_local_recipients() {
        let r = expand(Path::new("/nonexistent/aliases"), v(&["a@x", "b@y"])).expect("ok");
        assert_eq!(r, v(&["a@x", "b@y"]));
    }

    #[test]
    fn missing_file_gives_strerror() {
        let e = expand(Path::new("/nonexistent/aliases"), v(&["root"])).expect_err("fails");
        assert_eq!(e.message, "/nonexistent/aliases: No such file or directory");
        assert_eq!(e.exit, Sysexit::Config);
    }

    #[test]
    fn directory_gives_input_error() {
        let d = tempfile::tempdir().expect("dir");
        let e = expand(d.path(), v(&["root"])).expect_err("fails");
        assert_eq!(e.message, format!("{}: input error", d.path().display()));
    }

    #[test]
    fn expansion_keeps_order_and_expands_every_recipient() {
        let f = file(b"# comment\nroot: joe@x, bob\nbob: bob@y, b2@y # trailing\n\nadmin: root\n");
        let r = expand(f.path(), v(&["root", "admin", "c@z", "bob"])).expect("ok");
        assert_eq!(
            r,
            v(&[
                "joe@x", "bob@y", "b2@y", "joe@x", "bob@y", "b2@y", "c@z", "bob@y", "b2@y"
            ])
        );
    }

    #[test]
    fn default_alias_catches_unknown_names() {
        let f = file(b"default: catch@x\nroot: r@x\n");
        let r = expand(f.path(), v(&["root", "nobody", "a@b"])).expect("ok");
        assert_eq!(r, v(&["r@x", "catch@x", "a@b"]));
        let f = file(b"root: r@x\n");
        let r = expand(f.path(), v(&["nobody"])).expect("ok");
        assert_eq!(r, v(&["nobody"]));
    }

    #[test]
    fn matching_is_case_sensitive() {
        let f = file(b"root: r@x\n");
        let r = expand(f.path(), v(&["Root"])).expect("ok");
        assert_eq!(r, v(&["Root"]));
    }

    #[test]
    fn loops_report_too_many_redirects() {
        let m = err(b"a: b\nb: a\n", &["x@y", "a"]);
        assert_eq!(m, "Too many redirects when expanding alias a.");
    }

    #[test]
    fn default_pointing_to_unknown_local_name_loops() {
        // observed with msmtp 1.8.23: the unknown name falls back to default again
        let m = err(b"default: postmaster\n", &["nobody"]);
        assert_eq!(m, "Too many redirects when expanding alias nobody.");
    }

    #[test]
    fn depth_limit_is_sixteen_levels() {
        let mut chain = String::new();
        for i in 0..16 {
            chain.push_str(&format!("a{i}: a{}\n", i + 1));
        }
        chain.push_str("a16: end@x\n");
        let f = file(chain.as_bytes());
        assert_eq!(expand(f.path(), v(&["a0"])).expect("ok"), v(&["end@x"]));
        chain.push_str("z: a0\n");
        let f = file(chain.as_bytes());
        assert!(expand(f.path(), v(&["z"])).is_err());
    }

    #[test]
    fn parse_errors_have_msmtp_texts() {
        assert_eq!(
            err(b"ok: a@x\nbad line\n", &["ok"]),
            "line 2: single ':' delimiter expected"
        );
        assert_eq!(
            err(b"a: b: c\n", &["a"]),
            "line 1: single ':' delimiter expected"
        );
        assert_eq!(err(b"a@x: b\n", &["a"]), "line 1: invalid alias 'a@x'");
        assert_eq!(err(b" : b\n", &["a"]), "line 1: invalid alias ''");
        assert_eq!(
            err(b"a: b@x\n\na: c@x\n", &["a"]),
            "line 3: duplicate alias 'a'"
        );
        assert_eq!(
            err(b"a\x01b@c: d\n", &["a"]),
            "line 1: invalid alias 'a?b@c'"
        );
    }

    #[test]
    fn long_lines_are_rejected() {
        let mut ok = format!("a: {}\n", "x".repeat(506)).into_bytes();
        assert_eq!(ok.len(), 510);
        let f = file(&ok);
        assert!(expand(f.path(), v(&["a"])).is_ok());
        ok.insert(3, b'y');
        assert_eq!(err(&ok, &["a"]), "line 1: longer than 511 characters");
    }

    #[test]
    fn at_most_32_items() {
        let items: Vec<String> = (0..40).map(|i| format!("u{i}@x")).collect();
        let f = file(format!("big: {}\n", items.join(",")).as_bytes());
        let r = expand(f.path(), v(&["big"])).expect("ok");
        assert_eq!(r, items[..32].to_vec());
    }

    #[test]
    fn empty_items_are_dropped() {
        let f = file(b"root: a@x, , b@x,\n");
        assert_eq!(
            expand(f.path(), v(&["root"])).expect("ok"),
            v(&["a@x", "b@x"])
        );
    }

    #[test]
    fn endless_files_stop_at_the_line_limit() {
        for dev in ["/dev/zero", "/dev/urandom"] {
            let e = expand(Path::new(dev), v(&["root"])).expect_err(dev);
            assert_eq!(e.exit, Sysexit::Config);
            assert!(
                e.message.starts_with(&format!("{dev}: line ")),
                "{}",
                e.message
            );
        }
        let e = expand(Path::new("/dev/zero"), v(&["root"])).expect_err("zero");
        assert_eq!(e.message, "/dev/zero: line 1: longer than 511 characters");
        let r = expand(Path::new("/dev/null"), v(&["root"])).expect("empty file");
        assert_eq!(r, v(&["root"]));
    }

    #[test]
    fn files_over_the_limit_are_refused_after_their_first_error() {
        let mut ok = Vec::new();
        let mut i = 0;
        while ok.len() < MAX_FILE_SIZE - 40 {
            ok.extend_from_slice(format!("name{i}: user{i}@example.org\n").as_bytes());
            i += 1;
        }
        let f = file(&ok);
        assert_eq!(
            expand(f.path(), v(&["name7"])).expect("ok"),
            v(&["user7@example.org"])
        );
        let mut big = ok.clone();
        big.extend_from_slice(b"# one more line takes it over the limit\n");
        assert_eq!(
            err(&big, &["root"]),
            "file is too large (over 1048576 bytes)"
        );
        let mut bad = b"root\n".to_vec();
        bad.extend_from_slice(&big);
        assert_eq!(
            err(&bad, &["root"]),
            "line 1: single ':' delimiter expected"
        );
    }

    #[test]
    fn binary_content_does_not_panic() {
        let f = file(b"\xff\xfe: \xc3@x\n\0junk\n");
        let r = expand(f.path(), v(&["\u{fffd}"])).expect("ok");
        assert_eq!(r, v(&["\u{fffd}"]));
    }

    /// Each level may list 32 names, so six levels of a 200-byte file name 32^6 (10^9)
    /// addresses: the expansion must stop early instead of taking all memory and minutes.
    #[test]
    fn expansion_that_multiplies_is_refused_quickly() {
        let mut text = String::new();
        for level in 0..6 {
            let next = vec![format!("l{}", level + 1); 32].join(",");
            text.push_str(&format!("l{level}: {next}\n"));
        }
        text.push_str("l6: end@x\n");
        let start = std::time::Instant::now();
        let e = expand_data(text.as_bytes(), v(&["l0"])).expect_err("refused");
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(e, "Too many recipients when expanding alias l0.");
        // The same tree with empty leaves gives no address, but would take as long.
        let empty = text.replace("l6: end@x", "l6: ,,,");
        let e = expand_data(empty.as_bytes(), v(&["l0"])).expect_err("refused");
        assert_eq!(e, "Too many recipients when expanding alias l0.");
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
        // A large but sane expansion still works: 32 * 32 addresses.
        let ok = "a: b,b,b,b,b,b,b,b,b,b,b,b,b,b,b,b,b,b,b,b,b,b,b,b,b,b,b,b,b,b,b,b\n\
                  b: c@x,c@x,c@x,c@x,c@x,c@x,c@x,c@x,c@x,c@x,c@x,c@x,c@x,c@x,c@x,c@x,\
                  c@x,c@x,c@x,c@x,c@x,c@x,c@x,c@x,c@x,c@x,c@x,c@x,c@x,c@x,c@x,c@x\n";
        assert_eq!(
            expand_data(ok.as_bytes(), v(&["a"])).expect("ok").len(),
            1024
        );
    }
}
