"""Every `tenantops ... --help` text, read as a user reads it: it speaks of the project, never of the machine it
was installed on, and the figures it states are the ones the code uses."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import click
from click.testing import CliRunner
from tests.cli.helpers import ROOT

from tenantops.cli.main import cli


def _commands(group: click.Group, ctx: click.Context, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _commands(command, click.Context(command, parent=ctx, info_name=name), (*path, name))


def help_texts() -> dict[tuple[str, ...], str]:
    """`--help` of the group and of every command and subcommand, as printed at a wide terminal."""
    runner = CliRunner()
    paths = [(), *_commands(cli, click.Context(cli, info_name="tenantops"))]
    texts = {}
    for path in paths:
        result = runner.invoke(cli, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, (path, result.output)
        texts[path] = result.output
    return texts


def test_no_help_text_names_a_path_of_this_checkout() -> None:
    """Defaults that are the repository's own folders are described as such: a help text printing the absolute
    path of the checkout it runs from says nothing true on another machine."""
    texts = help_texts()
    assert {("demo",), ("bench", "controller"), ("bench", "infra"), ("run",)} <= set(texts)
    showing = {" ".join(path): str(ROOT) for path, text in texts.items() if str(ROOT) in text}
    assert showing == {}


def test_the_demo_help_states_the_scrape_interval_the_demo_uses() -> None:
    from tenantops_lab.demo.run import DemoOptions

    scrape = next(f.default for f in dataclasses.fields(DemoOptions) if f.name == "scrape_seconds")
    stated = re.search(r"scraping a workload simulator every ([\d.]+) s", help_texts()[("demo",)])
    assert stated is not None, "the demo's --help no longer states the scrape interval"
    assert float(stated[1]) == scrape


def test_the_plan_help_states_the_default_horizon_the_policy_has() -> None:
    from tenantops.config import load_config
    from tenantops.config.kinds.capacity import DEFAULT_CAPACITY
    from tenantops.decide.capacity.plan import capacity_policy

    stated = re.search(r"Default: the CapacityPolicy's \((\d+)\)", " ".join(help_texts()[("plan",)].split()))
    assert stated is not None, "`tenantops plan --help` no longer states the default horizon"
    shipped = capacity_policy(load_config(ROOT / "stacks" / "dev.catalog.yaml", ROOT / "policies"))
    assert int(stated[1]) == shipped.months == DEFAULT_CAPACITY.months


def test_every_option_says_what_it_does() -> None:
    """An option listed with its name and type alone leaves the user to read the code."""
    bare = []
    root = click.Context(cli, info_name="tenantops")
    for path in _commands(cli, root):
        ctx, command = root, cli
        for name in path:
            found = command.get_command(ctx, name) if isinstance(command, click.Group) else None
            assert found is not None
            command, ctx = found, click.Context(found, parent=ctx, info_name=name)
        bare += [f"tenantops {' '.join(path)} {p.opts[0]}" for p in command.params
                 if isinstance(p, click.Option) and not p.help and not p.hidden]
    assert bare == []


def test_help_texts_read_as_prose_not_as_the_code() -> None:
    """A docstring line that lost its indentation made click keep the others' (`run --help` read "finish the
    current pass" with five spaces inside), and a help text naming a module path tells a user nothing."""
    broken = {" ".join(path): re.findall(r"\S {3,}\S", text.split("Options:")[0])
              for path, text in help_texts().items()}
    assert {path: found for path, found in broken.items() if found} == {}
    internal = {" ".join(path) for path, text in help_texts().items()
                if re.search(r"`(engine|decide|observe|notify|record|act)\.[a-z_.]+`", text)}
    assert internal == set()


def test_every_state_flag_states_its_default() -> None:
    """`--state` said only `Env: TENANTOPS_STATE`: where the file is when neither is given, and that
    TENANTOPS_DATABASE_URL (a pod's Postgres) is read instead when set, were in no help text."""
    from tenantops.config.settings import Settings

    default = Settings.model_fields["state"].default_factory()  # type: ignore[misc]
    relative = str(Path(default).relative_to(ROOT)) if Path(default).is_relative_to(ROOT) else default
    texts = help_texts()
    with_state = {path: " ".join(text.split()) for path, text in texts.items() if "--state " in text}
    assert {("audit",), ("cost",), ("plan",), ("report",), ("rightsize",), ("reconcile",), ("run",)} <= set(with_state)
    for path, text in with_state.items():
        option = text[text.index("--state "):]
        option = option[:option.index(" --", 1)]
        assert f"Default: {relative}" in option, (path, option)
        assert "TENANTOPS_DATABASE_URL" in option, (path, option)


def test_the_prometheus_url_and_http_port_help_state_their_defaults() -> None:
    """`--prometheus-url` and `--http-port` named their variable but not the value used without either."""
    from tenantops.config.settings import Settings

    texts = {path: " ".join(text.split()) for path, text in help_texts().items()}
    url = str(Settings.model_fields["prometheus_url"].default).rstrip("/")
    port = Settings.model_fields["http_port"].default
    with_url = [path for path, text in texts.items() if "--prometheus-url " in text]
    assert {("reconcile",), ("run",), ("rightsize",)} <= set(with_url)
    for path in with_url:
        option = texts[path][texts[path].index("--prometheus-url "):]
        assert f"Default: {url}" in option[:option.index(" --", 1)], (path, option)
    option = texts[("run",)][texts[("run",)].index("--http-port "):]
    assert f"Default: {port}" in option[:option.index(" --", 1)], option
