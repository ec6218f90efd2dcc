"""The one way benchmarks and docs scripts draw figures: a headless pyplot and a figure saver.

    from benchmarks.figures import pyplot, save_figure
    plt = pyplot()
    fig, ax = plt.subplots()
    ...
    save_figure(fig, "results/curve.png", dpi=120)
"""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed), or an error naming the install."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("figures need matplotlib: pip install 'grasp-envs[train]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` to ``path`` (parent folders made), close it, and return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    pyplot().close(fig)
    return out
