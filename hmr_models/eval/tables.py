"""Benchmark result tables on disk."""
import csv
from pathlib import Path


def write_csv(path, rows, fieldnames):
    """Write dict rows as a CSV table (parent folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=fieldnames)
        w.writeheader()
        w.writerows(rows)
    return path
