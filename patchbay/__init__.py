"""The composition root: the domain list, the command line, serving and the demo.

The only package that imports the core, ``rest`` and ``mcp_server`` together.
"""
