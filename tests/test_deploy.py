"""The deployment files, checked by reading them (Docker cannot run here): docker-compose.yml
starts PostgreSQL, migrates once, then any number of workers; the Dockerfile builds a slim,
non-root image of this repository's package with the pins of pyproject.toml."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
CONFIG_IN_CONTAINER = "/config/feeds.yaml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    logical = re.sub(r"\\\n", " ", text)
    instructions = []
    for line in logical.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    services = compose["services"]
    assert name in services, f"docker-compose.yml has no service {name!r}"
    return dict(services[name])


def command_of(entry: dict[str, Any]) -> list[str]:
    command = entry["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def environment_of(entry: dict[str, Any]) -> dict[str, str]:
    environment = entry.get("environment", {})
    if isinstance(environment, list):  # the KEY=value list form
        return dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in environment.items()}


def depends_on(entry: dict[str, Any]) -> dict[str, str]:
    return {name: spec["condition"] for name, spec in entry["depends_on"].items()}


def entrypoint(dockerfile: list[tuple[str, str]]) -> list[str]:
    (arguments,) = [arguments for keyword, arguments in dockerfile if keyword == "ENTRYPOINT"]
    parsed = yaml.safe_load(arguments)  # the JSON (exec) form is a YAML flow sequence
    assert isinstance(parsed, list), "ENTRYPOINT should use the exec form"
    return [str(part) for part in parsed]


# ---- docker-compose.yml ----------------------------------------------------------------------


def test_db_is_postgres_16_with_a_named_volume_and_a_healthcheck(compose: dict[str, Any]) -> None:
    db = service(compose, "db")
    assert str(db["image"]).split(":")[1].startswith("16")
    assert str(db["image"]).startswith("postgres:")
    data_volumes = [
        volume for volume in db["volumes"] if volume.endswith(":/var/lib/postgresql/data")
    ]
    assert len(data_volumes) == 1
    volume_name = data_volumes[0].split(":")[0]
    assert not volume_name.startswith((".", "/")), "a named volume, not a bind mount"
    assert volume_name in compose["volumes"]
    healthcheck = db["healthcheck"]
    assert "pg_isready" in " ".join(healthcheck["test"])
    assert healthcheck["retries"] >= 1


def test_migrate_runs_db_upgrade_once_after_db_is_healthy(
    compose: dict[str, Any], dockerfile: list[tuple[str, str]]
) -> None:
    migrate = service(compose, "migrate")
    command = entrypoint(dockerfile) + command_of(migrate)
    assert command[0] == "pipeline"
    assert command[-2:] == ["db", "upgrade"]
    assert depends_on(migrate) == {"db": "service_healthy"}
    assert migrate.get("restart", "no") == "no", "a one-shot job: never restarted"


def test_worker_runs_the_daemon_after_migrate_and_scales(
    compose: dict[str, Any], dockerfile: list[tuple[str, str]]
) -> None:
    worker = service(compose, "worker")
    command = entrypoint(dockerfile) + command_of(worker)
    assert command[0] == "pipeline"
    assert command[-1] == "run", "the daemon, not --once"
    assert depends_on(worker) == {
        "db": "service_healthy",
        "migrate": "service_completed_successfully",
    }
    assert worker["deploy"]["replicas"] >= 2
    # `--scale worker=N` fails with a fixed container name or a published host port.
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker.get("stop_signal", "SIGTERM") == "SIGTERM"  # the clean-shutdown signal


@pytest.mark.parametrize("name", ["migrate", "worker"])
def test_app_services_read_the_mounted_feeds_yaml(
    compose: dict[str, Any], dockerfile: list[tuple[str, str]], name: str
) -> None:
    entry = service(compose, name)
    mounts = [volume.split(":") for volume in entry["volumes"]]
    assert ["./feeds.yaml", CONFIG_IN_CONTAINER, "ro"] in mounts
    assert (REPO / "feeds.yaml").is_file()
    command = entrypoint(dockerfile) + command_of(entry)
    assert command[command.index("--config") + 1] == CONFIG_IN_CONTAINER
    assert "build" in entry, "the image of this repository"


@pytest.mark.parametrize("name", ["migrate", "worker"])
def test_app_services_use_the_db_service_and_its_credentials(
    compose: dict[str, Any], name: str
) -> None:
    db_environment = environment_of(service(compose, "db"))
    url = make_url(environment_of(service(compose, name))["PIPELINE_DATABASE_URL"])
    assert url.drivername == "postgresql+psycopg"
    assert url.host == "db"
    assert url.port in (None, 5432)
    assert url.username == db_environment["POSTGRES_USER"]
    assert url.password == db_environment["POSTGRES_PASSWORD"]
    assert url.database == db_environment["POSTGRES_DB"]


# ---- Dockerfile ------------------------------------------------------------------------------


def test_image_is_slim_python_matching_requires_python(dockerfile: list[tuple[str, str]]) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    minimum = re.fullmatch(r">=\s*3\.(\d+)", project["requires-python"])
    assert minimum is not None
    bases = [arguments for keyword, arguments in dockerfile if keyword == "FROM"]
    assert len(bases) == 1
    match = re.fullmatch(r"python:3\.(\d+)-slim(-\w+)?", bases[0])
    assert match is not None, f"not a slim Python base: {bases[0]}"
    assert int(match.group(1)) >= int(minimum.group(1))


def test_image_installs_this_repository_with_pyprojects_pins(
    dockerfile: list[tuple[str, str]],
) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    for requirement in project["project"]["dependencies"]:
        assert re.fullmatch(r"[\w.\-\[\]]+==[\w.]+", requirement), f"not pinned: {requirement}"
    copied = " ".join(arguments for keyword, arguments in dockerfile if keyword == "COPY").split()
    assert "pyproject.toml" in copied
    for package in project["tool"]["setuptools"]["packages"]:
        assert package.split(".")[0] in copied, f"the image lacks the {package} package"
    installs = [
        arguments
        for keyword, arguments in dockerfile
        if keyword == "RUN" and re.search(r"\bpip3?\s+install\b", arguments)
    ]
    assert installs == ["pip install ."], "only the package itself, so its pins are the only ones"


def test_image_runs_as_a_non_root_user(dockerfile: list[tuple[str, str]]) -> None:
    keywords = [keyword for keyword, _arguments in dockerfile]
    users = [arguments for keyword, arguments in dockerfile if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert keywords.index("USER") > max(
        index for index, (keyword, _) in enumerate(dockerfile) if keyword == "RUN"
    ), "USER comes after the installation steps"
    creates_user = [
        arguments
        for keyword, arguments in dockerfile
        if keyword == "RUN" and re.search(rf"\buseradd\b.*\b{users[-1]}\b", arguments)
    ]
    assert creates_user, f"the image never creates the user {users[-1]!r}"
    assert entrypoint(dockerfile) == ["pipeline"]
