"""The central sync: this station's outbox pushed to the central database (``push``), each event
applied there once by the appliers of its kind (``appliers``)."""
