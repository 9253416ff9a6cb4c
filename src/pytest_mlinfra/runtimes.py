"""Lambda's Python runtimes: which ones AWS still accepts, and which ones a provider version accepts.

AWS refuses new functions on a runtime past its "block function create" date, with the
``InvalidParameterValueException`` text in :func:`refusal`. The hashicorp/aws provider validates
``runtime`` client-side against the list it was built with, so a provider version accepts only
the runtimes that existed when it was released (3.39, the one available offline here, knows
python3.8 at most). The default runtime is the newest the selected provider accepts and AWS still
allows for new functions (:func:`default_runtime`).

Sources (checked 2026-12-05): AWS dates from the Lambda developer guide's deprecation table
(lambda-runtimes.html; cfn-lint's ``LmbdRuntimeLifecycle.json`` mirrors it); provider versions from the
terraform-provider-aws CHANGELOG and the maintainers' release notes on the runtime's issue
(python3.7 #6620: 1.51.0; python3.8 #11067: 2.39.0; python3.9 #20590: 3.55.0; python3.10: 4.64.0;
python3.11: 5.11.0; python3.12 #34533/#34944: 5.27.0; python3.13 #40107/#40137: 5.76.0;
python3.14 #45024: 6.20.0).
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_mlinfra.targets import target_class

NEWEST = "python3.14"
# runtime -> (deprecated on, block function create on)
_SCHEDULE = {
    "python2.7": ("2021-07-15", "2022-05-30"),
    "python3.6": ("2022-07-18", "2022-08-29"),
    "python3.7": ("2023-12-04", "2024-01-09"),
    "python3.8": ("2024-10-14", "2025-02-28"),
    "python3.9": ("2025-12-15", "2027-02-01"),
    "python3.10": ("2026-10-31", "2027-02-01"),
    "python3.11": ("2027-06-30", "2027-07-31"),
    "python3.12": ("2028-10-31", "2028-11-30"),
    "python3.13": ("2029-06-30", "2029-07-31"),
    "python3.14": ("2029-06-30", "2029-07-31"),
}
# The first hashicorp/aws release whose client-side validation accepts the runtime (oldest first).
FIRST_PROVIDER = {
    "python3.7": "1.51.0",
    "python3.8": "2.39.0",
    "python3.9": "3.55.0",
    "python3.10": "4.64.0",
    "python3.11": "5.11.0",
    "python3.12": "5.27.0",
    "python3.13": "5.76.0",
    "python3.14": "6.20.0",
}


def refusal(runtime: str) -> str:
    """What AWS answers to CreateFunction with a runtime it no longer accepts."""
    return (
        f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda "
        f"functions. We recommend you use the new runtime ({NEWEST}) while creating or updating functions."
    )


def _today(today: str | None) -> str:
    from datetime import date

    return today or date.today().isoformat()


def refused_for_create(runtime: str, today: str | None = None) -> bool:
    when = _SCHEDULE.get(runtime)
    return when is not None and _today(today) >= when[1]


def runtime_notice(runtime: str, today: str | None = None) -> str | None:
    """A warning for a runtime AWS deprecated or no longer accepts for new functions, else None."""
    when = _SCHEDULE.get(runtime)
    if when is None:
        return None
    if refused_for_create(runtime, today):
        since = when[1]
        return f"Lambda runtime {runtime}: AWS refuses it for new functions since {since}: {refusal(runtime)}"
    deprecated, blocked = when
    if _today(today) < deprecated:
        return None
    return (
        f"Lambda runtime {runtime} is deprecated since {deprecated}; AWS refuses new functions from {blocked}"
    )


def _version(text: str) -> tuple[int, ...]:
    """``"3.39.0"`` -> ``(3, 39, 0)``; a pre-release suffix is ignored (``5.0.0-beta1`` -> 5.0.0)."""
    parts = []
    for piece in text.split("-")[0].split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def provider_accepts(provider_version: str) -> list[str]:
    """The Python runtimes (oldest first) that this hashicorp/aws version's validation accepts."""
    selected = _version(provider_version)
    return [runtime for runtime, first in FIRST_PROVIDER.items() if selected >= _version(first)]


def first_provider(runtime: str) -> str | None:
    """The oldest hashicorp/aws release that accepts ``runtime`` (None: not a runtime we track)."""
    return FIRST_PROVIDER.get(runtime)


