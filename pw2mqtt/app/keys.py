"""`pw2mqtt keys`: make, show, export and import the signing key for signed local control.

One key serves every gateway (`<state_dir>/tedapi-key.pem`) unless `--gateway SLUG` asks for a
gateway's own (`<state_dir>/<slug>/tedapi-key.pem`). The private key is never printed; the
fingerprint is, wherever the user has to recognise the key.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

from pw2mqtt.config import load_settings
from pw2mqtt.gateway.tedapi.errors import (
    KeyFileAccessError,
    KeyFileExistsError,
    KeyStoreError,
    UnsupportedKeyError,
)
from pw2mqtt.gateway.tedapi.keys import (
    KEY_SIZE,
    SigningKey,
    generate_key,
    import_key,
    key_path_for,
    load_key,
    resolve_key_path,
    save_key,
)

EXIT_KEY = 1
EXIT_USAGE = 2
_MAX_IMPORT_BYTES: Final = 64 * 1024


def add_key_location(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML configuration file (for its state_dir)")
    parser.add_argument("--state-dir", type=Path, help="where the key is kept")
    parser.add_argument(
        "--gateway", metavar="SLUG", help="the gateway's own key instead of the shared one"
    )


def add_keys_arguments(keys: argparse.ArgumentParser) -> None:
    actions = keys.add_subparsers(title="actions", metavar="ACTION", required=True)
    generate = actions.add_parser("generate", help="create a new RSA-4096 key (mode 0600)")
    add_key_location(generate)
    generate.add_argument("--force", action="store_true", help="replace an existing key")
    generate.add_argument("--bits", type=int, default=KEY_SIZE, help=argparse.SUPPRESS)
    generate.set_defaults(handler=run_generate)
    show = actions.add_parser("show", help="where the key is, its fingerprint, size and mode")
    add_key_location(show)
    show.set_defaults(handler=run_show)
    export = actions.add_parser("export-public", help="print the public key alone")
    add_key_location(export)
    export.add_argument(
        "--format",
        choices=["pem", "der-base64"],
        default="pem",
        help="PEM (SubjectPublicKeyInfo) or base64 PKCS#1 DER, as Tesla's pairing takes it",
    )
    export.set_defaults(handler=run_export)
    imported = actions.add_parser("import", help="use a PEM private key made by another tool")
    imported.add_argument("file", type=Path, metavar="FILE", help="PEM private key (PKCS#1/#8)")
    add_key_location(imported)
    imported.add_argument("--force", action="store_true", help="replace an existing key")
    imported.set_defaults(handler=run_import)


def state_dir_of(args: argparse.Namespace) -> Path:
    if args.state_dir is not None:
        return Path(args.state_dir)
    return load_settings(args.config).state_dir


def run_generate(args: argparse.Namespace) -> int:
    return _guarded(_generate, args)


def run_show(args: argparse.Namespace) -> int:
    return _guarded(_show, args)


def run_export(args: argparse.Namespace) -> int:
    return _guarded(_export, args)


def run_import(args: argparse.Namespace) -> int:
    return _guarded(_import, args)


def _guarded(action: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        result: int = action(args)
    except KeyStoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_KEY
    except ValueError as err:  # a slug that cannot name a directory
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    return result


def _generate(args: argparse.Namespace) -> int:
    path = key_path_for(state_dir_of(args), args.gateway)
    existed = path.exists()
    if existed and not args.force:
        raise KeyFileExistsError(path)
    key = generate_key(key_size=args.bits)
    save_key(key, path, replace=args.force)
    _describe("created", key, path)
    if existed:
        print("the previous key was replaced: a gateway paired with it must be paired again")
    print("next: pw2mqtt pair")
    return 0


def _show(args: argparse.Namespace) -> int:
    path = resolve_key_path(state_dir_of(args), args.gateway)
    key = load_key(path)
    scope = "shared by all gateways" if path.parent == state_dir_of(args) else "this gateway's own"
    mode = stat.S_IMODE(os.stat(path).st_mode)
    print(f"key file     {path}  ({scope})")
    print(f"fingerprint  {key.fingerprint}")
    print(f"size         {key.key_size} bits")
    print(f"mode         {mode:04o}")
    return 0


def _export(args: argparse.Namespace) -> int:
    key = load_key(resolve_key_path(state_dir_of(args), args.gateway))
    if args.format == "pem":
        sys.stdout.write(key.public_key_pem)
    else:
        print(key.public_key_base64)
    return 0


def _import(args: argparse.Namespace) -> int:
    source: Path = args.file
    try:
        with source.open("rb") as file:
            pem = file.read(_MAX_IMPORT_BYTES + 1)
    except OSError as err:
        raise KeyFileAccessError(source, f"cannot read it ({err.strerror or err})") from None
    if len(pem) > _MAX_IMPORT_BYTES:
        raise UnsupportedKeyError("the file is too large to be a PEM private key", source)
    key = import_key(pem, source)
    path = key_path_for(state_dir_of(args), args.gateway)
    save_key(key, path, replace=args.force)
    _describe("imported", key, path)
    print(f"the key is kept in {path}; {source} is no longer needed by pw2mqtt")
    return 0


def _describe(verb: str, key: SigningKey, path: Path) -> None:
    print(f"{verb} {path} ({key.key_size} bits, mode 0600)")
    print(f"fingerprint  {key.fingerprint}")
