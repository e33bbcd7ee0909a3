"""``frozen``: the standard frozen, slotted dataclass, built by a faster ``__init__``."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import pytest

from sass_lab import errors, ir
from sass_lab.frozen import frozen

CLASSES = [c for c in vars(ir).values() if isinstance(c, type) and dataclasses.is_dataclass(c)
           and c.__module__ == ir.__name__] + [errors.Span]


def test_every_ir_class_is_covered():
    assert len(CLASSES) >= 20 and ir.Instr in CLASSES and ir.Reg in CLASSES


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_each_argument_lands_in_its_field(cls):
    fs = dataclasses.fields(cls)
    sig = inspect.signature(cls.__init__)
    assert [p for p in sig.parameters][1:] == [f.name for f in fs]
    for f in fs:
        want = inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        assert sig.parameters[f.name].default == want, f.name
    values = [object() for _ in fs]  # distinct sentinels: a field given another's value shows
    by_position = cls(*values)
    by_name = cls(**{f.name: v for f, v in zip(fs, values)})
    for obj in (by_position, by_name):
        assert [getattr(obj, f.name) for f in fs] == values
    required = {f.name: object() for f in fs if f.default is dataclasses.MISSING}
    obj = cls(**required)
    for f in fs:
        assert getattr(obj, f.name) is (required[f.name] if f.name in required else f.default)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, fs[0].name, 1)
    with pytest.raises(TypeError):
        cls(*values, object())
    real = cls(**{f.name: (f.default if f.default is not dataclasses.MISSING else f"v{i}")
                  for i, f in enumerate(fs)})
    assert pickle.loads(pickle.dumps(real)) == real


@dataclasses.dataclass(frozen=True, slots=True)
class Std:
    a: int
    b: str = "x"
    c: tuple = ()
    d: object = dataclasses.field(default=None, compare=False, repr=False)


@frozen
class Fast:
    a: int
    b: str = "x"
    c: tuple = ()
    d: object = dataclasses.field(default=None, compare=False, repr=False)


def test_same_behaviour_as_the_standard_dataclass():
    assert Fast.__init__ is not Std.__init__ and "_set_a" in Fast.__init__.__code__.co_names
    for args, kw in [((1,), {}), ((1, "y"), {"d": 5}), ((), {"a": 2, "c": (1,)})]:
        s, f = Std(*args, **kw), Fast(*args, **kw)
        assert dataclasses.astuple(s) == dataclasses.astuple(f)
        assert repr(s).replace("Std", "Fast") == repr(f)
        assert hash(dataclasses.astuple(s)[:3]) == hash(dataclasses.astuple(f)[:3])
        assert f == Fast(*args, **kw) and hash(f) == hash(Fast(*args, **kw))
        assert pickle.loads(pickle.dumps(f)) == f
        assert dataclasses.replace(f, a=9).a == 9 and dataclasses.replace(f, a=9).b == f.b
    assert Fast(1, d=1) == Fast(1, d=2)  # compare=False still ignored
    with pytest.raises(TypeError):
        Fast()
    assert not hasattr(Fast(1), "__dict__")


def test_classes_it_cannot_speed_up_keep_the_standard_init():
    @frozen
    class Factory:
        a: list = dataclasses.field(default_factory=list)

    @frozen
    class Post:
        a: int

        def __post_init__(self):
            object.__setattr__(self, "a", self.a * 2)

    assert Factory().a == [] and Factory().a is not Factory().a
    assert Post(2).a == 4
