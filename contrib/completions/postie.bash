# bash completion for postie                              -*- shell-script -*-
# Generated from postie's option and command tables (postie --completions SHELL);
# do not edit: tests/docs.rs checks it, POSTIE_BLESS=1 cargo test --test docs rewrites it.
# Install as /usr/share/bash-completion/completions/postie.

_postie_option() {
    case "$1 $2" in
        'postie --version') echo 'none' ;;
        'postie --help') echo 'none' ;;
        'postie -P') echo 'none' ;;
        'postie --pretend') echo 'none' ;;
        'postie --no-send') echo 'none' ;;
        'postie -d') echo 'none' ;;
        'postie -v') echo 'none' ;;
        'postie --debug') echo 'none' ;;
        'postie -S') echo 'none' ;;
        'postie --serverinfo') echo 'none' ;;
        'postie --rmqs') echo 'next' ;;
        'postie --configure') echo 'next' ;;
        'postie -bs') echo 'none' ;;
        'postie -bm') echo 'none' ;;
        'postie -bp') echo 'none' ;;
        'postie -q') echo 'attached' ;;
        'postie -odq') echo 'none' ;;
        'postie -C') echo 'next file' ;;
        'postie --file') echo 'next file' ;;
        'postie -a') echo 'next account' ;;
        'postie --account') echo 'next account' ;;
        'postie --host') echo 'next' ;;
        'postie -f') echo 'next' ;;
        'postie --from') echo 'next' ;;
        'postie --read-envelope-from') echo 'none' ;;
        'postie -t') echo 'none' ;;
        'postie --read-recipients') echo 'none' ;;
        'postie -F') echo 'next' ;;
        'postie --port') echo 'next' ;;
        'postie --timeout') echo 'next =off' ;;
        'postie --connect-timeout') echo 'next =off' ;;
        'postie --auto-from') echo 'attached =on =off' ;;
        'postie --maildomain') echo 'next' ;;
        'postie --auth') echo 'attached =on =off =plain =login =cram-md5 =scram-sha-1 =scram-sha-256 =scram-sha-1-plus =scram-sha-256-plus =external =gssapi =digest-md5 =ntlm =oauthbearer =xoauth2' ;;
        'postie --user') echo 'next' ;;
        'postie --passwordeval') echo 'next command' ;;
        'postie --tls') echo 'attached =on =off' ;;
        'postie --tls-starttls') echo 'attached =on =off' ;;
        'postie --tls-trust-file') echo 'next file =system' ;;
        'postie --tls-crl-file') echo 'next file' ;;
        'postie --tls-fingerprint') echo 'next' ;;
        'postie --tls-key-file') echo 'next file' ;;
        'postie --tls-cert-file') echo 'next file' ;;
        'postie --tls-certcheck') echo 'attached =on =off' ;;
        'postie --tls-force-sslv3') echo 'attached =on =off' ;;
        'postie --tls-min-dh-prime-bits') echo 'next' ;;
        'postie --tls-priorities') echo 'next' ;;
        'postie --tls-host-override') echo 'next' ;;
        'postie -N') echo 'next =off' ;;
        'postie --dsn-notify') echo 'next =off' ;;
        'postie -R') echo 'next =off =headers =full' ;;
        'postie --dsn-return') echo 'next =off =headers =full' ;;
        'postie --protocol') echo 'next =smtp =lmtp' ;;
        'postie --domain') echo 'next' ;;
        'postie -X') echo 'next file' ;;
        'postie --logfile') echo 'next file' ;;
        'postie --logfile-time-format') echo 'next =none' ;;
        'postie --syslog') echo 'attached =on =off =LOG_USER =LOG_MAIL =LOG_LOCAL0 =LOG_LOCAL1 =LOG_LOCAL2 =LOG_LOCAL3 =LOG_LOCAL4 =LOG_LOCAL5 =LOG_LOCAL6 =LOG_LOCAL7' ;;
        'postie --aliases') echo 'next file' ;;
        'postie --proxy-host') echo 'next' ;;
        'postie --proxy-port') echo 'next' ;;
        'postie --add-missing-from-header') echo 'attached =on =off' ;;
        'postie --add-missing-date-header') echo 'attached =on =off' ;;
        'postie --set-from-header') echo 'attached =auto =on =off' ;;
        'postie --set-date-header') echo 'attached =auto =off' ;;
        'postie --set-msgid-header') echo 'attached =auto =off' ;;
        'postie --remove-bcc-headers') echo 'attached =on =off' ;;
        'postie --undisclosed-recipients') echo 'attached =on =off' ;;
        'postie --source-ip') echo 'next' ;;
        'postie --socket') echo 'next file' ;;
        'postie --keepbcc') echo 'attached =on =off' ;;
        'postie --set-to-header') echo 'attached =on =off =undisclosed_recipients' ;;
        'queue -C') echo 'next file' ;;
        'queue --file') echo 'next file' ;;
        'queue -a') echo 'next account' ;;
        'queue --account') echo 'next account' ;;
        'queue --queue-dir') echo 'next directory' ;;
        'queue --due') echo 'none' ;;
        'queue --max-age') echo 'next' ;;
        'queue -P') echo 'none' ;;
        'queue --pretend') echo 'none' ;;
        'queue --no-send') echo 'none' ;;
        'queue -d') echo 'none' ;;
        'queue -v') echo 'none' ;;
        'queue --debug') echo 'none' ;;
        'queue -h') echo 'none' ;;
        'queue --help') echo 'none' ;;
        'unlock -C') echo 'next file' ;;
        'unlock --file') echo 'next file' ;;
        'unlock -a') echo 'next account' ;;
        'unlock --account') echo 'next account' ;;
        'unlock --for') echo 'next' ;;
        'unlock --status') echo 'none' ;;
        'unlock -h') echo 'none' ;;
        'unlock --help') echo 'none' ;;
        'lock -C') echo 'next file' ;;
        'lock --file') echo 'next file' ;;
        'lock -a') echo 'next account' ;;
        'lock --account') echo 'next account' ;;
        'lock -h') echo 'none' ;;
        'lock --help') echo 'none' ;;
        'check -C') echo 'next file' ;;
        'check --file') echo 'next file' ;;
        'check -a') echo 'next account' ;;
        'check --account') echo 'next account' ;;
        'check --all') echo 'none' ;;
        'check -f') echo 'next' ;;
        'check --from') echo 'next' ;;
        'check --send-test') echo 'next' ;;
        'check -h') echo 'none' ;;
        'check --help') echo 'none' ;;
        'oauth2 -C') echo 'next file' ;;
        'oauth2 --file') echo 'next file' ;;
        'oauth2 -a') echo 'next account' ;;
        'oauth2 --account') echo 'next account' ;;
        'oauth2 --paste') echo 'none' ;;
        'oauth2 --device') echo 'none' ;;
        'oauth2 --port') echo 'next' ;;
        'oauth2 --no-browser') echo 'none' ;;
        'oauth2 -h') echo 'none' ;;
        'oauth2 --help') echo 'none' ;;
        *) echo unknown ;;
    esac
}

