"""The application layer: one module per group of use cases (jobs, callbacks, webhooks,
uploads, events, admin). Each use case is a function over ports (``ports.py``: a store bound
to the caller, the object store, plain settings, a clock) that raises the domain errors of
``errors.py``; the API parses, calls one of them and renders."""
