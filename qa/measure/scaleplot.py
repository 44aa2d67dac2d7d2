"""The curves of ``ancre bench --scale`` in one PNG (matplotlib, ``pip install matplotlib``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PANELS = (
    (("hybrid_p50_s", "hybrid p50"), ("hybrid_p95_s", "hybrid p95"), "search latency (ms)", 1000),
    (("serve_peak_rss_mb", "serving process"), ("server_rss_mb", "Milvus server"), "RSS (MiB)", 1),
    (("recall_at_5", "recall@5"), ("flat_recall_at_5", "recall@5, exact vectors"), "recall@5", 1),
    (("index_open_s", "open"), ("first_search_s", "first search (loads the model)"), "cold (s)", 1),
)


def plot(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Four panels against the chunk count (log scale), one line per store and figure."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("the scale plot needs matplotlib: pip install matplotlib") from None
    stores = sorted({r["store"] for r in rows})
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for ax, (first, second, label, scale) in zip(axes.flat, PANELS, strict=True):
        for store in stores:
            mine = sorted((r for r in rows if r["store"] == store), key=lambda r: r["chunks"])
            for (key, name), style in ((first, "-o"), (second, "--s")):
                points = [(r["chunks"], r[key] * scale) for r in mine if r.get(key) is not None]
                if points:
                    xs, ys = zip(*points, strict=True)
                    ax.plot(xs, ys, style, label=f"{store}: {name}")
        ax.set_xscale("log")
        if scale == 1000:  # latencies span decades
            ax.set_yscale("log")
        ax.set_xlabel("chunks")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("ancre bench --scale")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
