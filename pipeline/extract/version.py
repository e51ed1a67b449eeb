"""The extractor's version, recorded with every article (which trafilatura produced its text).

Read from the installed package's metadata, so that the processes that only store articles
(the daemon's main process, the CLI) need not import trafilatura.
"""

from importlib.metadata import version

EXTRACTOR_VERSION: str = version("trafilatura")
