"""celltwin: a digital twin of a robot assembly cell in a car micro-factory."""

__version__ = "0.1.0"
