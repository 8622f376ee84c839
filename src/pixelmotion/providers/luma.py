"""Luma Dream Machine through its official SDK (``lumaai.AsyncLumaAI``).

Two rules shape this module:
- A create is never sent twice by us: the SDK retries 408/409/429/5xx and timeouts by
  itself and sends no idempotency key, so a retried create could start (and bill) a second
  generation. Creates go through a copy of the client with ``max_retries=0``; the worker
  decides what to do with the ``ProviderError`` (and looks for the generation first when the
  failure is ``ambiguous``). Reads (get/list/delete) keep the SDK's retries: they are safe.
- Answers are read from the raw JSON (``with_raw_response``), so the worker sees exactly the
  Generation object Luma sent, the same shape a callback carries.

The API key never appears in an error message.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx
import lumaai

from .base import Generation, GenerationNotFound, GenerationRequest, ProviderError, parse_generation

RETRYABLE_STATUSES = frozenset({408, 409, 429})
# Errors raised before a byte of the request left: nothing can have been billed.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class LumaProvider:
    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 30.0,
        *,
        name: str = "luma",
    ) -> None:
        self.name = name  # "emulator" when it talks to our emulator, for the job's records
        self._api_key = api_key
        self._client = lumaai.AsyncLumaAI(auth_token=api_key, base_url=base_url, timeout=timeout)
        # Shares the connection pool of ``_client``; only the retry policy differs.
        self._create_client = self._client.with_options(max_retries=0)

    async def create(self, request: GenerationRequest) -> Generation:
        try:
            response = await self._create_client.generations.with_raw_response.create(
                **create_params(request)
            )
            return parse_generation(_json_object(await response.json()))
        except lumaai.APIError as error:
            raise self._provider_error(error, creating=True) from None
        except ValueError as error:
            # Answered 2xx but unreadable: the generation probably exists.
            raise _unreadable(error, creating=True) from None

    async def get(self, generation_id: str) -> Generation:
        try:
            response = await self._client.generations.with_raw_response.get(generation_id)
            return parse_generation(_json_object(await response.json()))
        except lumaai.APIError as error:
            raise self._provider_error(error) from None
        except ValueError as error:
            raise _unreadable(error) from None

    async def list_recent(self, limit: int = 100, offset: int = 0) -> list[Generation]:
        """The newest generations first, as Luma lists them."""
        try:
            response = await self._client.generations.with_raw_response.list(limit=limit, offset=offset)
            payload = _json_object(await response.json())
            items = payload.get("generations")
            if not isinstance(items, list):
                raise ValueError("no generations in the list answer")
            return [parse_generation(item) for item in items]
        except lumaai.APIError as error:
            raise self._provider_error(error) from None
        except ValueError as error:
            raise _unreadable(error) from None

    async def delete(self, generation_id: str) -> None:
        try:
            await self._client.generations.delete(generation_id)
        except lumaai.APIError as error:
            raise self._provider_error(error) from None

    async def credits(self) -> float:
        """The account's credit balance, in USD cents."""
        try:
            response = await self._client.credits.with_raw_response.get()
            payload = _json_object(await response.json())
            return float(payload["credit_balance"])
        except lumaai.APIError as error:
            raise self._provider_error(error) from None
        except (ValueError, KeyError, TypeError) as error:
            raise _unreadable(ValueError(str(error))) from None

    async def aclose(self) -> None:
        await self._client.close()

    def _provider_error(self, error: lumaai.APIError, *, creating: bool = False) -> ProviderError:
        mapped = provider_error(error, creating=creating)
        # Belt and braces: no message may carry the key, whatever an upstream echoed.
        if self._api_key and self._api_key in mapped.message:
            mapped.message = mapped.message.replace(self._api_key, "***")
            mapped.args = (mapped.message,)
        return mapped


def create_params(request: GenerationRequest) -> dict[str, Any]:
    """The SDK's create arguments for a request; unset options are left out, not sent null."""
    params: dict[str, Any] = {
        "model": request.model,
        "prompt": request.prompt,
        "resolution": request.resolution,
        "duration": request.duration,
        "aspect_ratio": request.aspect_ratio,
        "loop": request.loop,
    }
    if request.callback_url:
        params["callback_url"] = request.callback_url
    if request.keyframe_url:
        params["keyframes"] = {"frame0": {"type": "image", "url": request.keyframe_url}}
    if request.concepts:
        params["concepts"] = [{"key": key} for key in request.concepts]
    return params


def provider_error(error: lumaai.APIError, *, creating: bool = False) -> ProviderError:
    """Map an SDK exception to what the worker acts on (see ``ProviderError``)."""
    if isinstance(error, lumaai.APIStatusError):
        return _status_error(error, creating=creating)
    if isinstance(error, lumaai.APIConnectionError):
        # Includes APITimeoutError. A create that failed after it was sent may have been
        # accepted (and billed): the caller must look for it before creating again.
        sent = not isinstance(error.__cause__, _NOT_SENT)
        kind = "timed out" if isinstance(error, lumaai.APITimeoutError) else "connection failed"
        return ProviderError(f"Luma request {kind}", retryable=True, ambiguous=creating and sent)
    return ProviderError(f"Luma answer unreadable: {type(error).__name__}", retryable=True)


def _status_error(error: lumaai.APIStatusError, *, creating: bool) -> ProviderError:
    status = error.status_code
    message = f"Luma answered {status}: {_detail(error)}"
    if status == 404 and not creating:
        return GenerationNotFound(message, status=status)
    if status in (401, 403):
        return ProviderError(message, status=status, auth=True)
    if status in RETRYABLE_STATUSES or status >= 500:
        retry_after = parse_retry_after(error.response.headers)
        return ProviderError(message, status=status, retryable=True, retry_after=retry_after)
    return ProviderError(message, status=status)


def _detail(error: lumaai.APIStatusError) -> str:
    """Luma's ``detail`` text when the body has one, else a short form of the body."""
    body = error.body
    if isinstance(body, dict) and "detail" in body:
        detail = body["detail"]
        return detail if isinstance(detail, str) else str(detail)[:500]
    if isinstance(body, str) and body:
        return body[:500]
    return error.response.reason_phrase or "error"


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``Retry-After`` in seconds or as a date."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def _json_object(payload: object) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ValueError("the answer is not a JSON object")
    return payload


def _unreadable(error: ValueError, *, creating: bool = False) -> ProviderError:
    return ProviderError(f"Luma answer unreadable: {error}", retryable=True, ambiguous=creating)
