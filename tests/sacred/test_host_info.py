"""Host info: default getters, GPUs through a real (fake) nvidia-smi, custom getters."""

import os
import platform
import stat
import subprocess
import sys
import textwrap

import pytest

from sacred import host_info
from sacred.host_info import (
    HostInfoGetter,
    IgnoreHostInfo,
    check_additional_host_info,
    get_host_info,
    host_info_gatherer,
    host_info_gatherers,
    host_info_getter,
)
from sacred.settings import SETTINGS

NVIDIA_XML = """<?xml version="1.0" ?>
<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v11.dtd">
<nvidia_smi_log>
    <timestamp>Mon Jan  1 00:00:00 2024</timestamp>
    <driver_version>535.104.05</driver_version>
    <cuda_version>12.2</cuda_version>
    <attached_gpus>2</attached_gpus>
    <gpu id="00000000:01:00.0">
        <product_name>NVIDIA GeForce RTX 3090</product_name>
        <persistence_mode>Enabled</persistence_mode>
        <fb_memory_usage>
            <total>24576 MiB</total>
            <used>1 MiB</used>
        </fb_memory_usage>
    </gpu>
    <gpu id="00000000:02:00.0">
        <product_name>NVIDIA A100-SXM4-40GB</product_name>
        <persistence_mode>Disabled</persistence_mode>
        <mig_devices>
            <mig_device>
                <fb_memory_usage>
                    <total>9856 MiB</total>
                </fb_memory_usage>
            </mig_device>
        </mig_devices>
        <fb_memory_usage>
            <total>Insufficient Permissions</total>
        </fb_memory_usage>
    </gpu>
</nvidia_smi_log>
"""


@pytest.fixture(autouse=True)
def fresh_cache():
    host_info._STATIC_CACHE.clear()
    yield
    host_info._STATIC_CACHE.clear()


def fake_nvidia_smi(directory, body):
    """Put an executable ``nvidia-smi`` shell script into ``directory``."""
    path = directory / "nvidia-smi"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@pytest.fixture
def gpu_on(monkeypatch):
    monkeypatch.setitem(SETTINGS.HOST_INFO, "INCLUDE_GPU_INFO", True)


def test_default_host_info(monkeypatch):
    monkeypatch.setitem(SETTINGS.HOST_INFO, "INCLUDE_GPU_INFO", False)
    monkeypatch.setitem(SETTINGS.HOST_INFO, "INCLUDE_CPU_INFO", True)
    info = get_host_info()
    assert list(info) == ["hostname", "os", "python_version", "cpu", "gpus", "ENV"]
    assert info["hostname"] == platform.node()
    assert info["os"] == [platform.system(), platform.platform()]
    assert info["python_version"] == platform.python_version()
    assert info["gpus"] is None
    assert info["ENV"] == {}
    if platform.system() == "Linux":
        grep = subprocess.run(
            ["grep", "-m1", "model name", "/proc/cpuinfo"], capture_output=True, text=True
        )
        expected = grep.stdout.split(":", 1)[1].strip() if grep.stdout else None
        assert info["cpu"] == expected


def test_disabled_cpu_and_gpu_give_none(monkeypatch, tmp_path):
    monkeypatch.setitem(SETTINGS.HOST_INFO, "INCLUDE_GPU_INFO", False)
    monkeypatch.setitem(SETTINGS.HOST_INFO, "INCLUDE_CPU_INFO", False)
    fake_nvidia_smi(tmp_path, f"cat <<'EOF'\n{NVIDIA_XML}EOF\n")
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ["PATH"])
    info = get_host_info()
    assert info["cpu"] is None
    assert info["gpus"] is None


def test_gpus_are_omitted_without_nvidia_smi(monkeypatch, tmp_path, gpu_on):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "gpus" not in get_host_info()


