"""The station's documents as print jobs: each rendered in the language of the printer it goes to.

Implements ``services.printing.Documents`` from the ``[label_printer]`` and ``[document_printer]``
sections. With no printer URL the document is a PDF for a folder of the data directory
(``folder:labels``, ``folder:slips``), under a file name that can never leave that folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from packstation.adapters.documents import render_label
from packstation.domain.documents import (
    Address,
    LabelData,
    ManifestData,
    PackingSlipData,
    safe_file_name,
)
from packstation.domain.print_jobs import PrintJob
from packstation.services.printing import Documents


@dataclass(frozen=True)
class PrinterSlot:
    """What rendering needs to know of one configured printer."""

    url: str = ""
    language: str = "pdf"
    dpi: int = 203
    size: str = "4x6"


@dataclass
class StationDocuments(Documents):
    ship_from: Address
    label_printer: PrinterSlot = PrinterSlot()
    document_printer: PrinterSlot = PrinterSlot()
    on_wake: Callable[[], None] = field(default=lambda: None)

    def wake(self) -> None:
        self.on_wake()

    def label(self, data: LabelData, *, reason: str) -> PrintJob:
        cfg = self.label_printer
        ref = f"{data.order_id}/{data.sscc}"
        if not cfg.url:
            return PrintJob(id="", printer="label", target="folder:labels", kind="shipping_label", ref=ref,
                            payload=render_label(data, "pdf", size=cfg.size),
                            file_name=safe_file_name(data.order_id, data.sscc), reason=reason)
        return PrintJob(id="", printer="label", target=cfg.url, kind="shipping_label", ref=ref,
                        payload=render_label(data, cfg.language, cfg.dpi, cfg.size), reason=reason)

    def packing_slip(self, data: PackingSlipData, *, reason: str) -> PrintJob:
        cfg = self.document_printer
        if not cfg.url or cfg.language == "pdf":
            from packstation.adapters.documents.packing_slip import render_packing_slip_pdf

            payload = render_packing_slip_pdf(data, size="A4")
        else:
            from packstation.adapters.documents.escpos import render_packing_slip_escpos

            payload = render_packing_slip_escpos(data)
        if not cfg.url:
            return PrintJob(id="", printer="document", target="folder:slips", kind="packing_slip", ref=data.order_id,
                            payload=payload, file_name=safe_file_name(data.order_id), reason=reason)
        return PrintJob(id="", printer="document", target=cfg.url, kind="packing_slip", ref=data.order_id,
                        payload=payload, reason=reason)

    # --- carriers' labels and the dock's manifest (issue 11) ---------------------------------
    @property
    def carrier_label_format(self) -> str:
        cfg = self.label_printer
        return "ZPL" if cfg.url and cfg.language == "zpl" else "PDF"

    def carrier_label(self, order_id: str, sscc: str, payload: bytes, label_format: str, *, reason: str) -> PrintJob:
        cfg = self.label_printer
        ref = f"{order_id}/{sscc}"
        fmt = label_format.upper()
        if not cfg.url:
            return PrintJob(id="", printer="label", target="folder:labels", kind="shipping_label", ref=ref,
                            payload=payload, file_name=safe_file_name(order_id, sscc, suffix=".zpl" if fmt == "ZPL"
                                                                      else ".pdf"), reason=reason)
        return PrintJob(id="", printer="label", target=cfg.url, kind="shipping_label", ref=ref, payload=payload,
                        reason=reason)

    def manifest(self, data: ManifestData, *, reason: str) -> PrintJob:
        from packstation.adapters.documents.manifest import render_manifest

        cfg = self.document_printer
        payload = render_manifest(data, size="A4")
        if not cfg.url or cfg.language != "pdf":  # a manifest is a signed A4 sheet: PDF, or the folder
            return PrintJob(id="", printer="document", target="folder:manifests", kind="manifest", ref=data.manifest_id,
                            payload=payload, file_name=safe_file_name(data.manifest_id), reason=reason)
        return PrintJob(id="", printer="document", target=cfg.url, kind="manifest", ref=data.manifest_id,
                        payload=payload, reason=reason)
