# Sourced by test.sh and demo.sh: bring up what a fresh machine lacks, then
# activate the thin env. Usage: setup_machine "<bootstrap flags>" "<build.sh flags>"
setup_machine() {
    local root=$1 boot_flags=$2 env_flags=$3
    # Behind a TLS-intercepting proxy the host's declared CA bundle (SSL_CERT_FILE)
    # must be trusted in image builds too (pip): record it as a machine setting, so
    # every later shell (setenv.sh reads machine.env) builds with the same inputs.
    if [ -z "${HELPERS_EXTRA_CA_CERTS:-}" ] && [ -f "${SSL_CERT_FILE:-}" ]; then
        boot_flags="$boot_flags --ca-certs $SSL_CERT_FILE"
    fi
    # shellcheck disable=SC2086 # flags are word lists on purpose
    "$root/dev_scripts/engine/bootstrap.sh" $boot_flags
    # shellcheck disable=SC2086
    "$root/dev_scripts/thin_env/build.sh" $env_flags
    # `source` without arguments would pass this function's own arguments on.
    # shellcheck disable=SC2086
    set -- $env_flags
    # shellcheck source=thin_env/setenv.sh
    source "$root/dev_scripts/thin_env/setenv.sh" "$@"
}
