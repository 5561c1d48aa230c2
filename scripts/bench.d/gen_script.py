#!/usr/bin/env python3
"""Writes an mbg script of about N lines: tables, derived versions, migrations."""
import sys

def main():
    target = int(sys.argv[1])
    out = []
    i = 0
    while len(out) < target:
        out += [
            f"table t{i} v0.0 {{",
            "    id String key",
            "    name LowCardinality(String)",
            "    created_at DateTime",
            "    amount Decimal(18, 4) default \"0\"",
            f"}} order_by id partition_by \"toYYYYMM(created_at)\"",
            f"table t{i} v0.1 order_by id, created_at",
            f"migrate t{i} v0.0 -> v0.1 cutoff created_at lateness 5m batch 1_000_000",
            f"# block {i}",
        ]
        i += 1
    sys.stdout.write("\n".join(out) + "\n")

main()
