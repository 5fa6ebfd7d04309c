"""The built-in demo corpus: real speech, noise, music and RIRs from Debian packages, honestly split."""

from sepkit.data.demo.build import DEFAULT_CACHE, DemoOptions, build_demo

__all__ = ["DEFAULT_CACHE", "DemoOptions", "build_demo"]
