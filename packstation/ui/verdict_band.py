"""The full-width verdict band: what the last scan meant, readable from a metre away.

Colour, icon shape and headline words all change with the verdict, so the band never relies
on colour alone.

The band is painted the moment a verdict is set (:meth:`VerdictBand.show_text` ends with a
synchronous ``repaint()``), before the window goes on to the slower work of a scan (the lines
table, the carton panel, the layout passes those cause): the verdict is on the screen within a
millisecond of the use case's answer, whatever else the scan changes. For that paint to be right without waiting for the
window's layout, the band has a fixed height (a new verdict never moves the rest of the window),
and a message too long for two lines at the normal size is set in a smaller size rather than
growing the band.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFontMetrics, QPixmap, QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from packstation.domain.packing import Tone, Verdict
from packstation.ui import theme

MARGIN_X, MARGIN_Y, GAP = 24, 12, 4
ICON = 104
HEADLINE_PT = 40
MESSAGE_PT = (20, 18, 16, 14, 13, 12)  # the first size at which the message fits is used
MESSAGE_LINES = 2  # lines of the largest message size the band has room for


class VerdictBand(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("verdictBand")
        self.icon = QLabel()
        self.icon.setFixedSize(ICON, ICON)
        self.icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.headline = QLabel()
        self.headline.setObjectName("verdictHeadline")
        self.headline.setFont(theme.font(HEADLINE_PT, bold=True))
        self.message = QLabel()
        self.message.setObjectName("verdictMessage")
        self._fonts = [theme.font(pt) for pt in MESSAGE_PT]
        self._metrics = [QFontMetrics(f) for f in self._fonts]
        self._size = 0
        self.message.setFont(self._fonts[0])
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        words = QVBoxLayout()
        words.setSpacing(GAP)
        words.addWidget(self.headline)
        words.addWidget(self.message, 1)
        row = QHBoxLayout(self)
        row.setContentsMargins(MARGIN_X, MARGIN_Y, MARGIN_X, MARGIN_Y)
        row.setSpacing(MARGIN_X)
        row.addWidget(self.icon)
        row.addLayout(words, 1)
        head = QFontMetrics(self.headline.font()).height()
        self._message_h = QFontMetrics(self._fonts[0]).lineSpacing() * MESSAGE_LINES
        self.setFixedHeight(max(150, 2 * MARGIN_Y + head + GAP + self._message_h))
        self._icons: dict[Tone, QPixmap] = {}
        self._styled: Tone | None = None
        self.tone = Tone.INFO
        self.verdict: Verdict | None = None
        self.show_text(Tone.INFO, "READY", "")

    def show_verdict(self, verdict: Verdict, message: str, headline: str | None = None) -> None:
        """Show *verdict* (its own headline words unless *headline* is given) and paint it now."""
        self.verdict = verdict
        self.show_text(verdict.tone, headline or theme.headline(verdict), message)

    def show_text(self, tone: Tone, headline: str, message: str) -> None:
        """Set tone, headline and message, and paint the band at once (see the module's docstring)."""
        self.tone = tone
        style = theme.TONES[tone]
        if self._styled is not tone:  # a style sheet re-polishes the band and its labels: only on a change
            self._styled = tone
            self.setStyleSheet(
                f"QFrame#verdictBand {{ background: {style.background}; border-radius: 6px; }}"
                f" QLabel {{ color: {style.foreground}; background: transparent; }}"
            )
            if tone not in self._icons:
                self._icons[tone] = theme.tone_icon(tone, 96)
            self.icon.setPixmap(self._icons[tone])
            self.icon.setToolTip(style.word)
            self.icon.setAccessibleName(style.word)
        self.headline.setText(headline)
        size = self._message_size(message)
        if size != self._size:  # a font change re-measures the label: only on a change
            self._size = size
            self.message.setFont(self._fonts[size])
        self.message.setText(message)
        self.setAccessibleName(f"{style.word}: {headline}. {message}")
        self.paint_now()

    def _message_size(self, message: str) -> int:
        """The index in MESSAGE_PT of the largest size at which *message* fits the message area."""
        box = QRect(0, 0, max(1, self.width() - 2 * MARGIN_X - ICON - MARGIN_X), 100_000)
        flags = int(Qt.TextFlag.TextWordWrap)
        for i, metrics in enumerate(self._metrics):
            if metrics.boundingRect(box, flags, message).height() <= self._message_h:
                return i
        return len(self._metrics) - 1

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        size = self._message_size(self.message.text())  # a narrower window may need a smaller size
        if size != self._size:
            self._size = size
            self.message.setFont(self._fonts[size])

    def paint_now(self) -> None:
        """Lay out the band's own labels and paint it synchronously (if it is on the screen).

        ``update()`` (what ``setText`` does) only marks the band dirty: Qt paints it in the
        window's next paint pass, an update request posted at low priority, so it runs after the
        rest of the scan's queued work (the layout pass its changes cause: on a carton of many
        products mostly the carton panel's text-selectable contents label), and in that pass Qt
        paints opaque widgets first, i.e. the lines table's viewport the scan has just changed,
        before the band. That made the band appear 10-13 ms after the use case returned (p50,
        bench/bench_ui.py; docs/benchmarks.md). ``repaint()`` paints and flushes the band now
        (under 1 ms); the caller changes the slower parts of the window only after it.
        """
        if not self.isVisible():
            return
        layout = self.layout()
        if layout is not None:
            layout.activate()
        self.repaint()
