# fish completion for postie.
# Generated from postie's option and command tables (postie --completions SHELL);
# do not edit: tests/docs.rs checks it, POSTIE_BLESS=1 cargo test --test docs rewrites it.
# Install as /usr/share/fish/vendor_completions.d/postie.fish.

function __postie_takes_next --argument-names cmd opt
    switch "$cmd $opt"
        case 'postie --rmqs' 'postie --configure' 'postie -C' 'postie --file' 'postie -a' 'postie --account' 'postie --host' 'postie -f' 'postie --from' 'postie -F' 'postie --port' 'postie --timeout' 'postie --connect-timeout' 'postie --maildomain' 'postie --user' 'postie --passwordeval' 'postie --tls-trust-file' 'postie --tls-crl-file' 'postie --tls-fingerprint' 'postie --tls-key-file' 'postie --tls-cert-file' 'postie --tls-min-dh-prime-bits' 'postie --tls-priorities' 'postie --tls-host-override' 'postie -N' 'postie --dsn-notify' 'postie -R' 'postie --dsn-return' 'postie --protocol' 'postie --domain' 'postie -X' 'postie --logfile' 'postie --logfile-time-format' 'postie --aliases' 'postie --proxy-host' 'postie --proxy-port' 'postie --source-ip' 'postie --socket' 'queue -C' 'queue --file' 'queue -a' 'queue --account' 'queue --queue-dir' 'queue --max-age' 'unlock -C' 'unlock --file' 'unlock -a' 'unlock --account' 'unlock --for' 'lock -C' 'lock --file' 'lock -a' 'lock --account' 'check -C' 'check --file' 'check -a' 'check --account' 'check -f' 'check --from' 'check --send-test' 'oauth2 -C' 'oauth2 --file' 'oauth2 -a' 'oauth2 --account' 'oauth2 --port'
            return 0
    end
    return 1
end

