"""The bubblewrap command line, checked without running it (GPU hosts included)."""

from __future__ import annotations

import pytest

from graders.sandbox.config import (
    ENV_MOUNT,
    LaunchPlan,
    SandboxMode,
    bwrap_argv,
    kernel_environment,
)


def plan(**overrides) -> LaunchPlan:
    base = dict(
        mode=SandboxMode.ROOT, bwrap="/usr/bin/bwrap", uid=10001, gid=10001,
        python_env="/opt/venv", ipc_dir="/jobs/1/ipc", probe_dir="/jobs/1/probe",
        etc_dir="/jobs/1/etc", memory_bytes=1 << 30, max_processes=64, cpu_seconds=60,
        file_size_bytes=1 << 20, open_files=64, tmp_bytes=1 << 24, home_bytes=1 << 24,
    )
    base.update(overrides)
    return LaunchPlan(**base)


def argv(p: LaunchPlan) -> list[str]:
    return bwrap_argv(p, env_path="/stage/env", ipc_path="/stage/ipc",
                      probe_path="/stage/probe", etc_path="/stage/etc", seccomp_fd=5)


def pairs(args: list[str], flag: str) -> list[tuple[str, str]]:
    return [(args[i + 1], args[i + 2]) for i, a in enumerate(args) if a == flag]


def test_namespaces_read_only_root_and_seccomp():
    args = argv(plan())
    for flag in ("--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
                 "--new-session", "--clearenv"):
        assert flag in args
    assert args[args.index("--remount-ro") + 1] == "/"
    assert args[args.index("--seccomp") + 1] == "5"
    assert ("/stage/env", ENV_MOUNT) in pairs(args, "--ro-bind")
    assert ("/stage/probe", "/grader") in pairs(args, "--ro-bind")
    # nothing of the host is writable: the connection file is read-only, the sockets'
    # folder a tmpfs of the sandbox's own
    assert ("/stage/ipc/kernel.json", "/ipc/kernel.json") in pairs(args, "--ro-bind")
    assert "--bind" not in args


def test_writable_places_are_size_capped_tmpfs():
    args = argv(plan())
    sizes = [(args[i + 1], args[i + 3]) for i, a in enumerate(args) if a == "--size"]
    assert sizes == [(str(1 << 24), "/tmp"), (str(1 << 24), "/home/student"),
                     (str(1 << 24), "/content"), (str(1 << 20), "/ipc")]


def test_environment_is_an_allow_list(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "leak")
    env = kernel_environment(plan())
    assert "AWS_SECRET_ACCESS_KEY" not in env and env["HOME"] == "/home/student"
    assert "leak" not in " ".join(argv(plan()))


def test_no_gpu_devices_without_a_slot():
    assert not any("nvidia" in a for a in argv(plan()))
    assert "CUDA_VISIBLE_DEVICES" not in kernel_environment(plan())


@pytest.mark.parametrize("gpu", [0, 3])
def test_a_gpu_slot_binds_only_its_device_and_the_control_devices(gpu):
    args = argv(plan(gpu=gpu))
    devices = [src for src, _ in pairs(args, "--dev-bind-try")]
    assert devices == ["/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools",
                       f"/dev/nvidia{gpu}"]
    assert kernel_environment(plan(gpu=gpu))["CUDA_VISIBLE_DEVICES"] == str(gpu)


def test_the_plan_goes_through_its_file_unchanged_and_a_stray_field_is_refused():
    written = plan(cgroup_procs=("/sys/fs/cgroup/pids/job/cgroup.procs",), gpu=1, forked=True)
    assert LaunchPlan.from_json(written.to_json()) == written
    with pytest.raises(TypeError):
        LaunchPlan.from_json(written.to_json()[:-1] + ', "seccomp": false}')


def test_a_forked_kernels_sandbox_runs_only_the_holder_under_the_same_confinement():
    usual, forked = argv(plan()), argv(plan(forked=True))
    command = forked[forked.index("--") + 1:]
    assert "ipykernel_launcher" not in command and "-I" in command  # no site, no env
    # everything before the command (mounts, namespaces, seccomp, environment) is equal
    assert forked[:forked.index("--")] == usual[:usual.index("--")]
