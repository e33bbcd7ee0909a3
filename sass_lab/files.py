"""The user's files: read them with clear errors, write outputs without ever losing an input.

Reading (``read_source``, ``read_text``, ``read_bytes``): a missing path, a folder, a FIFO or device,
an unreadable file, a binary file, invalid UTF-8 or a file of the wrong kind (CUDA C++, a cubin where
text is wanted) is a :class:`UsageError`/:class:`SourceError` naming the path, what is wrong and what
to do. Text is returned with a UTF-8 byte-order mark dropped and CRLF/CR line ends made LF, so line
numbers stay those an editor shows.

Writing (``write_output``): the data goes to a temporary file in the target's folder, flushed and then
renamed over the target, so an interrupted run leaves the old file or the new one, never half of one.
An output that is an input of the same run, a symbolic link (sass_lab never writes through a link it
did not create) or a folder is refused before anything is written.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .errors import SourceError, Span, UsageError

TEXT_SUFFIXES = (".sasm", ".ptx")
CUDA_SUFFIXES = (".cu", ".cuh", ".c", ".cc", ".cpp", ".cxx", ".h", ".hpp")
SOURCE_SUFFIXES = (*TEXT_SUFFIXES, *CUDA_SUFFIXES, ".py")  # never the name of an output binary
# Kinds of file a user may give by mistake, and what to do instead.
FOREIGN = {
    **dict.fromkeys(CUDA_SUFFIXES,
                    "{name} is CUDA C++ source; sass_lab reads .sasm and PTX|compile it to PTX first: "
                    "`nvcc -ptx -arch=sm_90 {name}`, then give the .ptx file"),
    **dict.fromkeys((".cubin", ".o", ".fatbin", ".elf"),
                    "{name} is compiled GPU code, not source|`sass_lab sass {name}` shows its SASS and "
                    "`sass_lab patch {name} -o NEW.cubin` edits it"),
    ".py": "{name} is a Python file, not a kernel|kernels are .sasm files (Python goes in % lines and "
           "%% blocks inside them, see docs/DSL.md)",
}
_OS_HINTS = {
    errno.ENOENT: "check the path (relative paths start in the current folder)",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "give a file, not a folder",
    errno.EACCES: "check the file's permissions",
    errno.EPERM: "check the file's permissions",
    errno.EROFS: "the file system is read-only: choose another place",
    errno.ENOSPC: "the disk is full: free some space or choose another place",
    errno.EDQUOT: "the disk quota is exceeded: free some space or choose another place",
    errno.ENAMETOOLONG: "use a shorter path",
    errno.ELOOP: "the path has a loop of symbolic links",
}
# OS errors that are about the user's files or machine, not a bug, even when they name no path.
USER_ERRNOS = frozenset(_OS_HINTS) | {errno.EFBIG, errno.EMFILE, errno.ENFILE, errno.EIO}
_UMASK = os.umask(0o022)  # read once, at import (umask can only be read by setting it)
os.umask(_UMASK)


def os_error(e: OSError, verb: str = "cannot use", path: str | os.PathLike | None = None) -> UsageError:
    """``e`` as a user error naming the path, what went wrong and what to do."""
    where = path if path is not None else e.filename
    what = e.strerror or str(e)
    return UsageError(f"{verb} {where}: {what}" if where is not None else f"{verb}: {what}",
                      hint=_OS_HINTS.get(e.errno))


def _check_regular(p: Path, verb: str) -> None:
    """Refuse a missing path, a folder, a FIFO, socket or device (reading one could block forever)."""
    try:
        st = p.stat()
    except OSError as e:
        raise os_error(e, verb, p) from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{verb} {p}: it is a folder, not a file", hint="give a file inside it")
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{verb} {p}: not a regular file (a pipe, socket or device)",
                         hint="give a regular file")


def read_bytes(path: str | os.PathLike, verb: str = "cannot read") -> bytes:
    """The bytes of a regular file (UsageError naming the path otherwise)."""
    p = Path(path)
    _check_regular(p, verb)
    try:
        return p.read_bytes()
    except OSError as e:
        raise os_error(e, verb, p) from None


def decode(data: bytes, file: str) -> str:
    """UTF-8 text with the BOM dropped and LF line ends; binary data or bad UTF-8 is an error that
    names the file (and the line and column of the first bad byte)."""
    head = data[:8192]
    if head.startswith(b"\x7fELF"):
        raise UsageError(f"{file} is an ELF binary (a cubin or object file), not text",
                         hint="`sass_lab sass` and `sass_lab patch` read .cubin files")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UsageError(f"{file} is UTF-16 text; sass_lab reads UTF-8", hint="save the file as UTF-8")
    if b"\x00" in head:
        raise UsageError(f"{file} is a binary file, not text", hint="give a .sasm or .ptx text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        if head.decode("utf-8", "replace").count("\ufffd") * 20 > len(head) + 40:  # mostly not text
            raise UsageError(f"{file} is a binary file, not text",
                             hint="give a .sasm or .ptx text file") from None
        line = data.count(b"\n", 0, e.start) + 1
        start = data.rfind(b"\n", 0, e.start) + 1
        end = data.find(b"\n", e.start)
        raw = data[start:end if end >= 0 else len(data)]
        src = raw.decode("utf-8", "replace").rstrip("\r")
        col = len(data[start:e.start].decode("utf-8", "replace")) + 1
        raise SourceError(f"invalid UTF-8 (byte 0x{data[e.start]:02x}): sass_lab reads UTF-8 text",
                          Span(file, line, col, col + 1, src), hint="save the file as UTF-8") from None
    return normalize(text)


def normalize(text: str) -> str:
    """Drop a leading byte-order mark and make CRLF and CR line ends LF."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def read_text(path: str | os.PathLike, verb: str = "cannot read") -> str:
    """A regular UTF-8 text file (see :func:`decode`)."""
    return decode(read_bytes(path, verb), str(path))


