"""Information about the machine a run executes on.

The parts that cannot change while the process lives (hostname, OS, CPU, GPUs)
are computed once per process: a second run in the same process pays nothing.
"""

import os
import platform
import re
import shutil
import subprocess
import warnings
from typing import Callable, Dict, List, Optional

from sacred.settings import SETTINGS
from sacred.utils import optional_kwargs_decorator

__all__ = ("host_info_gatherers", "get_host_info", "host_info_getter")

# legacy registry filled by the deprecated ``@host_info_getter``
host_info_gatherers: Dict[str, Callable] = {}


class IgnoreHostInfo(Exception):
    """Raised by a host info getter to leave its key out of the host info."""


class HostInfoGetter:
    """A named zero-argument function whose result goes into the host info."""

    def __init__(self, getter_function: Callable, name: str):
        self.getter_function = getter_function
        self.name = name

    def __call__(self):
        return self.getter_function()

    def get_info(self):
        return self.getter_function()

    def __repr__(self):
        return f"HostInfoGetter({self.name!r})"


def host_info_gatherer(name: str):
    """Decorator: turn a zero-argument function into a ``HostInfoGetter`` called ``name``.

    Pass the result to ``Experiment(additional_host_info=[...])``.
    """

    def wrapper(f):
        return HostInfoGetter(f, name)

    return wrapper


def check_additional_host_info(additional_host_info: List[HostInfoGetter]):
    """Refuse additional getters that would replace a default one."""
    names_taken = [x.name for x in _host_info_gatherers_list]
    for getter in additional_host_info:
        if getter.name in names_taken:
            raise KeyError(
                f"Key {getter.name} used in `additional_host_info` already exists as a "
                f"default gatherer function. Do not use the following keys: {names_taken}"
            )


def get_host_info(additional_host_info: Optional[List[HostInfoGetter]] = None) -> dict:
    """Call every host info getter: the legacy ones, the additional ones, the defaults."""
    all_gatherers = dict(host_info_gatherers)
    for getter in list(additional_host_info or []) + _host_info_gatherers_list:
        all_gatherers[getter.name] = getter
    host_info = {}
    for key, getter in all_gatherers.items():
        try:
            host_info[key] = getter()
        except IgnoreHostInfo:
            pass
    return host_info


@optional_kwargs_decorator
def host_info_getter(func, name=None):
    """Deprecated: register ``func`` in ``host_info_gatherers`` under ``name``.

    Use ``@host_info_gatherer(name)`` and ``Experiment(additional_host_info=[...])``.
    """
    warnings.warn(
        "The host_info_getter is deprecated. Please use the "
        "`additional_host_info` argument in the Experiment constructor.",
        DeprecationWarning,
        stacklevel=3,
    )
    name = name or func.__name__
    host_info_gatherers[name] = func
    return func


# ---------------------------------------------------------------- the defaults
# computed at most once per process; cleared by tests via _STATIC_CACHE.clear()
_STATIC_CACHE: Dict[str, object] = {}
_IGNORED = object()


def _cached(key, compute):
    try:
        value = _STATIC_CACHE[key]
    except KeyError:
        try:
            value = compute()
        except IgnoreHostInfo:
            value = _IGNORED
        _STATIC_CACHE[key] = value
    if value is _IGNORED:
        raise IgnoreHostInfo()
    return value


@host_info_gatherer(name="hostname")
def _hostname():
    return _cached("hostname", platform.node)


@host_info_gatherer(name="os")
def _os():
    return _cached("os", lambda: [platform.system(), platform.platform()])


@host_info_gatherer(name="python_version")
def _python_version():
    return platform.python_version()


@host_info_gatherer(name="cpu")
def _cpu():
    if not SETTINGS.HOST_INFO.INCLUDE_CPU_INFO:
        return None
    return _cached("cpu", _get_cpu)


@host_info_gatherer(name="gpus")
def _gpus():
    if not SETTINGS.HOST_INFO.INCLUDE_GPU_INFO:
        return None
    return _cached("gpus", _get_gpus)


@host_info_gatherer(name="ENV")
def _environment():
    return {k: os.environ[k] for k in SETTINGS.HOST_INFO.CAPTURED_ENV if k in os.environ}


_host_info_gatherers_list = [_hostname, _os, _python_version, _cpu, _gpus, _environment]


# ---------------------------------------------------------------- CPU
_MODEL_NAME = re.compile(r"^\s*model name\s*:")


def _get_cpu():
    system = platform.system()
    if system == "Windows":
        return _get_cpu_by_pycpuinfo()
    try:
        if system == "Darwin":
            return _get_cpu_by_sysctl()
        if system == "Linux":
            return _get_cpu_by_proc_cpuinfo()
    except Exception:
        return _get_cpu_by_pycpuinfo()
    return None


def _get_cpu_by_proc_cpuinfo(path="/proc/cpuinfo"):
    """The first "model name" in /proc/cpuinfo, or None if there is none."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if _MODEL_NAME.match(line):
                return _MODEL_NAME.sub("", line, count=1).strip()
    return None


def _get_cpu_by_sysctl():
    out = subprocess.check_output(["sysctl", "-n", "machdep.cpu.brand_string"])
    return out.decode().strip()


def _get_cpu_by_pycpuinfo():
    import cpuinfo

    return cpuinfo.get_cpu_info().get("brand_raw", "Unknown")


# ---------------------------------------------------------------- GPUs
def _get_gpus():
    """The GPUs reported by ``nvidia-smi -q -x``; IgnoreHostInfo without a working nvidia-smi."""
    executable = shutil.which("nvidia-smi")
    if executable is None:
        raise IgnoreHostInfo()
    from xml.etree.ElementTree import ParseError

    try:
        xml = subprocess.check_output(
            [executable, "-q", "-x"], stderr=subprocess.DEVNULL, timeout=30
        ).decode("utf-8", "replace")
        return _parse_nvidia_smi_xml(xml)
    except (OSError, subprocess.SubprocessError, ParseError, AttributeError, ValueError) as e:
        raise IgnoreHostInfo() from e


def _parse_nvidia_smi_xml(xml: str) -> dict:
    from xml.etree import ElementTree

    gpu_info = {"gpus": []}
    for child in ElementTree.fromstring(xml):
        if child.tag == "driver_version":
            gpu_info["driver_version"] = child.text
        if child.tag != "gpu":
            continue
        total = child.find("fb_memory_usage").find("total").text
        if total == "Insufficient Permissions":
            # a Multi-Instance GPU (MIG) slice: use the memory of its MIG device
            mig = child.find("mig_devices").find("mig_device")
            total = mig.find("fb_memory_usage").find("total").text
        gpu_info["gpus"].append(
            {
                "model": child.find("product_name").text,
                "total_memory": int(total.split()[0]),
                "persistence_mode": child.find("persistence_mode").text == "Enabled",
            }
        )
    return gpu_info
