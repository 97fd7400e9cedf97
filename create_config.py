#!/usr/bin/env python3
"""Write config.json (mode 0600) from prompts or flags, keeping the values already there."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import secrets
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import config
from utils.file_store_url import is_object_store
from utils.files_io import write_atomic
from utils.setting_checks import check_value, secret_key_problem, writable_folders

# The settings worth asking about, in prompt order, with the question shown for each.
PROMPTS: dict[str, str] = {
    "SECRET_KEY": "API key that clients send (also the wipe password)",
    "DATABASE_URL": "Database URL (sqlite:///data/parts.db, postgresql://user:pass@host/db)",
    "FLASK_ENV": "Environment: production, development or testing",
    "PORT": "Port the server listens on",
    "CORS_ORIGINS": "Browser origins allowed to call the API, comma-separated",
    "BASE_PATH": "Sub-path the app is served under, e.g. /pms (empty = site root)",
    "UPLOAD_FOLDER": "Folder for uploaded files (relative = inside the project folder)",
    "FILE_STORE_URL": "File store: empty = UPLOAD_FOLDER, a folder, or s3://bucket/prefix "
    "(its AWS_* keys: in the environment only)",
    "S3_ENDPOINT_URL": "S3 server of a non-AWS store, e.g. http://minio:9000 (empty = AWS S3)",
    "ONSHAPE_CLIENT_ID": "Onshape OAuth client id (empty = no Onshape connection)",
    "ONSHAPE_CLIENT_SECRET": "Onshape OAuth client secret",
    "ONSHAPE_REDIRECT_URI": "Onshape OAuth redirect URI (https://HOST/api/parts/auth/onshape/callback)",
    "ONSHAPE_ACCESS_KEY": "Onshape API access key (fallback when not connected by OAuth)",
    "ONSHAPE_SECRET_KEY": "Onshape API secret key",
    "RATELIMIT_STORAGE_URI": "Rate limits: memory://, sqlite:///file (one host), redis://host:6379",
    "TASK_QUEUE_URL": "Task queue: empty = in each server, redis://host:6379/0 = `flask worker`s",
}
# Values never shown on screen, not even as a prompt default.
SECRET_SETTINGS = frozenset({"SECRET_KEY", "ONSHAPE_SECRET_KEY", "ONSHAPE_CLIENT_SECRET"})
# URLs whose password (if any) a prompt default shows as ***.
URL_SETTINGS = frozenset({"DATABASE_URL", "RATELIMIT_STORAGE_URI", "TASK_QUEUE_URL"})
# Defaults for a shop server where they differ from config.BaseConfig; data/ keeps the
# database out of the project folder so a hardened service can leave the code read-only.
SERVER_DEFAULTS: dict[str, Any] = {
    "FLASK_ENV": "production",
    "DATABASE_URL": "sqlite:///data/parts.db",
    "PORT": 8000,
}
# The old deploy.py's database; an upgraded server must keep using it, not start empty.
LEGACY_DATABASE_URL = "sqlite:///parts_prod.db"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line: output path, mode, and one flag per non-secret prompted setting."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--output",
        type=Path,
        help="file to write (default: $CONFIG_FILE, else config.json next to config.py)",
    )
    parser.add_argument("--non-interactive", action="store_true", help="never prompt")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any setting from config.py; note that other local users can read the command line",
    )
    parser.add_argument("--rotate-secret-key", action="store_true", help="generate a new key")
    parser.add_argument(
        "--print-writable-paths",
        action="store_true",
        help="print the folders the server writes to (for the systemd unit) and exit",
    )
    for key in PROMPTS:
        if key not in SECRET_SETTINGS:
            parser.add_argument(flag_name(key), dest=key, metavar="VALUE", help=PROMPTS[key])
    return parser.parse_args(argv)


def flag_name(key: str) -> str:
    return "--" + key.lower().replace("_", "-")


def output_path(given: Path | None) -> Path:
    """Where the app reads its file: --output, else $CONFIG_FILE, else next to config.py."""
    if given is None:
        env_path = os.environ.get("CONFIG_FILE")
        given = Path(env_path) if env_path else config.DEFAULT_CONFIG_FILE
    return given.expanduser().resolve()


def read_existing(path: Path) -> dict[str, Any]:
    """The current file's values, unknown keys included (they are kept, with a warning)."""
    try:
        data = config.read_json_object(path)
    except config.ConfigError as exc:
        raise config.ConfigError(f"{exc}; fix or move it first") from exc
    for key in config.unknown_keys(data):
        warn(f"{path}: unknown key {key} kept as it is (the app ignores it)")
    return data


