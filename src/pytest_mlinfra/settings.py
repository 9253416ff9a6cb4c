"""Everything a run is configured by, declared once.

Each user-facing setting is one field of :class:`Settings` made with :func:`setting`: its type, its
default, its help, how a string from the command line or the ini file becomes a value, and its key.
The key names both the option (``--mlinfra-<key>``) and the ini setting (``mlinfra_<key>``); the
pytest options, the ini settings, ``Settings()``'s defaults and the README's options table all come
from these fields, so adding a setting is adding one field here (see CONTRIBUTING.md).

This module imports nothing heavy: the plugin reads it in every pytest session.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.latency import parse_budgets
from pytest_mlinfra.targets import TARGET_NAMES

# The plugin requires four cost tags because it supplies three of their values itself (the ``tags``
# stack variable: Environment, Project, Owner; Name is per resource). ``mlinfra audit`` audits stacks
# and accounts nobody tagged through the plugin, so its default (audit.policy.DEFAULT_REQUIRE) is
# only the two keys every tagging policy has: Name, Environment (--require / --mlinfra-require-tags).
DEFAULT_REQUIRED_TAGS = ("Name", "Environment", "Project", "Owner")
DEFAULT_LATENCY_BUDGET = "p50=250 p95=1000 p99=2000 cold=30000"
RUN_ID_TAG = "mlinfra:run-id"
MODEL_SOURCES = ("auto", "efs", "s3")
PROFILE_EXAMPLES = {"quick": 25, "nightly": 500}  # Hypothesis examples per property, by profile

# How a setting is given: a value (``--opt=V``), a flag (``--opt``; ini ``true``), a path (resolved
# against the cwd on the command line, against the ini file's folder in the ini), a list
# (repeatable option, one item per ini line; the option's items are added to the ini's), or a list
# of locations (a list whose items are folders, resolved as paths are, or URLs, kept as given).
Kind = Literal["value", "flag", "path", "list", "locations"]
_INI_TYPES: dict[Kind, Literal["string", "bool", "paths", "linelist"]] = {
    "value": "string",
    "flag": "bool",
    "path": "paths",
    "list": "linelist",
    "locations": "linelist",
}
_META = "mlinfra"


@dataclass(frozen=True)
class Declaration:
    """How one :class:`Settings` field is exposed to users (``dataclasses.Field.metadata``)."""

    key: str
    help: str
    kind: Kind = "value"
    parse: Callable[[Any], Any] | None = None  # raw option/ini value -> field value
    choices: tuple[str, ...] = ()
    shown: str = ""  # the default as the README and --help show it
    env: str | None = None  # environment variable read when neither option nor ini is given
    ini_aliases: tuple[str, ...] = ()  # older ini names still accepted
    metavar: str | None = None
    at_least: float | None = None  # numeric settings: the range checked when the value is read
    at_most: float | None = None

    @property
    def option(self) -> str:
        return "--mlinfra-" + self.key.replace("_", "-")

    @property
    def ini(self) -> str:
        return "mlinfra_" + self.key

    @property
    def ini_type(self) -> Literal["string", "bool", "paths", "linelist"]:
        return _INI_TYPES[self.kind]


def setting(
    help: str,
    *,
    default: Any = None,
    factory: Callable[[], Any] | None = None,
    key: str | None = None,
    kind: Kind = "value",
    parse: Callable[[Any], Any] | None = None,
    choices: tuple[str, ...] = (),
    shown: str | None = None,
    env: str | None = None,
    ini_aliases: tuple[str, ...] = (),
    metavar: str | None = None,
    at_least: float | None = None,
    at_most: float | None = None,
) -> Any:
    """A :class:`Settings` field users can set. ``key`` (default: the field name) names the option
    ``--mlinfra-<key>`` and the ini setting ``mlinfra_<key>``; ``parse`` turns the given string (a list
    of strings for ``kind="list"``) into the field's value; ``shown`` is the default as documented;
    ``at_least``/``at_most`` bound a numeric value (checked as the option or ini value is read)."""
    declaration = Declaration(
        key=key or "",
        help=help,
        kind=kind,
        parse=parse,
        choices=choices,
        shown=_shown(default) if shown is None else shown,  # as written: prose, may hold `code`
        env=env,
        ini_aliases=ini_aliases,
        metavar=metavar,
        at_least=at_least,
        at_most=at_most,
    )
    metadata = {_META: declaration}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def _shown(default: Any) -> str:
    if default is None or default == ():
        return ""
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, tuple):
        return f"`{','.join(str(item) for item in default)}`"
    return f"`{default}`"


def bundled_stack() -> Path:
    """The example stack shipped in the wheel (``pytest_mlinfra/fixtures_tf``), or the repo's copy."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "fixtures_tf", here.parent.parent / "fixtures_tf"):
        if candidate.is_dir():
            return candidate
    return here / "fixtures_tf"


