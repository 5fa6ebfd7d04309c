"""The built-in demo corpus: real speech, noise, music and RIRs from Debian packages, honestly split."""

from sepkit.data.demo.build import DEFAULT_CACHE, DemoOptions, build_demo
from sepkit.data.demo.catalog import SOURCES, Source, output_name, split_packages

__all__ = ["DEFAULT_CACHE", "DemoOptions", "SOURCES", "Source", "build_demo", "output_name", "split_packages"]
