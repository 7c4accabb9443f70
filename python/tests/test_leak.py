# SPDX-License-Identifier: MIT
"""No leak: the resident set stays bounded over 1000 small flows (and KDE calls)."""
import os

import gfd

T = gfd.toy.sample("8gaussians", 64, seed=0)


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_rss_bounded_over_1000_flows():
    def work():
        x = gfd.drift(T, n=64, steps=5, observer=lambda s: s.particles is not None, observe_every=1)
        gfd.kde(T, 0.3).logpdf(x)

    for _ in range(100):  # warm-up: allocator pools, caches
        work()
    before = rss_bytes()
    for _ in range(1000):
        work()
    grown = rss_bytes() - before
    # One flow allocates ~10 KB of arrays: a leak of them all would add ~10 MB.
    assert grown < 4 * 1024 * 1024, f"RSS grew by {grown / 1e6:.1f} MB over 1000 flows"
