"""Any input either lowers or raises SourceError with a renderable span — never a Python exception."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sass_lab.dsl import frontend
from sass_lab.errors import SourceError

TOKENS = ["add.f32", "x", ",", "y", "[", "]", "{", "}", "(", ")", "p", "|", "@p", "@!p", "_", "1", "-", "+",
          "0f3F800000", ".reg", ".f32", ".u64", ".v4", "acc", "[8]", "[0]", ";", ":", "done", ".kernel", "k",
          ".entry", ".param", ".shared", ".align", "16", ".schedule", ".end", "%r", "<", ">", "%tid.x", "q.x",
          "\n", "ret", "bra", "=", ".func", ".maxntid", "${1+1}", "%", "% end", "%%", '"x"', "/*", "*/", "//",
          "mov.b32", ".pragma", '"nounroll"', ".extern", ".global", ".visible", "auto", "setp.lt.f32",
          "ld.global.v4.f32", "!", "0x1F", "1.5", "$L__BB0_1", "%f<4>", "${", "}"]
HEAD = ".kernel k(.u64 P)\n.reg .f32 x, y, acc[8]\n.reg .pred p\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.booleans(), st.lists(st.sampled_from(TOKENS), min_size=1, max_size=30))
def test_front_end_never_crashes(head, toks):
    src = (HEAD if head else "") + " ".join(toks) + "\n"
    try:
        frontend(src, "f.sasm", {})
    except SourceError as e:
        assert e.span is not None and e.span.file == "f.sasm"
        assert e.render()
