"""Printing in the packing flow: each sealed carton's label, the packing slip, reprints.

Renders a document in the configured printer's language and hands it to the spooler (which
records the job before sending it, so nothing is silently lost). With no printer
configured, the document is saved as PDF in the data folder and the result says where.
Sending can take seconds: call these off the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packstation.adapters.devices.printing import PrintFailed, PrintJournal, Spooler
from packstation.adapters.devices.transports import PrinterError, open_printer
from packstation.adapters.documents import render_label
from packstation.config import Config, PrinterConfig
from packstation.domain.documents import Address, DocumentDataError
from packstation.domain.packing import Carton, PackSession
from packstation.services.documents import label_data, packing_slip_data
from packstation.services.ports import StorageError


@dataclass(frozen=True)
class Printed:
    """What happened to one document: sent as job *job_id*, or saved to *path*."""

    kind: str
    ref: str
    job_id: str | None = None
    path: Path | None = None
    error: str | None = None  # set when the printer failed; the job is kept for a retry

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def kept(self) -> bool:
        """The job is in the journal: a lead can retry it from the print queue."""
        return self.job_id is not None

    @property
    def message(self) -> str:
        what = {"shipping_label": "Label", "packing_slip": "Packing slip"}.get(self.kind, "Print job")
        if self.error:
            return f"{what} NOT printed: {self.error}"
        if self.path is not None:
            return f"{what} saved as {self.path} (no printer configured)."
        return f"{what} sent to the printer."


def ship_from(config: Config) -> Address:
    s = config.station
    return Address(name=s.ship_from_name, line1=s.ship_from_line1, city=s.ship_from_city,
                   postcode=s.ship_from_postcode, country=s.ship_from_country)


class OutputDesk:
    """The bench's printers: 'label' ([label_printer]) and 'document' ([document_printer])."""

    def __init__(self, config: Config, journal: PrintJournal):
        self.config = config
        self.journal = journal
        self.spooler = Spooler(journal, self._transport)

    def _printer(self, name: str) -> PrinterConfig:
        return self.config.label_printer if name == "label" else self.config.document_printer

    def _transport(self, name: str):  # type: ignore[no-untyped-def]
        return open_printer(self._printer(name))

    def _save(self, folder: str, name: str, pdf: bytes) -> Path:
        target = self.config.documents_dir / folder
        target.mkdir(parents=True, exist_ok=True)
        path = target / name
        path.write_bytes(pdf)
        return path

    def _send(self, printer: str, kind: str, payload: bytes, ref: str) -> Printed:
        try:
            job_id = self.spooler.submit(printer, kind, payload, ref)
        except PrintFailed as exc:
            return Printed(kind, ref, job_id=exc.job_id, error=str(exc))
        except PrinterError as exc:  # not even recorded (bad URL): nothing was sent
            return Printed(kind, ref, error=str(exc))
        except StorageError as exc:  # the journal could not record it: nothing was sent
            return Printed(kind, ref, error=f"the print job could not be recorded: {exc}")
        return Printed(kind, ref, job_id=job_id)

    def label(self, session: PackSession, carton: Carton) -> Printed:
        try:
            return self._label(session, carton)
        except (DocumentDataError, OSError) as exc:  # could not be rendered or saved: nothing sent
            return Printed("shipping_label", f"{session.order.order_id}/{carton.sscc}", error=str(exc))

    def packing_slip(self, session: PackSession) -> Printed:
        try:
            return self._packing_slip(session)
        except (DocumentDataError, OSError) as exc:
            return Printed("packing_slip", session.order.order_id, error=str(exc))

    def _label(self, session: PackSession, carton: Carton) -> Printed:
        cfg = self.config.label_printer
        data = label_data(session, carton, ship_from(self.config),
                          company_prefix_length=len(self.config.packing.gs1_company_prefix))
        ref = f"{session.order.order_id}/{carton.sscc}"
        if not cfg.url:
            pdf = render_label(data, "pdf", size=cfg.size)
            return Printed("shipping_label", ref, path=self._save("labels", f"{session.order.order_id}-{carton.sscc}.pdf", pdf))
        return self._send("label", "shipping_label", render_label(data, cfg.language, cfg.dpi, cfg.size), ref)

    def _packing_slip(self, session: PackSession) -> Printed:
        cfg = self.config.document_printer
        data = packing_slip_data(session, ship_from(self.config))
        ref = session.order.order_id
        if not cfg.url or cfg.language == "pdf":
            from packstation.adapters.documents.packing_slip import render_packing_slip_pdf

            pdf = render_packing_slip_pdf(data, size="A4")
            if not cfg.url:
                return Printed("packing_slip", ref, path=self._save("slips", f"{ref}.pdf", pdf))
            return self._send("document", "packing_slip", pdf, ref)
        from packstation.adapters.documents.escpos import render_packing_slip_escpos

        return self._send("document", "packing_slip", render_packing_slip_escpos(data), ref)

    def retry(self, job_id: str) -> Printed:
        job = next((j for j in self.journal.pending() if j.id == job_id), None)
        if job is None:
            return Printed("print_job", job_id, error=f"print job {job_id} is not waiting for a retry")
        try:
            self.spooler.retry(job_id)
        except PrinterError as exc:
            return Printed(job.kind, job.ref, job_id=job_id, error=str(exc))
        return Printed(job.kind, job.ref, job_id=job_id)
