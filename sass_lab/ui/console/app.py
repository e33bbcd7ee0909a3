"""``sass_lab console``: a textual app over :class:`ConsoleModel` (no domain logic here)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    ListItem,
    ListView,
    Static,
    TabbedContent,
    TabPane,
    TextArea,
)

from .. import format as fmt
from ..analysis import kernel_gap
from .charts import bar_chart
from .model import ConsoleModel, KernelRef


class KernelItem(ListItem):
    """One kernel of the list: its name and bound, occupancy and limiter, static and measured
    efficiency and the peer ratio (``lab.report.KernelSummary``, formatted for people)."""

    def __init__(self, ref: KernelRef, summary=None):
        super().__init__(Label(kernel_label(ref, summary)))
        self.ref = ref


def kernel_label(ref: KernelRef, s) -> Text:
    t = Text(ref.label, style="bold")
    if s is None:
        return t + Text("\n  does not assemble (see its PTX tab)", style="red")
    bound = f"{s.bound}-bound, " if s.bound else ""
    t.append(f"\n  {bound}occupancy {s.occupancy:.0f} % ({fmt.words(s.limiters)})")
    t.append(f"\n  static {fmt.static_eff(s)} · meas {fmt.measured(s)} · peer {fmt.ratio(s.peer_ratio)}")
    return t


class LabConsole(App):
    """Kernel list (with efficiency) on the left; source, PTX, SASS, resources, efficiency gap,
    verification, tuning and results tabs."""

    TITLE = "sass_lab console"
    CSS = """
    #left { width: 56; border-right: solid $accent; }
    #kernel-head { color: $text-muted; padding: 0 1; }
    #kernels { height: 1fr; }
    #kernels > ListItem { padding: 0 1; }
    TextArea { height: 1fr; }
    #gpu { color: $warning; }
    .row { height: auto; }
    Input { width: 40; }
    """
    BINDINGS = [("q", "quit", "quit"), ("v", "verify", "verify (emulator)"), ("t", "tune", "tune (static)"),
                ("e", "efficiency", "efficiency gap")]

    def __init__(self, model: ConsoleModel):
        super().__init__()
        self.model = model
        self.current: KernelRef | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="left"):
                yield Static(KERNELS_HEAD, id="kernel-head")
                yield ListView(*(KernelItem(r, self.model.summary(r)) for r in self.model.kernels()),
                               id="kernels")
            with TabbedContent(id="tabs"):
                with TabPane("Source", id="tab-source"):
                    yield TextArea("", read_only=True, id="source")
                with TabPane("PTX", id="tab-ptx"):
                    yield TextArea("", read_only=True, id="ptx")
                with TabPane("SASS", id="tab-sass"):
                    yield TextArea("", read_only=True, id="sass")
                with TabPane("Resources", id="tab-resources"):
                    with VerticalScroll():
                        yield Static("", id="resources")
                        yield Static("", id="curves")
                with TabPane("Efficiency", id="tab-efficiency"):
                    with VerticalScroll():
                        yield Static("", id="gap")
                with TabPane("Verify", id="tab-verify"):
                    with Vertical():
                        with Horizontal(classes="row"):
                            yield Button("Verify on the emulator", id="verify-emu")
                            yield Button("Verify on the GPU", id="verify-gpu")
                        yield Static("", id="gpu")
                        yield Static(VERIFY_IDLE, id="verify-out")
                with TabPane("Tune", id="tab-tune"):
                    with Vertical():
                        with Horizontal(classes="row"):
                            yield Input(placeholder="NAME=VALUE (a define)", id="define")
                            yield Button("Set define", id="set-define")
                            yield Button("Sweep (compile-only)", id="sweep")
                            yield Button("Sweep on GPU", id="sweep-gpu")
                        yield Static("", id="tune-msg")
                        yield DataTable(id="tune-table")
                with TabPane("Results", id="tab-results"):
                    with Vertical():
                        yield Static("", id="results-msg")
                        yield DataTable(id="results-table")
        yield Footer()

    def on_mount(self) -> None:
        ok, why = self.model.gpu_status()
        self.gpu_ok = ok
        msg = "" if ok else f"GPU actions unavailable: {why}"
        self.query_one("#gpu", Static).update(msg)
        for b in ("#verify-gpu", "#sweep-gpu"):
            self.query_one(b, Button).disabled = not ok
        self.query_one("#tune-table", DataTable).add_columns(
            "defines", "status", "registers", "shared", "occupancy", "math share", "score", "note")
        self.query_one("#tune-msg", Static).update(
            f"Sweep: every define combination of the lab block's TUNE space, compiled and ranked by the "
            f"static model (no GPU). Every candidate is written to the results database {self.model.db_path}.")
        self.query_one("#results-table", DataTable).add_columns(
            "run", "status", "size", "defines", "median", "TFLOP/s", "device")
        lv = self.query_one("#kernels", ListView)
        if lv.children:
            lv.index = 0
            self.show(lv.children[0].ref)

    @on(ListView.Highlighted, "#kernels")
    def _picked(self, event: ListView.Highlighted) -> None:
        if event.item is not None:
            self.show(event.item.ref)

    def show(self, ref: KernelRef) -> None:
        self.current = ref
        m = self.model
        self.query_one("#source", TextArea).load_text(m.source(ref))
        self.query_one("#ptx", TextArea).load_text(m.ptx(ref))
        self.query_one("#sass", TextArea).load_text(m.sass(ref))
        self.query_one("#resources", Static).update(_resources_table(m.resources(ref)))
        curves = m.occupancy_curves(ref)
        self.query_one("#curves", Static).update(
            Text("\n\n".join(bar_chart(v, f"blocks/SM vs {k}") for k, v in curves.items())))
        gap = m.gap(ref)
        self.query_one("#gap", Static).update(
            kernel_gap(gap, width=88, height=14) if gap is not None else Text("this file does not assemble: no efficiency to show"))
        self._fill_results()

    def _fill_results(self) -> None:
        t = self.query_one("#results-table", DataTable)
        t.clear()
        rows = self.model.results(self.current)
        for r in rows:
            t.add_row(RUN_KINDS.get(r["kind"], r["kind"]), r["status"], fmt.size_dict(r["size"]),
                      fmt.size_dict(r["defines"]), fmt.seconds(r.get("median_s")), fmt.flops(r.get("flop_s")),
                      r["device"])
        self.query_one("#results-msg", Static).update(
            f"{len(rows)} stored run(s) of {self.current.label} in {self.model.db_path}" if rows else
            f"No stored runs of {self.current.label} in {self.model.db_path}: a sweep (Tune tab) stores static "
            "rows; `sass_lab bench FILE` and `sass_lab tune FILE` on a GPU store timed ones.")

    # ------------------------------------------------------------------ actions
    @on(Button.Pressed, "#verify-emu")
    def action_verify(self) -> None:
        self.query_one("#verify-out", Static).update("verifying on the emulator ...")
        self._verify(self.current)

    @work(thread=True, exclusive=True, group="verify")
    def _verify(self, ref: KernelRef, emulate: bool = True) -> None:
        text = self.model.verify(ref) if emulate else self.model.verify(ref, emulate=False)
        self.call_from_thread(self.query_one("#verify-out", Static).update, Text(text))

    @on(Button.Pressed, "#verify-gpu")
    def _verify_gpu(self) -> None:
        self.query_one("#verify-out", Static).update("verifying on the GPU ...")
        self._verify(self.current, emulate=False)

    @on(Button.Pressed, "#sweep-gpu")
    def _gpu_sweep(self) -> None:
        ok, why = self.model.gpu_status()
        self.query_one("#tune-msg", Static).update(
            "a timed sweep runs one isolated process per candidate: `sass_lab tune FILE` (results go to "
            f"{self.model.db_path})" if ok else f"unavailable: {why}")

    def action_efficiency(self) -> None:
        self.query_one("#tabs", TabbedContent).active = "tab-efficiency"

    @on(Button.Pressed, "#set-define")
    def _set_define(self) -> None:
        text = self.query_one("#define", Input).value.strip()
        msg = self.query_one("#tune-msg", Static)
        if "=" not in text or self.current is None:
            msg.update("write NAME=VALUE")
            return
        import ast

        k, v = (s.strip() for s in text.split("=", 1))
        try:
            val = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            val = v
        self.model.set_define(self.current.file, k, val)
        msg.update(f"{k} = {val!r} for {self.current.file}; reassembled")
        self.show(self.current)

    @on(Button.Pressed, "#sweep")
    def action_tune(self) -> None:
        self.query_one("#tune-msg", Static).update("sweeping (compile-only) ...")
        self._sweep(self.current)

    @work(thread=True, exclusive=True, group="tune")
    def _sweep(self, ref: KernelRef) -> None:
        try:
            rows = self.model.tune(ref)
            msg = (f"{len(rows)} candidates ranked by the static model (no GPU timings); written to "
                   f"{self.model.db_path}")
        except Exception as e:  # noqa: BLE001 - shown in the console
            rows, msg = [], (e.render() if hasattr(e, "render") else f"{type(e).__name__}: {e}")
        self.call_from_thread(self._show_sweep, rows, msg)

    def _show_sweep(self, rows: list[dict], msg: str) -> None:
        self.query_one("#tune-msg", Static).update(Text(msg))
        t = self.query_one("#tune-table", DataTable)
        t.clear()
        for r in rows:
            t.add_row(fmt.size_dict(r["defines"]), r["status"], str(r["registers"] or fmt.DASH),
                      fmt.size_bytes(r["shared_bytes"]), f"{r['occupancy']:.0f} %", fmt.percent(r.get("ffma_share")),
                      fmt.DASH if r["score"] is None else f"{r['score']:.3f}", (r["reason"] or "")[:40])
        self._fill_results()


def _resources_table(d: dict) -> Table | Text:
    if d.get("error"):
        return Text(d["error"])
    t = Table(title="resources and occupancy", title_justify="left")
    t.add_column("what")
    t.add_column("value", justify="right")
    occ = d.pop("occupancy")
    for k, v in d.items():
        t.add_row(*fmt.resource(k, v))
    t.add_section()
    for k, v in occ.items():
        t.add_row(*fmt.resource(k, v))
    return t


KERNELS_HEAD = "bound, occupancy (limiter)\nstatic efficiency · measured · peer ratio"
VERIFY_IDLE = ("Verify runs the lab block's inputs through the kernel and checks every output against its "
               "float64 reference: on the emulator at the first TEST_SIZES entry (press v), or on the GPU at SIZE.")
RUN_KINDS = {"bench": "timed", "static": "static model", "peer": "peer"}
