# Shared by scripts/demo.sh, scripts/test.sh and .ci/run: install what a fresh machine lacks.
# Debian packages need root (apt-get); web packages come from the npm registry into web/node_modules.

# ensure_packages PKG... — installs the Debian packages that are not installed yet.
ensure_packages() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null; then
            sudo="sudo"
        else
            echo "missing Debian packages: ${missing[*]}; install them as root: apt-get install -y ${missing[*]}" >&2
            return 1
        fi
    fi
    echo "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# ensure_web_modules — web/node_modules from web/package-lock.json (MapLibre, playwright-core).
ensure_web_modules() {
    if ! command -v npm >/dev/null; then
        ensure_packages nodejs npm
    fi
    if [ ! -f web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
        (cd web && npm ci --no-audit --no-fund)
    fi
}

# ensure_sqlx_cli — `cargo sqlx` of the same version as the sqlx crate, from crates.io (postgres only).
ensure_sqlx_cli() {
    if ! cargo sqlx --version 2>/dev/null | grep -q ' 0\.8\.6$'; then
        cargo install sqlx-cli --version 0.8.6 --locked --no-default-features --features postgres,rustls
    fi
}

# ensure_cargo_deny — `cargo deny` (licences, bans, sources, advisories), from crates.io.
ensure_cargo_deny() {
    if ! cargo deny --version 2>/dev/null | grep -q ' 0\.20\.2$'; then
        cargo install cargo-deny --version 0.20.2 --locked
    fi
}

# ensure_moto — moto's S3 server (PyPI moto[server] 5) in its own virtual environment under target/py, for the
# tests of photos on S3 (tests/it/s3.rs). Exports ROADLEDGER_MOTO_SERVER, the program the tests start.
ensure_moto() {
    local venv="${CARGO_TARGET_DIR:-target}/py"
    # The marker is written after a finished install: a half-done one (no network, interrupted) is redone.
    if [ ! -x "$venv/bin/moto_server" ] || [ ! -f "$venv/roadledger-moto-5" ]; then
        # Debian's python3 makes virtual environments only with python3-venv installed.
        if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
            ensure_packages python3 python3-venv
        fi
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.*'
        touch "$venv/roadledger-moto-5"
    fi
    ROADLEDGER_MOTO_SERVER="$(cd "$venv/bin" && pwd)/moto_server"
    export ROADLEDGER_MOTO_SERVER
}
