"""Drain3 baseline for `cargo bench --bench template_mining`: mines each file given with a fresh
TemplateMiner (PyPI drain3, default tree settings) plus masking of numbers, hex, IPs and UUIDs and
a cluster cap, so that re-randomised ids do not make every line its own cluster. Prints one JSON
object: seconds spent mining (reading excluded), lines, clusters at the end."""
import json
import sys
import time

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig


def miner(max_clusters):
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    config.drain_max_clusters = max_clusters
    config.masking_instructions = [
        MaskingInstruction(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "UUID"),
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)", "IP"),
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)(0x[a-fA-F0-9]+)((?=[^A-Za-z0-9])|$)", "HEX"),
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)", "NUM"),
    ]
    return TemplateMiner(config=config)


def main():
    max_clusters = int(sys.argv[1])
    total = 0.0
    lines = 0
    clusters = 0
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8", errors="replace") as f:
            data = f.read().splitlines()
        tm = miner(max_clusters)
        start = time.perf_counter()
        for line in data:
            tm.add_log_message(line)
        total += time.perf_counter() - start
        lines += len(data)
        clusters += len(tm.drain.clusters)
    print(json.dumps({"seconds": total, "lines": lines, "clusters": clusters}))


if __name__ == "__main__":
    main()
