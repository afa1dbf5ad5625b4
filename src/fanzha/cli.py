"""Command line: serve the platform, migrate, manage users, extract entities, verify the audit log, trace."""

from __future__ import annotations

import importlib
import json
import os
import secrets
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, ClassVar

import typer
from typer import _click  # Typer vendors click: its groups hold these classes, not the `click` package's
from typer.core import TyperGroup

from fanzha.auth.roles import Role
from fanzha.config import Settings, get_settings
from fanzha.reports.cli import report_command


@cache
def _typer_group(target: str) -> TyperGroup:
    """The click group of the Typer app named ``module:attribute``, imported on first use."""
    module, _, attribute = target.partition(":")
    sub_app = getattr(importlib.import_module(module), attribute)
    if not isinstance(sub_app, typer.Typer):
        raise TypeError(f"{target} is not a Typer app")
    return typer.main.get_group(sub_app)


class _LazyCommands(MutableMapping[str, _click.Command]):
    """Commands by name; a lazy one is imported from its module's Typer app when first looked up."""

    def __init__(self, loaded: MutableMapping[str, _click.Command], lazy: Mapping[str, str]) -> None:
        self._loaded = loaded
        self._lazy = dict(lazy)

    def __getitem__(self, name: str) -> _click.Command:
        if name not in self._loaded and name in self._lazy:
            command = _typer_group(self._lazy[name]).commands[name]
            self._loaded[name] = command
        return self._loaded[name]

    def __setitem__(self, name: str, command: _click.Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._lazy.pop(name, None)
        self._loaded.pop(name, None)

    def __contains__(self, name: object) -> bool:  # without importing: Mapping's would look the command up
        return name in self._loaded or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        yield from self._loaded
        yield from (name for name in self._lazy if name not in self._loaded)

    def __len__(self) -> int:
        return len(self._loaded.keys() | self._lazy.keys())


class LazyGroup(TyperGroup):
    """A group whose commands live in modules that import polars, LightGBM, Dask...: each is imported only when
    it is run or its group's help is shown, so `fanzha --help` and the light commands start in a fraction of a
    second. Subclasses name them in ``lazy``: command name -> ``"module:typer_app"``."""

    lazy: ClassVar[Mapping[str, str]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LazyCommands(self.commands, self.lazy)

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return list(self.commands)  # names only: TyperGroup's .items() would import every command


_CDR = "fanzha.telecom.cdr_cli:cdr_app"
_DETECTOR = "fanzha.telecom.detector.cli:detector_app"


class TelecomGroup(LazyGroup):
    """One flat `fanzha telecom ...` group over the CDR and detector command lines."""

    lazy: ClassVar[Mapping[str, str]] = {"ingest": _CDR, "features": _CDR, "victims": _CDR,
                                         "train": _DETECTOR, "evaluate": _DETECTOR, "score": _DETECTOR}


class TraceGroup(LazyGroup):
    lazy: ClassVar[Mapping[str, str]] = {"csv": "fanzha.tracing.cli:trace_app"}


app = typer.Typer(help="fanzha (反诈): anti-telecom-fraud center operations platform", no_args_is_help=True)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
users_app = typer.Typer(help="Accounts for people and systems", no_args_is_help=True)
cases_app = typer.Typer(help="Cases and reports", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log", no_args_is_help=True)
sim_app = typer.Typer(help="Simulated partners, each its own process on loopback", no_args_is_help=True)
trace_app = typer.Typer(cls=TraceGroup, help="Follow victims' money through a ledger", no_args_is_help=True)
telecom_app = typer.Typer(cls=TelecomGroup, help="Fraud numbers: call records, features, the detector, "
                          "potential victims", no_args_is_help=True)
app.command("report")(report_command)
for sub, name in ((db_app, "db"), (users_app, "users"), (cases_app, "cases"), (audit_app, "audit"),
                  (sim_app, "sim"), (trace_app, "trace"), (telecom_app, "telecom")):
    app.add_typer(sub, name=name)

UrlOption = Annotated[str | None, typer.Option("--url", help="database URL (default FANZHA_DATABASE_URL)")]


def _settings(url: str | None) -> Settings:
    settings = get_settings()
    return settings.model_copy(update={"database_url": url}) if url else settings


def prepare_database(settings: Settings) -> None:
    """Migrate to the newest schema and load the reference organisations (idempotent)."""
    from fanzha.banking.runtime import ensure_auto_account
    from fanzha.orgs.service import seed_reference_orgs
    from fanzha.storage.db import Database
    from fanzha.storage.migrate import upgrade

    upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        with db.transaction() as session:
            seed_reference_orgs(session, settings.stationed_banks)
            ensure_auto_account(session)
    finally:
        db.dispose()


@db_app.command("upgrade")
def db_upgrade(url: UrlOption = None) -> None:
    """Apply migrations and load reference organisations (banks, carriers, hotlines, stations)."""
    settings = _settings(url)
    prepare_database(settings)
    typer.echo(f"database at {settings.database_url.split('@')[-1]} is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="loopback only unless you front it with TLS")] = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    url: UrlOption = None,
    upgrade: Annotated[bool, typer.Option(help="migrate the database first")] = True,
) -> None:
    """Run the console and API."""
    import uvicorn

    settings = _settings(url)
    if upgrade:
        prepare_database(settings)
    if url:
        import os

        os.environ["FANZHA_DATABASE_URL"] = url
    if workers > 1 and settings.database_url.startswith("sqlite"):
        raise typer.BadParameter("SQLite serves from one worker; use PostgreSQL for more", param_hint="--workers")
    from fanzha.banking.first_move import center_signer

    center_signer(settings)  # create and publish the center's key once, before workers start
    uvicorn.run("fanzha.asgi:app", host=host, port=port, workers=workers, log_level="info", access_log=False)


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[Role, typer.Option(help="the user's role")],
    org: Annotated[str, typer.Option(help="organisation code, e.g. center, bank:ABC, hotline:12345")],
    name: Annotated[str, typer.Option(help="display name")] = "",
    password_stdin: Annotated[bool, typer.Option(help="read the password from standard input")] = False,
    token: Annotated[str | None, typer.Option(help="also issue an API token with this name")] = None,
    url: UrlOption = None,
) -> None:
    """Create a person (password) or a system account (API token)."""
    from fanzha.auth import service
    from fanzha.storage.db import Database

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    if password is None and token is None:
        raise typer.BadParameter("give --password-stdin, --token NAME, or both")
    db = Database(_settings(url).database_url)
    try:
        with db.transaction() as session:
            user = service.create_user(session, None, username=username, display_name=name, role=role,
                                       org_code=org, password=password)
            issued = service.create_api_token(session, None, user, token) if token else None
    except service.AuthError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    finally:
        db.dispose()
    typer.echo(f"created {username} ({role.value} at {org})")
    if issued:
        typer.echo(f"API token (shown once): {issued}")


@users_app.command("list")
def users_list(url: UrlOption = None) -> None:
    from fanzha.auth import service
    from fanzha.storage.db import Database

    db = Database(_settings(url).database_url)
    try:
        with db.transaction() as session:
            for user, org in service.list_users(session):
                typer.echo(f"{user.username}\t{user.role}\t{org.code}\t{'active' if user.active else 'disabled'}")
    finally:
        db.dispose()


DEMO_USERS: tuple[tuple[str, Role, str, str], ...] = (
    ("duty", Role.DUTY_OFFICER, "center", "值班民警 王警官"),
    ("supervisor", Role.SUPERVISOR, "center", "中心主任 李"),
    ("op12345", Role.HOTLINE_OPERATOR, "hotline:12345", "12345话务员 张"),
    ("op110", Role.HOTLINE_OPERATOR, "hotline:110", "110接警员 陈"),
    ("abc", Role.BANK_LIAISON, "bank:ABC", "农行驻点 刘"),
    ("icbc", Role.BANK_LIAISON, "bank:ICBC", "工行驻点 赵"),
    ("cmcc", Role.CARRIER_LIAISON, "carrier:CMCC", "移动驻点 孙"),
    ("agent", Role.CALLBACK_AGENT, "center", "劝阻专员 周"),
    ("auditor", Role.AUDITOR, "center", "审计 吴"),
    ("admin", Role.ADMIN, "center", "系统管理员"),
)


@users_app.command("demo")
def users_demo(
    credentials: Annotated[Path, typer.Option(help="where to write the generated passwords")] = Path(
        "var/demo-credentials.txt"),
    url: UrlOption = None,
) -> None:
    """Create one account per role with fresh random passwords (for a local trial; never in production)."""
    from fanzha.auth import service
    from fanzha.storage.db import Database

    db = Database(_settings(url).database_url)
    lines = []
    try:
        with db.transaction() as session:
            for username, role, org, display in DEMO_USERS:
                password = secrets.token_urlsafe(9)
                user = service.user_by_username(session, username)
                if user is None:
                    service.create_user(session, None, username=username, display_name=display, role=role,
                                        org_code=org, password=password)
                else:
                    service.set_password(session, None, user, password)
                lines.append(f"{username}\t{password}\t{role.value}\t{org}")
    finally:
        db.dispose()
    credentials.parent.mkdir(parents=True, exist_ok=True)
    credentials.touch(mode=0o600)
    credentials.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Passwords go to a file only the owner can read, never to the terminal or a log.
    typer.echo(f"demo accounts: {', '.join(u for u, *_ in DEMO_USERS)}; passwords in {credentials}")


@cases_app.command("extract")
def cases_extract(
    file: Annotated[str, typer.Argument(help="a text file, or - for standard input")] = "-",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    received_at: Annotated[str | None, typer.Option(help="receipt time (ISO 8601 with offset); default now")] = None,
) -> None:
    """Pull amounts, accounts, phones, banks, times and the fraud type out of a narrative."""
    from fanzha.cases.extract import extract

    text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    when = datetime.fromisoformat(received_at) if received_at else None
    if when is not None and when.tzinfo is None:
        raise typer.BadParameter("needs a timezone offset, e.g. +08:00", param_hint="--received-at")
    result = extract(text, when).to_dict()
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    for key in ("amounts", "accounts", "phones", "banks", "times", "urls"):
        for item in result.get(key, []):
            shown = {k: v for k, v in item.items() if k not in ("span",)}
            typer.echo(f"{key[:-1]:8} {json.dumps(shown, ensure_ascii=False)}")
    ft = result["fraud_type"]
    typer.echo(f"type     {ft['name']} ({ft['confidence']:.2f})")


@audit_app.command("seal")
def audit_seal(url: UrlOption = None) -> None:
    """Chain every recorded entry not yet sealed (servers do this on their own every few ms)."""
    from fanzha.audit import service
    from fanzha.storage.db import Database

    db = Database(_settings(url).database_url)
    try:
        typer.echo(f"sealed {service.seal_pending(db)} entries")
    finally:
        db.dispose()


@audit_app.command("verify")
def audit_verify(url: UrlOption = None) -> None:
    """Exit 0 if the audit chain is intact; otherwise name the first edited, removed or reordered entry."""
    from fanzha.audit import service
    from fanzha.storage.db import Database

    db = Database(_settings(url).database_url)
    try:
        with db.transaction() as session:
            result = service.verify(session)
    finally:
        db.dispose()
    waiting = f"; {result.pending} recorded entries not yet sealed" if result.pending else ""
    if result.ok:
        typer.echo(f"audit log intact: {result.checked} entries verified{waiting}")
        return
    typer.echo(f"audit log TAMPERED: {result.problem} (first bad entry: {result.first_bad_seq}; "
               f"{result.checked} entries verified before it)", err=True)
    raise typer.Exit(1)


def sim_banks_argv(*, host: str = "127.0.0.1", port: int = 8101, latency_ms: int = 0,
                   keys_dir: Path | None = None, seed: int | None = None, state: Path | None = None,
                   open_unknown: bool = False) -> list[str]:
    """The command that runs the simulated banks (the product never imports ``sim``: it starts a process)."""
    from fanzha.banking.keys import key_directory

    argv = [sys.executable, "-m", "sim.banks", "--host", host, "--port", str(port), "--latency-ms", str(latency_ms),
            "--keys-dir", str(keys_dir or key_directory(get_settings()))]
    if seed is not None:
        argv += ["--seed", str(seed)]
    if state is not None:
        argv += ["--state", str(state)]
    if open_unknown:
        argv.append("--open-unknown")
    return argv


@sim_app.command("banks")
def sim_banks(
    host: Annotated[str, typer.Option(help="loopback only")] = "127.0.0.1",
    port: int = 8101,
    latency_ms: Annotated[int, typer.Option(min=0, help="delay before every answer")] = 0,
    keys_dir: Annotated[Path | None, typer.Option(help="bank keys and keyrings (default var/keys)")] = None,
    seed: Annotated[int | None, typer.Option(help="open deterministic demo accounts")] = None,
    state: Annotated[Path | None, typer.Option(help="keep the books in this JSON file across restarts")] = None,
    open_unknown: Annotated[bool, typer.Option(help="open unknown accounts whose BIN is the bank's")] = False,
) -> None:
    """Simulate every bank of the BIN table: accounts, holds, signed answers, latency and faults on demand."""
    argv = sim_banks_argv(host=host, port=port, latency_ms=latency_ms, keys_dir=keys_dir, seed=seed, state=state,
                          open_unknown=open_unknown)
    sys.stdout.flush()
    os.execv(argv[0], argv)  # this process becomes the simulator: signals and exit code are its own


@sim_app.command("cdr", context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                         "help_option_names": []})
def sim_cdr(ctx: typer.Context) -> None:
    """Write synthetic call records with planted fraud numbers (options: `fanzha sim cdr --help`)."""
    argv = [sys.executable, "-m", "sim.cdr", *ctx.args]
    sys.stdout.flush()
    os.execv(argv[0], argv)


@sim_app.command("city", context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                          "help_option_names": []})
def sim_city(ctx: typer.Context) -> None:
    """Play a simulated city's fraud cases against the simulated banks (options: `fanzha sim city --help`)."""
    argv = [sys.executable, "-m", "sim.city", *ctx.args]
    sys.stdout.flush()
    os.execv(argv[0], argv)


