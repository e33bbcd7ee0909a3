"""`.define` defaults read by the lab block loader: commas inside strings and brackets stay put."""

from __future__ import annotations

import pytest

from sass_lab.lab.spec import default_defines


@pytest.mark.parametrize("line,want", [
    ('.define POINTS = "0,1,-1,2,-2", B = 3', {"POINTS": "0,1,-1,2,-2", "B": 3}),
    (".define T = (1, 2), S = 'a,b'", {"T": (1, 2), "S": "a,b"}),
    (".define A = 1, B = A * 2  // comment", {"A": 1, "B": 2}),
])
def test_default_defines(line, want):
    assert default_defines(line + "\n") == want
