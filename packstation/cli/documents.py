"""``packstation commands-sheet`` and ``packstation render-demo-label``.

The command card prints the fixed command values and the carton codes: every carton type in
the station's database, or those given with ``--carton``. The demo label is made-up data with
the station's own ship-from address and needs no database. (``packstation picklist`` needs the database and lives with the orders
commands.)
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from packstation.config import Config
from packstation.domain.documents import Address, DocumentDataError


def register(sub: argparse._SubParsersAction) -> None:
    card = sub.add_parser(
        "commands-sheet",
        help="print the bench command card (command, carton-type and quantity barcodes) as PDF",
    )
    card.add_argument("--out", required=True, metavar="FILE.pdf", help="where to write the PDF")
    card.add_argument(
        "--carton",
        action="append",
        metavar="CODE",
        help="a carton-type barcode to include (repeat the option; default: every carton type in the database)",
    )
    card.add_argument(
        "--paper", choices=("A4", "Letter"), default="A4", help="paper size (default A4)"
    )
    card.add_argument(
        "--no-quantities", action="store_true", help="leave out the quantity barcodes 1-10"
    )
    card.add_argument(
        "--desk", choices=("bench", "dock"), default="bench",
        help="bench: commands, cartons, quantities; dock: CARRIER-<CODE> per carrier in use and the dock commands",
    )
    card.set_defaults(func=run_commands_sheet)

    demo = sub.add_parser(
        "render-demo-label", help="write a sample shipping label (ZPL, ESC/POS or PDF)"
    )
    demo.add_argument("--out", required=True, metavar="FILE", help="where to write the label")
    demo.add_argument(
        "--language",
        choices=("zpl", "escpos", "pdf"),
        help="printer language (default: [label_printer] language of the config)",
    )
    demo.add_argument(
        "--dpi", type=int, choices=(203, 300), help="ZPL resolution (default: from the config)"
    )
    demo.add_argument(
        "--size", choices=("4x6", "100x150"), help="label size (default: from the config)"
    )
    demo.set_defaults(func=run_render_demo_label)


def _fail(command: str, message: str) -> int:
    print(f"packstation {command}: {message}", file=sys.stderr)
    return 1


def run_commands_sheet(args: argparse.Namespace, config: Config) -> int:
    from packstation.adapters.documents.command_card import render_command_card
    from packstation.domain.documents import CommandCardData

    if args.desk == "dock":
        return _dock_sheet(args, config)
    if args.carton:
        cartons = tuple(c.strip().upper() for c in args.carton)
    else:
        from packstation.bootstrap import build_station
        from packstation.services.catalog import carton_types

        with build_station(config) as station:
            cartons = tuple(ct.code for ct in carton_types(station.ctx, station.system_session()))
        if not cartons:
            return _fail("commands-sheet", "no carton types in the database: import cartons first "
                         "(packstation import cartons FILE), or name them with --carton BOX-S --carton BOX-M")
    quantities = () if args.no_quantities else tuple(range(1, 11))
    out = Path(args.out)
    try:
        render_command_card(
            CommandCardData(carton_types=cartons, quantities=quantities), out, args.paper
        )
    except DocumentDataError as exc:
        return _fail("commands-sheet", str(exc))
    except OSError as exc:
        return _fail("commands-sheet", f"cannot write {out}: {exc.strerror or exc}")
    print(f"Wrote the command card to {out} ({len(cartons)} carton types)")
    return 0


def _dock_sheet(args: argparse.Namespace, config: Config) -> int:
    """The dock card: a CARRIER-<CODE> barcode per carrier in use (and per service where a carrier
    has several), CMD-CLOSE-MANIFEST, CMD-UNDO, CMD-LOGOUT."""
    from packstation.adapters.documents.command_card import render_command_card
    from packstation.bootstrap import build_station
    from packstation.domain.documents import CommandCardData
    from packstation.domain.shipping import carrier_code
    from packstation.services.dock import carriers_in_use

    with build_station(config) as station:
        used = carriers_in_use(station.ctx, station.system_session())
    if not used:
        return _fail("commands-sheet", "no carriers in use: configure [carriers.<CODE>] or import orders first")
    carriers = tuple((carrier_code(c, s), f"{c} — {s}" if s else f"{c} (every service)") for c, s in used)
    out = Path(args.out)
    try:
        render_command_card(CommandCardData(title="Dispatch dock", commands=("CMD-CLOSE-MANIFEST", "CMD-UNDO",
                                                                             "CMD-LOGOUT"),
                                            carton_types=(), quantities=(), carriers=carriers), out, args.paper)
    except DocumentDataError as exc:
        return _fail("commands-sheet", str(exc))
    except OSError as exc:
        return _fail("commands-sheet", f"cannot write {out}: {exc.strerror or exc}")
    print(f"Wrote the dock card to {out} ({len(carriers)} carrier barcodes)")
    return 0


def run_render_demo_label(args: argparse.Namespace, config: Config) -> int:
    from packstation.adapters.documents import write_label
    from packstation.adapters.documents.demo import demo_label

    printer = config.label_printer
    language = args.language or printer.language
    dpi = args.dpi or printer.dpi
    size = args.size or printer.size
    st = config.station
    ship_from = Address(
        name=st.ship_from_name,
        line1=st.ship_from_line1,
        city=st.ship_from_city,
        postcode=st.ship_from_postcode,
        country=st.ship_from_country,
    )
    data = replace(demo_label(), ship_from=ship_from)
    out = Path(args.out)
    try:
        write_label(data, out, language, dpi, size)
    except DocumentDataError as exc:
        return _fail("render-demo-label", str(exc))
    except OSError as exc:
        return _fail("render-demo-label", f"cannot write {out}: {exc.strerror or exc}")
    detail = {"zpl": f"{dpi} dpi, {size}", "escpos": "80 mm paper", "pdf": size}[language]
    print(f"Wrote a demo {language} label ({detail}) to {out}")
    return 0
