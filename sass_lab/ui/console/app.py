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

from .charts import bar_chart
from .model import ConsoleModel, KernelRef


class KernelItem(ListItem):
    def __init__(self, ref: KernelRef):
        super().__init__(Label(ref.label))
        self.ref = ref


class LabConsole(App):
    """Kernel list on the left; source, PTX, SASS, resources, verification, tuning and results tabs."""

    TITLE = "sass_lab console"
    CSS = """
    #kernels { width: 34; border-right: solid $accent; }
    TextArea { height: 1fr; }
    #gpu { color: $warning; }
    .row { height: auto; }
    Input { width: 40; }
    """
    BINDINGS = [("q", "quit", "quit"), ("v", "verify", "verify (emulator)"), ("t", "tune", "tune (static)")]

    def __init__(self, model: ConsoleModel):
        super().__init__()
        self.model = model
        self.current: KernelRef | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield ListView(*(KernelItem(r) for r in self.model.kernels()), id="kernels")
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
                with TabPane("Verify", id="tab-verify"):
                    with Vertical():
                        with Horizontal(classes="row"):
                            yield Button("Verify on the emulator", id="verify-emu")
                            yield Button("Verify on the GPU", id="verify-gpu")
                        yield Static("", id="gpu")
                        yield Static("", id="verify-out")
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
            "defines", "status", "regs", "shared", "occ %", "FFMA", "score", "note")
        self.query_one("#results-table", DataTable).add_columns(
            "kind", "status", "size", "defines", "median µs", "TFLOP/s", "device")
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
        self._fill_results()

    def _fill_results(self) -> None:
        t = self.query_one("#results-table", DataTable)
        t.clear()
        for r in self.model.results(self.current):
            med, fs = r.get("median_s"), r.get("flop_s")
            t.add_row(r["kind"], r["status"], str(r["size"]), str(r["defines"]),
                      "-" if med is None else f"{med * 1e6:.1f}", "-" if fs is None else f"{fs / 1e12:.2f}",
                      r["device"])

    # ------------------------------------------------------------------ actions
    @on(Button.Pressed, "#verify-emu")
    def action_verify(self) -> None:
        self.query_one("#verify-out", Static).update("verifying on the emulator ...")
        self._verify(self.current)

    @work(thread=True, exclusive=True, group="verify")
    def _verify(self, ref: KernelRef) -> None:
        text = self.model.verify(ref)
        self.call_from_thread(self.query_one("#verify-out", Static).update, Text(text))

    @on(Button.Pressed, "#verify-gpu")
    @on(Button.Pressed, "#sweep-gpu")
    def _gpu_action(self) -> None:
        ok, why = self.model.gpu_status()
        target = "#verify-out" if self.query_one("#tabs", TabbedContent).active == "tab-verify" else "#tune-msg"
        self.query_one(target, Static).update(
            "run `sass_lab verify FILE` / `sass_lab tune FILE` for GPU work" if ok else f"unavailable: {why}")

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
            msg = f"{len(rows)} candidates (static model; no GPU timings)"
        except Exception as e:  # noqa: BLE001 - shown in the console
            rows, msg = [], (e.render() if hasattr(e, "render") else f"{type(e).__name__}: {e}")
        self.call_from_thread(self._show_sweep, rows, msg)

    def _show_sweep(self, rows: list[dict], msg: str) -> None:
        self.query_one("#tune-msg", Static).update(Text(msg))
        t = self.query_one("#tune-table", DataTable)
        t.clear()
        for r in rows:
            share = r.get("ffma_share")
            t.add_row(" ".join(f"{k}={v}" for k, v in r["defines"].items()), r["status"],
                      str(r["registers"]), str(r["shared_bytes"]), f"{r['occupancy']:.0f}",
                      "-" if share is None else f"{share * 100:.1f} %",
                      "-" if r["score"] is None else f"{r['score']:.3f}", (r["reason"] or "")[:40])
        self._fill_results()


def _resources_table(d: dict) -> Table | Text:
    if d.get("error"):
        return Text(d["error"])
    t = Table(title="resources and occupancy", title_justify="left")
    t.add_column("what")
    t.add_column("value", justify="right")
    occ = d.pop("occupancy")
    for k, v in d.items():
        t.add_row(k, str(v))
    t.add_section()
    for k, v in occ.items():
        t.add_row(f"occupancy.{k}", str(v))
    return t
