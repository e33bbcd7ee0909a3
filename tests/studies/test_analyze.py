"""Efficiency gap, waterline and fusion what-ifs (Lavin 2024), checked by hand-computed cases."""

from __future__ import annotations

import pytest

from sass_lab.studies.analyze import (
    Layer,
    conv_layer,
    efficiency_gap,
    fuse,
    load_network,
    waterline,
    with_times,
)


def test_floor_is_max_of_compute_and_memory():
    ly = [Layer("a", flops=100.0, in_bytes=10, weight_bytes=0, out_bytes=10, time_s=4.0),
          Layer("b", flops=10.0, in_bytes=50, weight_bytes=0, out_bytes=50, time_s=20.0)]
    w = waterline(ly, peak_flops=50.0, bandwidth=10.0)
    assert [f.floor_s for f in w.floors] == [2.0, 10.0]
    assert [f.bound for f in w.floors] == ["compute", "memory"]
    assert w.waterline_s == 12.0 and w.actual_s == 24.0 and w.ideal_s == pytest.approx(2.2)
    assert w.floors[0].above_s == 2.0 and w.floors[0].efficiency == 0.5
    assert w.memory_share == pytest.approx(10 / 12)


def test_fusion_drops_intermediates():
    ly = [Layer("a", 1.0, 100, 5, 40), Layer("b", 2.0, 40, 7, 30), Layer("c", 3.0, 30, 0, 20)]
    fused = fuse(ly, 0, 1)
    assert [x.name for x in fused] == ["a+b", "c"]
    f = fused[0]
    assert (f.flops, f.in_bytes, f.weight_bytes, f.out_bytes) == (3.0, 100, 12, 30)
    assert sum(x.bytes for x in fuse(ly, 0, 2)) == 100 + 12 + 20
    with pytest.raises(ValueError):
        fuse(ly, 2, 1)


def test_gap_is_actual_over_ideal():
    (item,) = efficiency_gap([Layer("a", 1e12, 0, 0, 0, time_s=0.1)], peak_flops=1e14)
    assert item[1] == pytest.approx(0.01) and item[2] == pytest.approx(10.0)


def test_conv_flops_as_maxdnn_counts():
    ly = conv_layer("c", n=2, c=3, h=8, w=8, k=4)  # 3x3, pad 1, stride 1 -> P=Q=8
    assert ly.flops == 2 * 2 * 4 * 8 * 8 * 3 * 9
    assert ly.out_bytes == 2 * 4 * 8 * 8 * 4
    strided = conv_layer("s", n=1, c=1, h=9, w=9, k=1, stride=2)
    assert strided.flops == 2 * 5 * 5 * 9


def test_shipped_networks():
    vgg = load_network("vgg16", batch=1)
    convs = [x for x in vgg if x.kind == "conv"]
    assert len(convs) == 13
    # VGG-16 conv layers: about 30.7 GFLOPs (15.3 G multiply-adds) per 224x224 image
    assert sum(x.flops for x in convs) == pytest.approx(30.7e9, rel=0.01)
    assert sum(x.flops for x in load_network("vgg16", batch=8) if x.kind == "conv") == pytest.approx(
        8 * sum(x.flops for x in convs))
    block = load_network("convnext_block", batch=8)
    w0 = waterline(block, 67e12, 4.8e12)
    w1 = waterline(fuse(block, 0, len(block) - 1), 67e12, 4.8e12)
    assert w1.waterline_s < w0.waterline_s and w0.memory_share > w1.memory_share


def test_with_times():
    ly = with_times([Layer("a", 1, 0, 0, 0)], {"a": 0.5})
    assert ly[0].time_s == 0.5
