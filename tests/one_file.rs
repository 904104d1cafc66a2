//! One msmtprc for msmtp and postie: postie's own commands behind `#postie:` are comments to
//! msmtp 1.8.23 (which refuses them as ordinary lines) and commands to postie, in the section
//! they stand in. The differential suite checks that both programs read such a file the same
//! way (`cfg_postie_marker_lines_*`); these tests check what only postie does with the lines.

mod support;

use std::path::Path;
use support::program::{Home, Options};
use support::server::ServerBuilder;

const MSMTP: &str = "/usr/bin/msmtp";

const MAIL: &[u8] = b"From: Olga <o@example.com>\nTo: r@x.org\nSubject: s\n\nbody\n";

/// Two accounts; the mail's From header is `other`'s address.
fn rc(default_port: u16, other_port: u16, markers: bool) -> String {
    let m = if markers { "" } else { "# " };
    format!(
        "defaults\n  {m}#postie: select_account_by_from off\n\n\
         account other\nhost 127.0.0.1\nport {other_port}\nfrom o@example.com\n\n\
         account default\nhost 127.0.0.1\nport {default_port}\nfrom sender@example.com\n\
         \t{m}#postie:queue on\n"
    )
}

fn msmtp(home: &Home, args: &[&str], stdin: &[u8]) -> Option<support::program::Run> {
    Path::new(MSMTP)
        .exists()
        .then(|| home.run_with(args, stdin, &Options::default().program(MSMTP)))
}

#[test]
fn postie_applies_the_marked_commands_in_their_sections() {
    // The default account's server is down; the From header names account `other`.
    let down = ServerBuilder::smtp().no_listen().start();
    let other = ServerBuilder::smtp().start();
    let home = Home::new(&rc(down.port(), other.port(), true));

    // msmtp reads the file (the marked lines are comments): the default account, refused.
    if let Some(r) = msmtp(&home, &["r@x.org"], MAIL) {
        assert_eq!(r.code, 75, "{}", r.stderr);
    }
    // postie: `select_account_by_from off` keeps the default account, whose `queue on` keeps
    // the mail when its server cannot be reached.
    let r = home.feed(&["r@x.org"], MAIL);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let listing = home.run(&["-bp"], b"");
    assert!(
        listing.stdout.contains("(1 request)") && listing.stdout.contains("<r@x.org>"),
        "{}",
        listing.stdout
    );
    assert!(
        other.finish().is_empty(),
        "account other was not to be used"
    );
    drop(down);
}

#[test]
fn without_the_marker_the_lines_are_comments_for_postie_too() {
    let down = ServerBuilder::smtp().no_listen().start();
    let other = ServerBuilder::smtp().start();
    let home = Home::new(&rc(down.port(), other.port(), false));
    // `# #postie: ...` is an ordinary comment: the From header chooses account other.
    let r = home.feed(&["r@x.org"], MAIL);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sessions = other.finish();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].mail_from.as_deref(), Some("<o@example.com>"));
}

#[test]
fn the_same_file_as_ordinary_lines_is_refused_by_msmtp() {
    // Why the marker exists: msmtp 1.8.23 stops at the first command it does not know.
    let home = Home::new("account default\nhost h.example\nfrom a@example.com\nqueue on\n");
    if let Some(r) = msmtp(&home, &["-P", "r@x.org"], b"") {
        assert_eq!(r.code, 78);
        assert!(
            r.stderr.contains("line 4: unknown command queue"),
            "{}",
            r.stderr
        );
    }
    let home =
        Home::new("account default\nhost h.example\nfrom a@example.com\n#postie: queue on\n");
    if let Some(r) = msmtp(&home, &["-P", "r@x.org"], b"") {
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let r = home.run(&["-P", "r@x.org"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn a_mistake_behind_the_marker_is_reported_with_its_line() {
    let home = Home::new("account default\nhost h.example\nfrom a@example.com\n#postie: qeue on\n");
    let r = home.run(&["-P", "r@x.org"], b"");
    assert_eq!(r.code, 78);
    assert!(
        r.stderr.contains(".msmtprc: line 4: unknown command qeue"),
        "{}",
        r.stderr
    );
    let home = Home::new("account default\nhost h.example\n#postie: account x\nfrom a@x\n");
    let r = home.run(&["-P", "r@x.org"], b"");
    assert_eq!(r.code, 78);
    assert!(
        r.stderr
            .contains("line 3: command account cannot follow #postie:"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_marked_command_before_any_section_is_refused_unless_it_is_a_file_switch() {
    // For msmtp the line is a comment and the file has accounts a and default; for postie it
    // would have started an account default of its own, which the later line then redefines.
    let rc =
        "#postie: queue on\naccount a\nhost 127.0.0.1\nfrom f@x.example\naccount default : a\n";
    let home = Home::new(rc);
    if let Some(r) = msmtp(&home, &["-P", "-a", "a", "r@x.org"], b"") {
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let r = home.run(&["-P", "-a", "a", "r@x.org"], b"");
    assert_eq!(r.code, 78, "{}", r.stdout);
    assert!(
        r.stderr.contains(
            "line 1: command queue after #postie: must follow a defaults or account line"
        ),
        "{}",
        r.stderr
    );
    // Whole-file switches may stand anywhere, also there.
    let rc = rc.replace("#postie: queue on", "#postie: select_account_by_from off");
    let home = Home::new(&rc);
    let r = home.run(&["-P", "-a", "a", "r@x.org"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
}