_postie_options() {
    case $1 in
        postie) echo '--version --help -P --pretend --no-send -d -v --debug -S --serverinfo --rmqs= --configure= -bs -bm -bp -q -odq -C --file= -a --account= --host= -f --from= --read-envelope-from -t --read-recipients -F --port= --timeout= --connect-timeout= --auto-from --maildomain= --auth --user= --passwordeval= --tls --tls-starttls --tls-trust-file= --tls-crl-file= --tls-fingerprint= --tls-key-file= --tls-cert-file= --tls-certcheck --tls-force-sslv3 --tls-min-dh-prime-bits= --tls-priorities= --tls-host-override= -N --dsn-notify= -R --dsn-return= --protocol= --domain= -X --logfile= --logfile-time-format= --syslog --aliases= --proxy-host= --proxy-port= --add-missing-from-header --add-missing-date-header --set-from-header --set-date-header --set-msgid-header --remove-bcc-headers --undisclosed-recipients --source-ip= --socket= --keepbcc --set-to-header' ;;
        queue) echo '-C --file= -a --account= --queue-dir= --due --max-age= -P --pretend --no-send -d -v --debug -h --help' ;;
        unlock) echo '-C --file= -a --account= --for= --status -h --help' ;;
        lock) echo '-C --file= -a --account= -h --help' ;;
        check) echo '-C --file= -a --account= --all -f --from= --send-test= -h --help' ;;
        oauth2) echo '-C --file= -a --account= --paste --device --port= --no-browser -h --help' ;;
    esac
}

_postie_verbs() {
    case $1 in
        postie) echo 'queue unlock lock check oauth2' ;;
        queue) echo 'list flush show hold release delete help' ;;
        oauth2) echo 'login import status logout' ;;
    esac
}

_postie_operand() {
    case "$1 $2" in
        'queue show') echo 'queue-id' ;;
        'queue hold') echo 'queue-id' ;;
        'queue release') echo 'queue-id' ;;
        'queue delete') echo 'queue-id' ;;
    esac
}

