//! Passwords: passwordeval, netrc, tty prompt (msmtp.md section 4).
