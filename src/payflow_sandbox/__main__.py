"""``python -m payflow_sandbox [--host 127.0.0.1] [--port 0]``: run the Stripe sandbox."""

from payflow_sandbox._server import main

raise SystemExit(main())
