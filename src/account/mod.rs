//! Account selection (msmtp.md section 3), derived settings and validation (2.6), and the `-P`
//! settings listing (1.6). Input is the merged [`crate::config::Config`] plus what the command
//! line and the mail say; output is one resolved [`Account`].

pub mod finalize;
pub mod pretend;
pub mod resolve;
pub mod select;

pub use crate::config::Account;
pub use finalize::{check_account, finalize};
pub use pretend::describe;
pub use select::{Request, Selected, from_matches, glob_match, select, select_collecting};
