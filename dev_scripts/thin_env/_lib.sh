# shellcheck shell=bash
# Shared by build.sh (executed) and setenv.sh (sourced into the user's shell).
# Defines variables and functions only: no `set`, no `exit`, no output.
# Works in bash >= 3.2 and zsh.

# The marker build.sh writes as its very last step; its content is the env's key.
_HTE_MARKER=.helpers-thin-env-complete

# Runs with any python, as `python -E -S` (fast: no site; fixed: no env vars).
# Checks the version first, in py2-safe syntax, so an old python still gets a
# clear message; then hashes the requirement files and the interpreter into the
# env key. Prints "VERSION KEY VENV_OK EXECUTABLE"; exit code 3: python too old.
_HTE_PROBE='
import sys
v = "%d.%d.%d" % tuple(sys.version_info[:3])
if tuple(sys.version_info[:2]) < (3, 9):
    sys.stdout.write(v + "\n")
    sys.exit(3)
import hashlib, importlib.util, os
exe = sys.executable
cfg = os.path.join(os.path.dirname(os.path.dirname(exe)), "pyvenv.cfg")
if os.path.isfile(cfg):  # a venv (the thin env itself, after setenv.sh): key by its base
    home = ""
    with open(cfg) as f:
        for line in f:
            if line.split("=")[0].strip() == "home":
                home = line.split("=", 1)[1].strip()
    base = os.path.join(home, os.path.basename(exe)) if home else ""
    if base and os.path.exists(base):
        exe = base  # the same key inside the env as outside it
h = hashlib.sha256(b"helpers-thin-env-1\0")
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        h.update(f.read() + b"\0")
h.update(sys.version.encode() + b"\0" + exe.encode())
ok = all(importlib.util.find_spec(m) for m in ("venv", "ensurepip"))
print(v, h.hexdigest()[:16], int(ok), exe)
'

# The helpers checkout holding the calling script (absolute, symlinks resolved).
# $1: path of the calling script (dev_scripts/thin_env/*.sh).
_hte_root() {
    (CDPATH='' cd -- "$(dirname -- "$1")/../.." && pwd -P)
}

# Where the envs live, outside any repo (absolute).
_hte_home() {
    local home="${HELPERS_THIN_ENV_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/helpers/thin_env}"
    case $home in
        /*) printf '%s\n' "$home" ;;
        *) printf '%s\n' "$PWD/$home" ;;
    esac
}

# Probes ${HELPERS_PYTHON:-python3}. $1: helpers root, $2: 1 for --dev.
# Sets _hte_py _hte_version _hte_key _hte_venv_ok _hte_exe, or _hte_error.
# Returns 0 ok, 127 python not found, 3 python too old, 1 probe failed.
_hte_probe() {
    local dir="$1/dev_scripts/thin_env" out rc=0
    _hte_py="${HELPERS_PYTHON:-python3}"
    _hte_version='' _hte_key='' _hte_venv_ok='' _hte_exe='' _hte_error=''
    command -v "$_hte_py" >/dev/null 2>&1 || return 127
    # The launcher build.sh installs as bin/invoke is part of the env: a change rebuilds it.
    if [ "$2" = 1 ]; then
        set -- "$dir/requirements.txt" "$dir/invoke_launcher.py" "$dir/requirements-dev.txt"
    else
        set -- "$dir/requirements.txt" "$dir/invoke_launcher.py"
    fi
    out=$("$_hte_py" -E -S -c "$_HTE_PROBE" "$@" 2>&1) || rc=$?
    out=${out##*$'\n'} # the last line: the answer, or the error ending a traceback
    case $rc in
        0)
            read -r _hte_version _hte_key _hte_venv_ok _hte_exe <<<"$out"
            [ -n "$_hte_exe" ] && return 0
            _hte_error="unexpected output: $out"
            return 1
            ;;
        3) _hte_version=$out && return 3 ;;
        *) _hte_error=$out && return 1 ;;
    esac
}

# True when dir $1 is a finished env for key $2 whose interpreter still exists.
_hte_complete() {
    local key=''
    [ -x "$1/bin/python" ] && [ -f "$1/$_HTE_MARKER" ] &&
        read -r key <"$1/$_HTE_MARKER" && [ "$key" = "$2" ]
}
