"""Keys of third-party services (Pexels stock media, an OpenAI-compatible speech API): how the
chart names their Secrets to the operator, and how the operator hands them to render pods.

The chart's `stock.pexels.secretName` and `speech.openai.secretName` name a Secret looked up in
each resource's namespace (a pod can only read Secrets of its own namespace, as with
`storage.credentialsSecret`). The operator itself never holds a key: it is given the Secret's
name and key, and each render pod's environment takes the value from the Secret
(`secretKeyRef`, optional: a namespace without the Secret gets a render that fails with a
message saying the service is not enabled there, not a pod stuck in CreateContainerConfigError).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# In the render pod: what scenes/stock.py and speech/openai_speech.py read.
PEXELS_API_KEY_ENV = "REELKUBE_PEXELS_API_KEY"
PEXELS_URL_ENV = "REELKUBE_PEXELS_URL"
SPEECH_API_KEY_ENV = "REELKUBE_SPEECH_API_KEY"
SPEECH_URL_ENV = "REELKUBE_SPEECH_URL"

# In the operator: what the chart sets from its values.
PEXELS_SECRET_ENV = "REELKUBE_STOCK_PEXELS_SECRET"
PEXELS_SECRET_KEY_ENV = "REELKUBE_STOCK_PEXELS_SECRET_KEY"
SPEECH_SECRET_ENV = "REELKUBE_SPEECH_OPENAI_SECRET"
SPEECH_SECRET_KEY_ENV = "REELKUBE_SPEECH_OPENAI_SECRET_KEY"
SPEECH_BASE_URL_ENV = "REELKUBE_SPEECH_OPENAI_URL"
DEFAULT_SECRET_KEY = "apiKey"


@dataclass(frozen=True)
class ProviderSecrets:
    """The chart's `stock.pexels.*` and `speech.openai.*`: Secret names (None: not enabled),
    the key within each Secret, and the API roots render pods are told."""

    pexels_secret: str | None = None
    pexels_secret_key: str = DEFAULT_SECRET_KEY
    pexels_url: str | None = None
    """Another Pexels-compatible server (empty: Pexels itself)."""
    speech_secret: str | None = None
    speech_secret_key: str = DEFAULT_SECRET_KEY
    speech_url: str | None = None
    """The installation's speech API root, the only one the key is sent to (empty: OpenAI's)."""

    def pod_env(self) -> list[dict[str, Any]]:
        """The render container's environment entries for these settings."""
        env: list[dict[str, Any]] = []
        if self.pexels_secret:
            env.append(_from_secret(PEXELS_API_KEY_ENV, self.pexels_secret, self.pexels_secret_key))
        if self.pexels_url:
            env.append({"name": PEXELS_URL_ENV, "value": self.pexels_url})
        if self.speech_secret:
            env.append(_from_secret(SPEECH_API_KEY_ENV, self.speech_secret, self.speech_secret_key))
        if self.speech_url:
            env.append({"name": SPEECH_URL_ENV, "value": self.speech_url})
        return env


def provider_secrets_from_env(env: Mapping[str, str]) -> ProviderSecrets:
    """The chart's settings from the operator's environment (empty values: not enabled)."""

    def value(name: str) -> str | None:
        return env.get(name, "").strip() or None

    return ProviderSecrets(
        pexels_secret=value(PEXELS_SECRET_ENV),
        pexels_secret_key=value(PEXELS_SECRET_KEY_ENV) or DEFAULT_SECRET_KEY,
        pexels_url=value(PEXELS_URL_ENV),
        speech_secret=value(SPEECH_SECRET_ENV),
        speech_secret_key=value(SPEECH_SECRET_KEY_ENV) or DEFAULT_SECRET_KEY,
        speech_url=value(SPEECH_BASE_URL_ENV),
    )


def _from_secret(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key, "optional": True}}}