def parse_value(key: str, text: str) -> Any:
    """Turn typed text into the type of the setting's default (as the app reads the
    environment), then check it."""
    default = getattr(config.BaseConfig, key)
    try:
        value = config.coerce_value(key, text.strip(), default)
    except config.ConfigError:
        if isinstance(default, bool) or not isinstance(default, int | float):
            raise
        # The prompts ask for "a number" (whole or not), so the answer says the same.
        raise config.ConfigError(f"{key} must be a number") from None
    return check_value(key, value)


def given_values(args: argparse.Namespace) -> dict[str, Any]:
    """Values from the named flags and --set KEY=VALUE, parsed and checked."""
    raw = {key: getattr(args, key) for key in PROMPTS if getattr(args, key, None) is not None}
    known = config.setting_names()
    for item in args.set:
        key, sep, text = item.partition("=")
        key = key.strip().upper()
        if not sep:
            raise config.ConfigError(f"--set needs KEY=VALUE, got {key}")
        if key not in known:
            raise config.ConfigError(f"unknown setting {key}; known: {', '.join(known)}")
        raw[key] = text
    return {key: parse_value(key, text) for key, text in raw.items()}


def default_for(key: str, existing: Mapping[str, Any], rotate: bool) -> Any:
    """The value Enter (or --non-interactive) keeps; None for SECRET_KEY means generate."""
    if key == "SECRET_KEY":
        current = existing.get("SECRET_KEY")
        if current and (problem := secret_key_problem(current)):
            warn(f"{problem} in the existing file: it will be replaced")
        return None if rotate or secret_key_problem(current) else current
    if key in existing:
        return existing[key]
    if key == "DATABASE_URL" and (config.PROJECT_ROOT / "parts_prod.db").is_file():
        return LEGACY_DATABASE_URL
    return SERVER_DEFAULTS.get(key, getattr(config.BaseConfig, key))


def shown_default(key: str, default: Any) -> str:
    """The default as printed in a prompt: secrets and passwords in URLs stay hidden."""
    if key == "SECRET_KEY":
        return "keep the current key" if default else "generate a strong random key"
    if key in SECRET_SETTINGS:
        return "keep the current value" if default else "none"
    if isinstance(default, list):
        return ",".join(str(item) for item in default)
    if key in URL_SETTINGS and default and urlsplit(str(default)).password:
        parts = urlsplit(default)
        return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()
    return str(default)


def read_answer(key: str, prompt: str) -> str:
    """One line from the user; secrets are not echoed when a terminal is attached."""
    if key in SECRET_SETTINGS and sys.stdin.isatty():
        return getpass.getpass(prompt)
    return input(prompt)


def ask(key: str, default: Any, read: Callable[[str, str], str] = read_answer) -> Any:
    """Prompt until the answer is valid; Enter or end of input keeps the default, - clears."""
    while True:
        try:
            answer = read(key, f"{PROMPTS[key]}\n  {key} [{shown_default(key, default)}]: ")
        except EOFError:
            print()
            return default
        if not answer.strip():
            return default
        try:
            # "-" is the only way to clear a value, since an empty answer keeps the default.
            return parse_value(key, "" if answer.strip() == "-" else answer)
        except config.ConfigError as exc:
            warn(f"{exc}; try again")