def check_kind(path: str | os.PathLike) -> None:
    """Refuse a file whose name says it is not a kernel source (CUDA C++, a cubin, Python)."""
    p = Path(path)
    msg = FOREIGN.get(p.suffix.lower())
    if msg:
        what, hint = msg.format(name=p.name).split("|")
        raise UsageError(what, hint=hint)


def check_input(path: str | os.PathLike) -> None:
    """Refuse, without reading it, a kernel input that is missing, not a regular file or of a foreign kind."""
    check_kind(path)
    _check_regular(Path(path), "cannot read")


def read_source(path: str | os.PathLike) -> str:
    """A .sasm or PTX file's text, with every check of this module."""
    check_kind(path)
    return read_text(path)


# --------------------------------------------------------------------------------------------- writing


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file (hard links and symbolic links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def check_output(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (),
                 flag: str = "-o", writes: str | None = None) -> Path:
    """Refuse an output path that is an input of the run, a symbolic link or a folder; and, for an
    output file the user names (``writes``: its suffix, e.g. ".cubin"), a source file's name."""
    p = Path(path)
    if writes and p.suffix.lower() in SOURCE_SUFFIXES:
        raise UsageError(f"{flag} {p} names a source file, but the output is a {writes} file",
                         hint=f"give the output a {writes} name (sass_lab never writes over a source file)")
    for src in inputs:
        if same_file(p, src):
            raise UsageError(f"{flag} {p} would overwrite the input {src}",
                             hint="choose another output name; sass_lab never replaces an input")
    if p.is_symlink():
        raise UsageError(f"{flag} {p} is a symbolic link; sass_lab does not write through links",
                         hint="remove the link or choose another output name")
    if p.is_dir():
        raise UsageError(f"{flag} {p} is a folder", hint="give a file name")
    parent = p.parent
    if not parent.is_dir():
        raise UsageError(f"cannot write {p}: the folder {parent} does not exist",
                         hint=f"create it first (mkdir -p {parent}) or choose another place")
    return p


@contextmanager
def replacing(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (),
              flag: str = "-o", writes: str | None = None) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content into: a temporary file beside it, flushed and
    renamed over ``path`` when the block ends normally, removed when it raises or is interrupted."""
    p = check_output(path, inputs, flag, writes)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, stat.S_IMODE(p.stat().st_mode) if p.exists() else 0o666 & ~_UMASK)
        except OSError:
            pass
        os.replace(tmp, p)
        tmp = None
    except OSError as e:
        raise os_error(e, "cannot write", p) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def write_cache(path: Path, data: bytes) -> None:
    """Write a cache entry atomically (temporary file beside it, renamed into place); OSError when it
    cannot be written (the caller decides: a cache that cannot be written only costs a recompute)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_output(path: str | os.PathLike, data: bytes | str, inputs: Iterable[str | os.PathLike] = (),
                 flag: str = "-o", writes: str | None = None) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename (see :func:`replacing`)."""
    with replacing(path, inputs, flag, writes) as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return Path(path)


def output_folder(path: str | os.PathLike, flag: str = "-o", create: bool = True) -> Path:
    """The ``-o`` folder (created when missing and ``create``); a file or a dangling link is refused."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{flag} {p} is a file, not a folder", hint="give a folder for the outputs")
    if p.is_symlink() and not p.exists():
        raise UsageError(f"{flag} {p} is a dangling symbolic link", hint="remove it or choose another folder")
    if create:
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise os_error(e, "cannot create the folder", p) from None
    return p