# COMP_WORDS with the words bash split at '=' joined again: sets _postie_w and _postie_c.
_postie_words() {
    _postie_w=()
    _postie_c=0
    local i join=
    for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
        local word=${COMP_WORDS[i]}
        if [[ $word == = && ${#_postie_w[@]} -gt 0 && ${_postie_w[-1]} == -* && ${_postie_w[-1]} != *=* ]]; then
            _postie_w[-1]+==
            join=1
        elif [[ -n $join ]]; then
            _postie_w[-1]+=$word
            join=
        else
            _postie_w+=("$word")
        fi
        ((i == COMP_CWORD)) && _postie_c=$((${#_postie_w[@]} - 1))
    done
}

# Account names or queue IDs of the configuration chosen by -C (postie runs no eval for it).
_postie_list() {
    local i file= args=()
    for ((i = 1; i < _postie_c; i++)); do
        case ${_postie_w[i]} in
            -C|--file) file=${_postie_w[i + 1]} ;;
            --file=*) file=${_postie_w[i]#--file=} ;;
            -C?*) file=${_postie_w[i]#-C} ;;
        esac
    done
    file=$(_postie_unquote "$file")
    [[ $file == "~/"* ]] && file=$HOME/${file#"~/"}
    [[ -n $file ]] && args=(-C "$file")
    "${_postie_w[0]}" --complete "$1" "${args[@]}" 2>/dev/null
}

# A word as the shell will pass it ('a b', "a b", a\ b -> a b), without evaluating anything.
_postie_unquote() {
    local s=$1 out= i c
    case $s in
        \'*\') printf '%s' "${s:1:${#s}-2}"; return ;;
        \"*\") s=${s:1:${#s}-2} ;;
    esac
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        if [[ $c == \\ ]]; then
            i=$((i + 1))
            c=${s:i:1}
        fi
        out+=$c
    done
    printf '%s' "$out"
}

# COMPREPLY for the items of a spec ("next file =system") and the text typed so far. Names
# from the configuration are compared as text and inserted quoted: compgen -W would expand
# them ($(...), `...`, globs) and split them at spaces.
_postie_value() {
    local item words=() kind=
    for item in ${1#* }; do
        case $item in
            '='*) words+=("${item#=}") ;;
            account|queue-id) mapfile -t -O ${#words[@]} words < <(_postie_list "${item}s") ;;
            none|next|attached) ;;
            *) kind=$item ;;
        esac
    done
    COMPREPLY=()
    for item in "${words[@]}"; do
        [[ $item == "$2"* ]] && COMPREPLY+=("$(printf '%q' "$item")")
    done
    case $kind in
        file) compopt -o filenames 2>/dev/null; mapfile -t -O ${#COMPREPLY[@]} COMPREPLY < <(compgen -f -- "$2") ;;
        directory) compopt -o filenames 2>/dev/null; mapfile -t -O ${#COMPREPLY[@]} COMPREPLY < <(compgen -d -- "$2") ;;
        command) mapfile -t -O ${#COMPREPLY[@]} COMPREPLY < <(compgen -c -- "$2") ;;
    esac
}

_postie() {
    local _postie_w _postie_c
    _postie_words
    local cur=${_postie_w[_postie_c]} cmd=postie operands=() next= spec i word
    COMPREPLY=()
    for ((i = 1; i < _postie_c; i++)); do
        word=${_postie_w[i]}
        if [[ -n $next ]]; then
            next=
            continue
        fi
        case $word in
            --) [[ $cmd == postie ]] && return 0 ;;
            -*=*) ;;
            -*) [[ $(_postie_option "$cmd" "$word") == next* ]] && next=1 ;;
            *)
                if [[ $cmd == postie && ${#operands[@]} -eq 0 && " $(_postie_verbs postie) " == *" $word "* ]]; then
                    cmd=$word
                else
                    operands+=("$word")
                fi
                ;;
        esac
    done
    if [[ -n $next ]]; then
        _postie_value "$(_postie_option "$cmd" "${_postie_w[_postie_c - 1]}")" "$cur"
    elif [[ $cur == -*=* ]]; then
        spec=$(_postie_option "$cmd" "${cur%%=*}")
        [[ $spec != none && $spec != unknown ]] && _postie_value "$spec" "${cur#*=}"
    elif [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_postie_options "$cmd")" -- "$cur")
    elif [[ $cmd == postie ]]; then
        # A subcommand where it can be one; recipients are the user's to type.
        [[ ${#operands[@]} -eq 0 ]] && mapfile -t COMPREPLY < <(compgen -W "$(_postie_verbs postie)" -- "$cur")
    elif [[ ${#operands[@]} -eq 0 ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_postie_verbs "$cmd")" -- "$cur")
    elif [[ ${#operands[@]} -eq 1 ]]; then
        spec=$(_postie_operand "$cmd" "${operands[0]}")
        [[ -n $spec ]] && _postie_value "next $spec" "$cur"
    fi
    # `--port=` waits for its value: no space after it.
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}

complete -F _postie postie
