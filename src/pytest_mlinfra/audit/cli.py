"""``mlinfra-audit``: the nightly cost-tag audit as a command, no pytest needed.

Exit codes: 0 clean, 1 findings, 2 usage or input error (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from pytest_mlinfra.audit.compare import Known, compare, project_tags
from pytest_mlinfra.audit.findings import Finding
from pytest_mlinfra.audit.live import ClientFactory, audit_live, live_inventory
from pytest_mlinfra.audit.plan import BadShape, PlannedResource, audit_plan, plan_resources
from pytest_mlinfra.audit.policy import SECTION, Policy
from pytest_mlinfra.audit.render import FORMATS, render
from pytest_mlinfra.audit.static import audit_hcl
from pytest_mlinfra.audit.taggable import Taggable, load_taggable, schema_from_terraform
from pytest_mlinfra.audit.variables import environment_variables, load_var_file, parse_var_option
from pytest_mlinfra.errors import MlinfraError

PROG = "mlinfra-audit"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlinfra audit",  # one name in usage; the alias mlinfra-audit runs the same
        description="Audit cost tags on Terraform source (a directory), a plan/state (a .json file) "
        "or deployed resources (--live).",
    )
    parser.add_argument("path", nargs="?", type=Path, help="Terraform directory, or plan/state JSON")
    parser.add_argument("--live", action="store_true", help="audit deployed resources through the AWS APIs")
    parser.add_argument(
        "--region", action="append", default=[], help="region for --live (repeatable, or a,b)"
    )
    parser.add_argument(
        "--tag-filter",
        action="append",
        default=[],
        metavar="K=V",
        help="--live: only resources with this tag (repeatable; K alone: any value)",
    )
    parser.add_argument(
        "--endpoint-url", help="--live: AWS endpoint (an emulator such as moto or LocalStack)"
    )
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        type=Path,
        metavar="PLAN",
        help="--live: a plan/state JSON (repeatable); report live tags that differ from its tags_all "
        "(drift) and live resources with the project's tags that none of them knows (orphans)",
    )
    parser.add_argument(
        "--var",
        dest="var_sources",
        action="append",
        type=lambda item: ("var", item),
        default=[],
        metavar="NAME=VALUE",
        help="a root module variable, as terraform -var (repeatable; maps/lists as HCL or JSON)",
    )
    parser.add_argument(
        "--var-file",
        dest="var_sources",
        action="append",
        type=lambda item: ("file", item),
        metavar="FILE",
        help="a .tfvars or .tfvars.json file, as terraform -var-file (repeatable; later wins)",
    )
    parser.add_argument("--require", help="required tag keys, comma-separated (default: Name,Environment)")
    parser.add_argument("--config", type=Path, help=f"pyproject.toml with a [tool.{SECTION}] section")
    parser.add_argument("--schema", type=Path, help="`terraform providers schema -json` output")
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("--output", type=Path, help="write the report here instead of stdout")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the audit; returns the exit code (0 clean, 1 findings, 2 usage/input error)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed by argparse
        return int(exc.code or 0)
    if args.compare and not args.live:
        sys.stderr.write(
            f"{PROG}: error: --compare needs --live. add --live to compare a plan with what is deployed\n"
        )
        return 2
    if args.path is None and not args.live:
        parser.print_usage(sys.stderr)
        sys.stderr.write(f"{PROG}: error: give a PATH (Terraform directory or plan/state JSON) or --live\n")
        return 2
    notes: list[str] = []
    try:
        findings = _run(args, notes)
        report = render(findings, args.format, notes)
        if args.output:
            try:
                args.output.write_text(report, "utf-8")
            except OSError as exc:
                raise MlinfraError(f"cannot write {args.output} ({exc.strerror})", "check the path") from None
            print(render(findings, "text").splitlines()[-1])
        else:
            sys.stdout.write(report)
    except MlinfraError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    return 1 if findings else 0


def _policy(args: argparse.Namespace) -> Policy:
    require = tuple(k.strip() for k in args.require.split(",") if k.strip()) if args.require else None
    if args.require is not None and not require:
        raise MlinfraError("--require is empty", "give tag keys, e.g. --require Name,Environment")
    if args.config:
        return Policy.from_pyproject(args.config, require=require)
    local = Path("pyproject.toml")
    if local.is_file():
        try:
            import tomllib

            if SECTION in tomllib.loads(local.read_text("utf-8")).get("tool", {}):
                return Policy.from_pyproject(local, require=require)
        except (OSError, ValueError):
            pass  # not our file to judge unless named with --config
    return Policy(require=require) if require else Policy()


def _taggable(args: argparse.Namespace, notes: list[str]) -> Taggable:
    if args.schema:
        try:
            return load_taggable(_read_json(args.schema, "a provider schema"))
        except MlinfraError as exc:
            if str(args.schema) in exc.what:
                raise
            raise MlinfraError(f"{args.schema}: {exc.what}", exc.todo) from None
    path: Path | None = args.path
    if path is not None and path.is_dir() and (path / ".terraform" / "providers").is_dir():
        try:
            return load_taggable(schema_from_terraform(path))
        except MlinfraError as exc:  # initialised but unusable: the shipped table still answers
            notes.append(f"{exc.what}: judged with {load_taggable().source} instead")
    return load_taggable()


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError:
        raise MlinfraError(f"{path} is not UTF-8 text (a binary file?)", f"give {what}") from None
    except OSError as exc:
        raise MlinfraError(f"cannot read {path} ({exc.strerror or exc})", "check the path") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MlinfraError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})",
            f"give {what} as written by terraform ... -json",
        ) from None
    except (
        ValueError,
        RecursionError,
    ) as exc:  # e.g. a 5000-digit number, nesting deeper than Python's stack
        detail = "nested too deeply" if isinstance(exc, RecursionError) else " ".join(str(exc).split())[:80]
        raise MlinfraError(f"{path} cannot be read as JSON ({detail})", f"give {what}") from None
    if not isinstance(data, dict):
        raise MlinfraError(f"{path} is not {what} (not a JSON object)", f"give {what}")
    return data


def _tag_filters(raw: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not key:
            raise MlinfraError(f"--tag-filter {item!r} has no key", "write it as KEY=VALUE or KEY")
        values = filters.setdefault(key, [])
        if sep:
            values.append(value)
    return filters


def _client_factory(endpoint_url: str | None) -> ClientFactory:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session()
    config = Config(
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        s3={"addressing_style": "path"} if endpoint_url else None,
    )

    def factory(service: str, region: str) -> Any:
        make_client: Any = session.client  # the service name is a plain str here, not a stub Literal
        return make_client(service, region_name=region, endpoint_url=endpoint_url, config=config)

    return factory


def _variables(sources: list[tuple[str, str]]) -> dict[str, Any]:
    """``--var``/``--var-file`` in command-line order, later ones winning, as Terraform reads them."""
    values: dict[str, Any] = {}
    for kind, item in sources:
        if kind == "var":
            name, raw = parse_var_option(item)
            values[name] = raw
        else:
            values.update(load_var_file(Path(item)))
    return values


def _run(args: argparse.Namespace, notes: list[str]) -> list[Finding]:
    policy = _policy(args)
    findings: list[Finding] = []
    if args.path is not None:
        path: Path = args.path
        if not path.exists():
            raise MlinfraError(
                f"{path} does not exist", "give a Terraform directory or a plan/state JSON file"
            )
        taggable = _taggable(args, notes)
        if path.is_dir() or path.suffix == ".tf":
            variables = _variables(args.var_sources)
            environment = environment_variables(os.environ)
            findings += audit_hcl(path, policy, taggable, variables, environment=environment, notes=notes)
        else:
            if args.var_sources:
                raise MlinfraError(
                    "--var/--var-file apply to Terraform source (a directory), not to a plan or state",
                    "a plan already holds its variables: drop --var, or audit the directory",
                )
            try:
                findings += audit_plan(_read_json(path, "a Terraform plan or state"), policy, taggable)
            except BadShape as exc:
                raise MlinfraError(f"{path}: {exc.what}", exc.todo) from None
    if args.live:
        regions = [r.strip() for item in args.region for r in item.split(",") if r.strip()]
        if not regions:
            regions = [os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"]
        filters = _tag_filters(args.tag_filter)
        factory = _client_factory(args.endpoint_url)
        if not args.compare:
            return sorted(findings + audit_live(factory, regions, policy, filters))
        known = _known(args.compare)
        everything = live_inventory(factory, regions)  # drifted tags may no longer match any filter
        owned_by = filters or project_tags(known)
        if owned_by and not filters:
            shown = ", ".join(f"{k}={v[0]}" for k, v in owned_by.items())
            notes.append(f"orphans: live resources tagged {shown} (the tags every planned resource carries)")
        elif not owned_by:
            notes.append("no tag is common to every planned resource: give --tag-filter to find orphans")
        findings += audit_live(factory, regions, policy, filters, inventory=everything.narrowed(filters))
        findings += compare(everything, known, owned_by)
    return sorted(findings)


def _known(paths: list[Path]) -> Known:
    resources: list[PlannedResource] = []
    for path in paths:
        try:
            _, found = plan_resources(_read_json(path, "a Terraform plan or state"))
        except BadShape as exc:
            raise MlinfraError(f"{path}: {exc.what}", exc.todo) from None
        resources += found
    return Known(resources, [str(p) for p in paths])


if __name__ == "__main__":
    raise SystemExit(main())
