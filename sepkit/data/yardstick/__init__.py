"""The out-of-domain yardstick: held-out real speech and noise in labelled slices, for every ship decision."""

from sepkit.data.yardstick.build import YardstickOptions, build_yardstick, write_yardstick
from sepkit.data.yardstick.catalog import held_out_violations

__all__ = ["YardstickOptions", "build_yardstick", "held_out_violations", "write_yardstick"]
