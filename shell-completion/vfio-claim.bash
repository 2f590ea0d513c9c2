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

_vfio_claim() {
        local cur prev words cword
        _init_completion -n : || return

        local verbs="list show enable disable apply release status doctor check-config add remove export"
        local opts="--config --sysroot --json --dry-run --force --boot --connect --timeout --format --verbose --help --version"
        local sysroot="" config="" verb="" i n_args=0

        for ((i = 1; i < cword; i++)); do
                case ${words[i]} in
                --sysroot) sysroot=${words[i + 1]}; ((i++)) ;;
                --config) config=${words[i + 1]}; ((i++)) ;;
                --connect | --timeout | --format) ((i++)) ;;
                -*) ;;
                *) if [ -z "$verb" ]; then verb=${words[i]}; else ((n_args++)); fi ;;
                esac
        done
        [ -n "$config" ] || config="$sysroot/etc/vfio-claim"

        case $prev in
        --config | --sysroot)
                _filedir -d
                return ;;
        --connect | --timeout)
                return ;;
        --format)
                COMPREPLY=($(compgen -W "nova kubevirt proxmox" -- "$cur"))
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
        show | enable | disable | release | doctor)
                [ "$n_args" -eq 0 ] && COMPREPLY=($(compgen -W "$(_vfio_claim_devices "$sysroot" "$config")" -- "$cur"))
                ;;
        add | remove)
                if [ "$n_args" -eq 0 ]; then
                        COMPREPLY=($(compgen -W "$(virsh -q list --all --name 2>/dev/null)" -- "$cur"))
                elif [ "$n_args" -eq 1 ]; then
                        COMPREPLY=($(compgen -W "$(_vfio_claim_devices "$sysroot" "$config")" -- "$cur"))
                fi
                ;;
        esac
        __ltrim_colon_completions "$cur"
}
complete -F _vfio_claim vfio-claim
