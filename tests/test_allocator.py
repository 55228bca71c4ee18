"""The heap policy, checked against the kernel's own count of page faults."""

import subprocess
import sys

import pytest

from bench.core import allocator

# A fresh process repeats a step that allocates a 48 MiB and a 96 MiB tensor (a network's layer outputs
# on a large image: above glibc's largest dynamic mmap threshold, 32 MiB) and prints the minor page
# faults of each step. Mapped anew each time, every 4 KiB page of the 144 MiB faults once per step
# when first written: 36,864 faults. Kept in the heap, the blocks are reused once the heap has settled
# (a few steps: small live objects between the blocks decide when freed ones coalesce).
PROBE = r"""
import resource, sys
from bench.core import allocator
print(allocator.apply(sys.argv[1]))
import torch
torch.set_num_threads(1)
x = torch.rand(3, 2048, 2048)
def step():
    y = x * 2.0
    return float(torch.cat([y, x]).sum())
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    before = faults()
    step()
    print(faults() - before)
"""
FAULTS_PER_STEP = (48 + 96) * 2**20 // 4096


def probe(mode):
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    effective, *faults = done.stdout.split()
    return effective, [int(f) for f in faults]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_caching_reuses_freed_blocks_where_system_faults_them_in_again():
    effective, system = probe("system")
    assert effective == "system"
    assert min(system[1:]) >= 0.9 * FAULTS_PER_STEP  # every step maps and faults its blocks again
    effective, caching = probe("caching")
    assert effective == "caching"
    settled = caching[5:]
    assert min(settled) < FAULTS_PER_STEP / 100  # steps that reuse the heap and fault nothing new
    assert sum(settled) < sum(system[5:]) / 3


def test_unknown_mode_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="caching, system"):
        allocator.apply("jemalloc")
