"""QR code modules as python-qrcode makes them, without building the symbol nine times.

``qrcode`` chooses a symbol's mask by building eight trial symbols module by module, rating each
with its penalty rules, then building the chosen one: about 4 ms per code in pure Python, a
third of a PDF label's rendering time (issue 9). Here qrcode still does everything a symbol's
content depends on (segments, version, data and error-correction codewords, finder, timing and
alignment patterns, format and version information); the data modules are placed once, and the
eight masked variants are rated with qrcode's own penalty rules on whole-symbol bit sets (one
Python integer holds a symbol, bit ``row * n + col``). The result is the matrix qrcode makes:
``tests/documents/test_qr.py`` compares the two over payloads of every length up to version 10.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import qrcode
from qrcode import util as qr_util

EC_Q = qrcode.constants.ERROR_CORRECT_Q

# ISO/IEC 18004 finder-like patterns qrcode penalises (1:1:3:1:1 with 4 light modules), by offset
_FINDER_LIKE = ((1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0), (0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1))


@dataclass(frozen=True)
class _Layout:
    """What is the same for every symbol of one version and error-correction level."""

    n: int  # modules per side
    data: tuple[int, ...]  # bit index of each data module, in qrcode's placement order
    data_t: tuple[int, ...]  # the same modules in the transposed layout (bit col * n + row)
    masks: tuple[tuple[int, int], ...]  # per mask pattern: the data modules it inverts (rows, transposed)
    trial: tuple[int, int]  # dark function modules of a trial symbol (format/version info light)
    pairs: int  # bits k whose right neighbour k + 1 is in the same row
    windows: int  # bits k where an 11-module window fits in the row
    upper: int  # bits of every row but the last


def _grid(version: int, ec: int, mask: int, trial: bool) -> list[list[bool | None]]:
    """The function modules qrcode sets before placing data (None: a data module)."""
    code = qrcode.QRCode(version=version, error_correction=ec, border=0)
    n = code.modules_count = version * 4 + 17
    code.modules = [[None] * n for _ in range(n)]
    code.setup_position_probe_pattern(0, 0)
    code.setup_position_probe_pattern(n - 7, 0)
    code.setup_position_probe_pattern(0, n - 7)
    code.setup_position_adjust_pattern()
    code.setup_timing_pattern()
    code.setup_type_info(trial, mask)
    if version >= 7:
        code.setup_type_number(trial)
    return code.modules


def _bits(grid: list[list[bool | None]], transposed: bool = False) -> int:
    n = len(grid)
    return sum(1 << (c * n + r if transposed else r * n + c)
               for r, row in enumerate(grid) for c, dark in enumerate(row) if dark)


@cache
def _layout(version: int, ec: int) -> _Layout:
    grid = _grid(version, ec, 0, trial=True)
    n = len(grid)
    order: list[tuple[int, int]] = []  # the walk of qrcode's map_data
    row, step = n - 1, -1
    for col in range(n - 1, 0, -2):
        if col <= 6:
            col -= 1
        while True:
            for c in (col, col - 1):
                if grid[row][c] is None:
                    order.append((row, c))
            row += step
            if row < 0 or row >= n:
                row -= step
                step = -step
                break
    masks = []
    for pattern in range(8):
        inverts = qr_util.mask_func(pattern)
        hit = [(r, c) for r, c in order if inverts(r, c)]
        masks.append((sum(1 << (r * n + c) for r, c in hit), sum(1 << (c * n + r) for r, c in hit)))
    in_row = sum(1 << (r * n + c) for r in range(n) for c in range(n - 1))
    return _Layout(
        n=n,
        data=tuple(r * n + c for r, c in order),
        data_t=tuple(c * n + r for r, c in order),
        masks=tuple(masks),
        trial=(_bits(grid), _bits(grid, transposed=True)),
        pairs=in_row,
        windows=sum(1 << (r * n + c) for r in range(n) for c in range(n - 10)),
        upper=(1 << (n - 1) * n) - 1,
    )


@cache
def _final(version: int, ec: int, mask: int) -> int:
    """Dark function modules of the finished symbol: with its format (and version) information."""
    return _bits(_grid(version, ec, mask, trial=False))


def _lines_penalty(x: int, lay: _Layout, full: int) -> int:
    """qrcode's rules 1 (runs of 5+) and 3 (finder-like patterns) along the rows of *x*."""
    same = ~(x ^ (x >> 1)) & lay.pairs  # module k and k + 1 alike, in one row
    five = same & (same >> 1) & (same >> 2) & (same >> 3)  # modules k..k+4 alike
    runs = five.bit_count() + 2 * (five & ~(five << 1)).bit_count()  # a run of L >= 5 costs L - 2
    light = ~x & full
    found = 0
    for pattern in _FINDER_LIKE:
        hit = lay.windows
        for offset, dark in enumerate(pattern):
            hit &= (x if dark else light) >> offset
        found |= hit
    return runs + 40 * found.bit_count()


def _penalty(x: int, xt: int, lay: _Layout) -> int:
    """qrcode's ``util.lost_point`` of the symbol *x* (*xt*: the same symbol transposed)."""
    n = lay.n
    full = (1 << n * n) - 1
    same = ~(x ^ (x >> 1)) & lay.pairs
    rows_alike = ~(x ^ (x >> n)) & full  # module (r, c) like (r + 1, c)
    blocks = (same & (same >> n) & (rows_alike >> 1) & lay.upper).bit_count()  # rule 2: 2x2 alike
    dark = x.bit_count()
    rating = int(abs(float(dark) / (n**2) * 100 - 50) / 5)  # rule 4, in qrcode's arithmetic
    return _lines_penalty(x, lay, full) + _lines_penalty(xt, lay, full) + 3 * blocks + 10 * rating


def qr_matrix(data: str, error_correction: int = EC_Q) -> list[list[bool]]:
    """QR modules of *data* (UTF-8, no quiet zone), True for dark: the same matrix as
    ``qrcode.QRCode(error_correction=..., border=0)`` makes with ``make(fit=True)``."""
    ec = error_correction
    code = qrcode.QRCode(error_correction=ec, border=0)
    code.add_data(data.encode("utf-8"))
    version = code.best_fit()
    lay = _layout(version, ec)
    n = lay.n
    codewords = qr_util.create_data(version, ec, code.data_list)
    stream = format(int.from_bytes(bytes(codewords), "big"), f"0{len(codewords) * 8}b")
    cells = bytearray(n * n)  # 1: dark data module, unmasked; bits after the codewords stay light
    cells_t = bytearray(n * n)
    for index, index_t, bit in zip(lay.data, lay.data_t, stream, strict=False):
        if bit == "1":
            cells[index] = cells_t[index_t] = 1
    plain, plain_t = _pack(cells), _pack(cells_t)
    best, best_points = 0, -1
    for pattern, (inverts, inverts_t) in enumerate(lay.masks):
        points = _penalty(lay.trial[0] | (plain ^ inverts), lay.trial[1] | (plain_t ^ inverts_t), lay)
        if best_points < 0 or points < best_points:  # the first of equals, as qrcode
            best, best_points = pattern, points
    symbol = _final(version, ec, best) | (plain ^ lay.masks[best][0])
    text = format(symbol, f"0{n * n}b")[::-1]  # character k is module k
    return [[ch == "1" for ch in text[r * n:(r + 1) * n]] for r in range(n)]


def _pack(cells: bytearray) -> int:
    """One bit per module from one byte (0 or 1) per module: byte k -> bit k."""
    return int(cells[::-1].translate(_DIGITS).decode("ascii"), 2)


_DIGITS = bytes.maketrans(b"\x00\x01", b"01")
