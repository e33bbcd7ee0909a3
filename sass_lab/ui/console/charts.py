"""Plain-text charts for terminal views (no plotting dependency)."""

from __future__ import annotations


def bar_chart(points: list[tuple[int, int]], title: str, height: int = 8, max_cols: int = 64) -> str:
    """A column chart of integer y over x, downsampled to at most ``max_cols`` columns."""
    if not points:
        return f"{title}: (no data)"
    step = max(1, -(-len(points) // max_cols))
    pts = points[::step]
    top = max(y for _, y in pts) or 1
    rows = []
    for level in range(height, 0, -1):
        cut = top * level / height
        rows.append(f"{top * level / height:5.1f} |" + "".join("█" if y >= cut else " " for _, y in pts))
    rows.append("      +" + "-" * len(pts))
    rows.append(f"       {pts[0][0]} .. {pts[-1][0]}")
    return f"{title}\n" + "\n".join(rows)
