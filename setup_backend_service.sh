#!/usr/bin/env bash
# Install the part-management backend as a hardened systemd service; --dry-run previews it.
set -euo pipefail
# The venv and folders made here must stay readable by the service user whatever root's umask.
umask 022

PROJECT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
SERVICE_USER="${SERVICE_USER:-aerie}"
SERVICE_GROUP="${SERVICE_GROUP:-$SERVICE_USER}"
SERVICE_PORT="${SERVICE_PORT:-8000}"
SERVICE_HOST="${SERVICE_HOST:-0.0.0.0}"
SERVICE_MODE="${SERVICE_MODE:-prod-waitress}"
SERVICE_NAME="${SERVICE_NAME:-part-management-backend}"
VENV_PATH="${VENV_PATH:-$PROJECT_DIR/.venv}"
# An empty UV_BIN (set but blank) forces plain pip even when uv is installed.
UV_BIN="${UV_BIN-$(command -v uv || true)}"
PYTHON_BIN="${PYTHON_BIN:-python3}"
UNIT_DIR=/etc/systemd/system
DRY_RUN=0
CONFIG_PYTHON=""
INTERPRETER=""
WRITABLE_DIRS=()

usage() {
  cat <<EOF
Usage: $(basename "$0") [--dry-run] [--help]

Installs the backend in $PROJECT_DIR as the systemd service SERVICE_NAME:
creates a non-root system user, a venv with requirements.txt, config.json (if missing,
with a generated SECRET_KEY), the data folders, and a hardened unit; then enables and
(re)starts it. Needs root, except with --dry-run, which only prints the actions (stderr)
and the unit (stdout) and changes nothing.

Environment overrides (current value):
  SERVICE_USER   ($SERVICE_USER)  created as a system user if missing; never root
  SERVICE_GROUP  ($SERVICE_GROUP)
  SERVICE_PORT   ($SERVICE_PORT)
  SERVICE_HOST   ($SERVICE_HOST)  127.0.0.1 behind a reverse proxy on the same machine
  SERVICE_MODE   ($SERVICE_MODE)  prod-waitress (default), prod-gunicorn or prod-gevent
  SERVICE_NAME   ($SERVICE_NAME)
  VENV_PATH      ($VENV_PATH)
  UV_BIN         (${UV_BIN:-none: pip is used})
  PYTHON_BIN     ($PYTHON_BIN)
EOF
}

die() {
  printf 'setup_backend_service: %s\n' "$*" >&2
  exit 1
}

note() {
  printf 'setup_backend_service: %s\n' "$*" >&2
}

# Runs a command, or in dry-run mode only says what it would run.
run() {
  if ((DRY_RUN)); then
    printf '[dry-run] would run:' >&2
    printf ' %q' "$@" >&2
    printf '\n' >&2
  else
    "$@"
  fi
}

parse_args() {
  local arg
  for arg in "$@"; do
    case "$arg" in
      --dry-run) DRY_RUN=1 ;;
      -h | --help)
        usage
        exit 0
        ;;
      *) die "unknown argument: $arg (see --help)" ;;
    esac
  done
}

