"""argparse value types that refuse nonsense at the command line (exit 1 naming the option)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def integer(minimum: int) -> Callable[[str], int]:
    """An integer of at least ``minimum``."""
    def parse(text: str) -> int:
        try:
            v = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"{v} is below the smallest allowed value, {minimum}")
        return v
    parse.__name__ = f"integer >= {minimum}"
    return parse


def real(low: float = 0.0, high: float = math.inf, low_open: bool = True) -> Callable[[str], float]:
    """A finite number in ``(low, high]`` (``[low, high]`` when not ``low_open``)."""
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        if v < low or (low_open and v == low) or v > high:
            if math.isfinite(high):
                raise argparse.ArgumentTypeError(f"{text} is not in {'(' if low_open else '['}{low:g}, {high:g}]")
            raise argparse.ArgumentTypeError(f"{text} must be {'above' if low_open else 'at least'} {low:g}")
        return v
    parse.__name__ = "number"
    return parse