def new_run_id() -> str:
    """Short, unique, valid in S3 bucket names: 'r' + 7 hex digits."""
    return "r" + secrets.token_hex(4)[:7]


def owner() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _names(value: str) -> tuple[str, ...]:
    """``"Name, Owner"`` / ``"Name Owner"`` / one per line -> ``("Name", "Owner")``."""
    return tuple(name for name in re.split(r"[,\s]+", value) if name)


def _tags(pairs: list[str]) -> dict[str, str]:
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise MlinfraError(f"cost tag {pair!r} is not KEY=VALUE", "write tags as --mlinfra-tag=Team=ml")
        tags[key.strip()] = value.strip()
    return tags


def _name_list(value: str) -> tuple[str, ...]:
    """``"torch, numpy"`` -> ``("torch", "numpy")``; ``none`` -> ``()`` (to clear an ini value)."""
    return () if value.strip().lower() == "none" else _names(value)


def _optional_int(value: str) -> int | None:
    return int(value) if value.strip() else None


def _seconds(value: str) -> float:
    seconds = float(value)
    if not seconds < float("inf"):  # infinite or NaN; a negative one fails the range check
        raise ValueError(value)
    return seconds


def _default_budgets() -> dict[str, float]:
    return parse_budgets(DEFAULT_LATENCY_BUDGET)


def check_range(declaration: Declaration, value: Any, given: Any = None) -> None:
    """A numeric setting outside its declared range, as one line; ``given``: the value as written."""
    if value is None or not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    low, high = declaration.at_least, declaration.at_most
    shown = value if given is None else given
    if low is not None and not value >= low:  # "not >=" also refuses NaN
        bound = f">= {low:g}"
    elif high is not None and not value <= high:
        bound = f"<= {high:g}"
    else:
        return
    wanted = f"from {low:g} to {high:g}" if low is not None and high is not None else bound
    raise MlinfraError(
        f"{declaration.option} must be {bound}, got {shown}",
        f"set {declaration.option} (ini {declaration.ini}) to a value {wanted}",
    )


