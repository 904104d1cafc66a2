//! Account selection (msmtp.md section 3), derived settings and validation (2.6), and the `-P` settings listing (1.6).