def build_config(
    existing: Mapping[str, Any], given: Mapping[str, Any], interactive: bool, rotate: bool
) -> tuple[dict[str, Any], bool]:
    """Existing values, then flags, then prompts (or defaults); returns (values, generated)."""
    values = {**existing, **given}
    for key in PROMPTS:
        if key in given:
            continue
        default = default_for(key, existing, rotate)
        values[key] = ask(key, default) if interactive and asked(key, values) else default
    generated = values["SECRET_KEY"] is None
    if generated:
        values["SECRET_KEY"] = secrets.token_urlsafe(48)
    return values, generated


def asked(key: str, values: Mapping[str, Any]) -> bool:
    """S3_ENDPOINT_URL means something only with an object store: not asked about otherwise."""
    return key != "S3_ENDPOINT_URL" or is_object_store(str(values.get("FILE_STORE_URL") or ""))


def is_special_file(path: Path) -> bool:
    """A device, pipe or folder: never a settings file to write. CONFIG_FILE=/dev/null tells
    the server to read none, and as root the rename would replace the device itself."""
    return path.exists() and not path.is_file()


def check_target(path: Path) -> None:
    if is_special_file(path):
        raise config.ConfigError(f"{path} is not a file to write: pass --output FILE")


def write_config_atomically(path: Path, values: Mapping[str, Any]) -> None:
    """Write a temporary file created 0600 (the secret is never readable by others, not even
    briefly) with the old file's owner, then rename it over the old one."""
    check_target(path)
    text = json.dumps(values, indent=2) + "\n"
    write_atomic(path, text.encode("utf-8"), lambda descriptor: keep_owner(descriptor, path))


def keep_owner(descriptor: int, path: Path) -> None:
    """Root rewriting a service user's file must leave it readable by that service."""
    if not path.exists() or not hasattr(os, "fchown"):
        return
    current = path.stat()
    if (current.st_uid, current.st_gid) == (os.geteuid(), os.getegid()):
        return
    try:
        os.fchown(descriptor, current.st_uid, current.st_gid)
    except PermissionError:
        warn(f"could not keep the owner of {path}; the server may no longer read it")


# Prints the key from the file to the terminal that asks (the file is 0600: run as its owner).
READ_KEY_COMMAND = (
    "python3 -c \"import json,sys; print(json.load(open(sys.argv[1]))['SECRET_KEY'])\" {path}"
)


def warn(message: str) -> None:
    print(f"create_config: {message}", file=sys.stderr)


def report(path: Path, values: Mapping[str, Any], generated: bool) -> None:
    """Say what was written, by key name only: values may be secrets. A new key is shown
    once, and only to a person at a terminal; output that goes to a file or a journal (a
    script, the systemd set-up) gets the command that reads it instead."""
    print(f"Wrote {path} (mode 0600) with: {', '.join(sorted(values))}")
    if not generated:
        return
    if sys.stdout.isatty():
        print(
            f"A new SECRET_KEY (the API key) was generated; it is shown this once:\n\n"
            f"    {values['SECRET_KEY']}\n"
        )
    else:
        print(f"A new SECRET_KEY was generated and stored in {path}.")
    print(f"Read it again with: {READ_KEY_COMMAND.format(path=path)}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    path = output_path(args.output)
    try:
        existing = read_existing(path)
        if args.print_writable_paths:
            folders = writable_folders(existing, SERVER_DEFAULTS["DATABASE_URL"])
            print("\n".join(str(folder) for folder in folders))
            return 0
        check_target(path)  # before any prompt
        given = given_values(args)
        if not args.non_interactive:
            print(f"Writing {path}. Enter keeps the value in brackets; - clears it.")
        values, generated = build_config(
            existing, given, not args.non_interactive, args.rotate_secret_key
        )
        write_config_atomically(path, values)
    except config.ConfigError as exc:
        warn(str(exc))
        return 2
    except OSError as exc:
        warn(f"cannot write {path}: {exc.strerror or exc}")
        return 1
    report(path, values, generated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