def test_gpus_from_nvidia_smi_xml(monkeypatch, tmp_path, gpu_on):
    fake_nvidia_smi(tmp_path, f'[ "$*" = "-q -x" ] || exit 3\ncat <<\'EOF\'\n{NVIDIA_XML}EOF\n')
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ["PATH"])
    assert get_host_info()["gpus"] == {
        "gpus": [
            {"model": "NVIDIA GeForce RTX 3090", "total_memory": 24576, "persistence_mode": True},
            {"model": "NVIDIA A100-SXM4-40GB", "total_memory": 9856, "persistence_mode": False},
        ],
        "driver_version": "535.104.05",
    }


@pytest.mark.parametrize(
    "body", ["echo 'NVIDIA-SMI has failed' >&2; exit 9\n", "echo 'not xml at all'\n"]
)
def test_failing_nvidia_smi_omits_gpus(monkeypatch, tmp_path, gpu_on, body):
    fake_nvidia_smi(tmp_path, body)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ["PATH"])
    assert "gpus" not in get_host_info()


def test_static_parts_are_computed_once_per_process(monkeypatch, tmp_path, gpu_on):
    calls = tmp_path / "calls"
    fake_nvidia_smi(tmp_path, f"echo call >> {calls}\ncat <<'EOF'\n{NVIDIA_XML}EOF\n")
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ["PATH"])
    first = get_host_info()
    second = get_host_info()
    assert first == second
    assert calls.read_text() == "call\n"


def test_captured_env(monkeypatch):
    monkeypatch.setitem(SETTINGS.HOST_INFO, "CAPTURED_ENV", ["SACRED_TEST_FOO", "SACRED_MISSING"])
    monkeypatch.setenv("SACRED_TEST_FOO", "bar")
    monkeypatch.delenv("SACRED_MISSING", raising=False)
    assert get_host_info()["ENV"] == {"SACRED_TEST_FOO": "bar"}


def test_additional_host_info_gatherers():
    @host_info_gatherer("greeting")
    def greeting():
        return "hello"

    @host_info_gatherer("skipped")
    def skipped():
        raise IgnoreHostInfo()

    assert isinstance(greeting, HostInfoGetter)
    assert greeting.name == "greeting"
    assert greeting() == "hello" and greeting.get_info() == "hello"
    info = get_host_info([greeting, skipped])
    assert info["greeting"] == "hello"
    assert "skipped" not in info
    assert "hostname" in info


def test_additional_host_info_may_not_replace_a_default():
    @host_info_gatherer("os")
    def my_os():
        return "mine"

    with pytest.raises(KeyError) as info:
        check_additional_host_info([my_os])
    assert info.value.args[0] == (
        "Key os used in `additional_host_info` already exists as a default gatherer "
        "function. Do not use the following keys: "
        "['hostname', 'os', 'python_version', 'cpu', 'gpus', 'ENV']"
    )
    check_additional_host_info([])


def test_deprecated_host_info_getter_registers_globally():
    try:
        with pytest.warns(DeprecationWarning):

            @host_info_getter
            def answer():
                return 42

        with pytest.warns(DeprecationWarning):

            @host_info_getter(name="custom_name")
            def other():
                return "x"

        assert answer() == 42  # the function itself is returned
        assert host_info_gatherers["answer"] is answer
        assert host_info_gatherers["custom_name"] is other
        info = get_host_info()
        assert info["answer"] == 42 and info["custom_name"] == "x"
        assert list(info)[:2] == ["answer", "custom_name"]
    finally:
        host_info_gatherers.pop("answer", None)
        host_info_gatherers.pop("custom_name", None)


def test_cpuinfo_without_model_name_gives_none(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: ARM\n")
    assert host_info._get_cpu_by_proc_cpuinfo(str(cpuinfo)) is None
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Fancy CPU @ 3GHz \nmodel name\t: other\n")
    assert host_info._get_cpu_by_proc_cpuinfo(str(cpuinfo)) == "Fancy CPU @ 3GHz"


def test_import_and_host_info_stay_light():
    code = textwrap.dedent(
        """
        import sys
        from sacred.host_info import get_host_info
        get_host_info()
        print(sorted(m for m in ("cpuinfo", "git", "numpy", "xml.etree.ElementTree") if m in sys.modules))
        """
    )
    env = dict(os.environ, PATH=os.path.dirname(sys.executable))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "[]\n"
