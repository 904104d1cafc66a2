//! `postie`: a sendmail that is a drop-in for msmtp. All logic lives in the library; this only
//! hands argv over and turns the result into the process exit status.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(postie::app::run(std::env::args_os().collect()))
}
