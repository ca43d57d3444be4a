"""Client-side pacing before each attempt of :class:`~connectors_lib.rest.RestConnector`.

Private module. Two independent brakes, applied in this order:

1. the :class:`~connectors_lib.ratelimit.AdaptivePacer`: the wait the server's
   last rate-limit headers asked for (it knows the server's real budget);
2. the :class:`~connectors_lib.ratelimit.TokenBucket`: our own cap, for servers
   that send no headers or when we must share a quota.

Both wait on the injected clock; :func:`pace` returns the total wait and why,
which the connector writes into the request trace.
"""

from __future__ import annotations

from connectors_lib.ratelimit import AdaptivePacer, TokenBucket

__all__ = ["apace", "pace"]


def pace(pacer: AdaptivePacer | None, bucket: TokenBucket | None) -> tuple[float, str | None]:
    """Wait for the pacer, then the bucket (either may be None); return (seconds, reason).

    The reason joins each brake's explanation with ``"; "`` and is None when
    nothing was waited.
    """
    waited, reasons = 0.0, []
    if pacer is not None:
        delay, why = pacer.wait()
        if delay > 0:
            waited += delay
            reasons.append(why)
    if bucket is not None:
        delay = bucket.acquire()
        if delay > 0:
            waited += delay
            reasons.append(_bucket_reason(delay, bucket))
    return waited, "; ".join(reasons) or None


async def apace(
    pacer: AdaptivePacer | None, bucket: TokenBucket | None
) -> tuple[float, str | None]:
    """The asyncio twin of :func:`pace` (concurrent fetches queue for their turn)."""
    waited, reasons = 0.0, []
    if pacer is not None:
        delay, why = await pacer.await_turn()
        if delay > 0:
            waited += delay
            reasons.append(why)
    if bucket is not None:
        delay = await bucket.aacquire()
        if delay > 0:
            waited += delay
            reasons.append(_bucket_reason(delay, bucket))
    return waited, "; ".join(reasons) or None


def _bucket_reason(delay: float, bucket: TokenBucket) -> str:
    return f"TokenBucket: {delay:.2f} s para no pasar de {bucket.rate:g} peticiones/s"
