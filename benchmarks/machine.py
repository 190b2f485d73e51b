"""The machine a benchmark ran on, recorded beside its numbers (only ratios measured in one run
on one machine are comparable)."""
import os
import platform

# The vector and matrix instruction sets that change CPU training speed.
CPU_FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni",
                "amx_tile", "amx_bf16", "amx_int8", "amx_fp16")


def cpu_description() -> dict:
    """{cpu: model name, cpu_cores: logical cores usable by this process, cpu_features: CPU_FEATURES present}."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    name = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:  # not Linux
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": name, "cpu_cores": cores, "cpu_features": [f for f in CPU_FEATURES if f in flags]}
