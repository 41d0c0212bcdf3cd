"""docker-compose.yml, checked without a Docker engine: the services the scale-out needs,
no shared volume between the API and the workers (only read-only course data), GPU
workers with an NVIDIA reservation, and settings that service/config.py accepts."""

from __future__ import annotations

import yaml

from service.config import Settings
from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_the_deployment_has_api_cpu_and_gpu_workers_postgres_and_redis():
    assert set(SERVICES) == {"api", "worker-cpu", "worker-gpu", "postgres", "redis"}
    cpu, gpu = SERVICES["worker-cpu"]["command"], SERVICES["worker-gpu"]["command"]
    assert cpu[:4] == ["autograder", "worker", "--queue", "cpu"]
    assert gpu[:4] == ["autograder", "worker", "--queue", "gpu"]
    assert "--gpus" in gpu


def test_no_volume_is_shared_between_the_api_and_workers_but_read_only_data():
    mounts = {name: SERVICES[name].get("volumes", []) for name in
              ("api", "worker-cpu", "worker-gpu")}
    for name, volumes in mounts.items():
        for volume in volumes:
            assert str(volume).endswith(":ro"), f"{name} mounts {volume} writable"
    assert set(COMPOSE.get("volumes", {})) == {"pgdata"}  # the database's own disk only


def test_gpu_workers_reserve_an_nvidia_device():
    devices = SERVICES["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert "deploy" not in SERVICES["worker-cpu"] or "resources" not in \
        SERVICES["worker-cpu"]["deploy"]


def test_every_container_environment_is_valid_settings(monkeypatch):
    known = set(Settings.model_fields)
    for name in ("api", "worker-cpu", "worker-gpu"):
        env = SERVICES[name]["environment"]
        for key in env:
            assert key.startswith("AUTOGRADER_") and key[11:].lower() in known, key
        for key, value in env.items():
            monkeypatch.setenv(key, str(value))
        settings = Settings()
        assert settings.dispatcher == "celery" and settings.storage == "database"
        assert settings.database_url and settings.database_url.startswith("postgresql")
        for key in env:
            monkeypatch.delenv(key)