# Paths end up inside the unit file, where spaces, quotes, % and $ would change their meaning.
check_path() {
  local label="$1" path="$2"
  [[ "$path" == /* ]] || die "$label must be an absolute path: $path"
  [[ "$path" =~ ^[A-Za-z0-9._/+:@-]+$ ]] || die "$label holds characters a unit file cannot take: $path"
}

check_settings() {
  [[ "$SERVICE_USER" =~ ^[a-z_][a-z0-9_-]*$ ]] || die "SERVICE_USER is not a valid user name"
  [[ "$SERVICE_GROUP" =~ ^[a-z_][a-z0-9_-]*$ ]] || die "SERVICE_GROUP is not a valid group name"
  [[ "$SERVICE_USER" != root && "$SERVICE_GROUP" != root ]] || die "the service must not run as root"
  if ! [[ "$SERVICE_PORT" =~ ^[0-9]{1,5}$ ]] || ((SERVICE_PORT < 1 || SERVICE_PORT > 65535)); then
    die "SERVICE_PORT must be a number from 1 to 65535"
  fi
  [[ "$SERVICE_HOST" =~ ^[0-9A-Fa-f.:]+$ ]] || die "SERVICE_HOST must be an IP address (0.0.0.0, 127.0.0.1, ::)"
  case "$SERVICE_MODE" in
    prod | prod-gunicorn | prod-waitress | prod-gevent) ;;
    *) die "SERVICE_MODE must be prod, prod-waitress, prod-gunicorn or prod-gevent" ;;
  esac
  [[ "$SERVICE_NAME" =~ ^[A-Za-z0-9@._-]+$ ]] || die "SERVICE_NAME is not a valid unit name"
  check_path "the project folder" "$PROJECT_DIR"
  check_path VENV_PATH "$VENV_PATH"
  local file
  for file in deploy.py requirements.txt create_config.py config.py; do
    [[ -f "$PROJECT_DIR/$file" ]] || die "$PROJECT_DIR/$file is missing"
  done
}

check_host() {
  ((DRY_RUN)) && return 0
  ((EUID == 0)) || die "run as root (or use --dry-run to preview)"
  command -v systemctl >/dev/null || die "systemctl not found: this script needs systemd"
  if [[ -z "$UV_BIN" ]]; then
    command -v "$PYTHON_BIN" >/dev/null || die "PYTHON_BIN ($PYTHON_BIN) not found"
  fi
}

ensure_account() {
  if ! getent group "$SERVICE_GROUP" >/dev/null; then
    run groupadd --system "$SERVICE_GROUP"
  fi
  local uid
  if uid="$(id -u "$SERVICE_USER" 2>/dev/null)"; then
    [[ "$uid" != 0 ]] || die "SERVICE_USER $SERVICE_USER has uid 0"
    return 0
  fi
  run useradd --system --gid "$SERVICE_GROUP" --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin "$SERVICE_USER"
}

ensure_venv() {
  local python="$VENV_PATH/bin/python"
  local extra=()
  # gevent is not a runtime requirement of the other modes, so requirements.txt may lack it.
  [[ "$SERVICE_MODE" == prod-gevent ]] && extra=(gevent)
  if [[ -n "$UV_BIN" ]]; then
    [[ -x "$python" ]] || run "$UV_BIN" venv --python "$PYTHON_BIN" "$VENV_PATH"
    run "$UV_BIN" pip install --python "$python" -r "$PROJECT_DIR/requirements.txt" "${extra[@]}"
  else
    [[ -x "$python" ]] || run "$PYTHON_BIN" -m venv "$VENV_PATH"
    run "$python" -m pip install --disable-pip-version-check \
      -r "$PROJECT_DIR/requirements.txt" "${extra[@]}"
  fi
}

# The venv's python once it exists; config.py needs only the standard library before that.
choose_config_python() {
  CONFIG_PYTHON="$PYTHON_BIN"
  if [[ -x "$VENV_PATH/bin/python" ]]; then
    CONFIG_PYTHON="$VENV_PATH/bin/python"
  fi
}

ensure_config() {
  local config_file="$PROJECT_DIR/config.json"
  if [[ ! -f "$config_file" ]]; then
    run "$CONFIG_PYTHON" "$PROJECT_DIR/create_config.py" --non-interactive \
      --output "$config_file" --port "$SERVICE_PORT"
  fi
  # The service reads it as SERVICE_USER; nobody else needs to.
  run chown "$SERVICE_USER:$SERVICE_GROUP" "$config_file"
  run chmod 0600 "$config_file"
}

find_writable_dirs() {
  local listing dir
  # A dry run must not even leave a __pycache__ behind.
  listing="$(PYTHONDONTWRITEBYTECODE=1 "$CONFIG_PYTHON" "$PROJECT_DIR/create_config.py" \
    --print-writable-paths \
    --output "$PROJECT_DIR/config.json")" || die "cannot read the folders from config.json"
  while IFS= read -r dir; do
    [[ -n "$dir" ]] || continue
    check_path "a data folder" "$dir"
    # SQLite writes its journal beside the database: that folder must not hold the code.
    [[ "$PROJECT_DIR/" != "${dir%/}/"* ]] ||
      die "$dir holds the project itself; keep data in $PROJECT_DIR/data (DATABASE_URL=sqlite:///data/parts.db)"
    WRITABLE_DIRS+=("$dir")
  done <<<"$listing"
}

ensure_writable_dirs() {
  local dir
  for dir in "${WRITABLE_DIRS[@]}"; do
    if [[ "$dir" == "$PROJECT_DIR/"* ]]; then
      run install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_GROUP" "$dir"
      # Files left by the old service, which ran as root, must become the new user's.
      run chown -R "$SERVICE_USER:$SERVICE_GROUP" "$dir"
    elif [[ ! -d "$dir" ]]; then
      run install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_GROUP" "$dir"
    else
      note "$dir exists outside the project: make sure $SERVICE_USER can write to it"
    fi
  done
}

# ProtectHome=yes would hide a project (or data) kept under /home or /root from the service.
protect_home_value() {
  local path
  for path in "$PROJECT_DIR" "$VENV_PATH" "$INTERPRETER" "${WRITABLE_DIRS[@]}"; do
    case "$path/" in
      /home/* | /root/* | /run/user/*)
        echo read-only
        return 0
        ;;
      *) ;;
    esac
  done
  echo yes
}

# Ports below 1024 need this one capability; every other one is dropped.
capability_lines() {
  if ((SERVICE_PORT < 1024)); then
    printf 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n'
  else
    printf 'CapabilityBoundingSet=\nAmbientCapabilities=\n'
  fi
}

render_unit() {
  local protect_home capabilities
  protect_home="$(protect_home_value)"
  capabilities="$(capability_lines)"
  cat <<EOF
[Unit]
Description=Aerie part management backend ($SERVICE_MODE on port $SERVICE_PORT)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=$SERVICE_USER
Group=$SERVICE_GROUP
WorkingDirectory=$PROJECT_DIR
Environment=FLASK_ENV=production
Environment=PYTHONUNBUFFERED=1
ExecStart=$VENV_PATH/bin/python $PROJECT_DIR/deploy.py $SERVICE_MODE --port $SERVICE_PORT --host $SERVICE_HOST
Restart=on-failure
RestartSec=5
UMask=0027
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=$protect_home
ReadWritePaths=${WRITABLE_DIRS[*]}
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
SystemCallArchitectures=native
SystemCallFilter=@system-service
$capabilities

[Install]
WantedBy=multi-user.target
EOF
}

# The interpreter the venv really runs: a pyenv or uv build under /root is out of the service's reach.
find_interpreter() {
  local python="$VENV_PATH/bin/python"
  [[ -x "$python" ]] || python="$(command -v "$PYTHON_BIN" || true)"
  [[ -n "$python" ]] || return 0
  INTERPRETER="$(readlink -f "$python" || true)"
}

# The service user must reach the code through every parent folder (/root is 0700).
check_service_user_access() {
  ((DRY_RUN)) && return 0
  runuser -u "$SERVICE_USER" -- test -r "$PROJECT_DIR/deploy.py" ||
    die "$SERVICE_USER cannot read $PROJECT_DIR: move the project to e.g. /opt or /srv"
  runuser -u "$SERVICE_USER" -- test -x "$INTERPRETER" ||
    die "$SERVICE_USER cannot run $INTERPRETER: remove $VENV_PATH and set PYTHON_BIN=/usr/bin/python3"
}

install_unit() {
  local unit="$1" target="$UNIT_DIR/$SERVICE_NAME.service" temporary
  if ((DRY_RUN)); then
    note "[dry-run] would write $target:"
    printf '%s\n' "$unit"
    note "[dry-run] would run: systemctl daemon-reload; systemctl enable $SERVICE_NAME; systemctl restart $SERVICE_NAME"
    return 0
  fi
  temporary="$(mktemp "$UNIT_DIR/.$SERVICE_NAME.XXXXXX")"
  printf '%s\n' "$unit" >"$temporary"
  chmod 0644 "$temporary"
  mv -f "$temporary" "$target"
  systemctl daemon-reload
  systemctl enable "$SERVICE_NAME"
  systemctl restart "$SERVICE_NAME"
  note "installed $target; follow it with: journalctl -u $SERVICE_NAME -f"
}

main() {
  parse_args "$@"
  check_settings
  check_host
  ensure_account
  ensure_venv
  find_interpreter
  check_service_user_access
  choose_config_python
  ensure_config
  find_writable_dirs
  ensure_writable_dirs
  local unit
  unit="$(render_unit)"
  install_unit "$unit"
}

main "$@"