@dataclass(frozen=True)
class RuntimeChoice:
    """The runtime a run declares, and why (for the run's one summary line)."""

    runtime: str
    provider_version: str | None  # the selected hashicorp/aws, when known
    explicit: bool  # set by the user (option or ini), not chosen by the plugin

    def describe(self, today: str | None = None) -> str:
        provider = f"hashicorp/aws {self.provider_version}" if self.provider_version else "the provider"
        if self.explicit:
            return f"Lambda runtime {self.runtime} (set by --mlinfra-runtime / mlinfra_runtime)"
        if refused_for_create(self.runtime, today):
            return (
                f"Lambda runtime {self.runtime} (the newest {provider} accepts; AWS allows none of "
                "those for new functions)"
            )
        return (
            f"Lambda runtime {self.runtime} (the newest {provider} accepts that AWS allows for new functions)"
        )


def default_runtime(provider_version: str | None, today: str | None = None) -> str:
    """The newest runtime the provider accepts and AWS still allows for new functions; when AWS allows
    none of them, the provider's newest (the run then warns, or refuses on the aws target)."""
    accepted = provider_accepts(provider_version) if provider_version else []
    if not accepted:
        return "python3.8"  # provider unknown or older than 2.39: the oldest this plugin still names
    allowed = [runtime for runtime in accepted if not refused_for_create(runtime, today)]
    return (allowed or accepted)[-1]


def unaccepted_by_provider(runtime: str, provider_version: str | None) -> str | None:
    """One line when the selected provider's client-side validation would reject ``runtime``."""
    first = first_provider(runtime)
    if provider_version is None or first is None or _version(provider_version) >= _version(first):
        return None
    return (
        f"Lambda runtime {runtime} is not accepted by hashicorp/aws {provider_version}, which init selected "
        f"(the provider validates runtime itself; {runtime} needs >= {first})"
    )


def upgrade_hint(today: str | None = None) -> str:
    """What to require so that init selects a provider with a runtime AWS still allows."""
    usable = [r for r in FIRST_PROVIDER if not refused_for_create(r, today)]
    if not usable:
        return "set --mlinfra-runtime (ini mlinfra_runtime) to a runtime AWS accepts"
    oldest, newest = usable[0], usable[-1]
    return (
        f"require hashicorp/aws >= {FIRST_PROVIDER[oldest]} ({oldest}; >= {FIRST_PROVIDER[newest]} for "
        f"{newest}) in required_providers so that init selects it, or set --mlinfra-runtime "
        "(ini mlinfra_runtime) to a runtime that provider accepts"
    )


def check_runtime(
    runtime: str,
    target: str,
    runtime_check: str,
    provider_version: str | None = None,
    explicit: bool = True,
    today: str | None = None,
) -> str | None:
    """Raise for a runtime this run must not deploy; else the warning to give (None: nothing to say).

    Refused before apply, whatever ``runtime_check`` says: a runtime the selected provider rejects
    (its client-side validation fails the plan), and on the ``aws`` target one that AWS refuses for
    new functions (CreateFunction would fail half way through the apply). Elsewhere such a runtime
    is a warning, or an error with ``runtime_check = error``: the emulators run it anyway.
    """
    from pytest_mlinfra.errors import MlinfraError

    unaccepted = unaccepted_by_provider(runtime, provider_version)
    if unaccepted is not None:
        raise MlinfraError(
            unaccepted,
            f"require hashicorp/aws >= {first_provider(runtime)} in required_providers, or set "
            "--mlinfra-runtime (ini mlinfra_runtime) to a runtime that provider accepts; "
            "nothing was deployed",
        )
    notice = runtime_notice(runtime, today)
    if notice is None:
        return None
    if target_class(target).real_aws and refused_for_create(runtime, today):
        todo = (
            "set --mlinfra-runtime (ini mlinfra_runtime) to a runtime AWS accepts"
            if explicit
            else upgrade_hint(today)
        )
        raise MlinfraError(f"{notice} (target aws)", f"{todo}; nothing was deployed")
    if runtime_check == "error":
        raise MlinfraError(notice, "declare a runtime AWS accepts (mlinfra_runtime_check = warn allows it)")
    return notice