def sim_carriers_argv(*, host: str = "127.0.0.1", port: int = 8102, latency_ms: int = 0,
                      keys_dir: Path | None = None, state: Path | None = None) -> list[str]:
    """The command that runs the simulated carriers (a separate process, like the simulated banks)."""
    from fanzha.banking.keys import key_directory

    argv = [sys.executable, "-m", "sim.carriers", "--host", host, "--port", str(port), "--latency-ms",
            str(latency_ms), "--keys-dir", str(keys_dir or key_directory(get_settings()))]
    if state is not None:
        argv += ["--state", str(state)]
    return argv


@sim_app.command("carriers")
def sim_carriers(
    host: Annotated[str, typer.Option(help="loopback only")] = "127.0.0.1",
    port: int = 8102,
    latency_ms: Annotated[int, typer.Option(min=0, help="delay before every answer")] = 0,
    keys_dir: Annotated[Path | None, typer.Option(help="carrier keys and keyrings (default var/keys)")] = None,
    state: Annotated[Path | None, typer.Option(help="keep the register and answers in this JSON file")] = None,
) -> None:
    """Simulate the carriers (CMCC, CUCC, CTCC, CBN): numbers that move, signed answers, faults on demand."""
    argv = sim_carriers_argv(host=host, port=port, latency_ms=latency_ms, keys_dir=keys_dir, state=state)
    sys.stdout.flush()
    os.execv(argv[0], argv)  # this process becomes the simulator: signals and exit code are its own


if __name__ == "__main__":  # pragma: no cover
    app()
