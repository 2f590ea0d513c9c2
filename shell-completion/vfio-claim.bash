# bash completion for vfio-claim(8)

_vfio_claim_devices() {
        local sysroot=$1 config=$2 d
        # PCI addresses and group:N from sysfs, device names from the configuration.
        for d in "$sysroot"/sys/bus/pci/devices/*; do
                [ -e "$d" ] && printf '%s\n' "${d##*/}"
        done
        for d in "$sysroot"/sys/kernel/iommu_groups/*; do
                [ -e "$d" ] && printf 'group:%s\n' "${d##*/}"
        done
        sed -n 's/^[[:space:]]*\[device[[:space:]]\+\([A-Za-z0-9_.-]\+\)[[:space:]]*\].*/\1/p' \
                "$config"/vfio-claim.conf "$config"/conf.d/*.conf 2>/dev/null
}

# PCI addresses and group:N of the groups vfio-claim holds now (its state records).
_vfio_claim_claimed() {
        local sysroot=$1 f
        for f in "$sysroot"%runstatedir%/vfio-claim/group-*; do
                [ -f "$f" ] || continue
                printf 'group:%s\n' "${f##*-}"
                sed -n 's/^device \([0-9a-fA-F:.]\+\) .*/\1/p' "$f" 2>/dev/null
        done
}

_vfio_claim() {
        local cur prev words cword resplit=""
        if declare -F _init_completion >/dev/null; then
                _init_completion -n : || return
        elif [ -n "${COMP_LINE+set}" ]; then
                # Without the bash-completion package: split the line up to the cursor at blanks
                # only. bash's own words break at ':' too (COMP_WORDBREAKS), which cuts
                # 0000:01:00.0 in five.
                resplit=1
                read -r -a words <<<"${COMP_LINE:0:COMP_POINT}"
                [[ ${COMP_LINE:0:COMP_POINT} == *[[:blank:]] || ${#words[@]} -eq 0 ]] && words+=("")
                cword=$((${#words[@]} - 1))
                cur=${words[cword]}
                prev=${words[cword - 1]}
        else
                words=("${COMP_WORDS[@]}")
                cword=$COMP_CWORD
                cur=${COMP_WORDS[COMP_CWORD]}
                prev=${COMP_WORDS[COMP_CWORD - 1]}
        fi

        local verbs="list show enable disable apply release status doctor check-config add remove usb-reattach rom export help"
        local opts="--config --sysroot --json --dry-run --force --boot --name --all --connect --timeout --format --yes --no-mmio-fix --primary --rom --rombar --verbose --help --version"
        local sysroot="" config="" verb="" i n_args=0

        for ((i = 1; i < cword; i++)); do
                case ${words[i]} in
                --sysroot) sysroot=${words[i + 1]}; ((i++)) ;;
                --config) config=${words[i + 1]}; ((i++)) ;;
                --connect | --timeout | --format | --rom | --rombar) ((i++)) ;;
                -*) ;;
                *) if [ -z "$verb" ]; then verb=${words[i]}; else ((n_args++)); fi ;;
                esac
        done
        [ -n "$config" ] || config="$sysroot/etc/vfio-claim"

        case $prev in
        --config | --sysroot)
                if declare -F _filedir >/dev/null; then
                        _filedir -d
                else
                        COMPREPLY=($(compgen -d -- "$cur"))
                fi
                return ;;
        --connect | --timeout)
                return ;;
        --format)
                COMPREPLY=($(compgen -W "nova kubevirt proxmox" -- "$cur"))
                return ;;
        --rombar)
                COMPREPLY=($(compgen -W "on off" -- "$cur"))
                return ;;
        --rom)
                COMPREPLY=($(compgen -f -- "$cur"))
                return ;;
        esac

        if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur"))
                return
        fi
        if [ -z "$verb" ]; then
                COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
                return
        fi
        case $verb in
        release)
                [ "$n_args" -eq 0 ] && COMPREPLY=($(compgen -W "$(_vfio_claim_claimed "$sysroot")" -- "$cur"))
                ;;
        help)
                [ "$n_args" -eq 0 ] && COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
                ;;
        show | enable | disable | doctor)
                [ "$n_args" -eq 0 ] && COMPREPLY=($(compgen -W "$(_vfio_claim_devices "$sysroot" "$config")" -- "$cur"))
                ;;
        rom)
                if [ "$n_args" -eq 0 ]; then
                        COMPREPLY=($(compgen -W "$(_vfio_claim_devices "$sysroot" "$config")" -- "$cur"))
                elif [ "$n_args" -eq 1 ]; then
                        COMPREPLY=($(compgen -f -- "$cur"))
                fi
                ;;
        add | remove)
                if [ "$n_args" -eq 0 ]; then
                        COMPREPLY=($(compgen -W "$(virsh -q list --all --name 2>/dev/null)" -- "$cur"))
                elif [ "$n_args" -eq 1 ]; then
                        COMPREPLY=($(compgen -W "$(_vfio_claim_devices "$sysroot" "$config")" -- "$cur"))
                fi
                ;;
        esac
        if declare -F __ltrim_colon_completions >/dev/null; then
                __ltrim_colon_completions "$cur"
        elif [ -n "$resplit" ] && [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
                # bash replaces only the part of the word after its last ':'
                local i prefix=${cur%"${cur##*:}"}
                for i in "${!COMPREPLY[@]}"; do
                        COMPREPLY[i]=${COMPREPLY[i]#"$prefix"}
                done
        fi
}
complete -F _vfio_claim vfio-claim
