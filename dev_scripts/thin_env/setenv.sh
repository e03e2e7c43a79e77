# shellcheck shell=bash
# Source it (bash or zsh) to set this shell up for the repo:
#
#   source ./helpers_root/dev_scripts/thin_env/setenv.sh [--dev]
#
# - activates the thin env that build.sh [--dev] built (PATH, VIRTUAL_ENV);
# - puts <helpers root>/dev_scripts on PATH, the helpers root and the client
#   repo root on PYTHONPATH; exports HELPERS_ROOT and HELPERS_CLIENT_ROOT;
# - loads ${XDG_CONFIG_HOME:-~/.config}/helpers/machine.env (machine settings)
#   without overwriting what you exported; its HELPERS_BASE_IMAGE, HELPERS_REGISTRY
#   and HELPERS_EXTRA_CA_CERTS stay in the file: they are machine defaults, which
#   the tools read from it below every repo_config.yaml (an exported one wins).
# Inside a container (/.dockerenv, /run/.containerenv or HELPERS_IN_CONTAINER=1;
# HELPERS_IN_CONTAINER=0 says "not in one") a missing env is fine: it quietly
# sets just the paths. Sourcing it again is harmless; it never exits the shell.

if [ -n "${ZSH_VERSION:-}" ]; then
    eval '_hte_self=${(%):-%x}'
elif [ "${BASH_SOURCE[0]}" = "$0" ]; then
    echo "error: setenv.sh is meant to be sourced ($0): run: source $0" >&2
    exit 2 # run as a program, not sourced: exits only its own process
else
    _hte_self=${BASH_SOURCE[0]}
fi
# shellcheck source=_lib.sh
. "$(dirname -- "$_hte_self")/_lib.sh" || return 2

# _hte_drop VAR ENTRY: removes every ENTRY from the colon-separated list in VAR.
_hte_drop() {
    local val
    eval "val=\":\${$1:-}:\""
    while case $val in *":$2:"*) true ;; *) false ;; esac do
        val=${val%%":$2:"*}:${val#*":$2:"}
    done
    val=${val#:}
    eval "$1=\${val%:}"
}

# _hte_prepend VAR ENTRY: puts ENTRY first in VAR, once; exports VAR.
_hte_prepend() {
    _hte_drop "$1" "$2"
    eval "export $1=\"\$2\${$1:+:\$$1}\""
}

# Loads machine.env's other variables, each only when not set already.
_hte_machine_env() {
    local file="${XDG_CONFIG_HOME:-$HOME/.config}/helpers/machine.env" line name
    [ -f "$file" ] || return 0
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line#export }
        case $line in
            [A-Za-z_]*=*) name=${line%%=*} ;;
            *) continue ;;
        esac
        case $name in
            *[!A-Za-z0-9_]*) continue ;;
            HELPERS_BASE_IMAGE | HELPERS_REGISTRY | HELPERS_EXTRA_CA_CERTS) continue ;;
        esac
        eval "[ -n \"\${$name+x}\" ]" && continue # what the user exported wins
        eval "export $line" || echo "helpers: warning: cannot load '$name' from $file" >&2
    done <"$file"
}

_hte_in_container() {
    case ${HELPERS_IN_CONTAINER:-} in
        1) return 0 ;;
        0) return 1 ;;
    esac
    [ -f /.dockerenv ] || [ -f /run/.containerenv ]
}

_hte_setenv() {
    local dev=0 flag="" arg root client up home envdir rc=0
    for arg in "$@"; do
        case $arg in
            --dev) dev=1 flag=" --dev" ;;
            *)
                echo "error: unknown argument '$arg' (setenv.sh): usage: source setenv.sh [--dev]" >&2
                return 2
                ;;
        esac
    done
    root=$(_hte_root "$_hte_self") || {
        echo "error: cannot locate the helpers checkout ($_hte_self)" >&2
        return 2
    }
    # The client repo: the nearest ancestor above helpers holding .git; none
    # means helpers is used on its own.
    client=$root
    up=${root%/*}
    while [ -n "$up" ]; do
        if [ -e "$up/.git" ]; then
            client=$up
            break
        fi
        up=${up%/*}
    done
    export HELPERS_ROOT="$root" HELPERS_CLIENT_ROOT="$client"
    _hte_machine_env
    _hte_prepend PYTHONPATH "$client"
    _hte_prepend PYTHONPATH "$root"
    _hte_prepend PATH "$root/dev_scripts"

    home=$(_hte_home)
    # Switching envs (e.g. to --dev): drop the previous thin env from PATH.
    case ${VIRTUAL_ENV:-} in
        "$home"/*) _hte_drop PATH "$VIRTUAL_ENV/bin" && unset VIRTUAL_ENV ;;
    esac
    _hte_probe "$root" "$dev" || rc=$?
    envdir=$home/$_hte_key
    if [ "$rc" = 0 ] && _hte_complete "$envdir" "$_hte_key"; then
        export VIRTUAL_ENV="$envdir"
        _hte_prepend PATH "$envdir/bin"
        unset PYTHONHOME
        hash -r 2>/dev/null
        return 0
    fi
    hash -r 2>/dev/null
    _hte_in_container && return 0
    case $rc in
        0) echo "helpers: no thin env yet ($envdir): run $root/dev_scripts/thin_env/build.sh$flag" ;;
        127) echo "error: python not found (HELPERS_PYTHON=$_hte_py): install python3 >= 3.9 or set HELPERS_PYTHON to one" ;;
        3) echo "error: python $_hte_version is too old, 3.9+ needed ($_hte_py): install a newer python3 or set HELPERS_PYTHON to one" ;;
        *) echo "error: cannot run python ($_hte_py): $_hte_error" ;;
    esac >&2
    return 1
}

_hte_rc=0
_hte_setenv "$@" || _hte_rc=$?
unset -f _hte_setenv _hte_drop _hte_prepend _hte_machine_env _hte_in_container \
    _hte_root _hte_home _hte_probe _hte_complete
unset _hte_self _HTE_PROBE _HTE_MARKER _hte_py _hte_version _hte_key _hte_venv_ok \
    _hte_exe _hte_error
eval "unset _hte_rc; return $_hte_rc"
