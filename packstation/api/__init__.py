"""The HTTP service (``packstation serve``): orders in, shops' webhooks in, an order's status out.

``app.create_app(host)`` builds the ASGI app on what ``bootstrap.build_api`` made; ``server.serve``
runs it under uvicorn with the webhook inbox and status push workers. No Qt, no SQL here: every
request goes through the use cases of ``services.intake`` and ``services.status_push``.
"""
