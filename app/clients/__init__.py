"""The seed's client interfaces by their public import paths (``app.clients.data_layer``,
``app.clients.model_registry``). The adapters live in ``app.integrations``."""
