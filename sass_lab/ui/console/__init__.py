"""The interactive console (textual): ``LabConsole`` over a ``ConsoleModel``."""

from .model import ConsoleModel, KernelRef

__all__ = ["ConsoleModel", "KernelRef"]