@dataclass
class Settings:
    """One run's configuration. ``Settings()`` is what the plugin uses when nothing is set."""

    target: str = setting(
        "where to deploy: local (embedded, offline), localstack, aws (needs opt-in)",
        default="local",
        choices=TARGET_NAMES,
    )
    stack_dir: Path = setting(
        "Terraform root module to apply",
        factory=bundled_stack,
        key="stack",
        kind="path",
        shown="the bundled `fixtures_tf/`",
    )
    keep: bool = setting(
        "skip destroy (debugging); prints the exact command that destroys later", default=False, kind="flag"
    )
    reuse: bool = setting(
        "keep the stack deployed and re-apply it incrementally next time (same stack source and target; "
        "local needs `mlinfra up`); `mlinfra down` destroys it",
        default=False,
        kind="flag",
    )
    terraform: str | None = setting(
        "terraform/tofu binary (also `MLINFRA_TERRAFORM`)", shown="auto: PATH, then the embedded core"
    )
    required_tags: tuple[str, ...] = setting(
        "cost tags every resource must carry (comma-separated)",
        default=DEFAULT_REQUIRED_TAGS,
        key="require_tags",
        parse=_names,
        ini_aliases=("mlinfra_required_tags",),
    )
    extra_tags: dict[str, str] = setting(
        "extra cost tag KEY=VALUE (repeatable); required keys beyond the defaults need a value",
        factory=dict,
        key="tag",
        kind="list",
        parse=_tags,
        ini_aliases=("mlinfra_tags",),
        metavar="KEY=VALUE",
    )
    environment: str = setting("value of the Environment cost tag", default="test")
    project: str = setting("value of the Project cost tag", default="pytest-mlinfra")
    region: str = setting("AWS region to deploy into", default="us-east-1")
    handler_dir: Path | None = setting("directory zipped into the Lambda package", kind="path")
    handler: str = setting("Lambda handler, module.function", default="model.predict")
    runtime: str | None = setting(
        "Lambda runtime passed to the stack (lambda_runtime)",
        shown="the newest the selected hashicorp/aws accepts and AWS allows for new functions",
    )
    requirements: Path | None = setting(
        "a requirements file whose packages pip builds into the Lambda zip for the function's runtime "
        "(binary wheels for its Python and manylinux x86_64, cached by content)",
        kind="path",
        shown="`requirements.txt` in the handler dir, when there is one",
    )
    package_include: tuple[str, ...] = setting(
        "globs (relative to the handler dir) zipped into the Lambda (repeatable)",
        default=(),
        kind="list",
        parse=tuple,
        shown="all but tests/caches/artifacts",
        metavar="GLOB",
    )
    model_path: Path | None = setting(
        "model artifact uploaded and synced (model.pt)", key="model", kind="path"
    )
    model_check: str | None = setting(
        "MODULE:FUNCTION called with the model's path before anything is deployed, in sessions that "
        "sync the model (imported from the handler dir or the cwd): it raises, or returns False, when "
        "the artifact does not load as the function loads it",
        metavar="MODULE:FUNCTION",
    )
    model_source: str = setting(
        "where the function reads the model: auto (EFS where the target has it), efs, s3",
        default="auto",
        choices=MODEL_SOURCES,
    )
    examples: int | None = setting(
        "Hypothesis examples per property (overrides the profile)", parse=_optional_int, at_least=1
    )
    profile: str = setting(
        "Hypothesis profile for predictor properties: quick (25 examples) or nightly (500)",
        default="quick",
        choices=tuple(PROFILE_EXAMPLES),
    )
    properties: tuple[str, ...] = setting(
        "stock property suites to run against the deployed function, e.g. ner (no test file to copy)",
        default=(),
        parse=_names,
    )
    latency_budgets: dict[str, float] = setting(
        "budgets in ms of warm p50/p95/p99 and the cold start, e.g. 'p50=100 p95=300 cold=5000'",
        factory=_default_budgets,
        key="latency_budget",
        parse=parse_budgets,
        shown=f"`{DEFAULT_LATENCY_BUDGET}`",
    )
    http_output: str = setting(
        "stack output holding the HTTP endpoint (function URL, HTTP API route URL) mlinfra_http calls; when "
        "the stack has it (not null), the stock NER properties call the predictor through it",
        default="http_url",
        metavar="OUTPUT",
    )
    http_api: bool = setting(
        "set the stack's enable_http_api input (the bundled stack: an API Gateway HTTP API in front of "
        "the predictor, output http_url)",
        default=False,
        kind="flag",
    )
    min_recall: float = setting(
        "minimum recall of names inserted into neutral templates (NER suite)",
        default=0.9,
        parse=float,
        at_least=0,
        at_most=1,
    )
    audit: bool = setting(
        "skip the cost-tag audit of the stack", default=True, key="no_audit", kind="flag", shown="off"
    )
    port: int = setting(
        "port of the embedded AWS (local target)",
        default=0,
        parse=int,
        shown="a free port",
        at_least=0,
        at_most=65535,
    )
    localstack_endpoint: str | None = setting(
        "LocalStack URL", shown="`AWS_ENDPOINT_URL` / `LOCALSTACK_HOST` / `127.0.0.1:4566`"
    )
    aws_opt_in: bool = setting(
        "allow the aws target to deploy real, billed resources",
        default=False,
        kind="flag",
        env="MLINFRA_AWS_OPT_IN",
    )
    aws_accounts: tuple[str, ...] = setting(
        "comma-separated account allow-list (aws target)", default=(), parse=_names, shown="any account"
    )
    efs_packages: tuple[str, ...] = setting(
        "distributions the function imports from EFS (with what they require): synced with the model, "
        "PYTHONPATH on the mount",
        default=(),
        parse=_name_list,
        metavar="DIST,...",
    )
    lambda_provided: tuple[str, ...] = setting(
        "EFS packages stood in from this machine instead of uploaded (local target; LocalStack with "
        "`MLINFRA_LAMBDA_PROVIDED`): declared in the header and summary; `none` turns it off",
        default=(),
        parse=_name_list,
        metavar="DIST,...",
    )
    lambda_host_python: bool = setting(
        "run every Lambda Python runtime on this machine's Python instead of the declared version's "
        "(local target): a declared stand-in, named in the summary",
        default=False,
        kind="flag",
        env="MLINFRA_LAMBDA_HOST_PYTHON",
    )
    runtime_check: str = setting(
        "a Lambda runtime AWS no longer accepts for new functions, on local/localstack: warn or error "
        "(the aws target always refuses it before apply)",
        default="warn",
        choices=("warn", "error"),
    )
    lambda_concurrency: int | None = setting(
        "local target: execution environments at once for functions without reserved concurrency",
        parse=_optional_int,
        env="MLINFRA_LAMBDA_CONCURRENCY",
        shown="2 x cores, at least 4",
        at_least=1,
    )
    provider_mirrors: tuple[str, ...] = setting(
        "a provider mirror to install from (repeatable): a folder made by `terraform providers mirror DIR`, "
        "or an https:// network mirror URL; consulted in order, before the bundled mirror, for the "
        "providers whose constraints they can meet",
        default=(),
        key="provider_mirror",
        kind="locations",
        metavar="DIR/URL",
        shown="none",
    )
    bundled_providers: bool = setting(
        "leave out the bundled offline hashicorp/aws mirror (2.70.0, 3.39.0), e.g. to take the newest "
        "release the registry has",
        default=True,
        key="no_bundled_providers",
        kind="flag",
        shown="off",
    )
    reattach_providers: bool = setting(
        "each Terraform command starts its own provider processes, as plain Terraform does (by "
        "default each provider starts once per stack and every command but init attaches to it: "
        "Terraform's reattach protocol, ~3 s less per command with hashicorp/aws 5.x)",
        default=True,
        key="no_provider_reattach",
        kind="flag",
        shown="off",
    )
    lambda_eni_release_s: float = setting(
        "local target: seconds a VPC function's network interfaces stay in use after it is deleted, "
        "holding its subnets and security groups as on AWS (up to ~40 min there); 0: no such ENIs; "
        "an `mlinfra up` service has its own (`mlinfra up --lambda-eni-release-s N`)",
        default=0.0,
        parse=_seconds,
        env="MLINFRA_LAMBDA_ENI_RELEASE_S",
        shown="0 (off)",
        at_least=0,
    )
    runs_dir: Path | None = setting(
        "where run dirs go (state, logs; failed runs keep theirs)",
        kind="path",
        shown="the user cache's `runs/`",
    )
    report: Path | None = setting(
        "write the run's HTML report here: one self-contained file with plots (needs the `report` extra)",
        kind="path",
    )
    json_report: Path | None = setting(
        "write the run's figures as JSON here (the same figures as the HTML report)", key="json", kind="path"
    )
    report_history: tuple[str, ...] = setting(
        "earlier --mlinfra-json reports (a path or a glob, repeatable) whose trend the HTML report draws: "
        "apply time, p95 latency, cost per million documents, pass rate",
        default=(),
        kind="locations",
        metavar="GLOB",
    )
    prices: str = setting(
        "prices for the report's cost projection, KEY=VALUE (region, lambda_gb_s, "
        "lambda_requests_per_million, efs_gb_month, s3_gb_month, checked)",
        default="",
        shown="AWS us-east-1 list prices of 2026-12-01",
    )
    # Not user settings (yet): set by code that builds a Settings itself.
    memory_mb: int = 1024
    timeout_s: int = 30
    sync_timeout_s: float = 300.0
    run_id: str = field(default_factory=new_run_id)

    @property
    def name_prefix(self) -> str:
        return f"mlinfra-{self.run_id}"

    def cost_tags(self) -> dict[str, str]:
        """Tags every resource must carry, with values for the required keys (Name is per resource)."""
        tags = {"Environment": self.environment, "Project": self.project, "Owner": owner()}
        tags.update(self.extra_tags)
        tags[RUN_ID_TAG] = self.run_id
        return tags

    def untagged_required(self) -> list[str]:
        """Required keys the plugin has no value for (Name is set per resource by the stack)."""
        tags = self.cost_tags()
        return [key for key in self.required_tags if key != "Name" and key not in tags]

    def validate(self) -> None:
        """The one validation pass: everything checkable without starting anything or calling AWS.

        Called by the plugin before any test runs, and by :class:`~pytest_mlinfra.run.Run` users who
        want the same early, one-line errors.
        """
        for declared in dataclasses.fields(self):
            declaration = declared.metadata.get(_META)
            value = getattr(self, declared.name)
            if declaration is not None and declaration.choices and value not in declaration.choices:
                raise MlinfraError(
                    f"{declaration.key.replace('_', ' ')} {value!r} is unknown",
                    f"use one of: {', '.join(declaration.choices)}",
                )
            if declaration is not None:
                check_range(dataclasses.replace(declaration, key=declaration.key or declared.name), value)
        from pytest_mlinfra.regions import check_region
        from pytest_mlinfra.terraform.source import check_stack_dir
        from pytest_mlinfra.terraform.toolchain import find_terraform

        check_region(self.region)
        check_stack_dir(self.stack_dir)
        valueless = self.untagged_required()
        if valueless:
            key = valueless[0]
            raise MlinfraError(f"required cost tag {key} has no value", f"pass --mlinfra-tag={key}=VALUE")
        for path, what in ((self.handler_dir, "handler directory"), (self.model_path, "model artifact")):
            if path is not None and not path.exists():
                raise MlinfraError(
                    f"{what} {path} does not exist", "fix the path in the option or ini setting"
                )
        if self.model_path is not None and not self.model_path.is_file():
            raise MlinfraError(
                f"model artifact {self.model_path} is a folder, not a file",
                "point --mlinfra-model (ini mlinfra_model) at the model file itself, e.g. model.pt",
            )
        from pytest_mlinfra.preflight import check_handler, check_model_file, parse_model_check

        if self.model_path is not None:
            check_model_file(self.model_path)
        if self.model_check:
            parse_model_check(self.model_check)
        if self.handler_dir is not None:
            check_handler(self.handler_dir, self.handler)
        if self.terraform:
            find_terraform(self.terraform)
        if self.provider_mirrors:
            from pytest_mlinfra.terraform.installation import parse_mirror

            for mirror in self.provider_mirrors:
                parse_mirror(mirror)
        if self.prices:
            from pytest_mlinfra.report.cost import parse_prices

            parse_prices(self.prices)
        if self.report is not None:
            import importlib.util

            if importlib.util.find_spec("matplotlib") is None:
                raise MlinfraError(
                    "the HTML report draws its plots with matplotlib, which is not installed",
                    "pip install 'pytest-mlinfra[report]', or drop --mlinfra-report",
                )
        if self.runtime is not None:  # a default runtime is checked once init selected the provider
            from pytest_mlinfra.runtimes import check_runtime

            check_runtime(self.runtime, self.target, self.runtime_check)
        from pytest_mlinfra.suites import suite_path
        from pytest_mlinfra.targets import target_class

        for suite in self.properties:
            suite_path(suite)

        target_class(self.target).preflight(self)


