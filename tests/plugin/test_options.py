"""Options, ini settings, header, guards: the plugin's behaviour as a user sees it (pytester)."""

from __future__ import annotations

import socket

import pytest

from pytest_mlinfra.emulator import EmbeddedAWS

USES_TARGET = "def test_it(mlinfra_target):\n    assert mlinfra_target.name\n"


def test_header_names_target_and_stack_and_with_v_terraform_and_provider(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    quiet = pytester.runpytest()
    quiet.assert_outcomes(passed=1)
    quiet.stdout.fnmatch_lines(["mlinfra: target local (*); run id r*", "mlinfra: stack *fixtures_tf"])
    assert "mlinfra: terraform" not in quiet.stdout.str()  # no subprocess for a session that deploys nothing
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "mlinfra: target local (embedded moto server on 127.0.0.1, started on demand, *); run id r*",
            "mlinfra: terraform * (Terraform *, *)",
            "mlinfra: providers: hashicorp/aws * in the bundled offline mirror *; anything else from *",
            "mlinfra: stack *fixtures_tf",
        ]
    )


def test_nothing_starts_unless_a_fixture_asks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "target start" not in result.stdout.str()


def test_local_target_serves_aws_on_loopback(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_s3(mlinfra_target):
            assert mlinfra_target.endpoint_url.startswith("http://127.0.0.1:")
            s3 = mlinfra_target.client("s3")
            s3.create_bucket(Bucket="models")
            assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["models"]
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*target start*"])


def test_ini_sets_target_and_option_wins(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmlinfra_target = aws\nmlinfra_region = eu-west-1\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    refused = pytester.runpytest()
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    result = pytester.runpytest("--mlinfra-target=local")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["mlinfra: target local (*, eu-west-1)*"])


def test_aws_target_refuses_without_opt_in(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLINFRA_AWS_OPT_IN", raising=False)
    # An unreachable endpoint: if the guard made any AWS call, it would show up as a connection error.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    pytester.makepyfile(USES_TARGET)
    result = pytester.runpytest("--mlinfra-target=aws")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR: mlinfra:")]
    assert len(errors) == 1
    assert "explicit opt-in" in errors[0] and "--mlinfra-aws-opt-in" in errors[0]
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_aws_target_checks_the_account_allow_list(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EmbeddedAWS() as sts:  # stands in for AWS STS: account 123456789012
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts.endpoint_url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        monkeypatch.setenv("MLINFRA_AWS_OPT_IN", "1")
        pytester.makepyfile(USES_TARGET)
        refused = pytester.runpytest("--mlinfra-target=aws", "--mlinfra-aws-accounts=111111111111")
        allowed = pytester.runpytest("--mlinfra-target=aws", "--mlinfra-aws-accounts=123456789012")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stdout.fnmatch_lines(
        ["*mlinfra: AWS account 123456789012 is not on the allow-list (111111111111)*"]
    )
    allowed.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--mlinfra-target=gcp"], "*argument --mlinfra-target: invalid choice: 'gcp'*"),
        (["--mlinfra-stack=empty"], "ERROR: mlinfra: stack directory */empty has no .tf files. point*"),
        (["--mlinfra-stack=missing"], "ERROR: mlinfra: stack directory */missing does not exist*"),
        (["--mlinfra-terraform=/no/terraform"], "ERROR: mlinfra: Terraform binary '/no/terraform' *"),
        (["--mlinfra-tag=Team"], "ERROR: mlinfra: cost tag 'Team' is not KEY=VALUE*"),
        (["--mlinfra-handler-dir=nowhere"], "ERROR: mlinfra: handler directory */nowhere does not exist*"),
    ],
)
def test_bad_input_is_one_usage_error_line(pytester: pytest.Pytester, args: list[str], expected: str) -> None:
    pytester.mkdir("empty")
    pytester.makepyfile(USES_TARGET)
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
    assert "Traceback" not in result.stderr.str()


def test_port_already_taken(pytester: pytest.Pytester) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        pytester.makepyfile(USES_TARGET)
        result = pytester.runpytest(f"--mlinfra-port={port}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: mlinfra: port {port} on 127.0.0.1 is already taken*"])


def test_disabled_with_p_no_mlinfra(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_TARGET)
    result = pytester.runpytest("-p", "no:mlinfra")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'mlinfra_target' not found*"])
    assert "mlinfra: target" not in result.stdout.str()


def test_localstack_not_running_stops_the_session(pytester: pytest.Pytester) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    pytester.makepyfile(USES_TARGET + "\ndef test_second(mlinfra_target):\n    pass\n")
    result = pytester.runpytest(
        "--mlinfra-target=localstack", f"--mlinfra-localstack-endpoint=http://127.0.0.1:{port}"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines([f"*mlinfra: no LocalStack answers at http://127.0.0.1:{port}*"])
    assert "test_second" not in result.stdout.str()  # the session stopped at the first failure


def test_help_lists_the_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    text = result.stdout.str()
    for option in ("--mlinfra-target", "--mlinfra-stack", "--mlinfra-keep", "--mlinfra-terraform"):
        assert option in text
