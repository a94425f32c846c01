"""modelobs: serverless observability for an object-detection model.

This folder is the shared Lambda layer (``/opt/python/modelobs``) and the
package the CLI and the tests import: one set of files for both.
"""

__version__ = "0.1.0"
