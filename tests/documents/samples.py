"""Awkward but valid data the document tests share."""

from __future__ import annotations

from packstation.domain.documents import Address

# Long Greek, Cyrillic and German names and address lines: they must wrap or shrink, never
# leave the label.
LONG_TO = Address(
    name="Βασιλική Κωνσταντινοπούλου-Αλεξανδροπούλου Παπαγεωργίου",
    company="Общество с ограниченной ответственностью «Северо-Западная Логистика»",
    line1="Hauptstraße 123, Hinterhaus, Aufgang C, 4. Obergeschoss links, bei Müller-Lüdenscheidt",
    line2="Wohnung 17, Klingel defekt: bitte beim Nachbarn im Erdgeschoss rechts abgeben",
    city="Castrop-Rauxel-Obercastrop-Rauxel",
    region="Nordrhein-Westfalen",
    postcode="44575",
    country="DE",
)
