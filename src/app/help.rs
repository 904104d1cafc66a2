//! The texts of `--version` and `--help`.

use crate::config;

pub(super) fn version_text() -> String {
    format!(
        "postie version {} (msmtp 1.8.23 compatible)\n\
         Platform: {}-{}\n\
         TLS/SSL library: rustls\n\
         Authentication library: built-in\n\
         Supported authentication methods:\n\
         plain scram-sha-1 scram-sha-256 external cram-md5 login oauthbearer xoauth2 \n\
         System configuration file name: {}\n\
         User configuration file name: {}\n\
         \n\
         This is free software; there is NO WARRANTY, to the extent permitted by law.\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS,
        config::paths::sysconfdir().join("msmtprc").display(),
        config::paths::default_user_file().display(),
    )
}

pub(super) fn help_text(prog: &str) -> String {
    format!(
        "Usage:\n\n\
Sendmail mode (default):\n  {prog} [option...] [--] recipient...\n  {prog} [option...] -t [--] [recipient...]\n  Read a mail from standard input and transmit it to an SMTP or LMTP server.\n\
Options:\n  --version                    print version\n  --help                       print help\n  -P, --pretend                print configuration info and exit\n  -d, --debug, -v              print debugging information\n\
Changing the mode of operation:\n  -S, --serverinfo             print information about the server\n  --rmqs=host|@domain|#queue   send a Remote Message Queue Starting request\n\
Configuration options:\n  -C, --file=filename          set configuration file\n  -a, --account=id             use the given account instead of the account\n                               named \"default\"; its settings may be changed\n                               with command-line options\n  --host=hostname              set the server, use only command-line settings;\n                               do not use any configuration file data\n  --port=number                set port number\n  --source-ip=[IP]             set/unset source ip address to bind the socket to\n  --proxy-host=[IP|hostname]   set/unset proxy\n  --proxy-port=[number]        set/unset proxy port\n  --socket=[socketname]        set/unset local socket to connect to\n  --timeout=(off|seconds)      set/unset network timeout in seconds\n  --protocol=(smtp|lmtp)       use the given sub protocol\n  --domain=string              set the argument of EHLO or LHLO command\n  --auth[=(on|off|method)]     enable/disable authentication and optionally\n                               choose the method\n  --user=[username]            set/unset user name for authentication\n  --passwordeval=[eval]        evaluate password for authentication\n  --tls[=(on|off)]             enable/disable TLS encryption\n  --tls-starttls[=(on|off)]    enable/disable STARTTLS for TLS\n  --tls-trust-file=[file]      set/unset trust file for TLS\n  --tls-crl-file=[file]        set/unset revocation file for TLS\n  --tls-fingerprint=[f]        set/unset trusted certificate fingerprint\n  --tls-certcheck[=(on|off)]   enable/disable server certificate checks for TLS\n  --tls-key-file=[file]        set/unset private key file for TLS\n  --tls-cert-file=[file]       set/unset private cert file for TLS\n  --tls-priorities=[prios]     set/unset TLS priorities\n  --tls-host-override=[host]   set/unset override for TLS host verification\n  --tls-min-dh-prime-bits=[b]  set/unset minimum bit size of DH prime\n\
Options specific to sendmail mode:\n  --auto-from[=(on|off)]       enable/disable automatic envelope-from addresses\n  -f, --from=address           set envelope from address\n  --maildomain=[domain]        set the domain for automatic envelope from\n                               addresses\n  -N, --dsn-notify=(off|cond)  set/unset DSN conditions\n  -R, --dsn-return=(off|ret)   set/unset DSN amount\n  -X, --logfile=[file]         set/unset log file\n  --logfile-time-format=[fmt]  set/unset log file time format for strftime()\n  --syslog[=(on|off|facility)] enable/disable/configure syslog logging\n  -t, --read-recipients        read additional recipients from the mail\n  --read-envelope-from         read envelope from address from the mail\n  --aliases=[file]             set/unset aliases file\n  --set-from-header[=(auto|on|off)] set From header handling\n  --set-date-header[=(auto|off)] set Date header handling\n  --set-msgid-header[=(auto|off)] set Message-ID header handling\n  --remove-bcc-headers[=(on|off)] enable/disable removal of Bcc headers\n  --undisclosed-recipients[=(on|off)] enable/disable replacement of To/Cc/Bcc\n                               with To: undisclosed-recipients:;\n  --                           end of options\n\
Accepted but ignored: -A, -B, -bm, -F, -G, -h, -i, -L, -m, -n, -O, -o\n\n\
postie is a drop-in replacement for msmtp; see its documentation in docs/.\n"
    )
}
