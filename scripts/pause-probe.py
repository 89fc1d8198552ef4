#!/usr/bin/env python3
"""Machine pause probe (the fuzz campaign's): sleeps 1 ms at a time and prints each oversleep
longer than THRESHOLD ms (default 20) as `<epoch ms when it ended> <oversleep ms>`, until killed.

Run at real-time priority (`chrt -f 70`), nothing in the machine makes it wait for a CPU, so an
oversleep of tens of milliseconds means the machine itself did not run: on a virtual machine,
its host stopped the virtual CPUs (CPU quota, another guest). A process's event-loop stall at
the same moment is the machine's, not the process's."""
import sys
import time

threshold = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
while True:
    t = time.monotonic()
    time.sleep(0.001)
    over = (time.monotonic() - t) * 1000 - 1
    if over > threshold:
        print(f"{time.time() * 1000:.0f} {over:.1f}", flush=True)