def declarations() -> Iterator[tuple[str, Declaration]]:
    """(field name, declaration) of every user-facing setting, in declaration order."""
    for declared in dataclasses.fields(Settings):
        declaration = declared.metadata.get(_META)
        if declaration is not None:
            yield declared.name, dataclasses.replace(declaration, key=declaration.key or declared.name)


def field_default(name: str) -> Any:
    """The default of a :class:`Settings` field (calls its factory)."""
    declared = next(f for f in dataclasses.fields(Settings) if f.name == name)
    if declared.default_factory is not dataclasses.MISSING:
        return declared.default_factory()
    return declared.default


def resolve(name: str, declaration: Declaration, option: Any, ini: Any, ini_dir: Path | None = None) -> Any:
    """The field value from the option's value (``None``: not given) and the ini's (empty: not set).

    Options win over ini settings, ini settings over the environment variable, that over the default.
    List settings add the option's items to the ini's. Locations given as relative folders are
    resolved against ``ini_dir`` (the ini file's folder) in the ini and against the cwd as options.
    """
    if declaration.kind == "locations":
        base = ini_dir or Path.cwd()
        items = [_location(str(item), base) for item in (ini or [])]
        items += [_location(str(item), Path.cwd()) for item in (option or [])]
        return tuple(items) if items else field_default(name)
    if declaration.kind == "list":
        items = [str(item) for item in (ini or [])] + [str(item) for item in (option or [])]
        if not items:
            return field_default(name)
        return declaration.parse(items) if declaration.parse else tuple(items)
    if declaration.kind == "flag":
        given = bool(option) or bool(ini) or _env_flag(declaration.env)
        default = field_default(name)
        return (not default) if given else default
    if declaration.kind == "path":
        if option:
            return Path(option).resolve()
        if ini:
            return Path(ini[0]).resolve()
        return field_default(name)
    raw = option if option not in (None, "") else ini
    if raw in (None, "") and declaration.env:
        raw = os.environ.get(declaration.env)
    if raw in (None, ""):
        return field_default(name)
    if declaration.parse is None:
        return str(raw)
    try:
        value = declaration.parse(str(raw))
    except ValueError:  # int()/float(); parsers with their own wording raise MlinfraError
        raise MlinfraError(
            f"{declaration.option} (ini {declaration.ini}) {raw!r} is not valid",
            f"see {declaration.option} in pytest --help",
        ) from None
    check_range(declaration, value, given=str(raw).strip())
    return value


