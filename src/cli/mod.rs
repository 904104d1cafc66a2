//! The command line (msmtp.md section 1).
