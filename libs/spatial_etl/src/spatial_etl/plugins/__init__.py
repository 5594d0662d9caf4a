"""The plugin host.

The hooks a plugin implements (``hookspecs``), the registry it declares intents into
(``registry``) and the loading of installed plugins into the catalog the platform routes
manifests with (``loading``).
"""
