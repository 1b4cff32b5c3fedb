"""Tools that move a code base off the legacy rpc API: scan, import rewrite, config mapping.

- :mod:`.names`: which module paths are legacy and what they become.
- :mod:`.pyscan`: legacy usage in one Python source (``ast``).
- :mod:`.confscan`: legacy options in one config file.
- :mod:`.report`: a tree walked, per-file and total findings, next steps.
- :mod:`.rewriter`: the drop-in step, rewriting import lines only.
- :mod:`.confmap`: a legacy config file as a transport URL and new-style options.
"""
