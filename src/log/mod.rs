//! The log line (msmtp.md section 8).
