"""The full-width verdict band: what the last scan meant, readable from a metre away.

Colour, icon shape and headline words all change with the verdict, so the band never relies
on colour alone.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from packstation.domain.packing import Tone, Verdict
from packstation.ui import theme


class VerdictBand(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("verdictBand")
        self.setMinimumHeight(150)
        self.icon = QLabel()
        self.icon.setFixedSize(104, 104)
        self.icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.headline = QLabel()
        self.headline.setObjectName("verdictHeadline")
        self.headline.setFont(theme.font(40, bold=True))
        self.message = QLabel()
        self.message.setObjectName("verdictMessage")
        self.message.setFont(theme.font(20))
        self.message.setWordWrap(True)
        words = QVBoxLayout()
        words.setSpacing(4)
        words.addWidget(self.headline)
        words.addWidget(self.message)
        row = QHBoxLayout(self)
        row.setContentsMargins(24, 12, 24, 12)
        row.setSpacing(24)
        row.addWidget(self.icon)
        row.addLayout(words, 1)
        self.tone = Tone.INFO
        self.verdict: Verdict | None = None
        self.show_text(Tone.INFO, "READY", "")

    def show_verdict(self, verdict: Verdict, message: str) -> None:
        self.verdict = verdict
        self.show_text(verdict.tone, theme.headline(verdict), message)

    def show_text(self, tone: Tone, headline: str, message: str) -> None:
        self.tone = tone
        style = theme.TONES[tone]
        self.setStyleSheet(
            f"QFrame#verdictBand {{ background: {style.background}; border-radius: 6px; }}"
            f" QLabel {{ color: {style.foreground}; background: transparent; }}"
        )
        self.icon.setPixmap(theme.tone_icon(tone, 96))
        self.icon.setToolTip(style.word)
        self.icon.setAccessibleName(style.word)
        self.headline.setText(headline)
        self.message.setText(message)
        self.setAccessibleName(f"{style.word}: {headline}. {message}")
