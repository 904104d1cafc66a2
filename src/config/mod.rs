//! msmtprc files (msmtp.md section 2).
