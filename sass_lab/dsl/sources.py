"""Reading an ``.include`` file without trusting it: regular files only, a bounded size.

The file is opened non-blocking and checked with ``fstat`` on the open descriptor, so a FIFO never
blocks and a device (``/dev/zero``), directory or socket is refused at the ``.include`` line; a file
over the byte budget is refused before it is read (``sass_lab.files.decode`` turns the bytes into text).
"""

from __future__ import annotations

import os
import stat

from ..errors import SourceError, Span
from .limits import how_to_raise

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def read_bounded(path: str, limit: int, limit_name: str, span: Span, hint: str | None = None,
                 name: str | None = None) -> bytes:
    """The bytes of the regular file ``path`` (``name`` as the source wrote it), at most ``limit``;
    SourceError at ``span`` otherwise."""
    name = path if name is None else name
    if "\0" in path:
        raise SourceError("the include path contains a NUL character", span, hint="remove it from the path")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise SourceError(f"cannot include '{name}': {e.strerror}", span, hint=hint) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = next((k for test, k in _KINDS if test(st.st_mode)), "not a regular file")
            raise SourceError(f"cannot include '{name}': it is {kind}, not a source file", span,
                              hint="only regular files are included (a FIFO would block, a device never ends)")
        if st.st_size > limit:
            raise SourceError(f"cannot include '{name}': {st.st_size:,} bytes would pass the .include budget",
                              span, hint=how_to_raise(limit_name, limit))
        chunks, left = [], limit + 1
        while left > 0:
            b = os.read(fd, min(left, 1 << 20))
            if not b:
                break
            chunks.append(b)
            left -= len(b)
    except OSError as e:
        raise SourceError(f"cannot include '{name}': {e.strerror}", span, hint=hint) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:  # it grew while being read
        raise SourceError(f"cannot include '{name}': more than {limit:,} bytes", span,
                          hint=how_to_raise(limit_name, limit))
    return data
