# bash completion for postie (install as /usr/share/bash-completion/completions/postie)
_postie() {
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    case $prev in
        -C|--file|-X|--logfile|--aliases|--tls-trust-file|--tls-cert-file|--tls-key-file|--tls-crl-file)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
        -a|--account)
            local rc=${HOME}/.msmtprc
            [ -f "$rc" ] || rc=${XDG_CONFIG_HOME:-$HOME/.config}/msmtp/config
            COMPREPLY=($(compgen -W "$(sed -n 's/^[[:space:]]*account[[:space:]]\+\([^:]*\).*/\1/p' "$rc" 2>/dev/null)" -- "$cur"))
            return ;;
        queue)
            COMPREPLY=($(compgen -W "list flush show delete hold release help --help" -- "$cur")); return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--version --help --pretend --debug --serverinfo --rmqs= --configure=
            --file= --account= --host= --port= --timeout= --protocol= --domain= --auth --user=
            --passwordeval= --tls --tls-starttls --tls-trust-file= --tls-fingerprint= --tls-certcheck
            --tls-host-override= --tls-cert-file= --tls-key-file= --from= --read-envelope-from
            --read-recipients --dsn-notify= --dsn-return= --logfile= --syslog --aliases=
            --set-from-header --set-date-header --set-msgid-header --remove-bcc-headers
            --undisclosed-recipients --source-ip= --proxy-host= --proxy-port= --socket= --no-send
            -a -C -d -f -F -N -P -R -S -t -v -X -q -bp -odq" -- "$cur"))
    fi
}
complete -F _postie postie