# The command (postie or a subcommand) and its operands so far, one per line.
function __postie_state
    set -l words (commandline -opc)
    set -l cmd postie
    set -l operands
    set -l skip 0
    for word in $words[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $word
            case --
                test $cmd = postie; and set cmd recipients
            case '-*=*'
            case '-*'
                __postie_takes_next $cmd $word; and set skip 1
            case '*'
                if test $cmd = postie; and test (count $operands) = 0; and contains -- $word queue unlock lock check oauth2
                    set cmd $word
                else
                    set -a operands $word
                end
        end
    end
    echo $cmd
    for o in $operands
        echo $o
    end
end

# Whether the command is $argv[1] with exactly $argv[2] operands (any number without it).
function __postie_is --argument-names cmd n
    set -l state (__postie_state)
    test "$state[1]" = $cmd; or return 1
    test -z "$n"; or test (math (count $state) - 1) = $n
end

# Whether the operand of verb $argv[2] of command $argv[1] is being typed.
function __postie_operand_of --argument-names cmd verb
    set -l state (__postie_state)
    test "$state[1]" = $cmd; and test (count $state) = 2; and test "$state[2]" = $verb
end

# Account names or queue IDs of the configuration chosen by -C (postie runs no eval for it).
function __postie_list --argument-names what
    set -l words (commandline -opc)
    set -l file
    for i in (seq 2 (count $words))
        switch $words[$i]
            case -C --file
                set file $words[(math $i + 1)]
            case '--file=*'
                set file (string replace -- --file= '' $words[$i])
            case '-C*'
                set file (string sub -s 3 -- $words[$i])
        end
    end
    set file (string replace -r '^~/' "$HOME/" -- $file)
    if test -n "$file"
        $words[1] --complete $what -C $file 2>/dev/null
    else
        $words[1] --complete $what 2>/dev/null
    end
end

complete -c postie -f
complete -c postie -n '__postie_is postie' -l version -d 'print the version and exit'
complete -c postie -n '__postie_is postie' -l help -d 'print this help and exit'
complete -c postie -n '__postie_is postie' -s P -l pretend -d 'print the settings of the account a mail would use and exit'
complete -c postie -n '__postie_is postie' -l no-send -d 'do everything but connect: print the account, the server, the..'
complete -c postie -n '__postie_is postie' -s d -s v -l debug -d 'print the settings and the SMTP dialogue'
complete -c postie -n '__postie_is postie' -s S -l serverinfo -d 'print the server'\''s greeting, TLS certificate and capabilities'
complete -c postie -n '__postie_is postie' -l rmqs -x -d 'ask the server to deliver its queue for HOST, DOMAIN or QUEUE'
complete -c postie -n '__postie_is postie' -l configure -x -d 'print an account for ADDRESS from its domain'\''s SRV records'
complete -c postie -n '__postie_is postie' -o bs -d 'speak SMTP on standard input and output, relaying each mail through the..'
complete -c postie -n '__postie_is postie' -o bm -d 'read a mail on standard input and send it'
complete -c postie -n '__postie_is postie' -o bp -d 'list the queued mail'
complete -c postie -n '__postie_is postie' -s q -d 'deliver the queued mail now'
complete -c postie -n '__postie_is postie' -o odq -d 'queue the mail without trying to send it'
complete -c postie -n '__postie_is postie' -s C -l file -r -F -d 'read FILE instead of ~/.msmtprc'
complete -c postie -n '__postie_is postie' -s a -l account -x -a '(__postie_list accounts)' -d 'use ACCOUNT instead of the one chosen by -f, the From header or default'
complete -c postie -n '__postie_is postie' -l host -x -d 'send to HOST with the command-line settings only; read no configuration..'
complete -c postie -n '__postie_is postie' -s f -l from -x -d 'the envelope-from address; it also chooses the account'
complete -c postie -n '__postie_is postie' -l read-envelope-from -d 'take the envelope-from address from the mail'\''s From header'
complete -c postie -n '__postie_is postie' -s t -l read-recipients -d 'also send to the To, Cc and Bcc addresses of the mail'
complete -c postie -n '__postie_is postie' -s F -x -d 'the full name in a From header postie adds'
complete -c postie -n '__postie_is postie' -l port -x -d 'The server'\''s port: 25 by default, 465 with tls on and tls_starttls off..'
complete -c postie -n '__postie_is postie' -l timeout -x -a 'off' -d 'The network timeout; with off a read or write still gives up after 10..'
complete -c postie -n '__postie_is postie' -l connect-timeout -x -a 'off' -d 'Old name of timeout'
complete -c postie -n '__postie_is postie' -l auto-from -d 'Obsolete: make the envelope-from user@maildomain '
complete -c postie -n '__postie_is postie; and string match -q -- '\''--auto-from=*'\'' (commandline -ct)' -a '--auto-from=on --auto-from=off' -d 'Obsolete: make the envelope-from user@maildomain '
complete -c postie -n '__postie_is postie' -l maildomain -x -d 'Obsolete: the domain of auto_from'
complete -c postie -n '__postie_is postie' -l auth -d 'Authenticate: on chooses a method the server offers, off does not..'
complete -c postie -n '__postie_is postie; and string match -q -- '\''--auth=*'\'' (commandline -ct)' -a '--auth=on --auth=off --auth=plain --auth=login --auth=cram-md5 --auth=scram-sha-1 --auth=scram-sha-256 --auth=scram-sha-1-plus --auth=scram-sha-256-plus --auth=external --auth=gssapi --auth=digest-md5 --auth=ntlm --auth=oauthbearer --auth=xoauth2' -d 'Authenticate: on chooses a method the server offers, off does not..'
complete -c postie -n '__postie_is postie' -l user -x -d 'The user name to authenticate as'
complete -c postie -n '__postie_is postie' -l passwordeval -x -a '(__fish_complete_command)' -d 'A command whose first line of output is the password; it runs with..'
complete -c postie -n '__postie_is postie' -l tls -d 'Use TLS; default off'
complete -c postie -n '__postie_is postie; and string match -q -- '\''--tls=*'\'' (commandline -ct)' -a '--tls=on --tls=off' -d 'Use TLS; default off'
complete -c postie -n '__postie_is postie' -l tls-starttls -d 'on: start TLS with STARTTLS; off: TLS from the first byte '
complete -c postie -n '__postie_is postie; and string match -q -- '\''--tls-starttls=*'\'' (commandline -ct)' -a '--tls-starttls=on --tls-starttls=off' -d 'on: start TLS with STARTTLS; off: TLS from the first byte '
complete -c postie -n '__postie_is postie' -l tls-trust-file -r -F -a 'system' -d 'The CA certificates to trust: a PEM file, or system; empty: no CA '
complete -c postie -n '__postie_is postie' -l tls-crl-file -r -F -d 'A PEM file of certificate revocation lists'
complete -c postie -n '__postie_is postie' -l tls-fingerprint -x -d 'Trust exactly the server certificate with this SHA-256 fingerprint, as..'
complete -c postie -n '__postie_is postie' -l tls-key-file -r -F -d 'The private key of a client certificate'
complete -c postie -n '__postie_is postie' -l tls-cert-file -r -F -d 'A client certificate '
complete -c postie -n '__postie_is postie' -l tls-certcheck -d 'Check the server certificate '
complete -c postie -n '__postie_is postie; and string match -q -- '\''--tls-certcheck=*'\'' (commandline -ct)' -a '--tls-certcheck=on --tls-certcheck=off' -d 'Check the server certificate '
complete -c postie -n '__postie_is postie' -l tls-force-sslv3 -d 'Accepted and ignored'
complete -c postie -n '__postie_is postie; and string match -q -- '\''--tls-force-sslv3=*'\'' (commandline -ct)' -a '--tls-force-sslv3=on --tls-force-sslv3=off' -d 'Accepted and ignored'
complete -c postie -n '__postie_is postie' -l tls-min-dh-prime-bits -x -d 'Accepted and ignored '
complete -c postie -n '__postie_is postie' -l tls-priorities -x -d 'Accepted and ignored '
complete -c postie -n '__postie_is postie' -l tls-host-override -x -d 'The name the server certificate is checked against instead of host'
complete -c postie -n '__postie_is postie' -s N -l dsn-notify -x -a 'off' -d 'Ask for delivery status notifications: never, or some of failure, delay..'
complete -c postie -n '__postie_is postie' -s R -l dsn-return -x -a 'off headers full' -d 'How much of the mail a delivery status notification returns'
complete -c postie -n '__postie_is postie' -l protocol -x -a 'smtp lmtp' -d 'The protocol; default smtp'
complete -c postie -n '__postie_is postie' -l domain -x -d 'The argument of EHLO or LHLO; %H is the host name, %C its canonical..'
complete -c postie -n '__postie_is postie' -s X -l logfile -r -F -d 'Append one line per mail to FILE, in msmtp'\''s format'
complete -c postie -n '__postie_is postie' -l logfile-time-format -x -a 'none' -d 'The strftime format of the log line'\''s time; none: no time'
complete -c postie -n '__postie_is postie' -l syslog -d 'Log to syslog: on with LOG_USER, or LOG_MAIL, LOG_USER, LOG_LOCAL0 .....'
complete -c postie -n '__postie_is postie; and string match -q -- '\''--syslog=*'\'' (commandline -ct)' -a '--syslog=on --syslog=off --syslog=LOG_USER --syslog=LOG_MAIL --syslog=LOG_LOCAL0 --syslog=LOG_LOCAL1 --syslog=LOG_LOCAL2 --syslog=LOG_LOCAL3 --syslog=LOG_LOCAL4 --syslog=LOG_LOCAL5 --syslog=LOG_LOCAL6 --syslog=LOG_LOCAL7' -d 'Log to syslog: on with LOG_USER, or LOG_MAIL, LOG_USER, LOG_LOCAL0 .....'
complete -c postie -n '__postie_is postie' -l aliases -r -F -d 'Replace local recipients by the addresses in FILE '
complete -c postie -n '__postie_is postie' -l proxy-host -x -d 'A SOCKS5 proxy to connect through; it resolves host itself, as Tor..'
complete -c postie -n '__postie_is postie' -l proxy-port -x -d 'The proxy'\''s port; default 1080'
complete -c postie -n '__postie_is postie' -l add-missing-from-header -d 'Old spelling of set_from_header auto and off'
complete -c postie -n '__postie_is postie; and string match -q -- '\''--add-missing-from-header=*'\'' (commandline -ct)' -a '--add-missing-from-header=on --add-missing-from-header=off' -d 'Old spelling of set_from_header auto and off'
complete -c postie -n '__postie_is postie' -l add-missing-date-header -d 'Old spelling of set_date_header auto and off'
complete -c postie -n '__postie_is postie; and string match -q -- '\''--add-missing-date-header=*'\'' (commandline -ct)' -a '--add-missing-date-header=on --add-missing-date-header=off' -d 'Old spelling of set_date_header auto and off'
complete -c postie -n '__postie_is postie' -l set-from-header -d 'auto adds a From header when the mail has none, on replaces it, off..'
complete -c postie -n '__postie_is postie; and string match -q -- '\''--set-from-header=*'\'' (commandline -ct)' -a '--set-from-header=auto --set-from-header=on --set-from-header=off' -d 'auto adds a From header when the mail has none, on replaces it, off..'
complete -c postie -n '__postie_is postie' -l set-date-header -d 'auto adds a Date header when the mail has none'
complete -c postie -n '__postie_is postie; and string match -q -- '\''--set-date-header=*'\'' (commandline -ct)' -a '--set-date-header=auto --set-date-header=off' -d 'auto adds a Date header when the mail has none'
complete -c postie -n '__postie_is postie' -l set-msgid-header -d 'auto adds a Message-ID header when the mail has none'
complete -c postie -n '__postie_is postie; and string match -q -- '\''--set-msgid-header=*'\'' (commandline -ct)' -a '--set-msgid-header=auto --set-msgid-header=off' -d 'auto adds a Message-ID header when the mail has none'
complete -c postie -n '__postie_is postie' -l remove-bcc-headers -d 'Remove Bcc headers before sending '
complete -c postie -n '__postie_is postie; and string match -q -- '\''--remove-bcc-headers=*'\'' (commandline -ct)' -a '--remove-bcc-headers=on --remove-bcc-headers=off' -d 'Remove Bcc headers before sending '
complete -c postie -n '__postie_is postie' -l undisclosed-recipients -d 'Old spelling of set_to_header undisclosed_recipients and off'
complete -c postie -n '__postie_is postie; and string match -q -- '\''--undisclosed-recipients=*'\'' (commandline -ct)' -a '--undisclosed-recipients=on --undisclosed-recipients=off' -d 'Old spelling of set_to_header undisclosed_recipients and off'
complete -c postie -n '__postie_is postie' -l source-ip -x -d 'The local address to connect from; empty: any'
complete -c postie -n '__postie_is postie' -l socket -r -F -d 'A local socket to talk to instead of host and port'
complete -c postie -n '__postie_is postie' -l keepbcc -d 'The opposite of remove_bcc_headers'
complete -c postie -n '__postie_is postie; and string match -q -- '\''--keepbcc=*'\'' (commandline -ct)' -a '--keepbcc=on --keepbcc=off' -d 'The opposite of remove_bcc_headers'
complete -c postie -n '__postie_is postie' -l set-to-header -d 'Replace To, Cc and Bcc by one To header: every recipient or..'
complete -c postie -n '__postie_is postie; and string match -q -- '\''--set-to-header=*'\'' (commandline -ct)' -a '--set-to-header=on --set-to-header=off --set-to-header=undisclosed_recipients' -d 'Replace To, Cc and Bcc by one To header: every recipient or..'
complete -c postie -n '__postie_is postie 0' -a 'queue' -d 'list, deliver and manage the mail waiting in the queue'
complete -c postie -n '__postie_is postie 0' -a 'unlock' -d 'run an account'\''s password source now and keep the password in the..'
complete -c postie -n '__postie_is postie 0' -a 'lock' -d 'forget the passwords postie unlock kept'
complete -c postie -n '__postie_is postie 0' -a 'check' -d 'go through everything a send needs and print one line per step, with..'
complete -c postie -n '__postie_is postie 0' -a 'oauth2' -d 'authorise postie to get OAuth2 tokens for an account with..'
complete -c postie -n '__postie_is queue' -s C -l file -r -F -d 'use this configuration file'
complete -c postie -n '__postie_is queue' -s a -l account -x -a '(__postie_list accounts)' -d 'work on the queue of this account only'
complete -c postie -n '__postie_is queue' -l queue-dir -r -F -d 'work on exactly this queue directory'
complete -c postie -n '__postie_is queue' -l due -d 'flush: only messages whose retry time has come'
complete -c postie -n '__postie_is queue' -l max-age -x -d 'flush: set aside messages older than DURATION'
complete -c postie -n '__postie_is queue' -s P -l pretend -l no-send -d 'flush: print what would be sent; send nothing, change nothing'
complete -c postie -n '__postie_is queue' -s d -s v -l debug -d 'print progress and the SMTP dialogue'
complete -c postie -n '__postie_is queue' -s h -l help -d 'print the command'\''s help'
complete -c postie -n '__postie_is queue 0' -a 'list' -d 'list the queued mail'
complete -c postie -n '__postie_is queue 0' -a 'flush' -d 'deliver the queued mail now'
complete -c postie -n '__postie_is queue 0' -a 'show' -d 'print a message'\''s metadata and the message as submitted'
complete -c postie -n '__postie_operand_of queue show' -a '(__postie_list queue-ids)'
complete -c postie -n '__postie_is queue 0' -a 'hold' -d 'keep a message from being sent until it is released'
complete -c postie -n '__postie_operand_of queue hold' -a '(__postie_list queue-ids)'
complete -c postie -n '__postie_is queue 0' -a 'release' -d 'make a held message due again'
complete -c postie -n '__postie_operand_of queue release' -a '(__postie_list queue-ids)'
complete -c postie -n '__postie_is queue 0' -a 'delete' -d 'remove a message from the queue'
complete -c postie -n '__postie_operand_of queue delete' -a '(__postie_list queue-ids)'
complete -c postie -n '__postie_is queue 0' -a 'help' -d 'print the queue commands'\'' help'
complete -c postie -n '__postie_is unlock' -s C -l file -r -F -d 'use this configuration file'
complete -c postie -n '__postie_is unlock' -s a -l account -x -a '(__postie_list accounts)' -d 'this account only'
complete -c postie -n '__postie_is unlock' -l for -x -d 'keep it this long instead of the account'\''s password_cache'
complete -c postie -n '__postie_is unlock' -l status -d 'list what is cached and for how long'
complete -c postie -n '__postie_is unlock' -s h -l help -d 'print the command'\''s help'
complete -c postie -n '__postie_is lock' -s C -l file -r -F -d 'use this configuration file'
complete -c postie -n '__postie_is lock' -s a -l account -x -a '(__postie_list accounts)' -d 'this account only'
complete -c postie -n '__postie_is lock' -s h -l help -d 'print the command'\''s help'
complete -c postie -n '__postie_is check' -s C -l file -r -F -d 'use this configuration file'
complete -c postie -n '__postie_is check' -s a -l account -x -a '(__postie_list accounts)' -d 'check this account'
complete -c postie -n '__postie_is check' -l all -d 'check every account'
complete -c postie -n '__postie_is check' -s f -l from -x -d 'check the account a mail from ADDRESS uses'
complete -c postie -n '__postie_is check' -l send-test -x -d 'also send a short test message to ADDRESS'
complete -c postie -n '__postie_is check' -s h -l help -d 'print the command'\''s help'
complete -c postie -n '__postie_is oauth2' -s C -l file -r -F -d 'use this configuration file'
complete -c postie -n '__postie_is oauth2' -s a -l account -x -a '(__postie_list accounts)' -d 'the account'
complete -c postie -n '__postie_is oauth2' -l paste -d 'login: paste the address the browser was sent to; nothing listens'
complete -c postie -n '__postie_is oauth2' -l device -d 'login: print a code to enter on any device'
complete -c postie -n '__postie_is oauth2' -l port -x -d 'login: receive the browser'\''s redirect on this port of 127.0.0.1'
complete -c postie -n '__postie_is oauth2' -l no-browser -d 'login: print the address instead of opening a browser'
complete -c postie -n '__postie_is oauth2' -s h -l help -d 'print the command'\''s help'
complete -c postie -n '__postie_is oauth2 0' -a 'login' -d 'authorise in a browser'
complete -c postie -n '__postie_is oauth2 0' -a 'import' -d 'store a refresh token read on standard input'
complete -c postie -n '__postie_is oauth2 0' -a 'status' -d 'which accounts are authorised, and how long their access token lasts'
complete -c postie -n '__postie_is oauth2 0' -a 'logout' -d 'forget the tokens and revoke them'