def _location(value: str, base: Path) -> str:
    """A URL as given; a folder made absolute against ``base``."""
    value = value.strip()
    return value if "://" in value else str((base / Path(value).expanduser()).resolve())


def _env_flag(name: str | None) -> bool:
    return bool(name) and os.environ.get(name or "", "").strip().lower() in {"1", "true", "yes", "on"}


_METAVAR: dict[Kind, str] = {
    "value": "VALUE",
    "flag": "",
    "path": "PATH",
    "list": "VALUE",
    "locations": "DIR",
}


def markdown_table() -> str:
    """The README's options table (kept equal to the README by tests/plugin/test_settings.py)."""
    rows = ["| option | ini | default | what it does |", "|---|---|---|---|"]
    for _name, d in declarations():
        # spelled --option=VALUE: "--option VALUE" lets pytest take VALUE for a path (rootdir, ini)
        option = f"`{d.option}`" if d.kind == "flag" else f"`{d.option}={d.metavar or _METAVAR[d.kind]}`"
        ini = f"`{d.ini}`" + "".join(f" (or `{alias}`)" for alias in d.ini_aliases)
        extra = f" (env `{d.env}`)" if d.env else ""
        rows.append(f"| {option} | {ini} | {d.shown} | {d.help}{extra} |")
    return "\n".join(rows) + "\n"
