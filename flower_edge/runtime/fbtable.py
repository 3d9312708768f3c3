"""Reading a flatbuffer table by field id with the `flatbuffers` package alone (TF-free):
what tflite_metadata.py (the metadata flatbuffer) and tflite_file.py (the model itself)
both walk. A missing table reads as None, a missing field as its default.
"""

from __future__ import annotations


def root(buf):
    """The root table of a flatbuffer."""
    from flatbuffers import encode as fb_encode
    from flatbuffers import packer, table

    return table.Table(buf, fb_encode.Get(packer.uoffset, buf, 0))


def slot(tab, field: int) -> int:
    """The field's offset in `tab`, 0 when it is absent."""
    return tab.Offset(4 + 2 * field) if tab is not None else 0


def string(tab, field: int) -> str:
    o = slot(tab, field)
    return tab.String(o + tab.Pos).decode("utf-8", "replace") if o else ""


def sub(tab, field: int):
    from flatbuffers import table

    o = slot(tab, field)
    return table.Table(tab.Bytes, tab.Indirect(o + tab.Pos)) if o else None


def tables(tab, field: int) -> list:
    from flatbuffers import table

    o = slot(tab, field)
    if not o:
        return []
    start = tab.Vector(o)
    return [table.Table(tab.Bytes, tab.Indirect(start + 4 * i)) for i in range(tab.VectorLen(o))]


def scalar(tab, field: int, flags, default=0):
    o = slot(tab, field)
    return tab.Get(flags, o + tab.Pos) if o else default


def float_list(tab, field: int) -> tuple[float, ...]:
    from flatbuffers import number_types as N

    o = slot(tab, field)
    return tuple(float(x) for x in tab.GetVectorAsNumpy(N.Float32Flags, o)) if o else ()
