"""Linux input key codes (linux/input-event-codes.h) to characters, per keyboard layout.

A USB scanner in keyboard mode "types" on a layout; set [scanner] evdev_layout to the layout
the scanner is configured for. A layout is a table: key code -> (plain, shifted, altgr).
"""

from __future__ import annotations

KEY_ESC, KEY_TAB, KEY_ENTER, KEY_KPENTER = 1, 15, 28, 96
KEY_LEFTCTRL, KEY_RIGHTCTRL = 29, 97
KEY_LEFTSHIFT, KEY_RIGHTSHIFT = 42, 54
KEY_LEFTALT, KEY_RIGHTALT = 56, 100  # RIGHTALT is AltGr on European layouts
KEY_CAPSLOCK = 58

_ROWS_US = {
    # digits row
    2: ("1", "!"),
    3: ("2", "@"),
    4: ("3", "#"),
    5: ("4", "$"),
    6: ("5", "%"),
    7: ("6", "^"),
    8: ("7", "&"),
    9: ("8", "*"),
    10: ("9", "("),
    11: ("0", ")"),
    12: ("-", "_"),
    13: ("=", "+"),
    # letters
    16: ("q", "Q"),
    17: ("w", "W"),
    18: ("e", "E"),
    19: ("r", "R"),
    20: ("t", "T"),
    21: ("y", "Y"),
    22: ("u", "U"),
    23: ("i", "I"),
    24: ("o", "O"),
    25: ("p", "P"),
    26: ("[", "{"),
    27: ("]", "}"),
    30: ("a", "A"),
    31: ("s", "S"),
    32: ("d", "D"),
    33: ("f", "F"),
    34: ("g", "G"),
    35: ("h", "H"),
    36: ("j", "J"),
    37: ("k", "K"),
    38: ("l", "L"),
    39: (";", ":"),
    40: ("'", '"'),
    41: ("`", "~"),
    43: ("\\", "|"),
    44: ("z", "Z"),
    45: ("x", "X"),
    46: ("c", "C"),
    47: ("v", "V"),
    48: ("b", "B"),
    49: ("n", "N"),
    50: ("m", "M"),
    51: (",", "<"),
    52: (".", ">"),
    53: ("/", "?"),
    57: (" ", " "),
    # keypad
    71: ("7", "7"),
    72: ("8", "8"),
    73: ("9", "9"),
    74: ("-", "-"),
    75: ("4", "4"),
    76: ("5", "5"),
    77: ("6", "6"),
    78: ("+", "+"),
    79: ("1", "1"),
    80: ("2", "2"),
    81: ("3", "3"),
    82: ("0", "0"),
    83: (".", "."),
    98: ("/", "/"),
    55: ("*", "*"),
}

Keymap = dict[int, tuple[str, str, str]]


def _layout(base: dict[int, tuple[str, str]], changes: dict[int, tuple[str, str, str]]) -> Keymap:
    table: Keymap = {code: (plain, shifted, "") for code, (plain, shifted) in base.items()}
    table.update(changes)
    return table


US: Keymap = _layout(_ROWS_US, {})

# German QWERTZ: Y and Z swapped, shifted digits, AltGr symbols scanners use for GS1 text
DE: Keymap = _layout(
    _ROWS_US,
    {
        21: ("z", "Z", ""),
        44: ("y", "Y", ""),
        3: ("2", '"', "²"),
        4: ("3", "§", "³"),
        7: ("6", "&", ""),
        8: ("7", "/", "{"),
        9: ("8", "(", "["),
        10: ("9", ")", "]"),
        11: ("0", "=", "}"),
        12: ("ß", "?", "\\"),
        13: ("´", "`", ""),
        16: ("q", "Q", "@"),
        26: ("ü", "Ü", ""),
        27: ("+", "*", "~"),
        39: ("ö", "Ö", ""),
        40: ("ä", "Ä", ""),
        41: ("^", "°", ""),
        43: ("#", "'", ""),
        51: (",", ";", ""),
        52: (".", ":", ""),
        53: ("-", "_", ""),
        86: ("<", ">", "|"),
    },
)

# French AZERTY (digits need shift, as on the keyboard)
FR: Keymap = _layout(
    _ROWS_US,
    {
        2: ("&", "1", ""),
        3: ("é", "2", "~"),
        4: ('"', "3", "#"),
        5: ("'", "4", "{"),
        6: ("(", "5", "["),
        7: ("-", "6", "|"),
        8: ("è", "7", "`"),
        9: ("_", "8", "\\"),
        10: ("ç", "9", "^"),
        11: ("à", "0", "@"),
        12: (")", "°", "]"),
        13: ("=", "+", "}"),
        16: ("a", "A", ""),
        17: ("z", "Z", ""),
        30: ("q", "Q", ""),
        39: ("m", "M", ""),
        44: ("w", "W", ""),
        50: (",", "?", ""),
        51: (";", ".", ""),
        52: (":", "/", ""),
        53: ("!", "§", ""),
        26: ("^", "¨", ""),
        27: ("$", "£", ""),
        40: ("ù", "%", ""),
        43: ("*", "µ", ""),
        86: ("<", ">", ""),
    },
)

LAYOUTS: dict[str, Keymap] = {"us": US, "de": DE, "fr": FR}


def keymap(name: str) -> Keymap:
    try:
        return LAYOUTS[name.lower()]
    except KeyError:
        raise ValueError(
            f"[scanner] evdev_layout {name!r} is unknown; use one of: {', '.join(LAYOUTS)}"
        ) from None
