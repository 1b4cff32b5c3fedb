"""Tools that move a code base off the legacy rpc API: scan, import rewrite, config mapping.

- :mod:`.names`: which module paths look legacy and what they become.
- :mod:`.resolve`: whether such a module is the legacy implementation, judged from the tree.
- :mod:`.lexer`, :mod:`.imports`: tokens, import statements and dotted names of Python 2
  and Python 3 source.
- :mod:`.python2`: telling Python 2 source from a syntax error.
- :mod:`.plan`: the drop-in step of one source (imports, dotted references, strings).
- :mod:`.pyscan`: legacy usage in one Python source.
- :mod:`.confscan`: legacy options in one config file.
- :mod:`.report`: a tree walked, per-file and total findings, next steps.
- :mod:`.rewriter`: the drop-in step applied to one source.
- :mod:`.confmap`: a legacy config file as a transport URL and new-style options.
"""
