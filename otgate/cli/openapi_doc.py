"""The AI API's published document, rendered for `otgate openapi` (the listener serves none)."""

from __future__ import annotations

import json
from typing import cast

from otgate.api.ai import create_ai_app
from otgate.runtime.gateway import Gateway


def render_openapi() -> str:
    """The document as committed in docs/openapi.json (sorted keys, so diffs show real changes only)."""
    # The routes touch the gateway only while answering a request; building the document needs none.
    app = create_ai_app(cast(Gateway, None))
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"
